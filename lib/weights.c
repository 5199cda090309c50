#include "weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "outcome.h"
#include "stats.h"

#define MAX_COMPONENTS 256
#define MAX_REGIMES 32
#define MAX_BASE_REGIMES 64
#define MAX_REASONS 128

struct stat_set {
	long wins, losses;
	double pnl, hold_sum;
	long hold_n;
	struct stats_ewma ewma;
	struct stats_beta beta;
	double mult;
	char last_change_day[11];
};

struct named {
	char name[96];
	struct stat_set s;
};

struct component {
	char name[96];
	struct stat_set all;
	size_t n_regimes;
	struct named regimes[MAX_REGIMES];
};

struct weights {
	struct weights_options opt;
	struct stat_set base;
	size_t n_base_regimes;
	struct named base_regimes[MAX_BASE_REGIMES];
	size_t n_components;
	struct component *components; /* MAX_COMPONENTS */
	struct stat_set exit_base;
	size_t n_reasons;
	struct named reasons[MAX_REASONS];
	struct weights_change *changes;
	size_t n_changes, cap_changes;
};

void weights_options_init(struct weights_options *o)
{
	o->min_samples = 30;
	o->step = 0.05;
	o->min_mult = 0.25;
	o->max_mult = 2.5;
	o->ewma_alpha = 0.05;
	o->z = 1.96;
}

static void set_init(struct stat_set *s, double alpha)
{
	memset(s, 0, sizeof *s);
	stats_ewma_init(&s->ewma, alpha);
	stats_beta_init(&s->beta);
	s->mult = 1;
}

struct weights *weights_new(const struct weights_options *o)
{
	struct weights *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	if (o)
		w->opt = *o;
	else
		weights_options_init(&w->opt);
	w->components = calloc(MAX_COMPONENTS, sizeof *w->components);
	if (!w->components) {
		free(w);
		return NULL;
	}
	set_init(&w->base, w->opt.ewma_alpha);
	set_init(&w->exit_base, w->opt.ewma_alpha);
	return w;
}

void weights_free(struct weights *w)
{
	if (!w)
		return;
	free(w->components);
	free(w->changes);
	free(w);
}

/* Finds or adds name in a bounded list; a full list folds into "other". */
static struct named *find_named(struct named *list, size_t *n, size_t cap, const char *name,
				double alpha)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	if (*n == cap) {
		for (size_t i = 0; i < *n; i++)
			if (strcmp(list[i].name, "other") == 0)
				return &list[i];
		return &list[cap - 1]; /* the last slot becomes the catch-all */
	}
	struct named *x = &list[(*n)++];
	snprintf(x->name, sizeof x->name, "%s", *n == cap ? "other" : name);
	set_init(&x->s, alpha);
	return x;
}

static struct component *find_component(struct weights *w, const char *name)
{
	for (size_t i = 0; i < w->n_components; i++)
		if (strcmp(w->components[i].name, name) == 0)
			return &w->components[i];
	if (w->n_components == MAX_COMPONENTS)
		return &w->components[MAX_COMPONENTS - 1];
	struct component *c = &w->components[w->n_components++];
	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s",
		 w->n_components == MAX_COMPONENTS ? "other" : name);
	set_init(&c->all, w->opt.ewma_alpha);
	return c;
}

static void observe(struct stat_set *s, int win, double pnl, double hold)
{
	if (win)
		s->wins++;
	else
		s->losses++;
	if (isfinite(pnl))
		s->pnl += pnl;
	if (isfinite(hold)) {
		s->hold_sum += hold;
		s->hold_n++;
	}
	stats_ewma_add(&s->ewma, win ? 1.0 : 0.0);
	stats_beta_update(&s->beta, win);
}

static double rate(const struct stat_set *s)
{
	long n = s->wins + s->losses;
	return n ? (double)s->wins / (double)n : NAN;
}

static int add_change(struct weights *w, const struct weights_change *c)
{
	if (w->n_changes == w->cap_changes) {
		size_t cap = w->cap_changes ? w->cap_changes * 2 : 16;
		struct weights_change *nc = realloc(w->changes, cap * sizeof *nc);
		if (!nc)
			return -1;
		w->changes = nc;
		w->cap_changes = cap;
	}
	w->changes[w->n_changes++] = *c;
	return 0;
}

/* The multiplier rule for one pair. Returns 1 on a change, 0 without, -1. */
static int rule(struct weights *w, struct stat_set *s, const struct stat_set *base,
		const char *kind, const char *name, const char *regime, const char *day)
{
	long n = s->wins + s->losses;
	double lo, hi, b = rate(base), mult = s->mult, next = mult;
	char reason[96];

	if (n < w->opt.min_samples || strcmp(s->last_change_day, day) == 0 || isnan(b))
		return 0;
	stats_wilson(s->wins, n, w->opt.z, &lo, &hi);
	if (lo > b) {
		next = mult + w->opt.step;
		snprintf(reason, sizeof reason, "wilson_lo %.3f > baseline %.3f", lo, b);
	} else if (hi < b) {
		next = mult - w->opt.step;
		snprintf(reason, sizeof reason, "wilson_hi %.3f < baseline %.3f", hi, b);
	} else {
		snprintf(reason, sizeof reason, "neutral (%.3f..%.3f around %.3f): toward 1", lo, hi,
			 b);
		if (mult > 1)
			next = fmax(1, mult - w->opt.step);
		else if (mult < 1)
			next = fmin(1, mult + w->opt.step);
	}
	next = fmin(w->opt.max_mult, fmax(w->opt.min_mult, next));
	if (fabs(next - mult) < 1e-12)
		return 0;
	/* Keep the grid exact: steps of 0.05 must not drift to 0.9999999. */
	next = round(next * 1e9) / 1e9;
	struct weights_change c = {0};
	snprintf(c.kind, sizeof c.kind, "%s", kind);
	snprintf(c.name, sizeof c.name, "%s", name);
	snprintf(c.regime, sizeof c.regime, "%s", regime);
	c.old_mult = mult;
	c.new_mult = next;
	snprintf(c.reason, sizeof c.reason, "%s", reason);
	c.samples = n;
	snprintf(c.day, sizeof c.day, "%s", day);
	s->mult = next;
	snprintf(s->last_change_day, sizeof s->last_change_day, "%s", day);
	return add_change(w, &c) ? -1 : 1;
}

static int is_win(const struct record *r)
{
	double pnl = isfinite(r->pnl_usd) ? r->pnl_usd : r->pnl_frac;
	return pnl > 0;
}

static void trading_day(int64_t ts, char *buf, size_t len)
{
	struct calendar_local l;
	calendar_local(ts, &l);
	snprintf(buf, len, "%04d-%02d-%02d", l.year, l.month, l.day);
}

int weights_learn_trade(struct weights *w, const struct record *r)
{
	const char *regime = r->regime && *r->regime ? r->regime : "none";
	int win = is_win(r), changes = 0;
	char day[16];
	const char *key;
	json_t *v;

	trading_day(r->ts, day, sizeof day);
	observe(&w->base, win, r->pnl_usd, r->hold_minutes);
	struct named *base_reg = find_named(w->base_regimes, &w->n_base_regimes, MAX_BASE_REGIMES,
					    regime, w->opt.ewma_alpha);
	observe(&base_reg->s, win, r->pnl_usd, r->hold_minutes);
	if (!r->components)
		return 0;
	json_object_foreach(r->components, key, v)
	{
		if (!json_is_number(v) || !(json_number_value(v) > 0))
			continue;
		struct component *c = find_component(w, key);
		struct named *reg = find_named(c->regimes, &c->n_regimes, MAX_REGIMES, regime,
					       w->opt.ewma_alpha);
		observe(&c->all, win, r->pnl_usd, r->hold_minutes);
		observe(&reg->s, win, r->pnl_usd, r->hold_minutes);
		int a = rule(w, &c->all, &w->base, "component", c->name, "all", day);
		int b = rule(w, &reg->s, &base_reg->s, "component", c->name, reg->name, day);
		if (a < 0 || b < 0)
			return -1;
		changes += a + b;
	}
	return changes;
}

int weights_learn_exit(struct weights *w, const struct record *r)
{
	char family[96], day[16];
	int win = is_win(r);
	outcome_reason_family(r->close_reason, family, sizeof family);
	trading_day(r->ts, day, sizeof day);
	observe(&w->exit_base, win, r->pnl_usd, r->hold_minutes);
	struct named *x =
		find_named(w->reasons, &w->n_reasons, MAX_REASONS, family, w->opt.ewma_alpha);
	observe(&x->s, win, r->pnl_usd, r->hold_minutes);
	return rule(w, &x->s, &w->exit_base, "exit", x->name, "all", day);
}

size_t weights_take_changes(struct weights *w, struct weights_change *out, size_t max)
{
	size_t n = w->n_changes < max ? w->n_changes : max;
	memcpy(out, w->changes, n * sizeof *out);
	memmove(w->changes, w->changes + n, (w->n_changes - n) * sizeof *w->changes);
	w->n_changes -= n;
	return n;
}

double weights_multiplier(const struct weights *w, const char *component)
{
	for (size_t i = 0; i < w->n_components; i++)
		if (strcmp(w->components[i].name, component) == 0)
			return w->components[i].all.mult;
	return 1;
}

/* ---- state ---------------------------------------------------------------- */

static json_t *set_save(const struct stat_set *s)
{
	return json_pack("{s:I,s:I,s:f,s:f,s:I,s:{s:f,s:f,s:I},s:{s:f,s:f},s:f,s:s}", "wins",
			 (json_int_t)s->wins, "losses", (json_int_t)s->losses, "pnl", s->pnl,
			 "hold_sum", s->hold_sum, "hold_n", (json_int_t)s->hold_n, "ewma", "value",
			 s->ewma.value, "alpha", s->ewma.alpha, "n", (json_int_t)s->ewma.n, "beta",
			 "alpha", s->beta.alpha, "beta", s->beta.beta, "mult", s->mult,
			 "last_change_day", s->last_change_day);
}

static int set_load(struct stat_set *s, json_t *j)
{
	json_t *e = json_object_get(j, "ewma"), *b = json_object_get(j, "beta");
	const char *day = json_string_value(json_object_get(j, "last_change_day"));
	if (!json_is_object(j) || !json_is_object(e) || !json_is_object(b) || !day)
		return -1;
	s->wins = (long)json_integer_value(json_object_get(j, "wins"));
	s->losses = (long)json_integer_value(json_object_get(j, "losses"));
	s->pnl = json_number_value(json_object_get(j, "pnl"));
	s->hold_sum = json_number_value(json_object_get(j, "hold_sum"));
	s->hold_n = (long)json_integer_value(json_object_get(j, "hold_n"));
	s->ewma.value = json_number_value(json_object_get(e, "value"));
	s->ewma.alpha = json_number_value(json_object_get(e, "alpha"));
	s->ewma.n = (long)json_integer_value(json_object_get(e, "n"));
	s->beta.alpha = json_number_value(json_object_get(b, "alpha"));
	s->beta.beta = json_number_value(json_object_get(b, "beta"));
	s->mult = json_number_value(json_object_get(j, "mult"));
	snprintf(s->last_change_day, sizeof s->last_change_day, "%s", day);
	return 0;
}

static json_t *named_save(const struct named *list, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:o}", "name", list[i].name, "stats",
						   set_save(&list[i].s)));
	return a;
}

static int named_load(struct named *list, size_t *n, size_t cap, json_t *a)
{
	size_t i;
	json_t *v;
	*n = 0;
	if (!json_is_array(a) || json_array_size(a) > cap)
		return -1;
	json_array_foreach(a, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name || set_load(&list[i].s, json_object_get(v, "stats")))
			return -1;
		snprintf(list[i].name, sizeof list[i].name, "%s", name);
		(*n)++;
	}
	return 0;
}

json_t *weights_save(const struct weights *w)
{
	json_t *o = json_object(), *comps = json_array();
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "base", set_save(&w->base));
	json_object_set_new(o, "base_regimes", named_save(w->base_regimes, w->n_base_regimes));
	for (size_t i = 0; i < w->n_components; i++) {
		const struct component *c = &w->components[i];
		json_array_append_new(comps, json_pack("{s:s,s:o,s:o}", "name", c->name, "all",
						       set_save(&c->all), "regimes",
						       named_save(c->regimes, c->n_regimes)));
	}
	json_object_set_new(o, "components", comps);
	json_object_set_new(o, "exit_base", set_save(&w->exit_base));
	json_object_set_new(o, "reasons", named_save(w->reasons, w->n_reasons));
	return o;
}

int weights_load(struct weights *w, json_t *saved, char *err, size_t errlen)
{
	json_t *comps = json_object_get(saved, "components"), *v;
	size_t i;
	if (json_integer_value(json_object_get(saved, "format")) != 1 ||
	    set_load(&w->base, json_object_get(saved, "base")) ||
	    named_load(w->base_regimes, &w->n_base_regimes, MAX_BASE_REGIMES,
		       json_object_get(saved, "base_regimes")) ||
	    set_load(&w->exit_base, json_object_get(saved, "exit_base")) ||
	    named_load(w->reasons, &w->n_reasons, MAX_REASONS, json_object_get(saved, "reasons")) ||
	    !json_is_array(comps) || json_array_size(comps) > MAX_COMPONENTS)
		goto bad;
	w->n_components = 0;
	json_array_foreach(comps, i, v)
	{
		struct component *c = &w->components[i];
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name || set_load(&c->all, json_object_get(v, "all")) ||
		    named_load(c->regimes, &c->n_regimes, MAX_REGIMES,
			       json_object_get(v, "regimes")))
			goto bad;
		snprintf(c->name, sizeof c->name, "%s", name);
		w->n_components++;
	}
	w->n_changes = 0;
	return 0;
bad:
	snprintf(err, errlen, "weights: not a saved state of format 1");
	return -1;
}

/* ---- exports ----------------------------------------------------------------- */

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *set_export(const struct stat_set *s, double z)
{
	double lo, hi;
	long n = s->wins + s->losses;
	stats_wilson(s->wins, n, z, &lo, &hi);
	json_t *o = json_object();
	json_object_set_new(o, "multiplier", json_real(s->mult));
	json_object_set_new(o, "samples", json_integer(n));
	json_object_set_new(o, "wins", json_integer(s->wins));
	json_object_set_new(o, "losses", json_integer(s->losses));
	json_object_set_new(o, "win_rate", num(rate(s)));
	json_object_set_new(o, "pnl_usd", json_real(round(s->pnl * 100) / 100));
	json_object_set_new(o, "avg_pnl_usd", num(n ? s->pnl / (double)n : NAN));
	json_object_set_new(o, "avg_hold_minutes",
			    num(s->hold_n ? s->hold_sum / (double)s->hold_n : NAN));
	json_object_set_new(o, "ewma", num(s->ewma.n ? s->ewma.value : NAN));
	json_object_set_new(o, "beta",
			    json_pack("{s:f,s:f,s:f}", "alpha", s->beta.alpha, "beta", s->beta.beta,
				      "mean", stats_beta_mean(&s->beta)));
	json_object_set_new(o, "wilson", json_pack("[f,f]", lo, hi));
	json_object_set_new(o, "last_change_day",
			    s->last_change_day[0] ? json_string(s->last_change_day) : json_null());
	return o;
}

static json_t *baseline(const struct stat_set *s)
{
	return json_pack("{s:I,s:o}", "trades", (json_int_t)(s->wins + s->losses), "win_rate",
			 num(rate(s)));
}

json_t *weights_export_components(const struct weights *w)
{
	json_t *o = json_object(), *comps = json_object();
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "active_when", json_string("component value > 0 at entry"));
	json_object_set_new(o, "baseline", baseline(&w->base));
	for (size_t i = 0; i < w->n_components; i++) {
		const struct component *c = &w->components[i];
		json_t *j = set_export(&c->all, w->opt.z), *regs = json_object();
		for (size_t k = 0; k < c->n_regimes; k++)
			json_object_set_new(regs, c->regimes[k].name,
					    set_export(&c->regimes[k].s, w->opt.z));
		json_object_set_new(j, "regimes", regs);
		json_object_set_new(comps, c->name, j);
	}
	json_object_set_new(o, "components", comps);
	return o;
}

json_t *weights_export_exits(const struct weights *w)
{
	json_t *o = json_object(), *reasons = json_object();
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "baseline", baseline(&w->exit_base));
	for (size_t i = 0; i < w->n_reasons; i++) {
		json_t *j = set_export(&w->reasons[i].s, w->opt.z);
		json_object_set_new(j, "count", json_integer(w->reasons[i].s.wins +
							     w->reasons[i].s.losses));
		json_object_set_new(reasons, w->reasons[i].name, j);
	}
	json_object_set_new(o, "reasons", reasons);
	return o;
}
