# mesh harness recipe of mesh_mongodb: the MongoDB-wire server (sourced by
# test/harness.sh, not run).
#
#   mongodb   FerretDB v1.24.2, SQLite handler, 127.0.0.1:$MESH_MONGO_PORT,
#             TLS on $MESH_MONGO_TLS_PORT with the certificate of the harness's
#             `tls` server (its test CA; started before), debug HTTP on
#             $MESH_MONGO_DEBUG_PORT, with FerretDB's
#             experimental SCRAM authentication on: user $MONGO_USER /
#             $MONGO_PASSWORD is made at start in database $MONGO_DB.
#
# FerretDB comes from the Go module proxy (`go env GOPROXY` as configured),
# built once per machine into $MESH_CACHE_DIR/ferretdb-<version>/ferretdb
# by install_mongodb (called by `harness.sh install`).  A plain `go install`
# or `go build` of its cmd panics at start ("Invalid build/version/
# version.txt"): the binary reads its version from an embedded file that
# the published module lacks.  So the build copies the module into a
# wrapper module, writes that file, and builds the copy (a replace
# directive).  Needs Go >= 1.22 (PATH or /usr/local/go/bin).
#
# port: MESH_MONGO_PORT 17
# port: MESH_MONGO_DEBUG_PORT 18
# port: MESH_MONGO_TLS_PORT 19

FERRETDB_VERSION=v1.24.2
FERRETDB_BIN=$MESH_CACHE_DIR/ferretdb-$FERRETDB_VERSION/ferretdb

MONGO_DB=mesh_test
MONGO_USER=mesh_mongo
MONGO_PASSWORD=mesh_mongo_pw

harness_build_packages libmongoc-dev
# TLS with the certificate of the core's tls server: started after it
harness_server mongodb deps=tls install=install_mongodb

# install_mongodb: build FerretDB into the cache unless it is there (idempotent).
# ferretdb_built: the cached binary runs and is FERRETDB_VERSION (its output
# read whole: grep -q on a pipe would make it die of SIGPIPE under pipefail)
ferretdb_built() {
	local out
	[ -x "$FERRETDB_BIN" ] && out=$("$FERRETDB_BIN" --version 2>/dev/null) &&
		grep -q "version: $FERRETDB_VERSION" <<<"$out"
}

install_mongodb() {
	local dir=$MESH_CACHE_DIR/ferretdb-$FERRETDB_VERSION go src
	if ferretdb_built; then
		log "install: FerretDB $FERRETDB_VERSION cached at $FERRETDB_BIN"
		return 0
	fi
	go=$(go_bin)
	log "install: building FerretDB $FERRETDB_VERSION (once per machine) in $dir"
	rm -rf "$dir/build"
	mkdir -p "$dir/build"
	(
		cd "$dir/build"
		"$go" mod init mesh-ferretdb-wrapper >/dev/null 2>&1
		"$go" get "github.com/FerretDB/FerretDB/cmd/ferretdb@$FERRETDB_VERSION"
		src=$("$go" list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
		cp -r "$src" ferretdb-src
		chmod -R u+w ferretdb-src
		echo "$FERRETDB_VERSION" >ferretdb-src/build/version/version.txt
		"$go" mod edit -replace github.com/FerretDB/FerretDB=./ferretdb-src
		"$go" build -o ../ferretdb github.com/FerretDB/FerretDB/cmd/ferretdb
	) >"$dir/build.log" 2>&1 || { tail -n 20 "$dir/build.log" >&2; die "FerretDB build failed (log: $dir/build.log)"; }
	rm -rf "$dir/build"
	ferretdb_built || die "FerretDB build gave no working binary"
	log "install: FerretDB $FERRETDB_VERSION built at $FERRETDB_BIN"
}

# run_mongodb: start FerretDB on the data in $MESH_TEST_DIR/mongodb (kept).
run_mongodb() {
	local dir="$MESH_TEST_DIR/mongodb" certs="$MESH_TEST_DIR/tls" i
	[ -x "$FERRETDB_BIN" ] || die "mongodb: $FERRETDB_BIN missing: run '$HARNESS install'"
	[ -s "$certs/server.crt" ] || die "mongodb: no test certificate in $certs (start the 'tls' server first)"
	require_port_free mongodb "$MESH_MONGO_PORT"
	require_port_free mongodb-debug "$MESH_MONGO_DEBUG_PORT"
	require_port_free mongodb-tls "$MESH_MONGO_TLS_PORT"
	mkdir -p "$dir/data" "$dir/state"
	# the password travels in the environment, not in argv
	FERRETDB_SETUP_PASSWORD=$MONGO_PASSWORD spawn "$dir/mongodb.pid" "$dir/mongodb.log" \
		"$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$dir/data/" \
		--listen-addr="127.0.0.1:$MESH_MONGO_PORT" --debug-addr="127.0.0.1:$MESH_MONGO_DEBUG_PORT" \
		--listen-tls="127.0.0.1:$MESH_MONGO_TLS_PORT" --listen-tls-cert-file="$certs/server.crt" \
		--listen-tls-key-file="$certs/server.key" \
		--state-dir="$dir/state" --telemetry=disable --log-level=warn \
		--test-enable-new-auth --setup-database="$MONGO_DB" --setup-username="$MONGO_USER"
	wait_port mongodb "$MESH_MONGO_PORT" "$dir/mongodb.log" "$(read_pidfile "$dir/mongodb.pid")"
	# ready once the setup user exists: the debug handler reports readiness
	for ((i = 0; i < MESH_START_TIMEOUT * 10; i++)); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$MESH_MONGO_DEBUG_PORT/debug/readyz" 2>/dev/null)" = 200 ] && return 0
		pid_alive "$(read_pidfile "$dir/mongodb.pid")" || fail_with_log mongodb "$dir/mongodb.log" "exited during start"
		sleep 0.1
	done
	fail_with_log mongodb "$dir/mongodb.log" "not ready (/debug/readyz) within ${MESH_START_TIMEOUT}s"
}

start_mongodb() {
	rm -rf "$MESH_TEST_DIR/mongodb"
	run_mongodb
}

stop_mongodb() { stop_pidfile mongodb "$MESH_TEST_DIR/mongodb/mongodb.pid" "ferretdb .*--listen-addr=127\.0\.0\.1:$MESH_MONGO_PORT( |$)"; }
port_mongodb() { echo "$MESH_MONGO_PORT"; }
pid_mongodb() { read_pidfile "$MESH_TEST_DIR/mongodb/mongodb.pid"; }
