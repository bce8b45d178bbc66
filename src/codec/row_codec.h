/*
 * row_codec.h: the stored row value and the record framing used on the channel.
 *
 * Pure C++ (no PostgreSQL header). A stored value is a 16-byte header followed
 * by the row payload (a PostgreSQL MinimalTuple, opaque here):
 *
 *   u8 version | u8 flags | u16 reserved | u32 cmin | u64 xmin (FullTransactionId)
 *
 * Integers in the header are little-endian host order: values are never
 * compared by RocksDB, and this machine format is what backends read in place.
 *
 * With kRowFlagZstdDict in flags, the stored payload is instead the row's
 * MinimalTuple compressed alone (a ZSTD frame without its 4-byte magic number)
 * with the table's trained dictionary number `reserved`
 * (worker/row_dictionary.h). Only files hold such values; the storage worker
 * decompresses them before any reader sees them, so backends and the channel
 * only ever see flags == 0.
 *
 * Records (a run of rows in one channel message) are framed as
 *   u64 row id | u32 value length | u32 reserved | value | zero pad to 8 bytes
 * so every value, and the MinimalTuple inside it, starts 8-byte aligned when the
 * message buffer itself is aligned: backends point tuple slots straight at it.
 */
#ifndef LEDGER_AM_CODEC_ROW_CODEC_H
#define LEDGER_AM_CODEC_ROW_CODEC_H

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ledger_am {

constexpr uint8_t kRowFormatVersion = 1;
constexpr size_t kRowHeaderSize = 16;
constexpr size_t kRecordHeaderSize = 16;

/* flags: the payload is compressed with the table's dictionary `reserved`. */
constexpr uint8_t kRowFlagZstdDict = 0x01;

/* In an append request, a record with this row id carries the range key
 * blob (codec/range_keys.h) of the row record before it. */
constexpr uint64_t kKeyBlobRecord = UINT64_MAX;

struct RowHeader
{
	uint8_t version;
	uint8_t flags;
	uint16_t reserved;
	uint32_t cmin;
	uint64_t xmin; /* FullTransactionId value of the inserting (sub)transaction */
};
static_assert(sizeof(RowHeader) == kRowHeaderSize, "RowHeader must be 16 bytes");

/* Align8 rounds n up to a multiple of 8. */
constexpr size_t
Align8(size_t n)
{
	return (n + 7) & ~static_cast<size_t>(7);
}

/* EncodeRowHeader writes a row header at dst (kRowHeaderSize bytes). */
inline void
EncodeRowHeader(char *dst, uint64_t xmin, uint32_t cmin, uint8_t flags = 0)
{
	RowHeader h{kRowFormatVersion, flags, 0, cmin, xmin};
	std::memcpy(dst, &h, sizeof(h));
}

/* DecodeRowHeader reads a row header; returns false on a short or unknown value. */
inline bool
DecodeRowHeader(const char *value, size_t len, RowHeader *out)
{
	if (len < kRowHeaderSize)
		return false;
	std::memcpy(out, value, sizeof(*out));
	return out->version == kRowFormatVersion;
}

/* RecordSize is the framed size of a record carrying a value of value_len bytes. */
constexpr size_t
RecordSize(size_t value_len)
{
	return kRecordHeaderSize + Align8(value_len);
}

/* RecordWriter appends framed records to a caller-owned buffer. */
class RecordWriter
{
public:
	RecordWriter(char *buf, size_t cap) : buf_(buf), cap_(cap), used_(0), count_(0) {}

	/* Fits tells whether a value of value_len bytes still fits. */
	bool Fits(size_t value_len) const { return used_ + RecordSize(value_len) <= cap_; }

	/* Append frames one record; returns a pointer to where the value goes, or
	 * nullptr if it does not fit. The caller copies value_len bytes there. */
	char *Append(uint64_t row_id, uint32_t value_len)
	{
		if (!Fits(value_len))
			return nullptr;
		char *p = buf_ + used_;
		std::memcpy(p, &row_id, 8);
		std::memcpy(p + 8, &value_len, 4);
		std::memset(p + 12, 0, 4);
		size_t padded = Align8(value_len);
		if (padded > value_len)
			std::memset(p + kRecordHeaderSize + value_len, 0, padded - value_len);
		used_ += RecordSize(value_len);
		count_++;
		return p + kRecordHeaderSize;
	}

	size_t used() const { return used_; }
	uint32_t count() const { return count_; }

private:
	char *buf_;
	size_t cap_;
	size_t used_;
	uint32_t count_;
};

/* RecordReader walks framed records in a buffer. */
class RecordReader
{
public:
	RecordReader(const char *buf, size_t len) : buf_(buf), len_(len), pos_(0) {}

	/* Next returns false at the end or on a malformed record (see ok()). */
	bool Next(uint64_t *row_id, const char **value, uint32_t *value_len)
	{
		if (pos_ + kRecordHeaderSize > len_)
			return false;
		const char *p = buf_ + pos_;
		uint32_t vl;
		std::memcpy(row_id, p, 8);
		std::memcpy(&vl, p + 8, 4);
		if (pos_ + RecordSize(vl) > len_)
		{
			malformed_ = true;
			return false;
		}
		*value = p + kRecordHeaderSize;
		*value_len = vl;
		pos_ += RecordSize(vl);
		return true;
	}

	bool ok() const { return !malformed_; }

private:
	const char *buf_;
	size_t len_;
	size_t pos_;
	bool malformed_ = false;
};

} // namespace ledger_am

#endif
