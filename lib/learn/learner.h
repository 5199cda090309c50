/*
 * learner — the online model: P(win | features at entry), learned from every
 * closed trade, with progressive validation.
 *
 * The model is a logistic regression,
 *
 *	p = sigmoid(bias + Σ w_j·z_j + Σ h[bucket])
 *
 * over three kinds of features, all known when the trade was entered:
 *
 *  - numeric: every number in r->components (by name), plus "confidence" and
 *    "score" when finite (the record's own fields take the name when a
 *    component has the same one). Each is normalized online,
 *    z = clip((x − mean)/sd, ±LEARNER_Z_CLIP), with a Welford mean and sample
 *    sd of that feature over the records seen *before* this one. A feature
 *    is not usable yet, and contributes z = 0, while it has fewer than 2
 *    observations or its sd is below 1e-6 (all its values so far equal: it
 *    carries no information yet, and dividing by a floor would make one
 *    huge z that freezes its AdaGrad rate for good). An absent feature
 *    contributes 0. At most LEARNER_MAX_NUMERIC names are learned; values of
 *    further names are ignored and counted.
 *  - categorical, one-hot, hashed into one table of 2^hash_bits buckets:
 *    bucket = fnv1a64("field=value") & (2^hash_bits − 1) for the fields
 *    regime, time_of_day, day_of_week (exchange-local, of the entry time, or
 *    of the exit time when the entry time is unknown), side ("long",
 *    "short"), timeframe, sector, symbol, and the record's categories (the
 *    profile's, and strategy) by their names. An absent or empty value (an
 *    unknown side too) is "none". time_of_day is the record's session when
 *    the profile maps one. The first LEARNER_MAX_VALUES "field=value"
 *    strings seen are the model's values, remembered so that the export can
 *    name them; a value not among them (never seen, or seen after the table
 *    filled up) counts 0, whatever its bucket holds, and is not learned. A
 *    value's first trade is predicted with 0 for it, then learned.
 *  - a bias.
 *
 * Label: a win (y = 1) is pnl_usd > 0, or pnl_frac > 0 when pnl_usd is
 * unknown. A zero P&L is not a win.
 *
 * Learning: one AdaGrad step per record on the importance-weighted log loss,
 * g = imp·(p − y)·x + l2·w (no L2 on the bias); G += g²;
 * w −= eta·g/(sqrt(G) + 1e-8). L2 is applied to the parameters the record
 * touches (the numeric features it carries, its categorical buckets): a
 * parameter the record does not touch is left alone, because an AdaGrad step
 * on a pure L2 gradient with a tiny G would move it by ~eta whatever its size.
 *
 * Importance: imp = time_decay × outcome_weight (× win_boost / loss_boost when
 * asymmetric), clamped to [weight_min/2, 1.5·weight_max], where
 *  - time_decay = 0.5^(age_days/half_life_days), age = latest exit time seen
 *    so far (this record included) − this record's exit time: 1 for data in
 *    order, less for a late-arriving old record;
 *  - outcome_weight = clamp(0.5 + 0.5·|pnl_frac|/m, weight_min, weight_max),
 *    m the mean |pnl_frac| of the records before this one (1 when there are
 *    none or m is 0); 1 when pnl_frac is unknown.
 *
 * Everything is a pure function of the sequence of records given: record
 * times only, no wall clock, no randomness. Two learners fed the same records
 * hold bit-identical doubles.
 *
 * Progressive validation: every record is scored by the model as it stands
 * *before* learning from it, and the metrics (log loss, Brier, AUC,
 * calibration; overall and over the last `window` trades) are of those
 * scores — the honest "accuracy" of a model that never saw the trade.
 *
 * Segments (options segment_by, segment_min_trades): the learner above is
 * then the shared model, learning every trade; each value of the field
 * (timeframe "5m", "1h"...; the first LEARNER_MAX_SEGMENTS values seen)
 * also has a model of its own, the same kind of learner, that learns only
 * its value's trades, with its own normalization and progressive metrics.
 * A trade is predicted by its segment's model once that has learned
 * segment_min_trades trades, else by the shared model; learner_metrics are
 * of those predictions (the ones made), learner_shared_metrics of the
 * shared model's own. Still a pure function of the records given.
 *
 * Not thread-safe: one learner belongs to one thread at a time.
 */
#ifndef TRADELEARN_LEARNER_H
#define TRADELEARN_LEARNER_H

#include <stddef.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/base/option.h"
#include "lib/ingest/record.h"

#define LEARNER_MAX_NUMERIC 256	  /* numeric feature names learned */
#define LEARNER_MAX_VALUES 4096	  /* "field=value" strings remembered for export */
#define LEARNER_MAX_CATEGORIES 17 /* a record's categories learned: a profile's 16, strategy */
#define LEARNER_AUC_BINS 10000	  /* histogram bins of the overall AUC */
#define LEARNER_CALIBRATION_BUCKETS 10
#define LEARNER_Z_CLIP 5.0 /* |z| of a numeric feature is clipped to this */
/* Page-Hinkley tolerance per trade, in nats of log loss. */
#define LEARNER_DRIFT_DELTA 0.005
#define LEARNER_MAX_SEGMENTS 32 /* segment values with a model of their own */

/* The settings, their defaults and ranges: learner_option_table (learner.c),
 * the "learner" section of the config. */
struct learner_options {
	double eta;		       /* AdaGrad base step */
	double l2;		       /* L2 strength */
	int hash_bits;		       /* categorical table = 2^hash_bits buckets */
	int window;		       /* trades in the recent window of the windowed metrics */
	double half_life_days;	       /* time decay half-life */
	double weight_min, weight_max; /* outcome-weight clamp, weight_min <= weight_max */
	int asymmetric;		       /* 1: the original systems' win/loss boost */
	double win_boost, loss_boost;  /* used when asymmetric */
	/* "none", or a categorical field: one model per value of it (see
	 * "Segments" above); a value's model predicts once it has learned
	 * segment_min_trades trades, the shared model before. A name that is
	 * not a fixed field is a category of the candidate's (strategy, a
	 * profile's categories); a trade without it is segment "none". */
	char segment_by[32];
	int segment_min_trades;
};
extern const struct option_table learner_option_table;

/* 1 when segment_by name needs no category of a profile: "none", a fixed
 * categorical field, or "strategy" (every profile may map it). */
int learner_segment_by_fixed(const char *name);

/* Fills o with the defaults of learner_option_table. */
void learner_options_init(struct learner_options *o);

struct learner;

/* A fresh learner (all weights 0, so it first predicts 0.5) with a copy of o
 * (NULL: the defaults). Free it with learner_free(). Returns NULL with err
 * set: EINVAL when an option is refused by learner_option_table ("learner
 * options: <key>: <problem>"), or ENOMEM. */
struct learner *learner_new(const struct learner_options *o, struct err *err);

/* Frees l; NULL does nothing. */
void learner_free(struct learner *l);

/* Scores r (kind close or partial close) with the current model, records the
 * progressive metrics with that score, THEN learns from it. Returns the
 * probability it predicted before learning. r is borrowed and not kept.
 * Returns NAN and changes nothing when r is of another kind or has neither
 * pnl_usd nor pnl_frac. */
double learner_learn(struct learner *l, const struct record *r);

/* P(win) of r under the current model, without learning (r's kind and P&L are
 * not looked at: an open or a candidate trade can be scored). */
double learner_predict(const struct learner *l, const struct record *r);

/* A trade as a bot knows it at entry: what the model's features are made of.
 * Everything is borrowed. */
struct learner_candidate {
	double confidence, score; /* NAN when unknown */
	json_t *components;	  /* an object whose numbers are features, or NULL */
	/* {name: text or null}: further categorical fields (a profile's
	 * categories, strategy), "name=value" like the fixed ones; NULL. */
	json_t *categories;
	/* Categorical values; NULL or "" is "none". side is "long" or "short";
	 * time_of_day and day_of_week are the names calendar.h gives. */
	const char *regime, *time_of_day, *day_of_week, *side, *timeframe, *sector, *symbol;
};

/* The candidate of a record: its values at entry (time of day and day of week
 * of entry_ts, else of ts), borrowing r's strings and components. */
void learner_candidate_from_record(const struct record *r, struct learner_candidate *c);

/* P(win) of c under the current model, without learning. learner_predict(r)
 * is this of learner_candidate_from_record(r). */
double learner_predict_candidate(const struct learner *l, const struct learner_candidate *c);

/* Trades learned so far (= trades scored). */
long learner_trades(const struct learner *l);

/* The full state as JSON: a new reference the caller owns, or NULL on
 * ENOMEM. Doubles are JSON reals holding the exact bits; written as text with
 * jsontext_dump() (or jansson's 17 digits) and read back, they are the same
 * doubles. */
json_t *learner_save(const struct learner *l);

/* Replaces l's state with saved (borrowed; not kept). After
 * learner_save → learner_load into a learner with the same options, learning
 * the same further records gives bit-identical doubles.
 *
 * l keeps its own options, so a changed eta, l2, half-life, clamp or boost
 * applies from now on. A state of format 1 (written before z was clipped and
 * a constant feature was left out) loads with every numeric feature's weight
 * and AdaGrad sum reset to 0 — an unclipped z may have frozen them — and its
 * running mean and sd kept. The saved hash_bits must equal l's (the table cannot be
 * re-hashed: -1); a different window keeps the most recent pairs that fit.
 * Returns 0, or -1 with err set and l unchanged: EINVAL with
 * "<key>: <problem>" when saved is not such a state, or ENOMEM. */
int learner_load(struct learner *l, json_t *saved, struct err *err);

/* The model as the bot reads it (the content of models/online.json): a new
 * reference, or NULL on ENOMEM. written_at_iso is copied (NULL: null).
 *
 *   {"format": 2, "kind": "tradelearn-online-logistic", "written_at", "trades_learned",
 *    "bias", "z_clip": LEARNER_Z_CLIP,
 *    "numeric": {name: {"weight", "mean", "sd"}},
 *    "categorical": {"fields": [...], "hash", "buckets", "weights": {"field=value": w}},
 *    "time_of_day_buckets": "...",
 *    "metrics": {"trades_scored", "log_loss", "brier", "auc", "auc_error_bound", "ece",
 *                "calibration": [10 × {"range": [lo, hi], "trades", "mean_predicted",
 *                                      "observed_win_rate"}],
 *                "window": {"trades", "log_loss", "brier", "auc", "ece", "calibration"}}}
 *
 * p = sigmoid(bias + Σ weight·z + Σ weights["field=value"]) with
 * z = clamp((x − mean)/sd, −z_clip, z_clip) for a feature present as a
 * number, 0 when it is absent or its "sd" is null (not usable yet), and a
 * value missing from "weights" counting 0: exactly learner_predict_candidate.
 * Undefined metrics (and an empty bucket's mean and rate) are null.
 *
 * Segmented, the keys above are the shared model's, "metrics" are those of
 * the predictions made (learner_metrics), and
 *   "segments": {"by": field, "min_trades": n, "shared_metrics": {...},
 *                "models": {value: {this export of the segment's model,
 *                                   "in_use": true when it predicts}}}
 * A trade whose value has a model "in_use" is scored with that model,
 * else with the top-level one. */
json_t *learner_export(const struct learner *l, const char *written_at_iso);

/* Progressive metrics, overall and over the last `window` trades; NAN where
 * undefined (no trades; AUC with one class only; an empty calibration
 * bucket's mean and rate).
 *
 * The overall AUC is computed from two histograms of the predicted p
 * (LEARNER_AUC_BINS equal bins, positives and negatives): a positive/negative
 * pair in the same bin counts ½ whatever its true order, so the exact AUC of
 * the same pairs lies within auc ± auc_error_bound, with
 * auc_error_bound = ½·Σ_b pos_b·neg_b / (P·N). The window's AUC is exact.
 * Calibration buckets are [0,.1), [.1,.2), … [.9,1]; ECE = Σ (n_b/N)·|mean
 * predicted_b − observed win rate_b|. */
struct learner_metrics {
	long trades_scored;
	double log_loss, brier, auc, auc_error_bound, ece;
	long window_trades;
	double window_log_loss, window_brier, window_auc, window_ece;
	double calibration_pred[LEARNER_CALIBRATION_BUCKETS];
	double calibration_obs[LEARNER_CALIBRATION_BUCKETS];
	long calibration_count[LEARNER_CALIBRATION_BUCKETS];
	/* The same table over the window's trades. */
	double window_calibration_pred[LEARNER_CALIBRATION_BUCKETS];
	double window_calibration_obs[LEARNER_CALIBRATION_BUCKETS];
	long window_calibration_count[LEARNER_CALIBRATION_BUCKETS];
	/* Page-Hinkley statistic (stats.h) of the progressive log loss, with
	 * delta LEARNER_DRIFT_DELTA, over drift_trades trades: a large value
	 * says the loss has risen; the threshold is the daily job's. */
	long drift_trades;
	double drift_ph;
	/* Share of trades whose prediction was on the right side of 0.5 (p ≥
	 * 0.5 said win), overall and over the window. */
	double accuracy, window_accuracy;
};
void learner_metrics(const struct learner *l, struct learner_metrics *m);

/* The shared model's own progressive metrics (learner_metrics when not
 * segmented). */
void learner_shared_metrics(const struct learner *l, struct learner_metrics *m);

/* The segment field ("timeframe"...), or NULL when not segmented. */
const char *learner_segment_by(const struct learner *l);
/* Segments so far, in the order their values were first seen; i below it:
 * the value, the model (borrowed: learner_metrics, learner_trades,
 * learner_numeric_weight of it), and 1 when it predicts its trades
 * (it has learned segment_min_trades). NULL / 0 for another i. */
int learner_segment_count(const struct learner *l);
const char *learner_segment_value(const struct learner *l, int i);
const struct learner *learner_segment_model(const struct learner *l, int i);
int learner_segment_in_use(const struct learner *l, int i);

/* Model health per segment, for status and the daily report: {"by",
 * "min_trades", "shared": H, "models": {value: H + "in_use"}} with H =
 * {"trades_scored", "auc", "log_loss", "brier", "ece", "accuracy"}
 * (null where undefined). NULL when not segmented, or on ENOMEM. */
json_t *learner_segments_health(const struct learner *l);

/* The learned weight of numeric feature name, or NAN when the name is not a
 * feature (yet). */
double learner_numeric_weight(const struct learner *l, const char *name);

/* Values of numeric features beyond LEARNER_MAX_NUMERIC ignored so far. */
long learner_numeric_ignored(const struct learner *l);

/* Starts the drift detector afresh (drift_trades 0, drift_ph 0), the rest
 * of the learner unchanged: a newly deployed model is what the next trades'
 * loss is compared with. */
void learner_reset_drift(struct learner *l);

/* The calibration table of m as JSON, for the export and status: an array of
 * LEARNER_CALIBRATION_BUCKETS {"range": [lo, hi], "trades", "mean_predicted",
 * "observed_win_rate"} (null for an empty bucket), over all trades, or over
 * the window when window is 1. A new reference, or NULL on ENOMEM. */
json_t *learner_calibration_json(const struct learner_metrics *m, int window);

/* Free-standing metrics over n pairs (arrays borrowed). */

/* Mann–Whitney AUC: the probability that a random positive (label != 0)
 * scores above a random negative, ties counting ½. NAN when one class is
 * absent, a score is NaN, or on ENOMEM. */
double learner_auc(const double *score, const int *label, size_t n);

/* Mean log loss, −[y·log p + (1−y)·log(1−p)], p clipped to
 * [1e-15, 1 − 1e-15]. NAN when n is 0. */
double learner_log_loss(const double *p, const int *y, size_t n);

/* Mean (p − y)². NAN when n is 0. */
double learner_brier(const double *p, const int *y, size_t n);

#endif
