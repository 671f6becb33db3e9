#!/usr/bin/env bash
# bench/capture.sh: what writers pay for trigger capture (issue 17), side by
# side with two hand-written outboxes, in one run.
#
# Single-row INSERT TPS (pgbench, 2 clients, prepared, one row per
# transaction), slices of BENCH_CAP_SECONDS in the order A B C D E E D C B A,
# each variant's figure the median of its slices:
#   A  plain     an unreplicated table
#   B  paused    a mesh-replicated table whose route is paused (capture alone)
#   C  hub       a mesh-replicated table whose route delivers to Redis while
#                pgbench runs (capture plus delivery on the same machine)
#   D  rowtrig   a PL/pgSQL AFTER INSERT row trigger appending to_jsonb(NEW)
#                to an outbox (bigserial id, jsonb)
#   E  stmttrig  an AFTER INSERT statement trigger with a transition table
#                (REFERENCING NEW TABLE) appending to such an outbox
#   F  walpaused as B, the table captured from WAL (mesh.set_capture)
#   G  walhub    as C, the table captured from WAL
# (F and G where the hub can capture from WAL: wal_level = logical; the run
# sets mesh.capture = wal with ALTER SYSTEM for its duration, and every
# replicated table's capture explicitly with mesh.set_capture.)
# CPU per row: the pgbench backends' CPU (/proc/PID/schedstat) over the
# middle of each slice divided by the rows inserted meanwhile; a variant's
# capture cost is its figure minus A's.  Delivery CPU per event (C): CPU of
# every mesh process (bench/pool_procs.py) over the slice and its drain,
# divided by the rows the slice inserted.
# COPY of BENCH_BULK_ROWS (1M) rows from a file into A, B (paused), D, E and F,
# best of BENCH_REPS (2), ratio A's time / the variant's.
#
# Servers: those of bench/lib.sh (BENCH_SERVERS="redis" is enough).
# Last line: RESULT capture ...
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_CAP_SECONDS=${BENCH_CAP_SECONDS:-10}
BENCH_BULK_ROWS=${BENCH_BULK_ROWS:-1000000}
BENCH_REPS=${BENCH_REPS:-2}
VARIANTS="plain paused hub rowtrig stmttrig"
WAL_VARIANTS="walpaused walhub"

bench_servers_up
work=$BENCH_WORK
idle_note=$(bench_warn_if_busy)
blog "$idle_note"
postmaster=$(head -n 1 "$MESH_TEST_DIR/pg_hub/data/postmaster.pid")

# WAL capture for the run (restored at exit) where the hub can do it
wal=no
if [ "$(bsql -At -c "SHOW wal_level")" = logical ]; then
	bsql -c "ALTER SYSTEM SET mesh.capture = 'wal'" -c "SELECT pg_reload_conf()" >/dev/null
	# the servers' EXIT trap (bench_servers_up) runs after this reset
	trap 'bsql -c "ALTER SYSTEM RESET mesh.capture" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true; bench_stop_servers' EXIT
	for ((i = 0; i < 300; i++)); do
		[ "$(bsql -At -c "SELECT mesh._wal_ready()")" = t ] && { wal=yes; break; }
		sleep 0.1
	done
fi
[ "$wal" = yes ] && VARIANTS="$VARIANTS $WAL_VARIANTS" || blog "no WAL capture on this hub (wal_level, slot): F and G left out"

blog "setting up the tables"
redis_delete_pattern 'cap:*'
cols="id bigserial PRIMARY KEY, sensor text, v float8, ts timestamptz DEFAULT now()"
bsql >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS cap_plain, cap_paused, cap_hub, cap_rowtrig, cap_stmttrig,
	cap_outbox_row, cap_outbox_stmt, cap_walpaused, cap_walhub CASCADE;
DROP SERVER IF EXISTS cap_cache CASCADE;
CREATE SERVER cap_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
CREATE TABLE cap_plain ($cols);
CREATE TABLE cap_paused ($cols);
CREATE TABLE cap_hub ($cols);
CREATE TABLE cap_rowtrig ($cols);
CREATE TABLE cap_stmttrig ($cols);
CREATE TABLE cap_walpaused ($cols);
CREATE TABLE cap_walhub ($cols);
CREATE TABLE cap_outbox_row (id bigserial PRIMARY KEY, row jsonb);
CREATE TABLE cap_outbox_stmt (id bigserial PRIMARY KEY, row jsonb);
CREATE OR REPLACE FUNCTION cap_outbox_row() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	INSERT INTO cap_outbox_row (row) VALUES (to_jsonb(NEW));
	RETURN NULL;
END \$\$;
CREATE TRIGGER cap_outbox AFTER INSERT ON cap_rowtrig FOR EACH ROW EXECUTE FUNCTION cap_outbox_row();
CREATE OR REPLACE FUNCTION cap_outbox_stmt() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	INSERT INTO cap_outbox_stmt (row) SELECT to_jsonb(n) FROM new_rows n;
	RETURN NULL;
END \$\$;
CREATE TRIGGER cap_outbox AFTER INSERT ON cap_stmttrig REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION cap_outbox_stmt();
SQL
# capture_pair CAPTURE PAUSED HUB: both tables replicated to Redis and
# captured with CAPTURE, the route of PAUSED paused
capture_pair() {
	bsql >/dev/null <<SQL
SELECT mesh.replicate(t, 'cap_cache', jsonb_build_object('key_prefix', 'cap:' || t || ':'), 'cache'),
	   mesh.set_capture(t, '$1') FROM unnest(ARRAY['$2', '$3']::regclass[]) t;
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('$2', 'cap_cache');
SQL
}
capture_pair trigger cap_paused cap_hub
[ "$wal" = no ] || capture_pair wal cap_walpaused cap_walhub
for v in $VARIANTS; do
	echo "INSERT INTO cap_$v (sensor, v) VALUES ('s', 1.5);" >"$work/cap_$v.sql"
done

# cpu_ns PID...: CPU time of the processes so far (ns, /proc/PID/schedstat)
cpu_ns() {
	local p s=0 t
	for p in "$@"; do
		read -r t _ <"/proc/$p/schedstat" && s=$((s + t))
	done
	echo "$s"
}
inserted() { bsql -At -c "SELECT last_value FROM cap_$1_id_seq"; }

# slice VARIANT SECONDS: one pgbench run; prints "TPS CPU_NS_PER_ROW
# OTHER_PCT" (the share of the CPUs other work used meanwhile).
slice() {
	local v=$1 s=$2 pb pids c0 c1 r0 r1 tps o0 o1 n0
	o0=$(other_cpu_ticks)
	n0=$(now_ns)
	pgbench_tps "$work/cap_$v.sql" "$s" >"$work/cap_tps" &
	pb=$!
	sleep 1
	pids=$(bsql -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'")
	r0=$(inserted "$v")
	# shellcheck disable=SC2086
	c0=$(cpu_ns $pids)
	sleep $((s - 2))
	# shellcheck disable=SC2086
	c1=$(cpu_ns $pids)
	r1=$(inserted "$v")
	wait "$pb"
	o1=$(other_cpu_ticks)
	tps=$(cat "$work/cap_tps")
	echo "$tps $(awk -v c=$((c1 - c0)) -v r=$((r1 - r0)) 'BEGIN { printf "%.0f", r ? c / r : 0 }')" \
		"$(other_cpu_pct "$o0" "$o1" "$(secs "$n0" "$(now_ns)")")"
}

declare -A tps_of cpu_of other_of
deliv_cpu_s=0
deliv_events=0
blog "warm-up"
for v in $VARIANTS; do slice "$v" 3 >/dev/null; done
bsql -c "SELECT mesh.wait_for_sync(120000)" >/dev/null
order="plain paused hub rowtrig stmttrig stmttrig rowtrig hub paused plain"
[ "$wal" = yes ] && order="plain paused hub walpaused walhub rowtrig stmttrig stmttrig rowtrig walhub walpaused hub paused plain"
for v in $order; do
	if [ "$v" = hub ]; then
		r0=$(inserted hub)
		python3 "$BENCH_DIR/pool_procs.py" "$postmaster" $((BENCH_CAP_SECONDS + 5)) >"$work/cap_procs" &
		procs=$!
	fi
	set -- $(slice "$v" "$BENCH_CAP_SECONDS")
	tps_of[$v]="${tps_of[$v]:-} $1"
	cpu_of[$v]="${cpu_of[$v]:-} $2"
	other_of[$v]="${other_of[$v]:-} $3"
	blog "$v: $1 TPS, backend CPU $2 ns/row [other work $3%]"
	if [ "$v" = hub ]; then
		bsql -c "SELECT mesh.wait_for_sync(120000)" >/dev/null
		wait "$procs"
		c=$(sed -n 's/^cpu_s=\([0-9.]*\) .*/\1/p' "$work/cap_procs")
		n=$(($(inserted hub) - r0))
		blog "hub delivery: $c s of mesh processes' CPU for $n events"
		deliv_cpu_s=$(awk -v a="$deliv_cpu_s" -v b="$c" 'BEGIN { print a + b }')
		deliv_events=$((deliv_events + n))
	fi
done
consistent=$(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('cap_hub')")
if [ "$wal" = yes ]; then
	# what WAL capture wrote: G's replica verifies, F has one event per row
	bsql -c "SELECT mesh.wait_for_sync(300000)" >/dev/null
	consistent="$consistent; WAL (G): $(bsql -At -c "SELECT bool_and(consistent) FROM mesh.verify('cap_walhub')")"
	consistent="$consistent; F rows/events: $(bsql -At -c "SELECT (SELECT count(*) FROM cap_walpaused) || '/' ||
		(SELECT count(*) FROM mesh.event_log WHERE source = 'cap_walpaused'::regclass AND op = 'I')")"
fi

declare -A tps cpu
other_max=0
for v in $VARIANTS; do
	set -- $(clean_median "${tps_of[$v]}" "${other_of[$v]}")
	tps[$v]=$1
	[ "$2" = 0 ] && disturbed=yes
	cpu[$v]=$(median "${cpu_of[$v]}")
	other_max=$(echo "$other_max ${other_of[$v]}" | tr ' ' '\n' | grep . | stat_max)
done
us() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1000 }'; }
extra() { awk -v a="${cpu[$1]}" -v b="${cpu[plain]}" 'BEGIN { printf "%.2f", (a - b) / 1000 }'; }
deliv_us=$(awk -v c="$deliv_cpu_s" -v n="$deliv_events" 'BEGIN { printf "%.2f", n ? 1e6 * c / n : 0 }')

# ---- COPY
blog "COPY: writing $BENCH_BULK_ROWS rows to a file"
csv=$(bench_rows_csv "$BENCH_BULK_ROWS")
declare -A copy_list
for ((r = 1; r <= BENCH_REPS; r++)); do
	copy_list[plain]="${copy_list[plain]:-} $(copy_ms cap_plain "$csv")"
	copy_list[paused]="${copy_list[paused]:-} $(copy_ms cap_paused "$csv")"
	copy_list[rowtrig]="${copy_list[rowtrig]:-} $(copy_ms cap_rowtrig "$csv" "cap_rowtrig, cap_outbox_row")"
	copy_list[stmttrig]="${copy_list[stmttrig]:-} $(copy_ms cap_stmttrig "$csv" "cap_stmttrig, cap_outbox_stmt")"
	[ "$wal" = no ] || copy_list[walpaused]="${copy_list[walpaused]:-} $(copy_ms cap_walpaused "$csv")"
	blog "COPY rep $r (ms): plain paused rowtrig stmttrig walpaused:$(for v in plain paused rowtrig stmttrig walpaused; do echo -n " ${copy_list[$v]:+${copy_list[$v]##* }}"; done)"
done
declare -A copy
copy_variants="plain paused rowtrig stmttrig"
[ "$wal" = no ] || copy_variants="$copy_variants walpaused"
for v in $copy_variants; do
	copy[$v]=$(echo "${copy_list[$v]}" | tr ' ' '\n' | grep . | stat_min)
done
bsql >/dev/null <<SQL
SET client_min_messages = warning;
SELECT mesh.unreplicate('cap_paused', 'cap_cache');
SELECT mesh.unreplicate('cap_hub', 'cap_cache');
SELECT mesh.unreplicate(t, 'cap_cache') FROM unnest(ARRAY['cap_walpaused', 'cap_walhub']::regclass[]) t
	WHERE mesh.capture_of(t) IS NOT NULL;
TRUNCATE cap_plain, cap_paused, cap_hub, cap_rowtrig, cap_stmttrig, cap_outbox_row, cap_outbox_stmt,
	cap_walpaused, cap_walhub;
SQL
redis_delete_pattern 'cap:*'

row() { printf '  %-9s %-44s %9.0f TPS  %5s   %7s us  %6s us\n' "$1" "$2" "${tps[$1]}" "$(ratio "${tps[$1]}" "${tps[plain]}")" "$(us "${cpu[$1]}")" "$(extra "$1")"; }
crow() { printf '  %-9s %8s ms  %5s\n' "$1" "${copy[$1]}" "$(ratio "${copy[plain]}" "${copy[$1]}")"; }
cat <<REPORT

== trigger capture vs hand-written outboxes ($(bench_build_info))
single-row INSERT, pgbench 2 clients prepared, $BENCH_CAP_SECONDS s slices A B C D E E D C B A, medians
(TPS: of the slices with other work <= $BENCH_OTHER_MAX% of the CPUs, all where none was; backend CPU: of all):
  variant                                                      TPS  ratio   backend CPU/row  extra vs A
$(row plain "A unreplicated table")
$(row paused "B mesh, route paused (capture alone)")
$(row hub "C mesh, route delivering to Redis")
$(row rowtrig "D PL/pgSQL row trigger -> outbox")
$(row stmttrig "E statement trigger, transition table")
$([ "$wal" = no ] || row walpaused "F mesh WAL capture, route paused")
$([ "$wal" = no ] || row walhub "G mesh WAL capture, delivering to Redis")
delivery CPU (C): $deliv_cpu_s s of every mesh process for $deliv_events events = $deliv_us us/event; replica consistent: $consistent
COPY of $BENCH_BULK_ROWS rows from a file, best of $BENCH_REPS, ratio = A's time / the variant's:
$(crow plain)
$(crow paused)
$(crow rowtrig)
$(crow stmttrig)
$([ "$wal" = no ] || crow walpaused)
targets: B >= 0.80 and above D and E: $(meets "$(ratio "${tps[paused]}" "${tps[plain]}")" 0.80); C >= 0.70: $(meets "$(ratio "${tps[hub]}" "${tps[plain]}")" 0.70); COPY B >= 0.60: $(meets "$(ratio "${copy[plain]}" "${copy[paused]}")" 0.60)
$idle_note
$(other_cpu_report "$other_max" "${disturbed:-no}")
reproduce: $(bench_env_prefix) BENCH_SERVERS=redis bash bench/capture.sh
RESULT capture plain_tps=${tps[plain]} paused_tps=${tps[paused]} paused_ratio=$(ratio "${tps[paused]}" "${tps[plain]}") hub_tps=${tps[hub]} hub_ratio=$(ratio "${tps[hub]}" "${tps[plain]}") rowtrig_ratio=$(ratio "${tps[rowtrig]}" "${tps[plain]}") stmttrig_ratio=$(ratio "${tps[stmttrig]}" "${tps[plain]}") capture_us_per_row=$(extra paused) rowtrig_us_per_row=$(extra rowtrig) stmttrig_us_per_row=$(extra stmttrig) delivery_us_per_event=$deliv_us copy_plain_ms=${copy[plain]} copy_paused_ratio=$(ratio "${copy[plain]}" "${copy[paused]}") copy_rowtrig_ratio=$(ratio "${copy[plain]}" "${copy[rowtrig]}") copy_stmttrig_ratio=$(ratio "${copy[plain]}" "${copy[stmttrig]}") $([ "$wal" = no ] || echo "wal_paused_ratio=$(ratio "${tps[walpaused]}" "${tps[plain]}") wal_hub_ratio=$(ratio "${tps[walhub]}" "${tps[plain]}") copy_wal_ratio=$(ratio "${copy[plain]}" "${copy[walpaused]}")") other_max_pct=$other_max
REPORT
