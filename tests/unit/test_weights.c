/* weights: multipliers move on evidence, once a trading day, and persist. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"
#include "lib/learn/weights.h"

/* 2026-01-05T14:30:00Z, 09:30 in New York: trading day d starts d days on. */
#define DAY0 INT64_C(1767623400000000)
#define DAY_US (INT64_C(86400) * CALENDAR_US_PER_S)
#define MINUTE_US (INT64_C(60) * CALENDAR_US_PER_S)
#define MAX_CHANGES 4096

static int zone_new_york(void **state)
{
	(void)state;
	return calendar_set_zone("America/New_York");
}

/* A close with nothing but what the weights read. components is borrowed
 * (the caller keeps and releases it), as record_parse borrows from row. */
static struct record closed_trade(int64_t ts, const char *regime, double pnl_usd,
				  json_t *components)
{
	struct record r;
	memset(&r, 0, sizeof r);
	r.kind = PROFILE_KIND_CLOSE;
	r.ts = ts;
	r.entry_ts = CALENDAR_NONE;
	r.regime = regime;
	r.components = components;
	r.pnl_usd = pnl_usd;
	r.pnl_frac = NAN;
	r.hold_minutes = 15;
	r.entry_price = r.exit_price = r.qty = r.confidence = r.score = NAN;
	r.fraction = r.equity = r.price = r.stop_loss = r.take_profit = NAN;
	return r;
}

static struct record exit_row(int64_t ts, const char *reason, double pnl_usd, double hold)
{
	struct record r = closed_trade(ts, NULL, pnl_usd, NULL);
	r.kind = PROFILE_KIND_EXIT;
	r.close_reason = reason;
	r.hold_minutes = hold;
	return r;
}

/*
 * The mixed feed: 20 trades a trading day. Even trades have "good" active
 * and win 7 of 10; odd trades have "bad" active and win 3 of 10: the
 * baseline is exactly 50% at the end of every day. A component is active
 * when above its running mean (which starts at 0): "good" swings between
 * 1 and -1, "bad" between 0 and 2, so each is active in its own trades.
 * "coin" is active in trades 0, 3, 4, 7, … (i % 4 in {0, 3}) and wins
 * exactly 5 of its 10. "idle" is 0 everywhere: never above its mean.
 * Even days are regime "trend", odd days "range".
 */
static int mixed_trade(struct weights *w, int day, int i)
{
	int good = i % 2 == 0, k = i / 2;
	int win = good ? k < 7 : k < 3;
	json_t *c =
	    json_pack("{s:f,s:f,s:f,s:i}", "good", good ? 1.0 : -1.0, "bad", good ? 0.0 : 2.0,
		      "coin", i % 4 == 0 || i % 4 == 3 ? 0.5 : -0.5, "idle", 0);
	struct record r = closed_trade(DAY0 + day * DAY_US + i * MINUTE_US,
				       day % 2 ? "range" : "trend", win ? 12.5 : -10, c);
	int rc = weights_learn_trade(w, &r, NULL);
	json_decref(c);
	assert_true(rc >= 0);
	return rc;
}

/* Changes of (name, regime) among ch[0..n) on day; *last gets the last. */
static int changes_of(const struct weights_change *ch, size_t n, const char *name,
		      const char *regime, const char *day, const struct weights_change **last)
{
	int count = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ch[i].name, name) && !strcmp(ch[i].regime, regime) &&
		    (!day || !strcmp(ch[i].day, day))) {
			count++;
			if (last)
				*last = &ch[i];
		}
	return count;
}

static void day_text(int day, char *buf)
{
	snprintf(buf, 11, "2026-01-%02d", 5 + day);
}

/* ---- the rule ------------------------------------------------------------------ */

struct pair_expectation {
	const char *name, *regime;
	int first_day; /* the first day with min_samples */
	int every;     /* changes every this many days from then */
	double step;   /* +0.05 or -0.05 */
	double final;
};

static const struct pair_expectation mixed_pairs[] = {
    /* 10 samples a day: 30 at the end of day 2, then evidence every day. */
    {"good", "all", 2, 1, +0.05, 1.40},
    {"bad", "all", 2, 1, -0.05, 0.60},
    /* Per regime 10 samples every other day: 30 on day 4 (trend), 5 (range). */
    {"good", "trend", 4, 2, +0.05, 1.15},
    {"good", "range", 5, 2, +0.05, 1.15},
    {"bad", "trend", 4, 2, -0.05, 0.85},
    {"bad", "range", 5, 2, -0.05, 0.85},
};

static void test_evidence_moves_a_multiplier_one_step_per_trading_day(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	static struct weights_change ch[MAX_CHANGES];
	(void)state;
	for (int day = 0; day < 10; day++) {
		char today[11];
		int produced = 0;
		day_text(day, today);
		for (int i = 0; i < 20; i++)
			produced += mixed_trade(w, day, i);
		size_t n = weights_take_changes(w, ch, MAX_CHANGES);
		assert_int_equal((size_t)produced, n);
		for (size_t p = 0; p < sizeof mixed_pairs / sizeof mixed_pairs[0]; p++) {
			const struct pair_expectation *e = &mixed_pairs[p];
			const struct weights_change *c = NULL;
			int want = day >= e->first_day && (day - e->first_day) % e->every == 0;
			int got = changes_of(ch, n, e->name, e->regime, today, &c);
			if (got != want)
				fail_msg("%s/%s on %s: %d changes, expected %d", e->name, e->regime,
					 today, got, want);
			if (c)
				assert_true(fabs(c->new_mult - c->old_mult - e->step) < 1e-9);
		}
		/* Several evidence trades a day, one change: 10 "good" trades
		 * a day all add evidence, yet at most one change per pair. */
		assert_int_equal(changes_of(ch, n, "coin", "all", NULL, NULL), 0);
		assert_int_equal(changes_of(ch, n, "idle", "all", NULL, NULL), 0);
		assert_true(fabs(weights_multiplier(w, "coin") - 1) <= 0.1);
	}
	json_t *ex = weights_export_components(w), *comps = json_object_get(ex, "components");
	for (size_t p = 0; p < sizeof mixed_pairs / sizeof mixed_pairs[0]; p++) {
		const struct pair_expectation *e = &mixed_pairs[p];
		json_t *c = json_object_get(comps, e->name);
		if (strcmp(e->regime, "all"))
			c = json_object_get(json_object_get(c, "regimes"), e->regime);
		assert_true(json_real_value(json_object_get(c, "multiplier")) == e->final);
	}
	assert_true(weights_multiplier(w, "good") == 1.40);
	assert_true(weights_multiplier(w, "bad") == 0.60);
	assert_true(weights_multiplier(w, "coin") == 1.0);
	/* A constant is never above its running mean: listed, never counted. */
	json_t *idle = json_object_get(comps, "idle");
	assert_int_equal(json_integer_value(json_object_get(idle, "samples")), 0);
	assert_true(json_real_value(json_object_get(idle, "multiplier")) == 1.0);
	json_decref(ex);
	weights_free(w);
}

static void test_change_events_carry_old_new_reason_samples_day(void **state)
{
	struct weights_options o;
	struct weights_change ch[64];
	(void)state;
	/* Evidence decay out of the way (a half-life of 10^12 trades), so the
	 * reason shows the plain Wilson interval of 21/30. */
	weights_options_init(&o);
	o.evidence_half_life = 1e12;
	struct weights *w = weights_new(&o, NULL);
	for (int day = 0; day < 3; day++)
		for (int i = 0; i < 20; i++)
			mixed_trade(w, day, i);
	size_t n = weights_take_changes(w, ch, 64);
	const struct weights_change *up = NULL, *down = NULL;
	changes_of(ch, n, "good", "all", NULL, &up);
	changes_of(ch, n, "bad", "all", NULL, &down);
	assert_non_null(up);
	assert_non_null(down);
	assert_string_equal(up->kind, "component");
	assert_string_equal(up->day, "2026-01-07");
	assert_true(up->old_mult == 1.0 && up->new_mult == 1.05);
	assert_int_equal(up->samples, 30);
	/* 21 of 30: Wilson lower bound 0.521 against the baseline 30/59 = 0.508
	 * (the 30th good trade is trade 18 of day 2: 40 trades before, 20 won;
	 * 19 that day, 7 + 3 won). */
	assert_string_equal(up->reason, "wilson_lo 0.521 > baseline 0.508");
	assert_true(down->old_mult == 1.0 && down->new_mult == 0.95);
	assert_int_equal(down->samples, 30);
	assert_string_equal(down->reason, "wilson_hi 0.479 < baseline 0.500");
	/* Drained: nothing left. */
	assert_int_equal(weights_take_changes(w, ch, 64), 0);
	weights_free(w);
}

/*
 * "swing" is active in every other trade. Days 0–1 it wins and the others
 * lose: it rises (30 samples during day 1). Days 2–3 it loses and the
 * others win: by the end of day 3 its rate is back at the baseline (40/80
 * vs 80/160), yet each day's first trade still saw positive evidence (it
 * rose on both). From day 4 both win half: the evidence is neutral and the
 * multiplier walks back to 1, one step a day, and then stays there.
 */
static void test_neutral_evidence_reverts_toward_one_and_stops(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	static struct weights_change ch[MAX_CHANGES];
	static const double expected[] = {1.0, 1.05, 1.10, 1.15, 1.10, 1.05, 1.0, 1.0, 1.0, 1.0};
	(void)state;
	for (int day = 0; day < 10; day++) {
		for (int i = 0; i < 40; i++) {
			int active = i % 2 == 0;
			int win = day < 2 ? active : day < 4 ? !active : (i / 2) % 2 == 0;
			json_t *c = json_pack("{s:f}", "swing", active ? 1.0 : 0.0);
			struct record r =
			    closed_trade(DAY0 + day * DAY_US + i * MINUTE_US, "x", win ? 1 : -1, c);
			assert_true(weights_learn_trade(w, &r, NULL) >= 0);
			json_decref(c);
		}
		size_t n = weights_take_changes(w, ch, MAX_CHANGES);
		const struct weights_change *c = NULL;
		changes_of(ch, n, "swing", "all", NULL, &c);
		if (weights_multiplier(w, "swing") != expected[day])
			fail_msg("day %d: %.17g, expected %.17g", day,
				 weights_multiplier(w, "swing"), expected[day]);
		if (day >= 4 && day <= 6) {
			assert_non_null(c);
			assert_true(strncmp(c->reason, "neutral: revert toward 1", 24) == 0);
		}
		if (day >= 7)
			assert_null(c); /* at 1: nothing */
	}
	weights_free(w);
}

static void test_multipliers_clamp_at_min_and_max_after_many_days(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	static struct weights_change ch[MAX_CHANGES];
	int ace_changes = 0, dud_changes = 0;
	(void)state;
	for (int day = 0; day < 60; day++) {
		for (int i = 0; i < 20; i++) {
			int ace = i % 2 == 0;
			json_t *c =
			    json_pack("{s:f,s:f}", "ace", ace ? 1.0 : 0.0, "dud", ace ? 0.0 : 1.0);
			struct record r = closed_trade(DAY0 + day * DAY_US + i * MINUTE_US, NULL,
						       ace ? 5 : -5, c);
			assert_true(weights_learn_trade(w, &r, NULL) >= 0);
			json_decref(c);
		}
		size_t n = weights_take_changes(w, ch, MAX_CHANGES);
		ace_changes += changes_of(ch, n, "ace", "all", NULL, NULL);
		dud_changes += changes_of(ch, n, "dud", "all", NULL, NULL);
		for (size_t k = 0; k < n; k++)
			assert_true(ch[k].new_mult >= 0.25 && ch[k].new_mult <= 2.5);
	}
	assert_true(weights_multiplier(w, "ace") == 2.5);
	assert_true(weights_multiplier(w, "dud") == 0.25);
	/* 1 → 2.5 is 30 steps, 1 → 0.25 is 15: then no more events. */
	assert_int_equal(ace_changes, 30);
	assert_int_equal(dud_changes, 15);
	/* No regime: the pair is (name, "none"). */
	json_t *ex = weights_export_components(w);
	json_t *none = json_object_get(
	    json_object_get(json_object_get(json_object_get(ex, "components"), "ace"), "regimes"),
	    "none");
	assert_true(json_real_value(json_object_get(none, "multiplier")) == 2.5);
	json_decref(ex);
	weights_free(w);
}

/* ---- trading days ---------------------------------------------------------------- */

static void test_trading_day_is_the_exchange_local_date(void **state)
{
	struct weights_options o;
	struct weights_change ch[16];
	(void)state;
	weights_options_init(&o);
	o.min_samples = 1;
	struct weights *w = weights_new(&o, NULL);
	json_t *on = json_pack("{s:f}", "x", 1.0), *off = json_pack("{s:f}", "x", 0.0);
	/* Ten losses without x: a low baseline. */
	for (int i = 0; i < 10; i++) {
		struct record r = closed_trade(DAY0 + i * MINUTE_US, NULL, -1, off);
		weights_learn_trade(w, &r, NULL);
	}
	static const struct {
		int64_t ts;
		int changes;
		const char *day;
	} steps[] = {
	    /* 2026-01-05T15:00Z = 10:00 New York, Monday the 5th: a change. */
	    {INT64_C(1767625200) * CALENDAR_US_PER_S, 1, "2026-01-05"},
	    /* 2026-01-06T03:00Z = 22:00 on the 5th in New York: same day. */
	    {INT64_C(1767668400) * CALENDAR_US_PER_S, 0, NULL},
	    /* 2026-01-06T04:59:59Z = 23:59:59 on the 5th: same day. */
	    {INT64_C(1767675599) * CALENDAR_US_PER_S, 0, NULL},
	    /* 2026-01-06T05:00Z = midnight, the 6th in New York: a new day. */
	    {INT64_C(1767675600) * CALENDAR_US_PER_S, 1, "2026-01-06"},
	    /* A late row dated the 5th again: on or before the last change. */
	    {INT64_C(1767630000) * CALENDAR_US_PER_S, 0, NULL},
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct record r = closed_trade(steps[i].ts, NULL, 1, on);
		assert_int_equal(weights_learn_trade(w, &r, NULL),
				 steps[i].changes * 2); /* all, none */
		size_t n = weights_take_changes(w, ch, 16);
		if (steps[i].day)
			assert_string_equal(ch[n - 1].day, steps[i].day);
	}
	/* Without a time: statistics, never a multiplier. */
	struct record r = closed_trade(CALENDAR_NONE, NULL, 1, on);
	assert_int_equal(weights_learn_trade(w, &r, NULL), 0);
	json_decref(on);
	json_decref(off);
	weights_free(w);
}

/* ---- state ------------------------------------------------------------------------ */

/* save → compact text → parse → load into a fresh instance. */
static struct weights *reloaded(const struct weights *w)
{
	struct err err = {0};
	json_t *saved = weights_save(w);
	assert_non_null(saved);
	char *text = jsontext_dump(saved, JSONTEXT_COMPACT, NULL);
	assert_non_null(text);
	json_decref(saved);
	json_error_t jerr;
	json_t *parsed = json_loads(text, 0, &jerr);
	assert_non_null(parsed);
	free(text);
	struct weights *copy = weights_new(NULL, NULL);
	if (weights_load(copy, parsed, &err))
		fail_msg("load: %s", err);
	json_decref(parsed);
	return copy;
}

static void assert_same_state(const struct weights *a, const struct weights *b)
{
	json_t *sa = weights_save(a), *sb = weights_save(b);
	assert_true(json_equal(sa, sb));
	json_decref(sa);
	json_decref(sb);
	sa = weights_export_components(a);
	sb = weights_export_components(b);
	assert_true(json_equal(sa, sb));
	json_decref(sa);
	json_decref(sb);
	sa = weights_export_exits(a);
	sb = weights_export_exits(b);
	assert_true(json_equal(sa, sb));
	json_decref(sa);
	json_decref(sb);
}

static int exit_step(struct weights *w, int i)
{
	static const char *reasons[] = {"take_profit", "stop_loss(-1.2%)", "signal_decay(0.23)",
					"signal_decay(0.9)"};
	struct record r = exit_row(DAY0 + i * 17 * MINUTE_US, reasons[i % 4],
				   i % 4 == 0	? 20
				   : i % 4 == 1 ? -15
						: (i % 3 ? 1 : -1),
				   30 + i % 7);
	int rc = weights_learn_exit(w, &r, NULL);
	assert_true(rc >= 0);
	return rc;
}

static void test_once_a_day_limit_survives_save_and_load(void **state)
{
	struct weights *a = weights_new(NULL, NULL), *b = weights_new(NULL, NULL);
	static struct weights_change ca[MAX_CHANGES], cb[MAX_CHANGES];
	(void)state;
	for (int day = 0; day < 3; day++)
		for (int i = 0; i < 20; i++) {
			mixed_trade(a, day, i);
			mixed_trade(b, day, i);
		}
	/* Day 3: the first trade moves "good" (and "bad" on the second). */
	for (int i = 0; i < 2; i++) {
		mixed_trade(a, 3, i);
		mixed_trade(b, 3, i);
	}
	weights_take_changes(a, ca, MAX_CHANGES);
	size_t n = weights_take_changes(b, cb, MAX_CHANGES);
	assert_int_equal(changes_of(cb, n, "good", "all", "2026-01-08", NULL), 1);
	/* Saved mid-day, reloaded: the rest of day 3 changes nothing of it. */
	struct weights *c = reloaded(b);
	weights_free(b);
	b = c;
	assert_same_state(a, b);
	for (int i = 2; i < 20; i++) {
		mixed_trade(a, 3, i);
		mixed_trade(b, 3, i);
	}
	n = weights_take_changes(b, cb, MAX_CHANGES);
	assert_int_equal(changes_of(cb, n, "good", "all", NULL, NULL), 0);
	assert_int_equal(changes_of(cb, n, "bad", "all", NULL, NULL), 0);
	weights_take_changes(a, ca, MAX_CHANGES);
	/* The next day it moves again, in both. */
	mixed_trade(a, 4, 0);
	mixed_trade(b, 4, 0);
	n = weights_take_changes(b, cb, MAX_CHANGES);
	assert_int_equal(changes_of(cb, n, "good", "all", "2026-01-09", NULL), 1);
	assert_int_equal(weights_take_changes(a, ca, MAX_CHANGES), n);
	assert_memory_equal(ca, cb, n * sizeof *ca);
	assert_same_state(a, b);
	weights_free(a);
	weights_free(b);
}

static void test_save_text_load_continue_matches_uninterrupted(void **state)
{
	struct weights *a = weights_new(NULL, NULL), *b = weights_new(NULL, NULL);
	static struct weights_change ca[MAX_CHANGES], cb[MAX_CHANGES];
	(void)state;
	/* Reload b at every point where a day ends and once mid-way through
	 * each day; trades and exits interleaved. */
	for (int day = 0; day < 12; day++) {
		for (int i = 0; i < 20; i++) {
			int ra = mixed_trade(a, day, i) + exit_step(a, day * 20 + i);
			int rb = mixed_trade(b, day, i) + exit_step(b, day * 20 + i);
			assert_int_equal(ra, rb);
			if (i == 9 || i == 19) {
				size_t na = weights_take_changes(a, ca, MAX_CHANGES);
				size_t nb = weights_take_changes(b, cb, MAX_CHANGES);
				assert_int_equal(na, nb);
				assert_memory_equal(ca, cb, na * sizeof *ca);
				struct weights *c = reloaded(b);
				weights_free(b);
				b = c;
			}
		}
	}
	assert_same_state(a, b);
	/* Every double of the state survived the text: saves are equal
	 * bit for bit, not merely close. */
	json_t *sa = weights_save(a), *sb = weights_save(b);
	char *ta = jsontext_dump(sa, JSONTEXT_COMPACT, NULL),
	     *tb = jsontext_dump(sb, JSONTEXT_COMPACT, NULL);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	json_decref(sa);
	json_decref(sb);
	weights_free(a);
	weights_free(b);
}

static void test_load_refuses_bad_state_and_keeps_the_old(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	struct err err = {0};
	(void)state;
	for (int i = 0; i < 20; i++)
		mixed_trade(w, 0, i);
	json_t *before = weights_save(w);
	static const char *bad[] = {
	    "{\"format\": 3}",
	    "[]",
	    "{\"format\": 1}",
	    /* A tally with a field missing. */
	    "{\"format\":1,\"base\":[1,1,0,1.0,1,1.0,1,1.0,1,2.0,1.0,1.0],"
	    "\"exit_base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\"],\"regimes\":[],"
	    "\"components\":[],\"reasons\":[]}",
	    /* A component under a regime that is not listed. */
	    "{\"format\":1,\"base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\"],"
	    "\"exit_base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\"],\"regimes\":[],"
	    "\"components\":[[\"x\",[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\"],"
	    "[[\"trend\",[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\"]]]]],\"reasons\":[]}",
	    /* Format 2: a component without its running mean. */
	    "{\"format\":2,\"base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\",0.0,0.0],"
	    "\"exit_base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\",0.0,0.0],\"regimes\":[],"
	    "\"components\":[[\"x\",[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\",0.0,0.0],[]]],"
	    "\"reasons\":[]}",
	    /* A running mean of negative weight. */
	    "{\"format\":2,\"base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\",0.0,0.0],"
	    "\"exit_base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\",0.0,0.0],\"regimes\":[],"
	    "\"components\":[[\"x\",[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\",0.0,0.0],[],"
	    "[0.5,-1.0]]],\"reasons\":[]}",
	    /* A day that is not a date. */
	    "{\"format\":1,\"base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"monday\"],"
	    "\"exit_base\":[0,0,0,0.0,0,0.0,0,0.0,0,1.0,1.0,1.0,\"\"],\"regimes\":[],"
	    "\"components\":[],\"reasons\":[]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		err_clear(&err);
		assert_int_equal(weights_load(w, j, &err), -1);
		assert_true(strncmp(err.msg, "weights: ", 9) == 0);
		json_decref(j);
		json_t *after = weights_save(w);
		assert_true(json_equal(before, after));
		json_decref(after);
	}
	/* The empty state of a fresh instance loads. */
	struct weights *fresh = weights_new(NULL, NULL);
	json_t *empty = weights_save(fresh);
	assert_int_equal(weights_load(w, empty, &err), 0);
	assert_same_state(w, fresh);
	json_decref(empty);
	json_decref(before);
	weights_free(fresh);
	weights_free(w);
}

/* A state saved before components kept a running mean (format 1: a
 * component is [name, tally, regimes]) loads: its counts and multipliers
 * stay, and each running mean starts again from 0. */
static void test_a_format_1_state_loads_and_its_means_start_afresh(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	struct err err = {0};
	size_t i;
	json_t *v;
	(void)state;
	for (int day = 0; day < 4; day++)
		for (int k = 0; k < 20; k++)
			mixed_trade(w, day, k);
	json_t *saved = weights_save(w);
	assert_int_equal(json_integer_value(json_object_get(saved, "format")), 2);
	json_object_set_new(saved, "format", json_integer(1));
	json_array_foreach(json_object_get(saved, "components"), i, v)
	{
		assert_int_equal(json_array_size(v), 4);
		json_array_remove(v, 3);
	}
	struct weights *old = weights_new(NULL, NULL);
	if (weights_load(old, saved, &err))
		fail_msg("load: %s", err);
	assert_true(weights_multiplier(old, "good") == weights_multiplier(w, "good"));
	assert_true(weights_multiplier(old, "bad") == weights_multiplier(w, "bad"));
	json_t *ex = weights_export_components(old);
	json_t *good = json_object_get(json_object_get(ex, "components"), "good");
	assert_int_equal(json_integer_value(json_object_get(good, "samples")), 40);
	assert_true(json_is_null(json_object_get(good, "running_mean")));
	json_decref(ex);
	/* Learning goes on; saved again, it is format 2 with the means. */
	mixed_trade(old, 4, 0);
	json_t *again = weights_save(old);
	assert_int_equal(json_integer_value(json_object_get(again, "format")), 2);
	json_array_foreach(json_object_get(again, "components"), i, v)
	    assert_int_equal(json_array_size(v), 4);
	json_decref(again);
	json_decref(saved);
	weights_free(old);
	weights_free(w);
}

/* ---- components on any scale --------------------------------------------------- */

/* A deterministic uniform in [0, 1) (xorshift64*). */
static double uniform(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return (double)((*x * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

/*
 * A bot whose components all keep one sign, like the stock bot's: "flow"
 * is always in [1.5, 2.5] and its higher values win more; "trap" is always
 * in [10, 20] and its higher values lose more; "toxicity_penalty" is
 * always <= 0 and a stronger penalty (larger |value|) loses more; "tide"
 * (always positive) and "friction" (always <= 0) say nothing. Active means
 * above the component's own running mean, so each is active in about half
 * the trades whatever its sign: flow rises, trap falls, and the penalty
 * rises too (a milder penalty than usual wins more, so the penalty is
 * worth more weight), while the uninformative two stay near 1.
 */
static void test_components_of_one_sign_learn_from_their_high_and_low_values(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	static struct weights_change ch[MAX_CHANGES];
	uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
	(void)state;
	for (int day = 0; day < 40; day++) {
		for (int i = 0; i < 40; i++) {
			double flow = uniform(&x), trap = uniform(&x), tox = uniform(&x);
			double p =
			    0.5 + 0.25 * (flow - 0.5) - 0.25 * (trap - 0.5) - 0.25 * (tox - 0.5);
			int win = uniform(&x) < p;
			json_t *c =
			    json_pack("{s:f,s:f,s:f,s:f,s:f}", "flow", 1.5 + flow, "trap",
				      10 + 10 * trap, "toxicity_penalty", -0.3 * tox, "tide",
				      5 + 3 * uniform(&x), "friction", -0.2 * uniform(&x));
			struct record r = closed_trade(DAY0 + day * DAY_US + i * MINUTE_US, "x",
						       win ? 10 : -10, c);
			assert_true(weights_learn_trade(w, &r, NULL) >= 0);
			json_decref(c);
		}
		weights_take_changes(w, ch, MAX_CHANGES);
	}
	double flow = weights_multiplier(w, "flow"), trap = weights_multiplier(w, "trap"),
	       tox = weights_multiplier(w, "toxicity_penalty"),
	       tide = weights_multiplier(w, "tide"), friction = weights_multiplier(w, "friction");
	if (!(flow >= 1.25 && trap <= 0.8 && tox >= 1.25 && fabs(tide - 1) <= 0.1 &&
	      fabs(friction - 1) <= 0.1))
		fail_msg("flow %.2f trap %.2f toxicity %.2f tide %.2f friction %.2f", flow, trap,
			 tox, tide, friction);
	/* Each was active in about half its trades. */
	json_t *ex = weights_export_components(w), *comps = json_object_get(ex, "components");
	static const char *names[] = {"flow", "trap", "toxicity_penalty", "tide", "friction"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		json_int_t n = json_integer_value(
		    json_object_get(json_object_get(comps, names[i]), "samples"));
		if (n < 600 || n > 1000)
			fail_msg("%s active in %lld of 1600 trades", names[i], (long long)n);
	}
	json_decref(ex);
	weights_free(w);
}

/* ---- exits ------------------------------------------------------------------------- */

static void test_exit_reasons_group_by_family(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	(void)state;
	static const struct {
		const char *reason;
		double pnl, hold;
	} rows[] = {
	    {"signal_decay(0.23)", 10, 30},
	    {"signal_decay(0.9)", -4, 60},
	    {"signal_decay", 0, NAN}, /* zero is a loss */
	    {"trail_stop(-1.2%)+signal_decay(0.65)", 3, 12},
	    {NULL, -1, 5},
	    {"", NAN, 7}, /* no P&L: counted, not a sample */
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct record r = exit_row(DAY0 + (int64_t)i * MINUTE_US, rows[i].reason,
					   rows[i].pnl, rows[i].hold);
		assert_int_equal(weights_learn_exit(w, &r, NULL), 0);
	}
	json_t *ex = weights_export_exits(w), *reasons = json_object_get(ex, "reasons");
	assert_int_equal(json_integer_value(json_object_get(ex, "format")), 1);
	assert_int_equal(json_object_size(reasons), 3);
	json_t *decay = json_object_get(reasons, "signal_decay");
	assert_int_equal(json_integer_value(json_object_get(decay, "count")), 3);
	assert_int_equal(json_integer_value(json_object_get(decay, "wins")), 1);
	assert_int_equal(json_integer_value(json_object_get(decay, "losses")), 2);
	assert_true(json_real_value(json_object_get(decay, "pnl_usd")) == 6);
	assert_true(json_real_value(json_object_get(decay, "avg_pnl_usd")) == 2);
	assert_true(json_real_value(json_object_get(decay, "avg_hold_minutes")) == 45);
	assert_true(json_real_value(json_object_get(decay, "win_rate")) == 1.0 / 3.0);
	assert_true(json_real_value(json_object_get(decay, "multiplier")) == 1);
	assert_true(json_is_null(json_object_get(decay, "last_change_day")));
	json_t *beta = json_object_get(decay, "beta");
	assert_true(json_real_value(json_object_get(beta, "alpha")) == 2);
	assert_true(json_real_value(json_object_get(beta, "beta")) == 3);
	assert_true(json_real_value(json_object_get(beta, "mean")) == 0.4);
	assert_int_equal(json_array_size(json_object_get(decay, "wilson")), 2);
	assert_non_null(json_object_get(reasons, "trail_stop+signal_decay"));
	json_t *unknown = json_object_get(reasons, "unknown");
	assert_int_equal(json_integer_value(json_object_get(unknown, "count")), 2);
	assert_int_equal(json_integer_value(json_object_get(unknown, "samples")), 1);
	assert_true(json_is_null(json_object_get(json_object_get(reasons, "unknown"), "ewma")) ==
		    0);
	json_t *base = json_object_get(ex, "baseline");
	assert_int_equal(json_integer_value(json_object_get(base, "count")), 6);
	assert_true(json_real_value(json_object_get(base, "win_rate")) == 0.4);
	json_decref(ex);
	weights_free(w);
}

static void test_exit_families_move_against_the_baseline_of_all_exits(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	static struct weights_change ch[MAX_CHANGES];
	int up = 0, down = 0;
	(void)state;
	/* 20 exits a day for 6 days: take_profit wins, stop_loss loses,
	 * signal_decay wins every third (neutral-ish against ~44%). */
	for (int day = 0; day < 6; day++) {
		for (int i = 0; i < 20; i++) {
			const char *reason = i % 3 == 0	  ? "take_profit"
					     : i % 3 == 1 ? "stop_loss(-2%)"
							  : "signal_decay(0.4)";
			double pnl = i % 3 == 0 ? 8 : i % 3 == 1 ? -5 : (i % 4 ? -1 : 1);
			struct record r =
			    exit_row(DAY0 + day * DAY_US + i * MINUTE_US, reason, pnl, 20);
			assert_true(weights_learn_exit(w, &r, NULL) >= 0);
		}
		size_t n = weights_take_changes(w, ch, MAX_CHANGES);
		for (size_t k = 0; k < n; k++) {
			assert_string_equal(ch[k].kind, "exit");
			assert_string_equal(ch[k].regime, "all");
			assert_true(ch[k].samples >= 30);
		}
		int u = changes_of(ch, n, "take_profit", "all", NULL, NULL);
		int d = changes_of(ch, n, "stop_loss", "all", NULL, NULL);
		assert_true(u <= 1 && d <= 1);
		up += u;
		down += d;
	}
	/* 7 a day: 30 samples during day 4 (index 4), then once more on day 5. */
	assert_int_equal(up, 2);
	assert_int_equal(down, 2);
	json_t *ex = weights_export_exits(w), *reasons = json_object_get(ex, "reasons");
	assert_true(json_real_value(json_object_get(json_object_get(reasons, "take_profit"),
						    "multiplier")) == 1.1);
	assert_true(json_real_value(json_object_get(json_object_get(reasons, "stop_loss"),
						    "multiplier")) == 0.9);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(reasons, "take_profit"), "last_change_day")),
			    "2026-01-10");
	json_decref(ex);
	weights_free(w);
}

/* ---- exports and bounds -------------------------------------------------------------- */

static void test_component_export_has_the_documented_fields(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	(void)state;
	for (int day = 0; day < 3; day++)
		for (int i = 0; i < 20; i++)
			mixed_trade(w, day, i);
	json_t *ex = weights_export_components(w);
	assert_int_equal(json_integer_value(json_object_get(ex, "format")), 1);
	json_t *base = json_object_get(ex, "baseline");
	assert_int_equal(json_integer_value(json_object_get(base, "trades")), 60);
	assert_true(json_real_value(json_object_get(base, "win_rate")) == 0.5);
	json_t *good = json_object_get(json_object_get(ex, "components"), "good");
	static const char *fields[] = {"multiplier", "samples",		"wins",	  "losses",
				       "win_rate",   "pnl_usd",		"ewma",	  "beta",
				       "wilson",     "last_change_day", "regimes"};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!json_object_get(good, fields[i]))
			fail_msg("no %s", fields[i]);
	assert_int_equal(json_integer_value(json_object_get(good, "samples")), 30);
	assert_int_equal(json_integer_value(json_object_get(good, "wins")), 21);
	/* 21 × 12.5 − 9 × 10 */
	assert_true(json_real_value(json_object_get(good, "pnl_usd")) == 172.5);
	assert_string_equal(json_string_value(json_object_get(good, "last_change_day")),
			    "2026-01-07");
	json_t *regimes = json_object_get(good, "regimes");
	assert_int_equal(json_object_size(regimes), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(regimes, "trend"), "samples")), 20);
	json_t *wilson = json_object_get(good, "wilson");
	assert_true(fabs(json_real_value(json_array_get(wilson, 0)) - 0.521239) < 1e-6);
	json_decref(ex);
	weights_free(w);
}

static void test_exports_stay_bounded_folding_into_other(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	char name[64], regime[32], reason[64];
	(void)state;
	/* 300 components, 40 regimes, 200 exit families. Values rise from trade
	 * to trade, so every one is above its running mean: active. */
	for (int i = 0; i < 300; i++) {
		json_t *c = json_object();
		snprintf(name, sizeof name, "component_%03d", i);
		json_object_set_new(c, name, json_real(i + 1));
		json_object_set_new(c, "always", json_real(i + 1));
		snprintf(regime, sizeof regime, "regime_%02d", i % 40);
		struct record r = closed_trade(DAY0 + i * MINUTE_US, regime, i % 2 ? 1 : -1, c);
		assert_true(weights_learn_trade(w, &r, NULL) >= 0);
		json_decref(c);
		snprintf(reason, sizeof reason, "reason_%03d(%d)", i % 200, i);
		struct record x = exit_row(DAY0 + i * MINUTE_US, reason, 1, 1);
		assert_true(weights_learn_exit(w, &x, NULL) >= 0);
	}
	json_t *ex = weights_export_components(w), *comps = json_object_get(ex, "components");
	assert_int_equal(json_object_size(comps), WEIGHTS_MAX_COMPONENTS);
	json_t *other = json_object_get(comps, "other");
	/* 255 named slots: component_000 … component_253 and "always" (the
	 * second key of trade 0); component_254 … component_299 fold. */
	assert_int_equal(json_integer_value(json_object_get(other, "samples")), 300 - 254);
	json_t *always = json_object_get(comps, "always");
	assert_int_equal(json_integer_value(json_object_get(always, "samples")), 300);
	assert_int_equal(json_object_size(json_object_get(always, "regimes")), WEIGHTS_MAX_REGIMES);
	assert_non_null(json_object_get(json_object_get(always, "regimes"), "other"));
	/* regime_31 … regime_39 fold: trades 31–39, 71–79, …, 271–279. */
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(always, "regimes"), "other"), "samples")),
	    7 * 9);
	char *text = jsontext_dump(ex, JSONTEXT_PRETTY, NULL);
	assert_true(strlen(text) < 400000);
	free(text);
	json_decref(ex);
	ex = weights_export_exits(w);
	assert_int_equal(json_object_size(json_object_get(ex, "reasons")), WEIGHTS_MAX_REASONS);
	json_t *folded = json_object_get(json_object_get(ex, "reasons"), "other");
	/* reason_127 … reason_199 fold: rows 127–199 (rows 200–299 are
	 * reason_000 … reason_099 again). */
	assert_int_equal(json_integer_value(json_object_get(folded, "count")), 199 - 127 + 1);
	json_decref(ex);
	weights_free(w);
}

static void test_long_names_are_cut_at_a_character_and_still_match(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	char name[301];
	(void)state;
	/* 150 × "é" (2 bytes): cut to 94 bytes, whole characters. */
	for (int i = 0; i < 150; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[300] = '\0';
	for (int i = 0; i < 3; i++) {
		json_t *c = json_object();
		json_object_set_new(c, name, json_real(i + 1)); /* rising: active */
		struct record r = closed_trade(DAY0 + i * MINUTE_US, name, 1, c);
		assert_true(weights_learn_trade(w, &r, NULL) >= 0);
		json_decref(c);
	}
	json_t *ex = weights_export_components(w), *comps = json_object_get(ex, "components");
	assert_int_equal(json_object_size(comps), 1);
	const char *key;
	json_t *v;
	json_object_foreach(comps, key, v)
	{
		assert_int_equal(strlen(key), 94);
		assert_int_equal(json_integer_value(json_object_get(v, "samples")), 3);
		assert_int_equal(json_object_size(json_object_get(v, "regimes")), 1);
	}
	assert_true(weights_multiplier(w, name) == 1);
	json_decref(ex);
	weights_free(w);
}

static void test_trades_without_pnl_teach_nothing_and_options_are_checked(void **state)
{
	struct weights *w = weights_new(NULL, NULL);
	(void)state;
	json_t *c = json_pack("{s:f}", "x", 1.0);
	struct record r = closed_trade(DAY0, NULL, NAN, c);
	assert_int_equal(weights_learn_trade(w, &r, NULL), 0);
	r.pnl_frac = 0.02; /* the fraction stands in for USD */
	assert_int_equal(weights_learn_trade(w, &r, NULL), 0);
	json_decref(c);
	json_t *ex = weights_export_components(w);
	json_t *x = json_object_get(json_object_get(ex, "components"), "x");
	assert_int_equal(json_integer_value(json_object_get(x, "samples")), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "wins")), 1);
	assert_true(json_real_value(json_object_get(x, "pnl_usd")) == 0);
	json_decref(ex);
	weights_free(w);

	struct weights_options o;
	weights_options_init(&o);
	o.min_mult = 1.5;
	assert_null(weights_new(&o, NULL));
	weights_options_init(&o);
	o.step = 0;
	assert_null(weights_new(&o, NULL));
	weights_free(NULL);
}

static void test_extreme_component_values_are_not_readings_and_the_state_saves(void **state)
{
	(void)state;
	struct weights *w = weights_new(NULL, NULL);
	const double values[] = {1.5e308, -1.5e308, 1e101, 0.7};
	assert_non_null(w);
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		json_t *c = json_pack("{s:f}", "wild", values[i]);
		struct record r = closed_trade(1772634600000000LL + (int64_t)i * 60000000, "trend",
					       i % 2 ? -5.0 : 5.0, c);
		assert_true(weights_learn_trade(w, &r, NULL) >= 0);
		json_decref(c);
	}
	struct weights *copy = reloaded(w);
	assert_same_state(w, copy);
	json_t *exported = weights_export_components(w);
	char *text = jsontext_dump(exported, JSONTEXT_COMPACT, NULL);
	assert_non_null(text);
	/* Only 0.7 was a reading: one trade, above the mean it started from. */
	assert_non_null(strstr(text, "\"wild\""));
	assert_non_null(strstr(text, "\"samples\":1,"));
	free(text);
	json_decref(exported);
	weights_free(copy);
	weights_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_evidence_moves_a_multiplier_one_step_per_trading_day),
	    cmocka_unit_test(test_change_events_carry_old_new_reason_samples_day),
	    cmocka_unit_test(test_neutral_evidence_reverts_toward_one_and_stops),
	    cmocka_unit_test(test_multipliers_clamp_at_min_and_max_after_many_days),
	    cmocka_unit_test(test_trading_day_is_the_exchange_local_date),
	    cmocka_unit_test(test_once_a_day_limit_survives_save_and_load),
	    cmocka_unit_test(test_save_text_load_continue_matches_uninterrupted),
	    cmocka_unit_test(test_load_refuses_bad_state_and_keeps_the_old),
	    cmocka_unit_test(test_a_format_1_state_loads_and_its_means_start_afresh),
	    cmocka_unit_test(test_extreme_component_values_are_not_readings_and_the_state_saves),
	    cmocka_unit_test(test_components_of_one_sign_learn_from_their_high_and_low_values),
	    cmocka_unit_test(test_exit_reasons_group_by_family),
	    cmocka_unit_test(test_exit_families_move_against_the_baseline_of_all_exits),
	    cmocka_unit_test(test_component_export_has_the_documented_fields),
	    cmocka_unit_test(test_exports_stay_bounded_folding_into_other),
	    cmocka_unit_test(test_long_names_are_cut_at_a_character_and_still_match),
	    cmocka_unit_test(test_trades_without_pnl_teach_nothing_and_options_are_checked),
	};
	return cmocka_run_group_tests(tests, zone_new_york, NULL);
}
