#!/usr/bin/env bash
# servers: redis
# Check: the workers follow the extension and the database.  CREATE
# EXTENSION starts a database worker, which delivers the routes itself (no
# process per route) and says so in mesh.stats' state; DROP EXTENSION stops
# it, CREATE EXTENSION brings it back, and DROP DATABASE is not blocked by
# it.  Every worker's backend type starts with "mesh ".
set -euo pipefail
CHECK=lifecycle
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_life

workers() {
	q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type = '$1'"
}

# wait_count TYPE N: until N workers of that type run in the database
wait_count() {
	local i n
	for ((i = 0; i < 300; i++)); do
		n=$(workers "$1")
		[ "$n" = "$2" ] && return 0
		sleep 0.05
	done
	fail "expected $2 '$1' in $db, found $n"
}

q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
q -d "$db" -c "CREATE TABLE t (id int PRIMARY KEY)" >/dev/null
wait_count "mesh database worker" 0
q -d "$db" -c "CREATE EXTENSION mesh" >/dev/null
wait_count "mesh database worker" 1
q -d "$db" >/dev/null <<SQL
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
SELECT mesh.replicate('t', 'cache', '{"key_prefix": "life:"}');
SQL
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(30000)")" = t ] || fail "route never synced"
# state: what the stats say at this moment
state() { q -d "$db" -c "SELECT state FROM mesh.stats WHERE target = 'cache'"; }
[ "$(state)" = idle ] || fail "a synced route's state is '$(state)', expected idle"
wait_count "mesh database worker" 1
wait_count "mesh delivery worker" 0
q -d "$db" -c "SELECT mesh.pause('t', 'cache')" >/dev/null
[ "$(state)" = paused ] || fail "a paused route's state is '$(state)'"
q -d "$db" -c "INSERT INTO t VALUES (1)" >/dev/null
q -d "$db" -c "SELECT mesh.resume('t', 'cache')" >/dev/null
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(30000)")" = t ] || fail "the resumed route never synced"
[ "$(state)" = idle ] || fail "the resumed route's state is '$(state)', expected idle"
q -d "$db" -c "DROP EXTENSION mesh CASCADE" >/dev/null 2>&1
wait_count "mesh database worker" 0
q -d "$db" -c "CREATE EXTENSION mesh" >/dev/null
wait_count "mesh database worker" 1
bad=$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type ILIKE '%mesh%' AND backend_type NOT LIKE 'mesh %'")
[ "$bad" = 0 ] || fail "a worker's backend type does not start with 'mesh '"
[ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mesh launcher'")" = 1 ] ||
	fail "no mesh launcher"
q -d postgres -c "DROP DATABASE $db" >/dev/null || fail "DROP DATABASE was blocked by the workers"
echo "$CHECK: ok"
