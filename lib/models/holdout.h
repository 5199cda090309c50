/*
 * holdout — how well a model did on the trades a retrain held out: the
 * figures of its probabilities against the outcomes, and the trading result
 * of the trades it would have taken, beside that of all of them.
 *
 * A hold-out is a list of outcomes (closes and partial closes) with their
 * label (a win: P&L > 0, as the learner labels them), P&L, whether each is
 * a full close, and the trading day it belongs to. A model's figures over
 * it, from its probability p_i of each:
 *
 *   log_loss  mean −[y·log p + (1−y)·log(1−p)], p clipped to [1e-15, 1−1e-15]
 *   auc       Mann–Whitney, ties ½ (learner_auc); NAN with one class
 *   brier     mean (p − y)²
 *   ece       Σ_b (n_b/n)·|mean p_b − win rate_b| over the buckets
 *             [0, .1), [.1, .2), … [.9, 1]
 *   accuracy  share of outcomes on the right side of 0.5 (p ≥ 0.5 says win)
 *
 * and two trading results (the daily job's conventions, metrics.h): "taken"
 * over the outcomes with p ≥ the threshold, "all" over every one (the bot
 * as it traded). Each: count, win rate, profit factor and P&L (USD) of the
 * full closes (a partial close is part of a trade, not a trade), and the
 * Sharpe ratio of the daily returns of every outcome counted, partial
 * closes included: per trading day of the hold-out, from its first to its
 * last, the day's P&L over that day's capital, a day without one 0.
 *
 * Everything is a pure function of the arrays given; nothing is kept.
 */
#ifndef TRADELEARN_HOLDOUT_H
#define TRADELEARN_HOLDOUT_H

#include <stddef.h>
#include <jansson.h>

/* The outcomes every candidate is judged on; arrays of n, borrowed. */
struct holdout_set {
	size_t n;
	const int *label;	/* 1 win, 0 not */
	const double *pnl_usd;	/* NAN when unknown */
	const double *pnl_frac; /* NAN when unknown */
	const int *full;	/* 1 for a full close */
	const size_t *day;	/* each outcome's trading day, an index < n_days */
	size_t n_days;		/* trading days from the first of the hold-out to the last */
	const double *capital;	/* n_days: the capital each day's P&L is divided by */
};

struct holdout_trades {
	long count;	      /* full closes */
	double win_rate;      /* of them; NAN with none */
	double profit_factor; /* Σ wins / |Σ losses| in USD; NAN without losses */
	double pnl_usd;	      /* of them */
	double sharpe;	      /* of the daily returns (see above); NAN with fewer than 2 days */
};

struct holdout_figures {
	long outcomes, wins; /* scored */
	double log_loss, auc, brier, ece, accuracy;
	double threshold; /* p at or above which a trade is taken */
	struct holdout_trades taken, all;
};

/* The figures of the probabilities p[0..h->n-1] (borrowed) on h. Returns
 * 0, or -1 with errno ENOMEM (the AUC's sort; *out is then unusable). */
int holdout_figures(const struct holdout_set *h, const double *p, double threshold,
		    struct holdout_figures *out);

/* f as JSON (new reference; NULL on ENOMEM): {"outcomes", "wins", "log_loss", "auc",
 * "brier", "ece", "accuracy", "threshold", "taken": {"count", "win_rate", "profit_factor",
 * "pnl_usd", "sharpe"}, "all": {...}}, undefined figures null. */
json_t *holdout_figures_json(const struct holdout_figures *f);

/* Reads what holdout_figures_json() wrote (borrowed) back into *f; a figure
 * that is null, absent or not a number is NAN. Returns 0, or -1 when j is
 * not an object. */
int holdout_figures_from_json(json_t *j, struct holdout_figures *f);

/* The figures the gate and the primary metric name: "log_loss", "auc",
 * "brier", "ece", "accuracy", "taken_count", "taken_win_rate",
 * "taken_profit_factor", "taken_pnl_usd", "taken_sharpe". */

/* 1 when name is one of them. */
int holdout_metric_known(const char *name);

/* The value of the figure name in f (NAN for an unknown name). */
double holdout_metric(const struct holdout_figures *f, const char *name);

/* 1 when a higher value of the figure is better (auc, accuracy, taken_*),
 * 0 when lower is (log_loss, brier, ece). */
int holdout_metric_higher_is_better(const char *name);

/* "log_loss, auc, ...": the names, for messages. */
const char *holdout_metric_names(void);

#endif
