/*
 * retrain — the full retrain: the logistic model fitted from scratch on a
 * window of the committed outcomes, judged with the other candidates on the
 * trades it held out, deployed only when the gate lets it through.
 *
 * Inputs, read-only: the committed outcomes (state/outcomes/, up to the
 * committed length), the learned state's equity (the daily returns'
 * capital), the latest daily report's retrain triggers, the registry and
 * the deployed version's bundle, the config (its "retrain" section,
 * gate.h, and its "learner" section).
 *
 * The steps:
 *
 *  1. Unless forced (or a dry run), whether to retrain at all: the latest
 *     daily report (state/reports/post_market_latest.json) says a retrain
 *     is due, or the run is the weekly slot (scheduled); and the last
 *     decision is at least min_interval_hours old. The one line of
 *     struct retrain_result says why it does or does not.
 *  2. The window: every outcome whose exit is within window_days of the
 *     newest exit. Outcomes without an exit time or a P&L are not
 *     examples (the online model does not learn from them either). Sorted
 *     by exit time (committed order among equal times), the last
 *     ceil(holdout_fraction × n) are held out, and with them every outcome
 *     that exits at the same instant as the first of them: the hold-out is
 *     the outcomes exiting at or after that instant, the training part
 *     those before it.
 *  3. Too little data is a rejection with its reason, never a failure:
 *     fewer than min_outcomes in the window, one class in the training
 *     part, fewer than min_holdout_trades held out, one class held out.
 *  4. The candidates, each scoring every hold-out outcome:
 *       batch     batch_fit() on the training part, in committed order,
 *                 with the sample weights of batch_sample_weights() (the
 *                 learner's recency × outcome weight) and the section's l2,
 *                 tolerance and max_iterations;
 *       online    a fresh learner (the config's learner options) fed every
 *                 committed outcome in the committed order up to, not
 *                 including, the first hold-out outcome: the online model as
 *                 it stood when the hold-out began, so it is judged only on
 *                 trades it had not learned;
 *       deployed  the deployed version's model.json (its bundle), if any.
 *     Each gets the figures of holdout.h. The base rate (always predicting
 *     the training part's win rate) gets them too.
 *  5. The best by primary_metric (ties: the deployed model, then batch, then
 *     online) is chosen. The best new one (batch or online) goes to the
 *     gate (gate_apply) against the deployed model's figures; it is
 *     deployed when it is the best of all and every threshold holds, else
 *     rejected.
 *  6. Unless a dry run, the decision is recorded (registry_record): the
 *     candidate's bundle (model.json, metrics.json with every candidate's
 *     figures, manifest.json with the data range, samples and config
 *     digest), the registry, current.json and the baseline when deployed,
 *     state/retrain_log.jsonl. Then the models lock is released and the
 *     config's hook for the event (hooks.deploy or hooks.reject, hook.h)
 *     runs with the decision: the job waits for it at most its timeout,
 *     and its outcome (journaled by hook_fire) is not the job's. A dry run
 *     writes nothing at all and fires nothing.
 *
 * Deterministic: the same committed outcomes and config give the same
 * model.json, byte for byte (only the version id and times differ).
 */
#ifndef TRADELEARN_RETRAIN_H
#define TRADELEARN_RETRAIN_H

#include <stdint.h>
#include <jansson.h>

#include "lib/base/err.h"
#include "lib/base/logline.h"
#include "lib/config/config.h"
#include "lib/models/registry.h"

struct retrain_job_options {
	const char *root_dir; /* the root, for hooks (their folder, TRADELEARN_ROOT); may be NULL */
	const char *state_dir;
	const char *models_dir;
	const struct config *config;
	int64_t now_us; /* the trained time, the version id, the decision's time */
	int force;	/* retrain whatever the triggers and the interval say */
	int dry_run;	/* train and validate, write nothing */
	int scheduled;	/* the weekly slot: a reason to retrain by itself */
	logline_fn log; /* lines about recovery; may be NULL */
	void *log_ctx;
};

enum retrain_outcome {
	RETRAIN_SKIPPED,  /* no reason to retrain now (step 1) */
	RETRAIN_DEPLOYED, /* the candidate passed the gate and is deployed (or would be) */
	RETRAIN_REJECTED, /* too little data, or the gate said no */
};

struct retrain_result {
	enum retrain_outcome outcome;
	char line[1024];		    /* one line: why it did not retrain, or the decision */
	char version[REGISTRY_VERSION_MAX]; /* the candidate's id; "" when none was trained */
	/* The decision as one JSON object (NULL when skipped), owned:
	 *   {"event": "deploy" | "reject", "time", "version" (or null),
	 *    "decision": "deploy" | "reject", "dry_run", "reasons": [text, ...],
	 *    "checks": [gate_check objects], "figures": {"chosen", "base_rate",
	 *    "candidates": {"batch", "online", "deployed"} (holdout.h figures;
	 *    null where a candidate is absent), "deployed_version"},
	 *    "data": {"from", "to", "holdout_from", "outcomes", "window",
	 *    "train", "holdout", "skipped"}, "optimizer": {...}, "trigger"}
	 * the line of state/retrain_log.jsonl and what a hook receives. */
	json_t *event;
};

/* Runs the job. Returns 0 with *res filled (release it with
 * retrain_result_release()), also for a skipped run and a rejection; -1
 * with err set when it could not decide or record: the committed state or
 * outcomes damaged (EBADMSG) or unreadable, the registry locked by another
 * process (EWOULDBLOCK) or damaged, the deployed version's bundle refused,
 * a file that cannot be written, ENOMEM. */
int retrain_run(const struct retrain_job_options *o, struct retrain_result *res, struct err *err);

void retrain_result_release(struct retrain_result *res);

/* The last decision recorded in state_dir (the last line of
 * state/retrain_log.jsonl): the event object above (new reference), or
 * NULL when there is none. */
json_t *retrain_last_decision(const char *state_dir);

#endif
