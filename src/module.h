/*
 * module.h: settings and entry points shared by every process that loads
 * ledger_am (postmaster, client backends, the storage worker).
 */
#ifndef LEDGER_AM_MODULE_H
#define LEDGER_AM_MODULE_H

extern "C" {
#include "postgres.h"
}

/* GUCs (module.cc). */
extern int	ledger_compression;		/* LedgerCompression */
extern int	ledger_channel_buffer_kb;
extern int	ledger_append_ring_kb;
extern int	ledger_block_cache_mb;
extern int	ledger_row_compression;
extern int	ledger_read_threads;
extern int	ledger_write_buffer_mb;
extern int	ledger_lend_min_us;
extern int	ledger_block_cache_policy;	/* LedgerCachePolicy */
extern bool ledger_debug_crash_before_commit_record;
extern bool ledger_debug_logged_rows_skip_wal;
extern bool ledger_log_rows_in_wal;
/* True when this data directory's ledger_am storage came from a base backup
 * (see check_restored_from_backup in module.cc): every access is refused. */
extern bool ledger_storage_from_backup;
extern bool ledger_enable_range_scan;

enum LedgerCompression
{
	LEDGER_COMPRESSION_NONE = 0,
	LEDGER_COMPRESSION_LZ4 = 1,
	LEDGER_COMPRESSION_ZSTD = 2,
	LEDGER_COMPRESSION_LZ4HC = 3,
	LEDGER_COMPRESSION_ZSTD_ROW = 4,
};

/* Values of ledger_am.block_cache_policy (engine.h CachePolicy). */
typedef enum LedgerCachePolicy
{
	LEDGER_CACHE_CLOCK = 0,
	LEDGER_CACHE_LRU = 1,
} LedgerCachePolicy;

/* SQLSTATE used for every refused mutation of a ledger_am table. */
/* The RocksDB instance, relative to the data directory, and the marker of a
 * data directory restored from a base backup. */
#define LEDGER_STORAGE_DIR "ledger_am"
#define LEDGER_FROM_BACKUP_FILE LEDGER_STORAGE_DIR "/RESTORED_FROM_BACKUP"

#define LEDGER_ERRCODE_APPEND_ONLY ERRCODE_FEATURE_NOT_SUPPORTED
#define LEDGER_APPEND_ONLY_HINT \
	"ledger_am tables are append-only; record a compensating event instead."

/* Backend-side installers (src/backend/). */
extern void ledger_install_xact_hooks(void);
extern void ledger_install_mutation_guard(void);
extern void ledger_install_range_scan(void);

/* Storage worker entry point (src/worker/storage_worker.cc). */
extern "C" PGDLLEXPORT void ledger_am_worker_main(Datum arg);

#endif
