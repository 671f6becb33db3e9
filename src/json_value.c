/*
 * json_value.c: JSON replies to PostgreSQL values.
 *
 * Contract: a reply that is not JSON, or lacks what the protocol promises,
 * is an ereport naming the server ("malformed reply"), never a crash; a
 * value that does not fit its column is an ereport naming the column and
 * the value.
 */
#include "postgres.h"

#include "json_value.h"
#include "mesh_util.h"

#include "catalog/pg_type.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

static void *
json_palloc(size_t size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, Max(size, 1), MCXT_ALLOC_HUGE);
}

static void
json_pfree(void *p)
{
	if (p)
		pfree(p);
}

/* An empty JSON object (see json_value.h: never call jansson's json_object). */
json_t *
mesh_json_object_new(void)
{
	json_t	   *o = json_pack("{}");

	if (o == NULL)
		elog(ERROR, "out of memory");
	return o;
}

/* Make jansson allocate in the current memory context (see the header). */
void
mesh_json_init(void)
{
	json_set_alloc_funcs(json_palloc, json_pfree);
}

void
mesh_json_malformed(const char *server, const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_REPLY_HANDLE),
			 errmsg("malformed reply from server \"%s\" to %s", server, what),
			 detail ? errdetail("%s", detail) : 0));
	pg_unreachable();
}

/* Parse a reply body; a parse error ereports with its position. */
json_t *
mesh_json_parse(const char *data, size_t len, const char *server, const char *what)
{
	json_error_t err;
	json_t	   *root = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

	if (root == NULL)
		mesh_json_malformed(server, what,
							psprintf("%s at line %d, column %d; the reply began: %s",
									 err.text, err.line, err.column,
									 pnstrdup(data, Min(len, 200))));
	return root;
}

/* True when the integer token s[0..len) does not fit int64, or is "-0". */
static bool
integer_needs_real(const char *s, size_t len)
{
	bool		neg = s[0] == '-';
	size_t		digits = len - (neg ? 1 : 0);
	const char *d = s + (neg ? 1 : 0);

	if (neg && digits == 1 && d[0] == '0')
		return true;			/* -0 is a float: keep its sign */
	if (digits < 19)
		return false;
	if (digits > 19)
		return true;
	return memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0;
}

/*
 * Go's encoder prints a float64 below 1e21 without exponent or fraction,
 * e.g. 1e20 as 100000000000000000000, which jansson rejects as an integer
 * too big, and -0.0 as -0, which jansson reads as the integer 0.  When a
 * backend's integers are int64, such a token is a float: append ".0" so it
 * parses as one, exactly.  Returns data itself when nothing changes.
 */
static const char *
reals_for_big_integers(const char *data, size_t *len)
{
	StringInfoData out;
	size_t		copied = 0;
	bool		in_string = false;

	out.data = NULL;
	for (size_t i = 0; i < *len; i++)
	{
		char		c = data[i];
		size_t		start;
		bool		integer = true;

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
		{
			in_string = true;
			continue;
		}
		if (c != '-' && (c < '0' || c > '9'))
			continue;
		start = i;
		while (i < *len && strchr("0123456789+-.eE", data[i]) != NULL)
		{
			if (data[i] == '.' || data[i] == 'e' || data[i] == 'E')
				integer = false;
			i++;
		}
		if (integer && integer_needs_real(data + start, i - start))
		{
			if (out.data == NULL)
				initStringInfo(&out);
			appendBinaryStringInfo(&out, data + copied, i - copied);
			appendStringInfoString(&out, ".0");
			copied = i;
		}
		i--;
	}
	if (out.data == NULL)
		return data;
	appendBinaryStringInfo(&out, data + copied, *len - copied);
	*len = out.len;
	return out.data;
}

/*
 * mesh_json_parse for backends written in Go whose numbers are float64 or
 * int64 (InfluxDB, VictoriaMetrics): see reals_for_big_integers.
 */
json_t *
mesh_json_parse_go(const char *data, size_t len, const char *server, const char *what)
{
	data = reals_for_big_integers(data, &len);
	return mesh_json_parse(data, len, server, what);
}

/* object[key], which must exist with the given type (JSON_NULL: any type). */
json_t *
mesh_json_get(json_t *object, const char *key, json_type type, const char *server,
			  const char *what)
{
	json_t	   *v = json_is_object(object) ? json_object_get(object, key) : NULL;

	if (v == NULL || (type != JSON_NULL && json_typeof(v) != type &&
					  !(type == JSON_REAL && json_is_integer(v))))
		mesh_json_malformed(server, what,
							psprintf("The reply lacks a valid \"%s\" member.", key));
	return v;
}

/* A scalar's text: strings as they are, numbers and booleans as JSON spells them. */
char *
mesh_json_scalar_text(json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_STRING:
			return pnstrdup(json_string_value(v), json_string_length(v));
		case JSON_INTEGER:
			return psprintf(INT64_FORMAT, (int64) json_integer_value(v));
		case JSON_REAL:
			return float8out_internal(json_real_value(v));
		case JSON_TRUE:
			return pstrdup("true");
		case JSON_FALSE:
			return pstrdup("false");
		case JSON_NULL:
			return NULL;
		default:
			return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	}
}

static Numeric
text_numeric(const char *text)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* Push v as one JSON value (tok: WJB_ELEM or WJB_VALUE), containers recursively. */
static JsonbValue *
push_json(JsonbParseState **state, json_t *v, JsonbIteratorToken tok)
{
	JsonbValue	jv;
	const char *key;
	json_t	   *member;
	size_t		i;

	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			json_object_foreach(v, key, member)
			{
				jv.type = jbvString;
				jv.val.string.val = (char *) key;
				jv.val.string.len = strlen(key);
				pushJsonbValue(state, WJB_KEY, &jv);
				push_json(state, member, WJB_VALUE);
			}
			return pushJsonbValue(state, WJB_END_OBJECT, NULL);
		case JSON_ARRAY:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			json_array_foreach(v, i, member)
				push_json(state, member, WJB_ELEM);
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		case JSON_STRING:
			if (memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
						 errmsg("a JSON string of the reply holds a zero byte, which jsonb cannot hold")));
			jv.type = jbvString;
			jv.val.string.val = (char *) json_string_value(v);
			jv.val.string.len = json_string_length(v);
			break;
		case JSON_INTEGER:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric((int64) json_integer_value(v));
			break;
		case JSON_REAL:
			/* the shortest text that reads back as the same double */
			jv.type = jbvNumeric;
			jv.val.numeric = text_numeric(float8out_internal(json_real_value(v)));
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			jv.type = jbvBool;
			jv.val.boolean = json_is_true(v);
			break;
		default:
			jv.type = jbvNull;
			break;
	}
	return pushJsonbValue(state, tok, &jv);
}

/* A JSON value as jsonb; reals keep their shortest exact form (0.1, not 0.10000000000000001). */
Jsonb *
mesh_json_to_jsonb(json_t *v)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	if (json_is_object(v) || json_is_array(v))
		res = push_json(&state, v, WJB_ELEM);
	else
	{
		JsonbValue	arr;

		arr.type = jbvArray;
		arr.val.array.rawScalar = true;
		arr.val.array.nElems = 1;
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, &arr);
		push_json(&state, v, WJB_ELEM);
		res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	return JsonbValueToJsonb(res);
}

static void
mismatch(MeshColumn *col, const char *got, json_t *v)
{
	char	   *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("remote value %s does not fit column \"%s\" of type %s",
					text ? pnstrdup(text, 200) : got, col->name,
					format_type_with_typemod(col->typid, col->typmod)),
			 errdetail("The backend sent %s.", got)));
}

/*
 * A JSON value as a value of col's type.  Strings and numbers go through
 * the type's input function (so "123" fits an integer: ClickHouse quotes
 * 64-bit integers); objects and arrays fit json, jsonb and text columns;
 * booleans fit boolean and text.
 */
Datum
mesh_json_to_datum(MeshColumn *col, json_t *v, bool *isnull)
{
	Oid			base = getBaseType(col->typid);
	char	   *text;

	*isnull = false;
	switch (json_typeof(v))
	{
		case JSON_NULL:
			*isnull = true;
			return (Datum) 0;
		case JSON_OBJECT:
		case JSON_ARRAY:
			if (base != JSONOID && base != JSONBOID && base != TEXTOID &&
				base != VARCHAROID)
				mismatch(col, json_is_object(v) ? "an object" : "an array", v);
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			if (base != BOOLOID && base != TEXTOID && base != VARCHAROID &&
				base != JSONOID && base != JSONBOID)
				mismatch(col, "a boolean", v);
			break;
		case JSON_INTEGER:
		case JSON_REAL:
			if (base == BOOLOID || base == TIMESTAMPOID || base == TIMESTAMPTZOID ||
				base == DATEOID || base == BYTEAOID)
				mismatch(col, "a number", v);
			break;
		case JSON_STRING:
			if (base == JSONOID || base == JSONBOID)
			{
				text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				return mesh_value_from_text(col, text, strlen(text));
			}
			return mesh_value_from_text(col, json_string_value(v), json_string_length(v));
	}
	if (base == JSONOID || base == JSONBOID ||
		json_is_object(v) || json_is_array(v))
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	else
		text = mesh_json_scalar_text(v);
	return mesh_value_from_text(col, text, strlen(text));
}

/* Append s (len bytes) as a JSON string literal, escaping what JSON requires. */
void
mesh_json_append_string(StringInfo buf, const char *s, size_t len)
{
	mesh_append_dquoted(buf, s, len, "\\u%04x", false);
}
