/*
 * capture_text.c: the text forms of captured values, as the types' output
 * functions make them under mesh's canonical output settings
 * (mesh_canonical_output_begin: ISO dates, UTC, extra_float_digits 1), for
 * the event log's key and row jsonb (capture.c, WAL capture).
 *
 * Capture formats every column of every captured row; through fmgr each
 * value costs a call, a palloc and (for text) a copy.  The common types
 * are formatted here directly instead, with the output functions' own
 * routines where PostgreSQL exports them (pg_lltoa, the shortest-decimal
 * float formatting, j2date); whatever a fast path does not cover (other
 * types, timestamps outside years 1-9999, other settings) goes through the
 * output function.  Assert-enabled builds check every fast result against it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "capture_text.h"

enum
{
	MESH_TEXT_OUTPUT,			/* the output function */
	MESH_TEXT_INT2,
	MESH_TEXT_INT4,
	MESH_TEXT_INT8,
	MESH_TEXT_FLOAT4,
	MESH_TEXT_FLOAT8,
	MESH_TEXT_BOOL,
	MESH_TEXT_VARLENA,			/* text, varchar, bpchar: the bytes themselves */
	MESH_TEXT_TIMESTAMP,
	MESH_TEXT_TIMESTAMPTZ
};

void
mesh_text_out_init(MeshTextOut *o, Oid typid, MemoryContext cxt)
{
	Oid			fn;
	bool		isvarlena;

	getTypeOutputInfo(typid, &fn, &isvarlena);
	fmgr_info_cxt(fn, &o->out, cxt);
	switch (typid)
	{
		case INT2OID:
			o->kind = MESH_TEXT_INT2;
			break;
		case INT4OID:
			o->kind = MESH_TEXT_INT4;
			break;
		case INT8OID:
			o->kind = MESH_TEXT_INT8;
			break;
		case FLOAT4OID:
			o->kind = MESH_TEXT_FLOAT4;
			break;
		case FLOAT8OID:
			o->kind = MESH_TEXT_FLOAT8;
			break;
		case BOOLOID:
			o->kind = MESH_TEXT_BOOL;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			o->kind = MESH_TEXT_VARLENA;
			break;
		case TIMESTAMPOID:
			o->kind = MESH_TEXT_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			o->kind = MESH_TEXT_TIMESTAMPTZ;
			break;
		default:
			o->kind = MESH_TEXT_OUTPUT;
	}
}

/* Is the session's time zone UTC (timestamptz then shows offset +00)? */
static bool
session_is_utc(void)
{
	static pg_tz *checked = NULL;
	static bool utc = false;

	if (session_timezone != checked)
	{
		const char *name = session_timezone ? pg_get_timezone_name(session_timezone) : NULL;

		utc = name && (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0);
		checked = session_timezone;
	}
	return utc;
}

static char *
put2(char *p, int v)
{
	p[0] = '0' + v / 10;
	p[1] = '0' + v % 10;
	return p + 2;
}

/*
 * A timestamp in ISO style, as EncodeDateTime writes one (with "+00" when
 * utc_offset): "YYYY-MM-DD HH:MM:SS[.ffffff, trailing zeros cut]".  Returns
 * the length, or -1 outside years 1-9999 (infinities, BC, five digits).
 */
static int
timestamp_iso(Timestamp ts, bool utc_offset, char *buf)
{
	int64		date;
	int64		time;
	int			y,
				m,
				d;
	int			fsec;
	char	   *p = buf;

	if (TIMESTAMP_NOT_FINITE(ts))
		return -1;
	date = ts / USECS_PER_DAY;
	time = ts - date * USECS_PER_DAY;
	if (time < 0)
	{
		time += USECS_PER_DAY;
		date -= 1;
	}
	date += POSTGRES_EPOCH_JDATE;
	if (date < 0 || date > PG_INT32_MAX)
		return -1;
	j2date((int) date, &y, &m, &d);
	if (y < 1 || y > 9999)
		return -1;
	p = put2(put2(p, y / 100), y % 100);
	*p++ = '-';
	p = put2(p, m);
	*p++ = '-';
	p = put2(p, d);
	*p++ = ' ';
	p = put2(p, (int) (time / USECS_PER_HOUR));
	*p++ = ':';
	p = put2(p, (int) (time / USECS_PER_MINUTE % MINS_PER_HOUR));
	*p++ = ':';
	p = put2(p, (int) (time / USECS_PER_SEC % SECS_PER_MINUTE));
	fsec = (int) (time % USECS_PER_SEC);
	if (fsec != 0)
	{
		*p++ = '.';
		for (int div = 100000; div > 0 && fsec != 0; div /= 10)
		{
			*p++ = '0' + fsec / div;
			fsec %= div;
		}
	}
	if (utc_offset)
	{
		memcpy(p, "+00", 3);
		p += 3;
	}
	*p = '\0';
	return p - buf;
}

/* The fast path of o for value into scratch: the length, -1 if it has none. */
static int
fast_text(const MeshTextOut *o, Datum value, char *scratch)
{
	switch (o->kind)
	{
		case MESH_TEXT_INT2:
			return pg_ltoa((int32) DatumGetInt16(value), scratch);
		case MESH_TEXT_INT4:
			return pg_ltoa(DatumGetInt32(value), scratch);
		case MESH_TEXT_INT8:
			return pg_lltoa(DatumGetInt64(value), scratch);
		case MESH_TEXT_FLOAT4:
			return extra_float_digits > 0 ?
				float_to_shortest_decimal_buf(DatumGetFloat4(value), scratch) : -1;
		case MESH_TEXT_FLOAT8:
			return extra_float_digits > 0 ?
				double_to_shortest_decimal_buf(DatumGetFloat8(value), scratch) : -1;
		case MESH_TEXT_BOOL:
			scratch[0] = DatumGetBool(value) ? 't' : 'f';
			scratch[1] = '\0';
			return 1;
		case MESH_TEXT_TIMESTAMP:
			return DateStyle == USE_ISO_DATES ?
				timestamp_iso(DatumGetTimestamp(value), false, scratch) : -1;
		case MESH_TEXT_TIMESTAMPTZ:
			return DateStyle == USE_ISO_DATES && session_is_utc() ?
				timestamp_iso(DatumGetTimestampTz(value), true, scratch) : -1;
		default:
			return -1;
	}
}

void
mesh_text_of(const MeshTextOut *o, Datum value, char *scratch, MeshText *t)
{
	int			len;

	if (o->kind == MESH_TEXT_VARLENA)
	{
		struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

		t->data = VARDATA_ANY(v);
		t->len = VARSIZE_ANY_EXHDR(v);
		return;
	}
	len = fast_text(o, value, scratch);
	if (len < 0)
	{
		char	   *s = OutputFunctionCall((FmgrInfo *) &o->out, value);

		t->data = s;
		t->len = strlen(s);
		return;
	}
#ifdef USE_ASSERT_CHECKING
	{
		char	   *s = OutputFunctionCall((FmgrInfo *) &o->out, value);

		Assert(strlen(s) == len && memcmp(s, scratch, len) == 0);
		pfree(s);
	}
#endif
	t->data = scratch;
	t->len = len;
}
