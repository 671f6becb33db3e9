#!/usr/bin/env bash
# bench/lib.sh: shared helpers of the mesh benchmarks (sourced, not run).
#
# Settings (environment, with these defaults):
#   MESH_TEST_DIR=/tmp/mesh-bench  MESH_PORT_BASE=23000 (every server's port
#   is that base plus its offset in test/lib/ports.sh: hub 23432, Redis
#   23379, ClickHouse 23123, ...; each MESH_*_PORT can be set on its own)
#       The benchmark servers: a separate state dir and port block from the
#       test suite's (/tmp/mesh-test, 21000) and the demo's (22000), so
#       benchmarks and tests can run at the same time.
#   BENCH_DB=mesh_bench      database on the hub that holds the bench objects
#   BENCH_ROWS=100000        keys in Redis / rows in the local table
#
# Servers: bench_servers_up starts test/harness.sh's servers in that state dir
# when the hub or the Redis is not running there (the harness starts
# BENCH_SERVERS, and first stops leftovers of that state dir) and stops them again when
# the script exits; servers that were already running are used and left alone.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
HARNESS="$REPO/test/harness.sh"

export MESH_TEST_DIR=${MESH_TEST_DIR:-/tmp/mesh-bench}
# every port from the bench block (test/lib/ports.sh), unless set
export MESH_PORT_BASE=${MESH_PORT_BASE:-23000}
# shellcheck source=../test/lib/ports.sh
. "$REPO/test/lib/ports.sh"

# the servers bench_servers_up starts (with the hub); a script may narrow it
BENCH_SERVERS=${BENCH_SERVERS:-pg_remote redis redis_auth hang influxdb clickhouse victoria prometheus garbage tls mongodb opensearch qdrant chroma neo4j kafka}

BENCH_DB=${BENCH_DB:-mesh_bench}
BENCH_ROWS=${BENCH_ROWS:-100000}

if [ -z "${PG_CONFIG:-}" ]; then
	if [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
		PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	else
		PG_CONFIG=pg_config
	fi
fi
PG_BIN=$("$PG_CONFIG" --bindir)
PSQL="$PG_BIN/psql"
PGBENCH="$PG_BIN/pgbench"

export PGHOST=127.0.0.1 PGPORT=$MESH_PG_PORT PGUSER=postgres
unset PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS

# Scratch files of this run (pgbench scripts, the compiled client, outputs).
BENCH_WORK="$MESH_TEST_DIR/bench"

BENCH_STARTED_SERVERS=0

blog() { echo "bench: $*" >&2; }
bdie() {
	blog "ERROR: $*"
	exit 1
}

# harness ARGS...: test/harness.sh with the bench settings exported above.
harness() { bash "$HARNESS" "$@"; }

# The exact settings, as a prefix for commands a reader can paste.
bench_env_prefix() {
	printf 'MESH_TEST_DIR=%s MESH_PORT_BASE=%s' "$MESH_TEST_DIR" "$MESH_PORT_BASE"
}

# bench_stop_servers: stop the servers if this script started them (called
# at the end and by the EXIT trap; the script's exit status is kept).
bench_stop_servers() {
	if [ "$BENCH_STARTED_SERVERS" = 1 ]; then
		BENCH_STARTED_SERVERS=0
		blog "stopping the servers this run started ($MESH_TEST_DIR)"
		harness stop >/dev/null 2>&1 || blog "warning: 'test/harness.sh stop' failed"
	fi
	return 0
}

# server_running NAME: true if `harness status` reports NAME running.
server_running() {
	harness status 2>/dev/null | awk -v n="$1" '$1 == n && $2 == "running" { ok = 1 } END { exit !ok }'
}

# the server that must run beside the hub for the running servers to be used
# (else they are started); a script may name another (bench/objects.sh: s3)
BENCH_NEEDS=${BENCH_NEEDS:-redis}

# bench_servers_up: make sure the hub and BENCH_NEEDS run (see the header).
bench_servers_up() {
	trap bench_stop_servers EXIT
	trap 'exit 130' INT TERM
	if server_running pg_hub && server_running "$BENCH_NEEDS"; then
		blog "using the servers already running in $MESH_TEST_DIR (hub :$MESH_PG_PORT, $BENCH_NEEDS)"
	else
		blog "starting servers in $MESH_TEST_DIR (hub :$MESH_PG_PORT, $BENCH_SERVERS)"
		BENCH_STARTED_SERVERS=1
		mkdir -p "$MESH_TEST_DIR"
		# shellcheck disable=SC2086
		harness start $BENCH_SERVERS >"$MESH_TEST_DIR/bench-harness-start.log" 2>&1 || {
			cat "$MESH_TEST_DIR/bench-harness-start.log" >&2
			bdie "test/harness.sh start failed"
		}
	fi
	mkdir -p "$BENCH_WORK"
	bench_check_loaded_library
	# the bench database, with the extension
	if [ "$("$PSQL" -X -q -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'")" != 1 ]; then
		"$PSQL" -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $BENCH_DB" >/dev/null
	fi
	bsql -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS mesh" >/dev/null
}

# bench_check_loaded_library: warn when the running hub mapped a mesh.so that
# has since been replaced by `make install` (it then measures the old build).
bench_check_loaded_library() {
	local pid
	pid=$(head -n 1 "$MESH_TEST_DIR/pg_hub/data/postmaster.pid" 2>/dev/null | tr -dc '0-9')
	if [ -n "$pid" ] && grep -q 'mesh\.so (deleted)' "/proc/$pid/maps" 2>/dev/null; then
		blog "WARNING: the running hub (pid $pid) uses a mesh.so that was replaced since it"
		blog "         started: these numbers are for the OLD build. Stop the servers"
		blog "         ($(bench_env_prefix) bash test/harness.sh stop) and rerun."
	fi
}

# bench_build_info: one line describing what is measured.
bench_build_info() {
	local so rev dirty=""
	so="$("$PG_CONFIG" --pkglibdir)/mesh.so"
	rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		dirty="+local-changes"
	fi
	local pid loaded="hub not running"
	pid=$(head -n 1 "$MESH_TEST_DIR/pg_hub/data/postmaster.pid" 2>/dev/null | tr -dc '0-9')
	if [ -n "$pid" ] && grep -q 'mesh\.so (deleted)' "/proc/$pid/maps" 2>/dev/null; then
		loaded="the hub runs an OLDER mesh.so (replaced since it started)"
	elif [ -n "$pid" ]; then
		loaded="loaded by the hub"
	fi
	printf 'mesh %s%s, mesh.so %s (sha256 %s, %s), %s, redis-server %s, %s CPUs, load %s\n' \
		"$rev" "$dirty" "$(date -u -r "$so" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null || echo '?')" \
		"$(sha256sum "$so" 2>/dev/null | cut -c1-12)" "$loaded" \
		"$("$PSQL" -X -At -d postgres -c 'SHOW server_version' 2>/dev/null | sed 's/ .*//; s/^/PostgreSQL /')" \
		"$(redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" INFO server 2>/dev/null | tr -d '\r' | awk -F: '$1 == "redis_version" { print $2 }')" \
		"$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# cpu_busy_pct SECONDS: percent of all CPUs busy over the next SECONDS
# (from /proc/stat; whoever uses them).
cpu_busy_pct() {
	local a b
	a=$(head -n 1 /proc/stat)
	sleep "$1"
	b=$(head -n 1 /proc/stat)
	echo "$a
$b" | awk '{ idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i
		if (NR == 1) { i0 = idle; t0 = tot } else printf "%.0f\n", 100 * (1 - (idle - i0) / (tot - t0)) }'
}

# bench_warn_if_busy: the machine should be idle while measuring; with
# BENCH_WAIT_IDLE=SECONDS, wait up to that long for it to become idle.
bench_warn_if_busy() {
	local busy waited=0 limit=${BENCH_WAIT_IDLE:-0}
	busy=$(cpu_busy_pct 1)
	while [ "$busy" -gt 15 ] && [ "$waited" -lt "$limit" ]; do
		sleep 4
		waited=$((waited + 5))
		busy=$(cpu_busy_pct 1)
	done
	if [ "$limit" -gt 0 ]; then
		echo "background CPU use before measuring: ${busy}% of $(nproc) CPUs (waited ${waited}s for < 15%)"
	else
		echo "background CPU use before measuring: ${busy}% of $(nproc) CPUs"
	fi
	if [ "$busy" -gt 15 ]; then
		blog "WARNING: ${busy}% of the CPUs are busy before measuring: other work"
		blog "         competes for the CPUs and makes the numbers noisy."
	fi
}

# ---- CPU used by other work during a measurement
# Every process outside this benchmark counts as other work: processes that
# are not descendants of the outermost bench script (BENCH_ROOT_PID) nor of
# the bench servers (the PIDs in MESH_TEST_DIR's pid files).  other_cpu_ticks
# sums utime + stime + cutime + cstime of those processes (an exited process
# is counted through its parent's cutime), so the difference of two calls is
# the CPU time other work used in between (a lower bound: a process whose
# parent also exited in between is missed).
export BENCH_ROOT_PID=${BENCH_ROOT_PID:-$$}

bench_root_pids() {
	local f pid
	echo "$BENCH_ROOT_PID"
	for f in "$MESH_TEST_DIR"/pg_hub/data/postmaster.pid "$MESH_TEST_DIR"/pg_remote/data/postmaster.pid \
		"$MESH_TEST_DIR"/redis/redis.pid "$MESH_TEST_DIR"/redis_auth/redis.pid "$MESH_TEST_DIR"/hang/hang.pid \
		"$MESH_TEST_DIR"/s3/s3.pid; do
		pid=$(head -n 1 "$f" 2>/dev/null | tr -dc '0-9')
		[ -n "$pid" ] && echo "$pid"
	done
}

other_cpu_ticks() {
	local f line
	{
		echo "roots $(bench_root_pids | tr '\n' ' ')"
		for f in /proc/[0-9]*/stat; do
			{ read -r line <"$f"; } 2>/dev/null || continue
			# pid (comm) state ppid ...: cut at the last ')' (comm may hold spaces)
			echo "${f//[!0-9]/} ${line##*) }"
		done
	} | awk '
		$1 == "roots" { for (i = 2; i <= NF; i++) root[$i] = 1; next }
		{ pid = $1; ppid[pid] = $3; t[pid] = $13 + $14 + $15 + $16 }
		END {
			for (p in t) {
				q = p; mine = 0
				for (d = 0; d < 64 && q != "" && q > 0; d++) {
					if (q in root) { mine = 1; break }
					q = ppid[q]
				}
				if (!mine) s += t[p]
			}
			printf "%d\n", s
		}'
}

now_ns() { date +%s%N; }
# secs NS0 NS1: seconds between two now_ns
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'; }

# other_cpu_pct TICKS0 TICKS1 SECONDS: other work's share of all CPUs
other_cpu_pct() {
	awk -v a="$1" -v b="$2" -v s="$3" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
		'BEGIN { p = 100 * (b - a) / hz / (s * n); if (p < 0) p = 0; printf "%.0f\n", p }'
}

# bsql ARGS...: psql on the bench database, stop on the first error.
bsql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DB" "$@"; }

# rcli ARGS...: redis-cli on the bench Redis.
rcli() { redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" "$@"; }

# redis_delete_pattern GLOB: delete every key matching GLOB (pipelined UNLINKs).
redis_delete_pattern() {
	rcli --scan --pattern "$1" |
		LC_ALL=C awk '{ printf "*2\r\n$6\r\nUNLINK\r\n$%d\r\n%s\r\n", length($0), $0 }' |
		rcli --pipe >/dev/null
}

# bench_load_data: (re)create bench_local (BENCH_ROWS rows) and the Redis
# hashes bench:<id> with fields id, sensor, v (the layout mesh.replicate
# writes: one field per column, values in PostgreSQL's text form), read by the
# mesh_redis foreign table bench_redis; from a clean state: old bench keys,
# the tables and the server are dropped first.
# Rows: id = 1..N, sensor = 's' || (id % 100), v = id * 0.5.
# The hashes are written with redis-cli --pipe (HSET) from bench_local's rows
# as psql prints them, so both sides hold the same values.
bench_load_data() {
	local n=$BENCH_ROWS t0 t1 got
	blog "loading $n rows into bench_local and $n hashes bench:<id> into Redis :$MESH_REDIS_PORT"
	redis_delete_pattern 'bench:*'
	t0=$(date +%s%N)
	bsql <<EOF >/dev/null
SET client_min_messages = warning;
DROP SERVER IF EXISTS bench_cache CASCADE;
DROP TABLE IF EXISTS bench_local;
CREATE TABLE bench_local (id int PRIMARY KEY, sensor text, v float8);
INSERT INTO bench_local SELECT g, 's' || (g % 100), g * 0.5 FROM generate_series(1, $n) g;
CREATE SERVER bench_cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE FOREIGN TABLE bench_redis (id int OPTIONS (key 'true'), sensor text, v float8)
	SERVER bench_cache OPTIONS (type 'hash', key_prefix 'bench:');
EOF
	bsql -c "VACUUM ANALYZE bench_local" >/dev/null
	got=$(bsql -At -F ' ' -c "SELECT id, sensor, v FROM bench_local ORDER BY id" |
		LC_ALL=C awk '{
			k = "bench:" $1
			printf "*8\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$2\r\nid\r\n$%d\r\n%s\r\n", length(k), k, length($1), $1
			printf "$6\r\nsensor\r\n$%d\r\n%s\r\n$1\r\nv\r\n$%d\r\n%s\r\n", length($2), $2, length($3), $3
		}' | rcli --pipe 2>&1)
	echo "$got" | grep -q "errors: 0, replies: $n\$" || bdie "loading Redis with redis-cli --pipe: $got"
	t1=$(date +%s%N)
	# check what Redis holds, with its own client
	got=$(rcli --scan --pattern 'bench:*' | wc -l)
	[ "$got" = "$n" ] || bdie "Redis holds $got keys bench:*, expected $n"
	got=$(rcli HGETALL "bench:$n" | tr '\n' ' ')
	[ "$got" = "id $n sensor s$((n % 100)) v $(bsql -At -c "SELECT v FROM bench_local WHERE id = $n") " ] ||
		bdie "unexpected content of bench:$n: $got"
	blog "loaded in $(((t1 - t0) / 1000000)) ms"
}

# ---- writers: pgbench and COPY
# pgbench_tps SCRIPT SECONDS: TPS of SCRIPT (pgbench, 2 clients, 2 threads,
# prepared statements, no vacuum) on the bench database.
pgbench_tps() {
	"$PGBENCH" -n -M prepared -c 2 -j 2 -T "$2" -f "$1" "$BENCH_DB" 2>&1 |
		awk '/^tps = / { print $3 }'
}

# bench_rows_csv N: writes N rows (id, sensor, v, ts) as CSV to a file the hub
# reads (its data dir's parent; user postgres) and prints its path.  Rows:
# id = 1..N, sensor = 's' || (id % 100), v = id * 0.5, ts 1 ms apart.
bench_rows_csv() {
	local csv="$MESH_TEST_DIR/pg_hub/bench_rows_$1.csv"
	bsql -c "COPY (SELECT g, 's' || (g % 100), g * 0.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 ms'
		FROM generate_series(1, $1) g) TO '$csv' WITH (FORMAT csv)" >/dev/null
	echo "$csv"
}

# copy_ms TABLE CSV [TRUNCATE]: milliseconds of COPY TABLE (id, sensor, v, ts)
# FROM CSV, after TRUNCATE of TABLE (or of the list TRUNCATE) and a CHECKPOINT.
copy_ms() {
	local t0 t1
	bsql -c "TRUNCATE ${3:-$1}" >/dev/null
	bsql -c "CHECKPOINT" >/dev/null
	t0=$(now_ns)
	bsql -c "COPY $1 (id, sensor, v, ts) FROM '$2' WITH (FORMAT csv)" >/dev/null
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000))
}

# median / best of numbers (one per line on stdin)
stat_median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
stat_min() { sort -g | head -n 1; }
stat_max() { sort -g | tail -n 1; }

# ratio A B [DIGITS]: A / B
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b == 0) print "nan"; else printf "%.*f\n", d, a / b }'; }

# A measurement during which other work used more than BENCH_OTHER_MAX
# percent of the CPUs is "disturbed"; results use the undisturbed ones.
BENCH_OTHER_MAX=${BENCH_OTHER_MAX:-5}

# clean_median "V1 V2 ..." "O1 O2 ...": median of the values whose other-work
# share O is <= BENCH_OTHER_MAX, or of all values when none is; prints
# "MEDIAN USED TOTAL" (USED = 0: every measurement was disturbed).
clean_median() {
	paste <(echo "$1" | tr ' ' '\n' | grep .) <(echo "$2" | tr ' ' '\n' | grep .) |
		awk -v lim="$BENCH_OTHER_MAX" '{ n++; all[n] = $1; if ($2 <= lim) { c++; cl[c] = $1 } }
		function med(a, k,   i, j, t) {
			for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		END { if (c > 0) printf "%s %d %d\n", med(cl, c), c, n; else printf "%s 0 %d\n", med(all, n), n }'
}

# other_cpu_report MAX_PCT DISTURBED: closing lines about other work
other_cpu_report() {
	echo "other work (processes outside this benchmark): at most $1% of the CPUs during a measurement;"
	echo "  results use the measurements with <= $BENCH_OTHER_MAX% (BENCH_OTHER_MAX), all of them where none was that quiet"
	if [ "$2" = yes ]; then
		blog "WARNING: every measurement of some variant was disturbed by other work (> $BENCH_OTHER_MAX% CPU):"
		blog "         its figure is unreliable (marked disturbed=yes). Rerun on an idle machine."
	fi
}

# meets VALUE TARGET: "met" if VALUE >= TARGET, else "MISSED"
meets() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 >= t + 0) ? "met" : "MISSED" }'; }

# ---- repeated measurements
# measure NAME CMD...: run CMD (it prints seconds); keep the time and the
# other-work share of the CPUs under NAME.  median_of NAME: the median of
# NAME's undisturbed times (clean_median).  other_max A B: the largest
# other-work share of A's and B's measurements.
declare -A times oth
measure() {
	local name=$1 c0 c1 n0 n1 t o
	shift
	c0=$(other_cpu_ticks)
	n0=$(now_ns)
	t=$("$@")
	n1=$(now_ns)
	c1=$(other_cpu_ticks)
	o=$(other_cpu_pct "$c0" "$c1" "$(secs "$n0" "$n1")")
	times[$name]="${times[$name]:-} $t"
	oth[$name]="${oth[$name]:-} $o"
	blog "$name: $(printf '%.3f' "$t") s [other work $o%]"
}
median_of() { set -- $(clean_median "${times[$1]}" "${oth[$1]}"); echo "$1"; }
other_max() { echo "${oth[$1]} ${oth[$2]}" | tr ' ' '\n' | grep . | stat_max; }

# median "V1 V2 ...": the median of the values (newline-separated also)
median() { echo "$1" | tr ' ' '\n' | grep . | stat_median; }

# ---- fan-out of a backlog
# bench_backlog SOURCE TARGET OPTIONS CSV CLEAR: a fresh route from table
# SOURCE to server TARGET (route options OPTIONS, jsonb text), paused, with
# the rows of CSV (a file the hub reads) as its backlog; CLEAR (a command)
# empties the target before the route is made.
bench_backlog() {
	local source=$1 target=$2 options=$3 csv=$4 clear=$5
	bsql >/dev/null <<SQL
SET client_min_messages = warning;
SELECT mesh.unreplicate('$source', '$target');
TRUNCATE $source;
SQL
	$clear
	bsql >/dev/null <<SQL
SELECT mesh.replicate('$source', '$target', '$options');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('$source', '$target');
COPY $source FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
CHECKPOINT;
SQL
}

# bench_deliver SOURCE TARGET TIMEOUT_S: resume the route and print "MS
# CONFIRM_MS": the milliseconds until no batch is under way and the newest
# event's transaction is done (the route's cursor, a primary-key lookup
# polled every 20 ms), then those of a confirming mesh.wait_for_sync.
bench_deliver() {
	local source=$1 target=$2 timeout=$3 rid t0 t1 t2 synced
	rid=$(bsql -At -c "SELECT id FROM mesh.routes WHERE source = '$source'::regclass AND target = '$target'")
	t0=$(now_ns)
	bsql -c "SELECT mesh.resume('$source', '$target')" >/dev/null
	bsql >/dev/null <<SQL
DO \$\$
DECLARE
	x xid8 := (SELECT xid FROM mesh.event_log WHERE source = '$source'::regclass ORDER BY id DESC LIMIT 1);
BEGIN
	FOR i IN 1..$((timeout * 50)) LOOP
		EXIT WHEN (SELECT c.batch_snap IS NULL AND pg_visible_in_snapshot(x, c.done_snap)
				   FROM mesh.route_cursor c WHERE c.route_id = $rid);
		PERFORM pg_sleep(0.02);
	END LOOP;
END \$\$;
SQL
	t1=$(now_ns)
	synced=$(bsql -At -c "SELECT mesh.wait_for_sync($((timeout * 1000)))")
	t2=$(now_ns)
	[ "$synced" = t ] || bdie "fan-out did not finish within $timeout s"
	echo "$(((t1 - t0) / 1000000)) $(((t2 - t1) / 1000000))"
}
