/*
 * drop_guard.c: DROP EXTENSION mesh (or DROP SCHEMA mesh) is refused while
 * routes have events not delivered yet, unless mesh.drop_discards_pending
 * is on.
 *
 * The check is an event trigger on ddl_command_start (sql/mesh.sql): it
 * fires before anything is dropped, in every session whether or not mesh
 * is preloaded (calling the trigger's C function loads the library), and
 * it sees the parse tree, so it knows which extensions or schemas the
 * statement names.  (sql_drop fires too late: the extension's event
 * triggers and tables are gone by then.)
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "mesh.h"

PG_FUNCTION_INFO_V1(mesh_guard_drop);

/* Does the DROP statement name mesh (the extension, or its schema)? */
static bool
drops_mesh(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_EXTENSION && stmt->removeType != OBJECT_SCHEMA)
		return false;
	foreach(lc, stmt->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "mesh") == 0)
			return true;
	}
	return false;
}

/*
 * The event trigger: error when the statement drops mesh while routes have
 * pending events (the routes and counts in the detail); a WARNING with the
 * same facts when mesh.drop_discards_pending lets it discard them.
 */
Datum
mesh_guard_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	int64		routes = 0;
	int64		pending = 0;
	char	   *list = NULL;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "mesh_guard_drop: not called by the event trigger manager");
	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree == NULL || !IsA(trigdata->parsetree, DropStmt) ||
		!drops_mesh((DropStmt *) trigdata->parsetree))
		PG_RETURN_VOID();

	SPI_connect();
	if (SPI_execute("SELECT count(*), sum(p.pending)::bigint,"
					" string_agg(format('%s to %s (%s)', r.source, r.target, p.pending), ', '"
					"            ORDER BY r.id)"
					" FROM mesh.route r CROSS JOIN LATERAL mesh._route_pending(r.id) p"
					" WHERE p.pending > 0", true, 0) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		bool		isnull;
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HeapTuple	tup = SPI_tuptable->vals[0];
		Datum		d;

		routes = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		pending = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		if (!isnull)
			list = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, TextDatumGetCString(d));
	}
	SPI_finish();
	if (pending == 0)
		PG_RETURN_VOID();
	if (mesh_drop_discards_pending)
		ereport(WARNING,
				(errmsg("dropping mesh discards " INT64_FORMAT " undelivered events of " INT64_FORMAT " routes",
						pending, routes),
				 errdetail("Routes with undelivered events (source to target (events)): %s.", list)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot drop mesh: " INT64_FORMAT " events of " INT64_FORMAT " routes are not delivered yet",
						pending, routes),
				 errdetail("Routes with undelivered events (source to target (events)): %s.", list),
				 errhint("Wait until they are delivered (SELECT mesh.wait_for_sync()), or set mesh.drop_discards_pending to on to discard them.")));
	PG_RETURN_VOID();
}
