#!/usr/bin/env bash
# The mesh demo from a fresh machine: installs packages, builds and installs
# mesh, starts a throwaway hub PostgreSQL (mesh preloaded), a remote
# PostgreSQL, Redis and ClickHouse on loopback (with the harness's other
# servers), runs demo/demo.sql, then stops them
# (MESH_DEMO_KEEP=1 keeps them running; `test/harness.sh stop` stops them).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export MESH_TEST_DIR=${MESH_TEST_DIR:-/tmp/mesh-demo}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bash "$REPO/test/harness.sh" install
[ -x "$PG_CONFIG" ] || PG_CONFIG=pg_config
make -C "$REPO" -s PG_CONFIG="$PG_CONFIG" all install >/dev/null
bash "$REPO/test/harness.sh" start
eval "$(bash "$REPO/test/harness.sh" env)"
if [ "${MESH_DEMO_KEEP:-0}" != 1 ]; then
	trap 'bash "$REPO/test/harness.sh" stop >/dev/null' EXIT
fi
PGPASSWORD=remote_secret_pw psql -X -q -h 127.0.0.1 -p "$MESH_REMOTE_PG_PORT" -U remote_user remote_db \
	-c 'DROP TABLE IF EXISTS demo_readings, demo_measurements' \
	-c 'CREATE TABLE demo_readings (id int PRIMARY KEY, sensor_id int, v float8, ts timestamptz)' \
	-c 'CREATE TABLE demo_measurements (LIKE demo_readings INCLUDING ALL)'
psql -X -v ON_ERROR_STOP=1 -d postgres -f "$REPO/demo/demo.sql"
echo
echo "demo: done. Hub: psql -h 127.0.0.1 -p $PGPORT -U postgres postgres"
