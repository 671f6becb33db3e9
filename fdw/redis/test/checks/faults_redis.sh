#!/usr/bin/env bash
# servers: toxiproxy redis
# Check: the Redis sink through the fault proxy (test/lib/faults.sh): a
# reset instead of the answer, a connection cut after N bytes (a pipeline
# cut in the middle), answers that never come, the server down then back.
# At no sample may mesh.stats.delivered run ahead of what Redis holds (read
# directly, not through the proxy); after each fault the route syncs and
# verifies.
set -euo pipefail
CHECK=faults_redis
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_redis
FAULTS_KIND=redis
FAULTS_UPSTREAM_PORT=$MESH_REDIS_PORT
. "$(dirname "$0")/../../../../test/lib/faults.sh"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port '$FAULTS_PROXY_PORT', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
SELECT * FROM mesh.execute('direct', 'FLUSHDB');
CREATE FOREIGN TABLE tgt_read (key text, v text) SERVER direct OPTIONS (type 'hash', key_prefix 'ft:');
SQL
}
faults_route_options() { echo '{"key_prefix": "ft:"}'; }
faults_target_rows() { echo "SELECT key::int AS id, v FROM tgt_read"; }

faults_run
