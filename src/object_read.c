/*
 * object_read.c: a foreign table over the contents of objects, for every
 * object-store connector (a table with the option path; object_list.c
 * hands it such tables).
 *
 * Rows come from every object whose key matches the glob path, in key
 * order, each read as CSV or JSON lines (format, else the key's suffix),
 * gzip or zstd decoded by suffix (.gz, .zst) or Content-Encoding: gzip,
 * in ranged GETs of read_chunk bytes (object_stream.c: bounded memory),
 * or as Parquet (.parquet), fetched into a temporary file and read by
 * DuckDB (object_parquet.c).
 *
 * Columns: _key (the object a row came from), Hive partition columns (a
 * column named by a "name=" directory of path takes the value of the
 * key's "name=value/"), and data columns: CSV fields by header name
 * (header true) or by position, JSON keys and Parquet columns by name;
 * each converted by its column's input function.
 *
 * Pushdown: conditions on _key narrow the listing (LIKE 'p%' the prefix,
 * > >= start-after, < <= stop it, IN a HEAD per key instead, as a listing
 * table's do); conditions on
 * _key and partition columns (=, IN, <, <=, >, >=, LIKE) are evaluated on
 * each listed key before its GET, so a pruned object is never fetched.
 * Text is compared bytewise (ranges pushed only under the "C" collation).
 * PostgreSQL rechecks every condition.
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "utils/memutils.h"

#include "mesh_util.h"
#include "object_parquet.h"
#include "object_read.h"

#define KEY_COLUMN "_key"

/* A contents table's shape (cached with the table). */
typedef struct ReadLayout
{
	const MeshObjectStore *store;
	const char *bucket;
	const char *path;			/* the glob */
	char	   *glob_prefix;	/* its literal start: the listing's prefix */
	ObjFormat	format;
	int			read_chunk;
	ObjCsvOptions csv;
	AttrNumber	key_att;		/* 0: no _key column */
	bool	   *partition;		/* [attnum - 1]: a Hive partition column */
	int			ndata;
	AttrNumber *data_atts;		/* the data columns, in attnum order */
} ReadLayout;

typedef struct ReadState
{
	ReadLayout *layout;
	MeshKeyRange range;
	MeshObjectLister lister;
	ObjStream	stream;
	ObjParquetReader *parquet;	/* Parquet objects, made at the first */
	MemoryContext object_cxt;	/* the current object's: reset per object */
	MemoryContext key_cxt;		/* pruning one key: reset per key */
	bool		in_object;
	char	   *key;
	ObjFormat	format;
	bool		header_pending;
	int			header_fields;	/* -1: no header */
	int		   *field_of;		/* CSV: data column i's field */
	int64		line;			/* of the record (Parquet: row) being read */
	bool		converting;		/* values are being converted: name the place */
	bool		parquet_row;	/* ... of a Parquet row (line: its number) */
	int64		listed,
				unmatched,
				pruned,
				read;
} ReadState;

/* A single-byte option (delimiter, quote, escape). */
void
mesh_object_check_byte(const MeshOption *option, const char *value)
{
	if (strlen(value) != 1 || value[0] == '\n' || value[0] == '\r')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"%s\" must be a single one-byte character", option->name)));
}

static const char *
option_or(MeshTable *t, const char *name, const char *dflt)
{
	const char *v = mesh_defelem_get(t->options, name);

	return v ? v : dflt;
}

static void *
compute_layout(MeshTable *t)
{
	ReadLayout *l = palloc0(sizeof(ReadLayout));
	const char *format = option_or(t, "format", NULL);

	l->bucket = mesh_object_table_bucket(t, &l->store);
	if (mesh_defelem_get(t->options, "prefix") || mesh_defelem_get(t->options, "head_each"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("foreign table \"%s\" reads contents (path): prefix and head_each are for listings",
						t->relname),
				 errhint("The literal start of path is the listing's prefix.")));
	l->path = pstrdup(mesh_defelem_get(t->options, "path"));
	l->glob_prefix = obj_glob_prefix(l->path);
	l->format = format == NULL ? OBJ_FORMAT_AUTO :
		strcmp(format, "csv") == 0 ? OBJ_FORMAT_CSV :
		strcmp(format, "parquet") == 0 ? OBJ_FORMAT_PARQUET : OBJ_FORMAT_JSONL;
	l->read_chunk = atoi(option_or(t, "read_chunk", "0"));
	if (l->read_chunk == 0)
		l->read_chunk = OBJ_READ_CHUNK_DEFAULT;
	l->csv.header = strcmp(option_or(t, "header", "false"), "true") == 0;
	l->csv.delimiter = option_or(t, "delimiter", ",")[0];
	l->csv.quote = option_or(t, "quote", "\"")[0];
	l->csv.escape = option_or(t, "escape", option_or(t, "quote", "\""))[0];
	l->csv.null_text = pstrdup(option_or(t, "null", ""));
	if (l->csv.delimiter == l->csv.quote)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("foreign table \"%s\": the CSV delimiter and quote must differ", t->relname)));
	l->partition = palloc0(sizeof(bool) * Max(t->ncolumns, 1));
	l->data_atts = palloc(sizeof(AttrNumber) * Max(t->ncolumns, 1));
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *col = &t->columns[i];

		if (col->name == NULL)
			continue;
		if (strcmp(col->name, KEY_COLUMN) == 0)
		{
			if (!obj_is_text_type(col->typid))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("column \"%s\" of foreign table \"%s\" must be text or varchar",
								KEY_COLUMN, t->relname)));
			l->key_att = col->attnum;
		}
		else if (obj_glob_names_partition(l->path, col->name))
			l->partition[i] = true;
		else
			l->data_atts[l->ndata++] = col->attnum;
	}
	return l;
}

static ReadLayout *
read_layout(MeshTable *t)
{
	return mesh_table_parsed(t, compute_layout);
}

static void
read_plan_scan(MeshScanPlan *plan)
{
	ReadLayout *l = read_layout(plan->table);

	plan->rows = 10000;
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];

		q->pushed = (q->attnum == l->key_att || l->partition[q->attnum - 1]) &&
			obj_qual_evaluable(&plan->table->columns[q->attnum - 1], q);
	}
}

/* The listing's range: the glob's prefix narrowed by the conditions on _key. */
static void
key_range(MeshScan *scan, ReadLayout *l, MeshKeyRange *r)
{
	mesh_key_range_init(r, l->glob_prefix);
	for (int i = 0; i < scan->nquals; i++)
		if (scan->quals[i].attnum == l->key_att)
			mesh_key_range_add(r, &scan->quals[i]);
	if (!r->empty && r->exact)
		r->prefix = r->exact;	/* the listing finds it: its size comes along */
}

static void
read_error_context(void *arg)
{
	ReadState  *st = arg;

	if (!st->converting)
		return;
	if (st->parquet_row)
	{
		if (st->line > 0)		/* not while DuckDB reads the next rows */
			errcontext("row " INT64_FORMAT " of object \"%s\"", st->line, st->key);
	}
	else if (st->line > 0)
		errcontext("line " INT64_FORMAT " of object \"%s\"", st->line, st->key);
	else
		errcontext("the key of object \"%s\"", st->key);
}

static void
read_begin_scan(MeshScan *scan)
{
	ReadState  *st = palloc0(sizeof(ReadState));
	ReadLayout *l = read_layout(scan->table);

	st->layout = l;
	key_range(scan, l, &st->range);
	mesh_object_lister_begin(&st->lister, scan, l->store, l->bucket, 0, &st->range);
	obj_stream_init(&st->stream, scan, l->store, l->bucket, l->read_chunk);
	st->object_cxt = AllocSetContextCreate(scan->scan_cxt, "mesh object", ALLOCSET_SMALL_SIZES);
	st->key_cxt = AllocSetContextCreate(scan->scan_cxt, "mesh object key", ALLOCSET_SMALL_SIZES);
	scan->state = st;
}

/* The value of a key column (_key or a partition) for key; false: NULL. */
static bool
key_column_value(ReadLayout *l, MeshColumn *col, const char *key, Datum *value)
{
	char	   *text = col->attnum == l->key_att ? pstrdup(key) : obj_partition_value(key, col->name);

	if (text == NULL)
		return false;
	*value = mesh_value_from_cstring(col, text, strlen(text));
	return true;
}

/* Whether a listed key is read: it matches the glob and the pushed conditions. */
static bool
key_selected(MeshScan *scan, ReadState *st, const char *key)
{
	ReadLayout *l = st->layout;

	if (!obj_glob_match(l->path, key))
	{
		st->unmatched++;
		return false;
	}
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];
		Datum		value;

		if (q->isnull || !key_column_value(l, &scan->table->columns[q->attnum - 1], key, &value) ||
			!obj_qual_holds(&scan->table->columns[q->attnum - 1], q, value))
		{
			st->pruned++;
			return false;
		}
	}
	return true;
}

/* Start reading a Parquet object: fetched, then opened by DuckDB. */
static void
open_parquet(MeshScan *scan, ReadState *st, int64 size)
{
	ReadLayout *l = st->layout;

	if (obj_codec_of_key(st->key) != OBJ_CODEC_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Parquet object \"%s\" is compressed as a whole", st->key),
				 errhint("Parquet compresses inside the file: store it without .gz or .zst.")));
	if (st->parquet == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(scan->scan_cxt);

		st->parquet = obj_parquet_reader(scan, l->store, l->bucket, l->read_chunk, l->ndata,
										 l->data_atts);
		MemoryContextSwitchTo(old);
	}
	st->in_object = obj_parquet_open(st->parquet, st->key, size);
}

/* Start reading o: its format, compression and stream. */
static void
open_object(MeshScan *scan, ReadState *st, const MeshObject *o)
{
	ReadLayout *l = st->layout;
	MemoryContext old = MemoryContextSwitchTo(st->object_cxt);
	int64		size = -1;

	st->key = pstrdup(o->key);
	st->format = l->format != OBJ_FORMAT_AUTO ? l->format : obj_format_of_key(st->key);
	if (st->format == OBJ_FORMAT_AUTO)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("the format of object \"%s\" is not known", st->key),
				 errhint("Name it with a suffix (.csv, .jsonl, .ndjson, .json; then .gz or .zst; .parquet) or set the table's option format.")));
	if (o->size)
	{
		char	   *end;

		errno = 0;
		size = strtoi64(o->size, &end, 10);
		if (errno || *end || size < 0)
			size = -1;			/* read to the end */
	}
	st->header_pending = st->format == OBJ_FORMAT_CSV && l->csv.header;
	st->header_fields = -1;
	st->field_of = NULL;
	st->read++;
	if (st->format == OBJ_FORMAT_PARQUET)
		open_parquet(scan, st, size);
	else
	{
		obj_stream_open(&st->stream, st->key, size, st->format == OBJ_FORMAT_CSV ? &l->csv : NULL,
						obj_codec_of_key(st->key));
		st->in_object = true;
	}
	MemoryContextSwitchTo(old);
}

/* A CSV header: data column i takes the field its name heads. */
static void
map_header(ReadState *st, MeshTable *t, ObjFields *header)
{
	ReadLayout *l = st->layout;

	st->field_of = MemoryContextAlloc(st->object_cxt, sizeof(int) * Max(l->ndata, 1));
	st->header_fields = header->n;
	for (int i = 0; i < l->ndata; i++)
	{
		const char *name = t->columns[l->data_atts[i] - 1].name;
		int			f;

		for (f = 0; f < header->n; f++)
			if (header->values[f] && strcmp(header->values[f], name) == 0)
				break;
		if (f == header->n)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("the header of object \"%s\" has no column \"%s\"", st->key, name)));
		st->field_of[i] = f;
	}
}

/* The data columns of a CSV record; false: it was the header. */
static bool
csv_row(MeshScan *scan, ReadState *st, char *record, size_t len, Datum *values, bool *nulls)
{
	ReadLayout *l = st->layout;
	ObjFields	fields;
	int			expected = st->header_fields >= 0 ? st->header_fields : l->ndata;

	obj_csv_split(&l->csv, record, len, &fields, st->key, st->line);
	if (st->header_pending)
	{
		st->header_pending = false;
		map_header(st, scan->table, &fields);
		return false;
	}
	if (fields.n != expected)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("line " INT64_FORMAT " of object \"%s\" does not have %d fields",
						st->line, st->key, expected),
				 errdetail("It has %d.", fields.n)));
	for (int i = 0; i < l->ndata; i++)
	{
		AttrNumber	att = l->data_atts[i];
		char	   *v = fields.values[st->field_of ? st->field_of[i] : i];

		if (!scan->wanted[att - 1] || v == NULL)
			continue;
		st->converting = true;
		values[att - 1] = mesh_value_from_cstring(&scan->table->columns[att - 1], v, strlen(v));
		st->converting = false;
		nulls[att - 1] = false;
	}
	return true;
}

/* The data columns of a JSON line. */
static void
json_row(MeshScan *scan, ReadState *st, char *record, size_t len, Datum *values, bool *nulls)
{
	ReadLayout *l = st->layout;
	void	   *doc = obj_json_parse_line(record, len, st->key, st->line);

	st->converting = true;
	for (int i = 0; i < l->ndata; i++)
	{
		AttrNumber	att = l->data_atts[i];

		if (scan->wanted[att - 1])
			nulls[att - 1] = !obj_json_field(doc, &scan->table->columns[att - 1], &values[att - 1]);
	}
	st->converting = false;
}

/* The _key and partition columns of the current object's row. */
static void
key_columns(MeshScan *scan, ReadState *st, Datum *values, bool *nulls)
{
	MeshTable  *t = scan->table;

	for (int i = 0; i < t->ncolumns; i++)
		if ((t->columns[i].attnum == st->layout->key_att || st->layout->partition[i]) &&
			scan->wanted[i])
			nulls[i] = !key_column_value(st->layout, &t->columns[i], st->key, &values[i]);
}

static bool
is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char) s[i]))
			return false;
	return true;
}

/* The next selected object, opened; false at the end of the listing. */
static bool
next_object(MeshScan *scan, ReadState *st)
{
	const MeshObject *o;

	while ((o = mesh_object_lister_next(&st->lister, scan)) != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(st->key_cxt);
		bool		selected;

		st->listed++;
		st->key = unconstify(char *, o->key);
		st->line = 0;
		st->converting = true;
		selected = key_selected(scan, st, o->key);
		st->converting = false;
		MemoryContextSwitchTo(old);
		MemoryContextReset(st->key_cxt);
		if (selected)
		{
			MemoryContextReset(st->object_cxt);
			open_object(scan, st, o);
			return true;
		}
	}
	return false;
}

static bool
read_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	ReadState  *st = scan->state;
	ErrorContextCallback errcb = {.callback = read_error_context, .arg = st,
	.previous = error_context_stack};
	bool		found = false;

	error_context_stack = &errcb;
	while (!found)
	{
		char	   *record;
		size_t		len;

		st->line = 0;
		if (!st->in_object && !next_object(scan, st))
			break;
		if (!st->in_object)
			continue;			/* a Parquet object deleted since it was listed */
		if (st->format == OBJ_FORMAT_PARQUET)
		{
			st->converting = st->parquet_row = true;
			found = obj_parquet_row(st->parquet, values, nulls, &st->line);
			st->converting = st->parquet_row = false;
			if (!found)
			{
				obj_parquet_close(st->parquet);
				st->in_object = false;
			}
			continue;
		}
		if (!obj_stream_record(&st->stream, &record, &len, &st->line))
		{
			st->in_object = false;
			continue;
		}
		if (len == 0 || (st->format == OBJ_FORMAT_JSONL && is_blank(record, len)))
			continue;
		if (st->format == OBJ_FORMAT_CSV)
			found = csv_row(scan, st, record, len, values, nulls);
		else
		{
			json_row(scan, st, record, len, values, nulls);
			found = true;
		}
	}
	st->converting = true;
	if (found)
		key_columns(scan, st, values, nulls);
	st->converting = false;
	error_context_stack = errcb.previous;
	return found;
}

static void
read_end_scan(MeshScan *scan)
{
	ReadState  *st = scan->state;

	if (st && st->parquet)
		obj_parquet_close(st->parquet); /* its temporary file */
	scan->state = NULL;			/* its memory (and decoders) go with scan_cxt */
}

/*
 * The plan, for EXPLAIN VERBOSE: the listing, the glob, the conditions
 * that prune keys before a GET, the format and the chunk size.
 */
static char *
read_explain_scan(MeshScan *scan)
{
	ReadLayout *l = read_layout(scan->table);
	StringInfoData buf;
	MeshKeyRange range;
	bool		known = true;

	initStringInfo(&buf);
	for (int i = 0; i < scan->nquals; i++)
		known &= scan->quals[i].known;
	if (known)
	{
		key_range(scan, l, &range);
		if (range.empty)
			return pstrdup("none (the conditions match no key)");
	}
	else
		mesh_key_range_init(&range, l->glob_prefix);
	mesh_key_range_explain(&buf, l->store, l->bucket, &range);
	appendStringInfo(&buf, ", GET keys matching %s", mesh_object_shown(l->path));
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];

		appendStringInfo(&buf, "%s %s %s %s", i ? " AND" : " where",
						 scan->table->columns[q->attnum - 1].name, mesh_qual_op_name(q->op),
						 q->known && !q->isnull ? mesh_object_shown(mesh_qual_display(q)) : mesh_qual_display(q));
	}
	if (l->format == OBJ_FORMAT_AUTO)
		appendStringInfoString(&buf, ", format by key suffix");
	else
		appendStringInfo(&buf, ", format %s", l->format == OBJ_FORMAT_CSV ? "csv" :
						 l->format == OBJ_FORMAT_PARQUET ? "parquet" : "jsonl");
	if ((l->format == OBJ_FORMAT_AUTO || l->format == OBJ_FORMAT_CSV) && l->csv.header)
		appendStringInfoString(&buf, " with header");
	appendStringInfo(&buf, ", ranged GETs of %d bytes", l->read_chunk);
	return buf.data;
}

/* What the scan did, for EXPLAIN ANALYZE. */
static char *
read_explain_counts(MeshScan *scan)
{
	ReadState  *st = scan->state;

	if (st == NULL)
		return NULL;
	return psprintf("%s, objects listed " INT64_FORMAT
					", not matching path " INT64_FORMAT ", pruned " INT64_FORMAT
					", read " INT64_FORMAT ", GET " INT64_FORMAT,
					mesh_object_lister_counts(&st->lister), st->listed, st->unmatched, st->pruned,
					st->read, st->stream.gets + obj_parquet_gets(st->parquet));
}

const MeshScanOps mesh_object_read_ops = {
	.plan_scan = read_plan_scan,
	.begin_scan = read_begin_scan,
	.next_row = read_next_row,
	.end_scan = read_end_scan,
	.explain_scan = read_explain_scan,
	.explain_counts = read_explain_counts,
};
