/*
 * duckdb_sql.c: DuckDB SQL text (identifiers, literals), the type mapping
 * between PostgreSQL and DuckDB, and values read from result vectors.
 *
 * Every value crosses in PostgreSQL's text form: a scan reads each column
 * as a VARCHAR expression DuckDB computes (ddb_read_expr: BLOB as \x hex,
 * LIST as JSON turned into an array literal here, TIMESTAMPTZ in UTC), and
 * the column's input function makes the Datum, so a value that does not fit
 * is an error naming the column and the value.
 */
#include "postgres.h"

#include "json_value.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"

#include "duckdb_internal.h"

/* Append name as a double-quoted identifier ("" doubles a quote). */
void
ddb_append_ident(StringInfo buf, const char *name)
{
	appendStringInfoChar(buf, '"');
	for (const char *p = name; *p; p++)
	{
		if (*p == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * Append a string literal: single quotes doubled; DuckDB's '...' literals
 * have no backslash escapes, so every other byte stands for itself.
 */
void
ddb_append_literal(StringInfo buf, const char *s, size_t len)
{
	appendStringInfoChar(buf, '\'');
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '\'')
			appendStringInfoChar(buf, '\'');
		appendStringInfoChar(buf, s[i]);
	}
	appendStringInfoChar(buf, '\'');
}

/* "schema"."table" (schema NULL: the database's default). */
char *
ddb_qualified(const char *schema, const char *table)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (schema)
	{
		ddb_append_ident(&buf, schema);
		appendStringInfoChar(&buf, '.');
	}
	ddb_append_ident(&buf, table);
	return buf.data;
}

/* The remote table of a foreign table: option table, else its own name. */
const char *
ddb_table_name(MeshTable *t)
{
	const char *v = mesh_defelem_get(t->options, "table");

	return v ? v : t->relname;
}

const char *
ddb_table_schema(MeshTable *t)
{
	return mesh_defelem_get(t->options, "schema");
}

const char *
ddb_column_name(MeshColumn *col)
{
	const char *v = mesh_column_option(col, "column_name");

	return v ? v : col->name;
}

/*
 * The DuckDB expression giving the PostgreSQL text of ref (a column or an
 * aggregate) for a value of PostgreSQL type typid.
 */
char *
ddb_read_expr(const char *ref, Oid typid, bool is_array)
{
	if (is_array)
		return psprintf("CAST(to_json(%s) AS VARCHAR)", ref);
	if (typid == BYTEAOID)
		return psprintf("('\\x' || hex(%s))", ref);
	if (typid == VARCHAROID || typid == TEXTOID)
		return pstrdup(ref);
	return psprintf("CAST(%s AS VARCHAR)", ref);
}

/*
 * The DuckDB type of a replica column for a PostgreSQL type (typmod -1
 * when unknown); NULL when there is none (the column is refused).
 */
const char *
ddb_type_for(Oid typid, int32 typmod)
{
	switch (typid)
	{
		case BOOLOID:
			return "BOOLEAN";
		case INT2OID:
			return "SMALLINT";
		case INT4OID:
			return "INTEGER";
		case INT8OID:
			return "BIGINT";
		case FLOAT4OID:
			return "REAL";
		case FLOAT8OID:
			return "DOUBLE";
		case NUMERICOID:
			if (typmod >= (int32) VARHDRSZ)
			{
				int			p = ((typmod - VARHDRSZ) >> 16) & 0xffff;
				int			s = (typmod - VARHDRSZ) & 0xffff;

				if (p <= 38 && s <= p)
					return psprintf("DECIMAL(%d,%d)", p, s);
			}
			return "VARCHAR";	/* unbounded: kept exact as text */
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
			return "VARCHAR";
		case BYTEAOID:
			return "BLOB";
		case DATEOID:
			return "DATE";
		case TIMEOID:
			return "TIME";
		case TIMESTAMPOID:
			return "TIMESTAMP";
		case TIMESTAMPTZOID:
			return "TIMESTAMPTZ";
		case INTERVALOID:
			return "INTERVAL";
		case UUIDOID:
			return "UUID";
		case JSONOID:
		case JSONBOID:
			return "JSON";
	}
	return NULL;
}

/* The PostgreSQL type for a DuckDB type (information_schema data_type). */
const char *
ddb_pg_type_for(const char *t)
{
	static const char *const map[][2] = {
		{"BOOLEAN", "boolean"}, {"TINYINT", "smallint"}, {"SMALLINT", "smallint"},
		{"INTEGER", "integer"}, {"BIGINT", "bigint"}, {"UTINYINT", "smallint"},
		{"USMALLINT", "integer"}, {"UINTEGER", "bigint"}, {"UBIGINT", "numeric(20,0)"},
		{"HUGEINT", "numeric(39,0)"}, {"UHUGEINT", "numeric(39,0)"}, {"FLOAT", "real"},
		{"REAL", "real"}, {"DOUBLE", "double precision"}, {"VARCHAR", "text"},
		{"BLOB", "bytea"}, {"DATE", "date"}, {"TIME", "time"}, {"TIMESTAMP", "timestamp"},
		{"TIMESTAMP_NS", "timestamp"}, {"TIMESTAMP_MS", "timestamp"},
		{"TIMESTAMP_S", "timestamp"},
		{"TIMESTAMP WITH TIME ZONE", "timestamptz"}, {"INTERVAL", "interval"},
		{"UUID", "uuid"}, {"JSON", "jsonb"}
	};
	size_t		len = strlen(t);

	if (len > 2 && strcmp(t + len - 2, "[]") == 0)
	{
		char	   *elem = pnstrdup(t, len - 2);
		const char *e = ddb_pg_type_for(elem);

		return strchr(elem, '[') || (strcmp(e, "text") == 0 && strcmp(elem, "VARCHAR") != 0) ?
			"text" : psprintf("%s[]", e);
	}
	if (strncmp(t, "DECIMAL(", 8) == 0)
		return psprintf("numeric%s", t + 7);
	for (int i = 0; i < lengthof(map); i++)
		if (strcmp(map[i][0], t) == 0)
			return map[i][1];
	return "text";
}

/* Append one array element, double-quoted as array_in reads it. */
static void
append_array_elem(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * A JSON array (DuckDB's to_json of a LIST) as a PostgreSQL array literal
 * ({"1","2",NULL}); nested lists become nested braces.
 */
char *
ddb_json_array_to_pg(const char *s, size_t len, const char *column)
{
	json_t	   *v = mesh_json_parse(s, len, column, "a list value");
	StringInfoData buf;
	size_t		i;
	json_t	   *e;

	if (!json_is_array(v))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("value of column \"%s\" is not a list: %.*s", column, (int) Min(len, 200), s)));
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	json_array_foreach(v, i, e)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		if (json_is_null(e))
			appendStringInfoString(&buf, "NULL");
		else if (json_is_array(e))
		{
			char	   *inner = json_dumps(e, JSON_COMPACT);

			appendStringInfoString(&buf, ddb_json_array_to_pg(inner, strlen(inner), column));
		}
		else if (json_is_string(e))
			append_array_elem(&buf, json_string_value(e));
		else if (json_is_object(e))
			append_array_elem(&buf, json_dumps(e, JSON_COMPACT));
		else
			append_array_elem(&buf, mesh_json_scalar_text(e));
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * A one-dimensional PostgreSQL array literal ({a,"b c",NULL}) as a JSON
 * array of strings and nulls, which DuckDB casts to any LIST type.
 */
char *
ddb_pg_array_to_json(const char *s, const char *column)
{
	StringInfoData out,
				elem;
	const char *p = s;
	bool		first = true;

	initStringInfo(&out);
	initStringInfo(&elem);
	if (*p == '[')				/* dimension decoration: [1:3]={...} */
		p = strchr(p, '=') ? strchr(p, '=') + 1 : p;
	if (*p != '{')
		goto bad;
	p++;
	appendStringInfoChar(&out, '[');
	while (*p && *p != '}')
	{
		bool		quoted = false;

		resetStringInfo(&elem);
		if (*p == '{')
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\": multidimensional arrays are not replicated to DuckDB", column)));
		if (*p == '"')
		{
			quoted = true;
			for (p++; *p && *p != '"'; p++)
			{
				if (*p == '\\' && p[1])
					p++;
				appendStringInfoChar(&elem, *p);
			}
			if (*p != '"')
				goto bad;
			p++;
		}
		else
			while (*p && *p != ',' && *p != '}')
				appendStringInfoChar(&elem, *p++);
		if (!first)
			appendStringInfoChar(&out, ',');
		first = false;
		if (!quoted && pg_strcasecmp(elem.data, "NULL") == 0)
			appendStringInfoString(&out, "null");
		else
			mesh_json_append_string(&out, elem.data, elem.len);
		if (*p == ',')
			p++;
	}
	if (*p != '}')
		goto bad;
	appendStringInfoChar(&out, ']');
	return out.data;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("column \"%s\": malformed array value \"%s\"", column, s)));
}

/* Row row of a VARCHAR vector: its bytes (not NUL-terminated), NULL if null. */
char *
ddb_cell(duckdb_vector vec, uint64_t *validity, idx_t row, uint32_t *len)
{
	const DdbApi *a = ddb_api();
	duckdb_string_t *data = a->vector_get_data(vec);

	if (!ddb_row_valid(validity, row))
		return NULL;
	return (char *) ddb_string_data(&data[row], len);
}
