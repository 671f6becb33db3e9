/*
 * object_parquet.c: Parquet objects, decoded and encoded by DuckDB
 * (duckdb_lib.c) in an in-memory database of mesh's own.
 *
 * Reading (a contents table's object, or a lake object for verify): the
 * object is fetched with ranged GETs of read_chunk bytes into a temporary
 * file, DuckDB reads it (read_parquet) in a streaming SELECT of the
 * columns the query uses, every value as VARCHAR (a BLOB as its bytes, a
 * LIST or nested value as JSON where the column wants it), and the
 * column's input function makes the Datum.  Parquet columns match the
 * table's by name (exactly, else case-insensitively).  So a scan holds one
 * GET's chunk while fetching, then DuckDB's working set: the file's
 * metadata and one row group of the columns read (one thread, so row
 * groups are decoded one after the other), and a chunk of 2048 rows; the
 * disk holds one object at a time.
 *
 * Writing (mesh.export, the lake sink): the rows are written as CSV into a
 * temporary file, DuckDB turns it into a Parquet file (COPY ... TO, the
 * columns cast to their types, row groups of about
 * OBJ_PARQUET_ROW_GROUP_BYTES of CSV text), and the file is uploaded
 * through the object writer in parts.
 *
 * DuckDB runs with one thread, no extension installing or loading, the
 * TimeZone UTC, and file access only inside the directories of the
 * temporary files it is given (allowed_directories, then
 * enable_external_access off and the configuration locked), whoever the
 * role: the SQL is mesh's, and a Parquet file cannot reach other files.
 * Temporary files are PostgreSQL's (OpenTemporaryFile: pgsql_tmp of the
 * temp tablespace, temp_file_limit), deleted when their object is done or,
 * after an error, at the transaction's end (outside a transaction, as in
 * the delivery worker, the caller closes them in its PG_CATCH).
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/tablespace.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "duckdb_lib.h"
#include "object_parquet.h"

#define OBJ_PARQUET_ROW_GROUP_BYTES (32 * 1024 * 1024)
#define OBJ_PARQUET_ROW_GROUP_MIN 2048
#define OBJ_PARQUET_ROW_GROUP_MAX 122880	/* DuckDB's default */
#define OBJ_CSV_BUFFER_MIN (8 * 1024 * 1024)	/* DuckDB's CSV buffer, at least */
#define OBJ_UPLOAD_PIECE (1024 * 1024)

struct ObjDuck
{
	MemoryContext cxt;			/* where it lives; closed when it goes */
	duckdb_database db;
	duckdb_connection con;
	List	   *dirs;			/* the directories it may read and write */
};

struct ObjPqRows
{
	duckdb_result *res;
	duckdb_data_chunk chunk;
	idx_t		size;			/* rows in chunk */
	idx_t		pos;			/* the current row */
	int			ncols;
	duckdb_vector *vec;
	uint64_t  **valid;
	const char *key;			/* for messages */
	const char *path;
};

struct ObjParquetReader
{
	MeshScan   *scan;
	const MeshObjectStore *store;
	const char *bucket;
	int			read_chunk;
	int			ndata;
	const AttrNumber *data_atts;
	MemoryContext cxt;			/* the current object's; reset per object */
	ObjDuck    *duck;			/* in scan_cxt */
	ObjTempFile tmp;
	ObjPqRows  *rows;			/* NULL: no object open */
	int			nout;
	AttrNumber *out_att;		/* output column i: this attnum */
	bool	   *out_list;		/* ... a LIST read into an array column */
	int64		row;
	int64		gets;
};

/* Temporary files */

/* A new temporary file (deleted at close, or at the transaction's end). */
void
obj_temp_open(ObjTempFile *t)
{
	bool		in_xact = IsTransactionState();
	const char *name;

	if (in_xact)
		PrepareTempTablespaces();
	t->file = OpenTemporaryFile(!in_xact);
	name = FilePathName(t->file);
	t->path = name[0] == '/' ? pstrdup(name) : psprintf("%s/%s", DataDir, name);
	t->size = 0;
}

void
obj_temp_write(ObjTempFile *t, const char *data, size_t len)
{
	while (len > 0)
	{
		int			n = (int) Min(len, (size_t) (64 * 1024 * 1024));
		int			done;

		errno = 0;
		done = FileWrite(t->file, unconstify(char *, data), n, t->size, WAIT_EVENT_BUFFILE_WRITE);
		if (done != n)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write temporary file \"%s\": %m", t->path)));
		data += n;
		len -= n;
		t->size += n;
	}
}

/* Close (and so delete) t; no-op when closed. */
void
obj_temp_close(ObjTempFile *t)
{
	if (t->file < 0)
		return;
	FileClose(t->file);
	t->file = -1;
}

/* Send the file at path through w, a piece at a time. */
void
obj_temp_upload(const char *path, MeshObjectWriter *w)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	char	   *buf;
	ssize_t		n;

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open temporary file \"%s\": %m", path)));
	buf = palloc(OBJ_UPLOAD_PIECE);
	while ((n = read(fd, buf, OBJ_UPLOAD_PIECE)) != 0)
	{
		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read temporary file \"%s\": %m", path)));
		mesh_object_write(w, buf, n);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(buf);
	CloseTransientFile(fd);
}

bool
obj_download(const MeshObjectStore *store, void *conn, const char *bucket, const char *key,
			 int64 size, int read_chunk, ObjTempFile *t, int64 *gets)
{
	MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "mesh object download",
													ALLOCSET_DEFAULT_SIZES);
	int64		offset = 0;

	while (size < 0 || offset < size)
	{
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		MeshHttpResponse resp;
		bool		found;
		size_t		len;

		(*gets)++;
		found = store->get(conn, bucket, key, offset, read_chunk, &resp);
		MemoryContextSwitchTo(old);
		if (!found && offset == 0)
		{
			MemoryContextDelete(chunk_cxt);
			return false;		/* deleted since it was listed */
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("object \"%s\" vanished while read", key)));
		if (resp.status == 200 && offset > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("range not honoured in object \"%s\"", key),
					 errdetail("The server sent the whole object for a ranged GET.")));
		len = resp.body.len;
		obj_temp_write(t, resp.body.data, len);
		offset += len;
		MemoryContextReset(chunk_cxt);
		if (resp.status == 200 || len < (size_t) read_chunk)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(chunk_cxt);
	return true;
}

/* mesh's DuckDB */

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return pnstrdup(path, slash - path + 1);
}

static void
duck_release(void *arg)
{
	ObjDuck    *d = arg;
	const DdbApi *a = ddb_api_loaded();

	if (a == NULL || d->db == NULL)
		return;
	if (d->con)
		a->disconnect(&d->con);
	a->close(&d->db);
	d->con = NULL;
	d->db = NULL;
}

void
obj_duck_close(ObjDuck *d)
{
	if (d != NULL)
		duck_release(d);
}

/* One setting of a database being opened; false with *error. */
static bool
duck_setup(ObjDuck *d, const char *sql, char **error)
{
	duckdb_result *res = palloc(sizeof(duckdb_result));

	if (!ddb_run_sql(d->con, sql, false, res, error))
		return false;
	ddb_destroy_result_cb(res);
	return true;
}

/* Open a database that may use the files under dirs. */
static ObjDuck *
duck_open(List *dirs)
{
	const DdbApi *a = ddb_api();
	ObjDuck    *d = palloc0(sizeof(ObjDuck));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	StringInfoData sql;
	char	   *error = NULL;
	ListCell   *lc;
	bool		ok;

	d->cxt = CurrentMemoryContext;
	d->dirs = dirs;
	d->db = ddb_open_database(":memory:", false, false, "1", NULL, &error);
	if (d->db == NULL || a->connect(d->db, &d->con) != DuckDBSuccess)
	{
		duck_release(d);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not start DuckDB for Parquet"),
				 errdetail("%s", error ? error : "duckdb_connect failed")));
	}
	cb->func = duck_release;
	cb->arg = d;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SET allowed_directories = [");
	foreach(lc, dirs)
	{
		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&sql, ", ");
		ddb_append_literal(&sql, lfirst(lc), strlen(lfirst(lc)));
	}
	appendStringInfoChar(&sql, ']');
	ok = duck_setup(d, "SET autoinstall_known_extensions = false", &error) &&
		duck_setup(d, "SET autoload_known_extensions = false", &error) &&
		duck_setup(d, "SET TimeZone = 'UTC'", &error) &&
		duck_setup(d, "SET temp_directory = ''", &error) &&
		duck_setup(d, sql.data, &error) &&
		duck_setup(d, "SET enable_external_access = false", &error) &&
		duck_setup(d, "SET lock_configuration = true", &error);
	if (!ok)
	{
		duck_release(d);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not set up DuckDB for Parquet"),
				 errdetail("%s", error)));
	}
	return d;
}

/*
 * d, or a database in its place (in the same memory context) that may
 * also use path's directory; NULL d: a new one in CurrentMemoryContext.
 */
ObjDuck *
obj_duck_for(ObjDuck *d, const char *path)
{
	char	   *dir = dir_of(path);
	MemoryContext old;
	List	   *dirs;
	ListCell   *lc;

	if (d != NULL && d->db != NULL)
	{
		foreach(lc, d->dirs)
		{
			if (strcmp(lfirst(lc), dir) == 0)
				return d;
		}
	}
	old = MemoryContextSwitchTo(d ? d->cxt : CurrentMemoryContext);
	dirs = d && d->db ? list_copy(d->dirs) : NIL;
	dirs = lappend(dirs, pstrdup(dir));
	obj_duck_close(d);
	d = duck_open(dirs);
	MemoryContextSwitchTo(old);
	return d;
}

/* Reading */

/*
 * DuckDB's message for a file of key: the temporary path replaced by the
 * key, the quoted statement ("LINE 1: ...") dropped.
 */
static char *
duck_message(const char *msg, const char *key, const char *path)
{
	StringInfoData buf;
	const char *p = msg;
	const char *hit;
	const char *end = strstr(msg, "\n\nLINE ");
	size_t		plen = path ? strlen(path) : 0;

	if (end == NULL)
		end = msg + strlen(msg);
	initStringInfo(&buf);
	while (plen > 0 && (hit = strstr(p, path)) != NULL && hit < end)
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, key);
		p = hit + plen;
	}
	appendBinaryStringInfo(&buf, p, end - p);
	while (buf.len > 0 && isspace((unsigned char) buf.data[buf.len - 1]))
		buf.data[--buf.len] = '\0';
	return buf.data;
}

static void pg_attribute_noreturn()
read_failed(const char *key, const char *path, const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("could not read Parquet object \"%s\"", key),
			 errdetail("%s", duck_message(msg, key, path))));
}

static void
rows_release(void *arg)
{
	ObjPqRows  *r = arg;
	const DdbApi *a = ddb_api_loaded();

	if (a && r->chunk)
		a->destroy_data_chunk(&r->chunk);
	r->chunk = NULL;
	if (r->res)
		ddb_destroy_result_cb(r->res);
}

/* sql's rows, streamed; errors name key (path: the file DuckDB reads). */
ObjPqRows *
obj_pq_select(ObjDuck *d, const char *sql, const char *key, const char *path)
{
	ObjPqRows  *r = palloc0(sizeof(ObjPqRows));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	char	   *error = NULL;

	r->key = key;
	r->path = path;
	r->res = palloc0(sizeof(duckdb_result));
	if (!ddb_run_sql(d->con, sql, true, r->res, &error))
		read_failed(key, path, error);
	r->ncols = (int) ddb_api()->column_count(r->res);
	r->vec = palloc0(sizeof(duckdb_vector) * Max(r->ncols, 1));
	r->valid = palloc0(sizeof(uint64_t *) * Max(r->ncols, 1));
	cb->func = rows_release;
	cb->arg = r;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return r;
}

/* Move to the next row; false after the last. */
bool
obj_pq_next(ObjPqRows *r)
{
	const DdbApi *a = ddb_api();

	if (r->chunk && r->pos + 1 < r->size)
	{
		r->pos++;
		return true;
	}
	for (;;)
	{
		const char *error;

		if (r->chunk)
			a->destroy_data_chunk(&r->chunk);
		r->chunk = a->fetch_chunk(*r->res);
		if (r->chunk == NULL)
		{
			error = a->result_error(r->res);
			if (error && error[0])
				read_failed(r->key, r->path, pstrdup(error));
			return false;
		}
		r->size = a->data_chunk_get_size(r->chunk);
		if (r->size == 0)
			continue;
		r->pos = 0;
		for (int i = 0; i < r->ncols; i++)
		{
			r->vec[i] = a->data_chunk_get_vector(r->chunk, i);
			r->valid[i] = a->vector_get_validity(r->vec[i]);
		}
		return true;
	}
}

/* The current row's column col: its bytes, NULL for SQL NULL. */
char *
obj_pq_cell(ObjPqRows *r, int col, uint32_t *len)
{
	return ddb_cell(r->vec[col], r->valid[col], r->pos, len);
}

void
obj_pq_end(ObjPqRows *r)
{
	if (r != NULL)
		rows_release(r);
}

void
obj_pq_append_from(StringInfo buf, const char *path)
{
	appendStringInfoString(buf, "read_parquet(");
	ddb_append_literal(buf, path, strlen(path));
	appendStringInfoString(buf, ", hive_partitioning = false)");
}

/* Writing */

const char *
obj_parquet_type_for(Oid typid, int32 typmod)
{
	const char *t;

	typid = getBaseTypeAndTypmod(typid, &typmod);
	if (typid == INTERVALOID || type_is_array(typid))
		return "VARCHAR";		/* Parquet's INTERVAL keeps milliseconds only */
	t = ddb_type_for(typid, typmod);
	return t ? t : "VARCHAR";
}

static void pg_attribute_noreturn()
write_failed(const char *what, const char *msg, ObjTempFile *csv, ObjTempFile *out)
{
	char	   *m = duck_message(msg, "<rows>", csv->path);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("%s could not write Parquet", what),
			 errdetail("%s", duck_message(m, "<parquet>", out->path))));
}

ObjDuck *
obj_parquet_from_csv(ObjDuck *d, ObjTempFile *csv, int64 rows, int64 longest, int ncols,
					 char **names, const char **types, ObjTempFile *out, const char *what)
{
	StringInfoData sql;
	duckdb_result *res = palloc(sizeof(duckdb_result));
	char	   *error = NULL;
	int64		group = OBJ_PARQUET_ROW_GROUP_MAX;
	int64		buffer = Max(OBJ_CSV_BUFFER_MIN, longest + 1024);

	d = obj_duck_for(d, csv->path);
	d = obj_duck_for(d, out->path);
	if (rows > 0)
		group = Max(OBJ_PARQUET_ROW_GROUP_MIN,
					Min(OBJ_PARQUET_ROW_GROUP_MAX,
						OBJ_PARQUET_ROW_GROUP_BYTES / Max(csv->size / rows, 1)));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "COPY (SELECT ");
	for (int i = 0; i < ncols; i++)
	{
		StringInfoData field;

		initStringInfo(&field);
		ddb_append_ident(&field, names[i]);
		if (i > 0)
			appendStringInfoString(&sql, ", ");
		if (rows == 0)
			appendStringInfo(&sql, "CAST(NULL AS %s)", types[i]);
		else if (strcmp(types[i], "BLOB") == 0)
			appendStringInfo(&sql, "from_hex(substr(%s, 3))", field.data);
		else
			appendStringInfo(&sql, "CAST(%s AS %s)", field.data, types[i]);
		appendStringInfo(&sql, " AS %s", field.data);
	}
	if (rows == 0)
		appendStringInfoString(&sql, " WHERE false");
	else
	{
		/* every field read as VARCHAR under its column's name */
		appendStringInfoString(&sql, " FROM read_csv(");
		ddb_append_literal(&sql, csv->path, strlen(csv->path));
		appendStringInfoString(&sql, ", columns = {");
		for (int i = 0; i < ncols; i++)
		{
			if (i > 0)
				appendStringInfoString(&sql, ", ");
			ddb_append_literal(&sql, names[i], strlen(names[i]));
			appendStringInfoString(&sql, ": 'VARCHAR'");
		}
		/* DuckDB's buffers: a few of them, each at least the longest row */
		appendStringInfo(&sql, "}, header = false, auto_detect = false, delim = ',', "
						 "quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = false, "
						 "max_line_size = " INT64_FORMAT ", buffer_size = " INT64_FORMAT ")",
						 buffer, buffer);
	}
	appendStringInfoString(&sql, ") TO ");
	ddb_append_literal(&sql, out->path, strlen(out->path));
	appendStringInfo(&sql, " (FORMAT parquet, ROW_GROUP_SIZE " INT64_FORMAT ", USE_TMP_FILE false)",
					 group);
	if (!ddb_run_sql(d->con, sql.data, false, res, &error))
		write_failed(what, error, csv, out);
	ddb_destroy_result_cb(res);
	return d;
}

/* A contents table's Parquet objects */

ObjParquetReader *
obj_parquet_reader(MeshScan *scan, const MeshObjectStore *store, const char *bucket,
				   int read_chunk, int ndata, const AttrNumber *data_atts)
{
	ObjParquetReader *p = palloc0(sizeof(ObjParquetReader));

	p->scan = scan;
	p->store = store;
	p->bucket = bucket;
	p->read_chunk = read_chunk;
	p->ndata = ndata;
	p->data_atts = data_atts;
	p->cxt = AllocSetContextCreate(scan->scan_cxt, "mesh parquet object", ALLOCSET_SMALL_SIZES);
	p->tmp.file = -1;
	p->out_att = palloc(sizeof(AttrNumber) * Max(ndata, 1));
	p->out_list = palloc(sizeof(bool) * Max(ndata, 1));
	return p;
}

/* The file's columns (DESCRIBE): names and DuckDB types; the count. */
static int
file_columns(ObjParquetReader *p, const char *key, char ***names, char ***types)
{
	StringInfoData sql;
	ObjPqRows  *r;
	int			n = 0,
				cap = 16;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "DESCRIBE SELECT * FROM ");
	obj_pq_append_from(&sql, p->tmp.path);
	r = obj_pq_select(p->duck, sql.data, key, p->tmp.path);
	*names = palloc(sizeof(char *) * cap);
	*types = palloc(sizeof(char *) * cap);
	while (obj_pq_next(r))
	{
		uint32_t	len;
		char	   *s;

		if (n == cap)
		{
			cap *= 2;
			*names = repalloc(*names, sizeof(char *) * cap);
			*types = repalloc(*types, sizeof(char *) * cap);
		}
		s = obj_pq_cell(r, 0, &len);
		(*names)[n] = s ? pnstrdup(s, len) : pstrdup("");
		s = obj_pq_cell(r, 1, &len);
		(*types)[n] = s ? pnstrdup(s, len) : pstrdup("");
		n++;
	}
	obj_pq_end(r);
	return n;
}

/* The file's column for name: exactly, else the one case-insensitive match; -1: none. */
static int
find_column(const char *name, char **names, int n)
{
	int			found = -1;

	for (int f = 0; f < n; f++)
		if (strcmp(names[f], name) == 0)
			return f;
	for (int f = 0; f < n; f++)
		if (pg_strcasecmp(names[f], name) == 0)
		{
			if (found >= 0)
				return -1;
			found = f;
		}
	return found;
}

/*
 * The VARCHAR (or BLOB) expression reading file column ident of DuckDB
 * type duck into col; *list: a LIST read as JSON into an array column.
 */
static void
append_read_expr(StringInfo buf, const char *ident, MeshColumn *col, const char *duck,
				 bool *list)
{
	Oid			base = getBaseType(col->typid);
	size_t		dlen = strlen(duck);
	bool		is_list = dlen > 0 && duck[dlen - 1] == ']';

	*list = false;
	if (type_is_array(base) && is_list)
	{
		*list = true;
		appendStringInfo(buf, "CAST(to_json(%s) AS VARCHAR)", ident);
	}
	else if (col->typid == BYTEAOID && strcmp(duck, "BLOB") == 0)
		appendStringInfoString(buf, ident); /* the bytes themselves */
	else if (base == BYTEAOID && strcmp(duck, "BLOB") == 0)
		appendStringInfo(buf, "('\\x' || hex(%s))", ident);
	else if ((base == JSONOID || base == JSONBOID) &&
			 strcmp(duck, "VARCHAR") != 0 && strcmp(duck, "JSON") != 0)
		appendStringInfo(buf, "CAST(to_json(%s) AS VARCHAR)", ident);
	else
		appendStringInfo(buf, "CAST(%s AS VARCHAR)", ident);
}

/*
 * Start reading key (size bytes, -1: not known): fetch it, check its
 * columns, start the SELECT of the wanted ones.  false: it no longer
 * exists (no rows).
 */
bool
obj_parquet_open(ObjParquetReader *p, const char *key, int64 size)
{
	MeshScan   *scan = p->scan;
	MeshTable  *t = scan->table;
	MemoryContext old;
	int64		gets_before = p->gets;
	bool		found;
	char	  **names;
	char	  **types;
	int			nfile;
	StringInfoData sql;

	obj_parquet_close(p);
	old = MemoryContextSwitchTo(p->cxt);
	obj_temp_open(&p->tmp);
	found = obj_download(p->store, scan->conn, p->bucket, key, size, p->read_chunk, &p->tmp,
						 &p->gets);
	scan->requests += p->gets - gets_before;
	scan->bytes_read += p->tmp.size;
	if (!found)
	{
		obj_temp_close(&p->tmp);
		MemoryContextSwitchTo(old);
		return false;
	}
	MemoryContextSwitchTo(scan->scan_cxt);
	p->duck = obj_duck_for(p->duck, p->tmp.path);
	MemoryContextSwitchTo(p->cxt);
	nfile = file_columns(p, key, &names, &types);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	p->nout = 0;
	for (int i = 0; i < p->ndata; i++)
	{
		AttrNumber	att = p->data_atts[i];
		MeshColumn *col = &t->columns[att - 1];
		int			f = find_column(col->name, names, nfile);
		StringInfoData ident;

		if (f < 0)
		{
			StringInfoData list;

			initStringInfo(&list);
			for (int k = 0; k < nfile; k++)
				appendStringInfo(&list, "%s%s", k ? ", " : "", names[k]);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("Parquet object \"%s\" has no column \"%s\"", key, col->name),
					 errdetail("Its columns: %s.", list.data)));
		}
		if (!scan->wanted[att - 1])
			continue;
		initStringInfo(&ident);
		ddb_append_ident(&ident, names[f]);
		if (p->nout > 0)
			appendStringInfoString(&sql, ", ");
		append_read_expr(&sql, ident.data, col, types[f], &p->out_list[p->nout]);
		p->out_att[p->nout++] = att;
	}
	if (p->nout == 0)
		appendStringInfoString(&sql, "NULL");	/* only the row count is needed */
	appendStringInfoString(&sql, " FROM ");
	obj_pq_append_from(&sql, p->tmp.path);
	p->rows = obj_pq_select(p->duck, sql.data, key, p->tmp.path);
	p->row = 0;
	MemoryContextSwitchTo(old);
	return true;
}

/* The next row's data columns; false after the last (then close). */
bool
obj_parquet_row(ObjParquetReader *p, Datum *values, bool *nulls, int64 *row)
{
	MeshTable  *t = p->scan->table;

	if (p->rows == NULL || !obj_pq_next(p->rows))
		return false;
	*row = ++p->row;
	for (int i = 0; i < p->nout; i++)
	{
		AttrNumber	att = p->out_att[i];
		MeshColumn *col = &t->columns[att - 1];
		uint32_t	len;
		char	   *s = obj_pq_cell(p->rows, i, &len);

		if (s == NULL)
			continue;
		if (p->out_list[i])
		{
			char	   *lit = ddb_json_array_to_pg(s, len, col->name);

			values[att - 1] = mesh_value_from_cstring(col, lit, strlen(lit));
		}
		else
			values[att - 1] = mesh_value_from_text(col, s, len);
		nulls[att - 1] = false;
	}
	return true;
}

/* Done with the current object: its result and its temporary file. */
void
obj_parquet_close(ObjParquetReader *p)
{
	obj_pq_end(p->rows);
	p->rows = NULL;
	obj_temp_close(&p->tmp);
	MemoryContextReset(p->cxt);
}

int64
obj_parquet_gets(ObjParquetReader *p)
{
	return p ? p->gets : 0;
}
