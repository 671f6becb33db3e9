-- servers: hang garbage qdrant
-- Qdrant: a CONTRACT test.  No Qdrant server can be had on this machine;
-- the server here is test/qdrant_standin.py, which reproduces Qdrant's
-- documented REST request and response shapes and rejects malformed
-- requests with Qdrant-shaped errors.  What passes here is mesh's side of
-- the contract, not a proof against a live Qdrant.
\getenv qdrant_port MESH_QDRANT_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\getenv hang_port MESH_HANG_PORT
SELECT format('http://127.0.0.1:%s', :'qdrant_port') AS qdrant_url \gset
CREATE SERVER qd FOREIGN DATA WRAPPER mesh_qdrant OPTIONS (url :'qdrant_url');
-- the api key travels in the api-key header; without it the stand-in answers 401
SELECT * FROM mesh.vector_search('qd', 'items', '{1,0,0}', 3);
CREATE USER MAPPING FOR CURRENT_USER SERVER qd OPTIONS (api_key 'mesh_qdrant_key');
SELECT server, kind, ok, version, error FROM mesh.health() WHERE server = 'qd';
-- the api key is a secret: only in a user mapping, never shown
CREATE SERVER qd_bad FOREIGN DATA WRAPPER mesh_qdrant OPTIONS (url :'qdrant_url', api_key 'x');
SELECT srvname, regexp_replace(options::text, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g')::jsonb AS options FROM mesh.backends() b JOIN pg_foreign_server s ON s.srvname = b.server WHERE b.server = 'qd';

CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, weight float8, tags text[], embedding real[]);
CREATE TABLE notes (code text PRIMARY KEY, body text, embedding real[]);
CREATE FUNCTION emb4(g int) RETURNS real[] LANGUAGE sql IMMUTABLE AS
	$$ SELECT array_agg(round(cos(g * 0.37 + i * 1.3)::numeric, 4)::real ORDER BY i) FROM generate_series(1, 4) i $$;
CREATE FUNCTION cosine(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS
	$$ SELECT sum(x * y) / sqrt(sum(x * x) * sum(y * y)) FROM unnest(a::float8[], b::float8[]) AS t(x, y) $$;
CREATE FUNCTION dot(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS
	$$ SELECT sum(x * y) FROM unnest(a::float8[], b::float8[]) AS t(x, y) $$;
-- a collection is created on demand with size and distance: size is needed for that
SELECT mesh.replicate('items', 'qd', '{"collection": "never_created", "vector": "embedding"}');
SELECT mesh.replicate('items', 'qd', '{"collection": "items", "vector": "embedding", "size": 4, "distance": "Cosine"}') > 0 AS route;
SELECT mesh.replicate('notes', 'qd', '{"collection": "notes", "vector": "embedding", "size": 4, "distance": "Dot"}') > 0 AS route;
-- leftovers of an earlier run go: TRUNCATE drops and recreates the collections
TRUNCATE items, notes;
SELECT mesh.wait_for_sync();
INSERT INTO items SELECT g, 'item ' || g, g % 7, g / 3.0, ARRAY['t' || (g % 2)], emb4(g) FROM generate_series(1, 40) g;
INSERT INTO notes VALUES ('n-1', 'first', emb4(101)), (E'quote\'s "key" \\ ✓', E'line\nbreak', emb4(102)),
	('', 'empty key', emb4(103));
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('items');
SELECT * FROM mesh.verify('notes');

-- integer keys are point ids; other keys are UUIDv5 of their text (URL namespace):
-- uuid5(NAMESPACE_URL, 'n-1') = 0be5634e-2199-575c-8d67-bad10652e977
SELECT id, payload->>'name' AS name FROM mesh.vector_search('qd', 'items', emb4(5), 1);
SELECT id, payload->>'code' AS code FROM mesh.vector_search('qd', 'notes', emb4(101), 1);
SELECT id FROM mesh.vector_search('qd', 'notes', emb4(103), 1);
-- top-k equals the brute-force ranking: cosine similarity (items), dot product (notes)
SELECT (SELECT array_agg(id::bigint ORDER BY score DESC, id::bigint) FROM mesh.vector_search('qd', 'items', emb4(77), 6))
	 = (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY cosine(embedding, emb4(77)) DESC, id LIMIT 6) s) AS same_top6;
SELECT bool_and(abs(s.score - cosine(i.embedding, emb4(77))) < 1e-5) AS scores_match
FROM mesh.vector_search('qd', 'items', emb4(77), 6) s JOIN items i ON i.id = s.id::bigint;
SELECT s.payload->>'code' = n.code AS key_back, abs(s.score - dot(n.embedding, emb4(50))) < 1e-5 AS score_ok
FROM mesh.vector_search('qd', 'notes', emb4(50), 3) s JOIN notes n ON n.code = s.payload->>'code' ORDER BY s.score DESC;
-- a Qdrant filter
SELECT (SELECT array_agg(id::bigint ORDER BY score DESC, id::bigint) FROM mesh.vector_search('qd', 'items', emb4(77), 5,
		'{"must": [{"key": "qty", "match": {"value": 3}}]}'))
	 = (SELECT array_agg(id) FROM (SELECT id FROM items WHERE qty = 3 ORDER BY cosine(embedding, emb4(77)) DESC, id LIMIT 5) s) AS same_filtered;
-- payloads: the other columns, typed; the vector copy (Cosine: Qdrant stores unit vectors)
SELECT payload - 'embedding' AS payload, payload->'embedding' = to_jsonb(emb4(9)) AS vector_copy
FROM mesh.vector_search('qd', 'items', emb4(9), 1);

-- a foreign table over the collection (search with the query column, else every point)
CREATE FOREIGN TABLE items_vec (id text, score float8, payload jsonb, q real[] OPTIONS (query 'true'),
	name text, qty int) SERVER qd OPTIONS (collection 'items');
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM items_vec WHERE q = emb4(77) LIMIT 6;
SELECT (SELECT array_agg(id::bigint ORDER BY score DESC) FROM (SELECT id, score FROM items_vec WHERE q = emb4(77) LIMIT 6) s)
	 = (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY cosine(embedding, emb4(77)) DESC, id LIMIT 6) s) AS same_top6;
SELECT count(*), sum(qty), count(score) FROM items_vec;
SELECT id, name, qty FROM items_vec WHERE q = emb4(12) LIMIT 1;

-- updates, deletes and key changes follow; verify compares payloads and keys
UPDATE items SET embedding = emb4(500), name = NULL WHERE id = 3;
DELETE FROM items WHERE id > 30;
UPDATE notes SET code = 'n-2' WHERE code = 'n-1';
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('items');
SELECT * FROM mesh.verify('notes');
SELECT id, payload->'name' AS name FROM mesh.vector_search('qd', 'items', emb4(500), 1);
SELECT count(*) FROM mesh.vector_search('qd', 'items', emb4(1), 100);
SELECT payload->>'code' AS code FROM mesh.vector_search('qd', 'notes', emb4(101), 1);

-- changes while a table is not replicated: a new route copies the rows again
-- (qty), but a point whose row was deleted meanwhile is extra for verify
INSERT INTO items VALUES (1000, 'extra', 1, 1, NULL, emb4(1000));
SELECT mesh.wait_for_sync();
SELECT mesh.unreplicate('items', 'qd');
UPDATE items SET qty = 99 WHERE id = 1;
DELETE FROM items WHERE id = 1000;
SELECT mesh.replicate('items', 'qd', '{"collection": "items", "vector": "embedding", "size": 4, "distance": "Cosine"}') > 0 AS route;
SELECT mesh.wait_for_sync();
SELECT target, missing, extra, mismatched, consistent FROM mesh.verify('items');
-- a collection with another size or distance is refused
CREATE TABLE items2 (id int PRIMARY KEY, embedding real[]);
SELECT mesh.replicate('items2', 'qd', '{"collection": "items", "vector": "embedding", "size": 5}');
SELECT mesh.replicate('items2', 'qd', '{"collection": "items", "vector": "embedding", "distance": "Dot"}');

-- errors: the stand-in's Qdrant-shaped rejections, malformed replies, a hanging server
SELECT * FROM mesh.vector_search('qd', 'no_such', emb4(1), 3);
SELECT * FROM mesh.vector_search('qd', 'items', '{1,2}', 3);
SELECT * FROM mesh.vector_search('qd', 'items', emb4(1), 3, '{"must": [{"key": "qty", "range": {"gt": 1}}]}');
SELECT format('http://127.0.0.1:%s', :'garbage_port') AS garbage_url \gset
CREATE SERVER qd_garbage FOREIGN DATA WRAPPER mesh_qdrant OPTIONS (url :'garbage_url');
SELECT * FROM mesh.vector_search('qd_garbage', 'items', emb4(1), 3);
SELECT format('http://127.0.0.1:%s/status500', :'garbage_port') AS garbage500_url \gset
CREATE SERVER qd_500 FOREIGN DATA WRAPPER mesh_qdrant OPTIONS (url :'garbage500_url');
SELECT * FROM mesh.vector_search('qd_500', 'items', emb4(1), 3);
SELECT format('http://127.0.0.1:%s', :'hang_port') AS hang_url \gset
CREATE SERVER qd_hang FOREIGN DATA WRAPPER mesh_qdrant OPTIONS (url :'hang_url', timeout_ms '300');
SELECT * FROM mesh.vector_search('qd_hang', 'items', emb4(1), 3);
-- only vector stores answer vector_search
CREATE SERVER not_vec FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http://127.0.0.1:1');
SELECT * FROM mesh.vector_search('not_vec', 'items', emb4(1), 3);

TRUNCATE items, notes;
SELECT mesh.wait_for_sync();
SELECT target, source_rows, target_rows, consistent FROM mesh.verify('items');
SELECT mesh.unreplicate('items', 'qd') + mesh.unreplicate('notes', 'qd') AS removed;
DROP TABLE items, notes, items2;
DROP FUNCTION emb4(int), cosine(real[], real[]), dot(real[], real[]);
DROP SERVER qd, qd_garbage, qd_500, qd_hang, not_vec CASCADE;
