/*
 * duckdb_api.h: the part of DuckDB's C API (1.x, duckdb.h) that mesh uses.
 *
 * libduckdb.so ships without a header in the package mesh fetches, so the
 * types and signatures are declared here from DuckDB's documented C API.
 * The library is opened with dlopen on first use (duckdb_lib.c: ddb_api),
 * by a DuckDB server (fdw/duckdb) or a Parquet object (object_parquet.c),
 * so preloading mesh never maps it and a missing library is an error on
 * those uses only.  Every function is reached through the DdbApi table of
 * pointers.  This header needs no PostgreSQL header (bench/duckdb_copy.c
 * uses it alone); mesh's helpers around it are in duckdb_lib.h.
 *
 * Layouts that must match the library exactly: duckdb_result (six
 * pointer-sized fields; callers allocate it and duckdb_fetch_chunk takes it
 * by value) and duckdb_string_t (16 bytes, inlined up to 12 bytes).
 */
#ifndef MESH_DUCKDB_API_H
#define MESH_DUCKDB_API_H

#include <stdint.h>
#include <stdbool.h>

typedef uint64_t idx_t;

typedef enum duckdb_state
{
	DuckDBSuccess = 0,
	DuckDBError = 1
} duckdb_state;

/* duckdb_type values used by mesh (the enum of duckdb.h) */
#define DUCKDB_TYPE_BOOLEAN		1
#define DUCKDB_TYPE_TINYINT		2
#define DUCKDB_TYPE_SMALLINT	3
#define DUCKDB_TYPE_INTEGER		4
#define DUCKDB_TYPE_BIGINT		5
#define DUCKDB_TYPE_UTINYINT	6
#define DUCKDB_TYPE_USMALLINT	7
#define DUCKDB_TYPE_UINTEGER	8
#define DUCKDB_TYPE_UBIGINT		9
#define DUCKDB_TYPE_FLOAT		10
#define DUCKDB_TYPE_DOUBLE		11
#define DUCKDB_TYPE_HUGEINT		16
#define DUCKDB_TYPE_VARCHAR		17
#define DUCKDB_TYPE_DECIMAL		19
typedef int duckdb_type;

/* Handles: each is one opaque pointer. */
typedef void *duckdb_database;
typedef void *duckdb_connection;
typedef void *duckdb_config;
typedef void *duckdb_prepared_statement;
typedef void *duckdb_appender;
typedef void *duckdb_data_chunk;
typedef void *duckdb_vector;
typedef void *duckdb_pending_result;

/* duckdb_pending_state */
#define DUCKDB_PENDING_RESULT_READY			0
#define DUCKDB_PENDING_RESULT_NOT_READY		1
#define DUCKDB_PENDING_ERROR				2
#define DUCKDB_PENDING_NO_TASKS_AVAILABLE	3

/* A query result: caller-allocated, freed with duckdb_destroy_result. */
typedef struct duckdb_result
{
	idx_t		deprecated_column_count;
	idx_t		deprecated_row_count;
	idx_t		deprecated_rows_changed;
	void	   *deprecated_columns;
	char	   *deprecated_error_message;
	void	   *internal_data;
} duckdb_result;

/* A VARCHAR/BLOB value in a vector. */
typedef struct duckdb_string_t
{
	union
	{
		struct
		{
			uint32_t	length;
			char		prefix[4];
			char	   *ptr;
		}			pointer;
		struct
		{
			uint32_t	length;
			char		inlined[12];
		}			inlined;
	}			value;
} duckdb_string_t;

/* The functions, loaded by name (duckdb_lib.c: the names, in this order). */
typedef struct DdbApi
{
	const char *(*library_version) (void);
	duckdb_state (*create_config) (duckdb_config *out);
	duckdb_state (*set_config) (duckdb_config config, const char *name, const char *option);
	void		(*destroy_config) (duckdb_config *config);
	duckdb_state (*open_ext) (const char *path, duckdb_database *out, duckdb_config config,
							  char **out_error);
	void		(*close) (duckdb_database *db);
	duckdb_state (*connect) (duckdb_database db, duckdb_connection *out);
	void		(*disconnect) (duckdb_connection *con);
	void		(*free) (void *ptr);

	duckdb_state (*query) (duckdb_connection con, const char *sql, duckdb_result *out);
	void		(*destroy_result) (duckdb_result *result);
	const char *(*result_error) (duckdb_result *result);
	idx_t		(*column_count) (duckdb_result *result);
	const char *(*column_name) (duckdb_result *result, idx_t col);
	duckdb_type (*column_type) (duckdb_result *result, idx_t col);
	idx_t		(*rows_changed) (duckdb_result *result);
	duckdb_data_chunk (*fetch_chunk) (duckdb_result result);
	void		(*destroy_data_chunk) (duckdb_data_chunk *chunk);
	idx_t		(*data_chunk_get_size) (duckdb_data_chunk chunk);
	duckdb_vector (*data_chunk_get_vector) (duckdb_data_chunk chunk, idx_t col);
	void	   *(*vector_get_data) (duckdb_vector vector);
	uint64_t   *(*vector_get_validity) (duckdb_vector vector);

	duckdb_state (*prepare) (duckdb_connection con, const char *sql,
							 duckdb_prepared_statement *out);
	const char *(*prepare_error) (duckdb_prepared_statement stmt);
	void		(*destroy_prepare) (duckdb_prepared_statement *stmt);
	idx_t		(*nparams) (duckdb_prepared_statement stmt);
	duckdb_state (*bind_parameter_index) (duckdb_prepared_statement stmt, idx_t *out,
										  const char *name);
	duckdb_state (*bind_varchar_length) (duckdb_prepared_statement stmt, idx_t idx,
										 const char *val, idx_t len);
	duckdb_state (*bind_int64) (duckdb_prepared_statement stmt, idx_t idx, int64_t val);
	duckdb_state (*bind_double) (duckdb_prepared_statement stmt, idx_t idx, double val);
	duckdb_state (*bind_boolean) (duckdb_prepared_statement stmt, idx_t idx, bool val);
	duckdb_state (*bind_null) (duckdb_prepared_statement stmt, idx_t idx);
	duckdb_state (*execute_prepared) (duckdb_prepared_statement stmt, duckdb_result *out);
	duckdb_state (*pending_prepared) (duckdb_prepared_statement stmt,
									  duckdb_pending_result *out);
	duckdb_state (*pending_prepared_streaming) (duckdb_prepared_statement stmt,
												duckdb_pending_result *out);
	int			(*pending_execute_task) (duckdb_pending_result pending);
	const char *(*pending_error) (duckdb_pending_result pending);
	duckdb_state (*execute_pending) (duckdb_pending_result pending, duckdb_result *out);
	void		(*destroy_pending) (duckdb_pending_result *pending);

	duckdb_state (*appender_create_ext) (duckdb_connection con, const char *catalog,
										 const char *schema, const char *table,
										 duckdb_appender *out);
	const char *(*appender_error) (duckdb_appender appender);
	duckdb_state (*appender_flush) (duckdb_appender appender);
	duckdb_state (*appender_close) (duckdb_appender appender);
	duckdb_state (*appender_destroy) (duckdb_appender *appender);
	duckdb_state (*appender_end_row) (duckdb_appender appender);
	duckdb_state (*append_varchar_length) (duckdb_appender appender, const char *val,
										   idx_t len);
	duckdb_state (*append_blob) (duckdb_appender appender, const void *data, idx_t len);
	duckdb_state (*append_null) (duckdb_appender appender);
} DdbApi;

/* A string_t's bytes and length. */
static inline const char *
ddb_string_data(duckdb_string_t *s, uint32_t *len)
{
	*len = s->value.inlined.length;
	return *len <= 12 ? s->value.inlined.inlined : s->value.pointer.ptr;
}

/* Is row i valid (not NULL) in a validity mask (NULL mask: all valid)? */
static inline bool
ddb_row_valid(const uint64_t *validity, idx_t i)
{
	return validity == NULL || (validity[i / 64] >> (i % 64)) & 1;
}

#endif							/* MESH_DUCKDB_API_H */
