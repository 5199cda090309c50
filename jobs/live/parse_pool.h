/*
 * parse_pool — record_parse() of many lines on several threads, the parsed
 * lines handed back in the order they were added.
 *
 * Parsing a line is most of the cost of reading history, and it depends on
 * the line and the profile only; applying records depends on their order.
 * So the caller's thread reads lines and adds them (each is copied), the
 * pool's threads parse them in units of PARSE_POOL_UNIT lines, and the
 * caller takes them back one by one, in order, and applies them. Whatever
 * the number of threads, the caller sees the same parsed lines in the same
 * order: the result of applying them never depends on it.
 *
 * The loop of a caller (one thread; the pool is not shared):
 *
 *     while (more lines) {
 *             if (parse_pool_full(pp)) {
 *                     apply(parse_pool_take(pp));
 *                     continue;
 *             }
 *             read a line; parse_pool_add(pp, &line, err);
 *     }
 *     while ((pl = parse_pool_take(pp)))
 *             apply(pl);
 *
 * At most a window of lines is held (PARSE_POOL_UNIT × a few units per
 * thread), so memory does not grow with the input. With jobs 1 no thread
 * is started and lines are parsed by the caller when taken; with more, the
 * caller also parses the unit it waits for when no thread has begun it.
 * Threads start when a first unit fills, and sleep when there is nothing
 * to parse (a live trickle of lines is parsed by the caller, unit by
 * partial unit, with no handover).
 *
 * Memory: parsed rows live in arenas of the pool (lib/base/jsonarena); the
 * pool installs jsonarena's allocation functions on first use, so create the
 * first pool before other threads use jansson.
 */
#ifndef TRADELEARN_PARSE_POOL_H
#define TRADELEARN_PARSE_POOL_H

#include <stddef.h>

#include "lib/base/err.h"
#include "lib/ingest/follow.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"

#define PARSE_POOL_MAX_JOBS 16
#define PARSE_POOL_UNIT 64 /* lines parsed by one thread at a time */

/* One line as added, and what record_parse() made of it. */
struct parsed_line {
	/* As added; data and path point to the pool's copies. */
	struct follow_line line;
	/* For a FOLLOW_LINE: record_parse()'s status, record, reason and
	 * detail. Other kinds are not parsed: status RECORD_IGNORED and an
	 * empty record. The record's row belongs to the pool: never
	 * record_release() it, and keep no reference into it after the next
	 * parse_pool_take(); r may be changed (filled from elsewhere). */
	enum record_status status;
	struct record r;
	const char *reason;
	char detail[256];
};

struct parse_pool;

/* A pool parsing with profile p (borrowed, outlives the pool) on jobs
 * threads, the caller's counted: 1 starts none; 0 means one per online
 * processor. More than PARSE_POOL_MAX_JOBS is that many. NULL with err set
 * on ENOMEM. */
struct parse_pool *parse_pool_new(const struct profile *p, int jobs, struct err *err);

/* The threads parsing, the caller's included. */
int parse_pool_jobs(const struct parse_pool *pp);

/* 1 when the window is full: take a line before adding another. */
int parse_pool_full(const struct parse_pool *pp);

/* Lines added and not yet taken. */
size_t parse_pool_pending(const struct parse_pool *pp);

/* Adds a copy of line (its data and path; line->source is kept as given,
 * the profile source it is parsed as). Returns 0, or -1 with err set to
 * ENOMEM (nothing added). Adding to a full pool is allowed and holds one
 * more unit. */
int parse_pool_add(struct parse_pool *pp, const struct follow_line *line, struct err *err);

/* The oldest line not taken yet, parsed (waiting for it, or parsing it,
 * when needed); NULL when there is none. It stays valid until the next
 * parse_pool_take(), parse_pool_clear() or parse_pool_free(). */
struct parsed_line *parse_pool_take(struct parse_pool *pp);

/* Drops every line not taken (after a failure, so that the next batch
 * starts afresh). */
void parse_pool_clear(struct parse_pool *pp);

/* Stops the threads and frees everything. NULL does nothing. */
void parse_pool_free(struct parse_pool *pp);

#endif
