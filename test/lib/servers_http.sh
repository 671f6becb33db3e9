# mesh test harness: the HTTP servers (sourced by test/harness.sh, not run).
#
#   influxdb     InfluxDB 1.6        influxd run -config FILE       GET /ping -> 204
#   clickhouse   ClickHouse 18.16    clickhouse-server --config-file=FILE   GET /ping -> "Ok."
#   victoria     VictoriaMetrics 1.79                               GET /health -> 200
#   prometheus   Prometheus 2.42     (scrapes itself, victoria and mesh every 1 s)
#                                                                   GET /-/ready, then a first `up`
#   garbage      test/garbage_server.py (malformed JSON, /status500, /slow)
#   tls          test/tls_server.py: HTTPS with a test CA (certificates made
#                with openssl in its folder), one port also requiring a client
#                certificate
#
# Each runs in the foreground as a child of the harness (stdin closed, output
# to its log), its PID in $MESH_TEST_DIR/NAME/NAME.pid; stop_NAME signals that
# PID only if its command line is still ours. start_NAME begins from an empty
# folder; run_NAME (used by start-one) starts again on the data already there.
# Config templates live in test/conf/*.in (@KEY@ placeholders).

# where mesh will serve its own /metrics (a Prometheus scrape target)
# seconds Prometheus may take until its first scrape is queryable
MESH_PROMETHEUS_SCRAPE_TIMEOUT=${MESH_PROMETHEUS_SCRAPE_TIMEOUT:-30}

CLICKHOUSE_USER=mesh_user
CLICKHOUSE_PASSWORD=mesh_ch_pw

HTTP_SERVER_PACKAGES="influxdb clickhouse-server prometheus victoria-metrics curl"

# The packages' own default ports: nothing may be left listening there.
DEFAULT_SERVER_PORTS="8086 8088 8123 9000 9009 9090 8428"

# render_conf TEMPLATE OUT KEY=VALUE...: test/conf/TEMPLATE with every @KEY@
# replaced by VALUE, written to OUT (mode 600).
render_conf() {
	local template="$TEST_DIR/conf/$1" out=$2 kv args=()
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

# http_get URL: print the body, a newline and the HTTP status (000: no answer).
http_get() { curl -s -m 2 -w '\n%{http_code}' "$1" 2>/dev/null || true; }

# wait_http NAME LOGFILE PIDFILE TIMEOUT CODE URL [BODY_REGEX]: poll until a
# GET of URL answers CODE (and a body matching BODY_REGEX, if given); fail
# with the log's tail if the process dies or TIMEOUT seconds pass.
wait_http() {
	local name=$1 logfile=$2 pid timeout=$4 code=$5 url=$6 re=${7:-} i out
	pid=$(read_pidfile "$3")
	for ((i = 0; i < timeout * 10; i++)); do
		out=$(http_get "$url")
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
# started on its default port (policy-rc.d normally prevents that).
check_default_ports() {
	local port who bad=0
	for port in $DEFAULT_SERVER_PORTS; do
		port_open "$port" || continue
		who=$(ss -ltnpH "sport = :$port" 2>/dev/null || true)
		if grep -qE 'influxd|clickhouse|prometheus|victoria' <<<"$who"; then
			log "ERROR: a packaged service listens on default port $port: $who"
			bad=1
		else
			log "warning: default port $port is in use (not by a mesh test server): $who"
		fi
	done
	[ "$bad" = 0 ] || die "stop the packaged services above (e.g. /etc/init.d/NAME stop); the harness runs its own copies"
}

# ---------------------------------------------------------------- InfluxDB 1.6
start_influxdb() {
	local dir
	dir=$(fresh_dir influxdb)
	render_conf influxdb.conf.in "$dir/influxdb.conf" DIR="$dir" \
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
	render_conf clickhouse-config.xml.in "$dir/config.xml" DIR="$dir" \
		HTTP_PORT="$MESH_CLICKHOUSE_PORT" TCP_PORT="$MESH_CLICKHOUSE_TCP_PORT"
	render_conf clickhouse-users.xml.in "$dir/users.xml" MESH_USER_PASSWORD="$CLICKHOUSE_PASSWORD"
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

# ---------------------------------------------------------------- Prometheus 2.42
start_prometheus() {
	local dir
	dir=$(fresh_dir prometheus)
	render_conf prometheus.yml.in "$dir/prometheus.yml" PROM_PORT="$MESH_PROMETHEUS_PORT" \
		VM_PORT="$MESH_VM_PORT" MESH_METRICS_PORT="$MESH_METRICS_PORT"
	run_prometheus
}
run_prometheus() {
	local dir="$MESH_TEST_DIR/prometheus" url="http://127.0.0.1:$MESH_PROMETHEUS_PORT" targets
	need_bin prometheus prometheus
	require_port_free prometheus "$MESH_PROMETHEUS_PORT"
	spawn "$dir/prometheus.pid" "$dir/prometheus.log" prometheus --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$MESH_PROMETHEUS_PORT" \
		--web.enable-remote-write-receiver
	wait_http prometheus "$dir/prometheus.log" "$dir/prometheus.pid" "$MESH_START_TIMEOUT" 200 "$url/-/ready"
	# The first scrapes land about 5 s after ready: wait until `up` has a
	# sample for every target (the comparison filters: an empty result until
	# then), so the tests find data.
	targets=$(grep -cE "^ +- targets:" "$dir/prometheus.yml")
	wait_http prometheus "$dir/prometheus.log" "$dir/prometheus.pid" "$MESH_PROMETHEUS_SCRAPE_TIMEOUT" 200 \
		"$url/api/v1/query?query=count(up)%3E%3D$targets" '"result":\[\{'
}
stop_prometheus() {
	stop_pidfile prometheus "$MESH_TEST_DIR/prometheus/prometheus.pid" \
		"prometheus --config.file=$MESH_TEST_DIR/prometheus/prometheus\.yml"
}
port_prometheus() { echo "$MESH_PROMETHEUS_PORT"; }
pid_prometheus() { read_pidfile "$MESH_TEST_DIR/prometheus/prometheus.pid"; }

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
