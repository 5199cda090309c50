/*
 * jsontext — JSON text as tradelearn writes it.
 *
 * jansson prints reals with 17 significant digits (-0.23 comes out as
 * -0.23000000000000001). Files that people and bots read should say -0.23,
 * and still parse back to the very same double, so reals are written with
 * the fewest digits (15, 16 or 17) that round-trip. Keys keep insertion
 * order; non-finite reals become null (JSON has no NaN).
 */
#ifndef TRADELEARN_JSONTEXT_H
#define TRADELEARN_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/base/buf.h"

#define JSONTEXT_COMPACT 0
#define JSONTEXT_PRETTY 1 /* two-space indent, a newline at the end */

/* Serializes v; returns a malloc'd NUL-terminated string (free it) and its
 * length in *len (may be NULL), or NULL on ENOMEM. */
char *jsontext_dump(const json_t *v, int style, size_t *len);

/* Appends to b the JSON text of v as jsontext_dump() writes it (without
 * the newline it ends a JSONTEXT_PRETTY document with); of a string of n
 * bytes at s, escaped as jsontext_dump() escapes; of a real as
 * jsontext_real() writes it ("null" when it is not finite). Returns 0, or
 * -1 on ENOMEM (b then holds part of the text). */
int jsontext_add(struct buf *b, const json_t *v, int style);
int jsontext_add_string(struct buf *b, const char *s, size_t n);
int jsontext_add_real(struct buf *b, double d);

/* Copies src into dst (size bytes, NUL-terminated), cut at a UTF-8
 * character boundary when too long, so a bounded name never becomes invalid
 * text (jansson refuses it). */
void jsontext_copy_utf8(char *dst, size_t size, const char *src);

/* Writes the shortest round-trip text of d into buf (at least 32 bytes). */
void jsontext_real(double d, char *buf, size_t len);

/* A new JSON real of d, or JSON null when d is not finite: JSON has no NaN
 * or infinity, and tradelearn keeps an absent figure as NaN. New
 * reference; NULL on ENOMEM. */
json_t *jsontext_real_or_null(double d);

/* A time (microseconds UTC, calendar.h) as its ISO-8601 text
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ", or null for CALENDAR_NONE. A new
 * reference, or NULL on ENOMEM. */
json_t *jsontext_time_or_null(int64_t us);

#endif
