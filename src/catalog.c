/*
 * catalog.c: the data catalog as YAML (libyaml).
 *
 * mesh.catalog_yaml() writes every replicated table as
 *
 *     readings:
 *       primary: <this database>
 *       replicas: [archive_pg, ch]
 *       cache: redis
 *       options:
 *         redis: {key_prefix: "reading:"}
 *
 * and mesh.apply_catalog(doc) makes the routes of the datasets named in
 * doc what doc says: missing routes are created (mesh.replicate), routes
 * whose target is gone from a dataset are removed, a changed role is
 * updated in place and changed options re-create the route (which
 * backfills it again).  Datasets not named in doc are left alone.  It runs
 * in the caller's transaction, so an error applies nothing; errors name
 * the document's line and key.  apply_catalog(catalog_yaml()) changes
 * nothing.  libyaml allocates with malloc: parser, document and emitter
 * are freed in PG_FINALLY blocks.
 */
#include "postgres.h"

#include <yaml.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "mesh.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_catalog_yaml);

static const char *const roles[] = {"replica", "search", "cache", "stream"};
static const char *const role_keys[] = {"replicas", "search", "cache", "stream"};

/* ---------------------------------------------------------------- writing */

static int
emit_output(void *data, unsigned char *buffer, size_t size)
{
	appendBinaryStringInfo((StringInfo) data, (char *) buffer, size);
	return 1;
}

static void
emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	if (!yaml_emitter_emit(e, ev))
		elog(ERROR, "could not write YAML: %s", e->problem ? e->problem : "unknown error");
}

/* A scalar; quoted keeps strings strings when read back. */
static void
emit_scalar(yaml_emitter_t *e, const char *s, bool quoted)
{
	yaml_event_t ev;

	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, (int) strlen(s), 1, 1,
								 quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
	emit(e, &ev);
}

static void
emit_start(yaml_emitter_t *e, bool mapping, bool flow)
{
	yaml_event_t ev;

	if (mapping)
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
											flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
	else
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
											 flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
	emit(e, &ev);
}

static void
emit_end(yaml_emitter_t *e, bool mapping)
{
	yaml_event_t ev;

	if (mapping)
		yaml_mapping_end_event_initialize(&ev);
	else
		yaml_sequence_end_event_initialize(&ev);
	emit(e, &ev);
}

/* A jsonb value (route options) as YAML: objects as flow mappings. */
static void
emit_jsonb(yaml_emitter_t *e, JsonbValue *v);

static void
emit_jsonb_container(yaml_emitter_t *e, JsonbContainer *c)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			emit_start(e, tok == WJB_BEGIN_OBJECT, true);
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			emit_end(e, tok == WJB_END_OBJECT);
		else if (tok == WJB_KEY)
			emit_scalar(e, pnstrdup(v.val.string.val, v.val.string.len), false);
		else
			emit_jsonb(e, &v);
	}
}

static void
emit_jsonb(yaml_emitter_t *e, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			emit_scalar(e, pnstrdup(v->val.string.val, v->val.string.len), true);
			break;
		case jbvNumeric:
			emit_scalar(e, DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(v->val.numeric))), false);
			break;
		case jbvBool:
			emit_scalar(e, v->val.boolean ? "true" : "false", false);
			break;
		case jbvNull:
			emit_scalar(e, "null", false);
			break;
		case jbvBinary:
			emit_jsonb_container(e, v->val.binary.data);
			break;
		default:
			elog(ERROR, "unexpected jsonb value in route options");
	}
}

/* Emit the catalog from SPI's result: rows (dataset, target, role, options) ordered by dataset. */
static void
emit_catalog(yaml_emitter_t *e, const char *database)
{
	yaml_event_t ev;
	uint64		n = SPI_processed;
	uint64		i = 0;

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	emit(e, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	emit(e, &ev);
	emit_start(e, true, n == 0);
	while (i < n)
	{
		char	   *dataset = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		uint64		end = i;
		bool		any_options = false;

		while (end < n && strcmp(SPI_getvalue(SPI_tuptable->vals[end], SPI_tuptable->tupdesc, 1),
								 dataset) == 0)
			end++;
		emit_scalar(e, dataset, false);
		emit_start(e, true, false);
		emit_scalar(e, "primary", false);
		emit_scalar(e, database, false);
		for (int r = 0; r < lengthof(roles); r++)
		{
			List	   *targets = NIL;
			ListCell   *lc;

			for (uint64 k = i; k < end; k++)
				if (strcmp(SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 3), roles[r]) == 0)
					targets = lappend(targets, SPI_getvalue(SPI_tuptable->vals[k],
															SPI_tuptable->tupdesc, 2));
			if (targets == NIL)
				continue;
			emit_scalar(e, role_keys[r], false);
			/* replicas is always a list; search, cache and stream a name when single */
			if (r == 0 || list_length(targets) > 1)
				emit_start(e, false, true);
			foreach(lc, targets)
				emit_scalar(e, lfirst(lc), false);
			if (r == 0 || list_length(targets) > 1)
				emit_end(e, false);
		}
		for (uint64 k = i; k < end; k++)
		{
			bool		isnull;
			Jsonb	   *opts = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[k],
															SPI_tuptable->tupdesc, 4, &isnull));

			if (JB_ROOT_COUNT(opts) == 0)
				continue;
			if (!any_options)
			{
				emit_scalar(e, "options", false);
				emit_start(e, true, false);
				any_options = true;
			}
			emit_scalar(e, SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2), false);
			emit_jsonb_container(e, &opts->root);
		}
		if (any_options)
			emit_end(e, true);
		emit_end(e, true);
		i = end;
	}
	emit_end(e, true);
	yaml_document_end_event_initialize(&ev, 1);
	emit(e, &ev);
	yaml_stream_end_event_initialize(&ev);
	emit(e, &ev);
}

/* mesh.catalog_yaml(): every route, grouped by dataset, as YAML. */
Datum
mesh_catalog_yaml(PG_FUNCTION_ARGS)
{
	yaml_emitter_t emitter;
	StringInfoData out;
	char	   *database;
	MeshUserSave save;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(GetUserId())};

	initStringInfo(&out);
	SPI_connect();
	SPI_execute("SELECT current_database()", true, 1);
	database = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	/* the routes of tables the caller may SELECT, read as mesh's owner */
	mesh_become_owner(&save);
	SPI_execute_with_args("SELECT source::text, target::text, role, options FROM mesh.route"
						  " WHERE has_table_privilege($1, source, 'SELECT')"
						  " ORDER BY source::text, role, target", 1, types, values, NULL, true, 0);
	mesh_restore_user(&save);
	if (!yaml_emitter_initialize(&emitter))
		elog(ERROR, "could not initialise the YAML writer");
	PG_TRY();
	{
		yaml_emitter_set_output(&emitter, emit_output, &out);
		yaml_emitter_set_unicode(&emitter, 1);
		yaml_emitter_set_width(&emitter, -1);
		emit_catalog(&emitter, database);
	}
	PG_FINALLY();
	{
		yaml_emitter_delete(&emitter);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}
