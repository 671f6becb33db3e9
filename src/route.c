/*
 * route.c: a route as connectors see it (MeshRoute), built from
 * mesh.route and the source table's current definition, and the
 * conversion of event-log rows and source rows into text values.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_index.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/varlena.h"

#include "mesh.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_check_route);

/* A string value of the route's options, or dflt. */
const char *
mesh_route_option(MeshRoute *route, const char *name, const char *dflt)
{
	return mesh_jsonb_option(route->options, name, dflt);
}

/*
 * The text of member name of a jsonb object of options (a string as is, a
 * number or boolean as its text, an object or array as JSON), else dflt.
 */
const char *
mesh_jsonb_option(Jsonb *options, const char *name, const char *dflt)
{
	JsonbValue	vbuf;
	JsonbValue *v;

	if (options == NULL || !JB_ROOT_IS_OBJECT(options))
		return dflt;
	v = getKeyJsonValueFromContainer(&options->root, name, strlen(name), &vbuf);
	if (v == NULL || v->type == jbvNull)
		return dflt;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvBool)
		return v->val.boolean ? "true" : "false";
	return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
}

/* The index of column name in route->columns, or -1. */
int
mesh_route_column_index(MeshRoute *route, const char *name)
{
	for (int c = 0; c < route->ncolumns; c++)
		if (strcmp(route->columns[c], name) == 0)
			return c;
	return -1;
}

/* The route's columns as "a, b, c", for hints. */
char *
mesh_route_column_list(MeshRoute *route)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int c = 0; c < route->ncolumns; c++)
		appendStringInfo(&buf, "%s%s", c ? ", " : "", route->columns[c]);
	return buf.data;
}

/* What a JSON value is, for messages: "a number", "an object", ... */
static const char *
json_kind(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "not a name";
	}
}

/* The names of a JSON array option value; errors on a non-string or no element. */
static List *
option_array_names(const char *option, JsonbValue *array)
{
	JsonbIterator *it = JsonbIteratorInit(array->val.binary.data);
	JsonbIteratorToken tok;
	JsonbValue	v;
	List	   *names = NIL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route option %s must list column names as strings", option),
					 errdetail("Element %d is %s.", list_length(names) + 1, json_kind(&v)),
					 errhint("For example: '{\"%s\": [\"host\", \"region\"]}'.", option)));
		names = lappend(names, pnstrdup(v.val.string.val, v.val.string.len));
	}
	if (names == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option %s is an empty array", option),
				 errhint("List at least one column name, or leave the option out.")));
	return names;
}

/* The names of a comma-separated option value (identifier rules, as SplitIdentifierString). */
static List *
option_string_names(const char *option, const char *value)
{
	List	   *names = NIL;

	if (!SplitIdentifierString(pstrdup(value), ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid route option %s: \"%s\"", option, value),
				 errhint("Give a JSON array of column names, e.g. '{\"%s\": [\"host\", \"Region\"]}', or a string of names separated by commas, double-quoting names with commas or capitals, e.g. '{\"%s\": \"host, \\\"Region\\\"\"}'.",
						 option, option)));
	return names;
}

/*
 * The columns a list-valued route option names, as indexes into
 * route->columns in the order given (*columns palloc'd); returns how many,
 * 0 when the option is absent or an empty string.  The value is a JSON
 * array of column names (taken exactly) or a string of comma-separated
 * names (identifier rules: unquoted names are lowercased).  Errors name the
 * option: an empty array, a non-string element, another JSON type, a name
 * that is not a column, a column named twice.
 */
int
mesh_route_option_columns(MeshRoute *route, const char *option, int **columns)
{
	JsonbValue	vbuf;
	JsonbValue *v = NULL;
	List	   *names = NIL;
	ListCell   *lc;
	int			n = 0;

	if (route->options != NULL)
		v = getKeyJsonValueFromContainer(&route->options->root, option, strlen(option), &vbuf);
	if (v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
		names = option_array_names(option, v);
	else if (v != NULL && v->type == jbvString)
		names = option_string_names(option, pnstrdup(v->val.string.val, v->val.string.len));
	else if (v != NULL && v->type != jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option %s must be a JSON array of column names or a string of comma-separated names",
						option),
				 errdetail("It is %s.", json_kind(v)),
				 errhint("For example: '{\"%s\": [\"host\", \"region\"]}'.", option)));
	*columns = palloc(sizeof(int) * Max(list_length(names), 1));
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		int			c = mesh_route_column_index(route, name);

		if (c < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route option %s names \"%s\", which is not a column of table \"%s\"",
							option, name, route->source_name),
					 errhint("Use columns among: %s.", mesh_route_column_list(route))));
		for (int i = 0; i < n; i++)
			if ((*columns)[i] == c)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("route option %s names column \"%s\" twice", option, name)));
		(*columns)[n++] = c;
	}
	return n;
}

/*
 * A route for source -> target with the source's current columns and
 * primary key; the target is reached with owner's user mapping.
 */
MeshRoute *
mesh_route_build(Oid source, const char *target, Jsonb *options, const char *role, Oid owner)
{
	MeshRoute  *r = palloc0(sizeof(MeshRoute));
	Relation	rel = table_open(source, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	ForeignServer *server = GetForeignServerByName(target, false);
	Oid			pk = RelationGetPrimaryKeyIndex(rel);
	Relation	idx;

	r->cxt = CurrentMemoryContext;
	r->source = source;
	r->source_schema = get_namespace_name(RelationGetNamespace(rel));
	r->source_name = pstrdup(RelationGetRelationName(rel));
	r->target = pstrdup(target);
	r->role = role ? pstrdup(role) : "replica";
	r->options = options;
	r->config = mesh_server_config(server->serverid, owner);
	r->owner = owner;
	if (r->config->connector->sink == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s server \"%s\" cannot be a replication target",
						r->config->connector->kind, target)));
	r->columns = palloc(sizeof(char *) * Max(desc->natts, 1));
	r->types = palloc(sizeof(Oid) * Max(desc->natts, 1));
	r->type_names = palloc(sizeof(char *) * Max(desc->natts, 1));
	r->attnums = palloc(sizeof(AttrNumber) * Max(desc->natts, 1));
	r->key_index = palloc(sizeof(int) * INDEX_MAX_KEYS);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		r->columns[r->ncolumns] = pstrdup(NameStr(att->attname));
		r->type_names[r->ncolumns] = format_type_be_qualified(att->atttypid);
		r->attnums[r->ncolumns] = att->attnum;
		r->types[r->ncolumns++] = att->atttypid;
	}
	if (!OidIsValid(pk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table \"%s\" has no primary key", r->source_name)));
	idx = index_open(pk, AccessShareLock);
	for (int k = 0; k < idx->rd_index->indnkeyatts; k++)
	{
		char	   *name = NameStr(TupleDescAttr(desc, idx->rd_index->indkey.values[k] - 1)->attname);

		for (int c = 0; c < r->ncolumns; c++)
			if (strcmp(r->columns[c], name) == 0)
				r->key_index[r->nkeys++] = c;
	}
	index_close(idx, AccessShareLock);
	table_close(rel, NoLock);	/* keep the lock to the end of the transaction */
	return r;
}

/*
 * Every route of source, built (mesh_route_build) in the current memory
 * context, ordered by target.  Uses SPI (connects and finishes itself).
 */
List *
mesh_routes_of(Oid source)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(source)};
	MemoryContext cxt = CurrentMemoryContext;
	List	   *routes = NIL;
	List	   *rows = NIL;
	ListCell   *lc;
	MeshUserSave save;

	mesh_become_owner(&save);	/* mesh.route is closed to the caller */
	SPI_connect();
	SPI_execute_with_args("SELECT id, target::text, role, options, owner FROM mesh.route"
						  " WHERE source = $1 ORDER BY target",
						  1, types, args, NULL, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		bool		isnull;
		MeshRoute  *stub = palloc0(sizeof(MeshRoute));

		stub->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		stub->target = pstrdup(SPI_getvalue(tup, desc, 2));
		stub->role = pstrdup(SPI_getvalue(tup, desc, 3));
		stub->options = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 4, &isnull));
		stub->source = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));	/* owner */
		rows = lappend(rows, stub);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	mesh_restore_user(&save);
	foreach(lc, rows)
	{
		MeshRoute  *stub = lfirst(lc);
		MeshRoute  *r = mesh_route_build(source, stub->target, stub->options, stub->role,
										  stub->source);

		r->id = stub->id;
		routes = lappend(routes, r);
	}
	return routes;
}

/* Errors unless every route option is one the connector declares. */
void
mesh_route_check_options(MeshRoute *route)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (route->options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(route->options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route options must be a JSON object"),
				 errhint("For example: '{\"key_prefix\": \"reading:\"}'.")));
	it = JsonbIteratorInit(&route->options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_KEY)
		{
			char	   *name = pnstrdup(v.val.string.val, v.val.string.len);

			mesh_validate_option(route->config->connector, MESH_OPT_ROUTE, name,
								 mesh_route_option(route, name, ""));
		}
}

/* Fill ev from an event-log row, mapping columns by name (event_decode.c). */
void
mesh_route_decode(MeshRoute *route, char op, Jsonb *key, Jsonb *row, MeshEvent *ev)
{
	mesh_event_decode(mesh_event_decoder(route), op, key, row, ev);
}

/* The text values of a source row (an SPI tuple), aligned with the route's columns. */
char **
mesh_route_row_values(MeshRoute *route, TupleDesc desc, HeapTuple tup)
{
	char	  **values = palloc0(sizeof(char *) * Max(route->ncolumns, 1));

	for (int c = 0; c < route->ncolumns; c++)
	{
		int			fno = SPI_fnumber(desc, route->columns[c]);

		if (fno > 0)
			values[c] = SPI_getvalue(tup, desc, fno);
	}
	return values;
}

/*
 * mesh._check_route(source, target, options): validate a new route before
 * mesh.replicate records it: the options, and the target (the connector
 * checks it is reachable and ready, e.g. that a PostgreSQL table exists).
 */
Datum
mesh_check_route(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);
	char	   *target = NameStr(*PG_GETARG_NAME(1));
	Jsonb	   *options = PG_GETARG_JSONB_P(2);
	MeshRoute  *route = mesh_route_build(source, target, options, NULL, PG_GETARG_OID(3));
	void	   *conn;

	mesh_route_check_options(route);
	if (route->config->connector->sink && route->config->connector->sink->prepare_offline)
		route->config->connector->sink->prepare(NULL, route);
	else if (route->config->connector->sink && route->config->connector->sink->prepare)
	{
		conn = mesh_get_connection(route->config);
		mesh_connection_begin_use(route->config);
		route->config->connector->sink->prepare(conn, route);
		mesh_connection_end_use(route->config);
	}
	PG_RETURN_VOID();
}
