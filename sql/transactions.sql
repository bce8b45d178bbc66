--
-- transactions: a Postgres transaction is the atomic unit of a ledger_am
-- table: commit, rollback, errors, savepoints, cursors, two-phase commit,
-- transactional DDL.
--
\set VERBOSITY default

CREATE TABLE tx (id int, note text) USING ledger_am WITH (autovacuum_enabled = false);
\set check 'SELECT count(*), sum(id) FROM tx;'

-- COMMIT makes rows visible; a transaction sees its own rows.
BEGIN;
INSERT INTO tx VALUES (1, 'committed'), (2, 'committed');
SELECT * FROM tx ORDER BY id;
INSERT INTO tx SELECT g, 'committed' FROM generate_series(3, 10) g;
SELECT count(*), sum(id) FROM tx;
COMMIT;
:check

-- ROLLBACK leaves nothing.
BEGIN;
INSERT INTO tx SELECT g, 'rolled back' FROM generate_series(100, 1099) g;
SELECT count(*) FROM tx;
ROLLBACK;
:check
SELECT count(*) FROM tx WHERE note = 'rolled back';
-- stored_rows counts the aborted rows (until VACUUM reclaims them); count(*) does not.
SELECT ledger_am.stored_rows('tx') AS stored, (SELECT count(*) FROM tx) AS visible;

-- An error in the middle of a transaction leaves nothing of it.
BEGIN;
INSERT INTO tx VALUES (11, 'before error');
INSERT INTO tx SELECT g, 'error' FROM generate_series(12, 2000) g WHERE 1 / (g - 1500) IS NOT NULL;
SELECT count(*) FROM tx;
COMMIT;
:check
-- An autocommit statement failing half-way leaves nothing either.
INSERT INTO tx SELECT g, 'error' FROM generate_series(12, 2000) g WHERE 1 / (g - 1500) IS NOT NULL;
:check
SELECT ledger_am.stored_rows('tx') >= 1010 AS aborted_rows_stored;
-- VACUUM reclaims the rows of aborted transactions.
VACUUM tx;
SELECT ledger_am.stored_rows('tx') AS stored, (SELECT count(*) FROM tx) AS visible;

-- SAVEPOINT / ROLLBACK TO removes exactly that savepoint's rows.
BEGIN;
INSERT INTO tx VALUES (21, 'kept');
SAVEPOINT a;
INSERT INTO tx VALUES (22, 'undone');
SELECT id, note FROM tx WHERE id > 20 ORDER BY id;
ROLLBACK TO SAVEPOINT a;
SELECT id, note FROM tx WHERE id > 20 ORDER BY id;
INSERT INTO tx VALUES (23, 'kept');
-- nested savepoints
SAVEPOINT b;
INSERT INTO tx VALUES (24, 'kept');
SAVEPOINT c;
INSERT INTO tx VALUES (25, 'undone');
SAVEPOINT d;
INSERT INTO tx VALUES (26, 'undone');
ROLLBACK TO SAVEPOINT c;
INSERT INTO tx VALUES (27, 'kept');
SAVEPOINT e;
INSERT INTO tx VALUES (28, 'kept');
RELEASE SAVEPOINT e;
SAVEPOINT f;
INSERT INTO tx VALUES (29, 'undone');
SAVEPOINT g;
INSERT INTO tx VALUES (30, 'undone');
RELEASE SAVEPOINT g;
ROLLBACK TO SAVEPOINT f;
-- an error inside a savepoint
SAVEPOINT h;
INSERT INTO tx VALUES (31, 'undone');
INSERT INTO tx VALUES (1 / 0, 'error');
ROLLBACK TO SAVEPOINT h;
RELEASE SAVEPOINT b;
SELECT id, note FROM tx WHERE id > 20 ORDER BY id;
COMMIT;
SELECT id, note FROM tx WHERE id > 20 ORDER BY id;
-- ROLLBACK after RELEASE undoes the released savepoint's rows too.
BEGIN;
SAVEPOINT s;
INSERT INTO tx VALUES (32, 'undone');
RELEASE SAVEPOINT s;
ROLLBACK;
SELECT count(*) FROM tx WHERE note = 'undone';
-- PL/pgSQL exception blocks are savepoints.
DO $$
BEGIN
  INSERT INTO tx VALUES (33, 'kept');
  BEGIN
    INSERT INTO tx VALUES (34, 'undone');
    PERFORM 1 / 0;
  EXCEPTION WHEN division_by_zero THEN
    NULL;
  END;
  INSERT INTO tx VALUES (35, 'kept');
END
$$;
SELECT id, note FROM tx WHERE id > 32 ORDER BY id;
:check

-- INSERT ... SELECT from the same table does not see its own rows.
CREATE TABLE dbl (n int) USING ledger_am;
INSERT INTO dbl SELECT generate_series(1, 1000);
INSERT INTO dbl SELECT n + 1000 FROM dbl;
SELECT count(*), min(n), max(n), count(DISTINCT n) FROM dbl;
BEGIN;
INSERT INTO dbl SELECT n + 2000 FROM dbl;
INSERT INTO dbl SELECT n + 4000 FROM dbl;
SELECT count(*), min(n), max(n), count(DISTINCT n) FROM dbl;
COMMIT;
SELECT count(*), min(n), max(n), count(DISTINCT n) FROM dbl;
-- A data-modifying CTE: the outer query sees the snapshot before the insert.
WITH ins AS (INSERT INTO dbl VALUES (100000) RETURNING n)
  SELECT (SELECT count(*) FROM dbl) AS visible, (SELECT count(*) FROM ins) AS inserted;
SELECT count(*) FROM dbl;
-- A volatile function called by the statement sees the rows the statement
-- inserted before the call, as with heap.
CREATE FUNCTION dbl_count() RETURNS bigint LANGUAGE sql VOLATILE AS 'SELECT count(*) FROM dbl';
BEGIN;
INSERT INTO dbl SELECT dbl_count() FROM generate_series(1, 3);
SELECT n, count(*) FROM dbl WHERE n BETWEEN 8000 AND 9000 GROUP BY n ORDER BY n;
ROLLBACK;
DROP FUNCTION dbl_count();

-- Cursors over a ledger_am table.
CREATE TABLE cur (id int, v text) USING ledger_am;
INSERT INTO cur SELECT g, 'v' || g FROM generate_series(1, 1000) g;
BEGIN;
DECLARE c CURSOR FOR SELECT id, v FROM cur;
FETCH 3 FROM c;
FETCH FORWARD 2 FROM c;
MOVE FORWARD 500 IN c;
FETCH NEXT FROM c;
-- rows inserted after DECLARE are not seen by the cursor
INSERT INTO cur VALUES (1001, 'late');
MOVE FORWARD ALL IN c;
FETCH NEXT FROM c;
CLOSE c;
DECLARE s SCROLL CURSOR FOR SELECT id, v FROM cur;
FETCH 3 FROM s;
FETCH BACKWARD 2 FROM s;
FETCH PRIOR FROM s;
FETCH PRIOR FROM s;
FETCH LAST FROM s;
FETCH BACKWARD 3 FROM s;
FETCH ABSOLUTE 290 FROM s;
FETCH FORWARD 3 FROM s;
FETCH RELATIVE -2 FROM s;
MOVE ABSOLUTE 0 IN s;
FETCH NEXT FROM s;
MOVE LAST IN s;
FETCH NEXT FROM s;
FETCH BACKWARD 1 FROM s;
FETCH FIRST FROM s;
CLOSE s;
-- a scrollable cursor with a filter, read to the end and back
DECLARE f SCROLL CURSOR FOR SELECT id FROM cur WHERE id % 250 = 0;
FETCH ALL FROM f;
FETCH BACKWARD ALL FROM f;
CLOSE f;
-- a cursor WITH HOLD survives the commit
DECLARE h CURSOR WITH HOLD FOR SELECT id FROM cur WHERE id > 995;
COMMIT;
FETCH ALL FROM h;
CLOSE h;
SELECT count(*), max(id) FROM cur;

-- PREPARE TRANSACTION after writing to a ledger_am table is refused.
BEGIN;
INSERT INTO tx VALUES (1000, 'prepared');
PREPARE TRANSACTION 'ledger_write';
SELECT count(*) FROM pg_prepared_xacts;
SELECT count(*) FROM tx WHERE id = 1000;
-- ... also after creating or dropping a ledger_am table.
BEGIN;
CREATE TABLE tx_created (a int) USING ledger_am;
PREPARE TRANSACTION 'ledger_create';
SELECT to_regclass('tx_created');
BEGIN;
DROP TABLE dbl;
PREPARE TRANSACTION 'ledger_drop';
SELECT count(*) FROM dbl;
-- A transaction that only reads ledger_am tables can be prepared.
CREATE TABLE heap_tx (id int);
BEGIN;
SELECT count(*) FROM tx;
INSERT INTO heap_tx VALUES (1);
PREPARE TRANSACTION 'ledger_read';
SELECT gid FROM pg_prepared_xacts;
COMMIT PREPARED 'ledger_read';
SELECT * FROM heap_tx;
SELECT count(*) FROM pg_prepared_xacts;
DROP TABLE heap_tx;

-- DROP TABLE is transactional.
BEGIN;
DROP TABLE tx;
ROLLBACK;
:check
BEGIN;
SAVEPOINT s;
DROP TABLE tx;
ROLLBACK TO SAVEPOINT s;
COMMIT;
:check
SELECT id, note FROM tx WHERE id > 20 ORDER BY id;
DROP TABLE tx;
CREATE TABLE tx (id int, note text) USING ledger_am WITH (autovacuum_enabled = false);
:check
SELECT ledger_am.stored_rows('tx');
INSERT INTO tx VALUES (1, 'new');
:check
-- DROP and re-CREATE in one transaction.
BEGIN;
DROP TABLE tx;
CREATE TABLE tx (id int, note text) USING ledger_am WITH (autovacuum_enabled = false);
INSERT INTO tx VALUES (2, 'newer'), (3, 'newer');
COMMIT;
SELECT * FROM tx ORDER BY id;

-- CREATE TABLE + INSERT rolled back leaves nothing.
BEGIN;
CREATE TABLE tx_gone (a int) USING ledger_am;
INSERT INTO tx_gone SELECT generate_series(1, 100);
SELECT count(*) FROM tx_gone;
ROLLBACK;
SELECT to_regclass('tx_gone');
BEGIN;
SAVEPOINT s;
CREATE TABLE tx_gone (a int) USING ledger_am;
INSERT INTO tx_gone VALUES (1);
ROLLBACK TO SAVEPOINT s;
CREATE TABLE tx_gone (a int) USING ledger_am;
INSERT INTO tx_gone VALUES (2);
COMMIT;
SELECT * FROM tx_gone;
SELECT ledger_am.stored_rows('tx_gone');

-- Isolation levels: a REPEATABLE READ / SERIALIZABLE transaction keeps its snapshot.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM tx;
INSERT INTO tx VALUES (4, 'rr');
SELECT count(*) FROM tx;
COMMIT;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM tx;
INSERT INTO tx VALUES (5, 'serializable');
SELECT id, note FROM tx ORDER BY id;
COMMIT;
BEGIN READ ONLY;
SELECT count(*) FROM tx;
INSERT INTO tx VALUES (6, 'read only');
ROLLBACK;
SELECT id, note FROM tx ORDER BY id;

DROP TABLE tx, tx_gone, cur, dbl;
