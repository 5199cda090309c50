/*
 * retrain — window, hold-out, candidates, gate, record.
 */
#include "jobs/retrain/retrain.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/analyze/postmarket.h"
#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/hash.h"
#include "lib/base/hook.h"
#include "lib/base/jsontext.h"
#include "lib/base/schedule.h"
#include "lib/base/sha256.h"
#include "lib/ingest/record.h"
#include "lib/learn/batch.h"
#include "lib/learn/learner.h"
#include "lib/learn/model.h"
#include "lib/models/gate.h"
#include "lib/models/holdout.h"
#include "lib/store/outcome.h"
#include "lib/store/state.h"

#define METRICS_FORMAT 1
#define MANIFEST_FORMAT 1
#define US_PER_DAY 86400e6

/* ---- the examples: every committed outcome with an exit time and a P&L --------------- */

enum role { OUTSIDE, TRAIN, HOLDOUT };

struct example {
	int64_t exit_us, entry_us;
	double pnl_usd, pnl_frac, confidence, score;
	uint32_t first_number, n_numbers;      /* into the data's numbers */
	uint32_t first_category, n_categories; /* into the data's categories */
	uint32_t text[MODEL_FIELD_COUNT];      /* interned values of model_fields; 0: none */
	unsigned char label, full, has_components, role;
};

/* Strings kept once: component names and categorical values. */
struct names {
	char **text; /* text[0] is NULL: "none" */
	size_t n, cap;
	uint32_t *slot; /* open addressing, index into text; 0: empty */
	size_t slots;
};

struct data {
	struct example *ex;
	size_t n, cap;
	uint32_t *number_name;
	double *number_value;
	size_t n_numbers, cap_names, cap_values;
	uint32_t (*category)[2]; /* interned name and value (0: null) */
	size_t n_categories, cap_categories;
	struct names names;
	struct outcome_decoder *decoder;
	long unreadable, no_exit, no_pnl;
};

static int names_rehash(struct names *t, size_t slots)
{
	uint32_t *s = calloc(slots, sizeof *s);
	if (!s)
		return -1;
	for (size_t i = 1; i < t->n; i++) {
		uint64_t h = hash_fnv1a64_str(HASH_FNV1A64_INIT, t->text[i]);
		size_t k = h & (slots - 1);
		while (s[k])
			k = (k + 1) & (slots - 1);
		s[k] = (uint32_t)i;
	}
	free(t->slot);
	t->slot = s;
	t->slots = slots;
	return 0;
}

/* The id of text (interned on first sight); 0 for NULL or "". -1 on ENOMEM. */
static long intern(struct names *t, const char *text)
{
	if (!text || !*text)
		return 0;
	if (t->n == 0) {
		if (BUF_ARRAY_GROW(t->text, 1, t->cap))
			return -1;
		t->text[t->n++] = NULL;
	}
	if (2 * (t->n + 1) > t->slots && names_rehash(t, t->slots ? t->slots * 2 : 256))
		return -1;
	uint64_t h = hash_fnv1a64_str(HASH_FNV1A64_INIT, text);
	size_t k = h & (t->slots - 1);
	for (; t->slot[k]; k = (k + 1) & (t->slots - 1))
		if (strcmp(t->text[t->slot[k]], text) == 0)
			return t->slot[k];
	if (t->n >= UINT32_MAX || BUF_ARRAY_GROW(t->text, t->n + 1, t->cap))
		return -1;
	char *copy = strdup(text);
	if (!copy)
		return -1;
	t->text[t->n] = copy;
	t->slot[k] = (uint32_t)t->n;
	return (long)t->n++;
}

static void names_release(struct names *t)
{
	for (size_t i = 1; i < t->n; i++)
		free(t->text[i]);
	free(t->text);
	free(t->slot);
}

static int add_line(void *ctx, const char *line, size_t len, struct err *err)
{
	struct data *d = ctx;
	struct outcome_fields o;
	struct example e;
	if (outcome_decode(d->decoder, line, len, &o, NULL)) {
		if (errno == ENOMEM)
			return err_set(err, ENOMEM, "out of memory");
		/* Outcomes are written by tradelearn itself; one that does
		 * not read is counted, never fatal (as the daily job does). */
		d->unreadable++;
		return 0;
	}
	if (o.exit_us == CALENDAR_NONE) {
		d->no_exit++;
		return 0;
	}
	/* The learner's label: pnl_usd when known, else pnl_frac. */
	if (isnan(o.pnl_usd) && isnan(o.pnl_frac)) {
		d->no_pnl++;
		return 0;
	}
	memset(&e, 0, sizeof e);
	e.exit_us = o.exit_us;
	e.entry_us = o.entry_us;
	e.pnl_usd = o.pnl_usd;
	e.pnl_frac = o.pnl_frac;
	e.confidence = o.confidence;
	e.score = o.score;
	e.label = !isnan(o.pnl_usd) ? o.pnl_usd > 0 : o.pnl_frac > 0;
	e.full = o.partial == 1.0;
	e.has_components = (unsigned char)o.has_components;
	const char *values[MODEL_FIELD_COUNT] = {o.regime,    o.time_of_day, o.day_of_week, o.side,
						 o.timeframe, o.sector,	     o.symbol};
	for (int f = 0; f < MODEL_FIELD_COUNT; f++) {
		long id = intern(&d->names, values[f]);
		if (id < 0)
			return err_set(err, ENOMEM, "out of memory");
		e.text[f] = (uint32_t)id;
	}
	size_t need = d->n_numbers + o.n_components;
	if (need > UINT32_MAX || BUF_ARRAY_GROW(d->number_name, need, d->cap_names) ||
	    BUF_ARRAY_GROW(d->number_value, need, d->cap_values))
		return err_set(err, ENOMEM, "out of memory");
	e.first_number = (uint32_t)d->n_numbers;
	for (size_t k = 0; k < o.n_components; k++) {
		long id = intern(&d->names, o.components[k].name);
		if (id < 0)
			return err_set(err, ENOMEM, "out of memory");
		d->number_name[d->n_numbers] = (uint32_t)id;
		d->number_value[d->n_numbers++] = o.components[k].value;
	}
	e.n_numbers = (uint32_t)o.n_components;
	need = d->n_categories + o.n_categories;
	if (need > UINT32_MAX || BUF_ARRAY_GROW(d->category, need, d->cap_categories))
		return err_set(err, ENOMEM, "out of memory");
	e.first_category = (uint32_t)d->n_categories;
	for (size_t k = 0; k < o.n_categories; k++) {
		long name = intern(&d->names, o.categories[k].name);
		long value = intern(&d->names, o.categories[k].value);
		if (name < 0 || value < 0)
			return err_set(err, ENOMEM, "out of memory");
		d->category[d->n_categories][0] = (uint32_t)name;
		d->category[d->n_categories++][1] = (uint32_t)value;
	}
	e.n_categories = (uint32_t)o.n_categories;
	if (BUF_ARRAY_GROW(d->ex, d->n + 1, d->cap))
		return err_set(err, ENOMEM, "out of memory");
	d->ex[d->n++] = e;
	return 0;
}

static void data_release(struct data *d)
{
	free(d->ex);
	free(d->number_name);
	free(d->number_value);
	free(d->category);
	names_release(&d->names);
	outcome_decoder_free(d->decoder);
}

/* What the learner and the models read of e as JSON: its components
 * object and its categories ({name: text or null}), each NULL when e has
 * none. New references. */
struct example_json {
	json_t *components, *categories;
};

static void example_json_release(struct example_json *x)
{
	json_decref(x->components);
	json_decref(x->categories);
}

/* -1 on ENOMEM (x then holds nothing). */
static int example_json_of(const struct data *d, const struct example *e, struct example_json *x)
{
	const char *const *t = (const char *const *)d->names.text;
	int failed = 0;
	x->components = e->has_components ? json_object() : NULL;
	x->categories = e->n_categories ? json_object() : NULL;
	failed |= e->has_components && !x->components;
	failed |= e->n_categories && !x->categories;
	for (uint32_t k = 0; !failed && k < e->n_numbers; k++) {
		uint32_t i = e->first_number + k;
		failed |= json_object_set_new_nocheck(x->components, t[d->number_name[i]],
						      json_real(d->number_value[i]));
	}
	for (uint32_t k = 0; !failed && k < e->n_categories; k++) {
		const uint32_t *c = d->category[e->first_category + k];
		failed |= json_object_set_new_nocheck(x->categories, t[c[0]],
						      c[1] ? json_string(t[c[1]]) : json_null());
	}
	if (failed)
		example_json_release(x);
	return failed ? -1 : 0;
}

/* e as a candidate, borrowing x. */
static void candidate_of(const struct data *d, const struct example *e,
			 const struct example_json *x, struct learner_candidate *c)
{
	const char *const *t = (const char *const *)d->names.text;
	c->confidence = e->confidence;
	c->score = e->score;
	c->components = x->components;
	c->categories = x->categories;
	c->regime = t[e->text[0]];
	c->time_of_day = t[e->text[1]];
	c->day_of_week = t[e->text[2]];
	c->side = t[e->text[3]];
	c->timeframe = t[e->text[4]];
	c->sector = t[e->text[5]];
	c->symbol = t[e->text[6]];
}

/* e as the record the short-term job learned it from. */
static void record_of(const struct data *d, const struct example *e, const struct example_json *x,
		      struct record *r)
{
	struct learner_candidate c;
	candidate_of(d, e, x, &c);
	memset(r, 0, sizeof *r);
	r->kind = e->full ? PROFILE_KIND_CLOSE : PROFILE_KIND_PARTIAL;
	r->ts = e->exit_us;
	r->entry_ts = e->entry_us;
	r->pnl_usd = e->pnl_usd;
	r->pnl_frac = e->pnl_frac;
	r->confidence = e->confidence;
	r->score = e->score;
	r->components = x->components;
	r->categories = x->categories;
	r->regime = c.regime;
	r->sector = c.sector;
	r->timeframe = c.timeframe;
	r->symbol = c.symbol;
	/* The outcome's time of day, which is the bot's session when the
	 * profile maps one: the learner then reads it as it did. */
	r->session = c.time_of_day;
	r->side = record_side_from_text(c.side);
	r->entry_price = r->exit_price = r->qty = r->hold_minutes = NAN;
	r->fraction = r->equity = r->price = r->stop_loss = r->take_profit = NAN;
}

/* ---- the job ----------------------------------------------------------------------- */

enum candidate_id { CAND_DEPLOYED, CAND_BATCH, CAND_ONLINE, CAND_COUNT };
static const char *const candidate_names[CAND_COUNT] = {"deployed", "batch", "online"};

struct candidate {
	struct model *model; /* NULL: absent */
	double *p;	     /* on each hold-out outcome */
	struct holdout_figures figures;
};

struct job {
	const struct retrain_job_options *o;
	const struct config *cfg;
	const struct retrain_options *ro;
	struct err *err;
	struct retrain_result *res;
	struct data data;
	json_t *learner_doc;
	json_t *registry; /* the registry document (borrowed from reg, or owned when read) */
	struct registry *reg;
	const char *deployed_id;
	char trigger[700];

	size_t n_window, n_train, n_holdout;
	int64_t from_us, to_us, holdout_us;
	long train_wins;
	size_t *holdout; /* indices of the hold-out outcomes, committed order */
	int *h_label, *h_full;
	double *h_pnl_usd, *h_pnl_frac, *capital;
	size_t *h_day, n_days;

	struct candidate cand[CAND_COUNT];
	struct holdout_figures base_rate;
	struct batch_report optimizer;
	json_t *checks;
};

/* Fails the job with code and a message: -1. */
#define fail(j, code, ...) err_set((j)->err, code, __VA_ARGS__)

/* Step 1: is there a reason to retrain now? 1 yes (j->trigger says why), 0
 * no (res->line says why), -1 failure. */
static int should_retrain(struct job *j)
{
	const struct retrain_job_options *o = j->o;
	char path[4400], day[16] = "";
	if (o->force || o->dry_run) {
		snprintf(j->trigger, sizeof j->trigger, "%s", o->force ? "forced" : "dry run");
		return 1;
	}
	json_t *last = json_object_get(j->registry, "last_decision");
	int64_t last_us;
	const char *at = json_string_value(json_object_get(last, "time"));
	if (at && calendar_parse_iso(at, &last_us) == 0) {
		double hours = (double)(o->now_us - last_us) / 3600e6;
		if (hours < j->ro->min_interval_hours) {
			snprintf(j->res->line, sizeof j->res->line,
				 "not retraining: the last retrain was %.1f h ago, less than the "
				 "minimum interval of %g h (--force retrains anyway)",
				 hours, j->ro->min_interval_hours);
			return 0;
		}
	}
	snprintf(path, sizeof path, "%s/reports/post_market_latest.json", o->state_dir);
	json_t *report = json_load_file(path, 0, NULL);
	json_t *retrain = json_object_get(report, "retrain");
	const char *date = json_string_value(json_object_get(report, "date"));
	snprintf(day, sizeof day, "%s", date ? date : "");
	if (json_is_true(json_object_get(retrain, "triggered"))) {
		size_t n = (size_t)snprintf(j->trigger, sizeof j->trigger,
					    "the daily report of %s says a retrain is due", day);
		json_t *r;
		size_t i;
		json_array_foreach(json_object_get(retrain, "reasons"), i, r)
		{
			if (n < sizeof j->trigger)
				n += (size_t)snprintf(
				    j->trigger + n, sizeof j->trigger - n, "%s %s", i ? ";" : ":",
				    json_is_string(r) ? json_string_value(r) : "");
		}
		json_decref(report);
		return 1;
	}
	json_decref(report);
	if (o->scheduled) {
		snprintf(j->trigger, sizeof j->trigger, "the weekly retrain slot");
		return 1;
	}
	if (day[0])
		snprintf(j->res->line, sizeof j->res->line,
			 "not retraining: the latest daily report (%s) calls for no retrain "
			 "(--force retrains anyway)",
			 day);
	else
		snprintf(j->res->line, sizeof j->res->line,
			 "not retraining: no daily report yet says a retrain is due (--force "
			 "retrains anyway)");
	return 0;
}

static int read_outcomes(struct job *j)
{
	struct state *st = malloc(sizeof *st);
	enum state_origin origin;
	uint64_t valid;
	struct err e = {0};
	int rc = -1;
	if (!st)
		return fail(j, ENOMEM, "out of memory");
	j->data.decoder = outcome_decoder_new(j->err);
	if (!j->data.decoder)
		goto out;
	if (outcome_read_committed(j->o->state_dir, st, &origin, add_line, &j->data, &valid, &e) <
	    0) {
		*j->err = e;
		goto out;
	}
	if (origin == STATE_PREV)
		logline_say(j->o->log, j->o->log_ctx, "%s; reading its previous version", e.msg);
	if (origin != STATE_NONE && valid < st->output_length[STATE_OUTPUT_OUTCOMES]) {
		fail(j, EBADMSG,
		     "%s/%s: damaged at byte %llu, before its committed length %llu (no retrain "
		     "on part of the outcomes)",
		     j->o->state_dir, state_output_path(STATE_OUTPUT_OUTCOMES),
		     (unsigned long long)valid,
		     (unsigned long long)st->output_length[STATE_OUTPUT_OUTCOMES]);
		goto out;
	}
	if (origin != STATE_NONE && state_load_learner(j->o->state_dir, st, &j->learner_doc, &e)) {
		*j->err = e;
		goto out;
	}
	rc = 0;
out:
	free(st);
	return rc;
}

static int compare_exit(const void *a, const void *b, void *ctx)
{
	const struct example *ex = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (ex[x].exit_us != ex[y].exit_us)
		return ex[x].exit_us < ex[y].exit_us ? -1 : 1;
	return (x > y) - (x < y);
}

/* Step 2: the window and its hold-out. */
static int split(struct job *j)
{
	struct example *ex = j->data.ex;
	size_t n = j->data.n;
	if (n == 0)
		return 0;
	int64_t newest = ex[0].exit_us;
	for (size_t i = 1; i < n; i++)
		if (ex[i].exit_us > newest)
			newest = ex[i].exit_us;
	int64_t from = newest - (int64_t)(j->ro->window_days * US_PER_DAY);
	size_t *order = malloc(n * sizeof *order);
	if (!order)
		return fail(j, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (ex[i].exit_us >= from)
			order[j->n_window++] = i;
	qsort_r(order, j->n_window, sizeof *order, compare_exit, ex);
	size_t held = (size_t)ceil(j->ro->holdout_fraction * (double)j->n_window);
	size_t cut = held < j->n_window ? j->n_window - held : 0;
	j->from_us = j->n_window ? ex[order[0]].exit_us : CALENDAR_NONE;
	j->to_us = newest;
	j->holdout_us = j->n_window ? ex[order[cut]].exit_us : CALENDAR_NONE;
	free(order);
	for (size_t i = 0; i < n; i++) {
		if (ex[i].exit_us < from) {
			ex[i].role = OUTSIDE;
		} else if (ex[i].exit_us >= j->holdout_us) {
			ex[i].role = HOLDOUT;
			j->n_holdout++;
		} else {
			ex[i].role = TRAIN;
			j->n_train++;
			j->train_wins += ex[i].label;
		}
	}
	return 0;
}

/* Step 3. Appends the data checks; 1 when they all hold. */
static int enough_data(struct job *j)
{
	long hold_wins = 0;
	for (size_t i = 0; i < j->data.n; i++)
		hold_wins += j->data.ex[i].role == HOLDOUT && j->data.ex[i].label;
	struct {
		const char *what;
		double value, limit;
	} rows[] = {
	    {"outcomes in the window", (double)j->n_window, (double)j->ro->min_outcomes},
	    {"wins in the training part", (double)j->train_wins, 1},
	    {"losses in the training part", (double)(j->n_train - (size_t)j->train_wins), 1},
	    {"outcomes held out", (double)j->n_holdout, (double)j->ro->min_holdout_trades},
	    {"wins held out", (double)hold_wins, 1},
	    {"losses held out", (double)(j->n_holdout - (size_t)hold_wins), 1},
	};
	int all = 1;
	for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
		json_t *c =
		    gate_check(rows[k].what, rows[k].value, GATE_MIN, rows[k].limit, 1, NULL);
		if (!c || json_array_append_new(j->checks, c))
			return fail(j, ENOMEM, "out of memory");
		all &= json_is_true(json_object_get(c, "pass"));
	}
	return all;
}

static int fit_batch(struct job *j)
{
	struct data *d = &j->data;
	int64_t *exit_ts = malloc((j->n_train ? j->n_train : 1) * sizeof *exit_ts);
	double *pnl = malloc((j->n_train ? j->n_train : 1) * sizeof *pnl);
	double *weight = malloc((j->n_train ? j->n_train : 1) * sizeof *weight);
	int *label = malloc((j->n_train ? j->n_train : 1) * sizeof *label);
	struct batch *b = NULL;
	int rc = -1;
	if (!exit_ts || !pnl || !weight || !label) {
		fail(j, ENOMEM, "out of memory");
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (d->ex[i].role != TRAIN)
			continue;
		exit_ts[k] = d->ex[i].exit_us;
		pnl[k] = d->ex[i].pnl_frac;
		label[k++] = d->ex[i].label;
	}
	if (batch_sample_weights(&j->cfg->learner, k, exit_ts, pnl, label, weight, j->err))
		goto out;
	b = batch_new(j->err);
	if (!b)
		goto out;
	k = 0;
	for (size_t i = 0; i < d->n; i++) {
		struct learner_candidate c;
		if (d->ex[i].role != TRAIN)
			continue;
		struct example_json x;
		if (example_json_of(d, &d->ex[i], &x)) {
			fail(j, ENOMEM, "out of memory");
			goto out;
		}
		candidate_of(d, &d->ex[i], &x, &c);
		int added = batch_add(b, &c, d->ex[i].label, weight[k++], j->err);
		example_json_release(&x);
		if (added)
			goto out;
	}
	j->cand[CAND_BATCH].model = batch_fit(b, &j->ro->batch, &j->optimizer, j->err);
	if (j->cand[CAND_BATCH].model)
		rc = 0;
out:
	batch_free(b);
	free(exit_ts);
	free(pnl);
	free(weight);
	free(label);
	return rc;
}

/* The online model as it stood when the hold-out began. */
static int replay_online(struct job *j)
{
	struct data *d = &j->data;
	struct learner *l = learner_new(&j->cfg->learner, j->err);
	if (!l)
		return -1;
	for (size_t i = 0; i < d->n && d->ex[i].role != HOLDOUT; i++) {
		struct record r;
		struct example_json x;
		if (example_json_of(d, &d->ex[i], &x)) {
			learner_free(l);
			return fail(j, ENOMEM, "out of memory");
		}
		record_of(d, &d->ex[i], &x, &r);
		learner_learn(l, &r);
		example_json_release(&x);
	}
	json_t *exported = learner_export(l, NULL);
	learner_free(l);
	if (!exported)
		return fail(j, ENOMEM, "out of memory");
	j->cand[CAND_ONLINE].model = model_from_json(exported, j->err);
	json_decref(exported);
	return j->cand[CAND_ONLINE].model ? 0 : err_prefix(j->err, "the online snapshot");
}

/* The deployed version's model, from its bundle. */
static int load_deployed(struct job *j)
{
	j->deployed_id = registry_deployed(j->registry);
	if (!j->deployed_id)
		return 0;
	json_t *m =
	    registry_model(j->o->models_dir, registry_version(j->registry, j->deployed_id), j->err);
	if (!m)
		return err_prefix(j->err, "the deployed version");
	j->cand[CAND_DEPLOYED].model = model_from_json(m, j->err);
	json_decref(m);
	return j->cand[CAND_DEPLOYED].model
		   ? 0
		   : err_prefix(j->err, "the deployed version %s: model.json", j->deployed_id);
}

static int find_day(const int32_t *days, size_t n, int32_t day, size_t *at)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (days[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < n && days[lo] == day;
}

/* The hold-out as holdout.h takes it, and every candidate's probabilities. */
static int score_holdout(struct job *j, struct holdout_set *h)
{
	struct data *d = &j->data;
	const struct schedule_calendar *cal = &j->cfg->schedule.calendar;
	size_t n = j->n_holdout;
	int32_t *days = NULL;
	int rc = -1;
	j->holdout = malloc(n * sizeof *j->holdout);
	j->h_label = malloc(n * sizeof *j->h_label);
	j->h_full = malloc(n * sizeof *j->h_full);
	j->h_pnl_usd = malloc(n * sizeof *j->h_pnl_usd);
	j->h_pnl_frac = malloc(n * sizeof *j->h_pnl_frac);
	j->h_day = malloc(n * sizeof *j->h_day);
	for (int c = 0; c < CAND_COUNT; c++)
		j->cand[c].p = malloc(n * sizeof *j->cand[c].p);
	if (!j->holdout || !j->h_label || !j->h_full || !j->h_pnl_usd || !j->h_pnl_frac ||
	    !j->h_day || !j->cand[0].p || !j->cand[1].p || !j->cand[2].p)
		return fail(j, ENOMEM, "out of memory");
	int32_t first = SCHEDULE_NO_DAY, last = SCHEDULE_NO_DAY;
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (d->ex[i].role != HOLDOUT)
			continue;
		int32_t day = schedule_trading_day_of(cal, d->ex[i].exit_us);
		if (first == SCHEDULE_NO_DAY || day < first)
			first = day;
		if (last == SCHEDULE_NO_DAY || day > last)
			last = day;
		j->holdout[k++] = i;
	}
	size_t count = schedule_trading_days_between(cal, first, last);
	days = malloc((count ? count : 1) * sizeof *days);
	j->capital = malloc((count ? count : 1) * sizeof *j->capital);
	if (!days || !j->capital) {
		fail(j, ENOMEM, "out of memory");
		goto out;
	}
	for (int32_t day = first; day != SCHEDULE_NO_DAY && day <= last && j->n_days < count;
	     day = schedule_next_trading_day(cal, day)) {
		days[j->n_days] = day;
		j->capital[j->n_days++] = postmarket_capital(
		    json_object_get(j->learner_doc, "equity"), j->cfg->capital_usd, day);
	}
	for (k = 0; k < n; k++) {
		const struct example *e = &d->ex[j->holdout[k]];
		struct learner_candidate c;
		j->h_label[k] = e->label;
		j->h_full[k] = e->full;
		j->h_pnl_usd[k] = e->pnl_usd;
		j->h_pnl_frac[k] = e->pnl_frac;
		find_day(days, j->n_days, schedule_trading_day_of(cal, e->exit_us), &j->h_day[k]);
		if (j->h_day[k] >= j->n_days)
			j->h_day[k] = j->n_days - 1;
		struct example_json x;
		if (example_json_of(d, e, &x)) {
			fail(j, ENOMEM, "out of memory");
			goto out;
		}
		candidate_of(d, e, &x, &c);
		for (int m = 0; m < CAND_COUNT; m++)
			if (j->cand[m].model)
				j->cand[m].p[k] = model_predict(j->cand[m].model, &c);
		example_json_release(&x);
	}
	*h = (struct holdout_set){n,	     j->h_label, j->h_pnl_usd, j->h_pnl_frac,
				  j->h_full, j->h_day,	 j->n_days,    j->capital};
	rc = 0;
out:
	free(days);
	return rc;
}

static int figures(struct job *j, const struct holdout_set *h)
{
	double threshold = j->ro->take_threshold;
	for (int c = 0; c < CAND_COUNT; c++)
		if (j->cand[c].model &&
		    holdout_figures(h, j->cand[c].p, threshold, &j->cand[c].figures))
			return fail(j, ENOMEM, "out of memory");
	double rate = (double)j->train_wins / (double)j->n_train;
	double *p = malloc((h->n ? h->n : 1) * sizeof *p);
	if (!p)
		return fail(j, ENOMEM, "out of memory");
	for (size_t i = 0; i < h->n; i++)
		p[i] = rate;
	int rc = holdout_figures(h, p, threshold, &j->base_rate);
	free(p);
	return rc ? fail(j, ENOMEM, "out of memory") : 0;
}

/* 1 when a is better than b by metric (an undefined figure is the worst). */
static int better(const struct holdout_figures *a, const struct holdout_figures *b,
		  const char *metric)
{
	double x = holdout_metric(a, metric), y = holdout_metric(b, metric);
	if (isnan(x))
		return 0;
	if (isnan(y))
		return 1;
	return holdout_metric_higher_is_better(metric) ? x > y : x < y;
}

/* The candidates' figures, by name. */
static json_t *candidates_json(const struct job *j)
{
	json_t *o = json_object();
	for (int c = 0; o && c < CAND_COUNT; c++)
		json_object_set_new(o, candidate_names[c],
				    j->cand[c].model ? holdout_figures_json(&j->cand[c].figures)
						     : json_null());
	return o;
}

static json_t *data_json(const struct job *j)
{
	return json_pack("{s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I}}", "from",
			 jsontext_time_or_null(j->from_us), "to", jsontext_time_or_null(j->to_us),
			 "holdout_from", jsontext_time_or_null(j->holdout_us), "outcomes",
			 (json_int_t)j->data.n, "window", (json_int_t)j->n_window, "train",
			 (json_int_t)j->n_train, "holdout", (json_int_t)j->n_holdout, "skipped",
			 "unreadable", (json_int_t)j->data.unreadable, "no_exit_time",
			 (json_int_t)j->data.no_exit, "no_pnl", (json_int_t)j->data.no_pnl);
}

static json_t *optimizer_json(const struct job *j)
{
	static const char *const stops[] = {"converged", "max_iterations", "no_progress"};
	const struct batch_report *r = &j->optimizer;
	if (!j->cand[CAND_BATCH].model)
		return json_null();
	return json_pack(
	    "{s:s,s:i,s:o,s:o,s:o,s:f,s:f,s:b,s:s,s:i,s:i}", "method", "L-BFGS", "iterations",
	    r->iterations, "objective", jsontext_real_or_null(r->objective), "log_loss",
	    jsontext_real_or_null(r->log_loss), "gradient_norm",
	    jsontext_real_or_null(r->gradient_norm), "tolerance", j->ro->batch.tolerance, "l2",
	    j->ro->batch.l2, "converged", r->converged, "stop", stops[r->stop < 3 ? r->stop : 0],
	    "numeric_features", r->numeric_features, "values", r->values);
}

/* Text of the reasons: every failing check (or, for a deployment, every
 * check), the checks' own texts. */
static int add_reasons(json_t *reasons, json_t *checks, int only_failing)
{
	json_t *c;
	size_t i;
	json_array_foreach(checks, i, c)
	{
		if (only_failing && json_is_true(json_object_get(c, "pass")))
			continue;
		if (json_array_append(reasons, json_object_get(c, "text")))
			return -1;
	}
	return 0;
}

static void digest_table(struct sha256 *h, const struct option_table *t, const void *opts,
			 const char *prefix)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct option_key *k = &t->keys[i];
		const char *slot = (const char *)opts + k->offset;
		char line[600];
		int n = 0;
		switch (k->type) {
		case OPTION_TYPE_SECTION:
		case OPTION_TYPE_GROUP:
			digest_table(h, k->table, slot, prefix);
			continue;
		case OPTION_TYPE_REAL:
			n = snprintf(line, sizeof line, "%s%s=%.17g\n", prefix, k->name,
				     *(const double *)slot);
			break;
		case OPTION_TYPE_INT:
		case OPTION_TYPE_BOOL:
			n = snprintf(line, sizeof line, "%s%s=%d\n", prefix, k->name,
				     *(const int *)slot);
			break;
		case OPTION_TYPE_LONG:
			n = snprintf(line, sizeof line, "%s%s=%ld\n", prefix, k->name,
				     *(const long *)slot);
			break;
		case OPTION_TYPE_ULONG:
			n = snprintf(line, sizeof line, "%s%s=%lu\n", prefix, k->name,
				     *(const unsigned long *)slot);
			break;
		case OPTION_TYPE_TEXT:
			n = snprintf(line, sizeof line, "%s%s=%s\n", prefix, k->name, slot);
			break;
		case OPTION_TYPE_CUSTOM:
			continue;
		}
		sha256_update(h, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : 0);
	}
}

/* SHA-256 of the settings a model depends on: the retrain section (gate
 * included) and the learner's. */
static void config_digest(const struct job *j, char hex[SHA256_HEX_BYTES])
{
	struct sha256 h;
	unsigned char digest[SHA256_DIGEST_BYTES];
	sha256_init(&h);
	digest_table(&h, &retrain_option_table, j->ro, "retrain.");
	digest_table(&h, &learner_option_table, &j->cfg->learner, "learner.");
	for (size_t i = 0; i < j->ro->n_gate; i++) {
		char line[200], text[150];
		gate_threshold_text(&j->ro->gate[i], text, sizeof text);
		int n = snprintf(line, sizeof line, "retrain.gate[%zu]=%s %.17g\n", i, text,
				 j->ro->gate[i].value);
		sha256_update(&h, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : 0);
	}
	sha256_final(&h, digest);
	sha256_hex(digest, hex);
}

static void summary(struct job *j, int deploy, int chosen, int best, const char *version)
{
	const struct holdout_figures *f = &j->cand[chosen].figures;
	char *line = j->res->line;
	size_t len = sizeof j->res->line;
	int n = snprintf(line, len,
			 "%s%s %s (%s): hold-out AUC %.3f, log loss %.4f (base rate %.4f), "
			 "taken-trade Sharpe %.2f over %ld of %ld trades",
			 j->o->dry_run ? "dry run: would " : "", deploy ? "deploy" : "reject",
			 version[0] ? version : "the candidate", candidate_names[chosen], f->auc,
			 f->log_loss, j->base_rate.log_loss, f->taken.sharpe, f->taken.count,
			 f->all.count);
	if (deploy || n < 0 || (size_t)n >= len)
		return;
	if (best == CAND_DEPLOYED)
		n += snprintf(line + n, len - (size_t)n,
			      "; the deployed model %s is still the best by %s", j->deployed_id,
			      j->ro->primary_metric);
	json_t *c;
	size_t i;
	json_array_foreach(j->checks, i, c)
	{
		if (json_is_true(json_object_get(c, "pass")) || (size_t)n >= len)
			continue;
		n += snprintf(line + n, len - (size_t)n, "; %s",
			      json_string_value(json_object_get(c, "text")));
	}
}

/* The event of a decision (see retrain.h). */
static json_t *event_json(struct job *j, int deploy, const char *version, json_t *reasons,
			  json_t *figures)
{
	char at[40];
	calendar_format_iso(j->o->now_us, at, sizeof at);
	const char *what = deploy ? "deploy" : "reject";
	return json_pack("{s:s,s:s,s:o,s:s,s:b,s:O,s:O,s:O,s:o,s:o,s:s}", "event", what, "time", at,
			 "version", version && version[0] ? json_string(version) : json_null(),
			 "decision", what, "dry_run", j->o->dry_run, "reasons", reasons, "checks",
			 j->checks, "figures", figures ? figures : json_null(), "data",
			 data_json(j), "optimizer", optimizer_json(j), "trigger", j->trigger);
}

/* Records (or, in a dry run, only reports) the decision. chosen < 0: no
 * candidate was trained (too little data). */
static int decide(struct job *j, int chosen, int best, int passed)
{
	char version[REGISTRY_VERSION_MAX] = "", at[40], digest[SHA256_HEX_BYTES];
	int deploy = chosen >= 0 && best == chosen && passed;
	json_t *reasons = json_array(), *figures = NULL, *entry = NULL, *metrics = NULL,
	       *manifest = NULL, *model = NULL;
	char *model_text = NULL, *metrics_text = NULL;
	size_t model_len = 0, metrics_len = 0;
	int rc = -1;

	if (!reasons)
		return fail(j, ENOMEM, "out of memory");
	calendar_format_iso(j->o->now_us, at, sizeof at);
	if (chosen >= 0 && !j->o->dry_run)
		registry_new_id(j->reg, j->o->now_us, version, sizeof version);
	if (chosen >= 0) {
		figures = json_pack("{s:s,s:o,s:o,s:o}", "chosen", candidate_names[chosen],
				    "candidates", candidates_json(j), "base_rate",
				    holdout_figures_json(&j->base_rate), "deployed_version",
				    j->deployed_id ? json_string(j->deployed_id) : json_null());
		if (!figures)
			goto nomem;
		if (best == CAND_DEPLOYED && !deploy) {
			char text[400];
			snprintf(
			    text, sizeof text,
			    "the deployed model %s is still the best candidate by %s (%.4f, "
			    "%s %.4f)",
			    j->deployed_id, j->ro->primary_metric,
			    holdout_metric(&j->cand[CAND_DEPLOYED].figures, j->ro->primary_metric),
			    candidate_names[chosen],
			    holdout_metric(&j->cand[chosen].figures, j->ro->primary_metric));
			json_array_append_new(reasons, json_string(text));
		}
		if (deploy) {
			char text[200];
			snprintf(text, sizeof text,
				 "the %s model passed every threshold of the gate",
				 candidate_names[chosen]);
			json_array_append_new(reasons, json_string(text));
		}
	}
	if (add_reasons(reasons, j->checks, !deploy))
		goto nomem;
	summary(j, deploy, chosen >= 0 ? chosen : CAND_BATCH, best, version);
	if (chosen < 0) {
		int n = snprintf(j->res->line, sizeof j->res->line,
				 "%sreject: too little data to retrain",
				 j->o->dry_run ? "dry run: " : "");
		json_t *r;
		size_t i;
		json_array_foreach(reasons, i, r)
		{
			if (n >= 0 && (size_t)n < sizeof j->res->line)
				n += snprintf(j->res->line + n, sizeof j->res->line - (size_t)n,
					      "; %s", json_string_value(r));
		}
	}
	j->res->event = event_json(j, deploy, version, reasons, figures);
	if (!j->res->event)
		goto nomem;
	j->res->outcome = deploy ? RETRAIN_DEPLOYED : RETRAIN_REJECTED;
	snprintf(j->res->version, sizeof j->res->version, "%s", version);
	if (j->o->dry_run) {
		rc = 0;
		goto out;
	}

	struct registry_candidate rc_in = {.event = j->res->event, .now_us = j->o->now_us};
	if (chosen >= 0) {
		const struct holdout_figures *f = &j->cand[chosen].figures;
		model = model_to_json(j->cand[chosen].model);
		model_text = model ? jsontext_dump(model, JSONTEXT_PRETTY, &model_len) : NULL;
		metrics =
		    json_pack("{s:i,s:s,s:s,s:O,s:O,s:O,s:O,s:o,s:o}", "format", METRICS_FORMAT,
			      "version", version, "chosen", candidate_names[chosen], "figures",
			      figures, "checks", j->checks, "reasons", reasons, "decision",
			      json_object_get(j->res->event, "decision"), "data", data_json(j),
			      "optimizer", optimizer_json(j));
		metrics_text =
		    metrics ? jsontext_dump(metrics, JSONTEXT_PRETTY, &metrics_len) : NULL;
		config_digest(j, digest);
		manifest = json_pack("{s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:{s:I,s:I,s:I},s:s,s:i}",
				     "format", MANIFEST_FORMAT, "version", version, "trained_at",
				     at, "candidate", candidate_names[chosen], "data_from",
				     jsontext_time_or_null(j->from_us), "data_to",
				     jsontext_time_or_null(j->to_us), "holdout_from",
				     jsontext_time_or_null(j->holdout_us), "samples", "window",
				     (json_int_t)j->n_window, "train", (json_int_t)j->n_train,
				     "holdout", (json_int_t)j->n_holdout, "config_digest", digest,
				     "model_format", MODEL_FORMAT);
		const char *reason = json_string_value(json_array_get(reasons, 0));
		entry = json_pack(
		    "{s:s,s:o,s:{s:I,s:I,s:I,s:I},s:s,s:o,s:{s:s,s:O,s:O},s:s}", "trained_at", at,
		    "data", data_json(j), "samples", "outcomes", (json_int_t)j->data.n, "window",
		    (json_int_t)j->n_window, "train", (json_int_t)j->n_train, "holdout",
		    (json_int_t)j->n_holdout, "candidate", candidate_names[chosen], "metrics",
		    holdout_figures_json(f), "decision", "decision", deploy ? "deploy" : "reject",
		    "reasons", reasons, "checks", j->checks, "reason", reason ? reason : "");
		if (!model_text || !metrics_text || !manifest || !entry)
			goto nomem;
		rc_in.id = version;
		rc_in.entry = entry;
		rc_in.deploy = deploy;
		rc_in.model_json = model_text;
		rc_in.model_len = model_len;
		rc_in.metrics_json = metrics_text;
		rc_in.metrics_len = metrics_len;
		rc_in.manifest = manifest;
	}
	rc = registry_record(j->reg, &rc_in, j->err);
	goto out;
nomem:
	fail(j, ENOMEM, "out of memory");
out:
	json_decref(reasons);
	json_decref(figures);
	json_decref(entry);
	json_decref(metrics);
	json_decref(manifest);
	json_decref(model);
	free(model_text);
	free(metrics_text);
	return rc;
}

static int run(struct job *j)
{
	struct holdout_set h;
	int go = should_retrain(j);
	if (go <= 0)
		return go;
	if (read_outcomes(j) || split(j))
		return -1;
	int enough = enough_data(j);
	if (enough < 0)
		return -1;
	if (!enough)
		return decide(j, -1, -1, 0);
	if (fit_batch(j) || replay_online(j) || load_deployed(j) || score_holdout(j, &h) ||
	    figures(j, &h))
		return -1;
	const char *metric = j->ro->primary_metric;
	int chosen = better(&j->cand[CAND_ONLINE].figures, &j->cand[CAND_BATCH].figures, metric)
			 ? CAND_ONLINE
			 : CAND_BATCH;
	int best = chosen;
	if (j->cand[CAND_DEPLOYED].model &&
	    !better(&j->cand[chosen].figures, &j->cand[CAND_DEPLOYED].figures, metric))
		best = CAND_DEPLOYED;
	int passed =
	    gate_apply(j->ro, &j->cand[chosen].figures,
		       j->cand[CAND_DEPLOYED].model ? &j->cand[CAND_DEPLOYED].figures : NULL,
		       &j->base_rate, j->checks);
	if (passed < 0)
		return fail(j, ENOMEM, "out of memory");
	return decide(j, chosen, best, passed);
}

/* The deploy or reject hook with the decision: the event's version,
 * decision, reasons and figures (and its checks, data and trigger), after
 * a one-line text. */
static void fire_hook(const struct retrain_job_options *o, const struct retrain_result *res)
{
	json_t *e = res->event;
	int deploy = res->outcome == RETRAIN_DEPLOYED;
	json_t *fields = json_pack(
	    "{s:s,s:O,s:O,s:s,s:O,s:O,s:O,s:O,s:O}", "text", res->line, "version",
	    json_object_get(e, "version"), "decision", json_object_get(e, "decision"), "decided_by",
	    REGISTRY_BY_GATE, "reasons", json_object_get(e, "reasons"), "figures",
	    json_object_get(e, "figures"), "checks", json_object_get(e, "checks"), "data",
	    json_object_get(e, "data"), "trigger", json_object_get(e, "trigger"));
	if (fields)
		(void)hook_fire(&o->config->hooks, o->root_dir, o->state_dir,
				deploy ? HOOK_DEPLOY : HOOK_REJECT, fields, NULL, NULL);
	json_decref(fields);
}

int retrain_run(const struct retrain_job_options *o, struct retrain_result *res, struct err *err)
{
	struct err ignored = {0};
	struct job j = {.o = o, .cfg = o->config, .ro = &o->config->retrain, .res = res};
	int rc = -1;
	j.err = err ? err : &ignored;
	memset(res, 0, sizeof *res);
	res->outcome = RETRAIN_SKIPPED;
	if (option_check(&retrain_option_table, j.ro, j.err))
		return err_prefix(j.err, "retrain");
	j.checks = json_array();
	if (!j.checks)
		return fail(&j, ENOMEM, "out of memory");
	if (o->dry_run) {
		/* Nothing is written, not even a recovery: the registry is read
		 * as it stands (always whole), and the deployed model from its
		 * bundle, never from current.json. */
		j.registry = registry_load(o->models_dir, j.err);
	} else {
		struct registry_options ro = {o->models_dir, o->state_dir, j.ro->keep_bundles,
					      o->log, o->log_ctx};
		j.reg = registry_open(&ro, j.err);
		j.registry = j.reg ? json_incref(registry_doc(j.reg)) : NULL;
	}
	if (j.registry)
		rc = run(&j);
	json_decref(j.registry);
	registry_close(j.reg);
	data_release(&j.data);
	json_decref(j.learner_doc);
	json_decref(j.checks);
	for (int c = 0; c < CAND_COUNT; c++) {
		model_free(j.cand[c].model);
		free(j.cand[c].p);
	}
	free(j.holdout);
	free(j.h_label);
	free(j.h_full);
	free(j.h_pnl_usd);
	free(j.h_pnl_frac);
	free(j.h_day);
	free(j.capital);
	if (rc)
		retrain_result_release(res);
	else if (!o->dry_run && res->event)
		fire_hook(o, res);
	return rc;
}

void retrain_result_release(struct retrain_result *res)
{
	json_decref(res->event);
	res->event = NULL;
}

json_t *retrain_last_decision(const char *state_dir)
{
	return registry_last_logged(state_dir);
}
