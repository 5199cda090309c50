#include "signals.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "jsontext.h"

#define KEY_LEN 64
#define N_BUCKETS 4096 /* symbols with pending signals, chained */
#define NONE SIZE_MAX

enum result { SUCCESS, FAILURE, EXPIRED };

/* Results of one symbol or timeframe. */
struct tally {
	char key[KEY_LEN];
	long success, failure, expired;
	long pending; /* derived: recounted on load */
};

/* The pending signals of one symbol, in arrival order. */
struct symbol {
	struct symbol *chain;
	size_t head, tail, n;
	char name[]; /* in full: matching never depends on a cut */
};

struct pending {
	struct symbol *symbol;
	size_t symbol_tally, timeframe_tally;
	int side;
	int64_t ts;
	uint64_t seq; /* arrival number */
	double stop, target;
	size_t prev, next; /* in the symbol's list; next also links free slots */
	size_t heap_pos;
};

struct signals {
	struct signals_options opt;
	int64_t horizon_us;
	struct pending *slab; /* grows up to max_pending slots */
	size_t cap, used, free_head;
	size_t *heap; /* slab indices, a min-heap on (ts, seq) */
	size_t n;     /* pending signals */
	uint64_t next_seq;
	struct symbol *buckets[N_BUCKETS];
	struct tally symbols[SIGNALS_MAX_KEYS], timeframes[SIGNALS_MAX_KEYS];
	size_t n_symbols, n_timeframes;
};

struct signals *signals_new(const struct signals_options *o)
{
	struct signals_options defaults = {24, 10000};
	if (!o)
		o = &defaults;
	if (!isfinite(o->horizon_hours) || o->horizon_hours <= 0 || o->horizon_hours > 1e9 ||
	    o->max_pending < 1) {
		errno = EINVAL;
		return NULL;
	}
	struct signals *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->opt = *o;
	s->horizon_us = (int64_t)llround(o->horizon_hours * 3600.0 * 1e6);
	s->free_head = NONE;
	return s;
}

void signals_free(struct signals *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < N_BUCKETS; b++) {
		struct symbol *sym = s->buckets[b];
		while (sym) {
			struct symbol *next = sym->chain;
			free(sym);
			sym = next;
		}
	}
	free(s->slab);
	free(s->heap);
	free(s);
}

/* ---- tallies ----------------------------------------------------------------- */

/* The index of key's tally, added when new; the last slot is "other". */
static size_t tally_index(struct tally *list, size_t *n, const char *name)
{
	char key[KEY_LEN];
	jsontext_copy_utf8(key, sizeof key, name);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i].key, key) == 0)
			return i;
	if (*n + 1 >= SIGNALS_MAX_KEYS) {
		for (size_t i = 0; i < *n; i++)
			if (strcmp(list[i].key, "other") == 0)
				return i;
		jsontext_copy_utf8(key, sizeof key, "other");
	}
	struct tally *t = &list[*n];
	memset(t, 0, sizeof *t);
	jsontext_copy_utf8(t->key, sizeof t->key, key);
	return (*n)++;
}

static void count_result(struct tally *t, enum result res)
{
	if (res == SUCCESS)
		t->success++;
	else if (res == FAILURE)
		t->failure++;
	else
		t->expired++;
}

/* ---- the heap of pending signals, oldest on top --------------------------------- */

static int older(const struct signals *s, size_t a, size_t b)
{
	const struct pending *x = &s->slab[a], *y = &s->slab[b];
	return x->ts < y->ts || (x->ts == y->ts && x->seq < y->seq);
}

static void heap_set(struct signals *s, size_t pos, size_t slot)
{
	s->heap[pos] = slot;
	s->slab[slot].heap_pos = pos;
}

static void sift_up(struct signals *s, size_t pos)
{
	size_t slot = s->heap[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!older(s, slot, s->heap[parent]))
			break;
		heap_set(s, pos, s->heap[parent]);
		pos = parent;
	}
	heap_set(s, pos, slot);
}

static void sift_down(struct signals *s, size_t pos)
{
	size_t slot = s->heap[pos];
	for (;;) {
		size_t child = 2 * pos + 1;
		if (child >= s->n)
			break;
		if (child + 1 < s->n && older(s, s->heap[child + 1], s->heap[child]))
			child++;
		if (!older(s, s->heap[child], slot))
			break;
		heap_set(s, pos, s->heap[child]);
		pos = child;
	}
	heap_set(s, pos, slot);
}

/* ---- symbols ----------------------------------------------------------------- */

static size_t bucket_of(const char *name)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	return (size_t)(h % N_BUCKETS);
}

static struct symbol *symbol_find(const struct signals *s, const char *name)
{
	for (struct symbol *sym = s->buckets[bucket_of(name)]; sym; sym = sym->chain)
		if (strcmp(sym->name, name) == 0)
			return sym;
	return NULL;
}

static struct symbol *symbol_get(struct signals *s, const char *name)
{
	struct symbol *sym = symbol_find(s, name);
	if (sym)
		return sym;
	size_t len = strlen(name);
	sym = malloc(sizeof *sym + len + 1);
	if (!sym)
		return NULL;
	memcpy(sym->name, name, len + 1);
	sym->head = sym->tail = NONE;
	sym->n = 0;
	size_t b = bucket_of(name);
	sym->chain = s->buckets[b];
	s->buckets[b] = sym;
	return sym;
}

static void symbol_drop(struct signals *s, struct symbol *sym)
{
	struct symbol **link = &s->buckets[bucket_of(sym->name)];
	while (*link != sym)
		link = &(*link)->chain;
	*link = sym->chain;
	free(sym);
}

/* ---- pending signals --------------------------------------------------------- */

/* Room for one more pending signal (s->n < max_pending is the caller's). */
static int reserve_slot(struct signals *s)
{
	if (s->free_head != NONE || s->used < s->cap)
		return 0;
	size_t max = (size_t)s->opt.max_pending;
	size_t cap = s->cap ? s->cap * 2 : 64;
	if (cap > max)
		cap = max;
	struct pending *slab = realloc(s->slab, cap * sizeof *slab);
	if (!slab)
		return -1;
	s->slab = slab;
	size_t *heap = realloc(s->heap, cap * sizeof *heap);
	if (!heap)
		return -1;
	s->heap = heap;
	s->cap = cap;
	return 0;
}

/* Ends pending signal slot with res: counted, unlinked, freed. */
static void finish(struct signals *s, size_t slot, enum result res)
{
	struct pending *p = &s->slab[slot];
	struct symbol *sym = p->symbol;

	count_result(&s->symbols[p->symbol_tally], res);
	count_result(&s->timeframes[p->timeframe_tally], res);
	s->symbols[p->symbol_tally].pending--;
	s->timeframes[p->timeframe_tally].pending--;

	if (p->prev != NONE)
		s->slab[p->prev].next = p->next;
	else
		sym->head = p->next;
	if (p->next != NONE)
		s->slab[p->next].prev = p->prev;
	else
		sym->tail = p->prev;
	if (--sym->n == 0)
		symbol_drop(s, sym);

	size_t pos = p->heap_pos, last = s->heap[--s->n];
	if (pos < s->n) {
		heap_set(s, pos, last);
		sift_down(s, pos);
		sift_up(s, s->slab[last].heap_pos);
	}
	p->symbol = NULL;
	p->next = s->free_head;
	s->free_head = slot;
}

/* Adds a pending signal (room reserved, symbol created). */
static void add_pending(struct signals *s, struct symbol *sym, const char *timeframe, int side,
			int64_t ts, uint64_t seq, double stop, double target)
{
	size_t slot;
	if (s->free_head != NONE) {
		slot = s->free_head;
		s->free_head = s->slab[slot].next;
	} else {
		slot = s->used++;
	}
	struct pending *p = &s->slab[slot];
	memset(p, 0, sizeof *p);
	p->symbol = sym;
	p->symbol_tally = tally_index(s->symbols, &s->n_symbols, sym->name);
	p->timeframe_tally = tally_index(s->timeframes, &s->n_timeframes, timeframe);
	s->symbols[p->symbol_tally].pending++;
	s->timeframes[p->timeframe_tally].pending++;
	p->side = side;
	p->ts = ts;
	p->seq = seq;
	p->stop = stop;
	p->target = target;
	p->next = NONE;
	p->prev = sym->tail;
	if (sym->tail != NONE)
		s->slab[sym->tail].next = slot;
	else
		sym->head = slot;
	sym->tail = slot;
	sym->n++;
	s->heap[s->n] = slot;
	p->heap_pos = s->n++;
	sift_up(s, p->heap_pos);
}

/* The result of price for p, or -1 when it crosses neither level. */
static int crossing(const struct pending *p, double price)
{
	if (p->side > 0)
		return price >= p->target ? SUCCESS : price <= p->stop ? FAILURE : -1;
	return price <= p->target ? SUCCESS : price >= p->stop ? FAILURE : -1;
}

static int levels_valid(int side, double stop, double target)
{
	if (!isfinite(stop) || !isfinite(target) || side == 0)
		return 0;
	return side > 0 ? stop < target : target < stop;
}

int signals_observe(struct signals *s, const struct record *r)
{
	if (r->kind != KIND_SIGNAL || r->ts == CALENDAR_NONE || !r->symbol)
		return 0;

	/* Expired first: a price seen after the horizon resolves nothing. */
	while (s->n && r->ts >= INT64_MIN + s->horizon_us &&
	       s->slab[s->heap[0]].ts < r->ts - s->horizon_us)
		finish(s, s->heap[0], EXPIRED);

	struct symbol *sym = isfinite(r->price) ? symbol_find(s, r->symbol) : NULL;
	/* finish() may free the symbol, but only with its last signal, after
	 * which next is NONE. */
	for (size_t slot = sym ? sym->head : NONE, next; slot != NONE; slot = next) {
		const struct pending *p = &s->slab[slot];
		int res = p->ts <= r->ts ? crossing(p, r->price) : -1;
		next = p->next;
		if (res >= 0)
			finish(s, slot, (enum result)res);
	}

	if (!levels_valid(r->side, r->stop_loss, r->take_profit))
		return 0;
	if (s->n == (size_t)s->opt.max_pending)
		finish(s, s->heap[0], EXPIRED);
	if (reserve_slot(s))
		return -1;
	sym = symbol_get(s, r->symbol);
	if (!sym)
		return -1;
	add_pending(s, sym, r->timeframe && *r->timeframe ? r->timeframe : "none", r->side, r->ts,
		    s->next_seq++, r->stop_loss, r->take_profit);
	return 0;
}

/* ---- state ------------------------------------------------------------------- */

static int compare_seq(const void *a, const void *b, void *arg)
{
	const struct signals *s = arg;
	uint64_t x = s->slab[*(const size_t *)a].seq, y = s->slab[*(const size_t *)b].seq;
	return x < y ? -1 : x > y;
}

/* Appends v (stolen) to array a; -1 when v is NULL or on ENOMEM. */
static int append(json_t *a, json_t *v)
{
	return v ? json_array_append_new(a, v) : -1;
}

static json_t *tallies_save(const struct tally *t, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (append(a, json_pack("[s,I,I,I]", t[i].key, (json_int_t)t[i].success,
					(json_int_t)t[i].failure, (json_int_t)t[i].expired))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* Pending signals as [symbol, timeframe, side, ts, stop_loss, take_profit,
 * seq], in arrival order; reals exact, times in integer microseconds. */
json_t *signals_save(const struct signals *s)
{
	json_t *o = json_object(), *pending = json_array(), *bs = NULL, *bt = NULL;
	size_t *order = malloc((s->n ? s->n : 1) * sizeof *order);
	int failed = !o || !pending || !order;

	if (!failed && s->n) {
		memcpy(order, s->heap, s->n * sizeof *order);
		qsort_r(order, s->n, sizeof *order, compare_seq, (void *)s);
	}
	for (size_t i = 0; !failed && i < s->n; i++) {
		const struct pending *p = &s->slab[order[i]];
		failed = append(pending, json_pack("[s,s,i,I,f,f,I]", p->symbol->name,
						   s->timeframes[p->timeframe_tally].key, p->side,
						   (json_int_t)p->ts, p->stop, p->target,
						   (json_int_t)p->seq)) != 0;
	}
	free(order);
	if (!failed) {
		bs = tallies_save(s->symbols, s->n_symbols);
		bt = tallies_save(s->timeframes, s->n_timeframes);
	}
	if (failed || !bs || !bt || json_object_set_new(o, "format", json_integer(1)) ||
	    json_object_set_new(o, "next_seq", json_integer((json_int_t)s->next_seq)) ||
	    json_object_set(o, "pending", pending) || json_object_set(o, "by_symbol", bs) ||
	    json_object_set(o, "by_timeframe", bt))
		goto fail;
	json_decref(pending);
	json_decref(bs);
	json_decref(bt);
	return o;
fail:
	json_decref(o);
	json_decref(pending);
	json_decref(bs);
	json_decref(bt);
	return NULL;
}

static int get_count(json_t *a, size_t i, long *out)
{
	json_t *v = json_array_get(a, i);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

static int tallies_load(struct tally *t, size_t *n, json_t *a)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a) || json_array_size(a) > SIGNALS_MAX_KEYS)
		return -1;
	json_array_foreach(a, i, v)
	{
		const char *key = json_string_value(json_array_get(v, 0));
		if (json_array_size(v) != 4 || !key)
			return -1;
		memset(&t[i], 0, sizeof t[i]);
		jsontext_copy_utf8(t[i].key, sizeof t[i].key, key);
		if (get_count(v, 1, &t[i].success) || get_count(v, 2, &t[i].failure) ||
		    get_count(v, 3, &t[i].expired))
			return -1;
		(*n)++;
	}
	return 0;
}

/* Fills the empty instance t from saved; -1 with err. */
static int load_into(struct signals *t, json_t *saved, char *err, size_t errlen)
{
	json_t *pending = json_object_get(saved, "pending"),
	       *next = json_object_get(saved, "next_seq"), *v;
	const char *what = "format";
	uint64_t last_seq = 0;
	size_t i;

	if (!json_is_object(saved) || !json_is_integer(json_object_get(saved, "format")) ||
	    json_integer_value(json_object_get(saved, "format")) != 1)
		goto bad;
	what = "tallies";
	if (tallies_load(t->symbols, &t->n_symbols, json_object_get(saved, "by_symbol")) ||
	    tallies_load(t->timeframes, &t->n_timeframes, json_object_get(saved, "by_timeframe")))
		goto bad;
	what = "pending";
	if (!json_is_integer(next) || json_integer_value(next) < 0 || !json_is_array(pending))
		goto bad;
	t->next_seq = (uint64_t)json_integer_value(next);
	json_array_foreach(pending, i, v)
	{
		const char *symbol = json_string_value(json_array_get(v, 0));
		const char *timeframe = json_string_value(json_array_get(v, 1));
		json_t *side = json_array_get(v, 2), *ts = json_array_get(v, 3);
		json_t *stop = json_array_get(v, 4), *target = json_array_get(v, 5);
		json_t *seq = json_array_get(v, 6);
		if (json_array_size(v) != 7 || !symbol || !timeframe || !json_is_integer(side) ||
		    !json_is_integer(ts) || json_integer_value(ts) == CALENDAR_NONE ||
		    !json_is_number(stop) || !json_is_number(target) || !json_is_integer(seq) ||
		    json_integer_value(seq) < 0 ||
		    (i > 0 && (uint64_t)json_integer_value(seq) <= last_seq) ||
		    (uint64_t)json_integer_value(seq) >= t->next_seq ||
		    !levels_valid((int)json_integer_value(side), json_number_value(stop),
				  json_number_value(target)))
			goto bad;
		last_seq = (uint64_t)json_integer_value(seq);
		if (t->n == (size_t)t->opt.max_pending)
			finish(t, t->heap[0], EXPIRED);
		struct symbol *sym = NULL;
		if (reserve_slot(t) || !(sym = symbol_get(t, symbol))) {
			what = NULL;
			goto bad;
		}
		add_pending(t, sym, timeframe, json_integer_value(side) > 0 ? 1 : -1,
			    json_integer_value(ts), last_seq, json_number_value(stop),
			    json_number_value(target));
	}
	return 0;
bad:
	if (what)
		snprintf(err, errlen, "signals: not a saved state of format 1 (bad %s)", what);
	else
		snprintf(err, errlen, "signals: out of memory");
	return -1;
}

int signals_load(struct signals *s, json_t *saved, char *err, size_t errlen)
{
	struct signals *t = signals_new(&s->opt), *swap;
	if (!t) {
		snprintf(err, errlen, "signals: out of memory");
		return -1;
	}
	if (load_into(t, saved, err, errlen)) {
		signals_free(t);
		return -1;
	}
	/* struct signals is large (its tallies): swap the pointers' contents
	 * through a heap copy rather than the stack. */
	swap = malloc(sizeof *swap);
	if (!swap) {
		signals_free(t);
		snprintf(err, errlen, "signals: out of memory");
		return -1;
	}
	*swap = *s;
	*s = *t;
	*t = *swap;
	free(swap);
	signals_free(t);
	return 0;
}

/* ---- export ------------------------------------------------------------------ */

static json_t *tallies_export(const struct tally *t, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		long decided = t[i].success + t[i].failure;
		json_t *rate =
		    decided ? json_real((double)t[i].success / (double)decided) : json_null();
		json_t *j = json_pack("{s:I,s:I,s:I,s:o,s:I}", "success", (json_int_t)t[i].success,
				      "failure", (json_int_t)t[i].failure, "expired",
				      (json_int_t)t[i].expired, "success_rate", rate, "pending",
				      (json_int_t)t[i].pending);
		if (!j || json_object_set_new(o, t[i].key, j)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *signals_export(const struct signals *s)
{
	json_t *o = json_object();
	json_t *bs = tallies_export(s->symbols, s->n_symbols);
	json_t *bt = tallies_export(s->timeframes, s->n_timeframes);
	if (!o || !bs || !bt || json_object_set_new(o, "format", json_integer(1)) ||
	    json_object_set_new(o, "horizon_hours", json_real(s->opt.horizon_hours)) ||
	    json_object_set_new(o, "pending", json_integer((json_int_t)s->n)) ||
	    json_object_set(o, "by_symbol", bs) || json_object_set(o, "by_timeframe", bt)) {
		json_decref(o);
		json_decref(bs);
		json_decref(bt);
		return NULL;
	}
	json_decref(bs);
	json_decref(bt);
	return o;
}
