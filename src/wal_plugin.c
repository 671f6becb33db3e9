/*
 * wal_plugin.c: mesh as a logical decoding output plugin.
 *
 * Only the database worker's decoder (wal_capture.c) reads mesh's slot: it
 * runs decoding in its own process, and the plugin appends each committed
 * transaction's changes of captured tables to that decoder's spool, as
 * event-log rows: 'I' per insert, 'U' per update of a row whose key stayed,
 * 'D' (old key) then 'I' when the key changed, 'D' per delete, 'T' per
 * truncated table.  Values are text forms under the decoder session's
 * canonical output settings, from the catalog as it was when the change was
 * made (a historic snapshot), so every event carries its own columns; the
 * key and row are built by the capture trigger's code (mesh_capture_event_jsonb).
 *
 * Which tables are captured is itself in the WAL: mesh.replicate writes a
 * transactional logical message "+<oid>" (mesh.unreplicate "-<oid>") with
 * prefix "mesh"; it takes effect for the transactions that commit after it.
 *
 * Unchanged TOASTed values are not in an update's new tuple: captured
 * tables have REPLICA IDENTITY FULL, so they are taken from the old one.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/partition.h"
#include "common/hashfn.h"
#include "nodes/bitmapset.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "mesh.h"
#include "mesh_util.h"
#include "wal_capture.h"

PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

/* A changed relation's replicated table: itself or its partition root (cached). */
typedef struct RootEntry
{
	Oid			relid;			/* relid, valid: MeshRelEntry */
	bool		valid;
	Oid			root;
} RootEntry;

static HTAB *roots = NULL;

static Oid
root_of(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	RootEntry  *e;
	bool		found;

	if (roots == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(RootEntry);
		ctl.hcxt = CacheMemoryContext;
		roots = hash_create("mesh decoded relations", 16, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(mesh_rel_entries_invalidate, PointerGetDatum(&roots));
	}
	e = hash_search(roots, &relid, HASH_ENTER, &found);
	if (!found || !e->valid)
	{
		e->relid = relid;
		e->root = rel->rd_rel->relispartition ?
			llast_oid(get_partition_ancestors(relid)) : relid;
		e->valid = true;
	}
	return e->root;
}

static WalSpool *
spool_of(LogicalDecodingContext *ctx)
{
	WalSpool   *spool = ctx->output_plugin_private;

	if (spool == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mesh's replication slot is read by mesh's database worker only")));
	return spool;
}

static void
startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;
	ctx->output_plugin_private = is_init ? NULL : mesh_wal_spool;
}

static bool
filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	WalSpool   *spool = ctx->output_plugin_private;

	/* the decoder's own writes (event log, cursors) */
	return spool != NULL && origin_id != InvalidRepOriginId && origin_id == spool->own_origin;
}

static void
begin_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	WalSpool   *spool = spool_of(ctx);

	/* the replay is about to read the catalog: no current entries may serve it */
	if (!spool->caches_historic)
		mesh_wal_caches_for_replay(spool);
	spool->txn_xid = txn->xid;
	/* written before a crash that lost the slot's last confirmation */
	spool->txn_skip = txn->end_lsn <= spool->skip_upto;
	spool->txn_add = NIL;
	spool->txn_remove = NIL;
}

/* A tuple's values; unchanged TOASTed ones taken from old (same descriptor). */
static void
tuple_values(TupleDesc desc, HeapTuple tup, HeapTuple old, Datum *values, bool *nulls)
{
	heap_deform_tuple(tup, desc, values, nulls);
	if (old == NULL)
		return;
	for (int i = 0; i < desc->natts; i++)
	{
		if (nulls[i] || TupleDescAttr(desc, i)->attlen != -1 ||
			!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[i])))
			continue;
		values[i] = heap_getattr(old, i + 1, desc, &nulls[i]);
	}
}

/* An event of rel's row (values, nulls) into the spool. */
static void
row_event(WalSpool *spool, Relation rel, Oid root, char op, TimestampTz at,
		  Datum *values, bool *nulls)
{
	Jsonb	   *key;
	Jsonb	   *row;

	mesh_capture_event_jsonb(rel, values, nulls, op, &key, &row);
	wal_spool_add(spool, root, op, at, key, row);
}

static bool
same_jsonb(Jsonb *a, Jsonb *b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

static void
on_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation rel,
		  ReorderBufferChange *change)
{
	WalSpool   *spool = spool_of(ctx);
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			root = root_of(rel);
	MemoryContext old;
	HeapTuple	newtup,
				oldtup;
	Datum	   *nv,
			   *ov;
	bool	   *nn,
			   *on;
	TimestampTz at = txn->xact_time.commit_time;

	if (spool->txn_skip || !list_member_oid(spool->sources, root))
		return;
	old = MemoryContextSwitchTo(spool->cxt);
	newtup = change->data.tp.newtuple ? &change->data.tp.newtuple->tuple : NULL;
	oldtup = change->data.tp.oldtuple ? &change->data.tp.oldtuple->tuple : NULL;
	nv = palloc(sizeof(Datum) * Max(desc->natts, 1));
	nn = palloc(sizeof(bool) * Max(desc->natts, 1));
	ov = palloc(sizeof(Datum) * Max(desc->natts, 1));
	on = palloc(sizeof(bool) * Max(desc->natts, 1));
	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			tuple_values(desc, newtup, NULL, nv, nn);
			row_event(spool, rel, root, 'I', at, nv, nn);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			{
				Jsonb	   *key,
						   *row,
						   *old_key = NULL,
						   *unused;

				tuple_values(desc, newtup, oldtup, nv, nn);
				mesh_capture_event_jsonb(rel, nv, nn, 'U', &key, &row);
				if (oldtup)
				{
					heap_deform_tuple(oldtup, desc, ov, on);
					mesh_capture_event_jsonb(rel, ov, on, 'D', &old_key, &unused);
				}
				if (old_key && !same_jsonb(old_key, key))
				{
					/* a changed key: a delete and an insert at the replica */
					wal_spool_add(spool, root, 'D', at, old_key, NULL);
					wal_spool_add(spool, root, 'I', at, key, row);
				}
				else
					wal_spool_add(spool, root, 'U', at, key, row);
			}
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			if (oldtup == NULL)
				elog(WARNING, "mesh: a delete from \"%s\" without its old row was not captured",
					 RelationGetRelationName(rel));
			else
			{
				heap_deform_tuple(oldtup, desc, ov, on);
				row_event(spool, rel, root, 'D', at, ov, on);
			}
			break;
		default:
			break;
	}
	MemoryContextSwitchTo(old);
	wal_spool_spill(spool);		/* nothing points into the spool now */
}

static void
on_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
		 Relation relations[], ReorderBufferChange *change)
{
	WalSpool   *spool = spool_of(ctx);

	for (int i = 0; i < nrelations; i++)
	{
		Oid			root = root_of(relations[i]);

		if (!spool->txn_skip && list_member_oid(spool->sources, root))
			wal_spool_add(spool, root, 'T', txn->xact_time.commit_time, NULL, NULL);
	}
}

static void
on_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr lsn,
		bool transactional, const char *prefix, Size size, const char *text)
{
	WalSpool   *spool = spool_of(ctx);
	char		buf[32];
	Oid			relid;
	MemoryContext old;

	if (!transactional || strcmp(prefix, MESH_WAL_MESSAGE_PREFIX) != 0 || size < 2 ||
		size >= sizeof(buf))
		return;
	memcpy(buf, text, size);
	buf[size] = '\0';
	relid = (Oid) strtoul(buf + 1, NULL, 10);
	old = MemoryContextSwitchTo(spool->cxt);
	if (buf[0] == '+')
		spool->txn_add = lappend_oid(spool->txn_add, relid);
	else if (buf[0] == '-')
		spool->txn_remove = lappend_oid(spool->txn_remove, relid);
	MemoryContextSwitchTo(old);
}

static void
commit_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	WalSpool   *spool = spool_of(ctx);
	ListCell   *lc;
	MemoryContext old;

	if (spool->txn_skip)
		return;
	old = MemoryContextSwitchTo(spool->set_cxt);
	foreach(lc, spool->txn_remove)
		spool->sources = list_delete_oid(spool->sources, lfirst_oid(lc));
	foreach(lc, spool->txn_add)
		spool->sources = list_append_unique_oid(spool->sources, lfirst_oid(lc));
	MemoryContextSwitchTo(old);
	if (spool->txn_add != NIL || spool->txn_remove != NIL)
		spool->sources_changed = true;
	spool->txn_add = spool->txn_remove = NIL;
	spool->last_end = txn->end_lsn;
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = startup;
	cb->begin_cb = begin_txn;
	cb->change_cb = on_change;
	cb->truncate_cb = on_truncate;
	cb->message_cb = on_message;
	cb->commit_cb = commit_txn;
	cb->filter_by_origin_cb = filter_by_origin;
}
