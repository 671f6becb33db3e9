/*
 * redis_layout.c: how a foreign table's columns map onto Redis keys, and
 * key / glob-pattern building.
 *
 * Every type has a key column: the column with option key 'true', else
 * the column named "key", else the first column.  Its value is the key
 * without key_prefix.  Other columns by type:
 *   string: value            hash: any (field = column option field or name)
 *   list:   value [, index]  set:  member       zset: member, score
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "redis_internal.h"

static const char *const type_names[] = {"string", "hash", "list", "set", "zset"};

static AttrNumber
find_key_column(MeshTable *table)
{
	AttrNumber	first = InvalidAttrNumber;
	AttrNumber	named = InvalidAttrNumber;

	for (int i = 0; i < table->ncolumns; i++)
	{
		MeshColumn *col = &table->columns[i];
		const char *opt;
		bool		b;

		if (col->name == NULL)
			continue;
		opt = mesh_column_option(col, "key");
		if (opt && parse_bool(opt, &b) && b)
			return col->attnum;
		if (first == InvalidAttrNumber)
			first = col->attnum;
		if (strcmp(col->name, "key") == 0)
			named = col->attnum;
	}
	return named != InvalidAttrNumber ? named : first;
}

/* Assign a non-key column to its role by name; error on an unknown one. */
static void
assign_role(RedisLayout *l, MeshTable *table, MeshColumn *col)
{
	const char *allowed = NULL;

	switch (l->type)
	{
		case REDIS_TYPE_STRING:
			if (strcmp(col->name, "value") == 0)
				l->value_att = col->attnum;
			else
				allowed = "key, value";
			break;
		case REDIS_TYPE_LIST:
			if (strcmp(col->name, "value") == 0)
				l->value_att = col->attnum;
			else if (strcmp(col->name, "index") == 0)
				l->index_att = col->attnum;
			else
				allowed = "key, index, value";
			break;
		case REDIS_TYPE_SET:
			if (strcmp(col->name, "member") == 0)
				l->member_att = col->attnum;
			else
				allowed = "key, member";
			break;
		case REDIS_TYPE_ZSET:
			if (strcmp(col->name, "member") == 0)
				l->member_att = col->attnum;
			else if (strcmp(col->name, "score") == 0)
				l->score_att = col->attnum;
			else
				allowed = "key, member, score";
			break;
		case REDIS_TYPE_HASH:
			{
				const char *field = mesh_column_option(col, "field");

				l->fields[col->attnum - 1] = field ? field : col->name;
			}
			break;
	}
	if (allowed)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("column \"%s\" of foreign table \"%s\" has no meaning for a Redis %s",
						col->name, table->relname, type_names[l->type]),
				 errhint("The columns of a Redis %s table are named %s.",
						 type_names[l->type], allowed)));
}

static void *compute_layout(MeshTable *table);

static void
require_column(RedisLayout *l, MeshTable *table, AttrNumber att, const char *name,
			   bool needed)
{
	if (needed && att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" of Redis type %s needs a column \"%s\"",
						table->relname, l->type_name, name)));
}

/*
 * The layout of a Redis foreign table; errors name a misfit column.  It is
 * kept with a cached table description (table->private).
 */
RedisLayout *
redis_layout(MeshTable *table)
{
	return mesh_table_parsed(table, compute_layout);
}

static void *
compute_layout(MeshTable *table)
{
	RedisLayout *l = palloc0(sizeof(RedisLayout));
	const char *type = mesh_defelem_get(table->options, "type");

	l->type = REDIS_TYPE_STRING;
	for (int i = 0; type && i < lengthof(type_names); i++)
		if (strcmp(type, type_names[i]) == 0)
			l->type = (RedisType) i;
	l->type_name = type_names[l->type];
	l->prefix = mesh_defelem_get(table->options, "key_prefix");
	if (l->prefix == NULL)
		l->prefix = "";
	l->prefix_len = strlen(l->prefix);
	l->fields = palloc0(sizeof(char *) * Max(table->ncolumns, 1));
	l->key_att = find_key_column(table);
	if (l->key_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("foreign table \"%s\" has no columns", table->relname)));
	for (int i = 0; i < table->ncolumns; i++)
	{
		MeshColumn *col = &table->columns[i];

		if (col->name != NULL && col->attnum != l->key_att)
			assign_role(l, table, col);
	}
	require_column(l, table, l->value_att, "value",
				   l->type == REDIS_TYPE_STRING || l->type == REDIS_TYPE_LIST);
	require_column(l, table, l->member_att, "member",
				   l->type == REDIS_TYPE_SET || l->type == REDIS_TYPE_ZSET);
	require_column(l, table, l->score_att, "score", l->type == REDIS_TYPE_ZSET);
	return l;
}

/* key_prefix followed by the key column's value in text form. */
char *
redis_full_key(RedisLayout *layout, MeshColumn *keycol, Datum value, size_t *len)
{
	size_t		vlen;
	char	   *v = mesh_value_to_text(keycol, value, &vlen);
	char	   *key = palloc(layout->prefix_len + vlen + 1);

	memcpy(key, layout->prefix, layout->prefix_len);
	memcpy(key + layout->prefix_len, v, vlen);
	key[layout->prefix_len + vlen] = '\0';
	*len = layout->prefix_len + vlen;
	return key;
}

/* s with the glob specials * ? [ ] \ escaped, for SCAN MATCH. */
char *
redis_glob_escape(const char *s, size_t len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (size_t i = 0; i < len; i++)
	{
		if (strchr("*?[]\\", s[i]) != NULL)
			appendStringInfoChar(&buf, '\\');
		appendStringInfoChar(&buf, s[i]);
	}
	return buf.data;
}

/*
 * A LIKE pattern (default escape \) as an equivalent Redis glob:
 * % -> *, _ -> * (a glob ? is one byte, a LIKE _ one character: * is a
 * safe superset; the local recheck keeps results exact), literal
 * characters glob-escaped.
 */
char *
redis_like_to_glob(const char *pattern)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = pattern; *p; p++)
	{
		if (*p == '\\' && p[1] != '\0')
		{
			p++;
			if (strchr("*?[]\\", *p) != NULL)
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		else if (*p == '%')
			appendStringInfoChar(&buf, '*');
		else if (*p == '_')
			appendStringInfoChar(&buf, '*');
		else
		{
			if (strchr("*?[]\\", *p) != NULL)
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
	}
	return buf.data;
}
