#include "lib/learn/learner.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/hash.h"
#include "lib/base/jsontext.h"
#include "lib/learn/stats.h"

enum categorical_field {
	CATEGORICAL_REGIME,
	CATEGORICAL_TIME_OF_DAY,
	CATEGORICAL_DAY_OF_WEEK,
	CATEGORICAL_SIDE,
	CATEGORICAL_TIMEFRAME,
	CATEGORICAL_SECTOR,
	CATEGORICAL_SYMBOL,
	FIELD_COUNT_CATEGORICAL
};

#define NUMERIC_SLOTS 512 /* open-addressing index of numeric names: 2 × the cap */
#define VALUE_SLOTS 8192  /* the same for "field=value" strings */
#define SD_FLOOR 1e-6
#define ADAGRAD_EPSILON 1e-8
#define PROBABILITY_CLIP 1e-15
#define US_PER_DAY 86400e6
/* Numbers beyond this count (clipped) but never enter the running mean and
 * variance, whose squares and differences must stay finite. */
#define NUMERIC_ABS_MAX 1e100
/* 2: z clipped and constant features left out. A format-1 state still loads
 * (learner_load says how). */
#define STATE_FORMAT 2
#define EXPORT_FORMAT 2

static const char *const categorical_fields[FIELD_COUNT_CATEGORICAL] = {
    [CATEGORICAL_REGIME] = "regime",
    [CATEGORICAL_TIME_OF_DAY] = "time_of_day",
    [CATEGORICAL_DAY_OF_WEEK] = "day_of_week",
    [CATEGORICAL_SIDE] = "side",
    [CATEGORICAL_TIMEFRAME] = "timeframe",
    [CATEGORICAL_SECTOR] = "sector",
    [CATEGORICAL_SYMBOL] = "symbol"};

static const char time_of_day_text[] =
    "exchange time: pre_market <9:30, open <10:30, mid_morning <12:00, lunch <13:30, "
    "afternoon <15:00, close <16:00, after_hours";

struct numeric_feature {
	char *name; /* owned */
	double weight, g2;
	long count; /* observations, for the running mean and variance */
	double mean, m2;
};

struct learner {
	struct learner_options opt;
	uint32_t mask; /* 2^hash_bits − 1 */
	long trades;   /* learned = scored */

	double bias, bias_g2;
	struct numeric_feature *numeric; /* LEARNER_MAX_NUMERIC, n_numeric used */
	int n_numeric;
	int16_t *numeric_index; /* NUMERIC_SLOTS, −1 empty */
	long numeric_ignored;
	double *bucket_weight, *bucket_g2; /* mask + 1 each */
	char **values;			   /* LEARNER_MAX_VALUES "field=value" texts, owned */
	int n_values;
	int16_t *value_index; /* VALUE_SLOTS, −1 empty */
	long values_unmapped;

	int64_t latest_exit_ts; /* CALENDAR_NONE before the first */
	double abs_pnl_sum;	/* Σ |pnl_frac| over the records learned */
	long abs_pnl_count;

	/* Progressive metrics. */
	double log_loss_sum, brier_sum;
	int64_t *hist_pos, *hist_neg; /* LEARNER_AUC_BINS each */
	long cal_count[LEARNER_CALIBRATION_BUCKETS];
	double cal_pred_sum[LEARNER_CALIBRATION_BUCKETS];
	long cal_wins[LEARNER_CALIBRATION_BUCKETS];
	double *ring_p; /* window pairs; ring_head is the next slot written */
	unsigned char *ring_y;
	int ring_head, ring_len;
	struct stats_page_hinkley drift; /* on each trade's progressive log loss */

	struct segments *seg; /* NULL unless segment_by names a field */
};

/* A segmented learner: the learner itself is the shared model (it learns
 * every trade); each segment value has a learner of its own (options
 * copied, not segmented), which predicts once it has learned min_trades;
 * `used` holds only the progressive metrics of the predictions made (the
 * segment's or the shared model's). */
struct segments {
	/* A fixed field, or -1: a category of the record's (a profile's
	 * categories, strategy) named by the options' segment_by. */
	int field;
	char by[sizeof((struct learner_options *)0)->segment_by]; /* the field's name */
	struct learner *used;
	int n;
	char *value[LEARNER_MAX_SEGMENTS];
	struct learner *model[LEARNER_MAX_SEGMENTS];
	long beyond_cap; /* trades of values past LEARNER_MAX_SEGMENTS: shared only */
};

/* The features of one record, resolved against a learner. */
struct features {
	int n_numeric;
	int numeric[LEARNER_MAX_NUMERIC];
	double x[LEARNER_MAX_NUMERIC], z[LEARNER_MAX_NUMERIC];
	int n_buckets;
	uint32_t bucket[FIELD_COUNT_CATEGORICAL + LEARNER_MAX_CATEGORIES];
	/* Two fields may share a bucket. A value seen for the first time is
	 * learned but not yet predicted with: the bot's copy of the model
	 * does not name it. */
	int learn_multiplicity[FIELD_COUNT_CATEGORICAL + LEARNER_MAX_CATEGORIES];
	int predict_multiplicity[FIELD_COUNT_CATEGORICAL + LEARNER_MAX_CATEGORIES];
};

/* The fixed categorical field named, or -1 (a category's name, "none"). */
static int segment_field_of(const char *name)
{
	for (int i = 0; i < FIELD_COUNT_CATEGORICAL; i++)
		if (strcmp(name, categorical_fields[i]) == 0)
			return i;
	return -1;
}

int learner_segment_by_fixed(const char *name)
{
	return strcmp(name, "none") == 0 || strcmp(name, "strategy") == 0 ||
	       segment_field_of(name) >= 0;
}

/* "none", a fixed categorical field, or the name a category may have (a
 * profile's categories, strategy): letters, digits, '_', '-', '.'. Whether
 * the profile has such a category the config loader checks (it knows the
 * profile). */
static int segment_field_valid(const char *name)
{
	if (!*name)
		return 0;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_-.", *c))
			return 0;
	return 1;
}

#define KEY(f, d, lo, hi) OPTION_NUMBER(struct learner_options, f, d, lo, hi)
static const struct option_key learner_keys[] = {
    KEY(eta, 0.05, 1e-9, 10),
    KEY(l2, 1e-4, 0, 10),
    KEY(hash_bits, 12, 4, 20),
    KEY(window, 500, 10, 1000000),
    KEY(half_life_days, 30, 0.01, 36500),
    KEY(weight_min, 0.5, 0.01, 100),
    KEY(weight_max, 2.0, 0.01, 100),
    OPTION_BOOL(struct learner_options, asymmetric, 0),
    KEY(win_boost, 1.3, 0.01, 10),
    KEY(loss_boost, 0.7, 0.01, 10),
    OPTION_TEXT("segment_by", struct learner_options, segment_by, "none",
		"none or a categorical field (regime, time_of_day, day_of_week, side, timeframe, "
		"sector, symbol, strategy, or a category of the profile)",
		segment_field_valid),
    KEY(segment_min_trades, 50, 1, 1000000),
};
#undef KEY

static int learner_options_rules(const void *opts, char *key, size_t keylen, struct err *e)
{
	const struct learner_options *o = opts;
	if (o->weight_min <= o->weight_max)
		return 0;
	snprintf(key, keylen, "weight_min");
	return err_set(e, EINVAL, "must not be above weight_max (%g)", o->weight_max);
}

const struct option_table learner_option_table = OPTION_TABLE(learner_keys, learner_options_rules);

void learner_options_init(struct learner_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&learner_option_table, o);
}

static void segments_free(struct segments *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n; i++) {
		free(g->value[i]);
		learner_free(g->model[i]);
	}
	learner_free(g->used);
	free(g);
}

void learner_free(struct learner *l)
{
	if (!l)
		return;
	segments_free(l->seg);
	if (l->numeric)
		for (int i = 0; i < l->n_numeric; i++)
			free(l->numeric[i].name);
	if (l->values)
		for (int i = 0; i < l->n_values; i++)
			free(l->values[i]);
	free(l->numeric);
	free(l->numeric_index);
	free(l->bucket_weight);
	free(l->bucket_g2);
	free(l->values);
	free(l->value_index);
	free(l->hist_pos);
	free(l->hist_neg);
	free(l->ring_p);
	free(l->ring_y);
	free(l);
}

struct learner *learner_new(const struct learner_options *o, struct err *err)
{
	struct learner_options defaults;
	if (!o) {
		learner_options_init(&defaults);
		o = &defaults;
	}
	if (option_check(&learner_option_table, o, err)) {
		err_prefix(err, "learner options");
		return NULL;
	}
	struct learner *l = calloc(1, sizeof *l);
	if (!l)
		goto nomem;
	l->opt = *o;
	l->mask = (UINT32_C(1) << o->hash_bits) - 1;
	l->latest_exit_ts = CALENDAR_NONE;
	size_t buckets = (size_t)l->mask + 1;
	l->numeric = calloc(LEARNER_MAX_NUMERIC, sizeof *l->numeric);
	l->numeric_index = malloc(NUMERIC_SLOTS * sizeof *l->numeric_index);
	l->bucket_weight = calloc(buckets, sizeof *l->bucket_weight);
	l->bucket_g2 = calloc(buckets, sizeof *l->bucket_g2);
	l->values = calloc(LEARNER_MAX_VALUES, sizeof *l->values);
	l->value_index = malloc(VALUE_SLOTS * sizeof *l->value_index);
	l->hist_pos = calloc(LEARNER_AUC_BINS, sizeof *l->hist_pos);
	l->hist_neg = calloc(LEARNER_AUC_BINS, sizeof *l->hist_neg);
	l->ring_p = calloc((size_t)o->window, sizeof *l->ring_p);
	l->ring_y = calloc((size_t)o->window, sizeof *l->ring_y);
	if (!l->numeric || !l->numeric_index || !l->bucket_weight || !l->bucket_g2 || !l->values ||
	    !l->value_index || !l->hist_pos || !l->hist_neg || !l->ring_p || !l->ring_y)
		goto nomem;
	memset(l->numeric_index, 0xff, NUMERIC_SLOTS * sizeof *l->numeric_index);
	memset(l->value_index, 0xff, VALUE_SLOTS * sizeof *l->value_index);
	if (strcmp(o->segment_by, "none") != 0) {
		struct learner_options plain = *o;
		snprintf(plain.segment_by, sizeof plain.segment_by, "none");
		if (!(l->seg = calloc(1, sizeof *l->seg)))
			goto nomem;
		l->seg->field = segment_field_of(o->segment_by);
		snprintf(l->seg->by, sizeof l->seg->by, "%s", o->segment_by);
		if (!(l->seg->used = learner_new(&plain, err))) {
			learner_free(l);
			return NULL;
		}
	}
	return l;
nomem:
	learner_free(l);
	err_set(err, ENOMEM, "out of memory");
	return NULL;
}

long learner_trades(const struct learner *l)
{
	return l->trades;
}

long learner_numeric_ignored(const struct learner *l)
{
	return l->numeric_ignored;
}

void learner_reset_drift(struct learner *l)
{
	stats_page_hinkley_init(&l->drift);
	if (l->seg)
		stats_page_hinkley_init(&l->seg->used->drift);
}

/* ---- feature tables --------------------------------------------------------------- */

static uint64_t text_hash(const char *s)
{
	return hash_fnv1a64_str(HASH_FNV1A64_INIT, s);
}

static int numeric_find(const struct learner *l, const char *name)
{
	uint32_t slot = (uint32_t)text_hash(name) & (NUMERIC_SLOTS - 1);
	for (;;) {
		int idx = l->numeric_index[slot];
		if (idx < 0)
			return -1;
		if (strcmp(l->numeric[idx].name, name) == 0)
			return idx;
		slot = (slot + 1) & (NUMERIC_SLOTS - 1);
	}
}

/* Adds a name not yet in the table; −1 when the table is full or on ENOMEM. */
static int numeric_add(struct learner *l, const char *name)
{
	if (l->n_numeric >= LEARNER_MAX_NUMERIC)
		return -1;
	char *copy = strdup(name);
	if (!copy)
		return -1;
	int idx = l->n_numeric++;
	l->numeric[idx] = (struct numeric_feature){.name = copy};
	uint32_t slot = (uint32_t)text_hash(name) & (NUMERIC_SLOTS - 1);
	while (l->numeric_index[slot] >= 0)
		slot = (slot + 1) & (NUMERIC_SLOTS - 1);
	l->numeric_index[slot] = (int16_t)idx;
	return idx;
}

/* hash is fnv1a64 of "field=value"; the texts are compared in pieces so that
 * a lookup needs no buffer. */
static int value_known(const struct learner *l, uint64_t hash, const char *field, const char *value)
{
	size_t field_len = strlen(field);
	uint32_t slot = (uint32_t)hash & (VALUE_SLOTS - 1);
	for (;;) {
		int idx = l->value_index[slot];
		if (idx < 0)
			return 0;
		const char *t = l->values[idx];
		if (strncmp(t, field, field_len) == 0 && t[field_len] == '=' &&
		    strcmp(t + field_len + 1, value) == 0)
			return 1;
		slot = (slot + 1) & (VALUE_SLOTS - 1);
	}
}

/* Takes ownership of text (a "field=value" not yet in the table), or frees it
 * when the table is full. Returns 1 when added. */
static int value_add(struct learner *l, uint64_t hash, char *text)
{
	if (l->n_values >= LEARNER_MAX_VALUES) {
		free(text);
		l->values_unmapped++;
		return 0;
	}
	int idx = l->n_values++;
	l->values[idx] = text;
	uint32_t slot = (uint32_t)hash & (VALUE_SLOTS - 1);
	while (l->value_index[slot] >= 0)
		slot = (slot + 1) & (VALUE_SLOTS - 1);
	l->value_index[slot] = (int16_t)idx;
	return 1;
}

/* Adds a value not yet known; 1 when it is now in the table. */
static int value_remember(struct learner *l, uint64_t hash, const char *field, const char *value)
{
	size_t len = strlen(field) + 1 + strlen(value) + 1;
	char *text = malloc(len);
	if (!text) {
		l->values_unmapped++;
		return 0;
	}
	snprintf(text, len, "%s=%s", field, value);
	return value_add(l, hash, text);
}

/* The running sample sd of f, or 0 while f is not usable: fewer than 2
 * observations, or all of them (nearly) equal. A feature whose first values
 * repeat would otherwise divide by the floor and give |z| ~ 1e6 on its next
 * different value, and that one step's g² would freeze its AdaGrad rate. */
static double feature_sd(const struct numeric_feature *f)
{
	if (f->count < 2)
		return 0.0;
	double sd = sqrt(f->m2 / (double)(f->count - 1));
	return sd >= SD_FLOOR ? sd : 0.0; /* also 0 for a NaN from a rounding m2 < 0 */
}

/* z of x, clipped: an outlier moves the model as much as a 5-sd value. */
static double feature_z(const struct numeric_feature *f, double x)
{
	double sd = feature_sd(f);
	if (sd == 0.0)
		return 0.0;
	double z = (x - f->mean) / sd;
	return z < -LEARNER_Z_CLIP ? -LEARNER_Z_CLIP : z > LEARNER_Z_CLIP ? LEARNER_Z_CLIP : z;
}

static void feature_observe(struct numeric_feature *f, double x)
{
	f->count++;
	double delta = x - f->mean;
	f->mean += delta / (double)f->count;
	f->m2 += delta * (x - f->mean);
}

/* A number beyond NUMERIC_ABS_MAX still counts (its z is clipped, as the
 * exported formula says) but does not move the running mean and variance. */
static int usable_number(double x)
{
	return isfinite(x);
}

/* One numeric input of a record. first_component is where the components
 * start in f: a component named like a record field already taken is
 * skipped. */
static void gather_numeric(const struct learner *l, struct learner *grow, const char *name,
			   double x, int first_component, struct features *f)
{
	if (!usable_number(x))
		return;
	int idx = numeric_find(l, name);
	if (idx < 0 && grow) {
		idx = numeric_add(grow, name);
		if (idx < 0)
			grow->numeric_ignored++;
	}
	/* Indices are distinct, so f cannot fill up; the test is a guard. */
	if (idx < 0 || f->n_numeric >= LEARNER_MAX_NUMERIC)
		return;
	for (int i = 0; i < first_component; i++)
		if (f->numeric[i] == idx)
			return;
	int n = f->n_numeric++;
	f->numeric[n] = idx;
	f->x[n] = x;
	f->z[n] = feature_z(&l->numeric[idx], x);
}

static const char *categorical_value(const struct learner_candidate *c,
				     enum categorical_field field)
{
	const char *v = NULL;
	switch (field) {
	case CATEGORICAL_REGIME:
		v = c->regime;
		break;
	case CATEGORICAL_TIME_OF_DAY:
		v = c->time_of_day;
		break;
	case CATEGORICAL_DAY_OF_WEEK:
		v = c->day_of_week;
		break;
	case CATEGORICAL_SIDE:
		v = c->side;
		break;
	case CATEGORICAL_TIMEFRAME:
		v = c->timeframe;
		break;
	case CATEGORICAL_SECTOR:
		v = c->sector;
		break;
	case CATEGORICAL_SYMBOL:
	case FIELD_COUNT_CATEGORICAL:
		v = c->symbol;
		break;
	}
	return v && *v ? v : "none";
}

void learner_candidate_from_record(const struct record *r, struct learner_candidate *c)
{
	int64_t t = r->entry_ts != CALENDAR_NONE ? r->entry_ts : r->ts;
	c->confidence = r->confidence;
	c->score = r->score;
	c->components = r->components;
	c->categories = r->categories;
	c->regime = r->regime;
	c->time_of_day = r->session	      ? r->session
			 : t == CALENDAR_NONE ? NULL
					      : calendar_time_of_day(t);
	c->day_of_week = t == CALENDAR_NONE ? NULL : calendar_day_of_week(t);
	c->side = r->side > 0 ? "long" : r->side < 0 ? "short" : NULL;
	c->timeframe = r->timeframe;
	c->sector = r->sector;
	c->symbol = r->symbol;
}

/* One categorical "field=value" of a candidate. */
static void gather_value(const struct learner *l, struct learner *grow, const char *name,
			 const char *value, struct features *f)
{
	uint64_t h = hash_fnv1a64_str(HASH_FNV1A64_INIT, name);
	h = hash_fnv1a64(h, "=", 1);
	h = hash_fnv1a64_str(h, value);
	/* Only values in the table are in the model, the export names
	 * exactly those: a value never seen (or beyond the table's
	 * cap) counts 0 rather than the weight of another value that
	 * shares its bucket. */
	int known = value_known(l, h, name, value);
	if (!known && !(grow && value_remember(grow, h, name, value)))
		return;
	uint32_t bucket = (uint32_t)h & l->mask;
	int i = 0;
	while (i < f->n_buckets && f->bucket[i] != bucket)
		i++;
	if (i == f->n_buckets) {
		f->bucket[i] = bucket;
		f->learn_multiplicity[i] = f->predict_multiplicity[i] = 0;
		f->n_buckets++;
	}
	f->learn_multiplicity[i]++;
	f->predict_multiplicity[i] += known;
}

/* Resolves c's features against l. grow is l itself when new numeric names
 * and categorical values may be added (learning), NULL to only look them up
 * (predicting). */
static void gather(const struct learner *l, struct learner *grow, const struct learner_candidate *c,
		   struct features *f)
{
	f->n_numeric = 0;
	f->n_buckets = 0;
	gather_numeric(l, grow, "confidence", c->confidence, 0, f);
	gather_numeric(l, grow, "score", c->score, 0, f);
	int first_component = f->n_numeric;
	if (json_is_object(c->components)) {
		const char *name;
		json_t *value;
		json_object_foreach(c->components, name, value)
		{
			if (json_is_number(value))
				gather_numeric(l, grow, name, json_number_value(value),
					       first_component, f);
		}
	}
	for (enum categorical_field field = 0; field < FIELD_COUNT_CATEGORICAL; field++)
		gather_value(l, grow, categorical_fields[field], categorical_value(c, field), f);
	if (json_is_object(c->categories)) {
		const char *name;
		json_t *value;
		int n = 0;
		json_object_foreach(c->categories, name, value)
		{
			const char *text = json_string_value(value);
			if (n++ < LEARNER_MAX_CATEGORIES)
				gather_value(l, grow, name, text && *text ? text : "none", f);
		}
	}
}

static double sigmoid(double s)
{
	if (s >= 0)
		return 1.0 / (1.0 + exp(-s));
	double e = exp(s);
	return e / (1.0 + e);
}

static double features_probability(const struct learner *l, const struct features *f)
{
	double s = l->bias;
	for (int i = 0; i < f->n_numeric; i++)
		s += l->numeric[f->numeric[i]].weight * f->z[i];
	for (int i = 0; i < f->n_buckets; i++)
		s += l->bucket_weight[f->bucket[i]] * f->predict_multiplicity[i];
	return sigmoid(s);
}

/* c's value of the segments' field ("none" when it has none). */
static const char *segment_value(const struct segments *g, const struct learner_candidate *c)
{
	if (g->field >= 0)
		return categorical_value(c, (enum categorical_field)g->field);
	const char *v = json_string_value(json_object_get(c->categories, g->by));
	return v && *v ? v : "none";
}

/* The segment of c's value, or -1 (no such segment yet, or past the cap). */
static int segment_find(const struct segments *g, const struct learner_candidate *c)
{
	const char *v = segment_value(g, c);
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->value[i], v) == 0)
			return i;
	return -1;
}

/* The model that predicts c: its segment's once that has learned
 * min_trades, else l (the shared model). */
static const struct learner *predicting_model(const struct learner *l,
					      const struct learner_candidate *c)
{
	if (!l->seg)
		return l;
	int i = segment_find(l->seg, c);
	if (i >= 0 && l->seg->model[i]->trades >= l->opt.segment_min_trades)
		return l->seg->model[i];
	return l;
}

double learner_predict_candidate(const struct learner *l, const struct learner_candidate *c)
{
	struct features f;
	l = predicting_model(l, c);
	gather(l, NULL, c, &f);
	return features_probability(l, &f);
}

double learner_predict(const struct learner *l, const struct record *r)
{
	struct learner_candidate c;
	learner_candidate_from_record(r, &c);
	return learner_predict_candidate(l, &c);
}

double learner_numeric_weight(const struct learner *l, const char *name)
{
	int idx = numeric_find(l, name);
	return idx < 0 ? NAN : l->numeric[idx].weight;
}

/* ---- metrics ------------------------------------------------------------------------ */

static double clip_probability(double p)
{
	if (p < PROBABILITY_CLIP)
		return PROBABILITY_CLIP;
	if (p > 1.0 - PROBABILITY_CLIP)
		return 1.0 - PROBABILITY_CLIP;
	return p;
}

static double pair_log_loss(double p, int y)
{
	double c = clip_probability(p);
	return y ? -log(c) : -log1p(-c);
}

static int calibration_bucket(double p)
{
	int b = (int)(p * LEARNER_CALIBRATION_BUCKETS);
	if (b < 0)
		return 0;
	return b >= LEARNER_CALIBRATION_BUCKETS ? LEARNER_CALIBRATION_BUCKETS - 1 : b;
}

static int auc_bin(double p)
{
	int b = (int)(p * LEARNER_AUC_BINS);
	if (b < 0)
		return 0;
	return b >= LEARNER_AUC_BINS ? LEARNER_AUC_BINS - 1 : b;
}

double learner_log_loss(const double *p, const int *y, size_t n)
{
	if (n == 0)
		return NAN;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += pair_log_loss(p[i], y[i] != 0);
	return sum / (double)n;
}

double learner_brier(const double *p, const int *y, size_t n)
{
	if (n == 0)
		return NAN;
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		double d = p[i] - (y[i] != 0);
		sum += d * d;
	}
	return sum / (double)n;
}

struct scored {
	double score;
	int positive;
};

static int scored_compare(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->score, y = ((const struct scored *)b)->score;
	return (x > y) - (x < y);
}

/* Walks groups of equal scores upwards: every negative below a positive is a
 * won pair, and a tie is half of one — the same sum as the histogram's. */
double learner_auc(const double *score, const int *label, size_t n)
{
	double auc = NAN;
	struct scored *s = NULL;
	double positives = 0, negatives = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(score[i]))
			goto done;
		if (label[i])
			positives++;
		else
			negatives++;
	}
	if (positives == 0 || negatives == 0)
		goto done;
	s = malloc(n * sizeof *s);
	if (!s)
		goto done;
	for (size_t i = 0; i < n; i++)
		s[i] = (struct scored){score[i], label[i] != 0};
	qsort(s, n, sizeof *s, scored_compare);
	double won = 0, negatives_below = 0;
	for (size_t i = 0; i < n;) {
		double pos = 0, neg = 0;
		size_t j = i;
		for (; j < n && s[j].score == s[i].score; j++) {
			if (s[j].positive)
				pos++;
			else
				neg++;
		}
		won += negatives_below * pos + 0.5 * pos * neg;
		negatives_below += neg;
		i = j;
	}
	auc = won / (positives * negatives);
done:
	free(s);
	return auc;
}

static double ece_of(const long *count, const double *pred_sum, const long *wins, long n)
{
	if (n == 0)
		return NAN;
	double ece = 0;
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		if (count[b] == 0)
			continue;
		double c = (double)count[b];
		ece += (c / (double)n) * fabs(pred_sum[b] / c - (double)wins[b] / c);
	}
	return ece;
}

static void score_record(struct learner *l, double p, int y)
{
	l->log_loss_sum += pair_log_loss(p, y);
	stats_page_hinkley_add(&l->drift, pair_log_loss(p, y), LEARNER_DRIFT_DELTA);
	l->brier_sum += (p - y) * (p - y);
	if (y)
		l->hist_pos[auc_bin(p)]++;
	else
		l->hist_neg[auc_bin(p)]++;
	int c = calibration_bucket(p);
	l->cal_count[c]++;
	l->cal_pred_sum[c] += p;
	l->cal_wins[c] += y;
	l->ring_p[l->ring_head] = p;
	l->ring_y[l->ring_head] = (unsigned char)y;
	l->ring_head = (l->ring_head + 1) % l->opt.window;
	if (l->ring_len < l->opt.window)
		l->ring_len++;
}

/* The window's pairs, oldest first, so that every sum over them is taken in
 * the same order whatever the ring's rotation (a loaded ring starts at 0). */
static int ring_index(const struct learner *l, int i)
{
	int start = (l->ring_head - l->ring_len + l->opt.window) % l->opt.window;
	return (start + i) % l->opt.window;
}

static void window_metrics(const struct learner *l, struct learner_metrics *m)
{
	size_t n = (size_t)l->ring_len;
	m->window_trades = l->ring_len;
	m->window_log_loss = m->window_brier = m->window_auc = m->window_ece = m->window_accuracy =
	    NAN;
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		m->window_calibration_count[b] = 0;
		m->window_calibration_pred[b] = m->window_calibration_obs[b] = NAN;
	}
	if (n == 0)
		return;
	double *p = malloc(n * sizeof *p);
	int *y = malloc(n * sizeof *y);
	long count[LEARNER_CALIBRATION_BUCKETS] = {0}, wins[LEARNER_CALIBRATION_BUCKETS] = {0};
	double pred_sum[LEARNER_CALIBRATION_BUCKETS] = {0};
	if (!p || !y)
		goto done;
	for (size_t i = 0; i < n; i++) {
		int k = ring_index(l, (int)i);
		p[i] = l->ring_p[k];
		y[i] = l->ring_y[k];
		int c = calibration_bucket(p[i]);
		count[c]++;
		pred_sum[c] += p[i];
		wins[c] += y[i];
	}
	m->window_log_loss = learner_log_loss(p, y, n);
	m->window_brier = learner_brier(p, y, n);
	m->window_auc = learner_auc(p, y, n);
	m->window_ece = ece_of(count, pred_sum, wins, (long)n);
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		long c = count[b];
		m->window_calibration_count[b] = c;
		m->window_calibration_pred[b] = c ? pred_sum[b] / (double)c : NAN;
		m->window_calibration_obs[b] = c ? (double)wins[b] / (double)c : NAN;
	}
	long right = 0;
	for (size_t i = 0; i < n; i++)
		right += (p[i] >= 0.5) == (y[i] == 1);
	m->window_accuracy = (double)right / (double)n;
done:
	free(p);
	free(y);
}

static void own_metrics(const struct learner *l, struct learner_metrics *m);

void learner_metrics(const struct learner *l, struct learner_metrics *m)
{
	own_metrics(l->seg ? l->seg->used : l, m);
}

void learner_shared_metrics(const struct learner *l, struct learner_metrics *m)
{
	own_metrics(l, m);
}

const char *learner_segment_by(const struct learner *l)
{
	return l->seg ? l->seg->by : NULL;
}

int learner_segment_count(const struct learner *l)
{
	return l->seg ? l->seg->n : 0;
}

const char *learner_segment_value(const struct learner *l, int i)
{
	return l->seg && i >= 0 && i < l->seg->n ? l->seg->value[i] : NULL;
}

const struct learner *learner_segment_model(const struct learner *l, int i)
{
	return l->seg && i >= 0 && i < l->seg->n ? l->seg->model[i] : NULL;
}

int learner_segment_in_use(const struct learner *l, int i)
{
	const struct learner *m = learner_segment_model(l, i);
	return m && m->trades >= l->opt.segment_min_trades;
}

static void put(json_t *o, const char *key, json_t *v, int *ok);

static json_t *health_of(const struct learner_metrics *m, int *ok)
{
	json_t *o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "trades_scored",
			      (json_int_t)m->trades_scored, "auc", jsontext_real_or_null(m->auc),
			      "log_loss", jsontext_real_or_null(m->log_loss), "brier",
			      jsontext_real_or_null(m->brier), "ece", jsontext_real_or_null(m->ece),
			      "accuracy", jsontext_real_or_null(m->accuracy));
	if (!o)
		*ok = 0;
	return o;
}

json_t *learner_segments_health(const struct learner *l)
{
	struct learner_metrics m;
	int ok = 1;
	if (!l->seg)
		return NULL;
	json_t *o = json_object(), *models = json_object();
	if (!o || !models) {
		json_decref(o);
		json_decref(models);
		return NULL;
	}
	learner_shared_metrics(l, &m);
	put(o, "by", json_string(l->seg->by), &ok);
	put(o, "min_trades", json_integer(l->opt.segment_min_trades), &ok);
	put(o, "shared", health_of(&m, &ok), &ok);
	for (int i = 0; i < l->seg->n; i++) {
		learner_metrics(l->seg->model[i], &m);
		json_t *h = health_of(&m, &ok);
		put(h, "in_use", json_boolean(learner_segment_in_use(l, i)), &ok);
		put(models, l->seg->value[i], h, &ok);
	}
	put(o, "models", models, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void own_metrics(const struct learner *l, struct learner_metrics *m)
{
	long n = l->trades;
	m->trades_scored = n;
	m->log_loss = n ? l->log_loss_sum / (double)n : NAN;
	m->brier = n ? l->brier_sum / (double)n : NAN;
	double positives = 0, negatives = 0, won = 0, tied = 0, negatives_below = 0;
	for (int b = 0; b < LEARNER_AUC_BINS; b++) {
		double pos = (double)l->hist_pos[b], neg = (double)l->hist_neg[b];
		won += negatives_below * pos + 0.5 * pos * neg;
		tied += pos * neg;
		negatives_below += neg;
		positives += pos;
		negatives += neg;
	}
	if (positives > 0 && negatives > 0) {
		m->auc = won / (positives * negatives);
		m->auc_error_bound = 0.5 * tied / (positives * negatives);
	} else {
		m->auc = m->auc_error_bound = NAN;
	}
	m->ece = ece_of(l->cal_count, l->cal_pred_sum, l->cal_wins, n);
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		long c = l->cal_count[b];
		m->calibration_count[b] = c;
		m->calibration_pred[b] = c ? l->cal_pred_sum[b] / (double)c : NAN;
		m->calibration_obs[b] = c ? (double)l->cal_wins[b] / (double)c : NAN;
	}
	/* Calibration buckets split at 0.5, so the buckets say which side
	 * of 0.5 each prediction fell on: accuracy needs no more state. */
	long right = 0;
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++)
		right += 2 * b >= LEARNER_CALIBRATION_BUCKETS ? l->cal_wins[b]
							      : l->cal_count[b] - l->cal_wins[b];
	m->accuracy = n ? (double)right / (double)n : NAN;
	m->drift_trades = l->drift.n;
	m->drift_ph = stats_page_hinkley_value(&l->drift);
	window_metrics(l, m);
}

/* ---- learning ----------------------------------------------------------------------- */

static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static double importance(struct learner *l, const struct record *r, int y)
{
	double decay = 1.0;
	if (r->ts != CALENDAR_NONE) {
		if (l->latest_exit_ts == CALENDAR_NONE || r->ts > l->latest_exit_ts)
			l->latest_exit_ts = r->ts;
		double age_days = (double)(l->latest_exit_ts - r->ts) / US_PER_DAY;
		decay = pow(0.5, age_days / l->opt.half_life_days);
	}
	double outcome = 1.0;
	if (isfinite(r->pnl_frac)) {
		double m = l->abs_pnl_count ? l->abs_pnl_sum / (double)l->abs_pnl_count : 1.0;
		if (m == 0)
			m = 1.0;
		outcome =
		    clamp(0.5 + 0.5 * fabs(r->pnl_frac) / m, l->opt.weight_min, l->opt.weight_max);
	}
	double imp = decay * outcome;
	if (l->opt.asymmetric)
		imp *= y ? l->opt.win_boost : l->opt.loss_boost;
	return clamp(imp, 0.5 * l->opt.weight_min, 1.5 * l->opt.weight_max);
}

static void adagrad_step(double *w, double *g2, double g, double eta)
{
	*g2 += g * g;
	*w -= eta * g / (sqrt(*g2) + ADAGRAD_EPSILON);
}

static double learn_one(struct learner *l, const struct record *r,
			const struct learner_candidate *c, int y);

/* The segment of c's value, added when it is new and there is room; -1
 * past LEARNER_MAX_SEGMENTS values (or on ENOMEM: the trade is then the
 * shared model's only, as past the cap). */
static int segment_add(struct learner *l, const struct learner_candidate *c)
{
	struct segments *g = l->seg;
	int i = segment_find(g, c);
	if (i >= 0 || g->n == LEARNER_MAX_SEGMENTS)
		return i;
	struct learner_options plain = l->opt;
	struct err e = {0};
	snprintf(plain.segment_by, sizeof plain.segment_by, "none");
	char *v = strdup(segment_value(g, c));
	struct learner *m = v ? learner_new(&plain, &e) : NULL;
	if (!m) {
		free(v);
		return -1;
	}
	g->value[g->n] = v;
	g->model[g->n] = m;
	return g->n++;
}

double learner_learn(struct learner *l, const struct record *r)
{
	if (r->kind != PROFILE_KIND_CLOSE && r->kind != PROFILE_KIND_PARTIAL)
		return NAN;
	int y;
	if (!isnan(r->pnl_usd))
		y = r->pnl_usd > 0;
	else if (!isnan(r->pnl_frac))
		y = r->pnl_frac > 0;
	else
		return NAN;

	struct learner_candidate c;
	learner_candidate_from_record(r, &c);
	if (!l->seg)
		return learn_one(l, r, &c, y);
	/* Segmented: the prediction made is the segment's once it has
	 * learned enough, else the shared model's; both learn the trade. */
	int i = segment_add(l, &c);
	struct learner *m = i >= 0 ? l->seg->model[i] : NULL;
	int in_use = m && m->trades >= l->opt.segment_min_trades;
	double p_shared = learn_one(l, r, &c, y);
	double p_segment = m ? learn_one(m, r, &c, y) : NAN;
	double p = in_use ? p_segment : p_shared;
	if (!m)
		l->seg->beyond_cap++;
	score_record(l->seg->used, p, y);
	l->seg->used->trades++;
	return p;
}

/* One model's progressive score and step (l's own metrics). */
static double learn_one(struct learner *l, const struct record *r,
			const struct learner_candidate *cand, int y)
{
	struct learner_candidate c = *cand;
	struct features f;
	gather(l, l, &c, &f);
	double p = features_probability(l, &f);
	score_record(l, p, y);

	double imp = importance(l, r, y);
	double err = imp * (p - y);
	double eta = l->opt.eta, l2 = l->opt.l2;
	for (int i = 0; i < f.n_numeric; i++) {
		struct numeric_feature *nf = &l->numeric[f.numeric[i]];
		adagrad_step(&nf->weight, &nf->g2, err * f.z[i] + l2 * nf->weight, eta);
	}
	for (int i = 0; i < f.n_buckets; i++) {
		uint32_t b = f.bucket[i];
		adagrad_step(&l->bucket_weight[b], &l->bucket_g2[b],
			     err * f.learn_multiplicity[i] + l2 * l->bucket_weight[b], eta);
	}
	adagrad_step(&l->bias, &l->bias_g2, err, eta);

	/* The statistics of "records before this one" move only now. */
	for (int i = 0; i < f.n_numeric; i++)
		if (fabs(f.x[i]) <= NUMERIC_ABS_MAX)
			feature_observe(&l->numeric[f.numeric[i]], f.x[i]);
	if (isfinite(r->pnl_frac)) {
		l->abs_pnl_sum += fabs(r->pnl_frac);
		l->abs_pnl_count++;
	}
	l->trades++;
	return p;
}

/* ---- JSON --------------------------------------------------------------------------- */

/* Steals v; a NULL v (a failed constructor) or a failed set turns *ok to 0. */
static void put(json_t *o, const char *key, json_t *v, int *ok)
{
	if (!v || json_object_set_new(o, key, v))
		*ok = 0;
}

static void append(json_t *a, json_t *v, int *ok)
{
	if (!v || json_array_append_new(a, v))
		*ok = 0;
}

static json_t *options_json(const struct learner_options *o, int *ok)
{
	json_t *j = json_object();
	if (!j) {
		*ok = 0;
		return NULL;
	}
	put(j, "eta", json_real(o->eta), ok);
	put(j, "l2", json_real(o->l2), ok);
	put(j, "hash_bits", json_integer(o->hash_bits), ok);
	put(j, "window", json_integer(o->window), ok);
	put(j, "half_life_days", json_real(o->half_life_days), ok);
	put(j, "weight_min", json_real(o->weight_min), ok);
	put(j, "weight_max", json_real(o->weight_max), ok);
	put(j, "asymmetric", json_boolean(o->asymmetric), ok);
	put(j, "win_boost", json_real(o->win_boost), ok);
	put(j, "loss_boost", json_real(o->loss_boost), ok);
	put(j, "segment_by", json_string(o->segment_by), ok);
	put(j, "segment_min_trades", json_integer(o->segment_min_trades), ok);
	return j;
}

static json_t *histogram_json(const int64_t *hist, int *ok)
{
	json_t *a = json_array();
	if (!a) {
		*ok = 0;
		return NULL;
	}
	for (int b = 0; b < LEARNER_AUC_BINS; b++)
		if (hist[b])
			append(a, json_pack("[iI]", b, (json_int_t)hist[b]), ok);
	return a;
}

static json_t *progress_json(const struct learner *l, int *ok)
{
	json_t *j = json_object(), *cal = json_array(), *wp = json_array(), *wy = json_array();
	if (!j || !cal || !wp || !wy) {
		*ok = 0;
		json_decref(j);
		json_decref(cal);
		json_decref(wp);
		json_decref(wy);
		return NULL;
	}
	put(j, "log_loss_sum", jsontext_real_or_null(l->log_loss_sum), ok);
	put(j, "brier_sum", jsontext_real_or_null(l->brier_sum), ok);
	put(j, "hist_pos", histogram_json(l->hist_pos, ok), ok);
	put(j, "hist_neg", histogram_json(l->hist_neg, ok), ok);
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++)
		append(cal,
		       json_pack("[IoI]", (json_int_t)l->cal_count[b],
				 jsontext_real_or_null(l->cal_pred_sum[b]),
				 (json_int_t)l->cal_wins[b]),
		       ok);
	put(j, "calibration", cal, ok);
	for (int i = 0; i < l->ring_len; i++) {
		int k = ring_index(l, i);
		append(wp, jsontext_real_or_null(l->ring_p[k]), ok);
		append(wy, json_integer(l->ring_y[k]), ok);
	}
	put(j, "window_p", wp, ok);
	put(j, "window_y", wy, ok);
	put(j, "drift",
	    json_pack("{s:I,s:o,s:o,s:o}", "n", (json_int_t)l->drift.n, "mean",
		      jsontext_real_or_null(l->drift.mean), "cum",
		      jsontext_real_or_null(l->drift.cum), "min_cum",
		      jsontext_real_or_null(l->drift.min_cum)),
	    ok);
	return j;
}

/* {"by": field, "trades": n, "beyond_cap": n, "used": progress of the
 * predictions made, "models": [{"value", "state"}]} */
static json_t *segments_save(const struct segments *g, int *ok)
{
	json_t *j = json_object(), *models = json_array();
	if (!j || !models) {
		json_decref(j);
		json_decref(models);
		*ok = 0;
		return NULL;
	}
	put(j, "by", json_string(g->by), ok);
	put(j, "trades", json_integer(g->used->trades), ok);
	put(j, "beyond_cap", json_integer(g->beyond_cap), ok);
	put(j, "used", progress_json(g->used, ok), ok);
	for (int i = 0; i < g->n; i++)
		append(models,
		       json_pack("{s:s,s:o}", "value", g->value[i], "state",
				 learner_save(g->model[i])),
		       ok);
	put(j, "models", models, ok);
	return j;
}

json_t *learner_save(const struct learner *l)
{
	int ok = 1;
	json_t *j = json_object(), *numeric = json_array(), *buckets = json_array(),
	       *values = json_array();
	if (!j || !numeric || !buckets || !values) {
		json_decref(numeric);
		json_decref(buckets);
		json_decref(values);
		goto fail;
	}
	put(j, "format", json_integer(STATE_FORMAT), &ok);
	put(j, "kind", json_string("tradelearn-online-logistic-state"), &ok);
	put(j, "options", options_json(&l->opt, &ok), &ok);
	put(j, "trades", json_integer(l->trades), &ok);
	put(j, "bias", jsontext_real_or_null(l->bias), &ok);
	put(j, "bias_g2", jsontext_real_or_null(l->bias_g2), &ok);
	for (int i = 0; i < l->n_numeric; i++) {
		const struct numeric_feature *f = &l->numeric[i];
		append(numeric,
		       json_pack("{sssososIsoso}", "name", f->name, "weight",
				 jsontext_real_or_null(f->weight), "g2",
				 jsontext_real_or_null(f->g2), "count", (json_int_t)f->count,
				 "mean", jsontext_real_or_null(f->mean), "m2",
				 jsontext_real_or_null(f->m2)),
		       &ok);
	}
	put(j, "numeric", numeric, &ok);
	put(j, "numeric_ignored", json_integer(l->numeric_ignored), &ok);
	/* Sparse: a bucket no record touched is 0 and 0. */
	for (uint32_t b = 0; b <= l->mask; b++)
		if (l->bucket_weight[b] != 0 || l->bucket_g2[b] != 0)
			append(buckets,
			       json_pack("[Ioo]", (json_int_t)b,
					 jsontext_real_or_null(l->bucket_weight[b]),
					 jsontext_real_or_null(l->bucket_g2[b])),
			       &ok);
	put(j, "buckets", buckets, &ok);
	for (int i = 0; i < l->n_values; i++)
		append(values, json_string(l->values[i]), &ok);
	put(j, "values", values, &ok);
	put(j, "values_unmapped", json_integer(l->values_unmapped), &ok);
	put(j, "latest_exit_ts",
	    l->latest_exit_ts == CALENDAR_NONE ? json_null() : json_integer(l->latest_exit_ts),
	    &ok);
	put(j, "abs_pnl_sum", jsontext_real_or_null(l->abs_pnl_sum), &ok);
	put(j, "abs_pnl_count", json_integer(l->abs_pnl_count), &ok);
	put(j, "progress", progress_json(l, &ok), &ok);
	if (l->seg)
		put(j, "segments", segments_save(l->seg, &ok), &ok);
	if (!ok)
		goto fail;
	return j;
fail:
	json_decref(j);
	errno = ENOMEM;
	return NULL;
}

/* ---- loading ------------------------------------------------------------------------ */

/* A number, or null for NAN. */
static int load_real(struct err *err, json_t *v, const char *path, double *out)
{
	if (json_is_null(v)) {
		*out = NAN;
		return 0;
	}
	if (!json_is_number(v))
		return err_set(err, EINVAL, "%s: not a number", path);
	*out = json_number_value(v);
	return 0;
}

static int load_count(struct err *err, json_t *v, const char *path, long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(err, EINVAL, "%s: not a count", path);
	*out = (long)json_integer_value(v);
	return 0;
}

static int load_array(struct err *err, json_t *v, const char *path, size_t need)
{
	if (!json_is_array(v) || (need && json_array_size(v) != need))
		return err_set(err, EINVAL, "%s: not an array%s", path,
			       need ? " of the right size" : "");
	return 0;
}

static int load_numeric(struct err *err, struct learner *l, json_t *list)
{
	size_t i;
	json_t *item;
	if (load_array(err, list, "numeric", 0))
		return -1;
	if (json_array_size(list) > LEARNER_MAX_NUMERIC)
		return err_set(err, EINVAL, "numeric: more than %d features", LEARNER_MAX_NUMERIC);
	json_array_foreach(list, i, item)
	{
		const char *name = json_string_value(json_object_get(item, "name"));
		if (!name)
			return err_set(err, EINVAL, "numeric[%zu].name: not a string", i);
		if (numeric_find(l, name) >= 0)
			return err_set(err, EINVAL, "numeric[%zu].name: \"%s\" twice", i, name);
		int idx = numeric_add(l, name);
		if (idx < 0)
			return err_set(err, EINVAL, "numeric[%zu]: out of memory", i);
		struct numeric_feature *f = &l->numeric[idx];
		if (load_real(err, json_object_get(item, "weight"), "numeric[].weight",
			      &f->weight) ||
		    load_real(err, json_object_get(item, "g2"), "numeric[].g2", &f->g2) ||
		    load_count(err, json_object_get(item, "count"), "numeric[].count", &f->count) ||
		    load_real(err, json_object_get(item, "mean"), "numeric[].mean", &f->mean) ||
		    load_real(err, json_object_get(item, "m2"), "numeric[].m2", &f->m2))
			return -1;
	}
	return 0;
}

static int load_buckets(struct err *err, struct learner *l, json_t *list)
{
	size_t i;
	json_t *item;
	if (load_array(err, list, "buckets", 0))
		return -1;
	json_array_foreach(list, i, item)
	{
		json_t *index = json_array_get(item, 0);
		if (load_array(err, item, "buckets[]", 3))
			return -1;
		if (!json_is_integer(index) || json_integer_value(index) < 0 ||
		    json_integer_value(index) > (json_int_t)l->mask)
			return err_set(err, EINVAL, "buckets[%zu]: index outside the table", i);
		uint32_t b = (uint32_t)json_integer_value(index);
		if (load_real(err, json_array_get(item, 1), "buckets[].weight",
			      &l->bucket_weight[b]) ||
		    load_real(err, json_array_get(item, 2), "buckets[].g2", &l->bucket_g2[b]))
			return -1;
	}
	return 0;
}

static int load_values(struct err *err, struct learner *l, json_t *list)
{
	size_t i;
	json_t *item;
	if (load_array(err, list, "values", 0))
		return -1;
	if (json_array_size(list) > LEARNER_MAX_VALUES)
		return err_set(err, EINVAL, "values: more than %d", LEARNER_MAX_VALUES);
	json_array_foreach(list, i, item)
	{
		const char *text = json_string_value(item);
		const char *eq = text ? strchr(text, '=') : NULL;
		if (!eq)
			return err_set(err, EINVAL, "values[%zu]: not a \"field=value\" string", i);
		uint64_t h = text_hash(text);
		size_t field_len = (size_t)(eq - text);
		char field[RECORD_UNMAPPED_NAME];
		if (field_len >= sizeof field)
			return err_set(err, EINVAL, "values[%zu]: unknown field", i);
		memcpy(field, text, field_len);
		field[field_len] = '\0';
		if (value_known(l, h, field, eq + 1))
			return err_set(err, EINVAL, "values[%zu]: \"%s\" twice", i, text);
		char *copy = strdup(text);
		if (!copy)
			return err_set(err, EINVAL, "values[%zu]: out of memory", i);
		value_add(l, h, copy);
	}
	return 0;
}

static int load_histogram(struct err *err, int64_t *hist, json_t *list, const char *path,
			  long *total)
{
	size_t i;
	json_t *item;
	*total = 0;
	if (load_array(err, list, path, 0))
		return -1;
	json_array_foreach(list, i, item)
	{
		json_t *bin = json_array_get(item, 0);
		long count = 0;
		if (load_array(err, item, path, 2))
			return -1;
		if (!json_is_integer(bin) || json_integer_value(bin) < 0 ||
		    json_integer_value(bin) >= LEARNER_AUC_BINS)
			return err_set(err, EINVAL, "%s[%zu]: bin outside the histogram", path, i);
		if (load_count(err, json_array_get(item, 1), path, &count))
			return -1;
		hist[json_integer_value(bin)] = count;
		*total += count;
	}
	return 0;
}

static int load_progress(struct err *err, struct learner *l, json_t *j)
{
	long positives, negatives, calibrated = 0;
	json_t *cal = json_object_get(j, "calibration");
	json_t *wp = json_object_get(j, "window_p"), *wy = json_object_get(j, "window_y");
	if (!json_is_object(j))
		return err_set(err, EINVAL, "progress: not an object");
	if (load_real(err, json_object_get(j, "log_loss_sum"), "progress.log_loss_sum",
		      &l->log_loss_sum) ||
	    load_real(err, json_object_get(j, "brier_sum"), "progress.brier_sum", &l->brier_sum) ||
	    load_histogram(err, l->hist_pos, json_object_get(j, "hist_pos"), "progress.hist_pos",
			   &positives) ||
	    load_histogram(err, l->hist_neg, json_object_get(j, "hist_neg"), "progress.hist_neg",
			   &negatives) ||
	    load_array(err, cal, "progress.calibration", LEARNER_CALIBRATION_BUCKETS))
		return -1;
	if (positives + negatives != l->trades)
		return err_set(err, EINVAL, "progress: histograms hold %ld trades, not %ld",
			       positives + negatives, l->trades);
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		json_t *row = json_array_get(cal, (size_t)b);
		if (load_array(err, row, "progress.calibration[]", 3) ||
		    load_count(err, json_array_get(row, 0), "progress.calibration[].count",
			       &l->cal_count[b]) ||
		    load_real(err, json_array_get(row, 1), "progress.calibration[].pred_sum",
			      &l->cal_pred_sum[b]) ||
		    load_count(err, json_array_get(row, 2), "progress.calibration[].wins",
			       &l->cal_wins[b]))
			return -1;
		calibrated += l->cal_count[b];
	}
	if (calibrated != l->trades)
		return err_set(err, EINVAL, "progress.calibration: holds %ld trades, not %ld",
			       calibrated, l->trades);
	if (load_array(err, wp, "progress.window_p", 0) ||
	    load_array(err, wy, "progress.window_y", json_array_size(wp)))
		return -1;
	/* A smaller window than the saved one keeps the most recent pairs. */
	size_t saved = json_array_size(wp);
	size_t keep = saved < (size_t)l->opt.window ? saved : (size_t)l->opt.window;
	for (size_t i = saved - keep; i < saved; i++) {
		double p = NAN;
		json_t *y = json_array_get(wy, i);
		if (load_real(err, json_array_get(wp, i), "progress.window_p[]", &p))
			return -1;
		if (!(p >= 0 && p <= 1))
			return err_set(err, EINVAL, "progress.window_p[%zu]: not a probability", i);
		if (!json_is_integer(y) ||
		    (json_integer_value(y) != 0 && json_integer_value(y) != 1))
			return err_set(err, EINVAL, "progress.window_y[%zu]: not 0 or 1", i);
		l->ring_p[l->ring_len] = p;
		l->ring_y[l->ring_len] = (unsigned char)json_integer_value(y);
		l->ring_len++;
	}
	l->ring_head = l->ring_len % l->opt.window;
	/* The drift detector came after the first state files: absent, it
	 * starts afresh rather than refusing the learned model. */
	json_t *drift = json_object_get(j, "drift");
	if (drift &&
	    (load_count(err, json_object_get(drift, "n"), "progress.drift.n", &l->drift.n) ||
	     load_real(err, json_object_get(drift, "mean"), "progress.drift.mean",
		       &l->drift.mean) ||
	     load_real(err, json_object_get(drift, "cum"), "progress.drift.cum", &l->drift.cum) ||
	     load_real(err, json_object_get(drift, "min_cum"), "progress.drift.min_cum",
		       &l->drift.min_cum)))
		return -1;
	return 0;
}

/* The segments saved (segments_save) into l's empty ones. None saved,
 * or saved by another field (the config changed), starts every segment
 * afresh; the shared model keeps what it learned, and the metrics of the
 * predictions made start from its own. */
static int segments_load(struct err *err, struct learner *l, json_t *j, json_t *shared_progress)
{
	struct segments *g = l->seg;
	const char *by = json_string_value(json_object_get(j, "by"));
	json_t *models = json_object_get(j, "models"), *v;
	size_t i;
	if (!j || !by || strcmp(by, g->by) != 0) {
		/* Until the segments have their own, the predictions made are
		 * the shared model's: its metrics carry on. */
		g->used->trades = l->trades;
		return load_progress(err, g->used, shared_progress);
	}
	if (load_count(err, json_object_get(j, "trades"), "segments.trades", &g->used->trades) ||
	    load_count(err, json_object_get(j, "beyond_cap"), "segments.beyond_cap",
		       &g->beyond_cap) ||
	    load_progress(err, g->used, json_object_get(j, "used")))
		return err_prefix(err, "segments");
	if (!json_is_array(models) || json_array_size(models) > LEARNER_MAX_SEGMENTS)
		return err_set(err, EINVAL, "segments.models: not an array of at most %d",
			       LEARNER_MAX_SEGMENTS);
	json_array_foreach(models, i, v)
	{
		const char *value = json_string_value(json_object_get(v, "value"));
		struct learner_options plain = l->opt;
		snprintf(plain.segment_by, sizeof plain.segment_by, "none");
		if (!value)
			return err_set(err, EINVAL, "segments.models[%zu].value: not a string", i);
		struct learner *m = learner_new(&plain, err);
		char *copy = m ? strdup(value) : NULL;
		if (!copy) {
			learner_free(m);
			return m ? err_set(err, ENOMEM, "out of memory") : -1;
		}
		g->value[g->n] = copy;
		g->model[g->n++] = m;
		if (learner_load(m, json_object_get(v, "state"), err))
			return err_prefix(err, "segments.models[%zu]", i);
	}
	return 0;
}

int learner_load(struct learner *l, json_t *saved, struct err *err)
{
	int rc = -1;
	struct learner *fresh = NULL;
	json_t *options = json_object_get(saved, "options");
	json_t *ts = json_object_get(saved, "latest_exit_ts");
	if (!json_is_object(saved)) {
		err_set(err, EINVAL, "state: not an object");
		goto done;
	}
	json_int_t format = json_integer_value(json_object_get(saved, "format"));
	if (format != 1 && format != STATE_FORMAT) {
		err_set(err, EINVAL, "format: not 1 or %d", STATE_FORMAT);
		goto done;
	}
	json_t *bits = json_object_get(options, "hash_bits");
	if (!json_is_integer(bits)) {
		err_set(err, EINVAL, "options.hash_bits: not an integer");
		goto done;
	}
	if (json_integer_value(bits) != l->opt.hash_bits) {
		err_set(err, EINVAL,
			"options.hash_bits: saved %lld, configured %d (the table cannot be "
			"re-hashed: start a new state to change it)",
			(long long)json_integer_value(bits), l->opt.hash_bits);
		goto done;
	}
	fresh = learner_new(&l->opt, err);
	if (!fresh)
		goto done;
	if (load_count(err, json_object_get(saved, "trades"), "trades", &fresh->trades) ||
	    load_real(err, json_object_get(saved, "bias"), "bias", &fresh->bias) ||
	    load_real(err, json_object_get(saved, "bias_g2"), "bias_g2", &fresh->bias_g2) ||
	    load_numeric(err, fresh, json_object_get(saved, "numeric")) ||
	    load_count(err, json_object_get(saved, "numeric_ignored"), "numeric_ignored",
		       &fresh->numeric_ignored) ||
	    load_buckets(err, fresh, json_object_get(saved, "buckets")) ||
	    load_values(err, fresh, json_object_get(saved, "values")) ||
	    load_count(err, json_object_get(saved, "values_unmapped"), "values_unmapped",
		       &fresh->values_unmapped) ||
	    load_real(err, json_object_get(saved, "abs_pnl_sum"), "abs_pnl_sum",
		      &fresh->abs_pnl_sum) ||
	    load_count(err, json_object_get(saved, "abs_pnl_count"), "abs_pnl_count",
		       &fresh->abs_pnl_count) ||
	    load_progress(err, fresh, json_object_get(saved, "progress")))
		goto done;
	if (json_is_integer(ts)) {
		fresh->latest_exit_ts = json_integer_value(ts);
	} else if (!json_is_null(ts)) {
		err_set(err, EINVAL, "latest_exit_ts: not an integer or null");
		goto done;
	}
	/* Format 1 divided by an sd floor of 1e-6 without a clip: one value
	 * after a run of equal ones gave |z| ~ 1e6, whose g² froze the feature's
	 * step for good. Its weights cannot be trusted or moved: relearn them,
	 * from the running statistics, which are still right. */
	if (format == 1)
		for (int i = 0; i < fresh->n_numeric; i++)
			fresh->numeric[i].weight = fresh->numeric[i].g2 = 0.0;
	if (fresh->seg && segments_load(err, fresh, json_object_get(saved, "segments"),
					json_object_get(saved, "progress")))
		goto done;
	struct learner swap = *l;
	*l = *fresh;
	*fresh = swap;
	rc = 0;
done:
	learner_free(fresh);
	return rc;
}

/* ---- export ------------------------------------------------------------------------- */

json_t *learner_calibration_json(const struct learner_metrics *m, int window)
{
	const long *count = window ? m->window_calibration_count : m->calibration_count;
	const double *pred = window ? m->window_calibration_pred : m->calibration_pred;
	const double *obs = window ? m->window_calibration_obs : m->calibration_obs;
	int ok = 1;
	json_t *a = json_array();
	if (!a)
		return NULL;
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		double lo = (double)b / LEARNER_CALIBRATION_BUCKETS;
		double hi = (double)(b + 1) / LEARNER_CALIBRATION_BUCKETS;
		append(a,
		       json_pack("{s:[ff],s:I,s:o,s:o}", "range", lo, hi, "trades",
				 (json_int_t)count[b], "mean_predicted",
				 jsontext_real_or_null(pred[b]), "observed_win_rate",
				 jsontext_real_or_null(obs[b])),
		       &ok);
	}
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *metrics_of(const struct learner_metrics *mp, int *ok);

static json_t *metrics_json(const struct learner *l, int *ok)
{
	struct learner_metrics m;
	learner_metrics(l, &m);
	return metrics_of(&m, ok);
}

static json_t *metrics_of(const struct learner_metrics *mp, int *ok)
{
	struct learner_metrics m = *mp;
	json_t *j = json_object(), *w = json_object();
	if (!j || !w) {
		json_decref(j);
		json_decref(w);
		*ok = 0;
		return NULL;
	}
	put(j, "trades_scored", json_integer(m.trades_scored), ok);
	put(j, "log_loss", jsontext_real_or_null(m.log_loss), ok);
	put(j, "brier", jsontext_real_or_null(m.brier), ok);
	put(j, "auc", jsontext_real_or_null(m.auc), ok);
	put(j, "auc_error_bound", jsontext_real_or_null(m.auc_error_bound), ok);
	put(j, "ece", jsontext_real_or_null(m.ece), ok);
	put(j, "calibration", learner_calibration_json(&m, 0), ok);
	put(w, "trades", json_integer(m.window_trades), ok);
	put(w, "log_loss", jsontext_real_or_null(m.window_log_loss), ok);
	put(w, "brier", jsontext_real_or_null(m.window_brier), ok);
	put(w, "auc", jsontext_real_or_null(m.window_auc), ok);
	put(w, "ece", jsontext_real_or_null(m.window_ece), ok);
	put(w, "calibration", learner_calibration_json(&m, 1), ok);
	put(j, "window", w, ok);
	return j;
}

static json_t *categorical_json(const struct learner *l, int *ok)
{
	json_t *j = json_object(), *fields = json_array(), *weights = json_object();
	if (!j || !fields || !weights) {
		json_decref(j);
		json_decref(fields);
		json_decref(weights);
		*ok = 0;
		return NULL;
	}
	for (int i = 0; i < FIELD_COUNT_CATEGORICAL; i++)
		append(fields, json_string(categorical_fields[i]), ok);
	/* The categories the values name, in the order first seen. */
	for (int i = 0; i < l->n_values; i++) {
		const char *t = l->values[i], *eq = strchr(t, '=');
		size_t n = eq ? (size_t)(eq - t) : strlen(t), k;
		json_t *known;
		int seen = 0;
		json_array_foreach(fields, k, known) seen |=
		    strlen(json_string_value(known)) == n &&
		    strncmp(json_string_value(known), t, n) == 0;
		if (!seen)
			append(fields, json_stringn(t, n), ok);
	}
	put(j, "fields", fields, ok);
	put(j, "hash", json_string("fnv1a64 of 'field=value' masked to buckets"), ok);
	put(j, "buckets", json_integer((json_int_t)l->mask + 1), ok);
	for (int i = 0; i < l->n_values; i++) {
		uint32_t b = (uint32_t)text_hash(l->values[i]) & l->mask;
		put(weights, l->values[i], jsontext_real_or_null(l->bucket_weight[b]), ok);
	}
	put(j, "weights", weights, ok);
	return j;
}

json_t *learner_export(const struct learner *l, const char *written_at_iso);

/* "segments" of the export: {"by", "min_trades", "shared_metrics",
 * "models": {value: the segment's own export, with "in_use"}}. */
static json_t *segments_export(const struct learner *l, int *ok)
{
	struct learner_metrics shared;
	json_t *j = json_object(), *models = json_object();
	if (!j || !models) {
		json_decref(j);
		json_decref(models);
		*ok = 0;
		return NULL;
	}
	learner_shared_metrics(l, &shared);
	put(j, "by", json_string(l->seg->by), ok);
	put(j, "min_trades", json_integer(l->opt.segment_min_trades), ok);
	put(j, "shared_metrics", metrics_of(&shared, ok), ok);
	for (int i = 0; i < l->seg->n; i++) {
		json_t *m = learner_export(l->seg->model[i], NULL);
		put(m, "in_use", json_boolean(learner_segment_in_use(l, i)), ok);
		put(models, l->seg->value[i], m, ok);
	}
	put(j, "models", models, ok);
	return j;
}

json_t *learner_export(const struct learner *l, const char *written_at_iso)
{
	int ok = 1;
	json_t *j = json_object(), *numeric = json_object();
	if (!j || !numeric) {
		json_decref(numeric);
		goto fail;
	}
	put(j, "format", json_integer(EXPORT_FORMAT), &ok);
	put(j, "kind", json_string("tradelearn-online-logistic"), &ok);
	put(j, "written_at", written_at_iso ? json_string(written_at_iso) : json_null(), &ok);
	put(j, "trades_learned", json_integer(l->trades), &ok);
	put(j, "bias", jsontext_real_or_null(l->bias), &ok);
	put(j, "z_clip", json_real(LEARNER_Z_CLIP), &ok);
	/* sd null: not usable yet, z = 0 (feature_sd is 0). */
	for (int i = 0; i < l->n_numeric; i++) {
		const struct numeric_feature *f = &l->numeric[i];
		double sd = feature_sd(f);
		put(numeric, f->name,
		    json_pack("{sososo}", "weight", jsontext_real_or_null(f->weight), "mean",
			      jsontext_real_or_null(f->mean), "sd",
			      sd > 0 ? json_real(sd) : json_null()),
		    &ok);
	}
	put(j, "numeric", numeric, &ok);
	put(j, "categorical", categorical_json(l, &ok), &ok);
	put(j, "time_of_day_buckets",
	    json_string(calendar_sessions_count() ? calendar_sessions_text() : time_of_day_text),
	    &ok);
	put(j, "metrics", metrics_json(l, &ok), &ok);
	if (l->seg)
		put(j, "segments", segments_export(l, &ok), &ok);
	if (!ok)
		goto fail;
	return j;
fail:
	json_decref(j);
	errno = ENOMEM;
	return NULL;
}
