#include "lib/base/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The smallest allocation, in elements: small arrays should not grow one
 * realloc at a time. */
#define BUF_MIN_ELEMENTS 16

char buf_empty[1];

int buf_array_grow(void *arrp, size_t size, size_t need, size_t *cap)
{
	void *arr, *grown;
	size_t n;

	if (need <= *cap)
		return 0;
	if (size == 0 || need > SIZE_MAX / size) {
		errno = ENOMEM;
		return -1;
	}
	/* Doubling keeps n appends O(n); near the limit, exactly need. */
	n = *cap <= SIZE_MAX / size / 2 ? *cap * 2 : need;
	if (n < BUF_MIN_ELEMENTS && BUF_MIN_ELEMENTS <= SIZE_MAX / size)
		n = BUF_MIN_ELEMENTS;
	if (n < need)
		n = need;
	/* arrp is the address of a pointer of some object pointer type: read
	 * and write it as bytes, so no pointer is accessed through a type it
	 * does not have. */
	memcpy(&arr, arrp, sizeof arr);
	grown = realloc(arr, n * size);
	if (!grown) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(arrp, &grown, sizeof grown);
	*cap = n;
	return 0;
}

void buf_init(struct buf *b)
{
	b->data = buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void buf_release(struct buf *b)
{
	int saved = errno;

	if (b->alloc)
		free(b->data);
	buf_init(b);
	errno = saved;
}

int buf_grow(struct buf *b, size_t extra)
{
	/* len + extra + 1 bytes, the NUL included. */
	if (extra >= SIZE_MAX - b->len) {
		errno = ENOMEM;
		return -1;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	char *data = b->alloc ? b->data : NULL;
	size_t alloc = b->alloc;
	if (buf_array_grow(&data, 1, need, &alloc))
		return -1;
	if (!b->alloc)
		data[0] = '\0'; /* len is 0: an unallocated buffer holds nothing */
	b->data = data;
	b->alloc = alloc;
	return 0;
}

void buf_setlen(struct buf *b, size_t len)
{
	if (!b->alloc) {
		b->len = 0; /* nothing allocated: nothing to take in */
		return;
	}
	if (len >= b->alloc)
		len = b->alloc - 1;
	b->len = len;
	b->data[len] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *data = b->data;
	size_t n = b->len;

	if (!b->alloc) {
		data = calloc(1, 1);
		if (!data) {
			errno = ENOMEM;
			return NULL;
		}
		n = 0;
	}
	if (len)
		*len = n;
	buf_init(b);
	return data;
}
