-- mesh_azblob: Azure Blob Storage (fdw/azblob): container listings as
-- foreign tables, authorised by SharedKey or a SAS token;
-- contract-tested against Azurite.
CREATE FUNCTION mesh.azblob_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_azblob
	HANDLER mesh.fdw_handler VALIDATOR mesh.azblob_validator;
