-- servers: hang garbage neo4j
-- Neo4j: mesh.cypher and mesh.execute with hostile parameters, a foreign
-- table over a label with pushdown, health, errors (bad credentials,
-- syntax, malformed replies, a hanging server).
\getenv neo4j_port MESH_NEO4J_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\getenv hang_port MESH_HANG_PORT
SELECT format('http://127.0.0.1:%s', :'neo4j_port') AS neo4j_url \gset
CREATE SERVER graph FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url :'neo4j_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph
	OPTIONS (user 'neo4j', password 'mesh_neo4j_pw');
-- a clean graph for this test's labels
SELECT count(*) AS rows FROM mesh.cypher('graph', 'MATCH (n) WHERE n:Person OR n:`We``ird Label` DETACH DELETE n RETURN count(*) AS deleted');

-- parameters travel as parameters: every hostile string comes back intact
CREATE TEMP TABLE hostile (s text);
INSERT INTO hostile VALUES ('O''Brien'), ('back\slash'), (E'new\nline\ttab'), ('"dq"'),
	('}) RETURN 1 //'), ('$name'), ('`tick`'), ('ünïcødé ✓ 日本'), (''), ('{"a": 1}');
SELECT h.s = (r->>'s') AS same, r->>'len' AS len
FROM hostile h, mesh.cypher('graph', 'RETURN $s AS s, size($s) AS len', jsonb_build_object('s', h.s)) r
ORDER BY h.s;
-- typed parameters and results: numbers, booleans, null, lists, maps
SELECT * FROM mesh.cypher('graph',
	'RETURN $i + 1 AS i, $f * 2 AS f, NOT $b AS b, $n IS NULL AS n, [x IN $l | x * 10] AS l, $m.k AS mk',
	'{"i": 41, "f": 1.25, "b": false, "n": null, "l": [1, 2, 3], "m": {"k": "v"}}');
-- several rows; columns keyed by name
SELECT * FROM mesh.cypher('graph', 'UNWIND range(1, 3) AS x RETURN x, x * x AS sq ORDER BY x');
-- mesh.execute runs Cypher too (params optional)
SELECT * FROM mesh.execute('graph', 'RETURN 1 AS one');
SELECT * FROM mesh.execute('graph', 'RETURN $x AS x', '{"x": "via execute"}');

-- nodes with hostile property values and names
SELECT count(*) FROM mesh.cypher('graph',
	'UNWIND $people AS p CREATE (n:Person) SET n = p',
	'{"people": [{"name": "Ann", "age": 31, "city": "Paris"},
				 {"name": "O''Brien", "age": 45, "city": "Dublin"},
				 {"name": "Zoë \"Z\"", "age": 27, "city": "Zürich"},
				 {"name": "Nobody", "city": "Nowhere"}]}');
SELECT count(*) FROM mesh.cypher('graph', 'CREATE (n:`We``ird Label` {`odd ``prop`: $v})', '{"v": "w"}');

CREATE FOREIGN TABLE person (id text OPTIONS (element_id 'true'), name text, age integer, city text)
	SERVER graph OPTIONS (label 'Person');
SELECT name, age, city FROM person ORDER BY name;
SELECT count(*) FROM person WHERE id IS NOT NULL AND id <> '';
-- pushdown: equality, IN, IS NULL, LIMIT; values are parameters
EXPLAIN (VERBOSE, COSTS OFF) SELECT name, age FROM person WHERE name = 'O''Brien';
SELECT name, age FROM person WHERE name = 'O''Brien';
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM person WHERE age IN (27, 31);
SELECT name FROM person WHERE age IN (27, 31) ORDER BY name;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM person WHERE age IS NULL;
SELECT name FROM person WHERE age IS NULL;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM person WHERE city = 'Paris' LIMIT 1;
SELECT name FROM person WHERE city = 'Paris' LIMIT 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM (SELECT 1 FROM person LIMIT 2) s;
SELECT count(*) FROM (SELECT 1 FROM person LIMIT 2) s;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM person WHERE age IS NOT NULL LIMIT 2 OFFSET 1;
SELECT count(*) FROM (SELECT name FROM person WHERE age IS NOT NULL LIMIT 2 OFFSET 1) s;
-- not pushed: a range (evaluated locally)
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM person WHERE age > 30;
SELECT name FROM person WHERE age > 30 ORDER BY name;
-- the element id column finds a node
SELECT p.name FROM person p WHERE p.id = (SELECT id FROM person WHERE name = 'Ann');
-- a prepared statement keeps its pushdown under a generic plan (8 runs)
PREPARE by_name(text) AS SELECT age FROM person WHERE name = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_name('Ann');
SELECT count(*) FILTER (WHERE a = 31) FROM generate_series(1, 8) g, LATERAL (SELECT age AS a FROM person WHERE name = 'Ann') s;
EXECUTE by_name('Ann'); EXECUTE by_name('Ann'); EXECUTE by_name('Ann'); EXECUTE by_name('Ann');
EXECUTE by_name('Ann'); EXECUTE by_name('Ann'); EXECUTE by_name('Ann');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_name('Zoë "Z"');
EXECUTE by_name('Zoë "Z"');
RESET plan_cache_mode;
DEALLOCATE by_name;
-- a label and a property that need backticks
CREATE FOREIGN TABLE weird (v text OPTIONS (property 'odd `prop'))
	SERVER graph OPTIONS (label 'We`ird Label');
EXPLAIN (VERBOSE, COSTS OFF) SELECT v FROM weird WHERE v = 'w';
SELECT v FROM weird WHERE v = 'w';
-- a value that does not fit its column is a clear error
CREATE FOREIGN TABLE person_bad (v integer OPTIONS (property 'odd `prop')) SERVER graph OPTIONS (label 'We`ird Label');
SELECT * FROM person_bad;

-- health: reachable, with the version
SELECT server, kind, ok, version IS NOT NULL AS has_version, error FROM mesh.health() WHERE server = 'graph';

-- errors: Cypher syntax, bad parameters, unknown database, bad credentials
SELECT * FROM mesh.cypher('graph', 'RETURN RETURN');
SELECT * FROM mesh.cypher('graph', 'RETURN $x AS x', '[1, 2]');
SELECT * FROM mesh.cypher('graph', 'RETURN $missing AS x');
CREATE SERVER graph_nodb FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url :'neo4j_url', database 'no_such_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_nodb OPTIONS (user 'neo4j', password 'mesh_neo4j_pw');
SELECT * FROM mesh.cypher('graph_nodb', 'RETURN 1');
CREATE SERVER graph_badpw FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url :'neo4j_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_badpw OPTIONS (user 'neo4j', password 'wrong_pw');
SELECT * FROM mesh.cypher('graph_badpw', 'RETURN 1');
-- only Neo4j servers answer Cypher
CREATE SERVER not_graph FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http://127.0.0.1:1');
SELECT * FROM mesh.cypher('not_graph', 'RETURN 1');
-- options are validated
CREATE SERVER graph_bad FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url :'neo4j_url', labl 'x');
CREATE SERVER graph_bad FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (password 'x');
-- a malformed reply and a hanging server are clear errors
SELECT format('http://127.0.0.1:%s', :'garbage_port') AS garbage_url \gset
CREATE SERVER graph_garbage FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url :'garbage_url');
SELECT * FROM mesh.cypher('graph_garbage', 'RETURN 1');
SELECT format('http://127.0.0.1:%s', :'hang_port') AS hang_url \gset
CREATE SERVER graph_hang FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url :'hang_url', timeout_ms '300');
SELECT * FROM mesh.cypher('graph_hang', 'RETURN 1');
-- health: the garbage server answers GET / with 200, so it counts as reachable
-- (without a version); the hanging one is down within the timeout
SELECT server, ok, error FROM mesh.health(500) WHERE server IN ('graph_garbage', 'graph_hang') ORDER BY server;

SELECT * FROM mesh.cypher('graph', 'MATCH (n) WHERE n:Person OR n:`We``ird Label` DETACH DELETE n RETURN count(*) AS deleted');
DROP SERVER graph, graph_nodb, graph_badpw, not_graph, graph_garbage, graph_hang CASCADE;
