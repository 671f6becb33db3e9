/*
 * vector_scan.c: a foreign table over a vector collection, shared by every
 * vector kind (MeshVectorOps).
 *
 *   CREATE FOREIGN TABLE docs_vec (id text, score float8, payload jsonb,
 *       q real[] OPTIONS (query 'true'), title text)
 *       SERVER vec OPTIONS (collection 'docs', k '10');
 *   SELECT id, score, title FROM docs_vec WHERE q = '{0.1,0.2,...}' LIMIT 5;
 *
 * Column id is the point id, payload the whole payload, score the search
 * score (NULL without a query), the column with option query 'true' the
 * query vector; any other column reads the payload member of its name.
 * With "query column = value" (pushed, exact) the scan is one search of
 * k nearest points (table option k, default 10; a pushed LIMIT replaces
 * it), best first; without it the scan pages through every point (score
 * NULL).  The query column returns the query itself, so the local recheck
 * of the pushed qual holds.
 */
#include "postgres.h"

#include <math.h>

#include "vector.h"

#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "mesh_util.h"

#define PAGE 1000

typedef struct VectorScanState
{
	const MeshVectorOps *ops;
	char	   *collection;
	bool		search;			/* a query vector was given */
	MeshVectorHit *hits;
	int			nhits;
	int			next;
	void	   *list_state;
	bool		exhausted;
	Datum		query;			/* the query column's value */
} VectorScanState;

static const MeshVectorOps *
ops_of(MeshTable *table)
{
	Oid			serverid = GetForeignTable(table->relid)->serverid;
	const MeshVectorOps *ops = mesh_connector_for_server(serverid)->vector;

	Assert(ops != NULL);
	return ops;
}

static bool
is_query_column(MeshColumn *col)
{
	const char *q = col->name ? mesh_column_option(col, "query") : NULL;

	return q && strcmp(q, "true") == 0;
}

static const char *
collection_of(MeshTable *table)
{
	const char *c = mesh_defelem_get(table->options, "collection");

	return c ? c : table->relname;
}

/* Push "query column = value"; nothing else. */
void
mesh_vector_plan_scan(MeshScanPlan *plan)
{
	plan->rows = 1000;
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];

		if (q->op == MESH_QUAL_EQ && is_query_column(&plan->table->columns[q->attnum - 1]))
		{
			q->pushed = true;
			q->exact = true;
			plan->rows = atoi(mesh_defelem_get(plan->table->options, "k") ?
							  mesh_defelem_get(plan->table->options, "k") : "10");
		}
	}
}

/* LIMIT (no OFFSET, no ORDER BY) of a search becomes k. */
bool
mesh_vector_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
{
	bool		search = false;

	for (int i = 0; i < plan->nquals; i++)
	{
		if (!plan->quals[i].pushed)
			return false;
		search = true;
	}
	if (!search || upper->noutputs > 0 || upper->nsort > 0 || upper->offset > 0 ||
		upper->limit < 1 || upper->limit > 100000)
		return false;
	plan->rows = upper->limit;
	return true;
}

static int
scan_k(MeshScan *scan)
{
	const char *k = mesh_defelem_get(scan->table->options, "k");

	if (scan->upper && scan->upper->limit > 0)
		return (int) scan->upper->limit;
	return k ? atoi(k) : 10;
}

void
mesh_vector_begin_scan(MeshScan *scan)
{
	VectorScanState *st = palloc0(sizeof(VectorScanState));

	scan->state = st;
	st->ops = ops_of(scan->table);
	st->collection = pstrdup(collection_of(scan->table));
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];
		ArrayType  *arr;
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		float4	   *v;

		if (q->isnull)
		{
			st->exhausted = true;	/* "= NULL" is never true */
			return;
		}
		arr = DatumGetArrayTypeP(q->value);
		deconstruct_array(arr, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT, &elems, &nulls, &n);
		v = palloc(sizeof(float4) * Max(n, 1));
		for (int e = 0; e < n; e++)
		{
			if (nulls[e] || !isfinite(DatumGetFloat4(elems[e])))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("element %d of the query vector is %s", e + 1,
								nulls[e] ? "NULL" : "not finite")));
			v[e] = DatumGetFloat4(elems[e]);
		}
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the query vector is empty")));
		st->search = true;
		st->query = q->value;
		scan->requests++;
		st->nhits = st->ops->search(scan->conn, st->collection, v, n, scan_k(scan), NULL, &st->hits);
		st->exhausted = true;
	}
}

bool
mesh_vector_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	VectorScanState *st = scan->state;
	MeshVectorHit *h;

	if (st->next >= st->nhits && !st->exhausted)
	{
		MemoryContext old = MemoryContextSwitchTo(scan->scan_cxt);

		scan->requests++;
		st->nhits = st->ops->list(scan->conn, st->collection, &st->list_state, PAGE, &st->hits);
		st->next = 0;
		st->exhausted = st->nhits < PAGE;
		MemoryContextSwitchTo(old);
	}
	if (st->next >= st->nhits)
		return false;
	h = &st->hits[st->next++];
	for (int i = 0; i < scan->table->ncolumns; i++)
	{
		MeshColumn *col = &scan->table->columns[i];

		nulls[i] = true;
		if (col->name == NULL || (scan->wanted && !scan->wanted[i]))
			continue;
		if (is_query_column(col))
		{
			if (st->search)
			{
				values[i] = st->query;
				nulls[i] = false;
			}
		}
		else if (strcmp(col->name, "id") == 0)
		{
			values[i] = mesh_value_from_text(col, h->id, strlen(h->id));
			nulls[i] = false;
		}
		else if (strcmp(col->name, "score") == 0)
		{
			if (st->search)
			{
				char	   *s = psprintf("%.17g", h->score);

				values[i] = mesh_value_from_text(col, s, strlen(s));
				nulls[i] = false;
			}
		}
		else if (strcmp(col->name, "payload") == 0)
		{
			if (h->payload)
				values[i] = mesh_json_to_datum(col, h->payload, &nulls[i]);
		}
		else if (h->payload && json_object_get(h->payload, col->name))
			values[i] = mesh_json_to_datum(col, json_object_get(h->payload, col->name), &nulls[i]);
	}
	return true;
}

void
mesh_vector_end_scan(MeshScan *scan)
{
	scan->state = NULL;
}

/* EXPLAIN VERBOSE: what is asked. */
char *
mesh_vector_explain_scan(MeshScan *scan)
{
	const char *collection = collection_of(scan->table);

	for (int i = 0; i < scan->nquals; i++)
		return psprintf("search %s for the %d nearest points to %s", collection, scan_k(scan),
						mesh_qual_display(&scan->quals[i]));
	return psprintf("every point of %s, %d per request", collection, PAGE);
}

/* The scan capability of every vector store: the functions above. */
const MeshScanOps mesh_vector_scan_ops = {
	.plan_scan = mesh_vector_plan_scan,
	.begin_scan = mesh_vector_begin_scan,
	.next_row = mesh_vector_next_row,
	.end_scan = mesh_vector_end_scan,
	.explain_scan = mesh_vector_explain_scan,
	.plan_upper = mesh_vector_plan_upper,
};
