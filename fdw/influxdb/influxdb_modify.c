/*
 * influxdb_modify.c: INSERT through an InfluxDB foreign table.
 *
 * Each row becomes one line of line protocol (tags and fields as the
 * table's columns say, NULL ones left out, time from the time column in
 * the server's precision); lines are POSTed to /write every batch_size
 * rows (server option, default 5000) or 4 MB, and at the end of the
 * statement.  Writes are not transactional: a rollback does not undo
 * them.  A point with the same measurement, tags and time is overwritten
 * (its fields merged), as InfluxDB does.
 *
 * UPDATE and DELETE are refused (at their first row): a row does not know
 * every tag of its series unless the table declares them all, so neither
 * could be exact.
 */
#include "postgres.h"

#include "influxdb_internal.h"

#define INFLUX_DEFAULT_BATCH 5000
#define INFLUX_BATCH_BYTES (4 * 1024 * 1024)

typedef struct InfluxModifyState
{
	InfluxLayout *layout;
	InfluxConn *ic;
	const char *database;
	char	   *measurement_text;	/* escaped once */
	char	  **key_text;		/* escaped tag or field key per column */
	StringInfoData lines;
	int			nlines;
	int			batch_size;
} InfluxModifyState;

/* UPDATE and DELETE are refused when a row reaches modify_row. */
static void
refuse_change(MeshTable *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("UPDATE and DELETE are not supported on InfluxDB foreign table \"%s\"",
					table->relname),
			 errdetail("A point is identified by its measurement, every tag of its series and its time; a foreign table row cannot name them all exactly."),
			 errhint("INSERT a point with the same tags and time to overwrite its fields, or run InfluxQL DELETE through mesh.execute().")));
}

/* No identity columns: only INSERT is supported. */
int
influx_row_identity(MeshTable *table, AttrNumber *attnums)
{
	return 0;
}

void
influx_begin_modify(MeshModify *m)
{
	InfluxModifyState *st = palloc0(sizeof(InfluxModifyState));
	InfluxConn *ic = m->conn;

	m->state = st;
	st->ic = ic;
	st->layout = influx_layout(m->table);
	st->database = influx_database(ic, st->layout->database);
	st->batch_size = ic->batch_size > 0 ? ic->batch_size : INFLUX_DEFAULT_BATCH;
	initStringInfo(&st->lines);
	st->measurement_text = mesh_lp_measurement_text(st->layout->measurement);
	st->key_text = palloc0(sizeof(char *) * Max(m->table->ncolumns, 1));
	for (int i = 0; i < m->table->ncolumns; i++)
		if (st->layout->roles[i] == INFLUX_TAG || st->layout->roles[i] == INFLUX_FIELD)
			st->key_text[i] = mesh_lp_key_text(st->layout->keys[i],
											   st->layout->roles[i] == INFLUX_TAG,
											   m->table->columns[i].name);
	if (st->layout->time_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no time column to write points with",
						m->table->relname),
				 errhint("Add a timestamptz column named \"time\" or with option time 'true'.")));
}

static void
flush(MeshModify *m)
{
	InfluxModifyState *st = m->state;

	if (st->nlines == 0)
		return;
	influx_write(st->ic, st->database, &st->lines);
	m->requests++;
	resetStringInfo(&st->lines);
	st->nlines = 0;
}

static char *
column_text(MeshModify *m, AttrNumber att)
{
	size_t		len;

	if (m->new_nulls[att - 1])
		return NULL;
	return mesh_value_to_text(&m->table->columns[att - 1], m->new_values[att - 1], &len);
}

/* Append the row's line; flush a full batch. */
void
influx_modify_row(MeshModify *m)
{
	InfluxModifyState *st = m->state;
	InfluxLayout *l = st->layout;
	MeshTable  *t = m->table;
	MeshColumn *tcol = &t->columns[l->time_att - 1];
	int			start = st->lines.len;
	bool		first = true;
	int64		ts;

	if (m->op != MESH_MODIFY_INSERT)
		refuse_change(t);
	if (m->new_nulls[l->time_att - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("time column \"%s\" of foreign table \"%s\" cannot be NULL",
						tcol->name, t->relname),
				 errdetail("Every point needs a time.")));
	ts = mesh_lp_time(DatumGetInt64(m->new_values[l->time_att - 1]), st->ic->precision,
					  tcol->name, NULL);
	appendStringInfoString(&st->lines, st->measurement_text);
	for (int i = 0; i < l->ntags; i++)
	{
		AttrNumber	att = l->tag_order[i];
		char	   *v = column_text(m, att);

		if (v == NULL || v[0] == '\0')
			continue;
		appendStringInfoChar(&st->lines, ',');
		appendStringInfoString(&st->lines, st->key_text[att - 1]);
		appendStringInfoChar(&st->lines, '=');
		mesh_lp_tag_value(&st->lines, v, t->columns[att - 1].name);
	}
	for (int i = 0; i < t->ncolumns; i++)
	{
		char	   *v;

		if (l->roles[i] != INFLUX_FIELD || (v = column_text(m, i + 1)) == NULL)
			continue;
		appendStringInfoChar(&st->lines, first ? ' ' : ',');
		appendStringInfoString(&st->lines, st->key_text[i]);
		appendStringInfoChar(&st->lines, '=');
		mesh_lp_field_value(&st->lines, l->types[i], v, t->columns[i].name);
		first = false;
	}
	if (first)
	{
		st->lines.len = start;
		st->lines.data[start] = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("row for foreign table \"%s\" has no non-NULL field", t->relname),
				 errdetail("A point needs at least one field; only the time and the tags are set.")));
	}
	mesh_lp_end(&st->lines, ts);
	if (++st->nlines >= st->batch_size || st->lines.len >= INFLUX_BATCH_BYTES)
		flush(m);
}

void
influx_end_modify(MeshModify *m)
{
	flush(m);
}
