/*
 * mongodb.c: the MongoDB connector (mongo-c-driver): options and their
 * validation, the URI (credentials set through the API, never printed),
 * connection, errors, handle ownership and the table layout.
 *
 * Every call is bounded by timeout_ms: it is the URI's connectTimeoutMS,
 * serverSelectionTimeoutMS and socketTimeoutMS.  The single-threaded
 * client starts no thread of its own.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "mongodb_internal.h"

static void check_uri_option(const MeshOption *option, const char *value);
static void check_collection_option(const MeshOption *option, const char *value);

static const MeshOption mongo_options[] = {
	{.name = "uri", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1,
	.check = check_uri_option},
	{.name = "host", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "port", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 65535},
	{.name = "database", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "auth_source", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "auth_mechanism", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_ENUM,
	.allowed = "SCRAM-SHA-1|SCRAM-SHA-256|PLAIN"},
	{.name = "numeric_as", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_ENUM,
	.allowed = "decimal128|string"},
	{.name = "tls", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_BOOL},
	{.name = "tls_ca_file", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "tls_certificate_key_file", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "tls_allow_invalid_certificates", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_BOOL},
	{.name = "tls_allow_invalid_hostnames", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_BOOL},
	{.name = "user", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "password", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true},
	{.name = "collection", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1, .check = check_collection_option},
	{.name = "write_mode", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_ENUM,
	.allowed = "replace|delete_insert"},
	{.name = "field", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "document", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_BOOL},
	{NULL}
};

static bool mongo_initialized = false;

/* mongoc's own log lines would go to stderr: mesh reports errors itself. */
static void
quiet_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
}

static void
mongo_init_once(void)
{
	if (mongo_initialized)
		return;
	mongoc_init();
	mongoc_log_set_handler(quiet_log, NULL);
	mongo_initialized = true;
}

/* ---------------------------------------------------------------- ownership */

static void
owned_callback(void *arg)
{
	MongoOwned *o = arg;

	if (o->ptr)
		o->destroy(o->ptr);
	o->ptr = NULL;
}

/* Make CurrentMemoryContext own ptr: its reset calls destroy(ptr). */
MongoOwned *
mongo_own(void *ptr, void (*destroy) (void *))
{
	MongoOwned *o = palloc0(sizeof(MongoOwned));

	o->ptr = ptr;
	o->destroy = destroy;
	o->cb.func = owned_callback;
	o->cb.arg = o;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &o->cb);
	return o;
}

/* Free an owned handle now (the context's callback then does nothing). */
void
mongo_release(MongoOwned *owned)
{
	if (owned && owned->ptr)
	{
		owned->destroy(owned->ptr);
		owned->ptr = NULL;
	}
}

static void
destroy_bson(void *p)
{
	bson_destroy(p);
}

/* An empty document owned by CurrentMemoryContext. */
bson_t *
mongo_bson_new(void)
{
	bson_t	   *b = bson_new();

	mongo_own(b, destroy_bson);
	return b;
}

static void
destroy_collection(void *p)
{
	mongoc_collection_destroy(p);
}

/* A collection handle of the connection's database, owned by the context. */
mongoc_collection_t *
mongo_collection(MongoConn *mc, const char *name)
{
	mongoc_collection_t *c = mongoc_client_get_collection(mc->client, mc->database, name);

	mongo_own(c, destroy_collection);
	return c;
}

/* ---------------------------------------------------------------- errors */

/* Server error codes that a retry may cure (shutdown, step-down, network). */
bool
mongo_transient_code(uint32 code)
{
	switch (code)
	{
		case 6:				/* HostUnreachable */
		case 7:				/* HostNotFound */
		case 89:				/* NetworkTimeout */
		case 91:				/* ShutdownInProgress */
		case 189:				/* PrimarySteppedDown */
		case 262:				/* ExceededTimeLimit */
		case 9001:				/* SocketException */
		case 10107:			/* NotWritablePrimary */
		case 11600:			/* InterruptedAtShutdown */
		case 11602:			/* InterruptedDueToReplStateChange */
		case 13435:			/* NotPrimaryNoSecondaryOk */
			return true;
	}
	return false;
}

/*
 * Ereport a driver or server error: connection trouble is 08006 (retried
 * by replication), authentication 28000, the rest HV000 with the server's
 * message in errdetail.
 */
void
mongo_raise(MongoConn *mc, const bson_error_t *err, const char *what)
{
	if (err->domain == MONGOC_ERROR_SERVER_SELECTION || err->domain == MONGOC_ERROR_STREAM ||
		(err->domain == MONGOC_ERROR_SERVER && mongo_transient_code(err->code)))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not reach MongoDB server \"%s\" (%s) during %s",
						mc->servername, mc->hosts, what),
				 errdetail("%s", err->message),
				 errhint("Check that the server runs and accepts this client (tls options); every call waits at most timeout_ms (%d ms).",
						 mc->timeout_ms)));
	if (err->domain == MONGOC_ERROR_CLIENT && err->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("MongoDB server \"%s\" rejected the credentials of the user mapping",
						mc->servername),
				 errdetail("%s", err->message)));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("MongoDB server \"%s\" failed %s", mc->servername, what),
			 errdetail("%s (error %u)", err->message, err->code)));
}

/* Connection loss and timeouts are worth a retry; the rest is permanent. */
static MeshErrorClass
mongo_classify_error(int code, const char *message)
{
	if (code == ERRCODE_CONNECTION_FAILURE)
		return MESH_ERROR_TRANSIENT;
	return MESH_ERROR_PERMANENT;
}

/* ---------------------------------------------------------------- URI */

static void
uri_error(const char *option, const char *value, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\" of mongodb: \"%s\"", option, value),
			 errdetail("%s", detail),
			 errhint("Use a URI such as mongodb://host:27017/ and put user and password in a user mapping.")));
}

/* Parse the uri option; errors name it. */
static mongoc_uri_t *
parse_uri(const char *text)
{
	bson_error_t err;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(text, &err);

	if (uri == NULL)
		uri_error("uri", text, err.message);
	if (mongoc_uri_get_username(uri) != NULL || mongoc_uri_get_password(uri) != NULL)
	{
		mongoc_uri_destroy(uri);
		/* never echo a URI holding a password */
		uri_error("uri", "(redacted)", "The URI holds credentials; secrets belong in a user mapping.");
	}
	return uri;
}

static void
set_bool_option(mongoc_uri_t *uri, MeshServerConfig *config, const char *option,
				const char *uri_option)
{
	const char *v = mesh_config_get(config, option, NULL);
	bool		b;

	if (v && parse_bool(v, &b))
		mongoc_uri_set_option_as_bool(uri, uri_option, b);
}

static void
set_string_option(mongoc_uri_t *uri, MeshServerConfig *config, const char *option,
				  const char *uri_option)
{
	const char *v = mesh_config_get(config, option, NULL);

	if (v)
		mongoc_uri_set_option_as_utf8(uri, uri_option, v);
}

/*
 * The server's URI with options and timeouts.  *display receives a palloc'd
 * text without credentials (the hosts); credentials are set on the object
 * only when with_credentials.  The caller destroys the result.
 */
mongoc_uri_t *
mongo_build_uri(MeshServerConfig *config, bool with_credentials, char **display)
{
	const char *text = mesh_config_get(config, "uri", NULL);
	const char *host = mesh_config_get(config, "host", NULL);
	int			port = mesh_config_get_int(config, "port", 27017);
	int			t = config->timeout_ms;
	mongoc_uri_t *uri;
	StringInfoData hosts;

	mongo_init_once();
	if (text && (host || mesh_config_get(config, "port", NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("MongoDB server \"%s\" has both uri and host/port options",
						config->servername),
				 errhint("Use either uri or host and port.")));
	if (text)
		uri = parse_uri(text);
	else
	{
		uri = mongoc_uri_new_for_host_port(host ? host : "127.0.0.1", port);
		if (uri == NULL)
			uri_error("host", host ? host : "127.0.0.1", "Not a valid host name.");
	}
	initStringInfo(&hosts);
	for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri); h; h = h->next)
		appendStringInfo(&hosts, "%s%s", hosts.len ? "," : "", h->host_and_port);
	if (hosts.len == 0)
		appendStringInfoString(&hosts, mongoc_uri_get_srv_hostname(uri) ?
							   mongoc_uri_get_srv_hostname(uri) : "?");
	*display = hosts.data;
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, t);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, t);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, t);
	set_bool_option(uri, config, "tls", MONGOC_URI_TLS);
	set_string_option(uri, config, "tls_ca_file", MONGOC_URI_TLSCAFILE);
	set_string_option(uri, config, "tls_certificate_key_file", MONGOC_URI_TLSCERTIFICATEKEYFILE);
	set_bool_option(uri, config, "tls_allow_invalid_certificates",
					MONGOC_URI_TLSALLOWINVALIDCERTIFICATES);
	set_bool_option(uri, config, "tls_allow_invalid_hostnames",
					MONGOC_URI_TLSALLOWINVALIDHOSTNAMES);
	set_string_option(uri, config, "auth_source", MONGOC_URI_AUTHSOURCE);
	/* as in a URI, the credentials live in the database named, by default */
	if (mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_AUTHSOURCE, NULL) == NULL &&
		mongoc_uri_get_database(uri) == NULL && mesh_config_get(config, "database", NULL))
		mongoc_uri_set_auth_source(uri, mesh_config_get(config, "database", NULL));
	set_string_option(uri, config, "auth_mechanism", MONGOC_URI_AUTHMECHANISM);
	mongoc_uri_set_appname(uri, "mesh");
	if (with_credentials)
	{
		const char *user = mesh_config_get(config, "user", NULL);
		const char *password = mesh_config_get(config, "password", NULL);

		if (password && !user)
		{
			mongoc_uri_destroy(uri);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("the user mapping for MongoDB server \"%s\" has a password but no user",
							config->servername),
					 errhint("Add option user to the user mapping.")));
		}
		if (user)
			mongoc_uri_set_username(uri, user);
		if (password)
			mongoc_uri_set_password(uri, password);
	}
	return uri;
}

/* ---------------------------------------------------------------- connection */

static void
mongo_disconnect(void *conn)
{
	MongoConn  *mc = conn;

	if (mc->client)
		mongoc_client_destroy(mc->client);
	pfree(mc->servername);
	pfree(mc->database);
	pfree(mc->hosts);
	pfree(mc);
}

static void
destroy_uri(void *p)
{
	mongoc_uri_destroy(p);
}

/*
 * A client for the server; the driver connects lazily, so the first
 * command (a ping) proves the server and the credentials now.
 */
static void *
mongo_connect(MeshServerConfig *config)
{
	MongoConn  *mc = MemoryContextAllocZero(TopMemoryContext, sizeof(MongoConn));
	char	   *display;
	mongoc_uri_t *uri;
	const char *database;
	bson_t		ping = BSON_INITIALIZER;
	bson_t		reply;
	bson_error_t err;

	mc->servername = MemoryContextStrdup(TopMemoryContext, config->servername);
	mc->timeout_ms = config->timeout_ms;
	if (strcmp(mesh_config_get(config, "numeric_as", "decimal128"), "string") == 0)
		mc->write_flags |= MONGO_NUMERIC_STRING;
	PG_TRY();
	{
		uri = mongo_build_uri(config, true, &display);
		mongo_own(uri, destroy_uri);
		mc->hosts = MemoryContextStrdup(TopMemoryContext, display);
		database = mesh_config_get(config, "database", mongoc_uri_get_database(uri));
		if (database == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("MongoDB server \"%s\" names no database", config->servername),
					 errhint("Add option database to the server, or a database to its uri.")));
		mc->database = MemoryContextStrdup(TopMemoryContext, database);
		mc->client = mongoc_client_new_from_uri_with_error(uri, &err);
		if (mc->client == NULL)
			uri_error("uri", display, err.message);
		mongoc_client_set_error_api(mc->client, MONGOC_ERROR_API_VERSION_2);
		/* buildInfo answers like a ping, and tells FerretDB apart */
		BSON_APPEND_INT32(&ping, "buildInfo", 1);
		if (!mongoc_client_command_simple(mc->client, mc->database, &ping, NULL, &reply, &err))
		{
			bson_destroy(&reply);
			mongo_raise(mc, &err, "the connection setup");
		}
		mc->ferretdb = bson_has_field(&reply, "ferretdbVersion");
		bson_destroy(&reply);
	}
	PG_CATCH();
	{
		mc->servername = mc->servername ? mc->servername : pstrdup("");
		mc->database = mc->database ? mc->database : pstrdup("");
		mc->hosts = mc->hosts ? mc->hosts : pstrdup("");
		mongo_disconnect(mc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return mc;
}

/* ---------------------------------------------------------------- validator */

/*
 * Errors unless a collection name is usable: not empty, no '$', no NUL,
 * not a system collection.  Returns name.
 */
char *
mongo_check_collection_name(const char *name, const char *option)
{
	if (name[0] == '\0' || strchr(name, '$') != NULL || strncmp(name, "system.", 7) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\" of mongodb: \"%s\"", option, name),
				 errdetail("Allowed: a collection name without \"$\" that does not begin with \"system.\".")));
	return (char *) name;
}

/* Option check of uri: it parses and holds no credentials. */
static void
check_uri_option(const MeshOption *option, const char *value)
{
	mongo_init_once();
	mongoc_uri_destroy(parse_uri(value));
}

/* Option check of collection: a usable collection name. */
static void
check_collection_option(const MeshOption *option, const char *value)
{
	mongo_check_collection_name(value, option->name);
}

/* ---------------------------------------------------------------- layout */

/*
 * The table's mapping (cached with the table): each column reads the
 * top-level field of its name, or the dotted path of its option field; the
 * jsonb column with option document 'true' receives the whole document.
 */
MongoLayout *
mongo_layout(MeshTable *table)
{
	MongoLayout *l;
	MemoryContext old = CurrentMemoryContext;

	if (table->private)
		return table->private;
	if (table->cxt)
		MemoryContextSwitchTo(table->cxt);
	l = palloc0(sizeof(MongoLayout));
	l->collection = mesh_defelem_get(table->options, "collection");
	if (l->collection == NULL)
		l->collection = pstrdup(table->relname);
	l->paths = palloc0(sizeof(char *) * Max(table->ncolumns, 1));
	l->dotted = palloc0(sizeof(bool) * Max(table->ncolumns, 1));
	l->pushable = palloc0(sizeof(bool) * Max(table->ncolumns, 1));
	for (int i = 0; i < table->ncolumns; i++)
	{
		MeshColumn *col = &table->columns[i];
		const char *field;
		const char *doc;
		bool		b;

		if (col->name == NULL)
			continue;
		field = mesh_column_option(col, "field");
		doc = mesh_column_option(col, "document");
		if (doc && parse_bool(doc, &b) && b)
		{
			if (col->typid != JSONBOID && col->typid != JSONOID && col->typid != TEXTOID)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("column \"%s\" with option document must be jsonb, json or text",
								col->name)));
			l->doc_att = col->attnum;
			continue;
		}
		l->paths[i] = field ? field : col->name;
		l->dotted[i] = field != NULL && strchr(field, '.') != NULL;
		/* a literal key with '.' or a leading '$' cannot be addressed by a query */
		l->pushable[i] = l->paths[i][0] != '$' &&
			(l->dotted[i] || strchr(l->paths[i], '.') == NULL);
		if (l->dotted[i])
			for (const char *p = field; *p; p++)
				if (*p == '.' && (p == field || p[1] == '.' || p[1] == '\0'))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"field\" of column \"%s\": \"%s\"",
									col->name, field),
							 errdetail("A dotted path needs a name between every two dots.")));
		if (strcmp(l->paths[i], "_id") == 0)
			l->id_att = col->attnum;
	}
	if (table->cxt)
		table->private = l;
	MemoryContextSwitchTo(old);
	return l;
}

static const MeshPingOps mongodb_ping = {
	.ping_start = mongo_ping_start,
	.ping_continue = mongo_ping_continue,
	.ping_finish = mongo_ping_finish,
};

static const MeshScanOps mongodb_scan = {
	.plan_scan = mongo_plan_scan,
	.begin_scan = mongo_begin_scan,
	.next_row = mongo_next_row,
	.end_scan = mongo_end_scan,
	.explain_scan = mongo_explain_scan,
	.plan_upper = mongo_plan_upper,
};

static const MeshModifyOps mongodb_modify = {
	.row_identity = mongo_row_identity,
	.begin_modify = mongo_begin_modify,
	.modify_row = mongo_modify_row,
	.end_modify = mongo_end_modify,
};

const MeshConnector mesh_mongodb_connector = {
	.kind = "mongodb",
	.options = mongo_options,
	.connect = mongo_connect,
	.disconnect = mongo_disconnect,
	.execute = mongo_execute,
	.ping = &mongodb_ping,
	.scan = &mongodb_scan,
	.modify = &mongodb_modify,
	.sink = &mongo_sink_ops,
	.fetch_rows = mongo_fetch_rows,
	.scan_keys = mongo_scan_keys,
	.classify_error = mongo_classify_error,
};
