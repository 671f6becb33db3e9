#!/usr/bin/env bash
# servers: pg_remote redis
# Check: kill -9 of the worker serving a route in the middle of a large delivery (the
# postmaster then restarts every process, as after a crash) loses nothing:
# after recovery both replicas verify consistent.
set -euo pipefail
CHECK=worker_killed
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_kill

large_backlog "$db" killed

# wait until delivery is under way, then kill the process serving the Redis
# route (a delivery worker names the route it serves in application_name)
pid=
for ((i = 0; i < 3000; i++)); do
	pid=$(q -d "$db" -c "SELECT a.pid FROM pg_stat_activity a JOIN mesh.stats s ON true
		WHERE a.backend_type IN ('mesh database worker', 'mesh delivery worker') AND a.datname = current_database()
		  AND s.target = 'cache' AND s.delivered > 0 AND s.pending > 0
		  AND a.application_name = 'mesh route ' || (SELECT id FROM mesh.routes WHERE target = 'cache')
		LIMIT 1" 2>/dev/null || true)
	[ -n "$pid" ] && break
	sleep 0.01
done
[ -n "$pid" ] || fail "never caught the route's worker in the middle of the delivery"
kill -9 "$pid"
echo "$CHECK: killed the worker $pid serving the route mid-delivery"
sleep 0.5
wait_hub
q -d "$db" -c "UPDATE killed SET n = n + 1 WHERE id % 7 = 0" >/dev/null
expect_consistent "$db" killed
q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "$CHECK: ok"
