/*
 * launcher.c: the mesh launcher and the database workers.
 *
 * The launcher (a static background worker, connected to no database)
 * starts one database worker per database; a database worker exits at once,
 * marked "no mesh", where the extension is not installed, and is probed
 * again when some backend installs mesh or changes routes.  A database
 * worker delivers its database's routes with the pool (delivery_pool.c),
 * and between turns, about once a second: truncates event-log generations
 * every route has delivered, publishes its routes' figures and backends'
 * health while mesh.metrics_port is set (metrics_collect.c), and starts
 * one worker per subscription (subscribe.c).
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
#include "wal_capture.h"
#include "mesh_util.h"
#include "metrics.h"
#include "subscribe.h"

PGDLLEXPORT void mesh_launcher_main(Datum arg);
PGDLLEXPORT void mesh_database_worker_main(Datum arg);

#define LAUNCHER_TICK_MS 5000
#define DATABASE_TICK_MS 1000
#define RETENTION_EVERY_MS 10000

/* A mesh background worker's common fields. */
void
mesh_fill_worker(BackgroundWorker *bgw, const char *function, const char *type)
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

	mesh_fill_worker(&bgw, "mesh_launcher_main", "mesh launcher");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh launcher");
	bgw.bgw_restart_time = 5;
	RegisterBackgroundWorker(&bgw);
}

void
mesh_start_database_worker(Oid dboid)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	mesh_fill_worker(&bgw, "mesh_database_worker_main", "mesh database worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh database worker %u", dboid);
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		ereport(WARNING,
				(errmsg("mesh: could not start the database worker for database %u", dboid),
				 errdetail("Its routes wait: mesh.stats shows them as waiting for a worker."),
				 errhint("Raise max_worker_processes: mesh needs one process for the launcher, one per database with mesh, up to mesh.max_delivery_workers delivery helpers and one per subscription.")));
}

/* The oids of every database that accepts connections. */
static List *
connectable_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	mesh_worker_begin_xact();
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
	ereport(LOG,
			(errmsg("mesh launcher started"),
			 errdetail("mesh uses one worker process per database with mesh (it delivers every route there), up to %d delivery helpers (mesh.max_delivery_workers) and one per subscription, beside this launcher and the metrics process; max_worker_processes is %d.",
					   mesh_max_delivery_workers, max_worker_processes)));

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

/* Prune the event log in its own transaction; failures wait for the next round. */
static void
prune_event_log(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		mesh_worker_spi_begin();
		SPI_execute("SELECT mesh.prune_event_log()", false, 1);
		mesh_worker_spi_commit();
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
bool
mesh_installed(void)
{
	bool		installed;

	mesh_worker_begin_xact();
	installed = OidIsValid(get_extension_oid("mesh", true));
	CommitTransactionCommand();
	return installed;
}

void
mesh_database_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	TimestampTz last_prune = 0;
	TimestampTz chores_start;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	if (!mesh_register_worker(dboid, 0))
		proc_exit(0);
	mesh_delivery_worker_setup("mesh database worker");

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
			mesh_wal_capture_stop(true);	/* DROP EXTENSION: the slot goes too */
			mesh_slot_set_nomesh(dboid);
			proc_exit(0);
		}
		chores_start = GetCurrentTimestamp();
		mesh_ensure_subscription_workers();
		mesh_metrics_collect();
		mesh_log_if_slow(chores_start, "the metrics snapshot");
		if (TimestampDifferenceExceeds(last_prune, GetCurrentTimestamp(), RETENTION_EVERY_MS))
		{
			chores_start = GetCurrentTimestamp();
			prune_event_log();
			last_prune = GetCurrentTimestamp();
			mesh_log_if_slow(chores_start, "pruning the event log");
		}
		/* deliver until the next chores are due */
		(void) mesh_delivery_serve(true, DATABASE_TICK_MS);
	}
}
