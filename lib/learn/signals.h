/*
 * signals — what became of the bot's signals.
 *
 * Observations. Every record with a time and a symbol that carries a price
 * is an observation of that price at the record's time: a signal's price
 * (r->price), an order's price or fill (r->price), an open's entry price, a
 * close's or partial close's exit price. Exit rows are not observed (they
 * repeat the closes).
 *
 * A signal row (PROFILE_KIND_SIGNAL) with a side, a finite stop-loss and a finite
 * take-profit on the right sides (long: stop_loss < take_profit; short:
 * take_profit < stop_loss; others are ignored) becomes PENDING until one of:
 *   - a later observation of the same symbol crosses a level: long, price
 *     >= take_profit → SUCCESS, price <= stop_loss → FAILURE; short, price
 *     <= take_profit → SUCCESS, price >= stop_loss → FAILURE (the take-profit
 *     is checked first). Pending signals of the symbol are checked in
 *     arrival order, and only those not dated after the observation: a
 *     record older than a signal never resolves it;
 *   - horizon_hours pass: a signal with ts + horizon < the time of any later
 *     observation (of any symbol) is EXPIRED, before that observation's
 *     price is looked at;
 *   - max_pending signals wait and another arrives: the oldest (smallest ts,
 *     then arrival) is EXPIRED to make room.
 * A row's own price never resolves the row itself. Rows without a time
 * (CALENDAR_NONE) or a symbol are skipped.
 *
 * The order. The records come from several sources ("streams", r->source),
 * each read in its own order but interleaved however the follower's batches
 * fell. So observations are not applied as they arrive: signals_observe()
 * only queues them, and signals_settle(), at the end of a batch, applies
 * those that every other stream that has delivered anything has passed,
 * merged by (time, source, arrival within the source). A row dated before
 * its stream's latest time counts at that latest time (its own time still
 * decides what it may resolve). So the state after the same records, once
 * settled, is the same however they were interleaved and cut into batches,
 * and a function of record times only, never of the wall clock. A source
 * the caller has read to its end in the batch (signals_caught_up) counts as
 * past the newest time any source delivered: a bot writes its files as
 * things happen, so what a quiet source logs next comes after that. The
 * limits of that: a source holds nothing back until a batch in which it
 * delivered its first row (a source that starts logging after the others
 * have been read past its first rows' time has those applied late); a row a
 * bot logs with a time before rows it already logged elsewhere, after its
 * source was read to its end, is applied at its source's place; at most
 * SIGNALS_MAX_WAITING observations wait (past that the oldest is applied at
 * once; signals_holding keeps a backlog well under it). With a single
 * stream, every observation is applied at the next settle.
 *
 * Results are counted per symbol and per timeframe (r->timeframe, or
 * "none"): at most 512 keys each, the last being "other"; keys are cut to
 * 63 bytes at a UTF-8 character boundary.
 */
#ifndef TRADELEARN_SIGNALS_H
#define TRADELEARN_SIGNALS_H

#include <stddef.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/base/option.h"
#include "lib/ingest/record.h"

#define SIGNALS_MAX_KEYS 512
#define SIGNALS_STREAMS PROFILE_SOURCE_COUNT /* one per source */
#define SIGNALS_MAX_WAITING 100000
#define SIGNALS_HOLD_WAITING 10000

/* The settings, their defaults and ranges: signals_option_table (signals.c),
 * the "signals" section of the config. */
struct signals_options {
	double horizon_hours; /* unresolved after this → EXPIRED */
	long max_pending;     /* signals pending at most: the oldest expires */
};
extern const struct option_table signals_option_table;

/* Fills o with the defaults of signals_option_table. */
void signals_options_init(struct signals_options *o);

struct signals;
/* o NULL: defaults. Memory grows with the pending signals, up to
 * max_pending. Returns NULL with err set: EINVAL when an option is refused
 * by signals_option_table ("signals options: <key>: <problem>"), or ENOMEM. */
struct signals *signals_new(const struct signals_options *o, struct err *err);
void signals_free(struct signals *s); /* NULL does nothing */

/* One record (borrowed; nothing of it is kept) of any source: an
 * observation as above, queued for signals_settle(). Returns 0, or -1 with
 * err set to ENOMEM (then an observation was lost or a signal did not become
 * pending; the resolutions and expiries made stand). Exit rows and rows of
 * unknown kind are ignored. */
int signals_observe(struct signals *s, const struct record *r, struct err *err);

/* The caller read stream to its end in this batch (nothing more was there):
 * until the batch's settle, the stream counts as having passed the newest
 * time any stream has delivered — what it logs next, it logs after that. So
 * a source that is quiet for hours (closes, between trades) does not hold
 * back the others' observations. */
void signals_caught_up(struct signals *s, int stream);

/* 1 when the caller should not read stream in this batch: more than
 * SIGNALS_HOLD_WAITING observations wait, and another stream is behind
 * this one in time (while catching up on a backlog, a sparse source runs
 * days ahead of a dense one). Reading the one behind first keeps the
 * waiting bounded; it changes when rows are read, never the result. */
int signals_holding(const struct signals *s, int stream);

/* Ends a batch: applies the waiting observations that no stream can still
 * precede, then forgets which streams were caught up. Returns 0, or -1 with
 * err set to ENOMEM (as signals_observe). */
int signals_settle(struct signals *s, struct err *err);

/* Full state, pending signals included: a new reference, NULL on ENOMEM. */
json_t *signals_save(const struct signals *s);
/* Replaces s's state with saved (borrowed). Returns 0, or -1 with err set
 * and s unchanged: EINVAL when saved is not a state of format 1 or 2
 * ("signals: not a saved state of format 1 or 2 (bad <part>)"), or ENOMEM.
 * Format 1, written before other sources were observed, has no waiting
 * observations.
 * After save → text → parse → load, observing continues bit for bit as the
 * saved instance would have. More pending signals than this instance's
 * max_pending: the oldest expire, as when full. */
int signals_load(struct signals *s, json_t *saved, struct err *err);

/* state/signal_outcomes.json, a new reference (NULL on ENOMEM):
 * {"format": 1, "horizon_hours", "pending", "waiting" (observations not
 *  yet applied),
 *  "by_symbol": {symbol: {"success", "failure", "expired", "success_rate",
 *                         "pending"}},
 *  "by_timeframe": {timeframe: {...}}}
 * success_rate is success / (success + failure), null before the first. */
json_t *signals_export(const struct signals *s);

#endif
