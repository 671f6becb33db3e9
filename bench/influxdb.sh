#!/usr/bin/env bash
# bench/influxdb.sh: fan-out of a backlog of BENCH_FAN_ROWS (1M) events to
# InfluxDB through a route, versus POSTing the same rows as line protocol
# with curl in the same batch sizes.                            target >= 0.50
#
#  mesh      a table (sensor text, ts timestamptz, v float8, n bigint,
#            PRIMARY KEY (sensor, ts)) replicated to InfluxDB with
#            {"tags": "sensor"}; the route is paused, BENCH_FAN_ROWS rows are
#            COPYed in (the backlog), then the time from mesh.resume until
#            the route's cursor shows the COPY's transaction delivered
#            (polled every 20 ms with a primary-key lookup) is measured.
#            mesh.wait_for_sync confirms after that, but is not timed: it
#            polls every 10 ms with a count of the pending events, which on
#            a 1M backlog keeps a CPU busy and slows the delivery it waits for.
#            The route worker delivers mesh.batch_size events (5000) per
#            /write POST.
#  baseline  the same rows as line protocol (the same measurement layout,
#            tags, fields and nanosecond timestamps), written by psql to a
#            file beforehand and cut into batches of mesh.batch_size lines;
#            one curl process POSTs them one after the other on one kept-alive
#            connection (curl --next), into another measurement.
# Both runs start from an empty measurement; BENCH_REPS (3) repetitions in
# alternating order, the median of each, ratio = baseline / mesh.  After the
# runs, point counts check both (BENCH_VERIFY=1: also mesh.verify, slow).
#
# Servers: those of bench/lib.sh (own state dir and ports; InfluxDB :23086).
# Last line: RESULT influxdb_fanout ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_FAN_ROWS=${BENCH_FAN_ROWS:-1000000}
BENCH_REPS=${BENCH_REPS:-3}
INFLUX_URL="http://127.0.0.1:$MESH_INFLUX_PORT"
INFLUX_DB=mesh_bench

# InfluxDB's CPU is part of both measurements, not other work
bench_root_pids() {
	local f pid
	echo "$BENCH_ROOT_PID"
	for f in "$MESH_TEST_DIR"/pg_hub/data/postmaster.pid "$MESH_TEST_DIR"/influxdb/influxdb.pid; do
		pid=$(head -n 1 "$f" 2>/dev/null | tr -dc '0-9')
		[ -n "$pid" ] && echo "$pid"
	done
}

influxql() {
	curl -sS --fail-with-body -XPOST "$INFLUX_URL/query?db=$INFLUX_DB" --data-urlencode "q=$1"
}

bench_servers_up
server_running influxdb || bdie "InfluxDB is not running in $MESH_TEST_DIR (bash test/harness.sh start-one influxdb)"
work=$BENCH_WORK
batch=$(bsql -At -c "SHOW mesh.batch_size")

blog "setting up: database $INFLUX_DB, table fan_src, $BENCH_FAN_ROWS rows"
influxql "DROP DATABASE $INFLUX_DB" >/dev/null
influxql "CREATE DATABASE $INFLUX_DB" >/dev/null
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS fan_src CASCADE;
DROP SERVER IF EXISTS bench_influx CASCADE;
CREATE SERVER bench_influx FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url '$INFLUX_URL', database '$INFLUX_DB', timeout_ms '60000');
CREATE TABLE fan_src (sensor text, ts timestamptz, v float8, n bigint, PRIMARY KEY (sensor, ts));
SQL
csv="$MESH_TEST_DIR/pg_hub/influx_rows.csv"   # written and read by the server (user postgres)
bsql -c "COPY (SELECT 's' || (g % 100), '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 ms',
		g * 0.25, g FROM generate_series(1, $BENCH_FAN_ROWS) g) TO '$csv' WITH (FORMAT csv)" >/dev/null

blog "baseline: line protocol of the same rows, $batch lines per POST"
rm -rf "$work/lp" && mkdir -p "$work/lp"
bsql -At -F ' ' -c "SELECT 'bench_base,sensor=' || sensor, 'v=' || v || ',n=' || n || 'i',
		(extract(epoch FROM ts) * 1000000)::bigint * 1000
	FROM (SELECT 's' || (g % 100) AS sensor, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 ms' AS ts,
		g * 0.25 AS v, g AS n FROM generate_series(1, $BENCH_FAN_ROWS) g) s" |
	split -l "$batch" -d -a 5 - "$work/lp/batch."
: >"$work/curl.cfg"
first=1
for f in "$work"/lp/batch.*; do
	[ "$first" = 1 ] || echo "next" >>"$work/curl.cfg"
	first=0
	printf 'url = "%s/write?db=%s&precision=ns"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
		"$INFLUX_URL" "$INFLUX_DB" "$f" >>"$work/curl.cfg"
done
nbatches=$(ls "$work"/lp | wc -l)

run_baseline() {
	influxql "DROP MEASUREMENT bench_base" >/dev/null 2>&1 || true
	local t0 t1
	t0=$(now_ns)
	curl -sS -K "$work/curl.cfg" >"$work/curl.codes"
	t1=$(now_ns)
	[ "$(grep -c '^204$' "$work/curl.codes")" = "$nbatches" ] ||
		bdie "curl: not every POST answered 204: $(sort "$work/curl.codes" | uniq -c | tr '\n' ' ')"
	echo $(((t1 - t0) / 1000000))
}

influx_clear_fan() {
	influxql "DROP MEASUREMENT fan" >/dev/null 2>&1 || true
}
run_mesh() {
	bench_backlog fan_src bench_influx '{"tags": "sensor", "measurement": "fan"}' "$csv" influx_clear_fan
	bench_deliver fan_src bench_influx 900
}

bench_warn_if_busy
mesh_ms=()
base_ms=()
other_max=0
for ((r = 1; r <= BENCH_REPS; r++)); do
	if ((r % 2)); then order="base mesh"; else order="mesh base"; fi
	for v in $order; do
		o0=$(other_cpu_ticks)
		s0=$(now_ns)
		if [ "$v" = base ]; then
			ms=$(run_baseline)
		else
			read -r ms confirm_ms < <(run_mesh)
			blog "rep $r: mesh.wait_for_sync then took $confirm_ms ms more to confirm"
		fi
		s1=$(now_ns)
		o=$(other_cpu_pct "$o0" "$(other_cpu_ticks)" "$(secs "$s0" "$s1")")
		((o > other_max)) && other_max=$o
		blog "rep $r $v: $ms ms (other work ${o}% CPU)"
		if [ "$v" = base ]; then base_ms+=("$ms"); else mesh_ms+=("$ms"); fi
	done
done

mesh_med=$(printf '%s\n' "${mesh_ms[@]}" | stat_median)
base_med=$(printf '%s\n' "${base_ms[@]}" | stat_median)
fan_ratio=$(ratio "$base_med" "$mesh_med")
if [ "${BENCH_VERIFY:-0}" = 1 ]; then
	blog "checking: mesh.verify of the replica (slow at 1M rows), count of the baseline"
	consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('fan_src')")
else
	blog "checking: point counts (BENCH_VERIFY=1 also runs mesh.verify)"
	consistent="not run"
fi
base_count=$(influxql "SELECT count(v) FROM bench_base" | sed -n 's/.*"values":\[\[[^,]*,\([0-9]*\)\]\].*/\1/p')
mesh_count=$(influxql "SELECT count(v) FROM fan" | sed -n 's/.*"values":\[\[[^,]*,\([0-9]*\)\]\].*/\1/p')
[ "$mesh_count" = "$BENCH_FAN_ROWS" ] && [ "$base_count" = "$BENCH_FAN_ROWS" ] ||
	bdie "expected $BENCH_FAN_ROWS points on both sides, found replica $mesh_count, baseline $base_count"
bsql -c "SELECT mesh.unreplicate('fan_src', 'bench_influx')" >/dev/null

cat <<REPORT

== InfluxDB fan-out ($(bench_build_info); $(influxd version 2>/dev/null | head -n 1))
fanout   $BENCH_FAN_ROWS events in batches of $batch: mesh ${mesh_ms[*]} ms (median $mesh_med),
         curl line protocol ${base_ms[*]} ms (median $base_med): ratio $fan_ratio (target >= 0.50: $(meets "$fan_ratio" 0.50))
         points: replica $mesh_count (mesh.verify consistent: $consistent), baseline $base_count
other work: at most ${other_max}% of the CPUs during a measurement
baseline: curl -sS -K $work/curl.cfg   ($nbatches POSTs of $batch lines to /write?db=$INFLUX_DB&precision=ns)
reproduce: $(bench_env_prefix) MESH_INFLUX_PORT=$MESH_INFLUX_PORT BENCH_FAN_ROWS=$BENCH_FAN_ROWS BENCH_REPS=$BENCH_REPS bash bench/influxdb.sh
RESULT influxdb_fanout mesh_ms=$mesh_med curl_ms=$base_med ratio=$fan_ratio target>=0.50 status=$(meets "$fan_ratio" 0.50) consistent=$consistent other_cpu_max_pct=$other_max
REPORT
