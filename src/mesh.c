/*
 * mesh.c: module entry point and settings.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "connector.h"
#include "json_value.h"
#include "mesh.h"
#include "metrics.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

int			mesh_event_retention_s = 86400;
int			mesh_generation_size = 1000000;
int			mesh_batch_size = 5000;
int			mesh_backlog_batch_size = 50000;
bool		mesh_preloaded = false;
int			mesh_metrics_port = 0;
char	   *mesh_metrics_listen_address = NULL;
int			mesh_health_interval_s = 15;
int			mesh_health_timeout_ms = 2000;
char	   *mesh_metrics_auth_file = NULL;
bool		mesh_drop_discards_pending = false;
int			mesh_log_slow_steps_ms = 0;

/* Loaded by shared_preload_libraries (replication) or on first use (FDWs). */
static const struct config_enum_entry capture_modes[] = {
	{"auto", MESH_CAPTURE_AUTO, false},
	{"wal", MESH_CAPTURE_WAL, false},
	{"trigger", MESH_CAPTURE_TRIGGER, false},
	{NULL, 0, false}
};

void
_PG_init(void)
{
	DefineCustomEnumVariable("mesh.capture",
							 "How a replicated table's changes are captured: wal (logical decoding), trigger, or auto (wal where wal_level = logical).",
							 "Applies to tables whose first route is created afterwards; mesh.set_capture() switches a table.",
							 &mesh_capture_mode, MESH_CAPTURE_AUTO, capture_modes,
							 PGC_SUSET, 0, NULL, NULL, NULL);
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
							"Events a delivery worker reads and applies per round trip of a route.",
							NULL, &mesh_batch_size, 5000, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.backlog_batch_size",
							"Events a delivery worker reads and applies per round trip of a route while the batch under way holds more than mesh.batch_size.",
							"Larger rounds deliver a backlog with fewer round trips, at the cost of the worker's memory (about 0.5 kB per event); never below mesh.batch_size.",
							&mesh_backlog_batch_size, 50000, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.max_delivery_workers",
							"Delivery helpers in the whole cluster, beyond each database's own worker.",
							"Each database with mesh has one worker that delivers all its routes in turns; while routes wait, it starts helpers up to this number (each a background worker process, leaving after 10 s without work).",
							&mesh_max_delivery_workers, 2, 0, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.metrics_port",
							"TCP port of the metrics endpoint (/metrics, /health and the status page); 0 turns it off.",
							"Served by the \"mesh metrics\" background worker when mesh is in shared_preload_libraries; a reload applies a change.",
							&mesh_metrics_port, 0, 0, 65535,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("mesh.metrics_listen_address",
							   "Address the metrics endpoint listens on.",
							   "One IPv4 or IPv6 address or host name; only that address is bound.",
							   &mesh_metrics_listen_address, "127.0.0.1",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.health_interval",
							"How often each database worker pings its backends for the metrics endpoint; 0 turns the checks off.",
							NULL, &mesh_health_interval_s, 15, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.health_timeout",
							"How long those health checks wait for a backend's answer.",
							NULL, &mesh_health_timeout_ms, 2000, 1, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("mesh.metrics_auth_file",
							   "File holding the credentials the metrics endpoint requires; empty: no authentication.",
							   "One line: \"bearer <token>\" or \"basic <user>:<password>\". The file must not be readable by other OS users; a reload applies a change.",
							   &mesh_metrics_auth_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomBoolVariable("mesh.drop_discards_pending",
							 "Lets DROP EXTENSION mesh discard events not delivered yet.",
							 "Off: DROP EXTENSION mesh (and DROP SCHEMA mesh) is refused while a route has pending events.",
							 &mesh_drop_discards_pending, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mesh.log_slow_steps",
							"Logs each step of a delivery worker that takes longer than this; 0 turns it off.",
							"Steps: decoding WAL, a route's turn, a health step, the metrics snapshot, pruning the event log. For finding what delays delivery.",
							&mesh_log_slow_steps_ms, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	{
		int			n;
		const MeshConnector *const *all = mesh_connectors(&n);

		for (int i = 0; i < n; i++)
			if (all[i]->define_settings)
				all[i]->define_settings();
	}
	MarkGUCPrefixReserved("mesh");
	mesh_json_init();

	if (!process_shared_preload_libraries_in_progress)
		return;
	mesh_preloaded = true;
	mesh_shmem_init_hooks();
	mesh_metrics_shmem_init_hooks();
	mesh_start_launcher();
	mesh_start_metrics_worker();
}
