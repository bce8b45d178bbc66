/*
 * row_form.cc: between executor slots and stored row values.
 *
 * The payload of a stored row is a PostgreSQL MinimalTuple with every
 * out-of-line (TOAST) value pulled inline: a ledger_am table owns all of its
 * bytes and has no TOAST table. Inline-compressed values stay compressed.
 */
#include "backend/backend.h"

extern "C" {
#include "access/detoast.h"
#include "access/htup_details.h"
#include "storage/itemptr.h"
}

#include "codec/tid_map.h"

Size
RowFormValue(Relation rel, TupleTableSlot *slot, MinimalTuple *mtup)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			natts = desc->natts;
	Datum	   *values;
	bool		detoasted = false;

	slot_getallattrs(slot);
	values = slot->tts_values;
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->attlen != -1 || slot->tts_isnull[i])
			continue;
		if (VARATT_IS_EXTERNAL(DatumGetPointer(values[i])))
		{
			if (!detoasted)
			{
				Datum	   *copy = (Datum *) palloc(sizeof(Datum) * natts);

				memcpy(copy, values, sizeof(Datum) * natts);
				values = copy;
				detoasted = true;
			}
			values[i] = PointerGetDatum(detoast_external_attr(
				(struct varlena *) DatumGetPointer(values[i])));
		}
	}
	*mtup = heap_form_minimal_tuple(desc, values, slot->tts_isnull);
	return ledger_am::kRowHeaderSize + (*mtup)->t_len;
}

/*
 * The slot type of ledger_am tables: TTSOpsMinimalTuple (rows are stored as
 * MinimalTuples and deformed in place) with one change. A heap tuple copied
 * out of the slot carries the row's tid and table oid, as a heap table's
 * would. AFTER ROW triggers re-read the row by its ctid and hand the trigger
 * such a copy: with plain minimal slots NEW.ctid and NEW.tableoid were
 * invalid. Postgres refuses ExecStoreMinimalTuple into a slot whose ops are
 * not TTSOpsMinimalTuple itself, so LedgerStoreMinimalTuple stores instead,
 * also for copyslot (ExecCopySlot into a ledger_am slot).
 */
static TupleTableSlotOps ledger_slot_ops;
static bool ledger_slot_ops_ready = false;

static HeapTuple
ledger_copy_heap_tuple(TupleTableSlot *slot)
{
	HeapTuple	tuple = TTSOpsMinimalTuple.copy_heap_tuple(slot);

	tuple->t_self = slot->tts_tid;
	tuple->t_tableOid = slot->tts_tableOid;
	return tuple;
}

/* tts_minimal_copyslot, storing through LedgerStoreMinimalTuple. */
static void
ledger_copyslot(TupleTableSlot *dstslot, TupleTableSlot *srcslot)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(dstslot->tts_mcxt);
	MinimalTuple mintuple = ExecCopySlotMinimalTuple(srcslot);

	MemoryContextSwitchTo(oldcontext);
	LedgerStoreMinimalTuple(mintuple, dstslot, true);
}

const TupleTableSlotOps *
LedgerSlotOps(void)
{
	if (!ledger_slot_ops_ready)
	{
		ledger_slot_ops = TTSOpsMinimalTuple;
		ledger_slot_ops.copy_heap_tuple = ledger_copy_heap_tuple;
		ledger_slot_ops.copyslot = ledger_copyslot;
		ledger_slot_ops_ready = true;
	}
	return &ledger_slot_ops;
}

void
LedgerStoreMinimalTuple(MinimalTuple mtup, TupleTableSlot *slot, bool shouldFree)
{
	MinimalTupleTableSlot *mslot = (MinimalTupleTableSlot *) slot;

	if (slot->tts_ops == &TTSOpsMinimalTuple)
	{
		ExecStoreMinimalTuple(mtup, slot, shouldFree);
		return;
	}
	if (slot->tts_ops != &ledger_slot_ops)
	{
		/* Any other slot type (a caller's own): deformed into it. */
		ExecForceStoreMinimalTuple(mtup, slot, shouldFree);
		return;
	}
	/* What ExecStoreMinimalTuple does for a minimal slot. */
	ExecClearTuple(slot);
	slot->tts_flags &= ~TTS_FLAG_EMPTY;
	slot->tts_nvalid = 0;
	mslot->off = 0;
	mslot->mintuple = mtup;
	mslot->minhdr.t_len = mtup->t_len + MINIMAL_TUPLE_OFFSET;
	mslot->minhdr.t_data = (HeapTupleHeader) ((char *) mtup - MINIMAL_TUPLE_OFFSET);
	if (shouldFree)
		slot->tts_flags |= TTS_FLAG_SHOULDFREE;
}

void
RowStoreInSlot(TupleTableSlot *slot, Relation rel, uint64 row_id, const char *value,
			   uint32 value_len)
{
	MinimalTuple mtup = (MinimalTuple) (value + ledger_am::kRowHeaderSize);

	if (value_len < ledger_am::kRowHeaderSize + SizeofMinimalTupleHeader ||
		mtup->t_len != value_len - ledger_am::kRowHeaderSize)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ledger_am row " UINT64_FORMAT " of table \"%s\" is malformed",
						row_id, RelationGetRelationName(rel))));
	LedgerStoreMinimalTuple(mtup, slot, false);
	slot->tts_tableOid = RelationGetRelid(rel);
	RowIdToItemPointer(row_id, &slot->tts_tid);
}

void
RowIdToItemPointer(uint64 row_id, ItemPointer tid)
{
	ledger_am::VirtualTid vt;

	if (!ledger_am::RowIdIsMappable(row_id))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("ledger_am row id " UINT64_FORMAT " exceeds the maximum of " UINT64_FORMAT,
						row_id, ledger_am::kMaxRowId)));
	vt = ledger_am::RowIdToTid(row_id);
	ItemPointerSet(tid, vt.block, vt.offset);
}

bool
ItemPointerToRowId(ItemPointer tid, uint64 *row_id)
{
	if (!ItemPointerIsValid(tid))
		return false;
	return ledger_am::TidToRowId(ItemPointerGetBlockNumberNoCheck(tid),
								 ItemPointerGetOffsetNumberNoCheck(tid), row_id);
}
