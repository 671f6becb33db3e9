/*
 * object_pages.c: a listing read page by page, and what the conditions on
 * a key ask of it (MeshKeyRange): shared by the listing tables
 * (object_list.c) and the contents tables (object_read.c).
 *
 * key LIKE 'p%' (a constant prefix) narrows the prefix; key > v and
 * key >= v become start-after (>= starts just below v); key < v and
 * key <= v stop the paging once keys pass v; key = v names the key.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "mesh_util.h"
#include "object_store.h"

/* A value for EXPLAIN, quoted. */
char *
mesh_object_shown(const char *v)
{
	return mesh_quote_display(v, strlen(v));
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

/* A range over every key under prefix (the table's or the glob's). */
void
mesh_key_range_init(MeshKeyRange *r, const char *prefix)
{
	memset(r, 0, sizeof(MeshKeyRange));
	r->prefix = pstrdup(prefix);
}

/*
 * Narrow r by a pushed condition on the key (its value known): = names the
 * key, LIKE narrows the prefix, > and >= set start-after, < and <= stop
 * the listing.  Other operators leave r as it is.
 */
void
mesh_key_range_add(MeshKeyRange *r, const MeshQual *q)
{
	char	   *v;

	if (r->empty)
		return;
	if (q->isnull)
	{
		r->empty = true;		/* every pushed operator is strict */
		return;
	}
	if (q->op == MESH_QUAL_IN)
	{
		mesh_key_range_add_in(r, q);
		return;
	}
	v = mesh_datum_text(q->value, q->valtype);
	switch (q->op)
	{
		case MESH_QUAL_EQ:
			if (r->exact && strcmp(r->exact, v) != 0)
				r->empty = true;
			r->exact = v;
			break;
		case MESH_QUAL_LIKE:
			r->prefix = narrow_prefix(r->prefix, like_prefix(v));
			r->empty = r->prefix == NULL;
			break;
		case MESH_QUAL_GT:
		case MESH_QUAL_GE:
			v = q->op == MESH_QUAL_GE ? start_below(v) : v;
			if (v && (r->start_after == NULL || strcmp(v, r->start_after) > 0))
				r->start_after = v;
			break;
		case MESH_QUAL_LT:
		case MESH_QUAL_LE:
			r->upper = lappend(r->upper, v);
			r->upper_strict = lappend_int(r->upper_strict, q->op == MESH_QUAL_LT);
			break;
		default:
			break;
	}
	/* a key outside the prefix is not in the range */
	if (!r->empty && r->exact && strncmp(r->exact, r->prefix, strlen(r->prefix)) != 0)
		r->empty = true;
	mesh_key_range_keep_keys(r);
}

/* True once key is past an upper bound (the listing is in key order). */
static bool
past_upper(const MeshKeyRange *rp, const char *key)
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

/* Whether key is in r's prefix, after its start-after and before its bounds. */
bool
mesh_key_range_holds(const MeshKeyRange *r, const char *key)
{
	return strncmp(key, r->prefix, strlen(r->prefix)) == 0 &&
		(r->start_after == NULL || strcmp(key, r->start_after) > 0) && !past_upper(r, key);
}

/*
 * A range's requests for EXPLAIN: "HEAD bucket b keys k1, k2", or
 * "LIST bucket b prefix .. after .. until key > ..".
 */
void
mesh_key_range_explain(StringInfo buf, const MeshObjectStore *store, const char *bucket,
					   const MeshKeyRange *rp)
{
	ListCell   *lc;

	if (rp->keys)
	{
		appendStringInfo(buf, "HEAD %s %s keys", store->bucket_word, mesh_object_shown(bucket));
		foreach(lc, rp->keys)
			appendStringInfo(buf, "%s %s", foreach_current_index(lc) ? "," : "",
							 mesh_object_shown(lfirst(lc)));
		return;
	}
	appendStringInfo(buf, "LIST %s %s", store->bucket_word, mesh_object_shown(bucket));
	if (rp->prefix[0])
		appendStringInfo(buf, " prefix %s", mesh_object_shown(rp->prefix));
	if (rp->start_after)
		appendStringInfo(buf, " after %s", mesh_object_shown(rp->start_after));
	for (int i = 0; i < list_length(rp->upper); i++)
		appendStringInfo(buf, " until key %s %s", list_nth_int(rp->upper_strict, i) ? ">=" : ">",
						 mesh_object_shown(list_nth(rp->upper, i)));
}

/* Start listing range (its memory: a child of scan_cxt, reset per page). */
void
mesh_object_lister_begin(MeshObjectLister *ls, MeshScan *scan, const MeshObjectStore *store,
						 const char *bucket, int page_size, const MeshKeyRange *range)
{
	memset(ls, 0, sizeof(MeshObjectLister));
	ls->store = store;
	ls->bucket = bucket;
	ls->page_size = page_size;
	ls->range = range;
	ls->first_page = true;
	ls->done = range->empty;
	ls->page_cxt = AllocSetContextCreate(scan->scan_cxt, "mesh object listing page",
										 ALLOCSET_DEFAULT_SIZES);
}

/* Fetch the next page of the listing; false when there is none. */
static bool
next_page(MeshScan *scan, MeshObjectLister *ls)
{
	char	   *token = ls->token ? pstrdup(ls->token) : NULL;	/* outlives the reset */
	MeshObjectListing listing = {.bucket = ls->bucket, .prefix = ls->range->prefix,
	.page_size = ls->page_size};
	MemoryContext old;

	if (!ls->first_page && ls->token == NULL)
		return false;
	MemoryContextReset(ls->page_cxt);
	ls->token = NULL;
	old = MemoryContextSwitchTo(ls->page_cxt);
	if (ls->first_page)
		listing.start_after = ls->range->start_after;
	listing.token = token;
	scan->requests++;
	ls->list_requests++;
	ls->store->list_page(scan->conn, &listing, &ls->page);
	ls->next = 0;
	ls->token = ls->page.next_token;
	ls->first_page = false;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * The next listed object in the range, or NULL at the end.  It lives until
 * the following call (its page may be released then).
 */
const MeshObject *
mesh_object_lister_next(MeshObjectLister *ls, MeshScan *scan)
{
	if (ls->range->keys)
		return mesh_object_lister_head_next(ls, scan);
	for (;;)
	{
		MeshObject *o;

		if (ls->done)
			return NULL;
		while (ls->next >= ls->page.n)
			if (!next_page(scan, ls))
			{
				ls->done = true;
				return NULL;
			}
		o = &ls->page.objects[ls->next++];
		if (o->key == NULL)
			mesh_object_malformed(scan->conn, ls->store->label, "listing",
								  "An entry of the listing has no key.");
		if (past_upper(ls->range, o->key))
		{
			ls->done = true;
			return NULL;
		}
		/* a dialect without start-after lists from the prefix's start */
		if (ls->range->start_after && strcmp(o->key, ls->range->start_after) <= 0)
			continue;
		return o;
	}
}
