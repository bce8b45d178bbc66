--
-- copy_dump: COPY in and out of ledger_am tables (COPY uses the bulk
-- multi_insert path), and a pg_dump / pg_restore round trip.
--
\set VERBOSITY default

CREATE TABLE cp (id int PRIMARY KEY, account text, amount numeric(10,2), note text) USING ledger_am;

-- COPY FROM STDIN, text format (with NULLs, escapes, tabs and newlines in values)
COPY cp FROM STDIN;
1	alice	10.00	plain
2	bob	-2.50	\N
3	carol	0.01	tab\there
4	dave	7.00	new\nline
5	erin	\N	back\\slash
\.
-- csv format, with a header, quoting and an explicit column list
COPY cp (id, note, account, amount) FROM STDIN (FORMAT csv, HEADER true);
id,note,account,amount
6,"quoted, comma",frank,1.5
7,"""double""",grace,2.5
8,,heidi,
9,"",ivan,3
\.
SELECT id, account, amount, note, note IS NULL AS note_null FROM cp ORDER BY id;
-- COPY ... WHERE keeps only matching rows
COPY cp FROM STDIN WHERE id % 2 = 0;
10	x	1	even
11	x	1	odd
12	x	1	even
\.
SELECT id, note FROM cp WHERE id >= 10 ORDER BY id;

-- COPY TO STDOUT, text and csv, and COPY (query) TO STDOUT
COPY cp TO STDOUT;
COPY cp (id, note) TO STDOUT (FORMAT csv, HEADER true, FORCE_QUOTE *);
COPY (SELECT account, sum(amount) FROM cp WHERE amount IS NOT NULL GROUP BY account ORDER BY account) TO STDOUT (FORMAT csv);
COPY (SELECT id FROM cp WHERE id BETWEEN 2 AND 4 ORDER BY id DESC) TO STDOUT;

-- A unique violation in the middle of a COPY fails it as a whole.
COPY cp FROM STDIN (FORMAT csv);
100,a,1,
101,a,1,
1,dup,1,
102,a,1,
\.
SELECT count(*), max(id) FROM cp;
SELECT count(*) FROM cp WHERE id >= 100;
-- ... also when the duplicate is within the COPY data itself
COPY cp FROM STDIN (FORMAT csv);
200,a,1,
200,b,1,
\.
-- ... and a malformed line
COPY cp FROM STDIN (FORMAT csv);
300,a,1,
301,a,not a number,
\.
SELECT count(*), max(id) FROM cp;

-- Larger loads: 20000 rows from a program, into a table with two indexes.
CREATE TABLE bulk (n int PRIMARY KEY, grp int, label text) USING ledger_am;
CREATE INDEX bulk_grp ON bulk (grp);
COPY bulk (n) FROM PROGRAM 'seq 1 20000';
SELECT count(*), sum(n), count(grp) FROM bulk;
COPY (SELECT g + 20000, g % 100, 'row ' || g FROM generate_series(1, 20000) g)
  TO PROGRAM 'cat > ledger_am_copy_dump.csv' (FORMAT csv);
COPY bulk FROM PROGRAM 'cat ledger_am_copy_dump.csv' (FORMAT csv);
SELECT count(*), sum(n), count(grp), sum(grp), count(DISTINCT label) FROM bulk;
-- the index finds every row: index, bitmap and sequential scans agree
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM bulk WHERE grp = 42;
SELECT count(*), sum(n) FROM bulk WHERE grp = 42;
SELECT count(*), sum(n) FROM bulk WHERE n BETWEEN 19990 AND 20010;
SELECT count(*) FROM bulk b1 WHERE NOT EXISTS (SELECT 1 FROM bulk b2 WHERE b2.n = b1.n AND b2.ctid = b1.ctid);
SET enable_indexscan = off;
SET enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM bulk WHERE grp = 42;
SELECT count(*), sum(n) FROM bulk WHERE grp = 42;
SELECT count(*), sum(n) FROM bulk WHERE n BETWEEN 19990 AND 20010;
RESET enable_seqscan;
RESET enable_indexscan;
RESET enable_bitmapscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM bulk WHERE grp = 42;
SELECT count(*), sum(n) FROM bulk WHERE grp = 42;
SELECT count(*), sum(n) FROM bulk WHERE n BETWEEN 19990 AND 20010;
RESET enable_indexscan;
RESET enable_bitmapscan;
-- a duplicate in a large COPY leaves nothing either
COPY bulk (n) FROM PROGRAM 'seq 39990 40010';
SELECT count(*), max(n) FROM bulk;

-- COPY FREEZE: works for a table created in the same transaction, and gives
-- the usual error otherwise.
BEGIN;
CREATE TABLE frozen (id int, v text) USING ledger_am;
COPY frozen FROM STDIN (FREEZE);
1	one
2	two
\.
SELECT * FROM frozen ORDER BY id;
COMMIT;
SELECT * FROM frozen ORDER BY id;
COPY frozen FROM STDIN (FREEZE);
3	three
\.
SELECT count(*) FROM frozen;

-- COPY into a table with a BEFORE ROW trigger, and into a partitioned table
-- whose partitions are ledger_am tables.
CREATE FUNCTION upper_label() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.v := upper(NEW.v);
  RETURN NEW;
END
$$;
CREATE TRIGGER frozen_upper BEFORE INSERT ON frozen FOR EACH ROW EXECUTE FUNCTION upper_label();
COPY frozen FROM STDIN;
4	four
5	five
\.
SELECT * FROM frozen ORDER BY id;
CREATE TABLE cp_parted (id int, v text) PARTITION BY LIST ((id % 3));
CREATE TABLE cp_parted_0 PARTITION OF cp_parted FOR VALUES IN (0) USING ledger_am;
CREATE TABLE cp_parted_1 PARTITION OF cp_parted FOR VALUES IN (1) USING ledger_am;
CREATE TABLE cp_parted_2 PARTITION OF cp_parted FOR VALUES IN (2);
COPY cp_parted (id) FROM PROGRAM 'seq 1 3000';
SELECT tableoid::regclass, count(*), sum(id) FROM cp_parted GROUP BY 1 ORDER BY 1;

-- pg_dump / pg_restore round trip of ledger_am tables (with the canonical
-- events table, its defaults and indexes) into another database.
SELECT ledger_am.create_events_table('dump_events');
INSERT INTO dump_events (event_id, event_type, aggregate_id, aggregate_version, ts, amount, payload)
SELECT md5('ev' || g)::uuid, 'deposit', md5('agg' || (g % 10))::uuid, g / 10 + 1,
       '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g, jsonb_build_object('g', g)
FROM generate_series(1, 500) g;
CREATE TABLE dump_plain (id int, note text) USING ledger_am;
INSERT INTO dump_plain SELECT id, note FROM cp;
CREATE TABLE dump_heap_ref (event_id uuid REFERENCES dump_events (event_id), n int);
INSERT INTO dump_heap_ref SELECT md5('ev' || g)::uuid, g FROM generate_series(1, 500, 50) g;
CREATE TABLE dump_summary AS
  SELECT (SELECT count(*) FROM dump_events) AS events,
         (SELECT sum(amount) FROM dump_events) AS amount,
         (SELECT md5(string_agg(event_id::text || ts::text || payload::text, ',' ORDER BY event_id)) FROM dump_events) AS events_md5,
         (SELECT md5(string_agg(coalesce(note, '<null>'), ',' ORDER BY id)) FROM dump_plain) AS plain_md5;
CREATE DATABASE regress_ledger_restore;
\c regress_ledger_restore
CREATE EXTENSION ledger_am;
\c contrib_regression
\! pg_dump --format=custom --table='dump_*' --file=results/copy_dump.dump contrib_regression
\! pg_restore --dbname=regress_ledger_restore --exit-on-error results/copy_dump.dump
\c regress_ledger_restore
\set VERBOSITY default
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname LIKE 'dump%' ORDER BY 1;
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'dump_events'::regclass ORDER BY 1;
SELECT s.events = (SELECT count(*) FROM dump_events) AS events_match,
       s.amount = (SELECT sum(amount) FROM dump_events) AS amount_match,
       s.events_md5 = (SELECT md5(string_agg(event_id::text || ts::text || payload::text, ',' ORDER BY event_id)) FROM dump_events) AS events_md5_match,
       s.plain_md5 = (SELECT md5(string_agg(coalesce(note, '<null>'), ',' ORDER BY id)) FROM dump_plain) AS plain_md5_match
FROM dump_summary s;
SELECT count(*), sum(r.n), count(e.event_id) FROM dump_heap_ref r LEFT JOIN dump_events e USING (event_id);
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'dump_heap_ref'::regclass;
SET enable_seqscan = off;
SELECT aggregate_version, amount FROM dump_events WHERE event_id = md5('ev250')::uuid;
RESET enable_seqscan;
INSERT INTO dump_events (event_type, aggregate_id, aggregate_version) VALUES ('restored', md5('x')::uuid, 1);
INSERT INTO dump_events (event_id, event_type, aggregate_id, aggregate_version)
  VALUES (md5('ev1')::uuid, 'dup', md5('y')::uuid, 1);
UPDATE dump_events SET amount = 0;
SELECT count(*) FROM dump_events;
\c contrib_regression
DROP DATABASE regress_ledger_restore;
SELECT count(*) FROM pg_database WHERE datname = 'regress_ledger_restore';
SELECT count(*) FROM dump_events;

DROP TABLE cp, bulk, frozen, cp_parted, dump_heap_ref, dump_events, dump_plain, dump_summary;
DROP FUNCTION upper_label();
\! rm -f results/copy_dump.dump
COPY (SELECT 1) TO PROGRAM 'rm -f ledger_am_copy_dump.csv';
