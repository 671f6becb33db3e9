#!/usr/bin/env bash
# servers: (the hub only)
# Check: the harness refuses a port inside the kernel's ephemeral range (an
# outgoing connection may hold it at any moment), names the variable to
# change, and starts nothing; every default port of the test, demo and bench
# blocks lies below that range.
set -euo pipefail
CHECK=harness_ports
. "$(dirname "$0")/../lib/checks.sh"
harness=$(dirname "$0")/../harness.sh
read -r low high </proc/sys/net/ipv4/ip_local_port_range
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# harness_clean ARGS...: the harness without the port settings this run exported
harness_clean() {
	local unset_args=() v
	for v in $(compgen -e | grep -E '^MESH_([A-Z0-9_]*_PORT|PORT_BASE)$'); do unset_args+=(-u "$v"); done
	env "${unset_args[@]}" "$@" bash "$harness" check-ports
}

# 1. a configured port inside the range: refused before anything starts
bad=$((low + 123))
if MESH_TEST_DIR=$scratch MESH_REDIS_PORT=$bad bash "$harness" start redis >"$scratch/out" 2>&1; then
	fail "the harness started with MESH_REDIS_PORT=$bad inside $low-$high: $(cat "$scratch/out")"
fi
grep -q "MESH_REDIS_PORT=$bad lies inside the ephemeral port range $low-$high" "$scratch/out" ||
	fail "the refusal does not name MESH_REDIS_PORT and the range: $(cat "$scratch/out")"
grep -q "ip_local_port_range" "$scratch/out" || fail "the refusal does not name ip_local_port_range"
[ ! -e "$scratch/pg_hub" ] && [ ! -e "$scratch/redis" ] || fail "the refused start left server folders behind"
if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$bad" 2>/dev/null; then
	fail "something listens on the refused port $bad"
fi

# 2. a base that puts every port in the range: every variable is named
if harness_clean MESH_TEST_DIR="$scratch" MESH_PORT_BASE="$low" >"$scratch/out" 2>&1; then
	fail "check-ports accepted MESH_PORT_BASE=$low"
fi
[ "$(grep -c 'lies inside the ephemeral port range' "$scratch/out")" -ge 20 ] ||
	fail "check-ports did not name every port: $(cat "$scratch/out")"

# 3. the default blocks of the tests, the demo and bench/ are all safe here
for base in 21000 22000 23000; do
	harness_clean MESH_PORT_BASE="$base" >"$scratch/out" 2>&1 ||
		fail "the default block $base is refused: $(cat "$scratch/out")"
done
echo "$CHECK: ok"
