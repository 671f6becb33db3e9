/*
 * prometheus_sql.c: the PromQL entry points of every Prometheus-API kind:
 * mesh.promql (instant query), mesh.promql_range (range query) and
 * mesh.execute (either, rows as jsonb).
 */
#include "postgres.h"

#include <math.h>

#include "prometheus.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_promql);
PG_FUNCTION_INFO_V1(mesh_promql_range);

/* True for kinds that answer the Prometheus query API. */
bool
prom_is_prometheus_api(const MeshConnector *connector)
{
	return connector->execute == prom_execute;
}

/* Run q on the named server (USAGE checked) into the SRF's tuplestore. */
static Datum
promql_rows(FunctionCallInfo fcinfo, const char *server, PromQuery *q)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MeshServerConfig *config = mesh_server_config_by_name(server);
	PromConn   *conn;
	PromResult	result;
	PromSample	s;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (!prom_is_prometheus_api(config->connector))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("server \"%s\" does not answer PromQL", server),
				 errdetail("Its kind is %s.", config->connector->kind),
				 errhint("Use a server of mesh_prometheus or mesh_victoriametrics.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	conn = mesh_get_connection(config);
	mesh_connection_begin_use(config);
	prom_run(conn, q, &result);
	while (prom_result_next(&result, &s))
	{
		if (result.type == PROM_STRING)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("the query returned a string, not samples"),
					 errhint("Read string results with mesh.execute.")));
		if (s.new_series)
			values[0] = JsonbPGetDatum(prom_labels_jsonb(s.labels, result.server));
		values[1] = TimestampTzGetDatum(s.ts);
		values[2] = Float8GetDatum(prom_value_float8(s.value, result.server));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	mesh_connection_end_use(config);
	return (Datum) 0;
}

/* mesh.promql(server, query, at): an instant query; one row per series. */
Datum
mesh_promql(PG_FUNCTION_ARGS)
{
	PromQuery	q;

	memset(&q, 0, sizeof(q));
	q.promql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	q.has_time = true;
	q.time = PG_GETARG_TIMESTAMPTZ(2);
	return promql_rows(fcinfo, NameStr(*PG_GETARG_NAME(0)), &q);
}

/* mesh.promql_range(server, query, start, stop, step): one row per sample. */
Datum
mesh_promql_range(PG_FUNCTION_ARGS)
{
	Interval   *step = PG_GETARG_INTERVAL_P(4);
	PromQuery	q;

	memset(&q, 0, sizeof(q));
	q.promql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	q.range = true;
	q.start = PG_GETARG_TIMESTAMPTZ(2);
	q.end = PG_GETARG_TIMESTAMPTZ(3);
	if (step->month != 0 || pg_mul_s64_overflow(step->day, USECS_PER_DAY, &q.step_us) ||
		pg_add_s64_overflow(q.step_us, step->time, &q.step_us) || q.step_us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid step for mesh.promql_range: %s",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(step)))),
				 errdetail("Allowed: a positive interval of days, hours, minutes and seconds (no months or years).")));
	return promql_rows(fcinfo, NameStr(*PG_GETARG_NAME(0)), &q);
}

static void
bad_param(const char *name, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid parameter \"%s\" for a PromQL query: %s", name, why),
			 errhint("Parameters: time (instant query), or start, step and optionally end (range query): timestamps as text or Unix seconds, step as a duration such as '15s' or seconds; any other scalar is sent as a form field.")));
}

static void
param_context(void *arg)
{
	errcontext("parameter \"%s\" of a PromQL query", (const char *) arg);
}

/* A time parameter: a JSON number of Unix seconds or timestamptz text. */
static TimestampTz
param_time(const char *name, JsonbValue *v)
{
	if (v->type == jbvNumeric)
	{
		double		secs = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															  NumericGetDatum(v->val.numeric)));

		if (!isfinite(secs) || fabs(secs) > 9.0e12)
			bad_param(name, "out of range");
		return (TimestampTz) rint(secs * USECS_PER_SEC) -
			((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	}
	if (v->type == jbvString)
	{
		ErrorContextCallback cb;
		TimestampTz t;

		cb.callback = param_context;
		cb.arg = (void *) name;
		cb.previous = error_context_stack;
		error_context_stack = &cb;
		t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													CStringGetDatum(pnstrdup(v->val.string.val,
																			 v->val.string.len)),
													ObjectIdGetDatum(InvalidOid),
													Int32GetDatum(-1)));
		error_context_stack = cb.previous;
		return t;
	}
	bad_param(name, "expected a timestamp (text) or Unix seconds (number)");
	return 0;
}

/* The text of a scalar parameter value. */
static char *
param_text(const char *name, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			bad_param(name, "expected a string, number or boolean");
	}
	return NULL;
}

/* Fill q's times, step and extra form fields from the params object. */
static void
read_params(Jsonb *params, PromQuery *q)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		has_start = false,
				has_end = false,
				has_step = false;

	if (params == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		bad_param("params", "expected a JSON object");
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(name, "time") == 0)
		{
			q->has_time = true;
			q->time = param_time(name, &v);
		}
		else if (strcmp(name, "start") == 0)
		{
			has_start = true;
			q->start = param_time(name, &v);
		}
		else if (strcmp(name, "end") == 0)
		{
			has_end = true;
			q->end = param_time(name, &v);
		}
		else if (strcmp(name, "step") == 0)
		{
			has_step = true;
			if (!prom_parse_step(param_text(name, &v), &q->step_us))
				bad_param(name, "expected a positive duration such as '15s' or a number of seconds");
		}
		else if (strcmp(name, "query") == 0)
			bad_param(name, "the query is the request text");
		else
			q->extra = lappend(q->extra, makeDefElem(name, (Node *) makeString(param_text(name, &v)), -1));
	}
	if (!has_start && !has_end && !has_step)
		return;
	if (q->has_time)
		bad_param("time", "an instant query (time) cannot have start, end or step");
	if (!has_start || !has_step)
		bad_param(has_start ? "step" : "start", "a range query needs start and step");
	q->range = true;
	if (!has_end)
		q->end = GetCurrentTransactionStartTimestamp();
}

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
}

/* One sample as {"labels": {...}, "ts": "...", "value": number or string}. */
static Jsonb *
sample_jsonb(PromResult *r, PromSample *s, Jsonb *labels)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	char	   *ts = JsonEncodeDateTime(NULL, TimestampTzGetDatum(s->ts), TIMESTAMPTZOID, NULL);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "labels");
	v.type = jbvBinary;
	v.val.binary.data = &labels->root;
	v.val.binary.len = VARSIZE(labels) - VARHDRSZ;
	pushJsonbValue(&state, WJB_VALUE, &v);
	push_key(&state, "ts");
	v.type = jbvString;
	v.val.string.val = ts;
	v.val.string.len = strlen(ts);
	pushJsonbValue(&state, WJB_VALUE, &v);
	push_key(&state, "value");
	if (r->type != PROM_STRING && isfinite(prom_value_float8(s->value, r->server)))
	{
		v.type = jbvNumeric;
		v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
															CStringGetDatum(s->value),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
	}
	else
	{
		/* strings, NaN and infinities (not JSON numbers) as sent */
		v.type = jbvString;
		v.val.string.val = pg_any_to_server(s->value, strlen(s->value), PG_UTF8);
		v.val.string.len = strlen(v.val.string.val);
	}
	pushJsonbValue(&state, WJB_VALUE, &v);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * mesh.execute(server, promql, params): an instant query, or a range query
 * when params has start/step; one jsonb row per sample.
 */
List *
prom_execute(void *conn, const char *request, Jsonb *params)
{
	PromQuery	q;
	PromResult	result;
	PromSample	s;
	Jsonb	   *labels = NULL;
	List	   *rows = NIL;

	memset(&q, 0, sizeof(q));
	q.promql = request;
	read_params(params, &q);
	prom_run(conn, &q, &result);
	while (prom_result_next(&result, &s))
	{
		if (s.new_series)
			labels = prom_labels_jsonb(s.labels, result.server);
		rows = lappend(rows, sample_jsonb(&result, &s, labels));
	}
	return rows;
}
