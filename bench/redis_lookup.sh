#!/usr/bin/env bash
# bench/redis_lookup.sh: point lookups through the Redis FDW versus a local
# primary-key lookup (DESIGN.md, "Performance targets": >= 0.50 of the local TPS).
#
# Data (bench/lib.sh, bench_load_data): BENCH_ROWS (100k) rows
#   bench_local (id int PRIMARY KEY, sensor text, v float8)        local heap + btree
#   bench_redis (id int OPTIONS (key 'true'), sensor text, v float8)
#       mesh_redis foreign table of type hash over Redis hashes bench:<id>
#       with fields id, sensor, v (loaded with redis-cli --pipe)
#   bench_redis_str (key int, value text)                           optional
#       type string over Redis strings bench_s:<id> = sensor (BENCH_STRING=1)
#
# Measured: pgbench, BENCH_CLIENTS (2) clients, BENCH_THREADS (2) threads,
# -M prepared (so PostgreSQL switches to a generic plan after 5 executions and
# the key arrives as a parameter), one transaction =
#   \set id random(1, BENCH_ROWS)
#   SELECT sensor, v FROM bench_redis WHERE id = :id;     -- one HGETALL
# and the same SELECT on bench_local.  Each variant runs BENCH_SECONDS (15)
# seconds in total, split into BENCH_ROUNDS (5) slices of equal length that
# alternate between the variants (the order reverses every round), so a
# change of machine load hits every variant alike; a BENCH_WARMUP (2) second
# run of each comes first and is not counted.  TPS per variant = MEDIAN of its
# slices, counting only the slices during which other processes on the
# machine used <= BENCH_OTHER_MAX (5) % of the CPUs (each slice prints that
# share as [other N%]; if no slice of a variant was that quiet, all of them,
# and the result says disturbed=yes).  The "slices" column says how many
# were used.  Ratio = FDW median TPS / local median TPS.
#
# Reference (BENCH_HIREDIS=1, the default): bench/redis_lookup_client.c, a C
# client that does only the Redis half of a lookup, the same HGETALL of a
# random bench:<id>, from BENCH_CLIENTS threads with one blocking hiredis
# connection each, in the same rounds (variant "hiredis").  Every FDW lookup
# waits for one such round trip on one of BENCH_CLIENTS connections and adds
# a PostgreSQL round trip to it, so hiredis / local is the ratio the FDW
# could reach if the hub cost nothing (an empirical ceiling: a round trip's
# time depends on how busy the CPUs are, see the README's Performance notes).
# The same client with a libpq connection per thread (variant "pg_hiredis")
# first sends the id to the hub as a prepared "SELECT $1::int4", then does
# the HGETALL: the two round trips and four process wake-ups of an FDW
# lookup with no FDW code at all, the figure the FDW is compared with to
# see what the hub's own work costs.
#
# Servers: the bench state dir and ports of bench/lib.sh (default
# /tmp/mesh-bench, hub 23432, Redis 23379); started if not running and then
# stopped again.  Last line: RESULT redis_lookup fdw_tps=... local_tps=...
# ratio=... target>=0.50 ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_SECONDS=${BENCH_SECONDS:-15}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_CLIENTS=${BENCH_CLIENTS:-2}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_STRING=${BENCH_STRING:-1}
BENCH_HIREDIS=${BENCH_HIREDIS:-1}
TARGET=0.50

SLICE=$(((BENCH_SECONDS + BENCH_ROUNDS - 1) / BENCH_ROUNDS))
[ "$SLICE" -ge 1 ] || bdie "BENCH_SECONDS and BENCH_ROUNDS must be positive"

bench_servers_up
bench_load_data

variants="local fdw_hash"
if [ "$BENCH_STRING" = 1 ]; then
	variants="$variants fdw_string"
	blog "loading $BENCH_ROWS strings bench_s:<id> (value = sensor) for the string variant"
	redis_delete_pattern 'bench_s:*'
	out=$(bsql -At -F ' ' -c "SELECT id, sensor FROM bench_local ORDER BY id" |
		LC_ALL=C awk '{ k = "bench_s:" $1; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length($2), $2 }' |
		rcli --pipe 2>&1)
	echo "$out" | grep -q "errors: 0, replies: $BENCH_ROWS\$" || bdie "loading strings: $out"
	bsql -c "CREATE FOREIGN TABLE bench_redis_str (key int, value text)
		SERVER bench_cache OPTIONS (type 'string', key_prefix 'bench_s:')"
fi

if [ "$BENCH_HIREDIS" = 1 ]; then
	variants="$variants hiredis pg_hiredis"
	CLIENT="$BENCH_WORK/redis_lookup_client"
	"${CC:-cc}" -O2 -Wall -pthread -I"$("$PG_CONFIG" --includedir)" -o "$CLIENT" \
		"$BENCH_DIR/redis_lookup_client.c" -L"$("$PG_CONFIG" --libdir)" -lpq -lhiredis ||
		bdie "cannot build bench/redis_lookup_client.c (needs a C compiler, libpq and libhiredis-dev)"
	CONNINFO="host=127.0.0.1 port=$MESH_PG_PORT user=postgres dbname=$BENCH_DB"
fi

# the pgbench scripts
query_local="SELECT sensor, v FROM bench_local WHERE id = :id;"
query_fdw_hash="SELECT sensor, v FROM bench_redis WHERE id = :id;"
query_fdw_string="SELECT value FROM bench_redis_str WHERE key = :id;"
for v in $variants; do
	case "$v" in hiredis | pg_hiredis) continue ;; esac
	q="query_$v"
	printf '\\set id random(1, %d)\n%s\n' "$BENCH_ROWS" "${!q}" >"$BENCH_WORK/lookup_$v.sql"
done

# The lookups must be single-key requests with the parameter pushed down,
# also in the generic plan that -M prepared ends up using.
check_plan() {
	local v=$1 sql plan
	sql=$(sed -n 2p "$BENCH_WORK/lookup_$v.sql" | sed 's/:id/$1/; s/;$//')
	plan=$(bsql -At <<EOF
SET plan_cache_mode = force_generic_plan;
PREPARE q(int) AS $sql;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q(1);
EOF
)
	case "$v" in
	local) echo "$plan" | grep -q 'Index Scan' || bdie "local lookup is not an index scan: $plan" ;;
	*)
		echo "$plan" | grep -Eq 'Remote request: (HGETALL|MGET) bench(_s)?:\(\$1\)' ||
			bdie "$v: the key is not pushed down as a parameter: $plan"
		;;
	esac
	echo "$plan" | grep -E 'Remote request|Index Scan' | sed "s/^ */  $v generic plan: /"
}

# run_hiredis SECONDS LOG [CONNINFO]: one run of the C client; prints its
# lookups/s.
run_hiredis() {
	local secs=$1 log=$2 tps
	"$CLIENT" 127.0.0.1 "$MESH_REDIS_PORT" bench: "$BENCH_ROWS" "$BENCH_CLIENTS" "$secs" ${3:+"$3"} >"$log" 2>&1 || {
		cat "$log" >&2
		bdie "redis_lookup_client failed"
	}
	tps=$(sed -n 's/.* tps=//p' "$log")
	[ -n "$tps" ] || bdie "redis_lookup_client: no tps in its output: $(cat "$log")"
	echo "$tps"
}

# run_pgbench VARIANT SECONDS LOG: one pgbench run (or the C client for
# hiredis); prints its TPS.
run_pgbench() {
	local v=$1 secs=$2 log=$3 tps failed
	case "$v" in
	hiredis)
		run_hiredis "$secs" "$log"
		return
		;;
	pg_hiredis)
		run_hiredis "$secs" "$log" "$CONNINFO"
		return
		;;
	esac
	if ! "$PGBENCH" -n -c "$BENCH_CLIENTS" -j "$BENCH_THREADS" -M prepared -T "$secs" \
		-f "$BENCH_WORK/lookup_$v.sql" "$BENCH_DB" >"$log" 2>&1; then
		cat "$log" >&2
		bdie "pgbench ($v) failed"
	fi
	failed=$(awk '/number of failed transactions:/ { print $5 }' "$log")
	[ "${failed:-0}" = 0 ] || {
		cat "$log" >&2
		bdie "pgbench ($v): $failed failed transactions"
	}
	tps=$(awk '/^tps = / { print $3 }' "$log")
	[ -n "$tps" ] || {
		cat "$log" >&2
		bdie "pgbench ($v): no tps in its output"
	}
	echo "$tps"
}

echo "== redis_lookup: point lookups, pgbench -c $BENCH_CLIENTS -j $BENCH_THREADS -M prepared, $BENCH_ROWS keys"
echo "build: $(bench_build_info)"
for v in $variants; do
	case "$v" in hiredis | pg_hiredis) ;; *) check_plan "$v" ;; esac
done
bench_warn_if_busy

if [ "$BENCH_WARMUP" -gt 0 ]; then
	for v in $variants; do run_pgbench "$v" "$BENCH_WARMUP" "$BENCH_WORK/lookup_${v}_warmup.log" >/dev/null; done
fi

declare -A all oth
other_max=0
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
	# alternate the order between rounds
	order=$variants
	if ((r % 2 == 0)); then order=$(echo "$variants" | tr ' ' '\n' | tac | tr '\n' ' '); fi
	line="round $r/$BENCH_ROUNDS (${SLICE}s each):"
	for v in $order; do
		c0=$(other_cpu_ticks)
		n0=$(now_ns)
		t=$(run_pgbench "$v" "$SLICE" "$BENCH_WORK/lookup_${v}_round$r.log")
		n1=$(now_ns)
		c1=$(other_cpu_ticks)
		o=$(other_cpu_pct "$c0" "$c1" "$(secs "$n0" "$n1")")
		[ "$o" -gt "$other_max" ] && other_max=$o
		all[$v]="${all[$v]:-} $t"
		oth[$v]="${oth[$v]:-} $o"
		line="$line $v $(printf '%.0f' "$t") tps [other $o%],"
	done
	echo "${line%,}"
done

mean() { echo "$1" | tr ' ' '\n' | awk 'NF { s += $1; n++ } END { printf "%.1f\n", s / n }'; }
# the median TPS of each variant over its undisturbed slices (lib.sh, clean_median)
disturbed=no
declare -A used med
for v in $variants; do
	set -- $(clean_median "${all[$v]}" "${oth[$v]}")
	med[$v]=$1
	used[$v]="$2/$3"
	[ "$2" = 0 ] && disturbed=yes
done
other_cpu_report "$other_max" "$disturbed"
local_tps=${med[local]}
fdw_tps=${med[fdw_hash]}
r_hash=$(ratio "$fdw_tps" "$local_tps")
status=$(meets "$r_hash" "$TARGET")

echo
printf '%-12s %12s %8s %12s %10s  %s\n' variant "TPS median" "slices" "(mean, all)" "vs local" "target"
printf '%-12s %12.0f %8s %12.0f %10s  %s\n' local "$local_tps" "${used[local]}" "$(mean "${all[local]}")" "1.00" "baseline"
printf '%-12s %12.0f %8s %12.0f %10s  %s\n' fdw_hash "$fdw_tps" "${used[fdw_hash]}" "$(mean "${all[fdw_hash]}")" "$r_hash" ">= $TARGET: $status"
extra=""
if [ "$BENCH_STRING" = 1 ]; then
	str_tps=${med[fdw_string]}
	r_str=$(ratio "$str_tps" "$local_tps")
	printf '%-12s %12.0f %8s %12.0f %10s  %s\n' fdw_string "$str_tps" "${used[fdw_string]}" "$(mean "${all[fdw_string]}")" "$r_str" "(informational)"
	extra=" string_tps=$(printf '%.0f' "$str_tps") string_ratio=$r_str"
fi
if [ "$BENCH_HIREDIS" = 1 ]; then
	hi_tps=${med[hiredis]}
	r_hi=$(ratio "$hi_tps" "$local_tps")
	pghi_tps=${med[pg_hiredis]}
	r_pghi=$(ratio "$pghi_tps" "$local_tps")
	printf '%-12s %12.0f %8s %12.0f %10s  %s\n' hiredis "$hi_tps" "${used[hiredis]}" "$(mean "${all[hiredis]}")" "$r_hi" "(the Redis round trip alone)"
	printf '%-12s %12.0f %8s %12.0f %10s  %s\n' pg_hiredis "$pghi_tps" "${used[pg_hiredis]}" "$(mean "${all[pg_hiredis]}")" "$r_pghi" "(a hub round trip + the Redis round trip, no FDW)"
	echo "fdw_hash / pg_hiredis: $(ratio "$fdw_tps" "$pghi_tps") (what the FDW keeps of the two round trips it cannot avoid)"
	extra="$extra hiredis_tps=$(printf '%.0f' "$hi_tps") hiredis_ratio=$r_hi pg_hiredis_tps=$(printf '%.0f' "$pghi_tps") pg_hiredis_ratio=$r_pghi fdw_vs_pg_hiredis=$(ratio "$fdw_tps" "$pghi_tps")"
fi
echo
echo "reproduce: $(bench_env_prefix) BENCH_ROWS=$BENCH_ROWS BENCH_SECONDS=$BENCH_SECONDS BENCH_ROUNDS=$BENCH_ROUNDS BENCH_WARMUP=$BENCH_WARMUP BENCH_CLIENTS=$BENCH_CLIENTS BENCH_THREADS=$BENCH_THREADS BENCH_STRING=$BENCH_STRING BENCH_HIREDIS=$BENCH_HIREDIS bash bench/redis_lookup.sh"
echo "  each slice is: $PGBENCH -n -c $BENCH_CLIENTS -j $BENCH_THREADS -M prepared -T $SLICE -f FILE $BENCH_DB   (PGHOST=127.0.0.1 PGPORT=$MESH_PG_PORT PGUSER=postgres)"
[ "$BENCH_HIREDIS" = 1 ] &&
	echo "  hiredis: cc -O2 -pthread -I\$(pg_config --includedir) -o redis_lookup_client bench/redis_lookup_client.c -L\$(pg_config --libdir) -lpq -lhiredis && ./redis_lookup_client 127.0.0.1 $MESH_REDIS_PORT bench: $BENCH_ROWS $BENCH_CLIENTS $SLICE   (pg_hiredis: the same with '$CONNINFO' as last argument)"
for v in $variants; do
	case "$v" in hiredis | pg_hiredis) continue ;; esac
	echo "  FILE $BENCH_WORK/lookup_$v.sql: $(tr '\n' ' ' <"$BENCH_WORK/lookup_$v.sql")"
done
bench_stop_servers # if this script started them; the RESULT line stays the last one
echo "RESULT redis_lookup fdw_tps=$(printf '%.0f' "$fdw_tps") local_tps=$(printf '%.0f' "$local_tps") ratio=$r_hash target>=$TARGET status=$status stat=median_of_undisturbed_slices$extra other_cpu_max_pct=$other_max disturbed=$disturbed"
