-- servers: mongodb
-- INSERT, UPDATE and DELETE through MongoDB foreign tables, by _id: typed
-- fields, dotted paths as sub-documents, NULL as a removed field, the
-- whole-document column, ObjectId _ids, errors the server reports.
\getenv mongo_port MESH_MONGO_PORT
SET TimeZone = 'UTC';
CREATE SERVER mongo_w FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'mongo_port', database 'mesh_test', timeout_ms '5000');
CREATE USER MAPPING FOR CURRENT_USER SERVER mongo_w
	OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT r->>'ok' AS emptied FROM mesh.execute('mongo_w',
	'{"delete": "write_items", "deletes": [{"q": {}, "limit": 0}]}') r;

CREATE FOREIGN TABLE items (_id text, name text, qty int, price float8, seen timestamptz,
	active boolean, city text OPTIONS (field 'address.city'), zip text OPTIONS (field 'address.zip'),
	tags jsonb)
	SERVER mongo_w OPTIONS (collection 'write_items');
INSERT INTO items VALUES
	('a', 'apple', 3, 0.5, '2024-05-01 10:00:00.123+00', true, 'Paris', '75001', '["red", "fruit"]'),
	('b', 'banana', NULL, 0.25, NULL, false, 'Lima', NULL, NULL),
	('65a1b2c3d4e5f60718293a4b', 'objectid', 1, NULL, NULL, NULL, NULL, NULL, '{"k": {"n": 1}}');
-- no _id: the driver makes an ObjectId
INSERT INTO items (name, qty) VALUES ('generated', 9);
SELECT name, qty, price, seen, active, city, zip, tags FROM items ORDER BY name;
SELECT length(_id) AS oid_hex_length FROM items WHERE name = 'generated';
-- the documents as stored: NULL columns are absent, dotted paths nest, a
-- 24-hex _id is an ObjectId, timestamps are dates
SELECT r - '_id' AS doc FROM mesh.execute('mongo_w',
	'{"find": "write_items", "filter": {"name": {"$in": ["apple", "banana"]}}, "sort": {"name": 1}}') r;
SELECT r->>'n' AS oid_ids FROM mesh.execute('mongo_w',
	'{"count": "write_items", "query": {"_id": {"$type": "objectId"}}}') r;

-- UPDATE sets fields and unsets those that become NULL
UPDATE items SET qty = qty + 10, city = NULL, zip = '75002' WHERE _id = 'a';
UPDATE items SET price = 1.5 WHERE _id = '65a1b2c3d4e5f60718293a4b';
UPDATE items SET active = true WHERE qty IS NULL;
SELECT _id, name, qty, price, active, city, zip FROM items WHERE _id IN ('a', 'b', '65a1b2c3d4e5f60718293a4b') ORDER BY _id;
SELECT r - '_id' AS doc FROM mesh.execute('mongo_w', '{"find": "write_items", "filter": {"_id": "a"}}') r;
-- the _id cannot change
UPDATE items SET _id = 'z' WHERE _id = 'a';
-- DELETE by _id (a string and an ObjectId)
DELETE FROM items WHERE _id IN ('b', '65a1b2c3d4e5f60718293a4b');
DELETE FROM items WHERE name = 'generated';
SELECT _id, name FROM items ORDER BY _id;
-- a duplicate _id is the server's error
INSERT INTO items (_id, name) VALUES ('a', 'again');

-- a table with a whole-document column: INSERT starts from it, columns
-- override its fields; UPDATE replaces the document
CREATE FOREIGN TABLE items_doc (_id text, name text, doc jsonb OPTIONS (document 'true'))
	SERVER mongo_w OPTIONS (collection 'write_items');
INSERT INTO items_doc VALUES ('d', 'from columns', '{"name": "from doc", "extra": {"x": [1, 2]}, "_id": "ignored"}');
SELECT _id, name, doc FROM items_doc WHERE _id = 'd';
UPDATE items_doc SET doc = '{"extra": "replaced", "more": true}' WHERE _id = 'd';
SELECT _id, name, doc FROM items_doc WHERE _id = 'd';
-- a document column must hold an object to be written
INSERT INTO items_doc VALUES ('e', 'x', '[1, 2]');
-- no _id column: reads and inserts work, UPDATE and DELETE cannot
CREATE FOREIGN TABLE items_noid (name text) SERVER mongo_w OPTIONS (collection 'write_items');
UPDATE items_noid SET name = 'x';

-- a bulk INSERT of 2500 rows (batches of 1000) and a bulk DELETE
INSERT INTO items (_id, name, qty) SELECT 'bulk' || g, 'bulk', g FROM generate_series(1, 2500) g;
SELECT count(*), sum(qty) FROM items WHERE name = 'bulk';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) DELETE FROM items WHERE name = 'bulk';
SELECT count(*) FROM items WHERE name = 'bulk';

DROP SERVER mongo_w CASCADE;
