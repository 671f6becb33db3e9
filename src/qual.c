/*
 * qual.c: recognising "column op value" clauses that a connector may push
 * down, and helpers connectors use to read qual values.
 *
 * The value side may be any Var-free, non-volatile expression: a Const, a
 * Param of a prepared statement (so pushdown survives generic plans), or an
 * expression over them; it is evaluated at execution.
 */
#include "postgres.h"

#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "fdw.h"
#include "mesh_util.h"

/* A Var of the scanned relation (a real column), else NULL. */
static Var *
scan_var(Node *node, Index relid)
{
	if (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node && IsA(node, Var))
	{
		Var		   *v = (Var *) node;

		if (v->varno == relid && v->varlevelsup == 0 && v->varattno > 0)
			return v;
	}
	return NULL;
}

/* True when expr can be evaluated once at scan start. */
static bool
is_scan_constant(Node *expr, Index relid)
{
	Relids		relids = pull_varnos(NULL, expr);

	return !bms_is_member(relid, relids) && !contain_volatile_functions(expr);
}

/* The operator's kind when it is a built-in comparison, else -1. */
static int
operator_kind(Oid opno)
{
	char	   *name;

	if (opno >= FirstNormalObjectId)
		return -1;
	name = get_opname(opno);
	if (name == NULL)
		return -1;
	if (strcmp(name, "=") == 0)
		return MESH_QUAL_EQ;
	if (strcmp(name, "<>") == 0)
		return MESH_QUAL_NE;
	if (strcmp(name, "<") == 0)
		return MESH_QUAL_LT;
	if (strcmp(name, "<=") == 0)
		return MESH_QUAL_LE;
	if (strcmp(name, ">") == 0)
		return MESH_QUAL_GT;
	if (strcmp(name, ">=") == 0)
		return MESH_QUAL_GE;
	if (strcmp(name, "~~") == 0)
		return MESH_QUAL_LIKE;
	return -1;
}

static void
set_value(MeshQual *qual, Expr *value)
{
	qual->valtype = exprType((Node *) value);
	qual->paramid = -1;
	qual->known = false;
	if (IsA(value, Const))
	{
		qual->known = true;
		qual->value = ((Const *) value)->constvalue;
		qual->isnull = ((Const *) value)->constisnull;
	}
	else if (IsA(value, Param))
		qual->paramid = ((Param *) value)->paramid;
}

/*
 * Recognise clause as "column op value" on relation relid.  On success fill
 * qual and *value (the expression to evaluate; NULL for IS [NOT] NULL).
 */
bool
mesh_qual_from_clause(Expr *clause, Index relid, MeshQual *qual, Expr **value)
{
	memset(qual, 0, sizeof(MeshQual));
	*value = NULL;
	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Var		   *var;
		Node	   *other;
		Oid			opno = op->opno;
		int			kind;

		if (list_length(op->args) != 2)
			return false;
		var = scan_var(linitial(op->args), relid);
		other = lsecond(op->args);
		if (var == NULL)
		{
			var = scan_var(lsecond(op->args), relid);
			other = linitial(op->args);
			opno = get_commutator(opno);
			if (var == NULL || !OidIsValid(opno))
				return false;
		}
		kind = operator_kind(opno);
		if (kind < 0 || !is_scan_constant(other, relid))
			return false;
		qual->attnum = var->varattno;
		qual->op = (MeshQualOp) kind;
		qual->collid = op->inputcollid;
		*value = (Expr *) other;
		set_value(qual, *value);
		return true;
	}
	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Var		   *var = scan_var(linitial(sa->args), relid);
		Node	   *other = lsecond(sa->args);

		if (var == NULL || !sa->useOr || operator_kind(sa->opno) != MESH_QUAL_EQ ||
			!is_scan_constant(other, relid))
			return false;
		qual->attnum = var->varattno;
		qual->op = MESH_QUAL_IN;
		qual->collid = sa->inputcollid;
		*value = (Expr *) other;
		set_value(qual, *value);
		return true;
	}
	if (IsA(clause, NullTest))
	{
		NullTest   *nt = (NullTest *) clause;
		Var		   *var = scan_var((Node *) nt->arg, relid);

		if (var == NULL || nt->argisrow)
			return false;
		qual->attnum = var->varattno;
		qual->op = nt->nulltesttype == IS_NULL ? MESH_QUAL_IS_NULL : MESH_QUAL_IS_NOT_NULL;
		qual->known = true;
		return true;
	}
	return false;
}

/* Text of a known scalar value, else of the unevaluated expression. */
char *
mesh_qual_display(MeshQual *qual)
{
	if (!qual->known && qual->display)
		return psprintf("(%s)", qual->display);
	if (!qual->known)
		return qual->paramid > 0 ? psprintf("$%d", qual->paramid) : pstrdup("?");
	if (qual->isnull)
		return pstrdup("NULL");
	return mesh_datum_text(qual->value, qual->valtype);
}

/*
 * The elements of an IN qual's array as text (NULL elements skipped, which
 * is what "= ANY" means for them).  Returns their number.
 */
int
mesh_qual_array_text(MeshQual *qual, char ***out)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				k = 0;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Oid			elemtype;

	*out = NULL;
	if (!qual->known || qual->isnull)
		return 0;
	arr = DatumGetArrayTypeP(qual->value);
	elemtype = ARR_ELEMTYPE(arr);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	*out = palloc(sizeof(char *) * Max(n, 1));
	if (n > 0)
	{
		Oid			outfn;
		bool		isvarlena;
		FmgrInfo	flinfo;

		/* the output function looked up once, not per element */
		getTypeOutputInfo(elemtype, &outfn, &isvarlena);
		fmgr_info(outfn, &flinfo);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				(*out)[k++] = OutputFunctionCall(&flinfo, elems[i]);
	}
	return k;
}
