/*
 * event_write.h: writing rows of mesh.event_log (event_write.c).
 */
#ifndef MESH_EVENT_WRITE_H
#define MESH_EVENT_WRITE_H

#include "access/transam.h"
#include "access/tupdesc.h"
#include "utils/jsonb.h"

#include "capture_text.h"

typedef struct EventWriter EventWriter;

/*
 * Start writing events of source in the current transaction (announces the
 * transaction as capturing before its first id: mesh_register_capture).
 */
extern EventWriter *event_writer_begin(Oid source);

/*
 * Reserve ids for the next n events in one step (a statement that knows
 * its row count); more events than reserved take theirs one by one.
 */
extern void event_writer_reserve(EventWriter *w, int64 n);

/*
 * One event: takes its id (returned) and queues the row; key and row are
 * copied, the caller may free them.  Queued rows are written in batches
 * (heap_multi_insert plus index entries) at the latest by event_writer_end.
 */
extern int64 event_writer_add(EventWriter *w, char op, Jsonb *key, Jsonb *row);

/*
 * The next events are of source, written by transaction source_xid at at
 * (WAL capture: per decoded transaction; their xid stays the writer's).
 */
extern void event_writer_set_origin(EventWriter *w, Oid source, TimestampTz at,
									FullTransactionId source_xid);

/* Write what is queued and close the event log. */
extern void event_writer_end(EventWriter *w);

/*
 * A jsonb object {column: text form or null} of the attributes attrs[0..n-1]
 * (0-based), which must be listed in jsonb key order (mesh_jsonb_key_order);
 * texts[attr] is the text form, data NULL for a null.  Byte-identical to
 * what to_jsonb-style building (pushJsonbValue) makes of the same pairs.
 */
extern Jsonb *mesh_text_object(TupleDesc desc, const int *attrs, int n, const MeshText *texts);

/* Sort attribute numbers (0-based) of desc into jsonb key order. */
extern void mesh_jsonb_key_order(TupleDesc desc, int *attrs, int n);

#endif
