/*
 * outcome — the record of one closed trade (a close or a partial close), as
 * appended to state/outcomes/trade_outcomes.jsonl.zst.
 *
 * Keys: trade_id (the stable key), symbol, side, entry_ts,
 * exit_ts, entry_price, exit_price, qty, pnl_usd, pnl_frac, hold_minutes,
 * confidence, score, regime, sector, timeframe, time_of_day, day_of_week,
 * close_reason (the family), partial (the fraction closed, 1 for a full
 * close), components; an absent value is null. time_of_day and day_of_week
 * are of the entry, in the exchange's time zone.
 */
#ifndef TRADELEARN_OUTCOME_H
#define TRADELEARN_OUTCOME_H

#include <stddef.h>
#include "lib/ingest/record.h"

/* The family of a close reason: parenthesised arguments removed, so
 * "signal_decay(0.23)" → "signal_decay" and
 * "trail_stop(-1.2%)+signal_decay(0.65)" → "trail_stop+signal_decay".
 * An empty or absent reason gives "unknown". */
void outcome_reason_family(const char *reason, char *buf, size_t len);

/* Builds the outcome object of a close or partial record. New reference, or
 * NULL on ENOMEM. */
json_t *outcome_from_record(const struct record *r);

/* The outcome as one compact JSON line without newline, malloc'd (free it),
 * keys in a fixed order so equal outcomes are equal bytes. NULL on ENOMEM. */
char *outcome_encode(const struct record *r);

#endif
