/*
 * missed — the day's missed opportunities and what they would have made:
 * signals the bot was confident about but did not act on, priced at fixed
 * horizons from later observed prices of the symbol, for the daily report
 * and state/missed_signals.jsonl.zst. Pure: the daily job reads the logs and passes arrays; nothing
 * here does I/O, and every array passed in is borrowed and left unchanged.
 *
 * A signal is MISSED when all of these hold:
 *   - confidence >= min_confidence (a NaN confidence never is);
 *   - traded != 1 (the bot does not say it traded it);
 *   - price is a finite number > 0 and side is +1 or -1 (anything else
 *     cannot be priced, so it is not an opportunity we can measure);
 *   - no activity (an order or a trade open) of the same symbol has a ts in
 *     [ts − window_us, ts + window_us], bounds included. This holds for
 *     traded == 0 too: a bot that says "not traded" but traded the symbol
 *     within the window had that opportunity after all;
 *   - it is not a repeat: a bot re-emits a signal every cycle while the
 *     setup lasts, and those are one opportunity, not many. Of the signals
 *     that pass the tests above, taken per symbol in (ts, array index)
 *     order, one is counted when it comes more than window_us after the
 *     last COUNTED signal of its symbol; the others are dropped. Measuring
 *     from the last counted one, not the previous one, means a setup that
 *     lasts all day is one opportunity per window rather than one in all.
 *     Side is not looked at: a reversal within the window is still the same
 *     moment of the same symbol, and counting both would add two P&Ls of
 *     opposite sign for one decision.
 *
 * Horizons are 15 min, 30 min, 1 h and the close. For the first three the
 * horizon price is the first observed price of the symbol with
 * ts >= signal ts + horizon and ts <= close_us; for the close it is the
 * last observed price with signal ts < ts <= close_us. Observed prices that
 * are not finite numbers > 0 are ignored. The return is side-adjusted,
 * (price_h / price − 1) × side, and pnl_usd = return × notional_usd; both
 * are NAN when there is no horizon price. Inputs may come in any order:
 * prices and activity are sorted internally (copies of pointers), so a
 * call is O((n_sig + n_px + n_act) log(n_px + n_act + n_sig)).
 *
 * Strings: symbol and reason are read up to their array size even without
 * a NUL. The JSON functions need them to be UTF-8 (as jsontext_copy_utf8
 * leaves them); jansson refuses anything else, and they then return NULL.
 */
#ifndef TRADELEARN_MISSED_H
#define TRADELEARN_MISSED_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/base/err.h"

#include "lib/base/option.h"

#define MISSED_SYMBOL_LEN 32
#define MISSED_REASON_LEN 64

/* Horizon slots of ret[] and pnl_usd[], and their JSON suffixes
 * "15m", "30m", "1h", "close". */
enum { MISSED_H_15M, MISSED_H_30M, MISSED_H_1H, MISSED_H_CLOSE, MISSED_HORIZONS };

#define MISSED_MAX_REASONS 16
#define MISSED_MAX_SUGGESTIONS 8
#define MISSED_SUGGESTION_LEN 201 /* 200 bytes of UTF-8 text and the NUL */

/* Suggestion thresholds (see missed_summary). */
#define MISSED_SUGGEST_MIN_SIGNALS 3	 /* signals with a known 1 h return */
#define MISSED_SUGGEST_MEAN_RET_1H 0.002 /* |mean 1 h return| above 0.2% */

struct missed_signal {
	int64_t ts;
	char symbol[MISSED_SYMBOL_LEN];
	int side;			/* +1 long/buy, -1 short/sell */
	double confidence;		/* NAN when the bot logs none */
	double score;			/* the bot's own signal score; NAN or 0 if unknown */
	double price;			/* price at the signal; NAN if unknown */
	char reason[MISSED_REASON_LEN]; /* why the bot did not trade, "" when it does not say */
	int traded;			/* -1 unknown, 0 bot says not traded, 1 bot says traded */
};

/* Every observed price of a symbol: from signals, orders, opens, closes. */
struct missed_price {
	int64_t ts;
	char symbol[MISSED_SYMBOL_LEN];
	double price;
};

/* The bot's orders and trade opens. */
struct missed_activity {
	int64_t ts;
	char symbol[MISSED_SYMBOL_LEN];
};

/* The settings, their defaults and ranges: missed_option_table (missed.c),
 * the "missed_" keys of the config's "daily" section. */
struct missed_options {
	double min_confidence; /* a signal at or above it is strong */
	int64_t window_us;     /* the traded test and the repeat test (written in minutes) */
	double notional_usd;   /* hypothetical position size for pnl_usd */
	/* Bots that log a score but no confidence (stock-bot's blocked
	 * trades): a signal without a confidence qualifies when its score is
	 * at least this. NAN (none, the default): only confidence qualifies. */
	double min_score;
};
extern const struct option_table missed_option_table;

/* Fills o with the defaults of missed_option_table. */
void missed_options_init(struct missed_options *o);

struct missed_result {
	size_t index;			 /* of the signal in the array passed to missed_find */
	double ret[MISSED_HORIZONS];	 /* side-adjusted return fraction; NAN unknown */
	double pnl_usd[MISSED_HORIZONS]; /* ret × notional_usd; NAN unknown */
};

struct missed_reason {
	char reason[MISSED_REASON_LEN]; /* the bot's reason; "unknown" when it gave none */
	long count;			/* missed signals */
	long known_1h;			/* of which with a known 1 h return */
	double pnl_usd;			/* Σ 1 h P&L where known; NAN when none is */
	double mean_ret_1h;		/* mean 1 h return where known; NAN when none is */
};

/*
 * The headline figure is the 1 h P&L, not the close: it is the horizon at
 * which a day trader's signal is usually judged, it exists for signals of
 * the whole session except the last hour, and it is not dominated by
 * whatever happened to the market in the afternoon. The close is still in
 * every result line and in by_horizon.
 *
 * Sums follow metrics.h: 0 when there are no missed signals, NAN when there
 * are some but none with a value at that horizon; a mean of no values is
 * NAN.
 *
 * by_reason is ordered by count (most first), then reason (bytewise). At
 * most MISSED_MAX_REASONS: when there are more, the first 15 keep their
 * slot and the rest are folded into a last one named "other".
 *
 * Suggestions, at most MISSED_MAX_SUGGESTIONS, each cut to 200 bytes at a
 * UTF-8 boundary, in this order:
 *   1. a verdict on all missed signals when at least
 *      MISSED_SUGGEST_MIN_SIGNALS of them are counted: "lost money on
 *      average at every horizon" (every horizon with a value has a mean
 *      return < 0: the filters were right), or "made money at every
 *      horizon" (every mean > MISSED_SUGGEST_MEAN_RET_1H: they were too
 *      strict);
 *   2. per reason, in by_reason order: with at least
 *      MISSED_SUGGEST_MIN_SIGNALS signals of known 1 h return, a mean 1 h
 *      return > +0.2% says the rule cost money ("consider relaxing"), one
 *      < −0.2% that it saved money ("keep it").
 */
struct missed_summary {
	long count;
	double pnl_usd_1h_total;	       /* the report's "missed_pnl_usd" */
	long known[MISSED_HORIZONS];	       /* results with a value at each horizon */
	double pnl_usd_total[MISSED_HORIZONS]; /* Σ pnl_usd where known */
	double mean_ret[MISSED_HORIZONS];      /* mean ret where known */
	size_t n_reasons;
	struct missed_reason by_reason[MISSED_MAX_REASONS];
	size_t n_suggestions;
	char suggestions[MISSED_MAX_SUGGESTIONS][MISSED_SUGGESTION_LEN];
};

/*
 * Finds the missed signals among sig[0..n_sig-1] (see the top of this
 * file), prices them from px[0..n_px-1] up to close_us (the session end,
 * e.g. 16:00 exchange time, in epoch microseconds) and checks them against
 * act[0..n_act-1]. An array may be NULL when its count is 0; opt NULL means
 * the defaults.
 *
 * On success returns 0, sets *out to a malloc'd array of *n_out results in
 * signal index order (the caller frees it; NULL when there are none) and
 * fills *sum. Returns -1 with err set, *out NULL, *n_out 0 and *sum
 * zeroed: EINVAL (out, n_out or sum NULL, an array NULL with a count, or
 * options refused by missed_option_table: "missed options: <key>:
 * <problem>") or ENOMEM.
 */
int missed_find(const struct missed_signal *sig, size_t n_sig, const struct missed_price *px,
		size_t n_px, const struct missed_activity *act, size_t n_act, int64_t close_us,
		const struct missed_options *opt, struct missed_result **out, size_t *n_out,
		struct missed_summary *sum, struct err *err);

/*
 * One line of state/missed_signals.jsonl.zst, a new reference:
 * {"ts": ISO-8601 UTC, "symbol", "side": "long"|"short", "confidence",
 *  "price", "reason" ("unknown" when the bot gave none, as in by_reason),
 *  "ret_15m", "ret_30m", "ret_1h", "ret_close", "pnl_usd_15m",
 *  "pnl_usd_30m", "pnl_usd_1h", "pnl_usd_close"}; a non-finite number is
 * null. s is the signal r->index points at; both are borrowed. NULL on
 * ENOMEM or text that is not UTF-8.
 */
json_t *missed_result_json(const struct missed_signal *s, const struct missed_result *r);

/*
 * The summary for the report, a new reference:
 * {"count", "missed_pnl_usd" (pnl_usd_1h_total), "horizon": "1h",
 *  "by_horizon": {"15m": {"known", "pnl_usd", "mean_ret"}, ...},
 *  "by_reason": {reason: {"count", "pnl_usd", "mean_ret_1h"}},
 *  "suggestions": [text, ...]}; a non-finite number is null. s is borrowed.
 * NULL on ENOMEM or text that is not UTF-8.
 */
json_t *missed_summary_json(const struct missed_summary *s);

#endif
