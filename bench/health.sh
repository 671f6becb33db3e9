#!/usr/bin/env bash
# bench/health.sh: mesh.health over every backend the harness runs, with
# hanging servers among them, versus its timeout (issue 5's target: the
# whole call within timeout + 10%).
#
# Servers checked: Redis, PostgreSQL (postgres_fdw), ClickHouse, InfluxDB,
# Prometheus, VictoriaMetrics, plus two that hang: a mesh_redis and a
# mesh_clickhouse server on the harness's hanging TCP port (it accepts and
# never answers).  Measured: the wall time of
#   SELECT count(*) FROM mesh.health(T)
# from psql's \timing, T = BENCH_HEALTH_TIMEOUT_MS (default 1000), in
# BENCH_REPS (5) runs on one session; the median is reported.
#   ratio = median seconds / (T / 1000)                 target <= 1.10
# Each run also asserts that the healthy servers are up and the hanging
# ones down.
#
# Servers: bench/lib.sh's (default /tmp/mesh-bench, hub 23432), started if
# not running.  Last line: RESULT health ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_REPS=${BENCH_REPS:-5}
T=${BENCH_HEALTH_TIMEOUT_MS:-1000}
TARGET=1.10

bench_servers_up
eval "$(harness env)"
SERVERS="hb_redis hb_postgres hb_clickhouse hb_influxdb hb_prometheus hb_victoriametrics hb_hang_redis hb_hang_http"
drop_servers() {
	bsql >/dev/null -c "SET client_min_messages = warning" \
		-c "DROP SERVER IF EXISTS $(echo "$SERVERS" | sed 's/ /, /g') CASCADE"
}
drop_servers
bsql >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER hb_redis FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE SERVER hb_postgres FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '$MESH_REMOTE_PG_PORT', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER hb_postgres
	OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE SERVER hb_clickhouse FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url 'http://127.0.0.1:$MESH_CLICKHOUSE_PORT');
CREATE SERVER hb_influxdb FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url 'http://127.0.0.1:$MESH_INFLUX_PORT');
CREATE SERVER hb_prometheus FOREIGN DATA WRAPPER mesh_prometheus
	OPTIONS (url 'http://127.0.0.1:$MESH_PROMETHEUS_PORT');
CREATE SERVER hb_victoriametrics FOREIGN DATA WRAPPER mesh_victoriametrics
	OPTIONS (url 'http://127.0.0.1:$MESH_VM_PORT');
CREATE SERVER hb_hang_redis FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_HANG_PORT');
CREATE SERVER hb_hang_http FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url 'http://127.0.0.1:$MESH_HANG_PORT');
SQL

echo "== health: mesh.health($T) over $(echo "$SERVERS" | wc -w) servers (2 hanging), $BENCH_REPS runs"
echo "build: $(bench_build_info)"
bench_warn_if_busy
# one session: a check of who is up, then the timed runs
out=$(bsql -At <<SQL
SELECT string_agg(server || '=' || ok, ' ' ORDER BY server) FROM mesh.health($T)
	WHERE server::text LIKE 'hb\_%';
\timing on
$(for ((r = 1; r <= BENCH_REPS; r++)); do echo "SELECT count(*) FROM mesh.health($T);"; done)
SQL
)
echo "$out" | head -n 1
expected="hb_clickhouse=true hb_hang_http=false hb_hang_redis=false hb_influxdb=true hb_postgres=true hb_prometheus=true hb_redis=true hb_victoriametrics=true"
[ "$(echo "$out" | head -n 1)" = "$expected" ] || bdie "unexpected health: $(echo "$out" | head -n 1) (expected $expected)"
secs_list=$(echo "$out" | awk '/^Time: / { printf "%.4f\n", $2 / 1000 }')
echo "runs (s): $(echo $secs_list)"
med=$(median "$secs_list")
r=$(ratio "$med" "$(awk -v t="$T" 'BEGIN { print t / 1000 }')" 3)
status=$(awk -v r="$r" -v t="$TARGET" 'BEGIN { print (r <= t) ? "met" : "missed" }')
echo "median $med s for timeout $T ms: ratio $r (target <= $TARGET): $status"
echo "reproduce: $(bench_env_prefix) BENCH_HEALTH_TIMEOUT_MS=$T BENCH_REPS=$BENCH_REPS bash bench/health.sh"
drop_servers
bench_stop_servers
echo "RESULT health median_s=$med timeout_ms=$T ratio=$r target<=$TARGET status=$status"
