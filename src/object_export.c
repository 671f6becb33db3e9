/*
 * object_export.c: mesh.export(query, server, path, format, options)
 * writes a query's result as one object of an object-store server.
 *
 * The query runs as the caller, through a read-only cursor fetched in
 * batches; rows are formatted as CSV (RFC 4180: a header line unless
 * header is false, NULL as an empty unquoted field, "" for an empty
 * string) or JSON lines (one object per row, json/jsonb columns embedded,
 * numbers and booleans as JSON ones, everything else as strings), with
 * the canonical text forms (ISO dates, UTC, exact floats), or Parquet:
 * the rows go as CSV into a temporary file, DuckDB writes them as a
 * Parquet file with each column's type (obj_parquet_type_for:
 * numeric(p <= 38, s) as DECIMAL, json/jsonb as JSON, ...), which is
 * uploaded (object_parquet.c).  The object is written in bounded memory
 * (object_write.c: one request, or parts of part_size bytes); an error
 * drops the unfinished upload, so the key never names a partial object.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "json_typed.h"
#include "mesh_util.h"
#include "object_parquet.h"

#define EXPORT_FETCH_ROWS 1000
#define EXPORT_DEFAULT_PART_SIZE (8 * 1024 * 1024)

typedef enum ExportFormat
{
	EXPORT_CSV,
	EXPORT_JSONL,
	EXPORT_PARQUET
} ExportFormat;

typedef struct ExportSpec
{
	ExportFormat format;
	bool		header;
	char		delimiter;
	size_t		part_size;
	const char *bucket;
} ExportSpec;

/* What export_rows runs, and what it counts. */
typedef struct ExportJob
{
	const char *query;
	const ExportSpec *spec;
	ObjTempFile *out;			/* Parquet: the rows go here, not to the writer */
	TupleDesc	desc;			/* Parquet: the query's columns */
	int64		longest;		/* Parquet: the longest CSV line */
	int64		rows;
} ExportJob;

/* Parquet's temporary files and DuckDB, freed on the way out (also on error). */
typedef struct ParquetWork
{
	ObjTempFile rows;
	ObjTempFile parquet;
	ObjDuck    *duck;
} ParquetWork;

PG_FUNCTION_INFO_V1(mesh_export);

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && pg_strcasecmp(s + n - m, suffix) == 0;
}

static void
bad_option(const char *name, const char *value, const char *allowed)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for mesh.export's %s: \"%s\"", name, value),
			 errhint("%s", allowed)));
}

/* The export's format and options, checked before anything runs. */
static void
read_spec(ExportSpec *spec, const char *path, const char *format, Jsonb *options,
		  MeshServerConfig *config, const MeshObjectStore *store)
{
	const char *v;

	if (format == NULL)
	{
		if (ends_with(path, ".csv"))
			format = "csv";
		else if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
			format = "jsonl";
		else if (ends_with(path, ".parquet"))
			format = "parquet";
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("mesh.export cannot tell the format of \"%s\" from its name", path),
					 errhint("Pass the format: 'csv', 'jsonl' or 'parquet'.")));
	}
	if (strcmp(format, "csv") == 0)
		spec->format = EXPORT_CSV;
	else if (strcmp(format, "jsonl") == 0)
		spec->format = EXPORT_JSONL;
	else if (strcmp(format, "parquet") == 0)
		spec->format = EXPORT_PARQUET;
	else
		bad_option("format", format, "The formats are csv, jsonl and parquet.");
	v = mesh_jsonb_option(options, "header", "true");
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		bad_option("header", v, "header is true or false.");
	spec->header = strcmp(v, "true") == 0;
	v = mesh_jsonb_option(options, "delimiter", ",");
	if (strlen(v) != 1 || strchr("\"\r\n", v[0]) != NULL)
		bad_option("delimiter", v, "The delimiter is one character other than a quote or a line break.");
	spec->delimiter = v[0];
	v = mesh_jsonb_option(options, "part_size", NULL);
	spec->part_size = EXPORT_DEFAULT_PART_SIZE;
	if (v)
	{
		char	   *end;
		long long	n = strtoll(v, &end, 10);

		if (*end != '\0' || n < (long long) store->min_part_size || n > 1024LL * 1024 * 1024)
			bad_option("part_size", v,
					   psprintf("part_size is a number of bytes from %zu to 1073741824.",
								store->min_part_size));
		spec->part_size = (size_t) n;
	}
	spec->bucket = mesh_jsonb_option(options, store->bucket_word,
									 mesh_config_get(config, store->bucket_word, NULL));
	if (spec->bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mesh.export to server \"%s\" names no %s", config->servername,
						store->bucket_word),
				 errhint("Set the server's option %s, or pass {\"%s\": \"...\"} as options.",
						 store->bucket_word, store->bucket_word)));
}

/* Append a CSV field: quoted when it holds the delimiter, a quote, a line break or nothing. */
void
mesh_object_csv_field(StringInfo buf, const char *s, char delimiter)
{
	if (s[0] != '\0' && strpbrk(s, "\"\r\n") == NULL && strchr(s, delimiter) == NULL)
	{
		appendStringInfoString(buf, s);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
}

static void
append_header(StringInfo buf, TupleDesc desc, const ExportSpec *spec)
{
	for (int i = 0; i < desc->natts; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, spec->delimiter);
		mesh_object_csv_field(buf, NameStr(TupleDescAttr(desc, i)->attname), spec->delimiter);
	}
	appendStringInfoChar(buf, '\n');
}

/* Append one row in the export's format; texts[i] NULL for SQL NULL. */
static void
append_row(StringInfo buf, TupleDesc desc, char **texts, const ExportSpec *spec)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (spec->format == EXPORT_CSV)
		{
			if (i > 0)
				appendStringInfoChar(buf, spec->delimiter);
			if (texts[i])
				mesh_object_csv_field(buf, texts[i], spec->delimiter);
			continue;
		}
		appendStringInfoChar(buf, i == 0 ? '{' : ',');
		escape_json(buf, NameStr(att->attname));
		appendStringInfoChar(buf, ':');
		if (texts[i] && (att->atttypid == JSONOID || att->atttypid == JSONBOID))
			appendStringInfoString(buf, texts[i]);
		else
			mesh_json_append_typed(buf, getBaseType(att->atttypid), texts[i]);
	}
	if (spec->format == EXPORT_JSONL)
		appendStringInfoString(buf, desc->natts == 0 ? "{}" : "}");
	appendStringInfoChar(buf, '\n');
}

/* Bytes of the export: to the writer, or to the Parquet job's rows. */
static void
emit(ExportJob *job, MeshObjectWriter *w, const char *data, size_t len)
{
	if (job->out)
		obj_temp_write(job->out, data, len);
	else
		mesh_object_write(w, data, len);
}

/* Run the query and write its rows through w (a mesh_object_write_guarded fill). */
static void
export_rows(MeshObjectWriter *w, void *arg)
{
	ExportJob  *job = arg;
	const ExportSpec *spec = job->spec;
	SPIPlanPtr	plan;
	Portal		portal;
	bool		first = true;
	StringInfoData buf;
	MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "mesh export batch",
													ALLOCSET_DEFAULT_SIZES);

	plan = SPI_prepare(job->query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "mesh.export could not prepare its query: %s", SPI_result_code_string(SPI_result));
	if (!SPI_is_cursor_plan(plan))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mesh.export's query returns no rows"),
				 errhint("Pass one SELECT, VALUES or TABLE query.")));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	initStringInfo(&buf);
	for (;;)
	{
		TupleDesc	desc;
		char	  **texts;

		SPI_cursor_fetch(portal, true, EXPORT_FETCH_ROWS);
		desc = SPI_tuptable->tupdesc;
		if (first && spec->format == EXPORT_CSV && spec->header)
		{
			append_header(&buf, desc, spec);
			emit(job, w, buf.data, buf.len);
		}
		if (first && job->out)
			job->desc = CreateTupleDescCopy(desc);
		first = false;
		if (SPI_processed == 0)
			break;
		texts = palloc(sizeof(char *) * Max(desc->natts, 1));
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			MemoryContext old = MemoryContextSwitchTo(batch_cxt);

			for (int i = 0; i < desc->natts; i++)
				texts[i] = SPI_getvalue(SPI_tuptable->vals[r], desc, i + 1);
			resetStringInfo(&buf);
			append_row(&buf, desc, texts, spec);
			MemoryContextSwitchTo(old);
			emit(job, w, buf.data, buf.len);
			job->longest = Max(job->longest, buf.len);
			MemoryContextReset(batch_cxt);
		}
		job->rows += SPI_processed;
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
}

/* The Parquet file's columns: the query's, named once each. */
static void
parquet_columns(TupleDesc desc, char ***names, const char ***types)
{
	if (desc->natts == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mesh.export's query returns no columns"),
				 errhint("A Parquet file needs at least one column.")));
	*names = palloc(sizeof(char *) * desc->natts);
	*types = palloc(sizeof(char *) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		(*names)[i] = NameStr(att->attname);
		(*types)[i] = obj_parquet_type_for(att->atttypid, att->atttypmod);
		for (int k = 0; k < i; k++)
			if (pg_strcasecmp((*names)[k], (*names)[i]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("mesh.export's query returns the column name \"%s\" twice",
								(*names)[i]),
						 errhint("A Parquet file's columns are read by name: give each an alias of its own (names differing only in case count as the same).")));
	}
}

static void
parquet_work_free(ParquetWork *pw)
{
	obj_duck_close(pw->duck);
	obj_temp_close(&pw->rows);
	obj_temp_close(&pw->parquet);
}

/*
 * The rows as CSV into a temporary file, a Parquet file of them made by
 * DuckDB, uploaded through w (a mesh_object_write_guarded fill).  The
 * files are deleted whatever happens.
 */
static void
export_parquet(MeshObjectWriter *w, void *arg)
{
	ExportJob  *job = arg;
	ExportSpec	csv = *job->spec;
	ParquetWork *pw = palloc0(sizeof(ParquetWork));

	csv.format = EXPORT_CSV;
	csv.header = false;
	csv.delimiter = ',';
	job->spec = &csv;
	pw->rows.file = pw->parquet.file = -1;
	PG_TRY();
	{
		char	  **names;
		const char **types;

		obj_temp_open(&pw->rows);
		job->out = &pw->rows;
		export_rows(w, job);
		parquet_columns(job->desc, &names, &types);
		obj_temp_open(&pw->parquet);
		pw->duck = obj_parquet_from_csv(NULL, &pw->rows, job->rows, job->longest,
										job->desc->natts, names, types, &pw->parquet,
										"mesh.export");
		obj_temp_close(&pw->rows);
		obj_temp_upload(pw->parquet.path, w);
	}
	PG_CATCH();
	{
		parquet_work_free(pw);
		PG_RE_THROW();
	}
	PG_END_TRY();
	parquet_work_free(pw);
}

/* mesh.export(query, server, path, format, options) RETURNS TABLE (key, rows, bytes, requests) */
Datum
mesh_export(PG_FUNCTION_ARGS)
{
	char	   *query,
			   *server,
			   *path;
	char	   *format = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	Jsonb	   *options = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	MeshServerConfig *config;
	const MeshObjectStore *store;
	ExportSpec	spec;
	MeshObjectWriter *w;
	ExportJob	job = {0};
	void	   *conn;
	int			nest;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mesh.export needs a query, a server and a path")));
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	server = NameStr(*PG_GETARG_NAME(1));
	path = text_to_cstring(PG_GETARG_TEXT_PP(2));
	config = mesh_server_config_by_name(server);
	store = config->connector->object_store;
	if (store == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mesh.export writes to object stores; server \"%s\" is a %s server",
						server, config->connector->kind)));
	if (path[0] == '\0' || path[strlen(path) - 1] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mesh.export's path \"%s\" names no object", path),
				 errhint("Give the object's key, e.g. 'exports/orders.csv'.")));
	read_spec(&spec, path, format, options, config, store);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "mesh.export must return a row");
	conn = mesh_get_connection(config);
	mesh_connection_begin_use(config);
	nest = mesh_canonical_output_begin();
	SPI_connect();
	job.query = query;
	job.spec = &spec;
	w = mesh_object_writer_begin(store, conn, spec.bucket, path,
								 spec.format == EXPORT_CSV ? "text/csv" :
								 spec.format == EXPORT_PARQUET ? OBJ_PARQUET_CONTENT_TYPE :
								 "application/x-ndjson",
								 spec.part_size);
	mesh_object_write_guarded(w, spec.format == EXPORT_PARQUET ? export_parquet : export_rows,
							  &job);
	SPI_finish();
	mesh_canonical_output_end(nest);
	mesh_connection_end_use(config);
	values[0] = CStringGetTextDatum(path);
	values[1] = Int64GetDatum(job.rows);
	values[2] = Int64GetDatum(w->bytes);
	values[3] = Int64GetDatum(w->requests);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
