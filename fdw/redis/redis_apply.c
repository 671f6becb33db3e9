/*
 * redis_apply.c: Redis as a replication target, and its side of verify.
 *
 * Layout: one hash per row at <key_prefix><primary key> (composite keys
 * joined with ':'), one field per column, values in PostgreSQL text form;
 * key_prefix defaults to '<table>:'.  An insert or update is HSET of the
 * non-NULL columns (plus HDEL of the NULL ones, in MULTI/EXEC); a delete
 * is DEL; a truncate removes every key under the prefix.  Everything is
 * idempotent and pipelined.  On the sink engine, which hands over the last
 * change of each key: a call's writes are one pipeline, judged as one item
 * (an error reply makes the engine split the call down to its key).
 *
 * An empty key_prefix puts the rows among every other key of the Redis
 * database: a route needs "allow_empty_key_prefix": true for it, and a
 * truncate on such a route is not applied (it would delete every key of the
 * database) but dead-lettered, so the owner sees it and the keys stay.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "redis_internal.h"

static char *
route_prefix(MeshRoute *route)
{
	return (char *) mesh_route_option(route, "key_prefix",
									  psprintf("%s:", route->source_name));
}

/* The Redis key of a row: the prefix, then the key values joined by ':'. */
static char *
event_key(MeshRoute *route, const char *prefix, char **values)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, prefix);
	for (int k = 0; k < route->nkeys; k++)
	{
		const char *v = values[route->key_index[k]];

		if (k > 0)
			appendStringInfoChar(&buf, ':');
		appendStringInfoString(&buf, v ? v : "");
	}
	return buf.data;
}

/* Remove every key under prefix (SCAN + UNLINK, batch by batch). */
static void
truncate_prefix(RedisConn *rc, const char *prefix)
{
	char	   *pattern = psprintf("%s*", redis_glob_escape(prefix, strlen(prefix)));
	char	   *cursor = pstrdup("0");
	RedisReplies *r = redis_replies_new();

	do
	{
		const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
		redisReply *reply = redis_call(rc, r, 6, argv, NULL);

		if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
			reply->element[1]->type != REDIS_REPLY_ARRAY)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("malformed SCAN reply from Redis server \"%s\"", rc->servername)));
		cursor = pstrdup(reply->element[0]->str);
		for (size_t i = 0; i < reply->element[1]->elements; i++)
		{
			const char *argv2[2] = {"UNLINK", reply->element[1]->element[i]->str};
			size_t		lens[2] = {6, reply->element[1]->element[i]->len};

			redis_queue_write(rc, 2, argv2, lens);
		}
		redis_flush_writes(rc);
		redis_replies_clear(r);
	} while (strcmp(cursor, "0") != 0);
}

/*
 * mesh.replicate: an empty key_prefix only when the route allows it
 * explicitly.
 */
static void
redis_prepare(void *conn, MeshRoute *route)
{
	const char *prefix = mesh_route_option(route, "key_prefix", NULL);
	const char *allow = mesh_route_option(route, "allow_empty_key_prefix", "false");

	if (prefix != NULL && prefix[0] == '\0' && strcmp(allow, "true") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option \"key_prefix\" of Redis server \"%s\" must not be empty",
						route->target),
				 errdetail("With an empty prefix the replica's keys mix with every other key of the Redis database, and a TRUNCATE of %s could not be replicated without deleting them all.",
						   quote_qualified_identifier(route->source_schema, route->source_name)),
				 errhint("Choose a prefix, e.g. '{\"key_prefix\": \"%s:\"}', or add \"allow_empty_key_prefix\": true to the route options (a TRUNCATE of the source is then dead-lettered, not applied).",
						 route->source_name)));
}

/* Queue HSET (and HDEL of NULL columns) for one row. */
static void
queue_row(RedisConn *rc, MeshRoute *route, const char *key, char **values)
{
	int			n = route->ncolumns;
	const char **argv = palloc(sizeof(char *) * (2 * n + 2));
	const char **dargv = palloc(sizeof(char *) * (n + 2));
	int			argc = 2,
				dargc = 2;

	argv[0] = "HSET";
	dargv[0] = "HDEL";
	argv[1] = dargv[1] = key;
	for (int c = 0; c < n; c++)
	{
		if (values[c] == NULL)
			dargv[dargc++] = route->columns[c];
		else
		{
			argv[argc++] = route->columns[c];
			argv[argc++] = values[c];
		}
	}
	if (dargc > 2)
	{
		const char *multi[1] = {"MULTI"};
		const char *exec[1] = {"EXEC"};

		redis_queue_write(rc, 1, multi, NULL);
		redis_queue_write(rc, argc, argv, NULL);
		redis_queue_write(rc, dargc, dargv, NULL);
		redis_queue_write(rc, 1, exec, NULL);
	}
	else
		redis_queue_write(rc, argc, argv, NULL);
	pfree(argv);
	pfree(dargv);
}

/*
 * Sink upsert: HSET (and HDEL) of every row, pipelined.  An error reply
 * ereports once every reply is read (the engine then splits the call down
 * to the refused key: a key that is not a hash, say); the call is one item.
 */
static void
redis_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	RedisConn  *rc = conn;
	char	   *prefix = route_prefix(route);

	for (int i = 0; i < n; i++)
		queue_row(rc, route, event_key(route, prefix, rows[i].values), rows[i].values);
	redis_flush_writes(rc);
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink remove: DEL of every key, pipelined; as upsert. */
static void
redis_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	RedisConn  *rc = conn;
	char	   *prefix = route_prefix(route);

	for (int i = 0; i < n; i++)
	{
		const char *argv[2] = {"DEL", event_key(route, prefix, keys[i].values)};

		redis_queue_write(rc, 2, argv, NULL);
	}
	redis_flush_writes(rc);
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink truncate: every key under the prefix; refused for an empty prefix. */
static void
redis_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	RedisConn  *rc = conn;
	char	   *prefix = route_prefix(route);

	if (prefix[0] == '\0')
	{
		out->status = MESH_ITEM_REFUSED;
		out->reason = "TRUNCATE not applied: the route's key_prefix is empty, so it would delete every key of the Redis database; delete the replica's keys yourself, then discard this dead letter";
		return;
	}
	truncate_prefix(rc, prefix);
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps redis_sink_ops = {
	.max_batch = 1000,
	.prepare_offline = true,
	.prepare = redis_prepare,
	.upsert = redis_upsert,
	.remove = redis_remove,
	.truncate = redis_truncate,
};

/* verify: the hashes of the given keys (pipelined HGETALL). */
void
redis_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	RedisConn  *rc = conn;
	char	   *prefix = route_prefix(route);
	RedisReplies *r = redis_replies_new();
	char	  **kv = palloc0(sizeof(char *) * Max(route->ncolumns, 1));

	redis_flush_writes(rc);
	for (int i = 0; i < n; i++)
	{
		const char *argv[2];

		for (int k = 0; k < route->nkeys; k++)
			kv[route->key_index[k]] = keys[i][k];
		argv[0] = "HGETALL";
		argv[1] = event_key(route, prefix, kv);
		redis_append(rc, 2, argv, NULL);
	}
	redis_read_replies(rc, r, n);
	for (int i = 0; i < n; i++)
	{
		redisReply *reply = r->items[i];

		rows[i] = NULL;
		if (reply->type == REDIS_REPLY_ERROR || reply->type != REDIS_REPLY_ARRAY ||
			reply->elements == 0)
			continue;			/* missing, or not a hash: not a replica row */
		rows[i] = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
		for (size_t f = 0; f + 1 < reply->elements; f += 2)
			for (int c = 0; c < route->ncolumns; c++)
				if (strlen(route->columns[c]) == reply->element[f]->len &&
					memcmp(route->columns[c], reply->element[f]->str, reply->element[f]->len) == 0)
					rows[i][c] = pnstrdup(reply->element[f + 1]->str, reply->element[f + 1]->len);
	}
	redis_replies_clear(r);
}

typedef struct KeyScan
{
	char	   *cursor;
	bool		done;
	List	   *pending;		/* keys of the last SCAN reply not returned yet */
} KeyScan;

/* Split a replica key (without the prefix) into the primary key's parts. */
static char **
split_key(MeshRoute *route, const char *rest_in)
{
	char	   *rest = pstrdup(rest_in);
	char	  **parts = palloc0(sizeof(char *) * Max(route->nkeys, 1));

	/* composite keys were joined with ':'; the last part takes the rest */
	for (int k = 0; k < route->nkeys; k++)
	{
		char	   *sep = k < route->nkeys - 1 ? strchr(rest, ':') : NULL;

		if (sep)
			*sep = '\0';
		parts[k] = rest;
		rest = sep ? sep + 1 : rest + strlen(rest);
	}
	return parts;
}

/*
 * verify: the next batch of at most max replica keys (SCAN MATCH
 * <prefix>* TYPE hash).  SCAN's COUNT is only a hint, so keys beyond max
 * wait in the state for the next call.
 */
int
redis_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	RedisConn  *rc = conn;
	KeyScan    *ks = *state;
	char	   *prefix = route_prefix(route);
	size_t		plen = strlen(prefix);
	char	   *pattern = psprintf("%s*", redis_glob_escape(prefix, plen));
	RedisReplies *r = redis_replies_new();
	char		count[16];
	int			n = 0;

	if (ks == NULL)
	{
		ks = MemoryContextAllocZero(route->cxt, sizeof(KeyScan));
		ks->cursor = MemoryContextStrdup(route->cxt, "0");
		*state = ks;
	}
	snprintf(count, sizeof(count), "%d", max);
	while (ks->pending == NIL && !ks->done)
	{
		const char *argv[8] = {"SCAN", ks->cursor, "MATCH", pattern, "COUNT", count, "TYPE", "hash"};
		redisReply *reply = redis_call(rc, r, rc->major_version >= 6 ? 8 : 6, argv, NULL);
		redisReply *list;
		MemoryContext old;

		if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
			reply->element[0]->type != REDIS_REPLY_STRING ||
			reply->element[1]->type != REDIS_REPLY_ARRAY)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("malformed SCAN reply from Redis server \"%s\"", rc->servername)));
		old = MemoryContextSwitchTo(route->cxt);

		pfree(ks->cursor);
		ks->cursor = pstrdup(reply->element[0]->str);
		ks->done = strcmp(ks->cursor, "0") == 0;
		list = reply->element[1];
		for (size_t i = 0; i < list->elements; i++)
			if (list->element[i]->type == REDIS_REPLY_STRING && list->element[i]->len >= plen)
				ks->pending = lappend(ks->pending,
									  pnstrdup(list->element[i]->str + plen,
											   list->element[i]->len - plen));
		MemoryContextSwitchTo(old);
		redis_replies_clear(r);
	}
	while (ks->pending != NIL && n < max)
	{
		char	   *k = linitial(ks->pending);

		keys[n++] = split_key(route, k);
		ks->pending = list_delete_first(ks->pending);
		pfree(k);
	}
	return n;
}
