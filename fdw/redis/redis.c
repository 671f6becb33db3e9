/*
 * redis.c: the Redis connector (hiredis): options, connection, and the
 * request helpers every other file of this folder uses.
 *
 * Error contract: a hiredis reply is malloc'd.  Replies are kept in a
 * RedisReplies batch whose memory-context callback frees them, so an
 * ereport between receiving and freeing never leaks.
 */
#include "postgres.h"

#include <sys/time.h>

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "redis_internal.h"

#define REDIS_FLUSH_EVERY 10000
#define REDIS_WRITE_THROUGH (64 * 1024)

static const MeshOption redis_options[] = {
	{.name = "host", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "port", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 65535},
	{.name = "db", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT, .max = 1000000},
	{.name = "user", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "password", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true},
	{.name = "type", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_ENUM,
	.allowed = "string|hash|list|set|zset"},
	{.name = "key_prefix", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING},
	{.name = "allow_empty_key_prefix", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_BOOL},
	{.name = "key", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_BOOL},
	{.name = "field", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_STRING, .min = 1},
	{NULL}
};

/* Ereport if the connection has failed; the connection is then dropped. */
void
redis_check_context(RedisConn *rc, const char *what)
{
	if (rc->ctx->err == REDIS_ERR_IO &&
		strstr(rc->ctx->errstr, "temporarily unavailable") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("no answer from Redis server \"%s\" within %d ms during %s",
						rc->servername, rc->timeout_ms, what),
				 errhint("The server may be overloaded or hanging; timeout_ms sets the limit.")));
	if (rc->ctx->err)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("lost connection to Redis server \"%s\" during %s",
						rc->servername, what),
				 errdetail("%s", rc->ctx->errstr),
				 errhint("The connection is re-established at the next statement.")));
}

/* "<c><n>\r\n" at p (c = '*' or '$'); returns the end. */
static char *
resp_header(char *p, char c, uint64 n)
{
	*p++ = c;
	p += pg_ulltoa_n(n, p);
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

/*
 * Queue one command (binary-safe arguments; lens NULL: C strings) in the
 * output buffer.  The RESP text is the one hiredis's redisAppendCommandArgv
 * writes ("*argc", then "$len" and the bytes of each argument, each line
 * ending in CRLF), formatted here without its sds formatting (about 3,000
 * instructions of a point lookup's 35,000 in the backend).
 */
void
redis_append(RedisConn *rc, int argc, const char **argv, const size_t *lens)
{
	char		local[512];
	char	   *cmd = local;
	char	   *p;
	size_t		total = 1 + MAXINT8LEN + 2;
	int			rv;

	for (int i = 0; i < argc; i++)
		total += 1 + MAXINT8LEN + 2 + (lens ? lens[i] : strlen(argv[i])) + 2;
	if (total > sizeof(local))
		cmd = palloc(total);
	p = resp_header(cmd, '*', (uint64) argc);
	for (int i = 0; i < argc; i++)
	{
		size_t		len = lens ? lens[i] : strlen(argv[i]);

		p = resp_header(p, '$', (uint64) len);
		memcpy(p, argv[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	rv = redisAppendFormattedCommand(rc->ctx, cmd, p - cmd);
	if (cmd != local)
		pfree(cmd);
	if (rv != REDIS_OK)
		redis_check_context(rc, "a request");
}

static void
replies_free_callback(void *arg)
{
	RedisReplies *r = arg;

	for (int i = 0; i < r->n; i++)
		if (r->items[i])
			freeReplyObject(r->items[i]);
	r->n = 0;
	if (r->items)
		free(r->items);
	r->items = NULL;
	r->cap = 0;
}

/* An empty batch owned by CurrentMemoryContext. */
RedisReplies *
redis_replies_new(void)
{
	RedisReplies *r = palloc0(sizeof(RedisReplies));

	r->cb.func = replies_free_callback;
	r->cb.arg = r;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &r->cb);
	return r;
}

/* Free every reply of the batch (it can be reused). */
void
redis_replies_clear(RedisReplies *r)
{
	for (int i = 0; i < r->n; i++)
		if (r->items[i])
			freeReplyObject(r->items[i]);
	r->n = 0;
}

/* Read n replies of queued commands into r (after its current ones). */
void
redis_read_replies(RedisConn *rc, RedisReplies *r, int n)
{
	if (r->n + n > r->cap)
	{
		int			cap = Max(r->n + n, r->cap * 2);
		redisReply **items = realloc(r->items, sizeof(redisReply *) * cap);

		if (items == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		r->items = items;
		r->cap = cap;
	}
	for (int i = 0; i < n; i++)
	{
		void	   *reply = NULL;

		if (redisGetReply(rc->ctx, &reply) != REDIS_OK || reply == NULL)
			redis_check_context(rc, "a request");
		r->items[r->n++] = reply;
	}
}

/* Ereport a Redis error reply with the server's message. */
void
redis_raise_reply_error(RedisConn *rc, redisReply *reply, const char *what)
{
	char	   *msg = pnstrdup(reply->str, reply->len);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Redis server \"%s\" rejected %s", rc->servername, what),
			 errdetail("%s", msg)));
}

/*
 * Queue a write whose reply is read later (pipelining): replies are read
 * every REDIS_FLUSH_EVERY writes, and the queued bytes are sent as soon as
 * they reach REDIS_WRITE_THROUGH.  Reads on the same
 * connection call redis_flush_writes first, so a DELETE driven by a scan
 * of the same server never mixes up replies.
 */
void
redis_queue_write(RedisConn *rc, int argc, const char **argv, const size_t *lens)
{
	redis_append(rc, argc, argv, lens);
	if (++rc->pending_writes >= REDIS_FLUSH_EVERY)
		redis_flush_writes(rc);
	else if (sdslen(rc->ctx->obuf) >= REDIS_WRITE_THROUGH)
	{
		/* send what is queued so the server works while we format the rest */
		int			done;

		if (redisBufferWrite(rc->ctx, &done) != REDIS_OK)
			redis_check_context(rc, "a write");
	}
}

/* Read the replies of every queued write; an error reply ereports. */
void
redis_flush_writes(RedisConn *rc)
{
	RedisReplies *r;
	int			n = rc->pending_writes;

	if (n == 0)
		return;
	r = redis_replies_new();
	rc->pending_writes = 0;
	redis_read_replies(rc, r, n);
	for (int i = 0; i < r->n; i++)
	{
		redisReply *reply = r->items[i];

		if (reply->type == REDIS_REPLY_ERROR)
			redis_raise_reply_error(rc, reply, "a write");
		/* EXEC returns the replies of the transaction's commands */
		if (reply->type == REDIS_REPLY_ARRAY)
			for (size_t j = 0; j < reply->elements; j++)
				if (reply->element[j]->type == REDIS_REPLY_ERROR)
					redis_raise_reply_error(rc, reply->element[j], "a write");
	}
	redis_replies_clear(r);
}

/* Run one command and return its reply (kept in r); error replies ereport. */
redisReply *
redis_call(RedisConn *rc, RedisReplies *r, int argc, const char **argv, const size_t *lens)
{
	redisReply *reply;

	redis_flush_writes(rc);
	redis_append(rc, argc, argv, lens);
	redis_read_replies(rc, r, 1);
	reply = r->items[r->n - 1];
	if (reply->type == REDIS_REPLY_ERROR)
		redis_raise_reply_error(rc, reply, argv[0]);
	return reply;
}

/* Parse "redis_version:7.0.15" out of an INFO reply; 0 when absent. */
static int
parse_major_version(redisReply *info)
{
	const char *p;

	if (info->type != REDIS_REPLY_STRING)
		return 0;
	p = strstr(info->str, "redis_version:");
	return p ? atoi(p + strlen("redis_version:")) : 0;
}

static void
redis_disconnect(void *conn)
{
	RedisConn  *rc = conn;

	if (rc->ctx)
		redisFree(rc->ctx);
	pfree(rc->servername);
	pfree(rc);
}

/* Connect, authenticate (AUTH [user] password), select db; one round trip. */
static void *
redis_connect(MeshServerConfig *config)
{
	const char *host = mesh_config_get(config, "host", "127.0.0.1");
	int			port = mesh_config_get_int(config, "port", 6379);
	int			db = mesh_config_get_int(config, "db", 0);
	const char *user = mesh_config_get(config, "user", NULL);
	const char *password = mesh_config_get(config, "password", NULL);
	struct timeval tv = {config->timeout_ms / 1000, (config->timeout_ms % 1000) * 1000};
	RedisConn  *rc = MemoryContextAllocZero(TopMemoryContext, sizeof(RedisConn));
	RedisReplies *replies;
	const char *argv[3];
	int			nsent = 0;
	char		dbtext[16];

	rc->servername = MemoryContextStrdup(TopMemoryContext, config->servername);
	rc->timeout_ms = config->timeout_ms;
	rc->ctx = redisConnectWithTimeout(host, port, tv);
	if (rc->ctx == NULL || rc->ctx->err)
	{
		char	   *detail = pstrdup(rc->ctx ? rc->ctx->errstr : "out of memory");

		redis_disconnect(rc);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to Redis server \"%s\" at %s:%d",
						config->servername, host, port),
				 errdetail("%s", detail)));
	}
	redisSetTimeout(rc->ctx, tv);

	PG_TRY();
	{
		replies = redis_replies_new();
		if (password)
		{
			argv[0] = "AUTH";
			argv[1] = user ? user : password;
			argv[2] = password;
			redis_append(rc, user ? 3 : 2, argv, NULL);
			nsent++;
		}
		if (db != 0)
		{
			snprintf(dbtext, sizeof(dbtext), "%d", db);
			argv[0] = "SELECT";
			argv[1] = dbtext;
			redis_append(rc, 2, argv, NULL);
			nsent++;
		}
		argv[0] = "INFO";
		argv[1] = "server";
		redis_append(rc, 2, argv, NULL);
		nsent++;
		redis_read_replies(rc, replies, nsent);
		for (int i = 0; i < nsent; i++)
			if (replies->items[i]->type == REDIS_REPLY_ERROR)
				redis_raise_reply_error(rc, replies->items[i],
										(password && i == 0) ? "authentication" :
										"the connection setup");
		rc->major_version = parse_major_version(replies->items[nsent - 1]);
		redis_replies_clear(replies);
	}
	PG_CATCH();
	{
		redis_disconnect(rc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return rc;
}

/* Connection loss and timeouts are worth a retry; the rest is permanent. */
static MeshErrorClass
redis_classify_error(int code, const char *message)
{
	if (code == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION ||
		(message && (strncmp(message, "LOADING", 7) == 0 ||
					 strncmp(message, "BUSY", 4) == 0 ||
					 strncmp(message, "TRYAGAIN", 8) == 0)))
		return MESH_ERROR_TRANSIENT;
	return MESH_ERROR_PERMANENT;
}

static const MeshPingOps redis_ping = {
	.ping_start = redis_ping_start,
	.ping_continue = redis_ping_continue,
	.ping_finish = redis_ping_finish,
};

static const MeshScanOps redis_scan = {
	.plan_scan = redis_plan_scan,
	.begin_scan = redis_begin_scan,
	.next_row = redis_next_row,
	.end_scan = redis_end_scan,
	.explain_scan = redis_explain_scan,
};

static const MeshModifyOps redis_modify = {
	.row_identity = redis_row_identity,
	.begin_modify = redis_begin_modify,
	.modify_row = redis_modify_row,
	.end_modify = redis_end_modify,
};

const MeshConnector mesh_redis_connector = {
	.kind = "redis",
	.options = redis_options,
	.connect = redis_connect,
	.disconnect = redis_disconnect,
	.execute = redis_execute,
	.ping = &redis_ping,
	.scan = &redis_scan,
	.modify = &redis_modify,
	.sink = &redis_sink_ops,
	.fetch_rows = redis_fetch_rows,
	.scan_keys = redis_scan_keys,
	.classify_error = redis_classify_error,
};
