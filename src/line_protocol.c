/*
 * line_protocol.c: the InfluxDB line protocol encoder (see the header).
 *
 * Escaping, as the InfluxDB 1.x parser reads it:
 *   measurement           comma, space             -> \, and \ (space)
 *   tag keys and values,  comma, equals sign, space -> \, \= and \ (space)
 *   field keys
 *   string field values   double quote, backslash  -> \" and \\
 * A backslash before any other character is kept as it is, so a name or tag
 * value whose backslash comes right before a comma, equals sign, space or
 * its end cannot be written exactly (the parser would read an escape): an
 * error.  A newline ends a line anywhere but inside a string field value,
 * where InfluxDB 1.x keeps it raw; names and tag values holding one are an
 * error.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "line_protocol.h"

/* Valid nanosecond timestamps: InfluxDB's MinNanoTime and MaxNanoTime. */
#define LP_MIN_NS (PG_INT64_MIN + 2)
#define LP_MAX_NS (PG_INT64_MAX - 1)
/* PostgreSQL epoch (2000-01-01) in Unix microseconds */
#define PG_EPOCH_US INT64CONST(946684800000000)

/* Error: what (of column, unless NULL) cannot be written; hint may be NULL. */
static void
lp_error_hint(const char *column, const char *what, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
			 column ? errmsg("%s of column \"%s\" cannot be written in line protocol", what, column) :
			 errmsg("%s cannot be written in line protocol", what),
			 errdetail("%s", detail),
			 hint ? errhint("%s", hint) : 0));
}

static void
lp_error(const char *column, const char *what, const char *detail)
{
	lp_error_hint(column, what, detail, NULL);
}

/* The line protocol field type for a PostgreSQL type. */
MeshLpType
mesh_lp_type_of(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return MESH_LP_INTEGER;
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return MESH_LP_FLOAT;
		case BOOLOID:
			return MESH_LP_BOOLEAN;
		default:
			return MESH_LP_STRING;
	}
}

const char *
mesh_lp_type_name(MeshLpType type)
{
	static const char *const names[] = {"float", "integer", "boolean", "string"};

	return names[type];
}

/* ns|u|ms|s as a precision (the option was validated against MESH_LP_PRECISIONS). */
MeshLpPrecision
mesh_lp_precision(const char *name)
{
	if (name == NULL || strcmp(name, "ns") == 0)
		return MESH_LP_NS;
	if (strcmp(name, "u") == 0)
		return MESH_LP_US;
	if (strcmp(name, "ms") == 0)
		return MESH_LP_MS;
	if (strcmp(name, "s") == 0)
		return MESH_LP_S;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid precision \"%s\"", name),
			 errhint("Use one of %s.", MESH_LP_PRECISIONS)));
	pg_unreachable();
}

const char *
mesh_lp_precision_name(MeshLpPrecision p)
{
	static const char *const names[] = {"ns", "u", "ms", "s"};

	return names[p];
}

/* s for a message: at most 100 bytes, quoted. */
static char *
shown(const char *s)
{
	size_t		len = strlen(s);

	if (len <= 100)
		return psprintf("\"%s\"", s);
	return psprintf("\"%s...\" (%zu bytes)", pnstrdup(s, 100), len);
}

static bool
is_special(char c, const char *specials)
{
	return c != '\0' && strchr(specials, c) != NULL;
}

/*
 * Append s escaping the characters of specials with a backslash; errors
 * when s cannot be read back exactly (see the file comment).  what and
 * column (or name, when column is NULL) are only formatted for an error.
 */
static void
append_escaped(StringInfo buf, const char *s, const char *specials, const char *column,
			   const char *what, const char *name)
{
	const char *p;

	for (p = s; *p; p++)
		if (*p == '\n' || *p == '\\' || is_special(*p, specials))
			break;
	if (*p == '\0' && p != s)
	{
		appendBinaryStringInfo(buf, s, p - s);	/* nothing to escape */
		return;
	}
	if (name)
		what = psprintf("%s \"%s\"", what, name);
	if (s[0] == '\0')
		lp_error(column, what, "It is empty.");
	for (p = s; *p; p++)
	{
		if (*p == '\n')
			lp_error(column, what, psprintf("%s holds a newline.", shown(s)));
		if (*p == '\\' && (p[1] == '\0' || is_special(p[1], specials)))
			lp_error(column, what,
					 psprintf("%s has a backslash before %s, which line protocol reads as an escape.",
							  shown(s), p[1] ? psprintf("\"%c\"", p[1]) : "its end"));
		if (is_special(*p, specials))
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
}

/* A measurement name, escaped (validated once, reused for every line). */
char *
mesh_lp_measurement_text(const char *name)
{
	StringInfoData buf;

	if (name[0] == '#')
		lp_error(NULL, psprintf("measurement \"%s\"", name),
				 "A line starting with \"#\" is a comment.");
	initStringInfo(&buf);
	append_escaped(&buf, name, ", ", NULL, "measurement", name);
	return buf.data;
}

/*
 * A tag or field key, escaped.  Errors name column, or the key itself when
 * column is NULL.
 */
char *
mesh_lp_key_text(const char *key, bool tag, const char *column)
{
	StringInfoData buf;
	const char *what = tag ? "tag key" : "field key";

	if (strcmp(key, "time") == 0)
		lp_error(column, psprintf("%s \"time\"", what),
				 "InfluxDB reserves the key \"time\" for the point's timestamp.");
	initStringInfo(&buf);
	append_escaped(&buf, key, ", =", column, what, column ? NULL : key);
	return buf.data;
}

/* Append a tag value (the caller wrote ",key="). */
void
mesh_lp_tag_value(StringInfo buf, const char *value, const char *column)
{
	append_escaped(buf, value, ", =", column, "tag value", NULL);
}

/*
 * A float as line protocol reads it.  PostgreSQL's own decimal forms
 * (1.5, 1e+20, 123.4500) are kept as they are: the parser rounds them to
 * the same double strtod does.  Anything else is parsed and rewritten.
 */
static void
append_float(StringInfo buf, const char *value, const char *column)
{
	const char *p = value;
	char	   *end;
	double		d;
	char		out[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (*p == '-')
		p++;
	if (*p >= '0' && *p <= '9')
	{
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.' && p[1] >= '0' && p[1] <= '9')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
		if ((*p == 'e' || *p == 'E') && (p[1] == '+' || p[1] == '-') &&
			p[2] >= '0' && p[2] <= '9' && strlen(p + 2) <= 3)
			for (p += 2; *p >= '0' && *p <= '9'; p++)
				;
		if (*p == '\0' && p - value < 40)
		{
			appendBinaryStringInfo(buf, value, p - value);
			return;
		}
	}
	errno = 0;
	d = strtod(value, &end);
	if (end == value || *end != '\0' || isnan(d) || isinf(d))
		lp_error(column, "value", psprintf("%s is not a finite floating-point number.", shown(value)));
	double_to_shortest_decimal_buf(d, out);
	appendStringInfoString(buf, out);
}

static void
append_integer(StringInfo buf, const char *value, const char *column)
{
	const char *p = value;
	size_t		digits;

	if (*p == '-')
		p++;
	digits = strspn(p, "0123456789");
	if (digits == 0 || p[digits] != '\0' || digits > 19)
		lp_error(column, "value", psprintf("%s is not a 64-bit integer.", shown(value)));
	if (digits == 19)
		(void) pg_strtoint64(value);	/* range check */
	appendBinaryStringInfo(buf, value, p + digits - value);
	appendStringInfoChar(buf, 'i');
}

/* Append a field value of type type (the caller wrote " key=" or ",key="). */
void
mesh_lp_field_value(StringInfo buf, MeshLpType type, const char *value, const char *column)
{
	bool		b;

	switch (type)
	{
		case MESH_LP_FLOAT:
			append_float(buf, value, column);
			break;
		case MESH_LP_INTEGER:
			append_integer(buf, value, column);
			break;
		case MESH_LP_BOOLEAN:
			if (!parse_bool(value, &b))
				lp_error(column, "value", psprintf("%s is not a boolean.", shown(value)));
			appendStringInfoChar(buf, b ? 't' : 'f');
			break;
		case MESH_LP_STRING:
			appendStringInfoChar(buf, '"');
			for (const char *p = value; *p; p++)
			{
				if (*p == '"' || *p == '\\')
					appendStringInfoChar(buf, '\\');
				appendStringInfoChar(buf, *p);
			}
			appendStringInfoChar(buf, '"');
			break;
	}
}

/* End the line with its timestamp (already in the write's precision). */
void
mesh_lp_end(StringInfo buf, int64 timestamp)
{
	char		digits[MAXINT8LEN + 1];
	int			len = pg_lltoa(timestamp, digits);

	appendStringInfoChar(buf, ' ');
	appendBinaryStringInfo(buf, digits, len);
	appendStringInfoChar(buf, '\n');
}

/* Unix nanoseconds as PostgreSQL microseconds, rounding down. */
int64
mesh_lp_ns_to_pg(int64 ns)
{
	int64		us = ns / 1000;

	if (ns % 1000 < 0)
		us--;
	return us - PG_EPOCH_US;
}

/* PostgreSQL microseconds as Unix nanoseconds; false when out of range. */
bool
mesh_lp_pg_to_ns(int64 pg_usecs, int64 *ns)
{
	int64		us;

	if (pg_usecs > PG_INT64_MAX - PG_EPOCH_US)
		return false;
	us = pg_usecs + PG_EPOCH_US;
	if (us > LP_MAX_NS / 1000 || us < LP_MIN_NS / 1000)
		return false;
	*ns = us * 1000;
	return true;
}

/* Microseconds in one unit of precision p (0 for ns: finer than PostgreSQL's). */
static int64
unit_us(MeshLpPrecision p)
{
	return p == MESH_LP_S ? 1000000 : p == MESH_LP_MS ? 1000 : p == MESH_LP_US ? 1 : 0;
}

/*
 * A timestamp (PostgreSQL microseconds) as an epoch count in precision p;
 * a time finer than p is an error with finer_hint (may be NULL).
 */
int64
mesh_lp_time(int64 pg_usecs, MeshLpPrecision p, const char *column, const char *finer_hint)
{
	int64		ns;
	int64		unit = p == MESH_LP_NS ? 1 : p == MESH_LP_US ? 1000 :
		p == MESH_LP_MS ? 1000000 : 1000000000;

	if (TIMESTAMP_NOT_FINITE(pg_usecs) || !mesh_lp_pg_to_ns(pg_usecs, &ns))
		lp_error(column, "timestamp",
				 "Line protocol holds times from 1677-09-21 00:12:43.145224194 to 2262-04-11 23:47:16.854775806 UTC.");
	if (ns % unit != 0)
		lp_error_hint(column, "timestamp",
					  psprintf("It is finer than the write precision \"%s\".",
							   mesh_lp_precision_name(p)),
					  finer_hint);
	return ns / unit;
}

/*
 * A timestamp (PostgreSQL microseconds) rounded to the nearest unit of
 * precision p, halves up (towards the later time); infinite ones unchanged.
 * Unix and PostgreSQL epochs are whole seconds apart, so this is rounding
 * of the Unix time too.
 */
int64
mesh_lp_round_time(int64 pg_usecs, MeshLpPrecision p)
{
	int64		unit = unit_us(p);
	int64		r;

	if (unit <= 1 || TIMESTAMP_NOT_FINITE(pg_usecs) || pg_usecs > PG_INT64_MAX - unit)
		return pg_usecs;
	r = pg_usecs + unit / 2;
	r -= r % unit;
	if (r > pg_usecs + unit / 2)	/* C's % truncates: floor for negatives */
		r -= unit;
	return r;
}

/* n digits at *p as a number (advancing *p); -1 if they are not digits. */
static int
digits(const char **p, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++, (*p)++)
	{
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/*
 * The ISO forms PostgreSQL prints (DateStyle ISO, and jsonb's):
 * YYYY-MM-DD[ T]HH:MM:SS[.ffffff][+-HH[:MM[:SS]]], parsed without the
 * general date parser; false for anything else (which then takes it).
 */
static bool
parse_iso(const char *s, bool with_tz, int64 *us)
{
	const char *p = s;
	int			y,
				mo,
				d,
				h,
				mi,
				sec,
				off = 0;
	int64		frac = 0;

	if ((y = digits(&p, 4)) < 1 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12 ||
		*p++ != '-' || (d = digits(&p, 2)) < 1 || d > day_tab[isleap(y)][mo - 1] ||
		(*p != ' ' && *p != 'T') || (p++, (h = digits(&p, 2)) < 0) || h > 23 ||
		*p++ != ':' || (mi = digits(&p, 2)) < 0 || mi > 59 || *p++ != ':' ||
		(sec = digits(&p, 2)) < 0 || sec > 59)
		return false;
	if (*p == '.')
	{
		int			n = 0;

		for (p++; *p >= '0' && *p <= '9' && n < 6; p++, n++)
			frac = frac * 10 + (*p - '0');
		if (n == 0 || (*p >= '0' && *p <= '9'))
			return false;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (with_tz && (*p == '+' || *p == '-'))
	{
		int			sign = *p++ == '-' ? -1 : 1;
		int			oh = digits(&p, 2),
					om = 0,
					os = 0;

		if (oh < 0 || oh > 15 || (*p == ':' && (p++, (om = digits(&p, 2)) < 0 || om > 59)) ||
			(*p == ':' && (p++, (os = digits(&p, 2)) < 0 || os > 59)))
			return false;
		off = sign * (oh * 3600 + om * 60 + os);
	}
	else if (with_tz)
		return false;
	if (*p != '\0')
		return false;
	*us = ((((int64) (date2j(y, mo, d) - POSTGRES_EPOCH_JDATE) * 24 + h) * 60 + mi) * 60 +
		   sec - off) * USECS_PER_SEC + frac;
	return true;
}

/* A timestamptz (or, without with_tz, a timestamp taken as UTC) in text form, as PostgreSQL microseconds. */
int64
mesh_lp_parse_time(const char *text, bool with_tz)
{
	int64		us;

	if (!parse_iso(text, with_tz, &us))
		us = DatumGetInt64(DirectFunctionCall3(with_tz ? timestamptz_in : timestamp_in,
											   CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
	return us;
}
