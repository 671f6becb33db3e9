# mesh test harness: the graph and vector servers (sourced by test/harness.sh).
#
#   neo4j     Neo4j 5.26 (Maven org.neo4j.test:neo4j-harness, Java 17) in
#             test/neo4j/MeshNeo4j.java: HTTP on 127.0.0.1:$MESH_NEO4J_PORT,
#             Bolt off, auth on (user neo4j, password $NEO4J_PASSWORD);
#             ready when GET / answers 200
#   chroma    Chroma $CHROMA_VERSION (PyPI chromadb in a cached venv):
#             chroma run on 127.0.0.1:$MESH_CHROMA_PORT; GET /api/v2/heartbeat
#   qdrant    test/qdrant_standin.py: a CONTRACT stand-in for Qdrant's REST
#             API (no Qdrant server can be had here) on $MESH_QDRANT_PORT,
#             api key $QDRANT_API_KEY; GET /healthz
#
# `harness.sh install neo4j chroma` fetches the Neo4j jars and
# compiles the main (cached in $MESH_CACHE_DIR/neo4j-$NEO4J_VERSION) and
# builds the Chroma venv ($MESH_CACHE_DIR/chroma-venv); start_*
# call it too, so a fresh machine needs nothing else.  Every server is a
# child of the harness, stopped by the PID it recorded.

MESH_CACHE_DIR=${MESH_CACHE_DIR:-/var/cache/mesh}
# a JVM server starts in 10-50 s on 2 cores
MESH_JVM_START_TIMEOUT=${MESH_JVM_START_TIMEOUT:-180}

NEO4J_VERSION=5.26.30
NEO4J_PASSWORD=mesh_neo4j_pw
CHROMA_VERSION=1.5.9
QDRANT_API_KEY=mesh_qdrant_key

NEO4J_HOME="$MESH_CACHE_DIR/neo4j-$NEO4J_VERSION"
CHROMA_VENV="$MESH_CACHE_DIR/chroma-venv"

GRAPH_SERVER_PACKAGES="openjdk-17-jdk-headless maven python3-venv"

# install_neo4j: the harness jars (Maven) and the compiled main, once per
# machine and version; the main is recompiled when its source changes.
install_neo4j() {
	local src="$TEST_DIR/neo4j/MeshNeo4j.java"
	need_bin neo4j mvn
	need_bin neo4j javac
	mkdir -p "$NEO4J_HOME"
	if [ ! -f "$NEO4J_HOME/lib.done" ]; then
		log "install: Neo4j $NEO4J_VERSION jars (Maven; once per machine)"
		cat >"$NEO4J_HOME/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.test</groupId><artifactId>mesh-neo4j</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.neo4j.test</groupId><artifactId>neo4j-harness</artifactId>
      <version>$NEO4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
		rm -rf "$NEO4J_HOME/lib"
		(cd "$NEO4J_HOME" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$NEO4J_HOME/lib" \
			-DincludeScope=runtime >"$NEO4J_HOME/mvn.log" 2>&1) ||
			fail_with_log neo4j "$NEO4J_HOME/mvn.log" "jars could not be fetched with Maven"
		touch "$NEO4J_HOME/lib.done"
	fi
	if ! cmp -s "$src" "$NEO4J_HOME/classes/MeshNeo4j.java"; then
		rm -rf "$NEO4J_HOME/classes"
		mkdir -p "$NEO4J_HOME/classes"
		javac -d "$NEO4J_HOME/classes" -cp "$NEO4J_HOME/lib/*" "$src" >"$NEO4J_HOME/javac.log" 2>&1 ||
			fail_with_log neo4j "$NEO4J_HOME/javac.log" "test/neo4j/MeshNeo4j.java did not compile"
		cp "$src" "$NEO4J_HOME/classes/MeshNeo4j.java"
	fi
}

# install_chroma: a venv with chromadb==$CHROMA_VERSION, once per machine.
install_chroma() {
	if [ ! -x "$CHROMA_VENV/bin/chroma" ] || [ "$(cat "$CHROMA_VENV/install.done" 2>/dev/null)" != "$CHROMA_VERSION" ]; then
		log "install: Chroma $CHROMA_VERSION venv (pip; once per machine)"
		rm -rf "$CHROMA_VENV"
		"$(python_bin)" -m venv "$CHROMA_VENV" >"$MESH_CACHE_DIR/chroma-venv.log" 2>&1 ||
			fail_with_log chroma "$MESH_CACHE_DIR/chroma-venv.log" "python3 -m venv failed (python3-venv missing?)"
		"$CHROMA_VENV/bin/pip" install -q "chromadb==$CHROMA_VERSION" >>"$MESH_CACHE_DIR/chroma-venv.log" 2>&1 ||
			fail_with_log chroma "$MESH_CACHE_DIR/chroma-venv.log" "pip install chromadb==$CHROMA_VERSION failed"
		echo "$CHROMA_VERSION" >"$CHROMA_VENV/install.done"
	fi
}

# ---------------------------------------------------------------- Neo4j 5.26
start_neo4j() {
	install_neo4j
	fresh_dir neo4j >/dev/null
	run_neo4j
}
run_neo4j() {
	local dir="$MESH_TEST_DIR/neo4j"
	require_port_free neo4j "$MESH_NEO4J_PORT"
	MESH_NEO4J_PASSWORD=$NEO4J_PASSWORD spawn "$dir/neo4j.pid" "$dir/neo4j.log" \
		java -Xms256m -Xmx768m -XX:+UseSerialGC -cp "$NEO4J_HOME/lib/*:$NEO4J_HOME/classes" \
		MeshNeo4j "$MESH_NEO4J_PORT" "$dir/data"
	wait_http neo4j "$dir/neo4j.log" "$dir/neo4j.pid" "$MESH_JVM_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_NEO4J_PORT/" 'neo4j_version'
	# HTTP serves before the main has set the password: wait for its "ready"
	local i
	for ((i = 0; i < MESH_JVM_START_TIMEOUT * 10; i++)); do
		grep -q '^ready ' "$dir/neo4j.log" && return 0
		pid_alive "$(read_pidfile "$dir/neo4j.pid")" || break
		sleep 0.1
	done
	fail_with_log neo4j "$dir/neo4j.log" "did not print ready (password not set)"
}
stop_neo4j() {
	stop_pidfile neo4j "$MESH_TEST_DIR/neo4j/neo4j.pid" "MeshNeo4j $MESH_NEO4J_PORT $MESH_TEST_DIR/neo4j/data"
}
port_neo4j() { echo "$MESH_NEO4J_PORT"; }
pid_neo4j() { read_pidfile "$MESH_TEST_DIR/neo4j/neo4j.pid"; }

# ---------------------------------------------------------------- Chroma
start_chroma() {
	install_chroma
	fresh_dir chroma >/dev/null
	run_chroma
}
run_chroma() {
	local dir="$MESH_TEST_DIR/chroma"
	require_port_free chroma "$MESH_CHROMA_PORT"
	ANONYMIZED_TELEMETRY=False spawn "$dir/chroma.pid" "$dir/chroma.log" \
		"$CHROMA_VENV/bin/chroma" run --path "$dir/data" --host 127.0.0.1 --port "$MESH_CHROMA_PORT"
	wait_http chroma "$dir/chroma.log" "$dir/chroma.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_CHROMA_PORT/api/v2/heartbeat"
}
stop_chroma() {
	stop_pidfile chroma "$MESH_TEST_DIR/chroma/chroma.pid" "chroma run --path $MESH_TEST_DIR/chroma/data "
}
port_chroma() { echo "$MESH_CHROMA_PORT"; }
pid_chroma() { read_pidfile "$MESH_TEST_DIR/chroma/chroma.pid"; }

# ---------------------------------------------------------------- Qdrant stand-in (contract tests)
start_qdrant() {
	fresh_dir qdrant >/dev/null
	run_qdrant
}
run_qdrant() {
	local dir="$MESH_TEST_DIR/qdrant"
	require_port_free qdrant "$MESH_QDRANT_PORT"
	QDRANT_API_KEY=$QDRANT_API_KEY spawn "$dir/qdrant.pid" "$dir/qdrant.log" "$(python_bin)" "$TEST_DIR/qdrant_standin.py" \
		"$MESH_QDRANT_PORT" 127.0.0.1
	wait_http qdrant "$dir/qdrant.log" "$dir/qdrant.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_QDRANT_PORT/healthz"
}
stop_qdrant() {
	stop_pidfile qdrant "$MESH_TEST_DIR/qdrant/qdrant.pid" "qdrant_standin\.py $MESH_QDRANT_PORT( |$)"
}
port_qdrant() { echo "$MESH_QDRANT_PORT"; }
pid_qdrant() { read_pidfile "$MESH_TEST_DIR/qdrant/qdrant.pid"; }
