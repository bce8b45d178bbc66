/*
 * tid_map_test.cc: row id <-> virtual TID mapping (codec/tid_map.h), the
 * contract btree and bitmap scans depend on (offsets 1..291 only).
 */
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "codec/tid_map.h"

using namespace ledger_am;

namespace {

/* ExpectTid checks row_id maps to (block, offset) and back. */
void
ExpectTid(uint64_t row_id, uint32_t block, uint16_t offset)
{
	VirtualTid t = RowIdToTid(row_id);
	EXPECT_EQ(t.block, block) << "row " << row_id;
	EXPECT_EQ(t.offset, offset) << "row " << row_id;
	uint64_t back = 0;
	ASSERT_TRUE(TidToRowId(block, offset, &back));
	EXPECT_EQ(back, row_id);
}

} // namespace

TEST(TidMap, FirstBlock)
{
	ExpectTid(0, 0, 1);
	ExpectTid(1, 0, 2);
	ExpectTid(290, 0, 291);
}

TEST(TidMap, SecondBlockStartsAt291)
{
	ExpectTid(291, 1, 1);
	ExpectTid(582, 2, 1);
	EXPECT_EQ(FirstRowIdOfBlock(1), 291u);
}

TEST(TidMap, RoundTripRandomIds)
{
	std::mt19937_64 rng(1234);
	std::uniform_int_distribution<uint64_t> dist(0, kMaxRowId);
	for (int i = 0; i < 100000; i++)
	{
		uint64_t id = dist(rng);
		VirtualTid t = RowIdToTid(id);
		ASSERT_GE(t.offset, 1);
		ASSERT_LE(t.offset, kRowsPerBlock);
		uint64_t back = 0;
		ASSERT_TRUE(TidToRowId(t.block, t.offset, &back));
		ASSERT_EQ(back, id);
	}
}

TEST(TidMap, RejectsOffsetsNoRowProduces)
{
	uint64_t id = 0;
	EXPECT_FALSE(TidToRowId(0, 0, &id));
	EXPECT_FALSE(TidToRowId(0, 292, &id));
	EXPECT_FALSE(TidToRowId(7, 0xffff, &id));
	EXPECT_TRUE(TidToRowId(0, 291, &id));
	/* InvalidBlockNumber is never produced. */
	EXPECT_FALSE(TidToRowId(UINT32_MAX, 1, &id));
}

TEST(TidMap, BoundaryAt38MillionRows)
{
	/* Block 131072 (2^17) starts at row 38,141,952. */
	const uint64_t first = UINT64_C(131072) * 291;
	EXPECT_EQ(first, UINT64_C(38141952));
	ExpectTid(first - 1, 131071, 291);
	ExpectTid(first, 131072, 1);
	EXPECT_EQ(FirstRowIdOfBlock(131072), first);
	EXPECT_EQ(BlocksForRowCount(first), 131072u);
	EXPECT_EQ(BlocksForRowCount(first + 1), 131073u);
}

TEST(TidMap, MaxRowIdMappableAndNextNot)
{
	EXPECT_TRUE(RowIdIsMappable(0));
	EXPECT_TRUE(RowIdIsMappable(kMaxRowId));
	EXPECT_FALSE(RowIdIsMappable(kMaxRowId + 1));
	EXPECT_FALSE(RowIdIsMappable(UINT64_MAX));
	ExpectTid(kMaxRowId, static_cast<uint32_t>(kMaxBlock), 291);
	/* About 1.25e12 rows per table, as documented. */
	EXPECT_GT(kMaxRowId, UINT64_C(1249000000000));
	EXPECT_LT(kMaxRowId, UINT64_C(1250000000000));
}

TEST(TidMap, BlocksForRowCount)
{
	EXPECT_EQ(BlocksForRowCount(0), 0u);
	EXPECT_EQ(BlocksForRowCount(1), 1u);
	EXPECT_EQ(BlocksForRowCount(291), 1u);
	EXPECT_EQ(BlocksForRowCount(292), 2u);
	EXPECT_EQ(BlocksForRowCount(kMaxRowId + 1), kMaxBlock + 1);
}
