# fdw/redis/redis.mk: link flags of mesh_redis (included by the Makefile
# before PGXS): hiredis.
SHLIB_LINK += -lhiredis
