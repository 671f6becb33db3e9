#!/usr/bin/env bash
# servers: pg_remote redis
# Check: WAL capture (mesh.capture = wal for this database), as the table's
# owner (not a superuser).  The table is captured from WAL from its first
# route (no trigger on it): inserts, updates (of the key too, and keeping a
# TOASTed value), deletes and TRUNCATE reach Redis and PostgreSQL.  Under a
# steady load of single-row inserts the table switches to triggers and
# back twice, the database worker is killed (kill -9) and the hub shut down
# immediately: every committed row has exactly one insert event (nothing
# lost, nothing twice) and both replicas verify.  A route made in the
# transaction that writes rows counts each row once.  A schema change while
# the database worker delivers a 300,000-event backlog of the same table
# goes through (the worker's rounds do not queue behind the ALTER's lock).
# mesh.stats shows the capture and its lag; DROP DATABASE drops the slot.
set -euo pipefail
CHECK=wal_capture
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_wal
user=mesh_wal_owner
work=$(mktemp -d)
trap 'rm -rf "$work"; kill "$(cat "$work/load.pid" 2>/dev/null)" 2>/dev/null || true' EXIT

q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
	-c "ALTER DATABASE $db SET mesh.capture = 'wal'" >/dev/null
q -d postgres -c "DROP ROLE IF EXISTS $user" -c "CREATE ROLE $user LOGIN" >/dev/null
bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS wal_t; CREATE TABLE wal_t (id int PRIMARY KEY, v text, big text)" >/dev/null
q -d "$db" >/dev/null <<SQL
$(hub_targets_sql)
GRANT USAGE ON FOREIGN SERVER cache, archive TO $user;
CREATE USER MAPPING FOR $user SERVER archive OPTIONS (user 'remote_user', password 'remote_secret_pw');
GRANT CREATE ON SCHEMA public TO $user;
SQL
as_owner() { q -d "$db" -c "SET ROLE $user" "$@"; }
# as_owner_sql <<SQL: the statements on stdin as the owner
as_owner_sql() { { echo "SET ROLE $user;"; cat; } | q -d "$db"; }

# the worker creates its slot after CREATE EXTENSION
for ((i = 0; i < 300; i++)); do
	[ "$(q -d "$db" -c "SELECT mesh._wal_ready()")" = t ] && break
	sleep 0.1
done
[ "$(q -d "$db" -c "SELECT mesh._wal_ready()")" = t ] || fail "the database worker made no replication slot"

as_owner_sql >/dev/null <<'SQL'
CREATE TABLE wal_t (id int PRIMARY KEY, v text, big text);
INSERT INTO wal_t SELECT g, 'v' || g, NULL FROM generate_series(1, 100) g;
SELECT mesh.replicate('wal_t', 'cache', jsonb_build_object('key_prefix', 'wal_t:' || pg_backend_pid() || ':'));
SELECT mesh.replicate('wal_t', 'archive');
SQL
[ "$(as_owner -c "SELECT mesh.capture_of('wal_t')")" = wal ] || fail "wal_t is not captured from WAL"
[ "$(q -d "$db" -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'wal_t'::regclass")" = 0 ] ||
	fail "a WAL-captured table has triggers"
as_owner_sql >/dev/null <<'SQL'
INSERT INTO wal_t SELECT g, 'big', (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 400) i)
FROM generate_series(101, 110) g;
UPDATE wal_t SET v = 'kept the big value' WHERE id BETWEEN 101 AND 105;
UPDATE wal_t SET id = id + 1000 WHERE id BETWEEN 1 AND 10;
DELETE FROM wal_t WHERE id BETWEEN 11 AND 20;
SQL
expect_consistent "$db" wal_t
[ "$(q -d "$db" -c "SELECT length(row->>'big') FROM mesh.event_log WHERE op = 'U' ORDER BY id DESC LIMIT 1")" = 12800 ] ||
	fail "an update's unchanged TOASTed value is missing from its event"
as_owner -c "TRUNCATE wal_t" >/dev/null
expect_consistent "$db" wal_t
echo "$CHECK: inserts, updates (key, TOASTed value kept), deletes and TRUNCATE captured from WAL; consistent"

# waiting for the decoder when the WAL ends exactly at a page boundary (the
# insert position then points past the next page's header, not written yet:
# flushing up to it failed); padding messages steer the WAL's end there
hits=$(q -d "$db" <<'SQL'
CREATE FUNCTION pg_temp.waits_at_page_boundaries() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	start pg_lsn;
	stop pg_lsn;
	room int;
	payload int;
	overhead int := 64;
	hits int := 0;
BEGIN
	FOR i IN 1..500 LOOP
		start := pg_current_wal_insert_lsn();
		room := 8192 - ((start - '0/0'::pg_lsn) % 8192)::int;
		IF room < 256 THEN
			PERFORM pg_logical_emit_message(false, 'mesh_check_pad', repeat('x', 300));
			CONTINUE;
		END IF;
		payload := room - overhead;
		PERFORM pg_logical_emit_message(false, 'mesh_check_pad', repeat('x', payload));
		stop := pg_current_wal_insert_lsn();
		IF (stop - '0/0'::pg_lsn) % 8192 = 24 THEN
			PERFORM mesh._wal_catch_up();
			hits := hits + 1;
			EXIT WHEN hits = 3;
		ELSE
			overhead := (stop - start)::int - payload;
		END IF;
	END LOOP;
	RETURN hits;
END $$;
SELECT pg_temp.waits_at_page_boundaries();
SQL
) || fail "waiting for the decoder at a WAL page boundary failed: $hits"
[ "$hits" -ge 1 ] || fail "the WAL never ended at a page boundary (hits: $hits)"
echo "$CHECK: waited for the decoder $hits times with the WAL ending at a page boundary"

# a transaction larger than the decoder's memory for events goes through a file
hub_log="$MESH_TEST_DIR/pg_hub/postgres.log"
log_from=$(stat -c %s "$hub_log")
as_owner -c "INSERT INTO wal_t SELECT g, repeat('x', 300), NULL FROM generate_series(200001, 300000) g" >/dev/null
expect_consistent "$db" wal_t
n=$(q -d "$db" -c "SELECT count(*) FROM mesh.event_log WHERE source = 'wal_t'::regclass AND op = 'I'
	AND (key->>'id')::int BETWEEN 200001 AND 300000")
[ "$n" = 100000 ] || fail "a 100,000-row transaction has $n insert events"
new_log=$(tail -c +$((log_from + 1)) "$hub_log")
grep -q "WAL capture wrote [0-9]* events, [0-9]* of them through a temporary file" <<<"$new_log" ||
	fail "the 100,000-row transaction did not go through the decoder's temporary file"
echo "$CHECK: a 100,000-row transaction captured through the decoder's temporary file; consistent"

stats=$(as_owner -c "SELECT capture || ' ' || (capture_lag_bytes IS NOT NULL) FROM mesh.stats WHERE target = 'cache'")
[ "$stats" = "wal true" ] || fail "mesh.stats shows '$stats' for the capture, expected 'wal true'"

# start_load FIRST: a steady load of single-row inserts (each its own
# transaction) from id FIRST on, in the background (log: $work/load.log)
start_load() {
	psql -X -q -d "$db" -c "SET ROLE $user" -c "DO \$\$ BEGIN FOR i IN $1..$(($1 + 1000000)) LOOP
		INSERT INTO wal_t VALUES (i, 'load', NULL); COMMIT; END LOOP; END \$\$" >"$work/load.log" 2>&1 &
	echo $! >"$work/load.pid"
}
start_load 1
rows() { q -d "$db" -c "SELECT count(*) FROM wal_t"; }
# wait_rows N: until the load has committed at least N rows
wait_rows() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(rows)" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "the load stopped below $1 rows: $(cat "$work/load.log")"
}
wait_rows 2000
for mode in trigger wal trigger wal; do
	[ "$(as_owner -c "SELECT mesh.set_capture('wal_t', '$mode')")" = "$mode" ] || fail "set_capture $mode failed"
	wait_rows $(($(rows) + 2000))
done
echo "$CHECK: switched trigger, wal, trigger, wal under load"
worker=$(q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mesh database worker'
	AND datname = '$db'")
[ -n "$worker" ] || fail "no database worker for $db"
kill -9 "$worker"
wait_hub
# the postmaster restarted everything; the load's connection is gone: go on
start_load "$(($(q -d "$db" -c "SELECT max(id) FROM wal_t") + 1))"
wait_rows $(($(rows) + 1000))
bash "$MESH_HARNESS" crash-hub >/dev/null 2>&1 || fail "crash-hub failed"
wait_hub
echo "$CHECK: killed the worker (kill -9) and shut the hub down immediately under load"
expect_consistent "$db" wal_t
dup=$(q -d "$db" -c "SELECT count(*) FROM (SELECT key FROM mesh.event_log WHERE source = 'wal_t'::regclass
	AND op = 'I' AND row->>'v' = 'load' GROUP BY key HAVING count(*) > 1) d")
[ "$dup" = 0 ] || fail "$dup rows have more than one insert event"
missing=$(q -d "$db" -c "SELECT count(*) FROM wal_t w LEFT JOIN (SELECT DISTINCT (key->>'id')::int AS id
	FROM mesh.event_log WHERE source = 'wal_t'::regclass AND op = 'I') e USING (id) WHERE w.v = 'load' AND e.id IS NULL")
[ "$missing" = 0 ] || fail "$missing committed rows have no insert event"
echo "$CHECK: $(rows) rows, each with exactly one insert event; both replicas consistent"

# a route made while the table is written: its copy and WAL capture meet
# exactly (the events of transactions the copy saw are skipped), so it
# counts each row once
q -d "$db" >/dev/null <<SQL
CREATE SERVER cache2 FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port '$MESH_REDIS_PORT');
GRANT USAGE ON FOREIGN SERVER cache2 TO $user;
SQL
as_owner_sql >/dev/null <<'SQL'
BEGIN;
INSERT INTO wal_t SELECT g, 'copy', NULL FROM generate_series(900001, 900300) g;
SELECT mesh.replicate('wal_t', 'cache2', jsonb_build_object('key_prefix', 'wal_u:' || pg_backend_pid() || ':'));
COMMIT;
INSERT INTO wal_t SELECT g, 'after', NULL FROM generate_series(900301, 900350) g;
SQL
expect_consistent "$db" wal_t
counted=$(q -d "$db" -c "SELECT s.delivered - (SELECT count(*) FROM wal_t) FROM mesh.stats s WHERE s.target = 'cache2'")
[ "$counted" = 0 ] || fail "a new route's copy and the WAL events overlap: delivered - rows = $counted"
echo "$CHECK: a route made during writes delivered each of $(rows) rows once (copy plus WAL events)"

# a schema change while the database worker delivers the table's backlog:
# the change holds the table while it waits for the decoder, and the
# worker's next round of that table's routes gives up the table's lock
# instead of queueing behind it (else both waited 60 s and the ALTER failed)
bash "$MESH_HARNESS" remote-sql "ALTER TABLE wal_t ADD COLUMN extra text" >/dev/null
as_owner -c "SELECT mesh.pause('wal_t', 'cache'), mesh.pause('wal_t', 'cache2')" >/dev/null
as_owner -c "INSERT INTO wal_t SELECT g, 'backlog', NULL FROM generate_series(1000001, 1300000) g" >/dev/null
as_owner -c "SELECT mesh.resume('wal_t', 'cache'), mesh.resume('wal_t', 'cache2')" >/dev/null
for ((i = 0; i < 600; i++)); do
	[ "$(q -d "$db" -c "SELECT bool_or(delivered > 0 AND pending > 0) FROM mesh.stats WHERE target IN ('cache', 'cache2')")" = t ] && break
	sleep 0.02
done
err=$(as_owner -c "ALTER TABLE wal_t ADD COLUMN extra text" 2>&1 >/dev/null) ||
	fail "ALTER TABLE during the backlog's delivery failed: $err"
pending=$(q -d "$db" -c "SELECT sum(pending) FROM mesh.stats WHERE target IN ('cache', 'cache2')")
expect_consistent "$db" wal_t
echo "$CHECK: a schema change during a 300,000-event delivery went through ($pending events were still pending after it)"

q -d "$db" -c "SELECT mesh.unreplicate('wal_t', 'cache'), mesh.unreplicate('wal_t', 'archive'), mesh.unreplicate('wal_t', 'cache2')" >/dev/null
q -d postgres -c "DROP DATABASE $db" >/dev/null || fail "DROP DATABASE failed with WAL capture"
left=$(q -d postgres -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'mesh\_%' AND database = '$db'")
[ "$left" = 0 ] || fail "the database's slot outlived it"
q -d postgres -c "DROP ROLE $user" >/dev/null
echo "$CHECK: ok"
