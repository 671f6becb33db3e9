/*
 * clickhouse_deparse.c: the SELECT a scan sends, and the upper pushdown
 * (ORDER BY, LIMIT/OFFSET, GROUP BY with aggregates).
 *
 * Aggregates are rewritten to PostgreSQL's semantics (NULL over no rows,
 * exact sums in Decimal128, avg computed as PostgreSQL does from an exact
 * sum and count); those that cannot be (floating sums, sorting by an avg)
 * are refused and run locally.  The quals' conditions come from
 * clickhouse_quals.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "clickhouse_internal.h"
#include "mesh_util.h"

/* ClickHouse 18.16 crashes when LIMIT + OFFSET overflows: stay far below */
#define MAX_LIMIT ((int64) 1 << 60)

/* The expression reading a column as text PostgreSQL's input takes. */
static char *
read_expr(MeshColumn *col)
{
	if (ch_type_kind(col->typid) == CHQ_TIMESTAMP)
		return psprintf("toString(%s, 'UTC')", ch_colref(col));
	return ch_colref(col);
}

/* ---- upper pushdown */

static bool
sortable_kind(ChQualKind k)
{
	return k == CHQ_INT || k == CHQ_FLOAT || k == CHQ_NUMERIC || k == CHQ_TEXT ||
		k == CHQ_BOOL || k == CHQ_DATE || k == CHQ_TIMESTAMP;
}

/* The scale of a numeric column, or -1 when it has no typmod. */
static int
column_scale(MeshColumn *col)
{
	if (col->typid != NUMERICOID || col->typmod < (int32) VARHDRSZ)
		return col->typid == NUMERICOID ? -1 : 0;
	return (col->typmod - VARHDRSZ) & 0xffff;
}

/* Can ClickHouse compute output o exactly? */
static bool
output_supported(MeshTable *t, MeshOutput *o)
{
	MeshColumn *col = o->attnum > 0 ? &t->columns[o->attnum - 1] : NULL;
	ChQualKind	k = col ? ch_type_kind(col->typid) : CHQ_NONE;

	switch (o->kind)
	{
		case MESH_OUT_COLUMN:
			/* grouping: bytewise equality must be PostgreSQL's equality */
			return k == CHQ_INT || k == CHQ_NUMERIC || k == CHQ_TEXT || k == CHQ_BOOL ||
				k == CHQ_DATE || k == CHQ_TIMESTAMP || k == CHQ_UUID;
		case MESH_OUT_BUCKET:
			return k == CHQ_TIMESTAMP && !ch_is_datetime64(col) && o->bucket_us > 0;
		case MESH_OUT_AGG:
			switch (o->agg)
			{
				case MESH_AGG_COUNT_STAR:
				case MESH_AGG_COUNT:
					return true;
				case MESH_AGG_SUM:
				case MESH_AGG_AVG:
					return k == CHQ_INT || (k == CHQ_NUMERIC && column_scale(col) >= 0);
				case MESH_AGG_MIN:
				case MESH_AGG_MAX:
					if (k == CHQ_TEXT)
						return ch_column_is_c(t, o->attnum);
					return k == CHQ_INT || k == CHQ_FLOAT || k == CHQ_NUMERIC ||
						k == CHQ_DATE || k == CHQ_TIMESTAMP;
			}
	}
	return false;
}

/* Can ClickHouse sort by sort key s exactly? */
static bool
sort_supported(MeshTable *t, MeshUpper *u, MeshSortKey *s)
{
	if (u->noutputs == 0)
	{
		MeshColumn *col = &t->columns[s->ref - 1];
		ChQualKind	k = ch_type_kind(col->typid);

		return sortable_kind(k) && (k != CHQ_TEXT || ch_column_is_c(t, s->ref));
	}
	else
	{
		MeshOutput *o = &u->outputs[s->ref - 1];

		if (o->kind == MESH_OUT_AGG)
			return o->agg != MESH_AGG_AVG;	/* computed here, from sum and count */
		if (o->kind == MESH_OUT_BUCKET)
			return true;
		return sortable_kind(ch_type_kind(t->columns[o->attnum - 1].typid));
	}
}

/*
 * Upper pushdown: ORDER BY, LIMIT/OFFSET, GROUP BY with aggregates, when
 * every qual is pushed exactly and ClickHouse computes what PostgreSQL
 * would.
 */
bool
ch_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
{
	MeshTable  *t = plan->table;
	bool		grouped = false;

	for (int i = 0; i < upper->noutputs; i++)
	{
		if (!output_supported(t, &upper->outputs[i]))
			return false;
		if (upper->outputs[i].kind != MESH_OUT_AGG)
			grouped = true;
	}
	for (int i = 0; i < upper->nsort; i++)
		if (!sort_supported(t, upper, &upper->sort[i]))
			return false;
	if (upper->offset > 0 && upper->limit < 0)
		return false;			/* OFFSET alone: 18.16 needs a LIMIT with it */
	if (upper->limit > MAX_LIMIT || upper->offset > MAX_LIMIT)
		return false;
	if (upper->noutputs > 0)
		plan->rows = grouped ? Max(plan->rows / 100, 1) : 1;
	if (upper->limit >= 0)
		plan->rows = Min(plan->rows, (double) Max(upper->limit, 1));
	return true;
}

/* ---- building the statement */

static void
add_field(ChSelect *sel, StringInfo list, const char *expr, ChFieldRole role, int target,
		  MeshColumn *col)
{
	ChField    *f = &sel->fields[sel->nfields++];

	f->role = role;
	f->target = target;
	f->col = col;
	f->is_array = col && OidIsValid(get_element_type(col->typid));
	appendStringInfo(list, "%s%s", list->len ? ", " : "", expr);
}

/* "if(count(c) = 0, NULL, agg)": PostgreSQL's NULL over no values */
static char *
null_if_none(const char *c, const char *agg)
{
	return psprintf("if(count(%s) = 0, NULL, %s)", c, agg);
}

/*
 * The select fields of output i (one, or two for avg) and its expression
 * for GROUP BY (grouping outputs) and ORDER BY.
 */
static void
output_fields(ChSelect *sel, StringInfo list, MeshTable *t, MeshOutput *o, int i,
			  char **group_expr, char **order_expr)
{
	MeshColumn *col = o->attnum > 0 ? &t->columns[o->attnum - 1] : NULL;
	char	   *c = col ? ch_colref(col) : NULL;
	char	   *e = NULL;
	int			scale = col ? column_scale(col) : 0;

	*group_expr = NULL;
	switch (o->kind)
	{
		case MESH_OUT_COLUMN:
			add_field(sel, list, read_expr(col), CHF_COLUMN, i, col);
			*group_expr = *order_expr = c;
			return;
		case MESH_OUT_BUCKET:
			if (o->bucket_us % USECS_PER_SEC == 0)
			{
				int64		w = o->bucket_us / USECS_PER_SEC;

				e = psprintf("intDiv(toUInt32(%s), " INT64_FORMAT ") * " INT64_FORMAT, c, w, w);
				add_field(sel, list, e, CHF_BUCKET_S, i, col);
			}
			else
			{
				e = psprintf("intDiv(toUInt64(toUInt32(%s)) * 1000000, " INT64_FORMAT ") * " INT64_FORMAT,
							 c, o->bucket_us, o->bucket_us);
				add_field(sel, list, e, CHF_BUCKET_US, i, col);
			}
			*group_expr = *order_expr = e;
			return;
		case MESH_OUT_AGG:
			break;
	}
	switch (o->agg)
	{
		case MESH_AGG_COUNT_STAR:
			e = "count()";
			add_field(sel, list, e, CHF_INT8, i, NULL);
			break;
		case MESH_AGG_COUNT:
			e = psprintf("count(%s)", c);
			add_field(sel, list, e, CHF_INT8, i, NULL);
			break;
		case MESH_AGG_SUM:
			if (col->typid == INT2OID || col->typid == INT4OID)
			{
				e = null_if_none(c, psprintf("sum(%s)", c));
				add_field(sel, list, e, CHF_INT8, i, NULL);
			}
			else
			{
				e = null_if_none(c, psprintf("sum(toDecimal128(%s, %d))", c, scale));
				add_field(sel, list, e, CHF_NUMERIC, i, NULL);
			}
			break;
		case MESH_AGG_AVG:
			add_field(sel, list, psprintf("sum(toDecimal128(%s, %d))", c, scale),
					  CHF_AVG_SUM, i, NULL);
			add_field(sel, list, psprintf("count(%s)", c), CHF_AVG_COUNT, i, NULL);
			e = NULL;			/* not sortable remotely */
			break;
		case MESH_AGG_MIN:
		case MESH_AGG_MAX:
			{
				bool		max = o->agg == MESH_AGG_MAX;

				if (ch_type_kind(col->typid) == CHQ_FLOAT)
					/* NaN is the largest float in PostgreSQL */
					e = max ? psprintf("if(countIf(isNaN(%s)) > 0, nan, max(%s))", c, c) :
						psprintf("if(countIf(NOT isNaN(%s)) > 0, minIf(%s, NOT isNaN(%s)), nan)", c, c, c);
				else
					e = psprintf("%s(%s)", max ? "max" : "min", c);
				e = null_if_none(c, e);
				add_field(sel, list,
						  ch_type_kind(col->typid) == CHQ_TIMESTAMP ? psprintf("toString(%s, 'UTC')", e) : e,
						  CHF_COLUMN, i, col);
				break;
			}
	}
	*order_expr = e;
}

static bool
output_is_float(MeshTable *t, MeshOutput *o)
{
	return o->attnum > 0 && ch_type_kind(t->columns[o->attnum - 1].typid) == CHQ_FLOAT &&
		(o->kind == MESH_OUT_COLUMN || o->agg == MESH_AGG_MIN || o->agg == MESH_AGG_MAX);
}

static void
append_sort(StringInfo buf, const char *expr, bool is_float, MeshSortKey *s)
{
	const char *dir = s->desc ? "DESC" : "ASC";
	const char *nulls = s->nulls_first ? "NULLS FIRST" : "NULLS LAST";

	if (buf->len)
		appendStringInfoString(buf, ", ");
	/* ClickHouse sorts NaN apart from the numbers; PostgreSQL as the largest */
	if (is_float)
		appendStringInfo(buf, "isNaN(%s) %s %s, ", expr, dir, nulls);
	appendStringInfo(buf, "%s %s %s", expr, dir, nulls);
}

/*
 * The SELECT a scan sends (quals evaluated, or shown as parameters when
 * for_explain), and how to read its answer.
 */
ChSelect *
ch_deparse_scan(ChConn *cc, MeshScan *scan, bool for_explain)
{
	MeshTable  *t = scan->table;
	MeshUpper  *u = scan->upper;
	ChSelect   *sel = palloc0(sizeof(ChSelect));
	StringInfoData sql,
				list,
				where,
				group,
				order;
	char	  **order_exprs = NULL;

	initStringInfo(&sql);
	initStringInfo(&list);
	initStringInfo(&where);
	initStringInfo(&group);
	initStringInfo(&order);
	sel->aggregating = u != NULL && u->noutputs > 0;
	sel->fields = palloc0(sizeof(ChField) * (Max(t->ncolumns, u ? 2 * u->noutputs : 0) + 1));
	if (sel->aggregating)
	{
		order_exprs = palloc0(sizeof(char *) * u->noutputs);
		for (int i = 0; i < u->noutputs; i++)
		{
			char	   *g;

			output_fields(sel, &list, t, &u->outputs[i], i, &g, &order_exprs[i]);
			if (g)
				appendStringInfo(&group, "%s%s", group.len ? ", " : "", g);
		}
	}
	else
	{
		for (int i = 0; i < t->ncolumns; i++)
			if (t->columns[i].name && scan->wanted[i])
				add_field(sel, &list, read_expr(&t->columns[i]), CHF_COLUMN, i, &t->columns[i]);
		if (sel->nfields == 0)
			add_field(sel, &list, "1", CHF_NONE, 0, NULL);
	}
	for (int i = 0; i < scan->nquals; i++)
	{
		StringInfoData c;
		ChCond		r;

		initStringInfo(&c);
		r = ch_render_qual(&c, t, &scan->quals[i]);
		if (r == CH_COND_FALSE)
		{
			sel->empty = true;
			resetStringInfo(&c);
			appendStringInfoChar(&c, '0');
		}
		else if (r == CH_COND_TRUE)
			continue;
		appendStringInfo(&where, "%s%s", where.len ? " AND " : "", c.data);
	}
	for (int i = 0; u && i < u->nsort; i++)
	{
		MeshSortKey *s = &u->sort[i];

		if (sel->aggregating)
			append_sort(&order, order_exprs[s->ref - 1],
						output_is_float(t, &u->outputs[s->ref - 1]), s);
		else
			append_sort(&order, ch_colref(&t->columns[s->ref - 1]),
						ch_type_kind(t->columns[s->ref - 1].typid) == CHQ_FLOAT, s);
	}
	appendStringInfo(&sql, "SELECT %s FROM %s", list.data,
					 ch_qualified_name(ch_table_database(cc, t), ch_table_name(t)));
	if (where.len)
		appendStringInfo(&sql, " WHERE %s", where.data);
	if (group.len)
		appendStringInfo(&sql, " GROUP BY %s", group.data);
	if (order.len)
		appendStringInfo(&sql, " ORDER BY %s", order.data);
	if (u && u->limit >= 0)
	{
		appendStringInfo(&sql, " LIMIT " INT64_FORMAT, u->limit);
		if (u->offset > 0)
			appendStringInfo(&sql, " OFFSET " INT64_FORMAT, u->offset);
	}
	/* without GROUP BY an aggregate answers one row even when nothing matches */
	if (sel->aggregating && group.len == 0)
		sel->empty = false;
	(void) for_explain;
	sel->sql = sql.data;
	return sel;
}
