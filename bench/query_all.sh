#!/usr/bin/env bash
# bench/query_all.sh: mesh.query_all over every backend the harness runs
# versus the slowest single backend's lookup (issue 5's target: <= 1.5x).
#
# One source table qa_all (sensor text, ts timestamptz, v float8, note text;
# primary key (sensor, ts); BENCH_QA_ROWS rows, default 1000) replicated to
# Redis (cache), PostgreSQL (postgres_fdw server, libpq sink), ClickHouse,
# InfluxDB and VictoriaMetrics.  For each kind a table qa_one_<kind> of the
# same rows has that one route only.  Measured: the mean latency of
#   SELECT count(*) FROM mesh.query_all(T, <random key>)
# by pgbench (1 client, BENCH_QA_SECONDS per run, default 5), for qa_all and
# for each qa_one_<kind>, in BENCH_REPS (3) rounds that alternate them; the
# median per table is reported.
#   ratio = latency(qa_all) / max over kinds of latency(qa_one_<kind>)
#                                                          target <= 1.5
# Each call also reads the local row; both sides pay that alike.
#
# Servers: bench/lib.sh's (default /tmp/mesh-bench, hub 23432), started if
# not running.  Last line: RESULT query_all ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_REPS=${BENCH_REPS:-3}
BENCH_QA_ROWS=${BENCH_QA_ROWS:-1000}
BENCH_QA_SECONDS=${BENCH_QA_SECONDS:-5}
KINDS="redis postgres clickhouse influxdb victoriametrics"
TARGET=1.5

bench_servers_up
eval "$(harness env)"
# the rows' times: recent (VictoriaMetrics keeps one month), whole seconds
BASE=$(date -u -d '-2 hours' '+%Y-%m-%d %H:00:00+00')
harness remote-sql "DROP TABLE IF EXISTS qa_bench_all, qa_bench_one;
	CREATE TABLE qa_bench_all (sensor text, ts timestamptz, v float8, note text, PRIMARY KEY (sensor, ts));
	CREATE TABLE qa_bench_one (LIKE qa_bench_all INCLUDING ALL)" >/dev/null

# the servers (qa_b_<kind>) and the tables, their rows and routes
route_options() { # KIND TABLE: the route options of that kind's route
	case $1 in
	redis) echo "{\"key_prefix\": \"$2:\"}" ;;
	postgres) [ "$2" = qa_all ] && echo '{"table": "public.qa_bench_all"}' || echo '{"table": "public.qa_bench_one"}' ;;
	clickhouse) echo "{\"table\": \"$2\"}" ;;
	influxdb) echo "{\"tags\": \"sensor\", \"measurement\": \"$2\"}" ;;
	victoriametrics) echo "{\"tags\": \"sensor, note\", \"measurement\": \"$2\"}" ;; # samples are numbers
	esac
}
chq() { curl -sS --fail-with-body "http://127.0.0.1:$MESH_CLICKHOUSE_PORT/" --data-binary "$1"; }
chq "DROP DATABASE IF EXISTS mesh_bench_qa" >/dev/null
chq "CREATE DATABASE mesh_bench_qa" >/dev/null
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS qa_all, qa_one_redis, qa_one_postgres, qa_one_clickhouse, qa_one_influxdb,
	qa_one_victoriametrics CASCADE;
DROP SERVER IF EXISTS qa_b_redis, qa_b_postgres, qa_b_clickhouse, qa_b_influxdb, qa_b_victoriametrics CASCADE;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER qa_b_redis FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE SERVER qa_b_postgres FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '$MESH_REMOTE_PG_PORT', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER qa_b_postgres
	OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE SERVER qa_b_clickhouse FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url 'http://127.0.0.1:$MESH_CLICKHOUSE_PORT', database 'mesh_bench_qa');
CREATE SERVER qa_b_influxdb FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url 'http://127.0.0.1:$MESH_INFLUX_PORT', database 'mesh_bench_qa');
CREATE SERVER qa_b_victoriametrics FOREIGN DATA WRAPPER mesh_victoriametrics
	OPTIONS (url 'http://127.0.0.1:$MESH_VM_PORT');
SELECT * FROM mesh.execute('qa_b_influxdb', 'DROP DATABASE mesh_bench_qa');
CREATE TABLE qa_all (sensor text, ts timestamptz, v float8, note text, PRIMARY KEY (sensor, ts));
INSERT INTO qa_all SELECT 's' || (g % 10), '$BASE'::timestamptz + g * interval '1 s',
	g * 0.5, 'note ' || g FROM generate_series(1, $BENCH_QA_ROWS) g;
SQL
for k in $KINDS; do
	bsql >/dev/null -c "CREATE TABLE qa_one_$k (LIKE qa_all INCLUDING ALL); INSERT INTO qa_one_$k SELECT * FROM qa_all"
	bsql >/dev/null -c "SELECT mesh.replicate('qa_all', 'qa_b_$k', '$(route_options "$k" qa_all)',
		'$([ "$k" = redis ] && echo cache || echo replica)')"
	bsql >/dev/null -c "SELECT mesh.replicate('qa_one_$k', 'qa_b_$k', '$(route_options "$k" "qa_one_$k")',
		'$([ "$k" = redis ] && echo cache || echo replica)')"
done
bsql -At -c "SELECT mesh.wait_for_sync(120000)" | grep -qx t || bdie "replication did not catch up"

# VictoriaMetrics shows written points after about a second: wait until
# the last key is found everywhere (bounded)
last_key="[\"s$((BENCH_QA_ROWS % 10))\", \"$(bsql -At -c "SELECT to_char(('$BASE'::timestamptz + $BENCH_QA_ROWS * interval '1 s') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")\"]"
for ((i = 0; i < 120; i++)); do
	missing=$(bsql -At -c "SELECT count(*) FILTER (WHERE found IS NOT TRUE) FROM mesh.query_all('qa_all', '$last_key')")
	[ "$missing" = 0 ] && break
	sleep 0.5
done
[ "$missing" = 0 ] || bdie "a target still misses the last key: $(bsql -At -c "SELECT string_agg(server || ': ' || coalesce(error, 'not found'), '; ') FROM mesh.query_all('qa_all', '$last_key') WHERE found IS NOT TRUE")"

script="$BENCH_WORK/query_all.sql"
cat >"$script" <<EOF
\set k random(1, $BENCH_QA_ROWS)
SELECT count(*) FILTER (WHERE found) FROM mesh.query_all(':table'::regclass,
	jsonb_build_array('s' || (:k % 10), '$BASE'::timestamptz + :k * interval '1 s')::text);
EOF
# latency TABLE: pgbench's mean latency in ms for TABLE
latency() {
	local log="$BENCH_WORK/query_all_$1.log"
	"$PGBENCH" -n -c 1 -T "$BENCH_QA_SECONDS" -D table="$1" -f "$script" "$BENCH_DB" >"$log" 2>&1 ||
		{ cat "$log" >&2; bdie "pgbench on $1 failed"; }
	awk '/^latency average/ { print $4 }' "$log"
}
# every lookup must have found the row everywhere (a wrong answer is fast)
check_found() {
	local n
	n=$(bsql -At -c "SELECT count(*) FILTER (WHERE found IS NOT TRUE) FROM mesh.query_all('$1', '$last_key')")
	[ "$n" = 0 ] || bdie "$1: $n targets did not find the key"
}

echo "== query_all: $BENCH_QA_ROWS rows, pgbench 1 client x ${BENCH_QA_SECONDS}s per table, $BENCH_REPS rounds"
echo "build: $(bench_build_info)"
bench_warn_if_busy
declare -A lat
tables="qa_all"
for k in $KINDS; do tables="$tables qa_one_$k"; done
for t in $tables; do check_found "$t"; done
for ((r = 1; r <= BENCH_REPS; r++)); do
	for t in $tables; do
		l=$(latency "$t")
		lat[$t]="${lat[$t]:-} $l"
		blog "round $r: $t $l ms"
	done
done
all=$(median "${lat[qa_all]}")
slowest=0
slowest_kind=
for k in $KINDS; do
	m=$(median "${lat[qa_one_$k]}")
	printf '  %-16s %8.3f ms per lookup (one route)\n' "$k" "$m"
	if awk -v a="$m" -v b="$slowest" 'BEGIN { exit !(a > b) }'; then
		slowest=$m
		slowest_kind=$k
	fi
done
printf '  %-16s %8.3f ms per lookup (all %d routes)\n' "all" "$all" "$(echo $KINDS | wc -w)"
r=$(ratio "$all" "$slowest" 2)
status=$(awk -v r="$r" -v t="$TARGET" 'BEGIN { print (r <= t) ? "met" : "missed" }')
echo "ratio = all / slowest single ($slowest_kind) = $r (target <= $TARGET): $status"
echo "reproduce: $(bench_env_prefix) BENCH_QA_ROWS=$BENCH_QA_ROWS BENCH_QA_SECONDS=$BENCH_QA_SECONDS BENCH_REPS=$BENCH_REPS bash bench/query_all.sh"
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS qa_all, qa_one_redis, qa_one_postgres, qa_one_clickhouse, qa_one_influxdb,
	qa_one_victoriametrics CASCADE;
SELECT * FROM mesh.execute('qa_b_influxdb', 'DROP DATABASE mesh_bench_qa');
DROP SERVER IF EXISTS qa_b_redis, qa_b_postgres, qa_b_clickhouse, qa_b_influxdb, qa_b_victoriametrics CASCADE;
SQL
chq "DROP DATABASE IF EXISTS mesh_bench_qa" >/dev/null
bench_stop_servers
echo "RESULT query_all all_ms=$all slowest_ms=$slowest slowest=$slowest_kind ratio=$r target<=$TARGET status=$status"
