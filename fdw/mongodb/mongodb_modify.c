/*
 * mongodb_modify.c: INSERT, UPDATE and DELETE through a MongoDB foreign
 * table, by _id, in ordered bulk writes of up to MODIFY_BATCH operations.
 *
 *   INSERT  insert of the document built from the row (NULL columns are
 *           left out; no _id: the driver makes an ObjectId)
 *   UPDATE  $set of the non-NULL columns, $unset of the NULL ones; with a
 *           document column, a replace of the whole document
 *   DELETE  deleteMany({_id: {$in: [...]}}) per batch
 * A text _id of 24 hex digits is written as an ObjectId and matched as
 * either.  Writes are not transactional: a rollback does not undo them.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "mongodb_internal.h"

#define MODIFY_BATCH 1000

typedef struct MongoModifyState
{
	MongoLayout *layout;
	MongoConn  *mc;
	mongoc_collection_t *coll;
	MongoOwned *bulk;
	int			queued;
	bson_t	   *doc;			/* scratch documents, reused per row */
	bson_t	   *sel;
	bson_t	   *del_ids;		/* DELETE: the _ids of the batch, as an array */
	int			ndel;
} MongoModifyState;

/* The _id column identifies a row. */
int
mongo_row_identity(MeshTable *table, AttrNumber *attnums)
{
	MongoLayout *l = mongo_layout(table);

	if (l->id_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("UPDATE and DELETE of MongoDB foreign table \"%s\" need an _id column",
						table->relname),
				 errhint("Add a column \"_id\" text (or one with option field '_id').")));
	attnums[0] = l->id_att;
	return 1;
}

static void
destroy_bulk(void *p)
{
	mongoc_bulk_operation_destroy(p);
}

static void
new_bulk(MongoModifyState *st)
{
	bson_t		opts = BSON_INITIALIZER;

	BSON_APPEND_BOOL(&opts, "ordered", true);
	st->bulk = mongo_own(mongoc_collection_create_bulk_operation_with_opts(st->coll, &opts),
						 destroy_bulk);
	bson_destroy(&opts);
	st->queued = 0;
}

/*
 * Execute a bulk write; a failure ereports with the first write error
 * (duplicate key, validation ...) or the connection error.
 */
void
mongo_bulk_execute(MongoConn *mc, mongoc_bulk_operation_t *bulk, const char *what)
{
	bson_t		reply;
	bson_error_t err;
	bool		ok = mongoc_bulk_operation_execute(bulk, &reply, &err) != 0;

	bson_destroy(&reply);
	if (!ok)
		mongo_raise(mc, &err, what);
}

void
mongo_begin_modify(MeshModify *m)
{
	MongoModifyState *st = palloc0(sizeof(MongoModifyState));

	m->state = st;
	st->layout = mongo_layout(m->table);
	st->mc = m->conn;
	st->coll = mongo_collection(st->mc, st->layout->collection);
	st->doc = mongo_bson_new();
	st->sel = mongo_bson_new();
	st->del_ids = mongo_bson_new();
	new_bulk(st);
}

/* Append the _id value; a text of 24 hex digits becomes an ObjectId. */
static void
append_id(bson_t *doc, MeshColumn *col, Datum value)
{
	bson_oid_t	oid;

	if ((col->typid == TEXTOID || col->typid == VARCHAROID) &&
		mongo_oid_text(TextDatumGetCString(value), &oid))
		bson_append_oid(doc, "_id", 3, &oid);
	else
		mongo_append_datum(doc, "_id", col->typid, value, 0);
}

/* {_id: v} or, for a text _id that could be an ObjectId, {_id: {$in: [s, oid]}}. */
static void
id_selector(bson_t *sel, MeshColumn *col, Datum value)
{
	bson_oid_t	oid;

	if ((col->typid == TEXTOID || col->typid == VARCHAROID) &&
		mongo_oid_text(TextDatumGetCString(value), &oid))
	{
		bson_t		in,
					arr;

		bson_append_document_begin(sel, "_id", 3, &in);
		bson_append_array_begin(&in, "$in", 3, &arr);
		mongo_append_datum(&arr, "0", col->typid, value, 0);
		bson_append_oid(&arr, "1", 1, &oid);
		bson_append_array_end(&in, &arr);
		bson_append_document_end(sel, &in);
	}
	else
		mongo_append_datum(sel, "_id", col->typid, value, 0);
}

/* The first path segment of column i (its top-level key). */
static bool
same_top_key(const char *path, const char *key)
{
	size_t		n = strcspn(path, ".");

	return strlen(key) == n && strncmp(path, key, n) == 0;
}

/*
 * Append the columns whose path starts with prefix (length plen, ending
 * with '.' or empty) at this level, nesting dotted paths into documents.
 */
static void
append_level(bson_t *doc, MeshModify *m, MongoLayout *l, const char *prefix, size_t plen)
{
	MeshTable  *t = m->table;

	for (int i = 0; i < t->ncolumns; i++)
	{
		const char *path = l->paths[i];
		const char *rest;
		const char *dot;
		bool		seen = false;

		if (path == NULL || m->new_nulls[i] || i + 1 == l->id_att ||
			strncmp(path, prefix, plen) != 0)
			continue;
		rest = path + plen;
		dot = l->dotted[i] ? strchr(rest, '.') : NULL;
		if (dot == NULL)
		{
			mongo_append_datum(doc, rest, t->columns[i].typid, m->new_values[i],
							   ((MongoConn *) m->conn)->write_flags);
			continue;
		}
		/* a sub-document: once, for the first column under it */
		for (int j = 0; j < i && !seen; j++)
			if (l->paths[j] && l->dotted[j] && !m->new_nulls[j] && j + 1 != l->id_att &&
				strncmp(l->paths[j], path, dot - path + 1) == 0)
				seen = true;
		if (!seen)
		{
			char	   *sub = pnstrdup(path, dot - path + 1);
			char	   *key = pnstrdup(rest, dot - rest);
			bson_t		child;

			bson_append_document_begin(doc, key, -1, &child);
			append_level(&child, m, l, sub, strlen(sub));
			bson_append_document_end(doc, &child);
		}
	}
}

/* The whole document of the new row: document column, then the columns. */
static void
build_document(bson_t *doc, MeshModify *m, MongoLayout *l, bool with_id, Datum id)
{
	MeshTable  *t = m->table;

	if (with_id)
		append_id(doc, &t->columns[l->id_att - 1], id);
	if (l->doc_att && !m->new_nulls[l->doc_att - 1])
	{
		MeshColumn *dc = &t->columns[l->doc_att - 1];
		Jsonb	   *jb = dc->typid == JSONBOID ? DatumGetJsonbP(m->new_values[l->doc_att - 1]) :
			DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											   CStringGetDatum(TextDatumGetCString(m->new_values[l->doc_att - 1]))));
		bson_t		base = BSON_INITIALIZER;
		bson_iter_t it,
					sub;

		if (!JB_ROOT_IS_OBJECT(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" must hold a JSON object to be a MongoDB document",
							dc->name)));
		mongo_append_jsonb(&base, "d", jb, ((MongoConn *) m->conn)->write_flags);
		/* keep the document's fields that no column sets */
		if (bson_iter_init_find(&it, &base, "d") && bson_iter_recurse(&it, &sub))
			while (bson_iter_next(&sub))
			{
				const char *key = bson_iter_key(&sub);
				/* _id comes from the _id column, or stays (replace) */
				bool		covered = strcmp(key, "_id") == 0 &&
				(l->id_att != InvalidAttrNumber || m->op == MESH_MODIFY_UPDATE);

				for (int i = 0; i < t->ncolumns && !covered; i++)
					if (l->paths[i] && same_top_key(l->paths[i], key) && i + 1 != l->id_att)
						covered = true;
				if (!covered)
					bson_append_iter(doc, key, -1, &sub);
			}
		bson_destroy(&base);
	}
	append_level(doc, m, l, "", 0);
}

/* $set of the non-NULL columns and $unset of the NULL ones. */
static void
build_update(bson_t *upd, MeshModify *m, MongoLayout *l)
{
	bson_t		set,
				unset;

	bson_append_document_begin(upd, "$set", 4, &set);
	for (int i = 0; i < m->table->ncolumns; i++)
		if (l->paths[i] && i + 1 != l->id_att && !m->new_nulls[i])
			mongo_append_datum(&set, l->paths[i], m->table->columns[i].typid,
							   m->new_values[i], ((MongoConn *) m->conn)->write_flags);
	bson_append_document_end(upd, &set);
	bson_append_document_begin(upd, "$unset", 6, &unset);
	for (int i = 0; i < m->table->ncolumns; i++)
		if (l->paths[i] && i + 1 != l->id_att && m->new_nulls[i])
			bson_append_utf8(&unset, l->paths[i], -1, "", 0);
	bson_append_document_end(upd, &unset);
}

/* Add a deleted row's _id (and its ObjectId form) to the batch's $in list. */
static void
add_delete_id(MongoModifyState *st, MeshColumn *col, Datum value)
{
	bson_oid_t	oid;
	char		buf[16];
	const char *k;

	bson_uint32_to_string(st->ndel++, &k, buf, sizeof(buf));
	mongo_append_datum(st->del_ids, k, col->typid, value, 0);
	if ((col->typid == TEXTOID || col->typid == VARCHAROID) &&
		mongo_oid_text(TextDatumGetCString(value), &oid))
	{
		bson_uint32_to_string(st->ndel++, &k, buf, sizeof(buf));
		bson_append_oid(st->del_ids, k, -1, &oid);
	}
}

static void
flush(MeshModify *m)
{
	MongoModifyState *st = m->state;

	if (st->ndel > 0)
	{
		bson_t		sel = BSON_INITIALIZER;
		bson_t		in;
		bson_error_t err;
		bool		ok;

		bson_append_document_begin(&sel, "_id", 3, &in);
		bson_append_array(&in, "$in", 3, st->del_ids);
		bson_append_document_end(&sel, &in);
		ok = mongoc_bulk_operation_remove_many_with_opts(st->bulk->ptr, &sel, NULL, &err);
		bson_destroy(&sel);
		if (!ok)
			mongo_raise(st->mc, &err, "a delete");
		bson_reinit(st->del_ids);
		st->ndel = 0;
	}
	if (st->queued == 0)
		return;
	mongo_bulk_execute(st->mc, st->bulk->ptr, "a write");
	mongo_release(st->bulk);
	m->requests++;
	new_bulk(st);
}

/* Queue one row's write (errors in the driver's queueing ereport at once). */
static void
queue_row(MeshModify *m, bson_t *doc, bson_t *sel)
{
	MongoModifyState *st = m->state;
	MongoLayout *l = st->layout;
	bson_error_t err;
	bool		ok = true;
	int			idx = l->id_att - 1;

	if (m->op == MESH_MODIFY_INSERT)
	{
		build_document(doc, m, l, l->id_att && !m->new_nulls[idx],
					   l->id_att ? m->new_values[idx] : (Datum) 0);
		ok = mongoc_bulk_operation_insert_with_opts(st->bulk->ptr, doc, NULL, &err);
	}
	else
	{
		MeshColumn *idcol = &m->table->columns[idx];
		size_t		len;

		if (m->old_nulls[idx])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a row of MongoDB foreign table \"%s\" has a NULL _id",
							m->table->relname)));
		if (m->op == MESH_MODIFY_DELETE)
			add_delete_id(st, idcol, m->old_values[idx]);
		else
		{
			if (m->new_nulls[idx] ||
				strcmp(mesh_value_to_text(idcol, m->new_values[idx], &len),
					   mesh_value_to_text(idcol, m->old_values[idx], &len)) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot change the _id of a MongoDB document"),
						 errhint("Delete the row and insert it with the new _id.")));
			id_selector(sel, idcol, m->old_values[idx]);
			if (l->doc_att)
			{
				build_document(doc, m, l, false, (Datum) 0);
				ok = mongoc_bulk_operation_replace_one_with_opts(st->bulk->ptr, sel, doc, NULL, &err);
			}
			else
			{
				build_update(doc, m, l);
				ok = mongoc_bulk_operation_update_one_with_opts(st->bulk->ptr, sel, doc, NULL, &err);
			}
		}
	}
	if (!ok)
		mongo_raise(st->mc, &err, "a write");
}

void
mongo_modify_row(MeshModify *m)
{
	MongoModifyState *st = m->state;

	bson_reinit(st->doc);
	bson_reinit(st->sel);
	queue_row(m, st->doc, st->sel);
	if (++st->queued >= MODIFY_BATCH)
		flush(m);
}

void
mongo_end_modify(MeshModify *m)
{
	MongoModifyState *st = m->state;

	if (st == NULL)
		return;
	flush(m);
	mongo_release(st->bulk);
	m->state = NULL;
}
