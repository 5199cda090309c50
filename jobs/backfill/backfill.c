#include "jobs/backfill/backfill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/hash.h"
#include "lib/base/journal.h"
#include "lib/base/jsontext.h"
#include "lib/base/schedule.h"
#include "lib/ingest/follow.h"
#include "lib/ingest/logscan.h"
#include "lib/ingest/record.h"
#include "lib/store/state.h"
#include "jobs/daily/daily.h"
#include "jobs/live/parse_pool.h"
#include "jobs/live/pipeline.h"
#include "jobs/live/short_term.h"

#define CHUNK_TEXT (256u * 1024) /* a chunk of lines holds about this much text */
#define CHUNK_LINES 1024
#define QUEUE_DEPTH 4 /* chunks read ahead per source */
/* A commit writes the whole learned state, which grows with the history
 * (the feed's cursor, the learner's progress, the equity days): the replay
 * starts with a quarter of the config's batch_lines, so that a kill early
 * on finds a commit made, and doubles them at each commit up to
 * REPLAY_BATCH_GROWTH times batch_lines, so that commits cost little beside
 * the applying. Where batches end does not change the result. */
#define REPLAY_BATCH_FIRST 4
#define REPLAY_BATCH_GROWTH 8
#define MARKER ".backfill.json"
#define STAGING_MODELS ".models"
#define NO_START UINT64_MAX /* an entry not to be read (done, or a copy) */

/* Lines of one entry, read and parsed, on their way to be applied. */
struct chunk {
	struct chunk *next;
	size_t entry; /* in its source's entries */
	char *text;   /* the lines' bytes */
	size_t text_len;
	struct short_term_parsed *parsed; /* batch.line */
	struct parse_batch batch;
	size_t n;
	int ends_entry; /* the entry was read to its end after these lines */
	uint64_t
	    end_offset;	 /* then: where its lines end (the live file: before an unfinished line) */
	int has_handoff; /* the live file: its position for watch at end_offset */
	struct follow_position handoff;
	uint64_t disk_done; /* the source's bytes on disk read up to here */
};

struct source_feed {
	int active;
	enum profile_source_id id;
	struct logscan_entry *entries;
	size_t n_entries;
	char **shown;	  /* per entry: its name in quarantine lines */
	uint64_t *start;  /* per entry: the content offset to read from, NO_START */
	uint64_t *length; /* per entry: NO_START entries: how far it was read */

	/* The reading side (the reader thread, or the caller with jobs 1). */
	size_t p_entry;
	struct logscan_reader *reader;
	uint64_t p_offset;  /* the end of the last line read from reader */
	uint64_t disk_base; /* bytes on disk of the entries before p_entry */
	int p_finished;	    /* every entry was read */

	/* Between the two, under the mutex. */
	struct chunk *head, *tail;
	size_t depth;
	int wanted; /* the applying side waits for this source */

	/* The applying side. */
	struct chunk *cur;
	size_t cur_i;
	int exhausted;
	int in_entry;	   /* a line of c_entry was handed out, its end not reached */
	size_t c_entry;	   /* the entry of the last line handed out */
	uint64_t c_offset; /* and where that line ends */
	uint64_t entry_lines;
	json_t *done; /* [{head_len, head, length}] of the entries read to their end */
	/* done[i]'s head_len and head, decoded: an entry read to its end is
	 * looked for among all the others. */
	struct done_head {
		uint32_t len;
		uint64_t hash;
	} * done_head;
	size_t done_head_cap;
	int has_handoff;
	struct follow_position handoff;
	uint64_t disk_done;
	struct follow_done ring[FOLLOW_MAX_DONE]; /* the rotated files, for watch */
	size_t n_ring;
};

struct backfill {
	struct backfill_options o;
	char staging[4200], staging_models[4300];
	int staging_lock;
	int resumed;
	struct source_feed src[PROFILE_SOURCE_COUNT];
	struct pipeline_feed feed;
	struct pipeline *pipe;
	int64_t limit;		  /* lines with a time at or after it wait */
	int final;		  /* everything applied: commit the positions for watch */
	int32_t reported_through; /* the last day reported (the cursor) */
	int64_t newest;		  /* the newest record time handed out */
	uint64_t bytes_total, lines;
	struct parse_pool *parse;
	size_t batch_lines; /* lines per source in the next batch */
	/* The reader thread. */
	int threaded;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t produced, consumed;
	int quit;
	struct err thread_err;
	int thread_failed;
};

static void say(const struct backfill *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct backfill *b, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;
	if (!b->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	b->o.log(b->o.ctx, msg);
}

static void warn_entry(void *ctx, const char *msg)
{
	say(ctx, "%s", msg);
}

/* ---- the staging folder ------------------------------------------------ */

/* Removes path and everything under it (never following a link). */
static int remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char sub[4400];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		rc |= remove_tree(sub);
	}
	closedir(d);
	return rmdir(path) | rc;
}

/* What the pipeline rebuilds, and with rebuild what the daily job does:
 * not carried over from the old state. */
static int rebuilt(const char *name, int rebuild)
{
	static const char *const learned[] = {".lock",
					      STATE_FILE,
					      STATE_FILE ".prev",
					      "outcomes",
					      "signal_weights.json",
					      "exit_weights.json",
					      "signal_outcomes.json",
					      "health.json",
					      MARKER,
					      STAGING_MODELS};
	static const char *const reported[] = {"reports", "knobs.json", "knob_adjustments.jsonl",
					       "missed_signals.jsonl.zst"};
	unsigned long long g;
	char tail[16];
	for (size_t i = 0; i < sizeof learned / sizeof learned[0]; i++)
		if (!strcmp(name, learned[i]))
			return 1;
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++)
		if (!strcmp(name, state_output_path((enum state_output_id)i)))
			return 1;
	if (sscanf(name, "learner.%llu.%15s", &g, tail) == 2 || strstr(name, ".tmp."))
		return 1;
	for (size_t i = 0; rebuild && i < sizeof reported / sizeof reported[0]; i++)
		if (!strcmp(name, reported[i]))
			return 1;
	return 0;
}

/* Copies the files of from into to (folders one level down too: reports/),
 * each written whole and durably, leaving out what is rebuilt. */
static int carry_over(const char *from, const char *to, int rebuild, int top, struct err *err)
{
	DIR *d = opendir(from);
	struct dirent *e;
	int rc = 0;
	if (!d)
		return errno == ENOENT ? 0 : err_fail(err, "%s: %s", from, strerror(errno));
	while (rc == 0 && (e = readdir(d))) {
		char src[8800], dst[8800];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (top && rebuilt(e->d_name, rebuild)) || !strcmp(e->d_name, ".lock") ||
		    strstr(e->d_name, ".tmp."))
			continue;
		snprintf(src, sizeof src, "%s/%s", from, e->d_name);
		snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
		if (lstat(src, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && top) {
			rc = durable_mkdirs(dst, err) || carry_over(src, dst, rebuild, 0, err);
		} else if (S_ISREG(st.st_mode)) {
			char *data;
			size_t len;
			rc = durable_read_all(src, &data, &len, err);
			if (rc == 0) {
				rc = durable_replace(dst, data, len, err);
				free(data);
			}
		}
	}
	closedir(d);
	return rc ? -1 : 0;
}

static json_t *marker_json(const struct backfill *b)
{
	return json_pack("{s:i,s:s,s:s,s:b}", "format", 1, "profile", b->o.profile->name, "logs",
			 b->o.logs_dir, "rebuild", b->o.rebuild);
}

/* An interrupted backfill of the same settings is resumed; anything else
 * in the staging folder is thrown away. 1 to resume, 0 to start anew. */
static int can_resume(struct backfill *b)
{
	char path[4400];
	json_error_t jerr;
	snprintf(path, sizeof path, "%s/%s", b->staging, MARKER);
	json_t *have = json_load_file(path, 0, &jerr), *want = marker_json(b);
	int same = have && want && json_equal(have, want);
	json_decref(have);
	json_decref(want);
	return same;
}

/* Empties the staging folder (its lock kept) and carries the old state's
 * reports and journals over, then writes the marker. */
static int start_staging(struct backfill *b, struct err *err)
{
	char path[8800];
	DIR *d = opendir(b->staging);
	struct dirent *e;
	if (!d)
		return err_fail(err, "%s: %s", b->staging, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, ".lock"))
			continue;
		snprintf(path, sizeof path, "%s/%s", b->staging, e->d_name);
		if (remove_tree(path) != 0) {
			closedir(d);
			return err_fail(err, "%s: %s", path, strerror(errno));
		}
	}
	closedir(d);
	if (carry_over(b->o.state_dir, b->staging, b->o.rebuild, 1, err))
		return err_prefix(err, "carrying the reports over");
	json_t *m = marker_json(b);
	size_t len;
	char *text = m ? jsontext_dump(m, JSONTEXT_PRETTY, &len) : NULL;
	json_decref(m);
	if (!text)
		return err_set(err, ENOMEM, "out of memory");
	snprintf(path, sizeof path, "%s/%s", b->staging, MARKER);
	int rc = durable_replace(path, text, len, err);
	free(text);
	return rc;
}

/* ---- the entries to read ----------------------------------------------- */

struct time_ctx {
	const struct profile *profile;
	enum profile_source_id source;
};

static int64_t line_time(void *ctx, const char *line, size_t len)
{
	struct time_ctx *t = ctx;
	struct record r;
	const char *reason;
	char detail[64];
	int64_t ts = INT64_MIN;
	if (record_parse(t->profile, t->source, line, len, &r, &reason, detail, sizeof detail) !=
		RECORD_QUARANTINE &&
	    r.ts != CALENDAR_NONE)
		ts = r.ts;
	record_release(&r);
	return ts;
}

struct list_ctx {
	struct time_ctx t;
	struct backfill *b;
};

static int64_t list_time(void *ctx, const char *line, size_t len)
{
	return line_time(&((struct list_ctx *)ctx)->t, line, len);
}

static void list_warn(void *ctx, const char *msg)
{
	warn_entry(((struct list_ctx *)ctx)->b, msg);
}

static uint64_t hex_u64(const char *s)
{
	return s ? strtoull(s, NULL, 16) : 0;
}

/* Does a saved entry ({head_len, head}) describe e's start? */
/* saved's head, decoded ({0, 0} when it has none). */
static struct done_head saved_head(json_t *saved)
{
	json_int_t len = json_integer_value(json_object_get(saved, "head_len"));
	if (len <= 0 || len > LOGSCAN_HEAD_BYTES)
		return (struct done_head){0, 0};
	return (struct done_head){(uint32_t)len,
				  hex_u64(json_string_value(json_object_get(saved, "head")))};
}

static int is_head_of(const struct logscan_entry *e, struct done_head h)
{
	return h.len > 0 && logscan_entry_starts_with(e, h.len, h.hash);
}

static int is_saved_entry(const struct logscan_entry *e, json_t *saved)
{
	return is_head_of(e, saved_head(saved));
}

/* f->done_head made from f->done. -1 on ENOMEM. */
static int decode_done(struct source_feed *f)
{
	size_t n = json_array_size(f->done);
	if (BUF_ARRAY_GROW(f->done_head, n + 1, f->done_head_cap))
		return -1;
	for (size_t k = 0; k < n; k++)
		f->done_head[k] = saved_head(json_array_get(f->done, k));
	return 0;
}

/* Where reading of each entry starts, from the cursor of an interrupted
 * run (NULL: everything from its start). */
static void plan_source(struct source_feed *f, json_t *cursor)
{
	json_t *done = json_object_get(cursor, "done"), *entry = json_object_get(cursor, "entry");
	f->done = json_is_array(done) ? json_deep_copy(done) : json_array();
	for (size_t i = 0; i < f->n_entries; i++) {
		struct logscan_entry *e = &f->entries[i];
		json_t *v;
		size_t k;
		f->start[i] = 0;
		f->length[i] = 0;
		if (e->covered || e->head_len == 0) {
			f->start[i] = NO_START;
			f->length[i] = e->covered ? e->covered_length : 0;
			continue;
		}
		json_array_foreach(f->done, k, v)
		{
			if (!is_saved_entry(e, v))
				continue;
			uint64_t length =
			    (uint64_t)json_integer_value(json_object_get(v, "length"));
			/* A plain file may have grown since (the live one). */
			if (!e->compressed && !e->member[0] && (uint64_t)e->st.st_size > length) {
				f->start[i] = length;
			} else {
				f->start[i] = NO_START;
				f->length[i] = length;
			}
			break;
		}
		if (f->start[i] == 0 && entry && is_saved_entry(e, entry))
			f->start[i] =
			    (uint64_t)json_integer_value(json_object_get(entry, "offset"));
	}
}

static int list_sources(struct backfill *b, json_t *cursor, struct err *err)
{
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct source_feed *f = &b->src[s];
		const char *file = b->o.profile->source[s].file;
		f->id = (enum profile_source_id)s;
		if (!file[0])
			continue;
		f->active = 1;
		struct list_ctx lc = {{b->o.profile, f->id}, b};
		if (logscan_history(b->o.logs_dir, file, b->o.config->max_line_bytes, list_time,
				    &lc, list_warn, &f->entries, &f->n_entries, err))
			return -1;
		f->shown = calloc(f->n_entries + 1, sizeof *f->shown);
		f->start = calloc(f->n_entries + 1, sizeof *f->start);
		f->length = calloc(f->n_entries + 1, sizeof *f->length);
		if (!f->shown || !f->start || !f->length)
			return err_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < f->n_entries; i++) {
			const struct logscan_entry *e = &f->entries[i];
			size_t n = strlen(e->path) + strlen(e->member) + 2;
			if (!(f->shown[i] = malloc(n)))
				return err_set(err, ENOMEM, "out of memory");
			snprintf(f->shown[i], n, "%s%s%s", e->path, e->member[0] ? ":" : "",
				 e->member);
		}
		plan_source(
		    f, json_object_get(json_object_get(cursor, "sources"), profile_source_name(s)));
		if (!f->done || decode_done(f))
			return err_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < f->n_entries; i++)
			if (f->start[i] != NO_START)
				b->bytes_total += f->entries[i].bytes;
	}
	return 0;
}

/* ---- reading (the reader thread, or the caller) ------------------------- */

static void chunk_free(struct chunk *c)
{
	if (!c)
		return;
	parse_batch_release(&c->batch);
	free(c->text);
	free(c);
}

/* The position of the live file for watch, from the file itself (open at
 * fd, or by its name when fd < 0). */
static void take_handoff(struct chunk *c, const struct logscan_entry *e, int fd, uint64_t offset)
{
	struct err err;
	int own = fd < 0;
	if (own)
		fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	c->has_handoff =
	    fd >= 0 && follow_position_of_fd(fd, e->path, offset, &c->handoff, &err) == 0;
	if (own && fd >= 0)
		close(fd);
}

static enum follow_kind kind_of(enum logscan_kind k)
{
	return k == LOGSCAN_LINE ? FOLLOW_LINE : k == LOGSCAN_LONG ? FOLLOW_LONG : FOLLOW_TAIL;
}

/* Reads the next chunk of source f: lines of one entry, parsed. NULL when
 * every entry was read (p_finished set), or on failure (err set). */
static struct chunk *produce(struct backfill *b, struct source_feed *f, struct err *err)
{
	uint64_t max_line = b->o.config->max_line_bytes;
	struct follow_line *raw = NULL;
	struct chunk *c;

	if (f->p_entry >= f->n_entries) {
		f->p_finished = 1;
		return NULL;
	}
	const struct logscan_entry *e = &f->entries[f->p_entry];
	c = calloc(1, sizeof *c);
	if (!c) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	c->entry = f->p_entry;
	if (f->start[f->p_entry] == NO_START) {
		/* Done before, or a copy: nothing to read, its end is known. */
		c->ends_entry = 1;
		c->end_offset = f->length[f->p_entry];
		if (e->is_named)
			take_handoff(c, e, -1, c->end_offset);
		f->p_entry++;
		c->disk_done = f->disk_base;
		return c;
	}
	if (!f->reader) {
		struct err oerr = {0};
		f->reader = logscan_open_entry(e, max_line, &oerr);
		if (f->reader && f->start[f->p_entry] &&
		    logscan_skip(f->reader, f->start[f->p_entry], &oerr)) {
			logscan_close(f->reader);
			f->reader = NULL;
		}
		f->p_offset = f->start[f->p_entry];
		if (!f->reader) {
			say(b, "%s: %s; its lines are not read", f->shown[f->p_entry], oerr.msg);
			c->ends_entry = 1;
			c->end_offset = f->p_offset;
			f->p_entry++;
			c->disk_done = f->disk_base += e->bytes;
			return c;
		}
	}
	raw = malloc(CHUNK_LINES * sizeof *raw);
	c->text = malloc(CHUNK_TEXT + max_line + 1);
	if (!raw || !c->text) {
		free(raw);
		chunk_free(c);
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	size_t n = 0;
	while (n < CHUNK_LINES && c->text_len < CHUNK_TEXT) {
		struct logscan_line line;
		struct err rerr = {0};
		int got = logscan_next(f->reader, &line, &rerr);
		if (got < 0)
			say(b, "%s: %s; read up to there", f->shown[f->p_entry], rerr.msg);
		if (got <= 0) {
			c->ends_entry = 1;
			c->end_offset = f->p_offset;
			if (e->is_named)
				take_handoff(c, e, logscan_fd(f->reader), c->end_offset);
			break;
		}
		/* The live file's unfinished last line is watch's to read when
		 * its newline comes; a rotated file's is abandoned, as watch
		 * abandons it. */
		if (line.kind == LOGSCAN_TAIL && e->is_named)
			continue;
		struct follow_line *fl = &raw[n++];
		fl->kind = kind_of(line.kind);
		fl->source = (size_t)f->id;
		fl->path = f->shown[f->p_entry];
		fl->offset = line.offset;
		fl->len = line.len;
		fl->data = NULL;
		if (line.data) {
			memcpy(c->text + c->text_len, line.data, line.len);
			fl->data = c->text + c->text_len;
			c->text_len += line.len;
		}
		f->p_offset = line.offset + line.len + (line.kind != LOGSCAN_TAIL);
	}
	c->disk_done = f->disk_base + logscan_bytes_in(f->reader);
	if (c->ends_entry) {
		f->disk_base += e->bytes;
		c->disk_done = f->disk_base;
		logscan_close(f->reader);
		f->reader = NULL;
		f->p_entry++;
	}
	/* Parsed on the pool's threads and this one (jobs/live/parse_pool). */
	int parsed = parse_pool_parse(b->parse, raw, n, &c->batch, err);
	free(raw);
	if (parsed) {
		chunk_free(c);
		return NULL;
	}
	c->parsed = c->batch.line;
	c->n = n;
	return c;
}

static void push(struct source_feed *f, struct chunk *c)
{
	c->next = NULL;
	if (f->tail)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->depth++;
}

static struct chunk *pop(struct source_feed *f)
{
	struct chunk *c = f->head;
	if (c) {
		f->head = c->next;
		if (!f->head)
			f->tail = NULL;
		f->depth--;
	}
	return c;
}

/* The source to read next: one the applying side waits for, else the one
 * with the fewest chunks ahead; NULL when every queue is full or read. */
static struct source_feed *pick(struct backfill *b)
{
	struct source_feed *best = NULL;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct source_feed *f = &b->src[s];
		if (!f->active || f->p_finished || f->depth >= QUEUE_DEPTH)
			continue;
		if (f->wanted)
			return f;
		if (!best || f->depth < best->depth)
			best = f;
	}
	return best;
}

static int all_read(const struct backfill *b)
{
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		if (b->src[s].active && !b->src[s].p_finished)
			return 0;
	return 1;
}

static void *reader_main(void *arg)
{
	struct backfill *b = arg;
	pthread_mutex_lock(&b->mu);
	while (!b->quit && !b->thread_failed) {
		struct source_feed *f = pick(b);
		if (!f) {
			if (all_read(b))
				break;
			pthread_cond_wait(&b->consumed, &b->mu);
			continue;
		}
		pthread_mutex_unlock(&b->mu);
		struct chunk *c = produce(b, f, &b->thread_err);
		pthread_mutex_lock(&b->mu);
		if (c)
			push(f, c);
		else if (!f->p_finished)
			b->thread_failed = 1;
		pthread_cond_broadcast(&b->produced);
	}
	pthread_cond_broadcast(&b->produced);
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* The next chunk of f for the applying side, waiting for the reader
 * thread; NULL when there is none left (exhausted set) or on failure. */
static struct chunk *take(struct backfill *b, struct source_feed *f, struct err *err)
{
	struct chunk *c;
	if (!b->threaded) {
		c = pop(f);
		if (!c && !f->p_finished) {
			c = produce(b, f, err);
			if (!c && !f->p_finished)
				return NULL;
		}
		f->exhausted = !c;
		return c;
	}
	pthread_mutex_lock(&b->mu);
	while (!f->head && !f->p_finished && !b->thread_failed) {
		f->wanted = 1;
		pthread_cond_wait(&b->produced, &b->mu);
	}
	f->wanted = 0;
	c = pop(f);
	int failed = !c && b->thread_failed && !f->p_finished;
	if (failed)
		*err = b->thread_err;
	pthread_cond_signal(&b->consumed);
	pthread_mutex_unlock(&b->mu);
	f->exhausted = !c && !failed;
	if (failed)
		errno = err->code;
	return c;
}

/* ---- the feed (the applying side) --------------------------------------- */

static void report_progress(struct backfill *b, const char *finished, uint64_t lines)
{
	struct backfill_progress p = {.bytes_total = b->bytes_total,
				      .lines = b->lines,
				      .finished = finished,
				      .finished_lines = lines};
	if (!b->o.progress)
		return;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		p.bytes_done += b->src[s].disk_done;
	b->o.progress(b->o.ctx, &p);
}

static json_t *saved_entry(const struct logscan_entry *e)
{
	char hex[24];
	snprintf(hex, sizeof hex, "%016llx",
		 (unsigned long long)hash_fnv1a64(HASH_FNV1A64_INIT, e->head, e->head_len));
	return json_pack("{s:i,s:s}", "head_len", (int)e->head_len, "head", hex);
}

/* The applying side reached the end of an entry. */
static int entry_finished(struct backfill *b, struct source_feed *f, const struct chunk *c)
{
	const struct logscan_entry *e = &f->entries[c->entry];
	if (c->has_handoff) {
		f->has_handoff = 1;
		f->handoff = c->handoff;
	}
	f->in_entry = 0;
	if (e->head_len && !e->covered) {
		/* What was known of it (a shorter reading of it) is replaced. */
		size_t n = json_array_size(f->done);
		for (size_t k = 0; k < n;) {
			if (is_head_of(e, f->done_head[k])) {
				json_array_remove(f->done, k);
				memmove(&f->done_head[k], &f->done_head[k + 1],
					(--n - k) * sizeof *f->done_head);
			} else {
				k++;
			}
		}
		json_t *d = saved_entry(e);
		if (!d || BUF_ARRAY_GROW(f->done_head, n + 1, f->done_head_cap) ||
		    json_object_set_new(d, "length", json_integer((json_int_t)c->end_offset)) ||
		    json_array_append(f->done, d)) {
			json_decref(d);
			return err_set(NULL, ENOMEM, "out of memory");
		}
		f->done_head[n] = saved_head(d);
		json_decref(d);
	}
	if (f->start[c->entry] != NO_START)
		report_progress(b, f->shown[c->entry], f->entry_lines);
	f->entry_lines = 0;
	return 0;
}

static int has_time(const struct short_term_parsed *p)
{
	return p->line.kind == FOLLOW_LINE && p->status != RECORD_QUARANTINE &&
	       p->record.ts != CALENDAR_NONE;
}

static int feed_next(void *ctx, size_t source, struct short_term_parsed **line, struct err *err)
{
	struct backfill *b = ctx;
	struct source_feed *f = &b->src[source];
	for (;;) {
		if (!f->cur) {
			if (f->exhausted)
				return 0;
			f->cur = take(b, f, err);
			f->cur_i = 0;
			if (!f->cur)
				return f->exhausted ? 0 : -1;
			f->disk_done = f->cur->disk_done;
		}
		if (f->cur_i < f->cur->n) {
			struct short_term_parsed *p = &f->cur->parsed[f->cur_i];
			/* Past the daily slot the replay stands at: it waits. */
			if (has_time(p) && p->record.ts >= b->limit)
				return 0;
			f->cur_i++;
			if (has_time(p) && p->record.ts > b->newest)
				b->newest = p->record.ts;
			f->in_entry = 1;
			f->c_entry = f->cur->entry;
			f->c_offset = p->line.offset + p->line.len + (p->line.kind != FOLLOW_TAIL);
			f->entry_lines++;
			b->lines++;
			*line = p;
			return 1;
		}
		if (f->cur->ends_entry && entry_finished(b, f, f->cur))
			return err_set(err, ENOMEM, "out of memory");
		chunk_free(f->cur);
		f->cur = NULL;
	}
}

static void feed_save(void *ctx, size_t source, struct follow_saved *out)
{
	struct backfill *b = ctx;
	struct source_feed *f = &b->src[source];
	memset(out, 0, sizeof *out);
	if (!b->final)
		return;
	out->has_current = f->has_handoff;
	out->current = f->handoff;
	out->n_done = f->n_ring;
	memcpy(out->done, f->ring, f->n_ring * sizeof *f->ring);
}

static json_t *feed_cursor(void *ctx, int *failed)
{
	struct backfill *b = ctx;
	char day[16] = "";
	if (b->final)
		return NULL;
	json_t *c = json_object(), *sources = json_object();
	int ok = c && sources;
	if (b->reported_through != SCHEDULE_NO_DAY)
		schedule_format_day(b->reported_through, day, sizeof day);
	ok = ok && !json_object_set_new(c, "format", json_integer(1)) &&
	     !json_object_set_new(c, "reported_through", day[0] ? json_string(day) : json_null()) &&
	     !json_object_set_new(c, "newest_us", json_integer((json_int_t)b->newest));
	for (int s = 0; ok && s < PROFILE_SOURCE_COUNT; s++) {
		struct source_feed *f = &b->src[s];
		if (!f->active)
			continue;
		json_t *entry = json_null();
		if (f->in_entry) {
			entry = saved_entry(&f->entries[f->c_entry]);
			ok = entry && !json_object_set_new(entry, "offset",
							   json_integer((json_int_t)f->c_offset));
		}
		ok = ok &&
		     !json_object_set_new(sources, profile_source_name(s),
					  json_pack("{s:O,s:o}", "done", f->done, "entry", entry));
	}
	ok = ok && !json_object_set_new(c, "sources", sources);
	if (!ok) {
		json_decref(c);
		*failed = 1;
		return NULL;
	}
	return c;
}

/* ---- the replay --------------------------------------------------------- */

static void pipeline_log(void *ctx, const char *msg)
{
	say(ctx, "%s", msg);
}

static int open_pipeline(struct backfill *b, const char *state_dir, const char *models_dir,
			 struct err *err)
{
	struct pipeline_options po = {
	    .state_dir = state_dir,
	    .logs_dir = b->o.logs_dir,
	    .models_dir = models_dir,
	    .config = b->o.config,
	    .profile = b->o.profile,
	    .log = pipeline_log,
	    .log_ctx = b,
	    .feed = &b->feed,
	};
	b->pipe = pipeline_new(&po, err);
	return b->pipe ? 0 : -1;
}

static int stopped(const struct backfill *b, struct err *err)
{
	if (b->o.stop && *b->o.stop)
		return err_set(err, EINTR, "interrupted; run backfill again to resume");
	return 0;
}

/* Applies and commits batches until every source waits at the limit or is
 * exhausted. */
static int replay_until(struct backfill *b, int64_t limit, struct err *err)
{
	b->limit = limit;
	for (;;) {
		size_t lines = 0;
		pipeline_set_batch_lines(b->pipe, b->batch_lines);
		if (stopped(b, err) || pipeline_step(b->pipe, &lines, err))
			return -1;
		if (!lines)
			return 0;
		size_t most = (size_t)b->o.config->batch_lines * REPLAY_BATCH_GROWTH;
		b->batch_lines = b->batch_lines * 2 < most ? b->batch_lines * 2 : most;
	}
}

/* Per source, the entries that may hold records from from_us to until_us:
 * each entry's records run from its first time to the next one's. */
static void day_entries(struct backfill *b, struct daily_options *d, int64_t from_us,
			int64_t until_us)
{
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct source_feed *f = &b->src[s];
		size_t first = f->n_entries, last = 0;
		if (!f->active)
			continue;
		for (size_t i = 0; i < f->n_entries; i++) {
			const struct logscan_entry *e = &f->entries[i];
			if (e->covered || e->first_ts == INT64_MIN || e->first_ts >= until_us)
				continue;
			int64_t next = INT64_MAX;
			for (size_t k = i + 1; k < f->n_entries && next == INT64_MAX; k++)
				if (!f->entries[k].covered && f->entries[k].first_ts != INT64_MIN)
					next = f->entries[k].first_ts;
			if (next < from_us)
				continue;
			if (first == f->n_entries)
				first = i;
			last = i;
		}
		/* Between the first and the last: copies are skipped by the
		 * job's reading only as far as they are marked covered. */
		d->day_entries[s] = first < f->n_entries ? &f->entries[first] : f->entries;
		d->n_day_entries[s] = first < f->n_entries ? last - first + 1 : 0;
	}
}

static int already_reported(const struct backfill *b, int32_t day)
{
	char path[4400], d[16];
	struct stat st;
	schedule_format_day(day, d, sizeof d);
	snprintf(path, sizeof path, "%s/reports/post_market_%s.json", b->o.state_dir, d);
	return stat(path, &st) == 0;
}

static int run_daily(struct backfill *b, int32_t day, int64_t slot, struct err *err)
{
	struct daily_options d = {
	    .state_dir = b->staging,
	    .root_dir = b->o.root_dir,
	    .logs_dir = b->o.logs_dir,
	    .config = b->o.config,
	    .profile = b->o.profile,
	    .day = day,
	    .now_us = slot,
	    .records_until_us = slot,
	    .no_hooks = 1,
	    .no_dashboard = 1,
	};
	char text[16];
	day_entries(b, &d, schedule_local_instant(day, 0), slot);
	schedule_format_day(day, text, sizeof text);
	int64_t start = calendar_now();
	int rc = daily_run(&d, NULL, err);
	/* Journaled as watch's runner journals it, so a following watch
	 * does not run the day again. */
	struct journal_run run = {.job = "daily",
				  .day = day,
				  .attempt = 1,
				  .start = start,
				  .end = calendar_now(),
				  .status = rc ? "failed" : "ok",
				  .exit_code = rc ? 1 : 0,
				  .error = rc ? err->msg : NULL};
	json_t *line = journal_line(&run);
	struct err jerr;
	if (!line || journal_append(b->staging, line, &jerr))
		say(b, "daily %s: the journal line was not written", text);
	json_decref(line);
	if (rc)
		return err_prefix(err, "daily %s", text);
	b->reported_through = day;
	return 0;
}

/* The trading day a record time belongs to. */
static int32_t trading_day_of(const struct schedule_calendar *cal, int64_t ts)
{
	int32_t day = schedule_local_day(ts);
	return schedule_is_trading_day(cal, day) ? day : schedule_next_trading_day(cal, day);
}

/* The first trading day with records, SCHEDULE_NO_DAY when none. */
static int32_t first_day(const struct backfill *b)
{
	int64_t first = INT64_MAX;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		for (size_t i = 0; i < b->src[s].n_entries; i++) {
			const struct logscan_entry *e = &b->src[s].entries[i];
			if (!e->covered && e->first_ts != INT64_MIN && e->first_ts < first)
				first = e->first_ts;
		}
	if (first == INT64_MAX)
		return SCHEDULE_NO_DAY;
	return trading_day_of(&b->o.config->schedule.calendar, first);
}

/* Every line was applied. */
static int all_applied(const struct backfill *b)
{
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		if (b->src[s].active && !(b->src[s].exhausted && !b->src[s].cur))
			return 0;
	return 1;
}

static int replay(struct backfill *b, size_t *reports, struct err *err)
{
	const struct schedule_calendar *cal = &b->o.config->schedule.calendar;
	int32_t last = daily_default_day(b->o.config, b->o.now_us);
	int32_t day = first_day(b);
	if (b->o.since != SCHEDULE_NO_DAY && (day == SCHEDULE_NO_DAY || day < b->o.since))
		day = schedule_is_trading_day(cal, b->o.since)
			  ? b->o.since
			  : schedule_next_trading_day(cal, b->o.since);
	if (b->o.until != SCHEDULE_NO_DAY && b->o.until < last)
		last = b->o.until;
	for (; day != SCHEDULE_NO_DAY && last != SCHEDULE_NO_DAY && day <= last;
	     day = schedule_next_trading_day(cal, day)) {
		if (b->reported_through != SCHEDULE_NO_DAY && day <= b->reported_through)
			continue;
		if (!b->o.rebuild && already_reported(b, day))
			continue;
		int64_t slot = schedule_local_instant(day, b->o.config->schedule.daily_minute);
		if (replay_until(b, slot, err))
			return -1;
		/* The days after the newest record are not the bot's history
		 * (unless --until names them). */
		if (b->o.until == SCHEDULE_NO_DAY && all_applied(b) &&
		    (b->newest == INT64_MIN || day > trading_day_of(cal, b->newest)))
			break;
		if (run_daily(b, day, slot, err))
			return -1;
		(*reports)++;
	}
	return replay_until(b, INT64_MAX, err);
}

/* The rotated files a watch would remember as finished: the last ones read
 * (at most FOLLOW_MAX_DONE), oldest first. */
static void fill_rings(struct backfill *b)
{
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct source_feed *f = &b->src[s];
		size_t picked[FOLLOW_MAX_DONE], n = 0;
		for (size_t i = f->n_entries; i-- > 0 && n < FOLLOW_MAX_DONE;)
			if (!f->entries[i].is_named && !f->entries[i].member[0])
				picked[n++] = i;
		f->n_ring = 0;
		while (n-- > 0) {
			struct err err;
			const struct logscan_entry *e = &f->entries[picked[n]];
			if (follow_done_of(e->path, e->compressed, &f->ring[f->n_ring], &err) == 0)
				f->n_ring++;
		}
	}
}

static int start_reader(struct backfill *b, struct err *err)
{
	if (b->o.jobs < 2)
		return 0;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->produced, NULL);
	pthread_cond_init(&b->consumed, NULL);
	int rc = pthread_create(&b->thread, NULL, reader_main, b);
	if (rc) {
		pthread_mutex_destroy(&b->mu);
		pthread_cond_destroy(&b->produced);
		pthread_cond_destroy(&b->consumed);
		errno = rc;
		return err_fail(err, "starting the reader thread: %s", strerror(rc));
	}
	b->threaded = 1;
	return 0;
}

static void stop_reader(struct backfill *b)
{
	if (!b->threaded)
		return;
	pthread_mutex_lock(&b->mu);
	b->quit = 1;
	pthread_cond_broadcast(&b->consumed);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->produced);
	pthread_cond_destroy(&b->consumed);
	b->threaded = 0;
}

/* The staging folder becomes the state folder in one rename; the old one,
 * now at the staging name, is removed. */
static int swap_in(struct backfill *b, struct err *err)
{
	char path[4400];
	if (renameat2(AT_FDCWD, b->staging, AT_FDCWD, b->o.state_dir, RENAME_EXCHANGE) != 0)
		return err_fail(err, "exchanging %s and %s: %s", b->staging, b->o.state_dir,
				strerror(errno));
	if (durable_sync_dir(b->o.state_dir, err))
		return -1;
	if (remove_tree(b->staging) != 0)
		say(b, "%s (the state before the backfill): not removed: %s", b->staging,
		    strerror(errno));
	snprintf(path, sizeof path, "%s/%s", b->o.state_dir, STAGING_MODELS);
	remove_tree(path);
	snprintf(path, sizeof path, "%s/%s", b->o.state_dir, MARKER);
	unlink(path);
	return 0;
}

struct backfill *backfill_new(const struct backfill_options *o, struct err *err)
{
	struct backfill *b = calloc(1, sizeof *b);
	pid_t holder;
	if (!b) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	b->o = *o;
	b->staging_lock = -1;
	b->reported_through = SCHEDULE_NO_DAY;
	b->newest = INT64_MIN;
	b->feed = (struct pipeline_feed){feed_next, feed_save, feed_cursor, b};
	b->batch_lines = (size_t)o->config->batch_lines / REPLAY_BATCH_FIRST;
	if (!b->batch_lines)
		b->batch_lines = 1;
	if (!(b->parse = parse_pool_new(o->profile, o->jobs, err)))
		goto fail;
	snprintf(b->staging, sizeof b->staging, "%s.backfill", o->state_dir);
	snprintf(b->staging_models, sizeof b->staging_models, "%s/%s", b->staging, STAGING_MODELS);
	if (durable_mkdirs(b->staging, err))
		goto fail;
	b->staging_lock = durable_lock(b->staging, &holder, err);
	if (b->staging_lock < 0)
		goto fail;
	b->resumed = can_resume(b);
	if (!b->resumed && start_staging(b, err))
		goto fail;
	return b;
fail:
	backfill_free(b);
	return NULL;
}

int backfill_run(struct backfill *b, struct backfill_result *res, struct err *err)
{
	size_t reports = 0;
	memset(res, 0, sizeof *res);
	res->resumed = b->resumed;
	if (open_pipeline(b, b->staging, b->staging_models, err))
		return -1;
	json_t *cursor = pipeline_feed_cursor(b->pipe);
	const struct state *st = pipeline_state(b->pipe);
	/* A committed state without a cursor is a finished replay whose
	 * exchange did not happen. */
	int complete = b->resumed && st->generation > 0 && !cursor;
	if (!complete) {
		const char *through =
		    json_string_value(json_object_get(cursor, "reported_through"));
		if (through)
			schedule_parse_day(through, &b->reported_through);
		if (json_is_integer(json_object_get(cursor, "newest_us")))
			b->newest = json_integer_value(json_object_get(cursor, "newest_us"));
		if (list_sources(b, cursor, err) || start_reader(b, err))
			return -1;
		int rc = replay(b, &reports, err);
		stop_reader(b);
		if (rc)
			return -1;
		fill_rings(b);
		/* The dashboard once, over every day reported (by this run or
		 * the one it resumes), before the commit that completes the
		 * replay. */
		if (b->reported_through != SCHEDULE_NO_DAY &&
		    daily_write_dashboard(b->o.config, b->staging, b->o.root_dir, b->o.now_us, err))
			return -1;
		b->final = 1;
		if (pipeline_commit(b->pipe, err))
			return -1;
	}
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		res->lines += st->source[s].count.read;
		res->trades += st->source[s].count.trades;
	}
	res->reports = reports;
	pipeline_free(b->pipe);
	b->pipe = NULL;
	if (swap_in(b, err))
		return -1;
	/* The files the bot reads, from the new state (an empty feed: the
	 * pipeline only opens and publishes). */
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		b->src[s].exhausted = 1;
	if (open_pipeline(b, b->o.state_dir, b->o.models_dir, err))
		return -1;
	pipeline_free(b->pipe);
	b->pipe = NULL;
	return 0;
}

void backfill_free(struct backfill *b)
{
	if (!b)
		return;
	stop_reader(b);
	pipeline_free(b->pipe);
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct source_feed *f = &b->src[s];
		chunk_free(f->cur);
		for (struct chunk *c = f->head, *next; c; c = next) {
			next = c->next;
			chunk_free(c);
		}
		logscan_close(f->reader);
		for (size_t i = 0; f->shown && i < f->n_entries; i++)
			free(f->shown[i]);
		free(f->shown);
		free(f->start);
		free(f->length);
		free(f->entries);
		json_decref(f->done);
		free(f->done_head);
	}
	parse_pool_free(b->parse);
	if (b->staging_lock >= 0)
		close(b->staging_lock);
	free(b);
}
