/*
 * capture.c: the capture trigger.  mesh.replicate installs AFTER ... FOR
 * EACH STATEMENT triggers with transition tables on the source table; this
 * C function turns a whole statement's rows into event-log rows in the
 * same transaction:
 *
 *   INSERT   'I' per new row
 *   UPDATE   'U' per new row whose key existed before the statement, 'I'
 *            per new row with a new key, 'D' per old key that is gone (a
 *            changed primary key is a delete plus an insert)
 *   DELETE   'D' per old row (key only)
 *   TRUNCATE one 'T'
 *
 * Rows are written straight into the current generation of mesh.event_log
 * by event_write.c (batched heap inserts plus index entries), with ids from
 * mesh.event_id_seq.  Values are stored in their PostgreSQL text form under mesh's canonical output
 * settings (ISO, UTC: mesh_canonical_output_begin), whatever the writing
 * session's DateStyle or TimeZone, as jsonb objects built directly from
 * those texts (mesh_text_object).  No SQL is parsed per statement; what a
 * table needs (output functions, key columns, the columns in jsonb key
 * order) is cached per relation until its relcache entry is invalidated.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "common/hashfn.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"

#include "mesh.h"
#include "mesh_util.h"
#include "capture_text.h"
#include "event_write.h"
#include "wal_capture.h"

PG_FUNCTION_INFO_V1(mesh_capture);
PG_FUNCTION_INFO_V1(mesh_write_marker);

/* What capture needs to know about a source table (cached per relation). */
typedef struct CaptureInfo
{
	Oid			relid;			/* relid, valid: MeshRelEntry */
	bool		valid;
	int			nkeys;
	AttrNumber	keys[INDEX_MAX_KEYS];	/* the primary key's, in index order */
	int			key_attrs[INDEX_MAX_KEYS];	/* 0-based, in jsonb key order */
	int			nrow;
	int		   *row_attrs;		/* live columns, 0-based, in jsonb key order */
	MeshTextOut *out;			/* how to make each attribute's text form */
} CaptureInfo;

/* A row's text forms, per attribute, and the room their fast paths use. */
typedef struct RowTexts
{
	MeshText   *texts;
	char	   *scratch;		/* MESH_TEXT_SCRATCH bytes per attribute */
} RowTexts;

static HTAB *capture_cache = NULL;

static CaptureInfo *
capture_info(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	CaptureInfo *ci;
	bool		found;
	Oid			pk;
	Relation	idx;

	if (capture_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CaptureInfo);
		ctl.hcxt = CacheMemoryContext;
		capture_cache = hash_create("mesh capture", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(mesh_rel_entries_invalidate, PointerGetDatum(&capture_cache));
	}
	ci = hash_search(capture_cache, &relid, HASH_ENTER, &found);
	if (found && ci->valid)
		return ci;
	if (found && ci->out)
	{
		pfree(ci->out);
		pfree(ci->row_attrs);
	}
	ci->relid = relid;
	ci->out = MemoryContextAllocZero(CacheMemoryContext,
									 sizeof(MeshTextOut) * Max(desc->natts, 1));
	ci->row_attrs = MemoryContextAlloc(CacheMemoryContext, sizeof(int) * Max(desc->natts, 1));
	ci->nrow = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		mesh_text_out_init(&ci->out[i], att->atttypid, CacheMemoryContext);
		ci->row_attrs[ci->nrow++] = i;
	}
	mesh_jsonb_key_order(desc, ci->row_attrs, ci->nrow);
	pk = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("replicated table \"%s\" has no primary key",
						RelationGetRelationName(rel)),
				 errhint("Replicas are keyed by the primary key: add it back, or remove the routes with mesh.unreplicate().")));
	idx = index_open(pk, AccessShareLock);
	ci->nkeys = idx->rd_index->indnkeyatts;
	for (int i = 0; i < ci->nkeys; i++)
	{
		ci->keys[i] = idx->rd_index->indkey.values[i];
		ci->key_attrs[i] = ci->keys[i] - 1;
	}
	index_close(idx, AccessShareLock);
	mesh_jsonb_key_order(desc, ci->key_attrs, ci->nkeys);
	ci->valid = true;
	return ci;
}

static RowTexts
row_texts_alloc(TupleDesc desc)
{
	RowTexts	rt;

	rt.texts = palloc0(sizeof(MeshText) * Max(desc->natts, 1));
	rt.scratch = palloc(MESH_TEXT_SCRATCH * Max(desc->natts, 1));
	return rt;
}

/*
 * The text forms of a row's columns into rt (data NULL for nulls): the key
 * columns only, or every live column.  They may point into the values.
 */
static void
datum_texts(CaptureInfo *ci, Datum *values, bool *nulls, RowTexts *rt, bool keys_only)
{
	int			n = keys_only ? ci->nkeys : ci->nrow;
	const int  *attrs = keys_only ? ci->key_attrs : ci->row_attrs;

	for (int k = 0; k < n; k++)
	{
		int			i = attrs[k];

		if (nulls[i])
			rt->texts[i].data = NULL;
		else
			mesh_text_of(&ci->out[i], values[i], rt->scratch + i * MESH_TEXT_SCRATCH,
						 &rt->texts[i]);
	}
}

static void
row_texts(CaptureInfo *ci, TupleTableSlot *slot, RowTexts *rt, bool keys_only)
{
	datum_texts(ci, slot->tts_values, slot->tts_isnull, rt, keys_only);
}

/*
 * The key and (unless op is 'D') the row of an event of rel, from the
 * row's datums, as the capture trigger builds them (WAL capture).
 */
void
mesh_capture_event_jsonb(Relation rel, Datum *values, bool *nulls, char op,
						 Jsonb **key, Jsonb **row)
{
	CaptureInfo *ci = capture_info(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	RowTexts	rt = row_texts_alloc(desc);

	datum_texts(ci, values, nulls, &rt, op == 'D');
	*key = mesh_text_object(desc, ci->key_attrs, ci->nkeys, rt.texts);
	*row = op == 'D' ? NULL : mesh_text_object(desc, ci->row_attrs, ci->nrow, rt.texts);
	pfree(rt.texts);
	pfree(rt.scratch);
}

/* The event of one row: its key and (unless op is 'D') the whole row. */
static void
row_event(EventWriter *w, CaptureInfo *ci, TupleTableSlot *slot, char op, RowTexts *rt)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	Jsonb	   *key;
	Jsonb	   *row = NULL;

	slot_getallattrs(slot);
	row_texts(ci, slot, rt, op == 'D');
	key = mesh_text_object(desc, ci->key_attrs, ci->nkeys, rt->texts);
	if (op != 'D')
		row = mesh_text_object(desc, ci->row_attrs, ci->nrow, rt->texts);
	event_writer_add(w, op, key, row);
}

/* A string identifying a row's key, for pairing old and new rows. */
static char *
key_string(CaptureInfo *ci, TupleTableSlot *slot, RowTexts *rt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	row_texts(ci, slot, rt, true);
	for (int k = 0; k < ci->nkeys; k++)
	{
		MeshText   *t = &rt->texts[ci->keys[k] - 1];
		int			len = t->data ? t->len : 0;

		appendStringInfo(&buf, "%d:%.*s|", len, len, t->data ? t->data : "");
	}
	return buf.data;
}

typedef struct OldKey
{
	char	   *key;			/* hash key: the key string */
	bool		matched;
	Jsonb	   *jkey;
} OldKey;

/* The rows of a transition table as events of one kind ('I' or 'D'). */
static void
capture_rows(EventWriter *w, CaptureInfo *ci, Tuplestorestate *ts, TupleDesc desc,
			 char op, MemoryContext rowcxt)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	RowTexts	rt = row_texts_alloc(desc);

	event_writer_reserve(w, tuplestore_tuple_count(ts));
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		MemoryContext old = MemoryContextSwitchTo(rowcxt);

		row_event(w, ci, slot, op, &rt);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	tuplestore_rescan(ts);
	ExecDropSingleTupleTableSlot(slot);
}

static uint32
key_hash(const void *key, Size keysize)
{
	return string_hash(*(char *const *) key, 0);
}

static int
key_compare(const void *a, const void *b, Size keysize)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* UPDATE: pair old and new rows by primary key. */
static void
capture_update(EventWriter *w, CaptureInfo *ci, TriggerData *td, TupleDesc desc,
			   MemoryContext rowcxt)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	HASHCTL		ctl;
	HTAB	   *old_keys;
	HASH_SEQ_STATUS scan;
	OldKey	   *ok;
	RowTexts	rt = row_texts_alloc(desc);

	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(OldKey);
	ctl.hash = key_hash;
	ctl.match = key_compare;
	ctl.hcxt = CurrentMemoryContext;
	old_keys = hash_create("mesh old keys", 64, &ctl,
						   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	tuplestore_rescan(td->tg_oldtable);
	while (tuplestore_gettupleslot(td->tg_oldtable, true, false, slot))
	{
		char	   *k;
		bool		found;

		slot_getallattrs(slot);
		k = key_string(ci, slot, &rt);
		ok = hash_search(old_keys, &k, HASH_ENTER, &found);
		if (!found)
		{
			ok->key = k;
			ok->matched = false;
			ok->jkey = mesh_text_object(desc, ci->key_attrs, ci->nkeys, rt.texts);
		}
	}
	tuplestore_rescan(td->tg_oldtable);

	/* at most one event per new row and per old key */
	event_writer_reserve(w, tuplestore_tuple_count(td->tg_newtable) +
						 hash_get_num_entries(old_keys));
	tuplestore_rescan(td->tg_newtable);
	while (tuplestore_gettupleslot(td->tg_newtable, true, false, slot))
	{
		MemoryContext old;
		char	   *k;
		char		op = 'I';

		slot_getallattrs(slot);
		k = key_string(ci, slot, &rt);
		ok = hash_search(old_keys, &k, HASH_FIND, NULL);
		if (ok)
		{
			ok->matched = true;
			op = 'U';
		}
		old = MemoryContextSwitchTo(rowcxt);
		row_event(w, ci, slot, op, &rt);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	tuplestore_rescan(td->tg_newtable);

	/* keys that no new row has any more: deleted at the replica */
	hash_seq_init(&scan, old_keys);
	while ((ok = hash_seq_search(&scan)) != NULL)
		if (!ok->matched)
			event_writer_add(w, 'D', ok->jkey, NULL);
	hash_destroy(old_keys);
	ExecDropSingleTupleTableSlot(slot);
}

/* The trigger function of every capture trigger. */
Datum
mesh_capture(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	CaptureInfo *ci;
	EventWriter *w;
	TupleDesc	desc;
	MemoryContext rowcxt;
	TriggerEvent ev;
	int			canonical;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mesh.capture() must be an AFTER ... FOR EACH STATEMENT trigger"),
				 errhint("Install capture with mesh.replicate().")));
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	ci = capture_info(rel);
	ev = td->tg_event & TRIGGER_EVENT_OPMASK;
	canonical = mesh_canonical_output_begin();
	w = event_writer_begin(RelationGetRelid(rel));
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "mesh capture row",
								   ALLOCSET_DEFAULT_SIZES);
	if (ev == TRIGGER_EVENT_TRUNCATE)
		event_writer_add(w, 'T', NULL, NULL);
	else if (ev == TRIGGER_EVENT_INSERT && td->tg_newtable)
		capture_rows(w, ci, td->tg_newtable, desc, 'I', rowcxt);
	else if (ev == TRIGGER_EVENT_DELETE && td->tg_oldtable)
		capture_rows(w, ci, td->tg_oldtable, desc, 'D', rowcxt);
	else if (ev == TRIGGER_EVENT_UPDATE && td->tg_oldtable && td->tg_newtable)
		capture_update(w, ci, td, desc, rowcxt);
	event_writer_end(w);
	MemoryContextDelete(rowcxt);
	mesh_canonical_output_end(canonical);
	mesh_wake_after_commit(false);
	return PointerGetDatum(NULL);
}

/*
 * mesh._write_marker(source): the marker event (op 'S') of a schema change
 * or mesh.resync of source, in the caller's transaction, which holds a lock
 * that keeps writers of source out until it commits: every event of source
 * with a lower id is older, every one with a higher id newer.  Returns its id.
 */
Datum
mesh_write_marker(PG_FUNCTION_ARGS)
{
	EventWriter *w;
	int64		id;

	/* WAL-captured changes committed before must get lower ids */
	mesh_wal_require_caught_up();
	w = event_writer_begin(PG_GETARG_OID(0));
	id = event_writer_add(w, 'S', NULL, NULL);
	event_writer_end(w);
	mesh_wake_after_commit(false);
	PG_RETURN_INT64(id);
}
