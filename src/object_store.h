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
} MeshObjectStore;

/*
 * The table options every object-store connector declares; the bucket's
 * option is named by the store's bucket_word ("bucket", "container").
 * prefix, page_size, head_each: listings; path (a glob of keys), format,
 * header, delimiter, quote, escape, null, read_chunk: contents.
 */
#define MESH_OBJECT_TABLE_OPTIONS(bucket_word, max_page) \
	{.name = (bucket_word), .where = MESH_OPT_SERVER | MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, \
	.min = 1}, \
	{.name = "prefix", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING}, \
	{.name = "page_size", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_INT, \
	.min = 1, .max = (max_page)}, \
	{.name = "head_each", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_BOOL}, \
	{.name = "path", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "format", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_ENUM, \
	.allowed = "csv|jsonl"}, \
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
	char	   *prefix;			/* "" for none */
	char	   *start_after;	/* NULL: from the start */
	List	   *upper;			/* char * bounds: stop at a key >= (strict) ... */
	List	   *upper_strict;	/* ... or > the bound: int list */
} MeshKeyRange;

extern char *mesh_object_shown(const char *v);
extern void mesh_key_range_init(MeshKeyRange *r, const char *prefix);
extern void mesh_key_range_add(MeshKeyRange *r, const MeshQual *q);
extern void mesh_key_range_explain(StringInfo buf, const MeshKeyRange *r);

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
} MeshObjectLister;

extern void mesh_object_lister_begin(MeshObjectLister *ls, MeshScan *scan,
									 const MeshObjectStore *store, const char *bucket,
									 int page_size, const MeshKeyRange *range);
extern const MeshObject *mesh_object_lister_next(MeshObjectLister *ls, MeshScan *scan);

/*
 * A table with the option path reads the contents of the objects it
 * matches (object_read.c); without it, the table is a listing.
 */
extern const MeshScanOps mesh_object_read_ops;
extern void mesh_object_check_byte(const MeshOption *option, const char *value);

/* object_list.c: the listing table of every object-store connector */
extern const MeshScanOps mesh_object_scan_ops;

/* object_list.c: helpers for dialects (the layer's errors) */
extern char *mesh_object_metadata_json(MeshHttpResponse *resp, const char *header_prefix);
extern void mesh_object_malformed(void *conn, const char *label, const char *what, const char *why)
			pg_attribute_noreturn();

#endif							/* MESH_OBJECT_STORE_H */
