/*
 * kafka_internal.h: shared declarations of the Kafka connector's files.
 *
 * Memory contract: librdkafka handles are malloc'd.  A cached KafkaConn
 * owns its producer (freed by kafka_disconnect); a scan's or a
 * subscription's consumer is owned by a KafkaHandle registered as a
 * memory-context reset callback, so an ereport never leaks it.  No
 * librdkafka callback pallocs or ereports: delivery reports only count and
 * note each sink message's error code in the sink call's array.
 */
#ifndef MESH_KAFKA_INTERNAL_H
#define MESH_KAFKA_INTERNAL_H

#include <librdkafka/rdkafka.h>

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "connector.h"

#include "change_envelope.h"

/* One cached connection: the server's librdkafka properties and a producer. */
typedef struct KafkaConn
{
	char	   *servername;
	int			timeout_ms;
	int			nprops;
	char	  **props;			/* name, value pairs (TopMemoryContext) */
	rd_kafka_t *producer;		/* created on first use */
	/* delivery reports of the batch under way (set by the callback) */
	int			acked;
	int			failed;
	rd_kafka_resp_err_t first_err;
	int32		last_partition; /* where the last acknowledged message went */
	int64		last_offset;
	char		first_error[256];
	/* the sink call under way: each tagged message's report (kafka_sink.c) */
	uint32		sink_call;		/* its number, in the tags of its messages */
	int			nreports;
	rd_kafka_resp_err_t *reports;	/* NULL: no call under way */
} KafkaConn;

/* A message of the sink call not reported yet (never a real error code). */
#define KAFKA_NOT_REPORTED RD_KAFKA_RESP_ERR__BEGIN
/* Items of one sink call at most (a tag holds the index in 20 bits). */
#define KAFKA_MAX_REPORTS (1 << 20)

/* A malloc'd consumer freed when the memory context it lives in is reset. */
typedef struct KafkaHandle
{
	MemoryContextCallback cb;
	rd_kafka_t *rk;
} KafkaHandle;

/* kafka.c */
extern KafkaConn *kafka_conn_from_config(MeshServerConfig *config);
extern rd_kafka_conf_t *kafka_conf(KafkaConn *kc, const char *const *extra);
extern rd_kafka_t *kafka_producer(KafkaConn *kc);
extern KafkaHandle *kafka_consumer(KafkaConn *kc, const char *const *extra);
extern void kafka_handle_close(KafkaHandle *h);
extern KafkaHandle *kafka_admin_handle(KafkaConn *kc);
extern void kafka_raise(KafkaConn *kc, rd_kafka_resp_err_t err, const char *what)
			pg_attribute_noreturn();
extern bool kafka_err_transient(rd_kafka_resp_err_t err);
extern void kafka_reports_begin(KafkaConn *kc, rd_kafka_resp_err_t *reports, int n);
extern void *kafka_report_tag(KafkaConn *kc, int index);
extern void kafka_reports_end(KafkaConn *kc);
extern int	kafka_partitions(KafkaConn *kc, rd_kafka_t *rk, const char *topic,
							 bool missing_ok);
extern void kafka_conn_free(KafkaConn *kc);

/* kafka_headers.c */
extern void kafka_headers_json(StringInfo buf, rd_kafka_message_t *msg);

/* kafka_sink.c */
extern const MeshSinkOps kafka_sink_ops;
extern const char *kafka_route_topic(MeshRoute *route);

/* kafka_stream.c: the stream capability (mesh.subscribe) */
extern const MeshStreamOps kafka_stream_ops;

/* kafka_scan.c */
extern void kafka_plan_scan(MeshScanPlan *plan);
extern bool kafka_plan_upper(MeshScanPlan *plan, MeshUpper *upper);
extern void kafka_begin_scan(MeshScan *scan);
extern bool kafka_next_row(MeshScan *scan, Datum *values, bool *nulls);
extern void kafka_end_scan(MeshScan *scan);
extern char *kafka_explain_scan(MeshScan *scan);

/* kafka_execute.c */
extern List *kafka_execute(void *conn, const char *request, Jsonb *params);

/* kafka_ping.c */
extern void kafka_ping_start(MeshPing *ping);
extern void kafka_ping_continue(MeshPing *ping);
extern void kafka_ping_finish(MeshPing *ping);

#endif							/* MESH_KAFKA_INTERNAL_H */
