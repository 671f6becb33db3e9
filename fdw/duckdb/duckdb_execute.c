/*
 * duckdb_execute.c: mesh.execute (DuckDB SQL, rows as jsonb) and IMPORT
 * FOREIGN SCHEMA (from DuckDB's information_schema).
 *
 * execute first tries the request as a query,
 *     SELECT CAST(to_json(r) AS VARCHAR) FROM (<request>) AS r
 * so each row comes back as one JSON object (nested lists and structs
 * included); a statement that is not a query (DDL, INSERT, COPY...) runs
 * as it is and returns no rows.  params: a JSON array binds $1, $2...; an
 * object binds $name; numbers, booleans, strings and null bind as such,
 * arrays and objects as their JSON text.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "nodes/makefuncs.h"
#include "utils/jsonb.h"

#include "duckdb_internal.h"

/* Strip trailing blanks and semicolons of a request. */
static char *
trim_request(const char *request)
{
	char	   *s = pstrdup(request);
	size_t		len = strlen(s);

	while (len > 0 && (isspace((unsigned char) s[len - 1]) || s[len - 1] == ';'))
		s[--len] = '\0';
	return s;
}

/* Bind one jsonb value to parameter idx (1-based). */
static void
bind_value(DdbConn *dc, duckdb_prepared_statement st, idx_t idx, JsonbValue *v)
{
	const DdbApi *a = ddb_api();
	duckdb_state rc;

	switch (v->type)
	{
		case jbvNull:
			rc = a->bind_null(st, idx);
			break;
		case jbvBool:
			rc = a->bind_boolean(st, idx, v->val.boolean);
			break;
		case jbvString:
			rc = a->bind_varchar_length(st, idx, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				char	   *txt = DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric)));

				if (strspn(txt, "-0123456789") == strlen(txt) && strlen(txt) < 19)
					rc = a->bind_int64(st, idx, strtoll(txt, NULL, 10));
				else
					rc = a->bind_double(st, idx, strtod(txt, NULL));
				break;
			}
		default:
			{
				char	   *txt = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);

				rc = a->bind_varchar_length(st, idx, txt, strlen(txt));
			}
	}
	if (rc != DuckDBSuccess)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("DuckDB server \"%s\" could not bind parameter %d", dc->servername, (int) idx),
				 errdetail("%s", a->prepare_error(st) ? a->prepare_error(st) : "wrong number or type of parameters")));
}

/* Bind params (jsonb array or object) to st. */
static void
bind_params(DdbConn *dc, duckdb_prepared_statement st, Jsonb *params)
{
	const DdbApi *a = ddb_api();
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	idx_t		pos = 0;
	char	   *key = NULL;

	if (params == NULL || JB_ROOT_IS_SCALAR(params))
		return;
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_ELEM)
			bind_value(dc, st, ++pos, &v);
		else if (tok == WJB_VALUE)
		{
			idx_t		idx;

			if (a->bind_parameter_index(st, &idx, key) != DuckDBSuccess)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the request has no parameter $%s", key),
						 errhint("Name parameters $name in the request, or pass a JSON array for $1, $2, ...")));
			bind_value(dc, st, idx, &v);
		}
	}
}

List *
ddb_execute(void *conn, const char *request, Jsonb *params)
{
	DdbConn    *dc = conn;
	const DdbApi *a = ddb_api();
	char	   *req = trim_request(request);
	char	   *wrapped = psprintf("SELECT CAST(to_json(mesh_row) AS VARCHAR) FROM (%s) AS mesh_row", req);
	duckdb_prepared_statement *st;
	duckdb_result *res = palloc0(sizeof(duckdb_result));
	bool		query;
	List	   *rows = NIL;
	duckdb_data_chunk chunk;

	ddb_acquire(dc, true);
	st = ddb_prepared_holder();
	query = a->prepare(dc->con, wrapped, st) == DuckDBSuccess;
	if (!query)
	{
		ddb_prepared_free(st);
		if (a->prepare(dc->con, req, st) != DuckDBSuccess)
			ddb_raise(dc, "a request", pstrdup(a->prepare_error(*st) ? a->prepare_error(*st) : "?"));
	}
	bind_params(dc, *st, params);
	ddb_run_prepared(dc, *st, res, "a request");
	while (query && (chunk = a->fetch_chunk(*res)) != NULL)
	{
		idx_t		n = a->data_chunk_get_size(chunk);
		duckdb_vector vec = a->data_chunk_get_vector(chunk, 0);
		uint64_t   *validity = a->vector_get_validity(vec);

		for (idx_t i = 0; i < n; i++)
		{
			uint32_t	len;
			char	   *s = ddb_cell(vec, validity, i, &len);

			if (s == NULL)
				continue;
			rows = lappend(rows, DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																	CStringGetDatum(pnstrdup(s, len)))));
		}
		a->destroy_data_chunk(&chunk);
	}
	ddb_destroy_result_cb(res);
	ddb_prepared_free(st);
	return rows;
}

/* The CREATE FOREIGN TABLE of one imported table. */
static char *
import_one(MeshServerConfig *config, const char *local_schema, const char *remote_schema,
		   char *table, List *cols)
{
	List	   *opts = list_make2(makeDefElem("schema", (Node *) makeString(pstrdup(remote_schema)), -1),
								  makeDefElem("table", (Node *) makeString(table), -1));

	return mesh_import_statement(config->servername, local_schema, table, cols, opts);
}

/*
 * IMPORT FOREIGN SCHEMA: every table and view of DuckDB schema
 * remote_schema (e.g. main), columns typed as the README maps them.
 */
List *
ddb_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
				  const char *local_schema, List *options)
{
	DdbConn    *dc = conn;
	const DdbApi *a = ddb_api();
	StringInfoData sql;
	duckdb_result *res = palloc(sizeof(duckdb_result));
	duckdb_data_chunk chunk;
	List	   *stmts = NIL;
	List	   *cols = NIL;
	List	   *found = NIL;
	ListCell   *lc;
	char	   *current = NULL;

	ddb_acquire(dc, false);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT table_name, column_name, data_type, is_nullable "
						   "FROM information_schema.columns WHERE table_catalog = current_database() "
						   "AND table_schema = ");
	ddb_append_literal(&sql, remote_schema, strlen(remote_schema));
	appendStringInfoString(&sql, " ORDER BY table_name, ordinal_position");
	ddb_query(dc, sql.data, res, "reading information_schema.columns");
	while ((chunk = a->fetch_chunk(*res)) != NULL)
	{
		idx_t		n = a->data_chunk_get_size(chunk);

		for (idx_t i = 0; i < n; i++)
		{
			char	  **f = palloc(sizeof(char *) * 4);

			for (int c = 0; c < 4; c++)
			{
				duckdb_vector v = a->data_chunk_get_vector(chunk, c);
				uint32_t	len;
				char	   *s = ddb_cell(v, a->vector_get_validity(v), i, &len);

				f[c] = s ? pnstrdup(s, len) : pstrdup("");
			}
			found = lappend(found, f);
		}
		a->destroy_data_chunk(&chunk);
	}
	foreach(lc, found)
	{
		char	  **f = lfirst(lc);
		MeshImportColumn *ic = palloc0(sizeof(MeshImportColumn));

		if (current && strcmp(current, f[0]) != 0)
		{
			stmts = lappend(stmts, import_one(config, local_schema, remote_schema, current, cols));
			cols = NIL;
		}
		current = f[0];
		ic->name = f[1];
		ic->type = pstrdup(ddb_pg_type_for(f[2]));
		ic->not_null = strcmp(f[3], "NO") == 0;
		cols = lappend(cols, ic);
	}
	if (current)
		stmts = lappend(stmts, import_one(config, local_schema, remote_schema, current, cols));
	ddb_destroy_result_cb(res);
	return stmts;
}
