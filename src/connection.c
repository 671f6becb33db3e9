/*
 * connection.c: one cached backend connection per (server, user mapping).
 *
 * Connections live in TopMemoryContext-owned hash entries.  ALTER SERVER or
 * ALTER USER MAPPING invalidates an entry (syscache callback); it is
 * reconnected at next use.  A cache reset (every entry invalidated at
 * once: sinval overflow, or WAL capture's decoder clearing the caches it
 * filled with historic catalog rows) only marks entries stale: at next use
 * a stale connection is kept when its server's and user mapping's options
 * are still those it was made with, so a reset does not reconnect.  A connection in use when a (sub)transaction
 * aborts may be mid-request, so it is marked broken: the next query gets a
 * fresh connection by itself.  A replaced connection is only retired, and
 * freed at the end of the top-level transaction, because a scan of an
 * outer query level may still hold a pointer to it.  The key includes the
 * role the connection acts for (not only its user mapping: a PUBLIC
 * mapping serves several roles whose rights differ, e.g. DuckDB's file
 * access), and a connection made before the role's rights changed is
 * replaced at next use.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/xact.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "connector.h"
#include "mesh_util.h"

typedef struct ConnKey
{
	Oid			serverid;
	Oid			umid;
	Oid			userid;			/* connections are never shared between roles:
								 * their rights differ (superuser, server files) */
} ConnKey;

typedef struct ConnEntry
{
	ConnKey		key;
	const MeshConnector *connector;
	void	   *conn;			/* NULL when not connected */
	int			in_use;			/* scans/modifies currently using it */
	bool		broken;			/* replace at next use */
	bool		stale;			/* caches were reset: compare the definition */
	char	   *definition;		/* config_definition() when conn was made */
	List	   *retired;		/* replaced connections, freed at xact end */
	uint32		server_hash;
	uint32		mapping_hash;
	bool		server_files;	/* config->server_files when conn was made */
	bool		superuser;		/* config->superuser when conn was made */
} ConnEntry;

static HTAB *conn_cache = NULL;

/*
 * The entry conn_entry returned last: a statement asks for the same one
 * several times (connect, begin use, end use).  Entries are never removed
 * from conn_cache, so the pointer stays valid.
 */
static ConnEntry *last_entry = NULL;

static void
drop_connection(ConnEntry *e)
{
	ListCell   *lc;

	if (e->conn != NULL)
	{
		void	   *conn = e->conn;

		e->conn = NULL;
		mesh_connector_disconnect(e->connector, conn);
	}
	foreach(lc, e->retired)
		mesh_connector_disconnect(e->connector, lfirst(lc));
	list_free(e->retired);
	e->retired = NIL;
	e->broken = false;
	e->stale = false;
	e->in_use = 0;
}

/* Set the current connection aside; a fresh one is made at next use. */
static void
retire_connection(ConnEntry *e)
{
	if (e->conn != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		e->retired = lappend(e->retired, e->conn);
		MemoryContextSwitchTo(old);
		e->conn = NULL;
	}
	e->broken = false;
	e->in_use = 0;
}

/* Syscache callback: the server or a user mapping changed. */
static void
conn_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *e;

	hash_seq_init(&scan, conn_cache);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue == 0)
			e->stale = true;
		else if ((cacheid == FOREIGNSERVEROID && e->server_hash == hashvalue) ||
				 (cacheid == USERMAPPINGOID && e->mapping_hash == hashvalue))
			e->broken = true;
	}
}

/*
 * Transaction end: drop connections that were broken or left mid-request
 * (not while wait work runs: the request in flight is not the transaction's).
 */
static void
conn_xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *e;

	if (mesh_wait_work_running())
		return;
	if (event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT &&
		event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PREPARE)
		return;
	hash_seq_init(&scan, conn_cache);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		if (e->in_use > 0 || e->broken || e->retired != NIL)
			drop_connection(e);
	}
}

/* Subtransaction abort: a connection in use may be mid-request. */
static void
conn_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *e;

	if (event != SUBXACT_EVENT_ABORT_SUB || mesh_wait_work_running())
		return;
	hash_seq_init(&scan, conn_cache);
	while ((e = hash_seq_search(&scan)) != NULL)
		if (e->in_use > 0)
		{
			e->broken = true;
			e->in_use = 0;
		}
}

static void
conn_cache_init(void)
{
	HASHCTL		ctl;

	if (conn_cache != NULL)
		return;
	ctl.keysize = sizeof(ConnKey);
	ctl.entrysize = sizeof(ConnEntry);
	conn_cache = hash_create("mesh connections", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, conn_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, conn_invalidate, (Datum) 0);
	RegisterXactCallback(conn_xact_callback, NULL);
	RegisterSubXactCallback(conn_subxact_callback, NULL);
}

/* The user mapping of userid (or PUBLIC) for a server, or NULL. */
static HeapTuple
find_user_mapping(Oid userid, Oid serverid)
{
	HeapTuple	tp;

	tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
						 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(serverid));
	return HeapTupleIsValid(tp) ? tp : NULL;
}

/*
 * The configuration for talking to serverid as userid: server options and
 * user mapping options (a missing mapping is allowed: no credentials).
 */
MeshServerConfig *
mesh_server_config(Oid serverid, Oid userid)
{
	ForeignServer *server = GetForeignServer(serverid);
	MeshServerConfig *config = palloc0(sizeof(MeshServerConfig));
	HeapTuple	tp;

	config->serverid = serverid;
	config->userid = userid;
	config->username = GetUserNameFromId(userid, true);
	if (config->username == NULL)
		config->username = psprintf("%u", userid);
	config->superuser = superuser_arg(userid);
	config->server_files = mesh_role_has_server_files(userid);
	config->servername = pstrdup(server->servername);
	config->connector = mesh_connector_for_server(serverid);
	config->server_options = server->options;
	tp = find_user_mapping(userid, serverid);
	if (tp != NULL)
	{
		Form_pg_user_mapping um = (Form_pg_user_mapping) GETSTRUCT(tp);
		bool		isnull;
		Datum		d = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp,
										Anum_pg_user_mapping_umoptions, &isnull);

		config->umid = um->oid;
		if (!isnull)
			config->mapping_options = untransformRelOptions(d);
		ReleaseSysCache(tp);
	}
	config->timeout_ms = mesh_config_get_int(config, "timeout_ms", 5000);
	/* computed here, inside a transaction: connecting may happen outside one */
	config->server_hash = GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(serverid));
	config->mapping_hash = GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(config->umid));
	return config;
}

/* Append options as length-prefixed name=value pairs (no separator to forge). */
static void
append_options(StringInfo buf, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst(lc);
		char	   *value = defGetString(d);

		appendStringInfo(buf, "%zu:%s=%zu:%s;", strlen(d->defname), d->defname,
						 strlen(value), value);
	}
}

/*
 * What a connection was made from: the user mapping, the server's and the
 * mapping's options and the role's rights.  Equal text means an equal
 * connection, so a stale entry with the same definition is kept.
 */
static char *
config_definition(MeshServerConfig *config)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%u|%d%d|", config->umid, config->superuser,
					 config->server_files);
	append_options(&buf, config->server_options);
	appendStringInfoChar(&buf, '|');
	append_options(&buf, config->mapping_options);
	return buf.data;
}

static ConnEntry *
conn_entry(MeshServerConfig *config)
{
	ConnKey		key;
	bool		found;
	ConnEntry  *e;

	if (last_entry != NULL && last_entry->key.serverid == config->serverid &&
		last_entry->key.umid == config->umid && last_entry->key.userid == config->userid)
		return last_entry;
	conn_cache_init();
	memset(&key, 0, sizeof(key));
	key.serverid = config->serverid;
	key.umid = config->umid;
	key.userid = config->userid;
	e = hash_search(conn_cache, &key, HASH_ENTER, &found);
	if (!found)
	{
		e->connector = config->connector;
		e->conn = NULL;
		e->in_use = 0;
		e->broken = false;
		e->stale = false;
		e->definition = NULL;
		e->retired = NIL;
		e->server_hash = config->server_hash;
		e->mapping_hash = config->mapping_hash;
	}
	last_entry = e;
	return e;
}

/*
 * The cached connection for config, connecting if needed.  A connection
 * invalidated by ALTER or broken by an earlier error is replaced.
 */
void *
mesh_get_connection(MeshServerConfig *config)
{
	ConnEntry  *e = conn_entry(config);

	if (e->conn != NULL && e->stale && !e->broken)
	{
		char	   *now = config_definition(config);

		if (e->definition == NULL || strcmp(now, e->definition) != 0)
			e->broken = true;
		pfree(now);
	}
	e->stale = false;
	if (e->conn != NULL && (e->broken || e->server_files != config->server_files ||
							e->superuser != config->superuser))
		retire_connection(e);
	if (e->conn == NULL)
	{
		char	   *definition;

		e->broken = false;
		e->server_files = config->server_files;
		e->superuser = config->superuser;
		e->conn = mesh_connector_connect(config->connector, config);
		definition = config_definition(config);
		if (e->definition != NULL)
			pfree(e->definition);
		e->definition = MemoryContextStrdup(TopMemoryContext, definition);
		pfree(definition);
	}
	return e->conn;
}

/* Mark config's connection as busy with a request (see file comment). */
void
mesh_connection_begin_use(MeshServerConfig *config)
{
	conn_entry(config)->in_use++;
}

/* The request finished cleanly. */
void
mesh_connection_end_use(MeshServerConfig *config)
{
	ConnEntry  *e = conn_entry(config);

	if (e->in_use > 0)
		e->in_use--;
}

/*
 * The caller's own use (begin_use) of config's connection failed: close it
 * now when no one else uses it, else mark it broken.  Delivery calls this,
 * so a long transaction (a backfill whose rows the target refuses) does
 * not keep a retired connection per failure open until it ends.
 */
void
mesh_connection_discard(MeshServerConfig *config)
{
	ConnEntry  *e = conn_entry(config);
	void	   *conn = e->conn;

	if (e->in_use > 1 || conn == NULL)
	{
		e->broken = true;
		return;
	}
	e->conn = NULL;
	e->broken = false;
	e->in_use = 0;
	mesh_connector_disconnect(e->connector, conn);
}

/* config's connection is known to be unusable: replace it at next use. */
void
mesh_connection_broken(MeshServerConfig *config)
{
	conn_entry(config)->broken = true;
}
