#!/usr/bin/env bash
# bench/kafka.sh: the Kafka sink (issue 8's target) against Kafka's own
# producer performance tool, in the same run on the same broker.
#
#  fanout  a backlog of BENCH_KAFKA_EVENTS (1M) events (a COPY into a
#          table whose route to Kafka is paused) delivered after
#          mesh.resume until mesh.wait_for_sync: envelopes produced by the
#          idempotent producer, the route's cursor moved on the broker's
#          acknowledgements.  Baseline: org.apache.kafka.tools.
#          ProducerPerformance (kafka-tools, the broker's version) sending
#          the same number of records of the envelopes' mean size, with the
#          same guarantees (acks=all, enable.idempotence=true), its own
#          reported records/s turned into seconds (JVM start not counted).
#          ratio = baseline seconds / mesh seconds          target >= 0.50
#
# BENCH_REPS (3) repetitions, median reported.  Servers: bench/lib.sh's
# (default /tmp/mesh-bench, hub 23432, Kafka 23092), started if not running.
# kafka-tools and its dependencies are fetched with Maven once per machine
# into $MESH_KAFKA_CACHE/kafka-tools-<version>.  Last line: RESULT kafka_fanout ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# the broker's version and jar cache, as the harness recipe fdw/kafka/harness.sh has them
MESH_KAFKA_CACHE=${MESH_KAFKA_CACHE:-/var/cache/mesh}
KAFKA_VERSION=$(sed -n 's/^KAFKA_VERSION=//p' "$REPO/fdw/kafka/harness.sh")

BENCH_REPS=${BENCH_REPS:-3}
BENCH_KAFKA_EVENTS=${BENCH_KAFKA_EVENTS:-1000000}
TOOLS="$MESH_KAFKA_CACHE/kafka-tools-$KAFKA_VERSION"
BROKERS="127.0.0.1:$MESH_KAFKA_PORT"

# kafka-tools (ProducerPerformance) and its dependencies, once per machine
if [ ! -f "$TOOLS/.complete" ]; then
	blog "fetching kafka-tools $KAFKA_VERSION with Maven into $TOOLS"
	mkdir -p "$TOOLS"
	cat >"$TOOLS/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.bench</groupId><artifactId>kafka-tools-deps</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId>
      <version>2.0.17</version></dependency>
  </dependencies>
</project>
EOF
	(cd "$TOOLS" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$TOOLS/lib" -DincludeScope=runtime) \
		>"$TOOLS/mvn.log" 2>&1 || { tail -20 "$TOOLS/mvn.log" >&2; bdie "kafka-tools could not be fetched"; }
	touch "$TOOLS/.complete"
fi

bench_servers_up
trap 'bench_stop_servers' EXIT
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS k_fan CASCADE;
DROP SERVER IF EXISTS bench_kafka CASCADE;
CREATE SERVER bench_kafka FOREIGN DATA WRAPPER mesh_kafka
	OPTIONS (brokers '$BROKERS', timeout_ms '60000');
SQL

echo "== kafka benchmarks: $BENCH_KAFKA_EVENTS events, $BENCH_REPS repetitions, median reported"
echo "build: $(bench_build_info)"
bench_warn_if_busy
csv="$MESH_TEST_DIR/pg_hub/k_fan_rows.csv"
bsql -c "COPY (SELECT g, 's' || (g % 100), g * 0.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s'
	FROM generate_series(1, $BENCH_KAFKA_EVENTS) g) TO '$csv' WITH (FORMAT csv)" >/dev/null
mesh_times=""
base_times=""
size=0
for ((r = 1; r <= BENCH_REPS; r++)); do
	topic="bench_fan_${r}_$$"
	bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS k_fan CASCADE;
CREATE TABLE k_fan (id bigint PRIMARY KEY, sensor text, v float8, ts timestamptz);
SELECT mesh.replicate('k_fan', 'bench_kafka', '{"topic": "$topic"}', 'stream');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('k_fan', 'bench_kafka');
COPY k_fan FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
SQL
	t=$(bsql -At <<SQL | awk '/^Time: / { s += $2 } END { printf "%.3f\n", s / 1000 }'
\timing on
SELECT mesh.resume('k_fan', 'bench_kafka');
SELECT mesh.wait_for_sync(1200000);
SQL
)
	[ "$(bsql -At -c "SELECT count(*) FROM mesh.stats WHERE source = 'k_fan'::regclass AND pending = 0")" = 1 ] ||
		bdie "the backlog was not delivered"
	# the envelopes' mean size (value bytes), from the topic itself
	if [ "$size" = 0 ]; then
		bsql >/dev/null -c "DROP FOREIGN TABLE IF EXISTS k_topic" \
			-c "CREATE FOREIGN TABLE k_topic (partition int, \"offset\" bigint, key text, value text, ts timestamptz, headers jsonb)
				SERVER bench_kafka OPTIONS (topic '$topic')"
		size=$(bsql -At -c "SELECT round(avg(octet_length(value)))::int FROM (SELECT value FROM k_topic LIMIT 10000) s")
		n=$(bsql -At -c "SELECT count(*) FROM k_topic")
		[ "$n" -ge "$BENCH_KAFKA_EVENTS" ] || bdie "the topic holds $n messages, expected $BENCH_KAFKA_EVENTS"
	fi
	mesh_times="$mesh_times $t"
	blog "rep $r: mesh delivered $BENCH_KAFKA_EVENTS events in $t s (envelopes of $size bytes)"
	out=$(java -Xmx512m -cp "$TOOLS/lib/*" org.apache.kafka.tools.ProducerPerformance \
		--topic "bench_perf_${r}_$$" --num-records "$BENCH_KAFKA_EVENTS" --record-size "$size" --throughput -1 \
		--producer-props "bootstrap.servers=$BROKERS" acks=all enable.idempotence=true 2>&1 | tail -n 1)
	rps=$(echo "$out" | sed -n 's/.* records sent, \([0-9.]*\) records\/sec.*/\1/p')
	[ -n "$rps" ] || bdie "ProducerPerformance: $out"
	b=$(awk -v n="$BENCH_KAFKA_EVENTS" -v r="$rps" 'BEGIN { printf "%.3f\n", n / r }')
	base_times="$base_times $b"
	blog "rep $r: ProducerPerformance $rps records/s = $b s ($out)"
done
m=$(median "$mesh_times")
b=$(median "$base_times")
r=$(ratio "$b" "$m" 2)
status=$(awk -v r="$r" 'BEGIN { print (r >= 0.50) ? "met" : "missed" }')
echo "fanout   $BENCH_KAFKA_EVENTS events to Kafka: mesh $m s, ProducerPerformance $b s ($size-byte records): ratio $r (target >= 0.50: $status)"
echo "reproduce: $(bench_env_prefix) MESH_KAFKA_PORT=$MESH_KAFKA_PORT BENCH_KAFKA_EVENTS=$BENCH_KAFKA_EVENTS BENCH_REPS=$BENCH_REPS bash bench/kafka.sh"
bsql >/dev/null -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS k_fan CASCADE" \
	-c "DROP SERVER IF EXISTS bench_kafka CASCADE"
rm -f "$csv"
bench_stop_servers
echo "RESULT kafka_fanout events=$BENCH_KAFKA_EVENTS mesh_s=$m baseline_s=$b record_bytes=$size ratio=$r target>=0.50 status=$status"
