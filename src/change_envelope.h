/*
 * change_envelope.h: one change as the stream and lake sinks write it
 * (change_envelope.c), and its key.
 */
#ifndef MESH_CHANGE_ENVELOPE_H
#define MESH_CHANGE_ENVELOPE_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "connector.h"

/* Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define MESH_UNIX_EPOCH_MS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)

extern void mesh_change_envelope(StringInfo buf, MeshRoute *route, MeshEvent *ev);
extern const char *mesh_change_op(MeshEvent *ev);
extern void mesh_change_row(StringInfo buf, MeshRoute *route, MeshEvent *ev, bool keys_only);
extern void mesh_change_key(StringInfo buf, MeshRoute *route, MeshEvent *ev);

#endif							/* MESH_CHANGE_ENVELOPE_H */
