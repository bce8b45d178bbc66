/*
 * xact_hooks.cc: transaction boundaries of ledger_am.
 *
 * Rows reach the storage worker as statements run, carrying the inserting
 * (sub)transaction's xid, so nobody else can see them until that xid
 * commits. At PRE_COMMIT this backend asks the worker to make them durable
 * (group-committed WAL sync) before Postgres writes its commit record: a
 * commit record never exists without its rows. A transaction whose only
 * writes went to RocksDB wrote no WAL of its own and would be committed
 * asynchronously, so ForceSyncCommit() is called when synchronous_commit
 * asks for a flush.
 *
 * DROP TABLE removes the table's rows only when the dropping transaction
 * commits; storage created by a transaction that aborts is removed then.
 * Nothing that can fail runs at COMMIT or ABORT (an ERROR there is a PANIC).
 */
#include "backend/backend.h"
#include "backend/range.h"

extern "C" {
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "utils/lsyscache.h"
#include "utils/relfilenodemap.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

/* A relfilenode whose storage is removed at commit (dropped) or at abort
 * (created), remembered with the subtransaction that did it. */
enum PendingAction
{
	PENDING_DROP_TABLE,			/* at commit: every key of the table */
	PENDING_CREATED_TABLE,		/* at abort: every key of the new relfilenode */
	PENDING_DROP_DECLARATION,	/* at commit: one declaration's range keys */
	PENDING_BUILT_DECLARATION,	/* at abort: its keys; at commit: every other's */
};

struct PendingStorage
{
	ledger_am::TableId table;
	SubTransactionId subid;
	PendingAction action;
	uint32		declaration;	/* ledger_range index relfilenode */
	Oid			index_spc;		/* its tablespace (0: the database's) */
};

static PendingStorage *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;
static bool xact_wrote = false;
static object_access_hook_type prev_object_access_hook = NULL;

void
LedgerNoteWrite(void)
{
	xact_wrote = true;
}

/*
 * Row ids reserved to this transaction, per table: tuple_insert takes ids
 * from here without asking the worker. Requests grow (1, 4, 16 ... 1024 ids;
 * multi_insert's up to kMaxBulkReservation) so a lone writer leaves no gaps;
 * the worker gives unused ids back at abort, and at commit when nobody
 * reserved after them, except for the range of the table this backend
 * reserved from last: that one is carried into the next transactions
 * (carried, see ChannelSlot.carry), which claim it before using it. A
 * stream of single-row transactions thus asks the worker for ids once per
 * block (growing to kMaxCarryBlock), not once per transaction.
 */
struct LocalRange
{
	ledger_am::TableId table;
	uint64		next;
	uint64		end;
	uint64		last_size;
	bool		carried;		/* from an earlier transaction, not claimed yet */
};

static const int kMaxLocalRanges = 16;
static const uint64 kMaxReservation = 1024;
static const uint64 kMaxBulkReservation = 16384;
static const uint64 kMaxCarryBlock = 64;
static LocalRange local_ranges[kMaxLocalRanges];
static int	nlocal_ranges = 0;
static int	next_evict = 0;
static int	last_range = -1;		/* the range reserved from last */
static bool xact_reserved = false;	/* this transaction took row ids */
static bool carry_asked = false;	/* its commit asked to keep a range */
static uint64 reserve_generation = 0;

/* check_generation fails the transaction if the worker restarted since it
 * first took row ids: rows queued to the old worker may be lost. */
static void
check_generation(void)
{
	if (xact_reserved && ChannelGeneration() != reserve_generation)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("the ledger_am storage worker restarted during this transaction"),
				 errdetail("Rows this transaction inserted may not have been stored."),
				 errhint("Retry the transaction.")));
}

/* note_reserved records that this transaction took row ids, and the worker
 * generation they came from if they are its first. */
static void
note_reserved(uint64 generation)
{
	if (!xact_reserved)
		reserve_generation = generation;
	xact_reserved = true;
}

/*
 * reserve_ids returns the first of n consecutive row ids of table t reserved
 * to this transaction: from the local block when it has n left, else from a
 * new block asked of the worker. A new block is at least n ids and grows 4x
 * per request up to cap, so a single-row transaction leaves no gap while a
 * long load asks rarely. The worker's new range replaces the old one: the
 * old block's unused ids lapse.
 */
static uint64
reserve_ids(const ledger_am::TableId &t, uint64 n, uint64 cap)
{
	LocalRange *r = NULL;
	uint64		want = n;
	uint64		first;

	check_generation();
	for (int i = 0; i < nlocal_ranges; i++)
		if (local_ranges[i].table == t)
			r = &local_ranges[i];
	if (r != NULL && r->carried && r->end - r->next >= n)
	{
		/* Generation first: a restart after this read fails the commit. */
		uint64		generation = ChannelGeneration();

		r->carried = false;
		if (ChannelClaimCarry(t))
			note_reserved(generation);
		else
			r->next = r->end;	/* taken back by the worker */
	}
	if (r != NULL && r->end - r->next >= n)
	{
		first = r->next;
		r->next += n;
		last_range = (int) (r - local_ranges);
		return first;
	}
	if (r != NULL)
		want = Max(n, Min(r->last_size * 4, cap));
	ChannelSimpleCall(ledger_am::kOpReserve, t, want, 0, &first, NULL, "reserving row ids");
	note_reserved(ChannelGeneration());
	if (r == NULL)
	{
		if (nlocal_ranges < kMaxLocalRanges)
			r = &local_ranges[nlocal_ranges++];
		else
		{
			/* The worker's range for the evicted table just lapses. */
			r = &local_ranges[next_evict];
			next_evict = (next_evict + 1) % kMaxLocalRanges;
		}
		r->table = t;
	}
	r->next = first + n;
	r->end = first + want;
	r->last_size = want;
	r->carried = false;
	last_range = (int) (r - local_ranges);
	return first;
}

uint64
LedgerReserveRowIds(const ledger_am::TableId &t, uint64 n)
{
	/* COPY asks once per buffer flush (often under 100 rows): its blocks
	 * grow further than tuple_insert's, so a bulk load asks the worker once
	 * per kMaxBulkReservation rows instead of once per flush. */
	return reserve_ids(t, n, kMaxBulkReservation);
}

void
LedgerForgetReservation(const ledger_am::TableId &t)
{
	for (int i = 0; i < nlocal_ranges; i++)
		if (local_ranges[i].table == t)
		{
			local_ranges[i].next = local_ranges[i].end;
			local_ranges[i].last_size = 0;	/* start small again */
			local_ranges[i].carried = false;
		}
}

uint64
LedgerReserveRowId(const ledger_am::TableId &t)
{
	return reserve_ids(t, 1, kMaxReservation);
}

/* forget_ranges drops every local range (the worker ended them). */
static void
forget_ranges(void)
{
	nlocal_ranges = 0;
	last_range = -1;
	xact_reserved = false;
}

/* carry_table names the table whose range a committing transaction asks
 * the worker to keep: the one it reserved from last, if ids are left, at
 * most kMaxCarryBlock (none: {0, 0, 0}); carry_asked tells. Larger
 * remainders (a bulk load's) are given back as before, so ids stay dense. */
static ledger_am::TableId
carry_table(void)
{
	ledger_am::TableId none = {0, 0, 0};
	uint64		left = last_range < 0 ? 0 :
		local_ranges[last_range].end - local_ranges[last_range].next;

	carry_asked = left > 0 && left <= kMaxCarryBlock;
	return carry_asked ? local_ranges[last_range].table : none;
}

/*
 * keep_carried_range runs after a commit: the worker kept the range
 * carry_table() named (the sync saw its ids unused). Every other range
 * ended; the last one stays, unclaimable if it was not carried, to remember
 * how large the next block should be. A commit that sent no sync (nothing
 * written) ended nothing: its ranges stay as they are.
 */
static void
keep_carried_range(bool synced)
{
	xact_reserved = false;
	if (!synced)
		return;
	if (last_range < 0)
	{
		forget_ranges();
		return;
	}
	local_ranges[0] = local_ranges[last_range];
	local_ranges[0].carried = carry_asked;
	if (!carry_asked)
		local_ranges[0].next = local_ranges[0].end;
	local_ranges[0].last_size = Min(local_ranges[0].last_size, kMaxCarryBlock / 4);
	nlocal_ranges = 1;
	last_range = 0;
}

/* remember adds a pending storage action. */
static void
remember(const ledger_am::TableId &t, PendingAction action, uint32 declaration = 0,
		 Oid index_spc = InvalidOid)
{
	if (npending == maxpending)
	{
		int			newmax = maxpending ? maxpending * 2 : 16;

		if (pending == NULL)
			pending = (PendingStorage *) MemoryContextAlloc(TopMemoryContext,
															newmax * sizeof(PendingStorage));
		else
			pending = (PendingStorage *) repalloc(pending, newmax * sizeof(PendingStorage));
		maxpending = newmax;
	}
	pending[npending].table = t;
	pending[npending].subid = GetCurrentSubTransactionId();
	pending[npending].action = action;
	pending[npending].declaration = declaration;
	pending[npending].index_spc = index_spc;
	npending++;
}

void
LedgerNoteCreatedStorage(const ledger_am::TableId &t)
{
	remember(t, PENDING_CREATED_TABLE);
}

void
LedgerNoteRangeBuild(const ledger_am::TableId &t, uint32 declaration)
{
	remember(t, PENDING_BUILT_DECLARATION, declaration);
}

/* remove_keys asks the worker to delete keys, without failing: a miss
 * leaves unreachable bytes (a new table or declaration with the same
 * relfilenode clears them at creation), never wrong rows. */
static void
remove_keys(const PendingStorage &p, bool committed)
{
	bool		ok = true;

	switch (p.action)
	{
		case PENDING_DROP_TABLE:
		case PENDING_CREATED_TABLE:
			ok = ChannelCallNoError(ledger_am::kOpDropTable, &p.table, 0, 0, 5000);
			break;
		case PENDING_DROP_DECLARATION:
			ok = ChannelCallNoError(ledger_am::kOpDropRangeKeys, &p.table, p.declaration,
									(uint64) ledger_am::RangeDrop::kOne, 5000);
			break;
		case PENDING_BUILT_DECLARATION:
			/* Abort: the new keys go. Commit: the replaced declaration's go. */
			ok = ChannelCallNoError(ledger_am::kOpDropRangeKeys, &p.table, p.declaration,
									(uint64) (committed ? ledger_am::RangeDrop::kAllBut
											  : ledger_am::RangeDrop::kOne), 5000);
			break;
	}
	if (!ok)
		elog(LOG, "ledger_am: could not remove keys of relfilenode %u in database %u now",
			 p.table.rel, p.table.db);
}

/* due tells whether a pending action runs at the end of a (sub)transaction
 * that committed or aborted. */
static bool
due(const PendingStorage &p, bool committed)
{
	switch (p.action)
	{
		case PENDING_DROP_TABLE:
		case PENDING_DROP_DECLARATION:
			return committed;
		case PENDING_CREATED_TABLE:
			return !committed;
		case PENDING_BUILT_DECLARATION:
			return true;
	}
	return false;
}

/* settle_pending runs the actions due at the end of the top transaction. */
static void
settle_pending(bool committed)
{
	for (int i = 0; i < npending; i++)
		if (due(pending[i], committed))
			remove_keys(pending[i], committed);
	npending = 0;
}

/*
 * keep_reused_declarations cancels the removal of a dropped declaration's
 * keys when its relfilenode lives on: ALTER COLUMN ... TYPE without a rewrite
 * drops the index and creates it again on the same storage, with no build.
 * Runs at PRE_COMMIT, where catalog lookups are still allowed.
 */
static void
keep_reused_declarations(void)
{
	int			keep = 0;

	for (int i = 0; i < npending; i++)
	{
		if (pending[i].action == PENDING_DROP_DECLARATION &&
			OidIsValid(RelidByRelfilenode(pending[i].index_spc, pending[i].declaration)))
			continue;
		pending[keep++] = pending[i];
	}
	npending = keep;
}

/* ledger_xact_callback: durability at PRE_COMMIT, storage cleanup after. */
static void
ledger_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			keep_reused_declarations();
			if (xact_wrote)
			{
				check_generation();
				ChannelSimpleCall(ledger_am::kOpSync, carry_table(),
								  synchronous_commit > SYNCHRONOUS_COMMIT_OFF ? 0 : ledger_am::kSyncLazy,
								  0, NULL, NULL, "making committed rows durable");
				if (synchronous_commit > SYNCHRONOUS_COMMIT_OFF)
					ForceSyncCommit();
				if (ledger_debug_crash_before_commit_record)
					elog(PANIC, "ledger_am: injected crash between the RocksDB sync and the commit record");
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (xact_wrote || npending > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has written to a ledger_am table"),
						 errdetail("ledger_am does not support two-phase commit yet.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			/* The commit's sync request ended the reservations but one. */
			settle_pending(true);
			keep_carried_range(xact_wrote);
			xact_wrote = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			ChannelForgetAsync();
			settle_pending(false);
			/* A transaction that wrote nothing leaves a carried range be. */
			if (xact_wrote)
			{
				if (!ChannelCallNoError(ledger_am::kOpRelease, NULL, 0, 0, 5000))
				{
					elog(LOG, "ledger_am: could not release row id reservations now; retrying at the next request");
					ChannelOweRelease();
				}
				forget_ranges();
			}
			xact_wrote = false;
			xact_reserved = false;
			break;
		case XACT_EVENT_PREPARE:
			npending = 0;
			xact_wrote = false;
			forget_ranges();
			break;
		default:
			break;
	}
}

/* ledger_subxact_callback settles a rolled-back savepoint's storage at once
 * and hands a released savepoint's actions to its parent. */
static void
ledger_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			keep = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		ChannelForgetAsync();	/* its scans may be gone with it */
	for (int i = 0; i < npending; i++)
	{
		if (pending[i].subid == mySubid)
		{
			if (event == SUBXACT_EVENT_COMMIT_SUB)
				pending[i].subid = parentSubid;
			else
			{
				/* What the savepoint created goes; what it dropped stays. */
				if (due(pending[i], false))
					remove_keys(pending[i], false);
				continue;
			}
		}
		pending[keep++] = pending[i];
	}
	npending = keep;
}

/* ledger_object_access notes DROP TABLE of ledger_am tables. */
static void
ledger_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access != OAT_DROP || classId != RelationRelationId || subId != 0)
		return;
	if (get_rel_relkind(objectId) == RELKIND_INDEX)
	{
		/* DROP of a ledger_range index: the table's range keys go at commit. */
		Oid			range_am = LedgerRangeAmOid();
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(objectId));
		bool		is_range = false;

		if (HeapTupleIsValid(tup))
		{
			is_range = OidIsValid(range_am) && ((Form_pg_class) GETSTRUCT(tup))->relam == range_am;
			ReleaseSysCache(tup);
		}
		if (is_range)
		{
			Oid			heapoid = IndexGetRelation(objectId, true);

			HeapTuple	itup = SearchSysCache1(RELOID, ObjectIdGetDatum(objectId));
			uint32		declaration = 0;
			Oid			index_spc = InvalidOid;

			if (HeapTupleIsValid(itup))
			{
				declaration = ((Form_pg_class) GETSTRUCT(itup))->relfilenode;
				index_spc = ((Form_pg_class) GETSTRUCT(itup))->reltablespace;
				ReleaseSysCache(itup);
			}
			tup = OidIsValid(heapoid) ? SearchSysCache1(RELOID, ObjectIdGetDatum(heapoid)) : NULL;
			if (HeapTupleIsValid(tup))
			{
				Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);
				ledger_am::TableId t;

				t.spc = OidIsValid(form->reltablespace) ? form->reltablespace : MyDatabaseTableSpace;
				t.db = MyDatabaseId;
				t.rel = form->relfilenode;
				ReleaseSysCache(tup);
				remember(t, PENDING_DROP_DECLARATION, declaration, index_spc);
			}
		}
		return;
	}
	if (RelidIsLedger(objectId))
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(objectId));

		if (HeapTupleIsValid(tup))
		{
			Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);
			ledger_am::TableId t;

			t.spc = OidIsValid(form->reltablespace) ? form->reltablespace : MyDatabaseTableSpace;
			t.db = MyDatabaseId;
			t.rel = form->relfilenode;
			ReleaseSysCache(tup);
			remember(t, PENDING_DROP_TABLE);
		}
	}
}

void
ledger_install_xact_hooks(void)
{
	RegisterXactCallback(ledger_xact_callback, NULL);
	RegisterSubXactCallback(ledger_subxact_callback, NULL);
	prev_object_access_hook = object_access_hook;
	object_access_hook = ledger_object_access;
}
