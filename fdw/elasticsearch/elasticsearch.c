/*
 * elasticsearch.c: the Elasticsearch / OpenSearch connector (REST): options,
 * the connection, requests and their errors, health, mesh.execute,
 * mesh.search.
 *
 * Every request goes through the shared HTTP client with a JSON body.  An
 * error answer carries {"error": {"type": ..., "reason": ...}, "status": N}:
 * the type and reason go to errdetail; 429 and 5xx are transient (08xxx),
 * 401/403 ask for a fixed user mapping (28xxx), a missing index waits for a
 * fix (42P01), the rest is permanent.  Credentials (user/password as basic
 * auth, or api_key as "Authorization: ApiKey <key>") travel in headers only.
 */
#include "postgres.h"

#include "json_value.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "es_internal.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_search);

static const MeshOption es_options[] = {
	MESH_HTTP_OPTIONS,
	{.name = "api_key", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1},
	{.name = "page_size", .where = MESH_OPT_SERVER | MESH_OPT_TABLE, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 10000},
	{.name = "index", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "field", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "es_type", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "keyword_field", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "mappings", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "settings", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "refresh", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_ENUM,
	.allowed = "false|true|wait_for"},
	{NULL}
};

/* "opensearch 2.19.1" / "elasticsearch 8.15.0" from the body of GET /; never ereports. */
static char *
es_ping_version(const char *body)
{
	json_t	   *root = json_loads(body, 0, NULL);
	json_t	   *version = root ? json_object_get(root, "version") : NULL;
	json_t	   *number = version ? json_object_get(version, "number") : NULL;
	json_t	   *dist = version ? json_object_get(version, "distribution") : NULL;

	if (!json_is_string(number))
		return NULL;
	return psprintf("%s %s", json_is_string(dist) ? json_string_value(dist) : "elasticsearch",
					json_string_value(number));
}

/* The rest of a connection: the server's page size. */
static void
es_open(void *conn, MeshServerConfig *config)
{
	((EsConn *) conn)->page_size = mesh_config_get_int(config, "page_size", ES_DEFAULT_PAGE);
}

static const MeshHttpSetup es_setup = {
	.kind_label = "Elasticsearch",
	.default_url = "http://127.0.0.1:9200",
	.key_option = "api_key",
	.key_scheme = "ApiKey",
	.ping_path = "/",
	.ping_version = es_ping_version,
	.conn_size = sizeof(EsConn),
	.open = es_open,
};

/* "type: reason" of an error object (or its text when it is not one). */
char *
es_error_text(json_t *error)
{
	json_t	   *type = json_object_get(error, "type");
	json_t	   *reason = json_object_get(error, "reason");
	json_t	   *cause = json_object_get(error, "caused_by");
	StringInfoData buf;

	if (!json_is_object(error))
		return error ? mesh_json_scalar_text(error) : pstrdup("");
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s: %s", json_is_string(type) ? json_string_value(type) : "error",
					 json_is_string(reason) ? json_string_value(reason) : "(no reason)");
	if (json_is_object(cause))
		appendStringInfo(&buf, " (caused by %s)", es_error_text(cause));
	else
	{
		/* a search failure says "all shards failed": the shard's reason tells why */
		json_t	   *root = json_array_get(json_object_get(error, "root_cause"), 0);

		if (json_is_object(root) && !json_equal(json_object_get(root, "type"), type))
			appendStringInfo(&buf, " (root cause %s)", es_error_text(root));
	}
	return buf.data;
}

/* Ereport an error answer (status, body) to the request what. */
void
es_raise(EsConn *ec, long status, const char *body, const char *what)
{
	json_t	   *root = body ? json_loads(body, 0, NULL) : NULL;
	json_t	   *error = root ? json_object_get(root, "error") : NULL;
	const char *type = NULL;
	char	   *detail;
	int			code = ERRCODE_FDW_ERROR;

	if (error)
	{
		detail = es_error_text(error);
		if (json_is_object(error) && json_is_string(json_object_get(error, "type")))
			type = json_string_value(json_object_get(error, "type"));
	}
	else
		detail = pnstrdup(body ? body : "", 2000);
	if (status == 429 || status >= 500)
		code = ERRCODE_CONNECTION_FAILURE;
	else if (status == 401 || status == 403)
		code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	else if (type && strcmp(type, "index_not_found_exception") == 0)
		code = ERRCODE_UNDEFINED_TABLE;
	ereport(ERROR,
			(errcode(code),
			 errmsg("Elasticsearch server \"%s\" answered HTTP %ld to %s",
					ec->servername, status, what),
			 detail[0] ? errdetail("%s", pnstrdup(detail, 2000)) : 0,
			 code == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ?
			 errhint("Check the credentials (user/password or api_key) in the user mapping for server \"%s\".",
					 ec->servername) : 0));
	pg_unreachable();
}

/*
 * Send a request with a JSON body (or none) and parse the JSON answer
 * (NULL when the caller passes resp and accepts any status: then it checks
 * resp->status itself).  Without resp, a non-2xx answer ereports.
 */
json_t *
es_request(EsConn *ec, const char *method, const char *path, const char *body,
		   size_t body_len, const char *what, MeshHttpResponse *resp)
{
	MeshHttpRequest req = {0};
	MeshHttpResponse local;
	MeshHttpResponse *r = resp ? resp : &local;

	req.method = method;
	req.path = path;
	req.body = body;
	req.body_len = body ? body_len : 0;
	req.content_type = body ? "application/json" : NULL;
	req.what = what;
	req.accept_error = true;
	mesh_http_request(ec->http, &req, r);
	if (r->status < 200 || r->status >= 300)
	{
		if (resp)
			return NULL;
		es_raise(ec, r->status, r->body.data, what);
	}
	return mesh_json_parse(r->body.data, r->body.len, ec->servername, what);
}

/* "/<index><suffix>" with the index URL-encoded. */
char *
es_index_path(const char *index, const char *suffix)
{
	return psprintf("/%s%s", mesh_http_escape(index), suffix ? suffix : "");
}

/* Ereport unless index is a valid index name (the rules of both servers). */
void
es_check_index_name(const char *index, const char *option)
{
	const char *why = NULL;

	if (index[0] == '\0')
		why = "It is empty.";
	else if (strlen(index) > 255)
		why = "It is longer than 255 bytes.";
	else if (strchr("-_+", index[0]) != NULL)
		why = "It starts with -, _ or +.";
	else if (strcmp(index, ".") == 0 || strcmp(index, "..") == 0)
		why = "It is . or ..";
	else if (strpbrk(index, "\\/*?\"<>| ,#:") != NULL)
		why = "It contains one of \\ / * ? \" < > | space , # :";
	else
		for (const char *p = index; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				why = "It has uppercase letters.";
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\" is not a valid index name",
						option, index),
				 errdetail("%s", why),
				 errhint("Index names are lowercase and may not contain \\ / * ? \" < > | space , # or :.")));
}

/*
 * The value at a field path of a _source object: the member named path
 * itself, else a dotted path through nested objects ("a.b.c"); NULL when
 * absent.
 */
json_t *
es_source_field(json_t *source, const char *path)
{
	json_t	   *v;
	const char *dot;

	if (!json_is_object(source))
		return NULL;
	v = json_object_get(source, path);
	if (v != NULL)
		return v;
	for (dot = strchr(path, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
	{
		json_t	   *child = json_object_getn(source, path, dot - path);

		if (json_is_object(child) && (v = es_source_field(child, dot + 1)) != NULL)
			return v;
	}
	return NULL;
}

/* A replica's _source as text values aligned with route->columns (verify, query_all). */
char **
es_source_row(MeshRoute *route, json_t *source)
{
	char	  **row = palloc0(sizeof(char *) * Max(route->ncolumns, 1));

	for (int c = 0; c < route->ncolumns; c++)
	{
		json_t	   *v = json_object_get(source, route->columns[c]);

		row[c] = v ? mesh_json_scalar_text(v) : NULL;
	}
	return row;
}

/*
 * The document _id of a row: the primary key's text, or for a composite key
 * the JSON array of its texts (unambiguous whatever the values hold).
 */
char *
es_doc_id(MeshRoute *route, char **values)
{
	StringInfoData buf;

	if (route->nkeys == 1)
	{
		const char *v = values[route->key_index[0]];

		return (char *) (v ? v : "");
	}
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int k = 0; k < route->nkeys; k++)
	{
		const char *v = values[route->key_index[k]];

		if (k > 0)
			appendStringInfoChar(&buf, ',');
		if (v == NULL)
			appendStringInfoString(&buf, "null");
		else
			mesh_json_append_string(&buf, v, strlen(v));
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* Release a scroll context (errors ignored: it expires by itself). */
void
es_scroll_clear(EsConn *ec, const char *scroll_id)
{
	StringInfoData body;
	MeshHttpResponse resp;

	if (scroll_id == NULL)
		return;
	initStringInfo(&body);
	appendStringInfoString(&body, "{\"scroll_id\":[");
	mesh_json_append_string(&body, scroll_id, strlen(scroll_id));
	appendStringInfoString(&body, "]}");
	(void) es_request(ec, "DELETE", "/_search/scroll", body.data, body.len,
					  "a scroll release", &resp);
}

/* Rows of a search answer: each hit as jsonb, then {"aggregations": ...} if any. */
static List *
search_rows(EsConn *ec, json_t *root, const char *what)
{
	json_t	   *hits = json_object_get(root, "hits");
	json_t	   *aggs = json_object_get(root, "aggregations");
	List	   *rows = NIL;
	size_t		i;
	json_t	   *hit;

	hits = mesh_json_get(hits ? hits : root, "hits", JSON_ARRAY, ec->servername, what);
	json_array_foreach(hits, i, hit)
		rows = lappend(rows, mesh_json_to_jsonb(hit));
	if (aggs)
	{
		json_t	   *wrap = json_object();

		json_object_set(wrap, "aggregations", aggs);
		rows = lappend(rows, mesh_json_to_jsonb(wrap));
	}
	return rows;
}

/*
 * mesh.execute.  Two forms:
 *   a query DSL document ('{"query": ...}') searched in params->>'index';
 *   "METHOD /path" optionally followed by a JSON body on the next lines.
 * See README.md for the rows each returns.
 */
static List *
es_execute(void *conn, const char *request, Jsonb *params)
{
	EsConn	   *ec = conn;
	const char *p = request + strspn(request, " \t\r\n");
	json_t	   *root;
	List	   *rows = NIL;

	if (*p == '{')
	{
		JsonbValue	vbuf;
		JsonbValue *v = params ? getKeyJsonValueFromContainer(&params->root, "index", 5, &vbuf) : NULL;
		char	   *index;

		if (v == NULL || v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a query DSL request needs the index in params"),
					 errhint("Pass params '{\"index\": \"name\"}', or write \"POST /name/_search\" before the document.")));
		index = pnstrdup(v->val.string.val, v->val.string.len);
		root = es_request(ec, "POST", es_index_path(index, "/_search"), p, strlen(p),
						  "a search", NULL);
		return search_rows(ec, root, "a search");
	}
	else
	{
		size_t		mlen = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
		char	   *method = pnstrdup(p, mlen);
		const char *path = p + mlen + strspn(p + mlen, " \t");
		size_t		plen = strcspn(path, " \t\r\n");
		const char *body = path + plen + strspn(path + plen, " \t\r\n");

		if (mlen == 0 || (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
						  strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0) ||
			path[0] != '/')
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("invalid Elasticsearch request \"%s\"", pnstrdup(p, 100)),
					 errhint("Write a query DSL document with params '{\"index\": \"name\"}', or \"METHOD /path\" (GET, POST, PUT or DELETE) with an optional JSON body after it.")));
		if (strpbrk(pnstrdup(path, plen), "\"<>\\^`{|}") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("invalid characters in path \"%s\"", pnstrdup(path, plen)),
					 errhint("URL-encode the path.")));
		/* a GET with a body (_search, _count...) goes as the equivalent POST */
		root = es_request(ec, body[0] && strcmp(method, "GET") == 0 ? "POST" : method,
						  pnstrdup(path, plen), body[0] ? body : NULL, strlen(body),
						  "a request", NULL);
		if (json_is_array(root))
		{
			size_t		i;
			json_t	   *e;

			json_array_foreach(root, i, e)
				rows = lappend(rows, mesh_json_to_jsonb(e));
		}
		else if (json_is_object(root) && json_is_object(json_object_get(root, "hits")))
			rows = search_rows(ec, root, "a request");
		else
			rows = lappend(rows, mesh_json_to_jsonb(root));
		return rows;
	}
}

/* mesh.search(server, index, query, k): a query_string query, best first. */
Datum
mesh_search(PG_FUNCTION_ARGS)
{
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *index = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(2));
	int32		k = PG_GETARG_INT32(3);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MeshServerConfig *config = mesh_server_config_by_name(server);
	EsConn	   *ec;
	StringInfoData body;
	json_t	   *root;
	json_t	   *hits;
	json_t	   *hit;
	size_t		i;

	if (config->connector != &mesh_elasticsearch_connector)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("server \"%s\" is not a search server", server),
				 errdetail("Its kind is %s.", config->connector->kind),
				 errhint("Use a server of mesh_elasticsearch.")));
	if (k < 0 || k > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 0 and 10000, not %d", k)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	initStringInfo(&body);
	appendStringInfo(&body, "{\"size\":%d,\"track_total_hits\":false,\"query\":{\"query_string\":{\"query\":", k);
	mesh_json_append_string(&body, query, strlen(query));
	appendStringInfoString(&body, "}}}");
	ec = mesh_get_connection(config);
	mesh_connection_begin_use(config);
	root = es_request(ec, "POST", es_index_path(index, "/_search"), body.data, body.len,
					  "a search", NULL);
	mesh_connection_end_use(config);
	hits = mesh_json_get(mesh_json_get(root, "hits", JSON_OBJECT, server, "a search"),
						 "hits", JSON_ARRAY, server, "a search");
	json_array_foreach(hits, i, hit)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		json_t	   *id = json_object_get(hit, "_id");
		json_t	   *score = json_object_get(hit, "_score");
		json_t	   *source = json_object_get(hit, "_source");

		if (!json_is_string(id))
			mesh_json_malformed(server, "a search", "A hit has no string _id.");
		values[0] = CStringGetTextDatum(json_string_value(id));
		nulls[1] = !json_is_number(score);
		values[1] = Float8GetDatum(nulls[1] ? 0 : json_number_value(score));
		nulls[2] = source == NULL;
		values[2] = source ? JsonbPGetDatum(mesh_json_to_jsonb(source)) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

static const MeshScanOps elasticsearch_scan = {
	.plan_scan = es_plan_scan,
	.begin_scan = es_begin_scan,
	.next_row = es_next_row,
	.end_scan = es_end_scan,
	.explain_scan = es_explain_scan,
	.plan_upper = es_plan_upper,
	.import_schema = es_import_schema,
};

const MeshConnector mesh_elasticsearch_connector = {
	.kind = "elasticsearch",
	.options = es_options,
	.execute = es_execute,
	.http_setup = &es_setup,
	.scan = &elasticsearch_scan,
	.sink = &es_sink_ops,
	.fetch_rows = mesh_http_fetch_rows,
	.scan_keys = es_scan_keys,
	.fetch_request = es_fetch_request,
	.fetch_answer = es_fetch_answer,
};
