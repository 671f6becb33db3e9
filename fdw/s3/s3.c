/*
 * s3.c: the S3 connector (AWS S3 and S3-compatible stores): options,
 * connection, health.  Live-tested against versitygw 1.8.0, which checks
 * SigV4 signatures.
 *
 * Server options: endpoint (default https://s3.<region>.amazonaws.com,
 * TLS verified unless tls_verify is false), region (us-east-1),
 * addressing (path | virtual), bucket (the default bucket of tables and
 * the one the health check asks for), timeout_ms and the TLS options.
 * User mapping: access_key_id, secret_access_key, session_token (secrets
 * only there).  Health is a HEAD of the server's bucket, or a listing of
 * the buckets (GET /) when the server names none.
 */
#include "postgres.h"

#include "object_store.h"
#include "s3.h"

#define S3_DEFAULT_REGION "us-east-1"

static void check_region(const MeshOption *option, const char *value);

static const MeshOption s3_options[] = {
	{.name = "endpoint", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_URL, .min = 1,
	.check = mesh_object_check_endpoint},
	{.name = "region", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1,
	.check = check_region},
	{.name = "addressing", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_ENUM,
	.allowed = "path|virtual"},
	MESH_HTTP_TLS_OPTIONS,
	MESH_OBJECT_TABLE_OPTIONS("bucket", 1000),
	MESH_OBJECT_ROUTE_OPTIONS,
	{.name = "access_key_id", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "secret_access_key", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1},
	{.name = "session_token", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1},
	{NULL}
};

/* A region is a word: it goes into the signature's scope and a host name. */
static void
check_region(const MeshOption *option, const char *value)
{
	if (strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(value))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"region\": \"%s\"", value),
				 errhint("A region is lower-case letters, digits and dashes, e.g. us-east-1.")));
}

/* The server's endpoint URL without a trailing '/' (base_url hook; palloc only). */
static char *
s3_base_url(MeshServerConfig *config)
{
	const char *endpoint = mesh_config_get(config, "endpoint", NULL);
	size_t		len;

	if (endpoint == NULL)
		return psprintf("https://s3.%s.amazonaws.com",
						mesh_config_get(config, "region", S3_DEFAULT_REGION));
	len = strlen(endpoint);
	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	return pnstrdup(endpoint, len);
}

/*
 * Split the server's endpoint into ep; false when it is not
 * scheme://authority[/path] (options are checked at CREATE SERVER, so
 * only a hand-edited catalog gets there).  Only pallocs.
 */
bool
s3_endpoint_from_config(MeshServerConfig *config, S3Endpoint *ep)
{
	char	   *url = s3_base_url(config);
	char	   *sep = strstr(url, "://");
	char	   *slash;

	if (sep == NULL)
		return false;
	ep->scheme = pnstrdup(url, sep - url);
	ep->host = pstrdup(sep + 3);
	slash = strchr(ep->host, '/');
	ep->base_path = pstrdup(slash ? slash : "");
	if (slash)
		*slash = '\0';
	ep->region = pstrdup(mesh_config_get(config, "region", S3_DEFAULT_REGION));
	ep->virtual_hosted = strcmp(mesh_config_get(config, "addressing", "path"), "virtual") == 0;
	return ep->host[0] != '\0';
}

/* The user mapping's keys (NULL access_key_id: anonymous). */
void
s3_credentials_from_config(MeshServerConfig *config, S3Credentials *cred)
{
	cred->access_key_id = mesh_config_get(config, "access_key_id", NULL);
	cred->secret_access_key = mesh_config_get(config, "secret_access_key", NULL);
	cred->session_token = mesh_config_get(config, "session_token", NULL);
}

/* A user mapping gives both keys or neither; a session token needs them. */
static void
s3_validate(int place, List *options)
{
	bool		id = mesh_defelem_get(options, "access_key_id") != NULL;
	bool		secret = mesh_defelem_get(options, "secret_access_key") != NULL;
	bool		token = mesh_defelem_get(options, "session_token") != NULL;

	if (place != MESH_OPT_MAPPING)
		return;
	if (id != secret || (token && !id))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("an S3 user mapping needs both access_key_id and secret_access_key, or neither"),
				 errhint("Give the key pair (and session_token for temporary credentials), or no credentials for anonymous requests.")));
}

/* The connection: endpoint and keys parsed once (in its own memory context). */
static void
s3_open(void *conn, MeshServerConfig *config)
{
	S3Conn	   *sc = conn;

	if (!s3_endpoint_from_config(config, &sc->endpoint))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("server \"%s\" has no usable endpoint", config->servername)));
	s3_credentials_from_config(config, &sc->credentials);
	if (sc->credentials.access_key_id)
		sc->credentials.access_key_id = pstrdup(sc->credentials.access_key_id);
	if (sc->credentials.secret_access_key)
		sc->credentials.secret_access_key = pstrdup(sc->credentials.secret_access_key);
	if (sc->credentials.session_token)
		sc->credentials.session_token = pstrdup(sc->credentials.session_token);
}

/* Health: a signed HEAD of the server's bucket, or GET / without one. */
static void
s3_ping_request(MeshServerConfig *config, MeshHttpRequest *req)
{
	S3Endpoint	ep;
	S3Credentials cred;
	S3Request	r = {0};

	if (!s3_endpoint_from_config(config, &ep))
		return;					/* the plain GET of the base URL fails clearly */
	s3_credentials_from_config(config, &cred);
	r.bucket = mesh_config_get(config, "bucket", NULL);
	r.method = r.bucket ? "HEAD" : "GET";
	r.what = "a health check";
	s3_http_request(&ep, &cred, &r, req);
}

static const MeshHttpSetup s3_setup = {
	.kind_label = "S3",
	.ping_request = s3_ping_request,
	.base_url = s3_base_url,
	.version_header = "Server",
	.conn_size = sizeof(S3Conn),
	.open = s3_open,
};

const MeshConnector mesh_s3_connector = {
	.kind = "s3",
	.options = s3_options,
	.validate = s3_validate,
	.execute = mesh_object_execute,
	.http_setup = &s3_setup,
	.object_store = &s3_object_store,
	.scan = &mesh_object_scan_ops,
	.sink = &mesh_object_sink_ops,
	.fetch_rows = mesh_lake_fetch_rows,
	.scan_keys = mesh_lake_scan_keys,
};
