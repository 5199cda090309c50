#include "lib/base/jsonarena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>

#include "lib/base/buf.h"

/* A block holds many rows' worth of small allocations; a larger request
 * than LARGE_BYTES gets a malloc() of its own. Reset keeps KEEP_BLOCKS. */
#define BLOCK_BYTES (64 * 1024)
#define LARGE_BYTES (BLOCK_BYTES / 8)
#define KEEP_BLOCKS 4
#define ALIGN 16 /* what malloc() promises: jansson stores doubles and pointers */

struct jsonarena {
	char **block; /* BLOCK_BYTES each */
	size_t n_blocks, cap_blocks;
	size_t used; /* blocks [0, used) hold allocations; the last one has room */
	char *next, *end;
	void **large; /* malloc'd allocations of more than LARGE_BYTES */
	size_t *large_bytes;
	size_t n_large, cap_large, cap_large_bytes, large_total;
};

static _Thread_local struct jsonarena *current;

static void *large_alloc(struct jsonarena *a, size_t n)
{
	if (BUF_ARRAY_GROW(a->large, a->n_large + 1, a->cap_large) ||
	    BUF_ARRAY_GROW(a->large_bytes, a->n_large + 1, a->cap_large_bytes))
		return NULL;
	void *p = malloc(n);
	if (!p)
		return NULL;
	a->large[a->n_large] = p;
	a->large_bytes[a->n_large++] = n;
	a->large_total += n;
	return p;
}

static void *arena_alloc(struct jsonarena *a, size_t n)
{
	n = n ? (n + ALIGN - 1) & ~(size_t)(ALIGN - 1) : ALIGN;
	if (n > LARGE_BYTES)
		return large_alloc(a, n);
	if ((size_t)(a->end - a->next) < n) {
		if (a->used == a->n_blocks) {
			if (BUF_ARRAY_GROW(a->block, a->n_blocks + 1, a->cap_blocks))
				return NULL;
			char *b = malloc(BLOCK_BYTES);
			if (!b)
				return NULL;
			a->block[a->n_blocks++] = b;
		}
		a->next = a->block[a->used++];
		a->end = a->next + BLOCK_BYTES;
	}
	void *p = a->next;
	a->next += n;
	return p;
}

/* 1 when p is the arena's: a no-op for a block's allocation, the end of a
 * large one. The current block is looked at first: jansson frees what it
 * just allocated (a grown buffer, an object's old table). */
static int arena_release(struct jsonarena *a, void *p)
{
	uintptr_t at = (uintptr_t)p;
	for (size_t i = a->used; i-- > 0;) {
		uintptr_t b = (uintptr_t)a->block[i];
		if (at >= b && at < b + BLOCK_BYTES)
			return 1;
	}
	for (size_t i = a->n_large; i-- > 0;) {
		if (a->large[i] != p)
			continue;
		free(p);
		a->large_total -= a->large_bytes[i];
		a->n_large--;
		a->large[i] = a->large[a->n_large];
		a->large_bytes[i] = a->large_bytes[a->n_large];
		return 1;
	}
	return 0;
}

static void *hook_malloc(size_t n)
{
	struct jsonarena *a = current;
	return a ? arena_alloc(a, n) : malloc(n);
}

static void hook_free(void *p)
{
	struct jsonarena *a = current;
	if (!p || (a && arena_release(a, p)))
		return;
	free(p);
}

static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void install(void)
{
	json_set_alloc_funcs(hook_malloc, hook_free);
}

void jsonarena_install(void)
{
	pthread_once(&installed, install);
}

struct jsonarena *jsonarena_new(void)
{
	return calloc(1, sizeof(struct jsonarena));
}

static void drop_large(struct jsonarena *a)
{
	for (size_t i = 0; i < a->n_large; i++)
		free(a->large[i]);
	a->n_large = 0;
	a->large_total = 0;
}

void jsonarena_reset(struct jsonarena *a)
{
	drop_large(a);
	while (a->n_blocks > KEEP_BLOCKS)
		free(a->block[--a->n_blocks]);
	a->used = 0;
	a->next = a->end = NULL;
}

void jsonarena_free(struct jsonarena *a)
{
	if (!a)
		return;
	drop_large(a);
	for (size_t i = 0; i < a->n_blocks; i++)
		free(a->block[i]);
	free(a->block);
	free(a->large);
	free(a->large_bytes);
	free(a);
}

struct jsonarena *jsonarena_enter(struct jsonarena *a)
{
	struct jsonarena *previous = current;
	current = a;
	return previous;
}

void jsonarena_leave(struct jsonarena *previous)
{
	current = previous;
}

size_t jsonarena_size(const struct jsonarena *a)
{
	return a->n_blocks * BLOCK_BYTES + a->large_total;
}
