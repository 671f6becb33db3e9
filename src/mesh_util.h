/*
 * mesh_util.h: small helpers shared by the core and the connectors.
 */
#ifndef MESH_UTIL_H
#define MESH_UTIL_H

#include "lib/stringinfo.h"

#include "connector.h"

/* qual.c */
extern int	mesh_qual_array_text(MeshQual *qual, char ***out);
extern char *mesh_qual_display(MeshQual *qual);

/* util.c */
extern char *mesh_datum_text(Datum value, Oid typid);
extern double mesh_elapsed_ms(struct timespec *start);
extern void mesh_now(struct timespec *ts);
extern char *mesh_quote_display(const char *s, size_t len);
extern void mesh_append_dquoted(StringInfo buf, const char *s, size_t len,
								const char *ctrl_format, bool escape_del);
extern int	mesh_canonical_output_begin(void);
extern void mesh_canonical_output_end(int nest);
extern void mesh_canonical_output_session(void);
extern void mesh_worker_begin_xact(void);
extern char *mesh_worker_take_error(MemoryContext cxt);

/* health.c, execute.c */
typedef struct MeshHealth
{
	MeshPing	ping;			/* ping.config set by the caller */
	double		latency_ms;		/* until the answer, the error or the timeout */
} MeshHealth;

extern List *mesh_backend_servers(void);
extern void mesh_check_health(MeshHealth *items, int n, int timeout_ms);
extern MeshServerConfig *mesh_server_config_by_name(const char *name);

/* redact.c: an error as shown beyond the route's owner (no row values) */
extern char *mesh_redact_error(const char *message, const char *detail,
							   int sqlerrcode, const char *constraint);
extern char *mesh_redact_edata(ErrorData *edata);

#endif							/* MESH_UTIL_H */
