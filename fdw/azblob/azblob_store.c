/*
 * azblob_store.c: the Azure Blob dialect of the object-store layer
 * (object_store.h).
 *
 *   listing  GET /container?restype=container&comp=list&prefix=..
 *                &marker=..&maxresults=..&include=metadata   (List Blobs)
 *            Blobs come in name order with their content type and user
 *            metadata; NextMarker is the next page's token.  There is no
 *            start-after: the layer drops the keys at or before it.
 *   head     HEAD /container/blob (Get Blob Properties); a 404 is no
 *            object unless x-ms-error-code says the container is missing.
 *   get      GET /container/blob with x-ms-range when a part is asked for.
 */
#include "postgres.h"

#include "utils/formatting.h"

#include "mesh_util.h"
#include "object_store.h"
#include "azblob.h"
#include "xml_reply.h"

/* A <Metadata> element's children as a JSON object text, names lower-cased. */
static char *
metadata_json(const MeshXmlNode *metadata)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (MeshXmlNode *m = metadata ? metadata->first_child : NULL; m; m = m->next)
	{
		char	   *name = asc_tolower(m->name, strlen(m->name));

		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		mesh_append_dquoted(&buf, name, strlen(name), "\\u%04x", false);
		appendStringInfoChar(&buf, ':');
		mesh_append_dquoted(&buf, m->text, m->text_len, "\\u%04x", false);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * One <Blob> of a listing as an object.  A listing's Etag is bare, a
 * HEAD's ETag header quoted: listed etags get the quotes too, so both
 * read the same.
 */
static void
blob_object(const MeshXmlNode *blob, MeshObject *o)
{
	const MeshXmlNode *props = mesh_xml_child(blob, "Properties");

	o->key = mesh_xml_child_text(blob, "Name");
	if (props)
	{
		o->size = mesh_xml_child_text(props, "Content-Length");
		o->etag = mesh_xml_child_text(props, "Etag");
		if (o->etag && o->etag[0] != '"')
			o->etag = psprintf("\"%s\"", o->etag);
		o->last_modified = mesh_xml_child_text(props, "Last-Modified");
		o->content_type = mesh_xml_child_text(props, "Content-Type");
	}
	o->metadata = metadata_json(mesh_xml_child(blob, "Metadata"));
}

static void
azblob_list_page(void *conn, const MeshObjectListing *listing, MeshObjectPage *page)
{
	AzblobParam params[6];
	int			n = 0;
	AzblobRequest r = {.method = "GET", .container = listing->bucket, .params = params,
	.what = "a listing"};
	MeshHttpResponse resp;
	MeshXmlNode *doc;
	MeshXmlNode *blobs;
	char	   *error;
	const char *next;
	int			max = 0;

	params[n++] = (AzblobParam) {"restype", "container"};
	params[n++] = (AzblobParam) {"comp", "list"};
	params[n++] = (AzblobParam) {"include", "metadata"};
	if (listing->prefix[0])
		params[n++] = (AzblobParam) {"prefix", listing->prefix};
	if (listing->token)
		params[n++] = (AzblobParam) {"marker", listing->token};
	if (listing->page_size > 0)
		params[n++] = (AzblobParam) {"maxresults", psprintf("%d", listing->page_size)};
	r.nparams = n;
	azblob_send(conn, &r, &resp);
	if (resp.status < 200 || resp.status >= 300)
		azblob_raise(conn, &r, &resp);
	doc = mesh_xml_parse(resp.body.data, resp.body.len, &error);
	if (doc == NULL)
		mesh_object_malformed(conn, "Azure Blob", "listing", error);
	if (strcmp(doc->name, "EnumerationResults") != 0)
		mesh_object_malformed(conn, "Azure Blob", "listing",
							  psprintf("The answer is a <%s> document, not an <EnumerationResults>.", doc->name));
	blobs = mesh_xml_child(doc, "Blobs");
	if (blobs == NULL)
		mesh_object_malformed(conn, "Azure Blob", "listing", "The answer has no <Blobs> element.");
	next = mesh_xml_child_text(doc, "NextMarker");
	page->next_token = next && next[0] ? pstrdup(next) : NULL;
	for (MeshXmlNode *b = blobs->first_child; b; b = b->next)
		max += strcmp(b->name, "Blob") == 0;
	page->objects = palloc0(sizeof(MeshObject) * Max(max, 1));
	page->n = 0;
	for (MeshXmlNode *b = blobs->first_child; b; b = b->next)
		if (strcmp(b->name, "Blob") == 0)
			blob_object(b, &page->objects[page->n++]);
}

static bool
azblob_head(void *conn, const char *container, const char *blob, MeshObject *obj,
			int64 *requests)
{
	AzblobRequest r = {.method = "HEAD", .container = container, .blob = blob,
	.what = "a HEAD of a blob"};
	MeshHttpResponse resp;
	const char *code;

	(*requests)++;
	azblob_send(conn, &r, &resp);
	code = mesh_http_header(&resp, "x-ms-error-code");
	if (resp.status == 404 && (code == NULL || strcmp(code, "ContainerNotFound") != 0))
		return false;
	if (resp.status < 200 || resp.status >= 300)
		azblob_raise(conn, &r, &resp);
	obj->key = blob;
	obj->size = mesh_http_header(&resp, "Content-Length");
	obj->etag = mesh_http_header(&resp, "ETag");
	obj->last_modified = mesh_http_header(&resp, "Last-Modified");
	obj->content_type = mesh_http_header(&resp, "Content-Type");
	obj->metadata = mesh_object_metadata_json(&resp, "x-ms-meta-");
	return true;
}

static bool
azblob_get(void *conn, const char *container, const char *blob, int64 offset, int64 length,
		   MeshHttpResponse *resp)
{
	AzblobRequest r = {.method = "GET", .container = container, .blob = blob,
	.what = "a GET of a blob"};
	const char *code;

	if (offset > 0 || length >= 0)
		r.range = length >= 0 ?
			psprintf("bytes=" INT64_FORMAT "-" INT64_FORMAT, offset, offset + length - 1) :
			psprintf("bytes=" INT64_FORMAT "-", offset);
	azblob_send(conn, &r, resp);
	code = mesh_http_header(resp, "x-ms-error-code");
	if (resp->status == 404 && (code == NULL || strcmp(code, "ContainerNotFound") != 0))
		return false;
	if (resp->status < 200 || resp->status >= 300)
		azblob_raise(conn, &r, resp);
	return true;
}

const MeshObjectStore azblob_object_store = {
	.label = "Azure Blob",
	.bucket_word = "container",
	.max_page_size = 5000,
	.list_page = azblob_list_page,
	.head = azblob_head,
	.get = azblob_get,
	.put = azblob_put,
	.upload_begin = azblob_upload_begin,
	.upload_part = azblob_upload_part,
	.upload_complete = azblob_upload_complete,
	.upload_abort = azblob_upload_abort,
	.min_part_size = 1024 * 1024,
	.max_parts = 50000,
	.upload_begin_is_local = true,
};
