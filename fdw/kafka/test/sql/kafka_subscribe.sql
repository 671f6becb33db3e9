-- servers: kafka
-- Kafka subscriptions: a topic of mesh envelopes applied to a local table
-- (upsert, delete, truncate), malformed messages dead-lettered, a killed
-- worker resuming without applying anything twice, unsubscribe.
\getenv kafka_port MESH_KAFKA_PORT
\set brokers '127.0.0.1:' :kafka_port
CREATE SERVER ksub FOREIGN DATA WRAPPER mesh_kafka OPTIONS (brokers :'brokers', timeout_ms '10000');
SELECT t->>'deleted' AS deleted FROM mesh.execute('ksub', 'delete kb_items') t;
SELECT t->>'deleted' AS deleted FROM mesh.execute('ksub', 'delete kb_log') t;
SELECT * FROM mesh.execute('ksub', 'create kb_items 3');
SELECT * FROM mesh.execute('ksub', 'create kb_log');

CREATE TABLE kb_src (id int PRIMARY KEY, name text, qty int, tags text[], doc jsonb,
					 at timestamptz, raw bytea);
CREATE TABLE kb_dst (LIKE kb_src INCLUDING ALL);
-- every row change applied at the subscriber, to prove nothing is applied twice
CREATE TABLE kb_applied (n bigserial, op text, id int);
CREATE FUNCTION kb_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO kb_applied (op, id) VALUES (TG_OP, COALESCE(NEW.id, OLD.id));
	RETURN NULL;
END $$;
CREATE TRIGGER kb_count AFTER INSERT OR UPDATE OR DELETE ON kb_dst
	FOR EACH ROW EXECUTE FUNCTION kb_count();

-- bad calls
CREATE TABLE kb_nopk (id int);
CREATE SERVER kb_redis FOREIGN DATA WRAPPER mesh_redis;
SELECT mesh.subscribe('ksub', 'bad topic', 'kb_dst');
SELECT mesh.subscribe('ksub', 'kb_items', 'kb_dst', '{"grp": "x"}');
SELECT mesh.subscribe('ksub', 'kb_items', 'kb_dst', '{"start": "middle"}');
SELECT mesh.subscribe('ksub', 'kb_items', 'kb_nopk');
SELECT mesh.subscribe('kb_redis', 'kb_items', 'kb_dst');
SELECT mesh.subscribe('no_server', 'kb_items', 'kb_dst');
SELECT mesh.wait_for_subscription('kb_dst', 100);
DROP SERVER kb_redis;

-- hub -> topic -> local table (a group of its own per run)
SELECT mesh.replicate('kb_src', 'ksub', '{"topic": "kb_items"}', 'stream') > 0 AS replicated;
SELECT mesh.wait_for_sync(30000);   -- backfilled (empty): every change below is an event
SELECT mesh.subscribe('ksub', 'kb_items', 'kb_dst',
					  jsonb_build_object('group', 'kb-' || txid_current())) > 0 AS subscribed;
SELECT mesh.subscribe('ksub', 'kb_items', 'kb_dst');
INSERT INTO kb_src VALUES
	(1, 'plain', 1, '{a,b}', '{"x": 1}', '2024-01-02 03:04:05+00', '\x00ff'),
	(2, E'quote'' "dq" back\\slash\nnewline\ttab', -2, '{"with space","comma,here"}', '"str"', NULL, NULL),
	(3, 'ünïcødé 😀 中文', NULL, '{}', '[1, {"k": "v\"q"}]', 'infinity', ''),
	(4, 'to delete', 4, NULL, 'null', NULL, NULL);
UPDATE kb_src SET qty = qty * 10 WHERE id IN (1, 2);
DELETE FROM kb_src WHERE id = 4;
SELECT mesh.wait_for_sync(30000);
SELECT mesh.wait_for_subscription('kb_dst', 30000);
SELECT * FROM kb_dst ORDER BY id;
SELECT count(*) AS differences FROM ((TABLE kb_src EXCEPT TABLE kb_dst) UNION ALL (TABLE kb_dst EXCEPT TABLE kb_src)) d;

-- malformed messages go to mesh.subscription_errors; the stream goes on
SELECT t->>'partition' AS p FROM mesh.execute('ksub', 'produce kb_items',
	'{"key": "junk", "value": "{not json", "partition": 0}') t;
SELECT t->>'partition' AS p FROM mesh.execute('ksub', 'produce kb_items',
	'{"key": "no-op", "value": {"after": {"id": 9}}, "partition": 0}') t;
SELECT t->>'partition' AS p FROM mesh.execute('ksub', 'produce kb_items',
	'{"key": "bad-type", "value": {"op": "c", "after": {"id": "nine"}}, "partition": 0}') t;
SELECT t->>'partition' AS p FROM mesh.execute('ksub', 'produce kb_items',
	'{"key": "no-before", "value": {"op": "d", "before": null}, "partition": 0}') t;
SELECT t->>'partition' AS p FROM mesh.execute('ksub', 'produce kb_items',
	'{"key": "array", "value": [1, 2], "partition": 0}') t;
SELECT t->>'partition' AS p FROM mesh.execute('ksub', 'produce kb_items',
	'{"key": "tombstone", "partition": 0}') t;
UPDATE kb_src SET name = 'after the junk' WHERE id = 1;
SELECT mesh.wait_for_sync(30000);
SELECT mesh.wait_for_subscription('kb_dst', 30000);
SELECT key, value, error FROM mesh.subscription_errors ORDER BY "offset";
SELECT name FROM kb_dst WHERE id = 1;

-- a killed worker resumes from the offsets committed with the rows
SELECT count(*) AS killed FROM pg_stat_activity a, pg_terminate_backend(a.pid)
WHERE a.application_name LIKE 'mesh subscription %' AND a.datname = current_database();
INSERT INTO kb_src SELECT g, 'bulk ' || g, g FROM generate_series(10, 59) g;
UPDATE kb_src SET qty = -qty WHERE id BETWEEN 10 AND 19;
SELECT mesh.wait_for_sync(30000);
SELECT mesh.wait_for_subscription('kb_dst', 60000);
SELECT count(*) AS differences FROM ((TABLE kb_src EXCEPT TABLE kb_dst) UNION ALL (TABLE kb_dst EXCEPT TABLE kb_src)) d;
-- one applied change per envelope (c, u, r, d) in the topic: none twice
CREATE FOREIGN TABLE kb_items_topic (partition int, "offset" bigint, key text, value text,
									 headers jsonb)
	SERVER ksub OPTIONS (topic 'kb_items');
SELECT (SELECT count(*) FROM kb_applied) AS applied,
	   (SELECT count(*) FROM kb_items_topic WHERE headers ? 'mesh-event-id') AS envelopes;
SELECT server, topic, into_table, applied, errors, last_error FROM mesh.subscriptions;

-- truncate on a single-partition topic (a truncate has no key: its order
-- with other keys holds only within one partition)
CREATE TABLE kb_src2 (k text PRIMARY KEY, v int);
CREATE TABLE kb_dst2 (k text PRIMARY KEY, v int);
SELECT mesh.replicate('kb_src2', 'ksub', '{"topic": "kb_log"}') > 0 AS replicated;
SELECT mesh.wait_for_sync(30000);
SELECT mesh.subscribe('ksub', 'kb_log', 'kb_dst2', jsonb_build_object('group', 'kb2-' || txid_current())) > 0 AS subscribed;
INSERT INTO kb_src2 VALUES ('a', 1), ('b', 2);
TRUNCATE kb_src2;
INSERT INTO kb_src2 VALUES ('c', 3);
SELECT mesh.wait_for_sync(30000);
SELECT mesh.wait_for_subscription('kb_dst2', 30000);
SELECT * FROM kb_dst2 ORDER BY k;

-- unsubscribe: the workers stop, later changes are not applied
SELECT mesh.unsubscribe('ksub', 'kb_items', 'kb_dst');
SELECT mesh.unsubscribe('ksub', 'kb_items', 'kb_dst');
SELECT mesh.unsubscribe('ksub', 'kb_log', 'kb_dst2');
DO $$
BEGIN
	FOR i IN 1..300 LOOP	-- at most 30 s
		EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
							  WHERE application_name LIKE 'mesh subscription %'
							    AND datname = current_database());
		PERFORM pg_sleep(0.1);
		PERFORM pg_stat_clear_snapshot();	-- see the workers as they are now
	END LOOP;
END $$;
SELECT count(*) AS subscription_workers FROM pg_stat_activity
WHERE application_name LIKE 'mesh subscription %' AND datname = current_database();
UPDATE kb_src SET name = 'not applied' WHERE id = 1;
SELECT mesh.wait_for_sync(30000);
SELECT name FROM kb_dst WHERE id = 1;
SELECT mesh.wait_for_subscription('kb_dst', 100);
SELECT count(*) FROM mesh.subscriptions;
SELECT mesh.unreplicate('kb_src', 'ksub');
SELECT mesh.unreplicate('kb_src2', 'ksub');
DROP SERVER ksub CASCADE;
DROP TABLE kb_src, kb_dst, kb_src2, kb_dst2, kb_nopk, kb_applied;
DROP FUNCTION kb_count();
