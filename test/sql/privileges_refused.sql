-- servers: redis
-- What mesh refuses to roles that are not a table's owner (README
-- "Privileges"; issue 14 findings 3-7), each tried as the role named:
-- app (owns app_orders, USAGE on mesh_redis and mesh_kafka), inserter
-- (only INSERT on app_orders, a server of its own), alice (nothing).
-- Route operations and subscriptions need ownership of the table ("must
-- be owner of table", SQLSTATE 42501, as CREATE PUBLICATION); the event
-- log and dead letters show a role no rows of tables it does not own;
-- mesh's internal tables and functions are closed.
\getenv redis_port MESH_REDIS_PORT
CREATE ROLE app;
CREATE ROLE inserter;
CREATE ROLE alice;
GRANT USAGE ON FOREIGN DATA WRAPPER mesh_redis, mesh_kafka TO app, inserter;
GRANT CREATE ON SCHEMA public TO app;
-- try(sql): the error as SQLSTATE and message, or ok
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a server app has no USAGE on, and a table it does not own
CREATE SERVER admin_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE TABLE admin_secrets (id int PRIMARY KEY, secret text);
INSERT INTO admin_secrets VALUES (1, 'the admin''s secret');
GRANT SELECT ON admin_secrets TO app;

SET ROLE app;
CREATE SERVER app_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR app SERVER app_cache;
-- a Kafka server nothing listens on: every refusal comes before a connection
CREATE SERVER app_kafka FOREIGN DATA WRAPPER mesh_kafka OPTIONS (brokers '127.0.0.1:9', timeout_ms '500');
CREATE TABLE app_orders (id int PRIMARY KEY, customer text, total numeric);
INSERT INTO app_orders VALUES (1, 'Ann', 10), (2, 'Bob', 20);
GRANT INSERT ON app_orders TO inserter;
SELECT mesh.replicate('app_orders', 'app_cache', '{"key_prefix": "privorder:"}') > 0 AS replicated;
SELECT mesh.wait_for_sync(30000);
-- a table app does not own (even with SELECT on it), a server it may not use
SELECT pg_temp.try($$SELECT mesh.replicate('admin_secrets', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.subscribe('app_kafka', 'topic1', 'admin_secrets')$$);
CREATE TABLE app_other (id int PRIMARY KEY);
SELECT pg_temp.try($$SELECT mesh.replicate('app_other', 'admin_cache')$$);
-- a table with row level security: the backfill would miss hidden rows
CREATE TABLE app_rls (id int PRIMARY KEY, tenant text);
ALTER TABLE app_rls ENABLE ROW LEVEL SECURITY;
SELECT pg_temp.try($$SELECT mesh.replicate('app_rls', 'app_cache')$$);
SELECT count(*) AS routes_of_app_rls FROM mesh.routes WHERE source = 'app_rls'::regclass;
-- app does not see the events or dead letters of the admin's tables
RESET ROLE;
INSERT INTO admin_secrets VALUES (2, 'another secret');
SELECT mesh.replicate('admin_secrets', 'admin_cache', '{"key_prefix": "privsecret:"}') > 0 AS replicated;
INSERT INTO admin_secrets VALUES (3, 'a captured secret');
SELECT mesh.wait_for_sync(30000);
SELECT count(*) > 0 AS superuser_sees_events FROM mesh.event_log WHERE source = 'admin_secrets'::regclass;
SET ROLE app;
SELECT count(*) AS events_of_others FROM mesh.event_log WHERE source <> 'app_orders'::regclass;
SELECT count(*) AS dead_letters_of_others FROM mesh.dead_letter WHERE source <> 'app_orders'::regclass;
-- ... nor route operations on them (it may SELECT the table: it sees the route)
SELECT source, target FROM mesh.routes WHERE source = 'admin_secrets'::regclass;
SELECT pg_temp.try($$SELECT mesh.pause('admin_secrets', 'admin_cache')$$);
SELECT pg_temp.try($$SELECT mesh.unreplicate('admin_secrets', 'admin_cache')$$);
RESET ROLE;

-- an INSERT-only role: no replicate, no subscribe, no route operations
GRANT CREATE ON SCHEMA public TO inserter;
SET ROLE inserter;
CREATE SERVER ins_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR inserter SERVER ins_cache;
CREATE SERVER ins_kafka FOREIGN DATA WRAPPER mesh_kafka OPTIONS (brokers '127.0.0.1:9', timeout_ms '500');
SELECT pg_temp.try($$SELECT mesh.replicate('app_orders', 'ins_cache')$$);
SELECT pg_temp.try($$SELECT mesh.subscribe('ins_kafka', 'orders', 'app_orders')$$);
SELECT pg_temp.try($$SELECT mesh.pause('app_orders', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.unreplicate('app_orders', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.apply_catalog('app_orders: {cache: ins_cache}')$$);
-- its inserts are captured all the same (finding 6), and it sees no events
INSERT INTO app_orders VALUES (3, 'by inserter', 30);
SELECT count(*) AS events_seen_by_inserter FROM mesh.event_log;
SELECT count(*) AS routes_seen_by_inserter FROM mesh.routes;
RESET ROLE;
-- (captured by triggers or from the WAL: the event is in the log once synced)
SELECT mesh.wait_for_sync(30000) AS synced_after_inserter;
SELECT count(*) AS events_of_the_inserters_row FROM mesh.event_log
	WHERE source = 'app_orders'::regclass AND key->>'id' = '3';
SELECT count(*) AS routes_to_ins_cache FROM mesh.routes WHERE target = 'ins_cache';

-- alice, with no privilege at all, on app's route and subscription
SET ROLE app;
SELECT mesh.subscribe('app_kafka', 'orders', 'app_orders') > 0 AS subscribed;
RESET ROLE;
SET ROLE alice;
SELECT pg_temp.try($$SELECT mesh.replicate('app_orders', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.pause('app_orders', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.resume('app_orders', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.replay('app_orders', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.unreplicate('app_orders', 'app_cache')$$);
SELECT pg_temp.try($$SELECT mesh.unsubscribe('app_kafka', 'orders', 'app_orders')$$);
SELECT pg_temp.try($$SELECT mesh.subscribe('app_kafka', 'orders2', 'app_orders')$$);
SELECT mesh.retry_dead_letters() AS retried_by_alice;
SELECT pg_temp.try($$SELECT * FROM mesh.verify('app_orders')$$);
SELECT pg_temp.try($$SELECT * FROM mesh.query_all('app_orders', '1')$$);
SELECT pg_temp.try($$SELECT mesh.wait_for_subscription('app_orders', 100)$$);
-- the views and the catalog show alice nothing of tables she cannot read
SELECT count(*) AS routes FROM mesh.routes;
SELECT count(*) AS stats FROM mesh.stats;
SELECT count(*) AS catalog FROM mesh.catalog;
SELECT count(*) AS events FROM mesh.event_log;
SELECT count(*) AS dead_letters FROM mesh.dead_letter;
SELECT count(*) AS subscriptions FROM mesh.subscriptions;
SELECT count(*) AS subscription_errors FROM mesh.subscription_errors;
SELECT mesh.catalog_yaml() NOT LIKE '%app_orders%' AS catalog_yaml_hides_app_orders;
-- mesh's internal tables and functions are closed to her
SELECT pg_temp.try($$SELECT * FROM mesh.route$$);
SELECT pg_temp.try($$SELECT * FROM mesh.event_log_0$$);
SELECT pg_temp.try($$SELECT * FROM mesh.dead_letter_store$$);
SELECT pg_temp.try($$SELECT * FROM mesh.route_cursor$$);
SELECT pg_temp.try($$SELECT * FROM mesh.subscription$$);
SELECT pg_temp.try($$UPDATE mesh.route SET paused = true$$);
SELECT pg_temp.try($$INSERT INTO mesh.event_log VALUES (1, 0, '1', 0, 'T', NULL, NULL, now())$$);
SELECT pg_temp.try($$DELETE FROM mesh.event_log$$);
SELECT pg_temp.try($$SELECT nextval('mesh.event_id_seq')$$);
SELECT pg_temp.try($$SELECT mesh._replicate('app'::regrole, 'app_orders', 'app_cache', '{}', 'replica')$$);
SELECT pg_temp.try($$SELECT mesh._set_paused('app'::regrole, 'app_orders', 'app_cache', true)$$);
SELECT pg_temp.try($$SELECT mesh._check_route('app_orders', 'app_cache', '{}', 'app'::regrole)$$);
SELECT pg_temp.try($$SELECT mesh._install_capture('app_orders')$$);
SELECT pg_temp.try($$SELECT mesh._wake()$$);
SELECT pg_temp.try($$SELECT mesh.prune_event_log()$$);
-- a SECURITY DEFINER function of alice's acts as alice, whoever calls it
CREATE FUNCTION pg_temp.alice_pauses() RETURNS boolean LANGUAGE sql SECURITY DEFINER
	AS $$ SELECT mesh.pause('public.app_orders', 'app_cache') $$;
RESET ROLE;
SELECT pg_temp.try($$SELECT pg_temp.alice_pauses()$$);
SELECT source, paused FROM mesh.routes WHERE source = 'app_orders'::regclass;

-- app (the owner) still does all of it
SET ROLE app;
SELECT mesh.unsubscribe('app_kafka', 'orders', 'app_orders');
SELECT mesh.wait_for_sync(30000);
SELECT * FROM mesh.verify('app_orders');
SELECT mesh.unreplicate('app_orders', 'app_cache');
RESET ROLE;

SELECT mesh.unreplicate('admin_secrets', 'admin_cache');
DROP TABLE admin_secrets;
DROP SERVER admin_cache;
DROP OWNED BY app, inserter, alice;
REVOKE CREATE ON SCHEMA public FROM app, inserter;
REVOKE USAGE ON FOREIGN DATA WRAPPER mesh_redis, mesh_kafka FROM app, inserter;
DROP ROLE app;
DROP ROLE inserter;
DROP ROLE alice;
