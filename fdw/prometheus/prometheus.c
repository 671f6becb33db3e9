/*
 * prometheus.c: the Prometheus connector (HTTP query API): options,
 * connection, health.  Also serves Thanos, Mimir and Cortex (point url at
 * their Prometheus-compatible prefix).  Reads only: Prometheus has no write
 * API that mesh uses.
 */
#include "postgres.h"

#include "prometheus.h"

#include "utils/memutils.h"

static const MeshOption prometheus_options[] = {
	MESH_HTTP_OPTIONS,
	PROMETHEUS_READ_OPTIONS,
	{NULL}
};

/*
 * The version from a buildinfo answer ({"status":"success","data":
 * {"version":"2.42.0",...}}): "" when the answer has none, NULL when it is
 * not such an answer at all (a failed ping: ping_body_required).
 */
static char *
buildinfo_version(const char *body)
{
	json_t	   *root = json_loads(body, 0, NULL);
	json_t	   *data = json_object_get(root, "data");
	json_t	   *version = json_object_get(data, "version");

	if (!json_is_object(data))
		return NULL;
	return pstrdup(json_is_string(version) ? json_string_value(version) : "");
}

static const MeshHttpSetup prometheus_setup = {
	.kind_label = "Prometheus",
	.default_url = "http://127.0.0.1:9090",
	.token_scheme = "Bearer",
	.ping_path = "/api/v1/status/buildinfo",
	.ping_version = buildinfo_version,
	.ping_body_required = true,
	.conn_size = sizeof(PromConn),
};

/* The scan of every Prometheus-API kind (also VictoriaMetrics'). */
const MeshScanOps prom_scan_ops = {
	.plan_scan = prom_plan_scan,
	.begin_scan = prom_begin_scan,
	.next_row = prom_next_row,
	.end_scan = prom_end_scan,
	.explain_scan = prom_explain_scan,
};

const MeshConnector mesh_prometheus_connector = {
	.kind = "prometheus",
	.options = prometheus_options,
	.execute = prom_execute,
	.http_setup = &prometheus_setup,
	.scan = &prom_scan_ops,
};
