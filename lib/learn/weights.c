#include "lib/learn/weights.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"
#include "lib/store/outcome.h"
#include "lib/learn/stats.h"

#define NAME_LEN 96   /* component names and exit families, NUL included */
#define REGIME_LEN 64 /* regime names, NUL included */
#define DAY_LEN 11    /* "YYYY-MM-DD" */
#define TALLY_FIELDS 15

/* The statistics of one (name, regime) pair, or of a baseline. */
struct tally {
	long count;	   /* rows seen (an exit row without P&L included) */
	long wins, losses; /* rows with a P&L: > 0, <= 0 */
	double pnl_usd;	   /* sum of the finite pnl_usd */
	long pnl_n;	   /* rows that had one */
	double hold_sum;   /* sum of the finite hold_minutes */
	long hold_n;	   /* rows that had one */
	struct stats_ewma ewma;
	struct stats_beta beta;
	double mult;
	double ev_wins, ev_n;	       /* decayed counts: the rule's evidence */
	char last_change_day[DAY_LEN]; /* "" before the first change */
};

struct regime_tally {
	size_t regime; /* index into weights.regime_names */
	struct tally t;
};

struct component {
	char name[NAME_LEN];
	unsigned long stamp; /* the trade that last counted it: once per trade */
	/* Its running mean over the trades that carried it, weighted like the
	 * evidence (half-life evidence_half_life), and the weight behind it:
	 * the reference "active" is measured against. */
	double center, center_n;
	struct tally all;
	size_t n_regimes; /* insertion order, at most WEIGHTS_MAX_REGIMES */
	struct regime_tally regimes[WEIGHTS_MAX_REGIMES];
};

struct reason {
	char name[NAME_LEN];
	struct tally t;
};

struct weights {
	struct weights_options opt;
	struct tally base;
	size_t n_regimes;
	char regime_names[WEIGHTS_MAX_REGIMES][REGIME_LEN];
	struct tally base_regimes[WEIGHTS_MAX_REGIMES];
	struct component **components; /* insertion order */
	size_t n_components, cap_components;
	struct tally exit_base;
	size_t n_reasons;
	struct reason reasons[WEIGHTS_MAX_REASONS];
	unsigned long stamp; /* trades learned by this instance (not state) */
	double decay;	     /* per observation: 0.5^(1/evidence_half_life) */
	struct weights_change *changes;
	size_t n_changes, cap_changes;
};

#define KEY(f, d, lo, hi) OPTION_NUMBER(struct weights_options, f, d, lo, hi)
static const struct option_key weights_keys[] = {
    KEY(min_samples, 30, 1, 1000000),
    KEY(step, 0.05, 1e-6, 1),
    KEY(min_mult, 0.25, 0, 1),
    KEY(max_mult, 2.5, 1, 100),
    KEY(ewma_alpha, 0.05, 1e-6, 1),
    KEY(z, 1.96, 0.1, 10),
    KEY(evidence_half_life, 500, 1, 1e12),
};
#undef KEY

const struct option_table weights_option_table = OPTION_TABLE(weights_keys, NULL);

void weights_options_init(struct weights_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&weights_option_table, o);
}

static void tally_init(struct tally *t, double alpha)
{
	memset(t, 0, sizeof *t);
	stats_ewma_init(&t->ewma, alpha);
	stats_beta_init(&t->beta);
	t->mult = 1;
}

struct weights *weights_new(const struct weights_options *o, struct err *err)
{
	struct weights_options defaults;
	if (!o) {
		weights_options_init(&defaults);
		o = &defaults;
	}
	if (option_check(&weights_option_table, o, err)) {
		err_prefix(err, "weights options");
		return NULL;
	}
	struct weights *w = calloc(1, sizeof *w);
	if (!w) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	w->opt = *o;
	w->decay = pow(0.5, 1.0 / o->evidence_half_life);
	tally_init(&w->base, o->ewma_alpha);
	tally_init(&w->exit_base, o->ewma_alpha);
	return w;
}

void weights_free(struct weights *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_components; i++)
		free(w->components[i]);
	free(w->components);
	free(w->changes);
	free(w);
}

/* ---- bounded name lists ------------------------------------------------------ */

/* The regime's index, added when new; the last slot is "other". */
static size_t regime_index(struct weights *w, const char *name)
{
	char key[REGIME_LEN];
	jsontext_copy_utf8(key, sizeof key, name);
	for (size_t i = 0; i < w->n_regimes; i++)
		if (strcmp(w->regime_names[i], key) == 0)
			return i;
	if (w->n_regimes + 1 >= WEIGHTS_MAX_REGIMES) {
		for (size_t i = 0; i < w->n_regimes; i++)
			if (strcmp(w->regime_names[i], "other") == 0)
				return i;
		jsontext_copy_utf8(key, sizeof key, "other");
	}
	size_t i = w->n_regimes++;
	jsontext_copy_utf8(w->regime_names[i], sizeof w->regime_names[i], key);
	tally_init(&w->base_regimes[i], w->opt.ewma_alpha);
	return i;
}

static struct reason *reason_of(struct weights *w, const char *family)
{
	char key[NAME_LEN];
	jsontext_copy_utf8(key, sizeof key, family);
	for (size_t i = 0; i < w->n_reasons; i++)
		if (strcmp(w->reasons[i].name, key) == 0)
			return &w->reasons[i];
	if (w->n_reasons + 1 >= WEIGHTS_MAX_REASONS) {
		for (size_t i = 0; i < w->n_reasons; i++)
			if (strcmp(w->reasons[i].name, "other") == 0)
				return &w->reasons[i];
		jsontext_copy_utf8(key, sizeof key, "other");
	}
	struct reason *x = &w->reasons[w->n_reasons++];
	jsontext_copy_utf8(x->name, sizeof x->name, key);
	tally_init(&x->t, w->opt.ewma_alpha);
	return x;
}

static struct component *component_find(const struct weights *w, const char *key)
{
	for (size_t i = 0; i < w->n_components; i++)
		if (strcmp(w->components[i]->name, key) == 0)
			return w->components[i];
	return NULL;
}

/* Appends a new component named key; NULL on ENOMEM. */
static struct component *component_add(struct weights *w, const char *key)
{
	if (BUF_ARRAY_GROW(w->components, w->n_components + 1, w->cap_components))
		return NULL;
	struct component *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	jsontext_copy_utf8(c->name, sizeof c->name, key);
	tally_init(&c->all, w->opt.ewma_alpha);
	w->components[w->n_components++] = c;
	return c;
}

/* The component of name, added when new (the last slot is "other"); NULL
 * on ENOMEM. */
static struct component *component_get(struct weights *w, const char *name)
{
	char key[NAME_LEN];
	jsontext_copy_utf8(key, sizeof key, name);
	struct component *c = component_find(w, key);
	if (c)
		return c;
	if (w->n_components + 1 >= WEIGHTS_MAX_COMPONENTS) {
		c = component_find(w, "other");
		if (c)
			return c;
		jsontext_copy_utf8(key, sizeof key, "other");
	}
	return component_add(w, key);
}

/* The component's tally under regime index ri, added when new: never
 * full, since a component sees at most the WEIGHTS_MAX_REGIMES regimes. */
static struct tally *component_regime(const struct weights *w, struct component *c, size_t ri)
{
	for (size_t i = 0; i < c->n_regimes; i++)
		if (c->regimes[i].regime == ri)
			return &c->regimes[i].t;
	struct regime_tally *x = &c->regimes[c->n_regimes++];
	x->regime = ri;
	tally_init(&x->t, w->opt.ewma_alpha);
	return &x->t;
}

/* ---- learning ---------------------------------------------------------------- */

/* The outcome of r: 1 and *win when it has a P&L, else 0. */
static int outcome_of(const struct record *r, int *win)
{
	double pnl = isfinite(r->pnl_usd) ? r->pnl_usd : r->pnl_frac;
	if (!isfinite(pnl))
		return 0;
	*win = pnl > 0;
	return 1;
}

/* Sums skip a value that would overflow them: one absurd row must not make
 * the state unsavable (JSON has no infinity). */
static void add_finite(double *sum, long *n, double x)
{
	if (isfinite(x) && isfinite(*sum + x)) {
		*sum += x;
		(*n)++;
	}
}

static void observe(const struct weights *w, struct tally *t, int has_outcome, int win,
		    const struct record *r)
{
	t->count++;
	add_finite(&t->hold_sum, &t->hold_n, r->hold_minutes);
	if (!has_outcome)
		return;
	t->ev_wins = t->ev_wins * w->decay + (win ? 1 : 0);
	t->ev_n = t->ev_n * w->decay + 1;
	if (win)
		t->wins++;
	else
		t->losses++;
	add_finite(&t->pnl_usd, &t->pnl_n, r->pnl_usd);
	stats_ewma_add(&t->ewma, win ? 1.0 : 0.0);
	stats_beta_update(&t->beta, win);
}

static long samples(const struct tally *t)
{
	return t->wins + t->losses;
}

static double win_rate(const struct tally *t)
{
	long n = samples(t);
	return n ? (double)t->wins / (double)n : NAN;
}

/* Room for more changes, so that learning never fails half-way. */
static int reserve_changes(struct weights *w, size_t more)
{
	return BUF_ARRAY_GROW(w->changes, w->n_changes + more, w->cap_changes);
}

/* The multiplier rule for one pair (room for the change is reserved).
 * Returns 1 on a change, else 0. */
static int apply_rule(struct weights *w, struct tally *t, const struct tally *base,
		      const char *kind, const char *name, const char *regime, const char *day)
{
	long n = samples(t);
	double lo, hi, b = base->ev_n > 0 ? base->ev_wins / base->ev_n : NAN, mult = t->mult,
		       next = mult;
	int direction;

	/* ISO dates order as text: on or before the last change, nothing. */
	if (n < w->opt.min_samples || !day[0] || strcmp(day, t->last_change_day) <= 0 || isnan(b))
		return 0;
	stats_wilson_real(t->ev_wins, t->ev_n, w->opt.z, &lo, &hi);
	direction = lo > b ? 1 : hi < b ? -1 : 0;
	if (direction)
		next = mult + direction * w->opt.step;
	else if (mult > 1)
		next = fmax(1, mult - w->opt.step);
	else if (mult < 1)
		next = fmin(1, mult + w->opt.step);
	next = fmin(w->opt.max_mult, fmax(w->opt.min_mult, next));
	/* Stay on the grid of steps: 1 + 0.05 − 0.05 must be 1, not
	 * 0.99999999999999989, or "at 1, nothing" would never hold. */
	next = round(next * 1e9) / 1e9;
	if (next == mult)
		return 0;

	struct weights_change *c = &w->changes[w->n_changes++];
	memset(c, 0, sizeof *c);
	jsontext_copy_utf8(c->kind, sizeof c->kind, kind);
	jsontext_copy_utf8(c->name, sizeof c->name, name);
	jsontext_copy_utf8(c->regime, sizeof c->regime, regime);
	c->old_mult = mult;
	c->new_mult = next;
	/* Formatted only for a change: printing reals on every evaluation
	 * was most of the cost of learning a trade. */
	if (direction > 0)
		snprintf(c->reason, sizeof c->reason, "wilson_lo %.3f > baseline %.3f", lo, b);
	else if (direction < 0)
		snprintf(c->reason, sizeof c->reason, "wilson_hi %.3f < baseline %.3f", hi, b);
	else
		snprintf(c->reason, sizeof c->reason,
			 "neutral: revert toward 1 (wilson %.3f..%.3f, baseline %.3f)", lo, hi, b);
	c->samples = n;
	jsontext_copy_utf8(c->day, sizeof c->day, day);
	t->mult = next;
	jsontext_copy_utf8(t->last_change_day, sizeof t->last_change_day, day);
	return 1;
}

/* The exchange-local date of ts, or "" without a time. */
static void trading_day(int64_t ts, char *buf, size_t len)
{
	struct calendar_local l;
	if (ts == CALENDAR_NONE) {
		buf[0] = '\0';
		return;
	}
	calendar_local(ts, &l);
	snprintf(buf, len, "%04d-%02d-%02d", l.year, l.month, l.day);
}

/* A value the component statistics read: a finite JSON number. */
/* A number a component can be read as. Beyond ±1e100 it is not one (as
 * for the online model): the running mean must stay finite. */
static int is_reading(json_t *value)
{
	double x = json_number_value(value);
	return json_is_number(value) && isfinite(x) && fabs(x) <= 1e100;
}

/* A component is active when it pushes for the trade more than it usually
 * does: its value is above its running mean of the earlier trades (which
 * starts at 0, so the first value counts when > 0). This works on any scale:
 * a column that is always positive, a penalty that is always <= 0 (above
 * the mean = milder than usual), a constant (never). */
static int active_then_observe(const struct weights *w, struct component *c, double x)
{
	int active = x > c->center;
	c->center_n = c->center_n * w->decay + 1;
	c->center += (x - c->center) / c->center_n;
	return active;
}

int weights_learn_trade(struct weights *w, const struct record *r, struct err *err)
{
	const char *regime = r->regime && *r->regime ? r->regime : "none";
	const char *key;
	json_t *value;
	size_t readings = 0;
	int win, changes = 0;
	char day[16];

	if (!outcome_of(r, &win))
		return 0;
	/* Everything that can fail first: no statistic moves on ENOMEM. Every
	 * component with a number is needed, active or not: its mean moves. */
	if (r->components) {
		json_object_foreach(r->components, key, value)
		{
			if (!is_reading(value))
				continue;
			readings++;
			if (!component_get(w, key))
				return err_set(err, ENOMEM, "out of memory");
		}
	}
	if (reserve_changes(w, 2 * readings))
		return err_set(err, ENOMEM, "out of memory");

	trading_day(r->ts, day, sizeof day);
	size_t ri = regime_index(w, regime);
	struct tally *base_regime = &w->base_regimes[ri];
	observe(w, &w->base, 1, win, r);
	observe(w, base_regime, 1, win, r);
	if (!readings)
		return 0;
	w->stamp++;
	json_object_foreach(r->components, key, value)
	{
		if (!is_reading(value))
			continue;
		struct component *c = component_get(w, key); /* exists: no allocation */
		/* Names cut or folded into "other" may meet twice in one trade. */
		if (c->stamp == w->stamp)
			continue;
		c->stamp = w->stamp;
		if (!active_then_observe(w, c, json_number_value(value)))
			continue;
		struct tally *t = component_regime(w, c, ri);
		observe(w, &c->all, 1, win, r);
		observe(w, t, 1, win, r);
		changes += apply_rule(w, &c->all, &w->base, "component", c->name, "all", day);
		changes +=
		    apply_rule(w, t, base_regime, "component", c->name, w->regime_names[ri], day);
	}
	return changes;
}

int weights_learn_exit(struct weights *w, const struct record *r, struct err *err)
{
	char family[NAME_LEN], day[16];
	int win = 0;

	if (reserve_changes(w, 1))
		return err_set(err, ENOMEM, "out of memory");
	outcome_reason_family(r->close_reason, family, sizeof family);
	trading_day(r->ts, day, sizeof day);
	int has_outcome = outcome_of(r, &win);
	struct reason *x = reason_of(w, family);
	observe(w, &w->exit_base, has_outcome, win, r);
	observe(w, &x->t, has_outcome, win, r);
	if (!has_outcome)
		return 0;
	return apply_rule(w, &x->t, &w->exit_base, "exit", x->name, "all", day);
}

size_t weights_take_changes(struct weights *w, struct weights_change *out, size_t max)
{
	size_t n = w->n_changes < max ? w->n_changes : max;
	if (n == 0)
		return 0;
	memcpy(out, w->changes, n * sizeof *out);
	memmove(w->changes, w->changes + n, (w->n_changes - n) * sizeof *w->changes);
	w->n_changes -= n;
	return n;
}

double weights_multiplier(const struct weights *w, const char *component)
{
	char key[NAME_LEN];
	jsontext_copy_utf8(key, sizeof key, component);
	const struct component *c = component_find(w, key);
	return c ? c->all.mult : 1;
}

/* ---- state ------------------------------------------------------------------- */

/* A tally is an array, in this order (the state file holds thousands):
 * [count, wins, losses, pnl_usd, pnl_n, hold_sum, hold_n, ewma_value,
 *  ewma_n, beta_alpha, beta_beta, mult, last_change_day]. Reals are written
 * exactly (jsontext's shortest round trip). */
static json_t *tally_save(const struct tally *t)
{
	return json_pack("[I,I,I,f,I,f,I,f,I,f,f,f,s,f,f]", (json_int_t)t->count,
			 (json_int_t)t->wins, (json_int_t)t->losses, t->pnl_usd,
			 (json_int_t)t->pnl_n, t->hold_sum, (json_int_t)t->hold_n, t->ewma.value,
			 (json_int_t)t->ewma.n, t->beta.alpha, t->beta.beta, t->mult,
			 t->last_change_day, t->ev_wins, t->ev_n);
}

static int get_long(json_t *a, size_t i, long *out)
{
	json_t *v = json_array_get(a, i);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

static int get_real(json_t *a, size_t i, double *out)
{
	json_t *v = json_array_get(a, i);
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static int day_valid(const char *day)
{
	if (!day[0])
		return 1;
	if (strlen(day) != 10 || day[4] != '-' || day[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (day[i] < '0' || day[i] > '9'))
			return 0;
	return 1;
}

static int tally_load(struct tally *t, json_t *a, double alpha)
{
	const char *day = json_string_value(json_array_get(a, 12));
	tally_init(t, alpha);
	if (!json_is_array(a) || json_array_size(a) != TALLY_FIELDS || !day || !day_valid(day))
		return -1;
	if (get_long(a, 0, &t->count) || get_long(a, 1, &t->wins) || get_long(a, 2, &t->losses) ||
	    get_real(a, 3, &t->pnl_usd) || get_long(a, 4, &t->pnl_n) ||
	    get_real(a, 5, &t->hold_sum) || get_long(a, 6, &t->hold_n) ||
	    get_real(a, 7, &t->ewma.value) || get_long(a, 8, &t->ewma.n) ||
	    get_real(a, 9, &t->beta.alpha) || get_real(a, 10, &t->beta.beta) ||
	    get_real(a, 11, &t->mult) || get_real(a, 13, &t->ev_wins) || get_real(a, 14, &t->ev_n))
		return -1;
	if (t->beta.alpha <= 0 || t->beta.beta <= 0 || t->mult < 0)
		return -1;
	jsontext_copy_utf8(t->last_change_day, sizeof t->last_change_day, day);
	return 0;
}

/* [name, tally] */
static json_t *named_save(const char *name, const struct tally *t)
{
	return json_pack("[s,o]", name, tally_save(t));
}

static const char *named_load(json_t *pair, struct tally *t, double alpha)
{
	const char *name = json_string_value(json_array_get(pair, 0));
	if (!json_is_array(pair) || json_array_size(pair) != 2 || !name ||
	    tally_load(t, json_array_get(pair, 1), alpha))
		return NULL;
	return name;
}

/* Appends v (stolen) to array a; -1 when v is NULL or on ENOMEM. */
static int append(json_t *a, json_t *v)
{
	return v ? json_array_append_new(a, v) : -1;
}

static json_t *component_save(const struct weights *w, const struct component *c)
{
	json_t *regimes = json_array();
	int failed = !regimes;
	for (size_t i = 0; !failed && i < c->n_regimes; i++)
		failed = append(regimes, named_save(w->regime_names[c->regimes[i].regime],
						    &c->regimes[i].t)) != 0;
	if (failed) {
		json_decref(regimes);
		return NULL;
	}
	return json_pack("[s,o,o,[f,f]]", c->name, tally_save(&c->all), regimes, c->center,
			 c->center_n);
}

json_t *weights_save(const struct weights *w)
{
	json_t *o = json_object(), *regimes = json_array(), *comps = json_array(),
	       *reasons = json_array();
	int failed = !o || !regimes || !comps || !reasons;

	for (size_t i = 0; !failed && i < w->n_regimes; i++)
		failed = append(regimes, named_save(w->regime_names[i], &w->base_regimes[i])) != 0;
	for (size_t i = 0; !failed && i < w->n_components; i++)
		failed = append(comps, component_save(w, w->components[i])) != 0;
	for (size_t i = 0; !failed && i < w->n_reasons; i++)
		failed = append(reasons, named_save(w->reasons[i].name, &w->reasons[i].t)) != 0;
	if (failed)
		goto fail;
	if (json_object_set_new(o, "format", json_integer(2)) ||
	    json_object_set_new(o, "base", tally_save(&w->base)) ||
	    json_object_set(o, "regimes", regimes) || json_object_set(o, "components", comps) ||
	    json_object_set_new(o, "exit_base", tally_save(&w->exit_base)) ||
	    json_object_set(o, "reasons", reasons))
		goto fail;
	json_decref(regimes);
	json_decref(comps);
	json_decref(reasons);
	return o;
fail:
	json_decref(o);
	json_decref(regimes);
	json_decref(comps);
	json_decref(reasons);
	return NULL;
}

/* Fills the empty instance t from saved; -1 with err. */
static int load_into(struct weights *t, json_t *saved, struct err *err)
{
	json_t *regimes = json_object_get(saved, "regimes"),
	       *comps = json_object_get(saved, "components");
	json_t *reasons = json_object_get(saved, "reasons"), *v;
	double alpha = t->opt.ewma_alpha;
	const char *what = "format";
	json_int_t format = json_integer_value(json_object_get(saved, "format"));
	size_t i;

	if (!json_is_object(saved) || !json_is_integer(json_object_get(saved, "format")) ||
	    (format != 1 && format != 2))
		goto bad;
	what = "base";
	if (tally_load(&t->base, json_object_get(saved, "base"), alpha) ||
	    tally_load(&t->exit_base, json_object_get(saved, "exit_base"), alpha))
		goto bad;
	what = "regimes";
	if (!json_is_array(regimes) || json_array_size(regimes) > WEIGHTS_MAX_REGIMES)
		goto bad;
	json_array_foreach(regimes, i, v)
	{
		const char *name = named_load(v, &t->base_regimes[i], alpha);
		if (!name)
			goto bad;
		jsontext_copy_utf8(t->regime_names[i], sizeof t->regime_names[i], name);
		t->n_regimes++;
	}
	what = "reasons";
	if (!json_is_array(reasons) || json_array_size(reasons) > WEIGHTS_MAX_REASONS)
		goto bad;
	json_array_foreach(reasons, i, v)
	{
		const char *name = named_load(v, &t->reasons[i].t, alpha);
		if (!name)
			goto bad;
		jsontext_copy_utf8(t->reasons[i].name, sizeof t->reasons[i].name, name);
		t->n_reasons++;
	}
	what = "components";
	if (!json_is_array(comps) || json_array_size(comps) > WEIGHTS_MAX_COMPONENTS)
		goto bad;
	json_array_foreach(comps, i, v)
	{
		const char *name = json_string_value(json_array_get(v, 0));
		json_t *regs = json_array_get(v, 2), *center = json_array_get(v, 3), *pair;
		size_t k;
		if (!json_is_array(v) || json_array_size(v) != (format == 1 ? 3 : 4) || !name ||
		    !json_is_array(regs) || json_array_size(regs) > WEIGHTS_MAX_REGIMES)
			goto bad;
		struct component *c = component_add(t, name);
		if (!c) {
			what = NULL;
			goto bad;
		}
		if (tally_load(&c->all, json_array_get(v, 1), alpha))
			goto bad;
		/* Format 1 had no running means: they start afresh at 0. */
		if (format == 2 && (!json_is_array(center) || json_array_size(center) != 2 ||
				    get_real(center, 0, &c->center) ||
				    get_real(center, 1, &c->center_n) || c->center_n < 0))
			goto bad;
		json_array_foreach(regs, k, pair)
		{
			struct regime_tally *x = &c->regimes[k];
			const char *regime = named_load(pair, &x->t, alpha);
			size_t ri = 0;
			while (regime && ri < t->n_regimes && strcmp(t->regime_names[ri], regime))
				ri++;
			if (!regime || ri == t->n_regimes)
				goto bad;
			x->regime = ri;
			c->n_regimes++;
		}
	}
	return 0;
bad:
	if (!what)
		return err_set(err, ENOMEM, "weights: out of memory");
	return err_set(err, EINVAL, "weights: not a saved state of format 1 or 2 (bad %s)", what);
}

int weights_load(struct weights *w, json_t *saved, struct err *err)
{
	struct weights *t = weights_new(&w->opt, err), swap;
	if (!t)
		return err_prefix(err, "weights");
	if (load_into(t, saved, err)) {
		weights_free(t);
		return -1;
	}
	/* The old state (and its pending changes) leave with t. */
	swap = *w;
	*w = *t;
	*t = swap;
	weights_free(t);
	return 0;
}

/* ---- exports ----------------------------------------------------------------- */

static double cents(double v)
{
	return round(v * 100) / 100;
}

/* The fields both exports share. */
static json_t *tally_export(const struct tally *t, double z)
{
	double lo, hi;
	long n = samples(t);
	double elo, ehi;
	stats_wilson(t->wins, n, z, &lo, &hi);
	stats_wilson_real(t->ev_wins, t->ev_n, z, &elo, &ehi);
	return json_pack(
	    "{s:f,s:I,s:I,s:I,s:o,s:f,s:o,s:{s:f,s:f,s:f},s:[f,f],s:o,s:{s:f,s:o,s:[f,f]}}",
	    "multiplier", t->mult, "samples", (json_int_t)n, "wins", (json_int_t)t->wins, "losses",
	    (json_int_t)t->losses, "win_rate", jsontext_real_or_null(win_rate(t)), "pnl_usd",
	    cents(t->pnl_usd), "ewma", jsontext_real_or_null(t->ewma.n ? t->ewma.value : NAN),
	    "beta", "alpha", t->beta.alpha, "beta", t->beta.beta, "mean", stats_beta_mean(&t->beta),
	    "wilson", lo, hi, "last_change_day",
	    t->last_change_day[0] ? json_string(t->last_change_day) : json_null(), "evidence",
	    "effective_samples", t->ev_n, "win_rate",
	    jsontext_real_or_null(t->ev_n > 0 ? t->ev_wins / t->ev_n : NAN), "wilson", elo, ehi);
}

/* Sets o[key] = v (stolen); -1 when v is NULL or on ENOMEM. */
static int set(json_t *o, const char *key, json_t *v)
{
	return v ? json_object_set_new(o, key, v) : -1;
}

static json_t *baseline(const struct tally *t, const char *count_key)
{
	return json_pack("{s:I,s:o}", count_key, (json_int_t)t->count, "win_rate",
			 jsontext_real_or_null(win_rate(t)));
}

json_t *weights_export_components(const struct weights *w)
{
	json_t *o = json_object(), *base = baseline(&w->base, "trades"), *per = json_object(),
	       *comps = json_object();
	int failed = !o || !base || !per || !comps;

	for (size_t i = 0; !failed && i < w->n_regimes; i++)
		failed = set(per, w->regime_names[i], baseline(&w->base_regimes[i], "trades")) != 0;
	for (size_t i = 0; !failed && i < w->n_components; i++) {
		const struct component *c = w->components[i];
		json_t *j = tally_export(&c->all, w->opt.z), *regs = json_object();
		failed = !j || !regs ||
			 set(j, "running_mean",
			     jsontext_real_or_null(c->center_n > 0 ? c->center : NAN));
		for (size_t k = 0; !failed && k < c->n_regimes; k++)
			failed = set(regs, w->regime_names[c->regimes[k].regime],
				     tally_export(&c->regimes[k].t, w->opt.z)) != 0;
		if (!failed && json_object_set(j, "regimes", regs) == 0 &&
		    json_object_set(comps, c->name, j) == 0) {
			json_decref(regs);
			json_decref(j);
			continue;
		}
		failed = 1;
		json_decref(regs);
		json_decref(j);
	}
	if (failed || json_object_set_new(o, "format", json_integer(1)) ||
	    json_object_set(base, "regimes", per) || json_object_set(o, "baseline", base) ||
	    json_object_set(o, "components", comps))
		goto fail;
	json_decref(base);
	json_decref(per);
	json_decref(comps);
	return o;
fail:
	json_decref(o);
	json_decref(base);
	json_decref(per);
	json_decref(comps);
	return NULL;
}

json_t *weights_export_exits(const struct weights *w)
{
	json_t *o = json_object(), *reasons = json_object();
	int failed = !o || !reasons;

	for (size_t i = 0; !failed && i < w->n_reasons; i++) {
		const struct tally *t = &w->reasons[i].t;
		json_t *j = tally_export(t, w->opt.z);
		failed =
		    !j || set(j, "count", json_integer(t->count)) ||
		    set(j, "avg_pnl_usd",
			jsontext_real_or_null(t->pnl_n ? cents(t->pnl_usd / (double)t->pnl_n)
						       : NAN)) ||
		    set(j, "avg_hold_minutes",
			jsontext_real_or_null(t->hold_n ? t->hold_sum / (double)t->hold_n : NAN)) ||
		    json_object_set(reasons, w->reasons[i].name, j);
		json_decref(j);
	}
	if (failed || json_object_set_new(o, "format", json_integer(1)) ||
	    set(o, "baseline", baseline(&w->exit_base, "count")) ||
	    json_object_set(o, "reasons", reasons))
		goto fail;
	json_decref(reasons);
	return o;
fail:
	json_decref(o);
	json_decref(reasons);
	return NULL;
}
