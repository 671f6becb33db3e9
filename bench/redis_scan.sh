#!/usr/bin/env bash
# bench/redis_scan.sh: a full scan of BENCH_ROWS (100k) Redis hashes through
# the mesh_redis foreign table versus Redis's own clients reading the same
# hashes (DESIGN.md, "Performance targets": scan >= 0.50 of the backend's own
# client reading the same rows).
#
# Data: bench_load_data in bench/lib.sh: hashes bench:1..N, fields id, sensor,
# v (v = id * 0.5), foreign table bench_redis (id int key, sensor text, v float8).
#
# FDW, timed by psql's \timing on a connection whose Redis connection is
# already open:
#   SELECT count(*), count(sensor), sum(v) FROM bench_redis;
# sum(v) and count(sensor) make the scan convert both fields of every hash
# (float8 and text input functions); the result is checked (N, N, N(N+1)/4).
# The FDW sends SCAN 0 MATCH bench:* COUNT 1000 TYPE hash, then per batch the
# HGETALL of each key pipelined with the next SCAN (EXPLAIN VERBOSE shows it).
#
# Baselines: the same reads -- list the keys with SCAN, then HGETALL every
# key -- by Redis's clients, pipelined, measured in the same run:
#   cli_pipe  redis-cli only:
#               redis-cli EVAL "<SCAN loop, MATCH bench:* COUNT 1000>" 0 'bench:*' \
#                 | awk '<HGETALL per key in RESP>' | redis-cli --pipe
#             Wall clock of the whole shell pipeline (3 process starts, a few
#             ms, included).  The key list comes from a server-side SCAN loop
#             in one EVAL because redis-cli 7.0's --scan has no --count and
#             would use SCAN's default COUNT 10 (10k round trips for 100k
#             keys); `--pipe` writes and reads concurrently, parses every
#             reply (hiredis reader) and checks it is no error, but only
#             counts them: it does not look at field values.
#   hiredis   bench/redis_scan_client.c (compiled here with -lhiredis): the
#             FDW's protocol without PostgreSQL -- SCAN COUNT 1000 TYPE hash,
#             each batch's HGETALLs pipelined with the next SCAN -- and the
#             query's work: strtod of every v, count of every sensor.
# The ratio's baseline is the faster of the two (higher median rows/s), i.e.
# the stricter one.  Not used in the ratio, printed for reference:
#   known_keys  HGETALL bench:1..N by redis-cli --pipe with no SCAN at all
#               (the client knows the keys: an upper bound no scan can reach)
#   unpipelined redis-cli --scan --pattern 'bench:*' | sed 's/^/HGETALL /' | redis-cli
#               redis-cli reading commands from stdin sends one, waits for its
#               reply, prints it, sends the next: one round trip per key (how
#               redis_fdw scans).  Once, when BENCH_UNPIPELINED=1 (default when
#               BENCH_ROWS <= 200000).
#
# Repetitions: BENCH_REPS (5); the order of the methods rotates between
# repetitions.  Reported: the MEDIAN time of each method (and the best) over
# its measurements during which other processes on the machine used <=
# BENCH_OTHER_MAX (5) % of the CPUs (all of them, and disturbed=yes, if none
# was that quiet; the "used" column says how many); rows/s = N / median
# seconds; ratio = FDW rows/s / baseline rows/s.
#
# Servers as in bench/lib.sh (default /tmp/mesh-bench, hub 23432, Redis
# 23379); started if not running, then stopped.  Last line:
# RESULT redis_scan fdw_rows_per_s=... baseline_rows_per_s=... ratio=... target>=0.50 ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_REPS=${BENCH_REPS:-5}
if [ "$BENCH_ROWS" -le 200000 ]; then
	BENCH_UNPIPELINED=${BENCH_UNPIPELINED:-1}
else
	BENCH_UNPIPELINED=${BENCH_UNPIPELINED:-0}
fi
CC=${CC:-cc}
TARGET=0.50
N=$BENCH_ROWS
FDW_QUERY="SELECT count(*), count(sensor), sum(v) FROM bench_redis"
# server-side SCAN loop returning every key matching ARGV[1]
SCAN_LUA="local c = '0' local out = {} repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000) c = r[1] for _, k in ipairs(r[2]) do out[#out + 1] = k end until c == '0' return out"
RESP_HGETALL='{ printf "*2\r\n$7\r\nHGETALL\r\n$%d\r\n%s\r\n", length($0), $0 }'

bench_servers_up
bench_load_data

CLIENT="$BENCH_WORK/redis_scan_client"
"$CC" -O2 -Wall -o "$CLIENT" "$BENCH_DIR/redis_scan_client.c" -lhiredis ||
	bdie "cannot build bench/redis_scan_client.c (needs a C compiler and libhiredis-dev)"

# expected results
EXP_SUM=$(awk -v n="$N" 'BEGIN { printf "%.17g\n", n * (n + 1) / 4 }')
same_number() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-9 * (b < 0 ? -b : b) + 1e-9) }'; }

# time_fdw: seconds of the FDW scan (checked)
time_fdw() {
	local out res ms
	out=$(bsql -At -F ' ' <<EOF
SELECT count(*) FROM bench_redis WHERE id = 1;
\timing on
$FDW_QUERY;
EOF
)
	res=$(echo "$out" | sed -n 2p)
	ms=$(echo "$out" | awk '/^Time: / { print $2 }')
	set -- $res
	[ "${1:-}" = "$N" ] && [ "${2:-}" = "$N" ] && same_number "${3:-x}" "$EXP_SUM" ||
		bdie "FDW scan returned '$res', expected '$N $N $EXP_SUM'"
	awk -v ms="$ms" 'BEGIN { printf "%.6f\n", ms / 1000 }'
}

# time_cli_pipe: seconds of the redis-cli SCAN (EVAL) | HGETALL --pipe chain
time_cli_pipe() {
	local t0 t1 out
	t0=$(now_ns)
	out=$(rcli EVAL "$SCAN_LUA" 0 'bench:*' | LC_ALL=C awk "$RESP_HGETALL" | rcli --pipe 2>&1)
	t1=$(now_ns)
	echo "$out" | grep -q "errors: 0, replies: $N\$" || bdie "cli_pipe: unexpected redis-cli --pipe result: $out"
	secs "$t0" "$t1"
}

# time_hiredis: seconds reported by the hiredis client (checked)
time_hiredis() {
	local out
	out=$("$CLIENT" 127.0.0.1 "$MESH_REDIS_PORT" 'bench:*') || bdie "redis_scan_client failed"
	case "$out" in
	"rows=$N sensors=$N sum="*) ;;
	*) bdie "hiredis: unexpected result: $out" ;;
	esac
	same_number "$(echo "$out" | sed 's/.*sum=\([^ ]*\).*/\1/')" "$EXP_SUM" || bdie "hiredis: wrong sum: $out"
	echo "$out" | sed 's/.*seconds=//'
}

# time_known_keys: HGETALL bench:1..N through redis-cli --pipe, no SCAN
time_known_keys() {
	local t0 t1 out
	t0=$(now_ns)
	out=$(seq 1 "$N" | LC_ALL=C awk '{ k = "bench:" $0; printf "*2\r\n$7\r\nHGETALL\r\n$%d\r\n%s\r\n", length(k), k }' | rcli --pipe 2>&1)
	t1=$(now_ns)
	echo "$out" | grep -q "errors: 0, replies: $N\$" || bdie "known_keys: unexpected redis-cli --pipe result: $out"
	secs "$t0" "$t1"
}

# time_unpipelined: one HGETALL round trip per key through redis-cli
time_unpipelined() {
	local t0 t1 lines
	t0=$(now_ns)
	lines=$(rcli --scan --pattern 'bench:*' | sed 's/^/HGETALL /' | rcli | wc -l)
	t1=$(now_ns)
	# three fields per hash, a name and a value line each
	[ "$lines" = $((N * 6)) ] || bdie "unpipelined: $lines reply lines, expected $((N * 6))"
	secs "$t0" "$t1"
}

echo "== redis_scan: $N Redis hashes (3 fields) read whole, $BENCH_REPS repetitions, median reported"
echo "build: $(bench_build_info)"
bsql -At -c "EXPLAIN (VERBOSE, COSTS OFF) $FDW_QUERY" | grep 'Remote request' | sed 's/^ */  FDW /'
bench_warn_if_busy
# warm-up (not counted): first touch of every key and of the code paths
time_fdw >/dev/null
time_hiredis >/dev/null

methods="fdw cli_pipe hiredis known_keys"
declare -A times oth
other_max=0
for ((r = 1; r <= BENCH_REPS; r++)); do
	# rotate the order
	arr=($methods)
	k=$(((r - 1) % ${#arr[@]}))
	order="${arr[*]:k} ${arr[*]:0:k}"
	line="rep $r/$BENCH_REPS:"
	rep_other=0
	for m in $order; do
		c0=$(other_cpu_ticks)
		n0=$(now_ns)
		t=$("time_$m")
		n1=$(now_ns)
		c1=$(other_cpu_ticks)
		o=$(other_cpu_pct "$c0" "$c1" "$(secs "$n0" "$n1")")
		[ "$o" -gt "$rep_other" ] && rep_other=$o
		times[$m]="${times[$m]:-} $t"
		oth[$m]="${oth[$m]:-} $o"
		line="$line $m $(printf '%.3f' "$t") s,"
	done
	[ "$rep_other" -gt "$other_max" ] && other_max=$rep_other
	echo "${line%,} [other work up to $rep_other%]"
done
if [ "$BENCH_UNPIPELINED" = 1 ]; then
	c0=$(other_cpu_ticks)
	n0=$(now_ns)
	t=$(time_unpipelined)
	n1=$(now_ns)
	c1=$(other_cpu_ticks)
	times[unpipelined]=" $t"
	oth[unpipelined]=" $(other_cpu_pct "$c0" "$c1" "$(secs "$n0" "$n1")")"
	echo "once: unpipelined $(printf '%.3f' "$t") s [other work ${oth[unpipelined]# }%]"
fi

# median time of a method over its undisturbed measurements (see lib.sh)
disturbed=no
declare -A medt used
for m in "${!times[@]}"; do
	set -- $(clean_median "${times[$m]}" "${oth[$m]}")
	medt[$m]=$1
	used[$m]="$2/$3"
	[ "$2" = 0 ] && [ "$m" != unpipelined ] && disturbed=yes
done
other_cpu_report "$other_max" "$disturbed"
med() { echo "${medt[$1]}"; }
best() { echo "${times[$1]}" | tr ' ' '\n' | grep . | stat_min; }
rps() { awk -v n="$N" -v s="$1" 'BEGIN { printf "%.0f\n", n / s }'; }

fdw_rps=$(rps "$(med fdw)")
cli_rps=$(rps "$(med cli_pipe)")
hir_rps=$(rps "$(med hiredis)")
if [ "$cli_rps" -ge "$hir_rps" ]; then
	base=cli_pipe base_rps=$cli_rps
else
	base=hiredis base_rps=$hir_rps
fi
r_base=$(ratio "$fdw_rps" "$base_rps")
status=$(meets "$r_base" "$TARGET")

echo
printf '%-12s %10s %6s %10s %12s %10s  %s\n' method "median s" "used" "best s" "rows/s" "FDW/this" "role"
for m in fdw cli_pipe hiredis known_keys unpipelined; do
	[ -n "${times[$m]:-}" ] || continue
	role="reference"
	case $m in
	fdw) role="measured" ;;
	cli_pipe | hiredis) role="baseline candidate" ;;
	esac
	[ "$m" = "$base" ] && role="BASELINE (faster candidate)"
	printf '%-12s %10.3f %6s %10.3f %12s %10s  %s\n' "$m" "$(med "$m")" "${used[$m]}" "$(best "$m")" \
		"$(rps "$(med "$m")")" "$(ratio "$fdw_rps" "$(rps "$(med "$m")")")" "$role"
done
echo "ratio FDW / $base = $r_base (median rows/s), target >= $TARGET: $status"
echo
echo "reproduce: $(bench_env_prefix) BENCH_ROWS=$N BENCH_REPS=$BENCH_REPS bash bench/redis_scan.sh"
echo "  fdw:        psql -h 127.0.0.1 -p $MESH_PG_PORT -U postgres -d $BENCH_DB -c '\\timing on' -c '$FDW_QUERY'"
echo "  cli_pipe:   redis-cli -p $MESH_REDIS_PORT EVAL \"$SCAN_LUA\" 0 'bench:*' | awk '$RESP_HGETALL' | redis-cli -p $MESH_REDIS_PORT --pipe"
echo "  hiredis:    cc -O2 -o redis_scan_client bench/redis_scan_client.c -lhiredis && ./redis_scan_client 127.0.0.1 $MESH_REDIS_PORT 'bench:*'"
echo "  known_keys: seq 1 $N | awk '{ k = \"bench:\" \$0; printf \"*2\\r\\n\$7\\r\\nHGETALL\\r\\n\$%d\\r\\n%s\\r\\n\", length(k), k }' | redis-cli -p $MESH_REDIS_PORT --pipe"
echo "  unpipelined: redis-cli -p $MESH_REDIS_PORT --scan --pattern 'bench:*' | sed 's/^/HGETALL /' | redis-cli -p $MESH_REDIS_PORT > /dev/null"
extra=""
[ -n "${times[unpipelined]:-}" ] && extra=" unpipelined_rows_per_s=$(rps "$(med unpipelined)")"
bench_stop_servers # if this script started them; the RESULT line stays the last one
echo "RESULT redis_scan fdw_rows_per_s=$fdw_rps baseline_rows_per_s=$base_rps baseline=$base ratio=$r_base target>=$TARGET status=$status stat=median_of_undisturbed_reps cli_pipe_rows_per_s=$cli_rps hiredis_rows_per_s=$hir_rps known_keys_rows_per_s=$(rps "$(med known_keys)")$extra other_cpu_max_pct=$other_max disturbed=$disturbed"
