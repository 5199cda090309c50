/*
 * parse_pool — lines parsed on several threads (short_term_parse), their
 * records applied in order by the caller.
 *
 * Parsing a line is most of the cost of reading history, and depends on
 * nothing but the line and the profile; applying records depends on their
 * order. A pool parses lines in units of PARSE_POOL_UNIT on its threads
 * and on the caller's, and hands them back in the order given, so the
 * result of applying them never depends on the number of threads.
 *
 * Two ways in, for the two readers of history:
 *
 *   - a batch: parse_pool_parse() parses the lines it is given and returns
 *     when all are done, the calling thread parsing too. A caller that
 *     reads ahead on a thread of its own (jobs/backfill) parses its chunks
 *     so, while another thread applies earlier ones.
 *
 *   - a stream (the pipeline's follower path): the caller adds lines one
 *     by one (each is copied) and takes them back parsed, in order, while
 *     the pool's threads parse the ones after:
 *
 *         while (more lines) {
 *                 if (parse_pool_full(pp)) {
 *                         apply(parse_pool_take(pp));
 *                         continue;
 *                 }
 *                 read a line; parse_pool_add(pp, &line, err);
 *         }
 *         while ((pl = parse_pool_take(pp)))
 *                 apply(pl);
 *
 *     At most a window of lines is held (a few units per thread), so
 *     memory does not grow with the input; a unit that is not full (a
 *     live trickle of lines) is parsed by the caller when taken, with no
 *     handover to a thread.
 *
 * Memory: a parsed record's jansson values (components, categories) are
 * made in an arena of the pool (lib/base/jsonarena), its strings in a
 * buffer of its own; the pool releases the records (never the caller:
 * short_term_parsed_release is not for them) when the batch is released
 * (parse_batch_release) or the stream line's unit is done with (the next
 * take after its last line, parse_pool_clear, parse_pool_free), so its
 * fields live until then. The pool installs jsonarena's allocation
 * functions when created: create the first pool before other threads use
 * jansson.
 *
 * Threads start at the first unit handed to them and sleep when there is
 * nothing to parse. With jobs 1 no thread starts and the caller parses
 * everything. One caller thread per way in: the stream is the caller's
 * alone; batches may be parsed by one thread and released by another.
 */
#ifndef TRADELEARN_PARSE_POOL_H
#define TRADELEARN_PARSE_POOL_H

#include <stddef.h>

#include "lib/base/err.h"
#include "lib/ingest/follow.h"
#include "lib/ingest/profile.h"
#include "jobs/live/short_term.h"

#define PARSE_POOL_MAX_JOBS 16
#define PARSE_POOL_UNIT 64 /* lines parsed by one thread at a time */

struct parse_pool;

/* Lines parsed by parse_pool_parse(), in the order given, with the memory
 * their records live in. */
struct parse_batch {
	struct short_term_parsed *line;
	size_t n;
	/* The pool's: */
	struct parse_pool *pool;
	struct jsonarena **arena;
	size_t n_arenas;
};

/* A pool parsing with profile p (borrowed, outlives the pool) on jobs
 * threads, the caller's counted: 1 starts none, 0 means one per online
 * processor, more than PARSE_POOL_MAX_JOBS is that many. NULL with err set
 * on ENOMEM. */
struct parse_pool *parse_pool_new(const struct profile *p, int jobs, struct err *err);

/* The threads parsing, the caller's included. */
int parse_pool_jobs(const struct parse_pool *pp);

/* Parses lines[0..n) (their data must stay valid while the batch is used:
 * the parsed lines point to it) into *out. Returns 0, or -1 with err set to
 * ENOMEM (out is then empty). */
int parse_pool_parse(struct parse_pool *pp, const struct follow_line *lines, size_t n,
		     struct parse_batch *out, struct err *err);

/* Gives a batch's memory back to its pool (which must still exist), from
 * any thread. A zeroed or released batch does nothing. */
void parse_batch_release(struct parse_batch *b);

/* The stream. 1 when the window is full: take a line before adding. */
int parse_pool_full(const struct parse_pool *pp);

/* Lines added and not yet taken. */
size_t parse_pool_pending(const struct parse_pool *pp);

/* Adds a copy of line (its data and path; line->source is the profile
 * source it is parsed as). Returns 0, or -1 with err set: ENOMEM, or
 * ENOBUFS when the window is full (nothing added either way). */
int parse_pool_add(struct parse_pool *pp, const struct follow_line *line, struct err *err);

/* The oldest line not taken yet, parsed (waiting for it, or parsing it);
 * NULL when there is none. It stays valid until the next parse_pool_take(),
 * parse_pool_clear() or parse_pool_free(). */
struct short_term_parsed *parse_pool_take(struct parse_pool *pp);

/* Drops every line of the stream not taken (after a failure). */
void parse_pool_clear(struct parse_pool *pp);

/* Stops the threads and frees everything; release its batches before.
 * NULL does nothing. */
void parse_pool_free(struct parse_pool *pp);

#endif
