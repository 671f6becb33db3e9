-- servers: hang garbage chroma
-- Chroma (a real vector server, chromadb 1.5.9): replication of a table
-- with an embedding column (upserts, deletes, TRUNCATE), mesh.verify,
-- mesh.vector_search against a brute-force cosine ranking computed in SQL,
-- filters, dead letters for rows without a usable vector, errors.
\getenv chroma_port MESH_CHROMA_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\getenv hang_port MESH_HANG_PORT
SELECT format('http://127.0.0.1:%s', :'chroma_port') AS chroma_url \gset
CREATE SERVER vec FOREIGN DATA WRAPPER mesh_chroma OPTIONS (url :'chroma_url');
SELECT server, kind, ok, version, error FROM mesh.health() WHERE server = 'vec';

-- 8-dimensional embeddings, deterministic
CREATE TABLE docs (id int PRIMARY KEY, title text, category text, price numeric(8, 2),
	in_stock boolean, embedding real[]);
CREATE FUNCTION emb(g int) RETURNS real[] LANGUAGE sql IMMUTABLE AS
	$$ SELECT array_agg(round(sin(g * 1.7 + i * 0.9)::numeric, 4)::real ORDER BY i) FROM generate_series(1, 8) i $$;
CREATE FUNCTION cosine(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS
	$$ SELECT sum(x * y) / sqrt(sum(x * x) * sum(y * y))
	   FROM unnest(a::float8[], b::float8[]) AS t(x, y) $$;
SELECT mesh.replicate('docs', 'vec', '{"collection": "mesh_docs", "vector": "embedding", "size": 8, "distance": "Cosine"}') > 0 AS route;
-- the collection may be left from an earlier run: TRUNCATE empties it (drop and create)
TRUNCATE docs;
SELECT mesh.wait_for_sync();
INSERT INTO docs SELECT g, 'doc ' || g, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END, g * 1.25, g % 2 = 0, emb(g)
FROM generate_series(1, 60) g;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('docs');

-- top-k search equals the brute-force cosine ranking over the source table
CREATE TEMP TABLE q AS SELECT emb(1000) AS v;
SELECT (SELECT array_agg(id::int ORDER BY score DESC, id) FROM mesh.vector_search('vec', 'mesh_docs', (SELECT v FROM q), 5))
	 = (SELECT array_agg(id) FROM (SELECT id FROM docs ORDER BY cosine(embedding, (SELECT v FROM q)) DESC LIMIT 5) s) AS same_top5;
SELECT bool_and(abs(s.score - cosine(d.embedding, (SELECT v FROM q))) < 1e-5) AS scores_match, count(*)
FROM mesh.vector_search('vec', 'mesh_docs', (SELECT v FROM q), 5) s JOIN docs d ON d.id = s.id::int;
-- the payload is the row's other columns (key included), and a copy of the
-- vector (a cosine collection perturbs the stored vector's last bits)
SELECT s.id, s.payload - 'embedding' AS payload, s.payload->'embedding' = to_jsonb(emb(7)) AS vector_copy FROM mesh.vector_search('vec', 'mesh_docs', emb(7), 1) s;
-- a filter in Chroma's where syntax
SELECT (SELECT array_agg(id::int ORDER BY score DESC, id) FROM mesh.vector_search('vec', 'mesh_docs', (SELECT v FROM q), 4, '{"category": "a"}'))
	 = (SELECT array_agg(id) FROM (SELECT id FROM docs WHERE category = 'a' ORDER BY cosine(embedding, (SELECT v FROM q)) DESC LIMIT 4) s) AS same_filtered;

-- a foreign table over the collection: a search when the query column is given
-- (LIMIT becomes k), every point otherwise; other columns read payload members
CREATE FOREIGN TABLE docs_vec (id text, score float8, payload jsonb, q real[] OPTIONS (query 'true'),
	title text, price numeric, in_stock boolean)
	SERVER vec OPTIONS (collection 'mesh_docs', k '3');
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, score, title FROM docs_vec WHERE q = emb(1000) LIMIT 5;
SELECT (SELECT array_agg(id::int ORDER BY score DESC) FROM (SELECT id, score FROM docs_vec WHERE q = (SELECT v FROM q) LIMIT 5) s)
	 = (SELECT array_agg(id) FROM (SELECT id FROM docs ORDER BY cosine(embedding, (SELECT v FROM q)) DESC LIMIT 5) s) AS same_top5;
SELECT count(*) FROM docs_vec WHERE q = (SELECT v FROM q);
SELECT id, title, price, in_stock, q = emb(7) AS q_back FROM docs_vec WHERE q = emb(7) LIMIT 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM docs_vec;
SELECT count(*), count(score), sum(price), count(*) FILTER (WHERE id::int = (payload->>'id')::int) FROM docs_vec;

-- changes follow: a new vector, deletes, NULL columns, hostile text
UPDATE docs SET embedding = emb(2000), title = E'new \' " \\ \n ünï ✓' WHERE id = 10;
UPDATE docs SET price = NULL, category = NULL WHERE id = 11;
DELETE FROM docs WHERE id BETWEEN 50 AND 60;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('docs');
SELECT id, round(score::numeric, 4) AS score, payload->>'title' = (SELECT title FROM docs WHERE id = 10) AS title_intact
FROM mesh.vector_search('vec', 'mesh_docs', emb(2000), 1);
SELECT count(*) FROM mesh.vector_search('vec', 'mesh_docs', (SELECT v FROM q), 100) WHERE id::int BETWEEN 50 AND 60;
SELECT payload - 'embedding' AS payload FROM mesh.vector_search('vec', 'mesh_docs', emb(11), 1);

-- a row without a usable vector is a dead letter naming it; fixing the row repairs the replica
INSERT INTO docs VALUES (100, 'no vector', 'a', 1, true, NULL), (101, 'short', 'a', 1, true, '{1,2}');
SELECT mesh.wait_for_sync();
SELECT error FROM mesh.dead_letter WHERE target = 'vec' ORDER BY event_id;
UPDATE docs SET embedding = emb(100) WHERE id = 100;
UPDATE docs SET embedding = emb(101) WHERE id = 101;
SELECT mesh.wait_for_sync();
SELECT mesh.retry_dead_letters('vec') AS retried;
SELECT mesh.wait_for_sync();
SELECT count(*) AS dead_letters FROM mesh.dead_letter WHERE target = 'vec';
SELECT * FROM mesh.verify('docs');
-- a replay converges
SELECT mesh.replay('docs', 'vec') >= 0 AS replayed;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('docs');

-- errors
SELECT * FROM mesh.vector_search('vec', 'no_such_collection', emb(1), 3);
SELECT * FROM mesh.vector_search('vec', 'mesh_docs', '{1,2,3}', 3);
SELECT * FROM mesh.vector_search('vec', 'mesh_docs', '{1,NULL}', 3);
SELECT * FROM mesh.vector_search('vec', 'mesh_docs', emb(1), 0);
SELECT * FROM mesh.vector_search('vec', 'mesh_docs', emb(1), 3, '[1]');
CREATE TABLE bad_vec (id int PRIMARY KEY, v text);
SELECT mesh.replicate('bad_vec', 'vec', '{}');
SELECT mesh.replicate('bad_vec', 'vec', '{"vector": "nope"}');
SELECT mesh.replicate('bad_vec', 'vec', '{"vector": "v"}');
SELECT mesh.replicate('bad_vec', 'vec', '{"vector": "v", "distance": "Manhattan"}');
SELECT format('http://127.0.0.1:%s', :'garbage_port') AS garbage_url \gset
CREATE SERVER vec_garbage FOREIGN DATA WRAPPER mesh_chroma OPTIONS (url :'garbage_url');
SELECT * FROM mesh.vector_search('vec_garbage', 'mesh_docs', emb(1), 3);
SELECT format('http://127.0.0.1:%s', :'hang_port') AS hang_url \gset
CREATE SERVER vec_hang FOREIGN DATA WRAPPER mesh_chroma OPTIONS (url :'hang_url', timeout_ms '300');
SELECT * FROM mesh.vector_search('vec_hang', 'mesh_docs', emb(1), 3);

TRUNCATE docs;
SELECT mesh.wait_for_sync();
SELECT target, source_rows, target_rows, consistent FROM mesh.verify('docs');
SELECT mesh.unreplicate('docs', 'vec');
DROP TABLE docs, bad_vec;
DROP FUNCTION emb(int), cosine(real[], real[]);
DROP SERVER vec, vec_garbage, vec_hang CASCADE;
