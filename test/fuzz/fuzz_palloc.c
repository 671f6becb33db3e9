/*
 * fuzz_palloc.c: the palloc family for fuzz targets built as frontend code:
 * every allocation goes into an arena that fuzz_palloc_reset() frees after
 * each input (the backend's memory contexts do the same job), so a long
 * run neither leaks nor hides use-after-reset from AddressSanitizer.
 */
#include "postgres_fe.h"

#include "fuzz_palloc.h"

typedef struct Block
{
	struct Block *next;
	size_t		size;
	max_align_t data[];
} Block;

static Block *blocks = NULL;

void *
palloc(Size size)
{
	Block	   *b = malloc(sizeof(Block) + size + 1);

	if (b == NULL)
		abort();
	b->next = blocks;
	b->size = size;
	blocks = b;
	return b->data;
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

void *
palloc_extended(Size size, int flags)
{
	return (flags & MCXT_ALLOC_ZERO) ? palloc0(size) : palloc(size);
}

void *
repalloc(void *ptr, Size size)
{
	Block	   *old = (Block *) ((char *) ptr - offsetof(Block, data));
	void	   *p = palloc(size);

	memcpy(p, ptr, Min(old->size, size));
	return p;
}

void
pfree(void *ptr)
{
	(void) ptr;					/* freed with the arena */
}

char *
pstrdup(const char *in)
{
	return pnstrdup(in, strlen(in));
}

char *
pnstrdup(const char *in, Size len)
{
	size_t		n = strnlen(in, len);
	char	   *p = palloc(n + 1);

	memcpy(p, in, n);
	p[n] = '\0';
	return p;
}

void
fuzz_palloc_reset(void)
{
	while (blocks)
	{
		Block	   *next = blocks->next;

		free(blocks);
		blocks = next;
	}
}
