# mesh test harness: every server's port (sourced by test/harness.sh and
# bench/lib.sh, not run).
#
# A port is MESH_PORT_BASE plus a fixed offset, unless its own variable is
# set.  Blocks of 1000 per purpose, all below Linux's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range, often 32768-60999): a port inside
# that range can be taken at any moment by an outgoing connection (even one
# of the harness's own readiness probes, left in TIME-WAIT), and the server
# then fails to bind.
#
#   21000  test/run.sh (the default)
#   22000  demo/run.sh
#   23000  bench/
#   24000+ free for a second checkout or a valgrind run (MESH_PORT_BASE=24000)
#
# Inside a block: the fault proxy (Toxiproxy) has its API at offset 600 and
# the proxies the checks make listen on offsets 610-659
# (MESH_TOXIPROXY_PROXY_PORT and the 49 ports after it).

MESH_PORT_BASE=${MESH_PORT_BASE:-21000}

# name offset: one line per port variable.  The core's are here; each
# backend's are "# port: VARIABLE OFFSET" lines in its recipe,
# fdw/<kind>/harness.sh, read below (no offset may be used twice).
MESH_PORT_OFFSETS="
MESH_METRICS_PORT 187
MESH_HANG_PORT 390
MESH_DOWN_PORT 391
MESH_GARBAGE_PORT 392
MESH_TLS_PORT 393
MESH_TLS_CLIENT_PORT 394
MESH_PG_PORT 432
MESH_HUB2_PG_PORT 434
MESH_TOXIPROXY_PORT 600
MESH_TOXIPROXY_PROXY_PORT 610
"
MESH_PORT_OFFSETS="$MESH_PORT_OFFSETS$(sed -n 's/^# port: \(MESH_[A-Z0-9_]*_PORT\) \([0-9][0-9]*\)$/\1 \2/p' \
	"$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"/fdw/*/harness.sh)
"

# ports_assign: set every port variable that is not set already.
ports_assign() {
	local name offset dup
	case $MESH_PORT_BASE in
	'' | *[!0-9]*) echo "harness: ERROR: MESH_PORT_BASE='$MESH_PORT_BASE' is not a number" >&2; return 1 ;;
	esac
	dup=$(awk 'NF { if (seen[$2]++) print "offset " $2 " of " $1 " is taken"; if (named[$1]++) print $1 " is declared twice" }' \
		<<<"$MESH_PORT_OFFSETS")
	if [ -n "$dup" ]; then
		echo "harness: ERROR: port declarations clash (test/lib/ports.sh, fdw/*/harness.sh): $dup" >&2
		return 1
	fi
	while read -r name offset; do
		[ -n "$name" ] || continue
		if [ -z "${!name:-}" ]; then
			printf -v "$name" '%s' "$((MESH_PORT_BASE + offset))"
		fi
		export "${name?}"
	done <<<"$MESH_PORT_OFFSETS"
}

# ephemeral_range: print "LOW HIGH" of the kernel's client port range
# (MESH_EPHEMERAL_RANGE="LOW HIGH" overrides it, for tests of this check).
ephemeral_range() {
	if [ -n "${MESH_EPHEMERAL_RANGE:-}" ]; then
		echo "$MESH_EPHEMERAL_RANGE"
	elif [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
		tr -s '\t ' '  ' </proc/sys/net/ipv4/ip_local_port_range
	else
		echo "32768 60999"
	fi
}

# ports_check_safe: refuse (exit status 1, a message naming each variable)
# any configured port inside the ephemeral range or outside 1024-65535.
ports_check_safe() {
	local low high name offset port bad=0
	read -r low high < <(ephemeral_range)
	while read -r name offset; do
		[ -n "$name" ] || continue
		port=${!name}
		case $port in
		'' | *[!0-9]*)
			echo "harness: ERROR: $name='$port' is not a port number" >&2
			bad=1
			continue
			;;
		esac
		if [ "$port" -lt 1024 ] || [ "$port" -gt 65535 ]; then
			echo "harness: ERROR: $name=$port is outside 1024-65535" >&2
			bad=1
		elif [ "$port" -ge "$low" ] && [ "$port" -le "$high" ]; then
			echo "harness: ERROR: $name=$port lies inside the ephemeral port range $low-$high" \
				"(/proc/sys/net/ipv4/ip_local_port_range): any outgoing connection may hold it and the" \
				"server would fail to bind. Set $name (or MESH_PORT_BASE) to a port below $low," \
				"e.g. MESH_PORT_BASE=21000." >&2
			bad=1
		fi
	done <<<"$MESH_PORT_OFFSETS"
	return $bad
}

# ports_env: `export NAME=VALUE` lines of every port (for `harness.sh env`).
ports_env() {
	local name offset
	while read -r name offset; do
		[ -n "$name" ] && printf 'export %s=%q\n' "$name" "${!name}"
	done <<<"$MESH_PORT_OFFSETS"
	printf 'export MESH_PORT_BASE=%q\n' "$MESH_PORT_BASE"
}

ports_assign || exit 1
