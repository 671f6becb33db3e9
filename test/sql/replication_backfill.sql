-- servers: pg_remote
-- A backfill (the copy of existing rows by mesh.replicate) whose rows the
-- target refuses: every refused row is a dead letter of its own, with its
-- own key, so mesh.retry_dead_letters re-syncs each of them after the fix.
-- (Backfill rows share one event id, which used to merge them into one.)
\getenv remote_port MESH_REMOTE_PG_PORT
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS bf_items; CREATE TABLE bf_items (id int PRIMARY KEY, qty int CONSTRAINT qty_small CHECK (qty < 1000))"
CREATE SERVER bf_pg FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER bf_pg
	OPTIONS (user 'remote_user', password 'remote_secret_pw');

-- 100 existing rows: the 50 even ids break the target's CHECK (qty < 1000)
CREATE TABLE bf_items (id int PRIMARY KEY, qty int);
INSERT INTO bf_items SELECT g, CASE WHEN g % 2 = 0 THEN 1000 + g ELSE g END
	FROM generate_series(1, 100) g;
SELECT mesh.replicate('bf_items', 'bf_pg') > 0 AS ok;
SELECT mesh.wait_for_sync(60000);

-- 50 dead letters, one per refused row, each with its own key, each tried once
SELECT count(*) AS dead_letters, count(DISTINCT key) AS distinct_keys,
	   min(attempts) AS min_attempts, max(attempts) AS max_attempts,
	   bool_and((key->>'id')::int % 2 = 0) AS only_refused_rows,
	   bool_and(error LIKE '%violates check constraint "qty_small"%') AS check_violation
FROM mesh.dead_letter WHERE target = 'bf_pg';
SELECT target, delivered, dead FROM mesh.stats WHERE source = 'bf_items'::regclass;
SELECT target, source_rows, target_rows, missing, extra, mismatched, consistent
FROM mesh.verify('bf_items');

-- fix the target, retry: every refused key is re-synced
\! bash "$MESH_HARNESS" remote-sql "ALTER TABLE bf_items DROP CONSTRAINT qty_small"
SELECT mesh.retry_dead_letters('bf_pg');
SELECT mesh.wait_for_sync(60000);
SELECT count(*) AS dead_letters FROM mesh.dead_letter WHERE target = 'bf_pg';
SELECT target, delivered, dead FROM mesh.stats WHERE source = 'bf_items'::regclass;
SELECT target, source_rows, target_rows, missing, extra, mismatched, consistent
FROM mesh.verify('bf_items');
\! bash "$MESH_HARNESS" remote-sql "SELECT count(*), sum(qty) FROM bf_items"

-- leave nothing behind for the suites that follow
SELECT mesh.unreplicate('bf_items', 'bf_pg');
SET client_min_messages = warning;
DROP TABLE bf_items;
DROP SERVER bf_pg CASCADE;
RESET client_min_messages;
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE bf_items"
