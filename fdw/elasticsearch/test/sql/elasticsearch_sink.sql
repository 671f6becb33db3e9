-- servers: opensearch
-- Replication to Elasticsearch/OpenSearch (_bulk): the index created on
-- demand (mappings from the column types, or the route's mappings and
-- settings), backfill, inserts, updates, deletes, hostile values, external
-- versions by event id (a replay never puts an older row over a newer one),
-- a mapping conflict dead-lettering one event while the rest of the batch
-- lands, a composite key, TRUNCATE, mesh.verify consistent and then
-- inconsistent after tampering, query_all, and bad route options.
-- The server: MESH_OPENSEARCH_PORT's, unless es_port is set (elasticsearch7_*.sql).
\if :{?es_port}
\else
\getenv es_port MESH_OPENSEARCH_PORT
\endif
\set es_url 'http://127.0.0.1:' :es_port
CREATE SERVER es_sink FOREIGN DATA WRAPPER mesh_elasticsearch
	OPTIONS (url :'es_url', timeout_ms '20000');
CREATE USER MAPPING FOR CURRENT_USER SERVER es_sink;
SELECT * FROM mesh.execute('es_sink', 'DELETE /es_articles,es_poison,es_pairs?ignore_unavailable=true');
SET TimeZone = 'UTC';

-- existing rows are copied first (backfill)
CREATE TABLE articles (id int PRIMARY KEY, title text, body text, price numeric(10, 2),
	rating float8, published timestamptz, tags text[], meta jsonb, active boolean, day date);
INSERT INTO articles SELECT g, 'title ' || g, 'body of article ' || g, g * 1.25, g / 4.0,
	'2026-01-01 00:00:00+00'::timestamptz + g * interval '1 h', ARRAY['t' || g % 3, 'all'],
	jsonb_build_object('g', g, 'even', g % 2 = 0), g % 2 = 0, '2026-01-01'::date + g
FROM generate_series(1, 50) g;
-- index.gc_deletes keeps delete tombstones for the whole test (default 60 s)
SELECT mesh.replicate('articles', 'es_sink',
	'{"index": "es_articles", "settings": {"index.gc_deletes": "1h", "number_of_shards": 1}}', 'search') > 0 AS route;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('articles');
-- the mappings derived from the column types
SELECT p.key, p.value FROM mesh.execute('es_sink', 'GET /es_articles/_mapping') r,
	jsonb_each(r->'es_articles'->'mappings'->'properties') p ORDER BY p.key;
SELECT r->'es_articles'->'settings'->'index'->>'gc_deletes' AS gc_deletes
FROM mesh.execute('es_sink', 'GET /es_articles/_settings') r;

-- then every committed change follows
INSERT INTO articles (id, title, body) VALUES (51, 'new one', 'fresh');
UPDATE articles SET price = price * 2 WHERE id <= 10;
UPDATE articles SET title = NULL, meta = NULL WHERE id = 5;
DELETE FROM articles WHERE id BETWEEN 40 AND 45;
UPDATE articles SET id = id + 1000 WHERE id BETWEEN 20 AND 22;
BEGIN;
UPDATE articles SET title = 'first' WHERE id = 30;
UPDATE articles SET title = 'second' WHERE id = 30;
DELETE FROM articles WHERE id = 31;
INSERT INTO articles (id, title) VALUES (31, 'reborn');
COMMIT;
BEGIN;
UPDATE articles SET title = 'rolled back' WHERE id = 1;
ROLLBACK;
-- hostile strings and special values
INSERT INTO articles (id, title, body, price, rating, published, tags, meta) VALUES
	(200, E'quote'' "double" back\\slash\nnewline\ttab', 'star * colon : {braces} [x]', -0.01, -1.5e300,
	 '2026-06-01 12:34:56.789+02', '{"x,y", "{}", NULL}', '{"k": "v\"q", "n": [1, null]}'),
	(201, 'ünïcødé ✓ 🚀 ключ', E'\\u0000 not a nul', 0, -0.1, '1970-01-01 00:00:00+00', '{}', '{}'),
	(202, '', NULL, 99999999.99, 1e-300, '2105-12-31 23:59:59.999999+00', NULL, '[]');
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('articles');
SELECT (key->>'id')::int AS id, error FROM mesh.dead_letter WHERE source = 'articles'::regclass ORDER BY 1;

-- what the index holds, read back through a foreign table
SELECT 1 FROM mesh.execute('es_sink', 'POST /es_articles/_refresh');
CREATE FOREIGN TABLE articles_es (_id text, id int, title text OPTIONS (keyword_field 'title.keyword'),
	body text, price numeric, rating float8, published timestamptz, tags text, meta jsonb, active boolean, day date)
	SERVER es_sink OPTIONS (index 'es_articles');
SELECT * FROM articles_es WHERE id IN (1, 5, 30, 31, 200, 201, 202) ORDER BY id;
SELECT count(*), count(*) FILTER (WHERE _id = id::text) FROM articles_es;
SELECT id FROM articles_es WHERE id BETWEEN 19 AND 23 OR id > 1000 ORDER BY id;
SELECT id FROM articles_es WHERE title = E'quote'' "double" back\\slash\nnewline\ttab';
-- full text over the replica
SELECT id FROM mesh.search('es_sink', 'es_articles', 'body:"star"') ORDER BY id;
SELECT id, doc->>'title' AS title FROM mesh.search('es_sink', 'es_articles', 'title:ключ') ORDER BY id;

-- every document's version is its row's last event id
SELECT count(*) AS docs, count(*) FILTER (WHERE v.version = e.last_id) AS versioned_by_event
FROM (SELECT (h->>'_id')::int AS id, (h->>'_version')::bigint AS version
	  FROM mesh.execute('es_sink', '{"size": 1000, "version": true, "_source": false}', '{"index": "es_articles"}') h) v
JOIN (SELECT (key->>'id')::int AS id, max(id) AS last_id FROM mesh.event_log
	  WHERE source = 'articles'::regclass GROUP BY 1) e USING (id);
-- the server refuses an older version of a document
\set VERBOSITY terse
SELECT * FROM mesh.execute('es_sink', 'PUT /es_articles/_doc/30?version=1&version_type=external {"id": 30, "title": "old"}');
\set VERBOSITY default

-- a replay from the first event: older versions are refused, nothing changes
CREATE TEMP TABLE before_replay AS
SELECT h->>'_id' AS id, h->'_source' AS source, h->>'_version' AS version
FROM mesh.execute('es_sink', '{"size": 1000, "version": true}', '{"index": "es_articles"}') h;
SELECT mesh.replay('articles', 'es_sink', 0) > 0 AS replayed;
SELECT mesh.wait_for_sync();
SELECT 1 FROM mesh.execute('es_sink', 'POST /es_articles/_refresh');
SELECT count(*) AS docs, count(*) FILTER (WHERE b.source = h->'_source' AND b.version = h->>'_version') AS unchanged
FROM mesh.execute('es_sink', '{"size": 1000, "version": true}', '{"index": "es_articles"}') h
JOIN before_replay b ON b.id = h->>'_id';
SELECT * FROM mesh.verify('articles');
SELECT count(*) AS dead FROM mesh.dead_letter WHERE source = 'articles'::regclass;

-- query_all asks the index for one key
SELECT kind, role, found, value->>'title' AS title, error FROM mesh.query_all('articles', '30');
SELECT kind, found FROM mesh.query_all('articles', '44');

-- tampering is what verify reports
SELECT 1 FROM mesh.execute('es_sink', 'DELETE /es_articles/_doc/3');
SELECT 1 FROM mesh.execute('es_sink', 'POST /es_articles/_update/4 {"doc": {"title": "tampered"}}');
SELECT 1 FROM mesh.execute('es_sink', 'PUT /es_articles/_doc/9999 {"id": 9999}');
SELECT * FROM mesh.verify('articles');

-- TRUNCATE empties the index; later rows follow
TRUNCATE articles;
INSERT INTO articles (id, title) VALUES (1, 'after truncate');
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('articles');

-- a mapping conflict: that event goes to the dead letters, the rest of its
-- batch (one transaction, one _bulk request) lands
CREATE TABLE poison (id int PRIMARY KEY, code text, note text);
SELECT mesh.replicate('poison', 'es_sink',
	'{"index": "es_poison", "mappings": {"properties": {"code": {"type": "integer"}}}}') > 0 AS route;
INSERT INTO poison VALUES (1, '10', 'ok'), (2, 'not a number', 'poison'), (3, '30', 'ok'), (4, '40', 'ok');
SELECT mesh.wait_for_sync();
SELECT (key->>'id')::int AS id, error ~ 'mapper_parsing_exception' AS mapping_error, attempts
FROM mesh.dead_letter WHERE source = 'poison'::regclass;
SELECT delivered, dead FROM mesh.stats WHERE source = 'poison'::regclass;
SELECT target, source_rows, target_rows, missing, extra, mismatched, consistent FROM mesh.verify('poison');
-- fixed at the source: the next change lands
UPDATE poison SET code = '20' WHERE id = 2;
SELECT mesh.wait_for_sync();
SELECT target, source_rows, target_rows, missing, extra, mismatched, consistent FROM mesh.verify('poison');
SELECT h->>'_id' AS id, h->'_source'->>'code' AS code
FROM mesh.execute('es_sink', '{"size": 10, "sort": [{"code": "asc"}]}', '{"index": "es_poison"}') h;

-- a composite key: _id is the JSON array of the key's texts
CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b));
INSERT INTO pairs VALUES (1, 'x:y', 1), (1, 'x', 2), (2, '["q"]', 3), (2, 'a,b', 4);
SELECT mesh.replicate('pairs', 'es_sink', '{"index": "es_pairs"}') > 0 AS route;
DELETE FROM pairs WHERE a = 2 AND b = 'a,b';
UPDATE pairs SET v = 10 WHERE b = 'x:y';
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('pairs');
SELECT h->>'_id' AS id, h->'_source'->>'v' AS v
FROM mesh.execute('es_sink', '{"size": 10, "sort": [{"v": "asc"}]}', '{"index": "es_pairs"}') h;

-- bad route options are errors naming the option and what is allowed
CREATE TABLE "CamelCase" (id int PRIMARY KEY);
SELECT mesh.replicate('"CamelCase"', 'es_sink');
SELECT mesh.replicate('"CamelCase"', 'es_sink', '{"index": "bad index"}');
SELECT mesh.replicate('"CamelCase"', 'es_sink', '{"index": "Upper"}');
SELECT mesh.replicate('"CamelCase"', 'es_sink', '{"mappings": "title"}');
SELECT mesh.replicate('"CamelCase"', 'es_sink', '{"refresh": "sometimes"}');
SELECT mesh.replicate('"CamelCase"', 'es_sink', '{"indx": "x"}');
SELECT mesh.replicate('"CamelCase"', 'es_sink', '{"index": "camel", "settings": {"index.number_of_shards": "many"}}');
SELECT count(*) AS routes FROM mesh.routes WHERE source = '"CamelCase"'::regclass;

SELECT mesh.unreplicate('articles', 'es_sink') + mesh.unreplicate('poison', 'es_sink') +
	mesh.unreplicate('pairs', 'es_sink') AS removed;
DROP FOREIGN TABLE articles_es;
DROP TABLE articles, poison, pairs, "CamelCase";
SELECT * FROM mesh.execute('es_sink', 'DELETE /es_articles,es_poison,es_pairs');
DROP USER MAPPING FOR CURRENT_USER SERVER es_sink;
DROP SERVER es_sink;
