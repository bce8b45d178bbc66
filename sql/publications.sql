-- Logical replication would copy a ledger_am table once and then miss every
-- insert (they are not in heap WAL records): publishing one is refused, and
-- a publication that covers one implicitly warns.
-- (wal_level is replica here: Postgres itself warns at each CREATE PUBLICATION.)
-- In a database of its own: FOR ALL TABLES counts every ledger_am table.
CREATE DATABASE ledger_pubs;
\c ledger_pubs
CREATE EXTENSION ledger_am;
CREATE SCHEMA pubs;
CREATE TABLE pubs.ledger (id bigint, note text) USING ledger_am;
CREATE TABLE pubs.plain (id bigint PRIMARY KEY, note text);
CREATE TABLE lone_plain (id bigint PRIMARY KEY);

-- Named directly, alone or with other tables: refused, nothing created.
CREATE PUBLICATION p_ledger FOR TABLE pubs.ledger;
CREATE PUBLICATION p_mixed FOR TABLE pubs.plain, pubs.ledger;
SELECT count(*) AS publications FROM pg_publication WHERE pubname IN ('p_ledger', 'p_mixed');

-- Added later: refused, the publication keeps what it had.
CREATE PUBLICATION p_plain FOR TABLE pubs.plain;
ALTER PUBLICATION p_plain ADD TABLE pubs.ledger;
ALTER PUBLICATION p_plain SET TABLE pubs.ledger;
SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'p_plain';

-- A schema holding a ledger_am table: refused, by CREATE and by ALTER.
CREATE PUBLICATION p_schema FOR TABLES IN SCHEMA pubs;
ALTER PUBLICATION p_plain ADD TABLES IN SCHEMA pubs;
SELECT count(*) AS schema_publications FROM pg_publication_namespace;

-- A partitioned table with a ledger_am partition: refused too.
CREATE TABLE pubs.parted (id bigint, ts timestamptz) PARTITION BY RANGE (ts);
CREATE TABLE pubs.parted_2026 PARTITION OF pubs.parted
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') USING ledger_am;
CREATE PUBLICATION p_parted FOR TABLE pubs.parted;

-- FOR ALL TABLES cannot leave tables out: it is created, with a warning
-- naming the table, or one of them.
DROP TABLE pubs.parted;
CREATE PUBLICATION p_all FOR ALL TABLES;
DROP PUBLICATION p_all;
CREATE TABLE pubs.second_ledger (id bigint) USING ledger_am;
CREATE PUBLICATION p_all FOR ALL TABLES;
SELECT pubname, puballtables FROM pg_publication WHERE pubname = 'p_all';

-- A new ledger_am table that a publication covers warns when it is created,
-- attached as a partition, moved into a published schema, or converted.
CREATE TABLE later_ledger (id bigint) USING ledger_am;
CREATE TABLE later_ctas USING ledger_am AS SELECT 1 AS id;
DROP PUBLICATION p_all;
CREATE TABLE quiet_ledger (id bigint) USING ledger_am;
CREATE SCHEMA pubs2;
CREATE TABLE pubs2.plain (id bigint);
CREATE PUBLICATION p_schema2 FOR TABLES IN SCHEMA pubs2;
ALTER TABLE quiet_ledger SET SCHEMA pubs2;
DROP PUBLICATION p_schema2;
CREATE TABLE lone_parted (id bigint, ts timestamptz) PARTITION BY RANGE (ts);
CREATE PUBLICATION p_lone_parted FOR TABLE lone_parted;
CREATE TABLE lone_2026 (id bigint, ts timestamptz) USING ledger_am;
ALTER TABLE lone_parted ATTACH PARTITION lone_2026
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE PUBLICATION p_lone FOR TABLE lone_plain;
CREATE TABLE lone_conv (id bigint);
DROP PUBLICATION p_lone_parted;
CREATE PUBLICATION p_all2 FOR ALL TABLES;
ALTER TABLE lone_conv SET ACCESS METHOD ledger_am;
DROP PUBLICATION p_all2;

-- Tables not in any publication stay quiet, and the ledger keeps working.
CREATE TABLE after_all (id bigint) USING ledger_am;
INSERT INTO pubs.ledger VALUES (1, 'still appending');
SELECT * FROM pubs.ledger;

\c contrib_regression
DROP DATABASE ledger_pubs;
