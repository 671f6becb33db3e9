/*
 * delivery_pool.c: the delivery workers of a database.
 *
 * Every route of a database is served by a small pool: the database worker
 * itself, plus helpers (at most mesh.max_delivery_workers in the whole
 * cluster) that it starts while routes wait and that leave after
 * HELPER_IDLE_EXIT_MS without work.  No process belongs to a route, so a
 * database needs one process however many routes it has.
 *
 * A worker asks which routes have work (not paused, not backing off, and:
 * not yet copied, a batch open, a dead letter to retry, or an undelivered
 * event), oldest undelivered event first, and serves them in that order.
 * The log has one index, on id, so finding a route's oldest undelivered
 * event walks every source's events from its cursor: a batch under way is
 * walked from its progress (mesh._pending_from), and a route whose cursor
 * fell STALE_CURSOR_EVENTS behind the log (it had nothing while other
 * tables wrote) gets a round, which moves its cursor to the log's end.
 * It owns a route while serving it through a session advisory lock
 * (MESH_ROUTE_LOCK_CLASS, route id), so two workers never apply the same
 * route; mesh.stats reads that lock to tell "delivering" from "waiting for
 * a worker".  A turn is rounds of the route (route_worker.c) until it is
 * idle, fails, or TURN_MS passed; then the next route gets its turn.
 *
 * A failed round puts the route in backoff (mesh.route_stats.failures and
 * backoff_until, exponential with jitter): no worker waits for it, every
 * worker goes on with the other routes.  A hanging target holds the worker
 * serving it for at most the server's timeout_ms per attempt; the other
 * workers go on meanwhile.
 */
#include "postgres.h"

#include "common/pg_prng.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mesh.h"
#include "mesh_util.h"
#include "metrics.h"
#include "wal_capture.h"

PGDLLEXPORT void mesh_delivery_worker_main(Datum arg);

#define TURN_MS 200				/* a route's turn before the next route's */
#define DECODER_LOCK_WAIT_MS "200"	/* guarded_round */
#define IDLE_WAIT_MS 1000		/* longest sleep without a wakeup */
#define HELPER_IDLE_EXIT_MS 10000	/* a helper with nothing to do leaves */
#define HELPER_START_EVERY_MS 1000	/* at most one helper start per second */
#define HEALTH_STEP_MS 10		/* idle wait while the database worker's pings run */
#define PASS_GATHER_US 2000		/* a wakeup's pass starts no sooner after the last */
#define STALE_CURSOR_EVENTS 100000	/* a cursor this far behind the log gets a round */

int			mesh_max_delivery_workers = 2;

/* A route with work, as the pick query found it. */
typedef struct RouteWork
{
	int64		id;
	int			failures;		/* consecutive failed rounds */
} RouteWork;

static MemoryContext round_cxt = NULL;	/* reset every round */
static MemoryContext pass_cxt = NULL;	/* reset every pick */
static const char *idle_appname = "mesh delivery worker";
static TimestampTz last_helper_start = 0;

/*
 * The routes of this database with work, oldest undelivered event first,
 * in cxt; *next_backoff_ms: until the earliest backoff ends (-1: none).
 */
static RouteWork *
routes_with_work(int *n, long *next_backoff_ms, MemoryContext cxt)
{
	static MeshStatement pick = {
		"SELECT w.id, w.failures FROM ("
		" SELECT r.id, s.failures, r.created_at,"
		"  NOT c.backfilled OR c.batch_snap IS NOT NULL OR c.done_low < $1"
		"  OR EXISTS (SELECT 1 FROM mesh.dead_letter_store d WHERE d.route = r.id AND d.retry) AS must,"
		"  CASE WHEN c.backfilled AND c.done_low >= $1 THEN"
		"   (SELECT e.captured_at FROM mesh.event_log e"
		"    WHERE e.source = r.source"
		"      AND e.id >= mesh._pending_from(c.done_low, c.batch_snap, c.batch_next_low, c.batch_last_id)"
		"      AND NOT pg_visible_in_snapshot(e.xid, c.done_snap)"
		"      AND NOT (c.batch_snap IS NOT NULL AND pg_visible_in_snapshot(e.xid, c.batch_snap)"
		"               AND e.id <= c.batch_last_id)"
		"    ORDER BY e.id LIMIT 1) END AS oldest"
		" FROM mesh.route r JOIN mesh.route_cursor c ON c.route_id = r.id"
		" JOIN mesh.route_stats s ON s.route_id = r.id"
		" WHERE NOT r.paused AND (s.backoff_until IS NULL OR s.backoff_until <= now())) w"
		" WHERE w.must OR w.oldest IS NOT NULL"
		" ORDER BY COALESCE(w.oldest, w.created_at), w.id",
	1, {INT8OID}};
	static MeshStatement next_backoff = {
		"SELECT ceil(extract(epoch FROM min(s.backoff_until) - now()) * 1000)::bigint"
		" FROM mesh.route_stats s JOIN mesh.route r ON r.id = s.route_id"
	" WHERE NOT r.paused AND s.backoff_until > now()"};
	RouteWork  *work = NULL;
	Datum		stale_below;

	mesh_worker_spi_begin();
	stale_below = Int64GetDatum(mesh_sequence_value() - STALE_CURSOR_EVENTS);
	mesh_statement_run(&pick, &stale_below, NULL, 0);
	*n = SPI_processed;
	work = MemoryContextAlloc(cxt, sizeof(RouteWork) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		bool		isnull;

		work[i].id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		work[i].failures = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	*next_backoff_ms = -1;
	mesh_statement_run(&next_backoff, NULL, NULL, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			*next_backoff_ms = Max(DatumGetInt64(d), 1);
	}
	mesh_worker_spi_commit();
	MemoryContextSwitchTo(cxt);
	return work;
}

/* The advisory lock that makes this worker the route's only server. */
static void
route_locktag(LOCKTAG *tag, int64 route_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, MESH_ROUTE_LOCK_CLASS, (uint32) route_id, 2);
}

static bool
try_own_route(int64 route_id)
{
	LOCKTAG		tag;

	route_locktag(&tag, route_id);
	return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

static void
release_route(int64 route_id)
{
	LOCKTAG		tag;

	route_locktag(&tag, route_id);
	LockRelease(&tag, ExclusiveLock, true);
}

/*
 * Record the outcome of a turn for the route's backoff: a failure starts
 * or lengthens it (100 ms doubling up to 10 s, times 0.5..1); a success
 * after failures ends it.
 */
static void
record_backoff(int64 route_id, bool failed, int failures)
{
	static MeshStatement lengthen = {
		"UPDATE mesh.route_stats SET failures = failures + 1,"
		" backoff_until = now() + least(100 * power(2, least(failures, 20)), 10000)"
		"   * $2 * interval '1 millisecond'"
	" WHERE route_id = $1", 2, {INT8OID, FLOAT8OID}};
	static MeshStatement end = {
		"UPDATE mesh.route_stats SET failures = 0, backoff_until = NULL"
	" WHERE route_id = $1", 1, {INT8OID}};
	Datum		values[2] = {Int64GetDatum(route_id),
	Float8GetDatum(0.5 + 0.5 * pg_prng_double(&pg_global_prng_state))};

	if (!failed && failures == 0)
		return;
	mesh_worker_spi_begin();
	mesh_lock_route(route_id);
	if (failed)
		mesh_statement_run(&lengthen, values, NULL, 0);
	else
		mesh_statement_run(&end, values, NULL, 0);
	mesh_worker_spi_commit();
}

/* Record a round's error as the route's failure; a failure to record it is dropped. */
static void
record_failure_quietly(int64 route_id, const char *error)
{
	PG_TRY();
	{
		mesh_record_failure(route_id, error);
	}
	PG_CATCH();
	{
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
}

/*
 * One round of route_id, errors caught: recorded as the route's failure.
 *
 * In the worker that decodes WAL a round waits at most DECODER_LOCK_WAIT_MS
 * for a lock (its table's, above all): a schema change holds its table
 * while it waits for the decoder (mesh_wal_wait_decoded), so a round
 * queued behind it would stall both for the wait's whole timeout.  A round
 * that gives up is no failure: its turn ends, the worker decodes, and the
 * route is served again; what it delivered but could not record is
 * delivered again (at least once).
 */
static MeshRoundResult
guarded_round(int64 route_id)
{
	volatile MeshRoundResult result = ROUND_IDLE;
	bool		decoder = mesh_wal_spool != NULL;
	char		lock_timeout[32];

	MemoryContextReset(round_cxt);
	MemoryContextSwitchTo(round_cxt);
	strlcpy(lock_timeout, GetConfigOption("lock_timeout", false, false), sizeof(lock_timeout));
	if (decoder)
		SetConfigOption("lock_timeout", DECODER_LOCK_WAIT_MS, PGC_SUSET, PGC_S_OVERRIDE);
	PG_TRY();
	{
		result = mesh_route_round(route_id, round_cxt);
	}
	PG_CATCH();
	{
		bool		lock_busy = decoder && geterrcode() == ERRCODE_LOCK_NOT_AVAILABLE;
		/* the log and mesh.stats are read beyond the table's owner */
		char	   *error = mesh_worker_take_error(round_cxt);

		if (lock_busy)
		{
			ereport(DEBUG1,
					(errmsg("mesh: route %lld: %s; served again after the next decoding step",
							(long long) route_id, error)));
			result = ROUND_BUSY;
		}
		else
		{
			ereport(LOG,
					(errmsg("mesh: route %lld: %s", (long long) route_id, error)));
			record_failure_quietly(route_id, error);
			result = ROUND_BACKOFF;
		}
	}
	PG_END_TRY();
	if (decoder)
		SetConfigOption("lock_timeout", lock_timeout, PGC_SUSET, PGC_S_OVERRIDE);
	MemoryContextSwitchTo(TopMemoryContext);
	return result;
}

/*
 * Serve route w for one turn if no other worker owns it (*owned); true if
 * it may have more work (the turn ended before the route was idle).
 */
static bool
serve_turn(RouteWork *w, bool *owned_out)
{
	TimestampTz start = GetCurrentTimestamp();
	MeshRoundResult result;
	bool		owned;

	mesh_worker_begin_xact();
	owned = try_own_route(w->id);
	CommitTransactionCommand();
	*owned_out = owned;
	if (!owned)
		return false;
	pgstat_report_appname(psprintf("mesh route %lld", (long long) w->id));
	pgstat_report_activity(STATE_RUNNING, NULL);
	do
	{
		CHECK_FOR_INTERRUPTS();
		result = guarded_round(w->id);
	} while (result == ROUND_MORE &&
			 !TimestampDifferenceExceeds(start, GetCurrentTimestamp(), TURN_MS));
	PG_TRY();
	{
		if (result != ROUND_GONE)
			record_backoff(w->id, result == ROUND_BACKOFF, w->failures);
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
	mesh_worker_begin_xact();
	release_route(w->id);
	CommitTransactionCommand();
	pgstat_report_appname(idle_appname);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result == ROUND_MORE || result == ROUND_BUSY;
}

/* Start a helper for this database when routes wait and the cap allows. */
static void
maybe_start_helper(int nwork)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	int			cluster_helpers;
	int			workers = mesh_count_delivery_workers(MyDatabaseId, &cluster_helpers);

	if (nwork <= workers || cluster_helpers >= mesh_max_delivery_workers ||
		!TimestampDifferenceExceeds(last_helper_start, GetCurrentTimestamp(),
									HELPER_START_EVERY_MS))
		return;
	last_helper_start = GetCurrentTimestamp();
	mesh_fill_worker(&bgw, "mesh_delivery_worker_main", "mesh delivery worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh delivery worker %u", MyDatabaseId);
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	bgw.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	bgw.bgw_notify_pid = 0;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		ereport(DEBUG1,
				(errmsg("mesh: no free worker process for a delivery helper"),
				 errdetail("%d routes wait; the database worker serves them in turns.", nwork)));
}

/*
 * Every capturing commit sets the latch.  Woken less than PASS_GATHER_US
 * after the last pass started, wait out the rest with the latch left set
 * (writers then skip the signal) so that one pass serves the commits of
 * that span: at thousands of commits a second, a pass per commit cost the
 * writers half a CPU even with every route paused.
 */
static void
gather_wakeups(TimestampTz pass_start)
{
	long		since_us = (long) (GetCurrentTimestamp() - pass_start);

	if (since_us >= 0 && since_us < PASS_GATHER_US)
		(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (PASS_GATHER_US - since_us + 999) / 1000, PG_WAIT_EXTENSION);
}

/*
 * Serve this database's routes for about budget_ms, sleeping while none
 * has work (a capturing commit, a route change or the end of a backoff
 * wakes it).  Returns true if it served any turn.
 */
bool
mesh_delivery_serve(bool database_worker, long budget_ms)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		served = false;

	for (;;)
	{
		RouteWork  *work;
		int			n;
		long		next_backoff_ms;
		long		left;
		bool		more = false;
		TimestampTz pass_start = GetCurrentTimestamp();
		TimestampTz step_start;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(pass_cxt);
		if (database_worker)
			mesh_wal_capture_step();	/* what writers committed, into the log */
		step_start = GetCurrentTimestamp();
		work = routes_with_work(&n, &next_backoff_ms, pass_cxt);
		mesh_log_if_slow(step_start, "finding routes with work");
		if (database_worker && n > 1)
			maybe_start_helper(n);
		for (int i = 0; i < n; i++)
		{
			bool		owned;
			TimestampTz turn_start = GetCurrentTimestamp();

			more |= serve_turn(&work[i], &owned);
			served |= owned;
			if (owned && mesh_log_slow_steps_ms > 0)
			{
				char		step[64];

				snprintf(step, sizeof(step), "the turn of route %lld", (long long) work[i].id);
				mesh_log_if_slow(turn_start, step);
			}
			if (database_worker)
			{
				step_start = GetCurrentTimestamp();
				(void) mesh_metrics_health_step(0);
				mesh_log_if_slow(step_start, "a health step");
				mesh_wal_capture_step();
			}
		}
		left = budget_ms - TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (left <= 0)
			return served;
		if (more)
			continue;
		if (next_backoff_ms >= 0)
			left = Min(left, next_backoff_ms);
		if (database_worker && mesh_metrics_health_step(0))
			left = Min(left, HEALTH_STEP_MS);
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   left, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			gather_wakeups(pass_start);
		ResetLatch(MyLatch);
	}
}

/* Settings and memory of a process that delivers (after connecting). */
void
mesh_delivery_worker_setup(const char *appname)
{
	idle_appname = appname;
	pgstat_report_appname(appname);
	mesh_canonical_output_session();	/* backfill's text forms as capture's */

	/*
	 * The event log changes faster than its statistics: make sure a chunk
	 * is read by walking the id index in order and stopping at
	 * the limit, never by collecting and sorting the whole backlog.
	 */
	SetConfigOption("enable_bitmapscan", "off", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("enable_sort", "off", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_SESSION);

	/*
	 * A cursor update lost in a crash only means some events are delivered
	 * again, which is idempotent: no need to wait for the WAL flush.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION);
	round_cxt = AllocSetContextCreate(TopMemoryContext, "mesh route round",
									  ALLOCSET_DEFAULT_SIZES);
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "mesh delivery pass",
									 ALLOCSET_DEFAULT_SIZES);
}

/* A helper: serves its database's routes until idle for HELPER_IDLE_EXIT_MS. */
void
mesh_delivery_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	TimestampTz busy_at;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	if (!mesh_register_delivery_helper(dboid))
		proc_exit(0);
	mesh_delivery_worker_setup("mesh delivery worker");
	busy_at = GetCurrentTimestamp();
	for (;;)
	{
		int			cluster_helpers;

		if (!mesh_installed())
			proc_exit(0);
		/* mesh.max_delivery_workers lowered: the surplus leaves */
		(void) mesh_count_delivery_workers(dboid, &cluster_helpers);
		if (cluster_helpers > mesh_max_delivery_workers)
			proc_exit(0);
		if (mesh_delivery_serve(false, IDLE_WAIT_MS))
			busy_at = GetCurrentTimestamp();
		else if (TimestampDifferenceExceeds(busy_at, GetCurrentTimestamp(), HELPER_IDLE_EXIT_MS))
			proc_exit(0);
	}
}
