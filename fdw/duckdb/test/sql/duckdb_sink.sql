-- servers: (the hub only)
-- Replication to DuckDB (an analytical replica): the target created on
-- demand with the source's columns and PRIMARY KEY, backfill, inserts,
-- updates, deletes, a changed key, TRUNCATE, hostile values and NULLs,
-- replays converging, mesh.verify consistent, then inconsistent after
-- tampering, and the errors of route options that cannot work.
\getenv dir MESH_TEST_DIR
\getenv pg_port MESH_PG_PORT
\set ddir :dir '/pg_hub/duckdb_sink'
\set dbfile :ddir '/replica.duckdb'
\set cmd 'rm -rf ' :ddir ' && mkdir -p ' :ddir '; cat > /dev/null'
COPY (SELECT 1) TO PROGRAM :'cmd';
CREATE SERVER dd_sink FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path :'dbfile');

CREATE TABLE dd_src (id int PRIMARY KEY, name text, amount numeric(12, 2), free numeric,
	ratio float8, ts timestamptz, local_ts timestamp, day date, ok boolean, doc jsonb,
	tags text[], nums int[], raw bytea, u uuid, iv interval, big bigint);
INSERT INTO dd_src SELECT g, 'name ' || g, g * 1.25, g / 4.0, g / 3.0,
	'2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s',
	'2026-01-01 12:00:00'::timestamp + g * interval '1 min', '2026-01-01'::date + g, g % 2 = 0,
	jsonb_build_object('g', g, 's', 'x"y'), ARRAY['a', g::text], ARRAY[g, NULL, -g],
	decode(lpad(to_hex(g), 4, '0'), 'hex'), md5(g::text)::uuid, g * interval '90 min', g * 1000000000000
FROM generate_series(1, 50) g;
SELECT mesh.replicate('dd_src', 'dd_sink', '{"table": "replica"}') > 0 AS route;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('dd_src');
SELECT * FROM mesh.execute('dd_sink', $$SELECT column_name, data_type FROM information_schema.columns
	WHERE table_name = 'replica' ORDER BY ordinal_position$$);
SELECT * FROM mesh.execute('dd_sink', $$SELECT constraint_type, constraint_column_names
	FROM duckdb_constraints() WHERE table_name = 'replica' AND constraint_type = 'PRIMARY KEY'$$);

-- changes follow
INSERT INTO dd_src (id, name, tags, doc) VALUES
	(100, E'it''s "q" \\ back\nline\ttab ünï €', ARRAY['a,b', '{c}', 'd"e', E'f\\g', NULL], '{"k": "v\"w"}'),
	(101, NULL, '{}', NULL);
UPDATE dd_src SET ratio = ratio * 2, name = name || '!' WHERE id <= 10;
UPDATE dd_src SET name = NULL, doc = NULL, raw = NULL WHERE id = 5;
DELETE FROM dd_src WHERE id BETWEEN 40 AND 45;
UPDATE dd_src SET id = id + 1000 WHERE id BETWEEN 20 AND 22;
BEGIN;
UPDATE dd_src SET name = 'first' WHERE id = 30;
UPDATE dd_src SET name = 'second' WHERE id = 30;
DELETE FROM dd_src WHERE id = 31;
INSERT INTO dd_src (id, name) VALUES (31, 'reborn');
COMMIT;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('dd_src');
CREATE FOREIGN TABLE dd_replica (id int, name text, tags text[], doc jsonb, raw bytea)
	SERVER dd_sink OPTIONS (table 'replica');
SELECT id, name, tags, doc, raw FROM dd_replica WHERE id IN (5, 30, 31, 100, 101, 1020) ORDER BY id;
SELECT name = E'it''s "q" \\ back\nline\ttab ünï €' AS exact FROM dd_replica WHERE id = 100;
SELECT count(*), sum(id) FROM dd_replica;
SELECT count(*), sum(id) FROM dd_src;

-- TRUNCATE, then new rows
TRUNCATE dd_src;
INSERT INTO dd_src (id, name) VALUES (1, 'after truncate'), (2, 'two');
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('dd_src');
SELECT id, name FROM dd_replica ORDER BY id;

-- a replay converges to the same state
SELECT mesh.replay('dd_src', 'dd_sink') >= 0 AS replayed;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('dd_src');
SELECT id, name FROM dd_replica ORDER BY id;

-- query_all asks the replica for a key; health pings the file
SELECT server, kind, role, found, value->>'name' AS name, error FROM mesh.query_all('dd_src', '2');
SELECT server, ok, version LIKE 'v1.%' AS version_ok FROM mesh.health() WHERE server = 'dd_sink';

-- tampering with the replica is seen by verify
SELECT * FROM mesh.execute('dd_sink', $$UPDATE replica SET name = 'tampered' WHERE id = 2$$);
SELECT * FROM mesh.execute('dd_sink', $$INSERT INTO replica (id, name) VALUES (77, 'extra')$$);
SELECT * FROM mesh.execute('dd_sink', $$DELETE FROM replica WHERE id = 1$$);
SELECT * FROM mesh.verify('dd_src');
SELECT mesh.replay('dd_src', 'dd_sink') >= 0 AS replayed;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('dd_src');

-- another process's lock on the file is transient: the route waits (no
-- dead letter, nothing counted) and catches up once the lock is gone
ALTER SERVER dd_sink OPTIONS (ADD timeout_ms '200');
SELECT delivered AS delivered_before FROM mesh.stats WHERE source = 'dd_src'::regclass \gset
BEGIN;
SELECT count(*) > 0 AS file_held FROM dd_replica;
\set cmd 'psql -X -q -h 127.0.0.1 -p ' :pg_port ' -d ' :DBNAME ' -c "INSERT INTO dd_src (id, name) VALUES (3, \'while locked\')"' '; cat > /dev/null'
COPY (SELECT 1) TO PROGRAM :'cmd';
SELECT mesh.wait_for_sync(2000) AS synced_while_held;
SELECT failed > 0 AS failed, dead, delivered = :delivered_before AS nothing_counted,
	last_error ~ 'is in use by another process' AS lock_error
FROM mesh.stats WHERE source = 'dd_src'::regclass;
COMMIT;
SELECT mesh.wait_for_sync();
SELECT dead, delivered - :delivered_before AS delivered FROM mesh.stats WHERE source = 'dd_src'::regclass;
SELECT * FROM mesh.verify('dd_src');
ALTER SERVER dd_sink OPTIONS (DROP timeout_ms);

-- a row the replica refuses (a CHECK) is one dead letter: the batch's
-- transaction is rolled back and delivered again one call per transaction,
-- split down to that row; the other rows land and are counted
SELECT * FROM mesh.execute('dd_sink', 'CREATE TABLE chk (id INTEGER PRIMARY KEY, v INTEGER CHECK (v < 100))');
CREATE TABLE dd_chk (id int PRIMARY KEY, v int);
INSERT INTO dd_chk SELECT g, CASE WHEN g = 7 THEN 500 ELSE g END FROM generate_series(1, 20) g;
SELECT mesh.replicate('dd_chk', 'dd_sink', '{"table": "chk"}') > 0 AS route;
SELECT mesh.wait_for_sync();
UPDATE dd_chk SET v = 1000 WHERE id = 3;
UPDATE dd_chk SET v = v + 1 WHERE id IN (4, 5);
DELETE FROM dd_chk WHERE id = 6;
SELECT mesh.wait_for_sync();
SELECT delivered, dead FROM mesh.stats WHERE source = 'dd_chk'::regclass;
SELECT key, op, error ~ 'CHECK constraint' AS check_refused FROM mesh.dead_letter
WHERE source = 'dd_chk'::regclass ORDER BY event_id;
SELECT * FROM mesh.execute('dd_sink', 'SELECT id, v FROM chk WHERE id BETWEEN 2 AND 8 ORDER BY id');
SELECT mesh.unreplicate('dd_chk', 'dd_sink');
DROP TABLE dd_chk;

-- route options that cannot work
CREATE TABLE dd_src2 (a int, b text, PRIMARY KEY (a, b), p point);
SELECT mesh.replicate('dd_src2', 'dd_sink', '{"table": ""}');
SELECT mesh.replicate('dd_src2', 'dd_sink', '{"schema": "nope"}');
SELECT mesh.replicate('dd_src2', 'dd_sink');
SELECT * FROM mesh.execute('dd_sink', 'CREATE TABLE nopk (a INTEGER, b VARCHAR, p VARCHAR)');
SELECT mesh.replicate('dd_src2', 'dd_sink', '{"table": "nopk"}');
-- a composite key into an existing table with a primary key
ALTER TABLE dd_src2 DROP COLUMN p;
SELECT * FROM mesh.execute('dd_sink', $$CREATE TABLE "Two ""Keys""" (a INTEGER, b VARCHAR, PRIMARY KEY (b, a))$$);
INSERT INTO dd_src2 VALUES (1, 'x'), (1, 'y'), (2, E'q''"\\');
SELECT mesh.replicate('dd_src2', 'dd_sink', '{"table": "Two \"Keys\""}') > 0 AS route;
DELETE FROM dd_src2 WHERE b = 'x';
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('dd_src2');
SELECT * FROM mesh.execute('dd_sink', 'SELECT * FROM "Two ""Keys""" ORDER BY a, b');

-- schema changes: with add_columns the DuckDB replica gets the new column;
-- a column added with a default, and a rewrite, re-sync the route in place
CREATE TABLE dd_ddl (id int PRIMARY KEY, v text);
INSERT INTO dd_ddl SELECT g, 'v' || g FROM generate_series(1, 10) g;
SELECT mesh.replicate('dd_ddl', 'dd_sink', '{"table": "ddl", "add_columns": true}') > 0 AS route;
SELECT mesh.wait_for_sync();
ALTER TABLE dd_ddl ADD COLUMN n int DEFAULT 5;
UPDATE dd_ddl SET n = 6 WHERE id = 2;
SELECT mesh.wait_for_sync();
SELECT state, needs_resync FROM mesh.stats WHERE source = 'dd_ddl'::regclass;
SELECT target, consistent FROM mesh.verify('dd_ddl');
SELECT * FROM mesh.execute('dd_sink', 'SELECT id, v, n FROM ddl WHERE id <= 3 ORDER BY id');
ALTER TABLE dd_ddl ALTER COLUMN v TYPE varchar(20) USING upper(v);
SELECT mesh.wait_for_sync();
SELECT target, consistent FROM mesh.verify('dd_ddl');
SELECT * FROM mesh.execute('dd_sink', 'SELECT id, v FROM ddl WHERE id = 1');
SELECT mesh.unreplicate('dd_ddl', 'dd_sink');
DROP TABLE dd_ddl;

SELECT mesh.unreplicate('dd_src', 'dd_sink');
SELECT mesh.unreplicate('dd_src2', 'dd_sink');
DROP TABLE dd_src, dd_src2;
DROP FOREIGN TABLE dd_replica;
DROP SERVER dd_sink;
\set cmd 'rm -rf ' :ddir '; cat > /dev/null'
COPY (SELECT 1) TO PROGRAM :'cmd';
