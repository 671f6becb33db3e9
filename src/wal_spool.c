/*
 * wal_spool.c: the decoded events waiting to be written into the event
 * log, in memory up to SPOOL_MEMORY_BYTES and beyond that in a temporary
 * file, so a transaction of any size (a 10M-row COPY) is decoded in bounded
 * memory.  Events come out in the order they went in: the file's first,
 * then those still in memory.
 *
 * The plugin adds events while the reorder buffer replays a transaction;
 * it may spill only between changes (wal_spool_spill), when nothing it
 * still uses points into the spool's memory.  The file is opened across
 * transactions (the replay runs in a transaction of its own that is
 * aborted) and closed by wal_spool_clear.
 */
#include "postgres.h"

#include "storage/buffile.h"
#include "utils/memutils.h"

#include "wal_capture.h"

#define SPOOL_MEMORY_BYTES (16 * 1024 * 1024)

/* An event in the file: this header, then key and row (their varlena bytes). */
typedef struct SpilledEvent
{
	Oid			source;
	char		op;
	TransactionId xid;
	TimestampTz committed_at;
	uint32		key_len;		/* 0: no key */
	uint32		row_len;		/* 0: no row */
} SpilledEvent;

void
wal_spool_add(WalSpool *spool, Oid source, char op, TimestampTz at, Jsonb *key, Jsonb *row)
{
	WalEvent   *ev;
	Size		size = (key ? VARSIZE(key) : 0) + (row ? VARSIZE(row) : 0) + sizeof(WalEvent);

	if (spool->nevents == spool->maxevents)
	{
		spool->maxevents = Max(1024, spool->maxevents * 2);
		spool->events = spool->events
			? repalloc_huge(spool->events, sizeof(WalEvent) * spool->maxevents)
			: MemoryContextAllocHuge(spool->cxt, sizeof(WalEvent) * spool->maxevents);
	}
	ev = &spool->events[spool->nevents++];
	ev->source = source;
	ev->op = op;
	ev->xid = spool->txn_xid;
	ev->committed_at = at;
	ev->key = key;
	ev->row = row;
	spool->bytes += size;
	spool->total_bytes += size;
}

static void
write_bytes(BufFile *file, const void *data, size_t len)
{
	if (len > 0)
		BufFileWrite(file, (void *) data, len);
}

/* Move the events in memory to the file when they take too much room. */
void
wal_spool_spill(WalSpool *spool)
{
	if (spool->bytes < SPOOL_MEMORY_BYTES)
		return;
	if (spool->file == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(spool->set_cxt);

		spool->file = BufFileCreateTemp(true);
		MemoryContextSwitchTo(old);
	}
	for (int i = 0; i < spool->nevents; i++)
	{
		WalEvent   *ev = &spool->events[i];
		SpilledEvent h;

		memset(&h, 0, sizeof(h));
		h.source = ev->source;
		h.op = ev->op;
		h.xid = ev->xid;
		h.committed_at = ev->committed_at;
		h.key_len = ev->key ? VARSIZE(ev->key) : 0;
		h.row_len = ev->row ? VARSIZE(ev->row) : 0;
		write_bytes(spool->file, &h, sizeof(h));
		write_bytes(spool->file, ev->key, h.key_len);
		write_bytes(spool->file, ev->row, h.row_len);
	}
	spool->nspilled += spool->nevents;
	MemoryContextReset(spool->cxt);
	spool->events = NULL;
	spool->nevents = spool->maxevents = 0;
	spool->bytes = 0;
}

int64
wal_spool_count(WalSpool *spool)
{
	return spool->nspilled + spool->nevents;
}

static void
read_exact(BufFile *file, void *data, size_t len)
{
	if (BufFileRead(file, data, len) != len)
		elog(ERROR, "mesh: could not read WAL capture's spill file: %m");
}

static Jsonb *
read_jsonb(BufFile *file, uint32 len, MemoryContext cxt)
{
	Jsonb	   *j;

	if (len == 0)
		return NULL;
	j = MemoryContextAllocHuge(cxt, len);
	read_exact(file, j, len);
	if (VARSIZE(j) != len)
		elog(ERROR, "mesh: WAL capture's spill file is corrupt");
	return j;
}

/*
 * Start reading the events back from the first.  wal_spool_next fills ev
 * (its key and row valid until the next call) and returns false at the end.
 */
void
wal_spool_rewind(WalSpool *spool)
{
	spool->next = 0;
	if (spool->file != NULL && BufFileSeek(spool->file, 0, 0, SEEK_SET) != 0)
		elog(ERROR, "mesh: could not rewind WAL capture's spill file: %m");
}

bool
wal_spool_next(WalSpool *spool, WalEvent *ev)
{
	int64		i = spool->next++;

	if (i < spool->nspilled)
	{
		SpilledEvent h;

		MemoryContextReset(spool->read_cxt);
		read_exact(spool->file, &h, sizeof(h));
		ev->source = h.source;
		ev->op = h.op;
		ev->xid = h.xid;
		ev->committed_at = h.committed_at;
		ev->key = read_jsonb(spool->file, h.key_len, spool->read_cxt);
		ev->row = read_jsonb(spool->file, h.row_len, spool->read_cxt);
		return true;
	}
	i -= spool->nspilled;
	if (i >= spool->nevents)
		return false;
	*ev = spool->events[i];
	return true;
}

/* Forget every event (written, or the decoding is abandoned). */
void
wal_spool_clear(WalSpool *spool)
{
	if (spool->file != NULL)
		BufFileClose(spool->file);
	spool->file = NULL;
	spool->nspilled = 0;
	spool->next = 0;
	MemoryContextReset(spool->cxt);
	MemoryContextReset(spool->read_cxt);
	spool->events = NULL;
	spool->nevents = spool->maxevents = 0;
	spool->bytes = spool->total_bytes = 0;
}
