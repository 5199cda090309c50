/*
 * profile — how a bot's rows map onto tradelearn's canonical record.
 *
 * A profile is a JSON object (the built-in ones are embedded JSON text parsed
 * by the same code as the config's, so they double as worked examples):
 *
 *   {
 *     "pnl_unit": "percent" | "fraction",
 *     "position": "trade_id" | "symbol",   which field links a close to its open
 *     "sources": {
 *       "attribution": {
 *         "file": "attribution.jsonl",
 *         "kind": {"pointer": "/event", "equals": {"open": "open", ...},
 *                  "default": "ignore"}          or "prefix": {...}, or a constant
 *                                                 kind string such as "exit"
 *         "key": ["/trade_id"],          closes: JSON pointers joined with '|'
 *         "partial_key": ["/trade_id", "/ts"],
 *         "fields": {"symbol": "/symbol", "pnl_pct": ["/context/pnl_pct", "/pnl_pct"], ...}
 *       },
 *       "exit": {...}, "signals": {...}, "orders": {...}
 *     }
 *   }
 *
 * A field is a JSON pointer or a list of them (the first present, non-null
 * one wins). Kinds: open, close, partial, exit, signal, order, ignore. A row
 * whose kind value matches nothing is "ignore" (counted, skipped); a row
 * lacking the kind pointer takes "default", or is quarantined without one.
 */
#ifndef TRADELEARN_PROFILE_H
#define TRADELEARN_PROFILE_H

#include <stddef.h>
#include <jansson.h>

enum profile_source_id {
	SOURCE_ATTRIBUTION,
	SOURCE_EXIT,
	SOURCE_SIGNALS,
	SOURCE_ORDERS,
	SOURCE_COUNT
};

enum record_kind {
	KIND_NONE = 0,
	KIND_OPEN,
	KIND_CLOSE,
	KIND_PARTIAL,
	KIND_EXIT,
	KIND_SIGNAL,
	KIND_ORDER,
	KIND_IGNORE
};

/* Canonical fields a profile can map. */
enum profile_field {
	FIELD_TRADE_ID,
	FIELD_POSITION_ID,
	FIELD_SYMBOL,
	FIELD_SIDE,
	FIELD_TS,
	FIELD_ENTRY_TS,
	FIELD_ENTRY_PRICE,
	FIELD_EXIT_PRICE,
	FIELD_QTY,
	FIELD_PNL_USD,
	FIELD_PNL_PCT,
	FIELD_HOLD_MINUTES,
	FIELD_CONFIDENCE,
	FIELD_SCORE,
	FIELD_REGIME,
	FIELD_SECTOR,
	FIELD_TIMEFRAME,
	FIELD_CLOSE_REASON,
	FIELD_FRACTION,
	FIELD_COMPONENTS,
	FIELD_EQUITY,
	FIELD_SIGNAL_ID,
	FIELD_ORDER_ID,
	FIELD_PRICE,
	FIELD_STOP_LOSS,
	FIELD_TAKE_PROFIT,
	FIELD_STATUS,
	FIELD_REASON,
	FIELD_TRADED,
	FIELD_COUNT
};

#define PROFILE_MAX_POINTERS 4
#define PROFILE_MAX_KINDS 16

struct profile_pointers {
	size_t n;
	char *p[PROFILE_MAX_POINTERS];
};

struct profile_source {
	char file[256];
	enum record_kind constant_kind; /* KIND_NONE when kind comes from a pointer */
	char *kind_pointer;
	int kind_by_prefix; /* 1: "prefix" map, 0: "equals" map */
	size_t n_kinds;
	char *kind_value[PROFILE_MAX_KINDS];
	enum record_kind kind_of[PROFILE_MAX_KINDS];
	enum record_kind kind_default; /* KIND_NONE: a missing kind field quarantines */
	struct profile_pointers key, partial_key;
	struct profile_pointers field[FIELD_COUNT];
};

struct profile {
	char name[64];
	int pnl_percent;	  /* 1: pnl_pct is in percent, 0: a fraction */
	int position_by_symbol;	  /* 1: closes link to opens by symbol */
	struct profile_source source[SOURCE_COUNT];
};

/* Source names, in enum order: "attribution", "exit", "signals", "orders". */
const char *profile_source_name(enum profile_source_id id);
/* "open", "close", … for a kind. */
const char *profile_kind_name(enum record_kind kind);
const char *profile_field_name(enum profile_field field);

/* Builds a profile from its JSON description (borrowed). On failure returns
 * -1 and writes "<path>: <problem>" into err, where path names the offending
 * key relative to the profile ("sources.exit.fields.pnl_usdd"). */
int profile_from_json(struct profile *p, const char *name, json_t *desc, char *err, size_t errlen);

/* Loads a built-in profile ("canonical" or "stock-bot"). -1 when unknown. */
int profile_builtin(struct profile *p, const char *name);

/* The JSON text of a built-in profile, or NULL (for `--help` and docs). */
const char *profile_builtin_text(const char *name);

/* Frees the pointer strings. */
void profile_release(struct profile *p);

#endif
