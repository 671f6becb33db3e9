/*
 * subscribe.c: starting subscription workers, and
 * mesh.wait_for_subscription(into, timeout_ms).
 *
 * The database worker calls mesh_ensure_subscription_workers each round:
 * every subscription of the database gets a worker (subscribe_worker.c)
 * in a mesh worker slot of its own (MESH_SUBSCRIPTION_SLOT_BASE + id).
 *
 * wait_for_subscription asks the stream source (MeshStreamOps.bounds) for
 * each partition's end once, at the call, then polls mesh.subscription_offset every 10 ms until each
 * partition's next offset reached that end: every message published
 * before the call is applied (or dead-lettered) and committed locally.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "mesh.h"
#include "mesh_util.h"
#include "subscribe.h"

PG_FUNCTION_INFO_V1(mesh_wait_for_subscription);
PG_FUNCTION_INFO_V1(mesh_check_stream);

static void
start_subscription_worker(Oid dboid, int64 sub_id)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "mesh");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "mesh_subscription_worker_main");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "mesh subscription worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mesh subscription worker %lld", (long long) sub_id);
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	memcpy(bgw.bgw_extra, &sub_id, sizeof(sub_id));
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		ereport(WARNING,
				(errmsg("mesh: could not start the worker of subscription %lld", (long long) sub_id),
				 errhint("Raise max_worker_processes: mesh needs one process per route and per subscription.")));
}

/* Start the worker of every subscription whose worker is not running. */
void
mesh_ensure_subscription_workers(void)
{
	int64	   *ids = NULL;
	int			n = 0;
	MemoryContext cxt = CurrentMemoryContext;

	mesh_worker_spi_begin();
	if (SPI_execute("SELECT id FROM mesh.subscription ORDER BY id", true, 0) == SPI_OK_SELECT)
	{
		n = SPI_processed;
		ids = MemoryContextAlloc(cxt, sizeof(int64) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			bool		isnull;

			ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	mesh_worker_spi_commit();
	MemoryContextSwitchTo(cxt);
	for (int i = 0; i < n; i++)
	{
		bool		nomesh;

		if (!mesh_worker_running(MyDatabaseId, MESH_SUBSCRIPTION_SLOT_BASE + ids[i], &nomesh))
			start_subscription_worker(MyDatabaseId, ids[i]);
	}
	if (ids)
		pfree(ids);
}

typedef struct WaitTarget
{
	int64		sub_id;
	int			partition;
	int64		high;
} WaitTarget;

/* The stream capability of connector c of server; ereports when it has none. */
static const MeshStreamOps *
stream_of(const MeshConnector *c, const char *server)
{
	if (c->stream == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a stream server", server),
				 errdetail("Its kind is %s.", c->kind),
				 errhint("Subscribe to a server of %s.",
						 mesh_fdw_names_with(offsetof(MeshConnector, stream)))));
	return c->stream;
}

/* The stream capability of a server; ereports when it has none. */
const MeshStreamOps *
mesh_stream_ops(MeshServerConfig *config)
{
	return stream_of(config->connector, config->servername);
}

/* The end offset of every non-empty partition of the subscription's topic. */
static List *
topic_ends(int64 sub_id, const char *server, const char *topic, Oid owner)
{
	ForeignServer *fs = GetForeignServerByName(server, false);
	MeshServerConfig *config = mesh_server_config(fs->serverid, owner);
	const MeshStreamOps *ops = mesh_stream_ops(config);
	void	   *conn = mesh_get_connection(config);
	List	   *targets = NIL;
	int64	   *first,
			   *end;
	int			n;

	mesh_connection_begin_use(config);
	n = ops->bounds(conn, topic, &first, &end);
	mesh_connection_end_use(config);
	for (int p = 0; p < n; p++)
	{
		WaitTarget *t;

		if (end[p] <= first[p])
			continue;			/* nothing to apply there */
		t = palloc(sizeof(WaitTarget));
		t->sub_id = sub_id;
		t->partition = p;
		t->high = end[p];
		targets = lappend(targets, t);
	}
	return targets;
}

/*
 * mesh._check_stream(server, topic), from mesh._subscribe: ereports unless
 * the server is a stream source and topic a valid name there.
 */
Datum
mesh_check_stream(PG_FUNCTION_ARGS)
{
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	ForeignServer *fs = GetForeignServerByName(server, false);
	const MeshStreamOps *ops = stream_of(mesh_connector_for_server(fs->serverid), server);

	ops->check_topic(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

Datum
mesh_wait_for_subscription(PG_FUNCTION_ARGS)
{
	Oid			into = PG_GETARG_OID(0);
	int			timeout_ms = PG_ARGISNULL(1) ? 30000 : PG_GETARG_INT32(1);
	struct timespec start;
	List	   *targets = NIL;
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(into), ObjectIdGetDatum(GetUserId())};
	List	   *subs = NIL;
	ListCell   *lc;
	bool		done = false;
	MeshUserSave save;

	if (!mesh_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mesh is not loaded through shared_preload_libraries"),
				 errhint("Add mesh to shared_preload_libraries in postgresql.conf and restart the server.")));
	mesh_now(&start);
	/* the subscriptions of a table the caller may SELECT, read as mesh's owner */
	mesh_become_owner(&save);
	SPI_connect();
	SPI_execute_with_args("SELECT id, server::text, topic, owner FROM mesh.subscription"
						  " WHERE into_table = $1 AND has_table_privilege($2, $1, 'SELECT')"
						  " ORDER BY id",
						  2, types, values, NULL, true, 0);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table \"%s\" has no subscription", get_rel_name(into) ? get_rel_name(into) : "?"),
				 errhint("Create one with mesh.subscribe(server, topic, table).")));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		List	   *row = list_make4(palloc(sizeof(int64)), NULL, NULL, NULL);

		*(int64 *) linitial(row) = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		lsecond(row) = SPI_getvalue(tup, SPI_tuptable->tupdesc, 2);
		lthird(row) = SPI_getvalue(tup, SPI_tuptable->tupdesc, 3);
		lfourth(row) = (void *) (uintptr_t) DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 4, &isnull));
		subs = lappend(subs, row);
	}
	foreach(lc, subs)
	{
		List	   *row = lfirst(lc);

		targets = list_concat(targets,
							  topic_ends(*(int64 *) linitial(row), lsecond(row), lthird(row),
											   (Oid) (uintptr_t) lfourth(row)));
	}
	for (;;)
	{
		done = true;
		foreach(lc, targets)
		{
			WaitTarget *t = lfirst(lc);
			Oid			ttypes[3] = {INT8OID, INT4OID, INT8OID};
			Datum		tvalues[3] = {Int64GetDatum(t->sub_id), Int32GetDatum(t->partition),
			Int64GetDatum(t->high)};

			SPI_execute_with_args("SELECT 1 FROM mesh.subscription_offset WHERE subscription = $1"
								  " AND partition = $2 AND next_offset >= $3",
								  3, ttypes, tvalues, NULL, false, 1);
			if (SPI_processed == 0)
			{
				done = false;
				break;
			}
		}
		if (done || mesh_elapsed_ms(&start) >= timeout_ms)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	mesh_restore_user(&save);
	PG_RETURN_BOOL(done);
}
