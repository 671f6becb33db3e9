/*
 * clickhouse_sink.c: ClickHouse as a replication target, and its side of
 * verify.
 *
 * Layout: route option table (default: the source table's name) in route
 * option database (default: the server's), created at mesh.replicate when
 * missing as
 *     ENGINE = ReplacingMergeTree(_mesh_version) ORDER BY (primary key)
 * with the source's columns (types as the README maps them; non-key
 * columns Nullable), _mesh_version UInt64 (the event id) and _mesh_deleted
 * UInt8.  On the sink engine, which hands over the last change of each
 * key: upserts are one RowBinary INSERT of full rows, deletes one of
 * tombstones (key columns, _mesh_deleted = 1), all versioned by their
 * event id (an INSERT is taken or refused whole: one item), so a
 * replay or a re-delivery converges: the row with the highest version
 * wins when ClickHouse merges.  A TRUNCATE event is TRUNCATE TABLE (a
 * replay re-applies what followed it).
 *
 * Backfill rows carry the id just below the first event that follows the
 * copy (connector.h), so they beat what an earlier route left and lose to
 * every later change.
 *
 * Readers must collapse versions and skip tombstones: verify reads
 * argMax(tuple(columns), _mesh_version) ... GROUP BY key, keeping keys
 * whose argMax(_mesh_deleted, _mesh_version) is 0, which is right before
 * and after merges (FINAL with a WHERE on _mesh_deleted is not, on 18.16:
 * the WHERE may run before the collapse).  Names starting with _mesh_
 * are mesh's own in a replica.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "json_value.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "clickhouse_internal.h"

#define KEY_PAGE 100000
#define VERIFY_SETTINGS "max_query_size=16777216"

/* What apply needs about the target, cached in route->private. */
typedef struct ChSink
{
	int			ncolumns;		/* route->ncolumns when loaded */
	char	   *qualified;		/* `db`.`table` */
	ChType	  **types;			/* per route column */
	ChType	   *version_type;
	ChType	   *deleted_type;
	char	   *upsert_sql;
	char	   *tombstone_sql;
} ChSink;

static const char *
route_database(ChConn *cc, MeshRoute *route)
{
	return mesh_route_option(route, "database", cc->database);
}

static const char *
route_table(MeshRoute *route)
{
	return mesh_route_option(route, "table", route->source_name);
}

/* Does ClickHouse type t hold values of PostgreSQL type pgtype exactly? */
static bool
compatible(Oid pgtype, ChType *t)
{
	if (t->kind == CH_STRING)
		return true;			/* the text form (bytea: the bytes) */
	switch (pgtype)
	{
		case INT2OID:
			return t->kind == CH_INT16 || t->kind == CH_INT32 || t->kind == CH_INT64;
		case INT4OID:
			return t->kind == CH_INT32 || t->kind == CH_INT64;
		case INT8OID:
			return t->kind == CH_INT64;
		case FLOAT4OID:
			return t->kind == CH_FLOAT32 || t->kind == CH_FLOAT64;
		case FLOAT8OID:
			return t->kind == CH_FLOAT64;
		case NUMERICOID:
			return t->kind == CH_DECIMAL && t->precision <= 38;
		case BOOLOID:
			return t->kind == CH_UINT8 || t->kind == CH_INT8 || t->kind == CH_BOOL;
		case DATEOID:
			return t->kind == CH_DATE || t->kind == CH_DATE32;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return t->kind == CH_DATETIME || t->kind == CH_DATETIME64;
		case UUIDOID:
			return t->kind == CH_UUID;
		case TEXTOID:
		case VARCHAROID:
			return t->kind == CH_ENUM8 || t->kind == CH_ENUM16;
	}
	return false;
}

/* The ClickHouse type a new target column gets for a source column. */
static char *
target_type(Oid pgtype, int32 typmod, bool has_datetime64)
{
	switch (pgtype)
	{
		case INT2OID:
			return "Int16";
		case INT4OID:
			return "Int32";
		case INT8OID:
			return "Int64";
		case FLOAT4OID:
			return "Float32";
		case FLOAT8OID:
			return "Float64";
		case NUMERICOID:
			if (typmod >= (int32) VARHDRSZ && ((typmod - VARHDRSZ) >> 16) <= 38)
				return psprintf("Decimal(%d, %d)", (typmod - VARHDRSZ) >> 16,
								(typmod - VARHDRSZ) & 0xffff);
			return "String";	/* unconstrained: its exact text */
		case BOOLOID:
			return "UInt8";
		case DATEOID:
			return "Date";
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return has_datetime64 ? "DateTime64(6, 'UTC')" : "DateTime('UTC')";
		case UUIDOID:
			return "UUID";
	}
	return "String";
}

static bool
is_key(MeshRoute *route, int c)
{
	for (int k = 0; k < route->nkeys; k++)
		if (route->key_index[k] == c)
			return true;
	return false;
}

/* The major version of the server (one request). */
static int
server_major(ChConn *cc)
{
	MeshHttpResponse resp;

	ch_query(cc, "SELECT version()", NULL, "a version query", &resp);
	return atoi(resp.body.data);
}

/* The ClickHouse type of route column c (catalog access: reads the typmod). */
static char *
column_type_sql(MeshRoute *route, int c, bool dt64)
{
	Oid			typid,
				coll;
	int32		typmod;
	char	   *type;

	get_atttypetypmodcoll(route->source, route->attnums[c], &typid, &typmod, &coll);
	type = target_type(getBaseType(typid), typmod, dt64);
	return is_key(route, c) ? type : psprintf("Nullable(%s)", type);
}

/* CREATE TABLE for the route's source (runs in a transaction: reads typmods). */
static void
create_target(ChConn *cc, MeshRoute *route, const char *qualified)
{
	StringInfoData sql;
	bool		dt64 = server_major(cc) >= 20;
	MeshHttpResponse resp;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE IF NOT EXISTS %s (", qualified);
	for (int c = 0; c < route->ncolumns; c++)
	{
		ch_append_ident(&sql, route->columns[c]);
		appendStringInfo(&sql, " %s, ", column_type_sql(route, c, dt64));
	}
	appendStringInfoString(&sql, "`_mesh_version` UInt64, `_mesh_deleted` UInt8) "
						   "ENGINE = ReplacingMergeTree(`_mesh_version`) ORDER BY (");
	for (int k = 0; k < route->nkeys; k++)
	{
		if (k > 0)
			appendStringInfoString(&sql, ", ");
		ch_append_ident(&sql, route->columns[route->key_index[k]]);
	}
	appendStringInfoChar(&sql, ')');
	ch_query(cc, sql.data, NULL, "a CREATE TABLE", &resp);
	ereport(NOTICE,
			(errmsg("created ClickHouse table %s on server \"%s\"", qualified, cc->servername),
			 errdetail("%s", sql.data)));
}

/*
 * Sink add_column (route option add_columns): the column, typed as in
 * CREATE TABLE, unless the table has one of that name (the servers we
 * support include some without ADD COLUMN IF NOT EXISTS).
 */
static void
ch_add_column(void *conn, MeshRoute *route, int c)
{
	ChConn	   *cc = conn;
	const char *db = route_database(cc, route);
	const char *table = route_table(route);
	StringInfoData sql;
	MeshHttpResponse resp;
	bool		exists;
	ListCell   *lc;

	foreach(lc, ch_remote_columns(cc, db, table, &exists))
		if (strcmp(((ChRemoteColumn *) lfirst(lc))->name, route->columns[c]) == 0)
			return;
	initStringInfo(&sql);
	appendStringInfo(&sql, "ALTER TABLE %s ADD COLUMN ", ch_qualified_name(db, table));
	ch_append_ident(&sql, route->columns[c]);
	appendStringInfo(&sql, " %s", column_type_sql(route, c, server_major(cc) >= 20));
	ch_query(cc, sql.data, NULL, "an ALTER TABLE", &resp);
}

/*
 * The target's columns matched with the route's: errors name what is
 * missing or of the wrong type.  No catalog access (apply calls it).
 */
static ChSink *
describe_target(ChConn *cc, MeshRoute *route, List *remote, const char *qualified)
{
	ChSink	   *s = palloc0(sizeof(ChSink));
	StringInfoData cols,
				keys;
	ListCell   *lc;

	s->ncolumns = route->ncolumns;
	s->qualified = pstrdup(qualified);
	s->types = palloc0(sizeof(ChType *) * Max(route->ncolumns, 1));
	foreach(lc, remote)
	{
		ChRemoteColumn *rc = lfirst(lc);

		for (int c = 0; c < route->ncolumns; c++)
			if (strcmp(rc->name, route->columns[c]) == 0)
				s->types[c] = rc->type;
		if (strcmp(rc->name, "_mesh_version") == 0)
			s->version_type = rc->type;
		if (strcmp(rc->name, "_mesh_deleted") == 0)
			s->deleted_type = rc->type;
	}
	for (int c = 0; c < route->ncolumns; c++)
	{
		if (s->types[c] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("ClickHouse table %s on server \"%s\" has no column \"%s\"",
							qualified, cc->servername, route->columns[c]),
					 errhint("Add it: ALTER TABLE %s ADD COLUMN ... (through mesh.execute).", qualified)));
		if (!compatible(route->types[c], s->types[c]))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of ClickHouse table %s has type %s, which cannot hold %s exactly",
							route->columns[c], qualified, s->types[c]->text, route->type_names[c]),
					 errhint("See the type mapping in fdw/clickhouse/README.md; String holds any type's text.")));
	}
	if (s->version_type == NULL || s->deleted_type == NULL ||
		s->version_type->kind != CH_UINT64 || s->deleted_type->kind != CH_UINT8)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("ClickHouse table %s on server \"%s\" is not a mesh replica",
						qualified, cc->servername),
				 errdetail("A replica needs the columns _mesh_version UInt64 and _mesh_deleted UInt8."),
				 errhint("Drop it and let mesh.replicate create it, or name another table with the route option \"table\".")));
	initStringInfo(&cols);
	initStringInfo(&keys);
	for (int c = 0; c < route->ncolumns; c++)
	{
		if (c > 0)
			appendStringInfoString(&cols, ", ");
		ch_append_ident(&cols, route->columns[c]);
	}
	for (int k = 0; k < route->nkeys; k++)
	{
		ch_append_ident(&keys, route->columns[route->key_index[k]]);
		appendStringInfoString(&keys, ", ");
	}
	s->upsert_sql = psprintf("INSERT INTO %s (%s, `_mesh_version`, `_mesh_deleted`) FORMAT RowBinary",
							 qualified, cols.data);
	s->tombstone_sql = psprintf("INSERT INTO %s (%s`_mesh_version`, `_mesh_deleted`) FORMAT RowBinary",
								qualified, keys.data);
	return s;
}

/* mesh.replicate: the database must exist; the table is created or checked. */
static void
ch_prepare(void *conn, MeshRoute *route)
{
	ChConn	   *cc = conn;
	const char *db = route_database(cc, route);
	const char *table = route_table(route);
	char	   *qualified = ch_qualified_name(db, table);
	StringInfoData sql;
	MeshHttpResponse resp;
	List	   *remote;
	bool		exists;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT count() FROM system.databases WHERE name = ");
	ch_append_literal(&sql, db, strlen(db));
	ch_query(cc, sql.data, NULL, "a database lookup", &resp);
	if (atoi(resp.body.data) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_CATALOG_NAME),
				 errmsg("ClickHouse database \"%s\" does not exist on server \"%s\"",
						db, cc->servername),
				 errhint("Create it (mesh.execute(server, 'CREATE DATABASE ...')) or choose another with the route option \"database\".")));
	remote = ch_remote_columns(cc, db, table, &exists);
	if (!exists)
	{
		create_target(cc, route, qualified);
		remote = ch_remote_columns(cc, db, table, &exists);
	}
	else
	{
		resetStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT engine FROM system.tables WHERE database = ");
		ch_append_literal(&sql, db, strlen(db));
		appendStringInfoString(&sql, " AND name = ");
		ch_append_literal(&sql, table, strlen(table));
		ch_query(cc, sql.data, NULL, "a table lookup", &resp);
		if (strstr(resp.body.data, "ReplacingMergeTree") == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("ClickHouse table %s on server \"%s\" is not a ReplacingMergeTree",
							qualified, cc->servername),
					 errdetail("Its engine is %s.", pnstrdup(resp.body.data, strcspn(resp.body.data, "\n"))),
					 errhint("A replica is ENGINE = ReplacingMergeTree(_mesh_version) ORDER BY (primary key); drop it to have it created, or choose another table.")));
	}
	(void) describe_target(cc, route, remote, qualified);
}

/* The target description, loaded once per route (no catalog access). */
static ChSink *
sink_for(ChConn *cc, MeshRoute *route)
{
	ChSink	   *s = route->private;

	if (s == NULL || s->ncolumns != route->ncolumns)
	{
		MemoryContext old = MemoryContextSwitchTo(route->cxt);
		const char *db = route_database(cc, route);
		const char *table = route_table(route);
		char	   *qualified = ch_qualified_name(db, table);
		bool		exists;
		List	   *remote = ch_remote_columns(cc, db, table, &exists);

		if (!exists)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("ClickHouse table %s does not exist on server \"%s\"",
							qualified, cc->servername),
					 errhint("Recreate the route (mesh.unreplicate, mesh.replicate) to have it created.")));
		s = describe_target(cc, route, remote, qualified);
		route->private = s;
		MemoryContextSwitchTo(old);
	}
	return s;
}

static void
append_meta(StringInfo buf, int64 version, bool deleted)
{
	uint64		v = (uint64) version;
	char		b[9];

	for (int i = 0; i < 8; i++)
		b[i] = (char) (v >> (8 * i));
	b[8] = deleted ? 1 : 0;
	appendBinaryStringInfo(buf, b, 9);
}

/*
 * One RowBinary INSERT of rows[0..n): full rows, or tombstones (key
 * columns, _mesh_deleted = 1), versioned by their event ids.  ClickHouse
 * takes or refuses an INSERT as a whole: the call is one item (the engine
 * splits a refused one).  On an error the target is described again.
 */
static void
insert_rows(ChConn *cc, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out,
			bool tombstones)
{
	ChSink	   *s = sink_for(cc, route);
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		int			m = tombstones ? route->nkeys : route->ncolumns;

		for (int j = 0; j < m; j++)
		{
			int			c = tombstones ? route->key_index[j] : j;

			ch_encode_text(&buf, s->types[c], route->types[c], rows[i].values[c],
						   route->columns[c]);
		}
		append_meta(&buf, rows[i].event_id, tombstones);
	}
	PG_TRY();
	{
		ch_insert(cc, tombstones ? s->tombstone_sql : s->upsert_sql, buf.data, buf.len,
				  tombstones ? "a replicated delete" : "a replicated insert");
	}
	PG_CATCH();
	{
		route->private = NULL;	/* the target may have changed: look again */
		PG_RE_THROW();
	}
	PG_END_TRY();
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink upsert: full rows versioned by event id. */
static void
ch_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	insert_rows(conn, route, rows, n, out, false);
}

/* Sink remove: tombstones versioned by event id. */
static void
ch_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	insert_rows(conn, route, keys, n, out, true);
}

/* Sink truncate: TRUNCATE TABLE. */
static void
ch_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	ChConn	   *cc = conn;
	ChSink	   *s = sink_for(cc, route);
	MeshHttpResponse resp;

	ch_query(cc, psprintf("TRUNCATE TABLE %s", s->qualified), NULL, "a truncate", &resp);
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps ch_sink_ops = {
	.max_batch = 100000,		/* rows per INSERT */
	.prepare = ch_prepare,
	.add_column = ch_add_column,
	.upsert = ch_upsert,
	.remove = ch_remove,
	.truncate = ch_truncate,
};

/*
 * The expression reading column c of the target as text: a key column
 * itself, another one from the tuple _mesh_row (see ch_fetch_rows).
 */
static char *
column_expr(MeshRoute *route, ChSink *s, int c, int tuple_pos)
{
	StringInfoData buf;
	char	   *e;

	initStringInfo(&buf);
	if (tuple_pos > 0)
		appendStringInfo(&buf, "tupleElement(`_mesh_row`, %d)", tuple_pos);
	else
		ch_append_ident(&buf, route->columns[c]);
	e = buf.data;
	if (s->types[c]->kind == CH_DATETIME || s->types[c]->kind == CH_DATETIME64)
		e = psprintf("toString(%s, 'UTC')", e);
	return e;
}

static char *
key_list(MeshRoute *route)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < route->nkeys; k++)
	{
		if (k > 0)
			appendStringInfoString(&buf, ", ");
		ch_append_ident(&buf, route->columns[route->key_index[k]]);
	}
	return buf.data;
}

/* (v1, v2) of a key's PostgreSQL texts, as ClickHouse expressions. */
static void
append_key_values(StringInfo buf, MeshRoute *route, ChSink *s, char **key)
{
	if (route->nkeys > 1)
		appendStringInfoChar(buf, '(');
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];

		if (k > 0)
			appendStringInfoString(buf, ", ");
		ch_sql_value(buf, s->types[c], route->types[c], key[k], route->columns[c]);
	}
	if (route->nkeys > 1)
		appendStringInfoChar(buf, ')');
}

/* A value's text normalized through its type (so keys compare as values). */
static char *
normalized(const char *text, Oid typid)
{
	Oid			in,
				ioparam,
				out;
	bool		isvarlena;

	if (typid == INT4OID || typid == INT8OID || typid == TEXTOID || typid == VARCHAROID)
		return (char *) text;
	getTypeInputInfo(typid, &in, &ioparam);
	getTypeOutputInfo(typid, &out, &isvarlena);
	return OidOutputFunctionCall(out, OidInputFunctionCall(in, (char *) text, ioparam, -1));
}

static char *
normalized_key(MeshRoute *route, char **key)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < route->nkeys; k++)
		appendStringInfo(&buf, "%s%s", k ? "\x1f" : "",
						 normalized(key[k], route->types[route->key_index[k]]));
	return buf.data;
}

/* The rows of a verify answer: each line becomes nfields decoded texts. */
static List *
parse_rows(ChConn *cc, MeshRoute *route, ChSink *s, char *body, int nfields,
		   const int *columns, const char *what)
{
	List	   *rows = NIL;
	char	   *p;
	char	  **f = palloc(sizeof(char *) * nfields);
	size_t	   *lens = palloc(sizeof(size_t) * nfields);

	for (p = body; *p;)
	{
		char	   *nl = strchr(p, '\n');
		char	  **row = palloc(sizeof(char *) * nfields);

		if (nl == NULL || ch_tsv_split(p, nl - p, f, lens, nfields) != nfields)
			mesh_json_malformed(cc->servername, what, "A row has the wrong number of fields.");
		for (int i = 0; i < nfields; i++)
		{
			char	   *copy = NULL;

			if (f[i])
			{
				copy = palloc(lens[i] + 1);
				memcpy(copy, f[i], lens[i] + 1);
			}
			row[i] = ch_remote_to_pg_text(s->types[columns[i]], route->types[columns[i]],
										  copy, lens[i]);
		}
		rows = lappend(rows, row);
		p = nl + 1;
	}
	return rows;
}

/* Run a verify query and parse its rows. */
static List *
verify_rows(ChConn *cc, MeshRoute *route, ChSink *s, const char *sql, int nfields,
			const int *columns, const char *what)
{
	MeshHttpResponse resp;

	ch_query(cc, sql, VERIFY_SETTINGS, what, &resp);
	return parse_rows(cc, route, s, resp.body.data, nfields, columns, what);
}

typedef struct WantedKey
{
	char	   *key;
	int			index;
} WantedKey;

static int
wanted_cmp(const void *a, const void *b)
{
	return strcmp(((const WantedKey *) a)->key, ((const WantedKey *) b)->key);
}

/*
 * verify (connector.h fetch_request): the request for the live rows of
 * keys[0..n), collapsed by version.
 */
void
ch_fetch_request(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpRequest *req)
{
	ChConn	   *cc = conn;
	ChSink	   *s = sink_for(cc, route);
	StringInfoData sql,
				tuple;

	/*
	 * The newest version of each key: argMax of a tuple (argMax of a
	 * Nullable column would skip a NULL written last), live ones only.
	 */
	initStringInfo(&sql);
	initStringInfo(&tuple);
	appendStringInfoString(&sql, "SELECT ");
	for (int c = 0, pos = 0; c < route->ncolumns; c++)
	{
		if (!is_key(route, c))
		{
			appendStringInfoString(&tuple, tuple.len ? ", " : "");
			ch_append_ident(&tuple, route->columns[c]);
		}
		appendStringInfo(&sql, "%s%s", c ? ", " : "",
						 column_expr(route, s, c, is_key(route, c) ? 0 : ++pos));
	}
	appendStringInfo(&sql, " FROM (SELECT %s, argMax(tuple(%s), `_mesh_version`) AS `_mesh_row`,"
					 " argMax(`_mesh_deleted`, `_mesh_version`) AS `_mesh_dead` FROM %s WHERE %s%s%s IN (",
					 key_list(route), tuple.len ? tuple.data : "0", s->qualified,
					 route->nkeys > 1 ? "(" : "", key_list(route), route->nkeys > 1 ? ")" : "");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&sql, ", ");
		append_key_values(&sql, route, s, keys[i]);
	}
	appendStringInfo(&sql, ") GROUP BY %s) WHERE `_mesh_dead` = 0 FORMAT TabSeparated",
					 key_list(route));
	ch_request(cc, sql.data, VERIFY_SETTINGS, "a verify read", req);
}

/* verify (connector.h fetch_answer): the answer's rows matched to keys. */
void
ch_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpStream *answer,
				char ***rows)
{
	ChConn	   *cc = conn;
	ChSink	   *s = sink_for(cc, route);
	int		   *columns = palloc(sizeof(int) * Max(route->ncolumns, 1));
	WantedKey  *want = palloc(sizeof(WantedKey) * Max(n, 1));
	char	  **kv = palloc(sizeof(char *) * Max(route->nkeys, 1));
	List	   *found;
	ListCell   *lc;

	mesh_http_stream_read_all(answer);
	ch_check_answer(cc, &answer->response, "a verify read");
	for (int c = 0; c < route->ncolumns; c++)
		columns[c] = c;
	for (int i = 0; i < n; i++)
	{
		want[i].key = normalized_key(route, keys[i]);
		want[i].index = i;
	}
	qsort(want, n, sizeof(WantedKey), wanted_cmp);
	found = parse_rows(cc, route, s, answer->response.body.data, route->ncolumns, columns,
					   "a verify read");
	foreach(lc, found)
	{
		char	  **row = lfirst(lc);
		WantedKey	probe;
		WantedKey  *hit;

		for (int k = 0; k < route->nkeys; k++)
			kv[k] = row[route->key_index[k]];
		probe.key = normalized_key(route, kv);
		hit = bsearch(&probe, want, n, sizeof(WantedKey), wanted_cmp);
		if (hit)
			rows[hit->index] = row;
	}
}

typedef struct ChKeyScan
{
	char	  **last;			/* the last key returned (PostgreSQL texts), or NULL */
	List	   *page;			/* char ** keys not returned yet */
	bool		exhausted;		/* the last page was not full */
	MemoryContext cxt;			/* holds page; reset per page */
} ChKeyScan;

/* verify: the live keys in key order, a page of KEY_PAGE per request. */
int
ch_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	ChConn	   *cc = conn;
	ChSink	   *s = sink_for(cc, route);
	ChKeyScan  *ks = *state;
	int			n = 0;

	if (ks == NULL)
	{
		ks = MemoryContextAllocZero(route->cxt, sizeof(ChKeyScan));
		ks->cxt = AllocSetContextCreate(route->cxt, "clickhouse verify keys",
										ALLOCSET_DEFAULT_SIZES);
		*state = ks;
	}
	if (ks->page == NIL && !ks->exhausted)
	{
		StringInfoData sql;
		int		   *columns = palloc(sizeof(int) * route->nkeys);
		MemoryContext old;
		List	   *page;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (int k = 0; k < route->nkeys; k++)
		{
			columns[k] = route->key_index[k];
			appendStringInfo(&sql, "%s%s", k ? ", " : "",
							 column_expr(route, s, route->key_index[k], 0));
		}
		appendStringInfo(&sql, " FROM %s", s->qualified);
		if (ks->last)
		{
			appendStringInfo(&sql, " WHERE %s%s%s > ", route->nkeys > 1 ? "(" : "",
							 key_list(route), route->nkeys > 1 ? ")" : "");
			append_key_values(&sql, route, s, ks->last);
		}
		appendStringInfo(&sql, " GROUP BY %s HAVING argMax(`_mesh_deleted`, `_mesh_version`) = 0"
						 " ORDER BY %s LIMIT %d FORMAT TabSeparated",
						 key_list(route), key_list(route), KEY_PAGE);
		MemoryContextReset(ks->cxt);	/* the previous page; sql is built */
		old = MemoryContextSwitchTo(ks->cxt);
		page = verify_rows(cc, route, s, sql.data, route->nkeys, columns, "a verify scan");
		MemoryContextSwitchTo(old);
		ks->exhausted = list_length(page) < KEY_PAGE;
		ks->page = page;
		ks->last = page != NIL ? llast(page) : NULL;
	}
	while (ks->page != NIL && n < max)
	{
		char	  **k = linitial(ks->page);

		keys[n] = palloc(sizeof(char *) * route->nkeys);
		for (int i = 0; i < route->nkeys; i++)
			keys[n][i] = pstrdup(k[i]);
		n++;
		ks->page = list_delete_first(ks->page);
	}
	return n;
}
