#!/usr/bin/env bash
# 004_range_differential.sh: randomized differential test of range scans (TAP).
#
#   bash test/t/004_range_differential.sh            (as root; the cluster runs as postgres)
#   RANGE_SEED=7 bash test/t/004_range_differential.sh
#   RANGE_QUERIES=5000 bash test/t/004_range_differential.sh   (long mode, about a minute)
#   RANGE_QUERIES=2000 RANGE_EVENTS=120000 RANGE_ACCOUNTS=500 bash ...  (bigger ledger)
#
# Default mode (200 queries) takes 10-20 s. Other settings: RANGE_MAX_SHOWN
# (failing queries printed, 15), T004_PORT (54371), KEEP_CLUSTER=1.
#
# Starts a throwaway cluster (port 54371, T004_PORT to override) with
# shared_preload_libraries='ledger_am' and, from a fixed seed (RANGE_SEED,
# default 42), builds two pairs of tables holding identical rows:
#   A  la: the canonical events table (ledger_am.create_events_table, declared
#          on debit_account, credit_account, ts), RANGE_EVENTS events (20000)
#          over RANGE_ACCOUNTS accounts (200; a few hot ones), NULL debits and
#          credits, self-transfers, timestamps with duplicates;
#      ha: the same rows in a heap table with btree indexes.
#   B  lb: text accounts src text, dst varchar(24), tags text[] (empty
#          strings, blanks, quotes, backslashes, tabs, newlines, unicode),
#          declared with the integer time column seq (negative values, NULLs,
#          duplicates), RANGE_EVENTS/4 rows; hb: its heap twin.
# The ledger tables get their rows through every write path: rows present
# before the declaration (backfill), INSERT after it, COPY (multi-insert), and
# a rolled-back transaction whose rows must stay invisible.
#
#   pa: the rows of ha in a table partitioned by time into three ledger_am
#       partitions, declared once on the parent; pair A's queries run on it
#       too and must answer as on ha (and use LedgerRangeScan where la must).
# Then RANGE_QUERIES random queries (default 200) of the forms LedgerRangeScan
# serves: account = X, X = ANY(array), (acct1 = X OR acct2 = X), (acct1 = X OR
# acct2 = Y [OR ...]), acct IN (X, Y) (merged streams), lists of 9-14
# accounts and array parameters (read account by account), time bounds
# (>=, >, <, <=, =, BETWEEN, reversed operands), ORDER BY time [DESC] with and
# without a tie-breaker, LIMIT, aggregates, LATERAL and plain joins by account
# (parameterized nested loops), correlated subqueries, generic plans of
# prepared statements (plan_cache_mode = force_generic_plan), NULL accounts
# and bounds. Each query runs on the ledger table and on the heap twin; the
# results must be identical: row count, the output order of the ordering key
# (the whole row when the order is total, the time column when only ordered
# by time), and the sorted multiset of rows. (ORDER BY time LIMIT n without a
# tie-breaker selects only the time column, whose answer is deterministic.)
# Every query's plan on the ledger table is checked: the forms that must use
# LedgerRangeScan do, and ORDER BY time [DESC] served by an ordered range
# scan has no Sort node.
# Failing queries are printed with both answers.
#
# Prints "ok N - ..." / "not ok N - ..." lines and a summary; exits non-zero
# on any failure. KEEP_CLUSTER=1 keeps the data directory and the generated
# SQL (ledger.sql, heap.sql, plans.sql, queries.txt) for inspection.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"
# shellcheck source=range_diff/queries.sh
source "$REPO_ROOT/test/t/range_diff/queries.sh"

PORT=${T004_PORT:-54371}
SEED=${RANGE_SEED:-42}
NQ=${RANGE_QUERIES:-200}
EVENTS=${RANGE_EVENTS:-20000}
ACCOUNTS=${RANGE_ACCOUNTS:-200}
MAX_SHOWN=${RANGE_MAX_SHOWN:-15}
FORMS=(acct_eq acct_or time_window order_limit aggregate lateral_join join generic
       text_account text_array int_window int_order)
PLAN=23   # 5 set-up checks, one per form (12), 3 plan and error checks, 1 split check, 2 partition checks
if (( PLAN != 5 + ${#FORMS[@]} + 6 )); then
  echo "Bail out! PLAN ($PLAN) does not match the checks (5 + ${#FORMS[@]} forms + 6)"
  exit 1
fi
TESTNO=0
FAILED=0
DIR=""
DB=t004

# ok_if STATUS DESCRIPTION [DIAG]: one TAP line; STATUS 0 means pass.
# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"

# ok_when_none BAD PASS FAIL DIAG: passes as PASS when BAD is 0, else fails
# as FAIL with DIAG.
ok_when_none() {
  if (( $1 == 0 )); then ok_if 0 "$2"; else ok_if 1 "$3" "$4"; fi
}

# finish: print the summary and exit with the overall status.
finish() { tap_exit 004_range_differential; }

# cleanup: stop the cluster and remove the data directory (unless kept).
cleanup() {
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_server_log "$DIR" 20
    tap_drop_cluster "$DIR" "cluster and generated SQL kept in $DIR"
  fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

# q SQL: run SQL (stdin, may hold several statements) in database $DB and
# print the unaligned, tuples-only result; fails on the first error.
q() {
  cluster_psql "$DIR" -d "$DB" -qAt -v ON_ERROR_STOP=1 <<<"$1"
}

# run_file FILE OUT ERR: run a generated SQL file in $DB, errors do not stop it.
run_file() {
  cluster_psql "$DIR" -d "$DB" -qAt -F '|' -v ON_ERROR_STOP=0 -f "$1" >"$2" 2>"$3"
}

echo "1..$PLAN"
echo "# seed $SEED, $NQ queries, $EVENTS events over $ACCOUNTS accounts"
START=$(date +%s)

# 1: cluster.
DIR=$(mktemp -d /tmp/ledger_am_t004.XXXXXX) || bail "mktemp failed"
# Every range scan batch of 64 rows or more is split over the worker's two
# read threads (ledger_am.lend_min_us = 0): at this size, rows come from
# cached blocks and the default threshold would never split one, so the
# split path is compared with heap here (check 21).
tap_start_cluster "cluster with shared_preload_libraries=ledger_am starts (port $PORT)" \
  "ledger_am.lend_min_us = 0"

# 2: database, extension, tables, data (retried while the worker starts).
SCHEMA_SQL=$(schema_sql "$SEED" "$EVENTS" "$ACCOUNTS" "$DIR")
if out=$(cluster_psql_retry "$DIR" 60 "CREATE DATABASE $DB;" -d postgres -qAt) &&
   out=$(cluster_psql_retry "$DIR" 60 "$SCHEMA_SQL" -d "$DB" -qAt); then
  ok_if 0 "tables la/ha (canonical events) and lb/hb (text accounts, integer time) loaded"
else
  ok_if 1 "tables la/ha (canonical events) and lb/hb (text accounts, integer time) loaded" "$out"
  bail "no tables"
fi

# 3-4: the ledger tables hold exactly the heap tables' rows.
got=$(q "SELECT count(*) || ' ' || md5(string_agg(l::text, E'\n' ORDER BY l.event_id)) FROM la l;
         SELECT count(*) || ' ' || md5(string_agg(h::text, E'\n' ORDER BY h.event_id)) FROM ha h;" 2>&1)
if [[ $(sed -n 1p <<<"$got") == "$(sed -n 2p <<<"$got")" && $(wc -l <<<"$got") == 2 ]]; then
  ok_if 0 "la and ha hold the same $(cut -d' ' -f1 <<<"$got" | head -n 1) rows"
else
  ok_if 1 "la and ha hold the same rows" "$got"
fi
got=$(q "SELECT count(*) || ' ' || md5(string_agg(l::text, E'\n' ORDER BY l.id)) FROM lb l;
         SELECT count(*) || ' ' || md5(string_agg(h::text, E'\n' ORDER BY h.id)) FROM hb h;" 2>&1)
if [[ $(sed -n 1p <<<"$got") == "$(sed -n 2p <<<"$got")" && $(wc -l <<<"$got") == 2 ]]; then
  ok_if 0 "lb and hb hold the same $(cut -d' ' -f1 <<<"$got" | head -n 1) rows"
else
  ok_if 1 "lb and hb hold the same rows" "$got"
fi

# 5: declarations, and rows written by every path (rolled-back rows stored).
got=$(q "SELECT (ledger_am.range_declaration('la')).account_columns::text,
                (ledger_am.range_declaration('lb')).account_columns::text,
                ledger_am.stored_rows('la') > (SELECT count(*) FROM la),
                ledger_am.stored_rows('lb') > (SELECT count(*) FROM lb)" 2>&1)
expect="{debit_account,credit_account}|{src,dst,tags}|t|t"
if [[ "$got" == "$expect" ]]; then
  ok_if 0 "declarations on la and lb; rolled-back rows are stored but invisible"
else
  ok_if 1 "declarations on la and lb; rolled-back rows are stored but invisible" "got: $got"$'\n'"want: $expect"
fi

# Generate the queries and the three scripts.
RANDOM=$SEED
gen_queries "$NQ" "$DIR" "$EVENTS" "$ACCOUNTS"
chown "$CLUSTER_OS_USER": "$DIR"/*.sql "$DIR"/queries.txt 2>/dev/null

run_file "$DIR/ledger.sql" "$DIR/ledger.out" "$DIR/ledger.err"
run_file "$DIR/heap.sql" "$DIR/heap.out" "$DIR/heap.err"
run_file "$DIR/plans.sql" "$DIR/plans.out" "$DIR/plans.err"
run_file "$DIR/part.sql" "$DIR/part.out" "$DIR/part.err"
run_file "$DIR/part_plans.sql" "$DIR/part_plans.out" "$DIR/part_plans.err"

# Per query: i|count|order hash|multiset hash, for the ledger and the heap.
declare -A L_RES H_RES P_RES HAS_RANGE HAS_SORT P_HAS_RANGE
while IFS='|' read -r i rest; do [[ -n "$i" ]] && L_RES[$i]=$rest; done <"$DIR/ledger.out"
while IFS='|' read -r i rest; do [[ -n "$i" ]] && H_RES[$i]=$rest; done <"$DIR/heap.out"
while IFS='|' read -r i rest; do [[ -n "$i" ]] && P_RES[$i]=$rest; done <"$DIR/part.out"
while read -r i r; do P_HAS_RANGE[$i]=$r; done < <(
  awk '/^@@ [0-9]+$/ { if (n != "") print n, r; n = $2; r = 0; next }
       /LedgerRangeScan/ { r = 1 }
       END { if (n != "") print n, r }' "$DIR/part_plans.out")
# HAS_ORDERED: the range scan reads in key order (forward/backward); an
# unordered one (a time window read as row id runs, then sorted) is a
# cost-based choice the planner may make, not a missed ordering.
declare -A HAS_ORDERED
while IFS='|' read -r i r s o; do HAS_RANGE[$i]=$r; HAS_SORT[$i]=$s; HAS_ORDERED[$i]=$o; done < <(
  awk '/^@@ [0-9]+$/ { if (n != "") print n "|" r "|" s "|" o; n = $2; r = 0; s = 0; o = 0; next }
       /LedgerRangeScan/ { r = 1 }
       /Direction: (forward|backward)/ { o = 1 }
       /^ *(-> +)?Sort( |$)/ { s = 1 }
       END { if (n != "") print n "|" r "|" s "|" o }' "$DIR/plans.out")

# show_query I: the query's description and its two answers.
show_query() {
  local i=$1
  echo "query $i (${Q_FORM[$i]}): ${Q_TEXT[$i]}"
  [[ -n "${Q_ARGS[$i]}" ]] && echo "  EXECUTE args: ${Q_ARGS[$i]}"
  echo "  ledger: ${L_RES[$i]:-<no result: error>}"
  echo "  heap:   ${H_RES[$i]:-<no result: error>}"
}

# 6..: results identical, per form.
declare -A F_TOTAL F_BAD F_DIAG
for f in "${FORMS[@]}"; do F_TOTAL[$f]=0; F_BAD[$f]=0; F_DIAG[$f]=""; done
BAD_TOTAL=0
for (( i = 1; i <= NQ; i++ )); do
  f=${Q_FORM[$i]}
  F_TOTAL[$f]=$(( F_TOTAL[$f] + 1 ))
  if [[ -z "${L_RES[$i]:-}" || "${L_RES[$i]:-}" != "${H_RES[$i]:-}" ]]; then
    F_BAD[$f]=$(( F_BAD[$f] + 1 ))
    BAD_TOTAL=$((BAD_TOTAL + 1))
    if (( BAD_TOTAL <= MAX_SHOWN )); then
      F_DIAG[$f]+="$(show_query "$i")"$'\n'
    fi
  fi
done
for f in "${FORMS[@]}"; do
  ok_when_none "${F_BAD[$f]}" "$f: ${F_TOTAL[$f]} queries, ledger and heap answers identical" \
    "$f: ${F_BAD[$f]} of ${F_TOTAL[$f]} queries answer differently" "${F_DIAG[$f]}"
done

# Plans: the forms that must use LedgerRangeScan do; ORDER BY time served by
# it needs no Sort.
must=0; must_bad=0; used=0; nosort=0; nosort_bad=0; diag=""; sdiag=""
for (( i = 1; i <= NQ; i++ )); do
  [[ "${HAS_RANGE[$i]:-0}" == 1 ]] && used=$((used + 1))
  if [[ "${Q_MUST[$i]}" == 1 ]]; then
    must=$((must + 1))
    if [[ "${HAS_RANGE[$i]:-0}" != 1 ]]; then
      must_bad=$((must_bad + 1))
      (( must_bad <= MAX_SHOWN )) && diag+="query $i (${Q_FORM[$i]}): ${Q_TEXT[$i]}"$'\n'
    fi
  fi
  if [[ "${Q_NOSORT[$i]}" == 1 && "${HAS_RANGE[$i]:-0}" == 1 && "${HAS_ORDERED[$i]:-0}" == 1 ]]; then
    nosort=$((nosort + 1))
    if [[ "${HAS_SORT[$i]:-0}" == 1 ]]; then
      nosort_bad=$((nosort_bad + 1))
      (( nosort_bad <= MAX_SHOWN )) && sdiag+="query $i (${Q_FORM[$i]}): ${Q_TEXT[$i]}"$'\n'
    fi
  fi
done
echo "# LedgerRangeScan in $used of $NQ ledger plans; $must queries must use it"
ok_when_none "$must_bad" "all $must queries of the range scan's forms use LedgerRangeScan" \
  "$must_bad of $must queries of the range scan's forms do not use LedgerRangeScan" "$diag"
ok_when_none "$nosort_bad" "no Sort node in the $nosort plans ordered by time through LedgerRangeScan" \
  "$nosort_bad of $nosort plans ordered by time through LedgerRangeScan still sort" "$sdiag"

# The partitioned twin pa: pair A's queries answer as on heap, and those
# that must use LedgerRangeScan do on its partitions.
p_total=0; p_bad=0; p_must=0; p_must_bad=0; pdiag=""; pmdiag=""
for (( i = 1; i <= NQ; i++ )); do
  [[ "${Q_PAIR[$i]}" == a ]] || continue
  p_total=$((p_total + 1))
  if [[ -z "${P_RES[$i]:-}" || "${P_RES[$i]:-}" != "${H_RES[$i]:-}" ]]; then
    p_bad=$((p_bad + 1))
    (( p_bad <= MAX_SHOWN )) && pdiag+="$(show_query "$i")"$'\n'"  pa:     ${P_RES[$i]:-<no result: error>}"$'\n'
  fi
  if [[ "${Q_MUST[$i]}" == 1 ]]; then
    p_must=$((p_must + 1))
    if [[ "${P_HAS_RANGE[$i]:-0}" != 1 ]]; then
      p_must_bad=$((p_must_bad + 1))
      (( p_must_bad <= MAX_SHOWN )) && pmdiag+="query $i (${Q_FORM[$i]}): ${Q_TEXT[$i]}"$'\n'
    fi
  fi
done
(( p_total > 0 )) || pdiag="no query of pair A was generated"
ok_when_none "$(( p_bad + (p_total == 0) ))" "partitioned pa: $p_total queries answer like heap" \
  "partitioned pa: $p_bad of $p_total queries answer differently" "$pdiag"
ok_when_none "$p_must_bad" \
  "partitioned pa: all $p_must queries of the range scan's forms use LedgerRangeScan on its partitions" \
  "partitioned pa: $p_must_bad of $p_must queries of the range scan's forms do not use LedgerRangeScan" "$pmdiag"

# Errors: none on either side.
errs=$(cat "$DIR/ledger.err" "$DIR/heap.err" "$DIR/plans.err" "$DIR/part.err" "$DIR/part_plans.err" \
       2>/dev/null | head -n 20)
if [[ -z "$errs" ]]; then
  ok_if 0 "no query failed on either table"
else
  ok_if 1 "some queries failed" "$errs"
fi

# Batches split over two threads were compared too (RANGE_QUERIES runs one
# client: the worker splits only for a lone client).
lent=$(tap_worker_stat "$DIR" "$DB" lent_batches 2>&1)
if [[ "$lent" =~ ^[0-9]+$ ]] && (( lent > 0 )); then
  ok_if 0 "range scan batches were split over two worker threads ($lent)"
else
  ok_if 1 "range scan batches were split over two worker threads" "lent_batches: $lent"
fi

echo "# $(( $(date +%s) - START )) s"
finish
