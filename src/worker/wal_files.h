/*
 * wal_files.h: the file system RocksDB writes through, so that a WAL sync
 * costs what a Postgres WAL sync costs.
 *
 * RocksDB preallocates each WAL file ahead of its writes (fallocate, in
 * blocks of 1.1 x the write buffer) but keeps the file's size at what it
 * wrote (FALLOC_FL_KEEP_SIZE). Every append then grows the file, and every
 * fdatasync() after one must also commit the new size to the file system's
 * journal. Postgres writes its WAL into segments that already have their
 * full size, and its fdatasync() only flushes data. WalPreallocatingEnv is
 * the default environment with one change: WAL files are preallocated with
 * their size (fallocate mode 0). Writes into that space change no size;
 * ext4 journals only the first write into each block (the extent goes from
 * unwritten to written). Measured with bench/fsync_probe.py on this VM:
 * 128-134 us per 300-byte write + fdatasync, against 177-220 us with the
 * size kept, and 133-145 us overwriting zeros as Postgres does.
 *
 * RocksDB reads such a file as it was always meant to read one (its log
 * format reserves record type 0 for preallocated space): the zeros after
 * the last record end the log, with no corruption reported. A clean close
 * trims the file to its data; after a crash the zeros stay until the file
 * is deleted. Only WAL files change: SST and MANIFEST files keep RocksDB's
 * default.
 */
#ifndef LEDGER_AM_WORKER_WAL_FILES_H
#define LEDGER_AM_WORKER_WAL_FILES_H

#include <rocksdb/env.h>

namespace ledger_am {

/* WalPreallocatingEnv returns the process's environment (never freed: the
 * DB may use it until the process exits). */
rocksdb::Env *WalPreallocatingEnv();

}							/* namespace ledger_am */

#endif							/* LEDGER_AM_WORKER_WAL_FILES_H */
