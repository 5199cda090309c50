#include "lib/base/option.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PATH_MAX_LEN 512

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

/* "FILE:LINE: path: problem" (without a source: "path: problem"), EINVAL. */
static int refuse(const struct option_source *src, const char *path, struct err *e, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
static int refuse(const struct option_source *src, const char *path, struct err *e, const char *fmt,
		  ...)
{
	char problem[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof problem, fmt, ap);
	va_end(ap);
	if (!src)
		return err_set(e, EINVAL, "%s: %s", path, problem);
	/* An array element ("knob_rules[2].if") is found by its array's key:
	 * the line scan follows object keys only. */
	char lookup[PATH_MAX_LEN];
	snprintf(lookup, sizeof lookup, "%.*s", (int)strcspn(path, "["), path);
	return err_set(e, EINVAL, "%s:%d: %s: %s", src->file, line_of(src->text, lookup), path,
		       problem);
}

/* The problem a callee left in e, kept while e is rewritten. */
static void take_problem(struct err *e, char *problem, size_t len)
{
	snprintf(problem, len, "%s", e && e->msg[0] ? e->msg : "refused");
}

/* a, sep and b one after the other into out (len bytes), cut to fit. */
static void concat(char *out, size_t len, const char *a, const char *sep, const char *b)
{
	const char *parts[3] = {a, sep, b};
	size_t n = 0;
	for (int i = 0; i < 3; i++) {
		size_t k = strlen(parts[i]);
		if (k > len - 1 - n)
			k = len - 1 - n;
		memcpy(out + n, parts[i], k);
		n += k;
	}
	out[n] = '\0';
}

/* "path.key", or either alone when the other is empty. */
static void join(char *out, size_t len, const char *path, const char *key)
{
	concat(out, len, path, path[0] && key[0] ? "." : "", key);
}

static int is_integer_key(const struct option_key *o)
{
	return o->type != OPTION_TYPE_REAL && o->type != OPTION_TYPE_BOOL && !o->scale;
}

static int refuse_value(const struct option_source *src, const char *path,
			const struct option_key *o, struct err *e)
{
	if (o->type == OPTION_TYPE_BOOL)
		return refuse(src, path, e, "must be true or false");
	if (is_integer_key(o))
		return refuse(src, path, e, "must be an integer from %lld to %lld",
			      (long long)o->min, (long long)o->max);
	return refuse(src, path, e, "must be a number from %g to %g", o->min, o->max);
}

/* The bounds are below 2^53, so an integer in range is exact as a double. */
static void store(const struct option_key *o, char *slot, double written)
{
	double v = o->scale ? written * o->scale : written;
	switch (o->type) {
	case OPTION_TYPE_REAL:
		*(double *)slot = written;
		break;
	case OPTION_TYPE_INT:
		*(int *)slot = (int)llround(v);
		break;
	case OPTION_TYPE_BOOL:
		*(int *)slot = written != 0;
		break;
	case OPTION_TYPE_LONG:
		*(long *)slot = (long)llround(v);
		break;
	case OPTION_TYPE_ULONG:
		*(unsigned long *)slot = (unsigned long)llround(v);
		break;
	default:
		break;
	}
}

/* The value of a number or flag, in the unit written. */
static double value(const struct option_key *o, const char *slot)
{
	double v;
	switch (o->type) {
	case OPTION_TYPE_REAL:
		return *(const double *)slot;
	case OPTION_TYPE_INT:
	case OPTION_TYPE_BOOL:
		v = *(const int *)slot;
		break;
	case OPTION_TYPE_LONG:
		v = (double)*(const long *)slot;
		break;
	case OPTION_TYPE_ULONG:
		v = (double)*(const unsigned long *)slot;
		break;
	default:
		return NAN;
	}
	return o->scale ? v / o->scale : v;
}

static int in_range(const struct option_key *o, double v)
{
	return (v >= o->min && v <= o->max) || (o->none && isnan(v));
}

void option_defaults(const struct option_table *t, void *opts)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct option_key *o = &t->keys[i];
		char *slot = (char *)opts + o->offset;
		switch (o->type) {
		case OPTION_TYPE_SECTION:
		case OPTION_TYPE_GROUP:
			option_defaults(o->table, slot);
			break;
		case OPTION_TYPE_TEXT:
			snprintf(slot, o->size, "%s", o->text ? o->text : "");
			break;
		case OPTION_TYPE_CUSTOM:
			/* The default is written as a user writes it, and read
			 * the same way. */
			if (o->text) {
				char sub[64];
				json_t *v = json_loads(o->text, JSON_DECODE_ANY, NULL);
				if (v)
					o->read(opts, o, v, sub, sizeof sub, NULL);
				json_decref(v);
			}
			break;
		default:
			store(o, slot, o->def);
			break;
		}
	}
}

/* Runs t's rule on opts; keyprefix is the prefix of the group t is, if any. */
static int run_rule(const struct option_table *t, const void *opts, const char *path,
		    const char *keyprefix, const struct option_source *src, struct err *e)
{
	char key[PATH_MAX_LEN] = "", full[PATH_MAX_LEN], problem[ERR_MSG_MAX];
	struct err local;
	if (!t->check)
		return 0;
	if (!e)
		e = &local;
	err_clear(e);
	if (t->check(opts, key, sizeof key, e) == 0)
		return 0;
	take_problem(e, problem, sizeof problem);
	char joined[PATH_MAX_LEN];
	concat(joined, sizeof joined, keyprefix, "", key);
	join(full, sizeof full, path, joined);
	return refuse(src, full, e, "%s", problem);
}

static int check_object(const struct option_table *t, const char *base, const char *path,
			const char *keyprefix, struct err *e)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct option_key *o = &t->keys[i];
		const char *slot = base + o->offset;
		char name[PATH_MAX_LEN], full[PATH_MAX_LEN];
		concat(name, sizeof name, keyprefix, "", o->name);
		join(full, sizeof full, path, name);
		switch (o->type) {
		case OPTION_TYPE_SECTION:
			if (check_object(o->table, slot, full, "", e))
				return -1;
			break;
		case OPTION_TYPE_GROUP:
			if (check_object(o->table, slot, path, name, e))
				return -1;
			break;
		case OPTION_TYPE_TEXT:
		case OPTION_TYPE_CUSTOM:
			break;
		default:
			if (!in_range(o, value(o, slot)))
				return refuse_value(NULL, full, o, e);
			break;
		}
	}
	return run_rule(t, base, path, keyprefix, NULL, e);
}

int option_check(const struct option_table *t, const void *opts, struct err *e)
{
	return check_object(t, opts, "", "", e);
}

/* The key of t (or of one of its groups) named key; *base moves to the
 * struct that holds it. */
static const struct option_key *find(const struct option_table *t, const char *key, char **base)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct option_key *o = &t->keys[i];
		if (o->type == OPTION_TYPE_GROUP) {
			size_t n = strlen(o->name);
			char *inner = *base + o->offset;
			const struct option_key *found =
			    strncmp(key, o->name, n) == 0 ? find(o->table, key + n, &inner) : NULL;
			if (found) {
				*base = inner;
				return found;
			}
		} else if (strcmp(o->name, key) == 0) {
			return o;
		}
	}
	return NULL;
}

/* Appends ", name" for every key of t to buf (n bytes used of len). */
static size_t list_keys(const struct option_table *t, const char *keyprefix, char *buf, size_t len,
			size_t n)
{
	for (size_t i = 0; i < t->n_keys && n < len; i++) {
		const struct option_key *o = &t->keys[i];
		if (o->type == OPTION_TYPE_GROUP) {
			char prefix[PATH_MAX_LEN];
			concat(prefix, sizeof prefix, keyprefix, "", o->name);
			n = list_keys(o->table, prefix, buf, len, n);
		} else {
			n += (size_t)snprintf(buf + n, len - n, "%s%s%s", n ? ", " : "", keyprefix,
					      o->name);
		}
	}
	return n;
}

/* The rules of t's groups, then t's own, after an object was read. */
static int read_rules(const struct option_table *t, const char *base, const char *path,
		      const char *keyprefix, const struct option_source *src, struct err *e)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct option_key *o = &t->keys[i];
		char prefix[PATH_MAX_LEN];
		if (o->type != OPTION_TYPE_GROUP)
			continue;
		concat(prefix, sizeof prefix, keyprefix, "", o->name);
		if (read_rules(o->table, base + o->offset, path, prefix, src, e))
			return -1;
	}
	return run_rule(t, base, path, keyprefix, src, e);
}

static int read_object(const struct option_table *t, char *opts, json_t *obj, const char *path,
		       const struct option_source *src, struct err *e)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return refuse(src, path, e, "must be an object");
	json_object_foreach(obj, key, v)
	{
		char *base = opts, full[PATH_MAX_LEN];
		const struct option_key *o = find(t, key, &base);
		join(full, sizeof full, path, key);
		if (!o) {
			char known[ERR_MSG_MAX];
			list_keys(t, "", known, sizeof known, 0);
			return refuse(src, full, e, "unknown key (%s)", known);
		}
		char *slot = base + o->offset;
		switch (o->type) {
		case OPTION_TYPE_SECTION:
			if (read_object(o->table, slot, v, full, src, e))
				return -1;
			break;
		case OPTION_TYPE_TEXT: {
			const char *s = json_string_value(v);
			if (!s || !s[0] || json_string_length(v) >= o->size ||
			    (o->valid && !o->valid(s)))
				return refuse(src, full, e, "must be %s", o->what);
			snprintf(slot, o->size, "%s", s);
			break;
		}
		case OPTION_TYPE_CUSTOM: {
			char sub[PATH_MAX_LEN] = "", problem[ERR_MSG_MAX], where[PATH_MAX_LEN];
			struct err local;
			struct err *into = e ? e : &local;
			err_clear(into);
			if (o->read(base, o, v, sub, sizeof sub, into) == 0)
				break;
			take_problem(into, problem, sizeof problem);
			concat(where, sizeof where, full, "", sub);
			return refuse(src, where, e, "%s", problem);
		}
		default: {
			double d = json_number_value(v);
			int ok = o->type == OPTION_TYPE_BOOL ? json_is_boolean(v)
				 : is_integer_key(o)	     ? json_is_integer(v)
							     : json_is_number(v);
			if (o->type == OPTION_TYPE_BOOL)
				d = json_is_true(v);
			else if (is_integer_key(o))
				d = (double)json_integer_value(v);
			if (!ok || !(d >= o->min && d <= o->max))
				return refuse_value(src, full, o, e);
			store(o, slot, d);
			break;
		}
		}
	}
	return read_rules(t, opts, path, "", src, e);
}

int option_read(const struct option_table *t, void *opts, json_t *obj,
		const struct option_source *src, struct err *e)
{
	return read_object(t, opts, obj, "", src, e);
}
