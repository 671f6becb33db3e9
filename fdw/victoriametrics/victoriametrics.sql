
-- mesh_victoriametrics: VictoriaMetrics (fdw/victoriametrics); reads through
-- the Prometheus query API, as mesh_prometheus.
CREATE FUNCTION mesh.victoriametrics_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_victoriametrics
	HANDLER mesh.fdw_handler VALIDATOR mesh.victoriametrics_validator;
