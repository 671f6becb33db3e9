/*
 * s3_upload.c: writing objects to S3 (the object-store layer's put and
 * multipart operations, object_store.h).
 *
 *   put       PUT /bucket/key                         one request
 *   begin     POST /bucket/key?uploads                -> UploadId
 *   part      PUT /bucket/key?partNumber=N&uploadId=  -> the part's ETag
 *   complete  POST /bucket/key?uploadId=  <CompleteMultipartUpload> of the
 *             parts' numbers and ETags
 *   abort     DELETE /bucket/key?uploadId=            (never ereports)
 *
 * Every body goes with its SHA-256 (signed) and Content-MD5, so the store
 * refuses a body damaged on the way.  A CompleteMultipartUpload may answer
 * 200 with an <Error> document: that is an error too.
 */
#include "postgres.h"

#include "object_store.h"
#include "s3.h"
#include "xml_reply.h"

/* Send r and return the answer; a non-2xx one is raised with S3's words. */
static void
send_ok(void *conn, const S3Request *r, MeshHttpResponse *resp)
{
	s3_send(conn, r, resp);
	if (resp->status < 200 || resp->status >= 300)
		s3_raise(conn, r, resp);
}

/* The root of an answer's XML body, or a malformed-reply error. */
static MeshXmlNode *
answer_document(void *conn, MeshHttpResponse *resp, const char *what, const char *root)
{
	char	   *error;
	MeshXmlNode *doc = mesh_xml_parse(resp->body.data, resp->body.len, &error);

	if (doc == NULL)
		mesh_object_malformed(conn, "S3", what, error);
	if (strcmp(doc->name, root) != 0)
		mesh_object_malformed(conn, "S3", what,
							  psprintf("The answer is a <%s> document, not a <%s>.", doc->name, root));
	return doc;
}

void
s3_put(void *conn, const char *bucket, const char *key, const char *data, size_t len,
	   const char *content_type)
{
	S3Request	r = {.method = "PUT", .bucket = bucket, .key = key, .body = data,
	.body_len = len, .content_type = content_type, .what = "a PUT of an object"};
	MeshHttpResponse resp;

	send_ok(conn, &r, &resp);
}

char *
s3_upload_begin(void *conn, const char *bucket, const char *key, const char *content_type)
{
	S3Param		params[] = {{"uploads", ""}};
	S3Request	r = {.method = "POST", .bucket = bucket, .key = key, .params = params,
		.nparams = lengthof(params), .body = "", .body_len = 0, .content_type = content_type,
	.what = "the start of a multipart upload"};
	MeshHttpResponse resp;
	const char *id;

	send_ok(conn, &r, &resp);
	id = mesh_xml_child_text(answer_document(conn, &resp, "multipart upload start",
											 "InitiateMultipartUploadResult"), "UploadId");
	if (id == NULL || id[0] == '\0')
		mesh_object_malformed(conn, "S3", "multipart upload start", "The answer has no UploadId.");
	return pstrdup(id);
}

char *
s3_upload_part(void *conn, const char *bucket, const char *key, const char *upload_id,
			   int part, const char *data, size_t len)
{
	S3Param		params[] = {{"partNumber", psprintf("%d", part)}, {"uploadId", upload_id}};
	S3Request	r = {.method = "PUT", .bucket = bucket, .key = key, .params = params,
		.nparams = lengthof(params), .body = data, .body_len = len,
	.content_type = "application/octet-stream", .what = "a part of a multipart upload"};
	MeshHttpResponse resp;
	const char *etag;

	send_ok(conn, &r, &resp);
	etag = mesh_http_header(&resp, "ETag");
	if (etag == NULL || etag[0] == '\0')
		mesh_object_malformed(conn, "S3", "multipart upload part", "The answer has no ETag header.");
	return pstrdup(etag);
}

void
s3_upload_complete(void *conn, const char *bucket, const char *key, const char *upload_id,
				   List *tags)
{
	S3Param		params[] = {{"uploadId", upload_id}};
	StringInfoData body;
	S3Request	r = {.method = "POST", .bucket = bucket, .key = key, .params = params,
		.nparams = lengthof(params), .content_type = "application/xml",
	.what = "the completion of a multipart upload"};
	MeshHttpResponse resp;
	ListCell   *lc;
	char	   *error;
	MeshXmlNode *doc;

	initStringInfo(&body);
	appendStringInfoString(&body, "<CompleteMultipartUpload>");
	foreach(lc, tags)
	{
		appendStringInfo(&body, "<Part><PartNumber>%d</PartNumber><ETag>",
						 foreach_current_index(lc) + 1);
		mesh_xml_append_escaped(&body, lfirst(lc));
		appendStringInfoString(&body, "</ETag></Part>");
	}
	appendStringInfoString(&body, "</CompleteMultipartUpload>");
	r.body = body.data;
	r.body_len = body.len;
	send_ok(conn, &r, &resp);
	/* 200 with an <Error> body: the completion failed after it started */
	doc = resp.body.len > 0 ? mesh_xml_parse(resp.body.data, resp.body.len, &error) : NULL;
	if (doc && strcmp(doc->name, "Error") == 0)
	{
		resp.status = 500;
		s3_raise(conn, &r, &resp);
	}
}

void
s3_upload_abort(void *conn, const char *bucket, const char *key, const char *upload_id)
{
	S3Param		params[] = {{"uploadId", upload_id}};
	S3Request	r = {.method = "DELETE", .bucket = bucket, .key = key, .params = params,
	.nparams = lengthof(params), .what = "the abort of a multipart upload"};
	MeshHttpResponse resp;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		s3_send(conn, &r, &resp);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();		/* the store drops unfinished uploads by its own rules */
	}
	PG_END_TRY();
}
