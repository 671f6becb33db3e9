/*
 * es_scan.c: reading an index through a foreign table.
 *
 * A scan is a search with the pushed quals as a bool/filter query, sorted
 * by _doc (or by a pushed ORDER BY), read a page (table or server option page_size, default 1000) at
 * a time through a scroll context, so no answer is ever larger than a page;
 * the scroll is released at the end.  ORDER BY on exact fields and LIMIT
 * are pushed when every qual is pushed and exact: the sort goes to the
 * server, the LIMIT shrinks the page and stops the scroll; OFFSET rows are
 * skipped here.  Only the fields of the wanted columns are asked for
 * (_source filtering).  Each page is parsed in its own memory context,
 * reset when the next page arrives.
 */
#include "postgres.h"

#include "json_value.h"

#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "es_internal.h"
#include "mesh_util.h"

typedef struct EsScanState
{
	EsConn	   *ec;
	char	   *index;
	char	   *body;			/* the first request's body */
	int			page;
	int64		limit;			/* rows still wanted (-1: all) */
	int64		skip;			/* OFFSET rows still to skip */
	bool		empty;
	bool		started;
	bool		last_page;		/* no more pages after the current one */
	char	   *scroll_id;		/* in scan_cxt */
	MemoryContext page_cxt;
	json_t	   *hits;			/* the current page, in page_cxt */
	size_t		pos;
} EsScanState;

static const char *
table_index(MeshTable *table)
{
	const char *index = mesh_defelem_get(table->options, "index");

	return index ? index : table->relname;
}

/* Plan: mark what the server evaluates (no round trip). */
void
es_plan_scan(MeshScanPlan *plan)
{
	plan->rows = 1000;
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];
		MeshColumn *col = &plan->table->columns[q->attnum - 1];
		bool		exact;

		if (col->name == NULL || !es_qual_pushable(col, q->op, &exact))
			continue;
		q->pushed = true;
		q->exact = exact;
		if (q->op == MESH_QUAL_EQ && strcmp(es_column_field(col), "_id") == 0)
			plan->rows = 1;
		else
			plan->rows = Max(plan->rows / (q->op == MESH_QUAL_EQ ? 10 : 3), 1);
	}
}

/*
 * Can the server sort by col exactly as PostgreSQL does?  Integers and
 * floats, and text on an exact (keyword) field: the glue offers text keys
 * only under the "C" collation, whose order is the server's byte order.
 */
static bool
sortable(MeshColumn *col, const char **field)
{
	bool		exact;
	Oid			t;

	if (col->name == NULL || !es_qual_pushable(col, MESH_QUAL_EQ, &exact))
		return false;
	*field = mesh_column_option(col, "keyword_field");
	if (*field == NULL)
		*field = es_column_field(col);
	if (strcmp(*field, "_id") == 0)
		return false;			/* not sortable on Elasticsearch 8 */
	t = getBaseType(col->typid);
	if (t == TEXTOID || t == VARCHAROID)
		return exact;			/* a keyword field */
	return t == INT2OID || t == INT4OID || t == INT8OID || t == FLOAT4OID || t == FLOAT8OID;
}

/* ORDER BY and LIMIT/OFFSET of a plain scan whose quals are all pushed and exact. */
bool
es_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
{
	const char *field;

	if (upper->noutputs > 0 || (upper->nsort == 0 && upper->limit < 0))
		return false;
	for (int i = 0; i < upper->nsort; i++)
		if (!sortable(&plan->table->columns[upper->sort[i].ref - 1], &field))
			return false;
	if (upper->limit >= 0)
		plan->rows = Min(plan->rows, (double) Max(upper->limit, 1));
	return true;
}

/* The sort member: _doc (cheapest), or the pushed ORDER BY with NULLs placed as asked. */
static void
append_sort(StringInfo buf, MeshScan *scan)
{
	const char *field;

	if (scan->upper == NULL || scan->upper->nsort == 0)
	{
		appendStringInfoString(buf, "\"sort\":[\"_doc\"]");
		return;
	}
	appendStringInfoString(buf, "\"sort\":[");
	for (int i = 0; i < scan->upper->nsort; i++)
	{
		MeshSortKey *k = &scan->upper->sort[i];

		(void) sortable(&scan->table->columns[k->ref - 1], &field);
		appendStringInfoString(buf, i ? ",{" : "{");
		mesh_json_append_string(buf, field, strlen(field));
		appendStringInfo(buf, ":{\"order\":\"%s\",\"missing\":\"%s\"}}",
						 k->desc ? "desc" : "asc", k->nulls_first ? "_first" : "_last");
	}
	appendStringInfoChar(buf, ']');
}

/* The search body: query, page size, _source fields of the wanted columns. */
static char *
search_body(MeshScan *scan, int size, bool explain, bool *empty)
{
	MeshTable  *t = scan->table;
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"size\":%d,", size);
	append_sort(&buf, scan);
	appendStringInfoString(&buf, ",\"_source\":[");
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *col = &t->columns[i];
		const char *f;

		if (col->name == NULL || (scan->wanted && !scan->wanted[i]))
			continue;
		f = es_column_field(col);
		if (strcmp(f, "_id") == 0 || strcmp(f, "_score") == 0)
			continue;
		if (!first)
			appendStringInfoChar(&buf, ',');
		mesh_json_append_string(&buf, f, strlen(f));
		first = false;
	}
	appendStringInfo(&buf, "],\"query\":%s}", es_query_json(scan, explain, empty));
	return buf.data;
}

/*
 * Rows per request: option page_size of the table, else of its server,
 * else 1000; fewer when a small LIMIT is pushed.
 */
static int
page_rows(MeshScan *scan)
{
	const char *opt = mesh_defelem_get(scan->table->options, "page_size");
	int64		page;

	if (opt == NULL)
	{
		ForeignTable *ft = GetForeignTable(scan->table->relid);

		opt = mesh_defelem_get(GetForeignServer(ft->serverid)->options, "page_size");
	}
	page = opt ? atoi(opt) : ES_DEFAULT_PAGE;

	if (scan->upper && scan->upper->limit >= 0)
		page = Min(page, scan->upper->limit + scan->upper->offset);
	return (int) Max(page, 1);
}

void
es_begin_scan(MeshScan *scan)
{
	EsScanState *st = palloc0(sizeof(EsScanState));

	scan->state = st;
	st->ec = scan->conn;
	st->index = pstrdup(table_index(scan->table));
	st->page = page_rows(scan);
	st->limit = scan->upper && scan->upper->limit >= 0 ? scan->upper->limit : -1;
	st->skip = scan->upper ? scan->upper->offset : 0;
	st->body = search_body(scan, st->page, false, &st->empty);
	st->page_cxt = AllocSetContextCreate(scan->scan_cxt, "elasticsearch page",
										 ALLOCSET_DEFAULT_SIZES);
	if (st->limit == 0)
		st->empty = true;
}

/* Fetch the next page into st->hits; false at the end. */
static bool
next_page(MeshScan *scan, EsScanState *st)
{
	MemoryContext old;
	json_t	   *root;
	char	   *path;
	const char *body;
	json_t	   *sid;
	bool		one_page;

	if (st->started && (st->last_page || st->scroll_id == NULL))
		return false;
	/* a LIMIT that fits in the first page needs no scroll */
	one_page = st->limit >= 0 && st->limit + st->skip <= st->page;
	MemoryContextReset(st->page_cxt);
	st->hits = NULL;
	old = MemoryContextSwitchTo(st->page_cxt);
	if (!st->started)
	{
		path = es_index_path(st->index, one_page ? "/_search" : "/_search?scroll=" ES_SCROLL_KEEP);
		body = st->body;
	}
	else
	{
		StringInfoData b;

		initStringInfo(&b);
		appendStringInfoString(&b, "{\"scroll\":\"" ES_SCROLL_KEEP "\",\"scroll_id\":");
		mesh_json_append_string(&b, st->scroll_id, strlen(st->scroll_id));
		appendStringInfoChar(&b, '}');
		path = "/_search/scroll";
		body = b.data;
	}
	st->started = true;
	scan->requests++;
	root = es_request(st->ec, "POST", path, body, strlen(body), "a search", NULL);
	st->hits = mesh_json_get(mesh_json_get(root, "hits", JSON_OBJECT, st->ec->servername, "a search"),
							 "hits", JSON_ARRAY, st->ec->servername, "a search");
	st->pos = 0;
	sid = json_object_get(root, "_scroll_id");
	MemoryContextSwitchTo(old);
	if (json_is_string(sid) && !one_page)
	{
		char	   *prev = st->scroll_id;

		st->scroll_id = MemoryContextStrdup(scan->scan_cxt, json_string_value(sid));
		if (prev)
			pfree(prev);
	}
	st->last_page = one_page || json_array_size(st->hits) < (size_t) st->page;
	return json_array_size(st->hits) > 0;
}

/* A _source value as a column value; a number for a date column is epoch milliseconds. */
static Datum
field_datum(MeshColumn *col, json_t *v, bool *isnull)
{
	Oid			t = getBaseType(col->typid);

	if (json_is_number(v) && (t == TIMESTAMPTZOID || t == TIMESTAMPOID))
	{
		double		ms = json_number_value(v);
		TimestampTz ts = (TimestampTz) (ms * 1000.0) -
			((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);

		*isnull = false;
		return TimestampTzGetDatum(ts);
	}
	return mesh_json_to_datum(col, v, isnull);
}

bool
es_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	EsScanState *st = scan->state;
	json_t	   *hit;
	json_t	   *source;
	MeshTable  *t = scan->table;

	for (;;)
	{
		if (st->empty || st->limit == 0)
			return false;
		if (st->hits == NULL || st->pos >= json_array_size(st->hits))
		{
			if (!next_page(scan, st))
				return false;
		}
		hit = json_array_get(st->hits, st->pos++);
		if (st->skip > 0)
		{
			st->skip--;
			continue;
		}
		break;
	}
	if (st->limit > 0)
		st->limit--;
	if (!json_is_object(hit))
		mesh_json_malformed(st->ec->servername, "a search", "A hit is not an object.");
	source = json_object_get(hit, "_source");
	for (int i = 0; i < t->ncolumns; i++)
	{
		MeshColumn *col = &t->columns[i];
		const char *f;
		json_t	   *v;

		nulls[i] = true;
		if (col->name == NULL || (scan->wanted && !scan->wanted[i]))
			continue;
		f = es_column_field(col);
		if (strcmp(f, "_id") == 0 || strcmp(f, "_score") == 0)
			v = json_object_get(hit, f);
		else
			v = es_source_field(source, f);
		if (v != NULL)
			values[i] = field_datum(col, v, &nulls[i]);
	}
	return true;
}

void
es_end_scan(MeshScan *scan)
{
	EsScanState *st = scan->state;

	if (st == NULL)
		return;
	scan->state = NULL;
	if (st->scroll_id)
		es_scroll_clear(st->ec, st->scroll_id);
}

/* EXPLAIN VERBOSE: the first request. */
char *
es_explain_scan(MeshScan *scan)
{
	bool		empty;
	int			page = page_rows(scan);
	bool		one_page = scan->upper && scan->upper->limit >= 0 &&
		scan->upper->limit + scan->upper->offset <= page;

	return psprintf("POST %s %s",
					es_index_path(table_index(scan->table),
								  one_page ? "/_search" : "/_search?scroll=" ES_SCROLL_KEEP),
					search_body(scan, page, true, &empty));
}
