/*
 * clickhouse_import.c: IMPORT FOREIGN SCHEMA for ClickHouse.
 *
 * remote_schema is a ClickHouse database; every table and view in it
 * becomes a foreign table with the same name, its columns typed by the
 * mapping of the README (ch_pg_type_for): Nullable(T) columns are
 * nullable, the others NOT NULL; LowCardinality(T) reads as T.  Each
 * table gets the options table (and database, when it is not the
 * server's); a column whose name PostgreSQL would shorten gets
 * column_name.  One request: system.columns of the database.
 */
#include "postgres.h"

#include "json_value.h"
#include "nodes/makefuncs.h"

#include "clickhouse_internal.h"

typedef struct ImportTable
{
	char	   *name;
	List	   *columns;		/* MeshImportColumn * */
} ImportTable;

static DefElem *
string_option(const char *name, const char *value)
{
	return makeDefElem(pstrdup(name), (Node *) makeString(pstrdup(value)), -1);
}

List *
ch_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
				 const char *local_schema, List *options)
{
	ChConn	   *cc = conn;
	StringInfoData sql;
	MeshHttpResponse resp;
	List	   *tables = NIL;
	List	   *result = NIL;
	ImportTable *cur = NULL;
	ListCell   *lc;
	char	   *p;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT table, name, type FROM system.columns WHERE database = ");
	ch_append_literal(&sql, remote_schema, strlen(remote_schema));
	appendStringInfoString(&sql, " FORMAT TabSeparated");
	ch_query(cc, sql.data, NULL, "a schema import", &resp);
	for (p = resp.body.data; *p;)
	{
		char	   *nl = strchr(p, '\n');
		char	   *f[3];
		size_t		lens[3];
		MeshImportColumn *col;
		ChType	   *type;
		bool		supported;

		if (nl == NULL || ch_tsv_split(p, nl - p, f, lens, 3) != 3 || !f[0] || !f[1] || !f[2])
			mesh_json_malformed(cc->servername, "a schema import",
								"A line of system.columns is not \"table<TAB>name<TAB>type\".");
		if (cur == NULL || strcmp(cur->name, f[0]) != 0)
		{
			cur = NULL;
			foreach(lc, tables)
				if (strcmp(((ImportTable *) lfirst(lc))->name, f[0]) == 0)
					cur = lfirst(lc);
			if (cur == NULL)
			{
				cur = palloc0(sizeof(ImportTable));
				cur->name = pstrdup(f[0]);
				tables = lappend(tables, cur);
			}
		}
		type = ch_parse_type(f[2]);
		col = palloc0(sizeof(MeshImportColumn));
		col->name = pstrdup(f[1]);
		col->type = pstrdup(ch_pg_type_for(type, &supported));
		col->not_null = !type->nullable;
		if (strlen(col->name) >= NAMEDATALEN)
			col->options = list_make1(string_option("column_name", col->name));
		cur->columns = lappend(cur->columns, col);
		p = nl + 1;
	}
	if (tables == NIL)
	{
		/* an empty answer: is there such a database at all? */
		resetStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT count() FROM system.databases WHERE name = ");
		ch_append_literal(&sql, remote_schema, strlen(remote_schema));
		ch_query(cc, sql.data, NULL, "a schema import", &resp);
		if (strncmp(resp.body.data, "0", 1) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
					 errmsg("ClickHouse database \"%s\" does not exist on server \"%s\"",
							remote_schema, cc->servername)));
	}
	foreach(lc, tables)
	{
		ImportTable *it = lfirst(lc);
		List	   *topts = list_make1(string_option("table", it->name));

		if (strcmp(remote_schema, cc->database) != 0)
			topts = lappend(topts, string_option("database", remote_schema));
		result = lappend(result, mesh_import_statement(config->servername, local_schema,
													   it->name, it->columns, topts));
	}
	return result;
}
