/*
 * pipeline — logs → follower → short_term → committed state.
 *
 * The caller holds the state folder's lock (durable_lock() on <root>/state)
 * for as long as it uses a pipeline on it, and across reopenings: `watch`
 * takes it once and keeps it through every SIGHUP reload, so no other
 * process can slip in between. pipeline_new() recovers (reads the
 * committed state or its previous version, cuts the append-only outputs back
 * to their committed lengths, removes temp files and uncommitted
 * generations, reloads the trade keys and open positions) and resumes the
 * follower where the state says. pipeline_step() reads a batch, applies it,
 * and commits it in the order that makes a kill -9 at any instant harmless:
 *
 *   1. read complete lines of each source, up to the batch limit (a
 *      deployment since the last batch, read from
 *      state/baseline_performance.json, first resets the learner's drift
 *      detector: short_term_deployment);
 *   2. apply them in memory (outcomes, positions, counters);
 *   3. append the batch's outcome frame, quarantine lines and trade keys,
 *      fsync each;
 *   4. write the learner generation file state/learner.<gen>.json, fsync;
 *   5. write the state file naming that generation and the outputs'
 *      lengths (temp, fsync, rename, fsync folder) — the commit point;
 *   6. publish derived files (models/online.json, state/signal_weights.json,
 *      state/exit_weights.json, state/signal_outcomes.json, state/health.json);
 *   7. remove generations older than the previous committed one.
 *
 * The caller (cmd/watch) owns the poll loop: it polls pipeline_fd() and
 * calls pipeline_events(), pipeline_refresh() and pipeline_step().
 *
 * A pipeline may also be fed by its caller instead of its own follower
 * (struct pipeline_feed: jobs/backfill reads all of history that way, into
 * a staging state folder): the same apply and the same commit, with the
 * feed's lines, already parsed, and the positions the feed says.
 */
#ifndef TRADELEARN_PIPELINE_H
#define TRADELEARN_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/config/config.h"
#include "lib/base/err.h"
#include "lib/ingest/follow.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"
#include "lib/store/state.h"
#include "jobs/live/short_term.h"

/* Lines from the caller instead of a follower. Sources are profile source
 * ids (enum profile_source_id). */
struct pipeline_feed {
	/* The next parsed line of source: 1 with *line set (the feed's; valid
	 * until the next call for that source, and released by the feed), 0
	 * when nothing more is to be read now, -1 with err set. */
	int (*next)(void *ctx, size_t source, struct short_term_parsed **line, struct err *err);
	/* The positions to commit for source, after the lines handed out. */
	void (*save)(void *ctx, size_t source, struct follow_saved *out);
	/* What the feed keeps with each commit, to resume from (a new
	 * reference, NULL for nothing; committed in the learner generation as
	 * "feed"), and NULL on ENOMEM with *failed set. */
	json_t *(*cursor)(void *ctx, int *failed);
	void *ctx;
};

struct pipeline_options {
	const char *state_dir;	/* <root>/state */
	const char *logs_dir;	/* the bot's logs */
	const char *models_dir; /* <root>/models: models/online.json */
	const struct config *config;
	const struct profile *profile; /* borrowed; outlives the pipeline */
	int force_poll;
	/* Threads that parse the follower's lines (jobs/live/parse_pool), this
	 * one included; 0: one per online processor. The result does not
	 * depend on it. */
	int jobs;
	follow_log_fn log; /* one-line messages for the operator */
	void *log_ctx;
	/* Called for every trade recorded (after its batch is applied, before
	 * it is committed); may be NULL. */
	void (*on_outcome)(void *ctx, const struct record *r);
	void *hook_ctx;
	/* NULL: the pipeline follows logs_dir itself. Borrowed; outlives the
	 * pipeline. */
	const struct pipeline_feed *feed;
};

struct pipeline;

/* Opens and recovers; the caller holds the state folder's lock. A state
 * file that is damaged, with a whole .prev, is resumed from the .prev and
 * said once through opt->log. Returns NULL with err set on failure: EBADMSG
 * when the committed state is damaged beyond its .prev (the message says
 * what to do), ERANGE when an output is shorter than committed (no committed
 * byte is cut), or the file system's errno, or ENOMEM. */
struct pipeline *pipeline_new(const struct pipeline_options *opt, struct err *err);

/* Reads and commits at most one batch. Returns 0, *lines (may be NULL)
 * getting the lines read (0 means the logs are caught up); or -1 with err set
 * on an I/O failure or ENOMEM: the batch was not committed, and the caller
 * should stop (a restart redoes it). */
int pipeline_step(struct pipeline *p, size_t *lines, struct err *err);

/* Lines per source in one batch from now on; 0: the config's batch_lines.
 * A replay of history batches more than a live watch does: the result does
 * not depend on where batches end, and each commit writes the whole
 * learned state. */
void pipeline_set_batch_lines(struct pipeline *p, size_t lines);

/* Commits now, even when nothing was read since the last commit (a feed's
 * final positions, or its cursor, must be committed). Returns 0, or -1 as
 * pipeline_step. */
int pipeline_commit(struct pipeline *p, struct err *err);

/* The feed's cursor of the committed state (borrowed), NULL when none. */
json_t *pipeline_feed_cursor(const struct pipeline *p);

/* The descriptor to poll, its events, the periodic re-examination (see
 * follow.h: none of them fails), and whether the follower polls. */
int pipeline_fd(const struct pipeline *p);
void pipeline_events(struct pipeline *p);
void pipeline_refresh(struct pipeline *p);
int pipeline_is_polling(const struct pipeline *p);

/* The last committed state (borrowed). */
const struct state *pipeline_state(const struct pipeline *p);
/* Open positions now (new reference, or NULL on ENOMEM). */
json_t *pipeline_positions(const struct pipeline *p);
/* The short-term job (borrowed), e.g. for the learner's metrics. */
const struct short_term *pipeline_job(const struct pipeline *p);
/* Bytes behind, per source. */
uint64_t pipeline_lag(struct pipeline *p, size_t source);

/* Writes state/health.json now (also done after commits, at most once a
 * second). The learned files are published after every commit and at open.
 * Returns 0, or -1 with err set (the file system's errno, or ENOMEM). */
int pipeline_publish(struct pipeline *p, struct err *err);

/* The last scheduled job run (a state/jobs.jsonl line; borrowed, a
 * reference is kept), written as "last_job" in health.json from the next
 * publish on. NULL clears it. */
void pipeline_set_last_job(struct pipeline *p, json_t *run);

/* Releases everything (not the lock, which is the caller's). Call after
 * the last commit. */
void pipeline_free(struct pipeline *p);

#endif
