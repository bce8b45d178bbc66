/*
 * row_dictionary.cc: rows compressed one at a time with a dictionary trained
 * per table. See row_dictionary.h for the design; pure C++ (no PostgreSQL
 * header), run by RocksDB's flush and compaction threads (the filter) and by
 * every reading thread of the worker (ReadableRow).
 *
 * A compressed payload is a ZSTD frame with its content size, no checksum
 * (RocksDB checksums its blocks) and no dictionary id (the row header names
 * the dictionary), stored without its 4-byte magic number, which every frame
 * repeats: ReadableRow puts it back in front before decoding.
 */
#include "worker/row_dictionary.h"

#include <atomic>
#include <cstdarg>
#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <zdict.h>
#include <zstd.h>

#include "codec/row_codec.h"

#ifdef PG_VERSION_NUM
#error "row_dictionary.cc must not include PostgreSQL headers: RocksDB's threads run it"
#endif

namespace ledger_am {

namespace {

constexpr uint16_t kDictionaryNumber = 1;
/* ZSTD level of each row: 3.46x at 254 MB/s with a 64 kB dictionary on
 * rows of the 10M bench table (bench/codec_probe.cc). */
constexpr int kRowLevel = 3;
constexpr size_t kDictionaryValueHeader = 2; /* u16 big-endian dictionary number */
constexpr char kZstdMagic[4] = {'\x28', '\xb5', '\x2f', '\xfd'}; /* ZSTD_MAGICNUMBER, little-endian */
/* Samples of all tables together stay below this (tables beyond wait). */
constexpr size_t kMaxSampledBytes = size_t(64) << 20;
/* A decompressed row larger than this is refused as corrupt. */
constexpr unsigned long long kMaxRowBytes = 1ULL << 30;

/* One trained dictionary, ready for both directions. */
struct RowDictionary
{
	std::string value;			/* as stored under DictionaryKey: number, then bytes */
	uint16_t number = 0;
	ZSTD_CDict *cdict = nullptr;
	ZSTD_DDict *ddict = nullptr;

	RowDictionary() = default;
	RowDictionary(const RowDictionary &) = delete;
	RowDictionary &operator=(const RowDictionary &) = delete;
	~RowDictionary()
	{
		ZSTD_freeCDict(cdict);
		ZSTD_freeDDict(ddict);
	}
};

using DictionaryPtr = std::shared_ptr<const RowDictionary>;

/* Rows sampled from a table that has no dictionary yet. */
struct Sampling
{
	std::string bytes;
	std::vector<size_t> sizes;
	bool training = false;	/* a thread is training from them */
	bool given_up = false;	/* training or storing failed: no dictionary in this process */
	DictionaryPtr pending;	/* trained, not stored yet */
};

std::shared_mutex g_dicts_mu;
std::unordered_map<TableId, DictionaryPtr, TableIdHash> g_dicts;

std::mutex g_samples_mu;
std::unordered_map<TableId, Sampling, TableIdHash> g_samples;
size_t g_sampled_bytes = 0;

/* Set when a trained dictionary waits in g_samples to be stored. */
std::atomic<bool> g_any_pending{false};

/* Written before g_armed is set, read only while it is. */
std::atomic<bool> g_armed{false};
RowDictionarySettings g_settings;

/* MakeDictionary builds both directions' ZSTD dictionaries from a stored
 * value (kDictionaryValueHeader bytes of number, then the dictionary). */
DictionaryPtr
MakeDictionary(std::string value)
{
	if (value.size() <= kDictionaryValueHeader)
		return nullptr;
	auto d = std::make_shared<RowDictionary>();
	d->value = std::move(value);
	d->number = static_cast<uint16_t>((static_cast<uint8_t>(d->value[0]) << 8) |
									  static_cast<uint8_t>(d->value[1]));
	const char *bytes = d->value.data() + kDictionaryValueHeader;
	size_t len = d->value.size() - kDictionaryValueHeader;
	d->cdict = ZSTD_createCDict(bytes, len, kRowLevel);
	d->ddict = ZSTD_createDDict(bytes, len);
	if (d->cdict == nullptr || d->ddict == nullptr)
		return nullptr;
	return d;
}

DictionaryPtr
FindDictionary(const TableId &t)
{
	std::shared_lock<std::shared_mutex> lock(g_dicts_mu);
	auto it = g_dicts.find(t);
	return it == g_dicts.end() ? nullptr : it->second;
}

void Log(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Log writes one line to the instance's RocksDB LOG. */
void
Log(const char *format, ...)
{
	if (!g_settings.log)
		return;
	va_list ap;
	va_start(ap, format);
	g_settings.log->Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
	va_end(ap);
}

using CCtxPtr = std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx *)>;

/* NewRowCCtx makes a compression context with the frame settings of every
 * compressed row (content size, no checksum, no dictionary id); nullptr
 * when that fails. Compress then only picks the table's dictionary. */
CCtxPtr
NewRowCCtx()
{
	CCtxPtr cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
	if (cctx == nullptr ||
		ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 1)) ||
		ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 0)) ||
		ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_dictIDFlag, 0)))
		return CCtxPtr(nullptr, ZSTD_freeCCtx);
	return cctx;
}

/* Compress writes row `raw` (header + payload) compressed with d into *out,
 * with a context from NewRowCCtx; false when it does not get smaller (the
 * row then stays raw). */
bool
Compress(const RowDictionary &d, ZSTD_CCtx *cctx, const rocksdb::Slice &raw, std::string *out)
{
	const char *payload = raw.data() + kRowHeaderSize;
	size_t payload_len = raw.size() - kRowHeaderSize;
	size_t bound = ZSTD_compressBound(payload_len);

	out->resize(kRowHeaderSize + bound);
	if (ZSTD_isError(ZSTD_CCtx_refCDict(cctx, d.cdict)))
		return false;
	size_t n = ZSTD_compress2(cctx, &(*out)[kRowHeaderSize], bound, payload, payload_len);
	if (ZSTD_isError(n) || n <= sizeof(kZstdMagic) ||
		std::memcmp(out->data() + kRowHeaderSize, kZstdMagic, sizeof(kZstdMagic)) != 0)
		return false;
	size_t stored = n - sizeof(kZstdMagic);
	if (kRowHeaderSize + stored >= raw.size())
		return false;
	std::memmove(&(*out)[kRowHeaderSize], out->data() + kRowHeaderSize + sizeof(kZstdMagic), stored);
	out->resize(kRowHeaderSize + stored);

	RowHeader h;
	std::memcpy(&h, raw.data(), sizeof(h));
	h.flags |= kRowFlagZstdDict;
	h.reserved = d.number;
	std::memcpy(&(*out)[0], &h, sizeof(h));
	return true;
}

/* Decompress turns a compressed stored row into its raw form in *out. */
const char *
Decompress(const RowDictionary &d, const rocksdb::Slice &stored, std::string *out)
{
	thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx *)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
	thread_local std::string frame;

	if (dctx == nullptr)
		return "out of memory for a row decompression context";
	frame.assign(kZstdMagic, sizeof(kZstdMagic));
	frame.append(stored.data() + kRowHeaderSize, stored.size() - kRowHeaderSize);
	unsigned long long n = ZSTD_getFrameContentSize(frame.data(), frame.size());
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > kMaxRowBytes)
		return "stored row has a malformed compressed payload";
	out->resize(kRowHeaderSize + n);
	size_t got = ZSTD_decompress_usingDDict(dctx.get(), &(*out)[kRowHeaderSize], n, frame.data(),
											frame.size(), d.ddict);
	if (ZSTD_isError(got) || got != n)
		return "stored row does not decompress with its table's row dictionary";
	RowHeader h;
	std::memcpy(&h, stored.data(), sizeof(h));
	h.flags &= static_cast<uint8_t>(~kRowFlagZstdDict);
	h.reserved = 0;
	std::memcpy(&(*out)[0], &h, sizeof(h));
	return nullptr;
}

/* Train builds a dictionary from t's samples; nullptr if training failed. */
DictionaryPtr
Train(const TableId &t, const std::string &samples, const std::vector<size_t> &sizes)
{
	auto started = std::chrono::steady_clock::now();
	std::string value(kDictionaryValueHeader + g_settings.dictionary_bytes, '\0');
	size_t n = ZDICT_trainFromBuffer(&value[kDictionaryValueHeader], g_settings.dictionary_bytes,
									 samples.data(), sizes.data(), static_cast<unsigned>(sizes.size()));
	long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
		std::chrono::steady_clock::now() - started).count();
	if (ZDICT_isError(n))
	{
		Log("ledger_am: no row dictionary for table %u/%u/%u: training on %zu rows (%zu bytes) failed "
			"after %lld ms: %s", t.spc, t.db, t.rel, sizes.size(), samples.size(), ms, ZDICT_getErrorName(n));
		return nullptr;
	}
	value.resize(kDictionaryValueHeader + n);
	value[0] = static_cast<char>(kDictionaryNumber >> 8);
	value[1] = static_cast<char>(kDictionaryNumber & 0xff);
	Log("ledger_am: row dictionary of table %u/%u/%u trained from %zu rows: %zu bytes in %lld ms",
		t.spc, t.db, t.rel, sizes.size(), n, ms);
	return MakeDictionary(std::move(value));
}

/* Sample keeps t's raw payload for training; once enough is kept, trains
 * t's dictionary, which then waits in g_samples for the storage worker's
 * thread to store it (RowDictionariesStorePending). */
void
Sample(const TableId &t, const char *payload, size_t len)
{
	std::string samples;
	std::vector<size_t> sizes;
	{
		std::lock_guard<std::mutex> lock(g_samples_mu);
		auto it = g_samples.find(t);
		if (it == g_samples.end())
		{
			if (g_sampled_bytes >= kMaxSampledBytes)
				return;
			it = g_samples.emplace(t, Sampling()).first;
		}
		Sampling &s = it->second;
		if (s.training || s.pending || s.given_up || g_sampled_bytes + len > kMaxSampledBytes)
			return;
		s.bytes.append(payload, len);
		s.sizes.push_back(len);
		g_sampled_bytes += len;
		if (s.bytes.size() < g_settings.sample_bytes)
			return;
		s.training = true;
		g_sampled_bytes -= s.bytes.size();
		samples.swap(s.bytes);
		sizes.swap(s.sizes);
	}
	DictionaryPtr d = Train(t, samples, sizes);
	std::lock_guard<std::mutex> lock(g_samples_mu);
	auto it = g_samples.find(t);
	if (it == g_samples.end())
		return;					/* the table was dropped meanwhile */
	Sampling &s = it->second;
	s.training = false;
	if (d == nullptr)
	{
		s.given_up = true;
		return;
	}
	s.pending = std::move(d);
	g_any_pending.store(true, std::memory_order_release);
}

/*
 * The filter: one per flush or compaction job (single-threaded). Every row
 * value written to a file passes through it. It never removes a value and
 * keeps it unchanged whenever it cannot do better (no dictionary yet, a row
 * that does not shrink, a value it does not recognise).
 */
class RowDictionaryFilter : public rocksdb::CompactionFilter
{
  public:
	RowDictionaryFilter() : cctx_(NewRowCCtx()) {}

	const char *Name() const override { return "ledger_am.RowDictionaryFilter"; }

	Decision FilterV2(int /* level */, const rocksdb::Slice &key, ValueType value_type,
					  const rocksdb::Slice &value, std::string *new_value,
					  std::string * /* skip_until */) const override
	{
		try
		{
			TableId t;
			uint64_t row_id;
			RowHeader h;
			if (value_type != kValue || !g_armed.load(std::memory_order_acquire) ||
				!DecodeRowKey(key.data(), key.size(), &t, &row_id) ||
				!DecodeRowHeader(value.data(), value.size(), &h))
				return Decision::kKeep;
			bool compressed = (h.flags & kRowFlagZstdDict) != 0;
			if (compressed == g_settings.compress_rows)
				return Decision::kKeep;
			DictionaryPtr d = FindDictionary(t);
			if (compressed)
			{
				/* Another setting: restore the raw row. */
				if (d == nullptr || d->number != h.reserved || Decompress(*d, value, new_value) != nullptr)
					return Decision::kKeep;
				return Decision::kChangeValue;
			}
			if (d == nullptr)
			{
				Sample(t, value.data() + kRowHeaderSize, value.size() - kRowHeaderSize);
				return Decision::kKeep;
			}
			if (cctx_ == nullptr || !Compress(*d, cctx_.get(), value, new_value))
				return Decision::kKeep;
			return Decision::kChangeValue;
		}
		catch (...)
		{
			/* Out of memory: the value stays as it was. */
			return Decision::kKeep;
		}
	}

  private:
	CCtxPtr cctx_;
};

class RowDictionaryFilterFactoryImpl : public rocksdb::CompactionFilterFactory
{
  public:
	const char *Name() const override { return "ledger_am.RowDictionaryFilterFactory"; }

	/* Flushes too in zstd_row: rows reach their final form when first
	 * written to a file, since later compactions usually move files
	 * without rewriting them (under other settings a memtable holds no
	 * compressed row to restore). Not recovery: it runs before the
	 * dictionaries are loaded. */
	bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override
	{
		if (reason == rocksdb::TableFileCreationReason::kCompaction)
			return true;
		return reason == rocksdb::TableFileCreationReason::kFlush &&
			g_armed.load(std::memory_order_acquire) && g_settings.compress_rows;
	}

	std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
		const rocksdb::CompactionFilter::Context & /* context */) override
	{
		return std::make_unique<RowDictionaryFilter>();
	}
};

} // namespace

const char *
RowDictionaryInstall(const TableId &t, const rocksdb::Slice &value) noexcept
{
	try
	{
		DictionaryPtr d = MakeDictionary(value.ToString());
		if (d == nullptr)
			return "stored row dictionary could not be loaded";
		if (d->number != kDictionaryNumber)
			return "stored row dictionary has an unknown number";
		std::unique_lock<std::shared_mutex> lock(g_dicts_mu);
		g_dicts[t] = d;
		return nullptr;
	}
	catch (...)
	{
		return "out of memory loading a row dictionary";
	}
}

void
RowDictionariesStart(const RowDictionarySettings &settings) noexcept
{
	g_settings = settings;
	g_armed.store(true, std::memory_order_release);
}

void
RowDictionariesStorePending(const RowDictionaryPersist &persist) noexcept
{
	if (!g_any_pending.exchange(false, std::memory_order_acq_rel))
		return;
	try
	{
		std::vector<std::pair<TableId, DictionaryPtr>> ready;
		{
			std::lock_guard<std::mutex> lock(g_samples_mu);
			for (auto &e : g_samples)
				if (e.second.pending)
					ready.emplace_back(e.first, e.second.pending);
		}
		for (auto &r : ready)
		{
			const TableId &t = r.first;
			bool stored = persist(t, r.second->value);
			std::lock_guard<std::mutex> lock(g_samples_mu);
			auto it = g_samples.find(t);
			if (it == g_samples.end())
				continue;		/* dropped meanwhile */
			if (stored)
			{
				std::unique_lock<std::shared_mutex> dlock(g_dicts_mu);
				g_dicts.emplace(t, r.second);
				g_samples.erase(it);
				continue;
			}
			Log("ledger_am: the row dictionary of table %u/%u/%u could not be stored: its rows "
				"stay raw (in LZ4 blocks) until the storage worker restarts", t.spc, t.db, t.rel);
			it->second.pending.reset();
			it->second.given_up = true;
		}
	}
	catch (...)
	{
		/* Out of memory: what was not stored waits for the next call. */
		g_any_pending.store(true);
	}
}

void
RowDictionariesStop() noexcept
{
	g_armed.store(false, std::memory_order_release);
	{
		std::unique_lock<std::shared_mutex> lock(g_dicts_mu);
		g_dicts.clear();
	}
	std::lock_guard<std::mutex> lock(g_samples_mu);
	g_samples.clear();
	g_sampled_bytes = 0;
	g_settings.log.reset();
	g_any_pending.store(false);
}

void
RowDictionariesForget(const std::function<bool(const TableId &)> &dropped) noexcept
{
	{
		std::unique_lock<std::shared_mutex> lock(g_dicts_mu);
		for (auto it = g_dicts.begin(); it != g_dicts.end();)
			it = dropped(it->first) ? g_dicts.erase(it) : std::next(it);
	}
	std::lock_guard<std::mutex> lock(g_samples_mu);
	for (auto it = g_samples.begin(); it != g_samples.end();)
	{
		if (!dropped(it->first))
		{
			++it;
			continue;
		}
		g_sampled_bytes -= it->second.bytes.size();
		it = g_samples.erase(it);
	}
}

size_t
RowDictionarySize(const TableId &t) noexcept
{
	DictionaryPtr d = FindDictionary(t);
	return d ? d->value.size() - kDictionaryValueHeader : 0;
}

std::shared_ptr<rocksdb::CompactionFilterFactory>
RowDictionaryFilterFactory()
{
	return std::make_shared<RowDictionaryFilterFactoryImpl>();
}

const char *
ReadableRow(const TableId &t, const rocksdb::Slice &stored, std::string *scratch,
			rocksdb::Slice *out) noexcept
{
	try
	{
		if (stored.size() <= kRowHeaderSize ||
			(static_cast<uint8_t>(stored[1]) & kRowFlagZstdDict) == 0)
		{
			*out = stored;
			return nullptr;
		}
		RowHeader h;
		std::memcpy(&h, stored.data(), sizeof(h));
		DictionaryPtr d = FindDictionary(t);
		if (d == nullptr || d->number != h.reserved)
			return "stored row names a row dictionary its table does not have";
		const char *err = Decompress(*d, stored, scratch);
		if (err != nullptr)
			return err;
		*out = rocksdb::Slice(*scratch);
		return nullptr;
	}
	catch (...)
	{
		return "out of memory decompressing a row";
	}
}

} // namespace ledger_am
