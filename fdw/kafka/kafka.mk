# fdw/kafka/kafka.mk: link flags of mesh_kafka (included by the Makefile
# before PGXS): librdkafka, found with pkg-config.
SHLIB_LINK += $(shell pkg-config --libs rdkafka)
