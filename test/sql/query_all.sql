-- servers: pg_remote redis hang influxdb clickhouse
-- mesh.query_all(source, key): every replica asked for one key at once,
-- next to the local row; found, missing, composite keys, a target that is
-- down (a row with its error, not an exception), privileges.
\getenv redis_port MESH_REDIS_PORT
\getenv remote_port MESH_REMOTE_PG_PORT
\getenv down_port MESH_DOWN_PORT
CREATE SERVER qa_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE SERVER qa_pg FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER qa_pg OPTIONS (user 'remote_user', password 'remote_secret_pw');
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS qa_t, qa_pair; CREATE TABLE qa_t (id int PRIMARY KEY, name text, v float8, ok bool, j jsonb); CREATE TABLE qa_pair (a text, b int, v text, PRIMARY KEY (a, b))"

CREATE TABLE qa_t (id int PRIMARY KEY, name text, v float8, ok bool, j jsonb);
INSERT INTO qa_t VALUES (1, 'one', 1.5, true, '{"a": [1, 2]}'), (2, 'two "quoted"', NULL, false, NULL);
SELECT mesh.replicate('qa_t', 'qa_cache', '{"key_prefix": "qa:"}', 'cache') > 0 AS cache_route;
SELECT mesh.replicate('qa_t', 'qa_pg', '{"table": "public.qa_t"}') > 0 AS pg_route;
SELECT mesh.wait_for_sync();

SELECT server = current_database() OR server <> 'local' AS named, kind, role, found, value,
	   latency_ms >= 0 AS timed, error
FROM mesh.query_all('qa_t', '1');
SELECT kind, role, found, value, error FROM mesh.query_all('qa_t', '2');
-- a key nowhere
SELECT kind, found, value, error FROM mesh.query_all('qa_t', '3');
-- a replica that lags or was changed behind mesh's back shows it
SELECT * FROM mesh.execute('qa_cache', 'HSET qa:1 name tampered');
SELECT kind, value->>'name' AS name FROM mesh.query_all('qa_t', '1');
-- a bad key is the key type's error
SELECT * FROM mesh.query_all('qa_t', 'x');

-- composite keys: a JSON array
CREATE TABLE qa_pair (a text, b int, v text, PRIMARY KEY (a, b));
INSERT INTO qa_pair VALUES ('k:1', 7, 'seven');
SELECT mesh.replicate('qa_pair', 'qa_cache', '{"key_prefix": "qp:"}', 'cache') > 0 AS ok;
SELECT mesh.replicate('qa_pair', 'qa_pg', '{"table": "public.qa_pair"}') > 0 AS ok;
SELECT mesh.wait_for_sync();
SELECT kind, found, value FROM mesh.query_all('qa_pair', '["k:1", 7]');
SELECT * FROM mesh.query_all('qa_pair', 'k:1');

-- one target down: a row with its error; the others still answer
ALTER SERVER qa_cache OPTIONS (SET port :'down_port');
SELECT kind, found, value IS NOT NULL AS has_value,
	   regexp_replace(error, '[0-9]{4,5}', 'N') AS error
FROM mesh.query_all('qa_t', '2');
ALTER SERVER qa_cache OPTIONS (SET port :'redis_port');

-- HTTP targets (ClickHouse, InfluxDB) are asked concurrently; one that
-- hangs is a row with its timeout error while the others answer
\getenv ch_port MESH_CLICKHOUSE_PORT
\getenv influx_port MESH_INFLUX_PORT
\getenv hang_port MESH_HANG_PORT
SELECT 'http://127.0.0.1:' || :'ch_port' AS ch_url, 'http://127.0.0.1:' || :'influx_port' AS influx_url,
	   'http://127.0.0.1:' || :'hang_port' AS hang_url \gset
CREATE SERVER qa_ch_admin FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url');
CREATE SERVER qa_ch FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', database 'mesh_qa');
CREATE SERVER qa_ch2 FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', database 'mesh_qa');
CREATE SERVER qa_influx FOREIGN DATA WRAPPER mesh_influxdb OPTIONS (url :'influx_url', database 'mesh_qa');
SELECT * FROM mesh.execute('qa_ch_admin', 'DROP DATABASE IF EXISTS mesh_qa');
SELECT * FROM mesh.execute('qa_ch_admin', 'CREATE DATABASE mesh_qa');
SELECT * FROM mesh.execute('qa_influx', 'DROP DATABASE mesh_qa');
CREATE TABLE qa_ts (sensor text, ts timestamptz, v float8, note text, PRIMARY KEY (sensor, ts));
INSERT INTO qa_ts VALUES ('s1', '2026-01-01 00:00:01+00', 1.5, 'it''s "one"'),
	('s 2', '2026-01-01 00:00:02+00', NULL, 'two');
SELECT mesh.replicate('qa_ts', 'qa_ch') > 0 AS ok;
SELECT mesh.replicate('qa_ts', 'qa_ch2', '{"table": "qa_ts2"}') > 0 AS ok;
SELECT mesh.replicate('qa_ts', 'qa_influx', '{"tags": "sensor"}') > 0 AS ok;
SELECT mesh.replicate('qa_ts', 'qa_cache', '{"key_prefix": "qts:"}', 'cache') > 0 AS ok;
SELECT mesh.wait_for_sync();
SELECT server, kind, found, value, error
FROM mesh.query_all('qa_ts', '["s1", "2026-01-01 00:00:01+00"]') ORDER BY server;
SELECT server, found, value->>'note' AS note, error
FROM mesh.query_all('qa_ts', '["s 2", "2026-01-01T00:00:02Z"]') ORDER BY server;
SELECT server, found, error FROM mesh.query_all('qa_ts', '["s1", "2026-01-01 00:00:09+00"]') ORDER BY server;
ALTER SERVER qa_ch2 OPTIONS (SET url :'hang_url', ADD timeout_ms '300');
SELECT server, found, value IS NOT NULL AS has_value,
	   regexp_replace(error, '[0-9]{4,5}', 'N') AS error
FROM mesh.query_all('qa_ts', '["s1", "2026-01-01 00:00:01+00"]') ORDER BY server;
ALTER SERVER qa_ch2 OPTIONS (SET url :'ch_url', DROP timeout_ms);
SELECT * FROM mesh.execute('qa_ch_admin', 'DROP DATABASE mesh_qa');
SELECT * FROM mesh.execute('qa_influx', 'DROP DATABASE mesh_qa');

-- not replicated, no privilege
CREATE TABLE qa_plain (id int PRIMARY KEY);
SELECT * FROM mesh.query_all('qa_plain', '1');
CREATE ROLE qa_nobody;
SET ROLE qa_nobody;
SELECT * FROM mesh.query_all('qa_t', '1');
RESET ROLE;
DROP ROLE qa_nobody;

DROP TABLE qa_t, qa_pair, qa_plain, qa_ts;
DROP SERVER qa_cache, qa_pg, qa_ch, qa_ch2, qa_ch_admin, qa_influx CASCADE;
