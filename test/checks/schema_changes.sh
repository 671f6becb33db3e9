#!/usr/bin/env bash
# servers: pg_remote redis clickhouse mongodb opensearch
# Check: schema changes of a replicated table, as its owner (not a
# superuser), against Redis, PostgreSQL, ClickHouse, MongoDB (FerretDB) and
# OpenSearch.  A rewrite (ALTER COLUMN TYPE ... USING) re-syncs every route
# in place; DROP + ADD COLUMN of the same name, RENAME COLUMN and ADD COLUMN
# with a default end consistent, with events captured before each change
# (routes paused meanwhile) applied with the columns they were captured
# with; add_columns gives the PostgreSQL and ClickHouse replicas the new
# columns; without it the route waits in state "needs resync" naming the
# column; on_schema_change 'mark' waits for mesh.resync.
set -euo pipefail
CHECK=schema_changes
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_schema
user=mesh_schema_owner
targets="cache archive ch mongo search"

q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
q -d postgres -c "DROP ROLE IF EXISTS $user" -c "CREATE ROLE $user LOGIN" >/dev/null
bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS sc_t, sc_plain;
	CREATE TABLE sc_t (id int PRIMARY KEY, a int, b text);
	CREATE TABLE sc_plain (id int PRIMARY KEY, v text)" >/dev/null
q -d "$db" >/dev/null <<SQL
$(hub_targets_sql)
CREATE SERVER ch FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url 'http://127.0.0.1:$MESH_CLICKHOUSE_PORT', database 'mesh_schema');
CREATE SERVER ch_admin FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http://127.0.0.1:$MESH_CLICKHOUSE_PORT');
CREATE SERVER mongo FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port '$MESH_MONGO_PORT', database 'mesh_test', timeout_ms '20000');
CREATE SERVER search FOREIGN DATA WRAPPER mesh_elasticsearch
	OPTIONS (url 'http://127.0.0.1:$MESH_OPENSEARCH_PORT', timeout_ms '20000');
GRANT USAGE ON FOREIGN SERVER cache, archive, ch, mongo, search TO $user;
CREATE USER MAPPING FOR $user SERVER archive OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE USER MAPPING FOR $user SERVER mongo OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
CREATE USER MAPPING FOR CURRENT_USER SERVER mongo OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT * FROM mesh.execute('ch_admin', 'DROP DATABASE IF EXISTS mesh_schema');
SELECT * FROM mesh.execute('ch_admin', 'CREATE DATABASE mesh_schema');
SELECT * FROM mesh.execute('search', 'DELETE /sc_t?ignore_unavailable=true');
SELECT r->>'ok' FROM mesh.execute('mongo', '{"delete": "sc_t", "deletes": [{"q": {}, "limit": 0}]}') r;
GRANT CREATE ON SCHEMA public TO $user;
SQL

# remote_value SQL: the one value SQL returns on the remote PostgreSQL
remote_value() { bash "$MESH_HARNESS" remote-sql "$1" | sed -n 3p | tr -d '[:space:]'; }

# as_owner PSQL-ARGS...: psql as the table's owner (not a superuser)
as_owner() { q -d "$db" -c "SET ROLE $user" "$@"; }

# consistent STEP: every route in sync and verified, none waiting
consistent() {
	local step=$1 synced bad
	synced=$(q -d "$db" -c "SELECT mesh.wait_for_sync(180000)")
	[ "$synced" = t ] || fail "$step: not in sync: $(q -d "$db" -c "SELECT string_agg(target || ' ' || state || ': ' || coalesce(state_detail, last_error, '-'), '; ') FROM mesh.stats")"
	bad=$(q -d "$db" -c "SELECT string_agg(target || ': missing ' || missing || ' extra ' || extra || ' mismatched ' || mismatched, '; ') FROM mesh.verify('sc_t') WHERE NOT consistent")
	[ -z "$bad" ] || fail "$step: not consistent: $bad"
	bad=$(q -d "$db" -c "SELECT string_agg(target || ' ' || state, ', ') FROM mesh.stats WHERE state <> 'idle'")
	[ -z "$bad" ] || fail "$step: routes not idle: $bad"
	echo "$CHECK: $step: consistent on $(q -d "$db" -c "SELECT count(*) FROM mesh.verify('sc_t') WHERE consistent") routes"
}

# paused STEP SQL: pause every route, change rows, run SQL (a schema change)
# and change rows again, then resume: the events of both sides of the change
# are delivered together.
paused() {
	local step=$1 sql=$2 t
	for t in $targets; do as_owner -c "SELECT mesh.pause('sc_t', '$t')" >/dev/null; done
	as_owner -c "UPDATE sc_t SET b = b || '+' WHERE id % 7 = 0" >/dev/null
	as_owner -c "$sql" >/dev/null
	as_owner -c "UPDATE sc_t SET id = id WHERE id % 5 = 0" -c "DELETE FROM sc_t WHERE id = 13" >/dev/null
	for t in $targets; do as_owner -c "SELECT mesh.resume('sc_t', '$t')" >/dev/null; done
	consistent "$step"
}

as_owner -f - >/dev/null <<'SQL'
CREATE TABLE sc_t (id int PRIMARY KEY, a int, b text);
INSERT INTO sc_t SELECT g, g, 'v' || g FROM generate_series(1, 300) g;
SELECT mesh.replicate('sc_t', 'cache', '{"key_prefix": "sc_t:"}');
SELECT mesh.replicate('sc_t', 'archive', '{"add_columns": true}');
SELECT mesh.replicate('sc_t', 'ch', '{"add_columns": true}');
-- FerretDB (SQLite) is slow per replace-upsert: one delete plus one insert bulk
SELECT mesh.replicate('sc_t', 'mongo', '{"collection": "sc_t", "write_mode": "delete_insert"}');
SELECT mesh.replicate('sc_t', 'search', '{"index": "sc_t", "settings": {"number_of_shards": 1}}');
SQL
consistent "initial copy"

# 1. a rewrite that changes every value: captured by no trigger.  The
# ClickHouse replica's Int32 column cannot hold bigint exactly: its route
# waits at the change until the column is widened, then goes on.
as_owner -c "ALTER TABLE sc_t ALTER COLUMN a TYPE bigint USING a * 10" >/dev/null
q -d "$db" -c "SELECT * FROM mesh.execute('ch_admin', 'ALTER TABLE mesh_schema.sc_t MODIFY COLUMN a Nullable(Int64)')" >/dev/null
[ "$(as_owner -c "SELECT count(*) FROM mesh.schema_change WHERE resync" 2>/dev/null || echo closed)" = closed ] ||
	fail "mesh.schema_change is readable by the table's owner"
consistent "ALTER COLUMN a TYPE bigint USING a * 10"
[ "$(remote_value "SELECT a FROM sc_t WHERE id = 3")" = 30 ] ||
	fail "the PostgreSQL replica does not hold the rewritten value"

# 2. DROP + ADD COLUMN of the same name, with changes on both sides pending
paused "DROP and ADD COLUMN b" "ALTER TABLE sc_t DROP COLUMN b; ALTER TABLE sc_t ADD COLUMN b text; UPDATE sc_t SET b = 'new' || id WHERE id <= 20"

# 3. RENAME COLUMN, changes pending on both sides
paused "RENAME COLUMN a TO amount" "ALTER TABLE sc_t RENAME COLUMN a TO amount"

# 4. ADD COLUMN with a default: every row changes
paused "ADD COLUMN d DEFAULT 7" "ALTER TABLE sc_t ADD COLUMN d int DEFAULT 7"
[ "$(remote_value "SELECT d FROM sc_t WHERE id = 1")" = 7 ] ||
	fail "the PostgreSQL replica did not get column d"

# 5. the issue's case on Redis and PostgreSQL: a type change to text
as_owner -c "ALTER TABLE sc_t ALTER COLUMN b TYPE text USING 'b=' || coalesce(b, '')" >/dev/null
consistent "ALTER COLUMN b TYPE text USING 'b=' || b"

# 6. a PostgreSQL replica without add_columns waits, naming the column
as_owner -f - >/dev/null <<'SQL'
CREATE TABLE sc_plain (id int PRIMARY KEY, v text);
INSERT INTO sc_plain SELECT g, 'p' || g FROM generate_series(1, 50) g;
SELECT mesh.replicate('sc_plain', 'archive');
SELECT mesh.replicate('sc_plain', 'cache', '{"key_prefix": "sc_plain:", "on_schema_change": "mark"}');
SELECT mesh.wait_for_sync(60000);
ALTER TABLE sc_plain ADD COLUMN extra int;
UPDATE sc_plain SET extra = id WHERE id <= 5;
SQL
state=
for ((i = 0; i < 600; i++)); do
	state=$(q -d "$db" -c "SELECT state || ': ' || coalesce(state_detail, '') FROM mesh.stats WHERE source = 'sc_plain'::regclass AND target = 'archive'")
	case "$state" in "needs resync:"*extra*) break ;; esac
	sleep 0.1
done
case "$state" in "needs resync:"*extra*) ;; *) fail "the route without add_columns shows '$state', not needs resync naming column extra" ;; esac
[ "$(q -d "$db" -c "SELECT count(*) FROM mesh.dead_letter WHERE source = 'sc_plain'::regclass")" = 0 ] ||
	fail "a missing column dead-lettered events"
echo "$CHECK: without add_columns: $state"
bash "$MESH_HARNESS" remote-sql "ALTER TABLE sc_plain ADD COLUMN extra int" >/dev/null

# 7. on_schema_change 'mark': a rewrite leaves the Redis route needing mesh.resync
as_owner -c "ALTER TABLE sc_plain ALTER COLUMN v TYPE text USING upper(v)" >/dev/null
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(180000)")" = t ] ||
	fail "sc_plain never synced: $(q -d "$db" -c "SELECT string_agg(target || ' ' || state || ': ' || coalesce(state_detail, last_error, '-'), '; ') FROM mesh.stats WHERE source = 'sc_plain'::regclass")"
state=$(q -d "$db" -c "SELECT state || ': ' || state_detail FROM mesh.stats WHERE source = 'sc_plain'::regclass AND target = 'cache'")
case "$state" in "needs resync:"*mesh.resync*) ;; *) fail "the 'mark' route shows '$state'" ;; esac
[ "$(q -d "$db" -c "SELECT mismatched FROM mesh.verify('sc_plain') WHERE target = 'cache'")" = 50 ] ||
	fail "before mesh.resync the Redis replica should differ in 50 rows"
as_owner -c "SELECT mesh.resync('sc_plain', 'cache')" >/dev/null
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(180000)")" = t ] || fail "mesh.resync never finished"
bad=$(q -d "$db" -c "SELECT string_agg(target, ', ') FROM mesh.verify('sc_plain') WHERE NOT consistent")
[ -z "$bad" ] || fail "sc_plain not consistent after mesh.resync: $bad"
[ "$(q -d "$db" -c "SELECT state FROM mesh.stats WHERE source = 'sc_plain'::regclass AND target = 'cache'")" = idle ] ||
	fail "the 'mark' route still needs a resync after mesh.resync"
echo "$CHECK: on_schema_change mark: $state; consistent after mesh.resync"

q -d "$db" -c "SELECT mesh.unreplicate(source, target) FROM mesh.routes" >/dev/null
q -d postgres -c "DROP DATABASE $db" -c "DROP ROLE $user" >/dev/null
echo "$CHECK: ok"
