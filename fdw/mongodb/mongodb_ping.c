/*
 * mongodb_ping.c: a non-blocking MongoDB health check for mesh.health.
 *
 * mongo-c-driver only blocks, so the ping speaks the wire protocol itself:
 * a non-blocking connect to the first host, then one OP_MSG
 * {buildInfo: 1, $db: "admin"} (allowed before authentication) and its
 * reply, read as it arrives; the version is the reply's "version".  A TLS
 * or mongodb+srv server is pinged with the driver instead, blocking for at
 * most the server's timeout_ms.  Never ereports: failures are ok = false.
 */
#include "postgres.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "utils/memutils.h"

#include "mongodb_internal.h"

#define OP_MSG 2013
#define MAX_REPLY (1024 * 1024)

typedef struct MongoPing
{
	int			fd;
	bool		connecting;
	StringInfoData out;			/* the request; out.cursor: bytes sent */
	StringInfoData in;			/* the reply so far */
} MongoPing;

static void
ping_fail(MeshPing *ping, const char *what, const char *detail)
{
	ping->done = true;
	ping->ok = false;
	ping->error = detail ? psprintf("%s: %s", what, detail) : pstrdup(what);
}

static void
put_int32(StringInfo buf, int32 v)
{
	uint8		b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};

	appendBinaryStringInfo(buf, (char *) b, 4);
}

static int32
get_int32(const char *p)
{
	const uint8 *b = (const uint8 *) p;

	return (int32) (b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32) b[3] << 24));
}

/* The OP_MSG of {buildInfo: 1, $db: "admin"}. */
static void
build_request(StringInfo out)
{
	bson_t		cmd = BSON_INITIALIZER;

	BSON_APPEND_INT32(&cmd, "buildInfo", 1);
	BSON_APPEND_UTF8(&cmd, "$db", "admin");
	put_int32(out, 16 + 4 + 1 + cmd.len);
	put_int32(out, 1);			/* requestID */
	put_int32(out, 0);			/* responseTo */
	put_int32(out, OP_MSG);
	put_int32(out, 0);			/* flagBits */
	appendStringInfoChar(out, 0);	/* section kind 0: the body */
	appendBinaryStringInfo(out, (const char *) bson_get_data(&cmd), cmd.len);
	bson_destroy(&cmd);
}

/* A blocking ping through the driver (TLS, SRV), bounded by timeout_ms. */
static void
driver_ping(MeshPing *ping, mongoc_uri_t *uri)
{
	bson_error_t err;
	mongoc_client_t *client = mongoc_client_new_from_uri_with_error(uri, &err);
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		reply;
	bson_iter_t it;

	if (client == NULL)
	{
		ping_fail(ping, "invalid uri", err.message);
		return;
	}
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	BSON_APPEND_INT32(&cmd, "buildInfo", 1);
	if (mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, &err))
	{
		ping->done = ping->ok = true;
		if (bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it))
			ping->version = pstrdup(bson_iter_utf8(&it, NULL));
	}
	else
		ping_fail(ping, "no answer", err.message);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	mongoc_client_destroy(client);
}

/* Open a non-blocking connection to host:port. */
static void
start_connect(MeshPing *ping, MongoPing *mp, const char *host, int port)
{
	struct addrinfo hints = {0};
	struct addrinfo *res = NULL;
	char		service[16];
	int			rc;

	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0 || res == NULL)
	{
		ping_fail(ping, "could not resolve host", gai_strerror(rc));
		return;
	}
	mp->fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (mp->fd < 0 || fcntl(mp->fd, F_SETFL, O_NONBLOCK) < 0)
	{
		freeaddrinfo(res);
		ping_fail(ping, "could not create a socket", strerror(errno));
		return;
	}
	rc = connect(mp->fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc < 0 && errno != EINPROGRESS)
	{
		ping_fail(ping, "connection failed", strerror(errno));
		return;
	}
	ping->fd = mp->fd;
	ping->want_write = true;
	mp->connecting = true;
}

void
mongo_ping_start(MeshPing *ping)
{
	MongoPing  *mp = palloc0(sizeof(MongoPing));
	MemoryContext cxt = CurrentMemoryContext;

	mp->fd = -1;
	ping->state = mp;
	initStringInfo(&mp->out);
	initStringInfo(&mp->in);
	build_request(&mp->out);
	PG_TRY();
	{
		char	   *display;
		mongoc_uri_t *uri = mongo_build_uri(ping->config, true, &display);
		const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri);

		if (mongoc_uri_get_tls(uri) || h == NULL)
			driver_ping(ping, uri);
		else
			start_connect(ping, mp, h->host, h->port);
		mongoc_uri_destroy(uri);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ping_fail(ping, "invalid options", edata->message);
	}
	PG_END_TRY();
}

/* Parse the reply: an OP_MSG whose body holds ok and version. */
static void
handle_reply(MeshPing *ping, MongoPing *mp)
{
	const char *p = mp->in.data;
	int32		len = get_int32(p);
	bson_t		body;
	bson_iter_t it;

	if (len < 21 || get_int32(p + 12) != OP_MSG || p[20] != 0 ||
		get_int32(p + 21) > len - 21 ||
		!bson_init_static(&body, (const uint8 *) p + 21, get_int32(p + 21)) ||
		!bson_validate(&body, BSON_VALIDATE_NONE, NULL))
	{
		ping_fail(ping, "malformed reply", "not a MongoDB OP_MSG answer");
		return;
	}
	if (!bson_iter_init_find(&it, &body, "ok") || !bson_iter_as_bool(&it))
	{
		const char *msg = "the server answered ok: 0";

		if (bson_iter_init_find(&it, &body, "errmsg") && BSON_ITER_HOLDS_UTF8(&it))
			msg = bson_iter_utf8(&it, NULL);
		ping_fail(ping, "server replied with an error", msg);
		return;
	}
	ping->done = ping->ok = true;
	if (bson_iter_init_find(&it, &body, "version") && BSON_ITER_HOLDS_UTF8(&it))
		ping->version = pstrdup(bson_iter_utf8(&it, NULL));
}

void
mongo_ping_continue(MeshPing *ping)
{
	MongoPing  *mp = ping->state;

	if (mp->connecting)
	{
		int			err = 0;
		socklen_t	len = sizeof(err);

		if (getsockopt(mp->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		{
			ping_fail(ping, "connection failed", strerror(err ? err : errno));
			return;
		}
		mp->connecting = false;
	}
	if (ping->want_write)
	{
		ssize_t		n = send(mp->fd, mp->out.data + mp->out.cursor,
							 mp->out.len - mp->out.cursor, MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			ping_fail(ping, "write failed", strerror(errno));
		if (n > 0)
			mp->out.cursor += n;
		if (mp->out.cursor >= mp->out.len)
			ping->want_write = false;
		return;
	}
	for (;;)
	{
		char		buf[8192];
		ssize_t		n = recv(mp->fd, buf, sizeof(buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
		{
			ping_fail(ping, "connection closed before the answer", n < 0 ? strerror(errno) : NULL);
			return;
		}
		appendBinaryStringInfo(&mp->in, buf, n);
		if (mp->in.len >= 4)
		{
			int32		want = get_int32(mp->in.data);

			if (want < 16 || want > MAX_REPLY)
			{
				ping_fail(ping, "malformed reply", "bad message length");
				return;
			}
			if (mp->in.len >= want)
			{
				handle_reply(ping, mp);
				return;
			}
		}
	}
}

void
mongo_ping_finish(MeshPing *ping)
{
	MongoPing  *mp = ping->state;

	if (mp && mp->fd >= 0)
		close(mp->fd);
	if (mp)
		mp->fd = -1;
}
