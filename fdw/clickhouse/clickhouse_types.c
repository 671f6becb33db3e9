/*
 * clickhouse_types.c: ClickHouse column types (parsed from system.columns'
 * text), their PostgreSQL counterparts, and ClickHouse's text of values
 * read back as PostgreSQL's (timestamps, booleans, arrays).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

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
bool
ch_parse_iso(const char *s, size_t len, bool date_only, bool tz, bool strict, int64 *usec)
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
	return ch_parse_iso(s, len, false, false, false, usec);
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
