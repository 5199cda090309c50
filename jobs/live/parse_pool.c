#include "lib/ingest/parse_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/buf.h"
#include "lib/base/jsonarena.h"

/* Units per thread in the window: enough that a thread finds one ready to
 * parse while the caller applies the ones before. */
#define UNITS_PER_JOB 4
/* A unit whose text grew past this (a very long line) gives it back. */
#define KEEP_TEXT_BYTES (4u << 20)

/* A unit goes FREE → FILLING (the caller adds lines) → READY (closed,
 * waiting for a thread) → PARSING → PARSED (taken from by the caller) →
 * FREE. The caller alone touches FREE and FILLING units; states change
 * under the lock. */
enum unit_state { UNIT_FREE, UNIT_FILLING, UNIT_READY, UNIT_PARSING, UNIT_PARSED };

struct unit {
	enum unit_state state;
	size_t n, taken;
	struct parsed_line line[PARSE_POOL_UNIT];
	/* While filling, where each line's bytes and path are in text (text
	 * moves as it grows); the pointers are set when the unit closes. */
	size_t data_at[PARSE_POOL_UNIT], path_at[PARSE_POOL_UNIT];
	struct buf text;
	struct jsonarena *arena;
};

struct parse_pool {
	const struct profile *profile;
	int jobs;
	struct unit *unit; /* a ring of n_units */
	size_t n_units;
	size_t head;   /* the oldest unit in use */
	size_t n_used; /* units in use from head on; the last may be FILLING */
	size_t pending;
	/* The caller's own: the unit it adds to (FILLING), and the one it
	 * takes from (PARSED), or NULL. */
	struct unit *fill, *taking;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a unit became READY, or stop */
	pthread_cond_t done; /* a unit became PARSED */
	pthread_t thread[PARSE_POOL_MAX_JOBS];
	int n_threads, started, stop;
};

static struct unit *unit_at(struct parse_pool *pp, size_t k)
{
	return &pp->unit[(pp->head + k) % pp->n_units];
}

static void parse_unit(const struct parse_pool *pp, struct unit *u)
{
	struct jsonarena *previous = jsonarena_enter(u->arena);
	for (size_t i = 0; i < u->n; i++) {
		struct parsed_line *pl = &u->line[i];
		if (pl->line.kind == FOLLOW_LINE) {
			pl->status = record_parse(
			    pp->profile, (enum profile_source_id)pl->line.source, pl->line.data,
			    pl->line.len, &pl->r, &pl->reason, pl->detail, sizeof pl->detail);
		} else {
			memset(&pl->r, 0, sizeof pl->r);
			pl->status = RECORD_IGNORED;
			pl->reason = NULL;
			pl->detail[0] = '\0';
		}
	}
	jsonarena_leave(previous);
}

/* The oldest READY unit, or NULL. Under the lock. */
static struct unit *claim_ready(struct parse_pool *pp)
{
	for (size_t k = 0; k < pp->n_used; k++) {
		struct unit *u = unit_at(pp, k);
		if (u->state == UNIT_READY)
			return u;
	}
	return NULL;
}

/* Parses u (PARSING) outside the lock; called and returns with it held. */
static void parse_claimed(struct parse_pool *pp, struct unit *u)
{
	pthread_mutex_unlock(&pp->lock);
	parse_unit(pp, u);
	pthread_mutex_lock(&pp->lock);
	u->state = UNIT_PARSED;
	pthread_cond_broadcast(&pp->done);
}

static void *worker(void *arg)
{
	struct parse_pool *pp = arg;
	pthread_setname_np(pthread_self(), "tradelearn-parse");
	pthread_mutex_lock(&pp->lock);
	while (!pp->stop) {
		struct unit *u = claim_ready(pp);
		if (u) {
			u->state = UNIT_PARSING;
			parse_claimed(pp, u);
		} else
			pthread_cond_wait(&pp->work, &pp->lock);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* The threads start with the first full unit: a pool that only ever sees
 * a trickle (a live watch) never starts one. A thread that cannot be
 * started is one fewer: the caller parses what none takes. Under the lock. */
static void start_threads(struct parse_pool *pp)
{
	pp->started = 1;
	for (int i = 0; i < pp->jobs - 1; i++) {
		if (pthread_create(&pp->thread[pp->n_threads], NULL, worker, pp))
			break;
		pp->n_threads++;
	}
}

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
	if (jobs > PARSE_POOL_MAX_JOBS)
		jobs = PARSE_POOL_MAX_JOBS;
	pp->profile = p;
	pp->jobs = jobs;
	pp->n_units = (size_t)jobs * UNITS_PER_JOB;
	pp->unit = calloc(pp->n_units, sizeof *pp->unit);
	if (!pp->unit) {
		free(pp);
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&pp->lock, NULL);
	pthread_cond_init(&pp->work, NULL);
	pthread_cond_init(&pp->done, NULL);
	for (size_t i = 0; i < pp->n_units; i++) {
		buf_init(&pp->unit[i].text);
		if (!(pp->unit[i].arena = jsonarena_new())) {
			parse_pool_free(pp);
			err_set(err, ENOMEM, "out of memory");
			return NULL;
		}
	}
	jsonarena_install();
	return pp;
}

int parse_pool_full(const struct parse_pool *pp)
{
	return pp->n_used == pp->n_units && (!pp->fill || pp->fill->n == PARSE_POOL_UNIT);
}

size_t parse_pool_pending(const struct parse_pool *pp)
{
	return pp->pending;
}

/* Closes the filling unit: its lines point into its text, and a thread
 * (or the caller) may parse it. A full unit wakes a thread; a partial one
 * is closed by parse_pool_take(), whose caller parses it at once. Under the
 * lock. */
static void close_filling(struct parse_pool *pp)
{
	struct unit *u = pp->fill;
	for (size_t i = 0; i < u->n; i++) {
		u->line[i].line.data = u->text.data + u->data_at[i];
		u->line[i].line.path = u->text.data + u->path_at[i];
	}
	u->state = UNIT_READY;
	pp->fill = NULL;
	if (u->n == PARSE_POOL_UNIT && pp->jobs > 1) {
		if (!pp->started)
			start_threads(pp);
		pthread_cond_signal(&pp->work);
	}
}

/* Copies the line's path (once for a run of lines of one file), bytes and
 * a NUL after them into u's text. */
static int copy_line(struct unit *u, const struct follow_line *line)
{
	size_t i = u->n, at = u->text.len;
	const char *path = line->path ? line->path : "";
	int same_path = i > 0 && strcmp(u->text.data + u->path_at[i - 1], path) == 0;
	if (!same_path && buf_add(&u->text, path, strlen(path) + 1))
		return -1;
	if (buf_add(&u->text, line->kind == FOLLOW_LINE ? line->data : "",
		    line->kind == FOLLOW_LINE ? line->len : 0) ||
	    buf_add(&u->text, "", 1)) {
		buf_setlen(&u->text, at);
		return -1;
	}
	u->path_at[i] = same_path ? u->path_at[i - 1] : at;
	u->data_at[i] = same_path ? at : at + strlen(path) + 1;
	return 0;
}

int parse_pool_add(struct parse_pool *pp, const struct follow_line *line, struct err *err)
{
	if (!pp->fill) {
		if (pp->n_used == pp->n_units)
			return err_set(err, ENOBUFS, "the parse pool is full: take a line first");
		pthread_mutex_lock(&pp->lock);
		pp->fill = unit_at(pp, pp->n_used++);
		pp->fill->state = UNIT_FILLING;
		pp->fill->n = pp->fill->taken = 0;
		pthread_mutex_unlock(&pp->lock);
	}
	struct unit *u = pp->fill;
	if (copy_line(u, line)) {
		if (!u->n) {
			pthread_mutex_lock(&pp->lock);
			u->state = UNIT_FREE;
			pp->n_used--;
			pp->fill = NULL;
			pthread_mutex_unlock(&pp->lock);
		}
		return err_set(err, ENOMEM, "out of memory");
	}
	u->line[u->n++].line = *line;
	pp->pending++;
	if (u->n == PARSE_POOL_UNIT) {
		pthread_mutex_lock(&pp->lock);
		close_filling(pp);
		pthread_mutex_unlock(&pp->lock);
	}
	return 0;
}

/* Gives the head unit back, all its lines taken (or dropped). Under the
 * lock. */
static void recycle_head(struct parse_pool *pp)
{
	struct unit *u = unit_at(pp, 0);
	if (u == pp->fill)
		pp->fill = NULL;
	if (u == pp->taking)
		pp->taking = NULL;
	u->state = UNIT_FREE;
	u->n = u->taken = 0;
	jsonarena_reset(u->arena);
	if (u->text.alloc > KEEP_TEXT_BYTES)
		buf_release(&u->text);
	else
		buf_reset(&u->text);
	pp->head = (pp->head + 1) % pp->n_units;
	pp->n_used--;
}

struct parsed_line *parse_pool_take(struct parse_pool *pp)
{
	struct unit *u = pp->taking;
	/* Most takes: the next line of a unit already parsed. */
	if (u && u->taken < u->n) {
		pp->pending--;
		return &u->line[u->taken++];
	}
	if (!pp->pending)
		return NULL;
	pthread_mutex_lock(&pp->lock);
	if (u)
		recycle_head(pp);
	u = unit_at(pp, 0);
	if (u == pp->fill)
		close_filling(pp);
	/* Parse the head unit when no thread has begun it; while a thread
	 * parses it, parse a later one rather than wait idle. */
	while (u->state != UNIT_PARSED) {
		struct unit *other = u->state == UNIT_READY ? u : claim_ready(pp);
		if (other) {
			other->state = UNIT_PARSING;
			parse_claimed(pp, other);
		} else {
			pthread_cond_wait(&pp->done, &pp->lock);
		}
	}
	pthread_mutex_unlock(&pp->lock);
	pp->taking = u;
	pp->pending--;
	return &u->line[u->taken++];
}

void parse_pool_clear(struct parse_pool *pp)
{
	pthread_mutex_lock(&pp->lock);
	for (;;) {
		int busy = 0;
		for (size_t k = 0; k < pp->n_used; k++)
			busy |= unit_at(pp, k)->state == UNIT_PARSING;
		if (!busy)
			break;
		pthread_cond_wait(&pp->done, &pp->lock);
	}
	while (pp->n_used)
		recycle_head(pp);
	pp->pending = 0;
	pthread_mutex_unlock(&pp->lock);
}

void parse_pool_free(struct parse_pool *pp)
{
	if (!pp)
		return;
	pthread_mutex_lock(&pp->lock);
	pp->stop = 1;
	pthread_cond_broadcast(&pp->work);
	pthread_mutex_unlock(&pp->lock);
	for (int i = 0; i < pp->n_threads; i++)
		pthread_join(pp->thread[i], NULL);
	for (size_t i = 0; i < pp->n_units; i++) {
		jsonarena_free(pp->unit[i].arena);
		buf_release(&pp->unit[i].text);
	}
	free(pp->unit);
	pthread_mutex_destroy(&pp->lock);
	pthread_cond_destroy(&pp->work);
	pthread_cond_destroy(&pp->done);
	free(pp);
}
