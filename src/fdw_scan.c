/*
 * fdw_scan.c: the shared FDW handler and scan glue.  Every mesh_<kind>
 * foreign data wrapper uses mesh_fdw_handler; the connector is found from
 * the foreign table's server.
 *
 * Planning never talks to the backend: the connector estimates from the
 * quals alone.  Pushed quals travel to execution as expressions (fdw_exprs)
 * and are evaluated there, so parameters of generic plans are pushed too.
 * All quals are still rechecked locally.
 */
#include "postgres.h"

#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"
#include "utils/rel.h"

#include "fdw.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_fdw_handler);

/* Executor state. */
typedef struct ScanExec
{
	const MeshConnector *connector;
	MeshServerConfig *config;
	MeshScan	scan;
	List	   *value_states;	/* ExprState * per qual (NULL: none) */
	bool		begun;
	bool		in_use;
} ScanExec;

/*
 * Offer clauses (RestrictInfos) to the connector; returns the pushed quals
 * and their value expressions, and the connector's row estimate.
 */
double
mesh_classify_clauses(RelPlan *ps, List *clauses, Index relid, List **pushed,
					  List **pushed_exprs, bool *all_exact)
{
	MeshScanPlan plan;
	List	   *candidates = NIL;
	List	   *exprs = NIL;
	ListCell   *lc;
	int			i = 0;

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst(lc);
		MeshQual   *q = palloc(sizeof(MeshQual));
		Expr	   *value;

		if (mesh_qual_from_clause(ri->clause, relid, q, &value))
		{
			candidates = lappend(candidates, q);
			exprs = lappend(exprs, value);
		}
	}
	memset(&plan, 0, sizeof(plan));
	plan.table = ps->table;
	plan.nquals = list_length(candidates);
	plan.quals = palloc0(sizeof(MeshQual) * Max(plan.nquals, 1));
	foreach(lc, candidates)
		plan.quals[i++] = *(MeshQual *) lfirst(lc);
	plan.rows = 1000;
	ps->connector->scan->plan_scan(&plan);

	*pushed = *pushed_exprs = NIL;
	if (all_exact)
		*all_exact = plan.nquals == list_length(clauses);
	for (i = 0; i < plan.nquals; i++)
	{
		if (all_exact && !(plan.quals[i].pushed && plan.quals[i].exact))
			*all_exact = false;
		if (plan.quals[i].pushed)
		{
			MeshQual   *q = palloc(sizeof(MeshQual));

			*q = plan.quals[i];
			*pushed = lappend(*pushed, q);
			*pushed_exprs = lappend(*pushed_exprs, list_nth(exprs, i));
		}
	}
	if (ps->plan == NULL)
	{
		ps->plan = palloc(sizeof(MeshScanPlan));
		*ps->plan = plan;
	}
	return clamp_row_est(plan.rows);
}

static void
mesh_get_rel_size(PlannerInfo *root, RelOptInfo *baserel, Oid relid)
{
	RelPlan    *ps = palloc0(sizeof(RelPlan));
	Oid			serverid;
	List	   *pushed,
			   *exprs;

	ps->tag = MESH_REL_BASE;
	ps->table = mesh_table_get(relid, &serverid, &ps->connector);
	if (ps->connector->scan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("%s foreign tables cannot be read", ps->connector->kind)));
	baserel->rows = mesh_classify_clauses(ps, baserel->baserestrictinfo, baserel->relid,
										  &pushed, &exprs, &ps->quals_exact);
	baserel->fdw_private = ps;
}

Cost
mesh_scan_cost(double rows)
{
	return rows * (cpu_tuple_cost * 10);
}

static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	Var		   *v = (Var *) em->em_expr;

	if (v && IsA(v, RelabelType))
		v = (Var *) ((RelabelType *) v)->arg;
	return v && IsA(v, Var) && v->varno == rel->relid && v->varlevelsup == 0 &&
		v->varattno == *(AttrNumber *) arg;
}

/*
 * Parameterized paths: for a join "column = outer expression" that the
 * connector can push, a nested loop sends the outer value to the backend
 * per outer row instead of reading every remote row.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel, RelPlan *ps)
{
	for (AttrNumber att = 1; att <= ps->table->ncolumns; att++)
	{
		List	   *clauses;
		ListCell   *lc;

		if (ps->table->columns[att - 1].name == NULL)
			continue;
		clauses = generate_implied_equalities_for_column(root, baserel,
														 ec_member_is_column, &att,
														 baserel->lateral_referencers);
		foreach(lc, clauses)
		{
			RestrictInfo *ri = lfirst(lc);
			Relids		outer = bms_difference(ri->clause_relids, baserel->relids);
			List	   *pushed,
					   *exprs;
			double		rows;
			ParamPathInfo *ppi;

			if (bms_is_empty(outer) || !join_clause_is_movable_to(ri, baserel))
				continue;
			rows = mesh_classify_clauses(ps, list_make1(ri), baserel->relid, &pushed, &exprs,
										 NULL);
			if (pushed == NIL)
				continue;
			ppi = get_baserel_parampathinfo(root, baserel, outer);
			add_path(baserel, (Path *)
					 create_foreignscan_path(root, baserel, NULL, Min(rows, ppi->ppi_rows),
											 1, 1 + mesh_scan_cost(rows), NIL, outer,
											 NULL, NIL));
		}
	}
}

static void
mesh_get_paths(PlannerInfo *root, RelOptInfo *baserel, Oid relid)
{
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 10, 10 + mesh_scan_cost(baserel->rows), NIL, NULL,
									 NULL, NIL));
	add_parameterized_paths(root, baserel, baserel->fdw_private);
}

/* Integer list of the attnums the query uses (0 = whole row). */
List *
mesh_used_columns(RelOptInfo *baserel)
{
	Bitmapset  *attrs = NULL;
	List	   *result = NIL;
	ListCell   *lc;
	int			k = -1;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause,
					   baserel->relid, &attrs);
	while ((k = bms_next_member(attrs, k)) >= 0)
		result = lappend_int(result, k + FirstLowInvalidHeapAttributeNumber);
	return result;
}

/*
 * The pushed quals of clauses as the plan carries them: *quals (one
 * (attnum, op, has_value) int list each) and *fdw_exprs (their values).
 */
void
mesh_plan_quals(RelPlan *ps, List *clauses, Index relid, List **quals, List **fdw_exprs)
{
	List	   *pushed,
			   *pushed_exprs;
	ListCell   *lc,
			   *lc2;

	*quals = *fdw_exprs = NIL;
	mesh_classify_clauses(ps, clauses, relid, &pushed, &pushed_exprs, NULL);
	forboth(lc, pushed, lc2, pushed_exprs)
	{
		MeshQual   *q = lfirst(lc);
		Expr	   *e = lfirst(lc2);

		*quals = lappend(*quals, list_make3_int(q->attnum, q->op, e != NULL));
		if (e != NULL)
			*fdw_exprs = lappend(*fdw_exprs, e);
	}
}

/*
 * The plan's fdw_private: quals, used columns, a copy of the value
 * expressions (for EXPLAIN), the serialized MeshUpper (NIL: none), and the
 * range table index and oid of the foreign table (needed when an upper
 * scan has scanrelid 0).
 */
List *
mesh_plan_private(List *quals, List *used, List *fdw_exprs, List *upper, Index rti, Oid relid)
{
	return list_make5(quals, used, copyObject(fdw_exprs), upper,
					  list_make2_int((int) rti, (int) relid));
}

static ForeignScan *
mesh_get_plan(PlannerInfo *root, RelOptInfo *rel, Oid relid,
			  ForeignPath *best_path, List *tlist, List *scan_clauses,
			  Plan *outer_plan)
{
	RelPlan    *ps = rel->fdw_private;
	List	   *quals;
	List	   *fdw_exprs;

	if (ps->tag == MESH_REL_UPPER)
		return mesh_get_upper_plan(root, rel, best_path, tlist, outer_plan);
	/* scan_clauses include the join clauses of a parameterized path */
	mesh_plan_quals(ps, scan_clauses, rel->relid, &quals, &fdw_exprs);
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	/* fdw_exprs get outer Vars replaced by Params; keep them for EXPLAIN */
	return make_foreignscan(tlist, scan_clauses, rel->relid, fdw_exprs,
							mesh_plan_private(quals, mesh_used_columns(rel), fdw_exprs, NIL,
											  rel->relid, relid),
							NIL, NIL, outer_plan);
}

/* Evaluate (or, in EXPLAIN only, describe) the pushed quals' values. */
static void
evaluate_quals(ScanExec   *ss, ExprContext *econtext, bool evaluate)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, ss->value_states)
	{
		ExprState  *es = lfirst(lc);
		MeshQual   *q = &ss->scan.quals[i++];

		if (es == NULL)
		{
			q->known = true;
			continue;
		}
		q->valtype = exprType((Node *) es->expr);
		q->paramid = IsA(es->expr, Param) ? ((Param *) es->expr)->paramid : -1;
		q->known = false;
		if (evaluate || IsA(es->expr, Const))
		{
			q->value = ExecEvalExpr(es, econtext, &q->isnull);
			q->known = true;
		}
	}
}

static void
mesh_begin_scan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Oid			serverid;
	ScanExec   *ss = palloc0(sizeof(ScanExec));
	List	   *quals = linitial(fsplan->fdw_private);
	List	   *used = lsecond(fsplan->fdw_private);
	List	   *upper = lfourth(fsplan->fdw_private);
	List	   *ids = list_nth(fsplan->fdw_private, 4);
	ListCell   *lc;
	ListCell   *exprcell;
	int			i = 0;
	Oid			userid;

	node->fdw_state = ss;
	ss->scan.table = mesh_table_get((Oid) lsecond_int(ids), &serverid, &ss->connector);
	ss->scan.upper = mesh_upper_deserialize(upper);
	ss->scan.nquals = list_length(quals);
	ss->scan.quals = palloc0(sizeof(MeshQual) * Max(ss->scan.nquals, 1));
	exprcell = list_head(fsplan->fdw_exprs);
	foreach(lc, quals)
	{
		List	   *q = lfirst(lc);
		MeshQual   *mq = &ss->scan.quals[i++];

		mq->attnum = linitial_int(q);
		mq->op = lsecond_int(q);
		mq->pushed = true;
		if (lthird_int(q))
		{
			Expr	   *e = lfirst(exprcell);

			exprcell = lnext(fsplan->fdw_exprs, exprcell);
			ss->value_states = lappend(ss->value_states,
									   ExecInitExpr(e, (PlanState *) node));
		}
		else
			ss->value_states = lappend(ss->value_states, NULL);
	}
	ss->scan.wanted = palloc0(sizeof(bool) * Max(ss->scan.table->ncolumns, 1));
	foreach(lc, used)
	{
		int			attnum = lfirst_int(lc);

		if (attnum <= 0)
			memset(ss->scan.wanted, true, sizeof(bool) * ss->scan.table->ncolumns);
		else
			ss->scan.wanted[attnum - 1] = true;
	}
	ss->scan.scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "mesh scan",
											  ALLOCSET_DEFAULT_SIZES);
	ss->scan.row_cxt = AllocSetContextCreate(estate->es_query_cxt, "mesh scan row",
											 ALLOCSET_DEFAULT_SIZES);
#if PG_VERSION_NUM >= 160000
	userid = OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
#else
	{
		RangeTblEntry *rte = exec_rt_fetch((Index) linitial_int(ids), estate);

		userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	}
#endif
	ss->config = mesh_server_config_cached(serverid, userid);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		evaluate_quals(ss, node->ss.ps.ps_ExprContext, false);
		return;
	}
	ss->scan.conn = mesh_get_connection(ss->config);
	mesh_connection_begin_use(ss->config);
	ss->in_use = true;
}

static TupleTableSlot *
mesh_iterate_scan(ForeignScanState *node)
{
	ScanExec   *ss = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;
	bool		found;

	if (!ss->begun)
	{
		old = MemoryContextSwitchTo(ss->scan.scan_cxt);
		evaluate_quals(ss, node->ss.ps.ps_ExprContext, true);
		ss->connector->scan->begin_scan(&ss->scan);
		MemoryContextSwitchTo(old);
		ss->begun = true;
	}
	ExecClearTuple(slot);
	MemoryContextReset(ss->scan.row_cxt);
	old = MemoryContextSwitchTo(ss->scan.row_cxt);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	found = ss->connector->scan->next_row(&ss->scan, slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(old);
	if (!found)
		return slot;
	return ExecStoreVirtualTuple(slot);
}

static void
mesh_rescan(ForeignScanState *node)
{
	ScanExec   *ss = node->fdw_state;

	if (ss->begun)
		ss->connector->scan->end_scan(&ss->scan);
	ss->begun = false;
	MemoryContextReset(ss->scan.scan_cxt);
}

static void
mesh_end_scan(ForeignScanState *node)
{
	ScanExec   *ss = node->fdw_state;

	if (ss == NULL)
		return;
	if (ss->begun)
		ss->connector->scan->end_scan(&ss->scan);
	ss->begun = false;
	if (ss->in_use)
		mesh_connection_end_use(ss->config);
	ss->in_use = false;
}

static void
mesh_explain_scan(ForeignScanState *node, ExplainState *es)
{
	ScanExec   *ss = node->fdw_state;
	ListCell   *lc;
	int			i = 0;

	List	   *exprs = lthird(((ForeignScan *) node->ss.ps.plan)->fdw_private);
	ListCell   *ec = list_head(exprs);
	List	   *dpcontext = set_deparse_context_plan(es->deparse_cxt, node->ss.ps.plan, NIL);

	/* unevaluated values are shown as the SQL they come from */
	foreach(lc, ss->value_states)
	{
		MeshQual   *q = &ss->scan.quals[i++];

		if (lfirst(lc) == NULL)
			continue;
		if (!q->known)
			q->display = deparse_expression(lfirst(ec), dpcontext, true, false);
		ec = lnext(exprs, ec);
	}
	if (es->verbose && ss->connector->scan->explain_scan)
		ExplainPropertyText("Remote request", ss->connector->scan->explain_scan(&ss->scan), es);
	if (es->analyze)
		ExplainPropertyInteger("Remote requests", NULL, ss->scan.requests, es);
	if (es->analyze && ss->scan.bytes_read > 0)
		ExplainPropertyInteger("Remote bytes", NULL, ss->scan.bytes_read, es);
	if (es->analyze && ss->connector->scan->explain_counts)
	{
		char	   *counts = ss->connector->scan->explain_counts(&ss->scan);

		if (counts)
			ExplainPropertyText("Remote counts", counts, es);
	}
}

/* Fill the scan part of routine. */
void
mesh_fdw_scan_routine(FdwRoutine *routine)
{
	routine->GetForeignRelSize = mesh_get_rel_size;
	routine->GetForeignPaths = mesh_get_paths;
	routine->GetForeignPlan = mesh_get_plan;
	routine->BeginForeignScan = mesh_begin_scan;
	routine->IterateForeignScan = mesh_iterate_scan;
	routine->ReScanForeignScan = mesh_rescan;
	routine->EndForeignScan = mesh_end_scan;
	routine->ExplainForeignScan = mesh_explain_scan;
}

/* The FDW handler of every mesh_<kind> wrapper. */
Datum
mesh_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	mesh_fdw_scan_routine(routine);
	mesh_fdw_modify_routine(routine);
	mesh_fdw_import_routine(routine);
	mesh_fdw_upper_routine(routine);
	PG_RETURN_POINTER(routine);
}
