#!/usr/bin/env bash
# servers: pg_remote redis kafka pg_hub2
# Check: two hubs connected through Kafka (the scale-out story).  Hub A (the
# test hub) replicates a table to a Kafka topic; hub B (pg_hub2, a second
# PostgreSQL cluster with mesh) subscribes into its own table, which B fans
# out to its own replicas: Redis and a table on the remote PostgreSQL.
# Inserts, updates (hostile strings included) and deletes on A must arrive
# in B's table and B's replicas, and every route must verify consistent;
# the broker is then stopped mid-stream and restarted: nothing is lost and
# no message is applied twice at B.
set -euo pipefail
CHECK=kafka_two_hubs
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_two_hubs
topic=two_hubs_orders
prefix=two_hubs_b:
a() { q -h 127.0.0.1 -p "$MESH_PG_PORT" -U postgres -d "$db" "$@"; }
b() { q -h 127.0.0.1 -p "$MESH_HUB2_PG_PORT" -U postgres -d "$db" "$@"; }
DDL="(id int PRIMARY KEY, customer text, amount numeric(12,2), tags text[], at timestamptz)"

for port in "$MESH_PG_PORT" "$MESH_HUB2_PG_PORT"; do
	PGOPTIONS="-c client_min_messages=warning" q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
	q -h 127.0.0.1 -p "$port" -U postgres -d "$db" >/dev/null <<SQL
CREATE EXTENSION mesh;
CREATE SERVER kafka FOREIGN DATA WRAPPER mesh_kafka
	OPTIONS (brokers '127.0.0.1:$MESH_KAFKA_PORT', timeout_ms '10000');
CREATE TABLE orders $DDL;
SQL
done
bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS two_hubs_orders; CREATE TABLE two_hubs_orders $DDL" >/dev/null
redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" --scan --pattern "$prefix*" |
	xargs -r redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" DEL >/dev/null

# hub A: the table, published to the topic
a >/dev/null <<SQL
SELECT mesh.execute('kafka', 'delete $topic');
SELECT mesh.execute('kafka', 'create $topic 3');
INSERT INTO orders SELECT g, 'customer ' || g, g * 1.5, ARRAY['t' || g], '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour'
	FROM generate_series(1, 500) g;
SELECT mesh.replicate('orders', 'kafka', '{"topic": "$topic"}', 'stream');
SQL

# hub B: subscribes, and fans its table out to Redis and the remote PostgreSQL
b >/dev/null <<SQL
CREATE EXTENSION postgres_fdw;
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE SERVER archive FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '$MESH_REMOTE_PG_PORT', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER archive OPTIONS (user 'remote_user', password 'remote_secret_pw');
SELECT mesh.replicate('orders', 'cache', '{"key_prefix": "$prefix"}');
SELECT mesh.replicate('orders', 'archive', '{"table": "two_hubs_orders"}');
SELECT mesh.subscribe('kafka', '$topic', 'orders');
SQL

# changes on A while everything runs
a >/dev/null <<'SQL'
UPDATE orders SET amount = amount + 1 WHERE id % 3 = 0;
DELETE FROM orders WHERE id % 10 = 0;
INSERT INTO orders VALUES
	(1001, E'quote'' "dq" back\\slash\nnewline\ttab, comma = eq', 0.01, '{"with space","c,d"}', NULL),
	(1002, 'ünïcødé 😀 中文', NULL, '{}', 'infinity');
UPDATE orders SET customer = customer || ' (vip)' WHERE id BETWEEN 100 AND 120;
SQL

# converge: A delivered to Kafka, B applied everything up to the watermarks
# and fanned it out; then compare A with B and verify B's replicas
converge() {
	local synced
	synced=$(a -c "SELECT mesh.wait_for_sync(120000)")
	[ "$synced" = t ] || fail "hub A did not deliver to Kafka: $(a -c "SELECT string_agg(coalesce(last_error, '-'), '; ') FROM mesh.stats")"
	synced=$(b -c "SELECT mesh.wait_for_subscription('orders', 120000)")
	[ "$synced" = t ] || fail "hub B did not apply the topic: $(b -c "SELECT string_agg(coalesce(last_error, '-'), '; ') FROM mesh.subscriptions")"
	a -c "COPY (SELECT * FROM orders ORDER BY id) TO STDOUT" >"$work/a.txt"
	b -c "COPY (SELECT * FROM orders ORDER BY id) TO STDOUT" >"$work/b.txt"
	cmp -s "$work/a.txt" "$work/b.txt" ||
		fail "hub B's table differs from hub A's: $(diff "$work/a.txt" "$work/b.txt" | head -5 | tr '\n' ' ')"
	PGHOST=127.0.0.1 PGPORT=$MESH_HUB2_PG_PORT expect_consistent "$db" orders
	[ "$(b -c "SELECT count(*) FROM mesh.subscription_errors")" = 0 ] ||
		fail "hub B dead-lettered messages: $(b -c "SELECT string_agg(error, '; ') FROM mesh.subscription_errors")"
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
converge
rows=$(b -c "SELECT count(*) FROM orders")
redis_keys=$(redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" --scan --pattern "$prefix*" | wc -l)
[ "$rows" = 452 ] || fail "hub B has $rows rows, expected 452"
[ "$redis_keys" = 452 ] || fail "hub B's Redis has $redis_keys keys, expected 452"
echo "$CHECK: hub B and its replicas have the $rows rows of hub A"

# a second wave: updates and deletes only
a >/dev/null <<'SQL'
UPDATE orders SET amount = -amount, tags = tags || '{second}' WHERE id % 7 = 0;
DELETE FROM orders WHERE id BETWEEN 200 AND 299;
SQL
converge
rows=$(b -c "SELECT count(*) FROM orders")
remote=$(bash "$MESH_HARNESS" remote-sql "COPY (SELECT count(*) FROM two_hubs_orders) TO STDOUT")
[ "$rows" = "$remote" ] || fail "B's remote replica has $remote rows, B has $rows"
echo "$CHECK: after updates and deletes, hub B and its replicas have the $rows rows of hub A"

# the broker stops mid-stream and comes back: A's route waits (transient)
# and catches up, B resumes; every message in the topic is applied at B
# exactly once (duplicates in the topic from A's retries are applied once
# each, and converge)
b >/dev/null <<'SQL'
CREATE TABLE applied (n bigserial, op text);
CREATE FUNCTION count_applied() RETURNS trigger LANGUAGE plpgsql AS
	$f$ BEGIN INSERT INTO applied (op) VALUES (TG_OP); RETURN NULL; END $f$;
CREATE TRIGGER count_applied AFTER INSERT OR UPDATE OR DELETE ON orders
	FOR EACH ROW EXECUTE FUNCTION count_applied();
SQL
before=$(a -c "SELECT delivered FROM mesh.stats WHERE target = 'kafka'")
bash "$MESH_HARNESS" stop-one kafka 2>/dev/null
a -c "UPDATE orders SET customer = customer || ' (while down)' WHERE id % 5 = 1" >/dev/null
for ((i = 0; i < 300; i++)); do
	[ "$(a -c "SELECT failed > 0 FROM mesh.stats WHERE target = 'kafka'")" = t ] && break
	sleep 0.1
done
[ "$(a -c "SELECT failed > 0 AND dead = 0 FROM mesh.stats WHERE target = 'kafka'")" = t ] ||
	fail "hub A recorded no transient failure while the broker was down"
[ "$(a -c "SELECT delivered FROM mesh.stats WHERE target = 'kafka'")" = "$before" ] ||
	fail "hub A counted deliveries while the broker was down"
bash "$MESH_HARNESS" start-one kafka 2>/dev/null
a -c "DELETE FROM orders WHERE id BETWEEN 300 AND 309" >/dev/null
converge
in_topic=$(b -c "SELECT sum(high - low) FROM mesh.execute('kafka', 'describe $topic') d,
	LATERAL (SELECT (d->>'low')::bigint AS low, (d->>'high')::bigint AS high) w")
applied_b=$(b -c "SELECT applied FROM mesh.subscriptions")
changes=$(b -c "SELECT count(*) FROM applied")
[ "$applied_b" = "$in_topic" ] || fail "hub B applied $applied_b messages of the $in_topic in the topic"
echo "$CHECK: broker restarted mid-stream: hub B applied each of the $in_topic messages once ($changes row changes since the restart began), consistent"

b -c "SELECT mesh.unsubscribe('kafka', '$topic', 'orders')" >/dev/null
for port in "$MESH_PG_PORT" "$MESH_HUB2_PG_PORT"; do
	q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
done
echo "$CHECK: ok"
