#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "lib/models/holdout.h"

#define CLOSE(x, want)                                                                             \
	assert_true(fabs((x) - (double)(want)) <= 1e-12 * fmax(1, fabs((double)(want))))

/*
 * Six hold-out outcomes over three trading days, the last a partial close:
 *
 *   p      0.9   0.8   0.6   0.4   0.3   0.7
 *   win    1     1     0     1     0     1
 *   USD    +10   +5    -4    +3    -6    +2 (partial)
 *   day    0     0     1     1     2     2      capital 1000, 2000, 500
 *
 * Figures (computed by hand, and with Python's math and statistics):
 *   log loss 0.4790725697663018, Brier 0.15833333333333333, accuracy 4/6,
 *   AUC 0.875 (7 of the 8 pairs), ECE 0.35 (buckets .9, .8, .6, .4, .3,
 *   .7 each of one outcome: Σ |p − y| / 6 = 2.1 / 6).
 *   Taken at p ≥ 0.5 (outcomes 1, 2, 3, 6): full closes +10, +5, −4: count 3,
 *   win rate 2/3, profit factor 15/4, P&L 11; daily returns 15/1000,
 *   −4/2000, 2/500 (the partial close counts in its day's return):
 *   Sharpe 10.433646847918764.
 *   All: full closes +10, +5, −4, +3, −6: count 5, win rate 0.6, profit
 *   factor 18/10, P&L 8; returns 15/1000, −1/2000, −4/500: Sharpe
 *   2.9323071457216745.
 */
static const double p[] = {0.9, 0.8, 0.6, 0.4, 0.3, 0.7};
static const int label[] = {1, 1, 0, 1, 0, 1};
static const double usd[] = {10, 5, -4, 3, -6, 2};
static const double frac[] = {0.01, 0.005, -0.004, 0.003, -0.006, 0.002};
static const int full[] = {1, 1, 1, 1, 1, 0};
static const size_t day[] = {0, 0, 1, 1, 2, 2};
static const double capital[] = {1000, 2000, 500};

static const struct holdout_set set = {6, label, usd, frac, full, day, 3, capital};

static void test_figures_of_a_small_hold_out(void **state)
{
	struct holdout_figures f;
	(void)state;
	assert_int_equal(holdout_figures(&set, p, 0.5, &f), 0);
	assert_int_equal(f.outcomes, 6);
	assert_int_equal(f.wins, 4);
	CLOSE(f.log_loss, 0.4790725697663018);
	CLOSE(f.brier, 0.15833333333333333);
	CLOSE(f.accuracy, 4.0 / 6.0);
	CLOSE(f.auc, 0.875);
	CLOSE(f.ece, 0.35);
	assert_int_equal(f.taken.count, 3);
	CLOSE(f.taken.win_rate, 2.0 / 3.0);
	CLOSE(f.taken.profit_factor, 3.75);
	CLOSE(f.taken.pnl_usd, 11);
	CLOSE(f.taken.sharpe, 10.433646847918764);
	assert_int_equal(f.all.count, 5);
	CLOSE(f.all.win_rate, 0.6);
	CLOSE(f.all.profit_factor, 1.8);
	CLOSE(f.all.pnl_usd, 8);
	CLOSE(f.all.sharpe, 2.9323071457216745);
}

static void test_a_threshold_that_takes_nothing_leaves_the_trading_figures_undefined(void **state)
{
	struct holdout_figures f;
	(void)state;
	assert_int_equal(holdout_figures(&set, p, 0.95, &f), 0);
	assert_int_equal(f.taken.count, 0);
	assert_true(isnan(f.taken.win_rate) && isnan(f.taken.profit_factor));
	/* Every day returns 0: a flat series has no Sharpe. */
	assert_true(isnan(f.taken.sharpe));
	assert_true(fabs(f.taken.pnl_usd) == 0);
	/* A constant prediction ranks nothing: AUC ½. */
	const double flat[] = {0.6, 0.6, 0.6, 0.6, 0.6, 0.6};
	assert_int_equal(holdout_figures(&set, flat, 0.5, &f), 0);
	CLOSE(f.auc, 0.5);
	assert_int_equal(f.taken.count, 5);
}

static void test_figures_survive_json_and_are_found_by_name(void **state)
{
	struct holdout_figures f, back;
	(void)state;
	assert_int_equal(holdout_figures(&set, p, 0.95, &f), 0);
	json_t *j = holdout_figures_json(&f);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(json_object_get(j, "taken"), "sharpe")));
	assert_int_equal(holdout_figures_from_json(j, &back), 0);
	json_decref(j);
	assert_memory_equal(&f.log_loss, &back.log_loss, sizeof f.log_loss);
	assert_true(isnan(back.taken.sharpe) && back.all.count == 5);
	static const struct {
		const char *name;
		double want;
		int higher;
	} names[] = {
	    {"log_loss", 0.4790725697663018, 0}, {"auc", 0.875, 1},
	    {"brier", 0.15833333333333333, 0},	 {"ece", 0.35, 0},
	    {"accuracy", 4.0 / 6.0, 1},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		assert_true(holdout_metric_known(names[i].name));
		CLOSE(holdout_metric(&f, names[i].name), names[i].want);
		assert_int_equal(holdout_metric_higher_is_better(names[i].name), names[i].higher);
	}
	assert_int_equal(holdout_metric(&f, "taken_count"), 0);
	assert_true(holdout_metric_higher_is_better("taken_sharpe"));
	assert_false(holdout_metric_known("sharpness"));
	assert_true(isnan(holdout_metric(&f, "sharpness")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_figures_of_a_small_hold_out),
	    cmocka_unit_test(
		test_a_threshold_that_takes_nothing_leaves_the_trading_figures_undefined),
	    cmocka_unit_test(test_figures_survive_json_and_are_found_by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
