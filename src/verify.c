/*
 * verify.c: mesh.verify(source) compares the source with every replica.
 *
 * Streams both sides in batches, never a whole table in memory:
 *   1. the source in primary-key order; for each batch the target's rows
 *      of those keys (connector fetch_rows): missing and mismatched rows;
 *   2. the target's keys (connector scan_keys); for each batch, which exist
 *      in the source (a primary-key probe each): extra rows.
 * Values are compared in text form after normalising the target's text
 * through the source column's type (so '1.50' and '1.5' as numeric, or a
 * timestamp written in another time zone, compare equal), and the source's
 * values as the route's options say the target holds them (connector
 * expected_values, e.g. a time rounded to the write precision).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "utils/resowner.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "mesh.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_verify);

#define VERIFY_BATCH 1000

#define VERIFY_SAMPLES 3

typedef struct VerifyCounts
{
	int64		source_rows;
	int64		target_rows;
	int64		missing;
	int64		extra;
	int64		mismatched;
	StringInfoData samples;		/* a few differing keys, for the NOTICE */
	int			nsamples;
} VerifyCounts;

/* Remember a differing key (the first few), e.g. "missing id=5". */
static void
add_sample(VerifyCounts *vc, MeshRoute *route, const char *what, char **key, const char *column)
{
	if (vc->nsamples++ >= VERIFY_SAMPLES)
		return;
	appendStringInfo(&vc->samples, "%s%s", vc->samples.len ? "; " : "", what);
	for (int k = 0; k < route->nkeys; k++)
		appendStringInfo(&vc->samples, " %s=%s", route->columns[route->key_index[k]], key[k]);
	if (column)
		appendStringInfo(&vc->samples, " (column %s)", column);
}

/* Is the target's text t the same value as the source's text s of type typid? */
static bool
same_value(const char *s, const char *t, Oid typid)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool same = false;
	Oid			infn,
				ioparam,
				outfn;
	bool		isvarlena;

	if (s == NULL || t == NULL)
		return s == t;
	if (strcmp(s, t) == 0)
		return true;
	getTypeInputInfo(typid, &infn, &ioparam);
	getTypeOutputInfo(typid, &outfn, &isvarlena);
	PG_TRY();
	{
		Datum		d = OidInputFunctionCall(infn, (char *) t, ioparam, -1);

		same = strcmp(OidOutputFunctionCall(outfn, d), s) == 0;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();		/* not even a value of the type: different */
		same = false;
	}
	PG_END_TRY();
	return same;
}

static char *
key_order(MeshRoute *route)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < route->nkeys; k++)
		appendStringInfo(&buf, "%s%s", k ? ", " : "",
						 quote_identifier(route->columns[route->key_index[k]]));
	return buf.data;
}

/* Pass 1: the source, batch by batch, against the target's rows. */
static void
verify_source(MeshRoute *route, void *conn, VerifyCounts *vc)
{
	const MeshConnector *c = route->config->connector;
	MemoryContext batch = AllocSetContextCreate(CurrentMemoryContext, "mesh verify",
												ALLOCSET_DEFAULT_SIZES);
	char	   *sql = psprintf("SELECT * FROM %s ORDER BY %s",
							   quote_qualified_identifier(route->source_schema, route->source_name),
							   key_order(route));
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	Portal		portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	for (;;)
	{
		int			n;
		char	 ***src;
		char	 ***keys;
		char	 ***rows;
		MemoryContext old;

		SPI_cursor_fetch(portal, true, VERIFY_BATCH);
		n = SPI_processed;
		if (n == 0)
			break;
		old = MemoryContextSwitchTo(batch);
		src = palloc(sizeof(char **) * n);
		keys = palloc(sizeof(char **) * n);
		rows = palloc0(sizeof(char **) * n);
		for (int i = 0; i < n; i++)
		{
			src[i] = mesh_route_row_values(route, SPI_tuptable->tupdesc, SPI_tuptable->vals[i]);
			keys[i] = palloc(sizeof(char *) * route->nkeys);
			for (int k = 0; k < route->nkeys; k++)
				keys[i][k] = src[i][route->key_index[k]];
			if (c->expected_values)
				c->expected_values(conn, route, src[i]);
		}
		c->fetch_rows(conn, route, n, keys, rows);
		for (int i = 0; i < n; i++)
		{
			vc->source_rows++;
			if (rows[i] == NULL)
			{
				vc->missing++;
				add_sample(vc, route, "missing", keys[i], NULL);
				continue;
			}
			for (int col = 0; col < route->ncolumns; col++)
				if (!same_value(src[i][col], rows[i][col], route->types[col]))
				{
					vc->mismatched++;
					add_sample(vc, route, "mismatched", keys[i], route->columns[col]);
					break;
				}
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch);
}

/* Pass 2: the target's keys, batch by batch, looked up in the source. */
static void
verify_target(MeshRoute *route, void *conn, VerifyCounts *vc)
{
	const MeshConnector *c = route->config->connector;
	MemoryContext batch = AllocSetContextCreate(CurrentMemoryContext, "mesh verify keys",
												ALLOCSET_DEFAULT_SIZES);
	void	   *state = NULL;
	char	  **keys[VERIFY_BATCH];
	char	   *table = quote_qualified_identifier(route->source_schema, route->source_name);
	StringInfoData sql;
	SPIPlanPtr	plan;
	Oid			argtype = TEXTOID;

	/*
	 * The keys of a JSON array of keys that the source does not have: one
	 * primary-key probe per key (a LATERAL ... LIMIT 1 cannot become a hash
	 * anti-join, which would read the whole source for every batch).
	 */
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT e::text FROM jsonb_array_elements($1::jsonb) e"
					 " LEFT JOIN LATERAL (SELECT true AS hit FROM %s s WHERE (", table);
	for (int k = 0; k < route->nkeys; k++)
		appendStringInfo(&sql, "%ss.%s", k ? ", " : "",
						 quote_identifier(route->columns[route->key_index[k]]));
	appendStringInfoString(&sql, ") = (");
	for (int k = 0; k < route->nkeys; k++)
		appendStringInfo(&sql, "%s(e->>%d)::%s", k ? ", " : "", k,
						 route->type_names[route->key_index[k]]);
	appendStringInfoString(&sql, ") LIMIT 1) h ON true WHERE h.hit IS NULL");
	plan = SPI_prepare(sql.data, 1, &argtype);

	for (;;)
	{
		MemoryContext old = MemoryContextSwitchTo(batch);
		int			n = c->scan_keys(conn, route, &state, VERIFY_BATCH, keys);
		StringInfoData json;
		Datum		arg;

		if (n == 0)
		{
			MemoryContextSwitchTo(old);
			break;
		}
		initStringInfo(&json);
		appendStringInfoChar(&json, '[');
		for (int i = 0; i < n; i++)
		{
			appendStringInfoString(&json, i ? ",[" : "[");
			for (int k = 0; k < route->nkeys; k++)
			{
				if (k)
					appendStringInfoChar(&json, ',');
				escape_json(&json, keys[i][k]);
			}
			appendStringInfoChar(&json, ']');
		}
		appendStringInfoChar(&json, ']');
		arg = CStringGetTextDatum(json.data);
		MemoryContextSwitchTo(old);
		SPI_execute_plan(plan, &arg, NULL, true, 0);
		vc->target_rows += n;
		vc->extra += SPI_processed;
		for (uint64 i = 0; i < SPI_processed && vc->nsamples < VERIFY_SAMPLES; i++)
		{
			vc->nsamples++;
			appendStringInfo(&vc->samples, "%sextra %s", vc->samples.len ? "; " : "",
							 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		}
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(batch);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(batch);
}

static void
verify_route(MeshRoute *route, VerifyCounts *vc)
{
	void	   *conn;

	if (route->config->connector->fetch_rows == NULL || route->config->connector->scan_keys == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s targets cannot be verified", route->config->connector->kind)));
	conn = mesh_get_connection(route->config);
	mesh_connection_begin_use(route->config);
	verify_source(route, conn, vc);
	verify_target(route, conn, vc);
	mesh_connection_end_use(route->config);
}

/* mesh.verify(source): one row per route of source. */
Datum
mesh_verify(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *routes;
	ListCell   *lc;
	AclResult	acl = pg_class_aclcheck(source, GetUserId(), ACL_SELECT);
	int			canonical;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(source));
	InitMaterializedSRF(fcinfo, 0);
	/* source values in the text forms capture stored */
	canonical = mesh_canonical_output_begin();
	routes = mesh_routes_of(source);
	if (routes == NIL)
		ereport(NOTICE,
				(errmsg("table %s is not replicated", get_rel_name(source))));
	SPI_connect();
	foreach(lc, routes)
	{
		MeshRoute  *route = lfirst(lc);
		VerifyCounts vc = {0};
		Datum		values[7];
		bool		nulls[7] = {false};

		MemoryContext cxt = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;
		volatile bool failed = false;

		initStringInfo(&vc.samples);
		/* a target that cannot be read is a row saying so, not an error */
		BeginInternalSubTransaction(NULL);
		PG_TRY();
		{
			verify_route(route, &vc);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			ereport(WARNING,
					(errmsg("could not verify the route to \"%s\": %s", route->target, edata->message),
					 edata->detail ? errdetail("%s", edata->detail) : 0));
			failed = true;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (vc.nsamples > 0)
			ereport(NOTICE,
					(errmsg("route to \"%s\" differs from %s", route->target, get_rel_name(source)),
					 errdetail("%s", vc.samples.data)));
		values[0] = DirectFunctionCall1(namein, CStringGetDatum(route->target));
		values[1] = Int64GetDatum(vc.source_rows);
		values[2] = Int64GetDatum(vc.target_rows);
		values[3] = Int64GetDatum(vc.missing);
		values[4] = Int64GetDatum(vc.extra);
		values[5] = Int64GetDatum(vc.mismatched);
		values[6] = BoolGetDatum(!failed && vc.missing == 0 && vc.extra == 0 &&
								 vc.mismatched == 0 && vc.source_rows == vc.target_rows);
		if (failed)
			nulls[1] = nulls[2] = nulls[3] = nulls[4] = nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	mesh_canonical_output_end(canonical);
	return (Datum) 0;
}
