-- servers: influxdb
-- Replication to InfluxDB: route options and their errors, backfill,
-- inserts, updates, deletes, key changes, NULL fields, TRUNCATE, hostile
-- values, a poison row, replays, a layout where updates move points; verify
-- after each step.
\getenv influx_port MESH_INFLUX_PORT
SELECT 'http://127.0.0.1:' || :'influx_port' AS influx_url \gset
CREATE SERVER tsdb FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url :'influx_url', database 'mesh_sink');
-- the route creates the database
SELECT * FROM mesh.execute('tsdb', 'DROP DATABASE mesh_sink');

CREATE TABLE readings (sensor text, ts timestamptz, v float8, n bigint, note text, ok boolean,
	PRIMARY KEY (sensor, ts));
INSERT INTO readings SELECT 's' || (g % 3), '2026-01-01'::timestamptz + g * interval '1 s',
	g * 0.5, g, 'note ' || g, g % 2 = 0 FROM generate_series(1, 100) g;

-- options are checked when the route is made
SELECT mesh.replicate('readings', 'tsdb');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "nosuch"}');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor, sensor"}');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor, ts"}');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor", "time": "v"}');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor", "time": "nosuch"}');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor", "measurement": "#m"}');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor", "tag": "sensor"}');
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor, note, n, v, ok"}');
SELECT count(*) AS routes FROM mesh.routes;

-- existing rows first (backfill), then every change
SELECT mesh.replicate('readings', 'tsdb', '{"tags": "sensor", "measurement": "readings m"}') > 0 AS ok;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
CREATE FOREIGN TABLE readings_ts (ts timestamptz OPTIONS (time 'true'), sensor text OPTIONS (tag 'true'),
	v float8, n bigint, note text, ok boolean) SERVER tsdb OPTIONS (measurement 'readings m');
SELECT count(*), sum(n), sum(v) FROM readings_ts;
SELECT * FROM readings_ts WHERE sensor = 's1' ORDER BY ts LIMIT 2;

INSERT INTO readings VALUES ('s9', '2026-02-01', 1, 1, 'new', true);
UPDATE readings SET v = -v WHERE n <= 10;
-- a field set to NULL is gone from the point, not left behind
UPDATE readings SET note = NULL, ok = NULL WHERE n = 20;
DELETE FROM readings WHERE n BETWEEN 30 AND 35;
-- a changed key (tag or time) is a delete plus an insert
UPDATE readings SET ts = ts + interval '1 hour' WHERE n = 40;
UPDATE readings SET sensor = 'moved' WHERE n = 41;
-- several changes of one key in a transaction: the last one wins
BEGIN;
UPDATE readings SET v = 1000 WHERE n = 50;
UPDATE readings SET v = 2000 WHERE n = 50;
DELETE FROM readings WHERE n = 51;
INSERT INTO readings SELECT sensor, ts, 51.5, 51, 'reborn', NULL FROM readings_ts WHERE n = 51;
COMMIT;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT ts, sensor, v, n, note, ok FROM readings_ts WHERE n IN (1, 20, 40, 41, 50, 51) ORDER BY n;
SELECT count(*) FROM readings_ts WHERE n BETWEEN 30 AND 35;
SELECT (SELECT sum(v) FROM readings) = (SELECT sum(v) FROM readings_ts) AS same_sum;

-- hostile values: tags and fields with commas, spaces, equals signs,
-- quotes, backslashes, newlines, unicode; exact floats and big integers
INSERT INTO readings VALUES
	('a,b=c d"e\f', '2026-03-01', 1e-300, 9223372036854775807, E'line1\nline2 "q" \\ , =', true),
	('ünïcødé ✓ 🚀 ключ', '2026-03-01', -1.7976931348623157e308, -9223372036854775808, E'tab\tcr\r', false),
	(E'tab\there', '2026-03-01 00:00:00.000001', 0.1, 0, '', NULL);
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT sensor, ts, v, n, note FROM readings_ts WHERE ts >= '2026-03-01' ORDER BY sensor;
SELECT r->>'sensor' AS sensor, r->>'note' AS note FROM mesh.execute('tsdb',
	'SELECT "note", "sensor" FROM "readings m" WHERE "sensor" = $s', '{"s": "a,b=c d\"e\\f"}') r;

-- times written in other DateStyles and zones (the text form travels):
-- ISO with odd offsets, and a historical offset with seconds
SET DateStyle = ISO;
SET TimeZone = 'Asia/Kolkata';
INSERT INTO readings VALUES ('iso', '2026-03-02 12:00:00.5', 1, 1, 'kolkata', NULL);
SET TimeZone = 'America/St_Johns';
INSERT INTO readings VALUES ('iso', '2026-03-02 12:00:00.25', 2, 2, 'st johns', NULL);
SET TimeZone = 'Europe/Amsterdam';
INSERT INTO readings VALUES ('iso', '1900-01-01 00:00:00', 3, 3, 'amsterdam 1900', NULL);
SET DateStyle = 'Postgres, MDY';
INSERT INTO readings VALUES ('pg', '2026-03-02 12:00:00.125', 4, 4, 'postgres style', NULL);
RESET DateStyle;
RESET TimeZone;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT ts, sensor, note FROM readings_ts WHERE sensor IN ('iso', 'pg') ORDER BY ts;

-- a row that cannot be a point goes to the dead letters with the reason;
-- the rows after it keep flowing
INSERT INTO readings (sensor, ts) VALUES ('empty', '2026-04-01');
INSERT INTO readings VALUES ('bad\', '2026-04-01', 1, 1, NULL, NULL);
INSERT INTO readings VALUES ('after', '2026-04-01', 2, 2, 'after the poison', NULL);
SELECT mesh.wait_for_sync();
-- (op is I or U: whether the insert and the update share a batch)
SELECT target, key, error FROM mesh.dead_letter ORDER BY key::text;
SELECT n, note FROM readings_ts WHERE sensor = 'after';
SELECT target, missing, extra, mismatched, consistent FROM mesh.verify('readings');
-- fixed at the source, then retried: in sync
UPDATE readings SET v = 3 WHERE sensor = 'empty';
DELETE FROM readings WHERE sensor = 'bad\';
SELECT mesh.retry_dead_letters();
SELECT mesh.wait_for_sync();
SELECT count(*) AS dead_letters FROM mesh.dead_letter;
SELECT * FROM mesh.verify('readings');

-- a tampered replica is detected: missing, changed and extra points
SELECT * FROM mesh.execute('tsdb', 'DELETE FROM "readings m" WHERE "sensor" = ''s2''');
INSERT INTO readings_ts SELECT ts, sensor, 99, 7, 'tampered', false FROM readings WHERE n = 7;
INSERT INTO readings_ts VALUES ('2030-01-01', 'extra', 1, 1, 'extra', true);
SELECT target, source_rows, target_rows, missing, extra, mismatched, consistent FROM mesh.verify('readings');
-- changes at the source rewrite the points; the extra one is removed natively
UPDATE readings SET v = v WHERE sensor IN ('s1', 's2');
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.execute('tsdb', 'DELETE FROM "readings m" WHERE "sensor" = ''extra''');
SELECT * FROM mesh.verify('readings');
-- replays deliver every retained event again and converge, twice
SELECT mesh.replay('readings', 'tsdb') > 0 AS replayed;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT mesh.replay('readings', 'tsdb') > 0 AS replayed;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');

-- TRUNCATE empties the measurement
TRUNCATE readings;
INSERT INTO readings VALUES ('s0', '2026-05-01', 1, 1, 'after truncate', true);
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT count(*) FROM readings_ts;

-- bulk statements
INSERT INTO readings SELECT 'b' || (g % 10), '2026-06-01'::timestamptz + g * interval '1 ms', g, g, NULL, NULL
	FROM generate_series(1, 5000) g;
UPDATE readings SET note = 'even' WHERE n % 2 = 0 AND sensor LIKE 'b%';
DELETE FROM readings WHERE n % 5 = 0 AND sensor LIKE 'b%';
SELECT mesh.wait_for_sync(120000);
SELECT * FROM mesh.verify('readings');
SELECT sensor, count(*), sum(n), count(note) FROM readings_ts WHERE sensor LIKE 'b%' GROUP BY sensor ORDER BY sensor LIMIT 3;

-- a layout where an update moves the point: the time and a tag are not
-- in the primary key, so the old point is deleted before the new one
CREATE TABLE events (id int PRIMARY KEY, host text, at timestamp, v float8);
INSERT INTO events VALUES (1, 'h1', '2026-01-01 00:00:00', 1), (2, 'h2', '2026-01-01 00:00:01', 2);
SELECT mesh.replicate('events', 'tsdb', '{"tags": "id, host", "time": "at"}') > 0 AS ok;
UPDATE events SET host = 'h9' WHERE id = 1;
UPDATE events SET at = '2026-01-02 00:00:00' WHERE id = 2;
INSERT INTO events VALUES (3, NULL, '2026-01-03', 3);
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('events');
CREATE FOREIGN TABLE events_ts (at timestamp OPTIONS (time 'true'), id text OPTIONS (tag 'true'),
	host text OPTIONS (tag 'true'), v float8) SERVER tsdb OPTIONS (measurement 'events');
SELECT * FROM events_ts ORDER BY id;
DELETE FROM events WHERE id = 2;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('events');
SELECT * FROM events_ts ORDER BY id;

-- a table with exactly one timestamptz column needs no time option; the
-- wall clock is never used
CREATE TABLE metrics (host text PRIMARY KEY, seen timestamptz, load float8);
SELECT mesh.replicate('metrics', 'tsdb', '{"tags": "host"}') > 0 AS ok;
CREATE TABLE two_times (id int PRIMARY KEY, a timestamptz, b timestamptz, v float8);
SELECT mesh.replicate('two_times', 'tsdb', '{"tags": "id"}');
CREATE TABLE only_keys (host text, at timestamptz, PRIMARY KEY (host, at));
SELECT mesh.replicate('only_keys', 'tsdb', '{"tags": "host"}');
INSERT INTO metrics VALUES ('m1', '2026-01-01', 0.5), ('m2', NULL, 1);
SELECT mesh.wait_for_sync();
-- (op is I or U: whether the insert and the update share a batch)
SELECT target, key, error FROM mesh.dead_letter ORDER BY key::text;
SELECT mesh.unreplicate('metrics', 'tsdb');
SELECT mesh.unreplicate('events', 'tsdb');
SELECT mesh.unreplicate('readings', 'tsdb');
-- leave nothing behind for the suites that follow
SET client_min_messages = warning;
DROP TABLE readings, events, metrics, two_times, only_keys;
DROP SERVER tsdb CASCADE;
RESET client_min_messages;
