/* missed — untraded high-confidence signals and their hypothetical P&L; see missed.h. */
#include "lib/analyze/missed.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"

#define MINUTE_US (60 * CALENDAR_US_PER_S)

/* Offsets of the fixed horizons; the close has none (it is close_us). */
static const int64_t horizon_offset_us[MISSED_H_CLOSE] = {15 * MINUTE_US, 30 * MINUTE_US,
							  60 * MINUTE_US};
static const char *const horizon_name[MISSED_HORIZONS] = {"15m", "30m", "1h", "close"};

static const char unknown_reason[] = "unknown";
static const char other_reason[] = "other";

static const struct option_key missed_keys[] = {
    OPTION_NUMBER(struct missed_options, min_confidence, 0.60, 0, 1),
    OPTION_SCALED("window_minutes", struct missed_options, window_us, 15, 0, 1440, MINUTE_US),
    OPTION_NUMBER(struct missed_options, notional_usd, 1000, 0.01, 1e12),
    OPTION_REAL_OR_NONE(struct missed_options, min_score, -1e12, 1e12),
};

const struct option_table missed_option_table = OPTION_TABLE(missed_keys, NULL);

void missed_options_init(struct missed_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&missed_option_table, o);
}

/* ---- sorted views of the caller's arrays ------------------------------------ */

/* One row of prices, activity or candidate signals, keyed (symbol, ts,
 * index). The caller's arrays are const and may come in any order, so we
 * sort these small copies instead. index is the tie-break: equal times keep
 * the caller's order, which makes "the first" signal well defined. */
struct entry {
	const char *symbol; /* borrowed, MISSED_SYMBOL_LEN bytes, maybe without a NUL */
	int64_t ts;
	size_t index;
	double price;
};

static int symbol_cmp(const char *a, const char *b)
{
	return strncmp(a, b, MISSED_SYMBOL_LEN);
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	int c = symbol_cmp(a->symbol, b->symbol);
	if (c)
		return c;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

/* First position in e[0..n) whose (symbol, ts) is >= (symbol, ts), or
 * > when after is set: the one search both "at or after" and "last at or
 * before" need, without computing ts + 1 (which could overflow). */
static size_t entry_bound(const struct entry *e, size_t n, const char *symbol, int64_t ts,
			  int after)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = symbol_cmp(e[mid].symbol, symbol);
		if (c < 0 || (c == 0 && (e[mid].ts < ts || (after && e[mid].ts == ts))))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Bot timestamps are far from the int64 ends, but a corrupt row must not
 * turn a window into undefined behaviour. d >= 0. */
static int64_t add_sat(int64_t t, int64_t d)
{
	return t > INT64_MAX - d ? INT64_MAX : t + d;
}

static int64_t sub_sat(int64_t t, int64_t d)
{
	return t < INT64_MIN + d ? INT64_MIN : t - d;
}

static int has_activity(const struct entry *act, size_t n, const char *symbol, int64_t ts,
			int64_t window)
{
	size_t i = entry_bound(act, n, symbol, sub_sat(ts, window), 0);
	return i < n && symbol_cmp(act[i].symbol, symbol) == 0 && act[i].ts <= add_sat(ts, window);
}

/* Whether s passes every test of missed.h but the activity and repeat ones. */
static int is_candidate(const struct missed_signal *s, const struct missed_options *o)
{
	int strong =
	    s->confidence >= o->min_confidence ||
	    (!isfinite(s->confidence) && isfinite(o->min_score) && s->score >= o->min_score);
	return strong && s->traded != 1 && isfinite(s->price) && s->price > 0 &&
	       (s->side == 1 || s->side == -1);
}

/* ---- horizons ------------------------------------------------------------------ */

static double side_return(const struct missed_signal *s, double later)
{
	return (later / s->price - 1.0) * s->side;
}

static void price_horizons(const struct missed_signal *s, const struct entry *px, size_t n_px,
			   int64_t close_us, double notional, struct missed_result *r)
{
	for (int h = 0; h < MISSED_H_CLOSE; h++) {
		r->ret[h] = NAN;
		int64_t target = add_sat(s->ts, horizon_offset_us[h]);
		size_t i = entry_bound(px, n_px, s->symbol, target, 0);
		if (i < n_px && symbol_cmp(px[i].symbol, s->symbol) == 0 && px[i].ts <= close_us)
			r->ret[h] = side_return(s, px[i].price);
	}
	/* The last price at or before the close: the one just before the
	 * first one after it, if it is still this symbol's and after the
	 * signal (the signal's own price must not count as its outcome). */
	r->ret[MISSED_H_CLOSE] = NAN;
	size_t i = entry_bound(px, n_px, s->symbol, close_us, 1);
	if (i > 0 && symbol_cmp(px[i - 1].symbol, s->symbol) == 0 && px[i - 1].ts > s->ts)
		r->ret[MISSED_H_CLOSE] = side_return(s, px[i - 1].price);
	for (int h = 0; h < MISSED_HORIZONS; h++)
		r->pnl_usd[h] = r->ret[h] * notional;
}

/* ---- summary ------------------------------------------------------------------- */

struct reason_acc {
	const char *reason; /* borrowed from a signal, or a static name */
	long count, known;
	double pnl_sum, ret_sum; /* over the known 1 h values */
};

struct reason_key {
	const char *reason;
	size_t result; /* index into the results */
};

static const char *reason_of(const struct missed_signal *s)
{
	return s->reason[0] ? s->reason : unknown_reason;
}

static int reason_cmp(const char *a, const char *b)
{
	return strncmp(a, b, MISSED_REASON_LEN);
}

static int reason_key_cmp(const void *pa, const void *pb)
{
	const struct reason_key *a = pa, *b = pb;
	int c = reason_cmp(a->reason, b->reason);
	if (c)
		return c;
	return (a->result > b->result) - (a->result < b->result);
}

/* Most signals first; equal counts by name, so the report is stable. */
static int reason_acc_cmp(const void *pa, const void *pb)
{
	const struct reason_acc *a = pa, *b = pb;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return reason_cmp(a->reason, b->reason);
}

static void acc_merge(struct reason_acc *into, const struct reason_acc *from)
{
	into->count += from->count;
	into->known += from->known;
	into->pnl_sum += from->pnl_sum;
	into->ret_sum += from->ret_sum;
}

/* Copies a reason that may lack its NUL into a slot, cut at a UTF-8
 * boundary so that it stays valid JSON text. */
static void copy_reason(char *dst, const char *src)
{
	char buf[MISSED_REASON_LEN + 1];
	size_t n = strnlen(src, MISSED_REASON_LEN);
	memcpy(buf, src, n);
	buf[n] = '\0';
	jsontext_copy_utf8(dst, MISSED_REASON_LEN, buf);
}

static void suggest(struct missed_summary *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void suggest(struct missed_summary *s, const char *fmt, ...)
{
	if (s->n_suggestions >= MISSED_MAX_SUGGESTIONS)
		return;
	char buf[4 * MISSED_SUGGESTION_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	jsontext_copy_utf8(s->suggestions[s->n_suggestions++], MISSED_SUGGESTION_LEN, buf);
}

/* "+$340" / "-$120": the sign first reads better than "$-120". */
static void format_usd(double usd, char *buf, size_t len)
{
	snprintf(buf, len, "%s$%.0f", usd < 0 ? "-" : "+", fabs(usd));
}

/* The verdict on all missed signals, over the horizons with enough values
 * to judge (MISSED_SUGGEST_MIN_SIGNALS). */
static void suggest_overall(struct missed_summary *s)
{
	int judged = 0, all_lost = 1, all_made = 1;
	for (int h = 0; h < MISSED_HORIZONS; h++) {
		if (s->known[h] < MISSED_SUGGEST_MIN_SIGNALS)
			continue;
		judged = 1;
		if (!(s->mean_ret[h] < 0))
			all_lost = 0;
		if (!(s->mean_ret[h] > MISSED_SUGGEST_MEAN_RET_1H))
			all_made = 0;
	}
	if (!judged)
		return;
	if (all_lost)
		suggest(s,
			"%ld missed signals lost money on average at every horizon: the filter was "
			"right to skip them",
			s->count);
	else if (all_made)
		suggest(s,
			"%ld missed signals made money on average at every horizon: the bot's "
			"filters may be too strict",
			s->count);
}

static void suggest_reason(struct missed_summary *s, const struct missed_reason *r,
			   double min_confidence)
{
	if (r->known_1h < MISSED_SUGGEST_MIN_SIGNALS || !isfinite(r->mean_ret_1h))
		return;
	char usd[32];
	/* "would have lost $120", not "lost -$120". */
	if (r->mean_ret_1h > MISSED_SUGGEST_MEAN_RET_1H)
		format_usd(r->pnl_usd, usd, sizeof usd);
	else
		snprintf(usd, sizeof usd, "$%.0f", fabs(r->pnl_usd));
	double pct = r->mean_ret_1h * 100.0;
	int unknown = strcmp(r->reason, unknown_reason) == 0;
	if (r->mean_ret_1h > MISSED_SUGGEST_MEAN_RET_1H) {
		if (unknown)
			suggest(s,
				"%ld signals at ≥ %.2f not traded without a logged reason would "
				"have made %s at 1 h (mean %+.2f%%): find out what stopped them",
				r->count, min_confidence, usd, pct);
		else
			suggest(s,
				"%ld signals at ≥ %.2f blocked by %s would have made %s at 1 h "
				"(mean %+.2f%%): consider relaxing %s",
				r->count, min_confidence, r->reason, usd, pct, r->reason);
	} else if (r->mean_ret_1h < -MISSED_SUGGEST_MEAN_RET_1H) {
		if (unknown)
			suggest(s,
				"%ld signals at ≥ %.2f not traded without a logged reason would "
				"have lost %s at 1 h (mean %+.2f%%): skipping them was right",
				r->count, min_confidence, usd, pct);
		else
			suggest(s,
				"%ld signals at ≥ %.2f blocked by %s would have lost %s at 1 h "
				"(mean %+.2f%%): %s saved money, keep it",
				r->count, min_confidence, r->reason, usd, pct, r->reason);
	}
}

/* Fills the by_reason slots of s from the results; -1 on ENOMEM. */
static int summarize_reasons(const struct missed_signal *sig, const struct missed_result *res,
			     size_t n_res, const struct missed_options *o, struct missed_summary *s)
{
	int rc = -1;
	struct reason_key *keys = malloc(n_res * sizeof *keys);
	struct reason_acc *acc = malloc(n_res * sizeof *acc);
	if (!keys || !acc)
		goto done;
	for (size_t i = 0; i < n_res; i++)
		keys[i] = (struct reason_key){reason_of(&sig[res[i].index]), i};
	qsort(keys, n_res, sizeof *keys, reason_key_cmp);

	size_t n_acc = 0;
	for (size_t i = 0; i < n_res; i++) {
		if (i == 0 || reason_cmp(keys[i].reason, keys[i - 1].reason) != 0)
			acc[n_acc++] = (struct reason_acc){keys[i].reason, 0, 0, 0.0, 0.0};
		struct reason_acc *a = &acc[n_acc - 1];
		const struct missed_result *r = &res[keys[i].result];
		a->count++;
		if (!isnan(r->ret[MISSED_H_1H])) {
			a->known++;
			a->ret_sum += r->ret[MISSED_H_1H];
			a->pnl_sum += r->pnl_usd[MISSED_H_1H];
		}
	}
	qsort(acc, n_acc, sizeof *acc, reason_acc_cmp);

	/* Too many reasons: the rest go into a last slot, "other". A reason
	 * the bot itself calls "other" joins it, or the JSON object would
	 * get the key twice. */
	int fold = n_acc > MISSED_MAX_REASONS;
	struct reason_acc folded = {other_reason, 0, 0, 0.0, 0.0};
	size_t kept = 0;
	for (size_t i = 0; i < n_acc; i++) {
		if (fold && (kept == MISSED_MAX_REASONS - 1 ||
			     reason_cmp(acc[i].reason, other_reason) == 0))
			acc_merge(&folded, &acc[i]);
		else
			acc[kept++] = acc[i];
	}
	if (fold)
		acc[kept++] = folded;

	for (size_t i = 0; i < kept; i++) {
		struct missed_reason *r = &s->by_reason[i];
		copy_reason(r->reason, acc[i].reason);
		r->count = acc[i].count;
		r->known_1h = acc[i].known;
		r->pnl_usd = acc[i].known ? acc[i].pnl_sum : NAN;
		r->mean_ret_1h = acc[i].known ? acc[i].ret_sum / (double)acc[i].known : NAN;
	}
	s->n_reasons = kept;

	suggest_overall(s);
	/* A fold mixes unrelated rules: nothing to suggest about it. */
	for (size_t i = 0; i < kept - (size_t)fold; i++)
		suggest_reason(s, &s->by_reason[i], o->min_confidence);
	rc = 0;
done:
	free(keys);
	free(acc);
	return rc;
}

static int summarize(const struct missed_signal *sig, const struct missed_result *res, size_t n_res,
		     const struct missed_options *o, struct missed_summary *s)
{
	s->count = (long)n_res;
	for (int h = 0; h < MISSED_HORIZONS; h++) {
		double pnl = 0.0, ret = 0.0;
		long known = 0;
		for (size_t i = 0; i < n_res; i++) {
			if (isnan(res[i].ret[h]))
				continue;
			known++;
			ret += res[i].ret[h];
			pnl += res[i].pnl_usd[h];
		}
		s->known[h] = known;
		s->pnl_usd_total[h] = n_res == 0 ? 0.0 : known ? pnl : NAN;
		s->mean_ret[h] = known ? ret / (double)known : NAN;
	}
	s->pnl_usd_1h_total = s->pnl_usd_total[MISSED_H_1H];
	if (n_res == 0)
		return 0;
	return summarize_reasons(sig, res, n_res, o, s);
}

/* ---- missed_find ---------------------------------------------------------------- */

int missed_find(const struct missed_signal *sig, size_t n_sig, const struct missed_price *px,
		size_t n_px, const struct missed_activity *act, size_t n_act, int64_t close_us,
		const struct missed_options *opt, struct missed_result **out, size_t *n_out,
		struct missed_summary *sum, struct err *err)
{
	if (out)
		*out = NULL;
	if (n_out)
		*n_out = 0;
	if (sum)
		memset(sum, 0, sizeof *sum);
	struct missed_options o;
	if (opt)
		o = *opt;
	else
		missed_options_init(&o);
	if (!out || !n_out || !sum || (n_sig && !sig) || (n_px && !px) || (n_act && !act))
		return err_set(err, EINVAL,
			       "a result pointer is NULL, or an array is NULL with a count");
	if (option_check(&missed_option_table, &o, err))
		return err_prefix(err, "missed options");

	int rc = -1;
	struct entry *acts = malloc((n_act ? n_act : 1) * sizeof *acts);
	struct entry *cands = malloc((n_sig ? n_sig : 1) * sizeof *cands);
	struct entry *prices = malloc((n_px ? n_px : 1) * sizeof *prices);
	unsigned char *counted = calloc(n_sig ? n_sig : 1, 1);
	struct missed_result *res = NULL;
	if (!acts || !cands || !prices || !counted)
		goto done;

	for (size_t i = 0; i < n_act; i++)
		acts[i] = (struct entry){act[i].symbol, act[i].ts, i, NAN};
	qsort(acts, n_act, sizeof *acts, entry_cmp);

	size_t n_cand = 0;
	for (size_t i = 0; i < n_sig; i++)
		if (is_candidate(&sig[i], &o) &&
		    !has_activity(acts, n_act, sig[i].symbol, sig[i].ts, o.window_us))
			cands[n_cand++] = (struct entry){sig[i].symbol, sig[i].ts, i, sig[i].price};
	qsort(cands, n_cand, sizeof *cands, entry_cmp);

	/* The repeat test: per symbol, in time order, a candidate counts when
	 * it is more than a window after the last one that counted. */
	size_t n_res = 0;
	int64_t last_counted = 0;
	for (size_t i = 0; i < n_cand; i++) {
		int new_symbol = i == 0 || symbol_cmp(cands[i].symbol, cands[i - 1].symbol) != 0;
		if (new_symbol || cands[i].ts > add_sat(last_counted, o.window_us)) {
			counted[cands[i].index] = 1;
			last_counted = cands[i].ts;
			n_res++;
		}
	}

	size_t n_prices = 0;
	for (size_t i = 0; i < n_px; i++)
		if (isfinite(px[i].price) && px[i].price > 0)
			prices[n_prices++] = (struct entry){px[i].symbol, px[i].ts, i, px[i].price};
	qsort(prices, n_prices, sizeof *prices, entry_cmp);

	if (n_res) {
		res = malloc(n_res * sizeof *res);
		if (!res)
			goto done;
	}
	size_t k = 0;
	for (size_t i = 0; i < n_sig; i++) {
		if (!counted[i])
			continue;
		res[k].index = i;
		price_horizons(&sig[i], prices, n_prices, close_us, o.notional_usd, &res[k]);
		k++;
	}

	if (summarize(sig, res, n_res, &o, sum) < 0)
		goto done;
	*out = res;
	*n_out = n_res;
	res = NULL;
	rc = 0;
done:
	if (rc < 0) {
		memset(sum, 0, sizeof *sum);
		err_set(err, ENOMEM, "out of memory");
	}
	free(res);
	free(acts);
	free(cands);
	free(prices);
	free(counted);
	return rc;
}

/* ---- JSON ----------------------------------------------------------------------- */

/* Steals v; a NULL v (a failed constructor) or a failed set turns *ok to 0. */
static void put(json_t *o, const char *key, json_t *v, int *ok)
{
	if (!v || json_object_set_new(o, key, v))
		*ok = 0;
}

/* Text of at most size bytes that may lack its NUL. */
static json_t *bounded_string(const char *text, size_t size)
{
	return json_stringn(text, strnlen(text, size));
}

json_t *missed_result_json(const struct missed_signal *s, const struct missed_result *r)
{
	json_t *j = json_object();
	if (!j)
		return NULL;
	int ok = 1;
	char iso[40];
	calendar_format_iso(s->ts, iso, sizeof iso);
	put(j, "ts", json_string(iso), &ok);
	put(j, "symbol", bounded_string(s->symbol, MISSED_SYMBOL_LEN), &ok);
	put(j, "side", json_string(s->side < 0 ? "short" : "long"), &ok);
	put(j, "confidence", jsontext_real_or_null(s->confidence), &ok);
	put(j, "score", jsontext_real_or_null(s->score), &ok);
	put(j, "price", jsontext_real_or_null(s->price), &ok);
	put(j, "reason", bounded_string(reason_of(s), MISSED_REASON_LEN), &ok);
	char key[32];
	for (int h = 0; h < MISSED_HORIZONS; h++) {
		snprintf(key, sizeof key, "ret_%s", horizon_name[h]);
		put(j, key, jsontext_real_or_null(r->ret[h]), &ok);
	}
	for (int h = 0; h < MISSED_HORIZONS; h++) {
		snprintf(key, sizeof key, "pnl_usd_%s", horizon_name[h]);
		put(j, key, jsontext_real_or_null(r->pnl_usd[h]), &ok);
	}
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *missed_summary_json(const struct missed_summary *s)
{
	json_t *j = json_object(), *horizons = json_object(), *reasons = json_object(),
	       *suggestions = json_array();
	int ok = j && horizons && reasons && suggestions;
	if (!ok)
		goto done;
	for (int h = 0; h < MISSED_HORIZONS; h++) {
		json_t *one = json_object();
		if (!one) {
			ok = 0;
			break;
		}
		put(one, "known", json_integer(s->known[h]), &ok);
		put(one, "pnl_usd", jsontext_real_or_null(s->pnl_usd_total[h]), &ok);
		put(one, "mean_ret", jsontext_real_or_null(s->mean_ret[h]), &ok);
		put(horizons, horizon_name[h], one, &ok);
	}
	for (size_t i = 0; ok && i < s->n_reasons && i < MISSED_MAX_REASONS; i++) {
		const struct missed_reason *r = &s->by_reason[i];
		json_t *one = json_object();
		if (!one) {
			ok = 0;
			break;
		}
		put(one, "count", json_integer(r->count), &ok);
		put(one, "pnl_usd", jsontext_real_or_null(r->pnl_usd), &ok);
		put(one, "mean_ret_1h", jsontext_real_or_null(r->mean_ret_1h), &ok);
		char name[MISSED_REASON_LEN + 1];
		size_t n = strnlen(r->reason, MISSED_REASON_LEN);
		memcpy(name, r->reason, n);
		name[n] = '\0';
		put(reasons, name, one, &ok);
	}
	for (size_t i = 0; ok && i < s->n_suggestions && i < MISSED_MAX_SUGGESTIONS; i++) {
		json_t *text = bounded_string(s->suggestions[i], MISSED_SUGGESTION_LEN);
		if (!text || json_array_append_new(suggestions, text))
			ok = 0;
	}
	put(j, "count", json_integer(s->count), &ok);
	put(j, "missed_pnl_usd", jsontext_real_or_null(s->pnl_usd_1h_total), &ok);
	put(j, "horizon", json_string(horizon_name[MISSED_H_1H]), &ok);
	put(j, "by_horizon", horizons, &ok);
	horizons = NULL;
	put(j, "by_reason", reasons, &ok);
	reasons = NULL;
	put(j, "suggestions", suggestions, &ok);
	suggestions = NULL;
done:
	json_decref(horizons);
	json_decref(reasons);
	json_decref(suggestions);
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}
