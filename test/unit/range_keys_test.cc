/*
 * range_keys_test.cc: account and time range keys (codec/range_keys.h) sort
 * as the scans that read them need: by account, then time (NULL last), then
 * row id; no account encoding is a prefix of another.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/range_keys.h"

using namespace ledger_am;

namespace {

const TableId kT{1663, 5, 16384};

/* Body builds an account key body: account + time. */
std::string
IntBody(int64_t account, bool ts_null, int64_t ts)
{
	std::string b;
	AppendAccountInt(&b, account);
	AppendTime(&b, ts_null, ts);
	return b;
}

std::string
TextBody(const std::string &account, bool ts_null, int64_t ts)
{
	std::string b;
	AppendAccountText(&b, account.data(), account.size());
	AppendTime(&b, ts_null, ts);
	return b;
}

} // namespace

TEST(RangeKeys, IntAccountsThenTimeThenRowId)
{
	std::vector<std::string> keys = {
		RangeKey(kAccountSpace, kT, IntBody(-5, false, 100).data(), IntBody(-5, false, 100).size(), 9),
		RangeKey(kAccountSpace, kT, IntBody(-5, false, 200).data(), IntBody(-5, false, 200).size(), 1),
		RangeKey(kAccountSpace, kT, IntBody(-5, true, 0).data(), IntBody(-5, true, 0).size(), 0),
		RangeKey(kAccountSpace, kT, IntBody(3, false, -7).data(), IntBody(3, false, -7).size(), 2),
		RangeKey(kAccountSpace, kT, IntBody(3, false, -7).data(), IntBody(3, false, -7).size(), 3),
		RangeKey(kAccountSpace, kT, IntBody(3, false, 0).data(), IntBody(3, false, 0).size(), 1),
	};
	std::vector<std::string> sorted = keys;
	std::sort(sorted.begin(), sorted.end());
	EXPECT_EQ(sorted, keys);
	EXPECT_EQ(RangeKeyRowId(keys[0].data(), keys[0].size()), 9u);
}

TEST(RangeKeys, TextAccountsAreOrderedAndPrefixFree)
{
	std::vector<std::string> accounts = {"", std::string("a\0", 2), "a", "ab", "b", std::string("a\0b", 3)};
	std::vector<std::string> bodies;
	for (const auto &a : accounts)
		bodies.push_back(TextBody(a, false, 0));
	/* Same order as the raw strings. */
	std::vector<size_t> by_raw(accounts.size()), by_enc(accounts.size());
	for (size_t i = 0; i < accounts.size(); i++)
		by_raw[i] = by_enc[i] = i;
	std::sort(by_raw.begin(), by_raw.end(), [&](size_t x, size_t y) { return accounts[x] < accounts[y]; });
	std::sort(by_enc.begin(), by_enc.end(), [&](size_t x, size_t y) { return bodies[x] < bodies[y]; });
	EXPECT_EQ(by_raw, by_enc);
	/* No encoded account is a prefix of another's encoding. */
	for (size_t i = 0; i < accounts.size(); i++)
		for (size_t j = 0; j < accounts.size(); j++)
		{
			if (i == j)
				continue;
			std::string ei, ej;
			AppendAccountText(&ei, accounts[i].data(), accounts[i].size());
			AppendAccountText(&ej, accounts[j].data(), accounts[j].size());
			EXPECT_NE(ej.compare(0, ei.size(), ei), 0) << i << " prefix of " << j;
		}
}

TEST(RangeKeys, TimeNullSortsAfterEveryValue)
{
	std::string max_value, null_value;
	AppendTime(&max_value, false, INT64_MAX);
	AppendTime(&null_value, true, 0);
	EXPECT_LT(max_value, null_value);
	std::string min_value;
	AppendTime(&min_value, false, INT64_MIN);
	EXPECT_LT(min_value, max_value);
	EXPECT_EQ(min_value.size(), kTimeLen);
}

TEST(RangeKeys, BlobRoundTripAndTruncation)
{
	std::string blob;
	AppendBlobKey(&blob, kAccountSpace, IntBody(1, false, 5));
	AppendBlobKey(&blob, kTimeSpace, std::string("\x01\x80\x00\x00\x00\x00\x00\x00\x05", 9));
	BlobReader r(blob.data(), blob.size());
	uint8_t space;
	const char *body;
	uint16_t len;
	ASSERT_TRUE(r.Next(&space, &body, &len));
	EXPECT_EQ(space, kAccountSpace);
	EXPECT_EQ(std::string(body, len), IntBody(1, false, 5));
	ASSERT_TRUE(r.Next(&space, &body, &len));
	EXPECT_EQ(space, kTimeSpace);
	EXPECT_EQ(len, 9u);
	EXPECT_FALSE(r.Next(&space, &body, &len));
	EXPECT_TRUE(r.ok());
	BlobReader bad(blob.data(), blob.size() - 1);
	EXPECT_TRUE(bad.Next(&space, &body, &len));
	EXPECT_FALSE(bad.Next(&space, &body, &len));
	EXPECT_FALSE(bad.ok());
}

TEST(RangeKeys, SpacePrefixesSeparateTablesAndSpaces)
{
	TableId other{1663, 5, 16385};
	EXPECT_LT(SpacePrefix(kAccountSpace, kT), SpacePrefix(kAccountSpace, other));
	EXPECT_LT(SpacePrefix(kAccountSpace, other), SpacePrefix(kTimeSpace, kT));
	EXPECT_LT(TablePrefix(other), SpacePrefix(kAccountSpace, kT));
}

TEST(RangeKeys, InsertRunPrefixGroupsEachAscendingRun)
{
	auto prefix = [](const std::string &k) { return k.substr(0, InsertRunPrefixLen(k.data(), k.size())); };
	std::string decl("\x00\x00\x40\x01", 4);
	std::string a5 = decl + IntBody(5, false, 100), a5later = decl + IntBody(5, false, 200);
	std::string a6 = decl + IntBody(6, false, 100), txt = decl + TextBody("acct-7", false, 100);
	std::string t1 = decl, t2 = decl;
	AppendTime(&t1, false, 100);
	AppendTime(&t2, true, 0);

	/* rows: one run per table */
	EXPECT_EQ(prefix(RowKey(kT, 1)), TablePrefix(kT));
	EXPECT_EQ(prefix(RowKey(kT, 1)), prefix(RowKey(kT, 99999)));
	EXPECT_NE(prefix(RowKey(kT, 1)), prefix(RowKey(TableId{1663, 5, 16385}, 1)));
	/* account keys: one run per account, whatever the time and row id */
	std::string k5 = RangeKey(kAccountSpace, kT, a5.data(), a5.size(), 1);
	EXPECT_EQ(prefix(k5), SpacePrefix(kAccountSpace, kT) + decl + IntBody(5, false, 0).substr(0, kAccountIntLen));
	EXPECT_EQ(prefix(k5), prefix(RangeKey(kAccountSpace, kT, a5later.data(), a5later.size(), 7)));
	EXPECT_NE(prefix(k5), prefix(RangeKey(kAccountSpace, kT, a6.data(), a6.size(), 1)));
	std::string kt = RangeKey(kAccountSpace, kT, txt.data(), txt.size(), 3);
	EXPECT_EQ(prefix(kt).size(), kt.size() - kTimeLen - 8);
	/* time keys: one run per declaration, NULL times included */
	std::string tk1 = RangeKey(kTimeSpace, kT, t1.data(), t1.size(), 1);
	EXPECT_EQ(prefix(tk1), SpacePrefix(kTimeSpace, kT) + decl);
	EXPECT_EQ(prefix(tk1), prefix(RangeKey(kTimeSpace, kT, t2.data(), t2.size(), 2)));
	/* metadata and short or foreign keys are outside every run */
	EXPECT_EQ(InsertRunPrefixLen(ReservationKey(kT).data(), ReservationKey(kT).size()), 0u);
	std::string tp = TablePrefix(kT);
	EXPECT_EQ(InsertRunPrefixLen(tp.data(), tp.size()), 0u);
	std::string shortkey = SpacePrefix(kTimeSpace, kT) + decl;
	EXPECT_EQ(InsertRunPrefixLen(shortkey.data(), shortkey.size()), 0u);
}
