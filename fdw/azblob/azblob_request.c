/*
 * azblob_request.c: one Azure Blob request, and the service's error
 * answers.
 *
 *   <endpoint>/<container>/<blob>?<query>[&<sas token>]
 *
 * Container and blob names are escaped byte by byte ('/' kept in blob
 * names), query values likewise; the signature covers the same escaped
 * path (azblob_sign.c).  A SAS token is appended to the query as given:
 * the URL is never shown, so neither is the token.  An error answer
 * (<Error><Code>..</Code><Message>..</Message></Error>) is reported with
 * its code and the first line of its message (the lines after it are the
 * request id and time; other members, such as AuthenticationErrorDetail,
 * are not shown).  A HEAD's error has no body: its x-ms-error-code header
 * names it.  Another body is quoted (200 bytes) unless it has a "sig=", as
 * an echo of the request's SAS token would.
 */
#include "postgres.h"

#include "azblob.h"
#include "object_store.h"
#include "xml_reply.h"

/*
 * Fill req (url, method, headers) for r to target, authorised by its key
 * or SAS token.  Only pallocs: the health check uses it too.
 */
void
azblob_http_request(const AzblobTarget *target, const AzblobRequest *r, MeshHttpRequest *req)
{
	StringInfoData path;
	StringInfoData query;

	initStringInfo(&path);
	appendStringInfoString(&path, target->base_path);
	if (r->container)
		appendStringInfo(&path, "/%s", mesh_uri_encode(r->container, false));
	if (r->blob)
		appendStringInfo(&path, "/%s", mesh_uri_encode(r->blob, true));
	if (r->container == NULL)
		appendStringInfoChar(&path, '/');
	initStringInfo(&query);
	for (int i = 0; i < r->nparams; i++)
		appendStringInfo(&query, "%c%s=%s", i ? '&' : '?', r->params[i].name,
						 mesh_uri_encode(r->params[i].value, false));
	if (target->sas_token)
		appendStringInfo(&query, "%c%s", query.len ? '&' : '?', target->sas_token);
	req->method = r->method;
	req->url = psprintf("%s%s%s", target->base_url, path.data + strlen(target->base_path),
						query.data);
	req->headers = azblob_sign(target, r, path.data,
							   r->body ? mesh_object_md5_base64(r->body, r->body_len) : NULL,
							   time(NULL));
	req->body = r->body;
	req->body_len = r->body_len;
	req->content_type = r->body ? r->content_type : NULL;
	req->what = r->what;
	req->accept_error = true;
	req->keep_headers = true;
}

/* Send r; the answer in resp, whatever its status (see azblob_raise). */
void
azblob_send(AzblobConn *conn, const AzblobRequest *r, MeshHttpResponse *resp)
{
	MeshHttpRequest req = {0};

	azblob_http_request(&conn->target, r, &req);
	if (req.headers == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign a request to Azure Blob server \"%s\"", conn->servername)));
	mesh_http_request(conn->http, &req, resp);
}

/* The first line of an error message (the rest is a request id and a time). */
static char *
first_line(const char *message)
{
	return pnstrdup(message, strcspn(message, "\r\n"));
}

/*
 * Report the error answer resp to r: the service's code and message when
 * the body is an <Error> document, else its x-ms-error-code header, else
 * its status.
 */
void
azblob_raise(AzblobConn *conn, const AzblobRequest *r, MeshHttpResponse *resp)
{
	char	   *error;
	MeshXmlNode *doc = resp->body.len > 0 ?
		mesh_xml_parse(resp->body.data, resp->body.len, &error) : NULL;
	const char *code = doc && strcmp(doc->name, "Error") == 0 ?
		mesh_xml_child_text(doc, "Code") : NULL;
	const char *message = code ? mesh_xml_child_text(doc, "Message") : NULL;
	char	   *detail;

	if (code == NULL)
		code = mesh_http_header(resp, "x-ms-error-code");
	if (code && message && message[0])
		detail = psprintf("%s: %s", code, first_line(message));
	else if (code)
		detail = pstrdup(code);
	else if (resp->body.len > 0 && strstr(resp->body.data, "sig=") == NULL)
		detail = pnstrdup(resp->body.data, 200);
	else if (resp->body.len > 0)
		detail = pstrdup("The answer's body is not shown: it may quote a SAS token.");
	else
		detail = psprintf("The answer to %s has no body.", r->what);
	mesh_http_raise(conn->http, r->what, resp->status, detail);
}
