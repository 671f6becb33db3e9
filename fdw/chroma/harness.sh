# mesh harness recipe of mesh_chroma (sourced by test/harness.sh, not run).
#
#   chroma    Chroma $CHROMA_VERSION (PyPI chromadb in a cached venv,
#             $MESH_CACHE_DIR/chroma-venv, built by `harness.sh install chroma`
#             and by start_chroma): chroma run on 127.0.0.1:$MESH_CHROMA_PORT;
#             ready when GET /api/v2/heartbeat answers 200
#
# port: MESH_CHROMA_PORT 800

CHROMA_VERSION=1.5.9
CHROMA_VENV="$MESH_CACHE_DIR/chroma-venv"

harness_server chroma packages=python3-venv install=install_chroma

# install_chroma: a venv with chromadb==$CHROMA_VERSION, once per machine.
install_chroma() {
	if [ ! -x "$CHROMA_VENV/bin/chroma" ] || [ "$(cat "$CHROMA_VENV/install.done" 2>/dev/null)" != "$CHROMA_VERSION" ]; then
		log "install: Chroma $CHROMA_VERSION venv (pip; once per machine)"
		rm -rf "$CHROMA_VENV"
		"$(python_bin)" -m venv "$CHROMA_VENV" >"$MESH_CACHE_DIR/chroma-venv.log" 2>&1 ||
			fail_with_log chroma "$MESH_CACHE_DIR/chroma-venv.log" "python3 -m venv failed (python3-venv missing?)"
		"$CHROMA_VENV/bin/pip" install -q "chromadb==$CHROMA_VERSION" >>"$MESH_CACHE_DIR/chroma-venv.log" 2>&1 ||
			fail_with_log chroma "$MESH_CACHE_DIR/chroma-venv.log" "pip install chromadb==$CHROMA_VERSION failed"
		echo "$CHROMA_VERSION" >"$CHROMA_VENV/install.done"
	fi
}

# ---------------------------------------------------------------- Chroma
start_chroma() {
	install_chroma
	fresh_dir chroma >/dev/null
	run_chroma
}
run_chroma() {
	local dir="$MESH_TEST_DIR/chroma"
	require_port_free chroma "$MESH_CHROMA_PORT"
	ANONYMIZED_TELEMETRY=False spawn "$dir/chroma.pid" "$dir/chroma.log" \
		"$CHROMA_VENV/bin/chroma" run --path "$dir/data" --host 127.0.0.1 --port "$MESH_CHROMA_PORT"
	wait_http chroma "$dir/chroma.log" "$dir/chroma.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_CHROMA_PORT/api/v2/heartbeat"
}
stop_chroma() {
	stop_pidfile chroma "$MESH_TEST_DIR/chroma/chroma.pid" "chroma run --path $MESH_TEST_DIR/chroma/data "
}
port_chroma() { echo "$MESH_CHROMA_PORT"; }
pid_chroma() { read_pidfile "$MESH_TEST_DIR/chroma/chroma.pid"; }
