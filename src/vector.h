/*
 * vector.h: the vector-store interface shared by mesh_qdrant and
 * mesh_chroma: a replication sink of points (vector + payload), verify, and
 * mesh.vector_search.  A vector kind implements MeshVectorOps (its
 * requests) and points MeshConnector.vector at it; src/vector_sink.c does the rest once for all kinds (route
 * options, collapsing events, parsing real[] values, payloads, verify).
 *
 * Layout: one point per source row; the point's id derives from the
 * primary key (each kind documents how); its vector is the real[] column
 * named by route option vector; its payload holds every other column
 * (typed as mesh_json_append_typed says; NULL columns as null, which
 * also removes a key a merging store kept), key columns included, so
 * verify can read keys back.  Where the store perturbs vectors (Cosine
 * normalisation), the kind sets vector_in_payload and the payload keeps the
 * vector column as given too.  json_value.h's rules apply (this header
 * includes it).
 */
#ifndef MESH_VECTOR_H
#define MESH_VECTOR_H

#include "json_value.h"
#include "connector.h"

/* A route's vector layout (cached in route->private). */
typedef struct MeshVectorRoute
{
	int			ncolumns;		/* route->ncolumns when built */
	char	   *collection;		/* route option collection (default: the table) */
	int			vector_column;	/* index into route->columns */
	int			size;			/* route option size (0: not given) */
	const char *distance;		/* "Cosine", "Dot" or "Euclid" */
	int			batch_size;		/* points per request */
	bool		vector_in_payload;	/* the kind keeps a copy of the vector column in the payload */
	void	   *kind_private;	/* the kind's cache (e.g. a collection id) */
} MeshVectorRoute;

/* A point to write. */
typedef struct MeshVectorPoint
{
	char	  **values;			/* the row (text form), aligned with route->columns */
	char	   *key;			/* mesh_vector_key_text */
	int			dim;
	float4	   *vector;
	char	   *payload;		/* JSON object text */
	char	   *vector_json;	/* the vector as a JSON array text */
} MeshVectorPoint;

/* One hit of a search, best first. */
typedef struct MeshVectorHit
{
	char	   *id;
	double		score;			/* similarity for Cosine and Dot, distance for Euclid */
	json_t	   *payload;		/* an object, or NULL */
} MeshVectorHit;

/* A connector's vector capability (MeshConnector.vector). */
typedef struct MeshVectorOps
{
	/* find (and with create, make) the collection; may fill vr->kind_private */
	void		(*prepare) (void *conn, MeshRoute *route, MeshVectorRoute *vr, bool create);
	void		(*upsert) (void *conn, MeshRoute *route, MeshVectorRoute *vr,
						   MeshVectorPoint *points, int n);
	void		(*remove) (void *conn, MeshRoute *route, MeshVectorRoute *vr,
						   char **keys, int n);
	void		(*truncate) (void *conn, MeshRoute *route, MeshVectorRoute *vr);
	/* verify: payloads[i] and vectors[i] (JSON array) of keys[i], NULL when absent */
	void		(*get) (void *conn, MeshRoute *route, MeshVectorRoute *vr, int n, char **keys,
						json_t **payloads, json_t **vectors);
	/* verify: the next page of payloads (at most max); 0 at the end; *state in route->cxt */
	int			(*scan) (void *conn, MeshRoute *route, MeshVectorRoute *vr, void **state,
						 int max, json_t **payloads);
	/* mesh.vector_search: at most k hits, best first; filter is JSON text or NULL */
	int			(*search) (void *conn, const char *collection, const float4 *vector, int dim,
						   int k, const char *filter, MeshVectorHit **hits);
	/* foreign tables: the next page of points (id, payload; at most max), 0 at the end */
	int			(*list) (void *conn, const char *collection, void **state, int max,
						 MeshVectorHit **hits);
} MeshVectorOps;

/* The route options every vector kind declares (put them in its option table). */
#define MESH_VECTOR_ROUTE_OPTIONS \
	{.name = "collection", .where = MESH_OPT_ROUTE | MESH_OPT_TABLE, .type = MESH_OPTTYPE_STRING, \
	.min = 1}, \
	{.name = "vector", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "size", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_INT, \
	.min = 1, .max = 65536}, \
	{.name = "distance", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_ENUM, \
	.allowed = "Cosine|Dot|Euclid"}, \
	{.name = "batch_size", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_INT, \
	.min = 1, .max = 100000}

/* vector_sink.c */
extern MeshVectorRoute *mesh_vector_route(MeshRoute *route);
extern char *mesh_vector_key_text(MeshRoute *route, char **values);
extern const MeshSinkOps mesh_vector_sink_ops;
extern void mesh_vector_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys,
								   char ***rows);
extern int	mesh_vector_scan_keys(void *conn, MeshRoute *route, void **state, int max,
								  char ***keys);
extern void mesh_vector_append_floats(StringInfo buf, const float4 *v, int n);

/* The other table and column options of a vector kind's foreign tables. */
#define MESH_VECTOR_TABLE_OPTIONS \
	{.name = "k", .where = MESH_OPT_TABLE, .type = MESH_OPTTYPE_INT, .min = 1, .max = 100000}, \
	{.name = "query", .where = MESH_OPT_COLUMN, .type = MESH_OPTTYPE_BOOL}

/* vector_scan.c */
extern void mesh_vector_plan_scan(MeshScanPlan *plan);
extern bool mesh_vector_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern void mesh_vector_begin_scan(MeshScan *scan);
extern bool mesh_vector_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void mesh_vector_end_scan(MeshScan *scan);
extern char *mesh_vector_explain_scan(MeshScan *scan);
extern const MeshScanOps mesh_vector_scan_ops;

#endif							/* MESH_VECTOR_H */
