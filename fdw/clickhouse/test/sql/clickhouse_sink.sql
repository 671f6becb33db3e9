-- servers: clickhouse
-- Replication to ClickHouse: the target table created on demand
-- (ReplacingMergeTree versioned by event id), backfill, inserts, updates,
-- deletes as tombstones, key changes, TRUNCATE, hostile values, replays
-- converging, a composite key, mesh.verify after each step, and the
-- errors of a route that cannot work.
\getenv ch_port MESH_CLICKHOUSE_PORT
\set ch_url 'http://127.0.0.1:' :ch_port
CREATE SERVER ch_sink_admin FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url');
SELECT * FROM mesh.execute('ch_sink_admin', 'DROP DATABASE IF EXISTS mesh_sink');
SELECT * FROM mesh.execute('ch_sink_admin', 'CREATE DATABASE mesh_sink');
CREATE SERVER ch_sink FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', database 'mesh_sink');

-- existing rows are copied first (backfill)
CREATE TABLE readings (id int PRIMARY KEY, sensor text, v float8, r real, ts timestamptz,
	local_ts timestamp, n numeric(12, 3), free numeric, ok boolean, day date, doc jsonb,
	tags text[], u uuid, raw bytea, small smallint, big bigint);
INSERT INTO readings SELECT g, 's' || (g % 3), g * 1.5, g / 4.0, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s',
	'2026-01-01 12:00:00'::timestamp + g * interval '1 min', g / 8.0, g / 3.0, g % 2 = 0,
	'2026-01-01'::date + g, jsonb_build_object('g', g), ARRAY['a', g::text], md5(g::text)::uuid,
	decode(lpad(to_hex(g), 4, '0'), 'hex'), g, g * 1000000000000
FROM generate_series(1, 100) g;
SELECT mesh.replicate('readings', 'ch_sink') > 0 AS route;
SELECT target, kind, options FROM mesh.routes WHERE source = 'readings'::regclass;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('ch_sink', $$SELECT name, type FROM system.columns
	WHERE database = 'mesh_sink' AND table = 'readings'$$);
SELECT * FROM mesh.execute('ch_sink', $$SELECT engine, sorting_key FROM system.tables
	WHERE database = 'mesh_sink' AND name = 'readings'$$);

-- then every committed change follows
INSERT INTO readings (id, sensor, v) VALUES (101, 'new', 0.5);
UPDATE readings SET v = v * 2 WHERE id <= 10;
UPDATE readings SET sensor = NULL, doc = NULL WHERE id = 5;
DELETE FROM readings WHERE id BETWEEN 90 AND 95;
-- a changed primary key is a delete plus an insert
UPDATE readings SET id = id + 1000 WHERE id BETWEEN 20 AND 22;
-- several changes of one key in one transaction: the last one wins
BEGIN;
UPDATE readings SET sensor = 'first' WHERE id = 50;
UPDATE readings SET sensor = 'second' WHERE id = 50;
DELETE FROM readings WHERE id = 51;
INSERT INTO readings (id, sensor) VALUES (51, 'reborn');
COMMIT;
-- a deleted key that comes back
DELETE FROM readings WHERE id = 60;
INSERT INTO readings (id, sensor) VALUES (60, 'back');
-- a rolled-back change never arrives
BEGIN;
UPDATE readings SET sensor = 'rolled back' WHERE id = 1;
ROLLBACK;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
-- what ClickHouse holds: live rows collapse by version, deletes are
-- tombstones (argMax of a tuple: argMax of a Nullable column skips NULLs)
SELECT * FROM mesh.execute('ch_sink', $$SELECT id, tupleElement(argMax(tuple(sensor), _mesh_version), 1) AS sensor,
	argMax(_mesh_deleted, _mesh_version) AS deleted FROM readings
	WHERE id IN (1, 5, 20, 50, 51, 60, 90, 1020) GROUP BY id ORDER BY id$$);

-- floats, timestamps, numerics, JSON, arrays, bytes and hostile strings
-- arrive exactly (DateTime holds whole seconds on 18.16: fractions are cut)
INSERT INTO readings (id, sensor, v, r, ts, n, free, doc, tags, raw) VALUES
	(200, E'quote'' "double" back\\slash\nnewline\ttab `tick` \\N', 'NaN', 'Infinity',
	 '2026-06-01 12:34:56+02', -0.001, 1e20, '{"k": "v\"q", "n": [1, null]}', '{"x,y", "{}", NULL}', '\x00'),
	(201, 'ünïcødé ✓ 🚀 ключ', '-Infinity', '-Infinity', '1970-01-01 00:00:00+00', 0, 0.1, 'null', '{}', ''),
	(202, '', 1e-300, 1.5e-38, '2105-12-31 23:59:59+00', 999999999.999, 12345678901234567890.123456789, '[]', NULL, NULL),
	(203, repeat('large ', 50000), 0.1, 0.1, NULL, NULL, 'NaN', '{"deep": {"a": [{}]}}', '{""}', '\xdeadbeef');
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('ch_sink', $$SELECT sensor, v, r, toString(ts, 'UTC') AS ts, n, free, doc, tags, hex(raw) AS raw
	FROM readings WHERE id IN (200, 201) ORDER BY id$$);
-- timestamps captured in sessions of other time zones (ISO text with
-- offsets in minutes: +05:30, -03:30)
SET DateStyle = ISO;
SET TimeZone = 'Asia/Kolkata';
INSERT INTO readings (id, ts, local_ts) VALUES (210, '2026-03-01 10:00:00+00', '2026-03-01 10:00:00');
SET TimeZone = 'America/St_Johns';
INSERT INTO readings (id, ts, local_ts) VALUES (211, '2026-03-01 10:00:00+00', '2026-03-01 10:00:00');
RESET TimeZone;
RESET DateStyle;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('ch_sink', $$SELECT id, toString(ts, 'UTC') AS ts, toString(local_ts, 'UTC') AS local_ts
	FROM readings WHERE id IN (210, 211) ORDER BY id$$);
-- a fraction of a second is lost in a DateTime: verify says which column
UPDATE readings SET ts = '2026-01-01 00:00:00.5+00' WHERE id = 1;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
UPDATE readings SET ts = '2026-01-01 00:00:01+00' WHERE id = 1;
-- values ClickHouse cannot hold go to the dead letters, the rest flows
INSERT INTO readings (id, day) VALUES (300, '1969-12-31');
INSERT INTO readings (id, sensor) VALUES (301, 'after the poison');
SELECT mesh.wait_for_sync();
SELECT event_id > 0 AS has_event, error FROM mesh.dead_letter
	WHERE route = (SELECT id FROM mesh.routes WHERE source = 'readings'::regclass);
DELETE FROM readings WHERE id = 300;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');

-- TRUNCATE is replicated (TRUNCATE TABLE), and what follows it
TRUNCATE readings;
INSERT INTO readings (id, sensor) VALUES (1, 'after truncate');
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.execute('ch_sink', 'SELECT count() AS rows FROM readings');

-- bulk statements: 20000 inserts, updates, deletes
INSERT INTO readings (id, sensor, v) SELECT g, 'bulk', g FROM generate_series(2, 20000) g;
UPDATE readings SET v = v + 1 WHERE id % 2 = 0;
DELETE FROM readings WHERE id % 5 = 0;
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('readings');

-- an emptied replica with an extra row is detected; replay converges, twice
SELECT * FROM mesh.execute('ch_sink', 'TRUNCATE TABLE readings');
SELECT * FROM mesh.execute('ch_sink', $$INSERT INTO readings (id, sensor, _mesh_version, _mesh_deleted)
	VALUES (777777, 'extra', 1, 0)$$);
SELECT * FROM mesh.verify('readings');
SELECT mesh.replay('readings', 'ch_sink') > 0 AS replayed;
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('readings');
SELECT mesh.replay('readings', 'ch_sink') > 0 AS replayed;
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('readings');

-- a composite key with text and a timestamp, hostile names, option table
CREATE TABLE "Events ""q"" `x`" ("who`s" text, at timestamptz, "new
line" int, PRIMARY KEY ("who`s", at));
INSERT INTO "Events ""q"" `x`" VALUES ('a', '2026-01-01 00:00:00+00', 1), (E'b\tc', '2026-01-01 00:00:00+00', 2),
	('a', '2026-01-02 00:00:00+01', 3);
SELECT mesh.replicate('"Events ""q"" `x`"', 'ch_sink', '{"table": "events ` \\ ''t''"}') > 0 AS route;
UPDATE "Events ""q"" `x`" SET "new
line" = 10 WHERE "who`s" = 'a';
DELETE FROM "Events ""q"" `x`" WHERE "who`s" = E'b\tc';
INSERT INTO "Events ""q"" `x`" VALUES ('z', '2030-01-01 00:00:00+00', 4);
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('"Events ""q"" `x`"');
SELECT * FROM mesh.execute('ch_sink', $$SELECT name FROM system.tables WHERE database = 'mesh_sink' ORDER BY name$$);

-- route errors say what is wrong
CREATE TABLE other (id int PRIMARY KEY, t text, f float8);
SELECT mesh.replicate('other', 'ch_sink', '{"tabel": "x"}');
SELECT mesh.replicate('other', 'ch_sink', '{"database": "no_such_db"}');
SELECT * FROM mesh.execute('ch_sink', 'CREATE TABLE plain (id Int32, t String, f Float64) ENGINE = MergeTree ORDER BY id');
SELECT mesh.replicate('other', 'ch_sink', '{"table": "plain"}');
SELECT * FROM mesh.execute('ch_sink', $$CREATE TABLE wrong (id Int32, t String, f Float32,
	_mesh_version UInt64, _mesh_deleted UInt8) ENGINE = ReplacingMergeTree(_mesh_version) ORDER BY id$$);
SELECT mesh.replicate('other', 'ch_sink', '{"table": "wrong"}');
SELECT * FROM mesh.execute('ch_sink', $$CREATE TABLE nometa (id Int32, t String, f Float64)
	ENGINE = ReplacingMergeTree ORDER BY id$$);
SELECT mesh.replicate('other', 'ch_sink', '{"table": "nometa"}');
-- an existing table of the right shape is used as it is
SELECT * FROM mesh.execute('ch_sink', $$CREATE TABLE mine (id Int64, t Nullable(String), f Nullable(Float64),
	_mesh_version UInt64, _mesh_deleted UInt8) ENGINE = ReplacingMergeTree(_mesh_version) ORDER BY id$$);
SELECT mesh.replicate('other', 'ch_sink', '{"table": "mine"}') > 0 AS route;
INSERT INTO other VALUES (1, 'x', 1.5), (2, NULL, NULL);
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('other');
SELECT stats.target, stats.delivered > 0 AS delivered, stats.dead, stats.last_error FROM mesh.stats stats
	WHERE source = 'other'::regclass;

SELECT mesh.unreplicate('readings', 'ch_sink');
SELECT mesh.unreplicate('"Events ""q"" `x`"', 'ch_sink');
SELECT mesh.unreplicate('other', 'ch_sink');
DROP TABLE readings, "Events ""q"" `x`", other;
DROP SERVER ch_sink, ch_sink_admin CASCADE;
