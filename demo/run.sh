#!/usr/bin/env bash
# The mesh demo from a fresh machine: installs what it needs (mesh's build
# dependencies, PostgreSQL, Redis, ClickHouse; nothing else), builds and
# installs mesh, starts a throwaway hub PostgreSQL (mesh preloaded), a remote
# PostgreSQL, Redis and ClickHouse on loopback (ports 22000-22999, state in
# /tmp/mesh-demo), runs demo/demo.sql, then stops them
# (MESH_DEMO_KEEP=1 keeps them running; `MESH_TEST_DIR=/tmp/mesh-demo
# MESH_PORT_BASE=22000 test/harness.sh stop` stops them).
# Exit status 0 only if every step and every statement of demo.sql worked.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export MESH_TEST_DIR=${MESH_TEST_DIR:-/tmp/mesh-demo}
export MESH_PORT_BASE=${MESH_PORT_BASE:-22000}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DEMO_SERVERS="pg_remote redis clickhouse"
START=$SECONDS

step() { printf '== demo: %s (%ds)\n' "$*" "$((SECONDS - START))"; }

step "install packages: mesh's build and $DEMO_SERVERS"
# shellcheck disable=SC2086
bash "$REPO/test/harness.sh" install $DEMO_SERVERS
[ -x "$PG_CONFIG" ] || PG_CONFIG=pg_config
step "build and install mesh"
make -C "$REPO" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" all >/dev/null
make -C "$REPO" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
step "start the hub and $DEMO_SERVERS"
if [ "${MESH_DEMO_KEEP:-0}" != 1 ]; then
	trap 'bash "$REPO/test/harness.sh" stop >/dev/null' EXIT
fi
# shellcheck disable=SC2086
bash "$REPO/test/harness.sh" start $DEMO_SERVERS
eval "$(bash "$REPO/test/harness.sh" env)"
step "run demo/demo.sql"
PGPASSWORD=remote_secret_pw psql -X -q -h 127.0.0.1 -p "$MESH_REMOTE_PG_PORT" -U remote_user remote_db \
	-c 'DROP TABLE IF EXISTS demo_readings, demo_measurements' \
	-c 'CREATE TABLE demo_readings (id int PRIMARY KEY, sensor_id int, v float8, ts timestamptz)' \
	-c 'CREATE TABLE demo_measurements (LIKE demo_readings INCLUDING ALL)'
psql -X -v ON_ERROR_STOP=1 -d postgres -f "$REPO/demo/demo.sql"
echo
step "done: first federated result above"
echo "demo: hub at psql -h 127.0.0.1 -p $PGPORT -U postgres postgres"
