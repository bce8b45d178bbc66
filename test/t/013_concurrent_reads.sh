#!/usr/bin/env bash
# 013_concurrent_reads.sh: reads served by the storage worker's read pool
# (src/worker/read_pool.h) under concurrency give exactly the answers of the
# same queries on a heap copy (TAP output).
#
# Six clients run, at the same time, account windows (ledger_range scans with
# LIMIT), time windows (row id sweeps), parallel sequential scans (three
# processes asking for chunks at once) and index scans, in different orders,
# while a seventh client keeps appending rows the others must not see (their
# answers are restricted to the rows loaded first, so they are fixed). Every
# answer is compared with the heap table's; the worker runs with one helper
# thread (ledger_am.read_threads = 1) so chunks really are served by two
# threads at once. Then three clients of point lookups by primary key, whose
# backends wait for the worker by yielding their vCPU, must match heap too
# (ledger_am.worker_stats(): yielded_point_reads).
#
#   bash test/t/013_concurrent_reads.sh   (as root; the cluster runs as postgres)
#   T013_CLIENTS=8 T013_ROUNDS=5 bash test/t/013_concurrent_reads.sh   (longer)
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T013_PORT:-54394}
CLIENTS=${T013_CLIENTS:-6}
ROUNDS=${T013_ROUNDS:-2}
ROWS=${T013_ROWS:-60000}
TESTNO=0
FAILED=0
DIR=""
WORK=""
WRITER=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
cleanup() {
  [[ -n "$WRITER" ]] && kill "$WRITER" 2>/dev/null
  [[ -n "$DIR" && -d "$DIR" ]] && cluster_remove "$DIR" >/dev/null 2>&1
  [[ -n "$WORK" && -d "$WORK" ]] && rm -rf "$WORK"
}
trap cleanup EXIT

q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
PLAN=7
finish() { tap_server_log "$DIR" 20; tap_exit 013_concurrent_reads; }

echo "1..$PLAN"
DIR=$(mktemp -d /tmp/ledger_am_t013.XXXXXX) && chown postgres "$DIR"
WORK=$(mktemp -d /tmp/ledger_am_t013w.XXXXXX) && chmod 755 "$WORK"
if ! out=$(cluster_init "$DIR" "$PORT" 2>&1); then
  bail "initdb failed: $out"
fi
printf 'ledger_am.read_threads = 1\nmax_parallel_workers_per_gather = 2\nautovacuum = off\n' >>"$DIR/postgresql.conf"
out=$(cluster_start "$DIR" 2>&1) || bail "server did not start: $out"

# Rows 1..ROWS: 300 accounts on each side, one event a minute from 2024-01-01.
out=$(q <<SQL 2>&1
CREATE EXTENSION ledger_am;
SELECT ledger_am.create_events_table('ev');
$(tap_events_sql ev "$ROWS" "jsonb_build_object('n', g, 'memo', repeat('x', g % 200))")
CREATE TABLE ev_heap AS SELECT * FROM ev;
CREATE INDEX ON ev_heap (ts);
ANALYZE ev; ANALYZE ev_heap;
SQL
)
[[ $? -eq 0 ]] && ok_if 0 "loaded $ROWS rows into ev (ledger_am) and ev_heap" || bail "load failed: $out"

# The query set: every answer covers only the rows loaded above (ts before
# the writer's rows, which start in 2030), whatever plan reads them.
last_ts="timestamptz '2024-01-01 00:00:00+00' + $ROWS * interval '1 minute'"
make_queries() {   # make_queries TABLE
  local t=$1 i a lo
  for (( i = 0; i < 24; i++ )); do
    a=$(( (i * 37 + 5) % 300 ))
    lo=$(( (i * 2311) % (ROWS - 6000) ))
    # account window, newest first, stops at 50 rows (ledger_range scan)
    echo "SELECT 'acct$i', count(*), sum(amount), min(ts), max(ts) FROM (SELECT * FROM $t
           WHERE (debit_account = $a OR credit_account = $a) AND ts <= $last_ts
           ORDER BY ts DESC LIMIT 50) s;"
    # account window with both bounds, ascending
    echo "SELECT 'win$i', count(*), sum(amount), string_agg((payload->>'n'), ',' ORDER BY ts) FROM (
           SELECT * FROM $t WHERE (debit_account = $a OR credit_account = $a)
             AND ts >= timestamptz '2024-01-01 00:00:00+00' + $lo * interval '1 minute'
             AND ts <  timestamptz '2024-01-01 00:00:00+00' + $(( lo + 6000 )) * interval '1 minute'
           ORDER BY ts) s;"
    # a time window of 5,000 rows (id-run sweep on ledger_am)
    echo "SELECT 'time$i', count(*), sum(amount), sum(length(payload::text)) FROM $t
           WHERE ts >= timestamptz '2024-01-01 00:00:00+00' + $lo * interval '1 minute'
             AND ts <  timestamptz '2024-01-01 00:00:00+00' + $(( lo + 5000 )) * interval '1 minute';"
    if (( i % 4 == 0 )); then
      # the whole table, parallel (three processes asking for chunks)
      echo "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
      echo "SELECT 'all$i', count(*), sum(amount), sum(length(payload::text)) FROM $t WHERE ts <= $last_ts;"
      echo "RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;"
    fi
  done
}
# one statement per line, so the clients can start the file anywhere
make_queries ev | tr -s '\n ' ' ' | sed 's/; */;\n/g' >"$WORK/ledger.sql"
make_queries ev_heap | tr -s '\n ' ' ' | sed 's/; */;\n/g' >"$WORK/heap.sql"
chmod 644 "$WORK"/*.sql

plans=$(q <<'SQL' 2>&1
EXPLAIN (COSTS OFF) SELECT * FROM ev WHERE debit_account = 5 OR credit_account = 5 ORDER BY ts DESC LIMIT 50;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ev;
SQL
)
if grep -q "LedgerRangeScan" <<<"$plans" && grep -q "Parallel Seq Scan on ev" <<<"$plans"; then
  ok_if 0 "the queries use ledger_range scans and parallel sequential scans"
else
  ok_if 1 "the queries use ledger_range scans and parallel sequential scans" "$plans"
fi

q -f "$WORK/heap.sql" 2>&1 | sort >"$WORK/expected"
nexp=$(wc -l <"$WORK/expected")
serial=$(q -f "$WORK/ledger.sql" 2>&1 | sort)
if [[ "$serial" == "$(cat "$WORK/expected")" && $nexp -ge 72 ]]; then
  ok_if 0 "one client: all $nexp answers equal heap's"
else
  ok_if 1 "one client: all answers equal heap's" "$(diff <(echo "$serial") "$WORK/expected" | head -n 10)"
fi

# A writer appends rows the readers' answers exclude, until they finish.
(
  while :; do
    q -c "INSERT INTO ev (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount)
          SELECT 'late', gen_random_uuid(), 1, timestamptz '2030-01-01 00:00:00+00' + g * interval '1 second',
                 g % 300, g % 7, 1 FROM generate_series(1, 200) g" >/dev/null 2>&1 || break
  done
) &
WRITER=$!

pids=()
for (( c = 0; c < CLIENTS; c++ )); do
  (
    for (( r = 0; r < ROUNDS; r++ )); do
      # each client and round starts at a different query
      n=$(wc -l <"$WORK/ledger.sql")
      k=$(( (c * 13 + r * 7) % n ))
      { tail -n +$(( k + 1 )) "$WORK/ledger.sql"; head -n "$k" "$WORK/ledger.sql"; } >"$WORK/c$c.$r.sql"
      chmod 644 "$WORK/c$c.$r.sql"
      q -f "$WORK/c$c.$r.sql" >"$WORK/out$c.$r" 2>&1
      echo "rc=$?" >>"$WORK/rc$c"
    done
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null; WRITER=""

bad=0; detail=""
for (( c = 0; c < CLIENTS; c++ )); do
  for (( r = 0; r < ROUNDS; r++ )); do
    got=$(grep -v '^SET$\|^RESET$' "$WORK/out$c.$r" | sort)
    if [[ "$got" != "$(cat "$WORK/expected")" ]]; then
      bad=$((bad + 1))
      detail+="client $c round $r:"$'\n'"$(diff <(echo "$got") "$WORK/expected" | head -n 6)"$'\n'
    fi
  done
done
if (( bad == 0 )) && ! grep -qv "rc=0" "$WORK"/rc*; then
  ok_if 0 "$CLIENTS concurrent clients x $ROUNDS rounds with a writer: every answer equals heap's"
else
  ok_if 1 "$CLIENTS concurrent clients x $ROUNDS rounds: every answer equals heap's" \
    "$bad runs differ; $(cat "$WORK"/rc* | sort | uniq -c | tr '\n' ' ')"$'\n'"$detail"
fi

late=$(q -c "SELECT count(*) FROM ev WHERE event_type = 'late'" 2>&1)
total=$(q -c "SELECT count(*) FROM ev" 2>&1)
if [[ "$late" =~ ^[0-9]+$ && "$late" -gt 0 && "$total" == $(( ROWS + late )) ]]; then
  ok_if 0 "the writer appended $late rows meanwhile; the table holds $total"
else
  ok_if 1 "the writer appended rows meanwhile" "late '$late' total '$total'"
fi

# Three clients of point lookups by primary key (one worker round trip
# each): few clients and quick reads, so their backends yield their vCPU
# while they wait (channel_client.cc, wait_not_posted). Each sums the rows of
# its own 3,000 random ids, probed one at a time by a nested loop. Some of
# the 18,000 waits must have yielded, and no more than that were counted.
point_sql() {   # point_sql TABLE SEED
  echo "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
        SELECT count(*), sum(e.amount), sum(length(e.payload::text))
        FROM (SELECT event_id FROM ev_heap ORDER BY md5(event_id::text || '$2') LIMIT 3000) k
        JOIN $1 e USING (event_id);"
}
yields_before=$(tap_worker_stat "$DIR" postgres yielded_point_reads)
pids=(); bad=0; detail=""
for c in 0 1 2; do
  ( for r in 0 1; do q -c "$(point_sql ev "$c.$r")" | grep -v '^SET$'; done >"$WORK/point$c" 2>&1 ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for c in 0 1 2; do
  want=$(for r in 0 1; do q -c "$(point_sql ev_heap "$c.$r")" | grep -v '^SET$'; done 2>&1)
  if [[ "$(cat "$WORK/point$c")" != "$want" || "$want" != 3000\|* ]]; then
    bad=$((bad + 1)); detail+="client $c: got '$(cat "$WORK/point$c")' want '$want'"$'\n'
  fi
done
yields=$(tap_worker_stat "$DIR" postgres yielded_point_reads)
plan=$(q -c "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
              EXPLAIN (COSTS OFF) $(point_sql ev 0 | tail -n 3)" | grep -c "Index Scan using ev_pkey")
if (( bad == 0 && plan == 1 )) && [[ "$yields_before" =~ ^[0-9]+$ && "$yields" =~ ^[0-9]+$ ]] &&
   (( yields > yields_before && yields - yields_before <= 18000 )); then
  ok_if 0 "3 concurrent clients x 6,000 point lookups equal heap's; $(( yields - yields_before )) waits yielded"
else
  ok_if 1 "3 concurrent clients of point lookups equal heap's, and their waits yield" \
    "differing: $bad, index probes in plan: $plan, yielded_point_reads $yields_before -> $yields"$'\n'"$detail"
fi

crashes=$(grep -cE 'terminated by signal|PANIC' "$DIR/server.log")
helpers=$(grep -c "started fewer read threads" "$DIR/server.log")
if (( crashes == 0 && helpers == 0 )); then
  ok_if 0 "no server process crashed; the read thread started"
else
  ok_if 1 "no server process crashed; the read thread started" "$(grep -E 'signal|PANIC|read threads' "$DIR/server.log" | head)"
fi
finish
