#!/usr/bin/env bash
# servers: toxiproxy victoria
# Check: the VictoriaMetrics (line protocol) sink through the fault proxy
# (test/lib/faults.sh): a reset instead of the answer, a connection cut
# after N bytes, answers that never come, the server down then back.  At no
# sample may mesh.stats.delivered run ahead of what VictoriaMetrics holds
# (read directly, not through the proxy); after each fault the route syncs
# and verifies.
#
# VictoriaMetrics makes a written sample readable only a second or so after
# it acknowledged the write: every sample reads V 3 s after delivered
# (FAULTS_VISIBILITY_DELAY).  Only inserts and deletes are written: an
# update deletes the row's series and writes it again, and a series written
# right after its deletion shows only about ten seconds later
# (fdw/victoriametrics/README.md), longer than a sample may wait.
set -euo pipefail
CHECK=faults_victoriametrics
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_faults_victoriametrics
FAULTS_KIND=victoriametrics
FAULTS_UPSTREAM_PORT=$MESH_VM_PORT
FAULTS_OPS="insert delete"
FAULTS_VISIBILITY_DELAY=3
# a row is one series per field: id and v are labels, x the one field, all
# at one recent time (VictoriaMetrics keeps a month here); a metric name of
# this run, since a series written again after a deletion shows late
FAULTS_TS=$(date -u -d '-5 min' '+%Y-%m-%d %H:%M:00+00')
FAULTS_METRIC=faults_$(date +%s)
FAULTS_DDL="(id int PRIMARY KEY, v text, x float8 NOT NULL DEFAULT 1,
	ts timestamptz NOT NULL DEFAULT '$FAULTS_TS')"
FAULTS_LIMIT_BYTES=400
. "$(dirname "$0")/../../../../test/lib/faults.sh"

faults_setup() {
	q -d "$db" >/dev/null <<SQL
CREATE SERVER tgt FOREIGN DATA WRAPPER mesh_victoriametrics
	OPTIONS (url 'http://127.0.0.1:$FAULTS_PROXY_PORT', timeout_ms '$FAULTS_TIMEOUT_MS');
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_victoriametrics OPTIONS (url 'http://127.0.0.1:$MESH_VM_PORT');
SQL
}
faults_route_options() { echo "{\"measurement\": \"$FAULTS_METRIC\", \"tags\": [\"id\", \"v\"], \"time\": \"ts\"}"; }
# the series of the x field at the rows' time, bypassing the response cache
faults_target_rows() {
	echo "SELECT (r->'labels'->>'id')::int AS id, r->'labels'->>'v' AS v
		FROM mesh.execute('direct', '${FAULTS_METRIC}_x',
			jsonb_build_object('time', extract(epoch FROM timestamptz '$FAULTS_TS'), 'nocache', 1)) r"
}

faults_run
