#include "jobs/live/parse_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/buf.h"
#include "lib/base/jsonarena.h"

/* Stream units per thread: enough that a thread finds one to parse while
 * the caller applies the ones before. */
#define UNITS_PER_JOB 4
/* A stream unit whose text grew past this (a very long line) gives it back. */
#define KEEP_TEXT_BYTES (4u << 20)
/* Arenas kept for the next batches. */
#define SPARE_ARENAS 32

/* IDLE: the caller's (free, being filled, or parsed by the caller itself);
 * READY: queued for whichever thread comes first; PARSING; PARSED. States
 * of queued units change under the lock. */
enum unit_state { UNIT_IDLE, UNIT_READY, UNIT_PARSING, UNIT_PARSED };

struct unit {
	struct unit *next; /* in the queue */
	enum unit_state state;
	const struct follow_line *in;
	struct short_term_parsed *out;
	size_t n;
	struct jsonarena *arena;
};

/* A unit of the stream: copies of its lines and what they parse into. */
struct stream_unit {
	struct unit u;
	size_t n, taken;
	int queued; /* handed to the threads (else parsed by the caller) */
	struct follow_line in[PARSE_POOL_UNIT];
	struct short_term_parsed out[PARSE_POOL_UNIT];
	/* While filling, where each line's bytes and path are in text (text
	 * moves as it grows); the pointers are set when the unit closes. */
	size_t data_at[PARSE_POOL_UNIT], path_at[PARSE_POOL_UNIT];
	struct buf text;
};

struct parse_pool {
	const struct profile *profile;
	int jobs;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a unit was queued, or stop */
	pthread_cond_t done; /* a unit was parsed */
	struct unit *queue_head, *queue_tail;
	pthread_t thread[PARSE_POOL_MAX_JOBS];
	int n_threads, started, stop;
	struct jsonarena *spare[SPARE_ARENAS];
	size_t n_spare;
	/* The stream (the caller's alone): a ring of units in use from head
	 * on, the last one possibly being filled. */
	struct stream_unit *ring;
	size_t n_ring, head, n_used, pending;
	struct stream_unit *fill, *taking;
};

static void parse_unit(const struct parse_pool *pp, struct unit *u)
{
	struct jsonarena *previous = jsonarena_enter(u->arena);
	for (size_t i = 0; i < u->n; i++)
		short_term_parse(pp->profile, &u->in[i], &u->out[i]);
	jsonarena_leave(previous);
}

/* Releases records parsed in arena a, before its reset. Entered, so that
 * what they came to reference outside it (an open position's category
 * value, set into a close's categories when applied) is let go as well;
 * the arena's own memory goes with the reset. */
static void release_parsed(struct jsonarena *a, struct short_term_parsed *line, size_t n)
{
	struct jsonarena *previous = jsonarena_enter(a);
	for (size_t i = 0; i < n; i++)
		short_term_parsed_release(&line[i]);
	jsonarena_leave(previous);
}

/* ---- the queue (under the lock) ------------------------------------------ */

static void *worker(void *arg);

/* The threads start with the first unit queued: a pool that only ever
 * sees a trickle (a live watch) never starts one. A thread that cannot be
 * started is one fewer: the caller parses what none takes. */
static void start_threads(struct parse_pool *pp)
{
	pp->started = 1;
	for (int i = 0; i < pp->jobs - 1; i++) {
		if (pthread_create(&pp->thread[pp->n_threads], NULL, worker, pp))
			break;
		pp->n_threads++;
	}
}

static void queue_push(struct parse_pool *pp, struct unit *u)
{
	u->state = UNIT_READY;
	u->next = NULL;
	if (pp->queue_tail)
		pp->queue_tail->next = u;
	else
		pp->queue_head = u;
	pp->queue_tail = u;
	if (!pp->started)
		start_threads(pp);
	pthread_cond_signal(&pp->work);
}

static struct unit *queue_pop(struct parse_pool *pp)
{
	struct unit *u = pp->queue_head;
	if (u) {
		pp->queue_head = u->next;
		if (!pp->queue_head)
			pp->queue_tail = NULL;
	}
	return u;
}

/* Parses u, just taken off the queue, outside the lock. */
static void parse_queued(struct parse_pool *pp, struct unit *u)
{
	u->state = UNIT_PARSING;
	pthread_mutex_unlock(&pp->lock);
	parse_unit(pp, u);
	pthread_mutex_lock(&pp->lock);
	u->state = UNIT_PARSED;
	pthread_cond_broadcast(&pp->done);
}

/* Until u (queued) is parsed, parses what is queued, u included, rather
 * than wait idle. */
static void wait_parsed(struct parse_pool *pp, struct unit *u)
{
	while (u->state != UNIT_PARSED) {
		struct unit *next = queue_pop(pp);
		if (next)
			parse_queued(pp, next);
		else
			pthread_cond_wait(&pp->done, &pp->lock);
	}
}

static void *worker(void *arg)
{
	struct parse_pool *pp = arg;
	pthread_setname_np(pthread_self(), "tl-parse");
	pthread_mutex_lock(&pp->lock);
	while (!pp->stop) {
		struct unit *u = queue_pop(pp);
		if (u)
			parse_queued(pp, u);
		else
			pthread_cond_wait(&pp->work, &pp->lock);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* ---- the pool ------------------------------------------------------------ */

int parse_pool_jobs(const struct parse_pool *pp)
{
	return pp->jobs;
}

struct parse_pool *parse_pool_new(const struct profile *p, int jobs, struct err *err)
{
	struct parse_pool *pp = calloc(1, sizeof *pp);
	if (!pp) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	if (jobs <= 0) {
		long online = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = online > 0
			   ? (int)(online < PARSE_POOL_MAX_JOBS ? online : PARSE_POOL_MAX_JOBS)
			   : 1;
	}
	pp->profile = p;
	pp->jobs = jobs < PARSE_POOL_MAX_JOBS ? jobs : PARSE_POOL_MAX_JOBS;
	pp->started = pp->jobs == 1; /* no thread to start */
	pp->n_ring = (size_t)pp->jobs * UNITS_PER_JOB;
	pthread_mutex_init(&pp->lock, NULL);
	pthread_cond_init(&pp->work, NULL);
	pthread_cond_init(&pp->done, NULL);
	pp->ring = calloc(pp->n_ring, sizeof *pp->ring);
	for (size_t i = 0; pp->ring && i < pp->n_ring; i++) {
		struct stream_unit *s = &pp->ring[i];
		buf_init(&s->text);
		s->u.in = s->in;
		s->u.out = s->out;
		if (!(s->u.arena = jsonarena_new()))
			break;
	}
	if (!pp->ring || !pp->ring[pp->n_ring - 1].u.arena) {
		parse_pool_free(pp);
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	jsonarena_install();
	return pp;
}

void parse_pool_free(struct parse_pool *pp)
{
	if (!pp)
		return;
	if (pp->ring && pp->ring[pp->n_ring - 1].u.arena)
		parse_pool_clear(pp); /* the stream's records, released */
	pthread_mutex_lock(&pp->lock);
	pp->stop = 1;
	pthread_cond_broadcast(&pp->work);
	pthread_mutex_unlock(&pp->lock);
	for (int i = 0; i < pp->n_threads; i++)
		pthread_join(pp->thread[i], NULL);
	for (size_t i = 0; pp->ring && i < pp->n_ring; i++) {
		jsonarena_free(pp->ring[i].u.arena);
		buf_release(&pp->ring[i].text);
	}
	for (size_t i = 0; i < pp->n_spare; i++)
		jsonarena_free(pp->spare[i]);
	free(pp->ring);
	pthread_mutex_destroy(&pp->lock);
	pthread_cond_destroy(&pp->work);
	pthread_cond_destroy(&pp->done);
	free(pp);
}

/* ---- batches ------------------------------------------------------------- */

static struct jsonarena *spare_arena(struct parse_pool *pp)
{
	struct jsonarena *a = NULL;
	pthread_mutex_lock(&pp->lock);
	if (pp->n_spare)
		a = pp->spare[--pp->n_spare];
	pthread_mutex_unlock(&pp->lock);
	return a ? a : jsonarena_new();
}

void parse_batch_release(struct parse_batch *b)
{
	struct parse_pool *pp = b->pool;
	for (size_t i = 0; i < b->n_arenas; i++) {
		struct jsonarena *a = b->arena[i];
		size_t first = i * PARSE_POOL_UNIT;
		if (first < b->n)
			release_parsed(a, b->line + first,
				       b->n - first < PARSE_POOL_UNIT ? b->n - first
								      : PARSE_POOL_UNIT);
		jsonarena_reset(a);
		pthread_mutex_lock(&pp->lock);
		if (pp->n_spare < SPARE_ARENAS) {
			pp->spare[pp->n_spare++] = a;
			a = NULL;
		}
		pthread_mutex_unlock(&pp->lock);
		jsonarena_free(a);
	}
	free(b->arena);
	free(b->line);
	memset(b, 0, sizeof *b);
}

int parse_pool_parse(struct parse_pool *pp, const struct follow_line *lines, size_t n,
		     struct parse_batch *out, struct err *err)
{
	size_t k = (n + PARSE_POOL_UNIT - 1) / PARSE_POOL_UNIT;
	struct unit *units = calloc(k ? k : 1, sizeof *units);
	memset(out, 0, sizeof *out);
	out->pool = pp;
	out->line = malloc((n ? n : 1) * sizeof *out->line);
	out->arena = calloc(k ? k : 1, sizeof *out->arena);
	if (!units || !out->line || !out->arena)
		goto fail;
	for (; out->n_arenas < k; out->n_arenas++)
		if (!(out->arena[out->n_arenas] = spare_arena(pp)))
			goto fail;
	for (size_t i = 0; i < k; i++) {
		size_t first = i * PARSE_POOL_UNIT;
		units[i] =
		    (struct unit){.in = lines + first,
				  .out = out->line + first,
				  .n = n - first < PARSE_POOL_UNIT ? n - first : PARSE_POOL_UNIT,
				  .arena = out->arena[i]};
	}
	if (k <= 1 || pp->jobs == 1) {
		for (size_t i = 0; i < k; i++)
			parse_unit(pp, &units[i]);
	} else {
		pthread_mutex_lock(&pp->lock);
		for (size_t i = 0; i < k; i++)
			queue_push(pp, &units[i]);
		for (size_t i = 0; i < k; i++)
			wait_parsed(pp, &units[i]);
		pthread_mutex_unlock(&pp->lock);
	}
	out->n = n;
	free(units);
	return 0;
fail:
	free(units);
	parse_batch_release(out);
	out->pool = pp;
	return err_set(err, ENOMEM, "out of memory");
}

/* ---- the stream ---------------------------------------------------------- */

int parse_pool_full(const struct parse_pool *pp)
{
	return pp->n_used == pp->n_ring && (!pp->fill || pp->fill->n == PARSE_POOL_UNIT);
}

size_t parse_pool_pending(const struct parse_pool *pp)
{
	return pp->pending;
}

/* Copies the line's path (once for a run of lines of one file), bytes and
 * a NUL after them into s's text. */
static int copy_line(struct stream_unit *s, const struct follow_line *line)
{
	size_t i = s->n, at = s->text.len;
	const char *path = line->path ? line->path : "";
	size_t len = line->kind == FOLLOW_LINE ? line->len : 0;
	int same_path = i > 0 && strcmp(s->text.data + s->path_at[i - 1], path) == 0;
	if ((!same_path && buf_add(&s->text, path, strlen(path) + 1)) ||
	    buf_add(&s->text, len ? line->data : "", len) || buf_add(&s->text, "", 1)) {
		buf_setlen(&s->text, at);
		return -1;
	}
	s->path_at[i] = same_path ? s->path_at[i - 1] : at;
	s->data_at[i] = same_path ? at : at + strlen(path) + 1;
	return 0;
}

/* Closes the unit being filled: its lines point into its text. */
static struct stream_unit *close_fill(struct parse_pool *pp)
{
	struct stream_unit *s = pp->fill;
	for (size_t i = 0; i < s->n; i++) {
		s->in[i].data = s->text.data + s->data_at[i];
		s->in[i].path = s->text.data + s->path_at[i];
	}
	s->u.n = s->n;
	pp->fill = NULL;
	return s;
}

int parse_pool_add(struct parse_pool *pp, const struct follow_line *line, struct err *err)
{
	if (!pp->fill) {
		if (pp->n_used == pp->n_ring)
			return err_set(err, ENOBUFS, "the parse pool is full: take a line first");
		pp->fill = &pp->ring[(pp->head + pp->n_used) % pp->n_ring];
		pp->fill->n = pp->fill->taken = 0;
		pp->fill->queued = 0;
		pp->fill->u.state = UNIT_IDLE;
		pp->n_used++;
	}
	struct stream_unit *s = pp->fill;
	if (copy_line(s, line)) {
		if (!s->n) {
			pp->fill = NULL;
			pp->n_used--;
		}
		return err_set(err, ENOMEM, "out of memory");
	}
	s->in[s->n++] = *line;
	pp->pending++;
	if (s->n == PARSE_POOL_UNIT) {
		close_fill(pp);
		if (pp->jobs > 1) {
			s->queued = 1;
			pthread_mutex_lock(&pp->lock);
			queue_push(pp, &s->u);
			pthread_mutex_unlock(&pp->lock);
		}
	}
	return 0;
}

/* The head unit goes back to the ring, all its lines taken (or dropped). */
static void recycle_head(struct parse_pool *pp)
{
	struct stream_unit *s = &pp->ring[pp->head];
	if (s == pp->fill)
		pp->fill = NULL;
	if (s == pp->taking)
		pp->taking = NULL;
	release_parsed(s->u.arena, s->out, s->u.n);
	s->n = s->taken = s->u.n = 0;
	s->queued = 0;
	s->u.state = UNIT_IDLE;
	jsonarena_reset(s->u.arena);
	if (s->text.alloc > KEEP_TEXT_BYTES)
		buf_release(&s->text);
	else
		buf_reset(&s->text);
	pp->head = (pp->head + 1) % pp->n_ring;
	pp->n_used--;
}

struct short_term_parsed *parse_pool_take(struct parse_pool *pp)
{
	struct stream_unit *s = pp->taking;
	/* Most takes: the next line of a unit parsed already. */
	if (s && s->taken < s->n) {
		pp->pending--;
		return &s->out[s->taken++];
	}
	if (!pp->pending)
		return NULL;
	if (s)
		recycle_head(pp);
	s = &pp->ring[pp->head];
	if (s == pp->fill)
		close_fill(pp);
	if (!s->queued) {
		/* Not full, or jobs 1: parsed here, with no handover. */
		parse_unit(pp, &s->u);
	} else {
		pthread_mutex_lock(&pp->lock);
		wait_parsed(pp, &s->u);
		pthread_mutex_unlock(&pp->lock);
	}
	pp->taking = s;
	pp->pending--;
	return &s->out[s->taken++];
}

void parse_pool_clear(struct parse_pool *pp)
{
	pthread_mutex_lock(&pp->lock);
	for (size_t k = 0; k < pp->n_used; k++) {
		struct stream_unit *s = &pp->ring[(pp->head + k) % pp->n_ring];
		if (s->queued)
			wait_parsed(pp, &s->u);
	}
	pthread_mutex_unlock(&pp->lock);
	while (pp->n_used)
		recycle_head(pp);
	pp->fill = pp->taking = NULL;
	pp->pending = 0;
}
