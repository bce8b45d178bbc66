/*
 * bulk_scans.h: which bulk scans may share the block cache.
 *
 * A sequential scan of a table larger than the block cache asks for its
 * chunks with kScanBulk: its blocks are read without being cached, so they
 * do not evict what point lookups and range scans need (see tableam.cc,
 * outgrows_block_cache). That is right for one scan and wrong for several
 * of the same table at once: scans that run together read the same blocks
 * at about the same time, and through the cache each block is decompressed
 * once instead of once per scan (1M rows, 256 MB cache, four concurrent
 * count(*): 2.6-2.9 s caching, 3.5 s not caching; docs/architecture.md).
 *
 * BulkScans remembers the last bulk chunk of a few (table, scan group)
 * pairs. A scan group is one query's scan: the parallel leader's and its
 * workers' chunks are disjoint and gain nothing from sharing, so they count
 * as one. A bulk chunk is read through the cache when another group asked
 * for a bulk chunk of the same table within the last kShareWindowUs.
 *
 * Pure C++ (unit-tested); thread-safe: the worker's main loop and its
 * read-pool helpers serve scan chunks.
 */
#ifndef LEDGER_AM_WORKER_BULK_SCANS_H
#define LEDGER_AM_WORKER_BULK_SCANS_H

#include "codec/keys.h"

#include <chrono>
#include <cstdint>
#include <mutex>

namespace ledger_am
{

class BulkScans
{
  public:
	/* How recent another group's chunk must be to count as concurrent. A
	 * chunk takes a few milliseconds to read and decompress. */
	static constexpr int64_t kShareWindowUs = 100 * 1000;
	/* Pairs remembered; the stalest is replaced. */
	static constexpr int kEntries = 16;

	/* Note records a bulk chunk of `table` by `group` now and says whether
	 * another group scanned the table within the window. */
	bool Note(const TableId &table, uint32_t group)
	{
		return Note(table, group,
					std::chrono::duration_cast<std::chrono::microseconds>(
						std::chrono::steady_clock::now().time_since_epoch()).count());
	}

	/* Note at a given time (microseconds on any monotonic clock). */
	bool Note(const TableId &table, uint32_t group, int64_t now_us)
	{
		std::lock_guard<std::mutex> lock(mu_);
		bool shared = false;
		Entry *mine = nullptr;
		Entry *stalest = &entries_[0];

		for (Entry &e : entries_)
		{
			if (e.used && e.table == table && e.group == group)
				mine = &e;
			else if (e.used && e.table == table && now_us - e.time_us <= kShareWindowUs)
				shared = true;
			if (stalest->used && (!e.used || e.time_us < stalest->time_us))
				stalest = &e;
		}
		if (mine == nullptr)
			mine = stalest;
		*mine = Entry{true, table, group, now_us};
		return shared;
	}

  private:
	struct Entry
	{
		bool used = false;
		TableId table{};
		uint32_t group = 0;
		int64_t time_us = 0;
	};
	std::mutex mu_;
	Entry entries_[kEntries];
};

} // namespace ledger_am

#endif
