/*
 * kafka.c: the Kafka connector (librdkafka): options, the librdkafka
 * properties they become, connections (a cached producer per user
 * mapping), consumers owned by memory contexts, error classification.
 *
 * Options map to librdkafka properties through the allow-list below
 * (README.md): server options for what may be public, user-mapping
 * options for credentials (user -> sasl.username, password ->
 * sasl.password, ssl_key_password -> ssl.key.password), never printed.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/memutils.h"

#include "kafka_internal.h"

static const MeshOption kafka_options[] = {
	{.name = "brokers", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "client_id", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "security_protocol", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_ENUM,
	.allowed = "plaintext|ssl|sasl_plaintext|sasl_ssl"},
	{.name = "sasl_mechanism", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_ENUM,
	.allowed = "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512"},
	{.name = "ssl_ca_location", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "ssl_certificate_location", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "ssl_key_location", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_STRING,
	.min = 1},
	{.name = "compression", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_ENUM,
	.allowed = "none|gzip|snappy|lz4|zstd"},
	{.name = "user", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING, .min = 1},
	{.name = "password", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true},
	{.name = "ssl_key_password", .where = MESH_OPT_MAPPING, .type = MESH_OPTTYPE_STRING,
	.secret = true},
	{.name = "topic", .where = MESH_OPT_TABLE | MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING,
	.min = 1, .max = 249},
	{NULL}
};

/* option name -> librdkafka property (the allow-list) */
static const char *const option_property[][2] = {
	{"brokers", "bootstrap.servers"},
	{"client_id", "client.id"},
	{"security_protocol", "security.protocol"},
	{"sasl_mechanism", "sasl.mechanisms"},
	{"ssl_ca_location", "ssl.ca.location"},
	{"ssl_certificate_location", "ssl.certificate.location"},
	{"ssl_key_location", "ssl.key.location"},
	{"compression", "compression.codec"},
	{"user", "sasl.username"},
	{"password", "sasl.password"},
	{"ssl_key_password", "ssl.key.password"},
	{NULL, NULL}
};

static void
add_prop(KafkaConn *kc, const char *name, const char *value)
{
	kc->props = repalloc(kc->props, sizeof(char *) * (kc->nprops + 2));
	kc->props[kc->nprops++] = MemoryContextStrdup(TopMemoryContext, name);
	kc->props[kc->nprops++] = MemoryContextStrdup(TopMemoryContext, value);
}

/* The properties of a server as a user (no network I/O). */
KafkaConn *
kafka_conn_from_config(MeshServerConfig *config)
{
	KafkaConn  *kc = MemoryContextAllocZero(TopMemoryContext, sizeof(KafkaConn));
	char		num[32];

	kc->servername = MemoryContextStrdup(TopMemoryContext, config->servername);
	kc->timeout_ms = config->timeout_ms;
	kc->props = MemoryContextAlloc(TopMemoryContext, sizeof(char *) * 2);
	add_prop(kc, "bootstrap.servers", mesh_config_get(config, "brokers", "127.0.0.1:9092"));
	add_prop(kc, "client.id", mesh_config_get(config, "client_id", "mesh"));
	for (int i = 2; option_property[i][0]; i++)
	{
		const char *v = mesh_config_get(config, option_property[i][0], NULL);

		if (v)
			add_prop(kc, option_property[i][1], v);
	}
	snprintf(num, sizeof(num), "%d", Max(kc->timeout_ms, 10));
	add_prop(kc, "socket.timeout.ms", num);
	add_prop(kc, "log.connection.close", "false");
	return kc;
}

/* Free what kafka_conn_from_config made (the handles must be gone). */
void
kafka_conn_free(KafkaConn *kc)
{
	for (int i = 0; i < kc->nprops; i++)
		pfree(kc->props[i]);
	pfree(kc->props);
	pfree(kc->servername);
	pfree(kc);
}

/*
 * A librdkafka configuration with the server's properties, then extra
 * (name, value, ..., NULL).  A value librdkafka refuses is an error naming
 * the property; values are not printed (some are secrets).
 */
rd_kafka_conf_t *
kafka_conf(KafkaConn *kc, const char *const *extra)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		errstr[512];

	for (int pass = 0; pass < 2; pass++)
	{
		const char *const *p = pass == 0 ? (const char *const *) kc->props : extra;
		int			n = pass == 0 ? kc->nprops : INT_MAX;

		for (int i = 0; p && i < n && p[i]; i += 2)
			if (rd_kafka_conf_set(conf, p[i], p[i + 1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
			{
				rd_kafka_conf_destroy(conf);
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("Kafka server \"%s\": librdkafka refused property \"%s\"",
								kc->servername, p[i]),
						 errhint("Check the server options and the user mapping (see mesh_kafka's README).")));
			}
	}
	return conf;
}

/*
 * A sink message's opaque: the sink call's number (12 bits) and the
 * item's index, never NULL; a report of another call does not match.
 */
void *
kafka_report_tag(KafkaConn *kc, int index)
{
	return (void *) (((uintptr_t) ((kc->sink_call & 0xfff) | 0x1000) << 20) | (uintptr_t) index);
}

/* Start a sink call of n messages: their reports go to reports[] (set to not reported). */
void
kafka_reports_begin(KafkaConn *kc, rd_kafka_resp_err_t *reports, int n)
{
	Assert(n <= KAFKA_MAX_REPORTS);
	for (int i = 0; i < n; i++)
		reports[i] = KAFKA_NOT_REPORTED;
	kc->sink_call++;
	kc->reports = reports;
	kc->nreports = n;
}

/* End the sink call: later reports are ignored (its array may be freed). */
void
kafka_reports_end(KafkaConn *kc)
{
	kc->reports = NULL;
	kc->nreports = 0;
}

/*
 * Delivery report (runs in rd_kafka_poll/flush on our thread): counts, and
 * a sink message's error code in the sink call's array.
 */
static void
delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	KafkaConn  *kc = opaque;
	uintptr_t	tag = (uintptr_t) msg->_private;

	if (tag != 0 && kc->reports != NULL &&
		tag >> 20 == (uintptr_t) ((kc->sink_call & 0xfff) | 0x1000) &&
		(int) (tag & (KAFKA_MAX_REPORTS - 1)) < kc->nreports)
		kc->reports[tag & (KAFKA_MAX_REPORTS - 1)] = msg->err;

	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		kc->acked++;
		kc->last_partition = msg->partition;
		kc->last_offset = msg->offset;
	}
	else
	{
		if (kc->failed++ == 0)
		{
			kc->first_err = msg->err;
			strlcpy(kc->first_error, rd_kafka_err2str(msg->err), sizeof(kc->first_error));
		}
	}
}

/* The connection's idempotent producer, created on first use. */
rd_kafka_t *
kafka_producer(KafkaConn *kc)
{
	char		timeout[32];
	const char *extra[] = {"enable.idempotence", "true", "linger.ms", "5",
		"partitioner", "murmur2_random",
		"message.timeout.ms", timeout, NULL};
	rd_kafka_conf_t *conf;
	char		errstr[512];

	if (kc->producer)
		return kc->producer;
	snprintf(timeout, sizeof(timeout), "%d", Max(kc->timeout_ms, 10));
	conf = kafka_conf(kc, extra);
	rd_kafka_conf_set_dr_msg_cb(conf, delivery_report);
	rd_kafka_conf_set_opaque(conf, kc);
	kc->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (kc->producer == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not create a Kafka producer for server \"%s\"", kc->servername),
				 errdetail("%s", errstr)));
	}
	return kc->producer;
}

static void
handle_free_callback(void *arg)
{
	kafka_handle_close((KafkaHandle *) arg);
}

/* Destroy a consumer at once (no group leave: nothing was subscribed). */
void
kafka_handle_close(KafkaHandle *h)
{
	if (h->rk)
		rd_kafka_destroy_flags(h->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	h->rk = NULL;
}

/* A consumer (extra properties added) freed with CurrentMemoryContext. */
KafkaHandle *
kafka_consumer(KafkaConn *kc, const char *const *extra)
{
	KafkaHandle *h = palloc0(sizeof(KafkaHandle));
	rd_kafka_conf_t *conf = kafka_conf(kc, extra);
	char		errstr[512];

	h->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (h->rk == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not create a Kafka consumer for server \"%s\"", kc->servername),
				 errdetail("%s", errstr)));
	}
	h->cb.func = handle_free_callback;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &h->cb);
	return h;
}

/*
 * A handle for metadata and admin requests: a consumer (never subscribed),
 * because a producer's metadata request creates a missing topic when the
 * broker allows auto-creation.
 */
KafkaHandle *
kafka_admin_handle(KafkaConn *kc)
{
	const char *extra[] = {"group.id", "mesh-admin", "enable.auto.commit", "false",
	"allow.auto.create.topics", "false", NULL};

	return kafka_consumer(kc, extra);
}

/* Errors worth a retry: the broker is away, busy or electing a leader. */
bool
kafka_err_transient(rd_kafka_resp_err_t err)
{
	switch (err)
	{
		case RD_KAFKA_RESP_ERR__TRANSPORT:
		case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
		case RD_KAFKA_RESP_ERR__TIMED_OUT:
		case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
		case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		case RD_KAFKA_RESP_ERR__RESOLVE:
		case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
		case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
		case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
		case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
		case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
		case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
		case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
		case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
		case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
		case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
		case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
		case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
		case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
		case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
		case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
		case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
			return true;
		default:
			return false;
	}
}

/*
 * Ereport a librdkafka error during what: transient ones (broker away,
 * timeouts) as "unable to establish connection", the rest as FDW errors.
 */
void
kafka_raise(KafkaConn *kc, rd_kafka_resp_err_t err, const char *what)
{
	bool		transient = kafka_err_transient(err);

	ereport(ERROR,
			(errcode(transient ? ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION : ERRCODE_FDW_ERROR),
			 errmsg("%s failed on Kafka server \"%s\"", what, kc->servername),
			 errdetail("%s: %s", rd_kafka_err2name(err), rd_kafka_err2str(err)),
			 transient ? errhint("The broker may be down or unreachable within timeout_ms (%d ms).",
								 kc->timeout_ms) : 0));
}

/*
 * The number of partitions of topic (a metadata request bounded by
 * timeout_ms); -1 when the topic does not exist and missing_ok.
 */
int
kafka_partitions(KafkaConn *kc, rd_kafka_t *rk, const char *topic, bool missing_ok)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	int			n = -1;

	if (rkt == NULL)
		kafka_raise(kc, rd_kafka_last_error(), "opening the topic");
	err = rd_kafka_metadata(rk, 0, rkt, &md, kc->timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_raise(kc, err, "a metadata request");
	if (md->topic_cnt == 1)
	{
		err = md->topics[0].err;
		n = md->topics[0].partition_cnt;
	}
	rd_kafka_metadata_destroy(md);
	if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || n <= 0)
	{
		if (missing_ok)
			return -1;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("Kafka topic \"%s\" does not exist on server \"%s\"", topic, kc->servername),
				 errhint("Create it (mesh.execute(server, 'create <topic> [partitions]')) or replicate a table to it.")));
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_raise(kc, err, "a metadata request");
	return n;
}

static void
kafka_disconnect(void *conn)
{
	KafkaConn  *kc = conn;

	if (kc->producer)
	{
		/* drop what was not delivered: the route retries it */
		rd_kafka_purge(kc->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(kc->producer, 0);
		rd_kafka_destroy(kc->producer);
		kc->producer = NULL;
	}
	kafka_conn_free(kc);
}

/* No I/O: librdkafka connects on first use (producer, scan, metadata). */
static void *
kafka_connect(MeshServerConfig *config)
{
	return kafka_conn_from_config(config);
}

static MeshErrorClass
kafka_classify_error(int code, const char *message)
{
	if (code == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION)
		return MESH_ERROR_TRANSIENT;
	return MESH_ERROR_PERMANENT;
}

static const MeshPingOps kafka_ping = {
	.ping_start = kafka_ping_start,
	.ping_continue = kafka_ping_continue,
	.ping_finish = kafka_ping_finish,
};

static const MeshScanOps kafka_scan = {
	.plan_scan = kafka_plan_scan,
	.begin_scan = kafka_begin_scan,
	.next_row = kafka_next_row,
	.end_scan = kafka_end_scan,
	.explain_scan = kafka_explain_scan,
	.plan_upper = kafka_plan_upper,
};

const MeshConnector mesh_kafka_connector = {
	.kind = "kafka",
	.options = kafka_options,
	.connect = kafka_connect,
	.disconnect = kafka_disconnect,
	.execute = kafka_execute,
	.ping = &kafka_ping,
	.scan = &kafka_scan,
	.sink = &kafka_sink_ops,
	.classify_error = kafka_classify_error,
	.stream = &kafka_stream_ops,
};
