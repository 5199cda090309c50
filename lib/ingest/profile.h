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
#include "lib/base/err.h"

enum profile_source_id {
	PROFILE_SOURCE_ATTRIBUTION,
	PROFILE_SOURCE_EXIT,
	PROFILE_SOURCE_SIGNALS,
	PROFILE_SOURCE_ORDERS,
	PROFILE_SOURCE_COUNT
};

enum profile_kind {
	PROFILE_KIND_NONE = 0,
	PROFILE_KIND_OPEN,
	PROFILE_KIND_CLOSE,
	PROFILE_KIND_PARTIAL,
	PROFILE_KIND_EXIT,
	PROFILE_KIND_SIGNAL,
	PROFILE_KIND_ORDER,
	PROFILE_KIND_IGNORE
};

/* Canonical fields a profile can map. */
enum profile_field {
	PROFILE_FIELD_TRADE_ID,
	PROFILE_FIELD_POSITION_ID,
	PROFILE_FIELD_SYMBOL,
	PROFILE_FIELD_SIDE,
	PROFILE_FIELD_TS,
	PROFILE_FIELD_ENTRY_TS,
	PROFILE_FIELD_ENTRY_PRICE,
	PROFILE_FIELD_EXIT_PRICE,
	PROFILE_FIELD_QTY,
	PROFILE_FIELD_PNL_USD,
	PROFILE_FIELD_PNL_PCT,
	PROFILE_FIELD_HOLD_MINUTES,
	PROFILE_FIELD_CONFIDENCE,
	PROFILE_FIELD_SCORE,
	PROFILE_FIELD_REGIME,
	PROFILE_FIELD_SECTOR,
	PROFILE_FIELD_TIMEFRAME,
	PROFILE_FIELD_CLOSE_REASON,
	PROFILE_FIELD_FRACTION,
	PROFILE_FIELD_COMPONENTS,
	PROFILE_FIELD_EQUITY,
	PROFILE_FIELD_SIGNAL_ID,
	PROFILE_FIELD_ORDER_ID,
	PROFILE_FIELD_PRICE,
	PROFILE_FIELD_STOP_LOSS,
	PROFILE_FIELD_TAKE_PROFIT,
	PROFILE_FIELD_STATUS,
	PROFILE_FIELD_REASON,
	PROFILE_FIELD_TRADED,
	PROFILE_FIELD_COUNT
};

#define PROFILE_MAX_POINTERS 4
#define PROFILE_MAX_KINDS 16

struct profile_pointers {
	size_t n;
	char *p[PROFILE_MAX_POINTERS];
};

struct profile_source {
	char file[256];
	enum profile_kind constant_kind; /* PROFILE_KIND_NONE when kind comes from a pointer */
	char *kind_pointer;
	int kind_by_prefix; /* 1: "prefix" map, 0: "equals" map */
	size_t n_kinds;
	char *kind_value[PROFILE_MAX_KINDS];
	enum profile_kind kind_of[PROFILE_MAX_KINDS];
	enum profile_kind kind_default; /* PROFILE_KIND_NONE: a missing kind field quarantines */
	struct profile_pointers key, partial_key;
	struct profile_pointers field[PROFILE_FIELD_COUNT];
};

struct profile {
	char name[64];
	int pnl_percent;	/* 1: pnl_pct is in percent, 0: a fraction */
	int position_by_symbol; /* 1: closes link to opens by symbol */
	struct profile_source source[PROFILE_SOURCE_COUNT];
};

/* Source names, in enum order: "attribution", "exit", "signals", "orders". */
const char *profile_source_name(enum profile_source_id id);
/* "open", "close", … for a kind. */
const char *profile_kind_name(enum profile_kind kind);
const char *profile_field_name(enum profile_field field);

/* Builds a profile from its JSON description (borrowed). Returns 0, or -1
 * with err set (p then holds nothing to release): EINVAL with the message
 * "<path>: <problem>", where path names the offending key relative to the
 * profile ("sources.exit.fields.pnl_usdd") and the first ": " ends it; or
 * ENOMEM. */
int profile_from_json(struct profile *p, const char *name, json_t *desc, struct err *err);

/* Loads a built-in profile ("canonical" or "stock-bot"). Returns 0, or -1
 * with err set: ENOENT when there is no built-in of that name, or ENOMEM. */
int profile_builtin(struct profile *p, const char *name, struct err *err);

/* The JSON text of a built-in profile, or NULL (for `--help` and docs). */
const char *profile_builtin_text(const char *name);

/* Frees the pointer strings. */
void profile_release(struct profile *p);

#endif
