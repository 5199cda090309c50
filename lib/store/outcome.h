/*
 * outcome — the record of one closed trade (a close or a partial close), as
 * appended to state/outcomes/trade_outcomes.jsonl.zst.
 *
 * Keys: trade_id (the stable key), symbol, side, entry_ts,
 * exit_ts, entry_price, exit_price, qty, pnl_usd, pnl_frac, hold_minutes,
 * confidence, score, regime, sector, timeframe, time_of_day, day_of_week,
 * close_reason (the family), partial (the fraction closed, 1 for a full
 * close), components, and, only when the profile has categories or a
 * strategy, strategy and categories ({name: text or null}, strategy among
 * them); an absent value is null.
 * time_of_day (the bot's session when the profile maps one, else the
 * configured sessions' or the US equity buckets) and day_of_week are of the
 * entry, in the exchange's time zone.
 *
 * Reading them back: outcome_read_committed() hands every committed line to
 * a callback, in the committed order; outcome_decode() reads one line into
 * plain fields, several times faster than building a jansson object of it
 * (a retrain reads hundreds of thousands).
 */
#ifndef TRADELEARN_OUTCOME_H
#define TRADELEARN_OUTCOME_H

#include <stddef.h>
#include <stdint.h>
#include "lib/base/err.h"
#include "lib/ingest/record.h"
#include "lib/store/state.h"

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

/* Called with each committed outcome line (not NUL-terminated, valid only
 * during the call). Returns 0 to go on, 1 to stop the read there, or -1
 * with err set to fail it. */
typedef int (*outcome_line_fn)(void *ctx, const char *line, size_t len, struct err *err);

/* Reads the committed state of state_dir into st (state_load: its .prev
 * when the main file is damaged, *origin saying which, and err then
 * holding why the main file was passed over), then hands fn every line of
 * the outcome log up to the committed length, in the order committed.
 * Nothing committed yet (STATE_NONE) hands nothing. *valid (may be NULL)
 * receives the length of the log's prefix that decoded whole, at most the
 * committed length: less says a committed frame is damaged, and the lines
 * after it were not read (the caller decides whether that is fatal).
 * Returns the number of lines handed to fn, or -1 with err set: a state
 * that cannot be used (state_load's failures), the log unreadable, or fn's
 * failure. */
long outcome_read_committed(const char *state_dir, struct state *st, enum state_origin *origin,
			    outcome_line_fn fn, void *ctx, uint64_t *valid, struct err *err);

/* How deep the components a close carries are copied into its outcome:
 * "components" itself is level 1, and a value nested deeper is written as
 * null, so that every outcome line loads in any JSON reader (Python's json
 * module stops near 1,000 levels). */
#define OUTCOME_COMPONENTS_DEPTH 16

/* A number-valued member of an outcome's components. */
struct outcome_component {
	const char *name;
	double value;
};

/* A member of an outcome's categories: value NULL when null or not a
 * string. */
struct outcome_category {
	const char *name, *value;
};

/* One outcome line read back by outcome_decode(). Strings and components
 * belong to the decoder and stay valid until its next decode. */
struct outcome_fields {
	/* NULL when null, absent, or not a string. */
	const char *trade_id, *symbol, *side, *regime, *sector, *timeframe, *time_of_day,
	    *day_of_week, *close_reason;
	/* CALENDAR_NONE when null, absent, or not an ISO-8601 time. */
	int64_t entry_us, exit_us;
	/* NAN when null, absent, or not a number. */
	double entry_price, exit_price, qty, pnl_usd, pnl_frac, hold_minutes, confidence, score,
	    partial;
	/* The members of "components" that are numbers, in the order written
	 * (a name written twice keeps its first place and its last value, as
	 * jansson reads it); other members are left out. has_components: the
	 * key holds an object. */
	const struct outcome_component *components;
	size_t n_components;
	int has_components;
	/* The members of "categories" (strategy among them), in the order
	 * written (a name written twice keeps its first place and its last
	 * value); none when the key is absent or not an object. */
	const struct outcome_category *categories;
	size_t n_categories;
};

struct outcome_decoder;

/* A decoder with its own buffers. NULL with err ENOMEM. */
struct outcome_decoder *outcome_decoder_new(struct err *err);

/* Frees d; NULL does nothing. */
void outcome_decoder_free(struct outcome_decoder *d);

/* Reads line (len bytes, no newline) into *out: any JSON object (keys in
 * any order, unknown keys and values of any type skipped, escapes
 * decoded), read as json_loadb() and the getters above would read it.
 * Returns 0, or -1 with err set: EINVAL "at byte N: <problem>" when the
 * line is not one JSON object (or nests deeper than 512 levels, or holds
 * a \u0000), ENOMEM. */
int outcome_decode(struct outcome_decoder *d, const char *line, size_t len,
		   struct outcome_fields *out, struct err *err);

#endif
