/*
 * object_glob.c: the keys a contents table reads, and what a key says.
 *
 * A glob matches keys bytewise: '*' any run of characters without '/',
 * '?' one character but '/', '**' any run (across '/'; before a '/', also
 * no directory), [abc] [a-z] [!a]
 * one byte of (not of) a class, '\x' the character x.  Its literal part
 * before the first wildcard is the listing's prefix.
 *
 * Hive partitions: a key's directory "name=value/" gives the column name
 * the value ("__HIVE_DEFAULT_PARTITION__": NULL).
 *
 * Pruning: a condition on _key or a partition column is evaluated on the
 * value the key gives it, before the object is read.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/typcache.h"

#include "object_read.h"

static bool
is_wildcard(char c)
{
	return c == '*' || c == '?' || c == '[';
}

/* The literal part of glob before its first wildcard, unescaped. */
char *
obj_glob_prefix(const char *glob)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = glob; *p && !is_wildcard(*p); p++)
	{
		if (*p == '\\')
		{
			if (*++p == '\0')
				break;
		}
		appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/* Whether byte c is in the class at *pp ('[' seen); *pp moves past ']'. */
static bool
class_match(const char **pp, unsigned char c, bool *ok)
{
	const char *p = *pp;
	bool		negate = false;
	bool		found = false;

	if (*p == '!' || *p == '^')
	{
		negate = true;
		p++;
	}
	do
	{
		unsigned char lo,
					hi;

		if (*p == '\0')
		{
			*ok = false;		/* no closing ']': not a class */
			return false;
		}
		if (*p == '\\' && p[1])
			p++;
		lo = hi = (unsigned char) *p++;
		if (*p == '-' && p[1] && p[1] != ']')
		{
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char) *p++;
		}
		if (c >= lo && c <= hi)
			found = true;
	} while (*p != ']');
	*pp = p + 1;
	*ok = true;
	return found != negate;
}

/* The length of the UTF-8 character at s (1 for a stray byte). */
static int
char_len(const char *s)
{
	int			n = 1;

	while (n < 4 && ((unsigned char) s[n] & 0xC0) == 0x80)
		n++;
	return n;
}

/* Whether key matches glob entirely. */
bool
obj_glob_match(const char *glob, const char *key)
{
	const char *p = glob;
	const char *k = key;

	while (*p)
	{
		if (p[0] == '*' && p[1] == '*')
		{
			while (*p == '*')
				p++;
			/* before a '/', no directory at all matches too */
			if (*p == '/' && obj_glob_match(p + 1, k))
				return true;
			for (const char *t = k;; t++)
			{
				if (obj_glob_match(p, t))
					return true;
				if (*t == '\0')
					return false;
			}
		}
		if (*p == '*')
		{
			p++;
			for (const char *t = k;; t++)
			{
				if (obj_glob_match(p, t))
					return true;
				if (*t == '\0' || *t == '/')
					return false;
			}
		}
		if (*k == '\0')
			return false;
		if (*p == '?')
		{
			if (*k == '/')
				return false;
			p++;
			k += char_len(k);
			continue;
		}
		if (*p == '[')
		{
			const char *q = p + 1;
			bool		ok;
			bool		in = class_match(&q, (unsigned char) *k, &ok);

			if (ok)
			{
				if (!in || *k == '/')
					return false;
				p = q;
				k++;
				continue;
			}
		}
		if (*p == '\\' && p[1])
			p++;
		if (*p != *k)
			return false;
		p++;
		k++;
	}
	return *k == '\0';
}

/*
 * The value of partition name in key ("name=value/" as a whole directory
 * segment), or NULL: none, or Hive's default partition.
 */
char *
obj_partition_value(const char *key, const char *name)
{
	size_t		nlen = strlen(name);
	const char *seg = key;

	for (;;)
	{
		const char *end = strchr(seg, '/');

		if (end == NULL)
			return NULL;		/* the last segment is the file's name */
		if (strncmp(seg, name, nlen) == 0 && seg[nlen] == '=')
		{
			char	   *v = pnstrdup(seg + nlen + 1, end - seg - nlen - 1);

			return strcmp(v, "__HIVE_DEFAULT_PARTITION__") == 0 ? NULL : v;
		}
		seg = end + 1;
	}
}

/* Whether glob has a directory segment that begins "name=". */
bool
obj_glob_names_partition(const char *glob, const char *name)
{
	size_t		nlen = strlen(name);

	for (const char *seg = glob; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (strncmp(seg, name, nlen) == 0 && seg[nlen] == '=' && strchr(seg, '/'))
			return true;
	return false;
}

/* key without a compression suffix ends with suffix */
static bool
ends_with(const char *key, const char *suffix)
{
	size_t		klen = strlen(key);
	size_t		slen = strlen(suffix);

	if (obj_codec_of_key(key) != OBJ_CODEC_NONE)
		klen -= obj_codec_of_key(key) == OBJ_CODEC_GZIP ? 3 : 4;
	return klen >= slen && pg_strncasecmp(key + klen - slen, suffix, slen) == 0;
}

/* The format a key's suffix names (.csv; .jsonl, .ndjson, .json; .parquet). */
ObjFormat
obj_format_of_key(const char *key)
{
	if (ends_with(key, ".csv"))
		return OBJ_FORMAT_CSV;
	if (ends_with(key, ".jsonl") || ends_with(key, ".ndjson") || ends_with(key, ".json"))
		return OBJ_FORMAT_JSONL;
	if (ends_with(key, ".parquet"))
		return OBJ_FORMAT_PARQUET;
	return OBJ_FORMAT_AUTO;
}

/* The compression a key's suffix names (.gz, .zst). */
ObjCodec
obj_codec_of_key(const char *key)
{
	size_t		len = strlen(key);

	if (len >= 3 && pg_strcasecmp(key + len - 3, ".gz") == 0)
		return OBJ_CODEC_GZIP;
	if (len >= 4 && pg_strcasecmp(key + len - 4, ".zst") == 0)
		return OBJ_CODEC_ZSTD;
	return OBJ_CODEC_NONE;
}

bool
obj_is_text_type(Oid typid)
{
	typid = getBaseType(typid);
	return typid == TEXTOID || typid == VARCHAROID || typid == UNKNOWNOID;
}

/*
 * Whether q on col (_key or a partition column) can be evaluated on the
 * value a key gives col: text bytewise (ranges only under the "C"
 * collation), other types by their btree comparison.
 */
bool
obj_qual_evaluable(MeshColumn *col, MeshQual *q)
{
	Oid			valtype = q->op == MESH_QUAL_IN ? get_element_type(q->valtype) : q->valtype;
	bool		deterministic = !OidIsValid(q->collid) || get_collation_isdeterministic(q->collid);

	if (obj_is_text_type(col->typid))
	{
		if (!obj_is_text_type(valtype))
			return false;
		if (q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_IN || q->op == MESH_QUAL_LIKE)
			return deterministic;
		if (q->op >= MESH_QUAL_LT && q->op <= MESH_QUAL_GE)
			return OidIsValid(q->collid) && lc_collate_is_c(q->collid);
		return false;
	}
	if (valtype != col->typid || q->op == MESH_QUAL_LIKE || q->op == MESH_QUAL_NE)
		return false;
	if (q->op != MESH_QUAL_EQ && q->op != MESH_QUAL_IN && (q->op < MESH_QUAL_LT || q->op > MESH_QUAL_GE))
		return false;
	return OidIsValid(lookup_type_cache(col->typid, TYPECACHE_CMP_PROC)->cmp_proc);
}

/* Whether value (of col) satisfies q, evaluable (its value known, not NULL). */
bool
obj_qual_holds(MeshColumn *col, MeshQual *q, Datum value)
{
	bool		text = obj_is_text_type(col->typid);
	Oid			collid = text ? C_COLLATION_OID : InvalidOid;
	TypeCacheEntry *tc = lookup_type_cache(text ? TEXTOID : col->typid, TYPECACHE_CMP_PROC_FINFO);
	int			c;

	if (q->op == MESH_QUAL_LIKE)
		return DatumGetBool(DirectFunctionCall2Coll(textlike, collid, value, q->value));
	if (q->op == MESH_QUAL_IN)
	{
		ArrayType  *arr = DatumGetArrayTypeP(q->value);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (!nulls[i] && DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, collid,
															 value, elems[i])) == 0)
				return true;
		return false;
	}
	c = DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, collid, value, q->value));
	switch (q->op)
	{
		case MESH_QUAL_EQ:
			return c == 0;
		case MESH_QUAL_LT:
			return c < 0;
		case MESH_QUAL_LE:
			return c <= 0;
		case MESH_QUAL_GT:
			return c > 0;
		case MESH_QUAL_GE:
			return c >= 0;
		default:
			return true;
	}
}

