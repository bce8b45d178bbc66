--
-- range_scans: range declarations (CREATE INDEX ... USING ledger_range) and
-- the LedgerRangeScan plan node: which declarations are accepted or refused,
-- backfill, the plan shapes of every query form the node serves, results
-- identical to the same queries without it (ledger_am.enable_range_scan =
-- off), NULLs, generic plans, parameterized joins, account_events() and
-- time_range(), privileges and row-level security, visibility.
--
\set VERBOSITY default
-- Plans must not depend on the machine; readable timestamps.
SET max_parallel_workers_per_gather = 0;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- rs_check(q): runs query q with the range scan enabled and disabled and
-- compares the rows in output order (md5 of the rows as text); tells whether
-- the enabled plan used LedgerRangeScan.
CREATE FUNCTION rs_check(q text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
  plan text := '';
  line text;
  n_on bigint; n_off bigint; h_on text; h_off text;
  agg text := 'SELECT count(*), md5(string_agg(x::text, E''\n'')) FROM (' || q || ') x';
BEGIN
  PERFORM set_config('ledger_am.enable_range_scan', 'on', true);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    plan := plan || line || E'\n';
  END LOOP;
  EXECUTE agg INTO n_on, h_on;
  PERFORM set_config('ledger_am.enable_range_scan', 'off', true);
  EXECUTE agg INTO n_off, h_off;
  PERFORM set_config('ledger_am.enable_range_scan', 'on', true);
  RETURN format('%s rows, %s, %s', n_on,
                CASE WHEN plan LIKE '%LedgerRangeScan%' THEN 'range scan' ELSE 'no range scan' END,
                CASE WHEN n_on = n_off AND h_on IS NOT DISTINCT FROM h_off
                     THEN 'same rows as without it' ELSE 'DIFFERENT: ' || n_off || ' rows without it' END);
END
$fn$;

-- rs_same(q): whether q returns the same rows in the same order with the
-- range scan enabled and disabled (whichever plans are chosen).
CREATE FUNCTION rs_same(q text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  h_on text; h_off text;
  agg text := 'SELECT count(*) || '' '' || coalesce(md5(string_agg(x::text, E''\n'')), '''') FROM (' || q || ') x';
BEGIN
  PERFORM set_config('ledger_am.enable_range_scan', 'on', true);
  EXECUTE agg INTO h_on;
  PERFORM set_config('ledger_am.enable_range_scan', 'off', true);
  EXECUTE agg INTO h_off;
  PERFORM set_config('ledger_am.enable_range_scan', 'on', true);
  RETURN h_on = h_off;
END
$fn$;

-- ---------------------------------------------------------------------------
-- Declarations
-- ---------------------------------------------------------------------------
CREATE TABLE rs_heap (acct bigint, ts timestamptz);
CREATE INDEX ON rs_heap USING ledger_range (acct, ts);

CREATE TABLE rs_decl (acct bigint, ts timestamptz, note text, j jsonb, n numeric,
                      na numeric[], arr bigint[], tarr text[], u uuid, i int) USING ledger_am;
-- wrong types: Postgres finds no operator class, or the declaration refuses
CREATE INDEX ON rs_decl USING ledger_range (j, ts);
CREATE INDEX ON rs_decl USING ledger_range (na, ts);
CREATE INDEX ON rs_decl USING ledger_range (acct, note);
CREATE INDEX ON rs_decl USING ledger_range (acct, n);
CREATE INDEX ON rs_decl USING ledger_range (ts, acct);
-- account columns of different kinds
CREATE INDEX ON rs_decl USING ledger_range (acct, note, ts);
CREATE INDEX ON rs_decl USING ledger_range (acct, tarr, ts);
CREATE INDEX ON rs_decl USING ledger_range (u, acct, ts);
-- expressions, one column, unknown column, WHERE, INCLUDE, UNIQUE, CONCURRENTLY
-- (created or rebuilt)
CREATE INDEX ON rs_decl USING ledger_range ((acct + 1), ts);
CREATE INDEX ON rs_decl USING ledger_range (acct, (ts + interval '1 day'));
CREATE INDEX ON rs_decl USING ledger_range (acct);
CREATE INDEX ON rs_decl USING ledger_range (no_such_column, ts);
CREATE INDEX ON rs_decl USING ledger_range (acct, ts) WHERE acct > 0;
CREATE INDEX ON rs_decl USING ledger_range (acct, ts) INCLUDE (note);
CREATE UNIQUE INDEX ON rs_decl USING ledger_range (acct, ts);
CREATE INDEX CONCURRENTLY ON rs_decl USING ledger_range (acct, ts);
CREATE INDEX rs_decl_range ON rs_decl USING ledger_range (acct, ts);
REINDEX INDEX CONCURRENTLY rs_decl_range;
REINDEX TABLE CONCURRENTLY rs_decl;
REINDEX SCHEMA CONCURRENTLY public;
REINDEX INDEX rs_decl_range;
DROP INDEX rs_decl_range;
-- nothing was declared
SELECT * FROM ledger_am.range_declaration('rs_decl');
-- accepted: integer accounts (scalar and array of the same kind), then a
-- second declaration is refused
CREATE INDEX rs_decl_range ON rs_decl USING ledger_range (acct, i, arr, ts);
SELECT * FROM ledger_am.range_declaration('rs_decl');
CREATE INDEX ON rs_decl USING ledger_range (u, ts);
CREATE INDEX ON rs_decl USING ledger_range (acct, ts);
-- the index is never used as an index
SELECT indexrelid::regclass, indisvalid, indisready FROM pg_index WHERE indrelid = 'rs_decl'::regclass;
DROP TABLE rs_decl, rs_heap;

-- ---------------------------------------------------------------------------
-- Backfill: declaring a table that already has rows
-- ---------------------------------------------------------------------------
CREATE TABLE rs_fill (id int, acct bigint, ts timestamptz, note text) USING ledger_am;
INSERT INTO rs_fill
SELECT g, g % 7, timestamptz '2024-03-01 00:00:00+00' + (g / 2) * interval '1 minute', 'row ' || g
FROM generate_series(1, 700) g;
BEGIN;
INSERT INTO rs_fill VALUES (9999, 3, '2024-02-01 00:00:00+00', 'rolled back');
ROLLBACK;
CREATE TABLE rs_fill_before AS
SELECT 'acct3' AS q, id, acct, ts FROM rs_fill WHERE acct = 3
UNION ALL
SELECT 'window', id, acct, ts FROM rs_fill WHERE ts >= '2024-03-01 01:00:00+00' AND ts < '2024-03-01 02:00:00+00';
CREATE INDEX rs_fill_range ON rs_fill USING ledger_range (acct, ts);
ANALYZE rs_fill;
EXPLAIN (COSTS OFF) SELECT id, acct, ts FROM rs_fill WHERE acct = 3;
-- identical to the answers before the declaration, both ways
CREATE TABLE rs_fill_after AS
SELECT 'acct3' AS q, id, acct, ts FROM rs_fill WHERE acct = 3
UNION ALL
SELECT 'window', id, acct, ts FROM rs_fill WHERE ts >= '2024-03-01 01:00:00+00' AND ts < '2024-03-01 02:00:00+00';
SELECT (SELECT count(*) FROM rs_fill_before) AS before_rows,
       (SELECT count(*) FROM (TABLE rs_fill_before EXCEPT ALL TABLE rs_fill_after) x) AS missing,
       (SELECT count(*) FROM (TABLE rs_fill_after EXCEPT ALL TABLE rs_fill_before) x) AS extra;
-- rows inserted after the declaration get keys with the row
INSERT INTO rs_fill SELECT g, 3, timestamptz '2024-04-01 00:00:00+00' + g * interval '1 second', 'later'
FROM generate_series(701, 710) g;
SELECT rs_check('SELECT id, ts FROM rs_fill WHERE acct = 3 ORDER BY ts, id');
SELECT rs_check('SELECT id FROM rs_fill WHERE acct = 3 AND ts >= ''2024-04-01 00:00:05+00'' ORDER BY ts');
-- and so does COPY (multi-row inserts)
COPY rs_fill (id, acct, ts, note) FROM stdin;
720	3	2024-04-02 00:00:00+00	copied
721	3	2024-04-02 00:00:01+00	copied
722	5	2024-04-02 00:00:02+00	copied
\.
SELECT id, ts FROM rs_fill WHERE acct = 3 AND ts >= '2024-04-02 00:00:00+00' ORDER BY ts DESC;
SELECT rs_check('SELECT id, ts FROM rs_fill WHERE ts >= ''2024-04-01 00:00:00+00'' ORDER BY ts');

-- DROP INDEX: the declaration goes, the same queries fall back to other plans
DROP INDEX rs_fill_range;
SELECT * FROM ledger_am.range_declaration('rs_fill');
EXPLAIN (COSTS OFF) SELECT id, ts FROM rs_fill WHERE acct = 3 ORDER BY ts DESC LIMIT 3;
SELECT id, ts FROM rs_fill WHERE acct = 3 ORDER BY ts DESC LIMIT 3;
INSERT INTO rs_fill VALUES (711, 3, '2024-05-01 00:00:00+00', 'undeclared');
-- and CREATE again backfills everything, including rows written meanwhile
CREATE INDEX rs_fill_range ON rs_fill USING ledger_range (acct, ts);
EXPLAIN (COSTS OFF) SELECT id, ts FROM rs_fill WHERE acct = 3 ORDER BY ts DESC LIMIT 3;
SELECT id, ts FROM rs_fill WHERE acct = 3 ORDER BY ts DESC LIMIT 3;
SELECT rs_check('SELECT id, ts FROM rs_fill WHERE acct = 3 ORDER BY ts, id');
-- REINDEX rebuilds the keys
REINDEX INDEX rs_fill_range;
SELECT rs_check('SELECT id, ts FROM rs_fill WHERE acct = 3 ORDER BY ts, id');
DROP TABLE rs_fill, rs_fill_before, rs_fill_after;

-- a declaration made by the transaction that wrote the rows covers them
CREATE TABLE rs_same (id int, acct int, ts timestamptz) USING ledger_am;
BEGIN;
INSERT INTO rs_same SELECT g, g % 3, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day'
FROM generate_series(1, 30) g;
CREATE INDEX ON rs_same USING ledger_range (acct, ts);
SELECT rs_check('SELECT id FROM rs_same WHERE acct = 1 ORDER BY ts');
INSERT INTO rs_same VALUES (31, 1, '2023-01-01 00:00:00+00');
SELECT rs_check('SELECT id FROM rs_same WHERE acct = 1 ORDER BY ts');
COMMIT;
SELECT id FROM rs_same WHERE acct = 1 ORDER BY ts DESC LIMIT 3;
SELECT rs_check('SELECT id FROM rs_same WHERE acct = 1 ORDER BY ts');
DROP TABLE rs_same;

-- ---------------------------------------------------------------------------
-- The canonical events table: two account columns (debit, credit)
-- ---------------------------------------------------------------------------
SELECT ledger_am.create_events_table('rs_events');
SELECT * FROM ledger_am.range_declaration('rs_events');
-- 3000 events over accounts 0..59, three events per hour (duplicate ts);
-- deposits without debit, withdrawals without credit, self-transfers
INSERT INTO rs_events (event_id, event_type, aggregate_id, aggregate_version, ts,
                       debit_account, credit_account, amount, currency)
SELECT md5('rs' || i)::uuid, 'transfer', md5('agg' || (i % 97))::uuid, i / 97 + 1,
       timestamptz '2024-01-01 00:00:00+00' + (i / 3) * interval '1 hour',
       CASE WHEN i % 11 = 0 THEN NULL ELSE i % 60 END,
       CASE WHEN i % 13 = 0 THEN NULL WHEN i % 17 = 0 THEN i % 60 ELSE (i * 7 + 3) % 60 END,
       i, 'USD'
FROM generate_series(1, 3000) i;
ANALYZE rs_events;
SELECT count(*) FILTER (WHERE debit_account IS NULL) AS no_debit,
       count(*) FILTER (WHERE credit_account IS NULL) AS no_credit,
       count(*) FILTER (WHERE debit_account = credit_account) AS self,
       count(*) - count(DISTINCT ts) AS duplicate_ts
FROM rs_events;

-- one account column
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42;
SELECT rs_check('SELECT event_id, ts FROM rs_events WHERE debit_account = 42 ORDER BY ts, event_id');
SELECT rs_check('SELECT amount FROM rs_events WHERE credit_account = 42');
-- either account column: an event touching the account twice is found once
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 OR credit_account = 42;
SELECT rs_check('SELECT event_id, ts FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts, event_id');
SELECT count(*), count(DISTINCT event_id),
       count(*) FILTER (WHERE debit_account = credit_account) AS self
FROM rs_events WHERE debit_account = 51 OR credit_account = 51;
SELECT rs_check('SELECT event_id FROM rs_events WHERE credit_account = 51 OR debit_account = 51 ORDER BY ts, event_id');
-- account and time bounds
EXPLAIN (COSTS OFF) SELECT * FROM rs_events
WHERE (debit_account = 42 OR credit_account = 42)
  AND ts >= '2024-01-10 00:00:00+00' AND ts < '2024-01-20 00:00:00+00';
SELECT rs_check('SELECT event_id, ts FROM rs_events WHERE (debit_account = 42 OR credit_account = 42)
  AND ts >= ''2024-01-10 00:00:00+00'' AND ts < ''2024-01-20 00:00:00+00'' ORDER BY ts, event_id');
SELECT rs_check('SELECT event_id, ts FROM rs_events WHERE debit_account = 42
  AND ts > ''2024-01-10 00:00:00+00'' AND ts <= ''2024-01-20 00:00:00+00'' ORDER BY ts DESC, event_id');
-- time bounds only: >=, >, <, <=, =, BETWEEN
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE ts BETWEEN '2024-01-05 00:00:00+00' AND '2024-01-05 12:00:00+00';
SELECT rs_check('SELECT event_id FROM rs_events WHERE ts BETWEEN ''2024-01-05 00:00:00+00'' AND ''2024-01-05 12:00:00+00'' ORDER BY ts, event_id');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE ts > '2024-02-09 00:00:00+00';
SELECT rs_check('SELECT event_id FROM rs_events WHERE ts > ''2024-02-09 00:00:00+00'' ORDER BY ts, event_id');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE ts <= '2024-01-02 00:00:00+00';
SELECT rs_check('SELECT event_id FROM rs_events WHERE ts <= ''2024-01-02 00:00:00+00'' ORDER BY ts, event_id');
SELECT rs_check('SELECT event_id FROM rs_events WHERE ts < ''2024-01-02 00:00:00+00'' ORDER BY ts, event_id');
SELECT rs_check('SELECT event_id FROM rs_events WHERE ''2024-02-09 00:00:00+00'' <= ts ORDER BY ts, event_id');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE ts = '2024-01-05 07:00:00+00';
SELECT event_id, debit_account, credit_account FROM rs_events WHERE ts = '2024-01-05 07:00:00+00' ORDER BY event_id;
SELECT rs_check('SELECT event_id FROM rs_events WHERE ts = ''2024-01-05 07:00:00+00'' ORDER BY event_id');
-- empty and inverted windows, NULL bounds and accounts
SELECT rs_check('SELECT event_id FROM rs_events WHERE ts >= ''2024-01-20 00:00:00+00'' AND ts < ''2024-01-10 00:00:00+00''');
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account = 42 AND ts >= NULL::timestamptz');
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account = NULL::bigint');
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account = 1000');
-- ORDER BY ts [DESC] LIMIT: no Sort, the stream stops early
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC LIMIT 5;
SELECT ts, amount FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC LIMIT 5;
SELECT rs_check('SELECT ts FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC LIMIT 5');
-- A scan read to its end asks for its next rows ahead (one client active):
-- another scan of the same backend that needs the channel meanwhile (here
-- the primary key probes of a subplan) first takes in that answer for it.
EXPLAIN (COSTS OFF) SELECT e.ts, (SELECT x.amount FROM rs_events x WHERE x.event_id = e.event_id)
FROM rs_events e WHERE debit_account = 42 OR credit_account = 42;
SELECT rs_check('SELECT e.ts, e.event_id, (SELECT x.amount FROM rs_events x WHERE x.event_id = e.event_id) FROM rs_events e WHERE debit_account = 42 OR credit_account = 42');
SELECT rs_check('SELECT e.ts, (SELECT x.amount FROM rs_events x WHERE x.event_id = e.event_id) FROM rs_events e WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC');
-- A rolled-back subtransaction drops the answer of a read-ahead still in
-- flight (its scan may be gone); a scan that lives on asks again from where
-- it was: every row once.
DO $$
DECLARE
  r record; n int := 0; caught int := 0; ids uuid[] := '{}';
BEGIN
  FOR r IN SELECT event_id FROM rs_events WHERE debit_account = 42 OR credit_account = 42 LOOP
    n := n + 1;
    ids := ids || r.event_id;
    BEGIN
      PERFORM 1 / (n % 7);
    EXCEPTION WHEN division_by_zero THEN
      caught := caught + 1;
    END;
  END LOOP;
  RAISE NOTICE 'rows %, distinct %, caught %', n,
    (SELECT count(DISTINCT i) FROM unnest(ids) i), caught;
END $$;
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 ORDER BY ts LIMIT 5;
SELECT rs_check('SELECT ts FROM rs_events WHERE debit_account = 42 ORDER BY ts LIMIT 5');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events ORDER BY ts DESC LIMIT 10;
SELECT rs_check('SELECT ts FROM rs_events ORDER BY ts DESC LIMIT 10');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events ORDER BY ts LIMIT 10;
SELECT rs_check('SELECT ts FROM rs_events ORDER BY ts LIMIT 10');
-- more than one request (a LIMIT-sized or buffer-sized first request, then
-- growing ones); 2500 of the 3000 rows in ts order would otherwise be read
-- by a seq scan and a sort, which the planner rightly finds cheaper
SELECT rs_check('SELECT event_id FROM rs_events WHERE ts >= ''2024-02-01 00:00:00+00'' ORDER BY ts DESC, event_id');
SET enable_seqscan = off;
SELECT rs_check('SELECT event_id, ts FROM rs_events ORDER BY ts, event_id LIMIT 2500');
RESET enable_seqscan;
-- a tie-breaker sorts only within equal timestamps
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 ORDER BY ts DESC, event_id LIMIT 5;
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account = 42 ORDER BY ts DESC, event_id LIMIT 5');
-- aggregates over an account's window
SELECT rs_check('SELECT count(*), sum(amount), min(ts), max(ts) FROM rs_events
  WHERE (debit_account = 7 OR credit_account = 7) AND ts >= ''2024-02-01 00:00:00+00'' AND ts < ''2024-03-01 00:00:00+00''');
-- an OR of different accounts: one key stream per account, merged in time
-- order (no Sort), an event under two of them returned once
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 OR credit_account = 43;
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account = 42 OR credit_account = 43 ORDER BY event_id');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 OR credit_account = 43 ORDER BY ts DESC LIMIT 5;
SELECT rs_check('SELECT ts FROM rs_events WHERE debit_account = 42 OR credit_account = 43 ORDER BY ts DESC LIMIT 7');
SELECT rs_check('SELECT event_id, ts FROM rs_events WHERE (debit_account = 42 OR credit_account = 43)
  AND ts >= ''2024-01-10 00:00:00+00'' AND ts < ''2024-02-10 00:00:00+00'' ORDER BY ts, event_id');
SELECT rs_check('SELECT ts FROM rs_events WHERE debit_account = 7 OR credit_account = 8 OR debit_account = 9 ORDER BY ts');
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account = 7 OR credit_account = NULL::bigint ORDER BY event_id');
-- both accounts of one event: a row found through both keys comes once
SELECT debit_account AS d, credit_account AS c FROM rs_events
 WHERE debit_account IS NOT NULL AND credit_account IS NOT NULL AND debit_account <> credit_account
 ORDER BY ts, event_id LIMIT 1 \gset
SELECT rs_check(format('SELECT event_id FROM rs_events WHERE debit_account = %s OR credit_account = %s ORDER BY ts, event_id', :d, :c));
SELECT count(*) = count(DISTINCT event_id) AS once FROM rs_events WHERE debit_account = :d OR credit_account = :c;
-- rescanned with other values for each outer row (a parameterized scan)
SELECT rs_check('SELECT u.a, u.b, x.* FROM (VALUES (42, 43), (7, 7), (NULL::bigint, 8), (9, 1000), (43, 42)) u(a, b)
  CROSS JOIN LATERAL (SELECT e.ts, e.event_id FROM rs_events e WHERE e.debit_account = u.a OR e.credit_account = u.b
                      ORDER BY e.ts DESC, e.event_id DESC LIMIT 4) x ORDER BY 1, 2, 3 DESC, 4 DESC');
-- an IN list on an account column: one stream per distinct value (NULLs
-- match nothing)
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account IN (1, 2) ORDER BY ts DESC LIMIT 3;
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account IN (1, 2) ORDER BY event_id');
SELECT rs_check('SELECT ts FROM rs_events WHERE credit_account IN (3, NULL, 3, 4) ORDER BY ts DESC LIMIT 9');
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account IN (5) OR credit_account IN (6, 7) ORDER BY ts, event_id');
-- a list of accounts: more than 8 values, or an array known only at run
-- time, is read one account after another, in no time order (a Sort above
-- for ORDER BY); a row under several of them comes once
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9);
EXPLAIN (COSTS OFF) SELECT * FROM rs_events
 WHERE debit_account = ANY ('{1, 2, 3, 4, 5, 6, 7, 8, 9}') OR credit_account IN (9, 10) ORDER BY ts DESC LIMIT 5;
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9) ORDER BY event_id');
SELECT rs_check('SELECT ts, event_id FROM rs_events WHERE debit_account = ANY (''{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11, 3, NULL}'')
  OR credit_account = ANY (''{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11}'') ORDER BY ts DESC, event_id LIMIT 40');
SELECT rs_check('SELECT count(*), sum(amount) FROM rs_events WHERE (debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
  OR credit_account = 42) AND ts >= ''2024-01-10 00:00:00+00'' AND ts < ''2024-02-10 00:00:00+00''');
-- events with both accounts in the list (they have a key under each)
SELECT count(*) AS both_listed, count(*) = count(DISTINCT event_id) AS once FROM rs_events
 WHERE debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9) AND credit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9);
SELECT count(*), count(DISTINCT event_id) FROM rs_events
 WHERE debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9) OR credit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9);
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9)
  OR credit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9) ORDER BY event_id');
-- a list is also merged in time order, whatever its length (a stream per
-- account): ORDER BY ts [DESC] LIMIT n needs no Sort
EXPLAIN (COSTS OFF) SELECT ts FROM rs_events
 WHERE debit_account = ANY ('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}') OR credit_account = ANY ('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}')
 ORDER BY ts LIMIT 20;
SELECT rs_check('SELECT ts, event_id FROM rs_events WHERE debit_account = ANY (''{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}'')
  OR credit_account = ANY (''{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}'') ORDER BY ts, event_id LIMIT 300');
SELECT rs_check('SELECT ts FROM rs_events WHERE debit_account = ANY (''{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}'')
  OR credit_account = ANY (''{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}'') ORDER BY ts DESC LIMIT 300');
SELECT count(*), count(DISTINCT event_id) FROM (SELECT event_id FROM rs_events
 WHERE debit_account = ANY ('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}') OR credit_account = ANY ('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}')
 ORDER BY ts LIMIT 100000) x;
SELECT array_agg(g)::text AS a64 FROM generate_series(0, 63) g \gset
SELECT array_agg(g)::text AS a65 FROM generate_series(0, 64) g \gset
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT ts FROM rs_events WHERE debit_account = ANY (:'a65') ORDER BY ts LIMIT 20;
RESET enable_seqscan;
-- 64 accounts of 300 events each, merged: each stream asks for 64 rows at a
-- time (its share of a buffer), four requests per account for 15,000 rows
CREATE TABLE rs_many (id int, acct bigint, ts timestamptz) USING ledger_am;
CREATE INDEX ON rs_many USING ledger_range (acct, ts);
INSERT INTO rs_many SELECT g, g % 64, timestamptz '2024-01-01 00:00:00+00' + (g / 7) * interval '1 minute'
FROM generate_series(1, 19200) g;
ANALYZE rs_many;
EXPLAIN (COSTS OFF) SELECT id FROM rs_many WHERE acct = ANY (:'a64') ORDER BY ts DESC LIMIT 15000;
SELECT rs_check(format('SELECT id, ts FROM rs_many WHERE acct = ANY (%L) ORDER BY ts DESC, id DESC LIMIT 15000', :'a64'));
SELECT rs_check(format('SELECT ts FROM rs_many WHERE acct = ANY (%L) ORDER BY ts LIMIT 15000', :'a64'));
DROP TABLE rs_many;
-- a long list in a narrow time window reads the window; a list and one
-- account reads that account
EXPLAIN (COSTS OFF) SELECT count(*) FROM rs_events
 WHERE debit_account = ANY (ARRAY(SELECT generate_series(0, 50))::bigint[])
   AND ts >= '2024-01-10 00:00:00+00' AND ts < '2024-01-10 02:00:00+00';
SELECT rs_check('SELECT count(*), sum(amount) FROM rs_events
  WHERE debit_account = ANY (''{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}'')
    AND ts >= ''2024-01-10 00:00:00+00'' AND ts < ''2024-01-10 02:00:00+00''');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9) AND credit_account = 10;
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account IN (1, 2, 3, 4, 5, 6, 7, 8, 9) AND credit_account = 10 ORDER BY event_id');
-- an array parameter (generic plan), and IN ($1, $2): its few elements merged
SET plan_cache_mode = force_generic_plan;
PREPARE rs_list(bigint[]) AS
  SELECT count(*), sum(amount), min(ts), max(ts) FROM rs_events WHERE debit_account = ANY ($1) OR credit_account = ANY ($1);
EXPLAIN (COSTS OFF) EXECUTE rs_list('{1, 2}');
EXECUTE rs_list('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}');
EXECUTE rs_list('{42}');
EXECUTE rs_list('{42, 42, NULL}');
EXECUTE rs_list('{}');
EXECUTE rs_list(NULL);
PREPARE rs_feed(bigint[]) AS
  SELECT ts, amount FROM rs_events WHERE debit_account = ANY ($1) OR credit_account = ANY ($1)
  ORDER BY ts DESC LIMIT 4;
EXPLAIN (COSTS OFF) EXECUTE rs_feed('{1, 2}');
EXECUTE rs_feed('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}');
EXECUTE rs_feed('{42, NULL, 42}');
EXECUTE rs_feed('{}');
EXECUTE rs_feed(NULL);
PREPARE rs_pair(bigint, bigint) AS SELECT ts, amount FROM rs_events WHERE debit_account IN ($1, $2) ORDER BY ts DESC LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE rs_pair(1, 2);
EXECUTE rs_pair(1, 2);
SET ledger_am.enable_range_scan = off;
EXECUTE rs_list('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}');
EXECUTE rs_list('{42}');
EXECUTE rs_feed('{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}');
EXECUTE rs_feed('{42, NULL, 42}');
EXECUTE rs_pair(1, 2);
RESET ledger_am.enable_range_scan;
DEALLOCATE rs_list;
DEALLOCATE rs_feed;
DEALLOCATE rs_pair;
RESET plan_cache_mode;
-- an array from the outer side of a join, rescanned for each outer row
SELECT rs_check('SELECT u.n, x.c, x.s FROM (VALUES (1, ''{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}''::bigint[]), (2, ''{}''), (3, NULL),
  (4, ''{42, 43, 42}'')) u(n, a) CROSS JOIN LATERAL (SELECT count(*) AS c, sum(amount) AS s FROM rs_events e
  WHERE e.debit_account = ANY (u.a) OR e.credit_account = ANY (u.a)) x ORDER BY u.n');
-- not served: an arm that is not an account equality, no bound
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 OR amount > 9990;
EXPLAIN (COSTS OFF) SELECT count(*) FROM rs_events;
-- switched off
SET ledger_am.enable_range_scan = off;
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 ORDER BY ts DESC LIMIT 5;
RESET ledger_am.enable_range_scan;

-- prepared statements: generic plans
SET plan_cache_mode = force_generic_plan;
PREPARE rs_acct(bigint, timestamptz, timestamptz, int) AS
  SELECT ts, amount FROM rs_events
  WHERE (debit_account = $1 OR credit_account = $1) AND ts >= $2 AND ts < $3
  ORDER BY ts DESC LIMIT $4;
EXPLAIN (COSTS OFF) EXECUTE rs_acct(42, '2024-01-10 00:00:00+00', '2024-01-20 00:00:00+00', 3);
EXECUTE rs_acct(42, '2024-01-10 00:00:00+00', '2024-01-20 00:00:00+00', 3);
EXECUTE rs_acct(43, '2024-01-10 00:00:00+00', '2024-01-20 00:00:00+00', 3);
EXECUTE rs_acct(NULL, '2024-01-10 00:00:00+00', '2024-01-20 00:00:00+00', 3);
EXECUTE rs_acct(42, NULL, '2024-01-20 00:00:00+00', 3);
PREPARE rs_window(timestamptz, timestamptz) AS
  SELECT count(*), sum(amount) FROM rs_events WHERE ts BETWEEN $1 AND $2;
EXPLAIN (COSTS OFF) EXECUTE rs_window('2024-01-05 00:00:00+00', '2024-01-06 00:00:00+00');
EXECUTE rs_window('2024-01-05 00:00:00+00', '2024-01-06 00:00:00+00');
EXECUTE rs_window('2024-02-05 00:00:00+00', '2024-02-05 02:00:00+00');
-- each account bound separately (as pgbench binds :a twice): a generic plan
-- still reads the range, merging two streams, or one when they are equal
PREPARE rs_two(bigint, bigint) AS
  SELECT ts, amount FROM rs_events WHERE debit_account = $1 OR credit_account = $2
  ORDER BY ts DESC LIMIT 4;
EXPLAIN (COSTS OFF) EXECUTE rs_two(42, 42);
EXECUTE rs_two(42, 42);
EXECUTE rs_two(42, 43);
EXECUTE rs_two(NULL, 43);
-- an integer parameter compared with the bigint column
PREPARE rs_int_param(int) AS SELECT count(*) FROM rs_events WHERE debit_account = $1;
EXPLAIN (COSTS OFF) EXECUTE rs_int_param(42);
EXECUTE rs_int_param(42);
-- the same answers without the range scan
SET ledger_am.enable_range_scan = off;
SELECT count(*) FROM rs_events WHERE debit_account = 42;
SELECT ts, amount FROM rs_events
WHERE (debit_account = 42 OR credit_account = 42) AND ts >= '2024-01-10 00:00:00+00' AND ts < '2024-01-20 00:00:00+00'
ORDER BY ts DESC LIMIT 3;
SELECT count(*), sum(amount) FROM rs_events WHERE ts BETWEEN '2024-02-05 00:00:00+00' AND '2024-02-05 02:00:00+00';
SELECT ts, amount FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC LIMIT 4;
SELECT ts, amount FROM rs_events WHERE debit_account = 42 OR credit_account = 43 ORDER BY ts DESC LIMIT 4;
SELECT ts, amount FROM rs_events WHERE debit_account = NULL OR credit_account = 43 ORDER BY ts DESC LIMIT 4;
RESET ledger_am.enable_range_scan;
DEALLOCATE rs_two;
DEALLOCATE rs_acct;
DEALLOCATE rs_window;
DEALLOCATE rs_int_param;
RESET plan_cache_mode;

-- parameterized nested loop joins by account
CREATE TABLE rs_accounts (id bigint PRIMARY KEY, name text);
INSERT INTO rs_accounts SELECT g, 'account ' || g FROM generate_series(0, 59) g;
ANALYZE rs_accounts;
EXPLAIN (COSTS OFF)
SELECT a.name, count(*), sum(e.amount) FROM rs_accounts a JOIN rs_events e ON e.debit_account = a.id
WHERE a.id IN (3, 4, 5) GROUP BY a.name ORDER BY a.name;
SELECT a.name, count(*), sum(e.amount) FROM rs_accounts a JOIN rs_events e ON e.debit_account = a.id
WHERE a.id IN (3, 4, 5) GROUP BY a.name ORDER BY a.name;
SELECT rs_check('SELECT a.name, count(*), sum(e.amount) FROM rs_accounts a JOIN rs_events e ON e.debit_account = a.id
  WHERE a.id IN (3, 4, 5) GROUP BY a.name ORDER BY a.name');
EXPLAIN (COSTS OFF)
SELECT a.id, e.ts, e.amount FROM rs_accounts a
CROSS JOIN LATERAL (SELECT ts, amount FROM rs_events e
                    WHERE e.debit_account = a.id OR e.credit_account = a.id
                    ORDER BY ts DESC LIMIT 2) e
WHERE a.id < 3;
SELECT rs_check('SELECT a.id, e.ts FROM rs_accounts a
  CROSS JOIN LATERAL (SELECT ts FROM rs_events e WHERE e.debit_account = a.id OR e.credit_account = a.id
                      ORDER BY ts DESC LIMIT 2) e WHERE a.id < 3');
-- a correlated subquery probes by the outer value too
SELECT rs_check('SELECT a.id, (SELECT count(*) FROM rs_events e WHERE e.credit_account = a.id
  AND e.ts < ''2024-02-01 00:00:00+00'') FROM rs_accounts a ORDER BY a.id');

-- system columns and FOR KEY SHARE through the range scan
SELECT rs_check('SELECT tableoid::regclass, ctid, ts FROM rs_events WHERE debit_account = 42 ORDER BY ts LIMIT 3');
SELECT ts FROM rs_events WHERE debit_account = 42 ORDER BY ts LIMIT 2 FOR KEY SHARE;

-- ---------------------------------------------------------------------------
-- An array account column: X = ANY(accounts)
-- ---------------------------------------------------------------------------
CREATE TABLE rs_arr (id int, accounts bigint[], ts timestamptz) USING ledger_am;
CREATE INDEX ON rs_arr USING ledger_range (accounts, ts);
INSERT INTO rs_arr
SELECT g, ARRAY[g % 10, (g * 3) % 10, 100 + g % 4], timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 400) g;
INSERT INTO rs_arr VALUES
  (1001, '{5,5,5}', '2023-06-01 00:00:00+00'),
  (1002, '{5,NULL}', '2023-06-02 00:00:00+00'),
  (1003, '{}', '2023-06-03 00:00:00+00'),
  (1004, NULL, '2023-06-04 00:00:00+00'),
  (1005, '{{5,6},{7,5}}', '2023-06-05 00:00:00+00'),
  (1006, '{5}', NULL);
ANALYZE rs_arr;
EXPLAIN (COSTS OFF) SELECT * FROM rs_arr WHERE 5 = ANY(accounts);
SELECT id, accounts, ts FROM rs_arr WHERE 5 = ANY(accounts) AND id > 1000 ORDER BY ts;
SELECT rs_check('SELECT id, ts FROM rs_arr WHERE 5 = ANY(accounts) ORDER BY ts');
SELECT rs_check('SELECT id, ts FROM rs_arr WHERE 5 = ANY(accounts) ORDER BY ts DESC');
SELECT rs_check('SELECT id FROM rs_arr WHERE 101 = ANY(accounts) AND ts >= ''2024-01-05 00:00:00+00'' AND ts < ''2024-01-07 00:00:00+00'' ORDER BY ts');
SELECT rs_check('SELECT id FROM rs_arr WHERE 5::int = ANY(accounts) ORDER BY ts DESC LIMIT 4');
-- not served: ALL, <> ANY
EXPLAIN (COSTS OFF) SELECT * FROM rs_arr WHERE 5 = ALL(accounts);
SELECT rs_check('SELECT id FROM rs_arr WHERE 5 = ALL(accounts) ORDER BY id');
SELECT id, accounts FROM ledger_am.account_events(NULL::rs_arr, '5', '2023-01-01 00:00:00+00', '2024-01-01 00:00:00+00', false);
DROP TABLE rs_arr;

-- ---------------------------------------------------------------------------
-- uuid accounts
-- ---------------------------------------------------------------------------
CREATE TABLE rs_uuid (id int, payer uuid, payee uuid, ts timestamptz) USING ledger_am;
CREATE INDEX ON rs_uuid USING ledger_range (payer, payee, ts);
INSERT INTO rs_uuid
SELECT g, md5('acct' || g % 20)::uuid, md5('acct' || (g * 7) % 20)::uuid,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 600) g;
INSERT INTO rs_uuid VALUES (601, NULL, md5('acct3')::uuid, '2024-01-01 00:00:00+00'),
                           (602, '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2024-01-01 00:00:00+00');
ANALYZE rs_uuid;
EXPLAIN (COSTS OFF) SELECT * FROM rs_uuid WHERE payer = md5('acct3')::uuid OR payee = md5('acct3')::uuid;
SELECT rs_check('SELECT id, ts FROM rs_uuid WHERE payer = md5(''acct3'')::uuid OR payee = md5(''acct3'')::uuid ORDER BY ts');
SELECT rs_check('SELECT id FROM rs_uuid WHERE payee = ''ffffffff-ffff-ffff-ffff-ffffffffffff''');
SELECT rs_check('SELECT id FROM rs_uuid WHERE payer = ''00000000-0000-0000-0000-000000000000''');
SELECT rs_check('SELECT id FROM rs_uuid WHERE payer = md5(''acct7'')::uuid AND ts < ''2024-01-01 05:00:00+00'' ORDER BY ts DESC');
SELECT count(*) FROM ledger_am.account_events(NULL::rs_uuid, md5('acct3'));
DROP TABLE rs_uuid;

-- ---------------------------------------------------------------------------
-- text accounts (text and varchar columns), timestamp without time zone
-- ---------------------------------------------------------------------------
CREATE TABLE rs_text (id int, src text, dst varchar(40), ts timestamp) USING ledger_am;
CREATE INDEX ON rs_text USING ledger_range (src, dst, ts);
CREATE TABLE rs_names (n int, name text);
INSERT INTO rs_names VALUES
  (0, ''), (1, ' '), (2, 'a'), (3, 'a '), (4, 'A'), (5, 'aa'), (6, E'tab\there'),
  (7, 'O''Brien'), (8, 'back\slash'), (9, 'ümlaut'), (10, '🙂 smile'), (11, '%_'),
  (12, E'line\nbreak'), (13, 'a' || chr(1)), (14, repeat('x', 39)), (15, 'zzz');
INSERT INTO rs_text
SELECT g, (SELECT name FROM rs_names WHERE n = g % 16), (SELECT name FROM rs_names WHERE n = (g * 5 + 1) % 16),
       timestamp '2024-01-01 00:00:00' + (g / 2) * interval '1 minute'
FROM generate_series(1, 800) g;
INSERT INTO rs_text VALUES (801, NULL, 'a', '2024-01-01 00:00:00'), (802, 'a', NULL, NULL);
ANALYZE rs_text;
EXPLAIN (COSTS OFF) SELECT * FROM rs_text WHERE src = 'a' OR dst = 'a';
SELECT n, rs_check(format('SELECT id, ts FROM rs_text WHERE src = %L OR dst = %L ORDER BY ts, id', name, name))
FROM rs_names ORDER BY n;
SELECT n, rs_check(format('SELECT id FROM rs_text WHERE dst = %L AND ts >= ''2024-01-01 02:00:00'' ORDER BY ts DESC, id', name))
FROM rs_names WHERE n IN (0, 3, 9, 14) ORDER BY n;
SELECT rs_check('SELECT id FROM rs_text WHERE src = ''a'' ORDER BY ts DESC');
SELECT rs_check('SELECT id FROM rs_text WHERE dst = ''a''::varchar ORDER BY ts, id');
-- an account value longer than any stored one, or absent
SELECT rs_check(format('SELECT id FROM rs_text WHERE src = %L', repeat('x', 50)));
SELECT rs_check('SELECT id FROM rs_text WHERE src = ''b''');
-- too long for a range key
INSERT INTO rs_text VALUES (900, repeat('y', 9000), 'a', '2024-01-01 00:00:00');
DROP TABLE rs_text, rs_names;

-- char(n) accounts and a date time column
CREATE TABLE rs_char (id int, code char(5), d date) USING ledger_am;
CREATE INDEX ON rs_char USING ledger_range (code, d);
INSERT INTO rs_char
SELECT g, (ARRAY['ab', 'ab ', 'abc', 'x', ''])[g % 5 + 1], date '2024-01-01' + g / 3
FROM generate_series(1, 300) g;
INSERT INTO rs_char VALUES (301, 'ab', 'infinity'), (302, 'ab', '-infinity'), (303, 'ab', NULL);
ANALYZE rs_char;
EXPLAIN (COSTS OFF) SELECT * FROM rs_char WHERE code = 'ab' AND d BETWEEN '2024-01-10' AND '2024-01-20';
SELECT rs_check('SELECT id, d FROM rs_char WHERE code = ''ab'' AND d BETWEEN ''2024-01-10'' AND ''2024-01-20'' ORDER BY d, id');
SELECT rs_check('SELECT id, d FROM rs_char WHERE code = ''ab   '' ORDER BY d DESC, id');
SELECT rs_check('SELECT id, d FROM rs_char WHERE code = '''' ORDER BY d, id');
SELECT rs_check('SELECT id, d FROM rs_char WHERE code = ''ab'' AND d > ''2024-03-01'' ORDER BY d');
SELECT rs_check('SELECT id, d FROM rs_char WHERE code = ''ab'' AND d <= ''-infinity'' ORDER BY d');
SELECT rs_check('SELECT id, d FROM rs_char WHERE d >= ''infinity'' ORDER BY d');
SELECT id, d FROM rs_char WHERE code = 'ab' ORDER BY d DESC LIMIT 3;
DROP TABLE rs_char;

-- ---------------------------------------------------------------------------
-- integer time column (and smallint accounts), NULL times
-- ---------------------------------------------------------------------------
CREATE TABLE rs_int (id int, acct smallint, seq integer) USING ledger_am;
CREATE INDEX ON rs_int USING ledger_range (acct, seq);
INSERT INTO rs_int SELECT g, g % 9, (g - 250) / 2 FROM generate_series(1, 500) g;
INSERT INTO rs_int VALUES (501, 4, NULL), (502, 4, NULL), (503, NULL, 7),
                          (504, 4, 2147483647), (505, 4, -2147483648), (506, -32768, 0);
ANALYZE rs_int;
EXPLAIN (COSTS OFF) SELECT * FROM rs_int WHERE acct = 4 AND seq BETWEEN -10 AND 10;
SELECT rs_check('SELECT id, seq FROM rs_int WHERE acct = 4 AND seq BETWEEN -10 AND 10 ORDER BY seq, id');
-- NULL times: last ascending, first descending, as in Postgres
SELECT seq FROM rs_int WHERE acct = 4 ORDER BY seq DESC LIMIT 4;
SELECT rs_check('SELECT id, seq FROM rs_int WHERE acct = 4 ORDER BY seq DESC, id');
SELECT rs_check('SELECT id, seq FROM rs_int WHERE acct = 4 ORDER BY seq, id');
SELECT id, seq FROM rs_int WHERE acct = 4 ORDER BY seq LIMIT 2;
EXPLAIN (COSTS OFF) SELECT * FROM rs_int WHERE acct = 4 ORDER BY seq NULLS FIRST;
SELECT rs_check('SELECT id, seq FROM rs_int WHERE acct = 4 ORDER BY seq NULLS FIRST, id');
SELECT rs_check('SELECT id FROM rs_int WHERE acct = 4 AND seq > 2147483646');
SELECT rs_check('SELECT id FROM rs_int WHERE acct = 4 AND seq <= -2147483648');
-- bigint and smallint values against the integer column, int8 account value
SELECT rs_check('SELECT id FROM rs_int WHERE acct = 4::bigint AND seq >= 100::bigint AND seq < 3000000000 ORDER BY seq');
SELECT rs_check('SELECT id FROM rs_int WHERE acct = 4 AND seq > (-5)::smallint ORDER BY seq LIMIT 7');
SELECT rs_check('SELECT id FROM rs_int WHERE acct = -32768');
SELECT rs_check('SELECT id FROM rs_int WHERE acct = 70000');
SELECT rs_check('SELECT id, seq FROM rs_int WHERE seq = 7 ORDER BY id');
-- (two NULL times tie: compare the times only)
SELECT rs_check('SELECT seq FROM rs_int ORDER BY seq DESC LIMIT 5');
SELECT rs_check('SELECT seq FROM rs_int ORDER BY seq LIMIT 5');
DROP TABLE rs_int;

-- ---------------------------------------------------------------------------
-- account_events() and time_range()
-- ---------------------------------------------------------------------------
SELECT ts, debit_account, credit_account, amount
FROM ledger_am.account_events(NULL::rs_events, '42', '2024-01-10 00:00:00+00', '2024-01-20 00:00:00+00', true, 4);
SELECT ts, debit_account, credit_account, amount
FROM ledger_am.account_events(NULL::rs_events, '42', '2024-01-10 00:00:00+00', '2024-01-20 00:00:00+00', false, 4);
-- the same as the query it stands for
SELECT (SELECT count(*) FROM ledger_am.account_events(NULL::rs_events, '42')) AS fn_rows,
       (SELECT count(*) FROM rs_events WHERE debit_account = 42 OR credit_account = 42) AS query_rows,
       (SELECT count(*) FROM (SELECT * FROM ledger_am.account_events(NULL::rs_events, '42', '2024-02-01 00:00:00+00', NULL)
                              EXCEPT ALL
                              SELECT * FROM rs_events WHERE (debit_account = 42 OR credit_account = 42)
                                AND ts >= '2024-02-01 00:00:00+00') x) AS fn_extra;
SELECT count(*) FROM ledger_am.account_events(NULL::rs_events, '1000');
-- (three events share each hour: the times show the order)
SELECT ts FROM ledger_am.time_range(NULL::rs_events, '2024-01-05 00:00:00+00', '2024-01-05 02:00:00+00');
SELECT count(*), sum(amount) FROM ledger_am.time_range(NULL::rs_events, '2024-01-05 00:00:00+00', '2024-01-05 02:00:00+00');
SELECT ts FROM ledger_am.time_range(NULL::rs_events, NULL, '2024-01-01 03:00:00+00', true);
SELECT count(*), min(ts), max(ts) FROM ledger_am.time_range(NULL::rs_events, '2024-02-10 00:00:00+00');
SELECT count(*) FROM ledger_am.time_range(NULL::rs_events, NULL, NULL, true, 7);
-- no declaration
CREATE TABLE rs_plain (id int, ts timestamptz) USING ledger_am;
SELECT * FROM ledger_am.account_events(NULL::rs_plain, '1');
SELECT * FROM ledger_am.time_range(NULL::rs_plain);
SELECT * FROM ledger_am.range_declaration('rs_plain');
DROP TABLE rs_plain;

-- ---------------------------------------------------------------------------
-- Privileges and row-level security
-- ---------------------------------------------------------------------------
CREATE ROLE regress_range_reader;
CREATE ROLE regress_range_outsider;
GRANT USAGE ON SCHEMA public TO regress_range_reader, regress_range_outsider;
GRANT SELECT ON rs_events TO regress_range_reader;
CREATE POLICY rs_small ON rs_events FOR SELECT TO regress_range_reader USING (amount < 1000);
ALTER TABLE rs_events ENABLE ROW LEVEL SECURITY;
SET ROLE regress_range_outsider;
SELECT count(*) FROM ledger_am.account_events(NULL::rs_events, '42');
SELECT count(*) FROM ledger_am.time_range(NULL::rs_events);
SELECT count(*) FROM rs_events WHERE debit_account = 42;
RESET ROLE;
SET ROLE regress_range_reader;
-- only the rows the policy lets through, through the range scan
SELECT count(*), max(amount) FROM ledger_am.account_events(NULL::rs_events, '42');
SELECT count(*), max(amount) FROM ledger_am.time_range(NULL::rs_events, '2024-01-01 00:00:00+00', '2024-03-01 00:00:00+00');
EXPLAIN (COSTS OFF) SELECT * FROM rs_events WHERE debit_account = 42 OR credit_account = 42;
SELECT rs_check('SELECT event_id FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts, event_id');
RESET ROLE;
-- the owner is not subject to the policy
SELECT count(*), max(amount) FROM ledger_am.account_events(NULL::rs_events, '42');
SELECT count(*) FROM rs_events WHERE (debit_account = 42 OR credit_account = 42) AND amount < 1000;
ALTER TABLE rs_events DISABLE ROW LEVEL SECURITY;
DROP POLICY rs_small ON rs_events;
REVOKE ALL ON rs_events FROM regress_range_reader;
REVOKE ALL ON SCHEMA public FROM regress_range_reader, regress_range_outsider;
DROP ROLE regress_range_reader;
DROP ROLE regress_range_outsider;

-- ---------------------------------------------------------------------------
-- Visibility: this transaction's rows, rolled-back rows
-- ---------------------------------------------------------------------------
BEGIN;
INSERT INTO rs_events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount)
VALUES ('new', md5('new1')::uuid, 1, '2025-01-01 00:00:00+00', 42, 999, 1),
       ('new', md5('new2')::uuid, 1, '2025-01-02 00:00:00+00', 999, 42, 2);
SELECT ts, amount FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC LIMIT 3;
SELECT rs_check('SELECT ts, amount FROM rs_events WHERE debit_account = 999 OR credit_account = 999 ORDER BY ts');
SELECT rs_check('SELECT ts, amount FROM rs_events WHERE ts >= ''2025-01-01 00:00:00+00'' ORDER BY ts');
-- a cursor opened before the next insert does not see it (command id)
DECLARE rs_cur CURSOR FOR SELECT amount FROM rs_events WHERE debit_account = 999 OR credit_account = 999 ORDER BY ts;
INSERT INTO rs_events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount)
VALUES ('new', md5('new3')::uuid, 1, '2025-01-03 00:00:00+00', 999, 1, 3);
FETCH ALL FROM rs_cur;
SELECT amount FROM rs_events WHERE debit_account = 999 OR credit_account = 999 ORDER BY ts;
SAVEPOINT s1;
INSERT INTO rs_events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount)
VALUES ('new', md5('new4')::uuid, 1, '2025-01-04 00:00:00+00', 999, 1, 4);
ROLLBACK TO s1;
SELECT amount FROM rs_events WHERE debit_account = 999 OR credit_account = 999 ORDER BY ts;
ROLLBACK;
SELECT count(*) FROM rs_events WHERE debit_account = 999 OR credit_account = 999;
SELECT rs_check('SELECT ts FROM rs_events WHERE ts >= ''2025-01-01 00:00:00+00''');
SELECT ts, amount FROM rs_events ORDER BY ts DESC LIMIT 1;
-- committed in a later transaction: visible
INSERT INTO rs_events (event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount)
VALUES ('new', md5('new5')::uuid, 1, '2025-01-05 00:00:00+00', 999, 42, 5);
SELECT ts, amount FROM rs_events WHERE debit_account = 999 OR credit_account = 999 ORDER BY ts;
SELECT rs_check('SELECT ts, amount FROM rs_events WHERE debit_account = 42 OR credit_account = 42 ORDER BY ts DESC, amount LIMIT 2');

DROP TABLE rs_accounts;
DROP TABLE rs_events;

-- ---------------------------------------------------------------------------
-- Regression tests for bugs found in the range scans (each "Fixed bug N"
-- below describes what used to go wrong; the output is the correct behaviour).

-- Fixed bug 1: DROP INDEX + CREATE INDEX of the declaration in one transaction: the
-- DROP's deferred key removal runs at COMMIT, after the CREATE's backfill,
-- and leaves the new declaration without keys.
CREATE TABLE rs_bug1 (acct bigint, ts timestamptz) USING ledger_am;
INSERT INTO rs_bug1 SELECT g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 1000) g;
CREATE INDEX rs_bug1_range ON rs_bug1 USING ledger_range (acct, ts);
BEGIN;
DROP INDEX rs_bug1_range;
CREATE INDEX rs_bug1_range ON rs_bug1 USING ledger_range (acct, ts);
COMMIT;
SELECT count(*) FROM rs_bug1 WHERE acct = 3;
SELECT rs_same('SELECT ts FROM rs_bug1 WHERE acct = 3 ORDER BY ts');
DROP TABLE rs_bug1;
-- Fixed bug 2: the backfill's clearing of the table's keys is not transactional:
-- DROP INDEX + CREATE INDEX on other columns, then ROLLBACK, leaves the old
-- declaration with the new declaration's keys.
CREATE TABLE rs_bug2 (debit bigint, credit bigint, ts timestamptz) USING ledger_am;
INSERT INTO rs_bug2 SELECT g % 10, g % 10 + 100, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 1000) g;
CREATE INDEX rs_bug2_range ON rs_bug2 USING ledger_range (debit, ts);
BEGIN;
DROP INDEX rs_bug2_range;
CREATE INDEX rs_bug2_other ON rs_bug2 USING ledger_range (credit, ts);
ROLLBACK;
SELECT * FROM ledger_am.range_declaration('rs_bug2');
SELECT count(*) FROM rs_bug2 WHERE debit = 3;
SELECT rs_same('SELECT ts FROM rs_bug2 WHERE debit = 3 ORDER BY ts');
DROP TABLE rs_bug2;

-- Fixed bug 3: ALTER COLUMN TYPE that does not rewrite the table (even to the
-- same type) re-creates the declaration reusing its storage (no build),
-- while the old declaration's DROP removes all keys at COMMIT.
CREATE TABLE rs_bug3 (acct bigint, ts timestamptz) USING ledger_am;
INSERT INTO rs_bug3 SELECT g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 1000) g;
CREATE INDEX ON rs_bug3 USING ledger_range (acct, ts);
ALTER TABLE rs_bug3 ALTER COLUMN acct TYPE bigint;
SELECT count(*) FROM rs_bug3 WHERE acct = 3;
SELECT rs_same('SELECT ts FROM rs_bug3 WHERE acct = 3 ORDER BY ts');
DROP TABLE rs_bug3;

-- (bugs 4 to 10 use tiny tables: make sure the range scan is chosen)
SET enable_seqscan = off;
-- Fixed bug 4: equality under a nondeterministic collation is matched bytewise.
CREATE COLLATION rs_case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE rs_bug4 (acct text, ts timestamptz) USING ledger_am;
CREATE INDEX ON rs_bug4 USING ledger_range (acct, ts);
INSERT INTO rs_bug4 VALUES ('abc', '2024-01-01 00:00:00+00'), ('ABC', '2024-01-02 00:00:00+00');
SELECT acct FROM rs_bug4 WHERE acct = 'ABC' COLLATE rs_case_insensitive ORDER BY ts;
DROP TABLE rs_bug4;
DROP COLLATION rs_case_insensitive;

-- Fixed bug 5: a varchar account compared with a char(n) value (bpchar equality
-- ignores trailing blanks) is keyed without the stored value's blanks.
CREATE TABLE rs_bug5 (acct varchar(10), ts timestamptz) USING ledger_am;
CREATE INDEX ON rs_bug5 USING ledger_range (acct, ts);
INSERT INTO rs_bug5 VALUES ('ab', '2024-01-01 00:00:00+00'), ('ab ', '2024-01-02 00:00:00+00');
SELECT acct || '|' AS acct FROM rs_bug5 WHERE acct = 'ab'::char(2) ORDER BY ts;
DROP TABLE rs_bug5;

-- Fixed bug 6: date time values after year 294276 overflow the key's microseconds:
-- wrong order and missing rows.
CREATE TABLE rs_bug6 (acct int, d date) USING ledger_am;
CREATE INDEX ON rs_bug6 USING ledger_range (acct, d);
INSERT INTO rs_bug6 VALUES (1, '4713-01-01 BC'), (1, '2024-01-01'), (1, '300000-01-01'), (1, '5000000-01-01');
SELECT d FROM rs_bug6 WHERE acct = 1 ORDER BY d;
SELECT d FROM rs_bug6 WHERE acct = 1 AND d > '2025-01-01' ORDER BY d DESC;
DROP TABLE rs_bug6;

-- Fixed bug 7: account_events() casts the account to the column's declared type
-- with its length (varchar(3)), truncating 'abcdef' to 'abc'.
CREATE TABLE rs_bug7 (acct varchar(3), ts timestamptz) USING ledger_am;
CREATE INDEX ON rs_bug7 USING ledger_range (acct, ts);
INSERT INTO rs_bug7 VALUES ('abc', '2024-01-01 00:00:00+00');
SELECT count(*) FROM ledger_am.account_events(NULL::rs_bug7, 'abcdef');
DROP TABLE rs_bug7;

-- Fixed bug 8: rows are limited to what every reader can receive in one
-- buffer (the channel buffer minus room for a range scan's resume key):
-- a row just under the limit is read by range scans, one over it refused.
CREATE TABLE rs_bug8 (acct int, ts timestamptz, pad text) USING ledger_am;
CREATE INDEX ON rs_bug8 USING ledger_range (acct, ts);
INSERT INTO rs_bug8 SELECT 1, '2024-01-01 00:00:00+00', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 7900) g);
INSERT INTO rs_bug8 SELECT 1, '2024-01-02 00:00:00+00', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 8100) g);
SELECT ts, length(pad) FROM rs_bug8 WHERE acct = 1;
SELECT ts, length(pad) FROM rs_bug8 ORDER BY ts DESC LIMIT 1;
DROP TABLE rs_bug8;

-- Fixed bug 9: an account of the longest accepted length (8169 bytes) is
-- read across many requests (the resume key plus one byte is allowed).
CREATE TABLE rs_bug9 (acct text, ts timestamptz) USING ledger_am;
CREATE INDEX ON rs_bug9 USING ledger_range (acct, ts);
INSERT INTO rs_bug9 SELECT repeat('k', 8169), timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 40) g;
SELECT count(*) FROM rs_bug9 WHERE acct = repeat('k', 8169);
-- Fixed bug 10: a query for an account longer than a key can hold fails instead
-- of finding no rows.
SELECT count(*) FROM rs_bug9 WHERE acct = repeat('k', 9000);
RESET enable_seqscan;
DROP TABLE rs_bug9;

-- bug 11 (plan): a time column with a typmod (timestamptz(0)) loses the
-- ordering: ORDER BY ts DESC LIMIT gets a Sort over the range scan.
CREATE TABLE rs_bug11 (acct bigint, ts timestamptz(0)) USING ledger_am;
CREATE INDEX ON rs_bug11 USING ledger_range (acct, ts);
INSERT INTO rs_bug11 SELECT g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 1000) g;
ANALYZE rs_bug11;
EXPLAIN (COSTS OFF) SELECT * FROM rs_bug11 WHERE acct = 3 ORDER BY ts DESC LIMIT 3;
DROP TABLE rs_bug11;

-- Costs: a btree index scan on the time column (fetches batched by ledger_am)
-- beats reading a time window as row id runs, and the planner knows it (the
-- sweep was estimated below it and chosen, though slower); an account
-- window still takes the range keys, and without the btree the time window
-- is swept.
CREATE TABLE rs_cost (acct int, ts timestamptz, amount int, pad text) USING ledger_am;
CREATE INDEX ON rs_cost USING ledger_range (acct, ts);
CREATE INDEX rs_cost_ts ON rs_cost (ts);
INSERT INTO rs_cost SELECT g % 50, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
                           g, repeat('x', 200)
FROM generate_series(1, 50000) g;
ANALYZE rs_cost;
EXPLAIN (COSTS OFF) SELECT count(*), sum(amount) FROM rs_cost
  WHERE ts >= '2024-01-05 00:00:00+00' AND ts < '2024-01-12 00:00:00+00';
EXPLAIN (COSTS OFF) SELECT * FROM rs_cost
  WHERE acct = 7 AND ts >= '2024-01-05 00:00:00+00' AND ts < '2024-01-12 00:00:00+00' ORDER BY ts;
DROP INDEX rs_cost_ts;
EXPLAIN (COSTS OFF) SELECT count(*), sum(amount) FROM rs_cost
  WHERE ts >= '2024-01-05 00:00:00+00' AND ts < '2024-01-12 00:00:00+00';
SELECT rs_check('SELECT count(*), sum(amount) FROM rs_cost
  WHERE ts >= ''2024-01-05 00:00:00+00'' AND ts < ''2024-01-12 00:00:00+00''');
-- The same sweep unwrapped (rs_check's subquery is read in key order): ~10
-- chunks of row ids, each asked for while the one before is read (one
-- client). Every row of the 7 days, once: 10,080 rows, amounts 5,760..15,839.
SELECT count(*), sum(amount), min(amount), max(amount) FROM rs_cost
  WHERE ts >= '2024-01-05 00:00:00+00' AND ts < '2024-01-12 00:00:00+00';
DROP TABLE rs_cost;

-- Partitioned ledgers: a ledger_range index on the parent declares keys on
-- every partition, and each partition's range scan serves its share of a
-- query on the parent (session 16; before, only a partition queried by name
-- did). Partitions by time are in time order already (Append); partitions by
-- account are merged (MergeAppend). Columns are matched per partition: the
-- second one has them in another order, after a dropped column.
CREATE TABLE rs_part (id bigint, acct bigint, ts timestamptz, amount numeric) PARTITION BY RANGE (ts);
CREATE TABLE rs_part_01 PARTITION OF rs_part
  FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00') USING ledger_am;
CREATE TABLE rs_part_02 (amount numeric, dropped int, ts timestamptz, acct bigint, id bigint) USING ledger_am;
ALTER TABLE rs_part_02 DROP COLUMN dropped;
ALTER TABLE rs_part ATTACH PARTITION rs_part_02
  FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00');
CREATE INDEX ON rs_part USING ledger_range (acct, ts);
INSERT INTO rs_part SELECT g, g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', g
FROM generate_series(0, 80000) g;
ANALYZE rs_part;
EXPLAIN (COSTS OFF) SELECT * FROM rs_part
  WHERE acct = 3 AND ts >= '2024-01-20 00:00:00+00' AND ts < '2024-02-10 00:00:00+00' ORDER BY ts DESC LIMIT 5;
SELECT * FROM rs_part
  WHERE acct = 3 AND ts >= '2024-01-20 00:00:00+00' AND ts < '2024-02-10 00:00:00+00' ORDER BY ts DESC LIMIT 5;
SELECT rs_check('SELECT * FROM rs_part WHERE acct = 3 AND ts >= ''2024-01-20 00:00:00+00''
                   AND ts < ''2024-02-10 00:00:00+00'' ORDER BY ts DESC');
EXPLAIN (COSTS OFF) SELECT count(*), sum(amount) FROM rs_part
  WHERE ts >= '2024-01-30 00:00:00+00' AND ts < '2024-02-02 00:00:00+00';
SELECT rs_check('SELECT count(*), sum(amount) FROM rs_part
                   WHERE ts >= ''2024-01-30 00:00:00+00'' AND ts < ''2024-02-02 00:00:00+00''');
SELECT rs_check('SELECT * FROM rs_part ORDER BY ts DESC LIMIT 3');
SELECT rs_check('SELECT id FROM rs_part WHERE acct IN (2, 7) AND ts < ''2024-01-01 02:00:00+00'' ORDER BY ts');
-- joins probe each partition by account (parameterized paths under the Append)
CREATE TABLE rs_part_accts (a bigint);
INSERT INTO rs_part_accts VALUES (1), (2);
ANALYZE rs_part_accts;
SELECT rs_check('SELECT a, count(*), sum(amount) FROM rs_part_accts
                   JOIN rs_part ON rs_part.acct = rs_part_accts.a AND rs_part.ts >= ''2024-01-31 00:00:00+00''
                  WHERE rs_part.ts < ''2024-02-02 00:00:00+00'' GROUP BY a ORDER BY a');
-- generic plans prune partitions at run time and bind the bounds there
PREPARE rs_part_q(bigint, timestamptz) AS SELECT count(*), sum(amount) FROM rs_part WHERE acct = $1 AND ts >= $2;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE rs_part_q(3, '2024-02-15 00:00:00+00');
EXECUTE rs_part_q(3, '2024-02-15 00:00:00+00');
EXECUTE rs_part_q(3, '2024-01-15 00:00:00+00');
RESET plan_cache_mode;
DEALLOCATE rs_part_q;
SELECT count(*), sum(amount) FROM rs_part WHERE acct = 3 AND ts >= '2024-01-15 00:00:00+00';
-- the SQL functions accept the parent
SELECT count(*), min(id), max(id) FROM ledger_am.account_events(NULL::rs_part, '3',
  '2024-01-31 00:00:00+00', '2024-02-02 00:00:00+00');
SELECT count(*), min(id), max(id) FROM ledger_am.time_range(NULL::rs_part,
  '2024-01-31 00:00:00+00', '2024-02-02 00:00:00+00');
-- partitions by account: each is in time order, the parent's order needs a merge
CREATE TABLE rs_hpart (id bigint, acct bigint, ts timestamptz) PARTITION BY HASH (acct);
CREATE TABLE rs_hpart_0 PARTITION OF rs_hpart FOR VALUES WITH (MODULUS 2, REMAINDER 0) USING ledger_am;
CREATE TABLE rs_hpart_1 PARTITION OF rs_hpart FOR VALUES WITH (MODULUS 2, REMAINDER 1) USING ledger_am;
CREATE INDEX ON rs_hpart USING ledger_range (acct, ts);
INSERT INTO rs_hpart SELECT g, g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(0, 20000) g;
ANALYZE rs_hpart;
EXPLAIN (COSTS OFF) SELECT id FROM rs_hpart
  WHERE ts >= '2024-01-05 00:00:00+00' AND ts < '2024-01-06 00:00:00+00' ORDER BY ts LIMIT 4;
SELECT id FROM rs_hpart
  WHERE ts >= '2024-01-05 00:00:00+00' AND ts < '2024-01-06 00:00:00+00' ORDER BY ts LIMIT 4;
SELECT rs_check('SELECT id, acct FROM rs_hpart WHERE ts >= ''2024-01-05 00:00:00+00''
                   AND ts < ''2024-01-06 00:00:00+00'' ORDER BY ts DESC');
DROP TABLE rs_part, rs_part_accts, rs_hpart;
-- inheritance children are planned the same way, the parent as its own child
CREATE TABLE rs_inh (id bigint, acct bigint, ts timestamptz) USING ledger_am;
CREATE TABLE rs_inh_c (extra text) INHERITS (rs_inh) USING ledger_am;
CREATE INDEX ON rs_inh USING ledger_range (acct, ts);
CREATE INDEX ON rs_inh_c USING ledger_range (acct, ts);
INSERT INTO rs_inh SELECT g, g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(0, 5000) g;
INSERT INTO rs_inh_c SELECT g, g % 10, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', 'c'
FROM generate_series(5001, 9000) g;
ANALYZE rs_inh, rs_inh_c;
EXPLAIN (COSTS OFF) SELECT id FROM rs_inh WHERE acct = 4 ORDER BY ts DESC LIMIT 3;
SELECT id FROM rs_inh WHERE acct = 4 ORDER BY ts DESC LIMIT 3;
SELECT rs_check('SELECT id FROM rs_inh WHERE acct = 4 AND ts >= ''2024-01-04 00:00:00+00'' ORDER BY ts');
-- and so are the tables of a UNION ALL the planner flattens
EXPLAIN (COSTS OFF) SELECT id FROM (SELECT id, ts, acct FROM ONLY rs_inh UNION ALL
                                    SELECT id, ts, acct FROM rs_inh_c) u WHERE acct = 4 ORDER BY ts DESC LIMIT 3;
SELECT rs_check('SELECT id, ts FROM (SELECT id, ts, acct FROM ONLY rs_inh UNION ALL
                 SELECT id, ts, acct FROM rs_inh_c) u WHERE acct = 4 AND ts < ''2024-01-05 00:00:00+00'' ORDER BY ts DESC');
DROP TABLE rs_inh CASCADE;

-- VACUUM removes the range keys of the aborted rows it reclaims: one per
-- account an event touches, one for its time. Rows that failed a unique
-- check, rows of a rolled-back COPY, and an aborted row from before the
-- declaration (it never had keys) are all removed; nothing else changes.
CREATE TABLE rs_gc (id bigint UNIQUE, debit text, credit text, ts timestamptz) USING ledger_am;
INSERT INTO rs_gc VALUES (0, 'pre', 'pre', '2024-01-01 00:00:00+00');
BEGIN;
INSERT INTO rs_gc VALUES (-1, repeat('x', 9000), 'pre', '2024-01-01 00:00:00+00');
ROLLBACK;
CREATE INDEX rs_gc_range ON rs_gc USING ledger_range (debit, credit, ts);
INSERT INTO rs_gc SELECT g, 'a' || g % 5, 'b' || g % 7, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 300) g;
SELECT ledger_am.stored_range_keys('rs_gc') AS keys, ledger_am.stored_rows('rs_gc') AS rows;
BEGIN;
INSERT INTO rs_gc SELECT g, 'a' || g % 5, 'b' || g % 7, timestamptz '2024-02-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(301, 400) g;
ROLLBACK;
INSERT INTO rs_gc VALUES (5, 'a0', 'b0', '2024-03-01 00:00:00+00');
INSERT INTO rs_gc VALUES (6, 'a1', NULL, '2024-03-01 00:00:00+00');
SELECT ledger_am.stored_range_keys('rs_gc') AS keys, ledger_am.stored_rows('rs_gc') AS rows;
VACUUM rs_gc;
SELECT ledger_am.stored_range_keys('rs_gc') AS keys, ledger_am.stored_rows('rs_gc') AS rows,
       count(*) AS visible FROM rs_gc;
SELECT rs_check('SELECT id FROM rs_gc WHERE debit = ''a0'' OR credit = ''b0'' ORDER BY ts');
SELECT count(*) FROM rs_gc WHERE ts >= '2024-01-05 00:00:00+00';
DROP TABLE rs_gc;

DROP FUNCTION rs_check(text);
DROP FUNCTION rs_same(text);
