/*
 * clickhouse_sql.c: ClickHouse SQL text and the TabSeparated format.
 *
 * Escaping contract: an identifier is written in backquotes and a string
 * in single quotes; inside both, backslash, the quote character and the
 * control characters \n \r \t are backslash-escaped (ClickHouse's lexer
 * reads the same escapes in both), every other byte (UTF-8 included)
 * passes as it is.  So no value or name can end a literal early.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "foreign/foreign.h"

#include "clickhouse_internal.h"

static void
append_quoted(StringInfo buf, const char *s, size_t len, char quote)
{
	appendStringInfoChar(buf, quote);
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		switch (c)
		{
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			case '\0':
				appendStringInfoString(buf, "\\0");
				break;
			default:
				if (c == quote)
					appendStringInfoChar(buf, '\\');
				appendStringInfoChar(buf, c);
		}
	}
	appendStringInfoChar(buf, quote);
}

/* Append name as a backquoted identifier. */
void
ch_append_ident(StringInfo buf, const char *name)
{
	append_quoted(buf, name, strlen(name), '`');
}

/* Append s (len bytes) as a string literal. */
void
ch_append_literal(StringInfo buf, const char *s, size_t len)
{
	append_quoted(buf, s, len, '\'');
}

/* `database`.`table` */
char *
ch_qualified_name(const char *database, const char *table)
{
	StringInfoData buf;

	initStringInfo(&buf);
	ch_append_ident(&buf, database);
	appendStringInfoChar(&buf, '.');
	ch_append_ident(&buf, table);
	return buf.data;
}

/* The remote table of a foreign table: option table, else its own name. */
const char *
ch_table_name(MeshTable *table)
{
	const char *name = mesh_defelem_get(table->options, "table");

	return name ? name : table->relname;
}

/* The database option of a foreign table's server ('default' if unset). */
const char *
ch_server_database(Oid relid)
{
	ForeignServer *server = GetForeignServer(GetForeignTable(relid)->serverid);
	const char *db = mesh_defelem_get(server->options, "database");

	return db ? db : "default";
}

/*
 * The remote database of a foreign table: option database, else the
 * server's (cc may be NULL in EXPLAIN without a connection).
 */
const char *
ch_table_database(ChConn *cc, MeshTable *table)
{
	const char *db = mesh_defelem_get(table->options, "database");

	if (db)
		return db;
	return cc ? cc->database : ch_server_database(table->relid);
}

/* The remote name of a column: option column_name, else its own name. */
const char *
ch_column_name(MeshColumn *col)
{
	const char *name = mesh_column_option(col, "column_name");

	return name ? name : col->name;
}

/*
 * Append a double as a ClickHouse literal that parses back to the same
 * bits: the shortest exact decimal (ClickHouse parses SQL number literals
 * exactly), inf, -inf or nan.
 */
void
ch_append_double(StringInfo buf, double v)
{
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(v))
		appendStringInfoString(buf, "nan");
	else if (isinf(v))
		appendStringInfoString(buf, v > 0 ? "inf" : "-inf");
	else
	{
		double_to_shortest_decimal_buf(v, digits);
		appendStringInfoString(buf, digits);
	}
}

/*
 * Split one TabSeparated line (len bytes, without its newline) into at
 * most max fields, unescaping in place (\b \f \n \r \t \0 \' \\ and \N for
 * NULL, which gives a NULL field pointer).  Each field is NUL-terminated;
 * lens[i] is its length (a field may hold a zero byte).  Returns the
 * number of fields, or -1 when there are more than max.
 */
int
ch_tsv_split(char *line, size_t len, char **fields, size_t *lens, int max)
{
	char	   *r = line;
	char	   *end = line + len;
	int			n = 0;

	/* the common case: no escape in the line, fields end at tabs */
	if (memchr(line, '\\', len) == NULL)
	{
		for (;;)
		{
			char	   *tab = memchr(r, '\t', end - r);
			char	   *fend = tab ? tab : end;

			if (n == max)
				return -1;
			fields[n] = r;
			lens[n++] = fend - r;
			if (tab == NULL)
			{
				*fend = '\0';
				return n;
			}
			*fend = '\0';
			r = tab + 1;
		}
	}
	for (;;)
	{
		char	   *start = r;
		char	   *w = r;

		if (n == max)
			return -1;
		if (end - r >= 2 && r[0] == '\\' && r[1] == 'N' && (end - r == 2 || r[2] == '\t'))
		{
			fields[n] = NULL;
			lens[n++] = 0;
			r += 2;
		}
		else
		{
			while (r < end && *r != '\t')
			{
				if (*r == '\\' && r + 1 < end)
				{
					r++;
					switch (*r)
					{
						case 'b': *w++ = '\b'; break;
						case 'f': *w++ = '\f'; break;
						case 'n': *w++ = '\n'; break;
						case 'r': *w++ = '\r'; break;
						case 't': *w++ = '\t'; break;
						case '0': *w++ = '\0'; break;
						case 'a': *w++ = '\a'; break;
						case 'v': *w++ = '\v'; break;
						default: *w++ = *r;
					}
					r++;
				}
				else
					*w++ = *r++;
			}
			lens[n] = w - start;
			fields[n++] = start;
		}
		if (fields[n - 1])
			*(start + lens[n - 1]) = '\0';
		if (r >= end)
			return n;
		r++;					/* past the tab */
	}
}

/*
 * Is this line an exception ClickHouse appended to an answer that had
 * begun streaming ("Code: 241, e.displayText() = DB::Exception: ...")?
 */
bool
ch_line_is_exception(const char *line, size_t len)
{
	static const char marker[] = "DB::Exception";

	if (len < 6 || strncmp(line, "Code: ", 6) != 0)
		return false;
	for (size_t i = 6; i + sizeof(marker) - 1 <= len; i++)
		if (memcmp(line + i, marker, sizeof(marker) - 1) == 0)
			return true;
	return false;
}
