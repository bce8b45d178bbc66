#!/usr/bin/env bash
# 003_dump_restore.sh: pg_dump / pg_restore of ledger_am tables (TAP output).
#
#   bash test/t/003_dump_restore.sh        (as root; the cluster runs as postgres)
#
# Starts a throwaway cluster (port 54351, T003_PORT to override) with
# shared_preload_libraries='ledger_am'. Database t003_src gets:
#   events      the canonical events table, 5000 rows
#   odd         a ledger_am table with odd types (enum, composite, domain,
#               arrays, json/jsonb, xml, ranges, bytea, NaN/Infinity floats,
#               text with tabs, newlines, backslashes, quotes, unicode, a 100 kB
#               value), NULLs in every column, a dropped column and a column
#               added later with a default; btree, expression, partial and GIN
#               indexes
#   heap_table  a populated heap table with indexes, converted with
#               ALTER TABLE heap_table SET ACCESS METHOD ledger_am
#   pevents     a table partitioned by time into two ledger_am partitions,
#               declared once on the parent with a ledger_range index
# Then `pg_dump -Fc` + `pg_restore` into t003_fc and `pg_dump` (plain SQL) +
# psql into t003_plain. In both: the same row counts and
# md5(string_agg(t::text, ',' ORDER BY key)) as the source, table AM ledger_am,
# the same index definitions, amcheck passes, queries forced onto each index
# return the source's answers, UPDATE/DELETE are still refused, inserts work
# and the unique constraint holds. Finally DROP DATABASE t003_fc: the cluster
# keeps working and the source and t003_plain are intact, also after a restart.
# Prints "ok N - ..." / "not ok N - ..." lines and a summary; exits non-zero on
# any failure. KEEP_CLUSTER=1 keeps the data directory and the dumps.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/cluster.sh
source "$REPO_ROOT/scripts/cluster.sh"

PORT=${T003_PORT:-54351}
PLAN=19
TESTNO=0
FAILED=0
DIR=""
WORK=""
TABLES=(events odd heap_table pevents)
declare -A ORDER_KEY=([events]=event_id [odd]=id [heap_table]=id [pevents]=id)

# ok_if STATUS DESCRIPTION [DIAG]: one TAP line; STATUS 0 means pass.
# shellcheck source=tap.sh
source "$REPO_ROOT/test/t/tap.sh"

# expect_eq DESCRIPTION GOT WANT: pass when GOT equals WANT.
expect_eq() {
  if [[ "$2" == "$3" ]]; then ok_if 0 "$1"; else ok_if 1 "$1" "got:"$'\n'"$2"$'\n'"want:"$'\n'"$3"; fi
}


# finish: print the summary and exit with the overall status.
finish() { tap_exit 003_dump_restore; }

# cleanup: stop the cluster, remove the data dir and the dumps.
cleanup() {
  if [[ -n "$DIR" && -d "$DIR" ]]; then
    tap_server_log "$DIR" 30
    tap_drop_cluster "$DIR" "cluster kept in $DIR, dumps in $WORK" || return
  fi
  [[ -n "$WORK" && "$WORK" == /tmp/?* ]] && rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

# q DB SQL: run SQL on DB, print the unaligned, tuples-only result; fails on
# the first error. Every statement is limited to 120 s, so a hang fails the
# check instead of the whole suite.
q() {
  cluster_psql "$DIR" -d "$1" -qAt -v ON_ERROR_STOP=1 <<<"SET statement_timeout = '120s';
$2"
}

# wait_worker: after a server start, wait until the storage worker answers.
wait_worker() {
  cluster_psql_retry "$DIR" 60 "SELECT count(*) FROM events" -d t003_src -qAt >/dev/null 2>&1
}

# as_pg CMD...: a client program as postgres against our cluster.
as_pg() {
  cluster_env "$DIR" || return 1
  local prog=$1; shift
  cluster_as_pg "$prog" -h "$CLUSTER_SOCKDIR" -p "$CLUSTER_PORT" -U postgres "$@"
}

# state DB: one line per table: "table count md5", then the AM of each table.
state() {
  local t sql=""
  for t in "${TABLES[@]}"; do
    sql+="SELECT '$t ' || count(*) || ' ' || coalesce(md5(string_agg(x::text, ',' ORDER BY x.${ORDER_KEY[$t]})), '-') FROM $t x;"$'\n'
  done
  q "$1" "$sql"
}

# ams DB: "table am" per table.
ams() {
  q "$1" "SELECT c.relname || ' ' || a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
          WHERE c.relname IN ('events', 'odd', 'heap_table', 'pevents_2024_01', 'pevents_2024_02')
            AND c.relnamespace = 'public'::regnamespace
          ORDER BY 1"
}

# indexdefs DB: the index definitions of the public schema.
indexdefs() {
  q "$1" "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"
}

# Index probes: each query is run with sequential scans off (its plan must use
# an index, or the LedgerRangeScan of the events table's ledger_range
# declaration) and compared with the source database's answer without indexes
# and range scans.
PROBES=(
  "SELECT count(*) FROM events WHERE event_id IS NOT NULL"
  "SELECT md5(string_agg(event_id::text, ',' ORDER BY aggregate_version)) FROM events
     WHERE aggregate_id = '00000000-0000-4000-8000-000000000007' AND aggregate_version BETWEEN 10 AND 60"
  "SELECT count(*) || ' ' || min(amount) FROM events
     WHERE event_id = (SELECT event_id FROM events ORDER BY amount DESC LIMIT 1)"
  "SELECT count(*) || ' ' || coalesce(sum(amount), 0) FROM events
     WHERE credit_account = 7 AND ts >= '2024-01-01 10:00+00' AND ts < '2024-01-03 00:00+00'"
  "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM odd WHERE t = 'Row 17'"
  "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM odd WHERE lower(t) = 'row 42'"
  "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM odd WHERE jb @> '{\"even\": true}'"
  "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM heap_table WHERE id BETWEEN 100 AND 2000"
  "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM heap_table WHERE category = 'c3'"
  "SELECT count(*) || ' ' || coalesce(sum(id), 0) FROM pevents
     WHERE acct = 3 AND ts >= '2024-01-20 00:00+00' AND ts < '2024-02-03 00:00+00'"
)

# probe_answers DB MODE: one answer line per probe; MODE index forces index
# use (and prints "NOINDEX" for a probe whose plan uses none), MODE seq forbids
# indexes and range scans.
probe_answers() {
  local db=$1 mode=$2 p set plan ans
  if [[ $mode == index ]]; then
    set="SET enable_seqscan = off;"
  else
    set="SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;
         SET ledger_am.enable_range_scan = off;"
  fi
  for p in "${PROBES[@]}"; do
    ans=$(q "$db" "$set $p" 2>&1 | tr '\n' ' ')
    if [[ $mode == index ]]; then
      plan=$(q "$db" "$set EXPLAIN (COSTS OFF) $p" 2>&1)
      [[ "$plan" == *"Index"* || "$plan" == *"LedgerRangeScan"* ]] || ans="NOINDEX($(grep -o '[A-Z][a-z]* Scan[^(]*' <<<"$plan" | head -n 3 | tr '\n' ';')) $ans"
    fi
    echo "$ans"
  done
}

echo "1..$PLAN"

# 1: cluster.
DIR=$(mktemp -d /tmp/ledger_am_t003.XXXXXX) || bail "mktemp failed"
WORK=$(mktemp -d /tmp/ledger_am_t003_dump.XXXXXX) || bail "mktemp failed"
chown "$CLUSTER_OS_USER": "$WORK"; chmod 700 "$WORK"
tap_start_cluster "cluster with shared_preload_libraries=ledger_am starts (port $PORT)"

# 2: the source database.
SETUP_SQL=$(cat <<'SQL'
CREATE EXTENSION ledger_am;
CREATE EXTENSION amcheck;
SELECT ledger_am.create_events_table('events');
INSERT INTO events (event_type, aggregate_id, aggregate_version, ts, debit_account,
                    credit_account, tx_id, amount, currency, payload, metadata)
SELECT CASE WHEN i % 3 = 0 THEN 'withdrawal' ELSE 'deposit' END,
       ('00000000-0000-4000-8000-' || lpad(to_hex((i - 1) % 50 + 1), 12, '0'))::uuid,
       (i - 1) / 50 + 1,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
       CASE WHEN i % 7 = 0 THEN NULL ELSE 9000000 END, (i - 1) % 50 + 1,
       CASE WHEN i % 5 = 0 THEN NULL ELSE md5(i::text)::uuid END,
       round(i * 1.2345, 4), CASE WHEN i % 11 = 0 THEN NULL ELSE 'USD' END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'memo', 'ev ' || i) END,
       jsonb_build_object('source', 't003', 'n', i)
FROM generate_series(1, 5000) i;

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE odd (
  id int PRIMARY KEY,
  dropme text,
  i2 int2, f4 float4, f8 float8, n numeric, b bool, c3 char(3), vc varchar(10), t text,
  by bytea, d date, tm time, ttz timestamptz, iv interval, ip inet, cid cidr, mac macaddr,
  arr int[], tarr text[], j json, jb jsonb, tsv tsvector, u uuid, pt point, bx box,
  r int4range, bits bit varying(16), m mood, p pair, pi posint, big text, x xml
) USING ledger_am;
CREATE INDEX odd_t ON odd (t);
CREATE INDEX odd_lower_t ON odd (lower(t)) WHERE t IS NOT NULL;
CREATE INDEX odd_jb ON odd USING gin (jb);
INSERT INTO odd
SELECT i, 'dropped ' || i, (i * 7 % 30000)::int2, i / 3.0, 
       CASE i % 5 WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity'
                  WHEN 3 THEN '-0' ELSE (i * 1.5)::text END::float8,
       CASE i % 4 WHEN 0 THEN 'NaN'::numeric ELSE (i::numeric * 1e20 + 0.000001) END,
       i % 2 = 0, lpad((i % 1000)::text, 3, '0'), 'v' || i, 'Row ' || i,
       decode(md5(i::text), 'hex') || '\x00ff'::bytea, date '2000-02-29' + i,
       time '23:59:59.999999' - i * interval '1 second',
       timestamptz '1999-12-31 23:59:59.5+00' + i * interval '1 hour', i * interval '1 day 1 ms',
       ('10.0.' || (i % 256) || '.' || (i % 200) || '/24')::inet, '192.168.0.0/16',
       ('08:00:2b:01:02:' || lpad(to_hex(i % 256), 2, '0'))::macaddr,
       ARRAY[i, NULL, -i], ARRAY['a,b', 'c"d', NULL, E'e\\f', 'g h'],
       ('{"i": ' || i || ', "s": "x"}')::json, jsonb_build_object('even', i % 2 = 0, 'i', i),
       to_tsvector('english', 'row number ' || i || ' jumps over lazy dogs'),
       md5('u' || i)::uuid, point(i, -i), box(point(0, 0), point(i, i)),
       int4range(i, i + 10), (i % 65536)::bit(16)::varbit,
       (ARRAY['sad', 'ok', 'happy']::mood[])[i % 3 + 1], ROW(i, 'p' || i)::pair, i,
       CASE WHEN i % 100 = 0 THEN (SELECT string_agg(md5(i::text || g), '') FROM generate_series(1, 3200) g) END,
       ('<r n="' || i || '">x &amp; y</r>')::xml
FROM generate_series(1, 1000) i;
INSERT INTO odd (id, t) VALUES (1001, NULL);
INSERT INTO odd (id, t, tarr, j, by) VALUES
  (1002, E'tab\there\nnew line\r\\backslash ''single'' "double" \\N ünïcödé 日本語 emoji 🎉', ARRAY[E'\t', '', 'NULL'],
   '{"nested": {"a": [1, 2, {"b": null}]}, "u": "\u00e9"}', '\x'::bytea),
  (1003, '', ARRAY[]::text[], 'null', NULL);
ALTER TABLE odd DROP COLUMN dropme;
ALTER TABLE odd ADD COLUMN added int DEFAULT 42;
ALTER TABLE odd ADD COLUMN added_null text;
INSERT INTO odd (id, t, added, added_null) VALUES (1004, 'row after drop', NULL, 'set'), (1005, 'Row 17', 7, NULL);

CREATE TABLE heap_table (
  id int PRIMARY KEY,
  category text NOT NULL,
  amount numeric(12, 2),
  note text,
  created timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00'
);
CREATE INDEX heap_table_category ON heap_table (category);
CREATE UNIQUE INDEX heap_table_note ON heap_table (note) WHERE note IS NOT NULL;
INSERT INTO heap_table (id, category, amount, note)
SELECT i, 'c' || (i % 10), i * 0.25, CASE WHEN i % 4 = 0 THEN NULL ELSE 'note ' || i END
FROM generate_series(1, 3000) i;

CREATE TABLE pevents (id int, acct int, ts timestamptz NOT NULL, amount numeric) PARTITION BY RANGE (ts);
CREATE TABLE pevents_2024_01 PARTITION OF pevents
  FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00') USING ledger_am;
CREATE TABLE pevents_2024_02 PARTITION OF pevents
  FOR VALUES FROM ('2024-02-01 00:00+00') TO ('2024-03-01 00:00+00') USING ledger_am;
CREATE INDEX ON pevents USING ledger_range (acct, ts);
INSERT INTO pevents SELECT i, i % 10, timestamptz '2024-01-01 00:00+00' + i * interval '15 minutes', i * 0.5
FROM generate_series(1, 5000) i;
SQL
)
out=$(cluster_psql_retry "$DIR" 60 "CREATE DATABASE t003_src" -d postgres -qAt 2>&1) &&
  out=$(cluster_psql_retry "$DIR" 60 "BEGIN; $SETUP_SQL COMMIT;" -d t003_src -qAt 2>&1)
rc=$?
SRC_STATE=$(state t003_src 2>&1)
if (( rc == 0 )) && [[ "$SRC_STATE" == *"events 5000 "* && "$SRC_STATE" == *"odd 1005 "* && "$SRC_STATE" == *"heap_table 3000 "* &&
      "$SRC_STATE" == *"pevents 5000 "* ]]; then
  ok_if 0 "source: events (5000 rows), odd (1005 rows: odd types, NULLs, dropped column), heap_table (3000 rows), pevents (5000 rows, 2 partitions)"
else
  ok_if 1 "source: events (5000 rows), odd (1005 rows: odd types, NULLs, dropped column), heap_table (3000 rows), pevents (5000 rows, 2 partitions)" \
    "$out"$'\n'"$SRC_STATE"
  bail "no source database"
fi

# 3: convert the heap table.
heap_before=$(q t003_src "SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM heap_table x" 2>&1)
out=$(q t003_src "ALTER TABLE heap_table SET ACCESS METHOD ledger_am;
                  SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
                  WHERE c.oid = 'heap_table'::regclass;
                  SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM heap_table x;
                  SET enable_seqscan = off;
                  SELECT count(*) FROM heap_table WHERE category = 'c3';
                  SELECT count(*) FROM heap_table WHERE note = 'note 2999';" 2>&1)
upd=$(q t003_src "UPDATE heap_table SET amount = 0 WHERE id = 1" 2>&1)
expect_eq "ALTER TABLE heap_table SET ACCESS METHOD ledger_am: AM, rows, indexes, UPDATE refused" \
  "$out"$'\n'"$( [[ "$upd" == *"append-only"* ]] && echo refused || echo "UPDATE: $upd")" \
  "ledger_am"$'\n'"$heap_before"$'\n'"300"$'\n'"1"$'\n'"refused"
SRC_STATE=$(state t003_src 2>&1)
SRC_AMS=$(ams t003_src 2>&1)
SRC_INDEXES=$(indexdefs t003_src 2>&1)
SRC_ANSWERS=$(probe_answers t003_src seq)
SRC_INDEX_ANSWERS=$(probe_answers t003_src index)
if [[ "$SRC_INDEX_ANSWERS" != "$SRC_ANSWERS" ]]; then
  echo "# warning: in the source database index and seq answers differ:"
  diff <(echo "$SRC_ANSWERS") <(echo "$SRC_INDEX_ANSWERS") | sed 's/^/#   /'
fi
echo "# source: $(tr '\n' ';' <<<"$SRC_STATE")"

# 4-6: dumps and restores.
out=$(as_pg pg_dump -d t003_src -Fc -f "$WORK/src.dump" 2>&1)
if [[ $? -eq 0 && -s "$WORK/src.dump" ]]; then
  ok_if 0 "pg_dump -Fc ($(stat -c %s "$WORK/src.dump") bytes)${out:+ (stderr: $out)}"
else
  ok_if 1 "pg_dump -Fc" "$out"
fi
out=$(q postgres "CREATE DATABASE t003_fc" 2>&1 &&
      as_pg pg_restore --exit-on-error -d t003_fc "$WORK/src.dump" 2>&1)
if [[ $? -eq 0 && -z "$out" ]]; then
  ok_if 0 "pg_restore into new database t003_fc (no errors or warnings)"
else
  ok_if 1 "pg_restore into new database t003_fc (no errors or warnings)" "$out"
fi
out=$(as_pg pg_dump -d t003_src -f "$WORK/src.sql" 2>&1 && q postgres "CREATE DATABASE t003_plain" 2>&1 &&
      as_pg psql -X -q -v ON_ERROR_STOP=1 -d t003_plain -f "$WORK/src.sql" 2>&1 >/dev/null)
if [[ $? -eq 0 && -z "$out" ]]; then
  ok_if 0 "pg_dump (plain SQL, $(stat -c %s "$WORK/src.sql") bytes) | psql into new database t003_plain"
else
  ok_if 1 "pg_dump (plain SQL) | psql into new database t003_plain" "$out"
fi

# 7-18: the restored databases.
for db in t003_fc t003_plain; do
  expect_eq "$db: row counts and md5(string_agg(t::text)) of events, odd, heap_table, pevents equal the source" \
    "$(state "$db" 2>&1)" "$SRC_STATE"
  expect_eq "$db: table access method is ledger_am for all tables and partitions" "$(ams "$db" 2>&1)" "$SRC_AMS"
  got_idx=$(indexdefs "$db" 2>&1)
  chk=$(q "$db" "SELECT count(*) FROM (SELECT bt_index_check(i.indexrelid)
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                 WHERE a.amname = 'btree' AND i.indrelid IN ('events'::regclass, 'odd'::regclass,
                                                             'heap_table'::regclass)) s" 2>&1)
  answers=$(probe_answers "$db" index)
  if [[ "$got_idx" == "$SRC_INDEXES" && "$chk" =~ ^[0-9]+$ && "$answers" == "$SRC_ANSWERS" ]]; then
    ok_if 0 "$db: same $(wc -l <<<"$got_idx") indexes, amcheck passes on $chk btrees, ${#PROBES[@]} index probes answer like the source"
  else
    ok_if 1 "$db: same indexes, amcheck passes, index probes answer like the source" \
      "indexes:"$'\n'"$(diff <(echo "$SRC_INDEXES") <(echo "$got_idx"))"$'\n'"amcheck: $chk"$'\n'"probe answers (index) vs source (seq):"$'\n'"$(diff <(echo "$SRC_ANSWERS") <(echo "$answers"))"
  fi
  refusals=""
  for stmt in "UPDATE events SET currency = 'EUR' WHERE aggregate_version = 1" \
              "DELETE FROM events WHERE false" \
              "UPDATE odd SET t = t WHERE id = 1" \
              "UPDATE heap_table SET amount = 0 WHERE id = 1" \
              "DELETE FROM heap_table WHERE id = 1"; do
    r=$(q "$db" "$stmt" 2>&1)
    [[ "$r" == *"is append-only"* ]] || refusals+="$stmt: $r"$'\n'
  done
  if [[ -z "$refusals" ]]; then
    ok_if 0 "$db: UPDATE and DELETE on the restored tables are refused (append-only)"
  else
    ok_if 1 "$db: UPDATE and DELETE on the restored tables are refused (append-only)" "$refusals"
  fi
  dup=$(q "$db" "INSERT INTO events (event_type, aggregate_id, aggregate_version)
                 VALUES ('dup', '00000000-0000-4000-8000-000000000007', 3)" 2>&1)
  new=$(q "$db" "INSERT INTO events (event_type, aggregate_id, aggregate_version)
                 VALUES ('new', '00000000-0000-4000-8000-000000000007', 1000);
                 INSERT INTO odd (id, t) VALUES (2000, 'new row');
                 INSERT INTO heap_table (id, category) VALUES (5000, 'new');
                 SELECT (SELECT count(*) FROM events) || ' ' || (SELECT count(*) FROM odd) || ' ' ||
                        (SELECT count(*) FROM heap_table);
                 SET enable_seqscan = off;
                 SELECT count(*) FROM events WHERE aggregate_id = '00000000-0000-4000-8000-000000000007'
                                               AND aggregate_version = 1000" 2>&1)
  if [[ "$dup" == *"duplicate key"* && "$new" == $'5001 1006 3001\n1' ]]; then
    ok_if 0 "$db: inserts work (found through the index), a duplicate (aggregate_id, aggregate_version) is rejected"
  else
    ok_if 1 "$db: inserts work (found through the index), a duplicate (aggregate_id, aggregate_version) is rejected" \
      "duplicate insert: $dup"$'\n'"new rows: $new"
  fi
done

# 19: DROP DATABASE of a restored database.
PLAIN_STATE=$(state t003_plain 2>&1)
# (limited to 30 s: DROP DATABASE waits until every process, the storage
# worker included, has absorbed a ProcSignalBarrier)
out=$(q postgres "SET statement_timeout = '30s'; DROP DATABASE t003_fc" 2>&1)
if [[ $? -eq 0 ]]; then
  ok_if 0 "DROP DATABASE t003_fc"
else
  ok_if 1 "DROP DATABASE t003_fc" "$out"
fi

# 20: the cluster works, the other databases are intact.
out=$(state t003_src 2>&1)$'\n'$(state t003_plain 2>&1)$'\n'$(q t003_src "
  INSERT INTO events (event_type, aggregate_id, aggregate_version)
  VALUES ('after drop', '00000000-0000-4000-8000-000000000008', 1000)
  RETURNING event_type" 2>&1)$'\n'$(q postgres "CREATE DATABASE t003_again" 2>&1 &&
  as_pg pg_restore --exit-on-error -d t003_again "$WORK/src.dump" 2>&1 && state t003_again 2>&1)
expect_eq "after DROP DATABASE: source and t003_plain intact, inserts work, a new restore matches the source" \
  "$out" "$SRC_STATE"$'\n'"$PLAIN_STATE"$'\n'"after drop"$'\n'"$SRC_STATE"

# 21: the same after a restart (the worker sweeps dropped databases at start).
SRC_STATE2=$(state t003_src 2>&1)
cluster_stop "$DIR" fast >/dev/null 2>&1
if cluster_start "$DIR" >/dev/null 2>&1 && wait_worker; then
  expect_eq "after a restart: source, t003_plain and t003_again intact" \
    "$(state t003_src 2>&1)"$'\n'"$(state t003_plain 2>&1)"$'\n'"$(state t003_again 2>&1)" \
    "$SRC_STATE2"$'\n'"$PLAIN_STATE"$'\n'"$SRC_STATE"
else
  ok_if 1 "after a restart: source, t003_plain and t003_again intact" "server did not restart"
fi

finish
