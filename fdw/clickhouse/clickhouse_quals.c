/*
 * clickhouse_quals.c: which quals a ClickHouse scan pushes down, and their
 * ClickHouse conditions.
 *
 * Planning costs no round trip.  The remote column types are taken to be
 * the documented counterparts of the foreign table's types (README: int ~
 * Int*, float8 ~ Float64, numeric ~ Decimal, text ~ String, timestamptz ~
 * DateTime, date ~ Date, ...).  A qual is "exact" when ClickHouse keeps
 * exactly the rows PostgreSQL keeps; where the two differ the condition is
 * rewritten so they agree:
 *   - floats: PostgreSQL orders NaN above every number and NaN = NaN, so
 *     "v > x" becomes (v > x OR isNaN(v)), "v = 'NaN'" isNaN(v), ...;
 *   - text: equality and LIKE are bytewise on both sides; <, > only for
 *     columns of collation "C";
 *   - timestamps: DateTime holds whole seconds from 1970 to 2105, so a
 *     fraction or a value out of range is turned into the equivalent
 *     whole-second condition (or a constant);
 *   - dates out of ClickHouse's Date range become constants.
 * A value that cannot be rendered exactly is left out of the remote
 * condition (a superset: the local recheck filters).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "clickhouse_internal.h"
#include "mesh_util.h"

/* The kind of a column or value type for pushdown (CHQ_NONE: not pushed). */
ChQualKind
ch_type_kind(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return CHQ_INT;
		case FLOAT4OID:
		case FLOAT8OID:
			return CHQ_FLOAT;
		case NUMERICOID:
			return CHQ_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return CHQ_TEXT;
		case BOOLOID:
			return CHQ_BOOL;
		case DATEOID:
			return CHQ_DATE;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return CHQ_TIMESTAMP;
		case UUIDOID:
			return CHQ_UUID;
	}
	return CHQ_NONE;
}

/* A timestamp column declared with a fractional precision reads a DateTime64. */
bool
ch_is_datetime64(MeshColumn *col)
{
	return ch_type_kind(col->typid) == CHQ_TIMESTAMP && col->typmod > 0;
}

/* Does the column sort bytewise (collation "C" or "POSIX")? */
bool
ch_column_is_c(MeshTable *t, AttrNumber att)
{
	Oid			typid,
				coll;
	int32		typmod;

	get_atttypetypmodcoll(t->relid, att, &typid, &typmod, &coll);
	return !OidIsValid(coll) || lc_collate_is_c(coll);
}

char *
ch_colref(MeshColumn *col)
{
	StringInfoData buf;

	initStringInfo(&buf);
	ch_append_ident(&buf, ch_column_name(col));
	return buf.data;
}

/* ---- planning quals */

/* Can qual q be pushed, and exactly?  Sets q->pushed and q->exact. */
static void
plan_qual(MeshTable *t, MeshQual *q)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	ChQualKind	ck = ch_type_kind(col->typid);
	Oid			vt;

	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		q->pushed = q->exact = true;
		return;
	}
	if (ck == CHQ_NONE)
		return;
	vt = q->op == MESH_QUAL_IN ? get_element_type(q->valtype) : q->valtype;
	if (ch_type_kind(vt) != ck || (ck == CHQ_TIMESTAMP && vt != col->typid))
		return;
	switch (q->op)
	{
		case MESH_QUAL_LT:
		case MESH_QUAL_LE:
		case MESH_QUAL_GT:
		case MESH_QUAL_GE:
			if (ck == CHQ_UUID || (ck == CHQ_TEXT && !ch_column_is_c(t, q->attnum)))
				return;
			break;
		case MESH_QUAL_LIKE:
			if (ck != CHQ_TEXT)
				return;
			break;
		default:
			break;
	}
	q->pushed = true;
	q->exact = true;
	if (ck == CHQ_NUMERIC || ch_is_datetime64(col))
		q->exact = false;		/* decided per value below */
	if (q->known && !q->isnull && ck == CHQ_NUMERIC && q->op != MESH_QUAL_IN)
	{
		char	   *txt = mesh_datum_text(q->value, q->valtype);

		q->exact = strlen(txt) <= 38;	/* a Decimal128 literal */
	}
	if (q->known && !q->isnull && ch_is_datetime64(col) && q->op != MESH_QUAL_IN)
	{
		Timestamp	ts = DatumGetTimestamp(q->value);

		q->exact = !TIMESTAMP_NOT_FINITE(ts) && ts % USECS_PER_SEC == 0 &&
			ts + EPOCH_OFFSET_USEC >= 0 && ts + EPOCH_OFFSET_USEC <= MAX_DATETIME_SECS * USECS_PER_SEC;
	}
}

/* Mark the quals ClickHouse evaluates; estimate the rows without a round trip. */
void
ch_plan_scan(MeshScanPlan *plan)
{
	double		rows = 1000000;

	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];

		plan_qual(plan->table, q);
		if (!q->pushed)
			continue;
		switch (q->op)
		{
			case MESH_QUAL_EQ:
				rows *= 0.001;
				break;
			case MESH_QUAL_IN:
				{
					char	  **elems;
					int			n = q->known ? mesh_qual_array_text(q, &elems) : 10;

					rows *= 0.001 * Max(n, 1);
					break;
				}
			case MESH_QUAL_NE:
			case MESH_QUAL_IS_NOT_NULL:
				rows *= 0.9;
				break;
			default:
				rows *= 0.3;
		}
	}
	plan->rows = Max(rows, 1);
}

/* ---- rendering quals */

static const char *
op_text(MeshQualOp op)
{
	switch (op)
	{
		case MESH_QUAL_EQ:
			return "=";
		case MESH_QUAL_NE:
			return "!=";
		case MESH_QUAL_LT:
			return "<";
		case MESH_QUAL_LE:
			return "<=";
		case MESH_QUAL_GT:
			return ">";
		case MESH_QUAL_GE:
			return ">=";
		case MESH_QUAL_IN:
			return "IN";
		case MESH_QUAL_LIKE:
			return "LIKE";
		default:
			return "?";
	}
}

/* "c op lit" */
static ChCond
compare(StringInfo out, const char *c, MeshQualOp op, const char *lit)
{
	appendStringInfo(out, "%s %s %s", c, op_text(op), lit);
	return CH_COND_SOME;
}

/*
 * A value outside the remote type's range: below (every stored value is
 * greater) or above.  Non-NULL rows satisfy "c op v" for all or none.
 */
static ChCond
out_of_range(StringInfo out, const char *c, MeshQualOp op, bool below)
{
	bool		all;

	if (op == MESH_QUAL_NE)
		all = true;
	else if (op == MESH_QUAL_EQ)
		all = false;
	else if (below)
		all = op == MESH_QUAL_GT || op == MESH_QUAL_GE;
	else
		all = op == MESH_QUAL_LT || op == MESH_QUAL_LE;
	if (!all)
		return CH_COND_FALSE;
	appendStringInfo(out, "isNotNull(%s)", c);
	return CH_COND_SOME;
}

static char *
datetime_lit(int64 secs)
{
	int64		days = secs / SECS_PER_DAY;
	int64		rest = secs % SECS_PER_DAY;
	int			y,
				m,
				d;

	j2date((int) (days + UNIX_EPOCH_JDATE), &y, &m, &d);
	return psprintf("toDateTime('%04d-%02d-%02d %02d:%02d:%02d', 'UTC')", y, m, d,
					(int) (rest / 3600), (int) (rest / 60 % 60), (int) (rest % 60));
}

static char *
date_lit(int64 days)
{
	int			y,
				m,
				d;

	j2date((int) (days + UNIX_EPOCH_JDATE), &y, &m, &d);
	return psprintf("toDate('%04d-%02d-%02d')", y, m, d);
}

/* A numeric as toDecimal128('text', scale), or NULL when it has no such form. */
static char *
decimal_lit(Datum v)
{
	char	   *txt = DatumGetCString(DirectFunctionCall1(numeric_out, v));
	char	   *dot;
	StringInfoData buf;

	if (strlen(txt) > 38 || !isdigit((unsigned char) txt[txt[0] == '-' ? 1 : 0]))
		return NULL;
	dot = strchr(txt, '.');
	initStringInfo(&buf);
	appendStringInfoString(&buf, "toDecimal128(");
	ch_append_literal(&buf, txt, strlen(txt));
	appendStringInfo(&buf, ", %d)", dot ? (int) strlen(dot + 1) : 0);
	return buf.data;
}

static double
float_value(Oid typid, Datum v)
{
	return typid == FLOAT4OID ? (double) DatumGetFloat4(v) : DatumGetFloat8(v);
}

static int64
int_value(Oid typid, Datum v)
{
	return typid == INT2OID ? DatumGetInt16(v) : typid == INT4OID ? DatumGetInt32(v) :
		DatumGetInt64(v);
}

static char *
int_lit(int64 v)
{
	if (v == PG_INT64_MIN)
		return "(-9223372036854775807 - 1)";
	return psprintf(INT64_FORMAT, v);
}

static char *
text_lit(Datum v)
{
	StringInfoData buf;
	text	   *t = DatumGetTextPP(v);

	initStringInfo(&buf);
	ch_append_literal(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	return buf.data;
}

/* PostgreSQL's LIKE pattern with ClickHouse's escapes, or NULL if malformed. */
static char *
like_pattern(Datum v)
{
	char	   *p = TextDatumGetCString(v);
	StringInfoData buf;

	initStringInfo(&buf);
	for (; *p; p++)
	{
		if (*p == '\\')
		{
			if (p[1] == '\0')
				return NULL;	/* PostgreSQL rejects a trailing escape */
			p++;
			if (*p == '%' || *p == '_' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
		}
		appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/*
 * One value as a literal for c's type; NULL with *never = true when no
 * stored value can equal it, NULL with *never = false when it cannot be
 * rendered exactly.
 */
static char *
scalar_lit(MeshColumn *col, ChQualKind k, Oid vt, Datum v, bool *never)
{
	*never = false;
	switch (k)
	{
		case CHQ_INT:
			return int_lit(int_value(vt, v));
		case CHQ_FLOAT:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				ch_append_double(&buf, float_value(vt, v));
				return buf.data;
			}
		case CHQ_NUMERIC:
			if (numeric_is_nan(DatumGetNumeric(v)) || numeric_is_inf(DatumGetNumeric(v)))
			{
				*never = true;
				return NULL;
			}
			return decimal_lit(v);
		case CHQ_TEXT:
			return text_lit(v);
		case CHQ_BOOL:
			return DatumGetBool(v) ? "1" : "0";
		case CHQ_DATE:
			{
				DateADT		d = DatumGetDateADT(v);
				int64		days = (int64) d + EPOCH_OFFSET_DAYS;

				*never = DATE_NOT_FINITE(d) || days < 0 || days > MAX_DATE_DAYS;
				return *never ? NULL : date_lit(days);
			}
		case CHQ_TIMESTAMP:
			{
				Timestamp	ts = DatumGetTimestamp(v);
				int64		e = ts + EPOCH_OFFSET_USEC;
				bool		whole = !TIMESTAMP_NOT_FINITE(ts) && e % USECS_PER_SEC == 0;
				bool		in_range = !TIMESTAMP_NOT_FINITE(ts) && e >= 0 &&
					e / USECS_PER_SEC <= MAX_DATETIME_SECS;

				if (whole && in_range)
					return datetime_lit(e / USECS_PER_SEC);
				*never = !ch_is_datetime64(col);
				return NULL;
			}
		case CHQ_UUID:
			{
				StringInfoData buf;
				char	   *s = DatumGetCString(DirectFunctionCall1(uuid_out, v));

				initStringInfo(&buf);
				appendStringInfoString(&buf, "toUUID(");
				ch_append_literal(&buf, s, strlen(s));
				appendStringInfoChar(&buf, ')');
				return buf.data;
			}
		case CHQ_NONE:
			break;
	}
	return NULL;
}

static ChCond
render_float(StringInfo out, const char *c, MeshQualOp op, double d)
{
	StringInfoData lit;

	if (isnan(d))
	{
		switch (op)
		{
			case MESH_QUAL_EQ:
			case MESH_QUAL_GE:
				appendStringInfo(out, "isNaN(%s)", c);
				return CH_COND_SOME;
			case MESH_QUAL_NE:
			case MESH_QUAL_LT:
				appendStringInfo(out, "NOT isNaN(%s)", c);
				return CH_COND_SOME;
			case MESH_QUAL_LE:
				appendStringInfo(out, "isNotNull(%s)", c);
				return CH_COND_SOME;
			default:
				return CH_COND_FALSE;
		}
	}
	initStringInfo(&lit);
	ch_append_double(&lit, d);
	if (op == MESH_QUAL_GT || op == MESH_QUAL_GE)
	{
		appendStringInfo(out, "(%s %s %s OR isNaN(%s))", c, op_text(op), lit.data, c);
		return CH_COND_SOME;
	}
	return compare(out, c, op, lit.data);
}

static ChCond
render_timestamp(StringInfo out, MeshColumn *col, const char *c, MeshQualOp op, Timestamp ts)
{
	int64		e = ts + EPOCH_OFFSET_USEC;
	int64		fl,
				ce;
	bool		whole;

	if (TIMESTAMP_NOT_FINITE(ts) || e < 0 || e / USECS_PER_SEC > MAX_DATETIME_SECS)
	{
		if (ch_is_datetime64(col))
			return CH_COND_TRUE;
		return out_of_range(out, c, op, TIMESTAMP_IS_NOBEGIN(ts) || (!TIMESTAMP_NOT_FINITE(ts) && e < 0));
	}
	fl = e / USECS_PER_SEC;
	whole = e % USECS_PER_SEC == 0;
	ce = whole ? fl : fl + 1;
	if (whole)
		return compare(out, c, op, datetime_lit(fl));
	if (ch_is_datetime64(col))
	{
		/* a superset: the enclosing whole seconds */
		switch (op)
		{
			case MESH_QUAL_LT:
			case MESH_QUAL_LE:
				return compare(out, c, MESH_QUAL_LE, ce <= MAX_DATETIME_SECS ? datetime_lit(ce) : datetime_lit(fl));
			case MESH_QUAL_GT:
			case MESH_QUAL_GE:
				return compare(out, c, MESH_QUAL_GE, datetime_lit(fl));
			default:
				return CH_COND_TRUE;
		}
	}
	/* DateTime holds whole seconds: the exact equivalent */
	switch (op)
	{
		case MESH_QUAL_EQ:
			return CH_COND_FALSE;
		case MESH_QUAL_NE:
			appendStringInfo(out, "isNotNull(%s)", c);
			return CH_COND_SOME;
		case MESH_QUAL_LT:
		case MESH_QUAL_LE:
			return compare(out, c, MESH_QUAL_LE, datetime_lit(fl));
		default:
			return compare(out, c, MESH_QUAL_GT, datetime_lit(fl));
	}
}

static ChCond
render_numeric(StringInfo out, const char *c, MeshQualOp op, Datum v)
{
	Numeric		n = DatumGetNumeric(v);
	char	   *lit;

	if (numeric_is_nan(n) || numeric_is_inf(n))
	{
		/* NaN and +Infinity are above every Decimal, -Infinity below */
		bool		below = numeric_is_inf(n) &&
			DatumGetCString(DirectFunctionCall1(numeric_out, v))[0] == '-';

		return out_of_range(out, c, op, below);
	}
	lit = decimal_lit(v);
	if (lit == NULL)
		return CH_COND_TRUE;
	return compare(out, c, op, lit);
}

static ChCond
render_in(StringInfo out, MeshColumn *col, const char *c, ChQualKind k, MeshQual *q)
{
	ArrayType  *arr = DatumGetArrayTypeP(q->value);
	Oid			et = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	StringInfoData list;
	int			nlit = 0;
	bool		nan = false;

	get_typlenbyvalalign(et, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, et, typlen, typbyval, typalign, &elems, &nulls, &n);
	initStringInfo(&list);
	for (int i = 0; i < n; i++)
	{
		bool		never;
		char	   *lit;

		if (nulls[i])
			continue;
		if (k == CHQ_FLOAT && isnan(float_value(et, elems[i])))
		{
			nan = true;
			continue;
		}
		lit = scalar_lit(col, k, et, elems[i], &never);
		if (lit == NULL && !never)
			return CH_COND_TRUE;	/* not renderable: no remote filter */
		if (lit == NULL)
			continue;
		appendStringInfo(&list, "%s%s", nlit++ ? ", " : "", lit);
	}
	if (nlit == 0 && !nan)
		return CH_COND_FALSE;
	if (nlit > 0 && nan)
		appendStringInfo(out, "(%s IN (%s) OR isNaN(%s))", c, list.data, c);
	else if (nlit > 0)
		appendStringInfo(out, "%s IN (%s)", c, list.data);
	else
		appendStringInfo(out, "isNaN(%s)", c);
	return CH_COND_SOME;
}

/* Append the ClickHouse condition of a pushed qual. */
ChCond
ch_render_qual(StringInfo out, MeshTable *t, MeshQual *q)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	char	   *c = ch_colref(col);
	ChQualKind	k = ch_type_kind(col->typid);
	bool		never;
	char	   *lit;

	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		appendStringInfo(out, "%s(%s)", q->op == MESH_QUAL_IS_NULL ? "isNull" : "isNotNull", c);
		return CH_COND_SOME;
	}
	if (!q->known)				/* EXPLAIN without ANALYZE: show the parameter */
		return compare(out, c, q->op, mesh_qual_display(q));
	if (q->isnull)
		return CH_COND_FALSE;
	if (q->op == MESH_QUAL_IN)
		return render_in(out, col, c, k, q);
	if (q->op == MESH_QUAL_LIKE)
	{
		char	   *pat = like_pattern(q->value);
		StringInfoData buf;

		if (pat == NULL)
			return CH_COND_TRUE;
		initStringInfo(&buf);
		ch_append_literal(&buf, pat, strlen(pat));
		return compare(out, c, q->op, buf.data);
	}
	switch (k)
	{
		case CHQ_FLOAT:
			return render_float(out, c, q->op, float_value(q->valtype, q->value));
		case CHQ_TIMESTAMP:
			return render_timestamp(out, col, c, q->op, DatumGetTimestamp(q->value));
		case CHQ_NUMERIC:
			return render_numeric(out, c, q->op, q->value);
		case CHQ_DATE:
			{
				DateADT		d = DatumGetDateADT(q->value);
				int64		days = (int64) d + EPOCH_OFFSET_DAYS;

				if (DATE_NOT_FINITE(d) || days < 0 || days > MAX_DATE_DAYS)
					return out_of_range(out, c, q->op, DATE_IS_NOBEGIN(d) || (!DATE_NOT_FINITE(d) && days < 0));
				return compare(out, c, q->op, date_lit(days));
			}
		default:
			lit = scalar_lit(col, k, q->valtype, q->value, &never);
			if (lit == NULL)
				return never ? CH_COND_FALSE : CH_COND_TRUE;
			return compare(out, c, q->op, lit);
	}
}

