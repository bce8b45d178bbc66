/*
 * row_dictionary.h: rows compressed one at a time with a dictionary trained
 * per table (ledger_am.row_compression = zstd_row).
 *
 * Why: RocksDB compresses whole blocks, so reading one row that is not in the
 * block cache decodes its whole 8 kB block (~11 rows). Most row reads are such
 * reads (a point lookup, each row of an account window). A row compressed
 * alone with a dictionary trained on the table's own rows decodes only itself:
 * ~0.8 us instead of ~9 us, for ~3% more bytes (bench/codec_probe.cc), and the
 * block cache holds ~3.5x more rows, since its blocks hold compressed rows.
 *
 * How (all in the storage worker, pure C++ like engine.cc):
 *  - Rows are written as before (raw, into the memtable). A RocksDB
 *    compaction filter, which also runs when a memtable is flushed, rewrites
 *    each row value it writes to a file: compressed with the table's
 *    dictionary (row_codec.h, kRowFlagZstdDict) in zstd_row mode, restored to
 *    raw in every other mode, so switching the setting and running
 *    ledger_am.compact converts a table either way.
 *  - A table's first rows written to files in zstd_row mode are sampled (raw
 *    rows, kept raw) until sample_bytes are gathered; the flush thread then
 *    trains a ZSTD dictionary from them. The storage worker's own thread
 *    stores it durably (synced, key DictionaryKey(t)) at its next write
 *    (RowDictionariesStorePending), and only then do flushes compress rows
 *    with it: a file never names a dictionary that a crash could lose. A
 *    flush thread must not write itself: the worker's writer may be stalled
 *    waiting for that very flush, holding the engine's write mutex.
 *  - Every stored dictionary is loaded when the engine opens, before the
 *    filter may run (RowDictionariesStart). Readers get rows back through
 *    ReadableRow, which decompresses compressed ones.
 * One dictionary per table (number 1); the row header's 16-bit number leaves
 * room for retraining later.
 */
#ifndef LEDGER_AM_WORKER_ROW_DICTIONARY_H
#define LEDGER_AM_WORKER_ROW_DICTIONARY_H

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/env.h>
#include <rocksdb/slice.h>

#include "codec/keys.h"

namespace ledger_am {

struct RowDictionarySettings
{
	bool compress_rows;		/* zstd_row: compress rows; otherwise restore raw rows */
	size_t sample_bytes;	/* row payload bytes sampled before training */
	size_t dictionary_bytes; /* the trained dictionary's size */
	std::shared_ptr<rocksdb::Logger> log; /* RocksDB's LOG of the instance */
};

/* Stores a table's new dictionary value durably (synced); true when done
 * (see StoreDictionary in engine.cc). */
using RowDictionaryPersist = std::function<bool(const TableId &, const std::string &value)>;

/* RowDictionaryInstall adds a stored dictionary (its DictionaryKey value) to
 * the in-memory set; returns an error message, or nullptr. */
const char *RowDictionaryInstall(const TableId &t, const rocksdb::Slice &value) noexcept;

/* RowDictionariesStart arms the filter once every stored dictionary is
 * installed; until then it leaves every value as it is. */
void RowDictionariesStart(const RowDictionarySettings &settings) noexcept;

/* RowDictionariesStorePending stores the dictionaries trained since the last
 * call with persist, then lets rows use them. Called by the engine's own
 * thread before it writes; cheap when there are none. */
void RowDictionariesStorePending(const RowDictionaryPersist &persist) noexcept;

/* RowDictionariesStop disarms the filter and forgets every dictionary and
 * sample (after the instance is closed). */
void RowDictionariesStop() noexcept;

/* RowDictionariesForget forgets the dictionaries and samples of the tables
 * matching `dropped` (their keys are deleted by the caller). */
void RowDictionariesForget(const std::function<bool(const TableId &)> &dropped) noexcept;

/* RowDictionarySize returns the size of t's dictionary, 0 if it has none. */
size_t RowDictionarySize(const TableId &t) noexcept;

/* RowDictionaryFilterFactory is the rows family's compaction filter factory. */
std::shared_ptr<rocksdb::CompactionFilterFactory> RowDictionaryFilterFactory();

/* ReadableRow returns in *out the stored value `stored` of a row of t as
 * readers see it: itself, or its payload decompressed into *scratch with a
 * plain header. Returns an error message (a corrupt or unknown-dictionary
 * value), or nullptr. */
const char *ReadableRow(const TableId &t, const rocksdb::Slice &stored, std::string *scratch,
						rocksdb::Slice *out) noexcept;

} // namespace ledger_am

#endif
