
-- mesh_mongodb: MongoDB (and FerretDB, DocumentDB) through mongo-c-driver (fdw/mongodb).
-- Its options' checks also parse uri (which must not hold credentials).
CREATE FUNCTION mesh.mongodb_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_mongodb
	HANDLER mesh.fdw_handler VALIDATOR mesh.mongodb_validator;
