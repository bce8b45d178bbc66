/*
 * publication_guard.cc: keeps ledger_am tables out of logical replication,
 * which would copy them once and then miss every later insert.
 *
 * Logical decoding reads heap WAL records (and the logical messages of
 * transactions). ledger_am stores rows in RocksDB; the batches its storage
 * worker logs in Postgres' WAL belong to no database and are not decoded.
 * A subscriber to a publication holding a ledger_am table would receive the
 * initial table copy (a plain scan) and then nothing, without any error. So:
 *
 *   - CREATE / ALTER PUBLICATION that names a ledger_am table, a partitioned
 *     table with a ledger_am partition, or a schema holding one fails.
 *   - A FOR ALL TABLES publication cannot leave tables out; creating one
 *     while ledger_am tables exist warns, naming one.
 *   - A new ledger_am table that a publication covers implicitly (FOR ALL
 *     TABLES, a published schema, a published partitioned parent) warns.
 *
 * Called from the utility hook (mutation_guard.cc) after the statement ran,
 * inside its transaction: an error undoes it.
 */
#include "backend/backend.h"

extern "C" {
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_publication.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

#define LEDGER_PUBLICATION_DETAIL \
	"Logical replication decodes heap WAL records; ledger_am stores its rows in RocksDB, " \
	"so a subscriber would receive the table's first copy and none of its later inserts."
#define LEDGER_PUBLICATION_HINT \
	"Publish the other tables by name, and copy ledger_am events to other servers with COPY or pg_dump."

/* first_ledger returns the first ledger_am table among relids, or InvalidOid. */
static Oid
first_ledger(List *relids, int *count)
{
	ListCell   *lc;
	Oid			found = InvalidOid;

	*count = 0;
	foreach(lc, relids)
	{
		if (!RelidIsLedger(lfirst_oid(lc)))
			continue;
		if (!OidIsValid(found))
			found = lfirst_oid(lc);
		(*count)++;
	}
	return found;
}

/* check_publication refuses a publication that lists ledger_am tables by
 * table or schema, and warns about one that covers them as all tables. */
static void
check_publication(const char *pubname)
{
	Publication *pub = GetPublicationByName(pubname, true);
	ListCell   *lc;
	Oid			found;
	int			count;

	if (pub == NULL)
		return;					/* dropped, or renamed by this statement */
	found = first_ledger(GetPublicationRelations(pub->oid, PUBLICATION_PART_ALL), &count);
	if (OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ledger_am table \"%s\" cannot be published", get_rel_name(found)),
				 errdetail(LEDGER_PUBLICATION_DETAIL),
				 errhint(LEDGER_PUBLICATION_HINT)));
	foreach(lc, GetPublicationSchemas(pub->oid))
	{
		Oid			nsp = lfirst_oid(lc);

		found = first_ledger(GetSchemaPublicationRelations(nsp, PUBLICATION_PART_ALL), &count);
		if (OidIsValid(found))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("schema \"%s\" cannot be published: it holds ledger_am table \"%s\"",
							get_namespace_name(nsp), get_rel_name(found)),
					 errdetail(LEDGER_PUBLICATION_DETAIL),
					 errhint(LEDGER_PUBLICATION_HINT)));
	}
	if (pub->alltables)
	{
		found = first_ledger(GetAllTablesPublicationRelations(false), &count);
		if (OidIsValid(found))
			ereport(WARNING,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg_plural("publication \"%s\" will not replicate inserts into %d ledger_am table, \"%s\"",
								   "publication \"%s\" will not replicate inserts into %d ledger_am tables, "
								   "among them \"%s\"", count,
								   pubname, count, get_rel_name(found)),
					 errdetail(LEDGER_PUBLICATION_DETAIL)));
	}
}

/* warn_if_published warns when a ledger_am table a statement created or
 * attached is covered by a publication. */
static void
warn_if_published(RangeVar *rv)
{
	Oid			relid = rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
	PublicationDesc desc;
	Relation	rel;

	if (!OidIsValid(relid) || !RelidIsLedger(relid))
		return;
	rel = table_open(relid, AccessShareLock);
	RelationBuildPublicationDesc(rel, &desc);
	table_close(rel, AccessShareLock);
	if (desc.pubactions.pubinsert)
		ereport(WARNING,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ledger_am table \"%s\" is covered by a publication that will not replicate its inserts",
						rv->relname),
				 errdetail(LEDGER_PUBLICATION_DETAIL)));
}

void
LedgerCheckPublications(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_CreatePublicationStmt:
			check_publication(((CreatePublicationStmt *) parsetree)->pubname);
			break;
		case T_AlterPublicationStmt:
			check_publication(((AlterPublicationStmt *) parsetree)->pubname);
			break;
		case T_CreateStmt:
			warn_if_published(((CreateStmt *) parsetree)->relation);
			break;
		case T_CreateTableAsStmt:
			if (((CreateTableAsStmt *) parsetree)->into)
				warn_if_published(((CreateTableAsStmt *) parsetree)->into->rel);
			break;
		case T_AlterTableStmt:
			{
				AlterTableStmt *as = (AlterTableStmt *) parsetree;

				foreach(lc, as->cmds)
				{
					AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

					if (cmd->subtype == AT_AttachPartition)
						warn_if_published(((PartitionCmd *) cmd->def)->name);
					else if (cmd->subtype == AT_SetAccessMethod)
						warn_if_published(as->relation);
				}
				break;
			}
		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *os = (AlterObjectSchemaStmt *) parsetree;

				if (os->objectType == OBJECT_TABLE && os->relation)
					warn_if_published(makeRangeVar(os->newschema, os->relation->relname, -1));
				break;
			}
		default:
			break;
	}
}
