#!/usr/bin/env bash
# servers: toxiproxy pg_remote
# Check: the PostgreSQL (postgres_fdw server) sink through the fault proxy (test/lib/faults.sh): a reset
# instead of the answer, a connection cut after N bytes, answers that never
# come, the server down then back.  At no sample may mesh.stats.delivered run
# ahead of what the target holds (read directly, not through the proxy);
# after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_postgres
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_postgres
FAULTS_KIND=postgres
FAULTS_UPSTREAM_PORT=$MESH_REMOTE_PG_PORT
# each fault lasts longer than the sink's fixed 5 s request bound (below), so
# a "timeout" is felt by the route before the fault heals
FAULTS_HOLD_SAMPLES=32
. "$(dirname "$0")/../../../../test/lib/faults.sh"

# postgres_fdw servers take no timeout_ms: the sink bounds every request
# by 5 s (fdw/postgres/README.md), so "timeout" waits 5 s per attempt.
faults_setup() {
	bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS faults_ft; CREATE TABLE faults_ft $FAULTS_DDL" >/dev/null
	q -d "$db" >/dev/null <<SQL
CREATE EXTENSION postgres_fdw;
CREATE SERVER tgt FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '$FAULTS_PROXY_PORT', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER tgt OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE SERVER direct FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '$MESH_REMOTE_PG_PORT', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER direct OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE FOREIGN TABLE tgt_read (id int, v text) SERVER direct OPTIONS (table_name 'faults_ft');
SQL
}
faults_route_options() { echo '{"table": "public.faults_ft"}'; }
faults_target_rows() { echo "SELECT id, v FROM tgt_read"; }

faults_run
