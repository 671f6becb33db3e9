
-- mesh_qdrant: Qdrant's REST API (fdw/qdrant); contract-tested against a
-- stand-in, no live Qdrant server here.
CREATE FUNCTION mesh.qdrant_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_qdrant
	HANDLER mesh.fdw_handler VALIDATOR mesh.qdrant_validator;

-- The k nearest points of a collection, best first, on any vector store
-- (mesh_qdrant, mesh_chroma): score is the similarity for Cosine and Dot,
-- the distance for Euclid; filter is the store's own filter document.
CREATE FUNCTION mesh.vector_search(server name, collection text, vector real[],
								   k integer DEFAULT 10, filter jsonb DEFAULT NULL)
	RETURNS TABLE(id text, score double precision, payload jsonb)
	AS 'MODULE_PATHNAME', 'mesh_vector_search' LANGUAGE C VOLATILE;
