/*
 * event_decode.c: an event-log row's jsonb (key or row: one object of text
 * values, as capture writes them) to a MeshEvent's values, aligned with a
 * route's columns.
 *
 * The decoder walks the object's entries once, in their stored order
 * (jsonb sorts an object's keys by length, then bytes), against the
 * route's columns sorted the same way once per decoder: no lookup per
 * column.  An event's strings share one allocation with its values array.
 * Columns the object lacks, and JSON nulls, are NULL; a value that is not
 * a string (capture writes none) is its JSON text.
 *
 * Contract: the decoder and what it decodes live in the memory context
 * current at the call.
 */
#include "postgres.h"

#include "access/htup.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "mesh.h"

struct MeshEventDecoder
{
	int			ncolumns;
	char	  **columns;		/* the route's, not copied */
	int		   *order;			/* column indexes in jsonb key order */
	int		   *lengths;		/* per column: strlen of its name */
};

static MeshEventDecoder *sort_decoder;	/* for order_cmp only */

/* jsonb's key order: shorter first, then by bytes. */
static int
key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static int
order_cmp(const void *x, const void *y)
{
	int			a = *(const int *) x;
	int			b = *(const int *) y;

	return key_cmp(sort_decoder->columns[a], sort_decoder->lengths[a],
				   sort_decoder->columns[b], sort_decoder->lengths[b]);
}

/* A decoder for route's columns. */
MeshEventDecoder *
mesh_event_decoder(MeshRoute *route)
{
	MeshEventDecoder *d = palloc(sizeof(MeshEventDecoder));
	int			n = route->ncolumns;

	d->ncolumns = n;
	d->columns = route->columns;
	d->order = palloc(sizeof(int) * Max(n, 1));
	d->lengths = palloc(sizeof(int) * Max(n, 1));
	for (int c = 0; c < n; c++)
	{
		d->order[c] = c;
		d->lengths[c] = strlen(route->columns[c]);
	}
	sort_decoder = d;
	qsort(d->order, n, sizeof(int), order_cmp);
	sort_decoder = NULL;
	return d;
}

/* The text of a value that is not a string or null (capture writes none). */
static char *
other_text(JEntry entry, char *data)
{
	if (JBE_ISBOOL_TRUE(entry))
		return pstrdup("true");
	if (JBE_ISBOOL_FALSE(entry))
		return pstrdup("false");
	if (JBE_ISNUMERIC(entry))
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   PointerGetDatum(data)));
	return JsonbToCString(NULL, (JsonbContainer *) data, -1);
}

/*
 * values[c] for each of the decoder's columns from the object obj (NULL:
 * all NULL); values has ncolumns slots, zeroed.
 */
static void
decode_object(MeshEventDecoder *d, Jsonb *obj, char **values)
{
	JsonbContainer *jc;
	int			count;
	char	   *base;
	char	   *arena;
	uint32		offset = 0;
	uint32		value_offset;
	int			next = 0;		/* into d->order */

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return;
	jc = &obj->root;
	count = JsonContainerSize(jc);
	base = (char *) &jc->children[count * 2];
	/* every string fits in the object's bytes, each with its NUL */
	arena = palloc(VARSIZE(obj) + d->ncolumns);
	/* the values' offsets continue from the keys' */
	for (int i = 0; i < count; i++)
		JBE_ADVANCE_OFFSET(offset, jc->children[i]);
	value_offset = offset;
	offset = 0;
	for (int i = 0; i < count && next < d->ncolumns; i++)
	{
		uint32		key_start = offset;
		uint32		val_start = value_offset;
		JEntry		ventry = jc->children[count + i];
		int			c;
		int			cmp = -1;

		JBE_ADVANCE_OFFSET(offset, jc->children[i]);
		JBE_ADVANCE_OFFSET(value_offset, ventry);
		/* columns that sort before this key are absent: NULL */
		while (next < d->ncolumns)
		{
			c = d->order[next];
			cmp = key_cmp(d->columns[c], d->lengths[c], base + key_start,
						  offset - key_start);
			if (cmp >= 0)
				break;
			next++;
		}
		if (cmp != 0)
			continue;			/* a key no column has */
		next++;
		if (JBE_ISNULL(ventry))
			continue;
		if (JBE_ISSTRING(ventry))
		{
			uint32		len = value_offset - val_start;

			memcpy(arena, base + val_start, len);
			arena[len] = '\0';
			values[c] = arena;
			arena += len + 1;
		}
		else
			values[c] = other_text(ventry, base + INTALIGN(val_start));
	}
}

/*
 * Fill ev's op and values from an event-log row: the row's columns, or,
 * when the row is NULL (a delete), the key's; a TRUNCATE has none.
 */
void
mesh_event_decode(MeshEventDecoder *d, char op, Jsonb *key, Jsonb *row, MeshEvent *ev)
{
	ev->op = op;
	ev->values = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
	if (op == 'T')
		return;
	decode_object(d, row ? row : key, ev->values);
}
