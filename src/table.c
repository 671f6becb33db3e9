/*
 * table.c: a foreign table's description for connectors (options, columns)
 * and the shared value conversions between remote text and Datums.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "connector.h"

/* Describe foreign table relid: its options and every column's options. */
MeshTable *
mesh_table_open(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	ForeignTable *ft = GetForeignTable(relid);
	MeshTable  *t = palloc0(sizeof(MeshTable));

	t->relid = relid;
	t->relname = pstrdup(RelationGetRelationName(rel));
	t->options = ft->options;
	t->ncolumns = desc->natts;
	t->columns = palloc0(sizeof(MeshColumn) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		MeshColumn *col = &t->columns[i];

		col->attnum = i + 1;
		if (att->attisdropped)
			continue;
		col->name = pstrdup(NameStr(att->attname));
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->options = GetForeignColumnOptions(relid, i + 1);
	}
	table_close(rel, AccessShareLock);
	return t;
}

/* Look up input/output functions of every column (once per table). */
void
mesh_table_prepare_io(MeshTable *table)
{
	if (table->io_ready)
		return;
	for (int i = 0; i < table->ncolumns; i++)
	{
		MeshColumn *col = &table->columns[i];
		Oid			fn;
		bool		isvarlena;

		if (col->name == NULL)
			continue;
		getTypeInputInfo(col->typid, &fn, &col->typioparam);
		fmgr_info(fn, &col->in_func);
		getTypeOutputInfo(col->typid, &fn, &isvarlena);
		fmgr_info(fn, &col->out_func);
	}
	table->io_ready = true;
}

/* The column of that name, or NULL. */
MeshColumn *
mesh_table_column(MeshTable *table, const char *name)
{
	for (int i = 0; i < table->ncolumns; i++)
		if (table->columns[i].name && strcmp(table->columns[i].name, name) == 0)
			return &table->columns[i];
	return NULL;
}

/*
 * The connector's parsed form of a table (its layout): parse(table) run once
 * in the table's cache context and kept in table->private, or, for a table
 * that is not cached (no cxt), run in the current context each time.
 * parse reports a misfit with ereport.
 */
void *
mesh_table_parsed(MeshTable *table, void *(*parse) (MeshTable *table))
{
	MemoryContext old = CurrentMemoryContext;
	void	   *parsed;

	if (table->private)
		return table->private;
	if (table->cxt)
		MemoryContextSwitchTo(table->cxt);
	parsed = parse(table);
	MemoryContextSwitchTo(old);
	if (table->cxt)
		table->private = parsed;
	return parsed;
}

/* A column option's value, or NULL. */
const char *
mesh_column_option(MeshColumn *col, const char *name)
{
	return mesh_defelem_get(col->options, name);
}

static void
value_error_context(void *arg)
{
	MeshColumn *col = arg;

	errcontext("converting the remote value of column \"%s\"", col->name);
}

/*
 * Check a remote value's text (len bytes) as its column's input: no zero
 * byte, valid in the database encoding.  pg_verifymbstr rejects zero bytes
 * too, so the zero byte search only picks the message when it fails.
 */
static void
check_remote_text(MeshColumn *col, const char *data, size_t len)
{
	if (pg_verifymbstr(data, len, true))
		return;
	if (memchr(data, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("remote value for column \"%s\" contains a zero byte", col->name),
				 errhint("Declare the column as bytea to read binary values.")));
	ereport(ERROR,
			(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
			 errmsg("remote value for column \"%s\" is not valid in encoding \"%s\"",
					col->name, GetDatabaseEncodingName()),
			 errhint("Declare the column as bytea to read binary values.")));
}

/* The bytes as a bytea Datum. */
static Datum
bytea_value(const char *data, size_t len)
{
	bytea	   *b = palloc(len + VARHDRSZ);

	SET_VARSIZE(b, len + VARHDRSZ);
	memcpy(VARDATA(b), data, len);
	return PointerGetDatum(b);
}

/* The column's input function on checked, NUL-terminated text. */
static Datum
input_value(MeshColumn *col, char *str)
{
	ErrorContextCallback errcb;
	Datum		result;

	errcb.callback = value_error_context;
	errcb.arg = col;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	result = InputFunctionCall(&col->in_func, str, col->typioparam, col->typmod);
	error_context_stack = errcb.previous;
	return result;
}

/*
 * A remote value (len bytes, not NUL-terminated) as a Datum of the column's
 * type.  bytea takes the bytes as they are; every other type goes through
 * its input function after an encoding check, so invalid text is an error
 * naming the column, never a corrupt value.
 */
Datum
mesh_value_from_text(MeshColumn *col, const char *data, size_t len)
{
	if (col->typid == BYTEAOID)
		return bytea_value(data, len);
	check_remote_text(col, data, len);
	return input_value(col, pnstrdup(data, len));
}

/*
 * mesh_value_from_text for a value whose byte data[len] is '\0' (hiredis
 * replies, C strings): the same result without copying the text.
 */
Datum
mesh_value_from_cstring(MeshColumn *col, const char *data, size_t len)
{
	Assert(data[len] == '\0');
	if (col->typid == BYTEAOID)
		return bytea_value(data, len);
	check_remote_text(col, data, len);
	return input_value(col, unconstify(char *, data));
}

/* A Datum of the column's type as remote bytes; *len receives their length. */
char *
mesh_value_to_text(MeshColumn *col, Datum value, size_t *len)
{
	char	   *s;

	if (col->typid == BYTEAOID)
	{
		bytea	   *b = DatumGetByteaPP(value);

		*len = VARSIZE_ANY_EXHDR(b);
		return VARDATA_ANY(b);
	}
	s = OutputFunctionCall(&col->out_func, value);
	*len = strlen(s);
	return s;
}

/* SQL spelling of a qual operator, for messages and EXPLAIN. */
const char *
mesh_qual_op_name(MeshQualOp op)
{
	static const char *const names[] = {
		"=", "<>", "<", "<=", ">", ">=", "= ANY", "LIKE", "IS NULL", "IS NOT NULL"
	};

	return names[op];
}
