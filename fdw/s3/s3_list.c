/*
 * s3_list.c: a foreign table over a bucket's listing, one row per object.
 *
 * Columns (by name, any subset, any order): key, size, etag,
 * last_modified, content_type, metadata (jsonb of the x-amz-meta-*
 * headers, names lower-cased).  Table options: bucket (else the server's),
 * prefix, page_size (max-keys, 1-1000), head_each.
 *
 * A scan is either
 *   HEAD bucket/key        for key = 'x' (a 404 is no row), or
 *   ListObjectsV2 pages    GET /bucket?list-type=2&prefix=..&start-after=..
 *                          &continuation-token=..&max-keys=.., one page in
 *                          memory at a time.
 * key LIKE 'p%' (a constant prefix) narrows the listing's prefix; key > v
 * and key >= v become start-after (>= starts just below v); key < v and
 * key <= v stop the paging once keys pass v.  Range conditions are pushed
 * only under the "C" collation (S3 orders keys bytewise), equality and
 * LIKE under any deterministic one.  PostgreSQL rechecks every condition.
 * ListObjectsV2 returns no content type or metadata: they are NULL for
 * listed rows unless head_each is true, which sends a HEAD per row (only
 * when one of them is selected).  Columns not selected are not converted.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"

#include "mesh_util.h"
#include "s3.h"
#include "xml_reply.h"

typedef enum S3Column
{
	S3_KEY,
	S3_SIZE,
	S3_ETAG,
	S3_LAST_MODIFIED,
	S3_CONTENT_TYPE,
	S3_METADATA,
	S3_NCOLUMNS
} S3Column;

static const char *const column_names[S3_NCOLUMNS] = {
	"key", "size", "etag", "last_modified", "content_type", "metadata"
};

/* A table's shape (cached with the table). */
typedef struct S3Layout
{
	const char *bucket;
	const char *prefix;			/* the table option, "" for none */
	int			page_size;		/* 0: the server's default (1000) */
	bool		head_each;
	AttrNumber	att[S3_NCOLUMNS];	/* 0: the table has no such column */
	bool		key_is_text;	/* conditions on key can be pushed */
} S3Layout;

/* What a scan asks for, from the table and the pushed conditions. */
typedef struct S3Plan
{
	bool		empty;			/* the conditions match nothing: no request */
	char	   *head_key;		/* HEAD of this key, else a listing */
	char	   *prefix;
	char	   *start_after;	/* NULL: from the start */
	List	   *upper;			/* char * bounds: stop at a key >= (strict) ... */
	List	   *upper_strict;	/* ... or > the bound: int list */
} S3Plan;

typedef struct S3ScanState
{
	S3Layout   *layout;
	S3Plan		plan;
	bool		planned;
	bool		done;
	MemoryContext page_cxt;		/* the current page; reset per page */
	MeshXmlNode *next_entry;	/* the page's next <Contents> */
	char	   *token;			/* continuation token of the next page */
	bool		first_page;
} S3ScanState;

static void *
compute_layout(MeshTable *t)
{
	S3Layout   *l = palloc0(sizeof(S3Layout));
	const char *v;

	l->bucket = mesh_defelem_get(t->options, "bucket");
	if (l->bucket == NULL)
	{
		ForeignTable *ft = GetForeignTable(t->relid);

		l->bucket = mesh_defelem_get(GetForeignServer(ft->serverid)->options, "bucket");
	}
	if (l->bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" names no bucket", t->relname),
				 errhint("Set the option bucket on the foreign table or on its server.")));
	l->bucket = pstrdup(l->bucket);
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
		for (c = 0; c < S3_NCOLUMNS; c++)
			if (strcmp(col->name, column_names[c]) == 0)
				break;
		if (c == S3_NCOLUMNS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" is not an attribute of an S3 object",
							col->name, t->relname),
					 errhint("The columns of a listing are key, size, etag, last_modified, content_type and metadata.")));
		l->att[c] = col->attnum;
		if (c == S3_KEY)
			l->key_is_text = getBaseType(col->typid) == TEXTOID ||
				getBaseType(col->typid) == VARCHAROID;
	}
	return l;
}

/* The layout of a table, cached with it (errors name the misfit). */
static S3Layout *
s3_layout(MeshTable *t)
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
s3_plan_scan(MeshScanPlan *plan)
{
	S3Layout   *l = s3_layout(plan->table);

	plan->rows = 1000;
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];
		bool		deterministic = !OidIsValid(q->collid) ||
			get_collation_isdeterministic(q->collid);

		if (q->attnum != l->att[S3_KEY] || !l->key_is_text || !is_text_type(q->valtype))
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

/* The literal prefix of a LIKE pattern (up to its first wildcard). */
static char *
like_prefix(const char *pattern)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = pattern; *p && *p != '%' && *p != '_'; p++)
	{
		if (*p == '\\')
		{
			if (*++p == '\0')
				break;
		}
		appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/*
 * A start-after for key >= v: just below v (v's last byte lowered when it
 * is ASCII, else v without its last character), so v itself is listed; a
 * few keys below v may be too (the recheck drops them).  NULL: from the start.
 */
static char *
start_below(const char *v)
{
	size_t		len = strlen(v);
	char	   *s = pstrdup(v);
	unsigned char last;

	if (len == 0)
		return NULL;
	last = (unsigned char) s[len - 1];
	if (last > 0x01 && last < 0x80)
	{
		s[len - 1] = (char) (last - 1);
		return s;
	}
	/* drop the last UTF-8 character: its continuation bytes, then its lead */
	while (len > 0 && ((unsigned char) s[len - 1] & 0xC0) == 0x80)
		len--;
	if (len > 0)
		len--;
	s[len] = '\0';
	return len > 0 ? s : NULL;
}

/* p narrowed by prefix q: the longer of the two, or NULL if they exclude each other. */
static char *
narrow_prefix(char *p, char *q)
{
	if (strncmp(p, q, strlen(p)) == 0)
		return q;
	if (strncmp(q, p, strlen(q)) == 0)
		return p;
	return NULL;
}

/* The request of a scan from its pushed conditions (their values known). */
static void
plan_request(MeshScan *scan, S3Layout *l, S3Plan *rp)
{
	memset(rp, 0, sizeof(S3Plan));
	rp->prefix = pstrdup(l->prefix);
	for (int i = 0; i < scan->nquals && !rp->empty; i++)
	{
		MeshQual   *q = &scan->quals[i];
		char	   *v;

		if (q->isnull)
		{
			rp->empty = true;	/* every pushed operator is strict */
			break;
		}
		v = mesh_datum_text(q->value, q->valtype);
		switch (q->op)
		{
			case MESH_QUAL_EQ:
				if (rp->head_key && strcmp(rp->head_key, v) != 0)
					rp->empty = true;
				rp->head_key = v;
				break;
			case MESH_QUAL_LIKE:
				rp->prefix = narrow_prefix(rp->prefix, like_prefix(v));
				rp->empty = rp->prefix == NULL;
				break;
			case MESH_QUAL_GT:
			case MESH_QUAL_GE:
				v = q->op == MESH_QUAL_GE ? start_below(v) : v;
				if (v && (rp->start_after == NULL || strcmp(v, rp->start_after) > 0))
					rp->start_after = v;
				break;
			case MESH_QUAL_LT:
			case MESH_QUAL_LE:
				rp->upper = lappend(rp->upper, v);
				rp->upper_strict = lappend_int(rp->upper_strict, q->op == MESH_QUAL_LT);
				break;
			default:
				break;
		}
	}
	/* a key outside the table's prefix is not in the table */
	if (!rp->empty && rp->head_key && strncmp(rp->head_key, l->prefix, strlen(l->prefix)) != 0)
		rp->empty = true;
}

/* True once key is past an upper bound (the listing is in key order). */
static bool
past_upper(S3Plan *rp, const char *key)
{
	ListCell   *lc,
			   *lc2;

	forboth(lc, rp->upper, lc2, rp->upper_strict)
	{
		int			c = strcmp(key, lfirst(lc));

		if (c > 0 || (c == 0 && lfirst_int(lc2)))
			return true;
	}
	return false;
}

static void
s3_begin_scan(MeshScan *scan)
{
	S3ScanState *st = palloc0(sizeof(S3ScanState));

	st->layout = s3_layout(scan->table);
	plan_request(scan, st->layout, &st->plan);
	st->planned = true;
	st->done = st->plan.empty;
	st->first_page = true;
	st->page_cxt = AllocSetContextCreate(scan->scan_cxt, "mesh s3 page", ALLOCSET_DEFAULT_SIZES);
	scan->state = st;
}

/* Set a column of the row from text (NULL text: SQL NULL), if selected. */
static void
set_column(MeshScan *scan, S3Layout *l, S3Column c, const char *text,
		   Datum *values, bool *nulls)
{
	AttrNumber	att = l->att[c];

	if (att == 0 || text == NULL || !scan->wanted[att - 1])
		return;
	values[att - 1] = mesh_value_from_cstring(&scan->table->columns[att - 1], text, strlen(text));
	nulls[att - 1] = false;
}

/* The x-amz-meta-* headers as a JSON object text (names lower-cased). */
static char *
metadata_json(MeshHttpResponse *resp)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, resp->headers)
	{
		MeshHttpHeader *h = lfirst(lc);
		char	   *name;

		if (pg_strncasecmp(h->name, "x-amz-meta-", 11) != 0)
			continue;
		name = asc_tolower(h->name + 11, strlen(h->name + 11));
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

/*
 * HEAD key: false when the object does not exist (404).  Another error is
 * reported with the server's words, which a HEAD's answer lacks: a listing
 * of that key fetches them.
 */
static bool
head_object(MeshScan *scan, S3Layout *l, const char *key, MeshHttpResponse *resp)
{
	S3Request	r = {.method = "HEAD", .bucket = l->bucket, .key = key, .what = "a HEAD of an object"};
	S3Param		params[] = {{"list-type", "2"}, {"prefix", key}, {"max-keys", "1"}};
	S3Request	list = {.method = "GET", .bucket = l->bucket, .params = params,
	.nparams = lengthof(params), .what = "a HEAD of an object"};
	MeshHttpResponse why;

	scan->requests++;
	s3_send(scan->conn, &r, resp);
	if (resp->status >= 200 && resp->status < 300)
		return true;
	if (resp->status == 404)
		return false;
	scan->requests++;
	s3_send(scan->conn, &list, &why);
	if (why.status < 200 || why.status >= 300)
		s3_raise(scan->conn, &list, &why);
	s3_raise(scan->conn, &r, resp);
}

/* Fill the HEAD-only columns (content type, metadata) from a HEAD answer. */
static void
set_head_columns(MeshScan *scan, S3Layout *l, MeshHttpResponse *resp, Datum *values, bool *nulls)
{
	set_column(scan, l, S3_CONTENT_TYPE, mesh_http_header(resp, "Content-Type"), values, nulls);
	if (l->att[S3_METADATA] && scan->wanted[l->att[S3_METADATA] - 1])
		set_column(scan, l, S3_METADATA, metadata_json(resp), values, nulls);
}

static void
malformed(MeshScan *scan, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_REPLY_HANDLE),
			 errmsg("malformed listing from S3 server \"%s\"",
					((S3Conn *) scan->conn)->servername),
			 errdetail("%s", why)));
}

/* Fetch the next page of the listing; false when there is none. */
static bool
next_page(MeshScan *scan, S3ScanState *st)
{
	S3Layout   *l = st->layout;
	S3Param		params[5];
	int			n = 0;
	S3Request	r = {.method = "GET", .bucket = l->bucket, .params = params, .what = "a listing"};
	MeshHttpResponse resp;
	MeshXmlNode *doc;
	char	   *error;
	const char *truncated;
	char	   *token = st->token ? pstrdup(st->token) : NULL;	/* outlives the reset */
	MemoryContext old;

	if (!st->first_page && st->token == NULL)
		return false;
	MemoryContextReset(st->page_cxt);
	st->token = NULL;
	old = MemoryContextSwitchTo(st->page_cxt);
	params[n++] = (S3Param) {"list-type", "2"};
	if (st->plan.prefix[0])
		params[n++] = (S3Param) {"prefix", st->plan.prefix};
	if (st->first_page && st->plan.start_after)
		params[n++] = (S3Param) {"start-after", st->plan.start_after};
	if (token)
		params[n++] = (S3Param) {"continuation-token", token};
	if (l->page_size > 0)
		params[n++] = (S3Param) {"max-keys", psprintf("%d", l->page_size)};
	r.nparams = n;
	scan->requests++;
	s3_send(scan->conn, &r, &resp);
	if (resp.status < 200 || resp.status >= 300)
		s3_raise(scan->conn, &r, &resp);
	doc = mesh_xml_parse(resp.body.data, resp.body.len, &error);
	if (doc == NULL)
		malformed(scan, error);
	if (strcmp(doc->name, "ListBucketResult") != 0)
		malformed(scan, psprintf("The answer is a <%s> document, not a <ListBucketResult>.", doc->name));
	truncated = mesh_xml_child_text(doc, "IsTruncated");
	st->first_page = false;
	if (truncated && strcmp(truncated, "true") == 0)
	{
		st->token = pstrdup(mesh_xml_child_text(doc, "NextContinuationToken") ?
							mesh_xml_child_text(doc, "NextContinuationToken") : "");
		if (st->token[0] == '\0')
			malformed(scan, "A truncated listing has no NextContinuationToken.");
	}
	st->next_entry = mesh_xml_child(doc, "Contents");
	MemoryContextSwitchTo(old);
	return true;
}

static bool
s3_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	S3ScanState *st = scan->state;
	S3Layout   *l = st->layout;
	MeshXmlNode *e;
	const char *key;
	bool		want_head;

	if (st->done)
		return false;
	if (st->plan.head_key)
	{
		MeshHttpResponse resp;

		st->done = true;
		if (!head_object(scan, l, st->plan.head_key, &resp))
			return false;
		set_column(scan, l, S3_KEY, st->plan.head_key, values, nulls);
		set_column(scan, l, S3_SIZE, mesh_http_header(&resp, "Content-Length"), values, nulls);
		set_column(scan, l, S3_ETAG, mesh_http_header(&resp, "ETag"), values, nulls);
		set_column(scan, l, S3_LAST_MODIFIED, mesh_http_header(&resp, "Last-Modified"), values, nulls);
		set_head_columns(scan, l, &resp, values, nulls);
		return true;
	}
	for (;;)
	{
		while (st->next_entry == NULL)
			if (!next_page(scan, st))
			{
				st->done = true;
				return false;
			}
		e = st->next_entry;
		do
			st->next_entry = st->next_entry->next;
		while (st->next_entry && strcmp(st->next_entry->name, "Contents") != 0);
		key = mesh_xml_child_text(e, "Key");
		if (key == NULL)
			malformed(scan, "An entry of the listing has no Key.");
		if (past_upper(&st->plan, key))
		{
			st->done = true;
			return false;
		}
		want_head = l->head_each &&
			((l->att[S3_CONTENT_TYPE] && scan->wanted[l->att[S3_CONTENT_TYPE] - 1]) ||
			 (l->att[S3_METADATA] && scan->wanted[l->att[S3_METADATA] - 1]));
		if (want_head)
		{
			MeshHttpResponse resp;

			if (!head_object(scan, l, key, &resp))
				continue;		/* deleted since it was listed */
			set_head_columns(scan, l, &resp, values, nulls);
		}
		set_column(scan, l, S3_KEY, key, values, nulls);
		set_column(scan, l, S3_SIZE, mesh_xml_child_text(e, "Size"), values, nulls);
		set_column(scan, l, S3_ETAG, mesh_xml_child_text(e, "ETag"), values, nulls);
		set_column(scan, l, S3_LAST_MODIFIED, mesh_xml_child_text(e, "LastModified"), values, nulls);
		return true;
	}
}

static void
s3_end_scan(MeshScan *scan)
{
	scan->state = NULL;			/* its memory goes with scan_cxt */
}

/* A value for EXPLAIN: quoted when known, else the expression it comes from. */
static char *
shown(const char *v)
{
	return mesh_quote_display(v, strlen(v));
}

/*
 * The request, for EXPLAIN VERBOSE: HEAD or LIST with its prefix,
 * start-after and stop condition (never the endpoint or credentials).
 * Conditions whose values are not known yet are shown as their expressions.
 */
static char *
s3_explain_scan(MeshScan *scan)
{
	S3Layout   *l = s3_layout(scan->table);
	StringInfoData buf;
	S3Plan		rp;
	bool		known = true;

	for (int i = 0; i < scan->nquals; i++)
		known &= scan->quals[i].known;
	initStringInfo(&buf);
	if (!known)
	{
		appendStringInfo(&buf, "bucket %s, prefix %s, by", shown(l->bucket), shown(l->prefix));
		for (int i = 0; i < scan->nquals; i++)
			appendStringInfo(&buf, "%s key %s %s", i ? " AND" : "",
							 mesh_qual_op_name(scan->quals[i].op),
							 mesh_qual_display(&scan->quals[i]));
		return buf.data;
	}
	plan_request(scan, l, &rp);
	if (rp.empty)
		return pstrdup("none (the conditions match no key)");
	if (rp.head_key)
	{
		appendStringInfo(&buf, "HEAD bucket %s key %s", shown(l->bucket), shown(rp.head_key));
		return buf.data;
	}
	appendStringInfo(&buf, "LIST bucket %s", shown(l->bucket));
	if (rp.prefix[0])
		appendStringInfo(&buf, " prefix %s", shown(rp.prefix));
	if (rp.start_after)
		appendStringInfo(&buf, " start-after %s", shown(rp.start_after));
	for (int i = 0; i < list_length(rp.upper); i++)
		appendStringInfo(&buf, " until key %s %s", list_nth_int(rp.upper_strict, i) ? ">=" : ">",
						 shown(list_nth(rp.upper, i)));
	if (l->page_size > 0)
		appendStringInfo(&buf, " max-keys %d", l->page_size);
	if (l->head_each)
		appendStringInfoString(&buf, ", HEAD each key for content_type and metadata");
	return buf.data;
}

const MeshScanOps s3_scan_ops = {
	.plan_scan = s3_plan_scan,
	.begin_scan = s3_begin_scan,
	.next_row = s3_next_row,
	.end_scan = s3_end_scan,
	.explain_scan = s3_explain_scan,
};
