/*
 * util.c: small helpers shared by the core and the connectors.
 */
#include "postgres.h"

#include <time.h>

#include "lib/stringinfo.h"
#include "utils/lsyscache.h"

#include "mesh_util.h"

/* A Datum of type typid in its text form. */
char *
mesh_datum_text(Datum value, Oid typid)
{
	Oid			out;
	bool		isvarlena;

	getTypeOutputInfo(typid, &out, &isvarlena);
	return OidOutputFunctionCall(out, value);
}

/* The current monotonic time. */
void
mesh_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

/* Milliseconds since start. */
double
mesh_elapsed_ms(struct timespec *start)
{
	struct timespec now;

	mesh_now(&now);
	return (now.tv_sec - start->tv_sec) * 1000.0 +
		(now.tv_nsec - start->tv_nsec) / 1000000.0;
}

/*
 * s (len bytes) quoted for display in EXPLAIN: bare when it is plain
 * printable text without spaces or quotes, else in double quotes with
 * redis-cli style escapes (\n, \", \\, \xHH).
 */
char *
mesh_quote_display(const char *s, size_t len)
{
	StringInfoData buf;
	bool		plain = len > 0;

	for (size_t i = 0; i < len && plain; i++)
	{
		unsigned char c = s[i];

		if (c <= ' ' || c == '"' || c == '\'' || c == '\\' || c == 0x7f)
			plain = false;
	}
	if (plain)
		return pnstrdup(s, len);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			appendStringInfo(&buf, "\\%c", c);
		else if (c == '\n')
			appendStringInfoString(&buf, "\\n");
		else if (c == '\r')
			appendStringInfoString(&buf, "\\r");
		else if (c == '\t')
			appendStringInfoString(&buf, "\\t");
		else if (c < ' ' || c == 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, c);
	}
	appendStringInfoChar(&buf, '"');
	return buf.data;
}

/*
 * Append s (len bytes) in double quotes, escaping quote, backslash, \n, \r
 * and \t with a backslash and any other control byte with ctrl_format
 * (e.g. "\\u%04x" for JSON, "\\x%02x" for PromQL); DEL too when
 * escape_del.
 */
void
mesh_append_dquoted(StringInfo buf, const char *s, size_t len, const char *ctrl_format,
					bool escape_del)
{
	appendStringInfoChar(buf, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			appendStringInfo(buf, "\\%c", c);
		else if (c == '\n')
			appendStringInfoString(buf, "\\n");
		else if (c == '\r')
			appendStringInfoString(buf, "\\r");
		else if (c == '\t')
			appendStringInfoString(buf, "\\t");
		else if (c < 0x20 || (escape_del && c == 0x7f))
			appendStringInfo(buf, ctrl_format, c);
		else
			appendStringInfoChar(buf, c);
	}
	appendStringInfoChar(buf, '"');
}
