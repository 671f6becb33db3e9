/*
 * cache.c: per-backend caches of what a foreign scan or write needs before
 * it can send its first request: the table's description (options,
 * columns, I/O functions, the connector's parsed layout) and the server
 * configuration for a user.  Repeated statements (a prepared point lookup)
 * then cost no catalog work.
 *
 * Catalog changes (ALTER FOREIGN TABLE, ALTER SERVER, ALTER USER MAPPING,
 * and any relcache invalidation) mark entries stale.  A stale entry is
 * rebuilt at its next use; its memory is freed only at the end of the
 * top-level transaction, since a scan in progress may still point into it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "foreign/foreign.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "connector.h"

typedef struct TableEntry
{
	Oid			relid;
	bool		valid;
	MemoryContext cxt;
	MeshTable  *table;
	Oid			serverid;
	const MeshConnector *connector;
} TableEntry;

typedef struct ConfigKey
{
	Oid			serverid;
	Oid			userid;
} ConfigKey;

typedef struct ConfigEntry
{
	ConfigKey	key;
	bool		valid;
	MemoryContext cxt;
	MeshServerConfig *config;
} ConfigEntry;

static HTAB *table_cache = NULL;
static HTAB *config_cache = NULL;
static List *retired = NIL;		/* stale entries' contexts, freed at xact end */

static void
retire(MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	retired = lappend(retired, cxt);
	MemoryContextSwitchTo(old);
}

static void
invalidate_tables(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS scan;
	TableEntry *e;

	hash_seq_init(&scan, table_cache);
	while ((e = hash_seq_search(&scan)) != NULL)
		if (relid == InvalidOid || e->relid == relid)
			e->valid = false;
}

/* A server, user mapping or foreign table changed: everything may differ. */
static void
invalidate_all(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	ConfigEntry *c;

	invalidate_tables(arg, InvalidOid);
	hash_seq_init(&scan, config_cache);
	while ((c = hash_seq_search(&scan)) != NULL)
		c->valid = false;
}

static void
free_retired(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	foreach(lc, retired)
		MemoryContextDelete(lfirst(lc));
	list_free(retired);
	retired = NIL;
}

static void
cache_init(void)
{
	HASHCTL		ctl;

	if (table_cache != NULL)
		return;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TableEntry);
	table_cache = hash_create("mesh tables", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	ctl.keysize = sizeof(ConfigKey);
	ctl.entrysize = sizeof(ConfigEntry);
	config_cache = hash_create("mesh server configs", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(invalidate_tables, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, invalidate_all, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, invalidate_all, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNTABLEREL, invalidate_all, (Datum) 0);
	/* a config holds the role's rights (server_files) */
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, invalidate_all, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, invalidate_all, (Datum) 0);
	RegisterXactCallback(free_retired, NULL);
}

/*
 * Run build(arg) with cxt (a new context for a cache entry) current, and
 * return cxt; if build fails, cxt is freed and the error goes on.
 */
static MemoryContext
build_in_context(MemoryContext cxt, void (*build) (void *arg), void *arg)
{
	MemoryContext old = CurrentMemoryContext;

	PG_TRY();
	{
		MemoryContextSwitchTo(cxt);
		build(arg);
		MemoryContextSwitchTo(old);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return cxt;
}

/*
 * Whether an entry (just found, or not) must be built; a stale one's
 * context is retired first.
 */
static bool
stale(bool found, bool *valid, MemoryContext *cxt)
{
	if (!found)
		*cxt = NULL;
	else if (*valid)
		return false;
	if (*cxt)
		retire(*cxt);
	*cxt = NULL;
	*valid = false;
	return true;
}

static void
build_table(void *arg)
{
	TableEntry *e = arg;

	e->serverid = GetForeignTable(e->relid)->serverid;
	e->connector = mesh_connector_for_server(e->serverid);
	e->table = mesh_table_open(e->relid);
	e->table->cxt = CurrentMemoryContext;
	mesh_table_prepare_io(e->table);
}

static void
build_config(void *arg)
{
	ConfigEntry *e = arg;

	e->config = mesh_server_config(e->key.serverid, e->key.userid);
}

/*
 * The description of foreign table relid with its I/O functions ready
 * (cached; do not modify), its server and its connector.
 */
MeshTable *
mesh_table_get(Oid relid, Oid *serverid, const MeshConnector **connector)
{
	TableEntry *e;
	bool		found;

	cache_init();
	e = hash_search(table_cache, &relid, HASH_ENTER, &found);
	if (stale(found, &e->valid, &e->cxt))
	{
		e->cxt = build_in_context(AllocSetContextCreate(CacheMemoryContext, "mesh table",
														ALLOCSET_SMALL_SIZES),
								  build_table, e);
		e->valid = true;
	}
	*serverid = e->serverid;
	*connector = e->connector;
	return e->table;
}

/* mesh_server_config(serverid, userid), cached (do not modify). */
MeshServerConfig *
mesh_server_config_cached(Oid serverid, Oid userid)
{
	ConfigKey	key;
	ConfigEntry *e;
	bool		found;

	cache_init();
	key.serverid = serverid;
	key.userid = userid;
	e = hash_search(config_cache, &key, HASH_ENTER, &found);
	if (stale(found, &e->valid, &e->cxt))
	{
		e->cxt = build_in_context(AllocSetContextCreate(CacheMemoryContext, "mesh server config",
														ALLOCSET_SMALL_SIZES),
								  build_config, e);
		e->valid = true;
	}
	return e->config;
}
