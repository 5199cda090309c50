/*
 * signals — what became of the bot's signals (DESIGN §7.1).
 *
 * A signal row (KIND_SIGNAL) with a side, a finite stop-loss and a finite
 * take-profit on the right sides (long: stop_loss < take_profit; short:
 * take_profit < stop_loss; others are ignored) becomes PENDING until one of:
 *   - a later signal row of the same symbol carries a price (r->price) that
 *     crosses a level: long, price >= take_profit → SUCCESS, price <=
 *     stop_loss → FAILURE; short, price <= take_profit → SUCCESS, price >=
 *     stop_loss → FAILURE (the take-profit is checked first). Pending
 *     signals of the symbol are checked in arrival order, and only those
 *     not dated after the observation;
 *   - horizon_hours pass: a signal with ts + horizon < the ts of any later
 *     signal row (of any symbol) is EXPIRED, before that row's price is
 *     looked at;
 *   - max_pending signals wait and another arrives: the oldest (smallest ts,
 *     then arrival) is EXPIRED to make room.
 * A row's own price never resolves the row itself. Rows without a time
 * (CALENDAR_NONE) or a symbol are skipped.
 *
 * Prices are observed from the signals source itself, so this state is a
 * function of that source's rows in order, never of the wall clock.
 * Results are counted per symbol and per timeframe (r->timeframe, or
 * "none"): at most 512 keys each, the last being "other"; keys are cut to
 * 63 bytes at a UTF-8 character boundary.
 */
#ifndef TRADELEARN_SIGNALS_H
#define TRADELEARN_SIGNALS_H

#include <stddef.h>
#include <jansson.h>
#include "record.h"

#define SIGNALS_MAX_KEYS 512

struct signals_options {
	double horizon_hours; /* 24: unresolved after this → EXPIRED */
	long max_pending;     /* 10000 */
};

struct signals;
/* o NULL: defaults. NULL with errno EINVAL when horizon_hours is not a
 * positive finite number or max_pending < 1; NULL on ENOMEM. Memory grows
 * with the pending signals, up to max_pending. */
struct signals *signals_new(const struct signals_options *o);
void signals_free(struct signals *s); /* NULL does nothing */

/* One signal row (borrowed; nothing of it is kept). Returns 0, or -1 on
 * ENOMEM (then the row did not become pending; resolutions and expiries it
 * caused stand). Rows of other kinds are ignored. */
int signals_observe(struct signals *s, const struct record *r);

/* Full state, pending signals included: a new reference, NULL on ENOMEM. */
json_t *signals_save(const struct signals *s);
/* Replaces s's state with saved (borrowed). Returns 0, or -1 with a message
 * in err (s unchanged) when saved is not a state of format 1 or on ENOMEM.
 * After save → text → parse → load, observing continues bit for bit as the
 * saved instance would have. More pending signals than this instance's
 * max_pending: the oldest expire, as when full. */
int signals_load(struct signals *s, json_t *saved, char *err, size_t errlen);

/* state/signal_outcomes.json, a new reference (NULL on ENOMEM):
 * {"format": 1, "horizon_hours", "pending",
 *  "by_symbol": {symbol: {"success", "failure", "expired", "success_rate",
 *                         "pending"}},
 *  "by_timeframe": {timeframe: {...}}}
 * success_rate is success / (success + failure), null before the first. */
json_t *signals_export(const struct signals *s);

#endif
