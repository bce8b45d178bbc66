/*
 * sync_thread.h: the storage worker's group-commit thread.
 *
 * COMMITs ask the worker to make their rows durable. The worker's main loop
 * queues those requests here and goes on serving others; this thread runs
 * one WAL sync for everything queued while the previous sync ran, then
 * answers all of them. It touches only the engine's sync, the queued slots'
 * fields, atomics and latches: no Postgres function that can fail, no
 * ereport, no palloc (see DESIGN.md section 2).
 */
#ifndef LEDGER_AM_WORKER_SYNC_THREAD_H
#define LEDGER_AM_WORKER_SYNC_THREAD_H

#include "channel/channel.h"

namespace ledger_am {

/* SyncThreadStart starts the thread with every signal blocked; false if it
 * could not be started (the caller then syncs inline). */
bool		SyncThreadStart() noexcept;

/* SyncThreadStop answers what is queued and joins the thread. */
void		SyncThreadStop() noexcept;

/* SyncThreadEnqueue queues a commit's sync request; the thread completes it. */
void		SyncThreadEnqueue(ChannelSlot *slot) noexcept;

/* SyncThreadNoteLazy tells the thread that a commit was answered before its
 * rows were synced (synchronous_commit = off): it syncs within
 * kLazySyncMs, like Postgres' WAL writer does for asynchronous commits. */
void		SyncThreadNoteLazy() noexcept;

constexpr int kLazySyncMs = 200;

} // namespace ledger_am

#endif
