-- servers: clickhouse
-- ClickHouse writes through foreign tables: batched RowBinary INSERTs,
-- exact floats, every mapped type, hostile identifiers and values
-- (quotes, backslashes, backticks, newlines, tabs, unicode) round-tripping
-- exactly, UPDATE/DELETE refused, mesh.execute with parameters.
\getenv ch_port MESH_CLICKHOUSE_PORT
\set ch_url 'http://127.0.0.1:' :ch_port
CREATE SERVER ch_write FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url');
SELECT * FROM mesh.execute('ch_write', 'DROP DATABASE IF EXISTS mesh_write');
SELECT * FROM mesh.execute('ch_write', 'CREATE DATABASE mesh_write');
SELECT * FROM mesh.execute('ch_write', $$
	CREATE TABLE mesh_write.t (id Int64, f Float64, r Float32, n Nullable(Decimal(20, 4)),
		s String, b UInt8, d Date, ts DateTime, u UUID, bin String,
		arr Array(Nullable(String)), e Enum8('red' = 1, 'green' = 2), big UInt64)
	ENGINE = MergeTree ORDER BY id$$);
CREATE FOREIGN TABLE t (id bigint, f float8, r real, n numeric(20, 4), s text, b boolean,
	d date, ts timestamptz, u uuid, bin bytea, arr text[], e text, big numeric(20, 0))
	SERVER ch_write OPTIONS (database 'mesh_write', batch_size '1000');

-- 10000 rows in batches of 1000; floats whose text ClickHouse 18.16 would
-- parse inexactly arrive bit for bit (RowBinary)
INSERT INTO t SELECT g, (g * 1.1e-7)::float8 + 1e-300 * g, (g / 3.0)::real,
	CASE WHEN g % 10 = 0 THEN NULL ELSE g / 7.0 END, 's' || g, g % 2 = 0,
	'2026-01-01'::date + g % 365, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1.5 s',
	md5(g::text)::uuid, decode(lpad(to_hex(g), 8, '0'), 'hex'), ARRAY['a' || g, NULL], 'green',
	18446744073709551615 - g
FROM generate_series(1, 10000) g;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) INSERT INTO t SELECT * FROM t WHERE id < 0;
SELECT * FROM mesh.execute('ch_write', 'SELECT count() AS n, sum(id) AS s FROM mesh_write.t');
CREATE TEMP TABLE sent AS SELECT g AS id, (g * 1.1e-7)::float8 + 1e-300 * g AS f, (g / 3.0)::real AS r,
	CASE WHEN g % 10 = 0 THEN NULL ELSE round(g / 7.0, 4) END AS n, 's' || g AS s, g % 2 = 0 AS b,
	'2026-01-01'::date + g % 365 AS d, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s' * 1.5 AS ts,
	md5(g::text)::uuid AS u, decode(lpad(to_hex(g), 8, '0'), 'hex') AS bin, ARRAY['a' || g, NULL] AS arr,
	'green'::text AS e, 18446744073709551615 - g AS big
FROM generate_series(1, 10000) g;
-- every value read back equals what was sent, except the DateTime's
-- fraction of a second (second precision, documented)
CREATE TEMP TABLE back AS SELECT * FROM t;
SELECT count(*) AS rows,
	count(*) FILTER (WHERE t.f = s.f AND t.r = s.r AND t.n IS NOT DISTINCT FROM s.n AND t.s = s.s
		AND t.b = s.b AND t.d = s.d AND t.u = s.u AND t.bin = s.bin AND t.arr = s.arr
		AND t.e = s.e AND t.big = s.big) AS equal,
	count(*) FILTER (WHERE t.ts = date_trunc('second', s.ts)) AS ts_to_the_second
FROM back t JOIN sent s USING (id);
SELECT * FROM t WHERE id IN (1, 10) ORDER BY id;

-- values that do not fit their ClickHouse type are errors naming the column
INSERT INTO t (id, f, r, s, b, d, ts, u, bin, arr, e, big) VALUES
	(1, 0, 0, '', true, '1969-12-31', now(), md5('x')::uuid, '', '{}', 'red', 0);
INSERT INTO t (id, f, r, s, b, d, ts, u, bin, arr, e, big) VALUES
	(1, 0, 0, '', true, '2026-01-01', now(), md5('x')::uuid, '', '{}', 'blue', 0);
INSERT INTO t (id, f, r, s, b, d, ts, u, bin, arr, e, big) VALUES
	(1, 0, 0, NULL, true, '2026-01-01', now(), md5('x')::uuid, '', '{}', 'red', 0);
INSERT INTO t (id, f, r, s, b, d, ts, u, bin, arr, e, big) VALUES
	(1, 0, 0, '', true, '2026-01-01', '2106-01-01 00:00:00+00', md5('x')::uuid, '', '{}', 'red', 0);
INSERT INTO t (id, f, r, s, b, d, ts, u, bin, arr, e, big) VALUES
	(1, 0, 0, '', true, '2026-01-01', now(), md5('x')::uuid, '', '{}', 'red', -1);
CREATE FOREIGN TABLE t_wide (id bigint, no_such_column text)
	SERVER ch_write OPTIONS (database 'mesh_write', "table" 't');
INSERT INTO t_wide VALUES (1, 'x');
CREATE FOREIGN TABLE t_missing (id bigint) SERVER ch_write OPTIONS (database 'mesh_write');
INSERT INTO t_missing VALUES (1);
-- UPDATE and DELETE are refused (ClickHouse mutations are asynchronous)
UPDATE t SET s = 'x' WHERE id = 1;
DELETE FROM t WHERE id = 1;
INSERT INTO t (id, f, r, s, b, d, ts, u, bin, arr, e, big)
	VALUES (-1, 1.5, 2.5, 'returned', false, '2026-01-01', '2026-01-01 00:00:00+00',
	        md5('r')::uuid, '\x00ff', '{x}', 'red', 7)
	RETURNING id, s, bin, arr;
SELECT * FROM mesh.execute('ch_write', 'SELECT count() AS n FROM mesh_write.t');

-- hostile identifiers: a table and columns named with quotes, backticks,
-- backslashes, newlines, tabs, spaces, commas, = signs and unicode
SELECT * FROM mesh.execute('ch_write', E'CREATE TABLE mesh_write.`we\\`ird ''t''\\\\ \\n ü` (`k` Int32, `a \\`b\\` \\\\c` String, `quo''te "dq"` String, `new\\nline\\ttab`  String, `sp ace,=x 鍵` String) ENGINE = MergeTree ORDER BY k');
CREATE SCHEMA hostile;
IMPORT FOREIGN SCHEMA mesh_write LIMIT TO ("we`ird 't'\ 
 ü") FROM SERVER ch_write INTO hostile;
SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	WHERE c.relnamespace = 'hostile'::regnamespace AND a.attnum > 0 ORDER BY a.attnum;
-- hostile values in every column
INSERT INTO hostile."we`ird 't'\ 
 ü" VALUES
	(1, E'it''s \\ "q" `b`', E'new\nline\ttab\r\n', E'\\N', 'ünïcødé ключ 鍵 🚀'),
	(2, '', E'\\', E'\\\\t', 'a,b=c d'),
	(3, E'\'\'', E'\t', '`', E'\x01\x1f');
SELECT k, to_jsonb(h) - 'k' AS row FROM hostile."we`ird 't'\ 
 ü" h ORDER BY k;
-- read back natively: the same strings
SELECT r FROM mesh.execute('ch_write', E'SELECT * FROM mesh_write.`we\\`ird ''t''\\\\ \\n ü` ORDER BY k') r;
-- and pushed down as literals
EXPLAIN (VERBOSE, COSTS OFF) SELECT k FROM hostile."we`ird 't'\ 
 ü" WHERE "a `b` \c" = E'it''s \\ "q" `b`' AND "new
line	tab" LIKE E'\\\\%';
SELECT k FROM hostile."we`ird 't'\ 
 ü" WHERE "a `b` \c" = E'it''s \\ "q" `b`';
SELECT k FROM hostile."we`ird 't'\ 
 ü" WHERE "new
line	tab" LIKE E'\\\\%' ORDER BY k;
SELECT k FROM hostile."we`ird 't'\ 
 ü" WHERE "sp ace,=x 鍵" IN ('ünïcødé ключ 鍵 🚀', 'a,b=c d') ORDER BY k;

-- mesh.execute: rows as jsonb, 64-bit integers exact, parameters escaped
SELECT * FROM mesh.execute('ch_write', $$SELECT toUInt64(18446744073709551615) AS u64,
	toInt64(-9223372036854775808) AS i64, 0.1 AS f, inf AS i, nan AS n, NULL AS z,
	[1, 2] AS a, 'x' AS s$$);
SELECT * FROM mesh.execute('ch_write', $$SELECT {s:String} AS s, {n:Int32} + 1 AS n,
	{z:String} AS z, {a:Array(String)} AS a, '{s:String}' AS literal -- {s:String}
	$$, '{"s": "it''s \\ `x` {s:String}", "n": 41, "z": null, "a": ["x''", "y"]}');
SELECT * FROM mesh.execute('ch_write', 'SELECT {missing:Int32}', '{}');
SELECT * FROM mesh.execute('ch_write', 'SELECT {x:Int32); DROP TABLE t}', '{"x": 1}');
SELECT * FROM mesh.execute('ch_write', 'SELECT 1', '[1]');
SELECT * FROM mesh.execute('ch_write', 'SELECT ''a'' FORMAT TabSeparated');

DROP SCHEMA hostile CASCADE;
DROP SERVER ch_write CASCADE;
