/*
 * gcs.c: the Google Cloud Storage connector: options, connection, health.
 * Contract-tested against fake-gcs-server v1.56.1 (which ignores
 * credentials); the OAuth2 JWT grant against a token-endpoint stand-in.
 *
 * Server options: endpoint (default https://storage.googleapis.com, TLS
 * verified unless tls_verify is false), bucket (the default bucket of
 * tables and the one the health check asks for), token_uri (replaces the
 * service account key's), timeout_ms and the TLS options.  User mapping:
 * access_token or service_account_json (secrets, only there).  Health
 * (gcs_ping.c) is a GET of the server's bucket's metadata, after a grant
 * when the mapping has a service account.
 */
#include "postgres.h"

#include "gcs.h"
#include "object_store.h"


static const MeshOption gcs_options[] = {
	{.name = "endpoint", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_URL, .min = 1,
	.check = mesh_object_check_endpoint},
	{.name = "token_uri", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_URL, .min = 1},
	MESH_HTTP_TLS_OPTIONS,
	MESH_OBJECT_TABLE_OPTIONS("bucket", 1000),
	MESH_OBJECT_ROUTE_OPTIONS,
	{.name = "access_token", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1},
	{.name = "service_account_json", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1},
	{NULL}
};

/* The server's endpoint without a trailing '/' (base_url hook; palloc only). */
char *
gcs_base_url(MeshServerConfig *config)
{
	const char *endpoint = mesh_config_get(config, "endpoint", GCS_DEFAULT_ENDPOINT);
	size_t		len = strlen(endpoint);

	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	return pnstrdup(endpoint, len);
}

/*
 * A user mapping gives one kind of credential or none; a service account's
 * key must be one (its content is never quoted).
 */
static void
gcs_validate(int place, List *options)
{
	const char *token = mesh_defelem_get(options, "access_token");
	const char *json = mesh_defelem_get(options, "service_account_json");
	char	   *why = NULL;

	if (place != MESH_OPT_MAPPING)
		return;
	if (token && json)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("a GCS user mapping gives access_token or service_account_json, not both"),
				 errhint("Give a service account's JSON key, a static OAuth2 access token, or neither for anonymous requests.")));
	if (json && gcs_parse_account(json, NULL, &why) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"service_account_json\" is not a service account key"),
				 errdetail("%s", why),
				 errhint("Give the content of the service account's JSON key file (type \"service_account\", with client_email and private_key).")));
}

/* The connection: endpoint and credentials, once (in its own memory context). */
static void
gcs_open(void *c, MeshServerConfig *config)
{
	GcsConn    *conn = c;
	const char *token = mesh_config_get(config, "access_token", NULL);
	const char *json = mesh_config_get(config, "service_account_json", NULL);
	char	   *why = NULL;

	conn->base = gcs_base_url(config);
	conn->access_token = token ? pstrdup(token) : NULL;
	if (json)
	{
		conn->account = gcs_parse_account(json, mesh_config_get(config, "token_uri", NULL), &why);
		if (conn->account == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"service_account_json\" of the user mapping for server \"%s\" is not a service account key",
							config->servername),
					 errdetail("%s", why)));
	}
}

static const MeshHttpSetup gcs_setup = {
	.kind_label = "GCS",
	.default_url = GCS_DEFAULT_ENDPOINT,
	.base_url = gcs_base_url,
	.conn_size = sizeof(GcsConn),
	.open = gcs_open,
};

const MeshConnector mesh_gcs_connector = {
	.kind = "gcs",
	.options = gcs_options,
	.validate = gcs_validate,
	.http_setup = &gcs_setup,
	.ping = &gcs_ping_ops,
	.object_store = &gcs_object_store,
	.scan = &mesh_object_scan_ops,
	.sink = &mesh_object_sink_ops,
	.fetch_rows = mesh_lake_fetch_rows,
	.scan_keys = mesh_lake_scan_keys,
};
