/*
 * promtext — Prometheus' text exposition format (see promtext.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/base/promtext.h"

int promtext_valid_name(const char *name, int label)
{
	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return 0;
	for (const char *c = name; *c; c++) {
		int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			 (*c >= '0' && *c <= '9') || *c == '_' || (!label && *c == ':');
		if (!ok)
			return 0;
	}
	return 1;
}

static int add(struct buf *b, const char *text, struct err *err)
{
	if (buf_add(b, text, strlen(text)))
		return err_set(err, ENOMEM, "out of memory");
	return 0;
}

/* HELP text escapes backslash and newline; label values also the quote. */
static int add_escaped(struct buf *b, const char *text, int quote, struct err *err)
{
	for (const char *c = text; *c; c++) {
		const char *out = *c == '\\'		 ? "\\\\"
				  : *c == '\n'		 ? "\\n"
				  : (quote && *c == '"') ? "\\\""
							 : NULL;
		if (out ? add(b, out, err)
			: (buf_add(b, c, 1) ? err_set(err, ENOMEM, "out of memory") : 0))
			return -1;
	}
	return 0;
}

int promtext_family(struct buf *b, const char *name, const char *type, const char *help,
		    struct err *err)
{
	if (!promtext_valid_name(name, 0))
		return err_set(err, EINVAL, "%s: not a metric name", name ? name : "(null)");
	if (add(b, "# HELP ", err) || add(b, name, err) || add(b, " ", err) ||
	    add_escaped(b, help, 0, err) || add(b, "\n# TYPE ", err) || add(b, name, err) ||
	    add(b, " ", err) || add(b, type, err) || add(b, "\n", err))
		return -1;
	return 0;
}

static int add_label(struct buf *b, const char *sep, const char *key, const char *value,
		     struct err *err)
{
	if (!promtext_valid_name(key, 1) || strncmp(key, "__", 2) == 0)
		return err_set(err, EINVAL, "%s: not a label name", key);
	return add(b, sep, err) || add(b, key, err) || add(b, "=\"", err) ||
		       add_escaped(b, value ? value : "", 1, err) || add(b, "\"", err)
		   ? -1
		   : 0;
}

int promtext_sample(struct buf *b, const char *name, const char *k1, const char *v1, const char *k2,
		    const char *v2, double value, struct err *err)
{
	char num[40];
	if (!promtext_valid_name(name, 0))
		return err_set(err, EINVAL, "%s: not a metric name", name ? name : "(null)");
	if (add(b, name, err))
		return -1;
	if (k1 && (add_label(b, "{", k1, v1, err) || (k2 && add_label(b, ",", k2, v2, err)) ||
		   add(b, "}", err)))
		return -1;
	if (isnan(value))
		snprintf(num, sizeof num, "NaN");
	else if (isinf(value))
		snprintf(num, sizeof num, "%s", value > 0 ? "+Inf" : "-Inf");
	else if (value == floor(value) && fabs(value) < 9.007199254740992e15)
		snprintf(num, sizeof num, "%.0f", value);
	else
		snprintf(num, sizeof num, "%.17g", value);
	return add(b, " ", err) || add(b, num, err) || add(b, "\n", err) ? -1 : 0;
}
