#!/usr/bin/env bash
# bench/pool.sh: the pooled delivery workers (issue 16) under a steady load.
#
#  base      10 routes in one database (9 Redis key prefixes, 1 remote
#            PostgreSQL table), each table receiving POOL_RATE (10) events/s,
#            measured for POOL_BASE_SECONDS: the baseline of "thousand".
#  thousand  1,000 routes in 10 databases (each: 90 Redis key prefixes, 10
#            remote PostgreSQL tables, as test/checks/pool_routes.sh), each
#            table receiving POOL_RATE events/s (10,000 events/s in all),
#            measured for POOL_SECONDS (60) on a hub with max_worker_processes
#            = 16 (the harness's hub):
#              lag       commit-to-delivered per event, p50 / p99 over all
#                        events, and each route's own p99 (median, worst)
#              cpu       delivery CPU per event: utime + stime of every mesh
#                        process over the window / events delivered in it,
#                        against base's.                  target <= 1.5 x base
#              memory    RssAnon and Pss of every mesh process together
#                        (mean over the window), per route
#  hang      50 routes in one database, one to a Redis server that accepts
#            and never answers (the harness's "hang" server, timeout_ms at
#            its default 5 s), the other 49 at POOL_RATE events/s each: lag
#            p99 of the 49 with mesh.max_delivery_workers = 2 (the default;
#            target < 200 ms), then with 0.
#
# Load: bench/pool_load.c, one connection per database, POOL_RATE times a
# second one autocommit call of pool_tick(id), a function inserting row id
# into every table of that database (the databases' ticks spread over the
# period); it reports the rate it reached.
# Lag: every tick's commit time (when its result came back to pool_load) and
# every row's arrival: for Redis the keyspace notification of its HSET, read
# by bench/redis_arrivals.c; for the remote PostgreSQL the row's arrived
# column (DEFAULT clock_timestamp() there).  Events of the ticks committed in
# the window count (bench/pool_lag.py); the first POOL_WARMUP seconds do not.
# CPU and memory: bench/pool_procs.py, sampling every 0.5 s.
#
# Servers: those of bench/lib.sh (BENCH_SERVERS defaults to "pg_remote redis
# hang" here).  Last line: RESULT pool key=value ...
set -euo pipefail
export BENCH_SERVERS=${BENCH_SERVERS:-pg_remote redis hang}
export BENCH_DB=${BENCH_DB:-pool_base}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../test/lib/hub_sql.sh"

POOL_RATE=${POOL_RATE:-10}
POOL_SECONDS=${POOL_SECONDS:-60}
POOL_BASE_SECONDS=${POOL_BASE_SECONDS:-30}
POOL_HANG_SECONDS=${POOL_HANG_SECONDS:-30}
POOL_WARMUP=${POOL_WARMUP:-5}
POOL_DBS=${POOL_DBS:-10}
POOL_DRAIN=${POOL_DRAIN:-120}   # seconds a run may take to deliver its backlog after the load
POOL_REDIS=90
POOL_PG=10

bench_servers_up
work=$BENCH_WORK
echo "$(bench_warn_if_busy)" >"$work/pool_busy.txt"

hsql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
mwp=$(hsql -d postgres -c "SHOW max_worker_processes")
[ "$mwp" -ge 16 ] || bdie "the hub runs with max_worker_processes = $mwp; 1,000 routes in 10 databases need 16"
postmaster=$(head -n 1 "$MESH_TEST_DIR/pg_hub/data/postmaster.pid" | tr -dc '0-9')

cc -O2 -I"$("$PG_CONFIG" --includedir)" -o "$work/pool_load" "$BENCH_DIR/pool_load.c" \
	-L"$("$PG_CONFIG" --libdir)" -lpq
cc -O2 -o "$work/redis_arrivals" "$BENCH_DIR/redis_arrivals.c" -lhiredis
rcli CONFIG SET notify-keyspace-events Kh >/dev/null
redis_delete_pattern 'pool:*'

set_max_delivery_workers() {
	hsql -d postgres -c "ALTER SYSTEM SET mesh.max_delivery_workers = $1" -c "SELECT pg_reload_conf()" >/dev/null
}
set_max_delivery_workers 2

# setup_db DB NREDIS NPG [hang]: a fresh database DB with NREDIS tables r_T
# routed to Redis (key prefix pool:DB:T:) and NPG tables DB_pT routed to the
# remote PostgreSQL (there with a column arrived DEFAULT clock_timestamp()),
# with "hang" one more table h routed to the hang server; pool_tick(id)
# inserts row id into each and returns how many rows.  Appends the routes
# to measure ("DB redis|pg T") to $work/routes.DB.
setup_db() {
	local db=$1 nr=$2 np=$3 hang=${4:-} t remote="" body=""
	for ((t = 0; t < np; t++)); do
		remote+="DROP TABLE IF EXISTS ${db}_p$t; CREATE TABLE ${db}_p$t (id bigint PRIMARY KEY, v text, arrived timestamptz DEFAULT clock_timestamp());"
	done
	[ -z "$remote" ] || harness remote-sql "$remote" >/dev/null
	drop_db "$db"
	hsql -d postgres -c "CREATE DATABASE $db" >/dev/null
	: >"$work/routes.$db"
	for ((t = 0; t < nr; t++)); do
		body+="INSERT INTO r_$t VALUES (n, 'v');"
		echo "$db redis $t" >>"$work/routes.$db"
	done
	for ((t = 0; t < np; t++)); do
		body+="INSERT INTO ${db}_p$t VALUES (n, 'v');"
		echo "$db pg $t" >>"$work/routes.$db"
	done
	[ -z "$hang" ] || body+="INSERT INTO h VALUES (n, 'v');"
	hsql -d "$db" >/dev/null <<SQL
$(hub_targets_sql)
CREATE SERVER hanging FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_HANG_PORT');
DO \$\$
BEGIN
	FOR t IN 0..$((nr - 1)) LOOP
		EXECUTE format('CREATE TABLE r_%s (id bigint PRIMARY KEY, v text)', t);
		PERFORM mesh.replicate(format('r_%s', t)::regclass, 'cache',
							   jsonb_build_object('key_prefix', format('pool:$db:%s:', t)));
	END LOOP;
	FOR t IN 0..$((np - 1)) LOOP
		EXECUTE format('CREATE TABLE ${db}_p%s (id bigint PRIMARY KEY, v text)', t);
		PERFORM mesh.replicate(format('${db}_p%s', t)::regclass, 'archive');
	END LOOP;
	IF '$hang' <> '' THEN
		CREATE TABLE h (id bigint PRIMARY KEY, v text);
		PERFORM mesh.replicate('h', 'hanging', '{"key_prefix": "hang:"}');
	END IF;
END \$\$;
CREATE FUNCTION pool_tick(n bigint) RETURNS int LANGUAGE plpgsql AS \$f\$
BEGIN
	$body
	RETURN $((nr + np + (${#hang} > 0)));
END \$f\$;
SQL
}

# sync_all TARGETS SECONDS DB...: wait up to SECONDS in all until every
# route of DB... to one of TARGETS (a SQL list) has delivered everything;
# prints the seconds it took, or "no" if they were not in sync by then.
sync_all() {
	local targets=$1 deadline=$(($(date +%s%N) / 1000000 + $2 * 1000)) db left t0
	shift 2
	t0=$(now_ns)
	for db in "$@"; do
		left=$((deadline - $(date +%s%N) / 1000000))
		if [ "$left" -le 0 ] || [ "$(hsql -d "$db" -c "SELECT bool_and(mesh.wait_for_sync($left::int, t))
				FROM unnest(ARRAY[$targets]::name[]) t")" != t ]; then
			echo no
			return 0
		fi
	done
	secs "$t0" "$(now_ns)"
}

# drop_db DB: drop the database, retrying while a worker still uses it (one
# held by a hanging target leaves when its read times out).
drop_db() {
	local i
	for ((i = 0; i < 60; i++)); do
		hsql -d postgres -c "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	bdie "could not drop database $1"
}

# delivered DB...: events delivered so far by the routes of DB...
delivered() {
	local db n=0
	for db in "$@"; do n=$((n + $(hsql -d "$db" -c "SELECT COALESCE(sum(delivered), 0) FROM mesh.route_stats"))); done
	echo "$n"
}

# cpu_jiffies: busy and total jiffies of all CPUs (/proc/stat)
cpu_jiffies() { head -n 1 /proc/stat | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }'; }

# run_load NAME SECONDS FIRST_ID DB...: POOL_RATE ticks/s on DB... for
# POOL_WARMUP + SECONDS, measured over the last SECONDS; writes
# $work/NAME.result ("key=value ..."): the load's and pool_lag.py's output,
# pool_procs.py's, delivered=N busy_pct other_pct.
run_load() {
	local name=$1 secs=$2 first=$3 apid lpid from to d0 d1 c0 c1 j0 j1 n0 n1 db sql="" i drained
	shift 3
	cat "${@/#/$work/routes.}" >"$work/$name.routes"
	: >"$work/$name.arrivals.err"
	"$work/redis_arrivals" "$MESH_REDIS_PORT" 'pool:*' >"$work/$name.arrivals" 2>"$work/$name.arrivals.err" &
	apid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q subscribed "$work/$name.arrivals.err" && break
		sleep 0.05
	done
	"$work/pool_load" "host=127.0.0.1 port=$MESH_PG_PORT user=postgres" "$POOL_RATE" \
		"$((POOL_WARMUP + secs))" "$first" "$@" >"$work/$name.ticks" 2>"$work/$name.load" &
	lpid=$!
	sleep "$POOL_WARMUP"
	d0=$(delivered "$@")
	c0=$(other_cpu_ticks)
	j0=$(cpu_jiffies)
	n0=$(now_ns)
	from=$((n0 / 1000))
	python3 "$BENCH_DIR/pool_procs.py" "$postmaster" "$secs" >"$work/$name.procs"
	n1=$(now_ns)
	to=$((n1 / 1000))
	j1=$(cpu_jiffies)
	c1=$(other_cpu_ticks)
	d1=$(delivered "$@")
	wait "$lpid" || bdie "pool_load failed: $(cat "$work/$name.load")"
	blog "$name: load $(tail -n 1 "$work/$name.load")"
	drained=$(sync_all "'cache', 'archive'" "$POOL_DRAIN" "$@")
	[ "$drained" != no ] || blog "$name: not in sync $POOL_DRAIN s after the load stopped: the rest counts as not delivered"
	sleep 0.3
	kill -TERM "$apid"
	wait "$apid" || true
	for db in "$@"; do
		while read -r _ kind t; do
			[ "$kind" = pg ] || continue
			sql+="${sql:+ UNION ALL }SELECT '$db', $t, id, (extract(epoch FROM arrived) * 1e6)::bigint FROM ${db}_p$t"
		done <"$work/routes.$db"
	done
	if [ -n "$sql" ]; then
		harness remote-sql "COPY ($sql) TO STDOUT" >"$work/$name.pg"
	else
		: >"$work/$name.pg"
	fi
	{
		tail -n 1 "$work/$name.load"
		python3 "$BENCH_DIR/pool_lag.py" "$work/$name.routes" "$work/$name.ticks" "$work/$name.arrivals" \
			"$work/$name.pg" "$from" "$to"
		cat "$work/$name.procs"
		echo "delivered=$((d1 - d0)) window_s=$secs drained_s=$drained"
		echo "$j0 $j1" | awk '{ printf "busy_pct=%.0f\n", 100 * ($3 - $1) / ($4 - $2) }'
		echo "other_pct=$(other_cpu_pct "$c0" "$c1" "$(secs "$n0" "$n1")")"
	} | tr '\n' ' ' >"$work/$name.result"
	blog "$name: $(cat "$work/$name.result")"
}

# get NAME KEY: KEY's value in NAME's result
get() { tr ' ' '\n' <"$work/$1.result" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# rate_check NAME ROUTES: "reached" or "NOT REACHED (x% of the nominal)"
rate_check() {
	awk -v r="$(get "$1" rate)" -v n="$(($2 * POOL_RATE))" \
		'BEGIN { if (r >= 0.98 * n) print "reached"; else printf "NOT REACHED (%.0f%% of %d/s)\n", 100 * r / n, n }'
}

# ---- base: 10 routes in one database
blog "base: setting up 10 routes (9 Redis, 1 remote PostgreSQL) in $BENCH_DB"
setup_db "$BENCH_DB" 9 1
[ "$(sync_all "'cache', 'archive'" 120 "$BENCH_DB")" != no ] || bdie "$BENCH_DB did not get in sync"
run_load base "$POOL_BASE_SECONDS" 1 "$BENCH_DB"
drop_db "$BENCH_DB"

# ---- thousand: 1,000 routes in 10 databases
dbs=()
t0=$(now_ns)
for ((d = 0; d < POOL_DBS; d++)); do
	dbs+=("pool_$d")
	blog "thousand: setting up ${dbs[-1]} ($POOL_REDIS Redis routes, $POOL_PG remote PostgreSQL routes)"
	setup_db "${dbs[-1]}" "$POOL_REDIS" "$POOL_PG"
done
[ "$(sync_all "'cache', 'archive'" 300 "${dbs[@]}")" != no ] || bdie "the 1,000 routes did not get in sync"
t1=$(now_ns)
routes=$(cat "${dbs[@]/#/$work/routes.}" | wc -l)
blog "thousand: $routes routes in sync after $(((t1 - t0) / 1000000000)) s"
run_load thousand "$POOL_SECONDS" 1 "${dbs[@]}"
mesh_procs_thousand=$(hsql -d postgres -c "SELECT string_agg(backend_type || ' ' || n || COALESCE(' (' || dbs || ')', ''), ', ')
	FROM (SELECT backend_type, count(*) n, string_agg(DISTINCT datname, ' ') dbs FROM pg_stat_activity
		  WHERE backend_type LIKE 'mesh%' GROUP BY 1 ORDER BY 1) s")
for db in "${dbs[@]}"; do drop_db "$db"; done

# ---- hang: 49 routes beside one whose target hangs
blog "hang: setting up 49 Redis routes and one to the hang server in pool_hang"
setup_db pool_hang 49 0 hang
[ "$(sync_all "'cache'" 120 pool_hang)" != no ] || bdie "pool_hang did not get in sync"
run_load hang2 "$POOL_HANG_SECONDS" 1 pool_hang
set_max_delivery_workers 0
sleep 2
run_load hang0 "$POOL_HANG_SECONDS" 1000000 pool_hang
hang_state=$(hsql -d pool_hang -c "SELECT state FROM mesh.stats WHERE target = 'hanging'")
hsql -d postgres -c "ALTER SYSTEM RESET mesh.max_delivery_workers" -c "SELECT pg_reload_conf()" >/dev/null
drop_db pool_hang
rcli CONFIG SET notify-keyspace-events "" >/dev/null
redis_delete_pattern 'pool:*'

# ---- figures
per_event_us() { awk -v c="$(get "$1" cpu_s)" -v n="$(get "$1" delivered)" 'BEGIN { printf "%.1f\n", n ? 1e6 * c / n : 0 }'; }
cpu_base=$(per_event_us base)
cpu_thousand=$(per_event_us thousand)
cpu_ratio=$(ratio "$cpu_thousand" "$cpu_base")
cpu_verdict=$(awk -v r="$cpu_ratio" 'BEGIN { print (r <= 1.5) ? "met" : "MISSED" }')
mem_base=$(get base rss_anon_mb_mean)
mem_thousand=$(get thousand rss_anon_mb_mean)
pss_thousand=$(get thousand pss_mb_mean)
mem_per_route_kb=$(awk -v m="$mem_thousand" -v r="$routes" 'BEGIN { printf "%.0f\n", 1024 * m / r }')
mem_marginal_kb=$(awk -v m="$mem_thousand" -v b="$mem_base" -v r="$routes" 'BEGIN { printf "%.0f\n", 1024 * (m - b) / (r - 10) }')
hang2_p99=$(get hang2 p99)
hang0_p99=$(get hang0 p99)
hang_verdict=$(awk -v p="$hang2_p99" 'BEGIN { print (p < 200) ? "met" : "MISSED" }')
lagline() { echo "p50 $(get "$1" p50) ms, p90 $(get "$1" p90), p99 $(get "$1" p99), max $(get "$1" max); per-route p99 median $(get "$1" route_p99_median), worst $(get "$1" route_p99_max); $(get "$1" missing) of $(get "$1" window_events) events not delivered"; }
loadline() {
	echo "$(get "$1" rate) events/s ($(rate_check "$1" "$2")), $(get "$1" late) late ticks (max $(get "$1" max_late_ms) ms);" \
		"delivered $(awk -v d="$(get "$1" delivered)" -v s="$(get "$1" window_s)" 'BEGIN { printf "%.0f", d / s }')/s in the window;" \
		"backlog delivered $(get "$1" drained_s | awk '$1 == "no" { print "NOT within '"$POOL_DRAIN"'"; next } { printf "%.1f", $1 }') s after the load"
}

cat <<REPORT

== pooled delivery (issue 16) ($(bench_build_info))
$(cat "$work/pool_busy.txt")
max_worker_processes = $mwp; mesh processes during "thousand": $mesh_procs_thousand

load (pool_load.c; machine busy = all CPUs over the window, other work = processes outside this benchmark)
  base       10 routes: $(loadline base 10); machine busy $(get base busy_pct)%, other work $(get base other_pct)%
  thousand   $routes routes: $(loadline thousand "$routes"); machine busy $(get thousand busy_pct)%, other work $(get thousand other_pct)%
  hang (2)   50 routes: $(loadline hang2 50); machine busy $(get hang2 busy_pct)%, other work $(get hang2 other_pct)%
  hang (0)   50 routes: $(loadline hang0 50); machine busy $(get hang0 busy_pct)%, other work $(get hang0 other_pct)%

lag (commit to delivered; Redis: keyspace notification, remote PostgreSQL: the row's clock_timestamp() default)
  base       $(lagline base)
  thousand   $(lagline thousand)
  hang, mesh.max_delivery_workers = 2: the 49 healthy routes: $(lagline hang2)  (target p99 < 200 ms: $hang_verdict)
  hang, mesh.max_delivery_workers = 0: the 49 healthy routes: $(lagline hang0)
  the hanging route's state at the end: $hang_state

delivery CPU (utime + stime of every mesh process over the window / events delivered in it)
  base       $(get base cpu_s) s for $(get base delivered) events = $cpu_base us/event   [$(get base by_type)]
  thousand   $(get thousand cpu_s) s for $(get thousand delivered) events = $cpu_thousand us/event   [$(get thousand by_type)]
  ratio thousand / base: $cpu_ratio (target <= 1.5: $cpu_verdict)

memory of every mesh process together (mean over the window; RssAnon = private anonymous, Pss = proportional incl. shared buffers)
  base       RssAnon $(get base rss_anon_mb_mean) MB (max $(get base rss_anon_mb_max)), Pss $(get base pss_mb_mean) MB
  thousand   RssAnon $mem_thousand MB (max $(get thousand rss_anon_mb_max)), Pss $pss_thousand MB (max $(get thousand pss_mb_max)); $(get thousand procs) processes
  per route: $mem_per_route_kb kB RssAnon (total / $routes); marginal over base: $mem_marginal_kb kB per added route

reproduce:  $(bench_env_prefix) bash bench/pool.sh
            (POOL_SECONDS=$POOL_SECONDS POOL_BASE_SECONDS=$POOL_BASE_SECONDS POOL_HANG_SECONDS=$POOL_HANG_SECONDS POOL_WARMUP=$POOL_WARMUP POOL_RATE=$POOL_RATE)
  the load (on the databases set up above): cc -O2 -I\$(pg_config --includedir) -o pool_load bench/pool_load.c -lpq &&
    ./pool_load "host=127.0.0.1 port=$MESH_PG_PORT user=postgres" $POOL_RATE $((POOL_WARMUP + POOL_SECONDS)) 1 pool_0 ... pool_9
RESULT pool routes=$routes rate=$(get thousand rate) rate_target=$((routes * POOL_RATE)) lag_p50_ms=$(get thousand p50) lag_p99_ms=$(get thousand p99) cpu_us_per_event=$cpu_thousand base_cpu_us_per_event=$cpu_base cpu_ratio=$cpu_ratio cpu_target<=1.5 mem_rss_anon_mb=$mem_thousand mem_pss_mb=$pss_thousand mem_kb_per_route=$mem_per_route_kb hang_p99_ms_2_workers=$hang2_p99 hang_p99_ms_0_workers=$hang0_p99 hang_target<200 other_pct=$(get thousand other_pct)
REPORT
