/*
 * framelog — append-only zstd frame logs.
 *
 * A frame log is a file of concatenated, independent zstd frames; each batch
 * of lines (one commit) is exactly one frame, so the file is a valid .zst that
 * `zstd -dc` prints in full, and a frame cut short by a crash is detectable
 * and cut back on recovery (durable_cut_back to the committed length).
 *
 * Writer: buffer lines with framelog_add(), then framelog_flush() compresses
 * them into one frame, appends and fsyncs it. framelog_length() is the length
 * to record in the state file as committed.
 *
 * Reader: framelog_read() decodes every complete frame from the start and
 * hands each line (without its newline) to a callback; a truncated or damaged
 * tail stops the read and is reported through *valid_length (the length of
 * the good prefix), not as an error.
 */
#ifndef TRADELEARN_FRAMELOG_H
#define TRADELEARN_FRAMELOG_H

#include <stddef.h>
#include <stdint.h>
#include "lib/base/err.h"

struct framelog;

/* Opens path for appending (created when absent), at compression level
 * (0 = default). The file should already be cut back to its committed length.
 * Returns NULL on failure with err set. */
struct framelog *framelog_new(const char *path, int level, struct err *err);

/* Buffers one line (a newline is added). Returns 0, or -1 with err set
 * (ENOMEM) and nothing buffered. */
int framelog_add(struct framelog *log, const char *line, size_t len, struct err *err);

/* Lines buffered and not yet flushed. */
size_t framelog_pending(const struct framelog *log);

/* Compresses the buffered lines into one frame, appends it and fsyncs.
 * Nothing buffered: does nothing, returns 0. On failure the file is cut back
 * to its previous length when possible and -1 is returned. */
int framelog_flush(struct framelog *log, struct err *err);

/* Drops the buffered lines without writing them. */
void framelog_discard(struct framelog *log);

/* Length of the file after the last successful flush. */
uint64_t framelog_length(const struct framelog *log);

/* Closes; buffered lines are discarded (flush first). NULL does nothing. */
void framelog_free(struct framelog *log);

/* Called for each decoded line; line is not NUL-terminated and is valid only
 * during the call. Return non-zero to stop the read early. */
typedef int (*framelog_line_fn)(void *ctx, const char *line, size_t len);

/* Decodes complete frames of path from the start, up to limit bytes of the
 * file (UINT64_MAX: all). *valid_length (may be NULL) receives the length of
 * the prefix made of complete, valid frames. An absent file reads as empty.
 * Returns the number of lines delivered, or -1 on I/O failure. */
long framelog_read(const char *path, uint64_t limit, framelog_line_fn fn, void *ctx,
		   uint64_t *valid_length, struct err *err);

#endif
