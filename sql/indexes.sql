--
-- indexes: btree indexes on ledger_am tables (index, index-only and bitmap
-- scans), uniqueness, REINDEX.
--
\set VERBOSITY default

CREATE TABLE ix (
  event_id uuid NOT NULL,
  seq      int NOT NULL,
  account  int NOT NULL,
  kind     text NOT NULL,
  amount   numeric NOT NULL,
  ts       timestamptz NOT NULL
) USING ledger_am;
INSERT INTO ix
SELECT md5('e' || g)::uuid, g, g % 50, CASE WHEN g % 10 = 0 THEN 'refund' ELSE 'payment' END,
       (g % 1000) / 10.0, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute'
FROM generate_series(1, 5000) g;

-- CREATE INDEX on a populated table: unique, multi-column, expression, partial.
CREATE UNIQUE INDEX ix_event_id ON ix (event_id);
CREATE UNIQUE INDEX ix_seq ON ix (seq);
CREATE INDEX ix_account_ts ON ix (account, ts);
CREATE INDEX ix_lower_kind ON ix (lower(kind));
CREATE INDEX ix_refunds ON ix (ts) WHERE kind = 'refund';
CREATE INDEX ix_amount_incl ON ix (amount) INCLUDE (account);
ANALYZE ix;
SELECT c.relname, i.indisunique, i.indisvalid, i.indisready, c.reltuples
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'ix'::regclass ORDER BY 1;

-- The reference results, from a sequential scan.
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
\set q1 'SELECT seq, account, kind FROM ix WHERE event_id = md5(''e4321'')::uuid'
\set q2 'SELECT count(*), sum(seq), min(ts), max(ts) FROM ix WHERE account = 7 AND ts >= ''2024-01-02 00:00:00+00'' AND ts < ''2024-01-03 00:00:00+00'''
\set q3 'SELECT count(*), sum(seq) FROM ix WHERE lower(kind) = ''refund'''
\set q4 'SELECT count(*), sum(seq) FROM ix WHERE kind = ''refund'' AND ts < ''2024-01-02 00:00:00+00'''
\set q5 'SELECT count(*), sum(seq) FROM ix WHERE seq BETWEEN 1000 AND 1999'
\set q6 'SELECT seq FROM ix WHERE seq > 4990 ORDER BY seq'
\set q7 'SELECT count(*), sum(account) FROM ix WHERE amount BETWEEN 10 AND 11'
EXPLAIN (COSTS OFF) :q1;
:q1;
:q2;
:q3;
:q4;
:q5;
:q6;
:q7;
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET enable_indexonlyscan;

-- Index scans
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
EXPLAIN (COSTS OFF) :q1;
:q1;
EXPLAIN (COSTS OFF) :q2;
:q2;
EXPLAIN (COSTS OFF) :q3;
:q3;
EXPLAIN (COSTS OFF) :q4;
:q4;
EXPLAIN (COSTS OFF) :q5;
:q5;
EXPLAIN (COSTS OFF) :q6;
:q6;
-- backward index scan, with LIMIT
EXPLAIN (COSTS OFF) SELECT seq FROM ix ORDER BY seq DESC LIMIT 3;
SELECT seq FROM ix ORDER BY seq DESC LIMIT 3;
-- a merge join over two index scans
SET enable_hashjoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix a JOIN ix b ON a.seq = b.seq;
SELECT count(*) FROM ix a JOIN ix b ON a.seq = b.seq;
RESET enable_hashjoin;
RESET enable_nestloop;
-- a nested loop with a parameterized inner index scan
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
  SELECT count(*), sum(b.seq) FROM generate_series(1, 100) g JOIN ix b ON b.seq = g * 7;
SELECT count(*), sum(b.seq) FROM generate_series(1, 100) g JOIN ix b ON b.seq = g * 7;
RESET enable_hashjoin;
RESET enable_mergejoin;
-- Index scans walking forward through row ids ask for their next rows
-- ahead (one client active). Another scan of the same backend that needs
-- the channel meanwhile (a subplan's probes) first takes in that answer for
-- it; a rolled-back subtransaction drops it and the scan asks again.
EXPLAIN (COSTS OFF)
  SELECT a.seq, (SELECT b.amount FROM ix b WHERE b.event_id = a.event_id)
  FROM ix a WHERE a.seq BETWEEN 100 AND 4000;
SELECT count(*), count(*) FILTER (WHERE probed = own) AS same, min(seq), max(seq)
FROM (SELECT a.seq, a.amount AS own,
             (SELECT b.amount FROM ix b WHERE b.event_id = a.event_id) AS probed
      FROM ix a WHERE a.seq BETWEEN 100 AND 4000) x;
DO $$
DECLARE
  r record; want int := 100; caught int := 0;
BEGIN
  FOR r IN SELECT seq FROM ix WHERE seq BETWEEN 100 AND 4000 ORDER BY seq LOOP
    IF r.seq <> want THEN
      RAISE EXCEPTION 'got seq %, expected %', r.seq, want;
    END IF;
    want := want + 1;
    BEGIN
      PERFORM 1 / (r.seq % 97);
    EXCEPTION WHEN division_by_zero THEN
      caught := caught + 1;
    END;
  END LOOP;
  RAISE NOTICE 'rows %, caught %', want - 100, caught;
END $$;
RESET enable_indexonlyscan;

-- Index-only scan plans return correct data (ledger_am keeps no visibility
-- map: the rows are visited).
EXPLAIN (COSTS OFF) SELECT seq FROM ix WHERE seq BETWEEN 1000 AND 1010 ORDER BY seq;
SELECT seq FROM ix WHERE seq BETWEEN 1000 AND 1010 ORDER BY seq;
EXPLAIN (COSTS OFF) :q7;
:q7;
EXPLAIN (COSTS OFF) :q5;
:q5;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Bitmap scans, including BitmapAnd / BitmapOr.
SET enable_seqscan = off;
SET enable_indexscan = off;
EXPLAIN (COSTS OFF) :q2;
:q2;
EXPLAIN (COSTS OFF) :q3;
:q3;
EXPLAIN (COSTS OFF) :q4;
:q4;
EXPLAIN (COSTS OFF) :q5;
:q5;
EXPLAIN (COSTS OFF) :q7;
:q7;
EXPLAIN (COSTS OFF) SELECT count(*), sum(seq) FROM ix WHERE seq < 100 OR account = 3;
SELECT count(*), sum(seq) FROM ix WHERE seq < 100 OR account = 3;
EXPLAIN (COSTS OFF) SELECT count(*), sum(seq) FROM ix WHERE seq < 2000 AND amount < 5;
SELECT count(*), sum(seq) FROM ix WHERE seq < 2000 AND amount < 5;
RESET enable_seqscan;
RESET enable_indexscan;
-- the reference, by sequential scan
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*), sum(seq) FROM ix WHERE seq < 100 OR account = 3;
SELECT count(*), sum(seq) FROM ix WHERE seq < 2000 AND amount < 5;
RESET enable_indexscan;
RESET enable_bitmapscan;

-- Uniqueness: duplicates are refused with SQLSTATE 23505.
INSERT INTO ix VALUES (md5('e17')::uuid, 100017, 0, 'payment', 0, '2024-06-01 00:00:00+00');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO ix VALUES (md5('new')::uuid, 17, 0, 'payment', 0, '2024-06-01 00:00:00+00');
INSERT INTO ix SELECT md5('dup' || (g % 2))::uuid, 100000 + g, 0, 'payment', 0, now()
  FROM generate_series(1, 3) g;
DO $$
BEGIN
  INSERT INTO ix VALUES (md5('e1')::uuid, 200001, 0, 'payment', 0, now());
EXCEPTION WHEN unique_violation THEN
  RAISE NOTICE 'caught unique_violation, SQLSTATE %', SQLSTATE;
END
$$;
SELECT count(*), count(DISTINCT event_id), max(seq) FROM ix;
-- a new row is found through every index
INSERT INTO ix VALUES (md5('new')::uuid, 5001, 7, 'Refund', 1.5, '2024-01-02 12:00:00+00');
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT seq FROM ix WHERE event_id = md5('new')::uuid;
SELECT seq FROM ix WHERE seq = 5001;
SELECT seq FROM ix WHERE account = 7 AND ts = '2024-01-02 12:00:00+00';
SELECT count(*) FROM ix WHERE lower(kind) = 'refund';
RESET enable_seqscan;
RESET enable_bitmapscan;

-- A unique index build on duplicate data fails cleanly.
CREATE UNIQUE INDEX ix_account_unique ON ix (account);
SELECT count(*) FROM pg_class WHERE relname = 'ix_account_unique';
-- ... and a unique index on a rolled-back duplicate succeeds
BEGIN;
INSERT INTO ix VALUES (md5('rb')::uuid, 6000, 0, 'payment', 0, now());
ROLLBACK;
INSERT INTO ix VALUES (md5('rb')::uuid, 6000, 0, 'payment', 0, now());
CREATE TABLE uq (k int, v text) USING ledger_am;
INSERT INTO uq VALUES (1, 'a'), (2, 'b');
BEGIN;
INSERT INTO uq VALUES (1, 'rolled back');
ROLLBACK;
CREATE UNIQUE INDEX uq_k ON uq (k);
INSERT INTO uq VALUES (1, 'dup');
INSERT INTO uq VALUES (3, 'c');
SELECT * FROM uq ORDER BY k;
-- NULLs are distinct in a unique index, unless NULLS NOT DISTINCT
INSERT INTO uq VALUES (NULL, 'n1'), (NULL, 'n2');
CREATE UNIQUE INDEX uq_v_nnd ON uq (v) NULLS NOT DISTINCT;
INSERT INTO uq VALUES (4, NULL);
INSERT INTO uq VALUES (5, NULL);
SELECT count(*), count(k) FROM uq;

-- REINDEX works and the rebuilt indexes answer the same.
REINDEX INDEX ix_event_id;
REINDEX TABLE ix;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
:q1;
:q2;
:q5;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- REINDEX ... CONCURRENTLY rebuilds them without blocking writes (a range
-- declaration is refused: range_scans.sql); the unique indexes still refuse
-- duplicates and nothing "_ccnew" is left behind.
REINDEX TABLE CONCURRENTLY uq;
REINDEX INDEX CONCURRENTLY uq_k;
SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'uq'::regclass ORDER BY 1;
INSERT INTO uq VALUES (3, 'dup again');
SET enable_seqscan = off;
SELECT k, v FROM uq WHERE k >= 1 ORDER BY k;
RESET enable_seqscan;

-- Bitmap scans over many virtual blocks, exact and lossy: rows spread over
-- 2000 blocks (one row per block, at varying offsets).
CREATE TABLE sparse (id int) USING ledger_am;
DO $$
BEGIN
  FOR i IN 1..2000 LOOP
    PERFORM ledger_am.set_next_row_id('sparse', i * 291 + i % 7);
    INSERT INTO sparse VALUES (i);
  END LOOP;
END
$$;
CREATE INDEX sparse_id ON sparse (id);
SELECT count(*), sum(id), min(ctid), max(ctid) FROM sparse;
SELECT ctid, id FROM sparse WHERE id IN (1, 2, 7, 2000) ORDER BY id;
CREATE FUNCTION bitmap_blocks(query text) RETURNS TABLE (exact bool, lossy bool)
LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
    IF line ~ 'Heap Blocks:' THEN
      exact := line ~ 'exact=\d+';
      lossy := line ~ 'lossy=\d+';
      RETURN NEXT;
    END IF;
  END LOOP;
END
$$;
SET enable_seqscan = off;
SET enable_indexscan = off;
SELECT count(*), sum(id) FROM sparse WHERE id BETWEEN 500 AND 1500;
SELECT * FROM bitmap_blocks('SELECT * FROM sparse WHERE id BETWEEN 500 AND 1500');
SET work_mem = '64kB';
SELECT count(*), sum(id) FROM sparse WHERE id BETWEEN 500 AND 1500;
SELECT count(*), sum(id) FROM sparse WHERE id BETWEEN 1 AND 2000 AND id % 10 = 0;
SELECT * FROM bitmap_blocks('SELECT * FROM sparse WHERE id BETWEEN 1 AND 2000 AND id % 10 = 0');
RESET work_mem;
RESET enable_seqscan;
RESET enable_indexscan;
SELECT count(*), sum(id) FROM sparse WHERE id BETWEEN 500 AND 1500;
DROP FUNCTION bitmap_blocks(text);

-- DROP INDEX, and an index created within a transaction that rolls back.
DROP INDEX ix_refunds;
BEGIN;
CREATE INDEX ix_kind ON ix (kind);
SET LOCAL enable_seqscan = off;
SELECT count(*) FROM ix WHERE kind = 'refund';
ROLLBACK;
SELECT count(*) FROM pg_class WHERE relname IN ('ix_refunds', 'ix_kind');

-- Hash, GIN and BRIN indexes.
CREATE TABLE other_am (id int, tags text[], body jsonb) USING ledger_am;
INSERT INTO other_am SELECT g, ARRAY['t' || (g % 5), 'all'], jsonb_build_object('g', g % 7)
FROM generate_series(1, 2000) g;
CREATE INDEX other_hash ON other_am USING hash (id);
CREATE INDEX other_gin ON other_am USING gin (tags);
CREATE INDEX other_jsonb ON other_am USING gin (body jsonb_path_ops);
CREATE INDEX other_brin ON other_am USING brin (id);
SET enable_seqscan = off;
SELECT id FROM other_am WHERE id = 1234;
SELECT count(*) FROM other_am WHERE tags @> ARRAY['t3'];
SELECT count(*) FROM other_am WHERE body @> '{"g": 4}';
SELECT count(*), sum(id) FROM other_am WHERE id BETWEEN 100 AND 200;
RESET enable_seqscan;

-- amcheck: the btree indexes are consistent and every row is indexed.
CREATE EXTENSION amcheck;
SELECT c.relname, bt_index_check(c.oid, true) AS checked
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid IN ('ix'::regclass, 'uq'::regclass, 'sparse'::regclass) AND a.amname = 'btree'
ORDER BY 1;
DROP EXTENSION amcheck;

DROP TABLE ix, uq, other_am, sparse;
