#!/usr/bin/env bash
# bench/elasticsearch.sh: fan-out to Elasticsearch/OpenSearch, against a
# baseline measured in the same run on the same machine.
#
#  fanout  a backlog of BENCH_ES_ROWS (100k) events (a COPY into a table
#          whose route is paused) delivered after mesh.resume, until
#          mesh.wait_for_sync, versus curl POSTing the same _bulk bodies
#          (the same action and source lines, external versions, cut into
#          requests of mesh.batch_size events: the worker's chunk) one
#          after the other on one kept-alive connection (curl --next).
#          ratio = curl seconds / mesh seconds            target >= 0.50
#
# Every measurement runs BENCH_REPS (3) times; the median is reported, with
# the share of the CPUs other processes used (bench/lib.sh).  Counts are
# checked after a _refresh; the replica is verified with mesh.verify.
#
# Servers: bench/lib.sh's state dir and ports (OpenSearch on 23301).  To
# use the running test servers (OpenSearch on 21301):
#   MESH_TEST_DIR=/tmp/mesh-test MESH_PG_PORT=21432 MESH_REDIS_PORT=21379 \
#   MESH_OPENSEARCH_PORT=21301 bash bench/elasticsearch.sh
# Last line: RESULT elasticsearch_fanout ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# the search server works for the benchmark: its CPU is not "other work"
eval "$(declare -f bench_root_pids | sed '1s/bench_root_pids/lib_bench_root_pids/')"
bench_root_pids() {
	lib_bench_root_pids
	head -n 1 "$MESH_TEST_DIR/opensearch/opensearch.pid" 2>/dev/null | tr -dc '0-9'
	echo
}

BENCH_REPS=${BENCH_REPS:-3}
BENCH_ES_ROWS=${BENCH_ES_ROWS:-100000}
ES_URL="http://127.0.0.1:$MESH_OPENSEARCH_PORT"

# esq METHOD PATH [BODY]: a REST call, failing on an error answer
esq() { curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' "$ES_URL$2" ${3:+--data-binary "$3"}; }
es_count() { esq POST "/$1/_refresh" >/dev/null; esq GET "/$1/_count" | sed 's/.*"count":\([0-9]*\).*/\1/'; }


cleanup() {
	esq DELETE "/es_bench_fan,es_bench_base?ignore_unavailable=true" >/dev/null 2>&1 || true
	bench_stop_servers
}

bench_servers_up
trap cleanup EXIT
esq GET / >/dev/null || bdie "the search server does not answer at $ES_URL"
BATCH=$(bsql -At -c "SHOW mesh.batch_size")
N=$BENCH_ES_ROWS
MAPPINGS='{"mappings": {"properties": {"id": {"type": "long"}, "title": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}, "n": {"type": "integer"}, "v": {"type": "double"}, "ts": {"type": "date"}}}}'
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS es_fan CASCADE;
DROP SERVER IF EXISTS bench_es CASCADE;
CREATE SERVER bench_es FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url '$ES_URL', timeout_ms '600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench_es;
SQL
csv="$MESH_TEST_DIR/pg_hub/es_fan_rows.csv"	# written and read by the server
bulk="$BENCH_WORK/es_fan_bulk"
rows_sql="SELECT g AS id, 'title ' || g || ' of the bench' AS title, (g % 1000)::int AS n, g * 0.5 AS v,
	'2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s' AS ts FROM generate_series(1, $N) g"
bsql -c "COPY ($rows_sql) TO '$csv' WITH (FORMAT csv)" >/dev/null
# the baseline's bodies: what the sink sends (version = a stand-in event id)
rm -rf "$bulk" && mkdir -p "$bulk"
bsql -At -c "COPY (SELECT json_build_object('index', json_build_object('_index', 'es_bench_base', '_id', id::text,
		'version', id, 'version_type', 'external'))::text || E'\n' ||
	json_build_object('id', id, 'title', title, 'n', n, 'v', v,
		'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'))::text
	FROM ($rows_sql) r) TO STDOUT" | sed 's/\\n/\n/' | split -l $((2 * BATCH)) -d -a 4 - "$bulk/part-"
nreq=$(ls "$bulk" | wc -l)
curl_args=()
for f in "$bulk"/part-*; do
	curl_args+=(-sS --fail -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary "@$f" "$ES_URL/_bulk" --next)
done
unset 'curl_args[${#curl_args[@]}-1]'

echo "== elasticsearch fan-out: $N events, $nreq _bulk requests of $BATCH; $BENCH_REPS repetitions, median reported"
echo "   server: $(esq GET / | grep -E '"(distribution|number)"' | tr -d ' \n')"
for ((r = 1; r <= BENCH_REPS; r++)); do
	esq DELETE "/es_bench_fan,es_bench_base?ignore_unavailable=true" >/dev/null
	bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS es_fan CASCADE;
CREATE TABLE es_fan (id bigint PRIMARY KEY, title text, n int, v float8, ts timestamptz);
SELECT mesh.replicate('es_fan', 'bench_es', '{"index": "es_bench_fan"}');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('es_fan', 'bench_es');
COPY es_fan FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
CHECKPOINT;
SQL
	backlog=$(bsql -At -c "SELECT pending FROM mesh.stats WHERE source = 'es_fan'::regclass")
	[ "$backlog" = "$N" ] || bdie "fanout backlog is $backlog events, expected $N"
	fan_mesh() {
		local t0 t1
		t0=$(now_ns)
		bsql -c "SELECT mesh.resume('es_fan', 'bench_es')" >/dev/null
		[ "$(bsql -At -c "SELECT mesh.wait_for_sync(600000)")" = t ] || bdie "fan-out did not finish in 600 s"
		t1=$(now_ns)
		secs "$t0" "$t1"
	}
	measure fan_mesh fan_mesh
	got=$(es_count es_bench_fan)
	[ "$got" = "$N" ] || bdie "the index holds $got documents, expected $N"
	esq PUT /es_bench_base "$MAPPINGS" >/dev/null
	fan_curl() {
		local t0 t1
		t0=$(now_ns)
		curl "${curl_args[@]}"
		t1=$(now_ns)
		secs "$t0" "$t1"
	}
	measure fan_curl fan_curl
	got=$(es_count es_bench_base)
	[ "$got" = "$N" ] || bdie "the baseline loaded $got documents, expected $N"
done
consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('es_fan')")
bsql -c "SELECT mesh.unreplicate('es_fan', 'bench_es')" -c "DROP TABLE es_fan" -c "DROP SERVER bench_es CASCADE" >/dev/null
m=$(median_of fan_mesh)
b=$(median_of fan_curl)
ratio=$(ratio "$b" "$m")
echo "fanout   $N events: mesh $(printf '%.3f' "$m") s ($(awk -v n="$N" -v s="$m" 'BEGIN { printf "%.0f", n / s }') docs/s), curl _bulk $(printf '%.3f' "$b") s: ratio $ratio (target >= 0.50: $(meets "$ratio" 0.50)); replica consistent: $consistent; other work up to $(other_max fan_mesh fan_curl)%"
echo "command: $(bench_env_prefix) MESH_OPENSEARCH_PORT=$MESH_OPENSEARCH_PORT bash bench/elasticsearch.sh"
echo "RESULT elasticsearch_fanout rows=$N batch=$BATCH mesh_s=$m curl_s=$b ratio=$ratio target>=0.50 consistent=$consistent"
