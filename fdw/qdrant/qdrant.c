/*
 * qdrant.c: the Qdrant connector (REST API): a vector store for the shared
 * vector sink (src/vector_sink.c), mesh.vector_search, verify and health.
 * Tested against a CONTRACT stand-in (test/qdrant_standin.py), not a live
 * Qdrant: none can be had on the machines mesh is built on.
 *
 * Collections are created on demand by PUT /collections/<name> with
 * {"vectors": {"size": route option size, "distance": route option
 * distance}}.  Points: PUT /collections/<c>/points?wait=true, deletes by
 * POST .../points/delete?wait=true, both acknowledged once applied.  Point
 * ids: a single integer key column with a non-negative value is the id
 * itself; any other key is the UUID version 5 of its text
 * (mesh_vector_key_text) in the URL namespace
 * (6ba7b811-9dad-11d1-80b4-00c04fd430c8), so
 * python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "key"))'
 * finds a point.  Qdrant stores Cosine vectors normalised, so for Cosine
 * the payload also keeps the vector column as given (verify compares that
 * copy).  The api key (user mapping option api_key) travels in the
 * api-key header.  Answers are {"result": ..., "status": "ok", "time": t};
 * errors {"status": {"error": message}} go to errdetail; 5xx and 429 are
 * transient.
 */
#include "postgres.h"

#include "vector.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "http.h"

typedef struct QdrantConn
{
	MESH_HTTP_CONN_HEAD;
} QdrantConn;

static const MeshOption qdrant_options[] = {
	MESH_HTTP_OPTIONS,
	{.name = "api_key", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1},
	MESH_VECTOR_ROUTE_OPTIONS,
	MESH_VECTOR_TABLE_OPTIONS,
	{NULL}
};

static const MeshHttpSetup qdrant_setup = {
	.kind_label = "Qdrant",
	.default_url = "http://127.0.0.1:6333",
	.key_option = "api_key",
	.key_header = "api-key",
	.ping_path = "/",
	.ping_version_field = "version",
	.conn_size = sizeof(QdrantConn),
};


/*
 * One request; the answer's "result", or NULL for a 404 when missing_ok.
 * Error answers ereport with Qdrant's message.
 */
static json_t *
qdrant_request(QdrantConn *qc, const char *method, const char *path, const char *body,
			   const char *what, bool missing_ok)
{
	MeshHttpRequest req = {0};
	MeshHttpResponse resp;
	json_t	   *doc,
			   *status;

	req.method = method;
	req.path = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = body ? "application/json" : NULL;
	req.what = what;
	req.accept_error = true;
	mesh_http_request(qc->http, &req, &resp);
	if (resp.status == 404 && missing_ok)
		return NULL;
	if (resp.status < 200 || resp.status >= 300)
	{
		json_t	   *err = json_loads(resp.body.data, 0, NULL);
		json_t	   *msg = err ? json_object_get(json_object_get(err, "status"), "error") : NULL;

		mesh_http_raise(qc->http, what, resp.status,
						json_is_string(msg) ? json_string_value(msg) : resp.body.data);
	}
	doc = mesh_json_parse(resp.body.data, resp.body.len, qc->servername, what);
	status = mesh_json_get(doc, "status", JSON_NULL, qc->servername, what);
	if (!json_is_string(status) || strcmp(json_string_value(status), "ok") != 0)
		mesh_json_malformed(qc->servername, what, "The reply's status is not \"ok\".");
	return mesh_json_get(doc, "result", JSON_NULL, qc->servername, what);
}

static char *
collection_path(const char *collection, const char *rest)
{
	return psprintf("/collections/%s%s", mesh_http_escape(collection), rest);
}

/*
 * Append the point id of a key text: the integer itself for a single
 * integer key >= 0, else the UUIDv5 (URL namespace) of the text.
 */
static void
append_point_id(StringInfo buf, MeshRoute *route, const char *key)
{
	static const uint8 ns[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
	0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
	Oid			t = route->types[route->key_index[0]];
	uint8		h[20];
	pg_cryptohash_ctx *volatile ctx = NULL;
	ResourceOwner volatile owner = NULL;

	if (route->nkeys == 1 && (t == INT2OID || t == INT4OID || t == INT8OID) &&
		key[0] != '-' && key[0] != '\0' && strspn(key, "0123456789") == strlen(key))
	{
		appendStringInfoString(buf, key);
		return;
	}
	/*
	 * The digest registers with the current resource owner, which the
	 * replication worker does not have outside a transaction: lend one.
	 */
	if (CurrentResourceOwner == NULL)
		owner = CurrentResourceOwner = ResourceOwnerCreate(NULL, "mesh qdrant point ids");
	PG_TRY();
	{
		ctx = pg_cryptohash_create(PG_SHA1);
		if (pg_cryptohash_init(ctx) < 0 || pg_cryptohash_update(ctx, ns, 16) < 0 ||
			pg_cryptohash_update(ctx, (const uint8 *) key, strlen(key)) < 0 ||
			pg_cryptohash_final(ctx, h, sizeof(h)) < 0)
			elog(ERROR, "could not compute a SHA-1 digest");
		pg_cryptohash_free(ctx);
	}
	PG_FINALLY();
	{
		if (owner)
		{
			CurrentResourceOwner = NULL;
			ResourceOwnerRelease(owner, RESOURCE_RELEASE_BEFORE_LOCKS, false, false);
			ResourceOwnerRelease(owner, RESOURCE_RELEASE_LOCKS, false, false);
			ResourceOwnerRelease(owner, RESOURCE_RELEASE_AFTER_LOCKS, false, false);
			ResourceOwnerDelete(owner);
		}
	}
	PG_END_TRY();
	h[6] = (h[6] & 0x0f) | 0x50;	/* version 5 */
	h[8] = (h[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	appendStringInfo(buf, "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"",
					 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9],
					 h[10], h[11], h[12], h[13], h[14], h[15]);
}

static char *
point_id_text(MeshRoute *route, const char *key)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_point_id(&buf, route, key);
	if (buf.data[0] == '"')
		return pnstrdup(buf.data + 1, buf.len - 2);
	return buf.data;
}

static void
create_collection(QdrantConn *qc, MeshVectorRoute *vr)
{
	if (vr->size <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Qdrant collection \"%s\" does not exist and route option \"size\" is not given",
						vr->collection),
				 errhint("Give the vectors' dimension, e.g. '{\"vector\": \"embedding\", \"size\": 128}', so mesh can create the collection.")));
	qdrant_request(qc, "PUT", collection_path(vr->collection, ""),
				   psprintf("{\"vectors\":{\"size\":%d,\"distance\":\"%s\"}}", vr->size, vr->distance),
				   "a collection creation", false);
}

/* Find (or create) the collection; its size fills a missing route option size. */
static void
qdrant_prepare(void *conn, MeshRoute *route, MeshVectorRoute *vr, bool create)
{
	QdrantConn *qc = conn;
	json_t	   *info,
			   *vectors;

	vr->vector_in_payload = strcmp(vr->distance, "Cosine") == 0;
	if (vr->kind_private)
		return;
	info = qdrant_request(qc, "GET", collection_path(vr->collection, ""), NULL,
						  "a collection lookup", true);
	if (info == NULL && !create)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("Qdrant collection \"%s\" does not exist on server \"%s\"",
						vr->collection, qc->servername)));
	if (info == NULL)
		create_collection(qc, vr);
	else
	{
		json_t	   *size,
				   *distance;

		vectors = json_object_get(json_object_get(json_object_get(info, "config"), "params"), "vectors");
		size = json_object_get(vectors, "size");
		distance = json_object_get(vectors, "distance");
		if (json_is_integer(size) && vr->size > 0 && json_integer_value(size) != vr->size)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("Qdrant collection \"%s\" holds vectors of size %d, route option size is %d",
							vr->collection, (int) json_integer_value(size), vr->size)));
		if (json_is_integer(size))
			vr->size = json_integer_value(size);
		if (json_is_string(distance) && strcmp(json_string_value(distance), vr->distance) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("Qdrant collection \"%s\" uses distance %s, route option distance is %s",
							vr->collection, json_string_value(distance), vr->distance)));
	}
	vr->kind_private = "ready";
}

static void
qdrant_upsert(void *conn, MeshRoute *route, MeshVectorRoute *vr, MeshVectorPoint *points, int n)
{
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"points\":[");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&body, i ? ",{\"id\":" : "{\"id\":");
		append_point_id(&body, route, points[i].key);
		appendStringInfo(&body, ",\"vector\":%s,\"payload\":%s}", points[i].vector_json, points[i].payload);
	}
	appendStringInfoString(&body, "]}");
	qdrant_request(conn, "PUT", collection_path(vr->collection, "/points?wait=true"), body.data,
				   "an upsert", false);
}

static void
append_ids(StringInfo buf, MeshRoute *route, char **keys, int n)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		append_point_id(buf, route, keys[i]);
	}
	appendStringInfoChar(buf, ']');
}

static void
qdrant_remove(void *conn, MeshRoute *route, MeshVectorRoute *vr, char **keys, int n)
{
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"points\":");
	append_ids(&body, route, keys, n);
	appendStringInfoChar(&body, '}');
	qdrant_request(conn, "POST", collection_path(vr->collection, "/points/delete?wait=true"),
				   body.data, "a delete", false);
}

/* TRUNCATE: drop the collection and create it again (same size and distance). */
static void
qdrant_truncate(void *conn, MeshRoute *route, MeshVectorRoute *vr)
{
	qdrant_request(conn, "DELETE", collection_path(vr->collection, ""), NULL,
				   "a collection deletion", true);
	create_collection(conn, vr);
}

/* The text of a point id as Qdrant returns it (integer or UUID string). */
static char *
id_text(QdrantConn *qc, json_t *id, const char *what)
{
	if (json_is_integer(id))
		return psprintf("%lld", (long long) json_integer_value(id));
	if (json_is_string(id))
		return pstrdup(json_string_value(id));
	mesh_json_malformed(qc->servername, what, "A point id is neither an integer nor a string.");
}

static void
qdrant_get(void *conn, MeshRoute *route, MeshVectorRoute *vr, int n, char **keys,
		   json_t **payloads, json_t **vectors)
{
	QdrantConn *qc = conn;
	StringInfoData body;
	char	  **ids = palloc(sizeof(char *) * Max(n, 1));
	json_t	   *result;
	size_t		i;
	json_t	   *p;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"ids\":");
	append_ids(&body, route, keys, n);
	appendStringInfoString(&body, ",\"with_payload\":true,\"with_vector\":true}");
	for (int k = 0; k < n; k++)
		ids[k] = point_id_text(route, keys[k]);
	result = qdrant_request(qc, "POST", collection_path(vr->collection, "/points"), body.data,
							"a verify read", false);
	if (!json_is_array(result))
		mesh_json_malformed(qc->servername, "a verify read", "The result is not an array of points.");
	json_array_foreach(result, i, p)
	{
		char	   *id = id_text(qc, json_object_get(p, "id"), "a verify read");

		for (int k = 0; k < n; k++)
			if (strcmp(ids[k], id) == 0)
			{
				json_t	   *payload = json_object_get(p, "payload");

				payloads[k] = json_is_object(payload) ? payload : json_object();
				vectors[k] = json_object_get(p, "vector");
			}
	}
}

typedef struct QdrantScan
{
	char	   *offset;			/* JSON of next_page_offset, NULL at the start */
	bool		done;
} QdrantScan;

static int
qdrant_scan(void *conn, MeshRoute *route, MeshVectorRoute *vr, void **state, int max,
			json_t **payloads)
{
	QdrantConn *qc = conn;
	QdrantScan *st = *state;
	json_t	   *result,
			   *points,
			   *next;
	int			n;

	if (st == NULL)
		*state = st = MemoryContextAllocZero(route->cxt, sizeof(QdrantScan));
	if (st->done)
		return 0;
	result = qdrant_request(qc, "POST", collection_path(vr->collection, "/points/scroll"),
							psprintf("{\"limit\":%d,\"offset\":%s,\"with_payload\":true,\"with_vector\":false}",
									 max, st->offset ? st->offset : "null"),
							"a verify scan", false);
	points = mesh_json_get(result, "points", JSON_ARRAY, qc->servername, "a verify scan");
	next = json_object_get(result, "next_page_offset");
	n = Min((int) json_array_size(points), max);
	for (int i = 0; i < n; i++)
	{
		json_t	   *payload = json_object_get(json_array_get(points, i), "payload");

		payloads[i] = json_is_object(payload) ? payload : json_object();
	}
	st->done = next == NULL || json_is_null(next);
	if (!st->done)
		st->offset = MemoryContextStrdup(route->cxt, json_dumps(next, JSON_COMPACT | JSON_ENCODE_ANY));
	return n;
}

static int
qdrant_search(void *conn, const char *collection, const float4 *vector, int dim, int k,
			  const char *filter, MeshVectorHit **hits)
{
	QdrantConn *qc = conn;
	StringInfoData body;
	json_t	   *result;
	int			n;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"vector\":");
	mesh_vector_append_floats(&body, vector, dim);
	appendStringInfo(&body, ",\"limit\":%d,\"with_payload\":true", k);
	if (filter)
		appendStringInfo(&body, ",\"filter\":%s", filter);
	appendStringInfoChar(&body, '}');
	result = qdrant_request(qc, "POST", collection_path(collection, "/points/search"), body.data,
							"a search", false);
	if (!json_is_array(result))
		mesh_json_malformed(qc->servername, "a search", "The result is not an array of hits.");
	n = json_array_size(result);
	*hits = palloc0(sizeof(MeshVectorHit) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		json_t	   *h = json_array_get(result, i);
		json_t	   *score = json_object_get(h, "score");
		json_t	   *payload = json_object_get(h, "payload");

		if (!json_is_number(score))
			mesh_json_malformed(qc->servername, "a search", "A hit lacks its score.");
		(*hits)[i].id = id_text(qc, json_object_get(h, "id"), "a search");
		(*hits)[i].score = json_number_value(score);
		(*hits)[i].payload = json_is_object(payload) ? payload : NULL;
	}
	return n;
}

/* A page of every point of a collection (scroll: ids and payloads). */
static int
qdrant_list(void *conn, const char *collection, void **state, int max, MeshVectorHit **hits)
{
	QdrantConn *qc = conn;
	char	   *offset = *state;
	json_t	   *result,
			   *points,
			   *next;
	int			n;

	if (offset != NULL && strcmp(offset, "null") == 0)
		return 0;
	result = qdrant_request(qc, "POST", collection_path(collection, "/points/scroll"),
							psprintf("{\"limit\":%d,\"offset\":%s,\"with_payload\":true,\"with_vector\":false}",
									 max, offset ? offset : "null"),
							"a scan", false);
	points = mesh_json_get(result, "points", JSON_ARRAY, qc->servername, "a scan");
	next = json_object_get(result, "next_page_offset");
	n = Min((int) json_array_size(points), max);
	*hits = palloc0(sizeof(MeshVectorHit) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		json_t	   *p = json_array_get(points, i);
		json_t	   *payload = json_object_get(p, "payload");

		(*hits)[i].id = id_text(qc, json_object_get(p, "id"), "a scan");
		(*hits)[i].payload = json_is_object(payload) ? payload : NULL;
	}
	*state = next && !json_is_null(next) ? json_dumps(next, JSON_COMPACT | JSON_ENCODE_ANY) : pstrdup("null");
	return n;
}

static const MeshVectorOps qdrant_vector_ops = {
	.prepare = qdrant_prepare,
	.upsert = qdrant_upsert,
	.remove = qdrant_remove,
	.truncate = qdrant_truncate,
	.get = qdrant_get,
	.scan = qdrant_scan,
	.search = qdrant_search,
	.list = qdrant_list,
};


const MeshConnector mesh_qdrant_connector = {
	.kind = "qdrant",
	.options = qdrant_options,
	.http_setup = &qdrant_setup,
	.scan = &mesh_vector_scan_ops,
	.sink = &mesh_vector_sink_ops,
	.fetch_rows = mesh_vector_fetch_rows,
	.scan_keys = mesh_vector_scan_keys,
	.vector = &qdrant_vector_ops,
};
