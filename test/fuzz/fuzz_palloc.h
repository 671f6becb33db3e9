/* fuzz_palloc.h: frees every palloc of the current fuzz input (fuzz_palloc.c). */
#ifndef MESH_FUZZ_PALLOC_H
#define MESH_FUZZ_PALLOC_H

extern void fuzz_palloc_reset(void);

#endif
