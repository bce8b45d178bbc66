/*
 * mutation_guard.cc: refuses every statement that would change or remove
 * rows of a ledger_am table, before any row is touched.
 *
 * No table AM callback runs before rows flow (and an UPDATE matching nothing
 * would report "UPDATE 0"), so statements are checked up front: the planner
 * hook sees every target relation of every (sub)query and CTE, the
 * ExecutorStart hook catches cached plans and SPI, the utility hook handles
 * TRUNCATE, CLUSTER, VACUUM FULL and range declarations made or rebuilt
 * CONCURRENTLY, and the
 * table_rewrite event trigger (installed by the extension script) catches
 * ALTER TABLE forms that rewrite. The AM callbacks refuse too, as a backstop
 * (logical replication apply bypasses the executor).
 */
#include "backend/backend.h"
#include "backend/range.h"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
}

static planner_hook_type prev_planner_hook = NULL;
static ExecutorStart_hook_type prev_executor_start_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

void
LedgerRefuseByName(const char *relname, const char *operation)
{
	ereport(ERROR,
			(errcode(LEDGER_ERRCODE_APPEND_ONLY),
			 errmsg("ledger_am table \"%s\" is append-only: %s is not allowed", relname, operation),
			 errhint(LEDGER_APPEND_ONLY_HINT)));
}

void
LedgerRefuse(Relation rel, const char *operation)
{
	LedgerRefuseByName(RelationGetRelationName(rel), operation);
}

/* ledger_member returns relid or, when inh, a ledger_am table among its
 * inheritance children/partitions; InvalidOid if none is ledger_am. */
static Oid
ledger_member(Oid relid, bool inh)
{
	if (!OidIsValid(relid))
		return InvalidOid;
	if (RelidIsLedger(relid))
		return relid;
	if (inh && has_subclass(relid))
	{
		List	   *children = find_all_inheritors(relid, NoLock, NULL);
		ListCell   *lc;

		foreach(lc, children)
		{
			Oid			child = lfirst_oid(lc);

			if (child != relid && RelidIsLedger(child))
				return child;
		}
	}
	return InvalidOid;
}

/* refuse_rte refuses `operation` if the range table entry is (or, through
 * inheritance, contains) a ledger_am table. */
static void
refuse_rte(RangeTblEntry *rte, const char *operation)
{
	Oid			found;

	if (rte == NULL || rte->rtekind != RTE_RELATION)
		return;
	found = ledger_member(rte->relid, rte->inh || rte->relkind == RELKIND_PARTITIONED_TABLE);
	if (OidIsValid(found))
	{
		char	   *name = get_rel_name(found);

		LedgerRefuseByName(name ? name : "?", operation);
	}
}

/* rowmark_operation names a row-locking clause, or NULL if it is allowed
 * (FOR KEY SHARE, which foreign keys take, cannot conflict with anything an
 * immutable row allows). */
static const char *
rowmark_operation(LockClauseStrength strength)
{
	switch (strength)
	{
		case LCS_NONE:
		case LCS_FORKEYSHARE:
			return NULL;
		case LCS_FORSHARE:
			return "SELECT FOR SHARE";
		case LCS_FORNOKEYUPDATE:
			return "SELECT FOR NO KEY UPDATE";
		case LCS_FORUPDATE:
			return "SELECT FOR UPDATE";
	}
	return "SELECT FOR UPDATE";
}

/* check_query refuses the mutations one Query level asks for. */
static void
check_query(Query *q)
{
	ListCell   *lc;

	switch (q->commandType)
	{
		case CMD_UPDATE:
			refuse_rte(rt_fetch(q->resultRelation, q->rtable), "UPDATE");
			break;
		case CMD_DELETE:
			refuse_rte(rt_fetch(q->resultRelation, q->rtable), "DELETE");
			break;
		case CMD_MERGE:
			refuse_rte(rt_fetch(q->resultRelation, q->rtable), "MERGE");
			break;
		case CMD_INSERT:
			if (q->onConflict && q->onConflict->action == ONCONFLICT_UPDATE)
				refuse_rte(rt_fetch(q->resultRelation, q->rtable),
						   "INSERT ... ON CONFLICT DO UPDATE");
			break;
		default:
			break;
	}
	foreach(lc, q->rowMarks)
	{
		RowMarkClause *rc = (RowMarkClause *) lfirst(lc);
		const char *op = rowmark_operation(rc->strength);

		if (op)
			refuse_rte(rt_fetch(rc->rti, q->rtable), op);
	}
}

/* guard_walker visits every Query of a statement (subqueries, CTEs, sublinks). */
static bool
guard_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		check_query((Query *) node);
		return query_tree_walker((Query *) node, (bool (*)()) (void (*)(void)) guard_walker, context, 0);
	}
	return expression_tree_walker(node, (bool (*)()) (void (*)(void)) guard_walker, context);
}

/* ledger_planner refuses mutations before planning. */
static PlannedStmt *
ledger_planner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	(void) guard_walker((Node *) parse, NULL);
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

/* ledger_executor_start re-checks plans that skipped the planner (cached). */
static void
ledger_executor_start(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *stmt = queryDesc->plannedstmt;
	ListCell   *lc;

	if (stmt != NULL && !(eflags & EXEC_FLAG_EXPLAIN_ONLY))
	{
		const char *op = NULL;

		switch (stmt->commandType)
		{
			case CMD_UPDATE:
				op = "UPDATE";
				break;
			case CMD_DELETE:
				op = "DELETE";
				break;
			case CMD_MERGE:
				op = "MERGE";
				break;
			default:
				break;
		}
		if (op)
			foreach(lc, stmt->resultRelations)
				refuse_rte(rt_fetch(lfirst_int(lc), stmt->rtable), op);
		foreach(lc, stmt->rowMarks)
		{
			PlanRowMark *rm = (PlanRowMark *) lfirst(lc);

			if (rm->markType == ROW_MARK_EXCLUSIVE || rm->markType == ROW_MARK_NOKEYEXCLUSIVE ||
				rm->markType == ROW_MARK_SHARE)
				refuse_rte(rt_fetch(rm->rti, stmt->rtable),
						   rowmark_operation(rm->strength) ? rowmark_operation(rm->strength)
						   : "SELECT FOR UPDATE");
		}
	}
	if (prev_executor_start_hook)
		prev_executor_start_hook(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/* refuse_rangevar refuses `operation` on a named relation that is (or
 * contains) a ledger_am table. */
static void
refuse_rangevar(RangeVar *rv, const char *operation)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	Oid			found = ledger_member(relid, rv->inh);

	if (OidIsValid(found))
	{
		char	   *name = get_rel_name(found);

		LedgerRefuseByName(name ? name : rv->relname, operation);
	}
}

/* any_relation tells whether some relation of access method amoid satisfies
 * match (a predicate on its pg_class row). */
template <typename Match>
static bool
any_relation(Oid amoid, Match match)
{
	Relation	classrel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (!OidIsValid(amoid))
		return false;
	classrel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(classrel, 0, NULL);
	while (!found && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		found = form->relam == amoid && match(form);
	}
	table_endscan(scan);
	table_close(classrel, AccessShareLock);
	return found;
}

/* any_ledger_table tells whether the database (or one schema of it) holds a
 * ledger_am table. */
static bool
any_ledger_table(Oid nspoid)
{
	return any_relation(get_am_oid("ledger_am", true), [nspoid](Form_pg_class form) {
		return form->relkind == RELKIND_RELATION &&
			(!OidIsValid(nspoid) || form->relnamespace == nspoid);
	});
}

/*
 * reindex_rebuilds_declaration tells whether a REINDEX would rebuild a range
 * declaration (a ledger_range index): the index named, one of the table's
 * or its partitions', or any in the schema or database.
 */
static bool
reindex_rebuilds_declaration(ReindexStmt *rs)
{
	Oid			range_am = LedgerRangeAmOid();
	Oid			nspoid = InvalidOid;
	List	   *tables = NIL;

	if (!OidIsValid(range_am))
		return false;
	if (rs->kind == REINDEX_OBJECT_INDEX || rs->kind == REINDEX_OBJECT_TABLE)
	{
		Oid			relid = RangeVarGetRelid(rs->relation, NoLock, true);

		if (!OidIsValid(relid))
			return false;
		if (rs->kind == REINDEX_OBJECT_INDEX)
		{
			HeapTuple	t = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
			bool		declaration = HeapTupleIsValid(t) &&
				((Form_pg_class) GETSTRUCT(t))->relam == range_am;

			if (HeapTupleIsValid(t))
				ReleaseSysCache(t);
			return declaration;
		}
		tables = find_all_inheritors(relid, NoLock, NULL);
	}
	else if (rs->kind == REINDEX_OBJECT_SCHEMA &&
			 !OidIsValid(nspoid = get_namespace_oid(rs->name, true)))
		return false;
	return any_relation(range_am, [tables, nspoid](Form_pg_class form) {
		if (tables != NIL)
			return list_member_oid(tables, IndexGetRelation(form->oid, true));
		return !OidIsValid(nspoid) || form->relnamespace == nspoid;
	});
}

/* vacuum_full_all_but_ledger turns a database-wide VACUUM FULL into one over
 * every table except ledger_am tables, which have nothing to reclaim and
 * cannot be rewritten. Returns the statement to run. */
static PlannedStmt *
vacuum_full_all_but_ledger(PlannedStmt *pstmt, bool readOnlyTree)
{
	Oid			amoid = get_am_oid("ledger_am", true);
	VacuumStmt *vs;
	Relation	classrel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *rels = NIL;

	if (!OidIsValid(amoid) || !any_ledger_table(InvalidOid))
		return pstmt;
	if (readOnlyTree)
		pstmt = (PlannedStmt *) copyObjectImpl(pstmt);
	vs = (VacuumStmt *) pstmt->utilityStmt;
	classrel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(classrel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);
		Oid			relid = form->oid;

		if ((form->relkind != RELKIND_RELATION && form->relkind != RELKIND_MATVIEW) ||
			form->relam == amoid || form->relpersistence == RELPERSISTENCE_TEMP)
			continue;
		/* What a database-wide VACUUM would silently skip. */
		if (!(pg_class_ownercheck(relid, GetUserId()) ||
			  (pg_database_ownercheck(MyDatabaseId, GetUserId()) && !form->relisshared)))
			continue;
		rels = lappend(rels, makeVacuumRelation(makeRangeVar(get_namespace_name(form->relnamespace),
															 pstrdup(NameStr(form->relname)), -1),
												relid, NIL));
	}
	table_endscan(scan);
	table_close(classrel, AccessShareLock);
	vs->rels = rels;
	return pstmt;
}

/* vacuum_is_full tells whether a VACUUM statement has the FULL option. */
static bool
vacuum_is_full(VacuumStmt *vs)
{
	ListCell   *lc;
	bool		full = false;

	foreach(lc, vs->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "full") == 0)
			full = opt->arg == NULL || defGetBoolean(opt);
	}
	return full;
}

/* get_relfilenode reads a relation's current relfilenode from pg_class. */
static Oid
get_relfilenode(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			node = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		node = ((Form_pg_class) GETSTRUCT(tup))->relfilenode;
		ReleaseSysCache(tup);
	}
	return node;
}

/* check_utility refuses utility statements that would remove or rewrite rows. */
static void
check_utility(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_TruncateStmt:
			foreach(lc, ((TruncateStmt *) parsetree)->relations)
				refuse_rangevar((RangeVar *) lfirst(lc), "TRUNCATE");
			break;
		case T_ClusterStmt:
			if (((ClusterStmt *) parsetree)->relation)
				refuse_rangevar(((ClusterStmt *) parsetree)->relation, "CLUSTER");
			break;
		case T_VacuumStmt:
			{
				VacuumStmt *vs = (VacuumStmt *) parsetree;

				if (vacuum_is_full(vs))
					foreach(lc, vs->rels)
						refuse_rangevar(((VacuumRelation *) lfirst(lc))->relation, "VACUUM FULL");
				break;
			}
		case T_ReindexStmt:
			{
				ReindexStmt *rs = (ReindexStmt *) parsetree;
				bool		concurrently = false;

				foreach(lc, rs->params)
				{
					DefElem    *opt = (DefElem *) lfirst(lc);

					if (strcmp(opt->defname, "concurrently") == 0)
						concurrently = opt->arg == NULL || defGetBoolean(opt);
				}
				/* Other indexes of ledger_am tables are rebuilt concurrently
				 * like heap's (the table AM's validate scan). */
				if (concurrently && reindex_rebuilds_declaration(rs))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("a ledger_range declaration cannot be rebuilt concurrently"),
							 errhint("Use REINDEX without CONCURRENTLY: the declaration's keys "
									 "are rebuilt in one transaction.")));
				break;
			}
		case T_AlterTableStmt:
			{
				AlterTableStmt *as = (AlterTableStmt *) parsetree;

				foreach(lc, as->cmds)
				{
					AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

					if (cmd->subtype == AT_ClusterOn)
						refuse_rangevar(as->relation, "CLUSTER");
				}
				break;
			}
		case T_IndexStmt:
			{
				IndexStmt  *is = (IndexStmt *) parsetree;

				/* Other indexes are built concurrently like heap's (the
				 * table AM's validate scan); a range declaration backfills
				 * its keys in one transaction. */
				if (is->concurrent && is->relation && is->accessMethod &&
					strcmp(is->accessMethod, "ledger_range") == 0 &&
					OidIsValid(ledger_member(RangeVarGetRelid(is->relation, NoLock, true), false)))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("a ledger_range declaration cannot be created concurrently"),
							 errhint("Use CREATE INDEX without CONCURRENTLY: the declaration's keys "
									 "are backfilled in one transaction.")));
				break;
			}
		default:
			break;
	}
}

/* ledger_process_utility checks utility statements and sweeps the storage of
 * a dropped database once DROP DATABASE has succeeded. */
static void
ledger_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					   ProcessUtilityContext context, ParamListInfo params,
					   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	Oid			dropped_db = InvalidOid;

	Oid			altered = InvalidOid;
	Oid			relfilenode_before = InvalidOid;

	check_utility(parsetree);
	if (IsA(parsetree, DropdbStmt))
		dropped_db = get_database_oid(((DropdbStmt *) parsetree)->dbname, true);
	if (IsA(parsetree, VacuumStmt) && ((VacuumStmt *) parsetree)->rels == NIL &&
		vacuum_is_full((VacuumStmt *) parsetree))
	{
		pstmt = vacuum_full_all_but_ledger(pstmt, readOnlyTree);
		parsetree = pstmt->utilityStmt;
	}
	if (IsA(parsetree, AlterTableStmt))
	{
		/* Backstop for the rewrite event trigger (which a superuser can disable). */
		altered = RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation, NoLock, true);
		if (OidIsValid(altered) && RelidIsLedger(altered))
			relfilenode_before = get_relfilenode(altered);
		else
			altered = InvalidOid;
	}

	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv,
								  dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv,
								dest, qc);

	LedgerCheckPublications(parsetree);
	if (OidIsValid(altered))
	{
		CommandCounterIncrement();
		if (get_relfilenode(altered) != relfilenode_before)
		{
			char	   *name = get_rel_name(altered);

			LedgerRefuseByName(name ? name : "?", "ALTER TABLE that rewrites the table");
		}
	}

	/* DROP DATABASE cannot run in a transaction block: it is done now. */
	if (OidIsValid(dropped_db) && !OidIsValid(get_database_oid(((DropdbStmt *) parsetree)->dbname, true)))
		(void) ChannelCallNoError(ledger_am::kOpDropDatabase, NULL, dropped_db, 0, 5000);
}

extern "C" {
PG_FUNCTION_INFO_V1(ledger_am_refuse_rewrite);
}

/* ledger_am_refuse_rewrite is the table_rewrite event trigger: ALTER TABLE
 * forms that rewrite a ledger_am table are refused. */
extern "C" Datum
ledger_am_refuse_rewrite(PG_FUNCTION_ARGS)
{
	LOCAL_FCINFO(inner, 0);
	Oid			relid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ledger_am.refuse_rewrite() must be called as an event trigger")));
	InitFunctionCallInfoData(*inner, NULL, 0, InvalidOid, NULL, NULL);
	relid = DatumGetObjectId(pg_event_trigger_table_rewrite_oid(inner));
	if (RelidIsLedger(relid))
	{
		char	   *name = get_rel_name(relid);

		LedgerRefuseByName(name ? name : "?", "ALTER TABLE that rewrites the table");
	}
	PG_RETURN_VOID();
}

void
ledger_install_mutation_guard(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = ledger_planner;
	prev_executor_start_hook = ExecutorStart_hook;
	ExecutorStart_hook = ledger_executor_start;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = ledger_process_utility;
}
