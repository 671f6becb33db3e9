-- servers: hang kafka
-- Kafka: a broker that is away is a transient error (the route waits and
-- catches up, nothing lost, nothing dead-lettered); scans, execute and
-- health fail clearly within timeout_ms, also against a hanging server.
\getenv kafka_port MESH_KAFKA_PORT
\getenv down_port MESH_DOWN_PORT
\getenv hang_port MESH_HANG_PORT
\set brokers '127.0.0.1:' :kafka_port
\set down '127.0.0.1:' :down_port
\set hang '127.0.0.1:' :hang_port
CREATE SERVER kf FOREIGN DATA WRAPPER mesh_kafka OPTIONS (brokers :'brokers', timeout_ms '1500');
CREATE SERVER kf_hang FOREIGN DATA WRAPPER mesh_kafka OPTIONS (brokers :'hang', timeout_ms '1000');
SELECT t->>'deleted' AS deleted FROM mesh.execute('kf', 'delete kf_items') t;
SELECT * FROM mesh.execute('kf', 'create kf_items');
CREATE TABLE kf_items (id int PRIMARY KEY, v text);
INSERT INTO kf_items VALUES (0, 'before');
SELECT mesh.replicate('kf_items', 'kf', '{}', 'stream') > 0 AS replicated;
SELECT mesh.wait_for_sync(30000);

-- the broker goes away: the server now points at a port nobody listens on
ALTER SERVER kf OPTIONS (SET brokers :'down');
INSERT INTO kf_items VALUES (1, 'a'), (2, 'b');
UPDATE kf_items SET v = 'b2' WHERE id = 2;
DO $$
BEGIN
	FOR i IN 1..300 LOOP	-- at most 30 s
		EXIT WHEN (SELECT failed FROM mesh.stats WHERE source = 'kf_items'::regclass) > 0;
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT failed > 0 AS failed, dead, pending > 0 AS pending, last_error ~ 'not acknowledged|failed' AS why
FROM mesh.stats WHERE source = 'kf_items'::regclass;
SELECT mesh.wait_for_sync(200) AS synced_while_down;
-- reads fail with a connection error (HV00N, transient), never hang
CREATE FOREIGN TABLE kf_down (partition int, "offset" bigint, value text)
	SERVER kf OPTIONS (topic 'kf_items');
CREATE FOREIGN TABLE kf_hung (partition int, "offset" bigint, value text)
	SERVER kf_hang OPTIONS (topic 'kf_items');
DO $$
BEGIN
	PERFORM * FROM kf_down;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'down: % %', SQLSTATE, SQLERRM;
END $$;
DO $$
BEGIN
	PERFORM * FROM kf_hung;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'hanging: % %', SQLSTATE, SQLERRM;
END $$;
DO $$
BEGIN
	PERFORM * FROM mesh.execute('kf', 'topics');
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'execute: % %', SQLSTATE, SQLERRM;
END $$;
SELECT server, ok, version, error IS NOT NULL AS has_error
FROM mesh.health(3000) WHERE kind = 'kafka' ORDER BY server;

-- the broker is back: the route catches up with nothing lost
ALTER SERVER kf OPTIONS (SET brokers :'brokers');
SELECT mesh.wait_for_sync(60000);
CREATE FOREIGN TABLE kf_topic (partition int, "offset" bigint, key text, value jsonb)
	SERVER kf OPTIONS (topic 'kf_items');
SELECT DISTINCT key, value->>'op' AS op, value->'after' AS after
FROM kf_topic ORDER BY key, op DESC, after;
SELECT dead, pending, last_error FROM mesh.stats WHERE source = 'kf_items'::regclass;
SELECT mesh.unreplicate('kf_items', 'kf');
DROP SERVER kf, kf_hang CASCADE;
DROP TABLE kf_items;
