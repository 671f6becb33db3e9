-- servers: opensearch
-- IMPORT FOREIGN SCHEMA from index mappings: the remote schema is an index
-- name or pattern; objects flatten into dotted columns; es_type and
-- keyword_field drive pushdown; LIMIT TO and EXCEPT apply.
-- The server: MESH_OPENSEARCH_PORT's, unless es_port is set (elasticsearch7_*.sql).
\if :{?es_port}
\else
\getenv es_port MESH_OPENSEARCH_PORT
\endif
\set es_url 'http://127.0.0.1:' :es_port
CREATE SERVER es_imp FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url :'es_url', timeout_ms '20000');
SELECT * FROM mesh.execute('es_imp', 'DELETE /es_imp_*');
SELECT * FROM mesh.execute('es_imp', $$PUT /es_imp_products
{"mappings": {"properties": {
	"name": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
	"sku": {"type": "keyword"}, "qty": {"type": "integer"}, "views": {"type": "long"},
	"price": {"type": "scaled_float", "scaling_factor": 100}, "weight": {"type": "float"},
	"ratio": {"type": "double"}, "active": {"type": "boolean"}, "added": {"type": "date"},
	"origin": {"type": "ip"}, "where": {"type": "geo_point"},
	"maker": {"properties": {"name": {"type": "keyword"}, "address": {"properties": {"city": {"type": "text"}}}}},
	"parts": {"type": "nested", "properties": {"p": {"type": "keyword"}}}}}}$$);
SELECT * FROM mesh.execute('es_imp', 'PUT /es_imp_logs {"mappings": {"properties": {"msg": {"type": "text"}, "level": {"type": "keyword"}}}}');
SELECT r->'errors' AS errors FROM mesh.execute('es_imp', $$POST /_bulk?refresh=true
{"index": {"_index": "es_imp_products", "_id": "p1"}}
{"name": "Blue Widget", "sku": "W-1", "qty": 3, "views": 10000000000, "price": 9.99, "weight": 1.5, "ratio": 0.25, "active": true, "added": "2026-01-02T03:04:05Z", "origin": "10.0.0.1", "where": {"lat": 52.5, "lon": 13.4}, "maker": {"name": "Acme", "address": {"city": "Berlin"}}, "parts": [{"p": "a"}, {"p": "b"}]}
{"index": {"_index": "es_imp_products", "_id": "p2"}}
{"name": "Red Widget", "sku": "W-2", "qty": 0, "active": false, "maker": {"name": "O'Neil \"Co\""}}
{"index": {"_index": "es_imp_logs", "_id": "l1"}}
{"msg": "started", "level": "info"}
$$) r;

CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA "es_imp_*" FROM SERVER es_imp INTO imp;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'imp' AND a.attnum > 0 ORDER BY c.relname, a.attnum;
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
WHERE c.relnamespace = 'imp'::regnamespace ORDER BY 1;
SET TimeZone = 'UTC';
SELECT * FROM imp.es_imp_products ORDER BY _id;
-- the imported options push exact filters (keyword, keyword subfield) and not analysed text
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM imp.es_imp_products
	WHERE name = 'Blue Widget' AND sku = 'W-1' AND qty >= 1 AND "maker.address.city" = 'Berlin';
SELECT _id FROM imp.es_imp_products WHERE name = 'Blue Widget' AND sku = 'W-1' AND qty >= 1 AND "maker.address.city" = 'Berlin';
SELECT _id FROM imp.es_imp_products WHERE "maker.name" = 'O''Neil "Co"';
SELECT * FROM imp.es_imp_logs;

-- LIMIT TO / EXCEPT, and a pattern that matches nothing
DROP SCHEMA imp CASCADE;
CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA "es_imp_*" LIMIT TO (es_imp_logs) FROM SERVER es_imp INTO imp;
IMPORT FOREIGN SCHEMA "es_imp_*" EXCEPT (es_imp_logs, es_imp_products) FROM SERVER es_imp INTO imp;
SELECT relname FROM pg_class WHERE relnamespace = 'imp'::regnamespace ORDER BY 1;
IMPORT FOREIGN SCHEMA "no_such_index" FROM SERVER es_imp INTO imp;

DROP SCHEMA imp CASCADE;
SELECT * FROM mesh.execute('es_imp', 'DELETE /es_imp_*');
DROP SERVER es_imp;
