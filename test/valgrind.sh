#!/usr/bin/env bash
# Runs the pg_regress suite with the hub PostgreSQL under valgrind memcheck
# and lists the valgrind errors (and leaks) that involve mesh code.
#
#   test/valgrind.sh run       start the servers (hub under valgrind), make
#                              installcheck ISOLATION=, stop, summary
#   test/valgrind.sh summary [DIR]  summarise the logs of an earlier run
#   test/valgrind.sh supp      write the suppression file, print its path
#
# The servers are the harness's (test/harness.sh), only those the chosen
# suites name, in their own state dir and port block (defaults below), so a
# valgrind run and a test run can go side by side. Settings:
#   MESH_TEST_DIR        default /tmp/mesh-valgrind
#   MESH_PORT_BASE       default 28000 (test/lib/ports.sh)
#   MESH_VALGRIND_OPTS   extra valgrind options (default: --track-origins=yes);
#                        "--leak-check=full --show-leak-kinds=definite" for leaks
#   MESH_START_TIMEOUT   start/stop timeout of the hub, seconds (default 600)
#   MESH_REGRESS         the pg_regress suites to run (default: all)
#   MESH_SRC_DIR         mesh sources the installed mesh.so was built from
#                        (default: this repository), to find mesh frames
#   PG_CONFIG            PostgreSQL 15 to run (the harness's default otherwise)
#
# The isolation specs are skipped (too slow under valgrind). Tests that wait with timeouts can fail only because valgrind is slow (10-50x).
# Logs: $MESH_TEST_DIR/valgrind/<pid>.log (one per process); summary in
# $MESH_TEST_DIR/valgrind-summary.txt.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS="$REPO/test/harness.sh"
export MESH_TEST_DIR=${MESH_TEST_DIR:-/tmp/mesh-valgrind}
export MESH_PORT_BASE=${MESH_PORT_BASE:-28000}
# shellcheck source=lib/suites.sh
. "$REPO/test/lib/suites.sh"
export MESH_VALGRIND=1
export MESH_START_TIMEOUT=${MESH_START_TIMEOUT:-600}
export MESH_VALGRIND_OPTS=${MESH_VALGRIND_OPTS:---track-origins=yes}
# full source paths in stack frames, so mesh frames can be told apart
MESH_VALGRIND_OPTS="$MESH_VALGRIND_OPTS --fullpath-after="
export MESH_VALGRIND_SUPP=$MESH_TEST_DIR/valgrind.supp
export MESH_VALGRIND_LOG_DIR=$MESH_TEST_DIR/valgrind
MESH_SRC_DIR=${MESH_SRC_DIR:-$REPO}
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi

# write_supp: known noise outside mesh. The first part is taken from
# PostgreSQL's src/tools/valgrind.supp (not installed by Debian): padding
# bytes of structs PostgreSQL writes raw to disk or sockets.
write_supp() {
	mkdir -p "$MESH_TEST_DIR"
	cat >"$MESH_VALGRIND_SUPP" <<'EOF'
# ---- from PostgreSQL src/tools/valgrind.supp
{
	padding_pgstat_write
	Memcheck:Param
	write(buf)
	...
	fun:pgstat_write_statsfile
}
{
	padding_XLogRecData_CRC
	Memcheck:Value8
	fun:pg_comp_crc32c*
	fun:XLogRecordAssemble
}
{
	padding_XLogRecData_write
	Memcheck:Param
	pwrite64(buf)
	...
	fun:XLogWrite
}
{
	padding_XLogRecData_write_w
	Memcheck:Param
	write(buf)
	...
	fun:XLogWrite
}
{
	padding_relcache
	Memcheck:Param
	write(buf)
	...
	fun:write_relcache_init_file
}
{
	uninitialized_atomic_init_u64
	Memcheck:Cond
	fun:pg_atomic_exchange_u64_impl
	fun:pg_atomic_write_u64_impl
	fun:pg_atomic_init_u64_impl
}
# ---- seen on Debian 12: PostgreSQL 15 has no symbols for static functions
# (write_relcache_init_file, XLogWrite), so the entries above do not match
{
	padding_relcache_init_file
	Memcheck:Param
	write(buf)
	...
	fun:fwrite
	...
	fun:RelationCacheInitializePhase3
}
{
	padding_xlog_pwrite
	Memcheck:Param
	pwrite64(buf)
	fun:pwrite*
	...
	fun:XLog*
}
{
	padding_xlog_pwrite_libc_frame_first
	Memcheck:Param
	pwrite64(buf)
	...
	fun:XLogFlush
}
{
	regexp_cache_memmove_fortify_false_positive
	Memcheck:Overlap
	fun:__memcpy_chk
	fun:RE_compile_and_cache
}
{
	postmaster_strdup_leak
	Memcheck:Leak
	match-leak-kinds: definite
	fun:malloc
	fun:strdup
	fun:PostmasterMain
}
{
	ps_display_args_leak
	Memcheck:Leak
	match-leak-kinds: definite
	fun:malloc
	fun:save_ps_display_args
}
{
	postgres_fdw_validator_conndefaults_never_freed
	Memcheck:Leak
	match-leak-kinds: definite
	fun:malloc
	...
	fun:PQconndefaults
	...
	fun:postgres_fdw_validator
}
{
	padding_xlog_pwrite_startup
	Memcheck:Param
	pwrite64(buf)
	fun:pwrite*
	...
	fun:StartupXLOG
}
EOF
	echo "$MESH_VALGRIND_SUPP"
}

# summary: parse every log, print errors with a mesh frame (deduplicated),
# leak records of mesh allocations, and a count of the other errors.
summary() {
	python3 - "${1:-$MESH_VALGRIND_LOG_DIR}" "$MESH_SRC_DIR" <<'EOF'
import collections, glob, os, re, sys

logdir, srcdir = sys.argv[1], os.path.realpath(sys.argv[2])
mesh_re = re.compile(r"\((?:%s/)?(?:src|fdw/\w+)/[\w.]+\.[ch]:\d+\)|mesh\.so" % re.escape(srcdir))
frame_re = re.compile(r"^\s+(?:at|by) 0x[0-9A-F]+: (.*)$")
errs = collections.OrderedDict()   # key -> [count, block, pids]
other = collections.Counter()
lost = collections.Counter()       # process kind -> definitely lost bytes
kinds = collections.Counter()      # process kind -> processes (with a leak check)
ptype = {}                         # pid -> backend_type, sampled during the run
try:
    for line in open(os.path.join(logdir, "processes.txt"), errors="replace"):
        f = line.rstrip("\n").split(" ", 1)
        if len(f) == 2 and f[0].isdigit():
            ptype[f[0]] = f[1]
except OSError:
    pass
procs = 0
for path in sorted(glob.glob(os.path.join(logdir, "*.log"))):
    procs += 1
    pid = os.path.basename(path)[:-4]
    blocks, cur = [], []
    for line in open(path, errors="replace"):
        m = re.match(r"^==\d+== ?(.*)$", line.rstrip("\n"))
        if not m:
            continue
        text = m.group(1)
        if text == "":
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(text)
    if cur:
        blocks.append(cur)
    text = open(path, errors="replace").read()
    pkind = ptype.get(pid) or ("bgworker" if "StartBackgroundWorker" in text else
                                "backend" if "PostgresMain" in text else "unknown")
    pkind = re.sub(r" \d+$", "", pkind)
    if "LEAK SUMMARY" in text or "All heap blocks were freed" in text:
        kinds[pkind] += 1
    m = re.search(r"definitely lost: ([\d,]+) bytes", text)
    if m:
        lost[pkind] += int(m.group(1).replace(",", ""))
    for b in blocks:
        head = b[0]
        frames = [frame_re.match(l).group(1) for l in b if frame_re.match(l)]
        if not frames:
            continue
        leak = "are definitely lost" in head or "are possibly lost" in head or "are indirectly lost" in head
        if not mesh_re.search("\n".join(frames)):
            other[re.sub(r"\d[\d,]*", "N", head)[:90]] += 1
            continue
        # key: kind of error and the frames (no addresses, sizes)
        kind = re.sub(r"[\d,]+ (\(\d[\d,]* direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks", "N bytes", head)
        kind = re.sub(r"loss record [\d,]+ of [\d,]+", "", kind)
        kind = re.sub(r"Address 0x[0-9a-f]+", "Address", kind)
        key = (kind, tuple(frames[:12]))
        e = errs.setdefault(key, [0, b, set()])
        e[0] += 1
        e[2].add("%s (%s)" % (pid, pkind))
print("valgrind logs: %d processes in %s" % (procs, logdir))
print("errors/leaks with a mesh frame: %d distinct, %d in all" % (len(errs), sum(e[0] for e in errs.values())))
for i, ((kind, _), (n, b, pids)) in enumerate(errs.items(), 1):
    print("\n---- #%d: %d time(s) in %d process(es), e.g. pid %s" % (i, n, len(pids), sorted(pids)[0]))
    print("\n".join(b))
print("\nerrors without a mesh frame (by kind):")
for k, n in other.most_common():
    print("  %5d  %s" % (n, k))
if kinds:
    print("\nleak check at exit (definitely lost, after suppressions), by process kind:")
    for k, n in sorted(kinds.items()):
        print("  %-28s %4d processes  %8d bytes" % (k, n, lost[k]))
EOF
}

run() {
	local rc
	write_supp >/dev/null
	rm -rf "$MESH_VALGRIND_LOG_DIR"
	echo "== start servers (hub under valgrind; logs in $MESH_VALGRIND_LOG_DIR)"
	local servers=""
	# shellcheck disable=SC2086
	if [ -n "${MESH_REGRESS:-}" ]; then servers=$(regress_servers "$REPO" $MESH_REGRESS); fi
	# shellcheck disable=SC2086
	bash "$HARNESS" start $servers || exit 1
	trap 'bash "$HARNESS" stop' EXIT
	eval "$(bash "$HARNESS" env)"
	# which pid is which process (delivery worker, backend...), for the summary
	"$("${PG_CONFIG:-pg_config}" --bindir)/psql" -X -At -F' ' -d postgres \
		<<<"SELECT pid, backend_type FROM pg_stat_activity \\watch 1" \
		>"$MESH_VALGRIND_LOG_DIR/processes.txt" 2>/dev/null &
	sampler=$!
	echo "== make installcheck ISOLATION= (slow under valgrind)"
	make -C "$REPO" ${PG_CONFIG:+PG_CONFIG="$PG_CONFIG"} ${MESH_REGRESS:+REGRESS="$MESH_REGRESS"} installcheck ISOLATION= 2>&1 |
		tee "$MESH_TEST_DIR/valgrind-installcheck.log"
	rc=${PIPESTATUS[0]}
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	sort -u -o "$MESH_VALGRIND_LOG_DIR/processes.txt" "$MESH_VALGRIND_LOG_DIR/processes.txt"
	echo "== stop servers (leak checks run at process exit)"
	trap - EXIT
	bash "$HARNESS" stop
	summary | tee "$MESH_TEST_DIR/valgrind-summary.txt"
	echo "installcheck exit status: $rc"
}

case "${1:-}" in
run) run ;;
summary) summary "${2:-}" ;;
supp) write_supp ;;
*)
	sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
