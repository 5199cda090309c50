#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/models/gate.h"

static void test_the_default_gate_is_the_original_systems(void **state)
{
	struct retrain_options o;
	char text[200];
	(void)state;
	retrain_options_init(&o);
	assert_int_equal(option_check(&retrain_option_table, &o, NULL), 0);
	static const char *const want[] = {
	    "log_loss below 1 × the base rate's",
	    "accuracy at least 0.9500 × the deployed model's",
	    "taken_sharpe at least 0.5000",
	    "taken_sharpe at least 0.9000 × the deployed model's",
	    "log_loss at most 1 × the deployed model's",
	};
	assert_int_equal(o.n_gate, 5);
	for (size_t i = 0; i < o.n_gate; i++) {
		gate_threshold_text(&o.gate[i], text, sizeof text);
		assert_string_equal(text, want[i]);
	}
	assert_true(o.window_days == 60 && o.holdout_fraction == 0.2 && o.keep_bundles == 10);
	assert_true(o.min_holdout_trades == 20 && o.take_threshold == 0.5);
	assert_string_equal(o.primary_metric, "log_loss");
	assert_true(o.batch.l2 == 1e-4);
}

static void test_thresholds_are_read_and_refused_naming_the_key(void **state)
{
	static const struct {
		const char *json, *message;
	} cases[] = {
	    {"{\"gate\": \"orig\"}", "FILE:1: gate: must be \"original\" or a list of thresholds "
				     "{\"metric\", \"compare\", and "
				     "one of \"min\", \"max\", \"above\", \"below\"}"},
	    {"{\"gate\": [{\"metric\": \"auc\"}]}",
	     "FILE:1: gate[0]: needs exactly one of \"min\", \"max\", \"above\", \"below\""},
	    {"{\"gate\": [{\"metric\": \"auc\", \"min\": 0.5}, {\"metric\": \"auc\", \"min\": 1, "
	     "\"max\": 2}]}",
	     "FILE:1: gate[1]: needs exactly one of \"min\", \"max\", \"above\", \"below\""},
	    {"{\"gate\": [{\"min\": 1}]}", "FILE:1: gate[0]: has no \"metric\""},
	    {"{\"gate\": [{\"metric\": \"sharpness\", \"min\": 1}]}",
	     "FILE:1: gate[0].metric: must be one of log_loss, auc, brier, ece, accuracy, "
	     "taken_count, taken_win_rate, taken_profit_factor, taken_pnl_usd, taken_sharpe"},
	    {"{\"gate\": [{\"metric\": \"auc\", \"compare\": \"yesterday\", \"min\": 1}]}",
	     "FILE:1: gate[0].compare: must be \"absolute\", \"deployed\" or \"base_rate\""},
	    {"{\"gate\": [{\"metric\": \"auc\", \"min\": \"high\"}]}",
	     "FILE:1: gate[0].min: must be a number from -1e12 to 1e12"},
	    {"{\"gate\": [{\"metric\": \"auc\", \"at_least\": 1}]}",
	     "FILE:1: gate[0].at_least: unknown key (metric, compare, min, max, above, below)"},
	    {"{\"primary_metric\": \"profit\"}",
	     "FILE:1: primary_metric: must be a hold-out figure name"},
	    {"{\"holdout_fraction\": 0.95}",
	     "FILE:1: holdout_fraction: must be a number from 0.01 to 0.9"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct retrain_options o;
		struct err err = {0};
		json_t *j = json_loads(cases[i].json, 0, NULL);
		struct option_source src = {"FILE", cases[i].json};
		retrain_options_init(&o);
		assert_non_null(j);
		assert_int_equal(option_read(&retrain_option_table, &o, j, &src, &err), -1);
		if (strcmp(err.msg, cases[i].message) != 0)
			fail_msg("%s:\n  got  %s\n  want %s", cases[i].json, err.msg,
				 cases[i].message);
		json_decref(j);
	}
	/* And a list that reads. */
	struct retrain_options o;
	const char *text = "{\"gate\": [{\"metric\": \"auc\", \"above\": 0.55}, {\"metric\": "
			   "\"brier\", \"compare\": \"base_rate\", \"max\": 0.99}], \"l2\": 0.01}";
	json_t *j = json_loads(text, 0, NULL);
	struct option_source src = {"FILE", text};
	retrain_options_init(&o);
	assert_int_equal(option_read(&retrain_option_table, &o, j, &src, NULL), 0);
	json_decref(j);
	assert_int_equal(o.n_gate, 2);
	assert_true(o.gate[0].bound == GATE_ABOVE && o.gate[0].compare == GATE_ABSOLUTE);
	assert_true(o.gate[1].bound == GATE_MAX && o.gate[1].compare == GATE_BASE_RATE);
	assert_true(o.batch.l2 == 0.01);
}

static struct holdout_figures figures(double log_loss, double accuracy, double sharpe)
{
	struct holdout_figures f;
	memset(&f, 0, sizeof f);
	f.log_loss = log_loss;
	f.accuracy = accuracy;
	f.taken.sharpe = sharpe;
	f.auc = f.brier = f.ece = NAN;
	return f;
}

/* The checks of one gate_apply, as "pass/applied" letters and texts. */
static int apply(const struct holdout_figures *c, const struct holdout_figures *deployed,
		 const struct holdout_figures *base, char *marks, const char **texts, json_t **keep)
{
	struct retrain_options o;
	retrain_options_init(&o);
	json_t *checks = json_array();
	int all = gate_apply(&o, c, deployed, base, checks);
	for (size_t i = 0; i < json_array_size(checks); i++) {
		json_t *k = json_array_get(checks, i);
		marks[i] = !json_is_true(json_object_get(k, "applied")) ? '-'
			   : json_is_true(json_object_get(k, "pass"))	? 'y'
									: 'n';
		texts[i] = json_string_value(json_object_get(k, "text"));
	}
	marks[json_array_size(checks)] = '\0';
	*keep = checks;
	return all;
}

static void test_the_gate_applies_each_threshold_and_names_it(void **state)
{
	struct holdout_figures base = figures(0.68, 0.55, NAN);
	struct holdout_figures good = figures(0.60, 0.70, 1.2);
	struct holdout_figures deployed = figures(0.62, 0.75, 1.0);
	char marks[8];
	const char *texts[8];
	json_t *keep;
	(void)state;

	/* A first model: only the absolute and base-rate thresholds. */
	assert_int_equal(apply(&good, NULL, &base, marks, texts, &keep), 1);
	assert_string_equal(marks, "y-y--");
	assert_string_equal(texts[0],
			    "log_loss below 1 × the base rate's: 0.6000 < 0.6800 (the base "
			    "rate's 0.6800): passes");
	assert_string_equal(texts[1],
			    "accuracy at least 0.9500 × the deployed model's: not applied "
			    "(no model is deployed yet)");
	json_decref(keep);

	/* Against a deployed model: accuracy 0.70 < 0.95 × 0.75 fails, the rest pass. */
	assert_int_equal(apply(&good, &deployed, &base, marks, texts, &keep), 0);
	assert_string_equal(marks, "ynyyy");
	assert_string_equal(texts[1],
			    "accuracy at least 0.9500 × the deployed model's: 0.7000, not "
			    "≥ 0.7125 (the deployed model's 0.7500): fails");
	json_decref(keep);

	/* An undefined Sharpe fails its absolute threshold; an undefined
	 * deployed Sharpe leaves the relative one unapplied. */
	struct holdout_figures no_sharpe = figures(0.60, 0.74, NAN);
	struct holdout_figures deployed_flat = figures(0.62, 0.75, NAN);
	assert_int_equal(apply(&no_sharpe, &deployed_flat, &base, marks, texts, &keep), 0);
	assert_string_equal(marks, "yyn-y");
	assert_string_equal(texts[2],
			    "taken_sharpe at least 0.5000: undefined, not ≥ 0.5000: fails");
	assert_string_equal(texts[3], "taken_sharpe at least 0.9000 × the deployed model's: not "
				      "applied (the deployed model's taken_sharpe is undefined)");
	json_decref(keep);

	/* Worse than the base rate: learned nothing. Equal to it: still not below. */
	struct holdout_figures same = figures(0.68, 0.70, 1.0);
	assert_int_equal(apply(&same, NULL, &base, marks, texts, &keep), 0);
	assert_string_equal(marks, "n-y--");
	json_decref(keep);
}

static void test_a_check_holds_by_its_bound(void **state)
{
	(void)state;
	assert_true(gate_holds(1, GATE_MIN, 1) && !gate_holds(1, GATE_ABOVE, 1));
	assert_true(gate_holds(1, GATE_MAX, 1) && !gate_holds(1, GATE_BELOW, 1));
	assert_true(gate_holds(0.5, GATE_BELOW, 1) && gate_holds(2, GATE_ABOVE, 1));
	assert_false(gate_holds(NAN, GATE_MIN, 0) || gate_holds(0, GATE_MAX, NAN));
	json_t *c = gate_check("outcomes held out", 12, GATE_MIN, 20, 1, NULL);
	assert_string_equal(json_string_value(json_object_get(c, "text")),
			    "outcomes held out: 12, not ≥ 20: fails");
	assert_true(json_is_false(json_object_get(c, "pass")));
	assert_true(json_real_value(json_object_get(c, "limit")) == 20);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_default_gate_is_the_original_systems),
	    cmocka_unit_test(test_thresholds_are_read_and_refused_naming_the_key),
	    cmocka_unit_test(test_the_gate_applies_each_threshold_and_names_it),
	    cmocka_unit_test(test_a_check_holds_by_its_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
