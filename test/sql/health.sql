-- servers: pg_remote redis redis_auth hang
-- mesh.health(): every backend pinged at once; down and hanging servers are
-- rows with ok = false, and the call is bounded by timeout_ms.
\getenv redis_port MESH_REDIS_PORT
\getenv auth_port MESH_REDIS_AUTH_PORT
\getenv down_port MESH_DOWN_PORT
\getenv hang_port MESH_HANG_PORT
\getenv remote_port MESH_REMOTE_PG_PORT

CREATE SERVER h_redis FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE SERVER h_redis_auth FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'auth_port');
CREATE USER MAPPING FOR CURRENT_USER SERVER h_redis_auth OPTIONS (user 'meshuser', password 'meshuser_pw');
CREATE SERVER h_redis_noauth FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'auth_port');
CREATE SERVER h_redis_down FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'down_port');
CREATE SERVER h_redis_hang FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'hang_port');
CREATE SERVER h_redis_hang2 FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'hang_port');
-- PostgreSQL backends are postgres_fdw servers, pinged with their user mapping
CREATE SERVER h_pg FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db', fetch_size '500');
CREATE USER MAPPING FOR CURRENT_USER SERVER h_pg OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE SERVER h_pg_badpw FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER h_pg_badpw OPTIONS (user 'remote_user', password 'not_the_pw');
CREATE SERVER h_pg_down FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port :'down_port');
CREATE USER MAPPING FOR CURRENT_USER SERVER h_pg_down OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE SERVER h_pg_hang FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port :'hang_port');
CREATE USER MAPPING FOR CURRENT_USER SERVER h_pg_hang OPTIONS (user 'remote_user', password 'remote_secret_pw');
-- without a user mapping mesh does not connect (postgres_fdw's rule), even
-- for a superuser: libpq's defaults are the hub's OS user's credentials
CREATE SERVER h_pg_nomap FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');

SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE h AS SELECT * FROM mesh.health(1000);
-- four servers never answer; pinged one after another this would take 4 s
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 s' AS concurrent;
SELECT server, kind, ok,
	   CASE WHEN kind = 'redis' THEN version ~ '^[0-9]+\.[0-9]+'
			ELSE version ~ '^PostgreSQL [0-9]+' END AS has_version,
	   latency_ms >= 0 AS has_latency,
	   regexp_replace(error, 'port [0-9]+', 'port N') AS error
FROM h ORDER BY server;
-- the time a hanging server was given is what was asked for
SELECT server, latency_ms >= 1000 AS waited_full_timeout, latency_ms < 2000 AS bounded
FROM h WHERE server LIKE '%hang%' ORDER BY server;
-- no secret in any health output
SELECT count(*) AS leaks FROM h
WHERE concat(error, version) ~ '(remote_secret_pw|meshuser_pw|not_the_pw)';
-- the default timeout, and a bad one
SELECT count(*) > 0 AS ran FROM mesh.health();
SELECT * FROM mesh.health(0);

-- postgres_fdw itself works against the same remote: mesh does not replace it
CREATE FOREIGN TABLE h_remote_tables (tablename name) SERVER h_pg
	OPTIONS (schema_name 'pg_catalog', table_name 'pg_tables');
SELECT count(*) > 0 AS remote_read FROM h_remote_tables;

DROP SERVER h_redis, h_redis_noauth, h_redis_down, h_redis_hang, h_redis_hang2, h_pg_nomap;
DROP SERVER h_redis_auth, h_pg, h_pg_badpw, h_pg_down, h_pg_hang CASCADE;
