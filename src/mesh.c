/*
 * mesh.c: module entry point and settings.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "json_value.h"
#include "mesh.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			mesh_event_retention_s = 86400;
int			mesh_generation_size = 1000000;
int			mesh_batch_size = 5000;
bool		mesh_preloaded = false;

/* Loaded by shared_preload_libraries (replication) or on first use (FDWs). */
void
_PG_init(void)
{
	DefineCustomIntVariable("mesh.event_retention",
							"How long delivered events stay in the event log (for mesh.replay).",
							"A generation of the log is truncated once every route delivered it and it is this old.",
							&mesh_event_retention_s, 86400, 0, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.event_generation_size",
							"Event ids per generation of the event log.",
							"The log rotates through three generations of this many ids; a whole generation is truncated at once.",
							&mesh_generation_size, 1000000, 1000, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.batch_size",
							"Events a route worker reads and applies per round trip.",
							NULL, &mesh_batch_size, 5000, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("mesh");
	mesh_json_init();

	if (!process_shared_preload_libraries_in_progress)
		return;
	mesh_preloaded = true;
	mesh_shmem_init_hooks();
	mesh_start_launcher();
}
