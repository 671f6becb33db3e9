#!/usr/bin/env bash
# servers: (the hub only)
# Check (issue 14, findings 13 and 10): the metrics endpoint against slow
# clients, its own HTTP client, and with authentication.
#   - 40 connections from 40 addresses that trickle one header byte every
#     second do not block it: /metrics answers at once, and each of them is
#     shut down within the request deadline (5 s) however it trickles;
#   - 40 such connections from one address get at most 16 slots;
#   - a request carrying X-Mesh-Hub (mesh's own HTTP client) is refused,
#     and so a wrapper pointed at the endpoint gets 403, never /health;
#   - mesh.metrics_auth_file: 401 without or with wrong credentials, 200
#     with them (bearer and basic); a file other OS users can read refuses
#     everything (503) with a WARNING; the setting is hidden from and not
#     settable by non-superusers; the token never reaches the log.
set -euo pipefail
CHECK=boundaries_metrics
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_boundaries_metrics
role=boundaries_metrics_app
port=${MESH_METRICS_PORT:?run under test/harness.sh env}
base="http://127.0.0.1:$port"
hub_log="$MESH_TEST_DIR/pg_hub/postgres.log"
work=$(mktemp -d)
authfile="$MESH_TEST_DIR/pg_hub/boundaries_metrics_auth"
token="tok-$RANDOM$RANDOM-secret"
cleanup() {
	q -d postgres -c "ALTER SYSTEM RESET mesh.metrics_auth_file" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
	rm -rf "$work" "$authfile"
}
trap cleanup EXIT

# status PATH [CURL ARGS]: the HTTP status of GET PATH (000: no answer in 3 s)
status() {
	local path=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' -m 3 "$@" "$base$path" 2>/dev/null || true
}

# wait_status CODE PATH [CURL ARGS]: until GET PATH answers CODE (a reload
# reaches the metrics worker asynchronously)
wait_status() {
	local want=$1 got i
	shift
	for ((i = 0; i < 100; i++)); do
		got=$(status "$@")
		[ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	fail "GET $1 answered $got, expected $want"
}

[ "$(status /metrics)" = 200 ] || fail "the endpoint does not answer on port $port"

# 1. slow clients
python3 - "$port" <<'PY' || fail "slow clients: see above"
import socket, sys, time, urllib.request
port = int(sys.argv[1])

def slow(src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"G")
    return s

def trickle(conns):
    alive = []
    for s in conns:
        try:
            s.sendall(b"E")
            alive.append(s)
        except OSError:
            s.close()
    return alive

def scrape():
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
        assert r.status == 200, r.status
        body = r.read()
    assert b"mesh_" in body
    return time.monotonic() - t0

# 40 addresses, one slow connection each
conns = [slow(f"127.0.1.{i + 1}") for i in range(40)]
took = scrape()
if took > 1.0:
    sys.exit(f"/metrics took {took:.2f} s with 40 slow clients")
# they trickle one byte a second; the server shuts each down by its deadline
start = time.monotonic()
while conns and time.monotonic() - start < 9:
    time.sleep(1)
    conns = trickle(conns)
    # a closed connection reads EOF
    still = []
    for s in conns:
        s.setblocking(False)
        try:
            data = s.recv(1024)
            if data == b"":
                s.close()
                continue
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        still.append(s)
    conns = still
if conns:
    sys.exit(f"{len(conns)} trickling connections still open after {time.monotonic() - start:.1f} s")
print(f"40 slow clients: /metrics in {took * 1000:.0f} ms, all shut down within {time.monotonic() - start:.1f} s")

# 40 from one address: at most 16 are kept
conns = []
for i in range(40):
    conns.append(slow("127.0.0.2"))
took = scrape()
time.sleep(0.3)  # the refused ones are closed by the server at once
open_ = 0
for s in conns:
    s.setblocking(False)
    try:
        if s.recv(1) != b"":
            open_ += 1
    except BlockingIOError:
        open_ += 1
    except OSError:
        pass
    s.close()
if open_ > 16:
    sys.exit(f"{open_} connections from one address were kept (limit 16)")
if took > 1.0:
    sys.exit(f"/metrics took {took:.2f} s with 40 slow clients from one address")
print(f"40 from one address: {open_} kept, /metrics in {took * 1000:.0f} ms")
PY

# 2. the hub's own HTTP client is refused
[ "$(status /health -H 'X-Mesh-Hub: 1')" = 403 ] || fail "a request with X-Mesh-Hub was not refused"
[ "$(status /health -H 'X-Mesh-Hub: anything')" = 403 ] || fail "X-Mesh-Hub with another value was not refused"
q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
q -d postgres -c "DROP ROLE IF EXISTS $role" -c "CREATE ROLE $role LOGIN" >/dev/null
q -d "$db" >/dev/null <<SQL
CREATE EXTENSION mesh;
GRANT USAGE ON FOREIGN DATA WRAPPER mesh_elasticsearch TO $role;
SET ROLE $role;
CREATE SERVER loop FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url '$base');
SQL
out=$(psql -X -q -At -d "$db" -c "SET ROLE $role" -c "SELECT * FROM mesh.execute('loop', 'GET /health')" 2>&1 || true)
echo "$out" | grep -q 'answered HTTP 403' || fail "the wrapper's request to /health was not refused with 403: $out"
echo "$out" | grep -q '"routes"\|mesh_route' && fail "the wrapper read the endpoint: $out"

# 3. authentication
printf 'bearer %s\n' "$token" >"$authfile"
chmod 600 "$authfile"
chown "$(stat -c %u:%g "$MESH_TEST_DIR/pg_hub/data")" "$authfile"	# the server's OS user
q -d postgres -c "ALTER SYSTEM SET mesh.metrics_auth_file = '$authfile'" -c "SELECT pg_reload_conf()" >/dev/null
wait_status 401 /metrics
[ "$(status /metrics -H "Authorization: Bearer $token")" = 200 ] || fail "the bearer token was not accepted"
[ "$(status /metrics -H "Authorization: bearer $token")" = 200 ] || fail "the scheme is not case-insensitive"
[ "$(status /metrics -H "Authorization: Bearer ${token}x")" = 401 ] || fail "a wrong token was accepted"
[ "$(status /metrics -H "Authorization: Bearer")" = 401 ] || fail "an empty token was accepted"
[ "$(status / )" = 401 ] || fail "the status page is served without credentials"
[ "$(status /health -u "x:$token")" = 401 ] || fail "basic credentials were accepted for a bearer file"
grep -qi '^WWW-Authenticate: Bearer' <<<"$(curl -s -D - -o /dev/null -m 3 "$base/metrics")" || fail "no WWW-Authenticate header"
printf 'basic scraper:%s\n' "$token" >"$authfile"
q -d postgres -c "SELECT pg_reload_conf()" >/dev/null
wait_status 200 /metrics -u "scraper:$token"
[ "$(status /metrics -u "scraper:wrong")" = 401 ] || fail "a wrong basic password was accepted"
[ "$(status /metrics)" = 401 ] || fail "no credentials were accepted with a basic file"
# a file others can read: everything refused, with a WARNING
chmod 644 "$authfile"
q -d postgres -c "SELECT pg_reload_conf()" >/dev/null
wait_status 503 /metrics -u "scraper:$token"
grep -q 'mesh.metrics_auth_file ".*" is not usable: other OS users may access it' "$hub_log" ||
	fail "no WARNING about the file's permissions"
grep -qF "$token" "$hub_log" && fail "the token reached the server log"
# the setting is hidden from and not settable by non-superusers
out=$(psql -X -q -At -d "$db" -c "SET ROLE $role" -c "SHOW mesh.metrics_auth_file" 2>&1 || true)
echo "$out" | grep -q 'must be superuser\|permission denied\|privileges of' || fail "a non-superuser read mesh.metrics_auth_file: $out"
out=$(psql -X -q -At -d "$db" -c "SET ROLE $role" -c "ALTER SYSTEM SET mesh.metrics_auth_file = ''" 2>&1 || true)
echo "$out" | grep -q 'permission denied\|must be superuser' || fail "a non-superuser set mesh.metrics_auth_file: $out"
q -d postgres -c "ALTER SYSTEM RESET mesh.metrics_auth_file" -c "SELECT pg_reload_conf()" >/dev/null
wait_status 200 /metrics
echo "$CHECK: ok"
