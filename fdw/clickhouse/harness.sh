# mesh harness recipe of mesh_clickhouse (sourced by test/harness.sh, not run).
#
#   clickhouse   ClickHouse 18.16 (Debian), clickhouse-server --config-file=FILE;
#                GET /ping -> "Ok."; user $CLICKHOUSE_USER / $CLICKHOUSE_PASSWORD
#
# port: MESH_CLICKHOUSE_TCP_PORT 0
# port: MESH_CLICKHOUSE_PORT 123

CLICKHOUSE_USER=mesh_user
CLICKHOUSE_PASSWORD=mesh_ch_pw

harness_server clickhouse packages=clickhouse-server
harness_default_ports clickhouse 8123 9000 9009

# ---------------------------------------------------------------- ClickHouse 18.16
# Debian ships the server as /usr/sbin/clickhouse-server (no `clickhouse`
# multi-binary, no client). It runs as root here; its folders must only be
# writable by the user it runs as.
clickhouse_bin() {
	if [ -x /usr/sbin/clickhouse-server ]; then echo /usr/sbin/clickhouse-server; else command -v clickhouse-server || true; fi
}

start_clickhouse() {
	local dir
	dir=$(fresh_dir clickhouse)
	mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
	render_conf "$REPO/fdw/clickhouse/test/conf/clickhouse-config.xml.in" "$dir/config.xml" DIR="$dir" \
		HTTP_PORT="$MESH_CLICKHOUSE_PORT" TCP_PORT="$MESH_CLICKHOUSE_TCP_PORT"
	render_conf "$REPO/fdw/clickhouse/test/conf/clickhouse-users.xml.in" "$dir/users.xml" MESH_USER_PASSWORD="$CLICKHOUSE_PASSWORD"
	run_clickhouse
}
run_clickhouse() {
	local dir="$MESH_TEST_DIR/clickhouse" bin
	bin=$(clickhouse_bin)
	[ -n "$bin" ] || die "clickhouse: clickhouse-server not installed: run '$HARNESS install'"
	require_port_free clickhouse "$MESH_CLICKHOUSE_PORT"
	require_port_free clickhouse "$MESH_CLICKHOUSE_TCP_PORT"
	# its logger writes warnings and errors to stderr (see the config)
	spawn "$dir/clickhouse.pid" "$dir/clickhouse-server.log" "$bin" --config-file="$dir/config.xml"
	wait_http clickhouse "$dir/clickhouse-server.log" "$dir/clickhouse.pid" \
		"$MESH_START_TIMEOUT" 200 "http://127.0.0.1:$MESH_CLICKHOUSE_PORT/ping" '^Ok\.$'
}
stop_clickhouse() {
	stop_pidfile clickhouse "$MESH_TEST_DIR/clickhouse/clickhouse.pid" \
		"clickhouse-server --config-file=$MESH_TEST_DIR/clickhouse/config\.xml"
}
port_clickhouse() { echo "$MESH_CLICKHOUSE_PORT"; }
pid_clickhouse() { read_pidfile "$MESH_TEST_DIR/clickhouse/clickhouse.pid"; }
