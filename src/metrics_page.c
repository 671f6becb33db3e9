/*
 * metrics_page.c: the status page served at "/".
 *
 * One self-contained HTML document (inline CSS, no script, no external
 * asset) that reloads itself every 5 s: the backends with their last
 * health check, the routes with lag, pending events and throughput
 * (delivered events per second over the last minute), the newest dead
 * letters (route, event id, attempts, error: never row values; the key
 * mesh.dead_letter shows is left out too) and each event log's size.
 * Every name and message is HTML-escaped.
 */
#include "postgres.h"

#include "pgtime.h"

#include "metrics.h"

#define REFRESH_SECONDS 5

static void
html(StringInfo out, const char *s)
{
	for (s = mesh_utf8_clean(s); *s; s++)
	{
		switch (*s)
		{
			case '&':
				appendStringInfoString(out, "&amp;");
				break;
			case '<':
				appendStringInfoString(out, "&lt;");
				break;
			case '>':
				appendStringInfoString(out, "&gt;");
				break;
			case '"':
				appendStringInfoString(out, "&quot;");
				break;
			case '\'':
				appendStringInfoString(out, "&#39;");
				break;
			default:
				appendStringInfoChar(out, *s);
		}
	}
}

static void
duration(StringInfo out, double secs)
{
	if (secs < 0.001)
		appendStringInfoString(out, "0 s");
	else if (secs < 10)
		appendStringInfo(out, "%.2f s", secs);
	else if (secs < 120)
		appendStringInfo(out, "%.0f s", secs);
	else if (secs < 7200)
		appendStringInfo(out, "%d min %d s", (int) secs / 60, (int) secs % 60);
	else
		appendStringInfo(out, "%d h %d min", (int) (secs / 3600), ((int) secs % 3600) / 60);
}

static void
ago(StringInfo out, TimestampTz ts, TimestampTz now)
{
	if (ts == 0)
	{
		appendStringInfoString(out, "never");
		return;
	}
	duration(out, Max(0, now - ts) / 1000000.0);
	appendStringInfoString(out, " ago");
}

static void
utc(StringInfo out, TimestampTz ts)
{
	pg_time_t	t = (pg_time_t) timestamptz_to_time_t(ts);
	struct pg_tm *tm = pg_gmtime(&t);

	appendStringInfo(out, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm->tm_year + 1900,
					 tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
}

static void
bytes(StringInfo out, int64 n)
{
	if (n < 10 * 1024)
		appendStringInfo(out, INT64_FORMAT " B", n);
	else if (n < 10 * 1024 * 1024)
		appendStringInfo(out, "%.0f kB", n / 1024.0);
	else
		appendStringInfo(out, "%.1f MB", n / 1048576.0);
}

/* Routes ordered by database name, then id. */
static MeshMetricsShared *sort_m;

static int
route_cmp(const void *a, const void *b)
{
	MeshRouteMetrics *ra = *(MeshRouteMetrics * const *) a;
	MeshRouteMetrics *rb = *(MeshRouteMetrics * const *) b;
	int			c = strcmp(mesh_database_name(sort_m, ra->dboid), mesh_database_name(sort_m, rb->dboid));

	if (c != 0)
		return c;
	return ra->route_id < rb->route_id ? -1 : ra->route_id > rb->route_id;
}

static int
backend_cmp(const void *a, const void *b)
{
	MeshBackendMetrics *ba = *(MeshBackendMetrics * const *) a;
	MeshBackendMetrics *bb = *(MeshBackendMetrics * const *) b;
	int			c = strcmp(mesh_database_name(sort_m, ba->dboid), mesh_database_name(sort_m, bb->dboid));

	return c != 0 ? c : strcmp(ba->server, bb->server);
}

static const char *style =
"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px 32px;"
"color:#1f2328;background:#f6f8fa}"
"h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}"
".sub{color:#59636e}.sub a{color:#0969da}"
".cards{display:flex;gap:12px;margin:18px 0 4px;flex-wrap:wrap}"
".card{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:10px 16px;min-width:140px}"
".card b{display:block;font-size:22px}.card span{color:#59636e;font-size:12px}"
"table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d1d9e0}"
"th,td{padding:6px 10px;text-align:left;border-bottom:1px solid #eaeef2;vertical-align:top}"
"th{background:#f6f8fa;font-size:12px;color:#59636e;font-weight:600}"
"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
".t{white-space:nowrap}"
".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}"
".ok{background:#dafbe1;color:#1a7f37}.bad{background:#ffebe9;color:#cf222e}"
".warn{background:#fff8c5;color:#9a6700}.off{background:#eaeef2;color:#59636e}"
".err{color:#cf222e;font:12px ui-monospace,SFMono-Regular,Menlo,monospace;"
"max-width:460px;overflow-wrap:anywhere}"
".empty{color:#59636e;font-style:italic;padding:10px}";

static void
badge(StringInfo out, const char *cls, const char *text)
{
	appendStringInfo(out, "<span class=\"badge %s\">%s</span>", cls, text);
}

static void
card(StringInfo out, const char *id, const char *label, const char *fmt, double v)
{
	appendStringInfo(out, "<div class=\"card\" id=\"%s\"><b>", id);
	appendStringInfo(out, fmt, v);
	appendStringInfo(out, "</b><span>%s</span></div>", label);
}

static void
backends_table(StringInfo out, MeshMetricsShared *m, MeshBackendMetrics **b, int n, TimestampTz now)
{
	appendStringInfoString(out, "<h2>Backends</h2>\n<table id=\"backends\"><tr><th>database</th>"
						   "<th>server</th><th>kind</th><th>status</th><th class=\"n\">latency</th>"
						   "<th>version</th><th>checked</th><th>error</th></tr>\n");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(out, "<tr><td>");
		html(out, mesh_database_name(m, b[i]->dboid));
		appendStringInfoString(out, "</td><td class=\"server\">");
		html(out, b[i]->server);
		appendStringInfoString(out, "</td><td>");
		html(out, b[i]->kind);
		appendStringInfoString(out, "</td><td>");
		badge(out, b[i]->up ? "ok" : "bad", b[i]->up ? "up" : "down");
		appendStringInfo(out, "</td><td class=\"n\">%.1f ms</td><td>", b[i]->latency_ms);
		html(out, b[i]->version);
		appendStringInfoString(out, "</td><td class=\"t\">");
		ago(out, b[i]->checked_at, now);
		appendStringInfoString(out, "</td><td class=\"err\">");
		html(out, b[i]->error);
		appendStringInfoString(out, "</td></tr>\n");
	}
	if (n == 0)
		appendStringInfoString(out, "<tr><td colspan=\"8\" class=\"empty\">no backend checked yet "
							   "(mesh.health_interval)</td></tr>\n");
	appendStringInfoString(out, "</table>\n");
}

/* The route's state as mesh.stats names it, coloured by how bad it is. */
static void
route_state_badge(StringInfo out, MeshRouteMetrics *x)
{
	const char *state = x->state[0] ? x->state : (x->paused ? "paused" : "idle");
	const char *tone = "ok";

	if (strcmp(state, "paused") == 0)
		tone = "off";
	else if (strcmp(state, "backing off") == 0 || strcmp(state, "needs resync") == 0 ||
			 x->last_error[0])
		tone = "bad";
	else if (strcmp(state, "idle") != 0)
		tone = "warn";
	badge(out, tone, state);
}

static void
routes_table(StringInfo out, MeshMetricsShared *m, MeshRouteMetrics **r, int n, TimestampTz now)
{
	appendStringInfoString(out, "<h2>Routes</h2>\n<table id=\"routes\"><tr><th>database</th>"
						   "<th>route</th><th>source → target</th><th>kind</th><th>role</th>"
						   "<th>state</th><th class=\"n\">delivered</th><th class=\"n\">events/s</th>"
						   "<th class=\"n\">pending</th><th class=\"n\">lag</th><th class=\"n\">dead</th>"
						   "<th class=\"n\">failed</th><th>last error</th></tr>\n");
	for (int i = 0; i < n; i++)
	{
		MeshRouteMetrics *x = r[i];

		appendStringInfoString(out, "<tr><td>");
		html(out, mesh_database_name(m, x->dboid));
		appendStringInfo(out, "</td><td>#" INT64_FORMAT "</td><td class=\"route\">", x->route_id);
		html(out, x->source);
		appendStringInfoString(out, " → ");
		html(out, x->target);
		appendStringInfoString(out, "</td><td>");
		html(out, x->kind);
		appendStringInfoString(out, "</td><td>");
		html(out, x->role);
		appendStringInfoString(out, "</td><td>");
		route_state_badge(out, x);
		appendStringInfo(out, "</td><td class=\"n\">" INT64_FORMAT "</td><td class=\"n\">%.1f</td><td class=\"n\">",
						 x->delivered, mesh_route_rate(x, now));
		if (x->pending < 0)
			appendStringInfoString(out, "…");
		else
			appendStringInfo(out, INT64_FORMAT, mesh_route_pending(x));
		appendStringInfoString(out, "</td><td class=\"n\">");
		duration(out, mesh_route_lag_seconds(x, now));
		appendStringInfo(out, "</td><td class=\"n\">" INT64_FORMAT "</td><td class=\"n\">" INT64_FORMAT
						 "</td><td class=\"err\">", x->dead, x->failed);
		html(out, x->last_error);
		appendStringInfoString(out, "</td></tr>\n");
	}
	if (n == 0)
		appendStringInfoString(out, "<tr><td colspan=\"13\" class=\"empty\">no route "
							   "(mesh.replicate)</td></tr>\n");
	appendStringInfoString(out, "</table>\n");
}

static void
dead_table(StringInfo out, MeshMetricsShared *m, TimestampTz now)
{
	int			shown = 0;

	appendStringInfoString(out, "<h2>Recent dead letters</h2>\n<table id=\"dead-letters\"><tr>"
						   "<th>database</th><th>route</th><th>source → target</th>"
						   "<th class=\"n\">event</th><th class=\"n\">attempts</th><th>failed</th>"
						   "<th>error</th></tr>\n");
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
	{
		MeshDatabaseMetrics *db = &m->dbs[i];

		if (!db->used)
			continue;
		for (int k = 0; k < db->ndead; k++)
		{
			MeshDeadLetterInfo *d = &db->dead[k];

			appendStringInfoString(out, "<tr><td>");
			html(out, db->name);
			appendStringInfo(out, "</td><td>#" INT64_FORMAT "</td><td>", d->route_id);
			html(out, d->source);
			appendStringInfoString(out, " → ");
			html(out, d->target);
			appendStringInfo(out, "</td><td class=\"n\">" INT64_FORMAT "</td><td class=\"n\">%d</td><td>",
							 d->event_id, d->attempts);
			appendStringInfoString(out, "<span class=\"t\">");
			ago(out, d->failed_at, now);
			appendStringInfoString(out, "</span>");
			appendStringInfoString(out, "</td><td class=\"err\">");
			html(out, d->error);
			appendStringInfoString(out, "</td></tr>\n");
			shown++;
		}
	}
	if (shown == 0)
		appendStringInfoString(out, "<tr><td colspan=\"7\" class=\"empty\">none</td></tr>\n");
	appendStringInfoString(out, "</table>\n");
}

static void
event_log_table(StringInfo out, MeshMetricsShared *m, TimestampTz now)
{
	appendStringInfoString(out, "<h2>Event log</h2>\n<table id=\"event-log\"><tr><th>database</th>"
						   "<th class=\"n\">size</th><th class=\"n\">events</th>"
						   "<th class=\"n\">WAL capture lag</th><th>figures refreshed</th></tr>\n");
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
	{
		MeshDatabaseMetrics *db = &m->dbs[i];

		if (!db->used)
			continue;
		appendStringInfoString(out, "<tr><td>");
		html(out, db->name);
		appendStringInfoString(out, "</td><td class=\"n\">");
		bytes(out, db->event_log_bytes);
		appendStringInfo(out, "</td><td class=\"n\">" INT64_FORMAT "</td><td class=\"n\">",
						 db->event_log_rows);
		if (db->wal_lag_bytes >= 0)
			bytes(out, db->wal_lag_bytes);
		else
			appendStringInfoString(out, "(triggers)");
		appendStringInfoString(out, "</td><td>");
		ago(out, db->routes_at, now);
		appendStringInfoString(out, "</td></tr>\n");
	}
	appendStringInfoString(out, "</table>\n");
}

/* Render the status page. */
void
mesh_render_status_page(StringInfo out, MeshMetricsShared *m, TimestampTz now)
{
	MeshRouteMetrics **routes = palloc(sizeof(MeshRouteMetrics *) * MESH_METRICS_MAX_ROUTES);
	MeshBackendMetrics **backends = palloc(sizeof(MeshBackendMetrics *) * MESH_METRICS_MAX_BACKENDS);
	int			nroutes = 0,
				nbackends = 0,
				up = 0,
				paused = 0;
	int64		pending = 0,
				dead = 0;
	double		rate = 0;
	bool		degraded = false;

	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
		if (m->routes[i].used)
		{
			MeshRouteMetrics *r = &m->routes[i];

			routes[nroutes++] = r;
			pending += Max(mesh_route_pending(r), 0);
			dead += r->dead;
			rate += mesh_route_rate(r, now);
			paused += r->paused;
			degraded |= r->last_error[0] != '\0';
		}
	for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
		if (m->backends[i].used)
		{
			backends[nbackends++] = &m->backends[i];
			up += m->backends[i].up;
			degraded |= !m->backends[i].up;
		}
	sort_m = m;
	qsort(routes, nroutes, sizeof(MeshRouteMetrics *), route_cmp);
	qsort(backends, nbackends, sizeof(MeshBackendMetrics *), backend_cmp);

	appendStringInfo(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
					 "<meta http-equiv=\"refresh\" content=\"%d\">"
					 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
					 "<title>mesh status</title><style>%s</style></head>\n<body>\n<h1>mesh ",
					 REFRESH_SECONDS, style);
	badge(out, degraded ? "bad" : "ok", degraded ? "degraded" : "ok");
	appendStringInfo(out, "</h1>\n<div class=\"sub\">mesh %s on PostgreSQL %s · ", MESH_VERSION, PG_VERSION);
	utc(out, now);
	appendStringInfo(out, " · refreshes every %d s · <a href=\"/metrics\">/metrics</a> · "
					 "<a href=\"/health\">/health</a></div>\n<div class=\"cards\">", REFRESH_SECONDS);
	appendStringInfo(out, "<div class=\"card\" id=\"backends-up\"><b>%d / %d</b><span>backends up</span></div>",
					 up, nbackends);
	appendStringInfo(out, "<div class=\"card\" id=\"route-count\"><b>%d</b><span>routes (%d paused)</span></div>",
					 nroutes, paused);
	card(out, "throughput", "events/s delivered (last minute)", "%.1f", rate);
	card(out, "pending", "events pending", "%.0f", (double) pending);
	card(out, "dead", "dead letters", "%.0f", (double) dead);
	appendStringInfoString(out, "</div>\n");

	backends_table(out, m, backends, nbackends, now);
	routes_table(out, m, routes, nroutes, now);
	dead_table(out, m, now);
	event_log_table(out, m, now);
	appendStringInfoString(out, "</body></html>\n");
}
