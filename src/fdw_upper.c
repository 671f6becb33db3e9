/*
 * fdw_upper.c: pushdown of what a query does above one foreign table:
 * aggregates with GROUP BY (columns and date_bin buckets), ORDER BY, and
 * LIMIT/OFFSET.
 *
 * Contract: a stage is offered to the connector (plan_upper) only when
 * every restriction of the table is pushed and exact, so nothing is left
 * for a local recheck that the pushed operation could not undo.  The glue
 * builds the MeshUpper step by step (grouping, then ordering, then the
 * limit) in the upper rels' fdw_private; the plan carries it serialized.
 * Upper scans have scanrelid 0: the scan tuple is the table's columns
 * (plain) or one column per output (aggregating).
 */
#include "postgres.h"

#include "catalog/pg_aggregate.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_namespace.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "fdw.h"

/* Planner state of an upper rel pushed to the backend. */
typedef struct UpperPlan
{
	MeshRelTag	tag;			/* MESH_REL_UPPER */
	RelPlan    *base;
	RelOptInfo *baserel;
	MeshUpper	upper;
	List	   *out_exprs;		/* Expr per output (aggregating scans) */
} UpperPlan;

/* The base foreign table under input_rel, or NULL. */
static UpperPlan *
input_state(RelOptInfo *input_rel, UpperPlan *scratch)
{
	RelPlan    *ps = input_rel->fdw_private;
	Bitmapset  *attrs = NULL;
	int			k = -1;

	if (ps == NULL)
		return NULL;
	if (ps->tag == MESH_REL_UPPER)
		return (UpperPlan *) ps;
	if (ps->tag != MESH_REL_BASE || input_rel->reloptkind != RELOPT_BASEREL ||
		!ps->quals_exact || ps->connector->scan == NULL ||
		ps->connector->scan->plan_upper == NULL)
		return NULL;
	/* whole-row and system columns are not in an upper scan's tuple */
	pull_varattnos((Node *) input_rel->reltarget->exprs, input_rel->relid, &attrs);
	while ((k = bms_next_member(attrs, k)) >= 0)
		if (k + FirstLowInvalidHeapAttributeNumber <= 0)
			return NULL;
	memset(scratch, 0, sizeof(*scratch));
	scratch->tag = MESH_REL_UPPER;
	scratch->base = ps;
	scratch->baserel = input_rel;
	scratch->upper.limit = -1;
	return scratch;
}

/* Ask the connector; true when it takes the whole of up->upper. */
static bool
connector_accepts(UpperPlan *up)
{
	return up->base->connector->scan->plan_upper(up->base->plan, &up->upper);
}

static UpperPlan *
copy_state(UpperPlan *up)
{
	UpperPlan  *copy = palloc(sizeof(UpperPlan));

	*copy = *up;
	return copy;
}

static Var *
base_var(Expr *e, Index relid)
{
	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	if (e && IsA(e, Var) && ((Var *) e)->varno == relid &&
		((Var *) e)->varlevelsup == 0 && ((Var *) e)->varattno > 0)
		return (Var *) e;
	return NULL;
}

/* date_bin(const interval, column, epoch): the bucket width, or -1. */
static int64
bucket_width(Expr *e, Index relid, AttrNumber *attnum)
{
	FuncExpr   *f = (FuncExpr *) e;
	Const	   *width,
			   *origin;
	Var		   *v;
	Interval   *iv;

	if (!IsA(e, FuncExpr) || list_length(f->args) != 3 ||
		(f->funcid != F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ &&
		 f->funcid != F_DATE_BIN_INTERVAL_TIMESTAMP_TIMESTAMP))
		return -1;
	width = linitial(f->args);
	v = base_var(lsecond(f->args), relid);
	origin = lthird(f->args);
	if (!IsA(width, Const) || width->constisnull || v == NULL ||
		!IsA(origin, Const) || origin->constisnull)
		return -1;
	iv = DatumGetIntervalP(width->constvalue);
	/* buckets aligned at the Unix epoch, with a fixed width */
	if (iv->month != 0 || DatumGetTimestamp(origin->constvalue) != -((int64) 946684800) * USECS_PER_SEC)
		return -1;
	*attnum = v->varattno;
	return iv->day * USECS_PER_DAY + iv->time;
}

/* An Aggref mesh can push (a plain built-in aggregate of a column), as an output. */
static bool
aggregate_output(Aggref *agg, Index relid, MeshOutput *out)
{
	char	   *name;
	Var		   *v = NULL;

	if (agg->aggdistinct || agg->aggorder || agg->aggfilter || agg->aggvariadic ||
		agg->aggkind != AGGKIND_NORMAL || agg->aggsplit != AGGSPLIT_SIMPLE ||
		get_func_namespace(agg->aggfnoid) != PG_CATALOG_NAMESPACE)
		return false;
	name = get_func_name(agg->aggfnoid);
	out->kind = MESH_OUT_AGG;
	out->typid = agg->aggtype;
	if (agg->aggstar && strcmp(name, "count") == 0)
	{
		out->agg = MESH_AGG_COUNT_STAR;
		return true;
	}
	if (list_length(agg->args) != 1 ||
		(v = base_var(((TargetEntry *) linitial(agg->args))->expr, relid)) == NULL)
		return false;
	out->attnum = v->varattno;
	if (strcmp(name, "count") == 0)
		out->agg = MESH_AGG_COUNT;
	else if (strcmp(name, "sum") == 0)
		out->agg = MESH_AGG_SUM;
	else if (strcmp(name, "avg") == 0)
		out->agg = MESH_AGG_AVG;
	else if (strcmp(name, "min") == 0)
		out->agg = MESH_AGG_MIN;
	else if (strcmp(name, "max") == 0)
		out->agg = MESH_AGG_MAX;
	else
		return false;
	return true;
}

/* Add e as an output (once); false when the backend cannot compute it. */
static bool
add_output(UpperPlan *up, Expr *e, bool group)
{
	MeshOutput	out;
	Index		relid = up->baserel->relid;
	Var		   *v;
	ListCell   *lc;

	foreach(lc, up->out_exprs)
		if (equal(lfirst(lc), e))
			return true;
	memset(&out, 0, sizeof(out));
	out.typid = exprType((Node *) e);
	if (group && (v = base_var(e, relid)) != NULL)
	{
		out.kind = MESH_OUT_COLUMN;
		out.attnum = v->varattno;
	}
	else if (group)
	{
		out.kind = MESH_OUT_BUCKET;
		out.bucket_us = bucket_width(e, relid, &out.attnum);
		if (out.bucket_us <= 0)
			return false;
	}
	else if (!IsA(e, Aggref) || !aggregate_output((Aggref *) e, relid, &out))
		return false;
	up->upper.outputs = repalloc(up->upper.outputs,
								 sizeof(MeshOutput) * (up->upper.noutputs + 1));
	up->upper.outputs[up->upper.noutputs++] = out;
	up->out_exprs = lappend(up->out_exprs, e);
	return true;
}

/* The outputs of a GROUP BY over the base table, or false. */
static bool
grouping_outputs(PlannerInfo *root, UpperPlan *up, PathTarget *target)
{
	Query	   *parse = root->parse;
	ListCell   *lc;
	int			i = 0;

	if (parse->groupingSets || parse->havingQual)
		return false;
	up->upper.outputs = palloc(sizeof(MeshOutput));
	foreach(lc, target->exprs)
	{
		Expr	   *e = lfirst(lc);
		Index		ref = get_pathtarget_sortgroupref(target, i++);

		if (ref && get_sortgroupref_clause_noerr(ref, parse->groupClause))
		{
			if (!add_output(up, e, true))
				return false;
		}
		else
		{
			List	   *parts = pull_var_clause((Node *) e, PVC_INCLUDE_AGGREGATES);
			ListCell   *lp;

			foreach(lp, parts)
				if (!IsA(lfirst(lp), Aggref) || !add_output(up, lfirst(lp), false))
					return false;
		}
	}
	/* every GROUP BY expression must be an output the backend groups by */
	foreach(lc, parse->groupClause)
	{
		SortGroupClause *sgc = lfirst(lc);
		TargetEntry *tle = get_sortgroupref_tle(sgc->tleSortGroupRef, parse->targetList);

		if (!add_output(up, tle->expr, true))
			return false;
	}
	return true;
}

static void
add_grouping_path(PlannerInfo *root, RelOptInfo *input_rel, RelOptInfo *output_rel)
{
	UpperPlan	scratch;
	UpperPlan  *up = input_state(input_rel, &scratch);
	PathTarget *target = root->upper_targets[UPPERREL_GROUP_AGG];
	double		rows;

	if (up == NULL || up->upper.noutputs > 0 || !grouping_outputs(root, up, target) ||
		!connector_accepts(up))
		return;
	rows = root->parse->groupClause ? Max(input_rel->rows / 10, 1) : 1;
	up = copy_state(up);
	output_rel->fdw_private = up;
	add_path(output_rel, (Path *)
			 create_foreign_upper_path(root, output_rel, target, rows, 10,
									   10 + mesh_scan_cost(rows) + input_rel->rows * cpu_operator_cost,
									   NIL, NULL, NIL));
}

/* A sort key the backend can apply exactly: a bytewise-comparable output. */
static bool
sort_key(UpperPlan *up, PathKey *pk, MeshSortKey *key)
{
	ListCell   *lc;

	if (pk->pk_eclass->ec_has_volatile)
		return false;
	foreach(lc, pk->pk_eclass->ec_members)
	{
		EquivalenceMember *em = lfirst(lc);
		Expr	   *e = em->em_expr;
		Oid			coll = exprCollation((Node *) e);
		TypeCacheEntry *tc = lookup_type_cache(exprType((Node *) e), TYPECACHE_BTREE_OPFAMILY);
		int			ref = 0;

		if (tc->btree_opf != pk->pk_opfamily || (OidIsValid(coll) && !lc_collate_is_c(coll)))
			continue;
		if (up->upper.noutputs > 0)
		{
			ListCell   *lo;
			int			j = 1;

			foreach(lo, up->out_exprs)
			{
				if (equal(lfirst(lo), e))
					ref = j;
				j++;
			}
		}
		else if (base_var(e, up->baserel->relid))
			ref = base_var(e, up->baserel->relid)->varattno;
		if (ref > 0)
		{
			key->ref = ref;
			key->desc = pk->pk_strategy == BTGreaterStrategyNumber;
			key->nulls_first = pk->pk_nulls_first;
			return true;
		}
	}
	return false;
}

static void
add_ordered_path(PlannerInfo *root, RelOptInfo *input_rel, RelOptInfo *output_rel)
{
	UpperPlan	scratch;
	UpperPlan  *up = input_state(input_rel, &scratch);
	ListCell   *lc;
	int			n = 0;

	if (up == NULL || root->sort_pathkeys == NIL || root->parse->hasTargetSRFs)
		return;
	up = copy_state(up);
	up->upper.sort = palloc(sizeof(MeshSortKey) * list_length(root->sort_pathkeys));
	foreach(lc, root->sort_pathkeys)
		if (!sort_key(up, lfirst(lc), &up->upper.sort[n++]))
			return;
	up->upper.nsort = n;
	if (!connector_accepts(up))
		return;
	output_rel->fdw_private = up;
	add_path(output_rel, (Path *)
			 create_foreign_upper_path(root, output_rel, root->upper_targets[UPPERREL_ORDERED],
									   input_rel->rows, 10,
									   10 + mesh_scan_cost(input_rel->rows) * 0.9,
									   root->sort_pathkeys, NULL, NIL));
}

/* A constant LIMIT/OFFSET value: true with *value set (-1: none). */
static bool
limit_value(Node *node, int64 *value)
{
	*value = -1;
	if (node == NULL)
		return true;
	if (!IsA(node, Const))
		return false;
	if (!((Const *) node)->constisnull)
		*value = DatumGetInt64(((Const *) node)->constvalue);
	return true;
}

static void
add_final_path(PlannerInfo *root, RelOptInfo *input_rel, RelOptInfo *output_rel,
			   FinalPathExtraData *extra)
{
	UpperPlan	scratch;
	UpperPlan  *up = input_state(input_rel, &scratch);
	Query	   *parse = root->parse;
	int64		limit,
				offset;
	double		rows;

	if (up == NULL || !extra->limit_needed || parse->rowMarks || parse->hasTargetSRFs ||
		parse->limitOption == LIMIT_OPTION_WITH_TIES ||
		!limit_value(parse->limitCount, &limit) || !limit_value(parse->limitOffset, &offset) ||
		(parse->sortClause && up->upper.nsort == 0) || parse->distinctClause)
		return;
	up = copy_state(up);
	up->upper.limit = limit;
	up->upper.offset = Max(offset, 0);
	if (!connector_accepts(up))
		return;
	rows = limit >= 0 ? Min(input_rel->rows, limit) : input_rel->rows;
	output_rel->fdw_private = up;

	/*
	 * One unit below a scan's startup cost: a local Limit over a streamed
	 * scan also reads only `rows`, but the backend computes and sends past
	 * them and the abandoned connection cannot be reused.  Pushing always
	 * wins, also for a LIMIT without ORDER BY.
	 */
	add_path(output_rel, (Path *)
			 create_foreign_upper_path(root, output_rel, root->upper_targets[UPPERREL_FINAL],
									   rows, 9, 9 + mesh_scan_cost(rows),
									   up->upper.nsort ? root->sort_pathkeys : NIL, NULL, NIL));
}

static void
mesh_get_upper_paths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
					 RelOptInfo *output_rel, void *extra)
{
	if (output_rel->fdw_private != NULL)
		return;					/* already offered */
	switch (stage)
	{
		case UPPERREL_GROUP_AGG:
			add_grouping_path(root, input_rel, output_rel);
			break;
		case UPPERREL_ORDERED:
			add_ordered_path(root, input_rel, output_rel);
			break;
		case UPPERREL_FINAL:
			add_final_path(root, input_rel, output_rel, extra);
			break;
		default:
			break;
	}
}

/* MeshUpper as a List of Strings (plans must be copyable nodes). */
static List *
upper_serialize(MeshUpper *u)
{
	List	   *l = NIL;

#define PUT(v) (l = lappend(l, makeString(psprintf(INT64_FORMAT, (int64) (v)))))
	PUT(u->noutputs);
	for (int i = 0; i < u->noutputs; i++)
	{
		PUT(u->outputs[i].kind);
		PUT(u->outputs[i].attnum);
		PUT(u->outputs[i].agg);
		PUT(u->outputs[i].bucket_us);
		PUT(u->outputs[i].typid);
	}
	PUT(u->nsort);
	for (int i = 0; i < u->nsort; i++)
	{
		PUT(u->sort[i].ref);
		PUT(u->sort[i].desc);
		PUT(u->sort[i].nulls_first);
	}
	PUT(u->limit);
	PUT(u->offset);
#undef PUT
	return l;
}

MeshUpper *
mesh_upper_deserialize(List *l)
{
	MeshUpper  *u;
	int			k = 0;

	if (l == NIL)
		return NULL;
	u = palloc0(sizeof(MeshUpper));
#define NEXT() pg_strtoint64(strVal(list_nth(l, k++)))
	u->noutputs = (int) NEXT();
	u->outputs = palloc0(sizeof(MeshOutput) * Max(u->noutputs, 1));
	for (int i = 0; i < u->noutputs; i++)
	{
		u->outputs[i].kind = (MeshOutputKind) NEXT();
		u->outputs[i].attnum = (AttrNumber) NEXT();
		u->outputs[i].agg = (MeshAggFunc) NEXT();
		u->outputs[i].bucket_us = NEXT();
		u->outputs[i].typid = (Oid) NEXT();
	}
	u->nsort = (int) NEXT();
	u->sort = palloc0(sizeof(MeshSortKey) * Max(u->nsort, 1));
	for (int i = 0; i < u->nsort; i++)
	{
		u->sort[i].ref = (int) NEXT();
		u->sort[i].desc = NEXT() != 0;
		u->sort[i].nulls_first = NEXT() != 0;
	}
	u->limit = NEXT();
	u->offset = NEXT();
#undef NEXT
	return u;
}

/* The scan tuple of an upper scan: the outputs, or every column of the table. */
static List *
scan_tlist(UpperPlan *up)
{
	List	   *tlist = NIL;
	ListCell   *lc;
	MeshTable  *t = up->base->table;

	if (up->upper.noutputs > 0)
	{
		foreach(lc, up->out_exprs)
			tlist = lappend(tlist, makeTargetEntry(lfirst(lc), list_length(tlist) + 1,
												   NULL, false));
		return tlist;
	}
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *c = &t->columns[i];
		Expr	   *e = c->name ?
			(Expr *) makeVar(up->baserel->relid, c->attnum, c->typid, c->typmod,
							 get_typcollation(c->typid), 0) :
			(Expr *) makeNullConst(INT4OID, -1, InvalidOid);

		tlist = lappend(tlist, makeTargetEntry(e, i + 1, NULL, false));
	}
	return tlist;
}

ForeignScan *
mesh_get_upper_plan(PlannerInfo *root, RelOptInfo *rel, ForeignPath *best_path,
					List *tlist, Plan *outer_plan)
{
	UpperPlan  *up = rel->fdw_private;
	RelOptInfo *baserel = up->baserel;
	List	   *quals;
	List	   *fdw_exprs;
	Oid			relid = planner_rt_fetch(baserel->relid, root)->relid;

	mesh_plan_quals(up->base, baserel->baserestrictinfo, baserel->relid, &quals, &fdw_exprs);
	return make_foreignscan(tlist, NIL, 0, fdw_exprs,
							mesh_plan_private(quals, mesh_used_columns(baserel), fdw_exprs,
											  upper_serialize(&up->upper),
											  baserel->relid, relid),
							scan_tlist(up), NIL, outer_plan);
}

/* Fill the upper-pushdown part of routine. */
void
mesh_fdw_upper_routine(FdwRoutine *routine)
{
	routine->GetForeignUpperPaths = mesh_get_upper_paths;
}
