-- mesh_influxdb: InfluxDB 1.x (and 2.x through its v1 API) over HTTP (fdw/influxdb).
CREATE FUNCTION mesh.influxdb_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_influxdb
	HANDLER mesh.fdw_handler VALIDATOR mesh.influxdb_validator;
