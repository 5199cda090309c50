/*
 * promtext — Prometheus' text exposition format (version 0.0.4), the format
 * node_exporter's textfile collector reads from *.prom files.
 *
 * A metric family is announced once with promtext_family() (its # HELP and
 * # TYPE lines), then its samples follow with promtext_sample(), each with
 * up to two labels. Names are checked against the format's grammar
 * ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without ':'), label values escaped
 * (backslash, double quote, newline), values written so that they read
 * back exactly (integers as integers, NaN and ±Inf as Prometheus spells
 * them).
 */
#ifndef TRADELEARN_PROMTEXT_H
#define TRADELEARN_PROMTEXT_H

#include "lib/base/buf.h"
#include "lib/base/err.h"

/* 1 when name is a valid metric name (label: a valid label name). */
int promtext_valid_name(const char *name, int label);

/* "# HELP name help\n# TYPE name type\n"; type is "counter", "gauge",
 * "untyped"... -1 with err set (EINVAL for a bad name, ENOMEM). */
int promtext_family(struct buf *b, const char *name, const char *type, const char *help,
		    struct err *err);

/* "name{k1="v1",k2="v2"} value\n"; k1 (then k2) NULL for fewer labels. */
int promtext_sample(struct buf *b, const char *name, const char *k1, const char *v1, const char *k2,
		    const char *v2, double value, struct err *err);

#endif
