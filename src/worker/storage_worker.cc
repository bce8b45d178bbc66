/*
 * storage_worker.cc: the ledger_am storage worker, the one process that owns
 * the cluster's RocksDB instance under $PGDATA/ledger_am.
 *
 * Its loop scans the channel slots for posted requests and serves them with
 * the engine (engine.h: no Postgres code, no exceptions past its API). All
 * WAL sync requests found in one pass share one RocksDB sync: group commit.
 * Scans are stateless here (each chunk request seeks anew), so a backend that
 * errors out or disconnects mid-scan leaves nothing behind.
 *
 * This file is the Postgres half of the error boundary: engine results come
 * back as EngineStatus values and are passed to backends as codes; the only
 * ereport here is FATAL at start-up when the engine cannot open.
 */
#include "module.h"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procsignal.h"
#include "storage/s_lock.h"
#include "utils/guc.h"
#include "utils/wait_event.h"
}

#include <chrono>
#include <signal.h>

#include "channel/channel.h"
#include "codec/row_codec.h"
#include "worker/bulk_scans.h"
#include "worker/engine.h"
#include "worker/read_pool.h"
#include "worker/rows_wal.h"
#include "worker/sync_thread.h"

using ledger_am::ChannelSlot;
using ledger_am::EngineCode;
using ledger_am::EngineStatus;

/* set_result copies an engine status into a slot's response. */
static void
set_result(ChannelSlot *slot, const EngineStatus &st)
{
	slot->status = static_cast<int32>(st.code);
	strlcpy(slot->message, st.message, sizeof(slot->message));
}

/* complete hands a processed slot back to its backend. */
static void
complete(ChannelSlot *slot)
{
	ledger_am::ChannelComplete(slot);
}

/*
 * WriteBatches that carried a slot's rows since its transaction's last sync
 * or release. A commit with synchronous_commit = off is answered without
 * waiting for the WAL sync only when this is at most 1: its rows then went
 * into RocksDB as one atomic write, so an OS crash can lose the whole
 * transaction (as Postgres may lose an asynchronous commit) but never keep
 * part of it. (A process crash loses nothing: Write() hands the WAL record
 * to the kernel.)
 */
static uint32 *slot_batches = NULL;

/*
 * Whether a slot's transaction wrote, since its last sync or release,
 * anything that was not logged in Postgres' WAL (rows_wal.h): rows too big
 * for the ring, range key backfills, deletes. Its commit then syncs
 * RocksDB's WAL; a commit of logged rows alone does not need to.
 */
static bool *slot_unlogged = NULL;

/*
 * Bytes of ring rows a slot's transaction had logged in Postgres' WAL since
 * its last sync or release. Past kLoggedBytesPerXact the rest of its rows
 * are not logged, and its commit syncs RocksDB's WAL: a bulk transaction
 * pays one sync, not a second copy of every row. Measured at 1M rows
 * (bench/README.md, session 14), logging every row took COPY from 68.8k to
 * 60.3k events/s and 4-client 100-event transactions from 49.7k to 44.3k,
 * ~2 us per row, while a single-event commit gained 1.1-1.6x: one sync
 * saved is worth some ten rows of logging in CPU, and more in latency.
 */
static uint64 *slot_logged_bytes = NULL;
static const uint64 kLoggedBytesPerXact = 16 * 1024;

/* Whether the group-commit thread runs (else syncs happen in the loop). */
static bool sync_thread = false;

/* Whether rows are logged in Postgres' WAL (rows_wal.h). */
static bool rows_wal = false;

/* Rings drained so far: the append_seq value read before the last drain. */
static uint64 applied_seq = 0;

/* Scratch for draining, grown as needed; new_tail has one entry per slot. */
static ledger_am::ReservedRow *drain_rows = NULL;
static EngineStatus *drain_status = NULL;
static uint32 *drain_slot = NULL;
static size_t drain_cap = 0;
static uint64 *new_tail = NULL;

/* grow_drain_scratch doubles the drain arrays. */
static void
grow_drain_scratch(void)
{
	size_t		cap = drain_cap ? drain_cap * 2 : 1024;

	if (drain_cap == 0)
	{
		drain_rows = (ledger_am::ReservedRow *) palloc(cap * sizeof(*drain_rows));
		drain_status = (EngineStatus *) palloc(cap * sizeof(*drain_status));
		drain_slot = (uint32 *) palloc(cap * sizeof(*drain_slot));
	}
	else
	{
		drain_rows = (ledger_am::ReservedRow *) repalloc(drain_rows, cap * sizeof(*drain_rows));
		drain_status = (EngineStatus *) repalloc(drain_status, cap * sizeof(*drain_status));
		drain_slot = (uint32 *) repalloc(drain_slot, cap * sizeof(*drain_slot));
	}
	drain_cap = cap;
}

/* set_ring_error records the first failure of a slot's ring rows. */
static void
set_ring_error(ChannelSlot *slot, const EngineStatus &st)
{
	if (slot->ring_error != 0)
		return;
	strlcpy(slot->ring_message, st.message, sizeof(slot->ring_message));
	slot->ring_error = static_cast<int32>(st.code);
}

/*
 * collect_ring appends the rows in slot i's ring from *tail on to the drain
 * arrays from index n on, until it has taken `budget` bytes of rows or the
 * ring is empty; moves *tail past them and returns the new count.
 */
static size_t
collect_ring(uint32 i, size_t n, uint64 *tail, uint64 budget)
{
	uint32		ring_size = ledger_channel->ring_size;
	ChannelSlot *slot = ledger_am::ChannelGetSlot(ledger_channel, i);
	uint64		head = pg_atomic_read_u64(&slot->ring_head);
	char	   *ring = ledger_am::ChannelSlotRing(slot);
	uint64		taken = 0;

	pg_read_barrier();
	while (*tail < head && taken < budget)
	{
		ledger_am::RingRecord *rec = (ledger_am::RingRecord *) (ring + *tail % ring_size);
		const char *value = (const char *) (rec + 1);

		*tail += rec->total_len;
		if (rec->value_len == ledger_am::kRingWrap)
			continue;
		if (n == drain_cap)
			grow_drain_scratch();
		drain_rows[n].table = rec->table;
		drain_rows[n].owner = i;
		drain_rows[n].row_id = rec->row_id;
		drain_rows[n].row.data = value;
		drain_rows[n].row.len = rec->value_len;
		drain_rows[n].row.keys = rec->keys_len ? value + ledger_am::Align8(rec->value_len) : NULL;
		drain_rows[n].row.keys_len = rec->keys_len;
		drain_slot[n] = i;
		n++;
		taken += rec->value_len + rec->keys_len;
	}
	return n;
}

/*
 * drain_rings applies every record backends have put in their append rings,
 * in one WriteBatch logged in Postgres' WAL (rows_wal.h) and one not (the
 * rows of a transaction past its kLoggedBytesPerXact, or all when rows are
 * not logged). Called before serving any request: a backend that saw
 * another's index entry (or its own insert) and then asks for the row finds
 * it stored. A failed row sets its slot's sticky ring error, which fails
 * that backend's next request (at the latest, its commit). True if it
 * applied any row.
 */
static bool
drain_rings(void)
{
	uint64		seq = pg_atomic_read_u64(&ledger_channel->append_seq);
	uint32		nslots = ledger_channel->nslots;
	const ledger_am::BatchLog *log = ledger_am::RowsWalLogger();
	size_t		n = 0;
	size_t		nlogged = 0;

	if (seq == applied_seq)
		return false;
	/* Heads are published before the sequence is bumped. */
	pg_read_barrier();
	if (new_tail == NULL)
		new_tail = (uint64 *) palloc(nslots * sizeof(uint64));
	/* First the rows to log: each slot's next ones, up to what is left of
	 * its transaction's kLoggedBytesPerXact. Then the rest. */
	for (uint32 i = 0; i < nslots; i++)
	{
		new_tail[i] = pg_atomic_read_u64(&ledger_am::ChannelGetSlot(ledger_channel, i)->ring_tail);
		if (log != nullptr && slot_logged_bytes[i] < kLoggedBytesPerXact)
			n = collect_ring(i, n, &new_tail[i], kLoggedBytesPerXact - slot_logged_bytes[i]);
	}
	nlogged = n;
	for (uint32 i = 0; i < nslots; i++)
		n = collect_ring(i, n, &new_tail[i], UINT64_MAX);
	if (n > 0)
	{
		uint32		last = UINT32_MAX;

		/* A slot with rows in both batches counts two. */
		for (size_t j = 0; j < n; j++)
			if (drain_slot[j] != last || j == nlogged)
				slot_batches[last = drain_slot[j]]++;
		if (nlogged > 0)
			(void) ledger_am::EngineWriteReserved(drain_rows, nlogged, drain_status, log);
		if (n > nlogged)
			(void) ledger_am::EngineWriteReserved(drain_rows + nlogged, n - nlogged,
												  drain_status + nlogged);
		for (size_t j = 0; j < nlogged; j++)
			slot_logged_bytes[drain_slot[j]] += drain_rows[j].row.len + drain_rows[j].row.keys_len;
		for (size_t j = nlogged; j < n; j++)
			slot_unlogged[drain_slot[j]] = true;
		pg_atomic_fetch_add_u64(&ledger_channel->wal_logged_rows, nlogged);
		pg_atomic_fetch_add_u64(&ledger_channel->wal_unlogged_rows, n - nlogged);
		for (size_t j = 0; j < n; j++)
			if (!drain_status[j].ok())
				set_ring_error(ledger_am::ChannelGetSlot(ledger_channel, drain_slot[j]), drain_status[j]);
	}
	/* The batch is written (or failed for good): hand the space back. */
	for (uint32 i = 0; i < nslots; i++)
	{
		ChannelSlot *slot = ledger_am::ChannelGetSlot(ledger_channel, i);

		if (pg_atomic_read_u64(&slot->ring_tail) == new_tail[i])
			continue;
		pg_write_barrier();
		pg_atomic_write_u64(&slot->ring_tail, new_tail[i]);
		if (pg_atomic_exchange_u32(&slot->ring_waiting, 0) != 0 && slot->ring_latch)
			SetLatch(slot->ring_latch);
	}
	applied_seq = seq;
	return n > 0;
}

/* serve_append appends the framed rows of a request. */
static EngineStatus
serve_append(ChannelSlot *slot, char *data)
{
	ledger_am::RecordReader reader(data, slot->data_len);
	uint32		n = (uint32) slot->arg1;
	ledger_am::RowSlice *rows = (ledger_am::RowSlice *) palloc(sizeof(ledger_am::RowSlice) * Max(n, 1));
	uint32		got = 0;
	uint64		row_id;
	const char *value;
	uint32		len;
	EngineStatus st;

	bool		bad = false;

	while (reader.Next(&row_id, &value, &len))
	{
		if (row_id == ledger_am::kKeyBlobRecord)
		{
			if (got == 0 || rows[got - 1].keys != NULL)
			{
				bad = true;
				break;
			}
			rows[got - 1].keys = value;
			rows[got - 1].keys_len = len;
			continue;
		}
		if (got == n)
		{
			bad = true;
			break;
		}
		rows[got].data = value;
		rows[got].len = len;
		rows[got].keys = NULL;
		rows[got].keys_len = 0;
		got++;
	}
	if (bad || got != n || !reader.ok())
	{
		st.code = EngineCode::kInvalid;
		strlcpy(st.message, "malformed append request", sizeof(st.message));
	}
	else
		st = ledger_am::EngineAppend(slot->table, rows, n, &slot->out1);
	pfree(rows);
	slot->data_len = 0;
	return st;
}

/* serve_put_range_keys writes backfilled range keys: records of (row id, key blob). */
static EngineStatus
serve_put_range_keys(ChannelSlot *slot, char *data)
{
	ledger_am::RecordReader reader(data, slot->data_len);
	uint64		row_id;
	const char *blob;
	uint32		len;
	EngineStatus st = EngineStatus{EngineCode::kOk, ""};

	while (st.ok() && reader.Next(&row_id, &blob, &len))
		st = ledger_am::EnginePutRangeKeys(slot->table, row_id, blob, len);
	if (st.ok() && !reader.ok())
	{
		st.code = EngineCode::kInvalid;
		strlcpy(st.message, "malformed range key request", sizeof(st.message));
	}
	slot->data_len = 0;
	return st;
}

/*
 * PoolLender lends half of a range scan's row fetches to an idle read-pool
 * helper (read_pool.h) when the half is expected to take longer than a
 * hand-over is worth (ledger_am.lend_min_us, 300 us by default: waking a
 * sleeping thread costs 0.1-0.3 ms on 2 vCPUs). It marks the slot, so the
 * backend stops polling for the answer (wait_not_posted) and leaves its vCPU
 * to the helper. Offered only for a lone client (LoneClient): with more
 * clients every CPU is busy and a hand-over only adds wake-ups. Measured in
 * docs/architecture.md ("Lending a range scan's second half"). A helper
 * serving a range scan may lend too; it reads the setting's int, which only
 * the main loop's config reload writes, without a lock.
 */
class PoolLender final : public ledger_am::EngineLender
{
  public:
	explicit PoolLender(ChannelSlot *slot) : slot_(slot) {}

	bool		Lend(void (*work) (void *arg), void *arg, uint64_t expected_ns) noexcept override
	{
		if (ledger_lend_min_us < 0 || expected_ns < (uint64_t) ledger_lend_min_us * 1000)
			return false;
		loan_.work = work;
		loan_.arg = arg;
		if (!ledger_am::ReadPoolLend(&loan_))
			return false;
		pg_atomic_write_u32(&slot_->lent, 1);
		pg_atomic_fetch_add_u64(&ledger_channel->lent_batches, 1);
		return true;
	}
	void		Wait() noexcept override
	{
		ledger_am::ReadPoolWaitLent(&loan_);
	}

  private:
	ChannelSlot *slot_;
	ledger_am::ReadPoolLoan loan_{};
};

/* serve_range_scan parses a range scan request and streams rows into the
 * same buffer (the request is copied out first: the response overwrites it). */
static EngineStatus
serve_range_scan(ChannelSlot *slot, char *data, size_t cap)
{
	char		req[1 + 2 * (2 + ledger_am::kMaxRangeKeySuffix + 1)];
	uint16		lo_len;
	uint16		hi_len;
	uint8		space;
	size_t		used = 0;
	size_t		resume_len = 0;
	uint32		count = 0;
	bool		done = false;
	EngineStatus st;

	if (slot->data_len < 5 || slot->data_len > sizeof(req))
	{
		st.code = EngineCode::kInvalid;
		strlcpy(st.message, "malformed range scan request", sizeof(st.message));
		slot->data_len = 0;
		return st;
	}
	memcpy(req, data, slot->data_len);
	space = (uint8) req[0];
	memcpy(&lo_len, req + 1, 2);
	if (3 + (size_t) lo_len + 2 > slot->data_len)
	{
		st.code = EngineCode::kInvalid;
		strlcpy(st.message, "malformed range scan request", sizeof(st.message));
		slot->data_len = 0;
		return st;
	}
	memcpy(&hi_len, req + 3 + lo_len, 2);
	if (3 + (size_t) lo_len + 2 + hi_len != slot->data_len)
	{
		st.code = EngineCode::kInvalid;
		strlcpy(st.message, "malformed range scan request", sizeof(st.message));
		slot->data_len = 0;
		return st;
	}
	if (slot->op == ledger_am::kOpRangeBounds)
	{
		uint64		nkeys = 0;

		st = ledger_am::EngineRangeBounds(slot->table, space, req + 3, lo_len, req + 5 + lo_len,
										  hi_len, &nkeys, &slot->out1, &slot->out2);
		slot->arg1 = nkeys;
		slot->data_len = 0;
		return st;
	}
	PoolLender	lender(slot);

	st = ledger_am::EngineRangeScan(slot->table, space, req + 3, lo_len, req + 5 + lo_len, hi_len,
									(slot->flags & ledger_am::kScanBackward) != 0,
									(uint32) slot->arg1, data, cap - ledger_am::kMaxRangeKeySuffix,
									&used, &count,
									ledger_am::RangeResumeKey(data, (uint32) cap),
									ledger_am::kMaxRangeKeySuffix, &resume_len, &done,
									ledger_am::LoneClient(ledger_channel) ? &lender : nullptr);
	slot->data_len = (uint32) used;
	slot->out_count = count;
	slot->out2 = resume_len;
	slot->out_flags = done ? ledger_am::kScanDone : 0;
	return st;
}

/* slot_index is a slot's number: the owner of its row id reservations. */
static uint32
slot_index(ChannelSlot *slot)
{
	return (uint32) (((char *) slot - ((char *) ledger_channel + ledger_am::ChannelSlotsOffset())) /
					 ledger_channel->slot_stride);
}

/*
 * read_frozen puts the table's frozen watermark where a read's answer carries
 * it (out1 for range scans, out2 otherwise). Only the main loop may call it:
 * it may load the table's state. Rows below the watermark need no visibility
 * check, and it only moves forward, so a value read before the rows is never
 * too high.
 */
static EngineStatus
read_frozen(ChannelSlot *slot)
{
	return ledger_am::EngineGetFrozen(slot->table,
									  slot->op == ledger_am::kOpRangeScan ? &slot->out1 : &slot->out2);
}

/* The bulk scans served lately: which may share the block cache. */
static ledger_am::BulkScans bulk_scans;

/*
 * serve_read serves kOpGet, kOpScan and kOpRangeScan once read_frozen has
 * run: on the main loop or on a read-pool helper (read_pool.h), so it touches
 * only the engine's read entry points, the slot and bulk_scans (locked).
 */
static void
serve_read(ChannelSlot *slot)
{
	char	   *data = ledger_am::ChannelSlotData(slot);
	size_t		cap = ledger_channel->buffer_size;
	size_t		used = 0;
	EngineStatus st;

	switch (slot->op)
	{
		case ledger_am::kOpGet:
			{
				/* Published for waiting backends (ChannelControl.get_ns):
				 * a moving average over the last ~8 point reads. */
				auto		started = std::chrono::steady_clock::now();
				uint64		ns;
				uint32		avg = pg_atomic_read_u32(&ledger_channel->get_ns);

				st = ledger_am::EngineGet(slot->table, slot->arg1, data, cap, &used);
				slot->data_len = (uint32) used;
				ns = (uint64) std::chrono::duration_cast<std::chrono::nanoseconds>(
					std::chrono::steady_clock::now() - started).count();
				ns = Min(ns, (uint64) PG_UINT32_MAX / 8);
				pg_atomic_write_u32(&ledger_channel->get_ns,
									avg == 0 ? (uint32) ns : (uint32) ((avg * (uint64) 7 + ns) / 8));
				break;
			}
		case ledger_am::kOpScan:
			{
				bool		done = false;
				uint32		count = 0;

				/* A bulk scan bypasses the cache unless other scans of
				 * the table run now and can share its blocks. */
				bool		fill_cache = (slot->flags & ledger_am::kScanBulk) == 0 ||
					bulk_scans.Note(slot->table, slot->scan_group);

				st = ledger_am::EngineScan(slot->table, slot->arg1, slot->arg2,
										   (slot->flags & ledger_am::kScanBackward) != 0, data, cap, &used, &count, &slot->out1, &done,
										   fill_cache);
				slot->data_len = (uint32) used;
				slot->out_count = count;
				slot->out_flags = done ? ledger_am::kScanDone : 0;
				if (!fill_cache)
					pg_atomic_fetch_add_u64(&ledger_channel->bulk_chunks, 1);
				break;
			}
		default:
			st = serve_range_scan(slot, data, cap);
			break;
	}
	set_result(slot, st);
}

/* clear_answer resets the answer fields a request may leave unset. */
static void
clear_answer(ChannelSlot *slot)
{
	slot->out_flags = 0;
	slot->out_count = 0;
	slot->out1 = 0;
	slot->out2 = 0;
}

/*
 * queue_read hands a scan chunk or a range scan to the read pool; false if
 * it must be served here. Point reads stay on this thread: they take tens of
 * microseconds, less than waking a helper (4-client point lookups at 10M
 * rows: 20.7k tps served here, 17.3k through the pool).
 */
static bool
queue_read(ChannelSlot *slot)
{
	if (slot->op != ledger_am::kOpScan && slot->op != ledger_am::kOpRangeScan)
		return false;
	/* A failed ring row is reported by serve(). */
	if (slot->ring_error != 0)
		return false;
	clear_answer(slot);
	if (!read_frozen(slot).ok())
		return false;
	/* Taken: later passes must not see it as a new request. */
	pg_atomic_write_u32(&slot->state, ledger_am::kSlotTaken);
	ledger_am::ReadPoolEnqueue(slot);
	return true;
}

/*
 * end_reservations ends a committing transaction's row id reservations but
 * the range of the table its kOpSync names, which the backend carries into
 * its next transactions when ids are left (ChannelSlot.carry): a stream of
 * single-row transactions then asks for ids once per block, not once per
 * transaction.
 */
static void
end_reservations(ChannelSlot *slot, uint32 index)
{
	bool		kept = false;
	const ledger_am::TableId *keep = slot->table.rel != 0 ? &slot->table : nullptr;

	(void) ledger_am::EngineRelease(index, keep, &kept);
	if (kept)
	{
		slot->carry_table = slot->table;
		pg_write_barrier();
	}
	pg_atomic_write_u32(&slot->carry, kept ? ledger_am::kCarryIdle : ledger_am::kCarryNone);
}

/*
 * revoke_idle_carries takes back every carried range its backend has not
 * claimed, before a frozen watermark moves (an idle backend's unused ids
 * would hold it back) or storage is dropped (a new table may get the dropped
 * one's relfilenode, and with it the stale range). A backend that claimed
 * its range first keeps it: its rows may be on their way.
 */
static void
revoke_idle_carries(void)
{
	for (uint32 i = 0; i < ledger_channel->nslots; i++)
	{
		ChannelSlot *slot = ledger_am::ChannelGetSlot(ledger_channel, i);
		uint32		idle = ledger_am::kCarryIdle;

		if (pg_atomic_compare_exchange_u32(&slot->carry, &idle, ledger_am::kCarryNone))
			(void) ledger_am::EngineReleaseTable(i, slot->carry_table);
	}
}

/* serve serves one non-sync request. */
static void
serve(ChannelSlot *slot)
{
	char	   *data = ledger_am::ChannelSlotData(slot);
	size_t		cap = ledger_channel->buffer_size;
	EngineStatus st;

	clear_answer(slot);
	/* A failed ring row fails this backend's transaction: every request
	 * but the release at its end reports it. */
	if (slot->ring_error != 0 && slot->op != ledger_am::kOpRelease)
	{
		st.code = static_cast<EngineCode>(slot->ring_error);
		strlcpy(st.message, slot->ring_message, sizeof(st.message));
		slot->data_len = 0;
		set_result(slot, st);
		return;
	}
	/* Reads and reservations write no batch; a release ends the count;
	 * any other request writes (at least) one batch. */
	if (slot->op == ledger_am::kOpRelease)
	{
		slot_batches[slot_index(slot)] = 0;
		slot_unlogged[slot_index(slot)] = false;
		slot_logged_bytes[slot_index(slot)] = 0;
	}
	else if (!ledger_am::OpIsRead(slot->op) && slot->op != ledger_am::kOpReserve)
	{
		slot_batches[slot_index(slot)]++;
		slot_unlogged[slot_index(slot)] = true;
	}
	switch (slot->op)
	{
		case ledger_am::kOpPing:
			st = EngineStatus{EngineCode::kOk, ""};
			slot->data_len = 0;
			break;
		case ledger_am::kOpAppend:
			st = serve_append(slot, data);
			break;
		case ledger_am::kOpGet:
		case ledger_am::kOpScan:
		case ledger_am::kOpRangeScan:
			/* Point reads always come here; scans and range scans only
			 * when queue_read could not take them (a ring error, reported
			 * above, or a table state that cannot be loaded: then the rows
			 * are not read). */
			st = read_frozen(slot);
			if (st.ok())
			{
				serve_read(slot);
				return;
			}
			slot->data_len = 0;
			break;
		case ledger_am::kOpDeleteRow:
			st = ledger_am::EngineDeleteRow(slot->table, slot->arg1, slot->arg2, data, slot->data_len);
			slot->data_len = 0;
			break;
		case ledger_am::kOpDropTable:
			revoke_idle_carries();
			st = ledger_am::EngineDropTable(slot->table);
			slot->data_len = 0;
			break;
		case ledger_am::kOpDropDatabase:
			revoke_idle_carries();
			st = ledger_am::EngineDropDatabase((uint32) slot->arg1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpNextRowId:
			st = ledger_am::EngineNextRowId(slot->table, &slot->out1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpSetNextRowId:
			revoke_idle_carries();	/* no carried id below the new counter */
			st = ledger_am::EngineSetNextRowId(slot->table, slot->arg1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpTableStats:
			st = ledger_am::EngineTableStats(slot->table, &slot->out1, &slot->out2);
			slot->data_len = 0;
			break;
		case ledger_am::kOpRangeKeyCount:
			st = ledger_am::EngineRangeKeyCount(slot->table, &slot->out1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpRowDictionary:
			st = ledger_am::EngineRowDictionaryBytes(slot->table, &slot->out1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpSetFrozen:
			revoke_idle_carries();
			st = ledger_am::EngineSetFrozen(slot->table, slot->arg1, &slot->out1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpPutRangeKeys:
			st = serve_put_range_keys(slot, data);
			break;
		case ledger_am::kOpDropRangeKeys:
			st = ledger_am::EngineDropRangeKeys(slot->table,
												static_cast<ledger_am::RangeDrop>(slot->arg2),
												(uint32) slot->arg1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpRangeBounds:
			st = serve_range_scan(slot, data, cap);
			break;
		case ledger_am::kOpReserve:
			/* A carried range the transaction did not claim is not carried
			 * any more: revoke_idle_carries must not end the reservation
			 * this request may replace it with (same table), and the range
			 * ends with the transaction's others at its commit. */
			pg_atomic_write_u32(&slot->carry, ledger_am::kCarryNone);
			pg_atomic_fetch_add_u64(&ledger_channel->reservations, 1);
			st = ledger_am::EngineReserve(slot->table, slot_index(slot), slot->arg1, &slot->out1);
			slot->data_len = 0;
			break;
		case ledger_am::kOpRelease:
			pg_atomic_write_u32(&slot->carry, ledger_am::kCarryNone);
			st = ledger_am::EngineRelease(slot_index(slot));
			slot->ring_error = 0;
			slot->ring_message[0] = '\0';
			slot->data_len = 0;
			break;
		case ledger_am::kOpCompactTable:
			st = ledger_am::EngineCompactTable(slot->table);
			slot->data_len = 0;
			break;
		default:
			st.code = EngineCode::kInvalid;
			snprintf(st.message, sizeof(st.message), "unknown request %u", slot->op);
			slot->data_len = 0;
			break;
	}
	set_result(slot, st);
}

static volatile sig_atomic_t shutdown_requested = false;

/* How long the worker polls for the next request before it sleeps on its
 * latch, when its last busy pass served a single client (microseconds). */
static const int64 kWorkerSpinUs = 1000;

/* A client counts as active (recent_clients) this long after its last request. */
static const int64 kRecentClientUs = 5000;

/* worker_sigterm asks the loop to finish and close RocksDB cleanly. */
static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	shutdown_requested = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* worker_exit stops advertising the worker, stops the sync thread and
 * closes the engine. */
static void
worker_exit(int code, Datum arg)
{
	if (ledger_channel)
		pg_atomic_write_u32(&ledger_channel->worker_pid, 0);
	ledger_am::ReadPoolStop();
	ledger_am::SyncThreadStop();
	/* A clean stop: nothing logged needs replaying at the next start. */
	if (shutdown_requested && !ledger_am::EngineWriteFailed())
		ledger_am::RowsWalStop();
	ledger_am::EngineClose();
}

/* restart_status is what a request cut off by the previous worker's exit
 * gets: kWorkerRestarted, or, if that worker gave up after a failed write
 * (disk full), that failure's code and message. */
static EngineStatus
restart_status(const char *what)
{
	EngineStatus st;

	if (ledger_channel->restart_code != 0)
	{
		st.code = static_cast<EngineCode>(ledger_channel->restart_code);
		strlcpy(st.message, what, sizeof(st.message));
		strlcat(st.message, " after a failed write: ", sizeof(st.message));
		strlcat(st.message, ledger_channel->restart_message, sizeof(st.message));
	}
	else
	{
		st.code = EngineCode::kWorkerRestarted;
		strlcpy(st.message, what, sizeof(st.message));
	}
	return st;
}

/* reset_stale_slots fails requests posted to a previous worker incarnation. */
static void
reset_stale_slots(void)
{
	for (uint32 i = 0; i < ledger_channel->nslots; i++)
	{
		ChannelSlot *slot = ledger_am::ChannelGetSlot(ledger_channel, i);

		uint64		head = pg_atomic_read_u64(&slot->ring_head);

		/* Rows a previous incarnation did not apply are lost with its
		 * reservations: their transactions must fail. */
		if (pg_atomic_read_u64(&slot->ring_tail) != head)
		{
			EngineStatus st = restart_status("the storage worker restarted before storing rows of this transaction");

			set_ring_error(slot, st);
			pg_atomic_write_u64(&slot->ring_tail, head);
		}
		if (ledger_am::SlotBusy(pg_atomic_read_u32(&slot->state)))
		{
			EngineStatus st = restart_status("the storage worker restarted");

			slot->status = static_cast<int32>(st.code);
			strlcpy(slot->message, st.message, sizeof(slot->message));
			slot->data_len = 0;
			complete(slot);
		}
	}
}

/* engine_compression maps a compression setting (LedgerCompression) to the engine's. */
static ledger_am::Compression
engine_compression(int setting)
{
	switch (setting)
	{
		case LEDGER_COMPRESSION_NONE:
			return ledger_am::Compression::kNone;
		case LEDGER_COMPRESSION_ZSTD:
			return ledger_am::Compression::kZstd;
		case LEDGER_COMPRESSION_LZ4HC:
			return ledger_am::Compression::kLz4hc;
		case LEDGER_COMPRESSION_ZSTD_ROW:
			return ledger_am::Compression::kZstdRow;
		default:
			return ledger_am::Compression::kLz4;
	}
}

/*
 * block_cache_bytes sizes the RocksDB block cache. Rows never pass through
 * shared_buffers, so by default (-1) the cache of decompressed row blocks
 * gets as much memory as shared_buffers, the memory a heap table's pages
 * would be cached in, and at least 256 MB.
 */
static uint64
block_cache_bytes(void)
{
	uint64		mb = ledger_block_cache_mb;

	if (ledger_block_cache_mb < 0)
		mb = Max((uint64) 256, (uint64) NBuffers * BLCKSZ / (1024 * 1024));
	return Max(mb, (uint64) 8) * 1024 * 1024;
}

/* How often a busy worker publishes the block cache's usage (us). */
static constexpr int64 kStatsIntervalUs = 100 * 1000;

/* publish_cache_usage copies the block cache's usage to shared memory. */
static void
publish_cache_usage(void)
{
	uint64		used = 0;
	uint64		capacity = 0;

	if (ledger_am::EngineBlockCacheUsage(&used, &capacity).ok())
		pg_atomic_write_u64(&ledger_channel->block_cache_used, used);
}

/* open_engine opens RocksDB with every signal blocked, so the threads
 * RocksDB starts inherit a mask that never diverts Postgres' signals. */
static void
open_engine(void)
{
	char		path[MAXPGPATH];
	sigset_t	all;
	sigset_t	old;
	EngineStatus st;
	ledger_am::EngineOptions opts;

	snprintf(path, sizeof(path), "%s/%s", DataDir, LEDGER_STORAGE_DIR);
	opts = ledger_am::EngineDefaultOptions(path);
	opts.compression = engine_compression(ledger_compression);
	opts.row_compression = engine_compression(ledger_row_compression);
	opts.block_cache_bytes = block_cache_bytes();
	pg_atomic_write_u64(&ledger_channel->block_cache_bytes, opts.block_cache_bytes);
	opts.cache_policy = ledger_block_cache_policy == LEDGER_CACHE_LRU ? ledger_am::CachePolicy::kLru
		: ledger_am::CachePolicy::kClock;
	opts.write_buffer_bytes = (uint64) ledger_write_buffer_mb * 1024 * 1024;
	opts.logged_rows_skip_wal = ledger_debug_logged_rows_skip_wal;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	st = ledger_am::EngineOpen(opts);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!st.ok())
	{
		strlcpy(ledger_channel->start_message, st.message, sizeof(ledger_channel->start_message));
		pg_write_barrier();
		ledger_channel->start_code = static_cast<int32>(st.code);
		ereport(FATAL,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("ledger_am storage worker could not open \"%s\": %s", path, st.message)));
	}
	ledger_channel->start_code = 0;
}

/*
 * purge_lost_rows deletes rows whose xid Postgres is about to hand out
 * again. Rows reach RocksDB before any WAL record of their transaction needs
 * to be flushed; after a crash, recovery sets the next xid from the WAL it
 * found, so the xid of a transaction that crashed before its first WAL
 * flush is reused, and if that new transaction committed, the crashed one's
 * rows would appear. Nothing can read or write ledger_am rows before the
 * worker announces itself, so purging first closes the window. Only rows
 * above each table's frozen watermark are read (the unvacuumed tail).
 */
static void
purge_lost_rows(void)
{
	uint64		next_xid = U64FromFullTransactionId(ReadNextFullTransactionId());
	uint64		examined = 0;
	uint64		purged = 0;
	EngineStatus st = ledger_am::EnginePurgeLostRows(next_xid, &examined, &purged);

	if (!st.ok())
		ereport(FATAL,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ledger_am storage worker could not purge rows of lost transactions: %s",
						st.message)));
	if (purged > 0)
		elog(LOG, "ledger_am storage worker: removed " UINT64_FORMAT " rows of transactions lost in a crash "
			 "(xid >= " UINT64_FORMAT ", " UINT64_FORMAT " rows examined)", purged, next_xid, examined);
}

/*
 * sweep_dropped_databases removes the data of databases that no longer
 * exist: DROP DATABASE cleans up as it succeeds (mutation_guard.cc), but a
 * crash in between would leave the keys behind.
 */
static void
sweep_dropped_databases(void)
{
	uint32		dbs[4096];
	size_t		n = 0;
	bool		exists[lengthof(dbs)];
	EngineStatus st = ledger_am::EngineListDatabases(dbs, lengthof(dbs), &n);
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	if (!st.ok())
	{
		elog(LOG, "ledger_am storage worker: could not list databases to sweep: %s", st.message);
		return;
	}
	if (n == 0)
		return;
	memset(exists, 0, sizeof(exists));
	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Oid			dboid = ((Form_pg_database) GETSTRUCT(tup))->oid;

		for (size_t i = 0; i < n; i++)
			if (dbs[i] == dboid)
				exists[i] = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	for (size_t i = 0; i < n; i++)
	{
		if (exists[i])
			continue;
		st = ledger_am::EngineDropDatabase(dbs[i]);
		elog(LOG, "ledger_am storage worker: removed the data of dropped database %u%s%s",
			 dbs[i], st.ok() ? "" : ": ", st.ok() ? "" : st.message);
	}
}

extern "C" void
ledger_am_worker_main(Datum arg)
{
	uint32	   *sync_slots;
	uint32		nslots;

	pqsignal(SIGTERM, worker_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("ledger_am storage worker");

	if (ledger_channel == NULL)
		ereport(FATAL, (errmsg("ledger_am channel is not initialised")));
	nslots = ledger_channel->nslots;
	sync_slots = (uint32 *) palloc(sizeof(uint32) * nslots);
	slot_batches = (uint32 *) palloc0(sizeof(uint32) * nslots);
	slot_unlogged = (bool *) palloc0(sizeof(bool) * nslots);
	slot_logged_bytes = (uint64 *) palloc0(sizeof(uint64) * nslots);

	open_engine();
	on_shmem_exit(worker_exit, 0);
	/* Batches an OS crash took from RocksDB's WAL come back first. */
	rows_wal = ledger_am::RowsWalStart();
	purge_lost_rows();
	sync_thread = ledger_am::SyncThreadStart();
	if (!sync_thread)
		elog(LOG, "ledger_am storage worker: no group-commit thread, syncing inline");
	sweep_dropped_databases();
	{
		int			want = ledger_read_threads;

		if (want < 0)
			want = Max(1, (int) sysconf(_SC_NPROCESSORS_ONLN) - 1);
		if (ledger_am::ReadPoolStart(want, serve_read) < want)
			elog(LOG, "ledger_am storage worker: started fewer read threads than the %d asked for", want);
	}

	ledger_channel->worker_latch = MyLatch;
	/* The previous incarnation's reservations are gone. Before the new
	 * generation shows: a backend that claims a carried range reads the
	 * generation first, so a claim that wins against this reset names the
	 * old generation and its commit fails the generation check. */
	for (uint32 i = 0; i < ledger_channel->nslots; i++)
		pg_atomic_write_u32(&ledger_am::ChannelGetSlot(ledger_channel, i)->carry,
							ledger_am::kCarryNone);
	pg_memory_barrier();
	pg_atomic_fetch_add_u64(&ledger_channel->generation, 1);
	reset_stale_slots();
	ledger_channel->restart_code = 0;
	pg_write_barrier();
	pg_atomic_write_u32(&ledger_channel->worker_pid, (uint32) MyProcPid);
	elog(LOG, "ledger_am storage worker started (%u channel slots of %u kB, block cache " UINT64_FORMAT " MB, %s, %s, rows %s)",
		 nslots, ledger_channel->buffer_size / 1024,
		 pg_atomic_read_u64(&ledger_channel->block_cache_bytes) / (1024 * 1024),
		 ledger_block_cache_policy == LEDGER_CACHE_LRU ? "lru" : "clock",
		 rows_wal ? "rows logged in Postgres' WAL" : "commits sync RocksDB's WAL",
		 ledger_am::CompressionName(engine_compression(ledger_row_compression)));

	int			idle_passes = 0;
	TimestampTz pass_time = 0;
	TimestampTz *last_served = (TimestampTz *) palloc0(sizeof(TimestampTz) * nslots);
	bool		spinning = false;
	bool		drained;
	bool		lazy_unsynced = false;
	/* Written but unsynced rows to sync soon: the group-commit thread's
	 * lazy sync, or this loop's before it sleeps. */
	auto		note_lazy_sync = [&lazy_unsynced]() {
		if (sync_thread)
			ledger_am::SyncThreadNoteLazy();
		else
			lazy_unsynced = true;
	};
	TimestampTz spin_start = 0;
	TimestampTz stats_time = 0;

	while (!shutdown_requested)
	{
		uint32		nsync = 0;
		uint32		served = 0;

		ResetLatch(MyLatch);
		/* DROP DATABASE and friends wait for every backend to absorb a barrier. */
		if (ProcSignalBarrierPending)
			ProcessProcSignalBarrier();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* Rows waiting in rings go in at every pass, asked for or not. */
		drained = drain_rings();
		if (ledger_am::RowsWalAdvance())
			note_lazy_sync();
		for (uint32 i = 0; i < nslots; i++)
		{
			ChannelSlot *slot = ledger_am::ChannelGetSlot(ledger_channel, i);

			if (pg_atomic_read_u32(&slot->state) != ledger_am::kSlotPosted)
				continue;
			pg_read_barrier();
			if (served++ == 0)
				pass_time = GetCurrentTimestamp();
			last_served[i] = pass_time;
			drain_rings();
			if (slot->op == ledger_am::kOpSync)
			{
				sync_slots[nsync++] = i;
				continue;
			}
			if (queue_read(slot))
				continue;
			serve(slot);
			complete(slot);
		}

		/*
		 * Commits: the transaction's reservations end here (its rows are all
		 * applied: rings were drained before this request was looked at).
		 * The WAL sync runs on the group-commit thread, which answers every
		 * commit queued while its previous sync ran; the loop goes on.
		 */
		if (nsync > 0)
		{
			EngineStatus st = EngineStatus{EngineCode::kOk, ""};
			bool		synced = false;
			bool		logged = ledger_am::RowsWalLogger() != nullptr;
			bool		answer_now;

			for (uint32 j = 0; j < nsync; j++)
			{
				ChannelSlot *slot = ledger_am::ChannelGetSlot(ledger_channel, sync_slots[j]);

				end_reservations(slot, sync_slots[j]);
				if (slot->ring_error != 0)
				{
					EngineStatus rst;

					rst.code = static_cast<EngineCode>(slot->ring_error);
					strlcpy(rst.message, slot->ring_message, sizeof(rst.message));
					slot->data_len = 0;
					set_result(slot, rst);
					complete(slot);
					continue;
				}
				/* Rows logged in Postgres' WAL: the commit record, which
				 * Postgres flushes, follows them there. Or synchronous_commit
				 * = off, rows in one atomic write. Answered now, synced
				 * within kLazySyncMs. */
				answer_now = (logged && !slot_unlogged[sync_slots[j]]) ||
					(slot->arg1 == ledger_am::kSyncLazy && slot_batches[sync_slots[j]] <= 1);
				/* The transaction ends: its slot's counts start again. */
				slot_batches[sync_slots[j]] = 0;
				slot_unlogged[sync_slots[j]] = false;
				slot_logged_bytes[sync_slots[j]] = 0;
				if (answer_now)
				{
					slot->data_len = 0;
					set_result(slot, EngineStatus{EngineCode::kOk, ""});
					complete(slot);
					note_lazy_sync();
					continue;
				}
				if (sync_thread)
				{
					/* Taken: later passes must not see it as a new request. */
					pg_atomic_write_u32(&slot->state, ledger_am::kSlotTaken);
					ledger_am::SyncThreadEnqueue(slot);
					continue;
				}
				if (!synced)
				{
					st = ledger_am::EngineSync();
					synced = true;
				}
				slot->data_len = 0;
				set_result(slot, st);
				complete(slot);
			}
		}

		/*
		 * Reads queued in this pass or left from earlier ones: this thread
		 * serves one (no hand-over for a lone client) and wakes helpers for
		 * the rest. Then the next pass, so other requests wait for at most
		 * one read.
		 */
		if (ledger_am::ReadPoolServeOne())
			served++;

		/*
		 * A write or WAL sync failed (disk full, EIO): this RocksDB instance
		 * must not be written again (see g_write_failed in engine.cc). Every
		 * request of this pass has had its answer; the exit answers queued
		 * commits with the error and leaves the instance unclosed. Exit
		 * status 1 is not a crash: the postmaster starts a new worker after
		 * bgw_restart_time (1 s), which recovers the WAL and serves reads
		 * even while the disk stays full.
		 */
		if (ledger_am::EngineWriteFailed())
		{
			EngineStatus failure = ledger_am::EngineWriteFailure();

			strlcpy(ledger_channel->restart_message, failure.message,
					sizeof(ledger_channel->restart_message));
			pg_write_barrier();	/* message before code: clients read code first */
			ledger_channel->restart_code = static_cast<int32>(failure.code);
			ereport(LOG,
					(errmsg("ledger_am storage worker: a storage write failed, restarting the storage engine"),
					 errdetail("%s", failure.message)));
			proc_exit(1);
		}

		if (served > 0)
		{
			uint32		recent = 0;

			if (pass_time - stats_time >= kStatsIntervalUs)
			{
				publish_cache_usage();
				stats_time = pass_time;
			}

			for (uint32 j = 0; j < nslots; j++)
				if (last_served[j] > pass_time - kRecentClientUs)
					recent++;
			if (recent != pg_atomic_read_u32(&ledger_channel->recent_clients))
				pg_atomic_write_u32(&ledger_channel->recent_clients, recent);
			/* Not while a commit's WAL sync runs: the group-commit thread
			 * needs the other vCPU more than the next request does. */
			spinning = recent <= 1 && nsync == 0;
			spin_start = 0;
			continue;
		}

		/*
		 * Rows arrived unasked (a backend woke the worker with its first
		 * row, ChannelRingAppend): for a lone client, its commit follows
		 * within a few hundred microseconds, so poll for it as after a
		 * request.
		 */
		if (drained)
		{
			spinning = ledger_am::LoneClient(ledger_channel);
			spin_start = 0;
			if (spinning)
				continue;
		}

		/*
		 * Poll before sleeping while only one client is active: a
		 * lone client's next request usually follows within a few hundred
		 * microseconds (its query's own work), and waking a sleeping worker
		 * costs a signal and an idle vCPU's wake-up, measured at ~0.1-0.3 ms
		 * here: a quarter of a small range query. With several clients the
		 * worker is busy anyway and polling would steal their CPU.
		 */
		if (spinning)
		{
			if ((++idle_passes & 63) != 0)
			{
				pg_spin_delay();
				continue;
			}
			if (spin_start == 0)
				spin_start = GetCurrentTimestamp();
			if (GetCurrentTimestamp() - spin_start < kWorkerSpinUs)
			{
				pg_spin_delay();
				continue;
			}
		}
		spinning = false;
		idle_passes = 0;
		if (lazy_unsynced)
		{
			/* No group-commit thread: sync lazily answered commits before
			 * sleeping (a failure is handled like any failed write). */
			(void) ledger_am::EngineSync();
			lazy_unsynced = false;
			continue;
		}
		publish_cache_usage();
		/* Idle, it still passes once a second: RowsWalAdvance lets the
		 * slot follow WAL that other tables write. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L,
							 PG_WAIT_EXTENSION);
	}

	/* Exit status 1: if this was not a server shutdown (pg_terminate_backend,
	 * a stray SIGTERM), the postmaster starts a new worker after 1 s. */
	elog(LOG, "ledger_am storage worker shutting down");
	proc_exit(1);
}
