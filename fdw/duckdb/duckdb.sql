
-- mesh_duckdb: DuckDB embedded through libduckdb (fdw/duckdb).
CREATE FUNCTION mesh.duckdb_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_duckdb
	HANDLER mesh.fdw_handler VALIDATOR mesh.duckdb_validator;
