/*
 * channel.h: the shared-memory channel between client backends and the
 * storage worker.
 *
 * One slot per PGPROC number below MaxBackends (client backends, autovacuum
 * workers, background and parallel workers, walsenders). A slot carries one
 * request at a time: the backend fills the request fields and the data
 * buffer, sets state POSTED and the worker's latch; the worker processes it,
 * overwrites the same buffer with the response, sets state DONE and wakes
 * the backend if it sleeps on the state word (a futex, see
 * ChannelComplete). A request abandoned by an error or cancel stays POSTED
 * until the worker finishes it; the slot's next user waits for that first.
 *
 * Included by Postgres-side code only (backends and the worker's main loop).
 */
#ifndef LEDGER_AM_CHANNEL_CHANNEL_H
#define LEDGER_AM_CHANNEL_CHANNEL_H

extern "C" {
#include "postgres.h"
#include "port/atomics.h"
#include "storage/latch.h"
}

#include <climits>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "codec/keys.h"

namespace ledger_am {

enum SlotState : uint32
{
	kSlotIdle = 0,
	kSlotPosted = 1,
	kSlotDone = 2,
	kSlotTaken = 3,				/* accepted, answered later (queued commit) */
};

/* SlotBusy tells whether a slot holds a request not answered yet. */
inline bool
SlotBusy(uint32 state)
{
	return state == kSlotPosted || state == kSlotTaken;
}

enum ChannelOp : uint32
{
	kOpPing = 1,
	kOpAppend,		   /* arg1 = nrows; data = framed records; out1 = first row id */
	kOpGet,			   /* arg1 = row id; data out = one record */
	kOpScan,		   /* arg1 = from, arg2 = to, flags bit0 = backward; out1 = resume, out_flags bit0 = done */
	kOpSync,		   /* group-committed WAL sync */
	kOpDeleteRow,	   /* arg1 = row id, arg2 = expected xmin; data = the row's key blob */
	kOpDropTable,
	kOpDropDatabase,   /* arg1 = database oid */
	kOpNextRowId,	   /* out1 = next row id */
	kOpSetNextRowId,   /* arg1 = next row id (forward only) */
	kOpTableStats,	   /* out1 = bytes, out2 = stored rows */
	kOpCompactTable,
	kOpSetFrozen,	   /* arg1 = frozen watermark (forward only, synced) */
	kOpPutRangeKeys,   /* arg1 = nrows; data = records (row id, key blob) */
	kOpDropRangeKeys,  /* arg1 = declaration, arg2 = RangeDrop */
	kOpReserve,		   /* arg1 = n; out1 = first of n row ids reserved to this slot */
	kOpRelease,		   /* end this slot's reservations; clears a ring error */
	kOpRangeBounds,	   /* data = RangeScanRequest; out: out_count = 0, arg-less:
						* out1 = min row id, out2 = max row id, arg1 (out) = key count */
	kOpRangeScan,	   /* data = RangeScanRequest; arg1 = max rows; flags bit0 = backward;
						* out: records, out2 = resume key length (key at RangeResumeKey),
						* out_flags bit0 = done */
	kOpRowDictionary,  /* out1 = bytes of the table's row dictionary (0: none) */
	kOpRangeKeyCount,  /* out1 = range keys stored for the table */
};

/* OpIsRead tells whether a request only reads: a backend may send it again
 * to a restarted worker, and the worker counts no written batch for it. */
inline bool
OpIsRead(uint32 op)
{
	switch (op)
	{
		case kOpPing:
		case kOpGet:
		case kOpScan:
		case kOpNextRowId:
		case kOpTableStats:
		case kOpRowDictionary:
		case kOpRangeKeyCount:
		case kOpRangeScan:
		case kOpRangeBounds:
			return true;
		default:
			return false;
	}
}

/* The longest range key suffix (account + time + row id) the channel carries. */
constexpr uint32 kMaxRangeKeySuffix = 8192;

/*
 * A range scan request in a slot's data buffer:
 *   u8 space | u16 lo_len | lo | u16 hi_len | hi
 * The response's resume key is stored at the end of the buffer.
 */
inline char *
RangeResumeKey(char *data, uint32 buffer_size)
{
	return data + buffer_size - kMaxRangeKeySuffix;
}

/* kOpGet and kOpScan answer the table's frozen watermark in out2. */

/* arg1 of kOpSync: the commit runs with synchronous_commit = off, so the
 * worker may answer without waiting for the WAL sync when the transaction's
 * rows all went into RocksDB in one WriteBatch (see storage_worker.cc). */
constexpr uint64 kSyncLazy = 1;
constexpr uint32 kScanBackward = 1;
/* A kOpScan request flag: a sequential scan of a table larger than the block
 * cache, whose blocks are read without being cached (Postgres' bulk-read
 * ring in spirit): it would only evict what other reads need. */
constexpr uint32 kScanBulk = 2;
constexpr uint32 kScanDone = 1;

struct ChannelSlot
{
	pg_atomic_uint32 state;
	uint32		op;
	pg_atomic_uint32 client_sleeping;	/* the backend sleeps on the state word */
	pg_atomic_uint32 lent;		/* the worker lent part of the request to a
								 * second thread: the backend stops polling */
	uint64		generation;		/* worker generation the request was posted to */
	TableId		table;
	uint32		flags;
	uint64		arg1;
	uint64		arg2;
	/* kOpScan with kScanBulk: the scan's group, the pgprocno of the parallel
	 * leader or of the backend itself (bulk_scans.h) */
	uint32		scan_group;
	uint32		data_len;		/* request bytes in, response bytes out */
	/* response */
	int32		status;			/* EngineCode */
	uint32		out_flags;
	uint32		out_count;
	uint64		out1;
	uint64		out2;
	char		message[240];

	/*
	 * The append ring: rows a backend inserts with tuple_insert go here,
	 * unanswered, at row ids reserved to the slot (kOpReserve). The worker
	 * applies every ring's records before serving any request, so a row is
	 * stored before anyone (its own backend included) can ask for it.
	 */
	pg_atomic_uint64 ring_head;		/* bytes ever written (backend) */
	pg_atomic_uint64 ring_tail;		/* bytes ever applied (worker) */
	pg_atomic_uint32 ring_waiting;	/* backend waits for ring space */
	Latch	   *ring_latch;
	int32		ring_error;		/* first failure applying this ring (EngineCode), sticky */
	char		ring_message[240];

	/*
	 * A row id range carried from one transaction to the next (kCarry*): a
	 * commit's kOpSync names the table whose range its backend keeps, and
	 * the worker keeps it (kCarryIdle, carry_table) if ids are left. The
	 * backend's next transaction claims it (Idle -> Claimed) before using
	 * it; the worker takes idle ranges back (Idle -> None) before moving a
	 * frozen watermark or dropping storage. Whichever CAS wins decides.
	 */
	pg_atomic_uint32 carry;
	TableId		carry_table;	/* written by the worker before carry = Idle */
	/* data buffer follows (buffer_size bytes), then the ring (ring_size bytes) */
};

/* ChannelSlot.carry: no carried range, one kept and not claimed, claimed. */
constexpr uint32 kCarryNone = 0;
constexpr uint32 kCarryIdle = 1;
constexpr uint32 kCarryClaimed = 2;

/* A record in an append ring: header, row value, key blob (8-aligned). */
struct RingRecord
{
	uint32		total_len;		/* whole record, 8-aligned */
	uint32		value_len;		/* kRingWrap: skip to the ring's start */
	uint32		keys_len;
	uint32		reserved;
	TableId		table;
	uint32		pad;
	uint64		row_id;
};
static_assert(sizeof(RingRecord) == 40, "RingRecord layout");
constexpr uint32 kRingWrap = 0xFFFFFFFF;

struct ChannelControl
{
	pg_atomic_uint32 worker_pid;	/* 0 while no worker serves requests */
	pg_atomic_uint64 generation;	/* bumped at each worker start */
	pg_atomic_uint32 inflight;		/* requests posted and not yet answered */
	/* Distinct clients the worker served within the last few milliseconds.
	 * Worker and clients poll instead of sleeping only while it is <= 1: on
	 * 2 vCPUs, polling pays for a lone client and starves several. */
	pg_atomic_uint32 recent_clients;
	pg_atomic_uint64 lent_batches;	/* range scan batches split over two threads */
	pg_atomic_uint64 append_seq;	/* bumped after every ring append */
	Latch	   *worker_latch;
	/* The block cache's capacity, set by the worker when it opens RocksDB:
	 * a sequential scan of a larger table bypasses the cache (kScanBulk). */
	pg_atomic_uint64 block_cache_bytes;
	/* Bytes the block cache holds, published by the worker's main loop
	 * before it sleeps and every 100 ms while busy (worker_stats()). */
	pg_atomic_uint64 block_cache_used;
	pg_atomic_uint64 bulk_chunks;	/* scan chunks read without caching (kScanBulk) */
	/* What serving a point read (kOpGet) took lately, in nanoseconds (a
	 * moving average kept by the worker): a backend waiting for one yields
	 * its vCPU instead of sleeping only while this is short. */
	pg_atomic_uint32 get_ns;
	pg_atomic_uint64 yielded_gets;	/* point reads answered while their backend yielded */
	pg_atomic_uint64 reservations;	/* row id reservations served (kOpReserve) */
	/* Ring rows written after being logged in Postgres' WAL, and without
	 * (storage_worker.cc, drain_rings). */
	pg_atomic_uint64 wal_logged_rows;
	pg_atomic_uint64 wal_unlogged_rows;
	/* Why the previous worker exited, if it gave up after a failed write:
	 * the EngineCode (0: it did not) and the error, reported by the next
	 * worker to the requests the exit cut off. */
	int32		restart_code;
	char		restart_message[200];
	/* Why the last worker could not open the storage (0: it could), e.g.
	 * a completely full disk: what clients report while no worker runs. */
	int32		start_code;
	char		start_message[200];
	uint32		nslots;
	uint32		buffer_size;
	uint32		ring_size;
	Size		slot_stride;
	/* slots follow at offset ChannelSlotsOffset() */
};

/* LoneClient: whether at most one backend used the channel lately
 * (recent_clients). Then a backend polls for its answer and asks ahead, and
 * the worker lends a scan's second half to its idle helper: they use the
 * vCPU a lone client leaves idle. With more clients the CPUs are busy
 * anyway, and each of those only adds wake-ups. */
inline bool
LoneClient(ChannelControl *ch)
{
	return pg_atomic_read_u32(&ch->recent_clients) <= 1;
}

/* ChannelSlotsOffset is where slot 0 starts inside the control block. */
inline Size
ChannelSlotsOffset()
{
	return MAXALIGN(sizeof(ChannelControl));
}

/* ChannelSlotStride is the distance between slots for a given buffer size. */
inline Size
ChannelSlotStride(uint32 buffer_size, uint32 ring_size)
{
	return MAXALIGN(sizeof(ChannelSlot)) + MAXALIGN(buffer_size) + MAXALIGN(ring_size);
}

/* ChannelShmemSize is the shared memory the channel needs. */
inline Size
ChannelShmemSize(uint32 nslots, uint32 buffer_size, uint32 ring_size)
{
	return add_size(ChannelSlotsOffset(),
					mul_size(nslots, ChannelSlotStride(buffer_size, ring_size)));
}

/* ChannelGetSlot returns slot i. */
inline ChannelSlot *
ChannelGetSlot(ChannelControl *ctl, uint32 i)
{
	return reinterpret_cast<ChannelSlot *>(reinterpret_cast<char *>(ctl) + ChannelSlotsOffset() +
										   ctl->slot_stride * i);
}

/* ChannelSlotData returns a slot's data buffer. */
inline char *
ChannelSlotData(ChannelSlot *slot)
{
	return reinterpret_cast<char *>(slot) + MAXALIGN(sizeof(ChannelSlot));
}

} // namespace ledger_am

/* Set up by module.cc in shmem_startup_hook. */
extern ledger_am::ChannelControl *ledger_channel;

namespace ledger_am {

/*
 * ChannelStateWord is the slot's state as the futex word both sides use: a
 * backend waiting for its answer sleeps on it (FUTEX_WAIT while it still
 * reads POSTED or TAKEN) and the worker wakes it after writing DONE. The
 * slots live in shared memory mapped by every process, so the futex is
 * shared (not FUTEX_PRIVATE_FLAG). One syscall each way, where setting a
 * latch sends the sleeper a signal that its wait loop then has to drain:
 * measured in docs/architecture.md (The channel).
 */
inline uint32 *
ChannelStateWord(ChannelSlot *slot)
{
	return const_cast<uint32 *>(&slot->state.value);
}

/* ChannelComplete hands a served slot back to its backend. Safe from any
 * thread of the storage worker (atomics and a futex wake only). */
inline void
ChannelComplete(ChannelSlot *slot)
{
	pg_write_barrier();
	pg_atomic_write_u32(&slot->state, kSlotDone);
	/* a full barrier: the DONE store is visible before the flag is read,
	 * and the backend reads the state after setting its flag (Dekker) */
	pg_atomic_fetch_sub_u32(&ledger_channel->inflight, 1);
	if (pg_atomic_read_u32(&slot->client_sleeping) != 0)
		(void) syscall(SYS_futex, ChannelStateWord(slot), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ChannelSlotRing returns a slot's append ring. */
inline char *
ChannelSlotRing(ChannelSlot *slot)
{
	return ChannelSlotData(slot) + MAXALIGN(ledger_channel->buffer_size);
}

} // namespace ledger_am

#endif
