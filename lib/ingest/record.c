#include "lib/ingest/record.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base/calendar.h"

json_t *record_pointer(json_t *doc, const char *pointer)
{
	const char *p = pointer;
	json_t *cur = doc;
	char token[256];

	if (!p || !*p)
		return doc;
	while (cur && *p == '/') {
		size_t n = 0;
		p++;
		while (*p && *p != '/') {
			char c = *p++;
			if (c == '~' && (*p == '0' || *p == '1'))
				c = *p++ == '0' ? '~' : '/';
			if (n + 1 < sizeof token)
				token[n++] = c;
		}
		token[n] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, token);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long idx = strtoul(token, &end, 10);
			cur = (*token && !*end) ? json_array_get(cur, idx) : NULL;
		} else {
			cur = NULL;
		}
	}
	return cur;
}

int record_side_from_text(const char *t)
{
	if (!t)
		return 0;
	if (!strcasecmp(t, "long") || !strcasecmp(t, "buy") || !strcasecmp(t, "bullish"))
		return 1;
	if (!strcasecmp(t, "short") || !strcasecmp(t, "sell") || !strcasecmp(t, "bearish"))
		return -1;
	return 0;
}

/* The first present, non-null value among the field's pointers. */
static json_t *field_value(const struct profile_source *src, json_t *row, enum profile_field f)
{
	const struct profile_pointers *pp = &src->field[f];
	for (size_t i = 0; i < pp->n; i++) {
		json_t *v = record_pointer(row, pp->p[i]);
		if (v && !json_is_null(v))
			return v;
	}
	return NULL;
}

static const char *field_string(const struct profile_source *src, json_t *row, enum profile_field f)
{
	json_t *v = field_value(src, row, f);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Numbers, and numeric strings ("12.5"), as bots log both. -1 on a value of
 * another type; NAN when absent. */
static int field_number(const struct profile_source *src, json_t *row, enum profile_field f,
			double *out)
{
	json_t *v = field_value(src, row, f);
	*out = NAN;
	if (!v)
		return 0;
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		double d = strtod(s, &end);
		if (end != s && *end == '\0' && isfinite(d)) {
			*out = d;
			return 0;
		}
	}
	return -1;
}

static int field_time(const struct profile_source *src, json_t *row, enum profile_field f,
		      int64_t *out)
{
	json_t *v = field_value(src, row, f);
	*out = CALENDAR_NONE;
	if (!v)
		return 0;
	if (json_is_number(v)) {
		*out = calendar_from_epoch_number(json_number_value(v));
		return 0;
	}
	if (json_is_string(v) && calendar_parse_iso(json_string_value(v), out) == 0)
		return 0;
	return -1;
}

static enum profile_kind kind_of(const struct profile_source *src, json_t *row, int *missing)
{
	json_t *v;
	const char *s;

	*missing = 0;
	if (src->constant_kind != PROFILE_KIND_NONE)
		return src->constant_kind;
	v = record_pointer(row, src->kind_pointer);
	if (!v || json_is_null(v)) {
		*missing = src->kind_default == PROFILE_KIND_NONE;
		return src->kind_default;
	}
	s = json_string_value(v);
	if (!s)
		return PROFILE_KIND_IGNORE;
	for (size_t i = 0; i < src->n_kinds; i++) {
		const char *want = src->kind_value[i];
		if (src->kind_by_prefix ? strncmp(s, want, strlen(want)) == 0
					: strcmp(s, want) == 0)
			return src->kind_of[i];
	}
	return PROFILE_KIND_IGNORE;
}

/* Joins the values at the key pointers with '|'. -1 when one is absent. */
static int build_key(const struct profile_pointers *pp, json_t *row, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < pp->n; i++) {
		json_t *v = record_pointer(row, pp->p[i]);
		char num[64];
		const char *s;
		if (!v || json_is_null(v))
			return -1;
		if (json_is_string(v)) {
			s = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
			s = num;
		} else if (json_is_real(v)) {
			snprintf(num, sizeof num, "%.17g", json_real_value(v));
			s = num;
		} else {
			return -1;
		}
		int n = snprintf(buf + used, len - used, "%s%s", i ? "|" : "", s);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return pp->n ? 0 : -1;
}

static enum record_status quarantine(const char **reason, const char *token, char *detail,
				     size_t detail_len, const char *fmt, const char *arg)
{
	*reason = token;
	snprintf(detail, detail_len, fmt, arg);
	return RECORD_QUARANTINE;
}

enum record_status record_parse(const struct profile *p, enum profile_source_id source,
				const char *line, size_t len, struct record *out,
				const char **reason, char *detail, size_t detail_len)
{
	const struct profile_source *src = &p->source[source];
	json_error_t jerr;
	int missing;
	static const enum profile_field numeric[] = {
	    PROFILE_FIELD_ENTRY_PRICE, PROFILE_FIELD_EXIT_PRICE, PROFILE_FIELD_QTY,
	    PROFILE_FIELD_PNL_USD,     PROFILE_FIELD_PNL_PCT,	 PROFILE_FIELD_HOLD_MINUTES,
	    PROFILE_FIELD_CONFIDENCE,  PROFILE_FIELD_SCORE,	 PROFILE_FIELD_FRACTION,
	    PROFILE_FIELD_EQUITY,      PROFILE_FIELD_PRICE,	 PROFILE_FIELD_STOP_LOSS,
	    PROFILE_FIELD_TAKE_PROFIT,
	};
	double nums[sizeof numeric / sizeof numeric[0]];

	memset(out, 0, sizeof *out);
	out->source = source;
	out->ts = out->entry_ts = CALENDAR_NONE;
	out->traded = -1;
	*reason = NULL;
	detail[0] = '\0';

	out->row = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!out->row)
		return quarantine(reason, "not_json", detail, detail_len, "%s", jerr.text);
	if (!json_is_object(out->row))
		return quarantine(reason, "not_object", detail, detail_len, "%s",
				  "the line is JSON but not an object");

	out->kind = kind_of(src, out->row, &missing);
	if (missing)
		return quarantine(reason, "missing_field", detail, detail_len,
				  "no kind field at %s", src->kind_pointer);
	if (out->kind == PROFILE_KIND_IGNORE)
		return RECORD_IGNORED;

	if (field_time(src, out->row, PROFILE_FIELD_TS, &out->ts))
		return quarantine(reason, "bad_value", detail, detail_len, "%s",
				  "ts is not an ISO-8601 timestamp or epoch number");
	if (out->ts == CALENDAR_NONE)
		return quarantine(reason, "missing_field", detail, detail_len, "%s", "no ts");
	if (field_time(src, out->row, PROFILE_FIELD_ENTRY_TS, &out->entry_ts))
		out->entry_ts = CALENDAR_NONE; /* optional: derived from hold time below */

	out->symbol = field_string(src, out->row, PROFILE_FIELD_SYMBOL);
	if (!out->symbol || !*out->symbol)
		return quarantine(reason, "missing_field", detail, detail_len, "%s", "no symbol");

	for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++)
		if (field_number(src, out->row, numeric[i], &nums[i]))
			return quarantine(reason, "bad_value", detail, detail_len,
					  "%s is not a number", profile_field_name(numeric[i]));
	out->entry_price = nums[0];
	out->exit_price = nums[1];
	out->qty = nums[2];
	out->pnl_usd = nums[3];
	out->pnl_frac = nums[4];
	out->hold_minutes = nums[5];
	out->confidence = nums[6];
	out->score = nums[7];
	out->fraction = nums[8];
	out->equity = nums[9];
	out->price = nums[10];
	out->stop_loss = nums[11];
	out->take_profit = nums[12];
	if (!isnan(out->pnl_frac) && p->pnl_percent)
		out->pnl_frac /= 100.0;

	out->trade_id = field_string(src, out->row, PROFILE_FIELD_TRADE_ID);
	out->position_id = field_string(src, out->row, PROFILE_FIELD_POSITION_ID);
	out->regime = field_string(src, out->row, PROFILE_FIELD_REGIME);
	out->sector = field_string(src, out->row, PROFILE_FIELD_SECTOR);
	out->timeframe = field_string(src, out->row, PROFILE_FIELD_TIMEFRAME);
	out->close_reason = field_string(src, out->row, PROFILE_FIELD_CLOSE_REASON);
	out->signal_id = field_string(src, out->row, PROFILE_FIELD_SIGNAL_ID);
	out->order_id = field_string(src, out->row, PROFILE_FIELD_ORDER_ID);
	out->status = field_string(src, out->row, PROFILE_FIELD_STATUS);
	out->reason = field_string(src, out->row, PROFILE_FIELD_REASON);
	out->side = record_side_from_text(field_string(src, out->row, PROFILE_FIELD_SIDE));
	json_t *comp = field_value(src, out->row, PROFILE_FIELD_COMPONENTS);
	out->components = json_is_object(comp) ? comp : NULL;
	json_t *traded = field_value(src, out->row, PROFILE_FIELD_TRADED);
	if (json_is_boolean(traded))
		out->traded = json_is_true(traded);

	if (out->kind == PROFILE_KIND_CLOSE || out->kind == PROFILE_KIND_PARTIAL) {
		const struct profile_pointers *kp =
		    out->kind == PROFILE_KIND_PARTIAL && src->partial_key.n ? &src->partial_key
									    : &src->key;
		if (build_key(kp, out->row, out->key, sizeof out->key))
			return quarantine(reason, "missing_field", detail, detail_len,
					  "no stable trade key at %s", kp->n ? kp->p[0] : "(none)");
		if (isnan(out->pnl_usd) && isnan(out->pnl_frac))
			return quarantine(reason, "missing_field", detail, detail_len, "%s",
					  "neither pnl_usd nor pnl_pct");
		if (out->entry_ts == CALENDAR_NONE && isfinite(out->hold_minutes)) {
			out->entry_ts = out->ts - (int64_t)llround(out->hold_minutes * 60e6);
			out->entry_ts_derived = 1;
		}
		record_derive_trade(out);
	}
	return RECORD_OK;
}

void record_derive_trade(struct record *r)
{
	double notional = r->entry_price * r->qty;
	if (isnan(r->pnl_usd) && isfinite(notional))
		r->pnl_usd = r->pnl_frac * notional;
	if (isnan(r->pnl_frac) && isfinite(notional) && notional != 0)
		r->pnl_frac = r->pnl_usd / fabs(notional);
	if (r->kind == PROFILE_KIND_CLOSE && isnan(r->fraction))
		r->fraction = 1.0;
	if (isnan(r->hold_minutes) && r->entry_ts != CALENDAR_NONE)
		r->hold_minutes = (double)(r->ts - r->entry_ts) / 60e6;
	double pnl = !isnan(r->pnl_usd) ? r->pnl_usd : r->pnl_frac;
	r->pnl_sign_mismatch = 0;
	if (r->side && isfinite(r->entry_price) && isfinite(r->exit_price)) {
		double move = (r->exit_price - r->entry_price) * r->side;
		r->pnl_sign_mismatch = (move > 0 && pnl < 0) || (move < 0 && pnl > 0);
	}
}

void record_release(struct record *r)
{
	if (r->row)
		json_decref(r->row);
	r->row = NULL;
}
