/*
 * change_envelope.c: one change as the stream and lake sinks write it
 * (Kafka today), Debezium-style:
 *
 *   key    the primary key's text when it has one column, else a JSON
 *          object of the key columns; no key for a truncate
 *   value  {"before": ..., "after": ..., "op": "c|u|d|r|t",
 *           "source": {"connector": "mesh", "schema": ..., "table": ...,
 *                      "event_id": ..., "xid": ...},
 *           "ts_ms": ...}
 *
 * after is the whole new row for c (insert), u (update) and r (a row
 * copied by the backfill, which has no transaction id); before is null
 * except for d (delete), where it holds the key columns only (the event
 * log keeps no old row).  Column values are JSON numbers for integer,
 * float and numeric columns (strings when not finite), booleans for
 * boolean, the JSON itself for json/jsonb, and PostgreSQL's text form as a
 * string for every other type.  ts_ms is the capture time (milliseconds
 * since the Unix epoch), so a replay writes the same envelope again.
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "change_envelope.h"
#include "json_value.h"

/* True when s is a JSON number (-?int(.frac)?(e[+-]?int)?). */
static bool
is_json_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char) *p))
		return false;
	if (*p == '0' && isdigit((unsigned char) p[1]))
		return false;
	while (isdigit((unsigned char) *p))
		p++;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return *p == '\0';
}

/* One column value (text form, NULL = SQL NULL) as JSON. */
static void
append_value(StringInfo buf, Oid type, const char *v)
{
	if (v == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			if (is_json_number(v))
			{
				appendStringInfoString(buf, v);
				return;
			}
			break;
		case BOOLOID:
			appendStringInfoString(buf, v[0] == 't' ? "true" : "false");
			return;
		case JSONOID:
		case JSONBOID:
			appendStringInfoString(buf, v);
			return;
	}
	mesh_json_append_string(buf, v, strlen(v));
}

/* {"col": value, ...} of the given columns of ev (all when keys_only is false). */
void
mesh_change_row(StringInfo buf, MeshRoute *route, MeshEvent *ev, bool keys_only)
{
	int			n = keys_only ? route->nkeys : route->ncolumns;

	appendStringInfoChar(buf, '{');
	for (int i = 0; i < n; i++)
	{
		int			c = keys_only ? route->key_index[i] : i;

		if (i > 0)
			appendStringInfoChar(buf, ',');
		mesh_json_append_string(buf, route->columns[c], strlen(route->columns[c]));
		appendStringInfoChar(buf, ':');
		append_value(buf, route->types[c], ev->values[c]);
	}
	appendStringInfoChar(buf, '}');
}

/* The envelope's op of ev: c, u, d, r (a backfilled row) or t. */
const char *
mesh_change_op(MeshEvent *ev)
{
	switch (ev->op)
	{
		case 'I':
			return "c";
		case 'U':
			return ev->xid == 0 ? "r" : "u";
		case 'D':
			return "d";
		default:
			return "t";
	}
}

/* The envelope of one event (see the file comment). */
void
mesh_change_envelope(StringInfo buf, MeshRoute *route, MeshEvent *ev)
{
	const char *op = mesh_change_op(ev);
	bool		backfill = ev->xid == 0;

	appendStringInfoString(buf, "{\"before\":");
	if (ev->op == 'D')
		mesh_change_row(buf, route, ev, true);
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, ",\"after\":");
	if (ev->op == 'I' || ev->op == 'U')
		mesh_change_row(buf, route, ev, false);
	else
		appendStringInfoString(buf, "null");
	appendStringInfo(buf, ",\"op\":\"%s\",\"source\":{\"connector\":\"mesh\",\"schema\":", op);
	mesh_json_append_string(buf, route->source_schema, strlen(route->source_schema));
	appendStringInfoString(buf, ",\"table\":");
	mesh_json_append_string(buf, route->source_name, strlen(route->source_name));
	appendStringInfo(buf, ",\"event_id\":" INT64_FORMAT ",\"xid\":", ev->id);
	if (backfill)
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, INT64_FORMAT, ev->xid);
	appendStringInfoString(buf, "},\"ts_ms\":");
	if (ev->captured_at == 0)
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, INT64_FORMAT, ev->captured_at / 1000 + MESH_UNIX_EPOCH_MS);
	appendStringInfoChar(buf, '}');
}

/* The key of ev (empty for a truncate: the caller sends none). */
void
mesh_change_key(StringInfo buf, MeshRoute *route, MeshEvent *ev)
{
	if (ev->op == 'T')
		return;
	if (route->nkeys == 1)
	{
		const char *v = ev->values[route->key_index[0]];

		appendStringInfoString(buf, v ? v : "");
		return;
	}
	mesh_change_row(buf, route, ev, true);
}

