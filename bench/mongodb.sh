#!/usr/bin/env bash
# bench/mongodb.sh: fan-out of a backlog of BENCH_FAN_ROWS (100k) events to
# FerretDB (the MongoDB-wire server of the harness) through a route, versus
# MongoDB's own bulk path for the same documents.          target >= 0.50
#
#  mesh      a table (id bigint PRIMARY KEY, sensor text, ts timestamptz,
#            v float8, n bigint) replicated to collection fan with route
#            option write_mode BENCH_MONGO_WRITE_MODE (delete_insert: one
#            deleteMany and one insert per batch; replace: one replace-upsert
#            per row, about 8 ms each on FerretDB); the route is paused,
#            BENCH_FAN_ROWS rows are COPYed in (the backlog), then the time
#            from mesh.resume until the route's cursor shows the COPY's
#            transaction delivered (polled every 20 ms) is measured.  The
#            route worker delivers mesh.batch_size events per bulk write.
#  baseline  bench/mongodb_bulk_client.c (libmongoc): the same rows, read
#            from a CSV file written beforehand, as the same documents
#            ({_id, id, sensor, ts: date, v: double, n: int64}), one unordered
#            bulk insert of mesh.batch_size documents after the other, into
#            an empty collection.
# Both runs start from an empty collection; BENCH_REPS (3) repetitions in
# alternating order, the median of each, ratio = baseline / mesh.  After the
# runs, document counts check both (BENCH_VERIFY=1: also mesh.verify).
#
# Servers: those of bench/lib.sh (own state dir and ports; FerretDB :23017),
# with the harness's FerretDB user.  Last line: RESULT mongodb_fanout ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_FAN_ROWS=${BENCH_FAN_ROWS:-100000}
BENCH_REPS=${BENCH_REPS:-3}
BENCH_MONGO_WRITE_MODE=${BENCH_MONGO_WRITE_MODE:-delete_insert}
FERRETDB_BIN=${MESH_CACHE_DIR:-/var/cache/mesh}/ferretdb-v1.24.2/ferretdb
MONGO_DB=mesh_test
MONGO_USER=mesh_mongo
MONGO_PASSWORD=mesh_mongo_pw
MONGO_URI="mongodb://$MONGO_USER:$MONGO_PASSWORD@127.0.0.1:$MESH_MONGO_PORT/$MONGO_DB?authSource=$MONGO_DB&socketTimeoutMS=900000"

# FerretDB's CPU is part of both measurements, not other work
bench_root_pids() {
	local f pid
	echo "$BENCH_ROOT_PID"
	for f in "$MESH_TEST_DIR"/pg_hub/data/postmaster.pid "$MESH_TEST_DIR"/mongodb/mongodb.pid; do
		pid=$(head -n 1 "$f" 2>/dev/null | tr -dc '0-9')
		[ -n "$pid" ] && echo "$pid"
	done
}

# mongo JSON: run a command through the hub, print its jsonb reply
mongo() { bsql -At -c "SELECT r FROM mesh.execute('bench_mongo', \$json\$$1\$json\$) r"; }
mongo_count() { mongo "{\"count\": \"$1\"}" | sed -n 's/.*"n": \([0-9]*\).*/\1/p'; }
# (a drop: FerretDB 1.24 fails deleteMany({}) beyond 32766 documents; a
# missing collection is an error, ignored)
mongo_empty() { mongo "{\"drop\": \"$1\"}" >/dev/null 2>&1 || true; }

bench_servers_up
server_running mongodb || bdie "FerretDB is not running in $MESH_TEST_DIR ($(bench_env_prefix) MESH_MONGO_PORT=$MESH_MONGO_PORT bash test/harness.sh start-one mongodb)"
work=$BENCH_WORK
batch=$(bsql -At -c "SHOW mesh.batch_size")

blog "building the baseline client"
gcc -O2 -o "$work/mongodb_bulk_client" "$BENCH_DIR/mongodb_bulk_client.c" \
	$(pkg-config --cflags --libs libmongoc-1.0) || bdie "cannot build bench/mongodb_bulk_client.c"

blog "setting up: table fan_src, $BENCH_FAN_ROWS rows, route write_mode $BENCH_MONGO_WRITE_MODE"
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS fan_src CASCADE;
DROP SERVER IF EXISTS bench_mongo CASCADE;
CREATE SERVER bench_mongo FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port '$MESH_MONGO_PORT', database '$MONGO_DB', timeout_ms '600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench_mongo
	OPTIONS (user '$MONGO_USER', password '$MONGO_PASSWORD');
CREATE TABLE fan_src (id bigint PRIMARY KEY, sensor text, ts timestamptz, v float8, n bigint);
SQL
csv="$MESH_TEST_DIR/pg_hub/mongo_rows.csv"   # written and read by the server (user postgres)
rows_sql="SELECT g, 's' || (g % 100), '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 ms', g * 0.25, g * 7
	FROM generate_series(1, $BENCH_FAN_ROWS) g"
bsql -c "COPY ($rows_sql) TO '$csv' WITH (FORMAT csv)" >/dev/null
bsql -At -F , -c "SELECT g, 's' || (g % 100), (extract(epoch FROM '2026-01-01 00:00:00+00'::timestamptz
		+ g * interval '1 ms') * 1000)::bigint, (g * 0.25)::float8, g * 7 FROM generate_series(1, $BENCH_FAN_ROWS) g" \
	>"$work/mongo_rows.csv"

run_baseline() {
	local t0 t1 n
	mongo_empty bench_base
	t0=$(now_ns)
	n=$("$work/mongodb_bulk_client" "$MONGO_URI" "$MONGO_DB" bench_base "$work/mongo_rows.csv" "$batch")
	t1=$(now_ns)
	[ "$n" = "$BENCH_FAN_ROWS" ] || bdie "baseline client wrote $n documents"
	echo $(((t1 - t0) / 1000000))
}

mongo_clear_fan() {
	mongo_empty fan
}
run_mesh() {
	bench_backlog fan_src bench_mongo "{\"collection\": \"fan\", \"write_mode\": \"$BENCH_MONGO_WRITE_MODE\"}" "$csv" mongo_clear_fan
	bench_deliver fan_src bench_mongo 1800
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
	consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('fan_src')")
else
	consistent="not run"
fi
mesh_count=$(mongo_count fan)
base_count=$(mongo_count bench_base)
[ "$mesh_count" = "$BENCH_FAN_ROWS" ] && [ "$base_count" = "$BENCH_FAN_ROWS" ] ||
	bdie "expected $BENCH_FAN_ROWS documents on both sides, found replica $mesh_count, baseline $base_count"
bsql -c "SELECT mesh.unreplicate('fan_src', 'bench_mongo')" >/dev/null

# ---- scan: every document of the baseline's collection through a foreign
# table (all columns) versus the same read by the libmongoc client
bsql >/dev/null <<SQL
DROP FOREIGN TABLE IF EXISTS fan_ft;
CREATE FOREIGN TABLE fan_ft (_id bigint, id bigint, sensor text, ts timestamptz, v float8, n bigint)
	SERVER bench_mongo OPTIONS (collection 'bench_base');
SQL
scan_mesh_ms=()
scan_base_ms=()
for ((r = 1; r <= BENCH_REPS; r++)); do
	for v in base mesh; do
		t0=$(now_ns)
		if [ "$v" = base ]; then
			n=$("$work/mongodb_bulk_client" "$MONGO_URI" "$MONGO_DB" bench_base -read- 0)
		else
			# a whole-row test: every column is read and converted, nothing pushed
			n=$(bsql -At -c "SELECT count(*) FROM fan_ft f WHERE f IS NOT NULL")
		fi
		t1=$(now_ns)
		[ "$n" = "$BENCH_FAN_ROWS" ] || bdie "scan $v read $n documents"
		blog "scan rep $r $v: $(((t1 - t0) / 1000000)) ms"
		if [ "$v" = base ]; then scan_base_ms+=($(((t1 - t0) / 1000000))); else scan_mesh_ms+=($(((t1 - t0) / 1000000))); fi
	done
done
scan_mesh_med=$(printf '%s\n' "${scan_mesh_ms[@]}" | stat_median)
scan_base_med=$(printf '%s\n' "${scan_base_ms[@]}" | stat_median)
scan_ratio=$(ratio "$scan_base_med" "$scan_mesh_med")

cat <<REPORT

== MongoDB (FerretDB) fan-out ($(bench_build_info); FerretDB $("$FERRETDB_BIN" --version 2>/dev/null | sed -n 's/^version: //p'))
fanout   $BENCH_FAN_ROWS events in batches of $batch, write_mode $BENCH_MONGO_WRITE_MODE: mesh ${mesh_ms[*]} ms (median $mesh_med),
         libmongoc bulk insert ${base_ms[*]} ms (median $base_med): ratio $fan_ratio (target >= 0.50: $(meets "$fan_ratio" 0.50))
         documents: replica $mesh_count (mesh.verify consistent: $consistent), baseline $base_count
other work: at most ${other_max}% of the CPUs during a measurement
baseline: $work/mongodb_bulk_client '<uri>' $MONGO_DB bench_base $work/mongo_rows.csv $batch
reproduce: $(bench_env_prefix) MESH_MONGO_PORT=$MESH_MONGO_PORT BENCH_FAN_ROWS=$BENCH_FAN_ROWS BENCH_REPS=$BENCH_REPS BENCH_MONGO_WRITE_MODE=$BENCH_MONGO_WRITE_MODE bash bench/mongodb.sh
scan     $BENCH_FAN_ROWS documents, all columns: foreign table ${scan_mesh_ms[*]} ms (median $scan_mesh_med),
         libmongoc find ${scan_base_ms[*]} ms (median $scan_base_med): ratio $scan_ratio (target >= 0.50: $(meets "$scan_ratio" 0.50))
RESULT mongodb_scan mesh_ms=$scan_mesh_med client_ms=$scan_base_med ratio=$scan_ratio target>=0.50 status=$(meets "$scan_ratio" 0.50)
RESULT mongodb_fanout mesh_ms=$mesh_med bulk_ms=$base_med ratio=$fan_ratio target>=0.50 status=$(meets "$fan_ratio" 0.50) write_mode=$BENCH_MONGO_WRITE_MODE consistent=$consistent other_cpu_max_pct=$other_max
REPORT
