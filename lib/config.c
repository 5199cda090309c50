#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "durable.h"

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
	snprintf(err, errlen, "%s:%d: %s: %s", file, line_of(text, keypath), keypath, problem);
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
	struct durable_err derr;
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
	tmp.profiles = NULL;
	json_object_foreach(root, key, v)
	{
		double d;
		if (strcmp(key, "profile") == 0) {
			if (!json_is_string(v) || json_string_length(v) >= sizeof tmp.profile_name) {
				refuse(path, text, key, "must be a profile name", err, errlen);
				goto out;
			}
			snprintf(tmp.profile_name, sizeof tmp.profile_name, "%s", json_string_value(v));
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
				       "must be an IANA time zone such as \"America/New_York\" or \"UTC\"",
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
			       "profiles)",
			       err, errlen);
			goto out;
		}
	}
	config_release(c);
	*c = tmp;
	rc = 0;
out:
	if (rc && tmp.profiles)
		json_decref(tmp.profiles);
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
	if (c->profiles)
		json_decref(c->profiles);
	c->profiles = NULL;
}
