/*
 * duckdb_lib.h: libduckdb inside mesh (duckdb_lib.c), shared by the DuckDB
 * connector (fdw/duckdb) and the object-store layer's Parquet
 * (object_parquet.c): the library loaded at first use, a database opened
 * with signals blocked, statements run task by task, SQL text, the type
 * mapping from PostgreSQL and values read from result vectors.
 */
#ifndef MESH_DUCKDB_LIB_H
#define MESH_DUCKDB_LIB_H

#include "lib/stringinfo.h"

#include "duckdb_api.h"

/* The library: NULL with *error (never ereports), or ERROR when missing. */
extern const DdbApi *ddb_api_load(char **error);
extern const DdbApi *ddb_api(void);
extern const DdbApi *ddb_api_loaded(void);	/* NULL until loaded */

/*
 * Open a database (a file or ":memory:"); restricted: no file, network or
 * extension access beyond the database itself.  NULL and *error on
 * failure; never ereports.  The library must be loaded.
 */
extern duckdb_database ddb_open_database(const char *path, bool read_only, bool restricted,
										 const char *threads, const char *memory_limit,
										 char **error);

/* Results, pending results and prepared statements freed with a memory context. */
extern void ddb_destroy_result_cb(void *arg);
extern duckdb_prepared_statement *ddb_prepared_holder(void);
extern void ddb_prepared_free(duckdb_prepared_statement *st);

/*
 * Execute a prepared statement into *res task by task (a query cancel or
 * statement_timeout interrupts it between tasks); streaming: a streaming
 * result, read chunk by chunk as it is computed.  false with *error
 * (palloc'd) when DuckDB fails.  *res is the caller's to destroy.
 */
extern bool ddb_run_pending(duckdb_prepared_statement st, bool streaming, duckdb_result *res,
							char **error);

/*
 * Run one statement as ddb_run_pending does (in a background worker: one
 * blocking duckdb_query, materialized).  *res is destroyed with the
 * current memory context; false with *error when DuckDB fails.
 */
extern bool ddb_run_sql(duckdb_connection con, const char *sql, bool streaming,
						duckdb_result *res, char **error);

/* SQL text: a double-quoted identifier, a single-quoted literal. */
extern void ddb_append_ident(StringInfo buf, const char *name);
extern void ddb_append_literal(StringInfo buf, const char *s, size_t len);

/* The DuckDB type for a PostgreSQL type (typmod -1: unknown); NULL: none. */
extern const char *ddb_type_for(Oid typid, int32 typmod);

/* A JSON array (to_json of a LIST) as a PostgreSQL array literal. */
extern char *ddb_json_array_to_pg(const char *s, size_t len, const char *column);

/* Row row of a VARCHAR or BLOB vector: its bytes, NULL if null. */
extern char *ddb_cell(duckdb_vector vec, uint64_t *validity, idx_t row, uint32_t *len);

#endif							/* MESH_DUCKDB_LIB_H */
