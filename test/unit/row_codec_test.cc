/*
 * row_codec_test.cc: the stored row header and the channel record framing
 * (codec/row_codec.h).
 */
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "codec/row_codec.h"

using namespace ledger_am;

TEST(RowCodec, HeaderRoundTrip)
{
	char buf[kRowHeaderSize + 4];
	EncodeRowHeader(buf, UINT64_C(0x0123456789abcdef), 42, 3);
	RowHeader h{};
	ASSERT_TRUE(DecodeRowHeader(buf, sizeof(buf), &h));
	EXPECT_EQ(h.version, kRowFormatVersion);
	EXPECT_EQ(h.flags, 3);
	EXPECT_EQ(h.reserved, 0);
	EXPECT_EQ(h.cmin, 42u);
	EXPECT_EQ(h.xmin, UINT64_C(0x0123456789abcdef));

	EncodeRowHeader(buf, UINT64_MAX, UINT32_MAX);
	ASSERT_TRUE(DecodeRowHeader(buf, kRowHeaderSize, &h));
	EXPECT_EQ(h.flags, 0);
	EXPECT_EQ(h.cmin, UINT32_MAX);
	EXPECT_EQ(h.xmin, UINT64_MAX);
}

TEST(RowCodec, HeaderRejectsShortOrUnknownVersion)
{
	char buf[kRowHeaderSize];
	EncodeRowHeader(buf, 7, 1);
	RowHeader h{};
	EXPECT_FALSE(DecodeRowHeader(buf, kRowHeaderSize - 1, &h));
	EXPECT_FALSE(DecodeRowHeader(buf, 0, &h));
	buf[0] = static_cast<char>(kRowFormatVersion + 1);
	EXPECT_FALSE(DecodeRowHeader(buf, kRowHeaderSize, &h));
	buf[0] = 0;
	EXPECT_FALSE(DecodeRowHeader(buf, kRowHeaderSize, &h));
}

TEST(RowCodec, Align8AndRecordSize)
{
	EXPECT_EQ(Align8(0), 0u);
	EXPECT_EQ(Align8(1), 8u);
	EXPECT_EQ(Align8(8), 8u);
	EXPECT_EQ(Align8(9), 16u);
	EXPECT_EQ(RecordSize(0), kRecordHeaderSize);
	EXPECT_EQ(RecordSize(1), kRecordHeaderSize + 8);
	EXPECT_EQ(RecordSize(16), kRecordHeaderSize + 16);
	EXPECT_EQ(RecordSize(17), kRecordHeaderSize + 24);
}

TEST(RowCodec, WriterReaderFramingAndAlignment)
{
	alignas(8) char buf[1024];
	RecordWriter w(buf, sizeof(buf));
	std::vector<std::string> values = {"", "a", "1234567", "12345678", "123456789",
									   std::string(100, 'x')};
	for (size_t i = 0; i < values.size(); i++)
	{
		char *dst = w.Append(1000 + i, static_cast<uint32_t>(values[i].size()));
		ASSERT_NE(dst, nullptr);
		/* Values start 8-byte aligned so backends can point tuple slots at them. */
		EXPECT_EQ(reinterpret_cast<uintptr_t>(dst) % 8, 0u);
		std::memcpy(dst, values[i].data(), values[i].size());
	}
	EXPECT_EQ(w.count(), values.size());
	size_t expect_used = 0;
	for (const auto &v : values)
		expect_used += RecordSize(v.size());
	EXPECT_EQ(w.used(), expect_used);
	EXPECT_EQ(w.used() % 8, 0u);

	RecordReader r(buf, w.used());
	uint64_t id;
	const char *value;
	uint32_t len;
	for (size_t i = 0; i < values.size(); i++)
	{
		ASSERT_TRUE(r.Next(&id, &value, &len));
		EXPECT_EQ(id, 1000 + i);
		EXPECT_EQ(reinterpret_cast<uintptr_t>(value) % 8, 0u);
		EXPECT_EQ(std::string(value, len), values[i]);
	}
	EXPECT_FALSE(r.Next(&id, &value, &len));
	EXPECT_TRUE(r.ok());
}

TEST(RowCodec, PaddingIsZeroed)
{
	alignas(8) char buf[64];
	std::memset(buf, 0xaa, sizeof(buf));
	RecordWriter w(buf, sizeof(buf));
	char *dst = w.Append(1, 3);
	ASSERT_NE(dst, nullptr);
	std::memcpy(dst, "abc", 3);
	/* The reserved header word and the pad bytes never leak stale memory. */
	for (size_t i = 12; i < 16; i++)
		EXPECT_EQ(buf[i], 0) << i;
	for (size_t i = kRecordHeaderSize + 3; i < kRecordHeaderSize + 8; i++)
		EXPECT_EQ(buf[i], 0) << i;
}

TEST(RowCodec, FitsBoundary)
{
	alignas(8) char buf[64];
	/* Exactly one record of a 9..16 byte value: 16 + 16 = 32 bytes. */
	RecordWriter w(buf, 32);
	EXPECT_TRUE(w.Fits(16));
	EXPECT_TRUE(w.Fits(9));
	EXPECT_FALSE(w.Fits(17));
	ASSERT_NE(w.Append(1, 16), nullptr);
	EXPECT_EQ(w.used(), 32u);
	EXPECT_FALSE(w.Fits(0));
	EXPECT_EQ(w.Append(2, 0), nullptr);
	EXPECT_EQ(w.count(), 1u);

	RecordWriter empty(buf, 0);
	EXPECT_FALSE(empty.Fits(0));
	RecordWriter header_only(buf, kRecordHeaderSize);
	EXPECT_TRUE(header_only.Fits(0));
	EXPECT_FALSE(header_only.Fits(1));
}

TEST(RowCodec, MalformedRecordDetected)
{
	alignas(8) char buf[64];
	RecordWriter w(buf, sizeof(buf));
	ASSERT_NE(w.Append(5, 8), nullptr);
	/* Claim a value longer than the buffer holds. */
	uint32_t bogus = 1000;
	std::memcpy(buf + 8, &bogus, 4);
	RecordReader r(buf, w.used());
	uint64_t id;
	const char *value;
	uint32_t len;
	EXPECT_FALSE(r.Next(&id, &value, &len));
	EXPECT_FALSE(r.ok());

	/* A truncated buffer (record cut after its header) is malformed too. */
	RecordWriter w2(buf, sizeof(buf));
	ASSERT_NE(w2.Append(6, 8), nullptr);
	RecordReader r2(buf, kRecordHeaderSize + 4);
	EXPECT_FALSE(r2.Next(&id, &value, &len));
	EXPECT_FALSE(r2.ok());

	/* A clean end (fewer bytes than a header left) is not malformed. */
	RecordReader r3(buf, 0);
	EXPECT_FALSE(r3.Next(&id, &value, &len));
	EXPECT_TRUE(r3.ok());
}
