/*
 * buf — the one growable byte buffer, and the one way arrays grow.
 *
 * Invariants of a struct buf, after BUF_INIT or buf_init() and after every
 * function below:
 *   - data is always a NUL-terminated string: data[len] == '\0', so the
 *     bytes can be handed to anything that wants a C string (they may also
 *     hold NUL bytes of their own: len, not strlen, is the length);
 *   - len < alloc while data is allocated; alloc == 0 means nothing is
 *     allocated yet and data points to a shared empty string that must never
 *     be written (buf_grow() first).
 * A zeroed struct buf (as in a calloc'd struct) is also accepted by every
 * function here, as an empty buffer whose data is NULL until it first grows:
 * read data only after adding to it, or initialize with BUF_INIT.
 *
 * Growth can fail: every function that grows returns 0, or -1 with
 * errno = ENOMEM (out of memory, or a size that does not fit in size_t) and
 * the buffer or array left exactly as it was.
 */
#ifndef TRADELEARN_BUF_H
#define TRADELEARN_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
	char *data;
	size_t len;   /* bytes in use, not counting the NUL after them */
	size_t alloc; /* bytes allocated at data; 0: nothing allocated */
};

/* The shared empty string of unallocated buffers; never written. */
extern char buf_empty[1];

#define BUF_INIT                                                                                   \
	{                                                                                          \
		buf_empty, 0, 0                                                                    \
	}

/* An empty buffer, nothing allocated. */
void buf_init(struct buf *b);

/* Frees what b holds and leaves it as buf_init() does. errno is kept, so it
 * may run on the way out of a failure. */
void buf_release(struct buf *b);

/* Room for at least extra more bytes after len (and the NUL): afterwards
 * alloc - len - 1 >= extra, so up to extra bytes may be written at
 * data + len before buf_setlen(). Capacity at least doubles when it grows,
 * so n appends cost O(n) in all. */
int buf_grow(struct buf *b, size_t extra);

/* Appends n bytes from data (which may not point into b). Inline: JSON
 * text is written a few bytes at a time. */
static inline int buf_add(struct buf *b, const void *data, size_t n)
{
	/* The room is alloc - len - 1; alloc - len <= n says it is short
	 * without wrapping when nothing is allocated (0 - 0 - 1). */
	if (b->alloc - b->len <= n && buf_grow(b, n))
		return -1;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Sets the length to len and writes the NUL after it: shorter truncates,
 * longer takes in bytes written into the room buf_grow() made. A len beyond
 * that room (alloc - 1) is cut to it. */
void buf_setlen(struct buf *b, size_t len);

/* Empties b, keeping its allocation for reuse. */
static inline void buf_reset(struct buf *b)
{
	buf_setlen(b, 0);
}

/* Hands the bytes over: returns a malloc'd NUL-terminated string of b->len
 * bytes (the caller frees it; a new empty string when nothing was
 * allocated), its length in *len (len may be NULL), and leaves b as
 * buf_init() does. NULL on ENOMEM (only possible for an unallocated b),
 * then b is unchanged. */
char *buf_detach(struct buf *b, size_t *len);

/* ---- arrays -------------------------------------------------------------- */

/* Room for at least need elements in arr, an array (pointer variable, NULL
 * when empty, malloc'd) with room for cap elements (a size_t variable).
 * On growth arr and cap are updated, the first cap elements kept, the new
 * ones uninitialized; capacity at least doubles. Returns 0, or -1 with
 * errno = ENOMEM (out of memory, or need elements overflow size_t), arr and
 * cap unchanged. arr, need and cap are evaluated more than once.
 *
 *     if (BUF_ARRAY_GROW(list, n + 1, cap))
 *             return -1;
 *     list[n++] = item;
 */
#define BUF_ARRAY_GROW(arr, need, cap)                                                             \
	((need) <= (cap) ? 0 : buf_array_grow(&(arr), sizeof *(arr), (need), &(cap)))

/* The function behind BUF_ARRAY_GROW: arrp is the address of the array's
 * pointer variable (of any object pointer type), size the element size. */
int buf_array_grow(void *arrp, size_t size, size_t need, size_t *cap);

#endif
