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
 *
 * Slow clients.  The event loop never waits on one connection, so a slow
 * client only holds a connection slot: at most MAX_CONNECTIONS in all and
 * MAX_PER_IP from one address, and each connection must deliver a complete
 * request within REQUEST_DEADLINE_S of opening (or of its previous
 * response), however it trickles bytes, or it is shut down (MHD's own
 * timeout only counts idle time).
 *
 * Who may ask.  A request carrying MESH_HUB_HEADER (sent by mesh's own
 * HTTP client, http.c) is refused: no role can make the hub fetch its own
 * endpoint through a wrapper.  With mesh.metrics_auth_file set, every
 * request needs the credentials of that file (a bearer token or a basic
 * user:password, compared in constant time); a file that is missing,
 * malformed or readable by other OS users refuses every request (503)
 * until it is fixed and the configuration reloaded.
 */
#include "postgres.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include "common/base64.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "http.h"
#include "metrics.h"

PGDLLEXPORT void mesh_metrics_main(Datum arg);

#define RETRY_BIND_MS 5000
#define REPEAT_WARNING_MS 300000
#define MAX_WAIT_MS 1000
#define MAX_CONNECTIONS 256
#define MAX_PER_IP 16
#define IDLE_TIMEOUT_S 10
#define REQUEST_DEADLINE_S 5

/* One open connection: shut down when its deadline passes. */
typedef struct OpenConn
{
	dlist_node	node;
	struct MHD_Connection *conn;
	TimestampTz deadline;
	bool		shut;
} OpenConn;

static dlist_head open_conns = DLIST_STATIC_INIT(open_conns);

/* mesh.metrics_auth_file, loaded at start and on reload */
typedef enum AuthMode
{
	AUTH_NONE,
	AUTH_BEARER,
	AUTH_BASIC,
	AUTH_BROKEN					/* set but unusable: refuse everything */
} AuthMode;

static AuthMode auth_mode = AUTH_NONE;
static char *auth_secret = NULL;	/* bearer token, or base64 of user:password */

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

/* MHD's connection notifications: track each connection's deadline. */
static void
notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				  enum MHD_ConnectionNotificationCode toe)
{
	OpenConn   *oc;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		oc = MemoryContextAllocZero(TopMemoryContext, sizeof(OpenConn));
		oc->conn = conn;
		oc->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   REQUEST_DEADLINE_S * 1000);
		dlist_push_tail(&open_conns, &oc->node);
		*socket_context = oc;
	}
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL)
	{
		oc = *socket_context;
		dlist_delete(&oc->node);
		pfree(oc);
		*socket_context = NULL;
	}
}

/* A response was queued on conn: it has REQUEST_DEADLINE_S for the next. */
static void
extend_deadline(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	if (info && info->socket_context)
		((OpenConn *) info->socket_context)->deadline =
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(), REQUEST_DEADLINE_S * 1000);
}

/*
 * Shut down every connection past its deadline (MHD then closes it at its
 * next run); returns the milliseconds until the next deadline, at most
 * MAX_WAIT_MS.
 */
static long
enforce_deadlines(void)
{
	dlist_iter	iter;
	TimestampTz now = GetCurrentTimestamp();
	long		wait_ms = MAX_WAIT_MS;

	dlist_foreach(iter, &open_conns)
	{
		OpenConn   *oc = dlist_container(OpenConn, node, iter.cur);

		if (oc->shut)
			continue;
		if (oc->deadline <= now)
		{
			const union MHD_ConnectionInfo *info =
				MHD_get_connection_info(oc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

			if (info)
				shutdown(info->connect_fd, SHUT_RDWR);
			oc->shut = true;
		}
		else
			wait_ms = Min(wait_ms, (long) ((oc->deadline - now) / 1000) + 1);
	}
	return wait_ms;
}

/* Constant-time equality of two strings (their lengths may leak). */
static bool
secret_equal(const char *a, const char *b)
{
	size_t		la = strlen(a);
	size_t		lb = strlen(b);
	volatile unsigned char diff = la != lb;

	for (size_t i = 0; i < lb; i++)
		diff |= (unsigned char) (i < la ? a[i] : 0) ^ (unsigned char) b[i];
	return diff == 0;
}

/*
 * (Re)load mesh.metrics_auth_file: one line, "bearer <token>" or
 * "basic <user>:<password>".  A problem is a WARNING (never quoting the
 * file's content) and refuses every request until fixed.
 */
static void
load_auth(void)
{
	const char *path = mesh_metrics_auth_file;
	char		buf[1024];
	struct stat st;
	FILE	   *f;
	size_t		n;
	char	   *line;
	char	   *sp;
	const char *problem = NULL;

	if (auth_secret)
	{
		explicit_bzero(auth_secret, strlen(auth_secret));
		pfree(auth_secret);
		auth_secret = NULL;
	}
	auth_mode = AUTH_NONE;
	if (path == NULL || path[0] == '\0')
		return;
	auth_mode = AUTH_BROKEN;
	f = AllocateFile(path, "r");
	if (f == NULL)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("mesh metrics: could not open mesh.metrics_auth_file \"%s\": %m", path),
				 errdetail("Every request to the metrics endpoint is refused until the file is fixed and the configuration reloaded.")));
		return;
	}
	if (fstat(fileno(f), &st) != 0)
		problem = "it cannot be examined";
	else if (!S_ISREG(st.st_mode))
		problem = "it is not a regular file";
	else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		problem = "other OS users may access it (it must have permissions u=rw (0600) or less)";
	n = problem ? 0 : fread(buf, 1, sizeof(buf) - 1, f);
	FreeFile(f);
	buf[n] = '\0';
	if (problem == NULL)
	{
		line = buf;
		line[strcspn(line, "\r\n")] = '\0';
		sp = strchr(line, ' ');
		if (sp == NULL || sp[1] == '\0')
			problem = "its line is not \"bearer <token>\" nor \"basic <user>:<password>\"";
		else
		{
			*sp = '\0';
			if (pg_strcasecmp(line, "bearer") == 0)
			{
				auth_mode = AUTH_BEARER;
				auth_secret = MemoryContextStrdup(TopMemoryContext, sp + 1);
			}
			else if (pg_strcasecmp(line, "basic") == 0 && strchr(sp + 1, ':') != NULL)
			{
				int			len = strlen(sp + 1);
				int			enclen = pg_b64_enc_len(len);
				char	   *enc = MemoryContextAllocZero(TopMemoryContext, enclen + 1);

				if (pg_b64_encode(sp + 1, len, enc, enclen) < 0)
					problem = "its credentials cannot be encoded";
				auth_mode = AUTH_BASIC;
				auth_secret = enc;
			}
			else
				problem = "its line is not \"bearer <token>\" nor \"basic <user>:<password>\"";
		}
	}
	explicit_bzero(buf, sizeof(buf));
	if (problem)
	{
		auth_mode = AUTH_BROKEN;
		ereport(WARNING,
				(errmsg("mesh metrics: mesh.metrics_auth_file \"%s\" is not usable: %s", path, problem),
				 errdetail("Every request to the metrics endpoint is refused until the file is fixed and the configuration reloaded.")));
	}
}

/* Do the request's credentials match mesh.metrics_auth_file? */
static bool
authorized(struct MHD_Connection *conn)
{
	const char *h;
	const char *scheme = auth_mode == AUTH_BEARER ? "Bearer" : "Basic";
	size_t		len = strlen(scheme);

	if (auth_mode == AUTH_NONE)
		return true;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || pg_strncasecmp(h, scheme, len) != 0 || h[len] != ' ')
		return false;
	h += len;
	while (*h == ' ')
		h++;
	return secret_equal(h, auth_secret);
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
	extend_deadline(conn);
	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MESH_HUB_HEADER) != NULL)
		return send_text(conn, MHD_HTTP_FORBIDDEN, "text/plain; charset=utf-8",
						 "mesh does not serve requests from its own HTTP client\n",
						 strlen("mesh does not serve requests from its own HTTP client\n"), NULL);
	if (auth_mode == AUTH_BROKEN)
		return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
						 "mesh.metrics_auth_file is not usable: see the PostgreSQL log\n",
						 strlen("mesh.metrics_auth_file is not usable: see the PostgreSQL log\n"), NULL);
	if (!authorized(conn))
	{
		struct MHD_Response *resp;
		enum MHD_Result r;

		resp = MHD_create_response_from_buffer(strlen("authentication needed\n"),
											  (void *) "authentication needed\n",
											  MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
								auth_mode == AUTH_BEARER ? "Bearer realm=\"mesh\"" :
								"Basic realm=\"mesh\", charset=\"UTF-8\"");
		r = MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, resp);
		MHD_destroy_response(resp);
		return r;
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
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0)
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
									 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) MAX_CONNECTIONS,
									 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) MAX_PER_IP,
									 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) IDLE_TIMEOUT_S,
									 MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL,
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
	load_auth();

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
			load_auth();
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
		if (daemon_handle)
			wait_ms = Min(wait_ms, enforce_deadlines());
		if (daemon_handle && MHD_get_timeout(daemon_handle, &mhd_ms) == MHD_YES)
			wait_ms = Min(wait_ms, (long) mhd_ms);
		(void) WaitEventSetWait(set, wait_ms, &event, 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (daemon_handle)
			MHD_run(daemon_handle);
	}
}
