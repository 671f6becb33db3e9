#!/usr/bin/env bash
# test/fuzz/run.sh [SECONDS]: build the libFuzzer targets (clang with
# AddressSanitizer and UBSan, as frontend code against libpgcommon) and run
# each for SECONDS (default 60) from its seed corpus.  Needs clang-14 and
# libclang-rt-14-dev (Debian).  Exit status 1 if a target crashed; the
# input that did is left in $WORK.
#   xml_reply  src/xml_reply.c (object stores' XML replies)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SECONDS_EACH=${1:-60}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
WORK=${MESH_FUZZ_DIR:-/tmp/mesh-fuzz}
CC=${FUZZ_CC:-clang-14}
mkdir -p "$WORK"
flags=(-g -O1 -Wall -Wno-ignored-attributes -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -DFRONTEND
	-I"$REPO/src" -I"$("$PG_CONFIG" --includedir-server)" -I"$("$PG_CONFIG" --includedir)")
libs=(-L"$("$PG_CONFIG" --libdir)" -L"$("$PG_CONFIG" --pkglibdir)" -lpgcommon -lpgport)
status=0
for target in xml_reply; do
	bin="$WORK/${target}_fuzz"
	"$CC" "${flags[@]}" "$HERE/${target}_fuzz.c" "$HERE/fuzz_palloc.c" "$REPO/src/$target.c" "${libs[@]}" -o "$bin"
	mkdir -p "$WORK/corpus_$target"
	echo "fuzz: $target for ${SECONDS_EACH}s"
	if (cd "$WORK" && "$bin" -max_total_time="$SECONDS_EACH" -max_len=4096 "$WORK/corpus_$target" "$HERE/corpus/$target" \
		>"$WORK/$target.log" 2>&1); then
		echo "fuzz: $target ok ($(grep -o 'Done [0-9]* runs' "$WORK/$target.log"))"
	else
		echo "fuzz: $target FAILED (log: $WORK/$target.log)"
		tail -n 30 "$WORK/$target.log"
		status=1
	fi
done
exit $status
