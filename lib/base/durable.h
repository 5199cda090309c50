/*
 * durable — files that survive a crash at any instant.
 *
 * Three tools, all reporting failure as -1 with errno set (and a message in
 * err when err is not NULL), never exiting:
 *
 *   - atomic replace: write a whole file to "<path>.tmp.<pid>", fsync it,
 *     rename it over <path>, fsync the folder. Readers see the old file or the
 *     new one, never a mix; a crash leaves at worst a stray temp file, which
 *     durable_sweep_temps() removes on the next start (once its writer is
 *     gone).
 *   - append-only outputs: an open file descriptor to which batches are
 *     appended and fsync'd; its committed length lives in the state file, and
 *     durable_cut_back() truncates it to that length on start (the Redis AOF
 *     habit), so an interrupted batch disappears and is redone once.
 *   - the lock: one process per state folder (flock on "<dir>/.lock").
 */
#ifndef TRADELEARN_DURABLE_H
#define TRADELEARN_DURABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/base/err.h"

/* Replaces path with exactly len bytes of data, atomically and durably. */
int durable_replace(const char *path, const void *data, size_t len, struct err *err);

/* Replaces path atomically (temp file, rename) without fsync: for derived
 * files that are regenerated from the committed state at every start
 * (models/online.json, the weights files). Readers still never see a torn
 * file; a power cut may lose the latest version, which the next start
 * writes again. Saves the fsyncs on the per-commit path. */
int durable_publish(const char *path, const void *data, size_t len, struct err *err);

/* A file being written under a temporary name, for writers that produce
 * their bytes through an fd (libarchive) rather than one buffer. */
struct durable_temp {
	int fd;		  /* write here; -1 once committed or discarded */
	const char *path; /* the final name (borrowed) */
	char *tmp;	  /* "<path>.tmp.<pid>", owned */
};

/* Creates "<path>.tmp.<pid>" (O_EXCL, O_NOFOLLOW, mode 0640; this pid's own
 * leftover at that name is removed first, a link never followed). -1 with
 * err set and nothing left behind. */
int durable_temp_open(struct durable_temp *t, const char *path, struct err *err);

/* Makes the written temp file the file at path: fsync (when sync), close,
 * rename, fsync the folder (when sync). On failure the temp file is
 * removed and path left as it was — except when only the folder's fsync
 * failed, after the rename. -1 with err set. */
int durable_temp_commit(struct durable_temp *t, int sync, struct err *err);

/* Closes and removes the temp file (after a failure of the caller's
 * writing). Keeps errno. Harmless after a commit or a discard. */
void durable_temp_discard(struct durable_temp *t);

/* fsync()s the folder that holds path (the folder itself when path is one). */
int durable_sync_dir(const char *dir, struct err *err);

/* mkdir -p with mode 0755; existing folders are fine. */
int durable_mkdirs(const char *dir, struct err *err);

/* Removes the "<name>.tmp.<pid>" files that an interrupted
 * durable_replace() left in dir: those of this process and those whose
 * process is gone. A live process's temp file (another tradelearn writing
 * beside this one) is left alone, and so is any other name. Returns how
 * many it removed, or -1. */
int durable_sweep_temps(const char *dir, struct err *err);

/* Opens (creating when absent) an append-only output. Returns an fd opened
 * O_WRONLY|O_APPEND|O_CLOEXEC, or -1. */
int durable_open_append(const char *path, struct err *err);

/* Writes all of data to fd (retrying short writes and EINTR). */
int durable_write_all(int fd, const void *data, size_t len, struct err *err);

/* Truncates path to committed bytes when it is longer (creating it empty
 * when absent). *actual (may be NULL) receives the length found before any
 * cut, so the caller can say how much it dropped. A file shorter than
 * committed is damage the caller must hear about: returns -1 with
 * errno = ERANGE. */
int durable_cut_back(const char *path, uint64_t committed, uint64_t *actual, struct err *err);

/* Takes an exclusive, non-blocking lock on "<dir>/.lock". Returns the fd to
 * keep open for the life of the process, or -1: errno = EWOULDBLOCK when
 * another process holds it (the caller's exit status 75). The file carries the
 * holder's pid, for messages. */
int durable_lock(const char *dir, pid_t *holder, struct err *err);

/* Reads a whole file into a NUL-terminated malloc'd buffer (*len excludes the
 * NUL). The caller frees it. -1 with errno = ENOENT when absent. */
int durable_read_all(const char *path, char **data, size_t *len, struct err *err);

#endif
