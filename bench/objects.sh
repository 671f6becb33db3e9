#!/usr/bin/env bash
# bench/objects.sh: the object-store layer (mesh_s3 against versitygw, the
# harness's `s3` server), each part against a baseline measured in the same
# run on the same machine.  Parts (BENCH_OBJ_PARTS="list read lake mem"):
#
#  list  SELECT count(*) over a listing table of BENCH_OBJ_LIST (100k)
#        objects, versus curl fetching the same ListObjectsV2 pages (signed
#        with --aws-sigv4, one curl per page, following the continuation
#        tokens).  ratio = curl seconds / mesh seconds     target >= 0.80
#  read  BENCH_OBJ_ROWS (1M) rows read through a contents table, from one
#        CSV object and from the same rows as one JSON-lines .gz object,
#        versus DuckDB (the project's libduckdb, bench/duckdb_copy.c, its
#        default threads) reading the same local file with read_csv /
#        read_json; both run
#          SELECT count(*), count(sensor), sum(v), max(ts) FROM ...
#        ratio = DuckDB seconds / mesh seconds              target >= 0.50
#  lake  a backlog of BENCH_OBJ_ROWS events (route to the lake sink paused,
#        the rows COPYed in, the route resumed) until delivered (the route's
#        cursor, bench/lib.sh's bench_deliver), versus one curl PUTting the
#        objects that run wrote (data and manifest entries, same keys, sizes
#        and bodies, read from the store's files) on one connection (a -K
#        config of --next blocks; the bodies' SHA-256 computed beforehand).
#        ratio = curl seconds / mesh seconds                target >= 0.50
#  mem   one CSV object of BENCH_OBJ_MEM_ROWS (8M rows, ~400 MB) read
#        through a contents table: the growth of the serving backend's
#        peak RSS (VmHWM of /proc/self/status, read by the backend itself
#        before and after), against the bound of fdw/s3/README.md
#        (read_chunk + longest record + 256 kB, times two).
#
# Order A B B A per part (baseline, mesh, mesh, baseline; lake: mesh,
# curl, curl, mesh, as the baseline's bodies come from a mesh run); every
# time and the other work's CPU share during it is printed, the median of
# the undisturbed ones is reported (bench/lib.sh).  Objects are created by
# writing versitygw's posix files directly (bench/objects_store.py).
#
#   PG_CONFIG=... MESH_PORT_BASE=25000 MESH_TEST_DIR=/tmp/mesh-objbench bash bench/objects.sh
# Last lines: RESULT objects_<part> ... for each part run.
set -euo pipefail
export BENCH_SERVERS=${BENCH_SERVERS:-s3} BENCH_NEEDS=s3
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_OBJ_PARTS=${BENCH_OBJ_PARTS:-list read lake mem}
BENCH_OBJ_LIST=${BENCH_OBJ_LIST:-100000}
BENCH_OBJ_ROWS=${BENCH_OBJ_ROWS:-1000000}
BENCH_OBJ_MEM_ROWS=${BENCH_OBJ_MEM_ROWS:-8000000}
BUCKET=meshbench
S3_URL="http://127.0.0.1:$MESH_S3_PORT"
DATA="$MESH_TEST_DIR/s3/data"
# the harness's root keys (fdw/s3/harness.sh)
S3_KEYS="$(sed -n 's/^S3_ACCESS_KEY=//p' "$REPO/fdw/s3/harness.sh"):$(sed -n 's/^S3_SECRET_KEY=//p' "$REPO/fdw/s3/harness.sh")"
EMPTY_SHA=$(printf '' | sha256sum | cut -d' ' -f1)
STORE="python3 $BENCH_DIR/objects_store.py"
DD_BIN="$BENCH_WORK/duckdb_copy"
HUBDIR="$MESH_TEST_DIR/pg_hub"   # files the hub's COPY writes
results=()
DISTURBED=no

# s3c ARGS...: curl signed with the root keys, no body
s3c() { curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEYS" -H "x-amz-content-sha256: $EMPTY_SHA" "$@"; }

# mesh_secs QUERY: psql's seconds for QUERY on a session whose connection to
# the store is open (a HEAD first); its result goes to $BENCH_WORK/result
mesh_secs() {
	bsql -At >"$BENCH_WORK/out" <<EOF || bdie "psql failed: $1"
SELECT count(*) FROM bench_objs WHERE key = 'none';
\timing on
$1;
EOF
	sed -n '2,$p' "$BENCH_WORK/out" | grep -v '^Time: ' >"$BENCH_WORK/result"
	awk '/^Time: / { printf "%.6f\n", $2 / 1000 }' "$BENCH_WORK/out"
}
# expect_result TEXT WHAT: the last mesh_secs result is TEXT
expect_result() {
	local got
	got=$(cat "$BENCH_WORK/result")
	[ "$got" = "$1" ] || bdie "$2: got '$got', expected '$1'"
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
# report PART WHAT BASE_NAME MESH_NAME UNITS: print the line and the RESULT
report() {
	local part=$1 what=$2 b m r d=no
	b=$(median_of "$3")
	m=$(median_of "$4")
	r=$(ratio "$b" "$m")
	# disturbed: every measurement of one side had more other work than BENCH_OTHER_MAX
	if [ "$(clean_median "${times[$3]}" "${oth[$3]}" | cut -d' ' -f2)" = 0 ] ||
		[ "$(clean_median "${times[$4]}" "${oth[$4]}" | cut -d' ' -f2)" = 0 ]; then
		d=yes
		DISTURBED=yes
	fi
	echo "$part $what: mesh $(printf '%.3f' "$m") s ($(rate "$5" "$m") $6/s), $3 $(printf '%.3f' "$b") s ($(rate "$5" "$b") $6/s): ratio $r [other work <= $(other_max "$3" "$4")%]$([ $d = no ] || echo ' DISTURBED')"
	results+=("RESULT objects_$part$7 mesh_s=$m base_s=$b ratio=$r n=$5 disturbed=$d")
}

# ---- list
# list_curl: seconds to fetch every ListObjectsV2 page of list/ with curl
list_curl() {
	local tok="" t0 t1 page q re='<NextContinuationToken>([^<]*)</NextContinuationToken>'
	: >"$BENCH_WORK/pages"
	t0=$(now_ns)
	while :; do
		# curl 7.88 signs the query as written: parameters in sorted order,
		# values escaped (the tokens are keys: only '/' needs it)
		q="list-type=2&prefix=list%2F"
		[ -z "$tok" ] || q="continuation-token=${tok//\//%2F}&$q"
		page=$(s3c "$S3_URL/$BUCKET?$q")
		printf '%s\n' "$page" >>"$BENCH_WORK/pages"
		# the next token by bash's own regex: no process per page but curl
		[[ $page =~ $re ]] || break
		tok=${BASH_REMATCH[1]}
	done
	t1=$(now_ns)
	secs "$t0" "$t1"
}
list_check_curl() {
	local n
	n=$(grep -o '<Key>' "$BENCH_WORK/pages" | wc -l)
	[ "$n" = "$BENCH_OBJ_LIST" ] || bdie "curl listed $n keys, expected $BENCH_OBJ_LIST"
}

part_list() {
	local n=$BENCH_OBJ_LIST have
	have=0
	[ ! -d "$DATA/$BUCKET/list" ] || have=$(find "$DATA/$BUCKET/list" -type f | wc -l)
	if [ "$have" != "$n" ]; then
		blog "writing $n objects under list/ into $DATA/$BUCKET"
		rm -rf "$DATA/$BUCKET/list"
		$STORE many "$DATA" "$BUCKET" list/ "$n"
	fi
	# the store lists them like PUT objects, ETag included
	have=$(s3c "$S3_URL/$BUCKET?list-type=2&max-keys=1&prefix=list%2F")
	[[ "$have" == *"<ETag>&#34;"*"<Key>list/0000/0000000.txt</Key><Size>9</Size>"* ]] ||
		bdie "unexpected listing of a written object: $have"
	echo "list  $n objects, pages of 1000 (the store's default)"
	measure list_curl list_curl
	list_check_curl
	measure list_mesh mesh_secs "SELECT count(*) FROM bench_objs"
	expect_result "$n" "listing count"
	measure list_mesh mesh_secs "SELECT count(*) FROM bench_objs"
	measure list_curl list_curl
	report list "$n objects" list_curl list_mesh "$n" keys ""
}

# ---- read
# dd_secs SQL...: DuckDB's seconds for the last SQL (in memory, the
# project's libduckdb)
dd_secs() { "$DD_BIN" "$("$PG_CONFIG" --pkglibdir)/libduckdb.so" :memory: "$@"; }
# get_secs KEY: curl's seconds to GET the object (the transfer alone)
get_secs() { s3c -o /dev/null -w '%{time_total}\n' "$S3_URL/$BUCKET/$1"; }

part_read() {
	local n=$BENCH_OBJ_ROWS q cols expect f
	# count, count, sum(v) = n(n+1)/4, max(ts) as the hub prints them
	expect=$(bsql -At -c "SELECT $n, $n, $n::float8 * ($n + 1) / 4, '2026-01-01 00:00:00+00'::timestamptz + $n * interval '1 ms'")
	cc -O2 -o "$DD_BIN" "$BENCH_DIR/duckdb_copy.c" -ldl
	blog "writing $n rows as CSV and as JSON lines (gzip)"
	bsql >/dev/null <<SQL
COPY (SELECT g, 's' || (g % 100), g * 0.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 ms'
	FROM generate_series(1, $n) g) TO '$HUBDIR/objbench_rows.csv' WITH (FORMAT csv);
COPY (SELECT json_build_object('id', g, 'sensor', 's' || (g % 100), 'v', g * 0.5,
		'ts', '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 ms')
	FROM generate_series(1, $n) g) TO PROGRAM 'gzip > $HUBDIR/objbench_rows.jsonl.gz';
SQL
	cols="{'id': 'BIGINT', 'sensor': 'VARCHAR', 'v': 'DOUBLE', 'ts': 'TIMESTAMPTZ'}"
	q="SELECT count(*), count(sensor), sum(v), max(ts) FROM"
	for f in csv jsonl.gz; do
		cp "$HUBDIR/objbench_rows.$f" "$BENCH_WORK/rows.$f"
		chmod 644 "$BENCH_WORK/rows.$f"   # file_fdw reads it as postgres
		$STORE file "$DATA" "$BUCKET" "read/rows.$f" "$HUBDIR/objbench_rows.$f"
		echo "read  $f: $n rows, $(stat -c %s "$BENCH_WORK/rows.$f") bytes"
	done
	local dq_csv="$q read_csv('$BENCH_WORK/rows.csv', header = false, columns = $cols)"
	local dq_json="$q read_json('$BENCH_WORK/rows.jsonl.gz', format = 'newline_delimited', columns = $cols)"
	# file_fdw: CSV as COPY reads it; the JSON lines as one jsonb per line
	local pq_csv="$q local_csv"
	local pq_json="SELECT count(*), count(j->>'sensor'), sum((j->>'v')::float8), max((j->>'ts')::timestamptz) FROM local_json"
	local -A ext=([csv]=csv [json]=jsonl.gz)
	bsql >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS file_fdw;
DROP SERVER IF EXISTS bench_files CASCADE;
CREATE SERVER bench_files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE local_csv (id bigint, sensor text, v float8, ts timestamptz)
	SERVER bench_files OPTIONS (filename '$BENCH_WORK/rows.csv', format 'csv');
CREATE FOREIGN TABLE local_json (j jsonb)
	SERVER bench_files OPTIONS (program 'zcat $BENCH_WORK/rows.jsonl.gz', format 'text');
SQL
	for f in csv json; do
		local dq=dq_$f pq=pq_$f
		measure "duckdb_$f" dd_secs "${!dq}"
		measure "mesh_$f" mesh_secs "$q read_$f"
		expect_result "$expect" "rows read from read/rows.$f"
		measure "mesh_$f" mesh_secs "$q read_$f"
		measure "duckdb_$f" dd_secs "${!dq}"
		report read "$f ($n rows)" "duckdb_$f" "mesh_$f" "$n" rows "_$f"
		# references without a target: DuckDB on one thread (the scan of a
		# contents table is one process), PostgreSQL's file_fdw on the local
		# file (its own parsing and conversions, no store), the GET alone
		measure "duckdb1_$f" dd_secs "SET threads = 1" "${!dq}"
		measure "file_fdw_$f" mesh_secs "${!pq}"
		measure "get_$f" get_secs "read/rows.${ext[$f]}"
		measure "duckdb1_$f" dd_secs "SET threads = 1" "${!dq}"
		measure "file_fdw_$f" mesh_secs "${!pq}"
		echo "read $f references: DuckDB on 1 thread $(printf '%.3f' "$(median_of "duckdb1_$f")") s (mesh ratio $(ratio "$(median_of "duckdb1_$f")" "$(median_of "mesh_$f")")), file_fdw on the local file $(printf '%.3f' "$(median_of "file_fdw_$f")") s, curl GET of the object $(printf '%.3f' "$(median_of "get_$f")") s"
		results[-1]="${results[-1]} duckdb1_s=$(median_of "duckdb1_$f") file_fdw_s=$(median_of "file_fdw_$f") get_s=$(median_of "get_$f")"
	done
}

# ---- lake
# cpu_ticks PID...: their CPU time so far (utime + stime, clock ticks)
cpu_ticks() {
	local p t=0
	for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
	echo "$t"
}
# lake_objects: the keys under lake/src/ in the store's files, one a line
lake_objects() {
	[ ! -d "$DATA/$BUCKET/lake/src" ] || (cd "$DATA/$BUCKET" && find lake/src -type f | LC_ALL=C sort)
}
lake_clear() { rm -rf "$DATA/$BUCKET/lake"; }
# lake_mesh: seconds to deliver the backlog (bench_backlog made it)
lake_mesh() {
	local ms
	lake_clear
	bench_backlog lake_src bench_s3 '{"path": "lake/src/"}' "$LAKE_CSV" lake_clear
	lake_objects >"$BENCH_WORK/lake_before"
	local mesh_pids c0 s0
	mesh_pids=$(bsql -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type LIKE 'mesh%' AND datname = current_database()")
	c0=$(cpu_ticks $mesh_pids)
	s0=$(cpu_ticks "$S3_PID")
	ms=$(bench_deliver lake_src bench_s3 600)
	echo "mesh $(($(cpu_ticks $mesh_pids) - c0)) $(($(cpu_ticks "$S3_PID") - s0))" >>"$BENCH_WORK/lake_cpu"
	lake_objects | LC_ALL=C comm -13 "$BENCH_WORK/lake_before" - >"$BENCH_WORK/lake_keys"
	awk -v ms="${ms% *}" 'BEGIN { printf "%.3f\n", ms / 1000 }'
}
# lake_config: a curl -K config PUTting a copy of every object of the last
# mesh run under base/ (bodies copied to BENCH_WORK, SHA-256 precomputed)
lake_config() {
	local key
	rm -rf "$BENCH_WORK/lake_bodies"
	: >"$BENCH_WORK/lake.curl"
	while read -r key; do
		mkdir -p "$(dirname "$BENCH_WORK/lake_bodies/$key")"
		cp "$DATA/$BUCKET/$key" "$BENCH_WORK/lake_bodies/$key"
		[ ! -s "$BENCH_WORK/lake.curl" ] || echo next >>"$BENCH_WORK/lake.curl"
		printf 'url = "%s/%s/base/%s"\nupload-file = "%s"\naws-sigv4 = "aws:amz:us-east-1:s3"\nuser = "%s"\nheader = "x-amz-content-sha256: %s"\nsilent\nshow-error\nfail\noutput = /dev/null\n' \
			"$S3_URL" "$BUCKET" "$key" "$BENCH_WORK/lake_bodies/$key" "$S3_KEYS" \
			"$(sha256sum <"$BENCH_WORK/lake_bodies/$key" | cut -d' ' -f1)" >>"$BENCH_WORK/lake.curl"
	done <"$BENCH_WORK/lake_keys"
}
lake_curl() {
	local t0 t1 s0 me=$BASHPID
	s0=$(cpu_ticks "$S3_PID")
	t0=$(now_ns)
	curl -K "$BENCH_WORK/lake.curl" || bdie "curl's PUTs failed"
	t1=$(now_ns)
	# this subshell's (measure's) children's CPU (cutime + cstime): curl's
	echo "curl $(awk '{ print $16 + $17 }' "/proc/$me/stat") $(($(cpu_ticks "$S3_PID") - s0))" >>"$BENCH_WORK/lake_cpu"
	secs "$t0" "$t1"
}

part_lake() {
	local n=$BENCH_OBJ_ROWS objs bytes got
	LAKE_CSV=$(bench_rows_csv "$n")
	S3_PID=$(head -n 1 "$MESH_TEST_DIR/s3/s3.pid" | tr -dc '0-9')
	: >"$BENCH_WORK/lake_cpu"
	measure lake_mesh lake_mesh
	lake_config
	objs=$(wc -l <"$BENCH_WORK/lake_keys")
	bytes=$(du -cb "$BENCH_WORK/lake_bodies" | tail -n 1 | cut -f1)
	got=$(cat "$BENCH_WORK"/lake_bodies/lake/src/[0-9]* | wc -l)
	[ "$got" = "$n" ] || bdie "the lake holds $got lines, expected $n"
	echo "lake  $n events: $objs objects ($(grep -c /_manifest/ "$BENCH_WORK/lake_keys") manifest entries), $bytes bytes"
	measure lake_curl lake_curl
	measure lake_curl lake_curl
	measure lake_mesh lake_mesh
	report lake "$n events" lake_curl lake_mesh "$n" events ""
	results[-1]="${results[-1]} objects=$objs bytes=$bytes"
	# CPU seconds per run (a shared machine stretches the elapsed times; these less)
	awk -v hz="$(getconf CLK_TCK)" '{ c[$1] += $2; s[$1] += $3; k[$1]++ }
		END { printf "lake  CPU per run: mesh workers %.2f s + versitygw %.2f s; curl %.2f s + versitygw %.2f s\n",
			c["mesh"] / k["mesh"] / hz, s["mesh"] / k["mesh"] / hz, c["curl"] / k["curl"] / hz, s["curl"] / k["curl"] / hz }' "$BENCH_WORK/lake_cpu"
	bsql -c "SELECT mesh.unreplicate('lake_src', 'bench_s3')" >/dev/null
}

# ---- mem
part_mem() {
	local n=$BENCH_OBJ_MEM_ROWS size out t
	blog "writing $n rows as one CSV object"
	bsql -c "COPY (SELECT g, 's' || (g % 100), g * 0.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 ms'
		FROM generate_series(1, $n) g) TO '$HUBDIR/objbench_big.csv' WITH (FORMAT csv)" >/dev/null
	size=$(stat -c %s "$HUBDIR/objbench_big.csv")
	$STORE file "$DATA" "$BUCKET" read/big.csv "$HUBDIR/objbench_big.csv"
	# one session: its peak RSS after a HEAD (the connection open), then after the scan
	out=$(bsql -At -F ' ' <<'EOF'
SELECT count(*) FROM bench_objs WHERE key = 'none';
SELECT 'before', substring(pg_read_file('/proc/self/status') from 'VmHWM:\s*(\d+)');
\timing on
SELECT 'rows', count(*), sum(v) FROM read_big;
\timing off
SELECT 'after', substring(pg_read_file('/proc/self/status') from 'VmHWM:\s*(\d+)');
EOF
	)
	t=$(awk '/^Time: / { printf "%.3f", $2 / 1000 }' <<<"$out")
	set -- $(awk '$1 == "before" { b = $2 } $1 == "after" { a = $2 } $1 == "rows" { r = $2 } END { print b, a, r }' <<<"$out")
	[ "$3" = "$n" ] || bdie "read $3 rows of read/big.csv, expected $n"
	echo "mem   $n rows, $size bytes in one CSV object: read in $t s; backend peak RSS $(($1 / 1024)) MB -> $(($2 / 1024)) MB, growth $((($2 - $1) / 1024)) MB"
	echo "      bound (fdw/s3/README.md): 2 x (read_chunk 4 MiB + longest record + 256 kB) = about 8.5 MiB, whatever the object's size"
	results+=("RESULT objects_mem rows=$n bytes=$size secs=$t hwm_before_kb=$1 hwm_after_kb=$2 growth_kb=$(($2 - $1))")
}

cleanup() {
	rm -rf "$DATA/$BUCKET/read" "$DATA/$BUCKET/lake" "$DATA/$BUCKET/base" "$BENCH_WORK/lake_bodies" "$BENCH_WORK"/rows.*
	rm -f "$HUBDIR"/objbench_*
	bench_stop_servers
}

bench_servers_up
trap cleanup EXIT
bash "$HARNESS" s3-mkbucket "$BUCKET"
bsql >/dev/null <<SQL
SET client_min_messages = warning;
SELECT mesh.unreplicate(oid::regclass, 'bench_s3') FROM pg_class WHERE relname = 'lake_src' AND relkind = 'r';
DROP TABLE IF EXISTS lake_src;
DROP SERVER IF EXISTS bench_s3 CASCADE;
CREATE SERVER bench_s3 FOREIGN DATA WRAPPER mesh_s3
	OPTIONS (endpoint '$S3_URL', bucket '$BUCKET', timeout_ms '60000');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench_s3
	OPTIONS (access_key_id '${S3_KEYS%%:*}', secret_access_key '${S3_KEYS#*:}');
CREATE FOREIGN TABLE bench_objs (key text COLLATE "C", size bigint) SERVER bench_s3 OPTIONS (prefix 'list/');
CREATE FOREIGN TABLE read_csv (id bigint, sensor text, v float8, ts timestamptz)
	SERVER bench_s3 OPTIONS (path 'read/rows.csv');
CREATE FOREIGN TABLE read_json (id bigint, sensor text, v float8, ts timestamptz)
	SERVER bench_s3 OPTIONS (path 'read/rows.jsonl.gz');
CREATE TABLE lake_src (id bigint PRIMARY KEY, sensor text, v float8, ts timestamptz);
CREATE FOREIGN TABLE read_big (id bigint, sensor text, v float8, ts timestamptz)
	SERVER bench_s3 OPTIONS (path 'read/big.csv');
SQL
echo "== object-store benchmarks (versitygw $S3_URL, bucket $BUCKET): parts $BENCH_OBJ_PARTS"
echo "build: $(bench_build_info)"
bench_warn_if_busy
for part in $BENCH_OBJ_PARTS; do
	"part_$part"
done
other_cpu_report "$(echo "${oth[@]}" | tr ' ' '\n' | grep . | stat_max)" "$DISTURBED"
echo "reproduce: PG_CONFIG=$PG_CONFIG $(bench_env_prefix) BENCH_OBJ_PARTS=\"$BENCH_OBJ_PARTS\" bash bench/objects.sh"
printf '%s\n' "${results[@]}"
