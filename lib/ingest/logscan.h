/*
 * logscan — read every file of one log source from the start: the file at
 * the source's name and its rotated siblings ("NAME.1", "NAME.2.gz",
 * "NAME-20260101.zst"), compressed ones through libarchive.
 *
 * This is the one-shot reader behind verify and the daily job (which needs
 * a day's signals and prices); the daemon follows files with lib/follow,
 * which finds rotated files with logscan_list too.
 */
#ifndef TRADELEARN_LOGSCAN_H
#define TRADELEARN_LOGSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "lib/base/err.h"

struct logscan_file {
	char path[4400];
	struct stat st;
	int compressed; /* by its name: .gz, .zst, .xz, .bz2 … */
	int is_named;	/* the file at the source's own name (not a rotation) */
};

/* Is candidate (a file name) a rotation of the file name: "NAME.1",
 * "NAME.2.gz", "NAME-20260101", "NAME.1.zst"…, but not NAME itself, nor a
 * temporary file ("….tmp…")? */
int logscan_is_rotation(const char *name, const char *candidate);

/* Lists the regular files of source name in dir, oldest modification
 * first (rotations before the live file, in the order they were written).
 * Temporary files ("….tmp…") are left out. *out is malloc'd (free it);
 * *n may be 0. -1 with err set when dir cannot be read or on ENOMEM. */
int logscan_list(const char *dir, const char *name, struct logscan_file **out, size_t *n,
		 struct err *err);

/* Called for every line (len bytes, no newline) starting at byte offset in
 * the file's uncompressed content: complete is 1 for a line ended by its
 * newline, 0 for the unterminated last bytes of the file (called at most
 * once, last). A non-zero return stops the scan and is returned by
 * logscan_read. */
typedef int (*logscan_line_fn)(void *ctx, const char *line, size_t len, uint64_t offset,
			       int complete);

/* Reads path (plain or compressed) line by line. Returns 0, the callback's
 * non-zero value, or -1 with err set. */
int logscan_read(const char *path, logscan_line_fn fn, void *ctx, struct err *err);

#endif
