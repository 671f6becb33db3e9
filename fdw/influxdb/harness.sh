# mesh harness recipe of mesh_influxdb (sourced by test/harness.sh, not run).
#
#   influxdb   InfluxDB 1.6 (Debian), influxd run -config FILE; GET /ping -> 204
#
# port: MESH_INFLUX_PORT 86
# port: MESH_INFLUX_RPC_PORT 88

harness_server influxdb packages=influxdb
harness_default_ports influxd 8086 8088

# ---------------------------------------------------------------- InfluxDB 1.6
start_influxdb() {
	local dir
	dir=$(fresh_dir influxdb)
	render_conf "$REPO/fdw/influxdb/test/conf/influxdb.conf.in" "$dir/influxdb.conf" DIR="$dir" \
		HTTP_PORT="$MESH_INFLUX_PORT" RPC_PORT="$MESH_INFLUX_RPC_PORT"
	run_influxdb
}
run_influxdb() {
	local dir="$MESH_TEST_DIR/influxdb"
	need_bin influxdb influxd
	require_port_free influxdb "$MESH_INFLUX_PORT"
	require_port_free influxdb "$MESH_INFLUX_RPC_PORT"
	spawn "$dir/influxdb.pid" "$dir/influxd.log" influxd run -config "$dir/influxdb.conf"
	wait_http influxdb "$dir/influxd.log" "$dir/influxdb.pid" "$MESH_START_TIMEOUT" 204 \
		"http://127.0.0.1:$MESH_INFLUX_PORT/ping"
}
stop_influxdb() {
	stop_pidfile influxdb "$MESH_TEST_DIR/influxdb/influxdb.pid" "influxd run -config $MESH_TEST_DIR/influxdb/"
}
port_influxdb() { echo "$MESH_INFLUX_PORT"; }
pid_influxdb() { read_pidfile "$MESH_TEST_DIR/influxdb/influxdb.pid"; }
