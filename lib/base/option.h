/*
 * option — a module's settings as one table: each key's name, type, place in
 * the module's options struct, default and range, written once.
 *
 * The module that uses a setting owns its table (learner_option_table in
 * learner.c, ...). Its _init applies the defaults with option_defaults(), its
 * constructor refuses a struct filled by hand with option_check(), and the
 * config loader reads the user's JSON with option_read() against the very
 * same table, so the config can never accept what a module refuses.
 *
 * Numbers are inclusive ranges [min, max] in the unit the user writes. A
 * rule across keys (weight_min ≤ weight_max) is the table's check function,
 * run after every key of the table was read or checked.
 *
 * Messages name the key by its path from the table given:
 *   option_check:  "weight_min: must not be above weight_max (2)"
 *   option_read:   "FILE:LINE: learner.weight_min: must not be above weight_max (2)"
 * with LINE the line of the key in the JSON text (of its deepest part that is
 * present, when the key itself is not written: a default in conflict with a
 * key that is).
 */
#ifndef TRADELEARN_OPTION_H
#define TRADELEARN_OPTION_H

#include <math.h>
#include <stddef.h>
#include <jansson.h>

#include "lib/base/err.h"

struct option_key;
struct option_table;

enum option_type {
	OPTION_TYPE_REAL,    /* double */
	OPTION_TYPE_INT,     /* int */
	OPTION_TYPE_LONG,    /* long (int64_t) */
	OPTION_TYPE_ULONG,   /* unsigned long (uint64_t) */
	OPTION_TYPE_BOOL,    /* int, 0 or 1; written true or false */
	OPTION_TYPE_TEXT,    /* char[size]: a non-empty string that fits */
	OPTION_TYPE_SECTION, /* a struct with a table of its own, written as an object */
	OPTION_TYPE_GROUP,   /* the same, its keys written at this level behind a prefix */
	OPTION_TYPE_CUSTOM,  /* read by a function of the module */
};

/* Reads v, the value of key o, into opts (the struct the table describes).
 * On a problem returns -1 with the problem in e and, when the problem is
 * inside v, what to append to the key's path in sub ("[2]", ".name.key"). */
typedef int (*option_read_fn)(void *opts, const struct option_key *o, json_t *v, char *sub,
			      size_t sublen, struct err *e);

/* A rule across the keys of opts. On a problem returns -1 with the key at
 * fault (its path from the table: "weight_min", "knob_rules[0].if") in key
 * and the problem in e. */
typedef int (*option_check_fn)(const void *opts, char *key, size_t keylen, struct err *e);

struct option_key {
	const char *name;
	enum option_type type;
	size_t offset;	      /* of the field in the options struct */
	double def, min, max; /* numbers: the default and the range, in the unit written */
	double scale;	      /* integers: stored = written × scale (0: as written, an integer) */
	int none;	      /* REAL: NAN means none, is the default and is allowed */
	size_t size;	      /* TEXT: the buffer's size */
	const char *text;     /* TEXT: the default (NULL: ""); CUSTOM: the default as JSON */
	const char *what;     /* TEXT: what the value must be ("a profile name") */
	int (*valid)(const char *text);	  /* TEXT: 1 when acceptable; NULL: any */
	const struct option_table *table; /* SECTION, GROUP */
	option_read_fn read;		  /* CUSTOM */
};

struct option_table {
	const struct option_key *keys;
	size_t n_keys;
	option_check_fn check; /* NULL: no rule across keys */
};

#define OPTION_TABLE(keys, check)                                                                  \
	{                                                                                          \
		keys, sizeof(keys) / sizeof((keys)[0]), check                                      \
	}

/* The option type of a number field, from its C type (another type does
 * not compile). */
/* clang-format off */
#define OPTION_TYPE_OF(T, f)                                                                       \
	_Generic(((T *)0)->f,                                                                      \
		double: OPTION_TYPE_REAL,                                                          \
		int: OPTION_TYPE_INT,                                                              \
		long: OPTION_TYPE_LONG,                                                            \
		unsigned long: OPTION_TYPE_ULONG)
/* clang-format on */

/* A number named after its field. */
#define OPTION_NUMBER(T, f, d, lo, hi)                                                             \
	{                                                                                          \
		.name = #f, .type = OPTION_TYPE_OF(T, f), .offset = offsetof(T, f), .def = (d),    \
		.min = (lo), .max = (hi)                                                           \
	}
/* A real whose default is none (NAN). */
#define OPTION_REAL_OR_NONE(T, f, lo, hi)                                                          \
	{                                                                                          \
		.name = #f, .type = OPTION_TYPE_REAL, .offset = offsetof(T, f), .def = NAN,        \
		.min = (lo), .max = (hi), .none = 1                                                \
	}
/* An integer field set from a number written in another unit: stored =
 * written × scale (minutes written, microseconds stored: 60e6). */
#define OPTION_SCALED(key, T, f, d, lo, hi, factor)                                                \
	{                                                                                          \
		.name = key, .type = OPTION_TYPE_OF(T, f), .offset = offsetof(T, f), .def = (d),   \
		.min = (lo), .max = (hi), .scale = (factor)                                        \
	}
#define OPTION_BOOL(T, f, d)                                                                       \
	{                                                                                          \
		.name = #f, .type = OPTION_TYPE_BOOL, .offset = offsetof(T, f), .def = (d),        \
		.min = 0, .max = 1                                                                 \
	}
#define OPTION_TEXT(key, T, f, d, description, check)                                              \
	{                                                                                          \
		.name = key, .type = OPTION_TYPE_TEXT, .offset = offsetof(T, f),                   \
		.size = sizeof(((T *)0)->f), .text = (d), .what = (description), .valid = (check)  \
	}
#define OPTION_SECTION(T, f, t)                                                                    \
	{                                                                                          \
		.name = #f, .type = OPTION_TYPE_SECTION, .offset = offsetof(T, f), .table = &(t)   \
	}
#define OPTION_GROUP(prefix, T, f, t)                                                              \
	{                                                                                          \
		.name = prefix, .type = OPTION_TYPE_GROUP, .offset = offsetof(T, f), .table = &(t) \
	}
#define OPTION_CUSTOM(key, T, f, fn, d)                                                            \
	{                                                                                          \
		.name = key, .type = OPTION_TYPE_CUSTOM, .offset = offsetof(T, f), .read = (fn),   \
		.text = (d)                                                                        \
	}

/* Where a JSON object was read from, for "FILE:LINE:" in messages. */
struct option_source {
	const char *file;
	const char *text; /* the whole JSON text, NUL-terminated */
};

/* Writes every default of t into opts (sections and groups included). Other
 * fields of the struct are left as they are. */
void option_defaults(const struct option_table *t, void *opts);

/* Checks every number and flag of opts against t's ranges (sections and
 * groups included), then t's rules; text and custom keys are checked when
 * read. Returns 0, or -1 with "key.path: problem" in e (EINVAL). */
int option_check(const struct option_table *t, const void *opts, struct err *e);

/* Reads the JSON object obj into opts: each key of obj must be a key of t
 * and its value of the key's type and within its range; keys not written
 * keep their value in opts. Then t's rules (and those of each section and
 * group written). Returns 0, or -1 with "FILE:LINE: key.path: problem" in e
 * (EINVAL) naming the first problem; opts may then be partly written (read
 * into a copy). */
int option_read(const struct option_table *t, void *opts, json_t *obj,
		const struct option_source *src, struct err *e);

#endif
