#!/usr/bin/env bash
# bench/replication.sh: the replication targets of DESIGN.md, each against a
# baseline measured in the same run on the same machine.
#
#  capture_tps  single-row INSERT TPS (pgbench, 2 clients, prepared, one row
#               per transaction) into a table replicated to Redis (its route
#               active: the worker delivers while pgbench runs) versus the
#               same table unreplicated; BENCH_CAP_ROUNDS alternating slices
#               of BENCH_CAP_SECONDS each, median.            target >= 0.80
#  bulk_copy    COPY of BENCH_BULK_ROWS (1M) rows from a file into the
#               replicated table (route paused: the capture alone) versus the
#               unreplicated one; best of BENCH_REPS.          target >= 0.60
#  fanout       a backlog of BENCH_BULK_ROWS (1M) events (a COPY into a
#               fresh replicated table whose route is paused), delivered to
#               Redis after mesh.resume (until mesh.wait_for_sync), versus
#               redis-cli --pipe loading the same 1M hashes (HSET of the same
#               fields and text values) into other keys.       target >= 0.50
#  worker_rss   the route worker's memory while it delivers that backlog,
#               sampled every 50 ms: VmRSS (which counts the shared buffers
#               it touched) and its private memory (smaps_rollup Private_*).
#                                                      target RSS < 100 MB
#  lag          commit-to-visible in Redis at a steady 1,000 rows/s for
#               BENCH_LAG_SECONDS, measured by an outside client
#               (bench/lag_probe.py: psycopg2 inserts, a redis-py thread
#               polls with pipelined EXISTS).               target p99 < 100 ms
#
# Servers: those of bench/lib.sh (their own state dir and ports).
# Last lines: RESULT replication_<name> ... for each.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_CAP_SECONDS=${BENCH_CAP_SECONDS:-5}
BENCH_CAP_ROUNDS=${BENCH_CAP_ROUNDS:-3}
BENCH_BULK_ROWS=${BENCH_BULK_ROWS:-1000000}
BENCH_REPS=${BENCH_REPS:-2}
BENCH_LAG_SECONDS=${BENCH_LAG_SECONDS:-10}

bench_servers_up
work=$BENCH_WORK

blog "setting up the replicated and plain tables"
redis_delete_pattern 'rep:*'
redis_delete_pattern 'base:*'
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS rep_plain, rep_repl, rep_fan, rep_lag CASCADE;
DROP SERVER IF EXISTS rep_cache CASCADE;
CREATE SERVER rep_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE TABLE rep_plain (id bigserial PRIMARY KEY, sensor text, v float8, ts timestamptz DEFAULT now());
CREATE TABLE rep_repl (id bigserial PRIMARY KEY, sensor text, v float8, ts timestamptz DEFAULT now());
SELECT mesh.replicate('rep_repl', 'rep_cache', '{"key_prefix": "rep:"}', 'cache');
SELECT mesh.wait_for_sync(60000);
SQL

# ---- capture_tps
echo "INSERT INTO rep_plain (sensor, v) VALUES ('s', 1.5);" >"$work/ins_plain.sql"
echo "INSERT INTO rep_repl (sensor, v) VALUES ('s', 1.5);" >"$work/ins_repl.sql"
run_pgbench() { pgbench_tps "$work/ins_$1.sql" "$2"; }
blog "capture_tps: warm-up"
run_pgbench plain 2 >/dev/null
run_pgbench repl 2 >/dev/null
plain_tps=()
repl_tps=()
for ((r = 1; r <= BENCH_CAP_ROUNDS; r++)); do
	if ((r % 2)); then order="plain repl"; else order="repl plain"; fi
	for v in $order; do
		tps=$(run_pgbench "$v" "$BENCH_CAP_SECONDS")
		blog "capture_tps round $r $v: $tps TPS"
		if [ "$v" = plain ]; then plain_tps+=("$tps"); else repl_tps+=("$tps"); fi
	done
done
bsql -c "SELECT mesh.wait_for_sync(120000)" >/dev/null
cap_plain=$(printf '%s\n' "${plain_tps[@]}" | stat_median)
cap_repl=$(printf '%s\n' "${repl_tps[@]}" | stat_median)
cap_ratio=$(ratio "$cap_repl" "$cap_plain")
consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('rep_repl')")

# ---- bulk_copy (route paused), which leaves the fan-out backlog
blog "bulk_copy: writing $BENCH_BULK_ROWS rows to a file"
csv=$(bench_rows_csv "$BENCH_BULK_ROWS")
bsql -c "SELECT mesh.pause('rep_repl', 'rep_cache')" >/dev/null
plain_ms=()
repl_ms=()
for ((r = 1; r <= BENCH_REPS; r++)); do
	p=$(copy_ms rep_plain "$csv")
	q=$(copy_ms rep_repl "$csv")
	blog "bulk_copy rep $r: plain $p ms, replicated $q ms"
	plain_ms+=("$p")
	repl_ms+=("$q")
done
bulk_plain=$(printf '%s\n' "${plain_ms[@]}" | stat_min)
bulk_repl=$(printf '%s\n' "${repl_ms[@]}" | stat_min)
bulk_ratio=$(ratio "$bulk_plain" "$bulk_repl")
bsql -c "SELECT mesh.unreplicate('rep_repl', 'rep_cache')" >/dev/null
redis_delete_pattern 'rep:*'

# ---- the fan-out backlog: exactly BENCH_BULK_ROWS events
bsql >/dev/null <<SQL
CREATE TABLE rep_fan (id bigint PRIMARY KEY, sensor text, v float8, ts timestamptz);
SELECT mesh.replicate('rep_fan', 'rep_cache', '{"key_prefix": "rep:"}', 'cache');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('rep_fan', 'rep_cache');
COPY rep_fan FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
CHECKPOINT;
SQL
backlog=$(bsql -At -c "SELECT pending FROM mesh.stats WHERE target = 'rep_cache'")
blog "backlog: $backlog events"

# ---- fanout + worker_rss
sample_rss() {
	local pid=$1 out=$2
	: >"$out"
	while kill -0 "$pid" 2>/dev/null; do
		{
			awk '/^VmRSS/ { r = $2 } END { printf "%s ", r + 0 }' "/proc/$pid/status" 2>/dev/null || true
			awk '/^Private_(Clean|Dirty)/ { p += $2 } END { print p + 0 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true
		} >>"$out"
		sleep 0.05
	done
}
t0=$(now_ns)
bsql -c "SELECT mesh.resume('rep_fan', 'rep_cache')" >/dev/null
pid=
for ((i = 0; i < 300; i++)); do
	pid=$(bsql -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type IN ('mesh database worker', 'mesh delivery worker')
		AND application_name = 'mesh route ' || (SELECT id FROM mesh.routes WHERE target = 'rep_cache')" || true)
	[ -n "$pid" ] && break
	sleep 0.01
done
sampler=
if [ -n "$pid" ]; then
	sample_rss "$pid" "$work/rss.txt" &
	sampler=$!
fi
synced=$(bsql -At -c "SELECT mesh.wait_for_sync(600000)")
t1=$(now_ns)
[ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
[ "$synced" = t ] || bdie "fan-out did not finish within 600 s"
mesh_fan_ms=$(((t1 - t0) / 1000000))
delivered_ok=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('rep_fan')")
rss_max=$(awk '{ if ($1 > m) m = $1 } END { print m + 0 }' "$work/rss.txt" 2>/dev/null || echo 0)
priv_max=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$work/rss.txt" 2>/dev/null || echo 0)

blog "fanout baseline: redis-cli --pipe of the same $BENCH_BULK_ROWS hashes"
bsql -At -F '|' -c "SELECT id, sensor, v, ts FROM rep_fan ORDER BY id" |
	LC_ALL=C awk -F '|' '{
		k = "base:" $1
		printf "*10\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$2\r\nid\r\n$%d\r\n%s\r\n", length(k), k, length($1), $1
		printf "$6\r\nsensor\r\n$%d\r\n%s\r\n$1\r\nv\r\n$%d\r\n%s\r\n$2\r\nts\r\n$%d\r\n%s\r\n", length($2), $2, length($3), $3, length($4), $4
	}' >"$work/base.resp"
t0=$(now_ns)
rcli --pipe <"$work/base.resp" >"$work/pipe.log" 2>&1
t1=$(now_ns)
grep -q "errors: 0" "$work/pipe.log" || bdie "redis-cli --pipe: $(cat "$work/pipe.log")"
base_fan_ms=$(((t1 - t0) / 1000000))
fan_ratio=$(ratio "$base_fan_ms" "$mesh_fan_ms")
redis_delete_pattern 'base:*'

# ---- lag
venv="$MESH_TEST_DIR/venv"
if [ ! -x "$venv/bin/python" ]; then
	blog "installing psycopg2-binary and redis into $venv (PyPI)"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q psycopg2-binary redis >/dev/null
fi
bsql >/dev/null <<'SQL'
CREATE TABLE rep_lag (id int PRIMARY KEY, sensor text, v float8);
SELECT mesh.replicate('rep_lag', 'rep_cache', '{"key_prefix": "rep:lag:"}');
SELECT mesh.wait_for_sync(60000);
SQL
lag=$("$venv/bin/python" "$BENCH_DIR/lag_probe.py" \
	"host=127.0.0.1 port=$MESH_PG_PORT user=postgres dbname=$BENCH_DB" "$MESH_REDIS_PORT" \
	rep_lag "rep:lag:" 1000 "$BENCH_LAG_SECONDS" explain)

cat <<REPORT

== replication benchmarks ($(bench_build_info))
capture_tps   plain $cap_plain TPS, replicated $cap_repl TPS: ratio $cap_ratio (target >= 0.80: $(meets "$cap_ratio" 0.80)); replica consistent: $consistent
bulk_copy     COPY $BENCH_BULK_ROWS rows: plain $bulk_plain ms, replicated $bulk_repl ms: ratio $bulk_ratio (target >= 0.60: $(meets "$bulk_ratio" 0.60))
fanout        $backlog events to Redis: mesh $mesh_fan_ms ms, redis-cli --pipe $base_fan_ms ms: ratio $fan_ratio (target >= 0.50: $(meets "$fan_ratio" 0.50)); replica consistent: $delivered_ok
worker_rss    route worker during the fan-out: max VmRSS $((rss_max / 1024)) MB, max private $((priv_max / 1024)) MB (target < 100 MB)
lag           at 1,000 rows/s: $lag (ms; target p99 < 100 ms)
reproduce:    $(bench_env_prefix) bash bench/replication.sh
RESULT replication_capture_tps plain=$cap_plain replicated=$cap_repl ratio=$cap_ratio target>=0.80
RESULT replication_bulk_copy plain_ms=$bulk_plain replicated_ms=$bulk_repl ratio=$bulk_ratio target>=0.60
RESULT replication_fanout mesh_ms=$mesh_fan_ms redis_cli_ms=$base_fan_ms ratio=$fan_ratio target>=0.50
RESULT replication_worker_rss max_rss_mb=$((rss_max / 1024)) max_private_mb=$((priv_max / 1024)) target<100
RESULT replication_lag $lag target_p99<100
REPORT
