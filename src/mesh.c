/*
 * mesh.c: module entry point.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Loaded by shared_preload_libraries or on first use. */
void
_PG_init(void)
{
	/* GUCs and the replication launcher arrive with replication. */
}
