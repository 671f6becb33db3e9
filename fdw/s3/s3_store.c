/*
 * s3_store.c: the S3 dialect of the object-store layer (object_store.h).
 *
 *   listing  GET /bucket?list-type=2&prefix=..&start-after=..
 *                &continuation-token=..&max-keys=..   (ListObjectsV2)
 *   head     HEAD /bucket/key; a 404 is no object.  A HEAD's answer has no
 *            body: another error status is explained by the server's words,
 *            fetched with a one-key listing of that key.
 *   get      GET /bucket/key with a Range header when a part is asked for.
 *
 * ListObjectsV2 returns neither content type nor user metadata; a HEAD
 * gives the x-amz-meta-* headers.
 */
#include "postgres.h"

#include "object_store.h"
#include "s3.h"
#include "xml_reply.h"

static void
s3_list_page(void *conn, const MeshObjectListing *listing, MeshObjectPage *page)
{
	S3Param		params[5];
	int			n = 0;
	S3Request	r = {.method = "GET", .bucket = listing->bucket, .params = params, .what = "a listing"};
	MeshHttpResponse resp;
	MeshXmlNode *doc;
	MeshXmlNode *e;
	char	   *error;
	const char *truncated;
	int			max;

	params[n++] = (S3Param) {"list-type", "2"};
	if (listing->prefix[0])
		params[n++] = (S3Param) {"prefix", listing->prefix};
	if (listing->start_after)
		params[n++] = (S3Param) {"start-after", listing->start_after};
	if (listing->token)
		params[n++] = (S3Param) {"continuation-token", listing->token};
	if (listing->page_size > 0)
		params[n++] = (S3Param) {"max-keys", psprintf("%d", listing->page_size)};
	r.nparams = n;
	s3_send(conn, &r, &resp);
	if (resp.status < 200 || resp.status >= 300)
		s3_raise(conn, &r, &resp);
	doc = mesh_xml_parse(resp.body.data, resp.body.len, &error);
	if (doc == NULL)
		mesh_object_malformed(conn, "S3", "listing", error);
	if (strcmp(doc->name, "ListBucketResult") != 0)
		mesh_object_malformed(conn, "S3", "listing",
							  psprintf("The answer is a <%s> document, not a <ListBucketResult>.", doc->name));
	truncated = mesh_xml_child_text(doc, "IsTruncated");
	page->next_token = NULL;
	if (truncated && strcmp(truncated, "true") == 0)
	{
		const char *next = mesh_xml_child_text(doc, "NextContinuationToken");

		if (next == NULL || next[0] == '\0')
			mesh_object_malformed(conn, "S3", "listing",
								  "A truncated listing has no NextContinuationToken.");
		page->next_token = pstrdup(next);
	}
	max = 0;
	for (e = doc->first_child; e; e = e->next)
		max += strcmp(e->name, "Contents") == 0;
	page->objects = palloc0(sizeof(MeshObject) * Max(max, 1));
	page->n = 0;
	for (e = mesh_xml_child(doc, "Contents"); e; e = e->next)
	{
		MeshObject *o;

		if (strcmp(e->name, "Contents") != 0)
			continue;
		o = &page->objects[page->n++];
		o->key = mesh_xml_child_text(e, "Key");
		o->size = mesh_xml_child_text(e, "Size");
		o->etag = mesh_xml_child_text(e, "ETag");
		o->last_modified = mesh_xml_child_text(e, "LastModified");
	}
}

static bool
s3_head(void *conn, const char *bucket, const char *key, MeshObject *obj, int64 *requests)
{
	S3Request	r = {.method = "HEAD", .bucket = bucket, .key = key, .what = "a HEAD of an object"};
	S3Param		params[] = {{"list-type", "2"}, {"prefix", key}, {"max-keys", "1"}};
	S3Request	list = {.method = "GET", .bucket = bucket, .params = params,
	.nparams = lengthof(params), .what = "a HEAD of an object"};
	MeshHttpResponse resp;
	MeshHttpResponse why;

	(*requests)++;
	s3_send(conn, &r, &resp);
	if (resp.status == 404)
		return false;
	if (resp.status < 200 || resp.status >= 300)
	{
		(*requests)++;
		s3_send(conn, &list, &why);
		if (why.status < 200 || why.status >= 300)
			s3_raise(conn, &list, &why);
		s3_raise(conn, &r, &resp);
	}
	obj->key = key;
	obj->size = mesh_http_header(&resp, "Content-Length");
	obj->etag = mesh_http_header(&resp, "ETag");
	obj->last_modified = mesh_http_header(&resp, "Last-Modified");
	obj->content_type = mesh_http_header(&resp, "Content-Type");
	obj->metadata = mesh_object_metadata_json(&resp, "x-amz-meta-");
	return true;
}

static bool
s3_get(void *conn, const char *bucket, const char *key, int64 offset, int64 length,
	   MeshHttpResponse *resp)
{
	S3Request	r = {.method = "GET", .bucket = bucket, .key = key, .what = "a GET of an object"};

	if (offset > 0 || length >= 0)
		r.range = length >= 0 ?
			psprintf("bytes=" INT64_FORMAT "-" INT64_FORMAT, offset, offset + length - 1) :
			psprintf("bytes=" INT64_FORMAT "-", offset);
	s3_send(conn, &r, resp);
	if (resp->status == 404)
		return false;
	if (resp->status < 200 || resp->status >= 300)
		s3_raise(conn, &r, resp);
	return true;
}

/* mesh.execute: path is /bucket[/key] (decoded); any answer comes back. */
static void
s3_raw(void *conn, const char *method, const char *path, List *params, const char *body,
	   size_t body_len, MeshHttpResponse *resp)
{
	S3Param    *p = palloc(sizeof(S3Param) * Max(list_length(params), 1));
	S3Request	r = {.method = method, .params = p, .nparams = list_length(params),
	.body = body, .body_len = body_len, .what = "a request"};
	const char *slash;
	ListCell   *lc;

	foreach(lc, params)
	{
		MeshObjectParam *mp = lfirst(lc);

		p[foreach_current_index(lc)] = (S3Param) {mp->name, mp->value};
	}
	path++;						/* the leading '/' */
	slash = strchr(path, '/');
	if (path[0] != '\0')
		r.bucket = slash ? pnstrdup(path, slash - path) : path;
	if (slash && slash[1] != '\0')
		r.key = slash + 1;
	s3_send(conn, &r, resp);
}

const MeshObjectStore s3_object_store = {
	.label = "S3",
	.bucket_word = "bucket",
	.max_page_size = 1000,
	.list_page = s3_list_page,
	.head = s3_head,
	.get = s3_get,
	.put = s3_put,
	.upload_begin = s3_upload_begin,
	.upload_part = s3_upload_part,
	.upload_complete = s3_upload_complete,
	.upload_abort = s3_upload_abort,
	.min_part_size = 5 * 1024 * 1024,	/* S3's least part but the last */
	.max_parts = 10000,
	.raw = s3_raw,
};
