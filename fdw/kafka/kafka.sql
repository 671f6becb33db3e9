
-- mesh_kafka: Kafka through librdkafka (fdw/kafka).
CREATE FUNCTION mesh.kafka_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER mesh_kafka
	HANDLER mesh.fdw_handler VALIDATOR mesh.kafka_validator;

-- mesh_kafka is a stream source (fdw/kafka/kafka_stream.c): mesh.subscribe
-- (sql/subscribe.sql) consumes its topics.
