/*
 * mesh_export.h: what mesh.so exports.
 *
 * mesh is built with -fvisibility=hidden (Makefile), so a symbol is
 * exported only when marked PGDLLEXPORT, which the Makefile defines as
 * default visibility (PostgreSQL 15 leaves it empty on ELF platforms).
 * Exported are only the names PostgreSQL looks up: Pg_magic_func,
 * _PG_init, the SQL-callable functions and their pg_finfo_ records, and
 * the background worker entry points (bgw_function_name); all but the
 * first two start with mesh_, so loading mesh next to another module
 * (redis_fdw, mongo_fdw, kafka_fdw...) cannot clash.
 *
 * PostgreSQL 15's PG_FUNCTION_INFO_V1 marks only the pg_finfo_ record;
 * this is PostgreSQL 16's definition, which marks the function too.
 * Included by connector.h, so every file that declares an SQL function
 * has it (test/checks/exports.sh checks the result).
 */
#ifndef MESH_EXPORT_H
#define MESH_EXPORT_H

#include "fmgr.h"

#undef PG_FUNCTION_INFO_V1
#define PG_FUNCTION_INFO_V1(funcname) \
extern PGDLLEXPORT Datum funcname(PG_FUNCTION_ARGS); \
extern PGDLLEXPORT const Pg_finfo_record * CppConcat(pg_finfo_,funcname)(void); \
const Pg_finfo_record * \
CppConcat(pg_finfo_,funcname) (void) \
{ \
	static const Pg_finfo_record my_finfo = { 1 }; \
	return &my_finfo; \
} \
extern int no_such_variable

#endif							/* MESH_EXPORT_H */
