# mesh harness recipe of the postgres backend (sourced by test/harness.sh,
# not run): the remote PostgreSQL that replication routes write to and
# postgres_fdw reads from.  It uses the hub's PostgreSQL helpers (pg_init,
# pg_start, pg_stop in test/harness.sh).
#
#   pg_remote   a second PostgreSQL 15 cluster; role $REMOTE_PG_USER (SCRAM
#               password) owning database $REMOTE_PG_DB, trust for the rest
#
# port: MESH_REMOTE_PG_PORT 433

# Secrets the tests use (also grepped for by test/checks/no_secrets_in_logs.sh).
REMOTE_PG_USER=remote_user
REMOTE_PG_PASSWORD=remote_secret_pw
REMOTE_PG_DB=remote_db

harness_server pg_remote
harness_command remote-sql remote_pg_sql "SQL: run SQL on the remote PostgreSQL as $REMOTE_PG_USER (for test setup)"

start_pg_remote() {
	local dir="$MESH_TEST_DIR/pg_remote"
	pg_init pg_remote "$MESH_REMOTE_PG_PORT"
	cat >>"$dir/data/postgresql.conf" <<EOF
password_encryption = 'scram-sha-256'
EOF
	cat >"$dir/data/pg_hba.conf" <<EOF
# mesh test harness: remote, password for $REMOTE_PG_USER, trust for the rest
host    all             $REMOTE_PG_USER     127.0.0.1/32            scram-sha-256
host    all             all             127.0.0.1/32            trust
EOF
	pg_start pg_remote "$MESH_REMOTE_PG_PORT"
	# The password goes through stdin, not argv; log_statement is off.
	"$(pg_bindir)/psql" -X -q -h 127.0.0.1 -p "$MESH_REMOTE_PG_PORT" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 >"$dir/setup.log" 2>&1 <<EOF ||
CREATE ROLE $REMOTE_PG_USER LOGIN PASSWORD '$REMOTE_PG_PASSWORD';
CREATE DATABASE $REMOTE_PG_DB OWNER $REMOTE_PG_USER;
EOF
		fail_with_log pg_remote "$dir/setup.log" "setup of role $REMOTE_PG_USER / database $REMOTE_PG_DB failed"
}
stop_pg_remote() { pg_stop pg_remote; }
port_pg_remote() { echo "$MESH_REMOTE_PG_PORT"; }
pid_pg_remote() { read_pidfile "$MESH_TEST_DIR/pg_remote/data/postmaster.pid"; }
run_pg_remote() { pg_start pg_remote "$MESH_REMOTE_PG_PORT"; }

# remote_pg_sql SQL: run SQL on the remote PostgreSQL as $REMOTE_PG_USER.
remote_pg_sql() {
	PGOPTIONS="-c client_min_messages=warning" PGPASSWORD=$REMOTE_PG_PASSWORD "$(pg_bindir)/psql" -X -q \
		-v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$MESH_REMOTE_PG_PORT" -U "$REMOTE_PG_USER" -d "$REMOTE_PG_DB" \
		-c "${1:?remote-sql SQL}"
}
