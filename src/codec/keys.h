/*
 * keys.h: memcomparable RocksDB key encoding for ledger_am.
 *
 * Pure C++ (no PostgreSQL header): used by the storage worker's engine, the
 * backend-side code and the unit tests alike. RocksDB orders keys bytewise, so
 * every multi-byte integer is big-endian and signed integers have their sign
 * bit flipped; no custom comparator is ever needed (and none may call Postgres).
 *
 * Key spaces (first byte):
 *   0x00 'm' <table>          row id reservation (u64 BE)
 *   0x00 'f' <table>          frozen watermark (u64 BE row id)
 *   0x00 'w'                  end LSN of the last row batch logged in
 *                             Postgres' WAL and written here (u64 BE)
 *   0x01 <table> <row id>     a row
 * where <table> = tablespace oid, database oid, relfilenode (u32 BE each).
 * 0x02 and 0x03 are reserved for account and time range keys.
 */
#ifndef LEDGER_AM_CODEC_KEYS_H
#define LEDGER_AM_CODEC_KEYS_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace ledger_am {

/* TableId names one table's storage: keyed by relfilenode, not table OID,
 * because rewrites swap relfilenodes. */
struct TableId
{
	uint32_t spc;
	uint32_t db;
	uint32_t rel;

	bool operator==(const TableId &o) const { return spc == o.spc && db == o.db && rel == o.rel; }
};

/* TableIdHash hashes a TableId for per-table maps. */
struct TableIdHash
{
	size_t operator()(const TableId &t) const noexcept
	{
		/* splitmix64 finaliser over the packed ids: relfilenodes of one
		 * database differ in few low bits, so mix them well. */
		uint64_t x = (static_cast<uint64_t>(t.spc) << 32) ^ t.db;
		x ^= static_cast<uint64_t>(t.rel) * UINT64_C(0x9e3779b97f4a7c15);
		x ^= x >> 30;
		x *= UINT64_C(0xbf58476d1ce4e5b9);
		x ^= x >> 27;
		x *= UINT64_C(0x94d049bb133111eb);
		x ^= x >> 31;
		return static_cast<size_t>(x);
	}
};

constexpr uint8_t kMetaSpace = 0x00;
constexpr uint8_t kRowSpace = 0x01;
constexpr uint8_t kMetaReservation = 'm';
constexpr uint8_t kMetaFrozen = 'f';
/* A table's trained row dictionary (worker/row_dictionary.h). */
constexpr uint8_t kMetaDictionary = 'd';
constexpr uint8_t kMetaKinds[] = {kMetaDictionary, kMetaFrozen, kMetaReservation};
/* The instance-wide log mark (worker/rows_wal.h); not a per-table kind. */
constexpr uint8_t kMetaLogMark = 'w';
constexpr size_t kTablePrefixLen = 1 + 12;
constexpr size_t kRowKeyLen = kTablePrefixLen + 8;

/* PutU32BE writes v big-endian at p. */
inline void
PutU32BE(char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = static_cast<char>(v & 0xff);
}

/* PutU64BE writes v big-endian at p. */
inline void
PutU64BE(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = static_cast<char>(v & 0xff);
}

/* GetU32BE reads a big-endian u32 at p. */
inline uint32_t
GetU32BE(const char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = (v << 8) | static_cast<uint8_t>(p[i]);
	return v;
}

/* GetU64BE reads a big-endian u64 at p. */
inline uint64_t
GetU64BE(const char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | static_cast<uint8_t>(p[i]);
	return v;
}

/* PutI64Ordered writes a signed integer so that bytewise order equals numeric order. */
inline void
PutI64Ordered(char *p, int64_t v)
{
	PutU64BE(p, static_cast<uint64_t>(v) ^ (UINT64_C(1) << 63));
}

/* GetI64Ordered is the inverse of PutI64Ordered. */
inline int64_t
GetI64Ordered(const char *p)
{
	return static_cast<int64_t>(GetU64BE(p) ^ (UINT64_C(1) << 63));
}

/* TablePrefix returns the prefix shared by all row keys of a table. */
inline std::string
TablePrefix(const TableId &t)
{
	std::string k(kTablePrefixLen, '\0');
	k[0] = static_cast<char>(kRowSpace);
	PutU32BE(&k[1], t.spc);
	PutU32BE(&k[5], t.db);
	PutU32BE(&k[9], t.rel);
	return k;
}

/* RowKey returns the key of row `row_id` of table `t`. */
inline std::string
RowKey(const TableId &t, uint64_t row_id)
{
	std::string k = TablePrefix(t);
	k.resize(kRowKeyLen);
	PutU64BE(&k[kTablePrefixLen], row_id);
	return k;
}

/* DecodeRowKey splits a row key; returns false if `key` is not a row key. */
inline bool
DecodeRowKey(const char *key, size_t len, TableId *t, uint64_t *row_id)
{
	if (len != kRowKeyLen || static_cast<uint8_t>(key[0]) != kRowSpace)
		return false;
	t->spc = GetU32BE(key + 1);
	t->db = GetU32BE(key + 5);
	t->rel = GetU32BE(key + 9);
	*row_id = GetU64BE(key + kTablePrefixLen);
	return true;
}

/* DatabasePrefix returns the prefix of all row keys of one database: keys are
 * ordered by tablespace first, so a database spans one range per tablespace;
 * callers iterate tablespaces (see engine). This returns <space><spc><db>. */
inline std::string
DatabasePrefix(uint32_t spc, uint32_t db)
{
	std::string k(9, '\0');
	k[0] = static_cast<char>(kRowSpace);
	PutU32BE(&k[1], spc);
	PutU32BE(&k[5], db);
	return k;
}

/* PrefixSuccessor returns the smallest key greater than every key starting
 * with `prefix` (empty if there is none, i.e. the prefix is all 0xff). */
inline std::string
PrefixSuccessor(std::string prefix)
{
	while (!prefix.empty())
	{
		uint8_t last = static_cast<uint8_t>(prefix.back());
		if (last != 0xff)
		{
			prefix.back() = static_cast<char>(last + 1);
			return prefix;
		}
		prefix.pop_back();
	}
	return prefix;
}

/* MetaKey returns the key of one kind of per-table metadata. */
inline std::string
MetaKey(uint8_t kind, const TableId &t)
{
	std::string k(2 + 12, '\0');
	k[0] = static_cast<char>(kMetaSpace);
	k[1] = static_cast<char>(kind);
	PutU32BE(&k[2], t.spc);
	PutU32BE(&k[6], t.db);
	PutU32BE(&k[10], t.rel);
	return k;
}

/* DecodeMetaKey reads the table of a metadata key of `kind`; false if `key`
 * is not one. */
inline bool
DecodeMetaKey(const char *key, size_t len, uint8_t kind, TableId *t)
{
	if (len != 2 + 12 || static_cast<uint8_t>(key[0]) != kMetaSpace ||
		static_cast<uint8_t>(key[1]) != kind)
		return false;
	t->spc = GetU32BE(key + 2);
	t->db = GetU32BE(key + 6);
	t->rel = GetU32BE(key + 10);
	return true;
}

/* ReservationKey returns the metadata key holding a table's row id reservation. */
inline std::string
ReservationKey(const TableId &t)
{
	return MetaKey(kMetaReservation, t);
}

/* FrozenKey returns the metadata key holding a table's frozen watermark:
 * every stored row with a lower id is committed and visible to everyone. */
inline std::string
FrozenKey(const TableId &t)
{
	return MetaKey(kMetaFrozen, t);
}

/* LogMarkKey returns the key of the instance's log mark. */
inline std::string
LogMarkKey()
{
	return std::string{static_cast<char>(kMetaSpace), static_cast<char>(kMetaLogMark)};
}

/* DictionaryKey returns the metadata key holding a table's row dictionary. */
inline std::string
DictionaryKey(const TableId &t)
{
	return MetaKey(kMetaDictionary, t);
}

} // namespace ledger_am

#endif
