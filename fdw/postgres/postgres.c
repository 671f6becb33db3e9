/*
 * postgres.c: PostgreSQL and TimescaleDB backends are postgres_fdw servers.
 * mesh does not reimplement postgres_fdw: this connector only adds what
 * the hub needs on top (health now; replication writes later) through
 * libpq, using the server's options and the user mapping.
 */
#include "postgres.h"

#include <stdlib.h>

#include "commands/defrem.h"

#include "pg_internal.h"

extern char **environ;

/* A path that can never exist ("/dev/null" is not a directory). */
#define PG_NO_FILE "/dev/null/mesh-none"

typedef struct PgPing
{
	PGconn	   *conn;
	bool		connecting;
} PgPing;

/*
 * Credentials, as postgres_fdw rules them (connection.c's check_conn_params
 * and connect_pg_server): mesh connects on behalf of a role (the route's
 * owner, the caller of mesh.health), which needs a user mapping; a
 * non-superuser's mapping needs a password, which the server must have
 * asked for, unless a superuser set password_required 'false' on the
 * mapping (postgres_fdw's validator lets only superusers set it).  The
 * hub's own libpq defaults (PGPASSWORD, PGPASSFILE, ~/.pgpass, PGSERVICE,
 * PGUSER, a client certificate in ~/.postgresql ...) are the hub's OS
 * user's credentials: a non-superuser's connection never uses them.
 */
static bool
pg_password_required(MeshServerConfig *config)
{
	ListCell   *lc;

	if (config->superuser)
		return false;
	foreach(lc, config->mapping_options)
	{
		DefElem    *d = lfirst(lc);

		if (strcmp(d->defname, "password_required") == 0)
			return defGetBoolean(d);
	}
	return true;
}

/*
 * Whether config may connect at all (before connecting); if not, fills
 * *problem (NULL otherwise).  raise: ereport the problem instead.
 */
bool
pg_check_credentials(MeshServerConfig *config, bool raise, char **problem)
{
	ListCell   *lc;

	*problem = NULL;
	if (!OidIsValid(config->umid))
	{
		if (raise)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("user mapping not found for user \"%s\", server \"%s\"",
							config->username, config->servername),
					 errhint("mesh connects to PostgreSQL servers as postgres_fdw does: create one with CREATE USER MAPPING FOR \"%s\" SERVER \"%s\" OPTIONS (user '...', password '...').",
							 config->username, config->servername)));
		*problem = psprintf("user mapping not found for user \"%s\", server \"%s\"",
							config->username, config->servername);
		return false;
	}
	if (!pg_password_required(config))
		return true;
	foreach(lc, config->mapping_options)
	{
		DefElem    *d = lfirst(lc);

		if (strcmp(d->defname, "password") == 0 && defGetString(d)[0] != '\0')
			return true;
	}
	if (raise)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must provide a password in the user mapping for server \"%s\".",
						   config->servername)));
	*problem = psprintf("password is required: non-superusers must provide a password in the user mapping for server \"%s\"",
						config->servername);
	return false;
}

/*
 * After connecting: a non-superuser's connection must have sent the
 * mapping's password (a server that trusts the hub would let any role in
 * as the mapping's user).  Fills *problem as pg_check_credentials does.
 */
bool
pg_check_password_used(MeshServerConfig *config, bool used, bool raise, char **problem)
{
	*problem = NULL;
	if (used || !pg_password_required(config))
		return true;
	if (raise)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superuser cannot connect if the server does not request a password."),
				 errhint("The authentication method of server \"%s\" must ask for the password, or a superuser must set password_required 'false' in the user mapping.",
						 config->servername)));
	*problem = psprintf("password is required: server \"%s\" did not ask for the password of the user mapping, and non-superusers cannot connect without one",
						config->servername);
	return false;
}

/*
 * The PG* environment variables (libpq's defaults), set aside while a
 * non-superuser's connection is set up; pg_env_restore puts them back.
 */
List *
pg_env_hide(MeshServerConfig *config)
{
	List	   *saved = NIL;
	ListCell   *lc;

	if (config->superuser)
		return NIL;
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "PG", 2) == 0 && strchr(*e, '=') != NULL)
			saved = lappend(saved, pstrdup(*e));
	foreach(lc, saved)
	{
		char	   *name = pnstrdup(lfirst(lc), strchr(lfirst(lc), '=') - (char *) lfirst(lc));

		unsetenv(name);
		pfree(name);
	}
	return saved;
}

void
pg_env_restore(List *saved)
{
	ListCell   *lc;

	foreach(lc, saved)
	{
		char	   *entry = lfirst(lc);
		char	   *eq = strchr(entry, '=');

		*eq = '\0';
		setenv(entry, eq + 1, 1);
		*eq = '=';
	}
	list_free_deep(saved);
}

/*
 * PQconnectStartParams for config: the PG* variables hidden for a
 * non-superuser (see pg_env_hide).  Returns NULL only when out of memory.
 */
PGconn *
pg_connect_start(MeshServerConfig *config)
{
	List	   *saved = pg_env_hide(config);
	const char **keys;
	const char **vals;
	PGconn	   *conn;

	pg_conninfo_arrays(config, &keys, &vals);
	conn = PQconnectStartParams(keys, vals, 0);
	pg_env_restore(saved);
	return conn;
}

/*
 * libpq connection keywords from the server and user mapping options.  A
 * non-superuser's connection names no password file and no client
 * certificate of the hub's OS user.
 */
void
pg_conninfo_arrays(MeshServerConfig *config, const char ***keys, const char ***vals)
{
	PQconninfoOption *defs = PQconndefaults();
	List	   *all = list_concat(list_copy(config->server_options),
								  config->mapping_options);
	int			n = 0;
	bool		has_sslcert = false;
	ListCell   *lc;

	*keys = palloc0(sizeof(char *) * (list_length(all) + 6));
	*vals = palloc0(sizeof(char *) * (list_length(all) + 6));
	foreach(lc, all)
	{
		DefElem    *d = lfirst(lc);

		/* only real libpq keywords: postgres_fdw has options of its own */
		for (PQconninfoOption *o = defs; o && o->keyword; o++)
			if (strcmp(o->keyword, d->defname) == 0)
			{
				if (!config->superuser && strcmp(d->defname, "passfile") == 0)
					break;		/* a file of the hub's: never for non-superusers */
				if (strcmp(d->defname, "sslcert") == 0)
					has_sslcert = true;
				(*keys)[n] = d->defname;
				(*vals)[n++] = defGetString(d);
				break;
			}
	}
	if (!config->superuser)
	{
		(*keys)[n] = "passfile";
		(*vals)[n++] = PG_NO_FILE;
		if (!has_sslcert)
		{
			(*keys)[n] = "sslcert";
			(*vals)[n++] = PG_NO_FILE;
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
	char	   *problem;

	ping->state = pp;
	if (!pg_check_credentials(ping->config, false, &problem))
	{
		ping->done = true;
		ping->ok = false;
		ping->error = problem;
		return;
	}
	pp->conn = pg_connect_start(ping->config);
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
				char	   *problem;

				if (!pg_check_password_used(ping->config, PQconnectionUsedPassword(pp->conn),
											false, &problem))
				{
					ping->done = true;
					ping->ok = false;
					ping->error = problem;
					return;
				}
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
	{.name = "table", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "add_columns", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_BOOL},
	{NULL}
};

static const MeshPingOps postgres_ping = {
	.ping_start = pg_ping_start,
	.ping_continue = pg_ping_continue,
	.ping_finish = pg_ping_finish,
};

const MeshConnector mesh_postgres_connector = {
	.kind = "postgres",
	.fdw_name = "postgres_fdw",
	.options = pg_options,
	.connect = pg_sink_connect,
	.disconnect = pg_sink_disconnect,
	.ping = &postgres_ping,
	.sink = &pg_sink_ops,
	.fetch_rows = pg_sink_fetch_rows,
	.scan_keys = pg_sink_scan_keys,
};
