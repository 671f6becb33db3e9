# mesh test suites: which harness servers a suite needs (sourced, not run).

# suite_servers FILE: the names on FILE's "servers:" header line (a line
# "-- servers: a b" or "# servers: a b" in its first five lines; "(the hub
# only)" names none).
suite_servers() {
	sed -n '1,5{s/^\(--\|#\) servers: //p}' "$1" | head -n 1 | sed 's/(the hub only)//'
}

# regress_servers DIR NAME...: the union of the servers of DIR/sql/NAME.sql.
regress_servers() {
	local dir=$1 name
	shift
	for name in "$@"; do suite_servers "$dir/sql/$name.sql"; done | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' '
}
