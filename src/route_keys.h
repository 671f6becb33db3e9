/*
 * route_keys.h: primary keys of replication events as strings: the one
 * key encoding of the sink engine (the last change per key) and of the
 * sinks that match rows read back from a target to the keys verify asked
 * for (route_keys.c).
 */
#ifndef MESH_ROUTE_KEYS_H
#define MESH_ROUTE_KEYS_H

#include "connector.h"

/* A key string with its hash and the position it came from. */
typedef struct MeshKeyed
{
	uint32		hash;
	int			index;
	char	   *key;
} MeshKeyed;

extern char *mesh_route_key_string(MeshRoute *route, char **values);
extern void mesh_keyed_set(MeshKeyed *k, char *key, int index);
extern void mesh_keyed_sort(MeshKeyed *k, int n);
extern MeshKeyed *mesh_keyed_find(MeshKeyed *sorted, int n, char *key);

#endif							/* MESH_ROUTE_KEYS_H */
