/*
 * redis_lookup_client.c: Redis point lookups without PostgreSQL, the
 * "hiredis" reference of bench/redis_lookup.sh.
 *
 *   redis_lookup_client HOST PORT PREFIX ROWS CLIENTS SECONDS
 *
 * CLIENTS threads, each with its own blocking hiredis connection (as a hub
 * backend has), loop for SECONDS seconds: pick a key PREFIX<random 1..ROWS>,
 * HGETALL it (one round trip), check the reply is a non-empty field/value
 * array and convert the field "v" with strtod, as the FDW lookup does.  This
 * is the Redis half of an FDW lookup alone: its round trip and Redis's work,
 * with no client round trip to PostgreSQL.
 *
 * Prints one line: lookups=N seconds=T tps=X; exits 1 on any error.
 * Built by bench/redis_lookup.sh with:
 *   cc -O2 -pthread -o ... redis_lookup_client.c -lhiredis
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

typedef struct Worker
{
	pthread_t	thread;
	unsigned int seed;
	long		lookups;
} Worker;

static const char *host;
static int	port;
static const char *prefix;
static long rows;
static double seconds;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
fail(redisContext *c, const char *what)
{
	fprintf(stderr, "redis_lookup_client: %s: %s\n", what,
			c && c->err ? c->errstr : "unexpected reply");
	exit(1);
}

/* One HGETALL of a random key, reply checked and "v" converted. */
static void
lookup(redisContext *c, Worker *w, double *sink)
{
	char		key[128];
	const char *argv[2] = {"HGETALL", key};
	size_t		argl[2] = {7, 0};
	redisReply *r;

	argl[1] = (size_t) snprintf(key, sizeof(key), "%s%ld", prefix,
								1 + (long) (rand_r(&w->seed) % rows));
	r = redisCommandArgv(c, 2, argv, argl);
	if (r == NULL)
		fail(c, "HGETALL");
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->elements % 2 != 0)
		fail(NULL, key);
	for (size_t f = 0; f + 1 < r->elements; f += 2)
		if (r->element[f]->len == 1 && r->element[f]->str[0] == 'v')
			*sink += strtod(r->element[f + 1]->str, NULL);
	freeReplyObject(r);
}

static void *
run(void *arg)
{
	Worker	   *w = arg;
	redisContext *c = redisConnect(host, port);
	double		sink = 0,
				end;

	if (c == NULL || c->err)
		fail(c, "connect");
	end = now() + seconds;
	while (now() < end)
	{
		lookup(c, w, &sink);
		w->lookups++;
	}
	redisFree(c);
	return sink == 0.5 ? arg : NULL;	/* keep the conversion */
}

int
main(int argc, char **argv)
{
	Worker	   *workers;
	int			clients;
	long		total = 0;
	double		t0,
				t1;

	if (argc != 7)
	{
		fprintf(stderr, "usage: redis_lookup_client HOST PORT PREFIX ROWS CLIENTS SECONDS\n");
		return 1;
	}
	host = argv[1];
	port = atoi(argv[2]);
	prefix = argv[3];
	rows = atol(argv[4]);
	clients = atoi(argv[5]);
	seconds = atof(argv[6]);
	if (rows < 1 || clients < 1 || seconds <= 0)
		fail(NULL, "ROWS, CLIENTS and SECONDS must be positive");
	workers = calloc(clients, sizeof(Worker));
	t0 = now();
	for (int i = 0; i < clients; i++)
	{
		workers[i].seed = 12345u + (unsigned int) i;
		if (pthread_create(&workers[i].thread, NULL, run, &workers[i]) != 0)
			fail(NULL, "pthread_create");
	}
	for (int i = 0; i < clients; i++)
	{
		pthread_join(workers[i].thread, NULL);
		total += workers[i].lookups;
	}
	t1 = now();
	printf("lookups=%ld seconds=%.3f tps=%.1f\n", total, t1 - t0, total / (t1 - t0));
	return 0;
}
