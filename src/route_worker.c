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
 * with a query planned once per worker (event_read.c), or takes the chunk
 * read ahead while the target worked on the previous one (see ReadAhead),
 * applies them with no transaction open, through the worker's memo of the route (route_memo.c: the
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
#include "utils/resowner.h"
#include "utils/snapmgr.h"
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
	char	   *backfill_snap;	/* WAL-captured writers visible in it: skipped */
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
		"         WHERE d.route = r.id AND d.retry), c.epoch, c.backfill_snap::text"
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
	cur->backfill_snap = text_col(0, 17, cxt);

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
 * the batch may hold more than that after after_id (ids of every table
 * count: an upper bound).
 */
static int
chunk_limit(int64 batch_high, int64 after_id)
{
	int64		ahead = batch_high - after_id;

	if (ahead <= mesh_batch_size || mesh_backlog_batch_size <= mesh_batch_size)
		return mesh_batch_size;
	return (int) Min(ahead, mesh_backlog_batch_size);
}

/* The bounds of the chunk that follows after_id in the cursor's batch. */
static MeshChunkBounds
chunk_bounds(Cursor *cur, int64 after_id)
{
	MeshChunkBounds b;

	b.after_id = after_id;
	b.high = cur->batch_high;
	b.batch_snap = cur->batch_snap;
	b.done_snap = cur->done_snap;
	b.backfill_snap = cur->backfill_snap;
	b.limit = chunk_limit(cur->batch_high, after_id);
	return b;
}

/*
 * Reading ahead.  While the target works on a chunk, the worker reads the
 * chunk that follows it (wait work: util.c; a connector runs it once its
 * request is sent), for the bounds the next round has if the target
 * settles the whole chunk.  The next round uses it only if its cursor
 * (epoch, batch, position) and decode columns are exactly those it was
 * read for; else it is dropped.  Nothing else changes: the cursor still
 * moves only over what the target acknowledged.
 */
typedef struct ReadAhead
{
	int64		route_id;		/* 0: nothing read ahead */
	int64		epoch;
	MeshChunkBounds bounds;		/* what it was read for (strings in cxt) */
	int			ncolumns;
	char	  **columns;		/* the decode route's columns (in cxt) */
	MeshRoute  *decode;			/* the decode route, during the apply only */
	MeshChunk	chunk;
	MemoryContext cxt;			/* NULL, or everything above */
} ReadAhead;

static ReadAhead ahead;

static void
drop_read_ahead(void)
{
	if (ahead.cxt != NULL)
		MemoryContextDelete(ahead.cxt);
	ahead.cxt = NULL;
	ahead.route_id = 0;
}

/* Wait work: read ahead's chunk in a transaction of its own; errors drop it. */
static void
read_ahead(void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	PG_TRY();
	{
		begin_round_xact(ahead.decode->source);
		mesh_read_chunk(ahead.decode, &ahead.bounds, &ahead.chunk, ahead.cxt);
		mesh_worker_spi_commit();
		ahead.route_id = my_route_id;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		CurrentResourceOwner = owner;
		ahead.route_id = 0;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);	/* as the wait itself would have */
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

/* Arrange to read the chunk after events[n - 1] while the target works. */
static void
plan_read_ahead(Cursor *cur, MeshRoute *decode, int64 last_id)
{
	MemoryContext old;

	drop_read_ahead();
	ahead.cxt = AllocSetContextCreate(TopMemoryContext, "mesh read ahead",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ahead.cxt);
	ahead.epoch = cur->epoch;
	ahead.bounds = chunk_bounds(cur, last_id);
	ahead.bounds.batch_snap = pstrdup(cur->batch_snap);
	ahead.bounds.done_snap = pstrdup(cur->done_snap);
	ahead.bounds.backfill_snap = cur->backfill_snap ? pstrdup(cur->backfill_snap) : NULL;
	ahead.ncolumns = decode->ncolumns;
	ahead.columns = palloc(sizeof(char *) * Max(decode->ncolumns, 1));
	for (int c = 0; c < decode->ncolumns; c++)
		ahead.columns[c] = pstrdup(decode->columns[c]);
	ahead.decode = decode;
	MemoryContextSwitchTo(old);
	mesh_set_wait_work(read_ahead, NULL);
}

/*
 * The chunk read ahead for exactly these bounds and columns into *chunk
 * (its memory handed to cxt); false if there is none.  Drops it either way.
 */
static bool
take_read_ahead(Cursor *cur, const MeshChunkBounds *b, MeshRoute *decode, MeshChunk *chunk,
				MemoryContext cxt)
{
	bool		fits = ahead.route_id == my_route_id && ahead.epoch == cur->epoch &&
		ahead.bounds.after_id == b->after_id && ahead.bounds.high == b->high &&
		ahead.bounds.limit == b->limit &&
		strcmp(ahead.bounds.batch_snap, b->batch_snap) == 0 &&
		strcmp(ahead.bounds.done_snap, b->done_snap) == 0 &&
		(ahead.bounds.backfill_snap == NULL) == (b->backfill_snap == NULL) &&
		(b->backfill_snap == NULL || strcmp(ahead.bounds.backfill_snap, b->backfill_snap) == 0) &&
		ahead.ncolumns == decode->ncolumns;

	for (int c = 0; fits && c < decode->ncolumns; c++)
		fits = strcmp(ahead.columns[c], decode->columns[c]) == 0;
	if (fits)
	{
		*chunk = ahead.chunk;
		MemoryContextSetParent(ahead.cxt, cxt);
		ahead.cxt = NULL;
	}
	drop_read_ahead();
	return fits;
}

/* Apply events[0..n), reading ahead meanwhile when the batch goes on after them. */
static void
apply_reading_ahead(Cursor *cur, MeshRoute *decode, MeshChunk *chunk, int limit,
					ApplyOutcome *out)
{
	if (chunk->n == limit && !chunk->cut)
		plan_read_ahead(cur, decode, chunk->events[chunk->n - 1].id);
	PG_TRY();
	{
		mesh_apply_events(decode, chunk->events, chunk->n, out);
	}
	PG_FINALLY();
	{
		mesh_set_wait_work(NULL, NULL);
		ahead.decode = NULL;
	}
	PG_END_TRY();
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
	MeshChunkBounds bounds;
	MeshChunk	chunk;
	MeshEvent  *events;
	ApplyOutcome out;
	int			n;
	bool		batch_done = false;

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
	bounds = chunk_bounds(&cur, cur.batch_last_id);
	if (!take_read_ahead(&cur, &bounds, decode, &chunk, cxt))
		mesh_read_chunk(decode, &bounds, &chunk, cxt);
	n = chunk.n;
	events = chunk.events;
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
	apply_reading_ahead(&cur, decode, &chunk, bounds.limit, &out);
	if (out.settled > 0)
	{
		/* the cursor moves over what the target settled, and no further */
		batch_done = !out.transient && !chunk.cut && n < bounds.limit;
		begin_round_xact(route->source);
		advance_cursor(&cur, events[out.settled - 1].id, batch_done);
		if (out.dead != NIL)
			mesh_record_dead(decode, events, out.dead);
		mesh_record_stats(my_route_id, out.delivered,
						  out.transient ? events[out.settled - 1].captured_at : chunk.last_at);
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
