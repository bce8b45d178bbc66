#!/usr/bin/env bash
# 010_concurrent_commits.sh: many sessions committing small transactions at
# once, through every insert path, must all succeed and leave exactly their
# rows, each at its own row id (TAP output).
#
#   bash test/t/010_concurrent_commits.sh     (as root; the cluster runs as postgres)
#
# pgbench runs single-row and 20-row transactions (prepared and simple
# protocol, so commits overlap the worker's group-commit thread and row id
# reservations come and go), plus COPY batches, on the canonical events
# table. Checks: pgbench reports no failed or aborted client, the row count
# is exactly what was committed, no two rows share a ctid, btree and range
# declarations agree with the table. Env: T010_PORT (54391),
# T010_TX (transactions per client, default 300).
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T010_PORT:-54391}
TX=${T010_TX:-300}
PLAN=9
TESTNO=0
FAILED=0
DIR=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
finish() { tap_exit 010_concurrent_commits; }
cleanup() {
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    if (( FAILED > 0 )) && [[ -f "$DIR/server.log" ]]; then
      grep -E "ERROR|PANIC|FATAL" "$DIR/server.log" | tail -n 20 | sed 's/^/#   /'
    fi
    cluster_remove "$DIR" >/dev/null 2>&1
  fi
}
trap cleanup EXIT
q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"$1"; }

# run_pgbench NAME ARGS...: pgbench against the cluster; output in $DIR/NAME.out.
run_pgbench() {
  local name=$1; shift
  cluster_as_pg /usr/lib/postgresql/15/bin/pgbench -h "$DIR" -p "$PORT" -n "$@" postgres \
    >"$DIR/$name.out" 2>&1
}

echo "1..$PLAN"
DIR=$(mktemp -d /tmp/ledger_am_t010.XXXXXX) || bail "mktemp failed"
chown postgres "$DIR"
if ! out=$(cluster_init "$DIR" "$PORT" ledger_am 2>&1 && cluster_start "$DIR" 2>&1); then
  bail "cluster did not start: $out"
fi
cluster_psql_retry "$DIR" 60 "SELECT 1" -d postgres -qAt >/dev/null 2>&1
q "CREATE EXTENSION ledger_am; SELECT ledger_am.create_events_table('events');" >/dev/null \
  || bail "could not create the events table"
ok_if 0 "cluster, extension and events table"

cat >"$DIR/one.sql" <<'SQL'
INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount, currency)
VALUES ('deposit', gen_random_uuid(), 1, clock_timestamp(), :client_id, 1000 + :client_id, 1, 'EUR');
SQL
cat >"$DIR/twenty.sql" <<'SQL'
INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount, currency)
SELECT 'transfer', gen_random_uuid(), 1, clock_timestamp(), :client_id, g, 1, 'EUR' FROM generate_series(1, 20) g;
SQL
cat >"$DIR/copy.sql" <<'SQL'
COPY events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount, currency) FROM PROGRAM 'for i in $(seq 1 50); do echo "fee,$(cat /proc/sys/kernel/random/uuid),1,2026-01-01,7,8,1,EUR"; done' (FORMAT csv);
SQL
chown postgres "$DIR"/*.sql

run_pgbench single_prepared -c 4 -j 2 -t "$TX" -M prepared -f "$DIR/one.sql"
st1=$?
run_pgbench single_simple -c 8 -j 2 -t "$TX" -M simple -f "$DIR/one.sql"
st2=$?
run_pgbench multi -c 4 -j 2 -t $((TX / 5)) -M prepared -f "$DIR/twenty.sql" -f "$DIR/one.sql"
st3=$?
run_pgbench copy -c 2 -j 2 -t $((TX / 10)) -f "$DIR/copy.sql"
st4=$?
all=$(cat "$DIR"/single_prepared.out "$DIR"/single_simple.out "$DIR"/multi.out "$DIR"/copy.out)
bad=$(grep -E "error|aborted|failed transactions: [1-9]" <<<"$all" | head -n 5)
ok_if $(( st1 + st2 + st3 + st4 )) "every pgbench run completed (exit status 0)" "$bad"
expect_eq "no failed transaction or aborted client" "$bad" ""

# Committed rows: every transaction of every client committed.
processed=$(grep -h "number of transactions actually processed" "$DIR"/*.out | awk '{print $6}' | cut -d/ -f1 | paste -sd+ | bc)
want_single=$(( 4 * TX + 8 * TX ))
got=$(q "SELECT count(*) FILTER (WHERE event_type = 'deposit'), count(*) FILTER (WHERE event_type = 'fee') FROM events")
deposits=${got%|*}; fees=${got#*|}
multi_tx=$(grep -h "number of transactions actually processed" "$DIR/multi.out" | awk '{print $6}' | cut -d/ -f1)
transfers=$(q "SELECT count(*) FROM events WHERE event_type = 'transfer'")
singles_in_multi=$(( multi_tx - transfers / 20 ))
expect_eq "single-row commits all present" "$deposits" "$(( want_single + singles_in_multi ))"
expect_eq "20-row commits all present, whole" "$(( transfers % 20 ))" "0"
expect_eq "COPY commits all present" "$fees" "$(( 2 * (TX / 10) * 50 ))"
expect_eq "every row has its own ctid" "$(q "SELECT count(*) = count(DISTINCT ctid) FROM events")" "t"
expect_eq "btree scan agrees with the table" \
  "$(q "SET enable_seqscan = off; SET enable_bitmapscan = off; SET ledger_am.enable_range_scan = off; SELECT count(*) FROM events WHERE event_id IS NOT NULL")" \
  "$(q "SELECT count(*) FROM events")"
expect_eq "range keys agree with the table (account 1 via LedgerRangeScan vs seq scan)" \
  "$(q "SELECT count(*) FROM events WHERE debit_account = 1 OR credit_account = 1")" \
  "$(q "SET ledger_am.enable_range_scan = off; SELECT count(*) FROM events WHERE debit_account = 1 OR credit_account = 1")"
echo "# transactions processed: $processed"
finish
