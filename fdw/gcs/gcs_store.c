/*
 * gcs_store.c: the Google Cloud Storage dialect of the object-store layer
 * (object_store.h), over the JSON API.
 *
 *   listing  GET /storage/v1/b/<bucket>/o?prefix=..&startOffset=..
 *                &pageToken=..&maxResults=..
 *            items[]: name, size, etag, updated, contentType, metadata{};
 *            nextPageToken while there is more.  startOffset is inclusive:
 *            the layer drops the key equal to start_after.
 *   head     GET /storage/v1/b/<bucket>/o/<object>: the object's JSON
 *            resource; a 404 is no object.
 *   get      GET /download/storage/v1/b/<bucket>/o/<object>?alt=media with
 *            a Range header when a part is asked for.
 *
 * Bucket and object names are percent-encoded whole ('/' too, as %2F), as
 * the JSON API wants; query values likewise.  Unlike S3's listing, GCS's
 * carries content type and user metadata: listed rows have them (an object
 * without metadata has {}).  Errors ({"error": {"code", "message",
 * "errors": [{"reason"}]}}) are reported as "reason: message".
 */
#include "postgres.h"

#include "gcs.h"
#include "json_value.h"
#include "object_store.h"

/* A request to the store: a GET, or a body sent with method. */
typedef struct GcsCall
{
	const char *method;			/* NULL: GET */
	const char *url;
	const char *range;			/* a Range header's value, or NULL */
	const char *body;
	size_t		body_len;
	const char *content_type;
	const char *what;
} GcsCall;

/* Send call with the bearer token; the answer in resp, whatever its status. */
static void
gcs_call(GcsConn *conn, const GcsCall *call, MeshHttpResponse *resp)
{
	MeshHttpRequest req = {0};
	const char *headers[4] = {0};
	const char *bearer = gcs_bearer(conn);
	char	   *auth = NULL;
	int			n = 0;

	if (bearer)
		headers[n++] = auth = psprintf("Authorization: Bearer %s", bearer);
	if (call->range)
		headers[n++] = psprintf("Range: %s", call->range);
	if (call->body)				/* the service checks the body against it */
		headers[n++] = psprintf("X-Goog-Hash: md5=%s",
								mesh_object_md5_base64(call->body, call->body_len));
	req.method = call->method ? call->method : "GET";
	req.url = call->url;
	req.headers = headers;
	req.body = call->body;
	req.body_len = call->body_len;
	req.content_type = call->body ? call->content_type : NULL;
	req.what = call->what;
	req.accept_error = true;
	mesh_http_request(conn->http, &req, resp);
	if (auth)
		explicit_bzero(auth, strlen(auth));
	/* a service account's token refused: the next request asks for a new one */
	if (resp->status == 401 && conn->account && conn->token)
		conn->token_renew = 0;
}

/* A GET of url (Range header when range is not NULL); the answer in resp. */
static void
gcs_send(GcsConn *conn, const char *url, const char *range, const char *what,
		 MeshHttpResponse *resp)
{
	GcsCall		call = {.url = url, .range = range, .what = what};

	gcs_call(conn, &call, resp);
}

/*
 * An error answer as text: Google's JSON error as "reason: message" (or
 * "code N: message" without a reason), else the start of the body.
 */
char *
gcs_error_text(const char *body, size_t len)
{
	json_t	   *doc = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
	json_t	   *err = doc ? json_object_get(doc, "error") : NULL;
	json_t	   *msg = err ? json_object_get(err, "message") : NULL;
	json_t	   *code = err ? json_object_get(err, "code") : NULL;
	json_t	   *errors = err ? json_object_get(err, "errors") : NULL;
	json_t	   *reason = json_is_array(errors) && json_array_size(errors) > 0 ?
		json_object_get(json_array_get(errors, 0), "reason") : NULL;
	char	   *text;

	if (json_is_string(msg) && json_is_string(reason))
		text = psprintf("%s: %s", json_string_value(reason), json_string_value(msg));
	else if (json_is_string(msg) && json_is_integer(code))
		text = psprintf("code %lld: %s", (long long) json_integer_value(code),
						json_string_value(msg));
	else if (json_is_string(msg))
		text = pstrdup(json_string_value(msg));
	else if (len > 0)
		text = pnstrdup(body, Min(len, 200));
	else
		text = pstrdup("The answer has no body.");
	json_decref(doc);
	return text;
}

static void
gcs_raise(GcsConn *conn, const char *what, MeshHttpResponse *resp)
{
	mesh_http_raise(conn->http, what, resp->status, gcs_error_text(resp->body.data, resp->body.len));
}

/* <endpoint>/storage/v1/b/<bucket>/o, or /o/<object> */
static char *
object_url(GcsConn *conn, const char *prefix, const char *bucket, const char *key)
{
	StringInfoData url;

	initStringInfo(&url);
	appendStringInfo(&url, "%s%s/storage/v1/b/%s/o", conn->base, prefix, mesh_http_escape(bucket));
	if (key)
		appendStringInfo(&url, "/%s", mesh_http_escape(key));
	return url.data;
}

/* A string member's text, or NULL. */
static const char *
str_member(json_t *obj, const char *name)
{
	json_t	   *v = json_object_get(obj, name);

	return v && json_is_string(v) ? pnstrdup(json_string_value(v), json_string_length(v)) : NULL;
}

/*
 * Fill o from an object resource (key too).  size is a decimal string in
 * the JSON API (uint64); a number is taken as well.  No metadata member:
 * the object has none ({}).
 */
static void
object_from_json(GcsConn *conn, json_t *item, MeshObject *o, const char *what)
{
	json_t	   *size = json_object_get(item, "size");
	json_t	   *metadata = json_object_get(item, "metadata");

	if (!json_is_object(item))
		mesh_object_malformed(conn, "GCS", what, "An object is not a JSON object.");
	o->key = str_member(item, "name");
	o->size = size && (json_is_string(size) || json_is_integer(size)) ?
		mesh_json_scalar_text(size) : NULL;
	o->etag = str_member(item, "etag");
	o->last_modified = str_member(item, "updated");
	o->content_type = str_member(item, "contentType");
	if (metadata == NULL || json_is_null(metadata))
		o->metadata = "{}";
	else if (json_is_object(metadata))
		o->metadata = json_dumps(metadata, JSON_COMPACT);
	else
		mesh_object_malformed(conn, "GCS", what, "An object's metadata is not a JSON object.");
}

/* Parse an answer's JSON object; malformed ones are errors naming what. */
static json_t *
parse_answer(GcsConn *conn, MeshHttpResponse *resp, const char *what)
{
	json_error_t err;
	json_t	   *doc = json_loadb(resp->body.data, resp->body.len, 0, &err);

	if (doc == NULL)
		mesh_object_malformed(conn, "GCS", what,
							  psprintf("%s at line %d, column %d", err.text, err.line, err.column));
	if (!json_is_object(doc))
		mesh_object_malformed(conn, "GCS", what, "The answer is not a JSON object.");
	return doc;
}

static void
gcs_list_page(void *c, const MeshObjectListing *listing, MeshObjectPage *page)
{
	GcsConn    *conn = c;
	StringInfoData url;
	MeshHttpResponse resp;
	json_t	   *doc;
	json_t	   *items;
	json_t	   *next;
	size_t		n;

	initStringInfo(&url);
	appendStringInfoString(&url, object_url(conn, "", listing->bucket, NULL));
	if (listing->prefix[0])
		mesh_http_append_param(&url, "prefix", listing->prefix);
	if (listing->start_after)
		mesh_http_append_param(&url, "startOffset", listing->start_after);
	if (listing->token)
		mesh_http_append_param(&url, "pageToken", listing->token);
	if (listing->page_size > 0)
		mesh_http_append_param(&url, "maxResults", psprintf("%d", listing->page_size));
	gcs_send(conn, url.data, NULL, "a listing", &resp);
	if (resp.status < 200 || resp.status >= 300)
		gcs_raise(conn, "a listing", &resp);
	doc = parse_answer(conn, &resp, "listing");
	items = json_object_get(doc, "items");
	next = json_object_get(doc, "nextPageToken");
	if (items != NULL && !json_is_array(items))
		mesh_object_malformed(conn, "GCS", "listing", "Its items member is not an array.");
	if (next != NULL && !json_is_null(next) && (!json_is_string(next) || json_string_length(next) == 0))
		mesh_object_malformed(conn, "GCS", "listing", "Its nextPageToken is not a non-empty string.");
	n = items ? json_array_size(items) : 0;
	page->objects = palloc0(sizeof(MeshObject) * Max(n, 1));
	page->n = (int) n;
	for (size_t i = 0; i < n; i++)
		object_from_json(conn, json_array_get(items, i), &page->objects[i], "listing");
	page->next_token = next && json_is_string(next) ?
		pnstrdup(json_string_value(next), json_string_length(next)) : NULL;
	json_decref(doc);
}

static bool
gcs_head(void *c, const char *bucket, const char *key, MeshObject *obj, int64 *requests)
{
	GcsConn    *conn = c;
	MeshHttpResponse resp;
	json_t	   *doc;

	(*requests)++;
	gcs_send(conn, object_url(conn, "", bucket, key), NULL, "a HEAD of an object", &resp);
	if (resp.status == 404)
		return false;
	if (resp.status < 200 || resp.status >= 300)
		gcs_raise(conn, "a HEAD of an object", &resp);
	doc = parse_answer(conn, &resp, "object resource");
	object_from_json(conn, doc, obj, "object resource");
	obj->key = key;
	json_decref(doc);
	return true;
}

static bool
gcs_get(void *c, const char *bucket, const char *key, int64 offset, int64 length,
		MeshHttpResponse *resp)
{
	GcsConn    *conn = c;
	char	   *url = psprintf("%s?alt=media", object_url(conn, "/download", bucket, key));
	char	   *range = NULL;

	if (offset > 0 || length >= 0)
		range = length >= 0 ?
			psprintf("bytes=" INT64_FORMAT "-" INT64_FORMAT, offset, offset + length - 1) :
			psprintf("bytes=" INT64_FORMAT "-", offset);
	gcs_send(conn, url, range, "a GET of an object", resp);
	if (resp->status == 404)
		return false;
	if (resp->status < 200 || resp->status >= 300)
		gcs_raise(conn, "a GET of an object", resp);
	return true;
}

/*
 * Writing: one media upload (POST /upload/storage/v1/b/<bucket>/o
 * ?uploadType=media&name=<key>) with X-Goog-Hash md5, which the service
 * checks.  Resumable uploads are not built: an object above part_size is
 * refused (object_write.c) before anything is sent.
 */
static void
gcs_put(void *c, const char *bucket, const char *key, const char *data, size_t len,
		const char *content_type)
{
	GcsConn    *conn = c;
	GcsCall		call = {.method = "POST", .body = data, .body_len = len,
		.content_type = content_type ? content_type : "application/octet-stream",
	.what = "an upload of an object"};
	MeshHttpResponse resp;

	call.url = psprintf("%s?uploadType=media&name=%s", object_url(conn, "/upload", bucket, NULL),
						mesh_http_escape(key));
	gcs_call(conn, &call, &resp);
	if (resp.status < 200 || resp.status >= 300)
		gcs_raise(conn, call.what, &resp);
}

const MeshObjectStore gcs_object_store = {
	.label = "GCS",
	.bucket_word = "bucket",
	.max_page_size = 1000,
	.list_page = gcs_list_page,
	.head = gcs_head,
	.get = gcs_get,
	.put = gcs_put,
};
