-- mesh 0.1.0: the hub of a polyglot data mesh.
\echo Use "CREATE EXTENSION mesh" to load this file. \quit

GRANT USAGE ON SCHEMA mesh TO PUBLIC;

-- One handler for every mesh_<kind> wrapper: the connector is found from
-- the foreign table's server.
CREATE FUNCTION mesh.fdw_handler() RETURNS fdw_handler
	AS 'MODULE_PATHNAME', 'mesh_fdw_handler' LANGUAGE C STRICT;

-- Backend kinds: one validator (named <kind>_validator) and one wrapper each.
CREATE FUNCTION mesh.redis_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_redis
	HANDLER mesh.fdw_handler VALIDATOR mesh.redis_validator;

-- mesh.backends(): every server of a mesh wrapper or postgres_fdw.
CREATE FUNCTION mesh.backends()
RETURNS TABLE(server name, kind text, fdw name, options jsonb)
LANGUAGE sql STABLE AS $$
	SELECT s.srvname, CASE WHEN w.fdwname = 'postgres_fdw' THEN 'postgres'
						   ELSE substr(w.fdwname, 6) END,
		   w.fdwname,
		   COALESCE((SELECT jsonb_object_agg(split_part(o, '=', 1),
					 CASE WHEN split_part(o, '=', 1) ~ '(password|token|api_key|secret)'
						  THEN '********'
						  ELSE substr(o, length(split_part(o, '=', 1)) + 2) END)
					 FROM unnest(s.srvoptions) AS o), '{}'::jsonb)
	FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
	WHERE w.fdwname LIKE 'mesh\_%' OR w.fdwname = 'postgres_fdw'
	ORDER BY s.srvname
$$;

CREATE FUNCTION mesh.health(timeout_ms integer DEFAULT 2000)
RETURNS TABLE(server name, kind text, ok boolean, latency_ms double precision,
			  version text, error text)
	AS 'MODULE_PATHNAME', 'mesh_health' LANGUAGE C VOLATILE;

CREATE FUNCTION mesh.execute(server name, request text, params jsonb DEFAULT '{}')
RETURNS SETOF jsonb
	AS 'MODULE_PATHNAME', 'mesh_execute' LANGUAGE C VOLATILE;
