/*
 * range.h: range declarations (range_decl.cc), the ledger_range index access
 * method that carries them (range_index.cc) and the range scan planner path
 * and executor node (range_scan.cc). Runs in client backends.
 */
#ifndef LEDGER_AM_BACKEND_RANGE_H
#define LEDGER_AM_BACKEND_RANGE_H

#include "backend/backend.h"

extern "C" {
#include "lib/stringinfo.h"
}

enum RangeAccountKind
{
	RANGE_ACCOUNT_INT = 0,
	RANGE_ACCOUNT_UUID = 1,
	RANGE_ACCOUNT_TEXT = 2,
};

enum RangeTimeKind
{
	RANGE_TIME_TIMESTAMP = 0,	/* timestamptz, timestamp: int64 microseconds */
	RANGE_TIME_DATE = 1,		/* days, scaled to microseconds */
	RANGE_TIME_INT = 2,			/* bigint, integer, smallint as they are */
};

/* RangeDecl: which columns feed a table's range keys. */
struct RangeDecl
{
	Oid			index_oid;
	uint32		declaration;	/* the index's relfilenode: prefix of its keys */
	int			naccounts;
	AttrNumber	account_attnum[INDEX_MAX_KEYS];
	bool		account_is_array[INDEX_MAX_KEYS];
	Oid			account_elem_type[INDEX_MAX_KEYS];
	int			account_kind;	/* RangeAccountKind, shared by all account columns */
	AttrNumber	ts_attnum;
	Oid			ts_type;
	int32		ts_typmod;
	Oid			ts_collation;
	int			time_kind;		/* RangeTimeKind */
};

/* LedgerRangeAmOid returns the ledger_range index AM's OID (Invalid if absent). */
extern Oid	LedgerRangeAmOid(void);

/* RangeDeclFromIndex validates a ledger_range index and describes it. */
extern bool RangeDeclFromIndex(Relation heap, Relation index, RangeDecl *out);

/* RangeDeclGet returns the table's declaration (cached), or NULL. */
extern const RangeDecl *RangeDeclGet(Relation rel);

/* RangeTimeMicros maps a time column value onto the key's int64 scale. */
extern int64 RangeTimeMicros(const RangeDecl *decl, Datum value);

/* RangeTimeValue is RangeTimeMicros for a value of another integer type
 * (cross-type comparisons with an integer time column). */
extern int64 RangeTimeValue(const RangeDecl *decl, Oid type, Datum value);

/* RangeEncodeAccount appends one account value's key encoding. A value too
 * long for a key is an error when storing; for a query (for_query) the
 * function returns false instead: no stored key can match it. */
extern bool RangeEncodeAccount(const RangeDecl *decl, Oid elem_type, Datum value, StringInfo out,
							   bool for_query);

/* RangeArrayElements deconstructs an array of account values of type elem
 * (NULL elements flagged in *nulls). */
extern void RangeArrayElements(Datum array, Oid elem, Datum **elems, bool **nulls, int *n);
/* RangeAppendDeclaration appends the declaration number that starts every
 * key body of decl. */
extern void RangeAppendDeclaration(const RangeDecl *decl, StringInfo out);

/* RangeKeysForValues appends a row's key blob, from its declared columns'
 * values (accounts in declaration order, then the time). An account value
 * too long for a key is an error, or with lenient (the keys of a row being
 * removed: such a value was never stored) leaves its entry out. */
extern void RangeKeysForValues(const RangeDecl *decl, const Datum *values, const bool *isnull,
							   StringInfo blob, bool lenient = false);

/* RangeKeysForSlot appends the key blob of a row in a slot. */
extern void RangeKeysForSlot(const RangeDecl *decl, TupleTableSlot *slot, StringInfo blob,
							 bool lenient = false);


#endif
