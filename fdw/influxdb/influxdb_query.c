/*
 * influxdb_query.c: sending InfluxQL and reading the answer as a stream.
 *
 * Every query is POSTed to /query with chunked=true, so InfluxDB answers
 * with one JSON document per INFLUX_CHUNK_SIZE rows, one per line, and a
 * big result never sits in memory at once (nor hits max-row-limit).  Only
 * the current document is parsed; the body buffer keeps just the unread
 * tail.  Times are asked as integer nanoseconds (epoch=ns), which convert
 * exactly to PostgreSQL's microseconds (rounding down).
 *
 * An "error" member, at the top or in any result, is an SQL error with
 * InfluxDB's message.  Anything that is not the JSON InfluxDB promises is
 * a "malformed reply" error.
 */
#include "postgres.h"

#include "influxdb_internal.h"

#include "utils/memutils.h"

/* Ereport an InfluxQL error with InfluxDB's message. */
static void
raise_query_error(InfluxReader *r, const char *message)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("InfluxDB server \"%s\" rejected %s", r->ic->servername, r->what),
			 errdetail("%s", message)));
}

/* Parse one document (in doc_cxt) and make its results current. */
static void
load_document(InfluxReader *r, char *data, size_t len)
{
	MemoryContext old;
	json_t	   *doc;
	json_t	   *err;

	MemoryContextReset(r->doc_cxt);
	old = MemoryContextSwitchTo(r->doc_cxt);
	doc = mesh_json_parse_go(data, len, r->ic->servername, r->what);
	MemoryContextSwitchTo(old);
	err = json_object_get(doc, "error");
	if (err && json_is_string(err))
		raise_query_error(r, json_string_value(err));
	r->results = mesh_json_get(doc, "results", JSON_ARRAY, r->ic->servername, r->what);
	r->ri = 0;
	r->series_list = NULL;
	r->values = NULL;
}

/* The next document of the stream (one per line); false at its end. */
static bool
next_document(InfluxReader *r)
{
	char	   *line;
	size_t		len;

	while (mesh_http_stream_line(&r->stream, &line, &len))
	{
		size_t		blank = 0;

		while (blank < len && strchr(" \t\r", line[blank]) != NULL)
			blank++;
		if (blank == len)
			continue;
		load_document(r, line, len);
		return true;
	}
	return false;
}

/*
 * The request POSTing query to database (non-2xx answers are returned).
 * params, when not NULL, is a JSON object of bound parameters ($name).
 * Times come as integer nanoseconds (epoch_ns) or RFC3339 strings.
 */
void
influx_query_request(const char *database, const char *query, const char *params,
					 bool epoch_ns, const char *what, MeshHttpRequest *req)
{
	StringInfoData path;
	StringInfoData body;

	initStringInfo(&path);
	appendStringInfo(&path, "/query?chunked=true&chunk_size=%d%s", INFLUX_CHUNK_SIZE,
					 epoch_ns ? "&epoch=ns" : "");
	if (database)
		mesh_http_append_param(&path, "db", database);
	initStringInfo(&body);
	appendStringInfo(&body, "q=%s", mesh_http_escape(query));
	if (params)
		appendStringInfo(&body, "&params=%s", mesh_http_escape(params));
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->path = path.data;
	req->body = body.data;
	req->body_len = body.len;
	req->content_type = "application/x-www-form-urlencoded";
	req->what = what;
	req->accept_error = true;
}

/*
 * Read an answer (streamed, or complete already) with influx_query_next;
 * an error answer ereports with InfluxDB's message.
 */
void
influx_query_read(InfluxConn *ic, MeshHttpStream *answer, const char *what, InfluxReader *r)
{
	memset(r, 0, sizeof(*r));
	r->ic = ic;
	r->what = what;
	r->doc_cxt = AllocSetContextCreate(CurrentMemoryContext, "influxdb answer",
									   ALLOCSET_DEFAULT_SIZES);
	r->stream = *answer;
	r->open = true;
	r->requests++;
	if (r->stream.response.status < 200 || r->stream.response.status >= 300)
	{
		long		status = r->stream.response.status;
		StringInfo	b = &r->stream.response.body;
		json_t	   *doc;
		json_t	   *err;

		mesh_http_stream_read_all(&r->stream);
		doc = json_loadb(b->data, b->len, JSON_DECODE_ANY, NULL);
		err = doc ? json_object_get(doc, "error") : NULL;
		influx_query_close(r);
		if (status == 400 && err && json_is_string(err))
			raise_query_error(r, json_string_value(err));
		mesh_http_raise(ic->http, what, status,
						err && json_is_string(err) ? json_string_value(err) : b->data);
	}
}

/* POST query to database; the answer is read with influx_query_next. */
void
influx_query_start(InfluxConn *ic, const char *database, const char *query,
				   const char *params, bool epoch_ns, const char *what, InfluxReader *r)
{
	MeshHttpRequest req;
	MeshHttpStream answer;

	influx_query_request(database, query, params, epoch_ns, what, &req);
	mesh_http_stream_open(ic->http, &req, &answer);
	influx_query_read(ic, &answer, what, r);
}

/* Advance to the next row; false at the end of the answer. */
bool
influx_query_next(InfluxReader *r)
{
	for (;;)
	{
		if (r->values && r->vi < json_array_size(r->values))
		{
			r->row = json_array_get(r->values, r->vi++);
			if (!json_is_array(r->row))
				mesh_json_malformed(r->ic->servername, r->what, "A row is not an array.");
			return true;
		}
		r->values = NULL;
		if (r->series_list && r->si < json_array_size(r->series_list))
		{
			json_t	   *s = json_array_get(r->series_list, r->si++);

			(void) mesh_json_get(s, "columns", JSON_ARRAY, r->ic->servername, r->what);
			r->values = json_object_get(s, "values");
			if (r->values && !json_is_array(r->values))
				mesh_json_malformed(r->ic->servername, r->what, "\"values\" is not an array.");
			r->vi = 0;
			r->series = s;
			r->new_series = true;
			continue;
		}
		r->series_list = NULL;
		if (r->results && r->ri < json_array_size(r->results))
		{
			json_t	   *res = json_array_get(r->results, r->ri++);
			json_t	   *err = json_object_get(res, "error");

			if (err && json_is_string(err))
				raise_query_error(r, json_string_value(err));
			err = json_object_get(res, "statement_id");
			r->statement = err && json_is_integer(err) ? (int) json_integer_value(err) : 0;
			r->series_list = json_object_get(res, "series");
			if (r->series_list && !json_is_array(r->series_list))
				mesh_json_malformed(r->ic->servername, r->what, "\"series\" is not an array.");
			r->si = 0;
			continue;
		}
		r->results = NULL;
		if (!r->open || !next_document(r))
		{
			influx_query_close(r);
			return false;
		}
	}
}

/* Stop reading (abandoning what is left); safe to call twice. */
void
influx_query_close(InfluxReader *r)
{
	if (r->open)
		mesh_http_stream_close(&r->stream);
	r->open = false;
	r->results = r->series_list = r->values = NULL;
	r->series = r->row = NULL;
}

/* Run statements whose answer has no rows to read (DELETE, DROP ...). */
void
influx_run(InfluxConn *ic, const char *database, const char *query, const char *what)
{
	InfluxReader r;

	influx_query_start(ic, database, query, NULL, true, what, &r);
	while (influx_query_next(&r))
		;
	MemoryContextDelete(r.doc_cxt);
}

/* A time value (integer nanoseconds) of an answer. */
int64
influx_time_ns(json_t *v, const char *server)
{
	if (!json_is_integer(v))
		mesh_json_malformed(server, "a query", "A time is not an integer (epoch=ns).");
	return (int64) json_integer_value(v);
}

/* A time value as timestamptz (or timestamp, UTC) text. */
char *
influx_time_text(json_t *v, bool with_tz, const char *server)
{
	int64		us = mesh_lp_ns_to_pg(influx_time_ns(v, server));

	return DatumGetCString(DirectFunctionCall1(with_tz ? timestamptz_out : timestamp_out,
											   Int64GetDatum(us)));
}
