/*
 * duckdb_sink.c: DuckDB as an analytical replica (replication target), and
 * its side of verify.
 *
 * Layout: route option table (default: the source table's name) in route
 * option schema (default main), created at mesh.replicate when missing
 * with the source's columns (types as the README maps them) and its
 * PRIMARY KEY.  On the sink engine (connector.h): the engine keeps the
 * last change of each key; upserts are appended to a staging table and
 * moved by one INSERT OR REPLACE, deletes to another and removed by one
 * DELETE ... USING, a TRUNCATE is a DELETE of every row, all in the one
 * DuckDB transaction of the batch (begin_batch, end_batch), so nothing is
 * acknowledged before its COMMIT returned.  A replay converges to the same
 * state (idempotent).  The file is open only during the batch, or until the
 * next one after a full batch (duckdb.c: the one-writer rule).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"

#include "duckdb_internal.h"
#include "mesh.h"

/* What the sink needs about the target, cached in route->private. */
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
	Oid			typid,
				coll,
				elem;
	int32		typmod;
	const char *t;

	get_atttypetypmodcoll(route->source, route->attnums[i], &typid, &typmod, &coll);
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
static void
ddb_sink_prepare(void *conn, MeshRoute *route)
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

/* Sink add_column (route option add_columns): the column, typed as in CREATE TABLE. */
static void
ddb_sink_add_column(void *conn, MeshRoute *route, int c)
{
	DdbConn    *dc = conn;
	StringInfoData sql;

	ddb_acquire(dc, true);
	initStringInfo(&sql);
	appendStringInfo(&sql, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS ",
					 ddb_qualified(route_schema(route), route_table(route)));
	ddb_append_ident(&sql, route->columns[c]);
	appendStringInfo(&sql, " %s", column_type(route, c));
	ddb_exec(dc, sql.data, "adding a column");
	route->private = NULL;		/* the upsert names every column */
}

/*
 * Sink begin_batch: open the file read-write (another process's lock is
 * waited for up to timeout_ms, then a transient error) and start the
 * batch's DuckDB transaction.
 */
static void
ddb_sink_begin_batch(void *conn, MeshRoute *route, int nevents)
{
	DdbConn    *dc = conn;

	ddb_acquire(dc, true);
	(void) load_sink(dc, route);
	ddb_exec(dc, "BEGIN TRANSACTION", "a batch");
	dc->batch_full = nevents >= mesh_batch_size;
}

/*
 * Sink end_batch: commit (ok) or roll back the batch's transaction, then
 * close the file, unless the batch was full and this is the delivery worker
 * (more follow at once: keep it open, at most 2 s).  A failed commit
 * ereports: nothing of the batch is acknowledged.
 */
static void
ddb_sink_end_batch(void *conn, MeshRoute *route, bool ok)
{
	DdbConn    *dc = conn;

	if (ok)
		ddb_exec(dc, "COMMIT", "a batch");
	else if (dc->con != NULL)
	{
		duckdb_result res;

		memset(&res, 0, sizeof(res));
		ddb_api()->query(dc->con, "ROLLBACK", &res);
		ddb_api()->destroy_result(&res);
	}
	if (ok && dc->batch_full && IsBackgroundWorker && !dc->memory)
		dc->keep_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 2000);
	else
	{
		dc->keep_until = 0;
		if (!dc->memory)
			ddb_close(dc);
	}
}

/*
 * Stage rows (every column, or the key columns only) into the TEMP table
 * name, then run sql over it, inside the batch's transaction.
 */
static void
stage_and_run(DdbConn *dc, MeshRoute *route, MeshSinkRow *rows, int n, bool keys_only,
			  const char *name, const char *sql, const char *what)
{
	DdbSink    *s = load_sink(dc, route);
	int			ncols = keys_only ? route->nkeys : route->ncolumns;
	DdbStage   *sg = ddb_stage_begin(dc, name, ncols);

	for (int i = 0; i < n; i++)
	{
		for (int j = 0; j < ncols; j++)
		{
			int			c = keys_only ? route->key_index[j] : j;
			char	   *v = rows[i].values[c];

			if (v && !keys_only && s->is_array[c])
				v = ddb_stage_text(v, route->types[c], true, route->columns[c]);
			ddb_stage_value(sg, v, v ? strlen(v) : 0);
		}
		ddb_stage_end_row(sg);
	}
	ddb_stage_finish(sg);
	ddb_exec(dc, sql, what);
}

/*
 * Sink upsert: one INSERT OR REPLACE of the staged rows.  A statement is
 * taken or refused whole: one item; acknowledged only once end_batch
 * committed (the engine's rule).
 */
static void
ddb_sink_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	stage_and_run(conn, route, rows, n, false, "mesh_upsert_stage",
				  load_sink(conn, route)->upsert_sql, "upserting rows");
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink remove: one DELETE ... USING the staged keys; as upsert. */
static void
ddb_sink_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	stage_and_run(conn, route, keys, n, true, "mesh_delete_stage",
				  load_sink(conn, route)->delete_sql, "deleting rows");
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink truncate: a DELETE of every row, in the batch's transaction. */
static void
ddb_sink_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	ddb_exec(conn, psprintf("DELETE FROM %s", load_sink(conn, route)->qualified), "a TRUNCATE");
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps ddb_sink_ops = {
	.prepare = ddb_sink_prepare,
	.add_column = ddb_sink_add_column,
	.upsert = ddb_sink_upsert,
	.remove = ddb_sink_remove,
	.truncate = ddb_sink_truncate,
	.begin_batch = ddb_sink_begin_batch,
	.end_batch = ddb_sink_end_batch,
};

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
