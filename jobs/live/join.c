#include "jobs/live/join.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"

#define US_PER_S 1000000.0
#define SAVE_FORMAT 1

struct join {
	int active, by_key;
	int64_t window_us;
	/* Trades waiting, oldest first: queue[head..n_queue). */
	struct record *queue;
	size_t head, n_queue, cap_queue;
	/* Context rows not taken, in the order read. */
	struct record *ctx;
	size_t n_ctx, cap_ctx;
	int context_seen, caught_up;
	int64_t context_time; /* the latest context row's time; CALENDAR_NONE before one */
	int64_t decided_time; /* the latest match time of a decided trade */
	/* The trade join_next gave, its context row and merged components. */
	struct record current, current_ctx;
	json_t *current_components;
	int has_current;
	struct join_counts counts;
};

static int out_of_memory(struct err *err)
{
	return err_set(err, ENOMEM, "out of memory");
}

struct join *join_new(const struct profile *p, struct err *err)
{
	struct join *j = calloc(1, sizeof *j);
	if (!j) {
		out_of_memory(err);
		return NULL;
	}
	const struct profile_source *c = &p->source[PROFILE_SOURCE_CONTEXT];
	j->active = c->file[0] != '\0';
	j->by_key = c->match_by_key;
	j->window_us = (int64_t)llround(c->window_s * US_PER_S);
	j->context_time = j->decided_time = CALENDAR_NONE;
	return j;
}

void join_done(struct join *j)
{
	if (!j->has_current)
		return;
	record_release(&j->current);
	record_release(&j->current_ctx);
	json_decref(j->current_components);
	j->current_components = NULL;
	j->has_current = 0;
}

void join_free(struct join *j)
{
	if (!j)
		return;
	join_done(j);
	for (size_t i = j->head; i < j->n_queue; i++)
		record_release(&j->queue[i]);
	for (size_t i = 0; i < j->n_ctx; i++)
		record_release(&j->ctx[i]);
	free(j->queue);
	free(j->ctx);
	free(j);
}

int join_active(const struct join *j)
{
	return j->active;
}

/* ---- a record as a copy of its own ---- */

static void put_string(json_t *o, const char *k, const char *v, int *ok)
{
	if (json_object_set_new(o, k, v ? json_string(v) : json_null()))
		*ok = 0;
}

static void put_new(json_t *o, const char *k, json_t *v, int *ok)
{
	if (!v || json_object_set_new(o, k, v))
		*ok = 0;
}

static json_t *time_or_null(int64_t us)
{
	return us == CALENDAR_NONE ? json_null() : json_integer(us);
}

/* clang-format off */
#define STRING_FIELDS(X) \
	X(trade_id) X(position_id) X(symbol) X(regime) X(sector) X(timeframe) \
	X(close_reason) X(signal_id) X(order_id) X(status) X(reason) X(strategy) X(session)
#define REAL_FIELDS(X) \
	X(entry_price) X(exit_price) X(qty) X(pnl_usd) X(pnl_frac) X(hold_minutes) \
	X(confidence) X(score) X(fraction) X(equity) X(price) X(stop_loss) X(take_profit)
/* clang-format on */

/* Everything of r the job uses after parsing, as one object made outside
 * any parse arena (the row itself is not kept: a pooled record has none).
 * NULL on ENOMEM. */
static json_t *record_copy_json(const struct record *r)
{
	json_t *o = json_object();
	int ok = o != NULL;
	if (!ok)
		return NULL;
	put_new(o, "source", json_integer(r->source), &ok);
	put_new(o, "kind", json_integer(r->kind), &ok);
	put_new(o, "key", json_string(r->key), &ok);
	put_new(o, "side", json_integer(r->side), &ok);
	put_new(o, "traded", json_integer(r->traded), &ok);
	put_new(o, "ts", time_or_null(r->ts), &ok);
	put_new(o, "entry_ts", time_or_null(r->entry_ts), &ok);
	put_new(o, "pnl_sign_mismatch", json_integer(r->pnl_sign_mismatch), &ok);
	put_new(o, "entry_ts_derived", json_integer(r->entry_ts_derived), &ok);
#define X(f) put_string(o, #f, r->f, &ok);
	STRING_FIELDS(X)
#undef X
#define X(f) put_new(o, #f, jsontext_real_or_null(r->f), &ok);
	REAL_FIELDS(X)
#undef X
	put_new(o, "components", r->components ? json_deep_copy(r->components) : json_null(), &ok);
	put_new(o, "categories", r->categories ? json_deep_copy(r->categories) : json_null(), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static double real_of(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t time_of(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : CALENDAR_NONE;
}

/* r from a copy (stolen: r->row is it, r borrows from it). -1 when o is
 * not one. */
static int record_from_copy(json_t *o, struct record *r)
{
	memset(r, 0, sizeof *r);
	const char *key = json_string_value(json_object_get(o, "key"));
	json_t *kind = json_object_get(o, "kind"), *source = json_object_get(o, "source");
	if (!json_is_object(o) || !key || !json_is_integer(kind) || !json_is_integer(source) ||
	    json_integer_value(source) < 0 || json_integer_value(source) >= PROFILE_SOURCE_COUNT ||
	    !json_is_string(json_object_get(o, "symbol")) || strlen(key) >= sizeof r->key) {
		json_decref(o);
		return -1;
	}
	r->row = o;
	r->source = (enum profile_source_id)json_integer_value(source);
	r->kind = (enum profile_kind)json_integer_value(kind);
	strcpy(r->key, key);
	r->side = (int)json_integer_value(json_object_get(o, "side"));
	r->traded = (int)json_integer_value(json_object_get(o, "traded"));
	r->ts = time_of(o, "ts");
	r->entry_ts = time_of(o, "entry_ts");
	r->pnl_sign_mismatch = (int)json_integer_value(json_object_get(o, "pnl_sign_mismatch"));
	r->entry_ts_derived = (int)json_integer_value(json_object_get(o, "entry_ts_derived"));
#define X(f) r->f = json_string_value(json_object_get(o, #f));
	STRING_FIELDS(X)
#undef X
#define X(f) r->f = real_of(o, #f);
	REAL_FIELDS(X)
#undef X
	json_t *comp = json_object_get(o, "components");
	r->components = json_is_object(comp) ? comp : NULL;
	json_t *cats = json_object_get(o, "categories");
	r->categories = json_is_object(cats) ? json_incref(cats) : NULL;
	return 0;
}

/* The copy of r that waits (the same whether r was just read or is
 * reloaded after a restart). -1 on ENOMEM. */
static int record_own(const struct record *r, struct record *out)
{
	json_t *o = record_copy_json(r);
	if (!o)
		return -1;
	return record_from_copy(o, out);
}

/* ---- the queue and the rows ---- */

static int64_t match_time(const struct record *r)
{
	return r->entry_ts != CALENDAR_NONE ? r->entry_ts : r->ts;
}

/* Lets context row i go, unused. */
static void drop_context(struct join *j, size_t i)
{
	record_release(&j->ctx[i]);
	memmove(&j->ctx[i], &j->ctx[i + 1], (j->n_ctx - i - 1) * sizeof *j->ctx);
	j->n_ctx--;
	j->counts.contexts_unused++;
}

int join_context(struct join *j, const struct record *r, struct err *err)
{
	struct record own;
	if (record_own(r, &own))
		return out_of_memory(err);
	if (j->n_ctx == JOIN_MAX_CONTEXTS)
		drop_context(j, 0);
	if (BUF_ARRAY_GROW(j->ctx, j->n_ctx + 1, j->cap_ctx)) {
		record_release(&own);
		return out_of_memory(err);
	}
	j->ctx[j->n_ctx++] = own;
	j->context_seen = 1;
	if (own.ts != CALENDAR_NONE &&
	    (j->context_time == CALENDAR_NONE || own.ts > j->context_time))
		j->context_time = own.ts;
	return 0;
}

int join_trade(struct join *j, const struct record *r, struct err *err)
{
	if (j->head > 0 && j->head * 2 >= j->n_queue) {
		memmove(j->queue, j->queue + j->head, (j->n_queue - j->head) * sizeof *j->queue);
		j->n_queue -= j->head;
		j->head = 0;
	}
	if (BUF_ARRAY_GROW(j->queue, j->n_queue + 1, j->cap_queue) ||
	    record_own(r, &j->queue[j->n_queue]))
		return out_of_memory(err);
	j->n_queue++;
	return 0;
}

void join_caught_up(struct join *j)
{
	j->caught_up = 1;
}

void join_end_batch(struct join *j)
{
	j->caught_up = 0;
}

/* The context row of trade t, or -1. */
static long find_match(const struct join *j, const struct record *t)
{
	int64_t at = match_time(t);
	int64_t oldest = j->decided_time == CALENDAR_NONE
			     ? INT64_MIN
			     : j->decided_time - (int64_t)JOIN_KEEP_S * 1000000;
	long best = -1;
	int64_t best_gap = 0;
	for (size_t i = 0; i < j->n_ctx; i++) {
		const struct record *c = &j->ctx[i];
		if (c->ts == CALENDAR_NONE || c->ts < oldest)
			continue;
		if (j->by_key) {
			if (strcmp(c->key, t->key) == 0)
				return (long)i;
			continue;
		}
		if (at == CALENDAR_NONE || strcmp(c->symbol, t->symbol) != 0)
			continue;
		int64_t gap = c->ts > at ? c->ts - at : at - c->ts;
		if (gap > j->window_us)
			continue;
		if (best < 0 || gap < best_gap || (gap == best_gap && c->ts < j->ctx[best].ts)) {
			best = (long)i;
			best_gap = gap;
		}
	}
	return best;
}

static int decided(const struct join *j, const struct record *t, long match, int64_t now_us)
{
	if (j->n_queue - j->head > JOIN_MAX_PENDING)
		return 1;
	if (!j->context_seen)
		return 0;
	if (j->by_key && match >= 0)
		return 1;
	int64_t at = match_time(t);
	if (at == CALENDAR_NONE)
		return 1;
	if (j->context_time != CALENDAR_NONE && j->context_time > at + j->window_us)
		return 1;
	return j->caught_up && t->ts != CALENDAR_NONE && now_us >= t->ts + j->window_us;
}

static const char *either(const char *own, const char *other)
{
	return own ? own : other;
}

static double either_real(double own, double other)
{
	return isnan(own) ? other : own;
}

/* The trade keeps what it has; the context fills what it lacks: the
 * canonical fields, its components (both sets, the trade's value first on
 * a shared name) and its categories (the trade's text first; strategy is
 * one of them when mapped). */
static int attach(struct join *j, struct record *t, const struct record *c)
{
	t->regime = either(t->regime, c->regime);
	t->sector = either(t->sector, c->sector);
	t->timeframe = either(t->timeframe, c->timeframe);
	t->signal_id = either(t->signal_id, c->signal_id);
	t->strategy = either(t->strategy, c->strategy);
	t->session = either(t->session, c->session);
	t->confidence = either_real(t->confidence, c->confidence);
	t->score = either_real(t->score, c->score);
	if (!t->side)
		t->side = c->side;
	if (c->categories) {
		json_t *cats = t->categories ? t->categories : json_object();
		const char *name;
		json_t *v;
		if (!cats)
			return -1;
		json_object_foreach(c->categories, name, v)
		{
			json_t *own = json_object_get(cats, name);
			if (json_is_string(v) && (!own || json_is_null(own)) &&
			    json_object_set(cats, name, v))
				return -1;
		}
		t->categories = cats;
	}
	if (!c->components)
		return 0;
	if (!t->components) {
		t->components = c->components;
		return 0;
	}
	json_t *merged = json_copy(c->components);
	if (!merged || json_object_update(merged, t->components)) {
		json_decref(merged);
		return -1;
	}
	j->current_components = merged;
	t->components = merged;
	return 0;
}

static void sweep_contexts(struct join *j)
{
	if (j->decided_time == CALENDAR_NONE)
		return;
	int64_t oldest = j->decided_time - (int64_t)JOIN_KEEP_S * 1000000;
	for (size_t i = 0; i < j->n_ctx;)
		if (j->ctx[i].ts != CALENDAR_NONE && j->ctx[i].ts < oldest)
			drop_context(j, i);
		else
			i++;
}

int join_next(struct join *j, int64_t now_us, struct record **out, struct err *err)
{
	join_done(j);
	if (j->head == j->n_queue)
		return 0;
	struct record *t = &j->queue[j->head];
	long m = find_match(j, t);
	if (!decided(j, t, m, now_us))
		return 0;
	j->current = *t;
	j->head++;
	j->has_current = 1;
	memset(&j->current_ctx, 0, sizeof j->current_ctx);
	if (m >= 0) {
		j->current_ctx = j->ctx[m];
		memmove(&j->ctx[m], &j->ctx[m + 1], (j->n_ctx - (size_t)m - 1) * sizeof *j->ctx);
		j->n_ctx--;
		if (attach(j, &j->current, &j->current_ctx))
			return out_of_memory(err);
		j->counts.matched++;
	} else {
		j->counts.unmatched++;
	}
	int64_t at = match_time(&j->current);
	if (at != CALENDAR_NONE && (j->decided_time == CALENDAR_NONE || at > j->decided_time)) {
		j->decided_time = at;
		sweep_contexts(j);
	}
	*out = &j->current;
	return 1;
}

void join_counts(const struct join *j, struct join_counts *c)
{
	*c = j->counts;
	c->pending = j->n_queue - j->head;
	c->contexts_waiting = j->n_ctx;
}

/* ---- saved ---- */

static json_t *counts_json(const struct join_counts *c)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "matched", (json_int_t)c->matched, "unmatched",
			 (json_int_t)c->unmatched, "pending", (json_int_t)c->pending,
			 "contexts_waiting", (json_int_t)c->contexts_waiting, "contexts_unused",
			 (json_int_t)c->contexts_unused);
}

json_t *join_save(const struct join *j)
{
	struct join_counts c;
	json_t *o = json_object(), *queue = json_array(), *ctx = json_array();
	int ok = o && queue && ctx;
	for (size_t i = j->head; ok && i < j->n_queue; i++)
		ok = json_array_append(queue, j->queue[i].row) == 0;
	for (size_t i = 0; ok && i < j->n_ctx; i++)
		ok = json_array_append(ctx, j->ctx[i].row) == 0;
	join_counts(j, &c);
	put_new(o, "format", json_integer(SAVE_FORMAT), &ok);
	put_new(o, "pending", queue, &ok);
	put_new(o, "contexts", ctx, &ok);
	put_new(o, "context_seen", json_boolean(j->context_seen), &ok);
	put_new(o, "context_time", time_or_null(j->context_time), &ok);
	put_new(o, "decided_time", time_or_null(j->decided_time), &ok);
	put_new(o, "counts", counts_json(&c), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int count_of(json_t *counts, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(counts, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int join_counts_of(json_t *saved, struct join_counts *c)
{
	json_t *counts = json_object_get(saved, "counts");
	memset(c, 0, sizeof *c);
	return count_of(counts, "matched", &c->matched) ||
		       count_of(counts, "unmatched", &c->unmatched) ||
		       count_of(counts, "pending", &c->pending) ||
		       count_of(counts, "contexts_waiting", &c->contexts_waiting) ||
		       count_of(counts, "contexts_unused", &c->contexts_unused)
		   ? -1
		   : 0;
}

/* Rows of a saved list into recs (grown), each a copy incref'd. */
static int load_list(json_t *list, struct record **recs, size_t *n, size_t *cap, const char *what,
		     struct err *err)
{
	size_t i;
	json_t *v;
	if (!json_is_array(list))
		return err_set(err, EINVAL, "join: %s: not an array", what);
	json_array_foreach(list, i, v)
	{
		if (BUF_ARRAY_GROW(*recs, *n + 1, *cap))
			return out_of_memory(err);
		if (record_from_copy(json_incref(v), &(*recs)[*n]))
			return err_set(err, EINVAL, "join: %s[%zu]: not a saved record", what, i);
		(*n)++;
	}
	return 0;
}

int join_load(struct join *j, json_t *saved, struct err *err)
{
	struct join_counts c;
	if (!json_is_object(saved) ||
	    json_integer_value(json_object_get(saved, "format")) != SAVE_FORMAT)
		return err_set(err, EINVAL, "join: not a saved join of format %d", SAVE_FORMAT);
	if (join_counts_of(saved, &c))
		return err_set(err, EINVAL, "join: counts: missing or not counts");
	if (load_list(json_object_get(saved, "pending"), &j->queue, &j->n_queue, &j->cap_queue,
		      "pending", err) ||
	    load_list(json_object_get(saved, "contexts"), &j->ctx, &j->n_ctx, &j->cap_ctx,
		      "contexts", err))
		return -1;
	j->counts.matched = c.matched;
	j->counts.unmatched = c.unmatched;
	j->counts.contexts_unused = c.contexts_unused;
	j->context_seen = json_is_true(json_object_get(saved, "context_seen"));
	j->context_time = time_of(saved, "context_time");
	j->decided_time = time_of(saved, "decided_time");
	return 0;
}
