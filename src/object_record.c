/*
 * object_record.c: the fields of one record of an object: CSV as COPY
 * reads it (delimiter, quote, escape, null; a quoted value is never NULL),
 * JSON lines as one object per line.  Errors name the object and the line.
 */
#include "postgres.h"

#include "json_value.h"
#include "object_read.h"

/*
 * Split a CSV record into fields (palloc'd in CurrentMemoryContext).  A
 * quote opens a quoted section anywhere in a field, as in COPY; inside
 * one, escape (the quote itself by default) followed by quote or escape
 * is that character.
 */
void
obj_csv_split(const ObjCsvOptions *csv, char *record, size_t len, ObjFields *out,
			  const char *key, int64 line)
{
	int			cap = 16;
	size_t		i = 0;
	StringInfoData f;

	if (memchr(record, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("malformed CSV in object \"%s\" at line " INT64_FORMAT, key, line),
				 errdetail("The line holds a zero byte.")));
	out->n = 0;
	out->values = palloc(sizeof(char *) * cap);
	initStringInfo(&f);
	for (;;)
	{
		bool		quoted = false;
		bool		in_quote = false;

		resetStringInfo(&f);
		for (; i < len; i++)
		{
			char		c = record[i];

			if (!in_quote && c == csv->delimiter)
				break;
			if (in_quote && c == csv->escape && i + 1 < len &&
				(record[i + 1] == csv->quote || record[i + 1] == csv->escape) &&
				(csv->escape != csv->quote || record[i + 1] == csv->quote))
				appendStringInfoChar(&f, record[++i]);
			else if (c == csv->quote)
			{
				in_quote = !in_quote;
				quoted = true;
			}
			else
				appendStringInfoChar(&f, c);
		}
		if (in_quote)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("malformed CSV in object \"%s\" at line " INT64_FORMAT, key, line),
					 errdetail("A quoted field is not closed.")));
		if (out->n == cap)
		{
			cap *= 2;
			out->values = repalloc(out->values, sizeof(char *) * cap);
		}
		out->values[out->n++] = !quoted && strcmp(f.data, csv->null_text) == 0 ?
			NULL : pstrdup(f.data);
		if (i >= len)
			break;
		i++;					/* past the delimiter */
	}
	pfree(f.data);
}

/* A line of JSON lines: a JSON object (a json_t *). */
void *
obj_json_parse_line(char *record, size_t len, const char *key, int64 line)
{
	json_error_t err;
	json_t	   *doc = json_loadb(record, len, 0, &err);

	if (doc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("malformed JSON in object \"%s\" at line " INT64_FORMAT, key, line),
				 errdetail("%s (at character %d).", err.text, err.column)));
	if (!json_is_object(doc))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("line " INT64_FORMAT " of object \"%s\" is not a JSON object", line, key),
				 errhint("JSON lines hold one object per line; its keys are the columns.")));
	return doc;
}

/* The value of col's key in a JSON object; false: missing or null. */
bool
obj_json_field(void *object, MeshColumn *col, Datum *value)
{
	json_t	   *v = json_object_get(object, col->name);
	bool		isnull;

	if (v == NULL)
		return false;
	*value = mesh_json_to_datum(col, v, &isnull);
	return !isnull;
}
