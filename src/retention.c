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
 */
#include "postgres.h"

#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"

#include "mesh.h"

PG_FUNCTION_INFO_V1(mesh_prune_event_log);

Datum
mesh_prune_event_log(PG_FUNCTION_ARGS)
{
	int64		current = mesh_sequence_value();
	int			current_gen = (int) ((current / mesh_generation_size) % MESH_GENERATIONS);
	int			truncated = 0;

	SPI_connect();
	for (int g = 0; g < MESH_GENERATIONS; g++)
	{
		char		name[32];
		Oid			relid;

		if (g == current_gen)
			continue;
		snprintf(name, sizeof(name), "event_log_%d", g);
		relid = mesh_relid(name);
		if (!ConditionalLockRelationOid(relid, AccessExclusiveLock))
			continue;
		SPI_execute(psprintf("SELECT 1 FROM (SELECT max(id) AS top, max(captured_at) AS newest"
							 " FROM mesh.%s) l WHERE l.top IS NOT NULL"
							 " AND l.newest <= now() - make_interval(secs => %d)"
							 " AND l.top < COALESCE((SELECT min(mesh._route_need(id)) FROM mesh.route),"
							 " 9223372036854775807)",
							 name, mesh_event_retention_s),
					true, 1);
		if (SPI_processed == 1)
		{
			SPI_execute(psprintf("TRUNCATE mesh.%s", name), false, 0);
			truncated++;
		}
	}
	SPI_finish();
	PG_RETURN_INT32(truncated);
}
