/*
 * read_pool.h: reads served by more than one thread of the storage worker.
 *
 * Reads (kOpGet, kOpScan, kOpRangeScan) need no engine state but the RocksDB
 * instance, and at scale they are the worker's most expensive requests: a
 * scan chunk decompresses ~350 rows (about a millisecond), a range scan
 * merges its key runs and fetches every row it names. On the main loop alone
 * they queued behind each other on one vCPU: count(*) over 10M rows, a
 * parallel seq scan, kept the worker's main thread at 93% CPU while the three
 * scanning processes used 5% each.
 *
 * The main loop queues every read here (after applying the rings and reading
 * the table's frozen watermark, which only it may do) and serves one queued
 * read itself per pass. Helper threads are woken only for the reads beyond
 * that one, so a lone client never pays a hand-over to a sleeping thread (on
 * 2 vCPUs a wake-up costs 0.1-0.3 ms, which made the reader-thread pool built
 * earlier slower for single clients; see docs/architecture.md).
 *
 * Helpers run only the serve function given to ReadPoolStart on the slots
 * they take, which must touch nothing but the engine's read entry points,
 * that slot, atomics and latches: no Postgres function that can fail, no
 * ereport, no palloc.
 */
#ifndef LEDGER_AM_WORKER_READ_POOL_H
#define LEDGER_AM_WORKER_READ_POOL_H

#include "channel/channel.h"

namespace ledger_am {

/* Serves one read request: fills the slot's answer, does not complete it. */
typedef void (*ReadServeFn) (ChannelSlot *slot);

/* ReadPoolStart starts `helpers` threads with every signal blocked; returns
 * how many it started (0: every read is served by the main loop). */
int			ReadPoolStart(int helpers, ReadServeFn serve) noexcept;

/* ReadPoolStop joins the helpers, then serves what is still queued. */
void		ReadPoolStop() noexcept;

/* ReadPoolEnqueue queues a read (the caller marked the slot taken). */
void		ReadPoolEnqueue(ChannelSlot *slot) noexcept;

/* ReadPoolServeOne wakes helpers for all queued reads but one, then serves
 * the oldest queued read on the calling thread. False if none was queued. */
bool		ReadPoolServeOne() noexcept;

/*
 * A piece of one read lent to an idle helper: while a lone client's range
 * scan keeps the thread serving it busy, the other vCPU would idle. The
 * reader lends half of its row fetches (ReadPoolLend), does the other half,
 * then waits for the lent half (ReadPoolWaitLent). Lending never queues:
 * with no helper idle it fails at once and the reader does all the work, so
 * concurrent clients, who keep every helper busy, never wait for one.
 */
struct ReadPoolLoan
{
	void		(*work) (void *arg);	/* must not throw; same rules as a serve function */
	void	   *arg;
	bool		done;			/* set once, atomically, under the pool's mutex */
};

/* ReadPoolLend starts loan->work(loan->arg) on an idle helper and returns
 * true, or returns false (running nothing) when no helper is idle. */
bool		ReadPoolLend(ReadPoolLoan *loan) noexcept;

/* ReadPoolWaitLent returns once a lent loan's work has returned. */
void		ReadPoolWaitLent(ReadPoolLoan *loan) noexcept;

} // namespace ledger_am

#endif
