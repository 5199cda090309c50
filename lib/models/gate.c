#include "lib/models/gate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/base/jsontext.h"

static const char *const compare_names[] = {"absolute", "deployed", "base_rate"};
static const char *const bound_names[] = {"min", "max", "above", "below"};
static const char *const bound_words[] = {"at least", "at most", "above", "below"};
static const char *const bound_signs[] = {"≥", "≤", ">", "<"};

static int metric_valid(const char *name)
{
	return holdout_metric_known(name);
}

/* The original systems' thresholds: the default, and what "original" names. */
static const struct gate_threshold original_gate[] = {
    {"log_loss", GATE_BASE_RATE, GATE_BELOW, 1},    {"accuracy", GATE_DEPLOYED, GATE_MIN, 0.95},
    {"taken_sharpe", GATE_ABSOLUTE, GATE_MIN, 0.5}, {"taken_sharpe", GATE_DEPLOYED, GATE_MIN, 0.9},
    {"log_loss", GATE_DEPLOYED, GATE_MAX, 1},
};

/* "gate": the list of thresholds, or "original". */
static int read_gate(void *opts, const struct option_key *o, json_t *v, char *sub, size_t sublen,
		     struct err *e)
{
	struct retrain_options *r = opts;
	size_t i;
	json_t *t;
	(void)o;
	if (json_is_string(v) && strcmp(json_string_value(v), "original") == 0) {
		memcpy(r->gate, original_gate, sizeof original_gate);
		r->n_gate = sizeof original_gate / sizeof original_gate[0];
		return 0;
	}
	if (!json_is_array(v))
		return err_set(e, EINVAL,
			       "must be \"original\" or a list of thresholds {\"metric\", "
			       "\"compare\", and one of \"min\", \"max\", \"above\", \"below\"}");
	if (json_array_size(v) > GATE_MAX_THRESHOLDS)
		return err_set(e, EINVAL, "at most %d thresholds", GATE_MAX_THRESHOLDS);
	struct gate_threshold list[GATE_MAX_THRESHOLDS];
	json_array_foreach(v, i, t)
	{
		struct gate_threshold *g = &list[i];
		const char *key;
		json_t *x;
		int bounds = 0;
		memset(g, 0, sizeof *g);
		snprintf(sub, sublen, "[%zu]", i);
		if (!json_is_object(t))
			return err_set(e, EINVAL,
				       "must be an object {\"metric\", \"compare\", \"min\" "
				       "| \"max\" | \"above\" | \"below\"}");
		json_object_foreach(t, key, x)
		{
			int known = 0;
			if (strcmp(key, "metric") == 0) {
				const char *m = json_string_value(x);
				if (!m || !metric_valid(m) || strlen(m) >= sizeof g->metric) {
					snprintf(sub, sublen, "[%zu].metric", i);
					return err_set(e, EINVAL, "must be one of %s",
						       holdout_metric_names());
				}
				snprintf(g->metric, sizeof g->metric, "%s", m);
				continue;
			}
			if (strcmp(key, "compare") == 0) {
				const char *c = json_string_value(x);
				size_t k = 0;
				while (c && k < 3 && strcmp(c, compare_names[k]) != 0)
					k++;
				if (!c || k == 3) {
					snprintf(sub, sublen, "[%zu].compare", i);
					return err_set(e, EINVAL,
						       "must be \"absolute\", \"deployed\" or "
						       "\"base_rate\"");
				}
				g->compare = (enum gate_compare)k;
				continue;
			}
			for (size_t b = 0; b < 4; b++) {
				if (strcmp(key, bound_names[b]) != 0)
					continue;
				known = 1;
				if (!json_is_number(x) || !isfinite(json_number_value(x)) ||
				    fabs(json_number_value(x)) > 1e12) {
					snprintf(sub, sublen, "[%zu].%s", i, key);
					return err_set(e, EINVAL,
						       "must be a number from -1e12 to 1e12");
				}
				g->bound = (enum gate_bound)b;
				g->value = json_number_value(x);
				bounds++;
			}
			if (!known) {
				snprintf(sub, sublen, "[%zu].%s", i, key);
				return err_set(
				    e, EINVAL,
				    "unknown key (metric, compare, min, max, above, below)");
			}
		}
		if (!g->metric[0])
			return err_set(e, EINVAL, "has no \"metric\"");
		if (bounds != 1)
			return err_set(
			    e, EINVAL,
			    "needs exactly one of \"min\", \"max\", \"above\", \"below\"");
	}
	memcpy(r->gate, list, json_array_size(v) * sizeof *list);
	r->n_gate = json_array_size(v);
	sub[0] = '\0';
	return 0;
}

/* A struct filled by hand: what the readers would have refused. */
static int retrain_rules(const void *opts, char *key, size_t keylen, struct err *e)
{
	const struct retrain_options *r = opts;
	if (!metric_valid(r->primary_metric)) {
		snprintf(key, keylen, "primary_metric");
		return err_set(e, EINVAL, "must be one of %s", holdout_metric_names());
	}
	if (r->n_gate > GATE_MAX_THRESHOLDS) {
		snprintf(key, keylen, "gate");
		return err_set(e, EINVAL, "at most %d thresholds", GATE_MAX_THRESHOLDS);
	}
	for (size_t i = 0; i < r->n_gate; i++) {
		const struct gate_threshold *g = &r->gate[i];
		if (!metric_valid(g->metric) || (unsigned)g->compare > GATE_BASE_RATE ||
		    (unsigned)g->bound > GATE_BELOW || !isfinite(g->value)) {
			snprintf(key, keylen, "gate[%zu]", i);
			return err_set(e, EINVAL, "not a threshold");
		}
	}
	return 0;
}

#define T struct retrain_options
static const struct option_key retrain_keys[] = {
    OPTION_NUMBER(T, window_days, 60, 1, 36500),
    OPTION_NUMBER(T, holdout_fraction, 0.2, 0.01, 0.9),
    OPTION_NUMBER(T, min_outcomes, 100, 2, 100000000),
    OPTION_NUMBER(T, min_holdout_trades, 20, 1, 100000000),
    OPTION_NUMBER(T, take_threshold, 0.5, 0, 1),
    OPTION_TEXT("primary_metric", T, primary_metric, "log_loss", "a hold-out figure name",
		metric_valid),
    OPTION_NUMBER(T, min_interval_hours, 20, 0, 100000),
    OPTION_NUMBER(T, keep_bundles, 10, 1, 100000),
    OPTION_GROUP("", T, batch, batch_option_table),
    OPTION_CUSTOM("gate", T, gate, read_gate, "\"original\""),
};
#undef T

const struct option_table retrain_option_table = OPTION_TABLE(retrain_keys, retrain_rules);

void retrain_options_init(struct retrain_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&retrain_option_table, o);
}

int gate_holds(double value, enum gate_bound bound, double limit)
{
	if (isnan(value) || isnan(limit))
		return 0;
	switch (bound) {
	case GATE_MIN:
		return value >= limit;
	case GATE_MAX:
		return value <= limit;
	case GATE_ABOVE:
		return value > limit;
	case GATE_BELOW:
		return value < limit;
	}
	return 0;
}

static void number_text(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "undefined");
	else if (v == floor(v) && fabs(v) < 1e9)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.4f", v);
}

json_t *gate_check(const char *what, double value, enum gate_bound bound, double limit, int applied,
		   const char *note)
{
	char text[600], v[40], l[40];
	int pass = !applied || gate_holds(value, bound, limit);
	number_text(value, v, sizeof v);
	number_text(limit, l, sizeof l);
	if (!applied)
		snprintf(text, sizeof text, "%s: not applied (%s)", what, note ? note : "");
	else
		snprintf(text, sizeof text, "%s: %s%s %s %s%s%s%s: %s", what, v,
			 pass ? "" : ", not", bound_signs[bound], l, note ? " (" : "",
			 note ? note : "", note ? ")" : "", pass ? "passes" : "fails");
	return json_pack("{s:s,s:o,s:o,s:s,s:b,s:b,s:s}", "check", what, "value",
			 jsontext_real_or_null(value), "limit", jsontext_real_or_null(limit),
			 "bound", bound_names[bound], "pass", pass, "applied", applied, "text",
			 text);
}

void gate_threshold_text(const struct gate_threshold *t, char *buf, size_t len)
{
	char v[40];
	number_text(t->value, v, sizeof v);
	switch (t->compare) {
	case GATE_ABSOLUTE:
		snprintf(buf, len, "%s %s %s", t->metric, bound_words[t->bound], v);
		break;
	case GATE_DEPLOYED:
		snprintf(buf, len, "%s %s %s × the deployed model's", t->metric,
			 bound_words[t->bound], v);
		break;
	case GATE_BASE_RATE:
		snprintf(buf, len, "%s %s %s × the base rate's", t->metric, bound_words[t->bound],
			 v);
		break;
	}
}

int gate_apply(const struct retrain_options *o, const struct holdout_figures *candidate,
	       const struct holdout_figures *deployed, const struct holdout_figures *base_rate,
	       json_t *checks)
{
	int all = 1;
	for (size_t i = 0; i < o->n_gate; i++) {
		const struct gate_threshold *t = &o->gate[i];
		char what[200], note[200] = "", ref[40];
		double value = holdout_metric(candidate, t->metric), limit = t->value;
		int applied = 1;
		gate_threshold_text(t, what, sizeof what);
		if (t->compare != GATE_ABSOLUTE) {
			const struct holdout_figures *other =
			    t->compare == GATE_DEPLOYED ? deployed : base_rate;
			double base = other ? holdout_metric(other, t->metric) : NAN;
			const char *whose = t->compare == GATE_DEPLOYED ? "the deployed model's"
									: "the base rate's";
			number_text(base, ref, sizeof ref);
			if (!other) {
				applied = 0;
				snprintf(note, sizeof note, "no model is deployed yet");
			} else if (isnan(base)) {
				applied = 0;
				snprintf(note, sizeof note, "%s %s is undefined", whose, t->metric);
			} else {
				limit = t->value * base;
				snprintf(note, sizeof note, "%s %s", whose, ref);
			}
		}
		json_t *c =
		    gate_check(what, value, t->bound, limit, applied, note[0] ? note : NULL);
		if (!c || json_array_append_new(checks, c))
			return -1;
		all &= json_is_true(json_object_get(c, "pass"));
	}
	return all;
}
