# mesh harness recipe of mesh_kafka: the Kafka broker (sourced by
# test/harness.sh, not run).
#
#   kafka     Apache Kafka 4.x, one node in KRaft mode (broker and controller
#             in one JVM), from Maven (org.apache.kafka:kafka_2.13) with an
#             slf4j binding; broker on 127.0.0.1:$MESH_KAFKA_PORT, controller
#             on 127.0.0.1:$MESH_KAFKA_CONTROLLER_PORT, replication factors 1;
#             a second listener PROXIED on 127.0.0.1:$MESH_KAFKA_PROXIED_PORT
#             for the fault-proxy check (below)
#
# Listener PROXIED: a Kafka client connects to the bootstrap address only to
# learn the brokers' advertised addresses, then talks to those; a plain TCP
# proxy in front of the broker would be bypassed after the first request.
# So the broker has a second listener, bound on $MESH_KAFKA_PROXIED_PORT and
# advertised as 127.0.0.1:$MESH_KAFKA_PROXIED_ADVERTISED_PORT, the port the
# Toxiproxy proxy of fdw/kafka/test/checks/faults_kafka.sh listens on
# (MESH_TOXIPROXY_PROXY_PORT + kafka's index 10 in test/lib/faults.sh's
# faults_kind_index), which forwards to $MESH_KAFKA_PROXIED_PORT: a client
# bootstrapped through the proxy stays on it.  Everything else uses the
# PLAINTEXT listener on $MESH_KAFKA_PORT, which advertises itself.
#
# The jars are fetched once per machine by `test/harness.sh install` with
# Maven (dependency:copy-dependencies of a small pom) into
# $MESH_KAFKA_CACHE/kafka-<version>/lib.  The broker keeps its log dirs under
# $MESH_TEST_DIR/kafka, runs with a capped heap, and is stopped by its PID.
# (The second hub of fdw/kafka/test/checks/kafka_two_hubs.sh, pg_hub2, is
# the core's: test/harness.sh.)
#
# port: MESH_KAFKA_PORT 92
# port: MESH_KAFKA_CONTROLLER_PORT 93
# port: MESH_KAFKA_PROXIED_PORT 94

MESH_KAFKA_CACHE=${MESH_KAFKA_CACHE:-/var/cache/mesh}
MESH_KAFKA_HEAP=${MESH_KAFKA_HEAP:-512m}
# seconds the JVM may take until the broker port accepts connections
MESH_KAFKA_START_TIMEOUT=${MESH_KAFKA_START_TIMEOUT:-120}
# where listener PROXIED says it is: kafka's fault-proxy port (see above)
MESH_KAFKA_PROXIED_ADVERTISED_PORT=${MESH_KAFKA_PROXIED_ADVERTISED_PORT:-$((MESH_TOXIPROXY_PROXY_PORT + 10))}

KAFKA_VERSION=4.4.0
SLF4J_LOG4J_VERSION=2.25.3
SLF4J_VERSION=2.0.17
KAFKA_HOME="$MESH_KAFKA_CACHE/kafka-$KAFKA_VERSION"
# what the cached jars were fetched for: a change fetches them again
KAFKA_DEPS_ID="kafka $KAFKA_VERSION slf4j $SLF4J_VERSION log4j $SLF4J_LOG4J_VERSION"

harness_build_packages librdkafka-dev
harness_server kafka packages="openjdk-17-jdk-headless maven" install=install_kafka install_serial=1

# install_kafka: fetch the broker's jars (idempotent, cached per machine).
install_kafka() {
	local home=$KAFKA_HOME
	command -v java >/dev/null 2>&1 || die "kafka: java (17) not installed (apt-get install openjdk-17-jre-headless)"
	mkdir -p "$home"
	if [ ! -f "$home/lib/.complete" ] || [ "$(cat "$home/lib/.complete")" != "$KAFKA_DEPS_ID" ]; then
		command -v mvn >/dev/null 2>&1 || die "kafka: mvn not installed (apt-get install maven)"
		log "install: fetching kafka_2.13 $KAFKA_VERSION with Maven into $home/lib"
		cat >"$home/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.test</groupId><artifactId>kafka-deps</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>$SLF4J_LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>$SLF4J_LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
		rm -rf "$home/lib.tmp"
		(cd "$home" && mvn -q -B -f pom.xml dependency:copy-dependencies -DincludeScope=runtime \
			-DoutputDirectory=lib.tmp) >"$home/mvn.log" 2>&1 ||
			fail_with_log kafka "$home/mvn.log" "jars could not be fetched"
		rm -rf "$home/lib"
		mv "$home/lib.tmp" "$home/lib"
		echo "$KAFKA_DEPS_ID" >"$home/lib/.complete"
	fi
	log "install: kafka $KAFKA_VERSION ready in $home"
}

# the java command line that runs a Kafka main class with the cached jars
# (an array, not a function, so a spawned broker's PID is java's own)
KAFKA_JAVA=(java "-Xmx$MESH_KAFKA_HEAP" -Xms128m -XX:+UseSerialGC -Djava.awt.headless=true
	"-Dlog4j2.configurationFile=$MESH_TEST_DIR/kafka/log4j2.properties" -cp "$KAFKA_HOME/lib/*")

# run_kafka: start the broker on its existing log dirs.
run_kafka() {
	local dir="$MESH_TEST_DIR/kafka"
	[ -f "$KAFKA_HOME/lib/.complete" ] || die "kafka: not installed: run '$HARNESS install'"
	[ -f "$dir/server.properties" ] || die "kafka: no $dir/server.properties (run '$HARNESS start')"
	require_port_free kafka "$MESH_KAFKA_PORT"
	require_port_free kafka "$MESH_KAFKA_CONTROLLER_PORT"
	require_port_free kafka "$MESH_KAFKA_PROXIED_PORT"
	spawn "$dir/kafka.pid" "$dir/kafka.log" "${KAFKA_JAVA[@]}" kafka.Kafka "$dir/server.properties"
	local i pid
	pid=$(read_pidfile "$dir/kafka.pid")
	for ((i = 0; i < MESH_KAFKA_START_TIMEOUT * 10; i++)); do
		pid_alive "$pid" || fail_with_log kafka "$dir/kafka.log" "exited during start"
		# ready once the broker has registered with the controller
		if port_open "$MESH_KAFKA_PORT" && grep -q 'Kafka Server started\|\[KafkaRaftServer.*started' "$dir/kafka.log"; then
			return 0
		fi
		sleep 0.1
	done
	fail_with_log kafka "$dir/kafka.log" "not ready on port $MESH_KAFKA_PORT within ${MESH_KAFKA_START_TIMEOUT}s"
}

start_kafka() {
	local dir id
	dir=$(fresh_dir kafka)
	cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$MESH_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$MESH_KAFKA_PORT,CONTROLLER://127.0.0.1:$MESH_KAFKA_CONTROLLER_PORT,PROXIED://127.0.0.1:$MESH_KAFKA_PROXIED_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$MESH_KAFKA_PORT,PROXIED://127.0.0.1:$MESH_KAFKA_PROXIED_ADVERTISED_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
	cat >"$dir/log4j2.properties" <<PROPS
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
PROPS
	id=$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>>"$dir/format.log" | tail -n 1) ||
		fail_with_log kafka "$dir/format.log" "StorageTool random-uuid failed"
	"${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
		>>"$dir/format.log" 2>&1 || fail_with_log kafka "$dir/format.log" "StorageTool format failed"
	run_kafka
}
stop_kafka() {
	stop_pidfile kafka "$MESH_TEST_DIR/kafka/kafka.pid" "kafka\.Kafka $MESH_TEST_DIR/kafka/server\.properties"
}
port_kafka() { echo "$MESH_KAFKA_PORT"; }
pid_kafka() { read_pidfile "$MESH_TEST_DIR/kafka/kafka.pid"; }
