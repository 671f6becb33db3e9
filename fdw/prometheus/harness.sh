# mesh harness recipe of mesh_prometheus (sourced by test/harness.sh, not run).
#
#   prometheus   Prometheus 2.42 (Debian), scraping itself, victoria and the
#                hub's /metrics every 1 s (fdw/prometheus/test/conf/prometheus.yml.in);
#                GET /-/ready, then a first `up` of every target
#
# port: MESH_PROMETHEUS_PORT 90

# seconds Prometheus may take until its first scrape is queryable
MESH_PROMETHEUS_SCRAPE_TIMEOUT=${MESH_PROMETHEUS_SCRAPE_TIMEOUT:-30}

# it scrapes victoria (fdw/victoriametrics): started after it
harness_server prometheus packages=prometheus deps=victoria
harness_default_ports prometheus 9090

# ---------------------------------------------------------------- Prometheus 2.42
start_prometheus() {
	local dir
	dir=$(fresh_dir prometheus)
	render_conf "$REPO/fdw/prometheus/test/conf/prometheus.yml.in" "$dir/prometheus.yml" PROM_PORT="$MESH_PROMETHEUS_PORT" \
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
