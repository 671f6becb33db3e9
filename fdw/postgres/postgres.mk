# fdw/postgres/postgres.mk: link flags of the postgres backend (included by
# the Makefile before PGXS): libpq, for replication writes.
SHLIB_LINK += -lpq
