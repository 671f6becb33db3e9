/*
 * mongodb_execute.c: mesh.execute(server, request, params) for MongoDB.
 *
 *   params without "collection": request is a command document in JSON
 *     ({"$oid": ..}, {"$date": ..}, {"$numberLong": ..} ... as BSON types), e.g. '{"count": "readings", "query": {"v": {"$gt": 1}}}',
 *     run on the server's database (or params "database"); a reply with a
 *     cursor gives one row per document (every batch), any other reply
 *     is one row.
 *   params {"collection": "c"}: request is an aggregation pipeline (a JSON
 *     array) on collection c; one row per result document.
 * Rows are jsonb with the type mapping of README.md (ObjectIds as hex,
 * dates as ISO strings).
 */
#include "postgres.h"

#include "json_value.h"

#include "utils/jsonb.h"

#include "catalog/pg_type.h"

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

static void
bad_extended(const char *what, const char *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid extended JSON %s: \"%s\"", what, value)));
}

/* The text of a one-member object's value for name ({"$date": {"$numberLong": s}} too). */
static const char *
member_text(json_t *obj, const char *name)
{
	json_t	   *v = json_object_get(obj, name);

	if (v == NULL)
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		return psprintf("%lld", (long long) json_integer_value(v));
	if (json_is_object(v))
		return member_text(v, "$numberLong");
	return NULL;
}

/*
 * An extended-JSON value ({"$oid": ..}, {"$date": ..}, {"$numberLong": ..},
 * {"$numberInt": ..}, {"$numberDouble": ..}, {"$numberDecimal": ..}):
 * appended as its BSON type, true; false for any other object.
 */
static bool
append_extended(bson_t *doc, const char *key, json_t *obj)
{
	const char *v;
	char	   *end;
	long long	n;

	if (json_object_size(obj) != 1)
		return false;
	if ((v = member_text(obj, "$oid")) != NULL)
	{
		bson_oid_t	oid;

		if (!mongo_oid_text(v, &oid))
			bad_extended("$oid", v);
		return bson_append_oid(doc, key, -1, &oid);
	}
	if ((v = member_text(obj, "$date")) != NULL)
	{
		bson_t		tmp = BSON_INITIALIZER;
		bson_iter_t it;
		int64		ms;

		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno == 0 && *end == '\0')
			return bson_append_date_time(doc, key, -1, n);
		/* an ISO 8601 text: PostgreSQL's timestamptz input, then BSON's mapping */
		mongo_append_datum(&tmp, "d", TIMESTAMPTZOID,
						   DirectFunctionCall3(timestamptz_in, CStringGetDatum(v),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)), 0);
		ms = bson_iter_init_find(&it, &tmp, "d") && BSON_ITER_HOLDS_DATE_TIME(&it) ?
			bson_iter_date_time(&it) : 0;
		bson_destroy(&tmp);
		return bson_append_date_time(doc, key, -1, ms);
	}
	if ((v = member_text(obj, "$numberLong")) != NULL || (v = member_text(obj, "$numberInt")) != NULL)
	{
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno != 0 || *end != '\0' ||
			(json_object_get(obj, "$numberInt") && (n < PG_INT32_MIN || n > PG_INT32_MAX)))
			bad_extended("integer", v);
		if (json_object_get(obj, "$numberInt"))
			return bson_append_int32(doc, key, -1, (int32) n);
		return bson_append_int64(doc, key, -1, n);
	}
	if ((v = member_text(obj, "$numberDouble")) != NULL)
		return bson_append_double(doc, key, -1,
								  DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(v))));
	if ((v = member_text(obj, "$numberDecimal")) != NULL)
	{
		bson_decimal128_t dec;

		if (!bson_decimal128_from_string(v, &dec))
			bad_extended("$numberDecimal", v);
		return bson_append_decimal128(doc, key, -1, &dec);
	}
	return false;
}

/* Append a JSON value as BSON, keys in their order. */
static void
append_json_value(bson_t *doc, const char *key, json_t *v)
{
	bson_t		child;

	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			{
				const char *k;
				json_t	   *m;

				if (append_extended(doc, key, v))
					return;
				bson_append_document_begin(doc, key, -1, &child);
				json_object_foreach(v, k, m)
					append_json_value(&child, k, m);
				bson_append_document_end(doc, &child);
				return;
			}
		case JSON_ARRAY:
			{
				size_t		i;
				json_t	   *m;

				bson_append_array_begin(doc, key, -1, &child);
				json_array_foreach(v, i, m)
				{
					char		buf[16];
					const char *idx;

					bson_uint32_to_string(i, &idx, buf, sizeof(buf));
					append_json_value(&child, idx, m);
				}
				bson_append_array_end(doc, &child);
				return;
			}
		case JSON_STRING:
			bson_append_utf8(doc, key, -1, json_string_value(v), json_string_length(v));
			return;
		case JSON_INTEGER:
			{
				json_int_t	n = json_integer_value(v);

				if (n >= PG_INT32_MIN && n <= PG_INT32_MAX)
					bson_append_int32(doc, key, -1, (int32) n);
				else
					bson_append_int64(doc, key, -1, n);
				return;
			}
		case JSON_REAL:
			bson_append_double(doc, key, -1, json_real_value(v));
			return;
		case JSON_TRUE:
		case JSON_FALSE:
			bson_append_bool(doc, key, -1, json_is_true(v));
			return;
		case JSON_NULL:
			bson_append_null(doc, key, -1);
			return;
	}
}

/*
 * Parse the request into {"v": value}: keys keep their order (a command's
 * name comes first, a sort's keys in order), and {"$oid": ..}, {"$date":
 * ..}, {"$numberLong": ..} and the other extended-JSON number forms become
 * their BSON types.
 */
static bson_t *
parse_json(const char *json, const char *what)
{
	bson_t	   *b = mongo_bson_new();
	json_error_t err;
	json_t	   *root = json_loads(json, JSON_DECODE_ANY, &err);

	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid MongoDB %s", what),
				 errdetail("%s at line %d, column %d.", err.text, err.line, err.column),
				 errhint("Pass a JSON command document such as '{\"ping\": 1}', or a pipeline array with params '{\"collection\": \"c\"}'.")));
	append_json_value(b, "v", root);
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
		bson_t	   *wrap = parse_json(request, "pipeline");
		bson_iter_t it;
		uint32		len;
		const uint8 *data;
		bson_t		pipeline;
		mongoc_collection_t *coll;

		if (!bson_iter_init_find(&it, wrap, "v") || !BSON_ITER_HOLDS_ARRAY(&it))
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
		bson_t	   *wrap = parse_json(request, "command");
		bson_t		reply_buf;	/* initialised by the command, always */
		bson_t	   *reply;
		bool		ok;
		bson_t		cmdbuf;
		bson_t	   *cmd = &cmdbuf;
		bson_iter_t it;
		uint32		len;
		const uint8 *data;

		if (!bson_iter_init_find(&it, wrap, "v") || !BSON_ITER_HOLDS_DOCUMENT(&it))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a MongoDB command must be a JSON object"),
					 errhint("Pass a command document such as '{\"ping\": 1}', or a pipeline array with params '{\"collection\": \"c\"}'.")));
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(cmd, data, len) || bson_count_keys(cmd) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("empty MongoDB command"),
					 errhint("Pass a command document such as '{\"ping\": 1}'.")));
		ok = mongoc_client_command_simple(mc->client, database, cmd, NULL, &reply_buf, &err);
		reply = bson_copy(&reply_buf);	/* on the heap, owned by this context */
		bson_destroy(&reply_buf);
		mongo_own(reply, (void (*) (void *)) bson_destroy);
		if (!ok)
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
