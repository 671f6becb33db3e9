/*
 * redis_scan_client.c: a plain hiredis client that reads every hash under a
 * key pattern, the baseline "hiredis" of bench/redis_scan.sh.
 *
 *   redis_scan_client HOST PORT PATTERN
 *
 * It speaks the same protocol as the mesh_redis scan, without PostgreSQL:
 * SCAN <cursor> MATCH PATTERN COUNT 1000 TYPE hash, then the HGETALL of every
 * key of that batch pipelined together with the next SCAN, one round trip per
 * batch.  Every reply is parsed (hiredis builds the reply objects) and every
 * hash is read as the benchmark query does: the field "v" is converted with
 * strtod and summed, the field "sensor" is counted.  The clock runs from
 * after the connection is made until the last reply is processed.
 *
 * Prints one line: rows=N sensors=N sum=S seconds=T; exits 1 on any error.
 * Built by bench/redis_scan.sh with: cc -O2 -o ... redis_scan_client.c -lhiredis
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define SCAN_COUNT "1000"

static void
fail(redisContext *c, const char *what)
{
	fprintf(stderr, "redis_scan_client: %s: %s\n", what,
			c && c->err ? c->errstr : "unexpected reply");
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Queue SCAN cursor MATCH pattern COUNT 1000 TYPE hash. */
static void
append_scan(redisContext *c, const char *cursor, size_t cursor_len, const char *pattern)
{
	const char *argv[8] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT, "TYPE", "hash"};
	size_t		argl[8] = {4, cursor_len, 5, strlen(pattern), 5, strlen(SCAN_COUNT), 4, 4};

	if (redisAppendCommandArgv(c, 8, argv, argl) != REDIS_OK)
		fail(c, "SCAN");
}

static redisReply *
get_reply(redisContext *c, const char *what)
{
	void	   *r;

	if (redisGetReply(c, &r) != REDIS_OK || r == NULL)
		fail(c, what);
	if (((redisReply *) r)->type == REDIS_REPLY_ERROR)
	{
		fprintf(stderr, "redis_scan_client: %s: %s\n", what, ((redisReply *) r)->str);
		exit(1);
	}
	return r;
}

int
main(int argc, char **argv)
{
	struct timeval timeout = {30, 0};
	redisContext *c;
	redisReply *scan;
	long		rows = 0,
				sensors = 0;
	double		sum = 0,
				t0;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s HOST PORT PATTERN\n", argv[0]);
		return 2;
	}
	c = redisConnectWithTimeout(argv[1], atoi(argv[2]), timeout);
	if (c == NULL || c->err)
		fail(c, "connect");
	redisSetTimeout(c, timeout);

	t0 = now();
	append_scan(c, "0", 1, argv[3]);
	scan = get_reply(c, "SCAN");
	for (;;)
	{
		redisReply *keys;
		int			more;

		if (scan->type != REDIS_REPLY_ARRAY || scan->elements != 2 ||
			scan->element[1]->type != REDIS_REPLY_ARRAY)
			fail(NULL, "SCAN");
		keys = scan->element[1];
		more = strcmp(scan->element[0]->str, "0") != 0;
		/* this batch's HGETALLs and the next SCAN in one round trip */
		for (size_t i = 0; i < keys->elements; i++)
		{
			const char *hargv[2] = {"HGETALL", keys->element[i]->str};
			size_t		hargl[2] = {7, keys->element[i]->len};

			if (redisAppendCommandArgv(c, 2, hargv, hargl) != REDIS_OK)
				fail(c, "HGETALL");
		}
		if (more)
			append_scan(c, scan->element[0]->str, scan->element[0]->len, argv[3]);
		for (size_t i = 0; i < keys->elements; i++)
		{
			redisReply *h = get_reply(c, "HGETALL");

			if (h->type != REDIS_REPLY_ARRAY || h->elements % 2 != 0)
				fail(NULL, "HGETALL");
			if (h->elements > 0)
				rows++;
			for (size_t f = 0; f + 1 < h->elements; f += 2)
			{
				redisReply *name = h->element[f];
				redisReply *value = h->element[f + 1];

				if (name->len == 1 && name->str[0] == 'v')
				{
					char	   *end;

					sum += strtod(value->str, &end);
					if (end == value->str)
						fail(NULL, "field v is not a number");
				}
				else if (name->len == 6 && memcmp(name->str, "sensor", 6) == 0)
					sensors++;
			}
			freeReplyObject(h);
		}
		freeReplyObject(scan);
		if (!more)
			break;
		scan = get_reply(c, "SCAN");
	}
	printf("rows=%ld sensors=%ld sum=%.17g seconds=%.6f\n", rows, sensors, sum, now() - t0);
	redisFree(c);
	return 0;
}
