#!/usr/bin/env bash
# bench/clickhouse.sh: the ClickHouse targets of DESIGN.md, each against a
# baseline measured in the same run on the same machine.
#
#  fanout  a backlog of BENCH_CH_FANOUT_ROWS (1M) events (a COPY into a
#          table whose route to ClickHouse is paused) delivered after
#          mesh.resume, until mesh.wait_for_sync, versus curl POSTing the
#          same rows as JSONEachRow into a table of the same layout (one
#          request: ClickHouse's own bulk path).
#          ratio = curl seconds / mesh seconds            target >= 0.50
#  scan    BENCH_CH_SCAN_ROWS (1M) ClickHouse rows (id Int64, sensor
#          String, v Float64, ts DateTime) read whole through a foreign
#          table, every value converted:
#            SELECT count(*), count(sensor), sum(v), max(ts), sum(id)
#            FROM (SELECT * FROM ft OFFSET 0) s      (OFFSET 0: nothing pushed)
#          versus curl reading SELECT * ... FORMAT TSV to /dev/null.
#          ratio = curl seconds / FDW seconds             target >= 0.50
#  agg     a GROUP BY over BENCH_CH_AGG_ROWS (10M) rows through the foreign
#          table (pushed down: EXPLAIN's remote SQL is printed) versus the
#          same remote SQL sent by curl.
#          ratio = curl seconds / FDW seconds             target >= 0.90
#
# Every measurement runs BENCH_REPS (3) times; the median is reported (the
# machine has 2 cores shared with other work: the share of the CPUs other
# processes used during each measurement is printed, as in bench/lib.sh).
# FDW times are psql's \timing of the statement on a session whose
# ClickHouse connection is open; curl times are curl's time_total.
#
# Servers: bench/lib.sh's (default /tmp/mesh-bench, hub 23432, ClickHouse
# 23123), started if not running.  To use the test servers instead:
#   MESH_TEST_DIR=/tmp/mesh-test MESH_PG_PORT=21432 MESH_REDIS_PORT=21379 \
#   MESH_CLICKHOUSE_PORT=21123 bash bench/clickhouse.sh
# ClickHouse objects live in database mesh_bench_ch (dropped before and
# after).  BENCH_CH_PARTS="fanout scan agg" picks the parts.
# Last lines: RESULT clickhouse_<part> ... for each part run.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ClickHouse works for the benchmark: its CPU is not "other work"
eval "$(declare -f bench_root_pids | sed '1s/bench_root_pids/lib_bench_root_pids/')"
bench_root_pids() {
	lib_bench_root_pids
	head -n 1 "$MESH_TEST_DIR/clickhouse/clickhouse.pid" 2>/dev/null | tr -dc '0-9'
	echo
}

BENCH_REPS=${BENCH_REPS:-3}
BENCH_CH_PARTS=${BENCH_CH_PARTS:-fanout scan agg}
BENCH_CH_FANOUT_ROWS=${BENCH_CH_FANOUT_ROWS:-1000000}
BENCH_CH_SCAN_ROWS=${BENCH_CH_SCAN_ROWS:-1000000}
BENCH_CH_AGG_ROWS=${BENCH_CH_AGG_ROWS:-10000000}
CH_URL="http://127.0.0.1:$MESH_CLICKHOUSE_PORT"
DB=mesh_bench_ch

# chq SQL: run SQL on ClickHouse (POST), fail on an error answer
chq() { curl -sS --fail-with-body "$CH_URL/" --data-binary "$1"; }
# ch_secs SQL: curl's seconds for SQL, the answer to /dev/null
ch_secs() { curl -sS --fail -o /dev/null -w '%{time_total}\n' "$CH_URL/" --data-binary "$1"; }
# fdw_secs QUERY: psql's seconds for QUERY after a warm-up that connects
fdw_secs() {
	bsql -At <<EOF | awk '/^Time: / { printf "%.6f\n", $2 / 1000 }'
SELECT count(*) FROM bench_ch_scan WHERE id = 0;
\timing on
$1;
EOF
}

cleanup() {
	chq "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
	bench_stop_servers
}

bench_servers_up
trap cleanup EXIT
chq "SELECT 1" >/dev/null || bdie "ClickHouse does not answer at $CH_URL"
chq "DROP DATABASE IF EXISTS $DB" >/dev/null
chq "CREATE DATABASE $DB" >/dev/null
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS ch_fan CASCADE;
DROP SERVER IF EXISTS bench_ch CASCADE;
CREATE SERVER bench_ch FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url '$CH_URL', database '$DB', timeout_ms '600000');
CREATE FOREIGN TABLE bench_ch_scan (id bigint, sensor text, v float8, ts timestamptz)
	SERVER bench_ch OPTIONS ("table" 'scan_src');
CREATE FOREIGN TABLE bench_ch_agg (id bigint, sensor text, v float8, ts timestamptz, n int)
	SERVER bench_ch OPTIONS ("table" 'agg_src');
SQL
chq "CREATE TABLE $DB.scan_src (id Int64, sensor String, v Float64, ts DateTime) ENGINE = MergeTree ORDER BY id" >/dev/null

echo "== clickhouse benchmarks: $BENCH_REPS repetitions each, median reported"
echo "build: $(bench_build_info), ClickHouse $(chq 'SELECT version()')"
bench_warn_if_busy
results=()

# ---- fanout
if [[ " $BENCH_CH_PARTS " == *" fanout "* ]]; then
	N=$BENCH_CH_FANOUT_ROWS
	csv="$MESH_TEST_DIR/pg_hub/ch_fan_rows.csv"	# written and read by the server
	json="$BENCH_WORK/ch_fan_rows.json"
	bsql -c "COPY (SELECT g, 's' || (g % 100), g * 0.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s'
		FROM generate_series(1, $N) g) TO '$csv' WITH (FORMAT csv)" >/dev/null
	# the baseline's rows: the same values, as ClickHouse's JSONEachRow
	bsql -At -c "COPY (SELECT json_build_object('id', g, 'sensor', 's' || (g % 100), 'v', g * 0.5,
		'ts', to_char('2026-01-01 00:00:00'::timestamp + g * interval '1 s', 'YYYY-MM-DD HH24:MI:SS'),
		'_mesh_version', g, '_mesh_deleted', 0)
		FROM generate_series(1, $N) g) TO STDOUT" >"$json"
	for ((r = 1; r <= BENCH_REPS; r++)); do
		chq "DROP TABLE IF EXISTS $DB.ch_fan" >/dev/null
		bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS ch_fan CASCADE;
CREATE TABLE ch_fan (id bigint PRIMARY KEY, sensor text, v float8, ts timestamptz);
SELECT mesh.replicate('ch_fan', 'bench_ch');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('ch_fan', 'bench_ch');
COPY ch_fan FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
CHECKPOINT;
SQL
		backlog=$(bsql -At -c "SELECT pending FROM mesh.stats WHERE source = 'ch_fan'::regclass")
		[ "$backlog" = "$N" ] || bdie "fanout backlog is $backlog events, expected $N"
		fan_mesh() {
			local t0 t1
			t0=$(now_ns)
			bsql -c "SELECT mesh.resume('ch_fan', 'bench_ch')" >/dev/null
			[ "$(bsql -At -c "SELECT mesh.wait_for_sync(600000)")" = t ] || bdie "fan-out did not finish in 600 s"
			t1=$(now_ns)
			secs "$t0" "$t1"
		}
		measure fan_mesh fan_mesh
		got=$(chq "SELECT count() FROM (SELECT id FROM $DB.ch_fan GROUP BY id HAVING argMax(_mesh_deleted, _mesh_version) = 0)")
		[ "$got" = "$N" ] || bdie "ClickHouse holds $got live rows of ch_fan, expected $N"
		# the baseline: one POST of the same rows as JSONEachRow into the same layout
		chq "DROP TABLE IF EXISTS $DB.fan_base" >/dev/null
		chq "CREATE TABLE $DB.fan_base AS $DB.ch_fan" >/dev/null
		fan_curl() {
			curl -sS --fail -o /dev/null -w '%{time_total}\n' --data-binary @"$json" \
				"$CH_URL/?query=INSERT%20INTO%20$DB.fan_base%20FORMAT%20JSONEachRow"
		}
		measure fan_curl fan_curl
		got=$(chq "SELECT count() FROM $DB.fan_base")
		[ "$got" = "$N" ] || bdie "the baseline loaded $got rows, expected $N"
	done
	consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('ch_fan')")
	bsql -c "SELECT mesh.unreplicate('ch_fan', 'bench_ch')" -c "DROP TABLE ch_fan" >/dev/null
	m=$(median_of fan_mesh)
	b=$(median_of fan_curl)
	ratio=$(ratio "$b" "$m")
	echo "fanout   $N events to ClickHouse: mesh $(printf '%.3f' "$m") s ($(awk -v n="$N" -v s="$m" 'BEGIN { printf "%.0f", n / s }') rows/s), curl JSONEachRow POST $(printf '%.3f' "$b") s: ratio $ratio (target >= 0.50: $(meets "$ratio" 0.50)); replica consistent: $consistent; other work up to $(other_max fan_mesh fan_curl)%"
	results+=("RESULT clickhouse_fanout rows=$N mesh_s=$m curl_s=$b ratio=$ratio target>=0.50 consistent=$consistent")
fi

# ---- scan
if [[ " $BENCH_CH_PARTS " == *" scan "* ]]; then
	N=$BENCH_CH_SCAN_ROWS
	chq "TRUNCATE TABLE $DB.scan_src" >/dev/null
	chq "INSERT INTO $DB.scan_src SELECT number, concat('s', toString(number % 100)), number * 0.5,
		toDateTime(1767225600 + intDiv(number, 10)) FROM numbers($N)" >/dev/null
	Q="SELECT count(*), count(sensor), sum(v), max(ts), sum(id) FROM (SELECT * FROM bench_ch_scan OFFSET 0) s"
	expect="$N|$N|$(awk -v n="$N" 'BEGIN { printf "%.17g", (n - 1) * n / 4 }')"
	got=$(bsql -At -c "$Q" | cut -d'|' -f1-3)
	[ "$got" = "$expect" ] || bdie "FDW scan returned $got, expected $expect"
	echo "scan     FDW: $Q"
	bsql -At -c "EXPLAIN (VERBOSE, COSTS OFF) $Q" | grep 'Remote request' | sed 's/^ */           /'
	echo "         curl: SELECT * FROM $DB.scan_src FORMAT TSV > /dev/null"
	for ((r = 1; r <= BENCH_REPS; r++)); do
		measure scan_fdw fdw_secs "$Q"
		measure scan_curl ch_secs "SELECT * FROM $DB.scan_src FORMAT TSV"
	done
	f=$(median_of scan_fdw)
	b=$(median_of scan_curl)
	ratio=$(ratio "$b" "$f")
	echo "scan     $N rows: FDW $(printf '%.3f' "$f") s ($(awk -v n="$N" -v s="$f" 'BEGIN { printf "%.0f", n / s }') rows/s), curl TSV $(printf '%.3f' "$b") s ($(awk -v n="$N" -v s="$b" 'BEGIN { printf "%.0f", n / s }') rows/s): ratio $ratio (target >= 0.50: $(meets "$ratio" 0.50)); other work up to $(other_max scan_fdw scan_curl)%"
	results+=("RESULT clickhouse_scan rows=$N fdw_s=$f curl_s=$b ratio=$ratio target>=0.50")
fi

# ---- agg
if [[ " $BENCH_CH_PARTS " == *" agg "* ]]; then
	N=$BENCH_CH_AGG_ROWS
	chq "CREATE TABLE $DB.agg_src (id Int64, sensor String, v Float64, ts DateTime, n Int32)
		ENGINE = MergeTree ORDER BY id" >/dev/null
	chq "INSERT INTO $DB.agg_src SELECT number, concat('s', toString(number % 100)), (number % 1000) * 0.25,
		toDateTime(1767225600 + intDiv(number, 100)), toInt32(number % 997) FROM numbers($N)" >/dev/null
	Q="SELECT sensor, count(*), sum(n), avg(n), min(v), max(v), max(ts) FROM bench_ch_agg GROUP BY sensor"
	remote=$(bsql -At -c "EXPLAIN (VERBOSE, COSTS OFF) $Q" | sed -n 's/^ *Remote request: //p')
	case "$remote" in
	*"GROUP BY"*) ;;
	*) bdie "the aggregate was not pushed down: $remote" ;;
	esac
	echo "agg      FDW: $Q"
	echo "         remote (also sent by curl): $remote"
	[ "$(bsql -At -c "SELECT count(*) FROM ($Q) s")" = 100 ] || bdie "the aggregate did not return 100 groups"
	for ((r = 1; r <= BENCH_REPS; r++)); do
		measure agg_fdw fdw_secs "$Q"
		measure agg_curl ch_secs "$remote"
	done
	f=$(median_of agg_fdw)
	b=$(median_of agg_curl)
	ratio=$(ratio "$b" "$f")
	echo "agg      GROUP BY over $N rows: FDW $(printf '%.3f' "$f") s, curl $(printf '%.3f' "$b") s: ratio $ratio (target >= 0.90: $(meets "$ratio" 0.90)); other work up to $(other_max agg_fdw agg_curl)%"
	results+=("RESULT clickhouse_agg rows=$N fdw_s=$f curl_s=$b ratio=$ratio target>=0.90")
fi

echo "reproduce: $(bench_env_prefix) MESH_CLICKHOUSE_PORT=$MESH_CLICKHOUSE_PORT bash bench/clickhouse.sh"
printf '%s\n' "${results[@]}"
