/*
 * rows_wal.h: the storage worker's rows in Postgres' WAL.
 *
 * When the server keeps WAL for replication slots (wal_level replica or
 * logical, max_replication_slots > 0), every batch of rows the worker takes
 * from the append rings is logged in Postgres' WAL (a non-transactional
 * logical message, prefix "ledger_am.rows", holding RocksDB's serialized
 * WriteBatch) before RocksDB writes it, and the batch carries the record's
 * end LSN as the instance's log mark. A commit then needs no RocksDB WAL
 * sync: its commit record, flushed by Postgres, comes after the records of
 * all its rows. RocksDB's WAL is synced lazily (sync_thread.h); after a
 * crash that lost part of it (an OS crash), the worker replays the logged
 * batches after the recovered log mark before it serves anything. A
 * physical replication slot named "ledger_am" keeps that WAL: the worker
 * holds it and moves it to the log mark of each completed RocksDB sync.
 * docs/architecture.md, "One log for commits".
 *
 * Main thread of the storage worker only (these call Postgres).
 */
#ifndef LEDGER_AM_WORKER_ROWS_WAL_H
#define LEDGER_AM_WORKER_ROWS_WAL_H

#include "worker/engine.h"

namespace ledger_am {

/*
 * RowsWalStart runs once the engine is open and before anything is served:
 * replays the batches logged after the log mark (FATAL if that WAL is gone),
 * then, if the server can keep a slot, acquires (creating it if needed) the
 * "ledger_am" slot and returns true: rows go to Postgres' WAL from now on.
 * Otherwise it removes the log mark and returns false: commits sync
 * RocksDB's WAL as before.
 */
bool		RowsWalStart();

/* RowsWalLogger is the BatchLog for EngineWriteReserved while rows go to
 * Postgres' WAL, else nullptr. */
const BatchLog *RowsWalLogger();

/* RowsWalAdvance moves the slot to the last durable log mark, or on past
 * other WAL when every logged batch is durable (cheap; call it now and then
 * from the loop). True when a lazy RocksDB sync would let it move: logged
 * batches no commit will sync (an aborted or still running transaction's). */
bool		RowsWalAdvance();

/* RowsWalStop, at a clean shutdown after the engine's last write and sync:
 * nothing logged needs replaying any more, so the log mark goes. */
void		RowsWalStop();

} // namespace ledger_am

#endif
