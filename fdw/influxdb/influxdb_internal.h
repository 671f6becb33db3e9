/*
 * influxdb_internal.h: shared declarations of the InfluxDB connector's files.
 */
#ifndef MESH_INFLUXDB_INTERNAL_H
#define MESH_INFLUXDB_INTERNAL_H

#include "json_value.h"

#include "http.h"
#include "line_protocol.h"

/* Rows per chunk of a streamed (chunked=true) query answer. */
#define INFLUX_CHUNK_SIZE 10000

/* One cached connection (lives in TopMemoryContext). */
typedef struct InfluxConn
{
	MESH_HTTP_CONN_HEAD;
	char	   *database;		/* server option; NULL when missing */
	MeshLpPrecision precision;
	int			batch_size;		/* rows per INSERT write; 0: the default */
} InfluxConn;

typedef enum InfluxRole
{
	INFLUX_NONE,				/* dropped column */
	INFLUX_TIME,
	INFLUX_TAG,
	INFLUX_FIELD
} InfluxRole;

/* How a foreign table maps onto a measurement (see README.md). */
typedef struct InfluxLayout
{
	const char *measurement;
	const char *database;		/* table option, or NULL: the server's */
	AttrNumber	time_att;		/* InvalidAttrNumber when there is none */
	InfluxRole *roles;			/* per column */
	const char **keys;			/* remote tag or field key per column */
	MeshLpType *types;			/* line protocol type per field column */
	int			nfields;
	int			ntags;
	AttrNumber *tag_order;		/* tag columns sorted by key (line protocol) */
} InfluxLayout;

/*
 * A streamed InfluxQL answer: one JSON document per chunk, read as it
 * arrives.  After influx_query_next returns true, row is the current row
 * (a JSON array aligned with the series' columns) and series its series
 * object (name, tags, columns); new_series is set when series changed.
 */
typedef struct InfluxReader
{
	InfluxConn *ic;
	MeshHttpStream stream;
	bool		open;
	const char *what;
	MemoryContext doc_cxt;		/* the current document's JSON values */
	json_t	   *results;
	size_t		ri;
	json_t	   *series_list;
	size_t		si;
	json_t	   *values;
	size_t		vi;
	json_t	   *series;
	json_t	   *row;
	bool		new_series;
	int			statement;		/* index of the current result (statement) */
	int64		requests;
} InfluxReader;

/* influxdb.c */
extern const char *influx_database(InfluxConn *ic, const char *table_database);
extern char *influx_quote_ident(const char *name);
extern char *influx_quote_string(const char *s);
extern char *influx_match(const char *ref, bool equal, const char *value);
extern InfluxLayout *influx_layout(MeshTable *table);
extern void influx_write(InfluxConn *ic, const char *database, StringInfo lines);
extern char *influx_series_tag(json_t *series, const char *key);

/* influxdb_query.c */
extern void influx_query_request(const char *database, const char *query, const char *params,
								 bool epoch_ns, const char *what, MeshHttpRequest *req);
extern void influx_query_read(InfluxConn *ic, MeshHttpStream *answer, const char *what,
							  InfluxReader *r);
extern void influx_query_start(InfluxConn *ic, const char *database, const char *query,
							   const char *params, bool epoch_ns, const char *what,
							   InfluxReader *r);
extern bool influx_query_next(InfluxReader *r);
extern void influx_query_close(InfluxReader *r);
extern void influx_run(InfluxConn *ic, const char *database, const char *query,
					   const char *what);
extern char *influx_time_text(json_t *v, bool with_tz, const char *server);
extern int64 influx_time_ns(json_t *v, const char *server);

/* influxdb_scan.c */
extern void influx_plan_scan(MeshScanPlan *plan);
extern bool influx_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern void influx_begin_scan(MeshScan *scan);
extern bool influx_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void influx_end_scan(MeshScan *scan);
extern char *influx_explain_scan(MeshScan *scan);

/* influxdb_modify.c */
extern int	influx_row_identity(MeshTable *table, AttrNumber *attnums);
extern void influx_begin_modify(MeshModify *m);
extern void influx_modify_row(MeshModify *m);
extern void influx_end_modify(MeshModify *m);

/* influxdb_execute.c */
extern List *influx_execute(void *conn, const char *request, Jsonb *params);
extern List *influx_import_schema(void *conn, MeshServerConfig *config,
								  const char *remote_schema, const char *local_schema,
								  List *options);

/* influxdb_sink.c */
extern const MeshSinkOps influx_sink_ops;
extern void influx_fetch_request(void *conn, MeshRoute *route, int n, char ***keys,
								 MeshHttpRequest *req);
extern void influx_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys,
								MeshHttpStream *answer, char ***rows);
extern int	influx_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);
extern void influx_expected_values(void *conn, MeshRoute *route, char **values);

#endif							/* MESH_INFLUXDB_INTERNAL_H */
