/*
 * channel_client.cc: the client side of the storage worker channel, and the
 * one place where a storage status becomes a Postgres error (SQLSTATE).
 *
 * Runs in client backends. A request is posted into this backend's slot and
 * answered in place; waits honour query cancel and statement_timeout, and
 * fail with a clear error when no storage worker is running.
 */
#include "backend/backend.h"

#include <sched.h>

extern "C" {
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "storage/proc.h"
#include "storage/s_lock.h"
#include "utils/wait_event.h"
}

using ledger_am::ChannelSlot;
using ledger_am::EngineCode;

/* How often a waiting backend re-checks that the worker is alive. */
static const long kWorkerCheckMs = 1000;

/* How long a request waits for a worker that is not (yet) running. */
static const int kWorkerStartWaitMs = 10000;

/*
 * How long a posted request is polled before sleeping (sleep_on_slot)
 * (microseconds).
 * Spinning only pays while this backend is the worker's only client: with
 * more, spinners steal the CPU the worker needs (measured on 2 vCPUs: 16
 * single-row committers went from 7.8k to 4.4k tps with unconditional spins).
 */
static const int64 kSpinUs = 500;

/*
 * A point read yields its vCPU between looks at its answer, instead of
 * sleeping at once, for up to kYieldUs, while the worker has at most
 * kYieldMaxClients clients and serves point reads in under kYieldMaxGetNs
 * (see wait_not_posted).
 */
static const int64 kYieldUs = 100;
static const uint32 kYieldMaxClients = 4;
static const uint32 kYieldMaxGetNs = 10000;

/* worker_running tells whether a storage worker serves requests now. */
static bool
worker_running(void)
{
	return ledger_channel != NULL && pg_atomic_read_u32(&ledger_channel->worker_pid) != 0;
}

static void report_status(EngineCode code, const char *message, const char *context);

/* report_recorded reports a failure the worker recorded in shared memory
 * (its code, then its message; 0: none), if there is one. */
static void
report_recorded(int32 code, const char *recorded, const char *context)
{
	char		message[200];

	if (code == 0)
		return;
	pg_read_barrier();
	strlcpy(message, recorded, sizeof(message));
	report_status(static_cast<EngineCode>(code), message, context);
}

/* report_worker_down raises the error every caller gets without a worker:
 * why the last one could not open the storage if it could not (a full disk
 * is then disk_full, 53100); else, if the last one gave up after a failed
 * write (it exits, and is restarted after bgw_restart_time), that failure,
 * as the requests its exit cut off get it; else a connection failure. */
static void pg_attribute_noreturn()
report_worker_down(void)
{
	if (ledger_channel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ledger_am is not loaded via shared_preload_libraries"),
				 errhint("Add 'ledger_am' to shared_preload_libraries in postgresql.conf "
						 "and restart the server.")));
	report_recorded(ledger_channel->start_code, ledger_channel->start_message,
					"starting the storage worker");
	report_recorded(ledger_channel->restart_code, ledger_channel->restart_message,
					"writing rows (the storage worker restarts after a failed write)");
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("ledger_am storage worker is not running"),
			 errhint("Check the server log for errors of the \"ledger_am storage worker\"; "
					 "it is restarted automatically.")));
}

/*
 * A release of the slot's reservations and sticky ring error is owed before
 * the next request: always for a new process (a previous backend with the
 * same PGPROC may have exited before its release got through, e.g. while the
 * worker restarted), and after an abort whose release failed. Without it the
 * next transaction on this slot would fail with a stale error.
 */
static bool release_owed = true;

/* my_slot returns this process's channel slot. */
static ChannelSlot *
my_slot(void)
{
	if (ledger_channel == NULL)
		report_worker_down();
	if (MyProc == NULL || MyProc->pgprocno < 0 || (uint32) MyProc->pgprocno >= ledger_channel->nslots)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ledger_am tables cannot be accessed from this kind of process")));
	return ledger_am::ChannelGetSlot(ledger_channel, (uint32) MyProc->pgprocno);
}

static void wait_for_worker(void);

/*
 * sleep_on_slot sleeps until the worker answers the slot's request (it
 * wakes the state word's futex, see ChannelComplete), a signal arrives
 * (cancel, termination, barriers: their handlers run and the caller checks
 * for interrupts) or timeout_ms pass. Unlike a latch, a futex wake-up is
 * not a signal: on 2 vCPUs, 4 clients doing point lookups spent ~35% of
 * all CPU in the kernel, mostly delivering and draining latch signals.
 */
static void
sleep_on_slot(ChannelSlot *slot, long timeout_ms)
{
	struct timespec ts;
	uint32		seen;

	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	pg_atomic_write_u32(&slot->client_sleeping, 1);
	pg_memory_barrier();		/* flag before the state read (Dekker) */
	seen = pg_atomic_read_u32(&slot->state);
	if (ledger_am::SlotBusy(seen))
		(void) syscall(SYS_futex, ledger_am::ChannelStateWord(slot), FUTEX_WAIT, seen, &ts, NULL, 0);
	pg_atomic_write_u32(&slot->client_sleeping, 0);
	pgstat_report_wait_end();
}

/* slot_answered tells whether the slot holds no request in flight; when it
 * does not, the worker's answer is visible to the reads that follow. */
static bool
slot_answered(ChannelSlot *slot)
{
	if (ledger_am::SlotBusy(pg_atomic_read_u32(&slot->state)))
		return false;
	pg_read_barrier();
	return true;
}

/* wait_not_posted waits until the slot holds no request in flight. With
 * interruptible=false it never ereports and gives up after timeout_ms. */
static bool
wait_not_posted(ChannelSlot *slot, bool interruptible, int timeout_ms)
{
	TimestampTz start;

	/* Often already so: ChannelBegin checks a slot answered long ago. */
	if (slot_answered(slot))
		return true;

	/*
	 * Most requests are answered within microseconds to a few hundred: spin
	 * (up to kSpinUs) before sleeping, which costs two context
	 * switches and an idle vCPU's wake-up. Not for a commit's WAL sync: the
	 * fsync takes longer, and its thread needs the CPU (a lazily synced
	 * commit, synchronous_commit = off, is answered at once). Nor once the worker
	 * has lent part of the request to its second thread: that thread needs
	 * the vCPU this loop would take.
	 */
	if ((slot->op != ledger_am::kOpSync || slot->arg1 == ledger_am::kSyncLazy) &&
		ledger_am::LoneClient(ledger_channel) &&
		pg_atomic_read_u32(&ledger_channel->inflight) <= 1)
	{
		TimestampTz spin_start = 0;

		for (uint32 spins = 1;; spins++)
		{
			pg_spin_delay();
			if (slot_answered(slot))
				return true;
			if ((spins & 63) == 0)
			{
				TimestampTz now = GetCurrentTimestamp();

				if (spin_start == 0)
					spin_start = now;
				else if (now - spin_start >= kSpinUs ||
						 pg_atomic_read_u32(&ledger_channel->inflight) > 1 ||
						 pg_atomic_read_u32(&slot->lent) != 0)
					break;
			}
		}
	}
	else if (slot->op == ledger_am::kOpGet &&
			 pg_atomic_read_u32(&ledger_channel->recent_clients) <= kYieldMaxClients &&
			 pg_atomic_read_u32(&ledger_channel->get_ns) < kYieldMaxGetNs)
	{
		/*
		 * A few clients, a quick point read: spinning would take the CPU
		 * the worker needs, but sleeping costs more than the read: the
		 * worker's futex wake-up of a sleeping backend took a third of its
		 * CPU with 4 clients of cached point lookups. So the backend yields
		 * its vCPU (to the worker or another backend) between looks at its
		 * answer, up to kYieldUs, and the worker then has no one to wake.
		 * Not with more clients (16: -25%), nor when point reads take
		 * longer (blocks read and decompressed at 10M rows: -10%), nor for
		 * other requests (10k-event windows -30%): then the yields take
		 * CPU from useful work (docs/architecture.md, The channel).
		 */
		TimestampTz yield_start = GetCurrentTimestamp();

		for (uint32 yields = 1;; yields++)
		{
			sched_yield();
			if (slot_answered(slot))
			{
				pg_atomic_fetch_add_u64(&ledger_channel->yielded_gets, 1);
				return true;
			}
			if ((yields & 7) == 0 && GetCurrentTimestamp() - yield_start >= kYieldUs)
				break;
		}
	}

	start = GetCurrentTimestamp();
	for (;;)
	{
		if (slot_answered(slot))
			return true;
		if (!worker_running() ||
			slot->generation != pg_atomic_read_u64(&ledger_channel->generation))
		{
			if (!interruptible)
				return false;
			/* The worker went away with our request: a new one (restarted
			 * within a second) answers it with kWorkerRestarted. */
			wait_for_worker();
			continue;
		}
		if (!interruptible &&
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), timeout_ms))
			return false;
		sleep_on_slot(slot, interruptible ? kWorkerCheckMs : Min(timeout_ms, 100));
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (interruptible)
			CHECK_FOR_INTERRUPTS();
	}
}

/* post posts the slot's request to the worker. */
static void
post(ChannelSlot *slot, uint32 op)
{
	slot->op = op;
	slot->generation = pg_atomic_read_u64(&ledger_channel->generation);
	slot->status = 0;
	slot->message[0] = '\0';
	pg_atomic_write_u32(&slot->lent, 0);
	pg_atomic_fetch_add_u32(&ledger_channel->inflight, 1);
	pg_write_barrier();
	pg_atomic_write_u32(&slot->state, ledger_am::kSlotPosted);
	SetLatch(ledger_channel->worker_latch);
}

static void report_status(EngineCode code, const char *message, const char *context);

/* wait_for_worker gives a starting (or restarting) worker a few seconds to
 * open RocksDB before reporting it down; interruptible. */
static void
wait_for_worker(void)
{
	TimestampTz start = GetCurrentTimestamp();

	while (!worker_running())
	{
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), kWorkerStartWaitMs))
			report_worker_down();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * One request per backend may be left in flight while its issuer works on
 * (a scan reading ahead). Whoever needs the slot next first waits for it and
 * lets its owner absorb the response.
 */
static ChannelAbsorbFn async_absorb = NULL;
static void *async_arg = NULL;

void
ChannelPostAsync(ChannelSlot *slot, uint32 op, ChannelAbsorbFn absorb, void *arg)
{
	Assert(async_absorb == NULL);
	post(slot, op);
	async_absorb = absorb;
	async_arg = arg;
}

void
ChannelAwaitAsyncOf(void *arg)
{
	if (async_absorb != NULL && async_arg == arg)
		ChannelAwaitAsync();
}

void
ChannelAwaitAsync(void)
{
	ChannelAbsorbFn absorb = async_absorb;
	void	   *arg = async_arg;
	ChannelSlot *slot;
	EngineCode	code;
	char		message[sizeof(slot->message)];

	if (absorb == NULL)
		return;
	slot = my_slot();
	async_absorb = NULL;
	async_arg = NULL;
	(void) wait_not_posted(slot, true, 0);
	code = static_cast<EngineCode>(slot->status);
	if (code != EngineCode::kOk && code != EngineCode::kNotFound)
	{
		memcpy(message, slot->message, sizeof(message));
		message[sizeof(message) - 1] = '\0';
		ChannelEnd(slot);
		report_status(code, message, "reading ahead");
	}
	absorb(arg, slot);
	ChannelEnd(slot);
}

void
ChannelForgetAsync(void)
{
	/* The owner is gone (its memory too): the response is dropped unread. */
	async_absorb = NULL;
	async_arg = NULL;
}

ChannelSlot *
ChannelBegin(void)
{
	ChannelSlot *slot;

	if (async_absorb != NULL)
		ChannelAwaitAsync();

	/*
	 * RocksDB data is not replicated: a standby would answer with silently
	 * missing rows. Refuse instead (the worker does not run in recovery).
	 */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ledger_am tables cannot be accessed during recovery or on a standby"),
				 errdetail("ledger_am stores rows outside the Postgres WAL; they are not replicated."),
				 errhint("Query the primary server.")));
	if (ledger_storage_from_backup)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ledger_am tables cannot be accessed on a server restored from a base backup"),
				 errdetail("ledger_am stores rows outside the Postgres WAL; a base backup copies them "
						   "while they change, so rows may be missing."),
				 errhint("Restore ledger_am tables from the primary with pg_dump and pg_restore. "
						 "To accept the copied rows as they are, delete \"%s\" in the data directory "
						 "and restart the server.", LEDGER_FROM_BACKUP_FILE)));
	slot = my_slot();

	if (!worker_running())
		wait_for_worker();
	(void) wait_not_posted(slot, true, 0);
	if (release_owed)
	{
		/* Clear what a previous owner of this slot, or this backend's own
		 * aborted transaction, could not release (see release_owed). */
		release_owed = false;
		if (!ChannelCallNoError(ledger_am::kOpRelease, NULL, 0, 0, 5000))
			release_owed = true;
	}
	return slot;
}

void
ChannelOweRelease(void)
{
	release_owed = true;
}

/* report_status turns a storage status into an ereport: the only mapping
 * from EngineCode to SQLSTATE in ledger_am. */
static void
report_status(EngineCode code, const char *message, const char *context)
{
	int			sqlstate;

	switch (code)
	{
		case EngineCode::kOk:
		case EngineCode::kNotFound:
			return;
		case EngineCode::kKeyExists:
			sqlstate = ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
			break;
		case EngineCode::kInvalid:
		case EngineCode::kBufferTooSmall:
			sqlstate = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case EngineCode::kIOError:
			sqlstate = ERRCODE_IO_ERROR;
			break;
		case EngineCode::kNoSpace:
			sqlstate = ERRCODE_DISK_FULL;
			break;
		case EngineCode::kCorruption:
			sqlstate = ERRCODE_DATA_CORRUPTED;
			break;
		case EngineCode::kNotOpen:
		case EngineCode::kWorkerRestarted:
			sqlstate = ERRCODE_CONNECTION_FAILURE;
			break;
		default:
			sqlstate = ERRCODE_INTERNAL_ERROR;
			break;
	}
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("ledger_am storage error while %s: %s", context, message)));
}

EngineCode
ChannelCall(ChannelSlot *slot, uint32 op, const char *context)
{
	char		message[sizeof(slot->message)];
	EngineCode	code;
	uint32		request_len = slot->data_len;

	for (int attempt = 0;; attempt++)
	{
		post(slot, op);
		(void) wait_not_posted(slot, true, 0);
		code = static_cast<EngineCode>(slot->status);
		if (code != EngineCode::kWorkerRestarted || !ledger_am::OpIsRead(op) || attempt >= 3)
			break;
		/* The request (header fields and data) is intact: ask the new worker. */
		slot->data_len = request_len;
	}
	if (code != EngineCode::kOk && code != EngineCode::kNotFound)
	{
		memcpy(message, slot->message, sizeof(message));
		message[sizeof(message) - 1] = '\0';
		ChannelEnd(slot);
		report_status(code, message, context);
	}
	return code;
}

void
ChannelEnd(ChannelSlot *slot)
{
	pg_atomic_write_u32(&slot->state, ledger_am::kSlotIdle);
}

ChannelSlot *
ChannelScanRequest(const ledger_am::TableId &table, uint64 from, uint64 to, bool backward, bool bulk)
{
	ChannelSlot *slot = ChannelBegin();

	slot->table = table;
	slot->arg1 = from;
	slot->arg2 = to;
	slot->flags = (backward ? ledger_am::kScanBackward : 0) | (bulk ? ledger_am::kScanBulk : 0);
	/* A parallel query's processes are one scan: their chunks never overlap. */
	if (bulk)
		slot->scan_group = MyProc->lockGroupLeader != NULL ? MyProc->lockGroupLeader->pgprocno
			: MyProc->pgprocno;
	slot->data_len = 0;
	return slot;
}

void
ChannelTakeScanAnswer(ChannelSlot *slot, char *dest, Size *len, uint64 *resume, bool *done,
					  uint64 *frozen_below)
{
	memcpy(dest, ledger_am::ChannelSlotData(slot), slot->data_len);
	*len = slot->data_len;
	*resume = slot->out1;
	*done = (slot->out_flags & ledger_am::kScanDone) != 0;
	*frozen_below = slot->out2;
}

bool
ChannelCallNoError(uint32 op, const ledger_am::TableId *table, uint64 arg1, uint64 arg2,
				   int timeout_ms)
{
	ChannelSlot *slot;
	bool		ok;

	ChannelForgetAsync();
	if (ledger_channel == NULL || MyProc == NULL || MyProc->pgprocno < 0 ||
		(uint32) MyProc->pgprocno >= ledger_channel->nslots || !worker_running())
		return false;
	slot = ledger_am::ChannelGetSlot(ledger_channel, (uint32) MyProc->pgprocno);
	if (!wait_not_posted(slot, false, timeout_ms))
		return false;
	if (table)
		slot->table = *table;
	slot->arg1 = arg1;
	slot->arg2 = arg2;
	slot->flags = 0;
	slot->data_len = 0;
	post(slot, op);
	if (!wait_not_posted(slot, false, timeout_ms))
		return false;
	ok = static_cast<EngineCode>(slot->status) == EngineCode::kOk;
	ChannelEnd(slot);
	return ok;
}

void
ChannelSimpleCall(uint32 op, const ledger_am::TableId &table, uint64 arg1, uint64 arg2,
				  uint64 *out1, uint64 *out2, const char *context)
{
	ChannelDataCall(op, table, arg1, arg2, NULL, 0, out1, out2, context);
}

void
ChannelDataCall(uint32 op, const ledger_am::TableId &table, uint64 arg1, uint64 arg2,
				const char *data, Size len, uint64 *out1, uint64 *out2, const char *context)
{
	ChannelSlot *slot = ChannelBegin();

	if (len > ledger_channel->buffer_size)
	{
		ChannelEnd(slot);
		elog(ERROR, "ledger_am request of %zu bytes while %s exceeds the channel buffer", len, context);
	}
	if (len > 0)
		memcpy(ledger_am::ChannelSlotData(slot), data, len);
	slot->table = table;
	slot->arg1 = arg1;
	slot->arg2 = arg2;
	slot->flags = 0;
	slot->data_len = (uint32) len;
	(void) ChannelCall(slot, op, context);
	if (out1)
		*out1 = slot->out1;
	if (out2)
		*out2 = slot->out2;
	ChannelEnd(slot);
}

/*
 * ChannelRingAppend puts one row into this backend's append ring: no reply,
 * no wait unless the ring is full. The worker applies ring rows before it
 * serves any request, so whoever asks for the row afterwards finds it.
 */
void
ChannelRingAppend(const ledger_am::TableId &table, uint64 row_id, uint64 xmin, uint32 cmin,
				  MinimalTuple mtup, const char *keys, uint32 keys_len)
{
	ChannelSlot *slot = my_slot();
	uint32		ring_size = ledger_channel->ring_size;
	uint32		value_len = (uint32) (ledger_am::kRowHeaderSize + mtup->t_len);
	uint32		total = (uint32) (sizeof(ledger_am::RingRecord) + ledger_am::Align8(value_len) +
								  ledger_am::Align8(keys_len));
	char	   *ring = ledger_am::ChannelSlotRing(slot);
	uint64		head = pg_atomic_read_u64(&slot->ring_head);
	uint32		pos = (uint32) (head % ring_size);
	uint32		wrap = pos + total > ring_size ? ring_size - pos : 0;
	ledger_am::RingRecord *rec;
	char	   *value;
	uint64		tail;

	if (total > ring_size / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("row is too big for ledger_am: %u bytes, maximum %u", total, ring_size / 2),
				 errhint("Raise ledger_am.append_ring_kb (needs a restart).")));

	/* Wait for room: the worker frees space as it applies rows. */
	while (ring_size - (head - pg_atomic_read_u64(&slot->ring_tail)) < (uint64) total + wrap)
	{
		if (!worker_running())
			report_worker_down();
		slot->ring_latch = MyLatch;
		pg_atomic_write_u32(&slot->ring_waiting, 1);
		SetLatch(ledger_channel->worker_latch);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	pg_read_barrier();

	if (wrap > 0)
	{
		/* Records never straddle the end: a marker sends the reader back to 0. */
		rec = (ledger_am::RingRecord *) (ring + pos);
		rec->total_len = wrap;
		rec->value_len = ledger_am::kRingWrap;
		head += wrap;
		pos = 0;
	}
	rec = (ledger_am::RingRecord *) (ring + pos);
	rec->total_len = total;
	rec->value_len = value_len;
	rec->keys_len = keys_len;
	rec->reserved = 0;
	rec->table = table;
	rec->pad = 0;
	rec->row_id = row_id;
	value = (char *) (rec + 1);
	ledger_am::EncodeRowHeader(value, xmin, cmin);
	memcpy(value + ledger_am::kRowHeaderSize, mtup, mtup->t_len);
	if (keys_len > 0)
		memcpy(value + ledger_am::Align8(value_len), keys, keys_len);

	/* Publish the record, then announce it (the worker reads in that order). */
	pg_write_barrier();
	pg_atomic_write_u64(&slot->ring_head, head + total);
	pg_atomic_fetch_add_u64(&ledger_channel->append_seq, 1);

	/*
	 * Wake the worker when the ring is half full, and when this is its only
	 * unapplied record: the worker may be asleep, and a transaction that
	 * took its row id from a carried range has asked it nothing yet. Woken
	 * now, it applies the row while this backend inserts index entries and
	 * commits, instead of waking only for the commit's request. SetLatch
	 * costs nothing while the worker is awake.
	 */
	tail = pg_atomic_read_u64(&slot->ring_tail);
	if (tail == head || (head + total) - tail > ring_size / 2)
		SetLatch(ledger_channel->worker_latch);
}

bool
ChannelClaimCarry(const ledger_am::TableId &table)
{
	ChannelSlot *slot = my_slot();
	uint32		idle = ledger_am::kCarryIdle;

	if (!pg_atomic_compare_exchange_u32(&slot->carry, &idle, ledger_am::kCarryClaimed))
		return false;
	if (slot->carry_table == table)
		return true;
	/* Not the range this backend asked to keep: leave it be. */
	pg_atomic_write_u32(&slot->carry, ledger_am::kCarryIdle);
	return false;
}

uint64
ChannelGeneration(void)
{
	return ledger_channel ? pg_atomic_read_u64(&ledger_channel->generation) : 0;
}
