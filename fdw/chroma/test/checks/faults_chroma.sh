#!/usr/bin/env bash
# servers: toxiproxy chroma
# Check: the Chroma (REST v2) sink through the fault
# proxy (test/lib/faults.sh): a reset instead of the answer, a connection
# cut after N bytes, answers that never come, the server down then back.
# At no sample may mesh.stats.delivered run ahead of what the collection
# holds (read directly through a foreign table over the collection, which
# lists every record, not through the proxy);
# after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_chroma
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_chroma
FAULTS_KIND=chroma
FAULTS_UPSTREAM_PORT=$MESH_CHROMA_PORT
FAULTS_DDL="(id int PRIMARY KEY, v text, embedding real[] NOT NULL DEFAULT '{1,0,0}')"
FAULTS_LIMIT_BYTES=600
. "$(dirname "$0")/../../../../test/lib/faults.sh"
# a new collection per run
collection=faults_ft_$(date +%s)


faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_chroma
	OPTIONS (url 'http://127.0.0.1:$FAULTS_PROXY_PORT', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_chroma OPTIONS (url 'http://127.0.0.1:$MESH_CHROMA_PORT');
-- no query column: a scan lists every record of the collection (a search,
-- approximate, would not promise to return them all)
CREATE FOREIGN TABLE tgt_read (id text, v text) SERVER direct OPTIONS (collection '$collection');
SQL
}
faults_route_options() { echo '{"collection": "'"$collection"'", "vector": "embedding", "size": 3, "distance": "Cosine"}'; }
faults_target_rows() { echo "SELECT id::int AS id, v FROM tgt_read"; }

faults_run
