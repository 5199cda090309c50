#include "jobs/live/short_term.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/hash.h"
#include "lib/base/schedule.h"
#include "lib/base/jsontext.h"
#include "lib/base/sha256.h"
#include "lib/learn/learner.h"
#include "lib/learn/signals.h"
#include "lib/learn/weights.h"
#include "lib/store/outcome.h"
#include "lib/ingest/record.h"
#include "jobs/live/join.h"

/* An open position and what its open said about the entry, for the close
 * that does not repeat it. */
struct position {
	char *id; /* the position key: trade_id, or symbol for bots that link by symbol */
	char *symbol;
	int side;
	int64_t opened_at;
	double qty, entry_price, confidence, score;
	char *regime, *sector, *timeframe; /* NULL when the open had none */
	char *session;
	json_t *components; /* owned, or NULL */
	json_t *categories; /* owned, or NULL: with strategy */
};

/* Open-addressing set of 64-bit key hashes (0 marks an empty slot; a real
 * hash of 0 is stored as 1, a collision with odds of 2^-64). */
struct keyset {
	uint64_t *slot;
	size_t cap, n;
};

/* The account equity the bot logged on one local date: the first and the
 * last by timestamp, so the daily job can divide a day's P&L by the
 * capital the day started with. */
struct equity_day {
	int32_t day;
	double first, last;
	int64_t first_ts, last_ts;
};
#define EQUITY_DAYS 1100 /* about four years of trading days */

struct short_term {
	const struct profile *profile;
	struct equity_day equity[EQUITY_DAYS];
	size_t n_equity;
	struct learner *learner;
	struct weights *weights;
	struct signals *signals;
	struct join *join; /* context rows and the trades that wait for them */
	struct keyset keys;
	struct position *pos;
	size_t n_pos, cap_pos;
	/* The deployment (state/baseline_performance.json) whose model the
	 * drift detector compares with; "" before the first one. */
	char deployment[SHORT_TERM_DEPLOYMENT_MAX];
};

static void note_equity(struct short_term *st, int64_t ts, double equity);

uint64_t short_term_key_hash(const char *key)
{
	uint64_t h = hash_fnv1a64_str(HASH_FNV1A64_INIT, key);
	return h ? h : 1;
}

static int keyset_grow(struct keyset *ks)
{
	size_t cap = ks->cap ? ks->cap * 2 : 1024;
	uint64_t *slot = calloc(cap, sizeof *slot);
	if (!slot)
		return -1;
	for (size_t i = 0; i < ks->cap; i++) {
		uint64_t h = ks->slot[i];
		if (!h)
			continue;
		size_t j = h & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = h;
	}
	free(ks->slot);
	ks->slot = slot;
	ks->cap = cap;
	return 0;
}

/* 1 when h was added, 0 when it was there, -1 on ENOMEM. */
static int keyset_add(struct keyset *ks, uint64_t h)
{
	if ((ks->n + 1) * 10 > ks->cap * 7 && keyset_grow(ks))
		return -1;
	size_t j = h & (ks->cap - 1);
	while (ks->slot[j]) {
		if (ks->slot[j] == h)
			return 0;
		j = (j + 1) & (ks->cap - 1);
	}
	ks->slot[j] = h;
	ks->n++;
	return 1;
}

struct short_term *short_term_new(const struct profile *p, const struct config *c, struct err *err)
{
	struct short_term *st = calloc(1, sizeof *st);

	if (!st) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	st->profile = p;
	if (!(st->learner = learner_new(c ? &c->learner : NULL, err)) ||
	    !(st->weights = weights_new(c ? &c->weights : NULL, err)) ||
	    !(st->signals = signals_new(c ? &c->signals : NULL, err)) ||
	    !(st->join = join_new(p, err))) {
		short_term_free(st);
		return NULL;
	}
	return st;
}

const struct learner *short_term_learner(const struct short_term *st)
{
	return st->learner;
}

static void position_free(struct position *p)
{
	free(p->id);
	free(p->symbol);
	free(p->regime);
	free(p->sector);
	free(p->timeframe);
	free(p->session);
	json_decref(p->components);
	json_decref(p->categories);
}

void short_term_free(struct short_term *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_pos; i++)
		position_free(&st->pos[i]);
	free(st->pos);
	free(st->keys.slot);
	learner_free(st->learner);
	weights_free(st->weights);
	signals_free(st->signals);
	join_free(st->join);
	free(st);
}

static int out_of_memory(struct err *err)
{
	return err_set(err, ENOMEM, "out of memory");
}

int short_term_add_key(struct short_term *st, uint64_t h, struct err *err)
{
	return keyset_add(&st->keys, h) < 0 ? out_of_memory(err) : 0;
}

/* What quarantine.jsonl keeps of a rejected line: at most
 * SHORT_TERM_QUARANTINE_LINE_BYTES of its start (cut at a character), each
 * control byte but a tab as "?" (escaped, one would take six bytes), and
 * each byte of it that is not UTF-8 as "?" too: the file stays valid JSONL
 * of a bounded size whatever the bot wrote. NULL on ENOMEM. */
static json_t *line_text(const char *data, size_t len)
{
	size_t n = len < SHORT_TERM_QUARANTINE_LINE_BYTES ? len : SHORT_TERM_QUARANTINE_LINE_BYTES;
	if (n < len)
		while (n > 0 && ((unsigned char)data[n] & 0xC0) == 0x80)
			n--;
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];
		copy[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	json_t *s = json_stringn(copy, n);
	if (!s) {
		for (size_t i = 0; i < n; i++)
			if (copy[i] & 0x80)
				copy[i] = '?';
		s = json_stringn(copy, n);
	}
	free(copy);
	return s;
}

static int quarantine(struct short_term_batch *out, struct state_counters *c,
		      const struct follow_line *line, const char *reason, const char *detail)
{
	char at[40], hex[SHA256_HEX_BYTES];
	unsigned char digest[SHA256_DIGEST_BYTES];
	json_t *q = json_object();
	calendar_format_iso(calendar_now(), at, sizeof at);
	sha256_digest(line->data, line->len, digest);
	sha256_hex(digest, hex);
	json_object_set_new(q, "source", json_string(profile_source_name(line->source)));
	json_object_set_new(q, "file", line_text(line->path, strlen(line->path)));
	json_object_set_new(q, "offset", json_integer((json_int_t)line->offset));
	json_object_set_new(q, "reason", json_string(reason));
	json_object_set_new(q, "detail", line_text(detail, strlen(detail)));
	json_object_set_new(q, "line", line_text(line->data, line->len));
	json_object_set_new(q, "line_bytes", json_integer((json_int_t)line->len));
	json_object_set_new(q, "line_sha256", json_string(hex));
	json_object_set_new(q, "quarantined_at", json_string(at));
	size_t n;
	char *text = q && json_object_size(q) == 9 ? jsontext_dump(q, JSONTEXT_COMPACT, &n) : NULL;
	json_decref(q);
	if (!text)
		return -1;
	if (out->quarantine_bounded && out->quarantine.len + n + 1 > out->quarantine_room) {
		/* The file is full: counted, not kept. */
		c->quarantine_dropped++;
		free(text);
		return 0;
	}
	int rc = buf_add(&out->quarantine, text, n);
	rc |= buf_add(&out->quarantine, "\n", 1);
	free(text);
	return rc;
}

/* Moves the multiplier changes of the last update into the batch's
 * weight_learning.jsonl lines. */
static int journal_changes(struct short_term *st, struct short_term_batch *out)
{
	struct weights_change ch[64];
	size_t n;
	while ((n = weights_take_changes(st->weights, ch, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object();
			json_object_set_new(j, "day", json_string(ch[i].day));
			json_object_set_new(j, "kind", json_string(ch[i].kind));
			json_object_set_new(j, "component", json_string(ch[i].name));
			json_object_set_new(j, "regime", json_string(ch[i].regime));
			json_object_set_new(j, "old", json_real(ch[i].old_mult));
			json_object_set_new(j, "new", json_real(ch[i].new_mult));
			json_object_set_new(j, "reason", json_string(ch[i].reason));
			json_object_set_new(j, "samples", json_integer(ch[i].samples));
			size_t len;
			char *text = j ? jsontext_dump(j, JSONTEXT_COMPACT, &len) : NULL;
			json_decref(j);
			if (!text || buf_add(&out->weight_log, text, len) ||
			    buf_add(&out->weight_log, "\n", 1)) {
				free(text);
				return -1;
			}
			free(text);
		}
	}
	return 0;
}

static const char *position_key(const struct short_term *st, const struct record *r)
{
	if (st->profile->position_by_symbol || !r->position_id)
		return r->symbol;
	return r->position_id;
}

static char *strdup_or_null(const char *s, int *failed)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*failed = 1;
	return d;
}

/* Tracks the open r under the position key (its symbol, side, time and
 * entry fields, copied). At SHORT_TERM_MAX_OPEN the oldest tracked open is
 * let go first. */
static int open_position(struct short_term *st, const char *key, const struct record *r)
{
	int failed = 0;
	if (st->n_pos == SHORT_TERM_MAX_OPEN) {
		position_free(&st->pos[0]);
		memmove(&st->pos[0], &st->pos[1], --st->n_pos * sizeof *st->pos);
	}
	if (BUF_ARRAY_GROW(st->pos, st->n_pos + 1, st->cap_pos))
		return -1;
	struct position *p = &st->pos[st->n_pos];
	memset(p, 0, sizeof *p);
	p->id = strdup_or_null(key, &failed);
	p->symbol = strdup_or_null(r->symbol, &failed);
	p->regime = strdup_or_null(r->regime, &failed);
	p->sector = strdup_or_null(r->sector, &failed);
	p->timeframe = strdup_or_null(r->timeframe, &failed);
	p->session = strdup_or_null(r->session, &failed);
	if (r->components && !(p->components = json_deep_copy(r->components)))
		failed = 1;
	if (r->categories && !(p->categories = json_deep_copy(r->categories)))
		failed = 1;
	if (failed || !p->id || !p->symbol) {
		position_free(p);
		return -1;
	}
	p->side = r->side;
	p->opened_at = r->ts;
	p->qty = r->qty;
	p->entry_price = r->entry_price;
	p->confidence = r->confidence;
	p->score = r->score;
	st->n_pos++;
	return 0;
}

/* The oldest open position with r's key, or NONE. */
#define NO_POSITION ((size_t)-1)
static size_t find_position(const struct short_term *st, const struct record *r)
{
	const char *key = position_key(st, r);
	for (size_t i = 0; i < st->n_pos; i++)
		if (strcmp(st->pos[i].id, key) == 0)
			return i;
	return NO_POSITION;
}

/* A close or partial close takes from its open every entry field it does
 * not carry itself. The strings and components are borrowed from the
 * position, which must outlive r's use (it is let go after the outcome). */
static void fill_from_open(struct record *r, const struct position *p)
{
	if (!r->side)
		r->side = p->side;
	if ((r->entry_ts == CALENDAR_NONE || r->entry_ts_derived) &&
	    p->opened_at != CALENDAR_NONE) {
		r->entry_ts = p->opened_at;
		r->entry_ts_derived = 0;
	}
	if (isnan(r->entry_price))
		r->entry_price = p->entry_price;
	if (isnan(r->confidence))
		r->confidence = p->confidence;
	if (isnan(r->score))
		r->score = p->score;
	if (!r->regime)
		r->regime = p->regime;
	if (!r->sector)
		r->sector = p->sector;
	if (!r->timeframe)
		r->timeframe = p->timeframe;
	if (!r->components)
		r->components = p->components;
	if (!r->session)
		r->session = p->session;
	if (!r->strategy)
		r->strategy = json_string_value(json_object_get(p->categories, "strategy"));
	if (!r->categories) {
		r->categories = json_incref(p->categories);
	} else if (p->categories) {
		/* The open's value of a category the close lacks. */
		const char *name;
		json_t *v;
		json_object_foreach(p->categories, name,
				    v) if (json_is_string(v) &&
					   json_is_null(json_object_get(r->categories, name)))
		    json_object_set(r->categories, name, v);
	}
	record_derive_trade(r);
}

/* A close ends the oldest open position with the same key. A close without
 * a known open (its open came before tradelearn started, or was let go at
 * the cap) is still a trade, with only the fields it carries. */
static void close_position(struct short_term *st, size_t i)
{
	if (i == NO_POSITION)
		return;
	position_free(&st->pos[i]);
	memmove(&st->pos[i], &st->pos[i + 1], (st->n_pos - i - 1) * sizeof *st->pos);
	st->n_pos--;
}

static int record_outcome(struct short_term *st, const struct record *r, struct state_counters *c,
			  struct short_term_batch *out, struct err *err)
{
	uint64_t h = short_term_key_hash(r->key);
	int added = keyset_add(&st->keys, h);
	if (added < 0)
		return out_of_memory(err);
	if (added == 0) {
		c->duplicates++;
		c->skipped++;
		return 0;
	}
	char *line = outcome_encode(r);
	if (!line) {
		free(line);
		return out_of_memory(err);
	}
	if (framelog_add(out->outcomes, line, strlen(line), err)) {
		free(line);
		return -1;
	}
	free(line);
	if (BUF_ARRAY_GROW(out->keys, out->n_keys + 1, out->keys_cap))
		return out_of_memory(err);
	out->keys[out->n_keys++] = h;
	c->learned++;
	c->trades++;
	c->sign_mismatch += (uint64_t)r->pnl_sign_mismatch;
	/* Learned from once: only a trade recorded now, never a duplicate. */
	learner_learn(st->learner, r);
	if (weights_learn_trade(st->weights, r, err) < 0)
		return -1;
	/* Without an exit source, the closes are the only exit events there
	 * are: their close reasons teach the exit-reason statistics. With one,
	 * the exit rows do, and a close would count its exit twice. */
	if (!st->profile->source[PROFILE_SOURCE_EXIT].file[0] &&
	    weights_learn_exit(st->weights, r, err) < 0)
		return -1;
	if (journal_changes(st, out))
		return out_of_memory(err);
	if (out->on_outcome)
		out->on_outcome(out->hook_ctx, r);
	return 0;
}

/* What a parsed record does, by its kind: each step updates c and may add
 * to out; 0, or -1 with err set to ENOMEM. */
typedef int (*apply_step)(struct short_term *st, struct record *r, struct state_counters *c,
			  struct short_term_batch *out, struct err *err);

/* An open is tracked until its close, which takes its entry fields. */
static int apply_open(struct short_term *st, struct record *r, struct state_counters *c,
		      struct short_term_batch *out, struct err *err)
{
	(void)out;
	c->learned++;
	return open_position(st, position_key(st, r), r) ? out_of_memory(err) : 0;
}

/* A close or partial close is a trade: completed from its open, recorded
 * once, learned from; a full close ends the position. */
static int apply_close(struct short_term *st, struct record *r, struct state_counters *c,
		       struct short_term_batch *out, struct err *err)
{
	size_t at = find_position(st, r);
	if (at != NO_POSITION)
		fill_from_open(r, &st->pos[at]);
	/* With a context source, the trade waits for its context row
	 * (short_term_settle records it); read, it counts as learned. */
	int rc = join_active(st->join) ? join_trade(st->join, r, err)
				       : record_outcome(st, r, c, out, err);
	if (r->kind == PROFILE_KIND_CLOSE)
		close_position(st, at);
	return rc;
}

/* A context row waits for its trade. */
static int apply_context(struct short_term *st, struct record *r, struct state_counters *c,
			 struct short_term_batch *out, struct err *err)
{
	(void)out;
	c->learned++;
	return join_context(st->join, r, err);
}

int short_term_settle(struct short_term *st, struct state *next, struct short_term_batch *out,
		      int64_t now_us, struct err *err)
{
	struct record *r;
	int got, n = 0;
	while ((got = join_next(st->join, now_us, &r, err)) > 0) {
		if (record_outcome(st, r, &next->source[r->source].count, out, err))
			return -1;
		n++;
	}
	join_done(st->join);
	join_end_batch(st->join);
	return got < 0 ? -1 : n;
}

int short_term_join_counts(const struct short_term *st, struct join_counts *c)
{
	join_counts(st->join, c);
	return join_active(st->join);
}

/* An exit row teaches the exit-reason statistics. */
static int apply_exit(struct short_term *st, struct record *r, struct state_counters *c,
		      struct short_term_batch *out, struct err *err)
{
	c->learned++;
	if (weights_learn_exit(st->weights, r, err) < 0)
		return -1;
	return journal_changes(st, out) ? out_of_memory(err) : 0;
}

/* Signals and orders are accepted and counted: the daily job links them to
 * trades, and their prices feed the signal outcomes (apply_record). */
static int apply_counted(struct short_term *st, struct record *r, struct state_counters *c,
			 struct short_term_batch *out, struct err *err)
{
	(void)st, (void)r, (void)out, (void)err;
	c->learned++;
	return 0;
}

/* Records of no kind or an ignored one, should one parse, are counted
 * like signals. */
static const apply_step apply_by_kind[] = {
    [PROFILE_KIND_NONE] = apply_counted,    [PROFILE_KIND_OPEN] = apply_open,
    [PROFILE_KIND_CLOSE] = apply_close,	    [PROFILE_KIND_PARTIAL] = apply_close,
    [PROFILE_KIND_EXIT] = apply_exit,	    [PROFILE_KIND_SIGNAL] = apply_counted,
    [PROFILE_KIND_ORDER] = apply_counted,   [PROFILE_KIND_IGNORE] = apply_counted,
    [PROFILE_KIND_CONTEXT] = apply_context,
};

/* The id status shows for a record: the trade key of a close, else the
 * first id the record has. */
static const char *shown_id(const struct record *r)
{
	if (r->kind == PROFILE_KIND_CLOSE || r->kind == PROFILE_KIND_PARTIAL)
		return r->key;
	if (r->trade_id)
		return r->trade_id;
	if (r->signal_id)
		return r->signal_id;
	if (r->order_id)
		return r->order_id;
	return r->symbol ? r->symbol : "";
}

/* The last record of a source, for status: its time and its id (a long id
 * is cut, at a character boundary); the equity it logged goes to its day. */
static void note_last_record(struct short_term *st, const struct record *r,
			     struct state_counters *c)
{
	if (r->ts > c->last_record_ts)
		c->last_record_ts = r->ts;
	if (isfinite(r->equity) && r->equity > 0 && r->ts != CALENDAR_NONE)
		note_equity(st, r->ts, r->equity);
	jsontext_copy_utf8(c->last_record_id, sizeof c->last_record_id, shown_id(r));
}

/* A record that parsed: the step of its kind, then the observation of its
 * price, which every record with a price and a time is. */
static int apply_record(struct short_term *st, struct record *r, struct state_counters *c,
			struct short_term_batch *out, struct err *err)
{
	size_t kind = (size_t)r->kind;
	apply_step step = kind < sizeof apply_by_kind / sizeof apply_by_kind[0]
			      ? apply_by_kind[kind]
			      : apply_counted;
	note_last_record(st, r, c);
	if (r->kind == PROFILE_KIND_CONTEXT) /* no price to observe; kept by the join */
		return step(st, r, c, out, err);
	int rc = step(st, r, c, out, err);
	if (signals_observe(st->signals, r, err))
		rc = -1;
	return rc;
}

void short_term_parse(const struct profile *p, const struct follow_line *line,
		      struct short_term_parsed *out)
{
	memset(&out->record, 0, sizeof out->record);
	out->line = *line;
	out->reason = NULL;
	out->detail[0] = 0;
	out->status = RECORD_IGNORED;
	if (line->kind != FOLLOW_LINE)
		return;
	out->status = record_parse(p, (enum profile_source_id)line->source, line->data, line->len,
				   &out->record, &out->reason, out->detail, sizeof out->detail);
}

void short_term_parsed_release(struct short_term_parsed *parsed)
{
	record_release(&parsed->record);
}

int short_term_apply_parsed(struct short_term *st, struct short_term_parsed *parsed,
			    struct state_counters *c, struct short_term_batch *out, struct err *err)
{
	const struct follow_line *line = &parsed->line;

	c->read++;
	if (line->kind == FOLLOW_LONG) {
		c->long_lines++;
		c->skipped++;
		return 0;
	}
	if (line->kind == FOLLOW_TAIL) {
		c->tails++;
		c->skipped++;
		return 0;
	}
	switch (parsed->status) {
	case RECORD_QUARANTINE:
		c->quarantined++;
		if (quarantine(out, c, line, parsed->reason, parsed->detail))
			return out_of_memory(err);
		return 0;
	case RECORD_IGNORED:
		c->ignored++;
		c->skipped++;
		return 0;
	case RECORD_OK:
		break;
	}
	state_count_record(c, &parsed->record);
	return apply_record(st, &parsed->record, c, out, err);
}

int short_term_apply(struct short_term *st, const struct follow_line *line,
		     struct state_counters *c, struct short_term_batch *out, struct err *err)
{
	struct short_term_parsed parsed;
	short_term_parse(st->profile, line, &parsed);
	int rc = short_term_apply_parsed(st, &parsed, c, out, err);
	short_term_parsed_release(&parsed);
	return rc;
}

/* Ties on the timestamp keep the smaller first and the larger last, so
 * the result does not depend on the order the sources were read in. */
static void note_equity(struct short_term *st, int64_t ts, double equity)
{
	int32_t day = schedule_local_day(ts);
	size_t i = st->n_equity;
	while (i > 0 && st->equity[i - 1].day > day)
		i--;
	if (i > 0 && st->equity[i - 1].day == day) {
		struct equity_day *e = &st->equity[i - 1];
		if (ts < e->first_ts || (ts == e->first_ts && equity < e->first)) {
			e->first = equity;
			e->first_ts = ts;
		}
		if (ts > e->last_ts || (ts == e->last_ts && equity > e->last)) {
			e->last = equity;
			e->last_ts = ts;
		}
		return;
	}
	if (st->n_equity == EQUITY_DAYS) {
		if (i == 0)
			return; /* older than everything kept */
		memmove(st->equity, st->equity + 1, --st->n_equity * sizeof *st->equity);
		i--;
	}
	memmove(st->equity + i + 1, st->equity + i, (st->n_equity - i) * sizeof *st->equity);
	st->equity[i] = (struct equity_day){day, equity, equity, ts, ts};
	st->n_equity++;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static double number_or_nan(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A position as short_term_save wrote it (formats 2 and 3: format 2 has no
 * entry fields beyond the price). -1 with err when it is not one, or on
 * ENOMEM. */
static int position_load(struct short_term *st, json_t *v, size_t i, struct err *err)
{
	struct record r;
	json_t *opened = json_object_get(v, "opened_at_us");
	memset(&r, 0, sizeof r);
	r.position_id = json_string_value(json_object_get(v, "id"));
	r.symbol = json_string_value(json_object_get(v, "symbol"));
	if (!r.position_id || !r.symbol || !json_is_integer(opened))
		return err_set(err, EINVAL,
			       "open_positions[%zu]: not a position (id, symbol, opened_at_us)", i);
	r.side = (int)json_integer_value(json_object_get(v, "side"));
	r.ts = json_integer_value(opened);
	r.qty = number_or_nan(json_object_get(v, "qty"));
	r.entry_price = number_or_nan(json_object_get(v, "entry_price"));
	r.confidence = number_or_nan(json_object_get(v, "confidence"));
	r.score = number_or_nan(json_object_get(v, "score"));
	r.regime = json_string_value(json_object_get(v, "regime"));
	r.sector = json_string_value(json_object_get(v, "sector"));
	r.timeframe = json_string_value(json_object_get(v, "timeframe"));
	r.session = json_string_value(json_object_get(v, "session"));
	json_t *comp = json_object_get(v, "components");
	r.components = json_is_object(comp) ? comp : NULL;
	json_t *cats = json_object_get(v, "categories");
	r.categories = json_is_object(cats) ? cats : NULL;
	return open_position(st, r.position_id, &r) ? out_of_memory(err) : 0;
}

void short_term_caught_up(struct short_term *st, int source)
{
	if (source == PROFILE_SOURCE_CONTEXT)
		join_caught_up(st->join);
	signals_caught_up(st->signals, source);
}

int short_term_holding(const struct short_term *st, int source)
{
	return signals_holding(st->signals, source);
}

json_t *short_term_save(struct short_term *st, struct err *err)
{
	/* The end of a batch: the signal observations it made ready are
	 * applied before the state is written (lib/signals). */
	if (signals_settle(st->signals, err))
		return NULL;
	json_t *o = json_object(), *arr = json_array();
	int ok = o && arr;
	for (size_t i = 0; i < st->n_pos; i++) {
		const struct position *p = &st->pos[i];
		ok &= 0 ==
		      json_array_append_new(
			  arr,
			  json_pack("{s:s,s:s,s:i,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:O*}", "id",
				    p->id, "symbol", p->symbol, "side", p->side, "opened_at_us",
				    (json_int_t)p->opened_at, "qty", jsontext_real_or_null(p->qty),
				    "entry_price", jsontext_real_or_null(p->entry_price),
				    "confidence", jsontext_real_or_null(p->confidence), "score",
				    jsontext_real_or_null(p->score), "regime",
				    string_or_null(p->regime), "sector", string_or_null(p->sector),
				    "timeframe", string_or_null(p->timeframe), "components",
				    p->components));
		json_t *saved = json_array_get(arr, json_array_size(arr) - 1);
		if (ok && p->session)
			ok &= 0 == json_object_set_new(saved, "session", json_string(p->session));
		if (ok && p->categories)
			ok &= 0 == json_object_set(saved, "categories", p->categories);
	}
	/* Every part or nothing: a part missing from a commit would read as
	 * "start afresh" on the next start. */
	ok &= 0 == json_object_set_new(o, "format", json_integer(3));
	ok &= 0 == json_object_set_new(o, "open_positions", arr);
	ok &= 0 == json_object_set_new(o, "learner", learner_save(st->learner));
	ok &= 0 == json_object_set_new(o, "weights", weights_save(st->weights));
	ok &= 0 == json_object_set_new(o, "signals", signals_save(st->signals));
	json_t *eq = json_array();
	ok &= eq != NULL;
	for (size_t i = 0; i < st->n_equity; i++) {
		const struct equity_day *e = &st->equity[i];
		char day[16];
		schedule_format_day(e->day, day, sizeof day);
		ok &= 0 == json_array_append_new(eq, json_pack("{s:s,s:f,s:f,s:I,s:I}", "day", day,
							       "first", e->first, "last", e->last,
							       "first_us", (json_int_t)e->first_ts,
							       "last_us", (json_int_t)e->last_ts));
	}
	ok &= 0 == json_object_set_new(o, "equity", eq);
	ok &= 0 == json_object_set_new(o, "deployment", json_string(st->deployment));
	if (join_active(st->join))
		ok &= 0 == json_object_set_new(o, "join", join_save(st->join));
	if (!ok) {
		json_decref(o);
		out_of_memory(err);
		return NULL;
	}
	return o;
}

int short_term_load(struct short_term *st, json_t *saved, struct err *err)
{
	json_t *arr = json_object_get(saved, "open_positions"), *v;
	size_t i;
	if (!json_is_array(arr))
		return err_set(err, EINVAL, "open_positions: not an array");
	/* A generation written before the learner existed has none of these:
	 * learning starts from there. */
	v = json_object_get(saved, "learner");
	if (v && learner_load(st->learner, v, err))
		return err_prefix(err, "learner");
	v = json_object_get(saved, "weights");
	if (v && weights_load(st->weights, v, err))
		return -1;
	v = json_object_get(saved, "signals");
	if (v && signals_load(st->signals, v, err))
		return -1;
	/* Absent from generations written before deployments existed. */
	v = json_object_get(saved, "deployment");
	if (v && !json_is_string(v))
		return err_set(err, EINVAL, "deployment: not a string");
	jsontext_copy_utf8(st->deployment, sizeof st->deployment, v ? json_string_value(v) : "");
	/* Absent before the profile had a context source: nothing waits. */
	v = json_object_get(saved, "join");
	if (v && join_active(st->join) && join_load(st->join, v, err))
		return -1;
	st->n_equity = 0;
	json_array_foreach(json_object_get(saved, "equity"), i, v)
	{
		int32_t day;
		const char *d = json_string_value(json_object_get(v, "day"));
		json_t *f = json_object_get(v, "first"), *l = json_object_get(v, "last");
		if (!d || schedule_parse_day(d, &day) || !json_is_number(f) || !json_is_number(l) ||
		    st->n_equity == EQUITY_DAYS)
			return err_set(
			    err, EINVAL,
			    "equity[%zu]: not a day's equity (day, first, last), or more "
			    "than %d days",
			    i, EQUITY_DAYS);
		st->equity[st->n_equity++] =
		    (struct equity_day){day, json_number_value(f), json_number_value(l),
					json_integer_value(json_object_get(v, "first_us")),
					json_integer_value(json_object_get(v, "last_us"))};
	}
	json_array_foreach(arr, i, v)
	{
		if (position_load(st, v, i, err))
			return -1;
	}
	return 0;
}

int short_term_deployment(struct short_term *st, const char *deployment)
{
	if (!deployment || !deployment[0] || strcmp(deployment, st->deployment) == 0)
		return 0;
	learner_reset_drift(st->learner);
	jsontext_copy_utf8(st->deployment, sizeof st->deployment, deployment);
	return 1;
}

const char *short_term_deployment_seen(const struct short_term *st)
{
	return st->deployment;
}

json_t *short_term_positions(const struct short_term *st, int64_t now_us)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n_pos; i++) {
		const struct position *p = &st->pos[i];
		char at[40];
		calendar_format_iso(p->opened_at, at, sizeof at);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:f}", "id", p->id, "symbol",
						     p->symbol, "side",
						     p->side > 0   ? "long"
						     : p->side < 0 ? "short"
								   : "unknown",
						     "opened_at", at, "age_hours",
						     (double)(now_us - p->opened_at) / 3600e6));
	}
	return arr;
}

size_t short_term_open_count(const struct short_term *st)
{
	return st->n_pos;
}

/* Publishes doc (stolen; NULL when building it ran out of memory). */
static int publish_json(const char *dir, const char *name, json_t *doc, struct err *err)
{
	char path[4200];
	size_t len;
	char *text = doc ? jsontext_dump(doc, JSONTEXT_PRETTY, &len) : NULL;
	json_decref(doc);
	if (!text)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int rc = durable_publish(path, text, len, err);
	free(text);
	return rc;
}

int short_term_publish(const struct short_term *st, const char *models_dir, const char *state_dir,
		       struct err *err)
{
	char at[40];
	calendar_format_iso(calendar_now(), at, sizeof at);
	if (publish_json(models_dir, "online.json", learner_export(st->learner, at), err) ||
	    publish_json(state_dir, "signal_weights.json", weights_export_components(st->weights),
			 err) ||
	    publish_json(state_dir, "exit_weights.json", weights_export_exits(st->weights), err) ||
	    publish_json(state_dir, "signal_outcomes.json", signals_export(st->signals), err))
		return -1;
	return 0;
}

void short_term_batch_reset(struct short_term_batch *b)
{
	buf_reset(&b->quarantine);
	b->n_keys = 0;
	buf_reset(&b->weight_log);
}

void short_term_batch_release(struct short_term_batch *b)
{
	buf_release(&b->quarantine);
	free(b->keys);
	b->keys = NULL;
	b->n_keys = b->keys_cap = 0;
	buf_release(&b->weight_log);
}
