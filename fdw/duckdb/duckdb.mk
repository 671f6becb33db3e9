# fdw/duckdb/duckdb.mk: libduckdb.so for mesh_duckdb (included by the
# Makefile).  mesh dlopens it at first use, so building never needs it;
# `make` fetches it (cached) and `make install` copies it into $libdir.
# A failed fetch is a warning, not a build failure.

all: duckdb-lib

duckdb-lib:
	@bash fdw/duckdb/fetch_libduckdb.sh >/dev/null || \
		echo "warning: libduckdb.so not fetched; mesh_duckdb servers will fail until it is installed" >&2

install: install-duckdb

install-duckdb:
	@lib=$$(bash fdw/duckdb/fetch_libduckdb.sh) && \
		$(INSTALL_SHLIB) "$$lib" '$(DESTDIR)$(pkglibdir)/libduckdb.so' || \
		echo "warning: libduckdb.so not installed; mesh_duckdb servers will fail until it is" >&2

.PHONY: duckdb-lib install-duckdb
