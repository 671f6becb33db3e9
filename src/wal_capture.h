/*
 * wal_capture.h: WAL capture, between the output plugin (wal_plugin.c)
 * and the database worker's decoder (wal_capture.c).
 */
#ifndef MESH_WAL_CAPTURE_H
#define MESH_WAL_CAPTURE_H

#include "access/xlogdefs.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* One change of a captured table, as the event log stores it. */
typedef struct WalEvent
{
	Oid			source;			/* the replicated table (a partition's root) */
	char		op;				/* I U D T */
	TransactionId xid;			/* the decoded (top-level) transaction */
	TimestampTz committed_at;
	Jsonb	   *key;			/* NULL for T */
	Jsonb	   *row;			/* NULL for D and T */
} WalEvent;

/*
 * What the plugin hands the decoder: the changes of whole committed
 * transactions, in commit order, and the set of captured tables as of the
 * last of them.  Lives in cxt until the decoder has written it.
 */
typedef struct WalSpool
{
	MemoryContext cxt;			/* events in memory: reset once written or spilled */
	MemoryContext set_cxt;		/* sources */
	MemoryContext read_cxt;		/* the event read back from the file */
	WalEvent   *events;			/* in memory, after the nspilled in file */
	int			nevents;
	int			maxevents;
	Size		bytes;			/* of the events in memory */
	Size		total_bytes;	/* of every event not written yet */
	struct BufFile *file;		/* spilled events (wal_spool.c), or NULL */
	int64		nspilled;
	int64		next;			/* reading back: the next event's number */
	List	   *sources;		/* oids of the captured tables */
	bool		sources_changed;	/* since the last write */
	XLogRecPtr	skip_upto;		/* transactions ending at or before are in the log */
	XLogRecPtr	last_end;		/* end of the last transaction spooled */
	RepOriginId own_origin;		/* the decoder's own writes: not decoded */
	bool		caches_historic;	/* this step replayed a transaction (see wal_capture.c) */
	bool		caches_quiet;	/* no invalidation read since quiet_counter, and the */
	uint64		quiet_counter;	/* decoder then caught up: see wal_capture.c */
	/* the transaction being replayed */
	TransactionId txn_xid;
	bool		txn_skip;		/* already in the log (ends at or before skip_upto) */
	List	   *txn_add;		/* sources it registers (at its commit) */
	List	   *txn_remove;
} WalSpool;

/* The spool of this process's decoder (NULL in any other process). */
extern WalSpool *mesh_wal_spool;

extern void mesh_wal_caches_for_replay(WalSpool *spool);

/* The transactional logical message prefix of (de)registrations. */
#define MESH_WAL_MESSAGE_PREFIX "mesh"

extern void mesh_wal_capture_step(void);
extern void mesh_wal_capture_stop(bool drop_slot);
extern bool mesh_wal_wait_decoded(long timeout_ms);
extern void mesh_wal_require_caught_up(void);

/* wal_spool.c: the events waiting to be written, in memory or in a file. */
extern void wal_spool_add(WalSpool *spool, Oid source, char op, TimestampTz at,
						  Jsonb *key, Jsonb *row);
extern void wal_spool_spill(WalSpool *spool);
extern int64 wal_spool_count(WalSpool *spool);
extern void wal_spool_rewind(WalSpool *spool);
extern bool wal_spool_next(WalSpool *spool, WalEvent *ev);
extern void wal_spool_clear(WalSpool *spool);

#endif							/* MESH_WAL_CAPTURE_H */
