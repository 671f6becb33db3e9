/*
 * route_memo.c: a delivery worker's memo of the routes it delivers, so a
 * connector describes its target (MeshRoute->private: e.g. the ClickHouse
 * table's column types and the INSERT it sends, the DuckDB table's types)
 * once, not every round.
 *
 * A round builds its route afresh (catalog, options, server) and passes it
 * to mesh_route_memo, which returns the memo's copy of it while nothing the
 * copy was made from changed: source, columns (names, types, attribute
 * numbers), keys, target, role, owner, options, and the server's and user
 * mapping's options (the signature).  Otherwise, or when the copy's private
 * is NULL (never described, or dropped by the connector or the sink engine
 * after a failed call, since the target may have changed), the copy is made
 * again, with no private, in its entry's memory context, which first frees
 * everything an earlier description left.  Only the copy's config is the
 * round's (it lives in round memory): it is set again at every lookup.
 * A few routes are remembered, the least recently used one is replaced.
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "mesh.h"

#define MEMO_ENTRIES 16

typedef struct MemoEntry
{
	int64		route_id;		/* 0: free */
	char	   *signature;
	MeshRoute  *route;			/* in cxt */
	MemoryContext cxt;
	uint64		last_used;
} MemoEntry;

static MemoEntry memo[MEMO_ENTRIES];
static uint64 memo_clock = 0;

static void
append_defelems(StringInfo buf, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst(lc);

		appendStringInfo(buf, "%s=%s;", d->defname, defGetString(d));
	}
	appendStringInfoChar(buf, '|');
}

/* Everything a connector's description may depend on, as one string. */
static char *
route_signature(MeshRoute *r)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%u|%s.%s|%s|%s|%u|", r->source, r->source_schema, r->source_name,
					 r->target, r->role, r->owner);
	for (int c = 0; c < r->ncolumns; c++)
		appendStringInfo(&buf, "%s:%u:%d:%s;", r->columns[c], r->types[c], r->attnums[c],
						 r->type_names[c]);
	appendStringInfoChar(&buf, '|');
	for (int k = 0; k < r->nkeys; k++)
		appendStringInfo(&buf, "%d;", r->key_index[k]);
	appendStringInfo(&buf, "|%s|",
					 r->options ? JsonbToCString(NULL, &r->options->root, VARSIZE(r->options)) : "");
	appendStringInfo(&buf, "%u|%u|%u|", r->config->serverid, r->config->umid, r->config->userid);
	append_defelems(&buf, r->config->server_options);
	append_defelems(&buf, r->config->mapping_options);
	return buf.data;
}

static char **
copy_strings(char **src, int n)
{
	char	  **dst = palloc(sizeof(char *) * Max(n, 1));

	for (int i = 0; i < n; i++)
		dst[i] = pstrdup(src[i]);
	return dst;
}

/* A deep copy of src in the current memory context, with no private. */
static MeshRoute *
copy_route(MeshRoute *src)
{
	MeshRoute  *r = palloc(sizeof(MeshRoute));

	*r = *src;
	r->source_schema = pstrdup(src->source_schema);
	r->source_name = pstrdup(src->source_name);
	r->target = pstrdup(src->target);
	r->role = pstrdup(src->role);
	if (src->options != NULL)
	{
		r->options = palloc(VARSIZE(src->options));
		memcpy(r->options, src->options, VARSIZE(src->options));
	}
	r->columns = copy_strings(src->columns, src->ncolumns);
	r->type_names = copy_strings(src->type_names, src->ncolumns);
	r->types = palloc(sizeof(Oid) * Max(src->ncolumns, 1));
	memcpy(r->types, src->types, sizeof(Oid) * src->ncolumns);
	r->attnums = palloc(sizeof(AttrNumber) * Max(src->ncolumns, 1));
	memcpy(r->attnums, src->attnums, sizeof(AttrNumber) * src->ncolumns);
	r->key_index = palloc(sizeof(int) * Max(src->nkeys, 1));
	memcpy(r->key_index, src->key_index, sizeof(int) * src->nkeys);
	r->private = NULL;
	r->cxt = CurrentMemoryContext;
	return r;
}

/* The entry of route_id, else the least recently used one (emptied). */
static MemoEntry *
entry_for(int64 route_id)
{
	MemoEntry  *victim = &memo[0];

	for (int i = 0; i < MEMO_ENTRIES; i++)
	{
		if (memo[i].route_id == route_id)
			return &memo[i];
		if (memo[i].last_used < victim->last_used)
			victim = &memo[i];
	}
	victim->route_id = 0;
	return victim;
}

/*
 * The memo's equivalent of route (built this round), to deliver with: its
 * private survives the round.  route itself when it has no id.
 */
MeshRoute *
mesh_route_memo(MeshRoute *route)
{
	char	   *signature;
	MemoEntry  *e;
	MemoryContext old;

	if (route->id == 0)
		return route;
	signature = route_signature(route);
	e = entry_for(route->id);
	e->last_used = ++memo_clock;
	if (e->route_id == route->id && e->route->private != NULL &&
		strcmp(e->signature, signature) == 0)
	{
		e->route->config = route->config;
		return e->route;
	}
	if (e->cxt == NULL)
		e->cxt = AllocSetContextCreate(TopMemoryContext, "mesh route memo",
									   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(e->cxt);
	old = MemoryContextSwitchTo(e->cxt);
	e->route_id = route->id;
	e->signature = pstrdup(signature);
	e->route = copy_route(route);
	MemoryContextSwitchTo(old);
	return e->route;
}
