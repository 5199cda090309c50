/*
 * follow — read a bot's JSONL logs exactly once, through rotation.
 *
 * One follower watches one logs folder (inotify on the folder, so renames,
 * creations and deletions of the files are seen, not only writes) and reads
 * complete lines of up to FOLLOW_MAX_SOURCES files ("sources"). For each
 * source it keeps:
 *
 *   - the current reader: the file that the source's name designates now;
 *   - draining readers: files that were that name before (renamed away,
 *     deleted, copied by copytruncate, compressed while tradelearn was down),
 *     read to their end before they are let go — oldest first, before the
 *     current file;
 *   - a ring of recently finished files, so a finished file that reappears
 *     (compressed, renamed) is never read again.
 *
 * A file's identity is (device, inode) plus two fingerprints: a hash
 * (FNV-1a 64, lib/base/hash.h) of its first bytes (up to FOLLOW_HEAD_BYTES) and of the bytes just
 * before the offset (up to FOLLOW_TAIL_BYTES). That catches inode reuse, truncation and
 * truncate-then-regrow, and finds a file again under another name.
 *
 * Reading: follow_next() hands out one complete line at a time; a partial
 * last line stays unread (its start is the offset) until its newline comes.
 * Lines longer than max_line are skipped and reported as FOLLOW_LONG. The
 * caller applies what it read and then saves positions with follow_save()
 * into its state file; follow_restore() on the next start resumes exactly
 * there (files rotated meanwhile are found among the siblings "NAME.1",
 * "NAME.2.gz", "NAME-20260101", compressed ones through libarchive).
 *
 * The follower owns no thread and never blocks: the caller polls
 * follow_fd() (inotify; -1 in polling mode) with its own loop, calls
 * follow_handle_events() when it is readable, follow_refresh() on a timer,
 * and follow_next() until it returns 0.
 */
#ifndef TRADELEARN_FOLLOW_H
#define TRADELEARN_FOLLOW_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/base/err.h"

#define FOLLOW_MAX_SOURCES 5
#define FOLLOW_MAX_DRAINING 16
#define FOLLOW_MAX_DONE 8
#define FOLLOW_HEAD_BYTES 4096
#define FOLLOW_TAIL_BYTES 256
#define FOLLOW_PATH_MAX 1024

/* Where reading of one file stands, as saved in the state file. */
struct follow_position {
	char path[FOLLOW_PATH_MAX]; /* where it was last seen */
	uint64_t dev, ino;
	uint64_t offset; /* next unread byte; always the start of a line */
	uint64_t size;	 /* size when saved */
	int64_t mtime_us;
	uint32_t head_len, tail_len;
	uint64_t head_hash, tail_hash;
	int compressed;
	int growing; /* renamed away, and its writer may still append to it */
};

/* A file read to its end and let go. */
struct follow_done {
	uint32_t head_len;
	uint64_t head_hash;
	uint64_t size;
	uint64_t dev, ino; /* a plain file: where it was; 0 for a compressed one */
};

/* Everything saved for one source. */
struct follow_saved {
	int has_current;
	struct follow_position current;
	size_t n_draining;
	struct follow_position draining[FOLLOW_MAX_DRAINING];
	size_t n_done;
	struct follow_done done[FOLLOW_MAX_DONE];
};

typedef void (*follow_log_fn)(void *ctx, const char *message);

struct follow_options {
	uint64_t max_line; /* default 1 MiB */
	int force_poll;	   /* 1: do not use inotify */
	/* A file renamed away or deleted may still get lines from a writer
	 * that has not reopened its log. It is let go once it has had nothing
	 * new for orphan_grace_us (1 s) and the writer has moved on (the file
	 * now under the name has grown), or after orphan_max_idle_us (300 s)
	 * with nothing new whatever the name holds. */
	int64_t orphan_grace_us;
	int64_t orphan_max_idle_us;
	follow_log_fn log; /* warnings, once each; may be NULL */
	void *log_ctx;
};

enum follow_kind {
	FOLLOW_LINE, /* a complete line in data/len (without the newline) */
	FOLLOW_LONG, /* a line over max_line, skipped: len is its length */
	FOLLOW_TAIL  /* an unterminated last line of a rotated file, abandoned */
};

struct follow_line {
	enum follow_kind kind;
	size_t source;
	const char *data; /* valid until the next follow_next() on this source */
	size_t len;
	const char *path; /* the file it came from */
	uint64_t offset;  /* byte offset of the line's start in that file */
};

struct follow;

/* Creates a follower of files[0..n) in dir. Uses inotify unless it cannot
 * (then polls and says so once through opt->log). Returns NULL with err set:
 * EINVAL for more than FOLLOW_MAX_SOURCES files, ENOMEM. */
struct follow *follow_new(const char *dir, const char *const *files, size_t n,
			  const struct follow_options *opt, struct err *err);

/* Resumes a source from its saved positions (or from nothing when saved is
 * NULL: the current file from its start). committed_at_us is when that state
 * was committed: rotated siblings changed after it that match no saved file
 * are files rotated while tradelearn was down, and are read in full (once,
 * when the same file is there twice, as NAME.1 and NAME.2.gz while it is
 * being compressed). A rotation may be under way meanwhile: the work is done
 * again until the folder holds the same files before and after it (at most
 * 50 times, 2 ms apart; then it goes on and says so). The files it resumes
 * are read ahead a little, so their fingerprints describe them as they are.
 * Call once per source before reading. Cannot fail: a saved file that is
 * gone, or one that cannot be read now, is said through opt->log (what can
 * be read of it is read later, at follow_next() or a refresh). */
void follow_restore(struct follow *f, size_t source, const struct follow_saved *saved,
		    int64_t committed_at_us);

/* The name of a network filesystem by its statfs(2) f_type ("NFS",
 * "CIFS"…), NULL for others. A logs folder on one is polled: inotify only
 * sees the writes made through this machine's kernel. */
const char *follow_network_fs(unsigned long f_type);

/* The inotify descriptor to poll for POLLIN, or -1 when polling. */
int follow_fd(const struct follow *f);

/* 1 when the follower polls instead of using inotify. */
int follow_is_polling(const struct follow *f);

/* Reads pending inotify events and acts on them (rotation, creation,
 * truncation; IN_Q_OVERFLOW re-examines everything). Cannot fail: a read of
 * the inotify descriptor that fails ends this call's events (the periodic
 * follow_refresh() sees every change anyway), and a file that cannot be
 * opened now is tried again at the next event or refresh. */
void follow_handle_events(struct follow *f);

/* Re-examines every source's files by stat (the safety net and the polling
 * mode's tick). */
void follow_refresh(struct follow *f);

/* Next line of a source: 1 and *line filled, 0 when nothing complete is
 * available now, -1 on an I/O error (err set). Before reading on past where
 * the current file ended, it looks at the file again (renamed away, cut by a
 * copytruncate), so a caller that handles events only between batches loses
 * nothing to rotations in the meantime. */
int follow_next(struct follow *f, size_t source, struct follow_line *line, struct err *err);

/* The positions of a source after the lines handed out so far. */
void follow_save(struct follow *f, size_t source, struct follow_saved *out);

/* The position follow_save() would save for the plain file open at fd
 * (named path) after its lines up to offset were handed out: for a reader
 * other than the follower (backfill) handing over to it. 0, or -1 with err
 * set when the file cannot be read there. */
int follow_position_of_fd(int fd, const char *path, uint64_t offset, struct follow_position *out,
			  struct err *err);

/* The finished-file entry of a file read to its end (compressed: by its
 * content, else by its device and inode too), as the follower remembers the
 * files it let go. 0, or -1 with err set when it cannot be read. */
int follow_done_of(const char *path, int compressed, struct follow_done *out, struct err *err);

/* Bytes known to be readable but not yet handed out, per source (for lag). */
uint64_t follow_lag_bytes(struct follow *f, size_t source);

/* Closes every file and the inotify descriptor. NULL does nothing. */
void follow_free(struct follow *f);

#endif
