/*
 * neo4j.c: the Neo4j connector (HTTP transactional Cypher API): options,
 * the connection, requests and their errors, health, mesh.execute and
 * mesh.cypher.
 *
 * Every request is one POST to /db/<database>/tx/commit of
 *     {"statements": [{"statement": CYPHER, "parameters": {...}}, ...]}
 * run by Neo4j in one transaction.  Values are never spliced into Cypher:
 * they travel as parameters; the only names mesh puts into Cypher text
 * (labels, relationship types, property names) are backtick-quoted by
 * neo4j_append_ident.  Neo4j answers 200 even when a statement failed: the
 * answer's "errors" array says so; its code decides the SQLSTATE
 * (Neo.TransientError.* is class 08, retried by replication; security
 * errors 28000; the rest permanent) and its message goes to errdetail.
 */
#include "postgres.h"

#include "neo4j.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "json_typed.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_cypher);

static const MeshOption neo4j_options[] = {
	MESH_HTTP_OPTIONS,
	{.name = "database", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "label", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "property", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "element_id", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_BOOL},
	{.name = "relationships", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "batch_size", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 100000},
	{NULL}
};

/* The rest of a connection: the commit path of its database. */
static void
neo4j_open(void *conn, MeshServerConfig *config)
{
	((Neo4jConn *) conn)->commit_path =
		psprintf("/db/%s/tx/commit", mesh_http_escape(mesh_config_get(config, "database", "neo4j")));
}

static const MeshHttpSetup neo4j_setup = {
	.kind_label = "Neo4j",
	.default_url = "http://127.0.0.1:7474",
	.ping_path = "/",
	.ping_version_field = "neo4j_version",
	.conn_size = sizeof(Neo4jConn),
	.open = neo4j_open,
};


/* The SQLSTATE of a Neo4j status code ("Neo.ClientError.Statement.SyntaxError"). */
static int
neo4j_sqlstate(long status, const char *code)
{
	if (strncmp(code, "Neo.TransientError.", 19) == 0)
		return ERRCODE_CONNECTION_FAILURE;
	if (strncmp(code, "Neo.ClientError.Security.", 25) == 0 || status == 401 || status == 403)
		return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	if (strcmp(code, "Neo.ClientError.Statement.SyntaxError") == 0)
		return ERRCODE_SYNTAX_ERROR;
	if (strcmp(code, "Neo.ClientError.Database.DatabaseNotFound") == 0)
		return ERRCODE_INVALID_CATALOG_NAME;
	if (strcmp(code, "Neo.ClientError.Schema.ConstraintValidationFailed") == 0)
		return ERRCODE_UNIQUE_VIOLATION;
	if (code[0] == '\0' && (status == 429 || status >= 500))
		return ERRCODE_CONNECTION_FAILURE;	/* not Neo4j's own answer */
	return ERRCODE_FDW_ERROR;
}

/* Ereport Neo4j's first error (code, message) of the request what. */
static void
neo4j_raise(Neo4jConn *nc, long status, const char *code, const char *message, const char *what)
{
	int			sqlstate = neo4j_sqlstate(status, code);

	ereport(ERROR,
			(errcode(sqlstate),
			 status == 200 ?
			 errmsg("Neo4j server \"%s\" rejected %s: %s", nc->servername, what, code) :
			 errmsg("Neo4j server \"%s\" answered HTTP %ld to %s%s%s", nc->servername, status,
					what, code[0] ? ": " : "", code),
			 message[0] ? errdetail("%s", pnstrdup(message, 2000)) : 0,
			 sqlstate == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ?
			 errhint("Check the user and password in the user mapping for server \"%s\".",
					 nc->servername) : 0));
}

/*
 * Run statements in one transaction; returns the answer's "results" array
 * (one {"columns": [...], "data": [{"row": [...]}, ...]} per statement).
 * An error answer, or a 200 whose "errors" is not empty, ereports.
 */
json_t *
neo4j_run(Neo4jConn *nc, Neo4jStatement *stmts, int n, const char *what)
{
	StringInfoData body;
	MeshHttpRequest req = {0};
	MeshHttpResponse resp;
	json_t	   *doc,
			   *errors,
			   *results;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"statements\":[");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&body, ',');
		appendStringInfoString(&body, "{\"statement\":");
		mesh_json_append_string(&body, stmts[i].cypher, strlen(stmts[i].cypher));
		appendStringInfo(&body, ",\"parameters\":%s,\"resultDataContents\":[\"row\"]}",
						 stmts[i].params ? stmts[i].params : "{}");
	}
	appendStringInfoString(&body, "]}");
	req.method = "POST";
	req.path = nc->commit_path;
	req.body = body.data;
	req.body_len = body.len;
	req.content_type = "application/json";
	req.what = what;
	req.accept_error = true;
	mesh_http_request(nc->http, &req, &resp);
	pfree(body.data);
	if (resp.status < 200 || resp.status >= 300)
	{
		json_t	   *err = json_loads(resp.body.data, 0, NULL);
		json_t	   *first = err ? json_array_get(json_object_get(err, "errors"), 0) : NULL;
		json_t	   *code = first ? json_object_get(first, "code") : NULL;
		json_t	   *msg = first ? json_object_get(first, "message") : NULL;

		neo4j_raise(nc, resp.status, json_is_string(code) ? json_string_value(code) : "",
					json_is_string(msg) ? json_string_value(msg) : pnstrdup(resp.body.data, 500),
					what);
	}
	doc = mesh_json_parse(resp.body.data, resp.body.len, nc->servername, what);
	errors = mesh_json_get(doc, "errors", JSON_ARRAY, nc->servername, what);
	if (json_array_size(errors) > 0)
	{
		json_t	   *first = json_array_get(errors, 0);
		json_t	   *code = json_object_get(first, "code");
		json_t	   *msg = json_object_get(first, "message");

		neo4j_raise(nc, resp.status, json_is_string(code) ? json_string_value(code) : "Neo.Unknown",
					json_is_string(msg) ? json_string_value(msg) : "", what);
	}
	results = mesh_json_get(doc, "results", JSON_ARRAY, nc->servername, what);
	if ((int) json_array_size(results) != n)
		mesh_json_malformed(nc->servername, what,
							psprintf("The reply has %d results for %d statements.",
									 (int) json_array_size(results), n));
	for (int i = 0; i < n; i++)
	{
		json_t	   *r = json_array_get(results, i);

		mesh_json_get(r, "columns", JSON_ARRAY, nc->servername, what);
		mesh_json_get(r, "data", JSON_ARRAY, nc->servername, what);
	}
	pfree(resp.body.data);
	return results;
}

/*
 * Append name as a Cypher identifier: in backticks, a backtick doubled, so
 * any name (spaces, quotes, unicode) is one identifier.  neo4j_check_name
 * has refused what Neo4j cannot store (empty, NUL).
 */
void
neo4j_append_ident(StringInfo buf, const char *name)
{
	appendStringInfoChar(buf, '`');
	for (const char *p = name; *p; p++)
	{
		if (*p == '`')
			appendStringInfoChar(buf, '`');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '`');
}

/* Error unless name can be a label, relationship type or property name. */
void
neo4j_check_name(const char *what, const char *name)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > 16383)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Neo4j %s: \"%s\"", what, name ? name : ""),
				 errdetail("Allowed: a non-empty name of at most 16383 bytes (any characters; mesh quotes it with backticks).")));
}

/* A result value as PostgreSQL-ready text (NULL for null). */
char *
neo4j_value_text(json_t *value)
{
	if (json_is_object(value) || json_is_array(value))
		return json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	return mesh_json_scalar_text(value);
}

/* The text of params (a JSON object) for a request; errors otherwise. */
static char *
params_text(Jsonb *params)
{
	if (params == NULL)
		return NULL;
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Cypher parameters must be a JSON object"),
				 errhint("For example: '{\"name\": \"Ann\"}', used as $name in the query.")));
	return JsonbToCString(NULL, &params->root, VARSIZE(params));
}

/*
 * mesh.execute and mesh.cypher: one Cypher statement, its parameters
 * passed as Cypher parameters; one jsonb object per row, keyed by column.
 */
static List *
neo4j_execute(void *conn, const char *request, Jsonb *params)
{
	Neo4jConn  *nc = conn;
	Neo4jStatement st = {request, params_text(params)};
	json_t	   *result = json_array_get(neo4j_run(nc, &st, 1, "a Cypher query"), 0);
	json_t	   *columns = json_object_get(result, "columns");
	json_t	   *data = json_object_get(result, "data");
	List	   *rows = NIL;
	size_t		i;
	json_t	   *item;

	json_array_foreach(data, i, item)
	{
		json_t	   *row = json_is_object(item) ? json_object_get(item, "row") : NULL;
		json_t	   *obj = json_object();

		if (!json_is_array(row) || json_array_size(row) != json_array_size(columns))
			mesh_json_malformed(nc->servername, "a Cypher query",
								"A row is not an array of one value per column.");
		for (size_t c = 0; c < json_array_size(columns); c++)
		{
			json_t	   *name = json_array_get(columns, c);

			if (!json_is_string(name))
				mesh_json_malformed(nc->servername, "a Cypher query", "A column name is not a string.");
			json_object_set(obj, json_string_value(name), json_array_get(row, c));
		}
		rows = lappend(rows, mesh_json_to_jsonb(obj));
	}
	return rows;
}

/* mesh.cypher(server, query, params): see neo4j_execute. */
Datum
mesh_cypher(PG_FUNCTION_ARGS)
{
	char	   *server;
	MeshServerConfig *config;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *rows;
	ListCell   *lc;
	void	   *conn;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mesh.cypher needs a server and a query")));
	server = NameStr(*PG_GETARG_NAME(0));
	config = mesh_server_config_by_name(server);
	if (config->connector != &mesh_neo4j_connector)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("server \"%s\" does not answer Cypher", server),
				 errdetail("Its kind is %s.", config->connector->kind),
				 errhint("Use a server of mesh_neo4j.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC | MAT_SRF_BLESS);
	conn = mesh_get_connection(config);
	mesh_connection_begin_use(config);
	rows = neo4j_execute(conn, text_to_cstring(PG_GETARG_TEXT_PP(1)),
						 PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2));
	mesh_connection_end_use(config);
	foreach(lc, rows)
	{
		Datum		value = JsonbPGetDatum(lfirst(lc));
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

static const MeshScanOps neo4j_scan = {
	.plan_scan = neo4j_plan_scan,
	.begin_scan = neo4j_begin_scan,
	.next_row = neo4j_next_row,
	.end_scan = neo4j_end_scan,
	.explain_scan = neo4j_explain_scan,
	.plan_upper = neo4j_plan_upper,
};

const MeshConnector mesh_neo4j_connector = {
	.kind = "neo4j",
	.options = neo4j_options,
	.execute = neo4j_execute,
	.http_setup = &neo4j_setup,
	.scan = &neo4j_scan,
	.sink = &neo4j_sink_ops,
	.fetch_rows = neo4j_fetch_rows,
	.scan_keys = neo4j_scan_keys,
};
