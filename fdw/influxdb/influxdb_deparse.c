/*
 * influxdb_deparse.c: which conditions and upper operations InfluxQL
 * computes exactly as PostgreSQL does, and the SELECT that does it.
 *
 * Pushed conditions (all exact, ANDed):
 *   time   =, <, <=, >, >=  as nanosecond ranges over whole microseconds
 *          (rows are read at microsecond precision, rounding down), so
 *          time <= t is time < t + 1us; an OR of time conditions is never
 *          sent (InfluxDB 1.x silently answers nothing)
 *   tags   =, <>, IN, IS [NOT] NULL on text columns; an absent tag reads as
 *          NULL, so <> also excludes absent tags, and = '' matches nothing
 *   fields =, <>, IN on text and boolean; also <, <=, >, >= on bigint,
 *          integer, smallint and double precision
 * A NULL value (or an empty IN list) matches no row: no request is sent.
 *
 * Aggregates: count, sum (integers, double precision), avg (double
 * precision, as mean), min, max (integers, double precision); grouped by
 * text tags and one date_bin bucket (GROUP BY time(<width>u) fill(none),
 * bounded by InfluxDB's whole time range since its default upper bound is
 * now()).  A row of the foreign table is a point with at least one of the
 * table's fields set, so count(*) needs a field every point has (the only
 * field, or one declared NOT NULL), and a grouped query also counts every
 * field the aggregates do not read, so that every group with rows shows.
 */
#include "postgres.h"

#include "influxdb_internal.h"

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "influxdb_deparse.h"
#include "mesh_util.h"

#define MIN_NS (PG_INT64_MIN + 2)
#define MAX_NS (PG_INT64_MAX - 1)

static bool
is_text(Oid typid)
{
	return typid == TEXTOID || typid == VARCHAROID;
}

static bool
is_int(Oid typid)
{
	return typid == INT2OID || typid == INT4OID || typid == INT8OID;
}

/* Mark q pushed (and exact) when InfluxQL evaluates it as PostgreSQL does. */
void
influx_classify_qual(MeshTable *table, InfluxLayout *l, MeshQual *q)
{
	MeshColumn *col = &table->columns[q->attnum - 1];
	InfluxRole	role = l->roles[q->attnum - 1];
	Oid			t = col->typid;
	bool		ok = false;

	if (role == INFLUX_TIME)
		ok = q->op <= MESH_QUAL_GE && q->op != MESH_QUAL_NE && q->valtype == t;
	else if (role == INFLUX_TAG && is_text(t))
		ok = q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_NE || q->op == MESH_QUAL_IN ||
			q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL;
	else if (role == INFLUX_FIELD)
	{
		bool		eq = q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_NE || q->op == MESH_QUAL_IN;
		bool		cmp = q->op <= MESH_QUAL_GE || q->op == MESH_QUAL_IN;
		Oid			vt = q->valtype;

		if (q->op == MESH_QUAL_IN)
			vt = get_element_type(vt);
		if (is_text(t))
			ok = eq && is_text(vt);
		else if (t == BOOLOID)
			ok = eq && vt == BOOLOID;
		else if (is_int(t))
			ok = cmp && is_int(vt);
		else if (t == FLOAT8OID)
			ok = cmp && vt == FLOAT8OID;
	}
	q->pushed = q->exact = ok;
}

/* A double as an InfluxQL number: positional notation (no exponent), exact. */
static char *
float_literal(double d)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN];
	int			nd = 0;
	int			point = 0;		/* digits before the decimal point */
	int			exp = 0;
	bool		seen_point = false;
	char	   *p;
	StringInfoData out;

	double_to_shortest_decimal_buf(d, buf);
	initStringInfo(&out);
	p = buf;
	if (*p == '-')
		appendStringInfoChar(&out, *p++);
	for (; *p && *p != 'e'; p++)
	{
		if (*p == '.')
			seen_point = true;
		else
		{
			digits[nd++] = *p;
			if (!seen_point)
				point++;
		}
	}
	if (*p == 'e')
		exp = atoi(p + 1);
	point += exp;
	if (point <= 0)
	{
		appendStringInfoString(&out, "0.");
		for (int i = point; i < 0; i++)
			appendStringInfoChar(&out, '0');
		appendBinaryStringInfo(&out, digits, nd);
		return out.data;
	}
	for (int i = 0; i < Max(point, nd); i++)
	{
		if (i == point)
			appendStringInfoChar(&out, '.');
		appendStringInfoChar(&out, i < nd ? digits[i] : '0');
	}
	if (point >= nd)
		appendStringInfoString(&out, ".0");
	return out.data;
}

/* A value of type typid (text form text) as an InfluxQL literal. */
static char *
literal(Oid typid, Datum value, const char *text)
{
	if (typid == FLOAT8OID)
		return float_literal(text ? strtod(text, NULL) : DatumGetFloat8(value));
	if (typid == BOOLOID)
		return pstrdup((text ? text[0] == 't' : DatumGetBool(value)) ? "true" : "false");
	if (text == NULL)
		text = mesh_datum_text(value, typid);
	if (is_int(typid))
		return pstrdup(text);
	return influx_quote_string(text);
}

/* [lo, hi) in nanoseconds; a bound may be absent. */
typedef struct TimeRange
{
	bool		has_lo;
	bool		has_hi;
	int64		lo;
	int64		hi;
} TimeRange;

/* Intersect r with "time >= us" (lower) or "time < us" (upper); false: empty. */
static bool
time_bound(TimeRange *r, int64 us, bool lower, int add_us)
{
	int64		ns;
	bool		below,
				above;

	if (us == PG_INT64_MAX)
		below = false, above = true;
	else
	{
		us += add_us;
		above = !mesh_lp_pg_to_ns(us, &ns) && us > 0;
		below = !above && !mesh_lp_pg_to_ns(us, &ns);
	}
	if (lower)
	{
		if (above)
			return false;
		if (!below && (!r->has_lo || ns > r->lo))
			r->has_lo = true, r->lo = ns;
	}
	else
	{
		if (below)
			return false;
		if (!above && (!r->has_hi || ns < r->hi))
			r->has_hi = true, r->hi = ns;
	}
	return !(r->has_lo && r->has_hi && r->lo >= r->hi);
}

static void
and(StringInfo where, const char *cond)
{
	appendStringInfo(where, "%s%s", where->len ? " AND " : "", cond);
}

static char *
ref(InfluxLayout *l, AttrNumber att)
{
	return psprintf("%s::%s", influx_quote_ident(l->keys[att - 1]),
					l->roles[att - 1] == INFLUX_TAG ? "tag" : "field");
}

/* "r = value" for an element of an IN list (text form). */
static char *
equals(const char *r, Oid typid, const char *text)
{
	if (is_text(typid))
		return influx_match(r, true, text);
	return psprintf("%s = %s", r, literal(typid, (Datum) 0, text));
}

/* The condition of one tag or field qual with a known value; false: no row matches. */
static bool
value_condition(InfluxLayout *l, MeshColumn *col, MeshQual *q, StringInfo where)
{
	char	   *r = ref(l, q->attnum);
	bool		tag = l->roles[q->attnum - 1] == INFLUX_TAG;
	static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
	char	   *v;

	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		and(where, psprintf("%s %s ''", r, q->op == MESH_QUAL_IS_NULL ? "=" : "!="));
		return true;
	}
	if (q->isnull)
		return false;
	if (q->op == MESH_QUAL_IN)
	{
		char	  **elems;
		int			n = mesh_qual_array_text(q, &elems);
		Oid			et = get_element_type(q->valtype);
		StringInfoData any;

		initStringInfo(&any);
		for (int i = 0; i < n; i++)
			if (!tag || elems[i][0] != '\0')
				appendStringInfo(&any, "%s%s", any.len ? " OR " : "", equals(r, et, elems[i]));
		if (any.len == 0)
			return false;
		and(where, psprintf("(%s)", any.data));
		return true;
	}
	if (!is_text(q->valtype))
	{
		and(where, psprintf("%s %s %s", r, ops[q->op], literal(q->valtype, q->value, NULL)));
		return true;
	}
	v = mesh_datum_text(q->value, q->valtype);
	if (tag && v[0] == '\0')
	{
		/* no tag value is empty (an absent tag reads as NULL) */
		if (q->op == MESH_QUAL_EQ)
			return false;
		and(where, psprintf("%s != ''", r));
	}
	else if (tag && q->op == MESH_QUAL_NE)
		and(where, psprintf("(%s AND %s != '')", influx_match(r, false, v), r));
	else
		and(where, influx_match(r, q->op == MESH_QUAL_EQ, v));
	return true;
}

/*
 * The WHERE conditions of the pushed quals (without "WHERE"); *nothing is
 * set when they match no row.  Unknown values (EXPLAIN) are shown as the
 * expression they come from.  bounded: always bound time (GROUP BY time).
 */
static char *
deparse_where(MeshTable *table, InfluxLayout *l, int nquals, MeshQual *quals, bool bounded,
			  bool *nothing)
{
	StringInfoData where;
	TimeRange	range = {0};

	initStringInfo(&where);
	*nothing = false;
	for (int i = 0; i < nquals; i++)
	{
		MeshQual   *q = &quals[i];
		MeshColumn *col = &table->columns[q->attnum - 1];

		if (!q->known)
		{
			and(&where, psprintf("%s %s %s",
								 l->roles[q->attnum - 1] == INFLUX_TIME ? "time" : ref(l, q->attnum),
								 mesh_qual_op_name(q->op), mesh_qual_display(q)));
			continue;
		}
		if (l->roles[q->attnum - 1] != INFLUX_TIME)
		{
			if (!value_condition(l, col, q, &where))
				*nothing = true;
			continue;
		}
		if (q->isnull ||
			((q->op == MESH_QUAL_GE || q->op == MESH_QUAL_EQ) &&
			 !time_bound(&range, DatumGetInt64(q->value), true, 0)) ||
			(q->op == MESH_QUAL_GT && !time_bound(&range, DatumGetInt64(q->value), true, 1)) ||
			(q->op == MESH_QUAL_LT && !time_bound(&range, DatumGetInt64(q->value), false, 0)) ||
			((q->op == MESH_QUAL_LE || q->op == MESH_QUAL_EQ) &&
			 !time_bound(&range, DatumGetInt64(q->value), false, 1)))
			*nothing = true;
	}
	if (range.has_lo || bounded)
		and(&where, psprintf("time >= " INT64_FORMAT, range.has_lo ? range.lo : MIN_NS));
	if (range.has_hi)
		and(&where, psprintf("time < " INT64_FORMAT, range.hi));
	else if (bounded)
		and(&where, psprintf("time <= " INT64_FORMAT, MAX_NS));
	return where.data;
}

static bool
column_not_null(Oid relid, AttrNumber att)
{
	HeapTuple	tp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(att));
	bool		result = false;

	if (HeapTupleIsValid(tp))
	{
		result = ((Form_pg_attribute) GETSTRUCT(tp))->attnotnull;
		ReleaseSysCache(tp);
	}
	return result;
}

/* The field counted for count(*): the only field, or one declared NOT NULL. */
AttrNumber
influx_count_star_field(MeshTable *table, InfluxLayout *l)
{
	for (int i = 0; i < table->ncolumns; i++)
		if (l->roles[i] == INFLUX_FIELD &&
			(l->nfields == 1 || column_not_null(table->relid, i + 1)))
			return i + 1;
	return InvalidAttrNumber;
}

static const char *
agg_name(MeshAggFunc f)
{
	switch (f)
	{
		case MESH_AGG_COUNT_STAR:
		case MESH_AGG_COUNT:
			return "count";
		case MESH_AGG_SUM:
			return "sum";
		case MESH_AGG_AVG:
			return "mean";
		case MESH_AGG_MIN:
			return "min";
		case MESH_AGG_MAX:
			return "max";
	}
	return "?";
}

/* SELECT list and GROUP BY of an aggregating scan. */
static void
deparse_aggregate(MeshTable *table, InfluxLayout *l, MeshUpper *u, InfluxSelect *s,
				  StringInfo sel, StringInfo group)
{
	bool	   *covered = palloc0(sizeof(bool) * (table->ncolumns + 1));

	s->item_out = palloc(sizeof(int) * (u->noutputs + table->ncolumns + 1));
	for (int i = 0; i < u->noutputs; i++)
	{
		MeshOutput *o = &u->outputs[i];
		AttrNumber	att = o->attnum;

		if (o->kind == MESH_OUT_COLUMN && att != l->time_att)
		{
			appendStringInfo(group, "%s%s", group->len ? ", " : "", ref(l, att));
			s->grouped = true;
			continue;
		}
		if (o->kind != MESH_OUT_AGG)
		{
			appendStringInfo(group, "%stime(" INT64_FORMAT "u)", group->len ? ", " : "",
							 o->kind == MESH_OUT_BUCKET ? o->bucket_us : 1);
			s->grouped = s->by_time = true;
			continue;
		}
		if (o->agg == MESH_AGG_COUNT_STAR)
			att = influx_count_star_field(table, l);
		covered[att] = true;
		appendStringInfo(sel, "%s%s(%s)", sel->len ? ", " : "", agg_name(o->agg), ref(l, att));
		s->item_out[s->nitems++] = i;
	}
	/* every group with a row has some field: count those not read yet */
	for (int i = 0; s->grouped && i < table->ncolumns; i++)
		if (l->roles[i] == INFLUX_FIELD && !covered[i + 1])
		{
			appendStringInfo(sel, "%scount(%s)", sel->len ? ", " : "", ref(l, i + 1));
			s->item_out[s->nitems++] = -1;
		}
}

/*
 * The InfluxQL SELECT of a scan: quals (values known, or shown as their
 * expression for EXPLAIN), upper (or NULL), wanted columns.
 */
InfluxSelect *
influx_build_select(MeshTable *table, InfluxLayout *l, int nquals, MeshQual *quals,
					MeshUpper *u, bool *wanted)
{
	InfluxSelect *s = palloc0(sizeof(InfluxSelect));
	StringInfoData sel;
	StringInfoData group;
	StringInfoData q;
	char	   *where;

	initStringInfo(&sel);
	initStringInfo(&group);
	s->aggregate = u && u->noutputs > 0;
	if (s->aggregate)
		deparse_aggregate(table, l, u, s, &sel, &group);
	else
	{
		s->item_att = palloc(sizeof(AttrNumber) * Max(table->ncolumns, 1));
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < table->ncolumns; i++)
				if ((pass == 0 && l->roles[i] == INFLUX_FIELD) ||
					(pass == 1 && l->roles[i] == INFLUX_TAG && wanted[i]))
				{
					appendStringInfo(&sel, "%s%s", sel.len ? ", " : "", ref(l, i + 1));
					s->item_att[s->nitems++] = i + 1;
				}
		if (l->nfields == 0)
		{
			/* no field to select: every field, mapped by name */
			s->star = true;
			resetStringInfo(&sel);
			appendStringInfoChar(&sel, '*');
		}
	}
	where = deparse_where(table, l, nquals, quals, s->by_time, &s->nothing);
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s FROM %s", sel.data, influx_quote_ident(l->measurement));
	if (where[0])
		appendStringInfo(&q, " WHERE %s", where);
	if (group.len)
		appendStringInfo(&q, " GROUP BY %s%s", group.data, s->by_time ? " fill(none)" : "");
	if (u && u->nsort > 0 && u->sort[0].desc)
		appendStringInfoString(&q, " ORDER BY time DESC");
	if (u && !s->aggregate && u->limit >= 0)
		appendStringInfo(&q, " LIMIT " INT64_FORMAT, u->limit);
	if (u && !s->aggregate && u->offset > 0)
		appendStringInfo(&q, " OFFSET " INT64_FORMAT, u->offset);
	s->text = q.data;
	return s;
}
