/*
 * mesh_util.h: small helpers shared by the core and the connectors.
 */
#ifndef MESH_UTIL_H
#define MESH_UTIL_H

#include "lib/stringinfo.h"
#include "tcop/dest.h"
#include "utils/timestamp.h"

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
extern void mesh_log_if_slow(TimestampTz start, const char *step);
extern void mesh_worker_spi_begin(void);
extern void mesh_set_wait_work(void (*work) (void *arg), void *arg);
extern bool mesh_run_wait_work(void);
extern bool mesh_wait_work_running(void);
extern void mesh_worker_spi_commit(void);
extern char *mesh_worker_take_error(MemoryContext cxt);

/* statement.c: a statement planned once per process (see there) */
#define MESH_STATEMENT_MAX_ARGS 8
typedef struct MeshStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[MESH_STATEMENT_MAX_ARGS];
	struct _SPI_plan *plan;		/* NULL until its first run */
} MeshStatement;

extern int	mesh_statement_run(MeshStatement *st, Datum *values, const char *nulls,
							   long count);
extern int	mesh_statement_run_into(MeshStatement *st, Datum *values, const char *nulls,
									long count, DestReceiver *dest);

/* health.c, execute.c */
typedef struct MeshHealth
{
	MeshPing	ping;			/* ping.config set by the caller */
	double		latency_ms;		/* until the answer, the error or the timeout */
} MeshHealth;

extern List *mesh_backend_servers(void);
typedef struct MeshHealthRound MeshHealthRound;

extern void mesh_check_health(MeshHealth *items, int n, int timeout_ms);
extern MeshHealthRound *mesh_health_start(MeshHealth *items, int n, int timeout_ms);
extern bool mesh_health_step(MeshHealthRound *round, int wait_ms);
extern void mesh_health_abandon(MeshHealthRound *round);
extern MeshServerConfig *mesh_server_config_by_name(const char *name);

/* redact.c: an error as shown beyond the route's owner (no row values) */
extern char *mesh_redact_error(const char *message, const char *detail,
							   int sqlerrcode, const char *constraint);
extern char *mesh_redact_edata(ErrorData *edata);

/* The first fields of an entry of a per-relation cache (hash key relid). */
typedef struct MeshRelEntry
{
	Oid			relid;
	bool		valid;
} MeshRelEntry;

extern void mesh_rel_entries_invalidate(Datum arg, Oid relid);

#endif							/* MESH_UTIL_H */
