/*
 * line_protocol.h: an encoder of InfluxDB line protocol, shared by every
 * connector that writes it (InfluxDB, VictoriaMetrics, ...).
 *
 *   measurement[,tag=value...] field=value[,field=value...] timestamp\n
 *
 * Every name and value is escaped as the InfluxDB 1.x parser reads it back
 * exactly; what it cannot read back exactly (a newline in a name or tag, a
 * backslash right before an escaped character, a measurement starting with
 * '#', NaN or infinite floats, an empty tag value...) is an error naming
 * the column and saying why, never a silently different value.  Values are
 * given in PostgreSQL text form.
 */
#ifndef MESH_LINE_PROTOCOL_H
#define MESH_LINE_PROTOCOL_H

#include "lib/stringinfo.h"

/* The type of a field value. */
typedef enum MeshLpType
{
	MESH_LP_FLOAT,				/* 1.5 */
	MESH_LP_INTEGER,			/* 15i */
	MESH_LP_BOOLEAN,			/* t / f */
	MESH_LP_STRING				/* "text" */
} MeshLpType;

/* Timestamp precision of a write (the /write?precision= parameter). */
typedef enum MeshLpPrecision
{
	MESH_LP_NS,
	MESH_LP_US,
	MESH_LP_MS,
	MESH_LP_S
} MeshLpPrecision;

/* Allowed values of a precision option, for an enum option declaration. */
#define MESH_LP_PRECISIONS "ns|u|ms|s"

extern MeshLpType mesh_lp_type_of(Oid typid);
extern const char *mesh_lp_type_name(MeshLpType type);
extern MeshLpPrecision mesh_lp_precision(const char *name);
extern const char *mesh_lp_precision_name(MeshLpPrecision p);

/*
 * Writing lines: names escaped (and validated) once, then per line
 *   measurement_text [,key_text=tag_value ...] key_text=field_value[,...] end
 * Errors name column, or the name itself when column is NULL.
 */
extern char *mesh_lp_measurement_text(const char *name);
extern char *mesh_lp_key_text(const char *key, bool tag, const char *column);
extern void mesh_lp_tag_value(StringInfo buf, const char *value, const char *column);
extern void mesh_lp_field_value(StringInfo buf, MeshLpType type, const char *value,
								const char *column);
extern void mesh_lp_end(StringInfo buf, int64 timestamp);

/*
 * Timestamps: a timestamptz (or a timestamp taken as UTC) as an epoch
 * count in precision p; errors when outside what line protocol can hold
 * (1677-09-21 to 2262-04-11) or, with finer_hint as its hint, finer than p.
 * mesh_lp_round_time rounds to the nearest unit of p (halves up).
 * mesh_lp_parse_time reads the text form (PostgreSQL microseconds).
 */
extern int64 mesh_lp_time(int64 pg_usecs, MeshLpPrecision p, const char *column,
						  const char *finer_hint);
extern int64 mesh_lp_round_time(int64 pg_usecs, MeshLpPrecision p);
extern int64 mesh_lp_parse_time(const char *text, bool with_tz);

/* Nanoseconds since the Unix epoch <-> PostgreSQL microseconds (floor). */
extern int64 mesh_lp_ns_to_pg(int64 ns);
extern bool mesh_lp_pg_to_ns(int64 pg_usecs, int64 *ns);

/*
 * A replication route written as line protocol (line_protocol_route.c).
 * Route options: measurement (default: the source table's name), tags
 * (source columns written as tags, a JSON array or a comma-separated
 * string: mesh_route_option_columns; default none), time
 * (the timestamp column; default: the table's only timestamptz or
 * timestamp column), round_time (true: a time finer than the write
 * precision is rounded to the nearest unit, halves up; default false: it
 * is an error; refused when the time is in the primary key, where two rows
 * could round to one point).  Every other column is a field.  A point is
 * identified by measurement, tags and time, so every primary key column
 * must be a tag or the time column, else two rows could overwrite each
 * other.  Indexes are into route->columns.
 */
typedef struct MeshLpRoute
{
	char	   *measurement;
	char	   *measurement_text;	/* escaped */
	char	  **key_text;		/* escaped key per column (tags and fields) */
	int			time_index;
	bool		time_with_tz;	/* timestamptz, else timestamp taken as UTC */
	int			ntags;
	int		   *tag_index;		/* sorted by key, as InfluxDB prefers */
	int			nfields;
	int		   *field_index;
	MeshLpType *field_types;
	bool		movable;		/* a tag or the time is not part of the primary
								 * key: an update can move the point */
	MeshLpPrecision precision;
	bool		round_time;		/* round times to precision, else finer is an error */
	char	   *finer_hint;		/* that error's hint, naming option round_time */
} MeshLpRoute;

struct MeshRoute;
extern MeshLpRoute *mesh_lp_route(struct MeshRoute *route, MeshLpPrecision precision);
extern void mesh_lp_route_line(StringInfo buf, MeshLpRoute *lr, struct MeshRoute *route,
							   char **values);
extern int64 mesh_lp_route_time(MeshLpRoute *lr, struct MeshRoute *route, char **values);
extern int64 mesh_lp_route_time_in(MeshLpRoute *lr, struct MeshRoute *route, const char *text,
								   MeshLpPrecision p);
extern void mesh_lp_route_expected(MeshLpRoute *lr, struct MeshRoute *route, char **values);

#endif							/* MESH_LINE_PROTOCOL_H */
