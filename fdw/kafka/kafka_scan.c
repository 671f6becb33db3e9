/*
 * kafka_scan.c: a foreign table over a topic.
 *
 * Columns are recognised by name: partition, offset, key, value, ts,
 * headers (any subset, any order; value/key may be text, jsonb or bytea).
 * Pushed down (exactly): partition = / IN, offset = < <= > >=, and a plain
 * LIMIT/OFFSET.  A scan reads the selected partitions one after the other
 * in offset order: it asks each partition's watermarks, assigns it at the
 * first wanted offset (rd_kafka_assign) and consumes until the last wanted
 * offset or the high watermark seen at the start, so it always ends; every
 * wait is bounded by timeout_ms.  No consumer group is joined and nothing
 * is committed.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "mesh_util.h"
#include "kafka_internal.h"

typedef enum KafkaCol
{
	KCOL_PARTITION,
	KCOL_OFFSET,
	KCOL_KEY,
	KCOL_VALUE,
	KCOL_TS,
	KCOL_HEADERS,
	KCOL_COUNT
} KafkaCol;

static const char *const col_names[KCOL_COUNT] = {
	"partition", "offset", "key", "value", "ts", "headers"
};

typedef struct KafkaScanState
{
	KafkaHandle *handle;
	const char *topic;
	int			nparts;
	int32	   *parts;
	int64	   *start;			/* first offset to read */
	int64	   *end;			/* one past the last offset to read */
	int			cur;			/* index of the partition being read; -1 before */
	bool		part_done;		/* its last wanted offset was returned */
	int64		skip;			/* pushed OFFSET rows still to skip */
	int64		left;			/* pushed LIMIT rows still to return; -1 none */
	struct timespec waited;		/* since the last message */
} KafkaScanState;

/* Which Kafka field a column is, by its name; errors on any other name. */
static KafkaCol
column_kind(MeshTable *table, AttrNumber attnum)
{
	MeshColumn *col = &table->columns[attnum - 1];

	for (int k = 0; k < KCOL_COUNT; k++)
		if (strcmp(col->name, col_names[k]) == 0)
			return k;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
			 errmsg("column \"%s\" of Kafka foreign table \"%s\" is not a message field",
					col->name, table->relname),
			 errhint("Name the columns partition, \"offset\", key, value, ts and headers (any subset).")));
	return KCOL_COUNT;
}

static const char *
table_topic(MeshTable *table)
{
	const char *t = mesh_defelem_get(table->options, "topic");

	return t ? t : table->relname;
}

/* No network: mark partition and offset comparisons as pushed, exact. */
void
kafka_plan_scan(MeshScanPlan *plan)
{
	plan->rows = 1000;
	for (int c = 1; c <= plan->table->ncolumns; c++)
		if (plan->table->columns[c - 1].name)
			(void) column_kind(plan->table, c);
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];
		KafkaCol	k = column_kind(plan->table, q->attnum);

		if ((k == KCOL_PARTITION && (q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_IN)) ||
			(k == KCOL_OFFSET && (q->op == MESH_QUAL_EQ || q->op == MESH_QUAL_LT ||
								  q->op == MESH_QUAL_LE || q->op == MESH_QUAL_GT ||
								  q->op == MESH_QUAL_GE)))
		{
			q->pushed = true;
			q->exact = true;
			if (k == KCOL_OFFSET && q->op == MESH_QUAL_EQ)
				plan->rows = 1;
		}
	}
}

/* A plain LIMIT/OFFSET (no grouping, no ordering) is computed here. */
bool
kafka_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
{
	if (upper->noutputs > 0 || upper->nsort > 0)
		return false;
	if (upper->limit >= 0)
		plan->rows = Min(plan->rows, upper->limit);
	return true;
}

static int64
qual_int(MeshQual *q)
{
	return pg_strtoint64(mesh_datum_text(q->value, q->valtype));
}

/* Partitions wanted by the quals among 0..total-1 (in ascending order). */
static int
wanted_partitions(MeshScan *scan, int total, int32 *out)
{
	bool	   *want = palloc(sizeof(bool) * Max(total, 1));
	int			n = 0;

	memset(want, true, sizeof(bool) * Max(total, 1));
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];
		bool	   *in;

		if (column_kind(scan->table, q->attnum) != KCOL_PARTITION)
			continue;
		in = palloc0(sizeof(bool) * Max(total, 1));
		if (q->known && !q->isnull && q->op == MESH_QUAL_EQ)
		{
			int64		p = qual_int(q);

			if (p >= 0 && p < total)
				in[p] = true;
		}
		else if (q->op == MESH_QUAL_IN)
		{
			char	  **items;
			int			k = mesh_qual_array_text(q, &items);

			for (int j = 0; j < k; j++)
			{
				int64		p = pg_strtoint64(items[j]);

				if (p >= 0 && p < total)
					in[p] = true;
			}
		}
		for (int p = 0; p < total; p++)
			want[p] = want[p] && in[p];
	}
	for (int p = 0; p < total; p++)
		if (want[p])
			out[n++] = p;
	return n;
}

/* The offset range [lo, hi) the quals allow. */
static void
offset_range(MeshScan *scan, int64 *lo, int64 *hi)
{
	*lo = 0;
	*hi = PG_INT64_MAX;
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];
		int64		v;

		if (column_kind(scan->table, q->attnum) != KCOL_OFFSET)
			continue;
		if (!q->known || q->isnull)
		{
			*hi = 0;			/* compares with NULL: no row */
			continue;
		}
		v = qual_int(q);
		switch (q->op)
		{
			case MESH_QUAL_EQ:
				*lo = Max(*lo, v);
				*hi = Min(*hi, v < PG_INT64_MAX ? v + 1 : v);
				break;
			case MESH_QUAL_GT:
				*lo = Max(*lo, v < PG_INT64_MAX ? v + 1 : v);
				break;
			case MESH_QUAL_GE:
				*lo = Max(*lo, v);
				break;
			case MESH_QUAL_LT:
				*hi = Min(*hi, v);
				break;
			case MESH_QUAL_LE:
				*hi = Min(*hi, v < PG_INT64_MAX ? v + 1 : v);
				break;
			default:
				break;
		}
	}
}

/* Ask the partitions' watermarks and keep those with offsets to read. */
void
kafka_begin_scan(MeshScan *scan)
{
	KafkaConn  *kc = scan->conn;
	KafkaScanState *st = palloc0(sizeof(KafkaScanState));
	const char *extra[] = {"enable.auto.commit", "false", "enable.partition.eof", "true",
		"group.id", "mesh-scan", "fetch.wait.max.ms", "10", NULL};
	int			total;
	int32	   *parts;
	int			n;
	int64		lo,
				hi;

	scan->state = st;
	st->topic = table_topic(scan->table);
	st->cur = -1;
	st->left = -1;
	if (scan->upper)
	{
		st->left = scan->upper->limit;
		st->skip = scan->upper->offset;
	}
	st->handle = kafka_consumer(kc, extra);
	total = kafka_partitions(kc, st->handle->rk, st->topic, false);
	scan->requests++;
	parts = palloc(sizeof(int32) * total);
	n = wanted_partitions(scan, total, parts);
	offset_range(scan, &lo, &hi);
	st->parts = palloc(sizeof(int32) * Max(n, 1));
	st->start = palloc(sizeof(int64) * Max(n, 1));
	st->end = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n && lo < hi && st->left != 0; i++)
	{
		int64		low,
					high;
		rd_kafka_resp_err_t err;

		err = rd_kafka_query_watermark_offsets(st->handle->rk, st->topic, parts[i],
											   &low, &high, kc->timeout_ms);
		scan->requests++;
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			kafka_raise(kc, err, psprintf("reading the offsets of partition %d of topic \"%s\"",
										  parts[i], st->topic));
		if (Max(lo, low) < Min(hi, high))
		{
			st->parts[st->nparts] = parts[i];
			st->start[st->nparts] = Max(lo, low);
			st->end[st->nparts++] = Min(hi, high);
		}
	}
}

/* Assign the next partition to read; false when none is left. */
static bool
next_partition(MeshScan *scan, KafkaScanState *st)
{
	KafkaConn  *kc = scan->conn;
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;

	st->part_done = false;
	if (++st->cur >= st->nparts)
		return false;
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, st->topic, st->parts[st->cur])->offset =
		st->start[st->cur];
	err = rd_kafka_assign(st->handle->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_raise(kc, err, "assigning a partition");
	mesh_now(&st->waited);
	return true;
}

/* Store column kind k's text (len bytes) as values[attnum - 1]. */
static void
store(MeshScan *scan, KafkaCol k, const char *data, size_t len, Datum *values, bool *nulls)
{
	for (int c = 0; c < scan->table->ncolumns; c++)
	{
		MeshColumn *col = &scan->table->columns[c];

		if (col->name == NULL || !scan->wanted[c] || strcmp(col->name, col_names[k]) != 0)
			continue;
		if (data == NULL)
			return;
		mesh_table_prepare_io(scan->table);
		values[c] = mesh_value_from_text(col, data, len);
		nulls[c] = false;
	}
}

typedef struct KafkaRow
{
	int32		partition;
	int64		offset;
	char	   *key;
	size_t		key_len;
	char	   *value;
	size_t		value_len;
	int64		ts_ms;			/* -1: none */
	StringInfoData headers;
} KafkaRow;

/* Copy a message into palloc'd memory (so it can be freed before conversions). */
static void
copy_message(rd_kafka_message_t *msg, KafkaRow *row)
{
	rd_kafka_timestamp_type_t tstype;

	row->partition = msg->partition;
	row->offset = msg->offset;
	row->key = msg->key ? pnstrdup(msg->key, msg->key_len) : NULL;
	row->key_len = msg->key_len;
	row->value = msg->payload ? pnstrdup(msg->payload, msg->len) : NULL;
	row->value_len = msg->len;
	row->ts_ms = rd_kafka_message_timestamp(msg, &tstype);
	initStringInfo(&row->headers);
	kafka_headers_json(&row->headers, msg);
}

/* The next message in range, or false at the end (see the file comment). */
bool
kafka_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	KafkaScanState *st = scan->state;
	KafkaConn  *kc = scan->conn;
	KafkaRow	row;
	char		num[32];

	for (;;)
	{
		rd_kafka_message_t *msg;
		double		left;

		if (st->left == 0)
			return false;
		if ((st->cur < 0 || st->part_done) && !next_partition(scan, st))
			return false;
		left = kc->timeout_ms - mesh_elapsed_ms(&st->waited);
		msg = left > 0 ? rd_kafka_consumer_poll(st->handle->rk, (int) Min(left, 100)) : NULL;
		CHECK_FOR_INTERRUPTS();
		if (msg == NULL)
		{
			if (left > 0)
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("Kafka server \"%s\": no message from partition %d of topic \"%s\" within %d ms",
							kc->servername, st->parts[st->cur], st->topic, kc->timeout_ms),
					 errhint("The broker may be down or slow; timeout_ms sets the limit.")));
		}
		if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
			(msg->err == RD_KAFKA_RESP_ERR_NO_ERROR && msg->offset >= st->end[st->cur]))
		{
			rd_kafka_message_destroy(msg);
			if (!next_partition(scan, st))
				return false;
			continue;
		}
		if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			rd_kafka_resp_err_t err = msg->err;

			rd_kafka_message_destroy(msg);
			kafka_raise(kc, err, psprintf("reading topic \"%s\"", st->topic));
		}
		copy_message(msg, &row);
		rd_kafka_message_destroy(msg);
		mesh_now(&st->waited);
		if (row.offset < st->start[st->cur] || row.partition != st->parts[st->cur])
			continue;
		/* the last wanted offset: move on without waiting for more */
		st->part_done = row.offset >= st->end[st->cur] - 1;
		if (st->skip > 0)
		{
			st->skip--;
			continue;
		}
		break;
	}
	if (st->left > 0)
		st->left--;
	snprintf(num, sizeof(num), "%d", row.partition);
	store(scan, KCOL_PARTITION, num, strlen(num), values, nulls);
	snprintf(num, sizeof(num), INT64_FORMAT, row.offset);
	store(scan, KCOL_OFFSET, num, strlen(num), values, nulls);
	store(scan, KCOL_KEY, row.key, row.key_len, values, nulls);
	store(scan, KCOL_VALUE, row.value, row.value_len, values, nulls);
	if (row.ts_ms >= 0)
	{
		char	   *ts = DatumGetCString(DirectFunctionCall1(timestamptz_out,
															 TimestampTzGetDatum((row.ts_ms - MESH_UNIX_EPOCH_MS) * 1000)));

		store(scan, KCOL_TS, ts, strlen(ts), values, nulls);
	}
	store(scan, KCOL_HEADERS, row.headers.data, row.headers.len, values, nulls);
	return true;
}

void
kafka_end_scan(MeshScan *scan)
{
	KafkaScanState *st = scan->state;

	if (st && st->handle)
		kafka_handle_close(st->handle);
}

/* "topic t; partition = 0; offset >= 5; limit 3": what the scan reads. */
char *
kafka_explain_scan(MeshScan *scan)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "topic %s", quote_identifier(table_topic(scan->table)));
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];
		KafkaCol	k = column_kind(scan->table, q->attnum);

		appendStringInfo(&buf, "; %s %s %s", col_names[k],
						 q->op == MESH_QUAL_IN ? "IN" : mesh_qual_op_name(q->op),
						 mesh_qual_display(q));
	}
	if (scan->upper && scan->upper->limit >= 0)
		appendStringInfo(&buf, "; limit " INT64_FORMAT, scan->upper->limit);
	if (scan->upper && scan->upper->offset > 0)
		appendStringInfo(&buf, "; skip " INT64_FORMAT, scan->upper->offset);
	return buf.data;
}
