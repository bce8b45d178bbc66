--
-- bad_input: oversized, malformed and hostile input against ledger_am
-- tables. Every statement either behaves correctly or fails with a clear
-- error, and what was stored before stays exactly as it was (:check, a
-- count/sum over the table, after each failure). What sql/basic.sql,
-- sql/append_only.sql, sql/copy_dump.sql and sql/functions.sql already
-- cover is not repeated here.
--
\set VERBOSITY default

------------------------------------------------------------------------
-- 1. The row size limit. One stored row (16-byte row header + the row as a
-- MinimalTuple) must fit the channel buffer, ledger_am.channel_buffer_kb
-- (256 kB by default), minus room a range scan keeps for its resume key:
-- with the defaults at most 253936 bytes (262144 - 8192 - 16), i.e. a bytea
-- of 253896 bytes in an (int, bytea) row. Values are stored as they arrive
-- (ledger_am does not TOAST-compress). The limit is read from the refusal
-- of a 300 kB row, so the checks below follow it if it moves.
------------------------------------------------------------------------
SHOW ledger_am.channel_buffer_kb;
CREATE TABLE sized (id int, b bytea) USING ledger_am;
INSERT INTO sized VALUES (0, '\x00');
\set check 'SELECT count(*), sum(id), sum(length(b)) FROM sized;'
:check
CREATE TABLE size_limit (max_row int, overhead int);
DO $$
DECLARE
  m text;
BEGIN
  INSERT INTO sized SELECT -1, decode(repeat('ab', 300000), 'hex');
EXCEPTION WHEN program_limit_exceeded THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT;
  INSERT INTO size_limit VALUES (substring(m from 'maximum (\d+)')::int,
                                 substring(m from ': (\d+) bytes')::int - 300000);
END
$$;
SELECT max_row, overhead, max_row - overhead AS max_bytea_length,
       max_row BETWEEN pg_size_bytes(current_setting('ledger_am.channel_buffer_kb')) - 16384
                   AND pg_size_bytes(current_setting('ledger_am.channel_buffer_kb')) AS about_the_buffer_size
FROM size_limit;
-- just under the limit: the largest row that fits
INSERT INTO sized SELECT 1, decode(repeat('ab', max_row - overhead), 'hex') FROM size_limit;
-- just over it
INSERT INTO sized SELECT 2, decode(repeat('ab', max_row - overhead + 1), 'hex') FROM size_limit;
-- far over it (16 MB)
INSERT INTO sized SELECT 3, decode(repeat('ab', 16 * 1024 * 1024), 'hex');
:check
SELECT id, length(b) = max_row - overhead AS largest, md5(b) = md5(decode(repeat('ab', max_row - overhead), 'hex')) AS intact
FROM sized, size_limit WHERE id = 1;
-- a too-big row in the middle of a multi-row INSERT fails the statement
INSERT INTO sized
  SELECT g, CASE WHEN g = 50 THEN decode(repeat('ab', 300000), 'hex') ELSE '\x01' END
  FROM generate_series(10, 99) g;
INSERT INTO sized VALUES (10, '\x01'), (11, decode(repeat('ab', 300000), 'hex')), (12, '\x01');
:check
-- ... also in a transaction that already stored rows: none of them survive
BEGIN;
INSERT INTO sized SELECT g, '\x02' FROM generate_series(100, 199) g;
INSERT INTO sized SELECT 200, decode(repeat('ab', 300000), 'hex');
COMMIT;
:check
-- COPY (the bulk multi_insert path): the largest row fits, one byte more
-- fails the whole COPY
COPY (SELECT 4, decode(repeat('cd', max_row - overhead), 'hex') FROM size_limit)
  TO PROGRAM 'cat > bad_input_max.copy';
COPY (SELECT g, CASE WHEN g = 3000 THEN decode(repeat('cd', max_row - overhead + 1), 'hex') ELSE '\x03' END
      FROM generate_series(1000, 5000) g, size_limit) TO PROGRAM 'cat > bad_input_over.copy';
COPY sized FROM PROGRAM 'cat bad_input_max.copy';
COPY sized FROM PROGRAM 'cat bad_input_over.copy';
:check
SELECT count(*) FILTER (WHERE length(b) = max_row - overhead) AS largest_rows FROM sized, size_limit;
-- A value that arrives TOAST-compressed (read from a heap table) stays
-- compressed: 4 MB of text compresses far below the limit and round-trips.
CREATE TABLE heap_src (id int, t text);
INSERT INTO heap_src VALUES (5, repeat('compressible ', 300000));
CREATE TABLE from_heap (id int, t text) USING ledger_am;
INSERT INTO from_heap SELECT * FROM heap_src;
INSERT INTO from_heap SELECT id + 1, t || '' FROM heap_src;   -- the same value uncompressed
SELECT id, length(t), md5(t) = md5(repeat('compressible ', 300000)) AS intact FROM from_heap;
DROP TABLE heap_src, from_heap;

-- A huge jsonb (about 3 MB) is refused; a large one under the limit works.
CREATE TABLE docs (id int PRIMARY KEY, doc jsonb NOT NULL) USING ledger_am;
INSERT INTO docs SELECT 1, jsonb_object_agg('key' || g, g) FROM generate_series(1, 10000) g;
\set dcheck 'SELECT count(*), sum(id), sum(pg_column_size(doc)) FROM docs;'
:dcheck
INSERT INTO docs SELECT 2, jsonb_object_agg('key' || g, repeat('v', 10)) FROM generate_series(1, 150000) g;
INSERT INTO docs SELECT 3, jsonb_build_object('deep', (SELECT jsonb_agg(g) FROM generate_series(1, 300000) g));
:dcheck
SELECT id, (doc->>'key7777')::int AS key7777, (SELECT count(*) FROM jsonb_object_keys(doc)) AS keys
FROM docs;

-- A btree entry too large for its index: the row was shipped, the index
-- insert fails, and the row never becomes visible.
CREATE TABLE indexed_notes (id int, note text) USING ledger_am;
CREATE INDEX indexed_notes_note ON indexed_notes (note);
INSERT INTO indexed_notes VALUES (1, 'short');
INSERT INTO indexed_notes SELECT 2, string_agg(md5(g::text), '') FROM generate_series(1, 300) g;
SELECT count(*), sum(id) FROM indexed_notes;
SET enable_seqscan = off;
SELECT count(*) FROM indexed_notes WHERE note > '';
RESET enable_seqscan;
DROP TABLE indexed_notes;

-- A range declaration bounds account values too (a key must fit a RocksDB
-- key); empty, NULL, non-ASCII accounts and NULL / infinite times are fine,
-- and range scans agree with plain scans.
CREATE TABLE ranged (id int, acct text, ts timestamptz) USING ledger_am;
CREATE INDEX ranged_range ON ranged USING ledger_range (acct, ts);
INSERT INTO ranged VALUES (1, 'a', '2024-01-01 00:00:00+00'), (2, 'a', 'infinity'),
  (3, 'a', '-infinity'), (4, 'a', NULL), (5, '', '2024-01-02 00:00:00+00'),
  (6, NULL, '2024-01-03 00:00:00+00'), (7, repeat('é', 100), '2024-01-04 00:00:00+00');
INSERT INTO ranged VALUES (8, repeat('x', 100000), '2024-01-05 00:00:00+00');
-- the longest account that fits (read from that refusal) works, one byte more fails
CREATE TABLE key_limit (max_account int);
DO $$
DECLARE
  m text;
BEGIN
  INSERT INTO ranged VALUES (8, repeat('x', 100000), '2024-01-05 00:00:00+00');
EXCEPTION WHEN program_limit_exceeded THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT;
  INSERT INTO key_limit VALUES (substring(m from 'maximum (\d+)')::int);
END
$$;
SELECT max_account BETWEEN 8000 AND 8192 AS about_8_kb FROM key_limit;
INSERT INTO ranged SELECT 9, 'a', timestamptz '2024-01-06 00:00:00+00' UNION ALL
  SELECT 10, repeat('x', max_account + 1), '2024-01-07 00:00:00+00' FROM key_limit;
INSERT INTO ranged SELECT 11, repeat('x', max_account), '2024-01-08 00:00:00+00' FROM key_limit;
SELECT count(*), sum(id) FROM ranged;
EXPLAIN (COSTS OFF) SELECT id FROM ranged WHERE acct = 'a' ORDER BY ts;
SELECT id FROM ranged WHERE acct = 'a' ORDER BY ts;
SELECT id FROM ranged WHERE acct = '' OR acct = repeat('é', 100)
  OR acct = (SELECT repeat('x', max_account) FROM key_limit) ORDER BY id;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT id FROM ranged ORDER BY ts DESC;
SELECT string_agg(id::text, ',' ORDER BY ts DESC) FROM ranged;
SELECT id FROM ranged ORDER BY ts DESC;
SET ledger_am.enable_range_scan = off;
SELECT id FROM ranged WHERE acct = 'a' ORDER BY ts;
SELECT id FROM ranged ORDER BY ts DESC;
RESET ledger_am.enable_range_scan;
RESET enable_sort;
DROP TABLE ranged, key_limit;
-- A row whose range keys no longer fit next to it in the buffer is refused,
-- and the refusal must say why: the size it reports exceeds the maximum it
-- reports (two 8000-byte account keys beside a row just under the limit).
CREATE TABLE keyed (a text, b text, ts timestamptz, pad bytea) USING ledger_am;
CREATE INDEX keyed_range ON keyed USING ledger_range (a, b, ts);
DO $$
DECLARE
  m text;
BEGIN
  INSERT INTO keyed SELECT repeat('x', 8000), repeat('y', 8000), '2024-01-01 00:00:00+00',
                           decode(repeat('ab', max_row - 20000), 'hex') FROM size_limit;
  RAISE NOTICE 'stored';
EXCEPTION WHEN program_limit_exceeded THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT;
  RAISE NOTICE 'refused; the reported size exceeds the reported maximum: %',
    substring(m from ': (\d+) bytes')::int > substring(m from 'maximum (\d+)')::int;
END
$$;
SELECT count(*) FROM keyed;
DROP TABLE keyed;

------------------------------------------------------------------------
-- 2. NULLs where the schema forbids them, constraint violations, wrong
-- types, malformed UUIDs and JSON, invalid encodings.
------------------------------------------------------------------------
SELECT ledger_am.create_events_table('ev');
INSERT INTO ev (event_id, event_type, aggregate_id, aggregate_version, ts, debit_account,
                credit_account, amount, currency, payload, metadata)
SELECT md5('e' || g)::uuid, 'deposit', md5('a' || g % 10)::uuid, g / 10 + 1,
       '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', g % 7, g % 7 + 100,
       g, 'EUR', jsonb_build_object('g', g), '{}'
FROM generate_series(1, 100) g;
\set evcheck 'SELECT count(*), sum(amount), count(DISTINCT event_id) FROM ev;'
:evcheck
-- NOT NULL columns (event_id and ts given, so the failing rows print the same every run)
\set id_ts 'md5(''new'')::uuid, ''2024-06-01 00:00:00+00'''
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version) VALUES (:id_ts, NULL, md5('x')::uuid, 1);
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version) VALUES (:id_ts, 't', NULL, 1);
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version) VALUES (:id_ts, 't', md5('x')::uuid, NULL);
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version) VALUES (NULL, '2024-06-01 00:00:00+00', 't', md5('x')::uuid, 1);
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version, metadata) VALUES (:id_ts, 't', md5('x')::uuid, 1, NULL);
INSERT INTO ev (event_id, event_type, aggregate_id, aggregate_version, ts) VALUES (md5('new')::uuid, 't', md5('x')::uuid, 1, NULL);
-- CHECK (aggregate_version > 0), and unique keys
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version) VALUES (:id_ts, 't', md5('x')::uuid, 0);
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version) VALUES (:id_ts, 't', md5('a1')::uuid, 1);
INSERT INTO ev (event_id, event_type, aggregate_id, aggregate_version) VALUES (md5('e1')::uuid, 't', md5('x')::uuid, 1);
-- a NULL in the middle of an INSERT ... SELECT: nothing of it is visible
INSERT INTO ev (event_id, ts, event_type, aggregate_id, aggregate_version)
  SELECT md5('bulk' || g)::uuid, '2024-06-01 00:00:00+00', CASE WHEN g = 500 THEN NULL ELSE 'bulk' END,
         md5('bulk' || g)::uuid, 1
  FROM generate_series(1, 1000) g;
:evcheck
-- wrong types and out-of-range values
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', md5('x')::uuid, 'one');
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', md5('x')::uuid, 9223372036854775808);
INSERT INTO ev (event_type, aggregate_id, aggregate_version, amount) VALUES ('t', md5('x')::uuid, 1, 1e16);
INSERT INTO ev (event_type, aggregate_id, aggregate_version, ts) VALUES ('t', md5('x')::uuid, 1, '2024-02-30');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, ts) VALUES ('t', md5('x')::uuid, 1, 'soon');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, debit_account) VALUES ('t', md5('x')::uuid, 1, 1.5e19);
INSERT INTO ev (event_type, aggregate_id, aggregate_version, tx_id) VALUES ('t', md5('x')::uuid, 1, 42);
:evcheck
-- malformed UUIDs
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', 'not-a-uuid', 1);
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1', 1);
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111', 1);
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', 'g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1);
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 x', 1);
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES ('t', '', 1);
:evcheck
-- ... the accepted spellings are stored in canonical form
INSERT INTO ev (event_id, event_type, aggregate_id, aggregate_version) VALUES
  ('{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}', 'spelling', md5('s1')::uuid, 1),
  ('a0eebc999c0b4ef8bb6d6bb9bd380a12', 'spelling', md5('s2')::uuid, 1),
  ('a0eebc99-9c0b4ef8-bb6d6bb9-bd380a13', 'spelling', md5('s3')::uuid, 1);
SELECT event_id FROM ev WHERE event_type = 'spelling' ORDER BY event_id;
SELECT count(*) FROM ev WHERE event_id = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
-- malformed JSON
INSERT INTO ev (event_type, aggregate_id, aggregate_version, payload) VALUES ('t', md5('x')::uuid, 1, '{"a": 1,}');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, payload) VALUES ('t', md5('x')::uuid, 1, '{"a": }');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, payload) VALUES ('t', md5('x')::uuid, 1, '{a: 1}');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, payload) VALUES ('t', md5('x')::uuid, 1, 'NaN');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, payload) VALUES ('t', md5('x')::uuid, 1, '{"a": "\u0000"}');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, payload) VALUES ('t', md5('x')::uuid, 1, '{"a": "\ud83d"}');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, metadata) VALUES ('t', md5('x')::uuid, 1, '');
INSERT INTO ev (event_type, aggregate_id, aggregate_version, payload)
  VALUES ('t', md5('x')::uuid, 1, (repeat('[', 100000) || repeat(']', 100000))::jsonb);
:evcheck
-- invalid text encodings
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES (convert_from('\xff'::bytea, 'UTF8'), md5('x')::uuid, 1);
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES (E'nul\x00byte', md5('x')::uuid, 1);
INSERT INTO ev (event_type, aggregate_id, aggregate_version) VALUES (chr(0), md5('x')::uuid, 1);
:evcheck
-- COPY with bad lines in the middle: the whole COPY fails
COPY ev (event_type, aggregate_id, aggregate_version) FROM STDIN (FORMAT csv);
c1,00000000-0000-0000-0000-000000000001,1
c2,00000000-0000-0000-0000-000000000002,1
c3,00000000-0000-0000-0000-00000000003,1
c4,00000000-0000-0000-0000-000000000004,1
\.
COPY ev (event_id, ts, event_type, aggregate_id, aggregate_version) FROM STDIN (FORMAT csv);
10000000-0000-0000-0000-000000000001,2024-06-01 00:00:00+00,c1,00000000-0000-0000-0000-000000000001,1
10000000-0000-0000-0000-000000000002,2024-06-01 00:00:00+00,,00000000-0000-0000-0000-000000000002,1
10000000-0000-0000-0000-000000000003,2024-06-01 00:00:00+00,c3,00000000-0000-0000-0000-000000000003,1
\.
COPY ev (event_type, aggregate_id, aggregate_version) FROM STDIN (FORMAT csv);
c1,00000000-0000-0000-0000-000000000001,1
c2,00000000-0000-0000-0000-000000000002,1,extra
\.
COPY ev (event_type, aggregate_id, aggregate_version) FROM STDIN (FORMAT csv);
c1,00000000-0000-0000-0000-000000000001,1
c2,00000000-0000-0000-0000-000000000002
\.
COPY ev (event_type, aggregate_id, aggregate_version, payload) FROM STDIN (FORMAT csv);
c1,00000000-0000-0000-0000-000000000001,1,"{""ok"": true}"
c2,00000000-0000-0000-0000-000000000002,1,"{""ok"": tru}"
\.
:evcheck
-- A large COPY failing half way: its first 10000 rows were shipped (stored,
-- never visible); VACUUM reclaims them.
CREATE TABLE copied (n int NOT NULL) USING ledger_am;
COPY copied FROM PROGRAM 'seq 1 1000';
CREATE TABLE stored_before AS SELECT ledger_am.stored_rows('copied') AS stored;
COPY copied FROM PROGRAM 'seq 1001 11000; echo oops; seq 11001 20000';
COPY copied FROM PROGRAM 'seq 1001 11000; echo; seq 11001 20000' (FORMAT csv, FORCE_NOT_NULL (n));
SELECT count(*), sum(n) FROM copied;
SELECT ledger_am.stored_rows('copied') > stored AS aborted_rows_stored FROM stored_before;
VACUUM copied;
SELECT ledger_am.stored_rows('copied') = stored AS reclaimed, (SELECT count(*) FROM copied) AS visible
FROM stored_before;
DROP TABLE copied, stored_before;

-- Domains, SET NOT NULL and constraints validated by scanning the table.
CREATE DOMAIN positive_amount AS numeric NOT NULL CHECK (VALUE > 0);
CREATE TABLE checked (id int, amount positive_amount, note text) USING ledger_am;
INSERT INTO checked VALUES (1, 10, 'a'), (2, 20, NULL);
\set ccheck 'SELECT count(*), sum(id), sum(amount) FROM checked;'
INSERT INTO checked VALUES (3, NULL, 'x');
INSERT INTO checked VALUES (3, -1, 'x');
ALTER TABLE checked ALTER COLUMN note SET NOT NULL;
ALTER TABLE checked ADD CONSTRAINT small CHECK (amount < 15);
ALTER TABLE checked ADD CONSTRAINT small CHECK (amount < 15) NOT VALID;
ALTER TABLE checked VALIDATE CONSTRAINT small;
INSERT INTO checked VALUES (4, 30, 'd');
ALTER TABLE checked ALTER COLUMN id SET NOT NULL;
INSERT INTO checked VALUES (NULL, 1, 'e');
:ccheck

------------------------------------------------------------------------
-- 3. Column types: every kind of type round-trips (compared with the same
-- rows in a heap table), identity and generated columns, dropped and
-- re-added columns, 1600 columns, zero columns.
------------------------------------------------------------------------
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN short_text AS varchar(5);
CREATE TABLE alltypes_heap (
  id int, s2 smallserial, s4 serial, s8 bigserial, m money, bt bit(4), vb varbit,
  ch "char", nm name, o oid, cr cidr, mac macaddr, mac8 macaddr8, tm time, ttz timetz,
  tsv tsvector, tsq tsquery, x xml, r4 int4range, r8 int8range, rn numrange, rts tstzrange,
  rd daterange, mr int4multirange, e mood, pr pair, prs pair[], dm short_text,
  bx box, ci circle, li line, ls lseg, pa path, pg polygon, lsn pg_lsn, snap pg_snapshot,
  jp jsonpath, rc regclass, rt regtype, n2 numeric[][], f8 float8[], ts2 timestamptz[],
  u uuid[], j jsonb[], b2 bytea[], txt text COLLATE "C"
);
INSERT INTO alltypes_heap (id, m, bt, vb, ch, nm, o, cr, mac, mac8, tm, ttz, tsv, tsq, x, r4,
  r8, rn, rts, rd, mr, e, pr, prs, dm, bx, ci, li, ls, pa, pg, lsn, snap, jp, rc, rt, n2,
  f8, ts2, u, j, b2, txt) VALUES
  (1, 12.34, B'1010', B'110', 'x', 'a name', 4294967295, '10.1.0.0/16', '08:00:2b:01:02:03',
   '08:00:2b:01:02:03:04:05', '23:59:59.999999', '12:00+05', 'a fat cat sat', 'fat & (cat | rat)',
   '<doc><a x="1">text &amp; more</a></doc>', '[1,10)', '(,100]', '[1.5,2.5]',
   '[2024-01-01 00:00+00,2024-02-01 00:00+00)', 'empty', '{[1,3),[5,7)}', 'happy', ROW(1, 'one'),
   ARRAY[ROW(2, 'two'), ROW(3, NULL)]::pair[], 'abcde', '((0,0),(1,1))', '<(1,1),2>', '{1,-1,0}',
   '[(0,0),(1,1)]', '((0,0),(1,1),(2,0))', '((0,0),(0,1),(1,1))', '16/B374D848', '10:20:10,14,15',
   '$.a[*] ? (@ > 1)', 'pg_class', 'integer', '{{1.5,2},{3,4}}', '{1e308,-0,NaN,Infinity}',
   '{2024-01-01 00:00+00,infinity}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}',
   ARRAY['{"a":1}', '[]']::jsonb[], '{"\\x00ff",NULL}', 'zeta'),
  (2, -0.01, B'0000', B'', ' ', '', 0, '::/0', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00',
   '00:00', '00:00-12', '', 'x', '<a/>', 'empty', '[-2147483648,2147483647)', '(,)', '(,)',
   'empty', '{}', 'sad', ROW(NULL, NULL), '{}', '', '((1,1),(1,1))', '<(0,0),0>',
   '{0,1,0}', '[(0,0),(0,0)]', '[(0,0)]', '((0,0))', '0/0', '1:1:', '$', '-', '-',
   '{}', '{}', '{}', '{}', '{}', '{}', '');
INSERT INTO alltypes_heap (id) VALUES (3);    -- all NULL but the serials
CREATE TABLE alltypes (LIKE alltypes_heap) USING ledger_am;
INSERT INTO alltypes SELECT * FROM alltypes_heap;
COPY alltypes_heap TO PROGRAM 'cat > bad_input_alltypes.copy';
COPY alltypes FROM PROGRAM 'cat bad_input_alltypes.copy';
INSERT INTO alltypes_heap SELECT * FROM alltypes_heap;
SELECT count(*) AS rows,
       (SELECT md5(string_agg(h::text, '|' ORDER BY h::text)) FROM alltypes_heap h) =
       md5(string_agg(t::text, '|' ORDER BY t::text)) AS same_as_heap
FROM alltypes t;
SELECT id, s2, s4, s8, m, bt, ch, x, pr, prs, dm, e, snap FROM alltypes WHERE id = 1 ORDER BY s2;
SELECT count(*) FROM alltypes WHERE e = 'happy' AND rts @> '2024-01-15 00:00+00'::timestamptz
  AND tsv @@ tsq AND cr >>= '10.1.2.3' AND mr @> 2 AND (pr).b = 'one'
  AND jp::text = '$."a"[*]?(@ > 1)' AND x::text LIKE '%&amp;%' AND lsn > '16/0';
-- wrong values for these types
INSERT INTO alltypes (id, e) VALUES (9, 'angry');
INSERT INTO alltypes (id, bt) VALUES (9, B'101');
INSERT INTO alltypes (id, x) VALUES (9, '<unclosed>');
INSERT INTO alltypes (id, r4) VALUES (9, '[5,1]');
INSERT INTO alltypes (id, dm) VALUES (9, 'toolong');
INSERT INTO alltypes (id, mac) VALUES (9, '08:00:2b:01:02');
INSERT INTO alltypes (id, pr) VALUES (9, '(1,2,3)');
INSERT INTO alltypes (id, n2) VALUES (9, '{{1,2},{3}}');
SELECT count(*), sum(id) FROM alltypes;
DROP TABLE alltypes_heap;

-- identity and generated columns
CREATE TABLE gen (
  id bigint GENERATED ALWAYS AS IDENTITY,
  amount int NOT NULL,
  doubled int GENERATED ALWAYS AS (amount * 2) STORED
) USING ledger_am;
INSERT INTO gen (amount) VALUES (1), (2), (3);
INSERT INTO gen (id, amount) VALUES (100, 4);
INSERT INTO gen (amount, doubled) VALUES (5, 10);
INSERT INTO gen (id, amount) OVERRIDING SYSTEM VALUE VALUES (100, 4);
SELECT * FROM gen ORDER BY id;

-- dropped and re-added columns: a column dropped and added again with the
-- same name and another type; the only column dropped, then one added.
CREATE TABLE reshaped (a int, b text, c numeric) USING ledger_am;
INSERT INTO reshaped VALUES (1, 'one', 1.5), (2, 'two', 2.5);
ALTER TABLE reshaped DROP COLUMN b;
ALTER TABLE reshaped ADD COLUMN b int;
INSERT INTO reshaped VALUES (3, 3.5, 33);
INSERT INTO reshaped (a, b) VALUES (4, 'not an int');
SELECT * FROM reshaped ORDER BY a;
ALTER TABLE reshaped DROP COLUMN a, DROP COLUMN b, DROP COLUMN c;
SELECT count(*) FROM reshaped;
INSERT INTO reshaped DEFAULT VALUES;
ALTER TABLE reshaped ADD COLUMN z text DEFAULT 'zz';
SELECT z, count(*) FROM reshaped GROUP BY z;
DROP TABLE reshaped;

-- 1600 columns (the Postgres maximum). Wide rows are still bounded by the
-- row size limit.
DO $$
BEGIN
  EXECUTE (SELECT format('CREATE TABLE wide (%s) USING ledger_am',
                         string_agg(format('c%s int DEFAULT %s', g, g), ', ' ORDER BY g))
           FROM generate_series(1, 1600) g);
END
$$;
INSERT INTO wide DEFAULT VALUES;
INSERT INTO wide (c1, c800, c1600) VALUES (-1, -800, -1600);
SELECT count(*), sum(c1), sum(c800), sum(c1600) FROM wide;
SELECT (SELECT sum(value::bigint) FROM jsonb_each_text(to_jsonb(w))) AS row_sum FROM wide w ORDER BY 1;
ALTER TABLE wide ADD COLUMN c1601 int;
ALTER TABLE wide DROP COLUMN c5;
ALTER TABLE wide ADD COLUMN c1601 int;
SELECT count(*), sum(c1), sum(c1600) FROM wide;
DO $$
BEGIN
  EXECUTE (SELECT format('CREATE TABLE wide_text (%s) USING ledger_am',
                         string_agg(format('t%s text', g), ', ' ORDER BY g))
           FROM generate_series(1, 1600) g);
END
$$;
-- 1600 values of 150 bytes fit, of 170 bytes they do not
INSERT INTO wide_text SELECT * FROM jsonb_populate_record(NULL::wide_text,
  (SELECT jsonb_object_agg('t' || g, repeat('w', 150)) FROM generate_series(1, 1600) g));
INSERT INTO wide_text SELECT * FROM jsonb_populate_record(NULL::wide_text,
  (SELECT jsonb_object_agg('t' || g, repeat('w', 170)) FROM generate_series(1, 1600) g));
SELECT count(*), sum(length(t1)), sum(length(t1600)) FROM wide_text;
DROP TABLE wide, wide_text;

-- zero columns: COPY of empty lines (and of a line with data), sampling
CREATE TABLE empty_cols () USING ledger_am;
COPY empty_cols FROM STDIN;



\.
COPY empty_cols FROM STDIN;

x
\.
SELECT count(*) FROM empty_cols;
SELECT * FROM empty_cols;
SELECT count(*) FROM empty_cols TABLESAMPLE BERNOULLI (100);
DROP TABLE empty_cols;

------------------------------------------------------------------------
-- 4. Temporary and unlogged ledger_am tables are refused on every path.
------------------------------------------------------------------------
SET default_table_access_method = ledger_am;
CREATE TEMP TABLE tmp_default (a int);
CREATE TEMP TABLE tmp_ctas AS SELECT 1 AS a;
SELECT 1 AS a INTO TEMP tmp_into;
CREATE UNLOGGED TABLE unlogged_default (a int);
CREATE TABLE logged_default (a int);
RESET default_table_access_method;
CREATE TABLE parted_ul (id int) PARTITION BY RANGE (id);
CREATE UNLOGGED TABLE parted_ul_1 PARTITION OF parted_ul FOR VALUES FROM (0) TO (10) USING ledger_am;
CREATE TEMP TABLE tmp_like (LIKE ev) USING ledger_am;
SELECT relname FROM pg_class WHERE relname IN ('tmp_default', 'tmp_ctas', 'tmp_into',
  'unlogged_default', 'logged_default', 'parted_ul_1', 'tmp_like') ORDER BY 1;
DROP TABLE logged_default, parted_ul;

-- Materialized views: a ledger_am materialized view can be refreshed as a
-- whole (the rows are derived, the refresh builds new storage); CONCURRENTLY
-- (which would DELETE rows) fails.
CREATE TABLE mv_src (id int);
INSERT INTO mv_src VALUES (1), (2);
CREATE MATERIALIZED VIEW mv USING ledger_am AS SELECT id FROM mv_src;
INSERT INTO mv_src VALUES (3);
REFRESH MATERIALIZED VIEW mv;
SELECT count(*), sum(id) FROM mv;
BEGIN;
INSERT INTO mv_src VALUES (4);
REFRESH MATERIALIZED VIEW mv;
ROLLBACK;
SELECT count(*), sum(id) FROM mv;
CREATE UNIQUE INDEX ON mv (id);
REFRESH MATERIALIZED VIEW CONCURRENTLY mv;
SELECT count(*), sum(id) FROM mv;
DROP MATERIALIZED VIEW mv;
DROP TABLE mv_src;

------------------------------------------------------------------------
-- 5. Partitioned tables: the refusal of UPDATE/DELETE holds through every
-- parent, also for mixed heap/ledger_am trees, nested levels, default
-- partitions and plans made before a ledger_am partition was attached.
------------------------------------------------------------------------
CREATE TABLE pt (id int, amount int) PARTITION BY RANGE (id);
CREATE TABLE pt_heap PARTITION OF pt FOR VALUES FROM (0) TO (100);
CREATE TABLE pt_sub PARTITION OF pt FOR VALUES FROM (100) TO (300) PARTITION BY RANGE (id);
CREATE TABLE pt_sub_ledger PARTITION OF pt_sub FOR VALUES FROM (100) TO (200) USING ledger_am;
CREATE TABLE pt_sub_default PARTITION OF pt_sub DEFAULT USING ledger_am;
INSERT INTO pt SELECT g, g FROM generate_series(0, 299) g;
\set pcheck 'SELECT tableoid::regclass, count(*), sum(amount) FROM pt GROUP BY 1 ORDER BY 1;'
:pcheck
UPDATE pt SET amount = 0 WHERE id = 150;
UPDATE pt SET amount = 0 WHERE id = 250;
UPDATE pt SET amount = amount + 1 WHERE id = 5;      -- only a heap row matches: still refused
DELETE FROM pt WHERE id >= 100;
DELETE FROM pt_sub;
UPDATE pt SET id = id + 100 WHERE id < 10;          -- would move rows into a ledger partition
INSERT INTO pt VALUES (150, 1) ON CONFLICT DO NOTHING;   -- an append: allowed
MERGE INTO pt USING (VALUES (150)) s(id) ON pt.id = s.id WHEN MATCHED THEN UPDATE SET amount = 0;
SELECT * FROM pt WHERE id = 150 FOR UPDATE;
-- the heap partition itself stays fully usable
UPDATE pt_heap SET amount = amount + 1 WHERE id = 5;
DELETE FROM pt_heap WHERE id = 6;
:pcheck
-- a generic plan made while the parent had no ledger_am partition
CREATE TABLE pt2 (id int, amount int) PARTITION BY RANGE (id);
CREATE TABLE pt2_heap PARTITION OF pt2 FOR VALUES FROM (0) TO (100);
INSERT INTO pt2 SELECT g, g FROM generate_series(0, 99) g;
SET plan_cache_mode = force_generic_plan;
PREPARE upd_pt2(int) AS UPDATE pt2 SET amount = amount + 1 WHERE id = $1;
PREPARE del_pt2(int) AS DELETE FROM pt2 WHERE id = $1;
EXECUTE upd_pt2(1);
CREATE TABLE pt2_ledger (id int, amount int) USING ledger_am;
INSERT INTO pt2_ledger SELECT g, g FROM generate_series(100, 199) g;
ALTER TABLE pt2 ATTACH PARTITION pt2_ledger FOR VALUES FROM (100) TO (200);
EXECUTE upd_pt2(150);
EXECUTE upd_pt2(1);
EXECUTE del_pt2(150);
SELECT tableoid::regclass, count(*), sum(amount) FROM pt2 GROUP BY 1 ORDER BY 1;
-- once detached, the parent is an ordinary heap tree again
ALTER TABLE pt2 DETACH PARTITION pt2_ledger;
EXECUTE upd_pt2(1);
UPDATE pt2_ledger SET amount = 0;
SELECT count(*), sum(amount) FROM pt2_ledger;
RESET plan_cache_mode;
DEALLOCATE ALL;
DROP TABLE pt2, pt2_ledger;

------------------------------------------------------------------------
-- 6. Foreign keys: deferred checks, self references, SET NULL actions.
------------------------------------------------------------------------
CREATE TABLE acct (id int PRIMARY KEY, name text);
INSERT INTO acct VALUES (1, 'a'), (2, 'b'), (3, 'c');
CREATE TABLE postings (
  id int PRIMARY KEY,
  acct_id int REFERENCES acct ON DELETE SET NULL,
  acct_deferred int REFERENCES acct DEFERRABLE INITIALLY DEFERRED,
  reverses int REFERENCES postings (id),
  amount int NOT NULL
) USING ledger_am;
INSERT INTO postings VALUES (1, 1, 1, NULL, 100), (2, 2, 2, NULL, 50);
\set fcheck 'SELECT count(*), sum(amount), sum(id) FROM postings;'
-- a row referencing a row of the same statement, and an existing one
INSERT INTO postings VALUES (3, 1, 1, NULL, 10), (4, 1, 1, 3, -10);
INSERT INTO postings VALUES (5, 2, 2, 1, -100);
-- references to nothing
INSERT INTO postings VALUES (6, 1, 1, 999, 1);
INSERT INTO postings VALUES (6, 9, 1, NULL, 1);
-- a deferred violation is found at COMMIT: the whole transaction goes
BEGIN;
INSERT INTO postings VALUES (7, 1, 1, NULL, 7);
INSERT INTO postings VALUES (8, 1, 99, NULL, 8);
COMMIT;
:fcheck
-- ON DELETE SET NULL would update ledger rows: refused; deleting an
-- unreferenced parent row works
DELETE FROM acct WHERE id = 2;
DELETE FROM acct WHERE id = 3;
SELECT id FROM acct ORDER BY id;
:fcheck
SELECT id, acct_id, reverses, amount FROM postings ORDER BY id;

------------------------------------------------------------------------
-- 7. Triggers: BEFORE INSERT changing NEW or skipping the row, errors from
-- triggers, AFTER ROW triggers (they re-read the stored row), statement
-- triggers with transition tables, deferred constraint triggers, a trigger
-- that tries to UPDATE the ledger, INSTEAD OF triggers on a view.
------------------------------------------------------------------------
CREATE TABLE tg (id int, note text, amount int) USING ledger_am;
CREATE TABLE tg_audit (what text, n bigint, s bigint, detail text);
CREATE FUNCTION tg_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.note = 'skip' THEN RETURN NULL; END IF;
  IF NEW.note = 'boom' THEN RAISE EXCEPTION 'row % rejected by trigger', NEW.id; END IF;
  IF NEW.note = 'huge' THEN NEW.note := repeat('h', 300000); RETURN NEW; END IF;
  NEW.note := upper(NEW.note);
  NEW.amount := NEW.amount * 2;
  RETURN NEW;
END
$$;
CREATE FUNCTION tg_after_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tg_audit
    VALUES ('row', NEW.id, NEW.amount, NEW.note);
  RETURN NULL;
END
$$;
CREATE FUNCTION tg_after_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tg_audit
    SELECT 'stmt', count(*), sum(amount), string_agg(note, ',' ORDER BY id) FROM new_rows;
  RETURN NULL;
END
$$;
CREATE TRIGGER tg_b BEFORE INSERT ON tg FOR EACH ROW EXECUTE FUNCTION tg_before();
CREATE TRIGGER tg_ar AFTER INSERT ON tg FOR EACH ROW EXECUTE FUNCTION tg_after_row();
CREATE TRIGGER tg_as AFTER INSERT ON tg REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tg_after_stmt();
\set tcheck 'SELECT count(*), sum(amount), string_agg(note, '','' ORDER BY id) FROM tg;'
INSERT INTO tg VALUES (1, 'a', 1), (2, 'skip', 2), (3, 'c', 3);
COPY tg FROM STDIN;
4	d	4
5	skip	5
\.
:tcheck
SELECT * FROM tg_audit ORDER BY what, n, detail;
-- an error raised by a trigger, or a row made too big by one
INSERT INTO tg VALUES (6, 'e', 6), (7, 'boom', 7);
INSERT INTO tg VALUES (8, 'huge', 8);
COPY tg FROM STDIN;
9	f	9
10	boom	10
\.
:tcheck
SELECT count(*) FROM tg_audit;
-- an AFTER trigger failing after the rows were stored
CREATE FUNCTION tg_after_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT sum(amount) FROM new_rows) > 1000 THEN
    RAISE EXCEPTION 'statement total % too large', (SELECT sum(amount) FROM new_rows);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER tg_limit AFTER INSERT ON tg REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tg_after_fail();
INSERT INTO tg SELECT g, 'bulk', g FROM generate_series(100, 200) g;
:tcheck
-- a deferred constraint trigger failing at COMMIT
CREATE FUNCTION tg_deferred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.note = 'LATE' THEN RAISE EXCEPTION 'deferred check failed for row %', NEW.id; END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER tg_def AFTER INSERT ON tg DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION tg_deferred();
BEGIN;
INSERT INTO tg VALUES (11, 'ok', 11);
INSERT INTO tg VALUES (12, 'late', 12);
SELECT count(*) FROM tg;
COMMIT;
:tcheck
-- a trigger that tries to change the ledger
CREATE FUNCTION tg_tamper() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tg SET amount = 0 WHERE id = 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER tg_tamper AFTER INSERT ON tg FOR EACH ROW EXECUTE FUNCTION tg_tamper();
INSERT INTO tg VALUES (13, 'm', 13);
DROP TRIGGER tg_tamper ON tg;
:tcheck
-- transition tables through a partitioned parent with ledger_am partitions
CREATE TABLE tp (id int, amount int) PARTITION BY LIST ((id % 2));
CREATE TABLE tp0 PARTITION OF tp FOR VALUES IN (0) USING ledger_am;
CREATE TABLE tp1 PARTITION OF tp FOR VALUES IN (1) USING ledger_am;
CREATE FUNCTION tp_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'tp: % rows, sum %', (SELECT count(*) FROM new_rows), (SELECT sum(amount) FROM new_rows);
  RETURN NULL;
END
$$;
CREATE TRIGGER tp_stmt AFTER INSERT ON tp REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tp_stmt();
INSERT INTO tp SELECT g, g FROM generate_series(1, 10) g;
SELECT tableoid::regclass, count(*), sum(amount) FROM tp GROUP BY 1 ORDER BY 1;
DROP TABLE tp;
DROP FUNCTION tp_stmt();
-- INSTEAD OF UPDATE/DELETE on a view: the ledger gets compensating rows,
-- its stored rows are never changed
CREATE VIEW tg_view AS SELECT id, note, amount FROM tg;
CREATE FUNCTION tg_view_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO tg VALUES (OLD.id + 1000, 'correction', NEW.amount - OLD.amount);
    RETURN NEW;
  END IF;
  INSERT INTO tg VALUES (OLD.id + 2000, 'reversal', -OLD.amount);
  RETURN OLD;
END
$$;
DROP TRIGGER tg_limit ON tg;
DROP TRIGGER tg_def ON tg;
DROP TRIGGER tg_b ON tg;
CREATE TRIGGER tg_view_change INSTEAD OF UPDATE OR DELETE ON tg_view
  FOR EACH ROW EXECUTE FUNCTION tg_view_change();
UPDATE tg_view SET amount = 5 WHERE id = 1;
DELETE FROM tg_view WHERE id = 3;
SELECT id, note, amount FROM tg ORDER BY id;
DROP VIEW tg_view;
DROP TABLE tg, tg_audit;
DROP FUNCTION tg_before(), tg_after_row(), tg_after_stmt(), tg_after_fail(), tg_deferred(),
  tg_tamper(), tg_view_change();
-- AFTER ROW triggers see the stored row's ctid and tableoid (they re-read
-- the row by its ctid), for INSERT, COPY and INSERT ... SELECT alike
CREATE TABLE tw (id int, note text) USING ledger_am;
CREATE TABLE tw_seen (id int, tid tid, tbl regclass);
CREATE FUNCTION tw_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tw_seen VALUES (NEW.id, NEW.ctid, NEW.tableoid::regclass);
  RETURN NULL;
END
$$;
CREATE TRIGGER tw_after AFTER INSERT ON tw FOR EACH ROW EXECUTE FUNCTION tw_after();
INSERT INTO tw VALUES (1, 'one');
INSERT INTO tw SELECT g, 'n' || g FROM generate_series(2, 4) g;
COPY tw FROM STDIN;
5	five
\.
SELECT s.id, s.tbl, s.tid = t.ctid AS same_ctid, s.tid <> '(0,0)' AS valid_ctid
FROM tw_seen s LEFT JOIN tw t ON t.id = s.id ORDER BY s.id;
DROP TABLE tw, tw_seen;
DROP FUNCTION tw_after();

------------------------------------------------------------------------
-- 8. Row-level security, column privileges, and a role without privileges:
-- no path (scans, range scans, sampling, COPY, the extension's functions)
-- reveals rows it may not read.
------------------------------------------------------------------------
-- none of the extension's functions runs with its owner's rights; only
-- set_next_row_id is withheld from PUBLIC
SELECT count(*) >= 10 AS functions, count(*) FILTER (WHERE p.prosecdef) AS security_definer,
       string_agg(p.proname, ',') FILTER (WHERE p.proacl IS NOT NULL) AS restricted
FROM pg_proc p WHERE p.pronamespace = 'ledger_am'::regnamespace;
CREATE ROLE regress_ledger_tenant;
CREATE ROLE regress_ledger_columns;
CREATE ROLE regress_ledger_nobody;
CREATE TABLE secret (
  id int PRIMARY KEY,
  acct bigint NOT NULL,
  ts timestamptz NOT NULL,
  tenant text NOT NULL,
  amount int NOT NULL,
  memo text
) USING ledger_am;
CREATE INDEX ON secret USING ledger_range (acct, ts);
INSERT INTO secret
  SELECT g, g % 5, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
         CASE WHEN g % 4 = 0 THEN 'regress_ledger_tenant' ELSE 'someone_else' END, g, 'memo ' || g
  FROM generate_series(1, 400) g;
ANALYZE secret;
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON secret FOR SELECT USING (tenant = current_user);
CREATE POLICY tenant_write ON secret FOR INSERT WITH CHECK (tenant = current_user AND amount > 0);
GRANT SELECT, INSERT ON secret TO regress_ledger_tenant;
CREATE POLICY columns_read ON secret FOR SELECT TO regress_ledger_columns USING (true);
GRANT SELECT (id, acct, ts, amount) ON secret TO regress_ledger_columns;
CREATE FUNCTION leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
  RAISE NOTICE 'leaked %', $1;
  RETURN true;
END
$$;
\set scheck 'SELECT count(*), sum(amount), sum(id) FROM secret;'
:scheck

-- RLS: the tenant sees its 100 rows, whichever plan reads them
SET ROLE regress_ledger_tenant;
:scheck
SELECT count(*), sum(amount) FROM secret TABLESAMPLE BERNOULLI (100);
SET enable_seqscan = off;
SELECT count(*), sum(amount) FROM secret WHERE id > 0;
RESET enable_seqscan;
EXPLAIN (COSTS OFF) SELECT id, tenant FROM secret WHERE acct = 3 AND leak(tenant) ORDER BY ts LIMIT 3;
SELECT id, tenant FROM secret WHERE acct = 3 AND leak(tenant) ORDER BY ts LIMIT 3;
SELECT id FROM secret WHERE ts < '2024-01-01 00:10:00+00' AND leak(memo) ORDER BY ts;
SELECT count(*), sum(amount) FROM ledger_am.account_events(NULL::secret, '4');
SELECT count(*), sum(amount) FROM ledger_am.time_range(NULL::secret);
SELECT count(*) FROM secret WHERE tenant <> current_user;
COPY secret TO STDOUT WITH (FORMAT csv) \g /dev/null
COPY (SELECT count(*) FROM secret) TO STDOUT;
SELECT ledger_am.stored_rows('secret'), ledger_am.next_row_id('secret');
-- a digest covers every row: refused where the policy hides some
SELECT * FROM ledger_am.digest('secret');
-- inserting rows the policy forbids fails; allowed rows go in
INSERT INTO secret VALUES (1001, 1, now(), 'someone_else', 5, 'forged');
INSERT INTO secret VALUES (1002, 1, now(), 'regress_ledger_tenant', -5, 'negative');
INSERT INTO secret VALUES (1003, 1, '2025-01-01 00:00:00+00', 'regress_ledger_tenant', 5, 'mine');
:scheck
SELECT ledger_am.compact('secret');
SELECT ledger_am.set_next_row_id('secret', 100000);
RESET ROLE;
:scheck

-- column privileges: granted columns only; the functions that need the
-- whole table refuse
SET ROLE regress_ledger_columns;
SELECT count(*), sum(amount), max(ts) FROM secret WHERE acct = 2;
SELECT count(*) FROM secret;
SELECT memo FROM secret WHERE id = 1;
SELECT * FROM secret WHERE id = 1;
SELECT id FROM secret WHERE tenant = 'x';
COPY secret (id, amount) TO STDOUT \g /dev/null
COPY secret TO STDOUT;
\set VERBOSITY terse
SELECT count(*) FROM ledger_am.account_events(NULL::secret, '2');
SELECT count(*) FROM ledger_am.time_range(NULL::secret);
\set VERBOSITY default
SELECT ledger_am.table_size('secret');
SELECT ledger_am.stored_rows('secret');
SELECT ledger_am.next_row_id('secret');
SELECT * FROM ledger_am.digest('secret');
RESET ROLE;

-- a role without any privilege on the table
SET ROLE regress_ledger_nobody;
SELECT count(*) FROM secret;
SELECT id FROM secret WHERE id = 1;
SELECT count(*) FROM secret TABLESAMPLE SYSTEM (100);
COPY secret TO STDOUT;
EXPLAIN SELECT * FROM secret;
SELECT ledger_am.table_size('secret');
SELECT ledger_am.stored_rows('secret');
SELECT ledger_am.next_row_id('secret');
SELECT * FROM ledger_am.digest('secret');
SELECT ledger_am.compact('secret');
SELECT ledger_am.set_next_row_id('secret', 100000);
\set VERBOSITY terse
SELECT * FROM ledger_am.account_events(NULL::secret, '1');
SELECT * FROM ledger_am.time_range(NULL::secret, '2024-01-01', '2025-01-01');
\set VERBOSITY default
SELECT count(*) FROM pg_stats WHERE tablename = 'secret';
INSERT INTO secret VALUES (2001, 1, now(), 'regress_ledger_nobody', 1, NULL);
BEGIN;
LOCK TABLE secret IN ACCESS SHARE MODE;
ROLLBACK;
CREATE INDEX ON secret (memo);
DROP TABLE secret;
ALTER TABLE secret DISABLE ROW LEVEL SECURITY;
RESET ROLE;
:scheck

-- the owner bypasses RLS unless it is forced; forced, the owner is filtered
-- like everyone else
ALTER TABLE secret FORCE ROW LEVEL SECURITY;
ALTER TABLE secret OWNER TO regress_ledger_tenant;
SET ROLE regress_ledger_tenant;
:scheck
ALTER TABLE secret NO FORCE ROW LEVEL SECURITY;
:scheck
RESET ROLE;
ALTER TABLE secret OWNER TO CURRENT_USER;
DROP TABLE secret;
DROP FUNCTION leak(text);
DROP ROLE regress_ledger_tenant, regress_ledger_columns, regress_ledger_nobody;

-- Nothing of the failed statements above is visible anywhere.
:check
:dcheck
:evcheck
:ccheck
:pcheck
:fcheck
DROP TABLE sized, size_limit, docs, ev, checked, alltypes, gen, pt, postings, acct;
DROP TYPE mood, pair;
DROP DOMAIN short_text, positive_amount;
COPY (SELECT 1) TO PROGRAM 'rm -f bad_input_max.copy bad_input_over.copy bad_input_alltypes.copy';
