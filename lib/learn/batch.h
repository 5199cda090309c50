/*
 * batch — the logistic model fitted from scratch on a set of examples (the
 * full retrain), with the online model's features and encoding, so that the
 * result is a struct model (model.h) scored like models/online.json.
 *
 * Examples are added one at a time (batch_add) and kept encoded, compactly:
 * per example its label, its weight, its numeric values (a feature index and
 * a double each) and one int32 per categorical field; the caller may
 * release each candidate as soon as it is added. 500,000 examples of 20
 * numbers and 7 fields take about 130 MB, and fit in about 5 s on one core.
 *
 * Encoding (on the first batch_fit, from all the examples added):
 *  - numeric: the names the learner would take from each candidate (every
 *    number in its components, plus "confidence" and "score" when finite,
 *    which take the name when a component has the same one); the first
 *    LEARNER_MAX_NUMERIC names in the order the examples bring them are the
 *    features (values of further names are ignored, and counted). Each
 *    feature's mean and sample sd (n − 1) are over the examples that have it
 *    (numbers beyond ±1e100 are left out of them, as the learner does, and
 *    still count with a clipped z); z = clamp((x − mean)/sd, ±LEARNER_Z_CLIP).
 *    A feature with fewer than 2 such values or an sd below 1e-6 is not
 *    usable: sd null in the model, weight 0, z = 0.
 *  - categorical: for each field of model_fields, one-hot "field=value"
 *    (value "none" when absent or empty), every text the examples bring, the
 *    first LEARNER_MAX_VALUES of them in the order they come (further ones
 *    count 0, and are counted); and, as the learner reads them, the
 *    candidate's categories (a profile's categories, strategy): the first
 *    LEARNER_MAX_CATEGORIES members of each, as "name=value" beside the
 *    fixed fields, the model's fields then naming them after model_fields
 *    (at most BATCH_MAX_CATEGORY_FIELDS names; values of further ones are
 *    counted as ignored).
 *  - a bias.
 *
 * Objective, over the n examples with label y_i, weight s_i > 0 and margin
 * t_i = bias + Σ_j w_j·z_ij + Σ_v w_v·[v is a value of example i]:
 *
 *	f(bias, w) = Σ_i s_i·ℓ(y_i, t_i) / Σ_i s_i  +  (l2/2)·‖w‖²
 *	ℓ(y, t) = log(1 + e^t) − y·t   (the log loss of p = sigmoid(t))
 *
 * with no L2 on the bias; w holds the numeric and the categorical weights.
 * scikit-learn's LogisticRegression(penalty="l2", fit_intercept=True) with
 * sample_weight s minimizes F = ½‖w‖² + C·Σ_i s_i·ℓ(y_i, t_i), intercept not
 * penalized. f = l2·[½‖w‖² + (1/(l2·S))·Σ_i s_i·ℓ_i] with S = Σ_i s_i, so f
 * = l2·F for C = 1/(l2·S): both have the same minimizer (l2 > 0). Columns
 * for it: the z of each usable feature (0 where absent) and one 0/1 column
 * per categorical value.
 *
 * Optimizer: L-BFGS (memory BATCH_LBFGS_MEMORY) from all weights 0, with a
 * line search on the weak Wolfe conditions (sufficient decrease 1e-4,
 * curvature 0.9) that measures the decrease example by example
 * (log1p(p·expm1(δ)) for a margin moved by δ), so that it stays exact to the
 * last steps where f itself no longer changes in its 16th digit. It stops
 * when ‖∇f‖∞ ≤ tolerance or after max_iterations. f is a weighted mean (its
 * gradient at 0 is at most ½ in the bias and 2.5 in a numeric weight
 * whatever the number of examples), so the tolerance is absolute on that
 * scale: the default 1e-8 is about 1e-8 relative to the loss.
 *
 * Deterministic: one thread, every sum in a fixed order (examples in the
 * order added), so the same examples added in the same order with the same
 * options give bit-identical weights, and the same model_to_json(), with
 * the same libm (exp and log1p may round differently elsewhere).
 *
 * A weight of 2 is the same objective as the example added twice, given the
 * encoding; the encoding's means and sds count each example once whatever
 * its weight, as the online model's running statistics do.
 *
 * Not thread-safe: one batch belongs to one thread at a time.
 */
#ifndef TRADELEARN_BATCH_H
#define TRADELEARN_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/base/option.h"
#include "lib/learn/learner.h"
#include "lib/learn/model.h"

#define BATCH_LBFGS_MEMORY 10
#define BATCH_MAX_CATEGORY_FIELDS 64 /* category names a batch model holds */

/* The settings, their defaults and ranges: batch_option_table (batch.c). */
struct batch_options {
	double l2;	    /* L2 strength */
	double tolerance;   /* stop when ‖∇f‖∞ ≤ this */
	int max_iterations; /* L-BFGS iterations at most */
};
extern const struct option_table batch_option_table;

/* Fills o with the defaults of batch_option_table (l2 1e-4, tolerance 1e-8,
 * max_iterations 1000). */
void batch_options_init(struct batch_options *o);

/* Why a fit stopped. */
enum batch_stop {
	BATCH_STOP_CONVERGED,	   /* ‖∇f‖∞ ≤ tolerance */
	BATCH_STOP_MAX_ITERATIONS, /* max_iterations reached first */
	BATCH_STOP_NO_PROGRESS,	   /* no step decreased f: the gradient is at the precision of
				      doubles (a tolerance too small for the data) */
};

struct batch_report {
	size_t examples;
	double weight_sum;    /* S = Σ s_i */
	int numeric_features; /* names kept, usable or not */
	int numeric_usable;   /* of those, with a known sd */
	long numeric_ignored; /* values of names beyond LEARNER_MAX_NUMERIC */
	int values;	      /* categorical "field=value" texts kept */
	long values_ignored;  /* values of texts beyond LEARNER_MAX_VALUES */
	int iterations;	      /* L-BFGS iterations done */
	double objective;     /* f at the solution */
	double log_loss;      /* Σ s_i·ℓ_i / S at the solution (f without the L2 term) */
	double gradient_norm; /* ‖∇f‖∞ at the solution */
	int converged;	      /* 1 when stop is BATCH_STOP_CONVERGED */
	enum batch_stop stop;
	long evaluations; /* line-search evaluations of f along a direction */
};

struct batch;

/* An empty batch. NULL with err ENOMEM. Free it with batch_free(). */
struct batch *batch_new(struct err *err);

/* Frees b; NULL does nothing. */
void batch_free(struct batch *b);

/* Adds one example: candidate c (borrowed, not kept: its values are copied
 * into the encoding), label 0 or 1, weight a positive finite number.
 * Returns 0, or -1 with err: EINVAL for a bad label or weight, or when b was
 * already fitted (its encoding is fixed); ENOMEM. On failure b is unchanged. */
int batch_add(struct batch *b, const struct learner_candidate *c, int label, double weight,
	      struct err *err);

/* Examples added so far. */
size_t batch_count(const struct batch *b);

/* Fits the model on b's examples with options o (NULL: the defaults) and
 * returns it (the caller frees it with model_free()), with what happened in
 * *report (may be NULL). The first call fixes the encoding (the means and
 * sds, z in place of x); b may be fitted again, with other options, on the
 * same encoding, but takes no more examples. A fit that stops before
 * converging still returns its model, with report->converged 0: the caller
 * decides. NULL with err EINVAL: o refused by batch_option_table, no
 * examples, every example of one class (a model needs wins and losses), the
 * weights adding up beyond a double; ENOMEM. */
struct model *batch_fit(struct batch *b, const struct batch_options *o, struct batch_report *report,
			struct err *err);

/* Sample weights the way the online model weighs a trade (learner.h,
 * "Importance"), over n examples at once: weight[i] = time_decay ×
 * outcome_weight (× win_boost or loss_boost by label[i] when o->asymmetric),
 * clamped to [weight_min/2, 1.5·weight_max], where
 *  - time_decay = 0.5^(age_days/half_life_days), age = the latest exit_ts of
 *    all the examples − exit_ts[i]; 1 when exit_ts[i] is CALENDAR_NONE;
 *  - outcome_weight = clamp(0.5 + 0.5·|pnl_frac[i]|/m, weight_min,
 *    weight_max), m the mean |pnl_frac| over the examples where it is finite
 *    (1 when there are none or it is 0); 1 when pnl_frac[i] is not finite.
 * The online model takes the latest exit and m over the trades before each
 * one; a batch sees the whole window at once. The weights use o's
 * half_life_days, weight_min, weight_max, asymmetric, win_boost and
 * loss_boost; the rest of o is only checked.
 * Arrays are borrowed (label may be NULL when not asymmetric); weight
 * receives n values. Returns 0, or -1 with err EINVAL when o is refused by
 * learner_option_table (as learner_new() would refuse it) or label is
 * missing. */
int batch_sample_weights(const struct learner_options *o, size_t n, const int64_t *exit_ts,
			 const double *pnl_frac, const int *label, double *weight, struct err *err);

#endif
