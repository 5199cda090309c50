#include "lib/base/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vformat(struct err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int err_fail(struct err *e, const char *fmt, ...)
{
	int saved = errno;

	if (e) {
		va_list ap;

		va_start(ap, fmt);
		vformat(e, saved, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;

		va_start(ap, fmt);
		vformat(e, code, fmt, ap);
		va_end(ap);
	}
	errno = code;
	return -1;
}

/* Appends src to dst (ERR_MSG_MAX bytes, *len used), cutting what does not fit. */
static void append(char *dst, size_t *len, const char *src)
{
	size_t room = ERR_MSG_MAX - 1 - *len;
	size_t n = strlen(src);

	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--; /* never cut a UTF-8 character in two */
	}
	memcpy(dst + *len, src, n);
	*len += n;
	dst[*len] = '\0';
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char context[ERR_MSG_MAX];
	char joined[ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
	size_t len = 0;
	append(joined, &len, context);
	if (e->msg[0]) {
		append(joined, &len, ": ");
		append(joined, &len, e->msg);
	}
	memcpy(e->msg, joined, len + 1);
	if (!e->code)
		e->code = EIO;
	errno = e->code;
	return -1;
}

void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}
