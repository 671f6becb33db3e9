/*
 * http_ping.c: a non-blocking HTTP health check for mesh.health, shared by
 * every HTTP connector.  Each ping has its own curl multi handle; curl
 * tells us its socket through the socket callback, and health.c polls it
 * (or calls ping_continue on a short timer while curl has no socket, e.g.
 * while resolving).  Never ereports: failures become ok = false.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <jansson.h>

#include "http.h"

typedef struct HttpPing
{
	CURLM	   *multi;
	CURL	   *easy;
	struct curl_slist *headers;
	const MeshHttpSetup *setup;
	StringInfoData body;
	char	   *version;
	char		errbuf[CURL_ERROR_SIZE];
} HttpPing;

static size_t
ping_body(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpPing   *hp = arg;

	if (hp->body.len < 65536)
		appendBinaryStringInfo(&hp->body, data, size * nmemb);
	return size * nmemb;
}

static size_t
ping_header(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpPing   *hp = arg;
	size_t		len = size * nmemb;
	const char *name = hp->setup->version_header;
	size_t		nlen = name ? strlen(name) : 0;

	if (name && len > nlen + 1 && pg_strncasecmp(data, name, nlen) == 0 && data[nlen] == ':')
	{
		char	   *v = pnstrdup(data + nlen + 1, len - nlen - 1);

		hp->version = pstrdup(v + strspn(v, " \t"));
		hp->version[strcspn(hp->version, "\r\n")] = '\0';
	}
	return len;
}

/* curl's socket callback: remember which socket to poll and for what. */
static int
ping_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	MeshPing   *ping = arg;

	if (what == CURL_POLL_REMOVE)
		ping->fd = -1;
	else
	{
		ping->fd = s;
		ping->want_write = (what == CURL_POLL_OUT);
	}
	return 0;
}

/* The string at key of a JSON object text (at most 64 bytes of it), or NULL. */
static char *
json_field(const char *body, const char *key)
{
	json_t	   *doc = json_loads(body, 0, NULL);
	json_t	   *v = doc ? json_object_get(doc, key) : NULL;
	char	   *result = NULL;

	if (v != NULL && json_is_string(v))
		result = pnstrdup(json_string_value(v), Min(json_string_length(v), 64));
	json_decref(doc);
	return result;
}

static void
ping_fail(MeshPing *ping, const char *what, const char *detail)
{
	ping->done = true;
	ping->ok = false;
	ping->error = detail && detail[0] ? psprintf("%s: %s", what, detail) : pstrdup(what);
}

static void http_ping_continue(MeshPing *ping);

/*
 * Starts a GET of the kind's ping path (its connector's http_setup), or the
 * request its ping_request hook makes.
 */
static void
http_ping_start(MeshPing *ping)
{
	const MeshHttpSetup *setup = ping->config->connector->http_setup;
	HttpPing   *hp = palloc0(sizeof(HttpPing));
	MeshHttpRequest req = {0};
	char	   *full;

	mesh_http_global_init();
	ping->state = hp;
	ping->fd = -1;
	hp->setup = setup;
	initStringInfo(&hp->body);
	req.path = setup->ping_path;
	if (setup->ping_request)
		setup->ping_request(ping->config, &req);
	full = req.url ? pstrdup(req.url) :
		psprintf("%s%s", mesh_http_base_url(ping->config, setup), req.path ? req.path : "/");
	hp->multi = curl_multi_init();
	hp->easy = curl_easy_init();
	if (hp->multi == NULL || hp->easy == NULL)
	{
		ping_fail(ping, "could not set up an HTTP client", NULL);
		return;
	}
	if (!mesh_http_configure(hp->easy, ping->config, setup, &hp->headers, hp->errbuf))
	{
		ping_fail(ping, "could not set up an HTTP client", hp->errbuf);
		return;
	}
	for (const char *const *line = req.headers; line && *line; line++)
		hp->headers = curl_slist_append(hp->headers, *line);
	curl_easy_setopt(hp->easy, CURLOPT_HTTPHEADER, hp->headers);
	if (req.method && strcmp(req.method, "HEAD") == 0)
		curl_easy_setopt(hp->easy, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(hp->easy, CURLOPT_URL, full);
	curl_easy_setopt(hp->easy, CURLOPT_WRITEFUNCTION, ping_body);
	curl_easy_setopt(hp->easy, CURLOPT_WRITEDATA, hp);
	curl_easy_setopt(hp->easy, CURLOPT_HEADERFUNCTION, ping_header);
	curl_easy_setopt(hp->easy, CURLOPT_HEADERDATA, hp);
	curl_multi_setopt(hp->multi, CURLMOPT_SOCKETFUNCTION, ping_socket);
	curl_multi_setopt(hp->multi, CURLMOPT_SOCKETDATA, ping);
	curl_multi_add_handle(hp->multi, hp->easy);
	http_ping_continue(ping);
}

/* Drives the transfer; a 2xx answer is up, with the version it carries. */
static void
http_ping_continue(MeshPing *ping)
{
	HttpPing   *hp = ping->state;
	int			running;
	int			left;
	CURLMsg    *msg;
	long		status = 0;

	if (ping->done)
		return;
	curl_multi_perform(hp->multi, &running);
	while ((msg = curl_multi_info_read(hp->multi, &left)) != NULL)
	{
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (msg->data.result != CURLE_OK)
		{
			ping_fail(ping, "connection failed",
					  hp->errbuf[0] ? hp->errbuf : curl_easy_strerror(msg->data.result));
			return;
		}
		curl_easy_getinfo(hp->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status >= 300)
		{
			ping_fail(ping, psprintf("HTTP %ld", status), pnstrdup(hp->body.data, 200));
			return;
		}
		ping->done = true;
		ping->ok = true;
		if (hp->setup->ping_version)
			ping->version = hp->setup->ping_version(hp->body.data);
		else if (hp->setup->ping_version_field)
			ping->version = json_field(hp->body.data, hp->setup->ping_version_field);
		else
			ping->version = hp->version;
		if (hp->setup->ping_body_required && ping->version == NULL)
			ping_fail(ping, psprintf("malformed answer to %s",
									 hp->setup->ping_path ? hp->setup->ping_path : "the health check"),
					  NULL);
		else if (ping->version && ping->version[0] == '\0')
			ping->version = NULL;
		return;
	}
}

/* Frees the transfer, whatever happened. */
static void
http_ping_finish(MeshPing *ping)
{
	HttpPing   *hp = ping->state;

	if (hp == NULL)
		return;
	if (hp->multi && hp->easy)
		curl_multi_remove_handle(hp->multi, hp->easy);
	if (hp->easy)
		curl_easy_cleanup(hp->easy);
	if (hp->multi)
		curl_multi_cleanup(hp->multi);
	curl_slist_free_all(hp->headers);
	ping->state = NULL;
}

/* The health capability of every HTTP kind. */
const MeshPingOps mesh_http_ping_ops = {
	.ping_start = http_ping_start,
	.ping_continue = http_ping_continue,
	.ping_finish = http_ping_finish,
};
