-- servers: hang garbage opensearch
-- mesh_elasticsearch reads (OpenSearch 2.19 from the harness): columns from
-- _source (by name, option field, dotted paths), _id and _score; pushdown of
-- =, IN, ranges and LIMIT into a bool/filter query shown by EXPLAIN VERBOSE
-- and giving the same rows as the unpushed query; prepared statements past
-- the generic-plan switch; a scan of several pages; mesh.search;
-- mesh.execute; hostile strings; health.
-- The server: MESH_OPENSEARCH_PORT's, unless es_port is set (elasticsearch7_*.sql).
\if :{?es_port}
\else
\getenv es_port MESH_OPENSEARCH_PORT
\endif
\set es_url 'http://127.0.0.1:' :es_port
CREATE SERVER es FOREIGN DATA WRAPPER mesh_elasticsearch
	OPTIONS (url :'es_url', timeout_ms '20000');
CREATE USER MAPPING FOR CURRENT_USER SERVER es;
-- remote state from an earlier run goes first
SELECT * FROM mesh.execute('es', 'DELETE /es_books,es_big?ignore_unavailable=true');
SELECT * FROM mesh.execute('es', $$PUT /es_books
{"mappings": {"properties": {
	"title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
	"author": {"type": "keyword"}, "year": {"type": "integer"},
	"price": {"type": "double"}, "published": {"type": "date"},
	"in_stock": {"type": "boolean"}, "summary": {"type": "text"},
	"info": {"properties": {"publisher": {"type": "keyword"}, "pages": {"type": "integer"}}}}}}$$);
-- hostile strings: quotes, backslashes, newlines, tabs, unicode, * and :
SELECT r->'errors' AS errors, jsonb_array_length(r->'items') AS items
FROM (SELECT E'POST /_bulk?refresh=true\n' || string_agg(format('{"index": {"_index": "es_books", "_id": %s}}',
	to_jsonb(id)) || E'\n' || doc::text, E'\n') || E'\n' AS body
FROM (VALUES
	('1', '{"title": "The Quiet Sea", "author": "Ann Lee", "year": 1999, "price": 12.5, "published": "1999-03-01T00:00:00Z", "in_stock": true, "summary": "a calm sea story about the sea", "info": {"publisher": "North", "pages": 210}}'::jsonb),
	('2', '{"title": "Storm Coming", "author": "Bo Chen", "year": 2001, "price": 30, "published": "2001-07-15T10:30:00Z", "in_stock": false, "summary": "storm at sea", "info": {"publisher": "South", "pages": 320}}'),
	('3', '{"title": "It''s \"quoted\" \\ back\\slash", "author": "O''Brien \"Q\"", "year": 2001, "price": 7.25, "published": "2001-01-01T00:00:00Z", "in_stock": true, "summary": "line one\nline two\ttab"}'),
	('4', '{"title": "ünïcødé ✓ 🚀 ключ", "author": "Zoë", "year": 2010, "price": 99.99, "in_stock": true, "summary": "star * and colon : inside"}'),
	('5', '{"title": "Sea of Sea Sea", "author": "Ann Lee", "year": 2020, "price": null, "summary": "sea sea sea sea"}'),
	('id with space/and?', '{"title": "Odd id", "author": "a,b=c", "year": 1, "published": 1700000000000}')
) AS d(id, doc)) b, mesh.execute('es', b.body) r;

CREATE FOREIGN TABLE books (
	_id text,
	title text OPTIONS (keyword_field 'title.keyword'),
	author text OPTIONS (es_type 'keyword'),
	year int,
	price float8,
	published timestamptz,
	in_stock boolean,
	summary text,
	publisher text OPTIONS (field 'info.publisher', es_type 'keyword'),
	pages int OPTIONS (field 'info.pages'),
	_score float8
) SERVER es OPTIONS (index 'es_books');
SET TimeZone = 'UTC';
SELECT _id, title, author, year, price, published, in_stock, publisher, pages FROM books ORDER BY _id;
SELECT _id, summary FROM books WHERE _id IN ('3', '4') ORDER BY _id;

-- what is pushed, shown as the request sent
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE year = 2001;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE year IN (1999, 2020) AND price > 10 AND price <= 30;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE author = 'O''Brien "Q"' AND title = 'x';
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE _id = '3' AND in_stock;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE published >= '2001-01-01' AND publisher IS NOT NULL;
-- an analysed text field without a keyword subfield is never pushed
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE summary = 'storm at sea';
-- ORDER BY (numbers; text under "C" on keyword fields) and LIMIT are pushed
-- when every qual is pushed and exact; not after a float range.  (A plain
-- LIMIT costs the same either way: the planner keeps its own.)
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE author = 'Ann Lee' ORDER BY year DESC LIMIT 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books ORDER BY price NULLS FIRST, year DESC LIMIT 2 OFFSET 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books WHERE price > 1 ORDER BY year LIMIT 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM books ORDER BY author LIMIT 1;
SELECT year, price FROM books ORDER BY price NULLS FIRST, year DESC LIMIT 3 OFFSET 1;
SELECT year, price FROM (SELECT * FROM books OFFSET 0) b ORDER BY price NULLS FIRST, year DESC LIMIT 3 OFFSET 1;
SELECT _id, year FROM books WHERE author = 'Ann Lee' ORDER BY year DESC LIMIT 1;
SELECT title, price FROM books ORDER BY price DESC NULLS LAST LIMIT 3;

-- pushed results equal the unpushed ones (OFFSET 0 keeps quals local)
CREATE TEMP TABLE checks (q text);
INSERT INTO checks VALUES ('year = 2001'), ('year IN (1999, 2020) AND price > 10 AND price <= 30'),
	('author = ''O''''Brien "Q"'''), ('title = ''It''''s "quoted" \ back\slash'''),
	('title = ''ünïcødé ✓ 🚀 ключ'''), ('_id = ''3'' AND in_stock'), ('_id IN (''1'', ''id with space/and?'')'),
	('published >= ''2001-01-01'' AND publisher IS NOT NULL'), ('price IS NULL'), ('in_stock = false'),
	('pages < 300'), ('year >= 2001 AND year < 2020'), ('author = ANY (ARRAY[''Ann Lee'', ''Zoë''])'),
	('author IN (NULL)'), ('year = NULL::int');
DO $$
DECLARE
	c record;
	pushed text[];
	local text[];
BEGIN
	FOR c IN SELECT q FROM checks LOOP
		EXECUTE 'SELECT array_agg(_id ORDER BY _id) FROM books WHERE ' || c.q INTO pushed;
		EXECUTE 'SELECT array_agg(_id ORDER BY _id) FROM (SELECT * FROM books OFFSET 0) b WHERE ' || c.q INTO local;
		RAISE NOTICE '% -> % %', c.q, pushed, CASE WHEN pushed IS NOT DISTINCT FROM local THEN 'same' ELSE 'DIFFERENT: ' || local::text END;
	END LOOP;
END $$;
SELECT _id FROM books WHERE author = 'Ann Lee' ORDER BY _id LIMIT 1;
SELECT count(*) FROM (SELECT _id FROM books WHERE author = 'Ann Lee' LIMIT 1 OFFSET 1) s;

-- a prepared statement keeps its pushdown past the generic-plan switch
PREPARE by_year(int) AS SELECT count(*) FROM books WHERE year = $1;
EXECUTE by_year(2001); EXECUTE by_year(2001); EXECUTE by_year(2001); EXECUTE by_year(2001);
EXECUTE by_year(2001); EXECUTE by_year(2001); EXECUTE by_year(2001); EXECUTE by_year(1999);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_year(2001);
DEALLOCATE by_year;

-- a scan larger than a page: 2500 documents read 1000 at a time (3 pages)
SELECT * FROM mesh.execute('es', 'PUT /es_big {"mappings": {"properties": {"n": {"type": "integer"}, "k": {"type": "keyword"}}}}');
SELECT r->'errors' AS errors, jsonb_array_length(r->'items') AS items
FROM (SELECT E'POST /_bulk?refresh=true\n' || string_agg(format('{"index": {"_index": "es_big", "_id": "%s"}}', g) || E'\n' ||
	format('{"n": %s, "k": "k%s"}', g, g % 7), E'\n') || E'\n' AS body
FROM generate_series(1, 2500) g) b, mesh.execute('es', b.body) r;
CREATE FOREIGN TABLE big (_id text, n int, k text OPTIONS (es_type 'keyword'))
	SERVER es OPTIONS (index 'es_big', page_size '1000');
SELECT count(*), count(DISTINCT n), sum(n), min(n), max(n), count(*) FILTER (WHERE _id = n::text) FROM big;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT n FROM big;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT n FROM big WHERE k = 'k3';
SELECT count(*) FROM big WHERE k = 'k3';
SELECT count(*) FROM (SELECT n FROM big WHERE k IN ('k1', 'k2') LIMIT 1500) s;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT n FROM big ORDER BY n DESC LIMIT 5;
SELECT n FROM big ORDER BY n DESC LIMIT 5;
SELECT n FROM big WHERE k = 'k0' ORDER BY n LIMIT 3 OFFSET 1500;
SELECT n FROM big WHERE k = 'k0' ORDER BY n LIMIT 3 OFFSET 355;

-- mesh.search: query_string, best first
SELECT id, round(score::numeric, 3) > 0 AS scored, doc->>'title' AS title
FROM mesh.search('es', 'es_books', 'summary:sea', 10) ORDER BY score DESC, id;
SELECT id FROM mesh.search('es', 'es_books', 'title:"quiet sea" OR author:"Bo Chen"') ORDER BY id;
SELECT id FROM mesh.search('es', 'es_books', 'summary:star AND summary:colon') ORDER BY id;
SELECT count(*) FROM mesh.search('es', 'es_books', '*', 3);
SELECT id FROM mesh.search('es', 'es_books', 'author:O\''Brien*') ORDER BY id;
SELECT id FROM mesh.search('es', 'es_books', 'title:ключ') ORDER BY id;
-- a query_string syntax error is the server's error
SELECT * FROM mesh.search('es', 'es_books', 'title:(unbalanced');
SELECT * FROM mesh.search('es', 'es_books', 'x', -1);
SELECT * FROM mesh.search('es', 'no_such_index', 'x');
-- _score through the foreign table
SELECT _id, _score IS NOT NULL AS has_score FROM books WHERE _id = '1';

-- mesh.execute: a query DSL document against params' index, or METHOD /path
SELECT r->>'_id' AS id FROM mesh.execute('es', '{"query": {"term": {"author": "Ann Lee"}}, "sort": [{"year": "asc"}]}',
	'{"index": "es_books"}') r;
SELECT r FROM mesh.execute('es', '{"size": 0, "aggs": {"years": {"terms": {"field": "year", "order": {"_key": "asc"}}}}}',
	'{"index": "es_books"}') r;
SELECT r->>'index' AS index, r->>'docs.count' AS docs FROM mesh.execute('es', 'GET /_cat/indices/es_books?format=json') r;
SELECT r->'_source'->>'title' AS title FROM mesh.execute('es', 'GET /es_books/_doc/3') r;
SELECT r->'count' AS count FROM mesh.execute('es', 'GET /es_books/_count
{"query": {"term": {"author": "Ann Lee"}}}') r;
SELECT * FROM mesh.execute('es', '{"query": {}}');
SELECT * FROM mesh.execute('es', 'FETCH /x');
\set VERBOSITY terse
SELECT * FROM mesh.execute('es', 'GET /es_books/_doc/nope');
\set VERBOSITY default

-- health: version and distribution from GET / ("opensearch 2.19.1", "elasticsearch 7.10.2")
SELECT server, kind, ok, version ~ '^(opensearch|elasticsearch) [0-9]+\.[0-9]+\.[0-9]+$' AS version_ok, error
FROM mesh.health() WHERE server = 'es';

-- a malformed answer, a server error and a hanging server are clear errors
\getenv garbage_port MESH_GARBAGE_PORT
\getenv hang_port MESH_HANG_PORT
\set garbage_url 'http://127.0.0.1:' :garbage_port
\set hang_url 'http://127.0.0.1:' :hang_port
CREATE SERVER es_garbage FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url :'garbage_url', timeout_ms '2000');
CREATE FOREIGN TABLE garbage_books (_id text, title text) SERVER es_garbage OPTIONS (index 'x');
SELECT * FROM garbage_books;
SELECT * FROM mesh.search('es_garbage', 'x', 'y');
CREATE SERVER es_hang FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url :'hang_url', timeout_ms '300');
CREATE FOREIGN TABLE hang_books (_id text) SERVER es_hang OPTIONS (index 'x');
SELECT * FROM hang_books;
SELECT server, ok, error IS NOT NULL AS has_error FROM mesh.health(1000) WHERE server IN ('es_garbage', 'es_hang') ORDER BY 1;

-- bad options name the option, the value and what is allowed
CREATE FOREIGN TABLE bad1 (a int) SERVER es OPTIONS (indx 'x');
CREATE FOREIGN TABLE bad2 (a int) SERVER es OPTIONS (page_size '0');
CREATE FOREIGN TABLE bad3 (a int) SERVER es OPTIONS (page_size '20000');
CREATE SERVER bad4 FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (api_key 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER es_hang OPTIONS (api_key 'k', user 'u');
SELECT * FROM hang_books;
-- an api_key goes in a header only: never in errors, EXPLAIN or mesh.backends()
CREATE SERVER es_auth FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url :'es_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER es_auth OPTIONS (api_key 'mesh_es_api_key_secret');
CREATE FOREIGN TABLE auth_books (_id text) SERVER es_auth OPTIONS (index 'no_such_index');
DO $$
BEGIN
	PERFORM * FROM auth_books;
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'error mentions the key: %', strpos(SQLERRM || coalesce(sqlstate, ''), 'mesh_es_api_key_secret') > 0;
END $$;
DO $$
DECLARE
	line text;
	n int := 0;
BEGIN
	FOR line IN EXPLAIN (VERBOSE) SELECT * FROM auth_books LOOP
		n := n + (strpos(line, 'mesh_es_api_key_secret') > 0)::int;
	END LOOP;
	RAISE NOTICE 'plan lines with the key: %', n;
END $$;
SELECT options::text LIKE '%mesh_es_api_key_secret%' AS backends_show_key FROM mesh.backends() WHERE server = 'es_auth';
DROP FOREIGN TABLE auth_books;
DROP SERVER es_auth CASCADE;
-- a type mismatch names the column and the value
CREATE FOREIGN TABLE books_bad (_id text, title int) SERVER es OPTIONS (index 'es_books');
SELECT * FROM books_bad WHERE _id = '1';

DROP FOREIGN TABLE books, big, garbage_books, hang_books, books_bad;
SELECT * FROM mesh.execute('es', 'DELETE /es_books,es_big');
DROP SERVER es_garbage CASCADE;
DROP SERVER es_hang CASCADE;
DROP USER MAPPING FOR CURRENT_USER SERVER es;
DROP SERVER es;
