-- servers: redis
-- Redis hash, list, set and zset tables.
\getenv redis_port MESH_REDIS_PORT
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'redis_port');
SELECT * FROM mesh.execute('cache', 'FLUSHDB');

-- hash: one row per key, one column per field, typed through input functions
CREATE FOREIGN TABLE readings (id int OPTIONS (key 'true'), sensor text, v float8,
	ts timestamptz, note text OPTIONS (field 'comment'))
	SERVER cache OPTIONS (type 'hash', key_prefix 'reading:');
INSERT INTO readings VALUES
	(1, 's1', 20.5, '2026-01-01 00:00:00+00', 'first'),
	(2, 's2', -3.25, '2026-01-01 00:01:00+00', NULL),
	(3, 's1', NULL, NULL, '');
SELECT * FROM readings ORDER BY id;
-- the replica layout: fields named after columns, values in text form
SELECT * FROM mesh.execute('cache', 'HGETALL reading:1');
SELECT * FROM mesh.execute('cache', 'HGETALL reading:2');
-- NULL is an absent field, '' an empty one
SELECT id, v IS NULL AS v_null, note IS NULL AS note_null, note = '' AS note_empty
	FROM readings WHERE id IN (2, 3) ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM readings WHERE id = 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM readings WHERE id IN (1, 3);
SELECT avg(v), count(*) FROM readings WHERE sensor = 's1';
UPDATE readings SET v = 99.5, note = NULL WHERE id = 1;
SELECT * FROM mesh.execute('cache', 'HGETALL reading:1');
UPDATE readings SET id = 10 WHERE id = 3;
SELECT id FROM readings ORDER BY id;
DELETE FROM readings WHERE id = 2;
SELECT id, sensor FROM readings ORDER BY id;
-- fields not declared as columns are ignored on read and kept on update
SELECT * FROM mesh.execute('cache', 'HSET reading:1 extra kept');
UPDATE readings SET sensor = 's9' WHERE id = 1;
SELECT * FROM mesh.execute('cache', 'HGET reading:1 extra');
-- keys of another type under the prefix are not rows of a hash table
SELECT * FROM mesh.execute('cache', 'SET reading:99 not-a-hash');
SELECT id FROM readings ORDER BY id;
SELECT id FROM readings WHERE id = 99;
-- a value that does not fit its column is an error naming the column
SELECT * FROM mesh.execute('cache', 'HSET reading:50 v notanumber');
SELECT * FROM readings WHERE id = 50;

-- list: one row per element; index identifies an element
CREATE FOREIGN TABLE queue (key text, index int, value text)
	SERVER cache OPTIONS (type 'list', key_prefix 'q:');
INSERT INTO queue (key, value) VALUES ('jobs', 'a'), ('jobs', 'b'), ('jobs', 'c'), ('jobs', 'd');
SELECT * FROM queue ORDER BY key, index;
UPDATE queue SET value = 'B' WHERE key = 'jobs' AND index = 1;
DELETE FROM queue WHERE key = 'jobs' AND index IN (0, 2);
SELECT * FROM queue ORDER BY key, index;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM queue WHERE key = 'jobs';
UPDATE queue SET index = 5 WHERE key = 'jobs' AND index = 0;
CREATE FOREIGN TABLE queue_noindex (key text, value text)
	SERVER cache OPTIONS (type 'list', key_prefix 'q:');
SELECT * FROM queue_noindex ORDER BY value;
DELETE FROM queue_noindex;

-- set: (key, member)
CREATE FOREIGN TABLE tags (key text, member text) SERVER cache OPTIONS (type 'set', key_prefix 'tags:');
INSERT INTO tags VALUES ('post1', 'red'), ('post1', 'blue'), ('post2', 'red'), ('post1', 'red');
SELECT * FROM tags ORDER BY key, member;
UPDATE tags SET member = 'green' WHERE key = 'post1' AND member = 'blue';
DELETE FROM tags WHERE key = 'post2';
SELECT * FROM tags ORDER BY key, member;
SELECT * FROM tags WHERE key LIKE 'post%' ORDER BY member;

-- zset: (key, member, score)
CREATE FOREIGN TABLE board (key text, member text, score float8)
	SERVER cache OPTIONS (type 'zset', key_prefix 'board:');
INSERT INTO board VALUES ('game', 'ann', 10), ('game', 'bob', 7.5), ('game', 'cy', 12);
SELECT * FROM board ORDER BY score DESC;
UPDATE board SET score = score + 1 WHERE member = 'bob';
DELETE FROM board WHERE member = 'cy';
SELECT * FROM board ORDER BY score DESC;
SELECT * FROM mesh.execute('cache', 'ZRANGE board:game 0 -1 WITHSCORES');
INSERT INTO board VALUES ('game', 'dan', NULL);

DROP SERVER cache CASCADE;
