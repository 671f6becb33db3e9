#!/usr/bin/env bash
# Runs the mesh test suite from a fresh machine:
#   test/run.sh               every suite (CI)
#   test/run.sh NAME...       only the suites named NAME or NAME_* (a suite is
#                             sql/NAME.sql or checks/NAME.sh under test/ or a
#                             backend's fdw/<kind>/test/, or test/specs/NAME.spec;
#                             see test/lib/suites.sh), e.g. `test/run.sh redis
#                             replication lifecycle`, and only their servers
# Steps:
#   1. test/harness.sh install SERVERS (packages and caches; idempotent)
#   2. make clean all install       (build and install the extension)
#   3. test/harness.sh start SERVERS (the servers the chosen suites name in
#                                   their "servers:" header line)
#   4. make installcheck            (pg_regress and isolation tests)
#   5. test/checks/*.sh             (process-level checks; exit 0 = pass)
#   6. test/harness.sh stop         (always, also on error or interrupt)
# The very last line printed is "N passed, N failed" (pg_regress tests plus
# checks). Exit status is non-zero if anything failed; a failed install, build
# or server start counts as one failure.
#
# Environment: PG_CONFIG (default: PostgreSQL 15's pg_config), MESH_CHECK_TIMEOUT
# (seconds per check, default 900), and the harness's MESH_* settings.
set -uo pipefail
exec 2>&1 </dev/null

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS="$REPO/test/harness.sh"
harness() { bash "$HARNESS" "$@"; }
if [ -z "${PG_CONFIG:-}" ]; then
	if [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
		PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	else
		PG_CONFIG=pg_config
	fi
fi
export PG_CONFIG

PASSED=0
FAILED=0
WORK=$(mktemp -d)

# finish: stop every server, then print the summary as the last line.
finish() {
	local rc=$?
	trap - EXIT INT TERM
	echo "== stop servers"
	if ! harness stop; then
		echo "run: stopping the servers failed"
		FAILED=$((FAILED + 1))
	fi
	rm -rf "$WORK"
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
		echo "run: aborted with status $rc"
		FAILED=1
	fi
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ]; then exit 1; fi
	exit 0
}
trap finish EXIT
trap 'echo "run: interrupted"; FAILED=$((FAILED + 1)); exit 130' INT TERM

# must STEP CMD...: run a step the rest depends on; on failure count one
# failure and stop the run (finish prints the summary).
must() {
	local what=$1
	shift
	echo "== $what"
	if ! "$@"; then
		echo "run: FAILED: $what"
		FAILED=$((FAILED + 1))
		exit 1
	fi
}

# build_and_install: a clean build on every core, then the install.
build_and_install() {
	make -C "$REPO" PG_CONFIG="$PG_CONFIG" clean >/dev/null &&
		make -C "$REPO" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" all &&
		make -C "$REPO" PG_CONFIG="$PG_CONFIG" install
}

# shellcheck source=lib/suites.sh
. "$REPO/test/lib/suites.sh"

# Choose the suites: all, or those named (NAME or NAME_*).
REGRESS_SEL="" ISOLATION_SEL="" CHECKS_SEL="" SERVERS_SEL=""
select_suites() {
	local f base name hit
	while IFS= read -r f; do
		base=$(basename "$f")
		base=${base%.*}
		hit=$(($# == 0))
		for name in "$@"; do
			if [ "$base" = "$name" ] || [[ "$base" == "${name}_"* ]]; then hit=1; fi
		done
		[ "$hit" = 1 ] || continue
		case $f in
		*.sql) REGRESS_SEL="$REGRESS_SEL $base" ;;
		*.spec) ISOLATION_SEL="$ISOLATION_SEL $base" ;;
		*.sh) CHECKS_SEL="$CHECKS_SEL $f" ;;
		esac
		SERVERS_SEL="$SERVERS_SEL $(suite_servers "$f")"
	done < <(suite_files "$REPO")
	# pg_regress runs the suites in name order (they share one database)
	REGRESS_SEL=$(tr ' ' '\n' <<<"$REGRESS_SEL" | grep . | LC_ALL=C sort | sed 's/^/ /' | tr -d '\n')
	for name in "$@"; do
		if ! grep -qE "(^| )${name}(_[^ /]*)?( |$)" <<<"$REGRESS_SEL $ISOLATION_SEL $(for f in $CHECKS_SEL; do basename "$f" .sh; done | tr '\n' ' ')"; then
			echo "run: no suite is named $name or ${name}_* (see test/sql, test/specs, test/checks, fdw/*/test)"
			FAILED=$((FAILED + 1))
			exit 2
		fi
	done
	# every server without names (the suites' union plus what CI always had)
	if [ $# -eq 0 ]; then SERVERS_SEL=all; fi
	SERVERS_SEL=$(tr ' ' '\n' <<<"$SERVERS_SEL" | awk 'NF && !seen[$0]++' | tr '\n' ' ')
	echo "== suites: ${REGRESS_SEL# } ${ISOLATION_SEL# } $(for f in $CHECKS_SEL; do basename "$f" .sh; done | tr '\n' ' ')"
	echo "== servers: pg_hub ${SERVERS_SEL}"
}
select_suites "$@"

# shellcheck disable=SC2086
must "install packages" harness install $SERVERS_SEL
must "build and install the extension" build_and_install
# shellcheck disable=SC2086
must "start servers" harness start $SERVERS_SEL
eval "$(harness env)"

# ---- pg_regress
echo "== make installcheck"
rm -f "$REPO/regression.diffs" "$REPO/regression.out" "$REPO/test/regression.diffs" "$REPO/test/regression.out"
if [ $# -eq 0 ]; then
	make -C "$REPO" PG_CONFIG="$PG_CONFIG" installcheck 2>&1 | tee "$WORK/installcheck.log"
	ic_rc=${PIPESTATUS[0]}
else
	make -C "$REPO" PG_CONFIG="$PG_CONFIG" REGRESS="${REGRESS_SEL# }" ISOLATION="${ISOLATION_SEL# }" \
		installcheck 2>&1 | tee "$WORK/installcheck.log"
	ic_rc=${PIPESTATUS[0]}
fi

# Counts "test NAME ... ok", "     NAME ... ok" (parallel group), "... FAILED",
# "... failed (ignored)" (counted as failed), and the TAP form of newer
# pg_regress ("ok 1 - NAME", "not ok 2 + NAME").
read -r rp rf < <(awk '
	/^[ \t]*(test[ \t]+)?[^ \t]+[ \t]+\.\.\.[ \t]+ok([ \t]|$)/ { p++; next }
	/^[ \t]*(test[ \t]+)?[^ \t]+[ \t]+\.\.\.[ \t]+(FAILED|failed)/ { f++; next }
	/^not ok[ \t]+[0-9]+[ \t]+[-+][ \t]/ { f++; next }
	/^ok[ \t]+[0-9]+[ \t]+[-+][ \t]/ { p++; next }
	END { print p + 0, f + 0 }' "$WORK/installcheck.log")
PASSED=$((PASSED + rp))
FAILED=$((FAILED + rf))
echo "run: pg_regress: $rp passed, $rf failed (make exit $ic_rc)"
if [ "$ic_rc" -ne 0 ] && [ "$rf" -eq 0 ]; then
	echo "run: FAILED: make installcheck exited $ic_rc without a failed test line"
	FAILED=$((FAILED + 1))
elif [ "$ic_rc" -eq 0 ] && [ "$rp" -eq 0 ] && [ "$rf" -eq 0 ] && [ -n "$REGRESS_SEL$ISOLATION_SEL" ]; then
	echo "run: warning: make installcheck ran no pg_regress test"
fi
if [ "$rf" -ne 0 ] || [ "$ic_rc" -ne 0 ]; then
	while IFS= read -r diffs; do
		echo "== $diffs (first 3000 lines)"
		head -n 3000 "$diffs"
	done < <(find "$REPO" -maxdepth 3 -name regression.diffs -size +0 2>/dev/null)
	if [ -f "$MESH_TEST_DIR/pg_hub/postgres.log" ]; then
		echo "== last 60 lines of $MESH_TEST_DIR/pg_hub/postgres.log"
		tail -n 60 "$MESH_TEST_DIR/pg_hub/postgres.log"
	fi
fi

# ---- process-level checks
# run_check CHECK: run one check script (bounded by MESH_CHECK_TIMEOUT);
# print its output, then "check NAME ... ok|FAILED"; exit status 0 if ok.
run_check() {
	local check=$1 name crc
	name=$(basename "$check" .sh)
	echo "== check $name"
	if [ ! -x "$check" ]; then
		echo "check $name ... FAILED (not executable: chmod +x $check)"
		return 1
	fi
	(cd "$REPO" && timeout -k 10 "${MESH_CHECK_TIMEOUT:-900}" "$check")
	crc=$?
	if [ "$crc" -eq 0 ]; then
		echo "check $name ... ok"
		return 0
	fi
	[ "$crc" -eq 124 ] && echo "check $name timed out after ${MESH_CHECK_TIMEOUT:-900}s"
	echo "check $name ... FAILED (exit $crc)"
	return 1
}

# The fault-proxy checks (faults_*) touch only their own database, proxy
# and target server: MESH_FAULT_JOBS of them (default 3) run side by side,
# each one's output printed whole when it ends.  The others run one by one.
FAULT_CHECKS="" OTHER_CHECKS=""
for check in $CHECKS_SEL; do
	case $(basename "$check") in
	faults_*) FAULT_CHECKS="$FAULT_CHECKS $check" ;;
	*) OTHER_CHECKS="$OTHER_CHECKS $check" ;;
	esac
done
# drop_check_databases: a failed check exits before dropping its databases,
# whose workers would hold worker slots the next checks need; drop them.
drop_check_databases() {
	local db
	for db in $(psql -X -q -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'mesh\_check\_%'"); do
		echo "run: dropping $db, left by the failed check"
		psql -X -q -At -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null || true
	done
}
for check in $OTHER_CHECKS; do
	if run_check "$check"; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)) && drop_check_databases; fi
done
declare -A fault_pids=()
# fault_check_done PID STATUS: print that check's output and count its result.
fault_check_done() {
	cat "${fault_pids[$1]}"
	if [ "$2" -eq 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
	unset "fault_pids[$1]"
}
for check in $FAULT_CHECKS; do
	while [ "${#fault_pids[@]}" -ge "${MESH_FAULT_JOBS:-3}" ]; do
		rc=0
		wait -n -p done_pid "${!fault_pids[@]}" || rc=$?
		fault_check_done "$done_pid" "$rc"
	done
	log="$WORK/check.$(basename "$check" .sh).log"
	run_check "$check" >"$log" 2>&1 &
	fault_pids[$!]=$log
done
for pid in "${!fault_pids[@]}"; do
	rc=0
	wait "$pid" || rc=$?
	fault_check_done "$pid" "$rc"
done
# finish (EXIT trap) stops the servers and prints the summary line.
