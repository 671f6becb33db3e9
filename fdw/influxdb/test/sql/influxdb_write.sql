-- servers: influxdb
-- InfluxDB writes: INSERT as line protocol (batched), every escape of the
-- encoder checked by reading back (also natively), what line protocol
-- cannot hold, UPDATE/DELETE refused, IMPORT FOREIGN SCHEMA.
SET TimeZone = 'UTC';
\getenv influx_port MESH_INFLUX_PORT
SELECT 'http://127.0.0.1:' || :'influx_port' AS influx_url \gset
CREATE SERVER ifxw FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url :'influx_url', database 'mesh_write', batch_size '7');
SELECT * FROM mesh.execute('ifxw', 'DROP DATABASE mesh_write');
SELECT * FROM mesh.execute('ifxw', 'CREATE DATABASE mesh_write');

-- hostile measurement, tag and field names and values
CREATE FOREIGN TABLE hostile (
	"ti me" timestamptz OPTIONS (time 'true'),
	"t,a=g x" text OPTIONS (tag 'true'),
	"f""i\eld" text,
	"n=1, 2" double precision,
	"i,=" bigint,
	"b" boolean
) SERVER ifxw OPTIONS (measurement 'm,e a=s"ure\ment=');
INSERT INTO hostile VALUES
	('2026-01-01 00:00:00+00', 'v,a=l u"e\x', E'str "q" \\ \n nl \\n', 1e20, 9223372036854775807, true),
	('2026-01-01 00:00:01+00', 'ünï ✓ 🚀 ключ', E'tab\there', '-0', -9223372036854775808, false),
	('2026-01-01 00:00:02+00', '\\a\b', '\', 1.7976931348623157e308, 0, NULL),
	('2026-01-01 00:00:03+00', '#not a comment', '', 5e-324, NULL, NULL),
	('2026-01-01 00:00:04+00', ' lead and trail ', E'\r\n"', 123456789.123456789, 1, true),
	('2026-01-01 00:00:05+00', E'tab\tcr\r', 'x', 0.1, 2, false),
	('2026-01-01 00:00:06+00', 'a=b', '=,', -2.5e-10, 3, true),
	('2026-01-01 00:00:07.123456+00', NULL, 'no tag', 3, 4, NULL);
-- everything reads back exactly
SELECT "ti me", "t,a=g x", "f""i\eld", "n=1, 2", "i,=", "b" FROM hostile ORDER BY 1;
SELECT "t,a=g x", length("t,a=g x"), length("f""i\eld") FROM hostile ORDER BY "ti me";
-- and natively: InfluxDB stored the very names and values
SELECT r->>'measurement' AS measurement, r->>'t,a=g x' AS tag, r->>'f"i\eld' AS field,
	   (r->>'n=1, 2')::float8 AS float, r->'i,=' AS int
FROM mesh.execute('ifxw', 'SELECT * FROM "m,e a=s\"ure\\ment="') r ORDER BY r->>'time';
SELECT * FROM mesh.execute('ifxw', 'SHOW TAG KEYS FROM "m,e a=s\"ure\\ment="');
SELECT r->>'fieldKey' AS key, r->>'fieldType' AS type
FROM mesh.execute('ifxw', 'SHOW FIELD KEYS FROM "m,e a=s\"ure\\ment="') r ORDER BY 1;
-- pushed conditions on hostile values find them
SELECT "ti me" FROM hostile WHERE "t,a=g x" = 'v,a=l u"e\x';
SELECT "ti me" FROM hostile WHERE "f""i\eld" = E'str "q" \\ \n nl \\n';
SELECT "ti me" FROM hostile WHERE "t,a=g x" IN ('ünï ✓ 🚀 ключ', E'tab\tcr\r', '\\a\b') ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT "ti me" FROM hostile WHERE "t,a=g x" = 'v,a=l u"e\x' AND "f""i\eld" <> E'\n';
SELECT * FROM mesh.execute('ifxw', 'SELECT "i,=" FROM "m,e a=s\"ure\\ment=" WHERE "t,a=g x" = $t', '{"t": "v,a=l u\"e\\x"}');

-- what line protocol cannot hold is an error naming the column, and the
-- statement writes nothing of that batch
INSERT INTO hostile ("ti me", "t,a=g x", "n=1, 2") VALUES ('2026-01-02', 'trailing\', 1);
INSERT INTO hostile ("ti me", "t,a=g x", "n=1, 2") VALUES ('2026-01-02', 'x\,y', 1);
INSERT INTO hostile ("ti me", "t,a=g x", "n=1, 2") VALUES ('2026-01-02', E'new\nline', 1);
INSERT INTO hostile ("ti me", "n=1, 2") VALUES ('2026-01-02', 'NaN');
INSERT INTO hostile ("ti me", "n=1, 2") VALUES ('2026-01-02', 'Infinity');
INSERT INTO hostile ("ti me", "t,a=g x") VALUES ('2026-01-02', 'only a tag');
INSERT INTO hostile ("t,a=g x", "n=1, 2") VALUES ('no time', 1);
INSERT INTO hostile ("ti me", "n=1, 2") VALUES ('2263-01-01', 1);
INSERT INTO hostile ("ti me", "n=1, 2") VALUES ('1677-01-01', 1);
CREATE FOREIGN TABLE bad_names (time timestamptz, "a" float8) SERVER ifxw OPTIONS (measurement '#comment');
INSERT INTO bad_names VALUES ('2026-01-01', 1);
CREATE FOREIGN TABLE bad_keys (time timestamptz, "x\" float8) SERVER ifxw;
INSERT INTO bad_keys VALUES ('2026-01-01', 1);
CREATE FOREIGN TABLE bad_keys2 (time timestamptz, "x" float8 OPTIONS (name 'time')) SERVER ifxw;
INSERT INTO bad_keys2 VALUES ('2026-01-01', 1);
SELECT count(*) FROM hostile;

-- a second precision: seconds; a finer time is refused, not truncated
CREATE SERVER ifx_s FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url :'influx_url', database 'mesh_write', precision 's');
CREATE FOREIGN TABLE sec (time timestamptz, v bigint) SERVER ifx_s;
INSERT INTO sec VALUES ('2026-01-01 00:00:01+00', 1), ('1969-12-31 23:59:59+00', 2);
INSERT INTO sec VALUES ('2026-01-01 00:00:01.5+00', 3);
SELECT * FROM sec ORDER BY time;
-- timestamp without time zone is UTC
CREATE FOREIGN TABLE sec_local (time timestamp, v bigint) SERVER ifxw OPTIONS (measurement 'sec');
SELECT * FROM sec_local ORDER BY time;

-- a batch larger than batch_size (7) goes in several writes
CREATE FOREIGN TABLE bulk (time timestamptz, k text OPTIONS (tag 'true'), v bigint, s text) SERVER ifxw;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
INSERT INTO bulk SELECT '2026-01-01'::timestamptz + g * interval '1 ms', 'k' || (g % 4), g, repeat('x', g % 50)
	FROM generate_series(1, 30) g;
SELECT count(*), sum(v), sum(length(s)) FROM bulk;
-- the same point again overwrites it (fields merge, as InfluxDB does)
INSERT INTO bulk VALUES ('2026-01-01 00:00:00.001+00', 'k1', 1000, NULL);
SELECT v, length(s) FROM bulk WHERE k = 'k1' AND time = '2026-01-01 00:00:00.001+00';
-- UPDATE and DELETE are refused
UPDATE bulk SET v = 0 WHERE k = 'k1';
DELETE FROM bulk WHERE k = 'k2';
-- deletes go through InfluxQL
SELECT * FROM mesh.execute('ifxw', 'DELETE FROM "bulk" WHERE "k" = ''k2''');
SELECT count(*) FROM bulk;

-- IMPORT FOREIGN SCHEMA: a table per measurement, time, tags, typed fields
CREATE SCHEMA imported;
IMPORT FOREIGN SCHEMA mesh_write FROM SERVER ifxw INTO imported;
SELECT foreign_table_name FROM information_schema.foreign_tables
WHERE foreign_table_schema = 'imported' ORDER BY 1;
\d imported."m,e a=s""ure\ment="
\d imported.bulk
SELECT "ti me", "t,a=g x", "f""i\eld", "n=1, 2" FROM hostile
EXCEPT ALL SELECT time, "t,a=g x", "f""i\eld", "n=1, 2" FROM imported."m,e a=s""ure\ment=";
SELECT count(*) FROM imported."m,e a=s""ure\ment=";
CREATE SCHEMA imported_some;
IMPORT FOREIGN SCHEMA mesh_write LIMIT TO (bulk) FROM SERVER ifxw INTO imported_some;
SELECT foreign_table_name FROM information_schema.foreign_tables
WHERE foreign_table_schema = 'imported_some';
-- another database than the server's: tables carry the database option
SELECT * FROM mesh.execute('ifxw', 'DROP DATABASE "mesh write 2"');
SELECT * FROM mesh.execute('ifxw', 'CREATE DATABASE "mesh write 2"');
CREATE FOREIGN TABLE other (time timestamptz, host text OPTIONS (tag 'true'), v double precision, i bigint)
	SERVER ifxw OPTIONS (database 'mesh write 2');
INSERT INTO other VALUES ('2026-01-01', 'a', 1.5, 1);
-- InfluxDB's own refusal (a field type conflict) comes with its message
CREATE FOREIGN TABLE other_conflict (time timestamptz, host text OPTIONS (tag 'true'), i text)
	SERVER ifxw OPTIONS (database 'mesh write 2', measurement 'other');
INSERT INTO other_conflict VALUES ('2026-01-01 00:00:01', 'a', 'text now');
CREATE SCHEMA imported2;
IMPORT FOREIGN SCHEMA "mesh write 2" FROM SERVER ifxw INTO imported2;
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
WHERE c.relnamespace = 'imported2'::regnamespace;
SELECT * FROM imported2.other;
IMPORT FOREIGN SCHEMA mesh_no_such_db FROM SERVER ifxw INTO imported2;
-- leave nothing behind for the suites that follow
SET client_min_messages = warning;
DROP SCHEMA imported, imported_some, imported2 CASCADE;
DROP SERVER ifxw, ifx_s CASCADE;
RESET client_min_messages;
