/*
 * mongodb_scan.c: reading a collection as rows, with quals, ORDER BY and
 * LIMIT pushed into a find command.
 *
 * Planning costs no round trip.  Quals become one filter document, the
 * $and of one condition per qual, written to match SQL semantics:
 *   x = v            {x: {$eq: v}}
 *   x <> v           {x: {$nin: [v, null]}}   (NULL and missing never match)
 *   x < v ...        {x: {$lt: v}}            (BSON compares within a type)
 *   x = ANY(a)       {x: {$in: [a...]}}       (NULL elements dropped)
 *   x IS [NOT] NULL  {x: {$eq|$ne: null}}     (missing counts as NULL)
 *   x op NULL        {x: {$in: []}}           (matches nothing)
 * and a text _id compares with the string and the ObjectId of 24 hex
 * digits.  Reading is strict (mongodb_bson.c): a column only accepts BSON
 * types that compare as PostgreSQL compares, so these quals are exact; a
 * value BSON cannot hold exactly (sub-millisecond timestamps, NaN,
 * ...) is not pushed, nor are quals on numeric (its documents may hold
 * strings, see numeric_as).  Quals on a dotted path are
 * pushed but not exact (arrays on the path match element-wise), and IS
 * NULL on one is not pushed.  OR, NOT IN and LIKE are rechecked locally
 * (the glue offers ANDed column-op-value quals only).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"

#include "mesh_util.h"
#include "mongodb_internal.h"

typedef struct MongoScanState
{
	MongoLayout *layout;
	MongoConn  *mc;
	MongoOwned *cursor;
	int		   *top;			/* wanted top-level columns (attnum - 1) */
	int			ntop;
	int		   *deep;			/* wanted dotted-path columns */
	int			ndeep;
} MongoScanState;

/* Value types a qual on a column of type coltype may push. */
static bool
value_type_ok(Oid coltype, Oid valtype)
{
	switch (coltype)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return valtype == INT2OID || valtype == INT4OID || valtype == INT8OID;
		case FLOAT8OID:
			return valtype == FLOAT8OID || valtype == FLOAT4OID;
		case BOOLOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case DATEOID:
			return valtype == coltype;
		case TEXTOID:
		case VARCHAROID:
			return valtype == TEXTOID || valtype == VARCHAROID;
	}
	return false;
}

/* Value types whose every value BSON holds exactly (a Param is then exact). */
static bool
always_exact(Oid valtype)
{
	return valtype == INT2OID || valtype == INT4OID || valtype == INT8OID ||
		valtype == BOOLOID || valtype == TEXTOID || valtype == VARCHAROID;
}

static bool
is_text_id(MongoLayout *l, MeshColumn *col)
{
	return col->attnum == l->id_att && (col->typid == TEXTOID || col->typid == VARCHAROID);
}

/* Append a qual's value under key; false when BSON cannot hold it exactly. */
static bool
append_value(bson_t *doc, const char *key, Oid typid, Datum value)
{
	return mongo_append_datum(doc, key, typid, value, MONGO_EXACT);
}

/* Append value to an array (and its ObjectId for a text _id); false if inexact. */
static bool
append_elements(bson_t *arr, int *n, bool text_id, Oid typid, Datum value)
{
	char		key[16];
	const char *k;

	bson_uint32_to_string((*n)++, &k, key, sizeof(key));
	if (!append_value(arr, k, typid, value))
		return false;
	if (text_id)
	{
		bson_oid_t	oid;

		if (mongo_oid_text(TextDatumGetCString(value), &oid))
		{
			bson_uint32_to_string((*n)++, &k, key, sizeof(key));
			bson_append_oid(arr, k, -1, &oid);
		}
	}
	return true;
}

/*
 * Append {path: condition} for qual q to filter.  An unevaluated value
 * (EXPLAIN) appears as a string "<$n>".  False when the value cannot be
 * sent exactly: the caller drops the qual (it is rechecked locally).
 */
static bool
append_qual(bson_t *cond, MeshTable *t, MongoLayout *l, MeshQual *q)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	const char *path = l->paths[q->attnum - 1];
	bool		text_id = is_text_id(l, col);
	static const char *const ops[] = {"$eq", "$ne", "$lt", "$lte", "$gt", "$gte"};
	bson_t		inner;
	bson_t		arr;
	int			n = 0;
	bool		ok = true;

	bson_append_document_begin(cond, path, -1, &inner);
	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
		bson_append_null(&inner, q->op == MESH_QUAL_IS_NULL ? "$eq" : "$ne", -1);
	else if (!q->known)
	{
		char	   *shown = psprintf("<%s>", mesh_qual_display(q));

		bson_append_utf8(&inner, q->op == MESH_QUAL_IN ? "$in" :
						 q->op == MESH_QUAL_NE ? "$nin" : ops[q->op], -1, shown, -1);
	}
	else if (q->isnull)
	{
		/* comparison with NULL: true for no row */
		bson_append_array_begin(&inner, "$in", -1, &arr);
		bson_append_array_end(&inner, &arr);
	}
	else if (q->op == MESH_QUAL_IN)
	{
		ArrayType  *a = DatumGetArrayTypeP(q->value);
		Oid			et = ARR_ELEMTYPE(a);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			ne;

		get_typlenbyvalalign(et, &typlen, &typbyval, &typalign);
		deconstruct_array(a, et, typlen, typbyval, typalign, &elems, &nulls, &ne);
		bson_append_array_begin(&inner, "$in", -1, &arr);
		for (int i = 0; i < ne && ok; i++)
			if (!nulls[i])
				ok = append_elements(&arr, &n, text_id, et, elems[i]);
		bson_append_array_end(&inner, &arr);
	}
	else if (q->op == MESH_QUAL_NE || (q->op == MESH_QUAL_EQ && text_id))
	{
		bson_append_array_begin(&inner, q->op == MESH_QUAL_NE ? "$nin" : "$in", -1, &arr);
		ok = append_elements(&arr, &n, text_id, q->valtype, q->value);
		if (q->op == MESH_QUAL_NE)
		{
			char		key[16];
			const char *k;

			bson_uint32_to_string(n++, &k, key, sizeof(key));
			bson_append_null(&arr, k, -1);
		}
		bson_append_array_end(&inner, &arr);
	}
	else
		ok = append_value(&inner, ops[q->op], q->valtype, q->value);
	bson_append_document_end(cond, &inner);
	return ok;
}

/* Can qual q be pushed at all, and is it then exact? */
static bool
qual_pushable(MeshTable *t, MongoLayout *l, MeshQual *q, bool *exact)
{
	MeshColumn *col = &t->columns[q->attnum - 1];
	Oid			valtype = q->valtype;
	int			i = q->attnum - 1;

	*exact = false;
	if (q->attnum <= 0 || l->paths[i] == NULL || !l->pushable[i])
		return false;
	if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
	{
		*exact = !l->dotted[i];
		return !(l->dotted[i] && q->op == MESH_QUAL_IS_NULL);
	}
	if (q->op == MESH_QUAL_LIKE)
		return false;
	if (q->op == MESH_QUAL_IN)
		valtype = get_element_type(valtype);
	if (!value_type_ok(col->typid, valtype))
		return false;
	/*
	 * Text compares bytewise remotely: equality only under a deterministic
	 * collation, ranges only under C.
	 */
	if (col->typid == TEXTOID || col->typid == VARCHAROID)
	{
		Oid			typid,
					collid;
		int32		typmod;

		get_atttypetypmodcoll(t->relid, q->attnum, &typid, &typmod, &collid);
		if (OidIsValid(collid) && !get_collation_isdeterministic(collid))
			return false;
		if (q->op >= MESH_QUAL_LT && q->op <= MESH_QUAL_GE &&
			(is_text_id(l, col) || !lc_collate_is_c(collid)))
			return false;
	}
	if (q->known)
	{
		bson_t		scratch = BSON_INITIALIZER;
		bool		ok = append_qual(&scratch, t, l, q);

		bson_destroy(&scratch);
		if (!ok)
			return false;
		*exact = !l->dotted[i];
	}
	else
		*exact = !l->dotted[i] && always_exact(valtype);
	return true;
}

/* Mark the quals the filter can hold; estimate rows without a round trip. */
void
mongo_plan_scan(MeshScanPlan *plan)
{
	MongoLayout *l = mongo_layout(plan->table);

	plan->rows = 1000;
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];
		bool		exact;

		if (!qual_pushable(plan->table, l, q, &exact))
			continue;
		q->pushed = true;
		q->exact = exact;
		if (q->op == MESH_QUAL_EQ)
			plan->rows = Min(plan->rows, q->attnum == l->id_att ? 1 : 10);
		else
			plan->rows = Min(plan->rows, 200);
	}
}

/* Types whose BSON sort order is PostgreSQL's (text: the glue offers C only). */
static bool
sortable(Oid typid)
{
	return typid == INT2OID || typid == INT4OID || typid == INT8OID || typid == BOOLOID ||
		typid == TEXTOID || typid == VARCHAROID || typid == TIMESTAMPOID ||
		typid == TIMESTAMPTZOID || typid == DATEOID;
}

/*
 * ORDER BY and LIMIT/OFFSET of a plain scan, when every qual is pushed
 * exactly.  MongoDB sorts null and missing first ascending and last
 * descending: only NULLS FIRST ascending / NULLS LAST descending match,
 * or any order on a column with a pushed IS NOT NULL.
 */
bool
mongo_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
{
	MongoLayout *l = mongo_layout(plan->table);

	if (upper->noutputs > 0 || upper->limit == 0)
		return false;			/* no aggregates; MongoDB's limit 0 means none */
	for (int k = 0; k < upper->nsort; k++)
	{
		MeshSortKey *s = &upper->sort[k];
		int			i = s->ref - 1;
		bool		not_null = false;

		if (s->ref <= 0 || l->paths[i] == NULL || !l->pushable[i] || l->dotted[i] ||
			is_text_id(l, &plan->table->columns[i]) || !sortable(plan->table->columns[i].typid))
			return false;
		for (int j = 0; j < plan->nquals; j++)
			if (plan->quals[j].attnum == s->ref && plan->quals[j].op != MESH_QUAL_IS_NULL)
				not_null = true;	/* every pushed comparison excludes NULL */
		if (!not_null && s->nulls_first == s->desc)
			return false;
	}
	if (upper->limit >= 0)
		plan->rows = Min(plan->rows, (double) Max(upper->limit, 1));
	return true;
}

/* ---------------------------------------------------------------- execution */

/* The find command's filter from the pushed quals. */
static void
build_filter(MeshScan *scan, MongoLayout *l, bson_t *filter)
{
	bson_t		and;
	int			n = 0;

	if (scan->nquals == 0)
		return;
	if (scan->nquals == 1)
	{
		bson_t		cond = BSON_INITIALIZER;

		if (append_qual(&cond, scan->table, l, &scan->quals[0]))
			bson_concat(filter, &cond);
		bson_destroy(&cond);
		return;
	}
	bson_append_array_begin(filter, "$and", -1, &and);
	for (int i = 0; i < scan->nquals; i++)
	{
		bson_t		cond = BSON_INITIALIZER;

		if (append_qual(&cond, scan->table, l, &scan->quals[i]))
		{
			char		key[16];
			const char *k;

			bson_uint32_to_string(n++, &k, key, sizeof(key));
			bson_append_document(&and, k, -1, &cond);
		}
		bson_destroy(&cond);
	}
	bson_append_array_end(filter, &and);
}

/* Is path a prefix of other at a dot ("a" of "a.b")? */
static bool
path_prefix(const char *path, const char *other)
{
	size_t		n = strlen(path);

	return strncmp(path, other, n) == 0 && other[n] == '.';
}

/* find options: projection (unless the whole document is wanted), sort, limit, skip. */
static void
build_options(MeshScan *scan, MongoLayout *l, bson_t *opts)
{
	MeshTable  *t = scan->table;
	bool		whole = l->doc_att && scan->wanted[l->doc_att - 1];
	bson_t		proj;
	bson_t		sort;

	for (int i = 0; i < t->ncolumns && !whole; i++)
		if (scan->wanted[i] && l->paths[i] && !l->pushable[i])
			whole = true;		/* a key a projection cannot name */
	if (!whole)
	{
		bool		id_wanted = false;

		bson_append_document_begin(opts, "projection", -1, &proj);
		for (int i = 0; i < t->ncolumns; i++)
		{
			bool		covered = false;

			if (!scan->wanted[i] || l->paths[i] == NULL)
				continue;
			for (int j = 0; j < t->ncolumns; j++)
				if (j != i && scan->wanted[j] && l->paths[j] &&
					(path_prefix(l->paths[j], l->paths[i]) ||
					 (j < i && strcmp(l->paths[j], l->paths[i]) == 0)))
					covered = true;
			if (strcmp(l->paths[i], "_id") == 0)
				id_wanted = true;
			else if (!covered)
				bson_append_int32(&proj, l->paths[i], -1, 1);
		}
		if (!id_wanted)
			bson_append_int32(&proj, "_id", -1, 0);
		bson_append_document_end(opts, &proj);
	}
	if (scan->upper && scan->upper->nsort > 0)
	{
		bson_append_document_begin(opts, "sort", -1, &sort);
		for (int k = 0; k < scan->upper->nsort; k++)
			bson_append_int32(&sort, l->paths[scan->upper->sort[k].ref - 1], -1,
							  scan->upper->sort[k].desc ? -1 : 1);
		bson_append_document_end(opts, &sort);
	}
	if (scan->upper && scan->upper->limit > 0)
		bson_append_int64(opts, "limit", -1, scan->upper->limit);
	if (scan->upper && scan->upper->offset > 0)
		bson_append_int64(opts, "skip", -1, scan->upper->offset);
}

static void
destroy_cursor(void *p)
{
	mongoc_cursor_destroy(p);
}

void
mongo_begin_scan(MeshScan *scan)
{
	MongoScanState *st = palloc0(sizeof(MongoScanState));
	MongoLayout *l = mongo_layout(scan->table);
	MeshTable  *t = scan->table;
	bson_t	   *filter = mongo_bson_new();
	bson_t	   *opts = mongo_bson_new();
	mongoc_collection_t *coll;

	scan->state = st;
	st->layout = l;
	st->mc = scan->conn;
	st->top = palloc(sizeof(int) * Max(t->ncolumns, 1));
	st->deep = palloc(sizeof(int) * Max(t->ncolumns, 1));
	for (int i = 0; i < t->ncolumns; i++)
		if (scan->wanted[i] && l->paths[i])
		{
			if (l->dotted[i])
				st->deep[st->ndeep++] = i;
			else
				st->top[st->ntop++] = i;
		}
	build_filter(scan, l, filter);
	build_options(scan, l, opts);
	coll = mongo_collection(st->mc, l->collection);
	st->cursor = mongo_own(mongoc_collection_find_with_opts(coll, filter, opts, NULL),
						   destroy_cursor);
	scan->requests++;
}

static void
set_column(MeshScan *scan, int i, const bson_iter_t *it, Datum *values, bool *nulls)
{
	values[i] = mongo_iter_datum(&scan->table->columns[i], it, &nulls[i]);
}

/* The next document as a row: missing fields are NULL. */
bool
mongo_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	MongoScanState *st = scan->state;
	MongoLayout *l = st->layout;
	const bson_t *doc;
	bson_error_t err;
	bson_iter_t it;

	if (!mongoc_cursor_next(st->cursor->ptr, &doc))
	{
		if (mongoc_cursor_error(st->cursor->ptr, &err))
			mongo_raise(st->mc, &err, "a find");
		return false;
	}
	if (!bson_iter_init(&it, doc))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("malformed document from MongoDB server \"%s\"", st->mc->servername)));
	for (int i = 0; i < scan->table->ncolumns; i++)
		nulls[i] = true;
	while (st->ntop > 0 && bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		for (int k = 0; k < st->ntop; k++)
			if (strcmp(l->paths[st->top[k]], key) == 0)
				set_column(scan, st->top[k], &it, values, nulls);
	}
	for (int k = 0; k < st->ndeep; k++)
	{
		bson_iter_t root,
					child;

		if (bson_iter_init(&root, doc) &&
			bson_iter_find_descendant(&root, l->paths[st->deep[k]], &child))
			set_column(scan, st->deep[k], &child, values, nulls);
	}
	if (l->doc_att && scan->wanted[l->doc_att - 1])
	{
		StringInfoData buf;
		MeshColumn *col = &scan->table->columns[l->doc_att - 1];

		initStringInfo(&buf);
		mongo_doc_json(&buf, doc, false);
		values[l->doc_att - 1] = mesh_value_from_text(col, buf.data, buf.len);
		nulls[l->doc_att - 1] = false;
	}
	return true;
}

void
mongo_end_scan(MeshScan *scan)
{
	MongoScanState *st = scan->state;

	if (st == NULL)
		return;
	mongo_release(st->cursor);
	scan->state = NULL;
}

/* The find command, as EXPLAIN VERBOSE shows it (relaxed extended JSON). */
char *
mongo_explain_scan(MeshScan *scan)
{
	MongoLayout *l = mongo_layout(scan->table);
	bson_t	   *cmd = mongo_bson_new();
	bson_t	   *filter = mongo_bson_new();
	bson_t	   *opts = mongo_bson_new();
	char	   *json;
	char	   *result;

	build_filter(scan, l, filter);
	build_options(scan, l, opts);
	BSON_APPEND_UTF8(cmd, "find", l->collection);
	BSON_APPEND_DOCUMENT(cmd, "filter", filter);
	bson_concat(cmd, opts);
	json = bson_as_relaxed_extended_json(cmd, NULL);
	result = pstrdup(json ? json : "?");
	bson_free(json);
	return result;
}
