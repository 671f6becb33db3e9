/*
 * kafka_sink.c: replication to a Kafka topic.
 *
 * Each event becomes one message on the route's topic (option topic,
 * default: the source table's name), keyed by the primary key, valued by
 * the envelope of src/change_envelope.c, with a header mesh-event-id.  A topic
 * is a log, not a state: the sink runs on the engine with
 * keep_every_change, so every event is one item, in order.  The producer
 * is idempotent (its own retries neither duplicate nor reorder) and
 * partitions like Kafka's Java clients (murmur2), so a key always lands in
 * the same partition, in order.  Each message's delivery report is its
 * outcome: acknowledged, refused (a permanent error: a dead letter) or
 * unknown (a transient error, or no report within timeout_ms).  After the
 * first message that could not be queued nothing more is produced; what is
 * still unreported at the deadline is purged, so nothing of the call can
 * land after the messages a retry sends again, in order, from the first
 * unknown one.  Delivery is at-least-once: a message after an unknown one
 * may be published twice; each carries its event id to tell.
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
 * Sink prepare, at mesh.replicate: the topic name must be legal and the
 * brokers reachable.  A missing topic is created by the first message when
 * the broker auto-creates topics; otherwise the route waits (transient)
 * until it exists.
 */
static void
kafka_sink_prepare(void *conn, MeshRoute *route)
{
	KafkaConn  *kc = conn;
	const char *topic = kafka_route_topic(route);

	check_topic_name(topic);
	(void) kafka_partitions(kc, kafka_producer(kc), topic, true);
}

/*
 * Queue the message of row (its opaque tags it as item index), built in
 * key and value (reset here; librdkafka copies them); an error code.
 */
static rd_kafka_resp_err_t
produce_row(KafkaConn *kc, rd_kafka_t *rk, MeshRoute *route, const char *topic,
			MeshSinkRow *row, int index, struct timespec *start, StringInfo key,
			StringInfo value)
{
	MeshEvent  *ev = (MeshEvent *) row->event;
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
	char		id[32];
	rd_kafka_resp_err_t err;
	void	   *kptr;
	size_t		klen;

	resetStringInfo(key);
	resetStringInfo(value);
	mesh_change_key(key, route, ev);
	mesh_change_envelope(value, route, ev);
	snprintf(id, sizeof(id), INT64_FORMAT, ev->id);
	rd_kafka_header_add(hdrs, "mesh-event-id", -1, id, -1);
	kptr = ev->op == 'T' ? NULL : key->data;	/* a truncate has no key */
	klen = ev->op == 'T' ? 0 : (size_t) key->len;
	for (;;)
	{
		err = rd_kafka_producev(rk,
								RD_KAFKA_V_TOPIC(topic),
								RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
								RD_KAFKA_V_KEY(kptr, klen),
								RD_KAFKA_V_VALUE(value->data, value->len),
								RD_KAFKA_V_HEADERS(hdrs),
								RD_KAFKA_V_OPAQUE(kafka_report_tag(kc, index)),
								RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
			mesh_elapsed_ms(start) >= kc->timeout_ms)
			break;
		rd_kafka_poll(rk, 10);	/* the local queue is full: let it drain */
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		rd_kafka_headers_destroy(hdrs); /* not taken over on failure */
	return err;
}

/* The outcome of a message that failed with err. */
static void
failed_outcome(KafkaConn *kc, const char *topic, rd_kafka_resp_err_t err, MeshItemOutcome *out)
{
	out->status = kafka_err_transient(err) ? MESH_ITEM_UNKNOWN : MESH_ITEM_REFUSED;
	out->reason = psprintf("delivery to topic \"%s\" failed on Kafka server \"%s\": %s: %s",
						   topic, kc->servername, rd_kafka_err2name(err), rd_kafka_err2str(err));
}

/*
 * Sink upsert (keep_every_change: rows are events in order, any op):
 * publish them and judge each by its delivery report (file comment).
 */
static void
kafka_sink_upsert(void *conn, MeshRoute *route, MeshSinkRow *rows, int n, MeshItemOutcome *out)
{
	KafkaConn  *kc = conn;
	rd_kafka_t *rk = kafka_producer(kc);
	const char *topic = kafka_route_topic(route);
	rd_kafka_resp_err_t *reports = palloc(sizeof(rd_kafka_resp_err_t) * Max(n, 1));
	struct timespec start;
	volatile int produced = 0;
	volatile int unreported = 0;
	char		fatal[256];
	StringInfoData key;
	StringInfoData value;

	check_topic_name(topic);
	initStringInfo(&key);
	initStringInfo(&value);
	mesh_now(&start);
	rd_kafka_poll(rk, 0);		/* reports of an earlier call are not ours */
	kafka_reports_begin(kc, reports, n);
	PG_TRY();
	{
		for (; produced < n; produced++)
		{
			rd_kafka_resp_err_t err = produce_row(kc, rk, route, topic, &rows[produced],
												  produced, &start, &key, &value);

			if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
				continue;
			reports[produced] = err;	/* never queued: judged now */
			if (kafka_err_transient(err))
				break;			/* nothing after it may land before it */
		}
		rd_kafka_flush(rk, (int) Max(kc->timeout_ms - mesh_elapsed_ms(&start), 1));
		for (int i = 0; i < produced; i++)
			if (reports[i] == KAFKA_NOT_REPORTED)
				unreported++;
		if (unreported > 0)
		{
			/* nothing of this call may land after what a retry sends again */
			rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			rd_kafka_poll(rk, 0);
		}
	}
	PG_FINALLY();
	{
		kafka_reports_end(kc);	/* reports[] may be freed after an error */
	}
	PG_END_TRY();
	for (int i = 0; i < n; i++)
	{
		if (i < produced && reports[i] == RD_KAFKA_RESP_ERR_NO_ERROR)
			out[i].status = MESH_ITEM_ACKED;
		else if (reports[i] != KAFKA_NOT_REPORTED)
			failed_outcome(kc, topic, reports[i], &out[i]);
	}
	if (rd_kafka_fatal_error(rk, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("the producer of Kafka server \"%s\" failed", kc->servername),
				 errdetail("%s", fatal),
				 errhint("A new producer is made; the unacknowledged messages are sent again.")));
	if (unreported > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("%d of %d messages to topic \"%s\" not acknowledged by Kafka server \"%s\" within %d ms",
						unreported, n, topic, kc->servername, kc->timeout_ms),
				 errhint("The broker may be down; those messages are sent again later, in order.")));
}

const MeshSinkOps kafka_sink_ops = {
	.max_batch = 50000,			/* messages per flush */
	.keep_every_change = true,
	.prepare = kafka_sink_prepare,
	.upsert = kafka_sink_upsert,
};
