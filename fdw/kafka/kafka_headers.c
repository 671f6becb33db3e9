/*
 * kafka_headers.c: a consumed message's headers as JSON (the stream and
 * the foreign table show them).
 */
#include "postgres.h"

#include "json_value.h"
#include "kafka_internal.h"

/* The headers of msg as a JSON object of strings (null: no value). */
void
kafka_headers_json(StringInfo buf, rd_kafka_message_t *msg)
{
	rd_kafka_headers_t *hdrs = NULL;
	const char *name;
	const void *value;
	size_t		size;

	appendStringInfoChar(buf, '{');
	if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
		for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
			 RD_KAFKA_RESP_ERR_NO_ERROR; i++)
		{
			if (i > 0)
				appendStringInfoChar(buf, ',');
			mesh_json_append_string(buf, name, strlen(name));
			appendStringInfoChar(buf, ':');
			if (value == NULL)
				appendStringInfoString(buf, "null");
			else
				mesh_json_append_string(buf, value, size);
		}
	appendStringInfoChar(buf, '}');
}
