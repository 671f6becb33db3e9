/*
 * kafka_stream.c: Kafka as a stream source (MeshStreamOps) for
 * mesh.subscribe: a consumer assigned every partition of one topic
 * explicitly (no group rebalancing: the core keeps the offsets), polled in
 * batches, acknowledging by committing the group's offsets.
 *
 * Memory: a KafkaStream, its KafkaConn (TopMemoryContext) and its
 * librdkafka consumer are freed by kafka_stream_close or when the memory
 * context it was opened in is reset, whichever comes first.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "kafka_internal.h"
#include "mesh_util.h"

/* An open consumer of one topic. */
typedef struct KafkaStream
{
	MemoryContextCallback cb;
	KafkaConn  *kc;
	KafkaHandle *consumer;
	char	   *topic;
} KafkaStream;

/* mesh.subscribe: a topic name Kafka accepts. */
static void
kafka_stream_check_topic(const char *topic)
{
	size_t		len = strlen(topic);
	bool		ok = len >= 1 && len <= 249;

	for (size_t i = 0; ok && i < len; i++)
		ok = (topic[i] >= 'A' && topic[i] <= 'Z') || (topic[i] >= 'a' && topic[i] <= 'z') ||
			(topic[i] >= '0' && topic[i] <= '9') || topic[i] == '.' || topic[i] == '_' ||
			topic[i] == '-';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Kafka topic name \"%s\"", topic),
				 errdetail("A topic name has 1 to 249 characters among ASCII letters, digits, '.', '_' and '-'.")));
}

/* The partitions of topic and their low and high watermarks. */
static int
kafka_stream_bounds(void *conn, const char *topic, int64 **first, int64 **end)
{
	KafkaConn  *kc = conn;
	KafkaHandle *h = kafka_admin_handle(kc);
	int			n = kafka_partitions(kc, h->rk, topic, true);

	*first = palloc(sizeof(int64) * Max(n, 1));
	*end = palloc(sizeof(int64) * Max(n, 1));
	for (int p = 0; p < n; p++)
	{
		rd_kafka_resp_err_t err;

		err = rd_kafka_query_watermark_offsets(h->rk, topic, p, &(*first)[p], &(*end)[p],
											   kc->timeout_ms);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			kafka_raise(kc, err, psprintf("reading the offsets of partition %d of topic \"%s\"", p, topic));
	}
	kafka_handle_close(h);
	return n;
}

static void
stream_free(KafkaStream *ks)
{
	if (ks->consumer)
		kafka_handle_close(ks->consumer);
	if (ks->kc)
		kafka_conn_free(ks->kc);
	ks->kc = NULL;
}

static void
stream_free_callback(void *arg)
{
	stream_free((KafkaStream *) arg);
}

/* A consumer of topic in group, no partition assigned yet. */
static void *
kafka_stream_open(MeshServerConfig *config, const char *topic, const char *group)
{
	KafkaStream *ks = palloc0(sizeof(KafkaStream));
	char		timeout[32];
	const char *extra[] = {"group.id", group, "enable.auto.commit", "false",
		"enable.auto.offset.store", "false", "allow.auto.create.topics", "false",
		"fetch.wait.max.ms", "100",
	"socket.timeout.ms", timeout, NULL};

	ks->topic = pstrdup(topic);
	ks->kc = kafka_conn_from_config(config);
	ks->cb.func = stream_free_callback;
	ks->cb.arg = ks;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &ks->cb);
	snprintf(timeout, sizeof(timeout), "%d", Max(ks->kc->timeout_ms, 10));
	ks->consumer = kafka_consumer(ks->kc, extra);
	return ks;
}

/* The topic's partitions now (-1: missing). */
static int
kafka_stream_partitions(void *consumer)
{
	KafkaStream *ks = consumer;

	return kafka_partitions(ks->kc, ks->consumer->rk, ks->topic, true);
}

/*
 * Partitions the core does not know start at the group's committed offset,
 * else at the low (earliest) or high (latest) watermark; then every
 * partition is assigned at next[p].
 */
static void
kafka_stream_start(void *consumer, int nparts, int64 *next, const bool *known,
				   const char *start)
{
	KafkaStream *ks = consumer;
	rd_kafka_t *rk = ks->consumer->rk;
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;

	list = rd_kafka_topic_partition_list_new(nparts);
	for (int p = 0; p < nparts; p++)
		if (!known[p])
			rd_kafka_topic_partition_list_add(list, ks->topic, p)->offset = RD_KAFKA_OFFSET_INVALID;
	if (list->cnt > 0)
	{
		err = rd_kafka_committed(rk, list, ks->kc->timeout_ms);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			rd_kafka_topic_partition_list_destroy(list);
			kafka_raise(ks->kc, err, "reading the consumer group's offsets");
		}
	}
	for (int i = 0; i < list->cnt; i++)
	{
		int32		p = list->elems[i].partition;
		int64		low,
					high;

		if (list->elems[i].offset >= 0)
		{
			next[p] = list->elems[i].offset;
			continue;
		}
		err = rd_kafka_query_watermark_offsets(rk, ks->topic, p, &low, &high, ks->kc->timeout_ms);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			rd_kafka_topic_partition_list_destroy(list);
			kafka_raise(ks->kc, err, "reading a partition's offsets");
		}
		next[p] = strcmp(start, "latest") == 0 ? high : low;
	}
	rd_kafka_topic_partition_list_destroy(list);

	list = rd_kafka_topic_partition_list_new(nparts);
	for (int p = 0; p < nparts; p++)
		rd_kafka_topic_partition_list_add(list, ks->topic, p)->offset = next[p];
	err = rd_kafka_assign(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_raise(ks->kc, err, "assigning the topic's partitions");
}

/* Copy a librdkafka message out of its memory. */
static void
copy_message(rd_kafka_message_t *m, MeshStreamMessage *out)
{
	rd_kafka_headers_t *hdrs = NULL;

	out->partition = m->partition;
	out->offset = m->offset;
	out->key = m->key ? pnstrdup(m->key, m->key_len) : NULL;
	out->key_len = m->key ? m->key_len : 0;
	out->value = m->payload ? pnstrdup(m->payload, m->len) : NULL;
	out->value_len = m->payload ? m->len : 0;
	out->headers = NULL;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		kafka_headers_json(&buf, m);
		out->headers = buf.data;
	}
}

/* Up to max messages, waiting at most wait_ms for the first. */
static int
kafka_stream_poll(void *consumer, MeshStreamMessage *msgs, int max, int wait_ms)
{
	KafkaStream *ks = consumer;
	int			n = 0;
	struct timespec start;

	mesh_now(&start);
	while (n < max)
	{
		double		left = n > 0 ? 0 : wait_ms - mesh_elapsed_ms(&start);
		rd_kafka_message_t *m;

		if (n == 0 && left <= 0)
			break;
		m = rd_kafka_consumer_poll(ks->consumer->rk, (int) Min(Max(left, 0), 100));
		CHECK_FOR_INTERRUPTS();
		if (m == NULL)
		{
			if (n > 0)
				break;
			continue;
		}
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			/* the consumer reconnects by itself; say why it waits */
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				ereport(LOG,
						(errmsg("mesh: Kafka server \"%s\", topic \"%s\": %s",
								ks->kc->servername, ks->topic, rd_kafka_err2str(m->err))));
			rd_kafka_message_destroy(m);
			continue;
		}
		copy_message(m, &msgs[n]);
		rd_kafka_message_destroy(m);
		n++;
	}
	return n;
}

/* Commit the group's offsets of the touched partitions (asynchronously). */
static void
kafka_stream_commit(void *consumer, int nparts, const int64 *next, const bool *touched)
{
	KafkaStream *ks = consumer;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(nparts);

	for (int p = 0; p < nparts; p++)
		if (touched[p])
			rd_kafka_topic_partition_list_add(list, ks->topic, p)->offset = next[p];
	if (list->cnt > 0)
		(void) rd_kafka_commit(ks->consumer->rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/* Free the consumer now (the reset callback then has nothing left to do). */
static void
kafka_stream_close(void *consumer)
{
	stream_free((KafkaStream *) consumer);
}

const MeshStreamOps kafka_stream_ops = {
	.check_topic = kafka_stream_check_topic,
	.bounds = kafka_stream_bounds,
	.open = kafka_stream_open,
	.partitions = kafka_stream_partitions,
	.start = kafka_stream_start,
	.poll = kafka_stream_poll,
	.commit = kafka_stream_commit,
	.close = kafka_stream_close,
};
