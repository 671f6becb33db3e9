/*
 * schema_change.c: what the capture triggers cannot see of a replicated
 * table's ALTER TABLE.
 *
 * The ddl_command_end trigger (mesh._on_alter_table, sql/mesh.sql) compares
 * the table's columns with those its events carried so far and, on a
 * difference, writes a marker event (op 'S', mesh_write_marker) and a row
 * of mesh.schema_change.  Whether rows changed without capture seeing them
 * depends on whether the table was rewritten; the table_rewrite trigger
 * below remembers the tables this transaction rewrote, and
 * mesh._was_rewritten asks.
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "mesh.h"

PG_FUNCTION_INFO_V1(mesh_on_rewrite);
PG_FUNCTION_INFO_V1(mesh_was_rewritten);

/* The tables the transaction rewrote (in TopTransactionContext). */
static List *rewritten = NIL;
static LocalTransactionId rewritten_lxid = InvalidLocalTransactionId;

/* The table_rewrite event trigger: remember the table. */
Datum
mesh_on_rewrite(PG_FUNCTION_ARGS)
{
	LOCAL_FCINFO(inner, 0);
	Oid			relid;
	MemoryContext old;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "mesh_on_rewrite: not called by the event trigger manager");
	InitFunctionCallInfoData(*inner, NULL, 0, InvalidOid, NULL, NULL);
	relid = DatumGetObjectId(pg_event_trigger_table_rewrite_oid(inner));
	if (rewritten_lxid != MyProc->lxid)
	{
		rewritten = NIL;		/* the list of an earlier transaction: freed with it */
		rewritten_lxid = MyProc->lxid;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	rewritten = list_append_unique_oid(rewritten, relid);
	MemoryContextSwitchTo(old);
	PG_RETURN_NULL();
}

/* mesh._was_rewritten(rel): whether this transaction rewrote rel. */
Datum
mesh_was_rewritten(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	PG_RETURN_BOOL(rewritten_lxid == MyProc->lxid && list_member_oid(rewritten, relid));
}
