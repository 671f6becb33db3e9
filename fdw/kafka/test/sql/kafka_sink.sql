-- servers: kafka
-- Kafka: replication to a topic (Debezium-style envelopes), read back
-- through a topic foreign table; options, execute, health, pushdown.
\getenv kafka_port MESH_KAFKA_PORT
\set brokers '127.0.0.1:' :kafka_port
CREATE SERVER kafka FOREIGN DATA WRAPPER mesh_kafka
	OPTIONS (brokers :'brokers', client_id 'mesh-test', timeout_ms '10000');

-- options: validated, secrets only in the user mapping
CREATE SERVER kbad FOREIGN DATA WRAPPER mesh_kafka OPTIONS (password 'x');
CREATE SERVER kbad FOREIGN DATA WRAPPER mesh_kafka OPTIONS (security_protocol 'tls');
CREATE SERVER kbad FOREIGN DATA WRAPPER mesh_kafka OPTIONS (broker 'x:1');
CREATE SERVER kbad FOREIGN DATA WRAPPER mesh_kafka
	OPTIONS (brokers :'brokers', security_protocol 'sasl_plaintext', sasl_mechanism 'SCRAM-SHA-256');
CREATE USER MAPPING FOR CURRENT_USER SERVER kbad OPTIONS (user 'alice', password 'kafka_secret_pw');
SELECT server, kind, regexp_replace(options::text, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g')::jsonb AS options FROM mesh.backends() WHERE server IN ('kafka', 'kbad') ORDER BY server;
DROP SERVER kbad CASCADE;

-- start from empty topics (reruns)
SELECT t->>'deleted' AS deleted FROM mesh.execute('kafka', 'delete ks_orders') t;
SELECT t->>'deleted' AS deleted FROM mesh.execute('kafka', 'delete ks_log') t;
SELECT * FROM mesh.execute('kafka', 'create ks_orders 3');
SELECT * FROM mesh.execute('kafka', 'create ks_log');
SELECT t FROM mesh.execute('kafka', 'describe ks_orders') t ORDER BY t->>'partition';
SELECT t FROM mesh.execute('kafka', 'topics') t WHERE t->>'topic' LIKE 'ks\_%' ORDER BY 1;
SELECT * FROM mesh.execute('kafka', 'describe no_such_topic');
SELECT * FROM mesh.execute('kafka', 'frobnicate');

CREATE TABLE ks_orders (id int PRIMARY KEY, customer text, amount numeric(10,2),
						paid boolean, note text, meta jsonb, seen float8);
INSERT INTO ks_orders VALUES (1, 'alice', 10.50, true, NULL, '{"tags": ["a"]}', 1.5),
							 (2, 'bob', 20.00, false, 'x', NULL, 'NaN');
-- bad route options
SELECT mesh.replicate('ks_orders', 'kafka', '{"topic": "bad topic!"}', 'stream') > 0 AS replicated;
SELECT mesh.replicate('ks_orders', 'kafka', '{"topics": "x"}', 'stream') > 0 AS replicated;
SELECT mesh.replicate('ks_orders', 'kafka', '{}', 'stream') > 0 AS replicated;   -- topic = table name
SELECT mesh.wait_for_sync(30000);   -- the backfill (op "r") is out first
UPDATE ks_orders SET paid = true WHERE id = 2;
DELETE FROM ks_orders WHERE id = 1;
INSERT INTO ks_orders VALUES
	(3, E'quote'' "dq" back\\slash', 1.00, NULL, E'new\nline\ttab, comma = eq', '"just a string"', -0.25),
	(4, 'ünïcødé 😀 中文', 0.01, true, '', '{"k": "v\"q"}', 1e20);
UPDATE ks_orders SET amount = amount + 1 WHERE id IN (3, 4);
SELECT mesh.wait_for_sync(30000);

CREATE FOREIGN TABLE ks_orders_topic (partition int, "offset" bigint, key text,
									  value jsonb, ts timestamptz, headers jsonb)
	SERVER kafka OPTIONS (topic 'ks_orders');
-- every envelope, exactly (ts_ms, xid and event_id vary between runs:
-- checked apart); the event id also travels as a header
SELECT partition, "offset", key,
	   value - 'ts_ms' #- '{source,xid}' #- '{source,event_id}' AS envelope,
	   headers->>'mesh-event-id' = value->'source'->>'event_id' AS header_is_event_id,
	   CASE value->>'op' WHEN 'r' THEN value->'ts_ms' = 'null' AND value->'source'->'xid' = 'null'
			ELSE jsonb_typeof(value->'ts_ms') = 'number' AND jsonb_typeof(value->'source'->'xid') = 'number' END
			AS stamps_ok,
	   ts IS NOT NULL AS has_ts
FROM ks_orders_topic ORDER BY partition, "offset";
-- per key, messages are in event order
SELECT key, bool_and(ordered) AS in_order FROM (
	SELECT key, (value->'source'->>'event_id')::bigint >
			   coalesce(lag((value->'source'->>'event_id')::bigint) OVER (PARTITION BY key ORDER BY "offset"), -1) AS ordered
	FROM ks_orders_topic) s GROUP BY key ORDER BY key;
-- the last envelope of each key is the source's row (or a delete)
SELECT key, value->'after' AS last_after FROM (
	SELECT DISTINCT ON (key) key, value FROM ks_orders_topic ORDER BY key, "offset" DESC) s ORDER BY key;
SELECT to_jsonb(o) - 'dummy' AS source_row FROM ks_orders o ORDER BY id;

-- pushdown: partition = / IN, offset ranges; EXPLAIN VERBOSE shows them
EXPLAIN (VERBOSE, COSTS OFF)
	SELECT partition, "offset", key FROM ks_orders_topic WHERE partition = 2 AND "offset" BETWEEN 1 AND 2;
SELECT partition, "offset", key FROM ks_orders_topic WHERE partition = 2 AND "offset" BETWEEN 1 AND 2;
EXPLAIN (VERBOSE, COSTS OFF)
	SELECT partition, "offset", key FROM ks_orders_topic WHERE partition IN (0, 1) AND "offset" > 0;
SELECT partition, "offset", key FROM ks_orders_topic WHERE partition IN (0, 1) AND "offset" > 0
	ORDER BY partition, "offset";
SELECT count(*) FROM ks_orders_topic WHERE "offset" = 0;
SELECT count(*) FROM ks_orders_topic WHERE "offset" >= 100;
SELECT count(*) FROM ks_orders_topic WHERE partition = 7;
SELECT count(*) FROM ks_orders_topic WHERE partition = ANY (ARRAY[NULL, 2]);
SELECT partition, "offset" FROM ks_orders_topic LIMIT 2;
-- round trips: one metadata request plus one per selected partition
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT * FROM ks_orders_topic WHERE partition = 1;
-- parameters are pushed too, also under a generic plan (8 executions)
PREPARE by_part(int, bigint) AS
	SELECT count(*) FROM ks_orders_topic WHERE partition = $1 AND "offset" >= $2;
EXECUTE by_part(0, 0);
EXECUTE by_part(1, 0);
EXECUTE by_part(2, 0);
EXECUTE by_part(0, 1);
EXECUTE by_part(1, 1);
EXECUTE by_part(2, 1);
EXECUTE by_part(2, 2);
EXECUTE by_part(2, 3);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_part(2, 3);
DEALLOCATE by_part;

-- a text value column reads any payload; a column that is no field is refused
CREATE FOREIGN TABLE ks_orders_raw (key text, value text, "offset" bigint, partition int)
	SERVER kafka OPTIONS (topic 'ks_orders');
SELECT key, left(value, 60) AS raw_value_start FROM ks_orders_raw WHERE partition = 0 AND "offset" = 0;
CREATE FOREIGN TABLE ks_bad (key text, payload text) SERVER kafka OPTIONS (topic 'ks_orders');
SELECT * FROM ks_bad;
CREATE FOREIGN TABLE ks_missing (key text) SERVER kafka OPTIONS (topic 'ks_no_such_topic');
SELECT * FROM ks_missing;

-- a single-partition topic: truncate, composite keys, and replay
CREATE TABLE ks_log (a int, b text, v text, PRIMARY KEY (a, b));
SELECT mesh.replicate('ks_log', 'kafka', '{"topic": "ks_log"}', 'replica') > 0 AS replicated;
SELECT mesh.wait_for_sync(30000);
INSERT INTO ks_log VALUES (1, 'x', 'one'), (2, E'y\"', 'two');
TRUNCATE ks_log;
INSERT INTO ks_log VALUES (3, 'z', 'three');
SELECT mesh.wait_for_sync(30000);
CREATE FOREIGN TABLE ks_log_topic (partition int, "offset" bigint, key text, value jsonb)
	SERVER kafka OPTIONS (topic 'ks_log');
SELECT "offset", key, value->>'op' AS op, value->'before' AS before, value->'after' AS after
FROM ks_log_topic ORDER BY "offset";
-- replay sends every retained event again: at-least-once, never fewer
SELECT count(*) AS before_replay FROM ks_log_topic;
SELECT mesh.replay('ks_log', 'kafka') > 0 AS replayed;
SELECT mesh.wait_for_sync(30000);
SELECT count(*) AS after_replay, count(DISTINCT value->'source'->>'event_id') AS distinct_events
FROM ks_log_topic;
SELECT bool_and(n >= 1) AS every_event_at_least_once FROM (
	SELECT value->'source'->>'event_id' AS eid, count(*) AS n FROM ks_log_topic GROUP BY 1) s;

-- every message is its own item: one the client refuses for good (over
-- message.max.bytes) is one dead letter; the messages before and after it
-- land in order and are counted
INSERT INTO ks_log VALUES (10, 'a', 'before'), (11, 'b', repeat('x', 1100000)), (12, 'c', 'after');
UPDATE ks_log SET v = 'after again' WHERE a = 12;
SELECT mesh.wait_for_sync(30000);
SELECT key, op, error ~ 'MSG_SIZE_TOO_LARGE' AS too_large FROM mesh.dead_letter
WHERE source = 'ks_log'::regclass;
SELECT key, value->>'op' AS op, value->'after'->>'v' AS v FROM ks_log_topic
WHERE (value->'after'->>'a')::int >= 10 ORDER BY "offset";

-- health: the broker answers with its broker count
SELECT server, ok, version, error FROM mesh.health(5000) WHERE kind = 'kafka' ORDER BY server;
SELECT source, target, role, delivered, failed, dead, pending FROM mesh.stats WHERE target = 'kafka' ORDER BY source;

SELECT mesh.unreplicate('ks_orders', 'kafka');
SELECT mesh.unreplicate('ks_log', 'kafka');
DROP SERVER kafka CASCADE;
DROP TABLE ks_orders, ks_log;
