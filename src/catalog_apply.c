/*
 * catalog_apply.c: mesh.apply_catalog(doc), see catalog.c for the format
 * and the contract.  The document is loaded with libyaml's document API;
 * every error names the line (1-based) and the key it is about.
 */
#include "postgres.h"

#include <yaml.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "mesh.h"
#include "mesh_util.h"

PG_FUNCTION_INFO_V1(mesh_apply_catalog);

static const char *const role_keys[] = {"replicas", "search", "cache", "stream"};
static const char *const roles[] = {"replica", "search", "cache", "stream"};

typedef struct WantedRoute
{
	char	   *target;
	const char *role;
	char	   *options;		/* jsonb text */
	int			line;
} WantedRoute;

static int
line_of(yaml_node_t *node)
{
	return (int) node->start_mark.line + 1;
}

static void pg_attribute_noreturn()
fail(yaml_node_t *node, const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("data catalog line %d: %s", node ? line_of(node) : 1, msg),
			 hint ? errhint("%s", hint) : 0));
}

static char *
scalar(yaml_node_t *node)
{
	return pnstrdup((char *) node->data.scalar.value, node->data.scalar.length);
}

static char *
scalar_of(yaml_node_t *node, const char *key)
{
	if (node->type != YAML_SCALAR_NODE)
		fail(node, psprintf("\"%s\" must be a name", key), NULL);
	return scalar(node);
}

/* A plain scalar that YAML reads as a number, boolean or null keeps that type. */
static void
append_scalar_json(StringInfo buf, yaml_node_t *node)
{
	char	   *s = scalar(node);
	bool		plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	char	   *end;

	if (plain && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || strcmp(s, "null") == 0))
		appendStringInfoString(buf, s);
	else if (plain && *s && (strtod(s, &end), *end == '\0') && strspn(s, "0123456789.-+eE") == strlen(s))
		appendStringInfoString(buf, s);
	else
		escape_json(buf, s);
}

/* A YAML node as JSON text (route options). */
static void
append_json(StringInfo buf, yaml_document_t *doc, yaml_node_t *node)
{
	if (node->type == YAML_SCALAR_NODE)
		append_scalar_json(buf, node);
	else if (node->type == YAML_SEQUENCE_NODE)
	{
		appendStringInfoChar(buf, '[');
		for (yaml_node_item_t *it = node->data.sequence.items.start;
			 it < node->data.sequence.items.top; it++)
		{
			if (it != node->data.sequence.items.start)
				appendStringInfoChar(buf, ',');
			append_json(buf, doc, yaml_document_get_node(doc, *it));
		}
		appendStringInfoChar(buf, ']');
	}
	else
	{
		appendStringInfoChar(buf, '{');
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
			 p < node->data.mapping.pairs.top; p++)
		{
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			if (p != node->data.mapping.pairs.start)
				appendStringInfoChar(buf, ',');
			if (k->type != YAML_SCALAR_NODE)
				fail(k, "option names must be plain names", NULL);
			escape_json(buf, scalar(k));
			appendStringInfoChar(buf, ':');
			append_json(buf, doc, yaml_document_get_node(doc, p->value));
		}
		appendStringInfoChar(buf, '}');
	}
}

/* The routes one dataset's mapping asks for. */
static List *
wanted_routes(yaml_document_t *doc, yaml_node_t *dataset, const char *name, const char *database)
{
	List	   *wanted = NIL;
	yaml_node_t *options = NULL;
	ListCell   *lc;

	if (dataset->type == YAML_SCALAR_NODE && dataset->data.scalar.length == 0)
		return NIL;				/* "dataset:" with nothing: no routes */
	if (dataset->type != YAML_MAPPING_NODE)
		fail(dataset, psprintf("dataset \"%s\" must be a mapping of roles to servers", name), NULL);
	for (yaml_node_pair_t *p = dataset->data.mapping.pairs.start; p < dataset->data.mapping.pairs.top; p++)
	{
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		char	   *key = scalar_of(k, "key");
		int			r;

		if (strcmp(key, "primary") == 0)
		{
			char	   *primary = scalar_of(v, key);

			if (strcmp(primary, database) != 0 && strcmp(primary, "local") != 0)
				fail(v, psprintf("dataset \"%s\": primary \"%s\" is not this hub", name, primary),
					 psprintf("mesh replicates tables of this database: write \"primary: %s\" or leave it out.", database));
			continue;
		}
		if (strcmp(key, "options") == 0)
		{
			if (v->type != YAML_MAPPING_NODE)
				fail(v, "\"options\" must map each server to its route options", NULL);
			options = v;
			continue;
		}
		for (r = 0; r < lengthof(role_keys); r++)
			if (strcmp(key, role_keys[r]) == 0)
				break;
		if (r == lengthof(role_keys))
			fail(k, psprintf("unknown key \"%s\" in dataset \"%s\"", key, name),
				 "Allowed: primary, replicas, search, cache, stream, options.");
		if (v->type == YAML_SEQUENCE_NODE)
		{
			for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
			{
				WantedRoute *w = palloc0(sizeof(WantedRoute));
				yaml_node_t *t = yaml_document_get_node(doc, *it);

				w->target = scalar_of(t, key);
				w->role = roles[r];
				w->line = line_of(t);
				wanted = lappend(wanted, w);
			}
		}
		else
		{
			WantedRoute *w = palloc0(sizeof(WantedRoute));

			w->target = scalar_of(v, key);
			w->role = roles[r];
			w->line = line_of(v);
			if (w->target[0] != '\0')
				wanted = lappend(wanted, w);
		}
	}
	foreach(lc, wanted)
	{
		WantedRoute *w = lfirst(lc);

		for (ListCell *lc2 = list_head(wanted); lfirst(lc2) != w; lc2 = lnext(wanted, lc2))
			if (strcmp(((WantedRoute *) lfirst(lc2))->target, w->target) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("data catalog line %d: server \"%s\" appears twice in dataset \"%s\"",
								w->line, w->target, name),
						 errhint("A table has one route per server: give each server one role.")));
		w->options = "{}";
	}
	if (options)
		for (yaml_node_pair_t *p = options->data.mapping.pairs.start; p < options->data.mapping.pairs.top; p++)
		{
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			yaml_node_t *v = yaml_document_get_node(doc, p->value);
			char	   *target = scalar_of(k, "options");
			WantedRoute *found = NULL;
			StringInfoData buf;

			foreach(lc, wanted)
				if (strcmp(((WantedRoute *) lfirst(lc))->target, target) == 0)
					found = lfirst(lc);
			if (found == NULL)
				fail(k, psprintf("options for \"%s\", which is not a server of dataset \"%s\"", target, name),
					 "List the server under replicas, search, cache or stream.");
			if (v->type != YAML_MAPPING_NODE)
				fail(v, psprintf("options of \"%s\" must be a mapping", target), NULL);
			initStringInfo(&buf);
			append_json(&buf, doc, v);
			found->options = buf.data;
		}
	return wanted;
}

/* What a route change is about, for the error context. */
typedef struct ChangeContext
{
	int			line;
	const char *dataset;
	const char *target;
} ChangeContext;

static void
change_error_context(void *arg)
{
	ChangeContext *c = arg;

	errcontext("data catalog line %d: dataset \"%s\", server \"%s\"", c->line, c->dataset,
			   c->target);
}

/* run() with an error context naming the line, dataset and server. */
static void
run_change(const char *sql, int nargs, Oid *types, Datum *values, int line, const char *dataset,
		   const char *target)
{
	ChangeContext c = {line, dataset, target};
	ErrorContextCallback cb;
	int			rc;

	cb.callback = change_error_context;
	cb.arg = &c;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);
	error_context_stack = cb.previous;
	if (rc < 0)
		elog(ERROR, "SPI failed: %s", SPI_result_code_string(rc));
}

static int
run(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI failed: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}

/* jsonb text in jsonb's canonical form, so equal options compare equal as text. */
static char *
canonical_jsonb(const char *json)
{
	return DatumGetCString(DirectFunctionCall1(jsonb_out,
											   DirectFunctionCall1(jsonb_in, CStringGetDatum(json))));
}

/* The oid of dataset name, or an error naming the line. */
static Oid
dataset_relid(yaml_node_t *key, const char *name)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	Oid			relid = InvalidOid;
	bool		isnull;

	PG_TRY();
	{
		args[0] = CStringGetTextDatum(name);
		run("SELECT $1::regclass::oid", 1, types, args);
		relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											   &isnull));
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		fail(key, psprintf("dataset \"%s\": %s", name, ed->message),
			 "A dataset is a table of this database, named as in FROM (schema-qualified if needed).");
	}
	PG_END_TRY();
	return relid;
}

/* Make dataset's routes those wanted; returns the number of changes. */
static int
apply_dataset(yaml_node_t *key, const char *name, List *wanted)
{
	Oid			types[4] = {OIDOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	int			changes = 0;
	int			n;
	List	   *existing = NIL;
	ListCell   *lc;
	MeshUserSave save;

	args[0] = ObjectIdGetDatum(dataset_relid(key, name));
	/* only the owner of a table declares its routes (as mesh.replicate) */
	mesh_check_table_owner(DatumGetObjectId(args[0]), GetUserId());
	mesh_become_owner(&save);
	n = run("SELECT target::text, role, options::text FROM mesh.route WHERE source = $1 ORDER BY id",
			1, types, args);
	mesh_restore_user(&save);
	for (int i = 0; i < n; i++)
	{
		WantedRoute *e = palloc0(sizeof(WantedRoute));

		e->target = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		e->role = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		e->options = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		existing = lappend(existing, e);
	}
	foreach(lc, wanted)
	{
		WantedRoute *w = lfirst(lc);

		w->options = canonical_jsonb(w->options);
	}
	foreach(lc, existing)
	{
		WantedRoute *e = lfirst(lc);
		WantedRoute *w = NULL;
		ListCell   *lw;

		foreach(lw, wanted)
			if (strcmp(((WantedRoute *) lfirst(lw))->target, e->target) == 0)
				w = lfirst(lw);
		args[1] = CStringGetTextDatum(e->target);
		if (w == NULL || strcmp(w->options, e->options) != 0)
		{
			run_change("SELECT mesh.unreplicate($1, $2::name)", 2, types, args,
					   w ? w->line : line_of(key), name, e->target);
			changes++;
			continue;
		}
		if (strcmp(w->role, e->role) != 0)
		{
			Oid			rtypes[4] = {OIDOID, TEXTOID, TEXTOID, OIDOID};

			args[2] = CStringGetTextDatum(w->role);
			args[3] = ObjectIdGetDatum(GetUserId());
			mesh_become_owner(&save);	/* mesh._set_role checks the caller ($4) */
			run_change("SELECT mesh._set_role($4, $1, $2::name, $3)", 4, rtypes, args, w->line,
					   name, e->target);
			mesh_restore_user(&save);
			changes++;
		}
		w->line = -1;			/* kept */
	}
	foreach(lc, wanted)
	{
		WantedRoute *w = lfirst(lc);

		if (w->line < 0)
			continue;
		args[1] = CStringGetTextDatum(w->target);
		args[2] = CStringGetTextDatum(w->options);
		args[3] = CStringGetTextDatum(w->role);
		run_change("SELECT mesh.replicate($1, $2::name, $3::jsonb, $4)", 4, types, args, w->line,
				   name, w->target);
		changes++;
	}
	return changes;
}

/* Apply every dataset of the document's root mapping. */
static int
apply_document(yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	char	   *database;
	int			changes = 0;

	if (root == NULL || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		fail(root, "the catalog must be a mapping of dataset names to their routes", NULL);
	run("SELECT current_database()", 0, NULL, NULL);
	database = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++)
	{
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		char	   *name = scalar_of(k, "dataset");

		changes += apply_dataset(k, name, wanted_routes(doc, yaml_document_get_node(doc, p->value),
														name, database));
	}
	return changes;
}

/* mesh.apply_catalog(doc text): see the top of catalog.c. */
Datum
mesh_apply_catalog(PG_FUNCTION_ARGS)
{
	text	   *doc_text = PG_GETARG_TEXT_PP(0);
	yaml_parser_t parser;
	yaml_document_t doc;
	bool		loaded = false;
	int			changes = 0;

	if (!yaml_parser_initialize(&parser))
		elog(ERROR, "could not initialise the YAML parser");
	PG_TRY();
	{
		yaml_parser_set_input_string(&parser, (unsigned char *) VARDATA_ANY(doc_text),
									 VARSIZE_ANY_EXHDR(doc_text));
		if (!yaml_parser_load(&parser, &doc))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("data catalog line %d: invalid YAML: %s",
							(int) parser.problem_mark.line + 1,
							parser.problem ? parser.problem : "unknown error"),
					 parser.context ? errdetail("%s (from line %d)", parser.context,
												(int) parser.context_mark.line + 1) : 0));
		loaded = true;
		SPI_connect();
		changes = apply_document(&doc);
		SPI_finish();
	}
	PG_FINALLY();
	{
		if (loaded)
			yaml_document_delete(&doc);
		yaml_parser_delete(&parser);
	}
	PG_END_TRY();
	PG_RETURN_INT32(changes);
}
