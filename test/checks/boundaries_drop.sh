#!/usr/bin/env bash
# servers: redis
# Check (issue 14, finding 12): DROP EXTENSION mesh (and DROP SCHEMA mesh
# CASCADE) with undelivered events is refused, naming the routes and the
# count; mesh.drop_discards_pending = on (superusers only) lets it discard
# them with a WARNING; once everything is delivered the drop just works.
set -euo pipefail
CHECK=boundaries_drop
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_boundaries_drop
role=boundaries_drop_app
work=$(mktemp -d)
cleanup() {
	rm -rf "$work"
	q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
}
trap cleanup EXIT

q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
q -d postgres -c "DROP ROLE IF EXISTS $role" -c "CREATE ROLE $role LOGIN" >/dev/null
q -d "$db" >/dev/null <<SQL
CREATE EXTENSION mesh;
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT', db '10');
CREATE TABLE orders (id int PRIMARY KEY, v text);
CREATE TABLE lines (id int PRIMARY KEY, v text);
SELECT mesh.replicate('orders', 'cache', '{"key_prefix": "bdrop_o:"}');
SELECT mesh.replicate('lines', 'cache', '{"key_prefix": "bdrop_l:"}');
SELECT mesh.wait_for_sync(30000);
SELECT mesh.pause('orders', 'cache');
SELECT mesh.pause('lines', 'cache');
INSERT INTO orders SELECT g, 'o' FROM generate_series(1, 3) g;
INSERT INTO lines SELECT g, 'l' FROM generate_series(1, 5) g;
SQL

# drop_output STATEMENT [SETTING]: the statement's messages (it may fail)
drop_output() {
	psql -X -q -At -d "$db" -c "$1" 2>&1 || true
}

out=$(drop_output "DROP EXTENSION mesh CASCADE")
echo "$out" | grep -qF 'ERROR:  cannot drop mesh: 8 events of 2 routes are not delivered yet' ||
	fail "DROP EXTENSION with pending events was not refused as expected: $out"
echo "$out" | grep -qF 'DETAIL:  Routes with undelivered events (source to target (events)): orders to cache (3), lines to cache (5).' ||
	fail "the refusal does not name the routes and counts: $out"
echo "$out" | grep -qF 'mesh.drop_discards_pending' || fail "the refusal does not name the setting: $out"
[ "$(q -d "$db" -c "SELECT count(*) FROM pg_extension WHERE extname = 'mesh'")" = 1 ] ||
	fail "mesh was dropped"
out=$(drop_output "DROP SCHEMA mesh CASCADE")
echo "$out" | grep -qF 'cannot drop mesh: 8 events of 2 routes' || fail "DROP SCHEMA mesh was not refused: $out"
out=$(drop_output "DROP EXTENSION IF EXISTS postgres_fdw, mesh CASCADE")
echo "$out" | grep -qF 'cannot drop mesh: 8 events' || fail "a DROP naming mesh among others was not refused: $out"

# the setting is a superuser's
out=$(psql -X -q -At -d "$db" -c "SET ROLE $role" -c "SET mesh.drop_discards_pending = on" 2>&1 || true)
echo "$out" | grep -qF 'permission denied to set parameter "mesh.drop_discards_pending"' ||
	fail "a non-superuser could set mesh.drop_discards_pending: $out"

# delivered: the drop just works (no setting needed)
q -d "$db" -c "SELECT mesh.resume('orders', 'cache')" >/dev/null
for ((i = 0; i < 300; i++)); do
	[ "$(q -d "$db" -c "SELECT pending FROM mesh.stats WHERE source = 'orders'::regclass")" = 0 ] && break
	sleep 0.1
done
out=$(drop_output "DROP EXTENSION mesh CASCADE")
echo "$out" | grep -qF 'cannot drop mesh: 5 events of 1 routes are not delivered yet' ||
	fail "the count did not follow delivery: $out"

# with the setting: dropped, with a WARNING naming what was discarded
out=$(psql -X -q -At -d "$db" -c "SET mesh.drop_discards_pending = on" -c "DROP EXTENSION mesh CASCADE" 2>&1) ||
	fail "DROP EXTENSION with mesh.drop_discards_pending = on failed: $out"
echo "$out" | grep -qF 'WARNING:  dropping mesh discards 5 undelivered events of 1 routes' ||
	fail "no WARNING about the discarded events: $out"
[ "$(q -d "$db" -c "SELECT count(*) FROM pg_extension WHERE extname = 'mesh'")" = 0 ] || fail "mesh was not dropped"

# nothing pending: dropped without a word
q -d "$db" >/dev/null <<SQL
CREATE EXTENSION mesh;
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT', db '10');
CREATE TABLE IF NOT EXISTS orders2 (id int PRIMARY KEY);
SELECT mesh.replicate('orders2', 'cache', '{"key_prefix": "bdrop_o2:"}');
INSERT INTO orders2 VALUES (1);
SQL
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(30000)")" = t ] || fail "route never synced"
out=$(psql -X -q -At -d "$db" -c "DROP EXTENSION mesh CASCADE" 2>&1) || fail "DROP EXTENSION after delivery failed: $out"
echo "$out" | grep -q 'WARNING\|ERROR' && fail "unexpected messages: $out"
redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" -n 10 FLUSHDB >/dev/null
echo "$CHECK: ok"
