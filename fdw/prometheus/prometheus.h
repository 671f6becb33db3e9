/*
 * prometheus.h: reads through the Prometheus HTTP query API, shared by
 * mesh_prometheus and every kind that answers the same API
 * (mesh_victoriametrics; Thanos, Mimir and Cortex through mesh_prometheus).
 *
 * A connection is a MeshHttp (src/http.h) made with the kind's own
 * MeshHttpSetup; everything below takes that connection and works for any
 * kind.  Include this header before utils/builtins.h (it includes
 * json_value.h).  Never call jansson's json_object(): the postgres
 * executable exports its SQL function json_object, which the dynamic
 * linker binds instead.
 */
#ifndef MESH_PROMETHEUS_H
#define MESH_PROMETHEUS_H

#include "datatype/timestamp.h"

#include "json_value.h"
#include "http.h"

/* Foreign table and column options of a Prometheus-API table. */
#define PROMETHEUS_READ_OPTIONS \
	{.name = "metric", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "step", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "label", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1}

/* A cached connection (mesh_http_conn_open): the shared HTTP client and the kind's setup. */
typedef struct PromConn
{
	MESH_HTTP_CONN_HEAD;
} PromConn;

/* A request of the query API: an instant query or a range query. */
typedef struct PromQuery
{
	const char *promql;
	bool		range;			/* /api/v1/query_range, else /api/v1/query */
	bool		has_time;		/* instant: time given (else the server's now) */
	TimestampTz time;
	TimestampTz start;			/* range */
	TimestampTz end;
	int64		step_us;		/* range: resolution in microseconds (> 0) */
	List	   *extra;			/* more form fields: DefElem with String values */
} PromQuery;

typedef enum PromResultType
{
	PROM_VECTOR,
	PROM_MATRIX,
	PROM_SCALAR,
	PROM_STRING
} PromResultType;

/* A parsed answer, read sample by sample with prom_result_next. */
typedef struct PromResult
{
	const char *server;
	PromResultType type;
	json_t	   *result;			/* data.result */
	size_t		series;			/* current series (vector, matrix) */
	size_t		sample;			/* next sample of the current series (matrix) */
	bool		done;
} PromResult;

/* One sample of a result. */
typedef struct PromSample
{
	json_t	   *labels;			/* the series' label object (NULL: none, as for
								 * scalars) */
	bool		new_series;		/* first sample of these labels */
	TimestampTz ts;
	const char *value;			/* as sent: "1.5", "NaN", "+Inf", "-Inf" (or a string) */
} PromSample;

/* prometheus_query.c: requests, answers, values, PromQL text */
extern void prom_run(PromConn *conn, const PromQuery *query, PromResult *result);
extern bool prom_result_next(PromResult *result, PromSample *sample);
extern char *prom_query_display(const PromQuery *query);
extern char *prom_time_text(TimestampTz ts);
extern char *prom_seconds_text(int64 us);
extern bool prom_parse_step(const char *text, int64 *us);
extern double prom_value_float8(const char *value, const char *server);
extern const char *prom_value_sql_text(const char *value);
extern Jsonb *prom_labels_jsonb(json_t *labels, const char *server);
extern void prom_append_string(StringInfo buf, const char *s, size_t len);
extern void prom_append_regex_quoted(StringInfo re, const char *s, size_t len);
extern bool prom_like_to_regex(StringInfo buf, const char *pattern);
extern bool prom_is_label_name(const char *name);
extern char *prom_selector(const char *metric, List *matchers);

/* prometheus_scan.c: foreign tables over a metric */
extern void prom_plan_scan(MeshScanPlan *plan);
extern void prom_begin_scan(MeshScan *scan);
extern bool prom_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void prom_end_scan(MeshScan *scan);
extern char *prom_explain_scan(MeshScan *scan);

/* prometheus_sql.c: mesh.execute for Prometheus-API kinds */
extern List *prom_execute(void *conn, const char *request, Jsonb *params);

/* prometheus.c */
extern const MeshScanOps prom_scan_ops;
extern bool prom_is_prometheus_api(const MeshConnector *connector);

#endif							/* MESH_PROMETHEUS_H */
