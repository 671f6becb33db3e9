/*
 * fdw.h: internals shared by the FDW glue files (not for connectors).
 */
#ifndef MESH_FDW_H
#define MESH_FDW_H

#include "foreign/fdwapi.h"
#include "nodes/pathnodes.h"

#include "connector.h"

/* Planner state in rel->fdw_private: a base foreign table or an upper rel. */
typedef enum MeshRelTag
{
	MESH_REL_BASE = 0x6d657368,
	MESH_REL_UPPER
} MeshRelTag;

typedef struct RelPlan
{
	MeshRelTag	tag;			/* MESH_REL_BASE */
	const MeshConnector *connector;
	MeshTable  *table;
	MeshScanPlan *plan;			/* the quals offered at rel size estimation */
	bool		quals_exact;	/* every restriction is pushed and exact */
} RelPlan;

/* fdw_scan.c */
extern void mesh_fdw_scan_routine(FdwRoutine *routine);
extern double mesh_classify_clauses(RelPlan *ps, List *clauses, Index relid, List **pushed,
									List **pushed_exprs, bool *all_exact);
extern Cost mesh_scan_cost(double rows);
extern List *mesh_used_columns(RelOptInfo *baserel);
extern void mesh_plan_quals(RelPlan *ps, List *clauses, Index relid, List **quals,
							List **fdw_exprs);
extern List *mesh_plan_private(List *quals, List *used, List *fdw_exprs, List *upper,
							   Index rti, Oid relid);

/* fdw_modify.c */
extern void mesh_fdw_modify_routine(FdwRoutine *routine);

/* fdw_import.c */
extern void mesh_fdw_import_routine(FdwRoutine *routine);

/* fdw_upper.c */
extern void mesh_fdw_upper_routine(FdwRoutine *routine);
extern ForeignScan *mesh_get_upper_plan(PlannerInfo *root, RelOptInfo *rel,
										ForeignPath *best_path, List *tlist, Plan *outer_plan);
extern MeshUpper *mesh_upper_deserialize(List *list);

/* qual.c */
extern bool mesh_qual_from_clause(Expr *clause, Index relid, MeshQual *qual, Expr **value);

#endif							/* MESH_FDW_H */
