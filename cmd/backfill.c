/*
 * tradelearn backfill — all of history into a new state, then a retrain.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/schedule.h"
#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "jobs/backfill/backfill.h"

static const char backfill_usage[] =
    "usage: tradelearn [global options] backfill [--since D] [--until D] [--rebuild]\n"
    "                  [--jobs N] [--quiet]\n"
    "\n"
    "Reads all of the bot's history in the logs folder (the live files, their\n"
    "rotations plain or compressed, tar archives of old logs), in the order of\n"
    "its records' time, each row once, and rebuilds the learned state from it\n"
    "into a new state that replaces the old one only when complete. Writes the\n"
    "daily report of every past trading day, then runs a retrain. A following\n"
    "watch goes on from the ends of the live files. Interrupted, it leaves the\n"
    "old state as it was, and resumes when run again.\n"
    "\n"
    "  --since D, --until D  report only the trading days from/to D (YYYY-MM-DD);\n"
    "                        the state is learned from all of history\n"
    "  --rebuild             rewrite the reports of days already reported\n"
    "  --jobs N              threads (default 2: one reads and parses, one applies)\n"
    "  --quiet               no progress bar, no line per file\n"
    "\n"
    "exit status: 0 done, 1 failed or interrupted, 2 usage, 75 a watch (or another\n"
    "backfill) holds ROOT/state.\n";

static volatile sig_atomic_t stop_requested;

/* The handler only notes the request: the backfill stops at its next
 * commit, which leaves a staging state to resume from. */
static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct run {
	int quiet;
	struct progress bar;
};

static void log_line(void *ctx, const char *msg)
{
	(void)ctx;
	cmd_error("%s", msg);
}

static void on_progress(void *ctx, const struct backfill_progress *p)
{
	struct run *r = ctx;
	if (r->quiet)
		return;
	if (r->bar.on) {
		r->bar.total = p->bytes_total;
		progress_update_records(&r->bar, p->bytes_done, p->lines);
	} else if (p->finished) {
		cmd_error("backfill: %s: %llu lines", p->finished,
			  (unsigned long long)p->finished_lines);
	}
}

static int parse_day(const char *opt, const char *v, int32_t *day)
{
	if (!v || schedule_parse_day(v, day)) {
		cmd_error("backfill: %s %s is not a date YYYY-MM-DD", opt, v ? v : "(missing)");
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct backfill_options *o, int *quiet)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
			if (parse_day(a, next, !strcmp(a, "--since") ? &o->since : &o->until))
				return -1;
			i++;
		} else if (!strncmp(a, "--since=", 8) || !strncmp(a, "--until=", 8)) {
			if (parse_day(a, a + 8, a[2] == 's' ? &o->since : &o->until))
				return -1;
		} else if (!strcmp(a, "--rebuild")) {
			o->rebuild = 1;
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			*quiet = 1;
		} else if (!strcmp(a, "--jobs") || !strncmp(a, "--jobs=", 7)) {
			const char *v = a[6] == '=' ? a + 7 : next;
			char *end;
			long n = v ? strtol(v, &end, 10) : 0;
			if (!v || *end || n < 1 || n > 64) {
				cmd_error("backfill: --jobs needs a number from 1 to 64");
				return -1;
			}
			o->jobs = (int)n;
			if (a[6] != '=')
				i++;
		} else {
			cmd_error("backfill: unknown argument %s", a);
			return -1;
		}
	}
	if (o->since != SCHEDULE_NO_DAY && o->until != SCHEDULE_NO_DAY && o->since > o->until) {
		cmd_error("backfill: --since is after --until");
		return -1;
	}
	return 0;
}

/* The retrain, as watch's runner runs it: this program, as a child, with
 * the root, logs, config and profile this backfill used. */
static int run_retrain(struct cmd_env *env)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *argv[12];
	int k = 0, status;
	if (n <= 0) {
		cmd_error("retrain: /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	exe[n] = 0;
	argv[k++] = exe;
	argv[k++] = "--root";
	argv[k++] = env->root;
	argv[k++] = "--logs";
	argv[k++] = env->logs_dir;
	if (env->config.path[0]) {
		argv[k++] = "--config";
		argv[k++] = env->config.path;
	}
	argv[k++] = "--profile";
	argv[k++] = (char *)env->profile.name;
	argv[k++] = "retrain";
	argv[k] = NULL;
	pid_t pid = fork();
	if (pid < 0) {
		cmd_error("retrain: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execv(exe, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			cmd_error("retrain: waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	cmd_error("retrain: exited with %d; the backfilled state is in place",
		  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return -1;
}

/* The state folder's lock, as watch takes it: a running watch means exit 75. */
static int take_lock(const char *state_dir, int *fd)
{
	struct err err = {0};
	pid_t holder = 0;
	if (durable_mkdirs(state_dir, &err)) {
		cmd_error("%s", err.msg);
		return EXIT_FAILED;
	}
	*fd = durable_lock(state_dir, &holder, &err);
	if (*fd >= 0)
		return 0;
	if (err.code != EWOULDBLOCK) {
		cmd_error("%s", err.msg);
		return EXIT_FAILED;
	}
	if (holder > 0)
		cmd_error("backfill: another tradelearn (pid %ld) holds %s: stop its watch first",
			  (long)holder, state_dir);
	else
		cmd_error("backfill: another tradelearn holds %s: stop its watch first", state_dir);
	return EXIT_LOCKED;
}

int cmd_backfill(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	struct backfill_options o = {.since = SCHEDULE_NO_DAY, .until = SCHEDULE_NO_DAY, .jobs = 2};
	struct backfill_result res;
	struct run run = {0};
	struct err err = {0};
	int lock = -1, rc;

	if (cmd_wants_help(argc, argv)) {
		fputs(backfill_usage, stdout);
		return EXIT_DONE;
	}
	if (parse_args(argc, argv, &o, &run.quiet)) {
		fputs(backfill_usage, stderr);
		return EXIT_USAGE;
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	rc = take_lock(env.state_dir, &lock);
	if (rc) {
		cmd_env_release(&env);
		return rc;
	}
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	o.root_dir = env.root;
	o.state_dir = env.state_dir;
	o.logs_dir = env.logs_dir;
	o.models_dir = env.models_dir;
	o.config = &env.config;
	o.profile = &env.profile;
	o.now_us = calendar_schedule_now();
	o.log = log_line;
	o.progress = on_progress;
	o.ctx = &run;
	o.stop = &stop_requested;
	progress_begin(&run.bar, "backfill", run.quiet ? 0 : PROGRESS_MIN_BYTES);
	struct backfill *b = backfill_new(&o, &err);
	if (!b) {
		if (err.code == EWOULDBLOCK) {
			cmd_error("backfill: another backfill holds %s.backfill", env.state_dir);
			rc = EXIT_LOCKED;
		} else {
			cmd_error("backfill: %s", err.msg);
			rc = EXIT_FAILED;
		}
		goto out;
	}
	if (b && backfill_run(b, &res, &err)) {
		progress_end(&run.bar);
		if (err.code == EINTR)
			cmd_error("backfill: stopped; the state is as it was, and backfill resumes "
				  "where it stopped when run again");
		else
			cmd_error("backfill: %s (the state is as it was before the backfill)",
				  err.msg);
		rc = EXIT_FAILED;
		goto out;
	}
	progress_end(&run.bar);
	cmd_error("backfill: %s%llu lines, %llu trades recorded, %zu daily reports written; "
		  "state %s replaced",
		  res.resumed ? "resumed and finished: " : "", (unsigned long long)res.lines,
		  (unsigned long long)res.trades, res.reports, env.state_dir);
	if (cmd_exists("retrain") && run_retrain(&env))
		rc = EXIT_FAILED;
out:
	backfill_free(b);
	if (lock >= 0)
		close(lock);
	cmd_env_release(&env);
	return rc;
}
