/*
 * rows_wal.cc: the storage worker's rows in Postgres' WAL (see the header).
 *
 * Error boundary: these functions run on the worker's main thread in
 * Postgres frames. They call the engine only through its noexcept entry
 * points and hold no C++ object across a call that can ereport. The one
 * ereport that must not escape, from logging a batch inside
 * EngineWriteReserved (C++ frames below it), is caught in log_batch itself.
 */
extern "C" {
#include "postgres.h"

#include "miscadmin.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "access/xlogreader.h"
#include "access/xlogutils.h"
#include "replication/message.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

#include "module.h"

#include "worker/rows_wal.h"

/* LSN_FORMAT_ARGS, whose type check does not compile as C++. */
#define LSN_ARGS(lsn) (uint32) ((lsn) >> 32), (uint32) (lsn)

namespace ledger_am {

namespace {

/* The logical message prefix of a logged row batch (with its NUL, as
 * LogLogicalMessage stores it). */
const char kPrefix[] = "ledger_am.rows";
const char kSlotName[] = "ledger_am";

bool		g_enabled = false;
XLogRecPtr	g_slot_lsn = InvalidXLogRecPtr;
/* When RowsWalAdvance last looked at the insert position. */
TimestampTz g_last_bump = 0;

/*
 * caught_error ends a PG_CATCH block that goes on: back to the caller's
 * memory context, the error copied out of the error state (the caller
 * frees it), and any LWLock the failed call held released.
 */
ErrorData *
caught_error(MemoryContext cxt)
{
	ErrorData  *e;

	MemoryContextSwitchTo(cxt);
	e = CopyErrorData();
	FlushErrorState();
	LWLockReleaseAll();
	return e;
}

/*
 * log_batch logs one batch (BatchLog.log). Called inside
 * EngineWriteReserved, so an ereport must not leave this frame: it becomes
 * the batch's failure, and the rows are not written (their transactions
 * fail at commit). Postgres PANICs on WAL write failures itself; what can
 * be caught here happens before the record is inserted.
 */
bool
log_batch(void *arg, const char *data, size_t len, uint64_t *lsn, EngineStatus *failure)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		*lsn = LogLogicalMessage(kPrefix, data, len, false);
	}
	PG_CATCH();
	{
		ErrorData  *e = caught_error(cxt);

		XLogResetInsertion();
		failure->code = EngineCode::kIOError;
		snprintf(failure->message, sizeof(failure->message), "could not log rows in the WAL: %s",
				 e->message);
		FreeErrorData(e);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

const BatchLog kLogger = {log_batch, nullptr};

/*
 * replay writes again the batches logged after mark, up to the end of the
 * flushed WAL. FATAL if that WAL cannot be read: serving without those
 * rows would lose committed events.
 */
void
replay(XLogRecPtr mark)
{
	XLogReaderRoutine routine;
	ReadLocalXLogPageNoWaitPrivate *priv;
	XLogReaderState *reader;
	XLogRecPtr	first;
	uint64		batches = 0;
	uint64		bytes = 0;

	if (mark >= GetFlushRecPtr(NULL))
		return;					/* nothing logged after it survived */
	memset(&routine, 0, sizeof(routine));
	routine.page_read = read_local_xlog_page_no_wait;
	routine.segment_open = wal_segment_open;
	routine.segment_close = wal_segment_close;
	priv = (ReadLocalXLogPageNoWaitPrivate *) palloc0(sizeof(*priv));
	reader = XLogReaderAllocate(wal_segment_size, NULL, &routine, priv);
	if (reader == NULL)
		ereport(FATAL, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	first = XLogFindNextRecord(reader, mark);
	if (XLogRecPtrIsInvalid(first))
	{
		if (!priv->end_of_wal)
			ereport(FATAL,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ledger_am storage worker could not find the WAL after %X/%X to replay rows",
							LSN_ARGS(mark)),
					 errdetail("Rows logged after it and not yet synced to RocksDB may be missing.")));
		XLogReaderFree(reader);
		return;
	}
	for (;;)
	{
		char	   *errormsg = NULL;
		XLogRecord *rec = XLogReadRecord(reader, &errormsg);
		xl_logical_message *msg;
		EngineStatus st;

		CHECK_FOR_INTERRUPTS();
		if (rec == NULL)
		{
			if (!priv->end_of_wal)
				ereport(FATAL,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("ledger_am storage worker could not read the WAL at %X/%X to replay rows: %s",
								LSN_ARGS(reader->EndRecPtr), errormsg ? errormsg : "end of WAL")));
			break;
		}
		if (XLogRecGetRmid(reader) != RM_LOGICALMSG_ID ||
			(XLogRecGetInfo(reader) & ~XLR_INFO_MASK) != XLOG_LOGICAL_MESSAGE)
			continue;
		msg = (xl_logical_message *) XLogRecGetData(reader);
		if (msg->transactional || msg->prefix_size != sizeof(kPrefix) ||
			memcmp(msg->message, kPrefix, sizeof(kPrefix)) != 0 || reader->EndRecPtr <= mark)
			continue;
		st = EngineReplayBatch(msg->message + msg->prefix_size, msg->message_size, reader->EndRecPtr);
		if (!st.ok())
			ereport(FATAL,
					(errcode(ERRCODE_IO_ERROR),
					 errmsg("ledger_am storage worker could not replay the rows logged at %X/%X: %s",
							LSN_ARGS(reader->ReadRecPtr), st.message)));
		batches++;
		bytes += msg->message_size;
	}
	XLogReaderFree(reader);
	if (batches > 0)
		elog(LOG, "ledger_am storage worker: replayed " UINT64_FORMAT " row batches (" UINT64_FORMAT
			 " bytes) logged in the WAL after %X/%X", batches, bytes, LSN_ARGS(mark));
}

/* named_slot is the "ledger_am" slot if it exists (none without slots). */
ReplicationSlot *
named_slot()
{
	return max_replication_slots > 0 ? SearchNamedReplicationSlot(kSlotName, true) : NULL;
}

/*
 * acquire_slot acquires the "ledger_am" slot, creating it (with WAL reserved
 * from now) if missing or reserving WAL again if it was invalidated. False,
 * with a LOG line, if it cannot (e.g. every slot is in use).
 */
bool
acquire_slot()
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		if (named_slot() == NULL)
			ReplicationSlotCreate(kSlotName, false, RS_PERSISTENT, false);
		else
			ReplicationSlotAcquire(kSlotName, true);
		if (!SlotIsPhysical(MyReplicationSlot))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("replication slot \"%s\" is a logical slot", kSlotName)));
		if (XLogRecPtrIsInvalid(MyReplicationSlot->data.restart_lsn))
			ReplicationSlotReserveWal();
		ReplicationSlotMarkDirty();
		ReplicationSlotSave();
	}
	PG_CATCH();
	{
		ErrorData  *e = caught_error(cxt);

		if (MyReplicationSlot != NULL)
			ReplicationSlotRelease();
		elog(LOG, "ledger_am storage worker: cannot use the replication slot \"%s\" (%s); "
			 "commits sync RocksDB's WAL instead of logging rows in Postgres' WAL", kSlotName, e->message);
		FreeErrorData(e);
		ok = false;
	}
	PG_END_TRY();
	if (ok)
		g_slot_lsn = MyReplicationSlot->data.restart_lsn;
	return ok;
}

/* drop_slot drops the "ledger_am" slot if it exists (ledger_am.log_rows_in_wal
 * turned off): a slot nobody advances would keep WAL forever. */
void
drop_slot()
{
	MemoryContext cxt = CurrentMemoryContext;

	if (named_slot() == NULL)
		return;
	PG_TRY();
	{
		ReplicationSlotDrop(kSlotName, true);
		elog(LOG, "ledger_am storage worker: dropped the replication slot \"%s\" "
			 "(ledger_am.log_rows_in_wal is off)", kSlotName);
	}
	PG_CATCH();
	{
		ErrorData  *e = caught_error(cxt);

		elog(LOG, "ledger_am storage worker: could not drop the replication slot \"%s\": %s",
			 kSlotName, e->message);
		FreeErrorData(e);
	}
	PG_END_TRY();
}

/* set_mark sets the engine's log mark (synced), FATAL if it cannot. */
void
set_mark(XLogRecPtr lsn)
{
	EngineStatus st = EngineSetLogMark(lsn);

	if (!st.ok())
		ereport(FATAL,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("ledger_am storage worker could not set its log mark: %s", st.message)));
}

} // namespace

bool
RowsWalStart()
{
	uint64_t	mark = 0;
	EngineStatus st;

	/* Records a previous worker of this server logged: readable once flushed. */
	XLogFlush(GetXLogInsertRecPtr());
	st = EngineLogMark(&mark);
	if (!st.ok())
		ereport(FATAL,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("ledger_am storage worker could not read its log mark: %s", st.message)));
	if (mark != 0 && ledger_storage_from_backup)
	{
		/* A copy of another server's files (module.cc): its mark names
		 * that server's WAL. Its rows are refused until the marker goes,
		 * and then accepted as they are. */
		elog(LOG, "ledger_am storage worker: started from a base backup, not replaying rows logged after %X/%X",
			 LSN_ARGS(mark));
		set_mark(0);
		mark = 0;
	}
	if (mark != 0)
	{
		/* The slot may have moved past the mark while every logged batch
		 * was durable (RowsWalAdvance): nothing before it needs replaying,
		 * and the WAL before it may be gone. */
		XLogRecPtr	from = (XLogRecPtr) mark;
		ReplicationSlot *slot = named_slot();

		if (slot != NULL && SlotIsPhysical(slot))
		{
			XLogRecPtr	kept;

			SpinLockAcquire(&slot->mutex);
			kept = slot->data.restart_lsn;
			SpinLockRelease(&slot->mutex);
			if (kept > from)
				from = kept;
		}
		replay(from);
	}

	if (!ledger_log_rows_in_wal || max_replication_slots == 0 || wal_level < WAL_LEVEL_REPLICA ||
		!acquire_slot())
	{
		/* Synced: nothing logged needs replaying, and the slot can go. */
		if (mark != 0)
			set_mark(0);
		if (!ledger_log_rows_in_wal)
			drop_slot();
		g_enabled = false;
		return false;
	}
	/*
	 * Everything replayed is synced with the new mark, and later batches are
	 * logged after it. (A mark ahead of the recovered WAL, from batches
	 * whose records were lost with an unflushed WAL tail, would otherwise
	 * hide new records below it.)
	 */
	set_mark(GetXLogInsertRecPtr());
	g_enabled = true;
	(void) RowsWalAdvance();
	return true;
}

const BatchLog *
RowsWalLogger()
{
	return g_enabled ? &kLogger : nullptr;
}

bool
RowsWalAdvance()
{
	XLogRecPtr	target;
	TimestampTz now;

	/* Tests only: logged rows bypass RocksDB's WAL, so a sync makes none of
	 * them durable; the slot keeps all WAL since the start. */
	if (!g_enabled || ledger_debug_logged_rows_skip_wal)
		return false;
	target = (XLogRecPtr) EngineDurableLogMark();
	if (target <= g_slot_lsn)
	{
		/*
		 * No logged batch made durable since the slot last moved. Other WAL
		 * (heap tables, a bulk load's unlogged rows, checkpoints) may go on,
		 * and the slot would keep all of it. When every logged batch is
		 * durable, nothing before the current insert position needs
		 * replaying (this thread logs the next batch, after it): at most
		 * once a second, the slot moves there. A replay starts at the later
		 * of the log mark and the slot (RowsWalStart).
		 */
		now = GetCurrentTimestamp();
		if (!TimestampDifferenceExceeds(g_last_bump, now, 1000))
			return false;
		g_last_bump = now;
		/* Logged rows of a transaction that aborted, or of a bulk one
		 * still running, wait for no commit's sync: ask for one. */
		if (EngineWrittenLogMark() != EngineDurableLogMark())
			return true;
		target = GetXLogInsertRecPtr();
		if (target - g_slot_lsn < (XLogRecPtr) wal_segment_size)
			return false;
	}
	SpinLockAcquire(&MyReplicationSlot->mutex);
	MyReplicationSlot->data.restart_lsn = target;
	SpinLockRelease(&MyReplicationSlot->mutex);
	ReplicationSlotMarkDirty();
	ReplicationSlotsComputeRequiredLSN();
	g_slot_lsn = target;
	return false;
}

void
RowsWalStop()
{
	if (!g_enabled || ledger_debug_logged_rows_skip_wal)
		return;
	/* Synced: every batch written so far is durable in RocksDB. */
	(void) EngineSetLogMark(0);
	g_enabled = false;
}

} // namespace ledger_am
