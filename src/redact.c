/*
 * redact.c: the form of an error that may leave the route owner's view.
 *
 * A failed delivery can carry row values: PostgreSQL's "Failing row
 * contains (...)" and "Key (id)=(...) already exists", MongoDB's "dup key:
 * { ... }", ClickHouse's and Elasticsearch's parse errors quoting the
 * value.  The full error is kept only where the table's owner reads it
 * (mesh.dead_letter); everything else (mesh.stats.last_error, the server
 * log lines of the workers, /metrics, the status page) gets this form.
 *
 * Every connector puts the remote's own text in errdetail, or, for an item
 * a sink refused (MeshItemOutcome.reason), after the first ": "; the
 * part before it is mesh's own wording (server names, what was attempted),
 * which names no value.  What is kept of the rest is its class only: the
 * SQLSTATE, the constraint, and a leading error code of the remote
 * (ClickHouse "Code: 53", an Elasticsearch exception type, a Redis error
 * word such as WRONGTYPE, MongoDB's "(error 11000)").  Errors about a
 * missing object (a table, column, database, schema: what makes a route
 * wait for an operator) name objects, never values, and are kept whole:
 * mesh sends values only as parameters, never inside the SQL text.
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "mesh_util.h"

/* The length of message up to its first ": " outside double quotes. */
static size_t
own_part_length(const char *message)
{
	bool		quoted = false;
	const char *p;

	for (p = message; *p; p++)
	{
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '\n')
			break;
		else if (!quoted && p[0] == ':' && p[1] == ' ')
			break;
	}
	return p - message;
}

/* A remote error code at the start (or end) of text, or NULL. */
static char *
remote_error_class(const char *text)
{
	const char *p = text;
	const char *end;
	size_t		len;

	if (text == NULL || *text == '\0')
		return NULL;
	/* ClickHouse: "Code: 53. DB::Exception: ..." */
	if (strncmp(p, "Code: ", 6) == 0 && isdigit((unsigned char) p[6]))
	{
		for (end = p + 6; isdigit((unsigned char) *end); end++)
			;
		return psprintf("code %.*s", (int) (end - p - 6), p + 6);
	}
	/* Elasticsearch: "mapper_parsing_exception: ..." */
	for (end = p; islower((unsigned char) *end) || isdigit((unsigned char) *end) || *end == '_' || *end == '.'; end++)
		;
	if (end > p && end[0] == ':' && end[1] == ' ' && memchr(p, '_', end - p) != NULL)
		return pnstrdup(p, end - p);
	/* Redis: "WRONGTYPE Operation against a key ..." */
	for (end = p; isupper((unsigned char) *end); end++)
		;
	if (end - p >= 3 && (*end == ' ' || *end == '\0'))
		return pnstrdup(p, end - p);
	/* MongoDB: "... (error 11000)" */
	len = strlen(text);
	if (len > 8 && text[len - 1] == ')')
	{
		const char *open = text + len - 2;

		while (open > text && isdigit((unsigned char) *open))
			open--;
		if (open > text + 6 && open < text + len - 2 && strncmp(open - 6, "(error ", 7) == 0)
			return psprintf("error %.*s", (int) (text + len - 1 - (open + 1)), open + 1);
	}
	return NULL;
}

/*
 * The error (message, detail, SQLSTATE, constraint; any may be NULL or 0)
 * as it may be shown beyond the route's owner: mesh's own wording, then in
 * brackets the SQLSTATE, the constraint name and the remote's error class,
 * and "detail redacted" when something was left out.
 */
char *
mesh_redact_error(const char *message, const char *detail, int sqlerrcode,
				  const char *constraint)
{
	StringInfoData buf;
	size_t		own;
	const char *rest = NULL;
	char	   *class;
	bool		redacted = false;
	int			parts = 0;

	if (message == NULL)
		message = "";
	if (sqlerrcode == ERRCODE_UNDEFINED_TABLE || sqlerrcode == ERRCODE_UNDEFINED_COLUMN ||
		sqlerrcode == ERRCODE_INVALID_CATALOG_NAME || sqlerrcode == ERRCODE_INVALID_SCHEMA_NAME)
		return detail && detail[0] ? psprintf("%s: %s", message, detail) : pstrdup(message);
	own = own_part_length(message);
	if (message[own] != '\0')
	{
		rest = message + own + (message[own] == ':' ? 2 : 1);
		redacted = true;
	}
	if (detail != NULL && detail[0] != '\0')
		redacted = true;
	class = remote_error_class(rest ? rest : detail);

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, message, own);
	while (buf.len > 0 && (buf.data[buf.len - 1] == ' ' || buf.data[buf.len - 1] == '.'))
		buf.data[--buf.len] = '\0';
	if (buf.len == 0)
		appendStringInfoString(&buf, "error");
	if (sqlerrcode != 0 || constraint != NULL || class != NULL || redacted)
		appendStringInfoString(&buf, " [");
	if (sqlerrcode != 0)
		appendStringInfo(&buf, "%sSQLSTATE %s", parts++ ? ", " : "", unpack_sql_state(sqlerrcode));
	if (constraint != NULL && constraint[0] != '\0')
	{
		bool		plain = strpbrk(constraint, "\"]\n") == NULL;

		appendStringInfo(&buf, "%sconstraint \"%s\"", parts++ ? ", " : "",
						 plain ? constraint : "?");
	}
	if (class != NULL)
		appendStringInfo(&buf, "%s%s", parts++ ? ", " : "", class);
	if (redacted)
		appendStringInfo(&buf, "%sdetail redacted", parts++ ? "; " : "");
	if (sqlerrcode != 0 || constraint != NULL || class != NULL || redacted)
		appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* mesh_redact_error of an ErrorData. */
char *
mesh_redact_edata(ErrorData *edata)
{
	return mesh_redact_error(edata->message, edata->detail, edata->sqlerrcode,
							 edata->constraint_name);
}

PG_FUNCTION_INFO_V1(mesh_redact_error_sql);

/*
 * mesh._redact_error(message, detail, sqlstate, constraint_name): the
 * helper above, for tests of each backend's error shapes.
 */
Datum
mesh_redact_error_sql(PG_FUNCTION_ARGS)
{
	char	   *message = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *detail = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *state = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *constraint = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	int			code = 0;

	if (state != NULL)
	{
		if (strlen(state) != 5)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid SQLSTATE \"%s\"", state),
					 errdetail("A SQLSTATE has five characters.")));
		code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	}
	PG_RETURN_TEXT_P(cstring_to_text(mesh_redact_error(message, detail, code, constraint)));
}
