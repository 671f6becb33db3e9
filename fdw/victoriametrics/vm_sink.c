/*
 * vm_sink.c: writes to VictoriaMetrics: INSERT through a metric table and
 * the replication sink, both line protocol on /write (src/line_protocol.c),
 * and verify through /api/v1/export.
 *
 * VictoriaMetrics turns a line "m,tag=v f=1.5 <ms>" into the sample
 * m_f{tag="v"} = 1.5 at that millisecond: one series per field, labels
 * from the tags.  Samples are float64 at millisecond precision, so:
 * fields must be numbers or booleans (stored as 1/0; a string would be
 * stored as 0: refused), integers must lie within +-2^53, times must be
 * whole milliseconds.  It answers 204 even to lines it drops, so every line
 * is validated before it is sent.  Written samples become readable after a
 * second or so.
 *
 * Samples cannot be overwritten or deleted one by one: a second write at
 * the same time adds a duplicate, and only whole series can be deleted
 * (/api/v1/admin/tsdb/delete_series).  Hence the sink's rules (README.md):
 * when the time is not part of the primary key, a row is a series of its
 * own and updates and deletes are exact (delete the series, write again);
 * when it is, inserts are exact, an update adds a sample at the same time
 * and a delete is ignored.
 */
#include "postgres.h"

#include "../prometheus/prometheus.h"

#include "catalog/pg_type.h"
#include "utils/memutils.h"

#include "line_protocol.h"
#include "route_keys.h"
#include "vm_sink.h"

#define VM_MAX_EXACT_INT INT64CONST(9007199254740992)	/* 2^53 */
#define VM_INSERT_BATCH 5000

/* A route's layout: line protocol's, plus the metric names of its fields. */
typedef struct VmRoute
{
	MeshLpRoute *lr;
	char	  **metric;			/* per field (lr->field_index order) */
	char	   *name_matcher;	/* __name__=~"^(?:m_a|m_b)$" */
	bool		time_key;		/* the time is part of the primary key */
} VmRoute;

/* POST body (form-encoded or lines) to path; an error answer ereports. */
static void
vm_post(void *conn, const char *path, StringInfo body, const char *type, const char *what)
{
	MeshHttpRequest req = {0};
	MeshHttpResponse resp;

	req.method = "POST";
	req.path = path;
	req.body = body->data;
	req.body_len = body->len;
	req.content_type = type;
	req.what = what;
	mesh_http_request(mesh_http_conn_client(conn), &req, &resp);
}

static void
route_error(MeshRoute *route, const char *column, const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("column \"%s\" of table \"%s\" %s", column, route->source_name, msg),
			 errhint("%s", hint)));
}

/* The route's layout (cached in route->private); errors name a misfit column. */
static VmRoute *
vm_route(MeshRoute *route)
{
	VmRoute    *vr = route->private;
	MemoryContext old;
	StringInfoData re;
	StringInfoData m;

	if (vr)
		return vr;
	old = MemoryContextSwitchTo(route->cxt);
	vr = palloc0(sizeof(VmRoute));
	vr->lr = mesh_lp_route(route, MESH_LP_MS);
	vr->metric = palloc(sizeof(char *) * Max(vr->lr->nfields, 1));
	initStringInfo(&re);
	appendStringInfoString(&re, "^(?:");
	for (int f = 0; f < vr->lr->nfields; f++)
	{
		int			c = vr->lr->field_index[f];

		if (vr->lr->field_types[f] == MESH_LP_STRING)
			route_error(route, route->columns[c],
						psprintf("of type %s cannot be a VictoriaMetrics field", route->type_names[c]),
						"Samples are numbers: use numeric or boolean columns as fields, or add the column to the route option tags.");
		vr->metric[f] = psprintf("%s_%s", vr->lr->measurement, route->columns[c]);
		if (f > 0)
			appendStringInfoChar(&re, '|');
		prom_append_regex_quoted(&re, vr->metric[f], strlen(vr->metric[f]));
	}
	appendStringInfoString(&re, ")$");
	initStringInfo(&m);
	appendStringInfoString(&m, "__name__=~");
	prom_append_string(&m, re.data, re.len);
	vr->name_matcher = m.data;
	for (int t = 0; t < vr->lr->ntags; t++)
		if (!prom_is_label_name(route->columns[vr->lr->tag_index[t]]))
			route_error(route, route->columns[vr->lr->tag_index[t]],
						"is not a valid label name for a tag",
						"Label names match [a-zA-Z_][a-zA-Z0-9_]*, so that PromQL can select them.");
	vr->time_key = false;
	for (int k = 0; k < route->nkeys; k++)
		if (route->key_index[k] == vr->lr->time_index)
			vr->time_key = true;
	MemoryContextSwitchTo(old);
	route->private = vr;
	return vr;
}

static void
vm_prepare(void *conn, MeshRoute *route)
{
	(void) vm_route(route);
}

/* Integers must survive float64: within +-2^53. */
static void
check_integers(VmRoute *vr, MeshRoute *route, char **values)
{
	for (int f = 0; f < vr->lr->nfields; f++)
	{
		int			c = vr->lr->field_index[f];
		int64		v;

		if (vr->lr->field_types[f] != MESH_LP_INTEGER || values[c] == NULL)
			continue;
		v = pg_strtoint64(values[c]);
		if (v > VM_MAX_EXACT_INT || v < -VM_MAX_EXACT_INT)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value %s of column \"%s\" cannot be a VictoriaMetrics sample exactly",
							values[c], route->columns[c]),
					 errdetail("Samples are float64: integers beyond 2^53 lose digits.")));
	}
}

/* A matcher list selecting a row's series: the name matcher and the key's tags. */
static char *
series_selector(VmRoute *vr, MeshRoute *route, char **values)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{%s", vr->name_matcher);
	for (int t = 0; t < vr->lr->ntags; t++)
	{
		int			c = vr->lr->tag_index[t];
		bool		key = false;

		for (int k = 0; k < route->nkeys; k++)
			key |= route->key_index[k] == c;
		if (!key)
			continue;
		appendStringInfo(&buf, ",%s=", route->columns[c]);
		prom_append_string(&buf, values[c] ? values[c] : "", values[c] ? strlen(values[c]) : 0);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

static void
append_form(StringInfo form, const char *name, const char *value)
{
	char	   *e = mesh_http_escape(value);

	appendStringInfo(form, "%s%s=%s", form->len ? "&" : "", name, e);
	pfree(e);
}

static void
delete_series(void *conn, StringInfo form)
{
	if (form->len > 0)
		vm_post(conn, "/api/v1/admin/tsdb/delete_series", form,
				"application/x-www-form-urlencoded", "a replicated delete");
}

/*
 * Sink upsert: the series to replace are deleted, then one /write of the
 * lines.  Each POST is taken or refused whole: the call is one item (the
 * engine splits a refused one, e.g. an integer beyond 2^53).
 */
static void
vm_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	VmRoute    *vr = vm_route(route);
	StringInfoData lines;
	StringInfoData deletes;

	initStringInfo(&lines);
	initStringInfo(&deletes);
	for (int i = 0; i < n; i++)
	{
		check_integers(vr, route, rows[i].values);
		mesh_lp_route_line(&lines, vr->lr, route, rows[i].values);
		/* a row that is its own series is replaced whole; else samples stay */
		if (!vr->time_key && (rows[i].op != 'I' || !rows[i].first))
			append_form(&deletes, "match[]", series_selector(vr, route, rows[i].values));
	}
	delete_series(conn, &deletes);
	if (lines.len > 0)
		vm_post(conn, "/write?precision=ms", &lines, "text/plain", "a write");
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink remove: one delete_series of the rows' series. */
static void
vm_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	VmRoute    *vr = vm_route(route);
	StringInfoData deletes;

	initStringInfo(&deletes);
	if (!vr->time_key)
		for (int i = 0; i < n; i++)
			append_form(&deletes, "match[]", series_selector(vr, route, keys[i].values));
	delete_series(conn, &deletes);
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink truncate: every series of the measurement. */
static void
vm_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	VmRoute    *vr = vm_route(route);
	StringInfoData form;

	initStringInfo(&form);
	append_form(&form, "match[]", psprintf("{%s}", vr->name_matcher));
	delete_series(conn, &form);
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps vm_sink_ops = {
	.max_batch = 5000,
	.prepare = vm_prepare,
	.upsert = vm_upsert,
	.remove = vm_remove,
	.truncate = vm_truncate,
};

/* ---- verify ---- */

/* Milliseconds since the Unix epoch as the time column's text form. */
static char *
time_text(VmRoute *vr, int64 ms)
{
	int64		us = mesh_lp_ns_to_pg(ms * 1000000);

	return DatumGetCString(DirectFunctionCall1(vr->lr->time_with_tz ? timestamptz_out : timestamp_out,
											   Int64GetDatum(us)));
}

/* The key string of a row with its time as the target holds it, in milliseconds. */
static char *
lookup_key(VmRoute *vr, MeshRoute *route, char **values)
{
	char	  **norm = palloc(sizeof(char *) * Max(route->ncolumns, 1));
	int			ti = vr->lr->time_index;

	memcpy(norm, values, sizeof(char *) * route->ncolumns);
	if (values[ti])
		norm[ti] = psprintf(INT64_FORMAT, mesh_lp_route_time_in(vr->lr, route, values[ti],
																MESH_LP_MS));
	for (int t = 0; t < vr->lr->ntags; t++)
		if (norm[vr->lr->tag_index[t]] && norm[vr->lr->tag_index[t]][0] == '\0')
			norm[vr->lr->tag_index[t]] = NULL;	/* an empty tag is absent */
	return mesh_route_key_string(route, norm);
}

/* An export answer, read series by series. */
typedef struct VmExport
{
	MeshHttpStream stream;
	const char *server;
	MemoryContext line_cxt;
} VmExport;

/* The request exporting the series that form ("match[]=...") selects. */
static void
export_request(StringInfo form, MeshHttpRequest *req)
{
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->path = "/api/v1/export";
	req->body = form->data;
	req->body_len = form->len;
	req->content_type = "application/x-www-form-urlencoded";
	req->what = "a verify read";
	req->accept_error = true;
}

/* Read an export's answer (streamed or complete); an error answer ereports. */
static void
export_read(void *conn, MeshHttpStream *answer, VmExport *ex)
{
	ex->server = mesh_http_server(mesh_http_conn_client(conn));
	ex->line_cxt = AllocSetContextCreate(CurrentMemoryContext, "vm export line",
										 ALLOCSET_DEFAULT_SIZES);
	ex->stream = *answer;
	if (ex->stream.response.status < 200 || ex->stream.response.status >= 300)
	{
		mesh_http_stream_read_all(&ex->stream);
		mesh_http_raise(mesh_http_conn_client(conn), "a verify read", ex->stream.response.status,
						ex->stream.response.body.data);
	}
}

static void
export_open(void *conn, StringInfo form, VmExport *ex)
{
	MeshHttpRequest req;
	MeshHttpStream answer;

	export_request(form, &req);
	mesh_http_stream_open(mesh_http_conn_client(conn), &req, &answer);
	export_read(conn, &answer, ex);
}

/*
 * The next series of the export: its labels, values and timestamps
 * (allocated in ex->line_cxt, reset at each call); false at the end.
 */
static bool
export_next(VmExport *ex, json_t **metric, json_t **values, json_t **timestamps)
{
	char	   *line;
	size_t		len;
	MemoryContext old;
	json_t	   *doc;

	do
	{
		if (!mesh_http_stream_line(&ex->stream, &line, &len))
			return false;
	} while (len == 0);
	MemoryContextReset(ex->line_cxt);
	old = MemoryContextSwitchTo(ex->line_cxt);
	doc = mesh_json_parse_go(line, len, ex->server, "a verify read");
	*metric = mesh_json_get(doc, "metric", JSON_OBJECT, ex->server, "a verify read");
	*values = mesh_json_get(doc, "values", JSON_ARRAY, ex->server, "a verify read");
	*timestamps = mesh_json_get(doc, "timestamps", JSON_ARRAY, ex->server, "a verify read");
	MemoryContextSwitchTo(old);
	if (json_array_size(*values) != json_array_size(*timestamps))
		mesh_json_malformed(ex->server, "a verify read", "values and timestamps differ in length.");
	return true;
}

/* The field (index into lr->field_index) of a metric name, or -1. */
static int
field_of(VmRoute *vr, json_t *metric)
{
	json_t	   *name = json_object_get(metric, "__name__");

	for (int f = 0; name && json_is_string(name) && f < vr->lr->nfields; f++)
		if (strcmp(json_string_value(name), vr->metric[f]) == 0)
			return f;
	return -1;
}

/* A row's values from a series' labels and one sample's time (fields unset). */
static char **
sample_row(VmRoute *vr, MeshRoute *route, json_t *metric, int64 ms)
{
	char	  **row = palloc0(sizeof(char *) * Max(route->ncolumns, 1));

	for (int t = 0; t < vr->lr->ntags; t++)
	{
		int			c = vr->lr->tag_index[t];
		json_t	   *v = json_object_get(metric, route->columns[c]);

		if (v && json_is_string(v) && json_string_length(v) > 0)
			row[c] = pstrdup(json_string_value(v));
	}
	row[vr->lr->time_index] = time_text(vr, ms);
	return row;
}

static int64
sample_ms(VmExport *ex, json_t *timestamps, size_t j)
{
	json_t	   *t = json_array_get(timestamps, j);

	if (!json_is_integer(t))
		mesh_json_malformed(ex->server, "a verify read", "A timestamp is not an integer.");
	return (int64) json_integer_value(t);
}

/*
 * verify (connector.h fetch_request): one export of every key's series (a
 * matcher per key, bounded by the keys' times when the time is in the key).
 */
void
vm_fetch_request(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpRequest *req)
{
	VmRoute    *vr = vm_route(route);
	char	  **full = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	StringInfo	form = makeStringInfo();
	int64		lo = PG_INT64_MAX,
				hi = PG_INT64_MIN;

	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < route->nkeys; k++)
			full[route->key_index[k]] = keys[i][k];
		append_form(form, "match[]", series_selector(vr, route, full));
		if (vr->time_key)
		{
			int64		ms = mesh_lp_route_time_in(vr->lr, route, full[vr->lr->time_index],
												   MESH_LP_MS);

			lo = Min(lo, ms);
			hi = Max(hi, ms);
		}
	}
	if (vr->time_key)
	{
		append_form(form, "start", psprintf(INT64_FORMAT ".%03d", lo / 1000, (int) (lo % 1000 + 1000) % 1000));
		append_form(form, "end", psprintf(INT64_FORMAT ".%03d", hi / 1000, (int) (hi % 1000 + 1000) % 1000));
	}
	export_request(form, req);
}

/* verify (connector.h fetch_answer): samples joined into rows by key. */
void
vm_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpStream *answer,
				char ***rows)
{
	VmRoute    *vr = vm_route(route);
	MeshKeyed  *wanted = palloc(sizeof(MeshKeyed) * Max(n, 1));
	char	  **full = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	VmExport	ex;
	json_t	   *metric,
			   *values,
			   *timestamps;

	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < route->nkeys; k++)
			full[route->key_index[k]] = keys[i][k];
		mesh_keyed_set(&wanted[i], lookup_key(vr, route, full), i);
	}
	mesh_keyed_sort(wanted, n);
	export_read(conn, answer, &ex);
	while (export_next(&ex, &metric, &values, &timestamps))
	{
		int			f = field_of(vr, metric);

		if (f < 0)
			continue;
		for (size_t j = 0; j < json_array_size(values); j++)
		{
			char	  **row = sample_row(vr, route, metric, sample_ms(&ex, timestamps, j));
			MeshKeyed  *hit = mesh_keyed_find(wanted, n, lookup_key(vr, route, row));

			if (hit == NULL)
				continue;
			if (rows[hit->index] == NULL)
				rows[hit->index] = row;
			rows[hit->index][vr->lr->field_index[f]] = mesh_json_scalar_text(json_array_get(values, j));
		}
	}
	*answer = ex.stream;		/* read to its end */
	MemoryContextDelete(ex.line_cxt);
}

/* verify's pages of target keys: every sample's (tags, time), once. */
typedef struct VmKeyScan
{
	char	 ***keys;			/* unique, sorted by key string */
	int			nkeys;
	int			next;
} VmKeyScan;

/*
 * The first call exports every series of the route's metrics and keeps the
 * distinct keys (a row's fields are separate series): memory grows with
 * the number of target rows.
 */
static VmKeyScan *
collect_keys(void *conn, MeshRoute *route, VmRoute *vr)
{
	VmKeyScan  *ks = MemoryContextAllocZero(route->cxt, sizeof(VmKeyScan));
	StringInfoData form;
	VmExport	ex;
	json_t	   *metric,
			   *values,
			   *timestamps;
	MeshKeyed  *all = NULL;
	char	 ***allkeys = NULL;
	int			n = 0,
				cap = 0;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "vm scan keys",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(work);

	initStringInfo(&form);
	append_form(&form, "match[]", psprintf("{%s}", vr->name_matcher));
	export_open(conn, &form, &ex);
	while (export_next(&ex, &metric, &values, &timestamps))
	{
		if (field_of(vr, metric) < 0)
			continue;
		for (size_t j = 0; j < json_array_size(timestamps); j++)
		{
			char	  **row = sample_row(vr, route, metric, sample_ms(&ex, timestamps, j));

			if (n == cap)
			{
				cap = Max(cap * 2, 1024);
				all = all ? repalloc(all, sizeof(MeshKeyed) * cap) : palloc(sizeof(MeshKeyed) * cap);
				allkeys = allkeys ? repalloc(allkeys, sizeof(char **) * cap) :
					palloc(sizeof(char **) * cap);
			}
			allkeys[n] = palloc(sizeof(char *) * Max(route->nkeys, 1));
			for (int k = 0; k < route->nkeys; k++)
				allkeys[n][k] = row[route->key_index[k]];
			mesh_keyed_set(&all[n], lookup_key(vr, route, row), n);
			n++;
		}
	}
	mesh_keyed_sort(all, n);
	MemoryContextSwitchTo(route->cxt);
	ks->keys = palloc(sizeof(char **) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (i > 0 && strcmp(all[i].key, all[i - 1].key) == 0)
			continue;
		ks->keys[ks->nkeys] = palloc(sizeof(char *) * Max(route->nkeys, 1));
		for (int k = 0; k < route->nkeys; k++)
			ks->keys[ks->nkeys][k] = allkeys[all[i].index][k] ?
				pstrdup(allkeys[all[i].index][k]) : NULL;
		ks->nkeys++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return ks;
}

/* verify (connector.h expected_values): the time as the route writes it. */
void
vm_expected_values(void *conn, MeshRoute *route, char **values)
{
	mesh_lp_route_expected(vm_route(route)->lr, route, values);
}

int
vm_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	VmKeyScan  *ks = *state;
	int			n = 0;

	if (ks == NULL)
		*state = ks = collect_keys(conn, route, vm_route(route));
	while (ks->next < ks->nkeys && n < max)
		keys[n++] = ks->keys[ks->next++];
	return n;
}

/* ---- INSERT through a metric table ---- */

/*
 * A metric table (as fdw/prometheus reads it): the metric is the table
 * option metric (default: the table name); column "ts" the time, "value"
 * the sample, "labels" (jsonb) a label object, every other column the label
 * of its name (or of its option label).  Each row is one line
 * ",<labels> <metric>=<value> <ms>": no measurement, so the field name is
 * the metric name.
 */
typedef struct VmInsert
{
	char	   *metric_key;		/* the metric, escaped as a field key */
	AttrNumber	ts_att;
	AttrNumber	value_att;
	AttrNumber	labels_att;
	char	  **label_key;		/* per column: escaped label name, or NULL */
	StringInfoData lines;
	int			nlines;
} VmInsert;

int
vm_row_identity(MeshTable *table, AttrNumber *attnums)
{
	return 0;
}

void
vm_begin_modify(MeshModify *m)
{
	VmInsert   *st = palloc0(sizeof(VmInsert));
	MeshTable  *t = m->table;
	const char *metric = mesh_defelem_get(t->options, "metric");

	m->state = st;
	st->metric_key = mesh_lp_key_text(metric ? metric : t->relname, false, NULL);
	st->label_key = palloc0(sizeof(char *) * Max(t->ncolumns, 1));
	initStringInfo(&st->lines);
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *col = &t->columns[i];
		const char *label;

		if (col->name == NULL)
			continue;
		if (strcmp(col->name, "ts") == 0)
			st->ts_att = col->attnum;
		else if (strcmp(col->name, "value") == 0)
			st->value_att = col->attnum;
		else if (strcmp(col->name, "labels") == 0)
			st->labels_att = col->attnum;
		else
		{
			label = mesh_column_option(col, "label");
			st->label_key[i] = mesh_lp_key_text(label ? label : col->name, true, col->name);
		}
	}
	if (st->ts_att == InvalidAttrNumber || st->value_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" needs columns \"ts\" and \"value\" to write samples",
						t->relname)));
}

static void
flush_inserts(MeshModify *m)
{
	VmInsert   *st = m->state;

	if (st->nlines == 0)
		return;
	vm_post(m->conn, "/write?precision=ms", &st->lines, "text/plain", "a write");
	m->requests++;
	resetStringInfo(&st->lines);
	st->nlines = 0;
}

/* Append ",key=value" for each string member of a jsonb label object. */
static void
append_label_object(StringInfo buf, Jsonb *labels, const char *column)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(labels))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" must hold a JSON object of labels", column)));
	it = JsonbIteratorInit(&labels->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && key && strcmp(key, "__name__") != 0)
		{
			char	   *val;

			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("label \"%s\" in column \"%s\" is not a string", key, column)));
			val = pnstrdup(v.val.string.val, v.val.string.len);
			if (val[0] == '\0')
				continue;
			appendStringInfoChar(buf, ',');
			appendStringInfoString(buf, mesh_lp_key_text(key, true, column));
			appendStringInfoChar(buf, '=');
			mesh_lp_tag_value(buf, val, column);
		}
	}
}

void
vm_modify_row(MeshModify *m)
{
	VmInsert   *st = m->state;
	MeshTable  *t = m->table;
	size_t		len;
	int64		ms;

	if (m->op != MESH_MODIFY_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("UPDATE and DELETE are not supported on VictoriaMetrics foreign table \"%s\"",
						t->relname),
				 errdetail("VictoriaMetrics deletes whole series, not samples.")));
	if (m->new_nulls[st->ts_att - 1] || m->new_nulls[st->value_att - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a sample of foreign table \"%s\" needs a ts and a value", t->relname)));
	ms = mesh_lp_time(DatumGetInt64(m->new_values[st->ts_att - 1]), MESH_LP_MS,
					  t->columns[st->ts_att - 1].name, NULL);
	for (int i = 0; i < t->ncolumns; i++)
	{
		char	   *v;

		if (st->label_key[i] == NULL || m->new_nulls[i])
			continue;
		v = mesh_value_to_text(&t->columns[i], m->new_values[i], &len);
		if (v[0] == '\0')
			continue;
		appendStringInfoChar(&st->lines, ',');
		appendStringInfoString(&st->lines, st->label_key[i]);
		appendStringInfoChar(&st->lines, '=');
		mesh_lp_tag_value(&st->lines, v, t->columns[i].name);
	}
	if (st->labels_att && !m->new_nulls[st->labels_att - 1])
		append_label_object(&st->lines, DatumGetJsonbP(m->new_values[st->labels_att - 1]),
							t->columns[st->labels_att - 1].name);
	appendStringInfoChar(&st->lines, ' ');
	appendStringInfoString(&st->lines, st->metric_key);
	appendStringInfoChar(&st->lines, '=');
	mesh_lp_field_value(&st->lines, MESH_LP_FLOAT,
						mesh_value_to_text(&t->columns[st->value_att - 1],
										   m->new_values[st->value_att - 1], &len),
						t->columns[st->value_att - 1].name);
	mesh_lp_end(&st->lines, ms);
	if (++st->nlines >= VM_INSERT_BATCH)
		flush_inserts(m);
}

void
vm_end_modify(MeshModify *m)
{
	flush_inserts(m);
}
