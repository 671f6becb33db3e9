#!/usr/bin/env bash
# servers: pg_remote redis hang
# Check: the delivery pool.  1,000 routes in 10 databases on a hub with
# max_worker_processes = 16 all deliver (90 Redis key prefixes and 10
# remote PostgreSQL tables per database); with one target hanging and one
# down, the other routes of the same database still get in sync; a route
# that waits while every worker is busy shows "waiting for a worker"; the
# failing ones show "backing off" with their error; every route verifies;
# health pings to a server that never answers do not hold delivery.
set -euo pipefail
CHECK=pool_routes
. "$(dirname "$0")/../lib/checks.sh"
DBS=10
REDIS_ROUTES=90
PG_ROUTES=10

[ "$(q -d postgres -c "SHOW max_worker_processes")" = 16 ] || fail "the hub does not run with max_worker_processes = 16"

remote_ddl=
for ((d = 0; d < DBS; d++)); do
	for ((t = 0; t < PG_ROUTES; t++)); do
		remote_ddl+="DROP TABLE IF EXISTS pool_${d}_$t; CREATE TABLE pool_${d}_$t (id int PRIMARY KEY, v text);"
	done
done
bash "$MESH_HARNESS" remote-sql "$remote_ddl" >/dev/null

# setup DB: the tables, servers and routes of one database, rows in each
setup() {
	local db=$1 d=$2
	q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	q -d "$db" >/dev/null <<SQL
$(hub_targets_sql)
DO \$\$
BEGIN
	FOR t IN 0..$((REDIS_ROUTES - 1)) LOOP
		EXECUTE format('CREATE TABLE r_%s (id int PRIMARY KEY, v text)', t);
		EXECUTE format('INSERT INTO r_%s SELECT g, %L || g FROM generate_series(1, 5) g', t, 'r' || t || '-');
		PERFORM mesh.replicate(format('r_%s', t)::regclass, 'cache',
							   jsonb_build_object('key_prefix', format('pool:$d:%s:', t)));
	END LOOP;
	FOR t IN 0..$((PG_ROUTES - 1)) LOOP
		EXECUTE format('CREATE TABLE pool_${d}_%s (id int PRIMARY KEY, v text)', t);
		EXECUTE format('INSERT INTO pool_${d}_%s SELECT g, %L || g FROM generate_series(1, 5) g', t, 'p' || t || '-');
		PERFORM mesh.replicate(format('pool_${d}_%s', t)::regclass, 'archive');
	END LOOP;
END \$\$;
SQL
}

for ((d = 0; d < DBS; d++)); do
	setup "mesh_check_pool_$d" "$d"
done
routes=0
for ((d = 0; d < DBS; d++)); do
	routes=$((routes + $(q -d "mesh_check_pool_$d" -c "SELECT count(*) FROM mesh.routes")))
done
[ "$routes" = $((DBS * (REDIS_ROUTES + PG_ROUTES))) ] || fail "$routes routes, expected $((DBS * (REDIS_ROUTES + PG_ROUTES)))"

# every database gets in sync, and a change to every table after that too
for ((d = 0; d < DBS; d++)); do
	db=mesh_check_pool_$d
	[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(300000)")" = t ] ||
		fail "$db never synced: $(q -d "$db" -c "SELECT state || ' ' || count(*) FROM mesh.stats GROUP BY state")"
	q -d "$db" -c "DO \$\$ DECLARE t regclass; BEGIN
		FOR t IN SELECT source FROM mesh.routes LOOP
			EXECUTE format('UPDATE %s SET v = v || ''+'' WHERE id = 1', t);
			EXECUTE format('INSERT INTO %s VALUES (6, ''six'')', t);
		END LOOP; END \$\$" >/dev/null
done
procs=$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'mesh%'")
echo "$CHECK: $routes routes created; $procs mesh processes (max_worker_processes = 16)"
for ((d = 0; d < DBS; d++)); do
	db=mesh_check_pool_$d
	[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(300000)")" = t ] || fail "$db never synced after the changes"
	bad=$(q -d "$db" -c "SELECT count(*) FROM mesh.stats WHERE state <> 'idle' OR pending <> 0 OR delivered < 6")
	[ "$bad" = 0 ] || fail "$db: $bad routes not idle with everything delivered"
done
bad=$(q -d mesh_check_pool_3 -c "SELECT string_agg(r.source::text, ', ') FROM mesh.routes r
	CROSS JOIN LATERAL mesh.verify(r.source) v WHERE NOT v.consistent")
[ -z "$bad" ] || fail "mesh_check_pool_3: not consistent: $bad"
echo "$CHECK: every route of every database in sync; mesh_check_pool_3 verifies consistent"

# one target hanging and one down: the other routes still get in sync, and
# the two failing ones say why
db=mesh_check_pool_0
# the hanging target's turns last its 3 s timeout: mesh.log_slow_steps logs
# them (set before the route exists, so the worker has it by its first turn)
hub_log="$MESH_TEST_DIR/pg_hub/postgres.log"
log_from=$(($(stat -c %s "$hub_log") + 1))
q -d postgres -c "ALTER SYSTEM SET mesh.log_slow_steps = 2500" -c "SELECT pg_reload_conf()" >/dev/null
q -d "$db" >/dev/null <<SQL
CREATE SERVER hanging FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_HANG_PORT', timeout_ms '3000');
CREATE SERVER down FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_DOWN_PORT');
CREATE TABLE to_hang (id int PRIMARY KEY, v text);
CREATE TABLE to_down (id int PRIMARY KEY, v text);
INSERT INTO to_hang VALUES (1, 'h');
INSERT INTO to_down VALUES (1, 'd');
SELECT mesh.replicate('to_hang', 'hanging', '{"key_prefix": "hang:"}');
SELECT mesh.replicate('to_down', 'down', '{"key_prefix": "down:"}');
SQL
q -d "$db" -c "DO \$\$ DECLARE t regclass; BEGIN
	FOR t IN SELECT source FROM mesh.routes WHERE target IN ('cache', 'archive') LOOP
		EXECUTE format('UPDATE %s SET v = v || ''!'' WHERE id = 2', t);
	END LOOP; END \$\$" >/dev/null
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(300000, 'cache') AND mesh.wait_for_sync(300000, 'archive')")" = t ] ||
	fail "the healthy routes did not get in sync beside a hanging and a down target"
for target in hanging down; do
	state=
	for ((i = 0; i < 600; i++)); do
		state=$(q -d "$db" -c "SELECT state || '|' || (last_error IS NOT NULL) FROM mesh.stats WHERE target = '$target'")
		[ "$state" = "backing off|true" ] && break
		sleep 0.05
	done
	[ "$state" = "backing off|true" ] || fail "the route to $target shows '$state', expected backing off with its error"
done
echo "$CHECK: healthy routes in sync beside a hanging and a down target, which show 'backing off'"

# a route waiting for a worker: no helpers, the database worker held by the
# hanging target's 3 s timeout while another table changes.  That table is
# captured by trigger: under WAL capture the database worker itself decodes
# between turns, so a change made while it is held is not pending yet (the
# README's "Route states" says so) and the state would depend on timing.
q -d postgres -c "ALTER SYSTEM SET mesh.max_delivery_workers = 0" -c "SELECT pg_reload_conf()" >/dev/null
q -d "$db" -c "SELECT mesh.set_capture('r_7', 'trigger')" >/dev/null
q -d "$db" -c "SELECT mesh.unreplicate('to_down', 'down')" >/dev/null
seen=
for ((i = 0; i < 400; i++)); do
	q -d "$db" -c "UPDATE r_7 SET v = v || '?' WHERE id = 3" >/dev/null
	seen=$(q -d "$db" -c "SELECT state_detail FROM mesh.stats WHERE source = 'r_7'::regclass AND state = 'waiting for a worker'")
	[ -n "$seen" ] && break
	sleep 0.05
done
[ -n "$seen" ] || fail "never saw a route waiting for a worker while the only worker was held"
echo "$CHECK: seen 'waiting for a worker': $seen"
hang_route=$(q -d "$db" -c "SELECT id FROM mesh.routes WHERE target = 'hanging'")
slow=
for ((i = 0; i < 400; i++)); do
	slow=$(tail -c "+$log_from" "$hub_log" | grep -o "mesh: slow step: the turn of route $hang_route took [0-9]* ms" | head -n 1 || true)
	[ -n "$slow" ] && break
	sleep 0.05
done
q -d postgres -c "ALTER SYSTEM RESET mesh.max_delivery_workers" -c "ALTER SYSTEM RESET mesh.log_slow_steps" \
	-c "SELECT pg_reload_conf()" >/dev/null
[ -n "$slow" ] || fail "mesh.log_slow_steps = 2500 logged no turn of the hanging route $hang_route"
echo "$CHECK: the server log says: $slow"
q -d "$db" -c "SELECT mesh.unreplicate('to_hang', 'hanging')" >/dev/null
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(300000)")" = t ] || fail "$db did not get in sync at the end"
bad=$(q -d "$db" -c "SELECT string_agg(r.source::text, ', ') FROM mesh.routes r
	CROSS JOIN LATERAL mesh.verify(r.source) v WHERE NOT v.consistent")
[ -z "$bad" ] || fail "$db: not consistent: $bad"

# a health round never holds delivery: with only the database worker, and
# its pings waiting up to 60 s for a server that never answers, a change
# still arrives (the pings are stepped between route turns)
hang_connections() {
	awk -v port="$(printf ':%04X' "$MESH_HANG_PORT")" \
		'$3 ~ port"$" && $4 == "01" { n++ } END { print n + 0 }' /proc/net/tcp
}
before=$(hang_connections)
q -d postgres -c "ALTER SYSTEM SET mesh.max_delivery_workers = 0" -c "ALTER SYSTEM SET mesh.health_timeout = 60000" \
	-c "SELECT pg_reload_conf()" >/dev/null
q -d "$db" -c "CREATE SERVER hanging_health FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_HANG_PORT')" >/dev/null
for ((i = 0; i < 200; i++)); do
	[ "$(hang_connections)" -gt "$before" ] && break
	sleep 0.05
done
[ "$(hang_connections)" -gt "$before" ] || fail "no health ping reached the hanging server (a new server should start a round)"
q -d "$db" -c "UPDATE r_8 SET v = v || '+' WHERE id = 4" >/dev/null
synced=$(q -d "$db" -c "SELECT mesh.wait_for_sync(20000, 'cache')")
q -d postgres -c "ALTER SYSTEM RESET mesh.max_delivery_workers" -c "ALTER SYSTEM RESET mesh.health_timeout" \
	-c "SELECT pg_reload_conf()" >/dev/null
[ "$synced" = t ] || fail "a change waited for a health round that waits 60 s for a hanging server"
echo "$CHECK: a change delivered while the health pings wait for a hanging server"

for ((d = 0; d < DBS; d++)); do
	q -d postgres -c "DROP DATABASE mesh_check_pool_$d" >/dev/null
done
echo "$CHECK: ok"
