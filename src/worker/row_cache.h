/*
 * row_cache.h: whole rows by (table, row id), in front of the rows' family.
 *
 * Account windows and btree index fetches name rows one by one, scattered
 * over the table: every such row cost a RocksDB point read even with its
 * block cached (a block-cache lookup, an index-block and a data-block binary
 * search: ~5 us of the worker's ~7 us per row in a 200-row account window at
 * 1M rows, perf). A hit here is one hash lookup and a copy.
 *
 * RocksDB's own row_cache cannot serve: it does not see range deletions
 * (rocksdb#4122; newer releases refuse DeleteRange when it is configured),
 * and dropping a table is a DeleteRange whose table id Postgres may reuse.
 *
 * The entries live in the block cache itself (a generic rocksdb::Cache), so
 * rows and blocks share one memory budget and its LRU order: no second
 * setting to size, and a full scan's blocks push out rows nobody reads. A
 * row missing here is read through the block cache as before, and its block
 * stays cached too: the next rows of the block (a btree scan's read-ahead, a
 * neighbour in another window) then cost no decompression. Measured on one
 * 1M-row cluster in the bench's order (point lookups, last 50, 30-day
 * windows, 10k windows, count(*)), ledger_am alone, restarted cold for each
 * variant, tps at 1 / 4 clients:
 *
 *   variant                  point          30-day      10k window
 *   no row cache             19.7k / 20.1k  295 / 511   121 / 237
 *   rows, blocks not kept    21.0k / 20.2k  379 / 937    63 / 187
 *   rows and blocks kept     22.2k / 25.5k  560 / 886   117 / 217
 *
 * Not keeping the blocks leaves the cache to rows, so scans decompress again
 * (the 10k window halves). After count(*) has filled the cache with blocks,
 * 30-day windows ran 615 / 944 without the row cache and 557 / 817 with it:
 * the two kinds then share the memory that blocks alone had.
 *
 * Rows are immutable; the engine only ever removes them (an aborted or
 * withdrawn row, a dropped table or database, rows lost in a crash). Every
 * removal bumps the cache's epoch after it is applied, and the epoch is part
 * of every key: a reader that took the epoch before the removal may still
 * see the row (as if it had read just before), one that takes it after can
 * only miss and read RocksDB. Entries of old epochs age out of the LRU.
 * Removals are rare (VACUUM of aborted rows, ON CONFLICT races, DROP), so
 * invalidating everything is cheaper than tracking which keys they touch.
 */
#ifndef LEDGER_AM_WORKER_ROW_CACHE_H
#define LEDGER_AM_WORKER_ROW_CACHE_H

#include <atomic>
#include <cstdint>
#include <memory>

#include <rocksdb/cache.h>
#include <rocksdb/slice.h>

#include "codec/keys.h"

namespace ledger_am {

class RowCache
{
public:
	/* A pinned cached row: valid until Release or destruction. */
	class Pin
	{
	public:
		Pin() = default;
		~Pin() { Release(); }
		Pin(const Pin &) = delete;
		Pin &operator=(const Pin &) = delete;

		rocksdb::Slice value() const;
		void		Release();

	private:
		friend class RowCache;
		rocksdb::Cache *cache_ = nullptr;
		rocksdb::Cache::Handle *handle_ = nullptr;
	};

	/* cache may be null: every lookup misses, inserts do nothing. */
	explicit RowCache(std::shared_ptr<rocksdb::Cache> cache) : cache_(std::move(cache)) {}

	/* The epoch to look up and insert under; take it once per request,
	 * before the first lookup. */
	uint64_t	Epoch() const { return epoch_.load(std::memory_order_acquire); }

	bool		Lookup(uint64_t epoch, const TableId &t, uint64_t row_id, Pin *pin) const;
	void		Insert(uint64_t epoch, const TableId &t, uint64_t row_id,
					   const rocksdb::Slice &value) const;

	/* Forget every cached row; call after a removal is applied. */
	void		Invalidate() { epoch_.fetch_add(1, std::memory_order_acq_rel); }

private:
	std::shared_ptr<rocksdb::Cache> cache_;
	std::atomic<uint64_t> epoch_{0};
};

} // namespace ledger_am

#endif
