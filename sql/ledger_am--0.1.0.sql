-- ledger_am 0.1.0: append-only table access method on RocksDB.
\echo Use "CREATE EXTENSION ledger_am" to load this file. \quit

-- Loading the library here fails with a clear message and a HINT unless the
-- server was started with shared_preload_libraries = 'ledger_am'.
CREATE FUNCTION ledger_am_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'ledger_am_handler'
LANGUAGE C STRICT;

CREATE ACCESS METHOD ledger_am TYPE TABLE HANDLER ledger_am.ledger_am_handler;
COMMENT ON ACCESS METHOD ledger_am IS 'append-only event storage in RocksDB';

CREATE FUNCTION table_size(tbl regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ledger_am_table_size'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION table_size(regclass) IS
  'bytes the rows of a ledger_am table take in RocksDB (compressed), comparable to pg_total_relation_size of a heap table once its btree indexes are added';

CREATE FUNCTION stored_rows(tbl regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ledger_am_stored_rows'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stored_rows(regclass) IS
  'rows physically stored for a ledger_am table, including rows of aborted transactions not yet reclaimed';

CREATE FUNCTION next_row_id(tbl regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ledger_am_next_row_id'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION compact(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'ledger_am_compact'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION set_next_row_id(tbl regclass, next_row_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'ledger_am_set_next_row_id'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION set_next_row_id(regclass, bigint) FROM PUBLIC;

CREATE FUNCTION uuid_v7()
RETURNS uuid
AS 'MODULE_PATHNAME', 'ledger_am_uuid_v7'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION uuid_v7() IS 'time-ordered UUID (version 7)';

-- ALTER TABLE forms that rewrite a table fire table_rewrite: refuse them for
-- ledger_am tables (converting a heap table TO ledger_am stays allowed).
CREATE FUNCTION refuse_rewrite()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'ledger_am_refuse_rewrite'
LANGUAGE C;
CREATE EVENT TRIGGER ledger_am_refuse_rewrite ON table_rewrite
  EXECUTE FUNCTION ledger_am.refuse_rewrite();

-- The canonical events table (see README "Canonical schema").
CREATE FUNCTION create_events_table(table_name text DEFAULT 'events')
RETURNS regclass
LANGUAGE plpgsql
AS $fn$
BEGIN
  EXECUTE format($ddl$
    CREATE TABLE %s (
      event_id          uuid        NOT NULL DEFAULT ledger_am.uuid_v7(),
      event_type        text        NOT NULL,
      aggregate_id      uuid        NOT NULL,
      aggregate_version bigint      NOT NULL CHECK (aggregate_version > 0),
      ts                timestamptz NOT NULL DEFAULT clock_timestamp(),
      debit_account     bigint,
      credit_account    bigint,
      tx_id             uuid,
      amount            numeric(20,4),
      currency          text,
      payload           jsonb,
      metadata          jsonb       NOT NULL DEFAULT '{}',
      PRIMARY KEY (event_id),
      UNIQUE (aggregate_id, aggregate_version)
    ) USING ledger_am$ddl$, table_name);
  RETURN table_name::regclass;
END
$fn$;
COMMENT ON FUNCTION create_events_table(text) IS
  'creates the canonical ledger events table USING ledger_am';
