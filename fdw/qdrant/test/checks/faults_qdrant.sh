#!/usr/bin/env bash
# servers: toxiproxy qdrant
# Check: the Qdrant stand-in (contract-tested: fdw/qdrant/test/qdrant_standin.py follows Qdrant's documented REST API; no Qdrant server can be had here) sink through the fault
# proxy (test/lib/faults.sh): a reset instead of the answer, a connection
# cut after N bytes, answers that never come, the server down then back.
# At no sample may mesh.stats.delivered run ahead of what the collection
# holds (read directly with mesh.vector_search, not through the proxy);
# after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_qdrant
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_qdrant
FAULTS_KIND=qdrant
FAULTS_UPSTREAM_PORT=$MESH_QDRANT_PORT
# every point has the same vector: a search with a large k lists them all
FAULTS_DDL="(id int PRIMARY KEY, v text, embedding real[] NOT NULL DEFAULT '{1,0,0}')"
FAULTS_LIMIT_BYTES=600
. "$(dirname "$0")/../../../../test/lib/faults.sh"
echo "$CHECK: contract-tested (the Qdrant stand-in, not a Qdrant server)"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_qdrant
	OPTIONS (url 'http://127.0.0.1:$FAULTS_PROXY_PORT', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_qdrant OPTIONS (url 'http://127.0.0.1:$MESH_QDRANT_PORT');
CREATE USER MAPPING FOR CURRENT_USER SERVER tgt OPTIONS (api_key 'mesh_qdrant_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER direct OPTIONS (api_key 'mesh_qdrant_key');
SQL
}
faults_route_options() { echo '{"collection": "faults_ft_'$(date +%s)'", "vector": "embedding", "size": 3, "distance": "Cosine"}'; }
faults_target_rows() {
	echo "SELECT s.id::int AS id, s.payload->>'v' AS v
		FROM mesh.routes r, mesh.vector_search('direct', r.options->>'collection', '{1,0,0}', 10000) s
		WHERE r.target = 'tgt'"
}

faults_run
