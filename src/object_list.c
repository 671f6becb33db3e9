/*
 * object_list.c: a foreign table over a bucket's listing, one row per
 * object, for every object-store connector (object_store.h): the store's
 * dialect sends the requests, this file plans and pages them.
 *
 * Columns (by name, any subset, any order): key, size, etag,
 * last_modified, content_type, metadata (jsonb of the user metadata).
 * Table options: bucket (else the server's), prefix, page_size, head_each.
 *
 * A scan is either
 *   a HEAD of bucket/key   for key = 'x' (a missing object is no row),
 *   a HEAD per key         for key IN ('x', 'y', ...): at most 100 distinct
 *                          values (object_keys.c), or
 *   listing pages          prefix, start-after, continuation token, page
 *                          size; one page in memory at a time.
 * key LIKE 'p%' (a constant prefix) narrows the listing's prefix; key > v
 * and key >= v become start-after (>= starts just below v); key < v and
 * key <= v stop the paging once keys pass v.  Range conditions are pushed
 * only under the "C" collation (stores order keys bytewise), equality and
 * LIKE under any deterministic one.  PostgreSQL rechecks every condition.
 * A listing may not return content type or metadata: they are NULL for
 * listed rows then, unless head_each is true, which sends a HEAD per row
 * (only when one of them is selected).  Columns not selected are not
 * converted.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"

#include "mesh_util.h"
#include "object_store.h"

typedef enum ObjColumn
{
	OBJ_KEY,
	OBJ_SIZE,
	OBJ_ETAG,
	OBJ_LAST_MODIFIED,
	OBJ_CONTENT_TYPE,
	OBJ_METADATA,
	OBJ_NCOLUMNS
} ObjColumn;

static const char *const column_names[OBJ_NCOLUMNS] = {
	"key", "size", "etag", "last_modified", "content_type", "metadata"
};

/* A table's shape (cached with the table). */
typedef struct ObjLayout
{
	const MeshObjectStore *store;
	const char *bucket;
	const char *prefix;			/* the table option, "" for none */
	int			page_size;		/* 0: the server's default (1000) */
	bool		head_each;
	AttrNumber	att[OBJ_NCOLUMNS];	/* 0: the table has no such column */
	bool		key_is_text;	/* conditions on key can be pushed */
} ObjLayout;

typedef struct ObjScanState
{
	ObjLayout   *layout;
	MeshKeyRange plan;
	bool		done;
	MeshObjectLister lister;
} ObjScanState;

/*
 * The store of a foreign table's server and the bucket the table reads:
 * its own option (named by the store's bucket_word), else its server's.
 */
const char *
mesh_object_table_bucket(MeshTable *t, const MeshObjectStore **store)
{
	ForeignTable *ft = GetForeignTable(t->relid);
	const char *bucket;

	*store = mesh_connector_for_server(ft->serverid)->object_store;
	bucket = mesh_defelem_get(t->options, (*store)->bucket_word);
	if (bucket == NULL)
		bucket = mesh_defelem_get(GetForeignServer(ft->serverid)->options, (*store)->bucket_word);
	if (bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" names no %s", t->relname, (*store)->bucket_word),
				 errhint("Set the option %s on the foreign table or on its server.",
						 (*store)->bucket_word)));
	return pstrdup(bucket);
}

static void *
compute_layout(MeshTable *t)
{
	ObjLayout  *l = palloc0(sizeof(ObjLayout));
	const char *v;

	l->bucket = mesh_object_table_bucket(t, &l->store);
	v = mesh_defelem_get(t->options, "prefix");
	l->prefix = pstrdup(v ? v : "");
	v = mesh_defelem_get(t->options, "page_size");
	l->page_size = v ? atoi(v) : 0;
	v = mesh_defelem_get(t->options, "head_each");
	l->head_each = v && strcmp(v, "true") == 0;
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *col = &t->columns[i];
		int			c;

		if (col->name == NULL)
			continue;
		for (c = 0; c < OBJ_NCOLUMNS; c++)
			if (strcmp(col->name, column_names[c]) == 0)
				break;
		if (c == OBJ_NCOLUMNS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" is not an attribute of %s objects",
							col->name, t->relname, l->store->label),
					 errhint("The columns of a listing are key, size, etag, last_modified, content_type and metadata.")));
		l->att[c] = col->attnum;
		if (c == OBJ_KEY)
			l->key_is_text = getBaseType(col->typid) == TEXTOID ||
				getBaseType(col->typid) == VARCHAROID;
	}
	return l;
}

/* The layout of a table, cached with it (errors name the misfit). */
static ObjLayout *
object_layout(MeshTable *t)
{
	return mesh_table_parsed(t, compute_layout);
}

static bool
is_text_type(Oid typid)
{
	return typid == TEXTOID || typid == VARCHAROID || typid == UNKNOWNOID;
}

/* Mark the conditions on key a listing or a HEAD can serve; no request. */
static void
object_plan_scan(MeshScanPlan *plan)
{
	ObjLayout   *l = object_layout(plan->table);

	plan->rows = 1000;
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];
		bool		deterministic = !OidIsValid(q->collid) ||
			get_collation_isdeterministic(q->collid);

		if (q->attnum != l->att[OBJ_KEY] || !l->key_is_text ||
			!is_text_type(q->op == MESH_QUAL_IN ? get_element_type(q->valtype) : q->valtype))
			continue;
		switch (q->op)
		{
			case MESH_QUAL_EQ:
				q->pushed = deterministic;
				if (q->pushed)
					plan->rows = 1;
				break;
			case MESH_QUAL_LIKE:
				q->pushed = deterministic;
				if (q->pushed)
					plan->rows = Min(plan->rows, 100);
				break;
			case MESH_QUAL_IN:	/* a HEAD per value (object_keys.c) */
				q->pushed = deterministic;
				if (q->pushed)
					plan->rows = Min(plan->rows, 10);
				break;
			case MESH_QUAL_LT:
			case MESH_QUAL_LE:
			case MESH_QUAL_GT:
			case MESH_QUAL_GE:
				q->pushed = OidIsValid(q->collid) && lc_collate_is_c(q->collid);
				if (q->pushed)
					plan->rows = Min(plan->rows, 300);
				break;
			default:
				break;
		}
	}
}

/* The request of a scan from its pushed conditions (their values known). */
static void
plan_request(MeshScan *scan, ObjLayout *l, MeshKeyRange *rp)
{
	mesh_key_range_init(rp, l->prefix);
	for (int i = 0; i < scan->nquals; i++)
		mesh_key_range_add(rp, &scan->quals[i]);
}

static void
object_begin_scan(MeshScan *scan)
{
	ObjScanState *st = palloc0(sizeof(ObjScanState));

	st->layout = object_layout(scan->table);
	plan_request(scan, st->layout, &st->plan);
	st->done = st->plan.empty;
	mesh_object_lister_begin(&st->lister, scan, st->layout->store, st->layout->bucket,
							 st->layout->page_size, &st->plan);
	scan->state = st;
}

/* Set a column of the row from text (NULL text: SQL NULL), if selected. */
static void
set_column(MeshScan *scan, ObjLayout *l, ObjColumn c, const char *text,
		   Datum *values, bool *nulls)
{
	AttrNumber	att = l->att[c];

	if (att == 0 || text == NULL || !scan->wanted[att - 1])
		return;
	values[att - 1] = mesh_value_from_cstring(&scan->table->columns[att - 1], text, strlen(text));
	nulls[att - 1] = false;
}

/*
 * The headers whose names start with header_prefix ("x-amz-meta-") as a
 * JSON object text, names without the prefix and lower-cased.
 */
char *
mesh_object_metadata_json(MeshHttpResponse *resp, const char *header_prefix)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;
	size_t		plen = strlen(header_prefix);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, resp->headers)
	{
		MeshHttpHeader *h = lfirst(lc);
		char	   *name;

		if (pg_strncasecmp(h->name, header_prefix, plen) != 0)
			continue;
		name = asc_tolower(h->name + plen, strlen(h->name + plen));
		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		mesh_append_dquoted(&buf, name, strlen(name), "\\u%04x", false);
		appendStringInfoChar(&buf, ':');
		mesh_append_dquoted(&buf, h->value, strlen(h->value), "\\u%04x", false);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* A store's answer that is not what its API documents: what was wrong with it. */
void
mesh_object_malformed(void *conn, const char *label, const char *what, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_REPLY_HANDLE),
			 errmsg("malformed %s from %s server \"%s\"", what, label,
					((MeshHttpConn *) conn)->servername),
			 errdetail("%s", why)));
}

/* Set the columns of the row an object describes (the selected ones). */
static void
set_object_columns(MeshScan *scan, ObjLayout *l, const MeshObject *o, Datum *values, bool *nulls)
{
	set_column(scan, l, OBJ_KEY, o->key, values, nulls);
	set_column(scan, l, OBJ_SIZE, o->size, values, nulls);
	set_column(scan, l, OBJ_ETAG, o->etag, values, nulls);
	set_column(scan, l, OBJ_LAST_MODIFIED, o->last_modified, values, nulls);
	set_column(scan, l, OBJ_CONTENT_TYPE, o->content_type, values, nulls);
	set_column(scan, l, OBJ_METADATA, o->metadata, values, nulls);
}

static bool
object_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	ObjScanState *st = scan->state;
	ObjLayout  *l = st->layout;
	const MeshObject *o;
	bool		want_head;

	if (st->done)
		return false;
	if (st->plan.exact)
	{
		MeshObject	head = {0};

		st->done = true;
		if (!l->store->head(scan->conn, l->bucket, st->plan.exact, &head, &scan->requests))
			return false;
		head.key = st->plan.exact;
		set_object_columns(scan, l, &head, values, nulls);
		return true;
	}
	want_head = l->head_each && st->plan.keys == NIL &&	/* a HEAD found them */
		((l->att[OBJ_CONTENT_TYPE] && scan->wanted[l->att[OBJ_CONTENT_TYPE] - 1]) ||
		 (l->att[OBJ_METADATA] && scan->wanted[l->att[OBJ_METADATA] - 1]));
	while ((o = mesh_object_lister_next(&st->lister, scan)) != NULL)
	{
		if (want_head)
		{
			MeshObject	head = {0};

			if (!l->store->head(scan->conn, l->bucket, o->key, &head, &scan->requests))
				continue;		/* deleted since it was listed */
			set_column(scan, l, OBJ_CONTENT_TYPE, head.content_type, values, nulls);
			set_column(scan, l, OBJ_METADATA, head.metadata, values, nulls);
		}
		set_object_columns(scan, l, o, values, nulls);
		return true;
	}
	st->done = true;
	return false;
}

static void
object_end_scan(MeshScan *scan)
{
	scan->state = NULL;			/* its memory goes with scan_cxt */
}

/*
 * The request, for EXPLAIN VERBOSE: HEAD or LIST with its prefix,
 * start-after and stop condition (never the endpoint or credentials).
 * Conditions whose values are not known yet are shown as their expressions.
 */
static char *
object_explain_scan(MeshScan *scan)
{
	ObjLayout   *l = object_layout(scan->table);
	StringInfoData buf;
	MeshKeyRange rp;
	bool		known = true;

	for (int i = 0; i < scan->nquals; i++)
		known &= scan->quals[i].known;
	initStringInfo(&buf);
	if (!known)
	{
		appendStringInfo(&buf, "%s %s, prefix %s, by", l->store->bucket_word,
						 mesh_object_shown(l->bucket), mesh_object_shown(l->prefix));
		for (int i = 0; i < scan->nquals; i++)
			appendStringInfo(&buf, "%s key %s %s", i ? " AND" : "",
							 mesh_qual_op_name(scan->quals[i].op),
							 mesh_qual_display(&scan->quals[i]));
		return buf.data;
	}
	plan_request(scan, l, &rp);
	if (rp.empty)
		return pstrdup("none (the conditions match no key)");
	if (rp.exact)
	{
		appendStringInfo(&buf, "HEAD %s %s key %s", l->store->bucket_word,
						 mesh_object_shown(l->bucket), mesh_object_shown(rp.exact));
		return buf.data;
	}
	mesh_key_range_explain(&buf, l->store, l->bucket, &rp);
	if (rp.keys)
		return buf.data;
	if (l->page_size > 0)
		appendStringInfo(&buf, " page size %d", l->page_size);
	if (l->head_each)
		appendStringInfoString(&buf, ", HEAD each key for content_type and metadata");
	return buf.data;
}

/* A table with the option path reads contents (object_read.c). */
static bool
reads_contents(MeshTable *t)
{
	return mesh_defelem_get(t->options, "path") != NULL;
}

static void
dispatch_plan_scan(MeshScanPlan *plan)
{
	if (reads_contents(plan->table))
		mesh_object_read_ops.plan_scan(plan);
	else
		object_plan_scan(plan);
}

static void
dispatch_begin_scan(MeshScan *scan)
{
	if (reads_contents(scan->table))
		mesh_object_read_ops.begin_scan(scan);
	else
		object_begin_scan(scan);
}

static bool
dispatch_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	if (reads_contents(scan->table))
		return mesh_object_read_ops.next_row(scan, values, nulls);
	return object_next_row(scan, values, nulls);
}

static void
dispatch_end_scan(MeshScan *scan)
{
	if (reads_contents(scan->table))
		mesh_object_read_ops.end_scan(scan);
	else
		object_end_scan(scan);
}

static char *
dispatch_explain_scan(MeshScan *scan)
{
	if (reads_contents(scan->table))
		return mesh_object_read_ops.explain_scan(scan);
	return object_explain_scan(scan);
}

static char *
dispatch_explain_counts(MeshScan *scan)
{
	if (reads_contents(scan->table))
		return mesh_object_read_ops.explain_counts(scan);
	return NULL;
}

const MeshScanOps mesh_object_scan_ops = {
	.plan_scan = dispatch_plan_scan,
	.begin_scan = dispatch_begin_scan,
	.next_row = dispatch_next_row,
	.end_scan = dispatch_end_scan,
	.explain_scan = dispatch_explain_scan,
	.explain_counts = dispatch_explain_counts,
	.import_schema = mesh_object_import_schema,
};

/*
 * Option check of an object store's endpoint: scheme://host[:port][/path]
 * (the URL type has checked the scheme), no query, fragment or spaces.
 */
void
mesh_object_check_endpoint(const MeshOption *option, const char *value)
{
	const char *rest = strstr(value, "://") + 3;

	if (strpbrk(value, "?# \t\r\n") != NULL || rest[0] == '\0' || rest[0] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"endpoint\": \"%s\"", value),
				 errhint("Give the store's URL as scheme://host[:port][/path], e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:10000/devstoreaccount1 (no query, fragment or credentials).")));
}
