#!/usr/bin/env bash
# servers: clickhouse
# Check: reading ahead (route_worker.c).  With chunks of 7 events, the
# worker reads each next chunk while ClickHouse works on the current one;
# a backlog of inserts, updates, deletes, a TRUNCATE and a schema change
# (an added column: a marker that ends a chunk) must arrive whole: the
# route syncs, delivered counts every event once, and the replica verifies.
set -euo pipefail
CHECK=read_ahead
. "$(dirname "$0")/../../../../test/lib/checks.sh"
db=mesh_check_read_ahead

settings() {
	q -d postgres -c "ALTER SYSTEM SET mesh.batch_size = $1" \
		-c "ALTER SYSTEM SET mesh.backlog_batch_size = $1" -c "SELECT pg_reload_conf()" >/dev/null
}
trap 'settings DEFAULT' EXIT
q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
q -d "$db" >/dev/null <<SQL
CREATE EXTENSION mesh;
CREATE SERVER direct FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http://127.0.0.1:$MESH_CLICKHOUSE_PORT');
SELECT * FROM mesh.execute('direct', 'DROP DATABASE IF EXISTS mesh_read_ahead');
SELECT * FROM mesh.execute('direct', 'CREATE DATABASE mesh_read_ahead');
CREATE SERVER ch FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url 'http://127.0.0.1:$MESH_CLICKHOUSE_PORT', database 'mesh_read_ahead');
CREATE TABLE ra (id int PRIMARY KEY, v text);
SELECT mesh.replicate('ra', 'ch', '{"add_columns": true}');
SELECT mesh.wait_for_sync(60000);
SELECT mesh.pause('ra', 'ch');
INSERT INTO ra SELECT g, 'a' || g FROM generate_series(1, 300) g;
TRUNCATE ra;
INSERT INTO ra SELECT g, 'b' || g FROM generate_series(1, 400) g;
UPDATE ra SET v = 'c' || id WHERE id % 3 = 0;
DELETE FROM ra WHERE id % 5 = 0;
ALTER TABLE ra ADD COLUMN w int;
UPDATE ra SET w = id WHERE id % 2 = 0;
INSERT INTO ra SELECT g, 'd' || g, g FROM generate_series(401, 650) g;
SQL
settings 7
events=$(q -d "$db" -c "SELECT pending FROM mesh.stats WHERE source = 'ra'::regclass")
[ "$events" -gt 1000 ] || fail "expected a backlog of more than 1,000 events, got $events"
before=$(q -d "$db" -c "SELECT delivered FROM mesh.stats WHERE source = 'ra'::regclass")
q -d "$db" -c "SELECT mesh.resume('ra', 'ch')" >/dev/null
expect_consistent "$db" ra
delivered=$(q -d "$db" -c "SELECT delivered - $before FROM mesh.stats WHERE source = 'ra'::regclass")
# the TRUNCATE and the schema marker count as delivered or not: allow both
[ "$delivered" -ge $((events - 2)) ] && [ "$delivered" -le "$events" ] ||
	fail "delivered $delivered of $events events"
rows=$(q -d "$db" -c "SELECT count(*) FROM ra")
[ "$rows" = 570 ] || fail "the source holds $rows rows, expected 570"
q -d "$db" -c "SELECT * FROM mesh.execute('direct', 'DROP DATABASE IF EXISTS mesh_read_ahead')" >/dev/null
echo "$CHECK: ok ($events events in chunks of 7)"
