/*
 * metrics_state.c: the shared-memory area behind the metrics endpoint.
 *
 * Each database worker owns the rows of its database: it attaches its
 * database once (the rows go when it exits), then republishes its routes
 * every second and its slower figures and backend health when it measured
 * them.  A route's row survives republication, so what only this area
 * keeps (the samples for the delivery rate) carries over;
 * a route no longer published is gone.  The metrics worker copies the
 * whole area under the lock and renders the copy, so a request never holds
 * the lock while it formats or sends.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/memutils.h"

#include "metrics.h"

#define SAMPLE_EVERY_MS 5000

static MeshMetricsShared *metrics = NULL;
static MeshMetricsShared *snapshot = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
metrics_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(MeshMetricsShared)));
	RequestNamedLWLockTranche("mesh metrics", 1);
}

static void
metrics_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	metrics = ShmemInitStruct("mesh metrics", sizeof(MeshMetricsShared), &found);
	if (!found)
	{
		memset(metrics, 0, sizeof(MeshMetricsShared));
		metrics->lock = &(GetNamedLWLockTranche("mesh metrics"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Install the shared memory hooks (from _PG_init under preloading). */
void
mesh_metrics_shmem_init_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = metrics_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = metrics_shmem_startup;
}

static MeshDatabaseMetrics *
find_db(Oid dboid)
{
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
		if (metrics->dbs[i].used && metrics->dbs[i].dboid == dboid)
			return &metrics->dbs[i];
	return NULL;
}

/* Remove every row of a database (lock held exclusively). */
static void
clear_database(Oid dboid)
{
	MeshDatabaseMetrics *db = find_db(dboid);

	if (db)
		db->used = false;
	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
		if (metrics->routes[i].used && metrics->routes[i].dboid == dboid)
			metrics->routes[i].used = false;
	for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
		if (metrics->backends[i].used && metrics->backends[i].dboid == dboid)
			metrics->backends[i].used = false;
}

static void
detach_database(int code, Datum arg)
{
	LWLockAcquire(metrics->lock, LW_EXCLUSIVE);
	clear_database(DatumGetObjectId(arg));
	LWLockRelease(metrics->lock);
}

/*
 * Give this process's database (named name, UTF-8) its rows, dropped again
 * when the process exits.  False when mesh is not preloaded or the table
 * of databases is full.
 */
bool
mesh_metrics_attach_database(Oid dboid, const char *name)
{
	MeshDatabaseMetrics *db;

	if (metrics == NULL)
		return false;
	LWLockAcquire(metrics->lock, LW_EXCLUSIVE);
	clear_database(dboid);		/* leftovers of a worker that died */
	db = NULL;
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES && db == NULL; i++)
		if (!metrics->dbs[i].used)
			db = &metrics->dbs[i];
	if (db)
	{
		memset(db, 0, sizeof(*db));
		db->used = true;
		db->dboid = dboid;
		strlcpy(db->name, name, sizeof(db->name));
	}
	LWLockRelease(metrics->lock);
	if (db == NULL)
		return false;
	before_shmem_exit(detach_database, ObjectIdGetDatum(dboid));
	return true;
}

static MeshRouteMetrics *
find_route(Oid dboid, int64 route_id)
{
	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
	{
		MeshRouteMetrics *r = &metrics->routes[i];

		if (r->used && r->dboid == dboid && r->route_id == route_id)
			return r;
	}
	return NULL;
}

/* Record the delivered count for the rate (one sample per 5 s, a minute kept). */
static void
add_sample(MeshRouteMetrics *r, TimestampTz now)
{
	int			last = r->nsamples - 1;

	if (last >= 0 && r->delivered < r->sample_delivered[last])
		r->nsamples = last = -1;	/* a reset counter starts over */
	if (last >= 0 && !TimestampDifferenceExceeds(r->sample_at[last], now, SAMPLE_EVERY_MS))
		return;
	if (r->nsamples == MESH_METRICS_SAMPLES)
	{
		memmove(r->sample_at, r->sample_at + 1, sizeof(TimestampTz) * (MESH_METRICS_SAMPLES - 1));
		memmove(r->sample_delivered, r->sample_delivered + 1, sizeof(int64) * (MESH_METRICS_SAMPLES - 1));
		r->nsamples--;
	}
	r->sample_at[r->nsamples] = now;
	r->sample_delivered[r->nsamples] = r->delivered;
	r->nsamples++;
}

/*
 * Replace the routes of dboid by rows[0..n) (identity, counters, state;
 * pending and its oldest event only if with_pending, else the previous
 * measurement stays).  *remeasure: some route has delivered as many events
 * as were pending at its last measurement (it may have caught up: measure
 * again, now cheaply).  Returns how many rows found no room.
 */
int
mesh_metrics_publish_routes(Oid dboid, MeshRouteMetrics *rows, int n, bool with_pending,
							bool *remeasure)
{
	bool		keep[MESH_METRICS_MAX_ROUTES] = {false};
	TimestampTz now = GetCurrentTimestamp();
	MeshDatabaseMetrics *db;
	int			dropped = 0;

	*remeasure = false;
	LWLockAcquire(metrics->lock, LW_EXCLUSIVE);
	db = find_db(dboid);
	if (db == NULL)
	{
		LWLockRelease(metrics->lock);
		return n;
	}
	for (int k = 0; k < n; k++)
	{
		MeshRouteMetrics *in = &rows[k];
		MeshRouteMetrics *r = find_route(dboid, in->route_id);

		for (int i = 0; i < MESH_METRICS_MAX_ROUTES && r == NULL; i++)
			if (!metrics->routes[i].used)
			{
				r = &metrics->routes[i];
				memset(r, 0, sizeof(*r));
				r->used = true;
				r->dboid = dboid;
				r->route_id = in->route_id;
				r->pending = -1;
			}
		if (r == NULL)
		{
			dropped++;
			continue;
		}
		keep[r - metrics->routes] = true;
		memcpy(r->source, in->source, sizeof(r->source));
		memcpy(r->target, in->target, sizeof(r->target));
		memcpy(r->kind, in->kind, sizeof(r->kind));
		memcpy(r->role, in->role, sizeof(r->role));
		memcpy(r->last_error, in->last_error, sizeof(r->last_error));
		r->paused = in->paused;
		r->backfilled = in->backfilled;
		r->delivered = in->delivered;
		r->failed = in->failed;
		r->dead = in->dead;
		memcpy(r->state, in->state, sizeof(r->state));
		r->last_delivered_at = in->last_delivered_at;
		r->updated_at = now;
		if (with_pending)
		{
			r->pending = in->pending;
			r->oldest_pending = in->oldest_pending;
			r->pending_at = now;
			r->pending_delivered = in->delivered;
		}
		else if (r->pending > 0 && mesh_route_pending(r) == 0)
			*remeasure = true;
		add_sample(r, now);
	}
	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
		if (metrics->routes[i].used && metrics->routes[i].dboid == dboid && !keep[i])
			metrics->routes[i].used = false;
	db->routes_at = now;
	LWLockRelease(metrics->lock);
	return dropped;
}

/* The database's event log size and newest dead letters (newest first). */
void
mesh_metrics_publish_database(Oid dboid, int64 bytes, int64 rows,
							  int64 wal_lag, int64 wal_retained,
							  MeshDeadLetterInfo *dead, int ndead)
{
	MeshDatabaseMetrics *db;

	LWLockAcquire(metrics->lock, LW_EXCLUSIVE);
	db = find_db(dboid);
	if (db)
	{
		db->event_log_bytes = bytes;
		db->event_log_rows = rows;
		db->wal_lag_bytes = wal_lag;
		db->wal_retained_bytes = wal_retained;
		db->ndead = Min(ndead, MESH_METRICS_RECENT_DEAD);
		memcpy(db->dead, dead, sizeof(MeshDeadLetterInfo) * db->ndead);
		db->slow_at = GetCurrentTimestamp();
	}
	LWLockRelease(metrics->lock);
}

/* Replace the backends of dboid by the results of a health round. */
void
mesh_metrics_publish_backends(Oid dboid, MeshBackendMetrics *rows, int n)
{
	MeshDatabaseMetrics *db;
	int			next = 0;

	LWLockAcquire(metrics->lock, LW_EXCLUSIVE);
	db = find_db(dboid);
	if (db)
	{
		for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
			if (metrics->backends[i].used && metrics->backends[i].dboid == dboid)
				metrics->backends[i].used = false;
		for (int k = 0; k < n; k++)
		{
			while (next < MESH_METRICS_MAX_BACKENDS && metrics->backends[next].used)
				next++;
			if (next == MESH_METRICS_MAX_BACKENDS)
				break;
			metrics->backends[next] = rows[k];
			metrics->backends[next].used = true;
			metrics->backends[next].dboid = dboid;
		}
		db->health_at = GetCurrentTimestamp();
	}
	LWLockRelease(metrics->lock);
}

/*
 * A private copy of the whole area (the same buffer every call), taken
 * under a shared lock: render it at leisure.  NULL without preloading.
 */
MeshMetricsShared *
mesh_metrics_snapshot(void)
{
	if (metrics == NULL)
		return NULL;
	if (snapshot == NULL)
		snapshot = MemoryContextAllocHuge(TopMemoryContext, sizeof(MeshMetricsShared));
	LWLockAcquire(metrics->lock, LW_SHARED);
	memcpy(snapshot, metrics, sizeof(MeshMetricsShared));
	LWLockRelease(metrics->lock);
	return snapshot;
}
