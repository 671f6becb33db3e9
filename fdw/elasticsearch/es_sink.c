/*
 * es_sink.c: an index as a replication target (_bulk), and its side of
 * verify.
 *
 * Layout: route option index (default: the source table's name, which
 * must then be a valid index name); one document per row, _id = the
 * primary key's text (a composite key: the JSON array of its texts),
 * _source = every column by name.  Values: integers, floats and booleans
 * as JSON numbers and booleans, json/jsonb embedded, timestamps in ISO
 * 8601, numeric and everything else as strings (numeric keeps its exact
 * digits; the index's numeric mapping coerces it).
 *
 * Every write is versioned by its event id (version_type=external): the
 * server refuses a version at or below the one it holds, so a replay or a
 * re-delivery never puts an older row over a newer one; deletes are
 * versioned too (the server keeps a tombstone's version for
 * index.gc_deletes, 60 s by default).  Each bulk item is judged on its
 * own (the sink engine hands over the last change of each key): 2xx, a
 * 409 version conflict (already newer) and a 404 delete (already gone) are
 * acknowledged; 429/5xx leave the item unknown (retried); a missing index
 * waits; any other refusal (a mapping conflict: mapper_parsing_exception)
 * refuses that document (a dead letter) while the rest lands.  TRUNCATE is
 * a delete_by_query of every document.
 *
 * prepare creates the index when absent: route options mappings and
 * settings (JSON objects) when given, else mappings derived from the
 * column types (README.md).
 */
#include "postgres.h"

#include "json_value.h"

#include "catalog/pg_type.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"

#include "es_internal.h"
#include "mesh_util.h"

/* The route's index (validated at prepare). */
const char *
es_route_index(MeshRoute *route)
{
	const char *index = mesh_route_option(route, "index", NULL);

	return index ? index : route->source_name;
}

/* The mapping type for a column's PostgreSQL type, or NULL: dynamic. */
static const char *
mapping_type(Oid t)
{
	switch (t)
	{
		case INT2OID:
			return "{\"type\":\"short\"}";
		case INT4OID:
			return "{\"type\":\"integer\"}";
		case INT8OID:
			return "{\"type\":\"long\"}";
		case FLOAT4OID:
			return "{\"type\":\"float\"}";
		case FLOAT8OID:
		case NUMERICOID:
			return "{\"type\":\"double\"}";
		case BOOLOID:
			return "{\"type\":\"boolean\"}";
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return "{\"type\":\"date\"}";
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return "{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":256}}}";
		case UUIDOID:
			return "{\"type\":\"keyword\"}";
		default:
			return NULL;
	}
}

/* A JSON object route option (text) or NULL; ereports when it is not an object. */
static char *
object_option(MeshRoute *route, const char *name)
{
	const char *v = mesh_route_option(route, name, NULL);
	json_t	   *j;

	if (v == NULL)
		return NULL;
	j = json_loads(v, 0, NULL);
	if (!json_is_object(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for route option \"%s\": \"%s\"", name, pnstrdup(v, 200)),
				 errhint("Give a JSON object, e.g. '{\"%s\": {%s}}'.", name,
						 strcmp(name, "mappings") == 0 ?
						 "\"properties\": {\"title\": {\"type\": \"text\"}}" :
						 "\"number_of_shards\": 1")));
	return (char *) v;
}

/* mesh.replicate: options checked; the index created when absent. */
static void
es_prepare(void *conn, MeshRoute *route)
{
	EsConn	   *ec = conn;
	const char *index = es_route_index(route);
	char	   *mappings = object_option(route, "mappings");
	char	   *settings = object_option(route, "settings");
	MeshHttpResponse resp;
	StringInfoData body;
	json_t	   *root;

	es_check_index_name(index, mesh_route_option(route, "index", NULL) ? "index" :
						"index (default: the table name)");
	(void) es_request(ec, "GET", es_index_path(index, "/_mapping"), NULL, 0,
					  "an index lookup", &resp);
	if (resp.status >= 200 && resp.status < 300)
		return;
	if (resp.status != 404)
		es_raise(ec, resp.status, resp.body.data, "an index lookup");
	initStringInfo(&body);
	appendStringInfoChar(&body, '{');
	if (settings)
		appendStringInfo(&body, "\"settings\":%s,", settings);
	if (mappings)
		appendStringInfo(&body, "\"mappings\":%s", mappings);
	else
	{
		bool		first = true;

		appendStringInfoString(&body, "\"mappings\":{\"properties\":{");
		for (int c = 0; c < route->ncolumns; c++)
		{
			const char *m = mapping_type(route->types[c]);

			if (m == NULL)
				continue;
			if (!first)
				appendStringInfoChar(&body, ',');
			mesh_json_append_string(&body, route->columns[c], strlen(route->columns[c]));
			appendStringInfo(&body, ":%s", m);
			first = false;
		}
		appendStringInfoString(&body, "}}");
	}
	appendStringInfoChar(&body, '}');
	root = es_request(ec, "PUT", es_index_path(index, NULL), body.data, body.len,
					  "an index creation", &resp);
	if (root == NULL && !strstr(resp.body.data, "resource_already_exists_exception"))
		es_raise(ec, resp.status, resp.body.data, "an index creation");
}

/*
 * A date or timestamp (PostgreSQL text in the capturing session's DateStyle)
 * as an ISO 8601 JSON string, through the type's input function (built in:
 * no catalog access).  "infinity" stays a string the index will refuse.
 */
static void
append_datetime(StringInfo buf, Oid t, const char *v)
{
	char		tbuf[MAXDATELEN + 1];
	Datum		d;
	char	   *iso;

	if (t == DATEOID)
		d = DirectFunctionCall1(date_in, CStringGetDatum(v));
	else
		d = DirectFunctionCall3(t == TIMESTAMPOID ? timestamp_in : timestamptz_in,
								CStringGetDatum(v), ObjectIdGetDatum(InvalidOid),
								Int32GetDatum(-1));
	iso = JsonEncodeDateTime(tbuf, d, t, NULL);
	mesh_json_append_string(buf, iso, strlen(iso));
}

/* Append one column value (PostgreSQL text, NULL = null) as JSON. */
static void
append_column(StringInfo buf, Oid t, const char *v)
{
	if (v == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	switch (t)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
			appendStringInfoString(buf, v);
			return;
		case FLOAT4OID:
		case FLOAT8OID:
			if (strspn(v, "0123456789.-+e") == strlen(v))
			{
				appendStringInfoString(buf, v);
				return;
			}
			break;				/* NaN, Infinity: a string */
		case BOOLOID:
			appendStringInfoString(buf, v[0] == 't' ? "true" : "false");
			return;
		case JSONOID:
		case JSONBOID:
			appendStringInfoString(buf, v);
			return;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			append_datetime(buf, t, v);
			return;
	}
	mesh_json_append_string(buf, v, strlen(v));
}

/* Append the bulk action line of row (index or delete, versioned by its event id). */
static void
append_action(StringInfo buf, MeshRoute *route, const char *index, MeshSinkRow *row)
{
	char	   *id = es_doc_id(route, row->values);

	appendStringInfo(buf, "{\"%s\":{\"_index\":", row->op == 'D' ? "delete" : "index");
	mesh_json_append_string(buf, index, strlen(index));
	appendStringInfoString(buf, ",\"_id\":");
	mesh_json_append_string(buf, id, strlen(id));
	appendStringInfo(buf, ",\"version\":" INT64_FORMAT ",\"version_type\":\"external\"}}\n",
					 row->event_id);
	if (row->op == 'D')
		return;
	appendStringInfoChar(buf, '{');
	for (int c = 0; c < route->ncolumns; c++)
	{
		if (c > 0)
			appendStringInfoChar(buf, ',');
		mesh_json_append_string(buf, route->columns[c], strlen(route->columns[c]));
		appendStringInfoChar(buf, ':');
		append_column(buf, route->types[c], row->values[c]);
	}
	appendStringInfoString(buf, "}\n");
}

/*
 * Send rows[0..n) (upserts or deletes, one per key) as one _bulk request
 * and judge each item: 2xx, a 409 version conflict (already newer) and a
 * 404 delete (already gone) are acknowledged; 429/5xx leave the item
 * unknown; any other refusal refuses it; a missing index ereports (the
 * route waits for it).
 */
static void
es_bulk(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	EsConn	   *ec = conn;
	const char *index = es_route_index(route);
	StringInfoData body;
	json_t	   *root;
	json_t	   *items;
	json_t	   *item;
	size_t		i;
	const char *refresh = mesh_route_option(route, "refresh", "false");
	char	   *missing = NULL;

	initStringInfo(&body);
	for (int j = 0; j < n; j++)
		append_action(&body, route, index, &rows[j]);
	/* the answer holds only what is judged: no per-item metadata */
	root = es_request(ec, "POST",
					  psprintf("/_bulk?filter_path=errors,items.*.status,items.*.error%s%s",
							   strcmp(refresh, "false") == 0 ? "" : "&refresh=",
							   strcmp(refresh, "false") == 0 ? "" : refresh),
					  body.data, body.len, "a bulk write", NULL);
	pfree(body.data);
	if (json_is_false(json_object_get(root, "errors")))
	{
		for (int j = 0; j < n; j++)
			out[j].status = MESH_ITEM_ACKED;
		return;
	}
	items = mesh_json_get(root, "items", JSON_ARRAY, ec->servername, "a bulk write");
	if (json_array_size(items) != (size_t) n)
		mesh_json_malformed(ec->servername, "a bulk write",
							psprintf("%zu items answer %d actions.", json_array_size(items), n));
	json_array_foreach(items, i, item)
	{
		json_t	   *res = json_object_get(item, rows[i].op == 'D' ? "delete" : "index");
		json_t	   *status = json_object_get(res, "status");
		json_t	   *error = json_object_get(res, "error");
		long		st = json_is_integer(status) ? (long) json_integer_value(status) : 0;
		char	   *why;

		if (!json_is_object(res) || st == 0)
			mesh_json_malformed(ec->servername, "a bulk write", "An item has no status.");
		if ((st >= 200 && st < 300) || st == 409 || (st == 404 && rows[i].op == 'D' && !error))
		{
			out[i].status = MESH_ITEM_ACKED;
			continue;
		}
		why = error ? es_error_text(error) : psprintf("HTTP %ld", st);
		if (st == 429 || st >= 500)
			out[i].reason = psprintf("Elasticsearch server \"%s\" could not write a document (HTTP %ld): %s",
									 ec->servername, st, why);
		else if (error && strstr(why, "index_not_found_exception") == why)
			missing = why;
		else
		{
			out[i].status = MESH_ITEM_REFUSED;
			out[i].reason = psprintf("Elasticsearch refused the document (HTTP %ld): %s", st, why);
		}
	}
	if (missing)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("index \"%s\" does not exist on Elasticsearch server \"%s\"", index, ec->servername),
				 errdetail("%s", missing),
				 errhint("Create the index, or recreate the route (mesh.unreplicate, mesh.replicate) to have it created.")));
}

/* Sink truncate: a delete_by_query of every document. */
static void
es_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	(void) es_request(conn, "POST",
					  es_index_path(es_route_index(route),
									"/_delete_by_query?conflicts=proceed&refresh=true"),
					  "{\"query\":{\"match_all\":{}}}", 27, "a truncate", NULL);
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps es_sink_ops = {
	.max_batch = 1000,
	.prepare = es_prepare,
	.upsert = es_bulk,
	.remove = es_bulk,
	.truncate = es_truncate,
};

/*
 * verify and query_all: one _mget of the given keys' documents (real time:
 * no refresh needed).
 */
void
es_fetch_request(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpRequest *req)
{
	StringInfoData body;
	char	  **values = palloc0(sizeof(char *) * Max(route->ncolumns, 1));

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"ids\":[");
	for (int j = 0; j < n; j++)
	{
		char	   *id;

		for (int k = 0; k < route->nkeys; k++)
			values[route->key_index[k]] = keys[j][k];
		id = es_doc_id(route, values);
		if (j > 0)
			appendStringInfoChar(&body, ',');
		mesh_json_append_string(&body, id, strlen(id));
	}
	appendStringInfoString(&body, "]}");
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->path = es_index_path(es_route_index(route), "/_mget");
	req->body = body.data;
	req->body_len = body.len;
	req->content_type = "application/json";
	req->what = "a verify read";
	req->accept_error = true;
}

/* The rows of an _mget answer (NULL for documents not found). */
void
es_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpStream *answer,
				char ***rows)
{
	EsConn	   *ec = conn;
	MeshHttpResponse *resp = &answer->response;
	json_t	   *docs;
	json_t	   *doc;
	size_t		i;

	mesh_http_stream_read_all(answer);
	if (resp->status < 200 || resp->status >= 300)
		es_raise(ec, resp->status, resp->body.data, "a verify read");
	docs = mesh_json_get(mesh_json_parse(resp->body.data, resp->body.len, ec->servername,
										 "a verify read"),
						 "docs", JSON_ARRAY, ec->servername, "a verify read");
	if (json_array_size(docs) != (size_t) n)
		mesh_json_malformed(ec->servername, "a verify read", "The answer has the wrong number of docs.");
	json_array_foreach(docs, i, doc)
	{
		json_t	   *source = json_object_get(doc, "_source");
		json_t	   *error = json_object_get(doc, "error");

		rows[i] = NULL;
		if (error)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("Elasticsearch server \"%s\" could not read a document of index \"%s\"",
							ec->servername, es_route_index(route)),
					 errdetail("%s", es_error_text(error))));
		if (json_is_true(json_object_get(doc, "found")) && json_is_object(source))
			rows[i] = es_source_row(route, source);
	}
}

typedef struct EsKeyScan
{
	char	   *scroll_id;		/* in route->cxt */
	bool		done;
} EsKeyScan;

/* verify: the keys present (after a refresh), a scroll page at a time. */
int
es_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	EsConn	   *ec = conn;
	EsKeyScan  *ks = *state;
	const char *index = es_route_index(route);
	StringInfoData body;
	json_t	   *root;
	json_t	   *hits;
	json_t	   *hit;
	json_t	   *sid;
	size_t		i;
	int			n = 0;

	if (ks == NULL)
	{
		ks = MemoryContextAllocZero(route->cxt, sizeof(EsKeyScan));
		*state = ks;
		/* what was written becomes searchable: the count is deterministic */
		(void) es_request(ec, "POST", es_index_path(index, "/_refresh"), NULL, 0,
						  "a refresh", NULL);
	}
	if (ks->done)
		return 0;
	initStringInfo(&body);
	if (ks->scroll_id == NULL)
	{
		appendStringInfo(&body, "{\"size\":%d,\"sort\":[\"_doc\"],\"_source\":[", max);
		for (int k = 0; k < route->nkeys; k++)
		{
			const char *name = route->columns[route->key_index[k]];

			if (k > 0)
				appendStringInfoChar(&body, ',');
			mesh_json_append_string(&body, name, strlen(name));
		}
		appendStringInfoString(&body, "]}");
		root = es_request(ec, "POST", es_index_path(index, "/_search?scroll=" ES_SCROLL_KEEP),
						  body.data, body.len, "a verify scan", NULL);
	}
	else
	{
		appendStringInfoString(&body, "{\"scroll\":\"" ES_SCROLL_KEEP "\",\"scroll_id\":");
		mesh_json_append_string(&body, ks->scroll_id, strlen(ks->scroll_id));
		appendStringInfoChar(&body, '}');
		root = es_request(ec, "POST", "/_search/scroll", body.data, body.len,
						  "a verify scan", NULL);
	}
	sid = json_object_get(root, "_scroll_id");
	if (json_is_string(sid))
		ks->scroll_id = MemoryContextStrdup(route->cxt, json_string_value(sid));
	hits = mesh_json_get(mesh_json_get(root, "hits", JSON_OBJECT, ec->servername, "a verify scan"),
						 "hits", JSON_ARRAY, ec->servername, "a verify scan");
	json_array_foreach(hits, i, hit)
	{
		json_t	   *source = json_object_get(hit, "_source");
		json_t	   *id = json_object_get(hit, "_id");

		keys[n] = palloc(sizeof(char *) * route->nkeys);
		for (int k = 0; k < route->nkeys; k++)
		{
			json_t	   *v = json_object_get(source, route->columns[route->key_index[k]]);

			if (v == NULL && route->nkeys == 1 && json_is_string(id))
				v = id;
			keys[n][k] = v ? mesh_json_scalar_text(v) : NULL;
		}
		n++;
	}
	if (n < max)
	{
		ks->done = true;
		es_scroll_clear(ec, ks->scroll_id);
	}
	return n;
}
