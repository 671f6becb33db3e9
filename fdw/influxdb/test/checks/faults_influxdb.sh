#!/usr/bin/env bash
# servers: toxiproxy influxdb
# Check: the InfluxDB 1.x (line protocol) sink through the fault proxy (test/lib/faults.sh): a reset
# instead of the answer, a connection cut after N bytes, answers that never
# come, the server down then back.  At no sample may mesh.stats.delivered run
# ahead of what the target holds (read directly, not through the proxy);
# after each fault the route syncs and verifies.
set -euo pipefail
CHECK=faults_influxdb
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_influxdb
FAULTS_KIND=influxdb
FAULTS_UPSTREAM_PORT=$MESH_INFLUX_PORT
# a point per row: the key is the tag id and one fixed time
FAULTS_DDL="(id int PRIMARY KEY, v text, ts timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00')"
FAULTS_LIMIT_BYTES=400
. "$(dirname "$0")/../../../../test/lib/faults.sh"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url 'http://127.0.0.1:$FAULTS_PROXY_PORT', database 'mesh_faults', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url 'http://127.0.0.1:$MESH_INFLUX_PORT', database 'mesh_faults');
SELECT * FROM mesh.execute('direct', 'DROP DATABASE mesh_faults');
SELECT * FROM mesh.execute('direct', 'CREATE DATABASE mesh_faults');
CREATE FOREIGN TABLE tgt_read (ts timestamptz OPTIONS (time 'true'), id text OPTIONS (tag 'true'), v text)
	SERVER direct OPTIONS (measurement 'ft');
SQL
}
faults_route_options() { echo '{"tags": "id", "time": "ts"}'; }
faults_target_rows() { echo "SELECT id::int AS id, v FROM tgt_read"; }

faults_run
