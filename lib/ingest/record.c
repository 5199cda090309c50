#include "lib/ingest/record.h"

#include <ctype.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base/calendar.h"
#include "lib/ingest/jscan.h"

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

static void note_unmapped(struct record *r, const char *prefix, const char *name)
{
	for (size_t i = 0; i < r->n_unmapped; i++)
		if (strncmp(r->unmapped[i], prefix, strlen(prefix)) == 0 &&
		    strcmp(r->unmapped[i] + strlen(prefix), name) == 0)
			return;
	if (r->n_unmapped < RECORD_MAX_UNMAPPED)
		snprintf(r->unmapped[r->n_unmapped++], RECORD_UNMAPPED_NAME, "%s%s", prefix, name);
}

/* A value at a pointer as a record reads it: a string decoded (s, len; NUL
 * after it), a number, or an object to read the members of (at). */
struct val {
	enum jscan_type type;
	const char *s;
	size_t len;
	long long integer;
	double real;
	const struct jscan_value *at;
	json_t *mapped; /* a value map's string (the profile's) */
};

/* A line checked by jscan: its values at the source's slots, their strings
 * decoded. */
struct row {
	const char *line;
	const struct jscan_value *v;
	const char **str; /* per slot, for a string */
	size_t *str_len;
};

static struct val slot_value(const struct row *row, int slot)
{
	const struct jscan_value *v = &row->v[slot];
	struct val out = {.type = v->type, .at = v};
	if (v->type == JSCAN_STRING) {
		out.s = row->str[slot];
		out.len = row->str_len[slot];
	} else if (v->type == JSCAN_INTEGER) {
		out.integer = v->integer;
	} else if (v->type == JSCAN_REAL) {
		out.real = v->real;
	}
	return out;
}

static int present(const struct val *v)
{
	return v->type != JSCAN_ABSENT && v->type != JSCAN_NULL;
}

/* The text of a scalar as a value map reads it: a string itself, an
 * integer or a boolean as its JSON text (num holds it); NULL for anything
 * else. */
static const char *value_text(const struct val *v, char *num, size_t len)
{
	switch (v->type) {
	case JSCAN_STRING:
		return v->s;
	case JSCAN_INTEGER:
		snprintf(num, len, "%lld", v->integer);
		return num;
	case JSCAN_TRUE:
		return "true";
	case JSCAN_FALSE:
		return "false";
	default:
		return NULL;
	}
}

/* The first present, non-null value among pp's pointers, through its value
 * map: a value the map does not hold is noted as unmapped (prefix, name)
 * and is absent. Absent for a derived value. */
static struct val spec_value(const struct profile_pointers *pp, const struct row *row,
			     struct record *r, const char *prefix, const char *name)
{
	struct val v = {.type = JSCAN_ABSENT};
	char num[32];

	if (pp->derive != PROFILE_DERIVE_NONE)
		return v;
	for (size_t i = 0; i < pp->n && !present(&v); i++)
		v = slot_value(row, pp->slot[i]);
	if (!present(&v)) {
		v.type = JSCAN_ABSENT;
		return v;
	}
	if (pp->n_map == 0)
		return v;
	const char *text = value_text(&v, num, sizeof num);
	for (size_t i = 0; text && i < pp->n_map; i++)
		if (strcmp(text, pp->map_from[i]) == 0)
			return (struct val){.type = JSCAN_STRING,
					    .s = json_string_value(pp->map_to[i]),
					    .len = json_string_length(pp->map_to[i]),
					    .mapped = pp->map_to[i]};
	note_unmapped(r, prefix, name);
	return (struct val){.type = JSCAN_ABSENT};
}

static struct val field_value(const struct profile_source *src, const struct row *row,
			      struct record *r, enum profile_field f)
{
	return spec_value(&src->field[f], row, r, "", profile_field_name(f));
}

static const char *field_string(const struct profile_source *src, const struct row *row,
				struct record *r, enum profile_field f)
{
	struct val v = field_value(src, row, r, f);
	return v.type == JSCAN_STRING ? v.s : NULL;
}

static int is_number(const struct val *v)
{
	return v->type == JSCAN_INTEGER || v->type == JSCAN_REAL;
}

static double number_value(const struct val *v)
{
	return v->type == JSCAN_INTEGER ? (double)v->integer : v->real;
}

/* A number, or a numeric string ("12.5"), as bots log both: 0, else -1. */
static int number_of(const struct val *v, double *out)
{
	if (is_number(v)) {
		*out = number_value(v);
		return 0;
	}
	if (v->type == JSCAN_STRING) {
		char *end;
		double d = strtod(v->s, &end);
		if (end != v->s && *end == '\0' && isfinite(d)) {
			*out = d;
			return 0;
		}
	}
	return -1;
}

/* A time: ISO-8601, an epoch number, or an epoch number as a string. */
static int time_of(const struct val *v, int64_t *out)
{
	double d;
	if (v->type == JSCAN_STRING && calendar_parse_iso(v->s, out) == 0)
		return 0;
	if (number_of(v, &d) == 0) {
		*out = calendar_from_epoch_number(d);
		return 0;
	}
	return -1;
}

/* The number pp gives: NAN when absent (an operand absent, a ratio over
 * 0), -1 on a value of another type. minutes: a difference is of two times,
 * in minutes. */
static int spec_number(const struct profile_pointers *pp, const struct row *row, struct record *r,
		       const char *prefix, const char *name, int minutes, double *out)
{
	*out = NAN;
	if (pp->derive == PROFILE_DERIVE_NONE) {
		struct val v = spec_value(pp, row, r, prefix, name);
		return v.type == JSCAN_ABSENT || number_of(&v, out) == 0 ? 0 : -1;
	}
	struct val a = slot_value(row, pp->slot[0]), b = slot_value(row, pp->slot[1]);
	if (!present(&a) || !present(&b))
		return 0;
	if (pp->derive == PROFILE_DERIVE_DIFFERENCE && minutes) {
		int64_t ta, tb;
		if (time_of(&a, &ta) || time_of(&b, &tb))
			return -1;
		*out = (double)(ta - tb) / 60e6;
		return 0;
	}
	double x, y;
	if (number_of(&a, &x) || number_of(&b, &y))
		return -1;
	if (pp->derive == PROFILE_DERIVE_DIFFERENCE)
		*out = x - y;
	else if (y != 0)
		*out = x / y;
	return 0;
}

static int field_number(const struct profile_source *src, const struct row *row, struct record *r,
			enum profile_field f, double *out)
{
	return spec_number(&src->field[f], row, r, "", profile_field_name(f),
			   f == PROFILE_FIELD_HOLD_MINUTES, out);
}

static int field_time(const struct profile_source *src, const struct row *row, struct record *r,
		      enum profile_field f, int64_t *out)
{
	struct val v = field_value(src, row, r, f);
	*out = CALENDAR_NONE;
	if (v.type == JSCAN_ABSENT)
		return 0;
	if (is_number(&v)) {
		*out = calendar_from_epoch_number(number_value(&v));
		return 0;
	}
	if (v.type == JSCAN_STRING && calendar_parse_iso(v.s, out) == 0)
		return 0;
	return -1;
}

/* A feature's value: a number, a numeric string, a boolean (1, 0). -1 for
 * any other value. */
static int feature_number(const struct val *v, double *out)
{
	if (v->type == JSCAN_TRUE || v->type == JSCAN_FALSE) {
		*out = v->type == JSCAN_TRUE ? 1.0 : 0.0;
		return 0;
	}
	return number_of(v, out);
}

static int set_number(json_t *obj, const char *name, double d)
{
	return json_object_set_new(obj, name, json_real(d));
}

/* A string of the line decoded, in small or else a buffer of its own
 * (*heap, to free). NULL on ENOMEM. */
static const char *decoded(const char *line, const struct jscan_value *v, char *small,
			   size_t small_len, char **heap, size_t *len)
{
	char *to = small;
	*heap = NULL;
	if (v->len >= small_len && !(to = *heap = malloc(v->len + 1)))
		return NULL;
	*len = jscan_string(line, v, to);
	return to;
}

/* A member of components as jansson read it from the line: a number as
 * integer or real, a string (as C text), a literal; an object or array is
 * only told apart from the rest. NULL on ENOMEM. */
static json_t *member_json(const char *line, const struct jscan_value *v)
{
	char small[256], *heap;
	size_t len;
	json_t *j;
	switch (v->type) {
	case JSCAN_INTEGER:
		return json_integer(v->integer);
	case JSCAN_REAL:
		return json_real(v->real);
	case JSCAN_TRUE:
		return json_true();
	case JSCAN_FALSE:
		return json_false();
	case JSCAN_STRING: {
		const char *s = decoded(line, v, small, sizeof small, &heap, &len);
		j = s ? json_stringn_nocheck(s, len) : NULL;
		free(heap);
		return j;
	}
	case JSCAN_OBJECT:
		return json_object();
	case JSCAN_ARRAY:
		return json_array();
	default:
		return json_null();
	}
}

/* The components object at v, as jansson's object of the line would hold
 * it: a key given twice keeps its first place and its last value. NULL on
 * ENOMEM. */
static json_t *components_object(const char *line, const struct jscan_value *v)
{
	struct jscan_members m;
	struct jscan_value key, value;
	json_t *obj = json_object();
	jscan_members_begin(&m, line, v);
	while (obj && jscan_members_next(&m, &key, &value)) {
		char small[256], *heap;
		size_t len;
		const char *name = decoded(line, &key, small, sizeof small, &heap, &len);
		json_t *j = name ? member_json(line, &value) : NULL;
		if (!j || json_object_set_new_nocheck(obj, name, j)) {
			json_decref(obj);
			obj = NULL;
		}
		free(heap);
	}
	return obj;
}

/* components: the map form builds an object; the object form is kept as
 * the line holds it when it holds numbers only, else a copy of its
 * features is made. -1 on ENOMEM. */
static int gather_components(const struct profile_source *src, const struct row *row,
			     struct record *r)
{
	json_t *obj;
	const char *name;
	json_t *v;
	double d;

	if (src->n_features) {
		if (!(r->own_components = json_object()))
			return -1;
		for (size_t i = 0; i < src->n_features; i++) {
			const struct profile_named *f = &src->features[i];
			if (f->at.derive != PROFILE_DERIVE_NONE) {
				if (spec_number(&f->at, row, r, "components.", f->name, 0, &d))
					r->features_skipped++;
				else if (!isnan(d) && set_number(r->own_components, f->name, d))
					return -1;
				continue;
			}
			struct val fv = spec_value(&f->at, row, r, "components.", f->name);
			if (fv.type == JSCAN_ABSENT)
				continue;
			if (feature_number(&fv, &d))
				r->features_skipped++;
			else if (set_number(r->own_components, f->name, d))
				return -1;
		}
		r->components = r->own_components;
		return 0;
	}
	struct val at = field_value(src, row, r, PROFILE_FIELD_COMPONENTS);
	if (at.type != JSCAN_OBJECT)
		return 0;
	if (!(obj = components_object(row->line, at.at)))
		return -1;
	int plain = 1;
	json_object_foreach(obj, name, v) plain &= json_is_number(v);
	if (plain) {
		r->components = r->own_components = obj;
		return 0;
	}
	if (!(r->own_components = json_object())) {
		json_decref(obj);
		return -1;
	}
	json_object_foreach(obj, name, v)
	{
		if (json_is_null(v))
			continue;
		struct val fv = {.type = json_is_true(v)      ? JSCAN_TRUE
					 : json_is_false(v)   ? JSCAN_FALSE
					 : json_is_string(v)  ? JSCAN_STRING
					 : json_is_integer(v) ? JSCAN_INTEGER
					 : json_is_real(v)    ? JSCAN_REAL
							      : JSCAN_OBJECT,
				 .s = json_string_value(v),
				 .integer = json_integer_value(v),
				 .real = json_real_value(v)};
		if (feature_number(&fv, &d))
			r->features_skipped++;
		else if (set_number(r->own_components, name, d)) {
			json_decref(obj);
			return -1;
		}
	}
	json_decref(obj);
	r->components = r->own_components;
	return 0;
}

/* A category's value as text: a string, an integer or a boolean as its JSON
 * text, a real as %.15g; null (absent) for anything else. */
static json_t *category_text(const struct val *v)
{
	char num[40];
	const char *t;
	if (v->mapped)
		return json_incref(v->mapped);
	if (v->type == JSCAN_STRING)
		return json_stringn_nocheck(v->s, v->len);
	if (v->type == JSCAN_REAL) {
		snprintf(num, sizeof num, "%.15g", v->real);
		return json_string(num);
	}
	t = value_text(v, num, sizeof num);
	return t ? json_string(t) : json_null();
}

static int gather_categories(const struct profile_source *src, const struct row *row,
			     struct record *r)
{
	int strategy = src->field[PROFILE_FIELD_STRATEGY].n > 0;
	if (!src->n_categories && !strategy)
		return 0;
	if (!(r->categories = json_object()))
		return -1;
	for (size_t i = 0; i < src->n_categories; i++) {
		const struct profile_named *c = &src->categories[i];
		struct val v = spec_value(&c->at, row, r, "categories.", c->name);
		if (json_object_set_new(r->categories, c->name, category_text(&v)))
			return -1;
	}
	if (strategy && json_object_set_new(r->categories, "strategy",
					    r->strategy ? json_string(r->strategy) : json_null()))
		return -1;
	return 0;
}

static enum profile_kind kind_of(const struct profile_source *src, const struct row *row,
				 int *missing)
{
	*missing = 0;
	if (src->constant_kind != PROFILE_KIND_NONE)
		return src->constant_kind;
	struct val v = slot_value(row, src->kind_slot);
	if (!present(&v)) {
		*missing = src->kind_default == PROFILE_KIND_NONE;
		return src->kind_default;
	}
	if (v.type != JSCAN_STRING)
		return PROFILE_KIND_IGNORE;
	for (size_t i = 0; i < src->n_kinds; i++) {
		const char *want = src->kind_value[i];
		if (src->kind_by_prefix ? strncmp(v.s, want, strlen(want)) == 0
					: strcmp(v.s, want) == 0)
			return src->kind_of[i];
	}
	return PROFILE_KIND_IGNORE;
}

/* Joins the values at the key pointers with '|'. -1 when one is absent. */
static int build_key(const struct profile_pointers *pp, const struct row *row, char *buf,
		     size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < pp->n; i++) {
		struct val v = slot_value(row, pp->slot[i]);
		char num[64];
		const char *s;
		if (v.type == JSCAN_STRING) {
			s = v.s;
		} else if (v.type == JSCAN_INTEGER) {
			snprintf(num, sizeof num, "%lld", v.integer);
			s = num;
		} else if (v.type == JSCAN_REAL) {
			snprintf(num, sizeof num, "%.17g", v.real);
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

/* Decodes the strings at the slots into one buffer of r's (r->text). -1 on
 * ENOMEM; 1 when one of them holds a \u0000: a record's text is C text, and
 * cutting it at the NUL would read another value than the line's (a trade
 * id "T00\u00000001" as "T00"). */
static int decode_strings(const struct jscan_query *q, struct row *row, struct record *r)
{
	int nul = 0;
	size_t n = jscan_query_slots(q), need = 0, used = 0;
	for (size_t i = 0; i < n; i++)
		if (row->v[i].type == JSCAN_STRING)
			need += row->v[i].len + 1;
	if (!need)
		return 0;
	if (!(r->text = malloc(need)))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (row->v[i].type == JSCAN_STRING) {
			row->str[i] = r->text + used;
			row->str_len[i] = jscan_string(row->line, &row->v[i], r->text + used);
			nul |= strlen(row->str[i]) != row->str_len[i];
			used += row->v[i].len + 1;
		}
	return nul;
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
	struct jscan_value v[JSCAN_MAX_SLOTS];
	const char *str[JSCAN_MAX_SLOTS];
	size_t str_len[JSCAN_MAX_SLOTS];
	struct row row = {.line = line, .v = v, .str = str, .str_len = str_len};
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

	if (jscan_parse(src->query, line, len, v, NULL)) {
		/* Refused as jansson refuses it: its words say why. */
		json_t *doc = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		json_decref(doc);
		return quarantine(reason, "not_json", detail, detail_len, "%s",
				  doc ? "invalid JSON" : jerr.text);
	}
	if (v[0].type != JSCAN_OBJECT)
		return quarantine(reason, "not_object", detail, detail_len, "%s",
				  "the line is JSON but not an object");
	int decoded_strings = decode_strings(src->query, &row, out);
	if (decoded_strings < 0)
		return quarantine(reason, "out_of_memory", detail, detail_len, "%s",
				  "out of memory");

	out->kind = kind_of(src, &row, &missing);
	if (missing)
		return quarantine(reason, "missing_field", detail, detail_len,
				  "no kind field at %s", src->kind_pointer);
	if (out->kind == PROFILE_KIND_IGNORE)
		return RECORD_IGNORED; /* a kind cut at a NUL can only match, never miss */
	if (decoded_strings > 0)
		return quarantine(reason, "bad_value", detail, detail_len, "%s",
				  "a text value the profile reads holds \\u0000 (a NUL character)");

	if (field_time(src, &row, out, PROFILE_FIELD_TS, &out->ts))
		return quarantine(reason, "bad_value", detail, detail_len, "%s",
				  "ts is not an ISO-8601 timestamp or epoch number");
	if (out->ts == CALENDAR_NONE)
		return quarantine(reason, "missing_field", detail, detail_len, "%s", "no ts");
	if (field_time(src, &row, out, PROFILE_FIELD_ENTRY_TS, &out->entry_ts))
		out->entry_ts = CALENDAR_NONE; /* optional: derived from hold time below */

	out->symbol = field_string(src, &row, out, PROFILE_FIELD_SYMBOL);
	if (!out->symbol || !*out->symbol)
		return quarantine(reason, "missing_field", detail, detail_len, "%s", "no symbol");

	for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++)
		if (field_number(src, &row, out, numeric[i], &nums[i]))
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
	if (!isnan(out->pnl_frac) && p->pnl_percent &&
	    src->field[PROFILE_FIELD_PNL_PCT].derive == PROFILE_DERIVE_NONE)
		out->pnl_frac /= 100.0;

	static const struct {
		enum profile_field f;
		size_t offset;
	} texts[] = {
	    {PROFILE_FIELD_TRADE_ID, offsetof(struct record, trade_id)},
	    {PROFILE_FIELD_POSITION_ID, offsetof(struct record, position_id)},
	    {PROFILE_FIELD_REGIME, offsetof(struct record, regime)},
	    {PROFILE_FIELD_SECTOR, offsetof(struct record, sector)},
	    {PROFILE_FIELD_TIMEFRAME, offsetof(struct record, timeframe)},
	    {PROFILE_FIELD_CLOSE_REASON, offsetof(struct record, close_reason)},
	    {PROFILE_FIELD_SIGNAL_ID, offsetof(struct record, signal_id)},
	    {PROFILE_FIELD_ORDER_ID, offsetof(struct record, order_id)},
	    {PROFILE_FIELD_STATUS, offsetof(struct record, status)},
	    {PROFILE_FIELD_REASON, offsetof(struct record, reason)},
	    {PROFILE_FIELD_STRATEGY, offsetof(struct record, strategy)},
	    {PROFILE_FIELD_SESSION, offsetof(struct record, session)},
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		const char *t = field_string(src, &row, out, texts[i].f);
		memcpy((char *)out + texts[i].offset, &t, sizeof t);
	}
	struct val side = field_value(src, &row, out, PROFILE_FIELD_SIDE);
	char num[32];
	out->side = record_side_from_text(value_text(&side, num, sizeof num));
	if (side.type != JSCAN_ABSENT && !out->side)
		note_unmapped(out, "", "side");
	if (gather_components(src, &row, out) || gather_categories(src, &row, out))
		return quarantine(reason, "out_of_memory", detail, detail_len, "%s",
				  "out of memory");
	struct val traded = field_value(src, &row, out, PROFILE_FIELD_TRADED);
	if (traded.type == JSCAN_TRUE || traded.type == JSCAN_FALSE)
		out->traded = traded.type == JSCAN_TRUE;

	if (out->kind == PROFILE_KIND_CLOSE || out->kind == PROFILE_KIND_PARTIAL) {
		const struct profile_pointers *kp =
		    out->kind == PROFILE_KIND_PARTIAL && src->partial_key.n ? &src->partial_key
									    : &src->key;
		if (build_key(kp, &row, out->key, sizeof out->key))
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
	/* A context row matched by key carries the key of its trade. */
	if (out->kind == PROFILE_KIND_CONTEXT && src->match_by_key &&
	    build_key(&src->key, &row, out->key, sizeof out->key))
		return quarantine(reason, "missing_field", detail, detail_len, "no trade key at %s",
				  src->key.n ? src->key.p[0] : "(none)");
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
	json_decref(r->row);
	json_decref(r->own_components);
	json_decref(r->categories);
	free(r->text);
	r->row = r->own_components = r->categories = NULL;
	r->text = NULL;
}
