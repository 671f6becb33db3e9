/*
 * subscribe.h: subscriptions (mesh.subscribe) to a stream source (a
 * connector's MeshStreamOps): the database worker starts one subscription
 * worker per row of mesh.subscription.
 */
#ifndef MESH_SUBSCRIBE_H
#define MESH_SUBSCRIBE_H

#include "postgres.h"

#include "connector.h"

/* Worker slots of subscriptions: this base plus the subscription id. */
#define MESH_SUBSCRIPTION_SLOT_BASE (INT64CONST(1) << 48)

/* subscribe.c: from the database worker's loop (no transaction open) */
extern void mesh_ensure_subscription_workers(void);

/* subscribe.c: the stream capability of a server; ereports when it has none */
extern const MeshStreamOps *mesh_stream_ops(MeshServerConfig *config);

#endif							/* MESH_SUBSCRIBE_H */
