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

REGRESS = $(basename $(notdir $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test --load-extension=postgres_fdw --load-extension=mesh
ISOLATION = $(basename $(notdir $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=test/isolation

PG_CONFIG ?= pg_config
# mongo-c-driver (fdw/mongodb)
MONGOC_CFLAGS := $(shell pkg-config --cflags libmongoc-1.0)
MONGOC_LIBS := $(shell pkg-config --libs libmongoc-1.0)
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" mesh.control)
PG_CPPFLAGS = -Isrc -I$(shell $(PG_CONFIG) --includedir) $(MONGOC_CFLAGS) -DMESH_VERSION='"$(EXTVERSION)"'
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Wno-cast-function-type
# Only PostgreSQL's entry points are exported (src/mesh_export.h).
PG_CFLAGS += -fvisibility=hidden
PG_CPPFLAGS += '-DPGDLLEXPORT=__attribute__((visibility("default")))'
SHLIB_LINK = -lhiredis -lpq -lcurl -ljansson -lyaml -lmicrohttpd $(MONGOC_LIBS)
SHLIB_LINK += $(shell pkg-config --libs rdkafka)

EXTRA_CLEAN = test/results test/regression.diffs test/regression.out test/isolation

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard src/*.h)

# Per-backend build steps (e.g. fetching a library a connector dlopens).
include $(wildcard fdw/*/*.mk)
