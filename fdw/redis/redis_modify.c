/*
 * redis_modify.c: INSERT, UPDATE and DELETE through Redis foreign tables.
 *
 * Commands are pipelined: they are queued and their replies read in
 * batches (redis_queue_write) and at the end of the statement, so a bulk INSERT
 * costs a few round trips.  A hash row is written inside MULTI/EXEC so no
 * reader sees half a row.  Writes are not transactional: a rollback of
 * the PostgreSQL transaction does not undo them.
 *
 *   string  INSERT: SET k v          UPDATE: [DEL old] SET k v   DELETE: DEL k
 *   hash    INSERT: DEL k; HSET k .. UPDATE: HSET set fields, HDEL null ones
 *   list    INSERT: RPUSH k v        UPDATE: LSET k i v          DELETE: LSET tombstone, LREM at end
 *   set     INSERT: SADD k m         UPDATE: SREM old, SADD new  DELETE: SREM k m
 *   zset    INSERT: ZADD k s m       UPDATE: ZREM old, ZADD new  DELETE: ZREM k m
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"

#include "redis_internal.h"

#define MAX_ARGS_FIXED 8

typedef struct RedisModifyState
{
	RedisLayout *layout;
	RedisConn  *rc;
	char	   *tombstone;		/* list deletes */
	List	   *tombstoned_keys;	/* list keys needing LREM at the end */
} RedisModifyState;

/* Identity: the key, plus the list index or the set/zset member. */
int
redis_row_identity(MeshTable *table, AttrNumber *attnums)
{
	RedisLayout *l = redis_layout(table);

	attnums[0] = l->key_att;
	if (l->type == REDIS_TYPE_LIST)
	{
		if (l->index_att == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("UPDATE and DELETE of a Redis list table need an \"index\" column"),
					 errhint("Add a column \"index\" integer to foreign table \"%s\".",
							 table->relname)));
		attnums[1] = l->index_att;
		return 2;
	}
	if (l->type == REDIS_TYPE_SET || l->type == REDIS_TYPE_ZSET)
	{
		attnums[1] = l->member_att;
		return 2;
	}
	return 1;
}

void
redis_begin_modify(MeshModify *m)
{
	RedisModifyState *st = palloc0(sizeof(RedisModifyState));

	m->state = st;
	st->layout = redis_layout(m->table);
	st->rc = m->conn;
	st->tombstone = psprintf("__mesh_deleted_%d_%ld__", MyProcPid, (long) random());
}

static void
queue(MeshModify *m, int argc, const char **argv, const size_t *lens)
{
	redis_queue_write(((RedisModifyState *) m->state)->rc, argc, argv, lens);
}

/* Queue a command of up to MAX_ARGS_FIXED arguments given as (ptr, len) pairs. */
static void
queue_args(MeshModify *m, int argc, ...)
{
	const char *argv[MAX_ARGS_FIXED];
	size_t		lens[MAX_ARGS_FIXED];
	va_list		ap;

	Assert(argc <= MAX_ARGS_FIXED);
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
	{
		argv[i] = va_arg(ap, const char *);
		lens[i] = va_arg(ap, size_t);
	}
	va_end(ap);
	queue(m, argc, argv, lens);
}

#define ARG(s) (s), strlen(s)

/* The text of column att from values/nulls; errors when NULL and required. */
static char *
column_text(MeshModify *m, AttrNumber att, Datum *values, bool *nulls, size_t *len,
			const char *why_required)
{
	MeshColumn *col = &m->table->columns[att - 1];

	if (nulls[att - 1])
	{
		if (why_required)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be NULL",
							col->name, m->table->relname),
					 errdetail("%s", why_required)));
		return NULL;
	}
	return mesh_value_to_text(col, values[att - 1], len);
}

static char *
key_of(MeshModify *m, Datum *values, bool *nulls, size_t *len)
{
	RedisLayout *l = ((RedisModifyState *) m->state)->layout;
	MeshColumn *col = &m->table->columns[l->key_att - 1];

	if (nulls[l->key_att - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("key column \"%s\" of foreign table \"%s\" cannot be NULL",
						col->name, m->table->relname)));
	return redis_full_key(l, col, values[l->key_att - 1], len);
}

/* HSET of the non-NULL fields (and HDEL of NULL ones when hdel_nulls). */
static void
queue_hash_fields(MeshModify *m, const char *key, size_t klen, bool hdel_nulls)
{
	RedisLayout *l = ((RedisModifyState *) m->state)->layout;
	int			n = m->table->ncolumns;
	const char **argv = palloc(sizeof(char *) * (2 * n + 2));
	size_t	   *lens = palloc(sizeof(size_t) * (2 * n + 2));
	const char **dargv = palloc(sizeof(char *) * (n + 2));
	size_t	   *dlens = palloc(sizeof(size_t) * (n + 2));
	int			argc = 2,
				dargc = 2;

	argv[0] = "HSET";
	lens[0] = 4;
	dargv[0] = "HDEL";
	dlens[0] = 4;
	argv[1] = dargv[1] = key;
	lens[1] = dlens[1] = klen;
	for (int i = 0; i < n; i++)
	{
		if (l->fields[i] == NULL)
			continue;
		if (m->new_nulls[i])
		{
			dargv[dargc] = l->fields[i];
			dlens[dargc++] = strlen(l->fields[i]);
			continue;
		}
		argv[argc] = l->fields[i];
		lens[argc++] = strlen(l->fields[i]);
		argv[argc] = column_text(m, i + 1, m->new_values, m->new_nulls, &lens[argc], NULL);
		argc++;
	}
	if (argc > 2)
		queue(m, argc, argv, lens);
	if (hdel_nulls && dargc > 2)
		queue(m, dargc, dargv, dlens);
}

static void
modify_hash(MeshModify *m, char *key, size_t klen, char *oldkey, size_t oldlen)
{
	queue_args(m, 1, ARG("MULTI"));
	if (m->op == MESH_MODIFY_INSERT)
	{
		queue_args(m, 2, ARG("DEL"), key, klen);
		queue_hash_fields(m, key, klen, false);
	}
	else if (oldlen != klen || memcmp(oldkey, key, klen) != 0)
	{
		queue_args(m, 2, ARG("DEL"), oldkey, oldlen);
		queue_args(m, 2, ARG("DEL"), key, klen);
		queue_hash_fields(m, key, klen, false);
	}
	else
		queue_hash_fields(m, key, klen, true);
	queue_args(m, 1, ARG("EXEC"));
}

/* Queue the commands of one row change. */
void
redis_modify_row(MeshModify *m)
{
	RedisModifyState *st = m->state;
	RedisLayout *l = st->layout;
	size_t		klen = 0,
				oldlen = 0,
				vlen = 0,
				mlen = 0,
				omlen = 0;
	char	   *key = NULL,
			   *oldkey = NULL;

	if (m->op != MESH_MODIFY_DELETE)
		key = key_of(m, m->new_values, m->new_nulls, &klen);
	if (m->op != MESH_MODIFY_INSERT)
		oldkey = key_of(m, m->old_values, m->old_nulls, &oldlen);

	if (m->op == MESH_MODIFY_DELETE && l->type != REDIS_TYPE_LIST &&
		l->type != REDIS_TYPE_SET && l->type != REDIS_TYPE_ZSET)
	{
		queue_args(m, 2, ARG("DEL"), oldkey, oldlen);
		return;
	}
	switch (l->type)
	{
		case REDIS_TYPE_STRING:
			{
				char	   *v = column_text(m, l->value_att, m->new_values, m->new_nulls, &vlen,
											"A Redis string cannot hold NULL; delete the key instead.");

				if (m->op == MESH_MODIFY_UPDATE &&
					(oldlen != klen || memcmp(oldkey, key, klen) != 0))
					queue_args(m, 2, ARG("DEL"), oldkey, oldlen);
				queue_args(m, 3, ARG("SET"), key, klen, v, vlen);
				break;
			}
		case REDIS_TYPE_HASH:
			modify_hash(m, key, klen, oldkey, oldlen);
			break;
		case REDIS_TYPE_LIST:
			{
				char	   *idx;
				size_t		ilen;

				if (m->op == MESH_MODIFY_INSERT)
				{
					char	   *v = column_text(m, l->value_att, m->new_values, m->new_nulls,
												&vlen, "A Redis list element cannot be NULL.");

					queue_args(m, 3, ARG("RPUSH"), key, klen, v, vlen);
					break;
				}
				idx = column_text(m, l->index_att, m->old_values, m->old_nulls, &ilen,
								  "The index identifies the list element.");
				if (m->op == MESH_MODIFY_DELETE)
				{
					queue_args(m, 4, ARG("LSET"), oldkey, oldlen, idx, ilen, ARG(st->tombstone));
					st->tombstoned_keys = lappend(st->tombstoned_keys, pnstrdup(oldkey, oldlen));
					break;
				}
				if (oldlen != klen || memcmp(oldkey, key, klen) != 0 ||
					m->new_nulls[l->index_att - 1] ||
					strcmp(idx, column_text(m, l->index_att, m->new_values, m->new_nulls,
											&vlen, NULL)) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot change the key or index of a Redis list element"),
							 errhint("Delete the element and insert a new one.")));
				{
					char	   *v = column_text(m, l->value_att, m->new_values, m->new_nulls,
												&vlen, "A Redis list element cannot be NULL.");

					queue_args(m, 4, ARG("LSET"), key, klen, idx, ilen, v, vlen);
				}
				break;
			}
		case REDIS_TYPE_SET:
		case REDIS_TYPE_ZSET:
			{
				bool		zset = l->type == REDIS_TYPE_ZSET;

				if (m->op != MESH_MODIFY_INSERT)
				{
					char	   *om = column_text(m, l->member_att, m->old_values, m->old_nulls,
												 &omlen, "The member identifies the row.");

					queue_args(m, 3, zset ? "ZREM" : "SREM", (size_t) 4, oldkey, oldlen, om, omlen);
				}
				if (m->op != MESH_MODIFY_DELETE)
				{
					char	   *mem = column_text(m, l->member_att, m->new_values, m->new_nulls,
												  &mlen, "A Redis set member cannot be NULL.");

					if (zset)
					{
						size_t		slen;
						char	   *score = column_text(m, l->score_att, m->new_values,
														m->new_nulls, &slen,
														"A sorted set member needs a score.");

						queue_args(m, 4, ARG("ZADD"), key, klen, score, slen, mem, mlen);
					}
					else
						queue_args(m, 3, ARG("SADD"), key, klen, mem, mlen);
				}
				break;
			}
	}
}

/* Flush queued writes; remove tombstoned list elements. */
void
redis_end_modify(MeshModify *m)
{
	RedisModifyState *st = m->state;
	ListCell   *lc;

	foreach(lc, st->tombstoned_keys)
	{
		char	   *k = lfirst(lc);

		queue_args(m, 4, ARG("LREM"), k, strlen(k), ARG("0"), ARG(st->tombstone));
	}
	st->tombstoned_keys = NIL;
	redis_flush_writes(st->rc);
	m->requests++;
}
