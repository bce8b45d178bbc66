/*
 * digest.cc: ledger_am.digest(), a SHA-256 of a ledger's settled events, so
 * that their owner can record it and later prove the events were not
 * altered.
 *
 * Which rows: those below the table's frozen watermark, in row id order.
 * VACUUM moves the watermark only past rows whose transactions ended long
 * enough ago for every snapshot (aborted rows below it are already removed)
 * and never past a row id still reserved to a running transaction, so the
 * rows below it are final: no row id below it can still be written, and
 * rows never change. The first N of them stay the first N forever; a digest
 * of them recorded today must be reproduced, bit for bit, by any later call
 * with the same N, unless a stored event was altered, removed or inserted.
 *
 * What is hashed: each row's text form (as `t::text` prints a row variable
 * t: record_out), followed by a newline, in the server encoding, under
 * fixed output settings (DateStyle ISO, TimeZone UTC, IntervalStyle
 * postgres, extra_float_digits 1, bytea_output hex), so that the digest
 * depends on the events alone. The same value can be computed in plain SQL
 * (README), e.g. over a copy of the events on another server.
 */
#include "backend/backend.h"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(ledger_am_digest);
}

/* canonical_output fixes the settings row text depends on, for the rest of
 * the returned GUC nest level. */
static int
canonical_output(void)
{
	static const char *const settings[][2] = {
		{"DateStyle", "ISO, YMD"},
		{"TimeZone", "UTC"},
		{"IntervalStyle", "postgres"},
		{"extra_float_digits", "1"},
		{"bytea_output", "hex"},
	};
	int			level = NewGUCNestLevel();

	for (const auto &s : settings)
		(void) set_config_option(s[0], s[1], PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
								 false);
	return level;
}

/* update hashes len bytes, or fails with the library's reason. */
static void
update(pg_cryptohash_ctx *ctx, const char *data, size_t len)
{
	if (pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a SHA-256 digest: %s", pg_cryptohash_error(ctx))));
}

/*
 * ledger_am.digest(tbl regclass, row_count bigint DEFAULT NULL,
 *                  OUT rows bigint, OUT frozen_below bigint, OUT sha256 text)
 * hashes the first row_count settled rows (all of them when NULL).
 */
extern "C" Datum
ledger_am_digest(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		all = PG_ARGISNULL(1);
	int64		want = all ? -1 : PG_GETARG_INT64(1);
	Relation	rel;
	uint64		frozen_below;
	TableScanDesc scan;
	TupleTableSlot *slot;
	pg_cryptohash_ctx *ctx;
	uint8		sum[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	int64		rows = 0;
	int			guc_level;
	FmgrInfo	record_out_fn;
	MemoryContext row_cxt;
	Snapshot	snapshot;
	TupleDesc	result_desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	if (!all && want < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("row_count must not be negative")));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ledger_am.digest must be called where a record is accepted")));

	rel = LedgerOpenTable(relid, ACL_SELECT);
	/* A digest of rows its caller may not see would leak their count and
	 * prove nothing to them: every row must be readable. */
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("ledger_am.digest reads every row of \"%s\", and row-level security applies to you there",
						RelationGetRelationName(rel)),
				 errhint("Compute the digest as the table's owner or as a role with BYPASSRLS.")));

	frozen_below = LedgerFrozenBelow(rel);
	guc_level = canonical_output();
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not start a SHA-256 digest")));

	/* Every row below the watermark committed before any running
	 * transaction's snapshot was taken (VACUUM's horizon): a snapshot taken
	 * now sees them all. Rows above it are not part of the digest. */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	fmgr_info(F_RECORD_OUT, &record_out_fn);	/* caches column output functions */
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "ledger_am digest row", ALLOCSET_DEFAULT_SIZES);
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while ((all || rows < want) && table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		uint64		row_id;
		bool		should_free;
		MemoryContext old;
		char	   *text;

		CHECK_FOR_INTERRUPTS();
		if (!ItemPointerToRowId(&slot->tts_tid, &row_id) || row_id >= frozen_below)
			break;
		old = MemoryContextSwitchTo(row_cxt);
		text = OutputFunctionCall(&record_out_fn,
								  heap_copy_tuple_as_datum(ExecFetchSlotHeapTuple(slot, false, &should_free),
														   RelationGetDescr(rel)));
		update(ctx, text, strlen(text));
		update(ctx, "\n", 1);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
		rows++;
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(row_cxt);
	AtEOXact_GUC(true, guc_level);

	if (!all && rows < want)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("only " INT64_FORMAT " rows of \"%s\" are settled, not " INT64_FORMAT,
						rows, RelationGetRelationName(rel), want),
				 errhint("VACUUM settles the rows of transactions that ended before every running one began.")));
	if (pg_cryptohash_final(ctx, sum, sizeof(sum)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a SHA-256 digest: %s", pg_cryptohash_error(ctx))));
	pg_cryptohash_free(ctx);
	table_close(rel, AccessShareLock);

	hex_encode((const char *) sum, sizeof(sum), hex);
	hex[sizeof(hex) - 1] = '\0';
	values[0] = Int64GetDatum(rows);
	values[1] = Int64GetDatum((int64) frozen_below);
	values[2] = CStringGetTextDatum(hex);
	result_desc = BlessTupleDesc(result_desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, values, nulls)));
}
