/*
 * duckdb_scan.c: scans of DuckDB tables: which quals are pushed, the upper
 * pushdown (ORDER BY, LIMIT/OFFSET, GROUP BY with aggregates), the SELECT
 * sent and reading its result chunk by chunk.
 *
 * Exactness (what makes LIMIT and aggregate pushdown safe): DuckDB compares
 * integers, decimals, floats (NaN equal to itself and above every number,
 * as in PostgreSQL), booleans, dates and timestamps as PostgreSQL does;
 * text equality and LIKE are bytewise on both sides, text order only for
 * columns of collation "C".  Sums of integers and decimals are exact
 * (HUGEINT/DECIMAL(38)); avg is computed here from the exact sum and count,
 * as PostgreSQL does; float sums and avg are not pushed.  Values are
 * rendered as literals with a CAST to the column's DuckDB type.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"

#include "duckdb_internal.h"
#include "mesh_util.h"

typedef enum DqKind
{
	DQ_NONE, DQ_INT, DQ_FLOAT, DQ_NUMERIC, DQ_TEXT, DQ_BOOL, DQ_DATE, DQ_TS, DQ_TSTZ, DQ_UUID
} DqKind;

typedef enum FieldRole
{
	F_NONE,						/* placeholder: SELECT 1 */
	F_COLUMN,					/* a column's value (plain scan) */
	F_OUTPUT,					/* an output of an aggregating scan, its type */
	F_AVG_SUM,					/* avg: the sum, then ... */
	F_AVG_COUNT					/* ... the count: output = sum / count */
} FieldRole;

typedef struct Field
{
	FieldRole	role;
	int			target;			/* attnum - 1, or output index */
	bool		is_array;
	Oid			typid;			/* F_OUTPUT */
	FmgrInfo	in;				/* F_OUTPUT */
	Oid			ioparam;
} Field;

typedef struct ScanState
{
	DdbConn    *dc;
	char	   *sql;
	int			nfields;
	Field	   *fields;
	duckdb_result *res;
	duckdb_data_chunk chunk;
	idx_t		nrows;
	idx_t		row;
	bool		done;
	Datum		avg_sum;
	bool		avg_sum_null;
} ScanState;

static DqKind
type_kind(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return DQ_INT;
		case FLOAT4OID:
		case FLOAT8OID:
			return DQ_FLOAT;
		case NUMERICOID:
			return DQ_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return DQ_TEXT;
		case BOOLOID:
			return DQ_BOOL;
		case DATEOID:
			return DQ_DATE;
		case TIMESTAMPOID:
			return DQ_TS;
		case TIMESTAMPTZOID:
			return DQ_TSTZ;
		case UUIDOID:
			return DQ_UUID;
	}
	return DQ_NONE;
}

/* Does the column compare bytewise (collation "C", or not collatable)? */
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
	ddb_append_ident(&buf, ddb_column_name(col));
	return buf.data;
}

/* The literal of a numeric value when DuckDB reads it exactly, else NULL. */
static char *
numeric_literal(const char *txt)
{
	int			digits = 0;

	for (const char *p = txt; *p; p++)
	{
		if (isdigit((unsigned char) *p))
			digits++;
		else if (*p != '.' && *p != '-')
			return NULL;		/* NaN, Infinity */
	}
	return digits <= 38 ? pstrdup(txt) : NULL;
}

/* Set q->pushed / q->exact for qual q of table t. */
static void
plan_qual(MeshTable *t, MeshQual *q)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	DqKind		k = type_kind(col->typid);
	Oid			vt;

	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		q->pushed = q->exact = true;
		return;
	}
	if (k == DQ_NONE)
		return;
	vt = q->op == MESH_QUAL_IN ? get_element_type(q->valtype) : q->valtype;
	if (type_kind(vt) != k || (k != DQ_INT && vt != col->typid))
		return;
	if ((q->op == MESH_QUAL_LT || q->op == MESH_QUAL_LE || q->op == MESH_QUAL_GT ||
		 q->op == MESH_QUAL_GE) &&
		(k == DQ_UUID || (k == DQ_TEXT && !column_is_c(t, q->attnum))))
		return;
	if (q->op == MESH_QUAL_LIKE && k != DQ_TEXT)
		return;
	q->pushed = true;
	q->exact = true;
	if (k == DQ_NUMERIC)
	{
		/* exact when every value has a DECIMAL literal (known at plan time) */
		q->exact = q->known && !q->isnull && q->op != MESH_QUAL_IN &&
			numeric_literal(mesh_datum_text(q->value, q->valtype)) != NULL;
	}
}

void
ddb_plan_scan(MeshScanPlan *plan)
{
	double		rows = 1000000;

	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];

		plan_qual(plan->table, q);
		if (q->pushed)
			rows *= q->op == MESH_QUAL_EQ ? 0.001 : q->op == MESH_QUAL_IN ? 0.01 : 0.3;
	}
	plan->rows = Max(rows, 1);
}

/* A value of kind k as a DuckDB literal of the column's type, or NULL. */
static char *
render_value(MeshColumn *col, DqKind k, Datum value, Oid valtype)
{
	StringInfoData buf;
	int			nest = mesh_canonical_output_begin();
	char	   *txt = mesh_datum_text(value, valtype);
	const char *cast = NULL;

	mesh_canonical_output_end(nest);
	initStringInfo(&buf);
	switch (k)
	{
		case DQ_INT:
			return txt;
		case DQ_NUMERIC:
			return numeric_literal(txt);
		case DQ_BOOL:
			return pstrdup(strcmp(txt, "t") == 0 ? "true" : "false");
		case DQ_TEXT:
			ddb_append_literal(&buf, txt, strlen(txt));
			return buf.data;
		case DQ_FLOAT:
			cast = col->typid == FLOAT4OID ? "REAL" : "DOUBLE";
			break;
		case DQ_DATE:
			cast = "DATE";
			break;
		case DQ_TS:
			cast = "TIMESTAMP";
			break;
		case DQ_TSTZ:
			cast = "TIMESTAMPTZ";
			break;
		case DQ_UUID:
			cast = "UUID";
			break;
		case DQ_NONE:
			return NULL;
	}
	if (k == DQ_DATE || k == DQ_TS || k == DQ_TSTZ)
	{
		char	   *bc = strstr(txt, " BC");

		if (bc)					/* DuckDB spells it (BC) */
			txt = psprintf("%.*s (BC)%s", (int) (bc - txt), txt, bc + 3);
	}
	appendStringInfoString(&buf, "CAST(");
	ddb_append_literal(&buf, txt, strlen(txt));
	appendStringInfo(&buf, " AS %s)", cast);
	return buf.data;
}

/* Append the condition of qual q; false when it cannot be rendered. */
static bool
render_qual(StringInfo out, MeshTable *t, MeshQual *q, bool for_explain)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	DqKind		k = type_kind(col->typid);
	char	   *c = colref(col);
	char	   *v;

	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		appendStringInfo(out, "%s %s", c, mesh_qual_op_name(q->op));
		return true;
	}
	if (!q->known)
	{
		if (!for_explain)
			return false;
		appendStringInfo(out, "%s %s %s", c, q->op == MESH_QUAL_IN ? "IN" :
						 mesh_qual_op_name(q->op), q->display ? q->display : "$?");
		return true;
	}
	if (q->isnull)
	{
		appendStringInfoString(out, "false");	/* x op NULL is never true */
		return true;
	}
	if (q->op == MESH_QUAL_IN)
	{
		ArrayType  *arr = DatumGetArrayTypeP(q->value);
		Oid			et = ARR_ELEMTYPE(arr);
		int16		len;
		bool		byval;
		char		align;
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					m = 0;

		get_typlenbyvalalign(et, &len, &byval, &align);
		deconstruct_array(arr, et, len, byval, align, &elems, &nulls, &n);
		appendStringInfo(out, "%s IN (", c);
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				continue;
			v = render_value(col, k, elems[i], et);
			if (v == NULL)
				return false;
			appendStringInfo(out, "%s%s", m++ ? ", " : "", v);
		}
		if (m == 0)
		{
			out->len -= strlen(c) + 5;
			out->data[out->len] = '\0';
			appendStringInfoString(out, "false");
			return true;
		}
		appendStringInfoChar(out, ')');
		return true;
	}
	v = render_value(col, k, q->value, q->valtype);
	if (v == NULL)
		return false;
	appendStringInfo(out, "%s %s %s", c, mesh_qual_op_name(q->op), v);
	if (q->op == MESH_QUAL_LIKE)
		appendStringInfoString(out, " ESCAPE '\\'");
	return true;
}

/* ---- upper pushdown */

static bool
sortable(DqKind k)
{
	return k == DQ_INT || k == DQ_FLOAT || k == DQ_NUMERIC || k == DQ_BOOL || k == DQ_DATE ||
		k == DQ_TS || k == DQ_TSTZ || k == DQ_TEXT;
}

static bool
numeric_with_scale(MeshColumn *col)
{
	return col->typid != NUMERICOID || col->typmod >= (int32) VARHDRSZ;
}

static bool
output_supported(MeshTable *t, MeshOutput *o)
{
	MeshColumn *col = o->attnum > 0 ? &t->columns[o->attnum - 1] : NULL;
	DqKind		k = col ? type_kind(col->typid) : DQ_NONE;

	if (o->kind == MESH_OUT_BUCKET)
		return false;
	if (o->kind == MESH_OUT_COLUMN)
		return k != DQ_NONE && k != DQ_FLOAT &&
			OidIsValid(get_element_type(col->typid)) == false;
	switch (o->agg)
	{
		case MESH_AGG_COUNT_STAR:
		case MESH_AGG_COUNT:
			return true;
		case MESH_AGG_SUM:
		case MESH_AGG_AVG:
			return k == DQ_INT || (k == DQ_NUMERIC && numeric_with_scale(col));
		case MESH_AGG_MIN:
		case MESH_AGG_MAX:
			if (k == DQ_TEXT)
				return column_is_c(t, o->attnum);
			return k == DQ_INT || k == DQ_FLOAT || k == DQ_NUMERIC || k == DQ_DATE ||
				k == DQ_TS || k == DQ_TSTZ;
	}
	return false;
}

/*
 * ORDER BY, LIMIT/OFFSET, GROUP BY with aggregates, when every qual is
 * pushed exactly and DuckDB computes what PostgreSQL would.
 */
bool
ddb_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
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
	{
		MeshSortKey *s = &upper->sort[i];

		if (upper->noutputs == 0)
		{
			MeshColumn *col = &t->columns[s->ref - 1];
			DqKind		k = type_kind(col->typid);

			if (!sortable(k) || (k == DQ_TEXT && !column_is_c(t, s->ref)))
				return false;
		}
		else
		{
			MeshOutput *o = &upper->outputs[s->ref - 1];

			if (o->kind == MESH_OUT_AGG ? o->agg == MESH_AGG_AVG :
				!sortable(type_kind(t->columns[o->attnum - 1].typid)) ||
				(type_kind(t->columns[o->attnum - 1].typid) == DQ_TEXT &&
				 !column_is_c(t, o->attnum)))
				return false;
		}
	}
	if (upper->noutputs > 0)
		plan->rows = grouped ? Max(plan->rows / 100, 1) : 1;
	if (upper->limit >= 0)
		plan->rows = Min(plan->rows, (double) Max(upper->limit, 1));
	return true;
}

/* ---- the statement */

static Field *
add_field(ScanState *st, StringInfo list, const char *expr, FieldRole role, int target)
{
	Field	   *f = &st->fields[st->nfields++];

	f->role = role;
	f->target = target;
	appendStringInfo(list, "%s%s", list->len ? ", " : "", expr);
	return f;
}

static void
append_sort(StringInfo buf, const char *expr, MeshSortKey *s)
{
	appendStringInfo(buf, "%s%s %s %s", buf->len ? ", " : "", expr,
					 s->desc ? "DESC" : "ASC", s->nulls_first ? "NULLS FIRST" : "NULLS LAST");
}

/* Build the SELECT of a scan into st (parameters shown when for_explain). */
static void
deparse(MeshScan *scan, ScanState *st, bool for_explain)
{
	MeshTable  *t = scan->table;
	MeshUpper  *u = scan->upper;
	bool		agg = u && u->noutputs > 0;
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
	st->fields = palloc0(sizeof(Field) * (Max(t->ncolumns, u ? 2 * u->noutputs : 0) + 1));
	st->nfields = 0;
	if (agg)
	{
		order_exprs = palloc0(sizeof(char *) * u->noutputs);
		for (int i = 0; i < u->noutputs; i++)
		{
			MeshOutput *o = &u->outputs[i];
			MeshColumn *col = o->attnum > 0 ? &t->columns[o->attnum - 1] : NULL;
			char	   *c = col ? colref(col) : NULL;
			char	   *e = NULL;
			Field	   *f;

			if (o->kind == MESH_OUT_COLUMN)
			{
				e = c;
				appendStringInfo(&group, "%s%s", group.len ? ", " : "", c);
			}
			else if (o->agg == MESH_AGG_AVG)
			{
				add_field(st, &list, psprintf("CAST(sum(%s) AS VARCHAR)", c), F_AVG_SUM, i);
				add_field(st, &list, psprintf("CAST(count(%s) AS VARCHAR)", c), F_AVG_COUNT, i);
				continue;
			}
			else if (o->agg == MESH_AGG_COUNT_STAR)
				e = "count(*)";
			else
				e = psprintf("%s(%s)", o->agg == MESH_AGG_COUNT ? "count" :
							 o->agg == MESH_AGG_SUM ? "sum" :
							 o->agg == MESH_AGG_MIN ? "min" : "max", c);
			order_exprs[i] = e;
			f = add_field(st, &list, ddb_read_expr(e, col && o->kind != MESH_OUT_AGG ? col->typid :
												   o->typid, false), F_OUTPUT, i);
			f->typid = o->typid;
		}
	}
	else
	{
		for (int i = 0; i < t->ncolumns; i++)
			if (t->columns[i].name && scan->wanted[i])
			{
				MeshColumn *col = &t->columns[i];
				bool		is_array = OidIsValid(get_element_type(col->typid));
				Field	   *f;

				f = add_field(st, &list, ddb_read_expr(colref(col), col->typid, is_array),
							  F_COLUMN, i);
				f->is_array = is_array;
			}
		if (st->nfields == 0)
			add_field(st, &list, "1", F_NONE, 0);
	}
	for (int i = 0; i < scan->nquals; i++)
	{
		StringInfoData c;

		initStringInfo(&c);
		if (render_qual(&c, t, &scan->quals[i], for_explain))
			appendStringInfo(&where, "%s%s", where.len ? " AND " : "", c.data);
	}
	for (int i = 0; u && i < u->nsort; i++)
	{
		MeshSortKey *s = &u->sort[i];

		append_sort(&order, agg ? order_exprs[s->ref - 1] : colref(&t->columns[s->ref - 1]), s);
	}
	appendStringInfo(&sql, "SELECT %s FROM %s", list.data,
					 ddb_qualified(ddb_table_schema(t), ddb_table_name(t)));
	if (where.len)
		appendStringInfo(&sql, " WHERE %s", where.data);
	if (group.len)
		appendStringInfo(&sql, " GROUP BY %s", group.data);
	if (order.len)
		appendStringInfo(&sql, " ORDER BY %s", order.data);
	if (u && u->limit >= 0)
		appendStringInfo(&sql, " LIMIT " INT64_FORMAT, u->limit);
	if (u && u->offset > 0)
		appendStringInfo(&sql, " OFFSET " INT64_FORMAT, u->offset);
	st->sql = sql.data;
}

void
ddb_begin_scan(MeshScan *scan)
{
	ScanState  *st = palloc0(sizeof(ScanState));
	DdbConn    *dc = scan->conn;

	st->dc = dc;
	scan->state = st;
	deparse(scan, st, false);
	for (int i = 0; i < st->nfields; i++)
		if (st->fields[i].role == F_OUTPUT)
		{
			Oid			infn;

			getTypeInputInfo(st->fields[i].typid, &infn, &st->fields[i].ioparam);
			fmgr_info_cxt(infn, &st->fields[i].in, scan->scan_cxt);
		}
	ddb_acquire(dc, false);
	st->res = palloc(sizeof(duckdb_result));
	ddb_query(dc, st->sql, st->res, "a scan");
	dc->busy++;
	scan->requests++;
}

/* The next row of the result into values/nulls; false at the end. */
bool
ddb_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	ScanState  *st = scan->state;
	const DdbApi *a = ddb_api();
	MeshTable  *t = scan->table;

	while (st->chunk == NULL || st->row >= st->nrows)
	{
		if (st->done)
			return false;
		if (st->chunk)
			a->destroy_data_chunk(&st->chunk);
		st->chunk = a->fetch_chunk(*st->res);
		if (st->chunk == NULL)
		{
			st->done = true;
			return false;
		}
		st->nrows = a->data_chunk_get_size(st->chunk);
		st->row = 0;
	}
	for (int i = 0; i < st->nfields; i++)
	{
		Field	   *f = &st->fields[i];
		duckdb_vector vec;
		uint32_t	len;
		char	   *s;

		if (f->role == F_NONE)
			continue;
		vec = a->data_chunk_get_vector(st->chunk, i);
		s = ddb_cell(vec, a->vector_get_validity(vec), st->row, &len);
		switch (f->role)
		{
			case F_COLUMN:
				{
					MeshColumn *col = &t->columns[f->target];

					nulls[f->target] = s == NULL;
					if (s == NULL)
						break;
					if (f->is_array)
						s = ddb_json_array_to_pg(s, len, col->name);
					else if (col->typid == BYTEAOID)
					{
						values[f->target] = DirectFunctionCall1(byteain,
																CStringGetDatum(pnstrdup(s, len)));
						break;
					}
					else
						s = pnstrdup(s, len);
					values[f->target] = mesh_value_from_text(col, s, strlen(s));
					break;
				}
			case F_OUTPUT:
				nulls[f->target] = s == NULL;
				if (s)
					values[f->target] = InputFunctionCall(&f->in, pnstrdup(s, len), f->ioparam, -1);
				break;
			case F_AVG_SUM:
				st->avg_sum_null = s == NULL;
				if (s)
					st->avg_sum = DirectFunctionCall3(numeric_in, CStringGetDatum(pnstrdup(s, len)),
													  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
				break;
			case F_AVG_COUNT:
				nulls[f->target] = st->avg_sum_null || s == NULL;
				if (!nulls[f->target])
				{
					Datum		n = DirectFunctionCall3(numeric_in, CStringGetDatum(pnstrdup(s, len)),
														ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

					values[f->target] = DirectFunctionCall2(numeric_div, st->avg_sum, n);
				}
				break;
			case F_NONE:
				break;
		}
	}
	st->row++;
	return true;
}

void
ddb_end_scan(MeshScan *scan)
{
	ScanState  *st = scan->state;

	if (st == NULL)
		return;
	if (st->chunk)
		ddb_api()->destroy_data_chunk(&st->chunk);
	if (st->res)
		ddb_destroy_result_cb(st->res);
	if (st->dc->busy > 0)
		st->dc->busy--;
	scan->state = NULL;
}

char *
ddb_explain_scan(MeshScan *scan)
{
	ScanState	st;

	memset(&st, 0, sizeof(st));
	deparse(scan, &st, true);
	return st.sql;
}
