/*
 * health.c: mesh.health(timeout_ms) pings every mesh backend at once.
 *
 * Each connector starts a non-blocking ping; one poll() loop drives them
 * all, so the call takes about as long as the slowest answer and never
 * more than timeout_ms.  A failure is a row with ok = false, never an
 * exception.  The database worker runs the same checks every
 * mesh.health_interval for the metrics endpoint (see metrics_collect.c),
 * stepping them between deliveries, so a backend that never answers does
 * not hold up the routes.
 */
#include "postgres.h"

#include <poll.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_foreign_server.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/tuplestore.h"

#include "connector.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_health);

/* The oids of every foreign server whose wrapper is a mesh connector. */
List *
mesh_backend_servers(void)
{
	Relation	rel = table_open(ForeignServerRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	List	   *result = NIL;

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_foreign_server srv = (Form_pg_foreign_server) GETSTRUCT(tup);
		ForeignDataWrapper *fdw = GetForeignDataWrapper(srv->srvfdw);

		if (mesh_connector_by_fdw(fdw->fdwname) != NULL)
			result = lappend_oid(result, srv->oid);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/* Pings under way (see mesh_health_start). */
struct MeshHealthRound
{
	MeshHealth *items;
	int			n;
	int			timeout_ms;
	struct timespec start;
	struct timespec *started;	/* per item */
	bool	   *running;		/* per item: ping_start was called */
	struct pollfd *fds;
	int		   *which;			/* fds[k] belongs to items[which[k]] */
	MemoryContext cxt;			/* where the round and the answers live */
	bool		finished;
};

/*
 * Start pinging items[0..n) (each with ping.config set by the caller),
 * allocating in the current memory context, which must live until the
 * round is finished.  Needs no transaction (connectors' pings touch no
 * catalog).  Drive it with mesh_health_step.
 */
MeshHealthRound *
mesh_health_start(MeshHealth *items, int n, int timeout_ms)
{
	MeshHealthRound *r = palloc0(sizeof(MeshHealthRound));

	r->items = items;
	r->n = n;
	r->timeout_ms = timeout_ms;
	r->started = palloc0(sizeof(struct timespec) * Max(n, 1));
	r->running = palloc0(sizeof(bool) * Max(n, 1));
	r->fds = palloc(sizeof(struct pollfd) * Max(n, 1));
	r->which = palloc(sizeof(int) * Max(n, 1));
	r->cxt = CurrentMemoryContext;
	for (int i = 0; i < n; i++)
	{
		items[i].ping.fd = -1;
		items[i].latency_ms = -1;
	}
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			MeshHealth *it = &items[i];
			const MeshPingOps *ops = mesh_connector_ping(it->ping.config->connector);

			mesh_now(&r->started[i]);
			if (ops == NULL)
			{
				it->ping.done = true;
				it->ping.error = pstrdup("health checks are not supported");
				continue;
			}
			r->running[i] = true;
			ops->ping_start(&it->ping);
		}
		mesh_now(&r->start);	/* every ping gets at least timeout_ms */
	}
	PG_CATCH();
	{
		mesh_health_abandon(r);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return r;
}

/* Free the connectors' state of every ping started (also unfinished ones). */
void
mesh_health_abandon(MeshHealthRound *r)
{
	if (r->finished)
		return;
	r->finished = true;
	for (int i = 0; i < r->n; i++)
	{
		const MeshPingOps *ops;

		if (!r->running[i])
			continue;			/* no health capability: nothing started */
		ops = mesh_connector_ping(r->items[i].ping.config->connector);
		if (ops->ping_finish)
			ops->ping_finish(&r->items[i].ping);
	}
}

/*
 * Drive the round for at most wait_ms (0: only what is ready now).  True
 * once it is finished: every item has ping.ok, ping.version/ping.error and
 * latency_ms (a ping that had not answered by timeout_ms failed with "no
 * answer"), and the connectors' state is freed.  A latency is measured to
 * when a step saw the answer.
 */
bool
mesh_health_step(MeshHealthRound *r, int wait_ms)
{
	MemoryContext old;
	struct timespec step_start;
	bool		first = true;

	if (r->finished)
		return true;
	mesh_now(&step_start);
	old = MemoryContextSwitchTo(r->cxt);
	for (;;)
	{
		int			nfds = 0;
		double		left = r->timeout_ms - mesh_elapsed_ms(&r->start);
		double		step_left = wait_ms - mesh_elapsed_ms(&step_start);
		int			timers = 0;

		for (int i = 0; i < r->n; i++)
		{
			MeshPing   *ping = &r->items[i].ping;

			if (ping->done)
			{
				if (r->items[i].latency_ms < 0)
					r->items[i].latency_ms = mesh_elapsed_ms(&r->started[i]);
				continue;
			}
			if (ping->fd < 0)
				timers++;		/* no socket yet: continue on a short timer */
			r->fds[nfds].fd = ping->fd;
			r->fds[nfds].events = ping->want_write ? POLLOUT : POLLIN;
			r->fds[nfds].revents = 0;
			r->which[nfds++] = i;
		}
		if (nfds == 0 || left <= 0)
			break;
		if (!first && step_left <= 0)
		{
			MemoryContextSwitchTo(old);
			return false;
		}
		first = false;
		CHECK_FOR_INTERRUPTS();
		if (poll(r->fds, nfds, (int) Max(0, Min(Min(left + 1, step_left), timers ? 5 : 100))) < 0 &&
			errno != EINTR)
			break;
		for (int k = 0; k < nfds; k++)
			if (r->fds[k].revents != 0 || r->fds[k].fd < 0)
			{
				MeshPing   *ping = &r->items[r->which[k]].ping;

				mesh_connector_ping(ping->config->connector)->ping_continue(ping);
			}
	}
	for (int i = 0; i < r->n; i++)
		if (!r->items[i].ping.done)
		{
			r->items[i].ping.ok = false;
			r->items[i].ping.error = psprintf("no answer within %d ms", r->timeout_ms);
			r->items[i].latency_ms = mesh_elapsed_ms(&r->started[i]);
		}
	mesh_health_abandon(r);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Ping items[0..n) at once and wait for the outcome: about as long as the
 * slowest answer, never much more than timeout_ms.
 */
void
mesh_check_health(MeshHealth *items, int n, int timeout_ms)
{
	MeshHealthRound *r = mesh_health_start(items, n, timeout_ms);

	PG_TRY();
	{
		while (!mesh_health_step(r, timeout_ms))
			;
	}
	PG_FINALLY();
	{
		mesh_health_abandon(r);
	}
	PG_END_TRY();
}

/* mesh.health(timeout_ms): one row per backend the caller has USAGE on. */
Datum
mesh_health(PG_FUNCTION_ARGS)
{
	int			timeout_ms = PG_ARGISNULL(0) ? 2000 : PG_GETARG_INT32(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *servers;
	MeshHealth *items;
	int			n;
	ListCell   *lc;
	int			i = 0;

	if (timeout_ms < 1 || timeout_ms > 600000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid timeout_ms: %d", timeout_ms),
				 errdetail("Allowed: 1 to 600000 milliseconds.")));
	InitMaterializedSRF(fcinfo, 0);
	servers = mesh_backend_servers();
	items = palloc0(sizeof(MeshHealth) * Max(list_length(servers), 1));
	/* only servers the caller may use (superusers: all), with its mapping */
	foreach(lc, servers)
		if (pg_foreign_server_aclcheck(lfirst_oid(lc), GetUserId(), ACL_USAGE) == ACLCHECK_OK)
			items[i++].ping.config = mesh_server_config(lfirst_oid(lc), GetUserId());
	n = i;
	mesh_check_health(items, n, timeout_ms);

	for (i = 0; i < n; i++)
	{
		MeshHealth *it = &items[i];
		Datum		values[6];
		bool		nulls[6] = {false};

		values[0] = CStringGetDatum(it->ping.config->servername);
		values[0] = DirectFunctionCall1(namein, values[0]);
		values[1] = CStringGetTextDatum(it->ping.config->connector->kind);
		values[2] = BoolGetDatum(it->ping.ok);
		values[3] = Float8GetDatum(it->latency_ms);
		nulls[4] = it->ping.version == NULL;
		if (!nulls[4])
			values[4] = CStringGetTextDatum(it->ping.version);
		nulls[5] = it->ping.error == NULL;
		if (!nulls[5])
			values[5] = CStringGetTextDatum(it->ping.error);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
