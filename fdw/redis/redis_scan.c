/*
 * redis_scan.c: reading Redis keys as rows.
 *
 * Planning costs no round trip.  A qual on the key column picks the keys:
 *   key = v          the one key           (MGET / HGETALL / ...)
 *   key = ANY(arr)   those keys, deduplicated, fetched pipelined
 *   key LIKE 'p%'    SCAN MATCH <glob> COUNT 1000 (never KEYS)
 *   otherwise        SCAN MATCH <key_prefix>* COUNT 1000
 * SCAN batches are pipelined: the values of one batch and the next SCAN go
 * out in the same round trip.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "mesh_util.h"
#include "redis_internal.h"

#define SCAN_COUNT "1000"
#define KEYS_PER_BATCH 1000
#define EXPLAIN_KEYS 10

typedef struct RedisScanState
{
	RedisLayout *layout;
	RedisConn  *rc;
	bool		use_scan;		/* SCAN MATCH, else a key list */
	char	  **keys;			/* key list mode */
	size_t	   *keylens;
	int			nkeys;
	int			next_key;
	char	   *pattern;		/* SCAN mode */
	RedisReplies *keysrc;		/* SCAN reply holding the current batch's keys */
	RedisReplies *nextscan;		/* SCAN reply holding the next batch's keys */
	bool		scan_started;
	/* current batch */
	RedisReplies *values;
	char	  **bkeys;
	size_t	   *bkeylens;
	int			bn;
	int			bcap;			/* allocated size of bkeys (SCAN mode) */
	int			bpos;
	int			epos;			/* element within a list/set/zset reply */
} RedisScanState;

static const char *
fetch_command(RedisType type)
{
	switch (type)
	{
		case REDIS_TYPE_STRING:
			return "MGET";
		case REDIS_TYPE_HASH:
			return "HGETALL";
		case REDIS_TYPE_LIST:
			return "LRANGE";
		case REDIS_TYPE_SET:
			return "SMEMBERS";
		case REDIS_TYPE_ZSET:
			return "ZRANGE";
	}
	return "?";
}

static bool
is_text_type(Oid typid)
{
	return typid == TEXTOID || typid == VARCHAROID;
}

/* Choose the one key qual to push (=, then ANY, then LIKE). */
void
redis_plan_scan(MeshScanPlan *plan)
{
	RedisLayout *l = redis_layout(plan->table);
	MeshColumn *keycol = &plan->table->columns[l->key_att - 1];
	int			best = -1;
	int			best_rank = 0;

	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];
		int			rank = 0;

		if (q->attnum != l->key_att)
			continue;
		if (q->op == MESH_QUAL_EQ)
			rank = 3;
		else if (q->op == MESH_QUAL_IN)
			rank = 2;
		else if (q->op == MESH_QUAL_LIKE && is_text_type(keycol->typid))
			rank = 1;
		if (rank > best_rank)
		{
			best_rank = rank;
			best = i;
		}
	}
	if (best < 0)
		plan->rows = 1000;
	else
	{
		MeshQual   *q = &plan->quals[best];

		q->pushed = true;
		if (q->op == MESH_QUAL_EQ)
			plan->rows = 1;
		else if (q->op == MESH_QUAL_IN)
		{
			char	  **elems;

			plan->rows = q->known ? Max(mesh_qual_array_text(q, &elems), 1) : 10;
		}
		else
			plan->rows = 100;
	}
	if (l->type != REDIS_TYPE_STRING && l->type != REDIS_TYPE_HASH)
		plan->rows *= 10;		/* several elements per key */
}

static int
compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The text of an = qual's value: through the key column's output function
 * (looked up once with the cached table) when the value has the column's
 * type, as a parameter of the key column's type has.
 */
static char *
key_value_text(MeshTable *table, RedisLayout *l, MeshQual *q)
{
	MeshColumn *keycol = &table->columns[l->key_att - 1];

	if (table->io_ready && q->valtype == keycol->typid)
		return OutputFunctionCall(&keycol->out_func, q->value);
	return mesh_datum_text(q->value, q->valtype);
}

/* The key list of an = or = ANY qual: prefixed, deduplicated. */
static void
build_key_list(RedisScanState *st, MeshTable *table, MeshQual *q)
{
	char	  **vals;
	int			n = 0;

	if (q->op == MESH_QUAL_EQ)
	{
		vals = palloc(sizeof(char *));
		if (!q->isnull)
			vals[n++] = key_value_text(table, st->layout, q);
	}
	else
		n = mesh_qual_array_text(q, &vals);
	if (n > 1)
		qsort(vals, n, sizeof(char *), compare_keys);
	st->keys = palloc(sizeof(char *) * Max(n, 1));
	st->keylens = palloc(sizeof(size_t) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		size_t		vlen;
		char	   *key;

		if (i > 0 && strcmp(vals[i], vals[i - 1]) == 0)
			continue;
		vlen = strlen(vals[i]);
		key = palloc(st->layout->prefix_len + vlen + 1);
		memcpy(key, st->layout->prefix, st->layout->prefix_len);
		memcpy(key + st->layout->prefix_len, vals[i], vlen + 1);
		st->keys[st->nkeys] = key;
		st->keylens[st->nkeys] = st->layout->prefix_len + vlen;
		st->nkeys++;
	}
}

/* The SCAN MATCH pattern for the pushed qual (or the whole prefix). */
static char *
scan_pattern(RedisLayout *l, MeshQual *q)
{
	char	   *prefix = redis_glob_escape(l->prefix, l->prefix_len);

	if (q != NULL && q->op == MESH_QUAL_LIKE)
	{
		if (!q->known || q->isnull)
			return NULL;
		return psprintf("%s%s", prefix, redis_like_to_glob(mesh_datum_text(q->value, q->valtype)));
	}
	return psprintf("%s*", prefix);
}

void
redis_begin_scan(MeshScan *scan)
{
	RedisScanState *st = palloc0(sizeof(RedisScanState));
	MeshQual   *q = scan->nquals > 0 ? &scan->quals[0] : NULL;

	scan->state = st;
	st->layout = redis_layout(scan->table);
	st->rc = scan->conn;
	st->values = redis_replies_new();
	if (q != NULL && (q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_IN))
		build_key_list(st, scan->table, q);
	else
	{
		st->use_scan = true;
		st->pattern = scan_pattern(st->layout, q);
		st->keysrc = redis_replies_new();
		st->nextscan = redis_replies_new();
	}
}

/* Queue the commands reading the values of keys[0..n). */
static int
append_fetches(RedisScanState *st, char **keys, size_t *lens, int n)
{
	RedisConn  *rc = st->rc;
	const char *cmd = fetch_command(st->layout->type);

	if (n == 0)
		return 0;
	if (st->layout->type == REDIS_TYPE_STRING)
	{
		const char **argv = palloc(sizeof(char *) * (n + 1));
		size_t	   *argl = palloc(sizeof(size_t) * (n + 1));

		argv[0] = cmd;
		argl[0] = strlen(cmd);
		memcpy(argv + 1, keys, sizeof(char *) * n);
		memcpy(argl + 1, lens, sizeof(size_t) * n);
		redis_append(rc, n + 1, argv, argl);
		pfree(argv);
		pfree(argl);
		return 1;
	}
	for (int i = 0; i < n; i++)
	{
		const char *argv[5] = {cmd, keys[i], "0", "-1", "WITHSCORES"};
		size_t		argl[5] = {strlen(cmd), lens[i], 1, 2, 10};
		int			argc = 2;

		if (st->layout->type == REDIS_TYPE_LIST)
			argc = 4;
		else if (st->layout->type == REDIS_TYPE_ZSET)
			argc = 5;
		redis_append(rc, argc, argv, argl);
	}
	return n;
}

static void
append_scan(RedisScanState *st, const char *cursor, size_t cursor_len)
{
	const char *argv[8] = {"SCAN", cursor, "MATCH", st->pattern, "COUNT", SCAN_COUNT,
	"TYPE", st->layout->type_name};
	size_t		argl[8] = {4, cursor_len, 5, strlen(st->pattern), 5, strlen(SCAN_COUNT),
	4, strlen(st->layout->type_name)};

	redis_append(st->rc, st->rc->major_version >= 6 ? 8 : 6, argv, argl);
}

/* Check a SCAN reply's shape: [cursor, [keys...]]. */
static redisReply *
scan_reply(RedisScanState *st, RedisReplies *r)
{
	redisReply *reply = r->items[0];

	if (reply->type == REDIS_REPLY_ERROR)
		redis_raise_reply_error(st->rc, reply, "SCAN");
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
		reply->element[0]->type != REDIS_REPLY_STRING ||
		reply->element[1]->type != REDIS_REPLY_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("malformed SCAN reply from Redis server \"%s\"", st->rc->servername)));
	return reply;
}

/* Fetch the next batch of values (in scan_cxt); false when exhausted. */
static bool
next_batch_in_cxt(MeshScan *scan)
{
	RedisScanState *st = scan->state;
	int			nfetch;

	redis_flush_writes(st->rc);
	redis_replies_clear(st->values);
	st->bn = st->bpos = st->epos = 0;
	if (!st->use_scan)
	{
		int			n = Min(st->nkeys - st->next_key, KEYS_PER_BATCH);

		if (n <= 0)
			return false;
		st->bkeys = st->keys + st->next_key;
		st->bkeylens = st->keylens + st->next_key;
		st->next_key += n;
		nfetch = append_fetches(st, st->bkeys, st->bkeylens, n);
		redis_read_replies(st->rc, st->values, nfetch);
		scan->requests++;
		st->bn = n;
		return true;
	}
	if (st->pattern == NULL)
		return false;			/* LIKE NULL matches nothing */
	for (;;)
	{
		redisReply *pending = NULL;
		RedisReplies *swap;
		int			n = 0;
		bool		more;

		if (st->scan_started)
		{
			if (st->nextscan->n == 0)
				return false;	/* the last SCAN returned cursor 0 and was consumed */
			pending = scan_reply(st, st->nextscan);
			n = pending->element[1]->elements;
		}
		more = !st->scan_started || strcmp(pending->element[0]->str, "0") != 0;
		if (n == 0 && !more)
			return false;
		/* values of the pending keys, then the next SCAN, in one round trip */
		if (n > st->bcap)
		{
			st->bcap = Max(n, 1024);
			st->bkeys = palloc(sizeof(char *) * st->bcap);
			st->bkeylens = palloc(sizeof(size_t) * st->bcap);
		}
		for (int i = 0; i < n; i++)
		{
			st->bkeys[i] = pending->element[1]->element[i]->str;
			st->bkeylens[i] = pending->element[1]->element[i]->len;
		}
		nfetch = append_fetches(st, st->bkeys, st->bkeylens, n);
		if (more)
			append_scan(st, st->scan_started ? pending->element[0]->str : "0",
						st->scan_started ? pending->element[0]->len : 1);
		/* the pending SCAN reply now backs the batch's key names */
		swap = st->keysrc;
		st->keysrc = st->nextscan;
		st->nextscan = swap;
		redis_replies_clear(st->nextscan);
		redis_read_replies(st->rc, st->values, nfetch);
		if (more)
			redis_read_replies(st->rc, st->nextscan, 1);
		scan->requests++;
		st->scan_started = true;
		st->bn = n;
		if (n > 0)
			return true;
	}
}

static bool
next_batch(MeshScan *scan)
{
	MemoryContext old = MemoryContextSwitchTo(scan->scan_cxt);
	bool		found = next_batch_in_cxt(scan);

	MemoryContextSwitchTo(old);
	return found;
}

/* The value reply for the batch's key i. */
static redisReply *
value_reply(RedisScanState *st, int i)
{
	redisReply *r = st->values->items[st->layout->type == REDIS_TYPE_STRING ? 0 : i];

	if (st->layout->type == REDIS_TYPE_STRING)
	{
		if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t) st->bn)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("malformed MGET reply from Redis server \"%s\"",
							st->rc->servername)));
		return r->element[i];
	}
	return r;
}

static void
set_column(MeshScan *scan, AttrNumber att, redisReply *v, Datum *values, bool *nulls)
{
	if (att == InvalidAttrNumber || !scan->wanted[att - 1])
		return;
	if (v->type != REDIS_REPLY_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("unexpected Redis reply type %d for column \"%s\"", v->type,
						scan->table->columns[att - 1].name)));
	values[att - 1] = mesh_value_from_cstring(&scan->table->columns[att - 1], v->str, v->len);
	nulls[att - 1] = false;
}

static void
set_hash_fields(MeshScan *scan, RedisLayout *l, redisReply *r, Datum *values, bool *nulls)
{
	for (size_t f = 0; f + 1 < r->elements; f += 2)
	{
		redisReply *name = r->element[f];

		for (int c = 0; c < scan->table->ncolumns; c++)
		{
			const char *field = l->fields[c];

			if (field && scan->wanted[c] && strlen(field) == name->len &&
				memcmp(field, name->str, name->len) == 0)
				set_column(scan, c + 1, r->element[f + 1], values, nulls);
		}
	}
}

/* Produce the next row; keys that are missing or of another type give none. */
bool
redis_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	RedisScanState *st = scan->state;
	RedisLayout *l = st->layout;
	MeshColumn *keycol = &scan->table->columns[l->key_att - 1];

	for (;;)
	{
		redisReply *r;
		size_t		step = l->type == REDIS_TYPE_ZSET ? 2 : 1;

		if (st->bpos >= st->bn && !next_batch(scan))
			return false;
		if (st->bpos >= st->bn)
			continue;
		r = value_reply(st, st->bpos);
		if (r->type == REDIS_REPLY_NIL || r->type == REDIS_REPLY_ERROR ||
			(r->type == REDIS_REPLY_ARRAY && st->epos + step > r->elements))
		{
			/* missing key, WRONGTYPE, or the key's elements are done */
			st->bpos++;
			st->epos = 0;
			continue;
		}
		if (scan->wanted[l->key_att - 1])
		{
			size_t		klen = st->bkeylens[st->bpos];

			/* key names are NUL-terminated (hiredis replies, build_key_list) */
			values[l->key_att - 1] = klen < l->prefix_len ?
				mesh_value_from_cstring(keycol, "", 0) :
				mesh_value_from_cstring(keycol, st->bkeys[st->bpos] + l->prefix_len,
										klen - l->prefix_len);
			nulls[l->key_att - 1] = false;
		}
		switch (l->type)
		{
			case REDIS_TYPE_STRING:
				set_column(scan, l->value_att, r, values, nulls);
				st->bpos++;
				return true;
			case REDIS_TYPE_HASH:
				if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_REPLY_HANDLE),
							 errmsg("malformed HGETALL reply from Redis server \"%s\"",
									st->rc->servername)));
				set_hash_fields(scan, l, r, values, nulls);
				st->bpos++;
				return true;
			default:
				if (r->type != REDIS_REPLY_ARRAY)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_REPLY_HANDLE),
							 errmsg("malformed %s reply from Redis server \"%s\"",
									fetch_command(l->type), st->rc->servername)));
				if (l->type == REDIS_TYPE_LIST)
				{
					set_column(scan, l->value_att, r->element[st->epos], values, nulls);
					if (l->index_att && scan->wanted[l->index_att - 1])
					{
						char		idx[32];

						snprintf(idx, sizeof(idx), "%d", st->epos);
						values[l->index_att - 1] =
							mesh_value_from_cstring(&scan->table->columns[l->index_att - 1],
													idx, strlen(idx));
						nulls[l->index_att - 1] = false;
					}
				}
				else
				{
					set_column(scan, l->member_att, r->element[st->epos], values, nulls);
					if (l->type == REDIS_TYPE_ZSET)
						set_column(scan, l->score_att, r->element[st->epos + 1], values, nulls);
				}
				st->epos += step;
				return true;
		}
	}
}

void
redis_end_scan(MeshScan *scan)
{
	RedisScanState *st = scan->state;

	if (st == NULL)
		return;
	redis_replies_clear(st->values);
	if (st->use_scan)
	{
		redis_replies_clear(st->keysrc);
		redis_replies_clear(st->nextscan);
	}
	scan->state = NULL;
}

/* The key text of a pushed = or = ANY qual for EXPLAIN. */
static void
explain_keys(StringInfo buf, RedisLayout *l, MeshQual *q)
{
	char	  **vals;
	int			n;

	if (!q->known)
	{
		appendStringInfo(buf, " %s%s", mesh_quote_display(l->prefix, l->prefix_len),
						 mesh_qual_display(q));
		return;
	}
	if (q->op == MESH_QUAL_EQ)
	{
		char	   *v = q->isnull ? NULL : mesh_datum_text(q->value, q->valtype);

		if (v)
		{
			char	   *k = psprintf("%s%s", l->prefix, v);

			appendStringInfo(buf, " %s", mesh_quote_display(k, strlen(k)));
		}
		return;
	}
	n = mesh_qual_array_text(q, &vals);
	qsort(vals, n, sizeof(char *), compare_keys);
	for (int i = 0, shown = 0; i < n && shown < EXPLAIN_KEYS; i++)
	{
		if (i > 0 && strcmp(vals[i], vals[i - 1]) == 0)
			continue;
		shown++;
		{
		char	   *k = psprintf("%s%s", l->prefix, vals[i]);

		appendStringInfo(buf, " %s", mesh_quote_display(k, strlen(k)));
		}
	}
	if (n > EXPLAIN_KEYS)
		appendStringInfo(buf, " ... (%d keys)", n);
}

/* The Redis commands of the scan, as EXPLAIN VERBOSE shows them. */
char *
redis_explain_scan(MeshScan *scan)
{
	RedisLayout *l = redis_layout(scan->table);
	MeshQual   *q = scan->nquals > 0 ? &scan->quals[0] : NULL;
	const char *cmd = fetch_command(l->type);
	const char *args = l->type == REDIS_TYPE_LIST ? " 0 -1" :
		l->type == REDIS_TYPE_ZSET ? " 0 -1 WITHSCORES" : "";
	StringInfoData buf;

	initStringInfo(&buf);
	if (q != NULL && (q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_IN))
	{
		appendStringInfoString(&buf, cmd);
		explain_keys(&buf, l, q);
		appendStringInfoString(&buf, args);
		if (l->type != REDIS_TYPE_STRING && q->op == MESH_QUAL_IN)
			appendStringInfoString(&buf, " (one per key, pipelined)");
		return buf.data;
	}
	if (q != NULL && !q->known)
		appendStringInfo(&buf, "SCAN 0 MATCH %s<glob of %s> COUNT " SCAN_COUNT,
						 redis_glob_escape(l->prefix, l->prefix_len), mesh_qual_display(q));
	else
	{
		char	   *p = scan_pattern(l, q);

		appendStringInfo(&buf, "SCAN 0 MATCH %s COUNT " SCAN_COUNT,
						 p ? mesh_quote_display(p, strlen(p)) : "(nothing)");
	}
	appendStringInfo(&buf, " TYPE %s, then %s%s%s per batch of keys (pipelined)",
					 l->type_name, cmd, l->type == REDIS_TYPE_STRING ? "" : " <key>", args);
	return buf.data;
}
