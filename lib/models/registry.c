#include "lib/models/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/jsontext.h"
#include "lib/base/logline.h"
#include "lib/base/schedule.h"
#include "lib/models/bundle.h"
#include "lib/models/holdout.h"

#define REGISTRY_FILE "registry.json"
#define CURRENT_FILE "current.json"
#define CANDIDATE_FILE ".candidate"
#define BASELINE_FILE "baseline_performance.json"
#define RETRAIN_LOG "retrain_log.jsonl"
#define BASELINE_FORMAT 1
#define PATH_LEN 4400

struct registry {
	char models_dir[4096];
	char state_dir[4096];
	long keep_bundles;
	logline_fn log;
	void *log_ctx;
	int lock;
	json_t *doc;
};

/* One line for the operator through the log callback (logline.h). */
#define say(r, ...) logline_say((r)->log, (r)->log_ctx, __VA_ARGS__)

static int path_in(char *buf, const char *dir, const char *name, struct err *err)
{
	if (snprintf(buf, PATH_LEN, "%s/%s", dir, name) >= PATH_LEN)
		return err_set(err, ENAMETOOLONG, "%s/%s: path too long", dir, name);
	return 0;
}

static int write_json(const char *path, json_t *v, int style, struct err *err)
{
	size_t len;
	char *text = v ? jsontext_dump(v, style, &len) : NULL;
	if (!text)
		return err_set(err, ENOMEM, "%s: out of memory", path);
	int rc = durable_replace(path, text, len, err);
	free(text);
	return rc;
}

static const char *text_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- the document ------------------------------------------------------------------ */

static json_t *empty_doc(void)
{
	return json_pack("{s:i,s:n,s:[],s:[],s:n}", "format", REGISTRY_FORMAT, "deployed",
			 "versions", "deployments", "last_decision");
}

static int damaged(struct err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int damaged(struct err *err, const char *path, const char *fmt, ...)
{
	char what[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return err_set(err, EBADMSG,
		       "%s: damaged: %s (restore it from a backup; the bundles beside it hold "
		       "every version's model)",
		       path, what);
}

/* The document is ours, but checked before anything trusts it. */
static int check_doc(json_t *doc, const char *path, struct err *err)
{
	json_t *v;
	size_t i;
	if (!json_is_object(doc))
		return damaged(err, path, "not a JSON object");
	json_t *format = json_object_get(doc, "format");
	if (!json_is_integer(format))
		return damaged(err, path, "format is missing");
	if (json_integer_value(format) > REGISTRY_FORMAT)
		return err_set(err, EBADMSG, "%s: format %lld is newer than this program's", path,
			       (long long)json_integer_value(format));
	json_t *versions = json_object_get(doc, "versions");
	json_t *deployments = json_object_get(doc, "deployments");
	json_t *deployed = json_object_get(doc, "deployed");
	if (!json_is_array(versions))
		return damaged(err, path, "versions is not a list");
	if (!json_is_array(deployments))
		return damaged(err, path, "deployments is not a list");
	if (!json_is_null(deployed) && !json_is_string(deployed))
		return damaged(err, path, "deployed is not a version id or null");
	if (!json_object_get(doc, "last_decision"))
		return damaged(err, path, "last_decision is missing");
	json_array_foreach(versions, i, v)
	{
		const char *id = text_of(v, "id"), *status = text_of(v, "status");
		json_t *bundle = json_object_get(v, "bundle");
		if (!id || !status || !(json_is_string(bundle) || json_is_null(bundle)) ||
		    !json_is_object(json_object_get(v, "metrics")))
			return damaged(err, path,
				       "versions[%zu] is not a version (id, bundle, status, "
				       "metrics)",
				       i);
		const char *b = json_string_value(bundle);
		if (b && (strchr(b, '/') || strstr(b, "..")))
			return damaged(err, path, "versions[%zu].bundle is not a file name", i);
	}
	json_array_foreach(deployments, i, v)
	{
		if (!text_of(v, "version") || !text_of(v, "at") || !text_of(v, "id"))
			return damaged(err, path, "deployments[%zu] is not a deployment", i);
	}
	if (json_is_string(deployed) && !registry_version(doc, json_string_value(deployed)))
		return damaged(err, path, "deployed names the unknown version %s",
			       json_string_value(deployed));
	return 0;
}

json_t *registry_load(const char *models_dir, struct err *err)
{
	char path[PATH_LEN], *text;
	size_t len;
	json_error_t jerr;
	if (path_in(path, models_dir, REGISTRY_FILE, err))
		return NULL;
	if (durable_read_all(path, &text, &len, err)) {
		if (errno != ENOENT)
			return NULL;
		err_clear(err);
		json_t *doc = empty_doc();
		if (!doc)
			err_set(err, ENOMEM, "out of memory");
		return doc;
	}
	json_t *doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!doc) {
		damaged(err, path, "line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	if (check_doc(doc, path, err)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

json_t *registry_version(json_t *doc, const char *id)
{
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(doc, "versions"), i, v)
	{
		const char *vid = text_of(v, "id");
		if (vid && id && strcmp(vid, id) == 0)
			return v;
	}
	return NULL;
}

const char *registry_deployed(json_t *doc)
{
	return text_of(doc, "deployed");
}

json_t *registry_last_deployment(json_t *doc)
{
	json_t *d = json_object_get(doc, "deployments");
	size_t n = json_array_size(d);
	return n ? json_array_get(d, n - 1) : NULL;
}

json_t *registry_doc(const struct registry *r)
{
	return r->doc;
}

void registry_bundle_path(const struct registry *r, const char *id, char *path, size_t len)
{
	snprintf(path, len, "%s/%s.tar.zst", r->models_dir, id);
}

void registry_new_id(const struct registry *r, int64_t now_us, char *id, size_t len)
{
	int64_t s = now_us / CALENDAR_US_PER_S;
	for (;; s++) {
		char iso[40], path[PATH_LEN];
		struct stat st;
		calendar_format_iso(s * CALENDAR_US_PER_S, iso, sizeof iso);
		/* "YYYY-MM-DDTHH:MM:SS..." → "model_YYYYMMDD_HHMMSS" */
		snprintf(id, len, "model_%.4s%.2s%.2s_%.2s%.2s%.2s", iso, iso + 5, iso + 8,
			 iso + 11, iso + 14, iso + 17);
		registry_bundle_path(r, id, path, sizeof path);
		if (!registry_version(r->doc, id) && lstat(path, &st) != 0)
			return;
	}
}

/* ---- derived files: current.json, the baseline, the log ----------------------------- */

json_t *registry_model(const char *models_dir, json_t *v, struct err *err)
{
	char path[PATH_LEN];
	const char *bundle = text_of(v, "bundle");
	if (!bundle) {
		err_set(err, EINVAL, "%s: its bundle was removed by retention", text_of(v, "id"));
		return NULL;
	}
	if (path_in(path, models_dir, bundle, err))
		return NULL;
	struct bundle *b = bundle_new(path, err);
	if (!b)
		return NULL;
	size_t len;
	const char *text = bundle_member(b, "model.json", &len);
	json_t *m = text ? json_loadb(text, len, 0, NULL) : NULL;
	bundle_free(b);
	if (!json_is_object(m)) {
		json_decref(m);
		err_set(err, EBADMSG, "%s: model.json is %s", path,
			text ? "not a JSON object" : "missing");
		return NULL;
	}
	return m;
}

/* current.json for version v: its bundle's model.json with "version" and
 * "deployed_at", as text. */
static char *current_text(const struct registry *r, json_t *v, size_t *len, struct err *err)
{
	json_t *at = json_object_get(v, "deployed_at");
	json_t *m = registry_model(r->models_dir, v, err);
	char *text = NULL;
	if (!m)
		return NULL;
	if (json_object_set(m, "version", json_object_get(v, "id")) ||
	    json_object_set(m, "deployed_at", at ? at : json_null()) ||
	    !(text = jsontext_dump(m, JSONTEXT_PRETTY, len)))
		err_set(err, ENOMEM, "out of memory");
	json_decref(m);
	return text;
}

static int write_current(const struct registry *r, json_t *v, struct err *err)
{
	char path[PATH_LEN];
	size_t len;
	if (path_in(path, r->models_dir, CURRENT_FILE, err))
		return -1;
	char *text = current_text(r, v, &len, err);
	if (!text)
		return err_prefix(err, "%s", path);
	int rc = durable_replace(path, text, len, err);
	free(text);
	return rc;
}

/* current.json agrees with the registry: the deployed version, as of its
 * first deployment. */
static int current_agrees(const struct registry *r, json_t *v)
{
	char path[PATH_LEN];
	json_error_t jerr;
	if (path_in(path, r->models_dir, CURRENT_FILE, NULL))
		return 0;
	json_t *cur = json_load_file(path, 0, &jerr);
	int same =
	    json_is_object(cur) &&
	    json_equal(json_object_get(cur, "version"), json_object_get(v, "id")) &&
	    json_equal(json_object_get(cur, "deployed_at"), json_object_get(v, "deployed_at"));
	json_decref(cur);
	return same;
}

/* The day ("YYYY-MM-DD", exchange time) of an ISO time, or "" */
static void day_of(const char *iso, char *day, size_t len)
{
	int64_t us;
	day[0] = '\0';
	if (iso && calendar_parse_iso(iso, &us) == 0)
		schedule_format_day(schedule_local_day(us), day, len);
}

/* The day of the newest trained version, or "" */
static void last_retrain_day(const struct registry *r, char *day, size_t len)
{
	json_t *versions = json_object_get(r->doc, "versions");
	size_t n = json_array_size(versions);
	day[0] = '\0';
	if (n)
		day_of(text_of(json_array_get(versions, n - 1), "trained_at"), day, len);
}

/* The baseline the registry calls for, built on the file as it is (old,
 * may be NULL); NULL when there is nothing to write: no deployment yet and
 * either no file (the first daily run writes one) or no version. */
static json_t *baseline_wanted(const struct registry *r, json_t *old)
{
	char retrained[16], day[16], source[200];
	json_t *dep = registry_last_deployment(r->doc);
	const char *deployed = registry_deployed(r->doc);
	last_retrain_day(r, retrained, sizeof retrained);
	if (!dep || !deployed) {
		if (!json_is_object(old) || !retrained[0])
			return NULL;
		json_t *b = json_deep_copy(old);
		if (b)
			json_object_set_new(b, "last_retrain", json_string(retrained));
		return b;
	}
	struct holdout_figures m;
	holdout_figures_from_json(json_object_get(registry_version(r->doc, deployed), "metrics"),
				  &m);
	day_of(text_of(dep, "at"), day, sizeof day);
	snprintf(source, sizeof source, "deployment of %s (%s)", deployed, text_of(dep, "by"));
	return json_pack("{s:i,s:s,s:s,s:s,s:O,s:O,s:o,s:o,s:o,s:o,s:o}", "format", BASELINE_FORMAT,
			 "set_for_day", day, "source", source, "version", deployed, "deployment",
			 json_object_get(dep, "id"), "deployed_at", json_object_get(dep, "at"),
			 "win_rate", jsontext_real_or_null(m.all.win_rate), "accuracy",
			 jsontext_real_or_null(m.accuracy), "profit_factor",
			 jsontext_real_or_null(m.all.profit_factor), "sharpe_7d",
			 jsontext_real_or_null(m.all.sharpe), "last_retrain",
			 retrained[0] ? json_string(retrained) : json_null());
}

/* a and b hold the same value at key, or neither holds one (json_equal
 * says no to two NULLs). */
static int same_value(json_t *a, json_t *b, const char *key)
{
	json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
	return x || y ? json_equal(x, y) : 1;
}

static int sync_baseline(const struct registry *r, struct err *err)
{
	char path[PATH_LEN];
	json_error_t jerr;
	if (path_in(path, r->state_dir, BASELINE_FILE, err))
		return -1;
	json_t *old = json_load_file(path, 0, &jerr);
	json_t *want = baseline_wanted(r, old);
	int rc = 0;
	if (want && !(json_is_object(old) && same_value(old, want, "deployment") &&
		      same_value(old, want, "last_retrain"))) {
		rc = durable_mkdirs(r->state_dir, err) ||
		     write_json(path, want, JSONTEXT_PRETTY, err);
	}
	json_decref(old);
	json_decref(want);
	return rc;
}

json_t *registry_last_logged(const char *state_dir)
{
	char path[PATH_LEN], *text;
	size_t len;
	if (path_in(path, state_dir, RETRAIN_LOG, NULL) ||
	    durable_read_all(path, &text, &len, NULL))
		return NULL;
	while (len && text[len - 1] != '\n')
		len--; /* a torn line */
	if (len)
		len--;
	const char *line = memrchr(text, '\n', len);
	line = line ? line + 1 : text;
	json_t *o = json_loadb(line, (size_t)(text + len - line), 0, NULL);
	free(text);
	return o;
}

/* Appends event to the retrain log, after cutting off a torn last line. */
static int log_event(const struct registry *r, json_t *event, struct err *err)
{
	char path[PATH_LEN], *text;
	size_t len, n;
	struct stat st;
	if (path_in(path, r->state_dir, RETRAIN_LOG, err) || durable_mkdirs(r->state_dir, err))
		return -1;
	int fd = durable_open_append(path, err);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		char *old;
		size_t old_len;
		if (durable_read_all(path, &old, &old_len, NULL) == 0) {
			size_t keep = old_len;
			while (keep && old[keep - 1] != '\n')
				keep--;
			if (keep != old_len && ftruncate(fd, (off_t)keep) != 0) {
				free(old);
				close(fd);
				return err_fail(err, "%s: %s", path, strerror(errno));
			}
			free(old);
		}
	}
	text = jsontext_dump(event, JSONTEXT_COMPACT, &n);
	if (!text) {
		close(fd);
		return err_set(err, ENOMEM, "out of memory");
	}
	text[n] = '\n';
	len = n + 1;
	int rc = durable_write_all(fd, text, len, err);
	if (rc == 0 && fsync(fd) != 0)
		rc = err_fail(err, "fsync %s: %s", path, strerror(errno));
	free(text);
	close(fd);
	return rc;
}

/* Unlinks the files of versions whose bundle the registry has let go. */
static void remove_released(const struct registry *r)
{
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(r->doc, "versions"), i, v)
	{
		char path[PATH_LEN];
		const char *id = text_of(v, "id");
		if (!json_is_null(json_object_get(v, "bundle")) || !id)
			continue;
		registry_bundle_path(r, id, path, sizeof path);
		if (unlink(path) == 0)
			say(r,
			    "%s: bundle removed (retention keeps the newest %ld and every one "
			    "ever deployed)",
			    id, r->keep_bundles);
	}
}

/* Everything derived from the registry made to agree with it. */
static int sync_derived(const struct registry *r, struct err *err)
{
	const char *deployed = registry_deployed(r->doc);
	json_t *v = deployed ? registry_version(r->doc, deployed) : NULL;
	if (v && !current_agrees(r, v)) {
		if (write_current(r, v, err))
			return -1;
	}
	if (sync_baseline(r, err))
		return -1;
	remove_released(r);
	return 0;
}

/* Marks for removal the bundles that retention lets go: all but the newest
 * keep_bundles of those present, and every version ever deployed. */
static void apply_retention(struct registry *r)
{
	json_t *versions = json_object_get(r->doc, "versions"), *v;
	long present = 0;
	for (size_t i = json_array_size(versions); i-- > 0;) {
		v = json_array_get(versions, i);
		if (json_is_null(json_object_get(v, "bundle")))
			continue;
		if (++present <= r->keep_bundles ||
		    json_is_true(json_object_get(v, "ever_deployed")))
			continue;
		json_object_set_new(v, "bundle", json_null());
	}
}

static int save_doc(const struct registry *r, struct err *err)
{
	char path[PATH_LEN];
	if (path_in(path, r->models_dir, REGISTRY_FILE, err))
		return -1;
	return write_json(path, r->doc, JSONTEXT_PRETTY, err);
}

/* ---- opening, recovery ------------------------------------------------------------- */

static int remove_candidate_marker(const struct registry *r, struct err *err)
{
	char path[PATH_LEN];
	if (path_in(path, r->models_dir, CANDIDATE_FILE, err))
		return -1;
	if (unlink(path) != 0 && errno != ENOENT)
		return err_fail(err, "remove %s: %s", path, strerror(errno));
	return durable_sync_dir(r->models_dir, err);
}

/* A .candidate left by an interrupted registry_record(): finished when
 * the registry has its decision, else its bundle is removed. */
static int recover_candidate(struct registry *r, struct err *err)
{
	char path[PATH_LEN];
	json_error_t jerr;
	if (path_in(path, r->models_dir, CANDIDATE_FILE, err))
		return -1;
	json_t *c = json_load_file(path, 0, &jerr);
	if (!c) {
		/* Absent, or torn by a crash while it was written (before its
		 * rename, so nothing after it happened either). */
		return access(path, F_OK) == 0 ? remove_candidate_marker(r, err) : 0;
	}
	const char *id = text_of(c, "version");
	json_t *event = json_object_get(c, "event");
	int committed = json_equal(json_object_get(r->doc, "last_decision"), event);
	int rc = 0;
	if (committed) {
		json_t *last = registry_last_logged(r->state_dir);
		if (!json_equal(last, event)) {
			rc = log_event(r, event, err);
			if (rc == 0)
				say(r, "finished recording the retrain decision %s of %s",
				    text_of(event, "event"), id ? id : "(no version)");
		}
		json_decref(last);
	} else if (id) {
		char bundle[PATH_LEN];
		registry_bundle_path(r, id, bundle, sizeof bundle);
		if (unlink(bundle) == 0 || errno == ENOENT)
			say(r,
			    "discarded the candidate %s of an interrupted retrain (not recorded)",
			    id);
		else
			rc = err_fail(err, "remove %s: %s", bundle, strerror(errno));
	}
	json_decref(c);
	if (rc == 0)
		rc = remove_candidate_marker(r, err);
	return rc;
}

struct registry *registry_open(const struct registry_options *o, struct err *err)
{
	struct registry *r = calloc(1, sizeof *r);
	pid_t holder = 0;
	if (!r) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	r->lock = -1;
	if (snprintf(r->models_dir, sizeof r->models_dir, "%s", o->models_dir) >=
		(int)sizeof r->models_dir ||
	    snprintf(r->state_dir, sizeof r->state_dir, "%s", o->state_dir) >=
		(int)sizeof r->state_dir) {
		err_set(err, ENAMETOOLONG, "%s: path too long", o->models_dir);
		goto fail;
	}
	r->keep_bundles = o->keep_bundles > 0 ? o->keep_bundles : 1;
	r->log = o->log;
	r->log_ctx = o->log_ctx;
	if (durable_mkdirs(r->models_dir, err))
		goto fail;
	r->lock = durable_lock(r->models_dir, &holder, err);
	if (r->lock < 0) {
		if (errno == EWOULDBLOCK && holder > 0)
			err_set(err, EWOULDBLOCK,
				"%s/.lock is held by pid %ld (a retrain or a models command is "
				"running)",
				r->models_dir, (long)holder);
		else if (errno == EWOULDBLOCK)
			err_set(err, EWOULDBLOCK,
				"%s/.lock is held by another process (a retrain or a models "
				"command is running)",
				r->models_dir);
		goto fail;
	}
	durable_sweep_temps(r->models_dir, NULL);
	r->doc = registry_load(r->models_dir, err);
	if (!r->doc || recover_candidate(r, err) || sync_derived(r, err))
		goto fail;
	return r;
fail:
	registry_close(r);
	return NULL;
}

void registry_close(struct registry *r)
{
	if (!r)
		return;
	if (r->lock >= 0)
		close(r->lock);
	json_decref(r->doc);
	free(r);
}

/* ---- changes ----------------------------------------------------------------------- */

static void set_status(json_t *v, const char *status, const char *by, const char *reason)
{
	json_object_set_new(v, "status", json_string(status));
	json_object_set_new(v, "decided_by", json_string(by));
	json_object_set_new(v, "reason", json_string(reason));
}

/* v becomes the deployed version at `at`, decided by `by`; the version
 * deployed before it gets `previous_status`. */
static void deploy_in_doc(struct registry *r, json_t *v, const char *at, const char *by,
			  const char *previous_status, const char *reason)
{
	const char *id = text_of(v, "id");
	const char *before = registry_deployed(r->doc);
	char why[300], dep_id[200];
	if (before && strcmp(before, id) != 0) {
		json_t *old = registry_version(r->doc, before);
		snprintf(why, sizeof why, "%s %s (%s)",
			 strcmp(previous_status, "rolled_back") == 0 ? "rolled back to"
								     : "replaced by",
			 id, by);
		set_status(old, previous_status, by, why);
	}
	set_status(v, "deployed", by, reason);
	if (json_is_null(json_object_get(v, "deployed_at")) || !json_object_get(v, "deployed_at"))
		json_object_set_new(v, "deployed_at", json_string(at));
	json_object_set_new(v, "ever_deployed", json_true());
	json_object_set_new(r->doc, "deployed", json_string(id));
	snprintf(dep_id, sizeof dep_id, "%s@%s", id, at);
	json_array_append_new(
	    json_object_get(r->doc, "deployments"),
	    json_pack("{s:s,s:s,s:s,s:s}", "version", id, "at", at, "by", by, "id", dep_id));
}

int registry_record(struct registry *r, const struct registry_candidate *c, struct err *err)
{
	char path[PATH_LEN], bundle_name[REGISTRY_VERSION_MAX + 16], at[40];
	json_t *marker = NULL, *before = json_deep_copy(r->doc);
	int rc = -1;

	if (!before)
		return err_set(err, ENOMEM, "out of memory");
	calendar_format_iso(c->now_us, at, sizeof at);
	if (c->id)
		snprintf(bundle_name, sizeof bundle_name, "%s.tar.zst", c->id);
	/* 1. the marker: what to finish or discard after a crash. */
	marker =
	    json_pack("{s:o,s:o,s:O}", "version", c->id ? json_string(c->id) : json_null(),
		      "bundle", c->id ? json_string(bundle_name) : json_null(), "event", c->event);
	if (!marker) {
		err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (path_in(path, r->models_dir, CANDIDATE_FILE, err) ||
	    write_json(path, marker, JSONTEXT_COMPACT, err))
		goto out;
	/* 2. the bundle. */
	if (c->id) {
		struct bundle_member members[] = {
		    {"model.json", c->model_json, c->model_len},
		    {"metrics.json", c->metrics_json, c->metrics_len},
		};
		registry_bundle_path(r, c->id, path, sizeof path);
		if (bundle_write(path, members, 2, c->manifest,
				 (time_t)(c->now_us / CALENDAR_US_PER_S), err))
			goto out;
	}
	/* 3. the registry: the commit point. */
	if (c->id) {
		json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", c->id, "bundle", bundle_name,
				      "status", "", "decided_by", REGISTRY_BY_GATE, "reason", "");
		if (!v || json_object_update(v, c->entry) ||
		    json_object_set_new(v, "deployed_at", json_null()) ||
		    json_object_set_new(v, "ever_deployed", json_false()) ||
		    json_array_append_new(json_object_get(r->doc, "versions"), v)) {
			err_set(err, ENOMEM, "out of memory");
			goto out;
		}
		const char *reason = text_of(c->entry, "reason");
		if (c->deploy)
			deploy_in_doc(r, v, at, REGISTRY_BY_GATE, "archived", reason ? reason : "");
		else
			set_status(v, "rejected", REGISTRY_BY_GATE, reason ? reason : "");
		apply_retention(r);
	}
	json_object_set(r->doc, "last_decision", c->event);
	if (save_doc(r, err))
		goto out;
	/* 4. to 7. */
	json_decref(before);
	before = NULL;
	if (sync_derived(r, err) || log_event(r, c->event, err) || remove_candidate_marker(r, err))
		goto out;
	rc = 0;
out:
	if (before) {
		/* Not committed: the document in memory goes back to the file's. */
		json_decref(r->doc);
		r->doc = before;
	}
	json_decref(marker);
	return rc;
}

/* A version whose bundle is there and reads back whole. */
static json_t *usable_version(struct registry *r, const char *id, struct err *err)
{
	json_t *v = registry_version(r->doc, id);
	if (!v) {
		err_set(err, EINVAL, "%s: no such version (tradelearn models list shows them)", id);
		return NULL;
	}
	json_t *m = registry_model(r->models_dir, v, err);
	if (!m)
		return NULL;
	json_decref(m);
	return v;
}

/* Saves the document changed in memory (restoring before on failure), then
 * the derived files. */
static int commit_change(struct registry *r, json_t *before, struct err *err)
{
	if (save_doc(r, err)) {
		json_decref(r->doc);
		r->doc = before;
		return -1;
	}
	json_decref(before);
	return sync_derived(r, err);
}

int registry_deploy(struct registry *r, const char *id, int64_t now_us, struct err *err)
{
	char at[40], reason[600];
	const char *deployed = registry_deployed(r->doc);
	if (deployed && strcmp(deployed, id) == 0)
		return err_set(err, EINVAL, "%s is already the deployed version", id);
	if (!usable_version(r, id, err))
		return -1;
	json_t *before = json_deep_copy(r->doc);
	if (!before)
		return err_set(err, ENOMEM, "out of memory");
	json_t *v = registry_version(r->doc, id);
	const char *status = text_of(v, "status"), *old = text_of(v, "reason");
	snprintf(reason, sizeof reason, "deployed by hand, the gate bypassed (it was %s: %s)",
		 status, old ? old : "");
	calendar_format_iso(now_us, at, sizeof at);
	deploy_in_doc(r, v, at, REGISTRY_BY_HAND, "archived", reason);
	return commit_change(r, before, err);
}

int registry_rollback(struct registry *r, const char *id, int64_t now_us, char *target,
		      struct err *err)
{
	char at[40], reason[300];
	const char *deployed = registry_deployed(r->doc);
	if (!deployed)
		return err_set(err, EINVAL, "nothing is deployed: there is nothing to roll back");
	if (!id) {
		json_t *deps = json_object_get(r->doc, "deployments");
		for (size_t i = json_array_size(deps); i-- > 0 && !id;) {
			const char *vid = text_of(json_array_get(deps, i), "version");
			json_t *v = registry_version(r->doc, vid);
			if (vid && strcmp(vid, deployed) != 0 && v &&
			    strcmp(text_of(v, "status"), "rolled_back") != 0)
				id = vid;
		}
		if (!id)
			return err_set(
			    err, EINVAL,
			    "no version deployed before %s is left to roll back to (every "
			    "other one was rolled back itself): name one (models rollback "
			    "ID) or deploy one by hand",
			    deployed);
	} else if (strcmp(id, deployed) == 0) {
		return err_set(err, EINVAL, "%s is the deployed version", id);
	}
	json_t *v = usable_version(r, id, err);
	if (!v)
		return -1;
	if (!json_is_true(json_object_get(v, "ever_deployed")))
		return err_set(err, EINVAL,
			       "%s was never deployed: `tradelearn models deploy %s` deploys it "
			       "(the gate bypassed)",
			       id, id);
	char target_id[REGISTRY_VERSION_MAX];
	snprintf(target_id, sizeof target_id, "%s", id);
	json_t *before = json_deep_copy(r->doc);
	if (!before)
		return err_set(err, ENOMEM, "out of memory");
	v = registry_version(r->doc, target_id);
	snprintf(reason, sizeof reason, "restored by rollback from %s", deployed);
	calendar_format_iso(now_us, at, sizeof at);
	deploy_in_doc(r, v, at, REGISTRY_BY_ROLLBACK, "rolled_back", reason);
	if (target)
		snprintf(target, REGISTRY_VERSION_MAX, "%s", target_id);
	return commit_change(r, before, err);
}

int registry_baseline_deployment(const char *state_dir, char *id, size_t len, struct err *err)
{
	char path[PATH_LEN];
	json_error_t jerr;
	id[0] = '\0';
	if (path_in(path, state_dir, BASELINE_FILE, err))
		return -1;
	json_t *b = json_load_file(path, 0, &jerr);
	if (!b) {
		if (access(path, F_OK) != 0)
			return 0;
		return err_set(err, EBADMSG, "%s: %s", path, jerr.text);
	}
	const char *d = text_of(b, "deployment");
	if (d)
		jsontext_copy_utf8(id, len, d);
	int rc = json_is_object(b) ? 0 : err_set(err, EBADMSG, "%s: not a JSON object", path);
	json_decref(b);
	return rc;
}

json_t *registry_deploy_event(json_t *doc)
{
	char text[700];
	json_t *dep = registry_last_deployment(doc);
	json_t *v = dep ? registry_version(doc, text_of(dep, "version")) : NULL;
	if (!v)
		return NULL;
	const char *by = text_of(dep, "by"), *reason = text_of(v, "reason");
	snprintf(text, sizeof text, "tradelearn: %s deployed (%s): %.500s", text_of(v, "id"),
		 by ? by : "", reason ? reason : "");
	return json_pack("{s:s,s:O,s:s,s:s,s:[s],s:O,s:O,s:O}", "text", text, "version",
			 json_object_get(v, "id"), "decision", "deploy", "decided_by", by ? by : "",
			 "reasons", reason ? reason : "", "figures", json_object_get(v, "metrics"),
			 "deployed_at", json_object_get(dep, "at"), "deployment",
			 json_object_get(dep, "id"));
}
