/*
 * pg_internal.h: shared declarations of the PostgreSQL connector's files.
 */
#ifndef MESH_PG_INTERNAL_H
#define MESH_PG_INTERNAL_H

#include "libpq-fe.h"

#include "connector.h"

/* A libpq connection for replication writes and verify. */
typedef struct PgConn
{
	PGconn	   *conn;
	char	   *servername;
	int			timeout_ms;
} PgConn;

/* postgres.c */
extern void pg_conninfo_arrays(MeshServerConfig *config, const char ***keys,
							   const char ***vals);
extern bool pg_check_credentials(MeshServerConfig *config, bool raise, char **problem);
extern bool pg_check_password_used(MeshServerConfig *config, bool used, bool raise,
								   char **problem);
extern List *pg_env_hide(MeshServerConfig *config);
extern void pg_env_restore(List *saved);
extern PGconn *pg_connect_start(MeshServerConfig *config);

/* postgres_sink.c */
extern void *pg_sink_connect(MeshServerConfig *config);
extern void pg_sink_disconnect(void *conn);
extern const MeshSinkOps pg_sink_ops;
extern void pg_sink_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows);
extern int	pg_sink_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);

#endif							/* MESH_PG_INTERNAL_H */
