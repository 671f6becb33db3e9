-- servers: mongodb
-- Two FerretDB failures that once counted lost writes as delivered:
-- (1) a numeric column without numeric_as 'string': FerretDB cannot hold
-- decimal128 and drops the connection on such a write; (2) one document
-- refused in an unordered bulk write: FerretDB stops the bulk there (and
-- names the wrong index).  Nothing the server did not acknowledge may
-- count as delivered; the refused rows are dead letters with the reason.
\getenv mongo_port MESH_MONGO_PORT
CREATE SERVER mongo_faults FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'mongo_port', database 'mesh_test', timeout_ms '5000');
CREATE USER MAPPING FOR CURRENT_USER SERVER mongo_faults
	OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT r->>'ok' AS emptied FROM mesh.execute('mongo_faults',
	'{"delete": "faults_decimal", "deletes": [{"q": {}, "limit": 0}]}') r;
SELECT r->>'ok' AS emptied FROM mesh.execute('mongo_faults',
	'{"delete": "faults_bulk", "deletes": [{"q": {}, "limit": 0}]}') r;

-- (1) decimal128: every row with a numeric value is refused before it is
-- sent (a dead letter per row, with the fix in the reason); a row whose
-- numeric is NULL lands; nothing else counts as delivered
CREATE TABLE faults_decimal (id int PRIMARY KEY, amount numeric, label text);
INSERT INTO faults_decimal SELECT g, g * 1.25, 'row ' || g FROM generate_series(1, 5) g;
INSERT INTO faults_decimal VALUES (6, NULL, 'no amount');
SELECT mesh.replicate('faults_decimal', 'mongo_faults', '{"collection": "faults_decimal"}') > 0 AS route;
SELECT mesh.wait_for_sync();
SELECT delivered, dead, pending FROM mesh.stats WHERE source = 'faults_decimal'::regclass;
SELECT key, error FROM mesh.dead_letter
WHERE route = (SELECT id FROM mesh.routes WHERE source = 'faults_decimal'::regclass)
ORDER BY (key->>'id')::int;
SELECT count(*) AS documents FROM mesh.execute('mongo_faults', '{"find": "faults_decimal", "filter": {}}');
-- changes after the copy: the same, and the server stays usable
UPDATE faults_decimal SET label = 'changed' WHERE id IN (1, 6);
INSERT INTO faults_decimal VALUES (7, NULL, 'seven');
SELECT mesh.wait_for_sync();
SELECT delivered, dead, pending FROM mesh.stats WHERE source = 'faults_decimal'::regclass;
SELECT r->>'_id' AS id, r->>'label' AS label
FROM mesh.execute('mongo_faults', '{"find": "faults_decimal", "filter": {}, "sort": {"_id": 1}}') r;
SELECT target, source_rows, target_rows, missing, extra, mismatched
FROM mesh.verify('faults_decimal');

-- (2) one refused document in a bulk of 21: only that key is a dead
-- letter, the 20 others land and count as delivered
CREATE TABLE faults_bulk (id int PRIMARY KEY, v text, doc jsonb);
INSERT INTO faults_bulk SELECT g, 'v0', '{}' FROM generate_series(1, 30) g;
SELECT mesh.replicate('faults_bulk', 'mongo_faults', '{"collection": "faults_bulk"}') > 0 AS route;
SELECT mesh.wait_for_sync();
UPDATE faults_bulk SET v = 'v1',
	doc = CASE WHEN id = 5 THEN '{"$bad": 1}'::jsonb ELSE '{"ok": 1}'::jsonb END
WHERE id <= 21;
SELECT mesh.wait_for_sync();
SELECT delivered, dead, pending FROM mesh.stats WHERE source = 'faults_bulk'::regclass;
SELECT key, error FROM mesh.dead_letter
WHERE route = (SELECT id FROM mesh.routes WHERE source = 'faults_bulk'::regclass);
SELECT count(*) AS landed FROM mesh.execute('mongo_faults',
	'{"find": "faults_bulk", "filter": {"v": "v1"}}');
-- verify: consistent but for the dead-lettered key
SELECT target, source_rows, target_rows, missing, extra, mismatched
FROM mesh.verify('faults_bulk');
-- fixed at the source and retried: consistent
UPDATE faults_bulk SET doc = '{"fixed": 1}' WHERE id = 5;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('faults_bulk');

SELECT mesh.unreplicate('faults_decimal', 'mongo_faults');
SELECT mesh.unreplicate('faults_bulk', 'mongo_faults');
DROP TABLE faults_decimal, faults_bulk;
DROP SERVER mongo_faults CASCADE;
