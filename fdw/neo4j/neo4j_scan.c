/*
 * neo4j_scan.c: a foreign table over the nodes of one label.
 *
 * Table option label (default: the table's name); each column reads the
 * node property of its name (column option property renames it), and a
 * column with option element_id 'true' reads elementId(n).  Pushed down:
 * column = value, column = ANY(array), IS [NOT] NULL (as Cypher WHERE with
 * the values as parameters) and LIMIT/OFFSET when every qual is pushed
 * exactly.  The scan is one request:
 *     MATCH (n:`Label`) WHERE n.`p` = $p1 RETURN n.`a`, elementId(n) SKIP 0 LIMIT 10
 * and EXPLAIN VERBOSE shows that text and its parameters.
 */
#include "postgres.h"

#include "neo4j.h"

#include "json_typed.h"

#include "catalog/pg_type.h"
#include "utils/lsyscache.h"

#include "mesh_util.h"

/* How the table's columns map to the node (cached in table->private). */
typedef struct Neo4jLayout
{
	char	   *label;
	char	  **property;		/* per attnum - 1; NULL for element_id or dropped */
	bool	   *element_id;
} Neo4jLayout;

typedef struct Neo4jScanState
{
	json_t	   *data;			/* the rows of the answer */
	size_t		next;
	int			nreturned;
	AttrNumber *returned;		/* attnum of each returned value */
} Neo4jScanState;

static Neo4jLayout *
layout(MeshTable *table)
{
	Neo4jLayout *l;
	MemoryContext old;

	if (table->private)
		return table->private;
	old = MemoryContextSwitchTo(table->cxt ? table->cxt : CurrentMemoryContext);
	l = palloc0(sizeof(Neo4jLayout));
	l->label = pstrdup(mesh_defelem_get(table->options, "label") ?
					   mesh_defelem_get(table->options, "label") : table->relname);
	neo4j_check_name("label", l->label);
	l->property = palloc0(sizeof(char *) * Max(table->ncolumns, 1));
	l->element_id = palloc0(sizeof(bool) * Max(table->ncolumns, 1));
	for (int i = 0; i < table->ncolumns; i++)
	{
		MeshColumn *col = &table->columns[i];
		const char *eid,
				   *prop;

		if (col->name == NULL)
			continue;
		eid = mesh_column_option(col, "element_id");
		prop = mesh_column_option(col, "property");
		if (eid && strcmp(eid, "true") == 0)
			l->element_id[i] = true;
		else
			l->property[i] = pstrdup(prop ? prop : col->name);
	}
	MemoryContextSwitchTo(old);
	table->private = l;
	return l;
}

/* Types whose Cypher equality is PostgreSQL's (LIMIT can be pushed with them). */
static bool
exact_type(Oid typid)
{
	switch (getBaseType(typid))
	{
		case TEXTOID:
		case VARCHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case BOOLOID:
			return true;
	}
	return false;
}

void
neo4j_plan_scan(MeshScanPlan *plan)
{
	Neo4jLayout *l = layout(plan->table);

	plan->rows = 1000;
	for (int i = 0; i < plan->nquals; i++)
	{
		MeshQual   *q = &plan->quals[i];
		MeshColumn *col = &plan->table->columns[q->attnum - 1];

		if (q->op != MESH_QUAL_EQ && q->op != MESH_QUAL_IN &&
			q->op != MESH_QUAL_IS_NULL && q->op != MESH_QUAL_IS_NOT_NULL)
			continue;
		if (l->element_id[q->attnum - 1] && (q->op == MESH_QUAL_IS_NULL ||
											 q->op == MESH_QUAL_IS_NOT_NULL))
			continue;
		q->pushed = true;
		q->exact = l->element_id[q->attnum - 1] || exact_type(col->typid) ||
			q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL;
		if (q->op == MESH_QUAL_EQ)
			plan->rows = 10;
	}
}

/* LIMIT/OFFSET of a plain scan whose quals are all pushed exactly. */
bool
neo4j_plan_upper(MeshScanPlan *plan, MeshUpper *upper)
{
	if (upper->noutputs > 0 || upper->nsort > 0)
		return false;
	if (upper->limit >= 0 && upper->limit < plan->rows)
		plan->rows = upper->limit;
	return true;
}

/* The expression of column attnum in Cypher: n.`prop` or elementId(n). */
static void
append_column(StringInfo buf, Neo4jLayout *l, AttrNumber attnum)
{
	if (l->element_id[attnum - 1])
		appendStringInfoString(buf, "elementId(n)");
	else
	{
		appendStringInfoString(buf, "n.");
		neo4j_append_ident(buf, l->property[attnum - 1]);
	}
}

/*
 * The query of scan, and its parameters (a JSON object's text).  With
 * explain, parameters not yet known show as their SQL text.
 */
static void
deparse(MeshScan *scan, StringInfo cypher, StringInfo params, bool explain,
		Neo4jScanState *st)
{
	MeshTable  *table = scan->table;
	Neo4jLayout *l = layout(table);
	int			np = 0;

	appendStringInfoString(cypher, "MATCH (n:");
	neo4j_append_ident(cypher, l->label);
	appendStringInfoChar(cypher, ')');
	appendStringInfoChar(params, '{');
	for (int i = 0; i < scan->nquals; i++)
	{
		MeshQual   *q = &scan->quals[i];
		Oid			coltype = table->columns[q->attnum - 1].typid;

		appendStringInfoString(cypher, i == 0 ? " WHERE " : " AND ");
		append_column(cypher, l, q->attnum);
		if (q->op == MESH_QUAL_IS_NULL || q->op == MESH_QUAL_IS_NOT_NULL)
		{
			appendStringInfoString(cypher, q->op == MESH_QUAL_IS_NULL ? " IS NULL" : " IS NOT NULL");
			continue;
		}
		np++;
		appendStringInfo(cypher, q->op == MESH_QUAL_IN ? " IN $p%d" : " = $p%d", np);
		appendStringInfo(params, "%s\"p%d\":", np > 1 ? "," : "", np);
		if (!q->known && explain)
			mesh_json_append_string(params, mesh_qual_display(q), strlen(mesh_qual_display(q)));
		else if (q->isnull)
			appendStringInfoString(params, q->op == MESH_QUAL_IN ? "[]" : "null");
		else if (q->op == MESH_QUAL_IN)
		{
			char	  **elems;
			int			n = mesh_qual_array_text(q, &elems);

			appendStringInfoChar(params, '[');
			for (int k = 0; k < n; k++)
			{
				if (k > 0)
					appendStringInfoChar(params, ',');
				mesh_json_append_typed(params, l->element_id[q->attnum - 1] ? TEXTOID : getBaseType(coltype),
								   elems[k]);
			}
			appendStringInfoChar(params, ']');
		}
		else
			mesh_json_append_typed(params, l->element_id[q->attnum - 1] ? TEXTOID : getBaseType(coltype),
							   mesh_datum_text(q->value, q->valtype));
	}
	appendStringInfoChar(params, '}');
	appendStringInfoString(cypher, " RETURN ");
	for (int i = 0, n = 0; i < table->ncolumns; i++)
	{
		if (table->columns[i].name == NULL || (scan->wanted && !scan->wanted[i]))
			continue;
		if (n > 0)
			appendStringInfoString(cypher, ", ");
		append_column(cypher, l, i + 1);
		if (st)
			st->returned[st->nreturned++] = i + 1;
		n++;
	}
	if (cypher->data[cypher->len - 1] == ' ')
		appendStringInfoString(cypher, "1");	/* no column is used: count rows */
	if (scan->upper && scan->upper->offset > 0)
		appendStringInfo(cypher, " SKIP " INT64_FORMAT, scan->upper->offset);
	if (scan->upper && scan->upper->limit >= 0)
		appendStringInfo(cypher, " LIMIT " INT64_FORMAT, scan->upper->limit);
}

void
neo4j_begin_scan(MeshScan *scan)
{
	Neo4jScanState *st = palloc0(sizeof(Neo4jScanState));
	StringInfoData cypher,
				params;
	Neo4jStatement stmt;
	json_t	   *result;

	scan->state = st;
	st->returned = palloc(sizeof(AttrNumber) * Max(scan->table->ncolumns, 1));
	initStringInfo(&cypher);
	initStringInfo(&params);
	deparse(scan, &cypher, &params, false, st);
	stmt.cypher = cypher.data;
	stmt.params = params.data;
	scan->requests++;
	result = json_array_get(neo4j_run(scan->conn, &stmt, 1, "a scan"), 0);
	st->data = json_object_get(result, "data");
}

bool
neo4j_next_row(MeshScan *scan, Datum *values, bool *nulls)
{
	Neo4jScanState *st = scan->state;
	Neo4jConn  *nc = scan->conn;
	json_t	   *item,
			   *row;

	if (st->next >= json_array_size(st->data))
		return false;
	item = json_array_get(st->data, st->next++);
	row = json_is_object(item) ? json_object_get(item, "row") : NULL;
	if (!json_is_array(row) || (st->nreturned > 0 && (int) json_array_size(row) != st->nreturned))
		mesh_json_malformed(nc->servername, "a scan", "A row does not have one value per column.");
	for (int i = 0; i < scan->table->ncolumns; i++)
		nulls[i] = true;
	for (int i = 0; i < st->nreturned; i++)
	{
		AttrNumber	att = st->returned[i];

		values[att - 1] = mesh_json_to_datum(&scan->table->columns[att - 1],
											 json_array_get(row, i), &nulls[att - 1]);
	}
	return true;
}

void
neo4j_end_scan(MeshScan *scan)
{
	scan->state = NULL;
}

/* EXPLAIN VERBOSE: the Cypher sent and its parameters. */
char *
neo4j_explain_scan(MeshScan *scan)
{
	StringInfoData cypher,
				params;

	initStringInfo(&cypher);
	initStringInfo(&params);
	deparse(scan, &cypher, &params, true, NULL);
	return psprintf("%s PARAMS %s", cypher.data, params.data);
}
