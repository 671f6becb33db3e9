-- servers: redis
-- Issue 14, finding 11: a Redis route with an empty key_prefix mixes its
-- keys with every other key of the database; it needs
-- "allow_empty_key_prefix": true, and a TRUNCATE of the source is then not
-- applied (it would delete every key of the database) but dead-lettered,
-- visible in mesh.dead_letter and mesh.stats, every key kept.
\getenv redis_port MESH_REDIS_PORT
CREATE SERVER br_cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'redis_port', db '9');
SELECT * FROM mesh.execute('br_cache', 'FLUSHDB');
SELECT * FROM mesh.execute('br_cache', 'SET other_app:config precious');
CREATE TABLE br_rows (id int PRIMARY KEY, v text);
INSERT INTO br_rows VALUES (1, 'one'), (2, 'two');
-- refused unless the route says so explicitly
SELECT mesh.replicate('br_rows', 'br_cache', '{"key_prefix": ""}');
SELECT mesh.replicate('br_rows', 'br_cache', '{"key_prefix": "", "allow_empty_key_prefix": false}');
SELECT mesh.replicate('br_rows', 'br_cache', '{"key_prefix": "", "allow_empty_key_prefix": "maybe"}');
SELECT count(*) FROM mesh.routes WHERE source = 'br_rows'::regclass;
-- allowed explicitly: rows land at the bare key
SELECT mesh.replicate('br_rows', 'br_cache', '{"key_prefix": "", "allow_empty_key_prefix": true}') > 0 AS replicating;
SELECT mesh.wait_for_sync(30000);
SELECT * FROM mesh.execute('br_cache', 'HGETALL 1');
-- a TRUNCATE is dead-lettered, not applied: no key is deleted
TRUNCATE br_rows;
INSERT INTO br_rows VALUES (3, 'three');
SELECT mesh.wait_for_sync(30000);
SELECT op, key, error FROM mesh.dead_letter WHERE source = 'br_rows'::regclass;
SELECT delivered, failed, dead, pending, last_error FROM mesh.stats WHERE source = 'br_rows'::regclass;
SELECT * FROM mesh.execute('br_cache', 'GET other_app:config');
SELECT * FROM mesh.execute('br_cache', 'EXISTS 1 2 3');
-- a prefix still truncates what is under it, and only that
SELECT mesh.unreplicate('br_rows', 'br_cache');
SELECT mesh.replicate('br_rows', 'br_cache', '{"key_prefix": "br:"}') > 0 AS replicating;
SELECT mesh.wait_for_sync(30000);
TRUNCATE br_rows;
SELECT mesh.wait_for_sync(30000);
SELECT * FROM mesh.execute('br_cache', 'EXISTS br:3 other_app:config');
SELECT mesh.unreplicate('br_rows', 'br_cache');
SELECT * FROM mesh.execute('br_cache', 'FLUSHDB');
DROP TABLE br_rows;
DROP SERVER br_cache;
