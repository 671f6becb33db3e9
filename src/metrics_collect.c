/*
 * metrics_collect.c: what a database worker publishes for the metrics
 * endpoint (only while mesh.metrics_port is set).
 *
 * Every tick (about a second): each route's identity, state and durable
 * counters (mesh.route_stats, a count of its dead letters): one short
 * query.  The "slow" figures, each route's pending events and the capture
 * time of the oldest (mesh._route_pending, the same as mesh.stats), the
 * event log's size and the newest dead letters, cost a scan of the
 * undelivered events: they are measured at most every second and never
 * more than 5% of the time (the next measurement waits 20 times as long
 * as the last one took); the event log's row count (the planner's
 * estimate, never a count: it runs in the worker that delivers) at most
 * every 30 s.
 * Every mesh.health_interval, and at once when a foreign server or user
 * mapping changed, the backends are pinged as mesh.health does, with no
 * transaction open during the pings: the database worker steps them
 * between route turns (mesh_metrics_health_step), so a backend that
 * never answers does not hold up delivery for mesh.health_timeout.  A
 * failure is logged and retried later; it never stops the worker.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mesh_util.h"
#include "metrics.h"

#define SLOW_MIN_MS 1000
#define SLOW_BUDGET_FACTOR 20
#define ROWS_EVERY_MS 30000
#define RETRY_AFTER_ERROR_MS 10000

static bool attached = false;
static bool attach_failed = false;
static bool warned_full = false;
static TimestampTz next_slow = 0;
static TimestampTz next_rows = 0;
static TimestampTz next_health = 0;
static TimestampTz next_round = 0;	/* after an error: pause every refresh */
static int64 event_log_rows = 0;
static MemoryContext collect_cxt = NULL;
static char *servers_seen = NULL;	/* servers and mappings at the last health round */
static MemoryContext health_cxt = NULL; /* the health round under way */
static MeshHealthRound *health_round = NULL;	/* NULL: none under way */
static MeshHealth *health_items = NULL;
static int	health_n = 0;

/* Copy src (server encoding) into dst as UTF-8, cut at a character boundary. */
static void
utf8_copy(char *dst, size_t size, const char *src)
{
	char	   *u;
	size_t		len;

	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	u = pg_server_to_any(src, strlen(src), PG_UTF8);
	len = strlen(u);
	if (len >= size)
	{
		len = size - 1;
		while (len > 0 && (((unsigned char) u[len]) & 0xC0) == 0x80)
			len--;				/* u[len] must start a character */
	}
	memcpy(dst, u, len);
	dst[len] = '\0';
}

static int64
int8_at(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static TimestampTz
ts_at(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetTimestampTz(d);
}

static bool
bool_at(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

static char *
text_at(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * Read every route (with pending figures if slow) and publish them.
 * Returns a digest of the foreign servers and user mappings (in
 * collect_cxt): when it changes, the backends are checked at once.
 */
static char *
refresh_routes(bool slow)
{
	const char *sql =
		"SELECT r.id, r.source::text, r.target::text,"
		" COALESCE((SELECT substr(w.fdwname, 6) FROM pg_foreign_server s"
		"           JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw"
		"           WHERE s.srvname = r.target AND w.fdwname LIKE 'mesh\\_%%'), 'postgres'),"
		" r.role, r.paused, c.backfilled, s.delivered, s.failed,"
		" (SELECT count(*) FROM mesh.dead_letter_store d WHERE d.route = r.id),"
		" s.last_delivered_at, s.last_error, %s,"
		" (mesh._route_state(r.paused, c.backfilled, s.backoff_until,"
		"   CASE WHEN NOT c.backfilled OR EXISTS (SELECT 1 FROM mesh.event_log e"
		"        WHERE e.source = r.source"
		"          AND e.id >= mesh._pending_from(c.done_low, c.batch_snap, c.batch_next_low, c.batch_last_id)"
		"          AND NOT pg_visible_in_snapshot(e.xid, c.done_snap)"
		"          AND NOT (c.batch_snap IS NOT NULL AND pg_visible_in_snapshot(e.xid, c.batch_snap)"
		"                   AND e.id <= c.batch_last_id)) THEN 1 ELSE 0 END,"
		"   o.route_id IS NOT NULL, mesh._delivery_workers(),"
		"   COALESCE(c.schema_error, c.needs_resync), s.last_error)).state"
		" FROM mesh.route r JOIN mesh.route_cursor c ON c.route_id = r.id"
		" JOIN mesh.route_stats s ON s.route_id = r.id"
		" LEFT JOIN mesh._served_routes() o ON o.route_id = r.id"
		" %s ORDER BY r.id";
	MeshRouteMetrics *rows = NULL;
	int			n;
	char	   *servers;
	bool		remeasure;
	int			nest;

	mesh_worker_spi_begin();
	SPI_execute("SELECT md5(COALESCE((SELECT string_agg(oid::text || ':' || xmin::text, ',' ORDER BY oid)"
				" FROM pg_foreign_server), '') || '/' ||"
				" COALESCE((SELECT string_agg(oid::text || ':' || xmin::text, ',' ORDER BY oid)"
				" FROM pg_user_mapping), ''))", true, 1);
	servers = MemoryContextStrdup(collect_cxt, text_at(0, 1));
	/* the event log is walked by its id index from each cursor, never scanned whole */
	nest = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SPI_execute(psprintf(sql, slow ? "p.pending, p.oldest" : "NULL::bigint, NULL::timestamptz",
						 slow ? "CROSS JOIN LATERAL mesh._route_pending(r.id) p" : ""),
				true, 0);
	AtEOXact_GUC(true, nest);
	n = SPI_processed;
	rows = MemoryContextAllocZero(collect_cxt, sizeof(MeshRouteMetrics) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		MeshRouteMetrics *r = &rows[i];

		r->route_id = int8_at(i, 1);
		utf8_copy(r->source, sizeof(r->source), text_at(i, 2));
		utf8_copy(r->target, sizeof(r->target), text_at(i, 3));
		utf8_copy(r->kind, sizeof(r->kind), text_at(i, 4));
		utf8_copy(r->role, sizeof(r->role), text_at(i, 5));
		r->paused = bool_at(i, 6);
		r->backfilled = bool_at(i, 7);
		r->delivered = int8_at(i, 8);
		r->failed = int8_at(i, 9);
		r->dead = int8_at(i, 10);
		r->last_delivered_at = ts_at(i, 11);
		utf8_copy(r->last_error, sizeof(r->last_error), text_at(i, 12));
		r->pending = int8_at(i, 13);
		r->oldest_pending = ts_at(i, 14);
		utf8_copy(r->state, sizeof(r->state), text_at(i, 15));
	}
	mesh_worker_spi_commit();
	if (mesh_metrics_publish_routes(MyDatabaseId, rows, n, slow, &remeasure) > 0 && !warned_full)
	{
		warned_full = true;
		ereport(WARNING,
				(errmsg("mesh: the metrics endpoint shows only %d routes", MESH_METRICS_MAX_ROUTES),
				 errdetail("Routes beyond that number are left out of /metrics, /health and the status page.")));
	}
	if (remeasure)
		next_slow = 0;
	return servers;
}

/* The event log's size and the newest dead letters. */
static void
refresh_database(bool count_rows)
{
	MeshDeadLetterInfo *dead = MemoryContextAllocZero(collect_cxt,
													  sizeof(MeshDeadLetterInfo) * MESH_METRICS_RECENT_DEAD);
	int64		bytes;
	int64		wal_lag = -1;
	int64		wal_retained = 0;
	int			ndead;

	mesh_worker_spi_begin();
	SPI_execute("SELECT lag_bytes, retained_bytes FROM mesh.wal_capture_status", true, 1);
	if (SPI_processed == 1)
	{
		wal_lag = int8_at(0, 1);
		wal_retained = int8_at(0, 2);
	}
	SPI_execute("SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint"
				" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
				" WHERE n.nspname = 'mesh' AND c.relname ~ '^event_log_[0-9]+$'", true, 1);
	bytes = int8_at(0, 1);
	if (count_rows)
	{
		/* the planner's figure: counting a log of millions held delivery for a second */
		SPI_execute("SELECT COALESCE(sum(approx_events), 0)::bigint FROM mesh.event_log_status", true, 1);
		event_log_rows = int8_at(0, 1);
	}
	SPI_execute(psprintf("SELECT d.route, d.event_id, r.source::text, r.target::text, d.attempts::bigint,"
						 " d.failed_at, COALESCE(d.public_error, '(redacted)')"
						 " FROM mesh.dead_letter_store d"
						 " JOIN mesh.route r ON r.id = d.route"
						 " ORDER BY d.failed_at DESC, d.event_id DESC LIMIT %d",
						 MESH_METRICS_RECENT_DEAD), true, 0);
	ndead = SPI_processed;
	for (int i = 0; i < ndead; i++)
	{
		dead[i].route_id = int8_at(i, 1);
		dead[i].event_id = int8_at(i, 2);
		utf8_copy(dead[i].source, sizeof(dead[i].source), text_at(i, 3));
		utf8_copy(dead[i].target, sizeof(dead[i].target), text_at(i, 4));
		dead[i].attempts = (int) int8_at(i, 5);
		dead[i].failed_at = ts_at(i, 6);
		utf8_copy(dead[i].error, sizeof(dead[i].error), text_at(i, 7));
	}
	mesh_worker_spi_commit();
	mesh_metrics_publish_database(MyDatabaseId, bytes, event_log_rows, wal_lag, wal_retained,
								  dead, ndead);
}

/*
 * Start pinging every backend of this database as mesh.health does, as the
 * owner of the first route to it (whose user mapping delivery uses), else
 * as the server's owner; the pings run with no transaction open, stepped by
 * mesh_metrics_health_step between deliveries.
 */
static void
start_health(void)
{
	int			nservers;
	MemoryContext old;

	if (health_cxt == NULL)
		health_cxt = AllocSetContextCreate(TopMemoryContext, "mesh health round",
										   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(health_cxt);
	health_n = 0;
	mesh_worker_spi_begin();
	SPI_execute("SELECT s.oid, COALESCE((SELECT r.owner FROM mesh.route r"
				" WHERE r.target = s.srvname ORDER BY r.id LIMIT 1), s.srvowner), w.fdwname::text"
				" FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw"
				" ORDER BY s.srvname", true, 0);
	nservers = SPI_processed;
	health_items = MemoryContextAllocZero(health_cxt, sizeof(MeshHealth) * Max(nservers, 1));
	for (int i = 0; i < nservers; i++)
	{
		bool		isnull;
		Oid			server = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 1, &isnull));
		Oid			user = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 2, &isnull));

		if (mesh_connector_by_fdw(text_at(i, 3)) == NULL)
			continue;
		old = MemoryContextSwitchTo(health_cxt);
		health_items[health_n++].ping.config = mesh_server_config(server, user);
		MemoryContextSwitchTo(old);
	}
	mesh_worker_spi_commit();

	old = MemoryContextSwitchTo(health_cxt);
	health_round = mesh_health_start(health_items, health_n, mesh_health_timeout_ms);
	MemoryContextSwitchTo(old);
}

/* Publish the finished round's answers. */
static void
publish_health(void)
{
	MeshBackendMetrics *rows = MemoryContextAllocZero(health_cxt,
													  sizeof(MeshBackendMetrics) * Max(health_n, 1));

	for (int i = 0; i < health_n; i++)
	{
		MeshBackendMetrics *b = &rows[i];
		MeshPing   *p = &health_items[i].ping;

		utf8_copy(b->server, sizeof(b->server), p->config->servername);
		utf8_copy(b->kind, sizeof(b->kind), p->config->connector->kind);
		b->up = p->ok;
		b->latency_ms = health_items[i].latency_ms;
		utf8_copy(b->version, sizeof(b->version), p->version);
		utf8_copy(b->error, sizeof(b->error), p->ok ? NULL : p->error);
		b->checked_at = GetCurrentTimestamp();
	}
	mesh_metrics_publish_backends(MyDatabaseId, rows, health_n);
}

/*
 * Drive the health round under way for at most wait_ms (0: what is ready);
 * publishes it once finished.  True while a round is under way.
 */
bool
mesh_metrics_health_step(int wait_ms)
{
	if (health_round == NULL)
		return false;
	PG_TRY();
	{
		if (mesh_health_step(health_round, wait_ms))
		{
			health_round = NULL;
			publish_health();
		}
	}
	PG_CATCH();
	{
		mesh_health_abandon(health_round);
		health_round = NULL;
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();
	return health_round != NULL;
}

/* Attach this database's rows (once per process); false if impossible. */
static bool
attach(void)
{
	char		name[NAMEDATALEN];

	if (attached || attach_failed)
		return attached;
	mesh_worker_spi_begin();
	utf8_copy(name, sizeof(name), get_database_name(MyDatabaseId));
	mesh_worker_spi_commit();
	attached = mesh_metrics_attach_database(MyDatabaseId, name);
	if (!attached)
	{
		attach_failed = true;
		ereport(WARNING,
				(errmsg("mesh: the metrics endpoint shows at most %d databases; database \"%s\" is left out",
						MESH_METRICS_MAX_DATABASES, name)));
	}
	return attached;
}

/* One round of collection (called by the database worker every tick). */
void
mesh_metrics_collect(void)
{
	MemoryContext outer = CurrentMemoryContext;
	TimestampTz now = GetCurrentTimestamp();

	if (mesh_metrics_port == 0 || now < next_round)
		return;
	if (collect_cxt == NULL)
		collect_cxt = AllocSetContextCreate(TopMemoryContext, "mesh metrics collection",
											ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(collect_cxt);
	PG_TRY();
	{
		if (attach())
		{
			bool		slow = now >= next_slow;
			char	   *servers = refresh_routes(slow);

			if (slow)
			{
				bool		count_rows = now >= next_rows;
				long		took;

				refresh_database(count_rows);
				if (count_rows)
					next_rows = TimestampTzPlusMilliseconds(now, ROWS_EVERY_MS);
				took = TimestampDifferenceMilliseconds(now, GetCurrentTimestamp());
				next_slow = TimestampTzPlusMilliseconds(now, Max(SLOW_MIN_MS, took * SLOW_BUDGET_FACTOR));
			}
			if (mesh_health_interval_s > 0 && health_round == NULL &&
				(now >= next_health || servers_seen == NULL || strcmp(servers, servers_seen) != 0))
			{
				next_health = TimestampTzPlusMilliseconds(now, mesh_health_interval_s * 1000L);
				if (servers_seen)
					pfree(servers_seen);
				servers_seen = MemoryContextStrdup(TopMemoryContext, servers);
				start_health();
			}
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(outer);
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		next_round = TimestampTzPlusMilliseconds(now, RETRY_AFTER_ERROR_MS);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(outer);
}
