/*
 * launcher.c: the mesh launcher and the database workers.
 *
 * The launcher (a static background worker, connected to no database)
 * starts one database worker per database; a database worker exits at once,
 * marked "no mesh", where the extension is not installed, and is probed
 * again when some backend installs mesh or changes routes.  A database
 * worker starts one route worker per active route, restarts any that died
 * (counted for the metrics endpoint), truncates event-log generations every
 * route has delivered, and, while mesh.metrics_port is set, publishes its
 * routes' figures and backends' health (metrics_collect.c).  It also starts
 * one worker per Kafka subscription (subscribe.c).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "access/tableam.h"

#include "mesh.h"
#include "mesh_util.h"
#include "metrics.h"
#include "subscribe.h"

PGDLLEXPORT void mesh_launcher_main(Datum arg);
PGDLLEXPORT void mesh_database_worker_main(Datum arg);

#define LAUNCHER_TICK_MS 5000
#define DATABASE_TICK_MS 1000
#define RETENTION_EVERY_MS 10000

static void
fill_worker(BackgroundWorker *bgw, const char *function, const char *type)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	snprintf(bgw->bgw_library_name, BGW_MAXLEN, "mesh");
	snprintf(bgw->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw->bgw_type, BGW_MAXLEN, "%s", type);
}

/* Register the launcher (from _PG_init under shared_preload_libraries). */
void
mesh_start_launcher(void)
{
	BackgroundWorker bgw;

	fill_worker(&bgw, "mesh_launcher_main", "mesh launcher");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh launcher");
	bgw.bgw_restart_time = 5;
	RegisterBackgroundWorker(&bgw);
}

void
mesh_start_database_worker(Oid dboid)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	fill_worker(&bgw, "mesh_database_worker_main", "mesh database worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh database worker %u", dboid);
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		ereport(WARNING,
				(errmsg("mesh: could not start the database worker for database %u", dboid),
				 errhint("Raise max_worker_processes: mesh needs one process per database and per route.")));
}

void
mesh_start_route_worker(Oid dboid, int64 route_id)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	fill_worker(&bgw, "mesh_route_worker_main", "mesh route worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh route worker %lld", (long long) route_id);
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	memcpy(bgw.bgw_extra, &route_id, sizeof(route_id));
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		ereport(WARNING,
				(errmsg("mesh: could not start the worker of route %lld", (long long) route_id),
				 errhint("Raise max_worker_processes: mesh needs one process per database and per route.")));
}

/* The oids of every database that accepts connections. */
static List *
connectable_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			result = lappend_oid(result, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

void
mesh_launcher_main(Datum arg)
{
	uint32		seen_generation = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	mesh_register_worker(InvalidOid, -1);
	ereport(LOG, (errmsg("mesh launcher started")));

	for (;;)
	{
		List	   *dbs;
		ListCell   *lc;
		uint32		gen = mesh_launcher_generation();

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (gen != seen_generation)
		{
			mesh_clear_nomesh();
			seen_generation = gen;
		}
		dbs = connectable_databases();
		foreach(lc, dbs)
		{
			bool		nomesh;

			if (!mesh_worker_running(lfirst_oid(lc), 0, &nomesh) && !nomesh)
				mesh_start_database_worker(lfirst_oid(lc));
		}
		list_free(dbs);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_TICK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Active routes seen at the previous round (their worker ran or was started). */
static int64 *known_routes = NULL;
static int	nknown_routes = 0;

static bool
was_known(int64 route_id)
{
	for (int i = 0; i < nknown_routes; i++)
		if (known_routes[i] == route_id)
			return true;
	return false;
}

/*
 * Active routes of this database, started if their worker is not running.
 * A start for a route that was already active at the previous round is a
 * restart (its worker exited while the route stayed active: an error, a
 * termination) and is counted for the metrics endpoint.
 */
static void
ensure_route_workers(void)
{
	int64	   *ids = NULL;
	int			n = 0;

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT id FROM mesh.route WHERE NOT paused ORDER BY id", true, 0) == SPI_OK_SELECT)
	{
		n = SPI_processed;
		ids = MemoryContextAlloc(TopMemoryContext, sizeof(int64) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			bool		isnull;

			ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	for (int i = 0; i < n; i++)
	{
		bool		nomesh;

		if (!mesh_worker_running(MyDatabaseId, ids[i], &nomesh))
		{
			if (was_known(ids[i]))
				mesh_metrics_count_restart(MyDatabaseId, ids[i]);
			mesh_start_route_worker(MyDatabaseId, ids[i]);
		}
	}
	if (known_routes)
		pfree(known_routes);
	known_routes = ids;
	nknown_routes = n;
}

/* Prune the event log in its own transaction; failures wait for the next round. */
static void
prune_event_log(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_execute("SELECT mesh.prune_event_log()", false, 1);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/* True when the extension is installed in this database. */
static bool
mesh_installed(void)
{
	bool		installed;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("mesh", true));
	CommitTransactionCommand();
	return installed;
}

void
mesh_database_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	TimestampTz last_prune = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	if (!mesh_register_worker(dboid, 0))
		proc_exit(0);
	pgstat_report_appname("mesh database worker");
	mesh_canonical_output_session();

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!mesh_installed())
		{
			mesh_slot_set_nomesh(dboid);
			proc_exit(0);
		}
		ensure_route_workers();
		mesh_ensure_subscription_workers();
		mesh_metrics_collect();
		if (TimestampDifferenceExceeds(last_prune, GetCurrentTimestamp(), RETENTION_EVERY_MS))
		{
			prune_event_log();
			last_prune = GetCurrentTimestamp();
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 DATABASE_TICK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
