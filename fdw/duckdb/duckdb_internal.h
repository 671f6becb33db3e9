/*
 * duckdb_internal.h: shared declarations of the DuckDB connector's files
 * (fdw/duckdb).
 */
#ifndef MESH_DUCKDB_INTERNAL_H
#define MESH_DUCKDB_INTERNAL_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "connector.h"
#include "duckdb_lib.h"

/*
 * One server's database as seen by one process (lives in TopMemoryContext).
 * A file database is open only while in use: from the first use in a
 * transaction to its end (backends), or for one sink batch (the route
 * worker), so other processes can open it between (the one-writer rule,
 * README).  ':memory:' stays open for the life of the connection.
 */
typedef struct DdbConn
{
	char	   *servername;
	char	   *path;			/* file or ":memory:" */
	bool		memory;
	bool		restricted;		/* external access off (README: privileges) */
	int			timeout_ms;		/* waiting for another process's lock */
	char	   *threads;		/* DuckDB settings, or NULL */
	char	   *memory_limit;
	duckdb_database db;			/* NULL when closed */
	duckdb_connection con;
	bool		read_only;		/* how db was opened */
	int			busy;			/* open scans/appenders using con */
	TimestampTz keep_until;		/* delivery worker: stay open across commits until */
	bool		batch_full;		/* the sink's batch under way has mesh.batch_size events */
	struct DdbConn *next;		/* every DdbConn of the process */
} DdbConn;

/* duckdb.c: opening, queries, errors (the library: src/duckdb_lib.h) */
extern duckdb_connection ddb_acquire(DdbConn *dc, bool write);
extern void ddb_close(DdbConn *dc);
extern void ddb_query(DdbConn *dc, const char *sql, duckdb_result *res, const char *what);
extern void ddb_exec(DdbConn *dc, const char *sql, const char *what);
extern void ddb_run_prepared(DdbConn *dc, duckdb_prepared_statement st, duckdb_result *res,
							 const char *what);
extern void ddb_raise(DdbConn *dc, const char *what, const char *message)
			pg_attribute_noreturn();

/* duckdb_sql.c: SQL text, types, values (more in src/duckdb_lib.h) */
extern char *ddb_qualified(const char *schema, const char *table);
extern const char *ddb_table_name(MeshTable *t);
extern const char *ddb_table_schema(MeshTable *t);
extern const char *ddb_column_name(MeshColumn *col);
extern char *ddb_read_expr(const char *ref, Oid typid, bool is_array);
extern const char *ddb_pg_type_for(const char *duck_type);
extern char *ddb_pg_array_to_json(const char *s, const char *column);

/* duckdb_scan.c */
extern void ddb_plan_scan(MeshScanPlan *plan);
extern bool ddb_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern void ddb_begin_scan(MeshScan *scan);
extern bool ddb_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void ddb_end_scan(MeshScan *scan);
extern char *ddb_explain_scan(MeshScan *scan);

/* duckdb_modify.c: staging tables, INSERT */
typedef struct DdbStage
{
	DdbConn    *dc;
	char	   *name;
	int			ncols;
	int64		rows;
	duckdb_appender app;
} DdbStage;

extern DdbStage *ddb_stage_begin(DdbConn *dc, const char *name, int ncols);
extern void ddb_stage_value(DdbStage *sg, const char *value, size_t len);
extern void ddb_stage_end_row(DdbStage *sg);
extern void ddb_stage_finish(DdbStage *sg);
extern char *ddb_stage_expr(int i, Oid typid, bool is_array, const char *duck_type);
extern char *ddb_stage_text(char *text, Oid typid, bool is_array, const char *column);
extern void ddb_begin_modify(MeshModify *m);
extern void ddb_modify_row(MeshModify *m);
extern void ddb_end_modify(MeshModify *m);

/* duckdb_execute.c: IMPORT FOREIGN SCHEMA, mesh.execute */
extern List *ddb_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
							   const char *local_schema, List *options);
extern List *ddb_execute(void *conn, const char *request, Jsonb *params);

/* duckdb_sink.c */
extern const MeshSinkOps ddb_sink_ops;
extern void ddb_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows);
extern int	ddb_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);

#endif							/* MESH_DUCKDB_INTERNAL_H */
