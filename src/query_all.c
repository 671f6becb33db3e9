/*
 * query_all.c: mesh.query_all(source, key) asks every route of a table for
 * the row of one key, and shows the local row next to the answers.
 *
 * Targets whose connector splits its verify read into one HTTP request
 * and its answer (fetch_request/fetch_answer) are asked at once: every request is
 * started, then the others (Redis, PostgreSQL: fetch_rows, quick) are
 * asked one after another while those are in flight, then the HTTP
 * answers are collected as they arrive.  So the call takes about as long
 * as the slowest target, each bounded by its server's timeout_ms.  A
 * failing target is a row with its error (each step runs in a
 * subtransaction), never an exception.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "http.h"
#include "mesh.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_query_all);

typedef struct Asked
{
	MeshRoute  *route;
	char	  **key;
	void	   *conn;
	MeshHttp   *http;			/* set while an HTTP lookup is in flight */
	MeshHttpRequest req;
	MeshHttpResponse resp;
	bool		done;
	char	  **rows[1];		/* fetch_answer's result */
	char	  **row;
	char	   *error;
	struct timespec started;
	double		latency_ms;
} Asked;

typedef void (*AskStep) (Asked *a);

/* Run step for a in a subtransaction; an error ends a with that error. */
static void
guarded(Asked *a, AskStep step)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		step(a);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		a->error = ed->detail ? psprintf("%s: %s", ed->message, ed->detail) : ed->message;
		a->done = true;
		a->http = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (a->done && a->latency_ms < 0)
		a->latency_ms = mesh_elapsed_ms(&a->started);
}

static void
step_start(Asked *a)
{
	const MeshConnector *c = a->route->config->connector;

	a->conn = mesh_get_connection(a->route->config);
	if (c->fetch_request && c->fetch_answer && c->http_setup)
	{
		char	  **keys[1] = {a->key};

		a->http = mesh_http_conn_client(a->conn);
		c->fetch_request(a->conn, a->route, 1, keys, &a->req);
		a->req.accept_error = true;
		mesh_http_begin(a->http, &a->req, &a->resp);
	}
}

static void
step_fetch(Asked *a)
{
	char	  **keys[1] = {a->key};
	char	  **rows[1] = {NULL};

	if (a->route->config->connector->fetch_rows == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s targets cannot be read by key", a->route->config->connector->kind)));
	mesh_connection_begin_use(a->route->config);
	a->route->config->connector->fetch_rows(a->conn, a->route, 1, keys, rows);
	mesh_connection_end_use(a->route->config);
	a->row = rows[0];
	a->done = true;
}

static void
step_progress(Asked *a)
{
	char	  **keys[1] = {a->key};
	MeshHttpStream answer;

	if (!mesh_http_progress(a->http, &a->req, &a->resp))
		return;
	mesh_http_stream_of(&answer, a->http, &a->resp, a->req.what);
	a->http = NULL;
	a->route->config->connector->fetch_answer(a->conn, a->route, 1, keys, &answer, a->rows);
	a->row = a->rows[0];
	a->done = true;
}

/* The row (text values aligned with route columns) as a jsonb object. */
static Jsonb *
row_jsonb(MeshRoute *route, char **row)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < route->ncolumns; i++)
	{
		const char *v = row[i];
		Oid			t = getBaseType(route->types[i]);

		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, route->columns[i]);
		appendStringInfoChar(&buf, ':');
		if (v == NULL)
			appendStringInfoString(&buf, "null");
		else if ((t == INT2OID || t == INT4OID || t == INT8OID || t == NUMERICOID ||
				  t == FLOAT4OID || t == FLOAT8OID) && strspn(v, "0123456789.-+eE") == strlen(v) &&
				 *v && v[strlen(v) - 1] >= '0' && v[strlen(v) - 1] <= '9')
			appendStringInfoString(&buf, v);
		else if (t == BOOLOID)
			appendStringInfoString(&buf, (v[0] == 't' || v[0] == 'T') ? "true" : "false");
		else if (t == JSONOID || t == JSONBOID)
			appendStringInfoString(&buf, v);
		else
			escape_json(&buf, v);
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * Key column k's value as the text capture stores for it (so that
 * '2026-01-01T00:00:00Z' finds the row of '2026-01-01 00:00:00+00'); a
 * value that is not of the column's type is that type's error.
 */
static char *
normalized_key_value(MeshRoute *route, int k, const char *text)
{
	Oid			typid = route->types[route->key_index[k]];
	Oid			in,
				ioparam,
				out;
	bool		isvarlena;

	getTypeInputInfo(typid, &in, &ioparam);
	getTypeOutputInfo(typid, &out, &isvarlena);
	return OidOutputFunctionCall(out, OidInputFunctionCall(in, (char *) text, ioparam, -1));
}

/* The key as text values of the primary key columns: one value, or a JSON array. */
static char **
split_key(MeshRoute *route, const char *key)
{
	char	  **values = palloc0(sizeof(char *) * Max(route->nkeys, 1));
	Jsonb	   *arr;

	if (route->nkeys == 1)
	{
		values[0] = normalized_key_value(route, 0, key);
		return values;
	}
	arr = key[strspn(key, " \t\n")] == '[' ?
		DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(key))) : NULL;
	if (arr == NULL || !JB_ROOT_IS_ARRAY(arr) || JB_ROOT_IS_SCALAR(arr) || JB_ROOT_COUNT(arr) != route->nkeys)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the primary key of %s has %d columns", route->source_name, route->nkeys),
				 errhint("Pass the key as a JSON array of %d values, e.g. '[\"a\", 1]'.",
						 route->nkeys)));
	for (int k = 0; k < route->nkeys; k++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(&arr->root, k);

		if (v->type == jbvString)
			values[k] = pnstrdup(v->val.string.val, v->val.string.len);
		else if (v->type == jbvNumeric)
			values[k] = DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v->val.numeric)));
		else if (v->type == jbvBool)
			values[k] = v->val.boolean ? "true" : "false";
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key value %d is not a string, number or boolean", k + 1)));
		values[k] = normalized_key_value(route, k, values[k]);
	}
	return values;
}

/* The local row of key, as jsonb of text forms like the replicas' rows, or NULL. */
static Jsonb *
local_row(MeshRoute *route, char **key)
{
	StringInfoData sql;
	Oid		   *types = palloc(sizeof(Oid) * route->nkeys);
	Datum	   *args = palloc(sizeof(Datum) * route->nkeys);
	Jsonb	   *result = NULL;
	MemoryContext outer = CurrentMemoryContext;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT * FROM %s t WHERE true",
					 quote_qualified_identifier(route->source_schema, route->source_name));
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];

		appendStringInfo(&sql, " AND %s = $%d::text::%s", quote_identifier(route->columns[c]),
						 k + 1, route->type_names[c]);
		types[k] = TEXTOID;
		args[k] = CStringGetTextDatum(key[k]);
	}
	SPI_connect();
	SPI_execute_with_args(sql.data, route->nkeys, types, args, NULL, true, 1);
	if (SPI_processed == 1)
	{
		char	  **values = mesh_route_row_values(route, SPI_tuptable->tupdesc,
												   SPI_tuptable->vals[0]);
		MemoryContext old = MemoryContextSwitchTo(outer);

		result = row_jsonb(route, values);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

static void
put_row(ReturnSetInfo *rsinfo, const char *server, const char *kind, const char *role,
		bool found, Jsonb *value, double latency_ms, const char *error)
{
	Datum		values[7];
	bool		nulls[7] = {false};

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(server));
	values[1] = CStringGetTextDatum(kind);
	values[2] = CStringGetTextDatum(role);
	values[3] = BoolGetDatum(found);
	nulls[3] = error != NULL;
	values[4] = JsonbPGetDatum(value);
	nulls[4] = value == NULL;
	values[5] = Float8GetDatum(latency_ms);
	nulls[5] = latency_ms < 0;
	values[6] = error ? CStringGetTextDatum(error) : (Datum) 0;
	nulls[6] = error == NULL;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* mesh.query_all(source regclass, key text) */
Datum
mesh_query_all(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AclResult	acl = pg_class_aclcheck(source, GetUserId(), ACL_SELECT);
	List	   *routes;
	Asked	   *asked;
	MeshHttp  **https;
	int			n;
	int			i = 0;
	ListCell   *lc;
	struct timespec t0;
	Jsonb	   *local;
	int			canonical;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(source));
	InitMaterializedSRF(fcinfo, 0);
	/* keys and values in the text forms capture stores (ISO, UTC) */
	canonical = mesh_canonical_output_begin();
	routes = mesh_routes_of(source);
	n = list_length(routes);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not replicated", get_rel_name(source)),
				 errhint("mesh.query_all asks the replicas of a table declared with mesh.replicate().")));
	asked = palloc0(sizeof(Asked) * n);
	https = palloc0(sizeof(MeshHttp *) * n);
	foreach(lc, routes)
	{
		Asked	   *a = &asked[i++];

		a->route = lfirst(lc);
		a->key = split_key(a->route, key);
		a->latency_ms = -1;
	}
	mesh_now(&t0);
	local = local_row(asked[0].route, asked[0].key);
	put_row(rsinfo, get_database_name(MyDatabaseId), "local", "primary", local != NULL,
			local, mesh_elapsed_ms(&t0), NULL);

	/* start every HTTP lookup, then ask the others while those fly */
	for (i = 0; i < n; i++)
	{
		mesh_now(&asked[i].started);
		guarded(&asked[i], step_start);
	}
	for (i = 0; i < n; i++)
		if (!asked[i].done && asked[i].http == NULL)
		{
			mesh_now(&asked[i].started);
			guarded(&asked[i], step_fetch);
		}
	for (;;)
	{
		int			pending = 0;

		for (i = 0; i < n; i++)
			if (!asked[i].done)
			{
				guarded(&asked[i], step_progress);
				https[i] = asked[i].done ? NULL : asked[i].http;
				pending += !asked[i].done;
			}
		if (pending == 0)
			break;
		mesh_http_wait(https, n, 50);
	}
	for (i = 0; i < n; i++)
	{
		Asked	   *a = &asked[i];

		put_row(rsinfo, a->route->target, a->route->config->connector->kind, a->route->role,
				a->row != NULL, a->row ? row_jsonb(a->route, a->row) : NULL, a->latency_ms,
				a->error);
	}
	mesh_canonical_output_end(canonical);
	return (Datum) 0;
}
