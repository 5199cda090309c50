#include "jobs/live/pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/jsonarena.h"
#include "lib/store/framelog.h"
#include "lib/base/jsontext.h"
#include "lib/base/logline.h"
#include "lib/base/sha256.h"
#include "lib/models/registry.h"
#include "jobs/live/parse_pool.h"
#include "jobs/live/short_term.h"

struct pipeline {
	char state_dir[FOLLOW_PATH_MAX];
	char logs_dir[FOLLOW_PATH_MAX];
	char models_dir[FOLLOW_PATH_MAX];
	const struct config *config;
	const struct profile *profile;
	follow_log_fn log;
	void *log_ctx;
	struct state state; /* the last committed state */
	struct follow *follow;
	size_t source_index[PROFILE_SOURCE_COUNT]; /* follower source → profile source */
	size_t n_sources;
	struct short_term *job;
	struct parse_pool *parse; /* the follower's lines are parsed on it */
	struct jsonarena *arena;  /* documents written at each commit */
	size_t batch_lines;	  /* 0: the config's */
	struct framelog *outcomes;
	int quarantine_fd, keys_fd, weight_log_fd;
	struct short_term_batch batch;
	int64_t last_publish;
	uint64_t lines_total;
	json_t *last_job;		  /* the runner's last journal line, or NULL */
	const struct pipeline_feed *feed; /* or NULL: the follower reads */
	json_t *feed_cursor;		  /* committed with the learner generation */
	/* state/baseline_performance.json as last read (a retrain replaces it
	 * when it deploys), so that a commit reads it only when it changed. */
	struct stat baseline_seen;
};

/* One line for the operator through the log callback (logline.h). */
#define say(p, ...) logline_say((p)->log, (p)->log_ctx, __VA_ARGS__)

static void output_path(const struct pipeline *p, enum state_output_id id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", p->state_dir, state_output_path(id));
}

/* Removes learner.<g>.json files that are not generation keep1 or keep2:
 * uncommitted ones (a crash between steps 4 and 5) and old ones. */
static void sweep_generations(struct pipeline *p, uint64_t keep1, uint64_t keep2)
{
	DIR *d = opendir(p->state_dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		unsigned long long g;
		char tail[16];
		if (sscanf(e->d_name, "learner.%llu.%15s", &g, tail) != 2 || strcmp(tail, "json"))
			continue;
		if (g == keep1 || g == keep2)
			continue;
		char path[FOLLOW_PATH_MAX + 300];
		snprintf(path, sizeof path, "%s/%s", p->state_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

static int load_keys(struct pipeline *p, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64];
	uint64_t buf[4096];
	output_path(p, STATE_OUTPUT_TRADE_KEYS, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_fail(err, "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return err_fail(err, "%s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof *buf; i++)
			if (short_term_add_key(p->job, buf[i], err)) {
				close(fd);
				return err_prefix(err, "%s", path);
			}
	}
	close(fd);
	return 0;
}

static int load_learner(struct pipeline *p, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 128];
	json_t *j;
	if (state_load_learner(p->state_dir, &p->state, &j, err))
		return -1;
	if (!j)
		return 0;
	snprintf(path, sizeof path, "%s/%s", p->state_dir, p->state.learner_file);
	int rc = short_term_load(p->job, j, err);
	json_t *cursor = json_object_get(j, "feed");
	if (cursor)
		p->feed_cursor = json_incref(cursor);
	json_decref(j);
	if (rc) {
		char why[sizeof err->msg];
		snprintf(why, sizeof why, "%s", err->msg);
		return err_set(err, err->code ? err->code : EBADMSG, "%s: damaged: %s: %s", path,
			       why, STATE_LEARNER_ADVICE);
	}
	return 0;
}

static void say_line(void *ctx, const char *line)
{
	say((struct pipeline *)ctx, "%s", line);
}

static int open_outputs(struct pipeline *p, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64];
	if (state_check_outputs(p->state_dir, &p->state, say_line, p, 1, err))
		return -1;
	output_path(p, STATE_OUTPUT_OUTCOMES, path, sizeof path);
	p->outcomes = framelog_new(path, 0, err);
	if (!p->outcomes)
		return -1;
	output_path(p, STATE_OUTPUT_QUARANTINE, path, sizeof path);
	p->quarantine_fd = durable_open_append(path, err);
	output_path(p, STATE_OUTPUT_TRADE_KEYS, path, sizeof path);
	p->keys_fd = durable_open_append(path, err);
	output_path(p, STATE_OUTPUT_WEIGHT_LOG, path, sizeof path);
	p->weight_log_fd = durable_open_append(path, err);
	if (p->quarantine_fd < 0 || p->keys_fd < 0 || p->weight_log_fd < 0)
		return -1;
	p->batch.outcomes = p->outcomes;
	return 0;
}

static void follow_log(void *ctx, const char *msg)
{
	struct pipeline *p = ctx;
	if (p->log)
		p->log(p->log_ctx, msg);
}

static int open_follower(struct pipeline *p, int loaded, const char *const *files, int force_poll,
			 struct err *err);
static int publish_learned(struct pipeline *p, struct err *err);

struct pipeline *pipeline_new(const struct pipeline_options *opt, struct err *err)
{
	struct pipeline *p = calloc(1, sizeof *p);
	char dir[FOLLOW_PATH_MAX + 32];
	enum state_origin origin;
	const char *files[PROFILE_SOURCE_COUNT];

	if (!p) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	p->quarantine_fd = p->keys_fd = p->weight_log_fd = -1;
	snprintf(p->state_dir, sizeof p->state_dir, "%s", opt->state_dir);
	snprintf(p->logs_dir, sizeof p->logs_dir, "%s", opt->logs_dir);
	snprintf(p->models_dir, sizeof p->models_dir, "%s", opt->models_dir);
	p->config = opt->config;
	p->profile = opt->profile;
	p->log = opt->log;
	p->log_ctx = opt->log_ctx;
	p->batch.on_outcome = opt->on_outcome;
	p->batch.hook_ctx = opt->hook_ctx;
	p->feed = opt->feed;
	jsonarena_install();
	if (!(p->arena = jsonarena_new())) {
		err_set(err, ENOMEM, "out of memory");
		goto fail;
	}

	snprintf(dir, sizeof dir, "%s/outcomes", p->state_dir);
	if (durable_mkdirs(dir, err))
		goto fail;
	if (durable_sweep_temps(p->state_dir, err) < 0 || durable_sweep_temps(dir, err) < 0)
		goto fail;
	if (state_load(p->state_dir, &p->state, &origin, err))
		goto fail;
	int loaded = origin != STATE_NONE;
	if (origin == STATE_PREV)
		say(p, "%s; resumed from its previous version", err->msg);
	else if (origin == STATE_UNSEALED)
		say(p, "%s", err->msg);
	if (loaded && strcmp(p->state.logs, p->logs_dir) != 0)
		say(p, "the logs folder changed from %s to %s: files are matched by content",
		    p->state.logs, p->logs_dir);
	if (loaded && p->state.profile[0] && strcmp(p->state.profile, p->profile->name) != 0)
		say(p, "the profile changed from %s to %s", p->state.profile, p->profile->name);
	sweep_generations(p, p->state.generation,
			  p->state.generation ? p->state.generation - 1 : 0);
	if (open_outputs(p, err))
		goto fail;
	if (durable_mkdirs(p->models_dir, err))
		goto fail;
	p->job = short_term_new(p->profile, p->config, err);
	if (!p->job || load_keys(p, err) || load_learner(p, err))
		goto fail;

	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		if (!p->profile->source[s].file[0])
			continue;
		p->source_index[p->n_sources] = (size_t)s;
		files[p->n_sources++] = p->profile->source[s].file;
	}
	if (p->feed) {
		for (size_t i = 0; i < p->n_sources; i++)
			snprintf(p->state.source[p->source_index[i]].file,
				 sizeof p->state.source[0].file, "%s", files[i]);
	} else if (open_follower(p, loaded, files, opt->force_poll, err) ||
		   !(p->parse = parse_pool_new(p->profile, opt->jobs, err))) {
		goto fail;
	}
	snprintf(p->state.profile, sizeof p->state.profile, "%s", p->profile->name);
	snprintf(p->state.logs, sizeof p->state.logs, "%s", p->logs_dir);
	/* Derived files are regenerated from the committed state: a crash
	 * between the commit and their publication loses nothing. */
	if (publish_learned(p, err) || pipeline_publish(p, err))
		goto fail;
	return p;
fail:
	pipeline_free(p);
	return NULL;
}

/* The pipeline's own follower, resumed where the state says. */
static int open_follower(struct pipeline *p, int loaded, const char *const *files, int force_poll,
			 struct err *err)
{
	struct follow_options fo = {
	    .max_line = p->config->max_line_bytes,
	    .force_poll = force_poll,
	    .log = follow_log,
	    .log_ctx = p,
	};
	if (durable_mkdirs(p->logs_dir, err))
		return -1;
	p->follow = follow_new(p->logs_dir, files, p->n_sources, &fo, err);
	if (!p->follow)
		return -1;
	for (size_t i = 0; i < p->n_sources; i++) {
		struct state_source *src = &p->state.source[p->source_index[i]];
		int known = loaded && strcmp(src->file, files[i]) == 0;
		follow_restore(p->follow, i, known ? &src->follow : NULL, p->state.committed_at);
		snprintf(src->file, sizeof src->file, "%s", files[i]);
	}
	return 0;
}

int pipeline_fd(const struct pipeline *p)
{
	return p->follow ? follow_fd(p->follow) : -1;
}

int pipeline_is_polling(const struct pipeline *p)
{
	return p->follow ? follow_is_polling(p->follow) : 0;
}

void pipeline_events(struct pipeline *p)
{
	if (p->follow)
		follow_handle_events(p->follow);
}

void pipeline_refresh(struct pipeline *p)
{
	if (p->follow)
		follow_refresh(p->follow);
}

json_t *pipeline_feed_cursor(const struct pipeline *p)
{
	return p->feed_cursor;
}

const struct state *pipeline_state(const struct pipeline *p)
{
	return &p->state;
}

const struct short_term *pipeline_job(const struct pipeline *p)
{
	return p->job;
}

json_t *pipeline_positions(const struct pipeline *p)
{
	return short_term_positions(p->job, calendar_now());
}

uint64_t pipeline_lag(struct pipeline *p, size_t source)
{
	for (size_t i = 0; i < p->n_sources && p->follow; i++)
		if (p->source_index[i] == source)
			return follow_lag_bytes(p->follow, i);
	return 0;
}

static int append_and_sync(int fd, const void *data, size_t len, const char *what, struct err *err)
{
	if (!len)
		return 0;
	if (durable_write_all(fd, data, len, err))
		return -1;
	if (fdatasync(fd) != 0)
		return err_fail(err, "%s: fsync: %s", what, strerror(errno));
	return 0;
}

/* The feed's cursor (a new reference, or NULL), committed with the
 * learner generation as "feed". */
static int feed_cursor(struct pipeline *p, json_t **cursor, struct err *err)
{
	int failed = 0;
	*cursor = p->feed->cursor ? p->feed->cursor(p->feed->ctx, &failed) : NULL;
	return failed ? err_set(err, ENOMEM, "out of memory") : 0;
}

/* The learner generation as text. Its document lives only until then,
 * for every commit: it is made in the pipeline's arena and dropped at once
 * (lib/base/jsonarena). The feed's cursor, kept after the commit, is made
 * outside it. NULL with err set. */
static char *learner_text(struct pipeline *p, json_t *cursor, size_t *len, struct err *err)
{
	struct jsonarena *outside = jsonarena_enter(p->arena);
	json_t *learner = short_term_save(p->job, err);
	int failed = !learner || (cursor && json_object_set(learner, "feed", cursor));
	char *text = failed ? NULL : jsontext_dump(learner, JSONTEXT_COMPACT, len);
	json_decref(learner);
	jsonarena_leave(outside);
	jsonarena_reset(p->arena);
	if (learner && !text)
		err_set(err, ENOMEM, "out of memory");
	return text;
}

/* The derived files, their documents in the arena as above. */
static int publish_learned(struct pipeline *p, struct err *err)
{
	struct jsonarena *outside = jsonarena_enter(p->arena);
	int rc = short_term_publish(p->job, p->models_dir, p->state_dir, err);
	jsonarena_leave(outside);
	jsonarena_reset(p->arena);
	return rc;
}

/* A deployment made since the last batch (by a retrain or a `models`
 * command, in another process) resets the drift detector of the learner
 * before the next batch is learned, so its trades are the first the new
 * model is measured on; the reset is committed with that batch
 * (short_term_deployment). The baseline is read only when its identity,
 * size or time changed; one that cannot be read is said and changes
 * nothing. */
static void note_deployment(struct pipeline *p)
{
	char path[FOLLOW_PATH_MAX + 64], id[SHORT_TERM_DEPLOYMENT_MAX];
	struct stat st;
	struct err e = {0};
	snprintf(path, sizeof path, "%s/baseline_performance.json", p->state_dir);
	if (stat(path, &st) != 0)
		return;
	const struct stat *old = &p->baseline_seen;
	if (st.st_ino == old->st_ino && st.st_dev == old->st_dev && st.st_size == old->st_size &&
	    st.st_mtim.tv_sec == old->st_mtim.tv_sec && st.st_mtim.tv_nsec == old->st_mtim.tv_nsec)
		return;
	p->baseline_seen = st;
	if (registry_baseline_deployment(p->state_dir, id, sizeof id, &e)) {
		say(p, "%s", e.msg);
		return;
	}
	if (short_term_deployment(p->job, id))
		say(p, "deployment %s: the drift detector starts afresh", id);
}

static int commit(struct pipeline *p, struct state *next, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 128];
	size_t len;

	/* 3. outputs first: the state file may only name bytes that are on disk. */
	if (framelog_flush(p->outcomes, err))
		return -1;
	if (append_and_sync(p->quarantine_fd, p->batch.quarantine.data, p->batch.quarantine.len,
			    "quarantine", err) ||
	    append_and_sync(p->keys_fd, p->batch.keys, p->batch.n_keys * sizeof *p->batch.keys,
			    "trade keys", err) ||
	    append_and_sync(p->weight_log_fd, p->batch.weight_log.data, p->batch.weight_log.len,
			    "weight learning journal", err))
		return -1;
	next->output_length[STATE_OUTPUT_OUTCOMES] = framelog_length(p->outcomes);
	next->output_length[STATE_OUTPUT_QUARANTINE] += p->batch.quarantine.len;
	next->output_length[STATE_OUTPUT_TRADE_KEYS] += p->batch.n_keys * sizeof *p->batch.keys;
	next->output_length[STATE_OUTPUT_WEIGHT_LOG] += p->batch.weight_log.len;

	/* 4. the learned state that does not fit the offsets file. */
	next->generation = p->state.generation + 1;
	snprintf(next->learner_file, sizeof next->learner_file, "learner.%llu.json",
		 (unsigned long long)next->generation);
	json_t *cursor = NULL;
	if (p->feed && feed_cursor(p, &cursor, err))
		return -1;
	char *text = learner_text(p, cursor, &len, err);
	if (!text) {
		json_decref(cursor);
		return err_prefix(err, "%s", next->learner_file);
	}
	if (p->feed) {
		json_decref(p->feed_cursor);
		p->feed_cursor = cursor;
	}
	unsigned char digest[SHA256_DIGEST_BYTES];
	sha256_digest(text, len, digest);
	sha256_hex(digest, next->learner_sha256);
	snprintf(path, sizeof path, "%s/%s", p->state_dir, next->learner_file);
	int rc = durable_replace(path, text, len, err);
	free(text);
	if (rc)
		return -1;

	/* 5. the commit point. */
	for (size_t i = 0; i < p->n_sources; i++) {
		struct follow_saved *saved = &next->source[p->source_index[i]].follow;
		if (p->feed)
			p->feed->save(p->feed->ctx, p->source_index[i], saved);
		else
			follow_save(p->follow, i, saved);
	}
	next->committed_at = calendar_now();
	if (state_save(p->state_dir, next, err))
		return -1;
	p->state = *next;

	/* 6. and 7. */
	if (publish_learned(p, err))
		say(p, "publishing the learned files: %s", err->msg);
	int64_t now = calendar_now();
	if (now - p->last_publish >= 1000000 && pipeline_publish(p, err))
		say(p, "health.json: %s", err->msg);
	sweep_generations(p, p->state.generation, p->state.generation - 1);
	return 0;
}

/* Reads and applies up to limit lines of follower source i (*got gets the
 * count): the feed's, parsed already, or the follower's, parsed by the
 * pool's threads while they are applied here in their order. A source read
 * to its end is caught up after its last line is applied. 0, or -1 with
 * err set. */
static int read_source(struct pipeline *p, size_t i, size_t limit, struct state_counters *c,
		       size_t *got, struct err *err)
{
	int at_end = 0;
	*got = 0;
	while (!at_end && *got < limit) {
		if (p->feed) {
			struct short_term_parsed *parsed;
			int rc = p->feed->next(p->feed->ctx, p->source_index[i], &parsed, err);
			if (rc < 0 ||
			    (rc > 0 && short_term_apply_parsed(p->job, parsed, c, &p->batch, err)))
				return -1;
			at_end = rc == 0;
			*got += (size_t)rc;
			continue;
		}
		if (parse_pool_full(p->parse)) {
			if (short_term_apply_parsed(p->job, parse_pool_take(p->parse), c, &p->batch,
						    err))
				goto fail;
			continue;
		}
		struct follow_line line;
		int rc = follow_next(p->follow, i, &line, err);
		if (rc < 0)
			goto fail;
		at_end = rc == 0;
		if (rc == 0)
			break;
		line.source = p->source_index[i];
		if (parse_pool_add(p->parse, &line, err))
			goto fail;
		(*got)++;
	}
	struct short_term_parsed *parsed;
	while (p->parse && (parsed = parse_pool_take(p->parse)))
		if (short_term_apply_parsed(p->job, parsed, c, &p->batch, err))
			goto fail;
	if (at_end)
		short_term_caught_up(p->job, (int)p->source_index[i]);
	return 0;
fail:
	parse_pool_clear(p->parse);
	return -1;
}

int pipeline_commit(struct pipeline *p, struct err *err)
{
	struct state *next = malloc(sizeof *next);
	if (!next)
		return err_set(err, ENOMEM, "out of memory");
	*next = p->state;
	short_term_batch_reset(&p->batch);
	int rc = commit(p, next, err);
	if (rc)
		framelog_discard(p->outcomes);
	free(next);
	return rc;
}

void pipeline_set_batch_lines(struct pipeline *p, size_t lines)
{
	p->batch_lines = lines;
}

int pipeline_step(struct pipeline *p, size_t *lines, struct err *err)
{
	struct state *next = malloc(sizeof *next);
	size_t n = 0;
	long limit = p->batch_lines ? (long)p->batch_lines : p->config->batch_lines;
	int rc = 0;

	if (!next)
		return err_set(err, ENOMEM, "out of memory");
	*next = p->state;
	note_deployment(p);
	short_term_batch_reset(&p->batch);
	uint64_t q_len = p->state.output_length[STATE_OUTPUT_QUARANTINE];
	p->batch.quarantine_bounded = 1;
	p->batch.quarantine_room =
	    q_len < p->config->quarantine_max_bytes ? p->config->quarantine_max_bytes - q_len : 0;
	/* A source ahead of the others in time waits while many observations
	 * do (short_term_holding); if nothing else had anything to read, it is
	 * read after all, in a second pass. */
	int held[FOLLOW_MAX_SOURCES] = {0}, any_held = 0;
	for (int pass = 0; pass < 2 && !(pass == 1 && (n || !any_held)); pass++) {
		for (size_t i = 0; i < p->n_sources; i++) {
			int source = (int)p->source_index[i];
			struct state_counters *c = &next->source[source].count;
			if (pass == 0 && short_term_holding(p->job, source)) {
				held[i] = any_held = 1;
				continue;
			}
			if (pass == 1 && !held[i])
				continue;
			size_t got;
			if (read_source(p, i, (size_t)limit, c, &got, err)) {
				rc = -1;
				goto out;
			}
			n += got;
		}
	}
	/* Trades whose context is now decided (jobs/live/join). */
	int settled = short_term_settle(p->job, next, &p->batch, calendar_now(), err);
	if (settled < 0) {
		rc = -1;
		goto out;
	}
	if (n || settled)
		rc = commit(p, next, err);
	p->lines_total += n;
out:
	if (rc)
		framelog_discard(p->outcomes);
	if (lines)
		*lines = n;
	free(next);
	return rc;
}

int pipeline_publish(struct pipeline *p, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64], at[40];
	json_t *h = json_object(), *lag = json_object();
	int built = h && lag;
	size_t len;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		if (p->profile->source[s].file[0])
			json_object_set_new(lag, profile_source_name(s),
					    json_integer((json_int_t)pipeline_lag(p, (size_t)s)));
	calendar_format_iso(calendar_now(), at, sizeof at);
	json_object_set_new(h, "pid", json_integer(getpid()));
	json_object_set_new(h, "alive_at", json_string(at));
	calendar_format_iso(p->state.committed_at, at, sizeof at);
	json_object_set_new(h, "last_commit",
			    p->state.committed_at ? json_string(at) : json_null());
	json_object_set_new(h, "generation", json_integer((json_int_t)p->state.generation));
	json_object_set_new(h, "lag_bytes", lag);
	json_object_set_new(h, "open_positions",
			    json_integer((json_int_t)short_term_open_count(p->job)));
	json_object_set_new(h, "polling", json_boolean(pipeline_is_polling(p)));
	json_object_set_new(h, "last_job", p->last_job ? json_incref(p->last_job) : json_null());
	char *text = built ? jsontext_dump(h, JSONTEXT_PRETTY, &len) : NULL;
	json_decref(h);
	if (!text)
		return err_set(err, ENOMEM, "out of memory");
	snprintf(path, sizeof path, "%s/health.json", p->state_dir);
	int rc = durable_publish(path, text, len, err);
	free(text);
	p->last_publish = calendar_now();
	return rc;
}

void pipeline_set_last_job(struct pipeline *p, json_t *run)
{
	if (!p || run == p->last_job)
		return;
	json_decref(p->last_job);
	p->last_job = run ? json_incref(run) : NULL;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	json_decref(p->last_job);
	json_decref(p->feed_cursor);
	follow_free(p->follow);
	parse_pool_free(p->parse);
	short_term_free(p->job);
	jsonarena_free(p->arena);
	framelog_free(p->outcomes);
	short_term_batch_release(&p->batch);
	if (p->quarantine_fd >= 0)
		close(p->quarantine_fd);
	if (p->keys_fd >= 0)
		close(p->keys_fd);
	if (p->weight_log_fd >= 0)
		close(p->weight_log_fd);
	free(p);
}
