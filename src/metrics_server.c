/*
 * metrics_server.c: the "mesh metrics" background worker.
 *
 * Design.  The worker connects to no database (it has a backend slot, so
 * it shows in pg_stat_activity, but no catalog): it only renders what the
 * database workers publish in shared memory (metrics_state.c), so a scrape
 * costs no query and no connection whatever the number of databases.
 * Each database worker refreshes its routes' counters every second, their
 * pending events and lag as often as is cheap, and its backends' health
 * every mesh.health_interval (metrics_collect.c).
 *
 * HTTP is libmicrohttpd's, driven from this process's own loop (epoll mode,
 * no threads: request handlers run on the main thread, where palloc,
 * LWLocks and elog are safe).  The loop waits on the latch, postmaster
 * death and MHD's epoll descriptor together.  The listening socket is
 * made here, bound to mesh.metrics_listen_address only, so a port in use
 * is a WARNING naming the address and port and is retried every 5 s; the
 * worker never exits for it.  mesh.metrics_port and the address take
 * effect on reload (SIGHUP); port 0 serves nothing.  SIGTERM stops the
 * server and exits with code 1, so the postmaster starts the worker again
 * after 5 s unless it is shutting down; so does any error exit.
 *
 *   GET /         the status page (HTML, refreshes itself)
 *   GET /metrics  Prometheus text exposition format 0.0.4
 *   GET /health   JSON
 */
#include "postgres.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "metrics.h"

PGDLLEXPORT void mesh_metrics_main(Datum arg);

#define RETRY_BIND_MS 5000
#define REPEAT_WARNING_MS 300000
#define MAX_WAIT_MS 1000

static struct MHD_Daemon *daemon_handle = NULL;
static int	bound_port = 0;
static char *bound_address = NULL;
static MemoryContext request_cxt = NULL;

/* Register the worker (from _PG_init under shared_preload_libraries). */
void
mesh_start_metrics_worker(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	/* a connection to no database: it shows in pg_stat_activity */
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "mesh");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "mesh_metrics_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh metrics");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "mesh metrics");
	RegisterBackgroundWorker(&bgw);
}

/* Queue a response (MHD copies body); allow: the Allow header of a 405. */
static enum MHD_Result
send_text(struct MHD_Connection *conn, unsigned int status, const char *type,
		  const char *body, size_t len, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* the page is self-contained: no script, no external resource */
	MHD_add_response_header(resp, "Content-Security-Policy",
							"default-src 'none'; style-src 'unsafe-inline'");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * MHD's request handler.  Renders into request_cxt from a snapshot of the
 * shared area; an error while rendering is a 500, never a longjmp through
 * MHD's stack.
 */
static enum MHD_Result
handle_request(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **req_state)
{
	static int	seen;
	const char *volatile type = NULL;
	StringInfoData out;
	volatile bool failed = false;
	enum MHD_Result ret;
	MemoryContext old;

	if (*req_state == NULL)
	{
		*req_state = &seen;		/* headers only so far: answer on the next call */
		return MHD_YES;
	}
	if (*upload_data_size != 0)
	{
		*upload_data_size = 0;	/* a body is ignored */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
						 "only GET and HEAD\n", 18, "GET, HEAD");
	if (strcmp(url, "/metrics") == 0)
		type = "text/plain; version=0.0.4; charset=utf-8";
	else if (strcmp(url, "/health") == 0)
		type = "application/json";
	else if (strcmp(url, "/") == 0)
		type = "text/html; charset=utf-8";
	else
		return send_text(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
						 "not found: try /, /metrics or /health\n", 38, NULL);

	MemoryContextReset(request_cxt);
	old = MemoryContextSwitchTo(request_cxt);
	initStringInfo(&out);
	PG_TRY();
	{
		MeshMetricsShared *m = mesh_metrics_snapshot();
		TimestampTz now = GetCurrentTimestamp();

		if (strcmp(url, "/metrics") == 0)
			mesh_render_metrics(&out, m, now);
		else if (strcmp(url, "/health") == 0)
			mesh_render_health(&out, m, now);
		else
			mesh_render_status_page(&out, m, now);
	}
	PG_CATCH();
	{
		LWLockReleaseAll();		/* none is held while rendering; to be sure */
		MemoryContextSwitchTo(request_cxt);
		EmitErrorReport();
		FlushErrorState();
		failed = true;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	if (failed)
		ret = send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
						"internal error: see the PostgreSQL log\n", 39, NULL);
	else
		ret = send_text(conn, MHD_HTTP_OK, type, out.data, out.len, NULL);
	MemoryContextReset(request_cxt);
	return ret;
}

/* MHD's own error messages go to the server log. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	ereport(LOG, (errmsg("mesh metrics: %s", buf)));
}

/*
 * A listening socket on address:port (the first address it resolves to),
 * or -1 with *error set.
 */
static int
listen_socket(const char *address, int port, char **error)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	char		portstr[16];
	int			rc;
	int			fd;
	int			one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(address, portstr, &hints, &res);
	if (rc != 0 || res == NULL)
	{
		*error = psprintf("could not resolve the address: %s", gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
	{
		*error = psprintf("could not create a socket: %m");
		freeaddrinfo(res);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0)
	{
		*error = psprintf("%m");
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Start serving on the configured address and port; false on failure. */
static bool
start_server(char **error)
{
	int			fd = listen_socket(mesh_metrics_listen_address, mesh_metrics_port, error);

	if (fd < 0)
		return false;
	daemon_handle = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
									 handle_request, NULL,
									 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
									 MHD_OPTION_LISTEN_SOCKET, fd,
									 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 32,
									 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 10,
									 MHD_OPTION_END);
	if (daemon_handle == NULL)
	{
		close(fd);
		*error = pstrdup("libmicrohttpd could not start its server");
		return false;
	}
	bound_port = mesh_metrics_port;
	bound_address = MemoryContextStrdup(TopMemoryContext, mesh_metrics_listen_address);
	ereport(LOG,
			(errmsg("mesh metrics: serving /metrics, /health and / on %s port %d",
					bound_address, bound_port)));
	return true;
}

static void
stop_server(void)
{
	if (daemon_handle == NULL)
		return;
	MHD_stop_daemon(daemon_handle);	/* closes the listening socket too */
	daemon_handle = NULL;
	pfree(bound_address);
	bound_address = NULL;
	bound_port = 0;
}

static void
exit_cleanly(int code, Datum arg)
{
	stop_server();
}

/* The wait set: latch, postmaster death, and MHD's epoll descriptor if serving. */
static WaitEventSet *
make_wait_set(void)
{
	WaitEventSet *set = CreateWaitEventSet(TopMemoryContext, 3);

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	if (daemon_handle)
	{
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_handle,
															   MHD_DAEMON_INFO_EPOLL_FD);

		AddWaitEventToSet(set, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	}
	return set;
}

void
mesh_metrics_main(Datum arg)
{
	WaitEventSet *set = NULL;
	TimestampTz next_try = 0;
	TimestampTz warned_at = 0;
	char	   *last_error = NULL;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("mesh metrics");
	request_cxt = AllocSetContextCreate(TopMemoryContext, "mesh metrics request",
										ALLOCSET_DEFAULT_SIZES);
	before_shmem_exit(exit_cleanly, (Datum) 0);

	for (;;)
	{
		WaitEvent	event;
		long		wait_ms = MAX_WAIT_MS;
		MHD_UNSIGNED_LONG_LONG mhd_ms;
		bool		changed = false;

		CHECK_FOR_INTERRUPTS();	/* barriers (DROP DATABASE waits for them) */
		if (ShutdownRequestPending)
		{
			stop_server();
			proc_exit(1);
		}
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (daemon_handle &&
				(bound_port != mesh_metrics_port ||
				 strcmp(bound_address, mesh_metrics_listen_address) != 0))
			{
				stop_server();
				changed = true;
			}
			next_try = 0;
		}
		if (daemon_handle == NULL && mesh_metrics_port > 0 && GetCurrentTimestamp() >= next_try)
		{
			char	   *error = NULL;

			if (start_server(&error))
			{
				changed = true;
				warned_at = 0;
			}
			else
			{
				/* warn at once, then every 5 minutes or when the reason changes */
				if (last_error == NULL || strcmp(last_error, error) != 0 ||
					TimestampDifferenceExceeds(warned_at, GetCurrentTimestamp(), REPEAT_WARNING_MS))
				{
					ereport(WARNING,
							(errmsg("mesh metrics: could not listen on %s port %d: %s",
									mesh_metrics_listen_address, mesh_metrics_port, error),
							 errhint("Free the port or change mesh.metrics_port or mesh.metrics_listen_address, then reload; mesh retries every %d seconds.",
									 RETRY_BIND_MS / 1000)));
					warned_at = GetCurrentTimestamp();
					if (last_error)
						pfree(last_error);
					last_error = MemoryContextStrdup(TopMemoryContext, error);
				}
				next_try = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), RETRY_BIND_MS);
			}
		}
		if (set == NULL || changed)
		{
			if (set)
				FreeWaitEventSet(set);
			set = make_wait_set();
		}
		if (daemon_handle && MHD_get_timeout(daemon_handle, &mhd_ms) == MHD_YES)
			wait_ms = Min(wait_ms, (long) mhd_ms);
		(void) WaitEventSetWait(set, wait_ms, &event, 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (daemon_handle)
			MHD_run(daemon_handle);
	}
}
