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
#include "lib/base/hash.h"
#include "lib/base/jsontext.h"
#include "lib/learn/learner.h"
#include "lib/ingest/record.h"

static int64_t monday_1500_utc; /* 10:00 in New York: the "open" bucket */

static int set_zone(void **state)
{
	(void)state;
	if (calendar_parse_iso("2026-02-02T15:00:00Z", &monday_1500_utc))
		return -1;
	return calendar_set_zone("America/New_York");
}

static int same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* cmocka's float comparison works in float: this one keeps double. */
#define assert_near(got, want, tolerance) assert_near_at(got, want, tolerance, __FILE__, __LINE__)
static void assert_near_at(double got, double want, double tolerance, const char *file, int line)
{
	if (!(fabs(got - want) <= tolerance))
		fail_msg("%s:%d: %.17g, want %.17g ± %g", file, line, got, want, tolerance);
}

/* ---- synthetic trades ------------------------------------------------------------ */

/* splitmix64: a fixed-seed generator, the same on every machine. */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double uniform01(uint64_t *s)
{
	return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

static double standard_normal(uint64_t *s)
{
	double u = uniform01(s), v = uniform01(s);
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* A close with every optional value absent; release with record_release(). */
static void blank_record(struct record *r)
{
	memset(r, 0, sizeof *r);
	r->kind = PROFILE_KIND_CLOSE;
	r->ts = r->entry_ts = CALENDAR_NONE;
	r->entry_price = r->exit_price = r->qty = r->pnl_usd = r->pnl_frac = NAN;
	r->hold_minutes = r->confidence = r->score = r->fraction = NAN;
	r->equity = r->price = r->stop_loss = r->take_profit = NAN;
}

/* Gives r a components object (owned by r->row, as record_parse does). */
static void set_components(struct record *r, json_t *components)
{
	assert_non_null(components);
	r->row = components;
	r->components = components;
}

static const char *const symbols[] = {"AAPL", "MSFT", "NVDA", "TSLA"};
static const char *const regimes[] = {"trend_up", "trend_down", "range"};

/* Trade i of the planted model y ~ Bernoulli(sigmoid(1.5·x1 − 1.0·x2 + 0·x3)),
 * one minute after the previous one, with categorical context that carries
 * no signal. */
static void synthetic_trade(struct record *r, uint64_t *rng, long i)
{
	double x1 = standard_normal(rng), x2 = standard_normal(rng), x3 = standard_normal(rng);
	double logit = 1.5 * x1 - 1.0 * x2 + 0.0 * x3;
	int win = uniform01(rng) < 1.0 / (1.0 + exp(-logit));
	double size = 0.002 + 0.02 * uniform01(rng);
	blank_record(r);
	set_components(r, json_pack("{sfsfsf}", "x1", x1, "x2", x2, "x3", x3));
	r->symbol = symbols[i % 4];
	r->regime = regimes[i % 3];
	r->timeframe = "5m";
	r->side = i % 2 ? 1 : -1;
	r->ts = monday_1500_utc + i * 60 * CALENDAR_US_PER_S;
	r->entry_ts = r->ts - 30 * 60 * CALENDAR_US_PER_S;
	r->pnl_frac = win ? size : -size;
	r->pnl_usd = 1000.0 * r->pnl_frac;
}

/* Feeds trades [from, to) of the stream of seed to l; p and y (may be NULL)
 * receive the progressive scores and labels at index i − from. */
static void learn_stream(struct learner *l, uint64_t seed, long from, long to, double *p, int *y)
{
	uint64_t rng = seed;
	for (long i = 0; i < to; i++) {
		struct record r;
		synthetic_trade(&r, &rng, i);
		if (i >= from) {
			double got = learner_learn(l, &r);
			if (p)
				p[i - from] = got;
			if (y)
				y[i - from] = r.pnl_usd > 0;
		}
		record_release(&r);
	}
}

/* ---- free-standing metrics -------------------------------------------------------- */

struct auc_case {
	const char *what;
	size_t n;
	double score[6];
	int label[6];
	double want; /* NAN: undefined */
};

static const struct auc_case auc_cases[] = {
    {"sklearn roc_auc_score example", 4, {0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}, 0.75},
    {"all scores tied", 4, {0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}, 0.5},
    {"perfect ranking", 4, {0.1, 0.2, 0.3, 0.4}, {0, 0, 1, 1}, 1.0},
    {"inverted ranking", 4, {0.1, 0.2, 0.3, 0.4}, {1, 1, 0, 0}, 0.0},
    /* pairs: .5+ vs .2 → 1, .5+ vs .5− → ½, .9+ vs both → 2: 3.5 / 4 */
    {"a tie across classes counts half", 4, {0.2, 0.5, 0.5, 0.9}, {0, 0, 1, 1}, 0.875},
    /* positives .3, .7; negatives .1, .5, .2: .3 beats 2, .7 beats 3: 5 / 6 */
    {"unsorted input", 5, {0.3, 0.1, 0.7, 0.5, 0.2}, {1, 0, 1, 0, 0}, 5.0 / 6.0},
    {"one class only", 3, {0.1, 0.2, 0.3}, {1, 1, 1}, NAN},
    {"no pairs at all", 0, {0}, {0}, NAN},
};

static void test_auc_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof auc_cases / sizeof auc_cases[0]; i++) {
		const struct auc_case *c = &auc_cases[i];
		double got = learner_auc(c->score, c->label, c->n);
		if (!same_double(got, c->want) && !(fabs(got - c->want) < 1e-15))
			fail_msg("%s: auc %.17g, want %.17g", c->what, got, c->want);
	}
}

static void test_brier_published_value(void **state)
{
	(void)state;
	/* sklearn brier_score_loss: (.01 + .04 + .01 + .09 + 0 + .0025) / 6 */
	const int y[] = {0, 1, 1, 0, 1, 1};
	const double p[] = {0.1, 0.8, 0.9, 0.3, 1.0, 0.95};
	assert_near(learner_brier(p, y, 6), 0.0254166667, 1e-9);
	assert_true(isnan(learner_brier(p, y, 0)));
}

static void test_log_loss_by_hand_and_clipping(void **state)
{
	(void)state;
	/* mean of −log(1−.1) = 0.10536051565782628, −log(1−.2) = 0.2231435513142097,
	 * −log(.7) = 0.35667494393873245, −log(.99) = 0.01005033585350145
	 * = 0.6952293467643199 / 4 = 0.1738073366910675 */
	const int y[] = {0, 0, 1, 1};
	const double p[] = {0.1, 0.2, 0.7, 0.99};
	assert_near(learner_log_loss(p, y, 4), 0.1738073366910675, 1e-12);
	assert_true(isnan(learner_log_loss(p, y, 0)));

	/* p = 0 and p = 1 are clipped to 1e-15 away: a finite −log(1e-15) ≈ 34.5388
	 * when wrong, ≈ 0 when right. */
	const int wrong_y[] = {1, 0}, right_y[] = {0, 1};
	const double certain[] = {0.0, 1.0};
	double wrong = learner_log_loss(certain, wrong_y, 2);
	assert_true(isfinite(wrong));
	assert_near(wrong, 34.538776394910684, 1e-3);
	assert_near(learner_log_loss(certain, right_y, 2), 0.0, 1e-14);
}

/* ---- lifecycle -------------------------------------------------------------------- */

struct bad_option {
	const char *what;
	size_t offset;
	int is_int;
	double value;
};

#define AT(name) offsetof(struct learner_options, name)

static const struct bad_option bad_options[] = {
    {"eta 0", AT(eta), 0, 0},
    {"eta infinite", AT(eta), 0, INFINITY},
    {"l2 negative", AT(l2), 0, -1},
    {"hash_bits 0", AT(hash_bits), 1, 0},
    {"hash_bits 25", AT(hash_bits), 1, 25},
    {"window 0", AT(window), 1, 0},
    {"half_life_days 0", AT(half_life_days), 0, 0},
    {"half_life_days NaN", AT(half_life_days), 0, NAN},
    {"weight_min above weight_max", AT(weight_min), 0, 3.0},
    {"weight_min 0", AT(weight_min), 0, 0},
    {"win_boost 0", AT(win_boost), 0, 0},
};

static void test_options_defaults_and_refusals(void **state)
{
	(void)state;
	struct learner_options o;
	learner_options_init(&o);
	assert_true(o.eta == 0.05 && o.l2 == 1e-4 && o.hash_bits == 12 && o.window == 500);
	assert_true(o.half_life_days == 30 && o.weight_min == 0.5 && o.weight_max == 2.0);
	assert_int_equal(o.asymmetric, 0);
	assert_true(o.win_boost == 1.3 && o.loss_boost == 0.7);

	for (size_t i = 0; i < sizeof bad_options / sizeof bad_options[0]; i++) {
		struct learner_options spoilt = o;
		char *field = (char *)&spoilt + bad_options[i].offset;
		if (bad_options[i].is_int)
			*(int *)field = (int)bad_options[i].value;
		else
			*(double *)field = bad_options[i].value;
		struct err err = {0};
		if (learner_new(&spoilt, &err) || err.code != EINVAL)
			fail_msg("%s: accepted", bad_options[i].what);
	}
	struct learner *l = learner_new(NULL, NULL);
	assert_non_null(l);
	learner_free(l);
	learner_free(NULL);
}

/* ---- learning --------------------------------------------------------------------- */

static void test_optimizer_recovers_planted_weights(void **state)
{
	(void)state;
	enum { N = 4000, LAST = 2000 };
	static double p[N];
	static int y[N];
	struct learner *l = learner_new(NULL, NULL);
	assert_non_null(l);
	learn_stream(l, 42, 0, N, p, y);
	double w1 = learner_numeric_weight(l, "x1"), w2 = learner_numeric_weight(l, "x2"),
	       w3 = learner_numeric_weight(l, "x3");
	double auc = learner_auc(p + N - LAST, y + N - LAST, LAST);
	print_message("planted 1.5, -1.0, 0: learned x1 %.3f, x2 %.3f, x3 %.3f; progressive "
		      "AUC of the last %d: %.4f\n",
		      w1, w2, w3, LAST, auc);
	assert_true(w1 > 0 && w2 < 0);
	assert_true(w1 > -w2 && -w2 > fabs(w3));
	assert_true(fabs(w3) < 0.15);
	assert_true(auc > 0.7);
	assert_int_equal(learner_trades(l), N);
	learner_free(l);
}

static void test_progressive_score_is_taken_before_learning(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	struct record r;
	blank_record(&r);
	set_components(&r, json_pack("{sf}", "momentum", 0.7));
	r.symbol = "AAPL";
	r.ts = monday_1500_utc;
	r.pnl_usd = 12.0;
	r.pnl_frac = 0.012;
	assert_true(learner_learn(l, &r) == 0.5); /* nothing learned yet */
	double second = learner_learn(l, &r);
	assert_true(second > 0.5); /* the first learning was a win */
	assert_true(learner_predict(l, &r) > second);

	struct learner_metrics m;
	learner_metrics(l, &m);
	assert_int_equal(m.trades_scored, 2);
	/* first scored at 0.5, second at `second`: both wins */
	double want = (-log(0.5) - log(second)) / 2;
	assert_near(m.log_loss, want, 1e-15);
	record_release(&r);
	learner_free(l);
}

struct label_case {
	const char *what;
	double pnl_usd, pnl_frac;
	int win;
};

static const struct label_case label_cases[] = {
    {"positive USD is a win", 5.0, 0.01, 1},
    {"zero USD is a loss", 0.0, 0.0, 0},
    {"negative USD is a loss", -5.0, -0.01, 0},
    {"USD decides over the fraction", 0.0, 0.01, 0},
    {"no USD: positive fraction is a win", NAN, 0.01, 1},
    {"no USD: zero fraction is a loss", NAN, 0.0, 0},
};

static void test_label_table_zero_pnl_is_a_loss(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof label_cases / sizeof label_cases[0]; i++) {
		const struct label_case *c = &label_cases[i];
		struct learner *l = learner_new(NULL, NULL);
		struct record r;
		blank_record(&r);
		r.symbol = "AAPL";
		r.pnl_usd = c->pnl_usd;
		r.pnl_frac = c->pnl_frac;
		learner_learn(l, &r);
		struct learner_metrics m;
		learner_metrics(l, &m);
		/* scored 0.5 into calibration bucket 5, whose observed rate is y */
		if (m.calibration_obs[5] != c->win || (learner_predict(l, &r) > 0.5) != c->win)
			fail_msg("%s: learned as %s", c->what, c->win ? "a loss" : "a win");
		record_release(&r);
		learner_free(l);
	}
}

static void test_records_without_pnl_or_not_closes_are_refused(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	struct record r;
	blank_record(&r);
	r.symbol = "AAPL";
	assert_true(isnan(learner_learn(l, &r))); /* no P&L at all */
	r.pnl_usd = 3.0;
	r.kind = PROFILE_KIND_OPEN;
	assert_true(isnan(learner_learn(l, &r)));
	r.kind = PROFILE_KIND_PARTIAL;
	assert_true(learner_learn(l, &r) == 0.5);
	assert_int_equal(learner_trades(l), 1);
	learner_free(l);
}

static void test_numeric_features_beyond_the_cap_are_ignored_and_counted(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	struct record r;
	blank_record(&r);
	json_t *components = json_object();
	for (int i = 0; i < LEARNER_MAX_NUMERIC + 44; i++) {
		char name[32];
		snprintf(name, sizeof name, "c%03d", i);
		json_object_set_new(components, name, json_real(i));
	}
	json_object_set_new(components, "label", json_string("not a number"));
	set_components(&r, components);
	r.confidence = 0.6; /* a feature too: 44 + 1 components left out */
	r.pnl_usd = 1.0;
	learner_learn(l, &r);
	assert_int_equal(learner_numeric_ignored(l), 45);
	learner_learn(l, &r);
	assert_int_equal(learner_numeric_ignored(l), 90);
	assert_true(learner_numeric_weight(l, "confidence") == 0.0);
	assert_true(isnan(learner_numeric_weight(l, "label")));
	record_release(&r);
	learner_free(l);
}

/* Copies src's state into a new learner with options o (NULL: defaults). */
static struct learner *clone_with(const struct learner *src, const struct learner_options *o)
{
	struct err err = {0};
	struct learner *l = learner_new(o, NULL);
	json_t *saved = learner_save(src);
	assert_non_null(l);
	assert_non_null(saved);
	if (learner_load(l, saved, &err))
		fail_msg("load: %s", err);
	json_decref(saved);
	return l;
}

/* |change of P(win) of probe| when l learns probe. */
static double movement(struct learner *l, const struct record *probe)
{
	double before = learner_predict(l, probe);
	learner_learn(l, probe);
	return fabs(learner_predict(l, probe) - before);
}

static void probe_trade(struct record *r, double pnl_frac, int64_t exit_ts)
{
	blank_record(r);
	r->symbol = "AAPL";
	r->regime = "range";
	r->ts = exit_ts;
	r->pnl_frac = pnl_frac;
	r->pnl_usd = 1000.0 * pnl_frac;
}

static void test_asymmetric_boost_is_off_by_default_and_favours_wins(void **state)
{
	(void)state;
	struct learner_options on;
	learner_options_init(&on);
	assert_int_equal(on.asymmetric, 0);
	on.asymmetric = 1;

	/* A balanced history of equal-sized wins and losses: p stays near ½, so
	 * a win and a loss of the same size are errors of the same size. */
	struct learner *base = learner_new(NULL, NULL);
	struct record r;
	for (int i = 0; i < 200; i++) {
		probe_trade(&r, i % 2 ? 0.01 : -0.01, monday_1500_utc + i * CALENDAR_US_PER_S);
		learner_learn(base, &r);
	}
	int64_t t = monday_1500_utc + 200 * CALENDAR_US_PER_S;
	struct record win, loss;
	probe_trade(&win, 0.01, t);
	probe_trade(&loss, -0.01, t);

	struct learner *off_w = clone_with(base, NULL), *off_l = clone_with(base, NULL);
	struct learner *on_w = clone_with(base, &on), *on_l = clone_with(base, &on);
	double moved_off_win = movement(off_w, &win), moved_off_loss = movement(off_l, &loss);
	double moved_on_win = movement(on_w, &win), moved_on_loss = movement(on_l, &loss);
	assert_true(moved_on_win > moved_on_loss);
	assert_true(moved_on_win > moved_off_win);
	assert_true(moved_on_loss < moved_off_loss);
	/* off: the same size either way, up to p not being exactly ½ */
	assert_near(moved_off_win / moved_off_loss, 1.0, 0.1);

	learner_free(base);
	learner_free(off_w);
	learner_free(off_l);
	learner_free(on_w);
	learner_free(on_l);
}

static void test_late_old_record_moves_the_model_less(void **state)
{
	(void)state;
	struct learner *base = learner_new(NULL, NULL);
	struct record r;
	for (int i = 0; i < 200; i++) {
		probe_trade(&r, i % 2 ? 0.01 : -0.01, monday_1500_utc + i * CALENDAR_US_PER_S);
		learner_learn(base, &r);
	}
	int64_t latest = monday_1500_utc + 199 * CALENDAR_US_PER_S;
	struct record fresh, late;
	probe_trade(&fresh, 0.01, latest);
	/* Eight weeks earlier: the same weekday and hour, so the same buckets
	 * (a bucket's first AdaGrad step is eta whatever its gradient), and
	 * 56/30 half-lives: importance 0.27 instead of 1. */
	probe_trade(&late, 0.01, latest - 56 * 86400 * CALENDAR_US_PER_S);
	struct learner *a = clone_with(base, NULL), *b = clone_with(base, NULL);
	double moved_late = movement(b, &late), moved_fresh = movement(a, &fresh);
	assert_true(moved_late < 0.5 * moved_fresh);
	learner_free(base);
	learner_free(a);
	learner_free(b);
}

/* ---- state ------------------------------------------------------------------------ */

static void assert_same_metrics(const struct learner_metrics *a, const struct learner_metrics *b)
{
	assert_int_equal(a->trades_scored, b->trades_scored);
	assert_int_equal(a->window_trades, b->window_trades);
	const double x[] = {a->log_loss,	a->brier,      a->auc,
			    a->auc_error_bound, a->ece,	       a->window_log_loss,
			    a->window_brier,	a->window_auc, a->window_ece};
	const double y[] = {b->log_loss,	b->brier,      b->auc,
			    b->auc_error_bound, b->ece,	       b->window_log_loss,
			    b->window_brier,	b->window_auc, b->window_ece};
	for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
		if (!same_double(x[i], y[i]))
			fail_msg("metric %zu: %.17g != %.17g", i, x[i], y[i]);
	for (int k = 0; k < LEARNER_CALIBRATION_BUCKETS; k++) {
		assert_int_equal(a->calibration_count[k], b->calibration_count[k]);
		assert_true(same_double(a->calibration_pred[k], b->calibration_pred[k]));
		assert_true(same_double(a->calibration_obs[k], b->calibration_obs[k]));
	}
}

static void test_save_load_text_round_trip_is_exact(void **state)
{
	(void)state;
	struct learner_options o;
	learner_options_init(&o);
	o.window = 300; /* 1000 trades leave the ring rotated */
	struct learner *a = learner_new(&o, NULL), *b = learner_new(&o, NULL);
	struct err err = {0};
	learn_stream(a, 7, 0, 1000, NULL, NULL);

	json_t *saved = learner_save(a);
	assert_non_null(saved);
	char *text = jsontext_dump(saved, JSONTEXT_COMPACT, NULL);
	assert_non_null(text);
	json_t *parsed = json_loads(text, 0, NULL);
	assert_non_null(parsed);
	if (learner_load(b, parsed, &err))
		fail_msg("load: %s", err);
	assert_true(json_equal(saved, parsed));
	json_decref(saved);
	json_decref(parsed);
	free(text);

	static double pa[500], pb[500];
	learn_stream(a, 7, 1000, 1500, pa, NULL);
	learn_stream(b, 7, 1000, 1500, pb, NULL);
	for (int i = 0; i < 500; i++)
		assert_true(pa[i] == pb[i]);
	const char *names[] = {"x1", "x2", "x3"};
	for (int i = 0; i < 3; i++)
		assert_true(learner_numeric_weight(a, names[i]) ==
			    learner_numeric_weight(b, names[i]));
	json_t *sa = learner_save(a), *sb = learner_save(b);
	assert_true(json_equal(sa, sb)); /* every weight, G, count and sum: == */
	struct learner_metrics ma, mb;
	learner_metrics(a, &ma);
	learner_metrics(b, &mb);
	assert_same_metrics(&ma, &mb);
	json_decref(sa);
	json_decref(sb);
	learner_free(a);
	learner_free(b);
}

static void test_two_learners_fed_the_same_records_save_the_same(void **state)
{
	(void)state;
	struct learner *a = learner_new(NULL, NULL), *b = learner_new(NULL, NULL);
	learn_stream(a, 11, 0, 700, NULL, NULL);
	learn_stream(b, 11, 0, 700, NULL, NULL);
	json_t *sa = learner_save(a), *sb = learner_save(b);
	assert_true(json_equal(sa, sb));
	char *ta = jsontext_dump(sa, JSONTEXT_COMPACT, NULL),
	     *tb = jsontext_dump(sb, JSONTEXT_COMPACT, NULL);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	json_decref(sa);
	json_decref(sb);
	learner_free(a);
	learner_free(b);
}

static void test_load_refusals_leave_the_learner_unchanged(void **state)
{
	(void)state;
	struct learner_options other;
	learner_options_init(&other);
	other.hash_bits = 10;
	struct learner *src = learner_new(&other, NULL), *l = learner_new(NULL, NULL);
	learn_stream(src, 3, 0, 50, NULL, NULL);
	learn_stream(l, 5, 0, 50, NULL, NULL);
	json_t *before = learner_save(l);
	struct err err = {0};

	json_t *saved = learner_save(src);
	assert_int_equal(learner_load(l, saved, &err), -1);
	assert_non_null(strstr(err.msg, "hash_bits"));
	json_decref(saved);

	json_t *not_state = json_string("hello");
	assert_int_equal(learner_load(l, not_state, &err), -1);
	json_decref(not_state);

	/* a valid state spoilt deep inside */
	struct learner *same = learner_new(NULL, NULL);
	learn_stream(same, 3, 0, 50, NULL, NULL);
	saved = learner_save(same);
	json_object_set_new(json_object_get(saved, "progress"), "window_y", json_array());
	assert_int_equal(learner_load(l, saved, &err), -1);
	assert_non_null(strstr(err.msg, "progress.window_y"));
	json_decref(saved);

	json_t *after = learner_save(l);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	learner_free(src);
	learner_free(same);
	learner_free(l);
}

static void test_load_into_a_smaller_window_keeps_the_most_recent(void **state)
{
	(void)state;
	enum { N = 400 };
	static double p[N];
	static int y[N];
	struct learner_options small;
	learner_options_init(&small);
	small.window = 100;
	struct learner *big = learner_new(NULL, NULL);
	learn_stream(big, 9, 0, N, p, y);
	struct learner *l = clone_with(big, &small);
	struct learner_metrics m;
	learner_metrics(l, &m);
	assert_int_equal(m.window_trades, 100);
	assert_true(m.window_auc == learner_auc(p + N - 100, y + N - 100, 100));
	assert_true(m.window_brier == learner_brier(p + N - 100, y + N - 100, 100));
	learner_free(big);
	learner_free(l);
}

/* ---- metrics and export ----------------------------------------------------------- */

static void test_histogram_auc_within_its_bound_of_the_exact_auc(void **state)
{
	(void)state;
	enum { N = 4000 };
	static double p[N];
	static int y[N];
	struct learner *l = learner_new(NULL, NULL);
	learn_stream(l, 42, 0, N, p, y);
	struct learner_metrics m;
	learner_metrics(l, &m);
	double exact = learner_auc(p, y, N);
	assert_true(m.auc_error_bound >= 0 && m.auc_error_bound < 0.01);
	assert_true(fabs(m.auc - exact) <= m.auc_error_bound + 1e-12);
	/* the running sums are the free functions over the same pairs */
	assert_near(m.log_loss, learner_log_loss(p, y, N), 1e-12);
	assert_near(m.brier, learner_brier(p, y, N), 1e-12);
	assert_true(m.window_trades == 500);
	assert_true(m.window_auc == learner_auc(p + N - 500, y + N - 500, 500));
	/* ECE from the calibration table it reports */
	double ece = 0;
	long total = 0;
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		total += m.calibration_count[b];
		if (m.calibration_count[b])
			ece += (double)m.calibration_count[b] / N *
			       fabs(m.calibration_pred[b] - m.calibration_obs[b]);
	}
	assert_int_equal(total, N);
	assert_near(m.ece, ece, 1e-12);
	learner_free(l);
}

static void test_histogram_ties_make_the_bound(void **state)
{
	(void)state;
	/* With a tiny step, a win scored 0.5 and then a loss scored a hair above
	 * 0.5 share a histogram bin: the exact AUC is 0 (the loss outranks the
	 * win), the histogram says ½, and the bound says ½ — it is attained. */
	struct learner_options slow;
	learner_options_init(&slow);
	slow.eta = 1e-9;
	struct learner *l = learner_new(&slow, NULL);
	struct record win, loss;
	probe_trade(&win, 0.01, monday_1500_utc);
	probe_trade(&loss, -0.01, monday_1500_utc);
	double p[2];
	const int y[2] = {1, 0};
	p[0] = learner_learn(l, &win);
	p[1] = learner_learn(l, &loss);
	assert_true(p[0] == 0.5 && p[1] > 0.5 && p[1] < 0.5001);
	struct learner_metrics m;
	learner_metrics(l, &m);
	assert_true(learner_auc(p, y, 2) == 0.0);
	assert_true(m.auc == 0.5 && m.auc_error_bound == 0.5);
	assert_true(m.window_auc == 0.0); /* the window's AUC is exact */
	learner_free(l);
}

static void test_metrics_are_nan_when_undefined(void **state)
{
	(void)state;
	struct learner_metrics m;
	struct learner *l = learner_new(NULL, NULL);
	learner_metrics(l, &m);
	assert_int_equal(m.trades_scored, 0);
	assert_int_equal(m.window_trades, 0);
	assert_true(isnan(m.log_loss) && isnan(m.brier) && isnan(m.auc) && isnan(m.ece));
	assert_true(isnan(m.auc_error_bound));
	assert_true(isnan(m.window_log_loss) && isnan(m.window_brier));
	assert_true(isnan(m.window_auc) && isnan(m.window_ece));
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++)
		assert_true(isnan(m.calibration_pred[b]) && isnan(m.calibration_obs[b]));

	struct record win;
	probe_trade(&win, 0.01, monday_1500_utc);
	learner_learn(l, &win);
	learner_learn(l, &win);
	learner_metrics(l, &m);
	assert_true(isfinite(m.log_loss) && isfinite(m.brier) && isfinite(m.ece));
	assert_true(isnan(m.auc) && isnan(m.window_auc)); /* wins only */
	learner_free(l);
}

static const char *const export_keys[] = {
    "format", "kind",	 "written_at",	"trades_learned",      "bias",
    "z_clip", "numeric", "categorical", "time_of_day_buckets", "metrics",
};
static const char *const export_metric_keys[] = {
    "trades_scored", "log_loss", "brier", "auc", "auc_error_bound", "ece", "calibration", "window"};
static const char *const export_window_keys[] = {"trades", "log_loss", "brier",
						 "auc",	   "ece",      "calibration"};
static const char *const fields[] = {"regime",	  "time_of_day", "day_of_week", "side",
				     "timeframe", "sector",	 "symbol"};

/* The bot's scorer, written from the export alone (what ten lines of Python do). */
static double score_from_export(json_t *model, const struct record *r)
{
	double s = json_number_value(json_object_get(model, "bias"));
	const char *name;
	json_t *f;
	json_object_foreach(json_object_get(model, "numeric"), name, f)
	{
		json_t *x = r->components ? json_object_get(r->components, name) : NULL;
		json_t *sd = json_object_get(f, "sd");
		if (!json_is_number(x) || json_is_null(sd))
			continue;
		double clip = json_number_value(json_object_get(model, "z_clip"));
		double z = (json_number_value(x) - json_number_value(json_object_get(f, "mean"))) /
			   json_number_value(sd);
		s += json_number_value(json_object_get(f, "weight")) * fmax(-clip, fmin(clip, z));
	}
	json_t *weights = json_object_get(json_object_get(model, "categorical"), "weights");
	int64_t t = r->entry_ts != CALENDAR_NONE ? r->entry_ts : r->ts;
	const char *values[] = {r->regime,
				calendar_time_of_day(t),
				calendar_day_of_week(t),
				r->side > 0   ? "long"
				: r->side < 0 ? "short"
					      : NULL,
				r->timeframe,
				r->sector,
				r->symbol};
	for (int i = 0; i < 7; i++) {
		char key[128];
		snprintf(key, sizeof key, "%s=%s", fields[i], values[i] ? values[i] : "none");
		s += json_number_value(json_object_get(weights, key)); /* absent: 0 */
	}
	return 1.0 / (1.0 + exp(-s));
}

static void test_export_has_the_documented_keys_and_bucket_weights(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	learn_stream(l, 5, 0, 300, NULL, NULL);
	json_t *model = learner_export(l, "2026-02-02T21:05:00Z");
	assert_non_null(model);
	for (size_t i = 0; i < sizeof export_keys / sizeof export_keys[0]; i++)
		if (!json_object_get(model, export_keys[i]))
			fail_msg("export lacks %s", export_keys[i]);
	json_t *metrics = json_object_get(model, "metrics");
	for (size_t i = 0; i < sizeof export_metric_keys / sizeof export_metric_keys[0]; i++)
		assert_non_null(json_object_get(metrics, export_metric_keys[i]));
	for (size_t i = 0; i < sizeof export_window_keys / sizeof export_window_keys[0]; i++)
		assert_non_null(
		    json_object_get(json_object_get(metrics, "window"), export_window_keys[i]));
	assert_int_equal(json_integer_value(json_object_get(model, "format")), 2);
	assert_true(json_number_value(json_object_get(model, "z_clip")) == LEARNER_Z_CLIP);
	assert_string_equal(json_string_value(json_object_get(model, "kind")),
			    "tradelearn-online-logistic");
	assert_string_equal(json_string_value(json_object_get(model, "written_at")),
			    "2026-02-02T21:05:00Z");
	assert_int_equal(json_integer_value(json_object_get(model, "trades_learned")), 300);
	json_t *x1 = json_object_get(json_object_get(model, "numeric"), "x1");
	assert_true(json_is_real(json_object_get(x1, "weight")) &&
		    json_is_real(json_object_get(x1, "mean")) &&
		    json_is_real(json_object_get(x1, "sd")));
	assert_true(json_number_value(json_object_get(x1, "weight")) ==
		    learner_numeric_weight(l, "x1"));

	json_t *cat = json_object_get(model, "categorical");
	json_t *field_list = json_object_get(cat, "fields");
	assert_int_equal(json_array_size(field_list), 7);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(json_string_value(json_array_get(field_list, i)), fields[i]);
	assert_int_equal(json_integer_value(json_object_get(cat, "buckets")), 4096);
	assert_non_null(json_string_value(json_object_get(cat, "hash")));

	/* Every seen value's weight is its bucket's, looked up in the saved state. */
	json_t *saved = learner_save(l);
	json_t *buckets = json_object_get(saved, "buckets");
	json_t *weights = json_object_get(cat, "weights");
	assert_non_null(json_object_get(weights, "regime=trend_up"));
	assert_non_null(json_object_get(weights, "time_of_day=mid_morning"));
	assert_non_null(json_object_get(weights, "sector=none"));
	const char *key;
	json_t *w;
	json_object_foreach(weights, key, w)
	{
		uint64_t b = hash_fnv1a64_str(HASH_FNV1A64_INIT, key) & 4095;
		double want = 0;
		size_t i;
		json_t *row;
		json_array_foreach(buckets, i, row)
		{
			if ((uint64_t)json_integer_value(json_array_get(row, 0)) == b)
				want = json_number_value(json_array_get(row, 1));
		}
		if (json_number_value(w) != want)
			fail_msg("%s: %.17g, bucket %u holds %.17g", key, json_number_value(w),
				 (unsigned)b, want);
	}

	/* The export scores a seen trade as learner_predict does. */
	uint64_t rng = 5;
	for (long i = 0; i < 20; i++) {
		struct record r;
		synthetic_trade(&r, &rng, i);
		assert_near(score_from_export(model, &r), learner_predict(l, &r), 1e-12);
		record_release(&r);
	}
	json_decref(saved);
	json_decref(model);
	learner_free(l);

	/* A fresh model's metrics are null, not 0. */
	l = learner_new(NULL, NULL);
	model = learner_export(l, NULL);
	assert_true(json_is_null(json_object_get(model, "written_at")));
	assert_true(json_is_null(json_object_get(json_object_get(model, "metrics"), "auc")));
	assert_true(json_is_null(json_object_get(json_object_get(model, "metrics"), "log_loss")));
	json_decref(model);
	learner_free(l);
}

/* ---- numeric normalization ---------------------------------------------------------- */

/* Trade i of a stream where "signal" is +1 on a win and −1 on a loss (with a
 * little noise), except that its first `repeats` values are all 0.5: a partial
 * close and the close of the same position carry the same entry features. */
static void repeating_trade(struct record *r, uint64_t *rng, long i, long repeats)
{
	int win = uniform01(rng) < 0.5;
	double signal = (win ? 1.0 : -1.0) + 0.3 * standard_normal(rng);
	blank_record(r);
	set_components(r, json_pack("{sf}", "signal", i < repeats ? 0.5 : signal));
	r->symbol = symbols[i % 4];
	r->ts = monday_1500_utc + i * 60 * CALENDAR_US_PER_S;
	r->pnl_frac = win ? 0.01 : -0.01;
	r->pnl_usd = 1000.0 * r->pnl_frac;
}

static double saved_numeric(const struct learner *l, const char *name, const char *key)
{
	json_t *saved = learner_save(l), *f;
	size_t i;
	double v = NAN;
	json_array_foreach(json_object_get(saved, "numeric"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
			v = json_number_value(json_object_get(f, key));
	}
	json_decref(saved);
	return v;
}

static void test_a_feature_whose_first_values_repeat_still_learns(void **state)
{
	(void)state;
	enum { N = 400 };
	struct learner *l = learner_new(NULL, NULL);
	uint64_t rng = 11;
	double p[N];
	int y[N];
	for (long i = 0; i < N; i++) {
		struct record r;
		repeating_trade(&r, &rng, i, 2);
		p[i] = learner_learn(l, &r);
		y[i] = r.pnl_usd > 0;
		record_release(&r);
	}
	/* Before the fix its third value had |z| ~ 1e6: g² ~ 1e12, and the
	 * weight stayed where that one step left it, about eta. */
	double w = learner_numeric_weight(l, "signal");
	printf("repeating first values: weight %.3f, g2 %.3g, AUC of the last 200 %.3f\n", w,
	       saved_numeric(l, "signal", "g2"), learner_auc(p + N - 200, y + N - 200, 200));
	assert_true(w > 0.5);
	assert_true(saved_numeric(l, "signal", "g2") < 1e4);
	assert_true(learner_auc(p + N - 200, y + N - 200, 200) > 0.9);
	learner_free(l);
}

static void test_a_feature_seen_only_with_one_value_carries_nothing(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	uint64_t rng = 12;
	for (long i = 0; i < 50; i++) {
		struct record r;
		repeating_trade(&r, &rng, i, 50);
		learner_learn(l, &r);
		record_release(&r);
	}
	/* z was 0 every time: nothing to learn, and the export says so. */
	assert_true(learner_numeric_weight(l, "signal") == 0.0);
	json_t *model = learner_export(l, NULL);
	json_t *f = json_object_get(json_object_get(model, "numeric"), "signal");
	assert_true(json_is_null(json_object_get(f, "sd")));
	assert_true(json_number_value(json_object_get(f, "mean")) == 0.5);
	json_decref(model);
	learner_free(l);
}

static void test_a_huge_outlier_is_clipped_and_leaves_the_feature_learning(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	uint64_t rng = 13;
	long i = 0;
	for (; i < 100; i++) {
		struct record r;
		repeating_trade(&r, &rng, i, 0);
		learner_learn(l, &r);
		record_release(&r);
	}
	double g2_before = saved_numeric(l, "signal", "g2");
	struct record outlier;
	repeating_trade(&outlier, &rng, i++, 0);
	json_object_set_new(outlier.components, "signal", json_real(1e9));
	outlier.pnl_frac = -0.01; /* a loss, at the far positive end */
	outlier.pnl_usd = -10;
	double p = learner_learn(l, &outlier);
	record_release(&outlier);
	/* Predicted with z = +5, not 1e9 / sd: */
	assert_true(p > 0.5 && p < 1.0);
	/* imp ≤ 1.5·weight_max = 3 and |z| ≤ 5: one step adds at most 15² + ε. */
	double g2_after = saved_numeric(l, "signal", "g2");
	assert_true(g2_after - g2_before <= 226.0);
	/* Its step is not frozen: another far value, a loss again, moves the
	 * weight by a visible step (before the clip, g² ~ 1e30 made it
	 * ~1e-15). */
	double w = learner_numeric_weight(l, "signal");
	struct record far;
	repeating_trade(&far, &rng, i, 0);
	json_object_set_new(far.components, "signal", json_real(2e9));
	far.pnl_frac = -0.01;
	far.pnl_usd = -10;
	learner_learn(l, &far);
	record_release(&far);
	assert_true(w - learner_numeric_weight(l, "signal") > 0.005);
	learner_free(l);
}

static void test_a_format_1_state_loads_with_its_numeric_weights_relearned(void **state)
{
	(void)state;
	struct learner *src = learner_new(NULL, NULL), *l = learner_new(NULL, NULL);
	learn_stream(src, 3, 0, 200, NULL, NULL);
	json_t *saved = learner_save(src);
	assert_int_equal(json_integer_value(json_object_get(saved, "format")), 2);
	json_object_set_new(saved, "format", json_integer(1));
	struct err err = {0};
	assert_int_equal(learner_load(l, saved, &err), 0);
	assert_true(learner_numeric_weight(l, "x1") == 0.0);
	assert_true(saved_numeric(l, "x1", "g2") == 0.0);
	assert_true(saved_numeric(l, "x1", "mean") == saved_numeric(src, "x1", "mean"));
	assert_true(saved_numeric(l, "x1", "m2") == saved_numeric(src, "x1", "m2"));
	assert_int_equal(learner_trades(l), 200);
	/* and the weights move again */
	learn_stream(l, 3, 200, 400, NULL, NULL);
	assert_true(learner_numeric_weight(l, "x1") > 0.3);
	json_object_set_new(saved, "format", json_integer(3));
	assert_int_equal(learner_load(l, saved, &err), -1);
	assert_non_null(strstr(err.msg, "format"));
	json_decref(saved);
	learner_free(src);
	learner_free(l);
}

/* ---- categorical values ----------------------------------------------------------- */

static uint32_t value_bucket(const char *text)
{
	return (uint32_t)hash_fnv1a64_str(HASH_FNV1A64_INIT, text) & 4095;
}

static void test_a_value_never_seen_counts_zero_even_in_a_used_bucket(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	learn_stream(l, 5, 0, 300, NULL, NULL);
	/* Two symbols never seen: one shares AAPL's bucket, one a bucket nobody
	 * used. Neither is in the export, so neither may count. */
	char collide[32] = "", fresh[32] = "";
	uint32_t aapl = value_bucket("symbol=AAPL");
	for (int k = 0; !collide[0] || !fresh[0]; k++) {
		char text[48], name[32];
		snprintf(name, sizeof name, "Q%d", k);
		snprintf(text, sizeof text, "symbol=%s", name);
		if (!collide[0] && value_bucket(text) == aapl)
			snprintf(collide, sizeof collide, "%s", name);
		else if (!fresh[0] && value_bucket(text) != aapl)
			snprintf(fresh, sizeof fresh, "%s", name);
	}
	struct record r;
	uint64_t rng = 5;
	synthetic_trade(&r, &rng, 0);
	r.symbol = "AAPL";
	double with_aapl = learner_predict(l, &r);
	r.symbol = collide;
	double with_collide = learner_predict(l, &r);
	r.symbol = fresh;
	double with_fresh = learner_predict(l, &r);
	assert_true(with_collide == with_fresh);
	assert_true(with_aapl != with_collide);
	json_t *model = learner_export(l, NULL);
	assert_near(score_from_export(model, &r), with_fresh, 1e-12);
	r.symbol = collide;
	assert_near(score_from_export(model, &r), with_collide, 1e-12);
	json_decref(model);
	record_release(&r);
	learner_free(l);
}

static void test_a_candidate_scores_as_its_record(void **state)
{
	(void)state;
	struct learner *l = learner_new(NULL, NULL);
	learn_stream(l, 5, 0, 300, NULL, NULL);
	uint64_t rng = 99;
	for (long i = 0; i < 20; i++) {
		struct record r;
		synthetic_trade(&r, &rng, i);
		r.side = (int)(i % 3) - 1;
		struct learner_candidate c = {
		    .confidence = NAN,
		    .score = NAN,
		    .components = r.components,
		    .regime = r.regime,
		    .time_of_day = calendar_time_of_day(r.entry_ts),
		    .day_of_week = calendar_day_of_week(r.entry_ts),
		    .side = r.side > 0	 ? "long"
			    : r.side < 0 ? "short"
					 : "",
		    .timeframe = r.timeframe,
		    .symbol = r.symbol,
		};
		assert_true(learner_predict_candidate(l, &c) == learner_predict(l, &r));
		record_release(&r);
	}
	learner_free(l);
}

/* ---- calibration ------------------------------------------------------------------ */

static void assert_table(json_t *table, const long *count, const double *pred_sum, const long *wins)
{
	assert_int_equal(json_array_size(table), LEARNER_CALIBRATION_BUCKETS);
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		json_t *row = json_array_get(table, (size_t)b);
		json_t *range = json_object_get(row, "range");
		assert_near(json_number_value(json_array_get(range, 0)), b / 10.0, 1e-15);
		assert_near(json_number_value(json_array_get(range, 1)), (b + 1) / 10.0, 1e-15);
		assert_int_equal(json_integer_value(json_object_get(row, "trades")), count[b]);
		json_t *pred = json_object_get(row, "mean_predicted");
		json_t *obs = json_object_get(row, "observed_win_rate");
		if (count[b] == 0) {
			assert_true(json_is_null(pred) && json_is_null(obs));
			continue;
		}
		assert_near(json_number_value(pred), pred_sum[b] / (double)count[b], 1e-12);
		assert_near(json_number_value(obs), (double)wins[b] / (double)count[b], 1e-15);
	}
}

static void test_calibration_tables_of_all_trades_and_of_the_window(void **state)
{
	(void)state;
	enum { N = 700, W = 250 };
	struct learner_options o;
	learner_options_init(&o);
	o.window = W;
	struct learner *l = learner_new(&o, NULL);
	double p[N];
	int y[N];
	learn_stream(l, 7, 0, N, p, y);
	long count[2][LEARNER_CALIBRATION_BUCKETS] = {{0}},
	     wins[2][LEARNER_CALIBRATION_BUCKETS] = {{0}};
	double pred_sum[2][LEARNER_CALIBRATION_BUCKETS] = {{0}};
	for (int i = 0; i < N; i++) {
		int b = (int)(p[i] * 10);
		b = b > 9 ? 9 : b;
		for (int t = 0; t < 2; t++) {
			if (t == 1 && i < N - W)
				continue;
			count[t][b]++;
			pred_sum[t][b] += p[i];
			wins[t][b] += y[i];
		}
	}
	struct learner_metrics m;
	learner_metrics(l, &m);
	long in_window = 0;
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		assert_int_equal(m.window_calibration_count[b], count[1][b]);
		in_window += m.window_calibration_count[b];
	}
	assert_int_equal(in_window, W);
	json_t *all = learner_calibration_json(&m, 0), *window = learner_calibration_json(&m, 1);
	assert_table(all, count[0], pred_sum[0], wins[0]);
	assert_table(window, count[1], pred_sum[1], wins[1]);
	/* The export carries the same tables. */
	json_t *model = learner_export(l, NULL);
	json_t *metrics = json_object_get(model, "metrics");
	assert_true(json_equal(json_object_get(metrics, "calibration"), all));
	assert_true(
	    json_equal(json_object_get(json_object_get(metrics, "window"), "calibration"), window));
	json_decref(model);
	json_decref(all);
	json_decref(window);

	/* No trades: ten empty rows. */
	learner_free(l);
	l = learner_new(&o, NULL);
	learner_metrics(l, &m);
	long zero[LEARNER_CALIBRATION_BUCKETS] = {0};
	double zero_sum[LEARNER_CALIBRATION_BUCKETS] = {0};
	window = learner_calibration_json(&m, 1);
	assert_table(window, zero, zero_sum, zero);
	json_decref(window);
	learner_free(l);
}

/* ---- segments ------------------------------------------------------------------------- */

/* Trade i: timeframe "5m" on even i, where x1 wins, "1h" on odd i, where
 * it loses. */
static void segment_trade(struct record *r, uint64_t *rng, long i)
{
	synthetic_trade(r, rng, i);
	double x1 = json_number_value(json_object_get(r->components, "x1"));
	int fast = i % 2 == 0;
	double logit = (fast ? 2.0 : -2.0) * x1;
	int win = uniform01(rng) < 1.0 / (1.0 + exp(-logit));
	r->timeframe = fast ? "5m" : "1h";
	r->pnl_frac = win ? 0.01 : -0.01;
	r->pnl_usd = 1000.0 * r->pnl_frac;
}

static void
test_segments_predict_with_the_shared_model_until_min_trades_then_their_own(void **state)
{
	(void)state;
	struct learner_options o;
	learner_options_init(&o);
	struct learner *plain = learner_new(&o, NULL);
	snprintf(o.segment_by, sizeof o.segment_by, "timeframe");
	o.segment_min_trades = 100;
	struct learner *seg = learner_new(&o, NULL);
	assert_non_null(plain);
	assert_non_null(seg);
	uint64_t rng = 3;
	for (long i = 0; i < 3000; i++) {
		struct record r;
		segment_trade(&r, &rng, i);
		double p_plain = learner_learn(plain, &r);
		double p_seg = learner_learn(seg, &r);
		/* Before a segment has 100 trades, the shared model predicts:
		 * it is the unsegmented model, to the bit. */
		if (i < 200)
			assert_true(p_plain == p_seg);
		record_release(&r);
	}
	assert_string_equal(learner_segment_by(seg), "timeframe");
	assert_int_equal(learner_segment_count(seg), 2);
	assert_string_equal(learner_segment_value(seg, 0), "5m");
	assert_true(learner_segment_in_use(seg, 0) && learner_segment_in_use(seg, 1));
	assert_true(learner_numeric_weight(learner_segment_model(seg, 0), "x1") > 0.5);
	assert_true(learner_numeric_weight(learner_segment_model(seg, 1), "x1") < -0.5);
	struct learner_metrics used, shared, alone;
	learner_metrics(seg, &used);
	learner_shared_metrics(seg, &shared);
	learner_metrics(plain, &alone);
	assert_true(shared.auc == alone.auc);
	assert_true(used.auc > alone.auc + 0.1);
	json_t *exported = learner_export(seg, NULL);
	json_t *models = json_object_get(json_object_get(exported, "segments"), "models");
	assert_true(json_is_true(json_object_get(json_object_get(models, "1h"), "in_use")));
	json_decref(exported);

	/* Saved as text and loaded, it goes on to the bit. */
	json_t *saved = learner_save(seg);
	char *text = jsontext_dump(saved, JSONTEXT_COMPACT, NULL);
	json_t *parsed = json_loads(text, 0, NULL);
	struct learner *back = learner_new(&o, NULL);
	struct err err = {0};
	if (learner_load(back, parsed, &err))
		fail_msg("load: %s", err.msg);
	for (long i = 3000; i < 3200; i++) {
		struct record r;
		segment_trade(&r, &rng, i);
		assert_true(learner_learn(seg, &r) == learner_learn(back, &r));
		record_release(&r);
	}
	json_t *sa = learner_save(seg), *sb = learner_save(back);
	assert_true(json_equal(sa, sb));
	json_decref(sa);
	json_decref(sb);
	json_decref(saved);
	json_decref(parsed);
	free(text);
	learner_free(back);
	learner_free(seg);
	learner_free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_segments_predict_with_the_shared_model_until_min_trades_then_their_own),
	    cmocka_unit_test(test_auc_table),
	    cmocka_unit_test(test_brier_published_value),
	    cmocka_unit_test(test_log_loss_by_hand_and_clipping),
	    cmocka_unit_test(test_options_defaults_and_refusals),
	    cmocka_unit_test(test_optimizer_recovers_planted_weights),
	    cmocka_unit_test(test_progressive_score_is_taken_before_learning),
	    cmocka_unit_test(test_label_table_zero_pnl_is_a_loss),
	    cmocka_unit_test(test_records_without_pnl_or_not_closes_are_refused),
	    cmocka_unit_test(test_numeric_features_beyond_the_cap_are_ignored_and_counted),
	    cmocka_unit_test(test_asymmetric_boost_is_off_by_default_and_favours_wins),
	    cmocka_unit_test(test_late_old_record_moves_the_model_less),
	    cmocka_unit_test(test_save_load_text_round_trip_is_exact),
	    cmocka_unit_test(test_two_learners_fed_the_same_records_save_the_same),
	    cmocka_unit_test(test_load_refusals_leave_the_learner_unchanged),
	    cmocka_unit_test(test_load_into_a_smaller_window_keeps_the_most_recent),
	    cmocka_unit_test(test_histogram_auc_within_its_bound_of_the_exact_auc),
	    cmocka_unit_test(test_histogram_ties_make_the_bound),
	    cmocka_unit_test(test_metrics_are_nan_when_undefined),
	    cmocka_unit_test(test_export_has_the_documented_keys_and_bucket_weights),
	    cmocka_unit_test(test_a_feature_whose_first_values_repeat_still_learns),
	    cmocka_unit_test(test_a_feature_seen_only_with_one_value_carries_nothing),
	    cmocka_unit_test(test_a_huge_outlier_is_clipped_and_leaves_the_feature_learning),
	    cmocka_unit_test(test_a_format_1_state_loads_with_its_numeric_weights_relearned),
	    cmocka_unit_test(test_a_value_never_seen_counts_zero_even_in_a_used_bucket),
	    cmocka_unit_test(test_a_candidate_scores_as_its_record),
	    cmocka_unit_test(test_calibration_tables_of_all_trades_and_of_the_window),
	};
	return cmocka_run_group_tests(tests, set_zone, NULL);
}
