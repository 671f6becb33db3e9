/*
 * retention.c: mesh.prune_event_log() truncates event-log generations.
 *
 * A generation is truncated when it is not the one new ids go to, every
 * route has delivered all of it (its highest id is below the lowest id any
 * route may still need), and its newest event is older than
 * mesh.event_retention.  Its ACCESS EXCLUSIVE lock is only tried: a
 * generation a writer still inserts into waits for the next round.  No
 * row-by-row DELETE ever runs on the log.  The database worker calls this
 * every 10 seconds.
 *
 * The newest capture time of a generation costs a scan of it (there is no
 * index on captured_at), and the database worker must not spend a quarter
 * second of delivery on that every round: once no running capturing
 * transaction may still write into a generation (every writer announces
 * its lowest id first, shmem.c), its newest time is final and is kept for
 * that generation's file (a TRUNCATE gives it a new one).
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "mesh.h"

PG_FUNCTION_INFO_V1(mesh_prune_event_log);

/* A closed generation's newest capture time, valid for its file. */
typedef struct GenerationNewest
{
	Oid			relfilenode;
	int64		top;			/* its highest id then */
	TimestampTz newest;
} GenerationNewest;

static GenerationNewest newest_known[MESH_GENERATIONS];

/*
 * The newest capture time of generation g (SQL name), whose ids end at
 * last_id and whose highest id is top; false if it holds no event.  Read
 * with the current snapshot.  The kept time is used only for the same file
 * and the same highest id (events placed under another
 * mesh.event_generation_size change the latter).
 */
static bool
generation_newest(int g, const char *name, Oid relid, int64 last_id, int64 top,
				  TimestampTz *newest)
{
	Relation	rel = relation_open(relid, NoLock);	/* locked by the caller */
	Oid			filenode = rel->rd_node.relNode;
	bool		final = mesh_running_capture_low() > last_id;	/* before the scan's snapshot */
	bool		isnull;

	relation_close(rel, NoLock);
	if (newest_known[g].relfilenode == filenode && OidIsValid(filenode) &&
		newest_known[g].top == top)
	{
		*newest = newest_known[g].newest;
		return true;
	}
	SPI_execute(psprintf("SELECT max(captured_at) FROM mesh.%s", name), true, 1);
	*newest = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		return false;
	if (final)
	{
		newest_known[g].relfilenode = filenode;
		newest_known[g].top = top;
		newest_known[g].newest = *newest;
	}
	return true;
}

Datum
mesh_prune_event_log(PG_FUNCTION_ARGS)
{
	int64		current = mesh_sequence_value();
	int64		current_abs = current / mesh_generation_size;
	int			current_gen = (int) (current_abs % MESH_GENERATIONS);
	int			truncated = 0;

	SPI_connect();
	for (int g = 0; g < MESH_GENERATIONS; g++)
	{
		char		name[32];
		Oid			relid;
		int64		back = (current_gen - g + MESH_GENERATIONS) % MESH_GENERATIONS;
		int64		last_id = (current_abs - back + 1) * mesh_generation_size - 1;
		TimestampTz newest;
		int64		top;
		bool		delivered;
		bool		isnull;

		if (g == current_gen)
			continue;
		snprintf(name, sizeof(name), "event_log_%d", g);
		relid = mesh_relid(name);
		if (!ConditionalLockRelationOid(relid, AccessExclusiveLock))
			continue;
		SPI_execute(psprintf("SELECT max(id), max(id) < COALESCE((SELECT min(mesh._route_need(id))"
							 " FROM mesh.route), 9223372036854775807) FROM mesh.%s", name),
					true, 1);
		top = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (isnull)
			continue;			/* empty */
		delivered = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (!delivered)
			continue;
		if (!generation_newest(g, name, relid, last_id, top, &newest) ||
			newest > TimestampTzPlusMilliseconds(GetCurrentTransactionStartTimestamp(),
												 -1000 * (int64) mesh_event_retention_s))
			continue;
		SPI_execute(psprintf("TRUNCATE mesh.%s", name), false, 0);
		truncated++;
	}
	SPI_finish();
	PG_RETURN_INT32(truncated);
}
