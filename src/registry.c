/*
 * registry.c: the list of backend kinds.  Adding a backend is one line in
 * mesh_connector_list below (plus its folder under fdw/ and its SQL block).
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "lib/stringinfo.h"

#include "connector.h"

extern const MeshConnector mesh_redis_connector;
extern const MeshConnector mesh_postgres_connector;
extern const MeshConnector mesh_clickhouse_connector;
extern const MeshConnector mesh_influxdb_connector;
extern const MeshConnector mesh_prometheus_connector;
extern const MeshConnector mesh_victoriametrics_connector;
extern const MeshConnector mesh_mongodb_connector;
extern const MeshConnector mesh_elasticsearch_connector;
extern const MeshConnector mesh_duckdb_connector;
extern const MeshConnector mesh_neo4j_connector;
extern const MeshConnector mesh_qdrant_connector;
extern const MeshConnector mesh_chroma_connector;
extern const MeshConnector mesh_kafka_connector;

static const MeshConnector *const mesh_connector_list[] = {
	&mesh_redis_connector,
	&mesh_postgres_connector,
	&mesh_clickhouse_connector,
	&mesh_influxdb_connector,
	&mesh_prometheus_connector,
	&mesh_victoriametrics_connector,
	&mesh_mongodb_connector,
	&mesh_elasticsearch_connector,
	&mesh_duckdb_connector,
	&mesh_neo4j_connector,
	&mesh_qdrant_connector,
	&mesh_chroma_connector,
	&mesh_kafka_connector,
};

/* All registered connectors; *n receives their number. */
const MeshConnector *const *
mesh_connectors(int *n)
{
	*n = lengthof(mesh_connector_list);
	return mesh_connector_list;
}

/* The connector of a kind ("redis"), or NULL. */
const MeshConnector *
mesh_connector_by_kind(const char *kind)
{
	for (int i = 0; i < lengthof(mesh_connector_list); i++)
		if (strcmp(mesh_connector_list[i]->kind, kind) == 0)
			return mesh_connector_list[i];
	return NULL;
}

/* The connector serving a foreign data wrapper name, or NULL. */
const MeshConnector *
mesh_connector_by_fdw(const char *fdwname)
{
	for (int i = 0; i < lengthof(mesh_connector_list); i++)
	{
		const MeshConnector *c = mesh_connector_list[i];

		if (c->fdw_name != NULL)
		{
			if (strcmp(c->fdw_name, fdwname) == 0)
				return c;
		}
		else if (strncmp(fdwname, "mesh_", 5) == 0 &&
				 strcmp(fdwname + 5, c->kind) == 0)
			return c;
	}
	return NULL;
}

/* The connector of a foreign server; errors when it is not a mesh backend. */
const MeshConnector *
mesh_connector_for_server(Oid serverid)
{
	ForeignServer *server = GetForeignServer(serverid);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	const MeshConnector *c = mesh_connector_by_fdw(fdw->fdwname);

	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("server \"%s\" is not a mesh backend", server->servername),
				 errdetail("Its foreign data wrapper is \"%s\".", fdw->fdwname),
				 errhint("Use a server of a mesh_<kind> foreign data wrapper or postgres_fdw.")));
	return c;
}

/*
 * The foreign data wrappers of the connectors that have the capability
 * table at byte offset 'field' of MeshConnector (offsetof(MeshConnector,
 * stream)), as "mesh_a, mesh_b or mesh_c" (palloc'd), for hints.
 */
char *
mesh_fdw_names_with(size_t field)
{
	StringInfoData buf;
	int			total = 0,
				done = 0;

	for (int i = 0; i < lengthof(mesh_connector_list); i++)
		if (*(const void *const *) ((const char *) mesh_connector_list[i] + field) != NULL)
			total++;
	initStringInfo(&buf);
	for (int i = 0; i < lengthof(mesh_connector_list); i++)
	{
		const MeshConnector *c = mesh_connector_list[i];

		if (*(const void *const *) ((const char *) c + field) == NULL)
			continue;
		if (done > 0)
			appendStringInfoString(&buf, done == total - 1 ? " or " : ", ");
		if (c->fdw_name)
			appendStringInfoString(&buf, c->fdw_name);
		else
			appendStringInfo(&buf, "mesh_%s", c->kind);
		done++;
	}
	return buf.data;
}
