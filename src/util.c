/*
 * util.c: small helpers shared by the core and the connectors.
 */
#include "postgres.h"

#include <time.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/bytea.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mesh.h"
#include "mesh_util.h"

/* A Datum of type typid in its text form. */
char *
mesh_datum_text(Datum value, Oid typid)
{
	Oid			out;
	bool		isvarlena;

	getTypeOutputInfo(typid, &out, &isvarlena);
	return OidOutputFunctionCall(out, value);
}

/* The current monotonic time. */
void
mesh_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

/* Milliseconds since start. */
double
mesh_elapsed_ms(struct timespec *start)
{
	struct timespec now;

	mesh_now(&now);
	return (now.tv_sec - start->tv_sec) * 1000.0 +
		(now.tv_nsec - start->tv_nsec) / 1000000.0;
}

/*
 * s (len bytes) quoted for display in EXPLAIN: bare when it is plain
 * printable text without spaces or quotes, else in double quotes with
 * redis-cli style escapes (\n, \", \\, \xHH).
 */
char *
mesh_quote_display(const char *s, size_t len)
{
	StringInfoData buf;
	bool		plain = len > 0;

	for (size_t i = 0; i < len && plain; i++)
	{
		unsigned char c = s[i];

		if (c <= ' ' || c == '"' || c == '\'' || c == '\\' || c == 0x7f)
			plain = false;
	}
	if (plain)
		return pnstrdup(s, len);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			appendStringInfo(&buf, "\\%c", c);
		else if (c == '\n')
			appendStringInfoString(&buf, "\\n");
		else if (c == '\r')
			appendStringInfoString(&buf, "\\r");
		else if (c == '\t')
			appendStringInfoString(&buf, "\\t");
		else if (c < ' ' || c == 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, c);
	}
	appendStringInfoChar(&buf, '"');
	return buf.data;
}

/*
 * Append s (len bytes) in double quotes, escaping quote, backslash, \n, \r
 * and \t with a backslash and any other control byte with ctrl_format
 * (e.g. "\\u%04x" for JSON, "\\x%02x" for PromQL); DEL too when
 * escape_del.
 */
void
mesh_append_dquoted(StringInfo buf, const char *s, size_t len, const char *ctrl_format,
					bool escape_del)
{
	size_t		run = 0;		/* start of the characters appended as they are */

	appendStringInfoChar(buf, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c >= 0x20 && c != '"' && c != '\\' && !(escape_del && c == 0x7f))
			continue;
		appendBinaryStringInfo(buf, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\')
			appendStringInfo(buf, "\\%c", c);
		else if (c == '\n')
			appendStringInfoString(buf, "\\n");
		else if (c == '\r')
			appendStringInfoString(buf, "\\r");
		else if (c == '\t')
			appendStringInfoString(buf, "\\t");
		else
			appendStringInfo(buf, ctrl_format, c);
	}
	appendBinaryStringInfo(buf, s + run, len - run);
	appendStringInfoChar(buf, '"');
}

/*
 * The settings under which values are turned into the text forms mesh
 * sends to other servers and compares in verify, whatever the session's
 * own: ISO dates, postgres intervals, UTC, shortest-exact floats, hex
 * bytea.  mesh_canonical_output_begin applies the ones that differ for
 * the current transaction and returns the GUC nest level to hand to
 * mesh_canonical_output_end (-1 when nothing differed); an error in
 * between is undone by the transaction's abort.  Background workers
 * call mesh_canonical_output_session once instead.
 */
typedef struct CanonicalSetting
{
	const char *name;
	const char *value;
} CanonicalSetting;

static const CanonicalSetting canonical_settings[] = {
	{"datestyle", "ISO"},
	{"intervalstyle", "postgres"},
	{"timezone", "UTC"},
	{"extra_float_digits", "1"},
	{"bytea_output", "hex"},
};

/* Does the session already produce setting i's canonical form? */
static bool
canonical_already(int i)
{
	const char *tz;

	switch (i)
	{
		case 0:
			return DateStyle == USE_ISO_DATES;
		case 1:
			return IntervalStyle == INTSTYLE_POSTGRES;
		case 2:
			tz = session_timezone ? pg_get_timezone_name(session_timezone) : NULL;
			return tz && (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0);
		case 3:
			return extra_float_digits > 0;
		default:
			return bytea_output == BYTEA_OUTPUT_HEX;
	}
}

int
mesh_canonical_output_begin(void)
{
	int			nest = -1;

	for (int i = 0; i < lengthof(canonical_settings); i++)
	{
		if (canonical_already(i))
			continue;
		if (nest < 0)
			nest = NewGUCNestLevel();
		(void) set_config_option(canonical_settings[i].name, canonical_settings[i].value,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}
	return nest;
}

void
mesh_canonical_output_end(int nest)
{
	if (nest >= 0)
		AtEOXact_GUC(true, nest);
}

void
mesh_canonical_output_session(void)
{
	for (int i = 0; i < lengthof(canonical_settings); i++)
		SetConfigOption(canonical_settings[i].name, canonical_settings[i].value,
						PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * Start a transaction in a background worker.  Nothing else sets the
 * statement start time there, and a transaction's now() is that time: set
 * it first, or now() stays at the worker's start.
 */
void
mesh_worker_begin_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
}

/* A worker's transaction with SPI connected and a fresh snapshot pushed. */
void
mesh_worker_spi_begin(void)
{
	mesh_worker_begin_xact();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/* Commit what mesh_worker_spi_begin started. */
void
mesh_worker_spi_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * In a background worker's PG_CATCH: the error, flushed, every transaction
 * aborted, its message redacted (for the log and mesh's views: no row
 * values), allocated in cxt.
 */
char *
mesh_worker_take_error(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortOutOfAnyTransaction();
	return mesh_redact_edata(edata);
}

/*
 * Work a delivery worker does while a connector waits for its target's
 * answer (the route worker reads its next chunk: route_worker.c).  A
 * connector calls mesh_run_wait_work once its request is sent whole; the
 * work runs at most once per mesh_set_wait_work, must not ereport, and
 * leaves CurrentMemoryContext as it found it.
 */
static void (*wait_work) (void *arg) = NULL;
static void *wait_work_arg;
static bool wait_work_running = false;

void
mesh_set_wait_work(void (*work) (void *arg), void *arg)
{
	wait_work = work;
	wait_work_arg = arg;
}

/* Run the pending wait work, if any; true if some ran. */
bool
mesh_run_wait_work(void)
{
	void		(*work) (void *arg) = wait_work;

	if (work == NULL)
		return false;
	wait_work = NULL;
	wait_work_running = true;
	PG_TRY();
	{
		work(wait_work_arg);
	}
	PG_FINALLY();
	{
		wait_work_running = false;
	}
	PG_END_TRY();
	return true;
}

/*
 * Is wait work running?  Then the connection in use belongs to the request
 * being waited for, outside any transaction, not to the work's own
 * transaction: its end must leave it alone (connection.c).
 */
bool
mesh_wait_work_running(void)
{
	return wait_work_running;
}

/*
 * Relcache callback for a hash of per-relation entries that begin with
 * MeshRelEntry (arg: the address of the HTAB pointer): marks relid's entry,
 * or every entry for InvalidOid, invalid.
 */
void
mesh_rel_entries_invalidate(Datum arg, Oid relid)
{
	HTAB	   *hash = *(HTAB **) DatumGetPointer(arg);
	HASH_SEQ_STATUS scan;
	MeshRelEntry *e;

	hash_seq_init(&scan, hash);
	while ((e = hash_seq_search(&scan)) != NULL)
		if (relid == InvalidOid || e->relid == relid)
			e->valid = false;
}

/* mesh.log_slow_steps: LOG a worker's step that ran longer than the setting. */
void
mesh_log_if_slow(TimestampTz start, const char *step)
{
	long		ms;

	if (mesh_log_slow_steps_ms <= 0)
		return;
	ms = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
	if (ms >= mesh_log_slow_steps_ms)
		ereport(LOG, (errmsg("mesh: slow step: %s took %ld ms", step, ms)));
}
