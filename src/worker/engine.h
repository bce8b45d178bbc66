/*
 * engine.h: the RocksDB engine wrapper owned by the storage worker.
 *
 * No PostgreSQL header, no PostgreSQL call: safe on any thread. Every entry
 * point is noexcept and reports failure through EngineStatus; no C++ exception
 * ever leaves this layer (this is one half of the error boundary, see
 * src/worker/storage_worker.cc for the other). Not thread-safe: the storage
 * worker's main loop is its only caller, except for EngineSync, which the
 * group-commit thread calls, and EngineScan and EngineRangeScan, which the
 * read-pool helpers call (read_pool.h). Those touch no engine state but the
 * RocksDB instance and its column family handles, fixed while it is open,
 * and the row dictionaries (row_dictionary.h, behind their own lock);
 * RocksDB's reads and SyncWAL are thread-safe.
 *
 * Rows are appended with engine-assigned, strictly increasing row ids; the
 * engine refuses to write a row key at or below a table's highest id, so a
 * stored row can never be overwritten.
 */
#ifndef LEDGER_AM_WORKER_ENGINE_H
#define LEDGER_AM_WORKER_ENGINE_H

#include <cstddef>
#include <cstdint>

#include "channel/status.h"
#include "codec/keys.h"

namespace ledger_am {


struct EngineStatus
{
	EngineCode code;
	char message[240];

	bool ok() const { return code == EngineCode::kOk; }
};

enum class Compression : int32_t
{
	kNone = 0,
	kLz4 = 1,
	kZstd = 2,
	kLz4hc = 3,
	kZstdRow = 4, /* rows: each alone, ZSTD with a per-table dictionary */
};

/* CompressionName names a codec the way the settings spell it. */
const char *CompressionName(Compression c) noexcept;

/* The block cache's replacement policy (NewBlockCache in engine.cc). */
enum class CachePolicy : uint8_t
{
	kClock = 0,	/* RocksDB's HyperClockCache: lock-free lookups */
	kLru = 1,	/* RocksDB's LRUCache: a mutex per shard */
};

struct EngineOptions
{
	const char *path;		  /* directory of the RocksDB instance */
	Compression compression;  /* of the keys column family (range keys, metadata) */
	Compression row_compression; /* of the rows (default column family) */
	uint64_t block_cache_bytes;
	CachePolicy cache_policy;
	uint64_t write_buffer_bytes;
	uint64_t row_id_reserve_step; /* row ids reserved (durably) ahead of use */
	size_t row_dictionary_sample_bytes; /* zstd_row: rows sampled per table before training */
	/* Tests only: logged row batches (BatchLog) bypass RocksDB's WAL, with
	 * atomic flushes, so that a kill -9 loses every unflushed one, as an
	 * OS crash loses unsynced ones; recovery must then replay them. */
	bool		logged_rows_skip_wal = false;
};

/* EngineDefaultOptions returns the options used unless the caller overrides them. */
EngineOptions EngineDefaultOptions(const char *path) noexcept;

/* EngineOpen opens (creating if needed) the instance; one per process. */
EngineStatus EngineOpen(const EngineOptions &options) noexcept;

/* EngineClose flushes and closes the instance; safe if not open. */
void EngineClose() noexcept;

/* EngineWriteFailed is true once a write or WAL sync failed with an I/O
 * error: the instance then takes no more writes and the storage worker must
 * exit so a fresh one reopens it (see g_write_failed in engine.cc). */
bool EngineWriteFailed() noexcept;
/* EngineWriteFailure is that first failure (code and message). */
EngineStatus EngineWriteFailure() noexcept;

/* A row handed to EngineAppend: value = row header + payload. */
struct RowSlice
{
	const char *data;
	uint32_t len;
	const char *keys;	/* optional range key blob (codec/range_keys.h) */
	uint32_t keys_len;
};

/* EngineAppend writes nrows rows of table t, with their range keys, in one
 * WriteBatch (not synced), assigning consecutive row ids from *first_row_id. */
EngineStatus EngineAppend(const TableId &t, const RowSlice *rows, uint32_t nrows,
						  uint64_t *first_row_id) noexcept;

/* EngineReserve hands owner (a channel slot) the next n row ids of t:
 * [*first, *first + n). The reservation is durable before it is returned;
 * the owner then writes rows at those ids, in order, with EngineWriteReserved. */
EngineStatus EngineReserve(const TableId &t, uint32_t owner, uint64_t n, uint64_t *first) noexcept;

/* A row written at a reserved id. */
struct ReservedRow
{
	TableId table;
	uint32_t owner;
	uint64_t row_id;
	RowSlice row;
};

/* EngineWriteReserved writes rows at reserved ids in one WriteBatch (not
 * synced). Each row's id must lie in its owner's range for its table, above
 * every id the owner wrote (ids only move forward, so nothing is ever
 * overwritten); others are refused (kKeyExists) in row_status, not written.
 * row_status (n entries) gets each row's outcome; the return value is the
 * outcome of the batch write, which also applies to every accepted row. */
EngineStatus EngineWriteReserved(const ReservedRow *rows, size_t n, EngineStatus *row_status,
								 const struct BatchLog *log = nullptr) noexcept;

/*
 * Rows in Postgres' WAL (worker/rows_wal.h). With a BatchLog, a batch of
 * reserved rows is handed to log() as RocksDB's own serialized WriteBatch
 * before it is written; log() returns the end LSN of the record that holds
 * it, and the batch is written with the log mark (LogMarkKey) set to that
 * LSN, atomically. If log() fails, nothing is written and every row gets
 * its failure. log() runs on the calling thread, inside this call.
 */
struct BatchLog
{
	bool		(*log)(void *arg, const char *data, size_t len, uint64_t *lsn, EngineStatus *failure);
	void	   *arg;
};

/* EngineReplayBatch writes a logged batch (the bytes log() was given) again
 * and sets the log mark to lsn, in one write. Writing a batch twice stores
 * the same keys and values. */
EngineStatus EngineReplayBatch(const char *data, size_t len, uint64_t lsn) noexcept;

/* EngineLogMark reads the log mark: 0 if none. */
EngineStatus EngineLogMark(uint64_t *lsn) noexcept;

/* EngineSetLogMark sets the log mark (0 removes it), synced with everything
 * written before. */
EngineStatus EngineSetLogMark(uint64_t lsn) noexcept;

/* EngineDurableLogMark is the log mark as of the last completed EngineSync:
 * every batch logged up to it is durable in RocksDB (0: none yet). */
uint64_t EngineDurableLogMark() noexcept;

/* EngineWrittenLogMark is the mark of the last logged batch written: equal
 * to EngineDurableLogMark when every logged batch is durable. */
uint64_t EngineWrittenLogMark() noexcept;

/* EngineRelease ends owner's reservations; ids it did not use are given
 * back when no later reservation followed. With keep, owner's range of that
 * table lives on if it has unused ids (*kept tells): a committing backend
 * carries it into its next transactions (docs/architecture.md, "Durability
 * and atomicity"). */
EngineStatus EngineRelease(uint32_t owner, const TableId *keep = nullptr, bool *kept = nullptr) noexcept;

/* EngineReleaseTable ends owner's reservation of table t alone (a carried
 * range taken back by the worker), giving back its unused ids as above. */
EngineStatus EngineReleaseTable(uint32_t owner, const TableId &t) noexcept;

/* EngineWriteRowAt writes one row at an explicit id: refused (kKeyExists) if
 * the id is not above every id the table has used. Used by tests and tools. */
EngineStatus EngineWriteRowAt(const TableId &t, uint64_t row_id, const RowSlice &row) noexcept;

/* EngineSync makes every write so far durable (one WAL fsync). */
EngineStatus EngineSync() noexcept;

/* EngineGet copies row `row_id` as one framed record into buf. */
EngineStatus EngineGet(const TableId &t, uint64_t row_id, char *buf, size_t cap,
					   size_t *used) noexcept;

/* EngineScan copies framed records of rows with ids in [from, to) in id order
 * (descending if backward) into buf, stopping when it is full. *resume is the
 * id to continue from (exclusive bound when backward); *done is set when the
 * range is exhausted. A row larger than cap gives kBufferTooSmall. Without
 * fill_cache, blocks read from files are not kept in the block cache (a scan
 * of a table larger than the cache, which would only evict what other reads
 * need); blocks already cached are still used. */
EngineStatus EngineScan(const TableId &t, uint64_t from, uint64_t to, bool backward,
						char *buf, size_t cap, size_t *used, uint32_t *count,
						uint64_t *resume, bool *done, bool fill_cache = true) noexcept;

/* EngineBlockCacheUsage reports the bytes the block cache holds and its
 * capacity. */
EngineStatus EngineBlockCacheUsage(uint64_t *used, uint64_t *capacity) noexcept;

/* EngineDeleteRow removes one row whose header xmin equals `xmin` (the
 * inserter's own speculative row, or an aborted row during VACUUM), and in
 * the same write the range keys of the key blob `keys` (the row's keys as
 * its inserter wrote them; none when keys_len is 0). */
EngineStatus EngineDeleteRow(const TableId &t, uint64_t row_id, uint64_t xmin,
							 const char *keys = nullptr, uint32_t keys_len = 0) noexcept;

/* EngineDropTable removes every row and the metadata of a table. */
EngineStatus EngineDropTable(const TableId &t) noexcept;

/* EngineDropDatabase removes every table of a database (all tablespaces). */
EngineStatus EngineDropDatabase(uint32_t db) noexcept;

/* EnginePurgeLostRows deletes every row whose xmin (a FullTransactionId) is
 * at or above next_xid, the first xid Postgres will hand out after crash
 * recovery: such rows were written by transactions whose xid never reached
 * the Postgres WAL, so the xid is about to be reused and the rows must go.
 * Only rows at or above each table's frozen watermark are examined. */
EngineStatus EnginePurgeLostRows(uint64_t next_xid, uint64_t *examined, uint64_t *purged) noexcept;

/* EngineListDatabases returns the distinct database oids that have any
 * key (rows, range keys, metadata), up to cap of them in dbs. */
EngineStatus EngineListDatabases(uint32_t *dbs, size_t cap, size_t *n) noexcept;

/* EngineNextRowId returns the id the next appended row of t would get. */
EngineStatus EngineNextRowId(const TableId &t, uint64_t *next_row_id) noexcept;

/* EngineSetNextRowId moves a table's next row id forward (never back). */
EngineStatus EngineSetNextRowId(const TableId &t, uint64_t next_row_id) noexcept;

/* EngineGetFrozen returns t's frozen watermark: rows with lower ids are
 * committed and visible to every snapshot (0 if none is recorded). */
EngineStatus EngineGetFrozen(const TableId &t, uint64_t *frozen_below) noexcept;

/* EngineSetFrozen durably (synced) moves t's frozen watermark forward; it
 * never passes a row id reserved but not yet written, so it may stop short
 * of frozen_below: *recorded gets the watermark in force afterwards. */
EngineStatus EngineSetFrozen(const TableId &t, uint64_t frozen_below, uint64_t *recorded = nullptr) noexcept;

/* EnginePutRangeKeys writes the range keys of an existing row (backfill
 * when a table's range declaration is created). */
EngineStatus EnginePutRangeKeys(const TableId &t, uint64_t row_id, const char *blob,
								uint32_t blob_len) noexcept;

/* EngineDropRangeKeys removes a table's range keys (synced). */
EngineStatus EngineDropRangeKeys(const TableId &t, RangeDrop which, uint32_t declaration) noexcept;

/*
 * EngineLender gives a range scan a second thread for half of a batch's
 * row fetches (the worker's idle read-pool helper, read_pool.h). Lend starts
 * work(arg) on another thread and returns true, or returns false at once
 * without running it: when no thread is free, or when expected_ns (what the
 * half should take, from the rows fetched lately) is too short to be worth a
 * hand-over. Wait returns once the work lent last has returned. work never
 * throws.
 */
class EngineLender
{
  public:
	virtual bool Lend(void (*work) (void *arg), void *arg, uint64_t expected_ns) noexcept = 0;
	virtual void Wait() noexcept = 0;

  protected:
	~EngineLender() = default;
};

/* EngineRangeScan reads the rows whose range keys of `space` lie in
 * [lo, hi) (key suffixes after the table prefix; an empty hi means "to the
 * end of the table's space"), in key order (reversed if backward), as framed
 * records of (row id, row value) into buf, at most max_rows rows (0: no
 * limit) and as many as fit. Keys whose row is gone are skipped. The suffix
 * of the last key read is copied to resume (cap resume_cap) so the caller
 * can continue after it; *done is set when the range is exhausted. With a
 * lender, a batch's rows may be fetched by two threads at once. */
EngineStatus EngineRangeScan(const TableId &t, uint8_t space, const char *lo, size_t lo_len,
							 const char *hi, size_t hi_len, bool backward, uint32_t max_rows,
							 char *buf, size_t cap, size_t *used, uint32_t *count,
							 char *resume, size_t resume_cap, size_t *resume_len,
							 bool *done, EngineLender *lender = nullptr) noexcept;

/* EngineRangeBounds reads the keys of `space` in [lo, hi) (as EngineRangeScan,
 * without fetching rows) and returns how many there are and the smallest and
 * largest row id they point to: when rows were appended in time order, a
 * time window's rows are one contiguous run of row ids. */
EngineStatus EngineRangeBounds(const TableId &t, uint8_t space, const char *lo, size_t lo_len,
							   const char *hi, size_t hi_len, uint64_t *count, uint64_t *min_row,
							   uint64_t *max_row) noexcept;

/* EngineTableStats returns on-disk bytes (SST files + memtables) of t's rows
 * and range keys, and the number of stored rows of t (counted by iteration). */
EngineStatus EngineTableStats(const TableId &t, uint64_t *bytes, uint64_t *rows) noexcept;

/* EngineRangeKeyCount counts the range keys stored for t, in every key
 * space and declaration (iterating them). */
EngineStatus EngineRangeKeyCount(const TableId &t, uint64_t *count) noexcept;

/* EngineRowDictionaryBytes returns the size of t's trained row dictionary
 * (worker/row_dictionary.h), 0 while it has none. */
EngineStatus EngineRowDictionaryBytes(const TableId &t, uint64_t *bytes) noexcept;

/* EngineTotalBytes returns the on-disk size of the whole instance directory's
 * live SST and WAL files. */
EngineStatus EngineTotalBytes(uint64_t *bytes) noexcept;

/* EngineCompactTable compacts a table's rows and range keys (used before size reports
 * in benchmarks and by VACUUM after deletions). */
EngineStatus EngineCompactTable(const TableId &t) noexcept;

} // namespace ledger_am

#endif
