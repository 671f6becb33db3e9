/*
 * pool_load.c: the steady load of bench/pool.sh: in every database named, a
 * "tick" RATE times a second, each tick one autocommit call of the
 * database's pool_tick(id) (one INSERT into every replicated table of that
 * database, the row's id = the tick's id).
 *
 *   pool_load CONNINFO RATE SECONDS FIRST_ID DBNAME...
 *
 * One connection per database, all driven from one thread with libpq's
 * asynchronous calls.  Database i's k-th tick is due at
 * start + (k + i / ndb) / RATE (the databases' ticks are spread over the
 * period); a tick whose database is still busy with the previous one is sent
 * as soon as it is free (counted as late), so a machine that cannot keep up
 * shows a lower achieved rate instead of a skipped tick.
 *
 * stdout: one line per tick, "DBNAME ID COMMIT_US" (COMMIT_US: wall-clock
 * microseconds when the call's result, i.e. its commit, came back).
 * stderr, last: "ticks=N events=N seconds=S rate=R late=N max_late_ms=M",
 * events = the sum of the rows pool_tick reported, rate = events / seconds
 * (seconds: SECONDS, or until the last commit if that came later).
 * Built by bench/pool.sh: cc -O2 -I$(pg_config --includedir) pool_load.c -lpq
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

typedef struct Db
{
	const char *name;
	PGconn	   *conn;
	long		next;			/* next tick to send (0-based) */
	long		sent_id;		/* id of the tick in flight, -1: idle */
	long		rows;			/* what the call in flight returned */
} Db;

static double
now_s(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(Db *db, const char *what)
{
	fprintf(stderr, "pool_load: %s: %s: %s", db->name, what, PQerrorMessage(db->conn));
	exit(1);
}

static void
send_tick(Db *db, long id)
{
	char		idtext[32];
	const char *values[1] = {idtext};

	snprintf(idtext, sizeof(idtext), "%ld", id);
	if (!PQsendQueryParams(db->conn, "SELECT pool_tick($1::bigint)", 1, NULL, values, NULL, NULL, 0))
		die(db, "send");
	db->sent_id = id;
	db->rows = 0;
}

/* Read what arrived; true when the call in flight has completed. */
static int
collect(Db *db)
{
	PGresult   *res;

	if (!PQconsumeInput(db->conn))
		die(db, "read");
	while (!PQisBusy(db->conn))
	{
		res = PQgetResult(db->conn);
		if (res == NULL)
			return 1;
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die(db, "pool_tick");
		db->rows = atol(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	double		rate,
				seconds,
				start,
				last_commit,
				max_late = 0;
	long		first_id,
				ticks_per_db,
				ticks = 0,
				events = 0,
				late = 0;
	int			ndb = argc - 5;
	Db		   *dbs;
	struct pollfd *pfds;

	if (argc < 6)
	{
		fprintf(stderr, "usage: pool_load CONNINFO RATE SECONDS FIRST_ID DBNAME...\n");
		return 2;
	}
	rate = atof(argv[2]);
	seconds = atof(argv[3]);
	first_id = atol(argv[4]);
	ticks_per_db = (long) (rate * seconds + 0.5);
	dbs = calloc(ndb, sizeof(Db));
	pfds = calloc(ndb, sizeof(struct pollfd));
	for (int i = 0; i < ndb; i++)
	{
		char		conninfo[1024];

		dbs[i].name = argv[5 + i];
		snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", argv[1], dbs[i].name);
		dbs[i].conn = PQconnectdb(conninfo);
		if (PQstatus(dbs[i].conn) != CONNECTION_OK)
			die(&dbs[i], "connect");
		dbs[i].sent_id = -1;
	}
	start = now_s(CLOCK_MONOTONIC);
	last_commit = start;
	for (;;)
	{
		double		t = now_s(CLOCK_MONOTONIC),
					wake = t + 1;
		int			busy = 0;

		for (int i = 0; i < ndb; i++)
		{
			Db		   *db = &dbs[i];
			double		due = start + (db->next + (double) i / ndb) / rate;

			if (db->sent_id < 0 && db->next < ticks_per_db)
			{
				if (due <= t)
				{
					if (t - due > 0.005)
						late++;
					if (t - due > max_late)
						max_late = t - due;
					send_tick(db, first_id + db->next++);
				}
				else if (due < wake)
					wake = due;
			}
			pfds[i].fd = PQsocket(db->conn);
			pfds[i].events = db->sent_id >= 0 ? POLLIN : 0;
			busy |= db->sent_id >= 0 || db->next < ticks_per_db;
		}
		if (!busy)
			break;
		if (poll(pfds, ndb, (int) ((wake - t) * 1000) + 1) < 0)
		{
			perror("pool_load: poll");
			return 1;
		}
		for (int i = 0; i < ndb; i++)
		{
			Db		   *db = &dbs[i];

			if (db->sent_id >= 0 && (pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) && collect(db))
			{
				printf("%s %ld %.0f\n", db->name, db->sent_id, now_s(CLOCK_REALTIME) * 1e6);
				last_commit = now_s(CLOCK_MONOTONIC);
				ticks++;
				events += db->rows;
				db->sent_id = -1;
			}
		}
	}
	/* the run lasted SECONDS unless the last commit came later */
	if (last_commit - start < seconds)
		last_commit = start + seconds;
	fprintf(stderr, "ticks=%ld events=%ld seconds=%.3f rate=%.0f late=%ld max_late_ms=%.1f\n",
			ticks, events, last_commit - start, events / (last_commit - start), late, max_late * 1000);
	for (int i = 0; i < ndb; i++)
		PQfinish(dbs[i].conn);
	return 0;
}
