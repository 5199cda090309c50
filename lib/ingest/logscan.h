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
 * temporary file ("….tmp…"), nor an archive (archive_is_archive_name)? */
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
 * once, last). A line longer than max_line is passed with data NULL and its
 * length (the callers count it and skip it). A non-zero return stops the
 * scan and is returned by logscan_read. */
typedef int (*logscan_line_fn)(void *ctx, const char *line, size_t len, uint64_t offset,
			       int complete);

/* Reads path (plain or compressed) line by line, holding at most max_line
 * bytes of a line in memory. Returns 0, the callback's non-zero value, or -1
 * with err set. */
int logscan_read(const char *path, uint64_t max_line, logscan_line_fn fn, void *ctx,
		 struct err *err);

/* ---- reading one file or archive member, line by line ------------------ */

enum logscan_kind {
	LOGSCAN_LINE, /* a complete line in data/len (without its newline) */
	LOGSCAN_LONG, /* a line over max_line, skipped: len is its length, data NULL */
	LOGSCAN_TAIL  /* the unterminated last bytes (data NULL when over max_line) */
};

struct logscan_line {
	enum logscan_kind kind;
	const char *data; /* valid until the next logscan_next() */
	size_t len;
	uint64_t offset; /* of the line's start in the uncompressed content */
};

struct logscan_reader;

/* Opens path (plain or compressed), or with member not NULL that member of
 * the archive at path, for reading lines of at most max_line bytes (a
 * buffer of about that size is all it holds). NULL with err set. */
struct logscan_reader *logscan_open(const char *path, const char *member, uint64_t max_line,
				    struct err *err);

/* The next line: 1 with *line set, 0 at the end, -1 with err set on damage
 * (what was handed out before stays valid). */
int logscan_next(struct logscan_reader *r, struct logscan_line *line, struct err *err);

/* Skips the first offset bytes of the content (a resumed reading): 0, or -1
 * with err set (EIO when the content is shorter). Call before the first
 * logscan_next(). */
int logscan_skip(struct logscan_reader *r, uint64_t offset, struct err *err);

/* The descriptor of the plain file being read (the reader's; valid until
 * logscan_close), -1 for an archive member. Whatever is renamed meanwhile,
 * it is the file the lines came from. */
int logscan_fd(const struct logscan_reader *r);

/* Bytes read from the disk so far (compressed), for progress. */
uint64_t logscan_bytes_in(const struct logscan_reader *r);

/* Closes; NULL does nothing. */
void logscan_close(struct logscan_reader *r);

/* ---- all of a source's history ----------------------------------------- */

#define LOGSCAN_HEAD_BYTES 4096

/* One file, or one member of an archive, holding lines of a source. */
struct logscan_entry {
	char path[4400];   /* the file, or the archive that holds the member */
	char member[1024]; /* the member's name in the archive; "" for a file */
	struct stat st;	   /* of path */
	int compressed;	   /* by its name */
	int is_named;	   /* the file at the source's own name (the live file) */
	uint64_t bytes;	   /* its size on disk (a member: as stored) */
	int64_t first_ts;  /* time of its first line with one (time_fn); INT64_MIN: none */
	uint32_t head_len; /* the first bytes of its content, up to LOGSCAN_HEAD_BYTES */
	char head[LOGSCAN_HEAD_BYTES];
	uint64_t head_hash; /* of the head_len bytes of head (hash_fnv1a64) */
	/* Its content is a copy of the start of another entry's (a
	 * copytruncate leftover beside the live file, the same rows in NAME.1
	 * and NAME.2.gz, a file also kept in an archive): not to be read. */
	int covered;
	uint64_t covered_length; /* then: its length, up to its last newline */
};

/* The time of a line of the source, INT64_MIN when it has none. */
typedef int64_t (*logscan_time_fn)(void *ctx, const char *line, size_t len);

/* Lists every entry of source name in dir: the file at the name, its
 * rotations (compressed or not), and the members of archives in dir
 * (archive_is_archive_name) whose base name is the source's name or a
 * rotation of it. Entries whose content is contained in another's are
 * marked covered (it is read once, from the longest). Ordered by the time
 * of their first line (time_fn(ctx), reading at most the first 1 MiB of
 * each), oldest first; entries without a time first; ties by modification
 * time, as logscan_list. An entry that cannot be read is left out and said
 * through warn (may be NULL). *out is malloc'd (free it); -1 with err set
 * when dir cannot be read or on ENOMEM. */
int logscan_history(const char *dir, const char *name, uint64_t max_line, logscan_time_fn time_fn,
		    void *ctx, void (*warn)(void *ctx, const char *msg), struct logscan_entry **out,
		    size_t *n, struct err *err);

/* Opens an entry of logscan_history for reading. */
struct logscan_reader *logscan_open_entry(const struct logscan_entry *e, uint64_t max_line,
					  struct err *err);

/* Does the content of e start with the len bytes whose FNV-1a hash
 * (hash_fnv1a64) is hash? len <= LOGSCAN_HEAD_BYTES. */
int logscan_entry_starts_with(const struct logscan_entry *e, uint32_t len, uint64_t hash);

#endif
