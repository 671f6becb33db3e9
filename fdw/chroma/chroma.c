/*
 * chroma.c: the Chroma connector (HTTP API v2, as served by chromadb
 * 1.5.x): a vector store for the shared vector sink (src/vector_sink.c),
 * mesh.vector_search, verify and health.
 *
 * Collections live under /api/v2/tenants/<tenant>/databases/<database>
 * (server options tenant and database; defaults default_tenant and
 * default_database).  A route's collection is found by name (one GET,
 * cached with the route) and created on demand with the route's distance
 * as its HNSW space (Cosine: cosine, Dot: ip, Euclid: l2).  Records: id =
 * the primary key's text (mesh_vector_key_text), embedding = the vector,
 * metadata = the payload (Chroma metadata holds strings, numbers,
 * booleans and arrays: NULL columns are left out).  A cosine collection
 * stores its vectors normalised and scaled back, which perturbs the last
 * bits, so for Cosine the metadata also keeps the vector column as given
 * (verify compares that copy).  Chroma returns distances; scores
 * are reported as Qdrant does: 1 - distance for cosine and ip (cosine
 * similarity, dot product), the square root of l2's squared distance.
 * Errors ({"error": class, "message": text}) go to errdetail; 5xx and 429
 * are transient.
 */
#include "postgres.h"

#include <math.h>

#include "vector.h"

#include "utils/memutils.h"

#include "http.h"

typedef struct ChromaConn
{
	MESH_HTTP_CONN_HEAD;
	char	   *base;			/* /api/v2/tenants/<t>/databases/<d>/collections */
} ChromaConn;

static const MeshOption chroma_options[] = {
	MESH_HTTP_OPTIONS,
	{.name = "tenant", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "database", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	MESH_VECTOR_ROUTE_OPTIONS,
	MESH_VECTOR_TABLE_OPTIONS,
	{NULL}
};

/* The API version from GET /api/v2/version (a JSON string). */
static char *
chroma_ping_version(const char *body)
{
	json_t	   *v = json_loads(body, JSON_DECODE_ANY, NULL);

	if (v == NULL || !json_is_string(v))
		return NULL;
	return psprintf("API %s", pnstrdup(json_string_value(v), Min(json_string_length(v), 32)));
}

/* The rest of a connection: the collections path of its tenant and database. */
static void
chroma_open(void *conn, MeshServerConfig *config)
{
	((ChromaConn *) conn)->base =
		psprintf("/api/v2/tenants/%s/databases/%s/collections",
				 mesh_http_escape(mesh_config_get(config, "tenant", "default_tenant")),
				 mesh_http_escape(mesh_config_get(config, "database", "default_database")));
}

static const MeshHttpSetup chroma_setup = {
	.kind_label = "Chroma",
	.default_url = "http://127.0.0.1:8000",
	.ping_path = "/api/v2/version",
	.ping_version = chroma_ping_version,
	.conn_size = sizeof(ChromaConn),
	.open = chroma_open,
};


/*
 * One request (body: JSON text or NULL); the parsed answer, or NULL for a
 * 404 when missing_ok.  Error answers ereport with Chroma's message.
 */
static json_t *
chroma_request(ChromaConn *cc, const char *method, const char *path, const char *body,
			   const char *what, bool missing_ok)
{
	MeshHttpRequest req = {0};
	MeshHttpResponse resp;

	req.method = method;
	req.path = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = body ? "application/json" : NULL;
	req.what = what;
	req.accept_error = true;
	mesh_http_request(cc->http, &req, &resp);
	if (resp.status == 404 && missing_ok)
		return NULL;
	if (resp.status < 200 || resp.status >= 300)
	{
		json_t	   *err = json_loads(resp.body.data, 0, NULL);
		json_t	   *cls = err ? json_object_get(err, "error") : NULL;
		json_t	   *msg = err ? json_object_get(err, "message") : NULL;

		if (json_is_string(msg))
			mesh_http_raise(cc->http, what, resp.status,
							psprintf("%s: %s", json_is_string(cls) ? json_string_value(cls) : "Error",
									 json_string_value(msg)));
		mesh_http_raise(cc->http, what, resp.status, resp.body.data);
	}
	return mesh_json_parse(resp.body.data, resp.body.len, cc->servername, what);
}

static const char *
space_of(const char *distance)
{
	if (strcmp(distance, "Dot") == 0)
		return "ip";
	if (strcmp(distance, "Euclid") == 0)
		return "l2";
	return "cosine";
}

/* The collection (name) as Chroma describes it, or NULL when absent. */
static json_t *
collection_info(ChromaConn *cc, const char *name, const char *what)
{
	return chroma_request(cc, "GET", psprintf("%s/%s", cc->base, mesh_http_escape(name)), NULL,
						  what, true);
}

static char *
collection_id(ChromaConn *cc, json_t *info)
{
	json_t	   *id = mesh_json_get(info, "id", JSON_STRING, cc->servername, "a collection lookup");

	return pstrdup(json_string_value(id));
}

/* The path of an operation on the route's collection. */
static char *
op_path(ChromaConn *cc, MeshVectorRoute *vr, const char *op)
{
	return psprintf("%s/%s/%s", cc->base, (char *) vr->kind_private, op);
}

static void
chroma_prepare(void *conn, MeshRoute *route, MeshVectorRoute *vr, bool create)
{
	ChromaConn *cc = conn;
	json_t	   *info;
	char	   *id;

	/* cosine collections normalise vectors: keep the exact copy for verify */
	vr->vector_in_payload = strcmp(vr->distance, "Cosine") == 0;
	if (vr->kind_private)
		return;
	info = collection_info(cc, vr->collection, "a collection lookup");
	if (info == NULL && !create)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("Chroma collection \"%s\" does not exist on server \"%s\"",
						vr->collection, cc->servername)));
	if (info == NULL)
	{
		StringInfoData body;

		initStringInfo(&body);
		appendStringInfoString(&body, "{\"name\":");
		mesh_json_append_string(&body, vr->collection, strlen(vr->collection));
		appendStringInfo(&body, ",\"get_or_create\":true,\"configuration\":{\"hnsw\":{\"space\":\"%s\"}}}",
						 space_of(vr->distance));
		info = chroma_request(cc, "POST", cc->base, body.data, "a collection creation", false);
	}
	id = collection_id(cc, info);
	vr->kind_private = MemoryContextStrdup(route->cxt, id);
}

/* {"ids": [...], ...: the ids of keys as a JSON array. */
static void
append_ids(StringInfo buf, char **keys, int n)
{
	appendStringInfoString(buf, "\"ids\":[");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		mesh_json_append_string(buf, keys[i], strlen(keys[i]));
	}
	appendStringInfoChar(buf, ']');
}

static void
chroma_upsert(void *conn, MeshRoute *route, MeshVectorRoute *vr, MeshVectorPoint *points, int n)
{
	ChromaConn *cc = conn;
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"ids\":[");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&body, ',');
		mesh_json_append_string(&body, points[i].key, strlen(points[i].key));
	}
	appendStringInfoString(&body, "],\"embeddings\":[");
	for (int i = 0; i < n; i++)
		appendStringInfo(&body, "%s%s", i ? "," : "", points[i].vector_json);
	appendStringInfoString(&body, "],\"metadatas\":[");
	for (int i = 0; i < n; i++)
		appendStringInfo(&body, "%s%s", i ? "," : "", points[i].payload);
	appendStringInfoString(&body, "]}");
	chroma_request(cc, "POST", op_path(cc, vr, "upsert"), body.data, "an upsert", false);
}

static void
chroma_remove(void *conn, MeshRoute *route, MeshVectorRoute *vr, char **keys, int n)
{
	ChromaConn *cc = conn;
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoChar(&body, '{');
	append_ids(&body, keys, n);
	appendStringInfoChar(&body, '}');
	chroma_request(cc, "POST", op_path(cc, vr, "delete"), body.data, "a delete", false);
}

/* TRUNCATE: drop the collection and create it again. */
static void
chroma_truncate(void *conn, MeshRoute *route, MeshVectorRoute *vr)
{
	ChromaConn *cc = conn;

	chroma_request(cc, "DELETE", psprintf("%s/%s", cc->base, mesh_http_escape(vr->collection)),
				   NULL, "a collection deletion", true);
	vr->kind_private = NULL;
	chroma_prepare(conn, route, vr, true);
}

static void
chroma_get(void *conn, MeshRoute *route, MeshVectorRoute *vr, int n, char **keys,
		   json_t **payloads, json_t **vectors)
{
	ChromaConn *cc = conn;
	StringInfoData body;
	json_t	   *doc,
			   *ids,
			   *metas,
			   *embs;
	size_t		i;
	json_t	   *id;

	initStringInfo(&body);
	appendStringInfoChar(&body, '{');
	append_ids(&body, keys, n);
	appendStringInfoString(&body, ",\"include\":[\"metadatas\",\"embeddings\"]}");
	doc = chroma_request(cc, "POST", op_path(cc, vr, "get"), body.data, "a verify read", false);
	ids = mesh_json_get(doc, "ids", JSON_ARRAY, cc->servername, "a verify read");
	metas = mesh_json_get(doc, "metadatas", JSON_ARRAY, cc->servername, "a verify read");
	embs = mesh_json_get(doc, "embeddings", JSON_ARRAY, cc->servername, "a verify read");
	json_array_foreach(ids, i, id)
	{
		if (!json_is_string(id))
			mesh_json_malformed(cc->servername, "a verify read", "An id is not a string.");
		for (int k = 0; k < n; k++)
			if (strcmp(keys[k], json_string_value(id)) == 0)
			{
				json_t	   *m = json_array_get(metas, i);

				payloads[k] = json_is_object(m) ? m : json_object();
				vectors[k] = json_array_get(embs, i);
			}
	}
}

typedef struct ChromaScan
{
	int64		offset;
	bool		done;
} ChromaScan;

static int
chroma_scan(void *conn, MeshRoute *route, MeshVectorRoute *vr, void **state, int max,
			json_t **payloads)
{
	ChromaConn *cc = conn;
	ChromaScan *st = *state;
	json_t	   *doc,
			   *metas;
	int			n;

	if (st == NULL)
		*state = st = MemoryContextAllocZero(route->cxt, sizeof(ChromaScan));
	if (st->done)
		return 0;
	doc = chroma_request(cc, "POST", op_path(cc, vr, "get"),
						 psprintf("{\"include\":[\"metadatas\"],\"limit\":%d,\"offset\":" INT64_FORMAT "}",
								  max, st->offset),
						 "a verify scan", false);
	metas = mesh_json_get(doc, "metadatas", JSON_ARRAY, cc->servername, "a verify scan");
	n = Min((int) json_array_size(metas), max);
	for (int i = 0; i < n; i++)
	{
		json_t	   *m = json_array_get(metas, i);

		payloads[i] = json_is_object(m) ? m : json_object();
	}
	st->offset += n;
	st->done = n < max;
	return n;
}

static int
chroma_search(void *conn, const char *collection, const float4 *vector, int dim, int k,
			  const char *filter, MeshVectorHit **hits)
{
	ChromaConn *cc = conn;
	json_t	   *info = collection_info(cc, collection, "a collection lookup");
	json_t	   *space;
	const char *sp;
	StringInfoData body;
	json_t	   *doc,
			   *ids,
			   *dists,
			   *metas;
	int			n;

	if (info == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("Chroma collection \"%s\" does not exist on server \"%s\"",
						collection, cc->servername)));
	space = json_object_get(json_object_get(json_object_get(info, "configuration_json"), "hnsw"), "space");
	sp = json_is_string(space) ? json_string_value(space) : "l2";
	initStringInfo(&body);
	appendStringInfoString(&body, "{\"query_embeddings\":[");
	mesh_vector_append_floats(&body, vector, dim);
	appendStringInfo(&body, "],\"n_results\":%d,\"include\":[\"metadatas\",\"distances\"]", k);
	if (filter)
		appendStringInfo(&body, ",\"where\":%s", filter);
	appendStringInfoChar(&body, '}');
	doc = chroma_request(cc, "POST", psprintf("%s/%s/query", cc->base, collection_id(cc, info)),
						 body.data, "a search", false);
	ids = json_array_get(mesh_json_get(doc, "ids", JSON_ARRAY, cc->servername, "a search"), 0);
	dists = json_array_get(mesh_json_get(doc, "distances", JSON_ARRAY, cc->servername, "a search"), 0);
	metas = json_array_get(mesh_json_get(doc, "metadatas", JSON_ARRAY, cc->servername, "a search"), 0);
	n = json_is_array(ids) ? json_array_size(ids) : 0;
	if (n > 0 && (!json_is_array(dists) || (int) json_array_size(dists) != n))
		mesh_json_malformed(cc->servername, "a search", "The distances do not match the ids.");
	*hits = palloc0(sizeof(MeshVectorHit) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		json_t	   *id = json_array_get(ids, i);
		json_t	   *d = json_array_get(dists, i);
		json_t	   *m = json_array_get(metas, i);
		double		dist;

		if (!json_is_string(id) || !json_is_number(d))
			mesh_json_malformed(cc->servername, "a search", "A hit lacks its id or distance.");
		dist = json_number_value(d);
		(*hits)[i].id = pstrdup(json_string_value(id));
		(*hits)[i].score = strcmp(sp, "l2") == 0 ? sqrt(Max(dist, 0)) : 1.0 - dist;
		(*hits)[i].payload = json_is_object(m) ? m : NULL;
	}
	return n;
}

typedef struct ChromaList
{
	char	   *id;				/* the collection's id */
	int64		offset;
} ChromaList;

/* A page of every record of a collection (ids and metadatas). */
static int
chroma_list(void *conn, const char *collection, void **state, int max, MeshVectorHit **hits)
{
	ChromaConn *cc = conn;
	ChromaList *st = *state;
	json_t	   *doc,
			   *ids,
			   *metas;
	int			n;

	if (st == NULL)
	{
		json_t	   *info = collection_info(cc, collection, "a collection lookup");

		if (info == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("Chroma collection \"%s\" does not exist on server \"%s\"",
							collection, cc->servername)));
		*state = st = palloc0(sizeof(ChromaList));
		st->id = collection_id(cc, info);
	}
	doc = chroma_request(cc, "POST", psprintf("%s/%s/get", cc->base, st->id),
						 psprintf("{\"include\":[\"metadatas\"],\"limit\":%d,\"offset\":" INT64_FORMAT "}",
								  max, st->offset),
						 "a scan", false);
	ids = mesh_json_get(doc, "ids", JSON_ARRAY, cc->servername, "a scan");
	metas = mesh_json_get(doc, "metadatas", JSON_ARRAY, cc->servername, "a scan");
	n = Min((int) json_array_size(ids), max);
	*hits = palloc0(sizeof(MeshVectorHit) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		json_t	   *id = json_array_get(ids, i);
		json_t	   *m = json_array_get(metas, i);

		if (!json_is_string(id))
			mesh_json_malformed(cc->servername, "a scan", "An id is not a string.");
		(*hits)[i].id = pstrdup(json_string_value(id));
		(*hits)[i].payload = json_is_object(m) ? m : NULL;
	}
	st->offset += n;
	return n;
}

static const MeshVectorOps chroma_vector_ops = {
	.prepare = chroma_prepare,
	.upsert = chroma_upsert,
	.remove = chroma_remove,
	.truncate = chroma_truncate,
	.get = chroma_get,
	.scan = chroma_scan,
	.search = chroma_search,
	.list = chroma_list,
};


const MeshConnector mesh_chroma_connector = {
	.kind = "chroma",
	.options = chroma_options,
	.http_setup = &chroma_setup,
	.scan = &mesh_vector_scan_ops,
	.sink = &mesh_vector_sink_ops,
	.fetch_rows = mesh_vector_fetch_rows,
	.scan_keys = mesh_vector_scan_keys,
	.vector = &chroma_vector_ops,
};
