/*
 * short_term — the per-record job, run in-process for every
 * batch the follower reads.
 *
 * For each line: parse it with the profile; quarantine what cannot be a
 * record; count and skip what the profile ignores; track open positions
 * (an open opens, a close closes the oldest open of the same position, a
 * partial close leaves it open); and turn every close and partial close
 * into an outcome, once: a trade whose stable key was already recorded is
 * counted as a duplicate and not recorded again. Opens never count as trades.
 * A close or partial close takes from its tracked open every entry field it
 * does not carry itself (side, entry_ts, entry_price, confidence, score,
 * regime, sector, timeframe, components), so time_of_day and day_of_week
 * are the entry's. At most SHORT_TERM_MAX_OPEN opens are tracked: one more
 * lets the oldest go, and its close is recorded with its own fields only.
 *
 * Then it learns, from that trade only and only once: the online model
 * scores it (progressive validation) and learns from it (lib/learner), the
 * component statistics and multipliers move (lib/weights). Exit-reason
 * statistics are taught by the exit source's rows when the profile has an
 * exit source, else by the close reason of every recorded close and
 * partial close. Every record with a time and a price (signal prices, order
 * prices, open entry prices, close exit prices) is an observation for the
 * signal outcomes (lib/signals), which apply them merged in time order.
 * Each piece of learned state depends on the records of one source, in that
 * source's order, and on record times only (never the wall clock); the
 * signal outcomes depend on several sources but lib/signals orders them by
 * time, not by arrival. So the learned state is the same however the
 * records were cut into batches, restarts included.
 *
 * The job does no I/O of its own: what a batch produces is buffered in
 * struct short_term_batch (outcome lines, quarantine lines, new trade-key
 * hashes) for the pipeline to write and commit. Its in-memory state (open
 * positions, the set of recorded trade keys) is saved into and loaded from
 * the learner generation file and the trade-key log.
 */
#ifndef TRADELEARN_SHORT_TERM_H
#define TRADELEARN_SHORT_TERM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/base/buf.h"
#include "lib/base/err.h"
#include "lib/config/config.h"
#include "lib/ingest/follow.h"
#include "lib/store/framelog.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"
#include "lib/store/state.h"

struct short_term;

#define SHORT_TERM_MAX_OPEN 10000     /* open positions tracked */
#define SHORT_TERM_DEPLOYMENT_MAX 160 /* bytes of a deployment id, NUL included */
/* Bytes of a rejected line kept in quarantine.jsonl ("line"), beside its
 * full length ("line_bytes") and the SHA-256 of all of it ("line_sha256"). */
#define SHORT_TERM_QUARANTINE_LINE_BYTES 1024

/* What one batch produced, to be appended by the caller. */
struct short_term_batch {
	struct framelog *outcomes; /* borrowed: outcome lines are added to it */
	struct buf quarantine;	   /* state/quarantine.jsonl lines */
	/* With quarantine_bounded, quarantine lines that would take the batch's
	 * past quarantine_room bytes are dropped (counted in the source's
	 * quarantine_dropped) instead: the file is capped. */
	int quarantine_bounded;
	uint64_t quarantine_room;
	uint64_t *keys; /* new trade-key hashes (BUF_ARRAY_GROW) */
	size_t n_keys, keys_cap;
	struct buf weight_log; /* state/weight_learning.jsonl lines */
	void (*on_outcome)(void *ctx, const struct record *r); /* may be NULL */
	void *hook_ctx;
};

/* Creates the job for a profile (borrowed; must outlive the job), with the
 * learner, weights and signals settings of config c (NULL: defaults).
 * Returns NULL with err set: EINVAL when a setting is out of range for
 * learner_new, weights_new or signals_new, or ENOMEM. */
struct short_term *short_term_new(const struct profile *p, const struct config *c, struct err *err);
void short_term_free(struct short_term *st); /* NULL does nothing */

/* Adds a recorded trade key hash (from the trade-key log at start). Returns
 * 0, or -1 with err set to ENOMEM. */
int short_term_add_key(struct short_term *st, uint64_t key_hash, struct err *err);

/* Hash of a stable trade key, as stored in the trade-key log. */
uint64_t short_term_key_hash(const char *key);

/* Applies one line of the follower: short_term_parse, then
 * short_term_apply_parsed. Counters of its source are updated in c.
 * Returns 0, or -1 with err set to ENOMEM (nothing about the data can fail;
 * the batch must then not be committed). */
int short_term_apply(struct short_term *st, const struct follow_line *line,
		     struct state_counters *c, struct short_term_batch *out, struct err *err);

/* A line made into a record, ready to be applied. Parsing needs nothing but
 * the profile, so it may run ahead of applying, in another thread, on many
 * lines at once (jobs/live/parse_pool); applying the parsed lines in
 * their order gives exactly what short_term_apply of each line gives. */
struct short_term_parsed {
	struct follow_line line; /* as given: its data must stay valid until applied */
	enum record_status status;
	const char *reason; /* RECORD_QUARANTINE: a static token */
	char detail[256];
	/* Owned (short_term_parsed_release), or, parsed by a parse pool,
	 * record.row NULL and the row in the pool's memory. */
	struct record record;
};

/* Parses line with profile p into out (to be released whatever the line). */
void short_term_parse(const struct profile *p, const struct follow_line *line,
		      struct short_term_parsed *out);
/* Applies a parsed line as short_term_apply applies the line (same return). */
int short_term_apply_parsed(struct short_term *st, struct short_term_parsed *parsed,
			    struct state_counters *c, struct short_term_batch *out,
			    struct err *err);
/* Drops the parsed record. Safe on a zeroed or released one. */
void short_term_parsed_release(struct short_term_parsed *parsed);

/* Writes the derived files the bot and people read, from the state in
 * memory, each replaced atomically (durable_publish): models/online.json,
 * state/signal_weights.json, state/exit_weights.json,
 * state/signal_outcomes.json. Returns 0, or -1 with err set (the file
 * system's errno, or ENOMEM); files already replaced stay valid. */
int short_term_publish(const struct short_term *st, const char *models_dir, const char *state_dir,
		       struct err *err);

/* With a context source (jobs/live/join), trades wait for their context
 * rows: this records and learns, in the order they were read, those whose
 * match is now decided (now_us: the wall clock), their counters in
 * next->source[their source]. Call it once per batch, after reading and
 * before the commit. Returns how many it recorded (0 without a context
 * source), or -1 with err set to ENOMEM (nothing may be committed). */
int short_term_settle(struct short_term *st, struct state *next, struct short_term_batch *out,
		      int64_t now_us, struct err *err);

struct join_counts;
/* The join's counts into c; 1 when the profile has a context source,
 * else 0. */
int short_term_join_counts(const struct short_term *st, struct join_counts *c);

/* The learner (borrowed), for metrics. */
const struct learner *short_term_learner(const struct short_term *st);

/* The pipeline read source to its end in this batch (see
 * signals_caught_up). */
void short_term_caught_up(struct short_term *st, int source);
/* 1 when source should not be read in this batch (see signals_holding). */
int short_term_holding(const struct short_term *st, int source);

/* Ends the batch and returns the generation-file part of the state (open
 * positions, learner, weights, signals): the signal observations that the
 * batch made ready are applied first (signals_settle), so call it once per
 * batch, at its commit, and publish after it. A new reference, or NULL with
 * err set to ENOMEM (then nothing may be committed). */
json_t *short_term_save(struct short_term *st, struct err *err);
/* Restores it (borrowed). Returns 0, or -1 with err set when it is not what
 * short_term_save wrote (EINVAL, "<part>: <problem>", the part named as the
 * loaders of learner.h, weights.h and signals.h name it) or on ENOMEM; st is
 * then partly loaded and must be freed. */
int short_term_load(struct short_term *st, json_t *saved, struct err *err);

/* The deployment now in force (the "deployment" of
 * state/baseline_performance.json, which a retrain or a `models` command
 * writes in another process). When it differs from the one the job last
 * saw, the learner's drift detector starts afresh, so the daily job's drift
 * trigger measures the loss since the model in use was deployed; the id is
 * saved with the learned state (short_term_save), so the reset is part of
 * the commit and happens once. NULL or "" (no deployment yet) changes
 * nothing. Returns 1 when it reset the detector, else 0. */
int short_term_deployment(struct short_term *st, const char *deployment);

/* The deployment last seen (never NULL; "" before the first). */
const char *short_term_deployment_seen(const struct short_term *st);

/* Open positions as a JSON array (symbol, side, opened_at, age_hours, id),
 * ages measured at now_us. New reference, or NULL on ENOMEM. */
json_t *short_term_positions(const struct short_term *st, int64_t now_us);
size_t short_term_open_count(const struct short_term *st);

void short_term_batch_reset(struct short_term_batch *b);
void short_term_batch_release(struct short_term_batch *b);

#endif
