/*
 * prometheus_query.c: one request of the Prometheus HTTP query API
 * (/api/v1/query, /api/v1/query_range) and its answer, read sample by
 * sample.
 *
 * Contract: the request is a POST of form fields (no URL length limit; the
 * query text is URL-encoded, never spliced).  An answer with
 * {"status":"error"} (any HTTP status) is an error carrying the server's
 * own message; a non-JSON error answer carries its body; a 2xx answer that
 * is not the documented shape is a "malformed reply" error.  Nothing here
 * crashes on a hostile answer.
 */
#include "postgres.h"

#include <math.h>

#include "prometheus.h"

#include "commands/defrem.h"
#include "common/int.h"
#include "mb/pg_wchar.h"
#include "utils/float.h"

/* Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define UNIX_EPOCH_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

#define QUERY_WHAT "a PromQL query"

/* Seconds (us microseconds) as a decimal number: "15", "0.5", "-1.25". */
char *
prom_seconds_text(int64 us)
{
	uint64		mag = us < 0 ? -(uint64) us : (uint64) us;
	char		frac[8];
	int			n;

	if (mag % USECS_PER_SEC == 0)
		return psprintf("%s" UINT64_FORMAT, us < 0 ? "-" : "", mag / USECS_PER_SEC);
	snprintf(frac, sizeof(frac), "%06d", (int) (mag % USECS_PER_SEC));
	for (n = 6; frac[n - 1] == '0'; n--)
		;
	return psprintf("%s" UINT64_FORMAT ".%.*s", us < 0 ? "-" : "",
					mag / USECS_PER_SEC, n, frac);
}

/* A timestamp as Unix seconds, the form the query API accepts. */
char *
prom_time_text(TimestampTz ts)
{
	int64		unix_us;

	if (TIMESTAMP_NOT_FINITE(ts) || pg_add_s64_overflow(ts, UNIX_EPOCH_US, &unix_us))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for a PromQL query")));
	return prom_seconds_text(unix_us);
}

/* Append "&name=value" (both URL-encoded) to a form body. */
static void
append_field(StringInfo body, const char *name, const char *value)
{
	char	   *n = mesh_http_escape(name);
	char	   *v = mesh_http_escape(value);

	appendStringInfo(body, "%s%s=%s", body->len > 0 ? "&" : "", n, v);
	pfree(n);
	pfree(v);
}

static bool
has_extra(const PromQuery *q, const char *name)
{
	ListCell   *lc;

	foreach(lc, q->extra)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	return false;
}

/* The form fields of q, and the path they go to. */
static const char *
build_form(const PromQuery *q, StringInfo body, int timeout_ms)
{
	ListCell   *lc;

	append_field(body, "query", q->promql);
	if (q->range)
	{
		append_field(body, "start", prom_time_text(q->start));
		append_field(body, "end", prom_time_text(q->end));
		append_field(body, "step", prom_seconds_text(q->step_us));
	}
	else if (q->has_time)
		append_field(body, "time", prom_time_text(q->time));
	foreach(lc, q->extra)
	{
		DefElem    *d = lfirst(lc);

		append_field(body, d->defname, defGetString(d));
	}
	/* the server gives up a little before we do, and says so itself */
	if (timeout_ms > 0 && !has_extra(q, "timeout"))
		append_field(body, "timeout", psprintf("%dms", Max(timeout_ms * 9 / 10, 1)));
	return q->range ? "/api/v1/query_range" : "/api/v1/query";
}

/* The request as EXPLAIN shows it: the path and the form fields, unencoded. */
char *
prom_query_display(const PromQuery *q)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s query=%s", q->range ? "/api/v1/query_range" : "/api/v1/query",
					 q->promql);
	if (q->range)
		appendStringInfo(&buf, " start=%s end=%s step=%s", prom_time_text(q->start),
						 prom_time_text(q->end), prom_seconds_text(q->step_us));
	else if (q->has_time)
		appendStringInfo(&buf, " time=%s", prom_time_text(q->time));
	return buf.data;
}

/* Ereport an error answer ({"status":"error","errorType":..,"error":..}). */
static void
raise_query_error(PromConn *conn, long status, json_t *root)
{
	json_t	   *type = json_object_get(root, "errorType");
	json_t	   *msg = json_object_get(root, "error");
	const char *type_text = json_is_string(type) ? json_string_value(type) : "";
	bool		named_type = type_text[0] != '\0' && strspn(type_text, "0123456789") == 0;
	int			code = ERRCODE_FDW_ERROR;

	if (status == 429 || status >= 500 || strcmp(type_text, "timeout") == 0 ||
		strcmp(type_text, "unavailable") == 0)
		code = ERRCODE_CONNECTION_FAILURE;
	else if (status == 401 || status == 403)
		code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	ereport(ERROR,
			(errcode(code),
			 named_type ?
			 errmsg("%s server \"%s\" rejected the query (%s)", conn->setup->kind_label,
					mesh_http_server(conn->http), type_text) :
			 errmsg("%s server \"%s\" rejected the query", conn->setup->kind_label,
					mesh_http_server(conn->http)),
			 errdetail("%s", json_is_string(msg) ? json_string_value(msg) :
					   "The answer gave no error message.")));
}

/* Ereport the server's warnings (Thanos partial responses, ...) as WARNINGs. */
static void
report_warnings(PromConn *conn, json_t *root)
{
	json_t	   *warnings = json_object_get(root, "warnings");
	size_t		i;
	json_t	   *w;

	if (!json_is_array(warnings))
		return;
	json_array_foreach(warnings, i, w)
		if (json_is_string(w))
		ereport(WARNING,
				(errmsg("%s server \"%s\" warns: %s", conn->setup->kind_label,
						mesh_http_server(conn->http), json_string_value(w))));
}

/*
 * Send q and parse the answer into result (allocated in the current memory
 * context, which must live as long as result is read).
 */
void
prom_run(PromConn *conn, const PromQuery *q, PromResult *result)
{
	const char *server = mesh_http_server(conn->http);
	MeshHttpRequest req;
	MeshHttpResponse resp;
	StringInfoData body;
	json_t	   *root;
	json_t	   *data;
	const char *status;
	const char *type;

	initStringInfo(&body);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = build_form(q, &body, mesh_http_timeout(conn->http));
	req.body = body.data;
	req.body_len = body.len;
	req.content_type = "application/x-www-form-urlencoded";
	req.what = QUERY_WHAT;
	req.accept_error = true;
	mesh_http_request(conn->http, &req, &resp);
	if (resp.status < 200 || resp.status >= 300)
	{
		/* an API error carries JSON; anything else (a proxy's page) its body */
		root = json_loadb(resp.body.data, resp.body.len, 0, NULL);
		if (json_is_object(root) && json_is_string(json_object_get(root, "status")))
			raise_query_error(conn, resp.status, root);
		mesh_http_raise(conn->http, QUERY_WHAT, resp.status, resp.body.data);
	}
	root = mesh_json_parse(resp.body.data, resp.body.len, server, QUERY_WHAT);
	pfree(resp.body.data);
	status = json_string_value(mesh_json_get(root, "status", JSON_STRING, server, QUERY_WHAT));
	if (strcmp(status, "success") != 0)
		raise_query_error(conn, resp.status, root);
	report_warnings(conn, root);
	data = mesh_json_get(root, "data", JSON_OBJECT, server, QUERY_WHAT);
	type = json_string_value(mesh_json_get(data, "resultType", JSON_STRING, server, QUERY_WHAT));

	memset(result, 0, sizeof(*result));
	result->server = server;
	result->result = mesh_json_get(data, "result", JSON_ARRAY, server, QUERY_WHAT);
	if (strcmp(type, "vector") == 0)
		result->type = PROM_VECTOR;
	else if (strcmp(type, "matrix") == 0)
		result->type = PROM_MATRIX;
	else if (strcmp(type, "scalar") == 0)
		result->type = PROM_SCALAR;
	else if (strcmp(type, "string") == 0)
		result->type = PROM_STRING;
	else
		mesh_json_malformed(server, QUERY_WHAT,
							psprintf("Unknown resultType \"%s\".", type));
}

/* A [timestamp, "value"] pair into sample; anything else is malformed. */
static void
read_pair(PromResult *r, json_t *pair, PromSample *s)
{
	json_t	   *t = json_array_get(pair, 0);
	json_t	   *v = json_array_get(pair, 1);
	double		secs;
	double		ms;

	if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_number(t) ||
		!json_is_string(v))
		mesh_json_malformed(r->server, QUERY_WHAT,
							"A sample is not a [timestamp, \"value\"] pair.");
	secs = json_number_value(t);
	ms = rint(secs * 1000.0);
	/* Prometheus timestamps are milliseconds; keep within timestamptz's range */
	if (!isfinite(ms) || fabs(ms) > 9.0e15)
		mesh_json_malformed(r->server, QUERY_WHAT,
							psprintf("Sample timestamp %g is out of range.", secs));
	s->ts = (TimestampTz) ms * 1000 - UNIX_EPOCH_US;
	if (!IS_VALID_TIMESTAMP(s->ts))
		mesh_json_malformed(r->server, QUERY_WHAT,
							psprintf("Sample timestamp %g is out of range.", secs));
	s->value = json_string_value(v);
}

/* The label object of a series; every label value must be a string. */
static json_t *
series_labels(PromResult *r, json_t *series)
{
	json_t	   *labels = json_object_get(series, "metric");
	const char *key;
	json_t	   *v;

	if (!json_is_object(series))
		mesh_json_malformed(r->server, QUERY_WHAT, "A series is not an object.");
	if (labels == NULL)
		return NULL;
	if (!json_is_object(labels))
		mesh_json_malformed(r->server, QUERY_WHAT, "A series' \"metric\" is not an object.");
	json_object_foreach(labels, key, v)
		if (!json_is_string(v))
		mesh_json_malformed(r->server, QUERY_WHAT,
							psprintf("Label \"%s\" has a value that is not a string.", key));
	return labels;
}

static void
no_histograms(PromResult *r, json_t *series, const char *member)
{
	if (json_object_get(series, member) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("server \"%s\" answered with native histogram samples", r->server),
				 errhint("Query a float series of the histogram, e.g. histogram_count(...) or histogram_sum(...).")));
}

/* The next sample of the answer; false at the end. */
bool
prom_result_next(PromResult *r, PromSample *s)
{
	json_t	   *series;
	json_t	   *values;

	if (r->done)
		return false;
	switch (r->type)
	{
		case PROM_SCALAR:
		case PROM_STRING:
			r->done = true;
			s->labels = NULL;
			s->new_series = true;
			read_pair(r, r->result, s);
			return true;
		case PROM_VECTOR:
			if (r->series >= json_array_size(r->result))
				break;
			series = json_array_get(r->result, r->series++);
			s->labels = series_labels(r, series);
			s->new_series = true;
			if (json_object_get(series, "value") == NULL)
				no_histograms(r, series, "histogram");
			read_pair(r, json_object_get(series, "value"), s);
			return true;
		case PROM_MATRIX:
			while (r->series < json_array_size(r->result))
			{
				series = json_array_get(r->result, r->series);
				s->labels = series_labels(r, series);
				values = json_object_get(series, "values");
				if (values == NULL)
					no_histograms(r, series, "histograms");
				if (!json_is_array(values))
					mesh_json_malformed(r->server, QUERY_WHAT,
										"A series lacks a valid \"values\" member.");
				if (r->sample < json_array_size(values))
				{
					s->new_series = r->sample == 0;
					read_pair(r, json_array_get(values, r->sample++), s);
					return true;
				}
				r->series++;
				r->sample = 0;
			}
			break;
	}
	r->done = true;
	return false;
}

/* A sample value as float8: "NaN", "+Inf", "-Inf" or a decimal number. */
double
prom_value_float8(const char *value, const char *server)
{
	char	   *end;
	double		d;

	if (strcmp(value, "NaN") == 0)
		return get_float8_nan();
	if (strcmp(value, "+Inf") == 0 || strcmp(value, "Inf") == 0)
		return get_float8_infinity();
	if (strcmp(value, "-Inf") == 0)
		return -get_float8_infinity();
	errno = 0;
	d = strtod(value, &end);
	if (end == value || *end != '\0' || isspace((unsigned char) value[0]))
		mesh_json_malformed(server, QUERY_WHAT,
							psprintf("Sample value \"%s\" is not a number.", value));
	return d;
}

/* A sample value in the spelling PostgreSQL's numeric types accept. */
const char *
prom_value_sql_text(const char *value)
{
	if (strcmp(value, "+Inf") == 0 || strcmp(value, "Inf") == 0)
		return "Infinity";
	if (strcmp(value, "-Inf") == 0)
		return "-Infinity";
	return value;
}

static void
push_text(JsonbParseState **state, JsonbIteratorToken tok, const char *s, size_t len,
		  const char *server)
{
	JsonbValue	v;

	if (memchr(s, '\0', len) != NULL)
		mesh_json_malformed(server, QUERY_WHAT, "A label holds a zero byte.");
	v.type = jbvString;
	v.val.string.val = pg_any_to_server(s, len, PG_UTF8);
	v.val.string.len = strlen(v.val.string.val);
	pushJsonbValue(state, tok, &v);
}

/* A label object ({"job": "x", ...}; NULL: none) as jsonb. */
Jsonb *
prom_labels_jsonb(json_t *labels, const char *server)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	const char *key;
	json_t	   *v;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	json_object_foreach(labels, key, v)
	{
		if (!json_is_string(v))
			mesh_json_malformed(server, QUERY_WHAT,
								psprintf("Label \"%s\" has a value that is not a string.", key));
		push_text(&state, WJB_KEY, key, strlen(key), server);
		push_text(&state, WJB_VALUE, json_string_value(v), json_string_length(v), server);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * Parse a step: a Prometheus duration ("15s", "1m30s", "500ms"; units ms,
 * s, m, h, d, w, y) or a number of seconds ("15", "0.5").  Returns false
 * when text is neither or not positive.
 */
bool
prom_parse_step(const char *text, int64 *us)
{
	static const struct
	{
		const char *unit;
		int64		us;
	}			units[] = {
		{"ms", 1000}, {"s", USECS_PER_SEC}, {"m", USECS_PER_MINUTE},
		{"h", USECS_PER_HOUR}, {"d", USECS_PER_DAY}, {"w", 7 * USECS_PER_DAY},
		{"y", 365 * USECS_PER_DAY}
	};
	const char *p = text;
	int64		total = 0;
	char	   *end;
	double		secs;

	/* a plain number of seconds */
	errno = 0;
	secs = strtod(text, &end);
	if (end != text && *end == '\0' && isdigit((unsigned char) text[0]))
	{
		if (errno != 0 || !(secs > 0) || secs > 1e9)
			return false;
		*us = (int64) rint(secs * USECS_PER_SEC);
		return *us > 0;
	}
	while (*p)
	{
		int64		n = 0;
		int			u;

		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
		{
			n = n * 10 + (*p++ - '0');
			if (n > 1000000000)
				return false;
		}
		/* "ms" is tried before "m" */
		for (u = 0; u < lengthof(units); u++)
			if (strncmp(p, units[u].unit, strlen(units[u].unit)) == 0)
				break;
		if (u == lengthof(units))
			return false;
		p += strlen(units[u].unit);
		total += n * units[u].us;
		if (total > (int64) 1000000000 * USECS_PER_SEC)
			return false;
	}
	*us = total;
	return total > 0;
}
