/*
 * mesh.h: declarations shared by the core files (not for connectors).
 */
#ifndef MESH_H
#define MESH_H

#include "postgres.h"

#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

#include "connector.h"

/* mesh.c: GUCs */
extern int	mesh_event_retention_s;
extern int	mesh_generation_size;
extern int	mesh_batch_size;
extern int	mesh_backlog_batch_size;
extern bool mesh_preloaded;
extern bool mesh_drop_discards_pending;

#define MESH_GENERATIONS 3

/* shmem.c: workers and wakeups */
extern void mesh_shmem_init_hooks(void);
extern void mesh_wake_after_commit(bool routes_changed);
extern bool mesh_register_worker(Oid dboid, int64 route_id);
extern void mesh_slot_set_nomesh(Oid dboid);
extern bool mesh_worker_running(Oid dboid, int64 route_id, bool *nomesh);
extern uint32 mesh_launcher_generation(void);
extern void mesh_set_launcher_latch(void);
extern void mesh_stop_database_workers(Oid dboid);
extern void mesh_clear_nomesh(void);
extern void mesh_register_capture(void);
extern void mesh_wal_publish(uint64 lsn);

/* wal_capture.c: mesh.capture */
typedef enum MeshCaptureMode
{
	MESH_CAPTURE_AUTO,
	MESH_CAPTURE_WAL,
	MESH_CAPTURE_TRIGGER
} MeshCaptureMode;
extern int	mesh_capture_mode;
extern int	mesh_log_slow_steps_ms;
extern uint64 mesh_wal_decoded(Oid dboid);
extern bool mesh_register_delivery_helper(Oid dboid);
extern int	mesh_count_delivery_workers(Oid dboid, int *cluster_helpers);

/* slot numbers beyond route ids: delivery helpers (subscriptions: subscribe.h) */
#define MESH_HELPER_SLOT_BASE (INT64CONST(1) << 52)
extern int64 mesh_running_capture_low(void);

/* privilege.c */
typedef struct MeshUserSave
{
	Oid			userid;
	int			sec_context;
} MeshUserSave;
extern Oid	mesh_extension_owner(void);
extern void mesh_become(Oid userid, MeshUserSave *save);
extern void mesh_become_owner(MeshUserSave *save);
extern void mesh_restore_user(MeshUserSave *save);
extern void mesh_check_table_owner(Oid relid, Oid userid);

/* launcher.c */
extern void mesh_start_launcher(void);
extern void mesh_start_database_worker(Oid dboid);
extern void mesh_fill_worker(BackgroundWorker *bgw, const char *function, const char *type);
extern bool mesh_installed(void);

/* event_write.c */
extern Oid	mesh_relid(const char *name);
extern void mesh_capture_event_jsonb(Relation rel, Datum *values, bool *nulls, char op,
									 Jsonb **key, Jsonb **row);
extern int64 mesh_sequence_value(void);

/* route.c */
extern MeshRoute *mesh_route_load(int64 route_id, bool *paused, bool *found);
extern List *mesh_routes_of(Oid source);
extern MeshRoute *mesh_route_build(Oid source, const char *target, Jsonb *options,
								   const char *role, Oid owner);
extern void mesh_route_decode(MeshRoute *route, char op, Jsonb *key, Jsonb *row,
							  MeshEvent *ev);
extern char **mesh_route_row_values(MeshRoute *route, TupleDesc desc, HeapTuple tup);
extern void mesh_route_check_options(MeshRoute *route);

/* event_decode.c: event-log jsonb to a MeshEvent's values, one walk per object */
typedef struct MeshEventDecoder MeshEventDecoder;
extern MeshEventDecoder *mesh_event_decoder(MeshRoute *route);
extern void mesh_event_decode(MeshEventDecoder *d, char op, Jsonb *key, Jsonb *row,
							  MeshEvent *ev);

#endif							/* MESH_H */

/* delivery.c: applying events to a target */
typedef struct DeadEvent
{
	int			index;			/* into the events array */
	char	   *error;			/* in full: only the table's owner sees it */
	char	   *public_error;	/* mesh_redact_error's form */
} DeadEvent;

typedef struct ApplyOutcome
{
	int			delivered;
	List	   *dead;			/* DeadEvent * */
	bool		transient;		/* stopped: events[settled..n) are retried later */
	int			settled;		/* events[0..settled) were acknowledged or dead */
	char	   *error;			/* the transient (or last) error message */
	char	   *public_error;	/* the same, redacted (mesh_redact_error) */
	int			sqlerrcode;		/* the transient (or last) error's SQLSTATE */
} ApplyOutcome;

extern void mesh_apply_events(MeshRoute *route, MeshEvent *events, int n, ApplyOutcome *out);
extern bool mesh_error_is_transient(MeshRoute *route, ErrorData *edata);
extern Jsonb *mesh_event_key_jsonb(MeshRoute *route, MeshEvent *ev);
extern void mesh_record_dead(MeshRoute *route, MeshEvent *events, List *dead);
extern void mesh_record_stats(int64 route_id, int delivered, TimestampTz last_event_at);
extern void mesh_record_failure(int64 route_id, const char *error);
extern void mesh_lock_route(int64 route_id);
extern int	mesh_backfill(MeshRoute *route, int64 marker);

/* A schema change (or mesh.resync) a route meets at a marker event (schema_apply.c). */
typedef struct MeshSchemaChange
{
	bool		resync;			/* rows changed without capture: copy again */
	bool		manual;			/* mesh.resync of one route */
	bool		other_route;	/* ... of another route than this one */
	List	   *added;			/* names of the columns the table gained */
	char	   *reason;
} MeshSchemaChange;

extern MeshRoute *mesh_schema_route(MeshRoute *route, int64 after_id, MemoryContext cxt);
extern int	mesh_resync_dead_letters(MeshRoute *route, bool *transient);

/* route_worker.c: one round of a route (see delivery_pool.c for the pool) */
typedef enum MeshRoundResult
{
	ROUND_MORE,					/* there may be more work: go on at once */
	ROUND_IDLE,					/* nothing to do: wait for a wakeup */
	ROUND_BACKOFF,				/* the target failed: wait before retrying */
	ROUND_BUSY,					/* a lock was not free: again after decoding */
	ROUND_GONE					/* the route was removed or paused */
} MeshRoundResult;
extern MeshRoundResult mesh_route_round(int64 route_id, MemoryContext cxt);

/* event_read.c: a chunk of a route's batch, read from the event log */
typedef struct MeshChunkBounds
{
	int64		after_id;		/* events after this id ... */
	int64		high;			/* ... up to this one ... */
	char	   *batch_snap;		/* ... visible in this snapshot ... */
	char	   *done_snap;		/* ... and not in this one ... */
	char	   *backfill_snap;	/* ... nor WAL-captured by a writer visible in this one (NULL: none) */
	int			limit;			/* at most this many */
} MeshChunkBounds;

typedef struct MeshChunk
{
	MeshEvent  *events;
	int			n;
	bool		cut;			/* it ended at a schema change marker */
	TimestampTz last_at;		/* captured_at of its last event */
} MeshChunk;

extern void mesh_read_chunk(MeshRoute *decode, const MeshChunkBounds *b, MeshChunk *chunk,
							MemoryContext cxt);

/* route_memo.c: the routes a worker delivers, with their connector's description */
extern MeshRoute *mesh_route_memo(MeshRoute *route);
extern MeshRoundResult mesh_schema_marker(MeshRoute *route, int64 marker_id, MemoryContext cxt);

/* delivery_pool.c: the pool of delivery workers */
#define MESH_ROUTE_LOCK_CLASS 1835365224	/* 'mesh': advisory lock (class, route id) */
extern int	mesh_max_delivery_workers;
extern bool mesh_delivery_serve(bool database_worker, long budget_ms);
extern void mesh_delivery_worker_setup(const char *appname);

/* sink_engine.c: delivery through a connector's MeshSinkOps */
extern void mesh_sink_apply(MeshRoute *route, void **conn, MeshEvent *events, int n,
							ApplyOutcome *out);
