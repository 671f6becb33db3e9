/*
 * duckdb.c: the DuckDB connector (embedded libduckdb): options, opening a
 * database file under the one-writer rule, queries and their errors,
 * health.
 *
 * The library, its loading and running statements are src/duckdb_lib.c's
 * (shared with the object-store layer's Parquet).  A DuckDB file can
 * be open read-write by one process at a time (and read-only by several,
 * but not while a writer has it).  mesh never keeps a file open between
 * uses: a backend opens it at its first use in a transaction and closes
 * it at the transaction's end; the delivery worker opens it for one sink
 * batch.  An open that meets another process's lock is retried until
 * timeout_ms, then fails with SQLSTATE 08006 (transient: replication
 * retries) naming the holder's PID.  One exception, for throughput: after
 * a full batch (mesh.batch_size events: more follow at once) the worker
 * keeps the file open for the next batch, at most 2 s.  Scans open read-only (several
 * readers at once); writes, execute and the sink open read-write.
 *
 * Privileges.  DuckDB reads and writes any file the server's OS user can,
 * so a role that may not (not a superuser, not a holder of both
 * pg_read_server_files and pg_write_server_files: MeshServerConfig's
 * server_files) gets a database with external access off and its
 * configuration locked (no file functions, COPY to or from files, ATTACH,
 * INSTALL or LOAD), and a path only inside mesh.duckdb_directory (or
 * ':memory:').  The path is checked when a server is created or altered
 * (as the role doing it) and again at every connect (as the role the
 * connection acts for: the current user, or a route's owner).
 */
#include "postgres.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "access/xact.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "duckdb_internal.h"
#include "http.h"

static const MeshOption ddb_options[] = {
	{.name = "path", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "threads", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 1024},
	{.name = "memory_limit", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "timeout_ms", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 3600000},
	{.name = "schema", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "table", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "column_name", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "add_columns", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_BOOL},
	{NULL}
};

static char *ddb_directory = NULL;	/* mesh.duckdb_directory */
static DdbConn *all_conns = NULL;
static bool xact_callback_registered = false;

/*
 * path with "..", "." and symbolic links resolved (a file not created yet
 * resolves through its directory), or NULL when it cannot be: relative, a
 * dangling link, a missing directory.
 */
static char *
resolve_path(const char *path)
{
	char		buf[PATH_MAX];
	struct stat st;
	const char *slash;
	const char *base;
	char	   *dir;

	if (path[0] != '/')
		return NULL;
	if (realpath(path, buf) != NULL)
		return pstrdup(buf);
	if (errno != ENOENT || lstat(path, &st) == 0)
		return NULL;			/* not ENOENT, or a dangling symbolic link */
	slash = strrchr(path, '/');
	base = slash + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return NULL;
	dir = slash == path ? pstrdup("/") : pnstrdup(path, slash - path);
	if (realpath(dir, buf) == NULL)
		return NULL;
	return psprintf("%s%s%s", buf, strcmp(buf, "/") == 0 ? "" : "/", base);
}

/*
 * Why a role without server_files may not use path (a palloc'd sentence
 * for errdetail), or NULL when it may: ':memory:', or a file inside
 * mesh.duckdb_directory after resolving.  Never ereports.
 */
static char *
path_refusal(const char *path)
{
	char	   *file;
	char	   *dir;
	size_t		len;

	if (strcmp(path, ":memory:") == 0)
		return NULL;
	if (ddb_directory == NULL || ddb_directory[0] == '\0')
		return pstrdup("mesh.duckdb_directory is not set, so this role may only use ':memory:'.");
	dir = resolve_path(ddb_directory);
	if (dir == NULL)
		return psprintf("mesh.duckdb_directory (\"%s\") is not an existing absolute directory.",
						ddb_directory);
	file = resolve_path(path);
	len = strlen(dir);
	if (file == NULL ||
		!(strncmp(file, dir, len) == 0 && (file[len] == '/' || strcmp(dir, "/") == 0) &&
		  file[len + (strcmp(dir, "/") != 0)] != '\0'))
		return psprintf("The path is outside mesh.duckdb_directory (\"%s\") once \"..\" and symbolic links are resolved.",
						ddb_directory);
	return NULL;
}

/*
 * Error unless the current role may give a DuckDB server (servername, or
 * NULL at CREATE SERVER) this path; called for roles without server_files.
 */
static void
check_path(const char *path, const char *servername)
{
	char	   *why = path_refusal(path);

	if (why == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 servername ?
			 errmsg("permission denied for option \"path\" of DuckDB server \"%s\": \"%s\"",
					servername, path) :
			 errmsg("permission denied for option \"path\" of mesh_duckdb: \"%s\"", path),
			 errdetail("%s Only superusers and roles with the privileges of pg_read_server_files and pg_write_server_files may open other DuckDB files.",
					   why),
			 errhint("Use path ':memory:' or a file inside mesh.duckdb_directory (set by a superuser).")));
}

/* CREATE/ALTER SERVER: a role without server_files is held to check_path. */
static void
ddb_validate(int place, List *options)
{
	ListCell   *lc;

	if (place != MESH_OPT_SERVER || mesh_role_has_server_files(GetUserId()))
		return;
	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "path") == 0)
			check_path(defGetString(def), NULL);
	}
}

/* mesh.duckdb_directory */
static void
ddb_define_settings(void)
{
	DefineCustomStringVariable("mesh.duckdb_directory",
							   "Directory under which roles without file privileges may keep DuckDB files.",
							   "Superusers and roles with pg_read_server_files and pg_write_server_files may use any path; other roles only ':memory:' or a file under this directory. Empty: only ':memory:'.",
							   &ddb_directory, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
}

/* Is this open error another process's lock on the file? */
static bool
is_lock_conflict(const char *msg)
{
	return msg && strstr(msg, "Could not set lock on file") != NULL;
}

/* Close dc's database (no-op when closed); never while a scan uses it. */
void
ddb_close(DdbConn *dc)
{
	const DdbApi *a = ddb_api_loaded();

	if (dc->db == NULL)
		return;
	if (dc->con)
		a->disconnect(&dc->con);
	a->close(&dc->db);
	dc->con = NULL;
	dc->db = NULL;
	dc->busy = 0;
}

/* Transaction end: close every file database this backend opened. */
static void
ddb_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	for (DdbConn *dc = all_conns; dc; dc = dc->next)
	{
		if (dc->memory)
			continue;
		if (event == XACT_EVENT_COMMIT && dc->keep_until > GetCurrentTimestamp())
			continue;
		dc->keep_until = 0;
		ddb_close(dc);
	}
}

/*
 * dc's connection, opening the database if needed (read-write when write,
 * else read-only for a file that exists).  Another process's lock is
 * waited for up to timeout_ms.
 */
duckdb_connection
ddb_acquire(DdbConn *dc, bool write)
{
	const DdbApi *a = ddb_api();
	bool		read_only;
	TimestampTz deadline;
	char	   *error = NULL;
	struct stat st;

	if (dc->db != NULL && (!dc->read_only || !write))
		return dc->con;
	if (dc->db != NULL)
	{
		if (dc->busy > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to DuckDB server \"%s\" while a scan of it is open in the same statement",
							dc->servername)));
		ddb_close(dc);
	}
	/* one instance per file in a process: close other servers' handles on it */
	for (DdbConn *o = all_conns; o; o = o->next)
		if (o != dc && o->db != NULL && !dc->memory && strcmp(o->path, dc->path) == 0)
		{
			if (o->busy > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("DuckDB file \"%s\" is in use by server \"%s\" in this statement",
								dc->path, o->servername)));
			ddb_close(o);
		}
	read_only = !write && !dc->memory && stat(dc->path, &st) == 0;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), dc->timeout_ms);
	for (;;)
	{
		/* one DuckDB thread unless the server asks for more (README: limits) */
		dc->db = ddb_open_database(dc->path, read_only, dc->restricted,
							   dc->threads ? dc->threads : "1", dc->memory_limit, &error);
		if (dc->db != NULL || !is_lock_conflict(error) ||
			GetCurrentTimestamp() >= deadline)
			break;
		pfree(error);
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
	if (dc->db == NULL)
	{
		if (is_lock_conflict(error))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("DuckDB database file \"%s\" of server \"%s\" is in use by another process",
							dc->path, dc->servername),
					 errdetail("%s", error),
					 errhint("A DuckDB file is open read-write by one process at a time: mesh's delivery worker holds it while it applies a batch, and a session from its first use in a transaction to the transaction's end. End the other session's transaction or raise the server option timeout_ms (waited %d ms).",
							 dc->timeout_ms)));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not open DuckDB database \"%s\" of server \"%s\"",
						dc->path, dc->servername),
				 errdetail("%s", error),
				 errhint("Check the server option path (an absolute file path the PostgreSQL server's user can write, or ':memory:') and the options threads and memory_limit.")));
	}
	dc->read_only = read_only;
	if (a->connect(dc->db, &dc->con) != DuckDBSuccess)
	{
		a->close(&dc->db);
		dc->db = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to DuckDB database \"%s\"", dc->path)));
	}
	ddb_exec(dc, "SET TimeZone = 'UTC'", "the session setup");
	if (dc->restricted)
		ddb_exec(dc, "SET lock_configuration = true", "the session setup");
	return dc->con;
}

/* Raise a DuckDB error: its message in errdetail. */
void
ddb_raise(DdbConn *dc, const char *what, const char *message)
{
	ereport(ERROR,
			(errcode(is_lock_conflict(message) ? ERRCODE_CONNECTION_FAILURE : ERRCODE_FDW_ERROR),
			 errmsg("DuckDB server \"%s\" failed %s", dc->servername, what),
			 errdetail("%s", message ? message : "unknown error")));
}

/*
 * Execute a prepared statement into *res (destroyed with the current
 * memory context, or by the caller), task by task, so a query cancel,
 * statement_timeout or a shutdown request interrupts it between tasks.
 */
void
ddb_run_prepared(DdbConn *dc, duckdb_prepared_statement st, duckdb_result *res,
				 const char *what)
{
	MemoryContextCallback *rcb = palloc0(sizeof(MemoryContextCallback));
	char	   *error = NULL;

	if (!ddb_run_pending(st, false, res, &error))
		ddb_raise(dc, what, error);
	rcb->func = ddb_destroy_result_cb;
	rcb->arg = res;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, rcb);
}

/*
 * Run one statement, sql, into *res (destroyed with the current memory
 * context, or by the caller); a DuckDB error is raised with what.  The
 * delivery worker runs it with one blocking duckdb_query (prepared
 * statements crashed inside DuckDB in the worker, README: limits).
 */
void
ddb_query(DdbConn *dc, const char *sql, duckdb_result *res, const char *what)
{
	char	   *error = NULL;

	if (!ddb_run_sql(dc->con, sql, false, res, &error))
		ddb_raise(dc, what, error);
}

/* Run a statement whose result is not needed. */
void
ddb_exec(DdbConn *dc, const char *sql, const char *what)
{
	duckdb_result *res = palloc(sizeof(duckdb_result));

	ddb_query(dc, sql, res, what);
	ddb_destroy_result_cb(res);
}

static void *
ddb_connect(MeshServerConfig *config)
{
	const char *path = mesh_config_get(config, "path", NULL);
	DdbConn    *dc;

	if (path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("DuckDB server \"%s\" has no option path", config->servername),
				 errhint("ALTER SERVER %s OPTIONS (ADD path '/absolute/file.duckdb') (or ':memory:').",
						 config->servername)));
	if (strcmp(path, ":memory:") != 0 && path[0] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"path\" of DuckDB server \"%s\": \"%s\"",
						config->servername, path),
				 errhint("Use an absolute file path or ':memory:'.")));
	if (!config->server_files)
		check_path(path, config->servername);
	(void) ddb_api();
	if (!xact_callback_registered)
	{
		RegisterXactCallback(ddb_xact_callback, NULL);
		xact_callback_registered = true;
	}
	dc = MemoryContextAllocZero(TopMemoryContext, sizeof(DdbConn));
	dc->servername = MemoryContextStrdup(TopMemoryContext, config->servername);
	dc->path = MemoryContextStrdup(TopMemoryContext, path);
	dc->memory = strcmp(path, ":memory:") == 0;
	dc->restricted = !config->server_files;
	dc->timeout_ms = config->timeout_ms;
	if (mesh_config_get(config, "threads", NULL))
		dc->threads = MemoryContextStrdup(TopMemoryContext, mesh_config_get(config, "threads", NULL));
	if (mesh_config_get(config, "memory_limit", NULL))
		dc->memory_limit = MemoryContextStrdup(TopMemoryContext,
											   mesh_config_get(config, "memory_limit", NULL));
	dc->next = all_conns;
	all_conns = dc;
	return dc;
}

static void
ddb_disconnect(void *conn)
{
	DdbConn    *dc = conn;
	DdbConn   **p;

	ddb_close(dc);
	for (p = &all_conns; *p; p = &(*p)->next)
		if (*p == dc)
		{
			*p = dc->next;
			break;
		}
	pfree(dc->servername);
	pfree(dc->path);
	if (dc->threads)
		pfree(dc->threads);
	if (dc->memory_limit)
		pfree(dc->memory_limit);
	pfree(dc);
}

/*
 * Health: open the database read-only (a handle this process already has
 * is used as it is) and run SELECT version().  Waits at most 200 ms for
 * another process's lock.  Never ereports.
 */
static void
ddb_ping_start(MeshPing *ping)
{
	const char *path = mesh_config_get(ping->config, "path", NULL);
	char	   *error = NULL;
	const DdbApi *a = ddb_api_load(&error);
	duckdb_database db = NULL;
	duckdb_connection con = NULL;
	duckdb_result res;
	struct stat st;
	bool		memory;

	ping->done = true;
	ping->ok = false;
	if (a == NULL)
	{
		ping->error = error;
		return;
	}
	if (path == NULL || (strcmp(path, ":memory:") != 0 && path[0] != '/'))
	{
		ping->error = pstrdup("option path is missing or not absolute");
		return;
	}
	memory = strcmp(path, ":memory:") == 0;
	if (!memory && !ping->config->server_files && (error = path_refusal(path)) != NULL)
	{
		ping->error = psprintf("option path: %s", error);
		return;
	}
	if (!memory && stat(path, &st) != 0)
	{
		ping->error = psprintf("database file \"%s\" does not exist yet (it is created at the first write)",
							   path);
		return;
	}
	for (DdbConn *dc = all_conns; dc; dc = dc->next)
		if (dc->db != NULL && strcmp(dc->path, path) == 0 && !dc->memory)
			con = dc->con;
	if (con == NULL)
	{
		for (int tries = 0; tries < 20; tries++)
		{
			if (error)
				pfree(error);
			error = NULL;
			db = ddb_open_database(path, !memory, !ping->config->server_files, NULL, NULL, &error);
			if (db != NULL || !is_lock_conflict(error))
				break;
			pg_usleep(10000L);
		}
		if (db == NULL)
		{
			ping->error = error;
			return;
		}
		if (a->connect(db, &con) != DuckDBSuccess)
		{
			a->close(&db);
			ping->error = pstrdup("could not connect");
			return;
		}
	}
	memset(&res, 0, sizeof(res));
	if (a->query(con, "SELECT version()", &res) == DuckDBSuccess)
	{
		duckdb_data_chunk chunk = a->fetch_chunk(res);

		if (chunk && a->data_chunk_get_size(chunk) > 0)
		{
			duckdb_vector v = a->data_chunk_get_vector(chunk, 0);
			uint32_t	len;
			const char *s = ddb_string_data((duckdb_string_t *) a->vector_get_data(v), &len);

			ping->version = pnstrdup(s, len);
			ping->ok = true;
		}
		else
			ping->error = pstrdup("SELECT version() returned no row");
		if (chunk)
			a->destroy_data_chunk(&chunk);
	}
	else
		ping->error = pstrdup(a->result_error(&res) ? a->result_error(&res) : "query failed");
	a->destroy_result(&res);
	if (db != NULL)
	{
		a->disconnect(&con);
		a->close(&db);
	}
}

static void
ddb_ping_finish(MeshPing *ping)
{
}

static void
ddb_ping_continue(MeshPing *ping)
{
}

/* INSERT needs no row identity; UPDATE and DELETE fail at their first row. */
static int
ddb_row_identity(MeshTable *table, AttrNumber *attnums)
{
	return 0;
}

/* Lock conflicts (08006) are retried; everything else is permanent. */
static MeshErrorClass
ddb_classify_error(int code, const char *message)
{
	return mesh_http_classify_error(code, message);
}

static const MeshPingOps duckdb_ping = {
	.ping_start = ddb_ping_start,
	.ping_continue = ddb_ping_continue,
	.ping_finish = ddb_ping_finish,
};

static const MeshScanOps duckdb_scan = {
	.plan_scan = ddb_plan_scan,
	.begin_scan = ddb_begin_scan,
	.next_row = ddb_next_row,
	.end_scan = ddb_end_scan,
	.explain_scan = ddb_explain_scan,
	.plan_upper = ddb_plan_upper,
	.import_schema = ddb_import_schema,
};

static const MeshModifyOps duckdb_modify = {
	.row_identity = ddb_row_identity,
	.begin_modify = ddb_begin_modify,
	.modify_row = ddb_modify_row,
	.end_modify = ddb_end_modify,
};

const MeshConnector mesh_duckdb_connector = {
	.kind = "duckdb",
	.options = ddb_options,
	.connect = ddb_connect,
	.disconnect = ddb_disconnect,
	.validate = ddb_validate,
	.define_settings = ddb_define_settings,
	.execute = ddb_execute,
	.ping = &duckdb_ping,
	.scan = &duckdb_scan,
	.modify = &duckdb_modify,
	.sink = &ddb_sink_ops,
	.fetch_rows = ddb_fetch_rows,
	.scan_keys = ddb_scan_keys,
	.classify_error = ddb_classify_error,
};
