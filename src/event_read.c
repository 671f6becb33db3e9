/*
 * event_read.c: reading a chunk of a route's batch from the event log.
 *
 * The query is planned once per worker (statement.c).  Its rows go to a
 * DestReceiver that decodes each one from the executor's slot as it comes
 * (event_decode.c): no copy of the row into SPI_tuptable, no text form of
 * any column; the snapshots are parsed once per chunk, not per row.
 *
 * Contract: SPI connected, in a transaction whose snapshot is at least as
 * new as the batch's (route_worker.c).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "mesh.h"
#include "mesh_util.h"

typedef struct ChunkReceiver
{
	DestReceiver pub;
	MeshEventDecoder *decoder;
	MeshChunk  *chunk;
	int			size;			/* slots of chunk->events */
	MemoryContext cxt;			/* the events' */
	MemoryContext row_cxt;		/* a row's detoasted jsonb, reset per row */
} ChunkReceiver;

/* Columns of the chunk query. */
enum
{
	COL_ID, COL_OP, COL_CAPTURED_AT, COL_XID, COL_KEY, COL_ROW
};

/*
 * One event-log row into the chunk.  A schema change marker (op 'S') ends
 * the chunk; when it comes first, it is the chunk, alone.  False stops
 * the scan.
 */
static bool
chunk_receive(TupleTableSlot *slot, DestReceiver *self)
{
	ChunkReceiver *r = (ChunkReceiver *) self;
	MeshChunk  *chunk = r->chunk;
	Datum	   *col;
	bool	   *null;
	char		op;
	MeshEvent  *ev;
	Jsonb	   *key;
	Jsonb	   *row;
	MemoryContext old;

	slot_getallattrs(slot);
	col = slot->tts_values;
	null = slot->tts_isnull;
	op = DatumGetChar(col[COL_OP]);
	if (op == 'S')
	{
		chunk->cut = true;		/* the batch goes on after the chunk */
		if (chunk->n > 0)
			return false;		/* the marker waits for everything before it */
	}
	if (chunk->n == r->size)
	{
		r->size *= 2;
		chunk->events = repalloc(chunk->events, sizeof(MeshEvent) * r->size);
	}
	ev = &chunk->events[chunk->n++];
	memset(ev, 0, sizeof(MeshEvent));
	ev->id = DatumGetInt64(col[COL_ID]);
	chunk->last_at = DatumGetTimestampTz(col[COL_CAPTURED_AT]);
	ev->captured_at = chunk->last_at;
	ev->xid = (int64) U64FromFullTransactionId(DatumGetFullTransactionId(col[COL_XID]));
	if (op == 'S')
	{
		ev->op = op;
		return false;
	}
	old = MemoryContextSwitchTo(r->row_cxt);
	key = null[COL_KEY] ? NULL : DatumGetJsonbP(col[COL_KEY]);
	row = null[COL_ROW] ? NULL : DatumGetJsonbP(col[COL_ROW]);
	MemoryContextSwitchTo(r->cxt);
	mesh_event_decode(r->decoder, op, key, row, ev);
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
 * Read the chunk of the batch that follows b->after_id (at most b->limit
 * events) into *chunk, its events allocated in cxt and decoded with
 * decode's columns.
 */
void
mesh_read_chunk(MeshRoute *decode, const MeshChunkBounds *b, MeshChunk *chunk,
				MemoryContext cxt)
{
	/* fixed-width columns first; the key only where no row carries it */
	static MeshStatement query = {
		"SELECT id, op, captured_at, coalesce(source_xid, xid),"
		" CASE WHEN row IS NULL THEN key END, row FROM mesh.event_log"
		" WHERE source = $1 AND id > $2 AND id <= $3"
		" AND pg_visible_in_snapshot(xid, $4)"
		" AND NOT pg_visible_in_snapshot(xid, $5)"
		" AND (source_xid IS NULL OR $7 IS NULL OR NOT pg_visible_in_snapshot(source_xid, $7))"
		" ORDER BY id LIMIT $6", 7,
	{OIDOID, INT8OID, INT8OID, PG_SNAPSHOTOID, PG_SNAPSHOTOID, INT4OID, PG_SNAPSHOTOID}};
	Datum		values[7];
	char		nulls[7] = "      ";
	ChunkReceiver r = {0};
	MemoryContext old;

	values[0] = ObjectIdGetDatum(decode->source);
	values[1] = Int64GetDatum(b->after_id);
	values[2] = Int64GetDatum(b->high);
	values[3] = DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(b->batch_snap));
	values[4] = DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(b->done_snap));
	values[5] = Int32GetDatum(b->limit);
	values[6] = b->backfill_snap ?
		DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(b->backfill_snap)) : (Datum) 0;
	nulls[6] = b->backfill_snap ? ' ' : 'n';
	memset(chunk, 0, sizeof(*chunk));
	r.pub.receiveSlot = chunk_receive;
	r.pub.rStartup = chunk_startup;
	r.pub.rShutdown = chunk_shutdown;
	r.pub.rDestroy = chunk_shutdown;
	r.pub.mydest = DestNone;
	r.chunk = chunk;
	r.cxt = cxt;
	r.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "mesh event row",
									  ALLOCSET_DEFAULT_SIZES);
	r.size = Min(Max(b->limit, 1), 1024);
	chunk->events = MemoryContextAlloc(cxt, sizeof(MeshEvent) * r.size);
	old = MemoryContextSwitchTo(cxt);
	r.decoder = mesh_event_decoder(decode);
	MemoryContextSwitchTo(old);
	mesh_statement_run_into(&query, values, nulls, 0, &r.pub);
	MemoryContextDelete(r.row_cxt);
}
