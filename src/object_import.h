/*
 * object_import.h: IMPORT FOREIGN SCHEMA of the object-store layer
 * (object_import.c) and the column types it infers (object_infer.c).
 */
#ifndef MESH_OBJECT_IMPORT_H
#define MESH_OBJECT_IMPORT_H

#include "object_read.h"

/*
 * What sampled values say of a column, from the narrowest: a later value
 * widens it (bigint < numeric < double precision; date < timestamptz;
 * anything else mixed: text).  OBJ_KIND_NONE: no value decided yet.
 */
typedef enum ObjKind
{
	OBJ_KIND_NONE,
	OBJ_KIND_BOOL,
	OBJ_KIND_BIGINT,
	OBJ_KIND_NUMERIC,
	OBJ_KIND_DOUBLE,
	OBJ_KIND_DATE,
	OBJ_KIND_TIMESTAMPTZ,
	OBJ_KIND_JSONB,
	OBJ_KIND_TEXT
} ObjKind;

extern ObjKind obj_kind_of_text(const char *s);
extern ObjKind obj_kind_of_json(void *value);
extern ObjKind obj_kind_merge(ObjKind a, ObjKind b);
extern const char *obj_kind_type(ObjKind k);

/* object_sample.c: the data columns an object's first records show */
typedef struct ObjSampleColumn
{
	char	   *name;
	ObjKind		kind;
} ObjSampleColumn;

extern List *obj_sample_columns(MeshScan *scan, const MeshObjectStore *store, const char *bucket,
								const char *key, int64 size, ObjFormat format,
								const ObjCsvOptions *csv, int sample_rows, int read_chunk);

#endif							/* MESH_OBJECT_IMPORT_H */
