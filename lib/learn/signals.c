#include "lib/learn/signals.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/hash.h"
#include "lib/base/jsontext.h"

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

/* An observation waiting for the other streams to pass its time. */
struct observation {
	int64_t ts;   /* the record's own time: "not dated after" checks */
	int64_t at;   /* ts, or later: when its stream had already passed ts */
	uint64_t seq; /* within its stream */
	int stream;
	int is_signal;
	int side;
	double price, stop, target; /* NAN when absent */
	char *timeframe;	    /* signals: "none" when absent */
	char symbol[];
};

/* Where one stream (a source) has got to. */
struct stream {
	int seen;   /* it has delivered an observation */
	int64_t at; /* the latest time it delivered */
	uint64_t next_seq;
};

struct signals {
	struct signals_options opt;
	struct stream streams[SIGNALS_STREAMS];
	unsigned caught_up;	      /* streams read to their end in this batch (bit per stream) */
	struct observation **waiting; /* a min-heap on (at, stream, seq) */
	size_t n_waiting, cap_waiting;
	int64_t horizon_us;
	struct pending *slab; /* grows with the pending signals (at most max_pending) */
	size_t cap, used, free_head;
	size_t *heap; /* slab indices, a min-heap on (ts, seq) */
	size_t heap_cap;
	size_t n; /* pending signals */
	uint64_t next_seq;
	struct symbol *buckets[N_BUCKETS];
	struct tally symbols[SIGNALS_MAX_KEYS], timeframes[SIGNALS_MAX_KEYS];
	size_t n_symbols, n_timeframes;
};

static const struct option_key signals_keys[] = {
    OPTION_NUMBER(struct signals_options, horizon_hours, 24, 0.001, 100000),
    OPTION_NUMBER(struct signals_options, max_pending, 10000, 1, 100000000),
};

const struct option_table signals_option_table = OPTION_TABLE(signals_keys, NULL);

void signals_options_init(struct signals_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&signals_option_table, o);
}

struct signals *signals_new(const struct signals_options *o, struct err *err)
{
	struct signals_options defaults;
	if (!o) {
		signals_options_init(&defaults);
		o = &defaults;
	}
	if (option_check(&signals_option_table, o, err)) {
		err_prefix(err, "signals options");
		return NULL;
	}
	struct signals *s = calloc(1, sizeof *s);
	if (!s) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	s->opt = *o;
	s->horizon_us = (int64_t)llround(o->horizon_hours * 3600.0 * 1e6);
	s->free_head = NONE;
	return s;
}

static void observation_free(struct observation *o)
{
	if (o)
		free(o->timeframe);
	free(o);
}

void signals_free(struct signals *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_waiting; i++)
		observation_free(s->waiting[i]);
	free(s->waiting);
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
	return (size_t)(hash_fnv1a64_str(HASH_FNV1A64_INIT, name) % N_BUCKETS);
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

/* Room for one more pending signal (s->n < max_pending is the caller's).
 * The heap holds an index per slot: it grows with the slab, and a slot is
 * only free to use when both have room for it. */
static int reserve_slot(struct signals *s)
{
	if (s->free_head != NONE || (s->used < s->cap && s->used < s->heap_cap))
		return 0;
	if (BUF_ARRAY_GROW(s->slab, s->used + 1, s->cap) ||
	    BUF_ARRAY_GROW(s->heap, s->used + 1, s->heap_cap))
		return -1;
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

/* Applies one observation, in the merged time order: expiries up to its
 * time, the resolutions its price makes, and, for a signal with valid
 * levels, a new pending signal. -1 on ENOMEM (the signal did not become
 * pending). */
static int apply(struct signals *s, const struct observation *o)
{
	/* Expired first: a price seen after the horizon resolves nothing. */
	while (s->n && o->at >= INT64_MIN + s->horizon_us &&
	       s->slab[s->heap[0]].ts < o->at - s->horizon_us)
		finish(s, s->heap[0], EXPIRED);

	struct symbol *sym = isfinite(o->price) ? symbol_find(s, o->symbol) : NULL;
	/* finish() may free the symbol, but only with its last signal, after
	 * which next is NONE. */
	for (size_t slot = sym ? sym->head : NONE, next; slot != NONE; slot = next) {
		const struct pending *p = &s->slab[slot];
		int res = p->ts <= o->ts ? crossing(p, o->price) : -1;
		next = p->next;
		if (res >= 0)
			finish(s, slot, (enum result)res);
	}

	if (!o->is_signal || !levels_valid(o->side, o->stop, o->target))
		return 0;
	if (s->n == (size_t)s->opt.max_pending)
		finish(s, s->heap[0], EXPIRED);
	if (reserve_slot(s))
		return -1;
	sym = symbol_get(s, o->symbol);
	if (!sym)
		return -1;
	add_pending(s, sym, o->timeframe, o->side, o->ts, s->next_seq++, o->stop, o->target);
	return 0;
}

/* ---- the merge of the streams -------------------------------------------------- */

static int before(const struct observation *a, const struct observation *b)
{
	if (a->at != b->at)
		return a->at < b->at;
	if (a->stream != b->stream)
		return a->stream < b->stream;
	return a->seq < b->seq;
}

static void waiting_up(struct signals *s, size_t pos)
{
	struct observation *o = s->waiting[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!before(o, s->waiting[parent]))
			break;
		s->waiting[pos] = s->waiting[parent];
		pos = parent;
	}
	s->waiting[pos] = o;
}

static struct observation *waiting_pop(struct signals *s)
{
	struct observation *top = s->waiting[0], *last = s->waiting[--s->n_waiting];
	size_t pos = 0;
	for (;;) {
		size_t child = 2 * pos + 1;
		if (child >= s->n_waiting)
			break;
		if (child + 1 < s->n_waiting && before(s->waiting[child + 1], s->waiting[child]))
			child++;
		if (!before(s->waiting[child], last))
			break;
		s->waiting[pos] = s->waiting[child];
		pos = child;
	}
	if (s->n_waiting)
		s->waiting[pos] = last;
	return top;
}

static int waiting_push(struct signals *s, struct observation *o)
{
	if (BUF_ARRAY_GROW(s->waiting, s->n_waiting + 1, s->cap_waiting))
		return -1;
	s->waiting[s->n_waiting++] = o;
	waiting_up(s, s->n_waiting - 1);
	return 0;
}

/* 1 when nothing any stream can still deliver comes before o: every other
 * stream that has delivered anything has passed o's place in the order. */
static int ready(const struct signals *s, const struct observation *o, int64_t frontier)
{
	for (int i = 0; i < SIGNALS_STREAMS; i++) {
		const struct stream *t = &s->streams[i];
		if (i == o->stream || !t->seen)
			continue;
		/* Read to its end: what it writes next is written after what
		 * the others have delivered, so it has passed their newest. */
		int64_t at = (s->caught_up >> i & 1u) && frontier >= t->at ? frontier + 1 : t->at;
		if (at < o->at || (at == o->at && i < o->stream))
			return 0;
	}
	return 1;
}

/* The newest time any stream has delivered. */
static int64_t frontier_of(const struct signals *s)
{
	int64_t f = INT64_MIN;
	for (int i = 0; i < SIGNALS_STREAMS; i++)
		if (s->streams[i].seen && s->streams[i].at > f)
			f = s->streams[i].at;
	return f;
}

/* Applies the waiting observations that are ready (all_ready: only those
 * past SIGNALS_MAX_WAITING), oldest first; past SIGNALS_MAX_WAITING, the
 * oldest whether ready or not. */
static int drain(struct signals *s, int check_ready)
{
	int rc = 0;
	int64_t frontier = frontier_of(s);
	while (s->n_waiting && (s->n_waiting > SIGNALS_MAX_WAITING ||
				(check_ready && ready(s, s->waiting[0], frontier)))) {
		struct observation *o = waiting_pop(s);
		rc |= apply(s, o);
		observation_free(o);
	}
	return rc;
}

/* A new observation; NULL on ENOMEM. */
static struct observation *observation_new(int stream, const char *symbol, int64_t ts, int64_t at,
					   uint64_t seq, int is_signal, const char *timeframe,
					   int side, double price, double stop, double target)
{
	size_t len = strlen(symbol);
	struct observation *o = malloc(sizeof *o + len + 1);
	if (!o)
		return NULL;
	memcpy(o->symbol, symbol, len + 1);
	o->ts = ts;
	o->at = at;
	o->seq = seq;
	o->stream = stream;
	o->is_signal = is_signal;
	o->side = side;
	o->price = price;
	o->stop = stop;
	o->target = target;
	o->timeframe = NULL;
	if (is_signal && !(o->timeframe = strdup(timeframe && *timeframe ? timeframe : "none"))) {
		free(o);
		return NULL;
	}
	return o;
}

/* The price a record observes, NAN when none. */
static double observed_price(const struct record *r)
{
	switch (r->kind) {
	case PROFILE_KIND_SIGNAL:
	case PROFILE_KIND_ORDER:
		return r->price;
	case PROFILE_KIND_OPEN:
		return r->entry_price;
	case PROFILE_KIND_CLOSE:
	case PROFILE_KIND_PARTIAL:
		return r->exit_price;
	default:
		return NAN;
	}
}

int signals_observe(struct signals *s, const struct record *r, struct err *err)
{
	if (r->ts == CALENDAR_NONE || !r->symbol || (unsigned)r->source >= SIGNALS_STREAMS)
		return 0;
	if (r->kind != PROFILE_KIND_SIGNAL && r->kind != PROFILE_KIND_ORDER &&
	    r->kind != PROFILE_KIND_OPEN && r->kind != PROFILE_KIND_CLOSE &&
	    r->kind != PROFILE_KIND_PARTIAL)
		return 0;

	/* A stream's time only moves forward: a row dated before its stream's
	 * latest takes its place at that latest time, so the order of the
	 * merge never depends on when the other streams were read. */
	struct stream *t = &s->streams[r->source];
	int64_t at = t->seen && t->at > r->ts ? t->at : r->ts;
	double price = observed_price(r);
	int rc = 0;
	t->seen = 1;
	t->at = at;
	s->caught_up &= ~(1u << r->source); /* it delivers: not at its end */
	if (r->kind == PROFILE_KIND_SIGNAL || isfinite(price)) {
		struct observation *o =
		    observation_new((int)r->source, r->symbol, r->ts, at, t->next_seq,
				    r->kind == PROFILE_KIND_SIGNAL, r->timeframe, r->side,
				    isfinite(price) ? price : NAN,
				    r->kind == PROFILE_KIND_SIGNAL ? r->stop_loss : NAN,
				    r->kind == PROFILE_KIND_SIGNAL ? r->take_profit : NAN);
		if (!o || waiting_push(s, o)) {
			observation_free(o);
			rc = -1;
		} else {
			t->next_seq++;
		}
	}
	if ((drain(s, 0) | rc) != 0)
		return err_set(err, ENOMEM, "out of memory");
	return 0;
}

void signals_caught_up(struct signals *s, int stream)
{
	if (stream >= 0 && stream < SIGNALS_STREAMS)
		s->caught_up |= 1u << stream;
}

int signals_holding(const struct signals *s, int stream)
{
	if (s->n_waiting <= SIGNALS_HOLD_WAITING || stream < 0 || stream >= SIGNALS_STREAMS ||
	    !s->streams[stream].seen)
		return 0;
	/* Held when another stream is behind it: that one is read first. */
	for (int i = 0; i < SIGNALS_STREAMS; i++)
		if (i != stream && s->streams[i].seen && s->streams[i].at < s->streams[stream].at)
			return 1;
	return 0;
}

int signals_settle(struct signals *s, struct err *err)
{
	int rc = drain(s, 1);
	s->caught_up = 0;
	return rc ? err_set(err, ENOMEM, "out of memory") : 0;
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

/* [[seen, at, next_seq], ...] per stream. NULL on ENOMEM. */
static json_t *streams_save(const struct signals *s)
{
	json_t *a = json_array();
	for (int i = 0; a && i < SIGNALS_STREAMS; i++)
		if (append(a, json_pack("[b,I,I]", s->streams[i].seen, (json_int_t)s->streams[i].at,
					(json_int_t)s->streams[i].next_seq))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int compare_waiting(const void *a, const void *b)
{
	const struct observation *x = *(const struct observation *const *)a;
	const struct observation *y = *(const struct observation *const *)b;
	return before(x, y) ? -1 : before(y, x);
}

/* The waiting observations in merge order, each [stream, seq, ts, at,
 * symbol, price, timeframe, side, stop_loss, take_profit] (the last four
 * null for a price). NULL on ENOMEM. */
static json_t *waiting_save(const struct signals *s)
{
	json_t *a = json_array();
	struct observation **order = malloc((s->n_waiting ? s->n_waiting : 1) * sizeof *order);
	if (!a || !order)
		goto fail;
	if (s->n_waiting) {
		memcpy(order, s->waiting, s->n_waiting * sizeof *order);
		qsort(order, s->n_waiting, sizeof *order, compare_waiting);
	}
	for (size_t i = 0; i < s->n_waiting; i++) {
		const struct observation *o = order[i];
		json_t *v = json_pack(
		    "[i,I,I,I,s,o,o,o,o,o]", o->stream, (json_int_t)o->seq, (json_int_t)o->ts,
		    (json_int_t)o->at, o->symbol, jsontext_real_or_null(o->price),
		    o->is_signal ? json_string(o->timeframe) : json_null(),
		    o->is_signal ? json_integer(o->side) : json_null(),
		    jsontext_real_or_null(o->stop), jsontext_real_or_null(o->target));
		if (append(a, v))
			goto fail;
	}
	free(order);
	return a;
fail:
	free(order);
	json_decref(a);
	return NULL;
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
	if (failed || !bs || !bt || json_object_set_new(o, "format", json_integer(2)) ||
	    json_object_set_new(o, "streams", streams_save(s)) ||
	    json_object_set_new(o, "waiting", waiting_save(s)) ||
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

static int streams_load(struct signals *t, json_t *a)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a) || json_array_size(a) != SIGNALS_STREAMS)
		return -1;
	json_array_foreach(a, i, v)
	{
		json_t *seen = json_array_get(v, 0), *at = json_array_get(v, 1),
		       *next = json_array_get(v, 2);
		if (json_array_size(v) != 3 || !json_is_boolean(seen) || !json_is_integer(at) ||
		    !json_is_integer(next) || json_integer_value(next) < 0)
			return -1;
		t->streams[i].seen = json_is_true(seen);
		t->streams[i].at = json_integer_value(at);
		t->streams[i].next_seq = (uint64_t)json_integer_value(next);
	}
	return 0;
}

static double number_or_nan(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* -1 when a is not what waiting_save wrote, -2 on ENOMEM. */
static int waiting_load(struct signals *t, json_t *a)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a))
		return -1;
	json_array_foreach(a, i, v)
	{
		json_t *stream = json_array_get(v, 0), *seq = json_array_get(v, 1),
		       *ts = json_array_get(v, 2), *at = json_array_get(v, 3),
		       *timeframe = json_array_get(v, 6), *side = json_array_get(v, 7);
		const char *symbol = json_string_value(json_array_get(v, 4));
		int is_signal = json_is_string(timeframe);
		if (json_array_size(v) != 10 || !json_is_integer(stream) ||
		    json_integer_value(stream) < 0 ||
		    json_integer_value(stream) >= SIGNALS_STREAMS || !json_is_integer(seq) ||
		    json_integer_value(seq) < 0 || !json_is_integer(ts) || !json_is_integer(at) ||
		    !symbol || (is_signal && !json_is_integer(side)) ||
		    (!is_signal && !json_is_number(json_array_get(v, 5))))
			return -1;
		struct observation *o = observation_new(
		    (int)json_integer_value(stream), symbol, json_integer_value(ts),
		    json_integer_value(at), (uint64_t)json_integer_value(seq), is_signal,
		    json_string_value(timeframe), (int)json_integer_value(side),
		    number_or_nan(json_array_get(v, 5)), number_or_nan(json_array_get(v, 8)),
		    number_or_nan(json_array_get(v, 9)));
		if (!o || waiting_push(t, o)) {
			observation_free(o);
			return -2;
		}
	}
	return 0;
}

/* Fills the empty instance t from saved; -1 with err. */
static int load_into(struct signals *t, json_t *saved, struct err *err)
{
	json_t *pending = json_object_get(saved, "pending"),
	       *next = json_object_get(saved, "next_seq"), *v;
	const char *what = "format";
	uint64_t last_seq = 0;
	size_t i;

	json_int_t format = json_integer_value(json_object_get(saved, "format"));
	if (!json_is_object(saved) || !json_is_integer(json_object_get(saved, "format")) ||
	    (format != 1 && format != 2))
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
	/* Format 1 was written when only signal rows were observed: nothing
	 * waited. */
	if (format == 1)
		return 0;
	what = "streams";
	if (streams_load(t, json_object_get(saved, "streams")))
		goto bad;
	what = "waiting";
	switch (waiting_load(t, json_object_get(saved, "waiting"))) {
	case 0:
		return 0;
	case -2:
		what = NULL;
		break;
	}
bad:
	if (!what)
		return err_set(err, ENOMEM, "signals: out of memory");
	return err_set(err, EINVAL, "signals: not a saved state of format 1 or 2 (bad %s)", what);
}

int signals_load(struct signals *s, json_t *saved, struct err *err)
{
	struct signals *t = signals_new(&s->opt, err), *swap;
	if (!t)
		return err_prefix(err, "signals");
	if (load_into(t, saved, err)) {
		signals_free(t);
		return -1;
	}
	/* struct signals is large (its tallies): swap the pointers' contents
	 * through a heap copy rather than the stack. */
	swap = malloc(sizeof *swap);
	if (!swap) {
		signals_free(t);
		return err_set(err, ENOMEM, "signals: out of memory");
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
	    json_object_set_new(o, "waiting", json_integer((json_int_t)s->n_waiting)) ||
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
