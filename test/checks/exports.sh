#!/usr/bin/env bash
# servers: (the hub only)
# Check (issue 15, item 5): mesh.so is built with hidden symbol visibility,
# so it exports only what PostgreSQL looks up by name: Pg_magic_func,
# _PG_init, _PG_output_plugin_init (mesh is its own logical decoding
# output plugin), every C function the install script declares (AS
# 'MODULE_PATHNAME', 'name') with its pg_finfo_ record, and every background
# worker entry point (bgw_function_name) -- all prefixed mesh_, so mesh
# cannot clash with another loaded module (redis_fdw, mongo_fdw, ...).
set -euo pipefail
CHECK=exports
. "$(dirname "$0")/../lib/checks.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
so="$(${PG_CONFIG:-pg_config} --pkglibdir)/mesh.so"
[ -f "$so" ] || fail "$so is not installed"
exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u)

# every exported name has a prefixed form
stray=$(grep -v -E '^(mesh_[a-z0-9_]+|pg_finfo_mesh_[a-z0-9_]+|_PG_init|_PG_output_plugin_init|Pg_magic_func)$' <<<"$exported" || true)
[ -z "$stray" ] || fail "exported without a mesh_ prefix: $(tr '\n' ' ' <<<"$stray")"

# every name PostgreSQL looks up is exported
wanted=$( (cat "$repo"/sql/*.sql "$repo"/fdw/*/*.sql |
	grep -o "MODULE_PATHNAME', *'[a-z_0-9]*'" | sed "s/.*, *'//; s/'//" |
	sed 'p; s/^/pg_finfo_/'
	grep -rhoE '"mesh_[a-z_]+_main"' "$repo"/src "$repo"/fdw | tr -d '"'
	echo _PG_init; echo _PG_output_plugin_init; echo Pg_magic_func) | sort -u)
missing=$(comm -23 <(echo "$wanted") <(echo "$exported"))
[ -z "$missing" ] || fail "not exported: $(tr '\n' ' ' <<<"$missing")"

# and nothing else (an internal function exported by mistake)
extra=$(comm -13 <(echo "$wanted") <(echo "$exported"))
[ -z "$extra" ] || fail "exported but never looked up: $(tr '\n' ' ' <<<"$extra")"
echo "$CHECK: ok ($(wc -l <<<"$exported") symbols)"
