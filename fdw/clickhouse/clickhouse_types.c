/*
 * clickhouse_types.c: ClickHouse column types, and values between
 * PostgreSQL and ClickHouse.
 *
 * Writes use RowBinary: ClickHouse 18.16 parses floats in text formats
 * (TabSeparated, JSONEachRow) inexactly (about 1 value in 2000 changes its
 * last bit), while RowBinary carries the IEEE bits.  So every value is
 * encoded for the remote column's exact type (known from system.columns):
 * a value that does not fit is an error naming the column, never a silent
 * change.  The one documented exception: a timestamp written to a DateTime
 * (second precision) loses its fraction of a second.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "clickhouse_internal.h"


/* ---- parsing type text */

typedef struct TypeParser
{
	const char *p;
	const char *text;
} TypeParser;

static void
bad_type(TypeParser *tp)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("cannot parse the ClickHouse type \"%s\"", tp->text)));
}

static void
skip_space(TypeParser *tp)
{
	while (*tp->p == ' ')
		tp->p++;
}

static bool
accept_char(TypeParser *tp, char c)
{
	skip_space(tp);
	if (*tp->p != c)
		return false;
	tp->p++;
	return true;
}

static int
parse_int(TypeParser *tp)
{
	char	   *end;
	long		v;

	skip_space(tp);
	v = strtol(tp->p, &end, 10);
	if (end == tp->p)
		bad_type(tp);
	tp->p = end;
	return (int) v;
}

/* A quoted string of the type text ('a\'b'), unescaped. */
static char *
parse_string(TypeParser *tp)
{
	StringInfoData buf;

	skip_space(tp);
	if (*tp->p != '\'')
		bad_type(tp);
	initStringInfo(&buf);
	for (tp->p++; *tp->p != '\''; tp->p++)
	{
		if (*tp->p == '\0')
			bad_type(tp);
		if (*tp->p == '\\' && tp->p[1] != '\0')
			tp->p++;
		appendStringInfoChar(&buf, *tp->p);
	}
	tp->p++;
	return buf.data;
}

/* Skip balanced arguments "(...)" of a type we do not look into. */
static void
skip_args(TypeParser *tp)
{
	int			depth = 0;

	do
	{
		if (*tp->p == '\0')
			bad_type(tp);
		if (*tp->p == '\'')
		{
			(void) parse_string(tp);
			continue;
		}
		if (*tp->p == '(')
			depth++;
		else if (*tp->p == ')')
			depth--;
		tp->p++;
	} while (depth > 0);
}

static ChType *parse_type(TypeParser *tp);

static void
parse_enum(TypeParser *tp, ChType *t)
{
	int			cap = 8;

	t->enum_names = palloc(sizeof(char *) * cap);
	t->enum_values = palloc(sizeof(int) * cap);
	do
	{
		if (t->nenum == cap)
		{
			cap *= 2;
			t->enum_names = repalloc(t->enum_names, sizeof(char *) * cap);
			t->enum_values = repalloc(t->enum_values, sizeof(int) * cap);
		}
		t->enum_names[t->nenum] = parse_string(tp);
		if (!accept_char(tp, '='))
			bad_type(tp);
		t->enum_values[t->nenum++] = parse_int(tp);
	} while (accept_char(tp, ','));
}

static const struct
{
	const char *name;
	ChKind		kind;
}			simple_types[] = {
	{"Int8", CH_INT8}, {"Int16", CH_INT16}, {"Int32", CH_INT32}, {"Int64", CH_INT64},
	{"UInt8", CH_UINT8}, {"UInt16", CH_UINT16}, {"UInt32", CH_UINT32}, {"UInt64", CH_UINT64},
	{"Int128", CH_INT_WIDE}, {"Int256", CH_INT_WIDE}, {"UInt128", CH_INT_WIDE},
	{"UInt256", CH_INT_WIDE}, {"Float32", CH_FLOAT32}, {"Float64", CH_FLOAT64},
	{"Bool", CH_BOOL}, {"String", CH_STRING}, {"FixedString", CH_FIXEDSTRING},
	{"Date", CH_DATE}, {"Date32", CH_DATE32}, {"DateTime", CH_DATETIME},
	{"DateTime64", CH_DATETIME64}, {"UUID", CH_UUID}, {"Enum8", CH_ENUM8},
	{"Enum16", CH_ENUM16}, {"IPv4", CH_IPV4}, {"IPv6", CH_IPV6}, {"Array", CH_ARRAY},
	{"Decimal", CH_DECIMAL}, {"Decimal32", CH_DECIMAL}, {"Decimal64", CH_DECIMAL},
	{"Decimal128", CH_DECIMAL}, {"Decimal256", CH_DECIMAL},
};

static ChType *
parse_type(TypeParser *tp)
{
	const char *start;
	char	   *name;
	ChType	   *t;

	skip_space(tp);
	start = tp->p;
	while (isalnum((unsigned char) *tp->p) || *tp->p == '_')
		tp->p++;
	if (tp->p == start)
		bad_type(tp);
	name = pnstrdup(start, tp->p - start);
	if (strcmp(name, "Nullable") == 0 || strcmp(name, "LowCardinality") == 0)
	{
		bool		nullable = name[0] == 'N';

		if (!accept_char(tp, '('))
			bad_type(tp);
		t = parse_type(tp);
		if (!accept_char(tp, ')'))
			bad_type(tp);
		t->nullable |= nullable;
		return t;
	}
	t = palloc0(sizeof(ChType));
	t->kind = CH_OTHER;
	for (int i = 0; i < lengthof(simple_types); i++)
		if (strcmp(name, simple_types[i].name) == 0)
			t->kind = simple_types[i].kind;
	if (t->kind == CH_OTHER)
	{
		skip_space(tp);
		if (*tp->p == '(')
			skip_args(tp);
	}
	else if (accept_char(tp, '('))
	{
		switch (t->kind)
		{
			case CH_DECIMAL:
				if (strcmp(name, "Decimal") == 0)
				{
					t->precision = parse_int(tp);
					if (!accept_char(tp, ','))
						bad_type(tp);
				}
				else
					t->precision = name[7] == '3' ? 9 : name[7] == '6' ? 18 :
						name[8] == '2' ? 38 : 76;
				t->scale = parse_int(tp);
				break;
			case CH_FIXEDSTRING:
				t->length = parse_int(tp);
				break;
			case CH_DATETIME:
				(void) parse_string(tp);	/* time zone: values are epochs */
				break;
			case CH_DATETIME64:
				t->scale = parse_int(tp);
				if (accept_char(tp, ','))
					(void) parse_string(tp);
				break;
			case CH_ENUM8:
			case CH_ENUM16:
				parse_enum(tp, t);
				break;
			case CH_ARRAY:
				t->elem = parse_type(tp);
				break;
			default:
				bad_type(tp);
		}
		if (!accept_char(tp, ')'))
			bad_type(tp);
	}
	else if (t->kind == CH_DECIMAL || t->kind == CH_FIXEDSTRING ||
			 t->kind == CH_DATETIME64 || t->kind == CH_ARRAY ||
			 t->kind == CH_ENUM8 || t->kind == CH_ENUM16)
		bad_type(tp);
	t->text = pnstrdup(start, tp->p - start);
	return t;
}

/* Parse a type as system.columns spells it; malformed text ereports. */
ChType *
ch_parse_type(const char *text)
{
	TypeParser	tp = {text, text};
	ChType	   *t = parse_type(&tp);

	skip_space(&tp);
	if (*tp.p != '\0')
		bad_type(&tp);
	return t;
}

/*
 * The PostgreSQL type that reads a ClickHouse type exactly (IMPORT FOREIGN
 * SCHEMA); *supported is false when it is only its text form.
 */
const char *
ch_pg_type_for(ChType *t, bool *supported)
{
	*supported = true;
	switch (t->kind)
	{
		case CH_INT8:
		case CH_INT16:
		case CH_UINT8:
			return "smallint";
		case CH_INT32:
		case CH_UINT16:
			return "integer";
		case CH_INT64:
		case CH_UINT32:
			return "bigint";
		case CH_UINT64:
			return "numeric(20,0)";
		case CH_INT_WIDE:
			return "numeric";
		case CH_FLOAT32:
			return "real";
		case CH_FLOAT64:
			return "double precision";
		case CH_DECIMAL:
			return t->precision <= 1000 ? psprintf("numeric(%d,%d)", t->precision, t->scale) :
				"numeric";
		case CH_BOOL:
			return "boolean";
		case CH_STRING:
			return "text";
		case CH_FIXEDSTRING:
			return "bytea";
		case CH_DATE:
		case CH_DATE32:
			return "date";
		case CH_DATETIME:
			return "timestamp with time zone";
		case CH_DATETIME64:
			return psprintf("timestamp(%d) with time zone", Max(1, Min(t->scale, 6)));
		case CH_UUID:
			return "uuid";
		case CH_ENUM8:
		case CH_ENUM16:
			return "text";
		case CH_IPV4:
		case CH_IPV6:
			return "inet";
		case CH_ARRAY:
			if (t->elem->kind != CH_ARRAY && t->elem->kind != CH_OTHER)
			{
				const char *e = ch_pg_type_for(t->elem, supported);

				return psprintf("%s[]", e);
			}
			break;
		case CH_OTHER:
			break;
	}
	*supported = false;
	return "text";
}

/* ---- RowBinary encoding */

static bool parse_iso(const char *s, size_t len, bool date_only, bool tz, bool strict,
					  int64 *usec);

static void
value_error(ChType *t, const char *column, const char *value, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value \"%s\" of column \"%s\" does not fit ClickHouse type %s",
					value ? pnstrdup(value, 200) : "NULL", column, t->text),
			 why ? errdetail("%s", why) : 0));
}

static void
append_varint(StringInfo buf, uint64 n)
{
	while (n >= 0x80)
	{
		appendStringInfoChar(buf, (char) ((n & 0x7f) | 0x80));
		n >>= 7;
	}
	appendStringInfoChar(buf, (char) n);
}

static void
append_le(StringInfo buf, uint64 v, int bytes)
{
	char		b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (char) (v >> (8 * i));
	appendBinaryStringInfo(buf, b, bytes);
}

static bool
parse_bool_text(const char *s, bool *b)
{
	return parse_bool(s, b);
}

/* An integer in [min, max], or an error naming the column. */
static int64
parse_int_in(ChType *t, const char *column, const char *s, int64 min, int64 max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		value_error(t, column, s, NULL);
	return v;
}

/* A numeric's text as an integer scaled by 10^scale (at most 38 digits). */
static __int128
parse_decimal(ChType *t, const char *column, const char *s)
{
	__int128	v = 0;
	bool		neg = false;
	int			digits = 0;
	int			frac = -1;
	const char *p = s;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!isdigit((unsigned char) *p) && *p != '.')
		value_error(t, column, s, "Only finite numbers fit a Decimal.");
	for (; *p; p++)
	{
		if (*p == '.' && frac < 0)
		{
			frac = 0;
			continue;
		}
		if (!isdigit((unsigned char) *p))
			value_error(t, column, s, NULL);
		if (frac >= 0 && frac == t->scale)
		{
			if (*p != '0')
				value_error(t, column, s, psprintf("It has more than %d decimal digits.", t->scale));
			continue;
		}
		if (frac >= 0)
			frac++;
		if (v != 0 || *p != '0')
			digits++;
		if (digits > 38)
			value_error(t, column, s, NULL);
		v = v * 10 + (*p - '0');
	}
	for (int i = Max(frac, 0); i < t->scale; i++)
	{
		if (v != 0)
			digits++;
		if (digits > 38)
			value_error(t, column, s, NULL);
		v *= 10;
	}
	if (digits > t->precision)
		value_error(t, column, s, psprintf("It has more than %d significant digits.", t->precision));
	return neg ? -v : v;
}

/* Microseconds since 1970 of a PostgreSQL timestamp[tz] text. */
static int64
parse_pg_timestamp(ChType *t, Oid pgtype, const char *column, const char *s)
{
	Timestamp	ts;
	int64		us;

	/* PostgreSQL's ISO output, parsed here; anything else by its input function */
	if (parse_iso(s, strlen(s), pgtype == DATEOID, pgtype == TIMESTAMPTZOID, true, &us))
		return us;

	if (pgtype == TIMESTAMPTZOID)
		ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1)));
	else if (pgtype == TIMESTAMPOID)
		ts = DatumGetTimestamp(DirectFunctionCall3(timestamp_in, CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	else if (pgtype == DATEOID)
	{
		DateADT		d = DatumGetDateADT(DirectFunctionCall1(date_in, CStringGetDatum(s)));

		if (DATE_NOT_FINITE(d))
			value_error(t, column, s, "Infinite dates have no ClickHouse form.");
		return ((int64) d + EPOCH_OFFSET_DAYS) * USECS_PER_DAY;
	}
	else
		ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1)));
	if (TIMESTAMP_NOT_FINITE(ts))
		value_error(t, column, s, "Infinite timestamps have no ClickHouse form.");
	return ts + EPOCH_OFFSET_USEC;
}

static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The raw bytes a value stands for: bytea's text decoded, else the text. */
static void
value_bytes(Oid pgtype, const char *value, const char **data, size_t *len)
{
	if (pgtype == BYTEAOID)
	{
		bytea	   *b = DatumGetByteaPP(DirectFunctionCall1(byteain, CStringGetDatum(value)));

		*data = VARDATA_ANY(b);
		*len = VARSIZE_ANY_EXHDR(b);
	}
	else
	{
		*data = value;
		*len = strlen(value);
	}
}

/*
 * Append value (PostgreSQL text form of type pgtype, NULL for SQL NULL) in
 * RowBinary for ClickHouse type t; errors name column.
 */
void
ch_encode_text(StringInfo buf, ChType *t, Oid pgtype, const char *value, const char *column)
{
	if (t->nullable)
	{
		appendStringInfoChar(buf, value == NULL ? 1 : 0);
		if (value == NULL)
			return;
	}
	else if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("column \"%s\" cannot be NULL in ClickHouse", column),
				 errdetail("Its ClickHouse type %s is not Nullable.", t->text)));
	switch (t->kind)
	{
		case CH_INT8:
		case CH_INT16:
		case CH_INT32:
		case CH_INT64:
		case CH_UINT8:
		case CH_UINT16:
		case CH_UINT32:
		case CH_BOOL:
			{
				static const int bytes[] = {1, 2, 4, 8, 1, 2, 4};
				int			nb = t->kind == CH_BOOL ? 1 : bytes[t->kind - CH_INT8];
				bool		is_signed = t->kind <= CH_INT64;
				int64		min = is_signed ? -((int64) 1 << (8 * nb - 1)) : 0;
				int64		max = nb == 8 ? PG_INT64_MAX :
					is_signed ? ((int64) 1 << (8 * nb - 1)) - 1 : ((int64) 1 << (8 * nb)) - 1;
				int64		v;
				bool		b;

				if (pgtype == BOOLOID)
				{
					if (!parse_bool_text(value, &b))
						value_error(t, column, value, NULL);
					v = b ? 1 : 0;
				}
				else
					v = parse_int_in(t, column, value, t->kind == CH_BOOL ? 0 : min,
									 t->kind == CH_BOOL ? 1 : max);
				append_le(buf, (uint64) v, nb);
				return;
			}
		case CH_UINT64:
			{
				char	   *end;
				unsigned long long v;

				errno = 0;
				v = strtoull(value, &end, 10);
				if (errno != 0 || end == value || *end != '\0' || value[0] == '-')
					value_error(t, column, value, NULL);
				append_le(buf, (uint64) v, 8);
				return;
			}
		case CH_FLOAT32:
		case CH_FLOAT64:
			{
				char	   *end;
				double		d;
				float		f;

				errno = 0;
				if (t->kind == CH_FLOAT32)
					d = f = strtof(value, &end);
				else
					d = strtod(value, &end);
				if (end == value || *end != '\0')
					value_error(t, column, value, NULL);
				if (t->kind == CH_FLOAT32)
					appendBinaryStringInfo(buf, (char *) &f, 4);
				else
					appendBinaryStringInfo(buf, (char *) &d, 8);
				return;
			}
		case CH_DECIMAL:
			{
				__int128	v = parse_decimal(t, column, value);
				int			nb = t->precision <= 9 ? 4 : t->precision <= 18 ? 8 : 16;

				if (t->precision > 38)
					value_error(t, column, value, "mesh writes Decimals of at most 38 digits.");
				append_le(buf, (uint64) v, Min(nb, 8));
				if (nb == 16)
					append_le(buf, (uint64) (v >> 64), 8);
				return;
			}
		case CH_STRING:
		case CH_FIXEDSTRING:
		case CH_ENUM8:
		case CH_ENUM16:
			{
				const char *data;
				size_t		len;

				value_bytes(t->kind == CH_STRING || t->kind == CH_FIXEDSTRING ? pgtype : TEXTOID,
							value, &data, &len);
				if (t->kind == CH_STRING)
				{
					append_varint(buf, len);
					appendBinaryStringInfo(buf, data, len);
				}
				else if (t->kind == CH_FIXEDSTRING)
				{
					if (len > (size_t) t->length)
						value_error(t, column, value, psprintf("It is longer than %d bytes.", t->length));
					appendBinaryStringInfo(buf, data, len);
					for (size_t i = len; i < (size_t) t->length; i++)
						appendStringInfoChar(buf, '\0');
				}
				else
				{
					for (int i = 0; i < t->nenum; i++)
						if (strcmp(t->enum_names[i], value) == 0)
						{
							append_le(buf, (uint64) t->enum_values[i], t->kind == CH_ENUM8 ? 1 : 2);
							return;
						}
					value_error(t, column, value, "It is not one of the Enum's names.");
				}
				return;
			}
		case CH_DATE:
		case CH_DATE32:
			{
				int64		days = floor_div(parse_pg_timestamp(t, pgtype == DATEOID ? DATEOID : pgtype,
																column, value), USECS_PER_DAY);

				if (t->kind == CH_DATE && (days < 0 || days > MAX_DATE_DAYS))
					value_error(t, column, value, "A ClickHouse Date holds 1970-01-01 to 2105-12-31.");
				append_le(buf, (uint64) days, t->kind == CH_DATE ? 2 : 4);
				return;
			}
		case CH_DATETIME:
			{
				int64		secs = floor_div(parse_pg_timestamp(t, pgtype, column, value),
											 USECS_PER_SEC);

				if (secs < 0 || secs > MAX_DATETIME_SECS)
					value_error(t, column, value,
								"A ClickHouse DateTime holds 1970-01-01 00:00:00 to 2105-12-31 23:59:59 UTC.");
				append_le(buf, (uint64) secs, 4);
				return;
			}
		case CH_DATETIME64:
			{
				int64		us = parse_pg_timestamp(t, pgtype, column, value);
				int64		v = us;

				for (int i = 6; i > t->scale; i--)
					v = floor_div(v, 10);
				for (int i = 6; i < t->scale; i++)
					v *= 10;
				append_le(buf, (uint64) v, 8);
				return;
			}
		case CH_UUID:
			{
				pg_uuid_t  *u = DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(value)));

				for (int i = 7; i >= 0; i--)
					appendStringInfoChar(buf, (char) u->data[i]);
				for (int i = 15; i >= 8; i--)
					appendStringInfoChar(buf, (char) u->data[i]);
				return;
			}
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("mesh cannot write column \"%s\" of ClickHouse type %s", column, t->text),
					 errhint("Write it with mesh.execute, or leave the column out.")));
	}
}

/*
 * Append a Datum of column col (isnull: SQL NULL) in RowBinary for t.
 * Arrays go element by element; bytea is taken as raw bytes.
 */
void
ch_encode_datum(StringInfo buf, ChType *t, MeshColumn *col, Datum value, bool isnull)
{
	Oid			base = getBaseType(col->typid);
	Oid			elemtype = get_element_type(base);

	if (isnull || (t->kind != CH_ARRAY && base != BYTEAOID))
	{
		ch_encode_text(buf, t, base, isnull ? NULL : OutputFunctionCall(&col->out_func, value),
					   col->name);
		return;
	}
	if (t->nullable)
		appendStringInfoChar(buf, 0);
	if (base == BYTEAOID && (t->kind == CH_STRING || t->kind == CH_FIXEDSTRING))
	{
		bytea	   *b = DatumGetByteaPP(value);
		size_t		len = VARSIZE_ANY_EXHDR(b);

		if (t->kind == CH_STRING)
			append_varint(buf, len);
		else if (len > (size_t) t->length)
			value_error(t, col->name, "(bytes)", psprintf("It is longer than %d bytes.", t->length));
		appendBinaryStringInfo(buf, VARDATA_ANY(b), len);
		for (size_t i = len; t->kind == CH_FIXEDSTRING && i < (size_t) t->length; i++)
			appendStringInfoChar(buf, '\0');
		return;
	}
	if (t->kind == CH_ARRAY && OidIsValid(elemtype))
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Oid			out;
		bool		isvarlena;

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("mesh writes only one-dimensional arrays to ClickHouse column \"%s\"",
							col->name)));
		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		getTypeOutputInfo(elemtype, &out, &isvarlena);
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
		append_varint(buf, n);
		for (int i = 0; i < n; i++)
			ch_encode_text(buf, t->elem, elemtype,
						   nulls[i] ? NULL : OidOutputFunctionCall(out, elems[i]), col->name);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("column \"%s\" of type %s cannot be written to ClickHouse type %s",
					col->name, format_type_be(col->typid), t->text)));
}

/* ---- SQL literals and text read back */

/* "YYYY-MM-DD hh:mm:ss[.ffffff]" of microseconds since 1970 (UTC). */
static char *
utc_text(int64 usec, int frac_digits)
{
	int64		days = floor_div(usec, USECS_PER_DAY);
	int64		rest = usec - days * USECS_PER_DAY;
	int			y,
				m,
				d;
	char	   *s;

	j2date((int) (days + UNIX_EPOCH_JDATE), &y, &m, &d);
	s = psprintf("%04d-%02d-%02d %02d:%02d:%02d", y, m, d,
				 (int) (rest / USECS_PER_HOUR), (int) (rest / USECS_PER_MINUTE % 60),
				 (int) (rest / USECS_PER_SEC % 60));
	if (frac_digits > 0)
		s = psprintf("%s.%06d", s, (int) (rest % USECS_PER_SEC));
	return s;
}

/*
 * Append value (PostgreSQL text of pgtype) as a ClickHouse SQL expression
 * of type t: a literal for numbers and strings, a conversion function for
 * dates, times and UUIDs.  Used for key lists (verify).
 */
void
ch_sql_value(StringInfo buf, ChType *t, Oid pgtype, const char *value, const char *column)
{
	const char *data;
	size_t		len;

	if (value == NULL)
	{
		appendStringInfoString(buf, "NULL");
		return;
	}
	switch (t->kind)
	{
		case CH_INT8:
		case CH_INT16:
		case CH_INT32:
		case CH_INT64:
		case CH_UINT8:
		case CH_UINT16:
		case CH_UINT32:
		case CH_BOOL:
			{
				bool		b;

				if (pgtype == BOOLOID && parse_bool_text(value, &b))
					appendStringInfoString(buf, b ? "1" : "0");
				else
					appendStringInfo(buf, INT64_FORMAT,
									 parse_int_in(t, column, value, PG_INT64_MIN, PG_INT64_MAX));
				return;
			}
		case CH_FLOAT32:
		case CH_FLOAT64:
			{
				char	   *end;
				double		d = strtod(value, &end);

				if (end == value || *end != '\0')
					value_error(t, column, value, NULL);
				if (t->kind == CH_FLOAT32)
					appendStringInfoString(buf, "toFloat32(");
				ch_append_double(buf, d);
				if (t->kind == CH_FLOAT32)
					appendStringInfoChar(buf, ')');
				return;
			}
		case CH_DATE:
		case CH_DATE32:
			appendStringInfoString(buf, "toDate('");
			appendStringInfoString(buf, pnstrdup(utc_text(parse_pg_timestamp(t, pgtype, column, value), 0), 10));
			appendStringInfoString(buf, "')");
			return;
		case CH_DATETIME:
			appendStringInfo(buf, "toDateTime(" INT64_FORMAT ")",
							 floor_div(parse_pg_timestamp(t, pgtype, column, value), USECS_PER_SEC));
			return;
		case CH_DATETIME64:
			appendStringInfo(buf, "toDateTime64('%s', %d, 'UTC')",
							 utc_text(parse_pg_timestamp(t, pgtype, column, value), 6), t->scale);
			return;
		case CH_UUID:
			appendStringInfoString(buf, "toUUID(");
			ch_append_literal(buf, value, strlen(value));
			appendStringInfoChar(buf, ')');
			return;
		case CH_STRING:
		case CH_FIXEDSTRING:
			value_bytes(pgtype, value, &data, &len);
			if (t->kind == CH_FIXEDSTRING)
				appendStringInfo(buf, "toFixedString(");
			ch_append_literal(buf, data, len);
			if (t->kind == CH_FIXEDSTRING)
				appendStringInfo(buf, ", %d)", t->length);
			return;
		default:
			appendStringInfoString(buf, "CAST(");
			ch_append_literal(buf, value, strlen(value));
			appendStringInfoString(buf, " AS ");
			appendStringInfoString(buf, t->text);
			appendStringInfoChar(buf, ')');
			return;
	}
}

/*
 * A value read as text from ClickHouse type t (DateTime columns read
 * through toString(x, 'UTC')) in PostgreSQL's text form for pgtype:
 * DateTime gets its "+00", ClickHouse's zero date 0000-00-00 is
 * 1970-01-01, UInt8 booleans become t/f, inf/nan their PostgreSQL
 * spellings, raw bytes (len of them) of a bytea its hex form.
 */
char *
ch_remote_to_pg_text(ChType *t, Oid pgtype, char *value, size_t len)
{
	if (value == NULL)
		return NULL;
	switch (t->kind)
	{
		case CH_DATETIME:
		case CH_DATETIME64:
		case CH_DATE:
		case CH_DATE32:
			if (strncmp(value, "0000-00-00", 10) == 0)
				memcpy(value, "1970-01-01", 10);
			if (pgtype == TIMESTAMPTZOID && (t->kind == CH_DATETIME || t->kind == CH_DATETIME64))
				return psprintf("%s+00", value);
			return value;
		case CH_UINT8:
		case CH_INT8:
		case CH_BOOL:
			if (pgtype == BOOLOID)
				return (strcmp(value, "0") == 0 || strcmp(value, "false") == 0) ? "f" : "t";
			return value;
		case CH_FLOAT32:
		case CH_FLOAT64:
			if (strcmp(value, "inf") == 0 || strcmp(value, "+inf") == 0)
				return "Infinity";
			if (strcmp(value, "-inf") == 0)
				return "-Infinity";
			if (strcmp(value, "nan") == 0 || strcmp(value, "-nan") == 0)
				return "NaN";
			return value;
		case CH_STRING:
		case CH_FIXEDSTRING:
			if (pgtype == BYTEAOID)
			{
				bytea	   *b = palloc(len + VARHDRSZ);

				SET_VARSIZE(b, len + VARHDRSZ);
				memcpy(VARDATA(b), value, len);
				return DatumGetCString(DirectFunctionCall1(byteaout, PointerGetDatum(b)));
			}
			return value;
		default:
			return value;
	}
}

/* n digits at s as a number, or -1 when one is not a digit. */
static int
digits(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * Microseconds since 1970 of "YYYY-MM-DD[ hh:mm:ss[.ffffff][+hh[:mm[:ss]]]]"
 * (an offset only when tz; the time part unless date_only).  False when s
 * has another form or (strict) is not a valid calendar time: callers fall
 * back to PostgreSQL's input functions, so this only speeds up the common
 * case.  ClickHouse prints valid dates only: its text is read without the
 * calendar check.
 */
static bool
parse_iso(const char *s, size_t len, bool date_only, bool tz, bool strict, int64 *usec)
{
	int			y = digits(s, 4),
				m,
				d,
				h = 0,
				mi = 0,
				sec = 0,
				jd;
	int64		frac = 0;
	int64		offset = 0;
	size_t		p;

	if (len < 10 || y < 1 || s[4] != '-' || s[7] != '-' ||
		(m = digits(s + 5, 2)) < 1 || m > 12 || (d = digits(s + 8, 2)) < 1)
		return false;
	jd = date2j(y, m, d);
	if (strict || d > 28)
	{
		int			yy,
					mm,
					dd;

		j2date(jd, &yy, &mm, &dd);
		if (yy != y || mm != m || dd != d)
			return false;		/* e.g. February 30 */
	}
	p = 10;
	if (!date_only)
	{
		if (len < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
			(h = digits(s + 11, 2)) < 0 || h > 23 || (mi = digits(s + 14, 2)) < 0 || mi > 59 ||
			(sec = digits(s + 17, 2)) < 0 || sec > 59)
			return false;
		p = 19;
		if (p < len && s[p] == '.')
		{
			int			n = 0;

			for (p++; p < len && s[p] >= '0' && s[p] <= '9'; p++, n++)
				if (n < 6)
					frac = frac * 10 + (s[p] - '0');
			if (n == 0 || n > 6)
				return false;
			for (; n < 6; n++)
				frac *= 10;
		}
		if (tz)
		{
			int			oh,
						om = 0,
						os = 0;

			if (p + 3 > len || (s[p] != '+' && s[p] != '-') || (oh = digits(s + p + 1, 2)) < 0)
				return false;
			if (p + 6 <= len && s[p + 3] == ':' && (om = digits(s + p + 4, 2)) < 0)
				return false;
			if (p + 9 <= len && s[p + 6] == ':' && (os = digits(s + p + 7, 2)) < 0)
				return false;
			offset = (oh * SECS_PER_HOUR + om * SECS_PER_MINUTE + os) * (s[p] == '-' ? -1 : 1);
			p += p + 9 <= len && s[p + 6] == ':' ? 9 : p + 6 <= len && s[p + 3] == ':' ? 6 : 3;
		}
	}
	if (p != len)
		return false;
	*usec = ((int64) (jd - UNIX_EPOCH_JDATE) * SECS_PER_DAY + h * SECS_PER_HOUR +
			 mi * SECS_PER_MINUTE + sec - offset) * USECS_PER_SEC + frac;
	return true;
}

/*
 * Microseconds since 1970 of "YYYY-MM-DD hh:mm:ss[.f...]" (UTC, as
 * toString(x, 'UTC') prints; 0000-00-00 00:00:00 is 0).  False when s is
 * not in that form.
 */
bool
ch_epoch_from_text(const char *s, size_t len, int64 *usec)
{
	if (s[0] == '0' && len >= 19 && strncmp(s, "0000-00-00 00:00:00", 19) == 0 &&
		(len == 19 || s[19] == '.'))
	{
		*usec = 0;
		return true;
	}
	return parse_iso(s, len, false, false, false, usec);
}

/*
 * ClickHouse's text of an array ([1,2], ['a','b\'c'], [NULL], nested) as a
 * PostgreSQL array literal ({1,2}, {"a","b'c"}, {NULL}); malformed text
 * ereports.
 */
char *
ch_array_to_pg(const char *s, size_t len)
{
	StringInfoData buf;
	const char *p = s;
	const char *end = s + len;

	initStringInfo(&buf);
	while (p < end)
	{
		char		c = *p;

		if (c == '[')
			appendStringInfoChar(&buf, '{');
		else if (c == ']')
			appendStringInfoChar(&buf, '}');
		else if (c == ',')
			appendStringInfoChar(&buf, ',');
		else if (c == '\'')
		{
			appendStringInfoChar(&buf, '"');
			for (p++; p < end && *p != '\''; p++)
			{
				char		e = *p;

				if (e == '\\' && p + 1 < end)
				{
					p++;
					switch (*p)
					{
						case 'n': e = '\n'; break;
						case 't': e = '\t'; break;
						case 'r': e = '\r'; break;
						case 'b': e = '\b'; break;
						case 'f': e = '\f'; break;
						case '0': e = '\0'; break;
						default: e = *p;
					}
				}
				if (e == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
							 errmsg("remote array element contains a zero byte")));
				if (e == '"' || e == '\\')
					appendStringInfoChar(&buf, '\\');
				appendStringInfoChar(&buf, e);
			}
			if (p >= end)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_REPLY_HANDLE),
						 errmsg("malformed ClickHouse array: %s", pnstrdup(s, Min(len, 200)))));
			appendStringInfoChar(&buf, '"');
		}
		else if (c == '"' || c == '{' || c == '}' || c == '\\')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("malformed ClickHouse array: %s", pnstrdup(s, Min(len, 200)))));
		else
			appendStringInfoChar(&buf, c);
		p++;
	}
	return buf.data;
}
