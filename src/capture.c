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
 * (heap insert plus index entries), with ids from mesh.event_id_seq.  Values
 * are stored in their PostgreSQL text form under mesh's canonical output
 * settings (ISO, UTC: mesh_canonical_output_begin), whatever the writing
 * session's DateStyle or TimeZone.  No SQL is parsed per statement.
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
#include "wal_capture.h"

PG_FUNCTION_INFO_V1(mesh_capture);
PG_FUNCTION_INFO_V1(mesh_write_marker);

/* What capture needs to know about a source table (cached per relation). */
typedef struct CaptureInfo
{
	Oid			relid;
	bool		valid;
	int			nkeys;
	AttrNumber	keys[INDEX_MAX_KEYS];
	FmgrInfo   *out;			/* output function per attribute */
} CaptureInfo;

static HTAB *capture_cache = NULL;

static void
capture_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS scan;
	CaptureInfo *ci;

	hash_seq_init(&scan, capture_cache);
	while ((ci = hash_seq_search(&scan)) != NULL)
		if (relid == InvalidOid || ci->relid == relid)
			ci->valid = false;
}

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
		CacheRegisterRelcacheCallback(capture_invalidate, (Datum) 0);
	}
	ci = hash_search(capture_cache, &relid, HASH_ENTER, &found);
	if (found && ci->valid)
		return ci;
	if (found && ci->out)
		pfree(ci->out);
	ci->relid = relid;
	ci->out = MemoryContextAllocZero(CacheMemoryContext,
									 sizeof(FmgrInfo) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			fn;
		bool		isvarlena;

		if (att->attisdropped)
			continue;
		getTypeOutputInfo(att->atttypid, &fn, &isvarlena);
		fmgr_info_cxt(fn, &ci->out[i], CacheMemoryContext);
	}
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
		ci->keys[i] = idx->rd_index->indkey.values[i];
	index_close(idx, AccessShareLock);
	ci->valid = true;
	return ci;
}

/*
 * A row as a jsonb object {column: text form or null}.  With nkeys > 0
 * only the listed key attributes are included.  texts[i] holds the text
 * form of attribute i when already computed (or NULL); out computes the
 * others.
 */
static Jsonb *
row_jsonb(TupleDesc desc, Datum *values, bool *nulls, char **texts, int nkeys,
		  const AttrNumber *keys, FmgrInfo *out)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	int			n = nkeys > 0 ? nkeys : desc->natts;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int k = 0; k < n; k++)
	{
		int			i = nkeys > 0 ? keys[k] - 1 : k;
		Form_pg_attribute att = TupleDescAttr(desc, i);
		JsonbValue	v;

		if (att->attisdropped)
			continue;
		memset(&v, 0, sizeof(v));	/* no uninitialised bytes reach the WAL */
		v.type = jbvString;
		v.val.string.val = NameStr(att->attname);
		v.val.string.len = strlen(NameStr(att->attname));
		pushJsonbValue(&state, WJB_KEY, &v);
		if (nulls[i])
			v.type = jbvNull;
		else
		{
			if (texts[i] == NULL)
				texts[i] = OutputFunctionCall(&out[i], values[i]);
			v.type = jbvString;
			v.val.string.val = texts[i];
			v.val.string.len = strlen(texts[i]);
		}
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* A row (or, with nkeys > 0, its key columns) as a jsonb object of text forms. */
Jsonb *
mesh_tuple_jsonb(TupleDesc desc, Datum *values, bool *nulls, int nkeys,
				 const AttrNumber *keys, FmgrInfo *out)
{
	char	  **texts = palloc0(sizeof(char *) * Max(desc->natts, 1));

	return row_jsonb(desc, values, nulls, texts, nkeys, keys, out);
}

/* A relation of schema mesh by name. */
Oid
mesh_relid(const char *name)
{
	Oid			nsp = get_namespace_oid("mesh", false);
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "mesh relation \"%s\" is missing", name);
	return relid;
}

/* The last value handed out by mesh.event_id_seq (0 before the first). */
int64
mesh_sequence_value(void)
{
	Datum		d;
	LOCAL_FCINFO(fcinfo, 1);

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(mesh_relid("event_id_seq"));
	fcinfo->args[0].isnull = false;
	d = pg_sequence_last_value(fcinfo);
	return fcinfo->isnull ? 0 : DatumGetInt64(d);
}

/* Writes event rows of one statement into the event log's generations. */
typedef struct EventWriter
{
	Oid			source;
	Oid			seq;
	FullTransactionId xid;
	TimestampTz now;
	Relation	rel[MESH_GENERATIONS];
	CatalogIndexState idx[MESH_GENERATIONS];
	MemoryContext cxt;			/* the statement's: outlives the per-row contexts */
} EventWriter;

static void
writer_begin(EventWriter *w, Oid source)
{
	memset(w, 0, sizeof(*w));
	w->source = source;
	w->seq = mesh_relid("event_id_seq");
	mesh_register_capture();	/* before the first id is taken */
	w->xid = GetTopFullTransactionId();
	w->now = GetCurrentTimestamp();
	w->cxt = CurrentMemoryContext;
}

static int64
write_event(EventWriter *w, char op, Jsonb *key, Jsonb *row)
{
	int64		id = nextval_internal(w->seq, false);
	int			gen = (int) ((id / mesh_generation_size) % MESH_GENERATIONS);
	Datum		values[8];
	bool		nulls[8] = {false};
	HeapTuple	tup;

	if (w->rel[gen] == NULL)
	{
		char		name[32];
		MemoryContext old = MemoryContextSwitchTo(w->cxt);

		snprintf(name, sizeof(name), "event_log_%d", gen);
		w->rel[gen] = table_open(mesh_relid(name), RowExclusiveLock);
		w->idx[gen] = CatalogOpenIndexes(w->rel[gen]);
		MemoryContextSwitchTo(old);
	}
	values[0] = Int64GetDatum(id);
	values[1] = Int16GetDatum(gen);
	values[2] = FullTransactionIdGetDatum(w->xid);
	values[3] = ObjectIdGetDatum(w->source);
	values[4] = CharGetDatum(op);
	values[5] = key ? JsonbPGetDatum(key) : (Datum) 0;
	nulls[5] = key == NULL;
	values[6] = row ? JsonbPGetDatum(row) : (Datum) 0;
	nulls[6] = row == NULL;
	values[7] = TimestampTzGetDatum(w->now);
	tup = heap_form_tuple(RelationGetDescr(w->rel[gen]), values, nulls);
	CatalogTupleInsertWithInfo(w->rel[gen], tup, w->idx[gen]);
	heap_freetuple(tup);
	return id;
}

static void
writer_end(EventWriter *w)
{
	for (int g = 0; g < MESH_GENERATIONS; g++)
		if (w->rel[g])
		{
			CatalogCloseIndexes(w->idx[g]);
			table_close(w->rel[g], NoLock);
		}
}

/* A string identifying a row's key, for pairing old and new rows. */
static char *
key_string(CaptureInfo *ci, TupleTableSlot *slot)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < ci->nkeys; k++)
	{
		int			i = ci->keys[k] - 1;
		char	   *s = slot->tts_isnull[i] ? "" : OutputFunctionCall(&ci->out[i], slot->tts_values[i]);

		appendStringInfo(&buf, "%zu:%s|", strlen(s), s);
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

	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		MemoryContext old = MemoryContextSwitchTo(rowcxt);
		Jsonb	   *key;
		Jsonb	   *row = NULL;

		char	  **texts = palloc0(sizeof(char *) * Max(desc->natts, 1));

		slot_getallattrs(slot);
		key = row_jsonb(desc, slot->tts_values, slot->tts_isnull, texts, ci->nkeys,
						ci->keys, ci->out);
		if (op != 'D')
			row = row_jsonb(desc, slot->tts_values, slot->tts_isnull, texts, 0, NULL,
							ci->out);
		write_event(w, op, key, row);
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
		k = key_string(ci, slot);
		ok = hash_search(old_keys, &k, HASH_ENTER, &found);
		if (!found)
		{
			ok->key = k;
			ok->matched = false;
			ok->jkey = mesh_tuple_jsonb(desc, slot->tts_values, slot->tts_isnull, ci->nkeys,
										ci->keys, ci->out);
		}
	}
	tuplestore_rescan(td->tg_oldtable);

	tuplestore_rescan(td->tg_newtable);
	while (tuplestore_gettupleslot(td->tg_newtable, true, false, slot))
	{
		MemoryContext old;
		char	   *k;
		char		op = 'I';

		slot_getallattrs(slot);
		k = key_string(ci, slot);
		ok = hash_search(old_keys, &k, HASH_FIND, NULL);
		if (ok)
		{
			ok->matched = true;
			op = 'U';
		}
		old = MemoryContextSwitchTo(rowcxt);
		{
			char	  **texts = palloc0(sizeof(char *) * Max(desc->natts, 1));
			Jsonb	   *key = row_jsonb(desc, slot->tts_values, slot->tts_isnull, texts,
										ci->nkeys, ci->keys, ci->out);

			write_event(w, op, key,
						row_jsonb(desc, slot->tts_values, slot->tts_isnull, texts, 0, NULL,
								  ci->out));
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	tuplestore_rescan(td->tg_newtable);

	/* keys that no new row has any more: deleted at the replica */
	hash_seq_init(&scan, old_keys);
	while ((ok = hash_seq_search(&scan)) != NULL)
		if (!ok->matched)
			write_event(w, 'D', ok->jkey, NULL);
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
	EventWriter w;
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
	writer_begin(&w, RelationGetRelid(rel));
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "mesh capture row",
								   ALLOCSET_DEFAULT_SIZES);
	if (ev == TRIGGER_EVENT_TRUNCATE)
		write_event(&w, 'T', NULL, NULL);
	else if (ev == TRIGGER_EVENT_INSERT && td->tg_newtable)
		capture_rows(&w, ci, td->tg_newtable, desc, 'I', rowcxt);
	else if (ev == TRIGGER_EVENT_DELETE && td->tg_oldtable)
		capture_rows(&w, ci, td->tg_oldtable, desc, 'D', rowcxt);
	else if (ev == TRIGGER_EVENT_UPDATE && td->tg_oldtable && td->tg_newtable)
		capture_update(&w, ci, td, desc, rowcxt);
	writer_end(&w);
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
	EventWriter w;
	int64		id;

	/* WAL-captured changes committed before must get lower ids */
	mesh_wal_require_caught_up();
	writer_begin(&w, PG_GETARG_OID(0));
	id = write_event(&w, 'S', NULL, NULL);
	writer_end(&w);
	mesh_wake_after_commit(false);
	PG_RETURN_INT64(id);
}

/*
 * An event writer for WAL capture (wal_capture.c), in the caller's
 * transaction: each event with its own source and capture time.
 */
void *
mesh_event_writer_open(void)
{
	EventWriter *w = palloc(sizeof(EventWriter));

	writer_begin(w, InvalidOid);
	return w;
}

int64
mesh_event_writer_put(void *writer, Oid source, TimestampTz at, char op, Jsonb *key, Jsonb *row)
{
	EventWriter *w = writer;

	w->source = source;
	w->now = at;
	return write_event(w, op, key, row);
}

void
mesh_event_writer_close(void *writer)
{
	writer_end(writer);
}
