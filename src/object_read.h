/*
 * object_read.h: the contents scan of the object-store layer (a table with
 * the option path): internal to object_read.c, object_glob.c,
 * object_stream.c and object_record.c.
 */
#ifndef MESH_OBJECT_READ_H
#define MESH_OBJECT_READ_H

#include "object_store.h"

#define OBJ_READ_CHUNK_DEFAULT (4 * 1024 * 1024)
#define OBJ_RECORD_MAX (64 * 1024 * 1024)	/* the longest line (record) read */

typedef enum ObjFormat
{
	OBJ_FORMAT_AUTO,			/* from each key's suffix */
	OBJ_FORMAT_CSV,
	OBJ_FORMAT_JSONL,
	OBJ_FORMAT_PARQUET			/* object_parquet.c */
} ObjFormat;

typedef enum ObjCodec
{
	OBJ_CODEC_NONE,
	OBJ_CODEC_GZIP,
	OBJ_CODEC_ZSTD
} ObjCodec;

/* CSV options, as COPY's. */
typedef struct ObjCsvOptions
{
	bool		header;
	char		delimiter;
	char		quote;
	char		escape;
	const char *null_text;
} ObjCsvOptions;

/* object_glob.c: keys matched by a glob (* ? ** [..] \x), what a key says */
extern char *obj_glob_prefix(const char *glob);
extern bool obj_glob_match(const char *glob, const char *key);
extern char *obj_partition_value(const char *key, const char *name);
extern bool obj_glob_names_partition(const char *glob, const char *name);
extern ObjFormat obj_format_of_key(const char *key);
extern ObjCodec obj_codec_of_key(const char *key);
extern bool obj_is_text_type(Oid typid);
extern bool obj_qual_evaluable(MeshColumn *col, MeshQual *q);
extern bool obj_qual_holds(MeshColumn *col, MeshQual *q, Datum value);

/*
 * object_stream.c: an object's records, read with ranged GETs of
 * read_chunk bytes and decoded (gzip, zstd) a piece at a time; a record is
 * a line, or a CSV record whose quoted fields may hold newlines.
 */
typedef struct ObjStream
{
	MeshScan   *scan;
	const MeshObjectStore *store;
	const char *bucket;
	const char *key;
	int64		size;			/* from the listing; -1: not known */
	int			read_chunk;
	const ObjCsvOptions *csv;	/* NULL: records are lines */
	ObjCodec	codec;
	/* the raw bytes: the current chunk (in chunk_cxt) */
	MemoryContext chunk_cxt;
	MeshHttpResponse chunk;
	size_t		chunk_pos;
	int64		offset;			/* of the next chunk */
	bool		raw_eof;
	/* the decoder (its state lives in scan_cxt) */
	void	   *zlib;
	void	   *zstd;
	bool		codec_ended;
	/* decoded bytes not yet returned as records: buf[pos..len) */
	StringInfoData buf;
	size_t		pos;
	size_t		scan_pos;		/* the record end search resumes here */
	bool		in_quote;
	int64		line;			/* of the next record, 1-based */
	int64		record_lines;	/* newlines inside the record being searched */
	/* counts for EXPLAIN ANALYZE */
	int64		gets;
	int64		bytes;
} ObjStream;

extern void obj_stream_init(ObjStream *s, MeshScan *scan, const MeshObjectStore *store,
							const char *bucket, int read_chunk);
extern void obj_stream_open(ObjStream *s, const char *key, int64 size,
							const ObjCsvOptions *csv, ObjCodec codec);
extern bool obj_stream_record(ObjStream *s, char **record, size_t *len, int64 *line);

/* object_record.c: a record's fields */
typedef struct ObjFields
{
	int			n;
	char	  **values;			/* NUL-terminated; NULL: SQL NULL */
} ObjFields;

extern void obj_csv_split(const ObjCsvOptions *csv, char *record, size_t len, ObjFields *out,
						  const char *key, int64 line);
extern void *obj_json_parse_line(char *record, size_t len, const char *key, int64 line);
extern bool obj_json_field(void *object, MeshColumn *col, Datum *value);

#endif							/* MESH_OBJECT_READ_H */
