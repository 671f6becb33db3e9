/*
 * line_protocol_route.c: a replication route's rows as line protocol, for
 * every sink that writes it (InfluxDB, VictoriaMetrics).  The layout rules
 * are in line_protocol.h; mesh_lp_route validates them with errors naming
 * the option, the value and what is allowed.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "connector.h"
#include "line_protocol.h"

/* The unit of a write precision, for messages: "millisecond". */
static const char *
unit_name(MeshLpPrecision p)
{
	static const char *const names[] = {"nanosecond", "microsecond", "millisecond", "second"};

	return names[p];
}

static bool
is_time_type(Oid typid)
{
	return typid == TIMESTAMPTZOID || typid == TIMESTAMPOID;
}

/* The time column: option time, else the only timestamp(tz) column. */
static int
find_time_column(MeshRoute *route)
{
	const char *name = mesh_route_option(route, "time", NULL);
	int			found = -1;
	int			n = 0;

	if (name != NULL)
	{
		found = mesh_route_column_index(route, name);
		if (found < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route option time names \"%s\", which is not a column of table \"%s\"",
							name, route->source_name),
					 errhint("Use one of: %s.", mesh_route_column_list(route))));
		if (!is_time_type(route->types[found]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route option time names column \"%s\" of type %s", name,
							route->type_names[found]),
					 errhint("The time column must be of type timestamptz or timestamp.")));
		return found;
	}
	for (int c = 0; c < route->ncolumns; c++)
		if (is_time_type(route->types[c]))
		{
			found = c;
			n++;
		}
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route option time is required: table \"%s\" has %d timestamptz or timestamp columns",
						route->source_name, n),
				 errhint("Name the column holding each point's time, e.g. '{\"time\": \"ts\"}'; the wall clock is never used, so a replay overwrites the same points.")));
	return found;
}

static int
compare_tag_keys(const void *a, const void *b, void *arg)
{
	MeshRoute  *route = arg;

	return strcmp(route->columns[*(const int *) a], route->columns[*(const int *) b]);
}

/* Parse option tags (mesh_route_option_columns) into column indexes sorted by key. */
static void
parse_tags(MeshRoute *route, MeshLpRoute *lr)
{
	lr->ntags = mesh_route_option_columns(route, "tags", &lr->tag_index);
	for (int t = 0; t < lr->ntags; t++)
		if (lr->tag_index[t] == lr->time_index)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route option tags names the time column \"%s\"",
							route->columns[lr->time_index]),
					 errhint("The time column is the point's timestamp, not a tag.")));
	qsort_arg(lr->tag_index, lr->ntags, sizeof(int), compare_tag_keys, route);
	for (int t = 0; t < lr->ntags; t++)
		lr->key_text[lr->tag_index[t]] = mesh_lp_key_text(route->columns[lr->tag_index[t]],
														   true, NULL);
}

/* Option round_time; refused when the time is in the primary key. */
static bool
parse_round_time(MeshRoute *route, MeshLpRoute *lr)
{
	bool		round = false;

	(void) parse_bool(mesh_route_option(route, "round_time", "false"), &round);
	for (int k = 0; round && k < route->nkeys; k++)
		if (route->key_index[k] == lr->time_index)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("route option round_time cannot be used when time column \"%s\" is part of the primary key of table \"%s\"",
							route->columns[lr->time_index], route->source_name),
					 errdetail("Rows whose times round to the same %s would be written to the same point and overwrite each other.",
							   unit_name(lr->precision)),
					 errhint("Store times in whole %ss instead.", unit_name(lr->precision))));
	return round;
}

static bool
is_tag(MeshLpRoute *lr, int c)
{
	for (int t = 0; t < lr->ntags; t++)
		if (lr->tag_index[t] == c)
			return true;
	return false;
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
 * The line protocol layout of a route (allocated in route->cxt); errors
 * name a bad option and what is allowed.
 */
MeshLpRoute *
mesh_lp_route(MeshRoute *route, MeshLpPrecision precision)
{
	MemoryContext old = MemoryContextSwitchTo(route->cxt);
	MeshLpRoute *lr = palloc0(sizeof(MeshLpRoute));

	lr->precision = precision;
	lr->measurement = pstrdup(mesh_route_option(route, "measurement", route->source_name));
	lr->measurement_text = mesh_lp_measurement_text(lr->measurement);
	lr->key_text = palloc0(sizeof(char *) * Max(route->ncolumns, 1));
	lr->time_index = find_time_column(route);
	lr->time_with_tz = route->types[lr->time_index] == TIMESTAMPTZOID;
	lr->round_time = parse_round_time(route, lr);
	lr->finer_hint = psprintf("Set the route option round_time to true to round times to the nearest %s (verify then compares the rounded times), or store times in whole %ss.",
							  unit_name(precision), unit_name(precision));
	parse_tags(route, lr);
	for (int k = 0; k < route->nkeys; k++)
	{
		int			c = route->key_index[k];

		if (c != lr->time_index && !is_tag(lr, c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("primary key column \"%s\" of table \"%s\" must be a tag or the time column",
							route->columns[c], route->source_name),
					 errdetail("A point is identified by its measurement, tags and time: rows differing only in \"%s\" would overwrite each other.",
							   route->columns[c]),
					 errhint("Add \"%s\" to the route option tags.", route->columns[c])));
	}
	lr->movable = !is_key(route, lr->time_index);
	for (int t = 0; t < lr->ntags; t++)
		if (!is_key(route, lr->tag_index[t]))
			lr->movable = true;
	lr->field_index = palloc(sizeof(int) * Max(route->ncolumns, 1));
	lr->field_types = palloc(sizeof(MeshLpType) * Max(route->ncolumns, 1));
	for (int c = 0; c < route->ncolumns; c++)
	{
		if (c == lr->time_index || is_tag(lr, c))
			continue;
		lr->key_text[c] = mesh_lp_key_text(route->columns[c], false, NULL);
		lr->field_index[lr->nfields] = c;
		lr->field_types[lr->nfields++] = mesh_lp_type_of(route->types[c]);
	}
	if (lr->nfields == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no column left to write as a field", route->source_name),
				 errdetail("Every point needs at least one field; the time column and the tags (%s) are not fields.",
						   mesh_route_option(route, "tags", "none"))));
	MemoryContextSwitchTo(old);
	return lr;
}

/*
 * The time the target holds for text, a value of the route's time column,
 * in precision p: rounded to the route's precision when option round_time
 * is set; else a time finer than p is an error whose hint names the option.
 */
int64
mesh_lp_route_time_in(MeshLpRoute *lr, MeshRoute *route, const char *text, MeshLpPrecision p)
{
	int64		us = mesh_lp_parse_time(text, lr->time_with_tz);

	if (lr->round_time)
		us = mesh_lp_round_time(us, lr->precision);
	return mesh_lp_time(us, p, route->columns[lr->time_index], lr->finer_hint);
}

/* The row's time in the route's precision. */
int64
mesh_lp_route_time(MeshLpRoute *lr, MeshRoute *route, char **values)
{
	const char *t = values[lr->time_index];

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("time column \"%s\" of table \"%s\" is NULL",
						route->columns[lr->time_index], route->source_name),
				 errdetail("Every point needs a time; the wall clock is never used.")));
	return mesh_lp_route_time_in(lr, route, t, lr->precision);
}

/*
 * Verify: rewrite a source row's values in place as the target holds them
 * (with round_time, the time rounded to the route's precision).
 */
void
mesh_lp_route_expected(MeshLpRoute *lr, MeshRoute *route, char **values)
{
	const char *t = values[lr->time_index];
	int64		us;

	if (!lr->round_time || t == NULL)
		return;
	us = mesh_lp_round_time(mesh_lp_parse_time(t, lr->time_with_tz), lr->precision);
	values[lr->time_index] = DatumGetCString(DirectFunctionCall1(lr->time_with_tz ? timestamptz_out :
																 timestamp_out,
																 Int64GetDatum(us)));
}

/*
 * Append the line of one row (values in text form, aligned with
 * route->columns).  NULL tags and fields are left out; a row whose fields
 * are all NULL cannot be a point: an error.
 */
void
mesh_lp_route_line(StringInfo buf, MeshLpRoute *lr, MeshRoute *route, char **values)
{
	int			start = buf->len;
	bool		first = true;
	int64		ts = mesh_lp_route_time(lr, route, values);

	appendStringInfoString(buf, lr->measurement_text);
	for (int t = 0; t < lr->ntags; t++)
	{
		int			c = lr->tag_index[t];

		if (values[c] == NULL || values[c][0] == '\0')
			continue;
		appendStringInfoChar(buf, ',');
		appendStringInfoString(buf, lr->key_text[c]);
		appendStringInfoChar(buf, '=');
		mesh_lp_tag_value(buf, values[c], route->columns[c]);
	}
	for (int f = 0; f < lr->nfields; f++)
	{
		int			c = lr->field_index[f];

		if (values[c] == NULL)
			continue;
		appendStringInfoChar(buf, first ? ' ' : ',');
		appendStringInfoString(buf, lr->key_text[c]);
		appendStringInfoChar(buf, '=');
		mesh_lp_field_value(buf, lr->field_types[f], values[c], route->columns[c]);
		first = false;
	}
	if (first)
	{
		buf->len = start;
		buf->data[start] = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("row of table \"%s\" has no non-NULL field to write", route->source_name),
				 errdetail("A point needs at least one field; every column other than the time and the tags is NULL.")));
	}
	mesh_lp_end(buf, ts);
}
