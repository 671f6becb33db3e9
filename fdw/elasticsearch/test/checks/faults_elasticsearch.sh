#!/usr/bin/env bash
# servers: toxiproxy opensearch
# Check: the Elasticsearch/OpenSearch sink (_bulk with external versions)
# through the fault proxy (test/lib/faults.sh), against OpenSearch 2.19: a
# reset instead of the answer, a connection cut after N bytes, answers that
# never come, the server down then back.  At no sample may
# mesh.stats.delivered run ahead of what the index holds (read directly,
# not through the proxy, after a _refresh, so that every acknowledged
# write is searchable); after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_elasticsearch
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_elasticsearch
FAULTS_KIND=elasticsearch
FAULTS_UPSTREAM_PORT=$MESH_OPENSEARCH_PORT
FAULTS_LIMIT_BYTES=600
. "$(dirname "$0")/../../../../test/lib/faults.sh"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_elasticsearch
	OPTIONS (url 'http://127.0.0.1:$FAULTS_PROXY_PORT', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_elasticsearch
	OPTIONS (url 'http://127.0.0.1:$MESH_OPENSEARCH_PORT', timeout_ms '20000');
SELECT * FROM mesh.execute('direct', 'DELETE /faults_ft?ignore_unavailable=true');
SQL
}
faults_route_options() { echo '{"index": "faults_ft", "settings": {"number_of_shards": 1}}'; }
# a _refresh first (after delivered was read: V can only grow by it), then
# every document of the index
faults_target_rows() {
	q -d "$db" -c "SELECT 1 FROM mesh.execute('direct', 'POST /faults_ft/_refresh')" >/dev/null ||
		fail "refreshing the index without the proxy failed"
	echo "SELECT (h->'_source'->>'id')::int AS id, h->'_source'->>'v' AS v
		FROM mesh.execute('direct', '{\"size\": 10000, \"query\": {\"match_all\": {}}}', '{\"index\": \"faults_ft\"}') h"
}

faults_run
