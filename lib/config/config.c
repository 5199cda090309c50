#include "lib/config/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/schedule.h"
#include "lib/analyze/knobs.h"

/* "PATH: problem" from a module that reports both in one text (the first
 * ": " ends PATH): PATH into key, the problem into e. */
static int split_path(const char *text, char *key, size_t keylen, struct err *e)
{
	const char *colon = strstr(text, ": ");
	snprintf(key, keylen, "%.*s", colon ? (int)(colon - text) : 0, text);
	return err_set(e, EINVAL, "%s", colon ? colon + 2 : text);
}

/* "profiles": each profile is checked now, so a bad one is refused at load
 * time, not when it is first used. */
static int read_profiles(void *opts, const struct option_key *o, json_t *v, char *sub,
			 size_t sublen, struct err *e)
{
	struct config *c = opts;
	const char *name;
	json_t *desc;
	(void)o;
	if (!json_is_object(v))
		return err_set(e, EINVAL, "must map names to profiles");
	json_object_foreach(v, name, desc)
	{
		struct profile p;
		struct err pe = {0};
		char key[ERR_MSG_MAX];
		if (profile_from_json(&p, name, desc, &pe)) {
			split_path(pe.msg, key, sizeof key, e);
			snprintf(sub, sublen, ".%s%s%s", name, key[0] ? "." : "", key);
			return -1;
		}
		profile_release(&p);
	}
	json_decref(c->profiles);
	c->profiles = json_incref(v);
	return 0;
}

/* "knobs", "knob_rules": kept as written, checked together by config_rules
 * (a rule may move a knob that "knobs" defines). */
static int keep_json(void *opts, const struct option_key *o, json_t *v, char *sub, size_t sublen,
		     struct err *e)
{
	json_t **slot = (json_t **)((char *)opts + o->offset);
	(void)sub, (void)sublen, (void)e;
	json_decref(*slot);
	*slot = json_incref(v);
	return 0;
}

/* learner.segment_by names a fixed field, or a category of one of p's
 * sources (p NULL: a built-in profile, which has none). */
static int check_segment_by(const struct config *c, const struct profile *p, char *key,
			    size_t keylen, struct err *e)
{
	const char *by = c->learner.segment_by;
	char known[512] = "";
	if (learner_segment_by_fixed(by))
		return 0;
	for (int s = 0; p && s < PROFILE_SOURCE_COUNT; s++)
		for (size_t i = 0; i < p->source[s].n_categories; i++) {
			const char *name = p->source[s].categories[i].name;
			if (strcmp(name, by) == 0)
				return 0;
			snprintf(known + strlen(known), sizeof known - strlen(known), ", %s", name);
		}
	snprintf(key, keylen, "learner.segment_by");
	return err_set(e, EINVAL,
		       "\"%s\" is not a categorical field of profile %s (regime, time_of_day, "
		       "day_of_week, side, timeframe, sector, symbol, strategy%s)",
		       by, c->profile_name, known);
}

/* The profile the config names must exist, the knobs a configured
 * profile lists must be knobs of the table, and learner.segment_by a
 * categorical field the profile has. */
static int check_profile(const struct config *c, const struct knobs_table *t, char *key,
			 size_t keylen, struct err *e)
{
	json_t *desc = c->profiles ? json_object_get(c->profiles, c->profile_name) : NULL;
	struct profile p;
	if (!desc) {
		if (profile_builtin_text(c->profile_name))
			return check_segment_by(c, NULL, key, keylen, e);
		snprintf(key, keylen, "profile");
		return err_set(e, EINVAL,
			       "unknown profile \"%s\" (built in: canonical, stock-bot; or define "
			       "it under \"profiles\")",
			       c->profile_name);
	}
	if (profile_from_json(&p, c->profile_name, desc, NULL))
		return 0; /* read_profiles refused it already */
	for (size_t i = 0; i < p.n_knobs; i++)
		if (knobs_find(t, p.knob[i]) < 0) {
			char known[KNOBS_MAX * KNOBS_NAME_MAX] = "";
			for (size_t k = 0; k < t->n_knobs; k++)
				snprintf(known + strlen(known), sizeof known - strlen(known),
					 "%s%s", k ? ", " : "", t->knobs[k].name);
			snprintf(key, keylen, "profiles.%s.knobs[%zu]", c->profile_name, i);
			err_set(e, EINVAL, "unknown knob \"%s\" (%s)", p.knob[i], known);
			profile_release(&p);
			return -1;
		}
	int bad = check_segment_by(c, &p, key, keylen, e);
	profile_release(&p);
	return bad;
}

static int config_rules(const void *opts, char *key, size_t keylen, struct err *e)
{
	const struct config *c = opts;
	struct knobs_table *t;
	struct err ke = {0};
	t = malloc(sizeof *t);
	if (!t) {
		snprintf(key, keylen, "knobs");
		return err_set(e, ENOMEM, "out of memory");
	}
	knobs_table_init(t);
	int bad =
	    (c->knobs || c->knob_rules) && knobs_table_from_json(t, c->knobs, c->knob_rules, &ke);
	if (bad)
		split_path(ke.msg, key, keylen, e);
	else
		bad = check_profile(c, t, key, keylen, e);
	free(t);
	return bad ? -1 : 0;
}

/* "sessions": [{"name", "from": "HH:MM", "to": "HH:MM"}, ...]: a clock
 * time read as minutes of the day, -1 when it is not one. */
static int read_clock(json_t *v, int *minutes)
{
	*minutes = schedule_parse_hhmm(json_string_value(v));
	return *minutes < 0 ? -1 : 0;
}

static int read_sessions(void *opts, const struct option_key *o, json_t *v, char *sub,
			 size_t sublen, struct err *e)
{
	struct config *c = opts;
	size_t i;
	json_t *item;
	(void)o;
	if (!json_is_array(v) || json_array_size(v) > CALENDAR_MAX_SESSIONS)
		return err_set(e, EINVAL, "must be a list of at most %d sessions",
			       CALENDAR_MAX_SESSIONS);
	c->n_sessions = 0;
	json_array_foreach(v, i, item)
	{
		struct calendar_session *s = &c->sessions[i];
		const char *name = json_string_value(json_object_get(item, "name"));
		const char *key;
		json_t *kv;
		snprintf(sub, sublen, "[%zu]", i);
		if (!json_is_object(item))
			return err_set(e, EINVAL, "must be {\"name\", \"from\", \"to\"}");
		json_object_foreach(item, key, kv) if (strcmp(key, "name") && strcmp(key, "from") &&
						       strcmp(key, "to"))
		{
			snprintf(sub, sublen, "[%zu].%s", i, key);
			return err_set(e, EINVAL, "unknown key (name, from, to)");
		}
		snprintf(sub, sublen, "[%zu].name", i);
		if (!name || !name[0] || strlen(name) >= sizeof s->name)
			return err_set(e, EINVAL, "must be a name of 1 to %d bytes",
				       CALENDAR_SESSION_NAME - 1);
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->sessions[k].name, name) == 0)
				return err_set(e, EINVAL, "\"%s\" twice", name);
		snprintf(s->name, sizeof s->name, "%s", name);
		snprintf(sub, sublen, "[%zu].from", i);
		if (read_clock(json_object_get(item, "from"), &s->from))
			return err_set(e, EINVAL, "must be \"HH:MM\"");
		snprintf(sub, sublen, "[%zu].to", i);
		if (read_clock(json_object_get(item, "to"), &s->to))
			return err_set(e, EINVAL, "must be \"HH:MM\"");
		if (s->from == s->to)
			return err_set(e, EINVAL, "must differ from \"from\"");
		c->n_sessions++;
	}
	sub[0] = '\0';
	return 0;
}

/* A Prometheus textfile: node_exporter's collector reads only *.prom. */
static int is_prom_file(const char *path)
{
	size_t n = strlen(path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return n > 5 && strcmp(path + n - 5, ".prom") == 0 && strlen(base) > 5;
}

#define T struct config
static const struct option_key config_keys[] = {
    OPTION_TEXT("profile", T, profile_name, "canonical", "a profile name", NULL),
    OPTION_TEXT("logs", T, logs, NULL, "a folder path", NULL),
    OPTION_TEXT("exchange_timezone", T, exchange_timezone, "America/New_York",
		"an IANA time zone such as \"America/New_York\" or \"UTC\"", calendar_zone_exists),
    OPTION_NUMBER(T, capital_usd, 100000, 0.01, 1e12),
    OPTION_NUMBER(T, max_line_bytes, 1 << 20, 64, 1 << 30),
    OPTION_NUMBER(T, quarantine_max_bytes, 64 << 20, 1 << 16, 1099511627776.0),
    OPTION_NUMBER(T, batch_lines, 4096, 1, 1000000),
    OPTION_NUMBER(T, rescan_interval_ms, 2000, 10, 3600000),
    OPTION_NUMBER(T, poll_interval_ms, 500, 10, 3600000),
    OPTION_TEXT("metrics_file", T, metrics_file, NULL, "a file path ending in .prom", is_prom_file),
    OPTION_SECTION(T, learner, learner_option_table),
    OPTION_SECTION(T, weights, weights_option_table),
    OPTION_SECTION(T, signals, signals_option_table),
    OPTION_SECTION(T, schedule, schedule_option_table),
    OPTION_SECTION(T, daily, postmarket_option_table),
    OPTION_SECTION(T, hooks, hook_option_table),
    OPTION_SECTION(T, retrain, retrain_option_table),
    OPTION_CUSTOM("knobs", T, knobs, keep_json, NULL),
    OPTION_CUSTOM("knob_rules", T, knob_rules, keep_json, NULL),
    OPTION_CUSTOM("profiles", T, profiles, read_profiles, NULL),
    OPTION_CUSTOM("sessions", T, sessions, read_sessions, NULL),
};
#undef T

const struct option_table config_option_table = OPTION_TABLE(config_keys, config_rules);

void config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	option_defaults(&config_option_table, c);
}

int config_load(struct config *c, const char *path, int required, struct err *e)
{
	struct err local;
	char *text = NULL;
	size_t len;
	json_error_t jerr;
	json_t *root = NULL;
	struct config tmp = *c;
	int rc = -1;

	if (!e)
		e = &local;
	if (durable_read_all(path, &text, &len, e)) {
		if (e->code == ENOENT && !required) {
			err_clear(e);
			return 0;
		}
		return err_prefix(e, "%s", path);
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		err_set(e, EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(e, EINVAL, "%s:1: the config must be a JSON object", path);
		goto out;
	}
	snprintf(tmp.path, sizeof tmp.path, "%s", path);
	tmp.profiles = tmp.knobs = tmp.knob_rules = NULL;
	/* The profiles are the file's own: so is the name of the one used. */
	snprintf(tmp.profile_name, sizeof tmp.profile_name, "canonical");
	struct option_source src = {path, text};
	if (option_read(&config_option_table, &tmp, root, &src, e)) {
		config_release(&tmp);
		goto out;
	}
	config_release(c);
	*c = tmp;
	rc = 0;
out:
	json_decref(root);
	free(text);
	return rc;
}

int config_profile(const struct config *c, const char *name, struct profile *p, struct err *e)
{
	json_t *desc = c->profiles ? json_object_get(c->profiles, name) : NULL;
	if (desc) {
		struct err pe = {0};
		if (profile_from_json(p, name, desc, &pe))
			return err_set(e, EINVAL, "profiles.%s.%s", name, pe.msg);
		return 0;
	}
	if (profile_builtin(p, name, NULL) == 0)
		return 0;
	return err_set(e, EINVAL,
		       "--profile: unknown profile \"%s\" (built in: canonical, stock-bot; or "
		       "define it under \"profiles\" in the config)",
		       name);
}

void config_release(struct config *c)
{
	json_decref(c->profiles);
	json_decref(c->knobs);
	json_decref(c->knob_rules);
	c->profiles = c->knobs = c->knob_rules = NULL;
}
