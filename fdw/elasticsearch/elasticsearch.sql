
-- mesh_elasticsearch: Elasticsearch 7/8 and OpenSearch over REST
-- (fdw/elasticsearch).
CREATE FUNCTION mesh.elasticsearch_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_elasticsearch
	HANDLER mesh.fdw_handler VALIDATOR mesh.elasticsearch_validator;

CREATE FUNCTION mesh.search(server name, index text, query text, k integer DEFAULT 10)
	RETURNS TABLE(id text, score double precision, doc jsonb)
	AS 'MODULE_PATHNAME', 'mesh_search' LANGUAGE C STRICT VOLATILE;
