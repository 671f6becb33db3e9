/*
 * fdw.h: internals shared by the FDW glue files (not for connectors).
 */
#ifndef MESH_FDW_H
#define MESH_FDW_H

#include "foreign/fdwapi.h"

#include "connector.h"

/* fdw_scan.c */
extern void mesh_fdw_scan_routine(FdwRoutine *routine);

/* fdw_modify.c */
extern void mesh_fdw_modify_routine(FdwRoutine *routine);

/* fdw_import.c */
extern void mesh_fdw_import_routine(FdwRoutine *routine);

/* fdw_upper.c */
extern void mesh_fdw_upper_routine(FdwRoutine *routine);

/* qual.c */
extern bool mesh_qual_from_clause(Expr *clause, Index relid, MeshQual *qual, Expr **value);

#endif							/* MESH_FDW_H */
