-- mesh_gcs: Google Cloud Storage (fdw/gcs): bucket listings as foreign
-- tables over the JSON API, with a static OAuth2 token or a service
-- account's key (the JWT-bearer grant); contract-tested against
-- fake-gcs-server.
CREATE FUNCTION mesh.gcs_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_gcs
	HANDLER mesh.fdw_handler VALIDATOR mesh.gcs_validator;
