/*
 * redis_execute.c: mesh.execute for Redis.  The request is one command line
 * quoted as redis-cli does; the reply becomes jsonb rows: an array reply is
 * one row per element, anything else one row.  Strings become JSON strings,
 * integers numbers, nil null, nested arrays arrays; HGETALL and CONFIG GET
 * replies (field/value lists) become one object.  An error reply is an SQL
 * error carrying the Redis message.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "redis_internal.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
bad_quote(const char *line, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid Redis command line: %s", why),
			 errhint("Quote arguments as redis-cli does: \"a b\\n\" with escapes, or 'a b'.")));
}

/*
 * Split a command line into binary-safe arguments (redis-cli quoting:
 * "..." with \n \r \t \b \a \\ \" \xHH escapes, '...' with \' only).
 * Returns the number of arguments.
 */
int
redis_split_command(const char *line, char ***argv, size_t **lens)
{
	int			cap = 8,
				n = 0;
	const char *p = line;

	*argv = palloc(sizeof(char *) * cap);
	*lens = palloc(sizeof(size_t) * cap);
	for (;;)
	{
		StringInfoData arg;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0')
			break;
		initStringInfo(&arg);
		if (*p == '"')
		{
			for (p++;; p++)
			{
				if (*p == '\0')
					bad_quote(line, "unterminated double quote");
				if (*p == '"')
					break;
				if (*p == '\\' && p[1] != '\0')
				{
					p++;
					switch (*p)
					{
						case 'n': appendStringInfoChar(&arg, '\n'); break;
						case 'r': appendStringInfoChar(&arg, '\r'); break;
						case 't': appendStringInfoChar(&arg, '\t'); break;
						case 'b': appendStringInfoChar(&arg, '\b'); break;
						case 'a': appendStringInfoChar(&arg, '\a'); break;
						case 'x':
							if (hexval(p[1]) >= 0 && hexval(p[2]) >= 0)
							{
								appendStringInfoChar(&arg, (char) (hexval(p[1]) * 16 + hexval(p[2])));
								p += 2;
								break;
							}
							/* FALLTHROUGH */
						default:
							appendStringInfoChar(&arg, *p);
					}
				}
				else
					appendStringInfoChar(&arg, *p);
			}
			p++;
		}
		else if (*p == '\'')
		{
			for (p++;; p++)
			{
				if (*p == '\0')
					bad_quote(line, "unterminated single quote");
				if (*p == '\'')
					break;
				if (*p == '\\' && p[1] == '\'')
					p++;
				appendStringInfoChar(&arg, *p);
			}
			p++;
		}
		else
			while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
				appendStringInfoChar(&arg, *p++);
		if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			bad_quote(line, "a closing quote must be followed by a space");
		if (n == cap)
		{
			cap *= 2;
			*argv = repalloc(*argv, sizeof(char *) * cap);
			*lens = repalloc(*lens, sizeof(size_t) * cap);
		}
		(*argv)[n] = arg.data;
		(*lens)[n++] = arg.len;
	}
	return n;
}

static JsonbValue *push_reply(JsonbParseState **state, redisReply *r, bool as_object);

static void
push_string(JsonbParseState **state, const char *s, size_t len, JsonbIteratorToken tok)
{
	JsonbValue	v;

	if (!pg_verifymbstr(s, len, true) || memchr(s, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("Redis reply holds bytes that are not valid text"),
				 errhint("Read binary values through a foreign table column of type bytea.")));
	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = len;
	pushJsonbValue(state, tok, &v);
}

/* Push reply r as one JSON value (tok WJB_ELEM or WJB_VALUE; WJB_BEGIN... at top). */
static void
push_value(JsonbParseState **state, redisReply *r, JsonbIteratorToken tok)
{
	JsonbValue	v;

	switch (r->type)
	{
		case REDIS_REPLY_STRING:
		case REDIS_REPLY_STATUS:
			push_string(state, r->str, r->len, tok);
			return;
		case REDIS_REPLY_INTEGER:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(r->integer);
			pushJsonbValue(state, tok, &v);
			return;
		case REDIS_REPLY_NIL:
			v.type = jbvNull;
			pushJsonbValue(state, tok, &v);
			return;
		case REDIS_REPLY_ARRAY:
			push_reply(state, r, false);
			return;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("unexpected Redis reply type %d", r->type)));
	}
}

/*
 * Push an array reply as a JSON array, or as an object of field/value
 * pairs; returns the finished value when it is the outermost one.
 */
static JsonbValue *
push_reply(JsonbParseState **state, redisReply *r, bool as_object)
{
	if (as_object)
	{
		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		for (size_t i = 0; i + 1 < r->elements; i += 2)
		{
			if (r->element[i]->type != REDIS_REPLY_STRING &&
				r->element[i]->type != REDIS_REPLY_STATUS)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_REPLY_HANDLE),
						 errmsg("malformed field/value reply from Redis")));
			push_string(state, r->element[i]->str, r->element[i]->len, WJB_KEY);
			push_value(state, r->element[i + 1], WJB_VALUE);
		}
		return pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (size_t i = 0; i < r->elements; i++)
		push_value(state, r->element[i], WJB_ELEM);
	return pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* One reply (scalar or container) as a Jsonb document. */
static Jsonb *
reply_to_jsonb(redisReply *r, bool as_object)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	if (r->type == REDIS_REPLY_ARRAY)
		res = push_reply(&state, r, as_object);
	else
	{
		/* a scalar: wrap in a raw-scalar array as jsonb does */
		JsonbValue	arr;

		arr.type = jbvArray;
		arr.val.array.rawScalar = true;
		arr.val.array.nElems = 1;
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, &arr);
		push_value(&state, r, WJB_ELEM);
		res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	return JsonbValueToJsonb(res);
}

static bool
returns_field_pairs(int argc, char **argv)
{
	return pg_strcasecmp(argv[0], "HGETALL") == 0 ||
		(argc >= 2 && pg_strcasecmp(argv[0], "CONFIG") == 0 &&
		 pg_strcasecmp(argv[1], "GET") == 0);
}

/* mesh.execute(server, 'COMMAND arg ...'): the reply as jsonb rows. */
List *
redis_execute(void *conn, const char *request, Jsonb *params)
{
	RedisConn  *rc = conn;
	char	  **argv;
	size_t	   *lens;
	int			argc = redis_split_command(request, &argv, &lens);
	RedisReplies *replies = redis_replies_new();
	redisReply *r;
	List	   *rows = NIL;

	if (argc == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("empty Redis command"),
				 errhint("Pass a command line such as 'HGETALL reading:1'.")));
	r = redis_call(rc, replies, argc, (const char **) argv, lens);
	if (r->type == REDIS_REPLY_ARRAY && !returns_field_pairs(argc, argv))
	{
		for (size_t i = 0; i < r->elements; i++)
			rows = lappend(rows, reply_to_jsonb(r->element[i], false));
	}
	else
		rows = lappend(rows, reply_to_jsonb(r, returns_field_pairs(argc, argv)));
	redis_replies_clear(replies);
	return rows;
}
