/*
 * object_verify.c: mesh.verify of a lake route (object_sink.c): the
 * table's state is rebuilt from the archive and compared like any replica.
 *
 * The manifest entries under <path>_manifest/ name the data objects; each
 * is read whole (one delivery batch) and its envelope lines are parsed by
 * PostgreSQL's own jsonb (numbers stay exact), in one SPI query per object.
 * A Parquet object (.parquet) is fetched into a temporary file and its rows
 * read by DuckDB (object_parquet.c) into the same lines first.
 * Per key the change with the highest event id wins (copied rows have id
 * 0; of equal ids the one read last, and manifest entries are read in name
 * order: a later backfill after an earlier one, both before the changes
 * that follow them); a truncate drops every change before it; a delete
 * leaves no row.  The rebuilt state is held in
 * a hash table for the verify's duration (memory grows with the number of
 * keys in the archive).  fetch_rows answers from it, scan_keys walks it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "object_parquet.h"

#define LAKE_READ_CHUNK (4 * 1024 * 1024)

/* One key's last change in the archive. */
typedef struct ArchiveRow
{
	char	   *key;			/* hash key: the key columns' texts joined by \x1f */
	int64		event_id;
	bool		deleted;
	char	  **values;			/* aligned with route->columns */
} ArchiveRow;

typedef struct KeyWalk
{
	HASH_SEQ_STATUS seq;
	bool		done;
} KeyWalk;

/* The archive's hash is keyed by a pointer to the key text. */
static uint32
key_hash(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return string_hash(s, strlen(s) + 1);
}

static int
key_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The hash key of a row's key column texts. */
static char *
join_key(MeshRoute *route, char **texts)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < route->nkeys; k++)
	{
		if (k > 0)
			appendStringInfoChar(&buf, '\x1f');
		appendStringInfoString(&buf, texts[k] ? texts[k] : "");
	}
	return buf.data;
}

/* Every object of the listing under prefix, in key order. */
static List *
list_keys(void *conn, MeshLake *lake, const char *prefix)
{
	List	   *keys = NIL;
	char	   *token = NULL;

	do
	{
		MeshObjectListing listing = {.bucket = lake->bucket, .prefix = prefix, .token = token};
		MeshObjectPage page;

		lake->store->list_page(conn, &listing, &page);
		for (int i = 0; i < page.n; i++)
			keys = lappend(keys, pstrdup(page.objects[i].key));
		token = page.next_token;
	} while (token != NULL);
	return keys;
}

static char *
get_whole(void *conn, MeshLake *lake, const char *key)
{
	MeshHttpResponse resp;

	if (!lake->store->get(conn, lake->bucket, key, 0, -1, &resp))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the lake's manifest names object \"%s\", which does not exist", key)));
	return resp.body.data;
}

/* Append the JSON cell col of r (SQL NULL: null). */
static void
append_json_cell(StringInfo buf, ObjPqRows *r, int col)
{
	uint32_t	len;
	char	   *s = obj_pq_cell(r, col, &len);

	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		appendBinaryStringInfo(buf, s, len);
}

/*
 * A Parquet lake object's rows as envelope lines (what fold_object reads:
 * op, source.event_id, before, after).  *duck: DuckDB, opened at the first.
 */
static char *
parquet_lines(void *conn, MeshLake *lake, const char *key, ObjDuck **duck)
{
	ObjTempFile *t = palloc0(sizeof(ObjTempFile));
	StringInfoData lines;

	t->file = -1;
	initStringInfo(&lines);
	PG_TRY();
	{
		StringInfoData sql;
		ObjPqRows  *r;
		MeshObject	o = {0};
		int64		requests = 0;
		int64		size = -1;
		bool		found;

		/* its size first, so the ranged GETs stop at its end */
		found = lake->store->head(conn, lake->bucket, key, &o, &requests);
		if (found && o.size)
			size = strtoi64(o.size, NULL, 10);
		obj_temp_open(t);
		if (!found ||
			!obj_download(lake->store, conn, lake->bucket, key, size, LAKE_READ_CHUNK, t, &requests))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the lake's manifest names object \"%s\", which does not exist", key)));
		*duck = obj_duck_for(*duck, t->path);
		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT op, CAST(event_id AS VARCHAR), CAST(before AS VARCHAR),"
							   " CAST(after AS VARCHAR) FROM ");
		obj_pq_append_from(&sql, t->path);
		r = obj_pq_select(*duck, sql.data, key, t->path);
		while (obj_pq_next(r))
		{
			uint32_t	len;
			char	   *op = obj_pq_cell(r, 0, &len);

			appendStringInfoString(&lines, "{\"op\":");
			if (op)
				escape_json(&lines, pnstrdup(op, len));
			else
				appendStringInfoString(&lines, "null");
			appendStringInfoString(&lines, ",\"source\":{\"event_id\":");
			append_json_cell(&lines, r, 1);
			appendStringInfoString(&lines, "},\"before\":");
			append_json_cell(&lines, r, 2);
			appendStringInfoString(&lines, ",\"after\":");
			append_json_cell(&lines, r, 3);
			appendStringInfoString(&lines, "}\n");
		}
		obj_pq_end(r);
	}
	PG_CATCH();
	{
		obj_temp_close(t);
		PG_RE_THROW();
	}
	PG_END_TRY();
	obj_temp_close(t);
	return lines.data;
}

/* The data objects the manifest entries name (each once). */
static List *
manifest_objects(void *conn, MeshLake *lake)
{
	List	   *objects = NIL;
	ListCell   *lc;
	Oid			types[1] = {TEXTOID};

	foreach(lc, list_keys(conn, lake, psprintf("%s_manifest/", lake->path)))
	{
		Datum		values[1] = {CStringGetTextDatum(get_whole(conn, lake, lfirst(lc)))};

		if (SPI_execute_with_args("SELECT o->>'key' FROM jsonb_array_elements($1::jsonb->'objects') o",
								  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "mesh lake: could not read manifest entry \"%s\"", (char *) lfirst(lc));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *key = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			if (key != NULL && !list_member(objects, makeString(key)))
				objects = lappend(objects, makeString(key));
		}
	}
	return objects;
}

/* The query that turns an object's lines into (event_id, op, keys..., values...). */
static char *
lines_query(MeshRoute *route)
{
	StringInfoData q;

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT (j->'source'->>'event_id')::bigint, j->>'op'");
	for (int k = 0; k < route->nkeys; k++)
	{
		/* a delete's after is JSON null: its key is in before */
		appendStringInfoString(&q, ", (CASE WHEN j->>'op' = 'd' THEN j->'before' ELSE j->'after' END)->>");
		appendStringInfoString(&q, quote_literal_cstr(route->columns[route->key_index[k]]));
	}
	for (int c = 0; c < route->ncolumns; c++)
	{
		appendStringInfoString(&q, ", j->'after'->>");
		appendStringInfoString(&q, quote_literal_cstr(route->columns[c]));
	}
	appendStringInfoString(&q, " FROM (SELECT l::jsonb AS j FROM regexp_split_to_table($1, E'\\n') l"
						   " WHERE l <> '') lines");
	return q.data;
}

/* Fold one object's changes into the archive state. */
static void
fold_object(MeshRoute *route, MeshLake *lake, const char *query, const char *body,
			int64 *truncated_at)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(body)};
	char	  **texts = palloc(sizeof(char *) * Max(route->nkeys, 1));

	if (SPI_execute_with_args(query, 1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "mesh lake: could not read an archive object");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *op = SPI_getvalue(tup, desc, 2);
		ArchiveRow *row;
		bool		found;
		char	   *key;

		if (op != NULL && strcmp(op, "t") == 0)
		{
			*truncated_at = Max(*truncated_at, id);
			continue;
		}
		for (int k = 0; k < route->nkeys; k++)
			texts[k] = SPI_getvalue(tup, desc, 3 + k);
		key = join_key(route, texts);
		row = hash_search(lake->archive, &key, HASH_ENTER, &found);
		/* the latest change wins; of equal ids (copies) the one read last */
		if (found && row->event_id > id)
			continue;
		if (!found)
			row->key = MemoryContextStrdup(route->cxt, key);
		row->event_id = id;
		row->deleted = op != NULL && strcmp(op, "d") == 0;
		row->values = MemoryContextAllocZero(route->cxt, sizeof(char *) * Max(route->ncolumns, 1));
		for (int c = 0; c < route->ncolumns && !row->deleted; c++)
		{
			char	   *v = SPI_getvalue(tup, desc, 3 + route->nkeys + c);

			row->values[c] = v ? MemoryContextStrdup(route->cxt, v) : NULL;
		}
	}
}

/* Build the archive state once per verify (the route lives as long as it). */
static MeshLake *
archive_of(void *conn, MeshRoute *route)
{
	MeshLake   *lake = mesh_lake_of(route);
	HASHCTL		ctl = {0};
	ListCell   *lc;
	char	   *query;
	int64		truncated_at = 0;
	HASH_SEQ_STATUS seq;
	ArchiveRow *row;
	ObjDuck    *duck = NULL;

	if (lake->archive != NULL)
		return lake;
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(ArchiveRow);
	ctl.hash = key_hash;
	ctl.match = key_match;
	ctl.hcxt = route->cxt;
	lake->archive = hash_create("mesh lake archive", 1024, &ctl,
								HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	query = lines_query(route);
	SPI_connect();
	foreach(lc, manifest_objects(conn, lake))
	{
		const char *key = strVal(lfirst(lc));
		size_t		len = strlen(key);
		bool		parquet = len >= 8 && pg_strcasecmp(key + len - 8, ".parquet") == 0;

		fold_object(route, lake, query,
					parquet ? parquet_lines(conn, lake, key, &duck) : get_whole(conn, lake, key),
					&truncated_at);
	}
	obj_duck_close(duck);
	SPI_finish();
	/* what a truncate removed, and deletes, are no rows */
	hash_seq_init(&seq, lake->archive);
	while ((row = hash_seq_search(&seq)) != NULL)
		if (row->event_id < truncated_at)
			row->deleted = true;
	return lake;
}

void
mesh_lake_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	MeshLake   *lake = archive_of(conn, route);

	for (int i = 0; i < n; i++)
	{
		char	   *key = join_key(route, keys[i]);
		ArchiveRow *row = hash_search(lake->archive, &key, HASH_FIND, NULL);

		rows[i] = row && !row->deleted ? row->values : NULL;
	}
}

int
mesh_lake_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	MeshLake   *lake = archive_of(conn, route);
	KeyWalk    *walk = *state;
	ArchiveRow *row;
	int			n = 0;

	if (walk == NULL)
	{
		walk = MemoryContextAllocZero(route->cxt, sizeof(KeyWalk));
		hash_seq_init(&walk->seq, lake->archive);
		*state = walk;
	}
	while (!walk->done && n < max)
	{
		if ((row = hash_seq_search(&walk->seq)) == NULL)
		{
			walk->done = true;
			break;
		}
		if (row->deleted)
			continue;
		keys[n] = palloc(sizeof(char *) * Max(route->nkeys, 1));
		for (int k = 0; k < route->nkeys; k++)
			keys[n][k] = row->values[route->key_index[k]];
		n++;
	}
	return n;
}
