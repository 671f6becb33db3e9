/*
 * object_store.h: the object-store family (S3, GCS, Azure Blob): one
 * shared layer (listing tables: object_list.c, object_pages.c; contents
 * tables: object_read.c and its siblings; later writing and the lake
 * sink) over a thin wire dialect per store.
 *
 * A dialect is a MeshObjectStore named by its connector
 * (MeshConnector.object_store).  Its connection struct begins with
 * MESH_HTTP_CONN_HEAD; the shared layer passes it back untouched.  A
 * dialect's functions ereport the store's own error words (never
 * credentials) and allocate in CurrentMemoryContext.
 */
#ifndef MESH_OBJECT_STORE_H
#define MESH_OBJECT_STORE_H

#include "utils/jsonb.h"

#include "connector.h"
#include "http.h"

/* One object, as a listing or a HEAD describes it; NULL: not known. */
typedef struct MeshObject
{
	const char *key;
	const char *size;			/* decimal bytes */
	const char *etag;
	const char *last_modified;	/* any form timestamptz's input accepts */
	const char *content_type;
	const char *metadata;		/* user metadata as a JSON object text */
} MeshObject;

/* What one page of a listing asks for. */
typedef struct MeshObjectListing
{
	const char *bucket;			/* bucket or container */
	const char *prefix;			/* "" for none */
	const char *start_after;	/* NULL: from the start (first page only) */
	const char *token;			/* NULL on the first page */
	int			page_size;		/* 0: the store's default */
} MeshObjectListing;

/* A page: objects in the store's key order (bytewise), and the next page's token. */
typedef struct MeshObjectPage
{
	MeshObject *objects;
	int			n;
	char	   *next_token;		/* NULL: the last page */
} MeshObjectPage;

typedef struct MeshObjectStore
{
	const char *label;			/* "S3": in messages */
	const char *bucket_word;	/* "bucket", "container": its option's name */
	int			max_page_size;	/* page_size's upper bound */

	/*
	 * One page of a listing (a request; scan->requests is counted by the
	 * caller).  A store that cannot start after a key may ignore
	 * start_after: the caller drops the keys at or before it.
	 */
	void		(*list_page) (void *conn, const MeshObjectListing *listing, MeshObjectPage *page);

	/*
	 * Describe one object (key, size, etag, last_modified, content_type,
	 * metadata); false when it does not exist.  *requests counts what it sent.
	 */
	bool		(*head) (void *conn, const char *bucket, const char *key, MeshObject *obj,
						 int64 *requests);

	/*
	 * GET an object's bytes [offset, offset + length) (length < 0: to the
	 * end) into resp->body; false when it does not exist; other errors
	 * ereport with the store's words.
	 */
	bool		(*get) (void *conn, const char *bucket, const char *key, int64 offset,
						int64 length, MeshHttpResponse *resp);

	/*
	 * Writing (NULL: the store is read-only here).  put writes a whole
	 * object in one request; an upload writes one in parts (numbered from
	 * 1, each but the last at least min_part_size bytes): begin returns
	 * its id, part returns the part's tag, complete makes the object from
	 * the tags in order, abort drops it and never ereports.  Every body
	 * goes with a checksum the store verifies.
	 */
	void		(*put) (void *conn, const char *bucket, const char *key, const char *data,
						size_t len, const char *content_type);
	char	   *(*upload_begin) (void *conn, const char *bucket, const char *key,
								 const char *content_type);
	char	   *(*upload_part) (void *conn, const char *bucket, const char *key,
								const char *upload_id, int part, const char *data, size_t len);
	void		(*upload_complete) (void *conn, const char *bucket, const char *key,
									const char *upload_id, List *tags);
	void		(*upload_abort) (void *conn, const char *bucket, const char *key,
								 const char *upload_id);
	size_t		min_part_size;
	int			max_parts;
	bool		upload_begin_is_local;	/* begin sends no request (not counted) */

	/*
	 * mesh.execute (NULL: not offered): send method to path (below the
	 * endpoint, decoded: "/bucket/key") with the decoded query parameters
	 * (a List of MeshObjectParam *) and body, signed as the store wants;
	 * any answer comes back in resp, with its headers.
	 */
	void		(*raw) (void *conn, const char *method, const char *path, List *params,
						const char *body, size_t body_len, MeshHttpResponse *resp);
} MeshObjectStore;

/* One query parameter of a raw request (decoded). */
typedef struct MeshObjectParam
{
	char	   *name;
	char	   *value;
} MeshObjectParam;

/* An object being written: whole, or in parts once it outgrows part_size. */
typedef struct MeshObjectWriter
{
	const MeshObjectStore *store;
	void	   *conn;
	const char *bucket;
	const char *key;
	const char *content_type;
	size_t		part_size;
	StringInfoData buffer;		/* what is not sent yet (< part_size) */
	char	   *upload_id;		/* NULL: no part sent yet */
	List	   *tags;
	int64		bytes;			/* written so far */
	int64		requests;
} MeshObjectWriter;

/*
 * The table options every object-store connector declares; the bucket's
 * option is named by the store's bucket_word ("bucket", "container").
 * prefix, page_size, head_each: listings; path (a glob of keys), format,
 * header, delimiter, quote, escape, null, read_chunk: contents.
 */
#define MESH_OBJECT_TABLE_OPTIONS(bucket_word, max_page) \
	{.name = (bucket_word), .where = MESH_OPT_SERVER | MESH_OPT_TABLE | MESH_OPT_ROUTE, \
	.type = MESH_OPTTYPE_STRING, \
	.min = 1}, \
	{.name = "prefix", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING}, \
	{.name = "page_size", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_INT, \
	.min = 1, .max = (max_page)}, \
	{.name = "head_each", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_BOOL}, \
	{.name = "path", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, \
	.min = 1}, \
	{.name = "format", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_ENUM, \
	.allowed = "csv|jsonl|parquet"}, \
	{.name = "header", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_BOOL}, \
	{.name = "delimiter", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, \
	.check = mesh_object_check_byte}, \
	{.name = "quote", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, \
	.check = mesh_object_check_byte}, \
	{.name = "escape", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, \
	.check = mesh_object_check_byte}, \
	{.name = "null", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING}, \
	{.name = "read_chunk", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_INT, \
	.min = 1024, .max = 536870912}

/*
 * object_pages.c: what the pushed conditions on a key ask of a listing
 * (values known); shared by the listing and the contents scans.
 */
typedef struct MeshKeyRange
{
	bool		empty;			/* the conditions match no key: no request */
	char	   *exact;			/* key = this, else NULL */
	List	   *keys;			/* key IN these (sorted, distinct, in the range):
								 * a HEAD each instead of a listing; NIL: none */
	char	   *prefix;			/* "" for none */
	char	   *start_after;	/* NULL: from the start */
	List	   *upper;			/* char * bounds: stop at a key >= (strict) ... */
	List	   *upper_strict;	/* ... or > the bound: int list */
} MeshKeyRange;

extern char *mesh_object_shown(const char *v);
extern void mesh_key_range_init(MeshKeyRange *r, const char *prefix);
extern void mesh_key_range_add(MeshKeyRange *r, const MeshQual *q);
extern void mesh_key_range_explain(StringInfo buf, const MeshObjectStore *store,
									const char *bucket, const MeshKeyRange *r);

/* object_keys.c: key IN (...) as a HEAD per value (at most MESH_KEY_SET_MAX) */
#define MESH_KEY_SET_MAX 100
extern void mesh_key_range_add_in(MeshKeyRange *r, const MeshQual *q);
extern bool mesh_key_range_holds(const MeshKeyRange *r, const char *key);
extern void mesh_key_range_keep_keys(MeshKeyRange *r);

/* A listing read page by page (one page in memory), keys in a range (object_pages.c). */
typedef struct MeshObjectLister
{
	const MeshObjectStore *store;
	const char *bucket;
	int			page_size;
	const MeshKeyRange *range;
	bool		done;
	bool		first_page;
	MemoryContext page_cxt;		/* the current page; reset per page */
	MeshObjectPage page;
	int			next;			/* the page's next object */
	char	   *token;			/* continuation token of the next page */
	int64		list_requests;	/* pages fetched */
	ListCell   *next_key;		/* range->keys: the next to HEAD */
	bool		keys_started;
	MeshObject	head;			/* range->keys: the object the last HEAD found */
	int64		head_requests;	/* range->keys: HEADs sent */
} MeshObjectLister;

extern void mesh_object_lister_begin(MeshObjectLister *ls, MeshScan *scan,
									 const MeshObjectStore *store, const char *bucket,
									 int page_size, const MeshKeyRange *range);
extern const MeshObject *mesh_object_lister_next(MeshObjectLister *ls, MeshScan *scan);
extern const MeshObject *mesh_object_lister_head_next(MeshObjectLister *ls, MeshScan *scan);
extern char *mesh_object_lister_counts(const MeshObjectLister *ls);

/*
 * A table with the option path reads the contents of the objects it
 * matches (object_read.c); without it, the table is a listing.
 */
extern const MeshScanOps mesh_object_read_ops;
extern void mesh_object_check_byte(const MeshOption *option, const char *value);

/*
 * The route options of the lake sink (object_sink.c), beside the bucket's,
 * path's and format's (MESH_OBJECT_TABLE_OPTIONS).
 */
#define MESH_OBJECT_ROUTE_OPTIONS \
	{.name = "mode", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "partition_by", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_ENUM, \
	.allowed = "none|day"}

/* object_write.c */
extern MeshObjectWriter *mesh_object_writer_begin(const MeshObjectStore *store, void *conn,
												  const char *bucket, const char *key,
												  const char *content_type, size_t part_size);
extern void mesh_object_write(MeshObjectWriter *w, const char *data, size_t len);
extern void mesh_object_writer_finish(MeshObjectWriter *w);
extern void mesh_object_writer_abort(MeshObjectWriter *w);
extern char *mesh_object_md5_base64(const char *data, size_t len);
extern void mesh_object_write_guarded(MeshObjectWriter *w,
									  void (*fill) (MeshObjectWriter *w, void *arg), void *arg);

/* A route's lake (route->private of a lake route; object_sink.c). */
typedef struct MeshLake
{
	const MeshObjectStore *store;
	const char *bucket;
	const char *path;			/* ends with '/' */
	bool		by_day;
	bool		parquet;		/* format parquet: one Parquet file per object */
	MemoryContext batch_cxt;	/* the batch under way; reset at its end */
	List	   *parts;			/* its objects per partition, in batch_cxt */
	int64		first;
	int64		last;
	struct HTAB *archive;		/* verify: the state rebuilt from the archive */
} MeshLake;

/* object_sink.c: the lake sink of every object store that writes */
extern const MeshSinkOps mesh_object_sink_ops;
extern MeshLake *mesh_lake_of(MeshRoute *route);

/* object_verify.c: verify of a lake (the state rebuilt from its objects) */
extern void mesh_lake_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows);
extern int	mesh_lake_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);

/* object_execute.c: mesh.execute of every object store that offers raw */
extern List *mesh_object_execute(void *conn, const char *request, Jsonb *params);

/* object_list.c: the listing table of every object-store connector */
extern const MeshScanOps mesh_object_scan_ops;

/* object_import.c: IMPORT FOREIGN SCHEMA of every object-store connector */
extern List *mesh_object_import_schema(void *conn, MeshServerConfig *config,
									   const char *remote_schema, const char *local_schema,
									   List *options);

/* object_list.c: helpers for dialects (the layer's errors) */
extern char *mesh_object_metadata_json(MeshHttpResponse *resp, const char *header_prefix);
extern const char *mesh_object_table_bucket(MeshTable *t, const MeshObjectStore **store);
extern void mesh_object_check_endpoint(const MeshOption *option, const char *value);
extern void mesh_object_malformed(void *conn, const char *label, const char *what, const char *why)
			pg_attribute_noreturn();

#endif							/* MESH_OBJECT_STORE_H */
