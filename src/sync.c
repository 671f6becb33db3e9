/*
 * sync.c: mesh.wait_for_sync(timeout_ms).
 *
 * Takes a snapshot at the call; returns true once every active route (of
 * the given target, if any) is
 * backfilled, has delivered (or dead-lettered) every event visible in that
 * snapshot, and has no dead letter waiting for a retry.  Polls every 10 ms,
 * interruptibly; false after timeout_ms.  A poll asks whether any such
 * event is left (the first one found ends it), never how many: counting a
 * large backlog every 10 ms would take CPU from the workers delivering it.
 * For the same reason it walks the event log's id index from the first id
 * that may be pending (mesh._pending_from: past what the batch under way
 * delivered), never a scan from the start.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "mesh.h"
#include "mesh_util.h"
#include "wal_capture.h"

PG_FUNCTION_INFO_V1(mesh_wait_for_sync);

Datum
mesh_wait_for_sync(PG_FUNCTION_ARGS)
{
	int			timeout_ms = PG_ARGISNULL(0) ? 30000 : PG_GETARG_INT32(0);
	struct timespec start;
	char	   *snapshot;
	bool		synced = false;
	Oid			types[3] = {TEXTOID, NAMEOID, OIDOID};
	Datum		values[3];
	char		nulls[3] = {' ', PG_ARGISNULL(1) ? 'n' : ' ', ' '};
	int			nest;
	MeshUserSave save;

	if (!mesh_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mesh is not loaded through shared_preload_libraries"),
				 errdetail("No worker delivers events, so routes never get in sync."),
				 errhint("Add mesh to shared_preload_libraries in postgresql.conf and restart the server.")));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("mesh.wait_for_sync cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errhint("Its snapshot would never see the workers' progress: call it in READ COMMITTED.")));
	mesh_now(&start);
	/* walk the id index from each cursor, stopping at the first hit */
	nest = NewGUCNestLevel();
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	mesh_become_owner(&save);	/* mesh.route is closed to the caller */
	/* changes of WAL-captured tables committed before now: into the log first */
	if (!mesh_wal_wait_decoded(timeout_ms))
	{
		SPI_finish();
		mesh_restore_user(&save);
		AtEOXact_GUC(true, nest);
		PG_RETURN_BOOL(false);
	}
	SPI_execute("SELECT pg_current_snapshot()::text", false, 1);
	snapshot = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	values[0] = CStringGetTextDatum(snapshot);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	/* the routes of tables the caller may SELECT, read as mesh's owner */
	values[2] = ObjectIdGetDatum(save.userid);
	for (;;)
	{
		bool		isnull;

		SPI_execute_with_args("SELECT NOT EXISTS ("
							  " SELECT 1 FROM mesh.route r JOIN mesh.route_cursor c ON c.route_id = r.id"
							  " WHERE NOT r.paused AND ($2 IS NULL OR r.target = $2)"
							  "  AND has_table_privilege($3, r.source, 'SELECT') AND (NOT c.backfilled"
							  "  OR EXISTS (SELECT 1 FROM mesh.event_log e"
							  "             WHERE e.source = r.source AND e.id >= mesh._pending_from("
							  "               c.done_low, c.batch_snap, c.batch_next_low, c.batch_last_id)"
							  "               AND NOT pg_visible_in_snapshot(e.xid, c.done_snap)"
							  "               AND NOT (c.batch_snap IS NOT NULL AND e.id <= c.batch_last_id"
							  "                        AND pg_visible_in_snapshot(e.xid, c.batch_snap))"
							  "               AND pg_visible_in_snapshot(e.xid, $1::pg_snapshot))"
							  "  OR EXISTS (SELECT 1 FROM mesh.dead_letter_store d"
							  "             WHERE d.route = r.id AND d.retry)))",
							  3, types, values, nulls, false, 1);
		synced = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_freetuptable(SPI_tuptable);
		if (synced || mesh_elapsed_ms(&start) >= timeout_ms)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	mesh_restore_user(&save);
	AtEOXact_GUC(true, nest);
	PG_RETURN_BOOL(synced);
}
