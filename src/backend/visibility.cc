/*
 * visibility.cc: MVCC for rows that carry xmin and cmin but never xmax.
 *
 * The xmin half of heapam_visibility.c, decided with Postgres' own machinery
 * (the current transaction's state, snapshots, pg_xact). Rows are immutable,
 * so a row, once visible to a snapshot, stays visible to it.
 */
#include "backend/backend.h"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "storage/procarray.h"
#include "utils/snapmgr.h"
}

/* RowXid returns the 32-bit xid of a row's FullTransactionId xmin. */
TransactionId
RowXid(const ledger_am::RowHeader &hdr)
{
	return XidFromFullTransactionId(FullTransactionIdFromU64(hdr.xmin));
}

/* visible_mvcc is HeapTupleSatisfiesMVCC for an undeletable tuple. */
static bool
visible_mvcc(TransactionId xmin, uint32 cmin, Snapshot snapshot)
{
	if (TransactionIdIsCurrentTransactionId(xmin))
		return cmin < snapshot->curcid;
	if (XidInMVCCSnapshot(xmin, snapshot))
		return false;
	return TransactionIdDidCommit(xmin);
}

/* visible_dirty is HeapTupleSatisfiesDirty: in-progress inserts count, and
 * the inserter's xid is reported so a unique check can wait for it. */
static bool
visible_dirty(TransactionId xmin, Snapshot snapshot)
{
	snapshot->xmin = snapshot->xmax = InvalidTransactionId;
	snapshot->speculativeToken = 0;
	if (TransactionIdIsCurrentTransactionId(xmin))
		return true;
	if (TransactionIdIsInProgress(xmin))
	{
		snapshot->xmin = xmin;
		return true;
	}
	return TransactionIdDidCommit(xmin);
}

bool
RowIsVisible(const ledger_am::RowHeader &hdr, Snapshot snapshot)
{
	TransactionId xmin = RowXid(hdr);

	if (!TransactionIdIsNormal(xmin))
		return xmin == FrozenTransactionId || xmin == BootstrapTransactionId;

	switch (snapshot->snapshot_type)
	{
		case SNAPSHOT_MVCC:
			return visible_mvcc(xmin, hdr.cmin, snapshot);
		case SNAPSHOT_SELF:
			if (TransactionIdIsCurrentTransactionId(xmin))
				return true;
			if (TransactionIdIsInProgress(xmin))
				return false;
			return TransactionIdDidCommit(xmin);
		case SNAPSHOT_ANY:
			return true;
		case SNAPSHOT_DIRTY:
			return visible_dirty(xmin, snapshot);
		case SNAPSHOT_NON_VACUUMABLE:
			/* Everything not known aborted may still be needed by someone. */
			if (TransactionIdIsCurrentTransactionId(xmin) || TransactionIdIsInProgress(xmin))
				return true;
			return TransactionIdDidCommit(xmin);
		case SNAPSHOT_TOAST:
			return true;
		case SNAPSHOT_HISTORIC_MVCC:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ledger_am tables do not support logical decoding")));
	}
	return false;
}

bool
RowIsVisibleAt(uint64 row_id, uint64 frozen_below, const ledger_am::RowHeader &hdr,
			   Snapshot snapshot)
{
	/*
	 * Below the frozen watermark every row is committed and older than every
	 * snapshot (VACUUM checked it): no pg_xact lookup, like heap's
	 * all-visible pages. SnapshotDirty still takes the full path, which also
	 * resets the xids it reports.
	 */
	if (row_id < frozen_below && snapshot->snapshot_type != SNAPSHOT_DIRTY &&
		snapshot->snapshot_type != SNAPSHOT_HISTORIC_MVCC)
		return true;
	return RowIsVisible(hdr, snapshot);
}

bool
RowIsLiveForIndexBuild(const ledger_am::RowHeader &hdr)
{
	TransactionId xmin = RowXid(hdr);

	if (!TransactionIdIsNormal(xmin))
		return true;
	if (TransactionIdIsCurrentTransactionId(xmin))
		return true;
	if (TransactionIdIsInProgress(xmin))
		return true;			/* cannot happen under the build's lock; keep it */
	return TransactionIdDidCommit(xmin);
}

bool
RowXminAborted(const ledger_am::RowHeader &hdr)
{
	TransactionId xmin = RowXid(hdr);

	if (!TransactionIdIsNormal(xmin))
		return false;
	if (TransactionIdIsCurrentTransactionId(xmin) || TransactionIdIsInProgress(xmin))
		return false;
	return !TransactionIdDidCommit(xmin);
}
