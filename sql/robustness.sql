-- The storage worker survives cancelled statements and comes back when it
-- is terminated; a statement never hangs on it.
CREATE TABLE rb (id int, pad text) USING ledger_am;
INSERT INTO rb SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;

-- The worker is a visible background process, connected to no database.
SELECT backend_type, datname IS NULL AS no_database
FROM pg_stat_activity WHERE backend_type = 'ledger_am storage worker';

-- statement_timeout interrupts a long scan (a nested loop over the table)...
SET statement_timeout = '200ms';
SELECT count(*) FROM rb a, rb b WHERE a.pad <> b.pad || a.id;
RESET statement_timeout;
-- ...and the next statements find the channel and the worker in order.
SELECT count(*), sum(id) FROM rb;
INSERT INTO rb VALUES (20001, 'after timeout');
SELECT count(*) FROM rb;

-- A cursor abandoned mid-scan, and one closed early, leave nothing behind.
BEGIN;
DECLARE c1 CURSOR FOR SELECT id FROM rb ORDER BY id;
FETCH 2 FROM c1;
DECLARE c2 CURSOR FOR SELECT id FROM rb;
FETCH 1 FROM c2;
CLOSE c2;
COMMIT;
SELECT count(*) FROM rb;

-- Terminating the worker: it is restarted, and statements wait for it
-- instead of failing or hanging.
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE backend_type = 'ledger_am storage worker';
SELECT count(*), sum(id) FROM rb;
INSERT INTO rb VALUES (20002, 'after restart');
SELECT count(*) FROM rb WHERE id > 20000;
SELECT count(*) = 1 AS one_worker FROM pg_stat_activity
WHERE backend_type = 'ledger_am storage worker';
DROP TABLE rb;
