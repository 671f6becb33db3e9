/*
 * duckdb_sink.c: DuckDB as an analytical replica (replication target), and
 * its side of verify.
 *
 * Layout: route option table (default: the source table's name) in route
 * option schema (default main), created at mesh.replicate when missing
 * with the source's columns (types as the README maps them) and its
 * PRIMARY KEY.  A batch keeps the last change of each key; upserts are
 * appended to a staging table and moved by one INSERT OR REPLACE, deletes
 * to another and removed by one DELETE ... USING, in one DuckDB
 * transaction; a TRUNCATE is a DELETE of every row, committed first.  A
 * replay converges to the same state (idempotent).  The file is open only
 * during the batch, or until the next one after a full batch (duckdb.c:
 * the one-writer rule).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"

#include "duckdb_internal.h"
#include "mesh.h"

/* What apply needs about the target, cached in route->private. */
typedef struct DdbSink
{
	int			ncolumns;		/* route->ncolumns when loaded */
	char	   *qualified;		/* "schema"."table" */
	char	  **duck_types;		/* target type of each route column */
	bool	   *is_array;
	char	   *upsert_sql;
	char	   *delete_sql;
} DdbSink;

typedef struct KeyScan
{
	duckdb_result *res;
	duckdb_data_chunk chunk;
	idx_t		nrows;
	idx_t		row;
	bool		done;
} KeyScan;

static const char *
route_schema(MeshRoute *route)
{
	return mesh_route_option(route, "schema", "main");
}

static const char *
route_table(MeshRoute *route)
{
	const char *t = mesh_route_option(route, "table", route->source_name);

	if (t[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option \"table\" of DuckDB target \"%s\" is empty", route->target),
				 errhint("Give a table name, e.g. '{\"table\": \"events\"}', or leave it out to use the source table's name.")));
	return t;
}

static bool
route_col_is_array(MeshRoute *route, int i)
{
	size_t		len = strlen(route->type_names[i]);

	return len > 2 && strcmp(route->type_names[i] + len - 2, "[]") == 0;
}

/* A literal of schema/table names for information_schema queries. */
static void
append_where_table(StringInfo sql, const char *schema, const char *table)
{
	appendStringInfoString(sql, " WHERE table_schema = ");
	ddb_append_literal(sql, schema, strlen(schema));
	appendStringInfoString(sql, " AND table_name = ");
	ddb_append_literal(sql, table, strlen(table));
}

/* First column of every row of sql, as text. */
static List *
query_column(DdbConn *dc, const char *sql, const char *what)
{
	const DdbApi *a = ddb_api();
	duckdb_result *res = palloc(sizeof(duckdb_result));
	duckdb_data_chunk chunk;
	List	   *out = NIL;

	ddb_query(dc, sql, res, what);
	while ((chunk = a->fetch_chunk(*res)) != NULL)
	{
		idx_t		n = a->data_chunk_get_size(chunk);
		duckdb_vector v = a->data_chunk_get_vector(chunk, 0);

		for (idx_t i = 0; i < n; i++)
		{
			uint32_t	len;
			char	   *s = ddb_cell(v, a->vector_get_validity(v), i, &len);

			out = lappend(out, s ? pnstrdup(s, len) : NULL);
		}
		a->destroy_data_chunk(&chunk);
	}
	ddb_destroy_result_cb(res);
	return out;
}

/* The target's column types (by route column); errors on a missing one. */
static DdbSink *
load_sink(DdbConn *dc, MeshRoute *route)
{
	DdbSink    *s = route->private;
	const char *schema = route_schema(route);
	const char *table = route_table(route);
	StringInfoData sql,
				cols,
				exprs,
				cond;
	MemoryContext old;

	if (s != NULL && s->ncolumns == route->ncolumns)
		return s;
	old = MemoryContextSwitchTo(route->cxt);
	s = palloc0(sizeof(DdbSink));
	s->ncolumns = route->ncolumns;
	s->qualified = ddb_qualified(schema, table);
	s->duck_types = palloc0(sizeof(char *) * route->ncolumns);
	s->is_array = palloc0(sizeof(bool) * route->ncolumns);
	for (int i = 0; i < route->ncolumns; i++)
	{
		List	   *t;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT data_type FROM information_schema.columns");
		append_where_table(&sql, schema, table);
		appendStringInfoString(&sql, " AND column_name = ");
		ddb_append_literal(&sql, route->columns[i], strlen(route->columns[i]));
		t = query_column(dc, sql.data, "reading the target's columns");
		if (t == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("DuckDB table %s of server \"%s\" has no column \"%s\"",
							s->qualified, dc->servername, route->columns[i]),
					 errhint("Add the column in DuckDB (mesh.execute) or drop and re-create the target table.")));
		s->duck_types[i] = linitial(t);
		s->is_array[i] = route_col_is_array(route, i);
	}
	initStringInfo(&cols);
	initStringInfo(&exprs);
	for (int i = 0; i < route->ncolumns; i++)
	{
		appendStringInfoString(&cols, i ? ", " : "");
		ddb_append_ident(&cols, route->columns[i]);
		appendStringInfo(&exprs, "%s%s", i ? ", " : "",
						 ddb_stage_expr(i, route->types[i], s->is_array[i], s->duck_types[i]));
	}
	s->upsert_sql = psprintf("INSERT OR REPLACE INTO %s (%s) SELECT %s FROM mesh_upsert_stage",
							 s->qualified, cols.data, exprs.data);
	initStringInfo(&cond);
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];

		appendStringInfo(&cond, "%s%s.", k ? " AND " : "", s->qualified);
		ddb_append_ident(&cond, route->columns[c]);
		appendStringInfo(&cond, " = %s", ddb_stage_expr(k, route->types[c], s->is_array[c],
														 s->duck_types[c]));
	}
	s->delete_sql = psprintf("DELETE FROM %s USING mesh_delete_stage WHERE %s",
							 s->qualified, cond.data);
	route->private = s;
	MemoryContextSwitchTo(old);
	return s;
}

/* The DuckDB type of a replica column for route column i (catalog access). */
static const char *
column_type(MeshRoute *route, int i)
{
	AttrNumber	att = get_attnum(route->source, route->columns[i]);
	Oid			typid,
				coll,
				elem;
	int32		typmod;
	const char *t;

	get_atttypetypmodcoll(route->source, att, &typid, &typmod, &coll);
	elem = get_element_type(typid);
	t = ddb_type_for(OidIsValid(elem) ? elem : typid, typmod);
	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"%s\" of type %s has no DuckDB counterpart",
						route->columns[i], route->type_names[i]),
				 errhint("Create the DuckDB table yourself (mesh.execute) with a column \"%s\" that DuckDB can cast this type's text to (e.g. VARCHAR), then call mesh.replicate again.",
						 route->columns[i])));
	return OidIsValid(elem) ? psprintf("%s[]", t) : t;
}

/*
 * mesh.replicate: check the route options; create the target table when
 * missing; an existing one needs every source column and a primary key
 * on the source's key columns.
 */
void
ddb_check_route(void *conn, MeshRoute *route)
{
	DdbConn    *dc = conn;
	const char *schema = route_schema(route);
	const char *table = route_table(route);
	char	   *qualified = ddb_qualified(schema, table);
	StringInfoData sql;
	List	   *found;

	ddb_acquire(dc, true);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ");
	ddb_append_literal(&sql, schema, strlen(schema));
	if (query_column(dc, sql.data, "reading the schemas") == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("route option \"schema\": DuckDB server \"%s\" has no schema \"%s\"",
						dc->servername, schema),
				 errhint("Create it with mesh.execute('%s', 'CREATE SCHEMA ...') or leave the option out (main).",
						 dc->servername)));
	resetStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT table_name FROM information_schema.tables");
	append_where_table(&sql, schema, table);
	found = query_column(dc, sql.data, "reading the tables");
	if (found == NIL)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE TABLE %s (", qualified);
		for (int i = 0; i < route->ncolumns; i++)
		{
			appendStringInfoString(&sql, i ? ", " : "");
			ddb_append_ident(&sql, route->columns[i]);
			appendStringInfo(&sql, " %s", column_type(route, i));
		}
		appendStringInfoString(&sql, ", PRIMARY KEY (");
		for (int k = 0; k < route->nkeys; k++)
		{
			appendStringInfoString(&sql, k ? ", " : "");
			ddb_append_ident(&sql, route->columns[route->key_index[k]]);
		}
		appendStringInfoString(&sql, "))");
		ddb_exec(dc, sql.data, "creating the target table");
		return;
	}
	resetStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT constraint_type FROM duckdb_constraints()"
						   " WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND schema_name = ");
	ddb_append_literal(&sql, schema, strlen(schema));
	appendStringInfoString(&sql, " AND table_name = ");
	ddb_append_literal(&sql, table, strlen(table));
	appendStringInfoString(&sql, " AND list_sort(constraint_column_names) = list_sort([");
	for (int k = 0; k < route->nkeys; k++)
	{
		const char *c = route->columns[route->key_index[k]];

		appendStringInfoString(&sql, k ? ", " : "");
		ddb_append_literal(&sql, c, strlen(c));
	}
	appendStringInfoString(&sql, "]::VARCHAR[])");
	if (query_column(dc, sql.data, "reading the constraints") == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("DuckDB table %s of server \"%s\" has no primary key on the source's key columns",
						qualified, dc->servername),
				 errhint("Upserts need one: drop the DuckDB table (mesh.execute) to let mesh create it, or add PRIMARY KEY on those columns.")));
	route->private = NULL;
	(void) load_sink(dc, route);
}

/* A key's identity in a batch: each part's length and bytes. */
static char *
key_identity(MeshRoute *route, char **values)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < route->nkeys; k++)
	{
		const char *v = values[route->key_index[k]];

		appendStringInfo(&buf, "%zu:%s", v ? strlen(v) : 0, v ? v : "");
	}
	return buf.data;
}

typedef struct KeyRef
{
	char	   *key;
	int			index;
} KeyRef;

static int
keyref_cmp(const void *a, const void *b)
{
	const KeyRef *x = a,
			   *y = b;
	int			c = strcmp(x->key, y->key);

	return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

static void
apply_batch(DdbConn *dc, MeshRoute *route, MeshEvent *events, int n)
{
	DdbSink    *s;
	int			start = 0;
	KeyRef	   *refs;
	int			nrefs = 0;
	DdbStage   *up,
			   *del;

	for (int i = 0; i < n; i++)
		if (events[i].op == 'T')
			start = i + 1;
	s = load_sink(dc, route);
	if (start > 0)
		ddb_exec(dc, psprintf("DELETE FROM %s", s->qualified), "a TRUNCATE");
	/* the last change of each key */
	refs = palloc(sizeof(KeyRef) * Max(n - start, 1));
	for (int i = start; i < n; i++)
	{
		refs[nrefs].key = key_identity(route, events[i].values);
		refs[nrefs++].index = i;
	}
	qsort(refs, nrefs, sizeof(KeyRef), keyref_cmp);
	up = ddb_stage_begin(dc, "mesh_upsert_stage", route->ncolumns);
	del = ddb_stage_begin(dc, "mesh_delete_stage", route->nkeys);
	for (int r = 0; r < nrefs; r++)
	{
		MeshEvent  *e;

		if (r + 1 < nrefs && strcmp(refs[r].key, refs[r + 1].key) == 0)
			continue;
		e = &events[refs[r].index];
		if (e->op == 'D')
		{
			for (int k = 0; k < route->nkeys; k++)
			{
				char	   *v = e->values[route->key_index[k]];

				ddb_stage_value(del, v, v ? strlen(v) : 0);
			}
			ddb_stage_end_row(del);
			continue;
		}
		for (int c = 0; c < route->ncolumns; c++)
		{
			char	   *v = e->values[c];

			if (v && s->is_array[c])
				v = ddb_stage_text(v, route->types[c], true, route->columns[c]);
			ddb_stage_value(up, v, v ? strlen(v) : 0);
		}
		ddb_stage_end_row(up);
	}
	ddb_stage_finish(up);
	ddb_stage_finish(del);
	ddb_exec(dc, "BEGIN TRANSACTION", "a batch");
	PG_TRY();
	{
		if (del->rows > 0)
			ddb_exec(dc, s->delete_sql, "deleting rows");
		if (up->rows > 0)
			ddb_exec(dc, s->upsert_sql, "upserting rows");
		ddb_exec(dc, "COMMIT", "a batch");
	}
	PG_CATCH();
	{
		duckdb_result res;

		memset(&res, 0, sizeof(res));
		ddb_api()->query(dc->con, "ROLLBACK", &res);
		ddb_api()->destroy_result(&res);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Replication: apply events in order, idempotently.  A file database is
 * opened for the batch and closed after it, whatever happened.
 */
void
ddb_apply(void *conn, MeshRoute *route, MeshEvent *events, int n)
{
	DdbConn    *dc = conn;

	PG_TRY();
	{
		ddb_acquire(dc, true);
		apply_batch(dc, route, events, n);
	}
	PG_CATCH();
	{
		dc->keep_until = 0;
		if (!dc->memory)
			ddb_close(dc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	/* a full batch: the next one follows at once, keep the file open */
	if (IsBackgroundWorker && n >= mesh_batch_size && !dc->memory)
		dc->keep_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 2000);
	else
	{
		dc->keep_until = 0;
		if (!dc->memory)
			ddb_close(dc);
	}
}

/* The select list reading every route column as PostgreSQL text. */
static char *
read_list(MeshRoute *route, DdbSink *s, const char *alias)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < route->ncolumns; i++)
	{
		StringInfoData ref;

		initStringInfo(&ref);
		appendStringInfo(&ref, "%s.", alias);
		ddb_append_ident(&ref, route->columns[i]);
		appendStringInfo(&buf, ", %s", ddb_read_expr(ref.data, route->types[i], s->is_array[i]));
	}
	return buf.data;
}

/* Text of a value read back, as verify compares it. */
static char *
cell_text(MeshRoute *route, DdbSink *s, int c, char *data, uint32_t len)
{
	if (data == NULL)
		return NULL;
	if (s->is_array[c])
		return ddb_json_array_to_pg(data, len, route->columns[c]);
	return pnstrdup(data, len);
}

/* verify: the target's rows of keys[0..n) (NULL when missing). */
void
ddb_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	DdbConn    *dc = conn;
	const DdbApi *a = ddb_api();
	DdbSink    *s;
	StringInfoData sql;
	duckdb_result *res = palloc(sizeof(duckdb_result));
	duckdb_data_chunk chunk;

	ddb_acquire(dc, false);
	s = load_sink(dc, route);
	for (int i = 0; i < n; i++)
		rows[i] = NULL;
	if (n == 0)
		return;
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT CAST(k.i AS VARCHAR)%s FROM %s AS t JOIN (VALUES ",
					 read_list(route, s, "t"), s->qualified);
	for (int i = 0; i < n; i++)
	{
		appendStringInfo(&sql, "%s(%d", i ? ", " : "", i);
		for (int k = 0; k < route->nkeys; k++)
		{
			int			c = route->key_index[k];
			const char *v = keys[i][k];

			if (route->types[c] == BYTEAOID)
			{
				appendStringInfoString(&sql, ", unhex(substr(");
				ddb_append_literal(&sql, v, strlen(v));
				appendStringInfoString(&sql, ", 3))");
			}
			else
			{
				appendStringInfoString(&sql, ", CAST(");
				ddb_append_literal(&sql, v, strlen(v));
				appendStringInfo(&sql, " AS %s)", s->duck_types[c]);
			}
		}
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfoString(&sql, ") AS k(i");
	for (int k = 0; k < route->nkeys; k++)
		appendStringInfo(&sql, ", k%d", k);
	appendStringInfoString(&sql, ") ON ");
	for (int k = 0; k < route->nkeys; k++)
	{
		appendStringInfo(&sql, "%st.", k ? " AND " : "");
		ddb_append_ident(&sql, route->columns[route->key_index[k]]);
		appendStringInfo(&sql, " = k.k%d", k);
	}
	ddb_query(dc, sql.data, res, "a verify read");
	while ((chunk = a->fetch_chunk(*res)) != NULL)
	{
		idx_t		m = a->data_chunk_get_size(chunk);

		for (idx_t r = 0; r < m; r++)
		{
			duckdb_vector v = a->data_chunk_get_vector(chunk, 0);
			uint32_t	len;
			char	   *idx = ddb_cell(v, a->vector_get_validity(v), r, &len);
			int			i = atoi(pnstrdup(idx, len));
			char	  **row = palloc(sizeof(char *) * route->ncolumns);

			for (int c = 0; c < route->ncolumns; c++)
			{
				char	   *d;

				v = a->data_chunk_get_vector(chunk, c + 1);
				d = ddb_cell(v, a->vector_get_validity(v), r, &len);
				row[c] = cell_text(route, s, c, d, len);
			}
			if (i >= 0 && i < n)
				rows[i] = row;
		}
		a->destroy_data_chunk(&chunk);
	}
	ddb_destroy_result_cb(res);
}

/* verify: the next keys present in the target (at most max), 0 at the end. */
int
ddb_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	DdbConn    *dc = conn;
	const DdbApi *a = ddb_api();
	KeyScan    *ks = *state;
	int			got = 0;

	if (ks == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(route->cxt);
		DdbSink    *s;
		StringInfoData sql;

		ddb_acquire(dc, false);
		s = load_sink(dc, route);
		ks = palloc0(sizeof(KeyScan));
		ks->res = palloc(sizeof(duckdb_result));
		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (int k = 0; k < route->nkeys; k++)
		{
			int			c = route->key_index[k];
			StringInfoData ref;

			initStringInfo(&ref);
			ddb_append_ident(&ref, route->columns[c]);
			appendStringInfo(&sql, "%s%s", k ? ", " : "",
							 ddb_read_expr(ref.data, route->types[c], s->is_array[c]));
		}
		appendStringInfo(&sql, " FROM %s", s->qualified);
		ddb_query(dc, sql.data, ks->res, "a verify key scan");
		MemoryContextSwitchTo(old);
		*state = ks;
	}
	while (got < max && !ks->done)
	{
		if (ks->chunk == NULL || ks->row >= ks->nrows)
		{
			if (ks->chunk)
				a->destroy_data_chunk(&ks->chunk);
			ks->chunk = a->fetch_chunk(*ks->res);
			if (ks->chunk == NULL)
			{
				ks->done = true;
				ddb_destroy_result_cb(ks->res);
				break;
			}
			ks->nrows = a->data_chunk_get_size(ks->chunk);
			ks->row = 0;
			continue;
		}
		keys[got] = palloc(sizeof(char *) * route->nkeys);
		for (int k = 0; k < route->nkeys; k++)
		{
			duckdb_vector v = a->data_chunk_get_vector(ks->chunk, k);
			uint32_t	len;
			char	   *d = ddb_cell(v, a->vector_get_validity(v), ks->row, &len);

			keys[got][k] = d ? pnstrdup(d, len) : NULL;
		}
		ks->row++;
		got++;
	}
	return got;
}
