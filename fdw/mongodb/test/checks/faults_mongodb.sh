#!/usr/bin/env bash
# servers: toxiproxy mongodb
# Check: the MongoDB-wire (FerretDB) sink through the fault proxy (test/lib/faults.sh): a reset
# instead of the answer, a connection cut after N bytes, answers that never
# come, the server down then back.  At no sample may mesh.stats.delivered run
# ahead of what the target holds (read directly, not through the proxy);
# after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_mongodb
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_mongodb
FAULTS_KIND=mongodb
FAULTS_UPSTREAM_PORT=$MESH_MONGO_PORT
# FerretDB (SQLite) takes seconds for one bulk of 400 replace-upserts (the
# backfill), more on a busy machine: a shorter timeout_ms cuts every
# attempt, and the route retries the whole batch for ever
FAULTS_TIMEOUT_MS=10000
# ... and a fault must last longer than one timeout to be felt
# hold each fault for 25 s: a 10 s timeout may start only after the route's
# backoff from the previous fault (up to 10 s), and must still be felt
FAULTS_HOLD_SAMPLES=100
. "$(dirname "$0")/../../../../test/lib/faults.sh"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port '$FAULTS_PROXY_PORT', database 'mesh_test', timeout_ms '$FAULTS_TIMEOUT_MS',
			 numeric_as 'string');
CREATE USER MAPPING FOR CURRENT_USER SERVER tgt OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port '$MESH_MONGO_PORT', database 'mesh_test', numeric_as 'string');
CREATE USER MAPPING FOR CURRENT_USER SERVER direct OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT r->>'ok' FROM mesh.execute('direct', '{"delete": "faults_ft", "deletes": [{"q": {}, "limit": 0}]}') r;
CREATE FOREIGN TABLE tgt_read (_id int, v text) SERVER direct OPTIONS (collection 'faults_ft');
SQL
}
faults_route_options() { echo '{"collection": "faults_ft"}'; }
faults_target_rows() { echo "SELECT _id AS id, v FROM tgt_read"; }

faults_run
