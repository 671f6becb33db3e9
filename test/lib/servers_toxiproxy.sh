# mesh test harness: the TCP fault proxy (sourced by test/harness.sh, not run).
#
#   toxiproxy  Toxiproxy v2.12.0 (Shopify), its HTTP API on
#              127.0.0.1:$MESH_TOXIPROXY_PORT.  The proxies a check makes
#              (test/lib/faults.sh) listen on $MESH_TOXIPROXY_PROXY_PORT and
#              the next $MESH_TOXIPROXY_PROXY_PORTS ports, all below the
#              ephemeral range like every other port of the harness.
#
# Toxiproxy comes from the Go module proxy (`go env GOPROXY` as configured):
# `go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0` (about 10 s),
# built once per machine into $MESH_CACHE_DIR/toxiproxy-<version>/server by
# install_toxiproxy (called by `harness.sh install`).  Go from PATH or
# /usr/local/go/bin (go_bin and go_install in servers_http.sh).

TOXIPROXY_VERSION=v2.12.0
TOXIPROXY_BIN=$MESH_CACHE_DIR/toxiproxy-$TOXIPROXY_VERSION/server
# how many proxy listen ports the harness reserves (offsets 610-659)
MESH_TOXIPROXY_PROXY_PORTS=50

# install_toxiproxy: build Toxiproxy into the cache unless it is there (idempotent).
install_toxiproxy() {
	go_install Toxiproxy github.com/Shopify/toxiproxy/v2 github.com/Shopify/toxiproxy/v2/cmd/server \
		"$TOXIPROXY_VERSION" "$TOXIPROXY_BIN"
}

# run_toxiproxy: start the proxy server (it keeps no data: proxies are made
# by the checks through its API).
run_toxiproxy() {
	local dir="$MESH_TEST_DIR/toxiproxy" i
	[ -x "$TOXIPROXY_BIN" ] || die "toxiproxy: $TOXIPROXY_BIN missing: run '$HARNESS install toxiproxy'"
	require_port_free toxiproxy "$MESH_TOXIPROXY_PORT"
	mkdir -p "$dir"
	spawn "$dir/toxiproxy.pid" "$dir/toxiproxy.log" \
		"$TOXIPROXY_BIN" -host 127.0.0.1 -port "$MESH_TOXIPROXY_PORT"
	wait_port toxiproxy "$MESH_TOXIPROXY_PORT" "$dir/toxiproxy.log" "$(read_pidfile "$dir/toxiproxy.pid")"
	for ((i = 0; i < MESH_START_TIMEOUT * 10; i++)); do
		curl -sf -m 2 "http://127.0.0.1:$MESH_TOXIPROXY_PORT/version" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail_with_log toxiproxy "$dir/toxiproxy.log" "API not answering /version within ${MESH_START_TIMEOUT}s"
}

start_toxiproxy() {
	rm -rf "$MESH_TEST_DIR/toxiproxy"
	run_toxiproxy
}

stop_toxiproxy() { stop_pidfile toxiproxy "$MESH_TEST_DIR/toxiproxy/toxiproxy.pid" "toxiproxy-$TOXIPROXY_VERSION/server .*-port $MESH_TOXIPROXY_PORT( |$)"; }
port_toxiproxy() { echo "$MESH_TOXIPROXY_PORT"; }
pid_toxiproxy() { read_pidfile "$MESH_TEST_DIR/toxiproxy/toxiproxy.pid"; }
