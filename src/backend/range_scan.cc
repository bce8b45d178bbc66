/*
 * range_scan.cc: account and time range scans in plain SQL.
 *
 * A set_rel_pathlist hook offers, for a ledger_am table with a range
 * declaration (range_decl.cc), a custom path "LedgerRangeScan" that reads
 * rows in (account, time) or (time) key order straight off RocksDB:
 *
 *   WHERE account_col = $1 [AND ts >= $2 AND ts < $3] [ORDER BY ts [DESC]] [LIMIT n]
 *   WHERE $1 = ANY(account_array_col) ...
 *   WHERE (debit_account = $1 OR credit_account = $1) ...
 *   WHERE (debit_account = $1 OR credit_account = $2) ...   (merged streams)
 *   WHERE debit_account IN (1, 2, 3) ...                    (merged streams)
 *   WHERE debit_account = ANY($1) ...   (a list: merged streams, or one account
 *                                        after another, unordered)
 *   WHERE ts BETWEEN $1 AND $2 ...
 *   ... JOIN accounts a ON e.debit_account = a.id   (parameterized path)
 *
 * The path is ordered by the time column (ascending, or descending when read
 * backward), so ORDER BY ts needs no Sort and LIMIT stops the stream early;
 * requests grow from 32 rows to a full buffer. Every restriction stays in
 * the node's qual and is rechecked, so the key range only has to be a
 * superset (an account key lists an event under each account it touches).
 * Costs come from the planner's own selectivity estimates; the planner picks
 * the path only when it is cheaper than a seq scan or a btree index scan.
 * `SET ledger_am.enable_range_scan = off` removes it for comparison.
 */
#include "backend/range.h"

extern "C" {
#include "access/table.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "lib/binaryheap.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/value.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parse_coerce.h"
#include "pgstat.h"
#include "storage/predicate.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/builtins.h"
#include "utils/ruleutils.h"
#include "utils/selfuncs.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"
}

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "codec/range_keys.h"

#include <cmath>

bool		ledger_enable_range_scan = true;

/* Bits of the plan's flags integer. */
enum RangeFlags
{
	RF_ACCOUNT = 1 << 0,
	RF_LO = 1 << 1,
	RF_LO_STRICT = 1 << 2,
	RF_HI = 1 << 3,
	RF_HI_STRICT = 1 << 4,
	RF_BACKWARD = 1 << 5,
	RF_UNORDERED = 1 << 6,		/* time window read as row id runs, no order */
	RF_LIST_SEQUENTIAL = 1 << 7,	/* accounts read one after another, no order */
};

/*
 * Cost of one request to the worker, and of fetching one row through the
 * range keys (a key read plus a MultiGet share), in seq_page_cost units.
 * The time-only costs are calibrated against Postgres' own estimate for a
 * btree index scan on the same table, whose fetches ledger_am batches: a
 * 10,000-event time window
 * (quick bench, compacted) took 6.9 ms through the btree on ts (estimated
 * 348), 9.0 ms as row id runs (sweep) and 16 ms in key order; per row that
 * is ~0.035, ~0.045 and ~0.08 in the index scan's units, cpu_tuple_cost and
 * the quals included. Before, the sweep was estimated at 214 and chosen over
 * the faster index scan. Since session 16 the worker reads a batch of keys
 * naming consecutive row ids with one iterator pass instead of a MultiGet
 * (engine.cc, FetchRun): on a 1M bench cluster key order went from 10.0 to
 * 8.2 ms (btree 5.0, sweep 6.4), ~0.066 per row.
 */
static const Cost kRangeStartupCost = 1.0;
/* Per row of an account range: small, its alternatives (bitmap scans over
 * btrees on the account columns) cost a worker round trip per block. */
static const Cost kRangeRowCost = 0.02;
/* Per row of a time-only range in key order, whose alternative is a btree
 * index scan on the time column. */
static const Cost kTimeRowCost = 0.05;
/* Per row when a time window is read as a run of row ids (a pass over the
 * window's time keys for the bounds, then a sequential sweep). */
static const Cost kSweepRowCost = 0.03;
/* Fewest rows of a first request when the query may stop early (see
 * first_batch_rows). */
static const uint32 kFirstBatchRows = 32;
/* Most distinct account values an OR of account equalities names as
 * values known at plan time (one key stream each); more make a list
 * (AccountValues), whose requests are capped (batch_cap). */
static const int kMaxAccountStreams = 8;

/* First request of a stream that reads ahead (read_ahead_wanted). */
static const uint32 kReadAheadFirstRows = 16;

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

/* ------------------------------------------------------------------------
 * Matching restriction clauses to key bounds
 * ------------------------------------------------------------------------
 */

/* Bounds found for one path. Values are expressions to evaluate at run time. */
struct RangeBounds
{
	List	   *accounts;		/* account values (Exprs), distinct; NIL: none */
	bool		account_list;	/* accounts is a list (AccountValues) */
	RestrictInfo *account_rinfo;
	Expr	   *lo;
	bool		lo_strict;
	RestrictInfo *lo_rinfo;
	Expr	   *hi;
	bool		hi_strict;
	RestrictInfo *hi_rinfo;
};

/* strip_relabel removes binary-compatible casts around an expression. */
static Node *
strip_relabel(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/* is_column tells whether node is (a relabelled) column attnum of rel. */
static bool
is_column(Node *node, RelOptInfo *rel, AttrNumber attnum)
{
	Var		   *var;

	node = strip_relabel(node);
	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	return var->varno == (int) rel->relid && var->varattno == attnum && var->varlevelsup == 0;
}

/* usable_value tells whether expr can be evaluated before the scan: no
 * column of rel, nothing volatile, no subplans; outer relations' columns
 * only for parameterized paths. */
static bool
usable_value(PlannerInfo *root, RelOptInfo *rel, Node *expr, bool outer_ok)
{
	Relids		varnos;

	if (expr == NULL || contain_volatile_functions(expr) || contain_subplans(expr))
		return false;
	varnos = pull_varnos(root, expr);
	if (bms_is_member((int) rel->relid, varnos))
		return false;
	return outer_ok || bms_is_empty(varnos);
}

/* btree_strategy returns opno's btree strategy for a type, or 0. */
static int
btree_strategy(Oid opno, Oid type)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_BTREE_OPFAMILY);

	if (!OidIsValid(tc->btree_opf))
		return 0;
	return get_op_opfamily_strategy(opno, tc->btree_opf);
}

/* is_int_type tells whether type is one of the integer types keyed alike. */
static bool
is_int_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/* value_type_ok tells whether a value of type valtype, compared with a
 * column of type coltype by an operator with these input types, encodes to
 * the column's key bytes: same type (or binary coercible), or integers of
 * any width (they are keyed as int64). */
static bool
value_type_ok(Oid coltype, Oid ltype, Oid rtype)
{
	if (is_int_type(coltype) && is_int_type(ltype) && is_int_type(rtype))
		return true;
	if (ltype != rtype)
		return false;
	/* char(n) equality ignores trailing blanks, text's does not: keys of one
	 * are not keys of the other. */
	if ((coltype == BPCHAROID) != (ltype == BPCHAROID))
		return false;
	return IsBinaryCoercible(coltype, ltype);
}

/* collation_ok tells whether a comparison's collation compares bytes:
 * keys are matched byte for byte. */
static bool
collation_ok(Oid collid)
{
	return !OidIsValid(collid) || get_collation_isdeterministic(collid);
}

/* account_equality: whether operator opno (with collation collid) is a btree
 * equality whose operand types key like an account column of element type
 * elem; sets *rtype (when given) to its right operand's type. */
static bool
account_equality(Oid elem, Oid opno, Oid collid, Oid *rtype)
{
	Oid			ltype;
	Oid			r;

	op_input_types(opno, &ltype, &r);
	if (rtype)
		*rtype = r;
	return value_type_ok(elem, ltype, r) && collation_ok(collid) &&
		btree_strategy(opno, ltype) == BTEqualStrategyNumber;
}

/* account_value returns the value an equality clause compares an account
 * column with (or, for an array column, the X of X = ANY(col)), or NULL. */
static Expr *
account_value(PlannerInfo *root, RelOptInfo *rel, const RangeDecl *decl, Node *clause, bool outer_ok)
{
	for (int i = 0; i < decl->naccounts; i++)
	{
		AttrNumber	attnum = decl->account_attnum[i];
		Oid			elem = decl->account_elem_type[i];

		if (!decl->account_is_array[i] && IsA(clause, OpExpr) &&
			list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;
			Node	   *l = (Node *) linitial(op->args);
			Node	   *r = (Node *) lsecond(op->args);
			Node	   *other;

			if (is_column(l, rel, attnum))
				other = r;
			else if (is_column(r, rel, attnum))
				other = l;
			else
				continue;
			if (!account_equality(elem, op->opno, op->inputcollid, NULL) ||
				!usable_value(root, rel, other, outer_ok))
				continue;
			return (Expr *) other;
		}
		if (decl->account_is_array[i] && IsA(clause, ScalarArrayOpExpr))
		{
			ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;
			Node	   *value = (Node *) linitial(saop->args);

			if (!saop->useOr || !is_column((Node *) lsecond(saop->args), rel, attnum))
				continue;
			if (!account_equality(elem, saop->opno, saop->inputcollid, NULL) ||
				!usable_value(root, rel, value, outer_ok))
				continue;
			return (Expr *) value;
		}
	}
	return NULL;
}

/*
 * A list of accounts, not a few values: `col = ANY(array)` whose array is a
 * constant of more than kMaxAccountStreams values, or an expression known
 * only at run time (a parameter: `= ANY($1)` in a generic plan, an outer
 * column in a join). Its values are evaluated when the scan starts, like
 * every account value (start_list). It is read one account after another, in no time order
 * (RF_LIST_SEQUENTIAL), or merged in time order like a few values, one stream
 * per account whose requests shrink as there are more (the planner picks by
 * cost: the merge costs a heap pick per row).
 */
struct AccountValues
{
	List	   *values;			/* Exprs: account values, or arrays of them */
	bool		list;			/* read one after another (some Expr is an array) */
};

/*
 * in_list_values fills av from `col = ANY(array)` on a scalar account
 * column: the array's values as Consts of its element type when it is a
 * constant of at most kMaxAccountStreams distinct values (NULLs left out:
 * they match nothing), else the array expression itself as a list. False
 * if the clause is not that, or names no value.
 */
static bool
in_list_values(PlannerInfo *root, RelOptInfo *rel, const RangeDecl *decl, ScalarArrayOpExpr *saop,
			   bool outer_ok, AccountValues *av)
{
	Node	   *arr = strip_relabel((Node *) lsecond(saop->args));
	Oid			rtype;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *values = NIL;

	if (!saop->useOr)
		return false;
	for (int i = 0; i < decl->naccounts; i++)
	{
		Const	   *c;
		ArrayType  *a;

		if (decl->account_is_array[i] || !is_column((Node *) linitial(saop->args), rel, decl->account_attnum[i]))
			continue;
		if (!account_equality(decl->account_elem_type[i], saop->opno, saop->inputcollid, &rtype) ||
			get_element_type(exprType(arr)) != rtype)
			return false;
		if (!IsA(arr, Const))
		{
			/* ARRAY[$1, $2] of a few: the elements, merged as an OR */
			if (IsA(arr, ArrayExpr) && !((ArrayExpr *) arr)->multidims &&
				list_length(((ArrayExpr *) arr)->elements) <= kMaxAccountStreams)
			{
				ListCell   *lc;

				foreach(lc, ((ArrayExpr *) arr)->elements)
				{
					if (!usable_value(root, rel, (Node *) lfirst(lc), outer_ok))
						return false;
					values = list_append_unique(values, lfirst(lc));
				}
				av->values = values;
				av->list = false;
				return values != NIL;
			}
			if (!usable_value(root, rel, arr, outer_ok))
				return false;
			av->values = list_make1(arr);
			av->list = true;
			return true;
		}
		c = (Const *) arr;
		if (c->constisnull)
			return false;
		a = DatumGetArrayTypeP(c->constvalue);
		get_typlenbyvalalign(rtype, &elmlen, &elmbyval, &elmalign);
		deconstruct_array(a, rtype, elmlen, elmbyval, elmalign, &elems, &nulls, &n);
		for (int j = 0; j < n; j++)
		{
			if (nulls[j])
				continue;
			values = list_append_unique(values, makeConst(rtype, -1, c->constcollid, elmlen,
														  elems[j], false, elmbyval));
			if (list_length(values) > kMaxAccountStreams)
			{
				av->values = list_make1(arr);
				av->list = true;
				return true;
			}
		}
		av->values = values;
		av->list = false;
		return values != NIL;
	}
	return false;
}

/*
 * account_values fills av with the account values a clause restricts the
 * row to, distinct (equal() expressions once): one for an equality, several
 * for an IN list or an OR whose every arm is one (debit = X OR credit = Y:
 * the union of X's and Y's keys, each event under every account it touches,
 * is a superset of the matches). More than kMaxAccountStreams values, or an
 * array known only at run time, make a list (AccountValues). False if the
 * clause restricts no account.
 */
static bool
account_values(PlannerInfo *root, RelOptInfo *rel, const RangeDecl *decl, Node *clause, bool outer_ok,
			   AccountValues *av)
{
	Expr	   *one;
	ListCell   *lc;

	av->values = NIL;
	av->list = false;
	if (IsA(clause, RestrictInfo))
		clause = (Node *) ((RestrictInfo *) clause)->clause;
	if (IsA(clause, ScalarArrayOpExpr) &&
		in_list_values(root, rel, decl, (ScalarArrayOpExpr *) clause, outer_ok, av))
		return true;
	if (!is_orclause(clause))
	{
		one = account_value(root, rel, decl, clause, outer_ok);
		av->values = one ? list_make1(one) : NIL;
		return one != NULL;
	}
	foreach(lc, ((BoolExpr *) clause)->args)
	{
		AccountValues arm;

		if (!account_values(root, rel, decl, (Node *) lfirst(lc), outer_ok, &arm))
		{
			av->values = NIL;
			return false;
		}
		av->values = list_concat_unique(av->values, arm.values);
		av->list = av->list || arm.list;
	}
	if (list_length(av->values) > kMaxAccountStreams)
		av->list = true;
	return true;
}

/* match_time records a time bound from clause, if it is one. */
static void
match_time(PlannerInfo *root, RelOptInfo *rel, const RangeDecl *decl, RestrictInfo *rinfo,
		   RangeBounds *b)
{
	Node	   *clause = (Node *) rinfo->clause;
	OpExpr	   *op;
	Node	   *other;
	Oid			ltype;
	Oid			rtype;
	int			strategy;
	bool		column_left;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return;
	op = (OpExpr *) clause;
	if (is_column((Node *) linitial(op->args), rel, decl->ts_attnum))
	{
		column_left = true;
		other = (Node *) lsecond(op->args);
	}
	else if (is_column((Node *) lsecond(op->args), rel, decl->ts_attnum))
	{
		column_left = false;
		other = (Node *) linitial(op->args);
	}
	else
		return;
	op_input_types(op->opno, &ltype, &rtype);
	if (!(ltype == decl->ts_type && rtype == decl->ts_type) &&
		!(decl->time_kind == RANGE_TIME_INT && value_type_ok(decl->ts_type, ltype, rtype)))
		return;
	if (!usable_value(root, rel, other, false))
		return;
	strategy = btree_strategy(op->opno, ltype);
	if (!column_left)
		strategy = BTMaxStrategyNumber + 1 - strategy;	/* x < col is col > x */
	if ((strategy == BTGreaterStrategyNumber || strategy == BTGreaterEqualStrategyNumber ||
		 strategy == BTEqualStrategyNumber) && b->lo == NULL)
	{
		b->lo = (Expr *) other;
		b->lo_strict = strategy == BTGreaterStrategyNumber;
		b->lo_rinfo = rinfo;
	}
	if ((strategy == BTLessStrategyNumber || strategy == BTLessEqualStrategyNumber ||
		 strategy == BTEqualStrategyNumber) && b->hi == NULL)
	{
		b->hi = (Expr *) other;
		b->hi_strict = strategy == BTLessStrategyNumber;
		b->hi_rinfo = rinfo;
	}
}

/* ------------------------------------------------------------------------
 * Paths
 * ------------------------------------------------------------------------
 */

static Plan *plan_range_path(PlannerInfo *root, RelOptInfo *rel, struct CustomPath *best_path,
							 List *tlist, List *clauses, List *custom_plans);

static const CustomPathMethods range_path_methods = {
	"LedgerRangeScan",
	plan_range_path,
};

/* ts_pathkeys returns the ordering the path delivers: by the time column. */
static List *
ts_pathkeys(PlannerInfo *root, RelOptInfo *rel, const RangeDecl *decl, bool backward)
{
	TypeCacheEntry *tc = lookup_type_cache(decl->ts_type, TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);
	Var		   *var;

	if (!OidIsValid(tc->lt_opr) || !OidIsValid(tc->gt_opr))
		return NIL;
	/* The column exactly as the query's Vars have it (typmod included), or
	 * the pathkey would not match ORDER BY ts. */
	var = makeVar((int) rel->relid, decl->ts_attnum, decl->ts_type, decl->ts_typmod,
				  decl->ts_collation, 0);
	/* A child rel's column is matched with its parent's equivalence class
	 * (its child member); the planner may not make new classes for it. */
	return build_expression_pathkey(root, (Expr *) var, NULL,
									backward ? tc->gt_opr : tc->lt_opr, rel->relids,
									rel->reloptkind == RELOPT_BASEREL);
}

/* account_count estimates how many accounts a path's values name (an
 * array's length as the planner guesses it). */
static int
account_count(List *values)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, values)
	{
		Node	   *v = (Node *) lfirst(lc);

		n += OidIsValid(get_element_type(exprType(v))) ? estimate_array_length(v) : 1;
	}
	return Max(n, 1);
}

/* add_range_path adds one forward and one backward path for the bounds (and
 * an unordered one for a time window's sweep and a list of accounts). */
static void
add_range_paths(PlannerInfo *root, RelOptInfo *rel, const RangeDecl *decl, const RangeBounds *b,
				Relids required_outer)
{
	List	   *bound_rinfos = NIL;
	Selectivity sel;
	double		fetched;
	QualCost	qcost;
	ParamPathInfo *ppi = NULL;
	double		rows = rel->rows;
	List	   *quals = rel->baserestrictinfo;
	int			variants[3];
	int			nvariants = 0;

	if (b->account_rinfo)
		bound_rinfos = lappend(bound_rinfos, b->account_rinfo);
	if (b->lo_rinfo)
		bound_rinfos = lappend(bound_rinfos, b->lo_rinfo);
	if (b->hi_rinfo && b->hi_rinfo != b->lo_rinfo)
		bound_rinfos = lappend(bound_rinfos, b->hi_rinfo);
	sel = bound_rinfos ? clauselist_selectivity(root, bound_rinfos, (int) rel->relid, JOIN_INNER, NULL)
		: 1.0;
	fetched = clamp_row_est(rel->tuples * sel);
	if (required_outer)
	{
		ppi = get_baserel_parampathinfo(root, rel, required_outer);
		rows = ppi->ppi_rows;
		quals = list_concat_copy(quals, ppi->ppi_clauses);
	}
	cost_qual_eval(&qcost, quals, root);

	/* Forward, backward, and for time windows an unordered sweep; a list of
	 * accounts also one account after another. */
	variants[nvariants++] = 0;
	variants[nvariants++] = RF_BACKWARD;
	if (b->account_list)
		variants[nvariants++] = RF_LIST_SEQUENTIAL;
	else if (b->accounts == NIL && (b->lo || b->hi))
		variants[nvariants++] = RF_UNORDERED;
	for (int v = 0; v < nvariants; v++)
	{
		CustomPath *cp = makeNode(CustomPath);
		int			flags = variants[v];
		bool		ordered = !(flags & (RF_UNORDERED | RF_LIST_SEQUENTIAL));
		Cost		per_row = (flags & RF_UNORDERED) ? kSweepRowCost : b->accounts ? kRangeRowCost : kTimeRowCost;

		/* merging a list: a pick among its streams' heads per row */
		if (b->account_list && ordered)
			per_row += cpu_operator_cost * std::ceil(std::log2(account_count(b->accounts) + 1));
		if (b->accounts)
			flags |= RF_ACCOUNT;
		if (b->lo)
			flags |= RF_LO | (b->lo_strict ? RF_LO_STRICT : 0);
		if (b->hi)
			flags |= RF_HI | (b->hi_strict ? RF_HI_STRICT : 0);

		cp->path.pathtype = T_CustomScan;
		cp->path.parent = rel;
		cp->path.pathtarget = rel->reltarget;
		cp->path.param_info = ppi;
		cp->path.parallel_aware = false;
		cp->path.parallel_safe = false;
		cp->path.parallel_workers = 0;
		cp->path.rows = rows;
		/* A request per account stream to start */
		cp->path.startup_cost = kRangeStartupCost * account_count(b->accounts) + qcost.startup;
		cp->path.total_cost = cp->path.startup_cost + fetched * (cpu_tuple_cost + per_row + qcost.per_tuple);
		cp->path.pathkeys = ordered ? ts_pathkeys(root, rel, decl, (flags & RF_BACKWARD) != 0) : NIL;
		cp->flags = 0;
		cp->custom_paths = NIL;
		cp->custom_private = list_make4(b->accounts, b->lo, b->hi, makeInteger(flags));
		cp->methods = &range_path_methods;
		add_path(rel, &cp->path);
	}
}

/* ec_matches_column is generate_implied_equalities_for_column's test: an
 * equivalence member that is account column *arg of rel. */
static bool
ec_matches_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec, EquivalenceMember *em,
				  void *arg)
{
	return is_column((Node *) em->em_expr, rel, *(AttrNumber *) arg);
}

/* add_parameterized_paths offers paths that probe by an outer relation's
 * value (nested loop joins by account). */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *rel, const RangeDecl *decl,
						const RangeBounds *time_bounds)
{
	List	   *candidates = NIL;
	ListCell   *lc;

	for (int i = 0; i < decl->naccounts; i++)
	{
		AttrNumber	attnum = decl->account_attnum[i];

		if (decl->account_is_array[i])
			continue;
		candidates = list_concat(candidates,
								 generate_implied_equalities_for_column(root, rel, ec_matches_column,
																		&attnum,
																		rel->lateral_referencers));
	}
	foreach(lc, rel->joininfo)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);

		if (join_clause_is_movable_to(rinfo, rel))
			candidates = lappend(candidates, rinfo);
	}

	foreach(lc, candidates)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);
		RangeBounds b = *time_bounds;
		Relids		required_outer;
		AccountValues av;

		if (rinfo->pseudoconstant ||
			!account_values(root, rel, decl, (Node *) rinfo->clause, true, &av))
			continue;
		b.accounts = av.values;
		b.account_list = av.list;
		required_outer = bms_difference(rinfo->clause_relids, rel->relids);
		if (bms_is_empty(required_outer) || bms_overlap(required_outer, rel->lateral_referencers))
			continue;
		b.account_rinfo = rinfo;
		add_range_paths(root, rel, decl, &b, required_outer);
	}
}

/* ledger_set_rel_pathlist offers range scan paths for ledger_am tables. */
static void
ledger_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	Relation	relation;
	RangeDecl	decl;
	const RangeDecl *found;
	RangeBounds b;
	RangeBounds time_only;
	ListCell   *lc;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);

	/*
	 * A table queried by itself, or as a partition (or inheritance child)
	 * of the table queried: the planner plans each child as an "other
	 * member" rel with the parent's restrictions translated to its columns,
	 * and builds Append / MergeAppend paths over the children's paths,
	 * ordered ones included.
	 */
	if (!ledger_enable_range_scan ||
		(rel->reloptkind != RELOPT_BASEREL && rel->reloptkind != RELOPT_OTHER_MEMBER_REL) ||
		rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION || rte->inh ||
		rte->tablesample != NULL)
		return;
	relation = table_open(rte->relid, NoLock);
	found = RelationIsLedger(relation) ? RangeDeclGet(relation) : NULL;
	if (found)
		decl = *found;
	table_close(relation, NoLock);
	if (found == NULL)
		return;

	memset(&b, 0, sizeof(b));
	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);

		if (rinfo->pseudoconstant)
			continue;
		if (b.accounts == NIL || b.account_list)
		{
			AccountValues av;

			/* one account, or a few, rather than a list */
			if (account_values(root, rel, &decl, (Node *) rinfo->clause, false, &av) &&
				(b.accounts == NIL || !av.list))
			{
				b.accounts = av.values;
				b.account_list = av.list;
				b.account_rinfo = rinfo;
				continue;
			}
		}
		match_time(root, rel, &decl, rinfo, &b);
	}

	time_only = b;
	time_only.accounts = NIL;
	time_only.account_list = false;
	time_only.account_rinfo = NULL;
	if (b.accounts || b.lo || b.hi)
		add_range_paths(root, rel, &decl, &b, NULL);
	else if (root->query_pathkeys != NIL)
	{
		/* No bounds, but ORDER BY ts [DESC] (LIMIT n): the time keys stream
		 * in that order; only worth it if the ordering is wanted. */
		PathKey    *want = (PathKey *) linitial(root->query_pathkeys);
		List	   *asc = ts_pathkeys(root, rel, &decl, false);
		List	   *desc = ts_pathkeys(root, rel, &decl, true);

		if ((asc && linitial(asc) == want) || (desc && linitial(desc) == want))
			add_range_paths(root, rel, &decl, &b, NULL);
	}
	/* A long list of accounts may cost more than its time window read
	 * whole (a few accounts are always cheaper through their keys). */
	if (b.account_list && (b.lo || b.hi))
		add_range_paths(root, rel, &decl, &time_only, NULL);
	add_parameterized_paths(root, rel, &decl, &time_only);
}

/* ------------------------------------------------------------------------
 * Plan
 * ------------------------------------------------------------------------
 */

static Node *create_range_scan_state(CustomScan *cscan);

static const CustomScanMethods range_scan_methods = {
	"LedgerRangeScan",
	create_range_scan_state,
};

/* placeholder stands in for an absent bound (plan lists hold no NULLs). */
static Node *
placeholder(Node *expr)
{
	return expr ? expr : (Node *) makeNullConst(INT4OID, -1, InvalidOid);
}

/*
 * first_batch_rows is how many rows the scan's first request asks for (0: as
 * many as fit in the channel buffer). Each request is a worker round trip, so
 * ask for what the query will consume: with `LIMIT n` on this rel alone, n
 * (more follow, four times as many each time, if filters or invisible rows
 * eat some); with no LIMIT on this rel alone, every row is consumed, so a
 * whole buffer; otherwise (joins, parameterized probes, LIMIT $1 in a generic
 * plan) the planner's row estimate, at least kFirstBatchRows.
 */
static int
first_batch_rows(PlannerInfo *root, CustomPath *path)
{
	bool		alone = bms_membership(root->all_baserels) == BMS_SINGLETON &&
		path->path.param_info == NULL && root->query_level == 1;

	if (alone && root->limit_tuples > 0)
		return (int) Min(root->limit_tuples, 4096.0);
	if (alone && root->parse->limitCount == NULL && root->parse->limitOffset == NULL)
		return 0;
	return (int) Max((double) kFirstBatchRows, Min(path->path.rows * 1.25 + 1, 4096.0));
}

static Plan *
plan_range_path(PlannerInfo *root, RelOptInfo *rel, struct CustomPath *best_path, List *tlist,
				List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);

	cscan->scan.plan.targetlist = tlist;
	/* Every restriction is rechecked: the key range is only a superset. */
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = rel->relid;
	cscan->flags = best_path->flags;
	cscan->custom_plans = NIL;
	/* lo, hi, then the account values (one key stream each) */
	cscan->custom_exprs = list_concat(list_make2(placeholder((Node *) lsecond(best_path->custom_private)),
												 placeholder((Node *) lthird(best_path->custom_private))),
									  (List *) linitial(best_path->custom_private));
	cscan->custom_private = list_make2(copyObjectImpl(lfourth(best_path->custom_private)),
									   makeInteger(first_batch_rows(root, best_path)));
	cscan->custom_scan_tlist = NIL;
	cscan->methods = &range_scan_methods;
	return &cscan->scan.plan;
}

/* ------------------------------------------------------------------------
 * Execution
 * ------------------------------------------------------------------------
 */

/*
 * One key range read in key order: the whole scan, or one account value of
 * an OR of accounts (account_values). Several streams are merged by
 * (time, row id), the order of every stream's keys, so the merge keeps the
 * path's time order; a row under two of the accounts is returned once.
 */
struct RangeStream
{
	StringInfoData lo_key;		/* current request bounds (key suffixes) */
	StringInfoData hi_key;
	char	   *chunk;			/* chunk_size bytes, allocated as answers need */
	Size		chunk_size;
	Size		chunk_len;
	Size		chunk_pos;
	uint64		frozen_below;
	uint32		batch_rows;
	bool		backward;
	bool		done;			/* the worker has no more keys in range */
	/* read-ahead (read_ahead_wanted): the next chunk, asked for while this
	 * one is read */
	char	   *next_chunk;		/* next_size bytes: a whole channel buffer */
	Size		next_size;
	Size		next_len;
	uint64		next_frozen;
	uint64		next_resume;	/* sweeps: the row id the next chunk ends at */
	bool		next_done;
	bool		requested;		/* a read-ahead request is in flight */
	bool		next_ready;		/* its answer is in next_chunk */
	/* merging only: the stream's next visible row */
	bool		has_head;
	uint64		head_row;
	const char *head_value;		/* in chunk */
	uint32		head_len;
	bool		head_null;		/* time column NULL: sorts after every time */
	int64		head_time;
	TupleTableSlot *head_slot;	/* deforms the head for its time */
};

struct RangeScanState
{
	CustomScanState css;
	int			flags;
	RangeDecl	decl;
	ledger_am::TableId table;
	ExprState  *lo;
	ExprState  *hi;
	int			naccounts;		/* account value expressions */
	ExprState **accounts;
	bool		started;
	int			nstreams;		/* streams in use (accounts after dedup, else 1) */
	RangeStream *streams;		/* nalloc of them: naccounts (at least 1), or a
								 * merged list's length */
	int			nalloc;
	uint32		batch_cap;		/* most rows a request asks for (0: no cap) */
	/* merging several streams: a heap of those with a head (heap_cap
	 * entries), and the streams the last row came from */
	binaryheap *heap;
	int			heap_cap;
	int		   *pending;
	int			npending;
	bool		merging;		/* heads loaded, heap built */
	Size		chunk_cap;
	uint32		first_batch;	/* batch_rows of the first request (plan time) */
	bool		sweep;			/* RF_UNORDERED reading row ids [sweep_from, sweep_to) */
	uint64		sweep_from;
	uint64		sweep_to;
	/* start_streams' scratch keys, reused by every (re)start */
	StringInfoData prefix;
	StringInfoData lo_time;
	StringInfoData hi_time;
	/* RF_ACCOUNT: the accounts' key prefixes, sorted and distinct (a stream
	 * each, or with RF_LIST_SEQUENTIAL read one after another by streams[0],
	 * list_pos being the one read) */
	MemoryContext list_cxt;
	char	  **list_key;
	int		   *list_len;
	int			list_n;
	int			list_pos;
	StringInfoData probe;		/* a row's account key prefix (list_seen) */
};

static void begin_range_scan(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *exec_range_scan(CustomScanState *node);
static void end_range_scan(CustomScanState *node);
static void rescan_range_scan(CustomScanState *node);
static void explain_range_scan(CustomScanState *node, List *ancestors, ExplainState *es);

static const CustomExecMethods range_exec_methods = {
	"LedgerRangeScan",
	begin_range_scan,
	exec_range_scan,
	end_range_scan,
	rescan_range_scan,
	NULL,						/* MarkPosCustomScan */
	NULL,						/* RestrPosCustomScan */
	NULL,						/* EstimateDSMCustomScan */
	NULL,						/* InitializeDSMCustomScan */
	NULL,						/* ReInitializeDSMCustomScan */
	NULL,						/* InitializeWorkerCustomScan */
	NULL,						/* ShutdownCustomScan */
	explain_range_scan,
};

static Node *
create_range_scan_state(CustomScan *cscan)
{
	RangeScanState *rs = (RangeScanState *) palloc0(sizeof(RangeScanState));

	NodeSetTag(rs, T_CustomScanState);
	rs->css.methods = &range_exec_methods;
	rs->flags = intVal(linitial(cscan->custom_private));
	rs->first_batch = intVal(lsecond(cscan->custom_private));
	return (Node *) rs;
}

static void
begin_range_scan(CustomScanState *node, EState *estate, int eflags)
{
	RangeScanState *rs = (RangeScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	const RangeDecl *decl = RangeDeclGet(rel);
	ListCell   *lc;
	int			nstreams;

	if (decl == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("range declaration of table \"%s\" was dropped", RelationGetRelationName(rel))));
	rs->decl = *decl;
	rs->table = LedgerTableId(rel);

	/*
	 * PostgreSQL 15 gives custom scans a virtual scan slot; rows arrive as
	 * MinimalTuples, so swap in a slot of that kind and recompile the qual
	 * and projection, whose deforming code depends on the slot type.
	 */
	ExecInitScanTupleSlot(estate, &node->ss, RelationGetDescr(rel), &TTSOpsMinimalTuple);
	node->ss.ps.qual = ExecInitQual(cscan->scan.plan.qual, &node->ss.ps);
	ExecAssignScanProjectionInfoWithVarno(&node->ss, cscan->scan.scanrelid);
	if (rs->flags & RF_LO)
		rs->lo = ExecInitExpr((Expr *) linitial(cscan->custom_exprs), &node->ss.ps);
	if (rs->flags & RF_HI)
		rs->hi = ExecInitExpr((Expr *) lsecond(cscan->custom_exprs), &node->ss.ps);
	if (rs->flags & RF_ACCOUNT)
	{
		rs->naccounts = list_length(cscan->custom_exprs) - 2;
		rs->accounts = (ExprState **) palloc(sizeof(ExprState *) * rs->naccounts);
		for_each_from(lc, cscan->custom_exprs, 2)
			rs->accounts[foreach_current_index(lc) - 2] = ExecInitExpr((Expr *) lfirst(lc), &node->ss.ps);
	}
	nstreams = Max(rs->naccounts, 1);
	rs->chunk_cap = (Size) ledger_channel_buffer_kb * 1024;
	rs->streams = (RangeStream *) palloc0(sizeof(RangeStream) * nstreams);
	rs->nalloc = nstreams;
	initStringInfo(&rs->prefix);
	initStringInfo(&rs->lo_time);
	initStringInfo(&rs->hi_time);
	if (rs->flags & RF_ACCOUNT)
		rs->list_cxt = AllocSetContextCreate(CurrentMemoryContext, "ledger_am accounts",
											 ALLOCSET_SMALL_SIZES);
	if (rs->flags & RF_LIST_SEQUENTIAL)
		initStringInfo(&rs->probe);
	/* st->chunk: allocated when the stream's first answer arrives; merged
	 * streams get their head slots in ensure_streams */
	for (int i = 0; i < nstreams; i++)
	{
		initStringInfo(&rs->streams[i].lo_key);
		initStringInfo(&rs->streams[i].hi_key);
	}
	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY) && IsMVCCSnapshot(estate->es_snapshot))
		PredicateLockRelation(rel, estate->es_snapshot);
}

/* eval_bound evaluates a bound expression; false if it is NULL. */
static bool
eval_bound(RangeScanState *rs, ExprState *es, Datum *value)
{
	bool		isnull;

	*value = ExecEvalExprSwitchContext(es, rs->css.ss.ps.ps_ExprContext, &isnull);
	return !isnull;
}

/* append_time appends a time key part for bound v (+1 when adjust). */
static void
append_time(StringInfo key, int64 v, bool add_one)
{
	char		buf[ledger_am::kTimeLen];

	if (add_one)
	{
		if (v == PG_INT64_MAX)
		{
			/* Past every value: only the NULL flag byte sorts after. */
			appendStringInfoChar(key, (char) ledger_am::kTimeNull);
			return;
		}
		v++;
	}
	ledger_am::EncodeTime(buf, false, v);
	appendBinaryStringInfo(key, buf, sizeof(buf));
}

/*
 * ensure_buffer makes *buf (*size bytes) hold at least need bytes. A lone
 * stream gets a channel buffer at once (it reuses it for every chunk); a
 * merge's chunks are allocated as answers need them, growing by doubling up
 * to a channel buffer, so a merge of many accounts whose requests are small
 * holds one small chunk per account, not a channel buffer each.
 */
static void
ensure_buffer(RangeScanState *rs, RangeStream *st, char **buf, Size *size, Size need)
{
	Size		grown;

	if (*buf != NULL && *size >= need)
		return;
	grown = rs->nstreams > 1 ? Max(need, Min(rs->chunk_cap, 2 * *size)) : Max(need, rs->chunk_cap);
	if (*buf != NULL)
		pfree(*buf);
	*buf = NULL;
	*buf = (char *) MemoryContextAlloc(GetMemoryChunkContext(st->lo_key.data), grown);
	*size = grown;
}

/* cap_batch holds a stream's requests to rs->batch_cap rows. */
static void
cap_batch(const RangeScanState *rs, RangeStream *st)
{
	if (rs->batch_cap != 0 && (st->batch_rows == 0 || st->batch_rows > rs->batch_cap))
		st->batch_rows = rs->batch_cap;
}

/* forget_read_ahead drops a stream's read-ahead: its answer is waited for
 * (the channel slot is needed again) and thrown away. */
static void
forget_read_ahead(RangeStream *st)
{
	ChannelAwaitAsyncOf(st);
	st->requested = false;
	st->next_ready = false;
}

/* start_stream builds one stream's first request keys: prefix (declaration
 * and account) followed by the time bounds. */
static void
start_stream(RangeScanState *rs, RangeStream *st, const StringInfoData *prefix,
			 const StringInfoData *lo_time, const StringInfoData *hi_time)
{
	forget_read_ahead(st);
	resetStringInfo(&st->lo_key);
	resetStringInfo(&st->hi_key);
	appendBinaryStringInfo(&st->lo_key, prefix->data, prefix->len);
	appendBinaryStringInfo(&st->lo_key, lo_time->data, lo_time->len);
	appendBinaryStringInfo(&st->hi_key, prefix->data, prefix->len);
	appendBinaryStringInfo(&st->hi_key, hi_time->data, hi_time->len);
	st->chunk_len = st->chunk_pos = 0;
	st->batch_rows = rs->first_batch;
	cap_batch(rs, st);
	st->backward = (rs->flags & RF_BACKWARD) != 0;
	st->done = false;
	st->has_head = false;
}

/* key_cmp orders keys bytewise, as RocksDB does. */
static int
key_cmp(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* list_key_cmp orders the list's key prefixes (qsort_arg on their indexes). */
static int
list_key_cmp(const void *a, const void *b, void *arg)
{
	RangeScanState *rs = (RangeScanState *) arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;

	return key_cmp(rs->list_key[i], rs->list_len[i], rs->list_key[j], rs->list_len[j]);
}

/* list_add appends the key prefix of one account value to the list (not if
 * NULL, or too long to be a key: such values match nothing). */
static void
list_add(RangeScanState *rs, Oid type, Datum value, bool isnull, int *cap)
{
	StringInfoData key;

	if (isnull)
		return;
	initStringInfo(&key);
	RangeAppendDeclaration(&rs->decl, &key);
	if (!RangeEncodeAccount(&rs->decl, type, value, &key, true))
		return;
	if (rs->list_n == *cap)
	{
		*cap *= 2;
		rs->list_key = (char **) repalloc(rs->list_key, sizeof(char *) * *cap);
		rs->list_len = (int *) repalloc(rs->list_len, sizeof(int) * *cap);
	}
	rs->list_key[rs->list_n] = key.data;
	rs->list_len[rs->list_n] = key.len;
	rs->list_n++;
}

/* start_list evaluates the scan's account values (scalars and arrays of
 * them) into rs->list_key, sorted, each once: the same account twice ($1
 * and $2 bound alike) is one stream. */
static void
start_list(RangeScanState *rs)
{
	ExprContext *econtext = rs->css.ss.ps.ps_ExprContext;
	MemoryContext old;
	int			cap = 16;
	int		   *order;
	char	  **keys;
	int		   *lens;
	int			n = 0;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	MemoryContextReset(rs->list_cxt);
	old = MemoryContextSwitchTo(rs->list_cxt);
	rs->list_n = 0;
	rs->list_pos = 0;
	rs->list_key = (char **) palloc(sizeof(char *) * cap);
	rs->list_len = (int *) palloc(sizeof(int) * cap);
	for (int i = 0; i < rs->naccounts; i++)
	{
		Oid			type = exprType((Node *) rs->accounts[i]->expr);
		Oid			elem = get_element_type(type);
		bool		isnull;
		Datum		v;

		MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		v = ExecEvalExpr(rs->accounts[i], econtext, &isnull);
		MemoryContextSwitchTo(rs->list_cxt);
		if (isnull || !OidIsValid(elem))
		{
			list_add(rs, type, v, isnull, &cap);
			continue;
		}
		RangeArrayElements(v, elem, &elems, &nulls, &nelems);
		for (int j = 0; j < nelems; j++)
			list_add(rs, elem, elems[j], nulls[j], &cap);
	}
	/* sorted, duplicates dropped */
	order = (int *) palloc(sizeof(int) * Max(rs->list_n, 1));
	for (int i = 0; i < rs->list_n; i++)
		order[i] = i;
	qsort_arg(order, rs->list_n, sizeof(int), list_key_cmp, rs);
	keys = (char **) palloc(sizeof(char *) * Max(rs->list_n, 1));
	lens = (int *) palloc(sizeof(int) * Max(rs->list_n, 1));
	for (int i = 0; i < rs->list_n; i++)
	{
		if (n > 0 && list_key_cmp(&order[i], &order[i - 1], rs) == 0)
			continue;
		keys[n] = rs->list_key[order[i]];
		lens[n] = rs->list_len[order[i]];
		n++;
	}
	rs->list_key = keys;
	rs->list_len = lens;
	rs->list_n = n;
	MemoryContextSwitchTo(old);
}

/* start_list_stream starts stream st on the list's account i. */
static void
start_list_stream(RangeScanState *rs, RangeStream *st, int i)
{
	StringInfoData prefix;

	prefix.data = rs->list_key[i];
	prefix.len = rs->list_len[i];
	prefix.maxlen = prefix.len + 1;
	prefix.cursor = 0;
	start_stream(rs, st, &prefix, &rs->lo_time, &rs->hi_time);
}

/* init_key_buffer makes key an empty StringInfo of 64 bytes (instead of
 * initStringInfo's 1 kB: a merge may hold thousands of streams). */
static void
init_key_buffer(StringInfo key)
{
	key->maxlen = 64;
	key->data = (char *) palloc(key->maxlen);
	resetStringInfo(key);
}

/*
 * ensure_streams makes room for n merged streams, each with a slot to read
 * its head's time. Runs when a scan starts, with no request in flight (the
 * array may move).
 */
static void
ensure_streams(RangeScanState *rs, int n)
{
	EState	   *estate = rs->css.ss.ps.state;
	MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);

	for (int i = 0; i < rs->nalloc; i++)
		forget_read_ahead(&rs->streams[i]);
	if (n > rs->nalloc)
	{
		rs->streams = (RangeStream *) repalloc(rs->streams, sizeof(RangeStream) * n);
		memset(&rs->streams[rs->nalloc], 0, sizeof(RangeStream) * (n - rs->nalloc));
		for (int i = rs->nalloc; i < n; i++)
		{
			/* keys are a few dozen bytes: small buffers (they grow if not) */
			init_key_buffer(&rs->streams[i].lo_key);
			init_key_buffer(&rs->streams[i].hi_key);
		}
		rs->nalloc = n;
	}
	for (int i = 0; i < n; i++)
		if (rs->streams[i].head_slot == NULL)
			rs->streams[i].head_slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rs->css.ss.ss_currentRelation),
															  &TTSOpsMinimalTuple);
	MemoryContextSwitchTo(old);
}

/*
 * list_seen tells whether the row in slot was returned already: whether it
 * touches an account of the list read before the current one (each event
 * has a key under every account it touches, and every stream reads the same
 * time window, so that account's stream returned it). Runs in the
 * per-tuple memory.
 */
static bool
list_seen(RangeScanState *rs, TupleTableSlot *slot)
{
	const RangeDecl *decl = &rs->decl;

	if (rs->list_pos == 0)
		return false;
	for (int i = 0; i < decl->naccounts; i++)
	{
		bool		isnull;
		Datum		v = slot_getattr(slot, decl->account_attnum[i], &isnull);
		Datum	   *elems = &v;
		bool	   *nulls = &isnull;
		int			n = 1;

		if (!isnull && decl->account_is_array[i])
			RangeArrayElements(v, decl->account_elem_type[i], &elems, &nulls, &n);
		for (int j = 0; j < n; j++)
		{
			int			lo = 0;
			int			hi = rs->list_pos;	/* the accounts read before */

			if (nulls[j])
				continue;
			resetStringInfo(&rs->probe);
			RangeAppendDeclaration(decl, &rs->probe);
			if (!RangeEncodeAccount(decl, decl->account_elem_type[i], elems[j], &rs->probe, true))
				continue;
			while (lo < hi)
			{
				int			mid = (lo + hi) / 2;
				int			c = key_cmp(rs->list_key[mid], rs->list_len[mid], rs->probe.data,
										rs->probe.len);

				if (c == 0)
					return true;
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
	}
	return false;
}

/* start_streams evaluates the bounds and starts one stream per distinct
 * account value (one stream without accounts, and for a list of accounts
 * one for its first); sets rs->nstreams, 0 if the range is empty (a NULL
 * bound, no account value that can match). */
static void
start_streams(RangeScanState *rs)
{
	StringInfo	prefix = &rs->prefix;
	StringInfo	lo_time = &rs->lo_time;
	StringInfo	hi_time = &rs->hi_time;
	Datum		v;

	rs->nstreams = 0;
	rs->batch_cap = 0;
	resetStringInfo(prefix);
	resetStringInfo(lo_time);
	resetStringInfo(hi_time);
	if (rs->flags & RF_LO)
	{
		if (!eval_bound(rs, rs->lo, &v))
			return;
		append_time(lo_time, RangeTimeValue(&rs->decl, exprType((Node *) rs->lo->expr), v),
					(rs->flags & RF_LO_STRICT) != 0);
	}
	if (rs->flags & RF_HI)
	{
		if (!eval_bound(rs, rs->hi, &v))
			return;
		append_time(hi_time, RangeTimeValue(&rs->decl, exprType((Node *) rs->hi->expr), v),
					!(rs->flags & RF_HI_STRICT));
	}
	else
		appendStringInfoChar(hi_time, (char) (ledger_am::kTimeNull + 1));
	if (!(rs->flags & RF_ACCOUNT))
	{
		RangeAppendDeclaration(&rs->decl, prefix);
		start_stream(rs, &rs->streams[0], prefix, lo_time, hi_time);
		rs->nstreams = 1;
		return;
	}
	start_list(rs);
	if (rs->flags & RF_LIST_SEQUENTIAL)
	{
		if (rs->list_n > 0)
		{
			start_list_stream(rs, &rs->streams[0], 0);
			rs->nstreams = 1;
		}
		return;
	}
	/* a stream per account (merged when several), each asking for its share
	 * of a buffer's rows when there are many */
	if (rs->list_n > 1)
		ensure_streams(rs, rs->list_n);
	if (rs->list_n > kMaxAccountStreams)
		rs->batch_cap = Max(1u, 4096 / (uint32) rs->list_n);
	for (int i = 0; i < rs->list_n; i++)
		start_list_stream(rs, &rs->streams[i], i);
	rs->nstreams = rs->list_n;
}

/* put_bounds writes the request's key bounds into a slot's data buffer. */
static void
put_bounds(const RangeStream *st, ledger_am::ChannelSlot *slot, uint8 space)
{
	char	   *data = ledger_am::ChannelSlotData(slot);
	uint16		len;

	data[0] = (char) space;
	len = (uint16) st->lo_key.len;
	memcpy(data + 1, &len, 2);
	memcpy(data + 3, st->lo_key.data, len);
	len = (uint16) st->hi_key.len;
	memcpy(data + 3 + st->lo_key.len, &len, 2);
	memcpy(data + 5 + st->lo_key.len, st->hi_key.data, len);
	slot->data_len = 5 + st->lo_key.len + st->hi_key.len;
}

/*
 * choose_sweep decides how an unordered time window is read. Rows appended
 * in time order make a window one run of row ids: reading that run like a
 * sequential scan (the qual drops the few rows outside the window) beats
 * fetching rows key by key. The worker counts the window's keys and their
 * smallest and largest row ids; a run at most 4x the window (plus a little)
 * is swept, anything sparser is read through the keys.
 */
static void
choose_sweep(RangeScanState *rs)
{
	RangeStream *st = &rs->streams[0];
	ledger_am::ChannelSlot *slot = ChannelBegin();
	uint64		nkeys;
	uint64		min_row;
	uint64		max_row;

	put_bounds(st, slot, ledger_am::kTimeSpace);
	slot->table = rs->table;
	slot->flags = 0;
	slot->arg1 = 0;
	(void) ChannelCall(slot, ledger_am::kOpRangeBounds, "measuring a time window");
	nkeys = slot->arg1;
	min_row = slot->out1;
	max_row = slot->out2;
	ChannelEnd(slot);
	if (nkeys == 0)
	{
		st->done = true;
		return;
	}
	if (max_row - min_row + 1 <= 4 * nkeys + 1024)
	{
		rs->sweep = true;
		rs->sweep_from = min_row;
		rs->sweep_to = max_row + 1;
	}
}

/* sweep_request begins a kOpScan request for the rest of the sweep's row
 * id run. */
static ledger_am::ChannelSlot *
sweep_request(RangeScanState *rs)
{
	return ChannelScanRequest(rs->table, rs->sweep_from, rs->sweep_to, false, false);
}

/* absorb_sweep_read_ahead takes a sweep's read-ahead answer into the
 * stream's next_chunk. */
static void
absorb_sweep_read_ahead(void *arg, ledger_am::ChannelSlot *slot)
{
	RangeStream *st = (RangeStream *) arg;

	ChannelTakeScanAnswer(slot, st->next_chunk, &st->next_len, &st->next_resume, &st->next_done,
						  &st->next_frozen);
	st->requested = false;
	st->next_ready = true;
}

/*
 * take_range_answer moves a range scan answer from the channel slot into
 * dest and moves the stream's bounds past it. Runs inside ChannelAwaitAsync
 * for read-ahead answers, so it must not fail: the key buffers were made
 * large enough for any resume key before the request was posted.
 */
static void
take_range_answer(RangeStream *st, ledger_am::ChannelSlot *slot, char *dest, Size *len,
				  uint64 *frozen_below, bool *done)
{
	char	   *data = ledger_am::ChannelSlotData(slot);
	size_t		resume_len = (size_t) slot->out2;

	memcpy(dest, data, slot->data_len);
	*len = slot->data_len;
	*frozen_below = slot->out1;
	*done = (slot->out_flags & ledger_am::kScanDone) != 0;
	if (!*done)
	{
		const char *resume = ledger_am::RangeResumeKey(data, ledger_channel->buffer_size);

		if (st->backward)
		{
			resetStringInfo(&st->hi_key);
			appendBinaryStringInfo(&st->hi_key, resume, (int) resume_len);
		}
		else
		{
			resetStringInfo(&st->lo_key);
			appendBinaryStringInfo(&st->lo_key, resume, (int) resume_len);
			appendStringInfoChar(&st->lo_key, '\0');	/* strictly after it */
		}
	}
}

/* absorb_read_ahead takes a read-ahead answer into the stream's next_chunk. */
static void
absorb_read_ahead(void *arg, ledger_am::ChannelSlot *slot)
{
	RangeStream *st = (RangeStream *) arg;

	take_range_answer(st, slot, st->next_chunk, &st->next_len, &st->next_frozen, &st->next_done);
	st->requested = false;
	st->next_ready = true;
}

/* post_range_request fills a slot with the stream's next request. */
static ledger_am::ChannelSlot *
post_range_request(RangeScanState *rs, RangeStream *st)
{
	ledger_am::ChannelSlot *slot;
	uint8		space = (rs->flags & RF_ACCOUNT) ? ledger_am::kAccountSpace : ledger_am::kTimeSpace;

	if (st->lo_key.len > (int) ledger_am::kMaxRangeKeySuffix + 1 ||
		st->hi_key.len > (int) ledger_am::kMaxRangeKeySuffix + 1)
		elog(ERROR, "ledger_am range scan bound too long");
	slot = ChannelBegin();
	put_bounds(st, slot, space);
	slot->table = rs->table;
	slot->flags = st->backward ? ledger_am::kScanBackward : 0;
	slot->arg1 = st->batch_rows;
	/* Grow requests: LIMIT-sized reads first, then whole buffers. */
	st->batch_rows = st->batch_rows >= 4096 ? 0 : st->batch_rows * 4;
	cap_batch(rs, st);
	return slot;
}

/*
 * read_ahead_wanted: whether a stream should ask for its next chunk before
 * it needs it. Then the worker reads that chunk while this backend returns
 * the current one: on an idle machine a 200-row account window costs about
 * the backend's time instead of the backend's plus the worker's. Only for
 * a lone stream (or a time window's sweep) that will be read to its end
 * (no LIMIT or join that could stop it early: first_batch 0), and only
 * while at most one client is active: with more, the CPUs are busy anyway
 * and each extra request is one more wake-up to pay for.
 */
static bool
read_ahead_wanted(RangeScanState *rs)
{
	return rs->first_batch == 0 && rs->nstreams == 1 && ledger_am::LoneClient(ledger_channel);
}

/* start_read_ahead asks for the stream's next chunk (the sweep's next row
 * ids, or the next keys) without waiting. */
static void
start_read_ahead(RangeScanState *rs, RangeStream *st)
{
	ledger_am::ChannelSlot *slot;

	/* the answer arrives while nothing may be allocated: room for any */
	ensure_buffer(rs, st, &st->next_chunk, &st->next_size, rs->chunk_cap);
	if (rs->sweep)
	{
		st->requested = true;
		ChannelPostAsync(sweep_request(rs), ledger_am::kOpScan, absorb_sweep_read_ahead, st);
		return;
	}
	/* take_range_answer may not allocate: room for the longest resume key */
	enlargeStringInfo(&st->lo_key, (int) ledger_am::kMaxRangeKeySuffix + 2);
	enlargeStringInfo(&st->hi_key, (int) ledger_am::kMaxRangeKeySuffix + 2);
	slot = post_range_request(rs, st);
	st->requested = true;
	ChannelPostAsync(slot, ledger_am::kOpRangeScan, absorb_read_ahead, st);
}

/* take_read_ahead makes the stream's read-ahead answer, if there is one,
 * its current chunk (waiting for it if still in flight). */
static bool
take_read_ahead(RangeStream *st)
{
	char	   *tmp = st->chunk;
	Size		tmp_size = st->chunk_size;

	ChannelAwaitAsyncOf(st);
	if (!st->next_ready)
		return false;
	st->chunk = st->next_chunk;
	st->chunk_size = st->next_size;
	st->next_chunk = tmp;
	st->next_size = tmp_size;
	st->chunk_len = st->next_len;
	st->frozen_below = st->next_frozen;
	st->done = st->next_done;
	st->next_ready = false;
	return true;
}

/* fetch_chunk makes the stream's next rows its current chunk: the
 * read-ahead's, else a request's made now (the sweep's next row ids, or the
 * next keys), then asks ahead for the chunk after it. */
static void
fetch_chunk(RangeScanState *rs, RangeStream *st)
{
	if (take_read_ahead(st))
	{
		if (rs->sweep)
			rs->sweep_from = st->next_resume;
	}
	else if (rs->sweep)
	{
		ledger_am::ChannelSlot *slot = sweep_request(rs);

		(void) ChannelCall(slot, ledger_am::kOpScan, "scanning a time window");
		ensure_buffer(rs, st, &st->chunk, &st->chunk_size, slot->data_len);
		ChannelTakeScanAnswer(slot, st->chunk, &st->chunk_len, &rs->sweep_from, &st->done, &st->frozen_below);
		ChannelEnd(slot);
	}
	else
	{
		ledger_am::ChannelSlot *slot = post_range_request(rs, st);

		(void) ChannelCall(slot, ledger_am::kOpRangeScan, "scanning a range");
		ensure_buffer(rs, st, &st->chunk, &st->chunk_size, slot->data_len);
		take_range_answer(st, slot, st->chunk, &st->chunk_len, &st->frozen_below, &st->done);
		ChannelEnd(slot);
	}
	st->chunk_pos = 0;
	if (!st->done && read_ahead_wanted(rs))
		start_read_ahead(rs, st);
}

/* stream_next finds a stream's next row visible to the snapshot (in its
 * chunk, valid until the stream's next fetch); false at its end. */
static bool
stream_next(RangeScanState *rs, RangeStream *st, Snapshot snapshot, uint64 *row_id,
			const char **value, uint32 *len)
{
	for (;;)
	{
		if (st->chunk_pos < st->chunk_len)
		{
			ledger_am::RecordReader reader(st->chunk + st->chunk_pos, st->chunk_len - st->chunk_pos);
			ledger_am::RowHeader hdr;

			if (!reader.Next(row_id, value, len) || !ledger_am::DecodeRowHeader(*value, *len, &hdr))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("ledger_am received a malformed range scan chunk")));
			st->chunk_pos += ledger_am::RecordSize(*len);
			if (RowIsVisibleAt(*row_id, st->frozen_below, hdr, snapshot))
				return true;
			continue;
		}
		if (st->done)
			return false;
		CHECK_FOR_INTERRUPTS();
		fetch_chunk(rs, st);
	}
}

/* load_head moves a merged stream to its next visible row and reads the
 * row's time, the merge key. */
static void
load_head(RangeScanState *rs, RangeStream *st, Relation rel, Snapshot snapshot)
{
	Datum		t;

	st->has_head = stream_next(rs, st, snapshot, &st->head_row, &st->head_value, &st->head_len);
	if (!st->has_head)
		return;
	RowStoreInSlot(st->head_slot, rel, st->head_row, st->head_value, st->head_len);
	t = slot_getattr(st->head_slot, rs->decl.ts_attnum, &st->head_null);
	st->head_time = st->head_null ? 0 : RangeTimeMicros(&rs->decl, t);
}

/* head_before: whether a's head comes before b's in key order (time, NULL
 * last, then row id). */
static bool
head_before(const RangeStream *a, const RangeStream *b)
{
	if (a->head_null != b->head_null)
		return b->head_null;
	if (!a->head_null && a->head_time != b->head_time)
		return a->head_time < b->head_time;
	return a->head_row < b->head_row;
}

static int	heads_cmp(Datum a, Datum b, void *arg);

/* prepare_merge makes room in rs->heap and rs->pending for the streams to
 * merge; the first pick loads their heads. */
static void
prepare_merge(RangeScanState *rs)
{
	if (rs->heap_cap < rs->nstreams)
	{
		MemoryContext old = MemoryContextSwitchTo(rs->css.ss.ps.state->es_query_cxt);

		if (rs->heap != NULL)
		{
			binaryheap_free(rs->heap);
			pfree(rs->pending);
		}
		rs->heap = binaryheap_allocate(rs->nstreams, heads_cmp, rs);
		rs->pending = (int *) palloc(sizeof(int) * rs->nstreams);
		rs->heap_cap = rs->nstreams;
		MemoryContextSwitchTo(old);
	}
	rs->merging = false;
	rs->npending = 0;
}

/* heads_cmp orders merged streams (by index) for rs->heap, which returns
 * its largest first: the head that comes first in the scan's direction. */
static int
heads_cmp(Datum a, Datum b, void *arg)
{
	RangeScanState *rs = (RangeScanState *) arg;
	const RangeStream *x = &rs->streams[DatumGetInt32(a)];
	const RangeStream *y = &rs->streams[DatumGetInt32(b)];
	bool		backward = (rs->flags & RF_BACKWARD) != 0;

	if (backward ? head_before(y, x) : head_before(x, y))
		return 1;
	if (backward ? head_before(x, y) : head_before(y, x))
		return -1;
	return 0;
}

/* range_next returns the next visible row of the scan. */
static TupleTableSlot *
range_next(ScanState *ss)
{
	RangeScanState *rs = (RangeScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	Relation	rel = ss->ss_currentRelation;
	Snapshot	snapshot = ss->ps.state->es_snapshot;
	RangeStream *best = NULL;
	uint64		row_id;
	const char *value;
	uint32		len;

	ExecClearTuple(slot);
	if (!rs->started)
	{
		rs->started = true;
		rs->sweep = false;
		start_streams(rs);
		if (rs->nstreams == 1 && (rs->flags & RF_UNORDERED))
			choose_sweep(rs);
		if (rs->nstreams > 1)
			prepare_merge(rs);
		/* Reading ahead, start small so the worker's and this backend's
		 * work overlap from the first rows on. */
		if (read_ahead_wanted(rs))
			rs->streams[0].batch_rows = kReadAheadFirstRows;
	}
	if (rs->flags & RF_LIST_SEQUENTIAL)
	{
		/* One account after another; a row under several of them is
		 * returned under the first. */
		while (rs->nstreams == 1)
		{
			MemoryContext old;
			bool		seen;

			if (!stream_next(rs, &rs->streams[0], snapshot, &row_id, &value, &len))
			{
				if (++rs->list_pos >= rs->list_n)
					break;
				start_list_stream(rs, &rs->streams[0], rs->list_pos);
				continue;
			}
			RowStoreInSlot(slot, rel, row_id, value, len);
			old = MemoryContextSwitchTo(rs->css.ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
			seen = list_seen(rs, slot);
			MemoryContextSwitchTo(old);
			if (!seen)
			{
				pgstat_count_heap_fetch(rel);
				return slot;
			}
			ExecClearTuple(slot);
		}
		return slot;			/* end of the list (or an empty one) */
	}
	if (rs->nstreams == 1)
	{
		if (!stream_next(rs, &rs->streams[0], snapshot, &row_id, &value, &len))
			return slot;		/* empty: end of scan */
		RowStoreInSlot(slot, rel, row_id, value, len);
		pgstat_count_heap_fetch(rel);
		return slot;
	}

	if (rs->nstreams == 0)
		return slot;			/* no account value can match */

	/*
	 * Several accounts: merge their streams through a heap of their heads.
	 * The row returned last is still in use until now, so the streams it
	 * came from (out of the heap, in rs->pending) move on only here.
	 */
	if (!rs->merging)
	{
		binaryheap_reset(rs->heap);
		for (int i = 0; i < rs->nstreams; i++)
		{
			load_head(rs, &rs->streams[i], rel, snapshot);
			if (rs->streams[i].has_head)
				binaryheap_add_unordered(rs->heap, Int32GetDatum(i));
		}
		binaryheap_build(rs->heap);
		rs->merging = true;
	}
	for (int k = 0; k < rs->npending; k++)
	{
		RangeStream *st = &rs->streams[rs->pending[k]];

		load_head(rs, st, rel, snapshot);
		if (st->has_head)
			binaryheap_add(rs->heap, Int32GetDatum(rs->pending[k]));
	}
	rs->npending = 0;
	if (binaryheap_empty(rs->heap))
		return slot;			/* every stream ended (or none started) */
	rs->pending[rs->npending++] = DatumGetInt32(binaryheap_remove_first(rs->heap));
	best = &rs->streams[rs->pending[0]];
	/* the same row under several of the accounts: returned once */
	while (!binaryheap_empty(rs->heap) &&
		   rs->streams[DatumGetInt32(binaryheap_first(rs->heap))].head_row == best->head_row)
		rs->pending[rs->npending++] = DatumGetInt32(binaryheap_remove_first(rs->heap));
	RowStoreInSlot(slot, rel, best->head_row, best->head_value, best->head_len);
	pgstat_count_heap_fetch(rel);
	return slot;
}

/* range_recheck: every qual is in the plan's qual list, checked by ExecScan. */
static bool
range_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
exec_range_scan(CustomScanState *node)
{
	return ExecScan(&node->ss, range_next, range_recheck);
}

static void
end_range_scan(CustomScanState *node)
{
	RangeScanState *rs = (RangeScanState *) node;

	for (int i = 0; i < rs->nalloc; i++)
	{
		RangeStream *st = &rs->streams[i];

		forget_read_ahead(st);
		if (st->chunk)
			pfree(st->chunk);
		if (st->next_chunk)
			pfree(st->next_chunk);
		st->chunk = st->next_chunk = NULL;
		st->chunk_size = st->next_size = 0;
	}
}

static void
rescan_range_scan(CustomScanState *node)
{
	RangeScanState *rs = (RangeScanState *) node;

	rs->started = false;
	rs->nstreams = 0;
	ExecScanReScan(&node->ss);
}

static void
explain_range_scan(CustomScanState *node, List *ancestors, ExplainState *es)
{
	RangeScanState *rs = (RangeScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	List	   *context = set_deparse_context_plan(es->deparse_cxt, node->ss.ps.plan, ancestors);
	const RangeDecl *decl = RangeDeclGet(rel);
	StringInfoData cond;
	char	   *ts_name;

	if (decl == NULL)
		return;
	ts_name = get_attname(RelationGetRelid(rel), decl->ts_attnum, false);
	initStringInfo(&cond);
	if ((rs->flags & RF_ACCOUNT) && list_length(cscan->custom_exprs) == 3 &&
		OidIsValid(get_element_type(exprType((Node *) lthird(cscan->custom_exprs)))))
		appendStringInfo(&cond, "account = ANY (%s)",
						 deparse_expression((Node *) lthird(cscan->custom_exprs), context, true, false));
	else if ((rs->flags & RF_ACCOUNT) && list_length(cscan->custom_exprs) == 3)
		appendStringInfo(&cond, "account = %s",
						 deparse_expression((Node *) lthird(cscan->custom_exprs), context, true, false));
	else if (rs->flags & RF_ACCOUNT)
	{
		ListCell   *lc;

		/* an OR of accounts: one merged key stream each */
		appendStringInfoString(&cond, "account IN (");
		for_each_from(lc, cscan->custom_exprs, 2)
			appendStringInfo(&cond, "%s%s", foreach_current_index(lc) > 2 ? ", " : "",
							 deparse_expression((Node *) lfirst(lc), context, true, false));
		appendStringInfoChar(&cond, ')');
	}
	if (rs->flags & RF_LO)
		appendStringInfo(&cond, "%s%s %s %s", cond.len ? ", " : "", quote_identifier(ts_name),
						 (rs->flags & RF_LO_STRICT) ? ">" : ">=",
						 deparse_expression((Node *) linitial(cscan->custom_exprs), context, true, false));
	if (rs->flags & RF_HI)
		appendStringInfo(&cond, "%s%s %s %s", cond.len ? ", " : "", quote_identifier(ts_name),
						 (rs->flags & RF_HI_STRICT) ? "<" : "<=",
						 deparse_expression((Node *) lsecond(cscan->custom_exprs), context, true, false));
	ExplainPropertyText("Range", cond.len ? cond.data : "all", es);
	ExplainPropertyText("Keys", (rs->flags & RF_ACCOUNT) ? "account, time" : "time", es);
	ExplainPropertyText("Direction", (rs->flags & RF_UNORDERED) ? "unordered (row id runs)"
						: (rs->flags & RF_LIST_SEQUENTIAL) ? "unordered (one account after another)"
						: (rs->flags & RF_BACKWARD) ? "backward" : "forward", es);
}

void
ledger_install_range_scan(void)
{
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = ledger_set_rel_pathlist;
	RegisterCustomScanMethods(&range_scan_methods);
}
