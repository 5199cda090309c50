#include "lib/store/outcome.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"
#include "lib/store/framelog.h"

void outcome_reason_family(const char *reason, char *buf, size_t len)
{
	size_t n = 0;
	int depth = 0;

	if (!reason || !*reason) {
		snprintf(buf, len, "unknown");
		return;
	}
	for (const char *p = reason; *p && n + 1 < len; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p != ' ')
			buf[n++] = *p;
	}
	buf[n] = '\0';
	if (n == 0)
		snprintf(buf, len, "unknown");
}

/* A copy of v (at nesting level depth) with what lies deeper than
 * OUTCOME_COMPONENTS_DEPTH as null; NULL on ENOMEM. */
static json_t *copy_bounded(json_t *v, int depth)
{
	const char *key;
	json_t *item, *out;
	size_t i;
	if (!json_is_object(v) && !json_is_array(v))
		return json_copy(v);
	if (depth > OUTCOME_COMPONENTS_DEPTH)
		return json_null();
	out = json_is_object(v) ? json_object() : json_array();
	if (json_is_object(v)) {
		json_object_foreach(v, key, item)
		{
			if (json_object_set_new(out, key, copy_bounded(item, depth + 1)))
				goto fail;
		}
	} else {
		json_array_foreach(v, i, item)
		{
			if (json_array_append_new(out, copy_bounded(item, depth + 1)))
				goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *outcome_from_record(const struct record *r)
{
	char family[128];
	int64_t at = r->entry_ts != CALENDAR_NONE ? r->entry_ts : r->ts;
	json_t *o = json_object();

	outcome_reason_family(r->close_reason, family, sizeof family);
	json_object_set_new(o, "trade_id", json_string(r->key));
	json_object_set_new(o, "symbol", json_string(r->symbol));
	json_object_set_new(o, "side",
			    r->side > 0	  ? json_string("long")
			    : r->side < 0 ? json_string("short")
					  : json_null());
	json_object_set_new(o, "entry_ts", jsontext_time_or_null(r->entry_ts));
	json_object_set_new(o, "exit_ts", jsontext_time_or_null(r->ts));
	json_object_set_new(o, "entry_price", jsontext_real_or_null(r->entry_price));
	json_object_set_new(o, "exit_price", jsontext_real_or_null(r->exit_price));
	json_object_set_new(o, "qty", jsontext_real_or_null(r->qty));
	json_object_set_new(o, "pnl_usd", jsontext_real_or_null(r->pnl_usd));
	json_object_set_new(o, "pnl_frac", jsontext_real_or_null(r->pnl_frac));
	json_object_set_new(o, "hold_minutes", jsontext_real_or_null(r->hold_minutes));
	json_object_set_new(o, "confidence", jsontext_real_or_null(r->confidence));
	json_object_set_new(o, "score", jsontext_real_or_null(r->score));
	json_object_set_new(o, "regime", string_or_null(r->regime));
	json_object_set_new(o, "sector", string_or_null(r->sector));
	json_object_set_new(o, "timeframe", string_or_null(r->timeframe));
	json_object_set_new(o, "time_of_day",
			    json_string(r->session ? r->session : calendar_time_of_day(at)));
	json_object_set_new(o, "day_of_week", json_string(calendar_day_of_week(at)));
	json_object_set_new(o, "close_reason", json_string(family));
	json_object_set_new(
	    o, "partial", jsontext_real_or_null(r->kind == PROFILE_KIND_CLOSE ? 1.0 : r->fraction));
	json_object_set_new(o, "components",
			    r->components ? copy_bounded(r->components, 1) : json_null());
	if (r->categories) {
		json_object_set_new(o, "strategy", string_or_null(r->strategy));
		json_object_set_new(o, "categories", copy_bounded(r->categories, 1));
	}
	return o;
}

/* outcome_encode() writes the text jsontext_dump() makes of
 * outcome_from_record() without building it: one outcome per trade while
 * history is read. The pieces below are those of outcome_from_record(). */
static void add_key(struct buf *b, const char *key, int *failed)
{
	*failed |= buf_add(b, key, strlen(key));
}

static void add_string_or_null(struct buf *b, const char *key, const char *s, int *failed)
{
	add_key(b, key, failed);
	*failed |= s ? jsontext_add_string(b, s, strlen(s)) : buf_add(b, "null", 4);
}

static void add_real_or_null(struct buf *b, const char *key, double d, int *failed)
{
	add_key(b, key, failed);
	*failed |= jsontext_add_real(b, d);
}

static void add_time_or_null(struct buf *b, const char *key, int64_t us, int *failed)
{
	char at[40];
	if (us != CALENDAR_NONE)
		calendar_format_iso(us, at, sizeof at);
	add_string_or_null(b, key, us != CALENDAR_NONE ? at : NULL, failed);
}

/* jansson refuses a string that is not UTF-8 (a reason family cut inside a
 * character), and outcome_from_record() then leaves its key out. */
static int is_utf8(const char *s)
{
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c >= 0x80) {
			json_t *j = json_string(s);
			json_decref(j);
			return j != NULL;
		}
	return 1;
}

char *outcome_encode(const struct record *r)
{
	struct buf b = BUF_INIT;
	char family[128];
	int64_t at = r->entry_ts != CALENDAR_NONE ? r->entry_ts : r->ts;
	int failed = 0;

	outcome_reason_family(r->close_reason, family, sizeof family);
	add_string_or_null(&b, "{\"trade_id\":", r->key, &failed);
	if (r->symbol) /* else jansson refuses it, and the key is left out */
		add_string_or_null(&b, ",\"symbol\":", r->symbol, &failed);
	add_string_or_null(&b, ",\"side\":",
			   r->side > 0	 ? "long"
			   : r->side < 0 ? "short"
					 : NULL,
			   &failed);
	add_time_or_null(&b, ",\"entry_ts\":", r->entry_ts, &failed);
	add_time_or_null(&b, ",\"exit_ts\":", r->ts, &failed);
	add_real_or_null(&b, ",\"entry_price\":", r->entry_price, &failed);
	add_real_or_null(&b, ",\"exit_price\":", r->exit_price, &failed);
	add_real_or_null(&b, ",\"qty\":", r->qty, &failed);
	add_real_or_null(&b, ",\"pnl_usd\":", r->pnl_usd, &failed);
	add_real_or_null(&b, ",\"pnl_frac\":", r->pnl_frac, &failed);
	add_real_or_null(&b, ",\"hold_minutes\":", r->hold_minutes, &failed);
	add_real_or_null(&b, ",\"confidence\":", r->confidence, &failed);
	add_real_or_null(&b, ",\"score\":", r->score, &failed);
	add_string_or_null(&b, ",\"regime\":", r->regime, &failed);
	add_string_or_null(&b, ",\"sector\":", r->sector, &failed);
	add_string_or_null(&b, ",\"timeframe\":", r->timeframe, &failed);
	add_string_or_null(
	    &b, ",\"time_of_day\":", r->session ? r->session : calendar_time_of_day(at), &failed);
	add_string_or_null(&b, ",\"day_of_week\":", calendar_day_of_week(at), &failed);
	if (is_utf8(family))
		add_string_or_null(&b, ",\"close_reason\":", family, &failed);
	add_real_or_null(&b, ",\"partial\":", r->kind == PROFILE_KIND_CLOSE ? 1.0 : r->fraction,
			 &failed);
	add_key(&b, ",\"components\":", &failed);
	failed |= r->components ? jsontext_add(&b, r->components, JSONTEXT_COMPACT)
				: buf_add(&b, "null", 4);
	if (r->categories) {
		add_string_or_null(&b, ",\"strategy\":", r->strategy, &failed);
		add_key(&b, ",\"categories\":", &failed);
		failed |= jsontext_add(&b, r->categories, JSONTEXT_COMPACT);
	}
	failed |= buf_add(&b, "}", 1);
	if (failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* ---- reading the committed outcomes ------------------------------------------------ */

struct committed_read {
	outcome_line_fn fn;
	void *ctx;
	struct err *err;
	int failed;
};

static int committed_line(void *ctx, const char *line, size_t len)
{
	struct committed_read *c = ctx;
	int rc = c->fn(c->ctx, line, len, c->err);
	if (rc < 0)
		c->failed = 1;
	return rc != 0;
}

long outcome_read_committed(const char *state_dir, struct state *st, enum state_origin *origin,
			    outcome_line_fn fn, void *ctx, uint64_t *valid, struct err *err)
{
	struct committed_read c = {fn, ctx, err, 0};
	char path[4400];
	uint64_t length = 0;

	if (valid)
		*valid = 0;
	if (state_load(state_dir, st, origin, err))
		return -1;
	if (*origin == STATE_NONE)
		return 0;
	if (snprintf(path, sizeof path, "%s/%s", state_dir,
		     state_output_path(STATE_OUTPUT_OUTCOMES)) >= (int)sizeof path)
		return err_set(err, ENAMETOOLONG, "%s: path too long", state_dir);
	/* The reason state_load gave for passing over the main file stays in
	 * err for the caller; a failure below replaces it. */
	struct err rerr = {0};
	long lines = framelog_read(path, st->output_length[STATE_OUTPUT_OUTCOMES], committed_line,
				   &c, &length, &rerr);
	if (c.failed)
		return -1;
	if (lines < 0) {
		if (err)
			*err = rerr;
		errno = rerr.code;
		return -1;
	}
	if (valid)
		*valid = length;
	return lines;
}

/* ---- decoding one line --------------------------------------------------------------- */

#define DECODE_MAX_DEPTH 512

enum field_kind { FIELD_TEXT, FIELD_TIME, FIELD_NUMBER, FIELD_COMPONENTS, FIELD_CATEGORIES };

/* The keys read, in the order outcome_from_record() writes them: the
 * decoder tries the key after the last one matched first. */
static const struct {
	const char *name;
	enum field_kind kind;
	size_t offset;
} decoded_keys[] = {
#define TEXT(k)                                                                                    \
	{                                                                                          \
#k, FIELD_TEXT, offsetof(struct outcome_fields, k)                                 \
	}
#define NUMBER(k)                                                                                  \
	{                                                                                          \
#k, FIELD_NUMBER, offsetof(struct outcome_fields, k)                               \
	}
    TEXT(trade_id),
    TEXT(symbol),
    TEXT(side),
    {"entry_ts", FIELD_TIME, offsetof(struct outcome_fields, entry_us)},
    {"exit_ts", FIELD_TIME, offsetof(struct outcome_fields, exit_us)},
    NUMBER(entry_price),
    NUMBER(exit_price),
    NUMBER(qty),
    NUMBER(pnl_usd),
    NUMBER(pnl_frac),
    NUMBER(hold_minutes),
    NUMBER(confidence),
    NUMBER(score),
    TEXT(regime),
    TEXT(sector),
    TEXT(timeframe),
    TEXT(time_of_day),
    TEXT(day_of_week),
    TEXT(close_reason),
    NUMBER(partial),
    {"components", FIELD_COMPONENTS, 0},
    {"categories", FIELD_CATEGORIES, 0},
#undef TEXT
#undef NUMBER
};
#define DECODED_KEYS (sizeof decoded_keys / sizeof decoded_keys[0])

struct outcome_decoder {
	char *text; /* unescaped strings, each NUL-terminated */
	size_t text_len, text_cap;
	size_t *name_at; /* offsets of component names in text */
	struct outcome_component *components;
	size_t n_components, components_cap;
	size_t (*category_at)[2]; /* offsets of a category's name and value (SIZE_MAX: none) */
	struct outcome_category *categories;
	size_t n_categories, categories_cap;
	size_t text_at[DECODED_KEYS]; /* offset of a text field's value, or SIZE_MAX */
};

struct scan {
	const char *start, *p, *end;
	struct outcome_decoder *d;
	struct err *err;
};

struct outcome_decoder *outcome_decoder_new(struct err *err)
{
	struct outcome_decoder *d = calloc(1, sizeof *d);
	if (!d)
		err_set(err, ENOMEM, "out of memory");
	return d;
}

void outcome_decoder_free(struct outcome_decoder *d)
{
	if (!d)
		return;
	free(d->text);
	free(d->name_at);
	free(d->components);
	free(d->category_at);
	free(d->categories);
	free(d);
}

static int bad(struct scan *s, const char *problem)
{
	return err_set(s->err, EINVAL, "at byte %zu: %s", (size_t)(s->p - s->start), problem);
}

static void skip_space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int x = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (x < 0)
			return -1;
		*v = *v << 4 | (unsigned)x;
	}
	return 0;
}

static void put_utf8(char *out, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xC0 | cp >> 6);
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xE0 | cp >> 12);
		out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*n)++] = (char)(0xF0 | cp >> 18);
		out[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3F));
		out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	}
}

/* The string at s->p (its opening quote), unescaped into d->text; *at gets
 * its offset. The text buffer holds the whole line, and a string never
 * grows when unescaped (an escape of n bytes makes at most n), so there is
 * always room for it and its NUL. */
static int scan_string(struct scan *s, size_t *at)
{
	struct outcome_decoder *d = s->d;
	size_t n = d->text_len;
	s->p++;
	*at = n;
	for (;;) {
		const char *q = s->p;
		while (q < s->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		memcpy(d->text + n, s->p, (size_t)(q - s->p));
		n += (size_t)(q - s->p);
		s->p = q;
		if (q == s->end)
			return bad(s, "a string is not closed");
		if (*q == '"')
			break;
		if (*q != '\\')
			return bad(s, "a control character in a string");
		if (q + 1 == s->end)
			return bad(s, "a string is not closed");
		char e = q[1];
		s->p = q + 2;
		const char *plain = strchr("\"\\/bfnrt", e);
		if (e && plain) {
			static const char value[] = "\"\\/\b\f\n\r\t";
			d->text[n++] = value[plain - "\"\\/bfnrt"];
			continue;
		}
		unsigned cp, low;
		if (e != 'u' || s->end - s->p < 4 || hex4(s->p, &cp))
			return bad(s, "a bad escape in a string");
		s->p += 4;
		if (cp >= 0xD800 && cp < 0xDC00) {
			if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
			    hex4(s->p + 2, &low) || low < 0xDC00 || low > 0xDFFF)
				return bad(s, "a lone UTF-16 surrogate in a string");
			s->p += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
		} else if (cp >= 0xDC00 && cp < 0xE000) {
			return bad(s, "a lone UTF-16 surrogate in a string");
		}
		if (cp == 0)
			return bad(s, "\\u0000 in a string");
		put_utf8(d->text, &n, cp);
	}
	s->p++;
	d->text[n++] = '\0';
	d->text_len = n;
	return 0;
}

/* Exact powers of ten as doubles (10^22 is the last one). */
static const double exact_powers[] = {1e0,  1e1,  1e2,	1e3,  1e4,  1e5,  1e6,	1e7,
				      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A number at s->p, checked against JSON's grammar, into *v (NULL: only
 * checked). A decimal of at most 15 significant digits whose power of ten
 * is within ±22 is m × 10^e or m / 10^-e with m and 10^|e| both exact
 * doubles: one correctly rounded operation, so the same double strtod
 * gives (Clinger's fast path). Any other number goes to strtod. */
static int scan_number(struct scan *s, double *v)
{
	const char *q = s->p;
	uint64_t mantissa = 0;
	int digits = 0, exponent = 0, negative = 0, integer = 1;
	if (q < s->end && *q == '-') {
		negative = 1;
		q++;
	}
	if (q < s->end && *q == '0') {
		q++;
	} else if (q < s->end && *q >= '1' && *q <= '9') {
		for (; q < s->end && *q >= '0' && *q <= '9'; q++)
			if (digits < 19) {
				mantissa = mantissa * 10 + (uint64_t)(*q - '0');
				digits++;
			} else {
				exponent++;
				digits = 99; /* beyond the fast path */
			}
	} else {
		return bad(s, "not a JSON value");
	}
	if (q < s->end && *q == '.') {
		integer = 0;
		if (++q == s->end || *q < '0' || *q > '9') {
			s->p = q;
			return bad(s, "a number without digits after its point");
		}
		for (; q < s->end && *q >= '0' && *q <= '9'; q++)
			if (digits < 19) {
				/* Leading zeros of 0.00x are not significant. */
				if (mantissa || *q != '0')
					digits++;
				mantissa = mantissa * 10 + (uint64_t)(*q - '0');
				exponent--;
			} else {
				digits = 99;
			}
	}
	if (q < s->end && (*q == 'e' || *q == 'E')) {
		integer = 0;
		q++;
		if (q < s->end && (*q == '+' || *q == '-'))
			q++;
		if (q == s->end || *q < '0' || *q > '9') {
			s->p = q;
			return bad(s, "a number without digits in its exponent");
		}
		while (q < s->end && *q >= '0' && *q <= '9')
			q++;
		digits = 99; /* written exponents go to strtod */
	}
	if (!v) {
		s->p = q;
		return 0;
	}
	if (digits <= 15 && exponent >= -22 && exponent <= 22) {
		double d = (double)mantissa;
		d = exponent < 0 ? d / exact_powers[-exponent] : d * exact_powers[exponent];
		/* jansson reads "-0" as the integer 0. */
		*v = negative && !(integer && mantissa == 0) ? -d : d;
		s->p = q;
		return 0;
	}
	/* strtod wants a terminated copy: the line is not NUL-terminated. */
	char local[64], *copy = local;
	size_t n = (size_t)(q - s->p);
	if (n >= sizeof local && !(copy = malloc(n + 1)))
		return err_set(s->err, ENOMEM, "out of memory");
	memcpy(copy, s->p, n);
	copy[n] = '\0';
	*v = strtod(copy, NULL);
	if (copy != local)
		free(copy);
	s->p = q;
	return 0;
}

static int scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return bad(s, "not a JSON value");
	s->p += n;
	return 0;
}

static int skip_value(struct scan *s, int depth);

/* The members or elements of the object or array at s->p, each value
 * skipped; for an object, keys too. */
static int skip_container(struct scan *s, int depth)
{
	char close = *s->p == '{' ? '}' : ']';
	int object = close == '}';
	if (depth >= DECODE_MAX_DEPTH)
		return bad(s, "nested too deep");
	s->p++;
	skip_space(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		skip_space(s);
		if (object) {
			size_t at;
			size_t mark = s->d->text_len;
			if (s->p == s->end || *s->p != '"')
				return bad(s, "an object key is not a string");
			if (scan_string(s, &at))
				return -1;
			s->d->text_len = mark;
			skip_space(s);
			if (s->p == s->end || *s->p != ':')
				return bad(s, "no ':' after an object key");
			s->p++;
		}
		if (skip_value(s, depth + 1))
			return -1;
		skip_space(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		return bad(s, object ? "no ',' or '}' after a member"
				     : "no ',' or ']' after an element");
	}
}

static int skip_value(struct scan *s, int depth)
{
	size_t at, mark = s->d->text_len;
	skip_space(s);
	if (s->p == s->end)
		return bad(s, "a value is missing");
	switch (*s->p) {
	case '{':
	case '[':
		return skip_container(s, depth);
	case '"':
		if (scan_string(s, &at))
			return -1;
		s->d->text_len = mark;
		return 0;
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_number(s, NULL);
	}
}

/* The component already named like the text at name_at, or -1. */
static long component_named(const struct outcome_decoder *d, size_t name_at)
{
	const char *name = d->text + name_at;
	for (size_t i = 0; i < d->n_components; i++) {
		const char *other = d->text + d->name_at[i];
		if (other[0] == name[0] && strcmp(other, name) == 0)
			return (long)i;
	}
	return -1;
}

static int add_component(struct outcome_decoder *d, size_t name_at, double value)
{
	long same = component_named(d, name_at);
	if (same >= 0) {
		d->components[same].value = value;
		return 0;
	}
	if (d->n_components == d->components_cap) {
		size_t cap = d->components_cap ? d->components_cap * 2 : 16;
		struct outcome_component *nc = realloc(d->components, cap * sizeof *nc);
		if (!nc)
			return -1;
		d->components = nc;
		size_t *na = realloc(d->name_at, cap * sizeof *na);
		if (!na)
			return -1;
		d->name_at = na;
		d->components_cap = cap;
	}
	d->name_at[d->n_components] = name_at;
	d->components[d->n_components++].value = value;
	return 0;
}

/* The members of the object at s->p, each handed to member() with the
 * offset of its name once s->p is at its value (which member() reads).
 * mark is where the text stood before the name, for a member that keeps
 * nothing of it. */
static int scan_members(struct scan *s, int (*member)(struct scan *s, size_t name_at, size_t mark))
{
	s->p++;
	skip_space(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		size_t name_at, mark = s->d->text_len;
		skip_space(s);
		if (s->p == s->end || *s->p != '"')
			return bad(s, "an object key is not a string");
		if (scan_string(s, &name_at))
			return -1;
		skip_space(s);
		if (s->p == s->end || *s->p != ':')
			return bad(s, "no ':' after an object key");
		s->p++;
		skip_space(s);
		if (member(s, name_at, mark))
			return -1;
		skip_space(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return bad(s, "no ',' or '}' after a member");
	}
}

/* A member of components: a number kept, the rest skipped. */
static int component_member(struct scan *s, size_t name_at, size_t mark)
{
	struct outcome_decoder *d = s->d;
	if (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
		double v;
		if (scan_number(s, &v))
			return -1;
		if (add_component(d, name_at, v))
			return err_set(s->err, ENOMEM, "out of memory");
		return 0;
	}
	/* A name written twice, the second time not a number: jansson keeps
	 * the later value, so the name is no longer a number. */
	long same = component_named(d, name_at);
	if (same >= 0) {
		size_t i = (size_t)same, after = d->n_components - i - 1;
		memmove(d->name_at + i, d->name_at + i + 1, after * sizeof *d->name_at);
		memmove(d->components + i, d->components + i + 1, after * sizeof *d->components);
		d->n_components--;
	}
	d->text_len = mark;
	return skip_value(s, 2);
}

static int add_category(struct outcome_decoder *d, size_t name_at, size_t value_at)
{
	const char *name = d->text + name_at;
	for (size_t i = 0; i < d->n_categories; i++)
		if (strcmp(d->text + d->category_at[i][0], name) == 0) {
			d->category_at[i][1] = value_at;
			return 0;
		}
	if (d->n_categories == d->categories_cap) {
		size_t cap = d->categories_cap ? d->categories_cap * 2 : 8;
		size_t(*na)[2] = realloc(d->category_at, cap * sizeof *na);
		if (!na)
			return -1;
		d->category_at = na;
		struct outcome_category *nc = realloc(d->categories, cap * sizeof *nc);
		if (!nc)
			return -1;
		d->categories = nc;
		d->categories_cap = cap;
	}
	d->category_at[d->n_categories][0] = name_at;
	d->category_at[d->n_categories++][1] = value_at;
	return 0;
}

/* A member of categories: a string's text kept, any other value none. */
static int category_member(struct scan *s, size_t name_at, size_t mark)
{
	size_t value_at = SIZE_MAX;
	(void)mark;
	if (s->p < s->end && *s->p == '"' ? scan_string(s, &value_at) : skip_value(s, 2))
		return -1;
	if (add_category(s->d, name_at, value_at))
		return err_set(s->err, ENOMEM, "out of memory");
	return 0;
}

static int find_key(const char *key, size_t *hint)
{
	for (size_t k = 0; k < DECODED_KEYS; k++) {
		size_t i = (*hint + k) % DECODED_KEYS;
		if (strcmp(decoded_keys[i].name, key) == 0) {
			*hint = i + 1;
			return (int)i;
		}
	}
	return -1;
}

/* The value of decoded key i at s->p into out. */
static int scan_field(struct scan *s, int i, struct outcome_fields *out)
{
	struct outcome_decoder *d = s->d;
	char *slot = (char *)out + decoded_keys[i].offset;
	size_t at, mark = d->text_len;
	skip_space(s);
	if (s->p == s->end)
		return bad(s, "a value is missing");
	char c = *s->p;
	switch (decoded_keys[i].kind) {
	case FIELD_TEXT:
		d->text_at[i] = SIZE_MAX;
		if (c != '"')
			return skip_value(s, 1);
		if (scan_string(s, &at))
			return -1;
		d->text_at[i] = at;
		return 0;
	case FIELD_TIME:
		*(int64_t *)slot = CALENDAR_NONE;
		if (c != '"')
			return skip_value(s, 1);
		if (scan_string(s, &at))
			return -1;
		if (calendar_parse_iso(d->text + at, (int64_t *)slot))
			*(int64_t *)slot = CALENDAR_NONE;
		d->text_len = mark;
		return 0;
	case FIELD_NUMBER:
		*(double *)slot = NAN;
		if (c == '-' || (c >= '0' && c <= '9'))
			return scan_number(s, (double *)slot);
		return skip_value(s, 1);
	case FIELD_COMPONENTS:
		d->n_components = 0;
		out->has_components = c == '{';
		if (c != '{')
			return skip_value(s, 1);
		return scan_members(s, component_member);
	case FIELD_CATEGORIES:
		d->n_categories = 0;
		if (c != '{')
			return skip_value(s, 1);
		return scan_members(s, category_member);
	}
	return 0;
}

int outcome_decode(struct outcome_decoder *d, const char *line, size_t len,
		   struct outcome_fields *out, struct err *err)
{
	struct scan s = {line, line, line + len, d, err};
	size_t hint = 0;

	if (len + 1 > d->text_cap) {
		char *t = realloc(d->text, len + 1);
		if (!t)
			return err_set(err, ENOMEM, "out of memory");
		d->text = t;
		d->text_cap = len + 1;
	}
	d->text_len = 0;
	d->n_components = 0;
	d->n_categories = 0;
	memset(out, 0, sizeof *out);
	out->entry_us = out->exit_us = CALENDAR_NONE;
	out->entry_price = out->exit_price = out->qty = out->pnl_usd = out->pnl_frac =
	    out->hold_minutes = out->confidence = out->score = out->partial = NAN;
	for (size_t i = 0; i < DECODED_KEYS; i++)
		d->text_at[i] = SIZE_MAX;

	skip_space(&s);
	if (s.p == s.end || *s.p != '{')
		return bad(&s, "not a JSON object");
	s.p++;
	skip_space(&s);
	if (s.p < s.end && *s.p == '}') {
		s.p++;
	} else {
		for (;;) {
			size_t at, mark = d->text_len;
			skip_space(&s);
			if (s.p == s.end || *s.p != '"')
				return bad(&s, "an object key is not a string");
			if (scan_string(&s, &at))
				return -1;
			int i = find_key(d->text + at, &hint);
			d->text_len = mark;
			skip_space(&s);
			if (s.p == s.end || *s.p != ':')
				return bad(&s, "no ':' after an object key");
			s.p++;
			if (i < 0 ? skip_value(&s, 1) : scan_field(&s, i, out))
				return -1;
			skip_space(&s);
			if (s.p < s.end && *s.p == ',') {
				s.p++;
				continue;
			}
			if (s.p < s.end && *s.p == '}') {
				s.p++;
				break;
			}
			return bad(&s, "no ',' or '}' after a member");
		}
	}
	skip_space(&s);
	if (s.p != s.end)
		return bad(&s, "text after the object");
	/* Pointers only now: the offsets stay valid however the text grew. */
	for (size_t i = 0; i < DECODED_KEYS; i++)
		if (decoded_keys[i].kind == FIELD_TEXT && d->text_at[i] != SIZE_MAX)
			*(const char **)((char *)out + decoded_keys[i].offset) =
			    d->text + d->text_at[i];
	for (size_t i = 0; i < d->n_components; i++)
		d->components[i].name = d->text + d->name_at[i];
	out->components = d->components;
	out->n_components = d->n_components;
	for (size_t i = 0; i < d->n_categories; i++) {
		d->categories[i].name = d->text + d->category_at[i][0];
		d->categories[i].value =
		    d->category_at[i][1] == SIZE_MAX ? NULL : d->text + d->category_at[i][1];
	}
	out->categories = d->categories;
	out->n_categories = d->n_categories;
	return 0;
}
