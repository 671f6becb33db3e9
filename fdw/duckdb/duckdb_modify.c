/*
 * duckdb_modify.c: staging tables (rows appended as text through DuckDB's
 * appender, then moved into their target by one INSERT ... SELECT that
 * casts each column), used by INSERT through a foreign table and by the
 * replication sink.
 *
 * A staging table is a TEMP table of VARCHAR columns.  The move casts each
 * column to the target's type: bytea travels as \x hex (unhex), an array
 * as a JSON array of strings (CAST through JSON to the LIST type), every
 * other value as PostgreSQL's text form, which DuckDB's casts read
 * (integers, decimals, floats, t/f, ISO dates and timestamps with +00,
 * intervals in the postgres style, uuids, JSON).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "duckdb_internal.h"
#include "mesh_util.h"

/* Reset callback: destroy an appender left open by an error. */
static void
stage_cleanup(void *arg)
{
	DdbStage   *sg = arg;

	if (sg->app != NULL)
		ddb_api()->appender_destroy(&sg->app);
	sg->app = NULL;
}

/*
 * Create (or empty) TEMP table name with ncols VARCHAR columns c0..cN-1
 * and open an appender on it (freed with the current memory context).
 */
DdbStage *
ddb_stage_begin(DdbConn *dc, const char *name, int ncols)
{
	const DdbApi *a = ddb_api();
	DdbStage   *sg = palloc0(sizeof(DdbStage));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE OR REPLACE TEMP TABLE %s (", name);
	for (int i = 0; i < ncols; i++)
		appendStringInfo(&sql, "%sc%d VARCHAR", i ? ", " : "", i);
	appendStringInfoChar(&sql, ')');
	ddb_exec(dc, sql.data, "creating a staging table");
	sg->dc = dc;
	sg->name = pstrdup(name);
	sg->ncols = ncols;
	if (a->appender_create_ext(dc->con, "temp", "main", name, &sg->app) != DuckDBSuccess)
	{
		char	   *msg = pstrdup(a->appender_error(sg->app) ? a->appender_error(sg->app) : "?");

		a->appender_destroy(&sg->app);
		sg->app = NULL;
		ddb_raise(dc, "creating an appender", msg);
	}
	cb->func = stage_cleanup;
	cb->arg = sg;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return sg;
}

static void
stage_check(DdbStage *sg, duckdb_state rc)
{
	if (rc != DuckDBSuccess)
		ddb_raise(sg->dc, "appending a row",
				  pstrdup(ddb_api()->appender_error(sg->app) ?
						  ddb_api()->appender_error(sg->app) : "?"));
}

/* Append one value (NULL: SQL NULL) of the current row. */
void
ddb_stage_value(DdbStage *sg, const char *value, size_t len)
{
	const DdbApi *a = ddb_api();

	stage_check(sg, value ? a->append_varchar_length(sg->app, value, len) :
				a->append_null(sg->app));
}

void
ddb_stage_end_row(DdbStage *sg)
{
	stage_check(sg, ddb_api()->appender_end_row(sg->app));
	sg->rows++;
}

/* Flush and close the appender: the rows are in the staging table. */
void
ddb_stage_finish(DdbStage *sg)
{
	const DdbApi *a = ddb_api();

	stage_check(sg, a->appender_close(sg->app));
	a->appender_destroy(&sg->app);
	sg->app = NULL;
}

/*
 * The expression converting staging column i (text of PostgreSQL type
 * typid) to the target type duck_type (NULL: let INSERT cast it).
 */
char *
ddb_stage_expr(int i, Oid typid, bool is_array, const char *duck_type)
{
	char	   *e;

	if (typid == BYTEAOID)
		e = psprintf("unhex(substr(c%d, 3))", i);
	else if (is_array)
		e = psprintf("CAST(c%d AS JSON)", i);
	else
		e = psprintf("c%d", i);
	return duck_type ? psprintf("CAST(%s AS %s)", e, duck_type) : e;
}

/* Text to stage for a value of PostgreSQL type typid given as text. */
char *
ddb_stage_text(char *text, Oid typid, bool is_array, const char *column)
{
	return is_array ? ddb_pg_array_to_json(text, column) : text;
}

/* ---- INSERT through a foreign table */

typedef struct ModifyState
{
	DdbStage   *stage;
	int			ncols;
	int		   *attnums;		/* staged columns */
	bool	   *is_array;
	int			nest;			/* canonical output GUC level */
} ModifyState;

void
ddb_begin_modify(MeshModify *m)
{
	MeshTable  *t = m->table;
	ModifyState *ms = palloc0(sizeof(ModifyState));

	mesh_table_prepare_io(t);
	ms->attnums = palloc(sizeof(int) * t->ncolumns);
	ms->is_array = palloc(sizeof(bool) * t->ncolumns);
	for (int i = 0; i < t->ncolumns; i++)
		if (t->columns[i].name)
		{
			ms->is_array[ms->ncols] = OidIsValid(get_element_type(t->columns[i].typid));
			ms->attnums[ms->ncols++] = i;
		}
	ddb_acquire(m->conn, true);
	ms->stage = ddb_stage_begin(m->conn, "mesh_insert_stage", ms->ncols);
	m->state = ms;
}

void
ddb_modify_row(MeshModify *m)
{
	ModifyState *ms = m->state;
	MeshTable  *t = m->table;
	int			nest;

	if (m->op != MESH_MODIFY_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DuckDB foreign tables accept INSERT only"),
				 errhint("Run UPDATE or DELETE in DuckDB with mesh.execute().")));
	nest = mesh_canonical_output_begin();
	for (int i = 0; i < ms->ncols; i++)
	{
		int			a = ms->attnums[i];
		MeshColumn *col = &t->columns[a];
		char	   *s;

		if (m->new_nulls[a])
		{
			ddb_stage_value(ms->stage, NULL, 0);
			continue;
		}
		s = OutputFunctionCall(&col->out_func, m->new_values[a]);
		s = ddb_stage_text(s, col->typid, ms->is_array[i], col->name);
		ddb_stage_value(ms->stage, s, strlen(s));
	}
	mesh_canonical_output_end(nest);
	ddb_stage_end_row(ms->stage);
}

void
ddb_end_modify(MeshModify *m)
{
	ModifyState *ms = m->state;
	MeshTable  *t = m->table;
	StringInfoData sql,
				cols,
				exprs;

	if (ms == NULL)
		return;
	ddb_stage_finish(ms->stage);
	initStringInfo(&sql);
	initStringInfo(&cols);
	initStringInfo(&exprs);
	for (int i = 0; i < ms->ncols; i++)
	{
		MeshColumn *col = &t->columns[ms->attnums[i]];

		if (i > 0)
		{
			appendStringInfoString(&cols, ", ");
			appendStringInfoString(&exprs, ", ");
		}
		ddb_append_ident(&cols, ddb_column_name(col));
		appendStringInfoString(&exprs, ddb_stage_expr(i, col->typid, ms->is_array[i], NULL));
	}
	appendStringInfo(&sql, "INSERT INTO %s (%s) SELECT %s FROM mesh_insert_stage",
					 ddb_qualified(ddb_table_schema(t), ddb_table_name(t)), cols.data, exprs.data);
	ddb_exec(m->conn, sql.data, "an INSERT");
	ddb_exec(m->conn, "DROP TABLE temp.main.mesh_insert_stage", "dropping a staging table");
	m->requests++;
	m->state = NULL;
}
