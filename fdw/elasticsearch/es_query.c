/*
 * es_query.c: pushed-down quals as an Elasticsearch bool/filter query.
 *
 * What is pushed (everything is still rechecked locally):
 *   _id column: = and IN, as an ids query (exact);
 *   integer, float, numeric columns: =, IN, <, <=, >, >= as term/terms/range
 *     (exact for integers);
 *   boolean: = (exact); date/timestamp: =, IN and ranges (not exact: the
 *     server keeps milliseconds);
 *   text: = and IN only on exact fields: column option es_type keyword (or
 *     constant_keyword, wildcard), or keyword_field naming the keyword
 *     subfield (IMPORT FOREIGN SCHEMA sets both); never on an analysed text
 *     field, whose terms are not the stored value (exact);
 *   IS [NOT] NULL of any field: exists (not exact: [] counts as missing).
 * A column whose es_type is given and not compatible with its PostgreSQL
 * type is never pushed.  The _score column is never pushed.
 */
#include "postgres.h"

#include "json_value.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

#include "es_internal.h"
#include "mesh_util.h"

/* The document field a column reads: option field, else its name. */
const char *
es_column_field(MeshColumn *col)
{
	const char *f = mesh_column_option(col, "field");

	return f ? f : col->name;
}

static bool
type_in(const char *t, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(t, *list) == 0)
			return true;
	return false;
}

static const char *const numeric_types[] = {"long", "integer", "short", "byte", "double",
	"float", "half_float", "scaled_float", "unsigned_long", NULL};
static const char *const keyword_types[] = {"keyword", "constant_keyword", "wildcard", NULL};
static const char *const date_types[] = {"date", "date_nanos", NULL};

/* Can (col op value) be sent?  *exact: the server's answer equals PostgreSQL's. */
bool
es_qual_pushable(MeshColumn *col, MeshQualOp op, bool *exact)
{
	const char *field = es_column_field(col);
	const char *es_type = mesh_column_option(col, "es_type");
	bool		eq = op == MESH_QUAL_EQ || op == MESH_QUAL_IN;
	bool		range = op == MESH_QUAL_LT || op == MESH_QUAL_LE ||
		op == MESH_QUAL_GT || op == MESH_QUAL_GE;
	Oid			t = getBaseType(col->typid);

	*exact = false;
	if (strcmp(field, "_score") == 0)
		return false;
	if (strcmp(field, "_id") == 0)
	{
		*exact = eq;
		return eq;
	}
	if (op == MESH_QUAL_IS_NULL || op == MESH_QUAL_IS_NOT_NULL)
		return true;
	switch (t)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			if (es_type && !type_in(es_type, numeric_types))
				return false;
			*exact = (eq || range) && (t == INT2OID || t == INT4OID || t == INT8OID);
			return eq || range;
		case BOOLOID:
			if (es_type && strcmp(es_type, "boolean") != 0)
				return false;
			*exact = op == MESH_QUAL_EQ;
			return op == MESH_QUAL_EQ;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			if (es_type && !type_in(es_type, date_types))
				return false;
			return eq || range;
		case TEXTOID:
		case VARCHAROID:
			if (!eq)
				return false;
			if (mesh_column_option(col, "keyword_field") ||
				(es_type && type_in(es_type, keyword_types)))
			{
				*exact = true;
				return true;
			}
			return false;
		default:
			return false;
	}
}

/* The field a pushed qual filters on: the keyword subfield when there is one. */
static const char *
filter_field(MeshColumn *col)
{
	const char *kw = mesh_column_option(col, "keyword_field");

	return kw ? kw : es_column_field(col);
}

/* Append a value as JSON: numbers and booleans bare, dates ISO 8601, text quoted. */
static void
append_value(StringInfo buf, Datum value, Oid typid)
{
	char	   *s;

	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			s = mesh_datum_text(value, typid);
			if (strspn(s, "0123456789.-+eE") == strlen(s))
				appendStringInfoString(buf, s);
			else
				mesh_json_append_string(buf, s, strlen(s));		/* NaN, Infinity */
			return;
		case BOOLOID:
			appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
			return;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				char		tbuf[MAXDATELEN + 1];

				s = JsonEncodeDateTime(tbuf, value, typid, NULL);
				mesh_json_append_string(buf, s, strlen(s));
				return;
			}
		default:
			s = mesh_datum_text(value, typid);
			mesh_json_append_string(buf, s, strlen(s));
	}
}

/* Append the JSON of one qual's value ("[a,b]" for IN); false when it can match nothing. */
static bool
append_qual_value(StringInfo buf, MeshQual *q, bool explain)
{
	if (!q->known)
	{
		appendStringInfoString(buf, mesh_qual_display(q));	/* EXPLAIN of a parameter */
		return true;
	}
	if (q->isnull)
	{
		appendStringInfoString(buf, "null");
		return explain;
	}
	if (q->op == MESH_QUAL_IN)
	{
		ArrayType  *arr = DatumGetArrayTypeP(q->value);
		Oid			elemtype = ARR_ELEMTYPE(arr);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					k = 0;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
		appendStringInfoChar(buf, '[');
		for (int i = 0; i < n; i++)
			if (!nulls[i])
			{
				if (k++ > 0)
					appendStringInfoChar(buf, ',');
				append_value(buf, elems[i], elemtype);
			}
		appendStringInfoChar(buf, ']');
		return k > 0 || explain;
	}
	append_value(buf, q->value, q->valtype);
	return true;
}

/*
 * The "query" member's JSON for the scan's pushed quals (match_all when
 * none).  *empty: a pushed qual can never be true (= NULL, IN of nothing).
 * With explain, parameters not yet known show as $n.
 */
char *
es_query_json(MeshScan *scan, bool explain, bool *empty)
{
	StringInfoData buf;
	int			nclauses = 0;

	*empty = false;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"bool\":{\"filter\":[");
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];
		MeshColumn *col = &scan->table->columns[q->attnum - 1];
		const char *field = filter_field(col);
		bool		ok = true;

		if (!q->pushed)
			continue;
		if (nclauses++ > 0)
			appendStringInfoChar(&buf, ',');
		if (strcmp(es_column_field(col), "_id") == 0)
		{
			appendStringInfoString(&buf, "{\"ids\":{\"values\":");
			if (q->op == MESH_QUAL_EQ)
				appendStringInfoChar(&buf, '[');
			ok = append_qual_value(&buf, q, explain);
			if (q->op == MESH_QUAL_EQ)
				appendStringInfoChar(&buf, ']');
			appendStringInfoString(&buf, "}}");
		}
		else if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
		{
			appendStringInfoString(&buf, q->op == MESH_QUAL_IS_NULL ?
								   "{\"bool\":{\"must_not\":{\"exists\":{\"field\":" :
								   "{\"exists\":{\"field\":");
			mesh_json_append_string(&buf, es_column_field(col), strlen(es_column_field(col)));
			appendStringInfoString(&buf, q->op == MESH_QUAL_IS_NULL ? "}}}}" : "}}");
		}
		else
		{
			const char *kind = q->op == MESH_QUAL_EQ ? "term" :
				q->op == MESH_QUAL_IN ? "terms" : "range";

			appendStringInfo(&buf, "{\"%s\":{", kind);
			mesh_json_append_string(&buf, field, strlen(field));
			appendStringInfoChar(&buf, ':');
			if (q->op == MESH_QUAL_LT || q->op == MESH_QUAL_LE ||
				q->op == MESH_QUAL_GT || q->op == MESH_QUAL_GE)
				appendStringInfo(&buf, "{\"%s\":", q->op == MESH_QUAL_LT ? "lt" :
								 q->op == MESH_QUAL_LE ? "lte" :
								 q->op == MESH_QUAL_GT ? "gt" : "gte");
			ok = append_qual_value(&buf, q, explain);
			if (strcmp(kind, "range") == 0)
				appendStringInfoChar(&buf, '}');
			appendStringInfoString(&buf, "}}");
		}
		if (!ok)
			*empty = true;
	}
	if (nclauses == 0)
		return pstrdup("{\"match_all\":{}}");
	appendStringInfoString(&buf, "]}}");
	return buf.data;
}
