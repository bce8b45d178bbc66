#!/usr/bin/env bash
# 002_crash_load.sh: no acknowledged event is lost, no batch is half there,
# across kill -9 crashes under concurrent load (TAP output).
#
#   bash test/t/002_crash_load.sh            (as root; CI mode: 10 + 4 cycles, ~2-3 min)
#   CRASH_CYCLES=100 CRASH_CYCLES_ASYNC=20 CRASH_ROTATE=10 bash test/t/002_crash_load.sh
#                                            (long mode: ~40 min here; every check reads
#                                            the whole table, which grows by ~40k rows a
#                                            cycle, so CRASH_ROTATE=N drops it and starts
#                                            a fresh one every N cycles, totals carried)
#
# Starts a throwaway cluster (port 54341, T002_PORT to override) with
# shared_preload_libraries='ledger_am', creates the canonical events table and
# runs kill cycles. In each cycle LOAD_CLIENTS (4) load clients (test/t/loadgen)
# commit transactions of 1 to 200 events, each tagged in `metadata` with its
# batch id and row count; a client logs a batch id only after its COMMIT
# returned. Mid-load one of these is killed with SIGKILL, round robin:
#   a  the postmaster, then (0.3 s later, orphans still running) all its children
#   b  one load client's backend (pg_stat_activity.pid): Postgres crash-restarts
#   c  the ledger_am storage worker: Postgres crash-restarts
#   d  every process of the cluster at once
# Only processes of this cluster are ever signalled: a process belongs to it
# when it runs as postgres and its working directory is the data directory.
# After the server is back (pg_ctl start for a/d), every cycle checks:
#   1 the server accepts connections and the storage worker answers
#   2 every acknowledged batch is present completely
#   3 no batch is present partially (count = its "rows" tag for every batch),
#     no row of a rolled-back savepoint is visible
#   4 amcheck bt_index_check(index, heapallindexed => true) on every btree index
#   5 count and sum(hashtext(event_id)) through an index (only) scan equal
#     those of a sequential scan; the same for one account's rows through the
#     LedgerRangeScan of the table's ledger_range declaration
#   6 row ids are not reused: next_row_id after >= before the kill, no two rows
#     share a ctid, a new row's ctid lies past every ctid and row id seen before
# CRASH_CYCLES (default 10) cycles run with synchronous_commit = on, then
# CRASH_CYCLES_ASYNC (default 4) with synchronous_commit = off in the load
# clients: there, losing the last acknowledged batches is allowed and only
# reported; a partial batch never is (check 2 then asserts "complete or absent").
# Then deterministic tests:
#   * ledger_am.debug_crash_before_commit_record makes a COMMIT PANIC between
#     the RocksDB sync and the commit record; after the crash-restart the batch
#     is invisible although stored_rows shows its rows; it stays invisible
#     (seq scan) after further commits that reuse its keys; VACUUM works.
#   * a writer into a ledger_am table without indexes (its transaction writes
#     no WAL at all) is in progress at kill -9 of every process: after the
#     restart and 5 more committed transactions its rows are still invisible.
#   * amcheck's heapallindexed really visits the table's rows.
# The xids of the crashed transactions and the first xids handed out after the
# restart are printed as notes: an xid that Postgres hands out again makes the
# crashed transaction's RocksDB rows visible unless they were removed first.
# Last, the load clients' stderr holds only errors that a crash explains.
# T002_SEED fixes the random kill timing; KEEP_CLUSTER=1 keeps the data
# directory and the clients' logs; T002_SETTINGS adds postgresql.conf lines
# (test-all also runs it with ledger_am.debug_logged_rows_skip_wal = on, so
# that every kill loses RocksDB's unflushed rows and the storage worker must
# replay them from Postgres' WAL). Exits non-zero on any failure.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T002_PORT:-54341}
CRASH_CYCLES=${CRASH_CYCLES:-10}
CRASH_CYCLES_ASYNC=${CRASH_CYCLES_ASYNC:-4}
CRASH_ROTATE=${CRASH_ROTATE:-0}
CLIENTS=${LOAD_CLIENTS:-4}
SEED=${T002_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
KINDS=(a b c d)
declare -A KIND_TEXT=(
  [a]="kill -9 postmaster, then its children"
  [b]="kill -9 one client backend"
  [c]="kill -9 storage worker"
  [d]="kill -9 all processes at once"
)
PER_CYCLE=6
ROTATIONS_PLANNED=0
if (( CRASH_ROTATE > 0 )); then
  ROTATIONS_PLANNED=$(( (CRASH_CYCLES > 0 ? (CRASH_CYCLES - 1) / CRASH_ROTATE : 0) +
                        (CRASH_CYCLES_ASYNC > 0 ? (CRASH_CYCLES_ASYNC - 1) / CRASH_ROTATE : 0) ))
fi
PLAN=$(( 2 + PER_CYCLE * (CRASH_CYCLES + CRASH_CYCLES_ASYNC) + ROTATIONS_PLANNED + 5 + 2 + 2 ))
TESTNO=0
FAILED=0
DIR=""
WORK=""
LOAD_PIDS=()
T_START=$(date +%s)

# ok_if STATUS DESCRIPTION [DIAG]: one TAP line; STATUS 0 means pass.
# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"


SUMMARY_LINES=()
# finish: print the numbers and the summary, exit with the overall status.
finish() {
  local l
  for l in "${SUMMARY_LINES[@]}"; do echo "# $l"; done
  echo "# elapsed: $(( $(date +%s) - T_START )) s"
  tap_exit 002_crash_load
}

# descendants PID: PID's child processes, recursively (deepest last).
descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}

# kill_load: stop the load clients (and their psql processes) we started.
kill_load() {
  local p all=()
  for p in "${LOAD_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null || continue
    all+=("$p")
    mapfile -t -O "${#all[@]}" all < <(descendants "$p")
  done
  (( ${#all[@]} )) && kill -TERM "${all[@]}" 2>/dev/null
  for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  LOAD_PIDS=()
}

# cleanup: stop the clients and the cluster, remove the data dir and logs.
cleanup() {
  [[ -n "$WORK" && -d "$WORK" ]] && touch "$WORK/stop"
  kill_load
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_server_log "$DIR" 30
    tap_drop_cluster "$DIR" "cluster kept in $DIR, client logs in $WORK" || return
  fi
  [[ -n "$WORK" && "$WORK" == /tmp/?* ]] && rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

# q SQL: run SQL (several statements allowed) on database postgres, print the
# unaligned, tuples-only result; fails on the first error.
q() {
  cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"$1"
}

# cluster_pids, is_ours, postmaster_pid, worker_pid, kill_all_cluster,
# wait_gone, ready, wait_crash_restart, wait_ready: see crash.sh.
# shellcheck source=crash.sh
source "$REPO_ROOT/test/t/crash.sh"

# ack_count: acknowledged batches so far (all clients).
ack_count() {
  cat "$WORK"/c*.ack 2>/dev/null | wc -l
}

# start_load FIRST SYNC: start CLIENTS load clients c<FIRST>.. with the given
# synchronous_commit.
start_load() {
  local first=$1 sync=$2 i
  rm -f "$WORK/stop"
  for ((i = first; i < first + CLIENTS; i++)); do
    bash "$REPO_ROOT/test/t/loadgen" "$DIR" "c$i" "$WORK" "$sync" &
    LOAD_PIDS+=($!)
  done
}

# wait_load_exit SECS: after WORK/stop was created, wait for the clients to
# finish (they exit when their connection breaks); kill the stragglers.
wait_load_exit() {
  local deadline=$(( $(date +%s) + $1 )) p alive
  while (( $(date +%s) < deadline )); do
    alive=0
    for p in "${LOAD_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.2
  done
  if (( alive )); then echo "# load clients still running after $1 s: killed"; fi
  kill_load
}

# Totals for the report.
CYCLES_RUN=0
LAST_BATCHES=0
LAST_ROWS=0
LOST_SYNC=0
LOST_ASYNC=0
SYNC_ACKED=0
ASYNC_ACKED=0

# Totals banked by rotate (tables dropped in long mode).
BANK_BATCHES=0
BANK_ROWS=0
BANK_SYNC_ACKED=0
BANK_ASYNC_ACKED=0
BANK_LOST_SYNC=0
BANK_LOST_ASYNC=0
ROTATIONS=0

# rotate: long mode (CRASH_ROTATE): bank this table's totals, set its
# acknowledgement logs aside, drop it and create a fresh events table, so the
# checks of the next cycles read a bounded table. One test.
rotate() {
  local out
  BANK_BATCHES=$((BANK_BATCHES + LAST_BATCHES)); BANK_ROWS=$((BANK_ROWS + LAST_ROWS))
  BANK_SYNC_ACKED=$((BANK_SYNC_ACKED + SYNC_ACKED)); BANK_ASYNC_ACKED=$((BANK_ASYNC_ACKED + ASYNC_ACKED))
  BANK_LOST_SYNC=$((BANK_LOST_SYNC + LOST_SYNC)); BANK_LOST_ASYNC=$((BANK_LOST_ASYNC + LOST_ASYNC))
  LAST_BATCHES=0; LAST_ROWS=0; SYNC_ACKED=0; ASYNC_ACKED=0; LOST_SYNC=0; LOST_ASYNC=0
  ROTATIONS=$((ROTATIONS + 1))
  mkdir -p "$WORK/table$ROTATIONS"
  mv "$WORK"/c*.ack "$WORK/table$ROTATIONS/" 2>/dev/null
  if out=$(q "DROP TABLE events; SELECT ledger_am.create_events_table('events');
              SELECT count(*) FROM events" 2>&1) && [[ "$(tail -n 1 <<<"$out")" == 0 ]]; then
    ok_if 0 "rotation $ROTATIONS: table dropped after the crashes, a fresh events table is empty"
  else
    ok_if 1 "rotation $ROTATIONS: table dropped and created again" "$out"
  fi
}

# verify_state: one pass over the table after a restart; sets V_* variables.
# Sync acks are the files of clients c1..c$CLIENTS, async acks the others.
verify_state() {
  local i f
  : >"$WORK/sync.ack"; : >"$WORK/async.ack"
  for f in "$WORK"/c*.ack; do
    [[ -e "$f" ]] || continue
    i=$(basename "$f" .ack); i=${i#c}
    if (( i <= CLIENTS )); then cat "$f" >>"$WORK/sync.ack"; else cat "$f" >>"$WORK/async.ack"; fi
  done
  chown "$CLUSTER_OS_USER": "$WORK/sync.ack" "$WORK/async.ack"
  V_OUT=$(q "
    CREATE TEMP TABLE ack_s (batch text, rows int);
    CREATE TEMP TABLE ack_a (batch text, rows int);
    \\copy ack_s FROM '$WORK/sync.ack' WITH (DELIMITER ' ')
    \\copy ack_a FROM '$WORK/async.ack' WITH (DELIMITER ' ')
    CREATE TEMP TABLE actual AS
      SELECT metadata->>'batch' AS batch, count(*) AS n,
             min((metadata->>'rows')::int) AS lo, max((metadata->>'rows')::int) AS hi
      FROM events GROUP BY 1;
    SELECT 'V', (SELECT count(*) FROM ack_s),
      (SELECT count(*) FROM ack_s a LEFT JOIN actual t USING (batch)
        WHERE t.n IS NULL),
      (SELECT count(*) FROM ack_s a LEFT JOIN actual t USING (batch)
        WHERE t.n IS DISTINCT FROM a.rows OR t.lo IS DISTINCT FROM a.rows OR t.hi IS DISTINCT FROM a.rows),
      (SELECT count(*) FROM ack_a),
      (SELECT count(*) FROM ack_a a LEFT JOIN actual t USING (batch) WHERE t.n IS NULL),
      (SELECT count(*) FROM ack_a a JOIN actual t USING (batch)
        WHERE t.n <> a.rows OR t.lo <> a.rows OR t.hi <> a.rows),
      (SELECT count(*) FROM actual),
      (SELECT count(*) FROM actual WHERE n <> lo OR lo <> hi OR batch IS NULL),
      (SELECT coalesce(sum(n), 0) FROM actual),
      (SELECT count(*) FROM events WHERE event_type = 'rolled_back');
    SELECT 'D sync-acked not complete (batch:found/acked): ' || string_agg(x, ' ') FROM (
      SELECT a.batch || ':' || coalesce(t.n, 0) || '/' || a.rows AS x
      FROM ack_s a LEFT JOIN actual t USING (batch)
      WHERE t.n IS DISTINCT FROM a.rows OR t.lo IS DISTINCT FROM a.rows LIMIT 20) s HAVING count(*) > 0;
    SELECT 'D async-acked partial (batch:found/acked): ' || string_agg(x, ' ') FROM (
      SELECT a.batch || ':' || t.n || '/' || a.rows AS x
      FROM ack_a a JOIN actual t USING (batch) WHERE t.n <> a.rows LIMIT 20) s HAVING count(*) > 0;
    SELECT 'L async-acked lost: ' || string_agg(batch, ' ') FROM (
      SELECT a.batch FROM ack_a a LEFT JOIN actual t USING (batch) WHERE t.n IS NULL
      ORDER BY 1 LIMIT 20) s HAVING count(*) > 0;
    SELECT 'D partial batches (batch:count/min rows/max rows): ' || string_agg(x, ' ') FROM (
      SELECT coalesce(batch, 'NULL') || ':' || n || '/' || lo || '/' || hi AS x FROM actual
      WHERE n <> lo OR lo <> hi OR batch IS NULL LIMIT 20) s HAVING count(*) > 0;
  " 2>&1)
  V_RC=$?
  local v
  v=$(grep '^V|' <<<"$V_OUT" | head -n 1)
  IFS='|' read -r _ V_SACK V_SLOST V_SBAD V_AACK V_ALOST V_ABAD V_BATCHES V_PARTIAL V_ROWS V_RB <<<"$v"
  V_DIAG=$(grep -v '^V|' <<<"$V_OUT")
  if [[ -z "$v" ]]; then V_RC=1; fi
}

# check_indexes LABEL: checks 4 and 5 (amcheck; index scan = seq scan).
check_indexes() {
  local out idx seq plan rplan rng rseq
  out=$(q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS amcheck;
           SELECT count(*) FROM (SELECT bt_index_check(i.indexrelid, true)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
             WHERE i.indrelid = 'events'::regclass AND a.amname = 'btree') s" 2>&1)
  if [[ "$out" =~ ^[0-9]+$ ]] && (( out >= 2 )); then
    ok_if 0 "$1: amcheck bt_index_check(heapallindexed) passes on the $out btree indexes"
  else
    ok_if 1 "$1: amcheck bt_index_check(heapallindexed) passes on the btree indexes" "$out"
  fi
  plan=$(q "SET enable_seqscan = off; SET enable_bitmapscan = off;
            EXPLAIN (COSTS OFF) SELECT count(*), sum(hashtext(event_id::text))
            FROM events WHERE event_id IS NOT NULL" 2>&1)
  idx=$(q "SET enable_seqscan = off; SET enable_bitmapscan = off;
           SELECT count(*) || ' ' || coalesce(sum(hashtext(event_id::text)), 0)
           FROM events WHERE event_id IS NOT NULL" 2>&1)
  seq=$(q "SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;
           SELECT count(*) || ' ' || coalesce(sum(hashtext(event_id::text)), 0)
           FROM events" 2>&1)
  # The same for one account through the ledger_range declaration's range scan.
  rplan=$(q "EXPLAIN (COSTS OFF) SELECT count(*), sum(hashtext(event_id::text))
             FROM events WHERE debit_account = 1" 2>&1)
  rng=$(q "SELECT count(*) || ' ' || coalesce(sum(hashtext(event_id::text)), 0)
           FROM events WHERE debit_account = 1" 2>&1)
  rseq=$(q "SET ledger_am.enable_range_scan = off; SET enable_indexscan = off;
            SET enable_indexonlyscan = off; SET enable_bitmapscan = off;
            SELECT count(*) || ' ' || coalesce(sum(hashtext(event_id::text)), 0)
            FROM events WHERE debit_account = 1" 2>&1)
  if [[ "$plan" == *"Index Only Scan"* || "$plan" == *"Index Scan"* ]] &&
     [[ "$idx" == "$seq" && "$idx" =~ ^[0-9]+\ -?[0-9]+$ ]] &&
     [[ "$rplan" == *"LedgerRangeScan"* && "$rng" == "$rseq" && "$rng" =~ ^[0-9]+\ -?[0-9]+$ ]]; then
    ok_if 0 "$1: count and event_id hash sum: index scan = seq scan (${idx%% *} rows), range scan = seq scan (${rng%% *} rows of account 1)"
  else
    # Which batches do the rows that only one side sees belong to?
    local missing
    missing=$(q "SET enable_seqscan = off; SET enable_bitmapscan = off;
                 CREATE TEMP TABLE via_index AS SELECT event_id FROM events WHERE event_id IS NOT NULL;
                 RESET enable_seqscan; RESET enable_bitmapscan;
                 SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;
                 CREATE TEMP TABLE via_seq AS SELECT event_id, metadata->>'batch' AS batch FROM events;
                 SELECT 'in seq scan only (batch:rows): ' || coalesce(string_agg(batch || ':' || n, ' '), '-')
                 FROM (SELECT batch, count(*) AS n FROM via_seq s
                       WHERE NOT EXISTS (SELECT 1 FROM via_index i WHERE i.event_id = s.event_id)
                       GROUP BY 1 ORDER BY 1 LIMIT 20) x;
                 SELECT 'in index scan only: ' || count(*) FROM via_index i
                 WHERE NOT EXISTS (SELECT 1 FROM via_seq s WHERE s.event_id = i.event_id)" 2>&1)
    ok_if 1 "$1: count and event_id hash sum: index scan = seq scan, range scan = seq scan" \
      "$missing"$'\n'"index: $idx"$'\n'"seq:   $seq"$'\n'"plan:"$'\n'"$plan"$'\n'"range scan (account 1): $rng"$'\n'"seq (account 1):       $rseq"$'\n'"plan:"$'\n'"$rplan"
  fi
}

# tid_row_id EXPR: SQL for the row id of a ctid (src/codec/tid_map.h: 291 per block).
tid_row_id() {
  echo "(($1)::text::point)[0]::bigint * 291 + (($1)::text::point)[1]::bigint - 1"
}

# run_cycle N KIND PHASE FIRST_CLIENT SYNC
run_cycle() {
  local n=$1 kind=$2 phase=$3 first=$4 sync=$5
  local label="cycle $n/$phase ($kind: ${KIND_TEXT[$kind]})"
  local t0 t1 t2 t3 acks0 acks_pre hw hw_next hw_ctid old_worker victim pm out deadline rc
  t0=$(date +%s.%N)
  acks0=$(ack_count)

  start_load "$first" "$sync"
  # Let the load get going (at least one commit per client), then a random
  # 0.3 .. 1.5 s more (longer runs only make the table, and each check, bigger).
  deadline=$(( $(date +%s) + 60 ))
  while (( $(ack_count) - acks0 < CLIENTS && $(date +%s) < deadline )); do sleep 0.1; done
  sleep "$(( RANDOM % 2 )).$(( RANDOM % 10 ))"
  sleep 0.3

  hw=$(q "SELECT ledger_am.next_row_id('events') || ' ' || coalesce(max(ctid), '(0,0)') FROM events" 2>&1)
  hw_next=${hw%% *}; hw_ctid=${hw#* }
  old_worker=$(worker_pid)
  acks_pre=$(ack_count)
  victim=""
  case $kind in
    a)
      pm=$(postmaster_pid)
      if [[ -n "$pm" ]]; then
        kill -9 "$pm"; victim=$pm
        touch "$WORK/stop"
        sleep 0.3
        kill_all_cluster
      fi
      ;;
    b)
      victim=$(q "SELECT pid FROM pg_stat_activity
                  WHERE application_name LIKE 't002_c%' AND backend_type = 'client backend'
                  ORDER BY random() LIMIT 1" 2>/dev/null)
      if is_ours "$victim"; then kill -9 "$victim"; else victim=""; fi
      touch "$WORK/stop"
      ;;
    c)
      victim=$old_worker
      if is_ours "$victim"; then kill -9 "$victim"; else victim=""; fi
      touch "$WORK/stop"
      ;;
    d)
      pm=$(postmaster_pid)
      if [[ -n "$pm" ]]; then
        # shellcheck disable=SC2046
        kill -9 $(cluster_pids) 2>/dev/null; victim=$pm
        touch "$WORK/stop"
        kill_all_cluster
      fi
      ;;
  esac
  touch "$WORK/stop"
  t1=$(date +%s.%N)

  rc=1
  if [[ -n "$victim" ]]; then
    case $kind in
      a|d)
        if ! wait_gone "$victim" 60; then
          out="killed postmaster $victim still exists after 60 s: $(ps -o pid,stat,args -p "$victim")"
        elif [[ -z "$(cluster_pids)" ]]; then
          out=$(cluster_start "$DIR" 2>&1) && wait_ready 60 && rc=0
        else
          out="processes of the cluster survive SIGKILL: $(cluster_pids | tr '\n' ' ')"
        fi
        ;;
      b|c)
        wait_crash_restart "$old_worker" "$victim" 90 && rc=0
        out="no crash-restart within 90 s (old worker $old_worker)"
        ;;
    esac
  else
    out="no process to kill found (postmaster/backend/worker pid empty or not ours; hw: $hw, worker: $old_worker)"
  fi
  wait_load_exit 60
  t2=$(date +%s.%N)
  CYCLES_RUN=$((CYCLES_RUN + 1))
  if (( rc == 0 )); then
    ok_if 0 "$label: server back, storage worker answers"
  else
    ok_if 1 "$label: server back, storage worker answers" "$out"
    bail "server did not come back in $label"
  fi

  t3=$(date +%s.%N)
  verify_state
  echo "# $label: load $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, $((acks_pre - acks0)) batches acknowledged before the kill ($(( $(ack_count) - acks0 )) in all), recovery $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s; table: ${V_BATCHES:-?} batches, ${V_ROWS:-?} rows"
  if [[ "$phase" == sync ]]; then
    if (( V_RC == 0 )) && [[ "$V_SLOST" == 0 && "$V_SBAD" == 0 ]]; then
      ok_if 0 "$label: all $V_SACK acknowledged batches present completely"
    else
      ok_if 1 "$label: all ${V_SACK:-?} acknowledged batches present completely" \
        "lost: ${V_SLOST:-?}, not complete: ${V_SBAD:-?}"$'\n'"$V_DIAG"
    fi
  else
    if (( V_RC == 0 )) && [[ "$V_SLOST" == 0 && "$V_SBAD" == 0 && "$V_ABAD" == 0 ]]; then
      ok_if 0 "$label: $V_SACK sync-acknowledged batches complete; of $V_AACK async-acknowledged batches none partial ($V_ALOST lost in all, allowed)"
    else
      ok_if 1 "$label: acknowledged batches complete or (async only) absent" \
        "sync lost: ${V_SLOST:-?}, sync not complete: ${V_SBAD:-?}, async partial: ${V_ABAD:-?}"$'\n'"$V_DIAG"
    fi
    grep '^L ' <<<"$V_DIAG" | sed 's/^L /# note: /'
  fi
  if (( V_RC == 0 )) && [[ "$V_PARTIAL" == 0 && "$V_RB" == 0 ]]; then
    ok_if 0 "$label: no partial batch among $V_BATCHES batches, no rolled-back savepoint row visible"
  else
    ok_if 1 "$label: no partial batch, no rolled-back savepoint row visible" \
      "partial batches: ${V_PARTIAL:-?}, rolled-back rows visible: ${V_RB:-?}"$'\n'"$V_DIAG"
  fi
  LAST_BATCHES=${V_BATCHES:-$LAST_BATCHES}
  LAST_ROWS=${V_ROWS:-$LAST_ROWS}
  SYNC_ACKED=${V_SACK:-$SYNC_ACKED}; LOST_SYNC=${V_SLOST:-$LOST_SYNC}
  ASYNC_ACKED=${V_AACK:-$ASYNC_ACKED}; LOST_ASYNC=${V_ALOST:-$LOST_ASYNC}

  check_indexes "$label"

  # 6: row ids.
  local res next_after dup maxc probe probe_id probe_past
  res=$(q "SELECT ledger_am.next_row_id('events') || ' ' || (count(*) = count(DISTINCT ctid))::text
                  || ' ' || coalesce(max(ctid), '(0,0)') FROM events" 2>&1)
  read -r next_after dup maxc <<<"$res"
  probe=$(q "INSERT INTO events (event_type, aggregate_id, aggregate_version, metadata)
             VALUES ('probe', gen_random_uuid(), 1, '{\"batch\": \"probe-$phase-$n\", \"rows\": 1}')
             RETURNING ctid::text || ' ' || ($(tid_row_id ctid))::text
                       || ' ' || (ctid > '$maxc'::tid AND ctid > '$hw_ctid'::tid)::text" 2>&1)
  probe=$(head -n 1 <<<"$probe")
  read -r _ probe_id probe_past <<<"$probe"
  if [[ "$next_after" =~ ^[0-9]+$ && "$hw_next" =~ ^[0-9]+$ && "$probe_id" =~ ^[0-9]+$ ]] &&
     (( next_after >= hw_next && probe_id >= hw_next )) && [[ "$dup" == true && "$probe_past" == true ]]; then
    ok_if 0 "$label: row ids not reused (next_row_id $hw_next before, $next_after after; new row $probe)"
  else
    ok_if 1 "$label: row ids not reused" \
      "before kill: next_row_id/max ctid: $hw"$'\n'"after: next_row_id, ctids unique, max ctid: $res"$'\n'"new row: ctid row_id past_all: $probe"
  fi
  echo "# $label: checks took $(awk -v a="$t3" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

echo "1..$PLAN"
echo "# seed $SEED (T002_SEED), $CRASH_CYCLES cycles with synchronous_commit=on, $CRASH_CYCLES_ASYNC with off, $CLIENTS clients"

# 1: cluster.
DIR=$(mktemp -d /tmp/ledger_am_t002.XXXXXX) || bail "mktemp failed"
WORK=$(mktemp -d /tmp/ledger_am_t002_load.XXXXXX) || bail "mktemp failed"
chown "$CLUSTER_OS_USER": "$WORK"; chmod 755 "$WORK"
if [[ -n "${T002_SETTINGS:-}" ]]; then
  echo "# extra settings: $T002_SETTINGS"
  tap_start_cluster "cluster with shared_preload_libraries=ledger_am starts (port $PORT)" "$T002_SETTINGS"
else
  tap_start_cluster "cluster with shared_preload_libraries=ledger_am starts (port $PORT)"
fi

# 2: extension, events table, amcheck.
if out=$(cluster_psql_retry "$DIR" 60 "BEGIN;
           CREATE EXTENSION ledger_am; CREATE EXTENSION amcheck;
           SELECT ledger_am.create_events_table('events');
           SELECT count(*) FROM events;
           COMMIT;" -d postgres -qAt) && [[ "$(tail -n 1 <<<"$out")" == 0 ]]; then
  ok_if 0 "CREATE EXTENSION ledger_am, amcheck; ledger_am.create_events_table('events')"
else
  ok_if 1 "CREATE EXTENSION ledger_am, amcheck; ledger_am.create_events_table('events')" "$out"
  bail "no events table"
fi

worker_pid >/dev/null 2>&1   # sets WORKER_VIA (not from a $(...) subshell)
echo "# storage worker pid found via ${WORKER_VIA:-?}"

# Kill cycles, synchronous_commit = on (clients c1..c$CLIENTS).
for ((cyc = 1; cyc <= CRASH_CYCLES; cyc++)); do
  run_cycle "$cyc" "${KINDS[$(( (cyc - 1) % 4 ))]}" sync 1 on
  if (( CRASH_ROTATE > 0 && cyc % CRASH_ROTATE == 0 && cyc < CRASH_CYCLES )); then rotate; fi
done
# Kill cycles, synchronous_commit = off (clients c$((CLIENTS+1)).. ).
for ((cyc = 1; cyc <= CRASH_CYCLES_ASYNC; cyc++)); do
  run_cycle "$cyc" "${KINDS[$(( (cyc - 1) % 4 ))]}" async $((CLIENTS + 1)) off
  if (( CRASH_ROTATE > 0 && cyc % CRASH_ROTATE == 0 && cyc < CRASH_CYCLES_ASYNC )); then rotate; fi
done

# Deterministic: PANIC between the RocksDB sync and the commit record.
before=$(q "SELECT count(*) || ' ' || ledger_am.stored_rows('events') FROM events" 2>&1)
read -r cnt_before stored_before <<<"$before"
old_worker=$(worker_pid)
pm_before=$(postmaster_pid)
out=$(cluster_psql "$DIR" -d postgres -At -v ON_ERROR_STOP=1 2>&1 <<'SQL'
SET ledger_am.debug_crash_before_commit_record = on;
BEGIN;
INSERT INTO events (event_type, aggregate_id, aggregate_version, metadata)
SELECT 'det', '00000000-0000-4000-8999-000000000001', i, '{"batch": "det-1", "rows": 50}'
FROM generate_series(1, 50) i;
SELECT 'xid ' || txid_current();
COMMIT;
SQL
)
rc=$?
det_xid=$(sed -n 's/^xid \([0-9]*\)$/\1/p' <<<"$out")
if (( rc != 0 )) && ! grep -qx COMMIT <<<"$out" && [[ -n "$old_worker" ]] &&
   wait_crash_restart "$old_worker" "$old_worker" 90 && [[ "$(postmaster_pid)" == "$pm_before" ]]; then
  ok_if 0 "debug_crash_before_commit_record: COMMIT not acknowledged, server crash-restarts"
else
  ok_if 1 "debug_crash_before_commit_record: COMMIT not acknowledged, server crash-restarts" \
    "psql rc $rc:"$'\n'"$out"
  wait_ready 60 || bail "server did not come back after the injected PANIC"
fi
grep -m 1 'PANIC' "$DIR/server.log" | sed 's/^/# server log: /'
after=$(q "SELECT count(*) FILTER (WHERE metadata->>'batch' = 'det-1') || ' ' || count(*) || ' ' ||
                  ledger_am.stored_rows('events') FROM events" 2>&1)
read -r det_cnt cnt_after stored_after <<<"$after"
if [[ "$det_cnt" == 0 && "$cnt_after" == "$cnt_before" ]]; then
  ok_if 0 "crashed-before-commit-record batch is invisible (0 rows; count(*) still $cnt_after)"
else
  ok_if 1 "crashed-before-commit-record batch is invisible" \
    "before: count stored_rows = $before"$'\n'"after: det-1 count, count, stored_rows = $after"
fi
# Its 50 rows reached RocksDB. Either they are still stored (invisible, for
# VACUUM to reclaim), or, when no WAL record of the crashed xid was flushed,
# the storage worker removed them at start because the xid is handed out
# again (server log: "removed N rows of transactions lost in a crash").
purge_line=$(grep -m 1 'rows of transactions lost in a crash' "$DIR/server.log")
if [[ "$stored_after" =~ ^[0-9]+$ && "$stored_before" =~ ^[0-9]+$ ]] &&
   (( stored_after - stored_before == 50 && stored_after > cnt_after )); then
  ok_if 0 "its 50 rows are physically stored: stored_rows $stored_before -> $stored_after > count(*) $cnt_after"
elif [[ "$stored_after" == "$stored_before" && -n "$purge_line" ]]; then
  ok_if 0 "its 50 rows were removed at restart (their xid is reused): ${purge_line##*LOG:  }"
else
  ok_if 1 "its 50 rows are stored, or removed at restart as rows of a lost xid" \
    "before: count stored_rows = $before"$'\n'"after: det-1 count, count, stored_rows = $after"$'\n'"purge: $purge_line"
fi
# Its rows carry xmin = the crashed xid. If Postgres hands that xid out again
# (nothing in its WAL may mention it), the next transaction that gets it
# "commits" them, unless ledger_am removed them first: reported as a note, the
# visibility that matters is asserted next.
new_xid=$(q "SELECT txid_current()" 2>&1)
echo "# note: xid of the crashed transaction: ${det_xid:-?}, first xid after the restart: $new_xid"
out=$(q "INSERT INTO events (event_type, aggregate_id, aggregate_version, metadata)
         SELECT 'det', '00000000-0000-4000-8999-000000000001', i, '{\"batch\": \"det-2\", \"rows\": 50}'
         FROM generate_series(1, 50) i;
         SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;
         SET ledger_am.enable_range_scan = off;
         SELECT count(*) FILTER (WHERE metadata->>'batch' = 'det-2') || ' ' ||
                count(*) FILTER (WHERE metadata->>'batch' = 'det-1') || ' ' ||
                (SELECT count(*) FROM (SELECT aggregate_id, aggregate_version FROM events
                   GROUP BY 1, 2 HAVING count(*) > 1) d)
         FROM events" 2>&1)
if [[ "$out" == "50 0 0" ]]; then
  ok_if 0 "after more commits (seq scan): det-1 still invisible, det-2 re-inserted its keys, no duplicate (aggregate_id, aggregate_version)"
else
  ok_if 1 "after more commits (seq scan): det-1 still invisible, det-2 re-inserted its keys, no duplicate (aggregate_id, aggregate_version)" \
    "det-2 rows, det-1 rows, duplicate keys visible: $out"
fi
pre_vac=$(q "SELECT ledger_am.stored_rows('events')" 2>&1)
out=$(q "VACUUM events; SELECT ledger_am.stored_rows('events') || ' ' || count(*) FROM events" 2>&1)
if [[ $? -eq 0 ]]; then
  ok_if 0 "VACUUM events works after the crash"
  echo "# note: stored_rows before VACUUM $pre_vac, after VACUUM ${out%% *} (visible rows ${out##* })"
else
  ok_if 1 "VACUUM events works after the crash" "$out"
fi

# Deterministic: a writer whose transaction wrote no WAL (ledger_am table
# without indexes) is in progress when every process is killed. Its rows are
# in RocksDB with xmin = its xid; after the restart that xid must not be handed
# out again, or the transaction that gets it makes those rows visible.
q "CREATE TABLE noidx (id int, note text) USING ledger_am; CHECKPOINT" >/dev/null 2>&1
{
  cluster_psql "$DIR" -d "dbname=postgres application_name=t002_noidx" -At -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
INSERT INTO noidx SELECT i, 'never committed' FROM generate_series(1, 10) i;
SELECT 'xid ' || txid_current();
SELECT pg_sleep(600);
SQL
} >"$WORK/noidx.log" 2>&1 &
LOAD_PIDS+=($!)
sleeping=0
for _ in $(seq 1 100); do
  [[ "$(q "SELECT count(*) FROM pg_stat_activity
           WHERE application_name = 't002_noidx' AND wait_event = 'PgSleep'" 2>/dev/null)" == 1 ]] &&
    { sleeping=1; break; }
  sleep 0.2
done
pm=$(postmaster_pid)
rc=1
if (( sleeping )) && [[ -n "$pm" ]]; then
  # shellcheck disable=SC2046
  kill -9 $(cluster_pids) 2>/dev/null
  kill_all_cluster && wait_gone "$pm" 60 && cluster_start "$DIR" >/dev/null 2>&1 && wait_ready 60 && rc=0
fi
wait_load_exit 30
noidx_xid=$(sed -n 's/^xid \([0-9]*\)$/\1/p' "$WORK/noidx.log")
if (( rc == 0 )) && [[ -n "$noidx_xid" ]]; then
  ok_if 0 "index-less table: xid $noidx_xid wrote 10 rows, in progress at kill -9 of all processes; restarted"
else
  ok_if 1 "index-less table: writer in progress at kill -9 of all processes; restarted" \
    "writer sleeping: $sleeping, restart rc: $rc"$'\n'"$(cat "$WORK/noidx.log")"
  wait_ready 60 || bail "server did not come back"
fi
xids=$(for _ in 1 2 3 4 5; do q "SELECT txid_current()" 2>&1; done | tr '\n' ' ')
echo "# note: xid of the crashed writer: ${noidx_xid:-?}, xids of the next 5 transactions: $xids"
out=$(q "SELECT count(*) FROM noidx" 2>&1)
if [[ "$out" == 0 ]]; then
  ok_if 0 "after 5 committed transactions its rows are still invisible"
else
  ok_if 1 "after 5 committed transactions its rows are still invisible" \
    "visible rows of the crashed writer: $out (of 10)"
fi

# amcheck's heapallindexed must actually look at the table's rows.
out=$(q "SET client_min_messages = debug1;
         SELECT bt_index_check('events_pkey', true);
         SELECT 'count ' || count(*) FROM events" 2>&1)
verified=$(sed -n 's/.*finished verifying presence of \([0-9]*\) tuples.*/\1/p' <<<"$out" | head -n 1)
visible=$(sed -n 's/^count \([0-9]*\)$/\1/p' <<<"$out")
if [[ -n "$verified" && "$verified" == "$visible" ]]; then
  ok_if 0 "amcheck heapallindexed verifies every row ($verified of $visible)"
else
  ok_if 1 "amcheck heapallindexed verifies every row" \
    "rows verified by bt_index_check(heapallindexed): '$verified', rows in the table: '$visible'"
fi

# Last: the clients saw only errors a crash explains.
unexpected=$(cat "$WORK"/c*.err 2>/dev/null | grep -E 'ERROR|FATAL|PANIC' |
  grep -vE 'terminating connection due to unexpected postmaster exit|terminating connection because of crash of another server process|the database system is (in recovery mode|starting up|shutting down|not yet accepting connections)|storage worker is not running|server closed the connection unexpectedly|connection to server .* failed|could not send data to server|no connection to the server' |
  sort | uniq -c | sort -rn | head -n 20)
errs_total=$(cat "$WORK"/c*.err 2>/dev/null | grep -cE 'ERROR|FATAL|PANIC')
if [[ -z "$unexpected" ]]; then
  ok_if 0 "load clients saw only crash/connection errors ($errs_total error lines)"
else
  ok_if 1 "load clients saw only crash/connection errors" "$unexpected"
fi

SUMMARY_LINES+=(
  "kill cycles run: $CYCLES_RUN ($CRASH_CYCLES with synchronous_commit=on, $CRASH_CYCLES_ASYNC with off)"
  "batches checked: $((BANK_BATCHES + LAST_BATCHES)) (rows: $((BANK_ROWS + LAST_ROWS)), in $((ROTATIONS + 1)) table(s)); acknowledged: $((BANK_SYNC_ACKED + SYNC_ACKED)) with synchronous_commit=on, $((BANK_ASYNC_ACKED + ASYNC_ACKED)) with off"
  "acknowledged batches lost with synchronous_commit=on: $((BANK_LOST_SYNC + LOST_SYNC))"
  "acknowledged batches lost with synchronous_commit=off: $((BANK_LOST_ASYNC + LOST_ASYNC)) (allowed)"
)
finish
