/*
 * subscribe_worker.c: one process per subscription (mesh.subscribe),
 * applying the envelopes of a topic of a stream source (the server's
 * MeshStreamOps: Kafka today) to a local table.
 *
 * The consumer reads every partition of the topic from the next offset
 * recorded in mesh.subscription_offset (else the consumer group's
 * committed offset, else the topic's start or end as option start says).  Each round polls a batch of messages, then applies it in ONE
 * local transaction: per message, in a subtransaction, upsert (op c, u, r)
 * or delete (d) by primary key, or truncate (t); a message that fails
 * (malformed JSON, not an envelope, a value the table refuses) is rolled
 * back alone and recorded in mesh.subscription_error, and the stream goes
 * on.  The same transaction moves the partitions' next offsets, so a crash
 * neither skips nor re-applies a message; the source is acknowledged (for
 * Kafka: the consumer group's offsets) only after the local commit (for
 * monitoring and for a later subscription of the same group).  No
 * transaction is open while waiting for messages.
 *
 * Changes applied here are ordinary writes: when the table has routes,
 * mesh's capture triggers fan them out (hub A -> Kafka -> hub B -> B's
 * replicas).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mesh.h"
#include "mesh_util.h"
#include "subscribe.h"

PGDLLEXPORT void mesh_subscription_worker_main(Datum arg);

#define BATCH_MAX 500
#define IDLE_POLL_MS 1000
#define RECHECK_PARTITIONS_MS 10000

typedef struct Subscription
{
	char	   *server;
	char	   *topic;
	char	   *group;
	char	   *start;
	Oid			owner;
	char	   *upsert_sql;
	char	   *delete_sql;
	char	   *truncate_sql;
} Subscription;

typedef MeshStreamMessage Msg;

static int64 my_sub_id;
static int	failures = 0;

/* What lives as long as the consumer: reset to start again from the table. */
static MemoryContext consumer_cxt = NULL;
static const MeshStreamOps *ops = NULL;
static void *consumer = NULL;
static int	nparts = 0;
static int64 *next_offset = NULL;	/* per partition */
static struct timespec partitions_checked;

/* Close the consumer: the next round starts again from the table. */
static void
reset_consumer(void)
{
	if (consumer)
		ops->close(consumer);
	if (consumer_cxt)
		MemoryContextReset(consumer_cxt);	/* frees what close left */
	consumer = NULL;
	next_offset = NULL;
	nparts = 0;
}

static void
begin_xact(void)
{
	mesh_worker_begin_xact();
	if (!OidIsValid(get_extension_oid("mesh", true)))
		proc_exit(0);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/*
 * The subscription (SPI connected, in cxt), its row locked against a
 * concurrent unsubscribe; NULL when it is gone.  The statements that apply
 * envelopes are built from the table's current columns and primary key.
 */
static Subscription *
load_subscription(MemoryContext cxt)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(my_sub_id)};
	Subscription *s;
	Oid			into;
	bool		isnull;
	char	   *rel;
	StringInfoData cols,
				keys,
				sets;
	MemoryContext old;

	SPI_execute_with_args("SELECT server::text, topic, group_id, COALESCE(options->>'start', 'earliest'),"
						  " owner, into_table::oid,"
						  " (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c"
						  "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = into_table)"
						  " FROM mesh.subscription WHERE id = $1 FOR KEY SHARE",
						  1, types, values, NULL, false, 1);
	if (SPI_processed != 1)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	s = palloc0(sizeof(Subscription));
	s->server = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	s->topic = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	s->group = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	s->start = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	s->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	into = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));
	rel = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
	MemoryContextSwitchTo(old);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the table of subscription %lld was dropped", (long long) my_sub_id),
				 errhint("Remove the subscription with mesh.unsubscribe().")));

	types[0] = OIDOID;
	values[0] = ObjectIdGetDatum(into);
	SPI_execute_with_args("SELECT quote_ident(a.attname), a.attname = ANY (mesh._primary_key($1))"
						  " FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0"
						  " AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
						  1, types, values, NULL, false, 0);
	old = MemoryContextSwitchTo(cxt);
	initStringInfo(&cols);
	initStringInfo(&keys);
	initStringInfo(&sets);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		is_key = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));

		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "", name);
		if (is_key)
			appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", name);
		else
			appendStringInfo(&sets, "%s%s = EXCLUDED.%s", sets.len ? ", " : "", name, name);
	}
	if (keys.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table %s of subscription %lld has no primary key", rel, (long long) my_sub_id)));
	s->upsert_sql = psprintf("INSERT INTO %s (%s) SELECT %s FROM jsonb_populate_record(NULL::%s, $1)"
							 " ON CONFLICT (%s) DO %s%s",
							 rel, cols.data, cols.data, rel, keys.data,
							 sets.len ? "UPDATE SET " : "NOTHING", sets.data);
	s->delete_sql = psprintf("DELETE FROM %s WHERE (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, $1))",
							 rel, keys.data, keys.data, rel);
	s->truncate_sql = psprintf("TRUNCATE %s", rel);
	MemoryContextSwitchTo(old);
	return s;
}

/*
 * Start reading every partition at its next offset (file comment),
 * recording the start of new partitions so wait_for_subscription knows
 * where they begin.
 */
static void
assign_partitions(Subscription *s)
{
	MemoryContext old = MemoryContextSwitchTo(consumer_cxt);
	Oid			types[3] = {INT8OID, INT4OID, INT8OID};
	bool	   *known;

	nparts = ops->partitions(consumer);
	if (nparts < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("topic \"%s\" does not exist (yet) on server \"%s\"", s->topic, s->server),
				 errhint("The subscription waits for it.")));
	next_offset = palloc(sizeof(int64) * Max(nparts, 1));
	known = palloc0(sizeof(bool) * Max(nparts, 1));
	MemoryContextSwitchTo(old);

	begin_xact();
	{
		Datum		values[1] = {Int64GetDatum(my_sub_id)};

		SPI_execute_with_args("SELECT partition, next_offset FROM mesh.subscription_offset"
							  " WHERE subscription = $1", 1, types, values, NULL, false, 0);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int32		p = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

			if (p >= 0 && p < nparts)
			{
				next_offset[p] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
				known[p] = true;
			}
		}
	}
	mesh_worker_spi_commit();

	/* partitions new to the table: the group's committed offset, else start */
	ops->start(consumer, nparts, next_offset, known, s->start);

	begin_xact();
	for (int p = 0; p < nparts; p++)
	{
		Datum		values[3] = {Int64GetDatum(my_sub_id), Int32GetDatum(p), Int64GetDatum(next_offset[p])};

		if (!known[p])
			SPI_execute_with_args("INSERT INTO mesh.subscription_offset (subscription, partition, next_offset)"
								  " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
								  3, types, values, NULL, false, 0);
	}
	mesh_worker_spi_commit();
	mesh_now(&partitions_checked);
}

/* A member of an envelope: an object (as Jsonb) or NULL when absent/null. */
static Jsonb *
member_object(Jsonb *env, const char *name)
{
	JsonbValue	vbuf;
	JsonbValue *v = getKeyJsonValueFromContainer(&env->root, name, strlen(name), &vbuf);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("envelope member \"%s\" is not a JSON object", name)));
	return JsonbValueToJsonb(v);
}

/* Apply one message (errors are the caller's to record). */
static void
apply_message(Subscription *s, SPIPlanPtr upsert, SPIPlanPtr delete, Msg *m)
{
	Jsonb	   *env;
	JsonbValue	vbuf;
	JsonbValue *op;
	Jsonb	   *row;
	Datum		arg[1];
	char	   *opname;

	if (m->value == NULL)
		return;					/* a tombstone (compaction marker): nothing to do */
	if (memchr(m->value, '\0', m->value_len) != NULL ||
		!pg_verifymbstr(m->value, m->value_len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("message value is not text in the database encoding")));
	env = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(m->value)));
	if (!JB_ROOT_IS_OBJECT(env) || JB_ROOT_IS_SCALAR(env))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message value is not a JSON object (not a mesh envelope)")));
	op = getKeyJsonValueFromContainer(&env->root, "op", 2, &vbuf);
	if (op == NULL || op->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("envelope has no \"op\" string"),
				 errhint("Expected a Debezium-style envelope: {\"before\", \"after\", \"op\": \"c|u|d|r|t\", ...}.")));
	opname = pnstrdup(op->val.string.val, op->val.string.len);
	if (strcmp(opname, "c") == 0 || strcmp(opname, "u") == 0 || strcmp(opname, "r") == 0)
	{
		row = member_object(env, "after");
		if (row == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("envelope with op \"%s\" has no \"after\" row", opname)));
		arg[0] = JsonbPGetDatum(row);
		if (SPI_execute_plan(upsert, arg, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "upsert failed");
	}
	else if (strcmp(opname, "d") == 0)
	{
		row = member_object(env, "before");
		if (row == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("envelope with op \"d\" has no \"before\" key")));
		arg[0] = JsonbPGetDatum(row);
		if (SPI_execute_plan(delete, arg, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "delete failed");
	}
	else if (strcmp(opname, "t") == 0)
	{
		if (SPI_execute(s->truncate_sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "truncate failed");
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown envelope op \"%s\"", opname),
				 errhint("Known ops: c (create), u (update), r (read), d (delete), t (truncate).")));
}

/* Record a message that could not be applied (SPI connected). */
static void
record_error(Msg *m, const char *error)
{
	Oid			types[6] = {INT8OID, INT4OID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', m->key ? ' ' : 'n', ' ', ' '};
	char	   *value = m->value ? m->value : "";

	/* keep what PostgreSQL text can hold */
	if (memchr(value, '\0', m->value_len) != NULL || !pg_verifymbstr(value, m->value_len, true))
		value = "(not valid text)";
	if (m->key && !pg_verifymbstr(m->key, strlen(m->key), true))
		m->key = "(not valid text)";
	values[0] = Int64GetDatum(my_sub_id);
	values[1] = Int32GetDatum(m->partition);
	values[2] = Int64GetDatum(m->offset);
	values[3] = m->key ? CStringGetTextDatum(m->key) : (Datum) 0;
	values[4] = CStringGetTextDatum(value);
	values[5] = CStringGetTextDatum(error);
	SPI_execute_with_args("INSERT INTO mesh.subscription_error"
						  " (subscription, partition, \"offset\", key, value, error)"
						  " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (subscription, partition, \"offset\")"
						  " DO UPDATE SET error = EXCLUDED.error, failed_at = now()",
						  6, types, values, nulls, false, 0);
}

/* Apply msgs[0..n) in one transaction; false when the subscription is gone. */
static bool
apply_batch(MemoryContext cxt, Msg *msgs, int n)
{
	Subscription *s;
	SPIPlanPtr	upsert,
				delete;
	Oid			jsonb_type[1] = {JSONBOID};
	int64	   *applied = palloc0(sizeof(int64) * nparts);
	bool	   *touched = palloc0(sizeof(bool) * nparts);
	MeshUserSave save;

	begin_xact();
	s = load_subscription(cxt);
	if (s == NULL)
	{
		mesh_worker_spi_commit();
		return false;
	}
	/* the table is written as the subscription's owner (its privileges, its RLS) */
	mesh_become(s->owner, &save);
	upsert = SPI_prepare(s->upsert_sql, 1, jsonb_type);
	delete = SPI_prepare(s->delete_sql, 1, jsonb_type);
	mesh_restore_user(&save);
	if (upsert == NULL || delete == NULL)
		elog(ERROR, "could not prepare the statements of subscription %lld", (long long) my_sub_id);
	for (int i = 0; i < n; i++)
	{
		Msg		   *m = &msgs[i];
		MemoryContext old = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;

		if (m->partition < 0 || m->partition >= nparts || m->offset < next_offset[m->partition])
			continue;			/* applied already (a re-delivery) */
		BeginInternalSubTransaction(NULL);
		PG_TRY();
		{
			mesh_become(s->owner, &save);	/* an error resets it (subtransaction abort) */
			apply_message(s, upsert, delete, m);
			mesh_restore_user(&save);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(old);
			CurrentResourceOwner = owner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(old);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(old);
			CurrentResourceOwner = owner;
			record_error(m, edata->message);
		}
		PG_END_TRY();
		next_offset[m->partition] = m->offset + 1;
		applied[m->partition]++;
		touched[m->partition] = true;
	}
	for (int p = 0; p < nparts; p++)
		if (touched[p])
		{
			Oid			types[4] = {INT8OID, INT4OID, INT8OID, INT8OID};
			Datum		values[4] = {Int64GetDatum(my_sub_id), Int32GetDatum(p),
			Int64GetDatum(next_offset[p]), Int64GetDatum(applied[p])};

			SPI_execute_with_args("UPDATE mesh.subscription_offset SET next_offset = $3,"
								  " applied = applied + $4, updated_at = now()"
								  " WHERE subscription = $1 AND partition = $2",
								  4, types, values, NULL, false, 0);
		}
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(my_sub_id)};

		SPI_execute_with_args("UPDATE mesh.subscription SET last_error = NULL"
							  " WHERE id = $1 AND last_error IS NOT NULL",
							  1, types, values, NULL, false, 0);
	}
	mesh_worker_spi_commit();

	/* committed locally: acknowledge to the source (best effort) */
	ops->commit(consumer, nparts, next_offset, touched);
	return true;
}

/* One round: (re)assign if needed, poll a batch, apply it. */
static bool
run_round(MemoryContext cxt)
{
	Subscription *s;
	Msg		   *msgs;
	int			n;

	if (consumer == NULL)
	{
		begin_xact();
		s = load_subscription(cxt);
		if (s == NULL)
		{
			mesh_worker_spi_commit();
			proc_exit(0);		/* unsubscribed */
		}
		{
			ForeignServer *fs = GetForeignServerByName(s->server, false);
			MeshServerConfig *config = mesh_server_config(fs->serverid, s->owner);
			MemoryContext old = MemoryContextSwitchTo(consumer_cxt);

			ops = mesh_stream_ops(config);
			consumer = ops->open(config, s->topic, s->group);
			MemoryContextSwitchTo(old);
		}
		mesh_worker_spi_commit();
		MemoryContextSwitchTo(cxt);
		assign_partitions(s);
	}
	MemoryContextSwitchTo(cxt);
	msgs = palloc(sizeof(Msg) * BATCH_MAX);
	n = ops->poll(consumer, msgs, BATCH_MAX, IDLE_POLL_MS);
	if (!apply_batch(cxt, msgs, n))
		proc_exit(0);			/* unsubscribed */
	if (n == 0 && mesh_elapsed_ms(&partitions_checked) > RECHECK_PARTITIONS_MS)
	{
		/* partitions added to the topic: start again to assign them too */
		begin_xact();
		s = load_subscription(cxt);
		mesh_worker_spi_commit();
		if (s != NULL && ops->partitions(consumer) != nparts)
			reset_consumer();
		mesh_now(&partitions_checked);
	}
	return n > 0;
}

static void
record_failure(const char *error)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(my_sub_id), CStringGetTextDatum(error)};

	begin_xact();
	SPI_execute_with_args("UPDATE mesh.subscription SET last_error = $2, last_error_at = now()"
						  " WHERE id = $1", 2, types, values, NULL, false, 0);
	mesh_worker_spi_commit();
}

void
mesh_subscription_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	MemoryContext round_cxt;

	memcpy(&my_sub_id, MyBgworkerEntry->bgw_extra, sizeof(my_sub_id));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	if (!mesh_register_worker(dboid, MESH_SUBSCRIPTION_SLOT_BASE + my_sub_id))
		proc_exit(0);
	pgstat_report_appname(psprintf("mesh subscription %lld", (long long) my_sub_id));
	round_cxt = AllocSetContextCreate(TopMemoryContext, "mesh subscription round",
									  ALLOCSET_DEFAULT_SIZES);
	consumer_cxt = AllocSetContextCreate(TopMemoryContext, "mesh subscription consumer",
										 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		bool		failed = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(round_cxt);
		MemoryContextSwitchTo(round_cxt);
		PG_TRY();
		{
			(void) run_round(round_cxt);
		}
		PG_CATCH();
		{
			/* the log and the subscription's last_error: no row values */
			char	   *error = mesh_worker_take_error(round_cxt);

			ereport(LOG,
					(errmsg("mesh: subscription %lld: %s", (long long) my_sub_id, error)));
			/* polled but unapplied messages: start again from the table's offsets */
			reset_consumer();
			PG_TRY();
			{
				record_failure(error);
			}
			PG_CATCH();
			{
				FlushErrorState();
				AbortOutOfAnyTransaction();
			}
			PG_END_TRY();
			failed = true;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(TopMemoryContext);
		if (failed)
		{
			/* exponential backoff with jitter: 100 ms doubling up to 10 s */
			double		ms = Min(100 * pow(2.0, Min(failures, 20)), 10000);

			failures++;
			pgstat_report_activity(STATE_IDLE, NULL);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 (long) (ms * (0.5 + 0.5 * pg_prng_double(&pg_global_prng_state))),
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		else
			failures = 0;
	}
}
