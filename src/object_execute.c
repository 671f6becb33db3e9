/*
 * object_execute.c: mesh.execute on an object-store server: one raw
 * request, signed by the store's dialect, in the form
 *
 *     METHOD /path[?query]          e.g. GET /logs?list-type=2&prefix=2026/
 *
 * with an optional body in params->>'body'.  The path and query may be
 * written plainly or percent-encoded: they are decoded here and encoded
 * again by the dialect exactly as it signs them.  The answer is one row,
 * {"status": 200, "headers": {...}, "body": ...}: a JSON body (by its
 * Content-Type) as JSON, any other as a string.  Every status comes back
 * as a row (the caller decides); a failed connection is an error.
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "object_store.h"

static const char *const raw_methods[] = {"GET", "HEAD", "PUT", "POST", "DELETE"};

/* s with %XX sequences decoded (palloc'd); malformed ones are an error. */
static char *
percent_decode(const char *s, size_t len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '%')
		{
			unsigned int c;

			if (i + 2 >= len || !isxdigit((unsigned char) s[i + 1]) ||
				!isxdigit((unsigned char) s[i + 2]) || sscanf(s + i + 1, "%2x", &c) != 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("malformed percent-escape in request \"%s\"", pnstrdup(s, len))));
			appendStringInfoChar(&buf, (char) c);
			i += 2;
		}
		else
			appendStringInfoChar(&buf, s[i]);
	}
	return buf.data;
}

/* The query string's parameters, decoded ("a=1&b" gives a=1 and b=""). */
static List *
parse_query(const char *q)
{
	List	   *params = NIL;

	while (*q)
	{
		const char *end = strchr(q, '&');
		size_t		len = end ? (size_t) (end - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		MeshObjectParam *p = palloc(sizeof(MeshObjectParam));

		if (len > 0)
		{
			p->name = percent_decode(q, eq ? (size_t) (eq - q) : len);
			p->value = eq ? percent_decode(eq + 1, len - (eq - q) - 1) : pstrdup("");
			params = lappend(params, p);
		}
		q += len + (end ? 1 : 0);
	}
	return params;
}

/* The answer as one JSON object (see the file comment). */
static Jsonb *
answer_row(MeshHttpResponse *resp)
{
	StringInfoData buf;
	ListCell   *lc;
	const char *type = mesh_http_header(resp, "Content-Type");

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"status\": %ld, \"headers\": {", resp->status);
	foreach(lc, resp->headers)
	{
		MeshHttpHeader *h = lfirst(lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, h->name);
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, h->value);
	}
	appendStringInfoString(&buf, "}, \"body\": ");
	if (resp->body.len == 0)
		appendStringInfoString(&buf, "null");
	else if (type && strstr(type, "json") != NULL)
		appendBinaryStringInfo(&buf, resp->body.data, resp->body.len);
	else
		escape_json(&buf, resp->body.data);
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

List *
mesh_object_execute(void *conn, const char *request, Jsonb *params)
{
	MeshHttpConn *hc = conn;
	const MeshObjectStore *store = mesh_connector_for_server(
		GetForeignServerByName(hc->servername, false)->serverid)->object_store;
	const char *sp = strchr(request, ' ');
	const char *method = NULL;
	const char *target;
	const char *q;
	const char *body = mesh_jsonb_option(params, "body", NULL);
	char	   *path;
	MeshHttpResponse resp;

	if (store == NULL || store->raw == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mesh.execute is not supported for server \"%s\" yet", hc->servername)));
	for (int i = 0; sp && i < lengthof(raw_methods); i++)
		if (strlen(raw_methods[i]) == (size_t) (sp - request) &&
			strncmp(request, raw_methods[i], sp - request) == 0)
			method = raw_methods[i];
	target = sp ? sp + 1 : "";
	if (method == NULL || target[0] != '/' || strpbrk(target, " \t\r\n#") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid request for %s server \"%s\": \"%s\"", store->label, hc->servername,
						request),
				 errhint("Write METHOD /path[?query], e.g. GET /%s?list-type=2&prefix=dir/ (methods GET, HEAD, PUT, POST, DELETE; a body in params->>'body').",
						 store->bucket_word)));
	q = strchr(target, '?');
	path = percent_decode(target, q ? (size_t) (q - target) : strlen(target));
	store->raw(conn, method, path, q ? parse_query(q + 1) : NIL, body,
			   body ? strlen(body) : 0, &resp);
	return list_make1(answer_row(&resp));
}
