/*
 * shmem.c: shared state of the mesh processes and the wakeups between them.
 *
 * One slot per running worker: (database, number) with its latch; number 0
 * is the database worker, MESH_HELPER_SLOT_BASE + k a delivery helper,
 * MESH_SUBSCRIPTION_SLOT_BASE + id a subscription's worker.  A committing
 * transaction that captured events or changed routes sets the latches of
 * its database's workers (so delivery starts at once, with no polling);
 * one that changed routes also wakes the launcher when the database has no
 * worker yet.  DROP DATABASE first stops that database's workers.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "access/xlogdefs.h"
#include "replication/slot.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"

#include "mesh.h"

typedef struct MeshSlot
{
	bool		used;
	Oid			dboid;
	int64		route_id;		/* 0: the database worker */
	pid_t		pid;
	Latch	   *latch;
	bool		nomesh;			/* database worker found no extension */
	pg_atomic_uint64 wal_decoded;	/* database worker: WAL decoded and written up
									 * to here; 0: it does not capture from WAL */
} MeshSlot;

typedef struct MeshShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch;
	pg_atomic_uint32 generation;	/* bumped when routes or extensions change */
	int			nslots;
	int			nbackends;
	pg_atomic_uint64 *capture_low; /* per backend: see mesh_register_capture */
	MeshSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} MeshShared;

static MeshShared *mesh_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;
static bool wake_workers_at_commit = false;
static bool capture_registered = false;
static bool wake_routes_at_commit = false;
static bool wrote_at_commit = false;	/* the committing transaction has an xid */
static MeshSlot *my_slot = NULL;

static void wake_wal_decoder(Oid dboid);

static Size
slots_size(void)
{
	return MAXALIGN(add_size(offsetof(MeshShared, slots),
							 mul_size(sizeof(MeshSlot), max_worker_processes + 1)));
}

static Size
shared_size(void)
{
	return add_size(slots_size(), mul_size(sizeof(pg_atomic_uint64), MaxBackends));
}

static void
mesh_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("mesh", 1);
}

static void
mesh_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	mesh_shared = ShmemInitStruct("mesh", shared_size(), &found);
	if (!found)
	{
		memset(mesh_shared, 0, shared_size());
		mesh_shared->lock = &(GetNamedLWLockTranche("mesh"))->lock;
		mesh_shared->nslots = max_worker_processes + 1;
		mesh_shared->nbackends = MaxBackends;
		pg_atomic_init_u32(&mesh_shared->generation, 0);
		mesh_shared->capture_low = (pg_atomic_uint64 *) ((char *) mesh_shared + slots_size());
		for (int i = 0; i < MaxBackends; i++)
			pg_atomic_init_u64(&mesh_shared->capture_low[i], 0);
		for (int i = 0; i < mesh_shared->nslots; i++)
			pg_atomic_init_u64(&mesh_shared->slots[i].wal_decoded, 0);
	}
	LWLockRelease(AddinShmemInitLock);
	/* the pointer differs per process only if the segment moved: recompute */
	mesh_shared->capture_low = (pg_atomic_uint64 *) ((char *) mesh_shared + slots_size());
}

/* Wake delivery workers (and, when routes changed, the managers) at commit. */
void
mesh_wake_after_commit(bool routes_changed)
{
	wake_workers_at_commit = true;
	if (routes_changed)
		wake_routes_at_commit = true;
}

static void
wake_now(Oid dboid, bool managers)
{
	bool		nomesh;

	if (mesh_shared == NULL)
		return;
	/* the launcher only needs to act for a database without its worker */
	if (managers && !mesh_worker_running(dboid, 0, &nomesh))
	{
		pg_atomic_fetch_add_u32(&mesh_shared->generation, 1);
		mesh_set_launcher_latch();
	}
	LWLockAcquire(mesh_shared->lock, LW_SHARED);
	for (int i = 0; i < mesh_shared->nslots; i++)
	{
		MeshSlot   *s = &mesh_shared->slots[i];

		/* the database worker and the helpers deliver; all of them wake */
		if (s->used && s->latch && s->dboid == dboid)
			SetLatch(s->latch);
	}
	LWLockRelease(mesh_shared->lock);
}

/*
 * Capturing transactions announce, before taking their first event id, a
 * lower bound of the ids they will take (the sequence's last value + 1),
 * and withdraw it when they end (after their commit became visible).  A
 * delivery worker reads the lowest bound before each snapshot: an event of a
 * transaction not visible in that snapshot either has an id at or above
 * this bound, or above the sequence value read before it (see
 * route_worker.c).  Without shared memory (mesh not preloaded) no worker
 * delivers events, so nothing is announced.
 */
void
mesh_register_capture(void)
{
	int			slot;

	if (capture_registered || mesh_shared == NULL || MyProc == NULL)
		return;
	slot = MyProc->pgprocno;
	if (slot < 0 || slot >= mesh_shared->nbackends)
		elog(ERROR, "mesh: backend slot %d out of range", slot);
	pg_atomic_write_u64(&mesh_shared->capture_low[slot], (uint64) (mesh_sequence_value() + 1));
	pg_memory_barrier();
	capture_registered = true;
}

/* The lowest id a running capturing transaction may hold (INT64_MAX: none). */
int64
mesh_running_capture_low(void)
{
	uint64		low = PG_INT64_MAX;

	if (mesh_shared == NULL)
		return PG_INT64_MAX;
	pg_memory_barrier();
	for (int i = 0; i < mesh_shared->nbackends; i++)
	{
		uint64		v = pg_atomic_read_u64(&mesh_shared->capture_low[i]);

		if (v != 0 && v < low)
			low = v;
	}
	return (int64) low;
}

static void
withdraw_capture(void)
{
	if (!capture_registered)
		return;
	pg_atomic_write_u64(&mesh_shared->capture_low[MyProc->pgprocno], 0);
	capture_registered = false;
}

static void
mesh_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_PREPARE && capture_registered)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot PREPARE a transaction that changed a replicated table"),
				 errhint("mesh captures changes for delivery at commit; use a regular COMMIT.")));
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		withdraw_capture();
	if (event == XACT_EVENT_PRE_COMMIT)
		wrote_at_commit = TransactionIdIsValid(GetTopTransactionIdIfAny());
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		if (wake_workers_at_commit || wake_routes_at_commit)
			wake_now(MyDatabaseId, wake_routes_at_commit);
		else if (wrote_at_commit && (my_slot == NULL || my_slot->route_id != 0))
			wake_wal_decoder(MyDatabaseId);
		wrote_at_commit = false;
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		wake_workers_at_commit = wake_routes_at_commit = false;
}

/*
 * A transaction that wrote something committed: if this database's worker
 * captures from WAL, it has WAL to decode.
 */
static void
wake_wal_decoder(Oid dboid)
{
	if (mesh_shared == NULL)
		return;
	LWLockAcquire(mesh_shared->lock, LW_SHARED);
	for (int i = 0; i < mesh_shared->nslots; i++)
	{
		MeshSlot   *s = &mesh_shared->slots[i];

		if (s->used && s->latch && s->dboid == dboid && s->route_id == 0 &&
			pg_atomic_read_u64(&s->wal_decoded) != 0)
			SetLatch(s->latch);
	}
	LWLockRelease(mesh_shared->lock);
}

/* The database worker: WAL decoded and written up to lsn (0: no WAL capture). */
void
mesh_wal_publish(XLogRecPtr lsn)
{
	if (my_slot)
		pg_atomic_write_u64(&my_slot->wal_decoded, lsn);
}

/*
 * How far dboid's database worker has decoded WAL into the event log
 * (InvalidXLogRecPtr: it does not capture from WAL); wakes it.
 */
XLogRecPtr
mesh_wal_decoded(Oid dboid)
{
	XLogRecPtr	lsn = InvalidXLogRecPtr;

	LWLockAcquire(mesh_shared->lock, LW_SHARED);
	for (int i = 0; i < mesh_shared->nslots; i++)
	{
		MeshSlot   *s = &mesh_shared->slots[i];

		if (s->used && s->dboid == dboid && s->route_id == 0 && s->pid != 0)
		{
			lsn = pg_atomic_read_u64(&s->wal_decoded);
			if (s->latch)
				SetLatch(s->latch);
		}
	}
	LWLockRelease(mesh_shared->lock);
	return lsn;
}

void
mesh_set_launcher_latch(void)
{
	if (mesh_shared && mesh_shared->launcher_latch)
		SetLatch(mesh_shared->launcher_latch);
}

uint32
mesh_launcher_generation(void)
{
	return mesh_shared ? pg_atomic_read_u32(&mesh_shared->generation) : 0;
}

static void
release_slot(int code, Datum arg)
{
	if (my_slot == NULL)
		return;
	LWLockAcquire(mesh_shared->lock, LW_EXCLUSIVE);
	my_slot->pid = 0;
	my_slot->latch = NULL;
	pg_atomic_write_u64(&my_slot->wal_decoded, 0);
	if (!my_slot->nomesh)
		my_slot->used = false;
	LWLockRelease(mesh_shared->lock);
	my_slot = NULL;
}

/*
 * Claim the slot of (dboid, route_id) for this process; false when another
 * live process holds it (then this one must exit).  route_id -1 is the
 * launcher.
 */
bool
mesh_register_worker(Oid dboid, int64 route_id)
{
	MeshSlot   *free_slot = NULL;

	if (route_id < 0)
	{
		mesh_shared->launcher_latch = MyLatch;
		return true;
	}
	LWLockAcquire(mesh_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < mesh_shared->nslots; i++)
	{
		MeshSlot   *s = &mesh_shared->slots[i];

		if (s->used && s->dboid == dboid && s->route_id == route_id)
		{
			if (s->pid != 0 && s->pid != MyProcPid && kill(s->pid, 0) == 0)
			{
				LWLockRelease(mesh_shared->lock);
				return false;
			}
			free_slot = s;
			break;
		}
		if (!s->used && free_slot == NULL)
			free_slot = s;
	}
	if (free_slot == NULL)
	{
		LWLockRelease(mesh_shared->lock);
		elog(ERROR, "no free mesh worker slot");
	}
	free_slot->used = true;
	free_slot->dboid = dboid;
	free_slot->route_id = route_id;
	free_slot->pid = MyProcPid;
	free_slot->latch = MyLatch;
	free_slot->nomesh = false;
	my_slot = free_slot;
	LWLockRelease(mesh_shared->lock);
	before_shmem_exit(release_slot, (Datum) 0);
	return true;
}

/* The calling database worker found no extension: do not restart it. */
void
mesh_slot_set_nomesh(Oid dboid)
{
	if (my_slot)
		my_slot->nomesh = true;
}

/* Is a worker for (dboid, route_id) alive?  *nomesh: it found no mesh. */
bool
mesh_worker_running(Oid dboid, int64 route_id, bool *nomesh)
{
	bool		running = false;

	*nomesh = false;
	LWLockAcquire(mesh_shared->lock, LW_SHARED);
	for (int i = 0; i < mesh_shared->nslots; i++)
	{
		MeshSlot   *s = &mesh_shared->slots[i];

		if (s->used && s->dboid == dboid && s->route_id == route_id)
		{
			*nomesh = s->nomesh;
			running = s->pid != 0 && kill(s->pid, 0) == 0;
		}
	}
	LWLockRelease(mesh_shared->lock);
	return running;
}

static bool
is_helper(MeshSlot *s)
{
	return s->used && s->route_id >= MESH_HELPER_SLOT_BASE &&
		s->route_id < MESH_HELPER_SLOT_BASE + MaxBackends &&
		s->pid != 0 && kill(s->pid, 0) == 0;
}

/*
 * Claim a delivery helper's slot for dboid; false when
 * mesh.max_delivery_workers helpers run in the cluster already.
 */
bool
mesh_register_delivery_helper(Oid dboid)
{
	int			helpers = 0;
	int64		number = MESH_HELPER_SLOT_BASE;
	bool		taken;

	LWLockAcquire(mesh_shared->lock, LW_SHARED);
	for (int i = 0; i < mesh_shared->nslots; i++)
		if (is_helper(&mesh_shared->slots[i]))
			helpers++;
	LWLockRelease(mesh_shared->lock);
	if (helpers >= mesh_max_delivery_workers)
		return false;
	/* the first number of this database no live helper holds */
	do
	{
		bool		nomesh;

		taken = mesh_worker_running(dboid, number, &nomesh);
		if (taken)
			number++;
	} while (taken && number < MESH_HELPER_SLOT_BASE + MaxBackends);
	return !taken && mesh_register_worker(dboid, number);
}

/*
 * Live processes delivering for dboid (its database worker and helpers);
 * *cluster_helpers: live helpers of every database.
 */
int
mesh_count_delivery_workers(Oid dboid, int *cluster_helpers)
{
	int			workers = 0;

	*cluster_helpers = 0;
	LWLockAcquire(mesh_shared->lock, LW_SHARED);
	for (int i = 0; i < mesh_shared->nslots; i++)
	{
		MeshSlot   *s = &mesh_shared->slots[i];

		if (is_helper(s))
			(*cluster_helpers)++;
		if (s->used && s->dboid == dboid && s->pid != 0 && kill(s->pid, 0) == 0 &&
			(s->route_id == 0 || is_helper(s)))
			workers++;
	}
	LWLockRelease(mesh_shared->lock);
	return workers;
}

/* Forget "no mesh" marks, so the launcher probes those databases again. */
void
mesh_clear_nomesh(void)
{
	LWLockAcquire(mesh_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < mesh_shared->nslots; i++)
		if (mesh_shared->slots[i].used && mesh_shared->slots[i].nomesh)
			mesh_shared->slots[i].used = mesh_shared->slots[i].nomesh = false;
	LWLockRelease(mesh_shared->lock);
}

/* Stop every worker of a database (and keep them stopped); waits up to 10 s. */
void
mesh_stop_database_workers(Oid dboid)
{
	if (mesh_shared == NULL)
		return;
	for (int tries = 0; tries < 1000; tries++)
	{
		bool		any = false;

		LWLockAcquire(mesh_shared->lock, LW_EXCLUSIVE);
		for (int i = 0; i < mesh_shared->nslots; i++)
		{
			MeshSlot   *s = &mesh_shared->slots[i];

			if (!s->used || s->dboid != dboid)
				continue;
			if (s->route_id == 0)
				s->nomesh = true;	/* the launcher must not restart it */
			if (s->pid != 0 && kill(s->pid, 0) == 0)
			{
				kill(s->pid, SIGTERM);
				any = true;
			}
		}
		LWLockRelease(mesh_shared->lock);
		if (!any)
			return;
		pg_usleep(10000);
		CHECK_FOR_INTERRUPTS();
	}
}

/* DROP DATABASE: stop its mesh workers first, so the drop is not blocked. */
static void
mesh_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (IsA(stmt, DropdbStmt))
	{
		Oid			dboid = get_database_oid(((DropdbStmt *) stmt)->dbname, true);

		if (OidIsValid(dboid))
		{
			char		slot[NAMEDATALEN];

			mesh_stop_database_workers(dboid);
			/* its WAL capture slot would block the drop (and keep WAL) */
			snprintf(slot, sizeof(slot), "mesh_%u", dboid);
			if (max_replication_slots > 0 && SearchNamedReplicationSlot(slot, true) != NULL)
				ReplicationSlotDrop(slot, true);
		}
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/* Install the shared memory and utility hooks (from _PG_init). */
void
mesh_shmem_init_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mesh_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mesh_shmem_startup;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = mesh_process_utility;
	RegisterXactCallback(mesh_xact_callback, NULL);
}

PG_FUNCTION_INFO_V1(mesh_wake);

/* mesh._wake(): routes or the extension changed; wake the workers at commit. */
Datum
mesh_wake(PG_FUNCTION_ARGS)
{
	mesh_wake_after_commit(true);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mesh_caller);

/*
 * mesh._caller(): the role the caller acts as (SET ROLE included), even
 * inside mesh's SECURITY DEFINER functions.
 */
Datum
mesh_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}

PG_FUNCTION_INFO_V1(mesh_delivery_workers_sql);

/* mesh._delivery_workers(): live processes delivering for this database. */
Datum
mesh_delivery_workers_sql(PG_FUNCTION_ARGS)
{
	int			cluster_helpers;

	if (mesh_shared == NULL)
		PG_RETURN_INT32(0);
	PG_RETURN_INT32(mesh_count_delivery_workers(MyDatabaseId, &cluster_helpers));
}
