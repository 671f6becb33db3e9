/*
 * event_write.c: rows of mesh.event_log, written by the capture trigger and
 * by mesh._write_marker in the writing transaction, and by WAL capture
 * (wal_capture.c) in the decoding worker's.
 *
 * An event's id comes from mesh.event_id_seq when it is queued (inside the
 * writing transaction, after mesh_register_capture announced it: see
 * route_worker.c), so ids follow the order of event_writer_add calls.  A
 * statement that knows how many events it will write reserves that many
 * ids at once (event_writer_reserve: the sequence advanced by n under its
 * buffer lock, WAL-logged like nextval); ids it does not use are a gap,
 * like those of a rolled back transaction.
 * Queued rows go to the generation their id selects, in batches of up to
 * EVENT_BATCH rows or EVENT_BATCH_BYTES (heap_multi_insert, then the index
 * entries of each row), and all of them before event_writer_end returns: a
 * statement's events are in the log when its trigger returns.
 *
 * The OIDs of the sequence and the generations are kept per backend and
 * forgotten when any of those relations is invalidated (extension dropped
 * and created again).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "mesh.h"
#include "event_write.h"

#define EVENT_BATCH 1000
#define EVENT_BATCH_BYTES (4 * 1024 * 1024)

struct EventWriter
{
	Oid			source;
	FullTransactionId xid;
	FullTransactionId source_xid;	/* WAL capture: the decoded transaction */
	TimestampTz now;
	Relation	rel[MESH_GENERATIONS];
	CatalogIndexState idx[MESH_GENERATIONS];
	int64		next_id;		/* reserved ids: next_id .. last_id */
	int64		last_id;
	int			gen;			/* generation of the queued rows */
	int			n;				/* queued rows */
	Size		bytes;
	TupleDesc	slot_desc;		/* the slots' descriptor */
	int			nslots;			/* slots made so far (as many as needed) */
	int			maxslots;		/* room in slots */
	TupleTableSlot **slots;
	MemoryContext cxt;			/* the statement's: the writer, its slots */
	MemoryContext batch_cxt;	/* queued rows; reset after each batch */
};

/* ---- the event log's relations */
static Oid	event_seq = InvalidOid;
static Oid	event_gen[MESH_GENERATIONS];

static void
event_oids_invalidate(Datum arg, Oid relid)
{
	bool		mine = relid == InvalidOid || relid == event_seq;

	for (int g = 0; g < MESH_GENERATIONS; g++)
		mine |= relid == event_gen[g];
	if (mine)
		event_seq = InvalidOid;
}

static void
event_oids_load(void)
{
	static bool registered = false;

	if (OidIsValid(event_seq))
		return;
	if (!registered)
	{
		CacheRegisterRelcacheCallback(event_oids_invalidate, (Datum) 0);
		registered = true;
	}
	for (int g = 0; g < MESH_GENERATIONS; g++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "event_log_%d", g);
		event_gen[g] = mesh_relid(name);
	}
	event_seq = mesh_relid("event_id_seq");
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

/*
 * The sequence's tuple on its locked buffer (sequence.c's page layout:
 * read_seq_tuple); the caller unlocks and releases *buf.
 */
static Form_pg_sequence_data
sequence_tuple(Relation seqrel, int lockmode, Buffer *buf, HeapTupleData *tuple)
{
	Page		page;
	ItemId		lp;

	*buf = ReadBuffer(seqrel, 0);
	LockBuffer(*buf, lockmode);
	page = BufferGetPage(*buf);
	if (*(uint32 *) PageGetSpecialPointer(page) != 0x1717)	/* SEQ_MAGIC */
		elog(ERROR, "bad magic number in sequence \"%s\"", RelationGetRelationName(seqrel));
	lp = PageGetItemId(page, FirstOffsetNumber);
	tuple->t_data = (HeapTupleHeader) PageGetItem(page, lp);
	tuple->t_len = ItemIdGetLength(lp);
	return (Form_pg_sequence_data) GETSTRUCT(tuple);
}

/*
 * The last value handed out by mesh.event_id_seq (0 before the first),
 * read under a share lock of its buffer (no privilege check: mesh's own).
 */
int64
mesh_sequence_value(void)
{
	Relation	seqrel;
	Buffer		buf;
	HeapTupleData tuple;
	Form_pg_sequence_data seq;
	int64		value;

	event_oids_load();
	seqrel = relation_open(event_seq, AccessShareLock);
	seq = sequence_tuple(seqrel, BUFFER_LOCK_SHARE, &buf, &tuple);
	value = seq->is_called ? seq->last_value : 0;
	UnlockReleaseBuffer(buf);
	relation_close(seqrel, AccessShareLock);
	return value;
}

/*
 * Advance mesh.event_id_seq by n > 0 (its increment is 1, CACHE 1) and
 * return the first of the n values, as n nextval calls in a row would.
 * The new value is WAL-logged before the buffer is released (no values are
 * logged ahead), so after a crash the sequence restarts above every id a
 * committed event holds.  The page layout is sequence.c's (read_seq_tuple).
 */
static int64
sequence_advance(int64 n)
{
	Relation	seqrel = relation_open(event_seq, RowExclusiveLock);
	Buffer		buf;
	Page		page;
	HeapTupleData tuple;
	Form_pg_sequence_data seq;
	int64		first;

	PreventCommandIfReadOnly("nextval()");
	PreventCommandIfParallelMode("nextval()");
	if (RelationNeedsWAL(seqrel))
		(void) GetTopTransactionId();	/* the commit record flushes our WAL */
	seq = sequence_tuple(seqrel, BUFFER_LOCK_EXCLUSIVE, &buf, &tuple);
	page = BufferGetPage(buf);
	if (HeapTupleHeaderGetRawXmax(tuple.t_data) != InvalidTransactionId)
	{
		HeapTupleHeaderSetXmax(tuple.t_data, InvalidTransactionId);
		tuple.t_data->t_infomask &= ~HEAP_XMAX_COMMITTED;
		tuple.t_data->t_infomask |= HEAP_XMAX_INVALID;
		MarkBufferDirtyHint(buf, true);
	}
	first = seq->is_called ? seq->last_value + 1 : seq->last_value;
	if (first > PG_INT64_MAX - n + 1)
		ereport(ERROR,
				(errcode(ERRCODE_SEQUENCE_GENERATOR_LIMIT_EXCEEDED),
				 errmsg("nextval: reached maximum value of sequence \"%s\"",
						RelationGetRelationName(seqrel))));

	START_CRIT_SECTION();
	MarkBufferDirty(buf);
	seq->last_value = first + n - 1;
	seq->is_called = true;
	seq->log_cnt = 0;
	if (RelationNeedsWAL(seqrel))
	{
		xl_seq_rec	xlrec;
		XLogRecPtr	lsn;

		XLogBeginInsert();
		XLogRegisterBuffer(0, buf, REGBUF_WILL_INIT);
		xlrec.node = seqrel->rd_node;
		XLogRegisterData((char *) &xlrec, sizeof(xl_seq_rec));
		XLogRegisterData((char *) tuple.t_data, tuple.t_len);
		lsn = XLogInsert(RM_SEQ_ID, XLOG_SEQ_LOG);
		PageSetLSN(page, lsn);	/* a macro: evaluates its argument twice */
	}
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
	relation_close(seqrel, NoLock);
	return first;
}

/* ---- writing */
EventWriter *
event_writer_begin(Oid source)
{
	EventWriter *w = palloc0(sizeof(EventWriter));

	event_oids_load();
	w->source = source;
	w->gen = -1;
	w->next_id = 1;
	w->last_id = 0;
	mesh_register_capture();	/* before the first id is taken */
	w->xid = GetTopFullTransactionId();
	w->now = GetCurrentTimestamp();
	w->cxt = CurrentMemoryContext;
	w->batch_cxt = AllocSetContextCreate(w->cxt, "mesh event batch", ALLOCSET_DEFAULT_SIZES);
	return w;
}

static void
open_generation(EventWriter *w, int gen)
{
	MemoryContext old = MemoryContextSwitchTo(w->cxt);
	CatalogIndexState idx;

	w->rel[gen] = table_open(event_gen[gen], RowExclusiveLock);
	w->idx[gen] = idx = CatalogOpenIndexes(w->rel[gen]);
	for (int i = 0; i < idx->ri_NumIndices; i++)
		if (idx->ri_IndexRelationInfo[i]->ii_Expressions != NIL ||
			idx->ri_IndexRelationInfo[i]->ii_Predicate != NIL)
			elog(ERROR, "mesh: an index of %s has expressions or a predicate",
				 RelationGetRelationName(w->rel[gen]));
	MemoryContextSwitchTo(old);
}

static void
drop_slots(EventWriter *w)
{
	for (int i = 0; i < w->nslots; i++)
		ExecDropSingleTupleTableSlot(w->slots[i]);
	w->nslots = 0;
}

/* Write the queued rows and their index entries. */
static void
flush_batch(EventWriter *w)
{
	Relation	rel;
	CatalogIndexState idx;

	if (w->n == 0)
		return;
	rel = w->rel[w->gen];
	idx = w->idx[w->gen];
	heap_multi_insert(rel, w->slots, w->n, GetCurrentCommandId(true), 0, NULL);
	for (int t = 0; t < w->n; t++)
	{
		for (int i = 0; i < idx->ri_NumIndices; i++)
		{
			Datum		values[INDEX_MAX_KEYS];
			bool		isnull[INDEX_MAX_KEYS];
			IndexInfo  *info = idx->ri_IndexRelationInfo[i];

			FormIndexDatum(info, w->slots[t], NULL, values, isnull);
			index_insert(idx->ri_IndexRelationDescs[i], values, isnull,
						 &w->slots[t]->tts_tid, rel,
						 info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
						 false, info);
		}
		ExecClearTuple(w->slots[t]);
	}
	w->n = 0;
	w->bytes = 0;
	MemoryContextReset(w->batch_cxt);
}

void
event_writer_reserve(EventWriter *w, int64 n)
{
	if (n < 2 || w->next_id <= w->last_id)
		return;					/* one id: nextval's logging ahead is cheaper */
	w->next_id = sequence_advance(n);
	w->last_id = w->next_id + n - 1;
}

int64
event_writer_add(EventWriter *w, char op, Jsonb *key, Jsonb *row)
{
	int64		id = w->next_id <= w->last_id ? w->next_id++ :
		nextval_internal(event_seq, false);
	int			gen = (int) ((id / mesh_generation_size) % MESH_GENERATIONS);
	Datum		values[9];
	bool		nulls[9] = {false};
	HeapTuple	tup;
	MemoryContext old;

	if (gen != w->gen || w->n == EVENT_BATCH || w->bytes > EVENT_BATCH_BYTES)
	{
		flush_batch(w);
		if (w->rel[gen] == NULL)
			open_generation(w, gen);
		w->gen = gen;
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
	values[8] = FullTransactionIdGetDatum(w->source_xid);
	nulls[8] = !FullTransactionIdIsValid(w->source_xid);
	if (w->slot_desc != RelationGetDescr(w->rel[gen]))
		drop_slots(w);
	w->slot_desc = RelationGetDescr(w->rel[gen]);
	if (w->n == w->nslots)
	{
		if (w->nslots == w->maxslots)
		{
			w->maxslots = Min(Max(8, 4 * w->maxslots), EVENT_BATCH);
			w->slots = w->slots ? repalloc(w->slots, sizeof(TupleTableSlot *) * w->maxslots) :
				MemoryContextAlloc(w->cxt, sizeof(TupleTableSlot *) * w->maxslots);
		}
		old = MemoryContextSwitchTo(w->cxt);
		w->slots[w->nslots++] = MakeSingleTupleTableSlot(w->slot_desc, &TTSOpsHeapTuple);
		MemoryContextSwitchTo(old);
	}
	old = MemoryContextSwitchTo(w->batch_cxt);
	tup = heap_form_tuple(w->slot_desc, values, nulls);
	MemoryContextSwitchTo(old);
	ExecStoreHeapTuple(tup, w->slots[w->n++], true);
	w->bytes += tup->t_len;
	return id;
}

void
event_writer_set_origin(EventWriter *w, Oid source, TimestampTz at,
						FullTransactionId source_xid)
{
	w->source = source;
	w->now = at;
	w->source_xid = source_xid;
}

void
event_writer_end(EventWriter *w)
{
	flush_batch(w);
	for (int g = 0; g < MESH_GENERATIONS; g++)
		if (w->rel[g])
		{
			CatalogCloseIndexes(w->idx[g]);
			table_close(w->rel[g], NoLock);
		}
	drop_slots(w);
	MemoryContextDelete(w->batch_cxt);
	pfree(w);
}

/* ---- the jsonb of a row */
static int
key_order_cmp(const void *a, const void *b, void *arg)
{
	TupleDesc	desc = (TupleDesc) arg;
	const char *x = NameStr(TupleDescAttr(desc, *(const int *) a)->attname);
	const char *y = NameStr(TupleDescAttr(desc, *(const int *) b)->attname);
	size_t		lx = strlen(x);
	size_t		ly = strlen(y);

	/* jsonb's order of object keys: shorter first, then bytewise */
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return memcmp(x, y, lx);
}

void
mesh_jsonb_key_order(TupleDesc desc, int *attrs, int n)
{
	qsort_arg(attrs, n, sizeof(int), key_order_cmp, desc);
}

/*
 * The object's binary form (see convertJsonbObject in jsonb_util.c): the
 * header, a JEntry per key then per value (every JB_OFFSET_STRIDE-th holds
 * the end offset of its data instead of the length), then the keys' bytes,
 * then the values' (strings unpadded, nulls empty).
 */
Jsonb *
mesh_text_object(TupleDesc desc, const int *attrs, int n, const MeshText *texts)
{
	uint32		lens_local[64];
	uint32	   *lens = 2 * n <= lengthof(lens_local) ? lens_local : palloc(sizeof(uint32) * 2 * n);
	Size		data = 0;
	Size		total;
	Jsonb	   *j;
	JEntry	   *je;
	char	   *p;
	uint32		off = 0;

	for (int k = 0; k < n; k++)
	{
		const MeshText *t = &texts[attrs[k]];

		lens[k] = strlen(NameStr(TupleDescAttr(desc, attrs[k])->attname));
		lens[n + k] = t->data ? t->len : 0;
		data += lens[k] + lens[n + k];
	}
	if (data > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb object elements exceeds the maximum of %u bytes",
						JENTRY_OFFLENMASK)));
	total = VARHDRSZ + sizeof(uint32) + sizeof(JEntry) * 2 * n + data;
	j = palloc(total);
	SET_VARSIZE(j, total);
	j->root.header = (uint32) n | JB_FOBJECT;
	je = j->root.children;
	p = (char *) &je[2 * n];
	for (int e = 0; e < 2 * n; e++)
	{
		int			k = e < n ? e : e - n;
		const char *s = e < n ? NameStr(TupleDescAttr(desc, attrs[k])->attname) : texts[attrs[k]].data;
		uint32		type = (e >= n && s == NULL) ? JENTRY_ISNULL : JENTRY_ISSTRING;

		memcpy(p + off, s ? s : "", lens[e]);
		off += lens[e];
		je[e] = type | ((e % JB_OFFSET_STRIDE) == 0 ? (off | JENTRY_HAS_OFF) : lens[e]);
	}
	if (lens != lens_local)
		pfree(lens);
	return j;
}
