/*
 * neo4j.h: shared declarations of the Neo4j connector's files (fdw/neo4j).
 * Include it before utils/builtins.h (it includes json_value.h).
 */
#ifndef MESH_NEO4J_H
#define MESH_NEO4J_H

#include "json_value.h"
#include "lib/stringinfo.h"

#include "connector.h"
#include "http.h"

/* One cached connection (lives in TopMemoryContext). */
typedef struct Neo4jConn
{
	MESH_HTTP_CONN_HEAD;
	char	   *commit_path;	/* /db/<database>/tx/commit, URL-encoded */
} Neo4jConn;

/* One Cypher statement of a request: params is a JSON object's text or NULL. */
typedef struct Neo4jStatement
{
	const char *cypher;
	const char *params;
} Neo4jStatement;

/* neo4j.c */
extern const MeshConnector mesh_neo4j_connector;
extern json_t *neo4j_run(Neo4jConn *nc, Neo4jStatement *stmts, int n, const char *what);
extern void neo4j_append_ident(StringInfo buf, const char *name);
extern char *neo4j_value_text(json_t *value);
extern void neo4j_check_name(const char *what, const char *name);

/* neo4j_scan.c */
extern void neo4j_plan_scan(MeshScanPlan *plan);
extern bool neo4j_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern void neo4j_begin_scan(MeshScan *scan);
extern bool neo4j_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void neo4j_end_scan(MeshScan *scan);
extern char *neo4j_explain_scan(MeshScan *scan);

/* neo4j_sink.c */
extern const MeshSinkOps neo4j_sink_ops;
extern void neo4j_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows);
extern int	neo4j_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);

#endif							/* MESH_NEO4J_H */
