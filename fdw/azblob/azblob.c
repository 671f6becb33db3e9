/*
 * azblob.c: the Azure Blob Storage connector: options, connection,
 * health.  Contract-tested against Azurite 3.37.0, which checks SharedKey
 * signatures and SAS tokens.
 *
 * Server options: account (the storage account), endpoint (default
 * https://<account>.blob.core.windows.net; Azurite's path-style endpoint is
 * http://127.0.0.1:PORT/<account>), container (the default container of
 * tables and the one the health check asks for), timeout_ms and the TLS
 * options.  User mapping: account_key (SharedKey) or sas_token (secrets,
 * only there); neither: anonymous requests.  Health is Get Container
 * Properties of the server's container, or List Containers without one.
 */
#include "postgres.h"

#include "object_store.h"
#include "azblob.h"

static void check_account(const MeshOption *option, const char *value);
static void check_account_key(const MeshOption *option, const char *value);
static void check_sas_token(const MeshOption *option, const char *value);

static const MeshOption azblob_options[] = {
	{.name = "endpoint", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_URL, .min = 1,
	.check = mesh_object_check_endpoint},
	{.name = "account", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1,
	.check = check_account},
	MESH_HTTP_TLS_OPTIONS,
	MESH_OBJECT_TABLE_OPTIONS("container", 5000),
	MESH_OBJECT_ROUTE_OPTIONS,
	{.name = "account_key", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1, .check = check_account_key},
	{.name = "sas_token", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true, .min = 1, .check = check_sas_token},
	{NULL}
};

/* An account name is 3 to 24 lower-case letters and digits (it goes into a host name). */
static void
check_account(const MeshOption *option, const char *value)
{
	size_t		len = strlen(value);

	if (len < 3 || len > 24 || strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789") != len)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"account\": \"%s\"", value),
				 errhint("A storage account name is 3 to 24 lower-case letters and digits.")));
}

/* The account key is base64 (its value is never shown). */
static void
check_account_key(const MeshOption *option, const char *value)
{
	unsigned char *key;
	int			len;

	if (!azblob_decode_key(value, &key, &len))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"account_key\": not base64"),
				 errhint("Give the storage account's access key as the portal or the CLI shows it.")));
	explicit_bzero(key, len);
}

/*
 * A SAS token is a query string (a leading '?' allowed): URL-safe
 * characters only, so it can be appended as it is.  Its value is never shown.
 */
static void
check_sas_token(const MeshOption *option, const char *value)
{
	const char *v = value[0] == '?' ? value + 1 : value;

	if (v[0] == '\0' || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
							   "0123456789-_.~%&=+:,") != strlen(v) || strstr(v, "sig=") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"sas_token\": not a SAS query string"),
				 errhint("Give the token as the portal shows it, e.g. sv=...&sp=rl&sig=... (URL-encoded).")));
}

/* The server's endpoint URL without a trailing '/' (base_url hook; palloc only). */
static char *
azblob_base_url(MeshServerConfig *config)
{
	const char *endpoint = mesh_config_get(config, "endpoint", NULL);
	size_t		len;

	if (endpoint == NULL)
		return psprintf("https://%s.blob.core.windows.net",
						mesh_config_get(config, "account", "account"));
	len = strlen(endpoint);
	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	return pnstrdup(endpoint, len);
}

/*
 * The target of config's requests; false when the endpoint is not
 * scheme://authority[/path] (options are checked at CREATE SERVER, so only
 * a hand-edited catalog gets there).  Only pallocs; the secrets are the
 * config's strings.
 */
bool
azblob_target_from_config(MeshServerConfig *config, AzblobTarget *target)
{
	const char *sep;
	const char *slash;
	const char *sas;

	target->base_url = azblob_base_url(config);
	sep = strstr(target->base_url, "://");
	if (sep == NULL || sep[3] == '\0')
		return false;
	slash = strchr(sep + 3, '/');
	target->base_path = slash ? slash : "";
	target->account = mesh_config_get(config, "account", NULL);
	target->account_key = mesh_config_get(config, "account_key", NULL);
	sas = mesh_config_get(config, "sas_token", NULL);
	target->sas_token = sas && sas[0] == '?' ? sas + 1 : sas;
	return true;
}

/*
 * A server names its account; a user mapping gives an account key or a
 * SAS token, not both.
 */
static void
azblob_validate(int place, List *options)
{
	if (place == MESH_OPT_SERVER && mesh_defelem_get(options, "account") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("an Azure Blob server needs the option account"),
				 errhint("Name the storage account, e.g. OPTIONS (account 'myaccount'); Azurite's is devstoreaccount1.")));
	if (place == MESH_OPT_MAPPING && mesh_defelem_get(options, "account_key") != NULL &&
		mesh_defelem_get(options, "sas_token") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("an Azure Blob user mapping gives account_key or sas_token, not both"),
				 errhint("account_key signs every request (SharedKey); a SAS token is sent instead of a signature.")));
}

/* The connection: the target parsed once (in its own memory context). */
static void
azblob_open(void *conn, MeshServerConfig *config)
{
	AzblobConn *ac = conn;
	AzblobTarget *t = &ac->target;

	if (!azblob_target_from_config(config, t))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("server \"%s\" has no usable endpoint", config->servername)));
	t->base_path = pstrdup(t->base_path);
	if (t->account)
		t->account = pstrdup(t->account);
	if (t->account_key)
		t->account_key = pstrdup(t->account_key);
	if (t->sas_token)
		t->sas_token = pstrdup(t->sas_token);
}

/* Health: Get Container Properties of the server's container, or List Containers. */
static void
azblob_ping_request(MeshServerConfig *config, MeshHttpRequest *req)
{
	AzblobTarget target;
	AzblobParam container_params[] = {{"restype", "container"}};
	AzblobParam account_params[] = {{"comp", "list"}, {"maxresults", "1"}};
	AzblobRequest r = {.what = "a health check"};

	if (!azblob_target_from_config(config, &target))
		return;					/* the plain GET of the base URL fails clearly */
	r.container = mesh_config_get(config, "container", NULL);
	r.method = r.container ? "HEAD" : "GET";
	r.params = r.container ? container_params : account_params;
	r.nparams = r.container ? lengthof(container_params) : lengthof(account_params);
	azblob_http_request(&target, &r, req);
}

static const MeshHttpSetup azblob_setup = {
	.kind_label = "Azure Blob",
	.ping_request = azblob_ping_request,
	.base_url = azblob_base_url,
	.version_header = "Server",
	.conn_size = sizeof(AzblobConn),
	.open = azblob_open,
};

const MeshConnector mesh_azblob_connector = {
	.kind = "azblob",
	.options = azblob_options,
	.validate = azblob_validate,
	.http_setup = &azblob_setup,
	.object_store = &azblob_object_store,
	.scan = &mesh_object_scan_ops,
	.sink = &mesh_object_sink_ops,
	.fetch_rows = mesh_lake_fetch_rows,
	.scan_keys = mesh_lake_scan_keys,
};
