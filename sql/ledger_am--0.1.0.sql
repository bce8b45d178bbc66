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

-- Every role may call the functions below; each checks the caller's
-- privileges on the table it is given.
GRANT USAGE ON SCHEMA ledger_am TO PUBLIC;

-- Range declarations: CREATE INDEX ... USING ledger_range (account column(s), time column)
-- on a ledger_am table. The index keeps no pages: rows get account and time
-- keys in RocksDB, read by the LedgerRangeScan plan node.
CREATE FUNCTION ledger_range_handler(internal)
RETURNS index_am_handler
AS 'MODULE_PATHNAME', 'ledger_range_handler'
LANGUAGE C STRICT;
CREATE ACCESS METHOD ledger_range TYPE INDEX HANDLER ledger_am.ledger_range_handler;
COMMENT ON ACCESS METHOD ledger_range IS
  'range declaration of a ledger_am table: account column(s), then the time column';

CREATE OPERATOR CLASS int8_range_ops DEFAULT FOR TYPE int8 USING ledger_range AS OPERATOR 1 =(int8, int8);
CREATE OPERATOR CLASS int4_range_ops DEFAULT FOR TYPE int4 USING ledger_range AS OPERATOR 1 =(int4, int4);
CREATE OPERATOR CLASS int2_range_ops DEFAULT FOR TYPE int2 USING ledger_range AS OPERATOR 1 =(int2, int2);
CREATE OPERATOR CLASS text_range_ops DEFAULT FOR TYPE text USING ledger_range AS OPERATOR 1 =(text, text);
CREATE OPERATOR CLASS bpchar_range_ops DEFAULT FOR TYPE bpchar USING ledger_range AS OPERATOR 1 =(bpchar, bpchar);
CREATE OPERATOR CLASS uuid_range_ops DEFAULT FOR TYPE uuid USING ledger_range AS OPERATOR 1 =(uuid, uuid);
CREATE OPERATOR CLASS timestamptz_range_ops DEFAULT FOR TYPE timestamptz USING ledger_range AS OPERATOR 1 =(timestamptz, timestamptz);
CREATE OPERATOR CLASS timestamp_range_ops DEFAULT FOR TYPE timestamp USING ledger_range AS OPERATOR 1 =(timestamp, timestamp);
CREATE OPERATOR CLASS date_range_ops DEFAULT FOR TYPE date USING ledger_range AS OPERATOR 1 =(date, date);
CREATE OPERATOR CLASS array_range_ops DEFAULT FOR TYPE anyarray USING ledger_range AS OPERATOR 1 =(anyarray, anyarray);

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

CREATE FUNCTION stored_range_keys(tbl regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ledger_am_stored_range_keys'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stored_range_keys(regclass) IS
  'range keys stored for a ledger_am table''s ledger_range declaration (one per account an event touches, one for its time), counting those of rows of aborted transactions until VACUUM removes the rows';

CREATE FUNCTION digest(tbl regclass, row_count bigint DEFAULT NULL,
                       OUT rows bigint, OUT frozen_below bigint, OUT sha256 text)
RETURNS record
AS 'MODULE_PATHNAME', 'ledger_am_digest'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION digest(regclass, bigint) IS
  'SHA-256 of the first row_count settled rows of a ledger_am table (all when NULL), in row id order: each row''s text form and a newline, under DateStyle ISO, TimeZone UTC. Settled rows (below the frozen watermark VACUUM moves) never change, so a digest recorded now proves later that they were not altered';

CREATE FUNCTION row_dictionary_size(tbl regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ledger_am_row_dictionary_size'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION row_dictionary_size(regclass) IS
  'bytes of the dictionary trained for a ledger_am table under ledger_am.row_compression = zstd_row (0 while it has none: rows are compressed one by one once it exists)';

CREATE FUNCTION next_row_id(tbl regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ledger_am_next_row_id'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION worker_stats(OUT name text, OUT value bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ledger_am_worker_stats'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION worker_stats() IS
  'counters of the ledger_am storage worker: recent_clients, requests_in_flight, lent_batches, block_cache_bytes, block_cache_used, bulk_scan_chunks, point_read_ns, yielded_point_reads, row_id_reservations, wal_logged_rows, wal_unlogged_rows';

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
-- Also under session_replication_role = replica.
ALTER EVENT TRIGGER ledger_am_refuse_rewrite ENABLE ALWAYS;

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
  -- Its range declaration: events are found under both accounts, by time.
  EXECUTE format('CREATE INDEX ON %s USING ledger_range (debit_account, credit_account, ts)',
                 table_name);
  RETURN table_name::regclass;
END
$fn$;
COMMENT ON FUNCTION create_events_table(text) IS
  'creates the canonical ledger events table USING ledger_am';

-- The range declaration of a table: its account columns and time column.
CREATE FUNCTION range_declaration(tbl regclass,
                                  OUT account_columns name[], OUT account_is_array boolean[],
                                  OUT time_column name)
RETURNS record
LANGUAGE sql STABLE STRICT
AS $fn$
  SELECT array_agg(a.attname ORDER BY k.ord) FILTER (WHERE k.ord < i.indnkeyatts),
         array_agg(a.attndims > 0 OR t.typcategory = 'A' ORDER BY k.ord) FILTER (WHERE k.ord < i.indnkeyatts),
         (array_agg(a.attname ORDER BY k.ord))[i.indnkeyatts]
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_am am ON am.oid = ic.relam AND am.amname = 'ledger_range'
  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  WHERE i.indrelid = tbl
  GROUP BY i.indexrelid, i.indnkeyatts
$fn$;

-- _require_declaration returns a table's declaration or raises a clear error.
CREATE FUNCTION _require_declaration(tbl regclass,
                                     OUT account_columns name[], OUT account_is_array boolean[],
                                     OUT time_column name)
RETURNS record
LANGUAGE plpgsql STABLE STRICT
AS $fn$
BEGIN
  SELECT d.account_columns, d.account_is_array, d.time_column
    INTO account_columns, account_is_array, time_column
    FROM ledger_am.range_declaration(tbl) d;
  IF time_column IS NULL THEN
    RAISE EXCEPTION 'table % has no range declaration', tbl
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Declare it: CREATE INDEX ON ' || tbl::text
                   || ' USING ledger_range (account_column, time_column);';
  END IF;
END
$fn$;

-- _time_bound_type returns the time column's type, to which the functions'
-- timestamptz bounds are cast (so date and timestamp columns get key bounds);
-- integer time columns have no such cast: query them with plain SQL.
CREATE FUNCTION _time_bound_type(rel regclass, time_column name, from_ts timestamptz,
                                 to_ts timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  typ oid;
BEGIN
  SELECT a.atttypid INTO typ FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = rel AND a.attname = time_column;
  IF (from_ts IS NOT NULL OR to_ts IS NOT NULL)
     AND typ NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
    RAISE EXCEPTION 'time column "%" of table % has type %, not a timestamp', time_column, rel,
                    pg_catalog.format_type(typ, NULL)
      USING ERRCODE = 'datatype_mismatch',
            HINT = 'Call the function without time bounds, or query the table with WHERE on the time column.';
  END IF;
  RETURN pg_catalog.format_type(typ, NULL);
END
$fn$;

-- account_events: one account's events in [from_ts, to_ts), newest first by
-- default, as the table's row type: SELECT * FROM ledger_am.account_events(NULL::events, '42');
-- Runs as the caller: table privileges and row-level security apply.
CREATE FUNCTION account_events(tbl anyelement, account text,
                               from_ts timestamptz DEFAULT NULL, to_ts timestamptz DEFAULT NULL,
                               descending boolean DEFAULT true, max_rows bigint DEFAULT NULL)
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  rel regclass := pg_catalog.pg_typeof(tbl)::text::regclass;
  d record;
  acct_cond text := '';
  typ text;
  ttyp text;
  q text;
BEGIN
  SELECT * INTO d FROM ledger_am._require_declaration(rel);
  FOR i IN 1 .. pg_catalog.array_length(d.account_columns, 1) LOOP
    -- The type without its length: a cast to varchar(3) would truncate the account.
    SELECT pg_catalog.format_type(a.atttypid, NULL) INTO typ
      FROM pg_catalog.pg_attribute a WHERE a.attrelid = rel AND a.attname = d.account_columns[i];
    IF d.account_is_array[i] THEN
      typ := pg_catalog.regexp_replace(typ, '\[\]$', '');
      acct_cond := acct_cond || CASE WHEN acct_cond = '' THEN '' ELSE ' OR ' END
                   || pg_catalog.format('$1::%s = ANY(%I)', typ, d.account_columns[i]);
    ELSE
      acct_cond := acct_cond || CASE WHEN acct_cond = '' THEN '' ELSE ' OR ' END
                   || pg_catalog.format('%I = $1::%s', d.account_columns[i], typ);
    END IF;
  END LOOP;
  q := pg_catalog.format('SELECT * FROM %s WHERE (%s)', rel, acct_cond);
  ttyp := ledger_am._time_bound_type(rel, d.time_column, from_ts, to_ts);
  IF from_ts IS NOT NULL THEN q := q || pg_catalog.format(' AND %I >= $2::%s', d.time_column, ttyp); END IF;
  IF to_ts IS NOT NULL THEN q := q || pg_catalog.format(' AND %I < $3::%s', d.time_column, ttyp); END IF;
  q := q || pg_catalog.format(' ORDER BY %I %s', d.time_column, CASE WHEN descending THEN 'DESC' ELSE 'ASC' END);
  IF max_rows IS NOT NULL THEN q := q || ' LIMIT $4'; END IF;
  RETURN QUERY EXECUTE q USING account, from_ts, to_ts, max_rows;
END
$fn$;

-- time_range: all events in [from_ts, to_ts), oldest first by default.
CREATE FUNCTION time_range(tbl anyelement, from_ts timestamptz DEFAULT NULL,
                           to_ts timestamptz DEFAULT NULL,
                           descending boolean DEFAULT false, max_rows bigint DEFAULT NULL)
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  rel regclass := pg_catalog.pg_typeof(tbl)::text::regclass;
  d record;
  ttyp text;
  q text;
BEGIN
  SELECT * INTO d FROM ledger_am._require_declaration(rel);
  q := pg_catalog.format('SELECT * FROM %s WHERE true', rel);
  ttyp := ledger_am._time_bound_type(rel, d.time_column, from_ts, to_ts);
  IF from_ts IS NOT NULL THEN q := q || pg_catalog.format(' AND %I >= $1::%s', d.time_column, ttyp); END IF;
  IF to_ts IS NOT NULL THEN q := q || pg_catalog.format(' AND %I < $2::%s', d.time_column, ttyp); END IF;
  q := q || pg_catalog.format(' ORDER BY %I %s', d.time_column, CASE WHEN descending THEN 'DESC' ELSE 'ASC' END);
  IF max_rows IS NOT NULL THEN q := q || ' LIMIT $3'; END IF;
  RETURN QUERY EXECUTE q USING from_ts, to_ts, max_rows;
END
$fn$;
