/*
 * bench/duckdb_copy.c: DuckDB's own bulk path, the baseline of
 * bench/duckdb.sh: open a database file, run each SQL argument in order
 * through libduckdb, and print the seconds the last one took.
 *   duckdb_copy LIBDUCKDB DBFILE SQL... 
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../src/duckdb_api.h"

int
main(int argc, char **argv)
{
	void	   *h;
	duckdb_state (*open_ext) (const char *, duckdb_database *, duckdb_config, char **);
	duckdb_state (*connect) (duckdb_database, duckdb_connection *);
	duckdb_state (*query) (duckdb_connection, const char *, duckdb_result *);
	const char *(*result_error) (duckdb_result *);
	void		(*destroy_result) (duckdb_result *);
	void		(*disconnect) (duckdb_connection *);
	void		(*close_db) (duckdb_database *);
	duckdb_database db;
	duckdb_connection con;
	char	   *err = NULL;
	double		secs = 0;

	if (argc < 4 || (h = dlopen(argv[1], RTLD_NOW)) == NULL)
	{
		fprintf(stderr, "usage: duckdb_copy LIBDUCKDB DBFILE SQL...\n");
		return 2;
	}
	*(void **) &open_ext = dlsym(h, "duckdb_open_ext");
	*(void **) &connect = dlsym(h, "duckdb_connect");
	*(void **) &query = dlsym(h, "duckdb_query");
	*(void **) &result_error = dlsym(h, "duckdb_result_error");
	*(void **) &destroy_result = dlsym(h, "duckdb_destroy_result");
	*(void **) &disconnect = dlsym(h, "duckdb_disconnect");
	*(void **) &close_db = dlsym(h, "duckdb_close");
	if (open_ext(argv[2], &db, NULL, &err) != DuckDBSuccess || connect(db, &con) != DuckDBSuccess)
	{
		fprintf(stderr, "open %s: %s\n", argv[2], err ? err : "?");
		return 1;
	}
	for (int i = 3; i < argc; i++)
	{
		duckdb_result res;
		struct timespec t0,
					t1;

		memset(&res, 0, sizeof(res));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (query(con, argv[i], &res) != DuckDBSuccess)
		{
			fprintf(stderr, "%s: %s\n", argv[i], result_error(&res));
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		destroy_result(&res);
		secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	disconnect(&con);
	close_db(&db);
	printf("%.6f\n", secs);
	return 0;
}
