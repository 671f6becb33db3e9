/*
 * vector_sink.c: the replication sink and verify of every vector kind (see
 * vector.h): route options, the last event of each key, real[] values to
 * vectors, payloads, and rows read back for mesh.verify.  The kind's
 * MeshVectorOps makes the requests.
 *
 * Route options: vector (required: the real[] or float8[] column holding
 * the embedding), collection (default: the source table's name), size
 * (the dimension; checked against every vector, and used when the kind
 * creates the collection), distance (Cosine, Dot or Euclid; default
 * Cosine), batch_size (points per request, default 256).  A row whose
 * vector is NULL, has NULL or non-finite elements, or the wrong dimension
 * is a permanent error (dead letter) naming the key and the column.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "vector.h"

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "utils/memutils.h"

#include "json_typed.h"

#define DEFAULT_BATCH 256

/* The route's vector layout, parsed once per route (no catalog access). */
MeshVectorRoute *
mesh_vector_route(MeshRoute *route)
{
	MeshVectorRoute *vr = route->private;
	const char *vector;
	MemoryContext old;

	if (vr != NULL && vr->ncolumns == route->ncolumns)
		return vr;
	old = MemoryContextSwitchTo(route->cxt);
	vr = palloc0(sizeof(MeshVectorRoute));
	vr->ncolumns = route->ncolumns;
	vr->collection = pstrdup(mesh_route_option(route, "collection", route->source_name));
	vr->size = atoi(mesh_route_option(route, "size", "0"));
	vr->distance = pstrdup(mesh_route_option(route, "distance", "Cosine"));
	vr->batch_size = atoi(mesh_route_option(route, "batch_size", "256"));
	if (vr->batch_size <= 0)
		vr->batch_size = DEFAULT_BATCH;
	vector = mesh_route_option(route, "vector", NULL);
	if (vector == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option \"vector\" is required for a %s target",
						route->config->connector->kind),
				 errhint("Name the real[] column holding the embedding, e.g. '{\"vector\": \"embedding\", \"size\": 128}'.")));
	vr->vector_column = -1;
	for (int c = 0; c < route->ncolumns; c++)
		if (strcmp(route->columns[c], vector) == 0)
			vr->vector_column = c;
	if (vr->vector_column < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("invalid route option \"vector\": table \"%s\" has no column \"%s\"",
						route->source_name, vector)));
	if (route->types[vr->vector_column] != FLOAT4ARRAYOID &&
		route->types[vr->vector_column] != FLOAT8ARRAYOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("invalid route option \"vector\": column \"%s\" is of type %s",
						vector, route->type_names[vr->vector_column]),
				 errdetail("Allowed: real[] or double precision[].")));
	for (int k = 0; k < route->nkeys; k++)
		if (route->key_index[k] == vr->vector_column)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid route option \"vector\": column \"%s\" is in the primary key", vector)));
	MemoryContextSwitchTo(old);
	route->private = vr;
	return vr;
}

/* The text a point id derives from: the key's text, or a JSON array of a composite key's texts. */
char *
mesh_vector_key_text(MeshRoute *route, char **values)
{
	StringInfoData buf;

	if (route->nkeys == 1)
		return pstrdup(values[route->key_index[0]] ? values[route->key_index[0]] : "");
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int k = 0; k < route->nkeys; k++)
	{
		const char *v = values[route->key_index[k]];

		if (k > 0)
			appendStringInfoChar(&buf, ',');
		mesh_json_append_string(&buf, v ? v : "", v ? strlen(v) : 0);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* Append v[0..n) as a JSON array (the shortest text that reads back the same float4). */
void
mesh_vector_append_floats(StringInfo buf, const float4 *v, int n)
{
	char		num[32];

	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		appendBinaryStringInfo(buf, num, float_to_shortest_decimal_bufn(v[i], num));
	}
	appendStringInfoChar(buf, ']');
}

static void
bad_vector(MeshRoute *route, MeshVectorRoute *vr, const char *key, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("row %s of %s has no usable vector in column \"%s\": %s", key,
					route->source_name, route->columns[vr->vector_column], why)));
}

/* Parse an array's text form ("{0.5,1,-2e-3}") into floats. */
static float4 *
parse_vector(MeshRoute *route, MeshVectorRoute *vr, const char *key, const char *text, int *dim)
{
	const char *p = text;
	int			cap = 16,
				n = 0;
	float4	   *v = palloc(sizeof(float4) * cap);

	if (text == NULL)
		bad_vector(route, vr, key, "it is NULL");
	while (*p == ' ')
		p++;
	if (*p++ != '{')
		bad_vector(route, vr, key, "not a one-dimensional array");
	while (*p && *p != '}')
	{
		char	   *end;
		double		d;

		if (strncasecmp(p, "NULL", 4) == 0)
			bad_vector(route, vr, key, "an element is NULL");
		errno = 0;
		d = strtod(p, &end);
		if (end == p || *p == '{')
			bad_vector(route, vr, key, "not a one-dimensional array of numbers");
		if (!isfinite(d) || errno == ERANGE || fabs(d) > FLT_MAX)
			bad_vector(route, vr, key, "an element is not a finite float");
		if (n == cap)
			v = repalloc(v, sizeof(float4) * (cap *= 2));
		v[n++] = (float4) d;
		p = end;
		if (*p == ',')
			p++;
	}
	if (n == 0)
		bad_vector(route, vr, key, "it is empty");
	if (vr->size > 0 && n != vr->size)
		bad_vector(route, vr, key, psprintf("it has %d elements, route option size is %d", n, vr->size));
	*dim = n;
	return v;
}

/* The point of an upsert event. */
static void
make_point(MeshRoute *route, MeshVectorRoute *vr, MeshSinkRow *ev, MeshVectorPoint *pt)
{
	StringInfoData payload,
				vec;
	bool		first = true;

	pt->values = ev->values;
	pt->key = mesh_vector_key_text(route, ev->values);
	pt->vector = parse_vector(route, vr, pt->key, ev->values[vr->vector_column], &pt->dim);
	initStringInfo(&vec);
	mesh_vector_append_floats(&vec, pt->vector, pt->dim);
	pt->vector_json = vec.data;
	initStringInfo(&payload);
	appendStringInfoChar(&payload, '{');
	for (int c = 0; c < route->ncolumns; c++)
	{
		if (c == vr->vector_column && (!vr->vector_in_payload || ev->values[c] == NULL))
			continue;
		if (!first)
			appendStringInfoChar(&payload, ',');
		first = false;
		mesh_json_append_string(&payload, route->columns[c], strlen(route->columns[c]));
		appendStringInfoChar(&payload, ':');
		if (c == vr->vector_column)
			appendStringInfoString(&payload, pt->vector_json);
		else
			mesh_json_append_typed(&payload, route->types[c], ev->values[c]);
	}
	appendStringInfoChar(&payload, '}');
	pt->payload = payload.data;
}

/* The vector operations of a route's target kind (chroma, qdrant). */
static const MeshVectorOps *
route_ops(MeshRoute *route)
{
	const MeshVectorOps *ops = route->config->connector->vector;

	Assert(ops != NULL);
	return ops;
}

/*
 * The sink operations and the verify callbacks fetch_rows and scan_keys of
 * every vector kind (connector.h contracts).
 *
 * mesh.replicate: check the options and create the collection if needed.
 */
static void
vector_prepare(void *conn, MeshRoute *route)
{
	const MeshVectorOps *ops = route_ops(route);
	MeshVectorRoute *vr;

	route->private = NULL;
	vr = mesh_vector_route(route);
	ops->prepare(conn, route, vr, true);
}

/*
 * Sink upsert: points in requests of the route's batch_size.  A request is
 * taken or refused whole: its points are acknowledged together (the engine
 * splits a refused call down to the refused point).
 */
static void
vector_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	const MeshVectorOps *ops = route_ops(route);
	MeshVectorRoute *vr = mesh_vector_route(route);
	MeshVectorPoint *points = palloc(sizeof(MeshVectorPoint) * Max(n, 1));

	ops->prepare(conn, route, vr, true);
	for (int i = 0; i < n; i++)
		make_point(route, vr, &rows[i], &points[i]);
	for (int i = 0; i < n; i += vr->batch_size)
	{
		int			k = Min(vr->batch_size, n - i);

		ops->upsert(conn, route, vr, points + i, k);
		for (int j = i; j < i + k; j++)
			out[j].status = MESH_ITEM_ACKED;
	}
}

/* Sink remove: point ids in requests of batch_size; as upsert. */
static void
vector_remove(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	const MeshVectorOps *ops = route_ops(route);
	MeshVectorRoute *vr = mesh_vector_route(route);
	char	  **keys = palloc(sizeof(char *) * Max(n, 1));

	ops->prepare(conn, route, vr, true);
	for (int i = 0; i < n; i++)
		keys[i] = mesh_vector_key_text(route, rows[i].values);
	for (int i = 0; i < n; i += vr->batch_size)
	{
		int			k = Min(vr->batch_size, n - i);

		ops->remove(conn, route, vr, keys + i, k);
		for (int j = i; j < i + k; j++)
			out[j].status = MESH_ITEM_ACKED;
	}
}

/* Sink truncate: the collection emptied. */
static void
vector_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	const MeshVectorOps *ops = route_ops(route);
	MeshVectorRoute *vr = mesh_vector_route(route);

	ops->prepare(conn, route, vr, true);
	ops->truncate(conn, route, vr);
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps mesh_vector_sink_ops = {
	.prepare = vector_prepare,
	.upsert = vector_upsert,
	.remove = vector_remove,
	.truncate = vector_truncate,
};

/* A payload member or vector element as PostgreSQL-ready text (NULL for null/absent). */
static char *
value_text(json_t *v)
{
	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_object(v))
		return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return mesh_json_scalar_text(v);
}

/* A JSON array of numbers as an array's text form ("{0.5,1}"), or NULL. */
static char *
vector_text(json_t *arr)
{
	StringInfoData buf;
	size_t		i;
	json_t	   *e;

	if (!json_is_array(arr))
		return NULL;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	json_array_foreach(arr, i, e)
		appendStringInfo(&buf, "%s%s", i ? "," : "", json_is_number(e) ? mesh_json_scalar_text(e) : "NULL");
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Verify: the row of each key as the target holds it (NULL when absent). */
void
mesh_vector_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	const MeshVectorOps *ops = route_ops(route);
	MeshVectorRoute *vr = mesh_vector_route(route);
	char	  **ids = palloc(sizeof(char *) * Max(n, 1));
	char	  **values = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	json_t	  **payloads = palloc0(sizeof(json_t *) * Max(n, 1));
	json_t	  **vectors = palloc0(sizeof(json_t *) * Max(n, 1));

	ops->prepare(conn, route, vr, false);
	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < route->nkeys; k++)
			values[route->key_index[k]] = keys[i][k];
		ids[i] = mesh_vector_key_text(route, values);
	}
	for (int i = 0; i < n; i += vr->batch_size)
		ops->get(conn, route, vr, Min(vr->batch_size, n - i), ids + i, payloads + i, vectors + i);
	for (int i = 0; i < n; i++)
	{
		char	  **row;

		rows[i] = NULL;
		if (payloads[i] == NULL)
			continue;
		row = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
		for (int c = 0; c < route->ncolumns; c++)
		{
			json_t	   *v = json_object_get(payloads[i], route->columns[c]);

			if (c == vr->vector_column)
				row[c] = vector_text(vr->vector_in_payload ? v : vectors[i]);
			else
				row[c] = value_text(v);
		}
		rows[i] = row;
	}
}

/* Verify: the keys of the next page of points (read from their payloads). */
int
mesh_vector_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	const MeshVectorOps *ops = route_ops(route);
	MeshVectorRoute *vr = mesh_vector_route(route);
	json_t	  **payloads = palloc0(sizeof(json_t *) * Max(max, 1));
	int			n;

	ops->prepare(conn, route, vr, false);
	n = ops->scan(conn, route, vr, state, max, payloads);
	for (int i = 0; i < n; i++)
	{
		keys[i] = palloc(sizeof(char *) * Max(route->nkeys, 1));
		for (int k = 0; k < route->nkeys; k++)
			keys[i][k] = value_text(json_object_get(payloads[i], route->columns[route->key_index[k]]));
	}
	return n;
}
