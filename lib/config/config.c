#include "lib/config/config.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/analyze/knobs.h"

void config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->profile_name, sizeof c->profile_name, "canonical");
	snprintf(c->exchange_timezone, sizeof c->exchange_timezone, "America/New_York");
	c->capital_usd = 100000;
	c->max_line_bytes = 1 << 20;
	c->batch_lines = 4096;
	c->rescan_interval_ms = 2000;
	c->poll_interval_ms = 500;
	c->learner.eta = 0.05;
	c->learner.l2 = 1e-4;
	c->learner.hash_bits = 12;
	c->learner.window = 500;
	c->learner.half_life_days = 30;
	c->learner.weight_min = 0.5;
	c->learner.weight_max = 2.0;
	c->learner.asymmetric = 0;
	c->weights.min_samples = 30;
	c->weights.step = 0.05;
	c->weights.min_mult = 0.25;
	c->weights.max_mult = 2.5;
	c->weights.ewma_alpha = 0.05;
	c->weights.evidence_half_life = 500;
	c->signals.horizon_hours = 24;
	c->signals.max_pending = 10000;
	c->schedule.daily_minute = 16 * 60 + 5;
	c->schedule.retrain_weekday = 6;
	c->schedule.retrain_minute = 60;
	schedule_calendar_init(&c->schedule.calendar);
	c->schedule.job_timeout_s = 1800;
	c->schedule.retry_backoff_s = 60;
	c->schedule.max_retries = 3;
	c->schedule.catch_up_days = 5;
	c->daily.missed_min_confidence = 0.60;
	c->daily.missed_min_score = NAN;
	c->daily.missed_window_minutes = 15;
	c->daily.missed_notional_usd = 1000;
	c->daily.stale_hours = 24;
	c->daily.min_trades = 10;
	c->daily.win_rate_drop = 0.08;
	c->daily.accuracy_drop = 0.10;
	c->daily.profit_factor_floor = 1.0;
	c->daily.profit_factor_baseline = 1.2;
	c->daily.retrain_after_days = 7;
	c->daily.sharpe_7d_floor = 0.3;
	c->daily.success_rate_floor = 0.40;
	c->daily.drift_lambda = 50;
}

/* One numeric key of a section: where it goes and what it may be. */
struct section_key {
	const char *name;
	enum { KEY_REAL, KEY_INT, KEY_BOOL } type;
	double min, max; /* inclusive */
	size_t offset;	 /* into struct config */
};

#define REAL(sec, f, lo, hi)                                                                       \
	{                                                                                          \
#f, KEY_REAL, lo, hi, offsetof(struct config, sec.f)                               \
	}
#define INT(sec, f, lo, hi)                                                                        \
	{                                                                                          \
#f, KEY_INT, lo, hi, offsetof(struct config, sec.f)                                \
	}
static const struct section_key learner_keys[] = {
    REAL(learner, eta, 1e-9, 10),
    REAL(learner, l2, 0, 10),
    INT(learner, hash_bits, 4, 20),
    INT(learner, window, 10, 1000000),
    REAL(learner, half_life_days, 0.01, 36500),
    REAL(learner, weight_min, 0.01, 100),
    REAL(learner, weight_max, 0.01, 100),
    {"asymmetric", KEY_BOOL, 0, 1, offsetof(struct config, learner.asymmetric)},
    {NULL, 0, 0, 0, 0},
};
static const struct section_key weights_keys[] = {
    INT(weights, min_samples, 1, 1000000),
    REAL(weights, step, 1e-6, 1),
    REAL(weights, min_mult, 0, 1),
    REAL(weights, max_mult, 1, 100),
    REAL(weights, ewma_alpha, 1e-6, 1),
    REAL(weights, evidence_half_life, 1, 1e9),
    {NULL, 0, 0, 0, 0},
};
static const struct section_key signals_keys[] = {
    REAL(signals, horizon_hours, 0.001, 100000),
    INT(signals, max_pending, 1, 100000000),
    {NULL, 0, 0, 0, 0},
};
static const struct section_key daily_keys[] = {
    REAL(daily, missed_min_confidence, 0, 1),
    REAL(daily, missed_min_score, -1e12, 1e12),
    REAL(daily, missed_window_minutes, 0, 1440),
    REAL(daily, missed_notional_usd, 0.01, 1e12),
    REAL(daily, stale_hours, 0.01, 1e6),
    INT(daily, min_trades, 1, 1000000),
    REAL(daily, win_rate_drop, 0, 1),
    REAL(daily, accuracy_drop, 0, 1),
    REAL(daily, profit_factor_floor, 0, 1000),
    REAL(daily, profit_factor_baseline, 0, 1000),
    REAL(daily, retrain_after_days, 0, 36500),
    REAL(daily, sharpe_7d_floor, -1000, 1000),
    REAL(daily, success_rate_floor, 0, 1),
    REAL(daily, drift_lambda, 0.001, 1e9),
    {NULL, 0, 0, 0, 0},
};
/* The numeric keys of "schedule"; its strings are read by read_schedule. */
static const struct section_key schedule_keys[] = {
    REAL(schedule, job_timeout_s, 1, 7 * 86400),
    REAL(schedule, retry_backoff_s, 0, 86400),
    INT(schedule, max_retries, 0, 100),
    INT(schedule, catch_up_days, 0, 366),
    {NULL, 0, 0, 0, 0},
};
#undef REAL
#undef INT

/* Reads a section object into c; on a problem writes its key path into
 * keypath and the problem into problem, and returns -1. */
static int read_section(struct config *c, const char *section, json_t *v,
			const struct section_key *keys, char *keypath, size_t kplen, char *problem,
			size_t plen)
{
	const char *key;
	json_t *val;
	if (!json_is_object(v)) {
		snprintf(keypath, kplen, "%s", section);
		snprintf(problem, plen, "must be an object");
		return -1;
	}
	json_object_foreach(v, key, val)
	{
		const struct section_key *k = keys;
		while (k->name && strcmp(k->name, key) != 0)
			k++;
		snprintf(keypath, kplen, "%s.%s", section, key);
		if (!k->name) {
			size_t n = (size_t)snprintf(problem, plen, "unknown key (");
			for (k = keys; k->name && n < plen; k++)
				n += (size_t)snprintf(problem + n, plen - n, "%s%s",
						      k == keys ? "" : ", ", k->name);
			if (n < plen)
				snprintf(problem + n, plen - n, ")");
			return -1;
		}
		char *slot = (char *)c + k->offset;
		if (k->type == KEY_BOOL) {
			if (!json_is_boolean(val)) {
				snprintf(problem, plen, "must be true or false");
				return -1;
			}
			*(int *)slot = json_is_true(val);
			continue;
		}
		double d = json_number_value(val);
		if (!json_is_number(val) || (k->type == KEY_INT && !json_is_integer(val)) ||
		    !(d >= k->min && d <= k->max)) {
			snprintf(problem, plen, "must be %s from %g to %g",
				 k->type == KEY_INT ? "an integer" : "a number", k->min, k->max);
			return -1;
		}
		if (k->type == KEY_INT)
			*(long *)slot = (long)d;
		else
			*(double *)slot = d;
	}
	return 0;
}

/* "schedule": the string keys here, the numeric ones through read_section.
 * On a problem writes keypath and problem and returns -1. */
static int read_schedule(struct config *c, json_t *v, char *keypath, size_t kplen, char *problem,
			 size_t plen)
{
	json_t *numbers = json_object(), *val;
	const char *key;
	int rc = -1;

	if (!json_is_object(v)) {
		snprintf(keypath, kplen, "schedule");
		snprintf(problem, plen, "must be an object");
		goto out;
	}
	json_object_foreach(v, key, val)
	{
		const char *text = json_string_value(val);
		snprintf(keypath, kplen, "schedule.%s", key);
		if (strcmp(key, "daily") == 0) {
			int m = text ? schedule_parse_hhmm(text) : -1;
			if (m < 0) {
				snprintf(problem, plen, "must be a local time \"HH:MM\"");
				goto out;
			}
			c->schedule.daily_minute = m;
		} else if (strcmp(key, "retrain") == 0) {
			char day[16];
			int m = -1, wd = -1;
			if (json_is_null(val)) {
				c->schedule.retrain_weekday = -1;
				continue;
			}
			const char *sp = text ? strchr(text, ' ') : NULL;
			if (sp && (size_t)(sp - text) < sizeof day) {
				snprintf(day, sizeof day, "%.*s", (int)(sp - text), text);
				wd = schedule_parse_weekday(day);
				m = schedule_parse_hhmm(sp + 1);
			}
			if (wd < 0 || m < 0) {
				snprintf(problem, plen,
					 "must be \"WEEKDAY HH:MM\" (\"sunday 01:00\") or null");
				goto out;
			}
			c->schedule.retrain_weekday = wd;
			c->schedule.retrain_minute = m;
		} else if (strcmp(key, "trading_days") == 0) {
			unsigned mask = 0;
			if (text && strcmp(text, "mon-fri") == 0) {
				mask = SCHEDULE_MON_FRI;
			} else if (text && strcmp(text, "every day") == 0) {
				mask = SCHEDULE_EVERY_DAY;
			} else if (json_is_array(val)) {
				size_t i;
				json_t *d;
				json_array_foreach(val, i, d)
				{
					int wd = json_is_string(d)
						     ? schedule_parse_weekday(json_string_value(d))
						     : -1;
					if (wd < 0) {
						mask = 0;
						break;
					}
					mask |= 1u << wd;
				}
			}
			if (!mask) {
				snprintf(problem, plen,
					 "must be \"mon-fri\", \"every day\" or a list of weekday "
					 "names");
				goto out;
			}
			c->schedule.calendar.weekdays = mask;
		} else if (strcmp(key, "holidays") == 0) {
			size_t i;
			json_t *d;
			int32_t day;
			c->schedule.calendar.n_holidays = 0;
			if (!json_is_array(val)) {
				snprintf(problem, plen, "must be a list of dates \"YYYY-MM-DD\"");
				goto out;
			}
			json_array_foreach(val, i, d)
			{
				if (!json_is_string(d) ||
				    schedule_parse_day(json_string_value(d), &day) ||
				    schedule_calendar_add_holiday(&c->schedule.calendar, day)) {
					snprintf(keypath, kplen, "schedule.holidays[%zu]", i);
					snprintf(problem, plen,
						 "must be a date \"YYYY-MM-DD\" (at most %d)",
						 SCHEDULE_MAX_HOLIDAYS);
					goto out;
				}
			}
		} else {
			const struct section_key *k = schedule_keys;
			while (k->name && strcmp(k->name, key) != 0)
				k++;
			if (!k->name) {
				snprintf(
				    problem, plen,
				    "unknown key (daily, retrain, trading_days, holidays, "
				    "job_timeout_s, max_retries, retry_backoff_s, catch_up_days)");
				goto out;
			}
			json_object_set(numbers, key, val);
		}
	}
	rc = read_section(c, "schedule", numbers, schedule_keys, keypath, kplen, problem, plen);
out:
	json_decref(numbers);
	return rc;
}

/* The line where a dotted key path ("profiles.mybot.pnl_unit") is written:
 * a small scan of the JSON text that follows string and nesting rules, and
 * matches segment k only as an object key at depth k+1 inside the object of
 * segment k-1. When a segment is not found, the line of the deepest match. */
static int line_of(const char *text, const char *path)
{
	const char *seg = path, *p = text, *best = text;
	int depth = 0, want = 1; /* depth at which the next segment is a key */
	size_t seglen = strcspn(seg, ".");

	while (*p) {
		char c = *p;
		if (c == '"') {
			const char *start = ++p;
			while (*p && *p != '"')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			const char *end = p;
			if (*p)
				p++;
			const char *q = p;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				q++;
			if (*q == ':' && depth == want && (size_t)(end - start) == seglen &&
			    strncmp(start, seg, seglen) == 0) {
				best = start;
				if (!seg[seglen])
					break;
				seg += seglen + 1;
				seglen = strcspn(seg, ".");
				want++;
			}
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			/* Leaving the object of the last matched segment: the path
			 * is not in it. */
			if (depth-- == want && want > 1)
				break;
		}
		p++;
	}
	int line = 1;
	for (const char *x = text; x < best; x++)
		line += *x == '\n';
	return line;
}

static int refuse(const char *file, const char *text, const char *keypath, const char *problem,
		  char *err, size_t errlen)
{
	/* An array element ("knob_rules[2].if") is found by its array's key:
	 * the line scan follows object keys only. */
	char lookup[512];
	snprintf(lookup, sizeof lookup, "%.*s", (int)strcspn(keypath, "["), keypath);
	snprintf(err, errlen, "%s:%d: %s: %s", file, line_of(text, lookup), keypath, problem);
	return -1;
}

static int get_positive(json_t *v, double *out)
{
	if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
		return -1;
	*out = json_number_value(v);
	return 0;
}

int config_load(struct config *c, const char *path, int required, char *err, size_t errlen)
{
	struct err derr;
	char *text = NULL;
	size_t len;
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;
	int rc = -1;
	struct config tmp = *c;

	if (durable_read_all(path, &text, &len, &derr)) {
		if (errno == ENOENT && !required)
			return 0;
		snprintf(err, errlen, "%s: %s", path, derr.msg);
		return -1;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s:1: the config must be a JSON object", path);
		goto out;
	}
	snprintf(tmp.path, sizeof tmp.path, "%s", path);
	tmp.profiles = tmp.knobs = tmp.knob_rules = NULL;
	json_object_foreach(root, key, v)
	{
		double d;
		if (strcmp(key, "profile") == 0) {
			if (!json_is_string(v) ||
			    json_string_length(v) >= sizeof tmp.profile_name) {
				refuse(path, text, key, "must be a profile name", err, errlen);
				goto out;
			}
			snprintf(tmp.profile_name, sizeof tmp.profile_name, "%s",
				 json_string_value(v));
		} else if (strcmp(key, "logs") == 0) {
			if (!json_is_string(v) || !json_string_length(v)) {
				refuse(path, text, key, "must be a folder path", err, errlen);
				goto out;
			}
			snprintf(tmp.logs, sizeof tmp.logs, "%s", json_string_value(v));
		} else if (strcmp(key, "exchange_timezone") == 0) {
			const char *z = json_string_value(v);
			if (!z || strlen(z) >= sizeof tmp.exchange_timezone ||
			    !calendar_zone_exists(z)) {
				refuse(path, text, key,
				       "must be an IANA time zone such as \"America/New_York\" or "
				       "\"UTC\"",
				       err, errlen);
				goto out;
			}
			snprintf(tmp.exchange_timezone, sizeof tmp.exchange_timezone, "%s", z);
		} else if (strcmp(key, "capital_usd") == 0) {
			if (get_positive(v, &tmp.capital_usd)) {
				refuse(path, text, key, "must be a positive number", err, errlen);
				goto out;
			}
		} else if (strcmp(key, "max_line_bytes") == 0 || strcmp(key, "batch_lines") == 0 ||
			   strcmp(key, "rescan_interval_ms") == 0 ||
			   strcmp(key, "poll_interval_ms") == 0) {
			if (!json_is_integer(v) || get_positive(v, &d)) {
				refuse(path, text, key, "must be a positive integer", err, errlen);
				goto out;
			}
			if (key[0] == 'm')
				tmp.max_line_bytes = (uint64_t)d;
			else if (key[0] == 'b')
				tmp.batch_lines = (long)d;
			else if (key[0] == 'r')
				tmp.rescan_interval_ms = (long)d;
			else
				tmp.poll_interval_ms = (long)d;
		} else if (strcmp(key, "schedule") == 0) {
			char keypath[300], problem[300];
			if (read_schedule(&tmp, v, keypath, sizeof keypath, problem,
					  sizeof problem)) {
				refuse(path, text, keypath, problem, err, errlen);
				goto out;
			}
		} else if (strcmp(key, "knobs") == 0 || strcmp(key, "knob_rules") == 0) {
			/* Checked below, once both are known: a rule may
			 * move a knob the "knobs" section defines. */
			json_t **slot = key[4] == '_' ? &tmp.knob_rules : &tmp.knobs;
			*slot = json_incref(v);
		} else if (strcmp(key, "learner") == 0 || strcmp(key, "weights") == 0 ||
			   strcmp(key, "signals") == 0 || strcmp(key, "daily") == 0) {
			char keypath[300], problem[300];
			const struct section_key *keys = key[0] == 'l'	 ? learner_keys
							 : key[0] == 'w' ? weights_keys
							 : key[0] == 'd' ? daily_keys
									 : signals_keys;
			if (read_section(&tmp, key, v, keys, keypath, sizeof keypath, problem,
					 sizeof problem)) {
				refuse(path, text, keypath, problem, err, errlen);
				goto out;
			}
		} else if (strcmp(key, "profiles") == 0) {
			const char *pname;
			json_t *pv;
			if (!json_is_object(v)) {
				refuse(path, text, key, "must map names to profiles", err, errlen);
				goto out;
			}
			/* Validate each now so a bad profile is refused at load
			 * time, not when it is first used. */
			json_object_foreach(v, pname, pv)
			{
				struct profile p;
				char perr[600], keypath[900];
				if (profile_from_json(&p, pname, pv, perr, sizeof perr)) {
					char *colon = strstr(perr, ": ");
					snprintf(keypath, sizeof keypath, "profiles.%s.%.*s", pname,
						 colon ? (int)(colon - perr) : 0, perr);
					refuse(path, text, keypath, colon ? colon + 2 : perr, err,
					       errlen);
					goto out;
				}
				profile_release(&p);
			}
			tmp.profiles = json_incref(v);
		} else {
			refuse(path, text, key,
			       "unknown key (profile, logs, exchange_timezone, capital_usd, "
			       "max_line_bytes, batch_lines, rescan_interval_ms, poll_interval_ms, "
			       "learner, weights, signals, schedule, daily, knobs, knob_rules, "
			       "profiles)",
			       err, errlen);
			goto out;
		}
	}
	if (tmp.knobs || tmp.knob_rules) {
		struct knobs_table *t = malloc(sizeof *t);
		char problem[600], keypath[300];
		if (!t) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
		knobs_table_init(t);
		int bad =
		    knobs_table_from_json(t, tmp.knobs, tmp.knob_rules, problem, sizeof problem);
		free(t);
		if (bad) {
			char *colon = strstr(problem, ": ");
			snprintf(keypath, sizeof keypath, "%.*s",
				 colon ? (int)(colon - problem) : 0, problem);
			refuse(path, text, keypath, colon ? colon + 2 : problem, err, errlen);
			goto out;
		}
	}
	config_release(c);
	*c = tmp;
	rc = 0;
out:
	if (rc) {
		json_decref(tmp.profiles);
		json_decref(tmp.knobs);
		json_decref(tmp.knob_rules);
	}
	json_decref(root);
	free(text);
	return rc;
}

int config_profile(const struct config *c, const char *name, struct profile *p, char *err,
		   size_t errlen)
{
	json_t *desc = c->profiles ? json_object_get(c->profiles, name) : NULL;
	if (desc) {
		char perr[600];
		if (profile_from_json(p, name, desc, perr, sizeof perr)) {
			snprintf(err, errlen, "profiles.%s.%s", name, perr);
			return -1;
		}
		return 0;
	}
	if (profile_builtin(p, name) == 0)
		return 0;
	snprintf(err, errlen,
		 "profile: unknown profile \"%s\" (built in: canonical, stock-bot; or define it "
		 "under \"profiles\" in the config)",
		 name);
	return -1;
}

void config_release(struct config *c)
{
	json_decref(c->profiles);
	json_decref(c->knobs);
	json_decref(c->knob_rules);
	c->profiles = c->knobs = c->knob_rules = NULL;
}
