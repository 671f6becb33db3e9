/*
 * es_internal.h: the Elasticsearch / OpenSearch connector's shared
 * declarations (REST over the shared HTTP client, replies through jansson).
 * Include after json_value.h.
 */
#ifndef MESH_ES_INTERNAL_H
#define MESH_ES_INTERNAL_H

#include "http.h"
#include "json_value.h"

#define ES_DEFAULT_PAGE 1000
#define ES_SCROLL_KEEP "1m"

typedef struct EsConn
{
	MESH_HTTP_CONN_HEAD;
	int			page_size;		/* server option page_size */
} EsConn;

/* elasticsearch.c */
extern const MeshConnector mesh_elasticsearch_connector;
extern json_t *es_request(EsConn *ec, const char *method, const char *path,
						  const char *body, size_t body_len, const char *what,
						  MeshHttpResponse *resp);
extern void es_raise(EsConn *ec, long status, const char *body, const char *what)
			pg_attribute_noreturn();
extern char *es_error_text(json_t *error);
extern char *es_index_path(const char *index, const char *suffix);
extern void es_check_index_name(const char *index, const char *option);
extern json_t *es_source_field(json_t *source, const char *path);
extern char **es_source_row(MeshRoute *route, json_t *source);
extern char *es_doc_id(MeshRoute *route, char **values);
extern void es_scroll_clear(EsConn *ec, const char *scroll_id);

/* es_scan.c */
extern void es_plan_scan(MeshScanPlan *plan);
extern bool es_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern void es_begin_scan(MeshScan *scan);
extern bool es_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void es_end_scan(MeshScan *scan);
extern char *es_explain_scan(MeshScan *scan);

/* es_query.c */
extern const char *es_column_field(MeshColumn *col);
extern bool es_qual_pushable(MeshColumn *col, MeshQualOp op, bool *exact);
extern char *es_query_json(MeshScan *scan, bool explain, bool *empty);

/* es_sink.c */
extern const MeshSinkOps es_sink_ops;
extern void es_fetch_request(void *conn, MeshRoute *route, int n, char ***keys,
							 MeshHttpRequest *req);
extern void es_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys,
							MeshHttpStream *answer, char ***rows);
extern int	es_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);
extern const char *es_route_index(MeshRoute *route);

/* es_import.c */
extern List *es_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
							  const char *local_schema, List *options);

#endif							/* MESH_ES_INTERNAL_H */
