#!/usr/bin/env bash
# 017_rows_wal.sh: rows logged in Postgres' WAL (TAP output).
#
#   bash test/t/017_rows_wal.sh        (as root; the cluster runs as postgres)
#
# Starts a throwaway cluster (port 54347, T017_PORT to override) with
# shared_preload_libraries='ledger_am' and checks (docs/architecture.md,
# "One log for commits"):
#   2-4  the storage worker logs rows in the WAL: it says so, holds the
#        physical slot "ledger_am", and moves the slot's restart_lsn on as
#        RocksDB syncs (it keeps no more WAL than it may need)
#   5    without ledger_am writes the slot still follows other WAL (40 MB
#        of heap rows) to within a segment or two
#   6    after a checkpoint has removed the WAL at the log mark, kill -9 and
#        a restart replay from the slot and serve every row
#   7-8  a single-row transaction's row is logged; a 2,000-row one (rows of
#        ~0.7 kB) logs only its first ~16 kB, at most 40 rows, and syncs
#        RocksDB's WAL at commit for the rest (worker_stats wal_logged_rows
#        and wal_unlogged_rows)
#   9-12 an OS crash that loses RocksDB's unsynced writes loses no committed
#        row: with ledger_am.debug_logged_rows_skip_wal (logged row batches
#        bypass RocksDB's WAL, so kill -9 loses every unflushed one), rows of
#        committed transactions, single-row and multi-row, are all there after
#        kill -9 of every process, the worker says it replayed them, a
#        rolled-back transaction's rows stay invisible, and the table takes
#        new rows at new row ids
#   13-14 a clean stop leaves nothing to replay
#   15-17 ledger_am.log_rows_in_wal = off: the slot is dropped, commits sync
#        RocksDB's WAL, and kill -9 loses no committed row
#   18-19 wal_level = minimal: no slot possible, commits sync RocksDB's WAL,
#        rows survive kill -9; back to replica, the slot is made again
# Exits non-zero on any failure; KEEP_CLUSTER=1 keeps the data directory.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T017_PORT:-54347}
PLAN=19
TESTNO=0
FAILED=0
DIR=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"

finish() { tap_exit 017_rows_wal; }
tap_cleanup_on_exit 40

q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# shellcheck source=crash.sh
source "$REPO_ROOT/test/t/crash.sh"

# wait_worker: wait (60 s) until the storage worker answers a read.
wait_worker() {
  cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM events" -d postgres -qAt >/dev/null 2>&1
}

# crash_restart: kill -9 every process of the cluster, start it again with a
# fresh server log, wait for the worker.
crash_restart() {
  local pm
  pm=$(postmaster_pid)
  # shellcheck disable=SC2046
  kill -9 $(cluster_pids) 2>/dev/null
  kill_all_cluster
  [[ -n "$pm" ]] && wait_gone "$pm" 60
  : >"$DIR/server.log"
  cluster_start "$DIR" >/dev/null 2>&1
  wait_worker
}

# state: count, sum of amounts and of hashtext(event_id) of the visible rows.
state() { q "SELECT count(*) || ' ' || coalesce(sum(amount), 0) || ' ' || coalesce(sum(hashtext(event_id::text)), 0) FROM events"; }

# commit_batches TAG: 20 single-row transactions, one of 300 rows and a
# rolled-back one of 50, all tagged TAG in event_type.
commit_batches() {
  local i
  for i in $(seq 1 20); do
    q "INSERT INTO events (event_type, aggregate_id, aggregate_version, debit_account, credit_account, amount, currency)
       VALUES ('$1', gen_random_uuid(), 1, $i, $((i + 1)), $i.5, 'EUR')" >/dev/null || return 1
  done
  q "INSERT INTO events (event_type, aggregate_id, aggregate_version, debit_account, credit_account, amount, currency)
     SELECT '$1', gen_random_uuid(), 1, g, g + 7, g, 'EUR' FROM generate_series(1, 300) g" >/dev/null || return 1
  q "BEGIN; INSERT INTO events (event_type, aggregate_id, aggregate_version, debit_account, credit_account, amount, currency)
     SELECT '$1-rolled-back', gen_random_uuid(), 1, g, g, 1, 'EUR' FROM generate_series(1, 50) g; ROLLBACK" >/dev/null
}

echo "1..$PLAN"
DIR=$(mktemp -d /tmp/ledger_am_t017.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
rmdir "$DIR"
tap_start_cluster "cluster with shared_preload_libraries=ledger_am starts (port $PORT)"
cluster_psql_retry "$DIR" 60 "CREATE EXTENSION ledger_am; SELECT ledger_am.create_events_table('events');" \
  -d postgres -qAt >/dev/null 2>&1 || bail "no events table"

# 2-4: the slot.
if grep -q "ledger_am storage worker started (.*rows logged in Postgres. WAL, rows" "$DIR/server.log"; then
  ok_if 0 "the storage worker logs rows in the WAL"
else
  ok_if 1 "the storage worker logs rows in the WAL" "$(grep 'storage worker' "$DIR/server.log")"
fi
expect_eq "it holds the physical replication slot \"ledger_am\"" \
  "$(q "SELECT slot_type || ' ' || active || ' ' || (active_pid = (SELECT pid FROM pg_stat_activity WHERE backend_type = 'ledger_am storage worker'))::text
        FROM pg_replication_slots WHERE slot_name = 'ledger_am'")" "physical true true"
lsn0=$(q "SELECT pg_current_wal_lsn()")
commit_batches first || bail "inserts failed"
moved=""
for _ in $(seq 1 50); do
  moved=$(q "SELECT restart_lsn > '$lsn0'::pg_lsn AND restart_lsn <= pg_current_wal_lsn() FROM pg_replication_slots WHERE slot_name = 'ledger_am'")
  [[ "$moved" == t ]] && break
  sleep 0.1
done
expect_eq "the slot's restart_lsn moves past the rows RocksDB has synced" "$moved" "t"

# 5: other WAL only.
q "CREATE TABLE heap_only AS SELECT g, repeat(md5(g::text), 30) AS pad FROM generate_series(1, 40000) g" >/dev/null
lag=""
for _ in $(seq 1 100); do
  lag=$(q "SELECT pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots WHERE slot_name = 'ledger_am'")
  (( ${lag%.*} < 32 * 1024 * 1024 )) && break
  sleep 0.1
done
if (( ${lag%.*} < 32 * 1024 * 1024 )); then
  ok_if 0 "with only heap writes the slot keeps up (lags ${lag%.*} bytes)"
else
  ok_if 1 "with only heap writes the slot keeps up" "restart_lsn lags $lag bytes"
fi

# 6: the WAL at the mark is gone; a crash must not need it.
want=$(state)
q "SELECT pg_switch_wal(); CHECKPOINT;" >/dev/null
crash_restart
got=$(q "SELECT count(*) || ' ' || coalesce(sum(amount), 0) || ' ' || coalesce(sum(hashtext(event_id::text)), 0) FROM events" 2>&1)
if [[ "$got" == "$want" ]] && ! grep -q "could not find the WAL" "$DIR/server.log"; then
  ok_if 0 "kill -9 after the WAL at the log mark was removed: the worker starts from the slot, all rows there"
else
  ok_if 1 "kill -9 after the WAL at the log mark was removed: the worker starts from the slot, all rows there" \
    "got $got, want $want; $(grep -i 'ledger_am' "$DIR/server.log" | tail -5)"
fi

# 7-8: small transactions are logged, bulk ones mostly not.
stats() { q "SELECT string_agg(value::text, ' ' ORDER BY name) FROM ledger_am.worker_stats() WHERE name IN ('wal_logged_rows', 'wal_unlogged_rows')"; }
read -r l0 u0 <<<"$(stats)"
q "INSERT INTO events (event_type, aggregate_id, aggregate_version, debit_account, credit_account, amount, currency)
   VALUES ('one', gen_random_uuid(), 1, 1, 2, 1, 'EUR')" >/dev/null
read -r l1 u1 <<<"$(stats)"
expect_eq "a single-row transaction's row is logged in the WAL (logged, unlogged rows added)" \
  "$((l1 - l0)) $((u1 - u0))" "1 0"
q "INSERT INTO events (event_type, aggregate_id, aggregate_version, debit_account, credit_account, amount, currency, payload)
   SELECT 'bulk', gen_random_uuid(), 1, g, g + 1, g, 'EUR', jsonb_build_object('pad', repeat('x', 500))
   FROM generate_series(1, 2000) g" >/dev/null
read -r l2 u2 <<<"$(stats)"
if (( l2 - l1 >= 10 && l2 - l1 <= 40 && (l2 - l1) + (u2 - u1) == 2000 )); then
  ok_if 0 "a 2000-row transaction logs only its first $((l2 - l1)) rows"
else
  ok_if 1 "a 2000-row transaction logs only its first rows" "logged $((l2 - l1)), unlogged $((u2 - u1))"
fi

# 9-12: replay after an "OS crash".
restart_with "ledger_am.debug_logged_rows_skip_wal = on"
wait_worker
before=$(q "SELECT count(*) FROM events")
commit_batches second || bail "inserts failed"
want=$(state)
crash_restart
got=$(state)
expect_eq "every committed row is back after kill -9 lost RocksDB's unflushed rows ($want)" "$got" "$want"
if grep -q "replayed [0-9]* row batches" "$DIR/server.log"; then
  ok_if 0 "the storage worker replayed them from the WAL: $(grep -o 'replayed [0-9]* row batches ([0-9]* bytes)' "$DIR/server.log")"
else
  ok_if 1 "the storage worker replayed them from the WAL" "$(grep 'ledger_am' "$DIR/server.log")"
fi
expect_eq "rows committed before and after the restart: $before + 320, none rolled back" \
  "$(q "SELECT count(*) FILTER (WHERE event_type = 'second') || ' ' || count(*) FILTER (WHERE event_type LIKE '%rolled-back') || ' ' || count(*) FROM events")" \
  "320 0 $((before + 320))"
out=$(q "INSERT INTO events (event_type, aggregate_id, aggregate_version, debit_account, credit_account, amount, currency)
         VALUES ('after', gen_random_uuid(), 1, 1, 2, 1, 'EUR') RETURNING ctid > (SELECT max(ctid) FROM events WHERE event_type <> 'after')" 2>&1)
expect_eq "a new row gets a row id past every replayed one" "$out" "t"

# 13-14: a clean stop.
want=$(state)
restart_with ""
wait_worker
expect_eq "a clean stop keeps every row" "$(state)" "$want"
if grep -q "replayed" "$DIR/server.log"; then
  ok_if 1 "nothing to replay after a clean stop" "$(grep replayed "$DIR/server.log")"
else
  ok_if 0 "nothing to replay after a clean stop"
fi

# 15-17: log_rows_in_wal = off.
sed -i '/debug_logged_rows_skip_wal/d' "$DIR/postgresql.conf"
restart_with "ledger_am.log_rows_in_wal = off"
wait_worker
expect_eq "log_rows_in_wal = off drops the slot" "$(q "SELECT count(*) FROM pg_replication_slots")" "0"
if grep -q "ledger_am storage worker started (.*commits sync RocksDB's WAL, rows" "$DIR/server.log"; then
  ok_if 0 "with it off, commits sync RocksDB's WAL"
else
  ok_if 1 "with it off, commits sync RocksDB's WAL" "$(grep 'storage worker' "$DIR/server.log")"
fi
commit_batches third || bail "inserts failed"
want=$(state)
crash_restart
expect_eq "with it off, kill -9 keeps every committed row" "$(state)" "$want"

# 18-19: wal_level = minimal, then back.
sed -i '/log_rows_in_wal/d' "$DIR/postgresql.conf"
restart_with $'wal_level = minimal\nmax_wal_senders = 0'
wait_worker
commit_batches fourth || bail "inserts failed"
want=$(state)
crash_restart
got=$(state)
if [[ "$got" == "$want" ]] && grep -q "commits sync RocksDB's WAL" "$DIR/server.log"; then
  ok_if 0 "wal_level = minimal: no slot, commits sync RocksDB's WAL, kill -9 keeps every committed row"
else
  ok_if 1 "wal_level = minimal: no slot, commits sync RocksDB's WAL, kill -9 keeps every committed row" \
    "state $got, want $want; $(grep 'storage worker' "$DIR/server.log")"
fi
sed -i '/wal_level = minimal/d; /max_wal_senders = 0/d' "$DIR/postgresql.conf"
restart_with ""
wait_worker
expect_eq "back to wal_level = replica, the slot is made again" \
  "$(q "SELECT slot_name || ' ' || active FROM pg_replication_slots")" "ledger_am true"
finish
