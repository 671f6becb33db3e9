/*
 * delivery.c: delivering events to a target, and recording the outcome.
 *
 * Every sink runs on the sink engine (sink_engine.c), which judges every
 * item: acknowledged, refused (a dead letter, recorded here) or unknown
 * (retried later).  A transient error (connection lost, timeout, overload,
 * a target table or column missing until an operator fixes it) leaves the
 * rest of the chunk unknown; the route retries it after a backoff.  Since
 * every write is idempotent, sending part of a chunk again is harmless.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mesh.h"
#include "mesh_util.h"

/* Transient errors are retried; anything else dead-letters the event. */
bool
mesh_error_is_transient(MeshRoute *route, ErrorData *edata)
{
	int			code = edata->sqlerrcode;
	const MeshConnector *c = route->config ? route->config->connector : NULL;

	switch (ERRCODE_TO_CATEGORY(code))
	{
		case ERRCODE_CONNECTION_EXCEPTION:	/* 08: refused, lost */
		case ERRCODE_INSUFFICIENT_RESOURCES:	/* 53 */
		case ERRCODE_OPERATOR_INTERVENTION: /* 57: shutdown, timeout */
		case ERRCODE_TRANSACTION_ROLLBACK:	/* 40: deadlock, serialization */
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:	/* 28: fix the mapping */
		case ERRCODE_INVALID_CATALOG_NAME:	/* 3D: database missing */
			return true;
	}
	if (code == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION ||
		code == ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED ||	/* password required */
		code == ERRCODE_UNDEFINED_TABLE || code == ERRCODE_UNDEFINED_COLUMN ||
		code == ERRCODE_INSUFFICIENT_PRIVILEGE || code == ERRCODE_UNDEFINED_OBJECT)
		return true;			/* the target is not ready: wait for a fix */
	return c && mesh_connector_classify(c, code, edata->message) == MESH_ERROR_TRANSIENT;
}

/*
 * Deliver events[0..n) in order through the route's sink engine
 * (sink_engine.c); out says how far they settled.
 */
void
mesh_apply_events(MeshRoute *route, MeshEvent *events, int n, ApplyOutcome *out)
{
	void	   *conn = NULL;

	mesh_sink_apply(route, &conn, events, n, out);
	if (conn != NULL)
		mesh_connection_end_use(route->config);
}

/* An event's primary key as a jsonb object, for dead letters. */
Jsonb *
mesh_event_key_jsonb(MeshRoute *route, MeshEvent *ev)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int k = 0; k < route->nkeys; k++)
	{
		JsonbValue	v;
		const char *name = route->columns[route->key_index[k]];
		const char *val = ev->values ? ev->values[route->key_index[k]] : NULL;

		v.type = jbvString;
		v.val.string.val = (char *) name;
		v.val.string.len = strlen(name);
		pushJsonbValue(&state, WJB_KEY, &v);
		if (val == NULL)
			v.type = jbvNull;
		else
		{
			v.val.string.val = (char *) val;
			v.val.string.len = strlen(val);
		}
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * Insert dead letters, one per (event, key): a backfill's rows share one
 * event id (inside the caller's transaction, SPI connected).
 */
void
mesh_record_dead(MeshRoute *route, MeshEvent *events, List *dead)
{
	ListCell   *lc;

	foreach(lc, dead)
	{
		DeadEvent  *d = lfirst(lc);
		MeshEvent  *ev = &events[d->index];
		static MeshStatement insert_dead = {
			"INSERT INTO mesh.dead_letter_store (route, event_id, op, key, error, public_error)"
			" VALUES ($1, $2, $3, $4, $5, $6)"
			" ON CONFLICT (route, event_id, key) DO UPDATE"
			" SET error = EXCLUDED.error, public_error = EXCLUDED.public_error,"
			" attempts = mesh.dead_letter_store.attempts + 1,"
			" failed_at = now(), retry = false",
		6, {INT8OID, INT8OID, CHAROID, JSONBOID, TEXTOID, TEXTOID}};
		Datum		values[6];

		values[0] = Int64GetDatum(route->id);
		values[1] = Int64GetDatum(ev->id);
		values[2] = CharGetDatum(ev->op);
		values[3] = JsonbPGetDatum(mesh_event_key_jsonb(route, ev));
		values[4] = CStringGetTextDatum(d->error);
		values[5] = CStringGetTextDatum(d->public_error);
		mesh_statement_run(&insert_dead, values, NULL, 0);
	}
}

/* Count delivered events (inside the caller's transaction, SPI connected). */
void
mesh_record_stats(int64 route_id, int delivered, TimestampTz last_event_at)
{
	static MeshStatement count = {
		"UPDATE mesh.route_stats SET delivered = delivered + $2,"
		" last_delivered_at = CASE WHEN $2 > 0 THEN now() ELSE last_delivered_at END,"
		" last_event_at = COALESCE($3, last_event_at),"
		" last_error = NULL"
		" WHERE route_id = $1", 3, {INT8OID, INT8OID, TIMESTAMPTZOID}};
	Datum		values[3] = {Int64GetDatum(route_id), Int64GetDatum(delivered),
	TimestampTzGetDatum(last_event_at)};
	char		nulls[3] = {' ', ' ', last_event_at == 0 ? 'n' : ' '};

	mesh_statement_run(&count, values, nulls, 0);
}

/*
 * Lock the route's row (FOR KEY SHARE) at the start of a worker's write
 * transaction, so a concurrent mesh.unreplicate (which deletes the row and,
 * by cascade, its cursor and stats) waits or wins cleanly, never deadlocks.
 */
void
mesh_lock_route(int64 route_id)
{
	static MeshStatement lock = {
	"SELECT 1 FROM mesh.route WHERE id = $1 FOR KEY SHARE", 1, {INT8OID}};
	Datum		values[1] = {Int64GetDatum(route_id)};

	mesh_statement_run(&lock, values, NULL, 0);
}

/*
 * Record a failed attempt in its own transaction.  error is shown in
 * mesh.stats, /metrics and the status page: pass mesh_redact_error's form.
 */
void
mesh_record_failure(int64 route_id, const char *error)
{
	static MeshStatement count = {
		"UPDATE mesh.route_stats SET failed = failed + 1,"
	" last_error = $2, last_error_at = now() WHERE route_id = $1", 2, {INT8OID, TEXTOID}};
	Datum		values[2] = {Int64GetDatum(route_id), CStringGetTextDatum(error)};

	mesh_worker_spi_begin();
	mesh_lock_route(route_id);
	mesh_statement_run(&count, values, NULL, 0);
	mesh_worker_spi_commit();
}
