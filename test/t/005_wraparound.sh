#!/usr/bin/env bash
# 005_wraparound.sh: transaction id wraparound, VACUUM and autovacuum on
# ledger_am tables (TAP output).
#
#   bash test/t/005_wraparound.sh                 (as root; CI mode, ~1-2 min)
#   WRAP_CYCLES=12 WRAP_XID_STEP=1500000000 bash test/t/005_wraparound.sh
#                                                 (long mode: ~18e9 xids, 4 wraps)
#
# Starts a throwaway cluster (port 54385, T005_PORT to override) with
# shared_preload_libraries='ledger_am' and a database `ledger` holding the
# canonical events table (btree indexes + range declaration) and `noidx`, a
# ledger_am table without indexes. Every batch of rows is tagged (events:
# metadata->>'batch', noidx: tag); the script knows which tags committed and
# which must never be visible.
#
# WRAP_CYCLES (default 5) freeze cycles; each one
#   a  after a restart with the xid counter moved forward, checks every row
#      (seq scan per tag: count and sum; btree index scan; range scans;
#      amcheck): all committed rows visible, no aborted row visible;
#   b  vacuums every table *except* the ledger tables in all databases and
#      runs CHECKPOINT: pg_xact segments still needed by not yet frozen
#      ledger rows (the previous cycle's in-flight and late batches) must
#      survive, and the rows stay correct;
#   c  commits a batch, aborts a batch and rolls back a savepoint inside a
#      committed batch; VACUUM FREEZE reclaims the aborted rows (stored_rows
#      and table_size after ledger_am.compact, before and after, are printed),
#      age(relfrozenxid) is small; VACUUM FREEZE of every database and
#      CHECKPOINT advance datfrozenxid and remove every pg_xact segment from
#      before the jump; all rows still correct;
#   d  turns aggressive autovacuum on (naptime 1 s, thresholds 1) under a
#      short commit/abort workload until autovacuum has vacuumed `events`;
#   e  with two transactions still open (one commits later, one aborts), a
#      database-wide VACUUM FREEZE must not move relfrozenxid of the ledger
#      tables past their xids;
#   f  adds a late committed and a late aborted batch (not vacuumed before
#      the jump), stops the server and moves the xid counter WRAP_XID_STEP
#      (default 900,000,000) forward with pg_resetwal -e/-x (creating the
#      zero-filled pg_xact segment it needs), so the 32-bit counter wraps
#      around 2^32 during the run.
# Finally autovacuum alone (autovacuum_freeze_max_age = 100000) after one more
# jump must bring every database's datfrozenxid forward and truncate pg_xact,
# autovacuum and autoanalyze must have run on both ledger tables
# (pg_stat_user_tables; ledger_am's VACUUM writes no "automatic vacuum" log
# line, ANALYZE's "automatic analyze" line is counted) and the server log must
# show no ERROR or PANIC, in particular none from autovacuum.
# KEEP_CLUSTER=1 keeps the data directory. Exits non-zero on any failure.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T005_PORT:-54385}
CYCLES=${WRAP_CYCLES:-5}
STEP=${WRAP_XID_STEP:-900000000}
DB=ledger
PER_CYCLE=9
PLAN=$((3 + CYCLES * PER_CYCLE + 5))
TESTNO=0
FAILED=0
DIR=""
declare -A BG_FD=() BG_PID=() BG_MARK=()
declare -A EXPECT=()      # committed tag -> rows
ABORTED=()                # tags that must never be visible
PENDING_XIDS=()           # xids of rows not yet frozen when the server stops

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
expect_eq() {
  if [[ "$2" == "$3" ]]; then ok_if 0 "$1"; else ok_if 1 "$1" "got:  '$2'"$'\n'"want: '$3'"; fi
}
finish() {
  tap_server_log "$DIR" 30
  tap_exit 005_wraparound
}

bg_close_all() {
  local n
  for n in "${!BG_FD[@]}"; do
    exec {BG_FD[$n]}>&- 2>/dev/null
    kill "${BG_PID[$n]}" 2>/dev/null; wait "${BG_PID[$n]}" 2>/dev/null
    rm -f "$DIR.$n.fifo" "$DIR.$n.log"
    unset "BG_FD[$n]" "BG_PID[$n]"
  done
}
cleanup() {
  [[ -n "$DIR" ]] && bg_close_all
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_drop_cluster "$DIR" "cluster kept in $DIR"
  fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

# q [-d DB] SQL: run SQL, print unaligned tuples-only output; fail on error.
q() {
  local db=$DB
  if [[ "$1" == -d ]]; then db=$2; shift 2; fi
  cluster_psql "$DIR" -d "$db" -qAt -v ON_ERROR_STOP=1 <<<"$1"
}

# Background sessions fed through a fifo: bg_start NAME, bg_send NAME SQL,
# bg_sync NAME (waits until everything sent so far has run: the session sets
# a new application_name, seen in pg_stat_activity), bg_xid NAME (its
# backend_xid), bg_close NAME. Their output is only read after they exit.
bg_start() {
  local n=$1 fifo="$DIR.$1.fifo"
  rm -f "$fifo"; mkfifo "$fifo"
  # (the session must not inherit the other sessions' fifo ends, or they
  # would never see end of file)
  (
    for o in "${BG_FD[@]}"; do exec {o}>&-; done
    cluster_psql "$DIR" -d "dbname=$DB application_name=t005_${n}_0" -qAt -v ON_ERROR_STOP=1 \
      <"$fifo" >"$DIR.$n.log" 2>&1
  ) &
  BG_PID[$n]=$!
  exec {BG_FD[$n]}>"$fifo"
  BG_MARK[$n]=0
}
bg_send() { printf '%s\n' "$2" >&"${BG_FD[$1]}"; }
bg_sync() {
  local n=$1 app
  BG_MARK[$n]=$(( BG_MARK[$n] + 1 )); app="t005_${n}_${BG_MARK[$n]}"
  bg_send "$n" "SET application_name = '$app';"
  for _ in $(seq 1 600); do
    [[ "$(q -d postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$app'")" == 1 ]] && return 0
    kill -0 "${BG_PID[$n]}" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
bg_xid() {
  q -d postgres "SELECT backend_xid FROM pg_stat_activity WHERE application_name = 't005_${1}_${BG_MARK[$1]}'"
}
bg_close() {
  local n=$1
  exec {BG_FD[$n]}>&-
  wait "${BG_PID[$n]}" 2>/dev/null
  BG_OUT=$(cat "$DIR.$n.log" 2>/dev/null)
  rm -f "$DIR.$n.fifo" "$DIR.$n.log"
  unset "BG_FD[$n]" "BG_PID[$n]"
}

# batch_sql TAG N: INSERTs of N rows tagged TAG into events and noidx
# (amount = 1..N, so a tag's sum is N(N+1)/2).
batch_sql() {
  cat <<SQL
INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account,
                    credit_account, amount, currency, payload, metadata)
SELECT 'deposit', md5('$1:' || (g % 50))::uuid, g / 50 + 1,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
       1000 + g % 20, 2000 + g % 7, g, 'EUR',
       jsonb_build_object('i', g, 'pad', repeat(md5(g::text), 4)),
       jsonb_build_object('batch', '$1')
FROM generate_series(1, $2) g;
INSERT INTO noidx SELECT '$1', g FROM generate_series(1, $2) g;
SQL
}
commit_batch() { q "BEGIN; $(batch_sql "$1" "$2") COMMIT;" >/dev/null && EXPECT[$1]=$2; }
abort_batch()  { q "BEGIN; $(batch_sql "$1" "$2") ROLLBACK;" >/dev/null; ABORTED+=("$1"); }

# expected_tags: "tag=N/SUM ..." for every committed tag, sorted (C order).
expected_tags() {
  local t
  for t in "${!EXPECT[@]}"; do
    echo "$t=${EXPECT[$t]}/$(( EXPECT[$t] * (EXPECT[$t] + 1) / 2 ))"
  done | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
expected_total() {
  local t n=0 s=0
  for t in "${!EXPECT[@]}"; do
    n=$(( n + EXPECT[$t] )); s=$(( s + EXPECT[$t] * (EXPECT[$t] + 1) / 2 ))
  done
  echo "$n $s"
}

# verify: every committed row visible, no aborted row, through every path.
# Prints nothing and returns 0 when all agree, else the differences.
verify() {
  local want_tags want_total out err=""
  want_tags=$(expected_tags); want_total=$(expected_total)
  out=$(q "SELECT coalesce(string_agg(tag || '=' || n || '/' || s, ' ' ORDER BY tag COLLATE \"C\"), '')
           FROM (SELECT metadata->>'batch' AS tag, count(*) AS n, sum(amount)::bigint AS s
                 FROM events GROUP BY 1) x;" 2>&1)
  [[ "$out" == "$want_tags" ]] || err+="events seq scan per tag:"$'\n'"  got  $out"$'\n'"  want $want_tags"$'\n'
  out=$(q "SELECT coalesce(string_agg(tag || '=' || n || '/' || s, ' ' ORDER BY tag COLLATE \"C\"), '')
           FROM (SELECT tag, count(*) AS n, sum(n)::bigint AS s FROM noidx GROUP BY 1) x;" 2>&1)
  [[ "$out" == "$want_tags" ]] || err+="noidx seq scan per tag:"$'\n'"  got  $out"$'\n'"  want $want_tags"$'\n'
  out=$(q "SET enable_seqscan = off; SET enable_bitmapscan = off;
           SELECT count(*) || ' ' || coalesce(sum(amount)::bigint, 0) FROM events
           WHERE event_id >= '00000000-0000-0000-0000-000000000000';" 2>&1)
  [[ "$out" == "$want_total" ]] || err+="index scan on event_id: got '$out' want '$want_total'"$'\n'
  out=$(q "SELECT count(*) || ' ' || coalesce(sum(amount)::bigint, 0)
           FROM ledger_am.time_range(NULL::events);" 2>&1)
  [[ "$out" == "$want_total" ]] || err+="range scan time_range: got '$out' want '$want_total'"$'\n'
  local acct seqacct aborted
  acct=$(q "SELECT count(*) FROM ledger_am.account_events(NULL::events, '1003');" 2>&1)
  seqacct=$(q "SET ledger_am.enable_range_scan = off;
               SELECT count(*) FROM events WHERE debit_account = 1003 OR credit_account = 1003;" 2>&1)
  [[ "$acct" == "$seqacct" ]] || err+="range scan account_events(1003): $acct rows, seq scan: $seqacct"$'\n'
  aborted=$(IFS=,; echo "${ABORTED[*]}")
  out=$(q "SELECT string_agg(DISTINCT metadata->>'batch', ',') FROM events
           WHERE metadata->>'batch' = ANY ('{$aborted}'::text[]);" 2>&1)
  [[ -z "$out" ]] || err+="aborted tags visible: $out"$'\n'
  out=$(q "SELECT count(*) FROM (SELECT bt_index_check(i.indexrelid, true) FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
           WHERE i.indrelid = 'events'::regclass AND a.amname = 'btree') x;" 2>&1)
  [[ "$out" == 2 ]] && out=t
  [[ "$out" == t ]] || err+="amcheck bt_index_check(heapallindexed): $out"$'\n'
  [[ -z "$err" ]] && return 0
  echo "$err"
  return 1
}

wait_worker() {
  cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM events" -d "$DB" -qAt >/dev/null 2>&1
}

# segments: the pg_xact segment files, space separated.
segments() { ls "$DIR/pg_xact" | sort | tr '\n' ' ' | sed 's/ $//'; }
seg_of() { printf '%04X' $(( ($1 & 0xFFFFFFFF) >> 20 )); }

# vacuum_all_dbs: VACUUM (FREEZE) of every database, then CHECKPOINT.
vacuum_all_dbs() {
  cluster_as_pg vacuumdb -h "$CLUSTER_SOCKDIR" -p "$PORT" -U postgres --all --freeze -q 2>&1 &&
    q "CHECKPOINT"
}

# vacuum_all_but_ledger: VACUUM (FREEZE) every table of every database except
# ledger_am tables, then CHECKPOINT (pg_xact may be truncated as far as the
# ledger tables' relfrozenxid allows).
vacuum_all_but_ledger() {
  local d
  for d in template0 template1 postgres "$DB"; do
    q -d "$d" "SELECT format('VACUUM (FREEZE) %s', c.oid::regclass) FROM pg_class c
               WHERE c.relkind IN ('r', 'm', 't')
                 AND c.relam NOT IN (SELECT oid FROM pg_am WHERE amname = 'ledger_am')
               ORDER BY c.oid \\gexec" >/dev/null || return 1
  done
  q "CHECKPOINT"
}

# autovacuum_set on|off: reload with autovacuum on or off; off waits until
# no autovacuum worker runs.
autovacuum_set() {
  q "ALTER SYSTEM SET autovacuum = $1; SELECT pg_reload_conf();" >/dev/null
  if [[ $1 == off ]]; then
    for _ in $(seq 1 120); do
      [[ "$(q -d postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" == 0 ]] && return 0
      sleep 0.25
    done
    return 1
  fi
}

# jump: stop the server, move the xid counter STEP forward (pg_resetwal -e -x
# with the zero-filled pg_xact segment it needs), start it again.
jump() {
  local cur target epoch xid seg out
  cur=$(q "SELECT txid_current()") || return 1
  target=$(( cur + STEP ))
  epoch=$(( target >> 32 )); xid=$(( target & 0xFFFFFFFF ))
  if (( xid < 3 )); then xid=3; fi
  cluster_stop "$DIR" fast >/dev/null || return 1
  seg=$(seg_of "$xid")
  if [[ ! -e "$DIR/pg_xact/$seg" ]]; then
    cluster_as_pg dd if=/dev/zero of="$DIR/pg_xact/$seg" bs=8192 count=32 status=none || return 1
  fi
  out=$(cluster_as_pg pg_resetwal -e "$epoch" -x "$xid" "$DIR" 2>&1) || { echo "$out"; return 1; }
  cluster_start "$DIR" >/dev/null || return 1
  wait_worker
  JUMPED_TO=$(( (epoch << 32) + xid ))
}

echo "1..$PLAN"

# 1: cluster.
DIR=$(mktemp -d /tmp/ledger_am_t005.XXXXXX) || bail "mktemp failed"
rmdir "$DIR"
if out=$(cluster_init "$DIR" "$PORT" ledger_am 2>&1); then
  cat >>"$DIR/postgresql.conf" <<CONF
autovacuum = off
autovacuum_naptime = 1
autovacuum_freeze_max_age = 2000000000
autovacuum_vacuum_threshold = 1
autovacuum_vacuum_scale_factor = 0
autovacuum_vacuum_insert_threshold = 1
autovacuum_vacuum_insert_scale_factor = 0
autovacuum_analyze_threshold = 1
autovacuum_analyze_scale_factor = 0
autovacuum_vacuum_cost_delay = 0
log_autovacuum_min_duration = 0
max_wal_size = 256MB
CONF
  out=$(cluster_start "$DIR" 2>&1)
fi
cluster_env "$DIR"
if [[ -f "$DIR/postmaster.pid" ]] && q -d postgres "SELECT 1" >/dev/null 2>&1; then
  ok_if 0 "cluster starts (port $PORT), autovacuum settings in place"
else
  ok_if 1 "cluster starts (port $PORT)" "$out"
  bail "cluster did not start"
fi

# 2: database, tables, template0 connectable (so vacuumdb --all freezes it).
out=$(q -d postgres "CREATE DATABASE $DB; ALTER DATABASE template0 ALLOW_CONNECTIONS true;" 2>&1 &&
      cluster_psql_retry "$DIR" 60 "BEGIN;
        CREATE EXTENSION ledger_am; CREATE EXTENSION amcheck;
        SELECT ledger_am.create_events_table('events');
        CREATE TABLE noidx (tag text, n int) USING ledger_am;
        COMMIT;" -d "$DB" -qAt 2>&1)
if [[ $? -eq 0 ]]; then
  ok_if 0 "database $DB with events (indexes, range declaration) and noidx (no index)"
else
  ok_if 1 "database $DB with events and noidx" "$out"
  bail "no tables"
fi
START_XID=$(q "SELECT txid_current()")
diag "starting at full xid $START_XID; $CYCLES cycles of $STEP xids"

commit_batch c0 500
abort_batch a0 300
JUMPED_TO=$START_XID
out=$(verify); ok_if $? "initial batches: committed visible, aborted invisible" "$out"

for (( k = 1; k <= CYCLES; k++ )); do
  # f (of the previous cycle) + jump. Cycle 1 jumps from the initial state.
  pre_segs=$(segments)
  if ! jump; then
    bail "cycle $k: stop / pg_resetwal / start failed"
  fi
  diag "cycle $k: xid counter moved to $JUMPED_TO (epoch $((JUMPED_TO >> 32)), xid $((JUMPED_TO & 0xFFFFFFFF))); pg_xact: $pre_segs -> $(segments)"

  # a: every row right after the jump.
  out=$(verify); ok_if $? "cycle $k: after the jump every committed row is visible, no aborted row" "$out"

  # b: vacuum everything but the ledger tables; segments they need survive.
  need=""
  for x in "${PENDING_XIDS[@]}"; do need+="$(seg_of "$x") "; done
  need=$(tr ' ' '\n' <<<"$need" | sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//')
  out=$(vacuum_all_but_ledger 2>&1)
  # datfrozenxid of $DB is now held back only by the ledger tables
  dfx_before=$(q "SELECT age(datfrozenxid) FROM pg_database WHERE datname = '$DB'")
  segs=$(segments); missing=""
  for s in $need; do [[ " $segs " == *" $s "* ]] || missing+="$s "; done
  verr=$(verify)
  if [[ -z "$out" && -z "$missing" && -z "$verr" ]]; then
    ok_if 0 "cycle $k: other tables frozen + CHECKPOINT keep the pg_xact segments unfrozen ledger rows need ($need); rows intact"
  else
    ok_if 1 "cycle $k: other tables frozen + CHECKPOINT keep the pg_xact segments unfrozen ledger rows need ($need); rows intact" \
      "vacuum: $out"$'\n'"segments now: $segs; missing: $missing"$'\n'"$verr"
  fi

  # c: commit / abort / savepoint batches, then VACUUM FREEZE.
  commit_batch "c$k" 2000
  abort_batch "a$k" 3000
  q "BEGIN; $(batch_sql "s$k" 400) SAVEPOINT sp; $(batch_sql "r$k" 600) ROLLBACK TO sp; COMMIT;" >/dev/null &&
    EXPECT[s$k]=400
  ABORTED+=("r$k")
  # burn some xids so several pg_xact pages are in use
  q "DO \$\$ BEGIN FOR i IN 1..3000 LOOP PERFORM txid_current(); COMMIT; END LOOP; END \$\$;" >/dev/null
  read -r tot _ <<<"$(expected_total)"
  q "SELECT ledger_am.compact('events'), ledger_am.compact('noidx')" >/dev/null
  before=$(q "SELECT ledger_am.stored_rows('events') || ' ' || ledger_am.table_size('events') || ' ' ||
                     ledger_am.stored_rows('noidx') || ' ' || ledger_am.table_size('noidx')")
  vac=$(q "VACUUM (FREEZE, VERBOSE) events; VACUUM (FREEZE, VERBOSE) noidx;" 2>&1)
  q "SELECT ledger_am.compact('events'), ledger_am.compact('noidx')" >/dev/null
  after=$(q "SELECT ledger_am.stored_rows('events') || ' ' || ledger_am.table_size('events') || ' ' ||
                    ledger_am.stored_rows('noidx') || ' ' || ledger_am.table_size('noidx')")
  read -r sb bb nsb nbb <<<"$before"; read -r sa ba nsa nba <<<"$after"
  diag "cycle $k: events stored_rows $sb -> $sa, table_size $bb -> $ba bytes; noidx stored_rows $nsb -> $nsa, $nbb -> $nba bytes (visible rows $tot)"
  if [[ "$sa" == "$tot" && "$nsa" == "$tot" ]] && (( sb > sa && ba < bb && nba < nbb )); then
    ok_if 0 "cycle $k: VACUUM reclaims the aborted rows (stored_rows = visible rows, fewer bytes)"
  else
    ok_if 1 "cycle $k: VACUUM reclaims the aborted rows (stored_rows = visible rows, fewer bytes)" \
      "before: $before"$'\n'"after: $after"$'\n'"visible: $tot"$'\n'"$vac"
  fi
  ages=$(q "SELECT string_agg(age(relfrozenxid)::text, ' ' ORDER BY relname) FROM pg_class
            WHERE relname IN ('events', 'noidx')")
  read -r age1 age2 <<<"$ages"
  if (( age1 < 1000 && age2 < 1000 )); then
    ok_if 0 "cycle $k: VACUUM FREEZE leaves age(relfrozenxid) small (events $age1, noidx $age2)"
  else
    ok_if 1 "cycle $k: VACUUM FREEZE leaves age(relfrozenxid) small" "ages: $ages"$'\n'"$vac"
  fi

  segs_before=$(segments)
  out=$(vacuum_all_dbs 2>&1)
  segs_after=$(segments)
  dfx_after=$(q "SELECT max(age(datfrozenxid)) FROM pg_database")
  cur_seg=$(seg_of "$(q "SELECT txid_current()")")
  stale=""
  for s in $segs_after; do
    # any segment left must be the current one or the one just before it
    if [[ "$s" != "$cur_seg" && $(( 16#$s )) -ne $(( (16#$cur_seg + 4095) % 4096 )) ]]; then stale+="$s "; fi
  done
  diag "cycle $k: age(datfrozenxid) of $DB after the jump $dfx_before; after VACUUM FREEZE of everything: max over all databases $dfx_after; pg_xact: $segs_before -> $segs_after"
  if [[ -z "$out" && -z "$stale" ]] && (( dfx_after < 100000 )); then
    ok_if 0 "cycle $k: VACUUM FREEZE of every database + CHECKPOINT: datfrozenxid advances, pg_xact truncated to $segs_after"
  else
    ok_if 1 "cycle $k: VACUUM FREEZE of every database + CHECKPOINT: datfrozenxid advances, pg_xact truncated" \
      "vacuumdb: $out"$'\n'"datfrozenxid max age: $dfx_after"$'\n'"segments left: $segs_after (stale: $stale)"
  fi
  out=$(verify); ok_if $? "cycle $k: after freezing and pg_xact truncation every row is correct" "$out"

  # d: aggressive autovacuum under a short commit/abort workload.
  avc0=$(q "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'events'")
  autovacuum_set on
  for i in 1 2 3 4 5 6; do
    commit_batch "w${k}_$i" 100
    abort_batch "x${k}_$i" 100
    sleep 0.3
  done
  avc=$avc0
  for _ in $(seq 1 80); do
    avc=$(q "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'events'")
    (( avc > avc0 )) && break
    sleep 0.25
  done
  autovacuum_set off
  out=$(verify)
  if (( avc > avc0 )) && [[ -z "$out" ]]; then
    ok_if 0 "cycle $k: autovacuum vacuumed events (autovacuum_count $avc0 -> $avc); rows correct"
  else
    ok_if 1 "cycle $k: autovacuum vacuumed events (autovacuum_count $avc0 -> $avc); rows correct" "$out"
  fi

  # e: two open transactions during a database-wide VACUUM FREEZE.
  bg_start fx; bg_start fy
  bg_send fx "BEGIN;"; bg_send fx "$(batch_sql "f$k" 700)"
  bg_send fy "BEGIN;"; bg_send fy "$(batch_sql "g$k" 500)"
  bg_sync fx; bg_sync fy
  X=$(bg_xid fx); Y=$(bg_xid fy)
  out=$(vacuum_all_dbs 2>&1)
  rel=$(q "SELECT bool_and(age(relfrozenxid) >= age('$X'::xid) AND age(relfrozenxid) >= age('$Y'::xid))
           FROM pg_class WHERE relname IN ('events', 'noidx')" 2>&1)
  dat=$(q "SELECT age(datfrozenxid) >= age('$X'::xid) FROM pg_database WHERE datname = '$DB'" 2>&1)
  bg_send fx "COMMIT;"; bg_send fy "ROLLBACK;"
  bg_close fx; errs=$BG_OUT; bg_close fy; errs+=$BG_OUT
  EXPECT[f$k]=700; ABORTED+=("g$k")
  if [[ -n "$X" && -n "$Y" && "$rel" == t && "$dat" == t && -z "$out" && -z "$errs" ]]; then
    ok_if 0 "cycle $k: VACUUM FREEZE with transactions $X, $Y open keeps relfrozenxid and datfrozenxid at or before them"
  else
    ok_if 1 "cycle $k: VACUUM FREEZE with open transactions keeps relfrozenxid at or before them" \
      "X=$X Y=$Y relfrozenxid ok: $rel datfrozenxid ok: $dat"$'\n'"$out"$'\n'"$errs"
  fi
  # The other tables of $DB move on, so only the ledger tables hold datfrozenxid back.
  vacuum_all_but_ledger >/dev/null 2>&1

  # f: late batches, not vacuumed before the next jump.
  commit_batch "l$k" 800
  abort_batch "m$k" 600
  lx=$(q "SELECT txid_current() % 4294967296")
  PENDING_XIDS=("$X" "$Y" "$lx")
  out=$(verify); ok_if $? "cycle $k: in-flight and late batches correct before the stop" "$out"
done

# Final phase: autovacuum alone prevents wraparound after one more jump.
q "ALTER SYSTEM SET autovacuum = on; ALTER SYSTEM SET autovacuum_freeze_max_age = 100000;" >/dev/null
pre_segs=$(segments)
if ! jump; then bail "final jump failed"; fi
diag "final: xid counter moved to $JUMPED_TO; pg_xact: $pre_segs -> $(segments)"
out=$(verify); ok_if $? "final: after the last jump every row is correct (autovacuum running)" "$out"
ok_all=1
for _ in $(seq 1 240); do
  maxage=$(q "SELECT max(age(datfrozenxid)) FROM pg_database")
  cur_seg=$(seg_of "$(q "SELECT txid_current()")")
  stale=""
  for s in $(segments); do
    [[ "$s" != "$cur_seg" && $(( 16#$s )) -ne $(( (16#$cur_seg + 4095) % 4096 )) ]] && stale+="$s "
  done
  if (( maxage < 200000 )) && [[ -z "$stale" ]]; then ok_all=0; break; fi
  sleep 0.5
done
ok_if $ok_all "final: autovacuum alone advances every datfrozenxid (max age $maxage) and truncates pg_xact to $(segments)" \
  "stale segments: $stale"
out=$(verify); ok_if $? "final: every row correct after autovacuum's anti-wraparound vacuums" "$out"
END_XID=$(q "SELECT txid_current()")
diag "xids consumed: $(( END_XID - START_XID )) (full xid $START_XID -> $END_XID, $(( END_XID >> 32 )) wraparound(s) of the 32-bit counter)"

# Autovacuum ran on the ledger tables (pg_stat_user_tables; ledger_am's
# VACUUM does not write the "automatic vacuum of table" log line, only
# ANALYZE's "automatic analyze" line appears), and no ERROR anywhere.
log=$DIR/server.log
n_an=$(grep -c 'automatic analyze of table "ledger.public.\(events\|noidx\)"' "$log")
stats=$(q "SELECT string_agg(relname || ' autovacuum_count=' || autovacuum_count || ' autoanalyze_count='
                             || autoanalyze_count, ', ' ORDER BY relname)
           FROM pg_stat_user_tables WHERE relname IN ('events', 'noidx')")
diag "$stats; $n_an 'automatic analyze' log lines for ledger tables"
if q "SELECT bool_and(autovacuum_count > 0 AND autoanalyze_count > 0) FROM pg_stat_user_tables
      WHERE relname IN ('events', 'noidx')" | grep -qx t && (( n_an > 0 )); then
  ok_if 0 "autovacuum and autoanalyze ran on both ledger tables"
else
  ok_if 1 "autovacuum and autoanalyze ran on both ledger tables" "$stats; analyze log lines: $n_an"
fi
errs=$(grep -E '(ERROR|PANIC):' "$log" | head -n 20)
ok_if "$([[ -z "$errs" ]] && echo 0 || echo 1)" "server log has no ERROR or PANIC (autovacuum included)" "$errs"
warns=$(grep -E 'WARNING:' "$log" | sort | uniq -c | head -n 5)
[[ -n "$warns" ]] && diag "warnings in the server log:"$'\n'"$warns"

finish
