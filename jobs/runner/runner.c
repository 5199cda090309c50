/*
 * runner — scheduled jobs as child processes, journaled, retried, caught up.
 */
#include "jobs/runner/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/hook.h"
#include "lib/base/journal.h"
#include "lib/base/jsontext.h"
#include "lib/base/logline.h"
#include "lib/base/schedule.h"

#define RUNNER_MAX_QUEUE 64
#define RUNNER_MAX_DAYS 400 /* days remembered from the journal */
#define RUNNER_STDERR ".job.stderr"

enum job_kind { JOB_DAILY, JOB_RETRAIN };
static const char *const job_names[] = {"daily", "retrain"};

struct queued {
	enum job_kind kind;
	int32_t day; /* SCHEDULE_NO_DAY for a retrain without a day */
	int attempt; /* 1 = first */
	int64_t not_before;
};

/* What the journal says of one daily day. */
struct day_record {
	int32_t day;
	int done; /* ok or skipped */
	int failures;
};

struct runner {
	struct runner_options o;
	struct queued queue[RUNNER_MAX_QUEUE];
	size_t n_queue;

	struct day_record days[RUNNER_MAX_DAYS];
	size_t n_days;
	int32_t last_done; /* newest daily day done, or SCHEDULE_NO_DAY */

	int64_t next_daily, next_retrain; /* CALENDAR_NONE: never */
	int32_t next_daily_day, next_retrain_day;

	pid_t pid; /* running job, or 0 */
	struct queued current;
	int64_t started, deadline;
	int killed_for_timeout;
	json_t *last; /* the last journal line, read or written */
};

/* One line per event through o.log (logline.h). */
#define say(r, ...) logline_say((r)->o.log, (r)->o.log_ctx, __VA_ARGS__)

/* ---- the journal ------------------------------------------------------------------- */

static struct day_record *day_record(struct runner *r, int32_t day, int create)
{
	for (size_t i = 0; i < r->n_days; i++)
		if (r->days[i].day == day)
			return &r->days[i];
	if (!create)
		return NULL;
	if (r->n_days == RUNNER_MAX_DAYS) {
		/* Forget the oldest: days that old are never due again. */
		size_t oldest = 0;
		for (size_t i = 1; i < r->n_days; i++)
			if (r->days[i].day < r->days[oldest].day)
				oldest = i;
		r->days[oldest] = r->days[--r->n_days];
	}
	struct day_record *d = &r->days[r->n_days++];
	memset(d, 0, sizeof *d);
	d->day = day;
	return d;
}

static void note_run(struct runner *r, enum job_kind kind, int32_t day, const char *status)
{
	if (kind != JOB_DAILY || day == SCHEDULE_NO_DAY)
		return;
	struct day_record *d = day_record(r, day, 1);
	if (strcmp(status, "ok") == 0 || strcmp(status, "skipped") == 0) {
		d->done = 1;
		if (r->last_done == SCHEDULE_NO_DAY || day > r->last_done)
			r->last_done = day;
	} else if (strcmp(status, "interrupted") != 0) {
		/* A run stopped by our own shutdown is not the job's failure. */
		d->failures++;
	}
}

/* Journals a run; returns its line (borrowed: r->last), or NULL on ENOMEM. */
static json_t *journal(struct runner *r, enum job_kind kind, int32_t day, int attempt,
		       int64_t start, int64_t end, const char *status, int exit_code, int signo,
		       const char *error)
{
	struct journal_run run = {.job = job_names[kind],
				  .day = day,
				  .attempt = attempt,
				  .start = start,
				  .end = end,
				  .status = status,
				  .exit_code = exit_code,
				  .signo = signo,
				  .error = error};
	struct err derr = {0};
	json_t *line = journal_line(&run);
	if (line) {
		json_decref(r->last);
		r->last = line;
	}
	note_run(r, kind, day, status);
	if (!line)
		err_set(&derr, ENOMEM, "out of memory");
	else if (journal_append(r->o.state_dir, line, &derr) == 0)
		return line;
	say(r, "cannot journal a %s run: %s", job_names[kind], derr.msg);
	return line;
}

static int read_journal(struct runner *r, struct err *err)
{
	char path[4400], *text = NULL;
	size_t len;
	snprintf(path, sizeof path, "%s/%s", r->o.state_dir, JOURNAL_FILE);
	if (durable_read_all(path, &text, &len, err))
		return errno == ENOENT ? 0 : -1;
	for (char *line = text, *nl; line < text + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(text + len - line));
		if (!nl)
			break; /* a torn last line: the run it described is redone */
		json_t *o = json_loadb(line, (size_t)(nl - line), 0, NULL);
		const char *job = json_string_value(json_object_get(o, "job"));
		const char *day = json_string_value(json_object_get(o, "day"));
		const char *status = json_string_value(json_object_get(o, "status"));
		int32_t d;
		if (job && status && day && strcmp(job, "daily") == 0 &&
		    schedule_parse_day(day, &d) == 0)
			note_run(r, JOB_DAILY, d, status);
		/* Hook runs share the journal; the last run is a job's. */
		if (job && status && strncmp(job, "hook:", 5) != 0) {
			json_decref(r->last);
			r->last = json_incref(o);
		}
		json_decref(o);
	}
	free(text);
	return 0;
}

/* ---- the queue --------------------------------------------------------------------- */

static int queued(const struct runner *r, enum job_kind kind, int32_t day)
{
	for (size_t i = 0; i < r->n_queue; i++)
		if (r->queue[i].kind == kind && r->queue[i].day == day)
			return 1;
	return r->pid && r->current.kind == kind && r->current.day == day;
}

static void enqueue(struct runner *r, enum job_kind kind, int32_t day, int attempt, int64_t at)
{
	if (queued(r, kind, day))
		return;
	if (r->n_queue == RUNNER_MAX_QUEUE) {
		say(r, "job queue full: %s not queued", job_names[kind]);
		return;
	}
	r->queue[r->n_queue++] = (struct queued){kind, day, attempt, at};
}

/* A daily day is due unless done, or given up after its retries. */
static void enqueue_daily(struct runner *r, int32_t day, int64_t now)
{
	const struct config *c = r->o.config;
	struct day_record *d = day_record(r, day, 0);
	char text[16];
	if (d && d->done)
		return;
	if (d && d->failures > c->schedule.max_retries) {
		schedule_format_day(day, text, sizeof text);
		say(r,
		    "daily %s failed %d times: given up (run tradelearn daily --date %s by hand)",
		    text, d->failures, text);
		journal(r, JOB_DAILY, day, d->failures, now, now, "skipped", -1, 0,
			"given up after its retries");
		return;
	}
	enqueue(r, JOB_DAILY, day, d ? d->failures + 1 : 1, now);
}

static void plan_next(struct runner *r, int64_t now)
{
	const struct config *c = r->o.config;
	r->next_daily = schedule_next_fire(&c->schedule.calendar, c->schedule.daily_minute, now,
					   &r->next_daily_day);
	r->next_retrain = CALENDAR_NONE;
	if (c->schedule.retrain_weekday >= 0)
		r->next_retrain =
		    schedule_next_weekly(c->schedule.retrain_weekday, c->schedule.retrain_minute,
					 now, &r->next_retrain_day);
}

struct runner *runner_new(const struct runner_options *o, int64_t now, struct err *err)
{
	const struct config *c = o->config;
	if (option_check(&schedule_option_table, &c->schedule, err)) {
		err_prefix(err, "schedule");
		return NULL;
	}
	struct runner *r = calloc(1, sizeof *r);
	if (!r) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	r->o = *o;
	r->last_done = SCHEDULE_NO_DAY;
	if (read_journal(r, err)) {
		free(r);
		return NULL;
	}
	/* Catch-up: the trading days whose slot passed while we were down. */
	int32_t due = schedule_last_due_day(&c->schedule.calendar, c->schedule.daily_minute, now);
	if (due != SCHEDULE_NO_DAY) {
		int32_t days[367];
		size_t skipped = 0, limit = (size_t)c->schedule.catch_up_days;
		size_t n = schedule_missed_days(&c->schedule.calendar, r->last_done, due,
						limit < 367 ? limit : 367, days, &skipped);
		if (skipped) {
			char first[16];
			schedule_format_day(n ? days[0] : due, first, sizeof first);
			say(r,
			    "%zu missed daily runs before %s are older than catch_up_days: not run",
			    skipped, first);
		}
		for (size_t i = 0; i < n; i++)
			enqueue_daily(r, days[i], now);
	}
	plan_next(r, now);
	return r;
}

/* ---- children ---------------------------------------------------------------------- */

static void start(struct runner *r, int64_t now)
{
	struct queued q = r->queue[0];
	char day[16] = "", errpath[4400];
	memmove(r->queue, r->queue + 1, --r->n_queue * sizeof *r->queue);
	if (q.day != SCHEDULE_NO_DAY)
		schedule_format_day(q.day, day, sizeof day);
	snprintf(errpath, sizeof errpath, "%s/%s", r->o.state_dir, RUNNER_STDERR);

	/* argv: exe, base args, job [--date D | --scheduled] */
	size_t nbase = 0;
	while (r->o.base_args && r->o.base_args[nbase])
		nbase++;
	char **argv = calloc(nbase + 5, sizeof *argv);
	if (!argv) {
		journal(r, q.kind, q.day, q.attempt, now, now, "failed", -1, 0, "out of memory");
		return;
	}
	size_t k = 0;
	argv[k++] = (char *)r->o.exe;
	for (size_t i = 0; i < nbase; i++)
		argv[k++] = r->o.base_args[i];
	argv[k++] = (char *)job_names[q.kind];
	if (q.kind == JOB_DAILY) {
		argv[k++] = "--date";
		argv[k++] = day;
	} else if (q.day != SCHEDULE_NO_DAY) {
		/* The weekly slot is a reason to retrain by itself; one queued
		 * after a daily run finds its reason in that day's report. */
		argv[k++] = "--scheduled";
	}
	argv[k] = NULL;

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* A job does not outlive its watch (kill -9 included): the next
		 * start finds it unjournaled and runs it again. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* The child: signals as a fresh process has them (watch blocks
		 * them for its signalfd), stdout to nowhere, stderr kept for
		 * the journal's error. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int in = open("/dev/null", O_RDWR);
		int errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0640);
		if (in >= 0) {
			dup2(in, 0);
			dup2(in, 1);
		}
		if (errfd >= 0)
			dup2(errfd, 2);
		execv(r->o.exe, argv);
		fprintf(stderr, "tradelearn: cannot run %s: %s\n", r->o.exe, strerror(errno));
		_exit(127);
	}
	free(argv);
	if (pid < 0) {
		char why[200];
		snprintf(why, sizeof why, "fork: %s", strerror(errno));
		journal(r, q.kind, q.day, q.attempt, now, now, "failed", -1, 0, why);
		return;
	}
	r->pid = pid;
	r->current = q;
	r->started = now;
	r->deadline = now + (int64_t)(r->o.config->schedule.job_timeout_s * 1e6);
	r->killed_for_timeout = 0;
	say(r, "job %s%s%s started (attempt %d, pid %ld)", job_names[q.kind], day[0] ? " " : "",
	    day, q.attempt, (long)pid);
}

/* The last non-empty line the job wrote to stderr, without the program
 * name prefix. */
static void last_error(struct runner *r, char *buf, size_t len)
{
	char path[4400], *text = NULL;
	size_t n;
	struct err derr;
	buf[0] = 0;
	snprintf(path, sizeof path, "%s/%s", r->o.state_dir, RUNNER_STDERR);
	if (durable_read_all(path, &text, &n, &derr))
		return;
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = 0;
	char *line = memrchr(text, '\n', n);
	line = line ? line + 1 : text;
	if (strncmp(line, "tradelearn: ", 12) == 0)
		line += 12;
	jsontext_copy_utf8(buf, len, line);
	free(text);
	unlink(path);
}

/* After a daily run: does its report ask for a retrain? */
static int report_wants_retrain(struct runner *r, int32_t day)
{
	char path[4400], d[16];
	schedule_format_day(day, d, sizeof d);
	snprintf(path, sizeof path, "%s/reports/post_market_%s.json", r->o.state_dir, d);
	json_t *rep = json_load_file(path, 0, NULL);
	int yes = json_is_true(json_object_get(json_object_get(rep, "retrain"), "triggered"));
	json_decref(rep);
	return yes;
}

/* The job_failed hook, with the run's journal line (borrowed) as its
 * fields. Fired from a process of its own (hook_fire_detached): watch's
 * loop never waits for a hook, and a hook still running when watch stops
 * or reloads finishes its alert, bounded by its own timeout. */
static void fire_job_failed(struct runner *r, json_t *run, const char *what_happened,
			    int64_t retry_at)
{
	char text[800], at[40] = "";
	struct err err = {0};
	if (retry_at != CALENDAR_NONE)
		calendar_format_iso(retry_at, at, sizeof at);
	snprintf(text, sizeof text, "tradelearn: %s; %s%s", what_happened,
		 at[0] ? "retry at " : "no retries left", at);
	json_t *fields = json_copy(run);
	if (!fields ||
	    json_object_set_new(fields, "retry_at", at[0] ? json_string(at) : json_null()) ||
	    json_object_set_new(fields, "text", json_string(text)))
		say(r, "hook job_failed: out of memory");
	else if (hook_fire_detached(&r->o.config->hooks, r->o.root_dir, r->o.state_dir,
				    HOOK_JOB_FAILED, fields, &err))
		say(r, "%s", err.msg);
	json_decref(fields);
}

static void finished(struct runner *r, int status, int64_t now)
{
	struct queued q = r->current;
	char error[400], day[16] = "";
	const char *what;
	int code = -1, signo = 0;

	r->pid = 0;
	last_error(r, error, sizeof error);
	if (q.day != SCHEDULE_NO_DAY)
		schedule_format_day(q.day, day, sizeof day);
	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		what = code == 0 ? "ok" : "failed";
	} else {
		signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		what = r->killed_for_timeout ? "timeout" : "crashed";
		if (r->killed_for_timeout)
			snprintf(error, sizeof error, "killed after %.0f s",
				 r->o.config->schedule.job_timeout_s);
		else if (!error[0])
			snprintf(error, sizeof error, "killed by signal %d (%s)", signo,
				 strsignal(signo));
	}
	json_t *run = journal(r, q.kind, q.day, q.attempt, r->started, now, what, code, signo,
			      code == 0 ? NULL : error);
	if (code == 0) {
		say(r, "job %s%s%s done in %.1f s", job_names[q.kind], day[0] ? " " : "", day,
		    (double)(now - r->started) / 1e6);
		if (q.kind == JOB_DAILY && r->o.retrain_available && report_wants_retrain(r, q.day))
			enqueue(r, JOB_RETRAIN, SCHEDULE_NO_DAY, 1, now);
		return;
	}
	char what_happened[600];
	int64_t retry_at = CALENDAR_NONE;
	snprintf(what_happened, sizeof what_happened, "job %s%s%s %s (%s)", job_names[q.kind],
		 day[0] ? " " : "", day, what, error);
	if (q.attempt <= r->o.config->schedule.max_retries) {
		double backoff =
		    r->o.config->schedule.retry_backoff_s * (double)(1 << (q.attempt - 1));
		retry_at = now + (int64_t)(backoff * 1e6);
		say(r, "%s: retry %d of %ld in %.0f s", what_happened, q.attempt,
		    r->o.config->schedule.max_retries, backoff);
		enqueue(r, q.kind, q.day, q.attempt + 1, retry_at);
	} else {
		say(r, "%s: no retries left", what_happened);
	}
	if (run)
		fire_job_failed(r, run, what_happened, retry_at);
}

void runner_reap(struct runner *r, int64_t now)
{
	int status;
	if (!r || !r->pid)
		return;
	pid_t got = waitpid(r->pid, &status, WNOHANG);
	if (got == r->pid)
		finished(r, status, now);
}

void runner_tick(struct runner *r, int64_t now)
{
	if (!r)
		return;
	if (r->next_daily != CALENDAR_NONE && now >= r->next_daily) {
		enqueue_daily(r, r->next_daily_day, now);
		plan_next(r, now);
	}
	if (r->next_retrain != CALENDAR_NONE && now >= r->next_retrain) {
		if (r->o.retrain_available)
			enqueue(r, JOB_RETRAIN, r->next_retrain_day, 1, now);
		else
			journal(r, JOB_RETRAIN, r->next_retrain_day, 1, now, now, "skipped", -1, 0,
				"this version has no retrain command");
		plan_next(r, now);
	}
	if (r->pid && now >= r->deadline && !r->killed_for_timeout) {
		say(r, "job %s has run %.0f s: killing it", job_names[r->current.kind],
		    r->o.config->schedule.job_timeout_s);
		r->killed_for_timeout = 1;
		kill(r->pid, SIGKILL);
	}
	if (!r->pid && r->n_queue) {
		/* The earliest queued job that may start. */
		size_t best = 0;
		for (size_t i = 1; i < r->n_queue; i++)
			if (r->queue[i].not_before < r->queue[best].not_before)
				best = i;
		if (r->queue[best].not_before <= now) {
			struct queued q = r->queue[best];
			memmove(r->queue + 1, r->queue, best * sizeof *r->queue);
			r->queue[0] = q;
			start(r, now);
		}
	}
}

int64_t runner_next_wake(const struct runner *r)
{
	int64_t wake = INT64_MAX;
	if (!r)
		return wake;
	if (r->next_daily != CALENDAR_NONE && r->next_daily < wake)
		wake = r->next_daily;
	if (r->next_retrain != CALENDAR_NONE && r->next_retrain < wake)
		wake = r->next_retrain;
	if (r->pid) {
		if (!r->killed_for_timeout && r->deadline < wake)
			wake = r->deadline;
	} else {
		for (size_t i = 0; i < r->n_queue; i++)
			if (r->queue[i].not_before < wake)
				wake = r->queue[i].not_before;
	}
	return wake;
}

void runner_replan(struct runner *r, int64_t now)
{
	if (r)
		plan_next(r, now);
}

json_t *runner_last_run(const struct runner *r)
{
	return r ? r->last : NULL;
}

pid_t runner_running(const struct runner *r)
{
	return r ? r->pid : 0;
}

void runner_stop(struct runner *r, int64_t now)
{
	int status;
	if (!r)
		return;
	if (r->pid) {
		kill(r->pid, SIGKILL);
		if (waitpid(r->pid, &status, 0) == r->pid) {
			journal(r, r->current.kind, r->current.day, r->current.attempt, r->started,
				now, "interrupted", -1, SIGKILL, "watch stopped while it ran");
			char path[4400];
			snprintf(path, sizeof path, "%s/%s", r->o.state_dir, RUNNER_STDERR);
			unlink(path);
		}
		r->pid = 0;
	}
}

void runner_free(struct runner *r)
{
	if (!r)
		return;
	json_decref(r->last);
	free(r);
}
