/*
 * influxdb.c: the InfluxDB connector (InfluxDB 1.x HTTP API; 2.x through
 * its v1 compatibility API): options, connection, the table layout,
 * InfluxQL quoting and line protocol writes.
 */
#include "postgres.h"

#include "influxdb_internal.h"

#include "catalog/pg_type.h"
#include "utils/memutils.h"

static const MeshOption influx_options[] = {
	MESH_HTTP_OPTIONS,
	{.name = "database", .where = MESH_OPT_SERVER | MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "precision", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_ENUM,
	.allowed = MESH_LP_PRECISIONS},
	{.name = "batch_size", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 1000000},
	{.name = "measurement", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "tag", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_BOOL},
	{.name = "name", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "time", .where = MESH_OPT_COLUMN | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "tags", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING},
	{.name = "round_time", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_BOOL},
	{NULL}
};

/* The rest of a connection (no round trip: the first request connects). */
static void
influx_open(void *conn, MeshServerConfig *config)
{
	InfluxConn *ic = conn;
	const char *db = mesh_config_get(config, "database", NULL);

	ic->database = db ? pstrdup(db) : NULL;
	ic->precision = mesh_lp_precision(mesh_config_get(config, "precision", "ns"));
	ic->batch_size = mesh_config_get_int(config, "batch_size", 0);
}

static const MeshHttpSetup influx_setup = {
	.kind_label = "InfluxDB",
	.default_url = "http://127.0.0.1:8086",
	.token_scheme = "Token",
	.version_header = "X-Influxdb-Version",
	.ping_path = "/ping",
	.conn_size = sizeof(InfluxConn),
	.open = influx_open,
};

/* The database a table reads: its own option, else the server's. */
const char *
influx_database(InfluxConn *ic, const char *table_database)
{
	if (table_database)
		return table_database;
	if (ic->database == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("InfluxDB server \"%s\" has no database option", ic->servername),
				 errhint("ALTER SERVER %s OPTIONS (ADD database 'name').",
						 quote_identifier(ic->servername))));
	return ic->database;
}

/* s quoted with q, escaping q, backslash and newline as InfluxQL reads them. */
static char *
influx_quote(const char *s, char q)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, q);
	for (const char *p = s; *p; p++)
	{
		if (*p == '\n')
			appendStringInfoString(&buf, "\\n");
		else
		{
			if (*p == q || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
	}
	appendStringInfoChar(&buf, q);
	return buf.data;
}

/*
 * An InfluxQL identifier: "name" with escapes.  InfluxQL has no way to
 * write a carriage return in one: an error.
 */
char *
influx_quote_ident(const char *name)
{
	if (strchr(name, '\r') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("InfluxQL cannot name \"%s\": it holds a carriage return", name),
				 errhint("Rename the measurement, tag or field key.")));
	return influx_quote(name, '"');
}

/*
 * "ref = 'value'" (or !=) in InfluxQL.  A string literal cannot hold a
 * carriage return, so such a value is matched by an anchored regular
 * expression of the escaped value instead, which is the same test.
 */
char *
influx_match(const char *ref, bool equal, const char *value)
{
	StringInfoData re;

	if (strchr(value, '\r') == NULL)
		return psprintf("%s %s %s", ref, equal ? "=" : "!=", influx_quote_string(value));
	initStringInfo(&re);
	for (const char *p = value; *p; p++)
	{
		if (*p == '\r')
			appendStringInfoString(&re, "\\r");
		else if (*p == '\n')
			appendStringInfoString(&re, "\\n");
		else
		{
			if (strchr("\\.+*?()|[]{}^$/", *p) != NULL)
				appendStringInfoChar(&re, '\\');
			appendStringInfoChar(&re, *p);
		}
	}
	return psprintf("%s %s /^%s$/", ref, equal ? "=~" : "!~", re.data);
}

/* An InfluxQL string literal: 'text' with escapes. */
char *
influx_quote_string(const char *s)
{
	return influx_quote(s, '\'');
}

static bool
bool_option(MeshColumn *col, const char *name)
{
	const char *v = mesh_column_option(col, name);
	bool		b = false;

	if (v && !parse_bool(v, &b))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for column option %s of column \"%s\": \"%s\"",
						name, col->name, v),
				 errhint("Use true or false.")));
	return b;
}

static void *
compute_layout(MeshTable *table)
{
	InfluxLayout *l = palloc0(sizeof(InfluxLayout));
	const char *m = mesh_defelem_get(table->options, "measurement");
	AttrNumber	named_time = InvalidAttrNumber;

	l->measurement = m ? m : table->relname;
	l->database = mesh_defelem_get(table->options, "database");
	l->roles = palloc0(sizeof(InfluxRole) * Max(table->ncolumns, 1));
	l->keys = palloc0(sizeof(char *) * Max(table->ncolumns, 1));
	l->types = palloc0(sizeof(MeshLpType) * Max(table->ncolumns, 1));
	l->tag_order = palloc0(sizeof(AttrNumber) * Max(table->ncolumns, 1));
	for (int i = 0; i < table->ncolumns; i++)
	{
		MeshColumn *col = &table->columns[i];
		const char *name;
		bool		is_time;

		if (col->name == NULL)
			continue;
		name = mesh_column_option(col, "name");
		l->keys[i] = name ? name : col->name;
		is_time = bool_option(col, "time");
		if (!is_time && strcmp(col->name, "time") == 0 && !bool_option(col, "tag"))
			named_time = col->attnum;
		if (is_time)
		{
			if (l->time_att != InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
						 errmsg("foreign table \"%s\" has two time columns", table->relname)));
			l->time_att = col->attnum;
		}
		else if (bool_option(col, "tag"))
		{
			l->roles[i] = INFLUX_TAG;
			l->tag_order[l->ntags++] = col->attnum;
		}
		else
		{
			l->roles[i] = INFLUX_FIELD;
			l->types[i] = mesh_lp_type_of(col->typid);
			l->nfields++;
		}
	}
	if (l->time_att == InvalidAttrNumber && named_time != InvalidAttrNumber)
	{
		l->time_att = named_time;
		l->nfields--;
	}
	if (l->time_att != InvalidAttrNumber)
	{
		MeshColumn *col = &table->columns[l->time_att - 1];

		l->roles[l->time_att - 1] = INFLUX_TIME;
		if (col->typid != TIMESTAMPTZOID && col->typid != TIMESTAMPOID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("time column \"%s\" of foreign table \"%s\" has type %s",
							col->name, table->relname, format_type_be(col->typid)),
					 errhint("Declare it as timestamptz (or timestamp, read as UTC).")));
	}
	/* tags in key order, as line protocol prefers */
	for (int i = 1; i < l->ntags; i++)
		for (int j = i; j > 0 && strcmp(l->keys[l->tag_order[j - 1] - 1],
										l->keys[l->tag_order[j] - 1]) > 0; j--)
		{
			AttrNumber	t = l->tag_order[j];

			l->tag_order[j] = l->tag_order[j - 1];
			l->tag_order[j - 1] = t;
		}
	return l;
}

/* The layout of a foreign table, kept with its cached description. */
InfluxLayout *
influx_layout(MeshTable *table)
{
	return mesh_table_parsed(table, compute_layout);
}

/* The value of tag key in a series object's "tags", or NULL ("" is absent). */
char *
influx_series_tag(json_t *series, const char *key)
{
	json_t	   *tags = json_object_get(series, "tags");
	json_t	   *v = tags ? json_object_get(tags, key) : NULL;

	if (v == NULL || !json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	return pnstrdup(json_string_value(v), json_string_length(v));
}

/*
 * POST lines (line protocol, in the connection's precision) to /write;
 * an error answer ereports with InfluxDB's message.
 */
void
influx_write(InfluxConn *ic, const char *database, StringInfo lines)
{
	StringInfoData path;
	MeshHttpRequest req = {0};
	MeshHttpResponse resp;

	if (lines->len == 0)
		return;
	initStringInfo(&path);
	appendStringInfoString(&path, "/write");
	mesh_http_append_param(&path, "db", database);
	mesh_http_append_param(&path, "precision", mesh_lp_precision_name(ic->precision));
	req.method = "POST";
	req.path = path.data;
	req.body = lines->data;
	req.body_len = lines->len;
	req.content_type = "text/plain; charset=utf-8";
	req.what = "a write";
	req.accept_error = true;
	mesh_http_request(ic->http, &req, &resp);
	if (resp.status < 200 || resp.status >= 300)
	{
		json_t	   *doc = json_loadb(resp.body.data, resp.body.len, JSON_DECODE_ANY, NULL);
		json_t	   *err = doc ? json_object_get(doc, "error") : NULL;

		mesh_http_raise(ic->http, "a write", resp.status,
						err && json_is_string(err) ? json_string_value(err) : resp.body.data);
	}
}


static const MeshScanOps influxdb_scan = {
	.plan_scan = influx_plan_scan,
	.plan_upper = influx_plan_upper,
	.begin_scan = influx_begin_scan,
	.next_row = influx_next_row,
	.end_scan = influx_end_scan,
	.explain_scan = influx_explain_scan,
	.import_schema = influx_import_schema,
};

static const MeshModifyOps influxdb_modify = {
	.row_identity = influx_row_identity,
	.begin_modify = influx_begin_modify,
	.modify_row = influx_modify_row,
	.end_modify = influx_end_modify,
};

const MeshConnector mesh_influxdb_connector = {
	.kind = "influxdb",
	.options = influx_options,
	.execute = influx_execute,
	.http_setup = &influx_setup,
	.scan = &influxdb_scan,
	.modify = &influxdb_modify,
	.sink = &influx_sink_ops,
	.fetch_rows = mesh_http_fetch_rows,
	.scan_keys = influx_scan_keys,
	.fetch_request = influx_fetch_request,
	.fetch_answer = influx_fetch_answer,
	.expected_values = influx_expected_values,
};
