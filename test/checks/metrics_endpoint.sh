#!/usr/bin/env bash
# servers: redis prometheus
# Check: mesh's metrics endpoint (mesh.metrics_port, set by the harness).
# A route to Redis delivers a random number of rows; then
#   - /metrics has every documented metric family, valid for promtool, with
#     the route's labels and its delivered count equal to the rows written;
#   - a backend with a hostile name (quotes, backslash, newline) is a series
#     with its label escaped, reported down; so is a table's name;
#   - /health is valid JSON listing the backends and the route;
#   - the harness's real Prometheus scraped mesh: mesh.promql over it reads
#     the same delivered count back, and up{job="mesh"} is 1;
#   - a terminated metrics worker is started again and serves again;
#   - a port in use is a WARNING naming address and port, retried until the
#     port is free, with the worker and the server still up.
set -euo pipefail
CHECK=metrics_endpoint
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_metrics
port=${MESH_METRICS_PORT:?run under test/harness.sh env}
base="http://127.0.0.1:$port"
hub_log="$MESH_TEST_DIR/pg_hub/postgres.log"
work=$(mktemp -d)
holder=""
cleanup() {
	[ -z "$holder" ] || kill "$holder" 2>/dev/null || true
	q -d postgres -c "ALTER SYSTEM RESET mesh.metrics_port" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# get PATH: the body of a 200 answer, or nothing
get() { curl -s -f -m 5 "$base$1" 2>/dev/null || true; }

# poll_metrics LINE: until /metrics has exactly that line (20 s)
poll_metrics() {
	local i
	for ((i = 0; i < 200; i++)); do
		get /metrics >"$work/metrics"
		grep -qxF -- "$1" "$work/metrics" && return 0
		sleep 0.1
	done
	fail "no line '$1' in /metrics within 20 s; related lines: $(grep -F "${1%%\{*}" "$work/metrics" | head -5)"
}

[ "$(q -d postgres -c 'SHOW mesh.metrics_port')" = "$port" ] ||
	fail "the hub does not run with mesh.metrics_port = $port (test/harness.sh start_pg_hub sets it)"

rows=$((100 + RANDOM % 900))	# never the count of an earlier run still in Prometheus
redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" --scan --pattern 'metrics_check:*' |
	xargs -r redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" del >/dev/null
q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
q -d "$db" >/dev/null <<SQL
CREATE EXTENSION mesh;
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE SERVER prom FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url 'http://127.0.0.1:$MESH_PROMETHEUS_PORT');
CREATE SERVER "down ""q"" \\
x" FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_DOWN_PORT', timeout_ms '500');
CREATE TABLE readings (id int PRIMARY KEY, v text);
SELECT mesh.replicate('readings', 'cache', '{"key_prefix": "metrics_check:"}');
INSERT INTO readings SELECT g, 'v' || g FROM generate_series(1, $rows) g;
CREATE TABLE "we""ird \\ tbl" (id int PRIMARY KEY);
SELECT mesh.replicate('"we""ird \\ tbl"', 'cache', '{"key_prefix": "metrics_check:weird:"}');
INSERT INTO "we""ird \\ tbl" VALUES (1), (2), (3);
SQL
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(30000)")" = t ] || fail "the route did not sync"
route=$(q -d "$db" -c "SELECT id FROM mesh.routes WHERE target = 'cache' AND source = 'readings'::regclass")
labels="database=\"$db\",route_id=\"$route\",source=\"readings\",target=\"cache\",kind=\"redis\",role=\"replica\""

# /metrics: the delivered count, then the caught-up figures
poll_metrics "mesh_route_delivered_events_total{$labels} $rows"
poll_metrics "mesh_route_pending_events{$labels} 0"
poll_metrics "mesh_route_lag_seconds{$labels} 0"
poll_metrics "mesh_route_paused{$labels} 0"
poll_metrics "mesh_route_dead_letters{$labels} 0"
poll_metrics "mesh_route_state{$labels,state=\"idle\"} 1"
poll_metrics "mesh_backend_up{database=\"$db\",server=\"cache\",kind=\"redis\"} 1"
poll_metrics 'mesh_backend_up{database="'$db'",server="down \"q\" \\\nx",kind="redis"} 0'
weird=$(q -d "$db" -c "SELECT id FROM mesh.routes WHERE target = 'cache' AND id <> $route")
poll_metrics 'mesh_route_delivered_events_total{database="'$db'",route_id="'$weird'",source="\"we\"\"ird \\ tbl\"",target="cache",kind="redis",role="replica"} 3'
for name in mesh_info mesh_route_delivered_events_total mesh_route_failed_attempts_total \
	mesh_route_dead_letters mesh_route_pending_events mesh_route_lag_seconds mesh_route_paused \
	mesh_route_state mesh_backend_up mesh_backend_ping_latency_seconds \
	mesh_backend_last_check_timestamp_seconds mesh_event_log_bytes mesh_event_log_rows \
	mesh_stats_refreshed_timestamp_seconds; do
	grep -q "^# TYPE $name " "$work/metrics" || fail "/metrics lacks the family $name"
done
grep -q '^mesh_info{version="[0-9.]*",postgres="15' "$work/metrics" || fail "no mesh_info with the version"
grep -q "^mesh_backend_ping_latency_seconds{database=\"$db\",server=\"cache\",kind=\"redis\"} [0-9.e-]*$" \
	"$work/metrics" || fail "no ping latency for cache"
if ! promtool check metrics <"$work/metrics" >"$work/promtool" 2>&1; then
	fail "promtool rejects /metrics: $(head -5 "$work/promtool")"
fi

# /health: valid JSON with the backends and the route
get /health >"$work/health.json"
python3 -m json.tool "$work/health.json" >/dev/null || fail "/health is not JSON: $(head -c 300 "$work/health.json")"
python3 - "$work/health.json" "$db" "$rows" <<'PY' || fail "/health is not as expected"
import json, sys
doc = json.load(open(sys.argv[1]))
db, rows = sys.argv[2], int(sys.argv[3])
assert doc["status"] == "degraded", "a backend is down: status must be degraded"
backends = {b["server"]: b for b in doc["backends"] if b["database"] == db}
assert backends["cache"]["up"] is True and backends["cache"]["latency_ms"] >= 0, backends
down = backends['down "q" \\\nx']
assert down["up"] is False and down["error"], down
route = [r for r in doc["routes"] if r["database"] == db and r["target"] == "cache"][0]
assert route["delivered"] == rows and route["pending"] == 0 and route["dead"] == 0, route
assert route["lag_seconds"] == 0 and route["state"] == "idle", route
PY

# the real Prometheus scraped mesh, and mesh.promql reads it back
promql="mesh_route_delivered_events_total{database=\"$db\",route_id=\"$route\",target=\"cache\"}"
for ((i = 0; i < 200; i++)); do
	got=$(q -d "$db" -c "SELECT value FROM mesh.promql('prom', \$q\$$promql\$q\$)" 2>&1 || true)
	[ "$got" = "$rows" ] && break
	sleep 0.1
done
[ "$got" = "$rows" ] || fail "mesh.promql('$promql') gave '$got', expected $rows within 20 s"
[ "$(q -d "$db" -c "SELECT value FROM mesh.promql('prom', 'up{job=\"mesh\"}')")" = 1 ] ||
	fail "Prometheus's scrape of mesh failed (up{job=\"mesh\"} is not 1)"

# SIGTERM: the worker exits and the postmaster starts it again
old=$(q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mesh metrics'")
[ -n "$old" ] || fail "no 'mesh metrics' process"
q -d postgres -c "SELECT pg_terminate_backend($old)" >/dev/null
for ((i = 0; i < 150; i++)); do
	new=$(q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mesh metrics'")
	[ -n "$new" ] && [ "$new" != "$old" ] && [ -n "$(get /health)" ] && break
	sleep 0.1
done
[ -n "$new" ] && [ "$new" != "$old" ] || fail "the metrics worker was not started again after SIGTERM"
[ -n "$(get /health)" ] || fail "the restarted metrics worker does not serve"

# a port in use: a WARNING with address and port, retried, no crash loop
busy=$((port + 1))
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("ready", flush=True); time.sleep(120)' "$busy" >"$work/holder" &
holder=$!
for ((i = 0; i < 50; i++)); do grep -q ready "$work/holder" && break; sleep 0.1; done
log_from=$(($(stat -c %s "$hub_log") + 1))
q -d postgres -c "ALTER SYSTEM SET mesh.metrics_port = $busy" -c "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 100; i++)); do
	grep -q "mesh metrics: could not listen on 127.0.0.1 port $busy: Address already in use" <<<"$(tail -c +"$log_from" "$hub_log")" && break
	sleep 0.1
done
grep -q "WARNING:  mesh metrics: could not listen on 127.0.0.1 port $busy: Address already in use" <<<"$(tail -c +"$log_from" "$hub_log")" ||
	fail "no WARNING naming 127.0.0.1 port $busy in $hub_log"
[ "$(q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mesh metrics'")" = "$new" ] ||
	fail "the metrics worker did not survive a port in use"
kill "$holder"
wait "$holder" 2>/dev/null || true
holder=""
for ((i = 0; i < 150; i++)); do
	curl -s -f -m 2 -o /dev/null "http://127.0.0.1:$busy/health" && break
	sleep 0.1
done
curl -s -f -m 2 -o /dev/null "http://127.0.0.1:$busy/health" || fail "not serving on port $busy 15 s after it was freed"
q -d postgres -c "ALTER SYSTEM RESET mesh.metrics_port" -c "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 100; i++)); do [ -n "$(get /health)" ] && break; sleep 0.1; done
[ -n "$(get /health)" ] || fail "not serving on port $port again after the reset"

q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "$CHECK: ok ($rows events delivered, seen in /metrics, /health and Prometheus)"
