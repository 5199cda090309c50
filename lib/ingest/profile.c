#include "lib/ingest/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const source_names[PROFILE_SOURCE_COUNT] = {"attribution", "exit", "signals",
							       "orders"};

static const char *const kind_names[] = {
    [PROFILE_KIND_NONE] = "none",   [PROFILE_KIND_OPEN] = "open",
    [PROFILE_KIND_CLOSE] = "close", [PROFILE_KIND_PARTIAL] = "partial",
    [PROFILE_KIND_EXIT] = "exit",   [PROFILE_KIND_SIGNAL] = "signal",
    [PROFILE_KIND_ORDER] = "order", [PROFILE_KIND_IGNORE] = "ignore",
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
	return kind <= PROFILE_KIND_IGNORE ? kind_names[kind] : "?";
}

const char *profile_field_name(enum profile_field field)
{
	return field < PROFILE_FIELD_COUNT ? field_names[field] : "?";
}

static enum profile_kind kind_from_name(const char *s)
{
	for (int k = PROFILE_KIND_OPEN; k <= PROFILE_KIND_IGNORE; k++)
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

static int set_pointers(struct profile_pointers *pp, json_t *v, const char *path, struct err *err)
{
	json_t *items = v;
	size_t i;
	json_t *item;

	if (json_is_string(v)) {
		items = json_array();
		json_array_append(items, v);
	} else if (!json_is_array(v) || json_array_size(v) == 0) {
		return fail(err, path, "must be a JSON pointer or a list of them");
	}
	if (json_array_size(items) > PROFILE_MAX_POINTERS) {
		if (items != v)
			json_decref(items);
		return fail(err, path, "at most 4 JSON pointers");
	}
	json_array_foreach(items, i, item)
	{
		const char *s = json_string_value(item);
		const char *problem = s ? pointer_problem(s) : "a JSON pointer must start with '/'";
		if (problem) {
			if (items != v)
				json_decref(items);
			return fail(err, path, problem);
		}
		if (!(pp->p[pp->n] = strdup(s))) {
			if (items != v)
				json_decref(items);
			return out_of_memory(err);
		}
		pp->n++;
	}
	if (items != v)
		json_decref(items);
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
				if (f == PROFILE_FIELD_COUNT)
					return fail(
					    err, sub2,
					    "unknown field (see the README's canonical record)");
				if (set_pointers(&src->field[f], fv, sub2, err))
					return -1;
			}
		} else {
			return fail(err, sub, "unknown key (file, kind, key, partial_key, fields)");
		}
	}
	if (!src->file[0])
		return fail(err, path, "needs a \"file\"");
	if (src->constant_kind == PROFILE_KIND_NONE && !src->kind_pointer)
		return fail(err, path, "needs a \"kind\"");
	return 0;
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
					     "unknown source (attribution, exit, signals, orders)");
					goto failed;
				}
				if (parse_source(&p->source[s], sv, sub, err))
					goto failed;
			}
		} else {
			snprintf(sub, sizeof sub, "%s", key);
			fail(err, sub, "unknown key (pnl_unit, position, sources)");
			goto failed;
		}
	}
	if (!p->source[PROFILE_SOURCE_ATTRIBUTION].file[0]) {
		fail(err, "sources.attribution", "is required");
		goto failed;
	}
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct profile_source *src = &p->source[s];
		if (src->file[0] && src->field[PROFILE_FIELD_TS].n == 0) {
			snprintf(sub, sizeof sub, "sources.%s.fields.ts", source_names[s]);
			fail(err, sub, "is required (the row's timestamp)");
			goto failed;
		}
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
	}
}
