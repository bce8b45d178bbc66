/*
 * keys_test.cc: the memcomparable key encoding (codec/keys.h).
 *
 * RocksDB compares keys bytewise, so every ordering the engine relies on
 * (row id order within a table, tables grouped by tablespace/database) must
 * hold for std::string's bytewise compare too.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codec/keys.h"

using namespace ledger_am;

namespace {

/* Bytes builds a std::string from raw byte values. */
std::string
Bytes(std::initializer_list<int> bytes)
{
	std::string s;
	for (int b : bytes)
		s.push_back(static_cast<char>(b));
	return s;
}

/* OrderedKey encodes v with PutI64Ordered. */
std::string
OrderedKey(int64_t v)
{
	std::string k(8, '\0');
	PutI64Ordered(&k[0], v);
	return k;
}

} // namespace

TEST(Keys, RowKeysOfOneTableSortByRowId)
{
	TableId t{1663, 5, 16384};
	std::vector<uint64_t> ids = {0, 1, 2, 255, 256, 65535, 65536, UINT64_C(1) << 32,
								 (UINT64_C(1) << 56) + 1, UINT64_MAX - 1, UINT64_MAX};
	for (size_t i = 1; i < ids.size(); i++)
		EXPECT_LT(RowKey(t, ids[i - 1]), RowKey(t, ids[i])) << ids[i - 1] << " vs " << ids[i];
}

TEST(Keys, TablesSortBySpcThenDbThenRel)
{
	/* Each table's last possible row sorts before the next table's first. */
	std::vector<TableId> tables = {
		{0, 0, 0}, {0, 0, 1}, {0, 0, 256}, {0, 1, 0}, {0, 256, 0}, {1, 0, 0}, {1663, 5, 16384},
		{1663, 5, 16385}, {1663, 6, 0}, {1664, 0, 0}, {UINT32_MAX, UINT32_MAX, UINT32_MAX},
	};
	for (size_t i = 1; i < tables.size(); i++)
	{
		EXPECT_LT(RowKey(tables[i - 1], UINT64_MAX), RowKey(tables[i], 0)) << "table index " << i;
		EXPECT_LT(TablePrefix(tables[i - 1]), TablePrefix(tables[i]));
	}
}

TEST(Keys, RowKeyLayout)
{
	TableId t{0x01020304, 0x05060708, 0x090a0b0c};
	std::string k = RowKey(t, UINT64_C(0x1112131415161718));
	ASSERT_EQ(k.size(), kRowKeyLen);
	EXPECT_EQ(k, Bytes({0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
						0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}));
	EXPECT_EQ(k.compare(0, kTablePrefixLen, TablePrefix(t)), 0);
	EXPECT_EQ(DatabasePrefix(t.spc, t.db), k.substr(0, 9));
}

TEST(Keys, RowKeyRoundTrip)
{
	std::mt19937_64 rng(42);
	for (int i = 0; i < 1000; i++)
	{
		TableId t{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
		uint64_t id = rng();
		std::string k = RowKey(t, id);
		TableId back{};
		uint64_t back_id = 0;
		ASSERT_TRUE(DecodeRowKey(k.data(), k.size(), &back, &back_id));
		EXPECT_TRUE(back == t);
		EXPECT_EQ(back_id, id);
	}
}

TEST(Keys, DecodeRowKeyRejectsWrongLengthOrSpace)
{
	TableId t{1, 2, 3};
	std::string k = RowKey(t, 7);
	TableId out{};
	uint64_t id = 0;
	EXPECT_FALSE(DecodeRowKey(k.data(), k.size() - 1, &out, &id));
	std::string longer = k + "x";
	EXPECT_FALSE(DecodeRowKey(longer.data(), longer.size(), &out, &id));
	EXPECT_FALSE(DecodeRowKey(k.data(), 0, &out, &id));
	std::string meta = k;
	meta[0] = static_cast<char>(kMetaSpace);
	EXPECT_FALSE(DecodeRowKey(meta.data(), meta.size(), &out, &id));
	std::string other = k;
	other[0] = 0x02;
	EXPECT_FALSE(DecodeRowKey(other.data(), other.size(), &out, &id));
	/* A reservation key is a metadata key, never a row. */
	std::string r = ReservationKey(t);
	EXPECT_FALSE(DecodeRowKey(r.data(), r.size(), &out, &id));
}

TEST(Keys, BigEndianRoundTrip)
{
	char b[8];
	for (uint32_t v : {0u, 1u, 0x80u, 0xffu, 0x100u, 0x01020304u, UINT32_MAX})
	{
		PutU32BE(b, v);
		EXPECT_EQ(GetU32BE(b), v);
	}
	PutU32BE(b, 0x01020304u);
	EXPECT_EQ(std::string(b, 4), Bytes({1, 2, 3, 4}));
	for (uint64_t v : {UINT64_C(0), UINT64_C(1), UINT64_C(0x0102030405060708), UINT64_MAX})
	{
		PutU64BE(b, v);
		EXPECT_EQ(GetU64BE(b), v);
	}
}

TEST(Keys, I64OrderedSortsNumerically)
{
	std::vector<int64_t> vals = {std::numeric_limits<int64_t>::min(),
								 std::numeric_limits<int64_t>::min() + 1,
								 -(INT64_C(1) << 40),
								 -256,
								 -2,
								 -1,
								 0,
								 1,
								 2,
								 255,
								 256,
								 INT64_C(1) << 40,
								 std::numeric_limits<int64_t>::max() - 1,
								 std::numeric_limits<int64_t>::max()};
	for (size_t i = 1; i < vals.size(); i++)
		EXPECT_LT(OrderedKey(vals[i - 1]), OrderedKey(vals[i])) << vals[i - 1] << " vs " << vals[i];
	EXPECT_EQ(OrderedKey(std::numeric_limits<int64_t>::min()), std::string(8, '\0'));
	EXPECT_EQ(OrderedKey(std::numeric_limits<int64_t>::max()), std::string(8, '\xff'));
	EXPECT_EQ(OrderedKey(0), Bytes({0x80, 0, 0, 0, 0, 0, 0, 0}));
	EXPECT_EQ(OrderedKey(-1), Bytes({0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(Keys, I64OrderedRoundTripAndRandomOrder)
{
	std::mt19937_64 rng(7);
	std::vector<int64_t> vals = {std::numeric_limits<int64_t>::min(), -1, 0, 1,
								 std::numeric_limits<int64_t>::max()};
	for (int i = 0; i < 500; i++)
		vals.push_back(static_cast<int64_t>(rng()));
	for (int64_t v : vals)
	{
		std::string k = OrderedKey(v);
		EXPECT_EQ(GetI64Ordered(k.data()), v);
	}
	/* Sorting the encodings bytewise must sort the values numerically. */
	std::vector<std::string> keys;
	for (int64_t v : vals)
		keys.push_back(OrderedKey(v));
	std::sort(keys.begin(), keys.end());
	std::sort(vals.begin(), vals.end());
	for (size_t i = 0; i < vals.size(); i++)
		EXPECT_EQ(GetI64Ordered(keys[i].data()), vals[i]);
}

TEST(Keys, PrefixSuccessorEdgeCases)
{
	EXPECT_EQ(PrefixSuccessor(Bytes({1, 2, 3})), Bytes({1, 2, 4}));
	/* Trailing 0xff bytes are dropped and the byte before them incremented. */
	EXPECT_EQ(PrefixSuccessor(Bytes({1, 2, 0xff})), Bytes({1, 3}));
	EXPECT_EQ(PrefixSuccessor(Bytes({1, 0xff, 0xff})), Bytes({2}));
	EXPECT_EQ(PrefixSuccessor(Bytes({0x00})), Bytes({0x01}));
	EXPECT_EQ(PrefixSuccessor(Bytes({0xfe})), Bytes({0xff}));
	/* All 0xff (and empty): no successor exists. */
	EXPECT_EQ(PrefixSuccessor(Bytes({0xff})), std::string());
	EXPECT_EQ(PrefixSuccessor(Bytes({0xff, 0xff, 0xff})), std::string());
	EXPECT_EQ(PrefixSuccessor(std::string()), std::string());
}

TEST(Keys, PrefixSuccessorBoundsEveryKeyOfTheTable)
{
	TableId t{5, 6, UINT32_MAX};
	std::string succ = PrefixSuccessor(TablePrefix(t));
	EXPECT_LT(RowKey(t, UINT64_MAX), succ);
	EXPECT_LE(succ, RowKey(TableId{5, 7, 0}, 0));
	/* The very last table still has a successor: the next key space. */
	TableId last{UINT32_MAX, UINT32_MAX, UINT32_MAX};
	EXPECT_EQ(PrefixSuccessor(TablePrefix(last)), Bytes({0x02}));
}

TEST(Keys, ReservationKeysLiveBelowRows)
{
	TableId t{1663, 5, 16384};
	std::string r = ReservationKey(t);
	EXPECT_EQ(r.size(), 14u);
	EXPECT_EQ(r[0], static_cast<char>(kMetaSpace));
	EXPECT_EQ(r[1], 'm');
	EXPECT_LT(r, RowKey(TableId{0, 0, 0}, 0));
	EXPECT_LT(ReservationKey(TableId{1663, 5, 1}), ReservationKey(TableId{1663, 6, 0}));
}

TEST(MetaKeys, KindsAreDistinctAndSortBeforeRows)
{
	TableId t{1663, 5, 16384};
	EXPECT_NE(ReservationKey(t), FrozenKey(t));
	EXPECT_EQ(ReservationKey(t).substr(2), FrozenKey(t).substr(2));
	EXPECT_LT(FrozenKey(t), TablePrefix(t));
	EXPECT_LT(ReservationKey(t), TablePrefix(t));
}
