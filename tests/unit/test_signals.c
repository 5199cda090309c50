/* signals: SUCCESS / FAILURE / EXPIRED from later prices of the symbol. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"
#include "lib/learn/signals.h"

/* 2026-01-05T14:30:00Z */
#define T0 INT64_C(1767623400000000)
#define MINUTE_US (INT64_C(60) * CALENDAR_US_PER_S)
#define HOUR_US (60 * MINUTE_US)

static int zone_new_york(void **state)
{
	(void)state;
	return calendar_set_zone("America/New_York");
}

/* A signal row; NAN levels or side 0 make it a price observation only. */
static struct record signal_row(const char *symbol, const char *timeframe, int side, double price,
				double stop_loss, double take_profit, int64_t ts)
{
	struct record r;
	memset(&r, 0, sizeof r);
	r.kind = PROFILE_KIND_SIGNAL;
	r.symbol = symbol;
	r.timeframe = timeframe;
	r.side = side;
	r.ts = ts;
	r.entry_ts = CALENDAR_NONE;
	r.price = price;
	r.stop_loss = stop_loss;
	r.take_profit = take_profit;
	r.pnl_usd = r.pnl_frac = r.hold_minutes = r.entry_price = r.exit_price = NAN;
	r.qty = r.confidence = r.score = r.fraction = r.equity = NAN;
	return r;
}

/* One record, then the end of its batch. */
static void observe(struct signals *s, struct record r)
{
	assert_int_equal(signals_observe(s, &r, NULL), 0);
	assert_int_equal(signals_settle(s, NULL), 0);
}

/* by_symbol[symbol][key] (or by_timeframe), -1 when absent. */
static long tally(const struct signals *s, const char *group, const char *key, const char *field)
{
	json_t *ex = signals_export(s);
	json_t *v = json_object_get(json_object_get(json_object_get(ex, group), key), field);
	long n = json_is_integer(v) ? (long)json_integer_value(v) : -1;
	json_decref(ex);
	return n;
}

static long pending_total(const struct signals *s)
{
	json_t *ex = signals_export(s);
	long n = (long)json_integer_value(json_object_get(ex, "pending"));
	json_decref(ex);
	return n;
}

/* ---- outcomes ------------------------------------------------------------------ */

struct outcome_case {
	int side;
	double stop_loss, take_profit;
	double prices[4];    /* observed one minute apart after the signal; NAN ends */
	const char *outcome; /* "success", "failure", or "pending"/"ignored" */
	int at;		     /* the observation (1-based) that resolves it */
};

static const struct outcome_case outcome_cases[] = {
    /* Long: take-profit above, stop below. */
    {+1, 99, 102, {100.5, 101, 102.1, NAN}, "success", 3},
    {+1, 99, 102, {100.5, 98.9, 103, NAN}, "failure", 2},
    {+1, 99, 102, {102, NAN}, "success", 1}, /* touching is crossing */
    {+1, 99, 102, {99, NAN}, "failure", 1},
    {+1, 99, 102, {100, 100.2, 99.5, 101.9}, "pending", 0},
    {+1, 99, 102, {NAN}, "pending", 0},
    /* Short: take-profit below, stop above. */
    {-1, 101, 98, {99.5, 97.9, 100, NAN}, "success", 2},
    {-1, 101, 98, {101.2, 97, NAN}, "failure", 1},
    {-1, 101, 98, {98, NAN}, "success", 1},
    {-1, 101, 98, {101, NAN}, "failure", 1},
    {-1, 101, 98, {100, 99, 98.5, NAN}, "pending", 0},
    /* Not a signal to follow: levels on the wrong side, or no side. */
    {+1, 102, 99, {200, 1, NAN}, "ignored", 0},
    {-1, 98, 101, {200, 1, NAN}, "ignored", 0},
    {0, 99, 102, {200, 1, NAN}, "ignored", 0},
    {+1, NAN, 102, {200, 1, NAN}, "ignored", 0},
    {+1, 99, INFINITY, {200, 1, NAN}, "ignored", 0},
};

static void test_outcomes_from_later_prices_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof outcome_cases / sizeof outcome_cases[0]; i++) {
		const struct outcome_case *c = &outcome_cases[i];
		struct signals *s = signals_new(NULL, NULL);
		observe(s,
			signal_row("AAPL", "5m", c->side, 100, c->stop_loss, c->take_profit, T0));
		int resolved_at = 0;
		for (int k = 0; k < 4 && !isnan(c->prices[k]); k++) {
			observe(s, signal_row("AAPL", "5m", 0, c->prices[k], NAN, NAN,
					      T0 + (k + 1) * MINUTE_US));
			if (!resolved_at && pending_total(s) == 0)
				resolved_at = k + 1;
		}
		long success = tally(s, "by_symbol", "AAPL", "success");
		long failure = tally(s, "by_symbol", "AAPL", "failure");
		long pending = pending_total(s);
		int ok;
		if (!strcmp(c->outcome, "success"))
			ok = success == 1 && failure == 0 && pending == 0 && resolved_at == c->at;
		else if (!strcmp(c->outcome, "failure"))
			ok = success == 0 && failure == 1 && pending == 0 && resolved_at == c->at;
		else if (!strcmp(c->outcome, "pending"))
			ok = success == 0 && failure == 0 && pending == 1;
		else /* ignored: never pending, nothing counted anywhere */
			ok = pending == 0 && success == -1 && failure == -1;
		if (!ok)
			fail_msg("case %zu: success %ld failure %ld pending %ld at %d, expected %s "
				 "at %d",
				 i, success, failure, pending, resolved_at, c->outcome, c->at);
		signals_free(s);
	}
}

static void test_own_price_never_resolves_the_signal_itself(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	/* Priced beyond its own take-profit: pending until a later row. */
	observe(s, signal_row("AAPL", "5m", +1, 105, 99, 102, T0));
	assert_int_equal(pending_total(s), 1);
	observe(s, signal_row("AAPL", "5m", 0, 105, NAN, NAN, T0 + MINUTE_US));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 1);
	signals_free(s);
}

static void test_only_the_same_symbol_resolves(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, signal_row("AAPL", "5m", +1, 100, 99, 102, T0));
	observe(s, signal_row("MSFT", "5m", 0, 500, NAN, NAN, T0 + MINUTE_US));
	observe(s, signal_row("AAPL.X", "5m", 0, 500, NAN, NAN, T0 + MINUTE_US));
	observe(s, signal_row("aapl", "5m", 0, 500, NAN, NAN, T0 + MINUTE_US));
	assert_int_equal(pending_total(s), 1);
	assert_int_equal(tally(s, "by_symbol", "AAPL", "pending"), 1);
	assert_int_equal(tally(s, "by_symbol", "MSFT", "pending"), -1); /* never a signal */
	signals_free(s);
}

static void test_one_price_resolves_several_in_arrival_order(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, signal_row("AAPL", "1h", +1, 100, 95, 103, T0));		    /* success */
	observe(s, signal_row("AAPL", "5m", -1, 100, 104, 90, T0 + MINUTE_US));	    /* stays */
	observe(s, signal_row("AAPL", "5m", -1, 100, 102, 97, T0 + 2 * MINUTE_US)); /* failure */
	observe(s, signal_row("AAPL", "1h", +1, 100, 99, 110, T0 + 3 * MINUTE_US)); /* stays */
	observe(s, signal_row("AAPL", "1d", 0, 103.5, NAN, NAN, T0 + 4 * MINUTE_US));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 1);
	assert_int_equal(tally(s, "by_symbol", "AAPL", "failure"), 1);
	assert_int_equal(tally(s, "by_symbol", "AAPL", "pending"), 2);
	assert_int_equal(tally(s, "by_timeframe", "1h", "success"), 1);
	assert_int_equal(tally(s, "by_timeframe", "1h", "pending"), 1);
	assert_int_equal(tally(s, "by_timeframe", "5m", "failure"), 1);
	assert_int_equal(tally(s, "by_timeframe", "5m", "pending"), 1);
	/* The observation row had no levels: not a key of its own. */
	assert_int_equal(tally(s, "by_timeframe", "1d", "pending"), -1);
	signals_free(s);
}

static void test_a_price_dated_before_the_signal_does_not_resolve_it(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, signal_row("AAPL", "5m", +1, 100, 99, 102, T0 + 10 * MINUTE_US));
	observe(s, signal_row("AAPL", "5m", 0, 103, NAN, NAN, T0 + 5 * MINUTE_US));
	assert_int_equal(pending_total(s), 1);
	/* The same instant counts. */
	observe(s, signal_row("AAPL", "5m", 0, 103, NAN, NAN, T0 + 10 * MINUTE_US));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 1);
	signals_free(s);
}

/* ---- expiry ------------------------------------------------------------------------ */

static void test_horizon_expires_on_any_symbols_row_before_its_price(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, signal_row("AAPL", "5m", +1, 100, 99, 102, T0));
	/* Exactly the horizon later: not yet older than it. */
	observe(s, signal_row("MSFT", "5m", 0, 500, NAN, NAN, T0 + 24 * HOUR_US));
	assert_int_equal(pending_total(s), 1);
	/* One microsecond more, on another symbol's row: expired. */
	observe(s, signal_row("MSFT", "5m", 0, 500, NAN, NAN, T0 + 24 * HOUR_US + 1));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "expired"), 1);
	assert_int_equal(pending_total(s), 0);

	/* A crossing price that comes after the horizon: expired, not success. */
	observe(s, signal_row("NVDA", "5m", +1, 100, 99, 102, T0 + 30 * HOUR_US));
	observe(s, signal_row("NVDA", "5m", 0, 150, NAN, NAN, T0 + 55 * HOUR_US));
	assert_int_equal(tally(s, "by_symbol", "NVDA", "expired"), 1);
	assert_int_equal(tally(s, "by_symbol", "NVDA", "success"), 0);
	json_t *ex = signals_export(s);
	assert_true(json_is_null(json_object_get(
	    json_object_get(json_object_get(ex, "by_symbol"), "NVDA"), "success_rate")));
	assert_true(json_real_value(json_object_get(ex, "horizon_hours")) == 24);
	json_decref(ex);
	signals_free(s);
}

static void test_horizon_is_an_option(void **state)
{
	struct signals_options o = {0.5, 100};
	struct signals *s = signals_new(&o, NULL);
	(void)state;
	observe(s, signal_row("AAPL", "5m", +1, 100, 99, 102, T0));
	observe(s, signal_row("AAPL", "5m", 0, 100, NAN, NAN, T0 + 30 * MINUTE_US));
	assert_int_equal(pending_total(s), 1);
	observe(s, signal_row("AAPL", "5m", 0, 100, NAN, NAN, T0 + 31 * MINUTE_US));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "expired"), 1);
	signals_free(s);
}

static void test_max_pending_expires_the_oldest(void **state)
{
	struct signals_options o = {24, 3};
	struct signals *s = signals_new(&o, NULL);
	(void)state;
	for (int i = 0; i < 5; i++)
		observe(s, signal_row("X", "5m", +1, 100, 90, 110, T0 + i * MINUTE_US));
	assert_int_equal(pending_total(s), 3);
	assert_int_equal(tally(s, "by_symbol", "X", "expired"), 2);
	signals_free(s);

	/* Oldest by time, whatever the arrival: B (minute 1) goes first. */
	o.max_pending = 2;
	s = signals_new(&o, NULL);
	observe(s, signal_row("A", "5m", +1, 100, 90, 110, T0 + 5 * MINUTE_US));
	observe(s, signal_row("B", "5m", +1, 100, 90, 110, T0 + 1 * MINUTE_US));
	observe(s, signal_row("C", "5m", +1, 100, 90, 110, T0 + 3 * MINUTE_US));
	assert_int_equal(tally(s, "by_symbol", "B", "expired"), 1);
	assert_int_equal(tally(s, "by_symbol", "A", "pending"), 1);
	assert_int_equal(tally(s, "by_symbol", "C", "pending"), 1);
	/* B's prices resolve nothing now. */
	observe(s, signal_row("B", "5m", 0, 200, NAN, NAN, T0 + 6 * MINUTE_US));
	assert_int_equal(tally(s, "by_symbol", "B", "success"), 0);
	signals_free(s);
}

/* ---- aggregates ---------------------------------------------------------------------- */

static void test_rates_per_symbol_and_timeframe(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	static const struct {
		const char *symbol, *timeframe;
		double exit; /* the next price: 110 success, 90 failure, 100 pending */
	} rows[] = {
	    {"AAPL", "5m", 110}, {"AAPL", "5m", 110}, {"AAPL", "1h", 90}, {"AAPL", "1h", 110},
	    {"MSFT", "5m", 90},	 {"MSFT", "1h", 100}, {"TSLA", NULL, 90},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int64_t t = T0 + (int64_t)i * 10 * MINUTE_US;
		observe(s, signal_row(rows[i].symbol, rows[i].timeframe, +1, 100, 95, 105, t));
		observe(s,
			signal_row(rows[i].symbol, "x", 0, rows[i].exit, NAN, NAN, t + MINUTE_US));
	}
	json_t *ex = signals_export(s);
	char *text = jsontext_dump(ex, JSONTEXT_COMPACT, NULL);
	assert_string_equal(
	    text,
	    "{\"format\":1,\"horizon_hours\":24.0,\"pending\":1,\"waiting\":0,"
	    "\"by_symbol\":{"
	    "\"AAPL\":{\"success\":3,\"failure\":1,\"expired\":0,\"success_rate\":0.75,\"pending\":"
	    "0},"
	    "\"MSFT\":{\"success\":0,\"failure\":1,\"expired\":0,\"success_rate\":0.0,\"pending\":"
	    "1},"
	    "\"TSLA\":{\"success\":0,\"failure\":1,\"expired\":0,\"success_rate\":0.0,\"pending\":"
	    "0}},"
	    "\"by_timeframe\":{"
	    "\"5m\":{\"success\":2,\"failure\":1,\"expired\":0,\"success_rate\":0.6666666666666666,"
	    "\"pending\":0},"
	    "\"1h\":{\"success\":1,\"failure\":1,\"expired\":0,\"success_rate\":0.5,\"pending\":1},"
	    "\"none\":{\"success\":0,\"failure\":1,\"expired\":0,\"success_rate\":0.0,"
	    "\"pending\":0}}}");
	free(text);
	json_decref(ex);
	signals_free(s);
}

static void test_keys_stay_bounded_folding_into_other(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	char symbol[32];
	(void)state;
	for (int i = 0; i < 600; i++) {
		snprintf(symbol, sizeof symbol, "SYM%03d", i);
		observe(s, signal_row(symbol, "5m", +1, 100, 90, 110, T0 + i * MINUTE_US));
		observe(s, signal_row(symbol, "5m", 0, 120, NAN, NAN, T0 + i * MINUTE_US + 1));
	}
	json_t *ex = signals_export(s), *by = json_object_get(ex, "by_symbol");
	assert_int_equal(json_object_size(by), SIGNALS_MAX_KEYS);
	/* SYM000 … SYM510 have their own; SYM511 … SYM599 fold. */
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(by, "other"), "success")),
	    600 - 511);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(by, "SYM510"), "success")), 1);
	json_decref(ex);
	signals_free(s);
}

/* ---- state ------------------------------------------------------------------------------ */

static struct signals *reloaded(const struct signals *s, const struct signals_options *o)
{
	struct err err = {0};
	json_t *saved = signals_save(s);
	assert_non_null(saved);
	char *text = jsontext_dump(saved, JSONTEXT_COMPACT, NULL);
	json_decref(saved);
	json_t *parsed = json_loads(text, 0, NULL);
	assert_non_null(parsed);
	free(text);
	struct signals *copy = signals_new(o, NULL);
	if (signals_load(copy, parsed, &err))
		fail_msg("load: %s", err);
	json_decref(parsed);
	return copy;
}

static void assert_same(const struct signals *a, const struct signals *b)
{
	json_t *sa = signals_save(a), *sb = signals_save(b);
	char *ta = jsontext_dump(sa, JSONTEXT_COMPACT, NULL);
	char *tb = jsontext_dump(sb, JSONTEXT_COMPACT, NULL);
	assert_true(json_equal(sa, sb));
	assert_string_equal(ta, tb); /* same order, same bits */
	free(ta);
	free(tb);
	json_decref(sa);
	json_decref(sb);
	sa = signals_export(a);
	sb = signals_export(b);
	assert_true(json_equal(sa, sb));
	json_decref(sa);
	json_decref(sb);
}

static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
	return (double)(next_random(s) >> 11) / 9007199254740992.0;
}

/* A random walk of prices over a few symbols; times mostly rising with
 * some rows out of order; two signals in three carry levels. */
static struct record random_row(uint64_t *rng, int i, double *walk)
{
	static const char *symbols[] = {"AAPL", "MSFT", "NVDA", "TSLA", "AMD"};
	static const char *timeframes[] = {"1m", "5m", "1h"};
	int k = (int)(next_random(rng) % 5);
	walk[k] *= 1 + (unit(rng) - 0.5) * 0.02;
	int64_t ts = T0 + (int64_t)i * 7 * MINUTE_US - (int64_t)(unit(rng) * 30) * MINUTE_US;
	int side = next_random(rng) % 3 == 0 ? 0 : next_random(rng) % 2 ? 1 : -1;
	double sl = walk[k] * (1 - side * (0.005 + unit(rng) * 0.02));
	double tp = walk[k] * (1 + side * (0.005 + unit(rng) * 0.03));
	return signal_row(symbols[k], timeframes[next_random(rng) % 3], side, walk[k], sl, tp, ts);
}

static void test_save_text_load_continue_matches_uninterrupted(void **state)
{
	struct signals_options o = {6, 40};
	struct signals *a = signals_new(&o, NULL), *b = signals_new(&o, NULL);
	uint64_t rng = 7;
	double walk[5] = {100, 200, 300, 400, 500};
	(void)state;
	for (int i = 0; i < 3000; i++) {
		struct record r = random_row(&rng, i, walk);
		observe(a, r);
		observe(b, r);
		if (i % 97 == 0) {
			struct signals *c = reloaded(b, &o);
			signals_free(b);
			b = c;
			assert_same(a, b);
		}
	}
	assert_same(a, b);
	json_t *ex = signals_export(a);
	const char *key;
	json_t *v;
	long total = 0;
	json_object_foreach(json_object_get(ex, "by_symbol"), key, v)
	{
		total += (long)(json_integer_value(json_object_get(v, "success")) +
				json_integer_value(json_object_get(v, "failure")) +
				json_integer_value(json_object_get(v, "expired")));
	}
	assert_true(total > 1000); /* the walk resolved plenty, all three ways */
	json_decref(ex);
	signals_free(a);
	signals_free(b);
}

/*
 * The same random rows through a plain reference: a list in arrival order,
 * scanned whole for every row. Counts per symbol must agree at every step.
 */
struct reference {
	struct {
		int symbol, side;
		int64_t ts;
		double stop, target;
	} pending[64];
	int n;
	long counts[5][3];
};

static int symbol_index(const char *symbol)
{
	static const char *symbols[] = {"AAPL", "MSFT", "NVDA", "TSLA", "AMD"};
	for (int i = 0; i < 5; i++)
		if (!strcmp(symbols[i], symbol))
			return i;
	return -1;
}

static void reference_remove(struct reference *ref, int i, int result)
{
	ref->counts[ref->pending[i].symbol][result]++;
	memmove(&ref->pending[i], &ref->pending[i + 1],
		(size_t)(ref->n - i - 1) * sizeof ref->pending[0]);
	ref->n--;
}

static void reference_observe(struct reference *ref, const struct record *r, int64_t horizon,
			      int max_pending)
{
	int k = symbol_index(r->symbol);
	for (int i = 0; i < ref->n;)
		if (ref->pending[i].ts < r->ts - horizon)
			reference_remove(ref, i, 2);
		else
			i++;
	for (int i = 0; i < ref->n;) {
		int res = -1;
		if (ref->pending[i].symbol == k && ref->pending[i].ts <= r->ts) {
			double t = ref->pending[i].target, sl = ref->pending[i].stop, p = r->price;
			if (ref->pending[i].side > 0)
				res = p >= t ? 0 : p <= sl ? 1 : -1;
			else
				res = p <= t ? 0 : p >= sl ? 1 : -1;
		}
		if (res >= 0)
			reference_remove(ref, i, res);
		else
			i++;
	}
	if (r->side == 0)
		return;
	if (ref->n == max_pending) {
		int oldest = 0;
		for (int i = 1; i < ref->n; i++)
			if (ref->pending[i].ts < ref->pending[oldest].ts)
				oldest = i;
		reference_remove(ref, oldest, 2);
	}
	ref->pending[ref->n].symbol = k;
	ref->pending[ref->n].side = r->side;
	ref->pending[ref->n].ts = r->ts;
	ref->pending[ref->n].stop = r->stop_loss;
	ref->pending[ref->n].target = r->take_profit;
	ref->n++;
}

static void test_matches_a_plain_reference_on_random_rows(void **state)
{
	struct signals_options o = {6, 40};
	struct signals *s = signals_new(&o, NULL);
	static struct reference ref;
	static const char *symbols[] = {"AAPL", "MSFT", "NVDA", "TSLA", "AMD"};
	static const char *fields[] = {"success", "failure", "expired"};
	uint64_t rng = 11;
	double walk[5] = {100, 200, 300, 400, 500};
	(void)state;
	memset(&ref, 0, sizeof ref);
	for (int i = 0; i < 4000; i++) {
		struct record r = random_row(&rng, i, walk);
		observe(s, r);
		reference_observe(&ref, &r, 6 * HOUR_US, 40);
		if (i % 50 != 49)
			continue;
		json_t *ex = signals_export(s), *by = json_object_get(ex, "by_symbol");
		for (int k = 0; k < 5; k++)
			for (int f = 0; f < 3; f++) {
				json_t *v =
				    json_object_get(json_object_get(by, symbols[k]), fields[f]);
				long got = v ? (long)json_integer_value(v) : 0;
				if (got != ref.counts[k][f])
					fail_msg("row %d %s %s: %ld, reference %ld", i, symbols[k],
						 fields[f], got, ref.counts[k][f]);
			}
		assert_int_equal(json_integer_value(json_object_get(ex, "pending")), ref.n);
		json_decref(ex);
	}
	signals_free(s);
}

static void test_load_refuses_bad_state_and_keeps_the_old(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	struct err err = {0};
	(void)state;
	observe(s, signal_row("AAPL", "5m", +1, 100, 99, 102, T0));
	json_t *before = signals_save(s);
	static const char *bad[] = {
	    "{\"format\": 2}",
	    "[]",
	    "{\"format\":1,\"next_seq\":1,\"pending\":[],\"by_symbol\":[[\"A\",1,2]],"
	    "\"by_timeframe\":[]}",
	    /* Levels on the wrong side for a long. */
	    "{\"format\":1,\"next_seq\":1,\"pending\":[[\"A\",\"5m\",1,1,102.0,99.0,0]],"
	    "\"by_symbol\":[],\"by_timeframe\":[]}",
	    /* A sequence number not below next_seq. */
	    "{\"format\":1,\"next_seq\":1,\"pending\":[[\"A\",\"5m\",1,1,99.0,102.0,1]],"
	    "\"by_symbol\":[],\"by_timeframe\":[]}",
	    /* Out of arrival order. */
	    "{\"format\":1,\"next_seq\":5,\"pending\":[[\"A\",\"5m\",1,1,99.0,102.0,3],"
	    "[\"A\",\"5m\",1,1,99.0,102.0,2]],\"by_symbol\":[],\"by_timeframe\":[]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		err_clear(&err);
		assert_int_equal(signals_load(s, j, &err), -1);
		assert_true(strncmp(err.msg, "signals: ", 9) == 0);
		json_decref(j);
		json_t *after = signals_save(s);
		assert_true(json_equal(before, after));
		json_decref(after);
	}
	json_decref(before);
	signals_free(s);
}

static void test_loading_more_pending_than_room_expires_the_oldest(void **state)
{
	struct signals *big = signals_new(NULL, NULL);
	struct signals_options o = {24, 2};
	struct err err = {0};
	(void)state;
	for (int i = 0; i < 4; i++)
		observe(big, signal_row("A", "5m", +1, 100, 90, 110, T0 + i * MINUTE_US));
	json_t *saved = signals_save(big);
	struct signals *small = signals_new(&o, NULL);
	assert_int_equal(signals_load(small, saved, &err), 0);
	assert_int_equal(pending_total(small), 2);
	assert_int_equal(tally(small, "by_symbol", "A", "expired"), 2);
	json_decref(saved);
	signals_free(small);
	signals_free(big);
}

static void test_options_rows_and_kinds_are_checked(void **state)
{
	struct signals_options o = {0, 10};
	(void)state;
	assert_null(signals_new(&o, NULL));
	o.horizon_hours = NAN;
	assert_null(signals_new(&o, NULL));
	o.horizon_hours = 24;
	o.max_pending = 0;
	assert_null(signals_new(&o, NULL));
	signals_free(NULL);

	struct signals *s = signals_new(NULL, NULL);
	struct record r = signal_row("A", "5m", +1, 100, 90, 110, T0);
	r.kind = PROFILE_KIND_CLOSE; /* not a signal row */
	observe(s, r);
	r = signal_row(NULL, "5m", +1, 100, 90, 110, T0); /* no symbol */
	observe(s, r);
	r = signal_row("A", "5m", +1, 100, 90, 110, CALENDAR_NONE); /* no time */
	observe(s, r);
	assert_int_equal(pending_total(s), 0);
	signals_free(s);
}

/* ---- observations from every source ------------------------------------------------------ */

/* A record of another source observing price at ts. */
static struct record price_row(enum profile_source_id source, enum profile_kind kind,
			       const char *symbol, double price, int64_t ts)
{
	struct record r = signal_row(symbol, NULL, 0, NAN, NAN, NAN, ts);
	r.source = source;
	r.kind = kind;
	if (kind == PROFILE_KIND_OPEN)
		r.entry_price = price;
	else if (kind == PROFILE_KIND_CLOSE || kind == PROFILE_KIND_PARTIAL)
		r.exit_price = price;
	else
		r.price = price;
	return r;
}

static struct record from_signals(struct record r)
{
	r.source = PROFILE_SOURCE_SIGNALS;
	return r;
}

/* Prices of closes and orders resolve signals; once the signals source has
 * passed their time (nothing it still logs can come before them). */
static void test_close_and_order_prices_resolve_signals(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, from_signals(signal_row("AAPL", "5m", +1, 100, 99, 102, T0)));
	observe(s, from_signals(signal_row("MSFT", "5m", +1, 200, 190, 210, T0)));
	/* No later signal of either symbol: a close and an order cross. */
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "AAPL", 102.5,
			     T0 + 10 * MINUTE_US));
	observe(s, price_row(PROFILE_SOURCE_ORDERS, PROFILE_KIND_ORDER, "MSFT", 189,
			     T0 + 12 * MINUTE_US));
	/* They wait for the other sources to pass their time. */
	assert_int_equal(pending_total(s), 2);
	observe(s, from_signals(signal_row("NVDA", "5m", 0, 50, NAN, NAN, T0 + 20 * MINUTE_US)));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 1);
	assert_int_equal(tally(s, "by_symbol", "MSFT", "pending"), 1); /* attribution at +10 */
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "NVDA", 50,
			     T0 + 20 * MINUTE_US));
	assert_int_equal(pending_total(s), 0);
	assert_int_equal(tally(s, "by_symbol", "MSFT", "failure"), 1);
	signals_free(s);
}

/* Opens and partial closes observe prices too (entry and exit price). */
static void test_open_and_partial_prices_resolve_signals(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, from_signals(signal_row("AAPL", "5m", -1, 100, 102, 97, T0)));
	observe(s, from_signals(signal_row("MSFT", "5m", -1, 200, 210, 190, T0)));
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_OPEN, "AAPL", 96.5,
			     T0 + MINUTE_US));
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_PARTIAL, "MSFT", 211,
			     T0 + 2 * MINUTE_US));
	observe(s, from_signals(signal_row("NVDA", "5m", 0, 50, NAN, NAN, T0 + 3 * MINUTE_US)));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 1);
	assert_int_equal(tally(s, "by_symbol", "MSFT", "failure"), 1);
	signals_free(s);
}

/* A price logged before the signal never resolves it, whichever was read
 * first. */
static void test_a_price_of_another_source_dated_before_the_signal_does_not_resolve_it(void **state)
{
	(void)state;
	for (int close_first = 0; close_first < 2; close_first++) {
		struct signals *s = signals_new(NULL, NULL);
		struct record sig = from_signals(signal_row("AAPL", "5m", +1, 100, 99, 102, T0));
		struct record early = price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE,
						"AAPL", 105, T0 - MINUTE_US);
		observe(s, close_first ? early : sig);
		observe(s, close_first ? sig : early);
		observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "MSFT", 1,
				     T0 + HOUR_US));
		observe(s, from_signals(signal_row("NVDA", "5m", 0, 50, NAN, NAN, T0 + HOUR_US)));
		assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 0);
		assert_int_equal(tally(s, "by_symbol", "AAPL", "pending"), 1);
		signals_free(s);
	}
}

/* The first crossing in time decides, not the first read: a stop crossed by
 * an order before a target crossed by a close is a FAILURE, however the
 * two sources were interleaved. */
static void test_the_earlier_crossing_decides_whatever_was_read_first(void **state)
{
	(void)state;
	for (int close_first = 0; close_first < 2; close_first++) {
		struct signals *s = signals_new(NULL, NULL);
		struct record stop = price_row(PROFILE_SOURCE_ORDERS, PROFILE_KIND_ORDER, "AAPL",
					       98, T0 + 5 * MINUTE_US);
		struct record target = price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE,
						 "AAPL", 103, T0 + 9 * MINUTE_US);
		observe(s, from_signals(signal_row("AAPL", "5m", +1, 100, 99, 102, T0)));
		observe(s, close_first ? target : stop);
		observe(s, close_first ? stop : target);
		observe(s, from_signals(signal_row("NVDA", "5m", 0, 50, NAN, NAN, T0 + HOUR_US)));
		assert_int_equal(tally(s, "by_symbol", "AAPL", "failure"), 1);
		assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 0);
		signals_free(s);
	}
}

/* Three sources, each in its own order but interleaved at random, with
 * saves and loads on the way: the same state as one fixed interleaving.
 * Each source starts with a row a day before the rest (a source holds
 * nothing back before its first row: the documented limit). */
static void test_state_does_not_depend_on_how_the_sources_were_interleaved(void **state)
{
	struct signals_options o = {6, 40};
	enum { N = 1500 };
	static struct record rows[3][N];
	static const enum profile_source_id sources[3] = {
	    PROFILE_SOURCE_SIGNALS, PROFILE_SOURCE_ORDERS, PROFILE_SOURCE_ATTRIBUTION};
	static const enum profile_kind kinds[3] = {PROFILE_KIND_SIGNAL, PROFILE_KIND_ORDER,
						   PROFILE_KIND_CLOSE};
	uint64_t rng = 11;
	double walk[5] = {100, 200, 300, 400, 500};
	(void)state;
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < N; i++) {
			struct record r = random_row(&rng, i, walk);
			if (i == 0)
				r = signal_row("AAPL", NULL, 0, NAN, NAN, NAN, T0 - 24 * HOUR_US);
			if (k > 0)
				r = price_row(sources[k], kinds[k], r.symbol, r.price, r.ts);
			r.source = sources[k];
			rows[k][i] = r;
		}

	/* Reference: all of one source, then the next. */
	struct signals *a = signals_new(&o, NULL);
	for (int k = 0; k < 3; k++)
		observe(a, rows[k][0]);
	/* One batch of everything, source after source. */
	for (int k = 0; k < 3; k++)
		for (int i = 1; i < N; i++)
			assert_int_equal(signals_observe(a, &rows[k][i], NULL), 0);
	assert_int_equal(signals_settle(a, NULL), 0);

	for (int round = 0; round < 3; round++) {
		struct signals *b = signals_new(&o, NULL);
		size_t at[3] = {1, 1, 1};
		for (int k = 2; k >= 0; k--)
			observe(b, rows[k][0]);
		int steps = 0;
		while (at[0] < N || at[1] < N || at[2] < N) {
			int k = (int)(next_random(&rng) % 3);
			size_t run = 1 + next_random(&rng) % 200;
			/* One batch: a run of one source. */
			for (; run && at[k] < N; run--)
				assert_int_equal(signals_observe(b, &rows[k][at[k]++], NULL), 0);
			assert_int_equal(signals_settle(b, NULL), 0);
			if (++steps % 7 == 0) {
				struct signals *c = reloaded(b, &o);
				signals_free(b);
				b = c;
			}
		}
		assert_same(a, b);
		signals_free(b);
	}
	assert_true(tally(a, "by_symbol", "AAPL", "success") > 0);
	signals_free(a);
}

/* A row dated before its source's latest counts at that latest time. */
static void test_a_row_late_in_its_own_source_counts_at_the_source_time(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, from_signals(signal_row("AAPL", "5m", +1, 100, 99, 102, T0)));
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "MSFT", 1,
			     T0 + 30 * MINUTE_US));
	/* Dated before the MSFT close, but its source had passed that: it waits
	 * like a row at T0 + 30 min, and still resolves (dated after the signal). */
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "AAPL", 103,
			     T0 + 5 * MINUTE_US));
	observe(s, from_signals(signal_row("NVDA", "5m", 0, 50, NAN, NAN, T0 + 20 * MINUTE_US)));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 0);
	json_t *ex = signals_export(s);
	assert_int_equal(json_integer_value(json_object_get(ex, "waiting")), 2);
	json_decref(ex);
	observe(s, from_signals(signal_row("NVDA", "5m", 0, 50, NAN, NAN, T0 + 40 * MINUTE_US)));
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 1);
	signals_free(s);
}

static long waiting_total(const struct signals *s)
{
	json_t *ex = signals_export(s);
	long n = (long)json_integer_value(json_object_get(ex, "waiting"));
	json_decref(ex);
	return n;
}

/* Closes are logged once in a while; signals all the time. A quiet source
 * read to its end does not hold the signals' prices back. */
static void test_a_quiet_source_read_to_its_end_holds_nothing_back(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "MSFT", 1, T0));
	observe(s, from_signals(signal_row("AAPL", "5m", +1, 100, 99, 102, T0 + MINUTE_US)));
	struct record up =
	    from_signals(signal_row("AAPL", "5m", 0, 103, NAN, NAN, T0 + 2 * MINUTE_US));
	assert_int_equal(signals_observe(s, &up, NULL), 0);
	/* Not known to be at its end: the closes could still bring an earlier
	 * price, so the signal's rows wait. */
	assert_int_equal(signals_settle(s, NULL), 0);
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), -1); /* not even pending */
	assert_int_equal(waiting_total(s), 2);
	/* Read to its end in this batch: they are applied. */
	signals_caught_up(s, PROFILE_SOURCE_ATTRIBUTION);
	assert_int_equal(signals_settle(s, NULL), 0);
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 1);
	assert_int_equal(waiting_total(s), 0);
	/* The mark lasts one batch only. */
	struct record later =
	    from_signals(signal_row("AAPL", "5m", 0, 103, NAN, NAN, T0 + HOUR_US));
	assert_int_equal(signals_observe(s, &later, NULL), 0);
	assert_int_equal(signals_settle(s, NULL), 0);
	assert_int_equal(waiting_total(s), 1);
	signals_free(s);
}

/* A source that delivers after it was marked read to its end is not at its
 * end any more. */
static void test_a_source_that_delivers_again_is_no_longer_at_its_end(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "MSFT", 1, T0));
	observe(s, from_signals(signal_row("AAPL", "5m", +1, 100, 99, 102, T0 + MINUTE_US)));
	signals_caught_up(s, PROFILE_SOURCE_ATTRIBUTION);
	struct record close = price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "MSFT", 1,
					T0 + 5 * MINUTE_US);
	struct record up =
	    from_signals(signal_row("AAPL", "5m", 0, 103, NAN, NAN, T0 + 9 * MINUTE_US));
	assert_int_equal(signals_observe(s, &close, NULL), 0);
	assert_int_equal(signals_observe(s, &up, NULL), 0);
	assert_int_equal(signals_settle(s, NULL), 0);
	assert_int_equal(tally(s, "by_symbol", "AAPL", "success"), 0);
	assert_int_equal(waiting_total(s), 1);
	signals_free(s);
}

/* While many observations wait, a stream ahead of another in time is held,
 * and the one behind is not. */
static void test_a_stream_ahead_is_held_while_many_observations_wait(void **state)
{
	struct signals *s = signals_new(NULL, NULL);
	(void)state;
	observe(s, from_signals(signal_row("AAPL", "5m", 0, 100, NAN, NAN, T0)));
	for (int i = 0; i <= SIGNALS_HOLD_WAITING; i++) {
		struct record r = price_row(PROFILE_SOURCE_ATTRIBUTION, PROFILE_KIND_CLOSE, "MSFT",
					    1, T0 + (i + 1) * MINUTE_US);
		assert_int_equal(signals_observe(s, &r, NULL), 0);
	}
	assert_int_equal(signals_settle(s, NULL), 0);
	assert_true(waiting_total(s) > SIGNALS_HOLD_WAITING);
	assert_int_equal(signals_holding(s, PROFILE_SOURCE_ATTRIBUTION), 1);
	assert_int_equal(signals_holding(s, PROFILE_SOURCE_SIGNALS), 0);
	/* The signals catch up in time: the closes are applied, nothing is held. */
	observe(s,
		from_signals(signal_row("AAPL", "5m", 0, 100, NAN, NAN, T0 + 100 * 24 * HOUR_US)));
	assert_int_equal(waiting_total(s), 1);
	assert_int_equal(signals_holding(s, PROFILE_SOURCE_ATTRIBUTION), 0);
	signals_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outcomes_from_later_prices_table),
	    cmocka_unit_test(test_own_price_never_resolves_the_signal_itself),
	    cmocka_unit_test(test_only_the_same_symbol_resolves),
	    cmocka_unit_test(test_one_price_resolves_several_in_arrival_order),
	    cmocka_unit_test(test_a_price_dated_before_the_signal_does_not_resolve_it),
	    cmocka_unit_test(test_horizon_expires_on_any_symbols_row_before_its_price),
	    cmocka_unit_test(test_horizon_is_an_option),
	    cmocka_unit_test(test_max_pending_expires_the_oldest),
	    cmocka_unit_test(test_rates_per_symbol_and_timeframe),
	    cmocka_unit_test(test_keys_stay_bounded_folding_into_other),
	    cmocka_unit_test(test_save_text_load_continue_matches_uninterrupted),
	    cmocka_unit_test(test_matches_a_plain_reference_on_random_rows),
	    cmocka_unit_test(test_load_refuses_bad_state_and_keeps_the_old),
	    cmocka_unit_test(test_loading_more_pending_than_room_expires_the_oldest),
	    cmocka_unit_test(test_options_rows_and_kinds_are_checked),
	    cmocka_unit_test(test_close_and_order_prices_resolve_signals),
	    cmocka_unit_test(test_open_and_partial_prices_resolve_signals),
	    cmocka_unit_test(
		test_a_price_of_another_source_dated_before_the_signal_does_not_resolve_it),
	    cmocka_unit_test(test_the_earlier_crossing_decides_whatever_was_read_first),
	    cmocka_unit_test(test_state_does_not_depend_on_how_the_sources_were_interleaved),
	    cmocka_unit_test(test_a_row_late_in_its_own_source_counts_at_the_source_time),
	    cmocka_unit_test(test_a_quiet_source_read_to_its_end_holds_nothing_back),
	    cmocka_unit_test(test_a_source_that_delivers_again_is_no_longer_at_its_end),
	    cmocka_unit_test(test_a_stream_ahead_is_held_while_many_observations_wait),
	};
	return cmocka_run_group_tests(tests, zone_new_york, NULL);
}
