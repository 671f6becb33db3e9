/*
 * clickhouse_scan.c: reading a ClickHouse SELECT as rows.
 *
 * The answer is streamed in TabSeparated (the cheapest format to produce
 * and to parse: no quoting, a handful of escapes) and consumed line by
 * line as it arrives; consumed bytes are dropped from the buffer, so a
 * scan of any size holds about one network read in memory.  Each field
 * is converted straight to a Datum: integers, floats, text, booleans,
 * dates and timestamps by fast paths equivalent to their input functions,
 * the rest through the column type's input function.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "json_value.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "clickhouse_internal.h"


typedef struct ChScanState
{
	ChConn	   *cc;
	ChSelect   *sel;
	MeshHttpStream stream;
	bool		open;
	bool		done;
	size_t		pos;			/* first unconsumed byte of the body */
	size_t		scanned;		/* the body before this has no newline after pos */
	char	  **fields;
	size_t	   *lens;
	Datum		avg_sum;		/* the sum of an avg, until its count arrives */
	bool		avg_sum_null;
} ChScanState;

void
ch_begin_scan(MeshScan *scan)
{
	ChScanState *st = palloc0(sizeof(ChScanState));
	MeshHttpRequest req = {0};

	scan->state = st;
	st->cc = scan->conn;
	st->sel = ch_deparse_scan(st->cc, scan, false);
	st->fields = palloc(sizeof(char *) * st->sel->nfields);
	st->lens = palloc(sizeof(size_t) * st->sel->nfields);
	if (st->sel->empty)
	{
		st->done = true;		/* a pushed qual is never true */
		return;
	}
	req.method = "POST";
	req.path = ch_path(st->cc, NULL);
	req.body = psprintf("%s FORMAT TabSeparated", st->sel->sql);
	req.body_len = strlen(req.body);
	req.content_type = "text/plain; charset=utf-8";
	req.what = "a query";
	req.accept_error = true;
	scan->requests++;
	mesh_http_stream_open(st->cc->http, &req, &st->stream);
	st->open = true;
	if (st->stream.response.status < 200 || st->stream.response.status >= 300)
		ch_raise(st->cc, st->stream.response.status, st->stream.response.body.data, "a query");
}

static void
malformed(ChScanState *st, const char *line, size_t len, const char *why)
{
	if (ch_line_is_exception(line, len))
		ch_raise(st->cc, 500, pnstrdup(line, Min(len, 2000)), "a query");
	mesh_json_malformed(st->cc->servername, "a query",
						psprintf("%s; the line began: %s", why,
								 pnstrdup(line, Min(len, 200))));
}

/* The next complete line of the answer (without its newline), or false at the end. */
static bool
next_line(ChScanState *st, char **line, size_t *len)
{
	StringInfo	body = &st->stream.response.body;

	for (;;)
	{
		char	   *nl = memchr(body->data + st->scanned, '\n', body->len - st->scanned);

		if (nl != NULL)
		{
			*line = body->data + st->pos;
			*len = nl - *line;
			st->pos = st->scanned = nl - body->data + 1;
			return true;
		}
		st->scanned = body->len;
		if (st->stream.finished)
		{
			if (st->pos < (size_t) body->len)
				malformed(st, body->data + st->pos, body->len - st->pos,
						  "The answer ended inside a row");
			return false;
		}
		if (st->pos > 0)
		{
			memmove(body->data, body->data + st->pos, body->len - st->pos);
			body->len -= st->pos;
			body->data[body->len] = '\0';
			st->scanned -= st->pos;
			st->pos = 0;
		}
		CHECK_FOR_INTERRUPTS();
		mesh_http_stream_fill(&st->stream);
	}
}

static void
bad_value(MeshColumn *col, const char *data)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("remote value \"%s\" does not fit column \"%s\" of type %s",
					pnstrdup(data, 200), col->name, format_type_be(col->typid))));
}

/*
 * A field (NUL-terminated, len bytes) as a Datum of col's type.  The fast
 * paths accept exactly what the input functions accept from ClickHouse's
 * text; anything else goes through the input function.
 */
Datum
ch_field_datum(MeshColumn *col, bool is_array, char *data, size_t len)
{
	switch (col->typid)
	{
		case INT2OID:
			return Int16GetDatum(pg_strtoint16(data));
		case INT4OID:
			return Int32GetDatum(pg_strtoint32(data));
		case INT8OID:
			return Int64GetDatum(pg_strtoint64(data));
		case FLOAT8OID:
			return Float8GetDatum(float8in_internal(data, NULL, "double precision", data));
		case BOOLOID:
			if (len == 1 && (data[0] == '0' || data[0] == '1'))
				return BoolGetDatum(data[0] == '1');
			break;
		case VARCHAROID:
			if (col->typmod >= 0)
				break;			/* the length check of varchar(n) */
			/* FALLTHROUGH */
		case TEXTOID:
			if (memchr(data, '\0', len) != NULL || !pg_verifymbstr(data, len, true))
				break;			/* the input path's error */
			return PointerGetDatum(cstring_to_text_with_len(data, len));
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			{
				int64		us;
				Timestamp	ts;

				if (!ch_epoch_from_text(data, len, &us))
					bad_value(col, data);
				ts = us - EPOCH_OFFSET_USEC;
				if (col->typmod >= 0)
					AdjustTimestampForTypmod(&ts, col->typmod);
				return TimestampTzGetDatum(ts);
			}
		case DATEOID:
			{
				int64		us;
				char		buf[32];

				if (len != 10)
					break;
				snprintf(buf, sizeof(buf), "%s 00:00:00", data);
				if (!ch_epoch_from_text(buf, 19, &us))
					bad_value(col, data);
				return DateADTGetDatum((DateADT) (us / USECS_PER_DAY -
												  (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)));
			}
		default:
			if (is_array && len > 0 && data[0] == '[')
			{
				char	   *pg = ch_array_to_pg(data, len);

				return mesh_value_from_text(col, pg, strlen(pg));
			}
			break;
	}
	return mesh_value_from_text(col, data, len);
}

static Datum
numeric_datum(const char *s)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s), ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

/* Fill values/nulls from one answer line. */
static void
fill_row(MeshScan *scan, ChScanState *st, char *line, size_t len, Datum *values, bool *nulls)
{
	ChSelect   *sel = st->sel;
	int			n = ch_tsv_split(line, len, st->fields, st->lens, sel->nfields);

	if (n != sel->nfields)
		malformed(st, line, len, psprintf("A row has %d fields, %d were expected",
										  n < 0 ? sel->nfields + 1 : n, sel->nfields));
	for (int i = 0; i < n; i++)
	{
		ChField    *f = &sel->fields[i];
		char	   *v = st->fields[i];

		if (f->role == CHF_NONE)
			continue;
		if (f->role == CHF_AVG_SUM)
		{
			st->avg_sum_null = v == NULL;
			if (v)
				st->avg_sum = numeric_datum(v);
			continue;
		}
		if (v == NULL)
		{
			nulls[f->target] = true;
			continue;
		}
		nulls[f->target] = false;
		switch (f->role)
		{
			case CHF_COLUMN:
				values[f->target] = ch_field_datum(f->col, f->is_array, v, st->lens[i]);
				break;
			case CHF_INT8:
				values[f->target] = Int64GetDatum(pg_strtoint64(v));
				break;
			case CHF_NUMERIC:
				values[f->target] = numeric_datum(v);
				break;
			case CHF_AVG_COUNT:
				if (st->avg_sum_null || strcmp(v, "0") == 0)
					nulls[f->target] = true;	/* avg of no values */
				else
					values[f->target] = DirectFunctionCall2(numeric_div, st->avg_sum,
															numeric_datum(v));
				break;
			case CHF_BUCKET_S:
			case CHF_BUCKET_US:
				{
					int64		e = pg_strtoint64(v);

					if (f->role == CHF_BUCKET_S)
						e *= USECS_PER_SEC;
					values[f->target] = TimestampTzGetDatum(e - EPOCH_OFFSET_USEC);
					break;
				}
			default:
				break;
		}
	}
}

bool
ch_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	ChScanState *st = scan->state;
	char	   *line;
	size_t		len;

	if (st->done)
		return false;
	if (!next_line(st, &line, &len))
	{
		st->done = true;
		return false;
	}
	if (len > 6 && line[0] == 'C' && ch_line_is_exception(line, len))
		ch_raise(st->cc, 500, pnstrdup(line, Min(len, 2000)), "a query");
	fill_row(scan, st, line, len, values, nulls);
	return true;
}

void
ch_end_scan(MeshScan *scan)
{
	ChScanState *st = scan->state;

	if (st == NULL)
		return;
	if (st->open)
		mesh_http_stream_close(&st->stream);
	st->open = false;
	scan->state = NULL;
}

/* EXPLAIN VERBOSE: the statement sent. */
char *
ch_explain_scan(MeshScan *scan)
{
	ChSelect   *sel = ch_deparse_scan(scan->conn, scan, true);

	return psprintf("%s FORMAT TabSeparated", sel->sql);
}
