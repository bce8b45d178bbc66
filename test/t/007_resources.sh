#!/usr/bin/env bash
# 007_resources.sh: resource bounds of ledger_am (TAP output).
#
#   bash test/t/007_resources.sh                       (as root; CI mode, ~1.5 min)
#   RESOURCE_ROWS=5000000 bash test/t/007_resources.sh (the issue's 5M-row load, ~10 min)
#
# Starts a throwaway cluster (port 54387, T007_PORT to override) with
# shared_preload_libraries='ledger_am' and max_connections = 120, and checks:
#   bulk load  one transaction COPYs RESOURCE_ROWS (default 1,000,000) rows
#              into the canonical events table (event_id and ts given, so COPY
#              takes its bulk path); the loading backend's and the storage
#              worker's memory is sampled every 0.2 s from /proc/PID/status
#              (VmHWM = peak RSS, RssAnon = private memory, RssShmem = shared
#              buffers and channel touched) and must stay bounded
#              (BACKEND_MAX_ANON_MB=100, BACKEND_MAX_HWM_MB=300,
#              WORKER_MAX_MB=768); the transaction sees its own N rows, and
#              after its ROLLBACK nothing is visible (seq and index scans)
#              while stored_rows still counts N;
#   VACUUM     reclaims the N rows while 100 concurrent pgbench clients
#   + pgbench  (PGBENCH_CLIENTS, PGBENCH_SECONDS=10) append and read (an
#              account's last 10 events through a range scan, a point lookup):
#              stored_rows drops to the rows committed since, table_size after
#              compact shrinks (time and bytes are printed); with
#              maintenance_work_mem = 1MB, VACUUM's backend must keep its
#              private memory within maintenance_work_mem + 4 MB, as heap's
#              VACUUM does; pgbench ends with 0 failed transactions, every
#              committed append is there, and the same worker keeps serving;
#   abandoned  250 cursors opened, fetched from, closed; 200 LIMIT 1 queries (seq,
#   scans      index and range scans); 20 psql clients killed with SIGKILL
#              mid-scan; 20 scans cancelled by statement_timeout; 10
#              pg_terminate_backend() mid-scan -- while 2 pgbench clients keep
#              appending: the worker's RSS (VmRSS) may grow by at most
#              WORKER_GROWTH_MB (64) and its open files by at most 16, the
#              cluster still answers correctly, and the server log shows no
#              PANIC or crash.
# KEEP_CLUSTER=1 keeps the data directory. Exits non-zero on any failure.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"
HELPERS=$REPO_ROOT/test/t/007_resources

PORT=${T007_PORT:-54387}
ROWS=${RESOURCE_ROWS:-1000000}
BACKEND_MAX_ANON_MB=${BACKEND_MAX_ANON_MB:-100}
BACKEND_MAX_HWM_MB=${BACKEND_MAX_HWM_MB:-300}
WORKER_MAX_MB=${WORKER_MAX_MB:-768}
WORKER_GROWTH_MB=${WORKER_GROWTH_MB:-64}
CLIENTS=${PGBENCH_CLIENTS:-100}
SECONDS_BENCH=${PGBENCH_SECONDS:-10}
SCAN_ROWS=${SCAN_ROWS:-200000}
PLAN=15
TESTNO=0
FAILED=0
DIR=""
WORK=""
BG_PIDS=()
COLS="event_id, event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount, currency, payload, metadata"

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
finish() {
  if (( FAILED > 0 )) && [[ -n "$DIR" && -f "$DIR/server.log" ]]; then
    echo "# last lines of $DIR/server.log:"
    grep -v 'connection to client lost\|could not send data to client' "$DIR/server.log" |
      tail -n 30 | sed 's/^/#   /'
  fi
  tap_exit 007_resources
}
# kill_tree PID: stop PID and every process below it (processes this script
# started, e.g. pgbench under runuser), by pid.
kill_tree() {
  local p c
  for p in "$@"; do
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill_tree "$c"; done
    kill "$p" 2>/dev/null
  done
}
cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do
    kill_tree "$p"; wait "$p" 2>/dev/null
  done
  [[ -n "$WORK" ]] && rm -rf -- "$WORK"
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_drop_cluster "$DIR" "cluster kept in $DIR"
  fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# status_kb PID FIELD: a field of /proc/PID/status in kB (empty if gone).
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# worker_pid: the ledger_am storage worker of this cluster (a child of its
# postmaster).
worker_pid() {
  local pm
  pm=$(head -n 1 "$DIR/postmaster.pid" 2>/dev/null) || return 1
  ps -o pid=,args= --ppid "$pm" | awk '/ledger_am storage worker/ { print $1; exit }'
}
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# backend_of APP: pid of the backend whose application_name is APP (waits 30 s).
backend_of() {
  local pid
  for _ in $(seq 1 300); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'" 2>/dev/null)
    [[ -n "$pid" ]] && { echo "$pid"; return 0; }
    sleep 0.1
  done
  return 1
}

# sample_peaks OUT PID...: until killed, every 0.2 s write to OUT one line per
# PID: "pid max_VmHWM max_RssAnon max_VmRSS RssShmem_at_max_VmRSS" (kB).
sample_peaks() {
  local out=$1; shift
  declare -A hwm=() anon=() rss=() shm=()
  local p v
  for p in "$@"; do hwm[$p]=0; anon[$p]=0; rss[$p]=0; shm[$p]=0; done
  while :; do
    for p in "$@"; do
      v=$(status_kb "$p" VmHWM); [[ -n "$v" ]] && (( v > hwm[$p] )) && hwm[$p]=$v
      v=$(status_kb "$p" RssAnon); [[ -n "$v" ]] && (( v > anon[$p] )) && anon[$p]=$v
      v=$(status_kb "$p" VmRSS)
      if [[ -n "$v" ]] && (( v > rss[$p] )); then rss[$p]=$v; shm[$p]=$(status_kb "$p" RssShmem); fi
    done
    { for p in "$@"; do echo "$p ${hwm[$p]} ${anon[$p]} ${rss[$p]} ${shm[$p]}"; done; } >"$out.tmp"
    mv -f "$out.tmp" "$out"
    sleep 0.2
  done
}
mb() { echo $(( ($1 + 1023) / 1024 )); }

echo "1..$PLAN"

# 1: cluster.
WORK=$(mktemp -d /tmp/ledger_am_t007w.XXXXXX) && chmod 755 "$WORK" || bail "mktemp failed"
DIR=$(mktemp -d /tmp/ledger_am_t007.XXXXXX) || bail "mktemp failed"
rmdir "$DIR"
if out=$(cluster_init "$DIR" "$PORT" ledger_am 2>&1); then
  cat >>"$DIR/postgresql.conf" <<CONF
max_connections = 120
max_wal_size = 2GB
autovacuum = off
log_min_messages = warning
CONF
  out=$(cluster_start "$DIR" 2>&1)
fi
if [[ -f "$DIR/postmaster.pid" ]] && q "SELECT 1" >/dev/null 2>&1; then
  ok_if 0 "cluster starts (port $PORT, max_connections 120)"
else
  ok_if 1 "cluster starts (port $PORT, max_connections 120)" "$out"
  bail "cluster did not start"
fi
cluster_env "$DIR"

# 2: tables.
out=$(cluster_psql_retry "$DIR" 60 "BEGIN;
  CREATE EXTENSION ledger_am;
  SELECT ledger_am.create_events_table('events');
  CREATE TABLE scanme (id bigint PRIMARY KEY, acct int NOT NULL, ts timestamptz NOT NULL, pad text)
    USING ledger_am;
  CREATE INDEX ON scanme USING ledger_range (acct, ts);
  COMMIT;" -d postgres -qAt 2>&1)
WPID=$(worker_pid)
if [[ $? -eq 0 && -n "$WPID" ]]; then
  ok_if 0 "events and scanme tables; storage worker is pid $WPID"
else
  ok_if 1 "events and scanme tables; storage worker found" "$out"
  bail "no tables or no worker"
fi
diag "worker at start: VmRSS $(mb "$(status_kb "$WPID" VmRSS)") MB, RssAnon $(mb "$(status_kb "$WPID" RssAnon)") MB, $(fd_count "$WPID") open files"

# 3-5: one transaction COPYs ROWS rows; memory sampled; count inside; ROLLBACK.
t0=$(now)
{
  awk -v from=1 -v to="$ROWS" -f "$HELPERS/gen_events.awk" |
    cluster_psql "$DIR" -d "dbname=postgres application_name=t007_loader" -qAt -v ON_ERROR_STOP=1 \
      -c "BEGIN" -c "COPY events ($COLS) FROM STDIN (FORMAT csv)" \
      -c "SELECT 'inside=' || count(*) FROM events" -c "ROLLBACK" -c "SELECT pg_sleep(0.6)"
} >"$WORK/load.out" 2>&1 &
LOAD_PID=$!; BG_PIDS+=("$LOAD_PID")
BPID=$(backend_of t007_loader)
sample_peaks "$WORK/peaks" "$BPID" "$WPID" &
SAMPLER=$!; BG_PIDS+=("$SAMPLER")
wait "$LOAD_PID"; load_rc=$?
sleep 0.3
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
load_time=$(since "$t0")
read -r _ b_hwm b_anon b_rss b_shm < <(grep "^$BPID " "$WORK/peaks")
read -r _ w_hwm w_anon w_rss w_shm < <(grep "^$WPID " "$WORK/peaks")
inside=$(sed -n 's/^inside=//p' "$WORK/load.out")
diag "COPY of $ROWS rows in one transaction + count + ROLLBACK: ${load_time} s"
diag "loading backend $BPID: peak RSS (VmHWM) $(mb "$b_hwm") MB, peak private (RssAnon) $(mb "$b_anon") MB, shared touched $(mb "$b_shm") MB"
diag "storage worker $WPID: peak RSS (VmHWM) $(mb "$w_hwm") MB, peak private (RssAnon) $(mb "$w_anon") MB, shared touched $(mb "$w_shm") MB"
if [[ $load_rc -eq 0 && "$inside" == "$ROWS" ]]; then
  ok_if 0 "one transaction COPYs $ROWS rows and sees all of them before ROLLBACK"
else
  ok_if 1 "one transaction COPYs $ROWS rows and sees all of them before ROLLBACK" "rc $load_rc"$'\n'"$(tail -n 5 "$WORK/load.out")"
fi
if [[ -n "$b_anon" ]] && (( $(mb "$b_anon") < BACKEND_MAX_ANON_MB && $(mb "$b_hwm") < BACKEND_MAX_HWM_MB )); then
  ok_if 0 "loading backend memory bounded: private $(mb "$b_anon") MB < $BACKEND_MAX_ANON_MB MB, peak RSS $(mb "$b_hwm") MB < $BACKEND_MAX_HWM_MB MB"
else
  ok_if 1 "loading backend memory bounded (private < $BACKEND_MAX_ANON_MB MB, peak RSS < $BACKEND_MAX_HWM_MB MB)" \
    "private $(mb "${b_anon:-0}") MB, peak RSS $(mb "${b_hwm:-0}") MB"
fi
if [[ -n "$w_hwm" ]] && (( $(mb "$w_hwm") < WORKER_MAX_MB )); then
  ok_if 0 "storage worker peak RSS $(mb "$w_hwm") MB < $WORKER_MAX_MB MB (256 MB block cache + 2 x 64 MB memtables + channel)"
else
  ok_if 1 "storage worker peak RSS < $WORKER_MAX_MB MB" "peak RSS $(mb "${w_hwm:-0}") MB"
fi

# 6: nothing visible after ROLLBACK; the rows are still stored.
after=$(q "SELECT count(*) FROM events;
           SET enable_seqscan = off; SET enable_bitmapscan = off;
           SELECT count(*) FROM events WHERE event_id >= '00000000-0000-0000-0000-000000000000';
           SELECT count(*) FROM events WHERE aggregate_id = '00000000-0000-4000-8000-000000000007';
           SELECT ledger_am.stored_rows('events');" 2>&1 | tr '\n' ' ')
if [[ "$after" == "0 0 0 $ROWS " ]]; then
  ok_if 0 "after ROLLBACK nothing is visible (seq scan, two index scans); stored_rows still $ROWS"
else
  ok_if 1 "after ROLLBACK nothing is visible; stored_rows still $ROWS" "seq, pk, unique, stored_rows: $after"
fi

# 7-10: VACUUM reclaims them (its memory must respect maintenance_work_mem)
# while 100 concurrent pgbench clients append and read for SECONDS_BENCH s.
cat >"$WORK/bench.sql" <<'SQL'
\set acct random(1, 500)
BEGIN;
INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, ts, debit_account,
                    credit_account, amount, currency, metadata)
  VALUES (ledger_am.uuid_v7(), 'bench', gen_random_uuid(), 1, clock_timestamp(), :acct,
          :acct + 1000, 1, 'EUR', '{"source": "pgbench"}');
SELECT count(*) FROM (SELECT 1 FROM events WHERE debit_account = :acct OR credit_account = :acct
                      ORDER BY ts DESC LIMIT 10) s;
SELECT count(*) FROM scanme WHERE id = :acct;
COMMIT;
SQL
chmod 644 "$WORK/bench.sql"
# scanme: SCAN_ROWS rows of ~150 bytes for the scan tests (and pgbench's point lookups)
awk -v n="$SCAN_ROWS" 'BEGIN { for (i = 1; i <= n; i++)
    printf "%d,%d,2024-01-01 00:00:00+00,row %d %s\n", i, i % 500, i,
      "................................................................................................................" }' |
  cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 -c "COPY scanme FROM STDIN (FORMAT csv)" \
    >"$WORK/scanme.out" 2>&1 || diag "loading scanme failed: $(cat "$WORK/scanme.out")"
q "SELECT ledger_am.compact('events')" >/dev/null
bytes_before=$(q "SELECT ledger_am.table_size('events')")
du_before=$(du -sb "$DIR/ledger_am" | cut -f1)
t0=$(now)
cluster_psql "$DIR" -d "dbname=postgres application_name=t007_vacuum" -qAt -v ON_ERROR_STOP=1 \
  -c "SET maintenance_work_mem = '1MB'" -c "SELECT pg_sleep(0.5)" -c "VACUUM events" \
  -c "SELECT pg_sleep(0.5)" >"$WORK/vacuum.out" 2>&1 &
VAC_PID=$!; BG_PIDS+=("$VAC_PID")
VPID=$(backend_of t007_vacuum)
sleep 0.2
vac_base=$(status_kb "$VPID" RssAnon)
sample_peaks "$WORK/vpeaks" "$VPID" &
SAMPLER=$!; BG_PIDS+=("$SAMPLER")

w_before_bench=$(status_kb "$WPID" VmRSS)
tb0=$(now)
cluster_as_pg pgbench -h "$CLUSTER_SOCKDIR" -p "$PORT" -U postgres -n -c "$CLIENTS" -j 4 \
  -T "$SECONDS_BENCH" -f "$WORK/bench.sql" postgres >"$WORK/bench.out" 2>&1
bench_rc=$?
bench_time=$(since "$tb0")

wait "$VAC_PID"; vac_rc=$?
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
vac_time=$(since "$t0")
read -r _ _ vac_anon _ _ < <(grep "^$VPID " "$WORK/vpeaks")
q "SELECT ledger_am.compact('events')" >/dev/null
vac_after=$(q "SELECT ledger_am.stored_rows('events') || ' ' || ledger_am.table_size('events') || ' ' || count(*) FROM events")
read -r stored_after bytes_after vis_after <<<"$vac_after"
du_after=$(du -sb "$DIR/ledger_am" | cut -f1)
diag "VACUUM of $ROWS aborted rows (100 clients working meanwhile): ${vac_time} s; stored_rows $ROWS -> $stored_after (= $vis_after committed since); table_size $bytes_before -> $bytes_after bytes; \$PGDATA/ledger_am $du_before -> $du_after bytes"
if [[ $vac_rc -eq 0 && -n "$stored_after" && "$stored_after" == "$vis_after" ]] && (( bytes_after < bytes_before )); then
  ok_if 0 "VACUUM reclaims the rolled-back rows: stored_rows = visible rows ($stored_after), table_size $bytes_before -> $bytes_after bytes"
else
  ok_if 1 "VACUUM reclaims the rolled-back rows" "rc $vac_rc; stored/bytes/visible: $vac_after; before $bytes_before"$'\n'"$(cat "$WORK/vacuum.out")"
fi
growth=$(( ${vac_anon:-0} - ${vac_base:-0} ))
diag "VACUUM backend private memory: $(mb "${vac_base:-0}") MB before, peak $(mb "${vac_anon:-0}") MB (+$((growth / 1024)) MB) with maintenance_work_mem = 1MB"
if (( growth <= (1 + 4) * 1024 )); then
  ok_if 0 "VACUUM of $ROWS aborted rows stays within maintenance_work_mem (1 MB) + 4 MB"
else
  ok_if 1 "VACUUM of $ROWS aborted rows stays within maintenance_work_mem (1 MB) + 4 MB" \
    "its private memory grew by $((growth / 1024)) MB (8 bytes per removed row, unbounded)"
fi

processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/bench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/bench.out")
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/bench.out")
appended=$(q "SELECT count(*) FROM events WHERE event_type = 'bench'")
diag "pgbench: $CLIENTS clients, ${bench_time} s: $processed transactions, $failed failed, $tps tps; worker VmRSS $(mb "$w_before_bench") -> $(mb "$(status_kb "$WPID" VmRSS)") MB"
if [[ $bench_rc -eq 0 && "$failed" == 0 && -n "$processed" && "$processed" -gt 0 && "$appended" == "$processed" ]]; then
  ok_if 0 "$CLIENTS concurrent clients: $processed transactions, 0 failed, every append stored ($appended)"
else
  ok_if 1 "$CLIENTS concurrent clients append and read with 0 failed transactions" \
    "rc $bench_rc processed '$processed' failed '$failed' appended '$appended'"$'\n'"$(grep -i 'error\|fatal\|abort' "$WORK/bench.out" | head -n 10)"
fi
for _ in $(seq 1 50); do
  left=$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
  [[ "$left" == 0 ]] && break
  sleep 0.1
done
out=$(q "SELECT count(*) FROM events; SELECT count(*) FROM scanme;" 2>&1 | tr '\n' ' ')
if [[ "$left" == 0 && "$out" == "$appended $SCAN_ROWS " && "$(worker_pid)" == "$WPID" ]]; then
  ok_if 0 "after the clients left the same worker serves new sessions (counts $out)"
else
  ok_if 1 "after the clients left the same worker serves new sessions" "left $left, counts $out, worker $(worker_pid) (was $WPID)"
fi
t0=$(now)
q "SELECT * FROM events ORDER BY ts LIMIT 1" >/dev/null
diag "range scan 'SELECT * FROM events ORDER BY ts LIMIT 1' after the rollback + VACUUM: $(since "$t0") s (lingering range keys of the removed rows are skipped)"

# 11-14: abandoned scans, with 2 clients appending meanwhile.
cat >"$WORK/append.sql" <<'SQL'
INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, ts, metadata)
  VALUES (ledger_am.uuid_v7(), 'background', gen_random_uuid(), 1, clock_timestamp(), '{}');
SQL
chmod 644 "$WORK/append.sql"
q "SELECT count(*) FROM scanme; SELECT count(*) FROM scanme WHERE pad LIKE 'row 1%';" >/dev/null
w_rss0=$(status_kb "$WPID" VmRSS); w_fd0=$(fd_count "$WPID")
cluster_as_pg pgbench -h "$CLUSTER_SOCKDIR" -p "$PORT" -U postgres -n -c 2 -T 600 \
  -f "$WORK/append.sql" postgres >"$WORK/append.out" 2>&1 &
APPEND_PID=$!; BG_PIDS+=("$APPEND_PID")
t0=$(now)

# 11: cursors and LIMITs
{
  for i in $(seq 1 200); do
    echo "BEGIN; DECLARE c$i CURSOR FOR SELECT * FROM scanme; FETCH 1 FROM c$i; CLOSE c$i; COMMIT;"
  done
  echo "BEGIN;"
  for i in $(seq 1 50); do echo "DECLARE k$i NO SCROLL CURSOR FOR SELECT * FROM scanme ORDER BY id; FETCH 2 FROM k$i;"; done
  echo "COMMIT;"
  for i in $(seq 1 50); do
    echo "SELECT id FROM scanme LIMIT 1;"
    echo "SELECT id FROM scanme WHERE id > $((i * 100)) ORDER BY id LIMIT 1;"
    echo "SELECT id FROM scanme WHERE acct = $i ORDER BY ts DESC LIMIT 1;"
    echo "SELECT * FROM scanme WHERE acct = $i AND ts >= '2024-01-01' ORDER BY ts LIMIT 1;"
  done
} >"$WORK/cursors.sql"
chmod 644 "$WORK/cursors.sql"
out=$(cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 -f "$WORK/cursors.sql" 2>&1)
rc=$?
lines=$(wc -l <<<"$out")
if [[ $rc -eq 0 && "$out" != *ERROR* ]]; then
  ok_if 0 "250 cursors opened, fetched from and abandoned; 200 LIMIT 1 queries (seq, btree, range scans)"
else
  ok_if 1 "250 cursors opened, fetched from and abandoned; 200 LIMIT 1 queries" "rc $rc, $lines lines"$'\n'"$(grep ERROR <<<"$out" | head -n 5)"
fi

# 12: clients killed mid-scan, scans cancelled, backends terminated
killed_ok=0
for i in $(seq 1 20); do
  cluster_as_pg timeout -s KILL "0.$(( 3 + i % 5 ))" psql -X -h "$CLUSTER_SOCKDIR" -p "$PORT" -U postgres \
    -d "dbname=postgres application_name=t007_kill" \
    -c "SELECT s.* FROM scanme s, generate_series(1, 20) g" >/dev/null 2>&1
  [[ $? -eq 137 ]] && killed_ok=$((killed_ok + 1))
done
cancel_out=$( { echo "SET statement_timeout = '150ms';"
  for i in $(seq 1 20); do echo "SELECT sum((SELECT count(*) FROM scanme s WHERE s.id <> g)) FROM generate_series(1, 50) g;"; done
  echo "RESET statement_timeout;"
  echo "SELECT 'after=' || count(*) FROM scanme;" ; } |
  cluster_psql "$DIR" -d postgres -qAt 2>&1)
n_cancel=$(grep -c 'canceling statement due to statement timeout' <<<"$cancel_out")
n_term=0
for i in $(seq 1 10); do
  cluster_psql "$DIR" -d "dbname=postgres application_name=t007_term" -qAt \
    -c "SELECT sum((SELECT count(*) FROM scanme s WHERE s.id <> g)) FROM generate_series(1, 100) g" >/dev/null 2>&1 &
  tp=$!
  tb=$(backend_of t007_term)
  sleep 0.$(( 2 + i % 4 ))
  [[ "$(q "SELECT pg_terminate_backend($tb)")" == t ]] && n_term=$((n_term + 1))
  wait "$tp" 2>/dev/null
done
for _ in $(seq 1 100); do
  [[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('t007_kill', 't007_term')")" == 0 ]] && break
  sleep 0.1
done
gone=$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('t007_kill', 't007_term')")
after_scan=$(sed -n 's/^after=//p' <<<"$cancel_out")
diag "abandoned: $killed_ok psql clients killed mid-scan, $n_cancel scans cancelled by statement_timeout, $n_term backends terminated mid-scan"
if (( killed_ok == 20 && n_cancel == 20 && n_term == 10 )) && [[ "$gone" == 0 && "$after_scan" == "$SCAN_ROWS" ]]; then
  ok_if 0 "20 clients killed, 20 scans cancelled, 10 backends terminated mid-scan; the cancelling session then counts $after_scan rows"
else
  ok_if 1 "20 clients killed, 20 scans cancelled, 10 backends terminated mid-scan" \
    "killed $killed_ok cancelled $n_cancel terminated $n_term leftover backends $gone count after cancels '$after_scan'"$'\n'"$(grep -v canceling <<<"$cancel_out" | head -n 5)"
fi
kill_tree "$APPEND_PID"; wait "$APPEND_PID" 2>/dev/null
phase_time=$(since "$t0")

# 13: the worker holds nothing for abandoned scans.
sleep 1
w_rss1=$(status_kb "$WPID" VmRSS); w_fd1=$(fd_count "$WPID")
diag "worker over the abandoned-scan phase (${phase_time} s, 2 clients appending): VmRSS $(mb "$w_rss0") -> $(mb "$w_rss1") MB, open files $w_fd0 -> $w_fd1"
if [[ -n "$w_rss1" ]] && (( w_rss1 - w_rss0 < WORKER_GROWTH_MB * 1024 && w_fd1 - w_fd0 <= 16 )); then
  ok_if 0 "worker RSS grew by $(( (w_rss1 - w_rss0) / 1024 )) MB (< $WORKER_GROWTH_MB MB), open files by $((w_fd1 - w_fd0)) (<= 16)"
else
  ok_if 1 "worker RSS growth < $WORKER_GROWTH_MB MB and open files growth <= 16" \
    "VmRSS $(mb "$w_rss0") -> $(mb "${w_rss1:-0}") MB, files $w_fd0 -> $w_fd1"
fi

# 14: the cluster still answers correctly.
bg=$(q "SELECT count(*) FROM events WHERE event_type = 'background'")
out=$(q "SELECT count(*) FROM scanme;
         SET enable_seqscan = off; SELECT count(*) FROM scanme WHERE id > 0;
         SELECT count(*) FROM (SELECT * FROM scanme WHERE acct = 7 ORDER BY ts DESC) s;
         RESET enable_seqscan;
         SELECT count(*) FROM events WHERE event_type IN ('bench', 'background');" 2>&1 | tr '\n' ' ')
want="$SCAN_ROWS $SCAN_ROWS $(( SCAN_ROWS / 500 )) $(( appended + bg )) "
if [[ "$out" == "$want" && "$(worker_pid)" == "$WPID" ]]; then
  ok_if 0 "afterwards seq, index and range scans agree; $bg background appends kept; same worker"
else
  ok_if 1 "afterwards seq, index and range scans agree; same worker" "got '$out' want '$want'; worker $(worker_pid)"
fi

# 15: no crash in the server log.
bad=$(grep -E 'PANIC|terminated by signal|server process .* was terminated|TRAP:|storage worker .* exited' "$DIR/server.log" | head -n 5)
ok_if "$([[ -z "$bad" ]] && echo 0 || echo 1)" "server log: no PANIC, no crashed process" "$bad"

finish
