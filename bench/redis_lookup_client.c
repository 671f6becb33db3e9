/*
 * redis_lookup_client.c: Redis point lookups without PostgreSQL, the
 * "hiredis" reference of bench/redis_lookup.sh.
 *
 *   redis_lookup_client HOST PORT PREFIX ROWS CLIENTS SECONDS [CONNINFO]
 *
 * CLIENTS threads, each with its own blocking hiredis connection (as a hub
 * backend has), loop for SECONDS seconds: pick a key PREFIX<random 1..ROWS>,
 * HGETALL it (one round trip), check the reply is a non-empty field/value
 * array and convert the field "v" with strtod, as the FDW lookup does.  This
 * is the Redis half of an FDW lookup alone: its round trip and Redis's work,
 * with no client round trip to PostgreSQL.
 *
 * With CONNINFO, each thread also holds a libpq connection and sends the id
 * first as a prepared "SELECT $1::int4" (a PostgreSQL round trip that reads
 * no table), then does the HGETALL: the two round trips and four process
 * wake-ups of an FDW lookup (client -> backend -> Redis -> back), with no
 * FDW code at all.
 *
 * Prints one line: lookups=N seconds=T tps=X; exits 1 on any error.
 * Built by bench/redis_lookup.sh with:
 *   cc -O2 -pthread -I$(pg_config --includedir) -o ... redis_lookup_client.c \
 *      -L$(pg_config --libdir) -lpq -lhiredis
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

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
static const char *conninfo;	/* NULL: Redis only */

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

static void
pg_fail(PGconn *pg, const char *what)
{
	fprintf(stderr, "redis_lookup_client: %s: %s", what, PQerrorMessage(pg));
	exit(1);
}

/* The PostgreSQL round trip: the prepared "SELECT $1::int4" of id. */
static void
pg_round_trip(PGconn *pg, const char *id)
{
	const char *params[1] = {id};
	PGresult   *res = PQexecPrepared(pg, "q", 1, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		pg_fail(pg, "SELECT");
	PQclear(res);
}

/*
 * One lookup of a random key (after its PostgreSQL round trip when pg is
 * set): HGETALL, reply checked and "v" converted.
 */
static void
lookup(redisContext *c, PGconn *pg, Worker *w, double *sink)
{
	char		key[128];
	char		id[32];
	const char *argv[2] = {"HGETALL", key};
	size_t		argl[2] = {7, 0};
	redisReply *r;

	snprintf(id, sizeof(id), "%ld", 1 + (long) (rand_r(&w->seed) % rows));
	if (pg != NULL)
		pg_round_trip(pg, id);
	argl[1] = (size_t) snprintf(key, sizeof(key), "%s%s", prefix, id);
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
	PGconn	   *pg = NULL;
	double		sink = 0,
				end;

	if (c == NULL || c->err)
		fail(c, "connect");
	if (conninfo != NULL)
	{
		PGresult   *res;

		pg = PQconnectdb(conninfo);
		if (PQstatus(pg) != CONNECTION_OK)
			pg_fail(pg, "connect");
		res = PQprepare(pg, "q", "SELECT $1::int4", 1, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			pg_fail(pg, "PREPARE");
		PQclear(res);
	}
	end = now() + seconds;
	while (now() < end)
	{
		lookup(c, pg, w, &sink);
		w->lookups++;
	}
	redisFree(c);
	if (pg != NULL)
		PQfinish(pg);
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

	if (argc != 7 && argc != 8)
	{
		fprintf(stderr, "usage: redis_lookup_client HOST PORT PREFIX ROWS CLIENTS SECONDS [CONNINFO]\n");
		return 1;
	}
	host = argv[1];
	port = atoi(argv[2]);
	prefix = argv[3];
	rows = atol(argv[4]);
	clients = atoi(argv[5]);
	seconds = atof(argv[6]);
	conninfo = argc == 8 ? argv[7] : NULL;
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
