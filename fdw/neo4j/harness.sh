# mesh harness recipe of mesh_neo4j (sourced by test/harness.sh, not run).
#
#   neo4j     Neo4j 5.26 (Maven org.neo4j.test:neo4j-harness, Java 17) in
#             fdw/neo4j/test/MeshNeo4j.java: HTTP on 127.0.0.1:$MESH_NEO4J_PORT,
#             Bolt off, auth on (user neo4j, password $NEO4J_PASSWORD);
#             ready when GET / answers 200
#
# `harness.sh install neo4j` fetches the Neo4j jars and compiles the main
# (cached in $MESH_CACHE_DIR/neo4j-$NEO4J_VERSION); start_neo4j calls it
# too, so a fresh machine needs nothing else.  The server is a child of the
# harness, stopped by the PID it recorded.
#
# port: MESH_NEO4J_PORT 474

# a JVM server starts in 10-50 s on 2 cores
MESH_JVM_START_TIMEOUT=${MESH_JVM_START_TIMEOUT:-180}

NEO4J_VERSION=5.26.30
NEO4J_PASSWORD=mesh_neo4j_pw
NEO4J_HOME="$MESH_CACHE_DIR/neo4j-$NEO4J_VERSION"

harness_server neo4j packages="openjdk-17-jdk-headless maven" install=install_neo4j install_serial=1

# install_neo4j: the harness jars (Maven) and the compiled main, once per
# machine and version; the main is recompiled when its source changes.
install_neo4j() {
	local src="$REPO/fdw/neo4j/test/MeshNeo4j.java"
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
			fail_with_log neo4j "$NEO4J_HOME/javac.log" "fdw/neo4j/test/MeshNeo4j.java did not compile"
		cp "$src" "$NEO4J_HOME/classes/MeshNeo4j.java"
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
