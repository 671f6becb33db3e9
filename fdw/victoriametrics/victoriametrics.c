/*
 * victoriametrics.c: the VictoriaMetrics connector.  Reads are the
 * Prometheus query API (fdw/prometheus: the same scan, mesh.promql and
 * mesh.execute code); health reads the version from /metrics, since
 * VictoriaMetrics' /api/v1/status/buildinfo carries none (1.79 answers
 * {"data":{}}).
 */
#include "postgres.h"

#include "../prometheus/prometheus.h"
#include "vm_sink.h"

/* Reads' options (as mesh_prometheus) and the sink's route options. */
static const MeshOption victoriametrics_options[] = {
	MESH_HTTP_OPTIONS,
	PROMETHEUS_READ_OPTIONS,
	VM_SINK_OPTIONS,
	{NULL}
};

/* The value of attr="..." within a metric's label list, or NULL. */
static char *
label_value(const char *labels, const char *end, const char *attr)
{
	size_t		alen = strlen(attr);

	for (const char *p = labels; p && p < end; p = strchr(p, ','))
	{
		p += strspn(p, ", {");
		if (strncmp(p, attr, alen) == 0 && strncmp(p + alen, "=\"", 2) == 0)
		{
			const char *v = p + alen + 2;
			const char *q = strchr(v, '"');

			return q && q < end ? pnstrdup(v, q - v) : NULL;
		}
	}
	return NULL;
}

/*
 * The version from /metrics: vm_app_version{version="...", short_version="v1.79.5"}.
 * short_version, else version; NULL when the build reports neither
 * (Debian's build leaves both empty).
 */
static char *
metrics_version(const char *body)
{
	const char *line = body;

	while (line && *line)
	{
		if (strncmp(line, "vm_app_version{", 15) == 0)
		{
			const char *end = strchr(line, '}');
			char	   *v;

			if (end == NULL)
				return NULL;
			v = label_value(line + 14, end, "short_version");
			if (v == NULL || v[0] == '\0')
				v = label_value(line + 14, end, "version");
			return v && v[0] ? v : NULL;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

static const MeshHttpSetup victoriametrics_setup = {
	.kind_label = "VictoriaMetrics",
	.default_url = "http://127.0.0.1:8428",
	.token_scheme = "Bearer",
	.ping_path = "/metrics",
	.ping_version = metrics_version,
	.conn_size = sizeof(PromConn),
};

/* Writes (INSERT, the replication sink, verify) are vm_sink.c's. */

static const MeshModifyOps victoriametrics_modify = {
	.row_identity = vm_row_identity,
	.begin_modify = vm_begin_modify,
	.modify_row = vm_modify_row,
	.end_modify = vm_end_modify,
};

const MeshConnector mesh_victoriametrics_connector = {
	.kind = "victoriametrics",
	.options = victoriametrics_options,
	.execute = prom_execute,
	.http_setup = &victoriametrics_setup,
	.scan = &prom_scan_ops,
	.modify = &victoriametrics_modify,
	.sink = &vm_sink_ops,
	.fetch_rows = mesh_http_fetch_rows,
	.scan_keys = vm_scan_keys,
	.fetch_request = vm_fetch_request,
	.fetch_answer = vm_fetch_answer,
	.expected_values = vm_expected_values,
};
