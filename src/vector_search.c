/*
 * vector_search.c: mesh.vector_search(server, collection, vector, k,
 * filter), served by every connector that has the vector capability
 * (MeshConnector.vector).
 */
#include "postgres.h"

#include <math.h>

#include "vector.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_vector_search);

/* The elements of a real[] argument (finite, no NULLs, at least one). */
static float4 *
vector_arg(ArrayType *arr, int *dim)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	float4	   *v;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the query vector must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query vector is empty")));
	v = palloc(sizeof(float4) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] || !isfinite(DatumGetFloat4(elems[i])))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("element %d of the query vector is %s", i + 1,
							nulls[i] ? "NULL" : "not finite")));
		v[i] = DatumGetFloat4(elems[i]);
	}
	*dim = n;
	return v;
}

/*
 * mesh.vector_search: the k points nearest to vector in the collection,
 * best first: id, score (similarity for Cosine and Dot, distance for
 * Euclid) and payload; filter is the store's own filter document.
 */
Datum
mesh_vector_search(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *server;
	MeshServerConfig *config;
	const MeshVectorOps *ops;
	float4	   *vec;
	int			dim,
				k,
				n;
	char	   *filter = NULL;
	MeshVectorHit *hits;
	void	   *conn;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mesh.vector_search needs a server, a collection, a vector and k")));
	server = NameStr(*PG_GETARG_NAME(0));
	config = mesh_server_config_by_name(server);
	ops = config->connector->vector;
	if (ops == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("server \"%s\" is not a vector store", server),
				 errdetail("Its kind is %s.", config->connector->kind),
				 errhint("Use a server of %s.", mesh_fdw_names_with(offsetof(MeshConnector, vector)))));
	vec = vector_arg(PG_GETARG_ARRAYTYPE_P(2), &dim);
	k = PG_GETARG_INT32(3);
	if (k < 1 || k > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and 100000, not %d", k)));
	if (!PG_ARGISNULL(4))
	{
		Jsonb	   *f = PG_GETARG_JSONB_P(4);

		if (!JB_ROOT_IS_OBJECT(f) || JB_ROOT_IS_SCALAR(f))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the filter must be a JSON object"),
					 errhint("Give the store's own filter document, e.g. Qdrant's {\"must\": [...]} or Chroma's where {\"field\": value}.")));
		filter = JsonbToCString(NULL, &f->root, VARSIZE(f));
	}
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	conn = mesh_get_connection(config);
	mesh_connection_begin_use(config);
	n = ops->search(conn, text_to_cstring(PG_GETARG_TEXT_PP(1)), vec, dim, k, filter, &hits);
	mesh_connection_end_use(config);
	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(hits[i].id);
		values[1] = Float8GetDatum(hits[i].score);
		if (hits[i].payload)
			values[2] = JsonbPGetDatum(mesh_json_to_jsonb(hits[i].payload));
		else
			nulls[2] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
