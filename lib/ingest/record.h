/*
 * record — one log line becomes one canonical record, or a reason to
 * quarantine it.
 *
 * record_parse() reads the line once with jscan (lib/ingest/jscan.h), taking
 * only the values at the profile's pointers: no tree of the line is built.
 *
 * record_parse() never fails on data: a line that is not JSON, not an object,
 * lacks a field its kind requires, or holds a value of the wrong type gets
 * RECORD_QUARANTINE with a reason and a detail for state/quarantine.jsonl.
 *
 * Required fields by kind: every kind needs ts (ISO-8601 or an epoch number)
 * and symbol; close and partial also need their stable key and one of
 * pnl_usd / pnl_pct.
 *
 * A value a value map does not hold, and a side that is none of the
 * spellings of long and short, is absent and named in unmapped[] (the
 * caller counts it per field). Features: the numbers of components (numeric
 * strings read as numbers, booleans as 1 and 0); any other value there is
 * left out and counted in features_skipped.
 */
#ifndef TRADELEARN_RECORD_H
#define TRADELEARN_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/ingest/profile.h"

#define RECORD_MAX_UNMAPPED 8
#define RECORD_UNMAPPED_NAME 64 /* "side", "categories.venue", ... */

enum record_status {
	RECORD_OK,	  /* a record of kind != PROFILE_KIND_IGNORE */
	RECORD_IGNORED,	  /* the profile marks the row irrelevant: counted, skipped */
	RECORD_QUARANTINE /* reason says why */
};

struct record {
	enum profile_source_id source;
	enum profile_kind kind;
	/* Owned, released with the record: NULL from record_parse (a record
	 * built by hand may hang the values it points at on it). */
	json_t *row;
	char *text; /* owned: the line's strings the fields below point into */

	/* Strings point into text or the profile's value maps (valid until
	 * record_release), or are NULL. */
	const char *trade_id, *position_id, *symbol, *regime, *sector, *timeframe;
	const char *close_reason, *signal_id, *order_id, *status, *reason;
	const char *strategy, *session;
	json_t *components; /* an object of numbers (own_components, or borrowed), or NULL */
	/* {name: text or null}: the profile's categories, and "strategy" when
	 * the profile maps it; owned, NULL when the profile has neither. */
	json_t *categories;
	json_t *own_components; /* what components points at when it was built */
	int features_skipped;	/* values of components that are not numbers */
	size_t n_unmapped;
	char unmapped[RECORD_MAX_UNMAPPED][RECORD_UNMAPPED_NAME];

	char key[512];	      /* closes and partials: the stable trade key */
	int side;	      /* +1 long, -1 short, 0 unknown */
	int traded;	      /* 1, 0, or -1 unknown */
	int64_t ts, entry_ts; /* microseconds UTC; CALENDAR_NONE when absent */
	/* NAN when absent. pnl_frac is a fraction whatever the profile's unit. */
	double entry_price, exit_price, qty, pnl_usd, pnl_frac, hold_minutes;
	double confidence, score, fraction, equity, price, stop_loss, take_profit;
	int pnl_sign_mismatch; /* P&L sign disagrees with prices and side */
	int entry_ts_derived;  /* entry_ts was computed from ts and hold_minutes */
};

/* Parses line (len bytes, no newline) from source with profile p into out.
 * On RECORD_QUARANTINE, *reason is a static token ("not_json", "not_object",
 * "missing_field", "bad_value") and detail says what, for a person. out must
 * be released with record_release() whatever the status. */
enum record_status record_parse(const struct profile *p, enum profile_source_id source,
				const char *line, size_t len, struct record *out,
				const char **reason, char *detail, size_t detail_len);

/* For a close or partial: fills what follows from the other fields when it
 * is absent (pnl_usd from pnl_frac and entry_price × qty and the reverse,
 * fraction 1 for a full close, hold_minutes from entry_ts) and sets
 * pnl_sign_mismatch. record_parse() calls it; call it again after filling
 * entry fields from elsewhere (the trade's open). */
void record_derive_trade(struct record *r);

/* Drops the row. Safe on a zeroed or already-released record. */
void record_release(struct record *r);

/* Resolves an RFC 6901 JSON pointer in doc; NULL when absent. Borrowed.
 * jscan resolves a profile's pointers in a line as this does in the line's
 * jansson tree (the tests hold one to the other). */
json_t *record_pointer(json_t *doc, const char *pointer);

/* +1 for long/buy/bullish, -1 for short/sell/bearish, 0 otherwise. */
int record_side_from_text(const char *text);

#endif
