/* missed: which signals were missed opportunities, and what they would have made. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "lib/analyze/missed.h"
#include "lib/base/jsontext.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define MIN_US (60 * INT64_C(1000000))
/* 2026-01-05 14:30:00Z (09:30 New York) and its 16:00 close. */
#define OPEN_US (INT64_C(1767623400) * 1000000)
#define CLOSE_US (OPEN_US + 390 * MIN_US)
#define AT(minutes) (OPEN_US + (int64_t)(minutes)*MIN_US)

#define assert_near(a, b)                                                                          \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (isnan(b_) ? !isnan(a_) : !(fabs(a_ - b_) <= 1e-9))                             \
			fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                        \
	} while (0)

static struct missed_signal signal_at(int64_t ts, const char *symbol, int side, double confidence,
				      double price, const char *reason, int traded)
{
	struct missed_signal s = {
	    .ts = ts, .side = side, .confidence = confidence, .price = price, .traded = traded};
	snprintf(s.symbol, sizeof s.symbol, "%s", symbol);
	snprintf(s.reason, sizeof s.reason, "%s", reason);
	return s;
}

static struct missed_price price_at(int64_t ts, const char *symbol, double price)
{
	struct missed_price p = {.ts = ts, .price = price};
	snprintf(p.symbol, sizeof p.symbol, "%s", symbol);
	return p;
}

static struct missed_activity activity_at(int64_t ts, const char *symbol)
{
	struct missed_activity a = {.ts = ts};
	snprintf(a.symbol, sizeof a.symbol, "%s", symbol);
	return a;
}

/* Runs missed_find with the defaults; the caller frees *out. */
static size_t find(const struct missed_signal *sig, size_t n_sig, const struct missed_price *px,
		   size_t n_px, const struct missed_activity *act, size_t n_act,
		   struct missed_result **out, struct missed_summary *sum)
{
	size_t n = 0;
	assert_int_equal(
	    missed_find(sig, n_sig, px, n_px, act, n_act, CLOSE_US, NULL, out, &n, sum, NULL), 0);
	assert_int_equal(sum->count, (long)n);
	return n;
}

/* The prices of AAPL through the day, and a decoy symbol interleaved. */
static const struct {
	int minute;
	const char *symbol;
	double price;
} day_prices[] = {
    {60, "AAPL", 100.0}, {70, "AAPL", 100.5},  {74, "MSFT", 400.0},  {75, "AAPL", 101.0},
    {80, "AAPL", 101.5}, {90, "AAPL", 102.0},  {95, "MSFT", 1.0},    {110, "AAPL", 99.0},
    {120, "AAPL", 98.0}, {380, "AAPL", 104.0}, {389, "AAPL", 105.0}, {391, "AAPL", 200.0},
};

static size_t load_day(struct missed_price *px)
{
	for (size_t i = 0; i < COUNT(day_prices); i++)
		px[i] =
		    price_at(AT(day_prices[i].minute), day_prices[i].symbol, day_prices[i].price);
	return COUNT(day_prices);
}

/* ---- returns at each horizon ---------------------------------------------- */

struct horizon_case {
	const char *what;
	int minute, side;
	double price;
	double ret[MISSED_HORIZONS]; /* NAN: no price */
};

/* A signal at minute 60 at 100: 15 min → first price at/after 75 (101),
 * 30 min → 90 (102), 1 h → 120 (98), close → last at/before 390 (105; the
 * 200 at 391 is after the close). A signal at 100 at minute 381 has no
 * price 15 min later before the close, but its close is 105. */
static const struct horizon_case horizon_cases[] = {
    {"long", 60, 1, 100.0, {0.01, 0.02, -0.02, 0.05}},
    {"short", 60, -1, 100.0, {-0.01, -0.02, 0.02, -0.05}},
    {"first price at or after the horizon", 62, 1, 100.0, {0.015, -0.01, 0.04, 0.05}},
    {"late signal: only the close", 381, 1, 100.0, {NAN, NAN, NAN, 0.05}},
    {"after the last price: nothing", 389, -1, 100.0, {NAN, NAN, NAN, NAN}},
};

static void test_untraded_signal_returns_at_each_horizon(void **state)
{
	(void)state;
	struct missed_price px[COUNT(day_prices)];
	size_t n_px = load_day(px);
	for (size_t c = 0; c < COUNT(horizon_cases); c++) {
		const struct horizon_case *hc = &horizon_cases[c];
		struct missed_signal s =
		    signal_at(AT(hc->minute), "AAPL", hc->side, 0.75, hc->price, "", -1);
		struct missed_result *out;
		struct missed_summary sum;
		print_message("case: %s\n", hc->what);
		assert_int_equal(find(&s, 1, px, n_px, NULL, 0, &out, &sum), 1);
		assert_int_equal(out[0].index, 0);
		for (int h = 0; h < MISSED_HORIZONS; h++) {
			assert_near(out[0].ret[h], hc->ret[h]);
			assert_near(out[0].pnl_usd[h], hc->ret[h] * 1000.0);
		}
		assert_near(sum.pnl_usd_1h_total,
			    isnan(hc->ret[MISSED_H_1H]) ? NAN : hc->ret[MISSED_H_1H] * 1000.0);
		free(out);
	}
}

static void test_prices_in_any_order_give_the_same_returns(void **state)
{
	(void)state;
	struct missed_price px[COUNT(day_prices)], reversed[COUNT(day_prices)];
	size_t n_px = load_day(px);
	for (size_t i = 0; i < n_px; i++)
		reversed[i] = px[n_px - 1 - i];
	struct missed_signal s = signal_at(AT(60), "AAPL", 1, 0.9, 100.0, "", -1);
	struct missed_result *a, *b;
	struct missed_summary sa, sb;
	assert_int_equal(find(&s, 1, px, n_px, NULL, 0, &a, &sa), 1);
	assert_int_equal(find(&s, 1, reversed, n_px, NULL, 0, &b, &sb), 1);
	for (int h = 0; h < MISSED_HORIZONS; h++)
		assert_near(b[0].ret[h], a[0].ret[h]);
	free(a);
	free(b);
}

static void test_close_horizon_uses_last_price_before_close(void **state)
{
	(void)state;
	/* Two prices at the very close instant: the later one in the
	 * caller's order is the last observed; one after the close is not. */
	const struct missed_price px[] = {
	    price_at(AT(300), "XOM", 110.0),
	    price_at(CLOSE_US, "XOM", 111.0),
	    price_at(CLOSE_US, "XOM", 112.0),
	    price_at(CLOSE_US + 1, "XOM", 150.0),
	};
	struct missed_signal s = signal_at(AT(200), "XOM", 1, 0.8, 100.0, "", 0);
	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(&s, 1, px, COUNT(px), NULL, 0, &out, &sum), 1);
	assert_near(out[0].ret[MISSED_H_CLOSE], 0.12);
	assert_near(out[0].ret[MISSED_H_15M], 0.10);
	free(out);
}

static void test_signal_own_price_is_not_its_outcome(void **state)
{
	(void)state;
	const struct missed_price px[] = {price_at(AT(200), "XOM", 100.0)};
	struct missed_signal s = signal_at(AT(200), "XOM", 1, 0.8, 100.0, "", -1);
	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(&s, 1, px, COUNT(px), NULL, 0, &out, &sum), 1);
	for (int h = 0; h < MISSED_HORIZONS; h++)
		assert_true(isnan(out[0].ret[h]));
	free(out);
}

/* ---- which signals are missed ---------------------------------------------- */

struct missed_case {
	const char *what;
	struct missed_signal sig;
	int activity_minute; /* -1: none */
	const char *activity_symbol;
	int missed;
};

#define SIG(minute_, confidence_, price_, traded_)                                                 \
	{                                                                                          \
		.ts = AT(minute_), .symbol = "AAPL", .side = 1, .confidence = (confidence_),       \
		.price = (price_), .traded = (traded_)                                             \
	}

static const struct missed_case missed_cases[] = {
    {"high confidence, untraded", SIG(100, 0.75, 100.0, -1), -1, NULL, 1},
    {"exactly the minimum confidence", SIG(100, 0.60, 100.0, -1), -1, NULL, 1},
    {"below the minimum confidence", SIG(100, 0.59, 100.0, -1), -1, NULL, 0},
    {"NaN confidence", SIG(100, NAN, 100.0, -1), -1, NULL, 0},
    {"bot says traded", SIG(100, 0.9, 100.0, 1), -1, NULL, 0},
    {"bot says not traded", SIG(100, 0.9, 100.0, 0), -1, NULL, 1},
    {"no price at the signal", SIG(100, 0.9, NAN, -1), -1, NULL, 0},
    {"order 14 min before", SIG(100, 0.9, 100.0, -1), 86, "AAPL", 0},
    {"order exactly 15 min after", SIG(100, 0.9, 100.0, -1), 115, "AAPL", 0},
    {"order 16 min after", SIG(100, 0.9, 100.0, -1), 116, "AAPL", 1},
    {"order 16 min before", SIG(100, 0.9, 100.0, -1), 84, "AAPL", 1},
    {"order of another symbol", SIG(100, 0.9, 100.0, -1), 100, "MSFT", 1},
    {"bot says not traded but ordered anyway", SIG(100, 0.9, 100.0, 0), 105, "AAPL", 0},
};

static void test_which_signals_are_missed(void **state)
{
	(void)state;
	struct missed_price px[COUNT(day_prices)];
	size_t n_px = load_day(px);
	for (size_t c = 0; c < COUNT(missed_cases); c++) {
		const struct missed_case *mc = &missed_cases[c];
		struct missed_activity act[1];
		size_t n_act = 0;
		if (mc->activity_minute >= 0)
			act[n_act++] = activity_at(AT(mc->activity_minute), mc->activity_symbol);
		struct missed_result *out;
		struct missed_summary sum;
		print_message("case: %s\n", mc->what);
		size_t n = find(&mc->sig, 1, px, n_px, act, n_act, &out, &sum);
		assert_int_equal(n, (size_t)mc->missed);
		if (!mc->missed)
			assert_null(out);
		free(out);
	}
}

static void test_signal_below_min_confidence_is_ignored(void **state)
{
	(void)state;
	struct missed_signal s = signal_at(AT(60), "AAPL", 1, 0.5999, 100.0, "max_positions", 0);
	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(&s, 1, NULL, 0, NULL, 0, &out, &sum), 0);
	assert_null(out);
	assert_int_equal(sum.n_reasons, 0);
	assert_near(sum.pnl_usd_1h_total, 0.0);
}

static void test_options_change_threshold_window_and_notional(void **state)
{
	(void)state;
	struct missed_price px[COUNT(day_prices)];
	size_t n_px = load_day(px);
	struct missed_signal s = signal_at(AT(60), "AAPL", 1, 0.5, 100.0, "", -1);
	struct missed_activity a = activity_at(AT(80), "AAPL");
	struct missed_options o;
	missed_options_init(&o);
	assert_near(o.min_confidence, 0.60);
	assert_int_equal(o.window_us, 15 * MIN_US);
	o.min_confidence = 0.4;
	o.window_us = 10 * MIN_US;
	o.notional_usd = 5000;
	struct missed_result *out;
	size_t n;
	struct missed_summary sum;
	assert_int_equal(missed_find(&s, 1, px, n_px, &a, 1, CLOSE_US, &o, &out, &n, &sum, NULL),
			 0);
	assert_int_equal(n, 1);
	assert_near(out[0].pnl_usd[MISSED_H_15M], 50.0);
	free(out);
}

static void test_duplicates_within_window_counted_once(void **state)
{
	(void)state;
	struct missed_price px[COUNT(day_prices)];
	size_t n_px = load_day(px);
	/* AAPL at 60, 65, 75 (one opportunity: within 15 min of 60), 76 (16
	 * min after the counted one: a new one), 80 (within 15 min of 76).
	 * A low-confidence signal at 40 does not start an opportunity, and
	 * MSFT's are counted on their own. Given out of time order. */
	const struct missed_signal sig[] = {
	    signal_at(AT(75), "AAPL", 1, 0.9, 100.0, "", -1),
	    signal_at(AT(60), "AAPL", 1, 0.9, 100.0, "", -1),
	    signal_at(AT(65), "AAPL", -1, 0.9, 100.0, "", -1),
	    signal_at(AT(40), "AAPL", 1, 0.1, 100.0, "", -1),
	    signal_at(AT(76), "AAPL", 1, 0.9, 100.0, "", -1),
	    signal_at(AT(80), "AAPL", 1, 0.9, 100.0, "", -1),
	    signal_at(AT(62), "MSFT", 1, 0.9, 400.0, "", -1),
	    signal_at(AT(60), "AAPL", 1, 0.9, 100.0, "", -1), /* same instant: the first wins */
	};
	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(sig, COUNT(sig), px, n_px, NULL, 0, &out, &sum), 3);
	assert_int_equal(out[0].index, 1);
	assert_int_equal(out[1].index, 4);
	assert_int_equal(out[2].index, 6);
	free(out);
}

/* ---- summary, reasons, suggestions ------------------------------------------- */

static int has_suggestion(const struct missed_summary *s, const char *part)
{
	for (size_t i = 0; i < s->n_suggestions; i++)
		if (strstr(s->suggestions[i], part))
			return 1;
	return 0;
}

static const struct missed_reason *reason_named(const struct missed_summary *s, const char *name)
{
	for (size_t i = 0; i < s->n_reasons; i++)
		if (strcmp(s->by_reason[i].reason, name) == 0)
			return &s->by_reason[i];
	return NULL;
}

static void test_by_reason_aggregation_and_suggestion(void **state)
{
	(void)state;
	/* Four symbols go up 1% in the hour after a blocked signal; two with
	 * no reason go down 1% (under the 3-signal threshold); one has no
	 * price an hour later. */
	const char *up[] = {"A", "B", "C", "D"};
	struct missed_signal sig[8];
	struct missed_price px[16];
	size_t n_sig = 0, n_px = 0;
	for (size_t i = 0; i < COUNT(up); i++) {
		sig[n_sig++] = signal_at(AT(60), up[i], 1, 0.7, 50.0, "max_positions", -1);
		px[n_px++] = price_at(AT(120), up[i], 50.5);
	}
	sig[n_sig++] = signal_at(AT(60), "E", 1, 0.7, 20.0, "", -1);
	px[n_px++] = price_at(AT(120), "E", 19.8);
	sig[n_sig++] = signal_at(AT(60), "F", -1, 0.7, 20.0, "", -1);
	px[n_px++] = price_at(AT(120), "F", 20.2);
	sig[n_sig++] = signal_at(AT(60), "G", 1, 0.7, 20.0, "max_positions", -1);

	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(sig, n_sig, px, n_px, NULL, 0, &out, &sum), 7);
	assert_int_equal(sum.n_reasons, 2);
	const struct missed_reason *mp = reason_named(&sum, "max_positions");
	const struct missed_reason *unk = reason_named(&sum, "unknown");
	assert_non_null(mp);
	assert_non_null(unk);
	assert_ptr_equal(mp, &sum.by_reason[0]); /* most signals first */
	assert_int_equal(mp->count, 5);
	assert_int_equal(mp->known_1h, 4);
	assert_near(mp->pnl_usd, 40.0);
	assert_near(mp->mean_ret_1h, 0.01);
	assert_int_equal(unk->count, 2);
	assert_near(unk->pnl_usd, -20.0);
	assert_near(sum.pnl_usd_1h_total, 20.0);
	assert_int_equal(sum.known[MISSED_H_1H], 6);

	assert_true(has_suggestion(&sum, "5 signals at ≥ 0.60 blocked by max_positions would "
					 "have made +$40 at 1 h"));
	assert_true(has_suggestion(&sum, "consider relaxing max_positions"));
	assert_false(has_suggestion(&sum, "without a logged reason"));
	for (size_t i = 0; i < sum.n_suggestions; i++)
		assert_true(strlen(sum.suggestions[i]) <= 200);

	json_t *j = missed_summary_json(&sum);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 7);
	assert_near(json_real_value(json_object_get(j, "missed_pnl_usd")), 20.0);
	json_t *by = json_object_get(json_object_get(j, "by_reason"), "max_positions");
	assert_int_equal(json_integer_value(json_object_get(by, "count")), 5);
	assert_near(json_real_value(json_object_get(by, "pnl_usd")), 40.0);
	assert_true(json_array_size(json_object_get(j, "suggestions")) >= 1);
	json_decref(j);
	free(out);
}

static void test_filter_was_right_when_missed_signals_lost(void **state)
{
	(void)state;
	const char *names[] = {"A", "B", "C"};
	struct missed_signal sig[3];
	struct missed_price px[6];
	size_t n_px = 0;
	for (size_t i = 0; i < COUNT(names); i++) {
		sig[i] = signal_at(AT(60), names[i], 1, 0.7, 50.0, "cooldown", -1);
		px[n_px++] = price_at(AT(75), names[i], 49.0);
		px[n_px++] = price_at(AT(300), names[i], 48.0);
	}
	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(sig, COUNT(sig), px, n_px, NULL, 0, &out, &sum), 3);
	assert_true(has_suggestion(&sum, "lost money on average at every horizon"));
	assert_true(has_suggestion(&sum, "cooldown would have lost $120 at 1 h"));
	free(out);
}

static void test_many_reasons_fold_into_other(void **state)
{
	(void)state;
	struct missed_signal sig[20];
	for (int i = 0; i < 20; i++) {
		char sym[8], reason[16];
		snprintf(sym, sizeof sym, "S%d", i);
		/* r0 has two signals, so it leads; r18 and r19 fold. */
		snprintf(reason, sizeof reason, "r%02d", i == 19 ? 0 : i);
		sig[i] = signal_at(AT(60), sym, 1, 0.9, 10.0, reason, -1);
	}
	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(sig, COUNT(sig), NULL, 0, NULL, 0, &out, &sum), 20);
	assert_int_equal(sum.n_reasons, MISSED_MAX_REASONS);
	assert_string_equal(sum.by_reason[0].reason, "r00");
	assert_int_equal(sum.by_reason[0].count, 2);
	assert_string_equal(sum.by_reason[MISSED_MAX_REASONS - 1].reason, "other");
	long total = 0;
	for (size_t i = 0; i < sum.n_reasons; i++)
		total += sum.by_reason[i].count;
	assert_int_equal(total, 20);
	assert_int_equal(sum.by_reason[MISSED_MAX_REASONS - 1].count, 4);
	/* No 1 h price anywhere: unknown, not zero. */
	assert_true(isnan(sum.pnl_usd_1h_total));
	assert_true(isnan(sum.by_reason[0].pnl_usd));
	free(out);
}

/* ---- JSON --------------------------------------------------------------------- */

/* JSON has no NaN: both writers must produce text that parses back, and
 * neither spelling of a non-finite number may appear in it. */
static void assert_no_nan_text(const json_t *j)
{
	char *texts[] = {jsontext_dump(j, JSONTEXT_COMPACT, NULL), json_dumps(j, JSON_COMPACT)};
	for (size_t i = 0; i < COUNT(texts); i++) {
		assert_non_null(texts[i]);
		assert_null(strstr(texts[i], "NaN"));
		assert_null(strstr(texts[i], "nan"));
		assert_null(strstr(texts[i], "Infinity"));
		json_error_t err;
		json_t *back = json_loads(texts[i], 0, &err);
		if (!back)
			fail_msg("%s: %s", err.text, texts[i]);
		json_decref(back);
		free(texts[i]);
	}
}

static void test_no_later_price_is_null_in_json(void **state)
{
	(void)state;
	struct missed_signal s = signal_at(AT(60), "QQQ", -1, 0.8, 400.0, "", -1);
	struct missed_result *out;
	struct missed_summary sum;
	assert_int_equal(find(&s, 1, NULL, 0, NULL, 0, &out, &sum), 1);
	json_t *line = missed_result_json(&s, &out[0]);
	assert_non_null(line);
	assert_string_equal(json_string_value(json_object_get(line, "ts")),
			    "2026-01-05T15:30:00.000000Z");
	assert_string_equal(json_string_value(json_object_get(line, "symbol")), "QQQ");
	assert_string_equal(json_string_value(json_object_get(line, "side")), "short");
	assert_string_equal(json_string_value(json_object_get(line, "reason")), "unknown");
	const char *keys[] = {"ret_15m",     "ret_30m",	    "ret_1h",	  "ret_close",
			      "pnl_usd_15m", "pnl_usd_30m", "pnl_usd_1h", "pnl_usd_close"};
	for (size_t i = 0; i < COUNT(keys); i++) {
		json_t *v = json_object_get(line, keys[i]);
		assert_non_null(v);
		assert_true(json_is_null(v));
	}
	assert_no_nan_text(line);
	json_decref(line);
	free(out);
}

static void test_json_never_contains_nan(void **state)
{
	(void)state;
	struct missed_price px[COUNT(day_prices)];
	size_t n_px = load_day(px);
	const struct missed_signal sig[] = {
	    signal_at(AT(60), "AAPL", 1, 0.9, 100.0, "spread", -1),
	    signal_at(AT(381), "MSFT", 1, 0.9, 400.0, "", -1),
	    signal_at(AT(100), "NONE", -1, 0.9, 10.0, "spread", -1),
	};
	struct missed_result *out;
	struct missed_summary sum;
	size_t n = find(sig, COUNT(sig), px, n_px, NULL, 0, &out, &sum);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		json_t *line = missed_result_json(&sig[out[i].index], &out[i]);
		assert_non_null(line);
		assert_no_nan_text(line);
		json_decref(line);
	}
	json_t *j = missed_summary_json(&sum);
	assert_non_null(j);
	assert_no_nan_text(j);
	json_decref(j);
	free(out);

	/* An empty day, and a summary of nothing but NaNs. */
	struct missed_summary empty;
	assert_int_equal(find(NULL, 0, NULL, 0, NULL, 0, &out, &empty), 0);
	j = missed_summary_json(&empty);
	assert_non_null(j);
	assert_no_nan_text(j);
	assert_near(json_real_value(json_object_get(j, "missed_pnl_usd")), 0.0);
	json_decref(j);
	sum.pnl_usd_1h_total = NAN;
	for (int h = 0; h < MISSED_HORIZONS; h++)
		sum.mean_ret[h] = sum.pnl_usd_total[h] = NAN;
	j = missed_summary_json(&sum);
	assert_non_null(j);
	assert_no_nan_text(j);
	assert_true(json_is_null(json_object_get(j, "missed_pnl_usd")));
	json_decref(j);
}

static void test_bad_arguments_are_einval(void **state)
{
	(void)state;
	struct missed_result *out = (void *)1;
	size_t n = 7;
	struct missed_summary sum;
	struct err err = {0};
	assert_int_equal(
	    missed_find(NULL, 3, NULL, 0, NULL, 0, CLOSE_US, NULL, &out, &n, &sum, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_null(out);
	assert_int_equal(n, 0);
	struct missed_options o;
	missed_options_init(&o);
	o.window_us = -1;
	err_clear(&err);
	assert_int_equal(missed_find(NULL, 0, NULL, 0, NULL, 0, CLOSE_US, &o, &out, &n, &sum, &err),
			 -1);
	assert_non_null(strstr(err.msg, "missed options: window_minutes"));
	assert_int_equal(
	    missed_find(NULL, 0, NULL, 0, NULL, 0, CLOSE_US, NULL, NULL, &n, &sum, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_untraded_signal_returns_at_each_horizon),
	    cmocka_unit_test(test_prices_in_any_order_give_the_same_returns),
	    cmocka_unit_test(test_close_horizon_uses_last_price_before_close),
	    cmocka_unit_test(test_signal_own_price_is_not_its_outcome),
	    cmocka_unit_test(test_which_signals_are_missed),
	    cmocka_unit_test(test_signal_below_min_confidence_is_ignored),
	    cmocka_unit_test(test_options_change_threshold_window_and_notional),
	    cmocka_unit_test(test_duplicates_within_window_counted_once),
	    cmocka_unit_test(test_by_reason_aggregation_and_suggestion),
	    cmocka_unit_test(test_filter_was_right_when_missed_signals_lost),
	    cmocka_unit_test(test_many_reasons_fold_into_other),
	    cmocka_unit_test(test_no_later_price_is_null_in_json),
	    cmocka_unit_test(test_json_never_contains_nan),
	    cmocka_unit_test(test_bad_arguments_are_einval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
