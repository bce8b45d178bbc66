/*
 * tid_map.h: row id <-> TID (block, offset) mapping.
 *
 * Pure C++ (no PostgreSQL header). Citus columnar's scheme: at most 291
 * (MaxHeapTuplesPerPage for 8 kB pages) offsets per virtual block, so btree
 * and bitmap scans, which reject offsets above that, work unchanged.
 */
#ifndef LEDGER_AM_CODEC_TID_MAP_H
#define LEDGER_AM_CODEC_TID_MAP_H

#include <cstdint>

namespace ledger_am {

constexpr uint32_t kRowsPerBlock = 291;
/* Block numbers stop below InvalidBlockNumber (0xFFFFFFFF). */
constexpr uint64_t kMaxBlock = UINT64_C(0xFFFFFFFE);
constexpr uint64_t kMaxRowId = kMaxBlock * kRowsPerBlock + (kRowsPerBlock - 1);

struct VirtualTid
{
	uint32_t block;
	uint16_t offset; /* 1-based, like OffsetNumber */
};

/* RowIdIsMappable tells whether a row id has a TID. */
inline bool
RowIdIsMappable(uint64_t row_id)
{
	return row_id <= kMaxRowId;
}

/* RowIdToTid maps a row id (must be mappable) to its virtual TID. */
inline VirtualTid
RowIdToTid(uint64_t row_id)
{
	VirtualTid t;
	t.block = static_cast<uint32_t>(row_id / kRowsPerBlock);
	t.offset = static_cast<uint16_t>(row_id % kRowsPerBlock + 1);
	return t;
}

/* TidToRowId maps a TID back; returns false for offsets no row id produces. */
inline bool
TidToRowId(uint32_t block, uint16_t offset, uint64_t *row_id)
{
	if (offset < 1 || offset > kRowsPerBlock || block > kMaxBlock)
		return false;
	*row_id = static_cast<uint64_t>(block) * kRowsPerBlock + (offset - 1);
	return true;
}

/* FirstRowIdOfBlock returns the first row id of a virtual block. */
inline uint64_t
FirstRowIdOfBlock(uint32_t block)
{
	return static_cast<uint64_t>(block) * kRowsPerBlock;
}

/* BlocksForRowCount returns how many virtual blocks hold row ids [0, next_row_id). */
inline uint64_t
BlocksForRowCount(uint64_t next_row_id)
{
	return (next_row_id + kRowsPerBlock - 1) / kRowsPerBlock;
}

} // namespace ledger_am

#endif
