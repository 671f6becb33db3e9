/*
 * json_typed.c: see json_typed.h.
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "json_typed.h"
#include "mesh_util.h"

/*
 * Append a value of type typid (its PostgreSQL text form; NULL: SQL NULL)
 * as JSON: integers as integers, float4/float8 as floats (an integral
 * value gets ".0" so stores that type their values keep a float; NaN and
 * infinities, which JSON lacks, as strings), booleans as booleans,
 * everything else, numeric included (its exact text: a JSON float would
 * round it and lose its scale), as a string of its text form.
 */
void
mesh_json_append_typed(StringInfo buf, Oid typid, const char *text)
{
	if (text == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
			appendStringInfoString(buf, text);
			return;
		case FLOAT4OID:
		case FLOAT8OID:
			if (text[0] != '\0' && strspn(text, "-+0123456789.eE") == strlen(text))
			{
				appendStringInfoString(buf, text);
				if (strpbrk(text, ".eE") == NULL)
					appendStringInfoString(buf, ".0");
				return;
			}
			break;
		case BOOLOID:
			appendStringInfoString(buf, text[0] == 't' ? "true" : "false");
			return;
	}
	mesh_append_dquoted(buf, text, strlen(text), "\\u%04x", false);
}
