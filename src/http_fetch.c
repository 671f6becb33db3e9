/*
 * http_fetch.c: verify reads of HTTP connectors, whole or in pieces.
 *
 * A connector that splits its verify read into fetch_request and
 * fetch_answer (connector.h) gets fetch_rows from here, and mesh.query_all
 * runs the same two halves for several targets at once.
 */
#include "postgres.h"

#include "http.h"

/* fetch_rows for connectors with fetch_request/fetch_answer: one streamed request. */
void
mesh_http_fetch_rows(void *conn, MeshRoute *route, int n, char ***keys, char ***rows)
{
	const MeshConnector *c = route->config->connector;
	MeshHttpRequest req = {0};
	MeshHttpStream answer;

	for (int i = 0; i < n; i++)
		rows[i] = NULL;
	if (n == 0)
		return;
	c->fetch_request(conn, route, n, keys, &req);
	req.accept_error = true;
	mesh_http_stream_open(mesh_http_conn_client(conn), &req, &answer);
	c->fetch_answer(conn, route, n, keys, &answer, rows);
	mesh_http_stream_close(&answer);
}

/*
 * A finished stream over resp, an answer that arrived whole (through
 * mesh_http_begin/mesh_http_progress), for code that reads answers as
 * streams.  resp's body now belongs to the stream.
 */
void
mesh_http_stream_of(MeshHttpStream *stream, MeshHttp *h, MeshHttpResponse *resp,
					const char *what)
{
	memset(stream, 0, sizeof(*stream));
	stream->http = h;
	stream->response = *resp;
	stream->finished = true;
	stream->what = what;
}

/* Read the rest of a streamed answer into its body. */
void
mesh_http_stream_read_all(MeshHttpStream *stream)
{
	while (mesh_http_stream_fill(stream))
		;
}
