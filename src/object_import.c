/*
 * object_import.c: IMPORT FOREIGN SCHEMA of every object-store connector.
 *
 * IMPORT FOREIGN SCHEMA "<prefix or glob>" makes one contents table (the
 * option path): it lists the matching objects (at most IMPORT_MAX_KEYS),
 * samples the first non-empty one of a known format (CSV: header and
 * sample_rows rows; JSON lines: the first sample_rows objects; gzip and
 * zstd through the streaming reader), types each column from its values
 * (object_infer.c), adds a column per Hive partition ("name=value/"
 * directories) typed from the listed keys' values, and _key.  A glob is
 * the table's path as given; a prefix becomes a glob written from the
 * sampled key: its partition directories "name=*", then "**" and the
 * key's suffix (".csv.gz"), so markers such as _SUCCESS stay out.
 *
 * IMPORT FOREIGN SCHEMA "listing" makes a listing table of the bucket.
 *
 * Options: format, table (the name; default from the last literal
 * segment), header (true by default here), delimiter, quote, escape, null,
 * read_chunk, sample_rows (1000), the bucket's (else the server's);
 * prefix for a listing.  LIMIT TO and EXCEPT name tables (the core applies them).
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "utils/memutils.h"

#include "mesh_util.h"
#include "object_import.h"

#define IMPORT_MAX_KEYS 1000	/* keys listed to find the sample and type partitions */
#define LISTING_KEYWORD "listing"

typedef struct ImportOptions
{
	const MeshObjectStore *store;
	const char *bucket;
	const char *table;
	ObjFormat	format;			/* OBJ_FORMAT_AUTO: the sampled key's suffix */
	ObjCsvOptions csv;
	int			sample_rows;
	int			read_chunk;
	const char *prefix;			/* a listing's */
	List	   *table_options;	/* DefElem: what the table keeps */
} ImportOptions;

/* A column being inferred. */
typedef struct ImportColumn
{
	char	   *name;
	ObjKind		kind;
} ImportColumn;

static DefElem *
string_option(const char *name, const char *value)
{
	return makeDefElem(pstrdup(name), (Node *) makeString(pstrdup(value)), -1);
}

static int
int_option(DefElem *d, int min, int max)
{
	char	   *v = defGetString(d);
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for IMPORT FOREIGN SCHEMA option \"%s\": \"%s\"", d->defname, v),
				 errhint("An integer from %d to %d.", min, max)));
	return (int) n;
}

/* The import's options, checked; the ones the table keeps go to table_options. */
static void
parse_options(ImportOptions *io, List *options, MeshServerConfig *config, bool listing)
{
	ListCell   *lc;
	bool		header = true;

	io->sample_rows = 1000;
	io->read_chunk = OBJ_READ_CHUNK_DEFAULT;
	io->csv = (ObjCsvOptions) {.delimiter = ',', .quote = '"', .escape = 0, .null_text = ""};
	foreach(lc, options)
	{
		DefElem    *d = lfirst(lc);
		const char *name = d->defname;
		char	   *v = defGetString(d);
		MeshOption	byte_option = {.name = name};
		bool		keep = true;

		if (strcmp(name, "table") == 0 && v[0])
		{
			io->table = v;
			keep = false;
		}
		else if (strcmp(name, io->store->bucket_word) == 0 && v[0])
			io->bucket = v;
		else if (listing && strcmp(name, "prefix") == 0)
			io->prefix = v;
		else if (listing)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid IMPORT FOREIGN SCHEMA option \"%s\" for a listing", name),
					 errhint("A listing takes table, prefix and %s.", io->store->bucket_word)));
		else if (strcmp(name, "format") == 0 && (strcmp(v, "csv") == 0 || strcmp(v, "jsonl") == 0))
			io->format = v[0] == 'c' ? OBJ_FORMAT_CSV : OBJ_FORMAT_JSONL;
		else if (strcmp(name, "header") == 0)
		{
			header = defGetBoolean(d);
			keep = false;		/* kept below, for CSV */
		}
		else if (strcmp(name, "delimiter") == 0 || strcmp(name, "quote") == 0 ||
				 strcmp(name, "escape") == 0)
		{
			mesh_object_check_byte(&byte_option, v);
			if (name[0] == 'd')
				io->csv.delimiter = v[0];
			else if (name[0] == 'q')
				io->csv.quote = v[0];
			else
				io->csv.escape = v[0];
		}
		else if (strcmp(name, "null") == 0)
			io->csv.null_text = v;
		else if (strcmp(name, "read_chunk") == 0)
			io->read_chunk = int_option(d, 1024, 536870912);
		else if (strcmp(name, "sample_rows") == 0)
		{
			io->sample_rows = int_option(d, 1, 1000000);
			keep = false;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid IMPORT FOREIGN SCHEMA option \"%s\" = \"%s\"", name, v),
					 errhint("Options: format (csv, jsonl), table, header, delimiter, quote, escape, null, read_chunk, sample_rows, %s.",
							 io->store->bucket_word)));
		if (keep)
			io->table_options = lappend(io->table_options, string_option(name, v));
	}
	if (io->csv.escape == 0)
		io->csv.escape = io->csv.quote;
	io->csv.header = header;
	if (io->bucket == NULL)
		io->bucket = mesh_config_get(config, io->store->bucket_word, NULL);
	if (io->bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" names no %s to import from", config->servername,
						io->store->bucket_word),
				 errhint("Set the option %s of IMPORT FOREIGN SCHEMA or of the server.",
						 io->store->bucket_word)));
}

/* A table name from s: lower-case letters, digits and '_' (never empty). */
static char *
identifier_from(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (isdigit((unsigned char) *s))
		appendStringInfoString(&buf, "t_");
	for (; *s && buf.len < NAMEDATALEN - 1; s++)
	{
		char		c = pg_ascii_tolower((unsigned char) *s);

		if (!isalnum((unsigned char) c) || IS_HIGHBIT_SET(c))
			c = '_';
		if (c != '_' || (buf.len > 0 && buf.data[buf.len - 1] != '_'))
			appendStringInfoChar(&buf, c);
	}
	while (buf.len > 0 && buf.data[buf.len - 1] == '_')
		buf.data[--buf.len] = '\0';
	return buf.len ? buf.data : pstrdup("objects");
}

/* The default table name: the last segment of remote without a wildcard, sans suffixes. */
static char *
default_table_name(const char *remote)
{
	char	   *copy = pstrdup(remote);
	char	   *last = NULL;
	char	   *dot;

	for (char *seg = strtok(copy, "/"); seg; seg = strtok(NULL, "/"))
		if (strpbrk(seg, "*?[") == NULL)
			last = seg;
	if (last == NULL)
		return pstrdup("objects");
	if (obj_codec_of_key(last) != OBJ_CODEC_NONE)
		*strrchr(last, '.') = '\0';
	if (obj_format_of_key(last) != OBJ_FORMAT_AUTO && (dot = strrchr(last, '.')) != NULL && dot != last)
		*dot = '\0';
	return identifier_from(last);
}

/* s with the glob's special characters escaped. */
static void
append_literal(StringInfo buf, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		if (strchr("*?[\\", s[i]))
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, s[i]);
	}
}

/* The length of "name" when segment seg (len bytes) is "name=value". */
static size_t
partition_name_len(const char *seg, size_t len)
{
	const char *eq = memchr(seg, '=', len);

	if (eq == NULL || eq == seg || memchr(seg, '*', eq - seg) || memchr(seg, '?', eq - seg) ||
		memchr(seg, '[', eq - seg) || memchr(seg, '\\', eq - seg))
		return 0;
	return eq - seg;
}

/* The suffix of key that names its format and compression (".csv.gz"), or "". */
static const char *
key_suffix(const char *key)
{
	const char *base = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
	const char *dot = strrchr(base, '.');

	if (dot && obj_codec_of_key(key) != OBJ_CODEC_NONE)
	{
		const char *before = dot;

		while (before > base && before[-1] != '.')
			before--;
		if (before > base && obj_format_of_key(key) != OBJ_FORMAT_AUTO)
			return before - 1;
		return dot;
	}
	return dot && obj_format_of_key(key) != OBJ_FORMAT_AUTO ? dot : "";
}

/*
 * The glob of a prefix, from the sampled key: the prefix, the key's
 * directories below it ("name=*" for a partition, "*" else) when any is a
 * partition, then "**" and the key's suffix.
 */
static char *
glob_of_prefix(const char *prefix, const char *key)
{
	StringInfoData buf;
	const char *slash = strrchr(prefix, '/');
	size_t		dir_len = slash ? slash - prefix + 1 : 0;
	size_t		covered = strlen(prefix) - dir_len;	/* of the first segment below */
	const char *p = key + dir_len;
	bool		partitions = false;
	StringInfoData segs;

	initStringInfo(&buf);
	if (strcmp(prefix, key) == 0)
	{
		append_literal(&buf, key, strlen(key));
		return buf.data;
	}
	initStringInfo(&segs);
	for (const char *end; (end = strchr(p, '/')) != NULL; p = end + 1, covered = 0)
	{
		size_t		len = end - p;
		size_t		name_len = partition_name_len(p, len);

		partitions |= name_len > 0;
		if (name_len && covered <= name_len + 1)
		{
			append_literal(&segs, p, name_len + 1);
			appendStringInfoChar(&segs, '*');
		}
		else
		{
			append_literal(&segs, p, covered);
			if (covered < len)
				appendStringInfoChar(&segs, '*');
		}
		appendStringInfoChar(&segs, '/');
	}
	if (partitions)
	{
		append_literal(&buf, prefix, dir_len);
		appendStringInfoString(&buf, segs.data);
	}
	else
		append_literal(&buf, prefix, strlen(prefix));
	appendStringInfoString(&buf, "**");
	append_literal(&buf, key_suffix(key), strlen(key_suffix(key)));
	return buf.data;
}

/* The partition names of a glob: its directory segments "name=...". */
static List *
partition_names(const char *glob)
{
	List	   *names = NIL;

	for (const char *seg = glob, *end; (end = strchr(seg, '/')) != NULL; seg = end + 1)
	{
		size_t		len = partition_name_len(seg, end - seg);

		if (len)
			names = lappend(names, pnstrdup(seg, len));
	}
	return names;
}


static MeshImportColumn *
import_column(const char *name, const char *type)
{
	MeshImportColumn *c = palloc0(sizeof(MeshImportColumn));

	c->name = pstrdup(name);
	c->type = pstrdup(type);
	return c;
}

static bool
has_name(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/* The objects (key, size) matching glob, or under prefix (glob NULL; no "dir/" markers). */
static List *
list_objects(MeshScan *scan, const ImportOptions *io, const char *prefix, const char *glob)
{
	MeshKeyRange range;
	MeshObjectLister ls;
	const MeshObject *o;
	List	   *objects = NIL;

	mesh_key_range_init(&range, prefix);
	mesh_object_lister_begin(&ls, scan, io->store, io->bucket, 0, &range);
	while (list_length(objects) < IMPORT_MAX_KEYS &&
		   (o = mesh_object_lister_next(&ls, scan)) != NULL)
	{
		MeshObject *copy;

		if (glob ? !obj_glob_match(glob, o->key) :
			(o->key[0] == '\0' || o->key[strlen(o->key) - 1] == '/'))
			continue;
		copy = palloc0(sizeof(MeshObject));
		copy->key = pstrdup(o->key);
		copy->size = o->size ? pstrdup(o->size) : NULL;
		objects = lappend(objects, copy);
	}
	return objects;
}

/*
 * The object to sample: the first non-empty one whose format is known
 * (the option, else its suffix).  Under a glob, an unknown format is an error.
 */
static MeshObject *
sample_object(List *objects, const ImportOptions *io, bool glob)
{
	ListCell   *lc;

	foreach(lc, objects)
	{
		MeshObject *o = lfirst(lc);

		if (o->size && strcmp(o->size, "0") == 0)
			continue;
		if (io->format != OBJ_FORMAT_AUTO || obj_format_of_key(o->key) != OBJ_FORMAT_AUTO)
			return o;
		if (glob)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("the format of object \"%s\" is not known", o->key),
					 errhint("Name it with a suffix (.csv, .jsonl, .ndjson, .json; then .gz or .zst) or set the option format of IMPORT FOREIGN SCHEMA.")));
	}
	return NULL;
}

/* The type of partition name from the values the objects matching path give it. */
static const char *
partition_type(List *objects, const char *path, const char *name)
{
	ListCell   *lc;
	ObjKind		kind = OBJ_KIND_NONE;

	foreach(lc, objects)
	{
		MeshObject *o = lfirst(lc);

		if (obj_glob_match(path, o->key))
			kind = obj_kind_merge(kind, obj_kind_of_text(obj_partition_value(o->key, name)));
	}
	return obj_kind_type(kind);
}

/* CREATE FOREIGN TABLE of a contents table over remote (a prefix or a glob). */
static char *
import_contents(MeshScan *scan, ImportOptions *io, MeshServerConfig *config,
				const char *remote, const char *local_schema)
{
	bool		is_glob = strpbrk(remote, "*?[") != NULL;
	char	   *prefix = is_glob ? obj_glob_prefix(remote) : pstrdup(remote);
	List	   *objects = list_objects(scan, io, prefix, is_glob ? remote : NULL);
	MeshObject *sample = sample_object(objects, io, is_glob);
	const char *path;
	ObjFormat	format;
	List	   *partitions;
	List	   *columns = NIL;
	List	   *options;
	ListCell   *lc;
	int64		size = -1;

	if (sample == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("no object to sample %s \"%s\" in %s \"%s\"", is_glob ? "matches" : "under",
						remote, io->store->bucket_word, io->bucket),
				 is_glob ? 0 : errhint("Under a prefix, objects are sampled by their suffix (.csv, .jsonl, .ndjson, .json; then .gz or .zst); set the option format to sample others.")));
	path = is_glob ? remote : glob_of_prefix(prefix, sample->key);
	format = io->format != OBJ_FORMAT_AUTO ? io->format : obj_format_of_key(sample->key);
	if (sample->size)
		size = strtoi64(sample->size, NULL, 10);
	partitions = partition_names(path);
	foreach(lc, obj_sample_columns(scan, io->store, io->bucket, sample->key, size, format,
								   &io->csv, io->sample_rows, io->read_chunk))
	{
		ObjSampleColumn *c = lfirst(lc);

		/* the reader fills these from the key */
		if (strcmp(c->name, "_key") != 0 && !has_name(partitions, c->name))
			columns = lappend(columns, import_column(c->name, obj_kind_type(c->kind)));
	}
	foreach(lc, partitions)
		columns = lappend(columns, import_column(lfirst(lc),
												 partition_type(objects, path, lfirst(lc))));
	columns = lappend(columns, import_column("_key", "text COLLATE \"C\""));
	options = list_make2(string_option("path", path),
						 string_option("format", format == OBJ_FORMAT_CSV ? "csv" : "jsonl"));
	if (format == OBJ_FORMAT_CSV)
		options = lappend(options, string_option("header", io->csv.header ? "true" : "false"));
	foreach(lc, io->table_options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, "format") != 0)
			options = lappend(options, lfirst(lc));
	return mesh_import_statement(config->servername, local_schema,
								 io->table ? io->table : default_table_name(remote), columns, options);
}

/* CREATE FOREIGN TABLE of a listing table (one LIST request checks the bucket). */
static char *
import_listing(MeshScan *scan, ImportOptions *io, MeshServerConfig *config,
			   const char *local_schema)
{
	MeshKeyRange range;
	MeshObjectLister ls;
	List	   *columns;

	mesh_key_range_init(&range, io->prefix ? io->prefix : "");
	mesh_object_lister_begin(&ls, scan, io->store, io->bucket, 1, &range);
	(void) mesh_object_lister_next(&ls, scan);
	columns = list_make5(import_column("key", "text COLLATE \"C\""),
						 import_column("size", "bigint"),
						 import_column("etag", "text"),
						 import_column("last_modified", "timestamp with time zone"),
						 import_column("content_type", "text"));
	columns = lappend(columns, import_column("metadata", "jsonb"));
	return mesh_import_statement(config->servername, local_schema,
								 io->table ? io->table : LISTING_KEYWORD, columns, io->table_options);
}

/*
 * IMPORT FOREIGN SCHEMA "<prefix or glob>" (a contents table) or
 * "listing" (a listing table): one CREATE FOREIGN TABLE statement.
 */
List *
mesh_object_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
						  const char *local_schema, List *options)
{
	ImportOptions io = {0};
	MeshScan	scan = {0};
	bool		listing = strcmp(remote_schema, LISTING_KEYWORD) == 0;
	char	   *statement;

	io.store = config->connector->object_store;
	parse_options(&io, options, config, listing);
	scan.conn = conn;
	scan.scan_cxt = AllocSetContextCreate(CurrentMemoryContext, "mesh object import",
										  ALLOCSET_DEFAULT_SIZES);
	scan.row_cxt = scan.scan_cxt;
	statement = listing ? import_listing(&scan, &io, config, local_schema) :
		import_contents(&scan, &io, config, remote_schema, local_schema);
	MemoryContextDelete(scan.scan_cxt);
	return list_make1(statement);
}
