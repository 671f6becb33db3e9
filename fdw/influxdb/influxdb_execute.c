/*
 * influxdb_execute.c: mesh.execute for InfluxDB (InfluxQL passed through)
 * and IMPORT FOREIGN SCHEMA.
 *
 * mesh.execute(server, 'InfluxQL', params): the statements run against
 * the server's database; params (a JSON object) binds $name parameters as
 * InfluxDB does.  Each row of each series is one jsonb object: the row's
 * columns (time as an RFC3339 string), the series' tags, and
 * "measurement" (the series name) unless a column has that name.
 */
#include "postgres.h"

#include "influxdb_internal.h"

#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "utils/jsonb.h"

/*
 * The row as a JSON object (see the file comment).  The empty object is
 * parsed, not made by json_object(): the backend exports an SQL function
 * of that name, which the dynamic linker would bind instead.
 */
static json_t *
row_object(InfluxReader *r)
{
	json_t	   *obj = json_loadb("{}", 2, 0, NULL);
	json_t	   *columns = json_object_get(r->series, "columns");
	json_t	   *name = json_object_get(r->series, "name");
	json_t	   *tags = json_object_get(r->series, "tags");

	if (name && json_is_string(name))
		json_object_set(obj, "measurement", name);
	if (tags && json_is_object(tags))
		json_object_update(obj, tags);
	if (json_array_size(columns) != json_array_size(r->row))
		mesh_json_malformed(r->ic->servername, r->what,
							"A row does not have one value per column.");
	for (size_t i = 0; i < json_array_size(columns); i++)
	{
		json_t	   *c = json_array_get(columns, i);

		if (!json_is_string(c))
			mesh_json_malformed(r->ic->servername, r->what, "A column name is not a string.");
		json_object_set(obj, json_string_value(c), json_array_get(r->row, i));
	}
	return obj;
}

List *
influx_execute(void *conn, const char *request, Jsonb *params)
{
	InfluxConn *ic = conn;
	InfluxReader r;
	List	   *rows = NIL;
	char	   *ptext = NULL;

	if (params && !(JB_ROOT_IS_OBJECT(params) && JB_ROOT_COUNT(params) == 0))
	{
		if (!JB_ROOT_IS_OBJECT(params))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("InfluxQL parameters must be a JSON object"),
					 errhint("For example: '{\"host\": \"a\"}' for $host.")));
		ptext = JsonbToCString(NULL, &params->root, VARSIZE(params));
	}
	influx_query_start(ic, ic->database, request, ptext, false, "a query", &r);
	while (influx_query_next(&r))
		rows = lappend(rows, mesh_json_to_jsonb(row_object(&r)));
	return rows;
}

/* Field types of SHOW FIELD KEYS as PostgreSQL types. */
static const char *
field_type(const char *influx_type)
{
	if (strcmp(influx_type, "float") == 0)
		return "double precision";
	if (strcmp(influx_type, "integer") == 0)
		return "bigint";
	if (strcmp(influx_type, "unsigned") == 0)
		return "numeric";
	if (strcmp(influx_type, "boolean") == 0)
		return "boolean";
	return "text";
}

typedef struct ImportTable
{
	char	   *measurement;
	List	   *tags;			/* char * */
	List	   *fields;			/* char * */
	List	   *types;			/* char *, PostgreSQL type per field */
} ImportTable;

static ImportTable *
find_table(List **tables, const char *measurement)
{
	ListCell   *lc;
	ImportTable *t;

	foreach(lc, *tables)
		if (strcmp(((ImportTable *) lfirst(lc))->measurement, measurement) == 0)
			return lfirst(lc);
	t = palloc0(sizeof(ImportTable));
	t->measurement = pstrdup(measurement);
	*tables = lappend(*tables, t);
	return t;
}

/* Add a field; one seen with two types becomes double precision or text. */
static void
add_field(ImportTable *t, const char *key, const char *type)
{
	ListCell   *lc,
			   *lt;

	forboth(lc, t->fields, lt, t->types)
		if (strcmp(lfirst(lc), key) == 0)
		{
			if (strcmp(lfirst(lt), type) != 0)
				lfirst(lt) = (strcmp(lfirst(lt), "text") != 0 && strcmp(type, "text") != 0 &&
							  strcmp(lfirst(lt), "boolean") != 0 && strcmp(type, "boolean") != 0) ?
					"double precision" : "text";
			return;
		}
	t->fields = lappend(t->fields, pstrdup(key));
	t->types = lappend(t->types, (char *) type);
}

/* A column (local name fitting NAMEDATALEN; the key in option name if it differs). */
static MeshImportColumn *
import_column(const char *key, const char *suffix, const char *type, bool tag)
{
	MeshImportColumn *c = palloc0(sizeof(MeshImportColumn));
	char	   *name = psprintf("%s%s", key, suffix);
	int			len = pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1);

	c->name = pnstrdup(name, len);
	c->type = (char *) type;
	if (tag)
		c->options = lappend(c->options, makeDefElem("tag", (Node *) makeString("true"), -1));
	if (strcmp(c->name, key) != 0)
		c->options = lappend(c->options, makeDefElem("name", (Node *) makeString(pstrdup(key)), -1));
	return c;
}

static char *
import_table(ImportTable *t, MeshServerConfig *config, const char *database,
			 const char *local_schema)
{
	List	   *columns = NIL;
	List	   *options = NIL;
	ListCell   *lc,
			   *lt;
	MeshImportColumn *time = palloc0(sizeof(MeshImportColumn));
	const char *server_db = mesh_config_get(config, "database", NULL);
	int			len = pg_mbcliplen(t->measurement, strlen(t->measurement), NAMEDATALEN - 1);
	char	   *name = pnstrdup(t->measurement, len);

	time->name = "time";
	time->type = "timestamp with time zone";
	time->not_null = true;
	columns = lappend(columns, time);
	foreach(lc, t->tags)
		columns = lappend(columns, import_column(lfirst(lc), "", "text", true));
	forboth(lc, t->fields, lt, t->types)
	{
		bool		clash = list_member(t->tags, lfirst(lc));

		columns = lappend(columns, import_column(lfirst(lc), clash ? "_field" : "",
												 lfirst(lt), false));
	}
	if (strcmp(name, t->measurement) != 0)
		options = lappend(options, makeDefElem("measurement",
											   (Node *) makeString(t->measurement), -1));
	if (server_db == NULL || strcmp(server_db, database) != 0)
		options = lappend(options, makeDefElem("database",
											   (Node *) makeString(pstrdup(database)), -1));
	return mesh_import_statement(config->servername, local_schema, name, columns, options);
}

/*
 * IMPORT FOREIGN SCHEMA <database>: one table per measurement, with time
 * (timestamptz), its tags (text, tag 'true') and its fields (typed).
 */
List *
influx_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
					 const char *local_schema, List *options)
{
	InfluxConn *ic = conn;
	InfluxReader r;
	List	   *tables = NIL;
	List	   *result = NIL;
	ListCell   *lc;

	influx_query_start(ic, remote_schema, "SHOW MEASUREMENTS; SHOW TAG KEYS; SHOW FIELD KEYS",
					   NULL, true, "IMPORT FOREIGN SCHEMA", &r);
	while (influx_query_next(&r))
	{
		json_t	   *name = json_object_get(r.series, "name");
		json_t	   *v0 = json_array_get(r.row, 0);
		json_t	   *v1 = json_array_get(r.row, 1);

		if (!json_is_string(name) || !json_is_string(v0) ||
			(r.statement == 2 && !json_is_string(v1)))
			mesh_json_malformed(ic->servername, r.what, "A SHOW answer is not a list of names.");
		if (r.statement == 0)
			(void) find_table(&tables, json_string_value(v0));
		else if (r.statement == 1)
			find_table(&tables, json_string_value(name))->tags =
				lappend(find_table(&tables, json_string_value(name))->tags,
						pstrdup(json_string_value(v0)));
		else
			add_field(find_table(&tables, json_string_value(name)), json_string_value(v0),
					  field_type(json_string_value(v1)));
	}
	foreach(lc, tables)
		result = lappend(result, import_table(lfirst(lc), config, remote_schema, local_schema));
	return result;
}
