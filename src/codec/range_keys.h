/*
 * range_keys.h: account and time range keys, written beside each row so
 * account and time windows are read straight off RocksDB's sorted keys.
 *
 * Pure C++ (no PostgreSQL header). Key layouts (all memcomparable):
 *   0x02 <table> <declaration> <account> <time> <row id>   one per account a row touches
 *   0x03 <table> <declaration> <time> <row id>             one per row
 * <declaration> is the u32 big-endian relfilenode of the table's ledger_range
 * index: each declaration (and each REINDEX) writes its own key space, so
 * building one is transactional (see backend/range_index.cc).
 * <account> is the declared account type's encoding (all accounts of a table
 * share one type): integers as 8 sign-flipped big-endian bytes, UUIDs as
 * their 16 bytes, text escaped (0x00 -> 0x00 0xFF) and terminated by
 * 0x00 0x01 so no encoding is a prefix of another. <time> is a flag byte
 * (0x01 a value, 0x02 NULL: NULLs sort last ascending, first descending, as
 * in Postgres) and, for values, the int64 microseconds sign-flipped.
 *
 * Between a backend and the worker a row's range keys travel as a "key
 * blob": a sequence of [u8 space][u16 length, little-endian][body], where
 * body is everything between <table> and <row id>.
 */
#ifndef LEDGER_AM_CODEC_RANGE_KEYS_H
#define LEDGER_AM_CODEC_RANGE_KEYS_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "codec/keys.h"

namespace ledger_am {

constexpr uint8_t kAccountSpace = 0x02;
constexpr uint8_t kTimeSpace = 0x03;
constexpr uint8_t kTimeValue = 0x01;
constexpr uint8_t kTimeNull = 0x02;
constexpr size_t kTimeLen = 9;

constexpr size_t kAccountIntLen = 8;
constexpr size_t kAccountUuidLen = 16;
constexpr size_t kBlobKeyHeaderLen = 3;

/* EncodeAccountInt writes an integer account (kAccountIntLen bytes). */
inline size_t
EncodeAccountInt(char *dst, int64_t v)
{
	PutI64Ordered(dst, v);
	return kAccountIntLen;
}

/* AccountTextLen is the encoded length of a text account of n bytes. */
inline size_t
AccountTextLen(const char *p, size_t n)
{
	size_t len = n + 2;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\0')
			len++;
	return len;
}

/* EncodeAccountText writes an escaped, terminated text account
 * (AccountTextLen bytes). */
inline size_t
EncodeAccountText(char *dst, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
	{
		dst[o++] = p[i];
		if (p[i] == '\0')
			dst[o++] = static_cast<char>(0xFF);
	}
	dst[o++] = '\0';
	dst[o++] = static_cast<char>(0x01);
	return o;
}

/* EncodeTime writes a time value in microseconds, or NULL (kTimeLen bytes). */
inline size_t
EncodeTime(char *dst, bool isnull, int64_t micros)
{
	if (isnull)
	{
		dst[0] = static_cast<char>(kTimeNull);
		std::memset(dst + 1, 0, 8);
		return kTimeLen;
	}
	dst[0] = static_cast<char>(kTimeValue);
	PutI64Ordered(dst + 1, micros);
	return kTimeLen;
}

/* EncodeBlobKeyHeader writes the [space][u16 length] header of a blob entry. */
inline size_t
EncodeBlobKeyHeader(char *dst, uint8_t space, uint16_t body_len)
{
	dst[0] = static_cast<char>(space);
	std::memcpy(dst + 1, &body_len, 2);
	return kBlobKeyHeaderLen;
}

/* AppendAccountInt appends an integer account. */
inline void
AppendAccountInt(std::string *out, int64_t v)
{
	char b[kAccountIntLen];
	out->append(b, EncodeAccountInt(b, v));
}

/* AppendAccountBytes appends a fixed-width account (e.g. a UUID). */
inline void
AppendAccountBytes(std::string *out, const char *p, size_t n)
{
	out->append(p, n);
}

/* AppendAccountText appends an escaped, terminated text account. */
inline void
AppendAccountText(std::string *out, const char *p, size_t n)
{
	size_t at = out->size();
	out->resize(at + AccountTextLen(p, n));
	EncodeAccountText(&(*out)[at], p, n);
}

/* AppendTime appends a time value (microseconds) or NULL. */
inline void
AppendTime(std::string *out, bool isnull, int64_t micros)
{
	char b[kTimeLen];
	out->append(b, EncodeTime(b, isnull, micros));
}

/* AppendBlobKey appends one key (space + body) to a key blob. */
inline void
AppendBlobKey(std::string *blob, uint8_t space, const std::string &body)
{
	char h[kBlobKeyHeaderLen];
	blob->append(h, EncodeBlobKeyHeader(h, space, static_cast<uint16_t>(body.size())));
	blob->append(body);
}

/* BlobReader walks the keys of a key blob. */
class BlobReader
{
public:
	BlobReader(const char *p, size_t n) : p_(p), n_(n), pos_(0) {}

	/* Next returns false at the end or on a truncated blob (see ok()). */
	bool Next(uint8_t *space, const char **body, uint16_t *len)
	{
		if (pos_ == n_)
			return false;
		if (pos_ + 3 > n_)
		{
			bad_ = true;
			return false;
		}
		*space = static_cast<uint8_t>(p_[pos_]);
		std::memcpy(len, p_ + pos_ + 1, 2);
		if (pos_ + 3 + *len > n_)
		{
			bad_ = true;
			return false;
		}
		*body = p_ + pos_ + 3;
		pos_ += 3 + *len;
		return true;
	}

	bool ok() const { return !bad_; }

private:
	const char *p_;
	size_t n_;
	size_t pos_;
	bool bad_ = false;
};

/* SpacePrefix returns <space><table>: the prefix of a table's range keys. */
inline std::string
SpacePrefix(uint8_t space, const TableId &t)
{
	std::string k = TablePrefix(t);
	k[0] = static_cast<char>(space);
	return k;
}

/* RangeKey returns the full key for a blob entry of row `row_id`. */
inline std::string
RangeKey(uint8_t space, const TableId &t, const char *body, size_t len, uint64_t row_id)
{
	std::string k = SpacePrefix(space, t);
	k.append(body, len);
	char b[8];
	PutU64BE(b, row_id);
	k.append(b, 8);
	return k;
}

/* RangeKeyRowId reads the row id at the end of a range key. */
inline uint64_t
RangeKeyRowId(const char *key, size_t len)
{
	return GetU64BE(key + len - 8);
}

/*
 * InsertRunPrefixLen returns the length of the prefix that groups `key` with
 * the keys inserted just before it in key order, or 0 if it has none. Rows of
 * a table arrive with ascending row ids (prefix <space><table>), time keys of
 * a declaration with ascending times (<space><table><declaration>), and each
 * account's keys with ascending times (everything but <time><row id>). The
 * engine gives this to RocksDB as the memtable insert hint: each such run
 * keeps its own skip-list position, so a batch that interleaves a row, its
 * two account keys and its time key does not search the skip list from the
 * top four times per row.
 */
inline size_t
InsertRunPrefixLen(const char *key, size_t len)
{
	constexpr size_t kSuffix = kTimeLen + 8;

	if (len == kRowKeyLen && static_cast<uint8_t>(key[0]) == kRowSpace)
		return kTablePrefixLen;
	if (len >= kTablePrefixLen + 4 + kSuffix &&
		(static_cast<uint8_t>(key[0]) == kAccountSpace || static_cast<uint8_t>(key[0]) == kTimeSpace))
		return len - kSuffix;
	return 0;
}

} // namespace ledger_am

#endif
