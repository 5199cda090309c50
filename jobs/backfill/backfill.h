/*
 * backfill — all of history, into a new state generation.
 *
 * Lists every file of every source in the logs folder (logscan_history:
 * the live file, its rotations plain or compressed, members of archives of
 * old logs), drops copies (content that another file holds too, read once),
 * orders them by their records' time, and replays them through the same
 * apply and commit as watch (a pipeline fed by this job, struct
 * pipeline_feed) into a staging state folder, "<state>.backfill" beside the
 * state folder. The staging state commits as watch's does, and its feed's
 * cursor (where each source's reading stands) commits with it, so a
 * backfill that is interrupted (kill -9, Ctrl-C) resumes where it stopped
 * and never applies a line twice.
 *
 * The replay stops at the daily slot of every past trading day (config
 * schedule.daily) and runs the daily job there, in this process, on the
 * staging state, with the records before the slot committed and none
 * after: what a watch running beside the bot had when the day's job ran.
 * In this process rather than as a child: the job must run at that exact
 * point of the replay, hundreds of times for a long history, and a crash
 * in it costs a resumed backfill, not a follower. Days reported in the old
 * state are carried over and not run again, unless rebuild is set.
 *
 * When the replay is done, the positions it commits are those a watch
 * would have saved at the ends of the live files (the rotated ones
 * remembered as finished), so a following watch goes on from there,
 * learning nothing twice. Then the staging folder and the state folder are
 * exchanged in one rename (renameat2 RENAME_EXCHANGE): readers see the old
 * state or the new one, never a mix, and the old one is removed.
 *
 * Threads: with jobs >= 2 one thread reads and decompresses, and parses
 * each chunk together with jobs - 1 threads of a parse pool
 * (jobs/live/parse_pool), while the calling thread applies and commits;
 * lines of each source are applied in their order either way, so the state
 * does not depend on jobs.
 *
 * The caller holds the state folder's lock (durable_lock); the job takes
 * the staging folder's, which becomes the state folder's at the exchange,
 * and keeps both until backfill_free().
 */
#ifndef TRADELEARN_BACKFILL_H
#define TRADELEARN_BACKFILL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/config/config.h"
#include "lib/ingest/profile.h"

/* What is done so far, for a progress line. */
struct backfill_progress {
	uint64_t bytes_done, bytes_total; /* on disk (compressed), of the entries to read */
	uint64_t lines;			  /* lines applied */
	const char *finished;		  /* an entry just read to its end, or NULL */
	uint64_t finished_lines;	  /* its lines */
};

struct backfill_options {
	const char *root_dir, *state_dir, *logs_dir, *models_dir;
	const struct config *config;
	const struct profile *profile;
	int32_t since, until; /* reports from/to these trading days; SCHEDULE_NO_DAY: open */
	int rebuild;	      /* rewrite the reports of days already reported */
	int jobs;	      /* threads: 1, or 2 and more */
	int64_t now_us;	      /* days whose daily slot is before it are past */
	void (*log)(void *ctx, const char *msg);			/* may be NULL */
	void (*progress)(void *ctx, const struct backfill_progress *p); /* may be NULL */
	void *ctx;
	/* Set (by a signal) to stop at the next commit; the run then returns
	 * -1 with EINTR and resumes when run again. May be NULL. */
	volatile sig_atomic_t *stop;
};

struct backfill_result {
	uint64_t lines, trades; /* applied in all, trades recorded */
	size_t reports;		/* daily reports written by this run */
	int resumed;		/* an interrupted backfill was resumed */
};

struct backfill;

/* Prepares a backfill: locks and opens the staging folder (resuming one
 * left by an interrupted run of the same settings, else starting it anew).
 * NULL with err set on failure: EWOULDBLOCK when another backfill holds the
 * staging folder, the file system's errno, ENOMEM. */
struct backfill *backfill_new(const struct backfill_options *o, struct err *err);

/* Replays everything, reports the past days, swaps the new state in.
 * Returns 0, or -1 with err set: EINTR when stopped (resumable), the file
 * system's errno, ENOMEM, or what the daily job said. The old state stays
 * untouched on any failure before the swap. */
int backfill_run(struct backfill *b, struct backfill_result *res, struct err *err);

/* Releases the staging lock and everything else. NULL does nothing. */
void backfill_free(struct backfill *b);

#endif
