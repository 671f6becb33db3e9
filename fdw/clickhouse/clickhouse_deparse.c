/*
 * clickhouse_deparse.c: what a scan asks ClickHouse, and which quals and
 * upper operations are pushed down.
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
 *   - timestamps: DateTime holds whole seconds from 1970 to 2106, so a
 *     fraction or a value out of range is turned into the equivalent
 *     whole-second condition (or a constant);
 *   - dates out of ClickHouse's Date range become constants.
 * Aggregates are rewritten to PostgreSQL's semantics (NULL over no rows,
 * exact sums in Decimal128, avg computed as PostgreSQL does from an exact
 * sum and count); those that cannot be (floating sums, sorting by an avg)
 * are refused and run locally.
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

/* ClickHouse 18.16 crashes when LIMIT + OFFSET overflows: stay far below */
#define MAX_LIMIT ((int64) 1 << 60)

typedef enum QualKind
{
	QK_NONE,
	QK_INT,
	QK_FLOAT,
	QK_NUMERIC,
	QK_TEXT,
	QK_BOOL,
	QK_DATE,
	QK_TIMESTAMP,
	QK_UUID
} QualKind;

typedef enum Cond
{
	COND_SOME,					/* a condition was appended */
	COND_TRUE,					/* always true (or not rendered: a superset) */
	COND_FALSE					/* never true */
} Cond;

static QualKind
type_kind(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return QK_INT;
		case FLOAT4OID:
		case FLOAT8OID:
			return QK_FLOAT;
		case NUMERICOID:
			return QK_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return QK_TEXT;
		case BOOLOID:
			return QK_BOOL;
		case DATEOID:
			return QK_DATE;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return QK_TIMESTAMP;
		case UUIDOID:
			return QK_UUID;
	}
	return QK_NONE;
}

/* A timestamp column declared with a fractional precision reads a DateTime64. */
static bool
is_datetime64(MeshColumn *col)
{
	return type_kind(col->typid) == QK_TIMESTAMP && col->typmod > 0;
}

/* Does the column sort bytewise (collation "C" or "POSIX")? */
static bool
column_is_c(MeshTable *t, AttrNumber att)
{
	Oid			typid,
				coll;
	int32		typmod;

	get_atttypetypmodcoll(t->relid, att, &typid, &typmod, &coll);
	return !OidIsValid(coll) || lc_collate_is_c(coll);
}

static char *
colref(MeshColumn *col)
{
	StringInfoData buf;

	initStringInfo(&buf);
	ch_append_ident(&buf, ch_column_name(col));
	return buf.data;
}

/* The expression reading a column as text PostgreSQL's input takes. */
static char *
read_expr(MeshColumn *col)
{
	if (type_kind(col->typid) == QK_TIMESTAMP)
		return psprintf("toString(%s, 'UTC')", colref(col));
	return colref(col);
}

/* ---- planning quals */

/* Can qual q be pushed, and exactly?  Sets q->pushed and q->exact. */
static void
plan_qual(MeshTable *t, MeshQual *q)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	QualKind	ck = type_kind(col->typid);
	Oid			vt;

	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		q->pushed = q->exact = true;
		return;
	}
	if (ck == QK_NONE)
		return;
	vt = q->op == MESH_QUAL_IN ? get_element_type(q->valtype) : q->valtype;
	if (type_kind(vt) != ck || (ck == QK_TIMESTAMP && vt != col->typid))
		return;
	switch (q->op)
	{
		case MESH_QUAL_LT:
		case MESH_QUAL_LE:
		case MESH_QUAL_GT:
		case MESH_QUAL_GE:
			if (ck == QK_UUID || (ck == QK_TEXT && !column_is_c(t, q->attnum)))
				return;
			break;
		case MESH_QUAL_LIKE:
			if (ck != QK_TEXT)
				return;
			break;
		default:
			break;
	}
	q->pushed = true;
	q->exact = true;
	if (ck == QK_NUMERIC || is_datetime64(col))
		q->exact = false;		/* decided per value below */
	if (q->known && !q->isnull && ck == QK_NUMERIC && q->op != MESH_QUAL_IN)
	{
		char	   *txt = mesh_datum_text(q->value, q->valtype);

		q->exact = strlen(txt) <= 38;	/* a Decimal128 literal */
	}
	if (q->known && !q->isnull && is_datetime64(col) && q->op != MESH_QUAL_IN)
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
static Cond
compare(StringInfo out, const char *c, MeshQualOp op, const char *lit)
{
	appendStringInfo(out, "%s %s %s", c, op_text(op), lit);
	return COND_SOME;
}

/*
 * A value outside the remote type's range: below (every stored value is
 * greater) or above.  Non-NULL rows satisfy "c op v" for all or none.
 */
static Cond
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
		return COND_FALSE;
	appendStringInfo(out, "isNotNull(%s)", c);
	return COND_SOME;
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
scalar_lit(MeshColumn *col, QualKind k, Oid vt, Datum v, bool *never)
{
	*never = false;
	switch (k)
	{
		case QK_INT:
			return int_lit(int_value(vt, v));
		case QK_FLOAT:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				ch_append_double(&buf, float_value(vt, v));
				return buf.data;
			}
		case QK_NUMERIC:
			if (numeric_is_nan(DatumGetNumeric(v)) || numeric_is_inf(DatumGetNumeric(v)))
			{
				*never = true;
				return NULL;
			}
			return decimal_lit(v);
		case QK_TEXT:
			return text_lit(v);
		case QK_BOOL:
			return DatumGetBool(v) ? "1" : "0";
		case QK_DATE:
			{
				DateADT		d = DatumGetDateADT(v);
				int64		days = (int64) d + EPOCH_OFFSET_DAYS;

				*never = DATE_NOT_FINITE(d) || days < 0 || days > MAX_DATE_DAYS;
				return *never ? NULL : date_lit(days);
			}
		case QK_TIMESTAMP:
			{
				Timestamp	ts = DatumGetTimestamp(v);
				int64		e = ts + EPOCH_OFFSET_USEC;
				bool		whole = !TIMESTAMP_NOT_FINITE(ts) && e % USECS_PER_SEC == 0;
				bool		in_range = !TIMESTAMP_NOT_FINITE(ts) && e >= 0 &&
					e / USECS_PER_SEC <= MAX_DATETIME_SECS;

				if (whole && in_range)
					return datetime_lit(e / USECS_PER_SEC);
				*never = !is_datetime64(col);
				return NULL;
			}
		case QK_UUID:
			{
				StringInfoData buf;
				char	   *s = DatumGetCString(DirectFunctionCall1(uuid_out, v));

				initStringInfo(&buf);
				appendStringInfoString(&buf, "toUUID(");
				ch_append_literal(&buf, s, strlen(s));
				appendStringInfoChar(&buf, ')');
				return buf.data;
			}
		case QK_NONE:
			break;
	}
	return NULL;
}

static Cond
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
				return COND_SOME;
			case MESH_QUAL_NE:
			case MESH_QUAL_LT:
				appendStringInfo(out, "NOT isNaN(%s)", c);
				return COND_SOME;
			case MESH_QUAL_LE:
				appendStringInfo(out, "isNotNull(%s)", c);
				return COND_SOME;
			default:
				return COND_FALSE;
		}
	}
	initStringInfo(&lit);
	ch_append_double(&lit, d);
	if (op == MESH_QUAL_GT || op == MESH_QUAL_GE)
	{
		appendStringInfo(out, "(%s %s %s OR isNaN(%s))", c, op_text(op), lit.data, c);
		return COND_SOME;
	}
	return compare(out, c, op, lit.data);
}

static Cond
render_timestamp(StringInfo out, MeshColumn *col, const char *c, MeshQualOp op, Timestamp ts)
{
	int64		e = ts + EPOCH_OFFSET_USEC;
	int64		fl,
				ce;
	bool		whole;

	if (TIMESTAMP_NOT_FINITE(ts) || e < 0 || e / USECS_PER_SEC > MAX_DATETIME_SECS)
	{
		if (is_datetime64(col))
			return COND_TRUE;
		return out_of_range(out, c, op, TIMESTAMP_IS_NOBEGIN(ts) || (!TIMESTAMP_NOT_FINITE(ts) && e < 0));
	}
	fl = e / USECS_PER_SEC;
	whole = e % USECS_PER_SEC == 0;
	ce = whole ? fl : fl + 1;
	if (whole)
		return compare(out, c, op, datetime_lit(fl));
	if (is_datetime64(col))
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
				return COND_TRUE;
		}
	}
	/* DateTime holds whole seconds: the exact equivalent */
	switch (op)
	{
		case MESH_QUAL_EQ:
			return COND_FALSE;
		case MESH_QUAL_NE:
			appendStringInfo(out, "isNotNull(%s)", c);
			return COND_SOME;
		case MESH_QUAL_LT:
		case MESH_QUAL_LE:
			return compare(out, c, MESH_QUAL_LE, datetime_lit(fl));
		default:
			return compare(out, c, MESH_QUAL_GT, datetime_lit(fl));
	}
}

static Cond
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
		return COND_TRUE;
	return compare(out, c, op, lit);
}

static Cond
render_in(StringInfo out, MeshColumn *col, const char *c, QualKind k, MeshQual *q)
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
		if (k == QK_FLOAT && isnan(float_value(et, elems[i])))
		{
			nan = true;
			continue;
		}
		lit = scalar_lit(col, k, et, elems[i], &never);
		if (lit == NULL && !never)
			return COND_TRUE;	/* not renderable: no remote filter */
		if (lit == NULL)
			continue;
		appendStringInfo(&list, "%s%s", nlit++ ? ", " : "", lit);
	}
	if (nlit == 0 && !nan)
		return COND_FALSE;
	if (nlit > 0 && nan)
		appendStringInfo(out, "(%s IN (%s) OR isNaN(%s))", c, list.data, c);
	else if (nlit > 0)
		appendStringInfo(out, "%s IN (%s)", c, list.data);
	else
		appendStringInfo(out, "isNaN(%s)", c);
	return COND_SOME;
}

/* Append the ClickHouse condition of a pushed qual. */
static Cond
render_qual(StringInfo out, MeshTable *t, MeshQual *q)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	char	   *c = colref(col);
	QualKind	k = type_kind(col->typid);
	bool		never;
	char	   *lit;

	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		appendStringInfo(out, "%s(%s)", q->op == MESH_QUAL_IS_NULL ? "isNull" : "isNotNull", c);
		return COND_SOME;
	}
	if (!q->known)				/* EXPLAIN without ANALYZE: show the parameter */
		return compare(out, c, q->op, mesh_qual_display(q));
	if (q->isnull)
		return COND_FALSE;
	if (q->op == MESH_QUAL_IN)
		return render_in(out, col, c, k, q);
	if (q->op == MESH_QUAL_LIKE)
	{
		char	   *pat = like_pattern(q->value);
		StringInfoData buf;

		if (pat == NULL)
			return COND_TRUE;
		initStringInfo(&buf);
		ch_append_literal(&buf, pat, strlen(pat));
		return compare(out, c, q->op, buf.data);
	}
	switch (k)
	{
		case QK_FLOAT:
			return render_float(out, c, q->op, float_value(q->valtype, q->value));
		case QK_TIMESTAMP:
			return render_timestamp(out, col, c, q->op, DatumGetTimestamp(q->value));
		case QK_NUMERIC:
			return render_numeric(out, c, q->op, q->value);
		case QK_DATE:
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
				return never ? COND_FALSE : COND_TRUE;
			return compare(out, c, q->op, lit);
	}
}

/* ---- upper pushdown */

static bool
sortable_kind(QualKind k)
{
	return k == QK_INT || k == QK_FLOAT || k == QK_NUMERIC || k == QK_TEXT ||
		k == QK_BOOL || k == QK_DATE || k == QK_TIMESTAMP;
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
	QualKind	k = col ? type_kind(col->typid) : QK_NONE;

	switch (o->kind)
	{
		case MESH_OUT_COLUMN:
			/* grouping: bytewise equality must be PostgreSQL's equality */
			return k == QK_INT || k == QK_NUMERIC || k == QK_TEXT || k == QK_BOOL ||
				k == QK_DATE || k == QK_TIMESTAMP || k == QK_UUID;
		case MESH_OUT_BUCKET:
			return k == QK_TIMESTAMP && !is_datetime64(col) && o->bucket_us > 0;
		case MESH_OUT_AGG:
			switch (o->agg)
			{
				case MESH_AGG_COUNT_STAR:
				case MESH_AGG_COUNT:
					return true;
				case MESH_AGG_SUM:
				case MESH_AGG_AVG:
					return k == QK_INT || (k == QK_NUMERIC && column_scale(col) >= 0);
				case MESH_AGG_MIN:
				case MESH_AGG_MAX:
					if (k == QK_TEXT)
						return column_is_c(t, o->attnum);
					return k == QK_INT || k == QK_FLOAT || k == QK_NUMERIC ||
						k == QK_DATE || k == QK_TIMESTAMP;
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
		QualKind	k = type_kind(col->typid);

		return sortable_kind(k) && (k != QK_TEXT || column_is_c(t, s->ref));
	}
	else
	{
		MeshOutput *o = &u->outputs[s->ref - 1];

		if (o->kind == MESH_OUT_AGG)
			return o->agg != MESH_AGG_AVG;	/* computed here, from sum and count */
		if (o->kind == MESH_OUT_BUCKET)
			return true;
		return sortable_kind(type_kind(t->columns[o->attnum - 1].typid));
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

	for (int i = 0; i < plan->nquals; i++)
		if (!plan->quals[i].pushed || !plan->quals[i].exact)
			return false;
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
	char	   *c = col ? colref(col) : NULL;
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

				if (type_kind(col->typid) == QK_FLOAT)
					/* NaN is the largest float in PostgreSQL */
					e = max ? psprintf("if(countIf(isNaN(%s)) > 0, nan, max(%s))", c, c) :
						psprintf("if(countIf(NOT isNaN(%s)) > 0, minIf(%s, NOT isNaN(%s)), nan)", c, c, c);
				else
					e = psprintf("%s(%s)", max ? "max" : "min", c);
				e = null_if_none(c, e);
				add_field(sel, list,
						  type_kind(col->typid) == QK_TIMESTAMP ? psprintf("toString(%s, 'UTC')", e) : e,
						  CHF_COLUMN, i, col);
				break;
			}
	}
	*order_expr = e;
}

static bool
output_is_float(MeshTable *t, MeshOutput *o)
{
	return o->attnum > 0 && type_kind(t->columns[o->attnum - 1].typid) == QK_FLOAT &&
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
		Cond		r;

		initStringInfo(&c);
		r = render_qual(&c, t, &scan->quals[i]);
		if (r == COND_FALSE)
		{
			sel->empty = true;
			resetStringInfo(&c);
			appendStringInfoChar(&c, '0');
		}
		else if (r == COND_TRUE)
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
			append_sort(&order, colref(&t->columns[s->ref - 1]),
						type_kind(t->columns[s->ref - 1].typid) == QK_FLOAT, s);
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
