/*
 * signals — what became of the bot's signals (DESIGN §7.1).
 *
 * A signal with a side, a stop-loss and a take-profit waits (pending) until
 * a later observed price of its symbol crosses one of them — SUCCESS at the
 * take-profit, FAILURE at the stop — or until horizon_hours pass: EXPIRED.
 * Prices are observed from the signals source itself (each signal row
 * carries its symbol's price), so this state depends on that source's order
 * alone. Success rates are kept per symbol and per timeframe:
 * success / (success + failure), null before the first resolution.
 * Bounded: at most max_pending signals wait; when full, the oldest expires.
 */
#ifndef TRADELEARN_SIGNALS_H
#define TRADELEARN_SIGNALS_H

#include <stddef.h>
#include <jansson.h>
#include "record.h"

struct signals_options {
	double horizon_hours; /* 24 */
	long max_pending;     /* 10000 */
};

struct signals;
/* NULL on ENOMEM. o NULL: defaults. */
struct signals *signals_new(const struct signals_options *o);
void signals_free(struct signals *s); /* NULL does nothing */

/* A signal row: its price first resolves earlier pending signals of its
 * symbol (in arrival order), then it may become pending itself. */
void signals_observe(struct signals *s, const struct record *r);

/* Full state (new reference) and back (saved borrowed); -1 with err. */
json_t *signals_save(const struct signals *s);
int signals_load(struct signals *s, json_t *saved, char *err, size_t errlen);

/* {"format", "horizon_hours", "pending", "by_symbol": {sym: {success,
 * failure, expired, success_rate, pending}}, "by_timeframe": {...}}. */
json_t *signals_export(const struct signals *s);

#endif
