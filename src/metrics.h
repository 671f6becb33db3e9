/*
 * metrics.h: what the mesh processes publish in shared memory for the
 * metrics endpoint, and the functions of the metrics process.
 *
 * Writers are the database workers (one per database with mesh; see
 * metrics_collect.c); the only reader is the metrics worker
 * (metrics_server.c), which copies the whole area under a shared LWLock
 * and renders the copy.  Text fields are UTF-8 (converted by the writer),
 * NUL-terminated and truncated to their size; none holds a secret.
 */
#ifndef MESH_METRICS_H
#define MESH_METRICS_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#define MESH_METRICS_MAX_DATABASES 128
#define MESH_METRICS_MAX_ROUTES 1024
#define MESH_METRICS_MAX_BACKENDS 512
#define MESH_METRICS_TEXT 256	/* error messages are cut to this */
#define MESH_METRICS_QNAME (2 * NAMEDATALEN + 8)	/* "schema"."table" */
#define MESH_METRICS_RECENT_DEAD 5
#define MESH_METRICS_SAMPLES 14 /* delivered counts 5 s apart: a minute */

/* mesh.c: settings */
extern int	mesh_metrics_port;
extern char *mesh_metrics_listen_address;
extern int	mesh_health_interval_s;
extern int	mesh_health_timeout_ms;
extern char *mesh_metrics_auth_file;

typedef struct MeshRouteMetrics
{
	bool		used;
	Oid			dboid;
	int64		route_id;
	char		source[MESH_METRICS_QNAME];
	char		target[NAMEDATALEN];
	char		kind[NAMEDATALEN];
	char		role[16];
	bool		paused;
	bool		backfilled;
	int64		delivered;		/* mesh.route_stats: durable counters */
	int64		failed;
	int64		dead;			/* rows in the dead letters */
	int64		pending;		/* undelivered events when measured; -1: not yet */
	TimestampTz oldest_pending; /* capture time of the oldest of them; 0: none */
	TimestampTz pending_at;		/* when pending was measured */
	int64		pending_delivered;	/* delivered at that time */
	TimestampTz last_delivered_at;
	char		state[24];		/* mesh.stats' state (mesh._route_state) */
	TimestampTz updated_at;		/* when delivered was read */
	char		last_error[MESH_METRICS_TEXT];
	int			nsamples;		/* delivered over time, for the rate */
	TimestampTz sample_at[MESH_METRICS_SAMPLES];
	int64		sample_delivered[MESH_METRICS_SAMPLES];
} MeshRouteMetrics;

typedef struct MeshBackendMetrics
{
	bool		used;
	Oid			dboid;
	char		server[NAMEDATALEN];
	char		kind[NAMEDATALEN];
	bool		up;
	double		latency_ms;
	char		version[64];
	char		error[MESH_METRICS_TEXT];
	TimestampTz checked_at;
} MeshBackendMetrics;

typedef struct MeshDeadLetterInfo
{
	int64		route_id;
	int64		event_id;
	char		source[MESH_METRICS_QNAME];
	char		target[NAMEDATALEN];
	int			attempts;
	TimestampTz failed_at;
	char		error[MESH_METRICS_TEXT];
} MeshDeadLetterInfo;

typedef struct MeshDatabaseMetrics
{
	bool		used;
	Oid			dboid;
	char		name[NAMEDATALEN];
	TimestampTz routes_at;		/* last publication of the routes */
	TimestampTz slow_at;		/* of pending, event log and dead letters */
	TimestampTz health_at;		/* of the backends' health */
	int64		event_log_bytes;
	int64		event_log_rows;
	int64		wal_lag_bytes;	/* WAL not yet decoded into the log; -1: no WAL capture */
	int64		wal_retained_bytes; /* WAL the capture slot keeps */
	int			ndead;
	MeshDeadLetterInfo dead[MESH_METRICS_RECENT_DEAD];	/* newest first */
} MeshDatabaseMetrics;

typedef struct MeshMetricsShared
{
	LWLock	   *lock;
	MeshDatabaseMetrics dbs[MESH_METRICS_MAX_DATABASES];
	MeshRouteMetrics routes[MESH_METRICS_MAX_ROUTES];
	MeshBackendMetrics backends[MESH_METRICS_MAX_BACKENDS];
} MeshMetricsShared;

/* metrics_state.c: the shared area */
extern void mesh_metrics_shmem_init_hooks(void);
extern bool mesh_metrics_attach_database(Oid dboid, const char *name);
extern int	mesh_metrics_publish_routes(Oid dboid, MeshRouteMetrics *rows, int n,
										bool with_pending, bool *remeasure);
extern void mesh_metrics_publish_database(Oid dboid, int64 bytes, int64 rows,
										  int64 wal_lag, int64 wal_retained,
										  MeshDeadLetterInfo *dead, int ndead);
extern void mesh_metrics_publish_backends(Oid dboid, MeshBackendMetrics *rows, int n);
extern void mesh_metrics_count_restart(Oid dboid, int64 route_id);
extern MeshMetricsShared *mesh_metrics_snapshot(void);

/* metrics_collect.c: the database worker's side */
extern void mesh_metrics_collect(void);
extern bool mesh_metrics_health_step(int wait_ms);

/* metrics_server.c: the metrics worker */
extern void mesh_start_metrics_worker(void);

/* metrics_render.c, metrics_page.c: the three documents, from a snapshot */
extern void mesh_render_metrics(StringInfo out, MeshMetricsShared *m, TimestampTz now);
extern void mesh_render_health(StringInfo out, MeshMetricsShared *m, TimestampTz now);
extern void mesh_render_status_page(StringInfo out, MeshMetricsShared *m, TimestampTz now);
extern int64 mesh_route_pending(MeshRouteMetrics *r);
extern double mesh_route_lag_seconds(MeshRouteMetrics *r, TimestampTz now);
extern double mesh_route_rate(MeshRouteMetrics *r, TimestampTz now);
extern const char *mesh_database_name(MeshMetricsShared *m, Oid dboid);
extern const char *mesh_utf8_clean(const char *s);

#endif							/* MESH_METRICS_H */
