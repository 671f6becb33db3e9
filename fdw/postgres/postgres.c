/*
 * postgres.c: PostgreSQL and TimescaleDB backends are postgres_fdw servers.
 * mesh does not reimplement postgres_fdw: this connector only adds what
 * the hub needs on top (health now; replication writes later) through
 * libpq, using the server's options and the user mapping.
 */
#include "postgres.h"

#include "commands/defrem.h"

#include "pg_internal.h"

typedef struct PgPing
{
	PGconn	   *conn;
	bool		connecting;
} PgPing;

/* libpq connection keywords from the server and user mapping options. */
void
pg_conninfo_arrays(MeshServerConfig *config, const char ***keys, const char ***vals)
{
	PQconninfoOption *defs = PQconndefaults();
	List	   *all = list_concat(list_copy(config->server_options),
								  config->mapping_options);
	int			n = 0;
	ListCell   *lc;

	*keys = palloc0(sizeof(char *) * (list_length(all) + 4));
	*vals = palloc0(sizeof(char *) * (list_length(all) + 4));
	foreach(lc, all)
	{
		DefElem    *d = lfirst(lc);

		/* only real libpq keywords: postgres_fdw has options of its own */
		for (PQconninfoOption *o = defs; o && o->keyword; o++)
			if (strcmp(o->keyword, d->defname) == 0)
			{
				(*keys)[n] = d->defname;
				(*vals)[n++] = defGetString(d);
				break;
			}
	}
	(*keys)[n] = "fallback_application_name";
	(*vals)[n++] = "mesh";
	(*keys)[n] = "client_encoding";
	(*vals)[n++] = "UTF8";
	PQconninfoFree(defs);
}

static void
pg_ping_fail(MeshPing *ping, PgPing *pp)
{
	const char *src = PQerrorMessage(pp->conn);
	char	   *msg = palloc(strlen(src) + 1);
	size_t		len = 0;

	/* one line: newlines and the tabs after them become one space */
	for (const char *p = src; *p; p++)
	{
		if (*p == '\n' || *p == '\t')
		{
			if (len > 0 && msg[len - 1] != ' ')
				msg[len++] = ' ';
			continue;
		}
		msg[len++] = *p;
	}
	while (len > 0 && msg[len - 1] == ' ')
		len--;
	msg[len] = '\0';
	ping->done = true;
	ping->ok = false;
	ping->error = msg;
}

static void
pg_ping_start(MeshPing *ping)
{
	PgPing	   *pp = palloc0(sizeof(PgPing));
	const char **keys;
	const char **vals;

	ping->state = pp;
	pg_conninfo_arrays(ping->config, &keys, &vals);
	pp->conn = PQconnectStartParams(keys, vals, 0);
	if (pp->conn == NULL || PQstatus(pp->conn) == CONNECTION_BAD)
	{
		if (pp->conn == NULL)
		{
			ping->done = true;
			ping->error = pstrdup("out of memory");
			return;
		}
		pg_ping_fail(ping, pp);
		return;
	}
	pp->connecting = true;
	ping->fd = PQsocket(pp->conn);
	ping->want_write = true;
}

/* The server version as "15.4" plus TimescaleDB when installed is later work. */
static void
pg_ping_continue(MeshPing *ping)
{
	PgPing	   *pp = ping->state;

	switch (PQconnectPoll(pp->conn))
	{
		case PGRES_POLLING_FAILED:
			pg_ping_fail(ping, pp);
			return;
		case PGRES_POLLING_READING:
			ping->want_write = false;
			break;
		case PGRES_POLLING_WRITING:
			ping->want_write = true;
			break;
		case PGRES_POLLING_OK:
			{
				const char *v = PQparameterStatus(pp->conn, "server_version");

				ping->done = true;
				ping->ok = true;
				ping->version = v ? psprintf("PostgreSQL %s", v) : NULL;
				return;
			}
		default:
			break;
	}
	ping->fd = PQsocket(pp->conn);
}

static void
pg_ping_finish(MeshPing *ping)
{
	PgPing	   *pp = ping->state;

	if (pp && pp->conn)
		PQfinish(pp->conn);
	if (pp)
		pp->conn = NULL;
}

/* Route options (server options belong to postgres_fdw's own validator). */
static const MeshOption pg_options[] = {
	{"table", MESH_OPT_ROUTE, MESH_OPTTYPE_STRING, false, 1},
	{NULL}
};

const MeshConnector mesh_postgres_connector = {
	.kind = "postgres",
	.fdw_name = "postgres_fdw",
	.options = pg_options,
	.caps = MESH_CAP_PING | MESH_CAP_APPLY,
	.connect = pg_sink_connect,
	.disconnect = pg_sink_disconnect,
	.ping_start = pg_ping_start,
	.ping_continue = pg_ping_continue,
	.ping_finish = pg_ping_finish,
	.check_route = pg_sink_check_route,
	.apply = pg_sink_apply,
	.fetch_rows = pg_sink_fetch_rows,
	.scan_keys = pg_sink_scan_keys,
};
