
-- mesh_clickhouse: ClickHouse through its HTTP interface (fdw/clickhouse).
CREATE FUNCTION mesh.clickhouse_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_clickhouse
	HANDLER mesh.fdw_handler VALIDATOR mesh.clickhouse_validator;
