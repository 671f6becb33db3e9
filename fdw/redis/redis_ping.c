/*
 * redis_ping.c: a non-blocking Redis health check for mesh.health.
 * Connect without blocking, then send [AUTH], PING and INFO server in one
 * write and read the replies as they arrive.  Never ereports.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "redis_internal.h"

typedef enum PingPhase
{
	PING_CONNECTING,
	PING_WRITING,
	PING_READING
} PingPhase;

typedef struct RedisPing
{
	redisContext *ctx;
	PingPhase	phase;
	int			expected;		/* replies to read */
	int			got;
} RedisPing;

static void
ping_fail(MeshPing *ping, const char *what, const char *detail)
{
	ping->done = true;
	ping->ok = false;
	ping->error = detail ? psprintf("%s: %s", what, detail) : pstrdup(what);
}

void
redis_ping_start(MeshPing *ping)
{
	const char *host = mesh_config_get(ping->config, "host", "127.0.0.1");
	int			port = mesh_config_get_int(ping->config, "port", 6379);
	RedisPing  *rp = palloc0(sizeof(RedisPing));

	ping->state = rp;
	rp->ctx = redisConnectNonBlock(host, port);
	if (rp->ctx == NULL || rp->ctx->err)
	{
		ping_fail(ping, "connection failed", rp->ctx ? rp->ctx->errstr : "out of memory");
		return;
	}
	ping->fd = rp->ctx->fd;
	ping->want_write = true;
	rp->phase = PING_CONNECTING;
}

static void
queue_commands(MeshPing *ping, RedisPing *rp)
{
	const char *user = mesh_config_get(ping->config, "user", NULL);
	const char *password = mesh_config_get(ping->config, "password", NULL);

	if (password)
	{
		const char *argv[3] = {"AUTH", user ? user : password, password};

		redisAppendCommandArgv(rp->ctx, user ? 3 : 2, argv, NULL);
		rp->expected++;
	}
	redisAppendCommand(rp->ctx, "PING");
	redisAppendCommand(rp->ctx, "INFO server");
	rp->expected += 2;
}

/* Handle one reply; returns false when the ping has ended. */
static bool
handle_reply(MeshPing *ping, RedisPing *rp, redisReply *reply)
{
	bool		last = ++rp->got == rp->expected;

	if (reply->type == REDIS_REPLY_ERROR)
	{
		ping_fail(ping, "server replied with an error", reply->str);
		return false;
	}
	if (last)
	{
		const char *v = reply->type == REDIS_REPLY_STRING ?
		strstr(reply->str, "redis_version:") : NULL;

		ping->done = true;
		ping->ok = true;
		if (v)
		{
			v += strlen("redis_version:");
			ping->version = pnstrdup(v, strcspn(v, "\r\n"));
		}
		return false;
	}
	return true;
}

void
redis_ping_continue(MeshPing *ping)
{
	RedisPing  *rp = ping->state;

	if (rp->phase == PING_CONNECTING)
	{
		int			err = 0;
		socklen_t	len = sizeof(err);

		if (getsockopt(rp->ctx->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		{
			ping_fail(ping, "connection failed", strerror(err ? err : errno));
			return;
		}
		queue_commands(ping, rp);
		rp->phase = PING_WRITING;
	}
	if (rp->phase == PING_WRITING)
	{
		int			done = 0;

		if (redisBufferWrite(rp->ctx, &done) != REDIS_OK)
		{
			ping_fail(ping, "write failed", rp->ctx->errstr);
			return;
		}
		if (!done)
			return;
		rp->phase = PING_READING;
		ping->want_write = false;
		return;
	}
	if (redisBufferRead(rp->ctx) != REDIS_OK)
	{
		ping_fail(ping, "read failed", rp->ctx->errstr);
		return;
	}
	for (;;)
	{
		void	   *reply = NULL;
		bool		more;

		if (redisGetReply(rp->ctx, &reply) != REDIS_OK)
		{
			ping_fail(ping, "malformed reply", rp->ctx->errstr);
			return;
		}
		if (reply == NULL)
			return;
		more = handle_reply(ping, rp, reply);
		freeReplyObject(reply);
		if (!more)
			return;
	}
}

void
redis_ping_finish(MeshPing *ping)
{
	RedisPing  *rp = ping->state;

	if (rp && rp->ctx)
		redisFree(rp->ctx);
	if (rp)
		rp->ctx = NULL;
}
