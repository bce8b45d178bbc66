/*
 * micro_bench.cc: Google Benchmark micro benchmarks of the codecs in
 * src/codec (pure C++, no PostgreSQL header): what every stored row pays on
 * its way through the channel and into a RocksDB key.
 *
 *   BM_RowKey            RowKey(table, row id): the key of one row
 *   BM_RowKeyInto        the same 21 bytes written into a reused buffer
 *   BM_DecodeRowKey      DecodeRowKey back to (table, row id)
 *   BM_RowKeyCompare     memcmp of two adjacent row keys (RocksDB's comparator)
 *   BM_RowHeader         EncodeRowHeader + DecodeRowHeader (16 bytes)
 *   BM_RecordWriter/N    framing N-byte values into a 256 kB channel buffer
 *   BM_RecordReader/N    walking them back (headers only, as a scan that
 *                        filters on visibility does before touching a tuple)
 *   BM_TidMap            row id -> TID -> row id
 */
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "codec/keys.h"
#include "codec/row_codec.h"
#include "codec/tid_map.h"

using namespace ledger_am;

static const TableId kTable{1663, 16384, 24576};

static void
BM_RowKey(benchmark::State &state)
{
	uint64_t id = 0;
	for (auto _ : state)
	{
		std::string k = RowKey(kTable, id++);
		benchmark::DoNotOptimize(k.data());
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RowKey);

static void
BM_RowKeyInto(benchmark::State &state)
{
	const std::string prefix = TablePrefix(kTable);
	char buf[kRowKeyLen];
	std::memcpy(buf, prefix.data(), kTablePrefixLen);
	uint64_t id = 0;
	for (auto _ : state)
	{
		PutU64BE(buf + kTablePrefixLen, id++);
		benchmark::DoNotOptimize(buf);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RowKeyInto);

static void
BM_DecodeRowKey(benchmark::State &state)
{
	std::vector<std::string> keys;
	for (uint64_t i = 0; i < 1024; i++)
		keys.push_back(RowKey(kTable, i * 7919));
	size_t i = 0;
	TableId t{0, 0, 0};
	uint64_t id = 0;
	for (auto _ : state)
	{
		const std::string &k = keys[i++ & 1023];
		bool ok = DecodeRowKey(k.data(), k.size(), &t, &id);
		benchmark::DoNotOptimize(ok);
		benchmark::DoNotOptimize(id);
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeRowKey);

static void
BM_RowKeyCompare(benchmark::State &state)
{
	std::string a = RowKey(kTable, 1000000), b = RowKey(kTable, 1000001);
	for (auto _ : state)
	{
		int c = std::memcmp(a.data(), b.data(), kRowKeyLen);
		benchmark::DoNotOptimize(c);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RowKeyCompare);

/* Encode a header into, then decode it from, one of 4096 slots (so the
 * round trip cannot be folded into a register). */
static void
BM_RowHeader(benchmark::State &state)
{
	std::vector<char> buf(4096 * kRowHeaderSize);
	RowHeader h;
	uint64_t xmin = 1000, sum = 0;
	size_t i = 0;
	for (auto _ : state)
	{
		char *p = buf.data() + (i++ & 4095) * kRowHeaderSize;
		EncodeRowHeader(p, xmin++, 3);
		benchmark::ClobberMemory();
		bool ok = DecodeRowHeader(p, kRowHeaderSize, &h);
		sum += h.xmin + ok;
	}
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RowHeader);

/* One channel message: as many N-byte rows (header + tuple) as fit 256 kB. */
static void
BM_RecordWriter(benchmark::State &state)
{
	const size_t value_len = static_cast<size_t>(state.range(0));
	std::vector<char> buf(256 * 1024);
	std::vector<char> value(value_len, 'x');
	uint64_t rows = 0, bytes = 0;
	for (auto _ : state)
	{
		RecordWriter w(buf.data(), buf.size());
		uint64_t id = 0;
		while (char *dst = w.Append(id++, static_cast<uint32_t>(value_len)))
		{
			EncodeRowHeader(dst, 42, 0);
			std::memcpy(dst + kRowHeaderSize, value.data() + kRowHeaderSize,
						value_len - kRowHeaderSize);
		}
		rows += w.count();
		bytes += w.used();
		benchmark::DoNotOptimize(buf.data());
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(static_cast<int64_t>(rows));
	state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_RecordWriter)->Arg(128)->Arg(740)->Arg(4096);

static void
BM_RecordReader(benchmark::State &state)
{
	const size_t value_len = static_cast<size_t>(state.range(0));
	std::vector<char> buf(256 * 1024);
	RecordWriter w(buf.data(), buf.size());
	uint64_t id = 0;
	while (char *dst = w.Append(id++, static_cast<uint32_t>(value_len)))
	{
		EncodeRowHeader(dst, 42, 0);
		std::memset(dst + kRowHeaderSize, 'x', value_len - kRowHeaderSize);
	}
	const size_t used = w.used();
	uint64_t rows = 0;
	for (auto _ : state)
	{
		RecordReader r(buf.data(), used);
		uint64_t row_id;
		const char *value;
		uint32_t len;
		uint64_t sum = 0;
		while (r.Next(&row_id, &value, &len))
		{
			RowHeader h;
			DecodeRowHeader(value, len, &h);
			sum += h.xmin + len;
			rows++;
		}
		benchmark::DoNotOptimize(sum);
	}
	state.SetItemsProcessed(static_cast<int64_t>(rows));
	(void) used;
}
BENCHMARK(BM_RecordReader)->Arg(128)->Arg(740)->Arg(4096);

static void
BM_TidMap(benchmark::State &state)
{
	uint64_t id = 123456789;
	for (auto _ : state)
	{
		VirtualTid t = RowIdToTid(id);
		uint64_t back = 0;
		bool ok = TidToRowId(t.block, t.offset, &back);
		benchmark::DoNotOptimize(ok);
		benchmark::DoNotOptimize(back);
		id += 17;
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TidMap);

BENCHMARK_MAIN();
