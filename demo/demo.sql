-- The mesh demo: one PostgreSQL hub, a Redis cache and a remote PostgreSQL.
\getenv redis_port MESH_REDIS_PORT
\getenv remote_port MESH_REMOTE_PG_PORT
\set ECHO queries
DROP EXTENSION IF EXISTS mesh CASCADE;
DROP EXTENSION IF EXISTS postgres_fdw CASCADE;
CREATE EXTENSION mesh;
CREATE EXTENSION postgres_fdw;

-- 1. Backends are foreign servers.
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE SERVER archive FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER archive
	OPTIONS (user 'remote_user', password 'remote_secret_pw');
SELECT server, kind, fdw, options FROM mesh.backends();
SELECT server, kind, ok, version, error FROM mesh.health();

-- 2. A Redis hash per sensor, written and read as a table.
CREATE FOREIGN TABLE sensor_cache (id int OPTIONS (key 'true'), name text, site text)
	SERVER cache OPTIONS (type 'hash', key_prefix 'sensor:');
INSERT INTO sensor_cache VALUES (1, 'thermo-1', 'north'), (2, 'thermo-2', 'south'), (3, 'hygro-1', 'north');
SELECT * FROM sensor_cache ORDER BY id;
SELECT * FROM mesh.execute('cache', 'HGETALL sensor:2');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM sensor_cache WHERE id IN (1, 3);

-- 3. Readings live in the remote PostgreSQL.
CREATE FOREIGN TABLE readings_remote (id int, sensor_id int, v float8, ts timestamptz)
	SERVER archive OPTIONS (table_name 'readings');
INSERT INTO readings_remote
	SELECT g, 1 + g % 3, round((20 + 5 * sin(g))::numeric, 2), '2026-01-01'::timestamptz + g * interval '1 min'
	FROM generate_series(1, 30) g;

-- 4. One federated query: remote readings joined with the Redis cache; the
--    join sends each sensor id to Redis (nested loop, one MGET/HGETALL per key).
SELECT s.name, s.site, count(*) AS readings, round(avg(r.v)::numeric, 2) AS avg_v
FROM readings_remote r JOIN sensor_cache s ON s.id = r.sensor_id
GROUP BY s.name, s.site ORDER BY s.name;
