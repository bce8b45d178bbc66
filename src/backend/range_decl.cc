/*
 * range_decl.cc: a ledger_am table's range declaration, and the range keys
 * it gives each row.
 *
 * The declaration is DDL: an index of access method ledger_range on the
 * table, whose columns are the account column(s) followed by the time
 * column, e.g.
 *     CREATE INDEX ON events USING ledger_range (debit_account, credit_account, ts);
 * so pg_dump, pg_restore and schema dumps carry it, DROP INDEX removes it and
 * column renames follow it. The index stores nothing in Postgres: the table
 * AM writes each row's range keys into RocksDB in the row's own WriteBatch.
 * An event is found under every account it touches (every account column,
 * every element of an account array).
 */
#include "backend/range.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/syscache.h"
#include "utils/uuid.h"
#include "utils/timestamp.h"
}

#include "codec/range_keys.h"

/* The longest encoded account: a key body (declaration, account, time)
 * plus the row id must fit the channel's resume key. */
static const size_t kMaxAccountKeyLen = ledger_am::kMaxRangeKeySuffix - 4 - ledger_am::kTimeLen - 8;

/* Cached in the table's rd_amcache: a declaration or its absence. */
struct RangeDeclCache
{
	bool		present;
	RangeDecl	decl;
};

/* account_kind_of classifies an account (element) type, or returns -1. */
static int
account_kind_of(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return RANGE_ACCOUNT_INT;
		case UUIDOID:
			return RANGE_ACCOUNT_UUID;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return RANGE_ACCOUNT_TEXT;
		default:
			return -1;
	}
}

/* time_kind_of classifies a time column type, or returns -1. */
static int
time_kind_of(Oid type)
{
	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			return RANGE_TIME_TIMESTAMP;
		case DATEOID:
			return RANGE_TIME_DATE;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return RANGE_TIME_INT;
		default:
			return -1;
	}
}

Oid
LedgerRangeAmOid(void)
{
	return get_am_oid("ledger_range", true);
}

bool
RangeDeclFromIndex(Relation heap, Relation index, RangeDecl *out)
{
	TupleDesc	desc = RelationGetDescr(heap);
	int			ncols = index->rd_index->indnkeyatts;
	int			kind = -1;

	memset(out, 0, sizeof(*out));
	out->index_oid = RelationGetRelid(index);
	out->declaration = index->rd_node.relNode;
	if (ncols < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("a ledger_range index needs at least two columns: account column(s), then the time column")));
	if (index->rd_index->indnatts != ncols || index->rd_indexprs != NIL ||
		!heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs, NULL) ||
		!heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("a ledger_range index takes plain columns only (no expressions, INCLUDE or WHERE)")));

	out->naccounts = ncols - 1;
	for (int i = 0; i < ncols; i++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[i];
		Form_pg_attribute att;
		Oid			type;
		Oid			elem;
		bool		is_array;

		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("a ledger_range index takes plain columns only (no expressions or system columns)")));
		att = TupleDescAttr(desc, attnum - 1);
		type = att->atttypid;
		if (i == ncols - 1)
		{
			out->ts_attnum = attnum;
			out->ts_type = type;
			out->ts_typmod = att->atttypmod;
			out->ts_collation = att->attcollation;
			out->time_kind = time_kind_of(type);
			if (out->time_kind < 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("time column \"%s\" of a ledger_range index has type %s",
								NameStr(att->attname), format_type_be(type)),
						 errhint("The last column must be timestamptz, timestamp, date, bigint, integer or smallint.")));
			continue;
		}
		elem = get_element_type(type);
		is_array = OidIsValid(elem);
		if (!is_array)
			elem = type;
		if (account_kind_of(elem) < 0 || (kind >= 0 && account_kind_of(elem) != kind))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("account column \"%s\" of a ledger_range index has type %s",
							NameStr(att->attname), format_type_be(type)),
					 errhint("Account columns must all be integers (bigint, integer, smallint), all uuid "
							 "or all text/varchar, or arrays of one of these.")));
		kind = account_kind_of(elem);
		if (kind == RANGE_ACCOUNT_TEXT && OidIsValid(att->attcollation) &&
			!get_collation_isdeterministic(att->attcollation))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("account column \"%s\" has a nondeterministic collation",
							NameStr(att->attname))));
		out->account_attnum[i] = attnum;
		out->account_is_array[i] = is_array;
		out->account_elem_type[i] = elem;
	}
	out->account_kind = kind;
	return true;
}

const RangeDecl *
RangeDeclGet(Relation rel)
{
	RangeDeclCache *cache = (RangeDeclCache *) rel->rd_amcache;
	Oid			range_am;
	List	   *indexes;
	ListCell   *lc;

	if (cache != NULL)
		return cache->present ? &cache->decl : NULL;

	cache = (RangeDeclCache *) MemoryContextAllocZero(CacheMemoryContext, sizeof(RangeDeclCache));
	range_am = LedgerRangeAmOid();
	if (OidIsValid(range_am))
	{
		indexes = RelationGetIndexList(rel);
		foreach(lc, indexes)
		{
			Oid			indexoid = lfirst_oid(lc);
			HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
			Oid			relam = InvalidOid;
			Relation	index;

			if (HeapTupleIsValid(tup))
			{
				relam = ((Form_pg_class) GETSTRUCT(tup))->relam;
				ReleaseSysCache(tup);
			}
			if (relam != range_am)
				continue;
			index = index_open(indexoid, AccessShareLock);
			cache->present = RangeDeclFromIndex(rel, index, &cache->decl);
			index_close(index, AccessShareLock);
			break;
		}
		list_free(indexes);
	}
	/* rd_amcache is freed by the relcache whenever the table is invalidated
	 * (e.g. by CREATE or DROP INDEX). */
	rel->rd_amcache = cache;
	return cache->present ? &cache->decl : NULL;
}

int64
RangeTimeMicros(const RangeDecl *decl, Datum value)
{
	return RangeTimeValue(decl, decl->ts_type, value);
}

int64
RangeTimeValue(const RangeDecl *decl, Oid type, Datum value)
{
	switch (decl->time_kind)
	{
		case RANGE_TIME_TIMESTAMP:
			return DatumGetInt64(value);
		case RANGE_TIME_DATE:
			/* Days as they are (±infinity are the extreme int32s): scaling to
			 * microseconds would overflow for the latest dates. */
			return (int64) DatumGetDateADT(value);
		default:
			switch (type)
			{
				case INT2OID:
					return DatumGetInt16(value);
				case INT4OID:
					return DatumGetInt32(value);
				default:
					return DatumGetInt64(value);
			}
	}
}

void
RangeAppendDeclaration(const RangeDecl *decl, StringInfo out)
{
	enlargeStringInfo(out, 4);
	ledger_am::PutU32BE(out->data + out->len, decl->declaration);
	out->len += 4;
}

bool
RangeEncodeAccount(const RangeDecl *decl, Oid elem_type, Datum value, StringInfo out, bool for_query)
{
	switch (decl->account_kind)
	{
		case RANGE_ACCOUNT_INT:
			{
				int64		v = elem_type == INT2OID ? DatumGetInt16(value)
					: elem_type == INT4OID ? DatumGetInt32(value) : DatumGetInt64(value);

				enlargeStringInfo(out, ledger_am::kAccountIntLen);
				out->len += ledger_am::EncodeAccountInt(out->data + out->len, v);
				return true;
			}
		case RANGE_ACCOUNT_UUID:
			appendBinaryStringInfo(out, (const char *) DatumGetUUIDP(value)->data, UUID_LEN);
			return true;
		default:
			{
				text	   *t = DatumGetTextPP(value);
				const char *p = VARDATA_ANY(t);
				size_t		n = VARSIZE_ANY_EXHDR(t);
				size_t		len;

				/* char(n) compares without trailing blanks: key it the same way. */
				if (elem_type == BPCHAROID)
					while (n > 0 && p[n - 1] == ' ')
						n--;
				len = ledger_am::AccountTextLen(p, n);
				if (len > kMaxAccountKeyLen)
				{
					if (for_query)
						return false;
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("account value is too long for a ledger_range key (%zu bytes, maximum %zu)",
									n, (size_t) (kMaxAccountKeyLen - 2))));
				}
				enlargeStringInfo(out, (int) len);
				out->len += ledger_am::EncodeAccountText(out->data + out->len, p, n);
				return true;
			}
	}
}

/* add_key appends one blob entry: header, account (if any), time. With
 * lenient, an account value too long for a key adds no entry instead of
 * failing (no key of it can exist). */
static void
add_key(const RangeDecl *decl, StringInfo blob, uint8 space, Oid elem_type, Datum account,
		const char *time, size_t time_len, bool lenient)
{
	int			header_at = blob->len;
	int			body_at;

	enlargeStringInfo(blob, (int) ledger_am::kBlobKeyHeaderLen);
	blob->len += (int) ledger_am::kBlobKeyHeaderLen;
	body_at = blob->len;
	RangeAppendDeclaration(decl, blob);
	if (space == ledger_am::kAccountSpace &&
		!RangeEncodeAccount(decl, elem_type, account, blob, lenient))
	{
		blob->len = header_at;
		return;
	}
	appendBinaryStringInfo(blob, time, (int) time_len);
	ledger_am::EncodeBlobKeyHeader(blob->data + header_at, space, (uint16) (blob->len - body_at));
}

void
RangeKeysForValues(const RangeDecl *decl, const Datum *values, const bool *isnull, StringInfo blob,
				   bool lenient)
{
	char		time[ledger_am::kTimeLen];
	bool		ts_null = isnull[decl->naccounts];

	ledger_am::EncodeTime(time, ts_null,
						  ts_null ? 0 : RangeTimeMicros(decl, values[decl->naccounts]));
	for (int i = 0; i < decl->naccounts; i++)
	{
		Oid			elem = decl->account_elem_type[i];

		if (isnull[i])
			continue;
		if (!decl->account_is_array[i])
		{
			add_key(decl, blob, ledger_am::kAccountSpace, elem, values[i], time, sizeof(time), lenient);
			continue;
		}
		{
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;

			RangeArrayElements(values[i], elem, &elems, &nulls, &nelems);
			for (int j = 0; j < nelems; j++)
				if (!nulls[j])
					add_key(decl, blob, ledger_am::kAccountSpace, elem, elems[j], time, sizeof(time),
							lenient);
		}
	}
	add_key(decl, blob, ledger_am::kTimeSpace, InvalidOid, (Datum) 0, time, sizeof(time), lenient);
}

void
RangeArrayElements(Datum array, Oid elem, Datum **elems, bool **nulls, int *n)
{
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;

	get_typlenbyvalalign(elem, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(DatumGetArrayTypeP(array), elem, elmlen, elmbyval, elmalign, elems, nulls, n);
}

void
RangeKeysForSlot(const RangeDecl *decl, TupleTableSlot *slot, StringInfo blob, bool lenient)
{
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];

	for (int i = 0; i < decl->naccounts; i++)
		values[i] = slot_getattr(slot, decl->account_attnum[i], &isnull[i]);
	values[decl->naccounts] = slot_getattr(slot, decl->ts_attnum, &isnull[decl->naccounts]);
	RangeKeysForValues(decl, values, isnull, blob, lenient);
}
