# Shared helpers of the process-level checks (sourced, not run).
# Each check creates its own database, prints "NAME: ok" or
# "NAME: FAILED: reason" and exits 0 or 1.

. "$(dirname "${BASH_SOURCE[0]}")/hub_sql.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

fail() {
	echo "$CHECK: FAILED: $*"
	exit 1
}

# wait_hub: until the hub accepts connections again (after a crash restart).
wait_hub() {
	local i
	for ((i = 0; i < 600; i++)); do
		if psql -X -q -At -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "the hub did not come back within 60 s"
}

# fresh_db DB: a new database with mesh, a Redis server "cache" and a
# PostgreSQL server "archive" (remote table TABLE created with the DDL in $3).
fresh_db() {
	local db=$1 table=$2 ddl=$3
	q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS $table; CREATE TABLE $table $ddl" >/dev/null
	q -d "$db" >/dev/null <<SQL
$(hub_targets_sql)
CREATE TABLE $table $ddl;
SQL
}

# expect_consistent DB TABLE: wait for sync, then every route must verify.
expect_consistent() {
	local db=$1 table=$2 synced bad
	synced=$(q -d "$db" -c "SELECT mesh.wait_for_sync(180000)")
	[ "$synced" = t ] || fail "wait_for_sync timed out: $(q -d "$db" -c "SELECT string_agg(target || ' pending=' || pending || ' error=' || coalesce(last_error, '-'), '; ') FROM mesh.stats")"
	bad=$(q -d "$db" -c "SELECT string_agg(target || ': source ' || source_rows || ' target ' || target_rows || ' missing ' || missing || ' extra ' || extra || ' mismatched ' || mismatched, '; ') FROM mesh.verify('$table') WHERE NOT consistent")
	[ -z "$bad" ] || fail "not consistent after sync: $bad"
}

# large_backlog DB TABLE: TABLE replicated to Redis and PostgreSQL, then
# 200,000 rows inserted at once: a delivery that takes a while.
large_backlog() {
	local db=$1 table=$2
	fresh_db "$db" "$table" "(id int PRIMARY KEY, v text, n int)"
	q -d "$db" >/dev/null <<SQL
SELECT mesh.replicate('$table', 'cache', '{"key_prefix": "$table:"}');
SELECT mesh.replicate('$table', 'archive');
SELECT mesh.wait_for_sync(60000);
INSERT INTO $table SELECT g, md5(g::text), 0 FROM generate_series(1, 200000) g;
SQL
}
