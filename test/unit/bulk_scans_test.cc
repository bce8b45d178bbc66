/* bulk_scans_test.cc: when bulk scans of one table share the block cache. */
#include "worker/bulk_scans.h"

#include <gtest/gtest.h>

using ledger_am::BulkScans;
using ledger_am::TableId;

namespace
{
const TableId kT1{1663, 5, 100};
const TableId kT2{1663, 5, 200};
constexpr int64_t kMs = 1000;
} // namespace

TEST(BulkScans, OneScanAloneNeverShares)
{
	BulkScans b;
	for (int i = 0; i < 100; i++)
		EXPECT_FALSE(b.Note(kT1, 7, i * kMs)) << "chunk " << i;
}

TEST(BulkScans, ScansOfTheSameTableAtOnceShare)
{
	BulkScans b;
	EXPECT_FALSE(b.Note(kT1, 7, 0));
	EXPECT_TRUE(b.Note(kT1, 8, 2 * kMs)) << "group 7 read a chunk 2 ms ago";
	EXPECT_TRUE(b.Note(kT1, 7, 4 * kMs)) << "group 8 read a chunk 2 ms ago";
	/* A scan of another table is not company. */
	EXPECT_FALSE(b.Note(kT2, 9, 5 * kMs));
}

TEST(BulkScans, AScanThatStoppedNoLongerCounts)
{
	BulkScans b;
	EXPECT_FALSE(b.Note(kT1, 7, 0));
	EXPECT_TRUE(b.Note(kT1, 8, BulkScans::kShareWindowUs));
	/* Group 7 went quiet: group 8 alone again after the window. */
	EXPECT_FALSE(b.Note(kT1, 8, 2 * BulkScans::kShareWindowUs + 1));
}

TEST(BulkScans, ManyPairsReplaceTheStalest)
{
	BulkScans b;
	/* More pairs than entries, on other tables, long ago. */
	for (uint32_t g = 0; g < 3 * BulkScans::kEntries; g++)
		EXPECT_FALSE(b.Note(TableId{1663, 5, 1000 + g}, g, g));
	/* Two scans of kT1 now still find each other. */
	const int64_t now = 10 * BulkScans::kShareWindowUs;
	EXPECT_FALSE(b.Note(kT1, 1, now));
	EXPECT_TRUE(b.Note(kT1, 2, now + kMs));
	EXPECT_TRUE(b.Note(kT1, 1, now + 2 * kMs));
}
