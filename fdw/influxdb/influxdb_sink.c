/*
 * influxdb_sink.c: InfluxDB as a replication target, and its side of
 * verify.
 *
 * Layout (line_protocol.h): route options measurement, tags, time; every
 * primary key column is a tag or the time column; other columns are
 * fields.  On the sink engine, which hands over the last change of each
 * key: every line is encoded first (a row that cannot be written fails
 * before anything is sent); then one /query POST of InfluxQL DELETEs for
 * the points that must go (deleted rows; updated rows with a NULL field,
 * since a write merges fields into an existing point; every row when an
 * update can move its point: a tag or the time outside the primary key);
 * then one /write POST of all the lines.  InfluxDB takes about a
 * millisecond per DELETE, so those are the slow events.  A TRUNCATE deletes the measurement's
 * points.  Every step is idempotent, so a replay converges.
 *
 * Verify reads points back by primary key (pk tags, and the time range of
 * each group of keys) and pages through all points with one streamed
 * SELECT.  Values come back in PostgreSQL text form: tags as written,
 * fields as JSON scalars (floats in shortest form), time as timestamptz.
 */
#include "postgres.h"

#include "influxdb_internal.h"

#include "catalog/pg_type.h"
#include "utils/memutils.h"

#include "route_keys.h"

/* The route's layout, cached with the route. */
static MeshLpRoute *
route_layout(InfluxConn *ic, MeshRoute *route)
{
	if (route->private == NULL)
		route->private = mesh_lp_route(route, ic->precision);
	return route->private;
}

/* Validate the options; create the database if it is missing. */
static void
influx_prepare(void *conn, MeshRoute *route)
{
	InfluxConn *ic = conn;
	const char *db = influx_database(ic, NULL);

	(void) mesh_lp_route(route, ic->precision);
	influx_run(ic, NULL, psprintf("CREATE DATABASE %s", influx_quote_ident(db)),
			   "creating the database");
}

static bool
is_key(MeshRoute *route, int c)
{
	for (int k = 0; k < route->nkeys; k++)
		if (route->key_index[k] == c)
			return true;
	return false;
}

/*
 * The InfluxQL condition selecting the point(s) of a row by its primary
 * key: its pk tags, and (with_time) its time when the time is in the key.
 */
static char *
key_condition(MeshLpRoute *lr, MeshRoute *route, char **values, bool with_time)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int t = 0; t < lr->ntags; t++)
	{
		int			c = lr->tag_index[t];

		if (!is_key(route, c))
			continue;
		appendStringInfo(&buf, "%s%s", buf.len ? " AND " : "",
						 influx_match(psprintf("%s::tag", influx_quote_ident(route->columns[c])),
									  true, values[c] ? values[c] : ""));
	}
	if (with_time && is_key(route, lr->time_index))
	{
		int64		ns = mesh_lp_route_time_in(lr, route, values[lr->time_index], MESH_LP_NS);

		appendStringInfo(&buf, "%stime = " INT64_FORMAT, buf.len ? " AND " : "", ns);
	}
	return buf.data;
}

/* Append the InfluxQL DELETE of a row's point(s) to buf. */
static void
append_delete(StringInfo buf, MeshLpRoute *lr, MeshRoute *route, char **values)
{
	appendStringInfo(buf, "%sDELETE FROM %s WHERE %s", buf->len ? "; " : "",
					 influx_quote_ident(lr->measurement),
					 key_condition(lr, route, values, true));
}

/*
 * Sink upsert: the deletes a row needs first (see the file comment), then
 * one /write of every line.  Each POST is taken or refused whole: the call
 * is one item (the engine splits a refused one).
 */
static void
influx_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	InfluxConn *ic = conn;
	MeshLpRoute *lr = route_layout(ic, route);
	const char *db = influx_database(ic, NULL);
	StringInfoData lines;
	StringInfoData deletes;

	initStringInfo(&lines);
	initStringInfo(&deletes);
	for (int i = 0; i < n; i++)
	{
		/*
		 * A NULL field must not leave an older value behind: delete first,
		 * unless this is the key's first event here and an insert (its point
		 * is absent: a delete removed any older one).
		 */
		bool		remove = lr->movable;
		bool		fresh = rows[i].op == 'I' && rows[i].first;

		mesh_lp_route_line(&lines, lr, route, rows[i].values);
		for (int f = 0; f < lr->nfields && !remove && !fresh; f++)
			remove = rows[i].values[lr->field_index[f]] == NULL;
		if (remove)
			append_delete(&deletes, lr, route, rows[i].values);
	}
	if (deletes.len > 0)
		influx_run(ic, db, deletes.data, "a replicated delete");
	influx_write(ic, db, &lines);
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink remove: one /query POST of InfluxQL DELETEs. */
static void
influx_remove(void *conn, MeshRoute *route, MeshSinkRow *keys, int n, MeshItemOutcome *out)
{
	InfluxConn *ic = conn;
	MeshLpRoute *lr = route_layout(ic, route);
	StringInfoData deletes;

	initStringInfo(&deletes);
	for (int i = 0; i < n; i++)
		append_delete(&deletes, lr, route, keys[i].values);
	influx_run(ic, influx_database(ic, NULL), deletes.data, "a replicated delete");
	for (int i = 0; i < n; i++)
		out[i].status = MESH_ITEM_ACKED;
}

/* Sink truncate: every point of the measurement. */
static void
influx_truncate(void *conn, MeshRoute *route, MeshItemOutcome *out)
{
	InfluxConn *ic = conn;
	MeshLpRoute *lr = route_layout(ic, route);

	influx_run(ic, influx_database(ic, NULL),
			   psprintf("DELETE FROM %s", influx_quote_ident(lr->measurement)),
			   "a replicated truncate");
	out->status = MESH_ITEM_ACKED;
}

const MeshSinkOps influx_sink_ops = {
	.max_batch = 5000,
	.prepare = influx_prepare,
	.upsert = influx_upsert,
	.remove = influx_remove,
	.truncate = influx_truncate,
};

/*
 * SELECT of the route's fields then its tags (mapped by position: the
 * answer's column k + 1 is route column select[k]).
 */
static char *
route_select(MeshLpRoute *lr, MeshRoute *route, int **select, int *nselect)
{
	StringInfoData buf;

	*select = palloc(sizeof(int) * (lr->nfields + lr->ntags + 1));
	*nselect = 0;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (int f = 0; f < lr->nfields; f++)
	{
		appendStringInfo(&buf, "%s%s::field", f ? ", " : "",
						 influx_quote_ident(route->columns[lr->field_index[f]]));
		(*select)[(*nselect)++] = lr->field_index[f];
	}
	for (int t = 0; t < lr->ntags; t++)
	{
		appendStringInfo(&buf, ", %s::tag", influx_quote_ident(route->columns[lr->tag_index[t]]));
		(*select)[(*nselect)++] = lr->tag_index[t];
	}
	appendStringInfo(&buf, " FROM %s", influx_quote_ident(lr->measurement));
	return buf.data;
}

/* The current answer row as text values aligned with route->columns. */
static char **
row_values(InfluxReader *r, MeshLpRoute *lr, MeshRoute *route, int *select, int nselect)
{
	char	  **values = palloc0(sizeof(char *) * Max(route->ncolumns, 1));

	if (json_array_size(r->row) != nselect + 1)
		mesh_json_malformed(r->ic->servername, r->what, "A row does not have one value per column.");
	values[lr->time_index] = influx_time_text(json_array_get(r->row, 0), lr->time_with_tz,
											  r->ic->servername);
	for (int k = 0; k < nselect; k++)
	{
		json_t	   *v = json_array_get(r->row, k + 1);

		values[select[k]] = mesh_json_scalar_text(v);
		if (k >= lr->nfields && values[select[k]] && values[select[k]][0] == '\0')
			values[select[k]] = NULL;	/* an absent tag */
	}
	return values;
}

/* The key string of a row (mesh_route_key_string), its time as the target holds it, in ns. */
static char *
lookup_key(MeshLpRoute *lr, MeshRoute *route, char **values)
{
	char	  **norm = palloc(sizeof(char *) * Max(route->ncolumns, 1));

	memcpy(norm, values, sizeof(char *) * route->ncolumns);
	if (values[lr->time_index])
		norm[lr->time_index] =
			psprintf(INT64_FORMAT, mesh_lp_route_time_in(lr, route, values[lr->time_index],
														 MESH_LP_NS));
	return mesh_route_key_string(route, norm);
}

/* A group of wanted keys sharing their pk tags (condition). */
typedef struct KeyGroup
{
	char	   *cond;
	int64		ns;
} KeyGroup;

static int
compare_groups(const void *a, const void *b)
{
	const KeyGroup *x = a;
	const KeyGroup *y = b;
	int			c = strcmp(x->cond, y->cond);

	return c ? c : (x->ns < y->ns ? -1 : x->ns > y->ns);
}

/*
 * The statements reading the points of keys[0..n): with the time in the
 * key, one per distinct set of pk tags, bounded by its keys' times;
 * without it, the keys' tag conditions ORed, 100 per statement.
 */
static char *
fetch_statements(MeshLpRoute *lr, MeshRoute *route, int n, char ***keys, const char *sel)
{
	bool		time_key = is_key(route, lr->time_index);
	KeyGroup   *g = palloc(sizeof(KeyGroup) * n);
	char	  **full = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	StringInfoData q;

	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < route->nkeys; k++)
			full[route->key_index[k]] = keys[i][k];
		g[i].ns = 0;
		if (time_key)
		{
			g[i].ns = mesh_lp_route_time_in(lr, route, full[lr->time_index], MESH_LP_NS);
		}
		g[i].cond = key_condition(lr, route, full, false);
	}
	qsort(g, n, sizeof(KeyGroup), compare_groups);
	initStringInfo(&q);
	for (int i = 0; i < n;)
	{
		int			j = i + 1;

		if (time_key)
		{
			while (j < n && strcmp(g[j].cond, g[i].cond) == 0)
				j++;
			appendStringInfo(&q, "%s%s WHERE %s%stime >= " INT64_FORMAT " AND time <= " INT64_FORMAT,
							 q.len ? "; " : "", sel, g[i].cond, g[i].cond[0] ? " AND " : "",
							 g[i].ns, g[j - 1].ns);
		}
		else
		{
			appendStringInfo(&q, "%s%s WHERE (%s)", q.len ? "; " : "", sel, g[i].cond);
			for (; j < n && j < i + 100; j++)
				appendStringInfo(&q, " OR (%s)", g[j].cond);
		}
		i = j;
	}
	return q.data;
}

/* verify (connector.h fetch_request): one request for keys[0..n)'s points. */
void
influx_fetch_request(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpRequest *req)
{
	InfluxConn *ic = conn;
	MeshLpRoute *lr = route_layout(ic, route);
	int		   *select;
	int			nselect;
	char	   *sel = route_select(lr, route, &select, &nselect);

	influx_query_request(influx_database(ic, NULL), fetch_statements(lr, route, n, keys, sel),
						 NULL, true, "a verify read", req);
}

/* verify (connector.h fetch_answer): the answer's points matched to keys. */
void
influx_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys, MeshHttpStream *answer,
					char ***rows)
{
	InfluxConn *ic = conn;
	MeshLpRoute *lr = route_layout(ic, route);
	MeshKeyed  *wanted = palloc(sizeof(MeshKeyed) * Max(n, 1));
	char	  **full = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	int		   *select;
	int			nselect;
	InfluxReader r;

	(void) route_select(lr, route, &select, &nselect);
	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < route->nkeys; k++)
			full[route->key_index[k]] = keys[i][k];
		mesh_keyed_set(&wanted[i], lookup_key(lr, route, full), i);
	}
	mesh_keyed_sort(wanted, n);
	influx_query_read(ic, answer, "a verify read", &r);
	while (influx_query_next(&r))
	{
		char	  **values = row_values(&r, lr, route, select, nselect);
		MeshKeyed  *hit = mesh_keyed_find(wanted, n, lookup_key(lr, route, values));

		if (hit)
			rows[hit->index] = values;
	}
	*answer = r.stream;			/* read to its end */
	MemoryContextDelete(r.doc_cxt);
}

/* verify's page through the target: one streamed SELECT of every point. */
typedef struct KeyScan
{
	InfluxReader reader;
	int		   *select;
	int			nselect;
	bool		done;
} KeyScan;

int
influx_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys)
{
	InfluxConn *ic = conn;
	MeshLpRoute *lr = route_layout(ic, route);
	KeyScan    *ks = *state;
	int			n = 0;

	if (ks == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(route->cxt);
		char	   *sel;

		ks = palloc0(sizeof(KeyScan));
		*state = ks;
		sel = route_select(lr, route, &ks->select, &ks->nselect);
		influx_query_start(ic, influx_database(ic, NULL), sel, NULL, true, "a verify scan",
						   &ks->reader);
		MemoryContextSwitchTo(old);
	}
	while (!ks->done && n < max)
	{
		char	  **values;

		if (!influx_query_next(&ks->reader))
		{
			ks->done = true;
			MemoryContextDelete(ks->reader.doc_cxt);
			break;
		}
		values = row_values(&ks->reader, lr, route, ks->select, ks->nselect);
		keys[n] = palloc(sizeof(char *) * Max(route->nkeys, 1));
		for (int k = 0; k < route->nkeys; k++)
			keys[n][k] = values[route->key_index[k]];
		n++;
	}
	return n;
}

/* verify (connector.h expected_values): the time as the route writes it. */
void
influx_expected_values(void *conn, MeshRoute *route, char **values)
{
	mesh_lp_route_expected(route_layout(conn, route), route, values);
}
