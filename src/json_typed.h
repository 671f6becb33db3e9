/*
 * json_typed.h: a PostgreSQL value (text form) as a typed JSON value, for
 * backends that store JSON documents (Neo4j parameters, vector payloads).
 */
#ifndef MESH_JSON_TYPED_H
#define MESH_JSON_TYPED_H

#include "lib/stringinfo.h"

extern void mesh_json_append_typed(StringInfo buf, Oid typid, const char *text);

#endif							/* MESH_JSON_TYPED_H */
