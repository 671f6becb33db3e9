/*
 * mongodb_bson_write.c: PostgreSQL values to BSON.
 *
 * Writing (mongo_append_datum, mongo_append_text) maps each PostgreSQL
 * type to one BSON type: integers int32/int64, float8 double, numeric
 * decimal128 (or a string, server option numeric_as), boolean bool,
 * timestamps date (milliseconds), jsonb an embedded document or array,
 * bytea binary, everything else a string in PostgreSQL's text form.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "mesh_util.h"
#include "mongodb_internal.h"

/* microseconds between 1970-01-01 and 2000-01-01 */
#define EPOCH_OFFSET_US INT64CONST(946684800000000)

/* A Timestamp as ms since 1970 (floor); *exact is false when µs are cut. */
static int64
timestamp_to_date(Timestamp ts, bool *exact)
{
	int128		us = (int128) ts + EPOCH_OFFSET_US;
	int64		ms = (int64) (us / 1000);

	if (us % 1000 < 0)
		ms--;
	*exact = us % 1000 == 0;
	return ms;
}

/* ---------------------------------------------------------------- writing */

/* Parse 24 hex digits into an ObjectId. */
bool
mongo_oid_text(const char *s, bson_oid_t *oid)
{
	if (!bson_oid_is_valid(s, strlen(s)) || strlen(s) != 24)
		return false;
	bson_oid_init_from_string(oid, s);
	return true;
}

static void
append_jsonb_value(bson_t *doc, const char *key, JsonbValue *v, int flags);

/* Append the container of a jsonb value (object or array) under key. */
static void
append_jsonb_container(bson_t *doc, const char *key, JsonbContainer *jc, int flags)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bson_t		child;
	bool		array;
	int			index = 0;
	char	   *name = NULL;

	it = JsonbIteratorInit(jc);
	tok = JsonbIteratorNext(&it, &v, true);
	array = tok == WJB_BEGIN_ARRAY;
	if (array && v.val.array.rawScalar)
	{
		tok = JsonbIteratorNext(&it, &v, true);
		append_jsonb_value(doc, key, &v, flags);
		return;
	}
	if (array)
		bson_append_array_begin(doc, key, -1, &child);
	else
		bson_append_document_begin(doc, key, -1, &child);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE || tok == WJB_ELEM)
		{
			char		idx[16];

			if (array)
				snprintf(idx, sizeof(idx), "%d", index++);
			append_jsonb_value(&child, array ? idx : name, &v, flags);
		}
	}
	if (array)
		bson_append_array_end(doc, &child);
	else
		bson_append_document_end(doc, &child);
}

/* A JSON number: int32/int64 when integral, double when exact, else decimal128. */
static void
append_json_number(bson_t *doc, const char *key, Numeric num, int flags)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	bool		integral = strchr(s, '.') == NULL;
	char	   *end;
	long long	ll;
	double		d;
	bson_decimal128_t dec;

	errno = 0;
	ll = strtoll(s, &end, 10);
	if (integral && errno == 0 && *end == '\0')
	{
		if (ll >= PG_INT32_MIN && ll <= PG_INT32_MAX)
			bson_append_int32(doc, key, -1, (int32) ll);
		else
			bson_append_int64(doc, key, -1, (int64) ll);
		return;
	}
	d = strtod(s, NULL);
	if (isfinite(d) &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num),
										  DirectFunctionCall1(float8_numeric, Float8GetDatum(d)))) == 0)
		bson_append_double(doc, key, -1, d);
	else if (!(flags & MONGO_NUMERIC_STRING) && bson_decimal128_from_string(s, &dec))
		bson_append_decimal128(doc, key, -1, &dec);
	else
		bson_append_utf8(doc, key, -1, s, -1);
}

static void
append_jsonb_value(bson_t *doc, const char *key, JsonbValue *v, int flags)
{
	switch (v->type)
	{
		case jbvNull:
			bson_append_null(doc, key, -1);
			break;
		case jbvString:
			bson_append_utf8(doc, key, -1, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			append_json_number(doc, key, v->val.numeric, flags);
			break;
		case jbvBool:
			bson_append_bool(doc, key, -1, v->val.boolean);
			break;
		case jbvBinary:
			append_jsonb_container(doc, key, v->val.binary.data, flags);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", v->type);
	}
}

/* Append a jsonb value (object, array or scalar) under key. */
void
mongo_append_jsonb(bson_t *doc, const char *key, Jsonb *jb, int flags)
{
	append_jsonb_container(doc, key, &jb->root, flags);
}

/*
 * Append a PostgreSQL value as the BSON type of its PostgreSQL type (see
 * the file header).  With exact, return false instead of appending when
 * the BSON value would not be the same value (sub-millisecond timestamps,
 * NaN, a numeric decimal128 cannot hold): pushdown then skips the qual.
 */
bool
mongo_append_datum(bson_t *doc, const char *key, Oid typid, Datum value, int flags)
{
	bool		exact = (flags & MONGO_EXACT) != 0;

	switch (typid)
	{
		case BOOLOID:
			return bson_append_bool(doc, key, -1, DatumGetBool(value));
		case INT2OID:
			return bson_append_int32(doc, key, -1, DatumGetInt16(value));
		case INT4OID:
			return bson_append_int32(doc, key, -1, DatumGetInt32(value));
		case INT8OID:
			return bson_append_int64(doc, key, -1, DatumGetInt64(value));
		case FLOAT4OID:
		case FLOAT8OID:
			{
				double		d = typid == FLOAT4OID ? DatumGetFloat4(value) : DatumGetFloat8(value);

				if (exact && !isfinite(d))
					return false;
				return bson_append_double(doc, key, -1, d);
			}
		case NUMERICOID:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));
				bson_decimal128_t dec;
				char		back[BSON_DECIMAL128_STRING];

				if (flags & MONGO_NUMERIC_STRING)
					return bson_append_utf8(doc, key, -1, s, -1);
				if (bson_decimal128_from_string(s, &dec))
				{
					bson_decimal128_to_string(&dec, back);
					if (!exact || strcmp(back, s) == 0)
						return bson_append_decimal128(doc, key, -1, &dec);
				}
				if (exact)
					return false;
				return bson_append_utf8(doc, key, -1, s, -1);
			}
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				Timestamp	ts = DatumGetTimestamp(value);
				bool		whole;
				int64		ms;

				if (TIMESTAMP_NOT_FINITE(ts))
				{
					if (exact)
						return false;
					return bson_append_utf8(doc, key, -1, TIMESTAMP_IS_NOBEGIN(ts) ?
											"-infinity" : "infinity", -1);
				}
				ms = timestamp_to_date(ts, &whole);
				if (exact && !whole)
					return false;
				return bson_append_date_time(doc, key, -1, ms);
			}
		case DATEOID:
			{
				DateADT		d = DatumGetDateADT(value);

				if (DATE_NOT_FINITE(d))
				{
					if (exact)
						return false;
					return bson_append_utf8(doc, key, -1, DATE_IS_NOBEGIN(d) ?
											"-infinity" : "infinity", -1);
				}
				return bson_append_date_time(doc, key, -1,
											 ((int64) d * USECS_PER_DAY + EPOCH_OFFSET_US) / 1000);
			}
		case JSONBOID:
			if (exact)
				return false;
			mongo_append_jsonb(doc, key, DatumGetJsonbP(value), flags);
			return true;
		case JSONOID:
			if (exact)
				return false;
			mongo_append_jsonb(doc, key,
							   DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																  CStringGetDatum(TextDatumGetCString(value)))),
							   flags);
			return true;
		case BYTEAOID:
			{
				bytea	   *b = DatumGetByteaPP(value);

				return bson_append_binary(doc, key, -1, BSON_SUBTYPE_BINARY,
										  (const uint8 *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
		default:
			{
				char	   *s = mesh_datum_text(value, typid);

				return bson_append_utf8(doc, key, -1, s, -1);
			}
	}
}

/*
 * Append a value given in PostgreSQL text form (replication events) as
 * the BSON type of typid: the same mapping as mongo_append_datum.  Needs
 * no catalog access: only built-in input functions are called.  text NULL
 * appends null.
 */
void
mongo_append_text(bson_t *doc, const char *key, Oid typid, const char *text, int flags)
{
	Datum		d;

	if (text == NULL)
	{
		bson_append_null(doc, key, -1);
		return;
	}
	switch (typid)
	{
		case BOOLOID:
			d = DirectFunctionCall1(boolin, CStringGetDatum(text));
			break;
		case INT2OID:
			d = DirectFunctionCall1(int2in, CStringGetDatum(text));
			break;
		case INT4OID:
			d = DirectFunctionCall1(int4in, CStringGetDatum(text));
			break;
		case INT8OID:
			d = DirectFunctionCall1(int8in, CStringGetDatum(text));
			break;
		case FLOAT4OID:
			d = DirectFunctionCall1(float4in, CStringGetDatum(text));
			break;
		case FLOAT8OID:
			d = DirectFunctionCall1(float8in, CStringGetDatum(text));
			break;
		case NUMERICOID:
			d = DirectFunctionCall3(numeric_in, CStringGetDatum(text),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			break;
		case TIMESTAMPOID:
			d = DirectFunctionCall3(timestamp_in, CStringGetDatum(text),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			break;
		case TIMESTAMPTZOID:
			d = DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			break;
		case DATEOID:
			d = DirectFunctionCall1(date_in, CStringGetDatum(text));
			break;
		case JSONBOID:
		case JSONOID:
			mongo_append_jsonb(doc, key,
							   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text))),
							   flags);
			return;
		case BYTEAOID:
			d = DirectFunctionCall1(byteain, CStringGetDatum(text));
			break;
		default:
			bson_append_utf8(doc, key, -1, text, -1);
			return;
	}
	mongo_append_datum(doc, key, typid, d, flags & ~MONGO_EXACT);
}
