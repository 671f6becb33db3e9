/*
 * wal_capture.c: capture from the WAL, run by each database worker.
 *
 * With mesh.capture = wal or auto and wal_level = logical, the database
 * worker owns a logical replication slot, mesh_<database oid>, with mesh
 * itself as the output plugin (wal_plugin.c), and decodes it in its own
 * process between route turns: writers of a WAL-captured table pay only
 * their WAL.  A step reads what was flushed since the last one, lets the
 * plugin spool the committed transactions' changes of captured tables,
 * then writes them into the event log in one transaction of its own, in
 * commit order, with ids from the event sequence like any capture (so
 * delivery, replay and verify see no difference), records in
 * mesh.wal_capture how far it got (the end of the last source transaction
 * written: processed_lsn) and which tables are captured, flushes that
 * commit, and only then confirms the position to the slot.  The slot may
 * come back behind processed_lsn after a crash: the plugin then skips the
 * transactions already written, so nothing is written twice, and nothing
 * is lost because the slot never gets ahead of what is durable.  The event
 * log is the spool: the slot keeps only the WAL not yet decoded.
 *
 * The worker's own writes carry a replication origin (mesh_<oid>) that
 * the plugin filters out before decoding.  The replay reads the catalog
 * under historic snapshots (as of each decoded transaction), the worker's
 * other work under current ones, through the same caches.  Both agree while
 * no catalog change beyond the decoded position has reached this process:
 * a change up to that position was decoded, and decoding runs its
 * invalidations.  So the caches are reset around a step's replay (before
 * its first transaction and at its end) only when this process read an
 * invalidation (SharedInvalidMessageCounter moved) since the last step that
 * caught up with the WAL flushed at its start (a change is flushed before
 * its invalidation is sent; steps after it, caught up or not, keep that
 * while no invalidation arrives); otherwise only the captured tables'
 * relcache entries are rebuilt, and the worker's plans survive.  A step
 * decodes for at most DECODE_SLICE_MS, writes what is complete, and leaves
 * the rest to the next step, so routes are served during a long decoding.  A step that replays
 * nothing (only the worker's own writes, or other databases') touches no
 * cache.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xlogutils.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/message.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"
#include "storage/sinval.h"
#include "utils/inval.h"
#include "utils/relcache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mesh.h"
#include "event_write.h"
#include "mesh_util.h"
#include "wal_capture.h"

#define SPOOL_FLUSH_BYTES (64 * 1024 * 1024)	/* write what is complete beyond this */
#define DECODE_SLICE_MS 250		/* a step decodes at most about this long */
#define RETRY_START_MS 10000	/* after a failure to start decoding */
#define WAIT_POLL_MS 5
#define CATCH_UP_MS 60000
#define SWITCH_EVERY_MS 1000	/* auto: look for tables still on triggers */

int			mesh_capture_mode = MESH_CAPTURE_TRIGGER;

WalSpool   *mesh_wal_spool = NULL;
static LogicalDecodingContext *decoding = NULL;
static TimestampTz next_start = 0;

/* The slot (and origin) name of this database. */
static char *
capture_name(void)
{
	return psprintf("mesh_%u", MyDatabaseId);
}

/*
 * Whether output_plugin_libraries (where this server has it) lets mesh be
 * an output plugin: that is the administrator's call, never made here.
 */
static bool
plugin_allowed(void)
{
	const char *libs = GetConfigOption("output_plugin_libraries", true, false);
	char	   *copy;
	List	   *names;
	ListCell   *lc;
	bool		allowed = false;

	if (libs == NULL)
		return true;
	copy = pstrdup(libs);
	if (!SplitIdentifierString(copy, ',', &names))
		return false;
	foreach(lc, names)
		allowed |= strcmp(lfirst(lc), "mesh") == 0;
	return allowed;
}

/* Whether this database should capture from WAL (and can). */
static bool
wal_wanted(void)
{
	static bool told = false;

	if (mesh_capture_mode == MESH_CAPTURE_TRIGGER)
		return false;
	if (wal_level < WAL_LEVEL_LOGICAL || max_replication_slots == 0 || !plugin_allowed())
	{
		if (!told)
			ereport(LOG,
					(errmsg("mesh: mesh.capture is %s, but tables are captured with triggers",
							mesh_capture_mode == MESH_CAPTURE_WAL ? "wal" : "auto"),
					 errdetail("WAL capture needs wal_level = logical, max_replication_slots > 0 and, where the server has the setting, mesh in output_plugin_libraries.")));
		told = true;
		return false;
	}
	told = false;
	return true;
}

static void
prepare_write(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid, bool last_write)
{
}

static void
do_write(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid, bool last_write)
{
}

/*
 * Create the slot if it is missing (waits for the transactions running
 * now to end).  A slot that went missing while tables were captured from
 * it lost their changes since: those routes copy their tables again.
 */
static void
ensure_slot(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		lost;

	if (SearchNamedReplicationSlot(name, true) != NULL)
		return;
	mesh_worker_spi_begin();
	SPI_execute_with_args("SELECT pg_create_logical_replication_slot($1, 'mesh')",
						  1, types, values, NULL, false, 0);
	mesh_worker_spi_commit();
	ereport(LOG, (errmsg("mesh: created the replication slot \"%s\" for WAL capture", name)));
	mesh_worker_spi_begin();
	SPI_execute("SELECT processed_lsn <> '0/0' AND cardinality(sources) > 0 FROM mesh.wal_capture",
				false, 1);
	lost = SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &lost));
	if (lost)
	{
		ereport(WARNING,
				(errmsg("mesh: the replication slot \"%s\" was missing; the tables captured from it are copied to their routes again", name)));
		SPI_execute("SELECT mesh.resync(r.source, r.target) FROM mesh.route r"
					" WHERE r.source = ANY ((SELECT sources FROM mesh.wal_capture)::regclass[])",
					false, 0);
	}
	SPI_execute("UPDATE mesh.wal_capture SET processed_lsn = '0/0'", false, 0);
	mesh_worker_spi_commit();
}

/* The decoder's own writes get this origin, which the plugin skips. */
static RepOriginId
own_origin(const char *name)
{
	RepOriginId origin;

	mesh_worker_begin_xact();
	origin = replorigin_by_name(name, true);
	if (origin == InvalidRepOriginId)
		origin = replorigin_create(name);
	CommitTransactionCommand();
	if (replorigin_session_origin == InvalidRepOriginId)
	{
		replorigin_session_setup(origin);
		replorigin_session_origin = origin;
	}
	return origin;
}

/* Load mesh.wal_capture into a new spool. */
static WalSpool *
load_spool(void)
{
	WalSpool   *spool = MemoryContextAllocZero(TopMemoryContext, sizeof(WalSpool));
	bool		isnull;

	spool->cxt = AllocSetContextCreate(TopMemoryContext, "mesh WAL spool", ALLOCSET_DEFAULT_SIZES);
	spool->set_cxt = AllocSetContextCreate(TopMemoryContext, "mesh WAL sources", ALLOCSET_SMALL_SIZES);
	spool->read_cxt = AllocSetContextCreate(TopMemoryContext, "mesh WAL spool read", ALLOCSET_DEFAULT_SIZES);
	mesh_worker_spi_begin();
	SPI_execute("INSERT INTO mesh.wal_capture DEFAULT VALUES ON CONFLICT DO NOTHING", false, 0);
	SPI_execute("SELECT processed_lsn, unnest(sources) FROM mesh.wal_capture", false, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(spool->set_cxt);

		spool->skip_upto = DatumGetLSN(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		spool->sources = lappend_oid(spool->sources,
									 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 2, &isnull)));
		MemoryContextSwitchTo(old);
	}
	if (SPI_processed == 0)
	{
		SPI_execute("SELECT processed_lsn FROM mesh.wal_capture", false, 1);
		spool->skip_upto = DatumGetLSN(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	mesh_worker_spi_commit();
	return spool;
}

static void
start_decoding(void)
{
	char	   *name = capture_name();

	ensure_slot(name);
	mesh_wal_spool = load_spool();
	mesh_wal_spool->own_origin = own_origin(name);
	ReplicationSlotAcquire(name, true);

	/*
	 * Inside a transaction: outside one, PostgreSQL marks the process as a
	 * decoder that never writes (PROC_IN_LOGICAL_DECODING), and every other
	 * backend's snapshot would then leave out this worker's own running
	 * transactions.  The context itself lives beyond the transaction.
	 */
	mesh_worker_begin_xact();
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		decoding = CreateDecodingContext(InvalidXLogRecPtr, NIL, false,
										 XL_ROUTINE(.page_read = read_local_xlog_page,
													.segment_open = wal_segment_open,
													.segment_close = wal_segment_close),
										 prepare_write, do_write, NULL);
		MemoryContextSwitchTo(old);
	}
	CommitTransactionCommand();
	if (MyProc->statusFlags & PROC_IN_LOGICAL_DECODING)
		elog(ERROR, "mesh: the WAL capture process is marked as a logical decoding process");
	XLogBeginRead(decoding->reader, MyReplicationSlot->data.restart_lsn);
	ereport(LOG, (errmsg("mesh: capturing from WAL through the replication slot \"%s\"", name)));
}

/* Stop decoding (after an error, or at exit); drop_slot: the slot too. */
void
mesh_wal_capture_stop(bool drop_slot)
{
	if (decoding)
		FreeDecodingContext(decoding);
	decoding = NULL;
	if (MyReplicationSlot != NULL)
		ReplicationSlotRelease();
	if (drop_slot && max_replication_slots > 0 &&
		SearchNamedReplicationSlot(capture_name(), true) != NULL)
		ReplicationSlotDrop(capture_name(), true);
	if (mesh_wal_spool)
	{
		wal_spool_clear(mesh_wal_spool);
		MemoryContextDelete(mesh_wal_spool->read_cxt);
		MemoryContextDelete(mesh_wal_spool->cxt);
		MemoryContextDelete(mesh_wal_spool->set_cxt);
		pfree(mesh_wal_spool);
		mesh_wal_spool = NULL;
	}
	mesh_wal_publish(InvalidXLogRecPtr);
}

/* The sources as an oid[] datum. */
static Datum
sources_array(List *sources)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(sources), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, sources)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/* The full id of xid, a transaction decoded from the WAL (so not in the future). */
static FullTransactionId
full_xid_of(TransactionId xid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	uint32		epoch = EpochFromFullTransactionId(next);

	if (!TransactionIdIsNormal(xid))
		return InvalidFullTransactionId;
	if (xid > XidFromFullTransactionId(next))
		epoch--;
	return FullTransactionIdFromEpochAndXid(epoch, xid);
}

/*
 * Write the spooled transactions into the event log and record the
 * position, durably; then confirm it to the slot.  A decoded transaction
 * has flushed its commit record but may not have left the proc array yet:
 * its events are written only once it is visible to every new snapshot,
 * so a snapshot that sees an event row also sees the rows the event
 * describes (the backfill relies on it, see backfill.c).
 */
static void
write_spool(WalSpool *spool)
{
	int64		nevents = wal_spool_count(spool);

	if (nevents > 0 || spool->sources_changed)
	{
		Oid			types[2] = {LSNOID, OIDARRAYOID};
		Datum		values[2];
		EventWriter *writer;
		WalEvent	ev;
		TransactionId last_xid = InvalidTransactionId;

		mesh_worker_spi_begin();
		writer = event_writer_begin(InvalidOid);
		event_writer_reserve(writer, nevents);
		wal_spool_rewind(spool);
		while (wal_spool_next(spool, &ev))
		{
			if (ev.xid != last_xid)
				XactLockTableWait(ev.xid, NULL, NULL, XLTW_None);
			last_xid = ev.xid;
			event_writer_set_origin(writer, ev.source, ev.committed_at, full_xid_of(ev.xid));
			event_writer_add(writer, ev.op, ev.key, ev.row);
		}
		event_writer_end(writer);
		values[0] = LSNGetDatum(spool->last_end);
		values[1] = sources_array(spool->sources);
		SPI_execute_with_args("UPDATE mesh.wal_capture SET processed_lsn = $1, sources = $2",
							  2, types, values, NULL, false, 0);
		if (nevents > 0)
			mesh_wake_after_commit(false);
		if (spool->nspilled > 0)
			ereport(LOG,
					(errmsg("mesh: WAL capture wrote %lld events, %lld of them through a temporary file",
							(long long) nevents, (long long) spool->nspilled)));
		mesh_worker_spi_commit();
		XLogFlush(XactLastCommitEnd);	/* durable before the slot moves past it */
		spool->skip_upto = spool->last_end;
	}
	wal_spool_clear(spool);
	spool->sources_changed = false;
	LogicalConfirmReceivedLocation(decoding->reader->EndRecPtr);
}

/* Whether the caches may serve both the replay and current work (file comment). */
static bool
caches_agree(WalSpool *spool)
{
	return spool->caches_quiet && SharedInvalidMessageCounter == spool->quiet_counter;
}

/* Rebuild what the replay reads of the captured tables, or everything. */
static void
reset_caches_for(WalSpool *spool, bool agree)
{
	ListCell   *lc;

	if (!agree)
	{
		InvalidateSystemCaches();
		return;
	}
	foreach(lc, spool->sources)
		RelationCacheInvalidateEntry(lfirst_oid(lc));
}

/* Called before a step's first replayed transaction (wal_plugin.c). */
void
mesh_wal_caches_for_replay(WalSpool *spool)
{
	reset_caches_for(spool, caches_agree(spool));
	spool->caches_historic = true;
}

/* Decode what was flushed since the last step and write it (see the file comment). */
static void
decode_step(void)
{
	uint64		invalidations_read = SharedInvalidMessageCounter;	/* before the flush point */
	XLogRecPtr	flushed = GetFlushRecPtr(NULL);
	TimestampTz start = GetCurrentTimestamp();
	XLogReaderState *reader = decoding->reader;
	MemoryContext outer = CurrentMemoryContext;

	if (reader->EndRecPtr >= flushed)
	{
		mesh_wal_publish(reader->EndRecPtr);
		return;
	}
	mesh_wal_spool->caches_historic = false;
	/* the reader frees an oversized record at the next read: not in a pass's context */
	MemoryContextSwitchTo(decoding->context);
	PG_TRY();
	{
		for (uint32 records = 1;
			 reader->EndRecPtr < flushed && mesh_wal_spool->total_bytes < SPOOL_FLUSH_BYTES; records++)
		{
			char	   *errm = NULL;
			XLogRecord *record = XLogReadRecord(reader, &errm);

			if (errm)
				elog(ERROR, "mesh: could not read WAL for capture: %s", errm);
			if (record != NULL)
				LogicalDecodingProcessRecord(decoding, reader);
			CHECK_FOR_INTERRUPTS();
			/* the routes get their turns between slices of a long decoding */
			if (records % 1024 == 0 &&
				TimestampDifferenceExceeds(start, GetCurrentTimestamp(), DECODE_SLICE_MS))
				break;
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(outer);
		InvalidateSystemCaches();
		mesh_wal_spool->caches_quiet = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(outer);
	if (mesh_wal_spool->caches_historic)
		reset_caches_for(mesh_wal_spool, caches_agree(mesh_wal_spool));
	mesh_wal_spool->caches_historic = false;
	if (reader->EndRecPtr >= flushed)
	{
		mesh_wal_spool->caches_quiet = true;
		mesh_wal_spool->quiet_counter = invalidations_read;
	}
	else if (!caches_agree(mesh_wal_spool))
		mesh_wal_spool->caches_quiet = false;
	mesh_log_if_slow(start, "decoding WAL");
	start = GetCurrentTimestamp();
	write_spool(mesh_wal_spool);
	mesh_log_if_slow(start, "writing decoded events into the event log");
	mesh_wal_publish(reader->EndRecPtr);
}

/*
 * mesh.capture auto or wal: move the replicated tables still captured with
 * triggers to WAL (mesh.set_capture), at most every SWITCH_EVERY_MS.  A
 * table whose writers hold it longer than the lock timeout is tried again
 * later.  The switch's transaction must not carry the decoder's origin:
 * its registration message is what starts the table's WAL capture.
 */
static void
switch_trigger_tables(void)
{
	static TimestampTz next_switch = 0;
	List	   *volatile tables = NIL;
	ListCell   *lc;
	RepOriginId origin = replorigin_session_origin;

	if (GetCurrentTimestamp() < next_switch)
		return;
	next_switch = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SWITCH_EVERY_MS);
	mesh_worker_spi_begin();
	SPI_execute("SELECT DISTINCT r.source::oid FROM mesh.route r"
				" WHERE mesh.capture_of(r.source) = 'trigger' AND NOT EXISTS"
				" (SELECT 1 FROM mesh.capture_choice c WHERE c.source = r.source)", true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(mesh_wal_spool->set_cxt);

		tables = lappend_oid(tables, relid);
		MemoryContextSwitchTo(old);
	}
	mesh_worker_spi_commit();
	foreach(lc, tables)
	{
		Oid			types[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(lfirst_oid(lc))};
		MemoryContext outer = CurrentMemoryContext;

		PG_TRY();
		{
			bool		switched,
						isnull;

			replorigin_session_origin = InvalidRepOriginId;
			mesh_worker_spi_begin();
			SPI_execute("SET LOCAL lock_timeout = '200ms'", false, 0);
			/* unless its owner chose since the list was read (mesh._auto_wal) */
			SPI_execute_with_args("SELECT mesh._auto_wal($1::regclass)",
								  1, types, values, NULL, false, 0);
			switched = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												  1, &isnull));
			mesh_worker_spi_commit();
			replorigin_session_origin = origin;
			if (switched)
				ereport(LOG,
						(errmsg("mesh: table with OID %u is captured from WAL from now on", lfirst_oid(lc))));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(outer);
			replorigin_session_origin = origin;
			FlushErrorState();	/* busy or gone: next time */
			AbortOutOfAnyTransaction();
		}
		PG_END_TRY();
	}
	list_free(tables);
}

/*
 * One step of WAL capture in the database worker (between route turns): a
 * no-op unless this database captures from WAL.  Errors are logged and
 * decoding restarts later from the slot.
 */
void
mesh_wal_capture_step(void)
{
	MemoryContext outer = CurrentMemoryContext;

	/*
	 * The events a step writes depend on settings (mesh.event_generation_size
	 * places them): a reload sent before a writer's commit applies to its
	 * events, even when it arrived during a route's turn.
	 */
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	if (decoding == NULL && (!wal_wanted() || GetCurrentTimestamp() < next_start))
		return;
	PG_TRY();
	{
		TimestampTz step_start;

		if (decoding == NULL)
			start_decoding();
		decode_step();
		step_start = GetCurrentTimestamp();
		switch_trigger_tables();
		mesh_log_if_slow(step_start, "moving tables to WAL capture");
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(outer);
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		mesh_wal_capture_stop(false);
		next_start = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), RETRY_START_MS);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(outer);
}

/* Whether a table of this database is captured from WAL (has routes, no trigger). */
static bool
wal_sources_exist(void)
{
	bool		exist;
	bool		isnull;

	SPI_connect();
	SPI_execute("SELECT EXISTS (SELECT 1 FROM mesh.route r WHERE NOT EXISTS"
				" (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = r.source"
				"  AND t.tgname = 'mesh_capture_insert'))", true, 1);
	exist = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return exist;
}

/*
 * The end of the WAL inserted so far.  At a page boundary the insert
 * position points past the next page's header, which is not written yet
 * (flushing up to it fails): then the end is the page's start.
 */
static XLogRecPtr
inserted_end(void)
{
	XLogRecPtr	p = GetXLogInsertRecPtr();

	if (XLogSegmentOffset(p, wal_segment_size) == SizeOfXLogLongPHD)
		return p - SizeOfXLogLongPHD;
	if (p % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		return p - SizeOfXLogShortPHD;
	return p;
}

/*
 * Wait until this database's worker has written into the event log every
 * change of a WAL-captured table committed before the call (in a
 * transaction); true at once when no table of the database is captured
 * from WAL or when called by the decoder itself, false after timeout_ms.
 */
bool
mesh_wal_wait_decoded(long timeout_ms)
{
	XLogRecPtr	target = inserted_end();
	TimestampTz start = GetCurrentTimestamp();
	XLogRecPtr	decoded;

	if (mesh_wal_spool != NULL || !wal_sources_exist())
		return true;
	XLogFlush(target);
	for (;;)
	{
		decoded = mesh_wal_decoded(MyDatabaseId);
		if (decoded != InvalidXLogRecPtr && decoded >= target)
			return true;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), timeout_ms))
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 WAIT_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

PG_FUNCTION_INFO_V1(mesh_wal_catch_up);

/* mesh_wal_wait_decoded for 60 s, else an error. */
void
mesh_wal_require_caught_up(void)
{
	if (!mesh_wal_wait_decoded(CATCH_UP_MS))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mesh's WAL capture did not catch up within %d s", CATCH_UP_MS / 1000),
				 errdetail("Switching a table from WAL capture, a schema change or mesh.resync of a table captured from WAL waits until the changes committed before it are in the event log."),
				 errhint("Check that the database worker runs (pg_stat_activity, the server log).")));
}

/* mesh._wal_catch_up() */
Datum
mesh_wal_catch_up(PG_FUNCTION_ARGS)
{
	mesh_wal_require_caught_up();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mesh_wal_register);

/*
 * mesh._wal_register(source, capture): from the transactions that commit
 * after the caller's, capture source from WAL (true) or stop (false).
 */
Datum
mesh_wal_register(PG_FUNCTION_ARGS)
{
	char		msg[16];

	snprintf(msg, sizeof(msg), "%c%u", PG_GETARG_BOOL(1) ? '+' : '-', PG_GETARG_OID(0));
	LogLogicalMessage(MESH_WAL_MESSAGE_PREFIX, msg, strlen(msg), true);
	PG_RETURN_VOID();
}
