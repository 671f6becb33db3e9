-- servers: (the hub only)
-- DuckDB (embedded libduckdb): mesh.execute, IMPORT FOREIGN SCHEMA, scans
-- with WHERE/ORDER BY/LIMIT/aggregate pushdown (results equal to the same
-- queries run locally), generic plans, INSERT through a foreign table,
-- hostile identifiers and values, a CSV file read by DuckDB, health, bad
-- options and paths, and the one-writer rule between two processes.
\getenv dir MESH_TEST_DIR
\getenv pg_port MESH_PG_PORT
\set ddir :dir '/pg_hub/duckdb_scan'
\set dbfile :ddir '/scan.duckdb'
\set csvfile :ddir '/rows.csv'
\set cmd 'rm -rf ' :ddir ' && mkdir -p ' :ddir '; cat > /dev/null'
COPY (SELECT 1) TO PROGRAM :'cmd';
CREATE SERVER dd FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path :'dbfile');

-- a table with every mapped type and a hostile name
SELECT * FROM mesh.execute('dd', $$CREATE TABLE "we""ird tbl" (id INTEGER PRIMARY KEY,
	name VARCHAR, price DECIMAL(10,2), ratio DOUBLE, flag BOOLEAN, day DATE, ts TIMESTAMP,
	tstz TIMESTAMPTZ, iv INTERVAL, u UUID, data BLOB, doc JSON, nums INTEGER[], words VARCHAR[],
	big BIGINT, "we""ird col" VARCHAR)$$);
SELECT * FROM mesh.execute('dd', $$INSERT INTO "we""ird tbl"
	SELECT g, 'n' || (g % 4), g * 1.25, g / 8.0, g % 2 = 0, DATE '2026-01-01' + CAST(g AS INTEGER),
		TIMESTAMP '2026-01-01 10:00:00' + g * INTERVAL 1 MINUTE,
		TIMESTAMPTZ '2026-01-01 00:00:00+00' + g * INTERVAL 1 HOUR, g * INTERVAL 1 DAY,
		CAST(md5(CAST(g AS VARCHAR)) AS UUID), unhex(printf('%04x', g)),
		CAST(json_object('g', g) AS JSON), [g, g + 1], ['w' || g, NULL], g * 1000000000000,
		'v' || g
	FROM range(1, 21) t(g)$$);
-- hostile values: quotes, double quotes, backslashes, newline, tab, unicode
SELECT * FROM mesh.execute('dd', $$INSERT INTO "we""ird tbl" (id, name, words, ratio) VALUES
	(100, 'it''s "q" \n back\slash' || chr(10) || 'line2' || chr(9) || 'tab ünï €', ['a,b', '{c}', 'd"e', 'f\g'], 'NaN'),
	(101, NULL, [], NULL)$$);

CREATE SCHEMA ddimp;
IMPORT FOREIGN SCHEMA main FROM SERVER dd INTO ddimp;
SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
WHERE attrelid = 'ddimp."we""ird tbl"'::regclass AND attnum > 0 ORDER BY attnum;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'ddimp."we""ird tbl"'::regclass;
ALTER FOREIGN TABLE ddimp."we""ird tbl" RENAME TO t;

SELECT * FROM ddimp.t WHERE id IN (1, 2, 100, 101) ORDER BY id;
SELECT name, name = 'it''s "q" \n back\slash' || chr(10) || 'line2' || chr(9) || 'tab ünï €' AS exact
FROM ddimp.t WHERE id = 100;

-- the same queries run locally give the same answers
CREATE TEMP TABLE local_t AS SELECT * FROM ddimp.t;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, name FROM ddimp.t WHERE id > 3 AND name = 'n1' ORDER BY id DESC LIMIT 2;
SELECT id, name FROM ddimp.t WHERE id > 3 AND name = 'n1' ORDER BY id DESC LIMIT 2;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ddimp.t WHERE name LIKE 'it''s "q" \\%' AND words IS NOT NULL;
SELECT id FROM ddimp.t WHERE name LIKE 'it''s "q" \\%' AND words IS NOT NULL;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM ddimp.t WHERE tstz >= '2026-01-01 05:00+00' AND id = ANY('{3,5,6,7,NULL}') ORDER BY id;
SELECT id FROM ddimp.t WHERE tstz >= '2026-01-01 05:00+00' AND id = ANY('{3,5,6,7,NULL}') ORDER BY id;
SELECT id FROM ddimp.t WHERE name LIKE 'it''s "q" \\%' OR (tstz >= '2026-01-01 05:00+00' AND id < 8) ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT flag, count(*), count(name), sum(id), sum(price), avg(price), min(ratio), max(day), max(tstz)
FROM ddimp.t WHERE id < 100 GROUP BY flag ORDER BY flag;
SELECT flag, count(*), count(name), sum(id), sum(price), avg(price), min(ratio), max(day), max(tstz)
FROM ddimp.t WHERE id < 100 GROUP BY flag ORDER BY flag;
SELECT flag, count(*), count(name), sum(id), sum(price), avg(price), min(ratio), max(day), max(tstz)
FROM local_t WHERE id < 100 GROUP BY flag ORDER BY flag;
(SELECT * FROM ddimp.t EXCEPT SELECT * FROM local_t) UNION ALL
(SELECT * FROM local_t EXCEPT SELECT * FROM ddimp.t);
SELECT (SELECT count(*) FROM ddimp.t WHERE ratio > 1) = (SELECT count(*) FROM local_t WHERE ratio > 1) AS nan_same,
	(SELECT max(ratio) FROM ddimp.t) AS max_ratio;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM ddimp.t WHERE u = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';
SELECT id FROM ddimp.t WHERE u = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b' AND data = '\x0001' AND iv = '1 day';
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ddimp.t WHERE "we""ird col" = 'v3';
SELECT id FROM ddimp.t WHERE "we""ird col" = 'v3';
-- a value that does not fit the declared type: an error naming the column
CREATE FOREIGN TABLE dd_narrow (id int, big int) SERVER dd OPTIONS (table 'we"ird tbl');
SELECT big FROM dd_narrow WHERE id = 3;
DROP FOREIGN TABLE dd_narrow;
-- text ordering is not pushed (collation), so it is sorted here
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM ddimp.t ORDER BY name LIMIT 1;

-- generic plans keep pushing the parameter
PREPARE q(int) AS SELECT name FROM ddimp.t WHERE id = $1;
EXECUTE q(1); EXECUTE q(2); EXECUTE q(3); EXECUTE q(4); EXECUTE q(5); EXECUTE q(6); EXECUTE q(7);
EXECUTE q(100);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q(8);
DEALLOCATE q;

-- INSERT through a foreign table (appender + one INSERT ... SELECT)
INSERT INTO ddimp.t (id, name, price, tstz, data, nums, words, doc, iv, u, flag)
VALUES (200, E'ins \'x\' "y" \\ z\n', 9.99, '2026-05-05 05:05:05.123456+02', '\xdeadbeef',
	'{7,NULL,9}', '{"p q",NULL,"r\"s"}', '{"k": [1, "two"]}', '1 year 2 mons 3 days 04:05:06', gen_random_uuid(), true),
	(201, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT id, name, price, tstz, data, nums, words, doc, iv, flag FROM ddimp.t WHERE id >= 200 ORDER BY id;
INSERT INTO ddimp.t (id) VALUES (200);
UPDATE ddimp.t SET name = 'x' WHERE id = 1;
DELETE FROM ddimp.t;

-- mesh.execute: DuckDB SQL over a CSV file the test wrote, with parameters
COPY (SELECT g AS id, 'city ' || (g % 3) AS city, g * 2.5 AS amount FROM generate_series(1, 30) g)
	TO :'csvfile' WITH (FORMAT csv, HEADER);
\set csvsql 'SELECT city, count(*) AS n, sum(amount) AS total FROM read_csv_auto(''' :csvfile ''') GROUP BY city ORDER BY city'
SELECT * FROM mesh.execute('dd', :'csvsql');
SELECT * FROM mesh.execute('dd', 'SELECT $1 AS a, $2 AS b, $3::INTEGER + 1 AS c, $4 AS d', '["x''y", true, 41, null]');
SELECT * FROM mesh.execute('dd', 'SELECT $name AS n', '{"name": "named"}');
SELECT * FROM mesh.execute('dd', 'SELECT id, nums, words FROM ddimp_nothing');
SELECT * FROM mesh.execute('dd', 'SELECT $nope', '{"name": 1}');

-- a long DuckDB statement is interrupted by statement_timeout (and cancel)
SET statement_timeout = '300ms';
SELECT * FROM mesh.execute('dd', 'SELECT count(*) AS n FROM range(100000000000) a WHERE a.range % 7 = 3');
RESET statement_timeout;
SELECT * FROM mesh.execute('dd', 'SELECT 1 AS still_works');

-- health: open + SELECT version()
SELECT server, kind, ok, version LIKE 'v1.%' AS version_ok, error FROM mesh.health() WHERE server = 'dd';

-- bad options and paths
CREATE SERVER dd_bad FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (pathh '/tmp/x');
CREATE SERVER dd_bad FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (threads 'many');
CREATE SERVER dd_rel FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path 'relative.duckdb');
SELECT * FROM mesh.execute('dd_rel', 'SELECT 1');
CREATE SERVER dd_nodir FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path '/nonexistent/dir/x.duckdb');
SELECT * FROM mesh.execute('dd_nodir', 'SELECT 1');
CREATE SERVER dd_mem FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path ':memory:', memory_limit 'lots');
SELECT * FROM mesh.execute('dd_mem', 'SELECT 1');
SELECT server, ok, error FROM mesh.health() WHERE server IN ('dd_rel', 'dd_nodir') ORDER BY server;

-- the one-writer rule: while this transaction reads the file, another
-- process cannot open it read-write; it waits timeout_ms, then fails with
-- a clear error
ALTER SERVER dd OPTIONS (ADD timeout_ms '300');
\set out :ddir '/other.out'
\set other 'psql -X -q -h 127.0.0.1 -p ' :pg_port ' -d ' :DBNAME ' -c "INSERT INTO ddimp.t (id) VALUES (300)" > ' :out ' 2>&1; true' '; cat > /dev/null'
BEGIN;
SELECT count(*) FROM ddimp.t;
COPY (SELECT 1) TO PROGRAM :'other';
COMMIT;
SELECT regexp_replace(replace(pg_read_file(:'out'), :'ddir', 'DDIR'), 'held in \S+ \(PID [0-9]+\)', 'held in POSTGRES (PID N)', 'g') AS other_process;
-- once the transaction ended, the other process can write
\set other 'psql -X -q -h 127.0.0.1 -p ' :pg_port ' -d ' :DBNAME ' -c "INSERT INTO ddimp.t (id) VALUES (300)" > ' :out ' 2>&1; true' '; cat > /dev/null'
COPY (SELECT 1) TO PROGRAM :'other';
SELECT pg_read_file(:'out') AS other_process, (SELECT count(*) FROM ddimp.t WHERE id = 300) AS inserted;

DROP SCHEMA ddimp CASCADE;
DROP SERVER dd, dd_rel, dd_nodir, dd_mem;
\set cmd 'rm -rf ' :ddir '; cat > /dev/null'
COPY (SELECT 1) TO PROGRAM :'cmd';
