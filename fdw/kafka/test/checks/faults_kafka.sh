#!/usr/bin/env bash
# servers: toxiproxy kafka
# Check: the Kafka sink through the fault proxy (test/lib/faults.sh): a
# reset instead of the answer, a connection cut after N bytes (a produce
# request or its answer cut in the middle), answers that never come, the
# broker down then back.
#
# The route's server reaches the broker through the proxy: it bootstraps at
# the proxy's port and the broker's listener PROXIED (fdw/kafka/harness.sh)
# advertises that same port, so the producer stays on the proxy after the
# metadata request instead of going round it.  The proxy forwards to the
# real port of PROXIED; the direct read path is a second server object on
# the broker's PLAINTEXT listener and a foreign table over the topic.
#
# The sink keeps every change (one message per event, at-least-once), so a
# topic holds an event's effect when a message carrying its envelope is in
# the topic: V is the number of distinct source.event_id among the c/u/d
# envelopes of the topic (the backfill's are op r), duplicates of a message
# sent again counting once.  At no sample may mesh.stats.delivered - D0 run
# ahead of V.
#
# mesh.verify does not apply: a topic is a log, not a table of rows, and
# mesh_kafka has no verify capability (mesh.verify reports "kafka targets
# cannot be verified").  So FAULTS_VERIFY=0: after each fault is healed the
# condition is mesh.wait_for_sync true, every written event's envelope in
# the topic (V = events written) and delivered - D0 = events written.
set -euo pipefail
CHECK=faults_kafka
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_kafka
FAULTS_KIND=kafka
FAULTS_UPSTREAM_PORT=$MESH_KAFKA_PROXIED_PORT
FAULTS_VERIFY=0
. "$(dirname "$0")/../../../../test/lib/faults.sh"
# a new topic per run
topic=faults_ft_$(date +%s)

# the broker must advertise listener PROXIED at this check's proxy port,
# else the producer would bypass the proxy after bootstrapping through it
advertised=$(sed -n 's/^advertised\.listeners=.*PROXIED:\/\/\([^,]*\).*$/\1/p' "$MESH_TEST_DIR/kafka/server.properties")
[ "$advertised" = "127.0.0.1:$FAULTS_PROXY_PORT" ] ||
	fail "the broker advertises listener PROXIED at '$advertised', the proxy listens on 127.0.0.1:$FAULTS_PROXY_PORT (fdw/kafka/harness.sh, faults_kind_index in test/lib/faults.sh)"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_kafka
	OPTIONS (brokers '127.0.0.1:$FAULTS_PROXY_PORT', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_kafka
	OPTIONS (brokers '127.0.0.1:$MESH_KAFKA_PORT', timeout_ms '10000');
-- one partition: the messages of the topic in offset order are in event order
SELECT * FROM mesh.execute('direct', 'create $topic 1');
CREATE FOREIGN TABLE tgt_read (partition int, "offset" bigint, key text, value jsonb)
	SERVER direct OPTIONS (topic '$topic');
SQL
}
faults_route_options() { echo '{"topic": "'"$topic"'"}'; }
# the rows the topic describes (the last envelope of each key, unless a
# delete): the backfill's 400 rows once it is in sync
faults_target_rows() {
	echo "SELECT key::int AS id, value->'after'->>'v' AS v
		FROM (SELECT DISTINCT ON (key) key, value FROM tgt_read WHERE key IS NOT NULL
			ORDER BY key, \"offset\" DESC) last
		WHERE value->>'op' <> 'd'"
}
# V: the events since the backfill whose envelope the topic holds
faults_visible() {
	q -d "$db" -c "SELECT count(DISTINCT value->'source'->>'event_id') FROM tgt_read
		WHERE value->>'op' IN ('c', 'u', 'd')"
}

faults_run
