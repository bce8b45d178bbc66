/*
 * rocks_logger.h: RocksDB's info log, written with plain stdio.
 *
 * RocksDB's own file logger writes through a WritableFileWriter, and in
 * Debian's librocksdb 7.8 (built with assertions) the first log line after a
 * failed write to that file -- the disk is full -- aborts the process. The
 * storage worker must report a full disk, not crash, so the engine logs
 * through this logger instead: same file ($PGDATA/ledger_am/LOG, the
 * previous one kept as LOG.old), lines that cannot be written are dropped.
 */
#pragma once

#include <memory>
#include <string>

namespace rocksdb {
class Logger;
}

namespace ledger_am {

/* NewStdioLogger opens dir/LOG (moving an existing one to LOG.old); returns
 * nullptr if the file cannot be opened, and the engine then logs nothing. */
std::shared_ptr<rocksdb::Logger> NewStdioLogger(const std::string &dir) noexcept;

} // namespace ledger_am
