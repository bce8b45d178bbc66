--
-- functions: the SQL functions and settings of the ledger_am extension.
--
\set VERBOSITY default

SELECT p.proname, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'ledger_am'
  AND p.proname IN ('table_size', 'stored_rows', 'next_row_id', 'compact', 'set_next_row_id',
                    'uuid_v7', 'create_events_table', 'row_dictionary_size', 'stored_range_keys', 'digest')
ORDER BY 1;

CREATE TABLE f (id int, payload text) USING ledger_am WITH (autovacuum_enabled = false);
CREATE TABLE f_heap (id int);

-- table_size: bytes in RocksDB, growing with the table. Sizes of rows still
-- in memtables are estimates; compact() settles them into compressed files.
SELECT ledger_am.table_size('f') >= 0 AS empty_size_ok;
INSERT INTO f SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 2000) g;
SELECT ledger_am.table_size('f') > 0 AS has_size;
SELECT ledger_am.compact('f');
CREATE TABLE sizes AS SELECT ledger_am.table_size('f') AS size1;
SELECT size1 > 0 AS has_size_after_compact FROM sizes;
INSERT INTO f SELECT g, repeat(md5(g::text), 4) FROM generate_series(2001, 6000) g;
SELECT ledger_am.compact('f');
SELECT ledger_am.table_size('f') > size1 AS grew FROM sizes;
SELECT count(*) FROM f;

-- stored_rows and next_row_id
SELECT ledger_am.stored_rows('f'), ledger_am.next_row_id('f');
BEGIN;
INSERT INTO f VALUES (0, 'aborted');
ROLLBACK;
SELECT ledger_am.stored_rows('f') >= 6000 AS stored, ledger_am.next_row_id('f') AS next, count(*) FROM f;

-- row_dictionary_size: 0 under the default row_compression (zstd), which
-- compresses blocks of rows and trains no dictionary (test/t/015 covers
-- zstd_row, where it becomes the trained dictionary's size).
SELECT ledger_am.row_dictionary_size('f');

-- On tables that are not ledger_am tables, and on objects that are not tables.
SELECT ledger_am.table_size('f_heap');
SELECT ledger_am.stored_rows('f_heap');
SELECT ledger_am.row_dictionary_size('f_heap');
SELECT ledger_am.next_row_id('f_heap');
SELECT ledger_am.compact('f_heap');
SELECT ledger_am.set_next_row_id('f_heap', 10);
SELECT ledger_am.table_size('pg_class');
CREATE VIEW f_view AS SELECT * FROM f;
SELECT ledger_am.table_size('f_view');
SELECT ledger_am.table_size('no_such_table');
SELECT ledger_am.table_size(NULL);

-- Privileges: an ordinary role can use the functions on tables it may read,
-- and gets a permission error on the others.
CREATE ROLE regress_ledger_reader;
CREATE TABLE f_readable (id int) USING ledger_am;
INSERT INTO f_readable VALUES (1), (2);
GRANT SELECT ON f_readable TO regress_ledger_reader;
SET ROLE regress_ledger_reader;
SELECT ledger_am.table_size('f_readable') >= 0 AS readable_size;
SELECT ledger_am.stored_rows('f_readable');
SELECT ledger_am.table_size('f');
SELECT ledger_am.stored_rows('f');
SELECT ledger_am.next_row_id('f');
SELECT ledger_am.compact('f_readable');
SELECT substr(ledger_am.uuid_v7()::text, 15, 1) AS version;
-- set_next_row_id is for superusers only
SELECT ledger_am.set_next_row_id('f_readable', 1000);
RESET ROLE;
GRANT EXECUTE ON FUNCTION ledger_am.set_next_row_id(regclass, bigint) TO regress_ledger_reader;
SET ROLE regress_ledger_reader;
SELECT ledger_am.set_next_row_id('f_readable', 1000);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION ledger_am.set_next_row_id(regclass, bigint) FROM regress_ledger_reader;
-- 5: the INSERT of two rows reserved 1 + 4 ids; this session keeps the three
-- it did not use for its next transactions (its rows' ids stay dense).
SELECT ledger_am.next_row_id('f_readable');
INSERT INTO f_readable VALUES (3);
SELECT ledger_am.next_row_id('f_readable'), (SELECT ctid FROM f_readable WHERE id = 3);
-- An ordinary role can create and fill its own ledger_am tables.
GRANT CREATE ON SCHEMA public TO regress_ledger_reader;
SET ROLE regress_ledger_reader;
CREATE TABLE f_owned (id uuid DEFAULT ledger_am.uuid_v7(), n int) USING ledger_am;
INSERT INTO f_owned (n) SELECT generate_series(1, 10);
SELECT count(*), count(DISTINCT id) FROM f_owned;
SELECT ledger_am.compact('f_owned');
SELECT ledger_am.create_events_table('f_owned_events');
INSERT INTO f_owned_events (event_type, aggregate_id, aggregate_version) VALUES ('x', ledger_am.uuid_v7(), 1);
SELECT count(*) FROM f_owned_events;
DROP TABLE f_owned, f_owned_events;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_ledger_reader;
DROP TABLE f_readable;
DROP ROLE regress_ledger_reader;

-- uuid_v7: version 7, RFC 9562 variant, Unix milliseconds in the first 48 bits.
SELECT substr(u::text, 15, 1) AS version,
       substr(u::text, 20, 1) IN ('8', '9', 'a', 'b') AS variant_ok,
       abs(('x' || lpad(substr(replace(u::text, '-', ''), 1, 12), 16, '0'))::bit(64)::bigint
           - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 60000 AS time_ok
FROM (SELECT ledger_am.uuid_v7() AS u) s;
-- 1000 values in one statement: all version 7, unique and strictly increasing.
WITH g AS MATERIALIZED (
  SELECT n, ledger_am.uuid_v7() AS u FROM generate_series(1, 1000) n
)
SELECT count(*) AS n, count(DISTINCT u) AS distinct_values,
       bool_and(substr(u::text, 15, 1) = '7') AS all_v7,
       bool_and(substr(u::text, 20, 1) IN ('8', '9', 'a', 'b')) AS all_variant_ok,
       bool_and(prev IS NULL OR u > prev) AS strictly_increasing
FROM (SELECT u, lag(u) OVER (ORDER BY n) AS prev FROM g) s;
-- ... and across statements
CREATE TABLE uuids (n serial, u uuid DEFAULT ledger_am.uuid_v7()) USING ledger_am;
INSERT INTO uuids DEFAULT VALUES;
INSERT INTO uuids DEFAULT VALUES;
INSERT INTO uuids (u) SELECT ledger_am.uuid_v7() FROM generate_series(1, 500);
SELECT count(*), count(DISTINCT u),
       bool_and(prev IS NULL OR u > prev) AS strictly_increasing
FROM (SELECT u, lag(u) OVER (ORDER BY n) AS prev FROM uuids) s;
SELECT provolatile, proparallel FROM pg_proc WHERE oid = 'ledger_am.uuid_v7'::regproc;
DROP TABLE uuids;

-- Settings: ledger_am.compression is fixed at server start.
SHOW ledger_am.compression;
SET ledger_am.compression = zstd;
SET ledger_am.compression = lz4;
ALTER SYSTEM SET ledger_am.compression = 'bogus';
SELECT name, setting, context FROM pg_settings WHERE name = 'ledger_am.compression';
-- Rows have their own codec; the storage worker's read threads and block
-- cache policy are set at start.
SELECT name, setting, context, enumvals FROM pg_settings
 WHERE name IN ('ledger_am.row_compression', 'ledger_am.read_threads', 'ledger_am.block_cache_policy')
 ORDER BY name;
ALTER SYSTEM SET ledger_am.block_cache_policy = 'fifo';
SET ledger_am.row_compression = lz4;
ALTER SYSTEM SET ledger_am.row_compression = 'lz5';
ALTER SYSTEM SET ledger_am.read_threads = -2;
SET ledger_am.no_such_setting = 1;
-- Splitting a lone client's range scan batches over the worker's two read
-- threads: a reloadable threshold in microseconds, -1 never splits.
SELECT name, setting, context, min_val, max_val FROM pg_settings WHERE name = 'ledger_am.lend_min_us';
SET ledger_am.lend_min_us = 0;
ALTER SYSTEM SET ledger_am.lend_min_us = -2;
-- The storage worker's counters, by name (the values depend on the load).
SELECT name, pg_typeof(value), value >= 0 AS counted FROM ledger_am.worker_stats() ORDER BY name;

-- set_next_row_id: the counter only moves forward.
SELECT ledger_am.set_next_row_id('f', -1);
SELECT ledger_am.set_next_row_id('f', 10);
SELECT ledger_am.next_row_id('f');

-- Row ids past the first 1 GB virtual segment (block 131072): scans, index
-- scans, bitmap scans, TID range scans, TABLESAMPLE and ANALYZE work there.
CREATE TABLE far (id int, v text) USING ledger_am;
INSERT INTO far SELECT g, 'near' || g FROM generate_series(1, 100) g;
SELECT ledger_am.set_next_row_id('far', 40000000);
SELECT ledger_am.next_row_id('far');
INSERT INTO far SELECT g, 'far' || g FROM generate_series(101, 1100) g;
SET max_parallel_maintenance_workers = 0;  -- a parallel build would walk every empty block
CREATE INDEX far_id ON far (id);
RESET max_parallel_maintenance_workers;
SELECT count(*), sum(id) FROM far;
SELECT count(*) FILTER (WHERE (ctid::text::point)[0] > 137000) AS far_rows,
       count(*) FILTER (WHERE (ctid::text::point)[0] < 1) AS near_rows
FROM far;
SELECT ctid, id FROM far WHERE id IN (100, 101, 1100) ORDER BY id;
SELECT id, v FROM far WHERE ctid = '(137457,44)';
SELECT count(*), min(id), max(id) FROM far WHERE ctid >= '(137458,0)' AND ctid < '(137459,0)';
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*), sum(id) FROM far WHERE id > 50;
SELECT v FROM far WHERE id = 1000;
SET enable_indexscan = off;
SET enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM far WHERE id > 50;
SELECT count(*), sum(id) FROM far WHERE id > 50;
SELECT count(*), sum(id) FROM far WHERE id BETWEEN 90 AND 110;
RESET enable_seqscan;
RESET enable_indexscan;
RESET enable_bitmapscan;
-- (sample scans and ANALYZE visit the empty blocks below too: keep them few)
SELECT count(*) <= 1100 AS sampled FROM far TABLESAMPLE SYSTEM (0.5) REPEATABLE (1);
SET default_statistics_target = 10;
ANALYZE far;
RESET default_statistics_target;
SELECT count(*) FROM far;

DROP VIEW f_view;
DROP TABLE f, f_heap, far, sizes;

-- ledger_am.digest: a SHA-256 of the settled rows (below the frozen
-- watermark VACUUM moves), in row id order. Rows there never change, so a
-- digest recorded now must come out the same later.
CREATE TABLE dg (id bigint, who text, amount numeric, at timestamptz, doc jsonb, raw bytea,
                 f float8, span interval) USING ledger_am;
INSERT INTO dg SELECT g, 'acct ' || g % 3, g * 1.5,
       timestamptz '2024-01-01 12:00:00+00' + g * interval '1 day',
       jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 2 = 0)),
       '\x00ff'::bytea, g / 3.0, g * interval '90 minutes'
FROM generate_series(1, 50) g;
-- nothing is settled before VACUUM: the digest of no rows
SELECT * FROM ledger_am.digest('dg');
VACUUM dg;
SELECT * FROM ledger_am.digest('dg') \gset d_
SELECT :d_rows AS rows, :d_frozen_below AS frozen_below, :'d_sha256' AS sha256;
-- the same value in plain SQL: each row's text and a newline, in row id
-- (ctid) order, under the output settings the function uses
CREATE FUNCTION dg_sql_digest(tbl regclass) RETURNS text LANGUAGE plpgsql
SET DateStyle = 'ISO, YMD' SET TimeZone = 'UTC' SET IntervalStyle = 'postgres'
SET extra_float_digits = 1 SET bytea_output = 'hex' AS $$
DECLARE d text;
BEGIN
  EXECUTE format('SELECT encode(sha256(convert_to(string_agg(t::text || E''\n'', '''' ORDER BY t.ctid),
                  current_setting(''server_encoding''))), ''hex'') FROM %s t', tbl) INTO d;
  RETURN d;
END $$;
SELECT dg_sql_digest('dg') = :'d_sha256' AS same_in_sql;
-- and so is a heap copy of the events, in the same order
CREATE TABLE dg_heap AS SELECT * FROM dg ORDER BY ctid;
SELECT dg_sql_digest('dg_heap') = :'d_sha256' AS same_for_heap_copy;
-- the session's output settings do not change it
SET DateStyle = 'German';
SET TimeZone = 'Pacific/Auckland';
SET extra_float_digits = 0;
SET bytea_output = 'escape';
SET IntervalStyle = 'sql_standard';
SELECT rows, sha256 = :'d_sha256' AS unchanged FROM ledger_am.digest('dg');
RESET DateStyle;
RESET TimeZone;
RESET extra_float_digits;
RESET bytea_output;
RESET IntervalStyle;
-- later rows, and rows of aborted transactions, leave the first 50's digest
-- as it was; the digest of all settled rows covers the new ones
BEGIN;
INSERT INTO dg SELECT g, 'aborted', 0, now(), '{}', NULL, 0, NULL FROM generate_series(51, 60) g;
ROLLBACK;
INSERT INTO dg SELECT g, 'later', g, timestamptz '2025-01-01 00:00:00+00', '{}', NULL, g, NULL
FROM generate_series(61, 65) g;
SELECT rows, sha256 = :'d_sha256' AS unchanged FROM ledger_am.digest('dg');
VACUUM dg;
SELECT rows, frozen_below > :d_frozen_below AS moved, sha256 = :'d_sha256' AS unchanged
FROM ledger_am.digest('dg');
SELECT rows, sha256 = :'d_sha256' AS unchanged FROM ledger_am.digest('dg', 50);
SELECT rows, sha256 = :'d_sha256' AS unchanged FROM ledger_am.digest('dg', 49);
-- bad calls
SELECT * FROM ledger_am.digest('dg', 56);
SELECT * FROM ledger_am.digest('dg', -1);
SELECT * FROM ledger_am.digest('dg_heap');
SELECT * FROM ledger_am.digest(NULL);
DROP TABLE dg, dg_heap;
DROP FUNCTION dg_sql_digest(regclass);
