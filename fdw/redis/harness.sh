# mesh harness recipe of mesh_redis (sourced by test/harness.sh, not run).
#
#   redis        redis-server (Debian), no password
#   redis_auth   redis-server with requirepass $REDIS_AUTH_PASSWORD and an ACL
#                user $REDIS_ACL_USER / $REDIS_ACL_PASSWORD
#
# port: MESH_REDIS_PORT 379
# port: MESH_REDIS_AUTH_PORT 380

# Secrets the tests use (also grepped for by test/checks/no_secrets_in_logs.sh).
REDIS_AUTH_PASSWORD=redis_secret_pw
REDIS_ACL_USER=meshuser
REDIS_ACL_PASSWORD=meshuser_pw

harness_build_packages libhiredis-dev
harness_server redis packages="redis-server redis-tools"
harness_server redis_auth packages="redis-server redis-tools"
harness_command restart-redis redis_restart "stop and start the first Redis on the same port, with its data"

# ---------------------------------------------------------------- Redis
# redis_conf NAME PORT [EXTRA_LINE...]: write $MESH_TEST_DIR/NAME/redis.conf.
# A config file (mode 600) keeps passwords out of the process's argv.
redis_conf() {
	local name=$1 port=$2 dir="$MESH_TEST_DIR/$1"
	shift 2
	mkdir -p "$dir/data"
	(
		umask 077
		cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $port
save ""
appendonly no
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir/data
EOF
		local line
		for line in "$@"; do echo "$line" >>"$dir/redis.conf"; done
	)
}

# redis_start NAME PORT [PASSWORD]: start from NAME/redis.conf, wait for PONG.
redis_start() {
	local name=$1 port=$2 password=${3:-} dir="$MESH_TEST_DIR/$1" i pid reply
	command -v redis-server >/dev/null || die "redis-server not installed: run '$0 install'"
	require_port_free "$name" "$port"
	rm -f "$dir/redis.pid"
	redis-server "$dir/redis.conf" >"$dir/redis-start.log" 2>&1 ||
		fail_with_log "$name" "$dir/redis.log" "did not start ($(tail -n 1 "$dir/redis-start.log"))"
	for ((i = 0; i < MESH_START_TIMEOUT * 10; i++)); do
		pid=$(read_pidfile "$dir/redis.pid")
		if [ -n "$pid" ]; then
			reply=$(REDISCLI_AUTH=$password redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)
			[ "$reply" = PONG ] && return 0
			pid_alive "$pid" || fail_with_log "$name" "$dir/redis.log" "exited during start"
		fi
		sleep 0.1
	done
	fail_with_log "$name" "$dir/redis.log" "did not answer PING on port $port within ${MESH_START_TIMEOUT}s"
}

redis_stop() {
	local name=$1 port=$2 dir="$MESH_TEST_DIR/$1" pid
	pid=$(read_pidfile "$dir/redis.pid")
	[ -n "$pid" ] && kill_pid "$name" "$pid" "redis-server .*:$port( |$)"
	rm -f "$dir/redis.pid"
}

start_redis() {
	rm -rf "$MESH_TEST_DIR/redis"
	redis_conf redis "$MESH_REDIS_PORT"
	redis_start redis "$MESH_REDIS_PORT"
}
stop_redis() { redis_stop redis "$MESH_REDIS_PORT"; }
port_redis() { echo "$MESH_REDIS_PORT"; }
pid_redis() { read_pidfile "$MESH_TEST_DIR/redis/redis.pid"; }

start_redis_auth() {
	rm -rf "$MESH_TEST_DIR/redis_auth"
	redis_conf redis_auth "$MESH_REDIS_AUTH_PORT" \
		"requirepass $REDIS_AUTH_PASSWORD" \
		"user $REDIS_ACL_USER on >$REDIS_ACL_PASSWORD ~* &* +@all"
	redis_start redis_auth "$MESH_REDIS_AUTH_PORT" "$REDIS_AUTH_PASSWORD"
}
stop_redis_auth() { redis_stop redis_auth "$MESH_REDIS_AUTH_PORT"; }
port_redis_auth() { echo "$MESH_REDIS_AUTH_PORT"; }
pid_redis_auth() { read_pidfile "$MESH_TEST_DIR/redis_auth/redis.pid"; }
run_redis() { redis_start redis "$MESH_REDIS_PORT"; }
run_redis_auth() { redis_start redis_auth "$MESH_REDIS_AUTH_PORT" "$REDIS_AUTH_PASSWORD"; }

# redis_restart: stop and start the first Redis on the same port.
redis_restart() {
	ports_check_safe || exit 1
	[ -f "$MESH_TEST_DIR/redis/redis.conf" ] || die "restart-redis: no $MESH_TEST_DIR/redis/redis.conf (run '$HARNESS start' first)"
	stop_redis
	redis_start redis "$MESH_REDIS_PORT"
	log "restarted redis (pid $(pid_redis), port $MESH_REDIS_PORT)"
}
