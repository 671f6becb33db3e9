# fdw/mongodb/mongodb.mk: build and link flags of mesh_mongodb (included by
# the Makefile before PGXS): mongo-c-driver, found with pkg-config.
PG_CPPFLAGS += $(shell pkg-config --cflags libmongoc-1.0)
SHLIB_LINK += $(shell pkg-config --libs libmongoc-1.0)
