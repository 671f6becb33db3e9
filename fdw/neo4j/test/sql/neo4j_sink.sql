-- servers: neo4j
-- Replication to Neo4j: nodes MERGEd on the key, a foreign key turned into
-- edges (and moved by updates), deletes, hostile values, TRUNCATE, a
-- replay converging, mesh.verify after each step, and bad route options.
\getenv neo4j_port MESH_NEO4J_PORT
SELECT format('http://127.0.0.1:%s', :'neo4j_port') AS neo4j_url \gset
CREATE SERVER graph_sink FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url :'neo4j_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_sink
	OPTIONS (user 'neo4j', password 'mesh_neo4j_pw');
SELECT count(*) AS rows FROM mesh.cypher('graph_sink', 'MATCH (n) WHERE n:Sensor OR n:Reading DETACH DELETE n');

CREATE TABLE sensors (id int PRIMARY KEY, name text, site text);
CREATE TABLE readings (id bigint PRIMARY KEY, sensor_id int REFERENCES sensors, value float8,
	note text, ok boolean, taken_at timestamptz);
INSERT INTO sensors VALUES (1, 'thermo', 'north'), (2, 'hygro', 'south'), (3, 'baro', NULL);
-- existing rows are copied first (backfill)
INSERT INTO readings SELECT g, 1 + g % 3, g * 0.5, 'r' || g, g % 2 = 0,
	'2026-01-01 00:00:00+00'::timestamptz + g * interval '1 min'
FROM generate_series(1, 30) g;
SELECT mesh.replicate('sensors', 'graph_sink', '{"label": "Sensor"}') > 0 AS route;
SELECT mesh.replicate('readings', 'graph_sink', '{"label": "Reading",
	"relationships": [{"column": "sensor_id", "type": "MEASURED_BY", "label": "Sensor", "key": "id"}]}') > 0 AS route;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('sensors');
SELECT * FROM mesh.verify('readings');
-- the graph: nodes, and one edge per reading to its sensor
SELECT * FROM mesh.cypher('graph_sink', 'MATCH (r:Reading) RETURN count(r) AS readings');
SELECT * FROM mesh.cypher('graph_sink',
	'MATCH (r:Reading)-[:MEASURED_BY]->(s:Sensor) RETURN s.id AS sensor, s.name AS name, count(r) AS edges ORDER BY sensor');
SELECT * FROM mesh.cypher('graph_sink', 'MATCH (r:Reading {id: 4}) RETURN r.value AS value, r.note AS note, r.ok AS ok, r.taken_at AS taken_at');

-- then every change follows
INSERT INTO readings VALUES (31, 2, 1.25, E'hostile \' " \\ \n `x` } $y ünï', true, NULL);
UPDATE readings SET sensor_id = 3 WHERE id IN (1, 2);		-- the edges move
UPDATE readings SET sensor_id = NULL WHERE id = 4;			-- the edge goes
UPDATE readings SET value = -1, note = NULL WHERE id = 5;	-- a NULL drops the property
DELETE FROM readings WHERE id BETWEEN 10 AND 12;			-- DETACH DELETE
UPDATE sensors SET name = 'thermo 2' WHERE id = 1;
-- several changes of one key in one transaction: the last one wins
BEGIN;
UPDATE readings SET sensor_id = 2 WHERE id = 20;
UPDATE readings SET sensor_id = 1 WHERE id = 20;
DELETE FROM readings WHERE id = 21;
INSERT INTO readings VALUES (21, 3, 21.5, 'reborn', false, NULL);
COMMIT;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('sensors');
SELECT * FROM mesh.verify('readings');
SELECT * FROM mesh.cypher('graph_sink',
	'MATCH (r:Reading)-[:MEASURED_BY]->(s:Sensor) RETURN s.id AS sensor, s.name AS name, count(r) AS edges ORDER BY sensor');
-- edges counted by Cypher match the source's foreign keys
SELECT (SELECT (r->>'edges')::int FROM mesh.cypher('graph_sink', 'MATCH (:Reading)-[e:MEASURED_BY]->(:Sensor) RETURN count(e) AS edges') r)
	= (SELECT count(*) FROM readings WHERE sensor_id IS NOT NULL) AS edges_match;
SELECT * FROM mesh.cypher('graph_sink', 'MATCH (r:Reading) WHERE r.id IN [1, 4, 20, 21] OPTIONAL MATCH (r)-[:MEASURED_BY]->(s) RETURN r.id AS id, s.id AS sensor ORDER BY id');
SELECT * FROM mesh.cypher('graph_sink', 'MATCH (r:Reading {id: 5}) RETURN r.value AS value, r.note IS NULL AS note_gone');
SELECT (r->>'note') = (SELECT note FROM readings WHERE id = 31) AS hostile_intact
FROM mesh.cypher('graph_sink', 'MATCH (r:Reading {id: 31}) RETURN r.note AS note') r;
SELECT * FROM mesh.cypher('graph_sink', 'MATCH (r:Reading) WHERE r.id >= 10 AND r.id <= 12 RETURN count(r) AS deleted_left');

-- a foreign table reads the replicated nodes back, typed
CREATE FOREIGN TABLE reading_nodes (id bigint, sensor_id int, value float8, note text, ok boolean, taken_at timestamptz)
	SERVER graph_sink OPTIONS (label 'Reading');
SELECT count(*) FROM (SELECT * FROM reading_nodes EXCEPT SELECT * FROM readings) d;
SELECT id, value, note FROM reading_nodes WHERE id = 5;

-- a node changed behind mesh's back is a mismatch; a replay repairs it
SELECT count(*) AS rows FROM mesh.cypher('graph_sink', 'MATCH (r:Reading {id: 7}) SET r.value = 999.0');
SELECT count(*) AS rows FROM mesh.cypher('graph_sink', 'CREATE (:Reading {id: 5000})');
SELECT target, missing, extra, mismatched, consistent FROM mesh.verify('readings');
SELECT count(*) AS rows FROM mesh.cypher('graph_sink', 'MATCH (r:Reading {id: 5000}) DETACH DELETE r');
SELECT mesh.replay('readings', 'graph_sink') >= 0 AS replayed;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('readings');
SELECT (SELECT (r->>'edges')::int FROM mesh.cypher('graph_sink', 'MATCH (:Reading)-[e:MEASURED_BY]->(:Sensor) RETURN count(e) AS edges') r)
	= (SELECT count(*) FROM readings WHERE sensor_id IS NOT NULL) AS edges_match_after_replay;

-- TRUNCATE empties the label (edges go with the nodes)
TRUNCATE readings;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.cypher('graph_sink', 'MATCH (r:Reading) RETURN count(r) AS readings');
SELECT * FROM mesh.cypher('graph_sink', 'MATCH ()-[e:MEASURED_BY]->() RETURN count(e) AS edges');
SELECT * FROM mesh.verify('readings');
SELECT source, delivered > 0 AS delivered, failed, dead FROM mesh.stats
	WHERE target = 'graph_sink' ORDER BY source::text;

-- route options are checked at mesh.replicate
CREATE TABLE bad_route (id int PRIMARY KEY, fk int);
SELECT mesh.replicate('bad_route', 'graph_sink', '{"relationships": {"column": "fk"}}');
SELECT mesh.replicate('bad_route', 'graph_sink', '{"relationships": [{"column": "nope", "type": "T", "label": "L"}]}');
SELECT mesh.replicate('bad_route', 'graph_sink', '{"relationships": [{"column": "fk", "label": "L"}]}');
SELECT mesh.replicate('bad_route', 'graph_sink', '{"relationships": [{"column": "fk", "type": "", "label": "L"}]}');
SELECT mesh.replicate('bad_route', 'graph_sink', '{"relationships": [{"column": "fk", "type": "T", "label": "L", "weight": 1}]}');
SELECT mesh.replicate('bad_route', 'graph_sink', '{"label": ""}');
SELECT mesh.replicate('bad_route', 'graph_sink', '{"lable": "X"}');

SELECT mesh.unreplicate('readings', 'graph_sink') + mesh.unreplicate('sensors', 'graph_sink') AS removed;
SELECT count(*) AS rows FROM mesh.cypher('graph_sink', 'MATCH (n) WHERE n:Sensor OR n:Reading DETACH DELETE n');
DROP TABLE readings, sensors, bad_route;
DROP SERVER graph_sink CASCADE;
