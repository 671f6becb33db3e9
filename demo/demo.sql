-- The mesh demo: one PostgreSQL hub, a Redis cache, a remote PostgreSQL and
-- ClickHouse; a table replicated to all three, federated queries.
\getenv redis_port MESH_REDIS_PORT
\getenv remote_port MESH_REMOTE_PG_PORT
\getenv ch_port MESH_CLICKHOUSE_PORT
SELECT 'http://127.0.0.1:' || :'ch_port' AS ch_url \gset
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
CREATE SERVER analytics FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url');
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
	SERVER archive OPTIONS (table_name 'demo_readings');
INSERT INTO readings_remote
	SELECT g, 1 + g % 3, round((20 + 5 * sin(g))::numeric, 2), '2026-01-01'::timestamptz + g * interval '1 min'
	FROM generate_series(1, 30) g;

-- 4. One federated query: remote readings joined with the Redis cache; the
--    join sends each sensor id to Redis (nested loop, one MGET/HGETALL per key).
SELECT s.name, s.site, count(*) AS readings, round(avg(r.v)::numeric, 2) AS avg_v
FROM readings_remote r JOIN sensor_cache s ON s.id = r.sensor_id
GROUP BY s.name, s.site ORDER BY s.name;

-- 5. Replication: a local table fanned out to the Redis cache, the remote
--    PostgreSQL and ClickHouse (existing rows first, then every change).
SELECT * FROM mesh.execute('analytics', 'DROP TABLE IF EXISTS default.measurements_live');
SELECT * FROM mesh.execute('analytics', 'DROP TABLE IF EXISTS default.measurements');
CREATE TABLE measurements (id int PRIMARY KEY, sensor_id int, v float8, ts timestamptz);
INSERT INTO measurements SELECT * FROM readings_remote;
SELECT mesh.replicate('measurements', 'cache', '{"key_prefix": "m:"}', 'cache');
SELECT mesh.replicate('measurements', 'archive', '{"table": "public.demo_measurements"}');
SELECT mesh.replicate('measurements', 'analytics', '{"database": "default"}');
UPDATE measurements SET v = v + 100 WHERE id = 7;
DELETE FROM measurements WHERE id = 8;
INSERT INTO measurements VALUES (31, 2, 21.5, '2026-01-02');
SELECT mesh.wait_for_sync();
SELECT source, target, role, delivered, pending, lag_seconds FROM mesh.stats ORDER BY target;
SELECT target, source_rows, target_rows, consistent FROM mesh.verify('measurements') ORDER BY target;

-- 6. One key across every store, and the catalog of what lives where.
SELECT server, kind, role, found, value->>'v' AS v FROM mesh.query_all('measurements', '7');
SELECT mesh.catalog_yaml();

-- 7. A federated query over ClickHouse: a view there reads the replica's
--    live rows (the newest version of each key, tombstones left out); the
--    aggregate runs in ClickHouse (EXPLAIN shows its SQL) and is joined
--    with the sensor names from Redis.
SELECT * FROM mesh.execute('analytics', 'CREATE VIEW default.measurements_live AS
	SELECT id, sensor_id, v, ts FROM default.measurements FINAL WHERE _mesh_deleted = 0');
CREATE FOREIGN TABLE measurements_ch (id int, sensor_id int, v float8, ts timestamptz)
	SERVER analytics OPTIONS (database 'default', "table" 'measurements_live');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT sensor_id, count(*), max(v) FROM measurements_ch GROUP BY sensor_id;
SELECT s.name, m.n, m.max_v
FROM (SELECT sensor_id, count(*) AS n, max(v) AS max_v FROM measurements_ch GROUP BY sensor_id) m
JOIN sensor_cache s ON s.id = m.sensor_id ORDER BY s.name;
