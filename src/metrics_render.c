/*
 * metrics_render.c: /metrics (Prometheus text exposition format 0.0.4) and
 * /health (JSON), rendered from a snapshot of the shared area.
 *
 * Metric names and labels are a public interface (documented in the
 * README): change them only with a version bump.  Label values are
 * escaped as the format requires (backslash, double quote, newline) and
 * any invalid UTF-8 is replaced, so a hostile table or server name can
 * neither break a line nor forge a series.  No value or label holds a
 * secret: only names, counters, times and connector error messages (which
 * never contain one).
 */
#include "postgres.h"

#include <math.h>

#include "json_value.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"

#include "metrics.h"

#define RATE_WINDOW_MS 60000

/* s as valid UTF-8: s itself, or a copy with each invalid byte as U+FFFD. */
const char *
mesh_utf8_clean(const char *s)
{
	StringInfoData buf;
	const unsigned char *p = (const unsigned char *) s;
	size_t		len = strlen(s);
	size_t		i = 0;

	if (pg_encoding_verifymbstr(PG_UTF8, s, len) == (int) len)
		return s;
	initStringInfo(&buf);
	while (i < len)
	{
		int			l = pg_utf_mblen(p + i);

		if (i + l <= len && pg_utf8_islegal(p + i, l))
		{
			appendBinaryStringInfo(&buf, (const char *) p + i, l);
			i += l;
		}
		else
		{
			appendStringInfoString(&buf, "\xEF\xBF\xBD");
			i++;
		}
	}
	return buf.data;
}

/*
 * Undelivered events: the last measurement less what was delivered since
 * (-1 before the first measurement).
 */
int64
mesh_route_pending(MeshRouteMetrics *r)
{
	if (r->pending < 0)
		return -1;
	return Max(0, r->pending - Max(0, r->delivered - r->pending_delivered));
}

/*
 * Age of the oldest event undelivered at the last measurement, in seconds;
 * 0 when caught up.
 */
double
mesh_route_lag_seconds(MeshRouteMetrics *r, TimestampTz now)
{
	if (mesh_route_pending(r) <= 0 || r->oldest_pending == 0 || now <= r->oldest_pending)
		return 0;
	return (now - r->oldest_pending) / 1000000.0;
}

/*
 * Delivered events per second over the last minute: from the oldest sample
 * of that minute to the current count (0 until a second has passed).
 */
double
mesh_route_rate(MeshRouteMetrics *r, TimestampTz now)
{
	for (int i = 0; i < r->nsamples; i++)
	{
		double		secs;

		if (TimestampDifferenceExceeds(r->sample_at[i], now, RATE_WINDOW_MS))
			continue;
		secs = (r->updated_at - r->sample_at[i]) / 1000000.0;
		return secs < 1 ? 0 : (r->delivered - r->sample_delivered[i]) / secs;
	}
	return 0;
}

/* The name of a database in the snapshot ("" if unknown). */
const char *
mesh_database_name(MeshMetricsShared *m, Oid dboid)
{
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
		if (m->dbs[i].used && m->dbs[i].dboid == dboid)
			return m->dbs[i].name;
	return "";
}

/* ---------------------------------------------------------------- /metrics */

static void
label(StringInfo out, const char *name, const char *value, bool first)
{
	const char *v = mesh_utf8_clean(value);

	appendStringInfo(out, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++)
	{
		if (*v == '\\')
			appendStringInfoString(out, "\\\\");
		else if (*v == '"')
			appendStringInfoString(out, "\\\"");
		else if (*v == '\n')
			appendStringInfoString(out, "\\n");
		else
			appendStringInfoChar(out, *v);
	}
	appendStringInfoChar(out, '"');
}

static void
family(StringInfo out, const char *name, const char *type, const char *help)
{
	appendStringInfo(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
value(StringInfo out, const char *name, const char *labels, double v)
{
	if (v != rint(v))
		appendStringInfo(out, "%s{%s} %.9g\n", name, labels, v);
	else if (fabs(v) < 9e15)	/* every integer below 2^53 prints exactly */
		appendStringInfo(out, "%s{%s} %.0f\n", name, labels, v);
	else
		appendStringInfo(out, "%s{%s} %.17g\n", name, labels, v);
}

static char *
route_labels(MeshMetricsShared *m, MeshRouteMetrics *r)
{
	StringInfoData l;
	char		id[32];

	initStringInfo(&l);
	snprintf(id, sizeof(id), INT64_FORMAT, r->route_id);
	label(&l, "database", mesh_database_name(m, r->dboid), true);
	label(&l, "route_id", id, false);
	label(&l, "source", r->source, false);
	label(&l, "target", r->target, false);
	label(&l, "kind", r->kind, false);
	label(&l, "role", r->role, false);
	return l.data;
}

static char *
backend_labels(MeshMetricsShared *m, MeshBackendMetrics *b)
{
	StringInfoData l;

	initStringInfo(&l);
	label(&l, "database", mesh_database_name(m, b->dboid), true);
	label(&l, "server", b->server, false);
	label(&l, "kind", b->kind, false);
	return l.data;
}

static char *
database_labels(MeshDatabaseMetrics *db)
{
	StringInfoData l;

	initStringInfo(&l);
	label(&l, "database", db->name, true);
	return l.data;
}

typedef enum RouteFigure
{
	FIG_DELIVERED, FIG_FAILED, FIG_DEAD, FIG_PENDING, FIG_LAG, FIG_PAUSED
} RouteFigure;

static const struct
{
	const char *name;
	const char *type;
	const char *help;
}			route_families[] =
{
	{"mesh_route_delivered_events_total", "counter", "Events the route delivered to its target (acknowledged)."},
	{"mesh_route_failed_attempts_total", "counter", "Delivery attempts that failed and were retried (transient errors)."},
	{"mesh_route_dead_letters", "gauge", "Events of the route in the dead letters (mesh.dead_letter)."},
	{"mesh_route_pending_events", "gauge", "Committed events the route has not delivered yet."},
	{"mesh_route_lag_seconds", "gauge", "Age of the oldest undelivered event; 0 when caught up."},
	{"mesh_route_paused", "gauge", "1 while the route is paused (mesh.pause), else 0."},
};

/* Render /metrics. */
void
mesh_render_metrics(StringInfo out, MeshMetricsShared *m, TimestampTz now)
{
	char	  **labels = palloc0(sizeof(char *) * MESH_METRICS_MAX_ROUTES);

	family(out, "mesh_info", "gauge", "The mesh extension serving these metrics.");
	appendStringInfo(out, "mesh_info{version=\"%s\",postgres=\"%s\"} 1\n", MESH_VERSION, PG_VERSION);

	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
		if (m->routes[i].used)
			labels[i] = route_labels(m, &m->routes[i]);
	for (int f = 0; f < lengthof(route_families); f++)
	{
		family(out, route_families[f].name, route_families[f].type, route_families[f].help);
		for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
		{
			MeshRouteMetrics *r = &m->routes[i];
			double		v = 0;

			if (!r->used)
				continue;
			switch ((RouteFigure) f)
			{
				case FIG_DELIVERED:
					v = r->delivered;
					break;
				case FIG_FAILED:
					v = r->failed;
					break;
				case FIG_DEAD:
					v = r->dead;
					break;
				case FIG_PENDING:
					if (r->pending < 0)
						continue;	/* not measured yet */
					v = mesh_route_pending(r);
					break;
				case FIG_LAG:
					if (r->pending < 0)
						continue;
					v = mesh_route_lag_seconds(r, now);
					break;
				case FIG_PAUSED:
					v = r->paused ? 1 : 0;
					break;
			}
			value(out, route_families[f].name, labels[i], v);
		}
	}

	family(out, "mesh_route_state", "gauge",
		   "1 for the route's state (label state, as mesh.stats shows it: delivering, idle, backfilling, backing off, paused, waiting for a worker).");
	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
		if (m->routes[i].used && m->routes[i].state[0] != '\0')
		{
			StringInfoData l;

			initStringInfo(&l);
			appendStringInfoString(&l, labels[i]);
			label(&l, "state", m->routes[i].state, false);
			value(out, "mesh_route_state", l.data, 1);
		}

	family(out, "mesh_backend_up", "gauge", "1 if the backend answered its last health check, else 0.");
	for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
		if (m->backends[i].used)
			value(out, "mesh_backend_up", backend_labels(m, &m->backends[i]), m->backends[i].up ? 1 : 0);
	family(out, "mesh_backend_ping_latency_seconds", "gauge",
		   "Duration of the last health check (until the answer, the error or the timeout).");
	for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
		if (m->backends[i].used)
			value(out, "mesh_backend_ping_latency_seconds", backend_labels(m, &m->backends[i]),
				  m->backends[i].latency_ms / 1000.0);
	family(out, "mesh_backend_last_check_timestamp_seconds", "gauge",
		   "Unix time of the backend's last health check.");
	for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
		if (m->backends[i].used)
			value(out, "mesh_backend_last_check_timestamp_seconds", backend_labels(m, &m->backends[i]),
				  (double) timestamptz_to_time_t(m->backends[i].checked_at));

	family(out, "mesh_event_log_bytes", "gauge", "On-disk size of the database's event log (all generations, with indexes).");
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
		if (m->dbs[i].used && m->dbs[i].slow_at != 0)
			value(out, "mesh_event_log_bytes", database_labels(&m->dbs[i]), m->dbs[i].event_log_bytes);
	family(out, "mesh_event_log_rows", "gauge", "Events in the database's event log, delivered ones kept for replay included (the planner's estimate, as mesh.event_log_status; read at most every 30 s).");
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
		if (m->dbs[i].used && m->dbs[i].slow_at != 0)
			value(out, "mesh_event_log_rows", database_labels(&m->dbs[i]), m->dbs[i].event_log_rows);
	family(out, "mesh_wal_capture_lag_bytes", "gauge",
		   "WAL written since what the database's WAL capture confirmed: changes not yet in its event log (databases that capture from WAL).");
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
		if (m->dbs[i].used && m->dbs[i].slow_at != 0 && m->dbs[i].wal_lag_bytes >= 0)
			value(out, "mesh_wal_capture_lag_bytes", database_labels(&m->dbs[i]), m->dbs[i].wal_lag_bytes);
	family(out, "mesh_wal_capture_retained_bytes", "gauge",
		   "WAL kept on disk for the database's WAL capture slot.");
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
		if (m->dbs[i].used && m->dbs[i].slow_at != 0 && m->dbs[i].wal_lag_bytes >= 0)
			value(out, "mesh_wal_capture_retained_bytes", database_labels(&m->dbs[i]),
				  m->dbs[i].wal_retained_bytes);
	family(out, "mesh_stats_refreshed_timestamp_seconds", "gauge",
		   "Unix time the database worker last published its routes' figures.");
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
		if (m->dbs[i].used && m->dbs[i].routes_at != 0)
			value(out, "mesh_stats_refreshed_timestamp_seconds", database_labels(&m->dbs[i]),
				  (double) timestamptz_to_time_t(m->dbs[i].routes_at));
}

/* ---------------------------------------------------------------- /health */

static void
json_str(StringInfo out, const char *s)
{
	if (s == NULL || s[0] == '\0')
	{
		appendStringInfoString(out, "null");
		return;
	}
	s = mesh_utf8_clean(s);
	mesh_json_append_string(out, s, strlen(s));
}

/* A time as an ISO 8601 UTC JSON string, or null for 0. */
static void
json_time(StringInfo out, TimestampTz ts)
{
	pg_time_t	t;
	struct pg_tm *tm;

	if (ts == 0)
	{
		appendStringInfoString(out, "null");
		return;
	}
	t = (pg_time_t) timestamptz_to_time_t(ts);
	tm = pg_gmtime(&t);
	appendStringInfo(out, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
					 tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
					 tm->tm_hour, tm->tm_min, tm->tm_sec,
					 (int) ((ts % 1000000 + 1000000) % 1000000 / 1000));
}

static void
json_key(StringInfo out, const char *key, bool first)
{
	appendStringInfo(out, "%s\"%s\": ", first ? "" : ", ", key);
}

/* Render /health. */
void
mesh_render_health(StringInfo out, MeshMetricsShared *m, TimestampTz now)
{
	bool		degraded = false;
	bool		first;

	for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
		if (m->backends[i].used && !m->backends[i].up)
			degraded = true;
	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
		if (m->routes[i].used && m->routes[i].last_error[0] != '\0')
			degraded = true;

	appendStringInfo(out, "{\"status\": \"%s\", \"version\": \"%s\", \"generated_at\": ",
					 degraded ? "degraded" : "ok", MESH_VERSION);
	json_time(out, now);

	appendStringInfoString(out, ",\n \"databases\": [");
	first = true;
	for (int i = 0; i < MESH_METRICS_MAX_DATABASES; i++)
	{
		MeshDatabaseMetrics *db = &m->dbs[i];

		if (!db->used)
			continue;
		appendStringInfoString(out, first ? "\n  {" : ",\n  {");
		first = false;
		json_key(out, "name", true);
		json_str(out, db->name);
		json_key(out, "routes_refreshed_at", false);
		json_time(out, db->routes_at);
		json_key(out, "health_checked_at", false);
		json_time(out, db->health_at);
		json_key(out, "event_log_bytes", false);
		appendStringInfo(out, INT64_FORMAT, db->event_log_bytes);
		json_key(out, "event_log_rows", false);
		appendStringInfo(out, INT64_FORMAT, db->event_log_rows);
		json_key(out, "wal_capture_lag_bytes", false);
		if (db->wal_lag_bytes >= 0)
			appendStringInfo(out, INT64_FORMAT "}", db->wal_lag_bytes);
		else
			appendStringInfoString(out, "null}");
	}

	appendStringInfoString(out, "],\n \"backends\": [");
	first = true;
	for (int i = 0; i < MESH_METRICS_MAX_BACKENDS; i++)
	{
		MeshBackendMetrics *b = &m->backends[i];

		if (!b->used)
			continue;
		appendStringInfoString(out, first ? "\n  {" : ",\n  {");
		first = false;
		json_key(out, "database", true);
		json_str(out, mesh_database_name(m, b->dboid));
		json_key(out, "server", false);
		json_str(out, b->server);
		json_key(out, "kind", false);
		json_str(out, b->kind);
		json_key(out, "up", false);
		appendStringInfoString(out, b->up ? "true" : "false");
		json_key(out, "latency_ms", false);
		appendStringInfo(out, "%.3f", b->latency_ms);
		json_key(out, "version", false);
		json_str(out, b->version);
		json_key(out, "error", false);
		json_str(out, b->error);
		json_key(out, "checked_at", false);
		json_time(out, b->checked_at);
		appendStringInfoChar(out, '}');
	}

	appendStringInfoString(out, "],\n \"routes\": [");
	first = true;
	for (int i = 0; i < MESH_METRICS_MAX_ROUTES; i++)
	{
		MeshRouteMetrics *r = &m->routes[i];

		if (!r->used)
			continue;
		appendStringInfoString(out, first ? "\n  {" : ",\n  {");
		first = false;
		json_key(out, "database", true);
		json_str(out, mesh_database_name(m, r->dboid));
		json_key(out, "route_id", false);
		appendStringInfo(out, INT64_FORMAT, r->route_id);
		json_key(out, "source", false);
		json_str(out, r->source);
		json_key(out, "target", false);
		json_str(out, r->target);
		json_key(out, "kind", false);
		json_str(out, r->kind);
		json_key(out, "role", false);
		json_str(out, r->role);
		json_key(out, "paused", false);
		appendStringInfoString(out, r->paused ? "true" : "false");
		json_key(out, "backfilled", false);
		appendStringInfoString(out, r->backfilled ? "true" : "false");
		json_key(out, "delivered", false);
		appendStringInfo(out, INT64_FORMAT, r->delivered);
		json_key(out, "failed", false);
		appendStringInfo(out, INT64_FORMAT, r->failed);
		json_key(out, "dead", false);
		appendStringInfo(out, INT64_FORMAT, r->dead);
		json_key(out, "pending", false);
		if (r->pending < 0)
			appendStringInfoString(out, "null");
		else
			appendStringInfo(out, INT64_FORMAT, mesh_route_pending(r));
		json_key(out, "lag_seconds", false);
		appendStringInfo(out, "%.3f", mesh_route_lag_seconds(r, now));
		json_key(out, "events_per_second", false);
		appendStringInfo(out, "%.3f", mesh_route_rate(r, now));
		json_key(out, "pending_measured_at", false);
		json_time(out, r->pending_at);
		json_key(out, "last_delivered_at", false);
		json_time(out, r->last_delivered_at);
		json_key(out, "last_error", false);
		json_str(out, r->last_error);
		json_key(out, "state", false);
		json_str(out, r->state);
		appendStringInfoChar(out, '}');
	}
	appendStringInfoString(out, "]}\n");
}
