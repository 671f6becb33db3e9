#!/usr/bin/env bash
# servers: pg_remote redis prometheus chromium
# Check: the status page at http://127.0.0.1:$MESH_METRICS_PORT/ in a real
# browser (headless Chromium).  A database with a Redis cache, a remote
# PostgreSQL, Prometheus and a server that is down; two tables routed to
# them, one row poisoned (its Redis key holds a string, so HSET fails and
# the event goes to the dead letters).  The DOM Chromium builds must list
# every backend with its state, every route, and the dead letter; the
# screenshot is written to test/artifacts/status_page.png.
set -euo pipefail
CHECK=status_page
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_status
url="http://127.0.0.1:${MESH_METRICS_PORT:?run under test/harness.sh env}/"
artifacts="$(cd "$(dirname "$0")/.." && pwd)/artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
command -v chromium >/dev/null || fail "chromium is not installed (test/harness.sh install)"

# chromium ARGS...: headless, as root, with a throwaway profile, bounded
chromium_run() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$work/profile" --hide-scrollbars "$@" 2>"$work/chromium.log"
}

redis() { redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" "$@"; }
redis --scan --pattern 'status_check:*' | xargs -r redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" del >/dev/null
redis set status_check:reading:13 'not a hash' >/dev/null	# the poisoned key
fresh_db "$db" status_archive "(id int PRIMARY KEY, sensor text, celsius numeric)"
q -d "$db" >/dev/null <<SQL
CREATE SERVER metrics_store FOREIGN DATA WRAPPER mesh_prometheus
	OPTIONS (url 'http://127.0.0.1:$MESH_PROMETHEUS_PORT');
CREATE SERVER legacy_cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port '$MESH_DOWN_PORT', timeout_ms '500');
CREATE TABLE sensors (id int PRIMARY KEY, name text);
SELECT mesh.replicate('status_archive', 'cache', '{"key_prefix": "status_check:reading:"}', 'cache');
SELECT mesh.replicate('status_archive', 'archive', '{"table": "status_archive"}');
SELECT mesh.replicate('sensors', 'cache', '{"key_prefix": "status_check:sensor:"}', 'cache');
INSERT INTO sensors SELECT g, 'sensor ' || g FROM generate_series(1, 20) g;
INSERT INTO status_archive SELECT g, 'sensor ' || (g % 20 + 1), 20 + g % 7 FROM generate_series(1, 500) g;
SQL
[ "$(q -d "$db" -c "SELECT mesh.wait_for_sync(30000)")" = t ] || fail "the routes did not sync"
[ "$(q -d "$db" -c "SELECT count(*) FROM mesh.dead_letter")" = 1 ] || fail "the poisoned row is not a dead letter"

# wait until the page has every backend checked and the dead letter
for ((i = 0; i < 200; i++)); do
	page=$(curl -s -f -m 5 "$url" || true)
	if grep -q '<td class="server">legacy_cache</td>' <<<"$page" &&
		grep -q '<td class="server">metrics_store</td>' <<<"$page" &&
		grep -q 'WRONGTYPE' <<<"$page"; then
		break
	fi
	sleep 0.1
done

chromium_run --dump-dom "$url" >"$work/dom.html" || fail "chromium --dump-dom failed: $(tail -3 "$work/chromium.log")"
dom="$work/dom.html"
grep -q '<title>mesh status</title>' "$dom" || fail "the DOM is not the status page: $(head -c 300 "$dom")"
for server in cache archive metrics_store legacy_cache; do
	grep -q "<td class=\"server\">$server</td>" "$dom" || fail "the page does not list backend $server"
done
python3 - "$dom" "$db" <<'PY' || fail "the page's tables are not as expected"
import html.parser, sys
rows, row, cell, table = {}, None, None, None
class P(html.parser.HTMLParser):
    def handle_starttag(self, tag, attrs):
        global row, cell, table
        a = dict(attrs)
        if tag == "table": table = a.get("id"); rows[table] = []
        elif tag == "tr": row = []
        elif tag == "td": cell = []
    def handle_endtag(self, tag):
        global row, cell
        if tag == "td": row.append("".join(cell).strip()); cell = None
        elif tag == "tr" and row: rows[table].append(row); row = None
    def handle_data(self, data):
        if cell is not None: cell.append(data)
P().feed(open(sys.argv[1]).read())
db = sys.argv[2]
backends = {r[1]: r for r in rows["backends"] if r[0] == db}
assert backends["cache"][3] == "up" and backends["archive"][3] == "up", backends
assert backends["metrics_store"][3] == "up", backends["metrics_store"]
assert backends["legacy_cache"][3] == "down" and backends["legacy_cache"][7], backends["legacy_cache"]
routes = {r[2]: r for r in rows["routes"] if r[0] == db}
for name in ("status_archive → cache", "status_archive → archive", "sensors → cache"):
    assert name in routes, (name, list(routes))
assert routes["status_archive → archive"][6] == "500", routes["status_archive → archive"]
assert routes["status_archive → cache"][10] == "1", routes["status_archive → cache"]
dead = [r for r in rows["dead-letters"] if r[0] == db]
assert len(dead) == 1 and dead[0][2] == "status_archive → cache" and "WRONGTYPE" in dead[0][6], dead
PY

rm -f "$artifacts/status_page.png"
chromium_run --screenshot="$artifacts/status_page.png" --window-size=1280,900 "$url" >/dev/null ||
	fail "chromium --screenshot failed: $(tail -3 "$work/chromium.log")"
[ "$(head -c 8 "$artifacts/status_page.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
	fail "no PNG screenshot at $artifacts/status_page.png"
[ "$(stat -c %s "$artifacts/status_page.png")" -gt 20000 ] || fail "the screenshot is nearly empty"
q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "$CHECK: ok (screenshot: $artifacts/status_page.png)"
