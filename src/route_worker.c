/*
 * route_worker.c: one round of a route's delivery, its events in order.
 *
 * A round is the unit of work of the delivery pool (delivery_pool.c): a
 * pool worker that owns the route (its advisory lock) runs rounds of it
 * until it is idle, backs off or its turn ends.
 *
 * The cursor (mesh.route_cursor) says what is delivered: every event whose
 * transaction is visible in done_snap, plus, of the batch under way, the
 * events up to batch_last_id.  A batch is what became visible between
 * done_snap and a newer snapshot batch_snap (PgQ-style), delivered in id
 * order.  Event ids are taken inside the writing transaction, so a
 * transaction that took an early id and commits late lands in a later
 * batch: never skipped.  Within a batch, ids order the changes of each key
 * as they were committed (a row's writers are serialised by its lock).
 *
 * Bounds of a batch, taken in this order: S1 = the id sequence's value,
 * R = the lowest id any running capturing transaction may hold (announced
 * in shared memory before its first id), the snapshot, S2 = the sequence
 * again.  An event of the batch has an id <= S2 (its transaction committed
 * before the snapshot).  An event that the snapshot does not show has an
 * id >= min(S1 + 1, R): either its transaction announced itself before R
 * was read, or it took its first id after S1 was read.  That minimum is
 * done_low once the batch is done, so the next batch reads ids from it: a
 * pure index range, no scan of old events.
 *
 * mesh.replay resets the cursor and bumps its epoch; every cursor write of
 * the worker carries the epoch it loaded, so a round that raced a replay
 * writes nothing (what it applied is harmless: applies are idempotent).
 *
 * Every query here runs with a fresh snapshot (SPI read_only = false): the
 * events of a batch must be read with a snapshot at least as new as
 * batch_snap, or a transaction that committed in between would be skipped.
 *
 * Each round reads at most mesh.batch_size events (mesh.backlog_batch_size
 * while more than that may be left in the batch) in one short transaction,
 * with a query planned once per worker, applies them with no transaction
 * open, through the worker's memo of the route (route_memo.c: the
 * connector's description of the target is kept), and advances the cursor in a new
 * transaction only over the events the target acknowledged (or refused:
 * dead letters), up to the first one whose outcome is unknown.  A crash anywhere
 * resumes from the cursor; the replayed part converges because applies are
 * idempotent.
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"
#include "utils/timestamp.h"

#include "mesh.h"
#include "mesh_util.h"

typedef struct Cursor
{
	bool		backfilled;
	bool		retry_pending;
	char	   *done_snap;
	int64		done_low;
	char	   *batch_snap;		/* NULL: no batch under way */
	int64		batch_next_low;
	int64		batch_low;
	int64		batch_high;
	int64		batch_last_id;
	int64		epoch;			/* cursor writes apply only if replay did not bump it */
} Cursor;

static int64 my_route_id;		/* the route of the round under way */

/*
 * Start a transaction of a round.  Locks are always taken in the order
 * source table, then route row (as DROP TABLE and mesh.unreplicate do), so
 * the worker never deadlocks with them.  source is InvalidOid before the
 * route is known: load_route takes both locks then.
 */
static void
begin_round_xact(Oid source)
{
	mesh_worker_begin_xact();
	if (!OidIsValid(get_extension_oid("mesh", true)))
		proc_exit(0);			/* DROP EXTENSION mesh */
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(source))
	{
		LockRelationOid(source, AccessShareLock);
		mesh_lock_route(my_route_id);
	}
}

static char *
text_col(int row, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

static int64
int8_col(int row, int col, int64 dflt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? dflt : DatumGetInt64(d);
}

/* Load the route and its cursor (SPI connected); NULL when gone or paused. */
static MeshRoute *
load_route(Cursor *cur, MemoryContext cxt)
{
	static MeshStatement route_and_cursor = {
		"SELECT r.source::oid, r.target::text, r.role, r.options, r.paused, r.owner,"
		" c.backfilled, c.done_snap::text, c.done_low, c.batch_snap::text,"
		" c.batch_next_low, c.batch_low, c.batch_high, c.batch_last_id,"
		" EXISTS (SELECT 1 FROM mesh.dead_letter_store d"
		"         WHERE d.route = r.id AND d.retry), c.epoch"
		" FROM mesh.route r JOIN mesh.route_cursor c ON c.route_id = r.id"
		" WHERE r.id = $1", 1, {INT8OID}};
	Datum		values[1] = {Int64GetDatum(my_route_id)};
	bool		isnull;
	Oid			source,
				owner;
	char	   *target,
			   *role;
	Jsonb	   *options;
	MemoryContext old;
	MeshRoute  *route;

	mesh_statement_run(&route_and_cursor, values, NULL, 1);
	if (SPI_processed != 1 ||
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull)))
		return NULL;
	source = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	target = text_col(0, 2, cxt);
	role = text_col(0, 3, cxt);
	old = MemoryContextSwitchTo(cxt);
	options = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	MemoryContextSwitchTo(old);
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));
	cur->backfilled = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull));
	cur->done_snap = text_col(0, 8, cxt);
	cur->done_low = int8_col(0, 9, 1);
	cur->batch_snap = text_col(0, 10, cxt);
	cur->batch_next_low = int8_col(0, 11, 1);
	cur->batch_low = int8_col(0, 12, 0);
	cur->batch_high = int8_col(0, 13, 0);
	cur->batch_last_id = int8_col(0, 14, 0);
	cur->retry_pending = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 15, &isnull));
	cur->epoch = int8_col(0, 16, 0);

	old = MemoryContextSwitchTo(cxt);
	route = mesh_route_build(source, target, options, role, owner);	/* locks source */
	route->id = my_route_id;
	MemoryContextSwitchTo(old);
	mesh_lock_route(my_route_id);
	return route;
}

/* Open a batch (see the file comment for its bounds); false if replay reset the cursor. */
static bool
open_batch(MeshRoute *route, Cursor *cur, MemoryContext cxt)
{
	int64		before = mesh_sequence_value();
	int64		running = mesh_running_capture_low();
	int64		after;
	static MeshStatement snapshot = {"SELECT pg_current_snapshot()::text"};
	static MeshStatement open = {
		"UPDATE mesh.route_cursor SET batch_snap = $2::pg_snapshot,"
		" batch_next_low = $3, batch_low = $4, batch_high = $5,"
		" batch_last_id = $4 - 1 WHERE route_id = $1 AND epoch = $6",
	6, {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID}};
	Datum		values[6];

	mesh_statement_run(&snapshot, NULL, NULL, 1);
	cur->batch_snap = text_col(0, 1, cxt);
	after = mesh_sequence_value();
	cur->batch_next_low = Min(before + 1, running);
	cur->batch_low = cur->done_low;
	cur->batch_high = after;
	cur->batch_last_id = cur->batch_low - 1;

	values[0] = Int64GetDatum(my_route_id);
	values[1] = CStringGetTextDatum(cur->batch_snap);
	values[2] = Int64GetDatum(cur->batch_next_low);
	values[3] = Int64GetDatum(cur->batch_low);
	values[4] = Int64GetDatum(cur->batch_high);
	values[5] = Int64GetDatum(cur->epoch);
	mesh_statement_run(&open, values, NULL, 0);
	return SPI_processed == 1;
}

/* Record progress: up to last_id delivered; complete the batch if done. */
static void
advance_cursor(Cursor *cur, int64 last_id, bool batch_done)
{
	static MeshStatement advance = {
		"UPDATE mesh.route_cursor SET"
		" batch_last_id = CASE WHEN $3 THEN NULL ELSE $2 END,"
		" done_snap = CASE WHEN $3 THEN batch_snap ELSE done_snap END,"
		" done_low = CASE WHEN $3 THEN batch_next_low ELSE done_low END,"
		" batch_snap = CASE WHEN $3 THEN NULL ELSE batch_snap END,"
		" batch_next_low = CASE WHEN $3 THEN NULL ELSE batch_next_low END,"
		" batch_low = CASE WHEN $3 THEN NULL ELSE batch_low END,"
		" batch_high = CASE WHEN $3 THEN NULL ELSE batch_high END"
		" WHERE route_id = $1 AND epoch = $4", 4, {INT8OID, INT8OID, BOOLOID, INT8OID}};
	Datum		values[4] = {Int64GetDatum(my_route_id), Int64GetDatum(last_id),
	BoolGetDatum(batch_done), Int64GetDatum(cur->epoch)};

	mesh_statement_run(&advance, values, NULL, 0);
}

/*
 * Events a round reads: mesh.batch_size, or mesh.backlog_batch_size while
 * the batch may hold more than that after batch_last_id (ids of every
 * table count: an upper bound).
 */
static int
chunk_limit(Cursor *cur)
{
	int64		ahead = cur->batch_high - cur->batch_last_id;

	if (ahead <= mesh_batch_size || mesh_backlog_batch_size <= mesh_batch_size)
		return mesh_batch_size;
	return (int) Min(ahead, mesh_backlog_batch_size);
}

/*
 * Where read_chunk's rows go: each row is decoded from the executor's slot
 * as it comes (no copy of the row into SPI_tuptable, no text forms).
 */
typedef struct ChunkReceiver
{
	DestReceiver pub;
	MeshEventDecoder *decoder;
	MeshEvent  *events;			/* in cxt */
	int			n;
	int			size;			/* events' slots */
	bool		cut;			/* the chunk ended at a marker */
	TimestampTz last_at;
	MemoryContext cxt;			/* the events' */
	MemoryContext row_cxt;		/* a row's detoasted jsonb, reset per row */
} ChunkReceiver;

/* Columns of read_chunk's query. */
enum
{
	COL_ID, COL_OP, COL_CAPTURED_AT, COL_XID, COL_KEY, COL_ROW, NCOLS
};

/*
 * One event-log row into r->events.  A schema change marker (op 'S') ends
 * the chunk; when it comes first, it is the chunk, alone.  False stops
 * the scan.
 */
static bool
chunk_receive(TupleTableSlot *slot, DestReceiver *self)
{
	ChunkReceiver *r = (ChunkReceiver *) self;
	Datum	   *col;
	bool	   *null;
	char		op;
	MeshEvent  *ev;
	MemoryContext old;

	slot_getallattrs(slot);
	col = slot->tts_values;
	null = slot->tts_isnull;
	op = DatumGetChar(col[COL_OP]);
	if (op == 'S')
	{
		r->cut = true;			/* the batch goes on after the chunk */
		if (r->n > 0)
			return false;		/* the marker waits for everything before it */
	}
	if (r->n == r->size)
	{
		r->size *= 2;
		r->events = repalloc(r->events, sizeof(MeshEvent) * r->size);
	}
	ev = &r->events[r->n++];
	memset(ev, 0, sizeof(MeshEvent));
	ev->id = DatumGetInt64(col[COL_ID]);
	r->last_at = DatumGetTimestampTz(col[COL_CAPTURED_AT]);
	ev->captured_at = r->last_at;
	ev->xid = (int64) U64FromFullTransactionId(DatumGetFullTransactionId(col[COL_XID]));
	if (op == 'S')
	{
		ev->op = op;
		return false;
	}
	old = MemoryContextSwitchTo(r->row_cxt);
	{
		Jsonb	   *key = null[COL_KEY] ? NULL : DatumGetJsonbP(col[COL_KEY]);
		Jsonb	   *row = null[COL_ROW] ? NULL : DatumGetJsonbP(col[COL_ROW]);

		MemoryContextSwitchTo(r->cxt);
		mesh_event_decode(r->decoder, op, key, row, ev);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->row_cxt);
	return true;
}

static void
chunk_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
chunk_shutdown(DestReceiver *self)
{
}

/*
 * Read the next chunk of the batch (at most limit events) into events
 * (allocated in cxt), decoded with decode's columns; see chunk_receive for
 * markers.  The snapshots are parsed once, not per row.
 */
static int
read_chunk(MeshRoute *decode, Cursor *cur, int limit, MeshEvent **events,
		   TimestampTz *last_at, bool *cut, MemoryContext cxt)
{
	/* fixed-width columns first; the key only where no row carries it */
	static MeshStatement chunk = {
		"SELECT id, op, captured_at, xid,"
		" CASE WHEN row IS NULL THEN key END, row FROM mesh.event_log"
		" WHERE source = $1 AND id > $2 AND id <= $3"
		" AND pg_visible_in_snapshot(xid, $4)"
		" AND NOT pg_visible_in_snapshot(xid, $5)"
		" ORDER BY id LIMIT $6", 6, {OIDOID, INT8OID, INT8OID, PG_SNAPSHOTOID, PG_SNAPSHOTOID, INT4OID}};
	Datum		values[6];
	ChunkReceiver r = {0};
	MemoryContext old;

	values[0] = ObjectIdGetDatum(decode->source);
	values[1] = Int64GetDatum(cur->batch_last_id);
	values[2] = Int64GetDatum(cur->batch_high);
	values[3] = DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(cur->batch_snap));
	values[4] = DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(cur->done_snap));
	values[5] = Int32GetDatum(limit);
	r.pub.receiveSlot = chunk_receive;
	r.pub.rStartup = chunk_startup;
	r.pub.rShutdown = chunk_shutdown;
	r.pub.rDestroy = chunk_shutdown;
	r.pub.mydest = DestNone;
	r.cxt = cxt;
	r.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "mesh event row",
									  ALLOCSET_DEFAULT_SIZES);
	r.size = Min(Max(limit, 1), 1024);
	r.events = MemoryContextAlloc(cxt, sizeof(MeshEvent) * r.size);
	old = MemoryContextSwitchTo(cxt);
	r.decoder = mesh_event_decoder(decode);
	MemoryContextSwitchTo(old);
	mesh_statement_run_into(&chunk, values, NULL, 0, &r.pub);
	MemoryContextDelete(r.row_cxt);
	*events = r.events;
	*cut = r.cut;
	if (r.n > 0)
		*last_at = r.last_at;
	return r.n;
}

/*
 * One round of work for route_id (see the file comment); no transaction
 * open on entry or exit.  Allocates in cxt, which the caller resets.
 */
MeshRoundResult
mesh_route_round(int64 route_id, MemoryContext cxt)
{
	Cursor		cur;
	MeshRoute  *route;
	MeshRoute  *decode;			/* route with the columns the events carry */
	MeshEvent  *events;
	TimestampTz last_at = 0;
	ApplyOutcome out;
	int			n;
	int			limit;			/* events this round reads at most */
	bool		batch_done = false;
	bool		cut;			/* the chunk ended at a marker */

	my_route_id = route_id;
	begin_round_xact(InvalidOid);
	route = load_route(&cur, cxt);
	if (route == NULL)
	{
		mesh_worker_spi_commit();
		return ROUND_GONE;		/* removed or paused meanwhile */
	}
	if (!cur.backfilled)
	{
		mesh_worker_spi_commit();
		MemoryContextSwitchTo(cxt);
		return mesh_backfill(route, 0) < 0 ? ROUND_BACKOFF : ROUND_MORE;
	}
	if (cur.retry_pending)
	{
		bool		transient;

		mesh_worker_spi_commit();
		MemoryContextSwitchTo(cxt);
		mesh_resync_dead_letters(route, &transient);
		return transient ? ROUND_BACKOFF : ROUND_MORE;
	}
	if (cur.batch_snap == NULL)
	{
		/* no id at or above done_low was ever taken: nothing can be new */
		if (mesh_sequence_value() < cur.done_low)
		{
			mesh_worker_spi_commit();
			return ROUND_IDLE;
		}
		if (!open_batch(route, &cur, cxt))
		{
			mesh_worker_spi_commit();
			return ROUND_MORE;	/* replayed meanwhile: start again from the new cursor */
		}
	}
	decode = mesh_route_memo(mesh_schema_route(route, cur.batch_last_id, cxt));
	limit = chunk_limit(&cur);
	n = read_chunk(decode, &cur, limit, &events, &last_at, &cut, cxt);
	if (n == 0)
	{
		bool		delivered_some = cur.batch_last_id >= cur.batch_low;

		advance_cursor(&cur, cur.batch_last_id, true);
		mesh_worker_spi_commit();
		return delivered_some ? ROUND_MORE : ROUND_IDLE;
	}
	mesh_worker_spi_commit();
	MemoryContextSwitchTo(cxt);
	if (events[0].op == 'S')
	{
		MeshRoundResult res = mesh_schema_marker(route, events[0].id, cxt);

		if (res == ROUND_MORE)
		{
			begin_round_xact(route->source);
			advance_cursor(&cur, events[0].id, false);
			mesh_worker_spi_commit();
		}
		return res;
	}

	/* no transaction is open across the network I/O */
	mesh_apply_events(decode, events, n, &out);
	if (out.settled > 0)
	{
		/* the cursor moves over what the target settled, and no further */
		batch_done = !out.transient && !cut && n < limit;
		begin_round_xact(route->source);
		advance_cursor(&cur, events[out.settled - 1].id, batch_done);
		if (out.dead != NIL)
			mesh_record_dead(decode, events, out.dead);
		mesh_record_stats(my_route_id, out.delivered,
						  out.transient ? events[out.settled - 1].captured_at : last_at);
		mesh_worker_spi_commit();
	}
	if (out.transient)
	{
		mesh_record_failure(my_route_id, out.public_error);
		return ROUND_BACKOFF;
	}
	/* a completed batch: what came since is for the route's next turn */
	return batch_done ? ROUND_IDLE : ROUND_MORE;
}
