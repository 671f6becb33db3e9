/*
 * http.c: the shared HTTP client (libcurl multi interface).
 *
 * All transfers of one connection go through its multi handle, which owns
 * the pool of kept-alive connections.  A transfer is driven by our own loop
 * (curl_multi_perform + curl_multi_poll in slices of at most 100 ms) so a
 * query cancel is honoured and a silent server is an error after
 * timeout_ms without a byte.  An ereport may leave a transfer attached;
 * the next request detaches it first, and connection.c retires a
 * connection whose use was interrupted.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/select.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "http.h"
#include "mesh_util.h"

struct MeshHttp
{
	CURLM	   *multi;
	CURL	   *easy;
	bool		attached;		/* easy is in multi */
	char	   *url;			/* base url, no trailing slash */
	char	   *server;
	const MeshHttpSetup *setup;
	int			timeout_ms;
	struct curl_slist *auth_headers;
	struct curl_slist *request_headers; /* of the current request */
	MeshHttpResponse *sink;		/* where the body of the transfer goes */
	bool		keep_headers;	/* the answer's headers go to sink->headers */
	struct timespec last_activity;
	curl_off_t	upload_len;		/* the request body's length */
	char		errbuf[CURL_ERROR_SIZE];
};

static bool curl_ready = false;

void
mesh_http_global_init(void)
{
	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			elog(ERROR, "could not initialise libcurl");
		curl_ready = true;
	}
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	MeshHttp   *h = arg;

	mesh_now(&h->last_activity);
	if (h->sink)
		appendBinaryStringInfo(&h->sink->body, data, size * nmemb);
	return size * nmemb;
}

/*
 * Keeps one header line ("Name: value\r\n") of the answer in sink->headers;
 * a status line starts the list again (an interim answer's headers go).
 */
static void
keep_header(MeshHttp *h, const char *data, size_t len)
{
	MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(h->sink->body.data));
	const char *colon = memchr(data, ':', len);
	MeshHttpHeader *hdr;
	size_t		vlen;
	const char *v;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		h->sink->headers = NIL;
	else if (colon != NULL && colon > data)
	{
		v = colon + 1;
		vlen = len - (v - data);
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
							v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		hdr = palloc(sizeof(MeshHttpHeader));
		hdr->name = pnstrdup(data, colon - data);
		hdr->value = pnstrdup(v, vlen);
		h->sink->headers = lappend(h->sink->headers, hdr);
	}
	MemoryContextSwitchTo(old);
}

/*
 * Captures the version header ("Name: value") when the setup names one,
 * and every header when the request keeps them.
 */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	MeshHttp   *h = arg;
	size_t		len = size * nmemb;
	const char *name = h->setup->version_header;

	mesh_now(&h->last_activity);
	if (h->keep_headers && h->sink)
		keep_header(h, data, len);
	if (name && h->sink && len > strlen(name) + 1 &&
		pg_strncasecmp(data, name, strlen(name)) == 0 && data[strlen(name)] == ':')
	{
		const char *v = data + strlen(name) + 1;
		size_t		vlen = len - strlen(name) - 1;

		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
			vlen--;
		h->sink->version = MemoryContextStrdup(GetMemoryChunkContext(h->sink->body.data),
											   pnstrdup(v, vlen));
	}
	return len;
}

/* Options shared by connections and pings; returns false on a libcurl error. */
bool
mesh_http_configure(CURL *easy, MeshServerConfig *config, const MeshHttpSetup *setup,
			   struct curl_slist **auth_headers, char *errbuf)
{
	const char *user = mesh_config_get(config, "user", NULL);
	const char *password = mesh_config_get(config, "password", NULL);
	const char *token = mesh_config_get(config, "token", NULL);
	const char *apikey = setup->key_option ?
		mesh_config_get(config, setup->key_option, NULL) : NULL;
	const char *scheme = setup->token_scheme ? setup->token_scheme : "Bearer";
	const char *header = NULL;
	const char *ca = mesh_config_get(config, "tls_ca_file", NULL);
	const char *cert = mesh_config_get(config, "tls_cert_file", NULL);
	const char *key = mesh_config_get(config, "tls_key_file", NULL);
	bool		verify = strcmp(mesh_config_get(config, "tls_verify", "true"), "false") != 0;
	bool		gzip = strcmp(mesh_config_get(config, "gzip", "false"), "true") == 0;
	long		timeout = config->timeout_ms;
	CURLcode	rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(easy, opt, val); } while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, timeout);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	/* paths are sent as built (escaped by the caller), never normalised */
	SET(CURLOPT_PATH_AS_IS, 1L);
	SET(CURLOPT_BUFFERSIZE, 256L * 1024);
	SET(CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (ca)
		SET(CURLOPT_CAINFO, ca);
	if (cert)
		SET(CURLOPT_SSLCERT, cert);
	if (key)
		SET(CURLOPT_SSLKEY, key);
	if (gzip)
		SET(CURLOPT_ACCEPT_ENCODING, "");
	if (apikey && (token || user || password))
	{
		snprintf(errbuf, CURL_ERROR_SIZE,
				 "The user mapping options \"%s\" and \"%s\" exclude each other.",
				 setup->key_option, token ? "token" : (user ? "user" : "password"));
		return false;
	}
	if (apikey)
	{
		token = apikey;
		scheme = setup->key_scheme;
		header = setup->key_header;
	}
	if (user || password)
	{
		SET(CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, user ? user : "");
		SET(CURLOPT_PASSWORD, password ? password : "");
	}
	*auth_headers = curl_slist_append(NULL, "Expect:");
	*auth_headers = curl_slist_append(*auth_headers, MESH_HUB_HEADER ": 1");
	if (token)
	{
		char	   *line = header ? psprintf("%s: %s", header, token) :
			psprintf("Authorization: %s %s", scheme, token);

		*auth_headers = curl_slist_append(*auth_headers, line);
		memset(line, 0, strlen(line));
		pfree(line);
	}
	SET(CURLOPT_HTTPHEADER, *auth_headers);
#undef SET
	if (rc != CURLE_OK)
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	return rc == CURLE_OK;
}

/*
 * The server's base URL without a trailing slash (palloc'd): the setup's
 * base_url hook, else the option url, else the setup's default_url.
 */
char *
mesh_http_base_url(MeshServerConfig *config, const MeshHttpSetup *setup)
{
	const char *url;
	size_t		len;

	if (setup->base_url)
		return setup->base_url(config);
	url = mesh_config_get(config, "url", setup->default_url ? setup->default_url : "");
	len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	return pnstrdup(url, len);
}

/* A connection to config's server; ereports when libcurl cannot be set up. */
MeshHttp *
mesh_http_connect(MeshServerConfig *config, const MeshHttpSetup *setup)
{
	MeshHttp   *h;
	MemoryContext old;

	mesh_http_global_init();
	old = MemoryContextSwitchTo(TopMemoryContext);
	h = palloc0(sizeof(MeshHttp));
	h->setup = setup;
	h->url = mesh_http_base_url(config, setup);
	h->server = pstrdup(config->servername);
	h->timeout_ms = config->timeout_ms;
	MemoryContextSwitchTo(old);
	h->multi = curl_multi_init();
	h->easy = curl_easy_init();
	if (h->multi == NULL || h->easy == NULL ||
		!mesh_http_configure(h->easy, config, setup, &h->auth_headers, h->errbuf))
	{
		char	   *msg = pstrdup(h->errbuf);

		mesh_http_disconnect(h);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not set up an HTTP client for server \"%s\"", config->servername),
				 errdetail("%s", msg[0] ? msg : "out of memory")));
	}
	curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, h);
	return h;
}

void
mesh_http_disconnect(MeshHttp *h)
{
	if (h->attached)
		curl_multi_remove_handle(h->multi, h->easy);
	if (h->easy)
		curl_easy_cleanup(h->easy);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->auth_headers);
	curl_slist_free_all(h->request_headers);
	pfree(h->url);
	pfree(h->server);
	pfree(h);
}

const char *
mesh_http_url(MeshHttp *h)
{
	return h->url;
}

const char *
mesh_http_server(MeshHttp *h)
{
	return h->server;
}

int
mesh_http_timeout(MeshHttp *h)
{
	return h->timeout_ms;
}

/*
 * Ereport an HTTP error answer.  429 and 5xx are transient (class 08),
 * 401/403 ask for a fixed user mapping (class 28), the rest is permanent.
 */
void
mesh_http_raise(MeshHttp *h, const char *what, long status, const char *message)
{
	int			code = ERRCODE_FDW_ERROR;
	char	   *detail = pnstrdup(message ? message : "", 2000);

	if (status == 429 || status >= 500)
		code = ERRCODE_CONNECTION_FAILURE;
	else if (status == 401 || status == 403)
		code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	ereport(ERROR,
			(errcode(code),
			 errmsg("%s server \"%s\" answered HTTP %ld to %s",
					h->setup->kind_label, h->server, status, what),
			 detail[0] ? errdetail("%s", detail) : 0,
			 (status == 401 || status == 403) ?
			 errhint("Check the credentials in the user mapping for server \"%s\".", h->server) : 0));
	pg_unreachable();
}

/* Start a transfer of req on h's easy handle into resp. */
static void
start_transfer(MeshHttp *h, const MeshHttpRequest *req, MeshHttpResponse *resp)
{
	StringInfoData url;
	bool		head = req->method && strcmp(req->method, "HEAD") == 0;
	bool		post = req->method && strcmp(req->method, "GET") != 0 && !head;

	if (h->attached)
	{
		curl_multi_remove_handle(h->multi, h->easy);
		h->attached = false;
	}
	curl_slist_free_all(h->request_headers);
	h->request_headers = NULL;
	for (struct curl_slist *s = h->auth_headers; s; s = s->next)
		h->request_headers = curl_slist_append(h->request_headers, s->data);
	if (req->content_type)
	{
		char	   *line = psprintf("Content-Type: %s", req->content_type);

		h->request_headers = curl_slist_append(h->request_headers, line);
	}
	for (const char *const *line = req->headers; line && *line; line++)
		h->request_headers = curl_slist_append(h->request_headers, *line);
	memset(resp, 0, sizeof(*resp));
	initStringInfo(&resp->body);
	h->sink = resp;
	h->keep_headers = req->keep_headers;
	h->errbuf[0] = '\0';

	initStringInfo(&url);
	if (req->url)
		appendStringInfoString(&url, req->url);
	else
		appendStringInfo(&url, "%s%s", h->url, req->path ? req->path : "/");
	curl_easy_setopt(h->easy, CURLOPT_URL, url.data);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->request_headers);
	h->upload_len = post && req->body ? (curl_off_t) req->body_len : 0;
	/* POST and HTTPGET end a previous HEAD's NOBODY */
	if (head)
	{
		curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(h->easy, CURLOPT_NOBODY, 1L);
	}
	else if (post)
	{
		curl_easy_setopt(h->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE,
						 (curl_off_t) (req->body ? req->body_len : 0));
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, req->method);
		else
			curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, NULL);
	}
	else
	{
		curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(h->easy, CURLOPT_HTTPGET, 1L);
	}
	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK)
		elog(ERROR, "could not start an HTTP transfer");
	h->attached = true;
	mesh_now(&h->last_activity);
}

/* The transfer has completed with result: detach it, report a failure, note the status. */
static void
finish_transfer(MeshHttp *h, CURLcode result, const char *what)
{
	curl_multi_remove_handle(h->multi, h->easy);
	h->attached = false;
	if (result != CURLE_OK)
		ereport(ERROR,
				(errcode(result == CURLE_OPERATION_TIMEDOUT ?
						 ERRCODE_CONNECTION_FAILURE :
						 ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not reach %s server \"%s\" for %s",
						h->setup->kind_label, h->server, what),
				 errdetail("%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(result)),
				 errhint("The connection is re-established at the next statement.")));
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->sink->status);
}

/* Has the request's body gone out whole (the answer is what is left)? */
static bool
sent_whole(MeshHttp *h)
{
	curl_off_t	sent = 0;

	curl_easy_getinfo(h->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
	return sent >= h->upload_len;
}

/*
 * Drive the transfer until it completes, or (until_data) until the body
 * grew or the status is known.  Returns true when the transfer completed.
 */
static bool
drive(MeshHttp *h, const char *what, bool until_data)
{
	size_t		start_len = h->sink->body.len;

	for (;;)
	{
		int			running;
		int			left;
		CURLMsg    *msg;
		double		idle;

		curl_multi_perform(h->multi, &running);
		while ((msg = curl_multi_info_read(h->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
			{
				finish_transfer(h, msg->data.result, what);
				return true;
			}
		if (until_data)
		{
			long		status = 0;

			curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
			if (status >= 200 && status < 300 && h->sink->body.len > start_len)
			{
				h->sink->status = status;
				return false;
			}
		}
		idle = mesh_elapsed_ms(&h->last_activity);
		if (idle >= h->timeout_ms)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("no answer from %s server \"%s\" within %d ms during %s",
							h->setup->kind_label, h->server, h->timeout_ms, what),
					 errhint("The server may be overloaded or hanging; the server option timeout_ms sets the limit.")));
		CHECK_FOR_INTERRUPTS();
		if (sent_whole(h) && mesh_run_wait_work())
		{
			mesh_now(&h->last_activity);	/* the wait for the answer starts now */
			continue;
		}
		curl_multi_poll(h->multi, NULL, 0, (int) Min(100, h->timeout_ms - idle + 1), NULL);
	}
}

/* Send req and read the whole answer into resp; non-2xx ereports unless accepted. */
void
mesh_http_request(MeshHttp *h, const MeshHttpRequest *req, MeshHttpResponse *resp)
{
	const char *what = req->what ? req->what : "a request";

	start_transfer(h, req, resp);
	drive(h, what, false);
	h->sink = NULL;
	if ((resp->status < 200 || resp->status >= 300) && !req->accept_error)
		mesh_http_raise(h, what, resp->status, resp->body.data);
}

/*
 * Send req and return once the answer has begun (a 2xx status and data).
 * A non-2xx answer is read whole and ereported, or, with accept_error,
 * returned finished for the caller to report.
 */
void
mesh_http_stream_open(MeshHttp *h, const MeshHttpRequest *req, MeshHttpStream *stream)
{
	memset(stream, 0, sizeof(*stream));
	stream->http = h;
	stream->what = req->what ? req->what : "a request";
	start_transfer(h, req, &stream->response);
	stream->finished = drive(h, stream->what, true);
	if (stream->finished)
	{
		h->sink = NULL;
		if ((stream->response.status < 200 || stream->response.status >= 300) &&
			!req->accept_error)
			mesh_http_raise(h, stream->what, stream->response.status,
							stream->response.body.data);
	}
}

/* Wait for more of the body; false when it has all arrived before. */
bool
mesh_http_stream_fill(MeshHttpStream *s)
{
	if (s->finished)
		return false;
	s->http->sink = &s->response;
	s->finished = drive(s->http, s->what, true);
	if (s->finished)
		s->http->sink = NULL;
	return true;
}

/*
 * The next line of a streamed answer, without its newline (the last line
 * may lack one): *line points into the body and stays valid until the next
 * call, which drops it from the body.  False at the end of the answer.
 */
bool
mesh_http_stream_line(MeshHttpStream *s, char **line, size_t *len)
{
	StringInfo	b = &s->response.body;

	if (s->consumed > 0)
	{
		memmove(b->data, b->data + s->consumed, b->len - s->consumed);
		b->len -= s->consumed;
		b->data[b->len] = '\0';
		s->consumed = 0;
		s->scanned = 0;
	}
	for (;;)
	{
		char	   *nl = memchr(b->data + s->scanned, '\n', b->len - s->scanned);

		if (nl != NULL)
		{
			*line = b->data;
			*len = nl - b->data;
			s->consumed = *len + 1;
			return true;
		}
		s->scanned = b->len;
		if (!mesh_http_stream_fill(s))
		{
			if (b->len == 0)
				return false;
			*line = b->data;
			*len = b->len;
			s->consumed = b->len;
			return true;
		}
	}
}

/* Abandon what is left of the answer (the connection is not reused). */
void
mesh_http_stream_close(MeshHttpStream *s)
{
	MeshHttp   *h = s->http;

	if (!s->finished && h->attached)
	{
		curl_multi_remove_handle(h->multi, h->easy);
		h->attached = false;	/* curl closes the half-read connection */
	}
	h->sink = NULL;
}

/*
 * Non-blocking use, for asking several servers at once (mesh.query_all):
 * mesh_http_begin starts req, mesh_http_progress advances it without
 * waiting and returns true once resp is complete (errors as in
 * mesh_http_request), mesh_http_wait sleeps until any of hs has socket
 * activity or max_ms passed.
 */
void
mesh_http_begin(MeshHttp *h, const MeshHttpRequest *req, MeshHttpResponse *resp)
{
	start_transfer(h, req, resp);
}

bool
mesh_http_progress(MeshHttp *h, const MeshHttpRequest *req, MeshHttpResponse *resp)
{
	const char *what = req->what ? req->what : "a request";
	int			running;
	int			left;
	CURLMsg    *msg;

	h->sink = resp;
	curl_multi_perform(h->multi, &running);
	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
		{
			finish_transfer(h, msg->data.result, what);
			h->sink = NULL;
			if ((resp->status < 200 || resp->status >= 300) && !req->accept_error)
				mesh_http_raise(h, what, resp->status, resp->body.data);
			return true;
		}
	if (!h->attached)
		return true;
	if (mesh_elapsed_ms(&h->last_activity) >= h->timeout_ms)
		drive(h, what, false);	/* reports the timeout */
	return false;
}

void
mesh_http_wait(MeshHttp **hs, int n, int max_ms)
{
	struct pollfd *fds = palloc(sizeof(struct pollfd) * FD_SETSIZE);
	int			nfds = 0;

	for (int i = 0; i < n; i++)
	{
		fd_set		r,
					w,
					x;
		int			maxfd = -1;

		if (hs[i] == NULL || !hs[i]->attached)
			continue;
		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_ZERO(&x);
		curl_multi_fdset(hs[i]->multi, &r, &w, &x, &maxfd);
		for (int fd = 0; fd <= maxfd && nfds < FD_SETSIZE; fd++)
			if (FD_ISSET(fd, &r) || FD_ISSET(fd, &w))
			{
				fds[nfds].fd = fd;
				fds[nfds].events = (FD_ISSET(fd, &r) ? POLLIN : 0) | (FD_ISSET(fd, &w) ? POLLOUT : 0);
				fds[nfds++].revents = 0;
			}
	}
	CHECK_FOR_INTERRUPTS();
	/* no socket yet (connecting, resolving): a short sleep */
	(void) poll(fds, nfds, nfds > 0 ? max_ms : Min(max_ms, 1));
	pfree(fds);
}

/* The value of the answer's header name (any case), or NULL (kept headers only). */
const char *
mesh_http_header(const MeshHttpResponse *resp, const char *name)
{
	ListCell   *lc;

	foreach(lc, resp->headers)
	{
		MeshHttpHeader *hdr = lfirst(lc);

		if (pg_strcasecmp(hdr->name, name) == 0)
			return hdr->value;
	}
	return NULL;
}

/* s URL-encoded (palloc'd). */
char *
mesh_http_escape(const char *s)
{
	char	   *e = curl_easy_escape(NULL, s, (int) strlen(s));
	char	   *result;

	if (e == NULL)
		elog(ERROR, "out of memory");
	result = pstrdup(e);
	curl_free(e);
	return result;
}

/*
 * s percent-encoded byte by byte (palloc'd), as S3's SigV4 and Azure's
 * SharedKey sign paths and queries: every byte but the unreserved
 * A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash) as %XX, upper case hex.
 * The same form goes into URLs, so curl sends it unchanged.
 */
char *
mesh_uri_encode(const char *s, bool keep_slash)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const unsigned char *c = (const unsigned char *) s; *c; c++)
	{
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
			*c == '-' || *c == '_' || *c == '.' || *c == '~' || (keep_slash && *c == '/'))
			appendStringInfoChar(&buf, (char) *c);
		else
			appendStringInfo(&buf, "%%%02X", *c);
	}
	return buf.data;
}

/* Append "?name=value" or "&name=value" (value URL-encoded) to a path. */
void
mesh_http_append_param(StringInfo path, const char *name, const char *value)
{
	char	   *e = mesh_http_escape(value);

	appendStringInfo(path, "%c%s=%s", strchr(path->data, '?') ? '&' : '?', name, e);
	pfree(e);
}

/* Connection trouble and server overload are retried; the rest is not. */
MeshErrorClass
mesh_http_classify_error(int code, const char *message)
{
	if (ERRCODE_TO_CATEGORY(code) == ERRCODE_CONNECTION_EXCEPTION ||
		code == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION)
		return MESH_ERROR_TRANSIENT;
	return MESH_ERROR_PERMANENT;
}
