#!/usr/bin/env bash
# bench/neo4j.sh: the Neo4j fan-out target of issue 7, against a baseline
# measured in the same run on the same machine.
#
#  fanout  a backlog of BENCH_NEO4J_EVENTS (100k) events (a COPY into a
#          table whose route to Neo4j is paused) delivered after
#          mesh.resume, until mesh.wait_for_sync: the sink sends
#            UNWIND $rows AS r MERGE (n:`BenchMesh` {`id`: r.`id`}) SET n += r
#          in requests of BENCH_NEO4J_BATCH (1000) rows; versus one curl
#          process (connection reused) POSTing the same statement with the
#          same rows in the same batch size to the same endpoint
#          (/db/neo4j/tx/commit), into label BenchCurl.  Both labels have a
#          uniqueness constraint on id (mesh.replicate makes the sink's).
#          ratio = curl seconds / mesh seconds            target >= 0.50
#
# Every measurement runs BENCH_REPS (3) times; the median is reported, with
# the share of the CPUs other processes used (bench/lib.sh).
#
# Servers: bench/lib.sh's (default /tmp/mesh-bench, hub 23432) and Neo4j on
# MESH_NEO4J_PORT (default 23474, the bench block), started if
# not running (Neo4j alone with `harness.sh start-one neo4j` when the rest
# already runs) and stopped again at the end if this script started them.
# Last line: RESULT neo4j_fanout ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Neo4j works for the benchmark: its CPU is not "other work"
eval "$(declare -f bench_root_pids | sed '1s/bench_root_pids/lib_bench_root_pids/')"
bench_root_pids() {
	lib_bench_root_pids
	head -n 1 "$MESH_TEST_DIR/neo4j/neo4j.pid" 2>/dev/null | tr -dc '0-9'
	echo
}

BENCH_REPS=${BENCH_REPS:-3}
BENCH_NEO4J_EVENTS=${BENCH_NEO4J_EVENTS:-100000}
BENCH_NEO4J_BATCH=${BENCH_NEO4J_BATCH:-1000}
NEO4J_URL="http://127.0.0.1:$MESH_NEO4J_PORT"
NEO4J_AUTH="neo4j:mesh_neo4j_pw"	# fdw/neo4j/harness.sh's test password
STARTED_NEO4J=0

# cypher STATEMENT: run one statement, print the answer; fail on errors
cypher() {
	local out
	out=$(curl -sS --fail-with-body -u "$NEO4J_AUTH" -H 'Content-Type: application/json' \
		"$NEO4J_URL/db/neo4j/tx/commit" --data-binary @- <<<"$(jq -cn --arg s "$1" '{statements: [{statement: $s}]}')")
	grep -q '"errors":\[\]' <<<"$out" || bdie "Neo4j: $out"
	echo "$out"
}
# count LABEL: nodes of LABEL
count() { cypher "MATCH (n:$1) RETURN count(n)" | jq -r '.results[0].data[0].row[0]'; }
# empty LABEL: delete its nodes, 20k per transaction
empty() {
	while [ "$(cypher "MATCH (n:$1) WITH n LIMIT 20000 DETACH DELETE n RETURN count(*)" |
		jq -r '.results[0].data[0].row[0]')" != 0 ]; do :; done
}


cleanup() {
	bsql -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS neo_fan CASCADE" \
		-c "DROP SERVER IF EXISTS bench_neo4j CASCADE" >/dev/null 2>&1 || true
	if [ "$STARTED_NEO4J" = 1 ]; then harness stop-one neo4j >/dev/null 2>&1 || true; fi
	bench_stop_servers
}

command -v jq >/dev/null || bdie "jq is needed (apt-get install jq)"
bench_servers_up
trap cleanup EXIT
if ! server_running neo4j; then
	blog "starting Neo4j on :$MESH_NEO4J_PORT"
	[ "$BENCH_STARTED_SERVERS" = 1 ] || STARTED_NEO4J=1
	harness start-one neo4j >"$MESH_TEST_DIR/bench-neo4j-start.log" 2>&1 || {
		cat "$MESH_TEST_DIR/bench-neo4j-start.log" >&2
		bdie "Neo4j did not start"
	}
fi
version=$(curl -sS "$NEO4J_URL/" | jq -r .neo4j_version)
cypher "CREATE CONSTRAINT IF NOT EXISTS FOR (n:BenchCurl) REQUIRE n.id IS UNIQUE" >/dev/null
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS neo_fan CASCADE;
DROP SERVER IF EXISTS bench_neo4j CASCADE;
CREATE SERVER bench_neo4j FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url '$NEO4J_URL', timeout_ms '600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench_neo4j OPTIONS (user 'neo4j', password '${NEO4J_AUTH#neo4j:}');
SQL

echo "== neo4j benchmark: $BENCH_REPS repetitions, median reported"
echo "build: $(bench_build_info), Neo4j $version"
bench_warn_if_busy

N=$BENCH_NEO4J_EVENTS
B=$BENCH_NEO4J_BATCH
csv="$MESH_TEST_DIR/pg_hub/neo_fan_rows.csv"	# written and read by the server
reqs="$BENCH_WORK/neo4j_requests"
rm -rf "$reqs"
mkdir -p "$reqs"
bsql -c "COPY (SELECT g, 's' || (g % 100), g * 0.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s'
	FROM generate_series(1, $N) g) TO '$csv' WITH (FORMAT csv)" >/dev/null
# the baseline's requests: the sink's statement and rows (values typed as
# the sink types them), one request body per batch, one curl config
bsql -At -c "SELECT json_build_object('statements', json_build_array(json_build_object(
		'statement', 'UNWIND \$rows AS r MERGE (n:\`BenchCurl\` {\`id\`: r.\`id\`}) SET n += r',
		'parameters', json_build_object('rows', json_agg(json_build_object('id', g, 'sensor', 's' || (g % 100),
			'v', (g * 0.5)::numeric(20, 1), 'ts', to_char('2026-01-01 00:00:00'::timestamp + g * interval '1 s',
			'YYYY-MM-DD HH24:MI:SS') || '+00') ORDER BY g)),
		'resultDataContents', json_build_array('row'))))
	FROM generate_series(1, $N) g GROUP BY (g - 1) / $B ORDER BY (g - 1) / $B" |
	awk -v d="$reqs" -v url="$NEO4J_URL/db/neo4j/tx/commit" -v auth="$NEO4J_AUTH" '{
		f = sprintf("%s/req_%05d.json", d, NR); print > f; close(f)
		if (NR > 1) print "next" > (d "/curl.conf")
		printf "url = \"%s\"\ndata-binary = \"@%s\"\noutput = \"%s.out\"\nheader = \"Content-Type: application/json\"\nuser = \"%s\"\n", url, f, f, auth > (d "/curl.conf")
	}'
nreq=$(ls "$reqs"/req_*.json | wc -l)
# warm-up, not measured: the first batch's statement on both labels (Neo4j
# compiles and JIT-warms the MERGE once; neither side should pay for it)
for label in BenchCurl BenchMesh; do
	sed "s/BenchCurl/$label/" "$reqs/req_00001.json" |
		curl -sS --fail -u "$NEO4J_AUTH" -H 'Content-Type: application/json' \
			"$NEO4J_URL/db/neo4j/tx/commit" --data-binary @- | grep -q '"errors":\[\]' ||
		bdie "the warm-up request failed"
done

for ((r = 1; r <= BENCH_REPS; r++)); do
	empty BenchMesh
	empty BenchCurl
	bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS neo_fan CASCADE;
CREATE TABLE neo_fan (id bigint PRIMARY KEY, sensor text, v float8, ts timestamptz);
SELECT mesh.replicate('neo_fan', 'bench_neo4j', '{"label": "BenchMesh", "batch_size": $B}');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('neo_fan', 'bench_neo4j');
COPY neo_fan FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
CHECKPOINT;
SQL
	backlog=$(bsql -At -c "SELECT pending FROM mesh.stats WHERE source = 'neo_fan'::regclass")
	[ "$backlog" = "$N" ] || bdie "fanout backlog is $backlog events, expected $N"
	fan_mesh() {
		local t0 t1
		t0=$(now_ns)
		bsql -c "SELECT mesh.resume('neo_fan', 'bench_neo4j')" >/dev/null
		[ "$(bsql -At -c "SELECT mesh.wait_for_sync(600000)")" = t ] || bdie "fan-out did not finish in 600 s"
		t1=$(now_ns)
		secs "$t0" "$t1"
	}
	measure fan_mesh fan_mesh
	got=$(count BenchMesh)
	[ "$got" = "$N" ] || bdie "Neo4j holds $got BenchMesh nodes, expected $N"
	fan_curl() {
		local t0 t1
		rm -f "$reqs"/*.out
		t0=$(now_ns)
		curl -sS --fail -K "$reqs/curl.conf" || bdie "curl failed"
		t1=$(now_ns)
		secs "$t0" "$t1"
	}
	measure fan_curl fan_curl
	ok=$(grep -l '"errors":\[\]' "$reqs"/*.out | wc -l)
	[ "$ok" = "$nreq" ] || bdie "$((nreq - ok)) of $nreq curl requests had errors: $(grep -L '"errors":\[\]' "$reqs"/*.out | head -n 1 | xargs cat)"
	got=$(count BenchCurl)
	[ "$got" = "$N" ] || bdie "Neo4j holds $got BenchCurl nodes, expected $N"
done
consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('neo_fan')")
bsql -c "SELECT mesh.unreplicate('neo_fan', 'bench_neo4j')" -c "DROP TABLE neo_fan" >/dev/null
empty BenchMesh
empty BenchCurl
m=$(median_of fan_mesh)
b=$(median_of fan_curl)
ratio=$(ratio "$b" "$m")
echo "fanout   $N events to Neo4j in batches of $B: mesh $(printf '%.3f' "$m") s ($(awk -v n="$N" -v s="$m" 'BEGIN { printf "%.0f", n / s }') rows/s), curl $nreq POSTs $(printf '%.3f' "$b") s ($(awk -v n="$N" -v s="$b" 'BEGIN { printf "%.0f", n / s }') rows/s): ratio $ratio (target >= 0.50: $(meets "$ratio" 0.50)); replica consistent: $consistent; other work up to $(other_max fan_mesh fan_curl)%"
echo "reproduce: $(bench_env_prefix) MESH_NEO4J_PORT=$MESH_NEO4J_PORT bash bench/neo4j.sh"
echo "RESULT neo4j_fanout events=$N batch=$B mesh_s=$m curl_s=$b ratio=$ratio target>=0.50 consistent=$consistent"
