/*
 * kafka_execute.c: mesh.execute on a Kafka server.  Requests (one word
 * and its arguments, separated by spaces):
 *
 *   topics                        one row per topic: {"topic", "partitions"}
 *   describe <topic>              one row per partition: {"topic", "partition",
 *                                 "leader", "low", "high"} (watermarks)
 *   create <topic> [partitions]   create a topic (replication factor 1 by
 *                                 default; params {"replication_factor": n})
 *   delete <topic>                delete a topic (no error when it does not
 *                                 exist: {"deleted", "existed": false})
 *   produce <topic>               send one message: params {"key": text,
 *                                 "value": text or any JSON (sent as its
 *                                 text), "headers": {name: text},
 *                                 "partition": n}; returns {"partition", "offset"}
 *
 * Every request waits at most timeout_ms.
 */
#include "postgres.h"

#include "json_value.h"		/* before utils/builtins.h */
#include "utils/jsonb.h"

#include "miscadmin.h"

#include "mesh_util.h"
#include "kafka_internal.h"

/* params' member name as text (strings raw, other JSON as its text); NULL if absent/null. */
static char *
param_text(Jsonb *params, const char *name)
{
	JsonbValue	vbuf;
	JsonbValue *v;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		return NULL;
	v = getKeyJsonValueFromContainer(&params->root, name, strlen(name), &vbuf);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
}

static Jsonb *
jsonb_from(StringInfo buf)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf->data)));
}

static List *
list_topics(KafkaConn *kc, rd_kafka_t *rk, const char *only)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, kc->timeout_ms);
	List	   *rows = NIL;
	StringInfoData buf;

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_raise(kc, err, "a metadata request");
	initStringInfo(&buf);
	for (int t = 0; t < md->topic_cnt; t++)
	{
		const struct rd_kafka_metadata_topic *mt = &md->topics[t];

		if (only == NULL)
		{
			if (strncmp(mt->topic, "__", 2) == 0)
				continue;
			resetStringInfo(&buf);
			appendStringInfoString(&buf, "{\"topic\":");
			mesh_json_append_string(&buf, mt->topic, strlen(mt->topic));
			appendStringInfo(&buf, ",\"partitions\":%d}", mt->partition_cnt);
			rows = lappend(rows, jsonb_from(&buf));
			continue;
		}
		if (strcmp(mt->topic, only) != 0)
			continue;
		for (int p = 0; p < mt->partition_cnt; p++)
		{
			int64		low = -1,
						high = -1;

			err = rd_kafka_query_watermark_offsets(rk, only, mt->partitions[p].id,
												   &low, &high, kc->timeout_ms);
			if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			resetStringInfo(&buf);
			appendStringInfoString(&buf, "{\"topic\":");
			mesh_json_append_string(&buf, mt->topic, strlen(mt->topic));
			appendStringInfo(&buf, ",\"partition\":%d,\"leader\":%d,\"low\":" INT64_FORMAT
							 ",\"high\":" INT64_FORMAT "}",
							 mt->partitions[p].id, mt->partitions[p].leader, low, high);
			rows = lappend(rows, jsonb_from(&buf));
		}
	}
	rd_kafka_metadata_destroy(md);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_raise(kc, err, "reading watermarks");
	if (only != NULL && rows == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("Kafka topic \"%s\" does not exist on server \"%s\"", only, kc->servername)));
	return rows;
}

/*
 * Run one admin request (create or delete one topic) and check its result;
 * false when the topic to delete did not exist.
 */
static bool
admin_topic(KafkaConn *kc, rd_kafka_t *rk, bool create, const char *topic, int partitions,
			int replication)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);
	rd_kafka_event_t *ev;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	char		errstr[512] = "";

	rd_kafka_AdminOptions_set_request_timeout(opts, kc->timeout_ms, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_set_operation_timeout(opts, kc->timeout_ms, errstr, sizeof(errstr));
	if (create)
	{
		rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication,
														errstr, sizeof(errstr));

		if (nt == NULL)
		{
			rd_kafka_AdminOptions_destroy(opts);
			rd_kafka_queue_destroy(q);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid topic for Kafka server \"%s\"", kc->servername),
					 errdetail("%s", errstr)));
		}
		rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
		rd_kafka_NewTopic_destroy(nt);
	}
	else
	{
		rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);

		rd_kafka_DeleteTopics(rk, &dt, 1, opts, q);
		rd_kafka_DeleteTopic_destroy(dt);
	}
	ev = rd_kafka_queue_poll(q, kc->timeout_ms + 1000);
	if (ev == NULL)
		err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	else if (rd_kafka_event_error(ev))
		err = rd_kafka_event_error(ev);
	else
	{
		const rd_kafka_topic_result_t **res;
		size_t		n = 0;

		if (create)
			res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		else
			res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
		if (n == 1)
			err = rd_kafka_topic_result_error(res[0]);
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	if (!create && err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
		return false;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_raise(kc, err, psprintf("%s topic \"%s\"", create ? "creating" : "deleting", topic));
	return true;
}

/*
 * Wait (within timeout_ms) until every partition of a new topic has a
 * leader that answers, or a deleted topic is gone from the metadata, so
 * the next request sees the change.
 */
static void
wait_topic(KafkaConn *kc, rd_kafka_t *rk, const char *topic, bool exists)
{
	struct timespec start;

	mesh_now(&start);
	while (mesh_elapsed_ms(&start) < kc->timeout_ms)
	{
		int			n = kafka_partitions(kc, rk, topic, true);
		bool		ready = exists ? n > 0 : n < 0;

		for (int p = 0; ready && exists && p < n; p++)
		{
			int64		low,
						high;

			ready = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high,
													 kc->timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
		}
		if (ready)
			return;
		pg_usleep(20000);
		CHECK_FOR_INTERRUPTS();
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("Kafka server \"%s\": topic \"%s\" was not %s within %d ms",
					kc->servername, topic, exists ? "ready" : "gone", kc->timeout_ms)));
}

/* Send one message and wait for its acknowledgement. */
static List *
produce(KafkaConn *kc, rd_kafka_t *rk, const char *topic, Jsonb *params)
{
	char	   *key = param_text(params, "key");
	char	   *value = param_text(params, "value");
	char	   *part = param_text(params, "partition");
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
	JsonbValue	vbuf;
	JsonbValue *h = NULL;
	rd_kafka_resp_err_t err;
	StringInfoData buf;
	int32		partition;

	if (params && JB_ROOT_IS_OBJECT(params))
		h = getKeyJsonValueFromContainer(&params->root, "headers", 7, &vbuf);
	if (h && h->type == jbvBinary)
	{
		JsonbIterator *it = JsonbIteratorInit(h->val.binary.data);
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *name = NULL;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_KEY)
				name = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE && name)
				rd_kafka_header_add(hdrs, name, -1,
									v.type == jbvString ? v.val.string.val : NULL,
									v.type == jbvString ? v.val.string.len : 0);
	}
	partition = part ? pg_strtoint32(part) : RD_KAFKA_PARTITION_UA;
	rd_kafka_poll(rk, 0);
	kc->acked = kc->failed = 0;
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
							RD_KAFKA_V_PARTITION(partition),
							RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
							RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
							RD_KAFKA_V_VALUE(value, value ? strlen(value) : 0),
							RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_headers_destroy(hdrs);
		kafka_raise(kc, err, "producing a message");
	}
	rd_kafka_flush(rk, kc->timeout_ms);
	if (kc->failed > 0)
		kafka_raise(kc, kc->first_err, "producing a message");
	if (kc->acked != 1)
		kafka_raise(kc, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "producing a message");
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"partition\":%d,\"offset\":" INT64_FORMAT "}",
					 kc->last_partition, kc->last_offset);
	return list_make1(jsonb_from(&buf));
}

List *
kafka_execute(void *conn, const char *request, Jsonb *params)
{
	KafkaConn  *kc = conn;
	rd_kafka_t *rk;
	char	   *copy = pstrdup(request);
	char	   *words[4] = {NULL, NULL, NULL, NULL};
	int			n = 0;
	char	   *save = NULL;
	StringInfoData buf;

	for (char *w = strtok_r(copy, " \t\r\n", &save); w && n < 4; w = strtok_r(NULL, " \t\r\n", &save))
		words[n++] = w;
	initStringInfo(&buf);
	if (n == 2 && strcmp(words[0], "produce") == 0)
		return produce(kc, kafka_producer(kc), words[1], params);
	rk = kafka_admin_handle(kc)->rk;	/* freed with the statement's memory */
	if (n == 1 && strcmp(words[0], "topics") == 0)
		return list_topics(kc, rk, NULL);
	if (n == 2 && strcmp(words[0], "describe") == 0)
		return list_topics(kc, rk, words[1]);
	if ((n == 2 || n == 3) && strcmp(words[0], "create") == 0)
	{
		char	   *rf = param_text(params, "replication_factor");

		admin_topic(kc, rk, true, words[1], n == 3 ? pg_strtoint32(words[2]) : 1,
					rf ? pg_strtoint32(rf) : 1);
		wait_topic(kc, rk, words[1], true);
		appendStringInfoString(&buf, "{\"created\":");
		mesh_json_append_string(&buf, words[1], strlen(words[1]));
		appendStringInfoChar(&buf, '}');
		return list_make1(jsonb_from(&buf));
	}
	if (n == 2 && strcmp(words[0], "delete") == 0)
	{
		bool		existed = admin_topic(kc, rk, false, words[1], 0, 0);

		if (existed)
			wait_topic(kc, rk, words[1], false);
		appendStringInfoString(&buf, "{\"deleted\":");
		mesh_json_append_string(&buf, words[1], strlen(words[1]));
		appendStringInfo(&buf, ",\"existed\":%s}", existed ? "true" : "false");
		return list_make1(jsonb_from(&buf));
	}
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("unknown Kafka request \"%s\"", request),
			 errhint("Use topics, describe <topic>, create <topic> [partitions], delete <topic> or produce <topic>.")));
	return NIL;
}
