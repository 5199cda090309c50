/* metrics: trade figures by hand, return figures against empyrical's published tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/analyze/metrics.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* numpy.testing.assert_almost_equal(decimal=8), which empyrical's tests use:
 * |got − want| < 1.5e-8. */
#define EMPYRICAL_TOL 1.5e-8

/* A table entry empyrical's tests give no value for: not checked. The
 * library never returns ±inf, so the sentinel cannot collide with a result. */
#define UNPUBLISHED INFINITY

/* want NAN: got must be NAN; want UNPUBLISHED: anything; else |got − want| <= tol. */
static void expect(const char *what, const char *field, double got, double want, double tol)
{
	if (want == UNPUBLISHED)
		return;
	if (isnan(want) ? isnan(got) : fabs(got - want) <= tol)
		return;
	print_error("%s: %s got %.17g, want %.17g\n", what, field, got, want);
	fail();
}

/* ---- return metrics: empyrical's own fixtures ------------------------------
 *
 * Fixtures and expected values are those of quantopian/empyrical,
 * empyrical/tests/test_stats.py (master; the same table is mirrored in
 * LiuFang816/SALSTM_py_data python/quantopian_empyrical/empyrical-master/
 * empyrical/tests/test_stats.py), daily period (252), risk-free and
 * required return 0. Where empyrical answers inf we answer NAN (null in the
 * report), as the header says.
 *
 * On mixed_returns: its leading NaN is a day without a figure. master
 * leaves it out of the mean and standard deviation (Sharpe 1.7238613961706866)
 * but counts it as a day for annual_return (9 days: 1.9135925373194231).
 * Older revisions of the file (e.g. 2cbc9b3) list Sharpe 1.6368951821422701
 * and volatility 0.8552777326693359: those are the NaN read as 0 — the
 * old cum_returns overwrote the shared fixture's first value with 0 in
 * place. We follow master. */

static const double positive_returns[] = {.01, .02, .01, .01, .01, .01, .01, .01, .01};
static const double negative_returns[] = {0, -.06, -.07, -.01, -.09, -.02, -.06, -.08, -.05};
static const double mixed_returns[] = {NAN, .01, .10, -.04, .02, .03, .02, .01, -.10};
static const double simple_benchmark[] = {0, .01, 0, .01, 0, .01, 0, .01, 0};
/* flat_line_1 in master; simple_benchmark in older revisions (2cbc9b3). */
static const double flat_line_1[] = {.01, .01, .01, .01, .01, .01, .01, .01, .01};
static const double one_return[] = {.01};
static const double up_down_up[] = {.10, -.10, .10}; /* test_max_drawdown's inline series */
static const double df_simple_one[] = {-0.00171614, 0.01322056, 0.03063862,  -0.01422057,
				       -0.00489779, 0.01268925, -0.03357711, 0.01797036};
static const double df_simple_two[] = {0.01846232,  0.00793951, -0.01448395, 0.00422537,
				       -0.00339611, 0.03756813, 0.0151531,   0.03549769};

struct returns_case {
	const char *name;
	const double *r;
	size_t n;
	double sharpe, sortino, max_drawdown, annual_return, annual_volatility, calmar;
};

#define FIXTURE(a) #a, a, COUNT(a)

static const struct returns_case empyrical_cases[] = {
    /* test_sharpe_ratio 52.915026221291804; test_sortino inf;
     * test_max_drawdown -0.0. */
    {FIXTURE(positive_returns), 52.915026221291804, NAN, 0.0, UNPUBLISHED, UNPUBLISHED,
     UNPUBLISHED},
    /* test_sharpe_ratio, test_sortino, test_max_drawdown. */
    {FIXTURE(negative_returns), -24.406808633910085, -13.532743075043401, -0.36590730349873601,
     UNPUBLISHED, UNPUBLISHED, UNPUBLISHED},
    /* test_sharpe_ratio, test_sortino, test_max_drawdown, test_annual_ret,
     * test_annual_volatility, test_calmar. */
    {FIXTURE(mixed_returns), 1.7238613961706866, 2.605531251673693, -0.1, 1.9135925373194231,
     0.9136465399704637, 19.135925373194233},
    /* test_max_drawdown 0.0; test_sortino inf. */
    {FIXTURE(simple_benchmark), UNPUBLISHED, NAN, 0.0, UNPUBLISHED, UNPUBLISHED, UNPUBLISHED},
    /* test_sortino inf (simple_benchmark of 2cbc9b3); test_max_drawdown and
     * test_annual_volatility 0.0 (2cbc9b3's simple_benchmark). Sharpe
     * NAN: a standard deviation of 0 (our rule, and empyrical's "std == 0
     * → nan" in sharpe_ratio). */
    {FIXTURE(flat_line_1), NAN, NAN, 0.0, UNPUBLISHED, 0.0, NAN},
    /* test_sharpe_ratio nan, test_sortino nan, test_max_drawdown 0.0,
     * test_calmar nan. */
    {FIXTURE(one_return), NAN, NAN, 0.0, UNPUBLISHED, NAN, NAN},
    /* test_max_drawdown -0.10. */
    {FIXTURE(up_down_up), UNPUBLISHED, UNPUBLISHED, -0.10, UNPUBLISHED, UNPUBLISHED, UNPUBLISHED},
    /* test_sortino, df_simple columns 'one' and 'two'. */
    {FIXTURE(df_simple_one), UNPUBLISHED, 3.0639640966566306, UNPUBLISHED, UNPUBLISHED, UNPUBLISHED,
     UNPUBLISHED},
    {FIXTURE(df_simple_two), UNPUBLISHED, 38.090963117002495, UNPUBLISHED, UNPUBLISHED, UNPUBLISHED,
     UNPUBLISHED},
};

static void check_returns(const struct returns_case *c, double tol)
{
	struct metrics_returns m;
	metrics_returns(c->r, c->n, &m);
	assert_int_equal(m.days, (long)c->n);
	expect(c->name, "sharpe", m.sharpe, c->sharpe, tol);
	expect(c->name, "sortino", m.sortino, c->sortino, tol);
	expect(c->name, "max_drawdown", m.max_drawdown, c->max_drawdown, tol);
	expect(c->name, "annual_return", m.annual_return, c->annual_return, tol);
	expect(c->name, "annual_volatility", m.annual_volatility, c->annual_volatility, tol);
	expect(c->name, "calmar", m.calmar, c->calmar, tol);
}

static void test_returns_match_empyricals_published_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(empyrical_cases); i++)
		check_returns(&empyrical_cases[i], EMPYRICAL_TOL);
}

/* Two figures people quote for these series: the Sharpe ratio of steady
 * gains, and the maximum drawdown of steady losses to 4 places. */
static void
test_steady_gains_have_sharpe_52_9_and_steady_losses_a_drawdown_of_36_59_percent(void **state)
{
	struct metrics_returns m;
	(void)state;
	metrics_returns(positive_returns, COUNT(positive_returns), &m);
	expect("positive_returns", "sharpe", m.sharpe, 52.915026221291804, 1e-12);
	metrics_returns(negative_returns, COUNT(negative_returns), &m);
	expect("negative_returns", "max_drawdown", m.max_drawdown, -0.3659, 5e-5); /* 4 places */
}

/* empty_returns: nan for every figure in test_sharpe_ratio, test_sortino,
 * test_max_drawdown, test_calmar; days without a figure alone are no data. */
static void test_returns_without_observations_are_all_nan(void **state)
{
	static const double all_missing[] = {NAN, NAN, INFINITY};
	static const struct returns_case cases[] = {
	    {"empty_returns", NULL, 0, NAN, NAN, NAN, NAN, NAN, NAN},
	    {FIXTURE(all_missing), NAN, NAN, NAN, NAN, NAN, NAN},
	};
	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++)
		check_returns(&cases[i], 0);
}

/* ---- return metrics: by definition, figures empyrical's tests leave out ---- */

static const double up_then_down[] = {.10, -.10};
static const double first_day_loss[] = {-.05};
static const double only_gains[] = {.01, .02};
static const double wiped_out[] = {-1.0, .5};
static const double gap_in_the_middle[] = {.01, NAN, .02};

static const struct returns_case definition_cases[] = {
    /* mean 0, sd = √(2·0.1²/1) = 0.1√2; volatility 0.1√2·√252 = √5.04;
     * downside risk √(0.01/2)·√252 > 0, so Sortino 0; equity 1.1 → 0.99,
     * drawdown 0.99/1.1 − 1 = −0.1; annual return 0.99^(252/2) − 1. */
    {FIXTURE(up_then_down), 0.0, 0.0, -0.1, -0.7181393044595326, 2.2449944320643653,
     -7.181393044595327},
    /* The starting point is on the curve: one losing day is a drawdown of
     * 5% from 1. 0.95^252 − 1 = −0.9999976; one observation has no
     * standard deviation. */
    {FIXTURE(first_day_loss), NAN, NAN, -0.05, -0.9999975658432996, NAN, -19.999951316865975},
    /* Never below a peak: drawdown 0, Calmar NAN; no losing day: Sortino
     * NAN. Sharpe 0.015 / (0.01/√2) · √252 = 1.5√2·√252; annual return
     * (1.01·1.02)^126 − 1. */
    {FIXTURE(only_gains), 33.67491648096547, NAN, 0.0, 41.473176131220576, 0.11224972160321825,
     NAN},
    /* Equity reaches 0 and stays: drawdown −1, annual return 0^126 − 1 = −1;
     * mean −0.25, sd 0.75√2, downside risk √(1/2)·√252. */
    {FIXTURE(wiped_out), -3.7416573867739418, -5.612486080160911, -1.0, -1.0, 16.837458240482736,
     -1.0},
    /* A day without a figure: not an observation (Sharpe as of {.01, .02})
     * but a day of compounding at 0: (1.01·1.02)^(252/3) − 1. */
    {FIXTURE(gap_in_the_middle), 33.67491648096547, NAN, 0.0, 11.17334206753949,
     0.11224972160321825, NAN},
};

static void test_returns_by_definition(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(definition_cases); i++)
		check_returns(&definition_cases[i], 1e-10);
}

/* Nothing leaves as ±inf: an annual return that overflows a double is no
 * figure, and so is the Calmar ratio built on it. */
static void test_returns_that_overflow_are_nan_not_inf(void **state)
{
	static const double huge_days[] = {100.0, 100.0, -.5};
	struct metrics_returns m;
	(void)state;
	metrics_returns(huge_days, COUNT(huge_days), &m);
	assert_true(isnan(m.annual_return));
	assert_true(isnan(m.calmar));
	assert_true(isfinite(m.max_drawdown) && isfinite(m.sharpe) && isfinite(m.sortino));
}

/* ---- trade metrics --------------------------------------------------------- */

struct trades_case {
	const char *name;
	const struct metrics_trade *t;
	size_t n;
	long count, wins, losses;
	double win_rate, profit_factor, expectancy, payoff_ratio, avg_win, avg_loss, pnl_usd,
	    avg_hold_minutes;
	long max_consecutive_wins, max_consecutive_losses;
};

/* W W L 0 L W: wins +350 USD (fractions .02 .05 .01), losses −200 USD
 * (−.01 0 −.03, the zero-P&L trade among them).
 *   win rate 3/6; profit factor 350/200 = 1.75; expectancy .04/6;
 *   avg win .08/3; avg loss −.04/3; payoff (.08/3)/(.04/3) = 2;
 *   P&L 150; hold 255/6 = 42.5; runs: 2 wins, then 3 losses. */
static const struct metrics_trade hand_computed[] = {
    {100, .02, 30}, {200, .05, 60}, {-50, -.01, 45}, {0, 0, 10}, {-150, -.03, 90}, {50, .01, 20},
};
static const struct metrics_trade all_wins[] = {{10, .01, 5}, {20, .02, 15}};
static const struct metrics_trade all_losses[] = {{-10, -.01, 5}, {-30, -.03, 7}, {-20, -.02, 9}};
static const struct metrics_trade zero_pnl[] = {{0, 0, 10}, {0, 0, 20}};
static const struct metrics_trade zero_between_wins[] = {{10, .01, 10}, {0, 0, 10}, {10, .01, 10}};
/* No USD figure: the fraction decides the outcome; no money figures. */
static const struct metrics_trade fraction_only[] = {{NAN, .02, 10}, {NAN, -.01, 20}};
/* A trade with neither P&L is no evidence: not counted, no break in the run. */
static const struct metrics_trade no_outcome_between_wins[] = {
    {10, .01, 10}, {NAN, NAN, 30}, {20, .02, 20}};
/* Missing per-trade values are left out of their means, not read as 0. */
static const struct metrics_trade missing_fraction_and_hold[] = {{30, NAN, NAN}, {-10, -.02, 40}};

#define TRADES(a) #a, a, COUNT(a)

static const struct trades_case trades_cases[] = {
    {TRADES(hand_computed), 6, 3, 3, 0.5, 1.75, .04 / 6, 2.0, .08 / 3, -.04 / 3, 150, 42.5, 2, 3},
    {TRADES(all_wins), 2, 2, 0, 1.0, NAN, .015, NAN, .015, NAN, 30, 10, 2, 0},
    {TRADES(all_losses), 3, 0, 3, 0.0, 0.0, -.02, NAN, NAN, -.02, -60, 7, 0, 3},
    {TRADES(zero_pnl), 2, 0, 2, 0.0, NAN, 0.0, NAN, NAN, 0.0, 0, 15, 0, 2},
    {TRADES(zero_between_wins), 3, 2, 1, 2.0 / 3, NAN, .02 / 3, NAN, .01, 0.0, 20, 10, 1, 1},
    {TRADES(fraction_only), 2, 1, 1, 0.5, NAN, .005, 2.0, .02, -.01, NAN, 15, 1, 1},
    {TRADES(no_outcome_between_wins), 2, 2, 0, 1.0, NAN, .015, NAN, .015, NAN, 30, 15, 2, 0},
    {TRADES(missing_fraction_and_hold), 2, 1, 1, 0.5, 3.0, -.02, NAN, NAN, -.02, 20, 40, 1, 1},
    {"no_trades", NULL, 0, 0, 0, 0, NAN, NAN, NAN, NAN, NAN, NAN, 0, NAN, 0, 0},
};

static void test_trades_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(trades_cases); i++) {
		const struct trades_case *c = &trades_cases[i];
		struct metrics_trades m;
		metrics_trades(c->t, c->n, &m);
		if (m.count != c->count || m.wins != c->wins || m.losses != c->losses ||
		    m.max_consecutive_wins != c->max_consecutive_wins ||
		    m.max_consecutive_losses != c->max_consecutive_losses) {
			print_error("%s: count %ld wins %ld losses %ld runs %ld/%ld, want "
				    "%ld %ld %ld runs %ld/%ld\n",
				    c->name, m.count, m.wins, m.losses, m.max_consecutive_wins,
				    m.max_consecutive_losses, c->count, c->wins, c->losses,
				    c->max_consecutive_wins, c->max_consecutive_losses);
			fail();
		}
		expect(c->name, "win_rate", m.win_rate, c->win_rate, 1e-15);
		expect(c->name, "profit_factor", m.profit_factor, c->profit_factor, 1e-15);
		expect(c->name, "expectancy", m.expectancy, c->expectancy, 1e-15);
		expect(c->name, "payoff_ratio", m.payoff_ratio, c->payoff_ratio, 1e-12);
		expect(c->name, "avg_win", m.avg_win, c->avg_win, 1e-15);
		expect(c->name, "avg_loss", m.avg_loss, c->avg_loss, 1e-15);
		expect(c->name, "pnl_usd", m.pnl_usd, c->pnl_usd, 1e-9);
		expect(c->name, "avg_hold_minutes", m.avg_hold_minutes, c->avg_hold_minutes, 1e-12);
	}
}

/* Runs by pattern: W a win, L a loss, 0 a zero-P&L trade (a loss), ? a
 * trade without an outcome (skipped). */
static void test_trade_streaks_follow_time_order(void **state)
{
	static const struct {
		const char *pattern;
		long wins, losses;
	} cases[] = {
	    {"", 0, 0},		   /* no trades, no runs */
	    {"L", 0, 1},	   /* a run of one */
	    {"WWWLWLLLLWW", 3, 4}, /* the longest of several runs */
	    {"LLWWWW", 4, 2},	   /* the longest run is the last one */
	    {"W0W", 1, 1},	   /* zero P&L breaks a winning run */
	    {"L0L", 0, 3},	   /* and extends a losing one */
	    {"WW?WLL?L", 3, 3},	   /* no outcome: neither breaks nor extends */
	};
	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct metrics_trade t[16];
		size_t n = strlen(cases[i].pattern);
		assert_true(n <= COUNT(t));
		for (size_t k = 0; k < n; k++) {
			char c = cases[i].pattern[k];
			double pnl = c == 'W' ? 1 : c == 'L' ? -1 : c == '0' ? 0 : NAN;
			t[k] = (struct metrics_trade){pnl, pnl / 100, 5};
		}
		struct metrics_trades m;
		metrics_trades(t, n, &m);
		if (m.max_consecutive_wins != cases[i].wins ||
		    m.max_consecutive_losses != cases[i].losses) {
			print_error("\"%s\": runs %ld/%ld, want %ld/%ld\n", cases[i].pattern,
				    m.max_consecutive_wins, m.max_consecutive_losses, cases[i].wins,
				    cases[i].losses);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_returns_match_empyricals_published_fixtures),
	    cmocka_unit_test(
		test_steady_gains_have_sharpe_52_9_and_steady_losses_a_drawdown_of_36_59_percent),
	    cmocka_unit_test(test_returns_without_observations_are_all_nan),
	    cmocka_unit_test(test_returns_by_definition),
	    cmocka_unit_test(test_returns_that_overflow_are_nan_not_inf),
	    cmocka_unit_test(test_trades_table),
	    cmocka_unit_test(test_trade_streaks_follow_time_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
