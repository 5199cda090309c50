/*
 * metrics_file — the daemon's figures as a Prometheus textfile (the config's
 * metrics_file), for node_exporter's textfile collector.
 *
 * watch calls metrics_file_update() after its catch-ups and on its refresh
 * tick. The text is built from the committed state (per-source lag and
 * counters, trades, the online model's progressive AUC, log loss and Brier,
 * the last commit), state/jobs.jsonl (runs by job and status, read as it
 * grows) and models/registry.json (the deployed version and when it was
 * deployed: its age is time() minus that, as Prometheus prefers timestamps
 * to ages). It is written only when it differs from the file last written,
 * at most once per METRICS_FILE_MIN_INTERVAL_US, replaced durably (temp
 * file, fsync, rename, fsync of the folder) with mode 0644 (it holds no
 * bot rows, and the exporter runs as another user).
 */
#ifndef TRADELEARN_METRICS_FILE_H
#define TRADELEARN_METRICS_FILE_H

#include <stdint.h>

#include "lib/base/err.h"
#include "lib/ingest/profile.h"
#include "jobs/live/pipeline.h"

#define METRICS_FILE_MIN_INTERVAL_US (5 * 1000000LL)

struct metrics_file;

/* path: the .prom file; state_dir and models_dir: the root's. NULL on ENOMEM. */
struct metrics_file *metrics_file_new(const char *path, const char *state_dir,
				      const char *models_dir, struct err *err);

/* Builds the text from p (running: whether watch goes on; 0 in the last
 * write of a clean stop) and writes it when it changed and
 * METRICS_FILE_MIN_INTERVAL_US have passed since the last write (force:
 * whatever the time). 0, or -1 with err set when writing failed (the next
 * update tries again). */
int metrics_file_update(struct metrics_file *m, struct pipeline *p, const struct profile *prof,
			int running, int64_t now_us, int force, struct err *err);

/* The text last built (valid until the next update), for tests. */
const char *metrics_file_text(const struct metrics_file *m);

void metrics_file_free(struct metrics_file *m);

#endif
