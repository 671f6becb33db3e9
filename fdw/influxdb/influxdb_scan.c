/*
 * influxdb_scan.c: reading a measurement through a foreign table.
 *
 * A row is a point that has at least one of the table's fields: the scan
 * selects every field column (InfluxQL returns a point only when a
 * selected field is set) and the tags the query uses.  Planning costs no
 * round trip.  The answer is streamed chunk by chunk (influxdb_query.c).
 * What is pushed down is described in influxdb_deparse.c.
 */
#include "postgres.h"

#include "influxdb_internal.h"

#include "catalog/pg_type.h"
#include "utils/lsyscache.h"

#include "influxdb_deparse.h"

typedef struct InfluxScanState
{
	InfluxLayout *layout;
	InfluxSelect *sel;
	InfluxReader reader;
	bool		started;
	MeshColumn *outcols;		/* aggregating: a column per output, for conversion */
	int		   *out_item;		/* aggregating: the select item of each AGG output */
	int64		returned;		/* aggregating: rows returned (local LIMIT) */
	int64		skipped;		/* aggregating: rows skipped (local OFFSET) */
	bool		any_row;
	AttrNumber *star_map;		/* SELECT *: column of each answer column */
	int			star_n;
} InfluxScanState;

void
influx_plan_scan(MeshScanPlan *plan)
{
	InfluxLayout *l = influx_layout(plan->table);
	double		rows = 100000;

	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];

		influx_classify_qual(plan->table, l, q);
		if (!q->pushed)
			continue;
		if (l->roles[q->attnum - 1] == INFLUX_TIME)
			rows *= q->op == MESH_QUAL_EQ ? 0.0001 : 0.3;
		else
			rows *= q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_IN ? 0.1 : 0.5;
	}
	plan->rows = Max(rows, 1);
}

static bool
is_text(Oid t)
{
	return t == TEXTOID || t == VARCHAROID;
}

/* Can InfluxQL compute agg over column att exactly as PostgreSQL does? */
static bool
aggregate_ok(MeshTable *table, InfluxLayout *l, MeshOutput *o)
{
	Oid			t;

	if (o->agg == MESH_AGG_COUNT_STAR)
		return influx_count_star_field(table, l) != InvalidAttrNumber;
	if (l->roles[o->attnum - 1] != INFLUX_FIELD)
		return false;
	t = table->columns[o->attnum - 1].typid;
	switch (o->agg)
	{
		case MESH_AGG_COUNT:
			return true;
		case MESH_AGG_SUM:
		case MESH_AGG_MIN:
		case MESH_AGG_MAX:
			return t == INT2OID || t == INT4OID || t == INT8OID || t == FLOAT8OID;
		case MESH_AGG_AVG:
			return t == FLOAT8OID;	/* avg of integers is an exact numeric */
		default:
			return false;
	}
}

/*
 * Accept upper when InfluxQL computes it exactly: see influxdb_deparse.c.
 * ORDER BY: time (plain scans) or the time bucket of a single series.
 * LIMIT/OFFSET: sent with plain scans, applied here to aggregated rows.
 */
bool
influx_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
{
	MeshTable  *table = plan->table;
	InfluxLayout *l = influx_layout(table);
	int			time_output = -1;
	bool		tags = false;

	if (upper->noutputs == 0)
		return upper->nsort == 0 ||
			(upper->nsort == 1 && upper->sort[0].ref == l->time_att && l->time_att != 0);
	for (int i = 0; i < upper->noutputs; i++)
	{
		MeshOutput *o = &upper->outputs[i];

		if (o->kind == MESH_OUT_AGG)
		{
			if (!aggregate_ok(table, l, o))
				return false;
			continue;
		}
		if (o->attnum == l->time_att && l->time_att != InvalidAttrNumber)
		{
			if (time_output >= 0)
				return false;	/* one time grouping */
			time_output = i;
			continue;
		}
		if (o->kind != MESH_OUT_COLUMN || l->roles[o->attnum - 1] != INFLUX_TAG ||
			!is_text(table->columns[o->attnum - 1].typid))
			return false;
		tags = true;
	}
	if (l->nfields == 0)
		return false;
	if (upper->nsort > 0)
		return !tags && upper->nsort == 1 && upper->sort[0].ref == time_output + 1;
	return true;
}

static void
prepare_outputs(MeshScan *scan, InfluxScanState *st)
{
	MeshUpper  *u = scan->upper;

	st->outcols = palloc0(sizeof(MeshColumn) * u->noutputs);
	st->out_item = palloc0(sizeof(int) * u->noutputs);
	for (int i = 0; i < u->noutputs; i++)
	{
		MeshColumn *c = &st->outcols[i];
		Oid			fn;

		c->attnum = i + 1;
		c->typid = u->outputs[i].typid;
		c->typmod = -1;
		c->name = u->outputs[i].attnum > 0 ?
			scan->table->columns[u->outputs[i].attnum - 1].name : "count";
		getTypeInputInfo(c->typid, &fn, &c->typioparam);
		fmgr_info(fn, &c->in_func);
	}
	for (int k = 0; k < st->sel->nitems; k++)
		if (st->sel->item_out[k] >= 0)
			st->out_item[st->sel->item_out[k]] = k;
}

void
influx_begin_scan(MeshScan *scan)
{
	InfluxScanState *st = palloc0(sizeof(InfluxScanState));
	InfluxConn *ic = scan->conn;

	scan->state = st;
	st->layout = influx_layout(scan->table);
	st->sel = influx_build_select(scan->table, st->layout, scan->nquals, scan->quals,
								  scan->upper, scan->wanted);
	if (st->sel->aggregate)
		prepare_outputs(scan, st);
	if (st->sel->nothing)
		return;
	influx_query_start(ic, influx_database(ic, st->layout->database), st->sel->text, NULL,
					   true, "a query", &st->reader);
	st->started = true;
	scan->requests++;
}

/* Map the answer's columns to table columns by name (SELECT *). */
static void
map_star(MeshScan *scan, InfluxScanState *st, json_t *columns)
{
	InfluxLayout *l = st->layout;

	st->star_n = json_array_size(columns);
	st->star_map = MemoryContextAllocZero(scan->scan_cxt, sizeof(AttrNumber) * Max(st->star_n, 1));
	for (int k = 1; k < st->star_n; k++)
	{
		const char *name = json_string_value(json_array_get(columns, k));

		for (int i = 0; name && i < scan->table->ncolumns; i++)
			if (l->roles[i] == INFLUX_TAG && strcmp(l->keys[i], name) == 0)
				st->star_map[k] = i + 1;
	}
}

/* Set column att from v (a tag is a string, a field any JSON scalar). */
static void
set_value(MeshScan *scan, AttrNumber att, json_t *v, Datum *values, bool *nulls)
{
	MeshColumn *col = &scan->table->columns[att - 1];

	if (!scan->wanted[att - 1] || v == NULL)
		return;
	values[att - 1] = mesh_json_to_datum(col, v, &nulls[att - 1]);
}

static bool
next_plain_row(MeshScan *scan, InfluxScanState *st, Datum *values, bool *nulls)
{
	InfluxLayout *l = st->layout;
	InfluxReader *r = &st->reader;
	json_t	   *row;

	if (!influx_query_next(r))
		return false;
	row = r->row;
	if (st->sel->star && r->new_series)
		map_star(scan, st, json_object_get(r->series, "columns"));
	r->new_series = false;
	if (json_array_size(row) != (st->sel->star ? st->star_n : st->sel->nitems + 1))
		mesh_json_malformed(r->ic->servername, r->what,
							"A row does not have one value per column.");
	if (l->time_att != InvalidAttrNumber && scan->wanted[l->time_att - 1])
	{
		values[l->time_att - 1] =
			Int64GetDatum(mesh_lp_ns_to_pg(influx_time_ns(json_array_get(row, 0),
														  r->ic->servername)));
		nulls[l->time_att - 1] = false;
	}
	for (int k = 0; !st->sel->star && k < st->sel->nitems; k++)
		set_value(scan, st->sel->item_att[k], json_array_get(row, k + 1), values, nulls);
	for (int k = 1; st->sel->star && k < st->star_n; k++)
		if (st->star_map[k])
			set_value(scan, st->star_map[k], json_array_get(row, k), values, nulls);
	return true;
}

/* The outputs of one aggregated row (row NULL: the row of an empty input). */
static void
fill_outputs(MeshScan *scan, InfluxScanState *st, json_t *series, json_t *row,
			 Datum *values, bool *nulls)
{
	MeshUpper  *u = scan->upper;
	InfluxLayout *l = st->layout;

	for (int i = 0; i < u->noutputs; i++)
	{
		MeshOutput *o = &u->outputs[i];

		nulls[i] = true;
		if (row == NULL)
		{
			if (o->kind == MESH_OUT_AGG &&
				(o->agg == MESH_AGG_COUNT || o->agg == MESH_AGG_COUNT_STAR))
			{
				values[i] = Int64GetDatum(0);
				nulls[i] = false;
			}
			continue;
		}
		if (o->kind == MESH_OUT_AGG)
			values[i] = mesh_json_to_datum(&st->outcols[i],
										   json_array_get(row, st->out_item[i] + 1), &nulls[i]);
		else if (o->attnum == l->time_att)
		{
			values[i] = Int64GetDatum(mesh_lp_ns_to_pg(influx_time_ns(json_array_get(row, 0),
																	  st->reader.ic->servername)));
			nulls[i] = false;
		}
		else
		{
			char	   *tag = influx_series_tag(series, l->keys[o->attnum - 1]);

			if (tag)
				values[i] = mesh_value_from_text(&st->outcols[i], tag, strlen(tag)),
					nulls[i] = false;
		}
	}
}

static bool
next_aggregate_row(MeshScan *scan, InfluxScanState *st, Datum *values, bool *nulls)
{
	MeshUpper  *u = scan->upper;

	for (;;)
	{
		bool		found = st->started && influx_query_next(&st->reader);

		if (u->limit >= 0 && st->returned >= u->limit)
			return false;
		if (!found)
		{
			/* without GROUP BY, an empty input still has its one row */
			if (st->any_row || st->sel->grouped)
				return false;
			st->any_row = true;
			fill_outputs(scan, st, NULL, NULL, values, nulls);
		}
		else
		{
			json_t	   *row = st->reader.row;

			if (json_array_size(row) != st->sel->nitems + 1)
				mesh_json_malformed(st->reader.ic->servername, st->reader.what,
									"A row does not have one value per column.");
			st->any_row = true;
			fill_outputs(scan, st, st->reader.series, row, values, nulls);
		}
		if (st->skipped < u->offset)
		{
			st->skipped++;
			if (!found)
				return false;
			continue;
		}
		st->returned++;
		return true;
	}
}

bool
influx_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	InfluxScanState *st = scan->state;

	if (st->sel->aggregate)
		return next_aggregate_row(scan, st, values, nulls);
	return st->started && next_plain_row(scan, st, values, nulls);
}

void
influx_end_scan(MeshScan *scan)
{
	InfluxScanState *st = scan->state;

	if (st == NULL)
		return;
	if (st->started)
		influx_query_close(&st->reader);
	scan->state = NULL;
}

/* The InfluxQL of the scan, as EXPLAIN VERBOSE shows it. */
char *
influx_explain_scan(MeshScan *scan)
{
	InfluxLayout *l = influx_layout(scan->table);
	InfluxSelect *s = influx_build_select(scan->table, l, scan->nquals, scan->quals,
										  scan->upper, scan->wanted);

	if (s->nothing)
		return psprintf("none (a pushed condition matches no row): %s", s->text);
	return s->text;
}
