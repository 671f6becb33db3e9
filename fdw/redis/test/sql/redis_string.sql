-- servers: redis
-- Redis string keys: reads, writes, pushdown, hostile keys and values.
\getenv redis_port MESH_REDIS_PORT
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'redis_port');
SELECT * FROM mesh.execute('cache', 'FLUSHDB');
CREATE FOREIGN TABLE kv (key text, value text)
	SERVER cache OPTIONS (type 'string', key_prefix 'kv:');

INSERT INTO kv VALUES ('a', '1'), ('b', '2'), ('c', 'three'), ('empty', '');
SELECT * FROM kv ORDER BY key;
-- the prefix is in Redis, never in the key column
SELECT * FROM mesh.execute('cache', 'GET kv:c');
SELECT * FROM mesh.execute('cache', 'GET kv:empty');

-- pushdown: =, = ANY (deduplicated, one MGET), LIKE (SCAN MATCH), none (SCAN)
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM kv WHERE key = 'b';
SELECT * FROM kv WHERE key = 'b';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM kv WHERE key IN ('c', 'a', 'zz', 'a');
SELECT * FROM kv WHERE key IN ('c', 'a', 'zz', 'a') ORDER BY key;
SELECT * FROM kv WHERE key = ANY (ARRAY['b', NULL, 'c']) ORDER BY key;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM kv WHERE key LIKE 'e%';
SELECT * FROM kv WHERE key LIKE 'e%';
SELECT * FROM kv WHERE key LIKE '_' ORDER BY key;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM kv;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM kv WHERE value = '1';
SELECT * FROM kv WHERE key = 'missing';
SELECT * FROM kv WHERE key = NULL;
-- round trips are counted
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM kv WHERE key IN ('a', 'b');

-- writes
UPDATE kv SET value = 'uno' WHERE key = 'a';
UPDATE kv SET key = 'b2' WHERE key = 'b';
DELETE FROM kv WHERE key = 'c';
SELECT * FROM kv ORDER BY key;
SELECT * FROM mesh.execute('cache', 'EXISTS kv:b');
INSERT INTO kv VALUES ('n', NULL);
INSERT INTO kv VALUES (NULL, 'x');
INSERT INTO kv VALUES ('r', 'returned') RETURNING *;

-- hostile keys and values round-trip: spaces, quotes, newlines, glob
-- characters, backslashes, unicode
INSERT INTO kv VALUES
	('with space', 'a b'),
	('quote''s "double"', 'it''s "quoted"'),
	(E'new\nline', E'tab\there\r\nend'),
	('glob*?[x]\', 'star*'),
	('ünïcødé ключ 鍵', '値 ✓ 🚀');
SELECT key, value, length(value) FROM kv
	WHERE key IN ('with space', 'quote''s "double"', E'new\nline', 'glob*?[x]\', 'ünïcødé ключ 鍵')
	ORDER BY key;
SELECT * FROM kv WHERE key = E'new\nline';
SELECT key FROM kv WHERE key LIKE 'glob*?%';
SELECT key FROM kv WHERE key LIKE 'glob\*%';
SELECT key FROM kv WHERE key LIKE 'ünï%';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM kv WHERE key = E'new\nline';
-- a huge value
INSERT INTO kv VALUES ('huge', repeat('x', 1000000));
SELECT length(value) FROM kv WHERE key = 'huge';

-- binary values through bytea
CREATE FOREIGN TABLE kv_bin (key text, value bytea)
	SERVER cache OPTIONS (type 'string', key_prefix 'bin:');
INSERT INTO kv_bin VALUES ('b', '\x00ff0a27225c'::bytea);
SELECT key, value FROM kv_bin;
-- invalid text read as text is an error naming the column, not a crash
CREATE FOREIGN TABLE kv_bin_as_text (key text, value text)
	SERVER cache OPTIONS (type 'string', key_prefix 'bin:');
SELECT * FROM kv_bin_as_text;
-- typed values go through the type's input function
CREATE FOREIGN TABLE kv_int (key int, value int) SERVER cache OPTIONS (key_prefix 'int:');
INSERT INTO kv_int SELECT g, g * 10 FROM generate_series(1, 100) g;
SELECT sum(value), count(*) FROM kv_int;
SELECT * FROM kv_int WHERE key = 42;
SELECT * FROM kv_int WHERE key IN (1, 2, 3) ORDER BY key;
INSERT INTO kv VALUES ('notint', 'abc');
CREATE FOREIGN TABLE kv_bad_int (key text, value int) SERVER cache OPTIONS (key_prefix 'kv:');
SELECT * FROM kv_bad_int WHERE key = 'notint';

-- joins with a local table push the keys per outer row
CREATE TABLE wanted (k int);
INSERT INTO wanted VALUES (5), (7), (500);
SELECT w.k, i.value FROM wanted w JOIN kv_int i ON i.key = w.k ORDER BY w.k;

-- bulk insert and delete are pipelined
INSERT INTO kv SELECT 'bulk' || g, g::text FROM generate_series(1, 5000) g;
SELECT count(*) FROM kv WHERE key LIKE 'bulk%';
DELETE FROM kv WHERE key LIKE 'bulk%';
SELECT count(*) FROM kv WHERE key LIKE 'bulk%';

-- table and column option changes take effect at once in this session
PREPARE kv_get(text) AS SELECT * FROM kv WHERE key = $1;
EXECUTE kv_get('a');
ALTER FOREIGN TABLE kv OPTIONS (SET key_prefix 'int:');
EXECUTE kv_get('42');
SELECT * FROM kv WHERE key = '42';
ALTER FOREIGN TABLE kv OPTIONS (SET key_prefix 'kv:');
ALTER FOREIGN TABLE kv ALTER COLUMN value TYPE bytea;
SELECT key, value FROM kv WHERE key = 'a';
ALTER FOREIGN TABLE kv ALTER COLUMN value TYPE text;
EXECUTE kv_get('a');
DEALLOCATE kv_get;

DROP TABLE wanted;
DROP SERVER cache CASCADE;
