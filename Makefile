# mesh: PGXS build.  `make && make install`, then `make installcheck`
# against a running server (test/run.sh starts one with every backend).

EXTENSION = mesh
MODULE_big = mesh

CORE_SRCS = $(wildcard src/*.c)
FDW_SRCS = $(wildcard fdw/*/*.c)
OBJS = $(CORE_SRCS:.c=.o) $(FDW_SRCS:.c=.o)

.DEFAULT_GOAL := all

# The install script: the core's SQL (sql/mesh.sql, sql/subscribe.sql),
# then each backend folder's, then sql/privileges.sql (closes every
# internal function to PUBLIC).
DATA_built = sql/mesh--0.1.0.sql
FDW_SQL = $(sort $(wildcard fdw/*/*.sql))
sql/mesh--0.1.0.sql: sql/mesh.sql sql/subscribe.sql $(FDW_SQL) sql/privileges.sql
	cat $^ >$@

# pg_regress suites: the core's in test/sql and each backend's in
# fdw/<kind>/test/sql, expected output beside them in .../expected.
# pg_regress reads one --inputdir, so installcheck first links every suite
# into test/regress/{sql,expected} (generated; a name used twice is an error).
REGRESS_DIRS = test $(sort $(wildcard fdw/*/test))
# (in name order, as before the suites moved: they share one database)
REGRESS = $(sort $(basename $(notdir $(wildcard $(addsuffix /sql/*.sql,$(REGRESS_DIRS))))))
REGRESS_OPTS = --inputdir=test/regress --outputdir=test --load-extension=postgres_fdw --load-extension=mesh
REGRESS_PREP = regress-inputs
ISOLATION = $(basename $(notdir $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=test/isolation

PG_CONFIG ?= pg_config
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" mesh.control)
PG_CPPFLAGS = -Isrc -I$(shell $(PG_CONFIG) --includedir) -DMESH_VERSION='"$(EXTVERSION)"'
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Wno-cast-function-type
# the core's libraries (HTTP and JSON helpers, catalog YAML, metrics endpoint)
SHLIB_LINK = -lcurl -ljansson -lyaml -lmicrohttpd
# Only PostgreSQL's entry points are exported (src/mesh_export.h).
PG_CFLAGS += -fvisibility=hidden
PG_CPPFLAGS += '-DPGDLLEXPORT=__attribute__((visibility("default")))'

# Each backend folder's build: fdw/<kind>/<kind>.mk adds its client
# library's flags to PG_CPPFLAGS and SHLIB_LINK (so it comes before PGXS,
# which reads PG_CPPFLAGS when included) and any build steps of its own.
include $(sort $(wildcard fdw/*/*.mk))

EXTRA_CLEAN = src/connectors.inc test/regress test/results test/regression.diffs test/regression.out test/isolation

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard src/*.h)

# The connector list, generated from the folders: one MESH_CONNECTOR(symbol)
# line per `const MeshConnector mesh_<kind>_connector = {` found in
# fdw/*/*.c (src/registry.c includes it).  Rewritten only when it changes.
src/connectors.inc: FORCE
	@sed -n 's/^const MeshConnector \(mesh_[a-z0-9_]*_connector\) = {.*/MESH_CONNECTOR(\1)/p' \
		$(sort $(FDW_SRCS)) >$@.tmp
	@if [ ! -s $@.tmp ]; then echo "no connector found in fdw/*/*.c" >&2; rm -f $@.tmp; exit 1; fi
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
src/registry.o: src/connectors.inc

regress-inputs:
	@rm -rf test/regress && mkdir -p test/regress/sql test/regress/expected
	@for d in $(REGRESS_DIRS); do \
		for f in $$d/sql/*.sql $$d/expected/*.out; do \
			[ -e "$$f" ] || continue; \
			sub=$${f%/*}; sub=$${sub##*/}; \
			ln -s "$(CURDIR)/$$f" "test/regress/$$sub/" || \
				{ echo "regress-inputs: $$f: a suite of that name exists in another folder" >&2; exit 1; }; \
		done; \
	done
.PHONY: regress-inputs
.PHONY: FORCE
FORCE:

