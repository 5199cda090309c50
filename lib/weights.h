/*
 * weights — component and exit-reason statistics, and their multipliers
 * (DESIGN §7.1), learned one closed trade (or exit row) at a time.
 *
 * A component is ACTIVE in a trade when its value at entry is > 0: it pushed
 * for the trade. For every active component the trade counts, overall and
 * under the trade's regime: wins (P&L > 0; zero is not a win), losses, P&L,
 * an EWMA of the per-trade outcome (1 or 0), a Beta posterior and a Wilson
 * interval of the win rate. The baseline is the same over all trades
 * (overall, and per regime).
 *
 * Multiplier rule, per (component, regime) pair and per (component, "all"),
 * at most once per trading day (the day of the trade's exit in the exchange
 * zone; the day of the last change is state, so the limit survives restarts):
 *   fewer than min_samples trades    → no change
 *   Wilson lower bound > baseline    → multiplier + step
 *   Wilson upper bound < baseline    → multiplier − step
 *   otherwise (neutral evidence)     → one step back toward 1
 * clamped to [min_mult, max_mult]. Exit-reason families (text before "(":
 * "signal_decay(0.23)" → "signal_decay") follow the same rule against the
 * baseline of all exits.
 *
 * Everything is a function of the records fed in, in order; record times
 * only, never the wall clock. Sizes are bounded (256 components, 32 regimes
 * each, 128 exit families; beyond, "other").
 */
#ifndef TRADELEARN_WEIGHTS_H
#define TRADELEARN_WEIGHTS_H

#include <stddef.h>
#include <jansson.h>
#include "record.h"

struct weights_options {
	long min_samples;	   /* 30 */
	double step;		   /* 0.05 */
	double min_mult, max_mult; /* 0.25, 2.5 */
	double ewma_alpha;	   /* 0.05 */
	double z;		   /* 1.96 */
};
void weights_options_init(struct weights_options *o);

struct weights;
/* NULL on ENOMEM. */
struct weights *weights_new(const struct weights_options *o);
void weights_free(struct weights *w); /* NULL does nothing */

/* One change of a multiplier, for state/weight_learning.jsonl. */
struct weights_change {
	char kind[16];	 /* "component" or "exit" */
	char name[96];	 /* component name or exit family */
	char regime[64]; /* regime, or "all" */
	double old_mult, new_mult;
	char reason[96];
	long samples;
	char day[11]; /* trading day of the change, YYYY-MM-DD */
};

/* A close or partial close. Returns the number of changes it produced
 * (drain them with weights_take_changes), or -1 on ENOMEM. */
int weights_learn_trade(struct weights *w, const struct record *r);
/* An exit row (its close_reason and P&L). Same return. */
int weights_learn_exit(struct weights *w, const struct record *r);
/* Moves up to max pending changes into out, oldest first; returns how many. */
size_t weights_take_changes(struct weights *w, struct weights_change *out, size_t max);

/* Full state (new reference) and back (saved is borrowed). A loaded state
 * continues exactly as the saved one would have. -1 with err on a bad one. */
json_t *weights_save(const struct weights *w);
int weights_load(struct weights *w, json_t *saved, char *err, size_t errlen);

/* state/signal_weights.json and state/exit_weights.json (new references). */
json_t *weights_export_components(const struct weights *w);
json_t *weights_export_exits(const struct weights *w);

/* The multiplier of a component overall (1 when unknown). */
double weights_multiplier(const struct weights *w, const char *component);

#endif
