/*
 * clickhouse_modify.c: INSERT through ClickHouse foreign tables.
 *
 * Rows are encoded in RowBinary for the remote columns' exact types (read
 * once per statement from system.columns) and sent in batches of
 * batch_size rows (option, default 100000) or 16 MB, and at the end of the
 * statement: one INSERT request per batch.  Writes are not transactional:
 * a PostgreSQL rollback does not undo a batch that was sent.  UPDATE and
 * DELETE are refused: ClickHouse runs them as asynchronous mutations
 * (ALTER TABLE ... UPDATE/DELETE) that rewrite whole parts, which
 * mesh.execute can issue deliberately.
 */
#include "postgres.h"

#include "json_value.h"
#include "utils/memutils.h"

#include "clickhouse_internal.h"

#define DEFAULT_BATCH_ROWS 100000
#define BATCH_BYTES (16 * 1024 * 1024)

typedef struct ChModifyState
{
	ChConn	   *cc;
	char	   *insert_sql;
	ChType	  **types;			/* per attnum - 1; NULL: dropped column */
	StringInfoData buf;
	int			nrows;
	int			batch_rows;
	MemoryContext row_cxt;
} ChModifyState;

/* No row identity: UPDATE and DELETE are refused at their first row. */
int
ch_row_identity(MeshTable *table, AttrNumber *attnums)
{
	return 0;
}

void
ch_begin_modify(MeshModify *m)
{
	ChModifyState *st = palloc0(sizeof(ChModifyState));
	MeshTable  *t = m->table;
	const char *db;
	const char *table;
	const char *batch = mesh_defelem_get(t->options, "batch_size");
	List	   *remote;
	bool		exists;
	StringInfoData sql;
	int			ncols = 0;

	m->state = st;
	st->cc = m->conn;
	db = ch_table_database(st->cc, t);
	table = ch_table_name(t);
	mesh_table_prepare_io(t);
	remote = ch_remote_columns(st->cc, db, table, &exists);
	m->requests++;
	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("ClickHouse table %s does not exist on server \"%s\"",
						ch_qualified_name(db, table), st->cc->servername),
				 errhint("Create it with mesh.execute, or set the option \"table\" of foreign table \"%s\".",
						 t->relname)));
	st->types = palloc0(sizeof(ChType *) * Max(t->ncolumns, 1));
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (", ch_qualified_name(db, table));
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *col = &t->columns[i];
		const char *name;
		ListCell   *lc;

		if (col->name == NULL)
			continue;
		name = ch_column_name(col);
		foreach(lc, remote)
		{
			ChRemoteColumn *rc = lfirst(lc);

			if (strcmp(rc->name, name) == 0)
				st->types[i] = rc->type;
		}
		if (st->types[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("ClickHouse table %s has no column \"%s\"",
							ch_qualified_name(db, table), name),
					 errhint("Set the option column_name of column \"%s\", or drop it from foreign table \"%s\".",
							 col->name, t->relname)));
		if (ncols++ > 0)
			appendStringInfoString(&sql, ", ");
		ch_append_ident(&sql, name);
	}
	appendStringInfoString(&sql, ") FORMAT RowBinary");
	st->insert_sql = sql.data;
	st->batch_rows = batch ? atoi(batch) : DEFAULT_BATCH_ROWS;
	initStringInfo(&st->buf);
	st->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "clickhouse insert row",
										ALLOCSET_DEFAULT_SIZES);
}

static void
flush(MeshModify *m)
{
	ChModifyState *st = m->state;

	if (st->nrows == 0)
		return;
	ch_insert(st->cc, st->insert_sql, st->buf.data, st->buf.len, "an insert");
	m->requests++;
	resetStringInfo(&st->buf);
	st->nrows = 0;
}

void
ch_modify_row(MeshModify *m)
{
	ChModifyState *st = m->state;
	MemoryContext old;

	if (m->op != MESH_MODIFY_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ClickHouse foreign tables accept INSERT only"),
				 errdetail("ClickHouse applies UPDATE and DELETE as asynchronous mutations that rewrite whole parts."),
				 errhint("Use mesh.execute(server, 'ALTER TABLE ... UPDATE ... WHERE ...') or 'ALTER TABLE ... DELETE WHERE ...' deliberately.")));
	MemoryContextReset(st->row_cxt);
	old = MemoryContextSwitchTo(st->row_cxt);
	for (int i = 0; i < m->table->ncolumns; i++)
		if (st->types[i])
			ch_encode_datum(&st->buf, st->types[i], &m->table->columns[i],
							m->new_values[i], m->new_nulls[i]);
	MemoryContextSwitchTo(old);
	if (++st->nrows >= st->batch_rows || st->buf.len >= BATCH_BYTES)
		flush(m);
}

void
ch_end_modify(MeshModify *m)
{
	if (m->state)
		flush(m);
}
