/*
 * tableam.cc: the ledger_am table access method callbacks.
 *
 * Runs in client backends. Rows live in the storage worker's RocksDB; every
 * callback here talks to it through the channel (channel_client.cc). Scans
 * stream rows in chunks (one request per chunk, stateless on the worker, so
 * an abandoned scan holds nothing there); visibility is decided here, with
 * Postgres' snapshots (visibility.cc). Row ids map to TIDs with at most 291
 * offsets per virtual block (codec/tid_map.h).
 *
 * Callbacks are named ledger_am_* and appear in TableAmRoutine order.
 * Only trivially destructible C++ types live in these frames: every call
 * below may ereport (longjmp).
 */
#include "backend/backend.h"
#include "backend/range.h"

extern "C" {
#include "access/heapam.h"
#include "access/multixact.h"
#include "access/relscan.h"
#include "access/tsmapi.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/storage.h"
#include "commands/defrem.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "postmaster/autovacuum.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/tidbitmap.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "storage/procarray.h"
#include "storage/fd.h"
#include "storage/smgr.h"
#include "common/relpath.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplesort.h"
}

#include <cmath>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <type_traits>

#include "codec/tid_map.h"

using ledger_am::ChannelSlot;
using ledger_am::EngineCode;
using ledger_am::RecordReader;
using ledger_am::RecordWriter;
using ledger_am::RowHeader;

static_assert(std::is_trivially_destructible<RecordReader>::value,
			  "backend frames may be longjmp'd over");
static_assert(std::is_trivially_destructible<RecordWriter>::value,
			  "backend frames may be longjmp'd over");

extern "C" {
PG_FUNCTION_INFO_V1(ledger_am_handler);
}

static const TableAmRoutine *ledger_routine(void);

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------
 */

ledger_am::TableId
LedgerTableIdFromNode(const RelFileNode &node)
{
	ledger_am::TableId t;

	t.spc = node.spcNode;
	t.db = node.dbNode;
	t.rel = node.relNode;
	return t;
}

ledger_am::TableId
LedgerTableId(Relation rel)
{
	return LedgerTableIdFromNode(rel->rd_node);
}

bool
RelationIsLedger(Relation rel)
{
	return rel != NULL && rel->rd_tableam == ledger_routine();
}

bool
RelidIsLedger(Oid relid)
{
	HeapTuple	tup;
	Oid			relam;
	char		relkind;
	Oid			amoid;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return false;
	relam = ((Form_pg_class) GETSTRUCT(tup))->relam;
	relkind = ((Form_pg_class) GETSTRUCT(tup))->relkind;
	ReleaseSysCache(tup);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW)
		return false;
	amoid = get_am_oid("ledger_am", true);
	return OidIsValid(amoid) && relam == amoid;
}

/* next_row_id asks the worker for the id the table's next row would get. */
static uint64
next_row_id(Relation rel)
{
	uint64		next;

	ChannelSimpleCall(ledger_am::kOpNextRowId, LedgerTableId(rel), 0, 0, &next, NULL,
					  "reading the table size");
	return next;
}

/*
 * ensure_virtual_segments makes md.c accept prefetches of virtual blocks.
 * Bitmap heap scans and ANALYZE call PrefetchBuffer on the table's main
 * fork for the blocks they visit, and md.c insists that every segment below
 * the target is a full 1 GB and the target's segment exists. Rows live in
 * RocksDB, so the segments are made sparse (ftruncate): they take no disk
 * blocks, and DROP TABLE removes them like any segment. pg_relation_size()
 * reports their apparent size; ledger_am.table_size() reports the real one.
 */
static void
ensure_virtual_segments(Relation rel, uint64 nblocks)
{
	char	   *path;
	uint64		last_seg;
	char		segpath[MAXPGPATH];
	struct stat st;

	if (nblocks <= RELSEG_SIZE)
		return;
	last_seg = (nblocks - 1) / RELSEG_SIZE;
	path = relpathperm(rel->rd_node, MAIN_FORKNUM);
	snprintf(segpath, sizeof(segpath), "%s." UINT64_FORMAT, path, last_seg);
	if (stat(segpath, &st) == 0)
		return;					/* segments are made in order: all there */
	for (uint64 seg = 0; seg <= last_seg; seg++)
	{
		int			fd;
		off_t		want = seg < last_seg ? (off_t) RELSEG_SIZE * BLCKSZ : 0;

		if (seg == 0)
			strlcpy(segpath, path, sizeof(segpath));
		else
			snprintf(segpath, sizeof(segpath), "%s." UINT64_FORMAT, path, seg);
		fd = OpenTransientFile(segpath, O_RDWR | O_CREAT | PG_BINARY);
		if (fd < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create virtual segment \"%s\": %m", segpath)));
		if (fstat(fd, &st) != 0 || (st.st_size < want && ftruncate(fd, want) != 0))
		{
			int			save_errno = errno;

			CloseTransientFile(fd);
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not extend virtual segment \"%s\": %m", segpath)));
		}
		CloseTransientFile(fd);
	}
	pfree(path);
}

/* decode_header reads a stored row's header or reports corruption. */
static void
decode_header(Relation rel, uint64 row_id, const char *value, uint32 len, RowHeader *hdr)
{
	if (!ledger_am::DecodeRowHeader(value, len, hdr))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ledger_am row " UINT64_FORMAT " of table \"%s\" has an invalid header",
						row_id, RelationGetRelationName(rel))));
}

/* check_conflict_out tells SSI about a row the snapshot cannot see. */
static void
check_conflict_out(Relation rel, const RowHeader &hdr, Snapshot snapshot)
{
	if (snapshot->snapshot_type == SNAPSHOT_MVCC && IsolationIsSerializable() &&
		!RowXminAborted(hdr))
		CheckForSerializableConflictOut(rel, RowXid(hdr), snapshot);
}

/* ------------------------------------------------------------------------
 * Scan descriptor and the chunk stream
 * ------------------------------------------------------------------------
 */

enum ScanPos
{
	kBeforeStart,
	kOnRow,
	kAfterEnd,
};

typedef struct LedgerScanDescData
{
	TableScanDescData base;
	ledger_am::TableId table;

	/* rows [lo, hi) of the scan (hi exclusive); tidrange scans narrow them */
	uint64		lo;
	uint64		hi;

	/* cursor position for sequential scans in either direction */
	ScanPos		pos;
	uint64		cur;

	/* the current chunk of records from the worker */
	char	   *chunk;
	Size		chunk_cap;
	Size		chunk_len;
	Size		chunk_pos;
	bool		chunk_valid;
	bool		chunk_backward;
	bool		chunk_done;		/* the requested range is exhausted */
	uint64		resume;			/* bound to continue the range from */
	uint64		frozen_below;	/* the table's frozen watermark, per chunk */
	uint64		range_lo;		/* current requested range */
	/* read-ahead: the next chunk of the range, requested while this one is read */
	bool		prefetching;
	bool		next_ready;
	char	   *next_chunk;
	Size		next_len;
	uint64		next_resume;
	uint64		next_frozen;
	bool		next_done;
	uint64		range_hi;

	bool		read_ahead;		/* plain sequential scans read ahead */
	bool		bulk;			/* a seq scan of a table larger than the block cache */

	/* parallel scans: the block range being read */
	ParallelBlockTableScanWorkerData pwork;
	bool		pinited;
	BlockNumber pblock;

	/* block-at-a-time scans (bitmap, sample, analyze) */
	BlockNumber block;
	uint64		nblocks;
	bool		sample_started;
	uint32		bitmap_idx;

	/* sample scans: the record read ahead of the sampler's offsets */
	bool		peek_valid;
	uint64		peek_row;
	const char *peek_value;
	uint32		peek_len;
}			LedgerScanDescData;

typedef LedgerScanDescData *LedgerScanDesc;

/* fetch_chunk requests rows [from, to) (in direction) from the worker. */
static void cancel_read_ahead(LedgerScanDesc s);

static void
fetch_chunk(LedgerScanDesc s, uint64 from, uint64 to, bool backward)
{
	ChannelSlot *slot;

	cancel_read_ahead(s);

	s->chunk_valid = true;
	s->chunk_backward = backward;
	s->chunk_len = 0;
	s->chunk_pos = 0;
	s->range_lo = from;
	s->range_hi = to;
	if (from >= to)
	{
		s->chunk_done = true;
		s->resume = backward ? from : to;
		return;
	}
	slot = ChannelScanRequest(s->table, from, to, backward, s->bulk);
	(void) ChannelCall(slot, ledger_am::kOpScan, "scanning a table");
	if (slot->data_len > s->chunk_cap)
	{
		ChannelEnd(slot);
		elog(ERROR, "ledger_am: scan chunk larger than the buffer");
	}
	ChannelTakeScanAnswer(slot, s->chunk, &s->chunk_len, &s->resume, &s->chunk_done, &s->frozen_below);
	ChannelEnd(slot);
}

/* absorb_next receives a read-ahead response into the scan's second buffer. */
static void
absorb_next(void *arg, ChannelSlot *slot)
{
	LedgerScanDesc s = (LedgerScanDesc) arg;

	ChannelTakeScanAnswer(slot, s->next_chunk, &s->next_len, &s->next_resume, &s->next_done, &s->next_frozen);
	s->next_ready = true;
	s->prefetching = false;
}

/* start_read_ahead asks for the chunk after the current one without
 * waiting: the worker reads it while this backend works through this one. */
static void
start_read_ahead(LedgerScanDesc s)
{
	ChannelSlot *slot;

	if (s->chunk_done || s->prefetching || s->next_ready)
		return;
	if (s->next_chunk == NULL)
		s->next_chunk = (char *) MemoryContextAlloc(GetMemoryChunkContext(s), s->chunk_cap);
	slot = ChannelScanRequest(s->table, s->chunk_backward ? s->range_lo : s->resume,
						s->chunk_backward ? s->resume : s->range_hi, s->chunk_backward, s->bulk);
	s->prefetching = true;
	ChannelPostAsync(slot, ledger_am::kOpScan, absorb_next, s);
}

/* cancel_read_ahead drops a read-ahead the scan no longer wants. */
static void
cancel_read_ahead(LedgerScanDesc s)
{
	ChannelAwaitAsyncOf(s);
	s->prefetching = false;
	s->next_ready = false;
}

/* continue_range fetches the next chunk of the current range; false when
 * the range is exhausted. */
static bool
continue_range(LedgerScanDesc s)
{
	if (!s->chunk_valid || s->chunk_done)
		return false;
	ChannelAwaitAsyncOf(s);
	s->prefetching = false;
	if (s->next_ready)
	{
		char	   *tmp = s->chunk;

		s->chunk = s->next_chunk;
		s->next_chunk = tmp;
		s->chunk_len = s->next_len;
		s->chunk_pos = 0;
		if (s->chunk_backward)
			s->range_hi = s->resume;
		else
			s->range_lo = s->resume;
		s->resume = s->next_resume;
		s->frozen_below = s->next_frozen;
		s->chunk_done = s->next_done;
		s->next_ready = false;
	}
	else if (s->chunk_backward)
		fetch_chunk(s, s->range_lo, s->resume, true);
	else
		fetch_chunk(s, s->resume, s->range_hi, false);
	if (s->read_ahead)
		start_read_ahead(s);
	return true;
}

/* next_record returns the next record of the current chunk, if any. */
static bool
next_record(LedgerScanDesc s, uint64 *row_id, const char **value, uint32 *len)
{
	RecordReader reader(s->chunk + s->chunk_pos, s->chunk_len - s->chunk_pos);

	if (!s->chunk_valid || s->chunk_pos >= s->chunk_len)
		return false;
	if (!reader.Next(row_id, value, len))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ledger_am received a malformed scan chunk")));
	s->chunk_pos += ledger_am::RecordSize(*len);
	return true;
}

/* next_record_in_range reads the current range through, chunk by chunk. */
static bool
next_record_in_range(LedgerScanDesc s, uint64 *row_id, const char **value, uint32 *len)
{
	for (;;)
	{
		if (next_record(s, row_id, value, len))
			return true;
		CHECK_FOR_INTERRUPTS();
		if (!continue_range(s))
			return false;
	}
}

/* next_parallel_record walks the blocks a parallel scan hands this process. */
static bool
next_parallel_record(LedgerScanDesc s, uint64 *row_id, const char **value, uint32 *len)
{
	ParallelBlockTableScanDesc pbscan = (ParallelBlockTableScanDesc) s->base.rs_parallel;

	for (;;)
	{
		BlockNumber blk;

		if (s->pinited && next_record_in_range(s, row_id, value, len))
			return true;
		if (!s->pinited)
		{
			table_block_parallelscan_startblock_init(s->base.rs_rd, &s->pwork, pbscan);
			s->pinited = true;
		}
		blk = table_block_parallelscan_nextpage(s->base.rs_rd, &s->pwork, pbscan);
		if (!BlockNumberIsValid(blk))
			return false;
		fetch_chunk(s, Max(s->lo, ledger_am::FirstRowIdOfBlock(blk)),
					Min(s->hi, ledger_am::FirstRowIdOfBlock(blk) + ledger_am::kRowsPerBlock), false);
	}
}

/* position_for sets up the chunk stream to continue from the scan position
 * in the given direction (sequential scans). */
static void
position_for(LedgerScanDesc s, bool backward)
{
	if (!backward)
	{
		uint64		from = s->pos == kBeforeStart ? s->lo : s->cur + 1;

		if (s->pos == kAfterEnd)
			from = s->hi;
		fetch_chunk(s, Max(from, s->lo), s->hi, false);
	}
	else
	{
		uint64		to = s->pos == kAfterEnd ? s->hi : s->cur;

		if (s->pos == kBeforeStart)
			to = s->lo;
		fetch_chunk(s, s->lo, Min(to, s->hi), true);
	}
	if (s->read_ahead)
		start_read_ahead(s);
}

/* ------------------------------------------------------------------------
 * Slot related callbacks
 * ------------------------------------------------------------------------
 */

static const TupleTableSlotOps *
ledger_am_slot_callbacks(Relation relation)
{
	return LedgerSlotOps();
}

/* ------------------------------------------------------------------------
 * Sequential scan callbacks
 * ------------------------------------------------------------------------
 */

/*
 * outgrows_block_cache says whether rel's rows are larger than the worker's
 * block cache. A sequential scan of such a table reads its blocks without
 * caching them (kScanBulk), as heap's scans of tables larger than a quarter
 * of shared_buffers cycle through a small ring of buffers: the scan could
 * not find its blocks cached next time anyway, and caching them would evict
 * the blocks point lookups and range scans need. A table that fits fills
 * the cache, so scanning it again reads memory. The size is an estimate,
 * like the planner's: ANALYZE's row count and average row width, plus the
 * stored row's headers (never analyzed: not bulk).
 */
static bool
outgrows_block_cache(Relation rel)
{
	uint64		cache = pg_atomic_read_u64(&ledger_channel->block_cache_bytes);
	double		rows = rel->rd_rel->reltuples;

	if (cache == 0 || rows <= 0)
		return false;
	return rows * (get_relation_data_width(RelationGetRelid(rel), NULL) + 32) > (double) cache;
}

static TableScanDesc
ledger_am_scan_begin(Relation relation, Snapshot snapshot, int nkeys, struct ScanKeyData *key,
					 ParallelTableScanDesc pscan, uint32 flags)
{
	LedgerScanDesc s = (LedgerScanDesc) palloc0(sizeof(LedgerScanDescData));

	if (nkeys > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ledger_am scans do not support scan keys")));
	RelationIncrementReferenceCount(relation);
	s->base.rs_rd = relation;
	s->base.rs_snapshot = snapshot;
	s->base.rs_nkeys = 0;
	s->base.rs_flags = flags;
	s->base.rs_parallel = pscan;
	s->table = LedgerTableId(relation);
	s->lo = 0;
	s->hi = ledger_am::kMaxRowId + 1;
	s->pos = kBeforeStart;
	s->chunk_cap = (Size) ledger_channel_buffer_kb * 1024;
	s->chunk = (char *) palloc(s->chunk_cap);
	s->block = InvalidBlockNumber;

	s->read_ahead = (flags & SO_TYPE_SEQSCAN) != 0 && pscan == NULL;
	s->bulk = (flags & SO_TYPE_SEQSCAN) != 0 && (flags & SO_ALLOW_STRAT) != 0 &&
		outgrows_block_cache(relation);
	if (flags & (SO_TYPE_SAMPLESCAN | SO_TYPE_BITMAPSCAN | SO_TYPE_ANALYZE))
	{
		s->nblocks = ledger_am::BlocksForRowCount(next_row_id(relation));
		ensure_virtual_segments(relation, s->nblocks);
	}

	/* Serializable: a scan reads "the whole table" (relation-level SIREAD lock). */
	if ((flags & (SO_TYPE_SEQSCAN | SO_TYPE_SAMPLESCAN | SO_TYPE_BITMAPSCAN | SO_TYPE_TIDRANGESCAN)) &&
		snapshot != NULL && IsMVCCSnapshot(snapshot))
		PredicateLockRelation(relation, snapshot);

	if (flags & SO_TEMP_SNAPSHOT)
		Assert(snapshot != NULL);
	return &s->base;
}

static void
ledger_am_scan_end(TableScanDesc sscan)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;

	cancel_read_ahead(s);
	RelationDecrementReferenceCount(s->base.rs_rd);
	if (s->base.rs_flags & SO_TEMP_SNAPSHOT)
		UnregisterSnapshot(s->base.rs_snapshot);
	if (s->next_chunk)
		pfree(s->next_chunk);
	pfree(s->chunk);
	pfree(s);
}

static void
ledger_am_scan_rescan(TableScanDesc sscan, struct ScanKeyData *key, bool set_params,
					  bool allow_strat, bool allow_sync, bool allow_pagemode)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;

	cancel_read_ahead(s);
	s->pos = kBeforeStart;
	s->chunk_valid = false;
	s->pinited = false;
	s->block = InvalidBlockNumber;
	s->sample_started = false;
	if (s->base.rs_flags & SO_TYPE_SAMPLESCAN)
		s->nblocks = ledger_am::BlocksForRowCount(next_row_id(s->base.rs_rd));
}

/* scan_next_visible returns the next visible row in direction, or false. */
static bool
scan_next_visible(LedgerScanDesc s, ScanDirection direction, TupleTableSlot *slot)
{
	bool		backward = ScanDirectionIsBackward(direction);
	Snapshot	snapshot = s->base.rs_snapshot;
	uint64		row_id;
	const char *value;
	uint32		len;
	RowHeader	hdr;

	if (ScanDirectionIsNoMovement(direction))
		return !TTS_EMPTY(slot);

	ExecClearTuple(slot);
	if (s->base.rs_parallel != NULL)
	{
		if (backward)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ledger_am parallel scans cannot move backward")));
		while (next_parallel_record(s, &row_id, &value, &len))
		{
			decode_header(s->base.rs_rd, row_id, value, len, &hdr);
			if (RowIsVisibleAt(row_id, s->frozen_below, hdr, snapshot))
			{
				RowStoreInSlot(slot, s->base.rs_rd, row_id, value, len);
				pgstat_count_heap_getnext(s->base.rs_rd);
				return true;
			}
			check_conflict_out(s->base.rs_rd, hdr, snapshot);
		}
		return false;
	}

	if (!s->chunk_valid || s->chunk_backward != backward)
		position_for(s, backward);
	while (next_record_in_range(s, &row_id, &value, &len))
	{
		s->pos = kOnRow;
		s->cur = row_id;
		decode_header(s->base.rs_rd, row_id, value, len, &hdr);
		if (RowIsVisibleAt(row_id, s->frozen_below, hdr, snapshot))
		{
			RowStoreInSlot(slot, s->base.rs_rd, row_id, value, len);
			pgstat_count_heap_getnext(s->base.rs_rd);
			return true;
		}
		check_conflict_out(s->base.rs_rd, hdr, snapshot);
	}
	s->pos = backward ? kBeforeStart : kAfterEnd;
	s->chunk_valid = false;
	return false;
}

static bool
ledger_am_scan_getnextslot(TableScanDesc sscan, ScanDirection direction, TupleTableSlot *slot)
{
	return scan_next_visible((LedgerScanDesc) sscan, direction, slot);
}

static void
ledger_am_scan_set_tidrange(TableScanDesc sscan, ItemPointer mintid, ItemPointer maxtid)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;
	BlockNumber minblk = ItemPointerGetBlockNumberNoCheck(mintid);
	OffsetNumber minoff = ItemPointerGetOffsetNumberNoCheck(mintid);
	BlockNumber maxblk = ItemPointerGetBlockNumberNoCheck(maxtid);
	OffsetNumber maxoff = ItemPointerGetOffsetNumberNoCheck(maxtid);
	uint64		lo;
	uint64		hi;

	/* Offsets outside 1..291 clamp to the block's edges. */
	lo = ledger_am::FirstRowIdOfBlock(minblk) +
		(minoff < 1 ? 0 : Min((uint64) minoff - 1, (uint64) ledger_am::kRowsPerBlock));
	if (maxoff < 1)
		hi = ledger_am::FirstRowIdOfBlock(maxblk);
	else
		hi = ledger_am::FirstRowIdOfBlock(maxblk) + Min((uint64) maxoff, (uint64) ledger_am::kRowsPerBlock);
	s->lo = lo;
	s->hi = Max(hi, lo);
	s->pos = kBeforeStart;
	s->chunk_valid = false;
}

static bool
ledger_am_scan_getnextslot_tidrange(TableScanDesc sscan, ScanDirection direction,
									TupleTableSlot *slot)
{
	return scan_next_visible((LedgerScanDesc) sscan, direction, slot);
}

/* ------------------------------------------------------------------------
 * Parallel aware scan callbacks: the block-based helpers over virtual blocks
 * ------------------------------------------------------------------------
 */

static Size
ledger_am_parallelscan_estimate(Relation rel)
{
	return table_block_parallelscan_estimate(rel);
}

static Size
ledger_am_parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan)
{
	return table_block_parallelscan_initialize(rel, pscan);
}

static void
ledger_am_parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan)
{
	table_block_parallelscan_reinitialize(rel, pscan);
}

/* ------------------------------------------------------------------------
 * Index scan callbacks: one row per request
 * ------------------------------------------------------------------------
 */

/*
 * Index fetches read ahead adaptively: when TIDs arrive in ascending row id
 * order close to each other (a btree over a time-ordered key: uuid_v7 event
 * ids, (account, ts) of a busy account, any range of a correlated column),
 * the next fetches are served from one chunk request; the window doubles
 * while that keeps paying off and falls back to single-row reads when
 * fetches jump around. Only for MVCC snapshots: a row missing from a chunk
 * was created after the chunk was read, i.e. after the scan's snapshot, so
 * the snapshot could not see it anyway.
 */
static const uint32 kMaxReadAhead = 256;
static const uint64 kReadAheadReach = 64;	/* "close": within this many ids */

typedef struct LedgerIndexFetchData
{
	IndexFetchTableData base;
	ledger_am::TableId table;
	uint64		last_row;		/* the previous fetch's row id (+1; 0 = none) */
	uint32		window;			/* rows to read at the next miss */
	/* the read-ahead chunk: rows with ids in [chunk_lo, chunk_hi) */
	uint64		chunk_lo;
	uint64		chunk_hi;
	uint64		frozen_below;
	char	   *chunk;
	Size		chunk_len;
	uint64	   *ids;			/* row id of each record in the chunk */
	uint32	   *offsets;		/* its offset */
	uint32		nrows;
	/* the chunk after it, asked for ahead (start_index_read_ahead) */
	char	   *next_chunk;
	Size		next_len;
	uint64		next_lo;
	uint64		next_hi;		/* as asked; as answered once next_ready */
	uint64		next_frozen;
	bool		requested;		/* in flight */
	bool		next_ready;		/* answered, in next_chunk */
}			LedgerIndexFetchData;

static void forget_index_read_ahead(LedgerIndexFetchData *f);

static IndexFetchTableData *
ledger_am_index_fetch_begin(Relation rel)
{
	LedgerIndexFetchData *f = (LedgerIndexFetchData *) palloc0(sizeof(LedgerIndexFetchData));

	f->base.rel = rel;
	f->table = LedgerTableId(rel);
	f->window = 1;
	return &f->base;
}

static void
ledger_am_index_fetch_reset(IndexFetchTableData *scan)
{
	LedgerIndexFetchData *f = (LedgerIndexFetchData *) scan;

	forget_index_read_ahead(f);
	f->chunk_lo = f->chunk_hi = 0;
	f->nrows = 0;
	f->last_row = 0;
	f->window = 1;
}

static void
ledger_am_index_fetch_end(IndexFetchTableData *scan)
{
	LedgerIndexFetchData *f = (LedgerIndexFetchData *) scan;

	forget_index_read_ahead(f);
	if (f->chunk)
		pfree(f->chunk);
	if (f->next_chunk)
		pfree(f->next_chunk);
	if (f->ids)
		pfree(f->ids);
	if (f->offsets)
		pfree(f->offsets);
	pfree(f);
}

/* index_chunk lists the records of the fetch's current chunk. */
static void
index_chunk(LedgerIndexFetchData *f)
{
	RecordReader reader(f->chunk, f->chunk_len);
	uint64		row_id;
	const char *value;
	uint32		len;
	Size		pos = 0;

	f->nrows = 0;
	while (f->nrows < kMaxReadAhead && reader.Next(&row_id, &value, &len))
	{
		f->ids[f->nrows] = row_id;
		f->offsets[f->nrows] = (uint32) pos;
		f->nrows++;
		pos += ledger_am::RecordSize(len);
	}
}

/* take_chunk_answer takes a kOpScan answer for rows [.., *hi) into dest; a
 * full buffer may stop early, and then *hi becomes where it stopped. */
static void
take_chunk_answer(ChannelSlot *slot, char *dest, Size *len, uint64 *frozen_below, uint64 *hi)
{
	uint64		resume;
	bool		done;

	ChannelTakeScanAnswer(slot, dest, len, &resume, &done, frozen_below);
	if (!done)
		*hi = resume;
}

/* read_ahead fills the fetch's chunk with rows [from, from + window). */
static void
read_ahead(LedgerIndexFetchData *f, uint64 from)
{
	ChannelSlot *slot;
	Size		cap = (Size) ledger_channel_buffer_kb * 1024;
	uint64		to = from + f->window;

	if (f->chunk == NULL)
	{
		f->chunk = (char *) MemoryContextAlloc(GetMemoryChunkContext(f), cap);
		f->ids = (uint64 *) MemoryContextAlloc(GetMemoryChunkContext(f), kMaxReadAhead * sizeof(uint64));
		f->offsets = (uint32 *) MemoryContextAlloc(GetMemoryChunkContext(f), kMaxReadAhead * sizeof(uint32));
	}
	slot = ChannelScanRequest(f->table, from, to, false, false);
	if (f->window == 1)
	{
		/* One row: a point read (one file, one block) beats an iterator's seek. */
		EngineCode	code = ChannelCall(slot, ledger_am::kOpGet, "fetching a row");

		f->chunk_len = code == EngineCode::kNotFound ? 0 : slot->data_len;
		memcpy(f->chunk, ledger_am::ChannelSlotData(slot), f->chunk_len);
		f->frozen_below = slot->out2;
		f->chunk_lo = from;
		f->chunk_hi = to;
	}
	else
	{
		(void) ChannelCall(slot, ledger_am::kOpScan, "fetching rows");
		f->chunk_lo = from;
		f->chunk_hi = to;
		take_chunk_answer(slot, f->chunk, &f->chunk_len, &f->frozen_below, &f->chunk_hi);
	}
	ChannelEnd(slot);
	index_chunk(f);
}

/* absorb_index_read_ahead takes a read-ahead answer into next_chunk. */
static void
absorb_index_read_ahead(void *arg, ChannelSlot *slot)
{
	LedgerIndexFetchData *f = (LedgerIndexFetchData *) arg;

	take_chunk_answer(slot, f->next_chunk, &f->next_len, &f->next_frozen, &f->next_hi);
	f->requested = false;
	f->next_ready = true;
}

/* forget_index_read_ahead drops a read-ahead (waiting for its answer: the
 * channel slot is needed again). */
static void
forget_index_read_ahead(LedgerIndexFetchData *f)
{
	ChannelAwaitAsyncOf(f);
	f->requested = false;
	f->next_ready = false;
}

/*
 * start_index_read_ahead asks for the rows after the current chunk without
 * waiting, once fetches walk forward through whole chunks: the worker then
 * reads them while this backend works through the current ones (a btree
 * range scan over a time-ordered column). Only while at most one client is
 * active; with more, the CPUs are busy anyway and the request would be one
 * more wake-up to pay for.
 */
static void
start_index_read_ahead(LedgerIndexFetchData *f)
{
	ChannelSlot *slot;
	uint32		window = Min(f->window * 2, kMaxReadAhead);

	if (f->window < 16 || f->requested || f->next_ready || !ledger_am::LoneClient(ledger_channel))
		return;
	if (f->next_chunk == NULL)
		f->next_chunk = (char *) MemoryContextAlloc(GetMemoryChunkContext(f),
													(Size) ledger_channel_buffer_kb * 1024);
	f->next_lo = f->chunk_hi;
	f->next_hi = f->chunk_hi + window;
	slot = ChannelScanRequest(f->table, f->next_lo, f->next_hi, false, false);
	f->requested = true;
	ChannelPostAsync(slot, ledger_am::kOpScan, absorb_index_read_ahead, f);
}

/* take_index_read_ahead makes the read-ahead the current chunk if it
 * covers row_id (waiting for it if needed); false if there is none or it
 * does not cover row_id (then it is dropped). */
static bool
take_index_read_ahead(LedgerIndexFetchData *f, uint64 row_id)
{
	char	   *tmp;

	if (!f->requested && !f->next_ready)
		return false;
	if (row_id < f->next_lo || row_id >= f->next_hi)
	{
		forget_index_read_ahead(f);
		return false;
	}
	ChannelAwaitAsyncOf(f);
	if (!f->next_ready || row_id >= f->next_hi)
	{
		/* dropped (a rolled-back subtransaction) or cut short by the buffer */
		f->requested = f->next_ready = false;
		return false;
	}
	tmp = f->chunk;
	f->chunk = f->next_chunk;
	f->next_chunk = tmp;
	f->chunk_len = f->next_len;
	f->chunk_lo = f->next_lo;
	f->chunk_hi = f->next_hi;
	f->frozen_below = f->next_frozen;
	f->next_ready = false;
	f->window = Min(f->window * 2, kMaxReadAhead);
	index_chunk(f);
	return true;
}

/* chunk_find returns the chunk index of row_id, or -1. */
static int
chunk_find(LedgerIndexFetchData *f, uint64 row_id)
{
	int			lo = 0;
	int			hi = (int) f->nrows - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (f->ids[mid] == row_id)
			return mid;
		if (f->ids[mid] < row_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* fetch_ahead serves an MVCC index fetch through the read-ahead chunk. */
static bool
fetch_ahead(LedgerIndexFetchData *f, uint64 row_id, ItemPointer tid, Snapshot snapshot,
			TupleTableSlot *slot)
{
	Relation	rel = f->base.rel;
	bool		near = f->last_row != 0 && row_id >= f->last_row && row_id - f->last_row < kReadAheadReach;
	int			idx;
	RowHeader	hdr;
	const char *value;
	uint32		len;
	MinimalTuple mtup;

	if (row_id < f->chunk_lo || row_id >= f->chunk_hi)
	{
		if (!take_index_read_ahead(f, row_id))
		{
			/* A miss: grow the window while fetches walk forward, else reset. */
			f->window = near ? Min(f->window * 2, kMaxReadAhead) : 1;
			read_ahead(f, row_id);
		}
		start_index_read_ahead(f);
	}
	f->last_row = row_id + 1;
	idx = chunk_find(f, row_id);
	if (idx < 0)
		return false;
	{
		RecordReader reader(f->chunk + f->offsets[idx], f->chunk_len - f->offsets[idx]);
		uint64		got;

		if (!reader.Next(&got, &value, &len) || got != row_id)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ledger_am received a malformed row chunk")));
	}
	decode_header(rel, row_id, value, len, &hdr);
	if (!RowIsVisibleAt(row_id, f->frozen_below, hdr, snapshot))
	{
		check_conflict_out(rel, hdr, snapshot);
		return false;
	}
	mtup = (MinimalTuple) MemoryContextAlloc(slot->tts_mcxt, len - ledger_am::kRowHeaderSize);
	memcpy(mtup, value + ledger_am::kRowHeaderSize, len - ledger_am::kRowHeaderSize);
	LedgerStoreMinimalTuple(mtup, slot, true);
	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = *tid;
	PredicateLockTID(rel, tid, snapshot, RowXid(hdr));
	return true;
}

/* fetch_row reads one row by id; on success *hdr and a copy of the
 * MinimalTuple (in the slot's memory context) are returned. */
static bool
fetch_row(Relation rel, uint64 row_id, RowHeader *hdr, MinimalTuple *mtup, uint64 *frozen_below)
{
	ChannelSlot *slot = ChannelBegin();
	uint64		got_id;
	const char *value;
	uint32		len;
	EngineCode	code;

	slot->table = LedgerTableId(rel);
	slot->arg1 = row_id;
	slot->flags = 0;
	slot->data_len = 0;
	code = ChannelCall(slot, ledger_am::kOpGet, "fetching a row");
	if (code == EngineCode::kNotFound)
	{
		ChannelEnd(slot);
		return false;
	}
	{
		RecordReader reader(ledger_am::ChannelSlotData(slot), slot->data_len);

		if (!reader.Next(&got_id, &value, &len) || got_id != row_id ||
			!ledger_am::DecodeRowHeader(value, len, hdr) ||
			len < ledger_am::kRowHeaderSize + SizeofMinimalTupleHeader)
		{
			ChannelEnd(slot);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ledger_am row " UINT64_FORMAT " of table \"%s\" is malformed",
							row_id, RelationGetRelationName(rel))));
		}
		*frozen_below = slot->out2;
		*mtup = (MinimalTuple) palloc(len - ledger_am::kRowHeaderSize);
		memcpy(*mtup, value + ledger_am::kRowHeaderSize, len - ledger_am::kRowHeaderSize);
	}
	ChannelEnd(slot);
	return true;
}

/* fetch_visible fetches the row at tid into slot if snapshot sees it. */
static bool
fetch_visible(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot)
{
	uint64		row_id;
	RowHeader	hdr;
	MinimalTuple mtup;
	MemoryContext old;
	bool		found;
	uint64		frozen_below;

	if (!ItemPointerToRowId(tid, &row_id))
		return false;
	old = MemoryContextSwitchTo(slot->tts_mcxt);
	found = fetch_row(rel, row_id, &hdr, &mtup, &frozen_below);
	MemoryContextSwitchTo(old);
	if (!found)
		return false;
	if (!RowIsVisibleAt(row_id, frozen_below, hdr, snapshot))
	{
		check_conflict_out(rel, hdr, snapshot);
		pfree(mtup);
		return false;
	}
	LedgerStoreMinimalTuple(mtup, slot, true);
	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = *tid;
	if (IsMVCCSnapshot(snapshot))
		PredicateLockTID(rel, tid, snapshot, RowXid(hdr));
	return true;
}

static bool
ledger_am_index_fetch_tuple(struct IndexFetchTableData *scan, ItemPointer tid, Snapshot snapshot,
							TupleTableSlot *slot, bool *call_again, bool *all_dead)
{
	LedgerIndexFetchData *f = (LedgerIndexFetchData *) scan;
	uint64		row_id;
	bool		found;

	/* Rows are never updated: no HOT chains, nothing ever "all dead". */
	*call_again = false;
	if (all_dead)
		*all_dead = false;
	if (snapshot->snapshot_type == SNAPSHOT_MVCC)
	{
		if (!ItemPointerToRowId(tid, &row_id))
			return false;
		found = fetch_ahead(f, row_id, tid, snapshot, slot);
	}
	else
		found = fetch_visible(scan->rel, tid, snapshot, slot);
	if (found)
	{
		pgstat_count_heap_fetch(scan->rel);
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Callbacks for non-modifying operations on individual tuples
 * ------------------------------------------------------------------------
 */

static bool
ledger_am_tuple_fetch_row_version(Relation relation, ItemPointer tid, Snapshot snapshot,
								  TupleTableSlot *slot)
{
	return fetch_visible(relation, tid, snapshot, slot);
}

static bool
ledger_am_tuple_tid_valid(TableScanDesc scan, ItemPointer tid)
{
	uint64		row_id;

	return ItemPointerToRowId(tid, &row_id);
}

static void
ledger_am_tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid)
{
	/* Rows are never updated: every TID is its own latest version. */
}

static bool
ledger_am_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot, Snapshot snapshot)
{
	uint64		row_id;
	RowHeader	hdr;
	MinimalTuple mtup;
	bool		visible;
	uint64		frozen_below;

	if (!ItemPointerToRowId(&slot->tts_tid, &row_id))
		return false;
	if (!fetch_row(rel, row_id, &hdr, &mtup, &frozen_below))
		return false;
	visible = RowIsVisibleAt(row_id, frozen_below, hdr, snapshot);
	pfree(mtup);
	return visible;
}

static TransactionId
ledger_am_index_delete_tuples(Relation rel, TM_IndexDeleteOp *delstate)
{
	/* No row is ever deleted under an index entry's feet: nothing to free. */
	for (int i = 0; i < delstate->ndeltids; i++)
		delstate->status[delstate->deltids[i].id].knowndeletable = false;
	return InvalidTransactionId;
}

/* ------------------------------------------------------------------------
 * Manipulations of physical tuples
 * ------------------------------------------------------------------------
 */

/* max_row_record is the largest framed row: every reader (range scans keep
 * room for a resume key) must be able to receive it in one buffer. */
static Size
max_row_record(void)
{
	return (Size) ledger_channel_buffer_kb * 1024 - ledger_am::kMaxRangeKeySuffix;
}

/* write_rows ships rows to the worker, in as few requests as fit the
 * channel buffer, and sets each slot's TID. The rows carry this
 * (sub)transaction's xid and cid; they become visible to others only when
 * that xid commits. */
static void
write_rows(Relation rel, TupleTableSlot **slots, int nslots, CommandId cid)
{
	FullTransactionId fxid = GetCurrentFullTransactionId();
	uint64		xmin = U64FromFullTransactionId(fxid);
	ledger_am::TableId table = LedgerTableId(rel);
	Size		cap = (Size) ledger_channel_buffer_kb * 1024;
	MemoryContext tmpcxt;
	MemoryContext old;
	int			i = 0;

	const RangeDecl *decl = RangeDeclGet(rel);

	CheckForSerializableConflictIn(rel, NULL, InvalidBlockNumber);
	LedgerNoteWrite();

	tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "ledger_am insert",
								   ALLOCSET_DEFAULT_SIZES);
	while (i < nslots)
	{
		ChannelSlot *cslot = ChannelBegin();
		RecordWriter writer(ledger_am::ChannelSlotData(cslot), cap);
		int			first_slot = i;
		uint64		first_id;

		while (i < nslots)
		{
			MinimalTuple mtup;
			Size		vlen;
			Size		need;
			char	   *dst;
			StringInfoData keys;

			old = MemoryContextSwitchTo(tmpcxt);
			vlen = RowFormValue(rel, slots[i], &mtup);
			keys.len = 0;
			if (decl != NULL)
			{
				initStringInfo(&keys);
				RangeKeysForSlot(decl, slots[i], &keys);
			}
			MemoryContextSwitchTo(old);
			need = ledger_am::RecordSize(vlen) + (keys.len > 0 ? ledger_am::RecordSize(keys.len) : 0);
			/* A row (with its range keys) must fit one buffer a reader can receive. */
			if (need > max_row_record())
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("row is too big for ledger_am table \"%s\": %zu bytes, maximum %zu",
								RelationGetRelationName(rel),
								vlen + (keys.len > 0 ? ledger_am::RecordSize(keys.len) : 0),
								max_row_record() - ledger_am::kRecordHeaderSize),
						 keys.len > 0 ? errdetail("The size includes the row's %d bytes of range keys.", keys.len) : 0,
						 errhint("Raise ledger_am.channel_buffer_kb (needs a restart).")));
			if (!writer.Fits(need - ledger_am::kRecordHeaderSize))
				break;			/* the next request takes it */
			dst = writer.Append(0, (uint32) vlen);
			ledger_am::EncodeRowHeader(dst, xmin, cid);
			memcpy(dst + ledger_am::kRowHeaderSize, mtup, mtup->t_len);
			if (keys.len > 0)
				memcpy(writer.Append(ledger_am::kKeyBlobRecord, (uint32) keys.len), keys.data, keys.len);
			MemoryContextReset(tmpcxt);
			i++;
		}
		cslot->table = table;
		cslot->arg1 = (uint64) (i - first_slot);
		cslot->flags = 0;
		cslot->data_len = (uint32) writer.used();
		(void) ChannelCall(cslot, ledger_am::kOpAppend, "appending rows");
		first_id = cslot->out1;
		ChannelEnd(cslot);
		for (int j = first_slot; j < i; j++)
		{
			RowIdToItemPointer(first_id + (uint64) (j - first_slot), &slots[j]->tts_tid);
			slots[j]->tts_tableOid = RelationGetRelid(rel);
		}
	}
	MemoryContextDelete(tmpcxt);
	pgstat_count_heap_insert(rel, nslots);
}

/* Scratch memory for one tuple_insert, reset at each call. */
static MemoryContext insert_cxt = NULL;

/*
 * insert_one queues one row in this backend's append ring at a row id
 * reserved to the transaction: no round trip per row. The worker stores
 * ring rows before serving any request, so a unique check in another
 * backend that finds our index entry also finds the row (and waits for our
 * xid). Rows too big for the ring take the direct path.
 */
static void
insert_one(Relation rel, TupleTableSlot *slot, CommandId cid)
{
	const RangeDecl *decl = RangeDeclGet(rel);
	ledger_am::TableId table = LedgerTableId(rel);
	MemoryContext old;
	MinimalTuple mtup;
	StringInfoData keys;
	Size		vlen;
	Size		need;
	uint64		row_id;
	ItemPointerData tid;

	if (insert_cxt == NULL)
		insert_cxt = AllocSetContextCreate(TopMemoryContext, "ledger_am insert",
										   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(insert_cxt);
	old = MemoryContextSwitchTo(insert_cxt);
	vlen = RowFormValue(rel, slot, &mtup);
	keys.len = 0;
	keys.data = NULL;
	if (decl != NULL)
	{
		initStringInfo(&keys);
		RangeKeysForSlot(decl, slot, &keys);
	}
	MemoryContextSwitchTo(old);

	need = sizeof(ledger_am::RingRecord) + ledger_am::Align8(vlen) + ledger_am::Align8(keys.len);
	if (need > ledger_channel->ring_size / 2 || ledger_am::RecordSize(vlen) > max_row_record())
	{
		write_rows(rel, &slot, 1, cid);
		return;
	}

	CheckForSerializableConflictIn(rel, NULL, InvalidBlockNumber);
	LedgerNoteWrite();
	row_id = LedgerReserveRowId(table);
	RowIdToItemPointer(row_id, &tid);
	ChannelRingAppend(table, row_id, U64FromFullTransactionId(GetCurrentFullTransactionId()), cid,
					  mtup, keys.data, (uint32) keys.len);
	slot->tts_tid = tid;
	slot->tts_tableOid = RelationGetRelid(rel);
	pgstat_count_heap_insert(rel, 1);
}

static void
ledger_am_tuple_insert(Relation relation, TupleTableSlot *slot, CommandId cid, int options,
					   struct BulkInsertStateData *bistate)
{
	insert_one(relation, slot, cid);
}

static void
ledger_am_tuple_insert_speculative(Relation relation, TupleTableSlot *slot, CommandId cid,
								   int options, struct BulkInsertStateData *bistate,
								   uint32 specToken)
{
	/* Stored before anyone can ask: a concurrent unique check waits for our xid. */
	insert_one(relation, slot, cid);
}

uint64
LedgerFrozenBelow(Relation rel)
{
	ChannelSlot *slot = ChannelScanRequest(LedgerTableId(rel), 0, 0, false, false);
	uint64		frozen_below;

	(void) ChannelCall(slot, ledger_am::kOpScan, "reading the frozen watermark");
	frozen_below = slot->out2;
	ChannelEnd(slot);
	return frozen_below;
}

/*
 * remove_row removes row row_id, written by transaction xmin, together with
 * the range keys its insert wrote: the blob is computed again from the row
 * in slot (the declared columns cannot have changed: rows are immutable, and
 * a new declaration drops the old one's keys). Without them, an aborted
 * row's keys would stay in the key spaces until the table is dropped, read
 * and skipped by every range scan passing them.
 */
static void
remove_row(Relation rel, uint64 row_id, uint64 xmin, TupleTableSlot *slot, const char *context)
{
	const RangeDecl *decl = RangeDeclGet(rel);
	StringInfoData keys;

	initStringInfo(&keys);
	if (decl != NULL)
		RangeKeysForSlot(decl, slot, &keys, true);
	/* The row's insert sent the same blob: it fits the channel buffer. */
	ChannelDataCall(ledger_am::kOpDeleteRow, LedgerTableId(rel), row_id, xmin, keys.data, keys.len,
					NULL, NULL, context);
	pfree(keys.data);
}

static void
ledger_am_tuple_complete_speculative(Relation relation, TupleTableSlot *slot, uint32 specToken,
									 bool succeeded)
{
	uint64		row_id;

	if (succeeded)
		return;
	/* ON CONFLICT lost a race: take back our own row so no one waits on it. */
	if (ItemPointerToRowId(&slot->tts_tid, &row_id))
		remove_row(relation, row_id, U64FromFullTransactionId(GetCurrentFullTransactionId()), slot,
				   "withdrawing a speculative insertion");
}

/*
 * ledger_am_multi_insert (COPY) reserves the batch's row ids in one request
 * and queues the rows in the append ring: the worker stores one part of the
 * batch while this backend forms the next and inserts index entries, on two
 * cores at once. Rows too big for the ring go the direct way (their reserved
 * id is simply skipped).
 */
static void
ledger_am_multi_insert(Relation relation, TupleTableSlot **slots, int ntuples, CommandId cid,
					   int options, struct BulkInsertStateData *bistate)
{
	const RangeDecl *decl = RangeDeclGet(relation);
	ledger_am::TableId table = LedgerTableId(relation);
	uint64		xmin;
	uint64		first;
	int			queued = 0;

	if (ntuples <= 0)
		return;
	if (insert_cxt == NULL)
		insert_cxt = AllocSetContextCreate(TopMemoryContext, "ledger_am insert",
										   ALLOCSET_DEFAULT_SIZES);
	CheckForSerializableConflictIn(relation, NULL, InvalidBlockNumber);
	LedgerNoteWrite();
	xmin = U64FromFullTransactionId(GetCurrentFullTransactionId());
	first = LedgerReserveRowIds(table, (uint64) ntuples);
	/* Every id of the block must have a TID before anything is queued. */
	RowIdToItemPointer(first + (uint64) (ntuples - 1), &slots[0]->tts_tid);

	for (int i = 0; i < ntuples; i++)
	{
		MemoryContext old;
		MinimalTuple mtup;
		StringInfoData keys;
		Size		vlen;
		Size		need;

		MemoryContextReset(insert_cxt);
		old = MemoryContextSwitchTo(insert_cxt);
		vlen = RowFormValue(relation, slots[i], &mtup);
		keys.len = 0;
		keys.data = NULL;
		if (decl != NULL)
		{
			initStringInfo(&keys);
			RangeKeysForSlot(decl, slots[i], &keys);
		}
		MemoryContextSwitchTo(old);
		need = sizeof(ledger_am::RingRecord) + ledger_am::Align8(vlen) + ledger_am::Align8(keys.len);
		if (need > ledger_channel->ring_size / 2 || ledger_am::RecordSize(vlen) > max_row_record())
		{
			write_rows(relation, &slots[i], 1, cid);
			continue;
		}
		ChannelRingAppend(table, first + (uint64) i, xmin, cid, mtup, keys.data, (uint32) keys.len);
		RowIdToItemPointer(first + (uint64) i, &slots[i]->tts_tid);
		slots[i]->tts_tableOid = RelationGetRelid(relation);
		queued++;
	}
	MemoryContextReset(insert_cxt);
	pgstat_count_heap_insert(relation, queued);	/* write_rows counted its own */
}

static TM_Result
ledger_am_tuple_delete(Relation relation, ItemPointer tid, CommandId cid, Snapshot snapshot,
					   Snapshot crosscheck, bool wait, TM_FailureData *tmfd, bool changingPart)
{
	LedgerRefuse(relation, "DELETE");
}

static TM_Result
ledger_am_tuple_update(Relation relation, ItemPointer otid, TupleTableSlot *slot, CommandId cid,
					   Snapshot snapshot, Snapshot crosscheck, bool wait, TM_FailureData *tmfd,
					   LockTupleMode *lockmode, bool *update_indexes)
{
	LedgerRefuse(relation, "UPDATE");
}

static TM_Result
ledger_am_tuple_lock(Relation relation, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot,
					 CommandId cid, LockTupleMode mode, LockWaitPolicy wait_policy, uint8 flags,
					 TM_FailureData *tmfd)
{
	/*
	 * FOR KEY SHARE (what foreign keys take on a referenced row) only keeps a
	 * row from being deleted or its key changed, which an immutable row
	 * guarantees anyway: grant it. Stronger locks announce a modification.
	 */
	if (mode != LockTupleKeyShare)
		LedgerRefuse(relation, mode == LockTupleShare ? "SELECT FOR SHARE" :
					 mode == LockTupleNoKeyExclusive ? "SELECT FOR NO KEY UPDATE" :
					 "SELECT FOR UPDATE");
	if (!fetch_visible(relation, tid, snapshot, slot))
		return TM_Invisible;
	return TM_Ok;
}

static void
ledger_am_finish_bulk_insert(Relation relation, int options)
{
	/* Rows were shipped as they came; durability is settled at commit. */
}

/* ------------------------------------------------------------------------
 * DDL related callbacks
 * ------------------------------------------------------------------------
 */

static void
ledger_am_relation_set_new_filenode(Relation rel, const RelFileNode *newrnode, char persistence,
									TransactionId *freezeXid, MultiXactId *minmulti)
{
	SMgrRelation srel;
	ledger_am::TableId table = LedgerTableIdFromNode(*newrnode);

	/* A new relation arrives with its own node; anything else is TRUNCATE. */
	if (!RelFileNodeEquals(rel->rd_node, *newrnode))
		LedgerRefuse(rel, "TRUNCATE");
	if (persistence != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ledger_am does not support %s tables",
						persistence == RELPERSISTENCE_TEMP ? "temporary" : "unlogged"),
				 errdetail("ledger_am stores rows durably in its own storage; "
						   "temporary and unlogged ledgers are not supported."),
				 errhint("Create the table without TEMPORARY or UNLOGGED, or use the heap access method.")));

	*freezeXid = RecentXmin;
	*minmulti = GetOldestMultiXactId();

	/* An empty main fork, as heap has: md.c and tools expect the file. */
	srel = RelationCreateStorage(*newrnode, persistence, true);
	smgrclose(srel);

	/* A new relfilenode never has rows: clear leftovers of an old table that
	 * had the same number (e.g. dropped while the worker was down). */
	ChannelSimpleCall(ledger_am::kOpDropTable, table, 0, 0, NULL, NULL, "creating a table");
	LedgerNoteCreatedStorage(table);
}

static void
ledger_am_relation_nontransactional_truncate(Relation rel)
{
	LedgerRefuse(rel, "TRUNCATE");
}

static void
ledger_am_relation_copy_data(Relation rel, const RelFileNode *newrnode)
{
	LedgerRefuse(rel, "ALTER TABLE SET TABLESPACE");
}

static void
ledger_am_relation_copy_for_cluster(Relation OldTable, Relation NewTable, Relation OldIndex,
									bool use_sort, TransactionId OldestXmin,
									TransactionId *xid_cutoff, MultiXactId *multi_cutoff,
									double *num_tuples, double *tups_vacuumed,
									double *tups_recently_dead)
{
	LedgerRefuse(OldTable, "VACUUM FULL or CLUSTER");
}

/* Row ids VACUUM removed, sorted, for the index bulk-delete callback. */
typedef struct DeadRows
{
	uint64	   *ids;
	int			n;
	int			max;
}			DeadRows;

/* dead_row_callback tells index_bulk_delete whether an index entry points
 * at a row VACUUM removed. */
static bool
dead_row_callback(ItemPointer itemptr, void *state)
{
	DeadRows   *dead = (DeadRows *) state;
	uint64		row_id;
	int			lo = 0;
	int			hi;

	if (!ItemPointerToRowId(itemptr, &row_id))
		return false;
	hi = dead->n - 1;
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (dead->ids[mid] == row_id)
			return true;
		if (dead->ids[mid] < row_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* vacuum_indexes removes the index entries of removed rows. */
static void
vacuum_indexes(Relation rel, DeadRows *dead, BufferAccessStrategy bstrategy)
{
	Relation   *indrels;
	int			nindexes;

	vac_open_indexes(rel, RowExclusiveLock, &nindexes, &indrels);
	for (int i = 0; i < nindexes; i++)
	{
		IndexVacuumInfo ivinfo;
		IndexBulkDeleteResult *stats;

		memset(&ivinfo, 0, sizeof(ivinfo));
		ivinfo.index = indrels[i];
		ivinfo.analyze_only = false;
		ivinfo.report_progress = false;
		ivinfo.estimated_count = true;
		ivinfo.message_level = DEBUG2;
		ivinfo.num_heap_tuples = rel->rd_rel->reltuples;
		ivinfo.strategy = bstrategy;
		stats = index_bulk_delete(&ivinfo, NULL, dead_row_callback, dead);
		stats = index_vacuum_cleanup(&ivinfo, stats);
		if (stats)
			pfree(stats);
	}
	vac_close_indexes(nindexes, indrels, NoLock);
}

/*
 * oldest_xmin_among returns the oldest normal xmin of the rows with ids in
 * [from, to) (rows of aborted transactions aside), or bound if it is older:
 * what relfrozenxid may not pass while those rows lie above the watermark.
 */
static TransactionId
oldest_xmin_among(Relation rel, uint64 from, uint64 to, TransactionId bound)
{
	TableScanDesc scan = table_beginscan_strat(rel, SnapshotAny, 0, NULL, true, false);
	LedgerScanDesc s = (LedgerScanDesc) scan;
	uint64		row_id;
	const char *value;
	uint32		len;
	RowHeader	hdr;

	s->lo = from;
	s->hi = to;
	position_for(s, false);
	while (next_record_in_range(s, &row_id, &value, &len))
	{
		TransactionId xmin;

		decode_header(rel, row_id, value, len, &hdr);
		xmin = RowXid(hdr);
		if (TransactionIdIsNormal(xmin) && !RowXminAborted(hdr) &&
			TransactionIdPrecedes(xmin, bound))
			bound = xmin;
	}
	table_endscan(scan);
	return bound;
}

/*
 * ledger_am_relation_vacuum: rows are never updated, so VACUUM has two jobs.
 * It removes rows of aborted (or crashed) transactions, with their index
 * entries, and it moves the table's frozen watermark: the row id below which
 * every row is committed and visible to every snapshot. Rows are appended in
 * id order, so each VACUUM only reads the rows added since the last one. The
 * watermark (synced) lets relfrozenxid advance, so pg_xact can be truncated:
 * rows below it are never looked up in pg_xact again.
 */
static void
ledger_am_relation_vacuum(Relation rel, struct VacuumParams *params, BufferAccessStrategy bstrategy)
{
	TransactionId oldest_xmin;
	MultiXactId oldest_mxact;
	TransactionId freeze_limit;
	MultiXactId multi_cutoff;
	TransactionId new_frozen_xid;
	ledger_am::TableId table = LedgerTableId(rel);
	TableScanDesc scan;
	LedgerScanDesc s;
	uint64		start;
	uint64		new_frozen;
	uint64		live = 0;
	bool		blocked = false;
	DeadRows	dead = {NULL, 0, 0};
	TupleTableSlot *dead_slot;
	uint64		row_id;
	const char *value;
	uint32		len;
	RowHeader	hdr;
	bool		frozenxid_updated;
	bool		minmulti_updated;

	int			dead_ids_budget_kb = (IsAutoVacuumWorkerProcess() && autovacuum_work_mem != -1)
		? autovacuum_work_mem : maintenance_work_mem;

	(void) vacuum_set_xid_limits(rel, params->freeze_min_age, params->freeze_table_age,
								 params->multixact_freeze_min_age,
								 params->multixact_freeze_table_age, &oldest_xmin, &oldest_mxact,
								 &freeze_limit, &multi_cutoff);
	new_frozen_xid = oldest_xmin;

	scan = table_beginscan_strat(rel, SnapshotAny, 0, NULL, true, false);
	s = (LedgerScanDesc) scan;
	dead_slot = table_slot_create(rel, NULL);
	/* The first chunk tells the current watermark; read on from there. */
	fetch_chunk(s, 0, 1, false);
	start = s->frozen_below;
	s->lo = start;
	position_for(s, false);
	new_frozen = start;

	while (next_record_in_range(s, &row_id, &value, &len))
	{
		TransactionId xmin;

		vacuum_delay_point();
		decode_header(rel, row_id, value, len, &hdr);
		xmin = RowXid(hdr);
		if (TransactionIdIsNormal(xmin) && RowXminAborted(hdr))
		{
			RowStoreInSlot(dead_slot, rel, row_id, value, len);
			remove_row(rel, row_id, hdr.xmin, dead_slot, "removing a row of an aborted transaction");
			ExecClearTuple(dead_slot);
			/* Like heap: when the dead row ids fill the memory VACUUM may use,
			 * clean the indexes and start a new list. */
			if ((Size) dead.n * sizeof(uint64) >= (Size) dead_ids_budget_kb * 1024)
			{
				vacuum_indexes(rel, &dead, bstrategy);
				dead.n = 0;
			}
			if (dead.n == dead.max)
			{
				dead.max = dead.max ? dead.max * 2 : 1024;
				dead.ids = dead.ids ? (uint64 *) repalloc(dead.ids, dead.max * sizeof(uint64))
					: (uint64 *) palloc(dead.max * sizeof(uint64));
			}
			dead.ids[dead.n++] = row_id;
			if (!blocked)
				new_frozen = row_id + 1;
			continue;
		}
		live++;
		if (!TransactionIdIsNormal(xmin) ||
			(!blocked && TransactionIdPrecedes(xmin, oldest_xmin) && TransactionIdDidCommit(xmin)))
		{
			if (!blocked)
				new_frozen = row_id + 1;
			continue;
		}
		/* In progress, or too recent for every snapshot: the watermark stops here,
		 * and relfrozenxid may not pass any xid at or above it. */
		blocked = true;
		if (TransactionIdPrecedes(xmin, new_frozen_xid))
			new_frozen_xid = xmin;
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(dead_slot);

	if (dead.n > 0)
		vacuum_indexes(rel, &dead, bstrategy);

	/* Durable before relfrozenxid moves: pg_xact may be truncated after. */
	if (new_frozen > start)
	{
		uint64		recorded;

		ChannelSimpleCall(ledger_am::kOpSetFrozen, table, new_frozen, 0, &recorded, NULL,
						  "recording frozen rows");
		/* Stopped short by a row id reserved to a running transaction and
		 * not yet written: rows above it still need pg_xact. */
		if (recorded < new_frozen)
		{
			new_frozen_xid = oldest_xmin_among(rel, recorded, new_frozen, new_frozen_xid);
			new_frozen = recorded;
		}
	}

	vac_update_relstats(rel, rel->rd_rel->relpages, rel->rd_rel->reltuples, 0,
						rel->rd_rel->relhasindex, new_frozen_xid, oldest_mxact,
						&frozenxid_updated, &minmulti_updated, false);
	pgstat_report_vacuum(RelationGetRelid(rel), rel->rd_rel->relisshared,
						 rel->rd_rel->reltuples < 0 ? (PgStat_Counter) live
						 : (PgStat_Counter) rel->rd_rel->reltuples,
						 0);
	ereport((params->options & VACOPT_VERBOSE) ? INFO : DEBUG1,
			(errmsg("ledger_am vacuum of \"%s\": %d rows of aborted transactions removed, "
					"frozen below row " UINT64_FORMAT " (was " UINT64_FORMAT ")",
					RelationGetRelationName(rel), dead.n, new_frozen, start)));
	if (dead.ids)
		pfree(dead.ids);
}

static bool
ledger_am_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno,
								  BufferAccessStrategy bstrategy)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;

	s->block = blockno;
	fetch_chunk(s, ledger_am::FirstRowIdOfBlock(blockno),
				ledger_am::FirstRowIdOfBlock(blockno) + ledger_am::kRowsPerBlock, false);
	return true;
}

static bool
ledger_am_scan_analyze_next_tuple(TableScanDesc sscan, TransactionId OldestXmin, double *liverows,
								  double *deadrows, TupleTableSlot *slot)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;
	uint64		row_id;
	const char *value;
	uint32		len;
	RowHeader	hdr;

	while (next_record_in_range(s, &row_id, &value, &len))
	{
		decode_header(s->base.rs_rd, row_id, value, len, &hdr);
		if (row_id < s->frozen_below)
		{
			RowStoreInSlot(slot, s->base.rs_rd, row_id, value, len);
			*liverows += 1;
			return true;
		}
		if (RowXminAborted(hdr))
		{
			*deadrows += 1;
			continue;
		}
		if (!RowIsLiveForIndexBuild(hdr))
			continue;
		/* Like heap: other transactions' in-progress inserts are not counted. */
		{
			TransactionId xmin = RowXid(hdr);

			if (TransactionIdIsNormal(xmin) && !TransactionIdIsCurrentTransactionId(xmin) &&
				TransactionIdIsInProgress(xmin))
				continue;
		}
		RowStoreInSlot(slot, s->base.rs_rd, row_id, value, len);
		*liverows += 1;
		return true;
	}
	ExecClearTuple(slot);
	return false;
}

/*
 * IndexEntryForm computes index entries of stored rows, for the index build
 * and CREATE INDEX CONCURRENTLY's validation pass: an executor state for the
 * index's expressions and predicate, and a slot for the row.
 */
struct IndexEntryForm
{
	EState	   *estate;
	ExprContext *econtext;
	TupleTableSlot *slot;
	ExprState  *predicate;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
};

static void
index_entry_form_begin(IndexEntryForm *f, Relation table_rel, IndexInfo *index_info)
{
	f->estate = CreateExecutorState();
	f->econtext = GetPerTupleExprContext(f->estate);
	f->slot = table_slot_create(table_rel, NULL);
	f->econtext->ecxt_scantuple = f->slot;
	f->predicate = ExecPrepareQual(index_info->ii_Predicate, f->estate);
}

/* index_entry_form_row puts the row in f->slot and its entry in f->values /
 * f->isnull; false if the index's predicate leaves the row out. */
static bool
index_entry_form_row(IndexEntryForm *f, Relation table_rel, IndexInfo *index_info, uint64 row_id,
					 const char *value, uint32 len)
{
	MemoryContextReset(f->econtext->ecxt_per_tuple_memory);
	RowStoreInSlot(f->slot, table_rel, row_id, value, len);
	if (f->predicate != NULL && !ExecQual(f->predicate, f->econtext))
		return false;
	FormIndexDatum(index_info, f->slot, f->estate, f->values, f->isnull);
	return true;
}

static void
index_entry_form_end(IndexEntryForm *f, IndexInfo *index_info)
{
	ExecDropSingleTupleTableSlot(f->slot);
	FreeExecutorState(f->estate);
	index_info->ii_ExpressionsState = NIL;
	index_info->ii_PredicateState = NULL;
}

static double
ledger_am_index_build_range_scan(Relation table_rel, Relation index_rel, IndexInfo *index_info,
								 bool allow_sync, bool anyvisible, bool progress,
								 BlockNumber start_blockno, BlockNumber numblocks,
								 IndexBuildCallback callback, void *callback_state,
								 TableScanDesc scan)
{
	IndexEntryForm form;
	double		reltuples = 0;
	bool		own_scan = (scan == NULL);
	bool		mvcc;
	Snapshot	snapshot = SnapshotAny;
	LedgerScanDesc s;
	uint64		row_id = 0;
	const char *value;
	uint32		len;
	RowHeader	hdr;

	index_entry_form_begin(&form, table_rel, index_info);

	/*
	 * CREATE INDEX CONCURRENTLY indexes what its snapshot sees, as heap does:
	 * rows of transactions still running are indexed by the validation pass
	 * (ledger_am_index_validate_scan). A parallel build's scan comes with the
	 * snapshot its leader chose.
	 */
	if (own_scan && index_info->ii_Concurrent)
		snapshot = RegisterSnapshot(GetTransactionSnapshot());
	if (own_scan)
		scan = table_beginscan_strat(table_rel, snapshot, 0, NULL, true, false);
	s = (LedgerScanDesc) scan;
	mvcc = s->base.rs_snapshot != NULL && IsMVCCSnapshot(s->base.rs_snapshot);
	if (own_scan)
	{
		s->lo = ledger_am::FirstRowIdOfBlock(start_blockno);
		if (numblocks != InvalidBlockNumber)
			s->hi = ledger_am::FirstRowIdOfBlock(start_blockno) +
				(uint64) numblocks * ledger_am::kRowsPerBlock;
	}
	/* A caller's non-parallel scan (amcheck's heapallindexed) starts here too. */
	if (s->base.rs_parallel == NULL)
		position_for(s, false);

	if (progress)
		pgstat_progress_update_param(PROGRESS_SCAN_BLOCKS_TOTAL,
									 (int64) ledger_am::BlocksForRowCount(next_row_id(table_rel)));
	for (;;)
	{
		bool		have;

		if (progress && ((uint64) reltuples % 10000) == 0)
			pgstat_progress_update_param(PROGRESS_SCAN_BLOCKS_DONE,
										 (int64) ledger_am::RowIdToTid(row_id).block);
		if (s->base.rs_parallel != NULL)
			have = next_parallel_record(s, &row_id, &value, &len);
		else
			have = next_record_in_range(s, &row_id, &value, &len);
		if (!have)
			break;
		CHECK_FOR_INTERRUPTS();
		decode_header(table_rel, row_id, value, len, &hdr);
		/* An MVCC snapshot (CREATE INDEX CONCURRENTLY, amcheck's
		 * heapallindexed) decides; else every committed or own row is
		 * indexed (the build holds ShareLock). */
		if (mvcc ? !RowIsVisibleAt(row_id, s->frozen_below, hdr, s->base.rs_snapshot)
			: (row_id >= s->frozen_below && !RowIsLiveForIndexBuild(hdr)))
			continue;
		reltuples += 1;
		if (index_entry_form_row(&form, table_rel, index_info, row_id, value, len))
			callback(index_rel, &form.slot->tts_tid, form.values, form.isnull, true, callback_state);
	}

	table_endscan(scan);
	if (snapshot != SnapshotAny)
		UnregisterSnapshot(snapshot);
	index_entry_form_end(&form, index_info);
	return reltuples;
}

/* next_indexed_tid moves to the next TID of the index's sorted TIDs; false
 * when there are no more. */
static bool
next_indexed_tid(ValidateIndexState *state, ItemPointer tid)
{
	Datum		value;
	bool		isnull;

	if (!tuplesort_getdatum(state->tuplesort, true, &value, &isnull, NULL))
		return false;
	Assert(!isnull);
	itemptr_decode(tid, DatumGetInt64(value));
#ifndef USE_FLOAT8_BYVAL
	pfree(DatumGetPointer(value));
#endif
	state->itups += 1;
	return true;
}

/*
 * ledger_am_index_validate_scan is CREATE INDEX CONCURRENTLY's second pass:
 * every row the snapshot sees whose TID the index lacks (written while the
 * index was built, by transactions that did not know of it yet) is inserted
 * now. The index's TIDs arrive sorted, and a table's rows in row id order are
 * in TID order, so one merge of the two suffices. Rows never change, so there
 * are no update chains to follow, unlike heap's.
 */
static void
ledger_am_index_validate_scan(Relation table_rel, Relation index_rel, IndexInfo *index_info,
							  Snapshot snapshot, ValidateIndexState *state)
{
	IndexEntryForm form;
	TableScanDesc scan;
	LedgerScanDesc s;
	ItemPointerData indexed;
	bool		have_indexed;
	uint64		row_id;
	const char *value;
	uint32		len;
	RowHeader	hdr;

	index_entry_form_begin(&form, table_rel, index_info);
	scan = table_beginscan_strat(table_rel, snapshot, 0, NULL, true, false);
	s = (LedgerScanDesc) scan;
	position_for(s, false);
	have_indexed = next_indexed_tid(state, &indexed);
	while (next_record_in_range(s, &row_id, &value, &len))
	{
		ItemPointerData tid;

		CHECK_FOR_INTERRUPTS();
		decode_header(table_rel, row_id, value, len, &hdr);
		if (!RowIsVisibleAt(row_id, s->frozen_below, hdr, snapshot))
			continue;
		state->htups += 1;
		RowIdToItemPointer(row_id, &tid);
		while (have_indexed && ItemPointerCompare(&indexed, &tid) < 0)
			have_indexed = next_indexed_tid(state, &indexed);
		if (have_indexed && ItemPointerEquals(&indexed, &tid))
			continue;
		if (!index_entry_form_row(&form, table_rel, index_info, row_id, value, len))
			continue;
		(void) index_insert(index_rel, form.values, form.isnull, &tid, table_rel,
							index_info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false,
							index_info);
		state->tups_inserted += 1;
	}
	table_endscan(scan);
	index_entry_form_end(&form, index_info);
}

/* ------------------------------------------------------------------------
 * Miscellaneous callbacks
 * ------------------------------------------------------------------------
 */

static uint64
ledger_am_relation_size(Relation rel, ForkNumber forkNumber)
{
	/* Virtual blocks: what TIDs, ANALYZE and parallel scans count in. */
	if (forkNumber != MAIN_FORKNUM && forkNumber != InvalidForkNumber)
		return 0;
	return ledger_am::BlocksForRowCount(next_row_id(rel)) * BLCKSZ;
}

static bool
ledger_am_relation_needs_toast_table(Relation rel)
{
	return false;
}

static Oid
ledger_am_relation_toast_am(Relation rel)
{
	return HEAP_TABLE_AM_OID;
}

static void
ledger_am_relation_fetch_toast_slice(Relation toastrel, Oid valueid, int32 attrsize,
									 int32 sliceoffset, int32 slicelength, struct varlena *result)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ledger_am cannot be used as a TOAST table access method")));
}

/* ------------------------------------------------------------------------
 * Planner related callbacks
 * ------------------------------------------------------------------------
 */

static void
ledger_am_relation_estimate_size(Relation rel, int32 *attr_widths, BlockNumber *pages,
								 double *tuples, double *allvisfrac)
{
	uint64		next = next_row_id(rel);
	uint64		curpages = ledger_am::BlocksForRowCount(next);
	double		reltuples = rel->rd_rel->reltuples;
	BlockNumber relpages = rel->rd_rel->relpages;

	*pages = (BlockNumber) curpages;
	*allvisfrac = 0;			/* no visibility map: index-only scans visit rows */
	if (reltuples >= 0 && relpages > 0)
		*tuples = rint(reltuples / relpages * curpages);	/* live share seen by ANALYZE */
	else
		*tuples = (double) next;
	if (*tuples > (double) next)
		*tuples = (double) next;
}

/* ------------------------------------------------------------------------
 * Executor related callbacks: bitmap and sample scans read one virtual
 * block (291 row ids) per request
 * ------------------------------------------------------------------------
 */

static bool
ledger_am_scan_bitmap_next_block(TableScanDesc sscan, struct TBMIterateResult *tbmres)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;
	uint64		first = ledger_am::FirstRowIdOfBlock(tbmres->blockno);

	s->block = tbmres->blockno;
	s->bitmap_idx = 0;
	if (tbmres->ntuples >= 0)
	{
		OffsetNumber lastoff;

		if (tbmres->ntuples == 0)
			return false;
		lastoff = tbmres->offsets[tbmres->ntuples - 1];
		fetch_chunk(s, first + tbmres->offsets[0] - 1, first + Min((uint64) lastoff, (uint64) ledger_am::kRowsPerBlock), false);
	}
	else
		fetch_chunk(s, first, first + ledger_am::kRowsPerBlock, false);
	return s->chunk_len > 0 || !s->chunk_done;
}

static bool
ledger_am_scan_bitmap_next_tuple(TableScanDesc sscan, struct TBMIterateResult *tbmres,
								 TupleTableSlot *slot)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;
	uint64		first = ledger_am::FirstRowIdOfBlock(tbmres->blockno);
	uint64		row_id;
	const char *value;
	uint32		len;
	RowHeader	hdr;

	while (next_record_in_range(s, &row_id, &value, &len))
	{
		if (tbmres->ntuples >= 0)
		{
			OffsetNumber off = (OffsetNumber) (row_id - first + 1);

			/* Offsets come sorted; skip the ones the bitmap did not select. */
			while ((int) s->bitmap_idx < tbmres->ntuples && tbmres->offsets[s->bitmap_idx] < off)
				s->bitmap_idx++;
			if ((int) s->bitmap_idx >= tbmres->ntuples || tbmres->offsets[s->bitmap_idx] != off)
				continue;
		}
		decode_header(s->base.rs_rd, row_id, value, len, &hdr);
		if (RowIsVisibleAt(row_id, s->frozen_below, hdr, s->base.rs_snapshot))
		{
			RowStoreInSlot(slot, s->base.rs_rd, row_id, value, len);
			pgstat_count_heap_fetch(s->base.rs_rd);
			return true;
		}
		check_conflict_out(s->base.rs_rd, hdr, s->base.rs_snapshot);
	}
	ExecClearTuple(slot);
	return false;
}

static bool
ledger_am_scan_sample_next_block(TableScanDesc sscan, SampleScanState *scanstate)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;
	TsmRoutine *tsm = scanstate->tsmroutine;
	BlockNumber blk;

	if (s->nblocks == 0)
		return false;
	if (tsm->NextSampleBlock)
		blk = tsm->NextSampleBlock(scanstate, (BlockNumber) s->nblocks);
	else if (!s->sample_started)
		blk = 0;
	else if ((uint64) s->block + 1 >= s->nblocks)
		blk = InvalidBlockNumber;
	else
		blk = s->block + 1;
	s->sample_started = true;
	if (!BlockNumberIsValid(blk))
		return false;
	s->block = blk;
	s->peek_valid = false;
	fetch_chunk(s, ledger_am::FirstRowIdOfBlock(blk),
				ledger_am::FirstRowIdOfBlock(blk) + ledger_am::kRowsPerBlock, false);
	return true;
}

static bool
ledger_am_scan_sample_next_tuple(TableScanDesc sscan, SampleScanState *scanstate,
								 TupleTableSlot *slot)
{
	LedgerScanDesc s = (LedgerScanDesc) sscan;
	TsmRoutine *tsm = scanstate->tsmroutine;
	uint64		first = ledger_am::FirstRowIdOfBlock(s->block);
	RowHeader	hdr;

	for (;;)
	{
		OffsetNumber off = tsm->NextSampleTuple(scanstate, s->block,
												(OffsetNumber) ledger_am::kRowsPerBlock);
		uint64		want;

		if (!OffsetNumberIsValid(off))
		{
			ExecClearTuple(slot);
			return false;
		}
		want = first + off - 1;
		/* Offsets ascend within a block: read ahead up to the wanted row. */
		while (!s->peek_valid || s->peek_row < want)
		{
			s->peek_valid = next_record_in_range(s, &s->peek_row, &s->peek_value, &s->peek_len);
			if (!s->peek_valid)
				break;
		}
		if (!s->peek_valid || s->peek_row != want)
			continue;			/* no row at that offset: ask the sampler again */
		decode_header(s->base.rs_rd, s->peek_row, s->peek_value, s->peek_len, &hdr);
		if (RowIsVisibleAt(s->peek_row, s->frozen_below, hdr, s->base.rs_snapshot))
		{
			RowStoreInSlot(slot, s->base.rs_rd, s->peek_row, s->peek_value, s->peek_len);
			pgstat_count_heap_getnext(s->base.rs_rd);
			return true;
		}
	}
}

/* ------------------------------------------------------------------------
 * Definition of the ledger_am table access method
 * ------------------------------------------------------------------------
 */

static TableAmRoutine ledger_am_methods;
static bool ledger_am_methods_ready = false;

/* ledger_routine fills the routine once (C++ has no designated initialisers
 * before C++20, so the struct is built field by field, in header order). */
static const TableAmRoutine *
ledger_routine(void)
{
	TableAmRoutine *m = &ledger_am_methods;

	if (ledger_am_methods_ready)
		return m;
	memset(m, 0, sizeof(*m));
	m->type = T_TableAmRoutine;
	m->slot_callbacks = ledger_am_slot_callbacks;
	m->scan_begin = ledger_am_scan_begin;
	m->scan_end = ledger_am_scan_end;
	m->scan_rescan = ledger_am_scan_rescan;
	m->scan_getnextslot = ledger_am_scan_getnextslot;
	m->scan_set_tidrange = ledger_am_scan_set_tidrange;
	m->scan_getnextslot_tidrange = ledger_am_scan_getnextslot_tidrange;
	m->parallelscan_estimate = ledger_am_parallelscan_estimate;
	m->parallelscan_initialize = ledger_am_parallelscan_initialize;
	m->parallelscan_reinitialize = ledger_am_parallelscan_reinitialize;
	m->index_fetch_begin = ledger_am_index_fetch_begin;
	m->index_fetch_reset = ledger_am_index_fetch_reset;
	m->index_fetch_end = ledger_am_index_fetch_end;
	m->index_fetch_tuple = ledger_am_index_fetch_tuple;
	m->tuple_fetch_row_version = ledger_am_tuple_fetch_row_version;
	m->tuple_tid_valid = ledger_am_tuple_tid_valid;
	m->tuple_get_latest_tid = ledger_am_tuple_get_latest_tid;
	m->tuple_satisfies_snapshot = ledger_am_tuple_satisfies_snapshot;
	m->index_delete_tuples = ledger_am_index_delete_tuples;
	m->tuple_insert = ledger_am_tuple_insert;
	m->tuple_insert_speculative = ledger_am_tuple_insert_speculative;
	m->tuple_complete_speculative = ledger_am_tuple_complete_speculative;
	m->multi_insert = ledger_am_multi_insert;
	m->tuple_delete = ledger_am_tuple_delete;
	m->tuple_update = ledger_am_tuple_update;
	m->tuple_lock = ledger_am_tuple_lock;
	m->finish_bulk_insert = ledger_am_finish_bulk_insert;
	m->relation_set_new_filenode = ledger_am_relation_set_new_filenode;
	m->relation_nontransactional_truncate = ledger_am_relation_nontransactional_truncate;
	m->relation_copy_data = ledger_am_relation_copy_data;
	m->relation_copy_for_cluster = ledger_am_relation_copy_for_cluster;
	m->relation_vacuum = ledger_am_relation_vacuum;
	m->scan_analyze_next_block = ledger_am_scan_analyze_next_block;
	m->scan_analyze_next_tuple = ledger_am_scan_analyze_next_tuple;
	m->index_build_range_scan = ledger_am_index_build_range_scan;
	m->index_validate_scan = ledger_am_index_validate_scan;
	m->relation_size = ledger_am_relation_size;
	m->relation_needs_toast_table = ledger_am_relation_needs_toast_table;
	m->relation_toast_am = ledger_am_relation_toast_am;
	m->relation_fetch_toast_slice = ledger_am_relation_fetch_toast_slice;
	m->relation_estimate_size = ledger_am_relation_estimate_size;
	m->scan_bitmap_next_block = ledger_am_scan_bitmap_next_block;
	m->scan_bitmap_next_tuple = ledger_am_scan_bitmap_next_tuple;
	m->scan_sample_next_block = ledger_am_scan_sample_next_block;
	m->scan_sample_next_tuple = ledger_am_scan_sample_next_tuple;
	ledger_am_methods_ready = true;
	return m;
}

extern "C" Datum
ledger_am_handler(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(ledger_routine());
}
