#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/err.h"
#include "lib/base/jsontext.h"
#include "lib/learn/batch.h"
#include "lib/learn/learner.h"
#include "lib/learn/model.h"
#include "tests/unit/synthetic.h"

/* ---- the fixed dataset -------------------------------------------------------------- */

/*
 * 40 examples: numeric a, b, c (in the components), categorical regime (3
 * values; every other field absent, so "none"), label y, sample weight s.
 *
 * Fitted with l2 = 0.01, tolerance 1e-12, the objective (batch.h)
 *
 *	f = Σ_i s_i·[log(1 + e^t_i) − y_i·t_i] / Σ_i s_i + (0.01/2)·‖w‖²
 *	t_i = bias + Σ_{j∈a,b,c} w_j·clip((x_ij − mean_j)/sd_j, ±5) + Σ_v w_v·[v of i]
 *
 * with mean_j and sd_j (ddof 1) of the 40 values: a 0.30825, 1.0492265466303481;
 * b 4.34275, 2.2090187954070326; c 45.1925, 27.371596615507315 (no z reaches 5).
 * S = Σ s_i = 47, so scikit-learn's LogisticRegression(C = 1/(0.01·47) =
 * 2.127659574468085, fit_intercept=True) with sample_weight s, on the columns
 * [z_a, z_b, z_c, regime=range, regime=trend_down, regime=trend_up], has the
 * same minimizer. The six "field=none" columns are 1 in every example, the
 * bias's column: at the optimum their weights are 0 (the unpenalized bias
 * takes it all), so leaving them out changes nothing.
 *
 * At the minimum: f = 0.5637939018238948, the weighted log loss (f without
 * the L2 term) = 0.556229463657694, bias 0.532874271514, w_a 0.838629121168,
 * w_b −0.096380840710, w_c 0.401602577067, regime=range −0.508219075145,
 * regime=trend_down −0.100562840470, regime=trend_up 0.608781915616.
 * (scipy's BFGS on the same objective: f 0.5637939018238948 to 16 digits;
 * scikit-learn 1.2.1 with tol 1e-12 stops at 0.5637939018827679.)
 */
struct row {
	double a, b, c;
	const char *regime;
	int y;
	double s;
};

static const struct row fixed_rows[40] = {
    {-0.10, 7.45, 57.3, "trend_up", 1, 0.5},   {1.45, 4.33, 40.7, "trend_down", 1, 1.0},
    {1.56, 2.32, 48.6, "range", 0, 1.0},       {0.69, 6.03, 81.5, "trend_up", 1, 2.0},
    {-1.46, 4.54, 8.1, "trend_down", 0, 1.0},  {0.69, 7.29, 20.7, "range", 0, 1.5},
    {-0.17, 6.54, 15.8, "trend_up", 1, 2.0},   {1.24, 8.43, 94.8, "trend_down", 1, 0.5},
    {0.07, 5.38, 59.0, "range", 1, 1.5},       {1.22, 5.08, 28.8, "trend_up", 0, 2.0},
    {0.71, 4.80, 42.1, "trend_down", 1, 1.0},  {-0.85, 4.02, 27.8, "range", 0, 1.0},
    {-1.91, 5.73, 49.7, "trend_up", 0, 1.0},   {-0.66, -1.19, 65.4, "trend_down", 0, 1.0},
    {1.83, 0.67, 78.8, "range", 1, 1.5},       {0.68, 3.29, 79.3, "trend_up", 1, 1.5},
    {1.25, 7.48, 43.8, "trend_down", 0, 0.5},  {1.55, 4.38, 93.9, "range", 1, 1.0},
    {-0.75, 2.84, 1.4, "trend_up", 1, 0.5},    {-0.22, 4.95, 70.9, "trend_down", 0, 0.5},
    {-0.51, 5.69, 25.6, "range", 1, 0.5},      {0.29, -0.78, 50.0, "trend_up", 0, 0.5},
    {1.00, 2.90, 24.0, "trend_down", 1, 2.0},  {-0.78, 1.90, 24.5, "range", 1, 0.5},
    {-0.47, 7.23, 31.5, "trend_up", 1, 0.5},   {1.17, 4.93, 2.0, "trend_down", 1, 2.0},
    {-0.17, 3.53, 23.0, "range", 0, 2.0},      {-2.73, 1.37, 40.5, "trend_up", 0, 2.0},
    {-0.01, 3.32, 38.4, "trend_down", 0, 1.0}, {1.95, 6.40, 56.0, "range", 1, 0.5},
    {0.32, 4.64, 39.4, "trend_up", 1, 0.5},    {0.69, 4.11, 77.7, "trend_down", 1, 1.5},
    {1.30, 7.25, 27.3, "range", 0, 1.5},       {0.47, 3.11, 85.5, "trend_up", 1, 1.0},
    {0.51, 6.65, 36.3, "trend_down", 0, 1.5},  {1.42, 4.03, 41.9, "range", 1, 1.5},
    {-0.11, 2.69, 5.2, "trend_up", 1, 2.0},    {-0.73, 3.86, 0.7, "trend_down", 1, 0.5},
    {0.50, 4.13, 77.7, "range", 1, 2.0},       {1.40, 2.39, 92.1, "trend_up", 1, 1.0},
};

#define FIXED_L2 0.01

/* Examples as the test keeps them, to score models against. */
struct example {
	json_t *components; /* owned */
	struct learner_candidate c;
	int y;
	double s;
};

static struct example *fixed_examples(void)
{
	struct example *ex = calloc(40, sizeof *ex);
	assert_non_null(ex);
	for (int i = 0; i < 40; i++) {
		const struct row *r = &fixed_rows[i];
		ex[i].components = json_pack("{sfsfsf}", "a", r->a, "b", r->b, "c", r->c);
		assert_non_null(ex[i].components);
		ex[i].c = (struct learner_candidate){.confidence = NAN,
						     .score = NAN,
						     .components = ex[i].components,
						     .regime = r->regime};
		ex[i].y = r->y;
		ex[i].s = r->s;
	}
	return ex;
}

static void free_examples(struct example *ex, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(ex[i].components);
	free(ex);
}

static struct batch *batch_of(const struct example *ex, size_t n)
{
	struct err e = {0};
	struct batch *b = batch_new(&e);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		if (batch_add(b, &ex[i].c, ex[i].y, ex[i].s, &e))
			fail_msg("example %zu: %s", i, e.msg);
	return b;
}

static struct model *fit(struct batch *b, double l2, double tolerance, struct batch_report *r)
{
	struct batch_options o;
	batch_options_init(&o);
	o.l2 = l2;
	o.tolerance = tolerance;
	struct err e = {0};
	struct model *m = batch_fit(b, &o, r, &e);
	if (!m)
		fail_msg("batch_fit: %s", e.msg);
	return m;
}

/* ---- the objective, from the header's formula and model_logit alone ---------------- */

static double softplus(double t)
{
	return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

static double objective(const struct model *m, const struct example *ex, size_t n, double l2)
{
	double loss = 0, weight_sum = 0, penalty = 0;
	for (size_t i = 0; i < n; i++) {
		double t = model_logit(m, &ex[i].c);
		loss += ex[i].s * softplus(ex[i].y ? -t : t);
		weight_sum += ex[i].s;
	}
	for (size_t k = 0; k < model_numeric_count(m); k++)
		penalty += pow(model_numeric_at(m, k)->weight, 2);
	for (size_t k = 0; k < model_value_count(m); k++)
		penalty += pow(model_value_at(m, k)->weight, 2);
	return loss / weight_sum + 0.5 * l2 * penalty;
}

/* The parameters of m in one vector: bias, numeric weights, value weights. */
static size_t parameters(const struct model *m, double *theta, size_t room)
{
	size_t k = 0;
	assert_true(room >= 1 + model_numeric_count(m) + model_value_count(m));
	theta[k++] = model_bias(m);
	for (size_t i = 0; i < model_numeric_count(m); i++)
		theta[k++] = model_numeric_at(m, i)->weight;
	for (size_t i = 0; i < model_value_count(m); i++)
		theta[k++] = model_value_at(m, i)->weight;
	return k;
}

/* m with theta (as parameters() lays it out) + delta. */
static struct model *moved(const struct model *m, const double *delta)
{
	size_t nn = model_numeric_count(m), nv = model_value_count(m);
	struct model_numeric numeric[LEARNER_MAX_NUMERIC];
	struct model_value *values = calloc(nv + 1, sizeof *values);
	const char *fields[MODEL_FIELD_COUNT];
	assert_non_null(values);
	for (size_t i = 0; i < model_field_count(m); i++)
		fields[i] = model_field_at(m, i);
	for (size_t i = 0; i < nn; i++) {
		numeric[i] = *model_numeric_at(m, i);
		numeric[i].weight += delta[1 + i];
	}
	for (size_t i = 0; i < nv; i++) {
		values[i] = *model_value_at(m, i);
		values[i].weight += delta[1 + nn + i];
	}
	struct err e = {0};
	struct model *out = model_new(model_bias(m) + delta[0], model_z_clip(m), fields,
				      model_field_count(m), numeric, nn, values, nv, &e);
	if (!out)
		fail_msg("%s", e.msg);
	free(values);
	return out;
}

static double moved_objective(const struct model *m, const double *delta, const struct example *ex,
			      size_t n, double l2)
{
	struct model *p = moved(m, delta);
	double f = objective(p, ex, n, l2);
	model_free(p);
	return f;
}

static const struct model_numeric *numeric_named(const struct model *m, const char *name)
{
	for (size_t i = 0; i < model_numeric_count(m); i++)
		if (strcmp(model_numeric_at(m, i)->name, name) == 0)
			return model_numeric_at(m, i);
	fail_msg("no numeric feature %s", name);
	return NULL;
}

static double value_weight(const struct model *m, const char *text)
{
	for (size_t i = 0; i < model_value_count(m); i++)
		if (strcmp(model_value_at(m, i)->text, text) == 0)
			return model_value_at(m, i)->weight;
	fail_msg("no value %s", text);
	return NAN;
}

/* ---- the fixed dataset's fit -------------------------------------------------------- */

static void test_the_fixed_dataset_fits_to_its_stated_minimum(void **state)
{
	(void)state;
	struct example *ex = fixed_examples();
	struct batch *b = batch_of(ex, 40);
	struct batch_report r;
	struct model *m = fit(b, FIXED_L2, 1e-12, &r);
	assert_true(r.converged);
	assert_int_equal(r.stop, BATCH_STOP_CONVERGED);
	assert_true(r.gradient_norm <= 1e-12);
	assert_int_equal(r.examples, 40);
	assert_near(r.weight_sum, 47.0, 0);
	assert_int_equal(r.numeric_features, 3);
	assert_int_equal(r.numeric_usable, 3);
	assert_int_equal(r.values, 3 + 6); /* regime's three, and "none" of six fields */
	assert_near(r.objective, 0.5637939018238948, 1e-15);
	assert_near(r.log_loss, 0.556229463657694, 1e-12);
	/* The report's objective is the one the model scores. */
	assert_near(objective(m, ex, 40, FIXED_L2), r.objective, 1e-15);

	const struct model_numeric *a = numeric_named(m, "a"), *bb = numeric_named(m, "b"),
				   *c = numeric_named(m, "c");
	assert_near(a->mean, 0.30825, 1e-15);
	assert_near(a->sd, 1.0492265466303481, 1e-15);
	assert_near(bb->mean, 4.34275, 1e-15);
	assert_near(bb->sd, 2.2090187954070326, 1e-15);
	assert_near(c->mean, 45.1925, 1e-13);
	assert_near(c->sd, 27.371596615507315, 1e-13);
	assert_near(model_bias(m), 0.532874271514, 1e-9);
	assert_near(a->weight, 0.838629121168, 1e-9);
	assert_near(bb->weight, -0.096380840710, 1e-9);
	assert_near(c->weight, 0.401602577067, 1e-9);
	assert_near(value_weight(m, "regime=range"), -0.508219075145, 1e-9);
	assert_near(value_weight(m, "regime=trend_down"), -0.100562840470, 1e-9);
	assert_near(value_weight(m, "regime=trend_up"), 0.608781915616, 1e-9);
	assert_near(value_weight(m, "side=none"), 0.0, 1e-9);
	model_free(m);
	batch_free(b);
	free_examples(ex, 40);
}

static void test_the_gradient_at_the_solution_is_zero_by_finite_differences(void **state)
{
	(void)state;
	struct example *ex = fixed_examples();
	struct batch *b = batch_of(ex, 40);
	struct batch_report r;
	struct model *m = fit(b, FIXED_L2, 1e-10, &r);
	double theta[64], delta[64] = {0};
	size_t n = parameters(m, theta, 64);
	const double h = 1e-5;
	for (size_t k = 0; k < n; k++) {
		delta[k] = h;
		double up = moved_objective(m, delta, ex, 40, FIXED_L2);
		delta[k] = -h;
		double down = moved_objective(m, delta, ex, 40, FIXED_L2);
		delta[k] = 0;
		double slope = (up - down) / (2 * h);
		if (!(fabs(slope) < 1e-8))
			fail_msg("parameter %zu: ∂f ≈ %.3g", k, slope);
	}
	model_free(m);
	batch_free(b);
	free_examples(ex, 40);
}

static void test_every_perturbed_solution_has_a_higher_objective(void **state)
{
	(void)state;
	struct example *ex = fixed_examples();
	struct batch *b = batch_of(ex, 40);
	struct batch_report r;
	struct model *m = fit(b, FIXED_L2, 1e-10, &r);
	double theta[64], delta[64];
	size_t n = parameters(m, theta, 64);
	double best = objective(m, ex, 40, FIXED_L2);
	uint64_t rng = 3;
	for (int trial = 0; trial < 300; trial++) {
		double scale = trial < 100 ? 1e-3 : trial < 200 ? 1e-2 : 1e-1;
		for (size_t k = 0; k < n; k++)
			delta[k] = scale * standard_normal(&rng);
		double f = moved_objective(m, delta, ex, 40, FIXED_L2);
		if (!(f > best))
			fail_msg("trial %d: perturbed %.17g ≤ solution %.17g", trial, f, best);
	}
	model_free(m);
	batch_free(b);
	free_examples(ex, 40);
}

/* ---- determinism and weights -------------------------------------------------------- */

/* n examples with 12 components (some absent), confidence and score, and
 * every categorical field, from a planted model. */
static struct example *random_examples(size_t n, uint64_t seed)
{
	static const char *const symbols[] = {"AAPL", "MSFT", "NVDA", "TSLA", "AMD"};
	static const char *const regimes[] = {"trend_up", "trend_down", "range"};
	struct example *ex = calloc(n, sizeof *ex);
	assert_non_null(ex);
	uint64_t rng = seed;
	for (size_t i = 0; i < n; i++) {
		json_t *comp = json_object();
		double t = 0;
		for (int k = 0; k < 12; k++) {
			if (k >= 8 && i % (size_t)(k - 6) == 0)
				continue;
			char name[16];
			snprintf(name, sizeof name, "comp%02d", k);
			double x = standard_normal(&rng) * (k + 1) + k;
			t += (k % 3 - 1) * 0.3 * (x - k) / (k + 1);
			json_object_set_new(comp, name, json_real(x));
		}
		ex[i].components = comp;
		ex[i].c = (struct learner_candidate){
		    .confidence = uniform01(&rng),
		    .score = i % 4 ? 100 * uniform01(&rng) : NAN,
		    .components = comp,
		    .regime = regimes[i % 3],
		    .time_of_day = i % 2 ? "open" : "lunch",
		    .day_of_week = i % 5 ? "monday" : NULL,
		    .side = i % 2 ? "long" : "short",
		    .timeframe = "5m",
		    .sector = i % 7 ? "tech" : "",
		    .symbol = symbols[(i / 3) % 5],
		};
		ex[i].y = uniform01(&rng) < 1 / (1 + exp(-t - (i % 3 == 0 ? 0.4 : -0.2)));
		ex[i].s = 0.25 + 2 * uniform01(&rng);
	}
	return ex;
}

static void test_the_same_examples_give_bit_identical_weights(void **state)
{
	(void)state;
	struct example *ex = random_examples(3000, 11);
	struct batch *first = batch_of(ex, 3000), *second = batch_of(ex, 3000);
	struct batch_report r1, r2;
	struct model *m1 = fit(first, 1e-3, 1e-9, &r1), *m2 = fit(second, 1e-3, 1e-9, &r2);
	assert_true(r1.converged);
	double t1[LEARNER_MAX_NUMERIC + 64], t2[LEARNER_MAX_NUMERIC + 64];
	size_t n1 = parameters(m1, t1, LEARNER_MAX_NUMERIC + 64);
	size_t n2 = parameters(m2, t2, LEARNER_MAX_NUMERIC + 64);
	assert_int_equal(n1, n2);
	assert_int_equal(n1, 1 + 14 + 3 + 2 + 2 + 2 + 1 + 2 + 5);
	assert_memory_equal(t1, t2, n1 * sizeof *t1);
	assert_int_equal(r1.iterations, r2.iterations);
	assert_memory_equal(&r1.objective, &r2.objective, sizeof r1.objective);
	json_t *j1 = model_to_json(m1), *j2 = model_to_json(m2);
	char *s1 = jsontext_dump(j1, JSONTEXT_PRETTY, NULL),
	     *s2 = jsontext_dump(j2, JSONTEXT_PRETTY, NULL);
	assert_string_equal(s1, s2);
	/* Fitting the same batch again gives the same model too. */
	struct model *m3 = fit(first, 1e-3, 1e-9, &r2);
	double t3[LEARNER_MAX_NUMERIC + 64];
	parameters(m3, t3, LEARNER_MAX_NUMERIC + 64);
	assert_memory_equal(t1, t3, n1 * sizeof *t1);
	free(s1);
	free(s2);
	json_decref(j1);
	json_decref(j2);
	model_free(m1);
	model_free(m2);
	model_free(m3);
	batch_free(first);
	batch_free(second);
	free_examples(ex, 3000);
}

static void test_a_weight_of_two_is_the_example_added_twice(void **state)
{
	(void)state;
	/* The example counted twice has no numbers: the means and sds, which
	 * count examples, are the same both ways. */
	struct example *ex = fixed_examples();
	struct example extra = {
	    .c = {.confidence = NAN, .score = NAN, .regime = "range"}, .y = 1, .s = 2.0};
	struct err e = {0};
	struct batch *weighted = batch_of(ex, 40), *twice = batch_of(ex, 40);
	assert_int_equal(batch_add(weighted, &extra.c, 1, 2.0, &e), 0);
	assert_int_equal(batch_add(twice, &extra.c, 1, 1.0, &e), 0);
	assert_int_equal(batch_add(twice, &extra.c, 1, 1.0, &e), 0);
	struct batch_report rw, rt;
	struct model *mw = fit(weighted, FIXED_L2, 1e-12, &rw),
		     *mt = fit(twice, FIXED_L2, 1e-12, &rt);
	assert_near(rw.weight_sum, rt.weight_sum, 0);
	assert_near(rw.objective, rt.objective, 1e-15);
	double tw[64], tt[64];
	size_t n = parameters(mw, tw, 64);
	assert_int_equal(parameters(mt, tt, 64), n);
	for (size_t k = 0; k < n; k++)
		assert_near(tw[k], tt[k], 1e-10);
	/* ... and it moved the model: regime=range won once more. */
	struct batch *once = batch_of(ex, 40);
	assert_int_equal(batch_add(once, &extra.c, 1, 1.0, &e), 0);
	struct batch_report ro;
	struct model *mo = fit(once, FIXED_L2, 1e-12, &ro);
	assert_true(value_weight(mw, "regime=range") > value_weight(mo, "regime=range") + 0.01);
	model_free(mw);
	model_free(mt);
	model_free(mo);
	batch_free(weighted);
	batch_free(twice);
	batch_free(once);
	free_examples(ex, 40);
}

/* ---- refusals ----------------------------------------------------------------------- */

static void test_an_empty_or_single_class_batch_is_refused(void **state)
{
	(void)state;
	struct err e = {0};
	struct batch *b = batch_new(&e);
	assert_null(batch_fit(b, NULL, NULL, &e));
	assert_int_equal(e.code, EINVAL);
	assert_string_equal(e.msg, "batch: no examples");
	struct example *ex = fixed_examples();
	for (int i = 0; i < 40; i++)
		if (ex[i].y)
			assert_int_equal(batch_add(b, &ex[i].c, 1, ex[i].s, &e), 0);
	assert_null(batch_fit(b, NULL, NULL, &e));
	assert_string_equal(e.msg,
			    "batch: all 25 examples are wins: a model needs both wins and losses");
	batch_free(b);
	b = batch_new(&e);
	assert_int_equal(batch_add(b, &ex[0].c, 0, 1.0, &e), 0);
	assert_null(batch_fit(b, NULL, NULL, &e));
	assert_string_equal(e.msg,
			    "batch: all 1 examples are losses: a model needs both wins and losses");
	batch_free(b);
	free_examples(ex, 40);
}

static void test_bad_examples_and_options_are_refused_by_name(void **state)
{
	(void)state;
	struct err e = {0};
	struct example *ex = fixed_examples();
	struct batch *b = batch_of(ex, 40);
	assert_int_equal(batch_add(b, &ex[0].c, 2, 1.0, &e), -1);
	assert_string_equal(e.msg, "label: 2, not 0 or 1");
	assert_int_equal(batch_add(b, &ex[0].c, 1, 0.0, &e), -1);
	assert_string_equal(e.msg, "weight: 0, not a positive finite number");
	assert_int_equal(batch_add(b, &ex[0].c, 1, NAN, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_int_equal(batch_count(b), 40);

	struct batch_options o;
	batch_options_init(&o);
	o.l2 = -1;
	assert_null(batch_fit(b, &o, NULL, &e));
	assert_string_equal(e.msg, "l2: must be a number from 0 to 10");
	batch_options_init(&o);
	o.tolerance = 0;
	assert_null(batch_fit(b, &o, NULL, &e));
	assert_string_equal(e.msg, "tolerance: must be a number from 1e-300 to 1");
	batch_options_init(&o);
	o.max_iterations = 0;
	assert_null(batch_fit(b, &o, NULL, &e));
	assert_string_equal(e.msg, "max_iterations: must be an integer from 1 to 1000000");

	/* Once fitted, the encoding is fixed. */
	struct model *m = batch_fit(b, NULL, NULL, &e);
	assert_non_null(m);
	assert_int_equal(batch_add(b, &ex[0].c, 1, 1.0, &e), -1);
	assert_string_equal(e.msg, "batch: already fitted, its encoding is fixed");
	model_free(m);
	batch_free(b);
	free_examples(ex, 40);
}

static void test_separable_data_with_l2_converges_to_a_finite_solution(void **state)
{
	(void)state;
	struct err e = {0};
	struct batch *b = batch_new(&e);
	uint64_t rng = 5;
	for (int i = 0; i < 200; i++) {
		double x = standard_normal(&rng);
		json_t *comp = json_pack("{sf}", "x", x);
		struct learner_candidate c = {.confidence = NAN, .score = NAN, .components = comp};
		assert_int_equal(batch_add(b, &c, x > 0, 1.0, &e), 0);
		json_decref(comp);
	}
	struct batch_report r;
	struct model *m = fit(b, 1e-4, 1e-8, &r);
	assert_true(r.converged);
	const struct model_numeric *x = numeric_named(m, "x");
	assert_true(isfinite(x->weight) && x->weight > 5);
	assert_true(isfinite(model_bias(m)));
	/* The split is learned: a clear win and a clear loss. */
	json_t *plus = json_pack("{sf}", "x", 1.0), *minus = json_pack("{sf}", "x", -1.0);
	struct learner_candidate cp = {.confidence = NAN, .score = NAN, .components = plus};
	struct learner_candidate cm = {.confidence = NAN, .score = NAN, .components = minus};
	assert_true(model_predict(m, &cp) > 0.95);
	assert_true(model_predict(m, &cm) < 0.05);
	json_decref(plus);
	json_decref(minus);
	model_free(m);
	batch_free(b);
}

static void test_a_fit_stopped_early_says_so_and_still_returns_its_model(void **state)
{
	(void)state;
	struct example *ex = fixed_examples();
	struct batch *b = batch_of(ex, 40);
	struct batch_options o;
	batch_options_init(&o);
	o.max_iterations = 2;
	struct batch_report r;
	struct err e = {0};
	struct model *m = batch_fit(b, &o, &r, &e);
	assert_non_null(m);
	assert_false(r.converged);
	assert_int_equal(r.stop, BATCH_STOP_MAX_ITERATIONS);
	assert_int_equal(r.iterations, 2);
	assert_true(r.gradient_norm > o.tolerance);
	assert_true(r.objective < log(2.0)); /* better than the start, all weights 0 */
	model_free(m);
	batch_free(b);
	free_examples(ex, 40);
}

static void test_a_tolerance_beyond_double_precision_stops_when_no_step_decreases(void **state)
{
	(void)state;
	struct example *ex = fixed_examples();
	struct batch *b = batch_of(ex, 40);
	struct batch_report r;
	struct model *m = fit(b, FIXED_L2, 1e-300, &r);
	assert_int_equal(r.stop, BATCH_STOP_NO_PROGRESS);
	assert_false(r.converged);
	assert_true(r.iterations < 1000);
	/* As far as doubles go: the stated minimum, a gradient of rounding. */
	assert_true(r.gradient_norm < 1e-14);
	assert_near(r.objective, 0.5637939018238948, 1e-15);
	model_free(m);
	batch_free(b);
	free_examples(ex, 40);
}

/* ---- encoding ----------------------------------------------------------------------- */

static void test_the_encoding_is_the_online_models(void **state)
{
	(void)state;
	struct err e = {0};
	struct batch *b = batch_new(&e);
	/* "flat" is always 3 (sd 0), "once" appears once, "rare" twice, "huge"
	 * thrice, once beyond 1e100; the record's confidence takes the name
	 * from a component, which counts when the record has none. */
	for (int i = 0; i < 10; i++) {
		json_t *comp = json_pack("{sisf}", "flat", 3, "confidence", 100.0 + i);
		if (i == 4)
			json_object_set_new(comp, "once", json_real(7.0));
		if (i == 5 || i == 6)
			json_object_set_new(comp, "rare", json_real(i == 5 ? 1.0 : 2.0));
		if (i >= 7) /* 1e200, 1, 2 */
			json_object_set_new(comp, "huge", json_real(i == 7 ? 1e200 : i - 7.0));
		struct learner_candidate c = {.confidence = i < 8 ? 0.1 * i : NAN,
					      .score = NAN,
					      .components = comp,
					      .side = i % 2 ? "long" : "short"};
		assert_int_equal(batch_add(b, &c, i % 3 == 0, 1.0, &e), 0);
		json_decref(comp);
	}
	struct batch_report r;
	struct model *m = fit(b, 1e-2, 1e-9, &r);
	assert_int_equal(r.numeric_features, 5); /* confidence, flat, once, rare, huge */
	assert_int_equal(r.numeric_usable, 3);	 /* confidence, rare, huge */
	const struct model_numeric *flat = numeric_named(m, "flat"),
				   *once = numeric_named(m, "once");
	const struct model_numeric *huge = numeric_named(m, "huge");
	assert_true(isnan(flat->sd) && flat->weight == 0 && flat->mean == 3);
	assert_true(isnan(once->sd) && once->weight == 0 && once->mean == 7);
	/* A number beyond 1e100 is not in the statistics, and counts clipped. */
	assert_near(huge->mean, 1.5, 0);
	assert_near(huge->sd, sqrt(0.5), 1e-16);
	assert_true(huge->weight != 0);
	const struct model_numeric *conf = numeric_named(m, "confidence");
	/* 0, .1, ... .7, then the components 108 and 109. */
	double values[10] = {
	    0,	 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6000000000000001, 0.7000000000000001,
	    108, 109};
	double sum = 0, dev = 0;
	for (int i = 0; i < 10; i++)
		sum += values[i];
	for (int i = 0; i < 10; i++)
		dev += (values[i] - sum / 10) * (values[i] - sum / 10);
	assert_near(conf->mean, sum / 10, 1e-14);
	assert_near(conf->sd, sqrt(dev / 9), 1e-14);
	const struct model_numeric *rare = numeric_named(m, "rare");
	assert_near(rare->mean, 1.5, 0);
	assert_near(rare->sd, sqrt(0.5), 1e-16);
	/* Names in order; every field's values, "none" for the absent ones. */
	for (size_t i = 1; i < model_numeric_count(m); i++)
		assert_true(strcmp(model_numeric_at(m, i - 1)->name, model_numeric_at(m, i)->name) <
			    0);
	assert_int_equal(r.values, 2 + 6);
	value_weight(m, "side=long");
	value_weight(m, "symbol=none");
	value_weight(m, "regime=none");
	model_free(m);
	batch_free(b);
}

static void test_names_and_values_beyond_the_learners_caps_are_ignored_and_counted(void **state)
{
	(void)state;
	struct err e = {0};
	struct batch *b = batch_new(&e);
	for (int i = 0; i < LEARNER_MAX_VALUES + 10; i++) {
		char symbol[32], name[32];
		snprintf(symbol, sizeof symbol, "S%05d", i);
		snprintf(name, sizeof name, "n%05d", i % (LEARNER_MAX_NUMERIC + 3));
		json_t *comp = json_pack("{sf}", name, (double)(i % 17));
		struct learner_candidate c = {
		    .confidence = NAN, .score = NAN, .components = comp, .symbol = symbol};
		assert_int_equal(batch_add(b, &c, i % 2, 1.0, &e), 0);
		json_decref(comp);
	}
	struct batch_report r;
	struct model *m = fit(b, 1e-2, 1e-6, &r);
	assert_int_equal(r.numeric_features, LEARNER_MAX_NUMERIC);
	/* 3 names of 259 were beyond the cap, each in every 259th example. */
	assert_int_equal(r.numeric_ignored, 3 * 15);
	/* 6 "none" values come first, with the first symbol; then symbols fill
	 * the table: LEARNER_MAX_VALUES − 6 of them. */
	assert_int_equal(r.values, LEARNER_MAX_VALUES);
	assert_int_equal(r.values_ignored, 10 + 6);
	assert_int_equal(model_value_count(m), LEARNER_MAX_VALUES);
	model_free(m);
	batch_free(b);
}

/* ---- sample weights ----------------------------------------------------------------- */

static void test_sample_weights_follow_the_online_importance(void **state)
{
	(void)state;
	struct learner_options o;
	learner_options_init(&o); /* half-life 30 days, outcome weight in [0.5, 2] */
	const int64_t day = 86400 * CALENDAR_US_PER_S, t0 = 1770000000 * CALENDAR_US_PER_S;
	/* Mean |pnl_frac| over the known ones: (.01 + .03 + .02 + .02 + .02) / 5 = .02. */
	const int64_t exit_ts[] = {t0 + 60 * day, t0 + 30 * day, t0,
				   CALENDAR_NONE, t0 + 60 * day, t0 + 60 * day};
	const double pnl[] = {0.01, -0.03, 0.02, 0.02, NAN, 0.02};
	const int label[] = {1, 0, 1, 1, 0, 1};
	/* outcome: .5 + .5·(.01/.02) = .75; .5 + .5·1.5 = 1.25; 1; 1; 1 (unknown); 1
	 * decay: 1; .5; .25; 1 (no time); 1; 1 */
	const double want[] = {0.75, 0.625, 0.25, 1.0, 1.0, 1.0};
	double got[6];
	struct err e = {0};
	assert_int_equal(batch_sample_weights(&o, 6, exit_ts, pnl, label, got, &e), 0);
	for (int i = 0; i < 6; i++)
		assert_near(got[i], want[i], 1e-15);
	/* The product is clamped to [weight_min/2, 1.5·weight_max]: 0.25 a
	 * quarter's half-life older. */
	const int64_t old[] = {t0 + 120 * day, t0};
	const double flat[] = {0.01, 0.01};
	assert_int_equal(batch_sample_weights(&o, 2, old, flat, label, got, &e), 0);
	assert_near(got[0], 1.0, 1e-15);
	assert_near(got[1], 0.25, 1e-15);
	/* Asymmetric: wins × 1.3, losses × 0.7. */
	o.asymmetric = 1;
	assert_int_equal(batch_sample_weights(&o, 6, exit_ts, pnl, label, got, &e), 0);
	assert_near(got[0], 0.75 * 1.3, 1e-15);
	assert_near(got[1], 0.625 * 0.7, 1e-15);
	/* No known pnl_frac at all: m = 1. */
	const double none[] = {NAN, 0.5};
	o.asymmetric = 0;
	assert_int_equal(batch_sample_weights(&o, 1, exit_ts, none, label, got, &e), 0);
	assert_near(got[0], 1.0, 1e-15);
	const double zero[] = {0.0, 0.0};
	assert_int_equal(batch_sample_weights(&o, 2, exit_ts, zero, label, got, &e), 0);
	assert_near(got[0], 0.5, 1e-15); /* m 0 → 1: .5 + 0 */
	o.half_life_days = 0;
	assert_int_equal(batch_sample_weights(&o, 2, exit_ts, zero, label, got, &e), -1);
	assert_string_equal(e.msg, "half_life_days: must be a number from 0.01 to 36500");
	learner_options_init(&o);
	o.weight_min = 3;
	assert_int_equal(batch_sample_weights(&o, 2, exit_ts, zero, label, got, &e), -1);
	assert_string_equal(e.msg, "weight_min: must not be above weight_max (2)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_fixed_dataset_fits_to_its_stated_minimum),
	    cmocka_unit_test(test_the_gradient_at_the_solution_is_zero_by_finite_differences),
	    cmocka_unit_test(test_every_perturbed_solution_has_a_higher_objective),
	    cmocka_unit_test(test_the_same_examples_give_bit_identical_weights),
	    cmocka_unit_test(test_a_weight_of_two_is_the_example_added_twice),
	    cmocka_unit_test(test_an_empty_or_single_class_batch_is_refused),
	    cmocka_unit_test(test_bad_examples_and_options_are_refused_by_name),
	    cmocka_unit_test(test_separable_data_with_l2_converges_to_a_finite_solution),
	    cmocka_unit_test(test_a_fit_stopped_early_says_so_and_still_returns_its_model),
	    cmocka_unit_test(test_a_tolerance_beyond_double_precision_stops_when_no_step_decreases),
	    cmocka_unit_test(test_the_encoding_is_the_online_models),
	    cmocka_unit_test(
		test_names_and_values_beyond_the_learners_caps_are_ignored_and_counted),
	    cmocka_unit_test(test_sample_weights_follow_the_online_importance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
