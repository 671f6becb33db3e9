#!/usr/bin/env bash
# bench/duckdb.sh: DuckDB as an analytical replica, against baselines
# measured in the same run on the same machine.
#
#  fanout  a backlog of BENCH_DD_ROWS (1M) events (a COPY into a table whose
#          route to a DuckDB file is paused) delivered after mesh.resume,
#          until mesh.wait_for_sync, versus DuckDB's own bulk path: a
#          libduckdb client (bench/duckdb_copy.c) running COPY ... FROM the
#          same rows as CSV into a table of the same layout (PRIMARY KEY
#          included), in a file of its own.
#          ratio = COPY seconds / mesh seconds
#  agg     a GROUP BY over the 1M replicated rows through a foreign table
#          (pushed down: EXPLAIN's DuckDB SQL is printed) versus the same
#          query on the source table in PostgreSQL.
#          ratio = PostgreSQL seconds / DuckDB-through-mesh seconds
#
# Each part runs BENCH_REPS (3) times; the median is reported.  Uses the
# servers bench/lib.sh finds or starts; with the test servers:
#   MESH_TEST_DIR=/tmp/mesh-test MESH_PG_PORT=21432 bash bench/duckdb.sh
# DuckDB files live in $MESH_TEST_DIR/pg_hub/duckdb_bench (removed after).
# Last lines: RESULT duckdb_<part> ...
set -euo pipefail
# a database of its own: its mesh extension has the DuckDB wrapper
BENCH_DB=${BENCH_DB:-mesh_bench_duckdb}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_REPS=${BENCH_REPS:-3}
BENCH_DD_ROWS=${BENCH_DD_ROWS:-1000000}
N=$BENCH_DD_ROWS
DDIR="$MESH_TEST_DIR/pg_hub/duckdb_bench"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
LIB="$("$PG_CONFIG" --pkglibdir)/libduckdb.so"
COPY_BIN="$BENCH_WORK/duckdb_copy"

median_of() { median "${times[$1]}"; }  # every repetition counts here
# psql_secs QUERY: psql's \timing of QUERY, in seconds
psql_secs() {
	printf '\\timing on\n%s;\n' "$1" | bsql -At | awk '/^Time: / { t = $2 / 1000 } END { printf "%.6f\n", t }'
}

cleanup() {
	bsql -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS dd_fan CASCADE" \
		-c "DROP SERVER IF EXISTS bench_dd CASCADE" >/dev/null 2>&1 || true
	rm -rf "$DDIR"
	bench_stop_servers
}

bench_servers_up
trap cleanup EXIT
[ -f "$LIB" ] || bdie "no $LIB: run make install"
mkdir -p "$BENCH_WORK"
cc -O2 -o "$COPY_BIN" "$BENCH_DIR/duckdb_copy.c" -ldl
rm -rf "$DDIR"
mkdir -p "$DDIR"
chown postgres "$DDIR" 2>/dev/null || true
csv="$DDIR/rows.csv"
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS dd_fan CASCADE;
DROP SERVER IF EXISTS bench_dd CASCADE;
CREATE SERVER bench_dd FOREIGN DATA WRAPPER mesh_duckdb
	OPTIONS (path '$DDIR/fan.duckdb', timeout_ms '600000');
COPY (SELECT g, 's' || (g % 100), g * 0.5, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s'
	FROM generate_series(1, $N) g) TO '$csv' WITH (FORMAT csv);
SQL
echo "== duckdb benchmarks: $BENCH_REPS repetitions each, median reported"
echo "build: $(bench_build_info)"

for ((r = 1; r <= BENCH_REPS; r++)); do
	bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS dd_fan CASCADE;
SELECT * FROM mesh.execute('bench_dd', 'DROP TABLE IF EXISTS dd_fan');
CREATE TABLE dd_fan (id bigint PRIMARY KEY, sensor text, v float8, ts timestamptz);
SELECT mesh.replicate('dd_fan', 'bench_dd');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('dd_fan', 'bench_dd');
COPY dd_fan FROM '$csv' WITH (FORMAT csv);
-- the backlog is in the event log before the clock starts (WAL capture writes it after the COPY)
SELECT mesh._wal_catch_up();
CHECKPOINT;
SQL
	backlog=$(bsql -At -c "SELECT pending FROM mesh.stats WHERE source = 'dd_fan'::regclass")
	[ "$backlog" = "$N" ] || bdie "fanout backlog is $backlog events, expected $N"
	t0=$(now_ns)
	bsql -c "SELECT mesh.resume('dd_fan', 'bench_dd')" >/dev/null
	[ "$(bsql -At -c "SELECT mesh.wait_for_sync(600000)")" = t ] || bdie "fan-out did not finish in 600 s"
	t1=$(now_ns)
	times[fan_mesh]="${times[fan_mesh]:-} $(secs "$t0" "$t1")"
	got=$(bsql -At -c "SELECT * FROM mesh.execute('bench_dd', 'SELECT count(*) AS n FROM dd_fan')")
	[ "$got" = "{\"n\": $N}" ] || bdie "DuckDB holds $got rows, expected $N"
	rm -f "$DDIR/base.duckdb" "$DDIR/base.duckdb.wal"
	b=$("$COPY_BIN" "$LIB" "$DDIR/base.duckdb" \
		"CREATE TABLE fan_base (id BIGINT PRIMARY KEY, sensor VARCHAR, v DOUBLE, ts TIMESTAMPTZ)" \
		"COPY fan_base FROM '$csv' (FORMAT csv)")
	times[fan_copy]="${times[fan_copy]:-} $b"
	blog "fanout rep $r: mesh $(echo "${times[fan_mesh]}" | awk '{ print $NF }') s, COPY $b s"
done
consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('dd_fan')")
m=$(median_of fan_mesh)
b=$(median_of fan_copy)
ratio=$(ratio "$b" "$m")
echo "fanout   $N events to DuckDB: mesh $(printf '%.3f' "$m") s ($(awk -v n="$N" -v s="$m" 'BEGIN { printf "%.0f", n / s }') rows/s), libduckdb COPY FROM csv $(printf '%.3f' "$b") s: ratio $ratio; replica consistent: $consistent"
results=("RESULT duckdb_fanout rows=$N mesh_s=$m copy_s=$b ratio=$ratio consistent=$consistent")

# ---- agg: the replica through a foreign table vs the source in PostgreSQL
bsql >/dev/null <<SQL
SET client_min_messages = warning;
CREATE FOREIGN TABLE dd_fan_replica (id bigint, sensor text, v float8, ts timestamptz)
	SERVER bench_dd OPTIONS ("table" 'dd_fan');
VACUUM ANALYZE dd_fan;
SQL
QF="SELECT sensor, count(*), sum(id), min(v), max(ts) FROM dd_fan_replica GROUP BY sensor"
QP="SELECT sensor, count(*), sum(id), min(v), max(ts) FROM dd_fan GROUP BY sensor"
echo "agg      mesh: $QF"
bsql -At -c "EXPLAIN (VERBOSE, COSTS OFF) $QF" | grep 'Remote request' | sed 's/^ */           /'
[ "$(bsql -At -c "$QF ORDER BY 1" | md5sum)" = "$(bsql -At -c "$QP ORDER BY 1" | md5sum)" ] ||
	bdie "the replica's GROUP BY differs from the source's"
for ((r = 1; r <= BENCH_REPS; r++)); do
	times[agg_mesh]="${times[agg_mesh]:-} $(psql_secs "$QF")"
	times[agg_pg]="${times[agg_pg]:-} $(psql_secs "$QP")"
done
f=$(median_of agg_mesh)
p=$(median_of agg_pg)
ratio=$(ratio "$p" "$f")
echo "agg      GROUP BY over $N rows: DuckDB through mesh $(printf '%.3f' "$f") s, PostgreSQL $(printf '%.3f' "$p") s: ratio $ratio (> 1: DuckDB faster)"
results+=("RESULT duckdb_agg rows=$N mesh_s=$f pg_s=$p ratio=$ratio")
bsql -c "SELECT mesh.unreplicate('dd_fan', 'bench_dd')" >/dev/null
printf '%s\n' "${results[@]}"
