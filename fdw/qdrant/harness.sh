# mesh harness recipe of mesh_qdrant (sourced by test/harness.sh, not run).
#
#   qdrant    fdw/qdrant/test/qdrant_standin.py: a CONTRACT stand-in for
#             Qdrant's REST API (no Qdrant server can be had here) on
#             $MESH_QDRANT_PORT, api key $QDRANT_API_KEY; GET /healthz
#
# port: MESH_QDRANT_PORT 395

QDRANT_API_KEY=mesh_qdrant_key

harness_server qdrant

# ---------------------------------------------------------------- Qdrant stand-in (contract tests)
start_qdrant() {
	fresh_dir qdrant >/dev/null
	run_qdrant
}
run_qdrant() {
	local dir="$MESH_TEST_DIR/qdrant"
	require_port_free qdrant "$MESH_QDRANT_PORT"
	QDRANT_API_KEY=$QDRANT_API_KEY spawn "$dir/qdrant.pid" "$dir/qdrant.log" "$(python_bin)" "$REPO/fdw/qdrant/test/qdrant_standin.py" \
		"$MESH_QDRANT_PORT" 127.0.0.1
	wait_http qdrant "$dir/qdrant.log" "$dir/qdrant.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_QDRANT_PORT/healthz"
}
stop_qdrant() {
	stop_pidfile qdrant "$MESH_TEST_DIR/qdrant/qdrant.pid" "qdrant_standin\.py $MESH_QDRANT_PORT( |$)"
}
port_qdrant() { echo "$MESH_QDRANT_PORT"; }
pid_qdrant() { read_pidfile "$MESH_TEST_DIR/qdrant/qdrant.pid"; }
