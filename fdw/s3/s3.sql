
-- mesh_s3: AWS S3 and S3-compatible object stores (fdw/s3): bucket
-- listings as foreign tables, signed with SigV4; live-tested against
-- versitygw.
CREATE FUNCTION mesh.s3_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_s3
	HANDLER mesh.fdw_handler VALIDATOR mesh.s3_validator;
