/*
 * route_keys.c: primary keys of replication events as strings (see the
 * header).  A key string joins the key columns' text forms, each prefixed
 * by its length, so no two keys collide; sorting is by hash first, so it
 * rarely compares whole strings.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/builtins.h"

#include "route_keys.h"

/* The key of a row (values aligned with route->columns). */
char *
mesh_route_key_string(MeshRoute *route, char **values)
{
	size_t		len = 1;
	char	   *buf,
			   *p;

	for (int k = 0; k < route->nkeys; k++)
	{
		const char *v = values[route->key_index[k]];

		len += (v ? strlen(v) : 0) + 22;
	}
	p = buf = palloc(len);
	for (int k = 0; k < route->nkeys; k++)
	{
		const char *v = values[route->key_index[k]];
		size_t		vlen = v ? strlen(v) : 0;

		p += pg_ulltoa_n((uint64) vlen, p);
		*p++ = ':';
		memcpy(p, v ? v : "", vlen);
		p += vlen;
		*p++ = ';';
	}
	*p = '\0';
	return buf;
}

void
mesh_keyed_set(MeshKeyed *k, char *key, int index)
{
	k->key = key;
	k->hash = hash_bytes((const unsigned char *) key, strlen(key));
	k->index = index;
}

static int
compare_key(const MeshKeyed *x, const MeshKeyed *y)
{
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int
compare_keyed(const void *a, const void *b)
{
	int			c = compare_key(a, b);

	return c ? c : ((const MeshKeyed *) a)->index - ((const MeshKeyed *) b)->index;
}

static int
compare_key_only(const void *a, const void *b)
{
	return compare_key(a, b);
}

/* Sort by key, then position. */
void
mesh_keyed_sort(MeshKeyed *k, int n)
{
	qsort(k, n, sizeof(MeshKeyed), compare_keyed);
}

/* An entry of sorted (keys unique) with that key, or NULL. */
MeshKeyed *
mesh_keyed_find(MeshKeyed *sorted, int n, char *key)
{
	MeshKeyed	probe;

	mesh_keyed_set(&probe, key, -1);
	return bsearch(&probe, sorted, n, sizeof(MeshKeyed), compare_key_only);
}
