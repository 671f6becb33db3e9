/*
 * redis_internal.h: shared declarations of the Redis connector's files.
 */
#ifndef MESH_REDIS_INTERNAL_H
#define MESH_REDIS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "connector.h"

/* One cached connection (lives in TopMemoryContext). */
typedef struct RedisConn
{
	redisContext *ctx;
	char	   *servername;
	int			major_version;	/* 0 when unknown */
	int			pending_writes; /* queued writes whose replies are unread */
	int			timeout_ms;
} RedisConn;

typedef enum RedisType
{
	REDIS_TYPE_STRING,
	REDIS_TYPE_HASH,
	REDIS_TYPE_LIST,
	REDIS_TYPE_SET,
	REDIS_TYPE_ZSET
} RedisType;

/* How a foreign table maps onto keys (see fdw/redis/README.md). */
typedef struct RedisLayout
{
	RedisType	type;
	const char *type_name;
	const char *prefix;
	size_t		prefix_len;
	AttrNumber	key_att;
	AttrNumber	value_att;		/* string, list */
	AttrNumber	index_att;		/* list, optional */
	AttrNumber	member_att;		/* set, zset */
	AttrNumber	score_att;		/* zset */
	const char **fields;		/* hash: remote field name per column, or NULL */
} RedisLayout;

/* A batch of malloc'd replies, freed by a memory context callback on error. */
typedef struct RedisReplies
{
	MemoryContextCallback cb;
	redisReply **items;
	int			n;
	int			cap;
} RedisReplies;

/* redis.c */
extern void redis_check_context(RedisConn *rc, const char *what);
extern void redis_append(RedisConn *rc, int argc, const char **argv, const size_t *lens);
extern RedisReplies *redis_replies_new(void);
extern void redis_replies_clear(RedisReplies *r);
extern void redis_read_replies(RedisConn *rc, RedisReplies *r, int n);
extern void redis_raise_reply_error(RedisConn *rc, redisReply *reply, const char *what);
extern void redis_queue_write(RedisConn *rc, int argc, const char **argv, const size_t *lens);
extern void redis_flush_writes(RedisConn *rc);
extern redisReply *redis_call(RedisConn *rc, RedisReplies *r, int argc, const char **argv,
							  const size_t *lens);

/* redis_layout.c */
extern RedisLayout *redis_layout(MeshTable *table);
extern char *redis_full_key(RedisLayout *layout, MeshColumn *keycol, Datum value,
							size_t *len);
extern char *redis_glob_escape(const char *s, size_t len);
extern char *redis_like_to_glob(const char *pattern);

/* redis_scan.c */
extern void redis_plan_scan(MeshScanPlan *plan);
extern void redis_begin_scan(MeshScan *scan);
extern bool redis_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void redis_end_scan(MeshScan *scan);
extern char *redis_explain_scan(MeshScan *scan);

/* redis_modify.c */
extern int	redis_row_identity(MeshTable *table, AttrNumber *attnums);
extern void redis_begin_modify(MeshModify *m);
extern void redis_modify_row(MeshModify *m);
extern void redis_end_modify(MeshModify *m);

/* redis_execute.c */
extern List *redis_execute(void *conn, const char *request, Jsonb *params);
extern int	redis_split_command(const char *line, char ***argv, size_t **lens);

/* redis_apply.c */
extern const MeshSinkOps redis_sink_ops;
extern void redis_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows);
extern int	redis_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);

/* redis_ping.c */
extern void redis_ping_start(MeshPing *ping);
extern void redis_ping_continue(MeshPing *ping);
extern void redis_ping_finish(MeshPing *ping);

#endif							/* MESH_REDIS_INTERNAL_H */
