/*
 * connector.h: the one interface every mesh backend kind implements.
 *
 * A backend kind is a MeshConnector: a declarative table of options plus
 * capability tables.  The shared glue (fdw_scan.c, fdw_modify.c, option.c,
 * connection.c, health.c, execute.c, http_conn.c) turns it into a foreign
 * data wrapper mesh_<kind>, option validation, a connection cache, health
 * checks and mesh.execute.
 * Capabilities a kind lacks are NULL tables (scan, modify, ping, vector,
 * stream) or NULL callbacks.
 */
#ifndef MESH_CONNECTOR_H
#define MESH_CONNECTOR_H

#include "postgres.h"

#include "access/attnum.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "mesh_export.h"

/* Where an option may appear (bit mask). */
#define MESH_OPT_SERVER		0x01
#define MESH_OPT_TABLE		0x02
#define MESH_OPT_COLUMN		0x04
#define MESH_OPT_MAPPING	0x08
#define MESH_OPT_ROUTE		0x10	/* mesh.replicate(..., options) */

typedef enum MeshOptionType
{
	MESH_OPTTYPE_STRING,
	MESH_OPTTYPE_INT,			/* integer within [min, max] */
	MESH_OPTTYPE_BOOL,
	MESH_OPTTYPE_ENUM,			/* one of the '|'-separated words of allowed */
	MESH_OPTTYPE_URL			/* an http:// or https:// URL without userinfo */
} MeshOptionType;

typedef struct MeshOption MeshOption;

/*
 * One option a connector accepts, declared with designated initialisers:
 *
 *     {.name = "port", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT,
 *      .min = 1, .max = 65535},
 *
 * The core checks the type and range, where the option may appear and, for
 * a secret, that it is in a user mapping; check (optional) then sees the
 * value alone, for what a type cannot say.  A secret is an option declared
 * .secret = true: nothing else makes one, and no secret is ever printed.
 */
struct MeshOption
{
	const char *name;
	int			where;			/* MESH_OPT_* mask */
	MeshOptionType type;
	bool		secret;			/* only in a user mapping; never printed */
	int64		min;			/* INT: range; STRING: minimum length */
	int64		max;
	const char *allowed;		/* MESH_OPTTYPE_ENUM: "a|b|c" */
	void		(*check) (const MeshOption *option, const char *value);	/* ereports */
};

/*
 * Everything needed to talk to one server as one user: the server's options
 * and its user mapping's options (secrets included: never print this).
 */
typedef struct MeshServerConfig
{
	Oid			serverid;
	Oid			umid;			/* InvalidOid when no user mapping exists */
	Oid			userid;			/* the role the connection acts for */
	char	   *username;		/* its name, for errors */
	bool		superuser;		/* whether it is a superuser (at config time) */
	bool		server_files;	/* userid may read and write the hub's files
								 * (superuser, or pg_read_server_files and
								 * pg_write_server_files) */
	char	   *servername;
	const struct MeshConnector *connector;
	List	   *server_options; /* DefElem */
	List	   *mapping_options;	/* DefElem, may hold secrets */
	int			timeout_ms;		/* every network call is bounded by this */
	uint32		server_hash;	/* syscache hashes, for invalidation */
	uint32		mapping_hash;
} MeshServerConfig;

/* One column of a foreign table. */
typedef struct MeshColumn
{
	AttrNumber	attnum;
	char	   *name;			/* NULL for a dropped column */
	Oid			typid;
	int32		typmod;
	List	   *options;		/* DefElem */
	/* I/O, filled by mesh_table_prepare_io() */
	Oid			typioparam;
	FmgrInfo	in_func;
	FmgrInfo	out_func;
} MeshColumn;

/* A foreign table as the connector sees it. */
typedef struct MeshTable
{
	Oid			relid;
	char	   *relname;
	List	   *options;		/* DefElem: the table's options */
	int			ncolumns;		/* = natts, including dropped ones */
	MeshColumn *columns;		/* columns[attnum - 1] */
	bool		io_ready;
	MemoryContext cxt;			/* when cached: lives as long as the entry */
	void	   *private;		/* the connector's parsed form, cached with it */
} MeshTable;

/* Comparisons the glue recognises as "column op value". */
typedef enum MeshQualOp
{
	MESH_QUAL_EQ,
	MESH_QUAL_NE,
	MESH_QUAL_LT,
	MESH_QUAL_LE,
	MESH_QUAL_GT,
	MESH_QUAL_GE,
	MESH_QUAL_IN,				/* column = ANY(array value) */
	MESH_QUAL_LIKE,				/* column LIKE pattern (text) */
	MESH_QUAL_IS_NULL,
	MESH_QUAL_IS_NOT_NULL
} MeshQualOp;

/*
 * A candidate qual.  At plan time the connector sets 'pushed' on those it
 * evaluates remotely; every qual is still rechecked locally, so pushing is
 * an optimisation, never a change of results.  At execution 'value' holds
 * the evaluated Const or Param (known = true); in EXPLAIN without ANALYZE a
 * Param is not evaluated (known = false) and is rendered as $paramid.
 */
typedef struct MeshQual
{
	AttrNumber	attnum;
	MeshQualOp	op;
	Oid			valtype;		/* type of value (array type for IN) */
	Oid			collid;			/* the comparison's collation (InvalidOid: none);
								 * set at plan time only */
	bool		pushed;
	bool		exact;			/* pushed, and the backend evaluates it exactly as
								 * PostgreSQL does: needed for LIMIT/aggregate
								 * pushdown (the local recheck cannot undo those) */
	bool		known;
	int			paramid;		/* when the value is a Param */
	char	   *display;		/* SQL text of an unevaluated value (EXPLAIN) */
	Datum		value;
	bool		isnull;
} MeshQual;

/* Aggregates the glue can push down (PostgreSQL semantics). */
typedef enum MeshAggFunc
{
	MESH_AGG_COUNT_STAR,		/* count(*) */
	MESH_AGG_COUNT,				/* count(col): non-null values */
	MESH_AGG_SUM,
	MESH_AGG_AVG,
	MESH_AGG_MIN,
	MESH_AGG_MAX
} MeshAggFunc;

typedef enum MeshOutputKind
{
	MESH_OUT_COLUMN,			/* a grouping column */
	MESH_OUT_BUCKET,			/* date_bin(bucket, col, '1970-01-01 00:00+00') */
	MESH_OUT_AGG				/* agg(col) */
} MeshOutputKind;

/* One output column of an aggregating scan. */
typedef struct MeshOutput
{
	MeshOutputKind kind;
	AttrNumber	attnum;			/* the column; 0 for count(*) */
	MeshAggFunc agg;			/* MESH_OUT_AGG */
	int64		bucket_us;		/* MESH_OUT_BUCKET: width in microseconds */
	Oid			typid;			/* PostgreSQL type of the output */
} MeshOutput;

/* A sort key: an attnum (plain scans) or an output index + 1 (aggregating). */
typedef struct MeshSortKey
{
	int			ref;
	bool		desc;
	bool		nulls_first;
} MeshSortKey;

/*
 * What the query does above the scan, offered to plan_upper.  noutputs = 0
 * is a plain scan (rows as columns), else the scan groups by the
 * MESH_OUT_COLUMN/BUCKET outputs (all of them) and computes the aggregates.
 * Sort keys on text are offered only when the column's collation is "C"
 * (or the type is not collatable), so a bytewise remote sort is exact.
 */
typedef struct MeshUpper
{
	int			noutputs;
	MeshOutput *outputs;
	int			nsort;
	MeshSortKey *sort;
	int64		limit;			/* -1: none */
	int64		offset;
} MeshUpper;

/* Planning a scan: no network round trip is allowed here. */
typedef struct MeshScanPlan
{
	MeshTable  *table;
	int			nquals;
	MeshQual   *quals;			/* values known only for Consts */
	double		rows;			/* connector's row estimate */
} MeshScanPlan;

/* A column for IMPORT FOREIGN SCHEMA (see mesh_import_statement). */
typedef struct MeshImportColumn
{
	char	   *name;
	char	   *type;			/* PostgreSQL type name, e.g. "bigint" */
	List	   *options;		/* DefElem with String values, column options */
	bool		not_null;
} MeshImportColumn;

/* An executing scan. */
typedef struct MeshScan
{
	MeshTable  *table;
	void	   *conn;
	int			nquals;
	MeshQual   *quals;			/* only pushed quals */
	MeshUpper  *upper;			/* sort/limit/aggregation pushed down, or NULL;
								 * with upper->noutputs > 0 next_row fills
								 * values[i]/nulls[i] per output i */
	bool	   *wanted;			/* wanted[attnum - 1]: column is used */
	void	   *state;			/* the connector's */
	int64		requests;		/* round trips, shown by EXPLAIN ANALYZE */
	int64		bytes_read;		/* bytes received, shown by EXPLAIN ANALYZE when set */
	MemoryContext scan_cxt;		/* lives as long as the scan: begin/end run in it */
	MemoryContext row_cxt;		/* reset before each next_row, which runs in it */
} MeshScan;

typedef enum MeshModifyOp
{
	MESH_MODIFY_INSERT,
	MESH_MODIFY_UPDATE,
	MESH_MODIFY_DELETE
} MeshModifyOp;

/*
 * A write through the foreign table.  new_values/new_nulls (insert,
 * update) and old_values/old_nulls (update, delete; only the row identity
 * columns are set) are indexed by attnum - 1.
 */
typedef struct MeshModify
{
	MeshTable  *table;
	void	   *conn;
	MeshModifyOp op;
	Datum	   *new_values;
	bool	   *new_nulls;
	Datum	   *old_values;
	bool	   *old_nulls;
	void	   *state;			/* the connector's */
	int64		requests;
} MeshModify;

typedef struct MeshPing MeshPing;

/*
 * A non-blocking ping.  ping_start connects without blocking and sets
 * fd/want_write, or finishes at once (done).  The glue polls fd and calls
 * ping_continue on readiness until done; ping_finish frees the connector's
 * state whatever happened (also after a timeout).  These callbacks must not
 * ereport: failures go to ok = false and error.
 */
struct MeshPing
{
	MeshServerConfig *config;
	int			fd;
	bool		want_write;
	bool		done;
	bool		ok;
	char	   *version;		/* palloc'd */
	char	   *error;			/* palloc'd */
	void	   *state;
};

/*
 * Replication.  A route fans one source table out to one target server.
 * Values travel in PostgreSQL text form, aligned with route->columns (the
 * source table's current columns); NULL pointers are SQL NULLs.
 */
typedef struct MeshRoute
{
	int64		id;
	Oid			source;
	char	   *source_schema;
	char	   *source_name;
	char	   *target;
	const char *role;
	Jsonb	   *options;
	MeshServerConfig *config;
	Oid			owner;			/* the route's owner: reads the source as this role */
	int			ncolumns;
	char	  **columns;
	Oid		   *types;
	char	  **type_names;		/* schema-qualified SQL names of types */
	AttrNumber *attnums;		/* the source's attribute numbers */
	int			nkeys;
	int		   *key_index;		/* primary key columns, as indexes into columns */
	void	   *private;		/* the connector's per-route cache */
	MemoryContext cxt;			/* lives as long as the route: for private and state */
} MeshRoute;

/*
 * A captured change: op is 'I' insert, 'U' update, 'D' delete, 'T' truncate.
 * id orders the changes of a key (versioned targets use it as the version);
 * a backfill row ('U') carries an id below every event that follows the
 * copy and at or above every event the copy already reflects.
 */
typedef struct MeshEvent
{
	int64		id;
	char		op;
	char	  **values;			/* ncolumns values; for 'D' only the key columns */
	int64		xid;			/* capturing transaction; 0 for a backfill row */
	int64		captured_at;	/* TimestampTz of the capture; 0 for a backfill row */
} MeshEvent;

typedef enum MeshErrorClass
{
	MESH_ERROR_TRANSIENT,		/* retry with backoff */
	MESH_ERROR_PERMANENT		/* dead-letter */
} MeshErrorClass;

/*
 * The sink engine (sink_engine.c).  A sink writes the last state of each
 * key and reports an outcome per item; the core does the rest (TRUNCATE
 * segments, last change per key, batches, dead letters, retries, cursor).
 */
typedef enum MeshItemStatus
{
	MESH_ITEM_UNKNOWN = 0,		/* not acknowledged (lost, timeout, not sent):
								 * retried; the default of every item */
	MESH_ITEM_ACKED,			/* the target acknowledged the write */
	MESH_ITEM_REFUSED			/* refused for good: a dead letter */
} MeshItemStatus;

typedef struct MeshItemOutcome
{
	MeshItemStatus status;
	char	   *reason;			/* refused or unknown: the target's words */
} MeshItemOutcome;

/*
 * One item of an upsert or remove: the last change of one key.  values are
 * in text form aligned with route->columns (for a remove only the key
 * columns are set); event_id is the version for versioned targets; op is
 * the last event's op ('I', 'U' or 'D'; with keep_every_change also 'T');
 * first says no earlier change of this key came in the same segment (an
 * 'I' then is most likely new); event is that change itself (its xid and
 * capture time, for sinks that publish them).
 */
typedef struct MeshSinkRow
{
	int64		event_id;
	char		op;
	bool		first;
	char	  **values;
	const MeshEvent *event;
} MeshSinkRow;

typedef struct MeshSinkOps
{
	/* items per upsert or remove call; 0: no limit */
	int			max_batch;

	/* prepare only checks options: it gets no connection (conn is NULL) */
	bool		prepare_offline;

	/*
	 * A log, not a state: every event is one item, passed to upsert in
	 * order (op 'I', 'U', 'D' or 'T'; values NULL for 'T'), never collapsed
	 * per key or split at TRUNCATE; remove and truncate are not used.  The
	 * cursor stops at the first event that is unknown, and a retry sends
	 * every event from there again, in order (those after it may land
	 * twice: at-least-once).
	 */
	bool		keep_every_change;

	/*
	 * Validate a new route's options and make the target ready (table,
	 * index, collection); called by mesh.replicate.  Ereports.
	 */
	void		(*prepare) (void *conn, MeshRoute *route);

	/*
	 * Write rows[0..n) (distinct keys, any order) and set out[i] for each:
	 * every out[i] starts MESH_ITEM_UNKNOWN.  Ereport instead for a failure
	 * of the whole call: a transient one leaves the unset items unknown, a
	 * permanent one makes the core split the call down to the refused item.
	 */
	void		(*upsert) (void *conn, MeshRoute *route, MeshSinkRow *rows, int n,
						   MeshItemOutcome *out);
	/* Delete keys[0..n) (a missing key is acknowledged); as upsert. */
	void		(*remove) (void *conn, MeshRoute *route, MeshSinkRow *keys, int n,
						   MeshItemOutcome *out);
	/* Delete every row of the route's target; out is one item. */
	void		(*truncate) (void *conn, MeshRoute *route, MeshItemOutcome *out);

	/*
	 * Optional: a delivery batch, for targets whose writes only hold once
	 * committed (a transaction) or that may be held only while in use (a
	 * file lock).  The engine calls begin_batch before the first upsert,
	 * remove or truncate of a chunk of nevents events (nevents equal to
	 * mesh.batch_size: more follow at once), and end_batch after the last
	 * with ok true (commit) or, when a call of the batch ereported, ok false
	 * (undo; must not ereport).  The outcomes the calls report are
	 * provisional: an item is acknowledged only once end_batch(ok = true)
	 * returned; if begin_batch or end_batch ereports, or a call does, every
	 * item of the batch is unknown.  After a
	 * permanent error the engine delivers the chunk again with one batch per
	 * call, to split it down to the refused item.  Both ereport on failure
	 * (a failed begin_batch is never the items' fault: they stay unknown).
	 */
	void		(*begin_batch) (void *conn, MeshRoute *route, int nevents);
	void		(*end_batch) (void *conn, MeshRoute *route, bool ok);

	/*
	 * Optional, for targets with a schema: give the target route column c
	 * (one the source gained by ALTER TABLE) unless it has it.  Called when
	 * the route option add_columns is true (declare it), in a transaction
	 * (catalog access allowed); ereports.
	 */
	void		(*add_column) (void *conn, MeshRoute *route, int c);
} MeshSinkOps;

struct MeshHttp;
struct MeshHttpRequest;
struct MeshHttpResponse;
struct MeshHttpStream;
struct MeshVectorOps;			/* vector.h */

/*
 * Streams: a source mesh.subscribe consumes (src/subscribe*.c).  A topic
 * has partitions 0..n-1 (a source without partitions has one, partition
 * 0); a message's position is (partition, offset), offsets grow within a
 * partition.  The core stores the next offset to read per partition in its
 * own tables, moved in the transaction that applied the messages before it,
 * and acknowledges to the source only after that commit.
 */
typedef struct MeshStreamMessage
{
	int32		partition;
	int64		offset;
	char	   *key;			/* palloc'd, NUL-terminated; NULL: no key */
	size_t		key_len;
	char	   *value;			/* palloc'd, NUL-terminated; NULL: a tombstone */
	size_t		value_len;
	char	   *headers;		/* a JSON object text, NULL: no headers */
} MeshStreamMessage;

/*
 * A stream capability.  Every callback ereports on failure (transient ones
 * with ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION); none runs inside a
 * transaction the core needs (no catalog access but through config).
 */
typedef struct MeshStreamOps
{
	/* mesh.subscribe: ereport unless topic is a valid name for the source */
	void		(*check_topic) (const char *topic);

	/*
	 * The number of partitions of topic (-1: no such topic) and, palloc'd,
	 * each one's first offset and end offset (that of the next message to
	 * come), through conn, a cached connection (mesh_get_connection).
	 */
	int			(*bounds) (void *conn, const char *topic, int64 **first, int64 **end);

	/*
	 * A consumer of topic for consumer group 'group', reading nothing yet;
	 * what it holds is freed by close or when CurrentMemoryContext (at the
	 * call) is reset, whichever comes first.
	 */
	void	   *(*open) (MeshServerConfig *config, const char *topic, const char *group);

	/* The topic's partitions now (-1: no such topic). */
	int			(*partitions) (void *consumer);

	/*
	 * For each partition p < nparts with !known[p], set next[p]: the
	 * group's committed offset, else the first offset (start "earliest") or
	 * the end (start "latest"); then read every partition from next[p].
	 */
	void		(*start) (void *consumer, int nparts, int64 *next, const bool *known,
						  const char *start);

	/*
	 * Fill msgs with at most max messages, waiting at most wait_ms for the
	 * first (interruptible: CHECK_FOR_INTERRUPTS); 0 when none came.  Errors
	 * the source recovers from by itself are logged, not raised.
	 */
	int			(*poll) (void *consumer, MeshStreamMessage *msgs, int max, int wait_ms);

	/*
	 * Acknowledge to the source (best effort, for monitoring and a later
	 * consumer of the group): next[p] for each partition with touched[p].
	 */
	void		(*commit) (void *consumer, int nparts, const int64 *next, const bool *touched);

	/* Free the consumer at once. */
	void		(*close) (void *consumer);
} MeshStreamOps;

/*
 * The scan capability: a readable foreign table.  import_schema is optional
 * (IMPORT FOREIGN SCHEMA), as is plan_upper (sort, limit, aggregates).
 */
typedef struct MeshScanOps
{
	/* mark the quals the backend evaluates; no network round trip here */
	void		(*plan_scan) (MeshScanPlan *plan);
	void		(*begin_scan) (MeshScan *scan);
	bool		(*next_row) (MeshScan *scan, Datum *values, bool *nulls);
	void		(*end_scan) (MeshScan *scan);
	char	   *(*explain_scan) (MeshScan *scan);	/* the remote request */
	char	   *(*explain_counts) (MeshScan *scan); /* optional, NULL: EXPLAIN ANALYZE's detail */

	/*
	 * Upper pushdown: return true when the backend computes upper exactly
	 * (every qual of plan is pushed and exact at this point).  The connector
	 * may lower upper->limit's cost estimate through plan->rows.
	 */
	bool		(*plan_upper) (MeshScanPlan *plan, MeshUpper *upper);

	/*
	 * IMPORT FOREIGN SCHEMA: a List of CREATE FOREIGN TABLE statements
	 * (build each with mesh_import_statement); the core applies LIMIT TO and
	 * EXCEPT.  remote_schema is the backend's namespace (database,
	 * measurement set, ...), as the connector documents.
	 */
	List	   *(*import_schema) (void *conn, MeshServerConfig *config,
								  const char *remote_schema, const char *local_schema,
								  List *options);
} MeshScanOps;

/* The modify capability: INSERT/UPDATE/DELETE through a foreign table. */
typedef struct MeshModifyOps
{
	int			(*row_identity) (MeshTable *table, AttrNumber *attnums);	/* max 4 */
	void		(*begin_modify) (MeshModify *modify);
	void		(*modify_row) (MeshModify *modify); /* may buffer */
	void		(*end_modify) (MeshModify *modify); /* flushes */
} MeshModifyOps;

/* The health capability: a non-blocking ping (see MeshPing). */
typedef struct MeshPingOps
{
	void		(*ping_start) (MeshPing *ping);
	void		(*ping_continue) (MeshPing *ping);
	void		(*ping_finish) (MeshPing *ping);
} MeshPingOps;

struct MeshHttpSetup;			/* http.h */

/*
 * A backend kind: a small core plus capability tables.  A capability exists
 * when its table is set.  An HTTP kind sets http_setup (http.h) and gets
 * from it, for the members it leaves NULL: connect and disconnect (a
 * MeshHttpConn), ping and classify_error (5xx and 429 transient).
 */
typedef struct MeshConnector
{
	const char *kind;			/* "redis": FDW mesh_redis */
	const char *fdw_name;		/* NULL: "mesh_" kind; else an existing FDW */
	const MeshOption *options;	/* terminated by { NULL } */

	/* connection: connect ereports on failure, freeing what it made */
	void	   *(*connect) (MeshServerConfig *config);
	void		(*disconnect) (void *conn);

	/* transient (retry with backoff) or permanent (dead letter) */
	MeshErrorClass (*classify_error) (int code, const char *message);

	/*
	 * Optional check of a whole option list at CREATE/ALTER time (place is
	 * MESH_OPT_SERVER, ...), after each option passed its declaration, as
	 * the role running the command (GetUserId()).  Ereports.
	 */
	void		(*validate) (int place, List *options);

	/* Optional: define the kind's settings (GUCs), called from _PG_init. */
	void		(*define_settings) (void);

	/* mesh.execute: the backend's own language; returns a List of Jsonb * */
	List	   *(*execute) (void *conn, const char *request, Jsonb *params);

	/* capabilities */
	const struct MeshHttpSetup *http_setup;	/* an HTTP kind: see above */
	const struct MeshObjectStore *object_store;	/* an object store: object_store.h */
	const MeshPingOps *ping;	/* health (mesh.health) */
	const MeshScanOps *scan;	/* readable foreign tables */
	const MeshModifyOps *modify;	/* writable foreign tables */

	/* Replication: the sink engine's side (sink_engine.c), or NULL. */
	const MeshSinkOps *sink;

	/*
	 * Verify.  fetch_rows fills rows[i] with the target's values (text form,
	 * aligned with route->columns) for keys[i], or NULL when missing.
	 * scan_keys returns the next batch of keys present in the target (at
	 * most 'max'), 0 at the end; *state is NULL at the start and must be
	 * allocated in route->cxt (each batch's memory is freed after use).
	 */
	void		(*fetch_rows) (void *conn, MeshRoute *route, int n, char ***keys, char ***rows);
	int			(*scan_keys) (void *conn, MeshRoute *route, void **state, int max, char ***keys);

	/*
	 * Verify (optional): rewrite a source row's values (text, aligned with
	 * route->columns) in place to what the target holds after a conversion
	 * the route's options ask for (e.g. a time rounded to the write
	 * precision); verify compares fetch_rows' answer with that.
	 */
	void		(*expected_values) (void *conn, MeshRoute *route, char **values);

	/*
	 * Verify reads over HTTP, split so mesh.query_all can run several at
	 * once (optional; with them, fetch_rows can be mesh_http_fetch_rows):
	 * fetch_request fills the one request that reads keys[0..n) (its
	 * non-2xx answers come back to fetch_answer); fetch_answer reads that
	 * answer, streamed or already complete, into rows as fetch_rows does,
	 * raising the backend's error if the answer is one.  Only for kinds
	 * with http_setup: the connection's client is its MESH_HTTP_CONN_HEAD's.
	 */
	void		(*fetch_request) (void *conn, MeshRoute *route, int n, char ***keys,
								  struct MeshHttpRequest *req);
	void		(*fetch_answer) (void *conn, MeshRoute *route, int n, char ***keys,
								 struct MeshHttpStream *answer, char ***rows);

	/* The vector layer (vector.h): set by vector stores, for mesh.vector_search. */
	const struct MeshVectorOps *vector;

	/* A stream source for mesh.subscribe, or NULL. */
	const MeshStreamOps *stream;
} MeshConnector;

/* registry.c */
extern const MeshConnector *mesh_connector_by_kind(const char *kind);
extern const MeshConnector *mesh_connector_by_fdw(const char *fdwname);
extern const MeshConnector *mesh_connector_for_server(Oid serverid);
extern const MeshConnector *const *mesh_connectors(int *n);
extern char *mesh_fdw_names_with(size_t field);
extern void *mesh_connector_connect(const MeshConnector *c, MeshServerConfig *config);
extern void mesh_connector_disconnect(const MeshConnector *c, void *conn);
extern const MeshPingOps *mesh_connector_ping(const MeshConnector *c);
extern MeshErrorClass mesh_connector_classify(const MeshConnector *c, int code,
											  const char *message);

/* option.c */
extern const MeshOption *mesh_find_option(const MeshConnector *c, const char *name);
extern void mesh_validate_option(const MeshConnector *c, int place, const char *name,
								 const char *value);
extern const char *mesh_defelem_get(List *options, const char *name);
extern const char *mesh_config_get(const MeshServerConfig *config, const char *name,
								   const char *dflt);
extern int	mesh_config_get_int(const MeshServerConfig *config, const char *name, int dflt);
extern bool mesh_role_has_server_files(Oid roleid);

/* connection.c */
extern MeshServerConfig *mesh_server_config(Oid serverid, Oid userid);
extern void *mesh_get_connection(MeshServerConfig *config);
extern void mesh_connection_broken(MeshServerConfig *config);
extern void mesh_connection_discard(MeshServerConfig *config);
extern void mesh_connection_begin_use(MeshServerConfig *config);
extern void mesh_connection_end_use(MeshServerConfig *config);

/* route.c */
extern const char *mesh_route_option(MeshRoute *route, const char *name, const char *dflt);
extern const char *mesh_jsonb_option(Jsonb *options, const char *name, const char *dflt);
extern int	mesh_route_option_columns(MeshRoute *route, const char *option, int **columns);
extern int	mesh_route_column_index(MeshRoute *route, const char *name);
extern char *mesh_route_column_list(MeshRoute *route);

/* cache.c */
extern MeshTable *mesh_table_get(Oid relid, Oid *serverid, const MeshConnector **connector);
extern MeshServerConfig *mesh_server_config_cached(Oid serverid, Oid userid);

/* fdw_import.c */
extern char *mesh_import_statement(const char *server, const char *local_schema,
								   const char *table, List *columns, List *table_options);

/* table.c */
extern MeshTable *mesh_table_open(Oid relid);
extern void mesh_table_prepare_io(MeshTable *table);
extern MeshColumn *mesh_table_column(MeshTable *table, const char *name);
extern void *mesh_table_parsed(MeshTable *table, void *(*parse) (MeshTable *table));
extern const char *mesh_column_option(MeshColumn *col, const char *name);
extern Datum mesh_value_from_text(MeshColumn *col, const char *data, size_t len);
extern Datum mesh_value_from_cstring(MeshColumn *col, const char *data, size_t len);
extern char *mesh_value_to_text(MeshColumn *col, Datum value, size_t *len);
extern const char *mesh_qual_op_name(MeshQualOp op);

#endif							/* MESH_CONNECTOR_H */
