/*
 * capture_text.h: the text forms of captured values (capture_text.c).
 */
#ifndef MESH_CAPTURE_TEXT_H
#define MESH_CAPTURE_TEXT_H

#include "fmgr.h"

/* A value's text form: data (not always NUL-terminated), len bytes; NULL data: SQL null. */
typedef struct MeshText
{
	const char *data;
	int			len;
} MeshText;

/* How to make a column's text form: a fast path of capture_text.c or its output function. */
typedef struct MeshTextOut
{
	char		kind;			/* MESH_TEXT_* of capture_text.c */
	FmgrInfo	out;			/* the type's output function */
} MeshTextOut;

/* Room a fast path may use for one value (the caller's scratch, per column). */
#define MESH_TEXT_SCRATCH 48

/* Set up o for type typid (fmgr info allocated in cxt). */
extern void mesh_text_out_init(MeshTextOut *o, Oid typid, MemoryContext cxt);

/*
 * The text form of a non-null value into *t, byte-identical to the type's
 * output function under mesh's canonical output settings (ISO dates, UTC,
 * extra_float_digits > 0): integers, floats, booleans, text types and
 * timestamps of years 1-9999 are formatted directly (into scratch, or
 * pointing into the value itself), anything else through the output
 * function (palloc'd in the current memory context).
 */
extern void mesh_text_of(const MeshTextOut *o, Datum value, char *scratch, MeshText *t);

#endif
