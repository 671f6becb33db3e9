/*
 * kafka_sink.c: replication to a Kafka topic.
 *
 * Each event becomes one message on the route's topic (option topic,
 * default: the source table's name), keyed by the primary key, valued by
 * the envelope of kafka_envelope.c, with a header mesh-event-id.  The
 * producer is idempotent (no duplicates or reordering from its own
 * retries) and partitions like Kafka's Java clients (murmur2), so a key
 * always lands in the same partition, in order.  apply returns only once
 * the broker acknowledged every message of the batch (rd_kafka_flush,
 * bounded by timeout_ms); otherwise it fails the whole batch, transient
 * when the broker is away, so the route's cursor advances only on
 * delivery.  A retried batch may publish some messages twice: delivery is
 * at-least-once, and each message carries its event id to tell.
 */
#include "postgres.h"

#include "mesh_util.h"
#include "kafka_internal.h"

/* The route's topic: option topic, else the source table's name. */
const char *
kafka_route_topic(MeshRoute *route)
{
	return mesh_route_option(route, "topic", route->source_name);
}

/* Errors unless name is a legal Kafka topic name. */
static void
check_topic_name(const char *name)
{
	size_t		len = strlen(name);

	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '.' || *p == '_' || *p == '-'))
			len = 0;
	if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Kafka topic name \"%s\"", name),
				 errdetail("A topic name has 1 to 249 characters among ASCII letters, digits, '.', '_' and '-'."),
				 errhint("Set the route option topic, e.g. '{\"topic\": \"orders\"}'.")));
}

/*
 * At mesh.replicate: the topic name must be legal and the brokers
 * reachable.  A missing topic is created by the first message when the
 * broker auto-creates topics; otherwise the route waits (transient) until
 * it exists.
 */
void
kafka_check_route(void *conn, MeshRoute *route)
{
	KafkaConn  *kc = conn;
	const char *topic = kafka_route_topic(route);

	check_topic_name(topic);
	(void) kafka_partitions(kc, kafka_producer(kc), topic, true);
}

/* Publish events[0..n) and wait for every acknowledgement (file comment). */
void
kafka_apply(void *conn, MeshRoute *route, MeshEvent *events, int n)
{
	KafkaConn  *kc = conn;
	rd_kafka_t *rk = kafka_producer(kc);
	const char *topic = kafka_route_topic(route);
	StringInfoData key;
	StringInfoData value;
	struct timespec start;
	rd_kafka_resp_err_t err;
	double		left;

	check_topic_name(topic);
	mesh_now(&start);
	rd_kafka_poll(rk, 0);		/* reports of an earlier batch are not ours */
	kc->acked = kc->failed = 0;
	kc->first_err = RD_KAFKA_RESP_ERR_NO_ERROR;
	initStringInfo(&key);
	initStringInfo(&value);
	for (int i = 0; i < n; i++)
	{
		MeshEvent  *ev = &events[i];
		rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
		char		id[32];
		void	   *kptr;
		size_t		klen;

		resetStringInfo(&key);
		resetStringInfo(&value);
		kafka_message_key(&key, route, ev);
		kafka_envelope(&value, route, ev);
		kptr = ev->op == 'T' ? NULL : key.data;
		klen = ev->op == 'T' ? 0 : (size_t) key.len;
		snprintf(id, sizeof(id), INT64_FORMAT, ev->id);
		rd_kafka_header_add(hdrs, "mesh-event-id", -1, id, -1);
		for (;;)
		{
			err = rd_kafka_producev(rk,
									RD_KAFKA_V_TOPIC(topic),
									RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
									RD_KAFKA_V_KEY(kptr, klen),
									RD_KAFKA_V_VALUE(value.data, value.len),
									RD_KAFKA_V_HEADERS(hdrs),
									RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
				mesh_elapsed_ms(&start) >= kc->timeout_ms)
				break;
			rd_kafka_poll(rk, 10);	/* the local queue is full: let it drain */
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			rd_kafka_headers_destroy(hdrs); /* not taken over on failure */
			kafka_raise(kc, err, "producing a message");
		}
	}
	left = kc->timeout_ms - mesh_elapsed_ms(&start);
	err = rd_kafka_flush(rk, (int) Max(left, 1));
	if (kc->failed > 0)
		kafka_raise(kc, kc->first_err, psprintf("delivery of %d of %d messages to topic \"%s\"",
												kc->failed, n, topic));
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR || kc->acked < n)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("%d of %d messages to topic \"%s\" not acknowledged by Kafka server \"%s\" within %d ms",
						n - kc->acked, n, topic, kc->servername, kc->timeout_ms),
				 errhint("The broker may be down; the batch is sent again later.")));
}
