# mesh harness recipe of mesh_azblob (sourced by test/harness.sh, not run).
#
#   azblob  Azurite $AZURITE_VERSION (Microsoft's Azure Storage emulator;
#           its Blob service only, `azurite-blob`), data in
#           $MESH_TEST_DIR/azblob/data, on 127.0.0.1:$MESH_AZBLOB_PORT, plain
#           HTTP, path-style URLs (http://127.0.0.1:PORT/devstoreaccount1/...).
#           Its well-known development account devstoreaccount1 and key
#           ($AZBLOB_ACCOUNT_KEY, published by Microsoft) are the only
#           credentials; it checks SharedKey signatures and SAS tokens.
#
# Azurite comes from npm: `npm install --prefix DIR azurite@$AZURITE_VERSION`
# (under a minute), installed once per machine into
# $MESH_CACHE_DIR/azurite-<version>/ by install_azblob (called by
# `harness.sh install`).  Node.js >= 18 from PATH.
#
# Commands for test setup (signed with the account key by
# fdw/azblob/azblob_tool.py, Python's standard library only):
#   harness.sh azblob-mkcontainer CONTAINER [public]   (public: anonymous
#     requests may list and read it)
#   harness.sh azblob-put CONTAINER BLOB [BODY [CONTENT_TYPE [NAME=VALUE...]]]
#     (BLOB is escaped there; NAME=VALUE pairs become x-ms-meta-NAME headers)
#   harness.sh azblob-sas [PERMISSIONS]   print an account SAS token for the
#     Blob service (default permissions rl: read, list), valid a day
#
# port: MESH_AZBLOB_PORT 472

AZURITE_VERSION=3.37.0
AZURITE_DIR=$MESH_CACHE_DIR/azurite-$AZURITE_VERSION
AZURITE_BIN=$AZURITE_DIR/node_modules/.bin/azurite-blob
AZBLOB_ACCOUNT=devstoreaccount1
AZBLOB_ACCOUNT_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# OpenSSL's HMAC and base64 sign the requests (fdw/azblob/azblob_sign.c)
harness_build_packages libssl-dev
harness_server azblob packages=nodejs install=install_azblob
harness_command azblob-mkcontainer azblob_mkcontainer "CONTAINER [public]: create a container on the azblob server"
harness_command azblob-put azblob_put "CONTAINER BLOB [BODY [CONTENT_TYPE [NAME=VALUE...]]]: put a block blob on the azblob server"
harness_command azblob-sas azblob_sas "[PERMISSIONS]: print an account SAS token of the azblob server (default rl)"

# azurite_installed: the cached install is Azurite $AZURITE_VERSION.
azurite_installed() {
	local version
	[ -x "$AZURITE_BIN" ] || return 1
	version=$("$AZURITE_BIN" --version 2>/dev/null) || return 1
	[ "$version" = "$AZURITE_VERSION" ]
}

install_azblob() {
	command -v npm >/dev/null 2>&1 || die "azblob: npm not installed (Debian package npm, or Node.js >= 18)"
	if azurite_installed; then
		log "install: azurite $AZURITE_VERSION cached at $AZURITE_DIR"
		return 0
	fi
	log "install: azurite $AZURITE_VERSION (once per machine) into $AZURITE_DIR"
	mkdir -p "$AZURITE_DIR"
	npm install --prefix "$AZURITE_DIR" --no-audit --no-fund --loglevel=error \
		"azurite@$AZURITE_VERSION" >"$AZURITE_DIR/install.log" 2>&1 ||
		{ tail -n 20 "$AZURITE_DIR/install.log" >&2; die "azurite install failed (log: $AZURITE_DIR/install.log)"; }
	azurite_installed || die "azurite install gave no working azurite-blob"
	log "install: azurite $AZURITE_VERSION installed at $AZURITE_DIR"
}

# run_azblob: start Azurite's Blob service on the data in $MESH_TEST_DIR/azblob/data (kept).
run_azblob() {
	local dir="$MESH_TEST_DIR/azblob"
	azurite_installed || die "azblob: Azurite $AZURITE_VERSION missing: run '$HARNESS install azblob'"
	require_port_free azblob "$MESH_AZBLOB_PORT"
	mkdir -p "$dir/data"
	# the account comes from the URL's first path segment, never the host;
	# --silent: no access log (it would record the tests' SAS tokens)
	spawn "$dir/azblob.pid" "$dir/azblob.log" "$AZURITE_BIN" --disableTelemetry \
		--blobHost 127.0.0.1 --blobPort "$MESH_AZBLOB_PORT" --location "$dir/data" \
		--skipApiVersionCheck --disableProductStyleUrl --silent
	# ready once it answers; an unsigned listing is refused (403), as it should be
	wait_http azblob "$dir/azblob.log" "$dir/azblob.pid" "$MESH_START_TIMEOUT" 403 \
		"http://127.0.0.1:$MESH_AZBLOB_PORT/$AZBLOB_ACCOUNT?comp=list"
}

start_azblob() {
	fresh_dir azblob >/dev/null
	run_azblob
}

stop_azblob() { stop_pidfile azblob "$MESH_TEST_DIR/azblob/azblob.pid" "azurite-blob .*--blobPort $MESH_AZBLOB_PORT( |$)"; }
port_azblob() { echo "$MESH_AZBLOB_PORT"; }
pid_azblob() { read_pidfile "$MESH_TEST_DIR/azblob/azblob.pid"; }

# azblob_tool ARGS...: fdw/azblob/azblob_tool.py against the azblob server (the key in its environment).
azblob_tool() {
	AZBLOB_ACCOUNT_KEY=$AZBLOB_ACCOUNT_KEY "$(python_bin)" "$REPO/fdw/azblob/azblob_tool.py" \
		"http://127.0.0.1:$MESH_AZBLOB_PORT/$AZBLOB_ACCOUNT" "$AZBLOB_ACCOUNT" "$@"
}

azblob_mkcontainer() {
	[ $# -eq 1 ] || { [ $# -eq 2 ] && [ "$2" = public ]; } || die "usage: harness.sh azblob-mkcontainer CONTAINER [public]"
	azblob_tool mkcontainer "$@" || die "azblob-mkcontainer $1 failed"
}

azblob_put() {
	[ $# -ge 2 ] || die "usage: harness.sh azblob-put CONTAINER BLOB [BODY [CONTENT_TYPE [NAME=VALUE...]]]"
	azblob_tool put "$@" || die "azblob-put $1/$2 failed"
}

azblob_sas() {
	[ $# -le 1 ] || die "usage: harness.sh azblob-sas [PERMISSIONS]"
	azblob_tool sas "$@" || die "azblob-sas failed"
}
