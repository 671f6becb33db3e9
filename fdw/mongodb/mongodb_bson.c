/*
 * mongodb_bson.c: BSON values to PostgreSQL values and JSON.
 *
 * Reading (mongo_iter_datum) is strict, so a pushed filter and PostgreSQL
 * agree on every row: a column accepts only the BSON types listed in
 * README.md (numbers for numeric columns, strings and ObjectIds for text,
 * dates for timestamps, booleans for boolean ...); anything else is an
 * error naming the field, the column and the value.  null and a missing
 * field are SQL NULL.  Embedded documents and arrays are JSON.  The other
 * direction is mongodb_bson_write.c.
 */
#include "postgres.h"

#include "json_value.h"

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "datatype/timestamp.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "mesh_util.h"
#include "mongodb_internal.h"

/* microseconds between 1970-01-01 and 2000-01-01 */
#define EPOCH_OFFSET_US INT64CONST(946684800000000)

static const char *
bson_type_name(bson_type_t t)
{
	switch (t)
	{
		case BSON_TYPE_DOUBLE:
			return "double";
		case BSON_TYPE_UTF8:
			return "string";
		case BSON_TYPE_DOCUMENT:
			return "document";
		case BSON_TYPE_ARRAY:
			return "array";
		case BSON_TYPE_BINARY:
			return "binary";
		case BSON_TYPE_OID:
			return "objectId";
		case BSON_TYPE_BOOL:
			return "bool";
		case BSON_TYPE_DATE_TIME:
			return "date";
		case BSON_TYPE_NULL:
			return "null";
		case BSON_TYPE_REGEX:
			return "regex";
		case BSON_TYPE_INT32:
			return "int";
		case BSON_TYPE_TIMESTAMP:
			return "timestamp";
		case BSON_TYPE_INT64:
			return "long";
		case BSON_TYPE_DECIMAL128:
			return "decimal";
		default:
			return "other";
	}
}

/* A BSON date (ms since 1970) as a PostgreSQL Timestamp; errors when out of range. */
static Timestamp
date_to_timestamp(int64 ms)
{
	Timestamp	ts;

	if (ms > PG_INT64_MAX / 1000 || ms < PG_INT64_MIN / 1000 + EPOCH_OFFSET_US / 1000)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("BSON date " INT64_FORMAT " ms is out of range", ms)));
	ts = ms * 1000 - EPOCH_OFFSET_US;
	if (!IS_VALID_TIMESTAMP(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("BSON date " INT64_FORMAT " ms is out of range", ms)));
	return ts;
}

/* "YYYY-MM-DD HH:MM:SS.mmm" of a BSON date; sep between date and time, zone appended. */
static char *
date_text(int64 ms, char sep, const char *zone, bool date_only)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			year;
	Timestamp	ts = date_to_timestamp(ms);

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("BSON date " INT64_FORMAT " ms is out of range", ms)));
	year = tm.tm_year > 0 ? tm.tm_year : 1 - tm.tm_year;
	if (date_only)
		return psprintf("%04d-%02d-%02d%s", year, tm.tm_mon, tm.tm_mday,
						tm.tm_year <= 0 ? " BC" : "");
	return psprintf("%04d-%02d-%02d%c%02d:%02d:%02d.%03d%s%s", year,
					tm.tm_mon, tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec,
					(int) (fsec / 1000), zone, tm.tm_year <= 0 ? " BC" : "");
}

/* Shortest exact text of a double ("NaN", "Infinity" as PostgreSQL spells them). */
static char *
double_text(double d)
{
	return float8out_internal(d);
}

static char *
decimal_text(const bson_iter_t *it)
{
	bson_decimal128_t dec;
	char		buf[BSON_DECIMAL128_STRING];

	bson_iter_decimal128(it, &dec);
	bson_decimal128_to_string(&dec, buf);
	return pstrdup(buf);
}

static char *
oid_text(const bson_iter_t *it)
{
	char		hex[25];

	bson_oid_to_string(bson_iter_oid(it), hex);
	return pstrdup(hex);
}

static bool
is_number(bson_type_t t)
{
	return t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64 || t == BSON_TYPE_DOUBLE ||
		t == BSON_TYPE_DECIMAL128;
}

static char *
number_text(const bson_iter_t *it)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			return psprintf("%d", bson_iter_int32(it));
		case BSON_TYPE_INT64:
			return psprintf(INT64_FORMAT, bson_iter_int64(it));
		case BSON_TYPE_DOUBLE:
			return double_text(bson_iter_double(it));
		default:
			return decimal_text(it);
	}
}

/* ---------------------------------------------------------------- JSON */

static void
append_binary_json(StringInfo buf, const bson_iter_t *it)
{
	bson_subtype_t sub;
	uint32		len;
	const uint8 *data;
	char	   *out;
	int			n;

	bson_iter_binary(it, &sub, &len, &data);
	out = palloc(pg_b64_enc_len(len) + 1);
	n = pg_b64_encode((const char *) data, len, out, pg_b64_enc_len(len));
	appendStringInfoChar(buf, '"');
	appendBinaryStringInfo(buf, out, Max(n, 0));
	appendStringInfoChar(buf, '"');
}

/*
 * Append one value as JSON: numbers as numbers (NaN and infinities as
 * strings), ObjectIds as hex strings, dates as ISO 8601 strings in UTC,
 * binary as base64, timestamps/regexes/other rare types as their
 * extended-JSON objects.
 */
void
mongo_append_json(StringInfo buf, const bson_iter_t *it)
{
	bson_type_t t = bson_iter_type(it);

	switch (t)
	{
		case BSON_TYPE_UTF8:
		case BSON_TYPE_SYMBOL:
			{
				uint32		len;
				const char *s = t == BSON_TYPE_UTF8 ? bson_iter_utf8(it, &len) :
				bson_iter_symbol(it, &len);

				mesh_json_append_string(buf, s, len);
				return;
			}
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			appendStringInfoString(buf, number_text(it));
			return;
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			{
				char	   *s = number_text(it);

				if (strpbrk(s, "NnIi") != NULL)	/* NaN, Infinity */
					mesh_json_append_string(buf, s, strlen(s));
				else
					appendStringInfoString(buf, s);
				return;
			}
		case BSON_TYPE_BOOL:
			appendStringInfoString(buf, bson_iter_bool(it) ? "true" : "false");
			return;
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			appendStringInfoString(buf, "null");
			return;
		case BSON_TYPE_OID:
			appendStringInfo(buf, "\"%s\"", oid_text(it));
			return;
		case BSON_TYPE_DATE_TIME:
			appendStringInfo(buf, "\"%s\"", date_text(bson_iter_date_time(it), 'T', "Z", false));
			return;
		case BSON_TYPE_BINARY:
			append_binary_json(buf, it);
			return;
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			{
				bson_iter_t child;

				if (!bson_iter_recurse(it, &child))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_REPLY_HANDLE),
							 errmsg("malformed embedded document in a MongoDB reply")));
				appendStringInfoChar(buf, t == BSON_TYPE_ARRAY ? '[' : '{');
				for (bool first = true; bson_iter_next(&child); first = false)
				{
					if (!first)
						appendStringInfoString(buf, ", ");
					if (t == BSON_TYPE_DOCUMENT)
					{
						mesh_json_append_string(buf, bson_iter_key(&child), bson_iter_key_len(&child));
						appendStringInfoString(buf, ": ");
					}
					mongo_append_json(buf, &child);
				}
				appendStringInfoChar(buf, t == BSON_TYPE_ARRAY ? ']' : '}');
				return;
			}
		default:
			{
				/* rare types: libbson's canonical extended JSON of {"v": value} */
				bson_t		tmp = BSON_INITIALIZER;
				char	   *json;
				char	   *start;

				bson_append_iter(&tmp, "v", 1, it);
				json = bson_as_canonical_extended_json(&tmp, NULL);
				bson_destroy(&tmp);
				if (json == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_REPLY_HANDLE),
							 errmsg("malformed %s value in a MongoDB reply", bson_type_name(t))));
				/* json is { "v" : X }: keep X */
				start = strchr(json, ':');
				appendBinaryStringInfo(buf, start + 2, strlen(start + 2) - 2);
				bson_free(json);
				return;
			}
	}
}

/* A whole document (or array) as JSON text. */
void
mongo_doc_json(StringInfo buf, const bson_t *doc, bool array)
{
	bson_iter_t it;
	bson_t		wrap = BSON_INITIALIZER;

	/* wrap it so it is one value */
	if (array)
		bson_append_array(&wrap, "v", 1, doc);
	else
		bson_append_document(&wrap, "v", 1, doc);
	PG_TRY();
	{
		if (!bson_iter_init_find(&it, &wrap, "v"))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_REPLY_HANDLE),
					 errmsg("malformed document in a MongoDB reply")));
		mongo_append_json(buf, &it);
	}
	PG_FINALLY();
	{
		bson_destroy(&wrap);
	}
	PG_END_TRY();
}

/* A document as jsonb. */
Jsonb *
mongo_doc_jsonb(const bson_t *doc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	mongo_doc_json(&buf, doc, false);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* ---------------------------------------------------------------- reading */

static void
mismatch(MeshColumn *col, const bson_iter_t *it, const char *text)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("MongoDB field \"%s\" holds a BSON %s, which does not fit column \"%s\" of type %s",
					bson_iter_key(it), bson_type_name(bson_iter_type(it)), col->name,
					format_type_be(col->typid)),
			 text ? errdetail("The value: %s.", text) : 0,
			 errhint("Declare the column as jsonb or text to read any value.")));
}

static char *
value_json(const bson_iter_t *it)
{
	StringInfoData buf;

	initStringInfo(&buf);
	mongo_append_json(&buf, it);
	return buf.data;
}

static Datum
from_text(MeshColumn *col, const char *s)
{
	return mesh_value_from_text(col, s, strlen(s));
}

/*
 * The value at it as a Datum of col's type (strict, see the file header);
 * *isnull for null, undefined.
 */
Datum
mongo_iter_datum(MeshColumn *col, const bson_iter_t *it, bool *isnull)
{
	bson_type_t t = bson_iter_type(it);

	*isnull = false;
	if (t == BSON_TYPE_NULL || t == BSON_TYPE_UNDEFINED)
	{
		*isnull = true;
		return (Datum) 0;
	}
	switch (col->typid)
	{
		case JSONBOID:
		case JSONOID:
			return from_text(col, value_json(it));
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			if (t == BSON_TYPE_UTF8 || t == BSON_TYPE_SYMBOL)
			{
				uint32		len;
				const char *s = t == BSON_TYPE_UTF8 ? bson_iter_utf8(it, &len) :
				bson_iter_symbol(it, &len);

				return mesh_value_from_text(col, s, len);
			}
			if (t == BSON_TYPE_OID)
				return from_text(col, oid_text(it));
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			if (t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64)
			{
				int64		v = bson_iter_as_int64(it);

				if (col->typid == INT8OID)
					return Int64GetDatum(v);
				if (col->typid == INT4OID && v >= PG_INT32_MIN && v <= PG_INT32_MAX)
					return Int32GetDatum((int32) v);
				if (col->typid == INT2OID && v >= PG_INT16_MIN && v <= PG_INT16_MAX)
					return Int16GetDatum((int16) v);
				mismatch(col, it, number_text(it));
			}
			if (t == BSON_TYPE_DOUBLE || t == BSON_TYPE_DECIMAL128)
				return from_text(col, number_text(it));	/* 5 fits, 5.5 errors */
			break;
		case FLOAT8OID:
		case FLOAT4OID:
			/* exactly representable numbers only: a pushed filter compares exactly */
			if (t == BSON_TYPE_DOUBLE && col->typid == FLOAT8OID)
				return Float8GetDatum(bson_iter_double(it));
			if (t == BSON_TYPE_DOUBLE || t == BSON_TYPE_INT32 ||
				(t == BSON_TYPE_INT64 && Abs(bson_iter_int64(it)) <= (INT64CONST(1) << 53)))
				return from_text(col, number_text(it));
			if (t == BSON_TYPE_INT64)
				mismatch(col, it, number_text(it));
			break;
		case NUMERICOID:
			if (is_number(t))
				return from_text(col, number_text(it));
			if (t == BSON_TYPE_UTF8)	/* numeric_as 'string' */
			{
				uint32		len;
				const char *str = bson_iter_utf8(it, &len);

				return mesh_value_from_text(col, str, len);
			}
			break;
		case BOOLOID:
			if (t == BSON_TYPE_BOOL)
				return BoolGetDatum(bson_iter_bool(it));
			break;
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			if (t == BSON_TYPE_DATE_TIME)
				return TimestampGetDatum(date_to_timestamp(bson_iter_date_time(it)));
			break;
		case DATEOID:
			if (t == BSON_TYPE_DATE_TIME)
			{
				int64		ms = bson_iter_date_time(it);

				if (ms % 86400000 != 0)
					mismatch(col, it, date_text(ms, 'T', "Z", false));
				return from_text(col, date_text(ms, ' ', "", true));
			}
			break;
		case BYTEAOID:
			if (t == BSON_TYPE_BINARY)
			{
				bson_subtype_t sub;
				uint32		len;
				const uint8 *data;

				bson_iter_binary(it, &sub, &len, &data);
				return mesh_value_from_text(col, (const char *) data, len);
			}
			break;
		case UUIDOID:
			if (t == BSON_TYPE_BINARY)
			{
				bson_subtype_t sub;
				uint32		len;
				const uint8 *data;

				bson_iter_binary(it, &sub, &len, &data);
				if ((sub == BSON_SUBTYPE_UUID || sub == BSON_SUBTYPE_UUID_DEPRECATED) && len == 16)
				{
					pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

					memcpy(u->data, data, 16);
					return UUIDPGetDatum(u);
				}
			}
			/* FALLTHROUGH */
		default:
			/* other types: strings through the type's input function */
			if (t == BSON_TYPE_UTF8)
			{
				uint32		len;
				const char *s = bson_iter_utf8(it, &len);

				return mesh_value_from_text(col, s, len);
			}
			break;
	}
	mismatch(col, it, t == BSON_TYPE_BINARY ? NULL : value_json(it));
	pg_unreachable();
}

/*
 * The value at it in PostgreSQL text form for a column of type typid
 * (verify compares it with the source's text after normalising it through
 * the type); NULL for null.
 */
char *
mongo_iter_text(const bson_iter_t *it, Oid typid)
{
	bson_type_t t = bson_iter_type(it);

	if (t == BSON_TYPE_NULL || t == BSON_TYPE_UNDEFINED)
		return NULL;
	if (typid == JSONBOID || typid == JSONOID)
		return value_json(it);
	switch (t)
	{
		case BSON_TYPE_UTF8:
			{
				uint32		len;
				const char *s = bson_iter_utf8(it, &len);

				return pnstrdup(s, len);
			}
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			return number_text(it);
		case BSON_TYPE_BOOL:
			return pstrdup(bson_iter_bool(it) ? "true" : "false");
		case BSON_TYPE_OID:
			return oid_text(it);
		case BSON_TYPE_DATE_TIME:
			if (typid == DATEOID)
				return date_text(bson_iter_date_time(it), ' ', "", true);
			return date_text(bson_iter_date_time(it), ' ',
							 typid == TIMESTAMPOID ? "" : "+00", false);
		case BSON_TYPE_BINARY:
			{
				bson_subtype_t sub;
				uint32		len;
				const uint8 *data;
				StringInfoData buf;

				bson_iter_binary(it, &sub, &len, &data);
				initStringInfo(&buf);
				appendStringInfoString(&buf, "\\x");
				for (uint32 i = 0; i < len; i++)
					appendStringInfo(&buf, "%02x", data[i]);
				return buf.data;
			}
		default:
			return value_json(it);
	}
}
