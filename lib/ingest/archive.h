/*
 * archive — read compressed history through libarchive.
 *
 * archive_stream_new() opens a log file that may be plain or compressed
 * (.gz, .zst, .xz, .bz2, …: whatever libarchive's raw format recognises; a
 * plain file passes through unchanged) and gives its decompressed bytes as a
 * stream. Used to finish a rotated file that was compressed while tradelearn
 * was down, and by verify/backfill to read old logs.
 *
 * archive_stream_member() gives the bytes of one member of an archive of
 * old logs (a tar, under any compression; the member itself may be
 * compressed too, as "attribution.jsonl.3.gz" in "logs-2026-01.tar") the
 * same way, and archive_list_members() lists an archive's files.
 */
#ifndef TRADELEARN_ARCHIVE_H
#define TRADELEARN_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/base/err.h"

struct archive_stream;
struct stat;

/* Opens path (a symbolic link followed) for reading only when it is a
 * regular file: O_NONBLOCK and O_NOCTTY so that a FIFO or a device at the
 * name cannot hang the open or become a terminal, fstat after the open
 * (st, when not NULL, receives it), then made blocking again. Every reader
 * of logs opens through it. Returns the descriptor, or -1 with err set:
 * EINVAL "PATH: is a FIFO, not a regular file" (a character device, a
 * folder…) with st filled, or the open's errno. */
int archive_open_regular(const char *path, struct stat *st, struct err *err);

/* What a file of this mode is, in words: "a FIFO", "a folder"… */
const char *archive_file_kind(unsigned mode);

/* Opens path. Returns NULL with err set when it cannot be opened or its
 * compression is not recognised. */
struct archive_stream *archive_stream_new(const char *path, struct err *err);

/* The same for the file open at fd (which the stream owns from then on
 * and closes, also on failure), named path in messages: the caller keeps
 * knowing which file it reads whatever is renamed meanwhile. */
struct archive_stream *archive_stream_fd(const char *path, int fd, struct err *err);

/* Opens the regular file member (its full name in the archive) of the
 * archive at path. NULL with err set: ENOENT when there is no such member,
 * the file system's errno, or EIO for an archive libarchive cannot read. */
struct archive_stream *archive_stream_member(const char *path, const char *member, struct err *err);

/* Called for each regular file of an archive, with its name and stored
 * size; a non-zero return stops the listing and is returned by it. */
typedef int (*archive_member_fn)(void *ctx, const char *name, uint64_t size);

/* Lists the regular files of the archive at path, in their order. Returns
 * 0, fn's non-zero value, or -1 with err set. */
int archive_list_members(const char *path, archive_member_fn fn, void *ctx, struct err *err);

/* Bytes read so far from the file on disk (compressed; for a member, from
 * the archive, everything before the member included): for progress. */
uint64_t archive_stream_bytes_in(const struct archive_stream *s);

/* Reads up to len decompressed bytes into buf. Returns the count, 0 at the
 * end, -1 on damage (err set; what was read before stays valid). */
ssize_t archive_stream_read(struct archive_stream *s, void *buf, size_t len, struct err *err);

/* Closes; NULL does nothing. */
void archive_stream_free(struct archive_stream *s);

/* 1 when the file name ends in a compression suffix tradelearn reads through
 * libarchive (.gz .zst .xz .bz2 .lz4 .Z), 0 otherwise. */
int archive_is_compressed_name(const char *name);

/* 1 when the file name is an archive's (.tar, .tar.gz, .tgz, .tar.zst,
 * .tzst, .tar.xz, .txz, .tar.bz2, .tbz2, .tar.lz4, .zip), 0 otherwise. */
int archive_is_archive_name(const char *name);

#endif
