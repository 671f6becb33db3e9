/*
 * prometheus_promql.c: PromQL text that mesh generates: string literals,
 * regular expressions (RE2) for label matchers, and series selectors.
 *
 * Contract: a value embedded in PromQL is always a double-quoted string
 * literal built by prom_append_string, so no value can end the literal or
 * the selector; regular expressions are built from quoted text only.
 */
#include "postgres.h"

#include "mesh_util.h"
#include "prometheus.h"

/*
 * Words the PromQL lexer reads as keywords (case-insensitively), so a
 * metric of that name must be written {__name__="..."}.
 */
static const char *const promql_keywords[] = {
	"and", "or", "unless", "atan2", "sum", "avg", "count", "min", "max", "group",
	"stddev", "stdvar", "topk", "bottomk", "count_values", "quantile", "offset",
	"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
	"start", "end", "inf", "nan", NULL
};

/* Append s (len bytes) as a PromQL double-quoted string literal. */
void
prom_append_string(StringInfo buf, const char *s, size_t len)
{
	mesh_append_dquoted(buf, s, len, "\\x%02x", true);
}

/* Append s (len bytes) to a regular expression, every RE2 metacharacter escaped. */
void
prom_append_regex_quoted(StringInfo re, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		if (strchr("\\.+*?()|[]{}^$", s[i]) != NULL)
			appendStringInfoChar(re, '\\');
		appendStringInfoChar(re, s[i]);
	}
}

/*
 * Append to buf a regular expression (not yet a literal) matching what the
 * LIKE pattern matches (escape character \).  "%" and "_" match newlines
 * too, as LIKE does.  Returns false for a pattern LIKE rejects (a trailing
 * escape), leaving buf unchanged.
 */
bool
prom_like_to_regex(StringInfo buf, const char *pattern)
{
	int			start = buf->len;

	for (const char *p = pattern; *p; p++)
	{
		if (*p == '%')
			appendStringInfoString(buf, "(?s:.*)");
		else if (*p == '_')
			appendStringInfoString(buf, "(?s:.)");
		else
		{
			if (*p == '\\')
			{
				if (p[1] == '\0')
				{
					buf->len = start;
					buf->data[start] = '\0';
					return false;
				}
				p++;
			}
			prom_append_regex_quoted(buf, p, 1);
		}
	}
	return true;
}

/* True when name is a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*). */
bool
prom_is_label_name(const char *name)
{
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
		  name[0] == '_'))
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* True when metric can be written bare: [a-zA-Z_:][a-zA-Z0-9_:]*, no keyword. */
static bool
is_plain_metric(const char *metric)
{
	for (const char *p = metric; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
			  *p == ':' || (p > metric && *p >= '0' && *p <= '9')))
			return false;
	for (int i = 0; promql_keywords[i]; i++)
		if (pg_strcasecmp(metric, promql_keywords[i]) == 0)
			return false;
	return metric[0] != '\0';
}

/*
 * The series selector of metric with the given matchers (List of char *,
 * each already "label<op>\"literal\""): metric{m1,m2} when the name is a
 * plain identifier, else {__name__="metric",m1,m2}.
 */
char *
prom_selector(const char *metric, List *matchers)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	if (is_plain_metric(metric))
	{
		appendStringInfoString(&buf, metric);
		if (matchers == NIL)
			return buf.data;
		appendStringInfoChar(&buf, '{');
	}
	else
	{
		appendStringInfoString(&buf, "{__name__=");
		prom_append_string(&buf, metric, strlen(metric));
		first = false;
	}
	foreach(lc, matchers)
	{
		appendStringInfo(&buf, "%s%s", first ? "" : ",", (char *) lfirst(lc));
		first = false;
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
