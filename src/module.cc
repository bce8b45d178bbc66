/*
 * module.cc: module initialisation. _PG_init defines the GUCs, requests the
 * channel's shared memory, registers the storage worker and installs the
 * backend hooks. It runs in the postmaster (shared_preload_libraries) and is
 * inherited by every forked process.
 */
#include "module.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
}

#include "channel/channel.h"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

int			ledger_compression = LEDGER_COMPRESSION_LZ4;
int			ledger_row_compression = LEDGER_COMPRESSION_ZSTD;
int			ledger_channel_buffer_kb = 256;
int			ledger_append_ring_kb = 256;
int			ledger_block_cache_mb = -1;
int			ledger_read_threads = -1;
int			ledger_lend_min_us = 300;
int			ledger_block_cache_policy = LEDGER_CACHE_CLOCK;
int			ledger_write_buffer_mb = 64;
bool		ledger_debug_crash_before_commit_record = false;
bool		ledger_debug_logged_rows_skip_wal = false;
bool		ledger_log_rows_in_wal = true;
bool		ledger_storage_from_backup = false;

ledger_am::ChannelControl *ledger_channel = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static const struct config_enum_entry compression_options[] = {
	{"lz4", LEDGER_COMPRESSION_LZ4, false},
	{"zstd", LEDGER_COMPRESSION_ZSTD, false},
	{"none", LEDGER_COMPRESSION_NONE, false},
	{NULL, 0, false},
};

/* Rows may also take lz4hc (LZ4's high-compression encoder) and zstd_row
 * (each row alone, with a dictionary trained per table). */
static const struct config_enum_entry row_compression_options[] = {
	{"lz4", LEDGER_COMPRESSION_LZ4, false},
	{"lz4hc", LEDGER_COMPRESSION_LZ4HC, false},
	{"zstd", LEDGER_COMPRESSION_ZSTD, false},
	{"zstd_row", LEDGER_COMPRESSION_ZSTD_ROW, false},
	{"none", LEDGER_COMPRESSION_NONE, false},
	{NULL, 0, false},
};

static const struct config_enum_entry cache_policy_options[] = {
	{"clock", LEDGER_CACHE_CLOCK, false},
	{"lru", LEDGER_CACHE_LRU, false},
	{NULL, 0, false},
};

/* channel_slot_count is the number of channel slots: one per PGPROC that can run queries. */
static uint32
channel_slot_count(void)
{
	return (uint32) MaxBackends;
}

/* ledger_shmem_request asks for the channel's shared memory. */
static void
ledger_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(ledger_am::ChannelShmemSize(channel_slot_count(),
														ledger_channel_buffer_kb * 1024U,
														ledger_append_ring_kb * 1024U));
}

/* ledger_shmem_startup creates or attaches the channel. */
static void
ledger_shmem_startup(void)
{
	bool		found;
	uint32		nslots = channel_slot_count();
	uint32		bufsize = ledger_channel_buffer_kb * 1024U;
	uint32		ringsize = ledger_append_ring_kb * 1024U;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ledger_channel = (ledger_am::ChannelControl *)
		ShmemInitStruct("ledger_am channel", ledger_am::ChannelShmemSize(nslots, bufsize, ringsize),
						&found);
	if (!found)
	{
		pg_atomic_init_u32(&ledger_channel->worker_pid, 0);
		pg_atomic_init_u64(&ledger_channel->generation, 0);
		pg_atomic_init_u32(&ledger_channel->inflight, 0);
		pg_atomic_init_u32(&ledger_channel->recent_clients, 0);
		pg_atomic_init_u64(&ledger_channel->lent_batches, 0);
		pg_atomic_init_u64(&ledger_channel->block_cache_bytes, 0);
		pg_atomic_init_u64(&ledger_channel->block_cache_used, 0);
		pg_atomic_init_u64(&ledger_channel->bulk_chunks, 0);
		pg_atomic_init_u32(&ledger_channel->get_ns, 0);
		pg_atomic_init_u64(&ledger_channel->yielded_gets, 0);
		pg_atomic_init_u64(&ledger_channel->reservations, 0);
		pg_atomic_init_u64(&ledger_channel->wal_logged_rows, 0);
		pg_atomic_init_u64(&ledger_channel->wal_unlogged_rows, 0);
		pg_atomic_init_u64(&ledger_channel->append_seq, 0);
		ledger_channel->worker_latch = NULL;
		ledger_channel->restart_code = 0;
		ledger_channel->restart_message[0] = '\0';
		ledger_channel->start_code = 0;
		ledger_channel->start_message[0] = '\0';
		ledger_channel->nslots = nslots;
		ledger_channel->buffer_size = bufsize;
		ledger_channel->ring_size = ringsize;
		ledger_channel->slot_stride = ledger_am::ChannelSlotStride(bufsize, ringsize);
		for (uint32 i = 0; i < nslots; i++)
		{
			ledger_am::ChannelSlot *slot = ledger_am::ChannelGetSlot(ledger_channel, i);

			memset(slot, 0, sizeof(*slot));
			pg_atomic_init_u32(&slot->state, ledger_am::kSlotIdle);
			pg_atomic_init_u64(&slot->ring_head, 0);
			pg_atomic_init_u64(&slot->ring_tail, 0);
			pg_atomic_init_u32(&slot->ring_waiting, 0);
			pg_atomic_init_u32(&slot->client_sleeping, 0);
			pg_atomic_init_u32(&slot->lent, 0);
			pg_atomic_init_u32(&slot->carry, ledger_am::kCarryNone);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* define_gucs defines the ledger_am.* settings. */
static void
define_gucs(void)
{
	DefineCustomEnumVariable("ledger_am.compression",
							 "Compression of ledger_am's key files: range keys and reservations (lz4, zstd or none).",
							 "Rows follow ledger_am.row_compression.",
							 &ledger_compression, LEDGER_COMPRESSION_LZ4, compression_options,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("ledger_am.row_compression",
							 "Compression of ledger_am's stored rows (zstd, zstd_row, lz4hc, lz4 or none).",
							 "zstd stores rows smallest; lz4hc reads them faster (1.1-1.7x at 10M "
							 "events) for about 15% more bytes, lz4 as fast for about 30% more; "
							 "zstd_row compresses each row alone with a dictionary trained per table: "
							 "single-row reads of tables larger than the block cache 1.2-1.6x faster "
							 "for 1% more bytes, slower when the rows fit the cache. "
							 "Applies to files written from then on.",
							 &ledger_row_compression, LEDGER_COMPRESSION_ZSTD, row_compression_options,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ledger_am.channel_buffer_kb",
							"Size of each backend's channel buffer to the storage worker.",
							"Also bounds the size of one stored row.",
							&ledger_channel_buffer_kb, 256, 64, 65536,
							PGC_POSTMASTER, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("ledger_am.append_ring_kb",
							"Size of each backend's ring of rows on their way to the storage worker.",
							NULL, &ledger_append_ring_kb, 256, 64, 65536,
							PGC_POSTMASTER, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("ledger_am.block_cache_mb",
							"Size of the RocksDB block cache of the storage worker.",
							"-1 (the default) sizes it like shared_buffers, at least 256 MB; the smallest is 8 MB.",
							&ledger_block_cache_mb, -1, -1, 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomEnumVariable("ledger_am.block_cache_policy",
							 "Replacement policy of the storage worker's block cache (clock or lru).",
							 "clock (RocksDB's HyperClockCache) looks blocks up without locks; "
							 "lru is RocksDB's LRUCache.",
							 &ledger_block_cache_policy, LEDGER_CACHE_CLOCK, cache_policy_options,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ledger_am.read_threads",
							"Threads of the storage worker that serve reads besides its main loop.",
							"-1 means one fewer than the number of CPUs (at least 1); 0 serves "
							"every read on the main loop.",
							&ledger_read_threads, -1, -1, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ledger_am.lend_min_us",
							"Shortest expected time for which the storage worker splits "
							"a lone client's range scan batch over two threads.",
							"A batch is split when fetching its second half is expected to take at "
							"least this long (rows that need their block decompressed); "
							"0 splits whenever a read thread is idle, -1 never.",
							&ledger_lend_min_us, 300, -1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ledger_am.write_buffer_mb",
							"Size of a RocksDB memtable of the storage worker.",
							NULL, &ledger_write_buffer_mb, 64, 4, 4096,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomBoolVariable("ledger_am.debug_crash_before_commit_record",
							 "Fault injection for crash tests: PANIC after a committing "
							 "transaction's rows are durable, before its commit record.",
							 NULL, &ledger_debug_crash_before_commit_record, false,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomBoolVariable("ledger_am.log_rows_in_wal",
							 "Logs ledger_am rows in Postgres' WAL, so that a commit waits for one WAL flush.",
							 "Needs wal_level replica or logical and a free replication slot: the storage "
							 "worker keeps the WAL it may need after a crash with the slot \"ledger_am\". "
							 "Off (or without a slot), each commit also syncs RocksDB's WAL; turning it off "
							 "drops the slot.",
							 &ledger_log_rows_in_wal, true,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("ledger_am.debug_logged_rows_skip_wal",
							 "Crash tests only: row batches logged in Postgres' WAL bypass RocksDB's WAL.",
							 "A kill -9 then loses every row batch not yet flushed to a RocksDB file, "
							 "as an OS crash loses unsynced ones, and the storage worker must replay "
							 "them from Postgres' WAL. Every synced RocksDB write then flushes "
							 "the memtables first.",
							 &ledger_debug_logged_rows_skip_wal, false,
							 PGC_POSTMASTER, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomBoolVariable("ledger_am.enable_range_scan",
							 "Enables the planner's use of ledger_am account and time range scans.",
							 NULL, &ledger_enable_range_scan, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("ledger_am");
}

/* register_storage_worker registers the one storage worker. */
static void
register_storage_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	/* A connection to no database: visible in pg_stat_activity, and able to
	 * read pg_database for the start-up sweep of dropped databases. */
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ledger_am");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ledger_am_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ledger_am storage worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "ledger_am storage worker");
	RegisterBackgroundWorker(&worker);
}

/*
 * check_restored_from_backup decides, once per server start in the
 * postmaster, whether this data directory's ledger_am storage came from a
 * base backup (forked processes inherit the answer).
 *
 * RocksDB files live beside, not inside, the Postgres WAL: pg_basebackup (or
 * pg_backup_start/stop and a file copy) copies them while the storage worker
 * writes them, and WAL replay cannot bring them up to date. A server started
 * from such a copy -- a streaming standby after promotion, or a restored
 * backup -- would answer with rows silently missing. Postgres 15 has only
 * non-exclusive backups, so a backup_label file in the data directory at
 * postmaster start means exactly "this directory is a restored base backup"
 * (pg_rewind writes one too: its ledger_am data is just as unreliable). Its
 * startup process renames the label away, so the verdict is kept in
 * ledger_am/RESTORED_FROM_BACKUP, and every ledger_am access refuses while
 * that file exists (see ChannelBegin).
 */
static void
check_restored_from_backup(void)
{
	struct stat st;

	if (IsUnderPostmaster)
		return;
	if (stat("backup_label", &st) == 0)
	{
		static const char text[] =
			"This data directory was started from a base backup (backup_label was present).\n"
			"ledger_am rows are stored outside the Postgres WAL and were copied while they changed:\n"
			"rows may be missing, so ledger_am refuses to read or write them.\n"
			"Restore ledger_am tables from the primary with pg_dump/pg_restore instead.\n"
			"Deleting this file and restarting the server accepts the copied rows as they are.\n";
		int			fd;

		if (mkdir(LEDGER_STORAGE_DIR, 0700) != 0 && errno != EEXIST)
			ereport(FATAL,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s\": %m", LEDGER_STORAGE_DIR)));
		fd = open(LEDGER_FROM_BACKUP_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t) (sizeof(text) - 1) ||
			fsync(fd) != 0 || close(fd) != 0)
			ereport(FATAL,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", LEDGER_FROM_BACKUP_FILE)));
		ereport(LOG,
				(errmsg("ledger_am: this server was started from a base backup; "
						"ledger_am tables are refused until \"%s\" is removed",
						LEDGER_FROM_BACKUP_FILE)));
	}
	ledger_storage_from_backup = stat(LEDGER_FROM_BACKUP_FILE, &st) == 0;
}

/* _PG_init refuses to load outside shared_preload_libraries: the storage
 * worker and the channel only exist when loaded at server start. */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ledger_am must be loaded via shared_preload_libraries"),
				 errhint("Add 'ledger_am' to shared_preload_libraries in postgresql.conf "
						 "and restart the server.")));

	define_gucs();
	check_restored_from_backup();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ledger_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ledger_shmem_startup;

	register_storage_worker();
	ledger_install_xact_hooks();
	ledger_install_mutation_guard();
	ledger_install_range_scan();
}
