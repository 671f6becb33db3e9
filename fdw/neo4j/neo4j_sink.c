/*
 * neo4j_sink.c: Neo4j as a replication target, and its side of verify.
 *
 * Layout: one node per source row, label from route option label (default:
 * the source table's name), one property per column (NULL: no property),
 * values typed as mesh_json_append_typed (src/json_typed.c) says; the primary key columns
 * identify the node (a uniqueness constraint, or an index for a composite
 * key, is created at mesh.replicate).  Route option relationships, a JSON
 * array of {"column": C, "type": T, "label": L, "key": K} (key default
 * "id"), turns foreign-key column C into an edge (n)-[:T]->(:L {K: n.C});
 * the target node is MERGEd, so it exists before (or without) its own
 * route, and an update that changes C moves the edge.
 *
 * A chunk of events becomes requests of at most batch_size (route option,
 * default 1000) rows, each one transaction of
 *     UNWIND $rows AS r MATCH (n:L {key: r.key}) DETACH DELETE n
 *     UNWIND $rows AS r MERGE (n:L {key: r.key}) SET n += r
 *     one edge statement per relationship
 * with only the last event of each key, so a replay converges.  TRUNCATE
 * is MATCH (n:L) DETACH DELETE n.
 */
#include "postgres.h"

#include "neo4j.h"

#include "json_typed.h"

#include "utils/memutils.h"


#define KEY_PAGE 10000

typedef struct Neo4jRelationship
{
	int			column;			/* index into route->columns */
	char	   *type;
	char	   *label;
	char	   *key;
} Neo4jRelationship;

/* What apply needs about the route (cached in route->private). */
typedef struct Neo4jSink
{
	int			ncolumns;		/* route->ncolumns when built */
	char	   *label;
	int			batch_size;
	int			nrels;
	Neo4jRelationship *rels;
	char	   *delete_cypher;
	char	   *upsert_cypher;
	char	  **rel_cypher;
	char	   *match_key;		/* (n:`L` {`k`: r.`k`}) */
} Neo4jSink;

static void
bad_relationships(const char *value, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid route option \"relationships\": %s", why),
			 errdetail("The value was: %s", value),
			 errhint("Give a JSON array of objects such as {\"column\": \"sensor_id\", \"type\": \"MEASURED_BY\", \"label\": \"Sensor\", \"key\": \"id\"} (key defaults to \"id\").")));
}

/* A string member of a relationship object, or dflt. */
static char *
rel_member(json_t *obj, const char *name, const char *dflt, const char *value)
{
	json_t	   *v = json_object_get(obj, name);

	if (v == NULL || json_is_null(v))
	{
		if (dflt == NULL)
			bad_relationships(value, psprintf("an entry lacks \"%s\"", name));
		return pstrdup(dflt);
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		bad_relationships(value, psprintf("\"%s\" must be a non-empty string", name));
	return pstrdup(json_string_value(v));
}

/* The relationships of route option relationships (errors name what is wrong). */
static int
parse_relationships(MeshRoute *route, Neo4jRelationship **out)
{
	const char *value = mesh_route_option(route, "relationships", NULL);
	json_t	   *arr;
	int			n;

	*out = NULL;
	if (value == NULL)
		return 0;
	arr = json_loads(value, JSON_DECODE_ANY, NULL);
	if (!json_is_array(arr))
		bad_relationships(value, "not a JSON array");
	n = json_array_size(arr);
	*out = palloc0(sizeof(Neo4jRelationship) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		json_t	   *obj = json_array_get(arr, i);
		Neo4jRelationship *r = &(*out)[i];
		char	   *column;

		if (!json_is_object(obj))
			bad_relationships(value, "an entry is not an object");
		column = rel_member(obj, "column", NULL, value);
		r->type = rel_member(obj, "type", NULL, value);
		r->label = rel_member(obj, "label", NULL, value);
		r->key = rel_member(obj, "key", "id", value);
		r->column = -1;
		for (int c = 0; c < route->ncolumns; c++)
			if (strcmp(route->columns[c], column) == 0)
				r->column = c;
		if (r->column < 0)
			bad_relationships(value, psprintf("table \"%s\" has no column \"%s\"",
											  route->source_name, column));
		for (const char *k = (const char *) json_object_iter_key(json_object_iter(obj)); k;)
		{
			if (strcmp(k, "column") != 0 && strcmp(k, "type") != 0 &&
				strcmp(k, "label") != 0 && strcmp(k, "key") != 0)
				bad_relationships(value, psprintf("unknown member \"%s\" (allowed: column, type, label, key)", k));
			k = json_object_iter_key(json_object_iter_next(obj, json_object_key_to_iter(k)));
		}
	}
	return n;
}

/* {`k1`: r.`k1`, ...}: the key properties taken from row map r. */
static void
append_key_map(StringInfo buf, MeshRoute *route)
{
	appendStringInfoChar(buf, '{');
	for (int k = 0; k < route->nkeys; k++)
	{
		const char *name = route->columns[route->key_index[k]];

		if (k > 0)
			appendStringInfoString(buf, ", ");
		neo4j_append_ident(buf, name);
		appendStringInfoString(buf, ": r.");
		neo4j_append_ident(buf, name);
	}
	appendStringInfoChar(buf, '}');
}

/* The edge statement of relationship rel (see the file comment). */
static char *
rel_cypher(Neo4jSink *s, MeshRoute *route, Neo4jRelationship *rel)
{
	StringInfoData b;
	const char *col = route->columns[rel->column];

	initStringInfo(&b);
	appendStringInfo(&b, "UNWIND $rows AS r MATCH %s OPTIONAL MATCH (n)-[e:", s->match_key);
	neo4j_append_ident(&b, rel->type);
	appendStringInfoString(&b, "]->(o:");
	neo4j_append_ident(&b, rel->label);
	appendStringInfoString(&b, ") WHERE r.");
	neo4j_append_ident(&b, col);
	appendStringInfoString(&b, " IS NULL OR o.");
	neo4j_append_ident(&b, rel->key);
	appendStringInfoString(&b, " <> r.");
	neo4j_append_ident(&b, col);
	appendStringInfoString(&b, " DELETE e WITH DISTINCT n, r WHERE r.");
	neo4j_append_ident(&b, col);
	appendStringInfoString(&b, " IS NOT NULL MERGE (m:");
	neo4j_append_ident(&b, rel->label);
	appendStringInfoString(&b, " {");
	neo4j_append_ident(&b, rel->key);
	appendStringInfoString(&b, ": r.");
	neo4j_append_ident(&b, col);
	appendStringInfoString(&b, "}) MERGE (n)-[:");
	neo4j_append_ident(&b, rel->type);
	appendStringInfoString(&b, "]->(m)");
	return b.data;
}

/* Parse and check the route's options into a Neo4jSink (no catalog access). */
static Neo4jSink *
build_sink(MeshRoute *route)
{
	Neo4jSink  *s = palloc0(sizeof(Neo4jSink));
	StringInfoData b;

	s->ncolumns = route->ncolumns;
	s->label = pstrdup(mesh_route_option(route, "label", route->source_name));
	neo4j_check_name("label", s->label);
	s->batch_size = atoi(mesh_route_option(route, "batch_size", "1000"));
	if (s->batch_size <= 0)
		s->batch_size = 1000;
	s->nrels = parse_relationships(route, &s->rels);
	for (int i = 0; i < s->nrels; i++)
	{
		neo4j_check_name("relationship type", s->rels[i].type);
		neo4j_check_name("label", s->rels[i].label);
		neo4j_check_name("property name", s->rels[i].key);
	}
	for (int c = 0; c < route->ncolumns; c++)
		neo4j_check_name("property name", route->columns[c]);

	initStringInfo(&b);
	appendStringInfoString(&b, "(n:");
	neo4j_append_ident(&b, s->label);
	appendStringInfoChar(&b, ' ');
	append_key_map(&b, route);
	appendStringInfoChar(&b, ')');
	s->match_key = b.data;
	s->delete_cypher = psprintf("UNWIND $rows AS r MATCH %s DETACH DELETE n", s->match_key);
	s->upsert_cypher = psprintf("UNWIND $rows AS r MERGE %s SET n += r", s->match_key);
	s->rel_cypher = palloc(sizeof(char *) * Max(s->nrels, 1));
	for (int i = 0; i < s->nrels; i++)
		s->rel_cypher[i] = rel_cypher(s, route, &s->rels[i]);
	return s;
}

static Neo4jSink *
sink_for(MeshRoute *route)
{
	Neo4jSink  *s = route->private;

	if (s == NULL || s->ncolumns != route->ncolumns)
	{
		MemoryContext old = MemoryContextSwitchTo(route->cxt);

		s = build_sink(route);
		MemoryContextSwitchTo(old);
		route->private = s;
	}
	return s;
}

/* Run one schema statement (each in its own transaction, as Neo4j requires). */
static void
run_schema(Neo4jConn *nc, const char *cypher)
{
	Neo4jStatement st = {cypher, NULL};

	neo4j_run(nc, &st, 1, "a schema statement");
}

/* A uniqueness constraint (one key) or an index (composite) on label's keys. */
static void
ensure_key_index(Neo4jConn *nc, const char *label, int nkeys, const char **keys)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, nkeys == 1 ? "CREATE CONSTRAINT IF NOT EXISTS FOR (n:" :
						   "CREATE INDEX IF NOT EXISTS FOR (n:");
	neo4j_append_ident(&b, label);
	appendStringInfoString(&b, nkeys == 1 ? ") REQUIRE n." : ") ON (");
	for (int k = 0; k < nkeys; k++)
	{
		if (k > 0)
			appendStringInfoString(&b, ", ");
		if (nkeys > 1)
			appendStringInfoString(&b, "n.");
		neo4j_append_ident(&b, keys[k]);
	}
	appendStringInfoString(&b, nkeys == 1 ? " IS UNIQUE" : ")");
	run_schema(nc, b.data);
}

/*
 * mesh.replicate: check the options and make the key lookups of MERGE
 * fast (a constraint on the route's label, one on each relationship's).
 */
static void
neo4j_prepare(void *conn, MeshRoute *route)
{
	Neo4jSink  *s;
	const char **keys = palloc(sizeof(char *) * Max(route->nkeys, 1));

	route->private = NULL;
	s = sink_for(route);
	for (int k = 0; k < route->nkeys; k++)
		keys[k] = route->columns[route->key_index[k]];
	ensure_key_index(conn, s->label, route->nkeys, keys);
	for (int i = 0; i < s->nrels; i++)
		ensure_key_index(conn, s->rels[i].label, 1, (const char **) &s->rels[i].key);
}

/* Append the row (all columns, or the key columns) as a JSON map. */
static void
append_row(StringInfo buf, MeshRoute *route, MeshSinkRow *ev, bool keys_only)
{
	appendStringInfoChar(buf, '{');
	if (keys_only)
		for (int k = 0; k < route->nkeys; k++)
		{
			int			c = route->key_index[k];

			if (k > 0)
				appendStringInfoChar(buf, ',');
			mesh_json_append_string(buf, route->columns[c], strlen(route->columns[c]));
			appendStringInfoChar(buf, ':');
			mesh_json_append_typed(buf, route->types[c], ev->values[c]);
		}
	else
		for (int c = 0; c < route->ncolumns; c++)
		{
			if (c > 0)
				appendStringInfoChar(buf, ',');
			mesh_json_append_string(buf, route->columns[c], strlen(route->columns[c]));
			appendStringInfoChar(buf, ':');
			mesh_json_append_typed(buf, route->types[c], ev->values[c]);
		}
	appendStringInfoChar(buf, '}');
}

/*
 * Write rows[0..n) (all upserts or all deletes) in transactions of at most
 * the route's batch_size rows; each transaction is taken or refused whole,
 * so its rows are acknowledged together (the engine splits a refused call).
 */
static void
write_rows(Neo4jConn *nc, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out,
		   bool delete)
{
	Neo4jSink  *s = sink_for(route);

	for (int start = 0; start < n; start += s->batch_size)
	{
		int			end = Min(n, start + s->batch_size);
		StringInfoData params;
		Neo4jStatement *st = palloc(sizeof(Neo4jStatement) * (1 + s->nrels));
		int			nst = 0;

		initStringInfo(&params);
		appendStringInfoString(&params, "{\"rows\":[");
		for (int i = start; i < end; i++)
		{
			if (i > start)
				appendStringInfoChar(&params, ',');
			append_row(&params, route, &rows[i], delete);
		}
		appendStringInfoString(&params, "]}");
		st[nst].cypher = delete ? s->delete_cypher : s->upsert_cypher;
		st[nst++].params = params.data;
		for (int r = 0; r < s->nrels && !delete; r++)
		{
			st[nst].cypher = s->rel_cypher[r];
			st[nst++].params = params.data;
		}
		neo4j_run(nc, st, nst, "a replication write");
		for (int i = start; i < end; i++)
			out[i].status = MESH_ITEM_ACKED;
		pfree(params.data);
		pfree(st);
	}
}

/* Sink upsert: MERGE of the nodes, then their relationships. */
static void
neo4j_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	write_rows(conn, route, rows, n, out, false);
}

/* Sink remove: DETACH DELETE of the keys' nodes. */
static void
neo4j_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	write_rows(conn, route, keys, n, out, true);
}

/* Sink truncate: every node of the label. */
static void
neo4j_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	Neo4jSink  *s = sink_for(route);
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, "MATCH (n:");
	neo4j_append_ident(&b, s->label);
	appendStringInfoString(&b, ") DETACH DELETE n");
	run_schema(conn, b.data);
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps neo4j_sink_ops = {
	.prepare = neo4j_prepare,
	.upsert = neo4j_upsert,
	.remove = neo4j_remove,
	.truncate = neo4j_truncate,
};

/* RETURN n.`c1`, n.`c2`, ... of every route column. */
static void
append_return_columns(StringInfo b, MeshRoute *route)
{
	for (int c = 0; c < route->ncolumns; c++)
	{
		appendStringInfoString(b, c ? ", n." : "n.");
		neo4j_append_ident(b, route->columns[c]);
	}
}

/* Verify: the target's row of each key (NULL when no node has it). */
void
neo4j_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	Neo4jConn  *nc = conn;
	Neo4jSink  *s = sink_for(route);
	StringInfoData cypher,
				params;
	Neo4jStatement st;
	json_t	   *data;
	size_t		i;
	json_t	   *item;

	for (int k = 0; k < n; k++)
		rows[k] = NULL;
	if (n == 0)
		return;
	initStringInfo(&cypher);
	initStringInfo(&params);
	appendStringInfo(&cypher, "UNWIND $rows AS r MATCH %s RETURN r.`_mesh_i`, ", s->match_key);
	append_return_columns(&cypher, route);
	appendStringInfoString(&params, "{\"rows\":[");
	for (int k = 0; k < n; k++)
	{
		appendStringInfo(&params, "%s{\"_mesh_i\":%d", k ? "," : "", k);
		for (int j = 0; j < route->nkeys; j++)
		{
			int			c = route->key_index[j];

			appendStringInfoChar(&params, ',');
			mesh_json_append_string(&params, route->columns[c], strlen(route->columns[c]));
			appendStringInfoChar(&params, ':');
			mesh_json_append_typed(&params, route->types[c], keys[k][j]);
		}
		appendStringInfoChar(&params, '}');
	}
	appendStringInfoString(&params, "]}");
	st.cypher = cypher.data;
	st.params = params.data;
	data = json_object_get(json_array_get(neo4j_run(nc, &st, 1, "a verify read"), 0), "data");
	json_array_foreach(data, i, item)
	{
		json_t	   *row = json_object_get(item, "row");
		json_t	   *idx = json_array_get(row, 0);
		char	  **values;

		if (!json_is_array(row) || (int) json_array_size(row) != route->ncolumns + 1 ||
			!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) >= n)
			mesh_json_malformed(nc->servername, "a verify read", "A row is not [index, values...].");
		values = palloc(sizeof(char *) * Max(route->ncolumns, 1));
		for (int c = 0; c < route->ncolumns; c++)
			values[c] = neo4j_value_text(json_array_get(row, c + 1));
		rows[json_integer_value(idx)] = values;
	}
}

typedef struct Neo4jKeyScan
{
	int64		skip;
	bool		exhausted;
} Neo4jKeyScan;

/* Verify: the keys of the label's nodes, a page at a time in key order. */
int
neo4j_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	Neo4jConn  *nc = conn;
	Neo4jSink  *s = sink_for(route);
	Neo4jKeyScan *ks = *state;
	StringInfoData b;
	Neo4jStatement st;
	json_t	   *data;
	size_t		i;
	json_t	   *item;
	int			got = 0;

	if (ks == NULL)
		*state = ks = MemoryContextAllocZero(route->cxt, sizeof(Neo4jKeyScan));
	if (ks->exhausted)
		return 0;
	initStringInfo(&b);
	appendStringInfoString(&b, "MATCH (n:");
	neo4j_append_ident(&b, s->label);
	appendStringInfoString(&b, ") WHERE ");
	for (int k = 0; k < route->nkeys; k++)
	{
		appendStringInfoString(&b, k ? " AND n." : "n.");
		neo4j_append_ident(&b, route->columns[route->key_index[k]]);
		appendStringInfoString(&b, " IS NOT NULL");
	}
	appendStringInfoString(&b, " WITH n ORDER BY ");
	for (int k = 0; k < route->nkeys; k++)
	{
		appendStringInfoString(&b, k ? ", n." : "n.");
		neo4j_append_ident(&b, route->columns[route->key_index[k]]);
	}
	appendStringInfo(&b, " SKIP " INT64_FORMAT " LIMIT %d RETURN ", ks->skip, max);
	for (int k = 0; k < route->nkeys; k++)
	{
		appendStringInfoString(&b, k ? ", n." : "n.");
		neo4j_append_ident(&b, route->columns[route->key_index[k]]);
	}
	st.cypher = b.data;
	st.params = NULL;
	data = json_object_get(json_array_get(neo4j_run(nc, &st, 1, "a verify scan"), 0), "data");
	json_array_foreach(data, i, item)
	{
		json_t	   *row = json_object_get(item, "row");
		char	  **key = palloc(sizeof(char *) * route->nkeys);

		if (!json_is_array(row) || (int) json_array_size(row) != route->nkeys)
			mesh_json_malformed(nc->servername, "a verify scan", "A row is not the key's values.");
		for (int k = 0; k < route->nkeys; k++)
			key[k] = neo4j_value_text(json_array_get(row, k));
		keys[got++] = key;
	}
	ks->skip += got;
	ks->exhausted = got < max;
	return got;
}
