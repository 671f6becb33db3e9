/*
 * clickhouse_internal.h: shared declarations of the ClickHouse connector's
 * files (fdw/clickhouse).
 */
#ifndef MESH_CLICKHOUSE_INTERNAL_H
#define MESH_CLICKHOUSE_INTERNAL_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "connector.h"
#include "http.h"

/* Unix epoch offsets of PostgreSQL's day and microsecond counts (2000-01-01). */
#define EPOCH_OFFSET_DAYS ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE))
#define EPOCH_OFFSET_USEC (EPOCH_OFFSET_DAYS * USECS_PER_DAY)

/*
 * The last day ClickHouse 18.16 stores and prints in a Date or DateTime:
 * 2105-12-31 (newer servers go further; these bounds are safe for all).
 */
#define MAX_DATE_DAYS 49672
#define MAX_DATETIME_SECS ((int64) (MAX_DATE_DAYS + 1) * SECS_PER_DAY - 1)

/* One cached connection (lives in TopMemoryContext). */
typedef struct ChConn
{
	MESH_HTTP_CONN_HEAD;
	char	   *database;		/* server option database */
	bool		gzip;			/* ask for compressed answers */
} ChConn;

/* A ClickHouse column type, parsed from its text ("Nullable(Int32)"). */
typedef enum ChKind
{
	CH_INT8,
	CH_INT16,
	CH_INT32,
	CH_INT64,
	CH_UINT8,
	CH_UINT16,
	CH_UINT32,
	CH_UINT64,
	CH_INT_WIDE,				/* Int128/256, UInt128/256 */
	CH_FLOAT32,
	CH_FLOAT64,
	CH_DECIMAL,
	CH_BOOL,
	CH_STRING,
	CH_FIXEDSTRING,
	CH_DATE,
	CH_DATE32,
	CH_DATETIME,
	CH_DATETIME64,
	CH_UUID,
	CH_ENUM8,
	CH_ENUM16,
	CH_IPV4,
	CH_IPV6,
	CH_ARRAY,
	CH_OTHER					/* Tuple, Map, Nested, JSON...: read as text */
} ChKind;

typedef struct ChType
{
	ChKind		kind;
	bool		nullable;
	int			precision;		/* Decimal */
	int			scale;			/* Decimal; DateTime64 precision */
	int			length;			/* FixedString */
	int			nenum;
	char	  **enum_names;
	int		   *enum_values;
	struct ChType *elem;		/* Array */
	char	   *text;			/* as ClickHouse spells it, without Nullable() */
} ChType;

/* A remote column as system.columns describes it. */
typedef struct ChRemoteColumn
{
	char	   *name;
	ChType	   *type;
} ChRemoteColumn;

/* clickhouse.c: requests */
extern void ch_raise(ChConn *cc, long status, const char *body, const char *what)
			pg_attribute_noreturn();
extern char *ch_path(ChConn *cc, const char *settings);
extern void ch_request(ChConn *cc, const char *sql, const char *settings, const char *what,
					   MeshHttpRequest *req);
extern void ch_check_answer(ChConn *cc, MeshHttpResponse *resp, const char *what);
extern void ch_query(ChConn *cc, const char *sql, const char *settings, const char *what,
					 MeshHttpResponse *resp);
extern void ch_insert(ChConn *cc, const char *insert_sql, const char *data, size_t len,
					  const char *what);
extern List *ch_remote_columns(ChConn *cc, const char *database, const char *table,
							   bool *exists);
extern char *ch_error_text(const char *body);

/* clickhouse_sql.c: SQL text, escaping, TSV */
extern void ch_append_ident(StringInfo buf, const char *name);
extern void ch_append_literal(StringInfo buf, const char *s, size_t len);
extern char *ch_qualified_name(const char *database, const char *table);
extern const char *ch_table_database(ChConn *cc, MeshTable *table);
extern const char *ch_server_database(Oid relid);
extern const char *ch_table_name(MeshTable *table);
extern const char *ch_column_name(MeshColumn *col);
extern void ch_append_double(StringInfo buf, double v);
extern int	ch_tsv_split(char *line, size_t len, char **fields, size_t *lens, int max);
extern bool ch_line_is_exception(const char *line, size_t len);

/* a / b rounded towards minus infinity */
static inline int64
ch_floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* clickhouse_values.c: PostgreSQL values for ClickHouse */
extern void ch_encode_text(StringInfo buf, ChType *t, Oid pgtype, const char *value,
						   const char *column);
extern void ch_encode_datum(StringInfo buf, ChType *t, MeshColumn *col, Datum value,
							bool isnull);
extern void ch_sql_value(StringInfo buf, ChType *t, Oid pgtype, const char *value,
						 const char *column);

/* clickhouse_types.c: type text, values read back */
extern ChType *ch_parse_type(const char *text);
extern const char *ch_pg_type_for(ChType *t, bool *supported);
extern char *ch_remote_to_pg_text(ChType *t, Oid pgtype, char *value, size_t len);
extern bool ch_epoch_from_text(const char *s, size_t len, int64 *usec);
extern bool ch_parse_iso(const char *s, size_t len, bool date_only, bool tz, bool strict,
						 int64 *usec);
extern char *ch_array_to_pg(const char *s, size_t len);

/* clickhouse_quals.c: qual pushdown */
typedef enum ChQualKind
{
	CHQ_NONE,
	CHQ_INT,
	CHQ_FLOAT,
	CHQ_NUMERIC,
	CHQ_TEXT,
	CHQ_BOOL,
	CHQ_DATE,
	CHQ_TIMESTAMP,
	CHQ_UUID
} ChQualKind;

typedef enum ChCond
{
	CH_COND_SOME,					/* a condition was appended */
	CH_COND_TRUE,					/* always true (or not rendered: a superset) */
	CH_COND_FALSE					/* never true */
} ChCond;

extern ChQualKind ch_type_kind(Oid typid);
extern bool ch_is_datetime64(MeshColumn *col);
extern bool ch_column_is_c(MeshTable *t, AttrNumber att);
extern char *ch_colref(MeshColumn *col);
extern void ch_plan_scan(MeshScanPlan *plan);
extern ChCond ch_render_qual(StringInfo out, MeshTable *t, MeshQual *q);

/* clickhouse_deparse.c: SELECT text, upper pushdown */
typedef enum ChFieldRole
{
	CHF_NONE,					/* a placeholder ("SELECT 1" when no column is used) */
	CHF_COLUMN,					/* a value of column col (its type) */
	CHF_INT8,					/* count, sum of int2/int4 */
	CHF_NUMERIC,				/* sum of int8/numeric */
	CHF_AVG_SUM,				/* avg: the sum (numeric) ... */
	CHF_AVG_COUNT,				/* ... and the count of the next field */
	CHF_BUCKET_S,				/* date_bin bucket start, epoch seconds */
	CHF_BUCKET_US				/* date_bin bucket start, epoch microseconds */
} ChFieldRole;

/* One field of an answer row and where its value goes. */
typedef struct ChField
{
	ChFieldRole role;
	int			target;			/* attnum - 1 (plain scan) or output index */
	MeshColumn *col;			/* CHF_COLUMN */
	bool		is_array;		/* col is an array: convert ClickHouse's [..] */
} ChField;

typedef struct ChSelect
{
	char	   *sql;			/* the statement, without FORMAT */
	bool		empty;			/* a pushed qual is never true: no rows */
	bool		aggregating;	/* fields fill upper outputs, not columns */
	int			nfields;		/* fields per row of the answer */
	ChField    *fields;
} ChSelect;

extern bool ch_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern ChSelect *ch_deparse_scan(ChConn *cc, MeshScan *scan, bool for_explain);

/* clickhouse_scan.c */
extern void ch_begin_scan(MeshScan *scan);
extern bool ch_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void ch_end_scan(MeshScan *scan);
extern char *ch_explain_scan(MeshScan *scan);
extern Datum ch_field_datum(MeshColumn *col, bool is_array, char *data, size_t len);

/* clickhouse_modify.c */
extern int	ch_row_identity(MeshTable *table, AttrNumber *attnums);
extern void ch_begin_modify(MeshModify *m);
extern void ch_modify_row(MeshModify *m);
extern void ch_end_modify(MeshModify *m);

/* clickhouse_execute.c */
extern List *ch_execute(void *conn, const char *request, Jsonb *params);

/* clickhouse_import.c */
extern List *ch_import_schema(void *conn, MeshServerConfig *config, const char *remote_schema,
							  const char *local_schema, List *options);

/* clickhouse_sink.c */
extern const MeshSinkOps ch_sink_ops;
extern void ch_fetch_request(void *conn, MeshRoute *route, int n, char ***keys,
							 MeshHttpRequest *req);
extern void ch_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys,
							MeshHttpStream *answer, char ***rows);
extern int	ch_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);

#endif							/* MESH_CLICKHOUSE_INTERNAL_H */
