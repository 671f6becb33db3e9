
-- mesh_chroma: Chroma's HTTP API v2 (fdw/chroma): a vector store for
-- replication, mesh.vector_search and verify.
CREATE FUNCTION mesh.chroma_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_chroma
	HANDLER mesh.fdw_handler VALIDATOR mesh.chroma_validator;
