/*
 * metrics_file — the Prometheus textfile of watch (see metrics_file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/promtext.h"
#include "lib/learn/learner.h"
#include "lib/models/registry.h"
#include "jobs/live/metrics_file.h"

struct metrics_file {
	char path[4096], jobs_path[4200], registry_path[4200], models_dir[4096];
	/* state/jobs.jsonl as read so far: {job: {status: runs}} */
	json_t *runs;
	uint64_t jobs_offset;
	uint64_t jobs_ino;
	/* models/registry.json as last read, by its identity and time */
	struct stat registry_st;
	int have_registry;
	char deployed[128];
	double deployed_at_s; /* NAN: none */
	struct buf text, written;
	int64_t written_at;
};

struct metrics_file *metrics_file_new(const char *path, const char *state_dir,
				      const char *models_dir, struct err *err)
{
	struct metrics_file *m = calloc(1, sizeof *m);
	if (!m || !(m->runs = json_object())) {
		free(m);
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(m->path, sizeof m->path, "%s", path);
	snprintf(m->jobs_path, sizeof m->jobs_path, "%s/jobs.jsonl", state_dir);
	snprintf(m->registry_path, sizeof m->registry_path, "%s/registry.json", models_dir);
	snprintf(m->models_dir, sizeof m->models_dir, "%s", models_dir);
	m->deployed_at_s = NAN;
	buf_init(&m->text);
	buf_init(&m->written);
	return m;
}

/* Counts the runs of the lines added to state/jobs.jsonl since the last
 * call (all of them again when the file was replaced or cut). */
static void read_runs(struct metrics_file *m)
{
	struct stat st;
	if (stat(m->jobs_path, &st) != 0)
		return;
	if ((uint64_t)st.st_ino != m->jobs_ino || (uint64_t)st.st_size < m->jobs_offset) {
		json_object_clear(m->runs);
		m->jobs_offset = 0;
		m->jobs_ino = (uint64_t)st.st_ino;
	}
	if ((uint64_t)st.st_size == m->jobs_offset)
		return;
	int fd = open(m->jobs_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	size_t want = (size_t)((uint64_t)st.st_size - m->jobs_offset);
	char *data = malloc(want + 1);
	ssize_t got = data ? pread(fd, data, want, (off_t)m->jobs_offset) : -1;
	close(fd);
	if (got <= 0) {
		free(data);
		return;
	}
	char *line = data, *end = data + got, *nl;
	while ((nl = memchr(line, '\n', (size_t)(end - line)))) {
		json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
		const char *job = json_string_value(json_object_get(j, "job"));
		const char *status = json_string_value(json_object_get(j, "status"));
		if (job && status) {
			json_t *by = json_object_get(m->runs, job);
			if (!by)
				json_object_set_new(m->runs, job, by = json_object());
			json_int_t n = json_integer_value(json_object_get(by, status));
			json_object_set_new(by, status, json_integer(n + 1));
		}
		json_decref(j);
		m->jobs_offset += (uint64_t)(nl + 1 - line);
		line = nl + 1;
	}
	free(data);
}

/* The deployed version and when it was deployed, read again when
 * models/registry.json changed. */
static void read_registry(struct metrics_file *m)
{
	struct stat st;
	if (stat(m->registry_path, &st) != 0) {
		m->have_registry = 0;
		m->deployed[0] = 0;
		m->deployed_at_s = NAN;
		return;
	}
	if (m->have_registry && st.st_ino == m->registry_st.st_ino &&
	    st.st_size == m->registry_st.st_size &&
	    st.st_mtim.tv_sec == m->registry_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == m->registry_st.st_mtim.tv_nsec)
		return;
	struct err err;
	json_t *doc = registry_load(m->models_dir, &err);
	const char *id = doc ? registry_deployed(doc) : NULL;
	json_t *dep = doc ? registry_last_deployment(doc) : NULL;
	const char *at = json_string_value(json_object_get(dep, "at"));
	int64_t us;
	snprintf(m->deployed, sizeof m->deployed, "%s", id ? id : "");
	m->deployed_at_s = id && at && calendar_parse_iso(at, &us) == 0 ? (double)us / 1e6 : NAN;
	json_decref(doc);
	m->registry_st = st;
	m->have_registry = doc != NULL;
}

struct family {
	const char *name, *type, *help;
};

/* One family with one sample per source. */
static int per_source(struct buf *b, const struct family *f, const struct profile *prof,
		      const uint64_t *values, struct err *err)
{
	if (promtext_family(b, f->name, f->type, f->help, err))
		return -1;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		if (prof->source[s].file[0] &&
		    promtext_sample(b, f->name, "source",
				    profile_source_name((enum profile_source_id)s), NULL, NULL,
				    (double)values[s], err))
			return -1;
	return 0;
}

static int single(struct buf *b, const char *name, const char *type, const char *help, double value,
		  struct err *err)
{
	return promtext_family(b, name, type, help, err) ||
		       promtext_sample(b, name, NULL, NULL, NULL, NULL, value, err)
		   ? -1
		   : 0;
}

static int build(struct metrics_file *m, struct pipeline *p, const struct profile *prof,
		 int running, struct err *err)
{
	struct buf *b = &m->text;
	const struct state *st = pipeline_state(p);
	uint64_t v[5][PROFILE_SOURCE_COUNT];
	static const struct family sources[5] = {
	    {"tradelearn_source_lag_bytes", "gauge",
	     "Bytes of the source's files not read yet (0 when caught up)."},
	    {"tradelearn_source_records_read_total", "counter",
	     "Complete lines read from the source."},
	    {"tradelearn_source_records_learned_total", "counter",
	     "Records of the source applied to the learned state."},
	    {"tradelearn_source_records_quarantined_total", "counter",
	     "Rows of the source put in state/quarantine.jsonl (not JSON, missing or bad field)."},
	    {"tradelearn_source_records_skipped_total", "counter",
	     "Rows of the source skipped: ignored by the profile, duplicates, long lines, "
	     "unterminated tails."},
	};
	struct learner_metrics lm;
	learner_metrics(short_term_learner(pipeline_job(p)), &lm);
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		const struct state_counters *c = &st->source[s].count;
		v[0][s] = prof->source[s].file[0] ? pipeline_lag(p, (size_t)s) : 0;
		v[1][s] = c->read;
		v[2][s] = c->learned;
		v[3][s] = c->quarantined;
		v[4][s] = c->skipped;
	}
	read_runs(m);
	read_registry(m);
	buf_reset(b);
	if (single(b, "tradelearn_watch_running", "gauge",
		   "1 while watch runs; 0 written by a watch that stopped cleanly.", running, err))
		return -1;
	for (int k = 0; k < 5; k++)
		if (per_source(b, &sources[k], prof, v[k], err))
			return -1;
	if (single(b, "tradelearn_trades_recorded_total", "counter",
		   "Closed trades recorded as outcomes (each once).",
		   (double)st->source[PROFILE_SOURCE_ATTRIBUTION].count.trades, err) ||
	    single(b, "tradelearn_open_positions", "gauge", "Positions opened and not closed.",
		   (double)short_term_open_count(pipeline_job(p)), err) ||
	    single(b, "tradelearn_model_trades_scored_total", "counter",
		   "Trades the online model predicted before learning from them.",
		   (double)lm.trades_scored, err) ||
	    single(b, "tradelearn_model_auc", "gauge",
		   "Progressive AUC of the online model (NaN while undefined).", lm.auc, err) ||
	    single(b, "tradelearn_model_log_loss", "gauge",
		   "Progressive log loss of the online model (NaN while undefined).", lm.log_loss,
		   err) ||
	    single(b, "tradelearn_model_brier", "gauge",
		   "Progressive Brier score of the online model (NaN while undefined).", lm.brier,
		   err) ||
	    single(b, "tradelearn_last_commit_timestamp_seconds", "gauge",
		   "When the last batch was committed, Unix time (0: never).",
		   (double)st->committed_at / 1e6, err) ||
	    single(b, "tradelearn_commit_generation", "gauge",
		   "Generation of the committed state (grows with every commit).",
		   (double)st->generation, err))
		return -1;
	if (promtext_family(b, "tradelearn_job_runs_total", "counter",
			    "Runs of scheduled jobs and hooks in state/jobs.jsonl, by job and "
			    "status.",
			    err))
		return -1;
	const char *job, *status;
	json_t *by, *n;
	json_object_foreach(m->runs, job, by)
	{
		json_object_foreach(by, status, n)
		{
			if (promtext_sample(b, "tradelearn_job_runs_total", "job", job, "status",
					    status, (double)json_integer_value(n), err))
				return -1;
		}
	}
	if ((m->deployed[0] &&
	     (promtext_family(b, "tradelearn_model_deployed_info", "gauge",
			      "The deployed model version (always 1; absent before the first "
			      "deployment).",
			      err) ||
	      promtext_sample(b, "tradelearn_model_deployed_info", "version", m->deployed, NULL,
			      NULL, 1, err))) ||
	    single(b, "tradelearn_model_deployed_timestamp_seconds", "gauge",
		   "When the deployed model was deployed, Unix time (NaN: none); its age is "
		   "time() minus this.",
		   m->deployed_at_s, err))
		return -1;
	return 0;
}

/* Replaces the file with the text, durably, mode 0644. */
static int write_file(struct metrics_file *m, struct err *err)
{
	struct durable_temp t;
	if (durable_temp_open(&t, m->path, err))
		return -1;
	if (fchmod(t.fd, 0644) || durable_write_all(t.fd, m->text.data, m->text.len, err)) {
		if (!err->msg[0])
			err_fail(err, "%s: %s", t.tmp, strerror(errno));
		durable_temp_discard(&t);
		return -1;
	}
	return durable_temp_commit(&t, 1, err);
}

int metrics_file_update(struct metrics_file *m, struct pipeline *p, const struct profile *prof,
			int running, int64_t now_us, int force, struct err *err)
{
	err_clear(err);
	if (build(m, p, prof, running, err))
		return err_prefix(err, "%s", m->path);
	if (m->written_at && m->written.len == m->text.len &&
	    memcmp(m->written.data, m->text.data, m->text.len) == 0)
		return 0;
	if (!force && m->written_at && now_us - m->written_at < METRICS_FILE_MIN_INTERVAL_US)
		return 0;
	if (write_file(m, err))
		return err_prefix(err, "metrics_file %s", m->path);
	buf_reset(&m->written);
	if (buf_add(&m->written, m->text.data, m->text.len))
		return err_set(err, ENOMEM, "out of memory");
	m->written_at = now_us;
	return 0;
}

const char *metrics_file_text(const struct metrics_file *m)
{
	return m->text.data;
}

void metrics_file_free(struct metrics_file *m)
{
	if (!m)
		return;
	json_decref(m->runs);
	buf_release(&m->text);
	buf_release(&m->written);
	free(m);
}
