#!/usr/bin/env bash
# mesh test harness: installs and runs the real servers the tests talk to.
#
#   test/harness.sh install [NAME...]  mesh's build deps and the named servers'
#                                   packages and caches (idempotent; all without names)
#   test/harness.sh start [NAME...] stop leftovers, then start the hub, the named
#                                   servers and what they need (all without names),
#                                   e.g. `start redis clickhouse`
#   test/harness.sh check-ports     fail if a configured port lies in the ephemeral range
#   test/harness.sh stop            stop every server by its own PID (idempotent)
#   test/harness.sh stop-one NAME   stop one server; start-one NAME starts it again with its data
#                                   (every server with a run_NAME function)
#   test/harness.sh crash-hub       immediate shutdown of the hub, then a start (crash recovery)
#   test/harness.sh env             print `export VAR=value` lines for the tests
#   test/harness.sh status          show which servers run (PID, port)
#   test/harness.sh COMMAND ...     a backend's own command (`usage` lists them), e.g.
#                                   restart-redis, remote-sql SQL
#
# Every server lives under the state dir ${MESH_TEST_DIR:-/tmp/mesh-test}, one
# folder per server (data, log, pid file), listens on 127.0.0.1 only, and is
# stopped by the PID it recorded.
#
# MESH_VALGRIND=1 runs the hub postmaster (and, by fork, every backend and
# worker) under valgrind memcheck, one log per process in
# ${MESH_VALGRIND_LOG_DIR:-$MESH_TEST_DIR/valgrind}/<pid>.log; optional
# MESH_VALGRIND_SUPP (suppression file) and MESH_VALGRIND_OPTS (extra options,
# e.g. --leak-check=full). Raise MESH_START_TIMEOUT with it. See test/valgrind.sh.
#
# The servers of a backend live in its folder: fdw/<kind>/harness.sh (its
# "recipe", sourced below) declares them with harness_server and defines
# their start_/stop_/port_/pid_ (and run_) functions; its ports are
# "# port: VARIABLE OFFSET" lines there (read by test/lib/ports.sh).  This
# file keeps the hub, the servers that serve no one backend (hang, garbage,
# tls, pg_hub2) and the helpers every recipe uses (test/lib/servers_http.sh).
# See fdw/README.md, "The harness recipe".
set -euo pipefail

# Servers must not inherit the caller's descriptors above stderr: a
# `flock LOCK harness.sh start` would otherwise leave the lock held by every
# server it started, and a caller's pipe would never see end-of-file.
for fd_path in /proc/$$/fd/*; do
	fd=${fd_path##*/}
	if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
unset fd fd_path

HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
TEST_DIR=$(dirname "$HARNESS")
REPO=$(dirname "$TEST_DIR")

# ---------------------------------------------------------------- settings
MESH_TEST_DIR=${MESH_TEST_DIR:-/tmp/mesh-test}
# seconds to wait for a server to become ready
MESH_START_TIMEOUT=${MESH_START_TIMEOUT:-20}
# what install steps fetch or build outside Debian, once per machine
MESH_CACHE_DIR=${MESH_CACHE_DIR:-/var/cache/mesh}

# shellcheck source=lib/ports.sh
. "$TEST_DIR/lib/ports.sh"

# Install-only components (nothing to start): chromium loads the status page
# headless in test/checks/status_page.sh.
COMPONENTS="chromium"

# What mesh's build needs, whatever the servers (libmicrohttpd: the metrics
# endpoint; libyaml: the catalog); each recipe adds its client library's
# development package (harness_build_packages).
BASE_PACKAGES="postgresql-15 postgresql-contrib postgresql-server-dev-15
libcurl4-openssl-dev libjansson-dev libyaml-dev build-essential pkg-config python3 make gcc
libmicrohttpd-dev curl"

# ---------------------------------------------------------------- declarations
# The servers, in the order they were declared (the hub, then the core's,
# then each recipe's in folder order, then pg_hub2), and what each declared.
DECLARED_SERVERS=""
declare -A SERVER_PACKAGES=() SERVER_DEPS=() SERVER_INSTALL=() SERVER_INSTALL_SERIAL=()
declare -A HARNESS_COMMANDS=() HARNESS_COMMAND_HELP=()
# entries "PROCESS_REGEX PORT...": packaged services' default ports
DEFAULT_SERVER_PORTS=()

# harness_server NAME [KEY=VALUE...]: declare server NAME, which has
# start_NAME, stop_NAME, port_NAME and pid_NAME functions (run_NAME too if
# start-one can restart it on its data).  Keys:
#   packages="DEB..."  Debian packages it needs beyond BASE_PACKAGES
#   deps="NAME..."     servers it needs running beside it (started before it)
#   install=FUNC       fetches or builds what it needs outside Debian, cached
#                      per machine (idempotent)
#   install_serial=1   that install uses Maven (whose local repository takes
#                      no locks): run it one after another with the others
harness_server() {
	local name=$1 kv
	shift
	[[ " $DECLARED_SERVERS " != *" $name "* ]] || die "server '$name' is declared twice"
	DECLARED_SERVERS="$DECLARED_SERVERS $name"
	for kv in "$@"; do
		case $kv in
		packages=*) SERVER_PACKAGES[$name]=${kv#*=} ;;
		deps=*) SERVER_DEPS[$name]=${kv#*=} ;;
		install=*) SERVER_INSTALL[$name]=${kv#*=} ;;
		install_serial=*) SERVER_INSTALL_SERIAL[$name]=${kv#*=} ;;
		*) die "harness_server $name: unknown key in '$kv'" ;;
		esac
	done
}

# harness_build_packages DEB...: Debian packages mesh's build needs for a
# backend (its client library's headers), installed whatever the servers.
harness_build_packages() { BASE_PACKAGES="$BASE_PACKAGES $*"; }

# harness_default_ports PROCESS_REGEX PORT...: a packaged service's default
# ports; after an install nothing matching PROCESS_REGEX may listen there.
harness_default_ports() { DEFAULT_SERVER_PORTS+=("$*"); }

# harness_command NAME FUNC HELP: `harness.sh NAME ARGS...` runs FUNC ARGS...
# (a backend's own command, e.g. restart-redis).
harness_command() {
	HARNESS_COMMANDS[$1]=$2
	HARNESS_COMMAND_HELP[$1]=$3
}

# server_packages NAME: the Debian packages NAME needs beyond BASE_PACKAGES.
server_packages() {
	case $1 in
	chromium) echo "chromium fonts-dejavu-core" ;;
	*) echo "${SERVER_PACKAGES[$1]:-}" ;;
	esac
}

# server_deps NAME: the servers NAME needs running beside it.
server_deps() { echo "${SERVER_DEPS[$1]:-}"; }

# order_servers: set ALL_SERVERS to every declared server in start order:
# declaration order, each server's dependencies before it.
order_servers() {
	local s
	ALL_SERVERS=""
	for s in $DECLARED_SERVERS; do order_visit "$s" ""; done
	ALL_SERVERS=${ALL_SERVERS# }
}
order_visit() {
	local s=$1 path=$2 d
	[[ " $ALL_SERVERS " != *" $s "* ]] || return 0
	[[ " $path " != *" $s "* ]] || die "servers depend on each other in a cycle:$path $s"
	for d in $(server_deps "$s"); do
		[[ " $DECLARED_SERVERS " == *" $d "* ]] || die "server '$s' depends on '$d', which no recipe declares"
		order_visit "$d" "$path $s"
	done
	ALL_SERVERS="$ALL_SERVERS $s"
}

# select_servers [NAME...]: set SERVERS (in start order) to the hub, the NAMEs
# and their dependencies, and COMPONENTS_SELECTED to the named components;
# no NAME selects everything.  An unknown NAME is an error listing the known.
select_servers() {
	local wanted=" pg_hub " name dep s changed=1
	COMPONENTS_SELECTED=""
	if [ $# -eq 0 ] || [ "$*" = all ]; then
		SERVERS=$ALL_SERVERS
		COMPONENTS_SELECTED=$COMPONENTS
		return 0
	fi
	for name in "$@"; do
		if [[ " $COMPONENTS " == *" $name "* ]]; then
			COMPONENTS_SELECTED="$COMPONENTS_SELECTED $name"
		elif [[ " $ALL_SERVERS " == *" $name "* ]]; then
			wanted="$wanted$name "
		else
			die "unknown server '$name'; known: $ALL_SERVERS $COMPONENTS (or 'all')"
		fi
	done
	while [ "$changed" = 1 ]; do
		changed=0
		for s in $wanted; do
			for dep in $(server_deps "$s"); do
				if [[ "$wanted" != *" $dep "* ]]; then
					wanted="$wanted$dep "
					changed=1
				fi
			done
		done
	done
	SERVERS=""
	for s in $ALL_SERVERS; do
		if [[ "$wanted" == *" $s "* ]]; then SERVERS="$SERVERS $s"; fi
	done
	SERVERS=${SERVERS# }
}

# PostgreSQL 15 binaries: prefer the versioned pg_config (Debian's
# /usr/bin/pg_config follows the newest installed major version).
pg_config_path() {
	if [ -n "${PG_CONFIG:-}" ]; then
		echo "$PG_CONFIG"
	elif [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
		echo /usr/lib/postgresql/15/bin/pg_config
	else
		echo pg_config
	fi
}

# ---------------------------------------------------------------- helpers
log() { echo "harness: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# fail_with_log NAME LOGFILE REASON: report a server that did not start
# (with the tail of its log) and exit non-zero.
fail_with_log() {
	local name=$1 logfile=$2 reason=$3
	log "ERROR: server '$name' $reason"
	if [ -n "$logfile" ] && [ -f "$logfile" ]; then
		log "---- last lines of $logfile ----"
		tail -n 40 "$logfile" >&2 || true
		log "---- end of $logfile ----"
	else
		log "(no log file at ${logfile:-<none>})"
	fi
	exit 1
}

# pid_alive PID: true if the process exists and is not a zombie.
pid_alive() {
	local pid=$1 state
	[ -n "$pid" ] && [ -r "/proc/$pid/status" ] || return 1
	state=$(awk '/^State:/ {print $2; exit}' "/proc/$pid/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != "Z" ]
}

# pid_matches PID REGEX: true if the live process PID's command line matches
# REGEX (guards against signalling a recycled PID that is not ours).
pid_matches() {
	local pid=$1 re=$2
	pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE -- "$re"
}

# wait_pid_gone PID [TIMEOUT]: wait until PID has exited (gone or zombie).
wait_pid_gone() {
	local pid=$1 timeout=${2:-20} i
	for ((i = 0; i < timeout * 20; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.05
	done
	return 1
}

# kill_pid NAME PID REGEX: TERM the process if it is ours (its command line
# matches REGEX), wait, KILL if needed.
kill_pid() {
	local name=$1 pid=$2 re=$3
	if ! pid_matches "$pid" "$re"; then
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_pid_gone "$pid" 15; then
		log "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_pid_gone "$pid" 5 || die "$name (pid $pid) does not exit"
	fi
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_port NAME PORT LOGFILE [PID]: wait until PORT accepts connections;
# fail early if PID (when given) dies.
wait_port() {
	local name=$1 port=$2 logfile=$3 pid=${4:-} i
	for ((i = 0; i < MESH_START_TIMEOUT * 10; i++)); do
		port_open "$port" && return 0
		if [ -n "$pid" ] && ! pid_alive "$pid"; then
			fail_with_log "$name" "$logfile" "exited before listening on port $port"
		fi
		sleep 0.1
	done
	fail_with_log "$name" "$logfile" "did not listen on port $port within ${MESH_START_TIMEOUT}s"
}

# require_port_free NAME PORT: fail if something already listens on PORT.
require_port_free() {
	local name=$1 port=$2
	if port_open "$port"; then
		log "ERROR: port $port needed by '$name' is already in use:"
		if command -v ss >/dev/null 2>&1; then
			ss -ltnp "sport = :$port" >&2 || true
		fi
		exit 1
	fi
}

read_pidfile() { [ -f "$1" ] && head -n 1 "$1" | tr -dc '0-9' || true; }

as_postgres() {
	if command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
	fi
}

# ---------------------------------------------------------------- PostgreSQL
PG_BINDIR=""
pg_bindir() {
	if [ -z "$PG_BINDIR" ]; then
		PG_BINDIR=$("$(pg_config_path)" --bindir) || die "pg_config not found: run '$0 install'"
	fi
	echo "$PG_BINDIR"
}

pg_locale() {
	if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then echo C.UTF-8; else echo C; fi
}

# pg_init NAME PORT: fresh cluster in $MESH_TEST_DIR/NAME/data, owned by postgres,
# loopback-only, no unix socket. Caller appends extra settings and pg_hba.
pg_init() {
	local name=$1 port=$2 dir="$MESH_TEST_DIR/$1" bindir
	bindir=$(pg_bindir)
	id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing: run '$0 install'"
	rm -rf "$dir"
	mkdir -p "$dir"
	chown postgres: "$dir"
	chmod 700 "$dir"
	as_postgres test -w "$dir" || die "user postgres cannot write $dir (is a parent folder private?)"
	as_postgres "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale="$(pg_locale)" --no-sync >"$dir/initdb.log" 2>&1 ||
		fail_with_log "$name" "$dir/initdb.log" "initdb failed"
	cat >>"$dir/data/postgresql.conf" <<EOF

# ---- mesh test harness ----
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

# valgrind_mode NAME: true if MESH_VALGRIND=1 and NAME is the hub.
valgrind_mode() { [ "${MESH_VALGRIND:-}" = 1 ] && [ "$1" = pg_hub ]; }

# valgrind_wrapper DIR: write DIR/valgrind-postgres, a stand-in for the
# postgres binary (pg_ctl -p) that execs it under valgrind memcheck; print its path.
valgrind_wrapper() {
	local dir=$1 logdir=${MESH_VALGRIND_LOG_DIR:-$MESH_TEST_DIR/valgrind} supp=""
	command -v valgrind >/dev/null || die "MESH_VALGRIND=1 but valgrind is not installed (apt-get install valgrind)"
	mkdir -p "$logdir"
	chown postgres: "$logdir"
	if [ -n "${MESH_VALGRIND_SUPP:-}" ]; then supp="--suppressions=$MESH_VALGRIND_SUPP"; fi
	cat >"$dir/valgrind-postgres" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --trace-children=yes --leak-check=no --error-exitcode=0 \\
	--read-var-info=yes --num-callers=40 --log-file=$logdir/%p.log $supp ${MESH_VALGRIND_OPTS:-} \\
	"$(pg_bindir)/postgres" "\$@"
EOF
	chmod 755 "$dir/valgrind-postgres"
	echo "$dir/valgrind-postgres"
}

# pg_start NAME PORT: start the cluster, wait until it accepts connections.
pg_start() {
	local name=$1 port=$2 dir="$MESH_TEST_DIR/$1" bindir ctl_opts=()
	bindir=$(pg_bindir)
	require_port_free "$name" "$port"
	touch "$dir/postgres.log"
	chown postgres: "$dir/postgres.log"
	chmod 600 "$dir/postgres.log"
	if valgrind_mode "$name"; then ctl_opts=(-p "$(valgrind_wrapper "$dir")"); fi
	as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" ${ctl_opts[@]+"${ctl_opts[@]}"} \
		-w -t "$MESH_START_TIMEOUT" start >"$dir/pg_ctl.log" 2>&1 ||
		fail_with_log "$name" "$dir/postgres.log" "did not start (pg_ctl: $(tail -n 1 "$dir/pg_ctl.log"))"
	local i
	for ((i = 0; i < MESH_START_TIMEOUT * 10; i++)); do
		"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && return 0
		sleep 0.1
	done
	fail_with_log "$name" "$dir/postgres.log" "not ready on port $port within ${MESH_START_TIMEOUT}s"
}

# pg_stop NAME: fast shutdown by the postmaster's own PID; idempotent.
pg_stop() {
	local name=$1 dir="$MESH_TEST_DIR/$1" pid bindir stop_timeout=30
	[ -f "$dir/data/postmaster.pid" ] || return 0
	# under valgrind, shutdown (and leak checks at exit) are slow
	if valgrind_mode "$name" && [ "$MESH_START_TIMEOUT" -gt 30 ]; then stop_timeout=$MESH_START_TIMEOUT; fi
	pid=$(read_pidfile "$dir/data/postmaster.pid")
	# Only a postmaster of this data dir: a stale pid file must not make us
	# signal a recycled PID.
	if [ -n "$pid" ] && pid_matches "$pid" "postgres.* -D $dir/data( |$)"; then
		bindir=$(pg_bindir)
		if ! as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t "$stop_timeout" stop >/dev/null 2>&1; then
			log "$name: pg_ctl stop failed; signalling pid $pid"
			kill -INT "$pid" 2>/dev/null || true
		fi
		if ! wait_pid_gone "$pid" "$((stop_timeout - 10))"; then
			log "$name (pid $pid) still running; sending SIGQUIT"
			kill -QUIT "$pid" 2>/dev/null || true
			wait_pid_gone "$pid" 10 || die "$name (pid $pid) does not exit"
		fi
	fi
	rm -f "$dir/data/postmaster.pid"
}

start_pg_hub() {
	local dir="$MESH_TEST_DIR/pg_hub"
	pg_init pg_hub "$MESH_PG_PORT"
	cat >>"$dir/data/postgresql.conf" <<EOF
shared_preload_libraries = '${MESH_PRELOAD-mesh}'
# the suite's databases each have a mesh worker (checks/pool_routes: 1,000
# routes in 10 databases within this); one database fits the default 8
max_worker_processes = 16
# WAL capture (mesh.capture = wal or auto) decodes through a logical slot,
# one per database with mesh
wal_level = logical
max_replication_slots = 40
# for the isolation specs, which cannot read the environment
mesh_test.redis_port = '$MESH_REDIS_PORT'
EOF
	# with mesh as the output plugin, where the server lists the trusted ones
	local settings
	settings=$(as_postgres "$(pg_bindir)/postgres" --describe-config 2>/dev/null || true)
	if grep -q '^output_plugin_libraries' <<<"$settings"; then
		echo "output_plugin_libraries = 'pgoutput, test_decoding, mesh'" >>"$dir/data/postgresql.conf"
	fi
	# MESH_HUB_SETTINGS: more postgresql.conf lines (e.g. mesh.log_slow_steps = 50)
	if [ -n "${MESH_HUB_SETTINGS:-}" ]; then
		printf '%s\n' "$MESH_HUB_SETTINGS" >>"$dir/data/postgresql.conf"
	fi
	# mesh serves /metrics there; the harness's Prometheus scrapes it (job "mesh")
	if [[ ",${MESH_PRELOAD-mesh}," == *,mesh,* ]]; then
		echo "mesh.metrics_port = $MESH_METRICS_PORT" >>"$dir/data/postgresql.conf"
	fi
	cat >>"$dir/data/postgresql.conf" <<EOF
${MESH_PG_EXTRA_CONF:-}
EOF
	cat >"$dir/data/pg_hba.conf" <<EOF
# mesh test harness: hub, loopback only
host    all             all             127.0.0.1/32            trust
host    replication     all             127.0.0.1/32            trust
EOF
	if [ -n "${MESH_PRELOAD-mesh}" ]; then
		local lib libdir
		libdir=$("$(pg_config_path)" --pkglibdir)
		local preload=${MESH_PRELOAD-mesh}
		for lib in ${preload//,/ }; do
			[ -f "$libdir/$lib.so" ] || log "warning: $libdir/$lib.so is not installed (shared_preload_libraries='${MESH_PRELOAD-mesh}'); the hub will not start"
		done
	fi
	pg_start pg_hub "$MESH_PG_PORT"
}
run_pg_hub() { pg_start pg_hub "$MESH_PG_PORT"; }
stop_pg_hub() { pg_stop pg_hub; }
port_pg_hub() { echo "$MESH_PG_PORT"; }
pid_pg_hub() { read_pidfile "$MESH_TEST_DIR/pg_hub/data/postmaster.pid"; }

# ---------------------------------------------------------------- hanging TCP server
python_bin() {
	if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3 || die "python3 not installed"; fi
}

start_hang() {
	local dir="$MESH_TEST_DIR/hang" pid
	rm -rf "$dir"
	mkdir -p "$dir"
	require_port_free hang "$MESH_HANG_PORT"
	"$(python_bin)" "$TEST_DIR/hang_server.py" "$MESH_HANG_PORT" 127.0.0.1 \
		</dev/null >"$dir/hang.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/hang.pid"
	wait_port hang "$MESH_HANG_PORT" "$dir/hang.log" "$pid"
}
stop_hang() { stop_pidfile hang "$MESH_TEST_DIR/hang/hang.pid" "hang_server\.py $MESH_HANG_PORT( |$)"; }
port_hang() { echo "$MESH_HANG_PORT"; }
pid_hang() { read_pidfile "$MESH_TEST_DIR/hang/hang.pid"; }

# ---------------------------------------------------------------- second hub
start_pg_hub2() {
	pg_init pg_hub2 "$MESH_HUB2_PG_PORT"
	cat >>"$MESH_TEST_DIR/pg_hub2/data/postgresql.conf" <<CONF
shared_preload_libraries = 'mesh'
CONF
	cat >"$MESH_TEST_DIR/pg_hub2/data/pg_hba.conf" <<HBA
# mesh test harness: second hub, loopback only
host    all             all             127.0.0.1/32            trust
HBA
	pg_start pg_hub2 "$MESH_HUB2_PG_PORT"
}
run_pg_hub2() { pg_start pg_hub2 "$MESH_HUB2_PG_PORT"; }
stop_pg_hub2() { pg_stop pg_hub2; }
port_pg_hub2() { echo "$MESH_HUB2_PG_PORT"; }
pid_pg_hub2() { read_pidfile "$MESH_TEST_DIR/pg_hub2/data/postmaster.pid"; }

# ---------------------------------------------------------------- servers
# shellcheck source=lib/servers_http.sh
. "$TEST_DIR/lib/servers_http.sh"

# The core's servers first: the hub, then those that serve no one backend.
harness_server pg_hub
harness_server hang
harness_server garbage
harness_server tls packages=openssl
# the TCP fault proxy between the hub and a sink's server (test/lib/faults.sh)
# shellcheck source=lib/servers_toxiproxy.sh
. "$TEST_DIR/lib/servers_toxiproxy.sh"
harness_server toxiproxy install=install_toxiproxy
# Each backend's recipe: its servers, packages, ports and commands.
for recipe in "$REPO"/fdw/*/harness.sh; do
	# shellcheck source=/dev/null
	. "$recipe"
done
unset recipe
# a second hub with mesh, the far side of fdw/kafka's two-hub check
harness_server pg_hub2 deps=kafka
order_servers

# ---------------------------------------------------------------- commands
# cmd_install [NAME...]: the Debian packages of mesh's build and of the named
# servers (all without names), then what they need from other registries.
cmd_install() {
	local missing="" pkg wanted="$BASE_PACKAGES" s
	select_servers "$@"
	for s in $SERVERS $COMPONENTS_SELECTED; do wanted="$wanted $(server_packages "$s")"; done
	for pkg in $(tr ' ' '\n' <<<"$wanted" | sort -u); do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $pkg"
	done
	if [ -z "$missing" ]; then
		log "install: all packages present"
	else
		[ "$(id -u)" = 0 ] || die "install needs root (missing:$missing)"
		log "install: missing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		# shellcheck disable=SC2086
		apt_install_no_services $missing
	fi
	check_default_ports
	cmd_install_extras
	log "install: done"
}

# apt_install_no_services PKG...: apt-get install, with package scripts told
# not to start services (a policy-rc.d that denies, if there is none).
apt_install_no_services() {
	local policy=/usr/sbin/policy-rc.d rc=0
	if [ -e "$policy" ]; then
		apt-get install -y -q --no-install-recommends "$@"
		return
	fi
	trap 'rm -f "$policy"' EXIT
	printf '#!/bin/sh\n# mesh test harness: no service starts during install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	apt-get install -y -q --no-install-recommends "$@" || rc=$?
	rm -f "$policy"
	trap - EXIT
	return $rc
}

# cmd_install_extras: what the selected servers need from outside Debian
# (their install=FUNC), fetched or built once per machine into their caches.
# Those declared install_serial (Maven: its local repository takes no locks)
# run one after another; the others (pip, Go builds) beside them.  Each
# part's output is shown after it ends.
cmd_install_extras() {
	local dir rc=0 part s serial=""
	local -A pids
	mkdir -p "$MESH_CACHE_DIR"
	dir=$(mktemp -d)
	for s in $SERVERS; do
		[ -n "${SERVER_INSTALL[$s]:-}" ] || continue
		if [ -n "${SERVER_INSTALL_SERIAL[$s]:-}" ]; then
			serial="$serial $s"
		else
			("${SERVER_INSTALL[$s]}") >"$dir/$s.log" 2>&1 &
			pids[$s]=$!
		fi
	done
	if [ -n "$serial" ]; then
		(for s in $serial; do "${SERVER_INSTALL[$s]}" || exit 1; done) >"$dir/serial.log" 2>&1 &
		pids[serial]=$!
	fi
	for part in "${!pids[@]}"; do
		if ! wait "${pids[$part]}"; then
			log "install: the $part part failed"
			rc=1
		fi
		cat "$dir/$part.log" >&2
	done
	rm -rf "$dir"
	return $rc
}

# stop_all: stop every server of the state dir (whatever set was started).
stop_all() {
	local s rc=0
	for s in $ALL_SERVERS; do
		"stop_$s" || { log "stop of $s failed"; rc=1; }
	done
	return $rc
}

# cmd_start [NAME...]: stop leftovers of the state dir, then start the hub,
# the named servers and their dependencies (everything without names).
cmd_start() {
	ports_check_safe || die "refusing to start: a configured port is unsafe (see above)"
	mkdir -p "$MESH_TEST_DIR"
	chmod 755 "$MESH_TEST_DIR"
	log "start: state dir $MESH_TEST_DIR, servers: $SERVERS"
	stop_all
	# On any failure below, leave nothing half-started behind.
	trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed; stopping what was started"; stop_all || true; fi' EXIT
	local s
	# Fail before starting anything if a port is taken by someone else.
	for s in $SERVERS; do
		require_port_free "$s" "$("port_$s")"
	done
	for s in $SERVERS; do
		"start_$s"
		log "started $s (pid $("pid_$s"), port $("port_$s"))"
	done
	# The "down" server: nothing may listen on its port.
	if port_open "$MESH_DOWN_PORT"; then
		log "ERROR: the 'down' port $MESH_DOWN_PORT must be free but something listens on it"
		command -v ss >/dev/null 2>&1 && ss -ltnp "sport = :$MESH_DOWN_PORT" >&2
		exit 1
	fi
	trap - EXIT
	log "start: all servers ready"
}

cmd_stop() {
	stop_all
	log "stop: all servers stopped"
}

# stop-one NAME / start-one NAME: take one server away and bring it back
# with its data (no re-initialisation), for tests of a target that is down.
cmd_stop_one() {
	local name=${1:?stop-one NAME}
	"stop_$name"
	log "stopped $name"
}

cmd_start_one() {
	local name=${1:?start-one NAME}
	declare -F "run_$name" >/dev/null || die "start-one: cannot start $name on its own"
	mkdir -p "$MESH_TEST_DIR"
	# with its data if it ran before, else from scratch
	if [ -d "$MESH_TEST_DIR/$name" ]; then "run_$name"; else "start_$name"; fi
	log "started $name (pid $("pid_$name"))"
}

# crash-hub: an immediate shutdown of the hub (no checkpoint, like a crash),
# then a start that runs crash recovery.
cmd_crash_hub() {
	as_postgres "$(pg_bindir)/pg_ctl" -D "$MESH_TEST_DIR/pg_hub/data" -m immediate -w stop >/dev/null 2>&1 ||
		die "crash-hub: immediate shutdown failed"
	rm -f "$MESH_TEST_DIR/pg_hub/data/postmaster.pid"
	pg_start pg_hub "$MESH_PG_PORT"
	log "hub restarted after an immediate shutdown"
}

cmd_status() {
	local s pid state
	for s in $ALL_SERVERS; do
		pid=$("pid_$s")
		if [ -n "$pid" ] && pid_alive "$pid"; then state=running; else state=stopped; fi
		printf '%-12s %-8s pid=%-8s port=%s\n' "$s" "$state" "${pid:--}" "$("port_$s")"
	done
}

cmd_env() {
	printf 'export MESH_TEST_DIR=%q\n' "$MESH_TEST_DIR"
	ports_env
	printf 'export PGHOST=127.0.0.1\n'
	printf 'export PGPORT=%q\n' "$MESH_PG_PORT"
	printf 'export PGUSER=postgres\n'
	printf 'export MESH_HARNESS=%q\n' "$HARNESS"
}

usage() {
	local c
	sed -n '2,21p' "$HARNESS" | sed 's/^# \{0,1\}//' >&2
	echo "The backends' commands (fdw/*/harness.sh):" >&2
	for c in $(printf '%s\n' "${!HARNESS_COMMANDS[@]}" | sort); do
		printf '  test/harness.sh %-16s %s\n' "$c" "${HARNESS_COMMAND_HELP[$c]}" >&2
	done
	exit 2
}

case "${1:-}" in
install) shift && cmd_install "$@" ;;
start) shift && select_servers "$@" && cmd_start ;;
check-ports) ports_check_safe ;;
stop) cmd_stop ;;
stop-one) cmd_stop_one "${2:-}" ;;
start-one) ports_check_safe && cmd_start_one "${2:-}" ;;
crash-hub) ports_check_safe && cmd_crash_hub ;;
env) cmd_env ;;
status) cmd_status ;;
*)
	if [ -n "${1:-}" ] && [ -n "${HARNESS_COMMANDS[$1]:-}" ]; then
		cmd=${HARNESS_COMMANDS[$1]}
		shift
		"$cmd" "$@"
	else
		usage
	fi
	;;
esac
