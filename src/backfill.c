/*
 * backfill.c: a new route's copy of the existing rows, and the re-sync of
 * dead-lettered keys.
 *
 * Backfill reads the source in one REPEATABLE READ transaction (snapshot
 * S) and upserts every row into the target in chunks; in the same
 * transaction it sets the route's cursor to S, so exactly the events not
 * visible in S follow: no gap, and no event older than the copy is applied
 * after it.  WAL capture writes a transaction's events later, in the
 * decoder's transaction, once the writer is visible to every snapshot
 * (wal_capture.c): those of writers visible in S (source_xid) are skipped
 * by backfill_snap = S.  This is the one place a transaction stays open across network
 * I/O (as pg_dump's snapshot does); a failure restarts the copy, which is
 * idempotent.
 *
 * A re-sync (after a schema change that changed rows capture never saw,
 * or mesh.resync) is the same copy in place, at the route's marker event:
 * the cursor stays on the marker, every row is versioned as the marker
 * (newer than every event before it, older than every event after it),
 * and the events after the marker then apply over the copy in order, so
 * each key ends at its newest state; deletes after the marker included.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mesh.h"
#include "mesh_util.h"

static char *
qualified_source(MeshRoute *route)
{
	return quote_qualified_identifier(route->source_schema, route->source_name);
}

/*
 * Copy the source into the target; returns rows copied (<0: retry later).
 * marker 0: the route's first copy, which sets its cursor; otherwise the
 * re-sync at that marker event, which leaves the cursor alone.
 */
int
mesh_backfill(MeshRoute *route, int64 marker)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		low;
	char	   *snapshot;
	Portal		portal;
	SPIPlanPtr	plan;
	int			copied = 0;
	int			ndead;
	ApplyOutcome out;
	List	   *dead = NIL;
	MeshEvent  *all_dead_events = NULL;
	MeshUserSave save;

	mesh_worker_begin_xact();
	XactIsoLevel = XACT_REPEATABLE_READ;
	/* the bounds of route_worker.c: sequence, running captures, snapshot */
	low = Min(mesh_sequence_value() + 1, mesh_running_capture_low());
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_execute("SELECT pg_current_snapshot()::text", true, 1);
	snapshot = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	/* the source is read as the route's owner (its privileges, its RLS) */
	mesh_become(route->owner, &save);
	plan = SPI_prepare(psprintf("SELECT * FROM %s", qualified_source(route)), 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the backfill of %s", route->source_name);
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	mesh_restore_user(&save);
	{
		/* the columns the copy reads: an ALTER TABLE may have committed since the route was built */
		MemoryContext old = MemoryContextSwitchTo(cxt);
		int64		id = route->id;

		route = mesh_route_build(route->source, route->target, route->options, route->role,
								 route->owner);
		route->id = id;
		MemoryContextSwitchTo(old);
	}
	for (;;)
	{
		MeshEvent  *events;
		int			n;
		MemoryContext old;

		mesh_become(route->owner, &save);
		SPI_cursor_fetch(portal, true, mesh_batch_size);
		mesh_restore_user(&save);
		n = SPI_processed;
		if (n == 0)
			break;
		old = MemoryContextSwitchTo(cxt);
		events = palloc0(sizeof(MeshEvent) * n);
		for (int i = 0; i < n; i++)
		{
			events[i].op = 'U';
			/* the copy reflects every event below low: version it just under them */
			events[i].id = marker > 0 ? marker : low - 1;
			events[i].values = mesh_route_row_values(route, SPI_tuptable->tupdesc,
													 SPI_tuptable->vals[i]);
		}
		mesh_apply_events(route, events, n, &out);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
		if (out.transient)
		{
			/* nothing of this copy is kept; the route retries it later */
			SPI_cursor_close(portal);
			SPI_finish();
			PopActiveSnapshot();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(cxt);
			ereport(LOG,
					(errmsg("mesh: route %lld: backfill interrupted: %s", (long long) route->id,
							out.public_error)));
			mesh_record_failure(route->id, out.public_error);
			MemoryContextSwitchTo(cxt);
			return -1;
		}
		copied += out.delivered;
		if (out.dead != NIL)
		{
			all_dead_events = events;
			mesh_record_dead(route, all_dead_events, out.dead);
			dead = list_concat(dead, out.dead);
		}
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	mesh_lock_route(route->id);
	if (marker == 0)
	{
		Oid			types[3] = {INT8OID, TEXTOID, INT8OID};
		Datum		values[3] = {Int64GetDatum(route->id), CStringGetTextDatum(snapshot),
		Int64GetDatum(low)};

		SPI_execute_with_args("UPDATE mesh.route_cursor SET backfilled = true,"
							  " done_snap = $2::pg_snapshot, done_low = $3,"
							  " backfill_snap = $2::pg_snapshot,"
							  " batch_snap = NULL, batch_next_low = NULL, batch_low = NULL,"
							  " batch_high = NULL, batch_last_id = NULL"
							  " WHERE route_id = $1",
							  3, types, values, NULL, false, 0);
	}
	mesh_record_stats(route->id, copied, 0);
	ndead = list_length(dead);	/* dead lives in SPI memory, freed by the commit */
	mesh_worker_spi_commit();
	ereport(LOG,
			(errmsg("mesh: route %lld (%s -> %s) %s %d rows, %d dead-lettered",
					(long long) route->id, route->source_name, route->target,
					marker > 0 ? "re-synced" : "backfilled", copied, ndead)));
	return copied;
}

/* SELECT * FROM source WHERE k1 = $1::type1 AND ... (text parameters). */
static char *
key_lookup_sql(MeshRoute *route)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT * FROM %s WHERE ", qualified_source(route));
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];

		appendStringInfo(&sql, "%s%s = $%d::%s", k ? " AND " : "",
						 quote_identifier(route->columns[c]), k + 1,
						 format_type_be(route->types[c]));
	}
	return sql.data;
}

/*
 * Re-sync the keys of dead letters marked for retry from the source's
 * current rows: an upsert of the row, or a delete when it is gone.  Each
 * key is applied on its own; success removes the dead letter.  Returns the
 * number of keys handled; *transient when the target was unreachable.
 */
int
mesh_resync_dead_letters(MeshRoute *route, bool *transient)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	int64	   *ids;
	Jsonb	  **keys;
	MeshEvent  *events;
	Oid		   *argtypes = palloc(sizeof(Oid) * route->nkeys);
	Datum		args[2];
	Oid			types[2] = {INT8OID, INT8OID};
	MeshUserSave save;

	*transient = false;
	for (int k = 0; k < route->nkeys; k++)
		argtypes[k] = TEXTOID;

	/* read the keys and the current source rows */
	mesh_worker_spi_begin();
	args[0] = Int64GetDatum(route->id);
	SPI_execute_with_args("SELECT event_id, key FROM mesh.dead_letter_store"
						  " WHERE route = $1 AND retry ORDER BY event_id, key LIMIT 100",
						  1, types, args, NULL, false, 0);
	n = SPI_processed;
	{
		SPITupleTable *letters = SPI_tuptable;
		SPIPlanPtr	lookup;

		mesh_become(route->owner, &save);	/* as the backfill */
		lookup = SPI_prepare(key_lookup_sql(route), route->nkeys, argtypes);
		mesh_restore_user(&save);

		ids = MemoryContextAlloc(cxt, sizeof(int64) * Max(n, 1));
		keys = MemoryContextAlloc(cxt, sizeof(Jsonb *) * Max(n, 1));
		events = MemoryContextAllocZero(cxt, sizeof(MeshEvent) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			bool		isnull;
			Jsonb	   *key;
			MeshEvent  *ev = &events[i];
			Datum	   *kv = palloc(sizeof(Datum) * route->nkeys);
			MemoryContext old;

			ids[i] = DatumGetInt64(SPI_getbinval(letters->vals[i], letters->tupdesc, 1, &isnull));
			key = DatumGetJsonbP(SPI_getbinval(letters->vals[i], letters->tupdesc, 2, &isnull));
			old = MemoryContextSwitchTo(cxt);
			keys[i] = DatumGetJsonbPCopy(JsonbPGetDatum(key));
			mesh_route_decode(route, 'D', key, NULL, ev);
			MemoryContextSwitchTo(old);
			for (int k = 0; k < route->nkeys; k++)
				kv[k] = CStringGetTextDatum(ev->values[route->key_index[k]] ?
											ev->values[route->key_index[k]] : "");
			mesh_become(route->owner, &save);
			SPI_execute_plan(lookup, kv, NULL, false, 1);
			mesh_restore_user(&save);
			ev->id = ids[i];
			if (SPI_processed == 1)
			{
				old = MemoryContextSwitchTo(cxt);
				ev->op = 'U';
				ev->values = mesh_route_row_values(route, SPI_tuptable->tupdesc,
												   SPI_tuptable->vals[0]);
				MemoryContextSwitchTo(old);
			}
		}
	}
	mesh_worker_spi_commit();

	/* apply each key on its own, then record the outcome */
	for (int i = 0; i < n; i++)
	{
		ApplyOutcome out;
		Oid			rtypes[5] = {INT8OID, INT8OID, JSONBOID, TEXTOID, TEXTOID};
		Datum		rvalues[5];

		MemoryContextSwitchTo(cxt);
		mesh_apply_events(route, &events[i], 1, &out);
		if (out.transient)
		{
			*transient = true;
			mesh_record_failure(route->id, out.public_error);
			return i;
		}
		mesh_worker_spi_begin();
		mesh_lock_route(route->id);
		rvalues[0] = Int64GetDatum(route->id);
		rvalues[1] = Int64GetDatum(ids[i]);
		rvalues[2] = JsonbPGetDatum(keys[i]);
		rvalues[3] = CStringGetTextDatum(out.dead ? ((DeadEvent *) linitial(out.dead))->error : "");
		rvalues[4] = CStringGetTextDatum(out.dead ? ((DeadEvent *) linitial(out.dead))->public_error : "");
		if (out.dead == NIL)
		{
			SPI_execute_with_args("DELETE FROM mesh.dead_letter_store"
								  " WHERE route = $1 AND event_id = $2 AND key = $3",
								  3, rtypes, rvalues, NULL, false, 0);
			mesh_record_stats(route->id, 1, 0);
		}
		else
			SPI_execute_with_args("UPDATE mesh.dead_letter_store SET attempts = attempts + 1,"
								  " retry = false, error = $4, public_error = $5, failed_at = now()"
								  " WHERE route = $1 AND event_id = $2 AND key = $3",
								  5, rtypes, rvalues, NULL, false, 0);
		mesh_worker_spi_commit();
	}
	MemoryContextSwitchTo(cxt);
	return n;
}
