/*
 * redis_arrivals.c: when each key appears in Redis, for bench/pool.sh's lag.
 *
 *   redis_arrivals PORT KEY_PATTERN
 *
 * Subscribes to Redis's keyspace notifications of KEY_PATTERN in database 0
 * (PSUBSCRIBE __keyspace@0__:KEY_PATTERN; the caller enables them with
 * CONFIG SET notify-keyspace-events) and prints one line per notification,
 * "KEY EVENT US" (US: wall-clock microseconds when it was read), until
 * SIGTERM or SIGINT.  Redis sends a notification while it executes the
 * command, so US is when the write happened plus the loopback delivery.
 * Prints "subscribed" on stderr once the subscription is in place.
 * Built by bench/pool.sh: cc -O2 redis_arrivals.c -lhiredis
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define CHANNEL_PREFIX "__keyspace@0__:"

static volatile sig_atomic_t stop = 0;

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

static void
fail(redisContext *c, const char *what)
{
	fprintf(stderr, "redis_arrivals: %s: %s\n", what, c && c->err ? c->errstr : "unexpected reply");
	exit(1);
}

/* Print a pmessage reply: [pmessage, pattern, channel, event]. */
static void
print_notification(redisReply *r)
{
	struct timespec ts;
	const char *key;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
		strcmp(r->element[0]->str, "pmessage") != 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	key = r->element[2]->str;
	if (strncmp(key, CHANNEL_PREFIX, strlen(CHANNEL_PREFIX)) == 0)
		key += strlen(CHANNEL_PREFIX);
	printf("%s %s %lld\n", key, r->element[3]->str,
		   (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

int
main(int argc, char **argv)
{
	redisContext *c;
	redisReply *r;
	char		pattern[512];

	if (argc != 3)
	{
		fprintf(stderr, "usage: redis_arrivals PORT KEY_PATTERN\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	c = redisConnect("127.0.0.1", atoi(argv[1]));
	if (c == NULL || c->err)
		fail(c, "connect");
	snprintf(pattern, sizeof(pattern), CHANNEL_PREFIX "%s", argv[2]);
	r = redisCommand(c, "PSUBSCRIBE %s", pattern);
	if (r == NULL)
		fail(c, "PSUBSCRIBE");
	freeReplyObject(r);
	fprintf(stderr, "subscribed\n");
	while (!stop)
	{
		void	   *reply = NULL;
		fd_set		fds;
		struct timeval tv = {0, 200000};

		/* every complete reply already read, then wait for more */
		if (redisReaderGetReply(c->reader, &reply) != REDIS_OK)
			fail(c, "parse");
		if (reply != NULL)
		{
			print_notification(reply);
			freeReplyObject(reply);
			continue;
		}
		FD_ZERO(&fds);
		FD_SET(c->fd, &fds);
		if (select(c->fd + 1, &fds, NULL, NULL, &tv) > 0 && redisBufferRead(c) != REDIS_OK)
			fail(c, "read");
	}
	fflush(stdout);
	redisFree(c);
	return 0;
}
