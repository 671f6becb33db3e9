/*
 * azblob_upload.c: writing blobs (the object-store layer's put and
 * multipart operations, object_store.h).
 *
 *   put       Put Blob         PUT /container/blob  x-ms-blob-type: BlockBlob
 *   begin     no request: the upload's id prefixes its block ids
 *   part      Put Block        PUT ?comp=block&blockid=<base64 id>
 *   complete  Put Block List   PUT ?comp=blocklist  <BlockList><Latest>..
 *   abort     no request: uncommitted blocks are dropped by the service
 *             (after a week), and never become the blob
 *
 * Every body goes with its Content-MD5 (signed by SharedKey), which the
 * service checks.  Block ids of one blob have one length: "<upload>-<n>"
 * with n zero-padded.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "miscadmin.h"

#include "azblob.h"
#include "object_store.h"
#include "xml_reply.h"

static void
send_ok(void *conn, const AzblobRequest *r)
{
	MeshHttpResponse resp;

	azblob_send(conn, r, &resp);
	if (resp.status < 200 || resp.status >= 300)
		azblob_raise(conn, r, &resp);
}

void
azblob_put(void *conn, const char *container, const char *blob, const char *data, size_t len,
		   const char *content_type)
{
	AzblobRequest r = {.method = "PUT", .container = container, .blob = blob, .body = data,
		.body_len = len, .content_type = content_type ? content_type : "application/octet-stream",
	.blob_type = "BlockBlob", .what = "a Put Blob"};

	send_ok(conn, &r);
}

/* An id for the upload's blocks: the time and the process, as hex. */
char *
azblob_upload_begin(void *conn, const char *container, const char *blob, const char *content_type)
{
	return psprintf("%08x%06x", (unsigned int) time(NULL), (unsigned int) MyProcPid & 0xffffff);
}

char *
azblob_upload_part(void *conn, const char *container, const char *blob, const char *upload_id,
				   int part, const char *data, size_t len)
{
	char	   *raw = psprintf("%s-%06d", upload_id, part);
	char	   *id = palloc(4 * ((strlen(raw) + 2) / 3) + 1);
	AzblobParam params[2] = {{"comp", "block"}, {"blockid", id}};
	AzblobRequest r = {.method = "PUT", .container = container, .blob = blob, .params = params,
		.nparams = lengthof(params), .body = data, .body_len = len,
	.content_type = "application/octet-stream", .what = "a Put Block"};

	EVP_EncodeBlock((unsigned char *) id, (const unsigned char *) raw, (int) strlen(raw));
	send_ok(conn, &r);
	return id;
}

void
azblob_upload_complete(void *conn, const char *container, const char *blob, const char *upload_id,
					   List *tags)
{
	AzblobParam params[1] = {{"comp", "blocklist"}};
	StringInfoData body;
	ListCell   *lc;
	AzblobRequest r = {.method = "PUT", .container = container, .blob = blob, .params = params,
		.nparams = lengthof(params), .content_type = "application/xml",
	.what = "a Put Block List"};

	initStringInfo(&body);
	appendStringInfoString(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	foreach(lc, tags)
	{
		appendStringInfoString(&body, "<Latest>");
		mesh_xml_append_escaped(&body, lfirst(lc));
		appendStringInfoString(&body, "</Latest>");
	}
	appendStringInfoString(&body, "</BlockList>");
	r.body = body.data;
	r.body_len = body.len;
	send_ok(conn, &r);
}

void
azblob_upload_abort(void *conn, const char *container, const char *blob, const char *upload_id)
{
	/* nothing to send: blocks never committed by a block list are not the blob */
}
