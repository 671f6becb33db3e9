#!/usr/bin/env bash
# fdw/duckdb/fetch_libduckdb.sh: print the path of a libduckdb.so (DuckDB
# 1.x C API) for mesh_duckdb, fetching it once into a cache if needed.
#
# Order: $MESH_LIBDUCKDB (a file), the cache, then `npm pack` of the pinned
# @duckdb/node-bindings-linux-x64 package (it ships libduckdb.so, without a
# header: src/duckdb_api.h declares what mesh uses) into the cache
# ${MESH_DUCKDB_CACHE:-/var/cache/mesh/duckdb-$VERSION}, falling back to
# ~/.cache/mesh when /var/cache is not writable.  Prints nothing and exits
# 1 when no library can be had (the build goes on: DuckDB servers then
# fail with a clear error at first use).
set -euo pipefail
VERSION=1.5.2-r.2
PACKAGE=@duckdb/node-bindings-linux-x64

if [ -n "${MESH_LIBDUCKDB:-}" ] && [ -f "$MESH_LIBDUCKDB" ]; then
	echo "$MESH_LIBDUCKDB"
	exit 0
fi
cache=${MESH_DUCKDB_CACHE:-/var/cache/mesh/duckdb-$VERSION}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache=$HOME/.cache/mesh/duckdb-$VERSION
	mkdir -p "$cache"
fi
if [ -f "$cache/libduckdb.so" ]; then
	echo "$cache/libduckdb.so"
	exit 0
fi
command -v npm >/dev/null || { echo "fetch_libduckdb: npm not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null) ||
	{ echo "fetch_libduckdb: npm pack $PACKAGE@$VERSION failed" >&2; exit 1; }
tar -xzf "$tmp"/*.tgz -C "$tmp" package/libduckdb.so
mv "$tmp/package/libduckdb.so" "$cache/libduckdb.so.part"
mv "$cache/libduckdb.so.part" "$cache/libduckdb.so"
echo "$cache/libduckdb.so"
