/*
 * mongodb_execute.c: mesh.execute(server, request, params) for MongoDB.
 *
 *   params without "collection": request is a command document in
 *     extended JSON, e.g. '{"count": "readings", "query": {"v": {"$gt": 1}}}',
 *     run on the server's database (or params "database"); a reply with a
 *     cursor gives one row per document (every batch), any other reply
 *     is one row.
 *   params {"collection": "c"}: request is an aggregation pipeline (a JSON
 *     array) on collection c; one row per result document.
 * Rows are jsonb with the type mapping of README.md (ObjectIds as hex,
 * dates as ISO strings).
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "mongodb_internal.h"

static const char *
param_text(Jsonb *params, const char *name)
{
	JsonbValue	vbuf;
	JsonbValue *v;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		return NULL;
	v = getKeyJsonValueFromContainer(&params->root, name, strlen(name), &vbuf);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"%s\" of mesh.execute on MongoDB must be a string", name)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Parse extended JSON; a syntax error names what was expected. */
static bson_t *
parse_json(const char *json, const char *what)
{
	bson_error_t err;
	bson_t	   *b = mongo_bson_new();

	if (!bson_init_from_json(b, json, -1, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid MongoDB %s", what),
				 errdetail("%s", err.message),
				 errhint("Pass a JSON command document such as '{\"ping\": 1}', or a pipeline array with params '{\"collection\": \"c\"}'.")));
	return b;
}

static void
destroy_cursor(void *p)
{
	mongoc_cursor_destroy(p);
}

/* Every document of a cursor as jsonb rows. */
static List *
drain(MongoConn *mc, mongoc_cursor_t *c, const char *what)
{
	MongoOwned *cursor = mongo_own(c, destroy_cursor);
	const bson_t *doc;
	bson_error_t err;
	List	   *rows = NIL;

	while (mongoc_cursor_next(cursor->ptr, &doc))
		rows = lappend(rows, mongo_doc_jsonb(doc));
	if (mongoc_cursor_error(cursor->ptr, &err))
		mongo_raise(mc, &err, what);
	mongo_release(cursor);
	return rows;
}

List *
mongo_execute(void *conn, const char *request, Jsonb *params)
{
	MongoConn  *mc = conn;
	const char *collection = param_text(params, "collection");
	const char *database = param_text(params, "database");
	bson_error_t err;

	if (database == NULL)
		database = mc->database;
	if (collection)
	{
		bson_t	   *wrap = parse_json(psprintf("{\"pipeline\": %s}", request), "pipeline");
		bson_iter_t it;
		uint32		len;
		const uint8 *data;
		bson_t		pipeline;
		mongoc_collection_t *coll;

		if (!bson_iter_init_find(&it, wrap, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a MongoDB pipeline must be a JSON array of stages"),
					 errhint("For example: '[{\"$match\": {\"v\": 1}}]'.")));
		bson_iter_array(&it, &len, &data);
		if (!bson_init_static(&pipeline, data, len))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid MongoDB pipeline")));
		mongo_check_collection_name(collection, "collection");
		coll = mongoc_client_get_collection(mc->client, database, collection);
		mongo_own(coll, (void (*) (void *)) mongoc_collection_destroy);
		return drain(mc, mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, &pipeline,
													 NULL, NULL), "an aggregation");
	}
	else
	{
		bson_t	   *cmd = parse_json(request, "command");
		bson_t	   *reply = bson_new();
		bson_iter_t it;

		mongo_own(reply, (void (*) (void *)) bson_destroy);
		if (bson_count_keys(cmd) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("empty MongoDB command"),
					 errhint("Pass a command document such as '{\"ping\": 1}'.")));
		if (!mongoc_client_command_simple(mc->client, database, cmd, NULL, reply, &err))
			mongo_raise(mc, &err, psprintf("the command \"%s\"",
										   bson_iter_init(&it, cmd) && bson_iter_next(&it) ?
										   bson_iter_key(&it) : "?"));
		if (bson_iter_init_find(&it, reply, "cursor") && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			/* the cursor takes the reply (a copy: ours is owned) */
			bson_t	   *copy = bson_copy(reply);

			return drain(mc, mongoc_cursor_new_from_command_reply_with_opts(mc->client, copy, NULL),
						 "a command's cursor");
		}
		return list_make1(mongo_doc_jsonb(reply));
	}
}
