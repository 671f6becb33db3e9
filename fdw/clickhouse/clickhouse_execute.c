/*
 * clickhouse_execute.c: mesh.execute for ClickHouse.
 *
 * The request is ClickHouse SQL, sent as it is with default_format=
 * JSONEachRow: a SELECT gives one jsonb object per row, a statement
 * without a result (DDL, INSERT ... VALUES) no rows.  64-bit integers are
 * JSON numbers (output_format_json_quote_64bit_integers=0), kept exactly
 * as jsonb numerics; inf and nan are the strings "inf" and "nan".
 *
 * params fills ClickHouse query parameters {name:Type} on every server
 * version (18.16 has none): each becomes CAST(<literal> AS Type), the
 * literal escaped from the JSON value, so values never become SQL.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "json_value.h"
#include "mb/pg_wchar.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "clickhouse_internal.h"

#define EXECUTE_SETTINGS "default_format=JSONEachRow&output_format_json_quote_64bit_integers=0" \
	"&output_format_json_quote_denormals=1"

static void
bad_param(const char *name, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid query parameter \"%s\": %s", name, why),
			 errhint("Write parameters as {name:Type}, e.g. {id:UInt32}, and pass '{\"id\": 5}' as params.")));
}

static void append_value(StringInfo buf, JsonbValue *v, const char *name);

static void
append_container(StringInfo buf, JsonbContainer *c, const char *name)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;

	tok = JsonbIteratorNext(&it, &v, true);
	if (tok != WJB_BEGIN_ARRAY || v.val.array.rawScalar)
	{
		if (tok == WJB_BEGIN_ARRAY)
		{
			tok = JsonbIteratorNext(&it, &v, true);
			append_value(buf, &v, name);
			return;
		}
		bad_param(name, "a JSON object has no ClickHouse literal");
	}
	appendStringInfoChar(buf, '[');
	while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_ELEM)
	{
		if (n++ > 0)
			appendStringInfoString(buf, ", ");
		append_value(buf, &v, name);
	}
	appendStringInfoChar(buf, ']');
}

/* A JSON value as a ClickHouse literal. */
static void
append_value(StringInfo buf, JsonbValue *v, const char *name)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(buf, "NULL");
			break;
		case jbvString:
			ch_append_literal(buf, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out,
																			  NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			appendStringInfoString(buf, v->val.boolean ? "1" : "0");
			break;
		case jbvBinary:
			append_container(buf, v->val.binary.data, name);
			break;
		default:
			bad_param(name, "unsupported JSON value");
	}
}

/* A parameter's type: names, numbers, (), commas and simple quoted words only. */
static bool
valid_type(const char *s, size_t len)
{
	int			depth = 0;

	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '\'')
		{
			for (i++; i < len && s[i] != '\''; i++)
				if (!isalnum((unsigned char) s[i]) && !strchr("_/+-:.", s[i]))
					return false;
			if (i >= len)
				return false;
		}
		else if (c == '(')
			depth++;
		else if (c == ')')
		{
			if (--depth < 0)
				return false;
		}
		else if (!isalnum((unsigned char) c) && c != '_' && c != ' ' && c != ',')
			return false;
	}
	return depth == 0 && len > 0;
}

/* Length of a {name:Type} placeholder at p (0: not one); name and type spans out. */
static size_t
placeholder(const char *p, const char **name, size_t *nlen, const char **type, size_t *tlen)
{
	const char *q = p + 1;
	const char *close;

	if (!(isalpha((unsigned char) *q) || *q == '_'))
		return 0;
	*name = q;
	while (isalnum((unsigned char) *q) || *q == '_')
		q++;
	*nlen = q - *name;
	while (*q == ' ')
		q++;
	if (*q != ':')
		return 0;
	q++;
	close = strchr(q, '}');
	if (close == NULL)
		return 0;
	while (*q == ' ')
		q++;
	*type = q;
	*tlen = close - q;
	while (*tlen > 0 && q[*tlen - 1] == ' ')
		(*tlen)--;
	return close - p + 1;
}

/* sql with every {name:Type} outside quotes and comments replaced. */
static char *
substitute(const char *sql, Jsonb *params)
{
	StringInfoData out;
	const char *p = sql;

	initStringInfo(&out);
	while (*p)
	{
		char		c = *p;
		const char *name,
				   *type;
		size_t		nlen,
					tlen,
					len;

		if (c == '\'' || c == '`' || c == '"')
		{
			const char *start = p++;

			while (*p && *p != c)
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (*p)
				p++;
			appendBinaryStringInfo(&out, start, p - start);
			continue;
		}
		if ((c == '-' && p[1] == '-') || (c == '/' && p[1] == '*'))
		{
			const char *end = c == '-' ? strchr(p, '\n') : strstr(p + 2, "*/");
			size_t		n = end ? (size_t) (end - p) + (c == '/' ? 2 : 0) : strlen(p);

			appendBinaryStringInfo(&out, p, n);
			p += n;
			continue;
		}
		if (c == '{' && (len = placeholder(p, &name, &nlen, &type, &tlen)) > 0)
		{
			char	   *pname = pnstrdup(name, nlen);
			char	   *ptype = pnstrdup(type, tlen);
			JsonbValue	vbuf;
			JsonbValue *v = params && JB_ROOT_IS_OBJECT(params) ?
				getKeyJsonValueFromContainer(&params->root, name, nlen, &vbuf) : NULL;

			if (v == NULL)
				bad_param(pname, "it is not in params");
			if (!valid_type(type, tlen))
				bad_param(pname, psprintf("\"%s\" is not a ClickHouse type name", ptype));
			appendStringInfoString(&out, "CAST(");
			append_value(&out, v, pname);
			if (v->type == jbvNull && strncmp(ptype, "Nullable(", 9) != 0)
				appendStringInfo(&out, " AS Nullable(%s))", ptype);
			else
				appendStringInfo(&out, " AS %s)", ptype);
			p += len;
			continue;
		}
		appendStringInfoChar(&out, c);
		p++;
	}
	return out.data;
}

/* mesh.execute(server, 'ClickHouse SQL', params): rows as jsonb objects. */
List *
ch_execute(void *conn, const char *request, Jsonb *params)
{
	ChConn	   *cc = conn;
	MeshHttpResponse resp;
	List	   *rows = NIL;
	char	   *p;

	if (params && !JB_ROOT_IS_OBJECT(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params of a ClickHouse request must be a JSON object"),
				 errhint("For example: '{\"id\": 5}' for a query with {id:UInt32}.")));
	ch_query(cc, substitute(request, params),
			 psprintf("database=%s&" EXECUTE_SETTINGS, mesh_http_escape(cc->database)),
			 "a query", &resp);
	p = resp.body.data;
	while (*p)
	{
		char	   *nl = strchr(p, '\n');
		size_t		len = nl ? (size_t) (nl - p) : strlen(p);
		JsonLexContext *lex;
		JsonParseErrorType rc;

		if (len == 0)
		{
			p += nl ? 1 : 0;
			continue;
		}
		lex = makeJsonLexContextCstringLen(p, len, GetDatabaseEncoding(), true);
		rc = pg_parse_json(lex, &nullSemAction);
		if (rc != JSON_SUCCESS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("malformed reply from server \"%s\" to a query", cc->servername),
					 errdetail("%s; the line began: %s", json_errdetail(rc, lex),
							   pnstrdup(p, Min(len, 200))),
					 errhint("mesh.execute reads JSONEachRow: leave out the FORMAT clause.")));
		rows = lappend(rows, DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																CStringGetDatum(pnstrdup(p, len)))));
		p += len + (nl ? 1 : 0);
	}
	return rows;
}
