/*
 * subscribe.h: Kafka subscriptions (mesh.subscribe): the database worker
 * starts one subscription worker per row of mesh.subscription.
 */
#ifndef MESH_SUBSCRIBE_H
#define MESH_SUBSCRIBE_H

#include "postgres.h"

/* Worker slots of subscriptions: this base plus the subscription id. */
#define MESH_SUBSCRIPTION_SLOT_BASE (INT64CONST(1) << 48)

/* subscribe.c: from the database worker's loop (no transaction open) */
extern void mesh_ensure_subscription_workers(void);

#endif							/* MESH_SUBSCRIBE_H */
