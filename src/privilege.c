/*
 * privilege.c: who mesh acts as.
 *
 * mesh's internal tables (mesh.route, the event log, cursors, stats, dead
 * letters, subscriptions) belong to the extension's owner and are closed
 * to PUBLIC.  Code that serves a caller reads or writes them as that
 * owner (mesh_become_owner ... mesh_restore_user) after deciding, as the
 * caller, what the caller may see or do; code that reads or writes a
 * user's table on behalf of a route or subscription does so as the role
 * that owns the route (mesh_become).
 *
 * mesh_api is the C body of the route operations (mesh.replicate,
 * mesh.unreplicate, mesh.pause, ...): mesh.X(args) calls the internal
 * mesh._X(caller, args) as the owner of mesh._X, passing the caller's
 * current user (GetUserId() at the call, so a SECURITY DEFINER function
 * calling mesh acts as its definer, as everywhere in PostgreSQL).  The
 * internal function is not executable by PUBLIC, so the caller argument
 * cannot be forged.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "mesh.h"

/* The owner of mesh's internal tables (the role that created the extension). */
Oid
mesh_extension_owner(void)
{
	Oid			relid = mesh_relid("route");
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Act as userid until mesh_restore_user(save).  An error in between needs
 * no restore: the (sub)transaction's abort resets the user.
 */
void
mesh_become(Oid userid, MeshUserSave *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	SetUserIdAndSecContext(userid, save->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
mesh_become_owner(MeshUserSave *save)
{
	mesh_become(mesh_extension_owner(), save);
}

void
mesh_restore_user(MeshUserSave *save)
{
	SetUserIdAndSecContext(save->userid, save->sec_context);
}

/*
 * Errors unless userid owns relid or is a member of its owning role
 * (PostgreSQL's own "must be owner of table t", SQLSTATE 42501).
 */
void
mesh_check_table_owner(Oid relid, Oid userid)
{
	if (!pg_class_ownercheck(relid, userid))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
}

/* mesh_api's per-call-site cache: the internal function and its owner. */
typedef struct ApiTarget
{
	FmgrInfo	flinfo;
	Oid			owner;
	int			nargs;
} ApiTarget;

static ApiTarget *
api_target(FmgrInfo *flinfo)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(flinfo->fn_oid));
	Form_pg_proc proc;
	Oid			argtypes[FUNC_MAX_ARGS];
	Oid			target;
	ApiTarget  *t;
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", flinfo->fn_oid);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->pronargs + 1 > FUNC_MAX_ARGS)
		elog(ERROR, "mesh function %s has too many arguments", NameStr(proc->proname));
	argtypes[0] = OIDOID;
	memcpy(argtypes + 1, proc->proargtypes.values, sizeof(Oid) * proc->pronargs);
	name = psprintf("_%s", NameStr(proc->proname));
	target = LookupFuncName(list_make2(makeString(get_namespace_name(proc->pronamespace)),
									   makeString(name)),
							proc->pronargs + 1, argtypes, false);
	t = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(ApiTarget));
	t->nargs = proc->pronargs + 1;
	ReleaseSysCache(tup);
	fmgr_info_cxt(target, &t->flinfo, flinfo->fn_mcxt);
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(target));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", target);
	t->owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return t;
}

PG_FUNCTION_INFO_V1(mesh_api);

/* mesh.X(args): mesh._X(caller, args) as the owner of mesh._X (file comment). */
Datum
mesh_api(PG_FUNCTION_ARGS)
{
	ApiTarget  *t = fcinfo->flinfo->fn_extra;
	FunctionCallInfo inner;
	MeshUserSave save;
	Datum		result;

	if (t == NULL)
		t = fcinfo->flinfo->fn_extra = api_target(fcinfo->flinfo);
	inner = palloc0(SizeForFunctionCallInfo(t->nargs));
	InitFunctionCallInfoData(*inner, &t->flinfo, t->nargs, fcinfo->fncollation, NULL, NULL);
	inner->args[0].value = ObjectIdGetDatum(GetUserId());
	inner->args[0].isnull = false;
	for (int i = 0; i < PG_NARGS(); i++)
		inner->args[i + 1] = fcinfo->args[i];
	mesh_become(t->owner, &save);
	result = FunctionCallInvoke(inner);
	mesh_restore_user(&save);
	fcinfo->isnull = inner->isnull;
	return result;
}
