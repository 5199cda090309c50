#include "lib/ingest/profile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const source_names[PROFILE_SOURCE_COUNT] = {"attribution", "exit", "signals",
							       "orders", "context"};

static const char *const kind_names[] = {
    [PROFILE_KIND_NONE] = "none",	[PROFILE_KIND_OPEN] = "open",
    [PROFILE_KIND_CLOSE] = "close",	[PROFILE_KIND_PARTIAL] = "partial",
    [PROFILE_KIND_EXIT] = "exit",	[PROFILE_KIND_SIGNAL] = "signal",
    [PROFILE_KIND_ORDER] = "order",	[PROFILE_KIND_IGNORE] = "ignore",
    [PROFILE_KIND_CONTEXT] = "context",
};

static const char *const field_names[PROFILE_FIELD_COUNT] = {
    [PROFILE_FIELD_TRADE_ID] = "trade_id",
    [PROFILE_FIELD_POSITION_ID] = "position_id",
    [PROFILE_FIELD_SYMBOL] = "symbol",
    [PROFILE_FIELD_SIDE] = "side",
    [PROFILE_FIELD_TS] = "ts",
    [PROFILE_FIELD_ENTRY_TS] = "entry_ts",
    [PROFILE_FIELD_ENTRY_PRICE] = "entry_price",
    [PROFILE_FIELD_EXIT_PRICE] = "exit_price",
    [PROFILE_FIELD_QTY] = "qty",
    [PROFILE_FIELD_PNL_USD] = "pnl_usd",
    [PROFILE_FIELD_PNL_PCT] = "pnl_pct",
    [PROFILE_FIELD_HOLD_MINUTES] = "hold_minutes",
    [PROFILE_FIELD_CONFIDENCE] = "confidence",
    [PROFILE_FIELD_SCORE] = "score",
    [PROFILE_FIELD_REGIME] = "regime",
    [PROFILE_FIELD_SECTOR] = "sector",
    [PROFILE_FIELD_TIMEFRAME] = "timeframe",
    [PROFILE_FIELD_CLOSE_REASON] = "close_reason",
    [PROFILE_FIELD_FRACTION] = "fraction",
    [PROFILE_FIELD_COMPONENTS] = "components",
    [PROFILE_FIELD_EQUITY] = "equity",
    [PROFILE_FIELD_SIGNAL_ID] = "signal_id",
    [PROFILE_FIELD_ORDER_ID] = "order_id",
    [PROFILE_FIELD_PRICE] = "price",
    [PROFILE_FIELD_STOP_LOSS] = "stop_loss",
    [PROFILE_FIELD_TAKE_PROFIT] = "take_profit",
    [PROFILE_FIELD_STATUS] = "status",
    [PROFILE_FIELD_REASON] = "reason",
    [PROFILE_FIELD_TRADED] = "traded",
    [PROFILE_FIELD_STRATEGY] = "strategy",
    [PROFILE_FIELD_SESSION] = "session",
};

/* tradelearn's own schema (README "Canonical records"). */
static const char canonical_text[] =
    "{\"pnl_unit\": \"fraction\", \"position\": \"trade_id\", \"sources\": {"
    " \"attribution\": {\"file\": \"attribution.jsonl\","
    "  \"kind\": {\"pointer\": \"/event\", \"equals\": {\"open\": \"open\", \"close\": \"close\","
    "            \"scale\": \"partial\", \"partial\": \"partial\"}},"
    "  \"key\": [\"/trade_id\"], \"partial_key\": [\"/trade_id\", \"/ts\"],"
    "  \"fields\": {\"trade_id\": \"/trade_id\", \"position_id\": \"/trade_id\","
    "   \"symbol\": \"/symbol\", \"side\": \"/side\", \"ts\": \"/ts\", \"entry_ts\": \"/entry_ts\","
    "   \"entry_price\": \"/entry_price\", \"exit_price\": \"/exit_price\", \"qty\": \"/qty\","
    "   \"pnl_usd\": \"/pnl_usd\", \"pnl_pct\": \"/pnl_pct\", \"hold_minutes\": \"/hold_minutes\","
    "   \"confidence\": \"/confidence\", \"score\": \"/score\", \"regime\": \"/regime\","
    "   \"sector\": \"/sector\", \"timeframe\": \"/timeframe\", \"close_reason\": "
    "\"/close_reason\","
    "   \"fraction\": \"/fraction\", \"components\": \"/components\", \"equity\": \"/equity\","
    "   \"signal_id\": \"/signal_id\"}},"
    " \"exit\": {\"file\": \"exits.jsonl\","
    "  \"kind\": {\"pointer\": \"/event\", \"equals\": {\"exit\": \"exit\"}, \"default\": "
    "\"exit\"},"
    "  \"fields\": {\"trade_id\": \"/trade_id\", \"symbol\": \"/symbol\", \"side\": \"/side\","
    "   \"ts\": \"/ts\", \"close_reason\": \"/reason\", \"pnl_usd\": \"/pnl_usd\","
    "   \"pnl_pct\": \"/pnl_pct\", \"hold_minutes\": \"/hold_minutes\", \"exit_price\": "
    "\"/exit_price\"}},"
    " \"signals\": {\"file\": \"signals.jsonl\", \"kind\": \"signal\","
    "  \"fields\": {\"signal_id\": \"/signal_id\", \"symbol\": \"/symbol\", \"side\": \"/side\","
    "   \"ts\": \"/ts\", \"timeframe\": \"/timeframe\", \"confidence\": \"/confidence\","
    "   \"score\": \"/score\", \"price\": \"/price\", \"stop_loss\": \"/stop_loss\","
    "   \"take_profit\": \"/take_profit\", \"regime\": \"/regime\", \"components\": "
    "\"/components\","
    "   \"traded\": \"/traded\", \"reason\": \"/reason\"}},"
    " \"orders\": {\"file\": \"orders.jsonl\", \"kind\": \"order\","
    "  \"fields\": {\"order_id\": \"/order_id\", \"signal_id\": \"/signal_id\","
    "   \"trade_id\": \"/trade_id\", \"symbol\": \"/symbol\", \"side\": \"/side\", \"ts\": \"/ts\","
    "   \"qty\": \"/qty\", \"status\": \"/status\", \"price\": [\"/fill_price\", \"/price\"]}}"
    "}}";

/* The layout of the stock-bot's logs (its trade_id prefixes say the kind;
 * pnl_pct is in percent; a scale row's flat pnl_pct is scaled by the fraction
 * closed, its context.pnl_pct is the return of the part closed). */
static const char stock_bot_text[] =
    "{\"pnl_unit\": \"percent\", \"position\": \"symbol\", \"sources\": {"
    " \"attribution\": {\"file\": \"attribution.jsonl\","
    "  \"kind\": {\"pointer\": \"/trade_id\", \"prefix\": {\"open_\": \"open\", \"close_\": "
    "\"close\","
    "            \"scale_\": \"partial\"}},"
    "  \"key\": [\"/trade_id\"], \"partial_key\": [\"/trade_id\"],"
    "  \"fields\": {\"trade_id\": \"/trade_id\", \"symbol\": \"/symbol\","
    "   \"side\": [\"/context/position_side\", \"/context/side\", \"/context/direction\"],"
    "   \"ts\": \"/ts\", \"entry_ts\": \"/context/entry_ts\","
    "   \"entry_price\": \"/context/entry_price\", \"exit_price\": \"/context/exit_price\","
    "   \"qty\": [\"/context/qty\", \"/context/requested_qty\"], \"pnl_usd\": \"/pnl_usd\","
    "   \"pnl_pct\": [\"/context/pnl_pct\", \"/pnl_pct\"],"
    "   \"hold_minutes\": [\"/hold_minutes\", \"/context/hold_minutes\"],"
    "   \"score\": [\"/entry_score\", \"/context/entry_score\", \"/context/score\"],"
    "   \"regime\": [\"/market_regime\", \"/context/market_regime\", \"/context/regime\"],"
    "   \"close_reason\": \"/context/close_reason\", \"fraction\": \"/context/fraction\","
    "   \"components\": \"/context/components\", \"equity\": "
    "\"/context/account_equity_at_entry\"}},"
    " \"exit\": {\"file\": \"exit_attribution.jsonl\", \"kind\": \"exit\","
    "  \"fields\": {\"symbol\": \"/symbol\", \"ts\": \"/timestamp\", \"entry_ts\": "
    "\"/entry_timestamp\","
    "   \"close_reason\": \"/exit_reason\", \"pnl_usd\": \"/pnl\", \"pnl_pct\": \"/pnl_pct\","
    "   \"entry_price\": \"/entry_price\", \"exit_price\": \"/exit_price\", \"qty\": \"/qty\","
    "   \"hold_minutes\": \"/time_in_trade_minutes\", \"regime\": \"/entry_regime\"}},"
    " \"signals\": {\"file\": \"blocked_trades.jsonl\", \"kind\": \"signal\","
    "  \"fields\": {\"symbol\": \"/symbol\", \"ts\": \"/timestamp\", \"score\": \"/score\","
    "   \"side\": \"/direction\", \"price\": \"/decision_price\", \"components\": \"/components\","
    "   \"reason\": \"/reason\", \"traded\": \"/traded\"}},"
    " \"orders\": {\"file\": \"orders.jsonl\", \"kind\": \"order\","
    "  \"fields\": {\"order_id\": \"/order_id\", \"symbol\": \"/symbol\", \"side\": \"/side\","
    "   \"ts\": \"/ts\", \"qty\": \"/qty\", \"status\": \"/status\", \"price\": [\"/fill_price\", "
    "\"/price\"]}}"
    "}}";

const char *profile_source_name(enum profile_source_id id)
{
	return id < PROFILE_SOURCE_COUNT ? source_names[id] : "?";
}

const char *profile_kind_name(enum profile_kind kind)
{
	return kind <= PROFILE_KIND_CONTEXT ? kind_names[kind] : "?";
}

const char *profile_field_name(enum profile_field field)
{
	return field < PROFILE_FIELD_COUNT ? field_names[field] : "?";
}

static enum profile_kind kind_from_name(const char *s)
{
	for (int k = PROFILE_KIND_OPEN; k <= PROFILE_KIND_CONTEXT; k++)
		if (strcmp(s, kind_names[k]) == 0)
			return (enum profile_kind)k;
	return PROFILE_KIND_NONE;
}

/* "<path>: <what>": the config loader maps path to the key's line. */
static int fail(struct err *err, const char *path, const char *what)
{
	return err_set(err, EINVAL, "%s: %s", path, what);
}

static int out_of_memory(struct err *err)
{
	return err_set(err, ENOMEM, "out of memory");
}

/* RFC 6901: "" or '/' then reference tokens, where '~' is only ever
 * followed by '0' (a '~') or '1' (a '/'). NULL when valid, else why not. */
static const char *pointer_problem(const char *s)
{
	if (!s)
		return "must be a JSON pointer";
	if (s[0] != '/' && s[0] != '\0')
		return "a JSON pointer must start with '/'";
	for (const char *c = s; *c; c++)
		if (*c == '~' && c[1] != '0' && c[1] != '1')
			return "in a JSON pointer '~' must be followed by 0 or 1 (\"~0\" is '~', "
			       "\"~1\" is '/')";
	return NULL;
}

/* Appends the pointers in v (a string or a non-empty array of them). */
static int add_pointers(struct profile_pointers *pp, json_t *v, const char *path, struct err *err)
{
	size_t i;
	json_t *item;

	if (json_is_string(v)) {
		const char *problem = pointer_problem(json_string_value(v));
		if (problem)
			return fail(err, path, problem);
		if (!(pp->p[pp->n] = strdup(json_string_value(v))))
			return out_of_memory(err);
		pp->n++;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return fail(err, path, "must be a JSON pointer or a list of them");
	if (json_array_size(v) > PROFILE_MAX_POINTERS)
		return fail(err, path, "at most 4 JSON pointers");
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item))
			return fail(err, path, "a JSON pointer must start with '/'");
		if (add_pointers(pp, item, path, err))
			return -1;
	}
	return 0;
}

static int set_pointers(struct profile_pointers *pp, json_t *v, const char *path, struct err *err)
{
	return add_pointers(pp, v, path, err);
}

/* "equals": {value: to, ...}, non-empty, every "to" a string. */
static int parse_value_map(struct profile_pointers *pp, json_t *v, const char *path,
			   struct err *err)
{
	const char *from;
	json_t *to;
	size_t n = json_is_object(v) ? json_object_size(v) : 0;
	char sub[1024];

	if (!json_is_object(v))
		return fail(err, path, "must map the bot's values to canonical ones");
	if (n == 0)
		return fail(err, path, "is empty: a map needs at least one entry");
	if (!(pp->map_from = calloc(n, sizeof *pp->map_from)) ||
	    !(pp->map_to = calloc(n, sizeof *pp->map_to)))
		return out_of_memory(err);
	json_object_foreach(v, from, to)
	{
		snprintf(sub, sizeof sub, "%.600s.%.200s", path, from);
		if (!json_is_string(to) || json_string_length(to) == 0)
			return fail(err, sub, "must be a non-empty string");
		if (!(pp->map_from[pp->n_map] = strdup(from)))
			return out_of_memory(err);
		pp->map_to[pp->n_map++] = json_incref(to);
	}
	return 0;
}

/* A field: pointers, or {"pointer", "equals"}, {"ratio": [A, B]},
 * {"difference": [A, B]}. An empty pointer (the whole row) is never a
 * field's value. */
static int parse_spec(struct profile_pointers *pp, json_t *v, const char *path, struct err *err)
{
	char sub[1024];
	json_t *operands;

	if (json_is_object(v)) {
		const char *key;
		json_t *kv;
		json_object_foreach(v, key, kv)
		{
			snprintf(sub, sizeof sub, "%s.%s", path, key);
			if (strcmp(key, "pointer") == 0) {
				if (add_pointers(pp, kv, sub, err))
					return -1;
			} else if (strcmp(key, "equals") == 0) {
				if (parse_value_map(pp, kv, sub, err))
					return -1;
			} else if (strcmp(key, "ratio") == 0 || strcmp(key, "difference") == 0) {
				if (json_object_size(v) != 1)
					return fail(err, sub,
						    "stands alone (no other key beside it)");
				operands = kv;
				if (!json_is_array(operands) || json_array_size(operands) != 2 ||
				    !json_is_string(json_array_get(operands, 0)) ||
				    !json_is_string(json_array_get(operands, 1)))
					return fail(err, sub,
						    "must be a list of two JSON pointers");
				if (add_pointers(pp, operands, sub, err))
					return -1;
				pp->derive = key[0] == 'r' ? PROFILE_DERIVE_RATIO
							   : PROFILE_DERIVE_DIFFERENCE;
			} else {
				return fail(err, sub,
					    "unknown key (pointer, equals; or ratio, difference)");
			}
		}
		if (pp->derive == PROFILE_DERIVE_NONE && pp->n == 0)
			return fail(err, path, "needs a \"pointer\"");
		if (pp->derive == PROFILE_DERIVE_NONE && pp->n_map == 0)
			return fail(err, path, "needs an \"equals\" map beside its \"pointer\"");
	} else if (add_pointers(pp, v, path, err)) {
		return -1;
	}
	for (size_t i = 0; i < pp->n; i++)
		if (!pp->p[i][0])
			return fail(err, path,
				    "the empty pointer is the whole row, which can never be this "
				    "field's value");
	return 0;
}

/* A name of a feature, category or knob: [A-Za-z0-9_.-], 1 to 47 bytes. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= PROFILE_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* The fields read as numbers (record.c), which may be derived. */
static int numeric_field(int f)
{
	switch (f) {
	case PROFILE_FIELD_ENTRY_PRICE:
	case PROFILE_FIELD_EXIT_PRICE:
	case PROFILE_FIELD_QTY:
	case PROFILE_FIELD_PNL_USD:
	case PROFILE_FIELD_PNL_PCT:
	case PROFILE_FIELD_HOLD_MINUTES:
	case PROFILE_FIELD_CONFIDENCE:
	case PROFILE_FIELD_SCORE:
	case PROFILE_FIELD_FRACTION:
	case PROFILE_FIELD_EQUITY:
	case PROFILE_FIELD_PRICE:
	case PROFILE_FIELD_STOP_LOSS:
	case PROFILE_FIELD_TAKE_PROFIT:
		return 1;
	default:
		return 0;
	}
}

/* "components": {name: field} or "categories": {name: field}. */
static int parse_named(struct profile_named **out, size_t *n_out, size_t max, json_t *v,
		       const char *path, int categories, struct err *err)
{
	const char *name;
	json_t *fv;
	char sub[1024];

	if (!json_is_object(v))
		return fail(err, path,
			    categories ? "must map category names to fields"
				       : "must be a JSON pointer to an object of numbers, or map "
					 "feature names to fields");
	if (json_object_size(v) == 0)
		return fail(err, path, "is empty: a map needs at least one entry");
	if (json_object_size(v) > max)
		return fail(err, path,
			    categories ? "at most 16 categories" : "at most 64 named features");
	if (!(*out = calloc(json_object_size(v), sizeof **out)))
		return out_of_memory(err);
	json_object_foreach(v, name, fv)
	{
		struct profile_named *f = &(*out)[*n_out];
		snprintf(sub, sizeof sub, "%s.%s", path, name);
		if (!name_ok(name))
			return fail(err, sub, "a name is 1 to 47 letters, digits, '_', '-' or '.'");
		if (categories) {
			for (int k = 0; k < PROFILE_FIELD_COUNT; k++)
				if (strcmp(name, field_names[k]) == 0 ||
				    strcmp(name, "time_of_day") == 0 ||
				    strcmp(name, "day_of_week") == 0 ||
				    strcmp(name, "exit_reason") == 0)
					return fail(err, sub,
						    "is a canonical field's name: map it under "
						    "\"fields\", or name the category otherwise");
		}
		snprintf(f->name, sizeof f->name, "%s", name);
		(*n_out)++;
		if (parse_spec(&f->at, fv, sub, err))
			return -1;
		if (categories && f->at.derive != PROFILE_DERIVE_NONE)
			return fail(err, sub, "a category is a text, not a derived number");
	}
	return 0;
}

/* Whether the value at pointer outer holds the one at inner ("" and "/"
 * are the whole row). */
static int pointer_contains(const char *outer, const char *inner)
{
	size_t n = strlen(outer);
	if (n == 0 || strcmp(outer, "/") == 0)
		return 1;
	return strncmp(outer, inner, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

static const enum profile_field outcome_fields[] = {
    PROFILE_FIELD_PNL_USD, PROFILE_FIELD_PNL_PCT, PROFILE_FIELD_EXIT_PRICE,
    PROFILE_FIELD_CLOSE_REASON, PROFILE_FIELD_HOLD_MINUTES};

/* The outcome field of src that pp reaches (its value is, or holds, one
 * that src maps to the outcome), or -1; *feature_at and *outcome_at say
 * where. A derived outcome's first operand is the outcome (net P&L, exit
 * time), the second its base (notional, entry time), known at entry; the
 * same goes for a derived feature's operands. */
static int leak_of(const struct profile_source *src, const struct profile_pointers *pp,
		   int contains, const char **feature_at, const char **outcome_at)
{
	for (size_t k = 0; k < sizeof outcome_fields / sizeof outcome_fields[0]; k++) {
		const struct profile_pointers *o = &src->field[outcome_fields[k]];
		size_t n = o->derive == PROFILE_DERIVE_NONE ? o->n : (o->n ? 1 : 0);
		size_t m = pp->derive == PROFILE_DERIVE_NONE ? pp->n : (pp->n ? 1 : 0);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < m; j++)
				if (contains ? pointer_contains(pp->p[j], o->p[i])
					     : strcmp(pp->p[j], o->p[i]) == 0) {
					*feature_at = pp->p[j];
					*outcome_at = o->p[i];
					return (int)outcome_fields[k];
				}
	}
	return -1;
}

static int leak_refused(struct err *err, const char *path, const char *feature_at,
			const char *outcome_at, int field)
{
	char what[400];
	if (!feature_at[0] || strcmp(feature_at, "/") == 0)
		snprintf(what, sizeof what,
			 "\"%s\" is the whole row, which holds %s, the %s this profile maps: "
			 "the outcome would leak into the features (name the features instead)",
			 feature_at, outcome_at, field_names[field]);
	else
		snprintf(what, sizeof what,
			 "%s reaches %s, the %s this profile maps: the outcome would leak into "
			 "the features (a feature must be known when the trade is entered)",
			 feature_at, outcome_at, field_names[field]);
	return fail(err, path, what);
}

/* The leak guard over one source's features. */
static int check_leaks(const struct profile_source *src, const char *path, struct err *err)
{
	static const enum profile_field feature_fields[] = {
	    PROFILE_FIELD_CONFIDENCE, PROFILE_FIELD_SCORE,     PROFILE_FIELD_REGIME,
	    PROFILE_FIELD_SECTOR,     PROFILE_FIELD_TIMEFRAME, PROFILE_FIELD_STRATEGY,
	    PROFILE_FIELD_SESSION,    PROFILE_FIELD_COMPONENTS};
	char sub[1024];
	const char *feature_at, *outcome_at;
	int field;

	for (size_t k = 0; k < sizeof feature_fields / sizeof feature_fields[0]; k++) {
		enum profile_field f = feature_fields[k];
		field = leak_of(src, &src->field[f], f == PROFILE_FIELD_COMPONENTS, &feature_at,
				&outcome_at);
		if (field >= 0) {
			snprintf(sub, sizeof sub, "%s.fields.%s", path, field_names[f]);
			return leak_refused(err, sub, feature_at, outcome_at, field);
		}
	}
	for (int c = 0; c < 2; c++) {
		size_t n = c ? src->n_categories : src->n_features;
		const struct profile_named *named = c ? src->categories : src->features;
		for (size_t i = 0; i < n; i++) {
			field = leak_of(src, &named[i].at, 1, &feature_at, &outcome_at);
			if (field < 0)
				continue;
			snprintf(sub, sizeof sub, "%s.fields.%s.%s", path,
				 c ? "categories" : "components", named[i].name);
			return leak_refused(err, sub, feature_at, outcome_at, field);
		}
	}
	return 0;
}

/* Whether src can give a close or a partial close. */
static int gives_closes(const struct profile_source *src)
{
	if (src->constant_kind != PROFILE_KIND_NONE)
		return src->constant_kind == PROFILE_KIND_CLOSE ||
		       src->constant_kind == PROFILE_KIND_PARTIAL;
	for (size_t i = 0; i < src->n_kinds; i++)
		if (src->kind_of[i] == PROFILE_KIND_CLOSE ||
		    src->kind_of[i] == PROFILE_KIND_PARTIAL)
			return 1;
	return src->kind_default == PROFILE_KIND_CLOSE || src->kind_default == PROFILE_KIND_PARTIAL;
}

/* A side map may only say long or short. */
static int check_side_map(const struct profile_source *src, const char *path, struct err *err)
{
	const struct profile_pointers *pp = &src->field[PROFILE_FIELD_SIDE];
	char sub[1024];
	for (size_t i = 0; i < pp->n_map; i++) {
		const char *to = json_string_value(pp->map_to[i]);
		if (strcmp(to, "long") != 0 && strcmp(to, "short") != 0) {
			snprintf(sub, sizeof sub, "%s.fields.side.equals.%s", path,
				 pp->map_from[i]);
			return fail(err, sub, "must be \"long\" or \"short\"");
		}
	}
	return 0;
}

static int copy_pointers(struct profile_pointers *to, const struct profile_pointers *from,
			 struct err *err)
{
	for (size_t i = 0; i < from->n; i++) {
		if (!(to->p[i] = strdup(from->p[i])))
			return out_of_memory(err);
		to->n++;
	}
	return 0;
}

/* What is checked once the whole source is read. */
static int check_source(struct profile_source *src, const char *path, struct err *err)
{
	char sub[1024];
	const struct profile_pointers *tid = &src->field[PROFILE_FIELD_TRADE_ID];

	if (check_leaks(src, path, err) || check_side_map(src, path, err))
		return -1;
	if (gives_closes(src) && src->key.n == 0) {
		if (tid->n == 0 || tid->derive != PROFILE_DERIVE_NONE || tid->n_map) {
			snprintf(sub, sizeof sub, "%s.key", path);
			return fail(err, sub,
				    "is required: a close needs a stable trade key (give \"key\", "
				    "e.g. [\"/symbol\", \"/exit_ts\"], or map fields.trade_id)");
		}
		/* The trade id is the key; a partial close adds its time. */
		if (copy_pointers(&src->key, tid, err))
			return -1;
	}
	return 0;
}

static int parse_kind(struct profile_source *src, json_t *kind, const char *path, struct err *err)
{
	char sub[512];
	const char *key;
	json_t *v;

	if (json_is_string(kind)) {
		src->constant_kind = kind_from_name(json_string_value(kind));
		if (src->constant_kind == PROFILE_KIND_NONE)
			return fail(
			    err, path,
			    "unknown kind (open, close, partial, exit, signal, order, ignore)");
		return 0;
	}
	if (!json_is_object(kind))
		return fail(err, path, "must be a kind name or an object");
	json_object_foreach(kind, key, v)
	{
		if (snprintf(sub, sizeof sub, "%s.%s", path, key) >= (int)sizeof sub)
			return fail(err, path, "a key is too long");
		if (strcmp(key, "pointer") == 0) {
			const char *s = json_string_value(v);
			if (!s || s[0] != '/')
				return fail(err, sub, "must be a JSON pointer");
			if (pointer_problem(s))
				return fail(err, sub, pointer_problem(s));
			if (!(src->kind_pointer = strdup(s)))
				return out_of_memory(err);
		} else if (strcmp(key, "equals") == 0 || strcmp(key, "prefix") == 0) {
			const char *value;
			json_t *k;
			if (!json_is_object(v))
				return fail(err, sub, "must map values to kinds");
			if (json_object_size(v) == 0)
				return fail(err, sub, "is empty: a map needs at least one entry");
			src->kind_by_prefix = key[0] == 'p';
			json_object_foreach(v, value, k)
			{
				char sub2[600];
				snprintf(sub2, sizeof sub2, "%s.%s", sub, value);
				enum profile_kind kk = json_is_string(k)
							   ? kind_from_name(json_string_value(k))
							   : PROFILE_KIND_NONE;
				if (kk == PROFILE_KIND_NONE)
					return fail(err, sub2, "unknown kind");
				if (src->n_kinds == PROFILE_MAX_KINDS)
					return fail(err, sub2, "too many kind values");
				if (!(src->kind_value[src->n_kinds] = strdup(value)))
					return out_of_memory(err);
				src->kind_of[src->n_kinds++] = kk;
			}
		} else if (strcmp(key, "default") == 0) {
			src->kind_default = json_is_string(v) ? kind_from_name(json_string_value(v))
							      : PROFILE_KIND_NONE;
			if (src->kind_default == PROFILE_KIND_NONE)
				return fail(err, sub, "unknown kind");
		} else {
			return fail(err, sub, "unknown key (pointer, equals, prefix, default)");
		}
	}
	if (!src->kind_pointer)
		return fail(err, path, "needs a \"pointer\"");
	if (src->n_kinds == 0)
		return fail(err, path, "needs an \"equals\" or \"prefix\" map");
	return 0;
}

/* ---- the context source ---- */

/* "match" and "window_s" of a source (only the context source may have
 * them: check_context). */
static int parse_match(struct profile_source *src, const char *key, json_t *v, const char *sub,
		       struct err *err)
{
	if (strcmp(key, "window_s") == 0) {
		double w = json_number_value(v);
		if (!json_is_number(v) || !(w > 0 && w <= 86400))
			return fail(err, sub, "must be a number of seconds above 0, at most 86400");
		src->window_s = w;
		return 0;
	}
	const char *s = json_string_value(v);
	if (s && strcmp(s, "key") == 0)
		src->match_by_key = 1;
	else if (s && strcmp(s, "symbol_time") == 0)
		src->match_by_key = 0;
	else
		return fail(err, sub, "must be \"key\" or \"symbol_time\"");
	return 0;
}

/* The context source is of kind "context" and only it is; matching by key
 * needs its key; window_s defaults to 5 seconds. */
static int check_context(struct profile *p, char *sub, size_t len, struct err *err)
{
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct profile_source *src = &p->source[s];
		int is_context = s == PROFILE_SOURCE_CONTEXT;
		if (!src->file[0])
			continue;
		if (is_context != (src->constant_kind == PROFILE_KIND_CONTEXT)) {
			snprintf(sub, len, "sources.%s.kind", source_names[s]);
			return fail(err, sub,
				    is_context
					? "must be \"context\" (a constant kind)"
					: "\"context\" is the kind of the context source only");
		}
		if (!is_context && src->window_s != 0) {
			snprintf(sub, len, "sources.%s.window_s", source_names[s]);
			return fail(err, sub, "is a key of the context source only");
		}
	}
	struct profile_source *c = &p->source[PROFILE_SOURCE_CONTEXT];
	if (c->file[0] && c->match_by_key && c->key.n == 0) {
		snprintf(sub, len, "sources.context.key");
		return fail(err, sub, "is required with \"match\": \"key\"");
	}
	if (c->file[0] && c->window_s == 0)
		c->window_s = 5;
	return 0;
}

static int parse_source(struct profile_source *src, json_t *desc, const char *path, struct err *err)
{
	char sub[512];
	const char *key;
	json_t *v;

	if (!json_is_object(desc))
		return fail(err, path, "must be an object");
	json_object_foreach(desc, key, v)
	{
		if (snprintf(sub, sizeof sub, "%s.%s", path, key) >= (int)sizeof sub)
			return fail(err, path, "a key is too long");
		if (strcmp(key, "file") == 0) {
			const char *s = json_string_value(v);
			if (!s || !*s || strchr(s, '/') || strlen(s) >= sizeof src->file)
				return fail(err, sub, "must be a file name in the logs folder");
			strcpy(src->file, s);
		} else if (strcmp(key, "kind") == 0) {
			if (parse_kind(src, v, sub, err))
				return -1;
		} else if (strcmp(key, "key") == 0) {
			if (set_pointers(&src->key, v, sub, err))
				return -1;
		} else if (strcmp(key, "partial_key") == 0) {
			if (set_pointers(&src->partial_key, v, sub, err))
				return -1;
		} else if (strcmp(key, "fields") == 0) {
			const char *fname;
			json_t *fv;
			if (!json_is_object(v))
				return fail(err, sub, "must be an object");
			json_object_foreach(v, fname, fv)
			{
				char sub2[600];
				int f;
				snprintf(sub2, sizeof sub2, "%s.%s", sub, fname);
				for (f = 0; f < PROFILE_FIELD_COUNT; f++)
					if (strcmp(fname, field_names[f]) == 0)
						break;
				if (strcmp(fname, "categories") == 0) {
					if (parse_named(&src->categories, &src->n_categories,
							PROFILE_MAX_CATEGORIES, fv, sub2, 1, err))
						return -1;
					continue;
				}
				if (f == PROFILE_FIELD_COUNT)
					return fail(
					    err, sub2,
					    "unknown field (see the README's canonical record)");
				if (f == PROFILE_FIELD_COMPONENTS && json_is_object(fv)) {
					if (parse_named(&src->features, &src->n_features,
							PROFILE_MAX_FEATURES, fv, sub2, 0, err))
						return -1;
					continue;
				}
				if (f == PROFILE_FIELD_COMPONENTS) {
					if (set_pointers(&src->field[f], fv, sub2, err))
						return -1;
					continue;
				}
				if (parse_spec(&src->field[f], fv, sub2, err))
					return -1;
				if (src->field[f].derive != PROFILE_DERIVE_NONE &&
				    !numeric_field(f))
					return fail(
					    err, sub2,
					    "is not a number: only a numeric field can be a "
					    "ratio or a difference");
			}
		} else if (strcmp(key, "match") == 0 || strcmp(key, "window_s") == 0) {
			if (parse_match(src, key, v, sub, err))
				return -1;
		} else {
			return fail(err, sub,
				    "unknown key (file, kind, key, partial_key, fields; a context "
				    "source also match, window_s)");
		}
	}
	if (!src->file[0])
		return fail(err, path, "needs a \"file\"");
	if (src->constant_kind == PROFILE_KIND_NONE && !src->kind_pointer)
		return fail(err, path, "needs a \"kind\"");
	return check_source(src, path, err);
}

/* "knobs": a list of distinct knob names (which knobs exist is the knobs
 * table's to say: config checks the names against it). */
static int parse_knobs(struct profile *p, json_t *v, struct err *err)
{
	size_t i;
	json_t *item;
	char sub[64];

	if (!json_is_array(v))
		return fail(err, "knobs", "must be a list of knob names ([] for none)");
	if (json_array_size(v) > PROFILE_MAX_KNOBS)
		return fail(err, "knobs", "at most 16 knobs");
	p->knobs_listed = 1;
	json_array_foreach(v, i, item)
	{
		const char *s = json_string_value(item);
		snprintf(sub, sizeof sub, "knobs[%zu]", i);
		if (!s || !name_ok(s))
			return fail(err, sub, "must be a knob name");
		if (profile_has_knob(p, s))
			return fail(err, sub, "is listed twice");
		snprintf(p->knob[p->n_knobs++], PROFILE_NAME_MAX, "%s", s);
	}
	return 0;
}

int profile_has_knob(const struct profile *p, const char *name)
{
	if (!p->knobs_listed)
		return 1;
	for (size_t k = 0; k < p->n_knobs; k++)
		if (strcmp(p->knob[k], name) == 0)
			return 1;
	return 0;
}

static void describe_spec(const struct profile_pointers *pp, const char *field, char *buf,
			  size_t len)
{
	if (pp->derive == PROFILE_DERIVE_RATIO)
		snprintf(buf, len, "%s %s / %s (a ratio)", field, pp->p[0], pp->p[1]);
	else if (pp->derive == PROFILE_DERIVE_DIFFERENCE)
		snprintf(buf, len, "%s %s - %s", field, pp->p[0], pp->p[1]);
	else
		snprintf(buf, len, "%s %s as logged", field, pp->n ? pp->p[0] : "");
}

void profile_pnl_basis(const struct profile *p, char *buf, size_t len)
{
	const struct profile_source *src = &p->source[PROFILE_SOURCE_ATTRIBUTION];
	const struct profile_pointers *pct = &src->field[PROFILE_FIELD_PNL_PCT];
	char what[400];

	if (pct->n == 0) {
		snprintf(buf, len, "pnl_usd / (entry_price x qty)");
		return;
	}
	describe_spec(pct, "pnl_pct", what, sizeof what);
	snprintf(buf, len, "%s%s; else pnl_usd / (entry_price x qty)", what,
		 pct->derive != PROFILE_DERIVE_NONE ? ""
		 : p->pnl_percent		    ? ", in percent"
						    : ", a fraction");
}

static int compile_pointers(struct jscan_query *q, struct profile_pointers *pp)
{
	for (size_t i = 0; i < pp->n; i++)
		if ((pp->slot[i] = jscan_query_add(q, pp->p[i])) < 0)
			return -1;
	return 0;
}

/* The source's pointers as one jscan query (a source the profile does not
 * describe gets an empty one: its rows are only checked). */
static int compile_source(struct profile_source *src, const char *path, struct err *err)
{
	int failed;
	if (!(src->query = jscan_query_new()))
		return out_of_memory(err);
	src->kind_slot = jscan_query_add(src->query, src->kind_pointer);
	failed = src->kind_slot < 0 || compile_pointers(src->query, &src->key) ||
		 compile_pointers(src->query, &src->partial_key);
	for (int f = 0; !failed && f < PROFILE_FIELD_COUNT; f++)
		failed = compile_pointers(src->query, &src->field[f]);
	for (size_t i = 0; !failed && i < src->n_features; i++)
		failed = compile_pointers(src->query, &src->features[i].at);
	for (size_t i = 0; !failed && i < src->n_categories; i++)
		failed = compile_pointers(src->query, &src->categories[i].at);
	if (!failed)
		return 0;
	if (errno == ENOSPC)
		return fail(err, path, "too many JSON pointers (at most 1024 steps in all)");
	return out_of_memory(err);
}

int profile_from_json(struct profile *p, const char *name, json_t *desc, struct err *err)
{
	const char *key;
	json_t *v;
	char sub[512];

	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	if (!json_is_object(desc))
		return fail(err, "(profile)", "must be an object");
	json_object_foreach(desc, key, v)
	{
		if (strcmp(key, "pnl_unit") == 0) {
			const char *s = json_string_value(v);
			if (s && strcmp(s, "percent") == 0)
				p->pnl_percent = 1;
			else if (s && strcmp(s, "fraction") == 0)
				p->pnl_percent = 0;
			else
				goto bad_unit;
		} else if (strcmp(key, "position") == 0) {
			const char *s = json_string_value(v);
			if (s && strcmp(s, "symbol") == 0)
				p->position_by_symbol = 1;
			else if (s && strcmp(s, "trade_id") == 0)
				p->position_by_symbol = 0;
			else
				goto bad_position;
		} else if (strcmp(key, "sources") == 0) {
			const char *sname;
			json_t *sv;
			if (!json_is_object(v))
				goto fail_release_sources;
			json_object_foreach(v, sname, sv)
			{
				int s;
				snprintf(sub, sizeof sub, "sources.%s", sname);
				for (s = 0; s < PROFILE_SOURCE_COUNT; s++)
					if (strcmp(sname, source_names[s]) == 0)
						break;
				if (s == PROFILE_SOURCE_COUNT) {
					fail(err, sub,
					     "unknown source (attribution, exit, signals, orders, "
					     "context)");
					goto failed;
				}
				if (parse_source(&p->source[s], sv, sub, err))
					goto failed;
			}
		} else if (strcmp(key, "knobs") == 0) {
			if (parse_knobs(p, v, err))
				goto failed;
		} else {
			snprintf(sub, sizeof sub, "%s", key);
			fail(err, sub, "unknown key (pnl_unit, position, sources, knobs)");
			goto failed;
		}
	}
	if (!p->source[PROFILE_SOURCE_ATTRIBUTION].file[0]) {
		fail(err, "sources.attribution", "is required");
		goto failed;
	}
	if (check_context(p, sub, sizeof sub, err))
		goto failed;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct profile_source *src = &p->source[s];
		if (src->file[0] && src->field[PROFILE_FIELD_TS].n == 0) {
			snprintf(sub, sizeof sub, "sources.%s.fields.ts", source_names[s]);
			fail(err, sub, "is required (the row's timestamp)");
			goto failed;
		}
		snprintf(sub, sizeof sub, "sources.%s", source_names[s]);
		if (compile_source(src, sub, err))
			goto failed;
	}
	return 0;
bad_unit:
	fail(err, "pnl_unit", "must be \"percent\" or \"fraction\"");
	goto failed;
bad_position:
	fail(err, "position", "must be \"trade_id\" or \"symbol\"");
	goto failed;
fail_release_sources:
	fail(err, "sources", "must be an object");
failed:
	profile_release(p);
	return -1;
}

const char *profile_builtin_text(const char *name)
{
	if (strcmp(name, "canonical") == 0)
		return canonical_text;
	if (strcmp(name, "stock-bot") == 0)
		return stock_bot_text;
	return NULL;
}

int profile_builtin(struct profile *p, const char *name, struct err *err)
{
	const char *text = profile_builtin_text(name);
	json_error_t jerr;
	json_t *desc;
	int rc;

	if (!text)
		return err_set(err, ENOENT, "no built-in profile \"%s\" (canonical, stock-bot)",
			       name);
	/* A built-in that does not parse is caught by the unit tests: only
	 * memory can fail here. */
	desc = json_loads(text, 0, &jerr);
	if (!desc)
		return err_set(err, ENOMEM, "built-in profile %s: %s", name, jerr.text);
	rc = profile_from_json(p, name, desc, err);
	json_decref(desc);
	return rc;
}

static void release_pointers(struct profile_pointers *pp)
{
	for (size_t i = 0; i < pp->n; i++)
		free(pp->p[i]);
	pp->n = 0;
	for (size_t i = 0; i < pp->n_map; i++) {
		free(pp->map_from[i]);
		json_decref(pp->map_to[i]);
	}
	free(pp->map_from);
	free(pp->map_to);
	pp->map_from = NULL;
	pp->map_to = NULL;
	pp->n_map = 0;
}

static void release_named(struct profile_named **named, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		release_pointers(&(*named)[i].at);
	free(*named);
	*named = NULL;
	*n = 0;
}

void profile_release(struct profile *p)
{
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct profile_source *src = &p->source[s];
		free(src->kind_pointer);
		src->kind_pointer = NULL;
		for (size_t i = 0; i < src->n_kinds; i++)
			free(src->kind_value[i]);
		src->n_kinds = 0;
		release_pointers(&src->key);
		release_pointers(&src->partial_key);
		for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
			release_pointers(&src->field[f]);
		release_named(&src->features, &src->n_features);
		release_named(&src->categories, &src->n_categories);
		jscan_query_free(src->query);
		src->query = NULL;
	}
}
