--
-- basic: creating, filling and reading ledger_am tables
--
\set VERBOSITY default

SELECT amname, amtype, amhandler FROM pg_am WHERE amname = 'ledger_am';

-- A small custom schema.
CREATE TABLE accounts_log (
  id      bigint NOT NULL,
  account text   NOT NULL,
  amount  numeric(12,2),
  note    text
) USING ledger_am;

SELECT c.relname, a.amname, c.relkind, c.relpersistence
FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname = 'accounts_log';

-- Empty table.
SELECT count(*), sum(id) FROM accounts_log;
SELECT * FROM accounts_log;

-- Single row, then a multi-row VALUES list.
INSERT INTO accounts_log VALUES (1, 'alice', 10.50, 'first');
INSERT INTO accounts_log VALUES
  (2, 'bob', -3.25, NULL),
  (3, 'carol', 0, 'zero'),
  (4, 'alice', 100, NULL);
SELECT * FROM accounts_log ORDER BY id;
SELECT account, count(*), sum(amount) FROM accounts_log GROUP BY account ORDER BY account;
SELECT count(*) FILTER (WHERE note IS NULL) AS null_notes, count(note) AS notes FROM accounts_log;
INSERT INTO accounts_log VALUES (5, 'dave', 1, 'returning') RETURNING id, account, amount, ctid;

-- INSERT ... SELECT of a few thousand rows.
INSERT INTO accounts_log
  SELECT g, 'acct' || (g % 7), g / 100.0, CASE WHEN g % 10 = 0 THEN 'tenth' END
  FROM generate_series(6, 3005) g;
SELECT count(*), sum(id), min(id), max(id), sum(amount), count(note) FROM accounts_log;
SELECT * FROM accounts_log WHERE id BETWEEN 1000 AND 1003 ORDER BY id;
SELECT account, count(*), sum(amount) FROM accounts_log GROUP BY account ORDER BY account;
SELECT id, amount FROM accounts_log ORDER BY amount DESC, id LIMIT 3;
SELECT id FROM accounts_log ORDER BY id DESC LIMIT 3;

-- ctid: row ids map to (row_id / 291, row_id % 291 + 1); tableoid.
SELECT ctid, id FROM accounts_log WHERE id IN (1, 2, 5, 291, 292, 583, 3005) ORDER BY id;
SELECT tableoid::regclass, count(*) FROM accounts_log GROUP BY 1;
SELECT count(DISTINCT ctid) = count(*) AS ctids_unique FROM accounts_log;

-- INSERT ... RETURNING ctid gives the row's TID.
CREATE TABLE ret (a int) USING ledger_am;
INSERT INTO ret VALUES (1), (2) RETURNING ctid, a;
INSERT INTO ret SELECT g FROM generate_series(3, 300) g RETURNING ctid, a \g /dev/null
INSERT INTO ret VALUES (301) RETURNING ctid, a;
SELECT ctid, a FROM ret WHERE a IN (1, 291, 292, 301) ORDER BY a;
DROP TABLE ret;

-- TID scan and TID range scans.
EXPLAIN (COSTS OFF) SELECT id FROM accounts_log WHERE ctid = '(1,1)';
SELECT ctid, id FROM accounts_log WHERE ctid = '(1,1)';
SELECT ctid, id FROM accounts_log WHERE ctid = ANY (ARRAY['(0,1)', '(10,94)', '(3,5)']::tid[]) ORDER BY id;
SELECT id FROM accounts_log WHERE ctid = '(0,292)';
SELECT id FROM accounts_log WHERE ctid = '(500,1)';
EXPLAIN (COSTS OFF) SELECT count(*) FROM accounts_log WHERE ctid >= '(1,0)' AND ctid < '(2,0)';
SELECT count(*), min(id), max(id) FROM accounts_log WHERE ctid >= '(1,0)' AND ctid < '(2,0)';
SELECT count(*), min(id), max(id) FROM accounts_log WHERE ctid < '(0,10)';
SELECT count(*), min(id), max(id) FROM accounts_log WHERE ctid > '(10,90)';
SELECT count(*) FROM accounts_log WHERE ctid >= '(11,0)';
SELECT count(*), min(id), max(id) FROM accounts_log WHERE ctid BETWEEN '(2,290)' AND '(3,1)';

-- Prepared statements, custom and generic plans.
PREPARE ins(bigint, text, numeric) AS INSERT INTO accounts_log VALUES ($1, $2, $3, 'prepared');
PREPARE sel(text) AS
  SELECT id, amount FROM accounts_log WHERE account = $1 AND note = 'prepared' ORDER BY id;
EXECUTE ins(10001, 'erin', 1);
EXECUTE ins(10002, 'erin', 2);
EXECUTE sel('erin');
SET plan_cache_mode = force_generic_plan;
EXECUTE ins(10003, 'erin', 3);
EXECUTE ins(10004, 'erin', 4);
EXECUTE ins(10005, 'frank', 5);
EXECUTE sel('erin');
EXECUTE sel('frank');
SELECT name, generic_plans, custom_plans FROM pg_prepared_statements ORDER BY name;
RESET plan_cache_mode;
DEALLOCATE ALL;
SELECT count(*), sum(id) FROM accounts_log;

-- Many column types, NULLs, edge values.
CREATE TABLE typed (
  i2 int2, i4 int4, i8 int8, n numeric, f4 float4, f8 float8,
  t text, vc varchar(20), c char(4), ba bytea, b bool,
  d date, ts timestamp, tz timestamptz, iv interval,
  u uuid, j jsonb, js json, ia int[], ta text[], ip inet, p point
) USING ledger_am;
INSERT INTO typed VALUES
  (1, 1, 1, 1.5, 1.25, 2.5, 'one', 'uno', 'ab', '\x00ff10', true,
   '2024-02-29', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+00', '1 day 02:03:04',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2, {"x": null}]}', '{"raw":  true}',
   '{1,2,3}', '{"a b",NULL,c}', '192.168.0.1/24', '(1.5,-2)'),
  (-32768, -2147483648, -9223372036854775808, -123456789012345678901234567890.123456789,
   '-Infinity', 'NaN', '', '', '', '\x', false,
   '4713-01-01 BC', '-infinity', 'infinity', '-178000000 years',
   '00000000-0000-0000-0000-000000000000', '[]', 'null', '{}', '{}', '::1', '(0,0)'),
  (32767, 2147483647, 9223372036854775807, 'NaN', 'Infinity', '1e308', repeat('é', 5),
   repeat('z', 20), 'wxyz', decode(repeat('ab', 300), 'hex'), NULL,
   'infinity', 'infinity', '-infinity', '-1 mons -2 days',
   'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"a": "b"}', '"s"', '{{1,2},{3,4}}', '{x}', '10.0.0.0/8', NULL);
INSERT INTO typed (i4) VALUES (0);
SELECT i2, i4, i8, n, f4, f8, t, vc, c, b, d, ts, tz, iv FROM typed ORDER BY i4;
SELECT i4, u, j, js, ia, ta, ip, p, length(ba) AS ba_len, md5(ba) FROM typed ORDER BY i4;
SELECT i4, j -> 'k' -> 2, ia[2], ta[1], array_length(ia, 1), c || '|' AS c_padded FROM typed ORDER BY i4;
SELECT count(*) AS rows, count(b) AS b_not_null, count(p) AS p_not_null FROM typed;
SELECT i4 FROM typed WHERE j @> '{"a": "b"}';
SELECT i4 FROM typed WHERE u = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

-- Large values (~100 kB), which heap would TOAST: ledger_am stores them
-- inline. Values read from a heap table arrive as TOAST pointers (external
-- and compressed); both must round-trip.
CREATE TABLE big (id int, payload text, bin bytea) USING ledger_am;
INSERT INTO big
  SELECT 1, string_agg(md5(g::text), ''), decode(string_agg(md5((-g)::text), ''), 'hex')
  FROM generate_series(1, 3200) g;
INSERT INTO big VALUES (2, repeat('compressible ', 8000), convert_to(repeat('b', 100000), 'UTF8'));
CREATE TABLE heap_big (id int, payload text, bin bytea);
ALTER TABLE heap_big ALTER payload SET STORAGE EXTERNAL;
INSERT INTO heap_big
  SELECT 3, string_agg(md5((g * 7)::text), ''), decode(string_agg(md5((g * 11)::text), ''), 'hex')
  FROM generate_series(1, 3200) g;
INSERT INTO heap_big VALUES (4, repeat('abc', 40000), NULL);
INSERT INTO big SELECT * FROM heap_big;
SELECT b.id, length(b.payload) AS len, md5(b.payload), length(b.bin) AS bin_len, md5(b.bin),
       h.id IS NULL OR (h.payload = b.payload AND h.bin IS NOT DISTINCT FROM b.bin) AS same_as_heap
FROM big b LEFT JOIN heap_big h USING (id) ORDER BY b.id;
SELECT id, substr(payload, 50001, 10) FROM big ORDER BY id;
DROP TABLE heap_big;

-- Dropped and added columns.
CREATE TABLE evolving (a int, b text, c int) USING ledger_am;
INSERT INTO evolving VALUES (1, 'one', 10), (2, 'two', 20);
ALTER TABLE evolving DROP COLUMN b;
SELECT * FROM evolving ORDER BY a;
INSERT INTO evolving VALUES (3, 30);
ALTER TABLE evolving ADD COLUMN d text DEFAULT 'dflt';
ALTER TABLE evolving ADD COLUMN e int;
ALTER TABLE evolving ADD COLUMN f timestamptz DEFAULT '2000-01-01 00:00:00+00';
INSERT INTO evolving VALUES (4, 40, 'four', 4, '2020-01-01 00:00:00+00');
INSERT INTO evolving (a, c) VALUES (5, 50);
SELECT * FROM evolving ORDER BY a;
ALTER TABLE evolving DROP COLUMN d;
SELECT * FROM evolving ORDER BY a;
SELECT count(*), sum(c), count(e) FROM evolving;

-- A table without columns.
CREATE TABLE nocols () USING ledger_am;
INSERT INTO nocols DEFAULT VALUES;
INSERT INTO nocols SELECT FROM generate_series(1, 5);
SELECT count(*) FROM nocols;
SELECT ctid FROM nocols ORDER BY ctid;
ALTER TABLE nocols ADD COLUMN x int DEFAULT 7;
SELECT x, count(*) FROM nocols GROUP BY x;

-- CREATE TABLE AS and SELECT INTO with the access method.
CREATE TABLE ctas USING ledger_am AS SELECT id, account FROM accounts_log WHERE id <= 100;
SET default_table_access_method = ledger_am;
SELECT id INTO sel_into FROM accounts_log WHERE id > 3000;
RESET default_table_access_method;
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname IN ('ctas', 'sel_into') ORDER BY 1;
SELECT count(*), sum(id) FROM ctas;
SELECT count(*), sum(id) FROM sel_into;

-- The canonical events table.
SELECT ledger_am.create_events_table('events');
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a WHERE a.attrelid = 'events'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relname = 'events';
SELECT indexrelid::regclass, indisunique, indisprimary FROM pg_index
WHERE indrelid = 'events'::regclass ORDER BY 1;
INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, ts,
                    debit_account, credit_account, amount, currency, payload, metadata)
SELECT md5('ev' || g)::uuid, 'transfer', md5('agg' || (g % 10))::uuid, g / 10 + 1,
       '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
       g % 5, g % 5 + 100, g * 1.5, 'EUR', jsonb_build_object('n', g),
       jsonb_build_object('source', 'test')
FROM generate_series(0, 999) g;
INSERT INTO events (event_type, aggregate_id, aggregate_version)
  VALUES ('opened', md5('new')::uuid, 1), ('opened', md5('new')::uuid, 2);
SELECT count(*), count(DISTINCT event_id), sum(amount), count(payload), min(aggregate_version), max(aggregate_version)
FROM events;
SELECT event_type, count(*), bool_and(ts IS NOT NULL) AS ts_set, bool_and(metadata IS NOT NULL) AS md_set
FROM events GROUP BY event_type ORDER BY event_type;
SELECT substr(event_id::text, 15, 1) AS version FROM events WHERE event_type = 'opened';
SELECT aggregate_version, ts, debit_account, credit_account, amount, payload
FROM events WHERE aggregate_id = md5('agg3')::uuid ORDER BY aggregate_version LIMIT 3;

-- Temporary and unlogged ledger tables are refused.
CREATE TEMP TABLE tmp_ledger (a int) USING ledger_am;
CREATE UNLOGGED TABLE unlogged_ledger (a int) USING ledger_am;
SELECT count(*) FROM pg_class WHERE relname IN ('tmp_ledger', 'unlogged_ledger');

-- Migration: ALTER TABLE ... SET ACCESS METHOD converts a populated heap table.
CREATE TABLE migrate_me (id int PRIMARY KEY, v text NOT NULL, amount numeric);
INSERT INTO migrate_me SELECT g, 'v' || g, g * 0.5 FROM generate_series(1, 2000) g;
CREATE INDEX migrate_me_v ON migrate_me (v);
CREATE TABLE migrate_before AS SELECT * FROM migrate_me;
SELECT count(*), sum(id), sum(amount), md5(string_agg(v, ',' ORDER BY id)) FROM migrate_me;
ALTER TABLE migrate_me SET ACCESS METHOD ledger_am;
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname = 'migrate_me';
SELECT count(*), sum(id), sum(amount), md5(string_agg(v, ',' ORDER BY id)) FROM migrate_me;
SELECT count(*) AS differing FROM (
  (SELECT * FROM migrate_me EXCEPT ALL SELECT * FROM migrate_before)
  UNION ALL
  (SELECT * FROM migrate_before EXCEPT ALL SELECT * FROM migrate_me)) d;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM migrate_me WHERE id = 1234;
SELECT v FROM migrate_me WHERE id = 1234;
EXPLAIN (COSTS OFF) SELECT id FROM migrate_me WHERE v = 'v777';
SELECT id FROM migrate_me WHERE v = 'v777';
SELECT count(*), sum(id) FROM migrate_me WHERE id BETWEEN 100 AND 199;
SELECT count(*), sum(id) FROM migrate_me WHERE v LIKE 'v19%' AND v >= 'v19' AND v < 'v1:';
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT count(*), sum(id) FROM migrate_me WHERE v >= 'v19' AND v < 'v1:';
INSERT INTO migrate_me VALUES (2001, 'v2001', 0);
INSERT INTO migrate_me VALUES (2001, 'dup', 0);
SELECT count(*) FROM migrate_me;
DROP TABLE migrate_before;

-- ANALYZE: statistics and planner estimates.
CREATE FUNCTION explain_rows(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || query LOOP
    RETURN substring(line FROM 'rows=(\d+)')::bigint;  -- the top plan node
  END LOOP;
END
$$;
ANALYZE accounts_log;
SELECT reltuples, relpages FROM pg_class WHERE relname = 'accounts_log';
SELECT attname, round(null_frac::numeric, 3) AS null_frac, n_distinct FROM pg_stats
WHERE tablename = 'accounts_log' AND attname IN ('id', 'account', 'note') ORDER BY attname;
SELECT explain_rows('SELECT * FROM accounts_log') AS all_rows;
SELECT explain_rows('SELECT * FROM accounts_log WHERE account = ''alice''') BETWEEN 1 AND 10 AS alice_est;
SELECT explain_rows('SELECT * FROM accounts_log WHERE id < 1000') BETWEEN 800 AND 1200 AS range_est;
SELECT explain_rows('SELECT * FROM accounts_log WHERE note = ''tenth''') BETWEEN 250 AND 350 AS tenth_est;
EXPLAIN (COSTS OFF) SELECT account, count(*) FROM accounts_log GROUP BY account;
-- Rows added after ANALYZE scale the estimate with the table's size.
INSERT INTO accounts_log SELECT g, 'late', 0, NULL FROM generate_series(20001, 23000) g;
SELECT explain_rows('SELECT * FROM accounts_log') BETWEEN 5500 AND 6500 AS grown_est;
ANALYZE;

-- VACUUM and VACUUM ANALYZE run; VACUUM FREEZE advances relfrozenxid as it
-- does for heap.
VACUUM accounts_log;
VACUUM ANALYZE accounts_log;
VACUUM (ANALYZE, VERBOSE false) events;
SELECT reltuples, relpages FROM pg_class WHERE relname = 'accounts_log';
CREATE TABLE frozen_check (a int) USING ledger_am;
INSERT INTO frozen_check VALUES (1);
SELECT relfrozenxid <> '0'::xid AS valid_frozenxid FROM pg_class WHERE relname = 'frozen_check';
DO $$ BEGIN FOR i IN 1..20 LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$;
SELECT age(relfrozenxid) >= 20 AS aged FROM pg_class WHERE relname = 'frozen_check';
VACUUM FREEZE frozen_check;
SELECT age(relfrozenxid) < 10 AS frozen FROM pg_class WHERE relname = 'frozen_check';
SELECT * FROM frozen_check;
VACUUM;

-- Parallel sequential scans.
CREATE TABLE par (id int, v text) USING ledger_am;
INSERT INTO par SELECT g, 'v' || g FROM generate_series(1, 20000) g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM par WHERE id % 3 = 0;
SELECT count(*), sum(id) FROM par WHERE id % 3 = 0;
SELECT count(*), sum(id), count(DISTINCT id) FROM par;
BEGIN;
INSERT INTO par VALUES (-1, 'own row');
SELECT count(*), sum(id) FROM par;
ROLLBACK;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE par;

-- TABLESAMPLE over 100 virtual blocks.
CREATE TABLE sampled (id int, v text) USING ledger_am;
INSERT INTO sampled SELECT g, 'v' || g FROM generate_series(1, 29100) g;
SELECT count(*) BETWEEN 8000 AND 21000 AS plausible
FROM sampled TABLESAMPLE SYSTEM (50) REPEATABLE (42);
SELECT count(*) % 291 = 0 AS whole_blocks
FROM sampled TABLESAMPLE SYSTEM (50) REPEATABLE (42);
SELECT (SELECT count(*) FROM sampled TABLESAMPLE SYSTEM (30) REPEATABLE (7)) =
       (SELECT count(*) FROM sampled TABLESAMPLE SYSTEM (30) REPEATABLE (7)) AS repeatable;
SELECT count(*) BETWEEN 2400 AND 3500 AS plausible
FROM sampled TABLESAMPLE BERNOULLI (10) REPEATABLE (42);
SELECT (SELECT sum(id) FROM sampled TABLESAMPLE BERNOULLI (10) REPEATABLE (3)) =
       (SELECT sum(id) FROM sampled TABLESAMPLE BERNOULLI (10) REPEATABLE (3)) AS repeatable;
SELECT bool_and(v = 'v' || id) AS rows_intact, count(*) = count(DISTINCT id) AS no_duplicates
FROM sampled TABLESAMPLE BERNOULLI (25) REPEATABLE (5);
SELECT count(*) FROM sampled TABLESAMPLE SYSTEM (0);
SELECT count(*) FROM sampled TABLESAMPLE SYSTEM (100);
SELECT count(*) FROM sampled TABLESAMPLE BERNOULLI (100) REPEATABLE (1);
SELECT count(*) FROM nocols TABLESAMPLE BERNOULLI (100);
EXPLAIN (COSTS OFF) SELECT count(*) FROM sampled TABLESAMPLE BERNOULLI (10);

-- DROP TABLE.
DROP TABLE accounts_log, typed, big, evolving, nocols, ctas, sel_into, events, migrate_me,
  frozen_check, sampled;
SELECT count(*) FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'ledger_am';
SELECT * FROM accounts_log;
DROP FUNCTION explain_rows(text);
