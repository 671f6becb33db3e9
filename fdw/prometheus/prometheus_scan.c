/*
 * prometheus_scan.c: a foreign table over one metric.
 *
 * Columns: "labels" (jsonb, every label), "ts" (timestamptz), "value"
 * (double precision), and any other column is the label of its name (or
 * of its column option "label").  A scan is one request:
 *   ts >= a [AND ts <= b]   query_range start=a end=b (or now()) step=<step>
 *   ts = t                  an instant query at t
 *   ts <= b only            an instant query at b (ts < b: 1 ms before b)
 *   no ts condition         an instant query at now()
 * Label conditions become matchers of the selector: = "v", <> != "v",
 * = ANY =~ "v1|v2", LIKE =~ <regex>, IS NULL = "", IS NOT NULL != "".
 * Rows are evaluations at step-aligned times (not raw samples) and every
 * condition is rechecked locally.  Planning sends nothing.
 */
#include "postgres.h"

#include "prometheus.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "mesh_util.h"

#define DEFAULT_STEP "15s"

/* How a table's columns map onto a metric's series (cached with the table). */
typedef struct PromLayout
{
	const char *metric;
	int64		step_us;
	AttrNumber	labels_att;
	AttrNumber	ts_att;
	AttrNumber	value_att;
	const char **label_of;		/* per column: its label name, or NULL */
} PromLayout;

/* One end of the pushed time range. */
typedef struct Bound
{
	bool		present;
	bool		known;			/* ts holds the value (else text describes it) */
	TimestampTz ts;
	bool		strict;
	char	   *text;
} Bound;

typedef struct PromScanState
{
	PromLayout *layout;
	PromQuery	query;
	bool		empty;			/* a pushed condition matches nothing: no request */
	PromResult	result;
	Datum		labels;			/* of the current series */
	Datum	   *label_values;
	bool	   *label_nulls;
} PromScanState;

static void
layout_error(MeshTable *t, MeshColumn *col, const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
			 errmsg("column \"%s\" of foreign table \"%s\" %s", col->name, t->relname, msg),
			 errhint("%s", hint)));
}

static void *
compute_layout(MeshTable *t)
{
	PromLayout *l = palloc0(sizeof(PromLayout));
	const char *step = mesh_defelem_get(t->options, "step");

	l->metric = mesh_defelem_get(t->options, "metric");
	if (l->metric == NULL)
		l->metric = t->relname;
	if (step == NULL)
		step = DEFAULT_STEP;
	if (!prom_parse_step(step, &l->step_us))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"step\" of foreign table \"%s\": \"%s\"",
						t->relname, step),
				 errdetail("Allowed: a positive Prometheus duration such as 15s, 1m30s or 500ms, or a number of seconds.")));
	l->label_of = palloc0(sizeof(char *) * Max(t->ncolumns, 1));
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *col = &t->columns[i];
		const char *label;
		Oid			base;

		if (col->name == NULL)
			continue;
		label = mesh_column_option(col, "label");
		base = getBaseType(col->typid);
		if (label == NULL && strcmp(col->name, "labels") == 0)
		{
			if (base != JSONBOID && base != JSONOID && base != TEXTOID)
				layout_error(t, col, "must be of type jsonb",
							 "The labels column holds every label of a series as a JSON object.");
			l->labels_att = col->attnum;
		}
		else if (label == NULL && strcmp(col->name, "ts") == 0)
		{
			if (base != TIMESTAMPTZOID && base != TIMESTAMPOID)
				layout_error(t, col, "must be of type timestamp with time zone",
							 "The ts column holds the time of each evaluation.");
			l->ts_att = col->attnum;
		}
		else if (label == NULL && strcmp(col->name, "value") == 0)
			l->value_att = col->attnum;
		else
		{
			label = label ? label : col->name;
			if (!prom_is_label_name(label))
				layout_error(t, col, psprintf("maps to \"%s\", which is not a Prometheus label name", label),
							 "Label names match [a-zA-Z_][a-zA-Z0-9_]*; map the column with the column option label.");
			l->label_of[i] = label;
		}
	}
	return l;
}

/* The layout of a table (errors name a misfit column or option). */
static PromLayout *
prom_layout(MeshTable *t)
{
	return mesh_table_parsed(t, compute_layout);
}

static bool
is_time_type(Oid typid)
{
	return typid == TIMESTAMPTZOID || typid == TIMESTAMPOID || typid == DATEOID;
}

static bool
is_text_type(Oid typid)
{
	return typid == TEXTOID || typid == VARCHAROID;
}

/* True when q on a label column can become a matcher. */
static bool
label_qual_pushable(MeshColumn *col, MeshQual *q)
{
	if (!is_text_type(getBaseType(col->typid)))
		return false;
	switch (q->op)
	{
		case MESH_QUAL_EQ:
		case MESH_QUAL_NE:
		case MESH_QUAL_LIKE:
			return is_text_type(q->valtype);
		case MESH_QUAL_IN:
			return is_text_type(get_element_type(q->valtype));
		case MESH_QUAL_IS_NULL:
		case MESH_QUAL_IS_NOT_NULL:
			return true;
		default:
			return false;
	}
}

/* Push label conditions and ts comparisons; no request is sent. */
void
prom_plan_scan(MeshScanPlan *plan)
{
	PromLayout *l = prom_layout(plan->table);
	bool		range = false;
	bool		bounded = false;

	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];

		if (q->attnum == l->ts_att && is_time_type(q->valtype) &&
			(q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_LT || q->op == MESH_QUAL_LE ||
			 q->op == MESH_QUAL_GT || q->op == MESH_QUAL_GE))
		{
			q->pushed = true;
			range |= (q->op == MESH_QUAL_GT || q->op == MESH_QUAL_GE);
			bounded |= (q->op == MESH_QUAL_EQ);
		}
		else if (l->label_of[q->attnum - 1] != NULL &&
				 label_qual_pushable(&plan->table->columns[q->attnum - 1], q))
			q->pushed = true;
		/* evaluations are step-aligned, and "" matches a missing label: never exact */
		q->exact = false;
	}
	plan->rows = (range && !bounded) ? 1000 : 10;
}

/* t rounded down (up) to a whole millisecond: Prometheus' resolution. */
static TimestampTz
floor_ms(TimestampTz t)
{
	return TIMESTAMP_NOT_FINITE(t) ? t : t - ((t % 1000) + 1000) % 1000;
}

static TimestampTz
ceil_ms(TimestampTz t)
{
	return TIMESTAMP_NOT_FINITE(t) ? t : -floor_ms(-t);
}

/* A ts qual's value as timestamptz. */
static TimestampTz
qual_time(MeshQual *q)
{
	if (q->valtype == TIMESTAMPOID)
		return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, q->value));
	if (q->valtype == DATEOID)
		return DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, q->value));
	return DatumGetTimestampTz(q->value);
}

/* Narrow bound b by qual q (lower: keep the latest; upper: the earliest). */
static void
add_bound(Bound *b, MeshQual *q, bool lower, bool strict)
{
	TimestampTz t;

	if (!q->known)
	{
		if (!b->present || b->known)
			b->text = mesh_qual_display(q);
		b->present = true;
		b->known = false;
		return;
	}
	t = qual_time(q);
	if (b->present && b->known && (lower ? t <= b->ts : t >= b->ts))
		return;
	if (!b->present || b->known)
	{
		b->present = true;
		b->known = true;
		b->ts = t;
		b->strict = strict;
	}
}

/* The matcher of a label qual; NULL when its value matches nothing. */
static char *
label_matcher(const char *label, MeshQual *q, bool *empty)
{
	StringInfoData buf;
	char	   *v;

	initStringInfo(&buf);
	appendStringInfoString(&buf, label);
	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		appendStringInfoString(&buf, q->op == MESH_QUAL_IS_NULL ? "=\"\"" : "!=\"\"");
		return buf.data;
	}
	if (!q->known)
	{
		appendStringInfo(&buf, "%s%s", q->op == MESH_QUAL_NE ? "!=" :
						 q->op == MESH_QUAL_EQ ? "=" : "=~", mesh_qual_display(q));
		return buf.data;
	}
	if (q->isnull)
	{
		*empty = true;
		return NULL;
	}
	if (q->op == MESH_QUAL_IN)
	{
		char	  **elems;
		int			n = mesh_qual_array_text(q, &elems);
		StringInfoData re;

		if (n == 0)
		{
			*empty = true;
			return NULL;
		}
		/* alternatives of quoted text, escaped once as one literal */
		initStringInfo(&re);
		for (int i = 0; i < n; i++)
		{
			if (i > 0)
				appendStringInfoChar(&re, '|');
			prom_append_regex_quoted(&re, elems[i], strlen(elems[i]));
		}
		appendStringInfoString(&buf, "=~");
		prom_append_string(&buf, re.data, re.len);
		return buf.data;
	}
	v = mesh_datum_text(q->value, q->valtype);
	if (q->op == MESH_QUAL_LIKE)
	{
		StringInfoData re;

		initStringInfo(&re);
		if (!prom_like_to_regex(&re, v))
			return NULL;		/* LIKE itself rejects it: filter locally */
		appendStringInfoString(&buf, "=~");
		prom_append_string(&buf, re.data, re.len);
		return buf.data;
	}
	appendStringInfoString(&buf, q->op == MESH_QUAL_NE ? "!=" : "=");
	prom_append_string(&buf, v, strlen(v));
	return buf.data;
}

/*
 * The request of a scan from its pushed quals (values known at execution;
 * in EXPLAIN unknown ones are described).  Sets *empty when a condition
 * matches nothing; time_text, start_text and end_text describe times that
 * are unknown or now() (for EXPLAIN).
 */
static void
build_request(MeshScan *scan, PromLayout *l, PromQuery *q, bool *empty, char **time_text,
			  char **start_text, char **end_text)
{
	List	   *matchers = NIL;
	Bound		lower = {0},
				upper = {0},
				at = {0};
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	memset(q, 0, sizeof(PromQuery));
	*empty = false;
	*time_text = *start_text = *end_text = NULL;
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *mq = &scan->quals[i];

		if (mq->attnum == l->ts_att)
		{
			if (mq->known && mq->isnull)
				*empty = true;
			else if (mq->op == MESH_QUAL_EQ)
				add_bound(&at, mq, true, false);
			else if (mq->op == MESH_QUAL_GT || mq->op == MESH_QUAL_GE)
				add_bound(&lower, mq, true, mq->op == MESH_QUAL_GT);
			else
				add_bound(&upper, mq, false, mq->op == MESH_QUAL_LT);
		}
		else
		{
			char	   *m = label_matcher(l->label_of[mq->attnum - 1], mq, empty);

			if (m)
				matchers = lappend(matchers, m);
		}
	}
	/* infinite bounds: -infinity below and +infinity above bound nothing */
	if (lower.known && TIMESTAMP_IS_NOBEGIN(lower.ts))
		lower.present = false;
	if (upper.known && TIMESTAMP_IS_NOEND(upper.ts))
		upper.present = false;
	q->promql = prom_selector(l->metric, matchers);
	if (at.present)
	{
		q->has_time = true;
		q->time = at.ts;
		*time_text = at.known ? NULL : at.text;
		*empty |= at.known && TIMESTAMP_NOT_FINITE(at.ts);
	}
	else if (lower.present)
	{
		/* whole milliseconds within the bounds (the server would round) */
		q->range = true;
		q->start = ceil_ms(lower.ts);
		q->end = floor_ms(upper.present ? upper.ts : now);
		q->step_us = l->step_us;
		*start_text = lower.known ? NULL : lower.text;
		*end_text = !upper.present ? "now()" : upper.known ? NULL : upper.text;
		*empty |= (lower.known && (!upper.present || upper.known) &&
				   (q->start > q->end || TIMESTAMP_NOT_FINITE(q->start) ||
					TIMESTAMP_NOT_FINITE(q->end)));
	}
	else
	{
		q->has_time = true;
		q->time = upper.present ? upper.ts : now;
		/* ts < b: the latest whole millisecond before b */
		if (upper.present && upper.known && upper.strict && !TIMESTAMP_NOT_FINITE(q->time))
			q->time -= 1;
		q->time = floor_ms(q->time);
		*time_text = !upper.present ? "now()" : upper.known ? NULL : upper.text;
		*empty |= upper.present && upper.known && TIMESTAMP_NOT_FINITE(q->time);
	}
}

void
prom_begin_scan(MeshScan *scan)
{
	PromScanState *st = palloc0(sizeof(PromScanState));
	char	   *t1,
			   *t2,
			   *t3;

	scan->state = st;
	st->layout = prom_layout(scan->table);
	mesh_table_prepare_io(scan->table);
	st->label_values = palloc0(sizeof(Datum) * Max(scan->table->ncolumns, 1));
	st->label_nulls = palloc0(sizeof(bool) * Max(scan->table->ncolumns, 1));
	build_request(scan, st->layout, &st->query, &st->empty, &t1, &t2, &t3);
	if (st->empty)
		return;
	prom_run(scan->conn, &st->query, &st->result);
	scan->requests++;
}

/* Values of the columns that depend only on the series (in scan_cxt). */
static void
series_values(MeshScan *scan, PromScanState *st, json_t *labels)
{
	PromLayout *l = st->layout;
	MemoryContext old = MemoryContextSwitchTo(scan->scan_cxt);

	if (l->labels_att && scan->wanted[l->labels_att - 1])
	{
		MeshColumn *col = &scan->table->columns[l->labels_att - 1];
		Jsonb	   *jb = prom_labels_jsonb(labels, st->result.server);

		if (getBaseType(col->typid) == JSONBOID)
			st->labels = JsonbPGetDatum(jb);
		else
		{
			char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

			st->labels = mesh_value_from_text(col, text, strlen(text));
		}
	}
	for (int i = 0; i < scan->table->ncolumns; i++)
	{
		json_t	   *v;

		if (l->label_of[i] == NULL || !scan->wanted[i])
			continue;
		v = json_object_get(labels, l->label_of[i]);
		st->label_nulls[i] = v == NULL;
		if (v != NULL)
		{
			char	   *s = pg_any_to_server(json_string_value(v), json_string_length(v), PG_UTF8);

			st->label_values[i] = mesh_value_from_text(&scan->table->columns[i], s, strlen(s));
		}
	}
	MemoryContextSwitchTo(old);
}

bool
prom_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	PromScanState *st = scan->state;
	PromLayout *l = st->layout;
	PromSample	s;

	if (st->empty || !prom_result_next(&st->result, &s))
		return false;
	if (st->result.type == PROM_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("server \"%s\" answered with a string, not samples", st->result.server)));
	if (s.new_series)
		series_values(scan, st, s.labels);
	if (l->labels_att && scan->wanted[l->labels_att - 1])
	{
		values[l->labels_att - 1] = st->labels;
		nulls[l->labels_att - 1] = false;
	}
	for (int i = 0; i < scan->table->ncolumns; i++)
		if (l->label_of[i] != NULL && scan->wanted[i])
		{
			values[i] = st->label_values[i];
			nulls[i] = st->label_nulls[i];
		}
	if (l->ts_att)
	{
		MeshColumn *col = &scan->table->columns[l->ts_att - 1];

		values[l->ts_att - 1] = getBaseType(col->typid) == TIMESTAMPOID ?
			DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(s.ts)) :
			TimestampTzGetDatum(s.ts);
		nulls[l->ts_att - 1] = false;
	}
	if (l->value_att && scan->wanted[l->value_att - 1])
	{
		MeshColumn *col = &scan->table->columns[l->value_att - 1];
		const char *v;

		if (getBaseType(col->typid) == FLOAT8OID)
			values[l->value_att - 1] = Float8GetDatum(prom_value_float8(s.value, st->result.server));
		else
		{
			v = prom_value_sql_text(s.value);
			values[l->value_att - 1] = mesh_value_from_text(col, v, strlen(v));
		}
		nulls[l->value_att - 1] = false;
	}
	return true;
}

void
prom_end_scan(MeshScan *scan)
{
	scan->state = NULL;			/* everything lives in scan_cxt */
}

/* The request: as sent (after execution) or as it will be sent. */
char *
prom_explain_scan(MeshScan *scan)
{
	PromScanState *st = scan->state;
	PromQuery	q;
	bool		empty;
	char	   *at,
			   *start,
			   *end;
	StringInfoData buf;

	if (st != NULL)
		return st->empty ? pstrdup("none: a condition matches nothing") :
			prom_query_display(&st->query);
	build_request(scan, prom_layout(scan->table), &q, &empty, &at, &start, &end);
	initStringInfo(&buf);
	if (empty)
		appendStringInfoString(&buf, "none: a condition matches nothing");
	else if (q.range)
		appendStringInfo(&buf, "/api/v1/query_range query=%s start=%s end=%s step=%s", q.promql,
						 start ? start : prom_time_text(q.start),
						 end ? end : prom_time_text(q.end),
						 prom_seconds_text(q.step_us));
	else
		appendStringInfo(&buf, "/api/v1/query query=%s time=%s", q.promql,
						 at ? at : prom_time_text(q.time));
	return buf.data;
}
