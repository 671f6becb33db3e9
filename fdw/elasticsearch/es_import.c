/*
 * es_import.c: IMPORT FOREIGN SCHEMA from index mappings.
 *
 * The remote schema is an index name or pattern ("logs-*", "_all"); each
 * matching index (hidden ones, starting with '.', skipped) becomes a table
 * with option index, a column _id text, and one column per mapped field:
 * object fields are flattened into dotted names ("user.name"), each
 * column carrying es_type (the mapping type, which decides pushdown) and,
 * for a text field with a keyword subfield, keyword_field.  Types as in
 * README.md; anything unknown becomes jsonb.
 */
#include "postgres.h"

#include "json_value.h"

#include "nodes/makefuncs.h"

#include "es_internal.h"

static const struct
{
	const char *es;
	const char *pg;
}			type_map[] =
{
	{"text", "text"}, {"keyword", "text"}, {"constant_keyword", "text"},
	{"wildcard", "text"}, {"match_only_text", "text"}, {"version", "text"},
	{"long", "bigint"}, {"integer", "integer"}, {"short", "smallint"},
	{"byte", "smallint"}, {"double", "double precision"}, {"float", "real"},
	{"half_float", "real"}, {"scaled_float", "numeric"}, {"unsigned_long", "numeric"},
	{"boolean", "boolean"}, {"date", "timestamptz"}, {"date_nanos", "timestamptz"},
	{"ip", "inet"}, {"binary", "text"},
};

static const char *
pg_type(const char *es)
{
	for (int i = 0; i < lengthof(type_map); i++)
		if (strcmp(type_map[i].es, es) == 0)
			return type_map[i].pg;
	return "jsonb";				/* nested, geo_point, flattened, ... */
}

/* Append the columns of a properties object (prefix "" or "a.b."). */
static List *
add_properties(List *cols, json_t *props, const char *prefix)
{
	const char **names;
	size_t		n = json_object_size(props),
				k = 0;
	const char *key;
	json_t	   *field;

	names = palloc(sizeof(char *) * Max(n, 1));
	json_object_foreach(props, key, field)
		names[k++] = key;
	/* mapping order is not guaranteed: sort by name for stable tables */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--)
		{
			const char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *f = json_object_get(props, names[i]);
		json_t	   *type = json_object_get(f, "type");
		json_t	   *sub = json_object_get(f, "properties");
		json_t	   *fields = json_object_get(f, "fields");
		char	   *name = psprintf("%s%s", prefix, names[i]);
		const char *es = json_is_string(type) ? json_string_value(type) : "object";
		MeshImportColumn *c;

		if (json_is_object(sub) && strcmp(es, "nested") != 0)
		{
			cols = add_properties(cols, sub, psprintf("%s.", name));
			continue;
		}
		c = palloc0(sizeof(MeshImportColumn));
		c->name = name;
		c->type = (char *) pg_type(es);
		c->options = list_make1(makeDefElem("es_type", (Node *) makeString(pstrdup(es)), -1));
		if (strcmp(es, "text") == 0 && json_is_object(fields))
		{
			const char *sk;
			json_t	   *sf;

			json_object_foreach(fields, sk, sf)
			{
				json_t	   *st = json_object_get(sf, "type");

				if (json_is_string(st) && strcmp(json_string_value(st), "keyword") == 0)
				{
					c->options = lappend(c->options,
										 makeDefElem("keyword_field",
													 (Node *) makeString(psprintf("%s.%s", name, sk)), -1));
					break;
				}
			}
		}
		cols = lappend(cols, c);
	}
	return cols;
}

List *
es_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
				 const char *local_schema, List *options)
{
	EsConn	   *ec = conn;
	json_t	   *root = es_request(ec, "GET", es_index_path(remote_schema, "/_mapping"), NULL, 0,
								  "a mapping read", NULL);
	List	   *stmts = NIL;
	const char *index;
	json_t	   *entry;
	List	   *names = NIL;
	ListCell   *lc;

	if (!json_is_object(root))
		mesh_json_malformed(ec->servername, "a mapping read", "The answer is not an object.");
	json_object_foreach(root, index, entry)
		if (index[0] != '.')
			names = lappend(names, (char *) index);
	list_sort(names, (list_sort_comparator) pg_qsort_strcmp);
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		json_t	   *mappings = json_object_get(json_object_get(root, name), "mappings");
		json_t	   *props = json_object_get(mappings, "properties");
		MeshImportColumn *id = palloc0(sizeof(MeshImportColumn));
		List	   *cols;

		id->name = "_id";
		id->type = "text";
		cols = list_make1(id);
		if (json_is_object(props))
			cols = add_properties(cols, props, "");
		stmts = lappend(stmts,
						mesh_import_statement(config->servername, local_schema, name, cols,
											  list_make1(makeDefElem("index", (Node *) makeString(pstrdup(name)), -1))));
	}
	return stmts;
}
