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
 * the rows are in SPI_tuptable.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "mesh_util.h"

int
mesh_statement_run(MeshStatement *st, Datum *values, const char *nulls, long count)
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
	return SPI_execute_plan(st->plan, values, nulls, false, count);
}
