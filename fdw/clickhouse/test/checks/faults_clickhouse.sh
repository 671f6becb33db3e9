#!/usr/bin/env bash
# servers: toxiproxy clickhouse
# Check: the ClickHouse (HTTP) sink through the fault proxy (test/lib/faults.sh): a reset
# instead of the answer, a connection cut after N bytes, answers that never
# come, the server down then back.  At no sample may mesh.stats.delivered run
# ahead of what the target holds (read directly, not through the proxy);
# after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_clickhouse
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_clickhouse
FAULTS_KIND=clickhouse
FAULTS_UPSTREAM_PORT=$MESH_CLICKHOUSE_PORT
# an INSERT of a few rows is about 600 bytes with its headers: cut it
FAULTS_LIMIT_BYTES=400
. "$(dirname "$0")/../../../../test/lib/faults.sh"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url 'http://127.0.0.1:$FAULTS_PROXY_PORT', database 'mesh_faults', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http://127.0.0.1:$MESH_CLICKHOUSE_PORT');
SELECT * FROM mesh.execute('direct', 'DROP DATABASE IF EXISTS mesh_faults');
SELECT * FROM mesh.execute('direct', 'CREATE DATABASE mesh_faults');
SQL
}
# the live rows of the ReplacingMergeTree replica (fdw/clickhouse/README.md)
faults_target_rows() {
	echo "SELECT (r->>'id')::int AS id, r->>'v' AS v FROM mesh.execute('direct',
		'SELECT id, tupleElement(r, 1) AS v FROM (SELECT id, argMax(tuple(v), _mesh_version) AS r,
		 argMax(_mesh_deleted, _mesh_version) AS deleted FROM mesh_faults.ft GROUP BY id) WHERE deleted = 0') r"
}

faults_run
