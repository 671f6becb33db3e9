/*
 * duckdb_lib.c: libduckdb inside mesh, shared by the DuckDB connector
 * (fdw/duckdb) and the object-store layer's Parquet (object_parquet.c).
 *
 * The library is dlopen'ed on first use: $libdir/libduckdb.so (installed
 * by `make install`, fetched by fdw/duckdb/fetch_libduckdb.sh), else the
 * system's libduckdb.so; a missing library is an error on those uses only.
 * Databases are opened with every signal blocked, so DuckDB's threads
 * never run PostgreSQL's signal handlers.  In a session, statements run
 * task by task (DuckDB's pending-result API) so a query cancel or
 * statement_timeout interrupts them; a background worker runs each with
 * one blocking call (fdw/duckdb/README.md, Limits).
 *
 * Every value crosses in PostgreSQL's text form: a reader asks DuckDB for
 * a VARCHAR (a LIST as JSON, turned into an array literal here) and the
 * column's input function makes the Datum.
 */
#include "postgres.h"

#include <dlfcn.h>
#include <signal.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "duckdb_lib.h"
#include "json_value.h"

static DdbApi api;
static bool api_loaded = false;

/* Load libduckdb; NULL with *error set when it cannot be (never ereports). */
const DdbApi *
ddb_api_load(char **error)
{
	static const char *const names[] = {
		"library_version", "create_config", "set_config", "destroy_config", "open_ext",
		"close", "connect", "disconnect", "free", "query", "destroy_result",
		"result_error", "column_count", "column_name", "column_type", "rows_changed",
		"fetch_chunk", "destroy_data_chunk", "data_chunk_get_size", "data_chunk_get_vector",
		"vector_get_data", "vector_get_validity", "prepare", "prepare_error",
		"destroy_prepare", "nparams", "bind_parameter_index", "bind_varchar_length",
		"bind_int64", "bind_double", "bind_boolean", "bind_null", "execute_prepared",
		"pending_prepared", "pending_prepared_streaming", "pending_execute_task",
		"pending_error", "execute_pending", "destroy_pending",
		"appender_create_ext", "appender_error", "appender_flush", "appender_close",
		"appender_destroy", "appender_end_row", "append_varchar_length", "append_blob",
		"append_null"
	};
	void	  **slots = (void **) &api;
	char		path[MAXPGPATH];
	void	   *h;

	StaticAssertStmt(sizeof(DdbApi) == lengthof(names) * sizeof(void *),
					 "DdbApi and its names differ");
	if (api_loaded)
		return &api;
	snprintf(path, sizeof(path), "%s/libduckdb.so", pkglib_path);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		h = dlopen("libduckdb.so", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
	{
		*error = psprintf("libduckdb.so not found in %s nor on the library path: %s",
						  pkglib_path, dlerror());
		return NULL;
	}
	for (int i = 0; i < lengthof(names); i++)
	{
		char		sym[64];

		snprintf(sym, sizeof(sym), "duckdb_%s", names[i]);
		slots[i] = dlsym(h, sym);
		if (slots[i] == NULL)
		{
			*error = psprintf("libduckdb.so has no function %s (a DuckDB 1.x library is needed)",
							  sym);
			return NULL;
		}
	}
	api_loaded = true;
	return &api;
}

/* The C API, loading the library at first use; errors when it is missing. */
const DdbApi *
ddb_api(void)
{
	char	   *error = NULL;
	const DdbApi *a = ddb_api_load(&error);

	if (a == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("DuckDB library is not available"),
				 errdetail("%s", error),
				 errhint("Run \"make install\" in the mesh source tree (it fetches and installs libduckdb.so), or install libduckdb system-wide.")));
	return a;
}

const DdbApi *
ddb_api_loaded(void)
{
	return api_loaded ? &api : NULL;
}

duckdb_database
ddb_open_database(const char *path, bool read_only, bool restricted, const char *threads,
				  const char *memory_limit, char **error)
{
	const DdbApi *a = &api;
	duckdb_config config = NULL;
	duckdb_database db = NULL;
	char	   *err = NULL;
	sigset_t	all,
				old;
	const char *bad = NULL;

	Assert(api_loaded);
	if (a->create_config(&config) != DuckDBSuccess)
	{
		*error = pstrdup("could not create a DuckDB configuration");
		return NULL;
	}
	if (read_only && a->set_config(config, "access_mode", "READ_ONLY") != DuckDBSuccess)
		bad = "access_mode";
	if (!bad && threads && a->set_config(config, "threads", threads) != DuckDBSuccess)
		bad = "threads";
	if (!bad && memory_limit && a->set_config(config, "memory_limit", memory_limit) != DuckDBSuccess)
		bad = "memory_limit";
	if (restricted)
	{
		/* no file, network or extension access beyond the database itself */
		static const char *const off[] = {
			"enable_external_access", "autoinstall_known_extensions",
			"autoload_known_extensions", "allow_community_extensions"
		};

		for (int i = 0; !bad && i < lengthof(off); i++)
			if (a->set_config(config, off[i], "false") != DuckDBSuccess)
				bad = off[i];
	}
	if (bad)
	{
		a->destroy_config(&config);
		*error = psprintf("DuckDB refused the setting %s", bad);
		return NULL;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (a->open_ext(path, &db, config, &err) != DuckDBSuccess)
	{
		*error = pstrdup(err ? err : "unknown error");
		db = NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		a->free(err);
	a->destroy_config(&config);
	return db;
}

/* Memory context callback: destroy a duckdb_result (palloc'd). */
void
ddb_destroy_result_cb(void *arg)
{
	duckdb_result *res = arg;

	if (res->internal_data != NULL && api_loaded)
		api.destroy_result(res);
	res->internal_data = NULL;
}

/* Reset callbacks: free a pending result / a prepared statement. */
static void
pending_cleanup(void *arg)
{
	duckdb_pending_result *p = arg;

	if (*p && api_loaded)
		api.destroy_pending(p);
	*p = NULL;
}

static void
prepared_cleanup(void *arg)
{
	duckdb_prepared_statement *st = arg;

	if (*st && api_loaded)
		api.destroy_prepare(st);
	*st = NULL;
}

/* A prepared statement freed with the current memory context (or by hand). */
duckdb_prepared_statement *
ddb_prepared_holder(void)
{
	duckdb_prepared_statement *st = palloc0(sizeof(duckdb_prepared_statement));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

	cb->func = prepared_cleanup;
	cb->arg = st;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return st;
}

void
ddb_prepared_free(duckdb_prepared_statement *st)
{
	prepared_cleanup(st);
}

bool
ddb_run_pending(duckdb_prepared_statement st, bool streaming, duckdb_result *res, char **error)
{
	const DdbApi *a = ddb_api();
	duckdb_pending_result *pending = palloc0(sizeof(duckdb_pending_result));
	MemoryContextCallback *pcb = palloc0(sizeof(MemoryContextCallback));
	duckdb_state started;
	int			state;

	memset(res, 0, sizeof(*res));
	pcb->func = pending_cleanup;
	pcb->arg = pending;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, pcb);
	started = streaming ? a->pending_prepared_streaming(st, pending) :
		a->pending_prepared(st, pending);
	if (started != DuckDBSuccess)
	{
		*error = pstrdup(a->pending_error(*pending) ? a->pending_error(*pending) :
						 a->prepare_error(st) ? a->prepare_error(st) : "?");
		pending_cleanup(pending);
		return false;
	}
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		state = a->pending_execute_task(*pending);
		if (state == DUCKDB_PENDING_RESULT_READY)
			break;
		if (state == DUCKDB_PENDING_ERROR)
		{
			*error = pstrdup(a->pending_error(*pending) ? a->pending_error(*pending) : "?");
			pending_cleanup(pending);
			return false;
		}
		if (state == DUCKDB_PENDING_NO_TASKS_AVAILABLE)
			pg_usleep(100L);	/* DuckDB's threads hold the work */
	}
	if (a->execute_pending(*pending, res) != DuckDBSuccess)
	{
		*error = pstrdup(a->result_error(res) ? a->result_error(res) : "unknown error");
		a->destroy_result(res);
		res->internal_data = NULL;
		pending_cleanup(pending);
		return false;
	}
	pending_cleanup(pending);
	return true;
}

bool
ddb_run_sql(duckdb_connection con, const char *sql, bool streaming, duckdb_result *res,
			char **error)
{
	const DdbApi *a = ddb_api();
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	duckdb_prepared_statement *st;

	memset(res, 0, sizeof(*res));
	if (IsBackgroundWorker)
	{
		/* one blocking call (prepared statements crashed in the worker) */
		if (a->query(con, sql, res) != DuckDBSuccess)
		{
			*error = pstrdup(a->result_error(res) ? a->result_error(res) : "unknown error");
			a->destroy_result(res);
			res->internal_data = NULL;
			return false;
		}
	}
	else
	{
		st = ddb_prepared_holder();
		if (a->prepare(con, sql, st) != DuckDBSuccess)
		{
			*error = pstrdup(a->prepare_error(*st) ? a->prepare_error(*st) : "?");
			ddb_prepared_free(st);
			return false;
		}
		if (!ddb_run_pending(*st, streaming, res, error))
		{
			ddb_prepared_free(st);
			return false;
		}
		ddb_prepared_free(st);
	}
	cb->func = ddb_destroy_result_cb;
	cb->arg = res;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return true;
}

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

/*
 * The DuckDB type of a column for a PostgreSQL type (typmod -1 when
 * unknown); NULL when there is none.
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
