/*
 * mongodb_sink.c: MongoDB as a replication target (on the sink engine),
 * and its side of verify.
 *
 * Layout: collection <option collection, default the source table's
 * name>, one document per row: _id is the primary key (a one-column key
 * as its value, typed as mongodb_bson.c maps its type; a composite key a
 * sub-document {k1: v1, k2: v2} in key order), then every column as a
 * field of the same name (a one-column key named _id is only _id).
 *
 * The engine hands over the last change of each key.  upsert is one
 * unordered bulk write (one write per key, so order does not matter):
 * inserts for keys first inserted in the segment (the server's fast path),
 * replace-upserts by _id for the others; an insert whose key exists (a
 * replay) fails with a duplicate-key error and is written again as a
 * replace-upsert.  Each write error refuses its own document; the others
 * count as acknowledged only when the reply's counts cover all of them:
 * FerretDB stops an unordered bulk at its first error, and a server that
 * drops the connection may leave a reply that counts nothing.  Then the
 * rest is unknown and the engine sends it again.  Route option write_mode
 * 'delete_insert' instead deletes the keys and inserts the documents in
 * one ordered bulk: far fewer operations for servers slow per operation
 * (FerretDB), but a reader may miss a row between the two; an ordered bulk
 * stops at its error: what came before it is acknowledged, what came after
 * is unknown.  remove is one deleteMany({_id: {$in: [...]}}) (one item for
 * the whole call: the engine splits it if refused); truncate is
 * deleteMany({}).  FerretDB cannot store decimal128 (it drops the
 * connection on one): such a document is refused before it is sent, with
 * the hint to set numeric_as 'string'.  Every form is idempotent: a replay
 * converges.  Nothing is created ahead: MongoDB creates the collection on
 * the first write.
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
static void
mongo_prepare(void *conn, MeshRoute *route)
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

/* The document of a row into doc ({_id} into sel). */
static void
build_doc(MongoConn *mc, MeshRoute *route, char **values, bson_t *sel, bson_t *doc, int idkey)
{
	bson_reinit(sel);
	append_key(sel, route, values, mc->write_flags);
	bson_reinit(doc);
	bson_concat(doc, sel);
	for (int c = 0; c < route->ncolumns; c++)
		if (c != idkey)
			mongo_append_text(doc, route->columns[c], route->types[c], values[c],
							  mc->write_flags);
}

/* Whether the document at it (or anything nested in it) holds a decimal128. */
static bool
has_decimal128(bson_iter_t *it)
{
	while (bson_iter_next(it))
	{
		bson_iter_t sub;

		if (BSON_ITER_HOLDS_DECIMAL128(it))
			return true;
		if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
			bson_iter_recurse(it, &sub) && has_decimal128(&sub))
			return true;
	}
	return false;
}

/* A bulk write of some of the engine's items: op i writes item opmap[i]. */
typedef struct MongoBulk
{
	MongoOwned *bulk;
	int			nops;
	int		   *opmap;			/* -1: an op of no item (delete_insert's delete) */
	bool	   *insert;			/* op i is an insert */
} MongoBulk;

static void
bulk_begin(MongoBulk *b, mongoc_collection_t *coll, bool ordered, int n)
{
	bson_t		opts = BSON_INITIALIZER;

	BSON_APPEND_BOOL(&opts, "ordered", ordered);
	b->bulk = mongo_own(mongoc_collection_create_bulk_operation_with_opts(coll, &opts),
						destroy_bulk);
	bson_destroy(&opts);
	b->nops = 0;
	b->opmap = palloc(sizeof(int) * (n + 1));
	b->insert = palloc0(sizeof(bool) * (n + 1));
}

/* The acknowledged writes a bulk reply counts. */
static int64
reply_count(const bson_t *reply)
{
	static const char *const fields[] = {"nInserted", "nMatched", "nUpserted", "nRemoved"};
	int64		total = 0;
	bson_iter_t it;

	for (int i = 0; i < lengthof(fields); i++)
		if (bson_iter_init_find(&it, reply, fields[i]) && BSON_ITER_HOLDS_NUMBER(&it))
			total += bson_iter_as_int64(&it);
	return total;
}

/*
 * Execute a bulk and judge each item.  Write errors are trusted only when
 * the reply accounts for every write: a single write, or an unordered bulk
 * whose counts cover all the writes without an error.  Otherwise (FerretDB
 * stops an unordered bulk at its first error and may report the wrong
 * index; an ordered bulk stops by design) the bulk ereports as refused and
 * the engine splits it down to the refused item.  A write error refuses its
 * item or, for a duplicate key of an insert, returns it in *retry (to be
 * replaced).  Without a write error, a reply that counts fewer writes than
 * were sent (a dropped connection) leaves them unknown.  An error that is
 * no write error (connection, timeout, write concern), and a failed bulk
 * that refused no document, ereports: nothing of it is acknowledged.
 */
static void
bulk_execute(MongoConn *mc, MongoBulk *b, bool ordered, MeshItemOutcome *out, List **retry)
{
	bson_t		reply;
	bson_error_t err;
	bson_iter_t it,
				errs;
	bool	   *failed = palloc0(sizeof(bool) * (b->nops + 1));
	int			items = 0;
	List	   *errors = NIL;
	int64		counted;
	ListCell   *lc;

	if (b->nops == 0)
		return;
	for (int i = 0; i < b->nops; i++)
		items += b->opmap[i] >= 0;
	if (mongoc_bulk_operation_execute(b->bulk->ptr, &reply, &err) == 0)
	{
		if (!bson_iter_init_find(&it, &reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
			!bson_iter_recurse(&it, &errs) ||
			bson_iter_init_find(&it, &reply, "writeConcernErrors"))
		{
			bson_destroy(&reply);
			mongo_raise(mc, &err, "a replication write");
		}
		while (bson_iter_next(&errs))
		{
			bson_iter_t e;
			int			index = -1;
			int			code = 0;
			const char *msg = "";

			if (BSON_ITER_HOLDS_DOCUMENT(&errs) && bson_iter_recurse(&errs, &e))
				while (bson_iter_next(&e))
				{
					if (strcmp(bson_iter_key(&e), "index") == 0)
						index = (int) bson_iter_as_int64(&e);
					else if (strcmp(bson_iter_key(&e), "code") == 0)
						code = (int) bson_iter_as_int64(&e);
					else if (strcmp(bson_iter_key(&e), "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&e))
						msg = bson_iter_utf8(&e, NULL);
				}
			if (index < 0 || index >= b->nops || b->opmap[index] < 0 ||
				mongo_transient_code(code))
			{
				bson_destroy(&reply);
				mongo_raise(mc, &err, "a replication write");
			}
			failed[index] = true;
			errors = lappend(errors, psprintf("%d %d %s", index, code, msg));
		}
		/* failed, and no document refused: a timeout or a lost connection */
		if (errors == NIL)
		{
			bson_destroy(&reply);
			mongo_raise(mc, &err, "a replication write");
		}
	}
	counted = reply_count(&reply);
	bson_destroy(&reply);
	if (errors != NIL && items > 1 &&
		(ordered || counted + list_length(errors) != b->nops))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("MongoDB server \"%s\" refused a document of a bulk write", mc->servername),
				 errdetail("The reply does not say which writes landed; the bulk is split.")));
	foreach(lc, errors)
	{
		char	   *e = lfirst(lc);	/* "index code message" */
		int			index = atoi(e);
		char	   *p = strchr(e, ' ');
		int			code = atoi(p + 1);

		p = strchr(p + 1, ' ');
		if (code == 11000 && b->insert[index])
			*retry = lappend_int(*retry, b->opmap[index]);
		else
		{
			out[b->opmap[index]].status = MESH_ITEM_REFUSED;
			out[b->opmap[index]].reason =
				psprintf("MongoDB server \"%s\" refused the document: %s (error %d)",
						 mc->servername, p + 1, code);
		}
	}
	for (int i = 0; i < b->nops; i++)
	{
		if (failed[i] || b->opmap[i] < 0)
			continue;
		if (ordered || counted + list_length(errors) >= b->nops)
			out[b->opmap[i]].status = MESH_ITEM_ACKED;
		else
			out[b->opmap[i]].reason =
				psprintf("MongoDB server \"%s\" did not acknowledge the write: its reply counts %lld of %d writes",
						 mc->servername, (long long) counted, b->nops);
	}
}

/*
 * Refuse rows[i] ahead when the server cannot store its document (FerretDB
 * and decimal128); true if refused.
 */
static bool
refuse_unstorable(MongoConn *mc, MeshRoute *route, MeshSinkRow *row, MeshItemOutcome *out)
{
	bson_t	   *sel;
	bson_t	   *doc;
	bson_iter_t it;

	if (!mc->ferretdb || (mc->write_flags & MONGO_NUMERIC_STRING))
		return false;
	sel = mongo_bson_new();
	doc = mongo_bson_new();
	build_doc(mc, route, row->values, sel, doc, id_named_key(route));
	if (!bson_iter_init(&it, doc) || !has_decimal128(&it))
		return false;
	out->status = MESH_ITEM_REFUSED;
	out->reason = psprintf("MongoDB server \"%s\" refused the document: FerretDB cannot store decimal128 values (it drops the connection on one); set the server option numeric_as 'string'",
						   mc->servername);
	return true;
}

/* Queue the write of rows[i] into b. */
static void
queue_row(MongoConn *mc, MeshRoute *route, MongoBulk *b, MeshSinkRow *row, int i, bool insert)
{
	bson_t	   *sel = mongo_bson_new();
	bson_t	   *doc = mongo_bson_new();
	bson_t		upsert = BSON_INITIALIZER;
	bson_error_t err;
	bool		ok;

	build_doc(mc, route, row->values, sel, doc, id_named_key(route));
	BSON_APPEND_BOOL(&upsert, "upsert", true);
	if (insert)
		ok = mongoc_bulk_operation_insert_with_opts(b->bulk->ptr, doc, NULL, &err);
	else
		ok = mongoc_bulk_operation_replace_one_with_opts(b->bulk->ptr, sel, doc, &upsert, &err);
	bson_destroy(&upsert);
	if (!ok)
		mongo_raise(mc, &err, "a replication write");
	b->insert[b->nops] = insert;
	b->opmap[b->nops++] = i;
}

/* A filter {_id: {$in: [keys of rows]}} of the rows not yet settled. */
static bson_t *
ids_filter(MongoConn *mc, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	bson_t	   *ids = mongo_bson_new();
	bson_t	   *id = mongo_bson_new();
	bson_t		in,
				arr;
	int			k = 0;

	bson_append_document_begin(ids, "_id", 3, &in);
	bson_append_array_begin(&in, "$in", 3, &arr);
	for (int i = 0; i < n; i++)
	{
		bson_iter_t it;
		char		buf[16];
		const char *key;

		if (out != NULL && out[i].status != MESH_ITEM_UNKNOWN)
			continue;
		bson_reinit(id);
		append_key(id, route, rows[i].values, mc->write_flags);
		bson_uint32_to_string(k++, &key, buf, sizeof(buf));
		if (bson_iter_init_find(&it, id, "_id"))
			bson_append_iter(&arr, key, -1, &it);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(ids, &in);
	return ids;
}

/* Sink upsert: see the file comment. */
static void
mongo_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	MongoConn  *mc = conn;
	mongoc_collection_t *coll = mongo_collection(mc, route_collection(route));
	bool		delete_insert = strcmp(route_write_mode(route), "delete_insert") == 0;
	MongoBulk	b;
	List	   *retry = NIL;
	ListCell   *lc;
	bson_error_t err;

	bool		any = false;

	for (int i = 0; i < n; i++)
		any |= !refuse_unstorable(mc, route, &rows[i], &out[i]);
	if (!any)
		return;
	bulk_begin(&b, coll, delete_insert, n);
	if (delete_insert)
	{
		/* every key deleted first: op 0, no item of its own */
		if (!mongoc_bulk_operation_remove_many_with_opts(b.bulk->ptr,
														 ids_filter(mc, route, rows, n, out),
														 NULL, &err))
			mongo_raise(mc, &err, "a replication write");
		b.opmap[b.nops++] = -1;
	}
	for (int i = 0; i < n; i++)
		if (out[i].status == MESH_ITEM_UNKNOWN)
			queue_row(mc, route, &b, &rows[i], i,
					  delete_insert || (rows[i].op == 'I' && rows[i].first));
	bulk_execute(mc, &b, delete_insert, out, &retry);
	mongo_release(b.bulk);
	if (retry == NIL)
		return;

	/* inserts whose key existed (a replay, a retried batch): replace */
	bulk_begin(&b, coll, false, n);
	foreach(lc, retry)
		queue_row(mc, route, &b, &rows[lfirst_int(lc)], lfirst_int(lc), false);
	retry = NIL;
	bulk_execute(mc, &b, false, out, &retry);
	mongo_release(b.bulk);
}

/* Sink remove: one deleteMany by _id, acknowledged or not as a whole. */
static void
mongo_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	MongoConn  *mc = conn;
	mongoc_collection_t *coll = mongo_collection(mc, route_collection(route));
	bson_t		reply;
	bson_error_t err;
	bool		ok;

	ok = mongoc_collection_delete_many(coll, ids_filter(mc, route, keys, n, NULL), NULL,
									   &reply, &err);
	bson_destroy(&reply);
	if (!ok)
		mongo_raise(mc, &err, "a replication delete");
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink truncate: deleteMany({}). */
static void
mongo_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	MongoConn  *mc = conn;
	mongoc_collection_t *coll = mongo_collection(mc, route_collection(route));
	bson_t		all = BSON_INITIALIZER;
	bson_error_t err;
	bool		ok = mongoc_collection_delete_many(coll, &all, NULL, NULL, &err);

	bson_destroy(&all);
	if (!ok)
		mongo_raise(mc, &err, "a truncate");
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps mongo_sink_ops = {
	.max_batch = 1000,
	.prepare = mongo_prepare,
	.upsert = mongo_upsert,
	.remove = mongo_remove,
	.truncate = mongo_truncate,
};

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
