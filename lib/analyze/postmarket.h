/*
 * postmarket — the settings of the post-market (daily) job: what counts as a
 * missed opportunity, when a position is stale, and the thresholds of the
 * retrain triggers. The job itself is jobs/daily; its settings live here so
 * that the config loader, below the jobs, reads them with their table.
 *
 * Defaults and ranges: postmarket_option_table (postmarket.c), the "daily"
 * section of the config; the keys of missed_option_table sit in the same
 * section with the prefix "missed_" ("missed_min_confidence").
 */
#ifndef TRADELEARN_POSTMARKET_H
#define TRADELEARN_POSTMARKET_H

#include <stdint.h>
#include <jansson.h>

#include "lib/base/option.h"
#include "lib/analyze/missed.h"

struct postmarket_options {
	struct missed_options missed;
	double stale_hours; /* open longer than this at the day's end: stale */
	long min_trades;    /* trades a 7-day trigger (and the accuracy one) needs */
	/* Retrain triggers, against the baseline. */
	double win_rate_drop;	       /* 7-day win rate this far below the baseline's */
	double accuracy_drop;	       /* model accuracy over its window this far below */
	double profit_factor_floor;    /* 7-day profit factor below this ... */
	double profit_factor_baseline; /* ... from a baseline above this */
	double retrain_after_days;     /* days since the last retrain */
	double sharpe_7d_floor;	       /* 7-day Sharpe below this */
	double success_rate_floor;     /* signal success rate below this */
	double drift_lambda;	       /* Page-Hinkley threshold of the log loss */
};
extern const struct option_table postmarket_option_table;

/* Fills o with the defaults of postmarket_option_table. */
void postmarket_options_init(struct postmarket_options *o);

/* The capital a trading day's P&L is divided by (daily returns): the
 * account equity the bot logged first on that date (what the day started
 * with), else the last it logged on an earlier date, else capital_usd.
 * equity (borrowed, may be NULL) is the "equity" list the short-term job
 * keeps in the learned state: [{"day": "YYYY-MM-DD", "first", "last"}, ...],
 * oldest first. */
double postmarket_capital(json_t *equity, double capital_usd, int32_t day);

#endif
