#!/usr/bin/env bash
# bench/chroma.sh: the vector-upsert target of issue 7 on Chroma (the live
# vector server; Qdrant cannot be had here), against a baseline measured in
# the same run on the same machine.
#
#  upsert  a backlog of BENCH_VEC_POINTS (100k) rows with a 128-dimensional
#          real[] (a COPY into a table whose route to Chroma is paused)
#          delivered after mesh.resume, until mesh.wait_for_sync: the shared
#          vector sink POSTs .../upsert with BENCH_VEC_BATCH (256) records
#          (ids, embeddings, metadatas) per request; versus one curl process
#          (connection reused) POSTing the same records in the same batch
#          size to the same endpoint of another collection.  Distance Euclid
#          (l2): with Cosine the sink also keeps a copy of the vector in the
#          metadata (see fdw/chroma/README.md), which the baseline would not.
#          ratio = curl seconds / mesh seconds            target >= 0.50
#
# Every measurement runs BENCH_REPS (3) times; the median is reported, with
# the share of the CPUs other processes used (bench/lib.sh).  Servers:
# bench/lib.sh's (default /tmp/mesh-bench, hub 23432) and Chroma on
# MESH_CHROMA_PORT (default 23800), started if not running.
# Last line: RESULT chroma_upsert ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

eval "$(declare -f bench_root_pids | sed '1s/bench_root_pids/lib_bench_root_pids/')"
bench_root_pids() {
	lib_bench_root_pids
	head -n 1 "$MESH_TEST_DIR/chroma/chroma.pid" 2>/dev/null | tr -dc '0-9'
	echo
}

BENCH_REPS=${BENCH_REPS:-3}
BENCH_VEC_POINTS=${BENCH_VEC_POINTS:-100000}
BENCH_VEC_BATCH=${BENCH_VEC_BATCH:-256}
BASE="http://127.0.0.1:$MESH_CHROMA_PORT/api/v2/tenants/default_tenant/databases/default_database/collections"
STARTED_CHROMA=0

# coll_drop NAME / coll_make NAME: the collection (l2), printing its id
coll_drop() { curl -sS -o /dev/null -X DELETE "$BASE/$1"; }
coll_make() {
	curl -sS --fail -H 'Content-Type: application/json' "$BASE" \
		--data-binary "{\"name\":\"$1\",\"get_or_create\":true,\"configuration\":{\"hnsw\":{\"space\":\"l2\"}}}" | jq -r .id
}
coll_count() { curl -sS --fail "$BASE/$1/count"; }


cleanup() {
	bsql -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS vec_fan CASCADE" \
		-c "DROP SERVER IF EXISTS bench_chroma CASCADE" >/dev/null 2>&1 || true
	coll_drop bench_mesh >/dev/null 2>&1 || true
	coll_drop bench_curl >/dev/null 2>&1 || true
	if [ "$STARTED_CHROMA" = 1 ]; then harness stop-one chroma >/dev/null 2>&1 || true; fi
	bench_stop_servers
}

command -v jq >/dev/null || bdie "jq is needed (apt-get install jq)"
bench_servers_up
trap cleanup EXIT
if ! server_running chroma; then
	blog "starting Chroma on :$MESH_CHROMA_PORT"
	[ "$BENCH_STARTED_SERVERS" = 1 ] || STARTED_CHROMA=1
	harness start-one chroma >"$MESH_TEST_DIR/bench-chroma-start.log" 2>&1 || {
		cat "$MESH_TEST_DIR/bench-chroma-start.log" >&2
		bdie "Chroma did not start"
	}
fi
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS vec_fan CASCADE;
DROP SERVER IF EXISTS bench_chroma CASCADE;
CREATE SERVER bench_chroma FOREIGN DATA WRAPPER mesh_chroma
	OPTIONS (url 'http://127.0.0.1:$MESH_CHROMA_PORT', timeout_ms '600000');
SQL

echo "== chroma benchmark: $BENCH_REPS repetitions, median reported"
echo "build: $(bench_build_info), chromadb $(grep -m1 -o "CHROMA_VERSION=[0-9.]*" "$REPO/fdw/chroma/harness.sh" | cut -d= -f2)"
bench_warn_if_busy

N=$BENCH_VEC_POINTS
B=$BENCH_VEC_BATCH
csv="$MESH_TEST_DIR/pg_hub/vec_fan_rows.csv"
reqs="$BENCH_WORK/chroma_requests"
rm -rf "$reqs"
mkdir -p "$reqs"
ROWS="SELECT g AS id, 't' || g AS title,
	(SELECT array_agg(round(sin(g * 0.013 + i * 0.7)::numeric, 4)::real ORDER BY i) FROM generate_series(1, 128) i) AS embedding
	FROM generate_series(1, $N) g"
bsql -c "COPY ($ROWS) TO '$csv' WITH (FORMAT csv)" >/dev/null
# the baseline's requests: the sink's records (id text, embedding, metadata
# {id, title}), B per request
bsql -At -c "SELECT json_build_object('ids', json_agg(id::text ORDER BY id), 'embeddings', json_agg(to_json(embedding) ORDER BY id),
		'metadatas', json_agg(json_build_object('id', id, 'title', title) ORDER BY id))
	FROM ($ROWS) r GROUP BY (id - 1) / $B ORDER BY (id - 1) / $B" |
	awk -v d="$reqs" '{ f = sprintf("%s/req_%05d.json", d, NR); print > f; close(f) }'
nreq=$(ls "$reqs"/req_*.json | wc -l)

for ((r = 1; r <= BENCH_REPS; r++)); do
	coll_drop bench_mesh
	coll_drop bench_curl
	bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS vec_fan CASCADE;
CREATE TABLE vec_fan (id int PRIMARY KEY, title text, embedding real[]);
SELECT mesh.replicate('vec_fan', 'bench_chroma',
	'{"collection": "bench_mesh", "vector": "embedding", "size": 128, "distance": "Euclid", "batch_size": $B}');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('vec_fan', 'bench_chroma');
COPY vec_fan FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
CHECKPOINT;
SQL
	fan_mesh() {
		local t0 t1
		t0=$(now_ns)
		bsql -c "SELECT mesh.resume('vec_fan', 'bench_chroma')" >/dev/null
		[ "$(bsql -At -c "SELECT mesh.wait_for_sync(1200000)")" = t ] || bdie "the upserts did not finish in 1200 s"
		t1=$(now_ns)
		secs "$t0" "$t1"
	}
	measure up_mesh fan_mesh
	got=$(coll_count "$(curl -sS "$BASE/bench_mesh" | jq -r .id)")
	[ "$got" = "$N" ] || bdie "Chroma holds $got points in bench_mesh, expected $N"
	id=$(coll_make bench_curl)
	: >"$reqs/curl.conf"
	for f in "$reqs"/req_*.json; do
		[ -s "$reqs/curl.conf" ] && echo next >>"$reqs/curl.conf"
		printf 'url = "%s/%s/upsert"\ndata-binary = "@%s"\noutput = "/dev/null"\nheader = "Content-Type: application/json"\nfail\n' \
			"$BASE" "$id" "$f" >>"$reqs/curl.conf"
	done
	fan_curl() {
		local t0 t1
		t0=$(now_ns)
		curl -sS -K "$reqs/curl.conf" || bdie "curl failed"
		t1=$(now_ns)
		secs "$t0" "$t1"
	}
	measure up_curl fan_curl
	got=$(coll_count "$id")
	[ "$got" = "$N" ] || bdie "Chroma holds $got points in bench_curl, expected $N"
done
consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('vec_fan')")
bsql -c "SELECT mesh.unreplicate('vec_fan', 'bench_chroma')" -c "DROP TABLE vec_fan" >/dev/null
m=$(median_of up_mesh)
b=$(median_of up_curl)
ratio=$(ratio "$b" "$m")
echo "upsert   $N points (dim 128) to Chroma in batches of $B: mesh $(printf '%.3f' "$m") s ($(awk -v n="$N" -v s="$m" 'BEGIN { printf "%.0f", n / s }') points/s), curl $nreq POSTs $(printf '%.3f' "$b") s ($(awk -v n="$N" -v s="$b" 'BEGIN { printf "%.0f", n / s }') points/s): ratio $ratio (target >= 0.50: $(meets "$ratio" 0.50)); replica consistent: $consistent; other work up to $(other_max up_mesh up_curl)%"
echo "reproduce: $(bench_env_prefix) MESH_CHROMA_PORT=$MESH_CHROMA_PORT bash bench/chroma.sh"
echo "RESULT chroma_upsert points=$N dim=128 batch=$B mesh_s=$m curl_s=$b ratio=$ratio target>=0.50 consistent=$consistent"
