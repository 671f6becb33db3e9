/*
 * fdw_modify.c: INSERT, UPDATE and DELETE through mesh foreign tables.
 *
 * The connector names the columns that identify a remote row (a Redis key,
 * a set member...).  Their original values travel as junk columns
 * "mesh_id_<attnum>", so an UPDATE that changes the key still finds the
 * old remote row.  Connectors may buffer writes (pipelining) and must flush
 * in end_modify.
 */
#include "postgres.h"

#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "fdw.h"

#define MAX_IDENTITY 4

typedef struct ModifyState
{
	const MeshConnector *connector;
	MeshServerConfig *config;
	MeshModify	modify;
	int			nidentity;
	AttrNumber	identity[MAX_IDENTITY]; /* attnums */
	AttrNumber	junk[MAX_IDENTITY]; /* their junk resnos */
	bool		in_use;
} ModifyState;

static const MeshConnector *
relation_connector(Relation rel)
{
	Oid			serverid;
	const MeshConnector *c;

	(void) mesh_table_get(RelationGetRelid(rel), &serverid, &c);
	return c;
}

static int
identity_columns(const MeshConnector *c, Relation rel, MeshTable **table,
				 AttrNumber *attnums)
{
	Oid			serverid;

	*table = mesh_table_get(RelationGetRelid(rel), &serverid, &c);
	if (c->modify == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s foreign tables cannot be updated", c->kind)));
	return c->modify->row_identity(*table, attnums);
}

static void
mesh_add_update_targets(PlannerInfo *root, Index rtindex,
						RangeTblEntry *target_rte, Relation target_relation)
{
	const MeshConnector *c = relation_connector(target_relation);
	MeshTable  *table;
	AttrNumber	attnums[MAX_IDENTITY];
	int			n = identity_columns(c, target_relation, &table, attnums);

	for (int i = 0; i < n; i++)
	{
		MeshColumn *col = &table->columns[attnums[i] - 1];
		Var		   *var = makeVar(rtindex, attnums[i], col->typid, col->typmod,
								  get_typcollation(col->typid), 0);

		add_row_identity_var(root, var, rtindex, psprintf("mesh_id_%d", attnums[i]));
	}
}

static int
mesh_is_updatable(Relation rel)
{
	const MeshConnector *c = relation_connector(rel);

	if (c->modify == NULL)
		return 0;
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

static void
mesh_begin_modify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
				  List *fdw_private, int subplan_index, int eflags)
{
	Relation	rel = rinfo->ri_RelationDesc;
	ModifyState *ms = palloc0(sizeof(ModifyState));
	Oid			serverid;
	CmdType		op = mtstate->operation;
	int			natts = RelationGetDescr(rel)->natts;

	rinfo->ri_FdwState = ms;
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	(void) mesh_table_get(RelationGetRelid(rel), &serverid, &ms->connector);
	ms->nidentity = identity_columns(ms->connector, rel, &ms->modify.table, ms->identity);
	if (op == CMD_UPDATE || op == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		for (int i = 0; i < ms->nidentity; i++)
		{
			char	   *name = psprintf("mesh_id_%d", ms->identity[i]);

			ms->junk[i] = ExecFindJunkAttributeInTlist(subplan->targetlist, name);
			if (!AttributeNumberIsValid(ms->junk[i]))
				elog(ERROR, "could not find junk column %s", name);
		}
	}
	ms->modify.old_values = palloc0(sizeof(Datum) * natts);
	ms->modify.old_nulls = palloc(sizeof(bool) * natts);
	memset(ms->modify.old_nulls, true, sizeof(bool) * natts);
	ms->config = mesh_server_config_cached(serverid, GetUserId());
	ms->modify.conn = mesh_get_connection(ms->config);
	mesh_connection_begin_use(ms->config);
	ms->in_use = true;
	ms->connector->modify->begin_modify(&ms->modify);
}

/* Copy the identity columns' original values from the plan slot. */
static void
load_identity(ModifyState *ms, TupleTableSlot *planSlot)
{
	for (int i = 0; i < ms->nidentity; i++)
	{
		AttrNumber	a = ms->identity[i];

		ms->modify.old_values[a - 1] =
			ExecGetJunkAttribute(planSlot, ms->junk[i], &ms->modify.old_nulls[a - 1]);
	}
}

static TupleTableSlot *
run_modify(ModifyState *ms, MeshModifyOp op, TupleTableSlot *slot,
		   TupleTableSlot *planSlot)
{
	ms->modify.op = op;
	ms->modify.new_values = NULL;
	ms->modify.new_nulls = NULL;
	if (op != MESH_MODIFY_DELETE)
	{
		slot_getallattrs(slot);
		ms->modify.new_values = slot->tts_values;
		ms->modify.new_nulls = slot->tts_isnull;
	}
	if (op != MESH_MODIFY_INSERT)
		load_identity(ms, planSlot);
	ms->connector->modify->modify_row(&ms->modify);
	return slot;
}

static TupleTableSlot *
mesh_exec_insert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
				 TupleTableSlot *planSlot)
{
	return run_modify(rinfo->ri_FdwState, MESH_MODIFY_INSERT, slot, planSlot);
}

static TupleTableSlot *
mesh_exec_update(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
				 TupleTableSlot *planSlot)
{
	return run_modify(rinfo->ri_FdwState, MESH_MODIFY_UPDATE, slot, planSlot);
}

static TupleTableSlot *
mesh_exec_delete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
				 TupleTableSlot *planSlot)
{
	return run_modify(rinfo->ri_FdwState, MESH_MODIFY_DELETE, slot, planSlot);
}

static void
mesh_end_modify(EState *estate, ResultRelInfo *rinfo)
{
	ModifyState *ms = rinfo->ri_FdwState;

	if (ms == NULL || !ms->in_use)
		return;
	ms->connector->modify->end_modify(&ms->modify);
	mesh_connection_end_use(ms->config);
	ms->in_use = false;
}

static void
mesh_begin_foreign_insert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	mesh_begin_modify(mtstate, rinfo, NIL, 0, 0);
}

static void
mesh_explain_modify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					List *fdw_private, int subplan_index, ExplainState *es)
{
	ModifyState *ms = rinfo->ri_FdwState;

	if (es->analyze && ms && ms->connector)
		ExplainPropertyInteger("Remote requests", NULL, ms->modify.requests, es);
}

/* Fill the write part of routine. */
void
mesh_fdw_modify_routine(FdwRoutine *routine)
{
	routine->AddForeignUpdateTargets = mesh_add_update_targets;
	routine->BeginForeignModify = mesh_begin_modify;
	routine->ExecForeignInsert = mesh_exec_insert;
	routine->ExecForeignUpdate = mesh_exec_update;
	routine->ExecForeignDelete = mesh_exec_delete;
	routine->EndForeignModify = mesh_end_modify;
	routine->BeginForeignInsert = mesh_begin_foreign_insert;
	routine->EndForeignInsert = mesh_end_modify;
	routine->IsForeignRelUpdatable = mesh_is_updatable;
	routine->ExplainForeignModify = mesh_explain_modify;
}
