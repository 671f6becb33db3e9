# Fault-proxy checks of the sinks (sourced by test/checks/faults_*.sh after
# test/lib/checks.sh, not run).  Needs the harness's `toxiproxy` server.
#
# A check makes a Toxiproxy proxy in front of its sink's server, a mesh
# server object "tgt" that reaches the sink THROUGH the proxy, and a way to
# read the target that does NOT go through it (a second server object and a
# foreign table, or the backend's own client).  faults_run then replicates
# the table ft to tgt and runs four faults, each while rows are inserted,
# updated and deleted:
#
#   reset    reset_peer on the answers (downstream): the server got the
#            request (a whole batch) and applied it, the connection is reset
#            instead of the answer
#   limit    limit_data both ways: each connection is closed after
#            $FAULTS_LIMIT_BYTES bytes sent or received, so a batch is cut
#            in the middle of its request or of its answer
#   timeout  timeout 0 on the answers: the request lands, the answer never
#            comes (the server object's timeout_ms bounds the wait)
#   down     the proxy disabled (connections closed, new ones refused) for
#            a while, then enabled: the server down, then back
#
# The invariant checked at every sample (every 0.25 s during a fault):
#
#   delivered - D0  <=  V
#
# D0 is mesh.stats.delivered of the route once the 400 backfilled rows are in
# sync.  V counts the events written since then whose effect the target
# holds, read through the direct path right AFTER delivered is read:
#   - an insert (a new id > 1000) counts if the target holds that id;
#   - an update (v set to 'u' on a backfilled id) counts if the target's row
#     has v = 'u';
#   - a delete (of a backfilled id whose id % 100 is in 51..58) counts if the
#     target lacks that id.
# Every key is written at most once after the backfill (a fresh id per
# insert, another backfilled id per update and per delete), so each event
# has exactly one observable effect, no later event can undo it, and V
# never decreases while the faults come and go (a retried batch re-applies
# the same values).  A route may count an event only once the target has
# acknowledged it, so its counter can never run ahead of V; a sink that
# counts a batch the target did not take shows delivered - D0 > V.  After
# each fault is healed: the route's failed counter grew during the fault
# (else the fault never reached the sink and tested nothing),
# mesh.wait_for_sync(120000) is true, mesh.verify() is consistent (unless
# FAULTS_VERIFY=0, below), delivered - D0 equals the number of events
# written, and so does V (nothing lost, nothing counted twice).
#
# A sink whose target cannot apply updates or deletes as such (a time
# series that appends points), or whose updates only show after a delay
# far longer than a sample, sets FAULTS_OPS to the events it can take
# ("insert", "insert delete"): then only those are written and V counts
# their effects.
#
# A target that shows an acknowledged write only after a while (a time
# series database that makes points readable a second or so later, a
# search index before its refresh) sets FAULTS_VISIBILITY_DELAY (seconds,
# default 0): every sample then reads delivered, waits that long and only
# then reads V.  V only grows (see above), so reading it later can only
# make it larger: the comparison stays sound (an event delivered before
# delivered was read has become visible by the time V is read), and a sink
# that counts what the target never took still shows up, since a lost
# write never becomes visible.  A target that can be told to make writes
# visible at once (a search index's _refresh) does that in its
# faults_target_rows instead.
#
# The check defines, before calling faults_run:
#   FAULTS_KIND              label for messages (redis, postgres, ...)
#   FAULTS_UPSTREAM_PORT     the sink server's real port (the proxy's upstream)
#   faults_setup             shell function: creates, in database $db, the
#                            server tgt to 127.0.0.1:$FAULTS_PROXY_PORT with
#                            timeout_ms $FAULTS_TIMEOUT_MS where the kind has
#                            it, and the direct read path; may prepare the
#                            target (empty it)
#   faults_route_options     (optional) the JSON options of mesh.replicate
#   faults_target_rows       shell function printing the SQL (run in $db) of
#                            the target's rows read directly, as (id int,
#                            v text); or override faults_visible instead
#   FAULTS_DDL               (optional) ft's columns, default (id int PRIMARY
#                            KEY, v text); a DDL with more columns needs
#                            faults_insert_sql too
#   faults_insert_sql LO HI  (optional) SQL inserting ids LO..HI with v 'n'
#   FAULTS_TIMEOUT_MS        (optional) the tgt server's timeout_ms, default
#                            1000
#   FAULTS_HOLD_SAMPLES      (optional) samples taken (every 0.25 s) after the
#                            writes while the fault lasts, default 8: a kind
#                            with a long timeout_ms needs the fault to last
#                            longer than one timeout, so that the sink feels it
#   FAULTS_VISIBILITY_DELAY  (optional) see above
#   FAULTS_VERIFY            (optional) 1 (default): mesh.verify must be
#                            consistent after healing; 0 for a target that
#                            mesh.verify cannot compare (a log such as a
#                            Kafka topic, which has no verify capability):
#                            then the healing condition is wait_for_sync
#                            true and V equal to the events written (every
#                            event's effect held), checked anyway
#
# Output: one line per fault ("CHECK: fault reset: ok (...)"), every
# violation with the numbers (delivered, D0, V, last_error), and at the end
# "CHECK: ok" or "CHECK: FAILED: ..." (exit 1) if any fault violated anything.

FAULTS_PROXY=mesh_${FAULTS_KIND:-sink}
# one listen port per kind, so that checks can run side by side
faults_kind_index() {
	local i=0 k
	for k in redis postgres clickhouse influxdb victoriametrics mongodb elasticsearch neo4j chroma qdrant kafka duckdb; do
		[ "$k" = "$1" ] && echo "$i" && return 0
		i=$((i + 1))
	done
	echo 40
}
FAULTS_PROXY_PORT=${FAULTS_PROXY_PORT:-$((MESH_TOXIPROXY_PROXY_PORT + $(faults_kind_index "${FAULTS_KIND:-}")))}
FAULTS_TIMEOUT_MS=${FAULTS_TIMEOUT_MS:-1000}
FAULTS_LIMIT_BYTES=${FAULTS_LIMIT_BYTES:-1500}
FAULTS_OPS=${FAULTS_OPS:-"insert update delete"}
FAULTS_DDL=${FAULTS_DDL:-"(id int PRIMARY KEY, v text)"}
FAULTS_STEPS=${FAULTS_STEPS:-8}
FAULTS_VISIBILITY_DELAY=${FAULTS_VISIBILITY_DELAY:-0}
FAULTS_HOLD_SAMPLES=${FAULTS_HOLD_SAMPLES:-8}
FAULTS_VERIFY=${FAULTS_VERIFY:-1}
FAULTS_VIOLATIONS=0
FAULTS_D0=0
FAULTS_WRITTEN=0

# ---------------------------------------------------------------- Toxiproxy API
# tp_api METHOD PATH [JSON]: call the Toxiproxy API; fail the check on an
# HTTP status >= 300 or no answer.
tp_api() {
	local method=$1 path=$2 body=${3:-} out code
	out=$(curl -s -m 10 -X "$method" -H 'Content-Type: application/json' \
		${body:+--data "$body"} -w '\n%{http_code}' "http://127.0.0.1:$MESH_TOXIPROXY_PORT$path" 2>&1) || true
	code=${out##*$'\n'}
	case $code in
	2??) ;;
	*) fail "toxiproxy $method $path${body:+ $body}: HTTP $code: ${out%$'\n'*}" ;;
	esac
}

# tp_proxy_create NAME LISTEN_PORT UPSTREAM_PORT: a proxy from 127.0.0.1:LISTEN_PORT
# to 127.0.0.1:UPSTREAM_PORT (an old one of that name is replaced).
tp_proxy_create() {
	curl -s -m 10 -X DELETE "http://127.0.0.1:$MESH_TOXIPROXY_PORT/proxies/$1" >/dev/null 2>&1 || true
	tp_api POST /proxies "{\"name\": \"$1\", \"listen\": \"127.0.0.1:$2\", \"upstream\": \"127.0.0.1:$3\", \"enabled\": true}"
}

# tp_toxic_add PROXY TOXIC TYPE STREAM ATTRIBUTES_JSON [TOXICITY]
tp_toxic_add() {
	tp_api POST "/proxies/$1/toxics" \
		"{\"name\": \"$2\", \"type\": \"$3\", \"stream\": \"$4\", \"toxicity\": ${6:-1.0}, \"attributes\": $5}"
}

# tp_toxic_remove PROXY TOXIC
tp_toxic_remove() { tp_api DELETE "/proxies/$1/toxics/$2"; }

# tp_proxy_enabled PROXY true|false: false closes its connections and
# refuses new ones (the server looks down); true listens again.
tp_proxy_enabled() { tp_api POST "/proxies/$1" "{\"enabled\": $2}"; }

# tp_proxy_delete PROXY
tp_proxy_delete() { tp_api DELETE "/proxies/$1"; }

# ---------------------------------------------------------------- workload
faults_insert_sql() { echo "INSERT INTO ft (id, v) SELECT g, 'n' FROM generate_series($1, $2) g"; }

has_op() { [[ " $FAULTS_OPS " == *" $1 "* ]]; }

# faults_write ROUND STEP: one transaction of the step's events (ids of
# their own: see the file comment); adds their number to FAULTS_WRITTEN.
faults_write() {
	local r=$1 s=$2 ins_lo upd_lo del sql
	ins_lo=$((1000 * r + (s - 1) * 5 + 1))
	sql="BEGIN; $(faults_insert_sql "$ins_lo" $((ins_lo + 4)));"
	FAULTS_WRITTEN=$((FAULTS_WRITTEN + 5))
	if has_op update; then
		upd_lo=$(((r - 1) * 100 + (s - 1) * 3 + 1))
		sql="$sql UPDATE ft SET v = 'u' WHERE id BETWEEN $upd_lo AND $((upd_lo + 2));"
		FAULTS_WRITTEN=$((FAULTS_WRITTEN + 3))
	fi
	if has_op delete; then
		del=$(((r - 1) * 100 + 50 + s))
		sql="$sql DELETE FROM ft WHERE id = $del;"
		FAULTS_WRITTEN=$((FAULTS_WRITTEN + 1))
	fi
	q -d "$db" -c "$sql COMMIT;" >/dev/null || fail "writing round $r step $s failed"
}

# faults_visible: V, the events since the backfill whose effect the target
# holds (see the file comment), read without the proxy.
faults_visible() {
	local deletable=$((4 * FAULTS_STEPS))
	q -d "$db" -c "SELECT count(*) FILTER (WHERE id > 1000)
		+ CASE WHEN $(has_op delete && echo true || echo false)
			THEN $deletable - count(*) FILTER (WHERE id <= 400 AND id % 100 BETWEEN 51 AND $((50 + FAULTS_STEPS))) ELSE 0 END
		+ count(*) FILTER (WHERE id <= 400 AND v = 'u')
		FROM ($(faults_target_rows)) t"
}

# faults_stats: "delivered|failed|dead|pending|last_error" of the route.
faults_stats() {
	q -d "$db" -c "SELECT delivered, failed, dead, pending, coalesce(last_error, '-') FROM mesh.stats WHERE target = 'tgt'"
}

# faults_sample FAULT WHEN: read delivered, then V; record a violation if
# delivered - D0 > V.
faults_sample() {
	local fault=$1 when=$2 st delivered v
	st=$(faults_stats) || fail "reading mesh.stats failed"
	delivered=${st%%|*}
	[ "$FAULTS_VISIBILITY_DELAY" = 0 ] || sleep "$FAULTS_VISIBILITY_DELAY"
	v=$(faults_visible) || fail "reading the target without the proxy failed"
	FAULTS_SAMPLES=$((FAULTS_SAMPLES + 1))
	if [ $((delivered - FAULTS_D0)) -gt "$v" ]; then
		FAULTS_VIOLATIONS=$((FAULTS_VIOLATIONS + 1))
		FAULTS_FAULT_BAD=1
		echo "$CHECK: fault $fault ($when): delivered ran ahead of the target: delivered-D0 = $((delivered - FAULTS_D0)) > held $v (written $FAULTS_WRITTEN; stats delivered|failed|dead|pending|last_error = $st)"
	fi
	FAULTS_LAST_DELIVERED=$delivered
	FAULTS_LAST_V=$v
}

# faults_violation FAULT MESSAGE: record a failed expectation, go on.
faults_violation() {
	FAULTS_VIOLATIONS=$((FAULTS_VIOLATIONS + 1))
	FAULTS_FAULT_BAD=1
	echo "$CHECK: fault $1: $2"
}

# ---------------------------------------------------------------- faults
fault_on_reset() { tp_toxic_add "$FAULTS_PROXY" reset reset_peer downstream '{"timeout": 0}'; }
fault_off_reset() { tp_toxic_remove "$FAULTS_PROXY" reset; }
fault_on_limit() {
	tp_toxic_add "$FAULTS_PROXY" limit_up limit_data upstream "{\"bytes\": $FAULTS_LIMIT_BYTES}"
	tp_toxic_add "$FAULTS_PROXY" limit_down limit_data downstream "{\"bytes\": $FAULTS_LIMIT_BYTES}"
}
fault_off_limit() {
	tp_toxic_remove "$FAULTS_PROXY" limit_up
	tp_toxic_remove "$FAULTS_PROXY" limit_down
}
fault_on_timeout() { tp_toxic_add "$FAULTS_PROXY" noanswer timeout downstream '{"timeout": 0}'; }
fault_off_timeout() { tp_toxic_remove "$FAULTS_PROXY" noanswer; }
fault_on_down() { tp_proxy_enabled "$FAULTS_PROXY" false; }
fault_off_down() { tp_proxy_enabled "$FAULTS_PROXY" true; }

# faults_round ROUND FAULT: the fault on, writes and samples, extra samples
# while it lasts, heal, then sync, verify and the final counts.
faults_round() {
	local r=$1 fault=$2 s synced bad st delivered v failed0
	FAULTS_FAULT_BAD=0
	FAULTS_SAMPLES=0
	failed0=$(faults_stats | cut -d'|' -f2)
	"fault_on_$fault"
	for ((s = 1; s <= FAULTS_STEPS; s++)); do
		faults_write "$r" "$s"
		sleep 0.25
		faults_sample "$fault" "step $s"
	done
	for ((s = 1; s <= FAULTS_HOLD_SAMPLES; s++)); do
		sleep 0.25
		faults_sample "$fault" "while faulted"
	done
	st=$(faults_stats)
	# a fault the sink never felt tested nothing
	[ "$(cut -d'|' -f2 <<<"$st")" -gt "$failed0" ] ||
		faults_violation "$fault" "the route saw no failure during the fault (failed stayed $failed0): the fault did not reach the sink"
	"fault_off_$fault"
	synced=$(q -d "$db" -c "SELECT mesh.wait_for_sync(120000)")
	[ "$synced" = t ] || faults_violation "$fault" "mesh.wait_for_sync(120000) false after healing: $(faults_stats)"
	faults_sample "$fault" "healed"
	delivered=$FAULTS_LAST_DELIVERED
	v=$FAULTS_LAST_V
	if [ "$FAULTS_VERIFY" = 1 ]; then
		bad=$(q -d "$db" -c "SELECT string_agg(target || ': source ' || source_rows || ' target ' || target_rows || ' missing ' || missing || ' extra ' || extra || ' mismatched ' || mismatched, '; ') FROM mesh.verify('ft') WHERE NOT consistent")
		[ -z "$bad" ] || faults_violation "$fault" "mesh.verify not consistent after healing: $bad"
	fi
	[ $((delivered - FAULTS_D0)) -eq "$FAULTS_WRITTEN" ] ||
		faults_violation "$fault" "after healing delivered-D0 = $((delivered - FAULTS_D0)), events written $FAULTS_WRITTEN ($(faults_stats))"
	[ "$v" -eq "$FAULTS_WRITTEN" ] ||
		faults_violation "$fault" "after healing the target holds the effect of $v events, written $FAULTS_WRITTEN"
	if [ "$FAULTS_FAULT_BAD" = 0 ]; then
		echo "$CHECK: fault $fault: ok ($FAULTS_SAMPLES samples; during the fault: delivered|failed|dead|pending|last_error = $st)"
	else
		echo "$CHECK: fault $fault: FAILED (see above)"
	fi
}

# faults_run: the whole sequence (see the file comment).
faults_run() {
	local synced opts v n
	opts=$(declare -F faults_route_options >/dev/null && faults_route_options || echo '{}')
	q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	q -d "$db" -c "CREATE EXTENSION mesh" >/dev/null
	tp_proxy_create "$FAULTS_PROXY" "$FAULTS_PROXY_PORT" "$FAULTS_UPSTREAM_PORT"
	faults_setup
	q -d "$db" >/dev/null <<SQL || fail "setup of ft and its route failed"
CREATE TABLE ft $FAULTS_DDL;
$(faults_insert_sql 1 400);
SELECT mesh.replicate('ft', 'tgt', '$opts');
SQL
	synced=$(q -d "$db" -c "SELECT mesh.wait_for_sync(120000)")
	[ "$synced" = t ] || fail "the backfill did not sync without faults: $(faults_stats)"
	FAULTS_D0=$(faults_stats | cut -d'|' -f1)
	[ "$FAULTS_VISIBILITY_DELAY" = 0 ] || sleep "$FAULTS_VISIBILITY_DELAY"
	v=$(faults_visible)
	n=$(q -d "$db" -c "SELECT count(*) FROM ($(faults_target_rows)) t")
	[ "$v" = 0 ] && [ "$n" = 400 ] ||
		fail "after the backfill of 400 rows (delivered $FAULTS_D0, in sync) the direct read sees $n rows and $v events written since (want 400 and 0)"
	echo "$CHECK: backfill of 400 rows in sync (delivered $FAULTS_D0); ops: $FAULTS_OPS"
	faults_round 1 reset
	faults_round 2 limit
	faults_round 3 timeout
	faults_round 4 down
	tp_proxy_delete "$FAULTS_PROXY"
	if [ "$FAULTS_VIOLATIONS" -ne 0 ]; then
		fail "$FAULTS_VIOLATIONS violations (delivered ahead of the target, or not healed): see above"
	fi
	q -d postgres -c "DROP DATABASE $db" >/dev/null
	echo "$CHECK: ok"
}
