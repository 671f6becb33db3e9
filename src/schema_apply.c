/*
 * schema_apply.c: a route meets its table's schema changes in order.
 *
 * Events carry the columns they were captured with: those of the table
 * until the next schema change (mesh.schema_change, before).  A round
 * decodes and writes its events with that column set (mesh_schema_route),
 * so an event from before a DROP, ADD or RENAME COLUMN is applied as it was
 * captured, never with columns that did not exist yet or a dropped column's
 * successor of the same name.
 *
 * A round never reads past a marker (op 'S'); a marker alone is handled by
 * mesh_schema_marker once every event before it is delivered:
 *   1. the target is made ready for the new columns: with the route option
 *      add_columns, the sink adds the columns the table gained; then the
 *      sink's prepare checks that the target takes the current columns.
 *      If it does not (a column is missing), the route waits at the marker
 *      in state "needs resync", the detail naming the column, and retries
 *      after its backoff: nothing is dead-lettered for a missing column;
 *   2. if rows changed without capture seeing them, the table is copied
 *      again in place at the marker (backfill.c), unless the route's
 *      on_schema_change is 'mark': then it only records that it needs
 *      mesh.resync, whose own marker does the copy.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "mesh.h"
#include "mesh_util.h"

/* Element i of a jsonb array element's array [attnum, name, type oid, type]. */
static JsonbValue *
column_field(JsonbValue *column, int i)
{
	return getIthJsonbValueFromContainer(column->val.binary.data, i);
}

/*
 * route with the columns of a schema_change's before ([[attnum, name, type
 * oid, type], ...]): names and types as captured, keys matched by attnum.
 */
static MeshRoute *
route_for_columns(MeshRoute *route, Jsonb *columns)
{
	MeshRoute  *r = palloc(sizeof(MeshRoute));
	int			n = JB_ROOT_COUNT(columns);

	*r = *route;
	r->private = NULL;			/* the connector's cache describes other columns */
	r->ncolumns = 0;
	r->columns = palloc(sizeof(char *) * Max(n, 1));
	r->types = palloc(sizeof(Oid) * Max(n, 1));
	r->type_names = palloc(sizeof(char *) * Max(n, 1));
	r->attnums = palloc(sizeof(AttrNumber) * Max(n, 1));
	r->key_index = palloc(sizeof(int) * Max(route->nkeys, 1));
	r->nkeys = 0;
	for (int i = 0; i < n; i++)
	{
		JsonbValue *col = getIthJsonbValueFromContainer(&columns->root, i);
		JsonbValue *attnum,
				   *name,
				   *type;
		Oid			typid;

		if (col == NULL || col->type != jbvBinary)
			elog(ERROR, "mesh.schema_change of route %lld holds a malformed column list",
				 (long long) route->id);
		attnum = column_field(col, 0);
		name = column_field(col, 1);
		type = column_field(col, 2);
		if (attnum == NULL || attnum->type != jbvNumeric || name == NULL ||
			name->type != jbvString || type == NULL || type->type != jbvNumeric)
			elog(ERROR, "mesh.schema_change of route %lld holds a malformed column",
				 (long long) route->id);
		typid = DatumGetObjectId(DirectFunctionCall1(numeric_int8, NumericGetDatum(type->val.numeric)));
		if (!SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(typid)))
			typid = TEXTOID;	/* a type dropped since: its text form stays text */
		r->attnums[r->ncolumns] = DatumGetInt16(DirectFunctionCall1(numeric_int2,
																	NumericGetDatum(attnum->val.numeric)));
		r->columns[r->ncolumns] = pnstrdup(name->val.string.val, name->val.string.len);
		r->types[r->ncolumns] = typid;
		r->type_names[r->ncolumns] = format_type_be_qualified(typid);
		r->ncolumns++;
	}
	for (int k = 0; k < route->nkeys; k++)
		for (int c = 0; c < r->ncolumns; c++)
			if (r->attnums[c] == route->attnums[route->key_index[k]])
				r->key_index[r->nkeys++] = c;
	return r;
}

/*
 * The route to decode and write the events after after_id with (SPI
 * connected, in a transaction): route itself, or, when a schema change of
 * its table follows, route with the columns the events carry.
 */
MeshRoute *
mesh_schema_route(MeshRoute *route, int64 after_id, MemoryContext cxt)
{
	static MeshStatement next_change = {
		"SELECT before FROM mesh.schema_change WHERE source = $1 AND event_id > $2"
	" ORDER BY event_id LIMIT 1", 2, {OIDOID, INT8OID}};
	Datum		values[2] = {ObjectIdGetDatum(route->source), Int64GetDatum(after_id)};
	bool		isnull;
	Datum		before;
	MemoryContext old;
	MeshRoute  *r;

	mesh_statement_run(&next_change, values, NULL, 1);
	if (SPI_processed == 0)
		return route;
	before = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	old = MemoryContextSwitchTo(cxt);
	r = route_for_columns(route, DatumGetJsonbPCopy(before));
	MemoryContextSwitchTo(old);
	return r;
}

/*
 * Record the route's schema state in its cursor, in one transaction:
 * schema_error (NULL clears it) and, when set_needs, needs_resync (NULL
 * clears it).
 */
static void
set_schema_state(int64 route_id, const char *schema_error, bool set_needs,
				 const char *needs_resync)
{
	Oid			types[4] = {INT8OID, TEXTOID, BOOLOID, TEXTOID};
	Datum		values[4] = {Int64GetDatum(route_id),
		schema_error ? CStringGetTextDatum(schema_error) : (Datum) 0,
		BoolGetDatum(set_needs),
	needs_resync ? CStringGetTextDatum(needs_resync) : (Datum) 0};
	char		nulls[4] = {' ', schema_error ? ' ' : 'n', ' ', needs_resync ? ' ' : 'n'};

	mesh_worker_spi_begin();
	mesh_lock_route(route_id);
	SPI_execute_with_args("UPDATE mesh.route_cursor SET schema_error = $2,"
						  " needs_resync = CASE WHEN $3 THEN $4 ELSE needs_resync END"
						  " WHERE route_id = $1", 4, types, values, nulls, false, 0);
	mesh_worker_spi_commit();
}

/* The schema change at marker_id, in cxt; false if there is none. */
static bool
load_change(MeshRoute *route, int64 marker_id, MeshSchemaChange *sc, MemoryContext cxt)
{
	Oid			types[2] = {OIDOID, INT8OID};
	Datum		values[2] = {ObjectIdGetDatum(route->source), Int64GetDatum(marker_id)};
	bool		found;

	mesh_worker_spi_begin();
	SPI_execute_with_args("SELECT resync, reason, target::text"
						  " FROM mesh.schema_change WHERE source = $1 AND event_id = $2",
						  2, types, values, NULL, false, 1);
	found = SPI_processed == 1;
	if (found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *target = SPI_getvalue(tup, desc, 3);

		sc->resync = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		sc->reason = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 2));
		sc->manual = target != NULL;
		sc->other_route = target != NULL && strcmp(target, route->target) != 0;
		SPI_execute_with_args("SELECT unnest(added) FROM mesh.schema_change"
							  " WHERE source = $1 AND event_id = $2",
							  2, types, values, NULL, false, 0);
		for (uint64 i = 0; i < SPI_processed; i++)
			sc->added = lappend(sc->added, MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[i],
																				 SPI_tuptable->tupdesc, 1)));
	}
	mesh_worker_spi_commit();
	MemoryContextSwitchTo(cxt);
	return found;
}

/* Whether an error says the target could not be reached (not what it thinks of the columns). */
static bool
unreachable(ErrorData *edata)
{
	switch (ERRCODE_TO_CATEGORY(edata->sqlerrcode))
	{
		case ERRCODE_CONNECTION_EXCEPTION:	/* 08: refused, lost */
		case ERRCODE_INSUFFICIENT_RESOURCES:	/* 53 */
		case ERRCODE_OPERATOR_INTERVENTION: /* 57: shutdown, timeout */
			return true;
	}
	return edata->sqlerrcode == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
}

/*
 * Step 1 of the file comment: the target takes the route's current
 * columns.  On failure: the error (redacted) in *error, *down when the
 * target was not reached at all, false.
 */
static bool
target_takes_columns(MeshRoute *route, MeshSchemaChange *sc, char **error, bool *down,
					 MemoryContext cxt)
{
	const MeshSinkOps *sink = route->config->connector->sink;
	volatile bool in_use = false;
	volatile bool ok = true;
	bool		add = false;

	if (sc->added != NIL && sink->add_column != NULL)
		(void) parse_bool(mesh_route_option(route, "add_columns", "false"), &add);

	if (!add && (sink->prepare == NULL || sink->prepare_offline))
		return true;
	mesh_worker_begin_xact();	/* the sinks read the catalog (types) */
	PG_TRY();
	{
		void	   *conn = mesh_get_connection(route->config);
		ListCell   *lc;

		mesh_connection_begin_use(route->config);
		in_use = true;
		foreach(lc, add ? sc->added : NIL)
		{
			int			c = mesh_route_column_index(route, lfirst(lc));

			if (c >= 0)			/* not dropped or renamed again since */
				sink->add_column(conn, route, c);
		}
		if (sink->prepare != NULL && !sink->prepare_offline)
			sink->prepare(conn, route);
		mesh_connection_end_use(route->config);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (in_use)
			mesh_connection_discard(route->config);
		*error = mesh_redact_edata(edata);
		*down = unreachable(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return ok;
}

/*
 * The marker event marker_id of route (no transaction open): see the file
 * comment.  ROUND_MORE once the route may move past it, ROUND_BACKOFF to
 * retry it later.
 */
MeshRoundResult
mesh_schema_marker(MeshRoute *route, int64 marker_id, MemoryContext cxt)
{
	MeshSchemaChange sc = {0};
	char	   *error = NULL;
	bool		down = false;

	if (!load_change(route, marker_id, &sc, cxt) || sc.other_route)
		return ROUND_MORE;
	if (!target_takes_columns(route, &sc, &error, &down, cxt))
	{
		char	   *why = psprintf("%s; the target does not take the new columns: %s",
								   sc.reason, error);

		if (down)
			mesh_record_failure(route->id, error);	/* backing off, as for any write */
		else
		{
			set_schema_state(route->id, why, false, NULL);
			mesh_record_failure(route->id, why);
		}
		return ROUND_BACKOFF;
	}
	if (sc.resync && !sc.manual &&
		strcmp(mesh_route_option(route, "on_schema_change", "resync"), "mark") == 0)
	{
		set_schema_state(route->id, NULL, true,
						 psprintf("%s; run mesh.resync(%s, %s) to copy the table again", sc.reason,
								 quote_literal_cstr(quote_qualified_identifier(route->source_schema,
																			   route->source_name)),
								 quote_literal_cstr(route->target)));
		return ROUND_MORE;
	}
	if (sc.resync && mesh_backfill(route, marker_id) < 0)
		return ROUND_BACKOFF;
	set_schema_state(route->id, NULL, sc.resync, NULL);
	return ROUND_MORE;
}
