#!/usr/bin/env bash
# 008_disk_full.sh: a full disk while writing ledger_am rows (TAP output).
#
#   bash test/t/008_disk_full.sh                 (as root; ~20 s)
#   DF_SIZE_MB=1024 DF_FILL_MB=600 bash test/t/008_disk_full.sh   (bigger volume)
#
# Mounts a small file system (tmpfs of DF_SIZE_MB = 300 MB; if mounting tmpfs
# is not permitted, an ext4 loop device; if neither works every test is
# reported as "ok N # SKIP") at /tmp/ledger_am_t008.XXXXXX and puts the whole
# data directory there (pg_wal and $PGDATA/ledger_am included), port 54388
# (T008_PORT). Then:
#   1  commits DF_FILL_MB (60) MB of events in batches (count, sum and an
#      event_id checksum are recorded);
#   2  fills the volume with a filler file up to DF_LEFT_MB (8) MB of free
#      space and inserts 2 MB batches until a statement fails: the error
#      must be clear (SQLSTATE 53100 disk_full, or an I/O error naming "No
#      space left on device") and come before more raw data than the whole
#      volume holds was inserted (DF_MAX_BATCHES, DF_SIZE_MB / 2 batches):
#      RocksDB keeps taking rows for a while, as its WAL file was fallocated
#      ahead (1.1 x write_buffer_size; the test sets 16 MB) and each flush
#      turns ~1.2 kB of WAL per row into ~0.3 kB of SST and deletes the WAL
#      (measured with 16 MB: the first failure after 4 batches, each of 4
#      runs; with the default 64 MB it varied from 10 to 47); no server
#      process may crash (a crash-restart would kill every session, and with
#      the disk still full the restarted cluster cannot even accept
#      connections);
#   3  the failing batch left nothing visible, and every row committed before
#      (including batches that succeeded after the volume filled up) is still
#      readable while the disk is still full;
#   4  the filler is removed: without a restart new inserts must work again
#      within 30 s -- the cluster recovers once space is freed (if it did
#      not, or the server went down, it is restarted to go on);
#   5  all committed rows are there, new rows go in;
#   6  a second episode fills the volume completely (0 bytes left, so
#      Postgres' own files fail too): a clear error, no crash, and after
#      freeing the space writes work again with every committed row there;
#   7  after a clean restart: seq scan, index scan and amcheck agree.
# The server log is printed (errors only) so the failure mode can be read.
# KEEP_CLUSTER=1 keeps the volume mounted and the cluster stopped for
# inspection. Runs with ledger_am.log_rows_in_wal = off: with rows in
# Postgres' WAL a full pg_wal PANICs Postgres, as it does for heap rows.
# Exits non-zero on any failure.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T008_PORT:-54388}
SIZE_MB=${DF_SIZE_MB:-300}
FILL_MB=${DF_FILL_MB:-60}
LEFT_MB=${DF_LEFT_MB:-8}
MAX_BATCHES=${DF_MAX_BATCHES:-$(( SIZE_MB / 2 ))}
PLAN=13
TESTNO=0
FAILED=0
MNT=""
MOUNTED=0
LOOPFILE=""
DIR=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
skip_all() {
  echo "# skipping: $1"
  while (( TESTNO < PLAN )); do
    TESTNO=$((TESTNO + 1))
    echo "ok $TESTNO # SKIP $1"
  done
  finish
}
finish() {
  tap_server_log "$DIR" 25
  tap_exit 008_disk_full
}
cleanup() {
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    rm -f "$MNT/filler" 2>/dev/null
    tap_drop_cluster "$DIR" "cluster kept (stopped) in $DIR; unmount $MNT when done" || return
  fi
  if (( MOUNTED )); then
    umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
  fi
  [[ -n "$LOOPFILE" ]] && rm -f "$LOOPFILE"
  [[ -n "$MNT" && -d "$MNT" ]] && rmdir "$MNT" 2>/dev/null
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"$1"; }
free_mb() { df -Pm "$MNT" | awk 'NR == 2 { print $4 }'; }
server_up() { cluster_as_pg pg_isready -q -h "$CLUSTER_SOCKDIR" -p "$PORT" -t 2 >/dev/null 2>&1; }

# batch_sql TAG ROWS: ROWS events of ~1 kB, tagged TAG (amount 1 each).
batch_sql() {
  cat <<SQL
INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, ts, debit_account,
                    credit_account, amount, currency, payload, metadata)
SELECT md5('$1:' || g)::uuid, 'deposit', md5('$1:' || g)::uuid, 1,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g % 100, g % 100 + 1000, 1,
       'EUR', jsonb_build_object('pad', (SELECT string_agg(md5(g::text || ':' || h), '')
                                         FROM generate_series(1, 30) h)),
       jsonb_build_object('batch', '$1')
FROM generate_series(1, $2) g;
SQL
}
checksum_sql="SELECT count(*) || ' ' || coalesce(sum(amount), 0)::bigint || ' ' ||
                     coalesce(md5(string_agg(event_id::text, ',' ORDER BY event_id)), '-') FROM events"

echo "1..$PLAN"

# The volume.
MNT=$(mktemp -d /tmp/ledger_am_t008.XXXXXX) || bail "mktemp failed"
if mount -t tmpfs -o "size=${SIZE_MB}M,mode=0755" tmpfs "$MNT" 2>/dev/null; then
  MOUNTED=1; kind="tmpfs of $SIZE_MB MB"
else
  LOOPFILE=$(mktemp /tmp/ledger_am_t008_img.XXXXXX)
  if truncate -s "${SIZE_MB}M" "$LOOPFILE" && mkfs.ext4 -q -F "$LOOPFILE" >/dev/null 2>&1 &&
     mount -o loop "$LOOPFILE" "$MNT" 2>/dev/null; then
    MOUNTED=1; kind="ext4 loop device of $SIZE_MB MB"
  else
    skip_all "cannot mount a tmpfs or a loop device here (needs root and mount permission)"
  fi
fi
chmod 755 "$MNT"
DIR=$MNT/data

# 1: cluster on the volume.
if out=$(cluster_init "$DIR" "$PORT" ledger_am 2>&1); then
  cat >>"$DIR/postgresql.conf" <<CONF
max_wal_size = 64MB
min_wal_size = 32MB
checkpoint_timeout = 30s
autovacuum = off
log_min_messages = warning
# RocksDB preallocates each WAL file in blocks of 1.1x the write buffer
# (fallocate), so at the default 64 MB two WAL files held up to ~210 MB of
# the 300 MB volume for ~75 MB of rows, and step 2 ran out of room or not
# depending on when the memtable switched. A 16 MB buffer keeps that under
# 40 MB. The checksum's sort must not need temporary files either: with the
# volume nearly full a 4 MB work_mem spilled and failed with ENOSPC.
ledger_am.write_buffer_mb = 16
work_mem = 64MB
# Rows stay out of Postgres' WAL here (commits sync RocksDB's WAL): logged
# rows grow pg_wal like heap rows do, and Postgres PANICs when it cannot
# create a WAL segment (measured: the checkpointer, "could not write to file
# pg_wal/xlogtemp...", after 27 batches), as with heap tables. The no-crash
# behaviour this test asserts is that of ledger_am's own files.
ledger_am.log_rows_in_wal = off
CONF
  out=$(cluster_start "$DIR" 2>&1)
fi
cluster_env "$DIR"
if server_up && out=$(cluster_psql_retry "$DIR" 60 "BEGIN; CREATE EXTENSION ledger_am; CREATE EXTENSION amcheck;
      SELECT ledger_am.create_events_table('events'); COMMIT;" -d postgres -qAt 2>&1); then
  ok_if 0 "cluster with its whole data directory on a $kind (port $PORT)"
else
  ok_if 1 "cluster with its whole data directory on a $kind" "$out"
  bail "cluster did not start"
fi

# 2: committed rows.
nb=$(( (FILL_MB + 1) / 2 ))
err=""
for (( i = 1; i <= nb; i++ )); do
  out=$(q "$(batch_sql "c$i" 2000)" 2>&1) || { err="$out"; break; }
done
BEFORE=$(q "$checksum_sql" 2>&1)
diag "committed $(cut -d' ' -f1 <<<"$BEFORE") rows; volume: $(free_mb) MB free; ledger_am $(du -sm "$DIR/ledger_am" | cut -f1) MB, pg_wal $(du -sm "$DIR/pg_wal" | cut -f1) MB, base $(du -sm "$DIR/base" | cut -f1) MB"
if [[ -z "$err" && "$(cut -d' ' -f1 <<<"$BEFORE")" == $(( nb * 2000 )) ]]; then
  ok_if 0 "$nb batches of 2000 events (~$FILL_MB MB) committed"
else
  ok_if 1 "$nb batches of 2000 events committed" "$err"$'\n'"$BEFORE"
  bail "could not fill the volume"
fi

# 3: fill the disk, insert until a statement fails.
avail=$(df -PB1 "$MNT" | awk 'NR == 2 { print $4 }')
fallocate -l $(( avail - LEFT_MB * 1024 * 1024 )) "$MNT/filler" 2>/dev/null ||
  dd if=/dev/zero of="$MNT/filler" bs=1M count=$(( avail / 1048576 - LEFT_MB )) status=none
diag "filler written: $(free_mb) MB free"
ERRMSG=""; FAILED_TAG=""; OK_AFTER=()
for (( i = 1; i <= MAX_BATCHES; i++ )); do
  out=$(cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
          <<<"\\set VERBOSITY verbose
$(batch_sql "f$i" 2000)" 2>&1)
  if [[ $? -ne 0 ]]; then
    ERRMSG=$out; FAILED_TAG="f$i"; break
  fi
  OK_AFTER+=("f$i")
done
sleep 1
UP_AFTER_ERROR=0; server_up && UP_AFTER_ERROR=1
diag "first failure after ${#OK_AFTER[@]} more batches; server $( ((UP_AFTER_ERROR)) && echo "stayed up" || echo "went down"); error:"$'\n'"$(head -n 6 <<<"$ERRMSG")"
if [[ -n "$ERRMSG" ]] && grep -qiE '53100|disk_full|No space left on device|could not extend|could not write' <<<"$ERRMSG"; then
  ok_if 0 "with the volume full, a write fails with a clear error within $MAX_BATCHES batches"
else
  ok_if 1 "with the volume full, a write fails with a clear error within $MAX_BATCHES batches" \
    "${ERRMSG:-no error after $MAX_BATCHES batches}"
fi
if grep -q '53100' <<<"$ERRMSG"; then
  ok_if 0 "the error carries SQLSTATE 53100 (disk_full)"
else
  ok_if 1 "the error carries SQLSTATE 53100 (disk_full)" "$(head -n 3 <<<"$ERRMSG")"
fi

crashes=$(grep -E 'terminated by signal|was terminated' "$DIR/server.log" | head -n 3)
if [[ -z "$crashes" ]]; then
  ok_if 0 "no server process crashed: the full disk is reported, not turned into a crash-restart"
else
  ok_if 1 "no server process crashed: the full disk is reported, not turned into a crash-restart" \
    "$crashes"$'\n'"$(grep -E 'Assertion|terminate called|what\(\)' "$DIR/server.log" | head -n 2)"
fi

# expected state: BEFORE plus the batches that succeeded after the filler
expect_rows=$(( nb * 2000 + ${#OK_AFTER[@]} * 2000 ))

# 4: committed rows intact while the disk is full (if the server is up).
if (( UP_AFTER_ERROR )); then
  full_state=$(q "SELECT count(*) FROM events; SELECT count(*) FROM events WHERE metadata->>'batch' = '$FAILED_TAG'" 2>&1 | tr '\n' ' ')
  if [[ "$full_state" == "$expect_rows 0 " ]]; then
    ok_if 0 "disk still full: all $expect_rows committed rows readable, nothing of the failed batch visible"
  else
    ok_if 1 "disk still full: all committed rows readable, nothing of the failed batch visible" \
      "count, failed-batch rows: '$full_state' (want '$expect_rows 0')"
  fi
else
  ok_if 0 "disk still full: server is down, reading is checked after the restart  # (server went down on ENOSPC)"
fi

# 5: free the space; the cluster recovers.
rm -f "$MNT/filler"
diag "filler removed: $(free_mb) MB free"
recovered=""
if (( UP_AFTER_ERROR )); then
  for (( i = 1; i <= 30; i++ )); do
    if out=$(q "$(batch_sql "r$i" 100)" 2>&1); then recovered="r$i"; break; fi
    sleep 1
  done
  if [[ -n "$recovered" ]]; then
    ok_if 0 "after the space is freed new rows go in again without a restart"
  else
    ok_if 1 "after the space is freed new rows go in again without a restart" \
      "still failing after 30 s: $(head -n 3 <<<"$out")"
    diag "restarting the server to go on"
    cluster_stop "$DIR" fast >/dev/null 2>&1 || cluster_stop "$DIR" immediate >/dev/null 2>&1
    cluster_start "$DIR" >/dev/null 2>&1
  fi
else
  cluster_stop "$DIR" immediate >/dev/null 2>&1
  if cluster_start "$DIR" >/dev/null 2>&1 && server_up; then
    ok_if 0 "after the space is freed the server starts again"
  else
    ok_if 1 "after the space is freed the server starts again" "$(tail -n 10 "$DIR/server.log")"
    bail "server does not start"
  fi
fi
cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM events" -d postgres -qAt >/dev/null 2>&1

# 6: everything committed is there, and new rows go in.
if [[ -z "$recovered" ]]; then
  out=$(q "$(batch_sql r0 100)" 2>&1) && recovered=r0
fi
got=$(q "SELECT count(*) FROM events WHERE metadata->>'batch' LIKE 'c%' OR metadata->>'batch' LIKE 'f%';
         SELECT count(*) FROM events WHERE metadata->>'batch' = '$FAILED_TAG';
         SELECT count(*) FROM events WHERE metadata->>'batch' = '$recovered';" 2>&1 | tr '\n' ' ')
if [[ -n "$recovered" && "$got" == "$expect_rows 0 100 " ]]; then
  ok_if 0 "all $expect_rows committed rows are there, the failed batch is not, new rows go in ($recovered)"
else
  ok_if 1 "all committed rows are there, the failed batch is not, new rows go in" \
    "committed, failed batch, new: '$got' (want '$expect_rows 0 100'); insert: $(head -n 3 <<<"$out")"
fi
c_before=$(q "SELECT count(*) || ' ' || md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM events
              WHERE metadata->>'batch' LIKE 'c%'")
if [[ "$c_before" == "$(cut -d' ' -f1,3 <<<"$BEFORE")" ]]; then
  ok_if 0 "the rows committed before the disk filled up are unchanged (count and event_id checksum)"
else
  ok_if 1 "the rows committed before the disk filled up are unchanged" "now '$c_before', before '$BEFORE'"
fi

# 8-9: a second episode: the volume filled completely (0 bytes left), so
# Postgres' own files (pg_wal, indexes) can fail too.
expect_rows=$(( expect_rows + 100 ))
avail=$(df -PB1 "$MNT" | awk 'NR == 2 { print $4 }')
fallocate -l "$avail" "$MNT/filler" 2>/dev/null ||
  dd if=/dev/zero of="$MNT/filler" bs=1M count=$(( avail / 1048576 )) status=none
dd if=/dev/zero of="$MNT/filler2" bs=4k status=none 2>/dev/null   # the last blocks
diag "second filler written: $(free_mb) MB free"
ERR2=""; OK2=0
for (( i = 1; i <= 20; i++ )); do
  out=$(cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"\\set VERBOSITY verbose
$(batch_sql "g$i" 2000)" 2>&1)
  if [[ $? -ne 0 ]]; then ERR2=$out; break; fi
  OK2=$((OK2 + 1))
done
sleep 1
UP2=0; server_up && UP2=1
expect_rows=$(( expect_rows + OK2 * 2000 ))
diag "second episode: first failure after $OK2 batches; server $( ((UP2)) && echo "stayed up" || echo "went down"); error:"$'\n'"$(head -n 4 <<<"$ERR2")"
crashes2=$(grep -cE 'terminated by signal' "$DIR/server.log")
if [[ -n "$ERR2" ]] && grep -qiE '53100|disk_full|No space left on device|could not extend|could not write|server closed the connection|terminating connection' <<<"$ERR2"; then
  ok_if 0 "completely full volume: a write fails with a clear error (server $( ((UP2)) && echo "stayed up" || echo "went down"))"
else
  ok_if 1 "completely full volume: a write fails with a clear error" "${ERR2:-no error after 20 batches}"
fi
if (( crashes2 == $(grep -cE 'terminated by signal' <<<"$crashes") )); then
  ok_if 0 "completely full volume: no new crashed server process"
else
  ok_if 1 "completely full volume: no new crashed server process" \
    "$(grep -E 'terminated by signal|Assertion|terminate called' "$DIR/server.log" | tail -n 4)"
fi
rm -f "$MNT/filler" "$MNT/filler2"
back=""
if (( UP2 )); then
  for (( i = 1; i <= 30; i++ )); do
    if out=$(q "$(batch_sql "s$i" 100)" 2>&1); then back="s$i"; break; fi
    sleep 1
  done
fi
if [[ -z "$back" ]]; then
  (( UP2 )) && diag "still failing 30 s after the space was freed: $(head -n 2 <<<"$out"); restarting"
  cluster_stop "$DIR" fast >/dev/null 2>&1 || cluster_stop "$DIR" immediate >/dev/null 2>&1
  cluster_stop "$DIR" immediate >/dev/null 2>&1
  cluster_start "$DIR" >/dev/null 2>&1
  cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM events" -d postgres -qAt >/dev/null 2>&1
  out=$(q "$(batch_sql s0 100)" 2>&1) && back=s0
fi
got=$(q "SELECT count(*) FROM events WHERE metadata->>'batch' ~ '^[cfrg][0-9]+$';
         SELECT count(*) FROM events WHERE metadata->>'batch' = '$back'" 2>&1 | tr '\n' ' ')
if [[ -n "$back" && "$got" == "$expect_rows 100 " ]] && { (( UP2 == 0 )) || [[ "$back" != s0 ]]; }; then
  ok_if 0 "space freed again: the cluster serves writes ($( ((UP2)) && echo "without a restart" || echo "after starting it again")), all $expect_rows committed rows there"
else
  ok_if 1 "space freed again: the cluster serves writes, all committed rows there" \
    "new batch '$back'; committed, new: '$got' (want '$expect_rows 100'); $(head -n 2 <<<"$out")"
fi
expect_rows=$(( expect_rows + 100 ))

# 10: after a clean restart: seq scan, index scan and amcheck agree.
cluster_stop "$DIR" fast >/dev/null 2>&1
cluster_start "$DIR" >/dev/null 2>&1
cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM events" -d postgres -qAt >/dev/null 2>&1
total=$expect_rows
got=$(q "SELECT count(*) FROM events;
         SET enable_seqscan = off; SET enable_bitmapscan = off;
         SELECT count(*) FROM events WHERE event_id >= '00000000-0000-0000-0000-000000000000';
         RESET enable_seqscan; RESET enable_bitmapscan;
         SELECT count(*) FROM (SELECT bt_index_check(indexrelid, true) FROM pg_index
                               WHERE indrelid = 'events'::regclass
                                 AND indexrelid IN (SELECT oid FROM pg_class WHERE relam = 403)) x;" 2>&1 | tr '\n' ' ')
if [[ "$got" == "$total $total 2 " ]]; then
  ok_if 0 "after a clean restart: $total rows by seq scan and by index scan; amcheck passes"
else
  ok_if 1 "after a clean restart: seq scan, index scan and amcheck agree" "got '$got' want '$total $total 2 '"
fi
diag "server log errors:"$'\n'"$(grep -E 'ERROR|PANIC|FATAL|terminated by signal' "$DIR/server.log" | sort -k4 | uniq -c -f3 | head -n 12)"

finish
