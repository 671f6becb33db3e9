/*
 * gcs_ping.c: the GCS health check (mesh.health), non-blocking.
 *
 * A GET of the server's bucket's metadata, /storage/v1/b/<bucket>, with
 * the user mapping's credentials: the static access token, or, for a
 * service account, a token from a JWT-bearer grant sent first (each check
 * grants anew: it shares no state with the connections, and a check that
 * passes shows the key is accepted).  A server without a bucket option
 * lists buckets instead (GET /storage/v1/b?maxResults=1, with the
 * key's project_id as project when there is one: GCS requires a project
 * there, so such a check fails on GCS itself without a service account).
 *
 * Like the core's HTTP ping (http_ping.c), but two requests in a row on one
 * curl handle, and the first may be a POST; up is a 2xx answer that is a
 * JSON object.  Never ereports: failures are
 * ok = false with the store's words (GCS's "reason: message", the token
 * endpoint's OAuth2 error), never a credential.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "gcs.h"
#include "json_value.h"

typedef enum GcsPingStage
{
	GCS_PING_GRANT,				/* POST of the JWT grant to the token endpoint */
	GCS_PING_BUCKET				/* GET of the bucket's metadata */
} GcsPingStage;

typedef struct GcsPing
{
	CURLM	   *multi;
	CURL	   *easy;
	bool		attached;
	struct curl_slist *base_headers;	/* the core's (mesh_http_configure) */
	struct curl_slist *headers; /* of the current request */
	GcsPingStage stage;
	GcsServiceAccount *account; /* the mapping's service account, or NULL */
	char	   *form;			/* the grant's body (holds the assertion) */
	char	   *assertion;		/* inside form */
	StringInfoData body;
	char		errbuf[CURL_ERROR_SIZE];
} GcsPing;

static size_t
ping_body(char *data, size_t size, size_t nmemb, void *arg)
{
	GcsPing    *gp = arg;

	if (gp->body.len < 65536)
		appendBinaryStringInfo(&gp->body, data, size * nmemb);
	return size * nmemb;
}

/* curl's socket callback: the socket to poll and for what. */
static int
ping_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	MeshPing   *ping = arg;

	if (what == CURL_POLL_REMOVE)
	{
		if (ping->fd == s)
			ping->fd = -1;
	}
	else
	{
		ping->fd = s;
		ping->want_write = (what == CURL_POLL_OUT);
	}
	return 0;
}

static void
ping_fail(MeshPing *ping, const char *error)
{
	ping->done = true;
	ping->ok = false;
	ping->error = pstrdup(error);
}

/* Start one request on the ping's handle (form: a POST of it, else a GET). */
static void
start_request(MeshPing *ping, const char *url, const char *bearer, const char *form)
{
	GcsPing    *gp = ping->state;

	if (gp->attached)
		curl_multi_remove_handle(gp->multi, gp->easy);
	gp->attached = false;
	curl_slist_free_all(gp->headers);
	gp->headers = NULL;
	for (struct curl_slist *s = gp->base_headers; s; s = s->next)
		gp->headers = curl_slist_append(gp->headers, s->data);
	if (bearer)
	{
		char	   *line = psprintf("Authorization: Bearer %s", bearer);

		gp->headers = curl_slist_append(gp->headers, line);
		explicit_bzero(line, strlen(line));
	}
	if (form)
		gp->headers = curl_slist_append(gp->headers,
										"Content-Type: application/x-www-form-urlencoded");
	resetStringInfo(&gp->body);
	gp->errbuf[0] = '\0';
	curl_easy_setopt(gp->easy, CURLOPT_HTTPHEADER, gp->headers);
	curl_easy_setopt(gp->easy, CURLOPT_URL, url);
	if (form)
	{
		curl_easy_setopt(gp->easy, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(gp->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(form));
	}
	else
		curl_easy_setopt(gp->easy, CURLOPT_HTTPGET, 1L);
	if (curl_multi_add_handle(gp->multi, gp->easy) != CURLM_OK)
	{
		ping_fail(ping, "could not start an HTTP transfer");
		return;
	}
	gp->attached = true;
}

/* The URL the check GETs: the bucket's metadata, or a listing of buckets. */
static char *
check_url(MeshServerConfig *config, const GcsServiceAccount *sa)
{
	const char *bucket = mesh_config_get(config, "bucket", NULL);
	char	   *base = gcs_base_url(config);

	if (bucket)
		return psprintf("%s/storage/v1/b/%s", base, mesh_http_escape(bucket));
	if (sa && sa->project_id)
		return psprintf("%s/storage/v1/b?maxResults=1&project=%s", base,
						mesh_http_escape(sa->project_id));
	return psprintf("%s/storage/v1/b?maxResults=1", base);
}

static void gcs_ping_continue(MeshPing *ping);

static void
gcs_ping_start(MeshPing *ping)
{
	MeshServerConfig *config = ping->config;
	GcsPing    *gp = palloc0(sizeof(GcsPing));
	const char *token = mesh_config_get(config, "access_token", NULL);
	const char *json = mesh_config_get(config, "service_account_json", NULL);
	GcsServiceAccount *sa = NULL;
	char	   *why = NULL;

	mesh_http_global_init();
	ping->state = gp;
	ping->fd = -1;
	initStringInfo(&gp->body);
	gp->multi = curl_multi_init();
	gp->easy = curl_easy_init();
	if (gp->multi == NULL || gp->easy == NULL)
	{
		ping_fail(ping, "could not set up an HTTP client");
		return;
	}
	if (!mesh_http_configure(gp->easy, config, config->connector->http_setup,
							 &gp->base_headers, gp->errbuf))
	{
		ping_fail(ping, psprintf("could not set up an HTTP client: %s", gp->errbuf));
		return;
	}
	curl_easy_setopt(gp->easy, CURLOPT_WRITEFUNCTION, ping_body);
	curl_easy_setopt(gp->easy, CURLOPT_WRITEDATA, gp);
	curl_multi_setopt(gp->multi, CURLMOPT_SOCKETFUNCTION, ping_socket);
	curl_multi_setopt(gp->multi, CURLMOPT_SOCKETDATA, ping);
	if (json)
	{
		sa = gcs_parse_account(json, mesh_config_get(config, "token_uri", NULL), &why);
		if (sa == NULL)
		{
			ping_fail(ping, psprintf("service_account_json is not a service account key: %s", why));
			return;
		}
		gp->account = sa;
		gp->form = gcs_grant_body(sa, time(NULL), &why);
		if (gp->form == NULL)
		{
			ping_fail(ping, psprintf("could not sign a token request: %s", why));
			return;
		}
		gp->assertion = strstr(gp->form, "&assertion=") + strlen("&assertion=");
		gp->stage = GCS_PING_GRANT;
		start_request(ping, sa->token_uri, NULL, gp->form);
	}
	else
	{
		gp->stage = GCS_PING_BUCKET;
		start_request(ping, check_url(config, NULL), token, NULL);
	}
	gcs_ping_continue(ping);
}

/* The grant answered: the bucket check with its token, or the refusal. */
static void
granted(MeshPing *ping, long status)
{
	GcsPing    *gp = ping->state;
	char	   *token;
	int64		expires_in;

	if (status < 200 || status >= 300)
	{
		ping_fail(ping, psprintf("token request: HTTP %ld: %s", status,
								 gcs_token_error(gp->body.data, gp->body.len, gp->assertion)));
		return;
	}
	if (!gcs_parse_grant(gp->body.data, gp->body.len, &token, &expires_in))
	{
		ping_fail(ping, "token request: the answer has no access_token");
		return;
	}
	gp->stage = GCS_PING_BUCKET;
	start_request(ping, check_url(ping->config, gp->account), token, NULL);
	explicit_bzero(token, strlen(token));
}

/* The answer is a JSON object (a bucket's resource, a list of buckets). */
static bool
answer_is_object(GcsPing *gp)
{
	json_t	   *doc = json_loadb(gp->body.data, gp->body.len, 0, NULL);
	bool		ok = doc != NULL && json_is_object(doc);

	json_decref(doc);
	return ok;
}

/* Drive the transfer; a 2xx answer to the bucket check (a JSON object) is up. */
static void
gcs_ping_continue(MeshPing *ping)
{
	GcsPing    *gp = ping->state;
	int			running;
	int			left;
	CURLMsg    *msg;
	long		status = 0;

	while (!ping->done)
	{
		bool		finished = false;

		curl_multi_perform(gp->multi, &running);
		while ((msg = curl_multi_info_read(gp->multi, &left)) != NULL)
		{
			if (msg->msg != CURLMSG_DONE)
				continue;
			finished = true;
			if (msg->data.result != CURLE_OK)
			{
				ping_fail(ping, psprintf("%sconnection failed: %s",
										 gp->stage == GCS_PING_GRANT ? "token request: " : "",
										 gp->errbuf[0] ? gp->errbuf : curl_easy_strerror(msg->data.result)));
				return;
			}
			curl_easy_getinfo(gp->easy, CURLINFO_RESPONSE_CODE, &status);
			break;
		}
		if (!finished)
			return;				/* more when the socket is ready */
		if (gp->stage == GCS_PING_GRANT)
		{
			granted(ping, status);
			continue;			/* the bucket check may progress at once */
		}
		if (status < 200 || status >= 300)
		{
			ping_fail(ping, psprintf("HTTP %ld: %s", status, gcs_error_text(gp->body.data, gp->body.len)));
			return;
		}
		if (!answer_is_object(gp))
		{
			ping_fail(ping, "malformed answer to the health check: not a JSON object");
			return;
		}
		ping->done = true;
		ping->ok = true;
		ping->version = NULL;	/* GCS states no version */
	}
}

/* Free the transfer, whatever happened. */
static void
gcs_ping_finish(MeshPing *ping)
{
	GcsPing    *gp = ping->state;

	if (gp == NULL)
		return;
	if (gp->attached)
		curl_multi_remove_handle(gp->multi, gp->easy);
	if (gp->easy)
		curl_easy_cleanup(gp->easy);
	if (gp->multi)
		curl_multi_cleanup(gp->multi);
	curl_slist_free_all(gp->headers);
	curl_slist_free_all(gp->base_headers);
	if (gp->form)
		explicit_bzero(gp->form, strlen(gp->form));
	ping->state = NULL;
}

const MeshPingOps gcs_ping_ops = {
	.ping_start = gcs_ping_start,
	.ping_continue = gcs_ping_continue,
	.ping_finish = gcs_ping_finish,
};
