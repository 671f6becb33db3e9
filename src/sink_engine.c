/*
 * sink_engine.c: delivering a chunk of events through a connector's
 * MeshSinkOps (see connector.h).
 *
 * The chunk is cut into segments at its TRUNCATE events.  Within a segment
 * only the last change of each key is written (one key encoding for all:
 * mesh_route_key_string, length-prefixed, so no two keys collide; keys are
 * grouped through a hash table, in one pass, in order of first change): the
 * keys whose last change is a delete go to remove, the others to upsert,
 * in calls of at most ops->max_batch items.  Each item comes back
 * acknowledged, refused or unknown.  A call that ereports is judged as a
 * whole: a transient error leaves its unsettled items unknown; a permanent
 * one is split in halves down to the single refused item.  As long as a
 * pass settles something, the unknown items are sent again at once (a bulk
 * that stopped at a refused item); a pass that settles nothing stops the
 * chunk, to be retried after the route's backoff.
 *
 * What moves: an event is settled when the last change of its key in its
 * segment was acknowledged (or refused: one dead letter per key, on that
 * last event).  The chunk's settled prefix ends before the first event of
 * the first key that is still unknown, or at a TRUNCATE that is unknown;
 * the caller moves the cursor and the delivered count only over it.  A
 * later segment is never written while an earlier one is unsettled.
 *
 * A log sink (keep_every_change) gets every event as its own item, in
 * order, with no segments: the settled prefix ends at the first unknown
 * event, and what is sent again starts there, in order.
 *
 * A sink with batches (begin_batch, end_batch) gets the whole chunk inside
 * one: its acknowledgements count only once end_batch committed.  A batch
 * that fails is undone and nothing of it counts; after a permanent failure
 * the chunk is delivered again with one batch per call (isolated), so the
 * splitting above finds the refused item.
 */
#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "mesh.h"
#include "mesh_util.h"
#include "route_keys.h"

/* What became of one event of the chunk. */
#define EV_UNKNOWN		0
#define EV_ACKED		'a'
#define EV_DEAD			'd'
#define EV_SUPERSEDED	's'		/* a refused key's earlier change: neither */

typedef enum SinkCallKind
{
	CALL_UPSERT,
	CALL_REMOVE,
	CALL_TRUNCATE
} SinkCallKind;

/* One key of a segment: its last change and what became of it. */
typedef struct SinkItem
{
	char	   *key;			/* mesh_route_key_string */
	uint32		hash;
	int			first;			/* index of its first event in the chunk */
	int			last;			/* index of its last event */
	MeshItemOutcome outcome;
	char	   *public_reason;	/* outcome.reason as others may see it */
} SinkItem;

typedef struct SinkEngine
{
	MeshRoute  *route;
	const MeshSinkOps *ops;
	void	  **conn;
	MeshEvent  *events;
	int			nevents;
	char	   *state;			/* per event: EV_* */
	bool		lost;			/* a call of this pass failed transiently */
	bool		in_batch;		/* begin_batch done, end_batch due */
	bool		isolated;		/* one batch per call (after a failed batch) */
	bool		batch_failed;	/* the chunk's batch failed: nothing of it holds */
	bool		batch_permanent;	/* ... for a permanent reason */
	char	   *error;			/* the last failure, for the route's stats */
	char	   *public_error;
	int			sqlerrcode;
} SinkEngine;

/* Remember a failure as the chunk's error (full and redacted). */
static void
note_error(SinkEngine *e, const char *error, const char *public_error, int code)
{
	e->error = pstrdup(error);
	e->public_error = pstrdup(public_error);
	e->sqlerrcode = code;
}

/* Give the items a sink refused their public form; remember the last reason. */
static void
note_outcomes(SinkEngine *e, MeshItemOutcome *out, char **public_out, int n)
{
	for (int i = 0; i < n; i++)
	{
		if (out[i].status == MESH_ITEM_REFUSED)
		{
			if (out[i].reason == NULL)
				out[i].reason = "refused by the target";
			public_out[i] = mesh_redact_error(out[i].reason, NULL, 0, NULL);
			note_error(e, out[i].reason, public_out[i], 0);
		}
		else if (out[i].status == MESH_ITEM_UNKNOWN && out[i].reason != NULL)
			note_error(e, out[i].reason, mesh_redact_error(out[i].reason, NULL, 0, NULL),
					   ERRCODE_CONNECTION_FAILURE);
	}
}

/* In a PG_CATCH: the error, flushed, remembered as the chunk's. */
static ErrorData *
take_error(SinkEngine *e, MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	note_error(e, edata->detail ?
			   psprintf("%s: %s", edata->message, edata->detail) : edata->message,
			   mesh_redact_edata(edata), edata->sqlerrcode);
	return edata;
}

/* The route's connection in *e->conn, connecting first if needed; ereports. */
static void
ensure_conn(SinkEngine *e)
{
	if (*e->conn == NULL)
	{
		*e->conn = mesh_get_connection(e->route->config);
		mesh_connection_begin_use(e->route->config);
	}
}

/*
 * After a failure: undo the open batch (end_batch with ok false, its own
 * errors ignored), then close the connection, which may be mid-request; the
 * next call uses a fresh one.  The connector's description of the target
 * (route->private, kept across rounds: route_memo.c) is dropped, since the
 * target may have changed: it is made again at the next call.
 */
static void
drop_conn(SinkEngine *e)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (e->in_batch && *e->conn != NULL)
	{
		PG_TRY();
		{
			e->ops->end_batch(*e->conn, e->route, false);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
		}
		PG_END_TRY();
	}
	e->in_batch = false;
	mesh_connection_discard(e->route->config);
	*e->conn = NULL;
	e->route->private = NULL;
}

/* begin_batch on the connection; false (the error noted, e->lost) if it failed. */
static bool
begin_batch(SinkEngine *e)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		ensure_conn(e);
		e->ops->begin_batch(*e->conn, e->route, e->nevents);
		e->in_batch = true;
	}
	PG_CATCH();
	{
		(void) take_error(e, cxt);
		drop_conn(e);
		e->lost = true;			/* never the items' fault: they stay unknown */
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* end_batch(ok = true) of the whole chunk's batch; a failure fails the batch. */
static void
commit_batch(SinkEngine *e)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		e->ops->end_batch(*e->conn, e->route, true);
		e->in_batch = false;
	}
	PG_CATCH();
	{
		ErrorData  *edata = take_error(e, cxt);

		drop_conn(e);
		e->batch_failed = true;
		e->batch_permanent = !mesh_error_is_transient(e->route, edata);
	}
	PG_END_TRY();
}

/*
 * One call of the sink on rows[0..n) (or the truncate), filling out[].
 * An ereport is caught: transient leaves the unset items unknown, permanent
 * refuses a single item or splits the call in halves.  With batches, a
 * failure inside the chunk's batch fails the batch (mesh_sink_apply); in
 * isolated mode the call is a batch of its own, and what it acknowledged
 * holds only once end_batch returned.
 */
static void
call_sink(SinkEngine *e, SinkCallKind kind, MeshSinkRow *rows, MeshItemOutcome *out,
		  char **public_out, int n)
{
	MemoryContext cxt = CurrentMemoryContext;
	MeshRoute  *route = e->route;

	if (n == 0 || e->lost || e->batch_failed)
		return;
	if (e->isolated && !begin_batch(e))
		return;
	PG_TRY();
	{
		ensure_conn(e);
		if (kind == CALL_UPSERT)
			e->ops->upsert(*e->conn, route, rows, n, out);
		else if (kind == CALL_REMOVE)
			e->ops->remove(*e->conn, route, rows, n, out);
		else
			e->ops->truncate(*e->conn, route, out);
		if (e->isolated)
		{
			e->ops->end_batch(*e->conn, route, true);
			e->in_batch = false;
		}
		note_outcomes(e, out, public_out, n);
	}
	PG_CATCH();
	{
		ErrorData  *edata = take_error(e, cxt);
		char	   *error = e->error;
		char	   *public_error = e->public_error;
		bool		transient = mesh_error_is_transient(route, edata);

		drop_conn(e);
		if (e->ops->begin_batch != NULL)
		{
			/* the batch was undone: nothing it acknowledged holds */
			for (int i = 0; i < n; i++)
				if (out[i].status == MESH_ITEM_ACKED)
					out[i].status = MESH_ITEM_UNKNOWN;
		}
		if (e->ops->begin_batch != NULL && !e->isolated)
		{
			e->lost = e->batch_failed = true;
			e->batch_permanent = !transient;
		}
		else if (transient)
		{
			e->lost = true;		/* unset items stay unknown */
			note_outcomes(e, out, public_out, n);
			note_error(e, error, public_error, edata->sqlerrcode);
		}
		else if (n == 1)
		{
			out[0].status = MESH_ITEM_REFUSED;
			out[0].reason = error;
			public_out[0] = public_error;
		}
		else
		{
			int			mid = n / 2;

			for (int i = 0; i < n; i++)
				out[i].status = MESH_ITEM_UNKNOWN;
			call_sink(e, kind, rows, out, public_out, mid);
			call_sink(e, kind, rows + mid, out + mid, public_out + mid, n - mid);
		}
	}
	PG_END_TRY();
}

/* The sink row of the change events[last] (first: the key's first in the segment). */
static void
fill_row(SinkEngine *e, int first, int last, MeshSinkRow *row)
{
	MeshEvent  *ev = &e->events[last];

	row->event_id = ev->id;
	row->op = ev->op;
	row->first = first == last;
	row->values = ev->values;
	row->event = ev;
}

/* events[idx] was refused: a dead letter with the target's reason. */
static void
add_dead(SinkEngine *e, int idx, char *reason, char *public_reason, List **dead)
{
	DeadEvent  *d = palloc(sizeof(DeadEvent));

	e->state[idx] = EV_DEAD;
	d->index = idx;
	d->error = reason;
	d->public_error = public_reason;
	*dead = lappend(*dead, d);
}

/*
 * Write items[0..m) (all upserts or all removes) in calls of at most
 * max_batch, sending the unknown ones again while a pass settles some.
 */
static void
run_items(SinkEngine *e, SinkCallKind kind, SinkItem **items, int m)
{
	int			batch = e->ops->max_batch > 0 ? e->ops->max_batch : Max(m, 1);
	int			np = m;
	SinkItem  **pending = palloc(sizeof(SinkItem *) * Max(m, 1));
	MeshSinkRow *rows = palloc(sizeof(MeshSinkRow) * Min(batch, Max(m, 1)));
	MeshItemOutcome *out = palloc(sizeof(MeshItemOutcome) * Min(batch, Max(m, 1)));
	char	  **pub = palloc(sizeof(char *) * Min(batch, Max(m, 1)));

	memcpy(pending, items, sizeof(SinkItem *) * m);
	while (np > 0)
	{
		int			settled = 0;
		int			left = 0;

		e->lost = false;
		for (int off = 0; off < np && !e->lost; off += batch)
		{
			int			k = Min(batch, np - off);

			CHECK_FOR_INTERRUPTS();
			memset(out, 0, sizeof(MeshItemOutcome) * k);
			memset(pub, 0, sizeof(char *) * k);
			for (int j = 0; j < k; j++)
				fill_row(e, pending[off + j]->first, pending[off + j]->last, &rows[j]);
			call_sink(e, kind, rows, out, pub, k);
			for (int j = 0; j < k; j++)
			{
				pending[off + j]->outcome = out[j];
				pending[off + j]->public_reason = pub[j];
				if (out[j].status != MESH_ITEM_UNKNOWN)
					settled++;
			}
		}
		for (int i = 0; i < np; i++)
			if (pending[i]->outcome.status == MESH_ITEM_UNKNOWN)
				pending[left++] = pending[i];
		if (settled == 0)
			break;				/* nothing moves: back off */
		np = left;
	}
}

/*
 * Record what became of a key on its events (item->first, then on through
 * next[] until -1); false if it is unknown.
 */
static bool
settle_item(SinkEngine *e, SinkItem *item, const int *next, List **dead)
{
	if (item->outcome.status == MESH_ITEM_UNKNOWN)
		return false;
	for (int idx = item->first; idx >= 0; idx = next[idx])
	{
		if (item->outcome.status == MESH_ITEM_ACKED)
			e->state[idx] = EV_ACKED;
		else if (idx == item->last)
			add_dead(e, idx, item->outcome.reason, item->public_reason, dead);
		else
			e->state[idx] = EV_SUPERSEDED;
	}
	return true;
}

/*
 * Group the events[from..to) by key, in one pass: items[0..m) in order of
 * each key's first change, with its first and last event; next[i] is the
 * index of the key's event after event i, or -1.  Returns m.
 */
static int
group_keys(SinkEngine *e, int from, int to, SinkItem *items, int *next)
{
	int			size = 16;
	int		   *slots;			/* open addressing: item number, or -1 */
	int			m = 0;

	while (size < 2 * (to - from))
		size <<= 1;
	slots = palloc(sizeof(int) * size);
	memset(slots, -1, sizeof(int) * size);
	for (int i = from; i < to; i++)
	{
		char	   *key = mesh_route_key_string(e->route, e->events[i].values);
		uint32		hash = hash_bytes((const unsigned char *) key, strlen(key));
		int			pos = hash & (size - 1);
		SinkItem   *item;

		while (slots[pos] >= 0 &&
			   (items[slots[pos]].hash != hash || strcmp(items[slots[pos]].key, key) != 0))
			pos = (pos + 1) & (size - 1);
		next[i] = -1;
		if (slots[pos] < 0)
		{
			slots[pos] = m;
			item = &items[m++];
			item->key = key;
			item->hash = hash;
			item->first = i;
		}
		else
		{
			item = &items[slots[pos]];
			next[item->last] = i;
			pfree(key);
		}
		item->last = i;
	}
	pfree(slots);
	return m;
}

/*
 * Write the segment events[from..to) (no TRUNCATE): the last change of each
 * key.  Returns the index of the first event not settled, or to.
 */
static int
apply_segment(SinkEngine *e, int from, int to, List **dead)
{
	int			n = to - from;
	SinkItem   *items;
	SinkItem  **upserts;
	SinkItem  **removes;
	int		   *next;			/* per event of the chunk: its key's next event */
	int			m,
				nup = 0,
				nrm = 0;
	int			stop = to;

	if (n <= 0)
		return to;
	items = palloc0(sizeof(SinkItem) * n);
	next = palloc(sizeof(int) * e->nevents);
	m = group_keys(e, from, to, items, next);
	upserts = palloc(sizeof(SinkItem *) * n);
	removes = palloc(sizeof(SinkItem *) * n);
	for (int g = 0; g < m; g++)
	{
		if (e->events[items[g].last].op == 'D')
			removes[nrm++] = &items[g];
		else
			upserts[nup++] = &items[g];
	}
	run_items(e, CALL_UPSERT, upserts, nup);
	run_items(e, CALL_REMOVE, removes, nrm);
	for (int g = 0; g < m; g++)
		if (!settle_item(e, &items[g], next, dead))
			stop = Min(stop, items[g].first);
	return stop;
}

/* Delete everything of the target for the TRUNCATE events[i]; false if unknown. */
static bool
apply_truncate(SinkEngine *e, int i, List **dead)
{
	MeshItemOutcome out = {0};
	char	   *pub = NULL;

	e->lost = false;
	call_sink(e, CALL_TRUNCATE, NULL, &out, &pub, 1);
	if (out.status == MESH_ITEM_UNKNOWN)
		return false;
	if (out.status == MESH_ITEM_ACKED)
		e->state[i] = EV_ACKED;
	else
		add_dead(e, i, out.reason, pub, dead);
	return true;
}

/*
 * keep_every_change: each event is an item, written in order.  Returns the
 * index of the first event not settled, or n.  While a pass settles some,
 * everything from the first unknown event on is sent again, in order.
 */
static int
apply_log(SinkEngine *e, List **dead)
{
	int			n = e->nevents;
	int			batch = e->ops->max_batch > 0 ? e->ops->max_batch : Max(n, 1);
	MeshSinkRow *rows = palloc(sizeof(MeshSinkRow) * Min(batch, Max(n, 1)));
	MeshItemOutcome *out = palloc(sizeof(MeshItemOutcome) * Max(n, 1));
	char	  **pub = palloc(sizeof(char *) * Max(n, 1));
	int			from = 0;

	while (from < n)
	{
		int			next = from;

		memset(out + from, 0, sizeof(MeshItemOutcome) * (n - from));
		memset(pub + from, 0, sizeof(char *) * (n - from));
		e->lost = false;
		for (int off = from; off < n && !e->lost; off += batch)
		{
			int			k = Min(batch, n - off);

			CHECK_FOR_INTERRUPTS();
			for (int j = 0; j < k; j++)
				fill_row(e, off + j, off + j, &rows[j]);
			call_sink(e, CALL_UPSERT, rows, out + off, pub + off, k);
		}
		for (; next < n && out[next].status != MESH_ITEM_UNKNOWN; next++)
		{
			if (out[next].status == MESH_ITEM_ACKED)
				e->state[next] = EV_ACKED;
			else
				add_dead(e, next, out[next].reason, pub[next], dead);
		}
		if (next == from)
			break;				/* nothing moves: back off */
		from = next;
	}
	return from;
}

/* Write events[0..n) (see the file comment); the index of the first event not settled. */
static int
deliver(SinkEngine *e, List **dead)
{
	int			n = e->nevents;
	int			from = 0;

	if (e->ops->keep_every_change)
		return apply_log(e, dead);
	for (int i = 0; i <= n; i++)
	{
		int			stop;

		if (i < n && e->events[i].op != 'T')
			continue;
		stop = apply_segment(e, from, i, dead);
		if (stop < i)
			return stop;
		if (i < n && !apply_truncate(e, i, dead))
			return i;
		from = i + 1;
	}
	return n;
}

/*
 * Deliver events[0..n) through the route's sink (see the file comment).
 * *conn is the connection in use (NULL: none yet); out->settled says how
 * far the caller may move the cursor, out->delivered and out->dead cover
 * only that prefix.
 */
void
mesh_sink_apply(MeshRoute *route, void **conn, MeshEvent *events, int n, ApplyOutcome *out)
{
	SinkEngine	e = {0};
	List	   *dead = NIL;
	int			stop;
	ListCell   *lc;

	e.route = route;
	e.ops = route->config->connector->sink;
	e.conn = conn;
	e.events = events;
	e.nevents = n;
	e.state = palloc0(Max(n, 1));
	if (e.ops->begin_batch == NULL)
		stop = deliver(&e, &dead);
	else if (!begin_batch(&e))
		stop = 0;				/* nothing was written */
	else
	{
		stop = deliver(&e, &dead);
		if (!e.batch_failed)
			commit_batch(&e);
		if (e.batch_failed)
		{
			/* undone: nothing of the batch holds */
			stop = 0;
			dead = NIL;
			if (e.batch_permanent)
			{
				/* again with one batch per call, down to the refused item */
				memset(e.state, 0, Max(n, 1));
				e.isolated = true;
				e.lost = e.batch_failed = false;
				stop = deliver(&e, &dead);
			}
		}
	}

	memset(out, 0, sizeof(*out));
	out->settled = stop;
	out->transient = stop < n;
	for (int i = 0; i < stop; i++)
		if (e.state[i] == EV_ACKED)
			out->delivered++;
	foreach(lc, dead)
	{
		DeadEvent  *d = lfirst(lc);

		if (d->index < stop)
			out->dead = lappend(out->dead, d);
	}
	out->error = e.error;
	out->public_error = e.public_error;
	out->sqlerrcode = e.sqlerrcode;
	if (out->transient && out->error == NULL)
	{
		out->error = "the target did not acknowledge the write";
		out->public_error = out->error;
	}
}
