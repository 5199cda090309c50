/*
 * jsonarena — jansson's allocations of one thread from an arena, dropped
 * all at once.
 *
 * A parsed log line is a tree of a hundred small jansson allocations that
 * all die together when the record is done with. Between jsonarena_enter()
 * and jsonarena_leave(), every allocation jansson makes on the calling
 * thread is cut from the arena (a bump pointer in large blocks); jansson's
 * frees of arena memory are no-ops, and jsonarena_reset() drops it all in
 * one step. Allocations of other threads, and of this one outside the arena,
 * go to malloc() and free() as before.
 *
 * Rules for the caller:
 *   - jsonarena_install() puts the allocation functions in place, once per
 *     process (later calls do nothing), while no other thread uses jansson
 *     (jansson's json_set_alloc_funcs() is not atomic). Values made before
 *     it are freed through free() as usual.
 *   - Values made in an arena live until its reset: json_decref() of one
 *     frees nothing, and no reference to one may be kept past the reset
 *     (copy what must stay, e.g. with json_deep_copy() outside the arena).
 *   - A value made in an arena may be read and referenced by another
 *     thread (after a handover that orders memory, such as a mutex), but
 *     only json_decref()'d by a thread while that arena is entered, or
 *     never: dropping the last reference of an arena value outside its
 *     arena would hand arena memory to free().
 * Allocations too large for a block are malloc'd, tracked by the arena and
 * freed at its reset (or by jansson, while the arena is entered).
 */
#ifndef TRADELEARN_JSONARENA_H
#define TRADELEARN_JSONARENA_H

#include <stddef.h>

struct jsonarena;

/* Installs the allocation functions (see above). Idempotent. */
void jsonarena_install(void);

/* A new empty arena (nothing allocated until first used), or NULL on
 * ENOMEM. */
struct jsonarena *jsonarena_new(void);

/* Frees the arena and everything in it. NULL does nothing. Not while it is
 * entered. */
void jsonarena_free(struct jsonarena *a);

/* Drops everything allocated in the arena, keeping a few of its blocks for
 * reuse. Not while it is entered. */
void jsonarena_reset(struct jsonarena *a);

/* From now on jansson allocates on this thread from a (NULL: malloc()
 * again). Returns the arena entered before, to give back to
 * jsonarena_leave(). Needs jsonarena_install(). */
struct jsonarena *jsonarena_enter(struct jsonarena *a);
void jsonarena_leave(struct jsonarena *previous);

/* Bytes the arena holds now (blocks and large allocations). */
size_t jsonarena_size(const struct jsonarena *a);

#endif
