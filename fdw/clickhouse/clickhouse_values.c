/*
 * clickhouse_values.c: PostgreSQL values for ClickHouse: RowBinary
 * encoding (writes and replication) and SQL literals (verify's key lists).
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

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "clickhouse_internal.h"

/* ---- RowBinary */

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
	if (ch_parse_iso(s, strlen(s), pgtype == DATEOID, pgtype == TIMESTAMPTZOID, true, &us))
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
				int64		days = ch_floor_div(parse_pg_timestamp(t, pgtype == DATEOID ? DATEOID : pgtype,
																column, value), USECS_PER_DAY);

				if (t->kind == CH_DATE && (days < 0 || days > MAX_DATE_DAYS))
					value_error(t, column, value, "A ClickHouse Date holds 1970-01-01 to 2105-12-31.");
				append_le(buf, (uint64) days, t->kind == CH_DATE ? 2 : 4);
				return;
			}
		case CH_DATETIME:
			{
				int64		secs = ch_floor_div(parse_pg_timestamp(t, pgtype, column, value),
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
					v = ch_floor_div(v, 10);
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

/* ---- SQL literals */

/* "YYYY-MM-DD hh:mm:ss[.ffffff]" of microseconds since 1970 (UTC). */
static char *
utc_text(int64 usec, int frac_digits)
{
	int64		days = ch_floor_div(usec, USECS_PER_DAY);
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
							 ch_floor_div(parse_pg_timestamp(t, pgtype, column, value), USECS_PER_SEC));
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

