#!/usr/bin/env bash
# test/dev_reload.sh: build and install mesh from the checkout this script
# lives in, then restart the running test hub (it preloads mesh.so, so a new
# build needs a restart).  Several checkouts (git worktrees) share one
# machine's PostgreSQL installation, so hold the lock around the reload and
# the tests that must see this build:
#   flock -o /tmp/mesh-dev.lock bash -c 'bash test/dev_reload.sh && make installcheck REGRESS=x'
set -euo pipefail
# the restarted hub must not inherit the caller's lock descriptor
for fd_path in /proc/$$/fd/*; do
	fd=${fd_path##*/}
	if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DATA=${MESH_TEST_DIR:-/tmp/mesh-test}/pg_hub
make -C "$REPO" -s PG_CONFIG="$PG_CONFIG" all
make -C "$REPO" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
runuser -u postgres -- "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$DATA/data" \
	-l "$DATA/postgres.log" -w -m fast restart >/dev/null
