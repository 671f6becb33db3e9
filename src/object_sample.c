/*
 * object_sample.c: the data columns of an object, from its first records
 * (IMPORT FOREIGN SCHEMA on object stores), read through the contents
 * reader's stream (object_stream.c: ranged GETs, gzip, zstd).
 *
 * CSV: the header names the columns (an empty or repeated name is
 * skipped: the table reads fields by header name), else column1..N; every
 * record must have as many fields.  JSON lines: every key of the sampled
 * objects, in the order first seen.  Each column's kind comes from its
 * non-NULL, non-empty values (object_infer.c).  Errors name the object and
 * the line; an object without a record to sample is an error too.
 */
#include "postgres.h"

#include "json_value.h"
#include "object_import.h"

typedef struct SampleState
{
	const char *key;
	List	   *columns;		/* ObjSampleColumn * */
	int			expected;		/* CSV: fields per record; -1: not known yet */
} SampleState;

static void
sample_error_context(void *arg)
{
	errcontext("sampling object \"%s\" for IMPORT FOREIGN SCHEMA", (const char *) arg);
}

static ObjSampleColumn *
find_column(List *columns, const char *name)
{
	ListCell   *lc;

	foreach(lc, columns)
		if (strcmp(((ObjSampleColumn *) lfirst(lc))->name, name) == 0)
			return lfirst(lc);
	return NULL;
}

static ObjSampleColumn *
add_column(SampleState *st, const char *name, int64 line)
{
	ObjSampleColumn *c = palloc0(sizeof(ObjSampleColumn));

	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("column name \"%s\" at line " INT64_FORMAT " of object \"%s\" is too long",
						name, line, st->key),
				 errdetail("A column name has at most %d bytes.", NAMEDATALEN - 1)));
	c->name = pstrdup(name);
	st->columns = lappend(st->columns, c);
	return c;
}

/* The header: a column per distinct non-empty name (NULL where skipped). */
static void
csv_header(SampleState *st, ObjFields *fields, int64 line)
{
	st->expected = fields->n;
	for (int i = 0; i < fields->n; i++)
	{
		const char *name = fields->values[i];

		if (name == NULL || name[0] == '\0' || find_column(st->columns, name))
			st->columns = lappend(st->columns, NULL);
		else
			(void) add_column(st, name, line);
	}
}

static void
csv_record(SampleState *st, ObjFields *fields, int64 line)
{
	if (st->expected < 0)
	{
		st->expected = fields->n;
		for (int i = 0; i < fields->n; i++)
			(void) add_column(st, psprintf("column%d", i + 1), line);
	}
	if (fields->n != st->expected)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("line " INT64_FORMAT " of object \"%s\" does not have %d fields",
						line, st->key, st->expected),
				 errdetail("It has %d.", fields->n)));
	for (int i = 0; i < fields->n; i++)
	{
		ObjSampleColumn *c = list_nth(st->columns, i);

		if (c)
			c->kind = obj_kind_merge(c->kind, obj_kind_of_text(fields->values[i]));
	}
}

static void
json_record(SampleState *st, char *record, size_t len, int64 line)
{
	json_t	   *doc = obj_json_parse_line(record, len, st->key, line);
	const char *name;
	json_t	   *value;

	json_object_foreach(doc, name, value)
	{
		ObjSampleColumn *c = find_column(st->columns, name);

		if (name[0] == '\0')
			continue;
		if (c == NULL)
			c = add_column(st, name, line);
		c->kind = obj_kind_merge(c->kind, obj_kind_of_json(value));
	}
	json_decref(doc);
}

static bool
is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char) s[i]))
			return false;
	return true;
}

/*
 * The data columns (ObjSampleColumn *) of object key (size bytes, -1: not
 * known), from its header and first sample_rows records.
 */
List *
obj_sample_columns(MeshScan *scan, const MeshObjectStore *store, const char *bucket,
				   const char *key, int64 size, ObjFormat format, const ObjCsvOptions *csv,
				   int sample_rows, int read_chunk)
{
	SampleState st = {.key = key, .expected = -1};
	ErrorContextCallback errcb = {.callback = sample_error_context, .arg = (void *) key,
	.previous = error_context_stack};
	ObjStream	stream;
	bool		header = format == OBJ_FORMAT_CSV && csv->header;
	int			rows = 0;
	char	   *record;
	size_t		len;
	int64		line;
	ListCell   *lc;

	error_context_stack = &errcb;
	obj_stream_init(&stream, scan, store, bucket, read_chunk);
	obj_stream_open(&stream, key, size, format == OBJ_FORMAT_CSV ? csv : NULL,
					obj_codec_of_key(key));
	while (rows < sample_rows && obj_stream_record(&stream, &record, &len, &line))
	{
		if (len == 0 || (format == OBJ_FORMAT_JSONL && is_blank(record, len)))
			continue;
		if (format == OBJ_FORMAT_JSONL)
			json_record(&st, record, len, line);
		else
		{
			ObjFields	fields;

			obj_csv_split(csv, record, len, &fields, key, line);
			if (header)
			{
				csv_header(&st, &fields, line);
				header = false;
				continue;
			}
			csv_record(&st, &fields, line);
		}
		rows++;
	}
	if (st.columns == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("object \"%s\" has no record to sample", key),
				 errhint("IMPORT FOREIGN SCHEMA infers the columns from the first object it lists; name the objects to sample with a glob.")));
	error_context_stack = errcb.previous;
	/* the header's skipped fields are no columns */
	foreach(lc, st.columns)
		if (lfirst(lc) == NULL)
			st.columns = foreach_delete_current(st.columns, lc);
	return st.columns;
}
