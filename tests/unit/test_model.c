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
#include "lib/ingest/record.h"
#include "lib/learn/learner.h"
#include "lib/learn/model.h"
#include "tests/unit/synthetic.h"

static int64_t monday_1500_utc; /* 10:00 in New York */

static int set_zone(void **state)
{
	(void)state;
	if (calendar_parse_iso("2026-02-02T15:00:00Z", &monday_1500_utc))
		return -1;
	return calendar_set_zone("America/New_York");
}

static const char *const symbols[] = {"AAPL", "MSFT", "NVDA", "TSLA", "AMD", "META"};
static const char *const regimes[] = {"trend_up", "trend_down", "range", ""};
static const char *const sectors[] = {"tech", "energy", NULL};

/* Trade i: a planted signal in x1 and x2, components that come and go
 * (x3 in every third trade, "flat" always 1: never usable), confidence and
 * score mostly there, categorical context of several values, some absent. */
static void synthetic_trade(struct record *r, uint64_t *rng, long i)
{
	double x1 = standard_normal(rng), x2 = standard_normal(rng);
	double logit = 1.2 * x1 - 0.8 * x2 + (i % 2 ? 0.3 : -0.3);
	int win = uniform01(rng) < 1.0 / (1.0 + exp(-logit));
	memset(r, 0, sizeof *r);
	r->kind = PROFILE_KIND_CLOSE;
	r->entry_price = r->exit_price = r->qty = r->hold_minutes = r->fraction = NAN;
	r->equity = r->price = r->stop_loss = r->take_profit = NAN;
	json_t *components = json_pack("{sfsfsi}", "x1", x1, "x2", x2, "flat", 1);
	assert_non_null(components);
	if (i % 3 == 0)
		json_object_set_new(components, "x3", json_real(10.0 + standard_normal(rng)));
	r->row = r->components = components;
	r->confidence = i % 7 == 0 ? NAN : 0.5 + 0.1 * standard_normal(rng);
	r->score = i % 5 == 0 ? NAN : 50.0 + 10.0 * x1;
	r->symbol = symbols[i % 6];
	r->regime = regimes[i % 4];
	r->sector = sectors[i % 3];
	r->timeframe = i % 2 ? "5m" : "1h";
	r->side = i % 5 == 4 ? 0 : i % 2 ? 1 : -1;
	r->ts = monday_1500_utc + i * 600 * CALENDAR_US_PER_S;
	r->entry_ts = i % 11 == 0 ? CALENDAR_NONE : r->ts - 45 * 60 * CALENDAR_US_PER_S;
	r->pnl_frac = (win ? 1 : -1) * (0.002 + 0.02 * uniform01(rng));
	r->pnl_usd = 1000.0 * r->pnl_frac;
}

static struct learner *trained_learner(int hash_bits, long trades)
{
	struct learner_options o;
	learner_options_init(&o);
	o.hash_bits = hash_bits;
	o.eta = 0.1;
	struct err e = {0};
	struct learner *l = learner_new(&o, &e);
	if (!l)
		fail_msg("learner_new: %s", e.msg);
	uint64_t rng = 7;
	for (long i = 0; i < trades; i++) {
		struct record r;
		synthetic_trade(&r, &rng, i);
		learner_learn(l, &r);
		record_release(&r);
	}
	return l;
}

/* The export as a bot reads it: written as text and parsed back. */
static struct model *model_of_learner(const struct learner *l)
{
	json_t *exported = learner_export(l, "2026-02-02T21:00:00Z");
	assert_non_null(exported);
	char *text = jsontext_dump(exported, JSONTEXT_PRETTY, NULL);
	assert_non_null(text);
	json_t *read = json_loads(text, 0, NULL);
	assert_non_null(read);
	struct err e = {0};
	struct model *m = model_from_json(read, &e);
	if (!m)
		fail_msg("model_from_json: %s", e.msg);
	json_decref(read);
	json_decref(exported);
	free(text);
	return m;
}

/* Compares the two on the candidate of every trade of another stream, then
 * on each one changed in the ways a bot's candidates differ: values never
 * seen, features absent, numbers far out, names that collide. */
static void assert_scores_as_the_learner(const struct learner *l, const struct model *m)
{
	uint64_t rng = 99;
	long compared = 0;
	for (long i = 0; i < 400; i++) {
		struct record r;
		synthetic_trade(&r, &rng, i + 5000);
		struct learner_candidate c;
		learner_candidate_from_record(&r, &c);
		for (int variant = 0; variant < 10; variant++) {
			struct learner_candidate v = c;
			json_t *extra = NULL;
			switch (variant) {
			case 1:
				v.symbol = "NEVER_SEEN";
				v.regime = "crash";
				break;
			case 2:
				v.components = NULL;
				v.confidence = v.score = NAN;
				break;
			case 3:
				v.regime = v.time_of_day = v.day_of_week = v.side = NULL;
				v.timeframe = v.sector = v.symbol = "";
				break;
			case 4:
				extra = json_pack("{sfsfsfsf}", "x1", 1e300, "x2", -1e300, "x3",
						  1e9, "flat", 2.0);
				v.components = extra;
				v.confidence = INFINITY;
				v.score = -1e308;
				break;
			case 5: /* a component named like the record's fields */
				extra = json_pack("{sfsfsf}", "x1", 0.3, "confidence", 9.0, "score",
						  -9.0);
				v.components = extra;
				break;
			case 6: /* ... which takes the name when they are absent */
				extra = json_pack("{sfsfsf}", "x1", 0.3, "confidence", 0.9, "score",
						  70.0);
				v.components = extra;
				v.confidence = v.score = NAN;
				break;
			case 7: /* unknown names, a non-number, an integer */
				extra = json_pack("{sssisbsf}", "x1", "high", "x2", 2, "x3", 1,
						  "unknown", 4.0);
				v.components = extra;
				break;
			case 8:
				v.side = "short";
				v.day_of_week = "saturday";
				break;
			case 9:
				v.time_of_day = "after_hours";
				v.symbol = symbols[(i + 1) % 6];
				break;
			default:
				break;
			}
			double want = learner_predict_candidate(l, &v);
			double got = model_predict(m, &v);
			if (!(fabs(got - want) <= 1e-12))
				fail_msg("trade %ld variant %d: model %.17g, learner %.17g", i,
					 variant, got, want);
			compared++;
			json_decref(extra);
		}
		record_release(&r);
	}
	assert_int_equal(compared, 4000);
}

static void test_a_learners_export_scores_every_candidate_as_the_learner_does(void **state)
{
	(void)state;
	struct learner *l = trained_learner(12, 800);
	struct model *m = model_of_learner(l);
	/* x1, x2, x3, flat, confidence, score; flat is never usable. */
	assert_int_equal(model_numeric_count(m), 6);
	int flat_seen = 0;
	for (size_t i = 0; i < model_numeric_count(m); i++) {
		const struct model_numeric *f = model_numeric_at(m, i);
		if (strcmp(f->name, "flat") == 0) {
			flat_seen = 1;
			assert_true(isnan(f->sd));
		}
		if (i)
			assert_true(strcmp(model_numeric_at(m, i - 1)->name, f->name) < 0);
	}
	assert_true(flat_seen);
	assert_int_equal(model_field_count(m), MODEL_FIELD_COUNT);
	assert_scores_as_the_learner(l, m);
	model_free(m);
	learner_free(l);
}

static void test_values_sharing_a_bucket_of_the_online_table_score_as_the_learner(void **state)
{
	(void)state;
	/* 16 buckets (the fewest the learner takes) for ~30 values: many share
	 * one, and the export gives each value its bucket's weight. */
	struct learner *l = trained_learner(4, 500);
	struct model *m = model_of_learner(l);
	assert_true(model_value_count(m) > 16);
	int shared = 0; /* values of one bucket have one weight */
	for (size_t i = 0; i < model_value_count(m); i++)
		for (size_t k = 0; k < i; k++)
			shared += model_value_at(m, i)->weight == model_value_at(m, k)->weight;
	assert_true(shared >= 5);
	assert_scores_as_the_learner(l, m);
	model_free(m);
	learner_free(l);
}

static char *dump(const struct model *m)
{
	json_t *j = model_to_json(m);
	assert_non_null(j);
	char *text = jsontext_dump(j, JSONTEXT_PRETTY, NULL);
	assert_non_null(text);
	json_decref(j);
	return text;
}

static void test_written_and_read_back_a_model_is_the_same_to_the_bit(void **state)
{
	(void)state;
	struct learner *l = trained_learner(12, 300);
	struct model *m = model_of_learner(l);
	char *first = dump(m);
	json_t *read = json_loads(first, 0, NULL);
	assert_non_null(read);
	struct err e = {0};
	struct model *again = model_from_json(read, &e);
	if (!again)
		fail_msg("%s", e.msg);
	char *second = dump(again);
	assert_string_equal(first, second);
	assert_true(model_bias(m) == model_bias(again));
	assert_int_equal(model_value_count(m), model_value_count(again));
	for (size_t i = 0; i < model_value_count(m); i++) {
		assert_string_equal(model_value_at(m, i)->text, model_value_at(again, i)->text);
		assert_true(model_value_at(m, i)->weight == model_value_at(again, i)->weight);
	}
	for (size_t i = 0; i < model_numeric_count(m); i++) {
		const struct model_numeric *a = model_numeric_at(m, i),
					   *b = model_numeric_at(again, i);
		assert_string_equal(a->name, b->name);
		assert_memory_equal(&a->weight, &b->weight, sizeof a->weight);
		assert_memory_equal(&a->mean, &b->mean, sizeof a->mean);
		assert_memory_equal(&a->sd, &b->sd, sizeof a->sd);
	}
	/* Keys by name: the values sorted, whatever order the learner met them in. */
	for (size_t i = 1; i < model_value_count(m); i++)
		assert_true(strcmp(model_value_at(m, i - 1)->text, model_value_at(m, i)->text) < 0);
	assert_non_null(strstr(first, "\"kind\": \"tradelearn-logistic\""));
	json_decref(read);
	free(first);
	free(second);
	model_free(again);
	model_free(m);
	learner_free(l);
}

/* ---- the formula, by hand ----------------------------------------------------------- */

static const char hand_model[] =
    "{\"format\": 2, \"bias\": 0.1, \"z_clip\": 5,"
    " \"numeric\": {\"rsi\": {\"weight\": 2, \"mean\": 1, \"sd\": 2},"
    "               \"volume\": {\"weight\": -0.5, \"mean\": 0, \"sd\": 0.001},"
    "               \"flat\": {\"weight\": 3, \"mean\": 4, \"sd\": null},"
    "               \"confidence\": {\"weight\": 1, \"mean\": 0.5, \"sd\": 0.25}},"
    " \"categorical\": {\"fields\": [\"regime\", \"time_of_day\", \"day_of_week\", \"side\","
    "                   \"timeframe\", \"sector\", \"symbol\"],"
    "                  \"weights\": {\"side=long\": 0.5, \"regime=none\": 0.25,"
    "                              \"symbol=AAPL\": -1, \"sector=a=b\": 0.125}}}";

static struct model *parse_model(const char *text, struct err *e)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	struct model *m = model_from_json(j, e);
	json_decref(j);
	return m;
}

static void test_a_candidate_scores_the_readme_formula(void **state)
{
	(void)state;
	struct err e = {0};
	struct model *m = parse_model(hand_model, &e);
	if (!m)
		fail_msg("%s", e.msg);
	json_t *components = json_pack("{sfsfsf}", "rsi", 5.0, "volume", 1.0, "flat", 100.0);
	struct learner_candidate c = {.confidence = 0.75,
				      .score = NAN,
				      .components = components,
				      .regime = "",
				      .side = "long",
				      .symbol = "ZZZ",
				      .sector = "a=b"};
	/* 0.1 + 2·(5−1)/2 + (−0.5)·clip(1000) + 0 (sd null) + 1·(0.75−0.5)/0.25
	 * + regime=none 0.25 + side=long 0.5 + sector=a=b 0.125; symbol unseen 0. */
	double want = 0.1 + 4.0 - 2.5 + 0.0 + 1.0 + 0.25 + 0.5 + 0.125;
	assert_near(model_logit(m, &c), want, 1e-15);
	assert_near(model_predict(m, &c), 1.0 / (1.0 + exp(-want)), 1e-15);
	/* A candidate with nothing: the bias and the "none" values. */
	struct learner_candidate empty = {.confidence = NAN, .score = NAN};
	assert_near(model_logit(m, &empty), 0.1 + 0.25, 1e-15);
	c.symbol = "AAPL";
	assert_near(model_logit(m, &c), want - 1.0, 1e-15);
	json_decref(components);
	model_free(m);
}

/* ---- the strict loader -------------------------------------------------------------- */

struct refusal {
	const char *path;	 /* dot-separated keys from the top; "" the model itself */
	const char *replacement; /* JSON text, or NULL to delete the key */
	const char *message;	 /* what err says */
};

static const struct refusal refusals[] = {
    {"", "[]", "model: not an object"},
    {"format", NULL, "format: missing"},
    {"format", "\"2\"", "format: not 2"},
    {"format", "1", "format: not 2"},
    {"bias", NULL, "bias: missing"},
    {"bias", "\"0.1\"", "bias: not a number"},
    {"bias", "null", "bias: not a number"},
    {"z_clip", NULL, "z_clip: missing"},
    {"z_clip", "true", "z_clip: not a number"},
    {"z_clip", "0", "z_clip: not a positive number"},
    {"numeric", NULL, "numeric: missing"},
    {"numeric", "[]", "numeric: not an object"},
    {"numeric.rsi", "2", "numeric.rsi: not an object"},
    {"numeric.rsi.weight", NULL, "numeric.rsi.weight: missing"},
    {"numeric.rsi.weight", "null", "numeric.rsi.weight: not a number"},
    {"numeric.rsi.weight", "\"2\"", "numeric.rsi.weight: not a number"},
    {"numeric.rsi.mean", NULL, "numeric.rsi.mean: missing"},
    {"numeric.rsi.mean", "null", "numeric.rsi.mean: not a number"},
    {"numeric.rsi.sd", NULL, "numeric.rsi.sd: missing"},
    {"numeric.rsi.sd", "\"2\"", "numeric.rsi.sd: not a number or null"},
    {"numeric.rsi.sd", "0", "numeric.rsi.sd: not a positive number or null"},
    {"numeric.rsi.sd", "-1", "numeric.rsi.sd: not a positive number or null"},
    {"categorical", NULL, "categorical: missing"},
    {"categorical", "[]", "categorical: not an object"},
    {"categorical.fields", NULL, "categorical.fields: missing"},
    {"categorical.fields", "{}", "categorical.fields: not an array"},
    {"categorical.fields", "[1]", "categorical.fields[0]: not a string"},
    {"categorical.fields", "[\"side\", \"a=b\"]",
     "categorical.fields[1]: \"a=b\" is not a field name"},
    {"categorical.fields", "[\"side\", \"side\"]", "categorical.fields[1]: \"side\" twice"},
    {"categorical.weights", NULL, "categorical.weights: missing"},
    {"categorical.weights", "[]", "categorical.weights: not an object"},
    {"categorical.weights.side=long", "\"0.5\"", "categorical.weights.side=long: not a number"},
    {"categorical.weights.side=long", "null", "categorical.weights.side=long: not a number"},
    {"categorical.weights.colour=red", "1",
     "categorical.weights.colour=red: not \"field=value\" with a field of categorical.fields"},
    {"categorical.weights.long", "1",
     "categorical.weights.long: not \"field=value\" with a field of categorical.fields"},
    /* A value of a field the model does not list would never be scored. */
    {"categorical.fields", "[\"regime\"]",
     "categorical.weights.side=long: not \"field=value\" with a field of categorical.fields"},
};

/* Sets (or deletes) the member at path in j. */
static void mutate(json_t **j, const char *path, const char *replacement)
{
	json_t *value = replacement ? json_loads(replacement, JSON_DECODE_ANY, NULL) : NULL;
	if (!*path) {
		json_decref(*j);
		*j = value;
		return;
	}
	char keys[256];
	snprintf(keys, sizeof keys, "%s", path);
	json_t *at = *j;
	char *key = keys, *dot;
	while ((dot = strchr(key, '.'))) { /* no key of the table holds a dot */
		*dot = '\0';
		at = json_object_get(at, key);
		assert_non_null(at);
		key = dot + 1;
	}
	if (value)
		assert_int_equal(json_object_set_new(at, key, value), 0);
	else
		assert_int_equal(json_object_del(at, key), 0);
}

static void test_each_missing_or_wrong_key_is_refused_with_its_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		const struct refusal *r = &refusals[i];
		json_t *j = json_loads(hand_model, 0, NULL);
		assert_non_null(j);
		mutate(&j, r->path, r->replacement);
		struct err e = {0};
		struct model *m = model_from_json(j, &e);
		if (m)
			fail_msg("%s = %s: accepted", r->path,
				 r->replacement ? r->replacement : "(none)");
		if (strcmp(e.msg, r->message) != 0 || e.code != EINVAL)
			fail_msg("%s = %s: \"%s\" (code %d), want \"%s\"", r->path,
				 r->replacement ? r->replacement : "(none)", e.msg, e.code,
				 r->message);
		json_decref(j);
	}
	/* And the model as written is accepted: the refusals are the changes. */
	struct err e = {0};
	struct model *m = parse_model(hand_model, &e);
	assert_non_null(m);
	model_free(m);
}

static void test_counts_beyond_the_learners_caps_are_refused(void **state)
{
	(void)state;
	json_t *j = json_loads(hand_model, 0, NULL);
	json_t *numeric = json_object_get(j, "numeric");
	for (int i = numeric ? (int)json_object_size(numeric) : 0; i <= LEARNER_MAX_NUMERIC; i++) {
		char name[32];
		snprintf(name, sizeof name, "f%d", i);
		json_object_set_new(numeric, name,
				    json_pack("{sfsfsn}", "weight", 0.0, "mean", 0.0, "sd"));
	}
	struct err e = {0};
	assert_null(model_from_json(j, &e));
	assert_string_equal(e.msg, "numeric: more than 256 features");
	json_decref(j);

	j = json_loads(hand_model, 0, NULL);
	json_t *weights = json_object_get(json_object_get(j, "categorical"), "weights");
	for (int i = 0; i <= LEARNER_MAX_VALUES; i++) {
		char text[32];
		snprintf(text, sizeof text, "symbol=S%d", i);
		json_object_set_new(weights, text, json_real(0.0));
	}
	assert_null(model_from_json(j, &e));
	assert_string_equal(e.msg, "categorical.weights: more than 4096 values");
	json_decref(j);
}

static void test_a_model_made_with_a_name_twice_is_refused(void **state)
{
	(void)state;
	const char *fields[] = {"side"};
	struct model_numeric numeric[] = {{"rsi", 1, 0, 1}, {"atr", 1, 0, NAN}, {"rsi", 2, 0, 1}};
	struct model_value values[] = {{"side=long", 1}, {"side=long", 2}};
	struct err e = {0};
	assert_null(model_new(0, 5, fields, 1, numeric, 3, values, 0, &e));
	assert_string_equal(e.msg, "numeric.rsi: twice");
	assert_null(model_new(0, 5, fields, 1, numeric, 2, values, 2, &e));
	assert_string_equal(e.msg, "categorical.weights.side=long: twice");
	numeric[1].weight = NAN;
	assert_null(model_new(0, 5, fields, 1, numeric, 2, values, 1, &e));
	assert_string_equal(e.msg, "numeric.atr.weight: not a finite number");
	assert_null(model_new(INFINITY, 5, fields, 1, numeric, 0, values, 1, &e));
	assert_string_equal(e.msg, "bias: not a finite number");
	struct model *m = model_new(0, 5, fields, 1, numeric, 1, values, 1, &e);
	assert_non_null(m);
	model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_learners_export_scores_every_candidate_as_the_learner_does),
	    cmocka_unit_test(test_values_sharing_a_bucket_of_the_online_table_score_as_the_learner),
	    cmocka_unit_test(test_written_and_read_back_a_model_is_the_same_to_the_bit),
	    cmocka_unit_test(test_a_candidate_scores_the_readme_formula),
	    cmocka_unit_test(test_each_missing_or_wrong_key_is_refused_with_its_name),
	    cmocka_unit_test(test_counts_beyond_the_learners_caps_are_refused),
	    cmocka_unit_test(test_a_model_made_with_a_name_twice_is_refused),
	};
	return cmocka_run_group_tests(tests, set_zone, NULL);
}
