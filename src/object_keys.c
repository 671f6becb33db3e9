/*
 * object_keys.c: key IN ('a', 'b', ...) on a listing table (and _key IN
 * on a contents table) as one HEAD per distinct value, in key order,
 * instead of a listing; a missing object (404) is no row.  At most
 * MESH_KEY_SET_MAX distinct values: above that the listing serves (the
 * condition is still rechecked, and a contents table still prunes by it).
 * Several IN conditions intersect; key = v picks its one key (a HEAD, as
 * before) when v is in the set, else nothing matches.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "mesh_util.h"
#include "object_store.h"

static int
compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
has_key(List *keys, const char *key)
{
	ListCell   *lc;

	foreach(lc, keys)
		if (strcmp(lfirst(lc), key) == 0)
			return true;
	return false;
}

/* Narrow r by key IN (values known): the set of keys to HEAD. */
void
mesh_key_range_add_in(MeshKeyRange *r, const MeshQual *q)
{
	char	  **values;
	int			n = mesh_qual_array_text(unconstify(MeshQual *, q), &values);
	List	   *keys = NIL;

	if (r->empty)
		return;
	qsort(values, n, sizeof(char *), compare_keys);
	for (int i = 0; i < n; i++)
		if (i == 0 || strcmp(values[i], values[i - 1]) != 0)
			keys = lappend(keys, values[i]);
	if (list_length(keys) > MESH_KEY_SET_MAX)
		return;					/* too many: the listing serves */
	if (r->keys != NIL)
	{
		List	   *both = NIL;
		ListCell   *lc;

		foreach(lc, keys)
			if (has_key(r->keys, lfirst(lc)))
				both = lappend(both, lfirst(lc));
		keys = both;
	}
	r->keys = keys;
	if (keys == NIL)
		r->empty = true;		/* only NULLs, or sets without a common key */
	mesh_key_range_keep_keys(r);
}

/*
 * After a condition narrowed r: drop the keys outside it; key = v decides
 * alone (v in the set: its HEAD; else nothing matches).
 */
void
mesh_key_range_keep_keys(MeshKeyRange *r)
{
	List	   *kept = NIL;
	ListCell   *lc;

	if (r->empty || r->keys == NIL)
		return;
	foreach(lc, r->keys)
		if (r->exact ? strcmp(lfirst(lc), r->exact) == 0 : mesh_key_range_holds(r, lfirst(lc)))
			kept = lappend(kept, lfirst(lc));
	r->keys = r->exact ? NIL : kept;
	if (kept == NIL)
		r->empty = true;
}

/*
 * The next object of range->keys that exists (a HEAD each), or NULL at the
 * end.  It lives until the following call.
 */
const MeshObject *
mesh_object_lister_head_next(MeshObjectLister *ls, MeshScan *scan)
{
	if (!ls->keys_started)
	{
		ls->next_key = list_head(ls->range->keys);
		ls->keys_started = true;
	}
	while (!ls->done && ls->next_key != NULL)
	{
		char	   *key = lfirst(ls->next_key);
		int64		sent = 0;
		bool		found;
		MemoryContext old;

		ls->next_key = lnext(ls->range->keys, ls->next_key);
		MemoryContextReset(ls->page_cxt);
		old = MemoryContextSwitchTo(ls->page_cxt);
		memset(&ls->head, 0, sizeof(MeshObject));
		found = ls->store->head(scan->conn, ls->bucket, key, &ls->head, &sent);
		MemoryContextSwitchTo(old);
		scan->requests += sent;
		ls->head_requests += sent;
		if (found)
		{
			ls->head.key = key;
			return &ls->head;
		}
	}
	ls->done = true;
	return NULL;
}

/* What the lister sent, for EXPLAIN ANALYZE: "LIST n" or "HEAD n". */
char *
mesh_object_lister_counts(const MeshObjectLister *ls)
{
	if (ls->range->keys)
		return psprintf("HEAD " INT64_FORMAT, ls->head_requests);
	return psprintf("LIST " INT64_FORMAT, ls->list_requests);
}
