/* runner: real child processes that crash, fail, hang and succeed; the
 * journal they leave; retries and timeouts, with time given by the test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/journal_lines.h"
#include "lib/base/calendar.h"
#include "lib/base/hook.h"
#include "lib/config/config.h"
#include "jobs/runner/runner.h"

struct fixture {
	char dir[64], exe[96];
	struct config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/tl-runner-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->exe, sizeof f->exe, "%s/job.sh", f->dir);
	config_init(&f->cfg);
	f->cfg.schedule.retry_backoff_s = 0;
	f->cfg.schedule.max_retries = 1;
	assert_int_equal(calendar_set_zone("America/New_York"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	config_release(&f->cfg);
	free(f);
	return 0;
}

static void script(struct fixture *f, const char *body)
{
	FILE *fp = fopen(f->exe, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	fclose(fp);
	chmod(f->exe, 0755);
}

static struct runner *start_runner(struct fixture *f, int64_t now)
{
	struct err err;
	struct runner_options o = {.state_dir = f->dir, .config = &f->cfg, .exe = f->exe};
	struct runner *r = runner_new(&o, now, &err);
	assert_non_null(r);
	return r;
}

/* Lets the running child finish (for real) and reaps it. */
static void wait_child(struct runner *r, int64_t now)
{
	for (int i = 0; i < 500 && runner_running(r); i++) {
		usleep(10000);
		runner_reap(r, now);
	}
	assert_int_equal(runner_running(r), 0);
}

static json_t *journal(struct fixture *f)
{
	return journal_lines(f->dir);
}

static const char *field(json_t *all, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(all, i), key));
}

static long number(json_t *all, size_t i, const char *key)
{
	return (long)json_integer_value(json_object_get(json_array_get(all, i), key));
}

/* Friday 2026-03-06 17:00 EST: that day's 16:05 slot has passed. */
static int64_t friday_evening(void)
{
	int64_t us;
	calendar_parse_iso("2026-03-06T22:00:00Z", &us);
	return us;
}

static void test_a_crashing_job_is_journaled_with_its_signal_and_retried_then_given_up(void **state)
{
	struct fixture *f = *state;
	int64_t now = friday_evening();
	script(f, "echo 'tradelearn: about to crash' >&2; kill -SEGV $$");
	struct runner *r = start_runner(f, now);
	runner_tick(r, now);
	assert_true(runner_running(r) > 0);
	wait_child(r, now);
	runner_tick(r, now); /* backoff 0: the retry starts at once */
	assert_true(runner_running(r) > 0);
	wait_child(r, now);
	runner_tick(r, now); /* max_retries 1: nothing more */
	assert_int_equal(runner_running(r), 0);
	runner_stop(r, now);
	runner_free(r);

	json_t *j = journal(f);
	assert_int_equal(json_array_size(j), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(field(j, i, "job"), "daily");
		assert_string_equal(field(j, i, "day"), "2026-03-06");
		assert_string_equal(field(j, i, "status"), "crashed");
		assert_int_equal(number(j, i, "signal"), 11);
		assert_int_equal(number(j, i, "attempt"), (long)i + 1);
		assert_string_equal(field(j, i, "error"), "about to crash");
	}
	json_decref(j);

	/* A restart gives the day up, once, without running it. */
	r = start_runner(f, now);
	runner_tick(r, now);
	assert_int_equal(runner_running(r), 0);
	runner_stop(r, now);
	runner_free(r);
	j = journal(f);
	assert_int_equal(json_array_size(j), 3);
	assert_string_equal(field(j, 2, "status"), "skipped");
	json_decref(j);
}

static void test_a_hanging_job_is_killed_at_its_timeout(void **state)
{
	struct fixture *f = *state;
	int64_t now = friday_evening();
	f->cfg.schedule.job_timeout_s = 5;
	f->cfg.schedule.max_retries = 0;
	script(f, "exec sleep 60");
	struct runner *r = start_runner(f, now);
	runner_tick(r, now);
	assert_true(runner_running(r) > 0);
	assert_true(runner_next_wake(r) <= now + 5 * CALENDAR_US_PER_S);
	runner_tick(r, now + 4 * CALENDAR_US_PER_S);
	usleep(50000);
	runner_reap(r, now + 4 * CALENDAR_US_PER_S);
	assert_true(runner_running(r) > 0); /* not yet */
	runner_tick(r, now + 6 * CALENDAR_US_PER_S);
	wait_child(r, now + 6 * CALENDAR_US_PER_S);
	runner_stop(r, now);
	runner_free(r);
	json_t *j = journal(f);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(field(j, 0, "status"), "timeout");
	assert_int_equal(number(j, 0, "signal"), 9);
	json_decref(j);
}

static void test_a_job_that_succeeds_runs_once_with_its_arguments(void **state)
{
	struct fixture *f = *state;
	int64_t now = friday_evening();
	char args[128], line[256];
	snprintf(args, sizeof args, "echo \"$@\" > %s/args", f->dir);
	script(f, args);
	struct runner *r = start_runner(f, now);
	runner_tick(r, now);
	wait_child(r, now);
	runner_tick(r, now);
	assert_int_equal(runner_running(r), 0);
	/* The next slot is the weekly retrain, Sunday 01:00 EST; without it,
	 * Monday's 16:05, which is EDT already (from 2026-03-08). */
	int64_t sunday, monday;
	calendar_parse_iso("2026-03-08T06:00:00Z", &sunday);
	calendar_parse_iso("2026-03-09T20:05:00Z", &monday);
	assert_true(runner_next_wake(r) == sunday);
	f->cfg.schedule.retrain_weekday = -1;
	runner_replan(r, now);
	assert_true(runner_next_wake(r) == monday);
	runner_stop(r, now);
	runner_free(r);
	json_t *j = journal(f);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(field(j, 0, "status"), "ok");
	assert_int_equal(number(j, 0, "exit"), 0);
	assert_true(json_is_null(json_object_get(json_array_get(j, 0), "error")));
	json_decref(j);
	snprintf(args, sizeof args, "%s/args", f->dir);
	FILE *fp = fopen(args, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof line, fp));
	fclose(fp);
	assert_string_equal(line, "daily --date 2026-03-06\n");
}

static void test_a_job_killed_by_shutdown_is_interrupted_not_failed(void **state)
{
	struct fixture *f = *state;
	int64_t now = friday_evening();
	script(f, "exec sleep 60");
	struct runner *r = start_runner(f, now);
	runner_tick(r, now);
	assert_true(runner_running(r) > 0);
	runner_stop(r, now);
	runner_free(r);
	json_t *j = journal(f);
	assert_string_equal(field(j, 0, "status"), "interrupted");
	json_decref(j);
	/* It runs again on the next start, as attempt 1. */
	script(f, "exit 0");
	r = start_runner(f, now);
	runner_tick(r, now);
	wait_child(r, now);
	runner_stop(r, now);
	runner_free(r);
	j = journal(f);
	assert_int_equal(json_array_size(j), 2);
	assert_string_equal(field(j, 1, "status"), "ok");
	assert_int_equal(number(j, 1, "attempt"), 1);
	json_decref(j);
}

/* The events a job_failed hook wrote, one JSON object each (after waiting
 * for n of them: the hook runs in a process of its own). */
static json_t *hook_events(struct fixture *f, size_t n)
{
	char path[128];
	json_t *all = NULL;
	snprintf(path, sizeof path, "%s/events", f->dir);
	for (int i = 0; i < 500; i++) {
		json_decref(all);
		all = json_array();
		FILE *fp = fopen(path, "r");
		json_error_t jerr;
		json_t *o;
		while (fp && (o = json_loadf(fp, JSON_DISABLE_EOF_CHECK, &jerr)))
			json_array_append_new(all, o);
		if (fp)
			fclose(fp);
		if (json_array_size(all) >= n)
			break;
		usleep(10000);
	}
	return all;
}

static void test_a_failing_job_fires_job_failed_without_waiting_for_the_hook(void **state)
{
	struct fixture *f = *state;
	int64_t now = friday_evening();
	char events[128];
	struct err err = {0};
	snprintf(events, sizeof events, "%s/events", f->dir);
	/* The hook takes its time: the runner does not wait for it. */
	const char *argv[] = {"/bin/sh", "-c", "sleep 0.3; cat >> \"$0\"", events};
	assert_int_equal(
	    hook_command_set(&f->cfg.hooks.command[HOOK_JOB_FAILED], argv, 4, NULL, &err), 0);
	script(f, "echo 'tradelearn: no data for the day' >&2; exit 1");
	struct runner *r = start_runner(f, now);
	runner_tick(r, now);
	wait_child(r, now);
	struct stat st;
	assert_true(stat(events, &st) != 0); /* the hook is still asleep */
	json_t *ev = hook_events(f, 1);
	assert_int_equal(json_array_size(ev), 1);
	runner_tick(r, now); /* the retry, which fails for good */
	wait_child(r, now);
	runner_stop(r, now);
	runner_free(r);
	json_decref(ev);
	ev = hook_events(f, 2);
	assert_int_equal(json_array_size(ev), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(field(ev, i, "event"), "job_failed");
		assert_string_equal(field(ev, i, "job"), "daily");
		assert_string_equal(field(ev, i, "day"), "2026-03-06");
		assert_string_equal(field(ev, i, "status"), "failed");
		assert_int_equal(number(ev, i, "attempt"), (long)i + 1);
		assert_int_equal(number(ev, i, "exit"), 1);
		assert_string_equal(field(ev, i, "error"), "no data for the day");
	}
	assert_string_equal(field(ev, 0, "retry_at"), "2026-03-06T22:00:00.000000Z");
	assert_true(json_is_null(json_object_get(json_array_get(ev, 1), "retry_at")));
	assert_non_null(strstr(field(ev, 1, "text"), "no retries left"));
	json_decref(ev);
	/* Each hook run is journaled beside the job's runs, once it ends. */
	json_t *j = journal(f);
	for (int i = 0; i < 500 && json_array_size(j) < 4; i++) {
		usleep(10000);
		json_decref(j);
		j = journal(f);
	}
	size_t hooks = 0;
	for (size_t i = 0; i < json_array_size(j); i++)
		if (strcmp(field(j, i, "job"), "hook:job_failed") == 0) {
			hooks++;
			assert_string_equal(field(j, i, "status"), "ok");
			assert_string_equal(field(j, i, "day"), "2026-03-06");
		}
	assert_int_equal(hooks, 2);
	assert_int_equal(json_array_size(j), 4);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_a_crashing_job_is_journaled_with_its_signal_and_retried_then_given_up, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_a_hanging_job_is_killed_at_its_timeout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_a_job_that_succeeds_runs_once_with_its_arguments,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_job_killed_by_shutdown_is_interrupted_not_failed,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_failing_job_fires_job_failed_without_waiting_for_the_hook, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
