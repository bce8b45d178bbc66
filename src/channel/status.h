/*
 * status.h: result codes of storage operations, shared by the engine (which
 * produces them) and the backends (which turn them into SQLSTATEs in exactly
 * one place, channel_client.cc). Pure C++, no PostgreSQL header.
 */
#ifndef LEDGER_AM_CHANNEL_STATUS_H
#define LEDGER_AM_CHANNEL_STATUS_H

#include <cstdint>

namespace ledger_am {

enum class EngineCode : int32_t
{
	kOk = 0,
	kNotFound = 1,
	kKeyExists = 2,		 /* refused overwrite of an existing row key */
	kInvalid = 3,		 /* bad argument (e.g. row id out of range) */
	kIOError = 4,
	kNoSpace = 5,		 /* disk full */
	kCorruption = 6,
	kBufferTooSmall = 7, /* a single row does not fit the caller's buffer */
	kNotOpen = 8,
	kOther = 9,
	kWorkerRestarted = 10, /* set by the channel, never by the engine */
};

/* Which range keys EngineDropRangeKeys removes. Range key bodies start with
 * a u32 big-endian declaration number (the ledger_range index's
 * relfilenode), so each declaration has its own key space. */
enum class RangeDrop : int32_t
{
	kAll = 0,	 /* every declaration's keys */
	kOne = 1,	 /* the keys of `declaration` */
	kAllBut = 2, /* every declaration's keys but those of `declaration` */
};

} // namespace ledger_am

#endif
