/*
 * journal — state/jobs.jsonl: one JSON line per run of a scheduled job or of
 * a hook, appended and fsync'd.
 *
 * Several processes append to it: watch's runner (each job run), a job
 * (the hooks it fires), the process that runs a hook for the runner. Each
 * line is written by one write() on a file opened O_APPEND, so lines written
 * at the same time by different processes never interleave.
 *
 * A line, in this key order:
 *   {"job" ("daily", "retrain", "hook:<event>"), "day" (YYYY-MM-DD or null),
 *    "attempt" (1 = first), "start", "end" (ISO-8601 UTC), "status", "exit"
 *    (exit code or null), "signal" (or null), "error" (why, or null)}
 */
#ifndef TRADELEARN_JOURNAL_H
#define TRADELEARN_JOURNAL_H

#include <stdint.h>
#include <jansson.h>

#include "lib/base/err.h"

#define JOURNAL_FILE "jobs.jsonl" /* in the state folder */

struct journal_run {
	const char *job;
	int32_t day; /* SCHEDULE_NO_DAY: null */
	int attempt;
	int64_t start, end; /* µs since the epoch */
	const char *status;
	int exit_code;	   /* < 0: null */
	int signo;	   /* <= 0: null */
	const char *error; /* NULL or "": null; valid UTF-8 */
};

/* The journal line of run, a new reference the caller owns; NULL on ENOMEM
 * (or an error text that is not UTF-8). */
json_t *journal_line(const struct journal_run *run);

/* Appends line (borrowed) to STATE_DIR/jobs.jsonl as one compact line and
 * fsyncs it. -1 with err ("<path>: <why>", the file system's errno, or
 * ENOMEM) when it cannot. */
int journal_append(const char *state_dir, const json_t *line, struct err *err);

#endif
