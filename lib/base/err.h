/*
 * err — the one way tradelearn reports a failure.
 *
 * Every function that can fail takes a `struct err *` (last argument) and
 * returns -1 (or NULL for a constructor or a lookup that allocates), with
 * the reason in it; 0 (or the object) on success. The caller adds its own
 * context in front with err_prefix() and passes it up, so the message a
 * person finally reads says where and why in one line:
 *
 *     state/learning_processing_state.json: format 99 is newer than this program's
 *
 * `code` is an errno value naming the kind of failure, for callers that
 * must tell failures apart (ENOENT absent, EWOULDBLOCK lock held, ERANGE a
 * file shorter than committed, EINVAL bad input, ENOMEM...). Every helper
 * below also leaves errno equal to `code`, and accepts a NULL err (the
 * failure is then only returned).
 *
 * A message is never formatted from its own buffer: err_prefix() builds
 * the new text in a separate buffer before copying it in.
 */
#ifndef TRADELEARN_ERR_H
#define TRADELEARN_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512

struct err {
	int code;	       /* an errno value; 0 before any failure */
	char msg[ERR_MSG_MAX]; /* one line, NUL-terminated, cut when longer */
};

/* Sets e to errno's current value and the printf-style message; returns -1
 * with errno unchanged. For failures of system calls, whose errno says it. */
int err_fail(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets e to code and the message; returns -1 with errno = code. For
 * failures the program decides (bad input: EINVAL; damage: EBADMSG...). */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Puts "<context>: " in front of the message in e, keeping its code;
 * returns -1 with errno = the code. With an empty message, the context
 * alone becomes the message. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forgets any failure (code 0, empty message). */
void err_clear(struct err *e);

#endif
