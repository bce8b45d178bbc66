#!/usr/bin/env bash
# 009_large_table.sh: ledger_am tables whose row ids run past the first 1 GB
# virtual segment (TAP output).
#
#   bash test/t/009_large_table.sh                     (as root; ~30 s)
#   LARGE_MID_ROWS=2000000 bash test/t/009_large_table.sh   (denser, ~3 min)
#
# Row id r is TID (r / 291, r % 291 + 1); block 131072 (row id 38,141,952)
# is the first block of the second 1 GB segment file. Instead of loading 40M
# rows, the table's row id counter is moved forward with
# ledger_am.set_next_row_id(): 1000 "near" rows get ids 0..999, then
# LARGE_MID_ROWS (200,000) "mid" rows start at id 38,000,000 -- dense on both
# sides of the boundary -- and 1000 "far" rows start at id 40,000,000.
# Cluster on port 54389 (T009_PORT). Checked:
#   boundary   the TIDs of the rows just before and after the boundary;
#              TID range scans across it;
#   scans      seq, parallel seq, btree index, index-only and bitmap heap
#              scans all count and sum the same rows; bitmap and index
#              range conditions straddling the boundary; btree lookups of
#              rows on both sides, near and far;
#   DDL        CREATE INDEX (serial and parallel build) after the rows are in;
#   sampling   TABLESAMPLE SYSTEM and BERNOULLI give plausible counts;
#   ANALYZE    reltuples within 25% of the truth, the id histogram spans
#              both sides of the boundary, estimates within a factor of 2;
#   range      ledger_range scans (account, time) agree with seq scans;
#   storage    the virtual segment files are sparse (segment 0 full size,
#              segment 1 present, almost no disk blocks);
#   VACUUM     an aborted batch past the boundary is reclaimed and its index
#              entries removed;
#   restart    after a restart all of the above still agree.
# KEEP_CLUSTER=1 keeps the data directory. Exits non-zero on any failure.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T009_PORT:-54389}
MID=${LARGE_MID_ROWS:-200000}
MID_START=38000000
FAR_START=$(( MID_START + MID > 40000000 ? MID_START + MID : 40000000 ))
BOUNDARY=38141952            # 131072 * 291: first row id of segment 1
PLAN=16
TESTNO=0
FAILED=0
DIR=""

# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"
expect_eq() {
  if [[ "$2" == "$3" ]]; then ok_if 0 "$1"; else ok_if 1 "$1" "got:  '$2'"$'\n'"want: '$3'"; fi
}
finish() {
  tap_server_log "$DIR" 20
  tap_exit 009_large_table
}
cleanup() {
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_drop_cluster "$DIR" "cluster kept in $DIR"
  fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

q() { cluster_psql "$DIR" -d postgres -qAt -v ON_ERROR_STOP=1 <<<"$1"; }
# q1 SQL: like q, all output lines joined with spaces.
q1() { q "$1" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
# plan_of SQL: the plan's node names, one line.
plan_of() { q "EXPLAIN (COSTS OFF) $1" 2>&1 | sed 's/^ *//; s/->  //' | tr '\n' ';'; }

N_NEAR=1000
N_FAR=1000
TOTAL=$(( N_NEAR + MID + N_FAR ))
# ids: near 1..1000, mid 1001..1000+MID, far after that; row ids in the same order.
LAST_MID_ID=$(( N_NEAR + MID ))
# the id stored at row id r (mid rows only)
id_at() { echo $(( $1 - MID_START + N_NEAR + 1 )); }
tid_of() { echo "($(( $1 / 291 )),$(( $1 % 291 + 1 )))"; }
SUM=$(( TOTAL * (TOTAL + 1) / 2 ))

echo "1..$PLAN"

# 1: cluster, table, rows.
DIR=$(mktemp -d /tmp/ledger_am_t009.XXXXXX) || bail "mktemp failed"
rmdir "$DIR"
if out=$(cluster_init "$DIR" "$PORT" ledger_am 2>&1); then
  printf 'autovacuum = off\nmax_parallel_workers_per_gather = 2\n' >>"$DIR/postgresql.conf"
  out=$(cluster_start "$DIR" 2>&1)
fi
cluster_env "$DIR"
t0=$(date +%s)
out=$(cluster_psql_retry "$DIR" 60 "BEGIN;
  CREATE EXTENSION ledger_am; CREATE EXTENSION amcheck;
  CREATE TABLE big (id bigint NOT NULL, acct int NOT NULL, ts timestamptz NOT NULL, v text)
    USING ledger_am;
  CREATE INDEX big_range ON big USING ledger_range (acct, ts);
  INSERT INTO big SELECT g, g % 100, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 s', 'near ' || g
    FROM generate_series(1, $N_NEAR) g;
  COMMIT;
  SELECT ledger_am.set_next_row_id('big', $MID_START);
  INSERT INTO big SELECT g, g % 100, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 s', 'mid ' || g
    FROM generate_series($N_NEAR + 1, $LAST_MID_ID) g;
  SELECT ledger_am.set_next_row_id('big', $FAR_START);
  INSERT INTO big SELECT g, g % 100, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 s', 'far ' || g
    FROM generate_series($LAST_MID_ID + 1, $TOTAL) g;
  SELECT ledger_am.next_row_id('big');" -d postgres -qAt 2>&1)
rc=$?
if [[ $rc -eq 0 && "$(tail -n 1 <<<"$out")" == $(( FAR_START + N_FAR )) ]]; then
  ok_if 0 "$TOTAL rows: ids 0..999, $MID_START..$(( MID_START + MID - 1 )), $FAR_START..$(( FAR_START + N_FAR - 1 )) ($(( $(date +%s) - t0 )) s)"
else
  ok_if 1 "$TOTAL rows at row ids past the 1 GB boundary" "$out"
  bail "could not load the table"
fi

# 2: TIDs at the boundary and TID range scans across it.
b0=$(( BOUNDARY - 1 )); b1=$BOUNDARY
got=$(q1 "SELECT ctid FROM big WHERE id IN ($(id_at "$b0"), $(id_at "$b1"), 1, $TOTAL) ORDER BY id;
          SELECT count(*) FROM big WHERE ctid >= '(131071,0)' AND ctid < '(131073,0)';
          SELECT min(id) || '-' || max(id) FROM big WHERE ctid >= '(131072,0)' AND ctid < '(131072,292)';")
want="(0,1) $(tid_of "$b0") $(tid_of "$b1") $(tid_of $(( FAR_START + N_FAR - 1 ))) 582 $(id_at "$b1")-$(id_at $(( b1 + 290 )))"
expect_eq "TIDs around block 131072 are $(tid_of "$b0") and $(tid_of "$b1"); a TID range scan across it finds both blocks" "$got" "$want"

# 3: seq scan and parallel seq scan.
got=$(q1 "SELECT count(*) || ' ' || sum(id) FROM big;
          SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
          SELECT count(*) || ' ' || sum(id) FROM big;")
ppar=$(q "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
          EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM big" 2>&1 | tr '\n' ';')
if [[ "$got" == "$TOTAL $SUM $TOTAL $SUM" && "$ppar" == *"Parallel Seq Scan"* ]]; then
  ok_if 0 "seq scan and parallel seq scan: $TOTAL rows, sum $SUM"
else
  ok_if 1 "seq scan and parallel seq scan agree" "got '$got' want '$TOTAL $SUM $TOTAL $SUM'"$'\n'"plan: $ppar"
fi

# 4: CREATE INDEX, serial and parallel.
t0=$(date +%s.%N)
out=$(q "SET max_parallel_maintenance_workers = 0; CREATE INDEX big_id_serial ON big (id);" 2>&1); rc1=$?
t1=$(date +%s.%N)
out2=$(q "SET max_parallel_maintenance_workers = 2; SET min_parallel_table_scan_size = 0;
          SET maintenance_work_mem = '64MB'; CREATE INDEX big_id ON big (id);" 2>&1); rc2=$?
t2=$(date +%s.%N)
chk=$(q1 "SELECT count(*) FROM (SELECT bt_index_check(c.oid, true) FROM pg_class c
          WHERE c.relname IN ('big_id', 'big_id_serial')) x")
diag "CREATE INDEX: serial $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, parallel $(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b-a}') s"
if [[ $rc1 -eq 0 && $rc2 -eq 0 && "$chk" == 2 ]]; then
  ok_if 0 "CREATE INDEX (serial and parallel build) over the sparse row id space; amcheck heapallindexed passes"
else
  ok_if 1 "CREATE INDEX (serial and parallel build); amcheck" "$out"$'\n'"$out2"$'\n'"amcheck: $chk"
fi
q "DROP INDEX big_id_serial" >/dev/null

# 5: btree lookups of rows on both sides of the boundary, near and far.
ids="1 $N_NEAR $(id_at "$MID_START") $(id_at "$b0") $(id_at "$b1") $LAST_MID_ID $(( LAST_MID_ID + 1 )) $TOTAL"
got=$(q1 "SET enable_seqscan = off; SET enable_bitmapscan = off;
          $(for i in $ids; do echo "SELECT id || ':' || ctid || ':' || v FROM big WHERE id = $i;"; done)")
want=""
for i in $ids; do
  if (( i <= N_NEAR )); then r=$(( i - 1 )); p=near
  elif (( i <= LAST_MID_ID )); then r=$(( MID_START + i - N_NEAR - 1 )); p=mid
  else r=$(( FAR_START + i - LAST_MID_ID - 1 )); p=far; fi
  want+="$i:$(tid_of "$r"):$p $i "
done
want=${want% }
iplan=$(q "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) SELECT v FROM big WHERE id = 5" | tr '\n' ';')
if [[ "$got" == "$want" && "$iplan" == *"Index Scan using big_id"* ]]; then
  ok_if 0 "btree index scans find rows on both sides of the boundary, near and far, at the right TIDs"
else
  ok_if 1 "btree index scans find rows on both sides of the boundary" "got  '$got'"$'\n'"want '$want'"$'\n'"plan: $iplan"
fi

# 6: counts via index-only, index, bitmap and seq scans agree.
cnt() {   # cnt SETTINGS WHERE: "count sum" and the plan
  local r p
  r=$(q1 "$1 SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM big WHERE $2;")
  p=$(q "$1 EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM big WHERE $2;" 2>&1 | tr '\n' ';')
  echo "$r|$p"
}
IOS="SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_indexscan = on; SET enable_indexonlyscan = on;"
IXS="SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;"
BMS="SET enable_seqscan = off; SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = on;"
SEQ="SET enable_seqscan = on; SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; SET max_parallel_workers_per_gather = 0;"
err=""
for w in "id > 0" "id BETWEEN $(( $(id_at "$b0") - 5000 )) AND $(( $(id_at "$b1") + 5000 ))" \
         "id > $(( LAST_MID_ID - 10 ))" "id <= $(( N_NEAR + 3 ))"; do
  ios=$(cnt "$IOS" "$w"); ixs=$(cnt "$IXS" "$w"); bms=$(cnt "$BMS" "$w"); seq=$(cnt "$SEQ" "$w")
  [[ "${ios%%|*}" == "${seq%%|*}" && "${ixs%%|*}" == "${seq%%|*}" && "${bms%%|*}" == "${seq%%|*}" ]] ||
    err+="WHERE $w: index-only ${ios%%|*}, index ${ixs%%|*}, bitmap ${bms%%|*}, seq ${seq%%|*}"$'\n'
  [[ "${ios#*|}" == *"Index Only Scan"* && "${ixs#*|}" == *"Index Scan"* &&
     "${bms#*|}" == *"Bitmap Heap Scan"* && "${seq#*|}" == *"Seq Scan"* ]] ||
    err+="WHERE $w: unexpected plans: ${ios#*|} / ${ixs#*|} / ${bms#*|} / ${seq#*|}"$'\n'
done
seq_all=$(cnt "$SEQ" "id > 0")
if [[ -z "$err" && "${seq_all%%|*}" == "$TOTAL $SUM" ]]; then
  ok_if 0 "index-only, index, bitmap heap and seq scans agree on 4 ranges (all rows, across the boundary, far tail, near)"
else
  ok_if 1 "index-only, index, bitmap heap and seq scans agree" "$err"
fi

# 7: bitmap scans over non-contiguous TIDs on both sides (BitmapOr).
w="id IN ($(id_at "$b0"), $(id_at "$b1"), 7, $TOTAL) OR id BETWEEN $(( $(id_at "$b1") + 100 )) AND $(( $(id_at "$b1") + 199 ))"
bms=$(cnt "$BMS" "$w"); seq=$(cnt "$SEQ" "$w")
want_sum=$(( $(id_at "$b0") + $(id_at "$b1") + 7 + TOTAL + 100 * ($(id_at "$b1") + 100) + 4950 ))
if [[ "${bms%%|*}" == "104 $want_sum" && "${seq%%|*}" == "104 $want_sum" && "${bms#*|}" == *"Bitmap Heap Scan"* ]]; then
  ok_if 0 "a bitmap heap scan of scattered TIDs on both sides of the boundary finds exactly 104 rows"
else
  ok_if 1 "a bitmap heap scan of scattered TIDs on both sides of the boundary" "bitmap ${bms%%|*}, seq ${seq%%|*}, want 104 $want_sum"$'\n'"${bms#*|}"
fi

# 8-9: TABLESAMPLE.
sys=$(q1 "SELECT count(*) FROM big TABLESAMPLE SYSTEM (10) REPEATABLE (1);
          SELECT count(*) FROM big TABLESAMPLE SYSTEM (10) REPEATABLE (1);
          SELECT count(*) FROM big TABLESAMPLE SYSTEM (100);
          SELECT count(*) FROM big TABLESAMPLE SYSTEM (0);")
read -r s1 s2 s100 s0 <<<"$sys"
lo=$(( TOTAL / 20 )); hi=$(( TOTAL * 3 / 20 ))
if (( s1 == s2 && s1 >= lo && s1 <= hi && s100 == TOTAL && s0 == 0 )); then
  ok_if 0 "TABLESAMPLE SYSTEM (10) samples $s1 rows (expected about $(( TOTAL / 10 ))), repeatable; SYSTEM (100) all, (0) none"
else
  ok_if 1 "TABLESAMPLE SYSTEM plausible" "SYSTEM(10) $s1/$s2 (want $lo..$hi), SYSTEM(100) $s100 (want $TOTAL), SYSTEM(0) $s0"
fi
ber=$(q1 "SELECT count(*) FROM big TABLESAMPLE BERNOULLI (10) REPEATABLE (3);
          SELECT count(*) FILTER (WHERE v LIKE 'near%') || ' ' || count(*) FILTER (WHERE v LIKE 'mid%') || ' ' ||
                 count(*) FILTER (WHERE v LIKE 'far%') FROM big TABLESAMPLE BERNOULLI (50) REPEATABLE (3);")
read -r b10 bn bm bf <<<"$ber"
lo=$(( TOTAL * 9 / 100 )); hi=$(( TOTAL * 11 / 100 ))
if (( b10 >= lo && b10 <= hi && bn > 400 && bn < 600 && bf > 400 && bf < 600 && bm > MID * 45 / 100 && bm < MID * 55 / 100 )); then
  ok_if 0 "TABLESAMPLE BERNOULLI (10) samples $b10 rows; BERNOULLI (50) samples near/mid/far $bn/$bm/$bf"
else
  ok_if 1 "TABLESAMPLE BERNOULLI plausible" "BERNOULLI(10) $b10 (want $lo..$hi); BERNOULLI(50) near/mid/far $bn/$bm/$bf"
fi

# 10: ANALYZE.
t0=$(date +%s.%N)
q "ANALYZE big" >/dev/null
ta=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
st=$(q1 "SELECT reltuples::bigint || ' ' || relpages FROM pg_class WHERE relname = 'big';
         SELECT (histogram_bounds::text::bigint[])[1] < $(id_at "$b0") AND
                (histogram_bounds::text::bigint[])[array_length(histogram_bounds::text::bigint[], 1)] > $(id_at "$b1")
         FROM pg_stats WHERE tablename = 'big' AND attname = 'id';")
read -r reltuples relpages hist <<<"$st"
est=$(q "EXPLAIN SELECT * FROM big WHERE id > $(( LAST_MID_ID - MID / 2 ))" | head -n 1 | sed -n 's/.*rows=\([0-9]*\).*/\1/p')
diag "ANALYZE: ${ta} s, reltuples $reltuples (true $TOTAL), relpages $relpages; estimate for the upper half of the mid rows: $est (true $(( MID / 2 + N_FAR )))"
if (( reltuples > TOTAL * 3 / 4 && reltuples < TOTAL * 5 / 4 )) && [[ "$hist" == t ]] &&
   (( est > (MID / 2 + N_FAR) / 2 && est < (MID / 2 + N_FAR) * 2 )); then
  ok_if 0 "ANALYZE: reltuples $reltuples within 25% of $TOTAL, histogram spans both sides, estimates sensible"
else
  ok_if 1 "ANALYZE gives sensible reltuples and statistics" "reltuples $reltuples, relpages $relpages, histogram spans: $hist, estimate $est"
fi

# 11: range scans agree with seq scans.
got=$(q1 "SELECT count(*) || ' ' || sum(id) FROM ledger_am.account_events(NULL::big, '7');
          SET ledger_am.enable_range_scan = off;
          SELECT count(*) || ' ' || sum(id) FROM big WHERE acct = 7;
          RESET ledger_am.enable_range_scan;
          SELECT string_agg(id::text, ',' ORDER BY ts DESC) FROM (SELECT id, ts FROM big ORDER BY ts DESC LIMIT 5) s;
          SELECT count(*) FROM big WHERE ts >= timestamptz '2024-01-01 00:00:00+00' + $(( $(id_at "$b0") - 100 )) * interval '1 s'
                                     AND ts <  timestamptz '2024-01-01 00:00:00+00' + $(( $(id_at "$b1") + 100 )) * interval '1 s';")
read -r rc rs sc ss last5 win <<<"$got"
rplan=$(plan_of "SELECT * FROM big WHERE acct = 7 ORDER BY ts DESC LIMIT 5")
want_last5="$TOTAL,$(( TOTAL - 1 )),$(( TOTAL - 2 )),$(( TOTAL - 3 )),$(( TOTAL - 4 ))"
if [[ "$rc $rs" == "$sc $ss" && "$rc" == $(( TOTAL / 100 )) && "$last5" == "$want_last5" && "$win" == 201 && "$rplan" == *LedgerRangeScan* ]]; then
  ok_if 0 "ledger_range scans (account, newest first, a time window across the boundary) agree with seq scans"
else
  ok_if 1 "ledger_range scans agree with seq scans" "account_events $rc/$rs, seq $sc/$ss, last5 $last5 (want $want_last5), window $win (want 201)"$'\n'"plan: $rplan"
fi

# 12: the virtual segment files are sparse.
relpath=$(q "SELECT pg_relation_filepath('big')")
seg0="$DIR/$relpath"; seg1="$DIR/$relpath.1"
if [[ -f "$seg1" ]]; then
  app=$(( $(stat -c %s "$seg0") + $(stat -c %s "$seg1") ))
  disk=$(( ( $(stat -c %b "$seg0") + $(stat -c %b "$seg1") ) * 512 ))
  diag "main fork: $(stat -c %s "$seg0") + $(stat -c %s "$seg1") bytes apparent, $disk bytes on disk; pg_relation_size $(q "SELECT pg_relation_size('big')"); ledger_am.table_size $(q "SELECT ledger_am.table_size('big')")"
  if (( app >= 1073741824 && disk < 1048576 )); then
    ok_if 0 "virtual segment files: segment 0 at 1 GB and segment 1 present, $app bytes apparent, $disk bytes on disk (sparse)"
  else
    ok_if 1 "virtual segment files are sparse" "apparent $app, on disk $disk"
  fi
else
  ok_if 1 "virtual segment files exist past the boundary" "no $seg1 (relpath $relpath)"
fi

# 13: VACUUM reclaims an aborted batch past the boundary, with its index entries.
before=$(q "SELECT ledger_am.stored_rows('big')")
q "BEGIN; INSERT INTO big SELECT g, 1, now(), 'aborted' FROM generate_series(-5000, -1) g; ROLLBACK;" >/dev/null
mid=$(q "SELECT ledger_am.stored_rows('big')")
q "VACUUM big" >/dev/null
got=$(q1 "SELECT ledger_am.stored_rows('big');
          SET enable_seqscan = off; SET enable_bitmapscan = off;
          SELECT count(*) FROM big WHERE id < 0;
          SELECT count(*) FROM big WHERE id > 0;
          SELECT count(*) FROM (SELECT bt_index_check('big_id'::regclass, true)) x;")
if [[ "$mid" == $(( before + 5000 )) && "$got" == "$before 0 $TOTAL 1" ]]; then
  ok_if 0 "5000 aborted rows past the boundary: stored_rows $before -> $mid -> $before after VACUUM; index consistent"
else
  ok_if 1 "VACUUM reclaims an aborted batch past the boundary" "stored $before -> $mid; after: '$got' (want '$before 0 $TOTAL 1')"
fi
diag "frozen: age(relfrozenxid) = $(q "SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'big'")"

# 14: new rows keep going after the far rows.
got=$(q1 "INSERT INTO big VALUES ($(( TOTAL + 1 )), 1, now(), 'new') RETURNING ctid;")
expect_eq "a new row gets the next row id ($(( FAR_START + N_FAR + 5000 )), TID $(tid_of $(( FAR_START + N_FAR + 5000 ))))" \
  "$got" "$(tid_of $(( FAR_START + N_FAR + 5000 )))"
TOTAL=$(( TOTAL + 1 )); SUM=$(( SUM + TOTAL ))

# 15-16: after a restart.
cluster_stop "$DIR" fast >/dev/null 2>&1
cluster_start "$DIR" >/dev/null 2>&1
cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM big" -d postgres -qAt >/dev/null 2>&1
err=""
for s in "$IOS" "$IXS" "$BMS" "$SEQ"; do
  r=$(cnt "$s" "id > 0")
  [[ "${r%%|*}" == "$TOTAL $SUM" ]] || err+="${r%%|*} via ${r#*|}"$'\n'
done
if [[ -z "$err" ]]; then
  ok_if 0 "after a restart index-only, index, bitmap and seq scans count $TOTAL rows"
else
  ok_if 1 "after a restart all scans agree" "$err"
fi
got=$(q1 "SELECT count(*) FROM big TABLESAMPLE SYSTEM (100);
          SELECT id FROM big WHERE ctid = '$(tid_of "$b1")';
          SELECT count(*) FROM ledger_am.time_range(NULL::big);")
expect_eq "after a restart: TABLESAMPLE, TID lookup at the boundary and a full range scan" "$got" "$TOTAL $(id_at "$b1") $TOTAL"

finish
