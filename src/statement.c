/*
 * statement.c: SQL statements of the delivery workers, planned once per
 * process.
 *
 * A worker runs the same few statements for every route's turn; parsing,
 * analysing and planning them each time was more than half of its CPU
 * (perf of the pool at 10 routes and 10 events/s each).  A MeshStatement
 * is declared static at its call site and prepared on its first run
 * (SPI_keepplan); PostgreSQL's plan cache analyses and plans it again when
 * a table it names changes (DROP/CREATE EXTENSION included).
 *
 * Contract: SPI connected, inside a transaction.  Runs with read_only =
 * false, so every statement takes a fresh snapshot (the cursor protocol of
 * route_worker.c depends on it).  Returns what SPI_execute_plan returns;
 * the rows are in SPI_tuptable (mesh_statement_run_into: in a DestReceiver).
 */
#include "postgres.h"

#include "executor/spi.h"
#include "nodes/params.h"

#include "mesh_util.h"

static void
prepare(MeshStatement *st)
{
	if (st->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(st->sql, st->nargs, st->argtypes);

		if (plan == NULL)
			elog(ERROR, "mesh: preparing \"%s\" failed: %s", st->sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		st->plan = plan;
	}
}

int
mesh_statement_run(MeshStatement *st, Datum *values, const char *nulls, long count)
{
	prepare(st);
	return SPI_execute_plan(st->plan, values, nulls, false, count);
}

/*
 * As mesh_statement_run, but the rows go to dest, one slot at a time,
 * instead of being copied into SPI_tuptable; dest may stop the scan
 * (receiveSlot returning false).
 */
int
mesh_statement_run_into(MeshStatement *st, Datum *values, const char *nulls, long count,
						DestReceiver *dest)
{
	SPIExecuteOptions options = {0};
	ParamListInfo params = makeParamList(st->nargs);

	prepare(st);
	for (int i = 0; i < st->nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls != NULL && nulls[i] == 'n';
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = st->argtypes[i];
	}
	options.params = params;
	options.read_only = false;
	options.tcount = count;
	options.dest = dest;
	return SPI_execute_plan_extended(st->plan, &options);
}
