#!/usr/bin/env bash
# servers: pg_remote redis
# Check: an immediate shutdown of the hub (no checkpoint: crash recovery
# at the next start) in the middle of a delivery loses nothing, and the
# committed-but-undelivered events are delivered after the restart.
set -euo pipefail
CHECK=hub_crash
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_crash

large_backlog "$db" crashed
for ((i = 0; i < 3000; i++)); do
	d=$(q -d "$db" -c "SELECT min(delivered) > 0 AND max(pending) > 0 FROM mesh.stats" 2>/dev/null || true)
	[ "$d" = t ] && break
	sleep 0.01
done
[ "$d" = t ] || fail "never caught the routes in the middle of the delivery"
bash "$MESH_HARNESS" crash-hub >/dev/null 2>&1 || fail "crash-hub failed"
echo "$CHECK: immediate shutdown mid-delivery, restarted"
wait_hub
q -d "$db" -c "DELETE FROM crashed WHERE id % 11 = 0" >/dev/null
expect_consistent "$db" crashed
q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "$CHECK: ok"
