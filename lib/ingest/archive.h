/*
 * archive — read compressed history through libarchive.
 *
 * archive_stream_new() opens a log file that may be plain or compressed
 * (.gz, .zst, .xz, .bz2, …: whatever libarchive's raw format recognises; a
 * plain file passes through unchanged) and gives its decompressed bytes as a
 * stream. Used to finish a rotated file that was compressed while tradelearn
 * was down, and by verify/backfill to read old logs.
 */
#ifndef TRADELEARN_ARCHIVE_H
#define TRADELEARN_ARCHIVE_H

#include <stddef.h>
#include <sys/types.h>
#include "lib/base/err.h"

struct archive_stream;

/* Opens path. Returns NULL with err set when it cannot be opened or its
 * compression is not recognised. */
struct archive_stream *archive_stream_new(const char *path, struct err *err);

/* Reads up to len decompressed bytes into buf. Returns the count, 0 at the
 * end, -1 on damage (err set; what was read before stays valid). */
ssize_t archive_stream_read(struct archive_stream *s, void *buf, size_t len, struct err *err);

/* Closes; NULL does nothing. */
void archive_stream_free(struct archive_stream *s);

/* 1 when the file name ends in a compression suffix tradelearn reads through
 * libarchive (.gz .zst .xz .bz2 .lz4 .Z), 0 otherwise. */
int archive_is_compressed_name(const char *name);

#endif
