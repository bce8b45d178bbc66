#!/usr/bin/env bash
# 001_restart.sh: crash-restart test for ledger_am (TAP output).
#
#   bash test/t/001_restart.sh        (as root; the cluster runs as postgres)
#
# Starts a throwaway cluster (port 54331, T001_PORT to override) with
# shared_preload_libraries='ledger_am', creates the canonical events table,
# commits 1000 rows in 4 transactions, leaves a second session with 500
# uncommitted rows sleeping inside its transaction, stops the server with
# `pg_ctl stop -m immediate` (crash), starts it again and checks that exactly
# the committed rows are there, through a sequential scan and through the
# unique indexes, and that the table keeps working after the crash. Then:
# a worker that cannot open its storage reports why (13-14), and the block
# cache's size follows shared_buffers unless set (15), and switching the row
# codec to lz4hc keeps every row readable, before and after compaction
# rewrites the table's files in it (16). ledger_am.digest of the 1000
# committed rows, taken before the crash, comes out the same after it (8)
# and after the codec switch (17).
# Prints "ok N - ..." / "not ok N - ..." lines and a summary; exits non-zero on
# any failure. Set KEEP_CLUSTER=1 to keep the data directory for inspection.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T001_PORT:-54331}
PLAN=17
TESTNO=0
FAILED=0
DIR=""
BG_PID=""
APP=t001_uncommitted

# ok_if STATUS DESCRIPTION [DIAG]: one TAP line; STATUS 0 means pass.
# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"

# expect_eq DESCRIPTION GOT WANT: pass when GOT equals WANT.


# finish: print the summary and exit with the overall status.
finish() { tap_exit 001_restart; }

# cleanup: stop the background session and the cluster, remove the data dir.
cleanup() {
  if [[ -n "$BG_PID" ]] && kill -0 "$BG_PID" 2>/dev/null; then
    kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null
  fi
  [[ -n "$DIR" ]] && rm -f "$DIR.bg.log"
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_server_log "$DIR" 30
    tap_drop_cluster "$DIR" "cluster kept in $DIR"
  fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

# wait_worker: after a server start, wait (up to 60 s) until the ledger_am
# storage worker answers a read of the events table.
wait_worker() {
  cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM events" -d postgres -qAt >/dev/null 2>&1
}

# q SQL: run SQL (from stdin, may hold several statements) and print the
# unaligned, tuples-only result; fails on the first error.
q() {
  cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"$1"
}

# insert_sql FROM TO AMOUNT_EXPR: INSERT of events i = FROM..TO; 50 accounts,
# event i belongs to aggregate (account) (i-1)%50+1 with version (i-1)/50+1.
insert_sql() {
  cat <<SQL
INSERT INTO events (event_type, aggregate_id, aggregate_version, ts,
                    debit_account, credit_account, tx_id, amount, currency,
                    payload, metadata)
SELECT 'deposit',
       ('00000000-0000-4000-8000-' || lpad(to_hex(acct), 12, '0'))::uuid,
       ver,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second',
       9000000, acct, gen_random_uuid(), $3, 'USD',
       jsonb_build_object('i', i),
       jsonb_build_object('correlation_id', gen_random_uuid(), 'source', 't001')
FROM (SELECT i, (i - 1) % 50 + 1 AS acct, (i - 1) / 50 + 1 AS ver
      FROM generate_series($1, $2) AS i) s;
SQL
}

echo "1..$PLAN"

# 1: cluster with the extension preloaded.
DIR=$(mktemp -d /tmp/ledger_am_t001.XXXXXX) || bail "mktemp failed"
tap_start_cluster "cluster with shared_preload_libraries=ledger_am starts (port $PORT)"

# 2: extension and events table.
# (retried while the storage worker is still starting up)
if out=$(cluster_psql_retry "$DIR" 60 "BEGIN;
           CREATE EXTENSION ledger_am; SELECT ledger_am.create_events_table('events');
           SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
           WHERE c.oid = 'events'::regclass;
           COMMIT;" -d postgres -qAt) && [[ "$(tail -n 1 <<<"$out")" == ledger_am ]]; then
  ok_if 0 "CREATE EXTENSION + ledger_am.create_events_table('events') USING ledger_am"
else
  ok_if 1 "CREATE EXTENSION + ledger_am.create_events_table('events') USING ledger_am" "$out"
  bail "no events table"
fi

# 3: 1000 committed rows in 4 transactions (amount = i, so sum = 500500).
err=""
for b in 0 1 2 3; do
  from=$((b * 250 + 1)); to=$((b * 250 + 250))
  out=$(q "BEGIN; $(insert_sql $from $to i) COMMIT;" 2>&1) || err+="$out"$'\n'
done
got=$(q "SELECT count(*) FROM events" 2>&1)
if [[ -z "$err" && "$got" == 1000 ]]; then
  ok_if 0 "1000 rows committed in 4 transactions"
else
  ok_if 1 "1000 rows committed in 4 transactions" "${err}count: $got"
fi
CHECKSUM_BEFORE=$(q "SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM events" 2>&1)

# 4: a second session inserts 500 rows (amount 1000000 each) and never commits.
{
  printf 'BEGIN;\n%s\nSELECT pg_sleep(600);\n' "$(insert_sql 1001 1500 1000000)" |
    cluster_psql "$DIR" -d "dbname=postgres application_name=$APP" -qAt -v ON_ERROR_STOP=1
} >"$DIR.bg.log" 2>&1 &
BG_PID=$!
sleeping=0
for _ in $(seq 1 120); do
  n=$(q "SELECT count(*) FROM pg_stat_activity
         WHERE application_name = '$APP' AND wait_event = 'PgSleep'" 2>/dev/null)
  if [[ "$n" == 1 ]]; then sleeping=1; break; fi
  kill -0 "$BG_PID" 2>/dev/null || break
  sleep 0.5
done
visible=$(q "SELECT count(*) FROM events" 2>&1)
if [[ $sleeping == 1 && "$visible" == 1000 ]]; then
  ok_if 0 "open transaction with 500 uncommitted rows; others still see 1000"
else
  ok_if 1 "open transaction with 500 uncommitted rows; others still see 1000" \
    "session sleeping: $sleeping, visible count: $visible"$'\n'"$(cat "$DIR.bg.log" 2>/dev/null)"
fi

# The digest of the settled rows (VACUUM settles the committed ones; the
# sleeping session's rows come after them): checked after the crash (8) and
# after the codec switch rewrote every file (17).
q "VACUUM events" >/dev/null 2>&1
DIGEST_BEFORE=$(q "SELECT rows || ' ' || sha256 FROM ledger_am.digest('events')" 2>&1)
digest_of() { q "SELECT rows || ' ' || sha256 FROM ledger_am.digest('events', ${DIGEST_BEFORE%% *})" 2>&1; }

# 5: crash (immediate stop) and restart.
cluster_stop "$DIR" immediate >/dev/null 2>&1
for _ in $(seq 1 20); do kill -0 "$BG_PID" 2>/dev/null || break; sleep 0.5; done
kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null; BG_PID=""
rm -f "$DIR.bg.log"
if out=$(cluster_start "$DIR" 2>&1) && q "SELECT 1" >/dev/null 2>&1; then
  wait_worker
  ok_if 0 "server restarts after pg_ctl stop -m immediate"
else
  ok_if 1 "server restarts after pg_ctl stop -m immediate" "$out"
  bail "server did not restart"
fi

# 6-8: exactly the committed rows survive.
expect_eq "count(*) = 1000 after crash recovery" "$(q "SELECT count(*) FROM events" 2>&1)" 1000
expect_eq "only committed rows: sum(amount), max(payload i), event_id checksum unchanged" \
  "$(q "SELECT sum(amount)::bigint || ' ' || max((payload->>'i')::int) || ' ' ||
               md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM events" 2>&1)" \
  "500500 1000 $CHECKSUM_BEFORE"
if [[ "$DIGEST_BEFORE" =~ ^1000\ [0-9a-f]{64}$ ]]; then
  expect_eq "ledger_am.digest of the 1000 settled rows is the same after the crash" "$(digest_of)" "$DIGEST_BEFORE"
else
  ok_if 1 "ledger_am.digest of the 1000 settled rows is the same after the crash" "before: $DIGEST_BEFORE"
fi

# 9: the same answer through the unique index on event_id.
plan=$(q "SET enable_seqscan = off;
          EXPLAIN (COSTS OFF) SELECT count(*) FROM events
          WHERE event_id >= '00000000-0000-0000-0000-000000000000'::uuid" 2>&1)
cnt=$(q "SET enable_seqscan = off;
         SELECT count(*) FROM events
         WHERE event_id >= '00000000-0000-0000-0000-000000000000'::uuid" 2>&1)
if [[ "$cnt" == 1000 && "$plan" == *Index* ]]; then
  ok_if 0 "index scan (enable_seqscan=off) counts 1000"
else
  ok_if 1 "index scan (enable_seqscan=off) counts 1000" "count: $cnt"$'\n'"plan:"$'\n'"$plan"
fi

# 10: the unique index still rejects a committed (aggregate_id, aggregate_version).
out=$(q "$(insert_sql 1 1 1)" 2>&1)
if [[ $? -ne 0 && "$out" == *"duplicate key"* ]]; then
  ok_if 0 "duplicate (aggregate_id, aggregate_version) of a committed row is rejected"
else
  ok_if 1 "duplicate (aggregate_id, aggregate_version) of a committed row is rejected" "$out"
fi

# 11: the crashed transaction's keys are free again; new rows do not collide.
out=$(q "BEGIN; $(insert_sql 1001 1500 i) COMMIT;
         SELECT count(*) || ' ' || sum(amount)::bigint || ' ' || count(DISTINCT event_id)
         FROM events;" 2>&1)
expect_eq "re-inserting the crashed transaction's 500 keys works (1500 rows)" \
  "$(tail -n 1 <<<"$out")" "1500 1125750 1500"

# 12: rows written after recovery survive a clean restart.
cluster_stop "$DIR" fast >/dev/null 2>&1
if cluster_start "$DIR" >/dev/null 2>&1; then
  wait_worker
  expect_eq "after a clean restart: 1500 rows, index agrees" \
    "$(q "SELECT count(*) FROM events;
          SET enable_seqscan = off;
          SELECT count(*) FROM events
          WHERE event_id >= '00000000-0000-0000-0000-000000000000'::uuid" 2>&1 | tr '\n' ' ')" \
    "1500 1500 "
else
  ok_if 1 "after a clean restart: 1500 rows, index agrees" "server did not start"
fi

# 13-14: a storage worker that cannot open its RocksDB instance (here: the
# directory unreadable) makes reads fail with why, under the engine's
# SQLSTATE (IO error: 58030), not with "storage worker is not running"; once
# the directory is readable again the restarted worker serves every row.
cluster_stop "$DIR" fast >/dev/null 2>&1
chmod 000 "$DIR/ledger_am"
out=""
if cluster_start "$DIR" >/dev/null 2>&1; then
  for (( i = 0; i < 30; i++ )); do
    out=$(cluster_psql "$DIR" -d postgres -qAt -v VERBOSITY=verbose -c "SELECT count(*) FROM events" 2>&1)
    grep -q "starting the storage worker" <<<"$out" && break
    sleep 0.5
  done
fi
if grep -q "ERROR:  58030: ledger_am storage error while starting the storage worker: IO error" <<<"$out"; then
  ok_if 0 "storage directory unreadable: reads fail with the open error (58030), not 'not running'"
else
  ok_if 1 "storage directory unreadable: reads fail with the open error (58030)" "$out"
fi
chmod 700 "$DIR/ledger_am"
expect_eq "directory readable again: the restarted worker serves all 1500 rows" \
  "$(cluster_psql_retry "$DIR" 30 "SELECT count(*) FROM events" -d postgres -qAt 2>&1 | tail -n 1)" "1500"

# 15: the block cache follows shared_buffers by default (at least 256 MB);
# an explicit ledger_am.block_cache_mb wins. The worker logs the size.
cache_sizes=""
for conf in "shared_buffers = '512MB'" "ledger_am.block_cache_mb = 64"; do
  restart_with "$conf"
  cluster_psql_retry "$DIR" 30 "SELECT count(*) FROM events" -d postgres -qAt >/dev/null 2>&1
  cache_sizes+="$(grep -o 'block cache [0-9]* MB' "$DIR/server.log" | tail -n 1); "
done
expect_eq "block cache: 512 MB with shared_buffers = 512MB, 64 MB when set" \
  "$cache_sizes" "block cache 512 MB; block cache 64 MB; "

# 16: the row codec is switched to lz4hc on a table written in zstd. The
# worker names the codec it opened with; the zstd files stay readable, and
# ledger_am.compact rewrites them in lz4hc with the same rows. Whether the
# files really are LZ4HC is the unit test EngineCodecs' business.
digest="SELECT count(*), sum(amount), sum(hashtext(payload::text)) FROM events"
want=$(q "$digest" 2>&1)
restart_with "ledger_am.row_compression = lz4hc"
before=$(cluster_psql_retry "$DIR" 30 "$digest" -d postgres -qAt 2>&1 | tail -n 1)
compacted=$(q "SELECT ledger_am.compact('events');" 2>&1)
restart_with
after=$(cluster_psql_retry "$DIR" 30 "$digest" -d postgres -qAt 2>&1 | tail -n 1)
codec=$(grep -o 'rows [a-z0-9]*)' "$DIR/server.log" | tail -n 1)
expect_eq "row_compression = lz4hc: worker opens with it; same rows before and after compaction" \
  "$codec | $before | $after | $compacted" "rows lz4hc) | $want | $want | "
expect_eq "ledger_am.digest unchanged after the files were rewritten in another codec" \
  "$(digest_of)" "$DIGEST_BEFORE"

finish
