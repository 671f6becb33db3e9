/*
 * http.h: the HTTP client every HTTP/JSON connector shares (libcurl).
 *
 * One MeshHttp per cached connection: a curl multi handle whose connection
 * pool keeps TCP/TLS connections alive between requests.  Every wait is
 * bounded by timeout_ms of inactivity (connect, or no byte received) and
 * interruptible by a query cancel.  Errors are ereported with the backend's
 * own message in errdetail and a SQLSTATE that tells replication whether to
 * retry (08xxx: refused, timeout, 5xx, 429) or dead-letter (other 4xx).
 * Credentials travel in headers set from the user mapping, never in a URL,
 * so no message ever prints them.
 */
#ifndef MESH_HTTP_H
#define MESH_HTTP_H

#include <curl/curl.h>

#include "lib/stringinfo.h"

#include "connector.h"

/*
 * The options every HTTP kind accepts; put MESH_HTTP_OPTIONS first in the
 * connector's option table.
 */
#define MESH_HTTP_OPTIONS \
	{.name = "url", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_URL, .min = 1}, \
	MESH_HTTP_TLS_OPTIONS, \
	{.name = "gzip", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_BOOL}, \
	{.name = "user", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "password", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING, \
	.secret = true}, \
	{.name = "token", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING, \
	.secret = true, .min = 1}

/*
 * The TLS options alone (in MESH_HTTP_OPTIONS), for a kind that names its
 * URL and credentials otherwise (mesh_s3).  Verification is on unless
 * tls_verify is false.
 */
#define MESH_HTTP_TLS_OPTIONS \
	{.name = "tls_ca_file", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "tls_cert_file", .where = MESH_OPT_SERVER | MESH_OPT_MAPPING, \
	.type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "tls_key_file", .where = MESH_OPT_SERVER | MESH_OPT_MAPPING, \
	.type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "tls_verify", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_BOOL}

/*
 * Sent with every request of mesh's HTTP client; the hub's own metrics
 * endpoint refuses any request that carries it, so no role can make the hub
 * fetch its /health or status page through a wrapper.
 */
#define MESH_HUB_HEADER "X-Mesh-Hub"

typedef struct MeshHttp MeshHttp;

typedef struct MeshHttpRequest
{
	const char *method;			/* "GET" (default when NULL), "HEAD" (no body is
								 * read), "POST", "PUT", "DELETE" */
	const char *path;			/* appended to the server url; already URL-encoded */
	const char *url;			/* or an absolute URL, sent as it is (already
								 * URL-encoded); then path is not used */
	const char *const *headers; /* NULL-terminated "Name: value" lines sent with
								 * this request only, or NULL */
	bool		keep_headers;	/* collect the answer's headers (resp->headers) */
	const char *body;			/* POST body, or NULL */
	size_t		body_len;
	const char *content_type;	/* of the body */
	const char *what;			/* for messages: "a query", "a write" */
	bool		accept_error;	/* return non-2xx answers instead of ereporting */
} MeshHttpRequest;

/* One header of an answer (name as the server spelled it, value trimmed). */
typedef struct MeshHttpHeader
{
	char	   *name;
	char	   *value;
} MeshHttpHeader;

typedef struct MeshHttpResponse
{
	long		status;
	StringInfoData body;		/* NUL-terminated */
	char	   *version;		/* value of the connector's version header, or NULL */
	List	   *headers;		/* MeshHttpHeader *, when the request kept them */
} MeshHttpResponse;

/* A response read incrementally: body grows as mesh_http_stream_fill runs. */
typedef struct MeshHttpStream
{
	MeshHttp   *http;
	MeshHttpResponse response;
	bool		finished;		/* the whole body has arrived */
	const char *what;
	size_t		scanned;		/* mesh_http_stream_line: bytes searched for a newline */
	size_t		consumed;		/* mesh_http_stream_line: bytes of the last line returned */
} MeshHttpStream;

/*
 * An HTTP kind's setup (MeshConnector.http_setup): from it alone the core
 * makes the connection, the ping and the error mapping.
 */
typedef struct MeshHttpSetup
{
	const char *kind_label;		/* "InfluxDB": for messages */
	const char *default_url;
	const char *token_scheme;	/* "Bearer" (default) or "Token" */
	const char *key_option;		/* a secret user mapping option of the kind
								 * (e.g. "api_key") sent instead of the token as
								 * "Authorization: <key_scheme> <value>", or NULL */
	const char *key_scheme;		/* e.g. "ApiKey" */
	const char *key_header;		/* or send the key as "<key_header>: <value>"
								 * (e.g. Qdrant's "api-key"), or NULL */
	const char *version_header; /* response header holding the version, or NULL */
	const char *ping_path;		/* GET by mesh.health; 2xx means up */
	char	   *(*ping_version) (const char *body);	/* version from the ping body */
	const char *ping_version_field; /* or: the string at this key of the
									 * body's JSON object */
	bool		ping_body_required; /* ping_version NULL: a malformed answer, a
									 * failed ping ("": up, no version) */

	/*
	 * Optional: the health check's request (method, path or url, headers)
	 * instead of a GET of ping_path, e.g. a signed HEAD.  It only pallocs:
	 * it must not ereport.
	 */
	void		(*ping_request) (MeshServerConfig *config, MeshHttpRequest *req);

	/*
	 * Optional: the server's base URL from its options, palloc'd, without
	 * a trailing slash (NULL: the option url, else default_url).  It only
	 * pallocs: it must not ereport.
	 */
	char	   *(*base_url) (MeshServerConfig *config);

	/*
	 * The connection: a struct of conn_size bytes (0: a MeshHttpConn) that
	 * begins with MESH_HTTP_CONN_HEAD.  open (optional) fills the rest from
	 * the options; it runs in the connection's own memory context, freed
	 * with it at disconnect, so it allocates without freeing and may
	 * ereport.
	 */
	size_t		conn_size;
	void		(*open) (void *conn, MeshServerConfig *config);
} MeshHttpSetup;

/* The first members of every HTTP kind's connection struct. */
#define MESH_HTTP_CONN_HEAD \
	MeshHttp   *http; \
	char	   *servername; \
	const MeshHttpSetup *setup

typedef struct MeshHttpConn
{
	MESH_HTTP_CONN_HEAD;
} MeshHttpConn;

extern void mesh_http_global_init(void);
extern bool mesh_http_configure(void *easy, MeshServerConfig *config, const MeshHttpSetup *setup,
								struct curl_slist **auth_headers, char *errbuf);
extern MeshHttp *mesh_http_connect(MeshServerConfig *config, const MeshHttpSetup *setup);
extern void mesh_http_disconnect(MeshHttp *http);
extern char *mesh_http_base_url(MeshServerConfig *config, const MeshHttpSetup *setup);
extern const char *mesh_http_url(MeshHttp *http);
extern const char *mesh_http_server(MeshHttp *http);
extern int	mesh_http_timeout(MeshHttp *http);

extern void mesh_http_request(MeshHttp *http, const MeshHttpRequest *req,
							  MeshHttpResponse *resp);
extern void mesh_http_stream_open(MeshHttp *http, const MeshHttpRequest *req,
								  MeshHttpStream *stream);
extern bool mesh_http_stream_fill(MeshHttpStream *stream);
extern bool mesh_http_stream_line(MeshHttpStream *stream, char **line, size_t *len);
extern void mesh_http_stream_close(MeshHttpStream *stream);

/* http_fetch.c */
extern void mesh_http_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys,
								 char ***rows);
extern void mesh_http_stream_of(MeshHttpStream *stream, MeshHttp *h, MeshHttpResponse *resp,
								const char *what);
extern void mesh_http_stream_read_all(MeshHttpStream *stream);

extern void mesh_http_begin(MeshHttp *http, const MeshHttpRequest *req, MeshHttpResponse *resp);
extern bool mesh_http_progress(MeshHttp *http, const MeshHttpRequest *req,
							   MeshHttpResponse *resp);
extern void mesh_http_wait(MeshHttp **hs, int n, int max_ms);

extern void mesh_http_raise(MeshHttp *http, const char *what, long status,
							const char *message) pg_attribute_noreturn();
extern const char *mesh_http_header(const MeshHttpResponse *resp, const char *name);
extern char *mesh_http_escape(const char *s);
extern char *mesh_uri_encode(const char *s, bool keep_slash);
extern void mesh_http_append_param(StringInfo path, const char *name, const char *value);

/* http_conn.c: the connection of an HTTP kind, from its setup */
extern void *mesh_http_conn_open(MeshServerConfig *config);
extern void mesh_http_conn_close(void *conn);
extern MeshHttp *mesh_http_conn_client(void *conn);

/* http_ping.c: non-blocking health checks, a GET of setup->ping_path */
extern const MeshPingOps mesh_http_ping_ops;

extern MeshErrorClass mesh_http_classify_error(int code, const char *message);

#endif							/* MESH_HTTP_H */
