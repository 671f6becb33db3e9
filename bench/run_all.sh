#!/usr/bin/env bash
# bench/run_all.sh: runs every mesh benchmark (bench/redis_lookup.sh,
# bench/redis_scan.sh) on one set of servers, then prints a summary table and
# the commands that reproduce each figure.
#
# The servers: bench/lib.sh's state dir and ports (default /tmp/mesh-bench,
# hub 23432, Redis 23379), started here if not running and stopped at the end.
# Every BENCH_* setting of the scripts passes through (BENCH_ROWS,
# BENCH_SECONDS, BENCH_ROUNDS, BENCH_REPS, ...).  Each script's full output is
# kept in $MESH_TEST_DIR/bench/<name>.out.
#
# Exit status: non-zero if a benchmark failed to run; with BENCH_STRICT=1 also
# if a target was missed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCHMARKS="redis_lookup redis_scan"

bench_servers_up

declare -A result
failed=0
for b in $BENCHMARKS; do
	echo
	echo "######## bench/$b.sh"
	if bash "$BENCH_DIR/$b.sh" 2>&1 | tee "$BENCH_WORK/$b.out"; then
		result[$b]=$(grep '^RESULT ' "$BENCH_WORK/$b.out" | tail -n 1)
	fi
	if [ -z "${result[$b]:-}" ]; then
		blog "bench/$b.sh failed (output in $BENCH_WORK/$b.out)"
		failed=1
	fi
done

# field RESULT_LINE NAME: the value of NAME=... in a RESULT line
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

build=$(bench_build_info)
bench_stop_servers # if this script started them
echo
echo "======== summary ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "build: $build"
printf '%-13s %-24s %-36s %7s %8s  %-7s %s\n' benchmark mesh baseline ratio target status "other work"
missed=0
for b in $BENCHMARKS; do
	r=${result[$b]:-}
	if [ -z "$r" ]; then
		printf '%-13s %s\n' "$b" "FAILED TO RUN (see $BENCH_WORK/$b.out)"
		continue
	fi
	case $b in
	redis_lookup)
		mesh="$(field "$r" fdw_tps) TPS"
		base="local PK lookup $(field "$r" local_tps) TPS"
		;;
	redis_scan)
		mesh="$(field "$r" fdw_rows_per_s) rows/s"
		base="$(field "$r" baseline) $(field "$r" baseline_rows_per_s) rows/s"
		;;
	esac
	st=$(field "$r" status)
	[ "$st" = met ] || missed=1
	other="<= $(field "$r" other_cpu_max_pct)% CPU"
	[ "$(field "$r" disturbed)" = yes ] && other="$other: DISTURBED, figure unreliable"
	printf '%-13s %-24s %-36s %7s %8s  %-7s %s\n' "$b" "$mesh" "$base" "$(field "$r" ratio)" \
		">=$(field "$r" 'target>')" "$st" "$other"
done
echo
echo "reproduce (servers are started and stopped by each script if not running):"
env_vars="BENCH_ROWS=$BENCH_ROWS"
for v in BENCH_SECONDS BENCH_ROUNDS BENCH_WARMUP BENCH_CLIENTS BENCH_THREADS BENCH_STRING BENCH_REPS BENCH_UNPIPELINED; do
	[ -n "${!v:-}" ] && env_vars="$env_vars $v=${!v}"
done
echo "  all:          $(bench_env_prefix) $env_vars bash bench/run_all.sh"
for b in $BENCHMARKS; do
	printf '  %-13s %s\n' "$b:" "$(grep '^reproduce: ' "$BENCH_WORK/$b.out" 2>/dev/null | sed 's/^reproduce: //')"
done
echo "  (each script's output lists the underlying pgbench / psql / redis-cli commands)"

[ "$failed" = 0 ] || exit 1
[ "${BENCH_STRICT:-0}" = 1 ] && [ "$missed" = 1 ] && exit 2
exit 0
