/*
 * duckdb.c: the DuckDB connector (embedded libduckdb): options, loading
 * the library, opening a database file under the one-writer rule, queries
 * and their errors, health.
 *
 * The library is dlopen'ed on first use: $libdir/libduckdb.so (installed
 * by `make install`), else the system's libduckdb.so.  A DuckDB file can
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

#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
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

static DdbApi api;
static bool api_loaded = false;
static char *ddb_directory = NULL;	/* mesh.duckdb_directory */
static DdbConn *all_conns = NULL;
static bool xact_callback_registered = false;

/* Load libduckdb; NULL with *error set when it cannot be (never ereports). */
static const DdbApi *
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
		"pending_prepared", "pending_execute_task", "pending_error", "execute_pending",
		"destroy_pending",
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

/*
 * Open path (read-only or not) with settings; NULL and *error on failure.
 * Signals are blocked while DuckDB starts its threads, so PostgreSQL's
 * signal handlers never run on them.
 */
static duckdb_database
open_database(const DdbApi *a, const char *path, bool read_only, bool restricted,
			  const char *threads, const char *memory_limit, char **error)
{
	duckdb_config config = NULL;
	duckdb_database db = NULL;
	char	   *err = NULL;
	sigset_t	all,
				old;
	const char *bad = NULL;

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

/* Close dc's database (no-op when closed); never while a scan uses it. */
void
ddb_close(DdbConn *dc)
{
	const DdbApi *a = &api;

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
		dc->db = open_database(a, dc->path, read_only, dc->restricted,
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

/*
 * Execute a prepared statement into *res (destroyed with the current
 * memory context, or by the caller), task by task, so a query cancel,
 * statement_timeout or a shutdown request interrupts it between tasks.
 */
void
ddb_run_prepared(DdbConn *dc, duckdb_prepared_statement st, duckdb_result *res,
				 const char *what)
{
	const DdbApi *a = ddb_api();
	duckdb_pending_result *pending = palloc0(sizeof(duckdb_pending_result));
	MemoryContextCallback *pcb = palloc0(sizeof(MemoryContextCallback));
	MemoryContextCallback *rcb = palloc0(sizeof(MemoryContextCallback));
	int			state;

	memset(res, 0, sizeof(*res));
	pcb->func = pending_cleanup;
	pcb->arg = pending;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, pcb);
	if (a->pending_prepared(st, pending) != DuckDBSuccess)
		ddb_raise(dc, what, pstrdup(a->pending_error(*pending) ? a->pending_error(*pending) :
									a->prepare_error(st) ? a->prepare_error(st) : "?"));
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		state = a->pending_execute_task(*pending);
		if (state == DUCKDB_PENDING_RESULT_READY)
			break;
		if (state == DUCKDB_PENDING_ERROR)
			ddb_raise(dc, what, pstrdup(a->pending_error(*pending) ? a->pending_error(*pending) : "?"));
		if (state == DUCKDB_PENDING_NO_TASKS_AVAILABLE)
			pg_usleep(100L);	/* DuckDB's threads hold the work */
	}
	if (a->execute_pending(*pending, res) != DuckDBSuccess)
	{
		char	   *msg = pstrdup(a->result_error(res) ? a->result_error(res) : "unknown error");

		a->destroy_result(res);
		res->internal_data = NULL;
		ddb_raise(dc, what, msg);
	}
	pending_cleanup(pending);
	rcb->func = ddb_destroy_result_cb;
	rcb->arg = res;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, rcb);
}

/*
 * Run one statement, sql, into *res (destroyed with the current memory
 * context, or by the caller); a DuckDB error is raised with what.
 */
void
ddb_query(DdbConn *dc, const char *sql, duckdb_result *res, const char *what)
{
	const DdbApi *a = ddb_api();
	duckdb_prepared_statement *st;

	if (IsBackgroundWorker)
	{
		/*
		 * The delivery worker: one blocking duckdb_query (prepared statements
		 * crashed inside DuckDB in the worker, README: limits).
		 */
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		memset(res, 0, sizeof(*res));
		if (a->query(dc->con, sql, res) != DuckDBSuccess)
		{
			char	   *msg = pstrdup(a->result_error(res) ? a->result_error(res) : "unknown error");

			a->destroy_result(res);
			res->internal_data = NULL;
			ddb_raise(dc, what, msg);
		}
		cb->func = ddb_destroy_result_cb;
		cb->arg = res;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
		return;
	}
	st = ddb_prepared_holder();
	if (a->prepare(dc->con, sql, st) != DuckDBSuccess)
		ddb_raise(dc, what, pstrdup(a->prepare_error(*st) ? a->prepare_error(*st) : "?"));
	ddb_run_prepared(dc, *st, res, what);
	ddb_prepared_free(st);
}

/* Run a statement whose result is not needed. */
void
ddb_exec(DdbConn *dc, const char *sql, const char *what)
{
	duckdb_result *res = palloc(sizeof(duckdb_result));

	ddb_query(dc, sql, res, what);
	api.destroy_result(res);
	res->internal_data = NULL;
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
			db = open_database(a, path, !memory, !ping->config->server_files, NULL, NULL, &error);
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
