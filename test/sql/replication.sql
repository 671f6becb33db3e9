-- servers: pg_remote redis
-- Replication to Redis and PostgreSQL: capture, backfill, ordering of
-- writes, key changes, TRUNCATE, hostile values, stats, pause, replay,
-- DDL, and verify after each step.
\getenv redis_port MESH_REDIS_PORT
\getenv remote_port MESH_REMOTE_PG_PORT
\set remote 'bash "$MESH_HARNESS" remote-sql'
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS readings, hostile, nopk_target; CREATE TABLE readings (id int PRIMARY KEY, sensor text, v float8, ts timestamptz); CREATE TABLE hostile (id int PRIMARY KEY, t text, f float8, ts timestamptz, n numeric, j jsonb, a int[], b bool)"

CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE SERVER archive_pg FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER archive_pg
	OPTIONS (user 'remote_user', password 'remote_secret_pw');
SELECT * FROM mesh.execute('cache', 'FLUSHDB');

-- existing rows are copied first (backfill)
CREATE TABLE readings (id int PRIMARY KEY, sensor text, v float8, ts timestamptz);
INSERT INTO readings SELECT g, 's' || (g % 3), g * 1.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s'
	FROM generate_series(1, 100) g;
SELECT mesh.replicate('readings', 'cache', '{"key_prefix": "reading:"}', 'cache') AS cache_route \gset
SELECT mesh.replicate('readings', 'archive_pg', '{"table": "public.readings"}') > :cache_route AS second_route;
SELECT target, kind, role, options, paused FROM mesh.routes ORDER BY id;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('cache', 'HGETALL reading:7');

-- then every committed change follows, in order
INSERT INTO readings VALUES (101, 'new', 0.5, '2026-02-01 00:00:00+00');
UPDATE readings SET v = v * 2 WHERE id <= 10;
UPDATE readings SET v = -1 WHERE id = 5;
DELETE FROM readings WHERE id BETWEEN 90 AND 95;
-- a changed primary key is a delete plus an insert at the replica
UPDATE readings SET id = id + 1000 WHERE id BETWEEN 20 AND 22;
-- several changes of one key in one transaction: the last one wins
BEGIN;
UPDATE readings SET sensor = 'first' WHERE id = 50;
UPDATE readings SET sensor = 'second' WHERE id = 50;
DELETE FROM readings WHERE id = 51;
INSERT INTO readings VALUES (51, 'reborn', 51, NULL);
COMMIT;
-- a rolled-back change reaches neither the log nor a target
BEGIN;
INSERT INTO readings VALUES (999, 'rolled back', 0, NULL);
UPDATE readings SET sensor = 'rolled back' WHERE id = 1;
ROLLBACK;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('cache', 'EXISTS reading:999 reading:20 reading:1020 reading:90');
SELECT * FROM mesh.execute('cache', 'HMGET reading:50 sensor v');
SELECT * FROM mesh.execute('cache', 'HMGET reading:51 sensor ts');
SELECT * FROM mesh.execute('cache', 'HGET reading:5 v');
SELECT count(*) AS rolled_back_events FROM mesh.event_log_0 e
	WHERE e.row->>'sensor' = 'rolled back';
-- the replica layout reads back typed through a hash foreign table
CREATE FOREIGN TABLE readings_cache (id int OPTIONS (key 'true'), sensor text, v float8, ts timestamptz)
	SERVER cache OPTIONS (type 'hash', key_prefix 'reading:');
SELECT * FROM readings_cache WHERE id IN (1, 5, 50, 51, 1020) ORDER BY id;
SELECT (SELECT sum(v) FROM readings) = (SELECT sum(v) FROM readings_cache) AS same_sum;

-- stats: per route
SELECT target, role, delivered > 0 AS delivered, failed, dead, pending, lag_seconds,
	   last_error, last_delivered_at IS NOT NULL AS has_delivered, paused, backfilled
FROM mesh.stats ORDER BY target;

-- TRUNCATE is replicated
TRUNCATE readings;
INSERT INTO readings VALUES (1, 'after truncate', 1, NULL);
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('cache', 'KEYS reading:*');

-- bulk statements are captured as whole statements
INSERT INTO readings SELECT g, 'bulk', g, NULL FROM generate_series(2, 20000) g;
UPDATE readings SET v = v + 1 WHERE id % 2 = 0;
DELETE FROM readings WHERE id % 5 = 0;
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('readings');

-- pause: events wait (pending grows), resume: they flow
SELECT mesh.pause('readings', 'cache');
INSERT INTO readings VALUES (30001, 'while paused', 1, NULL);
SELECT mesh.wait_for_sync(60000);
SELECT target, paused, pending FROM mesh.stats ORDER BY target;
SELECT * FROM mesh.execute('cache', 'EXISTS reading:30001');
SELECT mesh.resume('readings', 'cache');
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.execute('cache', 'EXISTS reading:30001');
SELECT * FROM mesh.verify('readings');

-- replay: delivering again converges to the same state, twice
SELECT * FROM mesh.execute('cache', 'HSET reading:2 sensor tampered');
SELECT mesh.replay('readings', 'cache') > 0 AS replayed;
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('readings');
SELECT mesh.replay('readings', 'cache') > 0 AS replayed;
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('cache', 'HGET reading:2 sensor');

-- hostile values arrive intact: quotes, newlines, unicode, NULLs, NaN,
-- infinities, large text, JSON, arrays, booleans
CREATE TABLE hostile (id int PRIMARY KEY, t text, f float8, ts timestamptz, n numeric, j jsonb, a int[], b bool);
SELECT mesh.replicate('hostile', 'cache', '{"key_prefix": "h:"}') > 0 AS ok;
SELECT mesh.replicate('hostile', 'archive_pg') > 0 AS ok;
INSERT INTO hostile VALUES
	(1, E'quote'' "double" back\\slash\nnewline\ttab', 'NaN', 'infinity', 1.50, '{"k": "v\"q"}', '{1,2,NULL}', true),
	(2, 'ünïcødé ✓ 🚀 ключ', 'Infinity', '-infinity', -0.0001, '[1, "two", null]', '{}', false),
	(3, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL),
	(4, '', 0, '2026-06-01 12:34:56.789+02', 1e20, 'null', '{-1}', NULL),
	(5, repeat('large ', 50000), 1e-300, now(), 12345678901234567890.123456789, '{}', '{}', true);
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('hostile');
SELECT * FROM mesh.execute('cache', 'HGET h:1 t');
SELECT * FROM mesh.execute('cache', 'HMGET h:1 f ts a j');
SELECT * FROM mesh.execute('cache', 'HGETALL h:3');
SELECT * FROM mesh.execute('cache', 'HSTRLEN h:5 t');
-- a tampered replica is detected
SELECT * FROM mesh.execute('cache', 'HSET h:2 t tampered');
SELECT * FROM mesh.execute('cache', 'DEL h:3');
SELECT * FROM mesh.execute('cache', 'HSET h:77 t extra');
SELECT * FROM mesh.verify('hostile');
SELECT mesh.replay('hostile', 'cache') > 0 AS replayed;
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.execute('cache', 'DEL h:77');
SELECT * FROM mesh.verify('hostile');

-- DDL while running: a new column flows to Redis at once; the PostgreSQL
-- route waits with a clear error until the target has the column
ALTER TABLE hostile ADD COLUMN note text;
INSERT INTO hostile (id, t, note) VALUES (6, 'with note', 'a note');
SELECT mesh.wait_for_sync(60000, 'cache');
SELECT * FROM mesh.execute('cache', 'HGET h:6 note');
DO $$
DECLARE
	err text;
BEGIN
	FOR i IN 1..3000 LOOP
		SELECT last_error INTO err FROM mesh.stats WHERE source = 'hostile'::regclass AND target = 'archive_pg';
		EXIT WHEN err IS NOT NULL;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RAISE NOTICE 'archive_pg waits: %', err;
END $$;
\! bash "$MESH_HARNESS" remote-sql "ALTER TABLE hostile ADD COLUMN note text"
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('hostile');

-- errors: what cannot be replicated says why
CREATE TABLE nopk (a int);
SELECT mesh.replicate('nopk', 'cache');
CREATE VIEW readings_view AS SELECT * FROM readings;
SELECT mesh.replicate('readings_view', 'cache');
SELECT mesh.replicate('readings', 'cache');
SELECT mesh.replicate('hostile', 'nonexistent');
CREATE TABLE other (id int PRIMARY KEY);
SELECT mesh.replicate('other', 'cache', '{"key_prefx": "o:"}');
SELECT mesh.replicate('other', 'cache', '{"key_prefix": "o:"}', 'mirror');
SELECT mesh.replicate('other', 'archive_pg', '{"table": "public.nopk_missing"}');
SELECT mesh.replicate('other', 'archive_pg', '{"table": "public.hostile"}') > 0 AS ok;
SELECT mesh.pause('other', 'cache');
-- the event log holds row data: none of it for a role that does not own the table
CREATE ROLE mesh_reader;
GRANT SELECT ON readings TO mesh_reader;
SET ROLE mesh_reader;
SELECT count(*) FROM mesh.event_log;
SELECT target FROM mesh.routes WHERE source = 'readings'::regclass ORDER BY target;
SELECT mesh.replicate('readings', 'archive_pg');
SELECT mesh.unreplicate('readings', 'cache');
SELECT mesh.pause('readings', 'cache');
SELECT count(*) FROM mesh.dead_letter;
RESET ROLE;

-- dropping a replicated table removes its routes; no worker crashes
DROP TABLE hostile;
SELECT count(*) AS hostile_routes FROM mesh.routes WHERE target IN ('cache', 'archive_pg') AND source::text = 'hostile';
INSERT INTO readings VALUES (40001, 'still flowing', 1, NULL);
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('readings');

-- values leave in one text form (ISO dates, UTC, exact floats, hex bytea)
-- whatever the writing session's settings; verify reads them the same way
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS canon; CREATE TABLE canon (id int PRIMARY KEY, ts timestamptz, d date, i interval, f float8, b bytea)"
CREATE TABLE canon (id int PRIMARY KEY, ts timestamptz, d date, i interval, f float8, b bytea);
SELECT mesh.replicate('canon', 'cache', '{"key_prefix": "canon:"}', 'cache') > 0 AS ok;
SELECT mesh.replicate('canon', 'archive_pg', '{"table": "public.canon"}') > 0 AS ok;
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kolkata';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = -3;
SET bytea_output = 'escape';
INSERT INTO canon VALUES (1, '2026-03-04 05:06:07.5+00', '2026-03-04', '1 day 02:03:04', 0.1::float8 + 0.2::float8, '\x00ff');
SELECT mesh.wait_for_sync();
SELECT * FROM canon;
SELECT * FROM mesh.execute('cache', 'HGETALL canon:1');
SELECT * FROM mesh.verify('canon');
RESET DateStyle;
RESET TimeZone;
RESET IntervalStyle;
RESET extra_float_digits;
RESET bytea_output;
\! bash "$MESH_HARNESS" remote-sql "SELECT * FROM canon"
DROP TABLE canon;

-- unreplicate removes the route and, with the last one, the capture triggers
SELECT mesh.unreplicate('readings', 'cache');
SELECT mesh.unreplicate('readings', 'archive_pg');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'readings'::regclass;
SELECT count(*) AS routes FROM mesh.routes;

REVOKE ALL ON readings FROM mesh_reader;
DROP ROLE mesh_reader;
DROP TABLE readings, nopk, other CASCADE;
DROP SERVER cache, archive_pg CASCADE;
