/*
 * codec_probe.cc: how well, and how fast, the codecs ledger_am could use
 * compress the rows a ledger_am instance really holds.
 *
 *   g++ -O2 -std=c++17 bench/codec_probe.cc -o /tmp/codec_probe -lrocksdb -lzstd -llz4
 *   /tmp/codec_probe COPY_OF_PGDATA/ledger_am [ROWS] [SKIP]
 *
 * Point it at a copy of a data directory's ledger_am/ (or one whose server is
 * stopped): it opens the instance read-only, skips SKIP rows (default
 * 2,000,000, past a table's first files), reads ROWS stored values (default
 * 200,000) in key order and measures, single-threaded, in memory:
 *
 *   - blocks: the values cut into 8 kB blocks, as RocksDB stores rows, each
 *     compressed alone with a 16 kB raw dictionary taken from the first rows
 *     (ledger_am's layout), under ZSTD levels -1/1/3, LZ4 and LZ4HC 4/9;
 *     decoding one block is what one row read outside the block cache costs;
 *   - dictionaries: ZSTD 1 blocks without one, with a raw or a trained one of
 *     4 / 8 / 16 kB, decoded as RocksDB 7.8 does and with a prepared one;
 *   - rows: each value compressed alone with a trained ZSTD dictionary
 *     (16/64/110 kB) and a prepared decoding dictionary: what a row read would
 *     cost if rows were stored compressed one by one.
 *
 * Ratio = raw bytes / compressed bytes (framing and keys left out).
 */
#include <lz4.h>
#include <lz4hc.h>
#include <rocksdb/db.h>
#include <zdict.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr size_t kBlock = 8 * 1024;
constexpr size_t kRawDict = 16 * 1024;
constexpr int kRounds = 3;

double
Now()
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* A block codec: compress(src, dict) -> bytes; decompress(bytes, dict, dst) -> ok. */
struct Codec
{
	const char *name;
	std::function<std::string(const std::string &, const std::string &)> compress;
	std::function<bool(const std::string &, const std::string &, std::string *)> decompress;
};

Codec
Zstd(const char *name, int level)
{
	auto cctx = std::shared_ptr<ZSTD_CCtx>(ZSTD_createCCtx(), ZSTD_freeCCtx);
	auto dctx = std::shared_ptr<ZSTD_DCtx>(ZSTD_createDCtx(), ZSTD_freeDCtx);
	return Codec{
		name,
		[cctx, level](const std::string &src, const std::string &dict) {
			std::string out(ZSTD_compressBound(src.size()), '\0');
			size_t n = ZSTD_compress_usingDict(cctx.get(), &out[0], out.size(), src.data(), src.size(),
											   dict.data(), dict.size(), level);
			out.resize(ZSTD_isError(n) ? 0 : n);
			return out;
		},
		[dctx](const std::string &c, const std::string &dict, std::string *dst) {
			size_t n = ZSTD_decompress_usingDict(dctx.get(), &(*dst)[0], dst->size(), c.data(), c.size(),
												 dict.data(), dict.size());
			return !ZSTD_isError(n);
		}};
}

/* LZ4 (hc_level 0) or LZ4HC with the dictionary loaded per block, as RocksDB does. */
Codec
Lz4(const char *name, int hc_level)
{
	return Codec{
		name,
		[hc_level](const std::string &src, const std::string &dict) {
			std::string out(LZ4_compressBound(static_cast<int>(src.size())), '\0');
			int n;
			if (hc_level == 0)
			{
				LZ4_stream_t *st = LZ4_createStream();
				LZ4_loadDict(st, dict.data(), static_cast<int>(dict.size()));
				n = LZ4_compress_fast_continue(st, src.data(), &out[0], static_cast<int>(src.size()),
											   static_cast<int>(out.size()), 1);
				LZ4_freeStream(st);
			}
			else
			{
				LZ4_streamHC_t *st = LZ4_createStreamHC();
				LZ4_resetStreamHC_fast(st, hc_level);
				LZ4_loadDictHC(st, dict.data(), static_cast<int>(dict.size()));
				n = LZ4_compress_HC_continue(st, src.data(), &out[0], static_cast<int>(src.size()),
											 static_cast<int>(out.size()));
				LZ4_freeStreamHC(st);
			}
			out.resize(n > 0 ? static_cast<size_t>(n) : 0);
			return out;
		},
		[](const std::string &c, const std::string &dict, std::string *dst) {
			return LZ4_decompress_safe_usingDict(c.data(), &(*dst)[0], static_cast<int>(c.size()),
												 static_cast<int>(dst->size()), dict.data(),
												 static_cast<int>(dict.size())) >= 0;
		}};
}

/* DecodeSeconds decodes every packed value kRounds times and returns the
 * seconds one round took; *ok stays true only if every decode succeeded. */
template <typename Decode>
double
DecodeSeconds(const std::vector<std::string> &packed, bool *ok, Decode decode)
{
	double t0 = Now();
	for (int round = 0; round < kRounds; round++)
		for (const std::string &p : packed)
			*ok = decode(p) && *ok;
	return (Now() - t0) / kRounds;
}

/* CutBlocks packs the rows into blocks of at least 8 kB, as RocksDB cuts them. */
std::vector<std::string>
CutBlocks(const std::vector<std::string> &rows)
{
	std::vector<std::string> blocks(1);
	for (const std::string &r : rows)
	{
		if (blocks.back().size() >= kBlock)
			blocks.emplace_back();
		blocks.back() += r;
	}
	return blocks;
}

void
ProbeBlocks(const std::vector<std::string> &rows, size_t raw)
{
	std::string dict;
	for (const std::string &r : rows)
	{
		if (dict.size() >= kRawDict)
			break;
		dict += r;
	}
	dict.resize(kRawDict);
	std::vector<std::string> blocks = CutBlocks(rows);
	std::vector<Codec> codecs = {Zstd("zstd -1", -1), Zstd("zstd 1 (default)", 1), Zstd("zstd 3", 3),
								 Lz4("lz4", 0), Lz4("lz4hc 4 (lz4hc)", 4), Lz4("lz4hc 9", 9)};
	std::printf("8 kB blocks (%zu), 16 kB raw dictionary:\n", blocks.size());
	std::printf("  %-18s %7s %14s %16s\n", "codec", "ratio", "compress MB/s", "decode us/block");
	std::string dst(4 * kBlock, '\0');
	for (const Codec &c : codecs)
	{
		std::vector<std::string> packed;
		size_t bytes = 0;
		double t0 = Now();
		for (const std::string &b : blocks)
		{
			packed.push_back(c.compress(b, dict));
			bytes += packed.back().size();
		}
		double tc = Now() - t0;
		bool ok = true;
		double td = DecodeSeconds(packed, &ok, [&](const std::string &p) { return c.decompress(p, dict, &dst); });
		std::printf("  %-18s %7.3f %14.0f %16.2f%s\n", c.name, (double) raw / bytes, raw / tc / 1e6,
					td * 1e6 / packed.size(), ok ? "" : "  DECODE FAILED");
	}
}

/*
 * ZSTD level 1 on 8 kB blocks under each dictionary RocksDB could give a
 * file: none, a raw sample (the first rows) or one trained on whole blocks
 * (zstd_max_train_bytes, RocksDB's trainer input), 4 / 8 / 16 kB. Decoding
 * is timed twice: with ZSTD_decompress_usingDict, which digests the
 * dictionary again for every block (what Debian's librocksdb 7.8 calls: it
 * is built without ZSTD_STATIC_LINKING_ONLY, so no prepared ZSTD_DDict), and
 * with a prepared ZSTD_DDict for comparison. A trained dictionary carries
 * entropy tables, which is what makes re-digesting it cost.
 */
void
ProbeDictionaries(const std::vector<std::string> &rows, const std::vector<std::string> &blocks, size_t raw)
{
	std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx *)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
	std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx *)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
	std::string samples;
	std::vector<size_t> sizes;
	for (const std::string &b : blocks)
	{
		if (samples.size() + b.size() > 100 * kRawDict)
			break;
		samples += b;
		sizes.push_back(b.size());
	}
	std::printf("zstd 1, 8 kB blocks, by dictionary:\n");
	std::printf("  %-18s %7s %22s %20s\n", "dictionary", "ratio", "decode us/block (dict)", "(prepared DDict)");
	std::string dst(4 * kBlock, '\0');
	for (int trained = 0; trained <= 1; trained++)
		for (size_t cap : {size_t(0), 4 * size_t(1024), 8 * size_t(1024), 16 * size_t(1024)})
		{
			if (cap == 0 && trained)
				continue;
			std::string dict;
			if (cap > 0 && !trained)
			{
				for (const std::string &r : rows)
				{
					if (dict.size() >= cap)
						break;
					dict += r;
				}
				dict.resize(cap);
			}
			else if (cap > 0)
			{
				dict.assign(cap, '\0');
				size_t n = ZDICT_trainFromBuffer(&dict[0], cap, samples.data(), sizes.data(),
												 static_cast<unsigned>(sizes.size()));
				if (ZDICT_isError(n))
				{
					std::printf("  trained %zu kB: %s\n", cap / 1024, ZDICT_getErrorName(n));
					continue;
				}
				dict.resize(n);
			}
			std::vector<std::string> packed;
			size_t bytes = 0;
			for (const std::string &b : blocks)
			{
				std::string out(ZSTD_compressBound(b.size()), '\0');
				size_t m = ZSTD_compress_usingDict(cctx.get(), &out[0], out.size(), b.data(), b.size(),
												   dict.data(), dict.size(), 1);
				out.resize(ZSTD_isError(m) ? 0 : m);
				bytes += out.size();
				packed.push_back(std::move(out));
			}
			bool ok = true;
			double td = DecodeSeconds(packed, &ok, [&](const std::string &p) {
				return !ZSTD_isError(ZSTD_decompress_usingDict(dctx.get(), &dst[0], dst.size(), p.data(), p.size(),
															   dict.data(), dict.size()));
			});
			ZSTD_DDict *dd = ZSTD_createDDict(dict.data(), dict.size());
			double tdd = DecodeSeconds(packed, &ok, [&](const std::string &p) {
				return !ZSTD_isError(ZSTD_decompress_usingDDict(dctx.get(), &dst[0], dst.size(), p.data(), p.size(), dd));
			});
			ZSTD_freeDDict(dd);
			char label[40];
			std::snprintf(label, sizeof(label), "%s %zu kB", cap == 0 ? "none" : trained ? "trained" : "raw",
						  cap / 1024);
			std::printf("  %-18s %7.3f %22.2f %20.2f%s\n", label, (double) raw / bytes,
						td * 1e6 / packed.size(), tdd * 1e6 / packed.size(), ok ? "" : "  DECODE FAILED");
		}
}

void
ProbeRows(const std::vector<std::string> &rows, size_t raw)
{
	std::string samples;
	std::vector<size_t> sizes;
	size_t step = rows.size() > 50000 ? rows.size() / 50000 : 1;
	for (size_t i = 0; i < rows.size(); i += step)
	{
		samples += rows[i];
		sizes.push_back(rows[i].size());
	}
	std::printf("rows one by one, trained ZSTD dictionary (%zu samples):\n", sizes.size());
	std::printf("  %-18s %7s %14s %16s\n", "dictionary, level", "ratio", "compress MB/s", "decode us/row");
	std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx *)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
	std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx *)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
	std::string dst(64 * 1024, '\0');
	for (size_t dict_cap : {16 * 1024, 64 * 1024, 110 * 1024})
	{
		std::string dict(dict_cap, '\0');
		size_t n = ZDICT_trainFromBuffer(&dict[0], dict.size(), samples.data(), sizes.data(),
										 static_cast<unsigned>(sizes.size()));
		if (ZDICT_isError(n))
		{
			std::printf("  %zu kB: training failed: %s\n", dict_cap / 1024, ZDICT_getErrorName(n));
			continue;
		}
		dict.resize(n);
		for (int level : {1, 3})
		{
			ZSTD_CDict *cd = ZSTD_createCDict(dict.data(), dict.size(), level);
			ZSTD_DDict *dd = ZSTD_createDDict(dict.data(), dict.size());
			std::vector<std::string> packed;
			size_t bytes = 0;
			double t0 = Now();
			for (const std::string &r : rows)
			{
				std::string out(ZSTD_compressBound(r.size()), '\0');
				size_t m = ZSTD_compress_usingCDict(cctx.get(), &out[0], out.size(), r.data(), r.size(), cd);
				out.resize(ZSTD_isError(m) ? 0 : m);
				bytes += out.size();
				packed.push_back(std::move(out));
			}
			double tc = Now() - t0;
			bool ok = true;
			double td = DecodeSeconds(packed, &ok, [&](const std::string &p) {
				return !ZSTD_isError(ZSTD_decompress_usingDDict(dctx.get(), &dst[0], dst.size(), p.data(), p.size(), dd));
			});
			char label[40];
			std::snprintf(label, sizeof(label), "%zu kB, %d", n / 1024, level);
			std::printf("  %-18s %7.3f %14.0f %16.2f%s\n", label, (double) raw / bytes, raw / tc / 1e6,
						td * 1e6 / packed.size(), ok ? "" : "  DECODE FAILED");
			ZSTD_freeCDict(cd);
			ZSTD_freeDDict(dd);
		}
	}
}

} // namespace

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		std::fprintf(stderr, "usage: %s LEDGER_AM_DIR [ROWS] [SKIP]\n", argv[0]);
		return 2;
	}
	size_t want = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200000;
	size_t skip = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2000000;

	rocksdb::Options options;
	std::vector<rocksdb::ColumnFamilyDescriptor> families = {
		{rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
		{"keys", rocksdb::ColumnFamilyOptions()}};
	std::vector<rocksdb::ColumnFamilyHandle *> handles;
	rocksdb::DB *db = nullptr;
	rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, argv[1], families, &handles, &db);
	if (!s.ok())
	{
		std::fprintf(stderr, "cannot open %s: %s\n", argv[1], s.ToString().c_str());
		return 1;
	}
	std::vector<std::string> rows;
	size_t raw = 0;
	{
		std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[0]));
		it->SeekToFirst();
		for (size_t i = 0; i < skip && it->Valid(); i++)
			it->Next();
		for (; it->Valid() && rows.size() < want; it->Next())
		{
			rows.push_back(it->value().ToString());
			raw += rows.back().size();
		}
	}
	for (rocksdb::ColumnFamilyHandle *h : handles)
		db->DestroyColumnFamilyHandle(h);
	delete db;
	if (rows.empty())
	{
		std::fprintf(stderr, "no rows after skipping %zu\n", skip);
		return 1;
	}
	std::printf("%zu rows, %zu bytes (%.1f per row)\n", rows.size(), raw, (double) raw / rows.size());
	ProbeBlocks(rows, raw);
	ProbeDictionaries(rows, CutBlocks(rows), raw);
	ProbeRows(rows, raw);
	return 0;
}
