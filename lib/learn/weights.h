/*
 * weights — component and exit-reason statistics, and their multipliers,
 * learned one closed trade (or exit row) at a time.
 *
 * A trade's outcome is its P&L: pnl_usd, or pnl_frac when pnl_usd is NAN;
 * a win is P&L > 0 (zero is a loss). A row with neither is not evidence
 * and teaches nothing (an exit row without P&L is still counted).
 *
 * A component is ACTIVE in a trade when its value at entry is a number
 * above the component's running mean over the earlier trades that carried
 * it: it pushed for this trade more than it usually does. The mean starts at
 * 0 (so a first value counts when > 0) and weighs trades like the evidence
 * below (half-life evidence_half_life), so it follows a column whose scale
 * shifts. This works on any scale: a column that is always positive is
 * active in its higher half; a penalty (always <= 0) is active when milder
 * than usual, so a penalty whose stronger values precede losses gains
 * weight; a constant column is never active. Every finite number updates
 * its component's mean, active or not. For every active component the trade
 * counts, overall and under the trade's regime (r->regime, or "none"):
 * wins, losses, P&L USD, an EWMA of the per-trade outcome (1 or 0), a Beta
 * posterior and a Wilson interval of the win rate. The baseline is the same
 * over all trades, overall and per regime.
 *
 * Multiplier rule, run after each trade for every touched (component,
 * regime) pair — against the baseline of that regime — and for the
 * (component, "all") pair — against the overall baseline:
 *   fewer than min_samples wins + losses   → nothing
 *   already changed on this trading day    → nothing
 *   Wilson lower bound > baseline win rate → multiplier + step
 *   Wilson upper bound < baseline win rate → multiplier − step
 *   otherwise (neutral evidence)           → one step back toward 1, never
 *                                            past it; at 1, nothing
 * The rule's evidence — the Wilson interval, and the baseline it is compared
 * with — is the pair's win and loss counts decayed with a half-life of
 * evidence_half_life trades of that pair, so a component whose edge goes
 * away drifts back to 1 instead of being held up by its old record; the
 * reported wins and losses stay cumulative.
 * clamped to [min_mult, max_mult]; every change becomes an event. The
 * trading day is the exchange-local date (calendar_local) of r->ts; the day
 * of a pair's last change is state, so the once-a-day limit survives a
 * save/load. A record dated on or before that day (logs out of order) does
 * not change the pair either, so no pair ever changes twice on one date. A
 * record without a time (CALENDAR_NONE) updates statistics, never
 * multipliers. Exit-reason families (outcome_reason_family:
 * "signal_decay(0.23)" → "signal_decay") follow the same rule against the
 * baseline of all exits, under the pair (family, "all").
 *
 * Everything is a function of the records fed in, in order: record times
 * only, never the wall clock. Sizes are bounded: 256 components, 32 regimes,
 * 128 exit families; the last slot of each is "other", which takes every
 * later name (a component literally named "other" shares it). Names are cut
 * to 95 bytes (regimes 63) at a UTF-8 character boundary.
 */
#ifndef TRADELEARN_WEIGHTS_H
#define TRADELEARN_WEIGHTS_H

#include <stddef.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/base/option.h"
#include "lib/ingest/record.h"

#define WEIGHTS_MAX_COMPONENTS 256
#define WEIGHTS_MAX_REGIMES 32
#define WEIGHTS_MAX_REASONS 128

/* The settings, their defaults and ranges: weights_option_table (weights.c),
 * the "weights" section of the config. */
struct weights_options {
	long min_samples;	   /* wins + losses before a multiplier moves */
	double step;		   /* new = old ± step */
	double min_mult, max_mult; /* the range of a multiplier */
	double ewma_alpha;	   /* of the per-trade outcome EWMA */
	double z;		   /* of the Wilson interval */
	double evidence_half_life; /* trades: decay of the rule's evidence */
};
extern const struct option_table weights_option_table;

/* Fills o with the defaults of weights_option_table. */
void weights_options_init(struct weights_options *o);

struct weights;
/* o NULL: defaults. Returns NULL with err set: EINVAL when an option is
 * refused by weights_option_table ("weights options: <key>: <problem>"), or
 * ENOMEM. */
struct weights *weights_new(const struct weights_options *o, struct err *err);
void weights_free(struct weights *w); /* NULL does nothing */

/* One change of a multiplier, for state/weight_learning.jsonl. */
struct weights_change {
	char kind[16];	 /* "component" or "exit" */
	char name[96];	 /* component name or exit family */
	char regime[64]; /* regime, or "all" */
	double old_mult, new_mult;
	char reason[96]; /* "wilson_lo 0.580 > baseline 0.510", ... */
	long samples;	 /* wins + losses of the pair at the change */
	char day[11];	 /* trading day of the change, YYYY-MM-DD */
};

/* A close or partial close (r is borrowed; nothing of it is kept). Returns
 * the number of changes it produced (drain them with weights_take_changes),
 * or -1 with err set to ENOMEM (then at most empty component entries were
 * added; no statistic moved). */
int weights_learn_trade(struct weights *w, const struct record *r, struct err *err);
/* An exit row: its close_reason, P&L and hold_minutes. Same return. */
int weights_learn_exit(struct weights *w, const struct record *r, struct err *err);
/* Moves up to max pending changes into out (caller's array), oldest first;
 * returns how many. */
size_t weights_take_changes(struct weights *w, struct weights_change *out, size_t max);

/* The multiplier of a component overall (1 when unknown). */
double weights_multiplier(const struct weights *w, const char *component);

/* Full state as a new reference (NULL on ENOMEM). Pending changes are not
 * part of it: drain them first. The options are not either: the loading
 * instance's own apply from then on. */
json_t *weights_save(const struct weights *w);
/* Replaces w's state with saved (borrowed). Returns 0, or -1 with err set
 * and w unchanged: EINVAL when saved is not a state of format 1 or 2 ("weights:
 * not a saved state of format 1 or 2 (bad <part>)"), or ENOMEM. Saves are format 2; a format 1
 * state (before the running means) loads with every mean starting again from 0. After save → text →
 * parse → load, learning continues bit for bit as the saved instance would have. Drops pending
 * changes. */
int weights_load(struct weights *w, json_t *saved, struct err *err);

/* state/signal_weights.json and state/exit_weights.json: aggregates only,
 * bounded by the caps above (each component also shows its running_mean,
 * null before its first value). New references; NULL on ENOMEM. */
json_t *weights_export_components(const struct weights *w);
json_t *weights_export_exits(const struct weights *w);

#endif
