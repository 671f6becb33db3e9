/*
 * execute.c: mesh.execute(server, request, params) passes a request in the
 * backend's own language through the cached connection; rows come back as
 * jsonb.
 */
#include "postgres.h"

#include "catalog/pg_foreign_server.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "connector.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_execute);

/* The config of a server by name, checking USAGE on it. */
MeshServerConfig *
mesh_server_config_by_name(const char *name)
{
	ForeignServer *server = GetForeignServerByName(name, false);
	AclResult	acl = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, server->servername);
	return mesh_server_config(server->serverid, GetUserId());
}

Datum
mesh_execute(PG_FUNCTION_ARGS)
{
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *request = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *params = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MeshServerConfig *config = mesh_server_config_by_name(server);
	const MeshConnector *c = config->connector;
	void	   *conn;
	List	   *rows;
	ListCell   *lc;

	if (c->execute == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mesh.execute is not supported for %s servers", c->kind),
				 errhint("Query server \"%s\" through its foreign tables.", server)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC | MAT_SRF_BLESS);
	conn = mesh_get_connection(config);
	mesh_connection_begin_use(config);
	rows = c->execute(conn, request, params);
	mesh_connection_end_use(config);
	foreach(lc, rows)
	{
		Datum		value = JsonbPGetDatum(lfirst(lc));
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
