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
 * one wins), or an object:
 *   {"pointer": P or [P, ...], "equals": {"LONG": "long", ...}}  a value map:
 *       the value (a string, an integer or a boolean, as its JSON text) is
 *       looked up exactly; a value not in the map is absent and counted as
 *       unmapped (record.h);
 *   {"ratio": [A, B]}          A ÷ B (numbers or numeric strings; B ≠ 0);
 *   {"difference": [A, B]}     A − B; for hold_minutes A and B are timestamps
 *                              (ISO-8601 with any offset, or epoch numbers)
 *                              and the difference is in minutes.
 * A derived pnl_pct is a fraction whatever pnl_unit says.
 *
 * "components" is a pointer to an object of numbers, or an object mapping
 * feature names to fields as above; "categories" (beside it in "fields")
 * maps category names to fields whose text values are one-hot features.
 *
 * The leak guard: a feature (components, categories, confidence, score,
 * regime, sector, timeframe, strategy, session) that points at, or at an
 * object containing, what the same source maps to the outcome (pnl_usd,
 * pnl_pct, exit_price, close_reason, hold_minutes: their pointers, or the
 * first operand of a derived one) is refused.
 *
 * A source that can give closes or partial closes needs a "key", or a mapped
 * trade_id that then is the key.
 *
 * At the top level beside "sources": "knobs": ["min_confidence", ...], the
 * knobs the bot reads (absent: every knob of the table; [] none).
 *
 * Kinds: open, close, partial, exit, signal, order, ignore. A row
 * whose kind value matches nothing is "ignore" (counted, skipped); a row
 * lacking the kind pointer takes "default", or is quarantined without one.
 *
 * Context sources. A fifth source, "context", of the constant kind
 * "context", holds rows whose mapped fields attach to a trade of the
 * attribution source: "match": "symbol_time" (the default: same symbol,
 * nearest time within "window_s", default 5 seconds) or "key" (its "key"
 * pointers give the trade's stable key). jobs/live/join does the joining.
 */
#ifndef TRADELEARN_PROFILE_H
#define TRADELEARN_PROFILE_H

#include <stddef.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/ingest/jscan.h"

enum profile_source_id {
	PROFILE_SOURCE_ATTRIBUTION,
	PROFILE_SOURCE_EXIT,
	PROFILE_SOURCE_SIGNALS,
	PROFILE_SOURCE_ORDERS,
	PROFILE_SOURCE_CONTEXT, /* rows joined to trades (see "Context sources") */
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
	PROFILE_KIND_IGNORE,
	PROFILE_KIND_CONTEXT /* a context row: its fields attach to a trade */
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
	PROFILE_FIELD_STRATEGY,
	PROFILE_FIELD_SESSION, /* the bot's own session label: replaces time_of_day */
	PROFILE_FIELD_COUNT
};

#define PROFILE_MAX_POINTERS 4
#define PROFILE_MAX_KINDS 16
#define PROFILE_MAX_FEATURES 64	  /* named components of a source */
#define PROFILE_MAX_CATEGORIES 16 /* categories of a source */
#define PROFILE_MAX_KNOBS 16
#define PROFILE_NAME_MAX 48 /* a feature's, category's or knob's name, NUL included */

enum profile_derive {
	PROFILE_DERIVE_NONE,
	PROFILE_DERIVE_RATIO,	  /* p[0] ÷ p[1] */
	PROFILE_DERIVE_DIFFERENCE /* p[0] − p[1] */
};

/* Where one value is: pointers (the first present, non-null wins), or two
 * operands of a derived value; and an optional value map. */
struct profile_pointers {
	size_t n;
	char *p[PROFILE_MAX_POINTERS];
	int slot[PROFILE_MAX_POINTERS]; /* p[i]'s slot in its source's query */
	enum profile_derive derive;
	size_t n_map;	 /* 0: no map */
	char **map_from; /* a value's text ... */
	json_t **map_to; /* ... reads as this string (owned references) */
};

/* A named feature or category. */
struct profile_named {
	char name[PROFILE_NAME_MAX];
	struct profile_pointers at;
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
	/* "components" as a map of names to fields (field[COMPONENTS] is then
	 * empty), and "categories". */
	size_t n_features;
	struct profile_named *features;
	size_t n_categories;
	struct profile_named *categories;
	/* Every pointer above, compiled for jscan (lib/ingest/jscan.h); the
	 * kind pointer's slot (the whole row without one). */
	struct jscan_query *query;
	int kind_slot;
	/* The context source: how a row finds its trade. match_by_key: the
	 * row's "key" equals the trade's stable key; else the same symbol and
	 * the nearest time (the trade's entry, else its close) within
	 * window_s seconds. */
	int match_by_key;
	double window_s;
};

struct profile {
	char name[64];
	int pnl_percent;	/* 1: pnl_pct is in percent, 0: a fraction */
	int position_by_symbol; /* 1: closes link to opens by symbol */
	struct profile_source source[PROFILE_SOURCE_COUNT];
	int knobs_listed; /* 0: every knob; 1: only knob[0..n_knobs-1] */
	size_t n_knobs;
	char knob[PROFILE_MAX_KNOBS][PROFILE_NAME_MAX];
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

/* Whether the profile lets knob name move: it lists no knobs, or lists this
 * one. */
int profile_has_knob(const struct profile *p, const char *name);

/* How the attribution source's P&L fractions are had, for the report:
 * "pnl_pct as logged, in percent", "ratio of /net_pnl to /notional_size",
 * "pnl_usd ÷ (entry_price × qty)" ... */
void profile_pnl_basis(const struct profile *p, char *buf, size_t len);

/* Frees the pointer strings. */
void profile_release(struct profile *p);

#endif
