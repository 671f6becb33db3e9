/*
 * json_value.h: JSON replies (jansson) to PostgreSQL values, shared by every
 * HTTP/JSON connector.  jansson allocates with palloc (set in _PG_init), so
 * a json_t lives in the memory context current when it was made and an
 * ereport never leaks it; never keep one across a context reset.
 */
#ifndef MESH_JSON_VALUE_H
#define MESH_JSON_VALUE_H

/*
 * PostgreSQL's fmgrprotos.h declares the SQL function json_object, which
 * jansson also declares: rename PostgreSQL's (mesh never calls it) before
 * jansson is seen.  Include this header before utils/builtins.h.
 */
#define json_object pg_sql_json_object
#include "utils/builtins.h"
#undef json_object
#include <jansson.h>

/*
 * The postgres executable exports its SQL function json_object, and the
 * dynamic linker binds mesh.so's calls of jansson's json_object() to it
 * (a crash).  Every json_object() call in mesh goes through this wrapper,
 * which lets libjansson make the object itself.
 */
extern json_t *mesh_json_object_new(void);
#define json_object() mesh_json_object_new()

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "connector.h"

extern void mesh_json_init(void);
extern json_t *mesh_json_parse(const char *data, size_t len, const char *server,
							   const char *what);
extern json_t *mesh_json_parse_go(const char *data, size_t len, const char *server,
								  const char *what);
extern Datum mesh_json_to_datum(MeshColumn *col, json_t *value, bool *isnull);
extern char *mesh_json_scalar_text(json_t *value);
extern Jsonb *mesh_json_to_jsonb(json_t *value);
extern json_t *mesh_json_get(json_t *object, const char *key, json_type type,
							 const char *server, const char *what);
extern void mesh_json_append_string(StringInfo buf, const char *s, size_t len);
extern void mesh_json_malformed(const char *server, const char *what, const char *detail)
			pg_attribute_noreturn();

#endif							/* MESH_JSON_VALUE_H */
