/*
 * bench/mongodb_bulk_client.c: the baseline of bench/mongodb.sh, MongoDB's
 * own bulk path.  Reads rows "id,sensor,ts_ms,v,n" (CSV, no quoting needed)
 * from a file and writes them as the documents mesh's replication writes
 * ({_id: id, id, sensor, ts: date, v: double, n: int64}) with one unordered
 * bulk insert per BATCH rows, into an empty collection.
 *
 *   mongodb_bulk_client URI DATABASE COLLECTION FILE BATCH
 *
 * Prints the number of documents written.  With FILE "-read-", it is the
 * baseline of the scan instead: it reads every document of the collection
 * (all fields, the driver's default batches), decodes each field as the
 * foreign table does (int64, string, date, double) and prints the count.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
fail(const char *what, const bson_error_t *err)
{
	fprintf(stderr, "mongodb_bulk_client: %s: %s\n", what, err ? err->message : "");
	exit(1);
}

static mongoc_bulk_operation_t *
new_bulk(mongoc_collection_t *coll)
{
	bson_t		opts = BSON_INITIALIZER;
	mongoc_bulk_operation_t *bulk;

	BSON_APPEND_BOOL(&opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	bson_destroy(&opts);
	return bulk;
}

static void
flush(mongoc_bulk_operation_t *bulk)
{
	bson_t		reply;
	bson_error_t err;

	if (!mongoc_bulk_operation_execute(bulk, &reply, &err))
		fail("bulk insert", &err);
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
}

/* Read every document; decode the fields the foreign table reads. */
static long
read_all(mongoc_collection_t *coll)
{
	bson_t		filter = BSON_INITIALIZER;
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	const bson_t *doc;
	bson_error_t err;
	long		n = 0;
	double		sum = 0;

	while (mongoc_cursor_next(cur, &doc))
	{
		bson_iter_t it;

		bson_iter_init(&it, doc);
		while (bson_iter_next(&it))
		{
			uint32_t	len;

			switch (bson_iter_type(&it))
			{
				case BSON_TYPE_INT64:
					sum += bson_iter_int64(&it);
					break;
				case BSON_TYPE_DOUBLE:
					sum += bson_iter_double(&it);
					break;
				case BSON_TYPE_DATE_TIME:
					sum += bson_iter_date_time(&it) % 7;
					break;
				case BSON_TYPE_UTF8:
					sum += strlen(bson_iter_utf8(&it, &len)) > 0;
					break;
				default:
					break;
			}
		}
		n++;
	}
	if (mongoc_cursor_error(cur, &err))
		fail("read", &err);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	if (sum < 0)
		printf("impossible\n");
	return n;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	mongoc_bulk_operation_t *bulk;
	bson_error_t err;
	FILE	   *in;
	char		line[4096];
	long		batch,
				queued = 0,
				total = 0;

	if (argc != 6)
	{
		fprintf(stderr, "usage: %s URI DATABASE COLLECTION FILE BATCH\n", argv[0]);
		return 2;
	}
	batch = atol(argv[5]);
	mongoc_init();
	client = mongoc_client_new(argv[1]);
	if (client == NULL)
		fail("invalid URI", NULL);
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	coll = mongoc_client_get_collection(client, argv[2], argv[3]);
	if (strcmp(argv[4], "-read-") == 0)
	{
		printf("%ld\n", read_all(coll));
		return 0;
	}
	in = fopen(argv[4], "r");
	if (in == NULL)
	{
		perror(argv[4]);
		return 1;
	}
	bulk = new_bulk(coll);
	while (fgets(line, sizeof(line), in))
	{
		char	   *f[5];
		char	   *save = NULL;
		bson_t		doc = BSON_INITIALIZER;
		int			i = 0;

		line[strcspn(line, "\n")] = '\0';
		for (char *p = strtok_r(line, ",", &save); p && i < 5; p = strtok_r(NULL, ",", &save))
			f[i++] = p;
		if (i != 5)
			continue;
		BSON_APPEND_INT64(&doc, "_id", atoll(f[0]));
		BSON_APPEND_INT64(&doc, "id", atoll(f[0]));
		BSON_APPEND_UTF8(&doc, "sensor", f[1]);
		BSON_APPEND_DATE_TIME(&doc, "ts", atoll(f[2]));
		BSON_APPEND_DOUBLE(&doc, "v", strtod(f[3], NULL));
		BSON_APPEND_INT64(&doc, "n", atoll(f[4]));
		if (!mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, &err))
			fail("queue insert", &err);
		bson_destroy(&doc);
		total++;
		if (++queued >= batch)
		{
			flush(bulk);
			bulk = new_bulk(coll);
			queued = 0;
		}
	}
	if (queued > 0)
		flush(bulk);
	else
		mongoc_bulk_operation_destroy(bulk);
	fclose(in);
	printf("%ld\n", total);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return 0;
}
