/*
 * sql_functions.cc: the SQL-callable functions of the ledger_am schema
 * (sizes, stored row counts, UUIDv7, the canonical events table, tools).
 * Every function that reveals something about a table's contents checks the
 * caller's SELECT privilege first.
 */
#include "backend/backend.h"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(ledger_am_table_size);
PG_FUNCTION_INFO_V1(ledger_am_stored_rows);
PG_FUNCTION_INFO_V1(ledger_am_stored_range_keys);
PG_FUNCTION_INFO_V1(ledger_am_row_dictionary_size);
PG_FUNCTION_INFO_V1(ledger_am_uuid_v7);
PG_FUNCTION_INFO_V1(ledger_am_compact);
PG_FUNCTION_INFO_V1(ledger_am_set_next_row_id);
PG_FUNCTION_INFO_V1(ledger_am_next_row_id);
PG_FUNCTION_INFO_V1(ledger_am_worker_stats);
}

Relation
LedgerOpenTable(Oid relid, AclMode mode)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!RelationIsLedger(rel))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a ledger_am table", RelationGetRelationName(rel))));
	if (pg_class_aclcheck(relid, GetUserId(), mode) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(rel));
	return rel;
}

/* table_counter answers one of the per-table counters below: the caller
 * needs SELECT on the table; the worker answers op with out1 (second =
 * false) or out2. */
static Datum
table_counter(FunctionCallInfo fcinfo, uint32 op, bool second, const char *context)
{
	Relation	rel = LedgerOpenTable(PG_GETARG_OID(0), ACL_SELECT);
	uint64		value;

	ChannelSimpleCall(op, LedgerTableId(rel), 0, 0, second ? NULL : &value, second ? &value : NULL,
					  context);
	table_close(rel, AccessShareLock);
	PG_RETURN_INT64((int64) value);
}

/* ledger_am.table_size(regclass): bytes the table's rows take in RocksDB
 * (compressed SST files plus memtables). */
extern "C" Datum
ledger_am_table_size(PG_FUNCTION_ARGS)
{
	return table_counter(fcinfo, ledger_am::kOpTableStats, false, "measuring a table");
}

/* ledger_am.row_dictionary_size(regclass): bytes of the dictionary the
 * table's rows are compressed with under row_compression = zstd_row (0
 * until one is trained; see worker/row_dictionary.h). */
extern "C" Datum
ledger_am_row_dictionary_size(PG_FUNCTION_ARGS)
{
	return table_counter(fcinfo, ledger_am::kOpRowDictionary, false, "reading a row dictionary's size");
}

/* ledger_am.stored_rows(regclass): rows physically stored, visible or not
 * (rows of aborted transactions stay until VACUUM reclaims them). */
extern "C" Datum
ledger_am_stored_rows(PG_FUNCTION_ARGS)
{
	return table_counter(fcinfo, ledger_am::kOpTableStats, true, "counting stored rows");
}

/* ledger_am.stored_range_keys(regclass): range keys physically stored for
 * the table's ledger_range declaration (one per account an event touches,
 * one for its time), counted in RocksDB. */
extern "C" Datum
ledger_am_stored_range_keys(PG_FUNCTION_ARGS)
{
	return table_counter(fcinfo, ledger_am::kOpRangeKeyCount, false, "counting range keys");
}

/* ledger_am.next_row_id(regclass): the row id the next insert will get. */
extern "C" Datum
ledger_am_next_row_id(PG_FUNCTION_ARGS)
{
	return table_counter(fcinfo, ledger_am::kOpNextRowId, false, "reading the next row id");
}

/* ledger_am.worker_stats(): counters of the storage worker's shared state,
 * one (name, value) row each; they say which of its policies are at work. */
extern "C" Datum
ledger_am_worker_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const struct
	{
		const char *name;
		int64		value;
	}			stats[] = {
		/* backends the worker served within the last few milliseconds */
		{"recent_clients", (int64) pg_atomic_read_u32(&ledger_channel->recent_clients)},
		/* requests posted and not yet answered */
		{"requests_in_flight", (int64) pg_atomic_read_u32(&ledger_channel->inflight)},
		/* range scan batches fetched by two threads since the server started */
		{"lent_batches", (int64) pg_atomic_read_u64(&ledger_channel->lent_batches)},
		/* the block cache's capacity and what it holds (bytes) */
		{"block_cache_bytes", (int64) pg_atomic_read_u64(&ledger_channel->block_cache_bytes)},
		{"block_cache_used", (int64) pg_atomic_read_u64(&ledger_channel->block_cache_used)},
		/* seq scan chunks of tables larger than the cache, read without caching */
		{"bulk_scan_chunks", (int64) pg_atomic_read_u64(&ledger_channel->bulk_chunks)},
		/* what serving a point read took lately (ns, moving average), and
		 * point reads answered while their backend yielded its vCPU */
		{"point_read_ns", (int64) pg_atomic_read_u32(&ledger_channel->get_ns)},
		{"yielded_point_reads", (int64) pg_atomic_read_u64(&ledger_channel->yielded_gets)},
		{"row_id_reservations", (int64) pg_atomic_read_u64(&ledger_channel->reservations)},
		/* inserted rows written after being logged in Postgres' WAL, and
		 * without (their commit syncs RocksDB's WAL) */
		{"wal_logged_rows", (int64) pg_atomic_read_u64(&ledger_channel->wal_logged_rows)},
		{"wal_unlogged_rows", (int64) pg_atomic_read_u64(&ledger_channel->wal_unlogged_rows)},
	};

	InitMaterializedSRF(fcinfo, 0);
	for (const auto &st : stats)
	{
		Datum		values[2] = {CStringGetTextDatum(st.name), Int64GetDatum(st.value)};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ledger_am.compact(regclass): compacts the table's RocksDB key range, so
 * table_size() reports settled, fully compressed bytes. Owner only. */
extern "C" Datum
ledger_am_compact(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = LedgerOpenTable(relid, ACL_SELECT);

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	ChannelSimpleCall(ledger_am::kOpCompactTable, LedgerTableId(rel), 0, 0, NULL, NULL,
					  "compacting a table");
	table_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}

/* ledger_am.set_next_row_id(regclass, bigint): moves the row id counter
 * forward (never back), e.g. to test tables past the 1 GB virtual segment
 * boundary. Superuser only. */
extern "C" Datum
ledger_am_set_next_row_id(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		next = PG_GETARG_INT64(1);
	Relation	rel;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to move a ledger_am row id counter")));
	if (next < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("row id must not be negative")));
	rel = LedgerOpenTable(relid, ACL_SELECT);
	ChannelSimpleCall(ledger_am::kOpSetNextRowId, LedgerTableId(rel), (uint64) next, 0, NULL,
					  NULL, "moving the row id counter");
	LedgerForgetReservation(LedgerTableId(rel));
	table_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}

/* ledger_am.uuid_v7(): a time-ordered UUID (RFC 9562 version 7): 48 bits of
 * Unix milliseconds, then 74 random bits. Within one backend, UUIDs of the
 * same millisecond are kept increasing (a 12-bit counter in rand_a), so
 * event ids sort in insertion order and btree inserts stay at the right edge. */
extern "C" Datum
ledger_am_uuid_v7(PG_FUNCTION_ARGS)
{
	static uint64 last_ms = 0;
	static uint16 counter = 0;
	pg_uuid_t  *uuid = (pg_uuid_t *) palloc(UUID_LEN);
	TimestampTz now = GetCurrentTimestamp();
	uint64		unix_ms = (uint64) (now / 1000) +
		(uint64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;

	if (!pg_strong_random(uuid->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	if (unix_ms <= last_ms)
	{
		unix_ms = last_ms;
		counter++;
		if (counter > 0x0FFF)
		{
			unix_ms = ++last_ms;
			counter = 0;
		}
	}
	else
		counter = (uint16) (((uint16) uuid->data[6] << 8 | uuid->data[7]) & 0x07FF);
	last_ms = unix_ms;
	for (int i = 0; i < 6; i++)
		uuid->data[i] = (unsigned char) (unix_ms >> (40 - 8 * i));
	uuid->data[6] = (unsigned char) (0x70 | ((counter >> 8) & 0x0F));
	uuid->data[7] = (unsigned char) (counter & 0xFF);
	uuid->data[8] = (unsigned char) ((uuid->data[8] & 0x3F) | 0x80);
	PG_RETURN_UUID_P(uuid);
}
