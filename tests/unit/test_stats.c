#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "lib/learn/stats.h"

/* cmocka here has assert_float_equal only (floats): doubles need this. */
#define assert_near(a, b, tolerance)                                                               \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (!(fabs(a_ - b_) <= (tolerance)))                                               \
			fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                        \
	} while (0)

/* ---- Wilson score interval ----------------------------------------------------- */

struct wilson_case {
	long k, n;
	double lo, hi; /* expected, to tolerance */
	double tolerance;
};

/*
 * Published values: Newcombe, R. G. (1998), "Two-sided confidence intervals
 * for the single proportion: comparison of seven methods", Statistics in
 * Medicine 17:857–872, Table II, method 3 (score interval without
 * continuity correction, z = 1.96), given to 4 decimals: 81/263, 15/148,
 * 0/20, 1/29. The others follow from the closed form: for k = 0 the upper
 * bound is z²/(n + z²) (0/10: 3.8416/13.8416 = 0.277540), and n/n mirrors
 * 0/n.
 */
static const struct wilson_case wilson_cases[] = {
    {81, 263, 0.2553, 0.3662, 5e-5},
    {15, 148, 0.0624, 0.1605, 5e-5},
    {0, 20, 0.0, 0.1611, 5e-5},
    {1, 29, 0.0061, 0.1718, 5e-5},
    {0, 10, 0.0, 3.8416 / 13.8416, 1e-12},
    {10, 10, 1 - 3.8416 / 13.8416, 1.0, 1e-12},
    {0, 0, 0.0, 1.0, 0.0},			/* no trials: anything */
    {-3, 10, 0.0, 3.8416 / 13.8416, 1e-12},	/* k clamped to 0 */
    {12, 10, 1 - 3.8416 / 13.8416, 1.0, 1e-12}, /* k clamped to n */
};

static void test_wilson_matches_newcombe_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof wilson_cases / sizeof wilson_cases[0]; i++) {
		const struct wilson_case *c = &wilson_cases[i];
		double lo, hi;
		stats_wilson(c->k, c->n, STATS_Z95, &lo, &hi);
		if (fabs(lo - c->lo) > c->tolerance || fabs(hi - c->hi) > c->tolerance)
			fail_msg("%ld/%ld: [%.6f, %.6f], expected [%.4f, %.4f]", c->k, c->n, lo, hi,
				 c->lo, c->hi);
	}
}

static void test_wilson_ends_are_exact_at_zero_and_all(void **state)
{
	(void)state;
	for (long n = 1; n <= 500; n++) {
		double lo, hi;
		stats_wilson(0, n, STATS_Z95, &lo, &hi);
		assert_true(lo == 0.0);
		stats_wilson(n, n, STATS_Z95, &lo, &hi);
		assert_true(hi == 1.0);
	}
}

static void test_wilson_contains_the_rate_and_narrows_with_n(void **state)
{
	(void)state;
	double width = 1;
	for (long n = 10; n <= 10000; n *= 10) {
		double lo, hi;
		stats_wilson(7 * n / 10, n, STATS_Z95, &lo, &hi);
		assert_true(lo <= 0.7 && 0.7 <= hi);
		assert_true(hi - lo < width);
		width = hi - lo;
	}
}

static void test_wilson_real_agrees_on_whole_counts_and_takes_fractions(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof wilson_cases / sizeof wilson_cases[0]; i++) {
		double lo, hi, rlo, rhi;
		stats_wilson(wilson_cases[i].k, wilson_cases[i].n, STATS_Z95, &lo, &hi);
		stats_wilson_real((double)wilson_cases[i].k, (double)wilson_cases[i].n, STATS_Z95,
				  &rlo, &rhi);
		assert_true(lo == rlo && hi == rhi);
	}
	/* Decayed counts: 10.5 of 15 lies between 10/15 and 11/15. */
	double lo, hi, lo10, hi10, lo11, hi11;
	stats_wilson_real(10.5, 15, STATS_Z95, &lo, &hi);
	stats_wilson(10, 15, STATS_Z95, &lo10, &hi10);
	stats_wilson(11, 15, STATS_Z95, &lo11, &hi11);
	assert_true(lo10 < lo && lo < lo11 && hi10 < hi && hi < hi11);
	stats_wilson_real(0.5, 0, STATS_Z95, &lo, &hi);
	assert_true(lo == 0 && hi == 1);
}

/* ---- Beta posterior ------------------------------------------------------------ */

struct beta_case {
	int wins, losses;
	double mean;
};

static const struct beta_case beta_cases[] = {
    {0, 0, 0.5},	    /* the prior Beta(1, 1) */
    {1, 0, 2.0 / 3.0},	    /* Laplace's rule of succession: (k+1)/(n+2) */
    {0, 1, 1.0 / 3.0},	    /* one loss */
    {7, 3, 8.0 / 12.0},	    /* 70%: 8/12 */
    {70, 30, 71.0 / 102.0}, /* 70%, more evidence: nearer 0.7 */
    {0, 50, 1.0 / 52.0},    /* a losing streak */
};

static void test_beta_mean_after_updates(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof beta_cases / sizeof beta_cases[0]; i++) {
		const struct beta_case *c = &beta_cases[i];
		struct stats_beta b;
		stats_beta_init(&b);
		for (int k = 0; k < c->wins; k++)
			stats_beta_update(&b, 1);
		for (int k = 0; k < c->losses; k++)
			stats_beta_update(&b, 0);
		assert_true(b.alpha == 1 + c->wins && b.beta == 1 + c->losses);
		assert_near(stats_beta_mean(&b), c->mean, 1e-15);
	}
}

static void test_beta_interval_is_normal_approximation_clamped(void **state)
{
	(void)state;
	/* Beta(71, 31): mean 71/102, variance ab/((a+b)²(a+b+1)). */
	struct stats_beta b = {71, 31};
	double lo, hi, mean = 71.0 / 102.0, sd = sqrt(71.0 * 31.0 / (102.0 * 102.0 * 103.0));
	stats_beta_interval(&b, &lo, &hi);
	assert_near(lo, mean - 1.96 * sd, 1e-15);
	assert_near(hi, mean + 1.96 * sd, 1e-15);
	/* The prior: mean ± 1.96·0.289 leaves [0, 1], clamped. */
	struct stats_beta prior;
	stats_beta_init(&prior);
	stats_beta_interval(&prior, &lo, &hi);
	assert_true(lo == 0.0 && hi == 1.0);
}

/* ---- EWMA ------------------------------------------------------------------------ */

/* alpha 0.5 over 1, 0, 0, 1, 1: the first sets the value, then halves. */
static const struct {
	double x, value;
} ewma_table[] = {
    {1, 1.0}, {0, 0.5}, {0, 0.25}, {1, 0.625}, {1, 0.8125},
};

static void test_ewma_of_outcomes_table(void **state)
{
	(void)state;
	struct stats_ewma e;
	stats_ewma_init(&e, 0.5);
	assert_true(e.n == 0 && e.value == 0);
	for (size_t i = 0; i < sizeof ewma_table / sizeof ewma_table[0]; i++) {
		stats_ewma_add(&e, ewma_table[i].x);
		assert_true(e.value == ewma_table[i].value); /* exact in binary */
		assert_int_equal(e.n, (long)i + 1);
	}
}

static void test_ewma_first_observation_sets_the_value(void **state)
{
	(void)state;
	struct stats_ewma e;
	stats_ewma_init(&e, 0.05);
	stats_ewma_add(&e, 0);
	assert_true(e.value == 0);
	stats_ewma_add(&e, 1);
	assert_near(e.value, 0.05, 1e-15);
	stats_ewma_init(&e, 0.05);
	stats_ewma_add(&e, 1);
	assert_true(e.value == 1);
}

/* ---- Welford ------------------------------------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
	/* splitmix64: a fixed sequence, the same on every machine. */
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void test_welford_matches_two_pass_on_random_data(void **state)
{
	(void)state;
	static double x[10000];
	uint64_t seed = 42;
	/* Values around a large offset, where a naive sum of squares loses
	 * digits and Welford must not. */
	for (size_t n = 2; n <= 10000; n *= 10) {
		struct stats_welford w;
		stats_welford_init(&w);
		double sum = 0;
		for (size_t i = 0; i < n; i++) {
			x[i] = 1e4 + (double)(next_random(&seed) >> 11) / 9007199254740992.0 * 100;
			stats_welford_add(&w, x[i]);
			sum += x[i];
		}
		double mean = sum / (double)n, ss = 0;
		for (size_t i = 0; i < n; i++)
			ss += (x[i] - mean) * (x[i] - mean);
		double sd = sqrt(ss / (double)(n - 1));
		assert_int_equal(w.n, (long)n);
		assert_true(fabs(w.mean - mean) <= 1e-12 * mean);
		assert_true(fabs(stats_welford_sd(&w) - sd) <= 1e-12 * sd);
	}
}

static void test_welford_known_values_and_small_n(void **state)
{
	(void)state;
	/* 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample sd √(32/7). */
	static const double data[] = {2, 4, 4, 4, 5, 5, 7, 9};
	struct stats_welford w = {0};
	assert_true(stats_welford_sd(&w) == 0);
	stats_welford_add(&w, 3);
	assert_true(stats_welford_sd(&w) == 0); /* n < 2 */
	stats_welford_init(&w);
	for (size_t i = 0; i < 8; i++)
		stats_welford_add(&w, data[i]);
	assert_near(w.mean, 5, 1e-15);
	assert_near(stats_welford_variance(&w), 32.0 / 7.0, 1e-14);
	assert_near(stats_welford_sd(&w), sqrt(32.0 / 7.0), 1e-14);
}

/* Page-Hinkley by hand on a short stream, delta 0: x = 1, 1, 4.
 * means 1, 1, 2; m = 0, 0, 2; M = 0 → PH 2. */
static void test_page_hinkley_by_hand(void **state)
{
	(void)state;
	struct stats_page_hinkley ph;
	stats_page_hinkley_init(&ph);
	assert_true(stats_page_hinkley_value(&ph) == 0);
	stats_page_hinkley_add(&ph, 1, 0);
	stats_page_hinkley_add(&ph, 1, 0);
	stats_page_hinkley_add(&ph, NAN, 0); /* not an observation */
	stats_page_hinkley_add(&ph, 4, 0);
	assert_int_equal(ph.n, 3);
	assert_true(fabs(stats_page_hinkley_value(&ph) - 2.0) < 1e-12);
}

/* A stationary loss stays low; the same loss stepping up 0.3 after 2000
 * observations drives the statistic far above it. */
static void test_page_hinkley_rises_on_a_step_up_and_not_on_noise(void **state)
{
	(void)state;
	struct stats_page_hinkley flat, step;
	uint64_t seed = 42;
	stats_page_hinkley_init(&flat);
	stats_page_hinkley_init(&step);
	for (int i = 0; i < 4000; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		double u = (double)(seed >> 11) / 9007199254740992.0; /* [0, 1) */
		double x = 0.69 + 0.4 * (u - 0.5);
		stats_page_hinkley_add(&flat, x, 0.005);
		stats_page_hinkley_add(&step, x + (i >= 2000 ? 0.3 : 0), 0.005);
	}
	assert_true(stats_page_hinkley_value(&flat) < 10);
	assert_true(stats_page_hinkley_value(&step) > 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wilson_matches_newcombe_table),
	    cmocka_unit_test(test_wilson_ends_are_exact_at_zero_and_all),
	    cmocka_unit_test(test_wilson_contains_the_rate_and_narrows_with_n),
	    cmocka_unit_test(test_wilson_real_agrees_on_whole_counts_and_takes_fractions),
	    cmocka_unit_test(test_beta_mean_after_updates),
	    cmocka_unit_test(test_beta_interval_is_normal_approximation_clamped),
	    cmocka_unit_test(test_ewma_of_outcomes_table),
	    cmocka_unit_test(test_ewma_first_observation_sets_the_value),
	    cmocka_unit_test(test_welford_matches_two_pass_on_random_data),
	    cmocka_unit_test(test_welford_known_values_and_small_n),
	    cmocka_unit_test(test_page_hinkley_by_hand),
	    cmocka_unit_test(test_page_hinkley_rises_on_a_step_up_and_not_on_noise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
