#!/usr/bin/env bash
# 015_row_dictionary.sh: ledger_am.row_compression = zstd_row (rows
# compressed one by one with a dictionary trained per table) keeps every row,
# across kill -9 crashes under load and switches of the setting (TAP output).
#
#   bash test/t/015_row_dictionary.sh        (as root; the cluster runs as postgres; ~1 min)
#
# Starts a throwaway cluster (port 54395, T015_PORT to override) with
# row_compression = zstd_row and 4 MB memtables (so rows reach files, where
# they are compressed, while the load runs), creates the canonical events
# table and loads 40,000 events of ~1 kB. Checks:
#   3 the rows are there;
#   4 the storage worker trained the table's dictionary (its RocksDB LOG says
#     so, ledger_am.row_dictionary_size reports it) and 5 the table takes less than 70% of the bytes of its raw rows
#     (stored uncompressed, with keys and range keys, it would take more);
#   6-7 a load client commits batches of 200 events, each tagged with its
#     batch number, and logs a batch only after its COMMIT returned; mid-load
#     the storage worker (6), then every process of the cluster (7), is
#     killed with SIGKILL: after the restart every acknowledged batch is
#     there completely, no batch partially, and the rows loaded before are
#     unchanged (count, sums of amounts and of payload and metadata hashes);
#   8 switched to row_compression = zstd, ledger_am.compact restores the
#     rows to plain form and 9 back in zstd_row compresses them again, with
#     the same rows each time, also after a restart (10).
# Only processes of this cluster are signalled (running as postgres, working
# directory the data directory). KEEP_CLUSTER=1 keeps the data directory.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T015_PORT:-54395}
PLAN=10
TESTNO=0
FAILED=0
DIR=""
LOAD_PID=""
ACKS=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"

finish() { tap_exit 015_row_dictionary; }

cleanup() {
  stop_load
  [[ -n "$ACKS" ]] && rm -f "$ACKS" "$ACKS.stop"
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_server_log "$DIR" 30
    tap_drop_cluster "$DIR" "cluster kept in $DIR"
  fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"$1"; }
q_retry() { cluster_psql_retry "$DIR" 60 "$1" -d postgres -qAt 2>&1 | tail -n 1; }

# worker_pid, postmaster_pid, kill_all_cluster, wait_gone, wait_ready,
# wait_crash_restart: see crash.sh.
# shellcheck source=crash.sh
source "$REPO_ROOT/test/t/crash.sh"

# events_sql FIRST COUNT BATCH: an INSERT of COUNT events numbered from
# FIRST, ~1 kB each, tagged with BATCH in metadata.
events_sql() {
  local payload="jsonb_build_object('memo', 'invoice settlement ' || g, 'reference', 'INV-2026-' || g,
       'iban', 'DE' || lpad(((g::bigint * 7919) % 1000000007)::text, 20, '0'),
       'lines', jsonb_build_array(md5(g::text), md5((g + 1)::text), md5((g * 3)::text)),
       'counterparty', jsonb_build_object('name', 'Acme Trading ' || (g % 97), 'country', 'DE'),
       'note', 'settled by the nightly batch run of ' || (g % 28 + 1) || ' March')"
  cat <<SQL
INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account,
                    amount, currency, payload, metadata)
SELECT 'posted', md5('agg' || (g / 10))::uuid, g % 10 + 1,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
       g % 300, (g * 7 + 13) % 300, (g % 1000) + 0.25, 'EUR',
       $payload,
       jsonb_build_object('batch', $3)
FROM generate_series($1, $1 + $2 - 1) g;
SQL
}

DIGEST="SELECT count(*) || ' ' || sum(amount) || ' ' || sum(hashtext(payload::text)) || ' '
               || sum(hashtext(metadata::text)) FROM events WHERE (metadata->>'batch')::int < 0"

# start_load FIRST_BATCH: a client committing batches of 200 events until
# told to stop; it appends each batch number to $ACKS once COMMIT returned.
start_load() {
  rm -f "$ACKS.stop"
  (
    b=$1
    while [[ ! -e "$ACKS.stop" ]]; do
      if cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 \
           -c "$(events_sql $(( 1000000 + b * 200 )) 200 "$b")" >/dev/null 2>&1; then
        echo "$b" >>"$ACKS"
      else
        sleep 0.2
      fi
      b=$(( b + 1 ))
    done
  ) &
  LOAD_PID=$!
}

stop_load() {
  if [[ -n "$LOAD_PID" ]]; then
    [[ -n "$ACKS" ]] && touch "$ACKS.stop"
    wait "$LOAD_PID" 2>/dev/null
    LOAD_PID=""
  fi
}

# wait_acks N: until the client has N more acknowledged batches (60 s at most).
wait_acks() {
  local want=$(( $(wc -l <"$ACKS") + $1 )) deadline=$(( $(date +%s) + 60 ))
  while (( $(wc -l <"$ACKS") < want && $(date +%s) < deadline )); do sleep 0.1; done
}

# check_batches DESCRIPTION: every acknowledged batch complete, none
# partial, the rows loaded first unchanged.
check_batches() {
  local acked partial missing digest
  acked=$(sort -n "$ACKS" | paste -sd, -)
  partial=$(q_retry "SELECT count(*) FROM (SELECT metadata->>'batch' FROM events
                     WHERE (metadata->>'batch')::int >= 0 GROUP BY 1 HAVING count(*) <> 200) p")
  missing=$(q_retry "SELECT count(*) FROM unnest('{${acked}}'::int[]) a
                     WHERE NOT EXISTS (SELECT FROM events WHERE (metadata->>'batch')::int = a)")
  digest=$(q_retry "$DIGEST")
  expect_eq "$1: $(wc -l <"$ACKS") acknowledged batches all there, none partial, first rows unchanged" \
    "acknowledged $([[ -s "$ACKS" ]] && echo some || echo none), partial $partial, missing $missing, $digest" \
    "acknowledged some, partial 0, missing 0, $WANT"
}

echo "1..$PLAN"

# 1: cluster.
DIR=$(mktemp -d /tmp/ledger_am_t015.XXXXXX) || bail "mktemp failed"
ACKS=$(mktemp /tmp/ledger_am_t015_acks.XXXXXX) || bail "mktemp failed"
tap_start_cluster "cluster with row_compression = zstd_row, 4 MB memtables starts (port $PORT)" \
  "ledger_am.row_compression = zstd_row" "ledger_am.write_buffer_mb = 4"

# 2: extension and events table.
out=$(cluster_psql_retry "$DIR" 60 "CREATE EXTENSION ledger_am;
        SELECT ledger_am.create_events_table('events');" -d postgres -qAt 2>&1)
ok_if $? "CREATE EXTENSION ledger_am; ledger_am.create_events_table('events')" "$out"

# 3: 40,000 events in 20 transactions (batches -20 .. -1).
err=""
for (( b = 0; b < 20; b++ )); do
  out=$(q "$(events_sql $(( b * 2000 + 1 )) 2000 $(( b - 20 )))" 2>&1) || err+="$out"$'\n'
done
WANT=$(q "$DIGEST" 2>&1)
expect_eq "40,000 events committed in 20 transactions" "${err}$(cut -d' ' -f1 <<<"$WANT")" "40000"

# 4-5: the dictionary, and what it saves.
out=$(q "SELECT ledger_am.compact('events');
         SELECT ledger_am.table_size('events') < sum(pg_column_size(e.*)) * 0.7,
                ledger_am.table_size('events'), sum(pg_column_size(e.*)) FROM events e" 2>&1 | tail -n 1)
trained=$(grep -ho "row dictionary of table [0-9/]* trained from [0-9]* rows" "$DIR"/ledger_am/LOG* | head -n 1)
dict=$(q "SELECT ledger_am.row_dictionary_size('events')" 2>&1)
ok_if "$([[ -n "$trained" && "$dict" =~ ^[0-9]+$ && "$dict" -gt 16384 ]]; echo $?)" \
  "the storage worker trained the table's row dictionary ($trained; row_dictionary_size $dict)" "$dict"
ok_if "$([[ "$out" == t\|* ]]; echo $?)" "rows compressed: table_size below 70% of the raw rows' bytes (uncompressed: above 100%)" "$out"

# 6: kill -9 of the storage worker mid-load.
start_load 0
wait_acks 30
worker=$(worker_pid)
[[ -n "$worker" ]] && kill -9 "$worker"
stop_load
wait_crash_restart "$worker" "$worker" 60
check_batches "storage worker killed (pid ${worker:-none})"

# 7: kill -9 of every process of the cluster mid-load.
start_load 10000
wait_acks 30
pm=$(postmaster_pid)
kill_all_cluster
stop_load
wait_gone "$pm" 60
cluster_start "$DIR" >/dev/null 2>&1
wait_ready 60
check_batches "every process killed (postmaster ${pm:-none})"

# 8-10: rows back to plain form and compressed again, same rows.
ALL="SELECT count(*) || ' ' || sum(amount) || ' ' || sum(hashtext(payload::text)) FROM events"
want_all=$(q_retry "$ALL")
restart_with "ledger_am.row_compression = zstd"
q_retry "SELECT ledger_am.compact('events')" >/dev/null
expect_eq "row_compression = zstd: compacted, the same rows" "$(q_retry "$ALL")" "$want_all"
restart_with "ledger_am.row_compression = zstd_row"
q_retry "SELECT ledger_am.compact('events')" >/dev/null
expect_eq "back to zstd_row: compacted, the same rows" "$(q_retry "$ALL")" "$want_all"
restart_with
expect_eq "after a restart: the same rows" "$(q_retry "$ALL")" "$want_all"

finish
