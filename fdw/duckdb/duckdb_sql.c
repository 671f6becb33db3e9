/*
 * duckdb_sql.c: DuckDB SQL text (qualified names), the type mapping from
 * DuckDB to PostgreSQL and arrays to DuckDB lists.  Identifiers, literals,
 * the mapping from PostgreSQL, lists read back and values read from result
 * vectors are src/duckdb_lib.c's (shared with the object-store layer).
 *
 * Every value crosses in PostgreSQL's text form: a scan reads each column
 * as a VARCHAR expression DuckDB computes (ddb_read_expr: BLOB as \x hex,
 * LIST as JSON turned into an array literal by ddb_json_array_to_pg,
 * TIMESTAMPTZ in UTC), and
 * the column's input function makes the Datum, so a value that does not fit
 * is an error naming the column and the value.
 */
#include "postgres.h"

#include "json_value.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"

#include "duckdb_internal.h"

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
