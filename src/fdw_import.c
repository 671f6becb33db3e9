/*
 * fdw_import.c: IMPORT FOREIGN SCHEMA for every connector that describes
 * its remote tables, and the statement builder connectors use.
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "fdw.h"

/* "OPTIONS (a 'x', b 'y')" for a DefElem list, values quoted; "" when empty. */
static void
append_options(StringInfo buf, List *options)
{
	ListCell   *lc;
	bool		first = true;

	if (options == NIL)
		return;
	appendStringInfoString(buf, " OPTIONS (");
	foreach(lc, options)
	{
		DefElem    *d = lfirst(lc);

		appendStringInfo(buf, "%s%s %s", first ? "" : ", ", quote_identifier(d->defname),
						 quote_literal_cstr(defGetString(d)));
		first = false;
	}
	appendStringInfoChar(buf, ')');
}

/*
 * CREATE FOREIGN TABLE local_schema.table (columns: MeshImportColumn *)
 * SERVER server OPTIONS (table_options), every name quoted.
 */
char *
mesh_import_statement(const char *server, const char *local_schema, const char *table,
					  List *columns, List *table_options)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (",
					 quote_qualified_identifier(local_schema, table));
	foreach(lc, columns)
	{
		MeshImportColumn *c = lfirst(lc);

		appendStringInfo(&buf, "%s\n  %s %s", first ? "" : ",", quote_identifier(c->name),
						 c->type);
		append_options(&buf, c->options);
		if (c->not_null)
			appendStringInfoString(&buf, " NOT NULL");
		first = false;
	}
	appendStringInfo(&buf, "\n) SERVER %s", quote_identifier(server));
	append_options(&buf, table_options);
	return buf.data;
}

static List *
mesh_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	const MeshConnector *c = mesh_connector_for_server(serverOid);
	MeshServerConfig *config;
	void	   *conn;
	List	   *result;

	if (c->scan == NULL || c->scan->import_schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_NO_SCHEMAS),
				 errmsg("IMPORT FOREIGN SCHEMA is not supported for %s servers", c->kind),
				 errhint("Create the foreign tables with CREATE FOREIGN TABLE.")));
	config = mesh_server_config(serverOid, GetUserId());
	conn = mesh_get_connection(config);
	mesh_connection_begin_use(config);
	result = c->scan->import_schema(conn, config, stmt->remote_schema, stmt->local_schema,
									stmt->options);
	mesh_connection_end_use(config);
	return result;
}

/* Fill the import part of routine. */
void
mesh_fdw_import_routine(FdwRoutine *routine)
{
	routine->ImportForeignSchema = mesh_import_foreign_schema;
}
