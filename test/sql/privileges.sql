-- servers: redis
-- mesh as an application role uses it (README "Privileges"): role app
-- (USAGE on the mesh_redis wrapper, nothing on mesh's objects) creates a
-- server, a user mapping and a foreign table, replicates a table it owns,
-- and reads stats, routes, verify, query_all, wait_for_sync and the
-- catalog; role writer (only SELECT/INSERT/UPDATE/DELETE on app's table)
-- writes the replicated table: capture works for it (issue 14, finding 6)
-- and shows it only what it may see.  Every step runs as the role named.
\getenv redis_port MESH_REDIS_PORT
CREATE ROLE app;
CREATE ROLE writer;
GRANT USAGE ON FOREIGN DATA WRAPPER mesh_redis TO app;
GRANT CREATE ON SCHEMA public TO app;

SET ROLE app;
CREATE SERVER app_cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR app SERVER app_cache;
SELECT * FROM mesh.execute('app_cache', 'DEL privitem:1 privitem:5 privitem:16 privitem:21');
CREATE TABLE app_items (id int PRIMARY KEY, name text, qty int);
INSERT INTO app_items SELECT g, 'item ' || g, g FROM generate_series(1, 20) g;
GRANT SELECT, INSERT, UPDATE, DELETE ON app_items TO writer;
-- the owner replicates its own table: backfill, then changes
SELECT mesh.replicate('app_items', 'app_cache', '{"key_prefix": "privitem:"}') > 0 AS replicated;
SELECT mesh.wait_for_sync(30000);
SELECT * FROM mesh.verify('app_items');
SELECT source, target, kind, role, options, paused, backfilled FROM mesh.routes;
SELECT source, target, role, delivered, failed, dead, pending, paused, backfilled FROM mesh.stats;
RESET ROLE;

-- a role with only row privileges writes the table: its changes are captured
SET ROLE writer;
INSERT INTO app_items VALUES (21, 'by writer', 21);
UPDATE app_items SET qty = qty * 10 WHERE id <= 5;
DELETE FROM app_items WHERE id BETWEEN 15 AND 17;
BEGIN;
UPDATE app_items SET name = 'in a transaction' WHERE id = 1;
COMMIT;
-- it sees the route of a table it may SELECT, not the events (row values)
SELECT source, target, kind, role FROM mesh.routes;
SELECT source, target, delivered >= 20 AS delivered, dead FROM mesh.stats;
SELECT * FROM mesh.catalog;
SELECT count(*) AS events_seen_by_writer FROM mesh.event_log;
SELECT count(*) AS dead_letters_seen_by_writer FROM mesh.dead_letter;
SELECT mesh.wait_for_sync(30000);
SELECT * FROM mesh.verify('app_items');
RESET ROLE;

SET ROLE app;
SELECT mesh.wait_for_sync(30000);
SELECT * FROM mesh.verify('app_items');
SELECT * FROM mesh.execute('app_cache', 'HGETALL privitem:21');
SELECT * FROM mesh.execute('app_cache', 'HMGET privitem:1 name qty');
SELECT * FROM mesh.execute('app_cache', 'EXISTS privitem:16');
SELECT kind, role, found, value, error FROM mesh.query_all('app_items', '5');
-- a foreign table on app's own server reads the replica back
CREATE FOREIGN TABLE app_items_cache (id int OPTIONS (key 'true'), name text, qty int)
	SERVER app_cache OPTIONS (type 'hash', key_prefix 'privitem:');
SELECT * FROM app_items_cache WHERE id IN (1, 5, 16, 21) ORDER BY id;
-- the owner reads the events of its table (writer's changes included)
SELECT op, key, row FROM mesh.event_log WHERE source = 'app_items'::regclass ORDER BY id;
SELECT count(*) AS dead_letters FROM mesh.dead_letter;
SELECT mesh.retry_dead_letters();
-- route operations on its own route
SELECT mesh.pause('app_items', 'app_cache');
SELECT paused FROM mesh.routes WHERE source = 'app_items'::regclass;
UPDATE app_items SET qty = 0 WHERE id = 2;
SELECT paused, backfilled FROM mesh.stats WHERE source = 'app_items'::regclass;
SELECT mesh.resume('app_items', 'app_cache');
SELECT mesh.wait_for_sync(30000);
SELECT mesh.replay('app_items', 'app_cache') AS replayed_events;
SELECT mesh.wait_for_sync(30000);
SELECT * FROM mesh.verify('app_items');
-- the catalog: shown, and applied back unchanged; a role change through it
SELECT mesh.catalog_yaml();
SELECT mesh.apply_catalog(mesh.catalog_yaml()) AS changes;
SELECT mesh.apply_catalog($$
app_items:
  cache: app_cache
  options:
    app_cache: {key_prefix: "privitem:"}
$$) AS changes;
SELECT source, target, role FROM mesh.routes;
-- a SECURITY DEFINER function of the owner lets another role pause the route
CREATE FUNCTION pause_items() RETURNS boolean LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT mesh.pause('public.app_items', 'app_cache') $$;
GRANT EXECUTE ON FUNCTION pause_items() TO writer;
RESET ROLE;
SET ROLE writer;
SELECT pause_items();
RESET ROLE;
SET ROLE app;
SELECT mesh.resume('app_items', 'app_cache');
SELECT mesh.unreplicate('app_items', 'app_cache');
SELECT count(*) AS capture_triggers FROM pg_trigger WHERE tgrelid = 'app_items'::regclass;
RESET ROLE;

DROP FUNCTION pause_items();
DROP FOREIGN TABLE app_items_cache;
DROP TABLE app_items;
DROP USER MAPPING FOR app SERVER app_cache;
DROP SERVER app_cache;
REVOKE CREATE ON SCHEMA public FROM app;
REVOKE USAGE ON FOREIGN DATA WRAPPER mesh_redis FROM app;
DROP ROLE writer;
DROP ROLE app;
