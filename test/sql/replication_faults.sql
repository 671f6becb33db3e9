-- servers: pg_remote redis hang
-- Replication under failure: a target down for a while, a target that
-- hangs, a poison row, retention.  Every scenario ends with verify.
\getenv redis_port MESH_REDIS_PORT
\getenv remote_port MESH_REMOTE_PG_PORT
\getenv hang_port MESH_HANG_PORT
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS orders; CREATE TABLE orders (id int PRIMARY KEY, item text, qty int CHECK (qty < 1000))"

CREATE SERVER f_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE SERVER f_pg FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER f_pg
	OPTIONS (user 'remote_user', password 'remote_secret_pw');
SELECT * FROM mesh.execute('f_cache', 'FLUSHDB');
CREATE SERVER f_hang FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'hang_port', timeout_ms '300');

-- waits (without sleeping blindly) until a route's stats show an error
CREATE FUNCTION wait_for_error(t name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	err text;
BEGIN
	FOR i IN 1..3000 LOOP
		SELECT last_error INTO err FROM mesh.stats WHERE target = t;
		IF err IS NOT NULL THEN
			RETURN regexp_replace(err, '[0-9]+ ms', 'N ms');
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN 'no error seen';
END $$;

CREATE TABLE orders (id int PRIMARY KEY, item text, qty int);
INSERT INTO orders SELECT g, 'item' || g, g FROM generate_series(1, 50) g;
SELECT mesh.replicate('orders', 'f_cache', '{"key_prefix": "order:"}', 'cache') > 0 AS ok;
SELECT mesh.replicate('orders', 'f_pg') > 0 AS ok;
SELECT mesh.wait_for_sync();
SELECT * FROM mesh.verify('orders');

-- 1. the PostgreSQL target is down for a while: its route retries with
-- backoff and shows the error and the pending events; the Redis route keeps
-- flowing; once the target is back everything arrives
\! bash "$MESH_HARNESS" stop-one pg_remote >/dev/null 2>&1
INSERT INTO orders SELECT g, 'while down', g FROM generate_series(51, 80) g;
UPDATE orders SET item = 'changed while down' WHERE id <= 5;
SELECT mesh.wait_for_sync(30000, 'f_cache');
SELECT wait_for_error('f_pg') <> 'no error seen' AS shows_error;
SELECT target, pending > 0 AS has_pending, failed > 0 AS has_failed FROM mesh.stats ORDER BY target;
\set VERBOSITY terse
SELECT target, source_rows, target_rows, consistent FROM mesh.verify('orders') ORDER BY target;
\set VERBOSITY default
\! bash "$MESH_HARNESS" start-one pg_remote >/dev/null 2>&1
SELECT mesh.wait_for_sync(60000);
SELECT * FROM mesh.verify('orders');
SELECT target, pending, last_error FROM mesh.stats ORDER BY target;

-- 2. a target that accepts connections and never answers: its route times
-- out and waits; the other routes keep flowing
SELECT mesh.replicate('orders', 'f_hang', '{"key_prefix": "order:"}') > 0 AS ok;
INSERT INTO orders VALUES (81, 'during hang', 1);
SELECT mesh.wait_for_sync(30000, 'f_cache') AND mesh.wait_for_sync(30000, 'f_pg') AS others_synced;
SELECT wait_for_error('f_hang') LIKE '%no answer from Redis server "f_hang" within N ms%' AS hang_error;
SELECT mesh.wait_for_sync(500) AS all_synced;
SELECT target, consistent FROM mesh.verify('orders') ORDER BY target;
SELECT mesh.unreplicate('orders', 'f_hang');

-- 3. a poison row: the remote CHECK (qty < 1000) rejects it; it goes to
-- the dead letters with the reason, later rows keep flowing
INSERT INTO orders VALUES (100, 'poison', 5000);
INSERT INTO orders VALUES (101, 'after poison', 1);
SELECT mesh.wait_for_sync(60000);
SELECT target, op, key, error LIKE '%violates check constraint%' AS check_violation, attempts
FROM mesh.dead_letter ORDER BY target;
SELECT target, dead FROM mesh.stats ORDER BY target;
SELECT * FROM mesh.verify('orders');
-- a retry without a fix fails again and stays dead
SELECT mesh.retry_dead_letters('f_pg');
SELECT mesh.wait_for_sync(60000);
SELECT target, attempts FROM mesh.dead_letter;
-- after the fix the retry re-syncs the key from the source's current row
\! bash "$MESH_HARNESS" remote-sql "ALTER TABLE orders DROP CONSTRAINT orders_qty_check"
SELECT mesh.retry_dead_letters();
SELECT mesh.wait_for_sync(60000);
SELECT count(*) AS dead_letters FROM mesh.dead_letter;
SELECT * FROM mesh.verify('orders');

-- 4. retention: delivered generations are truncated, never row by row;
-- undelivered events are never pruned
SELECT count(*) > 0 AS has_events FROM mesh.event_log_status WHERE approx_events >= 0;
SELECT mesh.prune_event_log() AS pruned_with_default_retention;
ALTER SYSTEM SET mesh.event_retention = 0;
ALTER SYSTEM SET mesh.event_generation_size = 1000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT mesh.pause('orders', 'f_pg');
-- three thousand events: they span every generation
INSERT INTO orders SELECT g, 'retention', 1 FROM generate_series(1000, 3999) g;
SELECT mesh.wait_for_sync(60000);
SELECT mesh.prune_event_log() AS pruned_while_paused;
SELECT mesh.resume('orders', 'f_pg');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.prune_event_log() > 0 AS pruned_after_delivery;
SELECT * FROM mesh.verify('orders');
ALTER SYSTEM RESET mesh.event_retention;
ALTER SYSTEM RESET mesh.event_generation_size;
SELECT pg_reload_conf();

DROP TABLE orders;
DROP FUNCTION wait_for_error(name);
DROP SERVER f_cache, f_pg, f_hang CASCADE;
