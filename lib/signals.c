#include "signals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"

#define MAX_KEYS 512

struct pending {
	char symbol[32], timeframe[16];
	int side;
	int64_t ts;
	double stop, target;
};

struct tally {
	char key[32];
	long success, failure, expired;
};

struct signals {
	struct signals_options opt;
	struct pending *ring; /* oldest first: a queue of max_pending */
	size_t head, n;
	struct tally symbols[MAX_KEYS], timeframes[MAX_KEYS];
	size_t n_symbols, n_timeframes;
};

struct signals *signals_new(const struct signals_options *o)
{
	struct signals *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->opt.horizon_hours = o ? o->horizon_hours : 24;
	s->opt.max_pending = o ? o->max_pending : 10000;
	s->ring = calloc((size_t)s->opt.max_pending, sizeof *s->ring);
	if (!s->ring) {
		free(s);
		return NULL;
	}
	return s;
}

void signals_free(struct signals *s)
{
	if (!s)
		return;
	free(s->ring);
	free(s);
}

static struct tally *tally_of(struct tally *list, size_t *n, const char *key)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i].key, key) == 0)
			return &list[i];
	if (*n == MAX_KEYS)
		return &list[MAX_KEYS - 1];
	struct tally *t = &list[(*n)++];
	memset(t, 0, sizeof *t);
	snprintf(t->key, sizeof t->key, "%s", *n == MAX_KEYS ? "other" : key);
	return t;
}

enum result { SUCCESS, FAILURE, EXPIRED };

static void count(struct signals *s, const struct pending *p, enum result res)
{
	struct tally *a = tally_of(s->symbols, &s->n_symbols, p->symbol);
	struct tally *b = tally_of(s->timeframes, &s->n_timeframes, p->timeframe);
	long *fa = res == SUCCESS ? &a->success : res == FAILURE ? &a->failure : &a->expired;
	long *fb = res == SUCCESS ? &b->success : res == FAILURE ? &b->failure : &b->expired;
	(*fa)++;
	(*fb)++;
}

static struct pending *at(struct signals *s, size_t i)
{
	return &s->ring[(s->head + i) % (size_t)s->opt.max_pending];
}

/* Removes entry i, keeping arrival order. */
static void remove_at(struct signals *s, size_t i)
{
	for (size_t k = i; k + 1 < s->n; k++)
		*at(s, k) = *at(s, k + 1);
	s->n--;
}

void signals_observe(struct signals *s, const struct record *r)
{
	int64_t horizon = (int64_t)llround(s->opt.horizon_hours * 3600e6);

	/* Expiry first (by this row's time), then resolution by its price. */
	while (s->n && at(s, 0)->ts + horizon < r->ts) {
		count(s, at(s, 0), EXPIRED);
		s->head = (s->head + 1) % (size_t)s->opt.max_pending;
		s->n--;
	}
	if (isfinite(r->price) && r->symbol) {
		for (size_t i = 0; i < s->n;) {
			struct pending *p = at(s, i);
			int hit = -1;
			if (strcmp(p->symbol, r->symbol) == 0) {
				if (p->side > 0)
					hit = r->price >= p->target ? SUCCESS
					      : r->price <= p->stop ? FAILURE
								    : -1;
				else
					hit = r->price <= p->target ? SUCCESS
					      : r->price >= p->stop ? FAILURE
								    : -1;
			}
			if (hit < 0 || p->ts + horizon < r->ts || p->ts >= r->ts) {
				i++;
				continue;
			}
			count(s, p, (enum result)hit);
			remove_at(s, i);
		}
	}
	if (!r->side || !isfinite(r->stop_loss) || !isfinite(r->take_profit) || !r->symbol)
		return;
	if (s->n == (size_t)s->opt.max_pending) {
		count(s, at(s, 0), EXPIRED);
		s->head = (s->head + 1) % (size_t)s->opt.max_pending;
		s->n--;
	}
	struct pending *p = at(s, s->n++);
	memset(p, 0, sizeof *p);
	snprintf(p->symbol, sizeof p->symbol, "%s", r->symbol);
	snprintf(p->timeframe, sizeof p->timeframe, "%s", r->timeframe ? r->timeframe : "none");
	p->side = r->side;
	p->ts = r->ts;
	p->stop = r->stop_loss;
	p->target = r->take_profit;
}

static json_t *tallies_save(const struct tally *t, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("[s,I,I,I]", t[i].key, (json_int_t)t[i].success,
						   (json_int_t)t[i].failure,
						   (json_int_t)t[i].expired));
	return a;
}

static int tallies_load(struct tally *t, size_t *n, json_t *a)
{
	size_t i;
	json_t *v;
	*n = 0;
	if (!json_is_array(a) || json_array_size(a) > MAX_KEYS)
		return -1;
	json_array_foreach(a, i, v)
	{
		const char *key = json_string_value(json_array_get(v, 0));
		if (!key)
			return -1;
		snprintf(t[i].key, sizeof t[i].key, "%s", key);
		t[i].success = (long)json_integer_value(json_array_get(v, 1));
		t[i].failure = (long)json_integer_value(json_array_get(v, 2));
		t[i].expired = (long)json_integer_value(json_array_get(v, 3));
		(*n)++;
	}
	return 0;
}

json_t *signals_save(const struct signals *s)
{
	json_t *o = json_object(), *pend = json_array();
	for (size_t i = 0; i < s->n; i++) {
		const struct pending *p = &s->ring[(s->head + i) % (size_t)s->opt.max_pending];
		json_array_append_new(pend, json_pack("[s,s,i,I,f,f]", p->symbol, p->timeframe,
						      p->side, (json_int_t)p->ts, p->stop,
						      p->target));
	}
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "pending", pend);
	json_object_set_new(o, "by_symbol", tallies_save(s->symbols, s->n_symbols));
	json_object_set_new(o, "by_timeframe", tallies_save(s->timeframes, s->n_timeframes));
	return o;
}

int signals_load(struct signals *s, json_t *saved, char *err, size_t errlen)
{
	json_t *pend = json_object_get(saved, "pending"), *v;
	size_t i;
	if (json_integer_value(json_object_get(saved, "format")) != 1 || !json_is_array(pend) ||
	    tallies_load(s->symbols, &s->n_symbols, json_object_get(saved, "by_symbol")) ||
	    tallies_load(s->timeframes, &s->n_timeframes, json_object_get(saved, "by_timeframe")))
		goto bad;
	s->head = s->n = 0;
	json_array_foreach(pend, i, v)
	{
		const char *sym = json_string_value(json_array_get(v, 0));
		const char *tf = json_string_value(json_array_get(v, 1));
		if (!sym || !tf)
			goto bad;
		if (s->n == (size_t)s->opt.max_pending)
			break;
		struct pending *p = &s->ring[s->n++];
		snprintf(p->symbol, sizeof p->symbol, "%s", sym);
		snprintf(p->timeframe, sizeof p->timeframe, "%s", tf);
		p->side = (int)json_integer_value(json_array_get(v, 2));
		p->ts = json_integer_value(json_array_get(v, 3));
		p->stop = json_number_value(json_array_get(v, 4));
		p->target = json_number_value(json_array_get(v, 5));
	}
	return 0;
bad:
	snprintf(err, errlen, "signals: not a saved state of format 1");
	return -1;
}

static json_t *tallies_export(const struct signals *s, const struct tally *t, size_t n,
			      int by_symbol)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++) {
		long decided = t[i].success + t[i].failure, pending = 0;
		for (size_t k = 0; k < s->n; k++) {
			const struct pending *p = &s->ring[(s->head + k) % (size_t)s->opt.max_pending];
			pending += strcmp(by_symbol ? p->symbol : p->timeframe, t[i].key) == 0;
		}
		json_object_set_new(
			o, t[i].key,
			json_pack("{s:I,s:I,s:I,s:o,s:I}", "success", (json_int_t)t[i].success,
				  "failure", (json_int_t)t[i].failure, "expired",
				  (json_int_t)t[i].expired, "success_rate",
				  decided ? json_real((double)t[i].success / (double)decided)
					  : json_null(),
				  "pending", (json_int_t)pending));
	}
	return o;
}

json_t *signals_export(const struct signals *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "horizon_hours", json_real(s->opt.horizon_hours));
	json_object_set_new(o, "pending", json_integer((json_int_t)s->n));
	json_object_set_new(o, "by_symbol", tallies_export(s, s->symbols, s->n_symbols, 1));
	json_object_set_new(o, "by_timeframe",
			    tallies_export(s, s->timeframes, s->n_timeframes, 0));
	return o;
}
