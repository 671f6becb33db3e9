/*
 * object_sink.c: the lake sink of every object store that writes
 * (object_store.h): mesh.replicate(table, server, '{"path": "orders/"}')
 * archives the table's changes as objects.
 *
 * Route options: path (the objects' prefix; default "<schema>.<table>/"),
 * bucket (else the server's), format (jsonl | parquet), mode (changes)
 * and partition_by (none | day).  The sink runs on the engine with
 * keep_every_change: every event is one line of the change envelope
 * (change_envelope.c, the Kafka sink's), in order; or, for parquet, one
 * row of op, event_id, xid, ts_ms and key, before, after as JSON (the
 * envelope's parts), written as CSV and turned into Parquet by DuckDB at
 * the batch's end (object_parquet.c).  A delivery batch becomes, at its
 * end, one object per partition,
 *
 *   <path>[dt=YYYY-MM-DD/]<first event id>-<last event id>.jsonl (.parquet)
 *
 * (ids zero-padded to 20 digits, so names sort by id; day partitions by
 * capture day in UTC, a backfill row's by the day it is written), then its
 * manifest entry <path>_manifest/<first>-<last>.json listing them.  The
 * rows a route's copy (backfill) delivers have no event id: their batches
 * are named backfill-<write time in microseconds>-<pid> instead, so no two
 * share a name; a reader orders them before every change (the copy's
 * snapshot precedes the changes delivered after it).  Nothing
 * is acknowledged before every PUT of the batch returned: a failed batch is
 * delivered again from its first unacknowledged event, under the same
 * first id, so a retry rewrites the same names or adds a wider range; a
 * reader keeps, per key, the change with the highest event_id.  Each object
 * goes through object_write.c (one PUT, or a multipart upload).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "change_envelope.h"
#include "object_parquet.h"

#define LAKE_PART_SIZE (64 * 1024 * 1024)	/* a batch is held whole anyway: one PUT */

/* The objects of one partition within the batch under way. */
typedef struct LakePart
{
	char	   *partition;		/* "" or "dt=2026-12-08/" */
	StringInfoData lines;		/* envelope lines, or CSV rows for Parquet */
	int64		first;
	int64		last;
	int64		events;
	int64		longest;		/* Parquet: the longest CSV row */
} LakePart;

static void
bad_route_option(MeshRoute *route, const char *name, const char *value, const char *allowed)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for route option \"%s\" of target \"%s\": \"%s\"",
					name, route->target, value),
			 errhint("%s", allowed)));
}

/* The route's lake settings, checked (cached in route->private). */
MeshLake *
mesh_lake_of(MeshRoute *route)
{
	MeshLake   *lake = route->private;
	const MeshObjectStore *store = route->config->connector->object_store;
	const char *v;
	MemoryContext old;

	if (lake != NULL)
		return lake;
	old = MemoryContextSwitchTo(route->cxt);
	lake = palloc0(sizeof(MeshLake));
	lake->store = store;
	lake->bucket = mesh_route_option(route, store->bucket_word,
									 mesh_config_get(route->config, store->bucket_word, NULL));
	if (lake->bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target \"%s\" names no %s for the lake of %s", route->target,
						store->bucket_word, route->source_name),
				 errhint("Set the server's option %s, or the route option \"%s\".",
						 store->bucket_word, store->bucket_word)));
	v = mesh_route_option(route, "path", psprintf("%s.%s/", route->source_schema, route->source_name));
	lake->path = v[0] == '\0' || v[strlen(v) - 1] == '/' ? pstrdup(v) : psprintf("%s/", v);
	if (lake->path[0] == '/' || strstr(lake->path, "//") != NULL)
		bad_route_option(route, "path", v, "A path is a key prefix such as \"orders/\" (no leading or double slash).");
	v = mesh_route_option(route, "format", "jsonl");
	if (strcmp(v, "jsonl") != 0 && strcmp(v, "parquet") != 0)
		bad_route_option(route, "format", v, "The lake writes jsonl (the change envelope per line) or parquet.");
	lake->parquet = strcmp(v, "parquet") == 0;
	v = mesh_route_option(route, "mode", "changes");
	if (strcmp(v, "changes") != 0)
		bad_route_option(route, "mode", v, "The lake's mode is changes; snapshot is not built yet.");
	v = mesh_route_option(route, "partition_by", "none");
	if (strcmp(v, "none") != 0 && strcmp(v, "day") != 0)
		bad_route_option(route, "partition_by", v, "partition_by is none or day.");
	lake->by_day = strcmp(v, "day") == 0;
	lake->batch_cxt = AllocSetContextCreate(route->cxt, "mesh lake batch", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(old);
	route->private = lake;
	return lake;
}

/* Sink prepare, at mesh.replicate: options, and a one-key listing of the path. */
static void
lake_prepare(void *conn, MeshRoute *route)
{
	MeshLake   *lake = mesh_lake_of(route);
	MeshObjectListing listing = {.bucket = lake->bucket, .prefix = lake->path, .page_size = 1};
	MeshObjectPage page;

	if (lake->store->put == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s servers cannot be written by mesh yet", lake->store->label)));
	lake->store->list_page(conn, &listing, &page);
}

/* "dt=YYYY-MM-DD/" of ev's capture day in UTC (now for a backfill row), or "". */
static char *
partition_of(MeshLake *lake, MeshEvent *ev)
{
	TimestampTz t = ev->captured_at != 0 ? ev->captured_at : GetCurrentTimestamp();
	struct pg_tm tm;
	fsec_t		fsec;

	if (!lake->by_day)
		return "";
	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "mesh lake: capture time out of range");
	return psprintf("dt=%04d-%02d-%02d/", tm.tm_year, tm.tm_mon, tm.tm_mday);
}

static LakePart *
part_for(MeshLake *lake, const char *partition)
{
	ListCell   *lc;
	LakePart   *p;

	foreach(lc, lake->parts)
	{
		p = lfirst(lc);
		if (strcmp(p->partition, partition) == 0)
			return p;
	}
	p = palloc0(sizeof(LakePart));
	p->partition = pstrdup(partition);
	initStringInfo(&p->lines);
	lake->parts = lappend(lake->parts, p);
	return p;
}

static void
lake_begin_batch(void *conn, MeshRoute *route, int nevents)
{
	MeshLake   *lake = mesh_lake_of(route);

	MemoryContextReset(lake->batch_cxt);
	lake->parts = NIL;
	lake->first = lake->last = 0;
}

/*
 * One event as a CSV row of the lake's Parquet columns (PARQUET_NAMES):
 * an empty unquoted field is NULL.
 */
static void
append_parquet_row(StringInfo buf, MeshRoute *route, MeshEvent *ev)
{
	StringInfoData json;

	initStringInfo(&json);
	appendStringInfo(buf, "%s," INT64_FORMAT ",", mesh_change_op(ev), ev->id);
	if (ev->xid != 0)
		appendStringInfo(buf, INT64_FORMAT, ev->xid);
	appendStringInfoChar(buf, ',');
	if (ev->captured_at != 0)
		appendStringInfo(buf, INT64_FORMAT, ev->captured_at / 1000 + MESH_UNIX_EPOCH_MS);
	for (int part = 0; part < 3; part++)
	{
		/* key (none for a truncate), before (a delete's key), after (c, u, r) */
		bool		present = part == 0 ? ev->op != 'T' :
			part == 1 ? ev->op == 'D' : ev->op == 'I' || ev->op == 'U';

		appendStringInfoChar(buf, ',');
		if (!present)
			continue;
		resetStringInfo(&json);
		mesh_change_row(&json, route, ev, part < 2);
		mesh_object_csv_field(buf, json.data, ',');
	}
	appendStringInfoChar(buf, '\n');
	pfree(json.data);
}

/* Sink upsert (keep_every_change): each event one line; acknowledged at end_batch. */
static void
lake_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	MeshLake   *lake = mesh_lake_of(route);
	MemoryContext old = MemoryContextSwitchTo(lake->batch_cxt);

	for (int i = 0; i < n; i++)
	{
		MeshEvent  *ev = (MeshEvent *) rows[i].event;
		LakePart   *p = part_for(lake, partition_of(lake, ev));

		if (lake->parquet)
		{
			int			before = p->lines.len;

			append_parquet_row(&p->lines, route, ev);
			p->longest = Max(p->longest, p->lines.len - before);
		}
		else
		{
			mesh_change_envelope(&p->lines, route, ev);
			appendStringInfoChar(&p->lines, '\n');
		}
		if (p->events++ == 0)
			p->first = ev->id;
		p->last = ev->id;
		if (lake->first == 0)
			lake->first = ev->id;
		lake->last = ev->id;
		out[i].status = MESH_ITEM_ACKED;	/* provisional until end_batch */
	}
	MemoryContextSwitchTo(old);
}

static void
write_body(MeshObjectWriter *w, void *body)
{
	mesh_object_write(w, ((StringInfo) body)->data, ((StringInfo) body)->len);
}

/* Write one object whole through the shared writer; its size. */
static int64
write_object(void *conn, MeshLake *lake, const char *key, StringInfo body, const char *type)
{
	MeshObjectWriter *w = mesh_object_writer_begin(lake->store, conn, lake->bucket, key, type,
												   LAKE_PART_SIZE);

	mesh_object_write_guarded(w, write_body, body);
	return w->bytes;
}

/* A partition's rows on their way to Parquet (freed also on error). */
typedef struct LakeParquet
{
	LakePart   *part;
	ObjTempFile csv;
	ObjTempFile parquet;
	ObjDuck    *duck;
} LakeParquet;

/* The lake's Parquet columns and their DuckDB types. */
static char *parquet_names[] = {"op", "event_id", "xid", "ts_ms", "key", "before", "after"};
static const char *parquet_types[] = {
	"VARCHAR", "BIGINT", "BIGINT", "BIGINT", "JSON", "JSON", "JSON"
};

/* Its temporary files and DuckDB, done with. */
static void
lake_parquet_free(LakeParquet *lp)
{
	obj_duck_close(lp->duck);
	obj_temp_close(&lp->csv);
	obj_temp_close(&lp->parquet);
}

/*
 * A partition's CSV rows into a temporary file, to Parquet, uploaded (a
 * fill).  The files are deleted whatever happens: the delivery worker
 * runs outside a transaction, so nothing else would before it exits.
 */
static void
write_parquet_body(MeshObjectWriter *w, void *arg)
{
	LakeParquet *lp = arg;

	PG_TRY();
	{
		obj_temp_open(&lp->csv);
		obj_temp_write(&lp->csv, lp->part->lines.data, lp->part->lines.len);
		obj_temp_open(&lp->parquet);
		lp->duck = obj_parquet_from_csv(NULL, &lp->csv, lp->part->events, lp->part->longest,
										lengthof(parquet_names), parquet_names, parquet_types,
										&lp->parquet, "the lake");
		obj_temp_close(&lp->csv);
		obj_temp_upload(lp->parquet.path, w);
	}
	PG_CATCH();
	{
		lake_parquet_free(lp);
		PG_RE_THROW();
	}
	PG_END_TRY();
	lake_parquet_free(lp);
}

/* Write a partition's events as one Parquet object; its size. */
static int64
write_parquet_object(void *conn, MeshLake *lake, const char *key, LakePart *p)
{
	MeshObjectWriter *w = mesh_object_writer_begin(lake->store, conn, lake->bucket, key,
												   OBJ_PARQUET_CONTENT_TYPE, LAKE_PART_SIZE);
	LakeParquet *lp = palloc0(sizeof(LakeParquet));

	lp->part = p;
	lp->csv.file = lp->parquet.file = -1;
	mesh_object_write_guarded(w, write_parquet_body, lp);
	return w->bytes;
}

/* The batch's objects, then its manifest entry; nothing on failure (ok false). */
static void
lake_end_batch(void *conn, MeshRoute *route, bool ok)
{
	MeshLake   *lake = mesh_lake_of(route);
	MemoryContext old;
	StringInfoData manifest;
	ListCell   *lc;
	char	   *backfill_name;

	if (!ok || lake->parts == NIL)
	{
		MemoryContextReset(lake->batch_cxt);
		lake->parts = NIL;
		return;
	}
	old = MemoryContextSwitchTo(lake->batch_cxt);
	/* a backfill batch's rows have no event id: its objects are named by when */
	backfill_name = lake->last == 0 ?
		psprintf("backfill-" INT64_FORMAT "-%d", (int64) GetCurrentTimestamp(), MyProcPid) : NULL;
	initStringInfo(&manifest);
	appendStringInfo(&manifest, "{\"first_event_id\":" INT64_FORMAT ",\"last_event_id\":" INT64_FORMAT
					 ",\"objects\":[", lake->first, lake->last);
	foreach(lc, lake->parts)
	{
		LakePart   *p = lfirst(lc);
		const char *ext = lake->parquet ? "parquet" : "jsonl";
		char	   *key = backfill_name ?
			psprintf("%s%s%s.%s", lake->path, p->partition, backfill_name, ext) :
			psprintf("%s%s%020lld-%020lld.%s", lake->path, p->partition,
					 (long long) p->first, (long long) p->last, ext);
		int64		bytes = lake->parquet ? write_parquet_object(conn, lake, key, p) :
			write_object(conn, lake, key, &p->lines, "application/x-ndjson");

		appendStringInfoString(&manifest, foreach_current_index(lc) ? ",{\"key\":" : "{\"key\":");
		escape_json(&manifest, key);
		appendStringInfo(&manifest, ",\"first_event_id\":" INT64_FORMAT ",\"last_event_id\":" INT64_FORMAT
						 ",\"events\":" INT64_FORMAT ",\"bytes\":" INT64_FORMAT "}",
						 p->first, p->last, p->events, bytes);
	}
	appendStringInfoString(&manifest, "]}\n");
	write_object(conn, lake,
				 backfill_name ? psprintf("%s_manifest/%s.json", lake->path, backfill_name) :
				 psprintf("%s_manifest/%020lld-%020lld.json", lake->path,
						  (long long) lake->first, (long long) lake->last),
				 &manifest, "application/json");
	MemoryContextSwitchTo(old);
	MemoryContextReset(lake->batch_cxt);
	lake->parts = NIL;
}

const MeshSinkOps mesh_object_sink_ops = {
	.keep_every_change = true,
	.prepare = lake_prepare,
	.upsert = lake_upsert,
	.begin_batch = lake_begin_batch,
	.end_batch = lake_end_batch,
};
