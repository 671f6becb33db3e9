/*
 * object_parquet.h: Parquet in the object-store layer (object_parquet.c),
 * decoded and encoded by the DuckDB library mesh already loads
 * (duckdb_lib.c): contents tables read Parquet objects (object_read.c),
 * mesh.export writes them (object_export.c), the lake sink writes its
 * batches as Parquet (object_sink.c) and verify reads them back
 * (object_verify.c).
 *
 * An object crosses the disk, never memory whole: it is fetched with
 * ranged GETs into a temporary file (PostgreSQL's, under the temp
 * tablespace's pgsql_tmp, counted against temp_file_limit) that DuckDB
 * reads, or DuckDB writes one that is uploaded in parts; each file is
 * deleted when its object is done, and at the transaction's end after an
 * error.
 */
#ifndef MESH_OBJECT_PARQUET_H
#define MESH_OBJECT_PARQUET_H

#include "storage/fd.h"

#include "object_store.h"

#define OBJ_PARQUET_CONTENT_TYPE "application/vnd.apache.parquet"

/* A temporary file: deleted when closed (or at the transaction's end). */
typedef struct ObjTempFile
{
	File		file;			/* -1: closed */
	char	   *path;			/* absolute */
	int64		size;			/* bytes written through obj_temp_write */
} ObjTempFile;

extern void obj_temp_open(ObjTempFile *t);
extern void obj_temp_write(ObjTempFile *t, const char *data, size_t len);
extern void obj_temp_close(ObjTempFile *t);
extern void obj_temp_upload(const char *path, MeshObjectWriter *w);

/*
 * Fetch an object (size bytes, -1: not known) into t with ranged GETs of
 * read_chunk bytes (*gets counts them); false when it does not exist.
 */
extern bool obj_download(const MeshObjectStore *store, void *conn, const char *bucket,
						 const char *key, int64 size, int read_chunk, ObjTempFile *t,
						 int64 *gets);

/*
 * mesh's own in-memory DuckDB database: one thread, no extension loading,
 * file access only inside the directories of the temporary files it is
 * given (obj_duck_for reopens it when a file lies elsewhere).
 */
typedef struct ObjDuck ObjDuck;

extern ObjDuck *obj_duck_for(ObjDuck *d, const char *path);
extern void obj_duck_close(ObjDuck *d);

/* A streaming SELECT's rows, every column VARCHAR (or BLOB). */
typedef struct ObjPqRows ObjPqRows;

extern ObjPqRows *obj_pq_select(ObjDuck *d, const char *sql, const char *key, const char *path);
extern bool obj_pq_next(ObjPqRows *r);
extern char *obj_pq_cell(ObjPqRows *r, int col, uint32_t *len);
extern void obj_pq_end(ObjPqRows *r);

/* The Parquet file at path as a FROM item of DuckDB SQL. */
extern void obj_pq_append_from(StringInfo buf, const char *path);

/*
 * Write the rows of a CSV temporary file (RFC 4180 without a header, an
 * empty unquoted field for NULL; longest: its longest line's bytes) as a
 * Parquet file into out: column i is named names[i] and typed types[i] (a
 * DuckDB type; "BLOB" from PostgreSQL's \x hex).  rows and the CSV's size
 * pick the row group size.  Returns d, or the database used in its place.
 */
extern ObjDuck *obj_parquet_from_csv(ObjDuck *d, ObjTempFile *csv, int64 rows, int64 longest,
									 int ncols, char **names, const char **types,
									 ObjTempFile *out, const char *what);

/* object_export.c: a CSV field as mesh.export writes it (NULL: write nothing) */
extern void mesh_object_csv_field(StringInfo buf, const char *s, char delimiter);

/* The DuckDB type a Parquet column of a PostgreSQL type is written as. */
extern const char *obj_parquet_type_for(Oid typid, int32 typmod);

/* A contents table's Parquet objects, one at a time (object_read.c). */
typedef struct ObjParquetReader ObjParquetReader;

extern ObjParquetReader *obj_parquet_reader(MeshScan *scan, const MeshObjectStore *store,
											const char *bucket, int read_chunk, int ndata,
											const AttrNumber *data_atts);
extern bool obj_parquet_open(ObjParquetReader *p, const char *key, int64 size);
extern bool obj_parquet_row(ObjParquetReader *p, Datum *values, bool *nulls, int64 *row);
extern void obj_parquet_close(ObjParquetReader *p);
extern int64 obj_parquet_gets(ObjParquetReader *p);

#endif							/* MESH_OBJECT_PARQUET_H */
