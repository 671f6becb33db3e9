/*
 * mongodb_internal.h: shared declarations of the MongoDB connector's files.
 *
 * Memory contract: libbson and mongo-c-driver allocate with malloc.  Every
 * handle made while an ereport is possible is owned by a memory context
 * (mongo_own): the context's reset frees it, so an error never leaks one.
 */
#ifndef MESH_MONGODB_INTERNAL_H
#define MESH_MONGODB_INTERNAL_H

#include <mongoc/mongoc.h>

#include "connector.h"
#include "lib/stringinfo.h"

/* One cached connection (lives in TopMemoryContext). */
typedef struct MongoConn
{
	mongoc_client_t *client;
	char	   *servername;
	char	   *database;
	char	   *hosts;			/* "host:port,..." for messages (no credentials) */
	int			timeout_ms;
	int			write_flags;	/* MONGO_NUMERIC_STRING per option numeric_as */
	bool		ferretdb;		/* FerretDB: no decimal128 (it drops the
								 * connection on one) */
} MongoConn;

/* How a foreign table maps onto a collection (see README.md). */
typedef struct MongoLayout
{
	const char *collection;
	const char **paths;			/* per column: the field path, NULL if dropped */
	bool	   *dotted;			/* per column: path is dotted (option field) */
	bool	   *pushable;		/* per column: quals can address the path */
	AttrNumber	id_att;			/* the column of _id, or 0 */
	AttrNumber	doc_att;		/* the jsonb column with option document, or 0 */
} MongoLayout;

/* A malloc'd handle owned by a memory context. */
typedef struct MongoOwned
{
	MemoryContextCallback cb;
	void	   *ptr;
	void		(*destroy) (void *);
} MongoOwned;

/* mongodb.c */
extern const MeshConnector mesh_mongodb_connector;
extern bool mongo_transient_code(uint32 code);
extern MongoOwned *mongo_own(void *ptr, void (*destroy) (void *));
extern void mongo_release(MongoOwned *owned);
extern bson_t *mongo_bson_new(void);
extern void mongo_raise(MongoConn *mc, const bson_error_t *err, const char *what)
			pg_attribute_noreturn();
extern mongoc_collection_t *mongo_collection(MongoConn *mc, const char *name);
extern MongoLayout *mongo_layout(MeshTable *table);
extern char *mongo_check_collection_name(const char *name, const char *option);

/* mongodb_bson.c */
extern Datum mongo_iter_datum(MeshColumn *col, const bson_iter_t *it, bool *isnull);
extern void mongo_append_json(StringInfo buf, const bson_iter_t *it);
extern void mongo_doc_json(StringInfo buf, const bson_t *doc, bool array);
extern Jsonb *mongo_doc_jsonb(const bson_t *doc);
/* mongo_append_datum/text flags */
#define MONGO_EXACT			0x01	/* refuse a value BSON would change */
#define MONGO_NUMERIC_STRING 0x02	/* numeric as a string (numeric_as) */
extern bool mongo_append_datum(bson_t *doc, const char *key, Oid typid, Datum value,
							   int flags);
extern void mongo_append_text(bson_t *doc, const char *key, Oid typid, const char *text,
							  int flags);
extern char *mongo_iter_text(const bson_iter_t *it, Oid typid);
extern void mongo_append_jsonb(bson_t *doc, const char *key, Jsonb *jb, int flags);
extern bool mongo_oid_text(const char *s, bson_oid_t *oid);

/* mongodb_scan.c */
extern void mongo_plan_scan(MeshScanPlan *plan);
extern bool mongo_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern void mongo_begin_scan(MeshScan *scan);
extern bool mongo_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void mongo_end_scan(MeshScan *scan);
extern char *mongo_explain_scan(MeshScan *scan);

/* mongodb_modify.c */
extern int	mongo_row_identity(MeshTable *table, AttrNumber *attnums);
extern void mongo_begin_modify(MeshModify *m);
extern void mongo_modify_row(MeshModify *m);
extern void mongo_end_modify(MeshModify *m);
extern void mongo_bulk_execute(MongoConn *mc, mongoc_bulk_operation_t *bulk,
							   const char *what);

/* mongodb_execute.c */
extern List *mongo_execute(void *conn, const char *request, Jsonb *params);

/* mongodb_sink.c */
extern const MeshSinkOps mongo_sink_ops;
extern void mongo_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows);
extern int	mongo_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);

/* mongodb_ping.c */
extern void mongo_ping_start(MeshPing *ping);
extern void mongo_ping_continue(MeshPing *ping);
extern void mongo_ping_finish(MeshPing *ping);
extern mongoc_uri_t *mongo_build_uri(MeshServerConfig *config, bool with_credentials,
									 char **display);

#endif							/* MESH_MONGODB_INTERNAL_H */
