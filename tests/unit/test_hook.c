/* hook: real commands that read their stdin, hang, do not exist, look at
 * their environment and write megabytes; the journal lines their runs
 * leave; the config entries that are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/journal_lines.h"
#include "lib/base/durable.h"
#include "lib/base/hook.h"
#include "lib/config/config.h"

struct fixture {
	char dir[64], state[80], file[96];
	struct hook_options hooks;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/tl-hook-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->state, sizeof f->state, "%s/state", f->dir);
	snprintf(f->file, sizeof f->file, "%s/got", f->dir);
	assert_int_equal(mkdir(f->state, 0755), 0);
	hook_options_init(&f->hooks);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void set_hook(struct fixture *f, enum hook_event ev, const char *const *argv, size_t n)
{
	struct err err = {0};
	if (hook_command_set(&f->hooks.command[ev], argv, n, NULL, &err))
		fail_msg("%s", err.msg);
}

/* A shell command as the hook: /bin/sh -c SCRIPT FILE ($0 is FILE). */
static void shell_hook(struct fixture *f, enum hook_event ev, const char *script)
{
	const char *argv[] = {"/bin/sh", "-c", script, f->file};
	set_hook(f, ev, argv, 4);
}

static char *read_text(const char *path, size_t *len)
{
	char *text = NULL;
	struct err err = {0};
	size_t n;
	if (durable_read_all(path, &text, len ? len : &n, &err))
		return NULL;
	return text;
}

static json_t *journal(struct fixture *f)
{
	return journal_lines(f->state);
}

static const char *field(json_t *line, const char *key)
{
	return json_string_value(json_object_get(line, key));
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_a_hook_receives_its_stdin_byte_for_byte(void **state)
{
	struct fixture *f = *state;
	/* Every byte value, and more than a pipe holds at once. */
	size_t len = 300000;
	char *input = malloc(len);
	for (size_t i = 0; i < len; i++)
		input[i] = (char)(i * 7 % 256);
	shell_hook(f, HOOK_DEPLOY, "cat > \"$0\"");
	char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	struct hook_result res;
	hook_run(&f->hooks.command[HOOK_DEPLOY], input, len, envp, "/", 10, &res);
	assert_int_equal(res.status, HOOK_OK);
	assert_int_equal(res.exit_code, 0);
	size_t got_len;
	char *got = read_text(f->file, &got_len);
	assert_non_null(got);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, input, len);
	free(got);
	free(input);
}

static void test_a_fired_hook_gets_the_event_json_and_its_run_is_journaled(void **state)
{
	struct fixture *f = *state;
	struct err err = {0};
	struct hook_result res;
	shell_hook(f, HOOK_RETRAIN_TRIGGERED, "cat > \"$0\"");
	json_t *fields =
	    json_pack("{s:s,s:[s,s],s:s}", "day", "2026-03-06", "reasons",
		      "7 days since the last retrain", "drift: ünïcode", "text", "retrain due");
	assert_int_equal(
	    hook_fire(&f->hooks, f->dir, f->state, HOOK_RETRAIN_TRIGGERED, fields, &res, &err), 0);
	assert_int_equal(res.status, HOOK_OK);
	char *text = read_text(f->file, NULL);
	assert_non_null(text);
	json_t *event = json_loads(text, 0, NULL);
	assert_non_null(event);
	assert_string_equal(field(event, "event"), "retrain_triggered");
	assert_string_equal(field(event, "root"), f->dir);
	assert_string_equal(field(event, "text"), "retrain due");
	assert_string_equal(field(event, "day"), "2026-03-06");
	assert_non_null(field(event, "host"));
	assert_int_equal(strlen(field(event, "time")), strlen("2026-03-06T21:05:00.000000Z"));
	assert_true(
	    json_equal(json_object_get(event, "reasons"), json_object_get(fields, "reasons")));
	/* The keys in the order hook.h gives, the fields after. */
	const char *order[] = {"event", "time", "host", "root", "text", "day", "reasons"};
	void *it = json_object_iter(event);
	for (size_t i = 0; i < 7; i++, it = json_object_iter_next(event, it))
		assert_string_equal(json_object_iter_key(it), order[i]);
	assert_null(it);
	json_decref(event);
	free(text);
	json_decref(fields);

	json_t *j = journal(f);
	assert_int_equal(json_array_size(j), 1);
	json_t *line = json_array_get(j, 0);
	assert_string_equal(field(line, "job"), "hook:retrain_triggered");
	assert_string_equal(field(line, "day"), "2026-03-06");
	assert_string_equal(field(line, "status"), "ok");
	assert_int_equal(json_integer_value(json_object_get(line, "exit")), 0);
	assert_true(json_is_null(json_object_get(line, "error")));
	json_decref(j);
}

static int process_gone(pid_t pid)
{
	char path[64], stat[256] = "";
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 1;
	size_t n = fread(stat, 1, sizeof stat - 1, fp);
	fclose(fp);
	stat[n] = 0;
	const char *close = strrchr(stat, ')');
	return close && close[2] == 'Z'; /* a zombie is dead, waiting for init */
}

static void test_a_hanging_hook_is_killed_at_its_timeout_with_its_children(void **state)
{
	struct fixture *f = *state;
	struct err err = {0};
	struct hook_result res;
	struct timespec t0;
	/* The shell leaves a child of its own that hangs too. */
	shell_hook(f, HOOK_JOB_FAILED, "sleep 60 & echo $! > \"$0\"; sleep 60");
	f->hooks.timeout_s = 0.5;
	json_t *fields = json_pack("{s:s,s:s}", "job", "daily", "day", "2026-03-06");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
	    hook_fire(&f->hooks, f->dir, f->state, HOOK_JOB_FAILED, fields, &res, &err), -1);
	double took = seconds_since(&t0);
	json_decref(fields);
	assert_true(took >= 0.5);
	assert_true(took < 5);
	assert_int_equal(res.status, HOOK_TIMEOUT);
	assert_int_equal(res.signo, SIGKILL);
	assert_int_equal(res.exit_code, -1);
	assert_non_null(strstr(err.msg, "hook job_failed: timeout: killed after 0.5 s"));
	char *pid_text = read_text(f->file, NULL);
	assert_non_null(pid_text);
	pid_t child = (pid_t)atol(pid_text);
	free(pid_text);
	assert_true(child > 0);
	for (int i = 0; i < 100 && !process_gone(child); i++)
		usleep(10000);
	assert_true(process_gone(child));

	json_t *j = journal(f);
	json_t *line = json_array_get(j, 0);
	assert_string_equal(field(line, "job"), "hook:job_failed");
	assert_string_equal(field(line, "status"), "timeout");
	assert_int_equal(json_integer_value(json_object_get(line, "signal")), 9);
	assert_true(json_is_null(json_object_get(line, "exit")));
	assert_string_equal(field(line, "error"), "killed after 0.5 s");
	json_decref(j);
}

static void test_a_hook_that_does_not_exist_is_missing_and_journaled(void **state)
{
	struct fixture *f = *state;
	struct err err = {0};
	struct hook_result res;
	const char *argv[] = {"/nonexistent/alert", "--now"};
	set_hook(f, HOOK_REJECT, argv, 2);
	assert_int_equal(hook_fire(&f->hooks, f->dir, f->state, HOOK_REJECT, NULL, &res, &err), -1);
	assert_int_equal(res.status, HOOK_MISSING);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(res.error, "cannot run /nonexistent/alert: No such file or directory");
	json_t *j = journal(f);
	json_t *line = json_array_get(j, 0);
	assert_string_equal(field(line, "job"), "hook:reject");
	assert_string_equal(field(line, "status"), "missing");
	assert_true(json_is_null(json_object_get(line, "day")));
	assert_true(json_is_null(json_object_get(line, "exit")));
	assert_string_equal(field(line, "error"), res.error);
	json_decref(j);
	/* An event without a hook runs nothing and journals nothing. */
	assert_int_equal(hook_fire(&f->hooks, f->dir, f->state, HOOK_DEPLOY, NULL, &res, &err), 0);
	j = journal(f);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
}

static int compare_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_a_hook_sees_only_the_minimal_environment_in_the_root(void **state)
{
	struct fixture *f = *state;
	struct err err = {0};
	struct hook_result res;
	char expect[5][4200], *lines[16], pwd[4096];
	size_t n = 0, k = 0;
	setenv("TRADELEARN_SECRET", "must not leak", 1);
	setenv("LD_PRELOAD", "", 1);
	/* /usr/bin/env prints exactly what it was given; pwd says where. */
	shell_hook(f, HOOK_DEPLOY, "/usr/bin/pwd > \"$0\"");
	assert_int_equal(hook_fire(&f->hooks, f->dir, f->state, HOOK_DEPLOY, NULL, &res, &err), 0);
	char *cwd = read_text(f->file, NULL);
	assert_non_null(cwd);
	assert_non_null(realpath(f->dir, pwd));
	strcat(pwd, "\n");
	assert_string_equal(cwd, pwd);
	free(cwd);
	const char *argv[] = {"/usr/bin/env"};
	set_hook(f, HOOK_DEPLOY, argv, 1);
	assert_int_equal(hook_fire(&f->hooks, f->dir, f->state, HOOK_DEPLOY, NULL, &res, &err), 0);
	unsetenv("TRADELEARN_SECRET");
	unsetenv("LD_PRELOAD");

	struct passwd *pw = getpwuid(geteuid());
	snprintf(expect[k++], sizeof expect[0], "LANG=C.UTF-8");
	snprintf(expect[k++], sizeof expect[0], "PATH=/usr/bin:/bin");
	snprintf(expect[k++], sizeof expect[0], "TRADELEARN_EVENT=deploy");
	snprintf(expect[k++], sizeof expect[0], "TRADELEARN_ROOT=%s", f->dir);
	if (pw && pw->pw_dir && pw->pw_dir[0] == '/')
		snprintf(expect[k++], sizeof expect[0], "HOME=%s", pw->pw_dir);
	for (char *line = strtok(res.output, "\n"); line && n < 16; line = strtok(NULL, "\n"))
		lines[n++] = line;
	char *want[5];
	for (size_t i = 0; i < k; i++)
		want[i] = expect[i];
	qsort(lines, n, sizeof *lines, compare_lines);
	qsort(want, k, sizeof *want, compare_lines);
	assert_int_equal(n, k);
	for (size_t i = 0; i < k; i++)
		assert_string_equal(lines[i], want[i]);
}

static void test_a_hook_writing_megabytes_does_not_block(void **state)
{
	struct fixture *f = *state;
	struct hook_result res;
	struct timespec t0;
	char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	/* 8 MB on stdout and stderr, then its last words. */
	shell_hook(f, HOOK_DEPLOY,
		   "head -c 4000000 /dev/zero | tr '\\0' o; head -c 4000000 /dev/zero | tr '\\0' e "
		   ">&2; printf '\\nlast words\\n' >&2; exit 3");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hook_run(&f->hooks.command[HOOK_DEPLOY], "{}\n", 3, envp, "/", 20, &res);
	assert_true(seconds_since(&t0) < 15);
	assert_int_equal(res.status, HOOK_FAILED);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(res.output_total, 8000000 + strlen("\nlast words\n"));
	assert_int_equal(res.output_len, HOOK_OUTPUT_MAX);
	assert_int_equal(strlen(res.output), HOOK_OUTPUT_MAX);
	assert_string_equal(res.output + HOOK_OUTPUT_MAX - 13, "e\nlast words\n");
	assert_string_equal(res.error, "last words");
}

static void test_a_hook_that_ignores_a_large_stdin_does_not_break_its_caller(void **state)
{
	struct fixture *f = *state;
	struct hook_result res;
	size_t len = 1 << 20;
	char *input = calloc(1, len);
	char *envp[] = {NULL};
	const char *argv[] = {"/bin/true"};
	set_hook(f, HOOK_DEPLOY, argv, 1);
	hook_run(&f->hooks.command[HOOK_DEPLOY], input, len, envp, "/", 10, &res);
	free(input);
	/* The write that found no reader raised a SIGPIPE, which was taken
	 * away: this process is alive and has none pending. */
	sigset_t pending;
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	assert_int_equal(res.status, HOOK_OK);
}

static void test_a_hook_that_fails_or_crashes_says_how(void **state)
{
	struct fixture *f = *state;
	struct hook_result res;
	char *envp[] = {NULL};
	shell_hook(f, HOOK_DEPLOY, "exit 4");
	hook_run(&f->hooks.command[HOOK_DEPLOY], "", 0, envp, "/", 10, &res);
	assert_int_equal(res.status, HOOK_FAILED);
	assert_int_equal(res.exit_code, 4);
	assert_string_equal(res.error, "/bin/sh exited with status 4");
	shell_hook(f, HOOK_DEPLOY, "echo dying; kill -TERM $$");
	hook_run(&f->hooks.command[HOOK_DEPLOY], "", 0, envp, "/", 10, &res);
	assert_int_equal(res.status, HOOK_FAILED);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.signo, SIGTERM);
	assert_string_equal(res.error, "killed by signal 15 (Terminated)");
	assert_string_equal(res.output, "dying\n");
	/* A folder it cannot enter. */
	hook_run(&f->hooks.command[HOOK_DEPLOY], "", 0, envp, "/nonexistent", 10, &res);
	assert_int_equal(res.status, HOOK_FAILED);
	assert_string_equal(res.error, "cannot enter /nonexistent: No such file or directory");
}

static void test_a_detached_hook_returns_at_once_and_leaves_no_child(void **state)
{
	struct fixture *f = *state;
	struct err err = {0};
	struct timespec t0;
	shell_hook(f, HOOK_JOB_FAILED, "sleep 1; cat > \"$0\"");
	json_t *fields = json_pack("{s:s,s:s}", "job", "daily", "day", "2026-03-06");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
	    hook_fire_detached(&f->hooks, f->dir, f->state, HOOK_JOB_FAILED, fields, &err), 0);
	assert_true(seconds_since(&t0) < 0.5);
	json_decref(fields);
	/* Nothing is this process's to reap. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	json_t *j = journal(f);
	for (int i = 0; i < 500 && json_array_size(j) == 0; i++) {
		usleep(10000);
		json_decref(j);
		j = journal(f);
	}
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(field(json_array_get(j, 0), "job"), "hook:job_failed");
	assert_string_equal(field(json_array_get(j, 0), "status"), "ok");
	json_decref(j);
	char *text = read_text(f->file, NULL);
	json_t *event = json_loads(text, 0, NULL);
	assert_string_equal(field(event, "job"), "daily");
	json_decref(event);
	free(text);
}

/* ---- the config -------------------------------------------------------------------- */

static void test_a_bad_hooks_entry_is_refused_at_load_with_its_line(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value, *message;
	} cases[] = {
	    {"[]", ":4: hooks.deploy: must not be empty (the program's absolute path, then its "
		   "arguments)"},
	    {"[\"/usr/bin/mail\", 5]", ":4: hooks.deploy[1]: must be a string without NUL"},
	    {"[\"mail\", \"-s\", \"x\"]",
	     ":4: hooks.deploy[0]: must be the program's absolute path"},
	    {"\"/usr/bin/mail -s x\"", ":4: hooks.deploy: must be an array of strings"},
	};
	char path[128], text[512];
	snprintf(path, sizeof path, "%s/tradelearn.json", f->dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		struct err err = {0};
		snprintf(text, sizeof text,
			 "{\n  \"hooks\": {\n    \"timeout_s\": 5,\n    \"deploy\": %s\n  }\n}\n",
			 cases[i].value);
		FILE *fp = fopen(path, "w");
		fputs(text, fp);
		fclose(fp);
		config_init(&c);
		assert_int_equal(config_load(&c, path, 1, &err), -1);
		assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
		if (strncmp(err.msg + strlen(path), cases[i].message, strlen(cases[i].message)))
			fail_msg("%s: %s", cases[i].value, err.msg);
		config_release(&c);
	}
	/* A good one is kept as written, and the others stay unset. */
	snprintf(text, sizeof text,
		 "{\"hooks\": {\"timeout_s\": 2.5, \"job_failed\": [\"/usr/bin/curl\", \"-sS\", "
		 "\"\", \"--data-binary\", \"@-\"]}}");
	FILE *fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	struct config c;
	struct err err = {0};
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), 0);
	assert_true(c.hooks.timeout_s == 2.5);
	assert_int_equal(c.hooks.command[HOOK_JOB_FAILED].argc, 5);
	assert_memory_equal(c.hooks.command[HOOK_JOB_FAILED].args,
			    "/usr/bin/curl\0-sS\0\0--data-binary\0@-", 36);
	assert_int_equal(c.hooks.command[HOOK_DEPLOY].argc, 0);
	config_release(&c);
}

static void test_a_command_too_long_is_refused(void **state)
{
	struct fixture *f = *state;
	struct err err = {0};
	const char *many[HOOK_MAX_ARGS + 1];
	static char big[HOOK_ARGV_BYTES];
	int at;
	for (size_t i = 0; i <= HOOK_MAX_ARGS; i++)
		many[i] = "/bin/x";
	assert_int_equal(hook_command_set(&f->hooks.command[0], many, HOOK_MAX_ARGS + 1, &at, &err),
			 -1);
	assert_string_equal(err.msg, "has 65 arguments, more than 64");
	memset(big, 'a', sizeof big - 1);
	big[0] = '/';
	const char *two[] = {big, "b"};
	assert_int_equal(hook_command_set(&f->hooks.command[0], two, 2, &at, &err), -1);
	assert_int_equal(at, -1);
	assert_string_equal(err.msg, "has 4098 bytes of arguments, more than 4096");
	assert_int_equal(f->hooks.command[0].argc, 0);
	/* A NUL inside an argument (JSON can say \u0000) would cut it short. */
	char sub[32] = "";
	json_t *nul = json_pack("[s,s%]", "/bin/echo", "a\0b", (size_t)3);
	assert_int_equal(hook_command_from_json(&f->hooks.command[0], nul, sub, sizeof sub, &err),
			 -1);
	assert_string_equal(sub, "[1]");
	assert_string_equal(err.msg, "must be a string without NUL");
	json_decref(nul);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_a_hook_receives_its_stdin_byte_for_byte),
	    T(test_a_fired_hook_gets_the_event_json_and_its_run_is_journaled),
	    T(test_a_hanging_hook_is_killed_at_its_timeout_with_its_children),
	    T(test_a_hook_that_does_not_exist_is_missing_and_journaled),
	    T(test_a_hook_sees_only_the_minimal_environment_in_the_root),
	    T(test_a_hook_writing_megabytes_does_not_block),
	    T(test_a_hook_that_ignores_a_large_stdin_does_not_break_its_caller),
	    T(test_a_hook_that_fails_or_crashes_says_how),
	    T(test_a_detached_hook_returns_at_once_and_leaves_no_child),
	    T(test_a_bad_hooks_entry_is_refused_at_load_with_its_line),
	    T(test_a_command_too_long_is_refused),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
