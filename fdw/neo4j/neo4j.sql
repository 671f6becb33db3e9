
-- mesh_neo4j: Neo4j's HTTP transactional Cypher API (fdw/neo4j).
CREATE FUNCTION mesh.neo4j_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_neo4j
	HANDLER mesh.fdw_handler VALIDATOR mesh.neo4j_validator;

-- Cypher with its parameters passed as Cypher parameters (never spliced);
-- one jsonb object per row, keyed by column name.
CREATE FUNCTION mesh.cypher(server name, query text, params jsonb DEFAULT '{}')
	RETURNS SETOF jsonb
	AS 'MODULE_PATHNAME', 'mesh_cypher' LANGUAGE C VOLATILE;
