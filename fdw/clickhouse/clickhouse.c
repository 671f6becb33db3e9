/*
 * clickhouse.c: the ClickHouse connector (HTTP interface): options, the
 * connection, requests and their errors, health.
 *
 * Every request is a POST of SQL (or, for inserts, of RowBinary data with
 * the INSERT statement in the URL) to the shared HTTP client.  The server's
 * database goes in the database= URL parameter; ClickHouse 18.16 ignores
 * the X-ClickHouse-* headers, so nothing travels in headers but basic auth.
 * An error answer carries "Code: N, ... DB::Exception: message": the code
 * decides the SQLSTATE (so replication retries what can heal and
 * dead-letters what cannot), the message goes to errdetail.
 */
#include "postgres.h"

#include "json_value.h"
#include "utils/memutils.h"

#include "clickhouse_internal.h"

static const MeshOption ch_options[] = {
	MESH_HTTP_OPTIONS,
	{.name = "database", .where = MESH_OPT_SERVER | MESH_OPT_TABLE | MESH_OPT_ROUTE,
	.type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "table", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "column_name", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "add_columns", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_BOOL},
	{.name = "batch_size", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 10000000},
	{NULL}
};

/* The version from the body of "SELECT version()": digits and dots only. */
static char *
ch_ping_version(const char *body)
{
	size_t		len = strcspn(body, "\r\n");

	if (len == 0 || len > 64 || strspn(body, "0123456789.") != len)
		return NULL;
	return pnstrdup(body, len);
}

/* The rest of a connection: the server's database and compression. */
static void
ch_open(void *conn, MeshServerConfig *config)
{
	ChConn	   *cc = conn;

	cc->database = pstrdup(mesh_config_get(config, "database", "default"));
	cc->gzip = strcmp(mesh_config_get(config, "gzip", "false"), "true") == 0;
}

static const MeshHttpSetup ch_setup = {
	.kind_label = "ClickHouse",
	.default_url = "http://127.0.0.1:8123",
	.ping_path = "/?query=SELECT%20version()",
	.ping_version = ch_ping_version,
	.conn_size = sizeof(ChConn),
	.open = ch_open,
};


/* The ClickHouse error code at the start of an error body, or 0. */
static int
ch_error_code(const char *body)
{
	if (body && strncmp(body, "Code: ", 6) == 0)
		return atoi(body + 6);
	return 0;
}

/*
 * An error body made readable: "Code: 60, e.displayText() = DB::Exception:
 * Table x doesn't exist., e.what() = DB::Exception" (18.16) becomes
 * "Code: 60. DB::Exception: Table x doesn't exist."; newer servers' text
 * passes unchanged.  At most 2000 bytes.
 */
char *
ch_error_text(const char *body)
{
	StringInfoData buf;
	const char *p = body ? body : "";
	const char *mark = ", e.displayText() = ";
	const char *tail = ", e.what() = ";
	char	   *s;
	size_t		len;

	initStringInfo(&buf);
	s = strstr(p, mark);
	if (s != NULL)
	{
		appendBinaryStringInfo(&buf, p, s - p);
		appendStringInfoString(&buf, ". ");
		p = s + strlen(mark);
	}
	s = strstr(p, tail);
	appendBinaryStringInfo(&buf, p, s ? (size_t) (s - p) : strlen(p));
	len = buf.len;
	while (len > 0 && (buf.data[len - 1] == '\n' || buf.data[len - 1] == ' ' ||
					   buf.data[len - 1] == '\r'))
		len--;
	return pnstrdup(buf.data, Min(len, 2000));
}

/* The SQLSTATE for a ClickHouse error: see the file comment. */
static int
ch_sqlstate(long status, int code)
{
	switch (code)
	{
		case 192:				/* UNKNOWN_USER */
		case 193:				/* WRONG_PASSWORD */
		case 194:				/* REQUIRED_PASSWORD */
		case 516:				/* AUTHENTICATION_FAILED */
			return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		case 164:				/* READONLY */
		case 497:				/* ACCESS_DENIED */
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case 60:				/* UNKNOWN_TABLE */
			return ERRCODE_UNDEFINED_TABLE;
		case 81:				/* UNKNOWN_DATABASE */
			return ERRCODE_INVALID_CATALOG_NAME;
		case 16:				/* NO_SUCH_COLUMN_IN_TABLE */
		case 47:				/* UNKNOWN_IDENTIFIER */
			return ERRCODE_UNDEFINED_COLUMN;
		case 46:				/* UNKNOWN_FUNCTION */
			return ERRCODE_UNDEFINED_FUNCTION;
		case 62:				/* SYNTAX_ERROR */
			return ERRCODE_SYNTAX_ERROR;
		case 159:				/* TIMEOUT_EXCEEDED */
		case 160:				/* TOO_SLOW */
		case 202:				/* TOO_MANY_SIMULTANEOUS_QUERIES */
		case 203:				/* NO_FREE_CONNECTION */
		case 209:				/* SOCKET_TIMEOUT */
		case 210:				/* NETWORK_ERROR */
		case 225:				/* NO_ZOOKEEPER */
		case 236:				/* ABORTED */
		case 241:				/* MEMORY_LIMIT_EXCEEDED */
		case 242:				/* TABLE_IS_READ_ONLY */
		case 252:				/* TOO_MANY_PARTS */
		case 285:				/* TOO_FEW_LIVE_REPLICAS */
		case 319:				/* UNKNOWN_STATUS_OF_INSERT */
		case 394:				/* QUERY_WAS_CANCELLED */
		case 425:				/* SYSTEM_ERROR */
		case 473:				/* DEADLOCK_AVOIDED */
		case 999:				/* KEEPER_EXCEPTION */
			return ERRCODE_CONNECTION_FAILURE;
	}
	if (status == 401 || status == 403)
		return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	if (code == 0 && (status == 429 || status >= 500))
		return ERRCODE_CONNECTION_FAILURE;	/* not ClickHouse's own answer */
	return ERRCODE_FDW_ERROR;
}

/* Ereport a ClickHouse error answer (status, body) to the request what. */
void
ch_raise(ChConn *cc, long status, const char *body, const char *what)
{
	int			code = ch_error_code(body);
	int			sqlstate = ch_sqlstate(status, code);
	char	   *detail = ch_error_text(body);

	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("ClickHouse server \"%s\" answered HTTP %ld to %s",
					cc->servername, status, what),
			 detail[0] ? errdetail("%s", detail) : 0,
			 sqlstate == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ?
			 errhint("Check the user and password in the user mapping for server \"%s\".",
					 cc->servername) : 0));
	pg_unreachable();
}

/*
 * The request path: "/?" and settings ("a=1&b=2", may be NULL).  mesh's
 * own statements name `database`.`table`; only mesh.execute passes the
 * server's database (database=) for the user's unqualified names.
 */
char *
ch_path(ChConn *cc, const char *settings)
{
	StringInfoData path;

	initStringInfo(&path);
	appendStringInfoString(&path, "/?");
	if (cc->gzip)
		appendStringInfoString(&path, "enable_http_compression=1&");
	if (settings && settings[0])
		appendStringInfoString(&path, settings);
	return path.data;
}

/* The last line of a body (without its newline). */
static const char *
last_line(const StringInfo body, size_t *len)
{
	size_t		end = body->len;
	size_t		start;

	while (end > 0 && body->data[end - 1] == '\n')
		end--;
	start = end;
	while (start > 0 && body->data[start - 1] != '\n')
		start--;
	*len = end - start;
	return body->data + start;
}

/* The request running sql (a POST body); non-2xx answers are returned. */
void
ch_request(ChConn *cc, const char *sql, const char *settings, const char *what,
		   MeshHttpRequest *req)
{
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->path = ch_path(cc, settings);
	req->body = sql;
	req->body_len = strlen(sql);
	req->content_type = "text/plain; charset=utf-8";
	req->what = what;
	req->accept_error = true;
}

/*
 * Ereport an answer that is an error, or that ends with an exception
 * ClickHouse appended to a 200 answer after it had begun streaming.
 */
void
ch_check_answer(ChConn *cc, MeshHttpResponse *resp, const char *what)
{
	const char *line;
	size_t		len;

	if (resp->status < 200 || resp->status >= 300)
		ch_raise(cc, resp->status, resp->body.data, what);
	line = last_line(&resp->body, &len);
	if (ch_line_is_exception(line, len))
		ch_raise(cc, 500, line, what);
}

/* Run sql (a POST body) and read the whole answer into resp; errors ereport. */
void
ch_query(ChConn *cc, const char *sql, const char *settings, const char *what,
		 MeshHttpResponse *resp)
{
	MeshHttpRequest req;

	ch_request(cc, sql, settings, what, &req);
	mesh_http_request(cc->http, &req, resp);
	ch_check_answer(cc, resp, what);
}

/* POST data (len bytes) for insert_sql ("INSERT INTO ... FORMAT RowBinary"). */
void
ch_insert(ChConn *cc, const char *insert_sql, const char *data, size_t len, const char *what)
{
	MeshHttpRequest req = {0};
	MeshHttpResponse resp;
	StringInfoData path;

	initStringInfo(&path);
	appendStringInfoString(&path, ch_path(cc, NULL));
	appendStringInfo(&path, "query=%s", mesh_http_escape(insert_sql));
	req.method = "POST";
	req.path = path.data;
	req.body = data;
	req.body_len = len;
	req.content_type = "application/octet-stream";
	req.what = what;
	req.accept_error = true;
	mesh_http_request(cc->http, &req, &resp);
	if (resp.status < 200 || resp.status >= 300)
		ch_raise(cc, resp.status, resp.body.data, what);
	pfree(resp.body.data);
}

/*
 * The columns of database.table (ChRemoteColumn *, in table order), from
 * system.columns; *exists is false when the table has none (absent).
 */
List *
ch_remote_columns(ChConn *cc, const char *database, const char *table, bool *exists)
{
	StringInfoData sql;
	MeshHttpResponse resp;
	List	   *cols = NIL;
	char	   *p;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT name, type FROM system.columns WHERE database = ");
	ch_append_literal(&sql, database, strlen(database));
	appendStringInfoString(&sql, " AND table = ");
	ch_append_literal(&sql, table, strlen(table));
	appendStringInfoString(&sql, " FORMAT TabSeparated");
	ch_query(cc, sql.data, NULL, "a table description", &resp);
	p = resp.body.data;
	while (*p)
	{
		char	   *nl = strchr(p, '\n');
		char	   *fields[2];
		size_t		lens[2];
		ChRemoteColumn *rc;

		if (nl == NULL || ch_tsv_split(p, nl - p, fields, lens, 2) != 2 ||
			fields[0] == NULL || fields[1] == NULL)
			mesh_json_malformed(cc->servername, "a table description",
								"A line of system.columns is not \"name<TAB>type\".");
		rc = palloc(sizeof(ChRemoteColumn));
		rc->name = pstrdup(fields[0]);
		rc->type = ch_parse_type(fields[1]);
		cols = lappend(cols, rc);
		p = nl + 1;
	}
	*exists = cols != NIL;
	return cols;
}

static const MeshScanOps clickhouse_scan = {
	.plan_scan = ch_plan_scan,
	.begin_scan = ch_begin_scan,
	.next_row = ch_next_row,
	.end_scan = ch_end_scan,
	.explain_scan = ch_explain_scan,
	.plan_upper = ch_plan_upper,
	.import_schema = ch_import_schema,
};

static const MeshModifyOps clickhouse_modify = {
	.row_identity = ch_row_identity,
	.begin_modify = ch_begin_modify,
	.modify_row = ch_modify_row,
	.end_modify = ch_end_modify,
};

const MeshConnector mesh_clickhouse_connector = {
	.kind = "clickhouse",
	.options = ch_options,
	.execute = ch_execute,
	.http_setup = &ch_setup,
	.scan = &clickhouse_scan,
	.modify = &clickhouse_modify,
	.sink = &ch_sink_ops,
	.fetch_rows = mesh_http_fetch_rows,
	.scan_keys = ch_scan_keys,
	.fetch_request = ch_fetch_request,
	.fetch_answer = ch_fetch_answer,
};
