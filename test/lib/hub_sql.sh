# The SQL that gives a fresh hub database mesh and the two cheap targets the
# checks and benchmarks share (sourced, not run): server "cache" (Redis)
# and server "archive" (the remote PostgreSQL, through postgres_fdw, with
# the current user's mapping).  Needs the harness's port variables.
hub_targets_sql() {
	cat <<SQL
SET client_min_messages = warning;
CREATE EXTENSION mesh;
CREATE EXTENSION postgres_fdw;
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE SERVER archive FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '$MESH_REMOTE_PG_PORT', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER archive OPTIONS (user 'remote_user', password 'remote_secret_pw');
SQL
}
