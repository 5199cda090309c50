/*
 * gate — the settings of a retrain (the config's "retrain" section) and the
 * validation gate that decides whether its candidate is deployed.
 *
 * The job itself is jobs/retrain; its settings live here so that the
 * config loader, below the jobs, reads them with their table
 * (retrain_option_table): window_days, holdout_fraction, min_outcomes,
 * min_holdout_trades, take_threshold, primary_metric, min_interval_hours,
 * keep_bundles, the batch optimizer's l2, tolerance and max_iterations
 * (batch_option_table, at the same level), and "gate", the list of
 * thresholds.
 *
 * A threshold is written {"metric": M, "compare": C, BOUND: X}:
 *   metric   a figure of the hold-out (holdout.h: log_loss, auc, brier, ece,
 *            accuracy, taken_count, taken_win_rate, taken_profit_factor,
 *            taken_pnl_usd, taken_sharpe);
 *   compare  "absolute" (the default): the limit is X;
 *            "deployed": the limit is X × the deployed model's figure on the
 *            same hold-out (not applied to a first model, nor when the
 *            deployed model's figure is undefined);
 *            "base_rate": X × the figure of always predicting the training
 *            window's win rate;
 *   BOUND    one of "min" (value ≥ limit), "max" (≤), "above" (>), "below" (<).
 * The default, "original", is the list of the original systems:
 *
 *   {"metric": "log_loss", "compare": "base_rate", "below": 1}
 *   {"metric": "accuracy", "compare": "deployed", "min": 0.95}
 *   {"metric": "taken_sharpe", "min": 0.5}
 *   {"metric": "taken_sharpe", "compare": "deployed", "min": 0.9}
 *   {"metric": "log_loss", "compare": "deployed", "max": 1}
 *
 * A value that is undefined (NAN: a Sharpe of fewer than 2 days, an AUC of
 * one class) fails its threshold. Before the thresholds, the data must
 * suffice: at least min_outcomes outcomes in the window, wins and losses in
 * its training part, at least min_holdout_trades outcomes held out, with
 * wins and losses among them.
 *
 * Every check, passed or not, is one JSON object (gate_check()):
 *   {"check": "log_loss below 1 × the base rate's", "value": 0.61, "limit": 0.68,
 *    "pass": true, "applied": true, "text": "log_loss 0.6100 < 0.6800 (1 × the base
 *    rate's 0.6800): passes"}
 */
#ifndef TRADELEARN_GATE_H
#define TRADELEARN_GATE_H

#include <stddef.h>
#include <jansson.h>

#include "lib/base/err.h"
#include "lib/base/option.h"
#include "lib/learn/batch.h"
#include "lib/models/holdout.h"

#define GATE_MAX_THRESHOLDS 32
#define GATE_METRIC_MAX 32

enum gate_compare { GATE_ABSOLUTE, GATE_DEPLOYED, GATE_BASE_RATE };
enum gate_bound { GATE_MIN, GATE_MAX, GATE_ABOVE, GATE_BELOW };

struct gate_threshold {
	char metric[GATE_METRIC_MAX];
	enum gate_compare compare;
	enum gate_bound bound;
	double value; /* the limit (absolute) or its factor */
};

struct retrain_options {
	double window_days;	 /* the outcomes of this many days, ending at the newest exit */
	double holdout_fraction; /* the most recent share of the window's outcomes held out */
	long min_outcomes;	 /* in the window, or the retrain is refused */
	long min_holdout_trades; /* outcomes held out, at least */
	double take_threshold;	 /* p at or above which a trade would be taken */
	char primary_metric[GATE_METRIC_MAX]; /* picks the best candidate */
	double min_interval_hours;	      /* between retrains not forced */
	long keep_bundles;	    /* newest bundles kept (and every one ever deployed) */
	struct batch_options batch; /* l2, tolerance, max_iterations */
	struct gate_threshold gate[GATE_MAX_THRESHOLDS];
	size_t n_gate;
};
extern const struct option_table retrain_option_table;

/* Fills o with the defaults of retrain_option_table. */
void retrain_options_init(struct retrain_options *o);

/* One check as JSON (see above): what is checked, its value and limit
 * (NAN: null), whether it passed and whether it applied at all (one that
 * does not apply passes, and note says why). A new reference, or NULL on
 * ENOMEM. */
json_t *gate_check(const char *what, double value, enum gate_bound bound, double limit, int applied,
		   const char *note);

/* 1 when value is within limit by bound (never for a NAN value or limit). */
int gate_holds(double value, enum gate_bound bound, double limit);

/* Applies every threshold of o to the candidate's figures, with the
 * deployed model's figures on the same hold-out (NULL: there is none, a
 * first model) and those of the base rate. Appends one check per threshold
 * to checks (borrowed array) and returns 1 when all passed, 0 when one
 * failed, -1 on ENOMEM. */
int gate_apply(const struct retrain_options *o, const struct holdout_figures *candidate,
	       const struct holdout_figures *deployed, const struct holdout_figures *base_rate,
	       json_t *checks);

/* The threshold as text: "log_loss below 1 × the base rate's". */
void gate_threshold_text(const struct gate_threshold *t, char *buf, size_t len);

#endif
