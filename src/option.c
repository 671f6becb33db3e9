/*
 * option.c: validation of FDW options against each connector's declared
 * option table, at CREATE/ALTER time, and lookups of option values.
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_authid.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "connector.h"

PG_FUNCTION_INFO_V1(mesh_fdw_validator);
PG_FUNCTION_INFO_V1(mesh_option_is_secret);

/* Options every kind accepts. */
static const MeshOption mesh_common_options[] = {
	{.name = "timeout_ms", .where = MESH_OPT_SERVER, .type = MESH_OPTTYPE_INT,
	.min = 1, .max = 3600000},
	/* what a route does when its table changed beyond capture (schema_apply.c) */
	{.name = "on_schema_change", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_ENUM,
	.allowed = "resync|mark"},
	{NULL}
};

/* The declaration of option name for connector c (or a common one), or NULL. */
const MeshOption *
mesh_find_option(const MeshConnector *c, const char *name)
{
	for (const MeshOption *o = c->options; o && o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	for (const MeshOption *o = mesh_common_options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static const char *
place_name(int place)
{
	switch (place)
	{
		case MESH_OPT_SERVER:
			return "server";
		case MESH_OPT_TABLE:
			return "foreign table";
		case MESH_OPT_COLUMN:
			return "column";
		case MESH_OPT_MAPPING:
			return "user mapping";
		case MESH_OPT_ROUTE:
			return "route";
	}
	return "foreign data wrapper";
}

static int
catalog_place(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return MESH_OPT_SERVER;
		case ForeignTableRelationId:
			return MESH_OPT_TABLE;
		case AttributeRelationId:
			return MESH_OPT_COLUMN;
		case UserMappingRelationId:
			return MESH_OPT_MAPPING;
	}
	return 0;
}

/* The valid option at this place whose name is closest to name, or NULL. */
static const char *
closest_option(const MeshConnector *c, int place, const char *name)
{
	const char *best = NULL;
	int			best_dist = 4;	/* suggest only near misses */
	const MeshOption *lists[2] = {c->options, mesh_common_options};

	for (int l = 0; l < 2; l++)
		for (const MeshOption *o = lists[l]; o && o->name; o++)
		{
			int			d;

			if (!(o->where & place))
				continue;
			d = varstr_levenshtein(name, strlen(name), o->name, strlen(o->name),
								   1, 1, 1, true);
			if (d < best_dist)
			{
				best_dist = d;
				best = o->name;
			}
		}
	return best;
}

/* A list of the option names valid at place, for a hint. */
static char *
valid_options(const MeshConnector *c, int place)
{
	StringInfoData buf;
	const MeshOption *lists[2] = {c->options, mesh_common_options};

	initStringInfo(&buf);
	for (int l = 0; l < 2; l++)
		for (const MeshOption *o = lists[l]; o && o->name; o++)
			if (o->where & place)
				appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", o->name);
	return buf.len ? buf.data : pstrdup("none");
}

/*
 * Errors unless value is an http:// or https:// URL (scheme in any case)
 * without userinfo.  The value is never echoed: it may hold a password.
 */
static void
check_url(const MeshOption *o, const char *value)
{
	const char *sep = strstr(value, "://");
	size_t		scheme_len = sep ? (size_t) (sep - value) : 0;
	const char *authority;
	size_t		authority_len;

	if (sep == NULL ||
		!((scheme_len == 4 && pg_strncasecmp(value, "http", 4) == 0) ||
		  (scheme_len == 5 && pg_strncasecmp(value, "https", 5) == 0)))
	{
		bool		plausible = sep != NULL && scheme_len > 0 && scheme_len <= 16 &&
			strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") == scheme_len;

		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 plausible ?
				 errmsg("invalid value for option \"%s\": scheme \"%.*s\" is not allowed",
						o->name, (int) scheme_len, value) :
				 errmsg("invalid value for option \"%s\": not an http or https URL", o->name),
				 errdetail("Allowed: a URL starting with http:// or https://.")));
	}
	authority = sep + 3;
	authority_len = strcspn(authority, "/?#");
	if (memchr(authority, '@', authority_len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": the URL must not contain credentials",
						o->name),
				 errdetail("A user name or password before \"@\" in the URL would be shown to every role that can read the server's options."),
				 errhint("Remove them from the URL and put them in a user mapping: CREATE USER MAPPING FOR ... SERVER ... OPTIONS (user '...', password '...').")));
	if (authority_len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": the URL has no host", o->name),
				 errdetail("Allowed: a URL starting with http:// or https:// followed by a host.")));
}

/* Errors unless value is acceptable for option o. Secrets are never echoed. */
static void
check_value(const MeshConnector *c, const MeshOption *o, const char *value)
{
	const char *shown = o->secret ? "********" : value;

	switch (o->type)
	{
		case MESH_OPTTYPE_STRING:
			if (o->min > 0 && strlen(value) < (size_t) o->min)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
						 errmsg("option \"%s\" of %s must not be empty", o->name,
								c->kind)));
			break;
		case MESH_OPTTYPE_INT:
			{
				char	   *end;
				long long	v;

				errno = 0;
				v = strtoll(value, &end, 10);
				if (errno != 0 || end == value || *end != '\0' || v < o->min || v > o->max)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", o->name, shown),
							 errdetail("Allowed: an integer from " INT64_FORMAT " to " INT64_FORMAT ".",
									   o->min, o->max)));
				break;
			}
		case MESH_OPTTYPE_BOOL:
			{
				bool		b;

				if (!parse_bool(value, &b))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", o->name, shown),
							 errdetail("Allowed: true or false.")));
				break;
			}
		case MESH_OPTTYPE_ENUM:
			{
				char	   *words = pstrdup(o->allowed);
				char	   *save = NULL;
				bool		found = false;

				for (char *w = strtok_r(words, "|", &save); w; w = strtok_r(NULL, "|", &save))
					if (strcmp(w, value) == 0)
						found = true;
				if (!found)
				{
					char	   *list = pstrdup(o->allowed);

					StringInfoData buf;

					initStringInfo(&buf);
					for (char *p = list; *p; p++)
					{
						if (*p == '|')
							appendStringInfoString(&buf, ", ");
						else
							appendStringInfoChar(&buf, *p);
					}
					list = buf.data;
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", o->name, shown),
							 errdetail("Allowed values: %s.", list)));
				}
				break;
			}
		case MESH_OPTTYPE_URL:
			check_url(o, value);
			break;
	}
}

/*
 * Error unless option name with value is valid at place for connector c:
 * an unknown name hints the closest valid one, a bad value says what is
 * allowed, a secret outside a user mapping points to the user mapping.
 */
void
mesh_validate_option(const MeshConnector *c, int place, const char *name, const char *value)
{
	const MeshOption *o = mesh_find_option(c, name);

	if (o == NULL || (o->where & place) == 0 || (o->secret && place != MESH_OPT_MAPPING))
	{
		const char *near = closest_option(c, place, name);

		if (o != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" of %s is not valid for a %s",
							name, c->kind, place_name(place)),
					 o->secret ?
					 errhint("Secrets are accepted only in a user mapping: CREATE USER MAPPING ... OPTIONS (%s '...').",
							 o->name) :
					 errhint("Valid %s options: %s.", place_name(place), valid_options(c, place))));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\" for a %s %s", name, c->kind, place_name(place)),
				 near ? errhint("Perhaps you meant the option \"%s\".", near) :
				 errhint("Valid %s options: %s.", place_name(place), valid_options(c, place))));
	}
	check_value(c, o, value);
	if (o->check)
		o->check(o, value);
}

/*
 * Validate one option list of a mesh FDW object.  The connector is found
 * from the name of the SQL validator function, "<kind>_validator".
 */
Datum
mesh_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	char	   *fname = get_func_name(fcinfo->flinfo->fn_oid);
	char	   *suffix = fname ? strstr(fname, "_validator") : NULL;
	const MeshConnector *c;
	int			place = catalog_place(catalog);
	ListCell   *lc;

	if (suffix == NULL)
		elog(ERROR, "mesh validator called through an unexpected function");
	*suffix = '\0';
	c = mesh_connector_by_kind(fname);
	if (c == NULL)
		elog(ERROR, "no mesh connector for kind \"%s\"", fname);

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		mesh_validate_option(c, place, def->defname, defGetString(def));
	}
	if (c->validate)
		c->validate(place, options);
	PG_RETURN_VOID();
}

/*
 * mesh.option_is_secret(fdw, option): whether the wrapper's connector
 * declares the option secret (so mesh.backends() never shows its value).
 * The declaration is the one definition of a secret.
 */
Datum
mesh_option_is_secret(PG_FUNCTION_ARGS)
{
	const MeshConnector *c = mesh_connector_by_fdw(NameStr(*PG_GETARG_NAME(0)));
	const MeshOption *o = c ? mesh_find_option(c, text_to_cstring(PG_GETARG_TEXT_PP(1))) : NULL;

	PG_RETURN_BOOL(o != NULL && o->secret);
}

/* The value of option name in a DefElem list, or NULL. */
const char *
mesh_defelem_get(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/* An option of a server or its user mapping (mapping wins), or dflt. */
const char *
mesh_config_get(const MeshServerConfig *config, const char *name, const char *dflt)
{
	const char *v = mesh_defelem_get(config->mapping_options, name);

	if (v == NULL)
		v = mesh_defelem_get(config->server_options, name);
	return v ? v : dflt;
}

/* An integer option (already validated), or dflt. */
int
mesh_config_get_int(const MeshServerConfig *config, const char *name, int dflt)
{
	const char *v = mesh_config_get(config, name, NULL);

	return v ? (int) strtol(v, NULL, 10) : dflt;
}

/*
 * May roleid read and write the hub's files, as COPY TO/FROM a file
 * requires: a superuser, or a member of both pg_read_server_files and
 * pg_write_server_files.  Needs catalog access (inside a transaction).
 */
bool
mesh_role_has_server_files(Oid roleid)
{
	return superuser_arg(roleid) ||
		(has_privs_of_role(roleid, ROLE_PG_READ_SERVER_FILES) &&
		 has_privs_of_role(roleid, ROLE_PG_WRITE_SERVER_FILES));
}
