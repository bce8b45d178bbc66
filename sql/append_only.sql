--
-- append_only: every statement that would change or remove rows of a
-- ledger_am table is refused up front, with a clear error and a HINT, and
-- leaves the rows as they were.
--
\set VERBOSITY default

CREATE TABLE ledger (
  event_id int PRIMARY KEY,
  account  text NOT NULL,
  amount   int NOT NULL,
  note     varchar(10)
) USING ledger_am;
INSERT INTO ledger SELECT g, 'acct' || (g % 3), g * 10, NULL FROM generate_series(1, 100) g;
CREATE TABLE heap_side (id int PRIMARY KEY, v int);
INSERT INTO heap_side SELECT g, g FROM generate_series(1, 10) g;

-- :check shows the rows are unchanged after each refusal.
\set check 'SELECT count(*), sum(amount), sum(event_id) FROM ledger;'
:check

-- UPDATE
UPDATE ledger SET amount = 0;
UPDATE ledger SET amount = amount + 1 WHERE event_id = 1;
UPDATE ledger SET amount = 0 WHERE false;
UPDATE ledger l SET amount = h.v FROM heap_side h WHERE h.id = l.event_id;
WITH u AS (UPDATE ledger SET amount = 0 RETURNING *) SELECT count(*) FROM u;
WITH u AS (UPDATE heap_side SET v = v RETURNING id)
  UPDATE ledger SET amount = 0 WHERE event_id IN (SELECT id FROM u);
:check
PREPARE upd(int) AS UPDATE ledger SET amount = 0 WHERE event_id = $1;
EXECUTE upd(1);
SET plan_cache_mode = force_generic_plan;
PREPARE upd_generic(int) AS UPDATE ledger SET amount = 0 WHERE event_id = $1;
EXECUTE upd_generic(1);
EXECUTE upd_generic(2);
RESET plan_cache_mode;
DEALLOCATE ALL;
-- through SPI (PL/pgSQL)
CREATE FUNCTION change_amount(int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ledger SET amount = 0 WHERE event_id = $1;
END
$$;
SELECT change_amount(1);
SELECT change_amount(1);
DROP FUNCTION change_amount(int);
-- through an updatable view
CREATE VIEW ledger_view AS SELECT * FROM ledger WHERE event_id <= 50;
UPDATE ledger_view SET amount = 0;
:check

-- DELETE
DELETE FROM ledger;
DELETE FROM ledger WHERE event_id = 1;
DELETE FROM ledger WHERE false;
DELETE FROM ledger l USING heap_side h WHERE h.id = l.event_id;
DELETE FROM ledger_view;
WITH d AS (DELETE FROM ledger RETURNING *) SELECT count(*) FROM d;
PREPARE del AS DELETE FROM ledger WHERE event_id > 90;
EXECUTE del;
DEALLOCATE del;
:check

-- MERGE
MERGE INTO ledger l USING (VALUES (1, 5), (1000, 5)) s(id, amt) ON l.event_id = s.id
  WHEN MATCHED THEN UPDATE SET amount = s.amt
  WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'merged', s.amt);
MERGE INTO ledger l USING heap_side s ON l.event_id = s.id
  WHEN MATCHED THEN DELETE;
MERGE INTO ledger l USING (SELECT 1 AS id WHERE false) s ON l.event_id = s.id
  WHEN MATCHED THEN DELETE;
:check

-- INSERT ... ON CONFLICT DO UPDATE (also when nothing conflicts)
INSERT INTO ledger VALUES (1, 'acct1', 1) ON CONFLICT (event_id) DO UPDATE SET amount = excluded.amount;
INSERT INTO ledger VALUES (1001, 'acct1', 1) ON CONFLICT (event_id) DO UPDATE SET amount = excluded.amount;
:check

-- INSERT ... ON CONFLICT DO NOTHING works: idempotent appends by event id.
INSERT INTO ledger VALUES (101, 'acct2', 1010) ON CONFLICT (event_id) DO NOTHING;
INSERT INTO ledger VALUES (101, 'other', -1) ON CONFLICT (event_id) DO NOTHING;
INSERT INTO ledger VALUES (101, 'other', -1) ON CONFLICT DO NOTHING;
INSERT INTO ledger VALUES (101, 'other', -1) ON CONFLICT ON CONSTRAINT ledger_pkey DO NOTHING;
INSERT INTO ledger VALUES (102, 'acct0', 1020), (101, 'other', -1), (102, 'other', -1)
  ON CONFLICT (event_id) DO NOTHING;
INSERT INTO ledger SELECT g, 'batch', g * 10 FROM generate_series(95, 105) g
  ON CONFLICT (event_id) DO NOTHING RETURNING event_id;
SELECT event_id, account, amount FROM ledger WHERE event_id > 99 ORDER BY event_id;
SELECT count(*) FROM ledger WHERE account IN ('other', 'merged');
:check

-- Row locks: FOR UPDATE, FOR NO KEY UPDATE and FOR SHARE are refused,
-- FOR KEY SHARE (what foreign keys take) is allowed.
SELECT * FROM ledger WHERE event_id = 1 FOR UPDATE;
SELECT * FROM ledger WHERE event_id = 1 FOR NO KEY UPDATE;
SELECT * FROM ledger WHERE event_id = 1 FOR SHARE;
SELECT * FROM ledger WHERE false FOR UPDATE;
SELECT * FROM ledger WHERE event_id = 1 FOR UPDATE NOWAIT;
SELECT * FROM ledger WHERE event_id = 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM ledger_view WHERE event_id = 1 FOR UPDATE;
SELECT * FROM (SELECT * FROM ledger WHERE event_id = 1 FOR SHARE) s;
SELECT event_id, account, amount FROM ledger WHERE event_id <= 3 ORDER BY event_id FOR KEY SHARE;
SELECT l.event_id, h.v FROM ledger l JOIN heap_side h ON h.id = l.event_id
  WHERE l.event_id <= 2 ORDER BY 1 FOR UPDATE OF h;
SELECT l.event_id, h.v FROM ledger l JOIN heap_side h ON h.id = l.event_id
  WHERE l.event_id <= 2 ORDER BY 1 FOR UPDATE OF l;
BEGIN;
SELECT count(*) FROM (SELECT * FROM ledger FOR KEY SHARE) s;
COMMIT;
:check
-- A ledger_am table may be the source of an UPDATE or DELETE of another table.
UPDATE heap_side h SET v = l.amount FROM ledger l WHERE l.event_id = h.id AND h.id <= 3;
DELETE FROM heap_side h USING ledger l WHERE l.event_id = h.id AND h.id = 10;
WITH src AS (SELECT event_id, amount FROM ledger WHERE event_id = 9)
  UPDATE heap_side h SET v = src.amount FROM src WHERE h.id = src.event_id;
SELECT * FROM heap_side ORDER BY id;
:check
DROP VIEW ledger_view;

-- TRUNCATE, also of a list and of a partitioned parent with a ledger_am partition
TRUNCATE ledger;
TRUNCATE TABLE ONLY ledger;
TRUNCATE heap_side, ledger;
SELECT count(*) FROM heap_side;
BEGIN;
TRUNCATE ledger;
ROLLBACK;
:check

CREATE TABLE parted (id int, amount int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100) USING ledger_am;
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100) TO (200) USING ledger_am;
INSERT INTO parted SELECT g, g FROM generate_series(0, 199) g;
SELECT tableoid::regclass, count(*), sum(amount) FROM parted GROUP BY 1 ORDER BY 1;
TRUNCATE parted;
TRUNCATE parted_2;
UPDATE parted SET amount = 0;
UPDATE parted SET amount = 0 WHERE id = 150;
UPDATE parted SET id = id + 100 WHERE id < 100;
DELETE FROM parted;
DELETE FROM parted WHERE id = 5;
SELECT * FROM parted WHERE id = 5 FOR UPDATE;
MERGE INTO parted p USING (VALUES (5)) s(id) ON p.id = s.id WHEN MATCHED THEN DELETE;
SELECT tableoid::regclass, count(*), sum(amount) FROM parted GROUP BY 1 ORDER BY 1;
-- inheritance: the ledger_am child is reached through the parent
CREATE TABLE inh_parent (id int, amount int);
CREATE TABLE inh_child () INHERITS (inh_parent) USING ledger_am;
INSERT INTO inh_parent VALUES (1, 1);
INSERT INTO inh_child VALUES (2, 2);
UPDATE inh_parent SET amount = 0;
DELETE FROM inh_parent;
TRUNCATE inh_parent;
UPDATE ONLY inh_parent SET amount = 10;
SELECT tableoid::regclass, id, amount FROM inh_parent ORDER BY id;
DROP TABLE inh_parent, inh_child;

-- Table rewrites: VACUUM FULL, CLUSTER, ALTER TABLE forms that rewrite
VACUUM FULL ledger;
VACUUM (FULL) ledger;
VACUUM (FULL true, ANALYZE) ledger;
VACUUM (FULL) heap_side, ledger;
VACUUM (FULL false) ledger;
CLUSTER ledger USING ledger_pkey;
ALTER TABLE ledger ALTER COLUMN amount TYPE bigint;
ALTER TABLE ledger ALTER COLUMN amount TYPE int USING amount * 2;
ALTER TABLE ledger ADD COLUMN r float8 DEFAULT random();
ALTER TABLE ledger ADD COLUMN serial_id serial;
ALTER TABLE ledger SET ACCESS METHOD heap;
ALTER TABLE ledger SET LOGGED;
ALTER TABLE ledger SET UNLOGGED;
-- ... also when event triggers are not fired (session_replication_role = replica)
SET session_replication_role = replica;
ALTER TABLE ledger ALTER COLUMN amount TYPE int USING 0;
ALTER TABLE ledger SET ACCESS METHOD heap;
RESET session_replication_role;
SELECT c.relname, a.amname, c.relpersistence FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname = 'ledger';
:check
-- ALTER TABLE forms that do not rewrite keep working.
ALTER TABLE ledger ALTER COLUMN note TYPE varchar(20);
ALTER TABLE ledger ADD COLUMN tag text DEFAULT 'none';
ALTER TABLE ledger ALTER COLUMN tag SET DEFAULT 'new';
ALTER TABLE ledger ADD CONSTRAINT amount_positive CHECK (amount > 0);
ALTER TABLE ledger ADD CONSTRAINT amount_small CHECK (amount < 100);
ALTER TABLE ledger RENAME COLUMN note TO remark;
ALTER TABLE ledger SET ACCESS METHOD ledger_am;
INSERT INTO ledger (event_id, account, amount) VALUES (106, 'acct1', 1060);
SELECT tag, count(*) FROM ledger GROUP BY tag ORDER BY tag;
:check
-- A moved table would lose its rows: SET TABLESPACE is refused. Creating a
-- ledger_am table in another tablespace works.
SET allow_in_place_tablespaces = true;
CREATE TABLESPACE regress_ledger_ts LOCATION '';
RESET allow_in_place_tablespaces;
ALTER TABLE ledger SET TABLESPACE regress_ledger_ts;
CREATE TABLE ledger_ts (id int) USING ledger_am TABLESPACE regress_ledger_ts;
INSERT INTO ledger_ts SELECT generate_series(1, 10);
SELECT count(*), sum(id) FROM ledger_ts;
ALTER TABLE ledger_ts SET TABLESPACE pg_default;
DROP TABLE ledger_ts;
DROP TABLESPACE regress_ledger_ts;
:check

-- CREATE INDEX CONCURRENTLY builds a valid index holding every row (rows
-- written during the build: isolation spec create_index_concurrently);
-- REINDEX CONCURRENTLY is refused (indexes.sql).
CREATE INDEX CONCURRENTLY ledger_account ON ledger (account);
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'ledger_account'::regclass;
SET enable_seqscan = off;
SELECT count(*) FROM ledger WHERE account IS NOT NULL;
RESET enable_seqscan;
SELECT count(*) FROM ledger WHERE account IS NOT NULL;
DROP INDEX CONCURRENTLY ledger_account;

-- A database-wide VACUUM FULL has nothing to rewrite in an append-only
-- table: it completes, leaving ledger_am tables as they are.
VACUUM FULL;
:check

-- Foreign keys: a heap table referencing a ledger_am table, and the reverse.
CREATE TABLE refs (id int PRIMARY KEY, event_id int REFERENCES ledger (event_id));
INSERT INTO refs VALUES (1, 1), (2, 2), (3, 106);
INSERT INTO refs VALUES (4, 5000);
INSERT INTO refs VALUES (5, NULL);
BEGIN;
INSERT INTO ledger VALUES (200, 'acct2', 2);
INSERT INTO refs VALUES (6, 200);
COMMIT;
SELECT r.id, l.event_id, l.account FROM refs r LEFT JOIN ledger l USING (event_id) ORDER BY r.id;
-- a ledger_am table referencing heap tables
CREATE TABLE accounts (name text PRIMARY KEY);
INSERT INTO accounts VALUES ('acct0'), ('acct1'), ('acct2'), ('spare');
CREATE TABLE ledger_child (
  id int PRIMARY KEY,
  account text NOT NULL REFERENCES accounts (name),
  cause int REFERENCES ledger (event_id)
) USING ledger_am;
INSERT INTO ledger_child VALUES (1, 'acct0', NULL), (2, 'acct1', 1);
INSERT INTO ledger_child VALUES (3, 'nobody', NULL);
INSERT INTO ledger_child VALUES (4, 'acct1', 9999);
DELETE FROM accounts WHERE name = 'acct0';
DELETE FROM accounts WHERE name = 'spare';
SELECT * FROM ledger_child ORDER BY id;
SELECT name FROM accounts ORDER BY name;
-- referential actions that would change the ledger are refused
CREATE TABLE cascading_parent (id int PRIMARY KEY);
INSERT INTO cascading_parent VALUES (1), (2);
CREATE TABLE cascading_child (
  id int, parent int REFERENCES cascading_parent ON DELETE CASCADE ON UPDATE CASCADE
) USING ledger_am;
INSERT INTO cascading_child VALUES (10, 1), (20, 2);
DELETE FROM cascading_parent WHERE id = 1;
UPDATE cascading_parent SET id = 3 WHERE id = 2;
SELECT * FROM cascading_child ORDER BY id;
SELECT * FROM cascading_parent ORDER BY id;
DROP TABLE cascading_child, cascading_parent;

-- LOCK TABLE only takes a table lock.
BEGIN;
LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;
COMMIT;
SELECT count(*), sum(amount), sum(event_id) FROM ledger;

DROP TABLE refs, ledger_child, accounts, parted, heap_side;
DROP TABLE ledger;
