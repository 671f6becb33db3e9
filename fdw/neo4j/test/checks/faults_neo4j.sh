#!/usr/bin/env bash
# servers: toxiproxy neo4j
# Check: the Neo4j sink (HTTP transactional Cypher API, MERGE on the key
# property) through the fault proxy (test/lib/faults.sh): a reset instead
# of the answer, a connection cut after N bytes, answers that never come,
# the server down then back.  At no sample may mesh.stats.delivered run
# ahead of what the graph holds (read directly, not through the proxy);
# after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_neo4j
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_neo4j
FAULTS_KIND=neo4j
FAULTS_UPSTREAM_PORT=$MESH_NEO4J_PORT
FAULTS_LIMIT_BYTES=600
. "$(dirname "$0")/../../../../test/lib/faults.sh"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_neo4j
	OPTIONS (url 'http://127.0.0.1:$FAULTS_PROXY_PORT', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE USER MAPPING FOR CURRENT_USER SERVER tgt OPTIONS (user 'neo4j', password 'mesh_neo4j_pw');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url 'http://127.0.0.1:$MESH_NEO4J_PORT');
CREATE USER MAPPING FOR CURRENT_USER SERVER direct OPTIONS (user 'neo4j', password 'mesh_neo4j_pw');
SELECT count(*) FROM mesh.cypher('direct', 'MATCH (n:FaultsFt) DETACH DELETE n');
SQL
}
faults_route_options() { echo '{"label": "FaultsFt"}'; }
faults_target_rows() {
	echo "SELECT (r->>'id')::int AS id, r->>'v' AS v
		FROM mesh.cypher('direct', 'MATCH (n:FaultsFt) RETURN n.id AS id, n.v AS v') r"
}

faults_run
