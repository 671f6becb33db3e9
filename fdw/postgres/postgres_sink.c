/*
 * postgres_sink.c: a postgres_fdw server as a replication target, through
 * libpq with the server's options and the user mapping.
 *
 * On the sink engine, which hands over the last change of each key: the
 * upserts of a call are one INSERT ... SELECT FROM jsonb_to_recordset(...)
 * ON CONFLICT (key) DO UPDATE, the deletes one DELETE ... USING, a
 * truncate a TRUNCATE, each its own transaction.  A statement succeeds or
 * fails as a whole, so a call is one item for the target: the engine
 * splits a refused call down to the refused row.  Values travel as JSON strings of their text form and are cast to
 * the source's column types on the target (so a jsonb 'null' stays a JSON
 * null, not an SQL NULL).  Every request is bounded by timeout_ms (a timeout cancels it).
 */
#include "postgres.h"

#include <poll.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "mesh_util.h"
#include "pg_internal.h"
#include "route_keys.h"

/* The remote error of res (or the connection's) as an ereport. */
static void
raise_remote(PgConn *pc, PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *remote_detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *remote_constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	char	   *constraint = remote_constraint ? pstrdup(remote_constraint) : NULL;
	char	   *msg;
	int			code = ERRCODE_CONNECTION_FAILURE;
	size_t		len;

	if (primary)
		msg = remote_detail ? psprintf("%s (%s)", primary, remote_detail) : pstrdup(primary);
	else
		msg = pstrdup(res ? PQresultErrorMessage(res) : PQerrorMessage(pc->conn));
	len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	if (state && strlen(state) == 5)
		code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	else if (PQstatus(pc->conn) == CONNECTION_OK)
		code = ERRCODE_FDW_ERROR;
	if (res)
		PQclear(res);
	ereport(ERROR,
			(errcode(code),
			 errmsg("PostgreSQL server \"%s\" failed %s", pc->servername, what),
			 errdetail("%s", msg),
			 constraint ? err_generic_string(PG_DIAG_CONSTRAINT_NAME, constraint) : 0));
}

/* Wait until the socket is ready or the deadline passes; false on timeout or a socket error. */
static bool
wait_socket(PgConn *pc, bool for_write, struct timespec *start)
{
	struct pollfd pfd;

	pfd.fd = PQsocket(pc->conn);
	pfd.events = for_write ? POLLOUT : POLLIN;
	for (;;)
	{
		double		left = pc->timeout_ms - mesh_elapsed_ms(start);
		int			rc;

		if (left <= 0)
			return false;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int) left + 1);
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return false;
		/* a signal (SIGHUP, SIGUSR1...) is not a timeout: wait for the rest */
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Run one statement with text parameters; returns its result (caller
 * PQclears).  An error result or a timeout ereports (a timeout cancels the
 * statement first).
 */
static PGresult *
pg_run(PgConn *pc, const char *sql, int nparams, const char *const *params, const char *what)
{
	struct timespec start;
	PGresult   *last = NULL;
	PGresult   *res;

	mesh_now(&start);
	if (!(nparams == 0 ? PQsendQuery(pc->conn, sql) :
		  PQsendQueryParams(pc->conn, sql, nparams, NULL, params, NULL, NULL, 0)))
		raise_remote(pc, NULL, what);
	for (;;)
	{
		while (PQisBusy(pc->conn))
		{
			if (!wait_socket(pc, false, &start))
			{
				PGcancel   *cancel = PQgetCancel(pc->conn);
				char		errbuf[256];

				if (cancel)
				{
					PQcancel(cancel, errbuf, sizeof(errbuf));
					PQfreeCancel(cancel);
				}
				if (last)
					PQclear(last);
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("PostgreSQL server \"%s\" did not answer %s within %d ms",
								pc->servername, what, pc->timeout_ms)));
			}
			if (!PQconsumeInput(pc->conn))
			{
				if (last)
					PQclear(last);
				raise_remote(pc, NULL, what);
			}
		}
		res = PQgetResult(pc->conn);
		if (res == NULL)
			break;
		if (last)
			PQclear(last);
		last = res;
	}
	if (last == NULL || (PQresultStatus(last) != PGRES_COMMAND_OK &&
						 PQresultStatus(last) != PGRES_TUPLES_OK))
		raise_remote(pc, last, what);
	return last;
}

static void
pg_run_command(PgConn *pc, const char *sql, const char *what)
{
	PQclear(pg_run(pc, sql, 0, NULL, what));
}

void
pg_sink_disconnect(void *conn)
{
	PgConn	   *pc = conn;

	if (pc->conn)
		PQfinish(pc->conn);
	pfree(pc->servername);
	pfree(pc);
}

/* Connect within timeout_ms; the session uses UTC and ISO dates. */
void *
pg_sink_connect(MeshServerConfig *config)
{
	PgConn	   *pc;
	struct timespec start;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	char	   *problem;

	(void) pg_check_credentials(config, true, &problem);
	pc = MemoryContextAllocZero(TopMemoryContext, sizeof(PgConn));
	pc->servername = MemoryContextStrdup(TopMemoryContext, config->servername);
	pc->timeout_ms = config->timeout_ms;
	mesh_now(&start);
	pc->conn = pg_connect_start(config);
	while (pc->conn && PQstatus(pc->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
		   st != PGRES_POLLING_FAILED)
	{
		if (!wait_socket(pc, st == PGRES_POLLING_WRITING, &start))
		{
			pg_sink_disconnect(pc);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not connect to PostgreSQL server \"%s\" within %d ms",
							config->servername, config->timeout_ms)));
		}
		st = PQconnectPoll(pc->conn);
	}
	if (pc->conn == NULL || PQstatus(pc->conn) != CONNECTION_OK)
	{
		char	   *detail = pstrdup(pc->conn ? PQerrorMessage(pc->conn) : "out of memory");

		pg_sink_disconnect(pc);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to PostgreSQL server \"%s\"", config->servername),
				 errdetail("%s", detail)));
	}
	if (!PQconnectionUsedPassword(pc->conn))
	{
		pg_sink_disconnect(pc);
		(void) pg_check_password_used(config, false, true, &problem);
	}
	PG_TRY();
	{
		pg_run_command(pc, psprintf("SET statement_timeout = %d; SET TimeZone = 'UTC';"
									" SET DateStyle = 'ISO'; SET extra_float_digits = 3",
									pc->timeout_ms),
					   "the session setup");
	}
	PG_CATCH();
	{
		pg_sink_disconnect(pc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return pc;
}

/* The target table, quoted: option "table" or the source's qualified name. */
static char *
target_table(MeshRoute *route)
{
	const char *t = mesh_route_option(route, "table", NULL);
	char	   *dot;

	if (t == NULL)
		return quote_qualified_identifier(route->source_schema, route->source_name);
	dot = strchr(t, '.');
	if (dot == NULL)
		return pstrdup(quote_identifier(t));
	return quote_qualified_identifier(pnstrdup(t, dot - t), dot + 1);
}

/* How column_list writes each column. */
typedef enum ColumnForm
{
	COL_PLAIN,					/* c */
	COL_AS_TEXT,				/* c::text */
	COL_TEXT_DECL,				/* c text (a record definition) */
	COL_SOURCE_TYPE				/* c::<the source's type> */
} ColumnForm;

/* "a.c1, a.c2, ...": the route's columns (or key columns), in one form. */
static char *
column_list(MeshRoute *route, const char *alias, bool keys_only, ColumnForm form)
{
	StringInfoData buf;
	int			n = keys_only ? route->nkeys : route->ncolumns;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		int			c = keys_only ? route->key_index[i] : i;

		appendStringInfo(&buf, "%s%s%s%s", i ? ", " : "", alias ? alias : "",
						 alias ? "." : "", quote_identifier(route->columns[c]));
		if (form == COL_AS_TEXT)
			appendStringInfoString(&buf, "::text");
		else if (form == COL_TEXT_DECL)
			appendStringInfoString(&buf, " text");
		else if (form == COL_SOURCE_TYPE)
			appendStringInfo(&buf, "::%s", route->type_names[c]);
	}
	return buf.data;
}

/* "d(c1 text, c2 text, ...)": the JSON rows, every value as text */
static char *
text_record(MeshRoute *route, bool keys_only)
{
	return psprintf("d(%s)", column_list(route, NULL, keys_only, COL_TEXT_DECL));
}

/* "d.c1::type1, d.c2::type2": text values parsed by the source's types */
static char *
typed_values(MeshRoute *route, bool keys_only)
{
	return column_list(route, "d", keys_only, COL_SOURCE_TYPE);
}

static char *
upsert_sql(MeshRoute *route, const char *table)
{
	StringInfoData buf;
	int			set = 0;

	initStringInfo(&buf);
	appendStringInfo(&buf, "INSERT INTO %s (%s) SELECT %s FROM jsonb_to_recordset($1::jsonb) AS %s"
					 " ON CONFLICT (%s) DO ",
					 table, column_list(route, NULL, false, COL_PLAIN),
					 typed_values(route, false), text_record(route, false),
					 column_list(route, NULL, true, COL_PLAIN));
	for (int c = 0; c < route->ncolumns; c++)
	{
		bool		is_key = false;

		for (int k = 0; k < route->nkeys; k++)
			is_key |= route->key_index[k] == c;
		if (is_key)
			continue;
		appendStringInfo(&buf, "%s%s = EXCLUDED.%s", set++ ? ", " : "UPDATE SET ",
						 quote_identifier(route->columns[c]), quote_identifier(route->columns[c]));
	}
	if (set == 0)
		appendStringInfoString(&buf, "NOTHING");
	return buf.data;
}

static char *
delete_sql(MeshRoute *route, const char *table)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "DELETE FROM %s t USING jsonb_to_recordset($1::jsonb) AS %s WHERE ",
					 table, text_record(route, true));
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];
		const char *col = quote_identifier(route->columns[c]);

		appendStringInfo(&buf, "%st.%s = d.%s::%s", k ? " AND " : "", col, col,
						 route->type_names[c]);
	}
	return buf.data;
}

/* Append {"col": "value", ...} (keys only, or every column) to a JSON array. */
static void
append_json_row(StringInfo buf, MeshRoute *route, char **values, bool keys_only)
{
	int			n = keys_only ? route->nkeys : route->ncolumns;

	appendStringInfoString(buf, buf->len > 1 ? ",{" : "{");
	for (int i = 0; i < n; i++)
	{
		int			c = keys_only ? route->key_index[i] : i;

		if (i > 0)
			appendStringInfoChar(buf, ',');
		escape_json(buf, route->columns[c]);
		appendStringInfoChar(buf, ':');
		if (values[c] == NULL)
			appendStringInfoString(buf, "null");
		else
			escape_json(buf, values[c]);
	}
	appendStringInfoChar(buf, '}');
}

/* Run sql with the JSON array of rows (keys only or every column) as $1. */
static void
run_rows(PgConn *pc, MeshRoute *route, const char *sql, MeshSinkRow *rows, int n,
		 bool keys_only, const char *what)
{
	StringInfoData json;
	const char *param[1];

	initStringInfo(&json);
	appendStringInfoChar(&json, '[');
	for (int i = 0; i < n; i++)
		append_json_row(&json, route, rows[i].values, keys_only);
	appendStringInfoChar(&json, ']');
	param[0] = json.data;
	PQclear(pg_run(pc, sql, 1, param, what));
}

/* Sink upsert: one INSERT ... ON CONFLICT statement, one item for the target. */
static void
pg_sink_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	run_rows(conn, route, upsert_sql(route, target_table(route)), rows, n, false, "an upsert");
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink remove: one DELETE ... USING statement, one item for the target. */
static void
pg_sink_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	run_rows(conn, route, delete_sql(route, target_table(route)), keys, n, true, "a delete");
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink truncate. */
static void
pg_sink_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	pg_run_command(conn, psprintf("TRUNCATE %s", target_table(route)), "a truncate");
	out->status = MESH_ITEM_ACKED;
}

/* mesh.replicate: the target table must exist and take our upsert. */
static void
pg_sink_prepare(void *conn, MeshRoute *route)
{
	PgConn	   *pc = conn;
	char	   *table = target_table(route);
	const char *param[1] = {table};
	PGresult   *res = pg_run(pc, "SELECT to_regclass($1) IS NOT NULL", 1, param, "a table lookup");
	bool		exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target table %s does not exist on server \"%s\"", table, pc->servername),
				 errhint("Create it there with the columns and primary key of %s, or name another table with the route option \"table\".",
						 quote_qualified_identifier(route->source_schema, route->source_name))));
	/* an upsert of no rows checks columns, types and the conflict target */
	param[0] = "[]";
	PQclear(pg_run(pc, upsert_sql(route, table), 1, param, "a trial upsert"));
}

/* Sink add_column (route option add_columns): the column, typed as the source's. */
static void
pg_sink_add_column(void *conn, MeshRoute *route, int c)
{
	Oid			typid,
				coll;
	int32		typmod;

	get_atttypetypmodcoll(route->source, route->attnums[c], &typid, &typmod, &coll);
	pg_run_command(conn, psprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s",
								  target_table(route), quote_identifier(route->columns[c]),
								  format_type_with_typemod(typid, typmod)),
				   "adding a column");
}

const MeshSinkOps pg_sink_ops = {
	.max_batch = 1000,
	.prepare = pg_sink_prepare,
	.add_column = pg_sink_add_column,
	.upsert = pg_sink_upsert,
	.remove = pg_sink_remove,
	.truncate = pg_sink_truncate,
};

/* verify: the target's rows for the given keys, as text. */
void
pg_sink_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	PgConn	   *pc = conn;
	char	   *table = target_table(route);
	StringInfoData json;
	StringInfoData sql;
	char	  **kv = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	const char *param[1];
	PGresult   *res;
	char	  **want = palloc(sizeof(char *) * Max(n, 1));

	initStringInfo(&json);
	appendStringInfoChar(&json, '[');
	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < route->nkeys; k++)
			kv[route->key_index[k]] = keys[i][k];
		append_json_row(&json, route, kv, true);
		want[i] = mesh_route_key_string(route, kv);
		rows[i] = NULL;
	}
	appendStringInfoChar(&json, ']');
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s FROM %s t WHERE (%s) IN (SELECT %s FROM jsonb_to_recordset($1::jsonb) AS %s)",
					 column_list(route, "t", false, COL_AS_TEXT), table,
					 column_list(route, "t", true, COL_PLAIN), typed_values(route, true),
					 text_record(route, true));
	param[0] = json.data;
	res = pg_run(pc, sql.data, 1, param, "a verify read");
	for (int r = 0; r < PQntuples(res); r++)
	{
		char	  **row = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
		char	   *k;

		for (int c = 0; c < route->ncolumns; c++)
			if (!PQgetisnull(res, r, c))
				row[c] = pstrdup(PQgetvalue(res, r, c));
		k = mesh_route_key_string(route, row);
		for (int i = 0; i < n; i++)
			if (rows[i] == NULL && strcmp(want[i], k) == 0)
			{
				rows[i] = row;
				break;
			}
	}
	PQclear(res);
}

typedef struct PgKeyScan
{
	char	  **last;			/* the last key returned, or NULL at start */
} PgKeyScan;

/* verify: the target's keys in key order, max at a time. */
int
pg_sink_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	PgConn	   *pc = conn;
	PgKeyScan  *ks = *state;
	StringInfoData sql;
	PGresult   *res;
	int			n;

	if (ks == NULL)
		*state = ks = MemoryContextAllocZero(route->cxt, sizeof(PgKeyScan));
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s FROM %s t", column_list(route, "t", true, COL_AS_TEXT),
					 target_table(route));
	if (ks->last)
	{
		appendStringInfo(&sql, " WHERE (%s) > (", column_list(route, "t", true, COL_PLAIN));
		for (int k = 0; k < route->nkeys; k++)
			appendStringInfo(&sql, "%s$%d::%s", k ? ", " : "", k + 1,
							 route->type_names[route->key_index[k]]);
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfo(&sql, " ORDER BY %s LIMIT %d", column_list(route, "t", true, COL_PLAIN), max);
	res = pg_run(pc, sql.data, ks->last ? route->nkeys : 0, (const char *const *) ks->last,
				 "a verify scan");
	n = PQntuples(res);
	for (int r = 0; r < n; r++)
	{
		keys[r] = palloc(sizeof(char *) * route->nkeys);
		for (int k = 0; k < route->nkeys; k++)
			keys[r][k] = pstrdup(PQgetvalue(res, r, k));
	}
	if (n > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(route->cxt);

		ks->last = palloc(sizeof(char *) * route->nkeys);
		for (int k = 0; k < route->nkeys; k++)
			ks->last[k] = pstrdup(keys[n - 1][k]);
		MemoryContextSwitchTo(old);
	}
	PQclear(res);
	return n;
}
