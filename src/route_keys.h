/*
 * route_keys.h: primary keys of replication events as strings, for sinks
 * that collapse a chunk to the last event per key and match rows read back
 * from a target to the keys verify asked for (route_keys.c).
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

/* The last event of a key within a chunk. */
typedef struct MeshFinalEvent
{
	MeshEvent  *event;
	bool		first;			/* the chunk has no earlier event of this key */
} MeshFinalEvent;

extern char *mesh_route_key_string(MeshRoute *route, char **values);
extern void mesh_keyed_set(MeshKeyed *k, char *key, int index);
extern void mesh_keyed_sort(MeshKeyed *k, int n);
extern MeshKeyed *mesh_keyed_find(MeshKeyed *sorted, int n, char *key);
extern int	mesh_route_final_events(MeshRoute *route, MeshEvent *events, int n,
									MeshFinalEvent **out);

#endif							/* MESH_ROUTE_KEYS_H */
