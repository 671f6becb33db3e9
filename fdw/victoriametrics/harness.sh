# mesh harness recipe of mesh_victoriametrics (sourced by test/harness.sh,
# not run).
#
#   victoria   VictoriaMetrics 1.79 (Debian); GET /health -> 200
#
# port: MESH_VM_PORT 428

harness_server victoria packages=victoria-metrics
harness_default_ports victoria 8428

# ---------------------------------------------------------------- VictoriaMetrics 1.79
start_victoria() {
	fresh_dir victoria >/dev/null
	run_victoria
}
run_victoria() {
	local dir="$MESH_TEST_DIR/victoria"
	need_bin victoria victoria-metrics
	require_port_free victoria "$MESH_VM_PORT"
	spawn "$dir/victoria.pid" "$dir/victoria.log" victoria-metrics -storageDataPath="$dir/data" \
		-httpListenAddr="127.0.0.1:$MESH_VM_PORT" -retentionPeriod=1 -search.latencyOffset=0s
	wait_http victoria "$dir/victoria.log" "$dir/victoria.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_VM_PORT/health"
}
stop_victoria() {
	stop_pidfile victoria "$MESH_TEST_DIR/victoria/victoria.pid" \
		"victoria-metrics -storageDataPath=$MESH_TEST_DIR/victoria/data "
}
port_victoria() { echo "$MESH_VM_PORT"; }
pid_victoria() { read_pidfile "$MESH_TEST_DIR/victoria/victoria.pid"; }
