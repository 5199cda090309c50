/*
 * daily — the post-market job: metrics, breakdowns, knobs, missed
 * opportunities, stale positions, retrain triggers, report files.
 */
#include "jobs/daily/daily.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/hook.h"
#include "lib/store/framelog.h"
#include "lib/base/jsontext.h"
#include "lib/analyze/knobs.h"
#include "lib/learn/learner.h"
#include "lib/ingest/logscan.h"
#include "lib/analyze/metrics.h"
#include "lib/analyze/missed.h"
#include "lib/analyze/postmarket.h"
#include "lib/ingest/record.h"
#include "lib/store/outcome.h"
#include "lib/report/dashboard.h"
#include "lib/report/report_html.h"
#include "lib/base/schedule.h"
#include "lib/store/state.h"

#define REPORT_FORMAT 1
#define KNOBS_FORMAT 1
#define BASELINE_FORMAT 1

/* One outcome, as the job needs it. */
struct trade {
	int64_t entry_us, exit_us;
	int32_t day; /* trading day it belongs to */
	int full;    /* partial == 1 */
	double pnl_usd, pnl_frac, hold_minutes, confidence;
	char symbol[32], regime[32], time_of_day[32], day_of_week[12], reason[48], side[8];
	json_t *categories; /* owned: the outcome's {name: text} (strategy too), or NULL */
};

struct job {
	const struct daily_options *o;
	const struct config *cfg;
	struct err *err; /* never NULL */
	int32_t day;

	struct trade *t;
	size_t n, cap;
	int parse_failures;

	int32_t *days; /* trading days from the first with data to D */
	double *returns;
	size_t n_days;

	json_t *learner_doc; /* the committed learner generation, or NULL */
	struct learner_metrics lm;
	json_t *segments; /* model health per segment, or NULL (not segmented) */
	int have_model;
};

/* Fails the job with code and a message. Returns -1. */
static int fail(struct job *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct job *j, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(j->err, code, "%s", msg);
}

/* Fails the job with the failure a callee reported in e. Returns -1. */
static int pass(struct job *j, const struct err *e)
{
	*j->err = *e;
	errno = e->code;
	return -1;
}

static void copy_text(char *dst, size_t size, json_t *v, const char *fallback)
{
	const char *s = json_string_value(v);
	jsontext_copy_utf8(dst, size, s && *s ? s : fallback);
}

static double num_of(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t time_of(json_t *v)
{
	int64_t us;
	const char *s = json_string_value(v);
	return s && calendar_parse_iso(s, &us) == 0 ? us : CALENDAR_NONE;
}

/* ---- reading the outcomes ---------------------------------------------------------- */

static int add_outcome(void *ctx, const char *line, size_t len, struct err *err)
{
	struct job *j = ctx;
	json_error_t jerr;
	json_t *o = json_loadb(line, len, 0, &jerr);
	struct trade t;

	if (!json_is_object(o)) {
		/* Committed outcomes were written by tradelearn itself; a line
		 * that does not parse is counted and left out, never fatal. */
		j->parse_failures++;
		json_decref(o);
		return 0;
	}
	memset(&t, 0, sizeof t);
	t.exit_us = time_of(json_object_get(o, "exit_ts"));
	t.entry_us = time_of(json_object_get(o, "entry_ts"));
	if (t.exit_us == CALENDAR_NONE) {
		j->parse_failures++;
		json_decref(o);
		return 0;
	}
	t.day = schedule_trading_day_of(&j->cfg->schedule.calendar, t.exit_us);
	if (t.day > j->day) {
		json_decref(o);
		return 0;
	}
	t.full = num_of(json_object_get(o, "partial")) == 1.0;
	t.pnl_usd = num_of(json_object_get(o, "pnl_usd"));
	t.pnl_frac = num_of(json_object_get(o, "pnl_frac"));
	t.hold_minutes = num_of(json_object_get(o, "hold_minutes"));
	t.confidence = num_of(json_object_get(o, "confidence"));
	copy_text(t.symbol, sizeof t.symbol, json_object_get(o, "symbol"), "unknown");
	copy_text(t.regime, sizeof t.regime, json_object_get(o, "regime"), "unknown");
	copy_text(t.time_of_day, sizeof t.time_of_day, json_object_get(o, "time_of_day"),
		  "unknown");
	copy_text(t.day_of_week, sizeof t.day_of_week, json_object_get(o, "day_of_week"),
		  "unknown");
	copy_text(t.reason, sizeof t.reason, json_object_get(o, "close_reason"), "unknown");
	copy_text(t.side, sizeof t.side, json_object_get(o, "side"), "unknown");
	json_t *cats = json_object_get(o, "categories");
	t.categories = json_is_object(cats) && json_object_size(cats) ? json_incref(cats) : NULL;
	json_decref(o);
	if (BUF_ARRAY_GROW(j->t, j->n + 1, j->cap)) {
		json_decref(t.categories);
		return err_set(err, ENOMEM, "out of memory");
	}
	j->t[j->n++] = t;
	return 0;
}

static int trade_cmp(const void *a, const void *b)
{
	const struct trade *x = a, *y = b;
	return (x->exit_us > y->exit_us) - (x->exit_us < y->exit_us);
}

static int read_state(struct job *j)
{
	struct state *st = malloc(sizeof *st);
	struct err derr = {0};
	enum state_origin origin;
	int rc = -1;

	if (!st)
		return fail(j, ENOMEM, "out of memory");
	state_init(st);
	/* A state read from its .prev is the last whole commit: the report is
	 * of what it holds (watch says the rest when it resumes). */
	if (outcome_read_committed(j->o->state_dir, st, &origin, add_outcome, j, NULL, &derr) < 0) {
		pass(j, &derr);
		goto out;
	}
	if (origin == STATE_NONE) {
		rc = 0; /* nothing learned yet: an empty report */
		goto out;
	}
	if (j->n > 1)
		qsort(j->t, j->n, sizeof *j->t, trade_cmp);
	if (state_load_learner(j->o->state_dir, st, &j->learner_doc, &derr)) {
		pass(j, &derr);
		goto out;
	}
	rc = 0;
out:
	free(st);
	return rc;
}

/* The progressive metrics of the committed learner (as status shows them). */
static void read_model(struct job *j)
{
	/* Without a model the report says so (its figures are null): no
	 * reason to fail the day's report. */
	struct learner *l = learner_new(&j->cfg->learner, NULL);
	json_t *saved = json_object_get(j->learner_doc, "learner");
	j->have_model = l && saved && learner_load(l, saved, NULL) == 0;
	if (j->have_model) {
		learner_metrics(l, &j->lm);
		j->segments = learner_segments_health(l);
	}
	learner_free(l);
}

/* ---- days and windows -------------------------------------------------------------- */

static double capital_of(const struct job *j, int32_t day)
{
	return postmarket_capital(json_object_get(j->learner_doc, "equity"), j->cfg->capital_usd,
				  day);
}

static int build_days(struct job *j)
{
	const struct schedule_calendar *cal = &j->cfg->schedule.calendar;
	int32_t first = j->n ? j->t[0].day : j->day;
	for (size_t i = 1; i < j->n; i++)
		if (j->t[i].day < first)
			first = j->t[i].day;
	size_t count = schedule_trading_days_between(cal, first, j->day);
	j->days = calloc(count ? count : 1, sizeof *j->days);
	j->returns = calloc(count ? count : 1, sizeof *j->returns);
	if (!j->days || !j->returns)
		return fail(j, ENOMEM, "out of memory");
	int32_t d =
	    schedule_is_trading_day(cal, first) ? first : schedule_next_trading_day(cal, first);
	for (size_t i = 0; i < count && d != SCHEDULE_NO_DAY && d <= j->day; i++) {
		j->days[j->n_days++] = d;
		d = schedule_next_trading_day(cal, d);
	}
	/* Realized P&L per day, partial closes included, over the capital.
	 * Trades are in exit order and schedule_trading_day_of() never goes back in
	 * time, so one pass walks both lists. */
	size_t k = 0;
	for (size_t i = 0; i < j->n; i++) {
		while (k < j->n_days && j->days[k] < j->t[i].day)
			k++;
		if (k < j->n_days && j->days[k] == j->t[i].day && isfinite(j->t[i].pnl_usd))
			j->returns[k] += j->t[i].pnl_usd;
	}
	for (size_t i = 0; i < j->n_days; i++)
		j->returns[i] /= capital_of(j, j->days[i]);
	return 0;
}

/* The first trading day of a window of `span` trading days ending at D
 * (span 0: all). */
static int32_t window_start(const struct job *j, size_t span)
{
	if (j->n_days == 0)
		return j->day;
	if (span == 0 || span >= j->n_days)
		return j->days[0];
	return j->days[j->n_days - span];
}

/* ---- trade figures ----------------------------------------------------------------- */

typedef int (*trade_filter)(const struct trade *t, const void *arg);

static void trades_metrics(const struct job *j, int32_t from, int32_t to, trade_filter keep,
			   const void *arg, struct metrics_trades *out)
{
	struct metrics_trade *m = malloc((j->n ? j->n : 1) * sizeof *m);
	size_t n = 0;
	if (m) {
		for (size_t i = 0; i < j->n; i++) {
			const struct trade *t = &j->t[i];
			if (!t->full || t->day < from || t->day > to || (keep && !keep(t, arg)))
				continue;
			m[n].pnl_usd = t->pnl_usd;
			m[n].pnl_frac = t->pnl_frac;
			m[n].hold_minutes = t->hold_minutes;
			n++;
		}
	}
	metrics_trades(m, n, out);
	free(m);
}

static json_t *trades_json(const struct metrics_trades *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "count", json_integer(m->count));
	json_object_set_new(o, "wins", json_integer(m->wins));
	json_object_set_new(o, "losses", json_integer(m->losses));
	json_object_set_new(o, "win_rate", jsontext_real_or_null(m->win_rate));
	json_object_set_new(o, "profit_factor", jsontext_real_or_null(m->profit_factor));
	json_object_set_new(o, "expectancy", jsontext_real_or_null(m->expectancy));
	json_object_set_new(o, "payoff_ratio", jsontext_real_or_null(m->payoff_ratio));
	json_object_set_new(o, "avg_win", jsontext_real_or_null(m->avg_win));
	json_object_set_new(o, "avg_loss", jsontext_real_or_null(m->avg_loss));
	json_object_set_new(o, "pnl_usd", jsontext_real_or_null(m->pnl_usd));
	json_object_set_new(o, "avg_hold_minutes", jsontext_real_or_null(m->avg_hold_minutes));
	json_object_set_new(o, "max_consecutive_wins", json_integer(m->max_consecutive_wins));
	json_object_set_new(o, "max_consecutive_losses", json_integer(m->max_consecutive_losses));
	return o;
}

static json_t *returns_json(const struct metrics_returns *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "days", json_integer(r->days));
	json_object_set_new(o, "sharpe", jsontext_real_or_null(r->sharpe));
	json_object_set_new(o, "sortino", jsontext_real_or_null(r->sortino));
	json_object_set_new(o, "max_drawdown", jsontext_real_or_null(r->max_drawdown));
	json_object_set_new(o, "calmar", jsontext_real_or_null(r->calmar));
	json_object_set_new(o, "annual_return", jsontext_real_or_null(r->annual_return));
	json_object_set_new(o, "annual_volatility", jsontext_real_or_null(r->annual_volatility));
	return o;
}

static void window_returns(const struct job *j, size_t span, struct metrics_returns *out)
{
	size_t n = span == 0 || span > j->n_days ? j->n_days : span;
	metrics_returns(j->returns + (j->n_days - n), n, out);
}

/* ---- breakdowns -------------------------------------------------------------------- */

enum dimension {
	DIM_SYMBOL,
	DIM_REGIME,
	DIM_TIME_OF_DAY,
	DIM_DAY_OF_WEEK,
	DIM_CONFIDENCE,
	DIM_EXIT_REASON,
	DIM_SIDE,
	DIM_COUNT
};
static const char *const dimension_names[DIM_COUNT] = {
    "symbol", "regime", "time_of_day", "day_of_week", "confidence", "exit_reason", "side"};

/* Confidence buckets of 0.1: "0.6-0.7"; scores outside [0, 1] by their
 * integer part, so a bot that logs confidence in percent still groups. */
static void confidence_key(double c, char *buf, size_t len)
{
	if (!isfinite(c)) {
		snprintf(buf, len, "unknown");
	} else if (c >= 0 && c <= 1) {
		int b = (int)floor(c * 10);
		if (b > 9)
			b = 9;
		snprintf(buf, len, "%.1f-%.1f", b / 10.0, (b + 1) / 10.0);
	} else {
		snprintf(buf, len, "%.0f", floor(c));
	}
}

static void key_of(const struct trade *t, enum dimension d, char *buf, size_t len)
{
	switch (d) {
	case DIM_SYMBOL:
		snprintf(buf, len, "%s", t->symbol);
		break;
	case DIM_REGIME:
		snprintf(buf, len, "%s", t->regime);
		break;
	case DIM_TIME_OF_DAY:
		snprintf(buf, len, "%s", t->time_of_day);
		break;
	case DIM_DAY_OF_WEEK:
		snprintf(buf, len, "%s", t->day_of_week);
		break;
	case DIM_CONFIDENCE:
		confidence_key(t->confidence, buf, len);
		break;
	case DIM_EXIT_REASON:
		snprintf(buf, len, "%s", t->reason);
		break;
	default:
		snprintf(buf, len, "%s", t->side);
		break;
	}
}

struct key_filter {
	enum dimension d;
	const char *category; /* a category's name: d is not used */
	const char *key;
};

/* A trade's value of a category (the profile's, or strategy). */
static void category_key(const struct trade *t, const char *name, char *buf, size_t len)
{
	const char *v = json_string_value(json_object_get(t->categories, name));
	jsontext_copy_utf8(buf, len, v && *v ? v : "unknown");
}

/* A trade's group in dimension d, or in the category named so. */
static void group_key(const struct trade *t, enum dimension d, const char *category, char *buf,
		      size_t len)
{
	if (category)
		category_key(t, category, buf, len);
	else
		key_of(t, d, buf, len);
}

static int has_key(const struct trade *t, const void *arg)
{
	const struct key_filter *f = arg;
	char k[64];
	group_key(t, f->d, f->category, k, sizeof k);
	return strcmp(k, f->key) == 0;
}

/* One breakdown: {group: trades} over the full closes of the window. */
static json_t *breakdown_json(const struct job *j, int32_t from, int32_t to, enum dimension d,
			      const char *category)
{
	json_t *keys = json_object(), *out = json_object();
	char k[64];
	const char *key;
	json_t *v;
	for (size_t i = 0; i < j->n; i++) {
		if (!j->t[i].full || j->t[i].day < from || j->t[i].day > to)
			continue;
		group_key(&j->t[i], d, category, k, sizeof k);
		json_object_set_new(keys, k, json_true());
	}
	json_object_foreach(keys, key, v)
	{
		struct key_filter f = {d, category, key};
		struct metrics_trades m;
		trades_metrics(j, from, to, has_key, &f, &m);
		json_object_set_new(out, key, trades_json(&m));
	}
	json_decref(keys);
	return out;
}

/* The fixed dimensions, then strategy and each category the trades carry,
 * by name. */
static json_t *breakdowns_json(const struct job *j, int32_t from, int32_t to)
{
	json_t *all = json_object(), *names = json_object();
	const char *name;
	json_t *v;
	for (int d = 0; d < DIM_COUNT; d++)
		json_object_set_new(all, dimension_names[d],
				    breakdown_json(j, from, to, (enum dimension)d, NULL));
	for (size_t i = 0; i < j->n; i++)
		if (json_object_get(j->t[i].categories, "strategy"))
			json_object_set(names, "strategy", json_true());
	for (size_t i = 0; i < j->n; i++)
		json_object_foreach(j->t[i].categories, name, v)
		    json_object_set(names, name, json_true());
	json_object_foreach(names, name, v)
	    json_object_set_new(all, name, breakdown_json(j, from, to, DIM_COUNT, name));
	json_decref(names);
	return all;
}

/* ---- model, charts ----------------------------------------------------------------- */

static json_t *model_json(const struct job *j)
{
	const struct learner_metrics *m = &j->lm;
	json_t *o = json_object();
	json_object_set_new(o, "trades_scored", json_integer(j->have_model ? m->trades_scored : 0));
	json_object_set_new(o, "log_loss",
			    jsontext_real_or_null(j->have_model ? m->log_loss : NAN));
	json_object_set_new(o, "auc", jsontext_real_or_null(j->have_model ? m->auc : NAN));
	json_object_set_new(o, "brier", jsontext_real_or_null(j->have_model ? m->brier : NAN));
	json_object_set_new(o, "ece", jsontext_real_or_null(j->have_model ? m->ece : NAN));
	json_object_set_new(o, "accuracy",
			    jsontext_real_or_null(j->have_model ? m->accuracy : NAN));
	json_object_set_new(o, "window_accuracy",
			    jsontext_real_or_null(j->have_model ? m->window_accuracy : NAN));
	json_object_set_new(o, "drift_page_hinkley",
			    jsontext_real_or_null(j->have_model ? m->drift_ph : NAN));
	if (j->segments)
		json_object_set_new(o, "segments", json_incref(j->segments));
	return o;
}

static json_t *charts_json(const struct job *j, int32_t from30)
{
	json_t *c = json_object(), *eq = json_array(), *dd = json_array(), *hours = json_array(),
	       *cal = json_array();
	double equity = 1, peak = 1;
	char date[16];
	for (size_t i = 0; i < j->n_days; i++) {
		equity *= 1 + j->returns[i];
		if (equity > peak)
			peak = equity;
		schedule_format_day(j->days[i], date, sizeof date);
		json_array_append_new(eq, json_pack("{s:s,s:o}", "date", date, "equity",
						    jsontext_real_or_null(equity)));
		json_array_append_new(
		    dd, json_pack("{s:s,s:o}", "date", date, "drawdown",
				  jsontext_real_or_null(peak > 0 ? equity / peak - 1 : NAN)));
	}
	long trades[24] = {0}, wins[24] = {0};
	for (size_t i = 0; i < j->n; i++) {
		const struct trade *t = &j->t[i];
		if (!t->full || t->day < from30 || t->day > j->day || !isfinite(t->pnl_usd))
			continue;
		struct calendar_local lt;
		calendar_local(t->entry_us != CALENDAR_NONE ? t->entry_us : t->exit_us, &lt);
		trades[lt.hour]++;
		wins[lt.hour] += t->pnl_usd > 0;
	}
	for (int h = 0; h < 24; h++)
		if (trades[h])
			json_array_append_new(hours, json_pack("{s:i,s:I,s:I}", "hour", h, "trades",
							       (json_int_t)trades[h], "wins",
							       (json_int_t)wins[h]));
	for (int b = 0; b < LEARNER_CALIBRATION_BUCKETS; b++) {
		long n = j->have_model ? j->lm.calibration_count[b] : 0;
		json_array_append_new(
		    cal, json_pack("{s:f,s:f,s:I,s:o,s:o}", "lo", b / 10.0, "hi", (b + 1) / 10.0,
				   "n", (json_int_t)n, "mean_predicted",
				   jsontext_real_or_null(n ? j->lm.calibration_pred[b] : NAN),
				   "observed",
				   jsontext_real_or_null(n ? j->lm.calibration_obs[b] : NAN)));
	}
	json_object_set_new(c, "equity", eq);
	json_object_set_new(c, "drawdown", dd);
	json_object_set_new(c, "win_rate_by_hour", hours);
	json_object_set_new(c, "calibration", cal);
	return c;
}

/* ---- files ------------------------------------------------------------------------- */

static int write_json(struct job *j, const char *path, json_t *v)
{
	size_t len;
	char *text = jsontext_dump(v, 0, &len);
	if (!text)
		return fail(j, ENOMEM, "out of memory");
	/* A newline at the end: these are files people cat. */
	char *nl = realloc(text, len + 2);
	if (!nl) {
		free(text);
		return fail(j, ENOMEM, "out of memory");
	}
	nl[len++] = '\n';
	nl[len] = 0;
	int rc = durable_replace(path, nl, len, j->err);
	free(nl);
	return rc;
}

static int append_lines(struct job *j, const char *path, json_t *lines)
{
	size_t i;
	json_t *v;
	int rc = 0;
	if (!json_array_size(lines))
		return 0;
	int fd = durable_open_append(path, j->err);
	if (fd < 0)
		return -1;
	json_array_foreach(lines, i, v)
	{
		size_t len;
		char *text = jsontext_dump(v, JSONTEXT_COMPACT, &len);
		if (!text) {
			rc = fail(j, ENOMEM, "out of memory");
			break;
		}
		text[len] = '\n'; /* replaces the NUL; written by length */
		rc = durable_write_all(fd, text, len + 1, j->err);
		free(text);
		if (rc)
			break;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = err_fail(j->err, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* ---- knobs ------------------------------------------------------------------------- */

/* Exit-reason families: which closes were stops, targets, time exits. */
static int reason_has(const char *reason, const char *const *words)
{
	for (; *words; words++)
		if (strstr(reason, *words))
			return 1;
	return 0;
}
static const char *const stop_words[] = {"stop", NULL};
static const char *const target_words[] = {"target", "take_profit", "profit_take", "tp", NULL};
static const char *const time_words[] = {"time", "eod", "end_of_day", "expire", "max_hold", NULL};

static void knob_inputs(const struct job *j, const struct metrics_trades *day,
			const struct metrics_trades *w7, const struct metrics_returns *r7,
			double missed_pnl, struct knobs_inputs *in)
{
	int32_t from7 = window_start(j, 7);
	long closes = 0, stops = 0, targets = 0, times = 0, streak = 0;
	knobs_inputs_init(in);
	in->win_rate = day->win_rate;
	in->trades_day = day->count;
	in->win_rate_7d = w7->win_rate;
	in->profit_factor_7d = w7->profit_factor;
	in->expectancy_7d = w7->expectancy;
	in->avg_hold_minutes_7d = w7->avg_hold_minutes;
	in->trades_7d = w7->count;
	in->sharpe_7d = r7->sharpe;
	in->missed_pnl_day = missed_pnl;
	for (size_t i = 0; i < j->n; i++) {
		const struct trade *t = &j->t[i];
		if (!t->full || t->day < from7 || t->day > j->day)
			continue;
		double pnl = isfinite(t->pnl_usd) ? t->pnl_usd : t->pnl_frac;
		if (!isfinite(pnl))
			continue;
		closes++;
		stops += reason_has(t->reason, stop_words);
		targets += reason_has(t->reason, target_words);
		times += reason_has(t->reason, time_words);
		streak = pnl > 0 ? 0 : streak + 1;
	}
	if (closes) {
		in->stop_exit_share_7d = (double)stops / (double)closes;
		in->target_exit_share_7d = (double)targets / (double)closes;
		in->time_exit_share_7d = (double)times / (double)closes;
	}
	in->loss_streak = streak;
}

/* A knob's value as state/knobs.json writes it: integer knobs as JSON
 * integers, so the report and the file agree (a value someone left
 * fractional in the file stays as it was, for "previous"). */
static json_t *knob_value(const struct knobs_def *k, double v)
{
	if (k->integer && isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return jsontext_real_or_null(v);
}

static int profile_keeps_knob(const void *ctx, const char *name)
{
	return profile_has_knob(ctx, name);
}

/* A time of knobs.json: microseconds, or null (CALENDAR_NONE). */
static int64_t evidence_of(json_t *saved, const char *key)
{
	json_t *v = json_object_get(saved, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : CALENDAR_NONE;
}

static json_t *evidence_json(int64_t us)
{
	return us == CALENDAR_NONE ? json_null() : json_integer((json_int_t)us);
}

/* Moves the knobs once per day, and only on evidence they have not moved on:
 * a day without a closed trade newer than those the last adjustment saw
 * moves nothing. Only the knobs the profile lists are kept. Returns the
 * report's "knobs" object. */
static json_t *adjust_knobs(struct job *j, const struct knobs_inputs *in)
{
	char path[4400], day[16], as_of[16] = "";
	struct knobs_table *t = malloc(sizeof *t);
	double cur[KNOBS_MAX], before[KNOBS_MAX];
	struct knob_change ch[KNOBS_MAX];
	json_t *saved = NULL, *out = NULL, *journal = NULL;
	json_error_t jerr;

	if (!t) {
		fail(j, ENOMEM, "out of memory");
		return NULL;
	}
	knobs_table_init(t);
	if (knobs_table_from_json(t, j->cfg->knobs, j->cfg->knob_rules, j->err)) {
		err_prefix(j->err, "knobs");
		goto done;
	}
	knobs_table_keep(t, profile_keeps_knob, j->o->profile);
	int64_t newest = CALENDAR_NONE;
	for (size_t i = 0; i < j->n; i++)
		if (j->t[i].day <= j->day && j->t[i].exit_us > newest)
			newest = j->t[i].exit_us;
	schedule_format_day(j->day, day, sizeof day);
	snprintf(path, sizeof path, "%s/knobs.json", j->o->state_dir);
	saved = json_load_file(path, 0, &jerr);
	if (!saved && access(path, F_OK) == 0) {
		fail(j, EBADMSG, "%s:%d: %s", path, jerr.line, jerr.text);
		goto done;
	}
	for (size_t i = 0; i < t->n_knobs; i++)
		cur[i] = before[i] = NAN;
	if (saved) {
		const char *a = json_string_value(json_object_get(saved, "as_of"));
		snprintf(as_of, sizeof as_of, "%s", a ? a : "");
		json_t *values = json_object_get(saved, "values");
		json_t *prior = json_object_get(saved, "before");
		if (knobs_values_from_json(t, values, cur, j->err) ||
		    (prior && knobs_values_from_json(t, prior, before, j->err))) {
			err_prefix(j->err, "%s", path);
			goto done;
		}
	}
	out = json_object();
	int cmp = as_of[0] ? strcmp(day, as_of) : 1;
	if (cmp < 0) {
		/* Knobs already moved for a later day: report them as they are. */
		for (size_t i = 0; i < t->n_knobs; i++) {
			double v = isfinite(cur[i]) ? cur[i] : t->knobs[i].value;
			json_object_set_new(out, t->knobs[i].name,
					    json_pack("{s:o,s:o,s:n}", "value",
						      knob_value(&t->knobs[i], v), "previous",
						      knob_value(&t->knobs[i], v), "reason"));
		}
		goto done;
	}
	/* A re-run for the same day starts again from the values before it,
	 * and from the evidence they had seen. */
	int rerun = cmp == 0 && json_object_get(saved, "before");
	const double *from = rerun ? before : cur;
	double start[KNOBS_MAX], now[KNOBS_MAX];
	for (size_t i = 0; i < t->n_knobs; i++)
		start[i] = isfinite(from[i]) ? from[i] : t->knobs[i].value;
	/* A file written before the evidence was kept has none: its next day
	 * counts as new evidence. */
	int64_t seen = evidence_of(saved, rerun ? "evidence_before_us" : "evidence_through_us");
	int known =
	    saved && json_object_get(saved, rerun ? "evidence_before_us" : "evidence_through_us");
	int stale = known && (newest == CALENDAR_NONE || (seen != CALENDAR_NONE && newest <= seen));
	if (stale) {
		memset(ch, 0, sizeof ch);
		for (size_t i = 0; i < t->n_knobs; i++) {
			snprintf(ch[i].name, sizeof ch[i].name, "%s", t->knobs[i].name);
			ch[i].integer = t->knobs[i].integer;
			ch[i].previous = ch[i].value = start[i];
		}
	} else {
		knobs_evaluate(t, start, in, ch);
	}
	journal = json_array();
	for (size_t i = 0; i < t->n_knobs; i++) {
		now[i] = ch[i].value;
		json_object_set_new(
		    out, t->knobs[i].name,
		    json_pack("{s:o,s:o,s:o}", "value", knob_value(&t->knobs[i], ch[i].value),
			      "previous", knob_value(&t->knobs[i], ch[i].previous), "reason",
			      ch[i].changed ? json_string(ch[i].reason) : json_null()));
		if (ch[i].changed) {
			json_t *line = knobs_change_json(&ch[i]);
			json_object_set_new(line, "day", json_string(day));
			json_array_append_new(journal, line);
		}
	}
	json_t *doc =
	    json_pack("{s:i,s:s,s:o,s:o,s:o,s:o}", "format", KNOBS_FORMAT, "as_of", day, "values",
		      knobs_values_json(t, now), "before", knobs_values_json(t, start),
		      "evidence_through_us", evidence_json(stale ? seen : newest),
		      "evidence_before_us", evidence_json(known ? seen : CALENDAR_NONE));
	int rc = write_json(j, path, doc);
	json_decref(doc);
	/* The journal gets the day's changes once: a re-run of the same day
	 * finds them there (written after knobs.json, so a crash between
	 * the two re-journals nothing twice and loses at most the lines). */
	if (rc == 0 && cmp != 0) {
		snprintf(path, sizeof path, "%s/knob_adjustments.jsonl", j->o->state_dir);
		rc = append_lines(j, path, journal);
	}
	if (rc) {
		json_decref(out);
		out = NULL;
	}
done:
	json_decref(journal);
	json_decref(saved);
	free(t);
	return out;
}

/* ---- missed opportunities ---------------------------------------------------------- */

struct day_records {
	struct job *j;
	enum profile_source_id source;
	int64_t from_us, close_us;
	int64_t until_us; /* records from here on are left out (close_us, or sooner) */
	struct missed_signal *sig;
	size_t n_sig, cap_sig;
	struct missed_price *px;
	size_t n_px, cap_px;
	struct missed_activity *act;
	size_t n_act, cap_act;
	int oom;
};

static void add_price(struct day_records *d, int64_t ts, const char *symbol, double price)
{
	if (!(price > 0) || !isfinite(price) || ts == CALENDAR_NONE)
		return;
	if (BUF_ARRAY_GROW(d->px, d->n_px + 1, d->cap_px)) {
		d->oom = 1;
		return;
	}
	struct missed_price *p = &d->px[d->n_px++];
	p->ts = ts;
	jsontext_copy_utf8(p->symbol, sizeof p->symbol, symbol);
	p->price = price;
}

static int day_line(void *ctx, const char *line, size_t len, uint64_t offset, int complete)
{
	struct day_records *d = ctx;
	struct record r;
	const char *reason;
	char detail[64];
	(void)offset;
	if (!complete || len > d->j->cfg->max_line_bytes)
		return 0;
	if (record_parse(d->j->o->profile, d->source, line, len, &r, &reason, detail,
			 sizeof detail) == RECORD_OK &&
	    r.symbol && r.ts != CALENDAR_NONE && r.ts >= d->from_us && r.ts < d->close_us &&
	    r.ts < d->until_us) {
		switch (r.kind) {
		case PROFILE_KIND_SIGNAL:
			add_price(d, r.ts, r.symbol, r.price);
			if (BUF_ARRAY_GROW(d->sig, d->n_sig + 1, d->cap_sig)) {
				d->oom = 1;
				break;
			}
			struct missed_signal *s = &d->sig[d->n_sig++];
			memset(s, 0, sizeof *s);
			s->ts = r.ts;
			jsontext_copy_utf8(s->symbol, sizeof s->symbol, r.symbol);
			s->side = r.side;
			s->confidence = r.confidence;
			s->score = r.score;
			s->price = r.price;
			jsontext_copy_utf8(s->reason, sizeof s->reason, r.reason ? r.reason : "");
			s->traded = r.traded;
			break;
		case PROFILE_KIND_ORDER:
		case PROFILE_KIND_OPEN:
			if (BUF_ARRAY_GROW(d->act, d->n_act + 1, d->cap_act)) {
				d->oom = 1;
				break;
			}
			d->act[d->n_act].ts = r.ts;
			jsontext_copy_utf8(d->act[d->n_act].symbol, sizeof d->act[0].symbol,
					   r.symbol);
			d->n_act++;
			add_price(d, r.ts, r.symbol, isfinite(r.price) ? r.price : r.entry_price);
			break;
		case PROFILE_KIND_CLOSE:
		case PROFILE_KIND_PARTIAL:
			add_price(d, r.ts, r.symbol, r.exit_price);
			break;
		default:
			add_price(d, r.ts, r.symbol, r.price);
			break;
		}
	}
	record_release(&r);
	return d->oom ? -1 : 0;
}

/* Does the missed-signals file already hold lines of this day? */
struct day_probe {
	const char *day;
	int found;
};

static int probe_line(void *ctx, const char *line, size_t len)
{
	struct day_probe *p = ctx;
	char needle[40];
	snprintf(needle, sizeof needle, "\"day\":\"%s\"", p->day);
	if (memmem(line, len, needle, strlen(needle))) {
		p->found = 1;
		return 1;
	}
	return 0;
}

/* The day's records of source s from the entries backfill named. 0, or -1
 * on ENOMEM (d.oom); an unreadable entry loses its prices, not the report. */
static int read_day_entries(struct job *j, struct day_records *d, int s)
{
	for (size_t i = 0; i < j->o->n_day_entries[s] && !d->oom; i++) {
		struct err derr = {0};
		struct logscan_line line;
		struct logscan_reader *r =
		    logscan_open_entry(&j->o->day_entries[s][i], j->cfg->max_line_bytes, &derr);
		while (r && !d->oom && logscan_next(r, &line, &derr) > 0)
			if (line.kind == LOGSCAN_LINE)
				day_line(d, line.data, line.len, line.offset, 1);
		logscan_close(r);
	}
	return d->oom ? -1 : 0;
}

static json_t *find_missed(struct job *j)
{
	struct day_records d = {.j = j};
	struct err derr = {0};
	struct missed_result *res = NULL;
	struct missed_summary sum;
	size_t n_res = 0;
	json_t *summary = NULL;
	char day[16], path[4400];

	schedule_format_day(j->day, day, sizeof day);
	d.from_us = schedule_local_instant(j->day, 0);
	d.close_us = schedule_local_instant(j->day + 1, 0);
	d.until_us = j->o->records_until_us ? j->o->records_until_us : d.close_us;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct logscan_file *files;
		size_t n;
		d.source = (enum profile_source_id)s;
		if (!j->o->profile->source[s].file[0])
			continue;
		if (j->o->day_entries[s]) {
			if (read_day_entries(j, &d, s))
				break;
			continue;
		}
		if (logscan_list(j->o->logs_dir, j->o->profile->source[s].file, &files, &n, j->err))
			return NULL;
		for (size_t i = 0; i < n; i++) {
			/* A file last written before the day began holds none
			 * of its records. */
			if ((int64_t)files[i].st.st_mtim.tv_sec * CALENDAR_US_PER_S < d.from_us)
				continue;
			if (logscan_read(files[i].path, j->cfg->max_line_bytes, day_line, &d,
					 &derr) &&
			    !d.oom) {
				/* An unreadable rotation loses its prices, not the report. */
				continue;
			}
			if (d.oom)
				break;
		}
		free(files);
	}
	if (d.oom) {
		fail(j, ENOMEM, "out of memory reading the day's records");
		goto out;
	}
	if (missed_find(d.sig, d.n_sig, d.px, d.n_px, d.act, d.n_act, d.close_us,
			&j->cfg->daily.missed, &res, &n_res, &sum, j->err)) {
		err_prefix(j->err, "missed opportunities");
		goto out;
	}
	summary = missed_summary_json(&sum);
	/* Appended once per day: a re-run finds the day in the file. */
	snprintf(path, sizeof path, "%s/missed_signals.jsonl.zst", j->o->state_dir);
	struct day_probe probe = {day, 0};
	uint64_t valid = 0;
	if (framelog_read(path, UINT64_MAX, probe_line, &probe, &valid, j->err) < 0)
		goto fail_summary;
	if (!probe.found && n_res) {
		uint64_t actual;
		/* A frame cut by a crash is dropped before appending. */
		if (durable_cut_back(path, valid, &actual, &derr) && derr.code != ENOENT) {
			pass(j, &derr);
			goto fail_summary;
		}
		struct framelog *log = framelog_new(path, 0, j->err);
		if (!log)
			goto fail_summary;
		int rc = 0;
		for (size_t i = 0; i < n_res && rc == 0; i++) {
			json_t *line = missed_result_json(&d.sig[res[i].index], &res[i]);
			char *text = line ? (json_object_set_new(line, "day", json_string(day)),
					     jsontext_dump(line, JSONTEXT_COMPACT, NULL))
					  : NULL;
			rc = text ? framelog_add(log, text, strlen(text), j->err)
				  : err_set(j->err, ENOMEM, "out of memory");
			free(text);
			json_decref(line);
		}
		if (rc || framelog_flush(log, j->err)) {
			framelog_free(log);
			err_prefix(j->err, "%s", path);
			goto fail_summary;
		}
		framelog_free(log);
	}
	goto out;
fail_summary:
	json_decref(summary);
	summary = NULL;
out:
	free(res);
	free(d.sig);
	free(d.px);
	free(d.act);
	return summary;
}

/* ---- stale positions, retrain triggers --------------------------------------------- */

static json_t *stale_positions(const struct job *j)
{
	json_t *out = json_array(), *v;
	size_t i;
	int64_t ref = schedule_local_instant(j->day + 1, 0);
	if (j->o->now_us < ref)
		ref = j->o->now_us;
	json_array_foreach(json_object_get(j->learner_doc, "open_positions"), i, v)
	{
		int64_t at = json_integer_value(json_object_get(v, "opened_at_us"));
		double age = (double)(ref - at) / 3600e6;
		if (at <= 0 || at > ref || age < j->cfg->daily.stale_hours)
			continue;
		char iso[40];
		calendar_format_iso(at, iso, sizeof iso);
		json_array_append_new(out, json_pack("{s:O,s:s,s:f}", "symbol",
						     json_object_get(v, "symbol"), "opened_at", iso,
						     "age_hours", round(age * 100) / 100));
	}
	return out;
}

/* Signals resolved so far: SUCCESS / (SUCCESS + FAILURE), and how many. */
static double success_rate(const struct job *j, long *resolved)
{
	char path[4400];
	json_error_t jerr;
	long ok = 0, bad = 0;
	const char *k;
	json_t *v;
	snprintf(path, sizeof path, "%s/signal_outcomes.json", j->o->state_dir);
	json_t *doc = json_load_file(path, 0, &jerr);
	json_object_foreach(json_object_get(doc, "by_symbol"), k, v)
	{
		ok += (long)json_integer_value(json_object_get(v, "success"));
		bad += (long)json_integer_value(json_object_get(v, "failure"));
	}
	json_decref(doc);
	*resolved = ok + bad;
	return ok + bad ? (double)ok / (double)(ok + bad) : NAN;
}

static json_t *retrain_json(struct job *j, const struct metrics_trades *all,
			    const struct metrics_trades *w7, const struct metrics_returns *r7,
			    json_t **baseline_out)
{
	const struct config *c = j->cfg;
	char path[4400], reason[300], day[16];
	json_error_t jerr;
	json_t *reasons = json_array();
	schedule_format_day(j->day, day, sizeof day);
	snprintf(path, sizeof path, "%s/baseline_performance.json", j->o->state_dir);
	json_t *base = json_load_file(path, 0, &jerr);
	if (!json_is_object(base)) {
		/* No deployment yet: today's all-time figures are the baseline
		 * the next days are compared with. */
		json_decref(base);
		base = json_pack("{s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:n}", "format", BASELINE_FORMAT,
				 "set_for_day", day, "source", "first daily report", "win_rate",
				 jsontext_real_or_null(all->win_rate), "accuracy",
				 jsontext_real_or_null(j->have_model ? j->lm.accuracy : NAN),
				 "profit_factor", jsontext_real_or_null(all->profit_factor),
				 "sharpe_7d", jsontext_real_or_null(r7->sharpe), "last_retrain");
		if (write_json(j, path, base)) {
			json_decref(base);
			json_decref(reasons);
			return NULL;
		}
	}
	double b_win = num_of(json_object_get(base, "win_rate"));
	double b_acc = num_of(json_object_get(base, "accuracy"));
	double b_pf = num_of(json_object_get(base, "profit_factor"));
	int enough = w7->count >= c->daily.min_trades;

	if (enough && isfinite(b_win) && w7->win_rate < b_win - c->daily.win_rate_drop) {
		snprintf(reason, sizeof reason,
			 "win rate %.1f%% over 7 days is more than %.0f points below the baseline "
			 "%.1f%%",
			 100 * w7->win_rate, 100 * c->daily.win_rate_drop, 100 * b_win);
		json_array_append_new(reasons, json_string(reason));
	}
	if (j->have_model && j->lm.window_trades >= c->daily.min_trades && isfinite(b_acc) &&
	    j->lm.window_accuracy < b_acc - c->daily.accuracy_drop) {
		snprintf(reason, sizeof reason,
			 "model accuracy %.1f%% over the last %ld trades is more than %.0f points "
			 "below the baseline %.1f%%",
			 100 * j->lm.window_accuracy, j->lm.window_trades,
			 100 * c->daily.accuracy_drop, 100 * b_acc);
		json_array_append_new(reasons, json_string(reason));
	}
	if (enough && isfinite(b_pf) && b_pf > c->daily.profit_factor_baseline &&
	    isfinite(w7->profit_factor) && w7->profit_factor < c->daily.profit_factor_floor) {
		snprintf(reason, sizeof reason,
			 "profit factor %.2f over 7 days fell below %.2f from a baseline of %.2f",
			 w7->profit_factor, c->daily.profit_factor_floor, b_pf);
		json_array_append_new(reasons, json_string(reason));
	}
	const char *last = json_string_value(json_object_get(base, "last_retrain"));
	int32_t last_day;
	if (!last || schedule_parse_day(last, &last_day))
		last_day = j->n_days ? j->days[0] : j->day;
	if (j->n && j->day - last_day >= c->daily.retrain_after_days) {
		snprintf(reason, sizeof reason, "%d days since %s", (int)(j->day - last_day),
			 last ? "the last retrain"
			      : "the first trading day with data, and no retrain yet");
		json_array_append_new(reasons, json_string(reason));
	}
	if (enough && isfinite(r7->sharpe) && r7->sharpe < c->daily.sharpe_7d_floor) {
		snprintf(reason, sizeof reason, "7-day Sharpe %.2f is below %.2f", r7->sharpe,
			 c->daily.sharpe_7d_floor);
		json_array_append_new(reasons, json_string(reason));
	}
	long resolved;
	double sr = success_rate(j, &resolved);
	if (resolved >= c->daily.min_trades && sr < c->daily.success_rate_floor) {
		snprintf(reason, sizeof reason,
			 "signal success rate %.1f%% (%ld resolved) is below %.0f%%", 100 * sr,
			 resolved, 100 * c->daily.success_rate_floor);
		json_array_append_new(reasons, json_string(reason));
	}
	/* The learned state's drift detector is reset at the first commit
	 * after a deployment: until watch has made it, it still measures the
	 * model deployed before. */
	const char *seen = json_string_value(json_object_get(j->learner_doc, "deployment"));
	const char *deployment = json_string_value(json_object_get(base, "deployment"));
	int drift_current = strcmp(seen ? seen : "", deployment ? deployment : "") == 0;
	if (j->have_model && drift_current && j->lm.drift_ph > c->daily.drift_lambda) {
		snprintf(reason, sizeof reason,
			 "drift: the progressive log loss rose (Page-Hinkley %.1f > %.1f over %ld "
			 "trades)",
			 j->lm.drift_ph, c->daily.drift_lambda, j->lm.drift_trades);
		json_array_append_new(reasons, json_string(reason));
	}
	*baseline_out = base;
	return json_pack("{s:b,s:o}", "triggered", json_array_size(reasons) > 0, "reasons",
			 reasons);
}

/* ---- reports ----------------------------------------------------------------------- */

/* post_market_latest.json when D is the newest report. */
static int write_latest(struct job *j, const char *dir, json_t *report)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char newest[16] = "", path[4400], day[16], today[16];

	schedule_format_day(j->day, today, sizeof today);
	if (!d)
		return err_fail(j->err, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		if (dashboard_report_day(de->d_name, day, sizeof day) == 0 &&
		    strcmp(day, newest) > 0)
			snprintf(newest, sizeof newest, "%s", day);
	closedir(d);
	if (strcmp(newest, today) != 0)
		return 0;
	if (snprintf(path, sizeof path, "%s/post_market_latest.json", dir) >= (int)sizeof path)
		return fail(j, ENAMETOOLONG, "%s: path too long", dir);
	return write_json(j, path, report);
}

static int write_reports(struct job *j, json_t *report)
{
	char dir[4400], path[4500], day[16];
	schedule_format_day(j->day, day, sizeof day);
	snprintf(dir, sizeof dir, "%s/reports", j->o->state_dir);
	snprintf(path, sizeof path, "%s/post_market_%s.html", dir, day);
	char *html = report_html_page(report, j->err);
	if (!html)
		return err_prefix(j->err, "report page");
	int rc = durable_replace(path, html, strlen(html), j->err);
	free(html);
	/* The JSON after the page: a report listed in the index has its page. */
	snprintf(path, sizeof path, "%s/post_market_%s.json", dir, day);
	if (rc == 0)
		rc = write_json(j, path, report);
	if (rc == 0)
		rc = write_latest(j, dir, report);
	if (rc == 0 && !j->o->no_dashboard)
		rc = daily_write_dashboard(j->cfg, j->o->state_dir, j->o->root_dir, j->o->now_us,
					   j->err);
	return rc;
}

/* ---- the job ----------------------------------------------------------------------- */

/* The retrain_triggered hook, when the report (its "retrain", borrowed)
 * says a retrain is due. The hook's run is journaled (hook.h); the job's
 * result never depends on it, so its outcome is not the job's to report. */
static void fire_retrain_triggered(const struct job *j, json_t *retrain)
{
	char day[16], text[700], path[4400], more[40] = "";
	if (j->o->no_hooks || !json_is_true(json_object_get(retrain, "triggered")))
		return;
	json_t *reasons = json_object_get(retrain, "reasons");
	size_t n = json_array_size(reasons);
	schedule_format_day(j->day, day, sizeof day);
	if (n > 1)
		snprintf(more, sizeof more, " (and %zu more)", n - 1);
	snprintf(text, sizeof text,
		 "tradelearn: a retrain is due after the daily report of %s: %.500s%s", day,
		 json_string_value(json_array_get(reasons, 0)), more);
	snprintf(path, sizeof path, "%s/reports/post_market_%s.json", j->o->state_dir, day);
	json_t *fields = json_pack("{s:s,s:s,s:O,s:s}", "text", text, "day", day, "reasons",
				   reasons, "report", path);
	if (fields)
		(void)hook_fire(&j->cfg->hooks, j->o->root_dir, j->o->state_dir,
				HOOK_RETRAIN_TRIGGERED, fields, NULL, NULL);
	json_decref(fields);
}

int daily_write_dashboard(const struct config *c, const char *state_dir, const char *root_dir,
			  int64_t now_us, struct err *err)
{
	char models[4400];
	struct knobs_table *t = malloc(sizeof *t);
	json_t *defaults = json_object();
	int rc = -1;

	if (!t || !defaults) {
		err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	knobs_table_init(t);
	if (knobs_table_from_json(t, c->knobs, c->knob_rules, err)) {
		err_prefix(err, "knobs");
		goto out;
	}
	for (size_t i = 0; i < t->n_knobs; i++)
		json_object_set_new(defaults, t->knobs[i].name,
				    t->knobs[i].integer
					? json_integer((json_int_t)t->knobs[i].value)
					: json_real(t->knobs[i].value));
	if (root_dir)
		snprintf(models, sizeof models, "%s/models", root_dir);
	struct dashboard_options d = {.state_dir = state_dir,
				      .models_dir = root_dir ? models : NULL,
				      .knob_defaults = defaults,
				      .now_us = now_us};
	rc = dashboard_write(&d, err);
	if (rc)
		err_prefix(err, "dashboard");
out:
	free(t);
	json_decref(defaults);
	return rc;
}

int32_t daily_default_day(const struct config *c, int64_t now_us)
{
	return schedule_last_due_day(&c->schedule.calendar, c->schedule.daily_minute, now_us);
}

int daily_run(const struct daily_options *o, json_t **report_out, struct err *err)
{
	struct err ignored = {0};
	struct job j = {.o = o, .cfg = o->config, .err = err ? err : &ignored};
	char dir[4400], day[16], gen[40];
	json_t *report = NULL, *windows, *knobs, *missed, *retrain = NULL, *baseline = NULL;
	int lock = -1, rc = -1;
	pid_t holder;

	if (report_out)
		*report_out = NULL;
	struct err derr = {0};
	if (option_check(&postmarket_option_table, &o->config->daily, &derr))
		return fail(&j, EINVAL, "daily.%s", derr.msg);
	j.day = o->day != SCHEDULE_NO_DAY ? o->day : daily_default_day(o->config, o->now_us);
	if (j.day == SCHEDULE_NO_DAY)
		return fail(&j, EINVAL, "the calendar has no trading day");
	schedule_format_day(j.day, day, sizeof day);
	if (!schedule_is_trading_day(&o->config->schedule.calendar, j.day))
		return fail(&j, EINVAL, "%s is not a trading day of the configured calendar", day);
	snprintf(dir, sizeof dir, "%s/reports", o->state_dir);
	if (durable_mkdirs(dir, j.err))
		return -1;
	lock = durable_lock(dir, &holder, j.err);
	if (lock < 0)
		return -1;
	/* Leftovers of an interrupted run; one that cannot be removed is
	 * replaced when its file is written again. */
	durable_sweep_temps(dir, NULL);

	if (read_state(&j))
		goto out;
	read_model(&j);
	if (build_days(&j))
		goto out;

	int32_t from7 = window_start(&j, 7), from30 = window_start(&j, 30),
		from_all = window_start(&j, 0);
	struct metrics_trades day_m, w7, w30, wall;
	struct metrics_returns r7, r30, rall;
	trades_metrics(&j, j.day, j.day, NULL, NULL, &day_m);
	trades_metrics(&j, from7, j.day, NULL, NULL, &w7);
	trades_metrics(&j, from30, j.day, NULL, NULL, &w30);
	trades_metrics(&j, from_all, j.day, NULL, NULL, &wall);
	window_returns(&j, 7, &r7);
	window_returns(&j, 30, &r30);
	window_returns(&j, 0, &rall);

	missed = find_missed(&j);
	if (!missed)
		goto out;
	struct knobs_inputs in;
	knob_inputs(&j, &day_m, &w7, &r7, num_of(json_object_get(missed, "missed_pnl_usd")), &in);
	knobs = adjust_knobs(&j, &in);
	if (!knobs) {
		json_decref(missed);
		goto out;
	}
	retrain = retrain_json(&j, &wall, &w7, &r7, &baseline);
	if (!retrain) {
		json_decref(missed);
		json_decref(knobs);
		goto out;
	}

	calendar_format_iso(o->now_us, gen, sizeof gen);
	windows = json_pack("{s:{s:o,s:o},s:{s:o,s:o},s:{s:o,s:o}}", "7d", "trades",
			    trades_json(&w7), "returns", returns_json(&r7), "30d", "trades",
			    trades_json(&w30), "returns", returns_json(&r30), "all", "trades",
			    trades_json(&wall), "returns", returns_json(&rall));
	char first[16], basis[512];
	schedule_format_day(from_all, first, sizeof first);
	profile_pnl_basis(o->profile, basis, sizeof basis);
	report = json_pack("{s:i,s:s,s:s,s:s,s:f,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			   "format", REPORT_FORMAT, "date", day, "generated_at", gen, "first_day",
			   first, "capital_usd", capital_of(&j, j.day), "pnl_basis", basis, "day",
			   trades_json(&day_m), "windows", windows, "breakdowns",
			   breakdowns_json(&j, from30, j.day), "model", model_json(&j), "knobs",
			   knobs, "missed", missed, "stale_positions", stale_positions(&j),
			   "retrain", retrain, "charts", charts_json(&j, from30));
	if (!report) {
		fail(&j, ENOMEM, "out of memory");
		goto out;
	}
	json_object_set_new(
	    report, "day_pnl_with_partials_usd",
	    jsontext_real_or_null(j.n_days ? j.returns[j.n_days - 1] * capital_of(&j, j.day) : 0));
	json_object_set(report, "baseline", baseline);
	if (write_reports(&j, report))
		goto out;
	rc = 0;
	if (report_out) {
		*report_out = report;
		report = NULL;
	}
out:
	/* The lock first: another run never waits for a hook. */
	if (lock >= 0)
		close(lock);
	if (rc == 0)
		fire_retrain_triggered(&j, retrain);
	json_decref(report);
	json_decref(baseline);
	json_decref(j.learner_doc);
	for (size_t i = 0; i < j.n; i++)
		json_decref(j.t[i].categories);
	json_decref(j.segments);
	free(j.t);
	free(j.days);
	free(j.returns);
	return rc;
}
