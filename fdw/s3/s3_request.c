/*
 * s3_request.c: one signed S3 request, and S3's error answers.
 *
 * Path-style:    <endpoint>/<bucket>/<key>?<query>
 * Virtual-style: <scheme>://<bucket>.<host><endpoint path>/<key>?<query>
 * Keys are escaped byte by byte ('/' kept), query values likewise, and
 * the query is sorted: the URL carries the same strings that are signed.
 * An error answer (<Error><Code>..</Code><Message>..</Message></Error>) is
 * reported with its code and message only: other members of S3's errors
 * (StringToSign, SignatureProvided, ...) are not shown.
 */
#include "postgres.h"

#include "object_store.h"
#include "s3.h"
#include "xml_reply.h"

/*
 * Fill req (url, method, headers) for r to the endpoint, signed with cred.
 * Only pallocs: the health check uses it too.
 */
void
s3_http_request(const S3Endpoint *ep, const S3Credentials *cred, const S3Request *r,
				MeshHttpRequest *req)
{
	StringInfoData uri;
	const char *host = ep->host;
	char	   *query = s3_canonical_query(r->params, r->nparams);
	const char **headers;

	initStringInfo(&uri);
	appendStringInfoString(&uri, ep->base_path);
	if (r->bucket && ep->virtual_hosted)
		host = psprintf("%s.%s", r->bucket, ep->host);
	else if (r->bucket)
		appendStringInfo(&uri, "/%s", mesh_uri_encode(r->bucket, false));
	if (r->key)
		appendStringInfo(&uri, "/%s", mesh_uri_encode(r->key, true));
	if (uri.len == 0 || (r->bucket && ep->virtual_hosted && r->key == NULL))
		appendStringInfoChar(&uri, '/');
	headers = s3_sign(cred, ep->region, r->method, host, uri.data, query,
					  r->body ? s3_sha256_hex(r->body, r->body_len) : NULL, time(NULL));
	if (headers && (r->range || r->body))
	{
		int			n = 0;
		const char **more;
		char	   *md5 = r->body ? mesh_object_md5_base64(r->body, r->body_len) : NULL;

		while (headers[n])
			n++;
		more = palloc0(sizeof(char *) * (n + 3));
		memcpy(more, headers, sizeof(char *) * n);
		if (r->range)
			more[n++] = psprintf("Range: %s", r->range);
		if (md5)
			more[n++] = psprintf("Content-MD5: %s", md5);	/* checked by the store too */
		headers = more;
	}
	req->method = r->method;
	req->url = psprintf("%s://%s%s%s%s", ep->scheme, host, uri.data, query[0] ? "?" : "", query);
	req->headers = headers;
	req->body = r->body;
	req->body_len = r->body_len;
	req->content_type = r->content_type;
	req->what = r->what;
	req->accept_error = true;
	req->keep_headers = true;
}

/* Send r; the answer in resp, whatever its status (see s3_raise). */
void
s3_send(S3Conn *conn, const S3Request *r, MeshHttpResponse *resp)
{
	MeshHttpRequest req = {0};

	s3_http_request(&conn->endpoint, &conn->credentials, r, &req);
	if (req.headers == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign a request to S3 server \"%s\"", conn->servername)));
	mesh_http_request(conn->http, &req, resp);
}

/*
 * Report the error answer resp to r: S3's code and message when the body
 * is an <Error> document, else its status (a HEAD's answer has no body).
 */
void
s3_raise(S3Conn *conn, const S3Request *r, MeshHttpResponse *resp)
{
	char	   *error;
	MeshXmlNode *doc = resp->body.len > 0 ?
		mesh_xml_parse(resp->body.data, resp->body.len, &error) : NULL;
	const char *code = doc && strcmp(doc->name, "Error") == 0 ?
		mesh_xml_child_text(doc, "Code") : NULL;
	const char *message = code ? mesh_xml_child_text(doc, "Message") : NULL;
	char	   *detail;

	if (code && message && message[0])
		detail = psprintf("%s: %s", code, message);
	else if (code)
		detail = pstrdup(code);
	else if (resp->body.len > 0)
		detail = pnstrdup(resp->body.data, 200);
	else
		detail = psprintf("The answer to %s %s has no body.", r->method,
						  r->key ? "of the object" : r->bucket ? "of the bucket" : "");
	mesh_http_raise(conn->http, r->what, resp->status, detail);
}
