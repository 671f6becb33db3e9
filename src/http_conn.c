/*
 * http_conn.c: the connection of an HTTP kind, made from its connector's
 * http_setup alone (MeshConnector.connect/disconnect when those are NULL).
 *
 * Each connection lives in a memory context of its own under
 * TopMemoryContext: the connector's open hook allocates there what it
 * derives from the options, and disconnect frees it all at once.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "http.h"

/* A connection to config's server: a MeshHttpConn head and the kind's rest. */
void *
mesh_http_conn_open(MeshServerConfig *config)
{
	const MeshHttpSetup *setup = config->connector->http_setup;
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "mesh HTTP connection",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MeshHttpConn *hc;

	Assert(setup != NULL);
	hc = palloc0(Max(setup->conn_size, sizeof(MeshHttpConn)));
	hc->servername = pstrdup(config->servername);
	hc->setup = setup;
	PG_TRY();
	{
		hc->http = mesh_http_connect(config, setup);
		if (setup->open)
			setup->open(hc, config);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		if (hc->http)
			mesh_http_disconnect(hc->http);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return hc;
}

/* Closes a connection of mesh_http_conn_open and frees all it holds. */
void
mesh_http_conn_close(void *conn)
{
	MeshHttpConn *hc = conn;

	if (hc->http)
		mesh_http_disconnect(hc->http);
	MemoryContextDelete(GetMemoryChunkContext(hc));
}

/* The HTTP client of a connection made by mesh_http_conn_open (any kind). */
MeshHttp *
mesh_http_conn_client(void *conn)
{
	return ((MeshHttpConn *) conn)->http;
}
