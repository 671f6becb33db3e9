# mesh test suites: where they live and which harness servers they need
# (sourced, not run).
#
# A suite is a pg_regress file sql/NAME.sql (expected output in
# expected/NAME.out), a process-level check checks/NAME.sh, or an isolation
# spec test/specs/NAME.spec.  The core's live under test/, each backend's
# under fdw/<kind>/test/ (its folder); names are unique across folders.

# suite_files REPO: every suite file, one per line (core first, then the
# backend folders in name order).
suite_files() {
	local repo=$1 f
	for f in "$repo"/test/sql/*.sql "$repo"/fdw/*/test/sql/*.sql "$repo"/test/specs/*.spec \
		"$repo"/test/checks/*.sh "$repo"/fdw/*/test/checks/*.sh; do
		[ -e "$f" ] && echo "$f"
	done
}

# suite_servers FILE: the names on FILE's "servers:" header line (a line
# "-- servers: a b" or "# servers: a b" in its first five lines; "(the hub
# only)" names none).
suite_servers() {
	sed -n '1,5{s/^\(--\|#\) servers: //p}' "$1" | head -n 1 | sed 's/(the hub only)//'
}

# regress_servers REPO NAME...: the union of the servers of the pg_regress
# suites NAME (test/sql/NAME.sql or fdw/<kind>/test/sql/NAME.sql).
regress_servers() {
	local repo=$1 name f
	shift
	for name in "$@"; do
		for f in "$repo"/test/sql/"$name".sql "$repo"/fdw/*/test/sql/"$name".sql; do
			[ -e "$f" ] && suite_servers "$f"
		done
	done | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' '
}
