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

} // namespace ledger_am

#endif
