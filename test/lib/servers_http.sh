# mesh test harness: the helpers every server recipe uses (spawn, wait_http,
# stop_pidfile, render_conf...) and the core's HTTP servers (sourced by
# test/harness.sh, not run).  The backends' servers are in their folders'
# recipes, fdw/<kind>/harness.sh.
#
#   garbage      test/garbage_server.py (malformed JSON, /status500, /slow)
#   tls          test/tls_server.py: HTTPS with a test CA (certificates made
#                with openssl in its folder), one port also requiring a client
#                certificate
#
# Each runs in the foreground as a child of the harness (stdin closed, output
# to its log), its PID in $MESH_TEST_DIR/NAME/NAME.pid; stop_NAME signals that
# PID only if its command line is still ours. start_NAME begins from an empty
# folder; run_NAME (used by start-one) starts again on the data already there.
# Config templates (@KEY@ placeholders) live beside the recipe that renders
# them, e.g. fdw/clickhouse/test/conf/*.in.

# render_conf TEMPLATE OUT KEY=VALUE...: the file TEMPLATE with every @KEY@
# replaced by VALUE, written to OUT (mode 600).
render_conf() {
	local template=$1 out=$2 kv args=()
	shift 2
	for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
	(umask 077 && sed "${args[@]}" "$template" >"$out")
	if grep -qE '@[A-Z_]+@' "$out"; then die "render_conf: unfilled placeholder in $out"; fi
}

# spawn PIDFILE LOGFILE CMD...: run CMD in the background, record its PID.
spawn() {
	local pidfile=$1 logfile=$2
	shift 2
	"$@" </dev/null >>"$logfile" 2>&1 &
	echo "$!" >"$pidfile"
}

# need_bin NAME BINARY: fail unless BINARY is installed.
need_bin() {
	command -v "$2" >/dev/null 2>&1 || die "$1: $2 not installed: run '$HARNESS install'"
}

# http_get [CURL_OPTIONS...] URL: print the body, a newline and the HTTP status (000: no answer).
http_get() { curl -s -m 2 -w '\n%{http_code}' "$@" 2>/dev/null || true; }

# wait_http NAME LOGFILE PIDFILE TIMEOUT CODE URL [BODY_REGEX [CA_FILE]]: poll
# until a GET of URL answers CODE (and a body matching BODY_REGEX, if given;
# over TLS verified with CA_FILE, if given); fail with the log's tail if the
# process dies or TIMEOUT seconds pass.
wait_http() {
	local name=$1 logfile=$2 pid timeout=$4 code=$5 url=$6 re=${7:-} ca=${8:-} i out
	pid=$(read_pidfile "$3")
	for ((i = 0; i < timeout * 10; i++)); do
		out=$(http_get ${ca:+--cacert "$ca"} "$url")
		if [ "${out##*$'\n'}" = "$code" ] && { [ -z "$re" ] || grep -qE -- "$re" <<<"${out%$'\n'*}"; }; then
			return 0
		fi
		pid_alive "$pid" || fail_with_log "$name" "$logfile" "exited during start (waiting for $url)"
		sleep 0.1
	done
	fail_with_log "$name" "$logfile" "no answer $code${re:+ matching /$re/} from $url within ${timeout}s"
}

# stop_pidfile NAME PIDFILE REGEX: stop the process of PIDFILE if its command
# line matches REGEX; idempotent.
stop_pidfile() {
	local name=$1 pidfile=$2 re=$3 pid
	pid=$(read_pidfile "$pidfile")
	if [ -n "$pid" ]; then kill_pid "$name" "$pid" "$re"; fi
	rm -f "$pidfile"
}

# fresh_dir NAME: empty $MESH_TEST_DIR/NAME; print its path.
fresh_dir() {
	rm -rf "${MESH_TEST_DIR:?}/$1"
	mkdir -p "$MESH_TEST_DIR/$1"
	echo "$MESH_TEST_DIR/$1"
}

# check_default_ports: after an install, no packaged service may have been
# started on its default port (policy-rc.d normally prevents that); the
# recipes declare those ports with harness_default_ports.
check_default_ports() {
	local entry re ports port who bad=0
	for entry in ${DEFAULT_SERVER_PORTS[@]+"${DEFAULT_SERVER_PORTS[@]}"}; do
		read -r re ports <<<"$entry"
		for port in $ports; do
			port_open "$port" || continue
			who=$(ss -ltnpH "sport = :$port" 2>/dev/null || true)
			if grep -qE "$re" <<<"$who"; then
				log "ERROR: a packaged service listens on default port $port: $who"
				bad=1
			else
				log "warning: default port $port is in use (not by a mesh test server): $who"
			fi
		done
	done
	[ "$bad" = 0 ] || die "stop the packaged services above (e.g. /etc/init.d/NAME stop); the harness runs its own copies"
}

# ---------------------------------------------------------------- garbage HTTP server
start_garbage() {
	fresh_dir garbage >/dev/null
	run_garbage
}
run_garbage() {
	local dir="$MESH_TEST_DIR/garbage"
	require_port_free garbage "$MESH_GARBAGE_PORT"
	spawn "$dir/garbage.pid" "$dir/garbage.log" "$(python_bin)" "$TEST_DIR/garbage_server.py" \
		"$MESH_GARBAGE_PORT" 127.0.0.1
	wait_http garbage "$dir/garbage.log" "$dir/garbage.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_GARBAGE_PORT/"
}
stop_garbage() {
	stop_pidfile garbage "$MESH_TEST_DIR/garbage/garbage.pid" "garbage_server\.py $MESH_GARBAGE_PORT( |$)"
}
port_garbage() { echo "$MESH_GARBAGE_PORT"; }
pid_garbage() { read_pidfile "$MESH_TEST_DIR/garbage/garbage.pid"; }

# ---------------------------------------------------------------- TLS HTTP server
# make_test_certs DIR: a CA, a server certificate for 127.0.0.1 and a client
# certificate, all signed by the CA (readable by postgres, which reads them).
make_test_certs() {
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mesh test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$d/san.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 30 -extfile "$d/san.ext" -out "$d/server.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=mesh client" \
		-keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 30 -out "$d/client.crt" 2>/dev/null
	chmod 755 "$d"
	chmod 644 "$d"/*.crt "$d"/*.key
	[ -s "$d/client.crt" ] || die "tls: openssl could not make the test certificates"
}
start_tls() {
	make_test_certs "$(fresh_dir tls)"
	run_tls
}
run_tls() {
	local dir="$MESH_TEST_DIR/tls"
	need_bin tls openssl
	require_port_free tls "$MESH_TLS_PORT"
	require_port_free tls "$MESH_TLS_CLIENT_PORT"
	spawn "$dir/tls.pid" "$dir/tls.log" "$(python_bin)" "$TEST_DIR/tls_server.py" \
		"$MESH_TLS_PORT" "$MESH_TLS_CLIENT_PORT" "$dir/server.crt" "$dir/server.key" "$dir/ca.crt"
	wait_port tls "$MESH_TLS_CLIENT_PORT" "$dir/tls.log" "$(read_pidfile "$dir/tls.pid")"
}
stop_tls() {
	stop_pidfile tls "$MESH_TEST_DIR/tls/tls.pid" "tls_server\.py $MESH_TLS_PORT( |$)"
}
port_tls() { echo "$MESH_TLS_PORT"; }
pid_tls() { read_pidfile "$MESH_TEST_DIR/tls/tls.pid"; }

# go_bin: the Go command (PATH or /usr/local/go/bin), for servers built from
# the Go module proxy (FerretDB, Toxiproxy).
go_bin() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [ -x /usr/local/go/bin/go ]; then
		echo /usr/local/go/bin/go
	else
		die "building a server needs Go >= 1.22 (none in PATH or /usr/local/go/bin)"
	fi
}

# go_built GO BIN MODULE VERSION: BIN was built from MODULE at VERSION
# (`go install` stamps no version string of its own: read the module's).
# The whole output is read first: `| grep -q` under pipefail fails when grep
# stops reading early and go gets SIGPIPE.
go_built() {
	local info
	info=$("$1" version -m "$2" 2>/dev/null) || return 1
	grep -qE "^[[:space:]]+mod[[:space:]]+${3//./\\.}[[:space:]]+$4([[:space:]]|$)" <<<"$info"
}

# go_install NAME MODULE PACKAGE VERSION BIN: build PACKAGE of MODULE at
# VERSION into BIN's folder (in the cache) unless it is there (idempotent).
go_install() {
	local name=$1 module=$2 package=$3 version=$4 bin=$5 dir go
	dir=$(dirname "$bin")
	go=$(go_bin)
	if [ -x "$bin" ] && go_built "$go" "$bin" "$module" "$version"; then
		log "install: $name $version cached at $bin"
		return 0
	fi
	log "install: building $name $version (once per machine) in $dir"
	mkdir -p "$dir"
	GOBIN="$dir" "$go" install "$package@$version" \
		>"$dir/build.log" 2>&1 || { tail -n 20 "$dir/build.log" >&2; die "$name build failed (log: $dir/build.log)"; }
	go_built "$go" "$bin" "$module" "$version" || die "$name build gave no working binary"
	log "install: $name $version built at $bin"
}
