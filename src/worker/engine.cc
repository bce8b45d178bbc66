/*
 * engine.cc: the RocksDB engine wrapper owned by the storage worker.
 *
 * Owns the single rocksdb::DB of the process and the per-table row id
 * counters. Pure C++: no PostgreSQL header, no PostgreSQL call (enforced
 * below), so any thread of the worker may run it. Every entry point is
 * noexcept: exceptions become EngineStatus here, and rocksdb::Status becomes
 * EngineStatus in exactly one function, FromRocks.
 *
 * Row id durability. A row id must never be handed out twice, even across a
 * crash: a backend may already have put an index entry (in Postgres WAL)
 * pointing at the TID of a row that RocksDB lost with an unsynced write, and
 * a reused id would silently point that entry at a different row. So ids are
 * reserved ahead of use in a metadata key, ReservationKey(t), written with
 * sync=true before any id of the reserved range is used; at open the counter
 * restarts at max(largest stored id + 1, reservation). The reservation value
 * is a u64 big-endian (same helpers as the keys; 8 bytes exactly).
 *
 * WAL recovery mode: kPointInTimeRecovery (RocksDB's default). A torn tail
 * after an OS crash stops replay at the last intact batch, so a WriteBatch is
 * all or nothing. RocksDB 7.8 silently turns WAL recycling off in this mode
 * (a known hole-in-recovered-data bug, rocksdb PR 7252), so
 * recycle_log_file_num stays 0 rather than pretending.
 */
#include "worker/engine.h"
#include "worker/rocks_logger.h"
#include "worker/row_dictionary.h"
#include "worker/wal_files.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include "codec/keys.h"
#include "codec/range_keys.h"
#include "codec/row_codec.h"
#include "codec/tid_map.h"

#ifdef PG_VERSION_NUM
#error "engine.cc must not include PostgreSQL headers: it runs on threads that may not call Postgres"
#endif

namespace ledger_am {

namespace {

/*
 * InsertRunPrefix tells RocksDB which keys arrive in ascending runs (see
 * InsertRunPrefixLen), for memtable_insert_with_hint_prefix_extractor: the
 * memtable keeps a skip-list position per run and inserts next to it. Without
 * it every insert of a batch that interleaves rows, account keys and time
 * keys searched the skip list from the top: a third of the worker's CPU time
 * in a 4-client 100-event INSERT load (perf). Only a speed hint: a key that
 * does not continue its run is inserted by a full search as before. Pure
 * C++ on the key bytes, as every RocksDB callback must be.
 */
class InsertRunPrefix : public rocksdb::SliceTransform
{
public:
	const char *Name() const override { return "ledger_am.InsertRunPrefix"; }

	rocksdb::Slice Transform(const rocksdb::Slice &key) const override
	{
		return rocksdb::Slice(key.data(), InsertRunPrefixLen(key.data(), key.size()));
	}

	bool InDomain(const rocksdb::Slice &key) const override
	{
		return InsertRunPrefixLen(key.data(), key.size()) != 0;
	}
};

/* TableState is a table's row id counter: next id to hand out, and the
 * durable reservation (every id below it may have been handed out). */
struct TableState
{
	uint64_t next;
	uint64_t reserved;
	uint64_t frozen; /* rows below are committed and visible to all */
};

/* One past the largest id a row may have: the limit of reservations. */
constexpr uint64_t kRowIdLimit = kMaxRowId + 1;

/* OwnedRange: ids [cursor, end) of a table reserved to an owner and not yet
 * written; rows must arrive at cursor, in order. */
struct OwnedRange
{
	TableId table;
	uint32_t owner;
	uint64_t cursor;
	uint64_t end;
};

rocksdb::DB *g_db = nullptr;
/* The block cache of the open instance (EngineBlockCacheUsage). */
std::shared_ptr<rocksdb::Cache> g_block_cache;
/* Column families: rows in the default one, everything else (row id
 * reservations, frozen watermarks, account and time range keys) in "keys".
 * Rows arrive in ascending id order, so with no other keys among them the
 * flushed files of one table never overlap older ones and compaction moves
 * them down the levels without rewriting them (see EngineOpen). */
rocksdb::ColumnFamilyHandle *g_keys_cf = nullptr;
constexpr const char *kKeysFamily = "keys";
std::vector<OwnedRange> g_ranges;
uint64_t g_reserve_step = 0;
std::unordered_map<TableId, TableState, TableIdHash> g_tables;

/* RowsCf and KeysCf name the two column families; CfOf picks the one that
 * holds a key space (its first key byte). */
rocksdb::ColumnFamilyHandle *
RowsCf()
{
	return g_db->DefaultColumnFamily();
}

rocksdb::ColumnFamilyHandle *
KeysCf()
{
	return g_keys_cf;
}

rocksdb::ColumnFamilyHandle *
CfOf(uint8_t space)
{
	return space == kRowSpace ? RowsCf() : KeysCf();
}

/* MakeStatus builds an EngineStatus, truncating msg to the message buffer. */
EngineStatus
MakeStatus(EngineCode code, const char *msg = "")
{
	EngineStatus st;
	st.code = code;
	std::snprintf(st.message, sizeof(st.message), "%s", msg ? msg : "");
	return st;
}

/* OkStatus returns a success status with an empty message. */
EngineStatus
OkStatus()
{
	return MakeStatus(EngineCode::kOk);
}

/* FromRocks is the one place a rocksdb::Status becomes an EngineStatus. */
EngineStatus
FromRocks(const rocksdb::Status &s)
{
	if (s.ok())
		return OkStatus();
	EngineCode code;
	/* NoSpace is an IOError subcode: test it first. */
	if (s.IsNoSpace())
		code = EngineCode::kNoSpace;
	else if (s.IsIOError())
		code = EngineCode::kIOError;
	else if (s.IsCorruption())
		code = EngineCode::kCorruption;
	else if (s.IsNotFound())
		code = EngineCode::kNotFound;
	else
		code = EngineCode::kOther;
	return MakeStatus(code, s.ToString().c_str());
}

/* Set when a write or WAL sync failed with an I/O error (disk full, EIO).
 *
 * RocksDB 7.8 must never touch a WAL file again once an append or sync on it
 * failed: Debian builds librocksdb with assertions on, and the next Append,
 * Flush or Sync of that WritableFileWriter -- including the one in the log
 * writer's destructor at DB::Close() -- aborts the process (upstream stopped
 * writing to a failed WAL only in 9.x, facebook/rocksdb#12448). DB::Resume()
 * does not avoid it: the failed writer stays in the log list and a later
 * SyncWAL() trips the same assertion. So after the first failure the
 * instance takes no more writes (every write and sync is refused here), is
 * never closed, and the storage worker exits at the end of its pass: the
 * postmaster starts a fresh one a second later, which reopens the instance
 * and recovers its WAL (point-in-time: the torn record of the failed write
 * is dropped; transactions that wrote through the old worker fail at commit,
 * see check_generation in xact_hooks.cc). Read by the group-commit thread,
 * hence atomic. */
std::atomic<bool> g_write_failed{false};
/* The EngineCode of that first failure, reported by every refused write,
 * and its message (written once, under g_write_mu or by the worker thread,
 * before g_write_failed is set). */
std::atomic<int> g_write_failed_code{static_cast<int>(EngineCode::kOk)};
char g_write_failed_message[sizeof(EngineStatus::message)];

/* Serializes writes with the group-commit thread's WAL sync: a sync must not
 * run between a failed write and g_write_failed being set. Writes take it
 * for microseconds; a sync for one fsync. */
std::mutex g_write_mu;

/* The log mark of the last batch written with a BatchLog, and that of the
 * last one an EngineSync made durable (both under g_write_mu when set). */
std::atomic<uint64_t> g_written_mark{0};
std::atomic<uint64_t> g_durable_mark{0};
/* EngineOptions.logged_rows_skip_wal of the open instance. */
bool g_logged_rows_skip_wal = false;

/* NoteWriteError records a failed write or WAL sync (see g_write_failed). */
void
NoteWriteError(const rocksdb::Status &s)
{
	if (!(s.IsIOError() || s.IsNoSpace() || s.IsCorruption()))
		return;
	static std::atomic<bool> noted{false};

	if (noted.exchange(true))
		return;
	EngineStatus es = FromRocks(s);
	std::memcpy(g_write_failed_message, es.message, sizeof(g_write_failed_message));
	g_write_failed_code.store(static_cast<int>(es.code));
	g_write_failed.store(true);
}

/* RefusedWrite is the status of a write refused after an earlier failure. */
rocksdb::Status
RefusedWrite()
{
	const char *msg = "the storage engine is restarting after a failed write";

	if (g_write_failed_code.load() == static_cast<int>(EngineCode::kNoSpace))
		return rocksdb::Status::NoSpace(msg);
	return rocksdb::Status::IOError(msg);
}

/* PutLogMark adds the log mark `lsn` (LogMarkKey) to a batch. */
rocksdb::Status
PutLogMark(rocksdb::WriteBatch *batch, uint64_t lsn)
{
	char		v[8];

	PutU64BE(v, lsn);
	return batch->Put(KeysCf(), LogMarkKey(), rocksdb::Slice(v, 8));
}

/* LockedWrite writes a batch under g_write_mu, refusing once a write has
 * failed (see g_write_failed). A batch that carries the log mark `mark`
 * (BatchLog) makes it the last written one. */
rocksdb::Status
LockedWrite(const rocksdb::WriteOptions &wo, rocksdb::WriteBatch *batch, uint64_t mark = 0)
{
	std::lock_guard<std::mutex> lock(g_write_mu);
	if (g_write_failed.load())
		return RefusedWrite();
	/*
	 * Tests only (EngineOptions.logged_rows_skip_wal): logged rows that
	 * bypassed the WAL are durable only in files. A synced write (a frozen
	 * watermark, a drop, the log mark) must not outlive them in a crash, or
	 * a replay would write them again after it: flush them first.
	 */
	if (g_logged_rows_skip_wal && wo.sync)
	{
		rocksdb::Status f = g_db->Flush(rocksdb::FlushOptions(), {RowsCf(), KeysCf()});
		if (!f.ok())
			return f;
	}
	rocksdb::Status s = g_db->Write(wo, batch);
	NoteWriteError(s);
	if (s.ok() && mark != 0)
		g_written_mark.store(mark);
	return s;
}

/* FromWrite is FromRocks for the outcome of a write: it also notes a failed
 * writer (see g_write_failed). */
EngineStatus
FromWrite(const rocksdb::Status &s)
{
	NoteWriteError(s);
	return FromRocks(s);
}

/* FromException converts the exception in flight; call only inside catch. */
EngineStatus
FromException() noexcept
{
	try
	{
		throw;
	}
	catch (const std::bad_alloc &)
	{
		return MakeStatus(EngineCode::kOther, "out of memory in the storage engine");
	}
	catch (const std::exception &e)
	{
		return MakeStatus(EngineCode::kOther, e.what());
	}
	catch (...)
	{
		return MakeStatus(EngineCode::kOther, "unknown exception in the storage engine");
	}
}

/* NotOpen is the status of every call made while no instance is open. */
EngineStatus
NotOpen()
{
	return MakeStatus(EngineCode::kNotOpen, "ledger_am storage engine is not open");
}

/* ToRocksCompression maps the engine's compression choice to RocksDB's. */
rocksdb::CompressionType
ToRocksCompression(Compression c)
{
	switch (c)
	{
		case Compression::kLz4:
			return rocksdb::kLZ4Compression;
		case Compression::kZstd:
			return rocksdb::kZSTD;
		case Compression::kLz4hc:
			return rocksdb::kLZ4HCCompression;
		case Compression::kZstdRow:
			/* Rows are compressed one by one (row_dictionary.h); LZ4 takes
			 * the few left raw (sampled for the dictionary, or flushed
			 * before it was stored). RocksDB stores a block uncompressed
			 * when compressing saves less than 1/8, as for compressed rows. */
			return rocksdb::kLZ4Compression;
		case Compression::kNone:
			break;
	}
	return rocksdb::kNoCompression;
}

/* HasTablePrefix tells whether key is a row key of the table with `prefix`. */
bool
HasTablePrefix(const rocksdb::Slice &key, const std::string &prefix)
{
	return key.size() == kRowKeyLen && std::memcmp(key.data(), prefix.data(), kTablePrefixLen) == 0;
}

/* TableUpperBound is the exclusive upper key of row ids below `to` (the
 * whole table when `to` is past every mappable id). */
std::string
TableUpperBound(const TableId &t, uint64_t to)
{
	if (to > kMaxRowId)
		return PrefixSuccessor(TablePrefix(t));
	return RowKey(t, to);
}

/* BoundedIterator is an iterator together with the bounds it reads through
 * (RocksDB keeps pointers to them: they must live as long as it does). */
struct BoundedIterator
{
	std::string lower;
	std::string upper;
	rocksdb::Slice lower_slice;
	rocksdb::Slice upper_slice;
	std::unique_ptr<rocksdb::Iterator> it;
};

/* OpenBoundedIterator opens an iterator over the keys of `cf` in [lower,
 * upper); without fill_cache, the blocks it reads stay out of the block
 * cache (whole-table walks must not evict the working set). */
std::unique_ptr<BoundedIterator>
OpenBoundedIterator(rocksdb::ColumnFamilyHandle *cf, std::string lower, std::string upper,
					bool fill_cache = true)
{
	std::unique_ptr<BoundedIterator> b(new BoundedIterator);
	b->lower = std::move(lower);
	b->upper = std::move(upper);
	b->lower_slice = rocksdb::Slice(b->lower);
	b->upper_slice = rocksdb::Slice(b->upper);
	rocksdb::ReadOptions ro;
	ro.iterate_lower_bound = &b->lower_slice;
	ro.iterate_upper_bound = &b->upper_slice;
	ro.fill_cache = fill_cache;
	b->it.reset(g_db->NewIterator(ro, cf));
	return b;
}

/* LoadTableState returns t's counter, deriving it from storage on first use. */
EngineStatus
LoadTableState(const TableId &t, TableState **out)
{
	auto found = g_tables.find(t);
	if (found != g_tables.end())
	{
		*out = &found->second;
		return OkStatus();
	}

	/* Largest stored row id: the last key below the table prefix successor
	 * (SeekToLast honours the upper bound); both bounds keep Prev from
	 * wandering into a neighbour table. */
	std::string prefix = TablePrefix(t);
	std::unique_ptr<BoundedIterator> b = OpenBoundedIterator(RowsCf(), prefix, PrefixSuccessor(prefix), false);
	rocksdb::Iterator *it = b->it.get();
	it->SeekToLast();
	uint64_t next = 0;
	if (it->Valid() && HasTablePrefix(it->key(), prefix))
	{
		TableId kt;
		uint64_t last;
		if (!DecodeRowKey(it->key().data(), it->key().size(), &kt, &last))
			return MakeStatus(EngineCode::kCorruption, "malformed row key at the end of a table");
		next = last + 1;
	}
	if (!it->status().ok())
		return FromRocks(it->status());
	b.reset();

	/* The reservation covers ids handed out whose rows never reached disk. */
	std::string value;
	rocksdb::Status s = g_db->Get(rocksdb::ReadOptions(), KeysCf(), ReservationKey(t), &value);
	uint64_t reserved = next;
	if (s.ok())
	{
		if (value.size() != 8)
			return MakeStatus(EngineCode::kCorruption, "row id reservation value is not 8 bytes");
		reserved = GetU64BE(value.data());
		next = std::max(next, reserved);
	}
	else if (!s.IsNotFound())
		return FromRocks(s);

	uint64_t frozen = 0;
	s = g_db->Get(rocksdb::ReadOptions(), KeysCf(), FrozenKey(t), &value);
	if (s.ok())
	{
		if (value.size() != 8)
			return MakeStatus(EngineCode::kCorruption, "frozen watermark value is not 8 bytes");
		frozen = GetU64BE(value.data());
	}
	else if (!s.IsNotFound())
		return FromRocks(s);

	auto inserted = g_tables.emplace(t, TableState{next, reserved, frozen});
	*out = &inserted.first->second;
	return OkStatus();
}

/* EnsureReserved durably reserves ids up to `end` (exclusive) before any of
 * them is handed out, so a crash can never lead to an id being reused. */
EngineStatus
EnsureReserved(const TableId &t, TableState *st, uint64_t end)
{
	if (end <= st->reserved)
		return OkStatus();
	uint64_t target = end;
	if (kRowIdLimit - target > g_reserve_step)
		target += g_reserve_step;
	else
		target = kRowIdLimit;
	char buf[8];
	PutU64BE(buf, target);
	rocksdb::WriteOptions wo;
	wo.sync = true;
	rocksdb::WriteBatch one;
	one.Put(KeysCf(), ReservationKey(t), rocksdb::Slice(buf, sizeof(buf)));
	rocksdb::Status s = LockedWrite(wo, &one);
	if (!s.ok())
		return FromWrite(s);
	st->reserved = target;
	return OkStatus();
}

/* AddRangeKeys adds a row's range keys (a key blob) to a batch, or with
 * remove, their deletions. */
EngineStatus
AddRangeKeys(rocksdb::WriteBatch *batch, const TableId &t, uint64_t row_id, const char *blob,
			 uint32_t blob_len, bool remove = false)
{
	if (blob == nullptr || blob_len == 0)
		return OkStatus();
	BlobReader reader(blob, blob_len);
	uint8_t space;
	const char *body;
	uint16_t len;
	while (reader.Next(&space, &body, &len))
	{
		if (space != kAccountSpace && space != kTimeSpace)
			return MakeStatus(EngineCode::kInvalid, "range key of an unknown key space");
		std::string key = RangeKey(space, t, body, len, row_id);
		rocksdb::Status s = remove ? batch->Delete(KeysCf(), key) : batch->Put(KeysCf(), key, rocksdb::Slice());
		if (!s.ok())
			return FromRocks(s);
	}
	if (!reader.ok())
		return MakeStatus(EngineCode::kInvalid, "truncated range key blob");
	return OkStatus();
}

/* RangeSpaces lists the key spaces that hold a table's range keys. */
constexpr uint8_t kRangeSpaces[] = {kAccountSpace, kTimeSpace};

/* CollectTablespaces returns the distinct tablespace oids present in the key
 * space whose keys are [space byte(s)][spc u32 BE]...: seek-skips one
 * tablespace at a time instead of reading every key. */
EngineStatus
CollectTablespaces(const std::string &space, std::vector<uint32_t> *spcs)
{
	std::string upper = PrefixSuccessor(space);
	rocksdb::Slice upper_slice(upper);
	rocksdb::ReadOptions ro;
	ro.iterate_upper_bound = &upper_slice;
	ro.fill_cache = false;
	std::unique_ptr<rocksdb::Iterator> it(g_db->NewIterator(ro, CfOf(static_cast<uint8_t>(space[0]))));
	std::string target = space;
	for (it->Seek(target); it->Valid(); it->Seek(target))
	{
		rocksdb::Slice key = it->key();
		if (key.size() < space.size() + 4 || !key.starts_with(space))
			break;
		uint32_t spc = GetU32BE(key.data() + space.size());
		spcs->push_back(spc);
		if (spc == UINT32_MAX)
			break;
		target = space;
		target.resize(space.size() + 4);
		PutU32BE(&target[space.size()], spc + 1);
	}
	return FromRocks(it->status());
}

/* StoreDictionary writes a table's new row dictionary, synced, before any
 * row uses it (row_dictionary.h). */
bool
StoreDictionary(const TableId &t, const std::string &value)
{
	std::string key = DictionaryKey(t);
	std::string old;
	rocksdb::Status s = g_db->Get(rocksdb::ReadOptions(), KeysCf(), key, &old);
	if (!s.IsNotFound())
		return false;			/* one per table, never replaced */
	rocksdb::WriteBatch one;
	s = one.Put(KeysCf(), key, value);
	rocksdb::WriteOptions wo;
	wo.sync = true;
	if (s.ok())
		s = LockedWrite(wo, &one);
	return s.ok();
}

/* StorePendingDictionaries stores the row dictionaries trained lately. */
void
StorePendingDictionaries()
{
	RowDictionariesStorePending(StoreDictionary);
}

/* StartRowDictionaries loads every table's row dictionary, then lets the
 * rows' filter compress (zstd_row) or restore rows. */
EngineStatus
StartRowDictionaries(const EngineOptions &options, const std::shared_ptr<rocksdb::Logger> &log)
{
	const std::string lower{static_cast<char>(kMetaSpace), static_cast<char>(kMetaDictionary)};
	std::string upper = PrefixSuccessor(lower);
	rocksdb::Slice lower_slice(lower), upper_slice(upper);
	rocksdb::ReadOptions ro;
	ro.iterate_lower_bound = &lower_slice;
	ro.iterate_upper_bound = &upper_slice;
	std::unique_ptr<rocksdb::Iterator> it(g_db->NewIterator(ro, KeysCf()));
	for (it->Seek(lower_slice); it->Valid(); it->Next())
	{
		TableId t;
		if (!DecodeMetaKey(it->key().data(), it->key().size(), kMetaDictionary, &t))
			return MakeStatus(EngineCode::kCorruption, "malformed row dictionary key");
		if (const char *err = RowDictionaryInstall(t, it->value()))
			return MakeStatus(EngineCode::kCorruption, err);
	}
	if (!it->status().ok())
		return FromRocks(it->status());
	RowDictionarySettings settings;
	settings.compress_rows = options.row_compression == Compression::kZstdRow;
	settings.sample_bytes = options.row_dictionary_sample_bytes;
	settings.dictionary_bytes = 64 * 1024;
	settings.log = log;
	RowDictionariesStart(settings);
	return OkStatus();
}

/*
 * MoveKeysOutOfRows moves keys other than rows (reservations, watermarks,
 * range keys) that an instance written before the keys column family existed
 * holds in the default family, at open. Copies first, then deletes them from
 * the default family in one synced batch: a crash in between leaves both
 * copies, and the next open copies again (the same keys and values).
 */
EngineStatus
MoveKeysOutOfRows()
{
	const std::string spans[][2] = {
		{std::string(1, static_cast<char>(kMetaSpace)), std::string(1, static_cast<char>(kRowSpace))},
		{std::string(1, static_cast<char>(kAccountSpace)), std::string(1, static_cast<char>(kTimeSpace + 1))},
	};
	rocksdb::WriteBatch drop;
	for (const auto &span : spans)
	{
		rocksdb::Slice lower(span[0]), upper(span[1]);
		rocksdb::ReadOptions ro;
		ro.iterate_lower_bound = &lower;
		ro.iterate_upper_bound = &upper;
		ro.fill_cache = false;
		std::unique_ptr<rocksdb::Iterator> it(g_db->NewIterator(ro, RowsCf()));
		rocksdb::WriteBatch batch;
		bool any = false;
		for (it->SeekToFirst(); it->Valid(); it->Next())
		{
			any = true;
			rocksdb::Status s = batch.Put(KeysCf(), it->key(), it->value());
			if (s.ok() && batch.Count() >= 10000)
			{
				s = LockedWrite(rocksdb::WriteOptions(), &batch);
				batch.Clear();
			}
			if (!s.ok())
				return FromWrite(s);
		}
		if (!it->status().ok())
			return FromRocks(it->status());
		if (batch.Count() > 0)
		{
			rocksdb::Status s = LockedWrite(rocksdb::WriteOptions(), &batch);
			if (!s.ok())
				return FromWrite(s);
		}
		if (any)
		{
			rocksdb::Status s = drop.DeleteRange(RowsCf(), span[0], span[1]);
			if (!s.ok())
				return FromRocks(s);
		}
	}
	if (drop.Count() == 0)
		return OkStatus();
	rocksdb::WriteOptions wo;
	wo.sync = true;
	return FromWrite(LockedWrite(wo, &drop));
}

/*
 * NewBlockCache makes the block cache of decompressed row and key blocks.
 *
 * Every row a scan, a range scan or an index fetch reads passes through a
 * cache lookup, and with LRUCache each lookup and release takes its shard's
 * mutex and moves the entry on the LRU list: ~10% of all CPU of a 4-client
 * 10,000-event window at 1M rows (perf). HyperClockCache looks up without
 * locks and evicts by CLOCK. Measured side by side on one cluster
 * (docs/architecture.md): 4-client point lookups +12% at 1M and +27% at 10M,
 * account windows +10-20%, nothing slower. It was "experimental" in 7.8 and
 * declared production-ready in 7.9 with no fix in between (7.8.0 carries its
 * last memory-safety fix, #10768); ledger_am.block_cache_policy = lru brings
 * LRUCache back. Its table is sized from the expected entry: the rows' 8 kB
 * blocks (key blocks are 16 kB, and a low estimate is the safe side).
 */
std::shared_ptr<rocksdb::Cache>
NewBlockCache(const EngineOptions &options)
{
	size_t capacity = static_cast<size_t>(options.block_cache_bytes);

	if (options.cache_policy == CachePolicy::kLru)
		return rocksdb::NewLRUCache(capacity);
	return rocksdb::HyperClockCacheOptions(capacity, 8 * 1024).MakeSharedCache();
}

} // namespace

/* CompressionName names a codec the way the settings spell it. */
const char *
CompressionName(Compression c) noexcept
{
	switch (c)
	{
		case Compression::kLz4:
			return "lz4";
		case Compression::kZstd:
			return "zstd";
		case Compression::kLz4hc:
			return "lz4hc";
		case Compression::kZstdRow:
			return "zstd_row";
		case Compression::kNone:
			break;
	}
	return "none";
}

/* EngineDefaultOptions returns lz4 keys and zstd rows, 64 MiB caches. */
EngineOptions
EngineDefaultOptions(const char *path) noexcept
{
	EngineOptions o;
	o.path = path;
	o.compression = Compression::kLz4;
	o.row_compression = Compression::kZstd;
	o.block_cache_bytes = UINT64_C(64) << 20;
	o.cache_policy = CachePolicy::kClock;
	o.write_buffer_bytes = UINT64_C(64) << 20;
	o.row_id_reserve_step = 65536;
	o.row_dictionary_sample_bytes = size_t(8) << 20;
	return o;
}

/* EngineOpen opens the process's single RocksDB instance. */
EngineStatus
EngineOpen(const EngineOptions &options) noexcept
{
	try
	{
		if (g_db != nullptr)
			return MakeStatus(EngineCode::kInvalid, "ledger_am storage engine is already open");
		if (options.path == nullptr || options.path[0] == '\0')
			return MakeStatus(EngineCode::kInvalid, "ledger_am storage engine path is empty");

		/* DB-wide options, and the rows' column family (the default one). */
		rocksdb::Options ro;
		ro.env = WalPreallocatingEnv();
		ro.create_if_missing = true;
		ro.write_buffer_size = static_cast<size_t>(options.write_buffer_bytes);
		ro.memtable_insert_with_hint_prefix_extractor = std::make_shared<InsertRunPrefix>();
		ro.max_background_jobs = 2;
		ro.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
		/* RocksDB 7.8 forces this to 0 under kPointInTimeRecovery anyway. */
		ro.recycle_log_file_num = 0;
		/* Unsynced writes must reach the OS at Write() time so a kill -9 of
		 * the worker loses nothing; only an OS crash can lose unsynced rows. */
		ro.manual_wal_flush = false;
		ro.avoid_flush_during_shutdown = false;
		/* Reopening after a failed write (disk full) must not need space for
		 * flushing the recovered memtables: the WAL stays until the next
		 * regular flush. Point-in-time recovery goes on past the torn record
		 * of the failed write because the next WAL continues its sequence. */
		ro.avoid_flush_during_recovery = true;
		/* Tests only (EngineOptions.logged_rows_skip_wal): the log mark
		 * (keys) must never reach a file ahead of its rows. */
		g_logged_rows_skip_wal = options.logged_rows_skip_wal;
		ro.atomic_flush = options.logged_rows_skip_wal;

		rocksdb::BlockBasedTableOptions table;
		g_block_cache = NewBlockCache(options);
		table.block_cache = g_block_cache;
		/*
		 * No bloom filters in either family. Keys (range keys, reservations,
		 * watermarks) are read by iterators, which a whole-key filter cannot
		 * serve, and by a few point reads of a table's state when the worker
		 * first meets it; the filter only cost 1.25 bytes per key on disk
		 * (10% of the keys' files) and its build at every flush. Rows: see
		 * below.
		 */
		table.format_version = 5;
		table.block_size = 16 * 1024;
		/*
		 * A memtable flush puts the blocks it writes into the block cache: a
		 * ledger reads its newest events most (an account's last ones), and
		 * they would otherwise be read back from the file and decompressed
		 * once more right after being written. On a 1M-row load read at
		 * once (bench/ledger_load.sh 1, alternating): last 50 events 3,190 /
		 * 2,846 tps against 2,812 / 2,767, 30-day windows 6,141 / 5,868
		 * against 5,319 / 5,430, COPY unchanged. A load larger than the cache
		 * cycles through it, the newest blocks staying; compaction output is
		 * not cached.
		 */
		table.prepopulate_block_cache = rocksdb::BlockBasedTableOptions::PrepopulateBlockCache::kFlushOnly;
		ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

		/*
		 * Rows in 8 kB blocks: reading one row (a point lookup, each row a
		 * range scan names) decompresses its whole block, while a full scan
		 * pays a fixed cost per block. Measured at 10M rows, ZSTD (see
		 * docs/architecture.md): 16 kB -> 8 kB made an account's last 50
		 * events 1.4x faster at the same size on disk (the per-file
		 * dictionary keeps small blocks compact); 4 kB gained another ~1.3x
		 * on random reads but cost 5% more bytes and made full scans 1.3x
		 * (ZSTD) to 1.8x (LZ4) slower.
		 */
		rocksdb::BlockBasedTableOptions rows_table = table;
		rows_table.block_size = 8 * 1024;
		/*
		 * Rows are read one key at a time (MultiGet of a range scan's row
		 * ids, a btree's TIDs), so each row key is a restart point (stored
		 * whole, not delta-coded) and each block carries a hash index of its
		 * keys: a lookup finds its row in the block in one probe. With
		 * RocksDB's default of a restart point every 16 keys, an 8 kB block
		 * of ~11 rows had one, and every lookup parsed ~5 keys from the
		 * block's start. Measured on a 1M-row table (docs/architecture.md):
		 * 30-day account windows +30% at 1 client, +20% at 4, for 2% more
		 * bytes. Files written before keep their format and stay readable.
		 */
		rows_table.block_restart_interval = 1;
		/*
		 * No bloom filter on rows: a table's rows arrive in ascending id
		 * order, so its files overlap neither each other nor other levels'
		 * (see the trivial moves below), and a lookup reaches the one file
		 * whose key range holds its row id; the filter could only confirm
		 * it, at the price of a filter block lookup and probe per key per
		 * file. Measured on two 1M-row bench clusters (docs/architecture.md):
		 * 4-client point lookups +2-23%, 10k-event windows (btree fetches)
		 * +5-30%, 30-day windows unchanged. Files written with a filter
		 * keep it, unread.
		 */
		rows_table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
		rows_table.data_block_hash_table_util_ratio = 0.75;

		/*
		 * Keys (reservations, watermarks, range keys): the configured
		 * compression (LZ4 by default, as issue 2 asks; ZSTD stored a 1M-event
		 * bench load's keys in 27 MB against 37 MB, COPY at the same rate),
		 * universal compaction. Account keys land all over
		 * their key space, so under leveled compaction every L0 -> L1
		 * compaction rewrote the whole of L1: 39 CPU-s of compaction for a
		 * 4M-row load against 21 s with universal. Their memtable is smaller
		 * than the rows' (keys are ~50 bytes a row against ~700), so both
		 * families flush at a similar pace and neither pins old WAL files.
		 */
		rocksdb::ColumnFamilyOptions keys_opts(ro);
		keys_opts.compression = ToRocksCompression(options.compression);
		keys_opts.compaction_style = rocksdb::kCompactionStyleUniversal;
		keys_opts.write_buffer_size = std::max<size_t>(ro.write_buffer_size / 4, size_t(4) << 20);
		/*
		 * Merge sorted runs four at a time, not two (RocksDB's default), and
		 * only once 8 runs (not 4) stand. Account keys arrive in random
		 * order, so every merge rewrites its runs whole, and with merges of
		 * two a key was rewritten about log2(keys / memtable) times: more
		 * the larger the table grew. Measured on 12M-row COPY loads into the
		 * canonical table (primary key, unique, ledger_range; no other
		 * index), docs/architecture.md, "Range keys' compaction": 46.7 CPU-s
		 * of compaction writing 2,961 MB against 20.3 CPU-s writing 1,299
		 * MB, the last 1M chunk 66k against 73k rows/s, account windows read
		 * as fast. A 4x larger keys memtable cut compaction as much but
		 * slowed "last 50 events" scans, which walk the memtable's skiplist
		 * backwards; merges of 8 slowed account windows by 15-20%.
		 */
		keys_opts.compaction_options_universal.min_merge_width = 4;
		keys_opts.level0_file_num_compaction_trigger = 8;

		/*
		 * A WAL file is deleted once every family has flushed what it holds.
		 * A table without range keys writes almost nothing to the keys
		 * family (a reservation now and then), so its memtable never fills
		 * and, with RocksDB's default limit (4x all write buffers, 640 MB
		 * here), 785 MB of WAL stood behind a 1M-event load (bench
		 * --ledger-indexes btree-only), all of it replayed after a crash.
		 * Past twice the two memtables' size, RocksDB flushes the family
		 * that pins the oldest WAL file: the keys' few entries.
		 */
		ro.max_total_wal_size = 2 * (ro.write_buffer_size + keys_opts.write_buffer_size);

		/*
		 * Rows: compressed once, when their memtable is flushed, with the
		 * same codec at every level: ZSTD (level 1) by default, LZ4HC (level
		 * 4), LZ4 or none as configured, with a 16 kB dictionary per file
		 * taken from its own blocks. LZ4HC decodes with LZ4's decoder, ~2.7x
		 * faster than ZSTD on these blocks, and stores ~15% more bytes.
		 * Level 9, LZ4HC's default, stored 1% less than level 4 for a third
		 * slower compression (200,000 bench rows, 8 kB blocks).
		 * A table's rows arrive in ascending id order and no other keys
		 * share their family, so a flushed file overlaps no older one and
		 * compaction moves it down the levels instead of rewriting it (a
		 * "trivial move", which needs the same compression at the source and
		 * target level). Measured on a 4M-row load in four COPYs: 131 s and
		 * 99 CPU-s of compaction with one family (LZ4, ZSTD at the bottom)
		 * against 92 s and 21 CPU-s (see docs/architecture.md).
		 */
		ro.compression = ToRocksCompression(options.row_compression);
		if (ro.compression != rocksdb::kNoCompression)
		{
			ro.compression_opts.enabled = true;
			ro.compression_opts.level = options.row_compression == Compression::kLz4hc ? 4 : 1;
			/* Events repeat their JSON keys, vocabularies and id prefixes
			 * across rows, which one small block alone cannot exploit: a
			 * 16 kB dictionary per file. With ZSTD it is trained on 1.6 MB
			 * of the file's blocks (zstd's trainer, 100x the dictionary as
			 * it recommends) instead of being a raw sample of them: with
			 * 8 kB blocks that stores rows ~7% smaller for ~0.3 CPU-s per
			 * 1M rows at flush (docs/architecture.md). (With 16 kB blocks,
			 * session 3 measured only 1.5% for training.) */
			ro.compression_opts.max_dict_bytes = 16 * 1024;
			ro.compression_opts.zstd_max_train_bytes =
				ro.compression == rocksdb::kZSTD ? 100 * ro.compression_opts.max_dict_bytes : 0;
		}
		ro.bottommost_compression = rocksdb::kDisableCompressionOption;
		/* zstd_row: rows compressed one by one (row_dictionary.h) as they
		 * are written to files; under any other setting the same filter
		 * restores such rows to raw. */
		ro.compaction_filter_factory = RowDictionaryFilterFactory();

		/* The directory must exist before the logger opens its file in it. */
		(void) rocksdb::Env::Default()->CreateDirIfMissing(options.path);
		ro.info_log = NewStdioLogger(options.path);
		ro.keep_log_file_num = 1;

		/* An instance made before the keys family existed has only the default. */
		std::vector<std::string> families;
		bool has_keys = false;
		if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(ro), options.path, &families).ok())
			for (const std::string &f : families)
			{
				if (f == kKeysFamily)
					has_keys = true;
				else if (f != rocksdb::kDefaultColumnFamilyName)
					return MakeStatus(EngineCode::kCorruption,
									  ("unknown column family \"" + f + "\" in the ledger_am data directory").c_str());
			}

		auto open = [&](size_t rows_buffer, size_t keys_buffer, rocksdb::DB **db,
						std::vector<rocksdb::ColumnFamilyHandle *> *handles) {
			rocksdb::ColumnFamilyOptions rows_cf(ro), keys_cf(keys_opts);
			rows_cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(rows_table));
			rows_cf.write_buffer_size = rows_buffer;
			keys_cf.write_buffer_size = keys_buffer;
			std::vector<rocksdb::ColumnFamilyDescriptor> descs = {
				rocksdb::ColumnFamilyDescriptor(rocksdb::kDefaultColumnFamilyName, rows_cf)};
			if (has_keys)
				descs.emplace_back(kKeysFamily, keys_cf);
			return rocksdb::DB::Open(rocksdb::DBOptions(ro), options.path, descs, handles, db);
		};
		rocksdb::DB *db = nullptr;
		std::vector<rocksdb::ColumnFamilyHandle *> handles;
		rocksdb::Status s = open(ro.write_buffer_size, keys_opts.write_buffer_size, &db, &handles);
		if (s.IsNoSpace())
		{
			/*
			 * The disk is full and replaying the WAL overflowed a memtable,
			 * which recovery flushes to an SST file. Replay into memtables
			 * big enough to hold the WAL instead (it is at most the unflushed
			 * memtables, write_buffer_number of them), so the committed rows
			 * stay readable while the disk is full; new memtables get the
			 * configured size again and the next flush, once space is freed,
			 * writes them out.
			 */
			size_t roomy = std::max<size_t>(ro.write_buffer_size * 8, size_t(1) << 30);
			s = open(roomy, roomy, &db, &handles);
			if (s.ok())
			{
				(void) db->SetOptions(handles[0], {{"write_buffer_size", std::to_string(ro.write_buffer_size)}});
				if (has_keys)
					(void) db->SetOptions(handles[1], {{"write_buffer_size",
														std::to_string(keys_opts.write_buffer_size)}});
			}
		}
		if (!s.ok())
			return FromRocks(s);
		rocksdb::ColumnFamilyHandle *keys = has_keys ? handles[1] : nullptr;
		/* The default family's own handle (DefaultColumnFamily()) stays. */
		(void) db->DestroyColumnFamilyHandle(handles[0]);
		if (keys == nullptr)
		{
			s = db->CreateColumnFamily(keys_opts, kKeysFamily, &keys);
			if (!s.ok())
			{
				delete db;
				return FromRocks(s);
			}
		}
		g_db = db;
		g_keys_cf = keys;
		g_reserve_step = options.row_id_reserve_step;
		g_tables.clear();
		g_ranges.clear();
		EngineStatus moved = MoveKeysOutOfRows();
		if (moved.ok())
			moved = StartRowDictionaries(options, ro.info_log);
		if (!moved.ok())
		{
			EngineClose();
			return moved;
		}
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineClose syncs the WAL, flushes memtables and closes the instance. */
void
EngineClose() noexcept
{
	try
	{
		g_tables.clear();
		g_ranges.clear();
		if (g_db == nullptr)
			return;
		/* After a failed write the instance is abandoned, not closed: closing
		 * would flush the failed WAL writer and abort (see g_write_failed).
		 * The process is exiting; recovery reads the WAL on disk. */
		if (g_write_failed.load())
		{
			g_db = nullptr;
			g_keys_cf = nullptr;
			return;
		}
		/* Nothing to report to: errors here are dropped, the WAL on disk is
		 * what recovery will use anyway. */
		(void) g_db->FlushWAL(true);
		if (g_keys_cf != nullptr)
			(void) g_db->DestroyColumnFamilyHandle(g_keys_cf);
		g_keys_cf = nullptr;
		(void) g_db->Close();
		delete g_db;
		g_db = nullptr;
		RowDictionariesStop();
		g_block_cache.reset();
	}
	catch (...)
	{
		g_db = nullptr;
		g_keys_cf = nullptr;
	}
}

/* EngineAppend writes nrows rows under fresh consecutive ids in one batch. */
EngineStatus
EngineAppend(const TableId &t, const RowSlice *rows, uint32_t nrows, uint64_t *first_row_id) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		StorePendingDictionaries();
		if (nrows > 0 && rows == nullptr)
			return MakeStatus(EngineCode::kInvalid, "append of rows with no row array");
		TableState *st;
		EngineStatus es = LoadTableState(t, &st);
		if (!es.ok())
			return es;

		uint64_t first = st->next;
		*first_row_id = first;
		if (nrows == 0)
			return OkStatus();
		if (first > kMaxRowId || nrows - 1 > kMaxRowId - first || !RowIdIsMappable(first + nrows - 1))
		{
			char msg[160];
			std::snprintf(msg, sizeof(msg),
						  "table is full: row ids from %llu for %u rows exceed the maximum %llu",
						  static_cast<unsigned long long>(first), nrows,
						  static_cast<unsigned long long>(kMaxRowId));
			return MakeStatus(EngineCode::kInvalid, msg);
		}
		uint64_t end = first + nrows;
		es = EnsureReserved(t, st, end);
		if (!es.ok())
			return es;

		rocksdb::WriteBatch batch;
		for (uint32_t i = 0; i < nrows; i++)
		{
			rocksdb::Status s = batch.Put(RowsCf(), RowKey(t, first + i), rocksdb::Slice(rows[i].data, rows[i].len));
			if (!s.ok())
				return FromRocks(s);
			es = AddRangeKeys(&batch, t, first + i, rows[i].keys, rows[i].keys_len);
			if (!es.ok())
				return es;
		}
		/* Advance before writing: a failed Write may still have reached the
		 * WAL, and ids are cheap, so never hand these out again. */
		st->next = end;
		rocksdb::WriteOptions wo;
		wo.sync = false;
		return FromWrite(LockedWrite(wo, &batch));
	}
	catch (...)
	{
		return FromException();
	}
}

/* FindRange returns owner's active range for t, or nullptr. */
OwnedRange *
FindRange(const TableId &t, uint32_t owner)
{
	for (auto &r : g_ranges)
		if (r.owner == owner && r.table == t)
			return &r;
	return nullptr;
}

/* ForgetRanges drops the reservations of tables matching pred. */
template <typename Pred>
void
ForgetRanges(Pred pred)
{
	g_ranges.erase(std::remove_if(g_ranges.begin(), g_ranges.end(), pred), g_ranges.end());
}

/* EngineReserve hands owner the next n row ids of t. */
EngineStatus
EngineReserve(const TableId &t, uint32_t owner, uint64_t n, uint64_t *first) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		if (n == 0)
			return MakeStatus(EngineCode::kInvalid, "reservation of zero row ids");
		TableState *st;
		EngineStatus es = LoadTableState(t, &st);
		if (!es.ok())
			return es;
		uint64_t start = st->next;
		if (start > kMaxRowId || n - 1 > kMaxRowId - start)
			return MakeStatus(EngineCode::kInvalid, "table is full: no row ids left to reserve");
		uint64_t end = start + n;
		es = EnsureReserved(t, st, end);
		if (!es.ok())
			return es;
		st->next = end;
		OwnedRange *r = FindRange(t, owner);
		if (r == nullptr)
		{
			g_ranges.push_back(OwnedRange{t, owner, start, end});
		}
		else
		{
			r->cursor = start;
			r->end = end;
		}
		*first = start;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineWriteReserved writes rows at their owners' reserved ids. */
EngineStatus
EngineWriteReserved(const ReservedRow *rows, size_t n, EngineStatus *row_status,
					const BatchLog *log) noexcept
{
	try
	{
		if (g_db == nullptr)
		{
			for (size_t i = 0; i < n; i++)
				row_status[i] = NotOpen();
			return NotOpen();
		}
		StorePendingDictionaries();
		rocksdb::WriteBatch batch;
		for (size_t i = 0; i < n; i++)
		{
			const ReservedRow &rr = rows[i];
			OwnedRange *r = FindRange(rr.table, rr.owner);

			/* Forward only within the owner's range: an id its writer skipped
			 * (an insert cancelled between reserving and queueing) stays unused. */
			if (r == nullptr || rr.row_id < r->cursor || rr.row_id >= r->end)
			{
				char msg[200];
				std::snprintf(msg, sizeof(msg),
							  "row id %llu of table %u is not an unused id reserved to its writer (%s [%llu, %llu))",
							  static_cast<unsigned long long>(rr.row_id), rr.table.rel,
							  r ? "range" : "no range",
							  static_cast<unsigned long long>(r ? r->cursor : 0),
							  static_cast<unsigned long long>(r ? r->end : 0));
				row_status[i] = MakeStatus(EngineCode::kKeyExists, msg);
				continue;
			}
			rocksdb::Status s = batch.Put(RowsCf(), RowKey(rr.table, rr.row_id), rocksdb::Slice(rr.row.data, rr.row.len));
			EngineStatus es = s.ok() ? AddRangeKeys(&batch, rr.table, rr.row_id, rr.row.keys, rr.row.keys_len)
				: FromRocks(s);
			if (!es.ok())
			{
				row_status[i] = es;
				continue;
			}
			/* Used, written or not: an id is never offered again. */
			r->cursor = rr.row_id + 1;
			row_status[i] = OkStatus();
		}
		if (batch.Count() == 0)
			return OkStatus();
		uint64_t	mark = 0;
		EngineStatus written = OkStatus();
		if (log != nullptr)
		{
			/* Logged as RocksDB serializes it; the mark is not part of the
			 * record (its LSN is only known once logged). */
			if (log->log(log->arg, batch.Data().data(), batch.GetDataSize(), &mark, &written))
				written = FromRocks(PutLogMark(&batch, mark));
		}
		rocksdb::WriteOptions wo;
		wo.sync = false;
		wo.disableWAL = log != nullptr && g_logged_rows_skip_wal;
		if (written.ok())
			written = FromWrite(LockedWrite(wo, &batch, mark));
		if (!written.ok())
			for (size_t i = 0; i < n; i++)
				if (row_status[i].ok())
					row_status[i] = written;
		return written;
	}
	catch (...)
	{
		EngineStatus es = FromException();
		for (size_t i = 0; i < n; i++)
			row_status[i] = es;
		return es;
	}
}

/* ReleaseRanges ends the reservations matching pred, giving back unused top
 * ids (keeps ids dense for a lone writer; the durable reservation already
 * covers them, harmlessly). */
template <typename Pred>
void
ReleaseRanges(Pred pred)
{
	for (const auto &r : g_ranges)
	{
		if (!pred(r))
			continue;
		auto st = g_tables.find(r.table);

		if (st != g_tables.end() && st->second.next == r.end && r.cursor < r.end)
			st->second.next = r.cursor;
	}
	ForgetRanges(pred);
}

/* EngineRelease ends owner's reservations but the one it keeps (see engine.h). */
EngineStatus
EngineRelease(uint32_t owner, const TableId *keep, bool *kept) noexcept
{
	try
	{
		bool		keeping = false;

		if (keep != nullptr)
		{
			OwnedRange *r = FindRange(*keep, owner);

			keeping = r != nullptr && r->cursor < r->end;
		}
		ReleaseRanges([&](const OwnedRange &r) {
			return r.owner == owner && !(keeping && r.table == *keep);
		});
		if (kept != nullptr)
			*kept = keeping;
		return OkStatus();
	}
	catch (...)
	{
		if (kept != nullptr)
			*kept = false;
		return FromException();
	}
}

EngineStatus
EngineReleaseTable(uint32_t owner, const TableId &t) noexcept
{
	try
	{
		ReleaseRanges([&](const OwnedRange &r) { return r.owner == owner && r.table == t; });
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineWriteRowAt writes one row at an explicit id above the high-water mark. */
EngineStatus
EngineWriteRowAt(const TableId &t, uint64_t row_id, const RowSlice &row) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		if (!RowIdIsMappable(row_id))
			return MakeStatus(EngineCode::kInvalid, "row id exceeds the maximum mappable row id");
		TableState *st;
		EngineStatus es = LoadTableState(t, &st);
		if (!es.ok())
			return es;
		if (row_id < st->next)
			return MakeStatus(EngineCode::kKeyExists,
							  "row key exists or is below the table's high-water mark");
		es = EnsureReserved(t, st, row_id + 1);
		if (!es.ok())
			return es;
		st->next = row_id + 1;
		rocksdb::WriteOptions wo;
		wo.sync = false;
		rocksdb::WriteBatch one;
		one.Put(RowKey(t, row_id), rocksdb::Slice(row.data, row.len));
		return FromWrite(LockedWrite(wo, &one));
	}
	catch (...)
	{
		return FromException();
	}
}

bool
EngineWriteFailed() noexcept
{
	return g_write_failed.load();
}

EngineStatus
EngineWriteFailure() noexcept
{
	if (!g_write_failed.load())
		return OkStatus();
	EngineStatus es = MakeStatus(static_cast<EngineCode>(g_write_failed_code.load()), "");
	std::memcpy(es.message, g_write_failed_message, sizeof(es.message));
	return es;
}

/* EngineSync makes every write so far durable with one WAL fsync. */
EngineStatus
EngineSync() noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		std::lock_guard<std::mutex> lock(g_write_mu);
		if (g_write_failed.load())
			return FromRocks(RefusedWrite());
		uint64_t	mark = g_written_mark.load();
		rocksdb::Status s = g_db->FlushWAL(true);
		NoteWriteError(s);
		if (s.ok())
			g_durable_mark.store(mark);
		return FromRocks(s);
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineDurableLogMark: see engine.h. */
uint64_t
EngineDurableLogMark() noexcept
{
	return g_durable_mark.load();
}

/* EngineWrittenLogMark: see engine.h. */
uint64_t
EngineWrittenLogMark() noexcept
{
	return g_written_mark.load();
}

/* EngineReplayBatch writes a logged batch again, with its mark. */
EngineStatus
EngineReplayBatch(const char *data, size_t len, uint64_t lsn) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		/* The header alone is 12 bytes (sequence, count). */
		if (len < 12)
			return MakeStatus(EngineCode::kCorruption, "a logged row batch is too short");
		rocksdb::WriteBatch batch(std::string(data, len));
		/* Write() would apply the records before a malformed one: parse
		 * the whole batch first. Logged batches hold only puts. */
		struct Puts : rocksdb::WriteBatch::Handler
		{
			uint32_t	n = 0;
			rocksdb::Status PutCF(uint32_t, const rocksdb::Slice &, const rocksdb::Slice &) override
			{
				n++;
				return rocksdb::Status::OK();
			}
		} puts;
		rocksdb::Status parsed = batch.Iterate(&puts);
		if (!parsed.ok() || puts.n != batch.Count())
		{
			std::string msg = "a logged row batch does not parse: " +
				(parsed.ok() ? std::string("not only puts") : parsed.ToString());
			return MakeStatus(EngineCode::kCorruption, msg.c_str());
		}
		rocksdb::Status s = PutLogMark(&batch, lsn);
		if (!s.ok())
			return FromRocks(s);
		rocksdb::WriteOptions wo;
		wo.disableWAL = g_logged_rows_skip_wal;
		return FromWrite(LockedWrite(wo, &batch, lsn));
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineLogMark reads the log mark. */
EngineStatus
EngineLogMark(uint64_t *lsn) noexcept
{
	try
	{
		*lsn = 0;
		if (g_db == nullptr)
			return NotOpen();
		std::string v;
		rocksdb::Status s = g_db->Get(rocksdb::ReadOptions(), KeysCf(), LogMarkKey(), &v);
		if (s.IsNotFound())
			return OkStatus();
		if (!s.ok())
			return FromRocks(s);
		if (v.size() != 8)
			return MakeStatus(EngineCode::kCorruption, "the log mark is not 8 bytes");
		*lsn = GetU64BE(v.data());
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineSetLogMark sets (or with 0 removes) the log mark, synced. */
EngineStatus
EngineSetLogMark(uint64_t lsn) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		rocksdb::WriteBatch batch;
		rocksdb::Status s = lsn == 0 ? batch.Delete(KeysCf(), LogMarkKey()) : PutLogMark(&batch, lsn);
		if (!s.ok())
			return FromRocks(s);
		rocksdb::WriteOptions wo;
		wo.sync = true;
		s = LockedWrite(wo, &batch);
		if (s.ok())
		{
			g_written_mark.store(lsn);
			g_durable_mark.store(lsn);
		}
		return FromWrite(s);
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineGet copies one row into buf as a framed record. */
EngineStatus
EngineGet(const TableId &t, uint64_t row_id, char *buf, size_t cap, size_t *used) noexcept
{
	try
	{
		*used = 0;
		if (g_db == nullptr)
			return NotOpen();
		rocksdb::PinnableSlice value;
		rocksdb::Status s =
			g_db->Get(rocksdb::ReadOptions(), RowsCf(), RowKey(t, row_id), &value);
		if (!s.ok())
			return FromRocks(s);
		std::string scratch;
		rocksdb::Slice row;
		if (const char *err = ReadableRow(t, value, &scratch, &row))
			return MakeStatus(EngineCode::kCorruption, err);
		if (row.size() > UINT32_MAX)
			return MakeStatus(EngineCode::kCorruption, "stored row is larger than 4 GB");
		RecordWriter w(buf, cap);
		char *dst = w.Append(row_id, static_cast<uint32_t>(row.size()));
		if (dst == nullptr)
		{
			char msg[120];
			std::snprintf(msg, sizeof(msg), "row needs %zu bytes, buffer has %zu",
						  RecordSize(row.size()), cap);
			return MakeStatus(EngineCode::kBufferTooSmall, msg);
		}
		std::memcpy(dst, row.data(), row.size());
		*used = w.used();
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineScan fills buf with framed rows of ids in [from, to), in id order or
 * reversed, and says where to resume. */
EngineStatus
EngineScan(const TableId &t, uint64_t from, uint64_t to, bool backward, char *buf, size_t cap,
		   size_t *used, uint32_t *count, uint64_t *resume, bool *done, bool fill_cache) noexcept
{
	try
	{
		*used = 0;
		*count = 0;
		*resume = backward ? to : from;
		*done = false;
		if (g_db == nullptr)
			return NotOpen();
		if (from >= to || from > kMaxRowId)
		{
			*done = true;
			return OkStatus();
		}

		std::string prefix = TablePrefix(t);
		std::string lower = RowKey(t, from);
		std::string upper = TableUpperBound(t, to);
		rocksdb::Slice lower_slice(lower), upper_slice(upper);
		rocksdb::ReadOptions ro;
		ro.iterate_lower_bound = &lower_slice;
		ro.iterate_upper_bound = &upper_slice;
		ro.fill_cache = fill_cache;
		std::unique_ptr<rocksdb::Iterator> it(g_db->NewIterator(ro, RowsCf()));

		RecordWriter w(buf, cap);
		std::string scratch;
		if (backward)
			it->SeekToLast();
		else
			it->Seek(lower_slice);
		for (; it->Valid(); backward ? it->Prev() : it->Next())
		{
			TableId kt;
			uint64_t row_id;
			rocksdb::Slice key = it->key();
			if (!HasTablePrefix(key, prefix) || !DecodeRowKey(key.data(), key.size(), &kt, &row_id))
				return MakeStatus(EngineCode::kCorruption, "malformed row key inside a table's range");
			rocksdb::Slice value;
			if (const char *err = ReadableRow(t, it->value(), &scratch, &value))
				return MakeStatus(EngineCode::kCorruption, err);
			if (value.size() > UINT32_MAX)
				return MakeStatus(EngineCode::kCorruption, "stored row is larger than 4 GB");
			if (!w.Fits(value.size()))
			{
				if (w.count() == 0)
				{
					char msg[120];
					std::snprintf(msg, sizeof(msg), "row needs %zu bytes, buffer has %zu",
								  RecordSize(value.size()), cap);
					return MakeStatus(EngineCode::kBufferTooSmall, msg);
				}
				/* Buffer full, rows remain: *resume already names the next one. */
				*used = w.used();
				*count = w.count();
				return OkStatus();
			}
			char *dst = w.Append(row_id, static_cast<uint32_t>(value.size()));
			std::memcpy(dst, value.data(), value.size());
			*resume = backward ? row_id : row_id + 1;
		}
		if (!it->status().ok())
			return FromRocks(it->status());
		*used = w.used();
		*count = w.count();
		*done = true;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineDeleteRow removes one row, only if it belongs to transaction xmin. */
EngineStatus
EngineDeleteRow(const TableId &t, uint64_t row_id, uint64_t xmin, const char *keys,
				uint32_t keys_len) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		std::string key = RowKey(t, row_id);
		rocksdb::PinnableSlice value;
		rocksdb::Status s = g_db->Get(rocksdb::ReadOptions(), RowsCf(), key, &value);
		if (!s.ok())
			return FromRocks(s);
		RowHeader h;
		if (!DecodeRowHeader(value.data(), value.size(), &h))
			return MakeStatus(EngineCode::kCorruption, "stored row has a short or unknown header");
		if (h.xmin != xmin)
			return MakeStatus(EngineCode::kInvalid, "row belongs to another transaction");
		rocksdb::WriteOptions wo;
		wo.sync = false;
		rocksdb::WriteBatch one;
		one.Delete(RowsCf(), key);
		EngineStatus es = AddRangeKeys(&one, t, row_id, keys, keys_len, true);
		if (!es.ok())
			return es;
		return FromWrite(LockedWrite(wo, &one));
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineDropTable removes a table's rows and reservation in one synced batch. */
EngineStatus
EngineDropTable(const TableId &t) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		std::string prefix = TablePrefix(t);
		rocksdb::WriteBatch batch;
		rocksdb::Status s = batch.DeleteRange(RowsCf(), prefix, PrefixSuccessor(prefix));
		for (uint8_t space : kRangeSpaces)
		{
			std::string sp = SpacePrefix(space, t);
			if (s.ok())
				s = batch.DeleteRange(KeysCf(), sp, PrefixSuccessor(sp));
		}
		for (uint8_t kind : kMetaKinds)
			if (s.ok())
				s = batch.Delete(KeysCf(), MetaKey(kind, t));
		if (!s.ok())
			return FromRocks(s);
		/* Synced: once Postgres may reuse the relfilenode, the old rows must
		 * be gone for good, or a crash would resurrect them into a new table. */
		rocksdb::WriteOptions wo;
		wo.sync = true;
		s = LockedWrite(wo, &batch);
		if (!s.ok())
			(void) FromWrite(s);
		/* Forget the counter even on failure: it is re-derived from storage. */
		g_tables.erase(t);
		ForgetRanges([&t](const OwnedRange &r) { return r.table == t; });
		RowDictionariesForget([&t](const TableId &d) { return d == t; });
		return FromRocks(s);
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineDropDatabase removes every table of database db, in every tablespace. */
EngineStatus
EngineDropDatabase(uint32_t db) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		rocksdb::WriteBatch batch;
		rocksdb::Status s;
		EngineStatus es;
		for (uint8_t space : {kRowSpace, kAccountSpace, kTimeSpace})
		{
			const std::string space_prefix(1, static_cast<char>(space));
			std::vector<uint32_t> spcs;

			es = CollectTablespaces(space_prefix, &spcs);
			if (!es.ok())
				return es;
			for (uint32_t spc : spcs)
			{
				std::string prefix = DatabasePrefix(spc, db);
				prefix[0] = static_cast<char>(space);
				s = batch.DeleteRange(CfOf(space), prefix, PrefixSuccessor(prefix));
				if (!s.ok())
					return FromRocks(s);
			}
		}
		for (uint8_t kind : kMetaKinds)
		{
			const std::string meta_space{static_cast<char>(kMetaSpace), static_cast<char>(kind)};
			std::vector<uint32_t> meta_spcs;

			es = CollectTablespaces(meta_space, &meta_spcs);
			if (!es.ok())
				return es;
			for (uint32_t spc : meta_spcs)
			{
				std::string prefix = meta_space;
				prefix.resize(meta_space.size() + 8);
				PutU32BE(&prefix[meta_space.size()], spc);
				PutU32BE(&prefix[meta_space.size() + 4], db);
				s = batch.DeleteRange(KeysCf(), prefix, PrefixSuccessor(prefix));
				if (!s.ok())
					return FromRocks(s);
			}
		}
		rocksdb::WriteOptions wo;
		wo.sync = true;
		s = batch.Count() > 0 ? LockedWrite(wo, &batch) : rocksdb::Status::OK();

		ForgetRanges([db](const OwnedRange &r) { return r.table.db == db; });
		RowDictionariesForget([db](const TableId &t) { return t.db == db; });
		for (auto it = g_tables.begin(); it != g_tables.end();)
		{
			if (it->first.db == db)
				it = g_tables.erase(it);
			else
				++it;
		}
		return FromRocks(s);
	}
	catch (...)
	{
		return FromException();
	}
}

/* EnginePutRangeKeys writes the range keys of an existing row. */
EngineStatus
EnginePutRangeKeys(const TableId &t, uint64_t row_id, const char *blob, uint32_t blob_len) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		rocksdb::WriteBatch batch;
		EngineStatus es = AddRangeKeys(&batch, t, row_id, blob, blob_len);
		if (!es.ok())
			return es;
		rocksdb::WriteOptions wo;
		wo.sync = false;
		return FromWrite(LockedWrite(wo, &batch));
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineDropRangeKeys removes range keys of a table: all of them, those of
 * one declaration, or all but one declaration's (synced, like a drop). */
EngineStatus
EngineDropRangeKeys(const TableId &t, RangeDrop which, uint32_t declaration) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		rocksdb::WriteBatch batch;
		for (uint8_t space : kRangeSpaces)
		{
			std::string sp = SpacePrefix(space, t);
			std::string mine = sp;
			mine.resize(sp.size() + 4);
			PutU32BE(&mine[sp.size()], declaration);
			rocksdb::Status s;
			switch (which)
			{
				case RangeDrop::kAll:
					s = batch.DeleteRange(KeysCf(), sp, PrefixSuccessor(sp));
					break;
				case RangeDrop::kOne:
					s = batch.DeleteRange(KeysCf(), mine, PrefixSuccessor(mine));
					break;
				case RangeDrop::kAllBut:
					s = batch.DeleteRange(KeysCf(), sp, mine);
					if (s.ok())
						s = batch.DeleteRange(KeysCf(), PrefixSuccessor(mine), PrefixSuccessor(sp));
					break;
			}
			if (!s.ok())
				return FromRocks(s);
		}
		rocksdb::WriteOptions wo;
		wo.sync = true;
		return FromWrite(LockedWrite(wo, &batch));
	}
	catch (...)
	{
		return FromException();
	}
}

/* OpenRangeIterator opens an iterator over the range keys under `prefix`
 * (<space><table>) whose suffixes lie in [lo, hi); an empty hi means "to the
 * end of the prefix". */
std::unique_ptr<BoundedIterator>
OpenRangeIterator(const std::string &prefix, const char *lo, size_t lo_len, const char *hi,
				  size_t hi_len)
{
	return OpenBoundedIterator(KeysCf(), prefix + std::string(lo, lo_len),
							   hi_len > 0 ? prefix + std::string(hi, hi_len) : PrefixSuccessor(prefix));
}

/* EngineRangeBounds walks range keys without their rows (see engine.h). */
EngineStatus
EngineRangeBounds(const TableId &t, uint8_t space, const char *lo, size_t lo_len, const char *hi,
				  size_t hi_len, uint64_t *count, uint64_t *min_row, uint64_t *max_row) noexcept
{
	try
	{
		*count = 0;
		*min_row = UINT64_MAX;
		*max_row = 0;
		if (g_db == nullptr)
			return NotOpen();
		if (space != kAccountSpace && space != kTimeSpace)
			return MakeStatus(EngineCode::kInvalid, "range bounds of an unknown key space");
		std::string prefix = SpacePrefix(space, t);
		std::unique_ptr<BoundedIterator> range = OpenRangeIterator(prefix, lo, lo_len, hi, hi_len);
		rocksdb::Iterator *it = range->it.get();
		for (it->SeekToFirst(); it->Valid(); it->Next())
		{
			rocksdb::Slice k = it->key();
			if (k.size() < prefix.size() + 8)
				return MakeStatus(EngineCode::kCorruption, "malformed range key");
			uint64_t id = RangeKeyRowId(k.data(), k.size());
			(*count)++;
			*min_row = std::min(*min_row, id);
			*max_row = std::max(*max_row, id);
		}
		return FromRocks(it->status());
	}
	catch (...)
	{
		return FromException();
	}
}

/* RowFetch: one MultiGet of a range scan's batch, or of half of it. */
struct RowFetch
{
	size_t		n;
	const rocksdb::Slice *keys;
	rocksdb::PinnableSlice *values;
	rocksdb::Status *statuses;
};

/*
 * What fetching one row of a range scan took lately (nanoseconds, a moving
 * average over batches): ~1-2 us when its block is cached, 5-10 us when the
 * block must be read and decompressed. It tells a lender whether half a
 * batch is worth a hand-over to another thread.
 */
static std::atomic<uint64_t> g_fetch_ns_per_row{0};

/* NoteFetchTime folds the rows fetched since `started` into the average. */
static void
NoteFetchTime(std::chrono::steady_clock::time_point started, size_t rows)
{
	if (rows < 16)
		return;					/* too few to say much */
	uint64_t ns = static_cast<uint64_t>(
		std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count());
	uint64_t per_row = ns / rows;
	uint64_t old = g_fetch_ns_per_row.load(std::memory_order_relaxed);
	g_fetch_ns_per_row.store(old == 0 ? per_row : (old * 7 + per_row) / 8, std::memory_order_relaxed);
}

/* FetchRows runs a RowFetch on whichever thread calls it; never throws
 * (a failure becomes the keys' statuses). */
static void
FetchRows(void *arg) noexcept
{
	RowFetch   *f = static_cast<RowFetch *>(arg);

	try
	{
		g_db->MultiGet(rocksdb::ReadOptions(), RowsCf(), f->n, f->keys, f->values, f->statuses);
	}
	catch (...)
	{
		for (size_t i = 0; i < f->n; i++)
			f->statuses[i] = rocksdb::Status::Aborted("row fetch failed");
	}
}

/*
 * A batch of row ids read as a run: at least kMinRunRows ids within a span
 * of at most kRunSpan times as many ids. Rows appended in time order give a
 * time window's keys consecutive ids; one forward pass of an iterator then
 * reads each row with a Next(), where MultiGet searches an index block and a
 * data block for every row (docs/architecture.md, "Range scans").
 */
constexpr size_t kMinRunRows = 8;
/* Most keys EngineRangeScan reads per batch (two halves when lending). */
constexpr size_t kMaxRangeBatch = 128;
constexpr uint64_t kRunSpan = 2;

/* RunStart tells whether the batch's ids form a run, and its smallest id. */
static bool
RunStart(const uint64_t *ids, size_t n, uint64_t *first)
{
	if (n < kMinRunRows)
		return false;
	auto [lo, hi] = std::minmax_element(ids, ids + n);
	*first = *lo;
	return *hi - *lo < kRunSpan * n;
}

/* TakeRow moves a rows iterator forward to the first row at or after id and
 * copies that row's value if it is id's; NotFound if the row is gone, as
 * from MultiGet. */
static rocksdb::Status
TakeRow(rocksdb::Iterator *it, uint64_t id, rocksdb::PinnableSlice *value)
{
	uint64_t at = 0;
	for (; it->Valid(); it->Next())
	{
		TableId kt;
		if (!DecodeRowKey(it->key().data(), it->key().size(), &kt, &at))
			return rocksdb::Status::Corruption("malformed row key inside a table's range");
		if (at >= id)
			break;
	}
	if (!it->Valid())
		return it->status().ok() ? rocksdb::Status::NotFound() : it->status();
	if (at != id)
		return rocksdb::Status::NotFound();
	value->PinSelf(it->value());
	return rocksdb::Status::OK();
}

/* FetchRun reads a run's rows, from its smallest id on, with one forward
 * pass of the table's rows iterator `rows` (opened on first use and kept for
 * the scan's later batches): the statuses and values MultiGet would give. */
static void
FetchRun(const TableId &t, const uint64_t *ids, size_t n, uint64_t first,
		 std::unique_ptr<BoundedIterator> *rows, rocksdb::PinnableSlice *values, rocksdb::Status *statuses)
{
	if (!*rows)
	{
		std::string prefix = TablePrefix(t);
		*rows = OpenBoundedIterator(RowsCf(), prefix, PrefixSuccessor(prefix));
	}
	rocksdb::Iterator *it = (*rows)->it.get();
	size_t order[kMaxRangeBatch];
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	std::sort(order, order + n, [ids](size_t a, size_t b) { return ids[a] < ids[b]; });

	it->Seek(RowKey(t, first));
	for (size_t k = 0; k < n; k++)
		statuses[order[k]] = TakeRow(it, ids[order[k]], &values[order[k]]);
}

/* EngineRangeScan streams rows in range key order (see engine.h). */
EngineStatus
EngineRangeScan(const TableId &t, uint8_t space, const char *lo, size_t lo_len, const char *hi,
				size_t hi_len, bool backward, uint32_t max_rows, char *buf, size_t cap,
				size_t *used, uint32_t *count, char *resume, size_t resume_cap,
				size_t *resume_len, bool *done, EngineLender *lender) noexcept
{
	try
	{
		*used = 0;
		*count = 0;
		*resume_len = 0;
		*done = false;
		if (g_db == nullptr)
			return NotOpen();
		if (space != kAccountSpace && space != kTimeSpace)
			return MakeStatus(EngineCode::kInvalid, "range scan of an unknown key space");

		std::string prefix = SpacePrefix(space, t);
		std::unique_ptr<BoundedIterator> range = OpenRangeIterator(prefix, lo, lo_len, hi, hi_len);
		rocksdb::Iterator *it = range->it.get();
		RecordWriter writer(buf, cap);
		std::string scratch;

		/*
		 * Keys are read in batches and their rows fetched with one MultiGet,
		 * of up to kBatch keys, or twice that when a lender is offered: its
		 * thread may fetch the second half (FetchRows). A batch asks for
		 * little more than the rows that still fit, at the rows' average
		 * size so far.
		 */
		constexpr size_t kBatch = 64;
		constexpr size_t kMaxBatch = kMaxRangeBatch;
		constexpr size_t kMinLentBatch = 64;
		/* The batch's range keys (past the prefix) back to back in one
		 * buffer, and its row keys: no allocation per row. */
		std::string key_bytes;
		size_t key_end[kMaxBatch];
		char row_keys[kMaxBatch][kRowKeyLen];
		const std::string table_prefix = TablePrefix(t);
		uint64_t ids[kMaxBatch];
		size_t n = 0;
		rocksdb::Slice slices[kMaxBatch];
		std::vector<rocksdb::PinnableSlice> values(kMaxBatch);
		rocksdb::Status statuses[kMaxBatch];
		bool exhausted = false;
		std::unique_ptr<BoundedIterator> rows;	/* runs' pass over the rows (FetchRun) */

		if (backward)
			it->SeekToLast();
		else
			it->SeekToFirst();
		while (!exhausted)
		{
			size_t want = lender != nullptr ? kMaxBatch : kBatch;

			if (writer.count() > 0)
			{
				size_t avg = writer.used() / writer.count();
				want = std::min(want, (cap - writer.used()) / avg + 8);
			}
			key_bytes.clear();
			n = 0;
			while (n < want && (max_rows == 0 || *count + n < max_rows))
			{
				if (!it->Valid())
				{
					exhausted = true;
					break;
				}
				rocksdb::Slice k = it->key();
				if (k.size() < prefix.size() + 8)
					return MakeStatus(EngineCode::kCorruption, "malformed range key");
				key_bytes.append(k.data() + prefix.size(), k.size() - prefix.size());
				key_end[n] = key_bytes.size();
				ids[n] = RangeKeyRowId(k.data(), k.size());
				std::memcpy(row_keys[n], table_prefix.data(), kTablePrefixLen);
				PutU64BE(row_keys[n] + kTablePrefixLen, ids[n]);
				n++;
				if (backward)
					it->Prev();
				else
					it->Next();
			}
			if (!it->status().ok())
				return FromRocks(it->status());
			if (n == 0)
				break;

			for (size_t i = 0; i < n; i++)
			{
				slices[i] = rocksdb::Slice(row_keys[i], kRowKeyLen);
				values[i].Reset();
			}
			RowFetch all{n, slices, values.data(), statuses};
			RowFetch first{n / 2, slices, values.data(), statuses};
			RowFetch second{n - n / 2, slices + n / 2, values.data() + n / 2, statuses + n / 2};
			auto started = std::chrono::steady_clock::now();
			uint64_t run_first;

			if (RunStart(ids, n, &run_first))
				FetchRun(t, ids, n, run_first, &rows, values.data(), statuses);
			else if (lender != nullptr && n >= kMinLentBatch &&
				lender->Lend(FetchRows, &second, g_fetch_ns_per_row.load(std::memory_order_relaxed) * second.n))
			{
				/* The lent half writes into these arrays: wait for it
				 * before anything can leave this scope. */
				FetchRows(&first);
				NoteFetchTime(started, first.n);
				lender->Wait();
			}
			else
			{
				FetchRows(&all);
				NoteFetchTime(started, all.n);
			}
			for (size_t i = 0; i < n; i++)
			{
				/* Not found: the row was reclaimed (aborted), its range keys linger. */
				bool found = !statuses[i].IsNotFound();
				if (found && !statuses[i].ok())
					return FromRocks(statuses[i]);
				rocksdb::Slice value;
				if (found)
				{
					if (const char *err = ReadableRow(t, values[i], &scratch, &value))
						return MakeStatus(EngineCode::kCorruption, err);
					if (!writer.Fits(value.size()))
					{
						if (writer.count() == 0)
							return MakeStatus(EngineCode::kBufferTooSmall,
											  "a row does not fit the range scan buffer");
						/* Resume at this key: report the previous one. */
						exhausted = false;
						goto stop;
					}
					char *dst = writer.Append(ids[i], static_cast<uint32_t>(value.size()));
					std::memcpy(dst, value.data(), value.size());
				}
				size_t key_start = i == 0 ? 0 : key_end[i - 1];
				size_t key_len = key_end[i] - key_start;
				if (key_len > resume_cap)
					return MakeStatus(EngineCode::kBufferTooSmall, "range key longer than the resume buffer");
				std::memcpy(resume, key_bytes.data() + key_start, key_len);
				*resume_len = key_len;
			}
			*used = writer.used();
			*count = writer.count();
			if (max_rows != 0 && *count >= max_rows)
				break;
		}
		*done = exhausted;
stop:
		*used = writer.used();
		*count = writer.count();
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EnginePurgeLostRows walks every table's unfrozen rows (see engine.h). */
EngineStatus
EnginePurgeLostRows(uint64_t next_xid, uint64_t *examined, uint64_t *purged) noexcept
{
	try
	{
		*examined = 0;
		*purged = 0;
		if (g_db == nullptr)
			return NotOpen();
		const std::string space(1, static_cast<char>(kRowSpace));
		std::string space_end = PrefixSuccessor(space);
		rocksdb::Slice upper(space_end);
		rocksdb::ReadOptions ro;
		ro.iterate_upper_bound = &upper;
		ro.fill_cache = false;
		std::unique_ptr<rocksdb::Iterator> it(g_db->NewIterator(ro, RowsCf()));
		rocksdb::WriteBatch batch;

		it->Seek(space);
		while (it->Valid())
		{
			TableId t;
			uint64_t row_id;
			if (!DecodeRowKey(it->key().data(), it->key().size(), &t, &row_id))
				return MakeStatus(EngineCode::kCorruption, "malformed row key while purging");
			TableState *st;
			EngineStatus es = LoadTableState(t, &st);
			if (!es.ok())
				return es;
			/* Below the watermark every row is committed: start there. */
			if (row_id < st->frozen)
			{
				it->Seek(RowKey(t, st->frozen));
				if (!it->Valid())
					break;
				if (!DecodeRowKey(it->key().data(), it->key().size(), &t, &row_id))
					return MakeStatus(EngineCode::kCorruption, "malformed row key while purging");
			}
			std::string prefix = TablePrefix(t);
			for (; it->Valid() && it->key().starts_with(prefix); it->Next())
			{
				RowHeader h;
				rocksdb::Slice v = it->value();
				(*examined)++;
				if (!DecodeRowHeader(v.data(), v.size(), &h))
					return MakeStatus(EngineCode::kCorruption, "row with a malformed header while purging");
				if (h.xmin >= next_xid)
				{
					batch.Delete(RowsCf(), it->key());
					(*purged)++;
				}
			}
		}
		if (!it->status().ok())
			return FromRocks(it->status());
		if (batch.Count() == 0)
			return OkStatus();
		rocksdb::WriteOptions wo;
		wo.sync = true;
		return FromWrite(LockedWrite(wo, &batch));
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineListDatabases collects database oids across every key space. */
EngineStatus
EngineListDatabases(uint32_t *dbs, size_t cap, size_t *n) noexcept
{
	try
	{
		*n = 0;
		if (g_db == nullptr)
			return NotOpen();
		std::vector<std::string> spaces;
		for (uint8_t space : {kRowSpace, kAccountSpace, kTimeSpace})
			spaces.emplace_back(1, static_cast<char>(space));
		for (uint8_t kind : kMetaKinds)
			spaces.push_back(std::string{static_cast<char>(kMetaSpace), static_cast<char>(kind)});
		std::vector<uint32_t> found;
		for (const std::string &space : spaces)
		{
			std::vector<uint32_t> spcs;
			EngineStatus es = CollectTablespaces(space, &spcs);
			if (!es.ok())
				return es;
			for (uint32_t spc : spcs)
			{
				std::string prefix = space;
				prefix.resize(space.size() + 4);
				PutU32BE(&prefix[space.size()], spc);
				/* The same seek-skip, one level down: distinct databases. */
				es = CollectTablespaces(prefix, &found);
				if (!es.ok())
					return es;
			}
		}
		std::sort(found.begin(), found.end());
		found.erase(std::unique(found.begin(), found.end()), found.end());
		for (uint32_t db : found)
		{
			if (*n == cap)
				return MakeStatus(EngineCode::kBufferTooSmall, "too many databases to list");
			dbs[(*n)++] = db;
		}
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineGetFrozen returns t's frozen watermark. */
EngineStatus
EngineGetFrozen(const TableId &t, uint64_t *frozen_below) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		TableState *st;
		EngineStatus es = LoadTableState(t, &st);
		if (!es.ok())
			return es;
		*frozen_below = st->frozen;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineSetFrozen moves t's frozen watermark forward, synced: Postgres may
 * truncate pg_xact below the table's new relfrozenxid once this returns, so
 * the watermark must survive any crash from then on. */
EngineStatus
EngineSetFrozen(const TableId &t, uint64_t frozen_below, uint64_t *recorded) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		TableState *st;
		EngineStatus es = LoadTableState(t, &st);
		if (!es.ok())
			return es;
		/* Never past an id reserved but not yet written: its row may still come. */
		for (const auto &r : g_ranges)
			if (r.table == t && r.cursor < r.end)
				frozen_below = std::min(frozen_below, r.cursor);
		if (recorded != nullptr)
			*recorded = st->frozen;
		if (frozen_below <= st->frozen)
			return OkStatus();
		if (frozen_below > st->next)
			return MakeStatus(EngineCode::kInvalid, "frozen watermark beyond the table's rows");
		char buf[8];
		PutU64BE(buf, frozen_below);
		rocksdb::WriteOptions wo;
		wo.sync = true;
		rocksdb::WriteBatch one;
		one.Put(KeysCf(), FrozenKey(t), rocksdb::Slice(buf, sizeof(buf)));
		rocksdb::Status s = LockedWrite(wo, &one);
		if (!s.ok())
			return FromWrite(s);
		st->frozen = frozen_below;
		if (recorded != nullptr)
			*recorded = frozen_below;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineNextRowId returns the id the next appended row of t would get. */
EngineStatus
EngineNextRowId(const TableId &t, uint64_t *next_row_id) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		TableState *st;
		EngineStatus es = LoadTableState(t, &st);
		if (!es.ok())
			return es;
		*next_row_id = st->next;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineSetNextRowId moves t's next row id forward, durably reserving it. */
EngineStatus
EngineSetNextRowId(const TableId &t, uint64_t next_row_id) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		if (next_row_id > kRowIdLimit)
			return MakeStatus(EngineCode::kInvalid, "next row id exceeds the maximum mappable row id");
		TableState *st;
		EngineStatus es = LoadTableState(t, &st);
		if (!es.ok())
			return es;
		if (next_row_id <= st->next)
			return OkStatus();
		/* Reserve first: ids below the new value may be handed out by a
		 * caller that trusts them, so they must survive a restart. */
		es = EnsureReserved(t, st, next_row_id);
		if (!es.ok())
			return es;
		st->next = next_row_id;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* CountKeys adds the number of keys of cf under prefix to *count. A full
 * count must not evict the working set from the block cache. */
rocksdb::Status
CountKeys(rocksdb::ColumnFamilyHandle *cf, const std::string &prefix, uint64_t *count)
{
	std::unique_ptr<BoundedIterator> b = OpenBoundedIterator(cf, prefix, PrefixSuccessor(prefix), false);
	for (b->it->Seek(b->lower_slice); b->it->Valid(); b->it->Next())
		(*count)++;
	return b->it->status();
}

/* EngineRangeKeyCount counts a table's range keys in every key space. */
EngineStatus
EngineRangeKeyCount(const TableId &t, uint64_t *count) noexcept
{
	try
	{
		*count = 0;
		if (g_db == nullptr)
			return NotOpen();
		for (uint8_t space : kRangeSpaces)
		{
			rocksdb::Status s = CountKeys(CfOf(space), SpacePrefix(space, t), count);
			if (!s.ok())
				return FromRocks(s);
		}
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineTableStats reports a table's approximate bytes and exact row count. */
EngineStatus
EngineTableStats(const TableId &t, uint64_t *bytes, uint64_t *rows) noexcept
{
	try
	{
		*bytes = 0;
		*rows = 0;
		if (g_db == nullptr)
			return NotOpen();
		std::string lower = TablePrefix(t);
		std::string upper = PrefixSuccessor(lower);
		/* The rows and every range key the table's declarations wrote. */
		std::vector<std::string> bounds = {lower, upper};
		for (uint8_t space : kRangeSpaces)
		{
			bounds.push_back(SpacePrefix(space, t));
			bounds.push_back(PrefixSuccessor(bounds.back()));
		}
		rocksdb::SizeApproximationOptions so;
		so.include_memtables = true;
		so.include_files = true;
		uint64_t size = 0;
		for (size_t i = 0; i < bounds.size(); i += 2)
		{
			rocksdb::Range range(bounds[i], bounds[i + 1]);
			uint64_t part = 0;
			rocksdb::Status s = g_db->GetApproximateSizes(so, CfOf(static_cast<uint8_t>(bounds[i][0])),
														   &range, 1, &part);
			if (!s.ok())
				return FromRocks(s);
			size += part;
		}

		uint64_t n = 0;
		rocksdb::Status counted = CountKeys(RowsCf(), lower, &n);
		if (!counted.ok())
			return FromRocks(counted);
		*bytes = size;
		*rows = n;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineRowDictionaryBytes reports the size of t's row dictionary. */
EngineStatus
EngineRowDictionaryBytes(const TableId &t, uint64_t *bytes) noexcept
{
	*bytes = 0;
	if (g_db == nullptr)
		return NotOpen();
	*bytes = RowDictionarySize(t);
	return OkStatus();
}

/* EngineBlockCacheUsage reports the block cache's charge and capacity. */
EngineStatus
EngineBlockCacheUsage(uint64_t *used, uint64_t *capacity) noexcept
{
	try
	{
		if (g_db == nullptr || g_block_cache == nullptr)
			return NotOpen();
		*used = g_block_cache->GetUsage();
		*capacity = g_block_cache->GetCapacity();
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineTotalBytes returns the instance's SST bytes plus live WAL bytes.
 * "rocksdb.total-sst-files-size" counts every SST still on disk (including
 * ones an open iterator pins), which is what the disk actually holds;
 * WAL sizes come from RocksDB's own list of live logs, so stray files in the
 * directory (LOG, OPTIONS, MANIFEST, a few KB) are left out. */
EngineStatus
EngineTotalBytes(uint64_t *bytes) noexcept
{
	try
	{
		*bytes = 0;
		if (g_db == nullptr)
			return NotOpen();
		uint64_t sst = 0;
		if (!g_db->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst))
			return MakeStatus(EngineCode::kOther, "property rocksdb.total-sst-files-size unavailable");
		rocksdb::VectorLogPtr wals;
		rocksdb::Status s = g_db->GetSortedWalFiles(wals);
		if (!s.ok())
			return FromRocks(s);
		uint64_t wal = 0;
		for (const auto &f : wals)
			wal += f->SizeFileBytes();
		*bytes = sst + wal;
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

/* EngineCompactTable compacts a table's key range down to the bottom level. */
EngineStatus
EngineCompactTable(const TableId &t) noexcept
{
	try
	{
		if (g_db == nullptr)
			return NotOpen();
		rocksdb::CompactRangeOptions co;
		/* Rewrite every file, also those at the bottom level and those this
		 * compaction moved there without rewriting (a table's rows arrive in
		 * id order, so their files never overlap and are only moved): that
		 * is where deletions are purged and where rows take the configured
		 * codec (row_compression). */
		co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
		auto compact = [&co](const std::string &lower) {
			std::string upper = PrefixSuccessor(lower);
			rocksdb::Slice begin(lower), end(upper);
			return g_db->CompactRange(co, CfOf(static_cast<uint8_t>(lower[0])), &begin, &end);
		};
		/* The rows, then each range key space of the table. */
		StorePendingDictionaries();
		bool had_dictionary = RowDictionarySize(t) > 0;
		std::vector<std::string> lowers = {TablePrefix(t)};
		for (uint8_t space : kRangeSpaces)
			lowers.push_back(SpacePrefix(space, t));
		for (const std::string &lower : lowers)
		{
			rocksdb::Status s = compact(lower);
			if (!s.ok())
				return FromRocks(s);
		}
		/* zstd_row: a dictionary trained during that compaction (from the
		 * rows it read) is stored now, and the rows are rewritten with it. */
		StorePendingDictionaries();
		if (!had_dictionary && RowDictionarySize(t) > 0)
			return FromRocks(compact(lowers[0]));
		return OkStatus();
	}
	catch (...)
	{
		return FromException();
	}
}

} // namespace ledger_am
