/*
 * mongodb_sink.c: MongoDB as a replication target, and its side of verify.
 *
 * Layout: collection <option collection, default the source table's
 * name>, one document per row: _id is the primary key (a one-column key
 * as its value, typed as mongodb_bson.c maps its type; a composite key a
 * sub-document {k1: v1, k2: v2} in key order), then every column as a
 * field of the same name (a one-column key named _id is only _id).
 * A chunk of events keeps only the last event of each key (the others
 * are overwritten anyway) and is one unordered bulk write (one write per
 * key, so order does not matter): the deletes as one deleteMany({_id:
 * {$in: [...]}}), the updates as replace-upserts by _id, the inserts as
 * inserts (the server's fast path); an insert whose key exists (a replay)
 * fails with a duplicate-key error and is written again as a
 * replace-upsert.  A document the server refuses is a dead letter of its
 * own (mesh_apply_reject); the rest of the batch lands.  Route option write_mode 'delete_insert' instead deletes every
 * key of the chunk and inserts the new documents (ordered): far fewer
 * operations for servers slow per operation (FerretDB), but a reader may
 * miss a row between the two.  A truncate is deleteMany({}).  Every form
 * is idempotent: a replay converges.  Nothing is created ahead: MongoDB
 * creates the collection on the first write.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "mongodb_internal.h"

#define FETCH_BATCH 1000

static const char *
route_collection(MeshRoute *route)
{
	return mesh_route_option(route, "collection", route->source_name);
}

/* Route option write_mode: replace (default) or delete_insert. */
static const char *
route_write_mode(MeshRoute *route)
{
	return mesh_route_option(route, "write_mode", "replace");
}

/* The index of the one key column named _id, or -1. */
static int
id_named_key(MeshRoute *route)
{
	if (route->nkeys == 1 && strcmp(route->columns[route->key_index[0]], "_id") == 0)
		return route->key_index[0];
	return -1;
}

/* Append _id for the key values of values[] (text form). */
static void
append_key(bson_t *doc, MeshRoute *route, char **values, int flags)
{
	bson_t		sub;

	if (route->nkeys == 1)
	{
		int			c = route->key_index[0];

		mongo_append_text(doc, "_id", route->types[c], values[c], flags);
		return;
	}
	bson_append_document_begin(doc, "_id", 3, &sub);
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];

		mongo_append_text(&sub, route->columns[c], route->types[c], values[c], flags);
	}
	bson_append_document_end(doc, &sub);
}

/* Validate the route's options and columns; creates nothing. */
void
mongo_check_route(void *conn, MeshRoute *route)
{
	int			idkey = id_named_key(route);

	const char *mode = route_write_mode(route);

	mongo_check_collection_name(route_collection(route), "collection");
	if (strcmp(mode, "replace") != 0 && strcmp(mode, "delete_insert") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for route option \"write_mode\" of mongodb: \"%s\"", mode),
				 errdetail("Allowed values: replace, delete_insert.")));
	for (int c = 0; c < route->ncolumns; c++)
		if (strcmp(route->columns[c], "_id") == 0 && c != idkey)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"_id\" of table \"%s\" is not its one-column primary key",
							route->source_name),
					 errdetail("In MongoDB, _id holds the primary key of the row."),
					 errhint("Rename the column, or make it the primary key.")));
}

/* A key's identity: the bytes of the document {_id: key}. */
typedef struct KeyBytes
{
	const uint8 *data;
	uint32		len;
	int			index;
} KeyBytes;

static int
compare_keybytes(const void *a, const void *b)
{
	const KeyBytes *x = a;
	const KeyBytes *y = b;
	int			c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->data, y->data, x->len);
	if (c != 0)
		return c;
	return x->index - y->index;
}

static KeyBytes
key_bytes(bson_t *iddoc, int index)
{
	KeyBytes	kb;
	const uint8 *data = bson_get_data(iddoc);

	kb.len = iddoc->len;
	kb.data = memcpy(palloc(kb.len), data, kb.len);
	kb.index = index;
	return kb;
}

static void
destroy_bulk(void *p)
{
	mongoc_bulk_operation_destroy(p);
}

/* The document of an insert or update event into doc ({_id} into sel). */
static void
build_doc(MongoConn *mc, MeshRoute *route, MeshEvent *ev, bson_t *sel, bson_t *doc, int idkey)
{
	bson_reinit(sel);
	append_key(sel, route, ev->values, mc->write_flags);
	bson_reinit(doc);
	bson_concat(doc, sel);
	for (int c = 0; c < route->ncolumns; c++)
		if (c != idkey)
			mongo_append_text(doc, route->columns[c], route->types[c], ev->values[c],
							  mc->write_flags);
}

/*
 * Execute an unordered bulk whose operation op writes the event of index
 * opmap[op] (an index into apply's events; -1: the deleteMany).  Write
 * errors are judged one by one: a duplicate key of an insert (insert[op])
 * is returned in *retry, to be written again as a replace-upsert; a
 * document the server refuses for good (validation, a key it cannot hold)
 * is rejected to the dead letters through mesh_apply_reject, the rest of
 * the bulk being delivered.  Anything else ereports (and is retried).
 */
static void
execute_judging_items(MongoConn *mc, mongoc_bulk_operation_t *bulk, const int *opmap,
					  const bool *insert, int nops, List **retry)
{
	bson_t		reply;
	bson_error_t err;
	bson_iter_t it,
				errs;
	bool		other = false;
	int			nerrs = 0;
	List	   *rejects = NIL;
	ListCell   *lc;

	if (mongoc_bulk_operation_execute(bulk, &reply, &err) != 0)
	{
		bson_destroy(&reply);
		return;
	}
	if (!bson_iter_init_find(&it, &reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
		!bson_iter_recurse(&it, &errs) || bson_iter_init_find(&it, &reply, "writeConcernErrors"))
		other = true;
	while (!other && bson_iter_next(&errs))
	{
		bson_iter_t e;
		int			index = -1;
		int			code = 0;
		const char *msg = "";

		if (!BSON_ITER_HOLDS_DOCUMENT(&errs) || !bson_iter_recurse(&errs, &e))
		{
			other = true;
			break;
		}
		while (bson_iter_next(&e))
		{
			if (strcmp(bson_iter_key(&e), "index") == 0)
				index = (int) bson_iter_as_int64(&e);
			else if (strcmp(bson_iter_key(&e), "code") == 0)
				code = (int) bson_iter_as_int64(&e);
			else if (strcmp(bson_iter_key(&e), "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&e))
				msg = bson_iter_utf8(&e, NULL);
		}
		nerrs++;
		if (index < 0 || index >= nops || opmap[index] < 0 || mongo_transient_code(code))
			other = true;
		else if (code == 11000 && insert[index])
			*retry = lappend_int(*retry, opmap[index]);
		else
			rejects = lappend(rejects, psprintf("%d %s (error %d)", opmap[index], msg, code));
	}
	bson_destroy(&reply);

	/*
	 * A failed bulk whose reply names no item (the driver's reply always
	 * holds a writeErrors array, empty after a network error or a timeout)
	 * failed as a whole: nothing of it is acknowledged.
	 */
	if (other || nerrs == 0)
		mongo_raise(mc, &err, "a replication write");
	foreach(lc, rejects)
	{
		char	   *r = lfirst(lc);	/* "index message" */
		char	   *sp = strchr(r, ' ');

		mesh_apply_reject(atoi(r), psprintf("MongoDB server \"%s\" refused the document: %s",
											mc->servername, sp + 1));
	}
}

/* Write events[from, to) (no truncate among them) as one unordered bulk. */
static void
apply_segment(MongoConn *mc, mongoc_collection_t *coll, MeshRoute *route,
			  MeshEvent *events, int from, int to)
{
	int			n = to - from;
	KeyBytes   *kb = palloc(sizeof(KeyBytes) * Max(n, 1));
	bool	   *last = palloc0(sizeof(bool) * Max(n, 1));
	int			idkey = id_named_key(route);
	bson_t	   *opts;
	bson_t	   *id;
	bson_t	   *sel;
	bson_t	   *doc;
	bson_t	   *upsert;
	bson_t	   *ids;
	bson_t		in,
				arr;
	int			ndel = 0;
	int			nops = 0;
	int		   *opmap = palloc(sizeof(int) * (n + 1));
	bool	   *insert = palloc0(sizeof(bool) * (n + 1));
	List	   *retry = NIL;
	bool		delete_insert = strcmp(route_write_mode(route), "delete_insert") == 0;
	bson_error_t err;
	MongoOwned *bulk;
	ListCell   *lc;

	if (n == 0)
		return;
	opts = mongo_bson_new();
	id = mongo_bson_new();
	sel = mongo_bson_new();
	doc = mongo_bson_new();
	upsert = mongo_bson_new();
	ids = mongo_bson_new();
	for (int i = 0; i < n; i++)
	{
		bson_reinit(id);
		append_key(id, route, events[from + i].values, mc->write_flags);
		kb[i] = key_bytes(id, i);
	}
	/* per key, only the last event of the chunk */
	qsort(kb, n, sizeof(KeyBytes), compare_keybytes);
	for (int i = 0; i < n; i++)
		if (i == n - 1 || kb[i].len != kb[i + 1].len ||
			memcmp(kb[i].data, kb[i + 1].data, kb[i].len) != 0)
			last[kb[i].index] = true;

	/*
	 * per key one write, so the order within the bulk does not matter;
	 * delete_insert needs its deleteMany first: ordered
	 */
	BSON_APPEND_BOOL(opts, "ordered", delete_insert);
	BSON_APPEND_BOOL(upsert, "upsert", true);
	bulk = mongo_own(mongoc_collection_create_bulk_operation_with_opts(coll, opts), destroy_bulk);
	/* deletes (and with delete_insert every key): one deleteMany by _id $in */
	bson_append_document_begin(ids, "_id", 3, &in);
	bson_append_array_begin(&in, "$in", 3, &arr);
	for (int i = 0; i < n; i++)
	{
		bson_iter_t it;
		char		buf[16];
		const char *k;

		if (!last[i] || (events[from + i].op != 'D' && !delete_insert))
			continue;
		bson_reinit(id);
		append_key(id, route, events[from + i].values, mc->write_flags);
		bson_uint32_to_string(ndel++, &k, buf, sizeof(buf));
		if (bson_iter_init_find(&it, id, "_id"))
			bson_append_iter(&arr, k, -1, &it);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(ids, &in);
	for (int i = 0; i <= n; i++)
		opmap[i] = -1;
	if (ndel > 0)
	{
		if (!mongoc_bulk_operation_remove_many_with_opts(bulk->ptr, ids, NULL, &err))
			mongo_raise(mc, &err, "a replication write");
		nops++;
	}
	for (int i = 0; i < n; i++)
	{
		MeshEvent  *ev = &events[from + i];
		bool		ok;

		if (!last[i] || ev->op == 'D')
			continue;
		build_doc(mc, route, ev, sel, doc, idkey);
		insert[nops] = delete_insert || ev->op == 'I';
		if (insert[nops])
			ok = mongoc_bulk_operation_insert_with_opts(bulk->ptr, doc, NULL, &err);
		else
			ok = mongoc_bulk_operation_replace_one_with_opts(bulk->ptr, sel, doc, upsert, &err);
		opmap[nops++] = from + i;
		if (!ok)
			mongo_raise(mc, &err, "a replication write");
	}
	/*
	 * An ordered bulk stops at its first error, leaving the rest unwritten:
	 * then nothing is judged item by item (the batch is retried and split).
	 */
	if (delete_insert)
		mongo_bulk_execute(mc, bulk->ptr, "a replication write");
	else
		execute_judging_items(mc, bulk->ptr, opmap, insert, nops, &retry);
	mongo_release(bulk);
	if (retry == NIL)
		return;

	/*
	 * Inserts whose key existed (a replay, a retried batch): replace.  (Any
	 * other event of a key was dropped above, so the order does not matter.)
	 */
	bulk = mongo_own(mongoc_collection_create_bulk_operation_with_opts(coll, opts), destroy_bulk);
	nops = 0;
	foreach(lc, retry)
	{
		MeshEvent  *ev = &events[lfirst_int(lc)];

		build_doc(mc, route, ev, sel, doc, idkey);
		if (!mongoc_bulk_operation_replace_one_with_opts(bulk->ptr, sel, doc, upsert, &err))
			mongo_raise(mc, &err, "a replication write");
		insert[nops] = false;
		opmap[nops++] = lfirst_int(lc);
	}
	retry = NIL;
	execute_judging_items(mc, bulk->ptr, opmap, insert, nops, &retry);
	mongo_release(bulk);
}

/* Apply events: replace-upserts and deletes by _id, truncates in between. */
void
mongo_apply(void *conn, MeshRoute *route, MeshEvent *events, int n)
{
	MongoConn  *mc = conn;
	mongoc_collection_t *coll = mongo_collection(mc, route_collection(route));
	int			from = 0;

	for (int i = 0; i <= n; i++)
	{
		if (i < n && events[i].op != 'T')
			continue;
		apply_segment(mc, coll, route, events, from, i);
		from = i + 1;
		if (i < n)
		{
			bson_t		all = BSON_INITIALIZER;
			bson_error_t err;
			bool		ok = mongoc_collection_delete_many(coll, &all, NULL, NULL, &err);

			bson_destroy(&all);
			if (!ok)
				mongo_raise(mc, &err, "a truncate");
		}
	}
}

static void
destroy_cursor(void *p)
{
	mongoc_cursor_destroy(p);
}

/* verify: the documents of keys[0..n), as text rows aligned with route->columns. */
void
mongo_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	MongoConn  *mc = conn;
	mongoc_collection_t *coll = mongo_collection(mc, route_collection(route));
	KeyBytes   *kb = palloc(sizeof(KeyBytes) * Max(n, 1));
	char	  **kv = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	bson_t	   *filter = mongo_bson_new();
	bson_t		in,
				arr;
	bson_t	   *id = mongo_bson_new();
	MongoOwned *cursor;
	const bson_t *doc;
	bson_error_t err;

	bson_append_document_begin(filter, "_id", 3, &in);
	bson_append_array_begin(&in, "$in", 3, &arr);
	for (int i = 0; i < n; i++)
	{
		bson_iter_t it;
		char		buf[16];
		const char *k;

		rows[i] = NULL;
		for (int j = 0; j < route->nkeys; j++)
			kv[route->key_index[j]] = keys[i][j];
		bson_reinit(id);
		append_key(id, route, kv, mc->write_flags);
		kb[i] = key_bytes(id, i);
		bson_uint32_to_string(i, &k, buf, sizeof(buf));
		if (bson_iter_init_find(&it, id, "_id"))
			bson_append_iter(&arr, k, -1, &it);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(filter, &in);
	qsort(kb, n, sizeof(KeyBytes), compare_keybytes);

	cursor = mongo_own(mongoc_collection_find_with_opts(coll, filter, NULL, NULL), destroy_cursor);
	while (mongoc_cursor_next(cursor->ptr, &doc))
	{
		bson_iter_t it;
		KeyBytes	probe;
		KeyBytes   *hit = NULL;
		int			lo = 0,
					hi = n - 1;

		bson_reinit(id);
		if (bson_iter_init_find(&it, doc, "_id"))
			bson_append_iter(id, "_id", 3, &it);
		probe = key_bytes(id, -1);
		/* binary search ignoring the index */
		while (lo <= hi)
		{
			int			mid = (lo + hi) / 2;
			int			c;

			probe.index = kb[mid].index;
			c = compare_keybytes(&probe, &kb[mid]);
			if (c == 0)
			{
				hit = &kb[mid];
				break;
			}
			if (c < 0)
				hi = mid - 1;
			else
				lo = mid + 1;
		}
		if (hit == NULL)
			continue;
		rows[hit->index] = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
		for (int c = 0; c < route->ncolumns; c++)
		{
			const char *field = c == id_named_key(route) ? "_id" : route->columns[c];

			if (bson_iter_init_find(&it, doc, field))
				rows[hit->index][c] = mongo_iter_text(&it, route->types[c]);
		}
	}
	if (mongoc_cursor_error(cursor->ptr, &err))
		mongo_raise(mc, &err, "a verify read");
	mongo_release(cursor);
}

typedef struct MongoKeyScan
{
	mongoc_collection_t *coll;
	MongoOwned *cursor;
	bool		done;
} MongoKeyScan;

static void
destroy_collection(void *p)
{
	mongoc_collection_destroy(p);
}

/* The key texts of one _id (a composite key's parts from its sub-document). */
static char **
split_id(MeshRoute *route, const bson_iter_t *id)
{
	char	  **parts = palloc0(sizeof(char *) * Max(route->nkeys, 1));
	bson_iter_t sub;

	if (route->nkeys == 1)
	{
		parts[0] = mongo_iter_text(id, route->types[route->key_index[0]]);
		return parts;
	}
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];

		if (BSON_ITER_HOLDS_DOCUMENT(id) && bson_iter_recurse(id, &sub) &&
			bson_iter_find(&sub, route->columns[c]))
			parts[k] = mongo_iter_text(&sub, route->types[c]);
	}
	return parts;
}

/* verify: the next batch of at most max keys of the collection. */
int
mongo_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	MongoConn  *mc = conn;
	MongoKeyScan *ks = *state;
	const bson_t *doc;
	bson_error_t err;
	int			n = 0;

	if (ks == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(route->cxt);
		bson_t		filter = BSON_INITIALIZER;
		bson_t		opts = BSON_INITIALIZER;
		bson_t		proj;

		ks = palloc0(sizeof(MongoKeyScan));
		ks->coll = mongoc_client_get_collection(mc->client, mc->database, route_collection(route));
		mongo_own(ks->coll, destroy_collection);
		bson_append_document_begin(&opts, "projection", -1, &proj);
		BSON_APPEND_INT32(&proj, "_id", 1);
		bson_append_document_end(&opts, &proj);
		ks->cursor = mongo_own(mongoc_collection_find_with_opts(ks->coll, &filter, &opts, NULL),
							   destroy_cursor);
		bson_destroy(&filter);
		bson_destroy(&opts);
		MemoryContextSwitchTo(old);
		*state = ks;
	}
	while (!ks->done && n < max)
	{
		bson_iter_t it;

		if (!mongoc_cursor_next(ks->cursor->ptr, &doc))
		{
			if (mongoc_cursor_error(ks->cursor->ptr, &err))
				mongo_raise(mc, &err, "a verify scan");
			ks->done = true;
			mongo_release(ks->cursor);
			break;
		}
		if (bson_iter_init_find(&it, doc, "_id"))
			keys[n++] = split_id(route, &it);
	}
	return n;
}
