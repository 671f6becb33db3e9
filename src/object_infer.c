/*
 * object_infer.c: the column type sampled values suggest, for IMPORT
 * FOREIGN SCHEMA on object stores.
 *
 * A text value (a CSV field, a partition's value) is boolean (true or
 * false, any case), bigint (an integer that fits, without a leading zero:
 * "007" stays text), numeric (a decimal fraction, or a bigger integer),
 * double precision (with an exponent), date (YYYY-MM-DD), timestamptz
 * (a date, 'T' or ' ', HH:MM[:SS[.fraction]], an optional zone Z, +HH,
 * +HH:MM or +HHMM), jsonb (a JSON object or array), else text.  A JSON
 * value: null decides nothing, true/false boolean, an integer bigint, a
 * real double precision, an object or array jsonb, a string date or
 * timestamptz as above, else text.
 */
#include "postgres.h"

#include "json_value.h"
#include "object_import.h"

/* n digits at s (a NUL stops them) */
static bool
digits_at(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char) s[i]))
			return false;
	return true;
}

static int
number_at(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* YYYY-MM-DD (a real day) at s. */
static bool
is_date(const char *s)
{
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			year,
				month,
				day;

	if (!digits_at(s, 4) || s[4] != '-' || !digits_at(s + 5, 2) || s[7] != '-' ||
		!digits_at(s + 8, 2))
		return false;
	year = number_at(s, 4);
	month = number_at(s + 5, 2);
	day = number_at(s + 8, 2);
	if (month < 1 || month > 12 || day < 1 || day > days[month - 1])
		return false;
	return !(month == 2 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)));
}

/* HH:MM[:SS[.fraction]] and an optional zone (Z, +HH, +HH:MM, +HHMM), to the end. */
static bool
is_time_zone(const char *p)
{
	if (!digits_at(p, 2) || p[2] != ':' || !digits_at(p + 3, 2) ||
		number_at(p, 2) > 23 || number_at(p + 3, 2) > 59)
		return false;
	p += 5;
	if (*p == ':')
	{
		if (!digits_at(p + 1, 2) || number_at(p + 1, 2) > 60)
			return false;
		p += 3;
		if (*p == '.')
		{
			if (!isdigit((unsigned char) p[1]))
				return false;
			for (p++; isdigit((unsigned char) *p); p++)
				;
		}
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-')
	{
		if (!digits_at(p + 1, 2))
			return false;
		p += 3;
		if (*p == ':')
			p++;
		if (*p && !digits_at(p, 2))
			return false;
		if (*p)
			p += 2;
	}
	return *p == '\0';
}

/* date, timestamptz, or OBJ_KIND_TEXT. */
static ObjKind
temporal_kind(const char *s)
{
	if (!is_date(s))
		return OBJ_KIND_TEXT;
	if (s[10] == '\0')
		return OBJ_KIND_DATE;
	if ((s[10] == 'T' || s[10] == ' ') && is_time_zone(s + 11))
		return OBJ_KIND_TIMESTAMPTZ;
	return OBJ_KIND_TEXT;
}

/* bigint, numeric, double precision, or OBJ_KIND_TEXT. */
static ObjKind
number_kind(const char *s)
{
	const char *p = s;
	const char *first;
	int			int_digits = 0,
				frac_digits = 0;
	bool		point = false;
	int64		v;
	char	   *end;

	if (*p == '+' || *p == '-')
		p++;
	first = p;
	while (isdigit((unsigned char) *p))
		p++, int_digits++;
	if (*p == '.')
	{
		point = true;
		p++;
		while (isdigit((unsigned char) *p))
			p++, frac_digits++;
	}
	if (int_digits + frac_digits == 0 || (int_digits > 1 && *first == '0'))
		return OBJ_KIND_TEXT;	/* "007": an identifier, not a number */
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return OBJ_KIND_TEXT;
		while (isdigit((unsigned char) *p))
			p++;
		return *p == '\0' ? OBJ_KIND_DOUBLE : OBJ_KIND_TEXT;
	}
	if (*p != '\0')
		return OBJ_KIND_TEXT;
	if (point)
		return OBJ_KIND_NUMERIC;
	errno = 0;
	v = strtoi64(s, &end, 10);
	(void) v;
	return errno == 0 && *end == '\0' ? OBJ_KIND_BIGINT : OBJ_KIND_NUMERIC;
}

ObjKind
obj_kind_of_text(const char *s)
{
	ObjKind		k;

	if (s == NULL || s[0] == '\0')
		return OBJ_KIND_NONE;
	if (pg_strcasecmp(s, "true") == 0 || pg_strcasecmp(s, "false") == 0)
		return OBJ_KIND_BOOL;
	if ((k = number_kind(s)) != OBJ_KIND_TEXT)
		return k;
	if ((k = temporal_kind(s)) != OBJ_KIND_TEXT)
		return k;
	if (s[0] == '{' || s[0] == '[')
	{
		json_error_t err;
		json_t	   *doc = json_loads(s, 0, &err);

		if (doc && (json_is_object(doc) || json_is_array(doc)))
			return OBJ_KIND_JSONB;
	}
	return OBJ_KIND_TEXT;
}

ObjKind
obj_kind_of_json(void *value)
{
	json_t	   *v = value;

	switch (json_typeof(v))
	{
		case JSON_NULL:
			return OBJ_KIND_NONE;
		case JSON_TRUE:
		case JSON_FALSE:
			return OBJ_KIND_BOOL;
		case JSON_INTEGER:
			return OBJ_KIND_BIGINT;
		case JSON_REAL:
			return OBJ_KIND_DOUBLE;
		case JSON_OBJECT:
		case JSON_ARRAY:
			return OBJ_KIND_JSONB;
		case JSON_STRING:
			if (json_string_length(v) == 0)
				return OBJ_KIND_NONE;
			return temporal_kind(json_string_value(v));
	}
	return OBJ_KIND_TEXT;
}

static bool
is_number(ObjKind k)
{
	return k == OBJ_KIND_BIGINT || k == OBJ_KIND_NUMERIC || k == OBJ_KIND_DOUBLE;
}

static bool
is_temporal(ObjKind k)
{
	return k == OBJ_KIND_DATE || k == OBJ_KIND_TIMESTAMPTZ;
}

/* The kind that holds values of both a and b. */
ObjKind
obj_kind_merge(ObjKind a, ObjKind b)
{
	if (a == OBJ_KIND_NONE || a == b)
		return b;
	if (b == OBJ_KIND_NONE)
		return a;
	if ((is_number(a) && is_number(b)) || (is_temporal(a) && is_temporal(b)))
		return Max(a, b);
	return OBJ_KIND_TEXT;
}

/* The PostgreSQL type of a kind (text when no value decided). */
const char *
obj_kind_type(ObjKind k)
{
	switch (k)
	{
		case OBJ_KIND_BOOL:
			return "boolean";
		case OBJ_KIND_BIGINT:
			return "bigint";
		case OBJ_KIND_NUMERIC:
			return "numeric";
		case OBJ_KIND_DOUBLE:
			return "double precision";
		case OBJ_KIND_DATE:
			return "date";
		case OBJ_KIND_TIMESTAMPTZ:
			return "timestamp with time zone";
		case OBJ_KIND_JSONB:
			return "jsonb";
		case OBJ_KIND_NONE:
		case OBJ_KIND_TEXT:
			break;
	}
	return "text";
}
