
-- mesh_redis: Redis through hiredis (fdw/redis).
CREATE FUNCTION mesh.redis_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_redis
	HANDLER mesh.fdw_handler VALIDATOR mesh.redis_validator;
