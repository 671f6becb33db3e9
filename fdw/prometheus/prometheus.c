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
 * not such an answer at all (see check_ping).
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
};

/* A connection using setup (the kind's label, default url and ping). */
void *
prom_connect(MeshServerConfig *config, const MeshHttpSetup *setup)
{
	PromConn   *conn;
	MeshHttp   *http = mesh_http_connect(config, setup);

	conn = MemoryContextAllocZero(TopMemoryContext, sizeof(PromConn));
	conn->http = http;
	conn->setup = setup;
	return conn;
}

void
prom_disconnect(void *conn)
{
	PromConn   *pc = conn;

	mesh_http_disconnect(pc->http);
	pfree(pc);
}

static void *
prometheus_connect(MeshServerConfig *config)
{
	return prom_connect(config, &prometheus_setup);
}

/* A 2xx answer that is not build info is a failed check, not a healthy server. */
static void
check_ping(MeshPing *ping)
{
	if (!ping->done || !ping->ok)
		return;
	if (ping->version == NULL)
	{
		ping->ok = false;
		ping->error = pstrdup("malformed answer to /api/v1/status/buildinfo");
	}
	else if (ping->version[0] == '\0')
		ping->version = NULL;
}

static void
prometheus_ping_start(MeshPing *ping)
{
	mesh_http_ping_start(ping, &prometheus_setup);
	check_ping(ping);
}

static void
prometheus_ping_continue(MeshPing *ping)
{
	mesh_http_ping_continue(ping);
	check_ping(ping);
}

const MeshConnector mesh_prometheus_connector = {
	.kind = "prometheus",
	.options = prometheus_options,
	.caps = MESH_CAP_SCAN | MESH_CAP_EXECUTE | MESH_CAP_PING,
	.connect = prometheus_connect,
	.disconnect = prom_disconnect,
	.ping_start = prometheus_ping_start,
	.ping_continue = prometheus_ping_continue,
	.ping_finish = mesh_http_ping_finish,
	.plan_scan = prom_plan_scan,
	.begin_scan = prom_begin_scan,
	.next_row = prom_next_row,
	.end_scan = prom_end_scan,
	.explain_scan = prom_explain_scan,
	.execute = prom_execute,
	.classify_error = mesh_http_classify_error,
};
