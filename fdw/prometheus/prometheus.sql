
-- mesh_prometheus: the Prometheus HTTP query API (fdw/prometheus); also
-- Thanos, Mimir and Cortex.  mesh.promql and mesh.promql_range serve every
-- server that answers that API (mesh_prometheus, mesh_victoriametrics).
CREATE FUNCTION mesh.prometheus_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_prometheus
	HANDLER mesh.fdw_handler VALIDATOR mesh.prometheus_validator;

CREATE FUNCTION mesh.promql(server name, query text, at timestamptz DEFAULT now())
	RETURNS TABLE(labels jsonb, ts timestamptz, value double precision)
	AS 'MODULE_PATHNAME', 'mesh_promql' LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION mesh.promql_range(server name, query text, start timestamptz,
								  stop timestamptz, step interval)
	RETURNS TABLE(labels jsonb, ts timestamptz, value double precision)
	AS 'MODULE_PATHNAME', 'mesh_promql_range' LANGUAGE C STRICT VOLATILE;
