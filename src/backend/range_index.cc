/*
 * range_index.cc: the ledger_range index access method.
 *
 * A ledger_range index is the DDL form of a ledger_am table's range
 * declaration (see range_decl.cc): building it validates the columns and
 * backfills the range keys of the rows already stored, in the building
 * transaction, with progress in pg_stat_progress_create_index. It keeps no
 * pages of its own and is never scanned as an index (no amgettuple or
 * amgetbitmap, so the planner builds no index paths from it): the range scan
 * custom path (range_scan.cc) reads the keys. New rows get their keys from
 * the table AM, in the same RocksDB WriteBatch as the row.
 */
#include "backend/range.h"

extern "C" {
#include "access/amapi.h"
#include "access/reloptions.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(ledger_range_handler);
}

/* Backfill state: range key records buffered between flushes. */
struct BackfillState
{
	const RangeDecl *decl;
	ledger_am::TableId table;
	StringInfoData records;
	StringInfoData blob;
	double		rows;
};

/* flush_backfill ships buffered (row id, key blob) records to the worker. */
static void
flush_backfill(BackfillState *st)
{
	if (st->records.len == 0)
		return;
	ChannelDataCall(ledger_am::kOpPutRangeKeys, st->table, 0, 0, st->records.data, st->records.len,
					NULL, NULL, "writing range keys");
	resetStringInfo(&st->records);
}

/* backfill_callback receives each stored row's declared columns. */
static void
backfill_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive,
				  void *state)
{
	BackfillState *st = (BackfillState *) state;
	uint64		row_id;
	Size		rec;
	Size		limit = (Size) ledger_channel_buffer_kb * 1024 / 2;

	if (!ItemPointerToRowId(tid, &row_id))
		return;
	resetStringInfo(&st->blob);
	RangeKeysForValues(st->decl, values, isnull, &st->blob);
	rec = ledger_am::RecordSize(st->blob.len);
	if ((Size) st->records.len + rec > limit)
		flush_backfill(st);
	enlargeStringInfo(&st->records, (int) rec);
	{
		ledger_am::RecordWriter w(st->records.data + st->records.len, rec);

		memcpy(w.Append(row_id, (uint32) st->blob.len), st->blob.data, st->blob.len);
	}
	st->records.len += (int) rec;
	st->rows += 1;
}

static IndexBuildResult *
ledger_range_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	RangeDecl	decl;
	BackfillState st;
	List	   *indexes;
	ListCell   *lc;
	Oid			range_am = index->rd_rel->relam;

	if (!RelationIsLedger(heap))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("ledger_range indexes can only be created on ledger_am tables"),
				 errdetail("\"%s\" does not use the ledger_am access method.",
						   RelationGetRelationName(heap))));
	indexes = RelationGetIndexList(heap);
	foreach(lc, indexes)
	{
		Oid			other = lfirst_oid(lc);
		HeapTuple	tup;

		if (other == RelationGetRelid(index))
			continue;
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(other));
		if (HeapTupleIsValid(tup))
		{
			bool		same = ((Form_pg_class) GETSTRUCT(tup))->relam == range_am;

			ReleaseSysCache(tup);
			if (same)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("table \"%s\" already has a ledger_range index",
								RelationGetRelationName(heap)),
						 errhint("Drop it first; a table has one range declaration.")));
		}
	}
	(void) RangeDeclFromIndex(heap, index, &decl);

	/*
	 * The keys go to this index's own key space (its new relfilenode), so the
	 * build is transactional: the declaration it replaces (REINDEX, DROP and
	 * CREATE in one transaction) keeps its keys until this transaction
	 * commits, and an abort or cancel removes only the new ones. Clear the
	 * space first in case an old index once had the same relfilenode.
	 */
	ChannelSimpleCall(ledger_am::kOpDropRangeKeys, LedgerTableId(heap), decl.declaration,
					  (uint64) ledger_am::RangeDrop::kOne, NULL, NULL, "clearing range keys");
	LedgerNoteRangeBuild(LedgerTableId(heap), decl.declaration);

	st.decl = &decl;
	st.table = LedgerTableId(heap);
	st.rows = 0;
	initStringInfo(&st.records);
	initStringInfo(&st.blob);
	(void) table_index_build_scan(heap, index, indexInfo, true, true, backfill_callback, &st, NULL);
	flush_backfill(&st);

	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = st.rows;
	result->index_tuples = st.rows;
	return result;
}

static void
ledger_range_buildempty(Relation index)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ledger_range indexes cannot be unlogged")));
}

static bool
ledger_range_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
					IndexInfo *indexInfo)
{
	/* The table AM already wrote this row's keys with the row. */
	return false;
}

static IndexBulkDeleteResult *
ledger_range_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
						IndexBulkDeleteCallback callback, void *callback_state)
{
	/* Keys of removed rows linger and are skipped when read. */
	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	return stats;
}

static IndexBulkDeleteResult *
ledger_range_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return stats;
}

static void
ledger_range_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
						  Cost *indexStartupCost, Cost *indexTotalCost,
						  Selectivity *indexSelectivity, double *indexCorrelation,
						  double *indexPages)
{
	/* Never scanned as an index (see the file comment). */
	*indexStartupCost = disable_cost;
	*indexTotalCost = disable_cost;
	*indexSelectivity = 1.0;
	*indexCorrelation = 0.0;
	*indexPages = 0;
}

static bytea *
ledger_range_options(Datum reloptions, bool validate)
{
	return NULL;
}

static bool
ledger_range_validate(Oid opclassoid)
{
	return true;
}

static IndexScanDesc
ledger_range_beginscan(Relation index, int nkeys, int norderbys)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ledger_range indexes are read by ledger_am range scans, not by index scans")));
	return NULL;
}

static void
ledger_range_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
}

static void
ledger_range_endscan(IndexScanDesc scan)
{
}

extern "C" Datum
ledger_range_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 1;
	am->amsupport = 0;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = false;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = true;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_NO_PARALLEL;
	am->amkeytype = InvalidOid;
	am->ambuild = ledger_range_build;
	am->ambuildempty = ledger_range_buildempty;
	am->aminsert = ledger_range_insert;
	am->ambulkdelete = ledger_range_bulkdelete;
	am->amvacuumcleanup = ledger_range_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = ledger_range_costestimate;
	am->amoptions = ledger_range_options;
	am->amproperty = NULL;
	am->ambuildphasename = NULL;
	am->amvalidate = ledger_range_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = ledger_range_beginscan;
	am->amrescan = ledger_range_rescan;
	am->amgettuple = NULL;
	am->amgetbitmap = NULL;
	am->amendscan = ledger_range_endscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;
	PG_RETURN_POINTER(am);
}
