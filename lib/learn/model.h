/*
 * model — a fixed logistic model in the format the online model exports
 * (models/online.json, format 2), so that the README's Python scorer scores
 * it unchanged: the fresh batch model, a snapshot of the online model and the
 * deployed model are all one of these.
 *
 *	p = sigmoid(bias + Σ weight·z + Σ weights["field=value"])
 *
 *  - numeric features, by name: z = clamp((x − mean)/sd, −z_clip, z_clip)
 *    for a candidate that has the feature as a finite number; a feature that
 *    is absent, or whose sd is unknown (NAN here, null in JSON: not usable),
 *    counts 0. The names and values are the learner's (learner.h): every
 *    number in the candidate's components, plus "confidence" and "score"
 *    when finite, which take the name when a component has the same one.
 *  - categorical, one-hot: for each of the model's fields (the learner's:
 *    regime, time_of_day, day_of_week, side, timeframe, sector, symbol, and
 *    any other name, a category read from the candidate's categories), the
 *    weight of "field=value", value "none" when the candidate's is NULL or
 *    empty; a value the model does not name counts 0.
 *
 * So model_predict() of a model read from learner_export() is
 * learner_predict_candidate() of that learner (to rounding of the sums,
 * which are taken in another order).
 *
 * A model is immutable once made. Numeric features are kept sorted by name
 * and categorical values by their "field=value" text (strcmp order), which
 * is the order model_to_json() writes: the same model always gives the same
 * JSON, key for key.
 */
#ifndef TRADELEARN_MODEL_H
#define TRADELEARN_MODEL_H

#include <stddef.h>
#include <jansson.h>

#include "lib/base/err.h"
#include "lib/learn/learner.h"

#define MODEL_FORMAT 2 /* the "format" of online.json that this reads and writes */
#define MODEL_FIELD_COUNT 7
/* The fixed fields and the categories of a profile (learner.h). */
#define MODEL_MAX_FIELDS (MODEL_FIELD_COUNT + LEARNER_MAX_CATEGORIES)

/* The learner's categorical fields, in the learner's order. */
extern const char *const model_fields[MODEL_FIELD_COUNT];

/* The value of field model_fields[field] of c, "none" when it is NULL or
 * empty. Borrowed from c (or static). */
const char *model_candidate_value(const struct learner_candidate *c, int field);

/* A numeric feature: name, weight, and the normalization (sd NAN: not
 * usable, the feature counts 0). */
struct model_numeric {
	const char *name;
	double weight, mean, sd;
};

/* A categorical value: "field=value" and its weight. */
struct model_value {
	const char *text;
	double weight;
};

struct model;

/* A model made of copies of what is given (nothing is kept): fields are
 * names from model_fields (distinct; the order is kept, as the order the
 * JSON lists them in), numeric[n_numeric] and values[n_values] in any order.
 * Refused (NULL with err EINVAL, saying which and why): a non-finite bias,
 * weight or mean; z_clip not a positive finite number; an sd neither NAN nor
 * positive and finite; a name or text given twice; more than
 * LEARNER_MAX_NUMERIC features or LEARNER_MAX_VALUES values; a text that is
 * not "field=value" with field one of the model's fields; an unknown or
 * repeated field. ENOMEM. Free it with model_free(). */
struct model *model_new(double bias, double z_clip, const char *const *fields, size_t n_fields,
			const struct model_numeric *numeric, size_t n_numeric,
			const struct model_value *values, size_t n_values, struct err *err);

/* Frees m; NULL does nothing. */
void model_free(struct model *m);

/* The model in j (borrowed), as model_new() would make it from the keys of
 * format 2 that the scorer reads:
 *
 *   {"format": 2, "bias": number, "z_clip": number > 0,
 *    "numeric": {name: {"weight": number, "mean": number, "sd": number > 0 or null}},
 *    "categorical": {"fields": [names], "weights": {"field=value": number}}}
 *
 * Strict: each of these keys must be present with its type, or the model is
 * refused (NULL, err EINVAL "<key>: <problem>", e.g. "numeric.rsi.sd: not a
 * positive number or null", "categorical.weights: missing"); nothing is ever
 * read as 0. Other keys (kind, written_at, metrics, the online model's hash
 * and buckets...) describe the model and are not read. Integers are
 * accepted where numbers are. ENOMEM. */
struct model *model_from_json(json_t *j, struct err *err);

/* m as JSON, a new reference the caller owns (NULL on ENOMEM):
 *
 *   {"format": 2, "kind": "tradelearn-logistic", "bias", "z_clip",
 *    "numeric": {name: {"weight", "mean", "sd"}} (by name; sd null when not usable),
 *    "categorical": {"fields": [...], "weights": {"field=value": w}} (by text)}
 *
 * Reals are the exact doubles (jsontext_dump() writes them so that they read
 * back the same): model_from_json(model_to_json(m)) is m. */
json_t *model_to_json(const struct model *m);

/* P(win) of c (borrowed), as the formula above says. */
double model_predict(const struct model *m, const struct learner_candidate *c);

/* The log-odds of the same: bias + Σ weight·z + Σ weights (not clipped). */
double model_logit(const struct model *m, const struct learner_candidate *c);

double model_bias(const struct model *m);
double model_z_clip(const struct model *m);

/* Numeric features, by name; i < model_numeric_count(m). The pointer and its
 * name belong to m. */
size_t model_numeric_count(const struct model *m);
const struct model_numeric *model_numeric_at(const struct model *m, size_t i);

/* Categorical values, by text; i < model_value_count(m). */
size_t model_value_count(const struct model *m);
const struct model_value *model_value_at(const struct model *m, size_t i);

/* The fields, in the model's order; i < model_field_count(m). */
size_t model_field_count(const struct model *m);
const char *model_field_at(const struct model *m, size_t i);

#endif
