/*
 * backend.h: what the client-backend side of ledger_am shares between its
 * files. Everything declared here runs inside a Postgres backend (or a
 * parallel/autovacuum worker) and may ereport; nothing here throws.
 */
#ifndef LEDGER_AM_BACKEND_BACKEND_H
#define LEDGER_AM_BACKEND_BACKEND_H

#include "module.h"

extern "C" {
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
}

#include "channel/channel.h"
#include "channel/status.h"
#include "codec/row_codec.h"

/* ---- channel_client.cc: requests to the storage worker ---- */

/* ChannelBegin returns this backend's slot, ready to be filled (waits for a
 * request this backend abandoned earlier); errors if no worker runs. */
extern ledger_am::ChannelSlot *ChannelBegin(void);

/* ChannelCall posts the filled slot and waits for the answer, honouring
 * query cancel; a failed status becomes an ereport (kNotFound is returned,
 * never reported). The caller reads the response, then calls ChannelEnd. */
extern ledger_am::EngineCode ChannelCall(ledger_am::ChannelSlot *slot, uint32 op,
											   const char *context);

/* ChannelEnd releases the slot after the response has been read. */
extern void ChannelEnd(ledger_am::ChannelSlot *slot);

/* ChannelScanRequest begins a kOpScan request for table's rows [from, to),
 * in id order or reversed; bulk: without filling the block cache (a seq
 * scan of a table larger than it). Seq scans, index fetches and time-window
 * sweeps post it. */
extern ledger_am::ChannelSlot *ChannelScanRequest(const ledger_am::TableId &table, uint64 from,
												  uint64 to, bool backward, bool bulk);

/* ChannelTakeScanAnswer copies a kOpScan answer out of its slot: the framed
 * rows into dest (len bytes), where the range resumes, whether it is
 * exhausted and the table's frozen watermark. It cannot fail, so read-ahead
 * absorb callbacks use it too. */
extern void ChannelTakeScanAnswer(ledger_am::ChannelSlot *slot, char *dest, Size *len,
								  uint64 *resume, bool *done, uint64 *frozen_below);

/* ChannelOweRelease makes the next request first release the slot's
 * reservations (an abort-time release that could not get through). */
extern void ChannelOweRelease(void);
/* ChannelCallNoError is for commit/abort callbacks, where an ERROR would
 * become a PANIC: never ereports; waits at most timeout_ms. */
extern bool ChannelCallNoError(uint32 op, const ledger_am::TableId *table, uint64 arg1,
							   uint64 arg2, int timeout_ms);

/* Asynchronous requests: at most one in flight per backend. */
typedef void (*ChannelAbsorbFn) (void *arg, ledger_am::ChannelSlot *slot);

/* ChannelPostAsync posts a filled slot without waiting; absorb(arg, slot)
 * receives the response when someone awaits it (the owner, or the next
 * ChannelBegin of this backend). */
extern void ChannelPostAsync(ledger_am::ChannelSlot *slot, uint32 op, ChannelAbsorbFn absorb,
							 void *arg);
extern void ChannelAwaitAsync(void);
/* ChannelAwaitAsyncOf awaits the request in flight if arg posted it (its
 * answer absorbed); nothing otherwise: none is in flight, another owner's
 * is, or a rolled-back (sub)transaction dropped arg's. */
extern void ChannelAwaitAsyncOf(void *arg);

/* ChannelForgetAsync drops the in-flight request's owner (transaction or
 * subtransaction abort freed it); its response is ignored. */
extern void ChannelForgetAsync(void);

/* ChannelSimpleCall sends a request with no data and returns out1/out2. */
extern void ChannelSimpleCall(uint32 op, const ledger_am::TableId &table, uint64 arg1,
							  uint64 arg2, uint64 *out1, uint64 *out2, const char *context);

/* ChannelDataCall is ChannelSimpleCall with len bytes of request data (at
 * most the channel buffer). */
extern void ChannelDataCall(uint32 op, const ledger_am::TableId &table, uint64 arg1, uint64 arg2,
							const char *data, Size len, uint64 *out1, uint64 *out2,
							const char *context);

/* ChannelRingAppend queues one row (header built from xmin/cmin, the
 * MinimalTuple, its range key blob) at a reserved row id, unanswered. */
extern void ChannelRingAppend(const ledger_am::TableId &table, uint64 row_id, uint64 xmin,
							  uint32 cmin, MinimalTuple mtup, const char *keys, uint32 keys_len);

/* ChannelGeneration returns the current storage worker incarnation. */
extern uint64 ChannelGeneration(void);

/* ChannelClaimCarry claims the row id range of table the worker kept for
 * this backend at its last commit (ChannelSlot.carry); false if the worker
 * took it back (or kept none, or another table's). */
extern bool ChannelClaimCarry(const ledger_am::TableId &table);

/* ---- tableam.cc ---- */

/* LedgerTableId names the RocksDB storage of a relation's current relfilenode. */
extern ledger_am::TableId LedgerTableId(Relation rel);
extern ledger_am::TableId LedgerTableIdFromNode(const RelFileNode &node);

/* RelationIsLedger tells whether rel uses the ledger_am access method. */
extern bool RelationIsLedger(Relation rel);
extern bool RelidIsLedger(Oid relid);

/* LedgerOpenTable opens relid (AccessShareLock) after checking that it is a
 * ledger_am table and that the caller has `mode` on it (sql_functions.cc). */
extern Relation LedgerOpenTable(Oid relid, AclMode mode);

/* LedgerFrozenBelow returns the table's frozen watermark: every row below
 * it is final (committed long enough ago, or removed by VACUUM). */
extern uint64 LedgerFrozenBelow(Relation rel);

/* publication_guard.cc: after a utility statement ran, refuses publishing
 * ledger_am tables and warns when a publication covers one implicitly. */
extern void LedgerCheckPublications(Node *parsetree);

/* ---- visibility.cc ---- */

/* RowIsVisible decides the visibility of a stored row (xmin/cmin header)
 * under any snapshot kind Postgres hands a table AM. */
extern bool RowIsVisible(const ledger_am::RowHeader &hdr, Snapshot snapshot);

/* RowIsVisibleAt is RowIsVisible with the table's frozen watermark:
 * rows below it are visible to every snapshot without a pg_xact lookup. */
extern bool RowIsVisibleAt(uint64 row_id, uint64 frozen_below, const ledger_am::RowHeader &hdr,
						   Snapshot snapshot);

/* RowIsLiveForIndexBuild is the index build's view: committed or ours. */
extern bool RowIsLiveForIndexBuild(const ledger_am::RowHeader &hdr);

/* RowXminAborted tells whether the inserting transaction is known aborted. */
extern bool RowXminAborted(const ledger_am::RowHeader &hdr);

/* RowXid returns the 32-bit xid of a row's FullTransactionId xmin. */
extern TransactionId RowXid(const ledger_am::RowHeader &hdr);

/* ---- row_form.cc: slot <-> stored value ---- */

/* RowValueSize returns the stored size of the slot's row, building the
 * MinimalTuple (detoasted) into *mtup in CurrentMemoryContext. */
extern Size RowFormValue(Relation rel, TupleTableSlot *slot, MinimalTuple *mtup);

/* LedgerSlotOps is the slot type of ledger_am tables (minimal tuples whose
 * heap-tuple copies carry tid and table oid); LedgerStoreMinimalTuple stores
 * a MinimalTuple into a slot of any type (see row_form.cc). */
extern const TupleTableSlotOps *LedgerSlotOps(void);
extern void LedgerStoreMinimalTuple(MinimalTuple mtup, TupleTableSlot *slot, bool shouldFree);

/* RowStoreInSlot points slot at a stored value (no copy: the value must
 * stay valid while the slot holds it). */
extern void RowStoreInSlot(TupleTableSlot *slot, Relation rel, uint64 row_id,
						   const char *value, uint32 value_len);

/* RowIdToItemPointer / ItemPointerToRowId convert with a clear error. */
extern void RowIdToItemPointer(uint64 row_id, ItemPointer tid);
extern bool ItemPointerToRowId(ItemPointer tid, uint64 *row_id);

/* ---- xact_hooks.cc ---- */

/* LedgerNoteWrite records that this transaction wrote ledger rows (so
 * PRE_COMMIT makes them durable and PREPARE is refused). */
extern void LedgerNoteWrite(void);

/* LedgerReserveRowId returns the next row id reserved to this transaction
 * for table t, reserving more from the worker when needed. */
extern uint64 LedgerReserveRowId(const ledger_am::TableId &t);

/* LedgerReserveRowIds returns the first of n consecutive row ids reserved to
 * this transaction for table t, for the caller's immediate use (multi_insert),
 * reserving a larger block from the worker when the local one runs short. */
extern uint64 LedgerReserveRowIds(const ledger_am::TableId &t, uint64 n);

/* LedgerForgetReservation drops this transaction's unused ids of table t
 * (the next insert reserves afresh, e.g. after set_next_row_id). */
extern void LedgerForgetReservation(const ledger_am::TableId &t);

/* LedgerNoteCreatedStorage remembers a new relfilenode, removed on abort. */
extern void LedgerNoteCreatedStorage(const ledger_am::TableId &t);

/* LedgerNoteRangeBuild remembers a range declaration's new key space:
 * removed on abort, the only one kept on commit. */
extern void LedgerNoteRangeBuild(const ledger_am::TableId &t, uint32 declaration);

/* ---- mutation_guard.cc ---- */

/* LedgerRefuse reports a refused mutation of a ledger_am table. */
extern void LedgerRefuse(Relation rel, const char *operation) pg_attribute_noreturn();
extern void LedgerRefuseByName(const char *relname, const char *operation) pg_attribute_noreturn();

#endif
