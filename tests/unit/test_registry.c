#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/models/bundle.h"
#include "lib/models/registry.h"

#define T0 INT64_C(1772960400000000) /* 2026-03-08T09:00:00Z */
#define HOUR INT64_C(3600000000)

struct fixture {
	char dir[64], models[128], state[128];
	char lines[4][400];
	size_t n_lines;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int make_folder(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_registry.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->models, sizeof f->models, "%s/models", f->dir);
	snprintf(f->state, sizeof f->state, "%s/state", f->dir);
	*state = f;
	return 0;
}

static int remove_folder(void **state)
{
	struct fixture *f = *state;
	int rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static void note(void *ctx, const char *line)
{
	struct fixture *f = ctx;
	if (f->n_lines < 4)
		snprintf(f->lines[f->n_lines++], sizeof f->lines[0], "%s", line);
}

static struct registry *open_registry(struct fixture *f, long keep)
{
	struct registry_options o = {f->models, f->state, keep, note, f};
	struct err err = {0};
	struct registry *r = registry_open(&o, &err);
	if (!r)
		fail_msg("registry_open: %s", err.msg);
	return r;
}

static char *file(const struct fixture *f, const char *dir, const char *name, size_t *len)
{
	char path[400], *text = NULL;
	size_t n;
	snprintf(path, sizeof path, "%s/%s/%s", f->dir, dir, name);
	if (durable_read_all(path, &text, &n, NULL))
		return NULL;
	if (len)
		*len = n;
	return text;
}

static int exists(const struct fixture *f, const char *dir, const char *name)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s/%s", f->dir, dir, name);
	return access(path, F_OK) == 0;
}

static json_t *json_file(const struct fixture *f, const char *dir, const char *name)
{
	char *text = file(f, dir, name, NULL);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return j;
}

/* Records a candidate with bias b at t, deployed or not; its id in id. */
static void record(struct registry *r, double b, int deploy, int64_t t, char *id)
{
	char model[200], reason[80], at[40];
	struct err err = {0};
	calendar_format_iso(t, at, sizeof at);
	snprintf(model, sizeof model,
		 "{\"format\": 2, \"bias\": %g, \"z_clip\": 5, \"numeric\": {}, \"categorical\": "
		 "{\"fields\": [], \"weights\": {}}}",
		 b);
	snprintf(reason, sizeof reason, deploy ? "passed" : "failed a threshold");
	registry_new_id(r, t, id, REGISTRY_VERSION_MAX);
	json_t *entry = json_pack("{s:s,s:{s:f,s:f,s:{s:f,s:f,s:f}},s:s}", "trained_at", at,
				  "metrics", "accuracy", 0.7, "log_loss", 0.6, "all", "win_rate",
				  0.55, "profit_factor", 1.2, "sharpe", 2.0, "reason", reason);
	json_t *event = json_pack("{s:s,s:s,s:I}", "event", deploy ? "deploy" : "reject", "version",
				  id, "time", (json_int_t)t);
	json_t *manifest = json_pack("{s:i}", "format", 1);
	struct registry_candidate c = {id,   entry,	    deploy, event,    model,
				       "{}", strlen(model), 2,	    manifest, t};
	if (registry_record(r, &c, &err))
		fail_msg("registry_record: %s", err.msg);
	json_decref(entry);
	json_decref(event);
	json_decref(manifest);
}

static const char *status_of(struct registry *r, const char *id)
{
	return json_string_value(json_object_get(registry_version(registry_doc(r), id), "status"));
}

static void test_a_deployment_writes_the_pointer_the_baseline_and_the_log(void **state)
{
	struct fixture *f = *state;
	char a[REGISTRY_VERSION_MAX], b[REGISTRY_VERSION_MAX];
	struct registry *r = open_registry(f, 10);
	record(r, 0.5, 1, T0, a);
	assert_string_equal(a, "model_20260308_090000");
	record(r, 0.7, 0, T0, b); /* the same second: the next id */
	assert_string_equal(b, "model_20260308_090001");
	assert_string_equal(registry_deployed(registry_doc(r)), a);
	assert_string_equal(status_of(r, a), "deployed");
	assert_string_equal(status_of(r, b), "rejected");
	registry_close(r);

	json_t *cur = json_file(f, "models", "current.json");
	assert_string_equal(json_string_value(json_object_get(cur, "version")), a);
	assert_string_equal(json_string_value(json_object_get(cur, "deployed_at")),
			    "2026-03-08T09:00:00.000000Z");
	assert_true(json_real_value(json_object_get(cur, "bias")) == 0.5);
	json_decref(cur);
	json_t *base = json_file(f, "state", "baseline_performance.json");
	assert_string_equal(json_string_value(json_object_get(base, "deployment")),
			    "model_20260308_090000@2026-03-08T09:00:00.000000Z");
	assert_true(json_real_value(json_object_get(base, "win_rate")) == 0.55);
	assert_true(json_real_value(json_object_get(base, "accuracy")) == 0.7);
	assert_string_equal(json_string_value(json_object_get(base, "last_retrain")), "2026-03-08");
	json_decref(base);
	json_t *last = registry_last_logged(f->state);
	assert_string_equal(json_string_value(json_object_get(last, "version")), b);
	json_decref(last);
	assert_false(exists(f, "models", ".candidate"));
	char id[80];
	assert_int_equal(registry_baseline_deployment(f->state, id, sizeof id, NULL), 0);
	assert_string_equal(id, "model_20260308_090000@2026-03-08T09:00:00.000000Z");
}

static void test_deploy_by_hand_and_rollback_restore_the_pointer_byte_for_byte(void **state)
{
	struct fixture *f = *state;
	char a[REGISTRY_VERSION_MAX], b[REGISTRY_VERSION_MAX], target[REGISTRY_VERSION_MAX];
	struct err err = {0};
	size_t len_a, len;
	struct registry *r = open_registry(f, 10);
	record(r, 0.5, 1, T0, a);
	record(r, 0.7, 0, T0 + HOUR, b);
	char *first = file(f, "models", "current.json", &len_a);
	assert_int_equal(registry_deploy(r, b, T0 + 2 * HOUR, &err), 0);
	assert_string_equal(status_of(r, a), "archived");
	json_t *vb = registry_version(registry_doc(r), b);
	assert_string_equal(json_string_value(json_object_get(vb, "decided_by")), "deploy by hand");
	assert_non_null(strstr(json_string_value(json_object_get(vb, "reason")), "gate bypassed"));
	assert_int_equal(registry_deploy(r, b, T0, &err), -1);
	assert_non_null(strstr(err.msg, "already the deployed version"));

	assert_int_equal(registry_rollback(r, NULL, T0 + 3 * HOUR, target, &err), 0);
	assert_string_equal(target, a);
	char *again = file(f, "models", "current.json", &len);
	assert_int_equal(len, len_a);
	assert_memory_equal(first, again, len);
	assert_string_equal(status_of(r, b), "rolled_back");
	assert_string_equal(status_of(r, a), "deployed");
	/* Nothing earlier that was not rolled back itself. */
	assert_int_equal(registry_rollback(r, NULL, T0, target, &err), -1);
	assert_int_equal(err.code, EINVAL);
	json_t *ev = registry_deploy_event(registry_doc(r));
	assert_string_equal(json_string_value(json_object_get(ev, "decided_by")), "rollback");
	json_decref(ev);
	registry_close(r);
	/* A version never deployed cannot be rolled back to. */
	r = open_registry(f, 10);
	char c[REGISTRY_VERSION_MAX];
	record(r, 0.9, 0, T0 + 4 * HOUR, c);
	assert_int_equal(registry_rollback(r, c, T0, target, &err), -1);
	assert_non_null(strstr(err.msg, "was never deployed"));
	assert_int_equal(registry_rollback(r, "model_19990101_000000", T0, target, &err), -1);
	assert_non_null(strstr(err.msg, "no such version"));
	registry_close(r);
	free(first);
	free(again);
}

static void test_retention_keeps_the_newest_and_every_version_ever_deployed(void **state)
{
	struct fixture *f = *state;
	char id[6][REGISTRY_VERSION_MAX], name[64];
	struct registry *r = open_registry(f, 2);
	record(r, 0.1, 1, T0, id[0]);
	for (int i = 1; i < 6; i++)
		record(r, 0.1 * i, 0, T0 + i * HOUR, id[i]);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof name, "%.40s.tar.zst", id[i]);
		assert_int_equal(exists(f, "models", name), i == 0 || i >= 4);
		json_t *v = registry_version(registry_doc(r), id[i]);
		assert_int_equal(json_is_null(json_object_get(v, "bundle")), !(i == 0 || i >= 4));
	}
	struct err err = {0};
	assert_int_equal(registry_deploy(r, id[2], T0, &err), -1);
	assert_non_null(strstr(err.msg, "removed by retention"));
	registry_close(r);
}

static void
test_a_restart_discards_an_unrecorded_candidate_and_finishes_a_recorded_one(void **state)
{
	struct fixture *f = *state;
	char a[REGISTRY_VERSION_MAX], b[REGISTRY_VERSION_MAX], path[300];
	struct registry *r = open_registry(f, 10);
	record(r, 0.5, 1, T0, a);
	record(r, 0.6, 0, T0 + HOUR, b);
	registry_close(r);

	/* A bundle written and its marker, the registry never told: discarded. */
	size_t len = 0;
	char *bundle = file(f, "models", "model_20260308_090000.tar.zst", &len);
	assert_non_null(bundle);
	snprintf(path, sizeof path, "%s/model_20260309_000000.tar.zst", f->models);
	assert_int_equal(durable_replace(path, bundle, len, NULL), 0);
	snprintf(path, sizeof path, "%s/.candidate", f->models);
	const char *marker =
	    "{\"version\": \"model_20260309_000000\", \"bundle\": "
	    "\"model_20260309_000000.tar.zst\", \"event\": {\"event\": \"deploy\"}}";
	assert_int_equal(durable_replace(path, marker, strlen(marker), NULL), 0);
	f->n_lines = 0;
	r = open_registry(f, 10);
	registry_close(r);
	assert_false(exists(f, "models", "model_20260309_000000.tar.zst"));
	assert_false(exists(f, "models", ".candidate"));
	assert_int_equal(f->n_lines, 1);
	assert_non_null(strstr(f->lines[0], "discarded the candidate model_20260309_000000"));

	/* Recorded (the registry's last decision), then killed: the log line
	 * torn, current.json and the baseline never written. Finished. */
	json_t *reg = json_file(f, "models", "registry.json");
	json_t *m = json_pack("{s:s,s:s,s:O}", "version", b, "bundle", "x", "event",
			      json_object_get(reg, "last_decision"));
	char *text = json_dumps(m, 0);
	assert_int_equal(durable_replace(path, text, strlen(text), NULL), 0);
	free(text);
	json_decref(m);
	json_decref(reg);
	char *log = file(f, "state", "retrain_log.jsonl", &len);
	char *nl = memchr(log, '\n', len);
	snprintf(path, sizeof path, "%s/retrain_log.jsonl", f->state);
	assert_int_equal(durable_replace(path, log, (size_t)(nl - log + 1) + 7, NULL), 0);
	snprintf(path, sizeof path, "%s/current.json", f->models);
	unlink(path);
	snprintf(path, sizeof path, "%s/baseline_performance.json", f->state);
	unlink(path);
	f->n_lines = 0;
	r = open_registry(f, 10);
	registry_close(r);
	assert_non_null(strstr(f->lines[0], "finished recording the retrain decision reject"));
	char *finished = file(f, "state", "retrain_log.jsonl", &len);
	assert_int_equal(len, strlen(log));
	assert_memory_equal(finished, log, len);
	json_t *cur = json_file(f, "models", "current.json");
	assert_string_equal(json_string_value(json_object_get(cur, "version")), a);
	json_decref(cur);
	assert_true(exists(f, "state", "baseline_performance.json"));
	assert_false(exists(f, "models", ".candidate"));
	free(bundle);
	free(log);
	free(finished);
}

static ino_t inode_of(const struct fixture *f, const char *dir, const char *name)
{
	char path[400];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s/%s", f->dir, dir, name);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* Before any deployment the first daily report's baseline stands, with the
 * day of the last retrain; opening the registry again writes nothing. */
static void test_a_rejection_dates_the_daily_baseline_and_a_reopening_leaves_it_alone(void **state)
{
	struct fixture *f = *state;
	char path[300], a[REGISTRY_VERSION_MAX];
	const char *daily =
	    "{\"format\": 1, \"source\": \"first daily report\", \"win_rate\": 0.5, "
	    "\"last_retrain\": null}";
	assert_int_equal(durable_mkdirs(f->state, NULL), 0);
	snprintf(path, sizeof path, "%s/baseline_performance.json", f->state);
	assert_int_equal(durable_replace(path, daily, strlen(daily), NULL), 0);
	struct registry *r = open_registry(f, 10);
	registry_close(r);
	ino_t untouched = inode_of(f, "state", "baseline_performance.json");
	r = open_registry(f, 10);
	record(r, 0.5, 0, T0, a);
	registry_close(r);
	json_t *base = json_file(f, "state", "baseline_performance.json");
	assert_string_equal(json_string_value(json_object_get(base, "source")),
			    "first daily report");
	assert_string_equal(json_string_value(json_object_get(base, "last_retrain")), "2026-03-08");
	assert_null(json_object_get(base, "deployment"));
	json_decref(base);
	ino_t dated = inode_of(f, "state", "baseline_performance.json");
	assert_true(dated != untouched);
	r = open_registry(f, 10);
	registry_close(r);
	assert_true(inode_of(f, "state", "baseline_performance.json") == dated);
	char id[80];
	assert_int_equal(registry_baseline_deployment(f->state, id, sizeof id, NULL), 0);
	assert_string_equal(id, "");
}

static void test_a_damaged_registry_or_a_held_lock_is_refused(void **state)
{
	struct fixture *f = *state;
	char path[300];
	struct err err = {0};
	struct registry_options o = {f->models, f->state, 10, NULL, NULL};
	assert_int_equal(durable_mkdirs(f->models, NULL), 0);
	snprintf(path, sizeof path, "%s/.lock", f->models);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_null(registry_open(&o, &err));
	assert_int_equal(err.code, EWOULDBLOCK);
	/* The holder wrote no pid (yet): never "pid 0". */
	assert_non_null(strstr(err.msg, ".lock is held by another process"));
	assert_null(strstr(err.msg, "pid 0"));
	close(fd);

	static const struct {
		const char *text, *problem;
	} cases[] = {
	    {"{", "damaged: line 1"},
	    {"[]", "damaged: not a JSON object"},
	    {"{\"format\": 7, \"versions\": [], \"deployments\": [], \"deployed\": null, "
	     "\"last_decision\": null}",
	     "format 7 is newer than this program's"},
	    {"{\"format\": 1, \"versions\": {}, \"deployments\": [], \"deployed\": null, "
	     "\"last_decision\": null}",
	     "damaged: versions is not a list"},
	    {"{\"format\": 1, \"versions\": [], \"deployments\": [], \"deployed\": \"m\", "
	     "\"last_decision\": null}",
	     "damaged: deployed names the unknown version m"},
	    {"{\"format\": 1, \"versions\": [{\"id\": \"m\", \"status\": \"deployed\", \"bundle\": "
	     "\"../m.tar.zst\", \"metrics\": {}}], \"deployments\": [], \"deployed\": null, "
	     "\"last_decision\": null}",
	     "damaged: versions[0].bundle is not a file name"},
	};
	snprintf(path, sizeof path, "%s/registry.json", f->models);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(durable_replace(path, cases[i].text, strlen(cases[i].text), NULL),
				 0);
		assert_null(registry_open(&o, &err));
		assert_int_equal(err.code, EBADMSG);
		if (!strstr(err.msg, cases[i].problem))
			fail_msg("%s: %s", cases[i].text, err.msg);
		assert_null(registry_load(f->models, &err));
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_folder, remove_folder)
	const struct CMUnitTest tests[] = {
	    T(test_a_deployment_writes_the_pointer_the_baseline_and_the_log),
	    T(test_deploy_by_hand_and_rollback_restore_the_pointer_byte_for_byte),
	    T(test_retention_keeps_the_newest_and_every_version_ever_deployed),
	    T(test_a_restart_discards_an_unrecorded_candidate_and_finishes_a_recorded_one),
	    T(test_a_rejection_dates_the_daily_baseline_and_a_reopening_leaves_it_alone),
	    T(test_a_damaged_registry_or_a_held_lock_is_refused),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
