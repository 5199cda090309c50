/*
 * tradelearn watch — the daemon: one poll loop over inotify, a timer and a
 * signalfd. Signals are events read from the signalfd, never work done in a
 * handler: SIGTERM/SIGINT end the loop after the batch in hand is committed,
 * SIGHUP reloads the config (by committing, closing and reopening the
 * pipeline, which is exactly the restart path).
 *
 * Under systemd (Type=notify) it says where it stands through
 * lib/base/notify: STATUS= while catching up, READY=1 once recovery and the
 * first catch-up are done and the follower is live, RELOADING=1 / READY=1
 * around a SIGHUP, STOPPING=1 on SIGTERM/SIGINT, and WATCHDOG=1 keepalives
 * from the loop's own timer when the unit sets WatchdogSec=.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/notify.h"
#include "cmd/cmd.h"
#include "jobs/live/metrics_file.h"
#include "jobs/live/pipeline.h"
#include "cmd/progress.h"
#include "jobs/runner/runner.h"

static const char watch_usage[] =
    "usage: tradelearn [global options] watch [--once] [--poll]\n"
    "\n"
    "Follows the bot's logs (inotify on the logs folder) and learns from every\n"
    "closed trade as it is written, exactly once, through restarts and rotation.\n"
    "Runs in the foreground; SIGTERM or SIGINT commit and exit 0, SIGHUP reloads\n"
    "the config.\n"
    "\n"
    "  --once   catch up with the logs, commit, and exit (no waiting)\n"
    "  --poll   poll the files instead of using inotify\n"
    "\n"
    "exit status: 0 stopped cleanly, 1 failed, 2 usage, 75 another watch holds ROOT/state.\n";

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void log_line(void *ctx, const char *msg)
{
	(void)ctx;
	cmd_error("%s", msg);
}

struct watch {
	struct cmd_ctx *ctx;
	struct cmd_env env;
	int lock_fd; /* the state folder's lock, held for the life of watch */
	struct pipeline *pipe;
	struct runner *jobs; /* NULL with --once */
	int once, force_poll;
	int sfd; /* signalfd of SIGTERM, SIGINT, SIGHUP, SIGCHLD */
	int tfd; /* timerfd: the refresh tick (rescan or poll interval) */
	int jfd; /* timerfd: the scheduled jobs' next wake */
	int wfd; /* timerfd: the watchdog's keepalive, -1 when none is wanted */
	struct notify nt;
	int ready;		      /* READY=1 was sent */
	int64_t extended_at;	      /* monotonic µs of the last EXTEND_TIMEOUT_USEC */
	struct metrics_file *metrics; /* the config's metrics_file, NULL when none */
	int metrics_failing;	      /* its last write failed (said once) */
	uint64_t trades_seen;
	int health_errno; /* of the failing health.json write said last, 0 when it works */
	char exe[4096];
	char *job_args[12];
};

static void on_outcome(void *arg, const struct record *r)
{
	struct watch *w = arg;
	w->trades_seen++;
	cmd_info("learned %s %s %s %+.2f USD (%s)%s", r->symbol,
		 r->side > 0   ? "long"
		 : r->side < 0 ? "short"
			       : "?",
		 r->kind == PROFILE_KIND_PARTIAL ? "partial close" : "close",
		 isfinite(r->pnl_usd) ? r->pnl_usd : 0.0, r->close_reason ? r->close_reason : "-",
		 r->pnl_sign_mismatch ? " [P&L sign disagrees with prices]" : "");
}

/* The state folder's lock, taken once and held until watch exits: a
 * SIGHUP reload reopens the pipeline under it. */
static int take_lock(struct watch *w)
{
	struct err err = {0};
	pid_t holder = 0;

	if (durable_mkdirs(w->env.state_dir, &err)) {
		cmd_error("%s", err.msg);
		return EXIT_FAILED;
	}
	w->lock_fd = durable_lock(w->env.state_dir, &holder, &err);
	if (w->lock_fd >= 0)
		return 0;
	if (err.code != EWOULDBLOCK) {
		cmd_error("%s", err.msg);
		return EXIT_FAILED;
	}
	if (holder > 0)
		cmd_error("another tradelearn (pid %ld) is already watching %s", (long)holder,
			  w->env.state_dir);
	else
		cmd_error("another tradelearn is already watching %s", w->env.state_dir);
	return EXIT_LOCKED;
}

/* The config's metrics_file (a relative path is under the root). */
static int open_metrics(struct watch *w)
{
	char path[8200];
	struct err err;
	metrics_file_free(w->metrics);
	w->metrics = NULL;
	w->metrics_failing = 0;
	const char *file = w->env.config.metrics_file;
	if (!file[0])
		return 0;
	snprintf(path, sizeof path, "%s%s%s", file[0] == '/' ? "" : w->env.root,
		 file[0] == '/' ? "" : "/", file);
	w->metrics = metrics_file_new(path, w->env.state_dir, w->env.models_dir, &err);
	if (w->metrics)
		return 0;
	cmd_error("%s", err.msg);
	return EXIT_FAILED;
}

/* Rewrites the metrics file when its figures changed (at most every few
 * seconds; force: now, as on a stop). A failure is said once, until a
 * write succeeds again; it never stops watch. */
static void write_metrics(struct watch *w, int running, int force)
{
	struct err err;
	if (!w->metrics)
		return;
	if (metrics_file_update(w->metrics, w->pipe, &w->env.profile, running, monotonic_us(),
				force, &err)) {
		if (!w->metrics_failing)
			cmd_error("%s (trying again while running)", err.msg);
		w->metrics_failing = 1;
	} else if (w->metrics_failing) {
		cmd_error("metrics_file %s: written again", w->env.config.metrics_file);
		w->metrics_failing = 0;
	}
}

static int open_pipeline(struct watch *w)
{
	struct err err;
	struct pipeline_options opt = {
	    .state_dir = w->env.state_dir,
	    .logs_dir = w->env.logs_dir,
	    .models_dir = w->env.models_dir,
	    .config = &w->env.config,
	    .profile = &w->env.profile,
	    .force_poll = w->force_poll,
	    .log = log_line,
	    .on_outcome = on_outcome,
	    .hook_ctx = w,
	};
	w->pipe = pipeline_new(&opt, &err);
	if (w->pipe)
		return open_metrics(w);
	cmd_error("%s", err.msg);
	return EXIT_FAILED;
}

static int arm_timer(int tfd, long ms)
{
	struct itimerspec its = {
	    .it_interval = {ms / 1000, (ms % 1000) * 1000000},
	    .it_value = {ms / 1000, (ms % 1000) * 1000000},
	};
	return timerfd_settime(tfd, 0, &its, NULL);
}

static long tick_ms(struct watch *w)
{
	return pipeline_is_polling(w->pipe) ? w->env.config.poll_interval_ms
					    : w->env.config.rescan_interval_ms;
}

static uint64_t lag_bytes(struct watch *w)
{
	uint64_t lag = 0;
	for (size_t s = 0; s < PROFILE_SOURCE_COUNT; s++)
		lag += pipeline_lag(w->pipe, s);
	return lag;
}

/* A WATCHDOG=1 when the watchdog's timer has expired: called from the loop
 * (and between the batches of a long catch-up), never from elsewhere, so a
 * stuck loop sends none. */
static void keep_alive(struct watch *w)
{
	uint64_t expirations;
	if (w->wfd >= 0 && read(w->wfd, &expirations, sizeof expirations) > 0)
		notify_watchdog(&w->nt);
}

/* Before READY=1: how far the first catch-up is, and more time for it
 * (TimeoutStartSec= is pushed out 30 s at a time while it makes progress). */
static void say_catching_up(struct watch *w, uint64_t done, uint64_t total)
{
	if (!w->nt.on || w->ready)
		return;
	double unit = total >= 1048576 ? 1048576.0 : 1024.0;
	notify_status(&w->nt, "catching up %d%% (%.1f of %.1f %s)",
		      total ? (int)(100.0 * (double)done / (double)total) : 100,
		      (double)done / unit, (double)total / unit, total >= 1048576 ? "MiB" : "KiB");
	int64_t now = monotonic_us();
	if (now - w->extended_at >= 5000000) {
		notify_extend(&w->nt, 30000000);
		w->extended_at = now;
	}
}

/* The STATUS= line of a live watch: what is followed and how far behind. */
static void status_line(struct watch *w, char *out, size_t len)
{
	int sources = 0;
	for (size_t s = 0; s < PROFILE_SOURCE_COUNT; s++)
		sources += w->env.profile.source[s].file[0] != 0;
	const struct state *st = pipeline_state(w->pipe);
	snprintf(out, len, "%s %d source%s, lag %llu bytes, %llu trades recorded",
		 pipeline_is_polling(w->pipe) ? "polling" : "following", sources,
		 sources == 1 ? "" : "s", (unsigned long long)lag_bytes(w),
		 (unsigned long long)st->source[PROFILE_SOURCE_ATTRIBUTION].count.trades);
}

/* After a catch-up: READY=1 the first time, then the status when it
 * changed. */
static void say_following(struct watch *w)
{
	char line[200];
	if (!w->nt.on || w->once)
		return;
	status_line(w, line, sizeof line);
	if (!w->ready) {
		notify_ready(&w->nt, line);
		w->ready = 1;
	} else {
		notify_status(&w->nt, "%s", line);
	}
}

/* Commits batches until the logs are caught up (0) or a signal is pending
 * (1); -1 when a commit failed. A large backlog (a first start, a long
 * stop) shows a progress line on a terminal. */
static int drain(struct watch *w)
{
	struct progress bar;
	uint64_t backlog = lag_bytes(w);
	progress_begin(&bar, "catching up", w->ctx->verbose ? 0 : backlog);
	if (backlog)
		say_catching_up(w, 0, backlog);
	for (;;) {
		keep_alive(w);
		struct err err;
		size_t lines = 0;
		uint64_t before = w->trades_seen;
		if (pipeline_step(w->pipe, &lines, &err)) {
			progress_end(&bar);
			cmd_error("commit failed, stopping (a restart redoes the batch): %s",
				  err.msg);
			return -1;
		}
		if (!lines) {
			progress_end(&bar);
			return 0;
		}
		if (bar.on || (w->nt.on && !w->ready)) {
			uint64_t left = lag_bytes(w);
			progress_update(&bar, left < backlog ? backlog - left : 0);
			say_catching_up(w, left < backlog ? backlog - left : 0, backlog);
		}
		/* Per-trade lines say what happens live; a summary per large
		 * batch shows progress while catching up. */
		const struct state *st = pipeline_state(w->pipe);
		if (lines >= 1000)
			cmd_info("committed generation %llu: %zu lines, %llu trades",
				 (unsigned long long)st->generation, lines,
				 (unsigned long long)(w->trades_seen - before));
		struct pollfd pf = {.fd = w->sfd, .events = POLLIN};
		if (w->sfd >= 0 && poll(&pf, 1, 0) > 0) {
			progress_end(&bar);
			return 1;
		}
	}
}

static int reload(struct watch *w)
{
	struct cmd_env next;
	struct err err = {0};
	if (cmd_env_resolve(w->ctx, &next, &err) != 0) {
		cmd_error("SIGHUP: the config was not reloaded (the running one stays): %s",
			  err.msg);
		cmd_env_release(&next);
		if (w->ready) {
			char line[200];
			status_line(w, line, sizeof line);
			notify_ready(&w->nt, "the config was not reloaded (see the journal); the "
					     "running one stays");
			notify_status(&w->nt, "%s", line);
		}
		return 0;
	}
	pipeline_free(w->pipe);
	cmd_env_release(&w->env);
	w->env = next;
	int rc = open_pipeline(w);
	if (rc == 0) {
		cmd_error("SIGHUP: config reloaded (profile %s, logs %s)", w->env.profile.name,
			  w->env.logs_dir);
		if (w->ready) {
			char line[200];
			status_line(w, line, sizeof line);
			notify_ready(&w->nt, line);
		}
	}
	return rc;
}

/* The scheduled jobs run this same program with the root, logs, config
 * and profile this watch resolved, so a job sees what the follower sees. */
static int open_jobs(struct watch *w)
{
	struct err err;
	size_t k = 0;
	ssize_t n = readlink("/proc/self/exe", w->exe, sizeof w->exe - 1);
	if (n <= 0) {
		cmd_error("/proc/self/exe: %s", strerror(errno));
		return EXIT_FAILED;
	}
	w->exe[n] = 0;
	w->job_args[k++] = "--root";
	w->job_args[k++] = w->env.root;
	w->job_args[k++] = "--logs";
	w->job_args[k++] = w->env.logs_dir;
	if (w->env.config.path[0]) {
		w->job_args[k++] = "--config";
		w->job_args[k++] = w->env.config.path;
	}
	w->job_args[k++] = "--profile";
	w->job_args[k++] = (char *)w->env.profile.name;
	w->job_args[k] = NULL;
	struct runner_options o = {
	    .state_dir = w->env.state_dir,
	    .root_dir = w->env.root,
	    .config = &w->env.config,
	    .exe = w->exe,
	    .base_args = w->job_args,
	    .retrain_available = cmd_exists("retrain"),
	    .log = log_line,
	};
	w->jobs = runner_new(&o, calendar_schedule_now(), &err);
	if (!w->jobs) {
		cmd_error("scheduled jobs: %s", err.msg);
		return EXIT_FAILED;
	}
	return 0;
}

/* Lets the runner act, then sets jfd to wake it next: at most a minute
 * away, so a wall clock that jumps (NTP, suspend) is noticed soon. */
static void run_jobs(struct watch *w)
{
	if (!w->jobs)
		return;
	int64_t now = calendar_schedule_now();
	runner_tick(w->jobs, now);
	pipeline_set_last_job(w->pipe, runner_last_run(w->jobs));
	int64_t wait = runner_next_wake(w->jobs) - now;
	if (wait > 60 * CALENDAR_US_PER_S)
		wait = 60 * CALENDAR_US_PER_S;
	if (wait < 1000)
		wait = 1000;
	struct itimerspec its = {
	    .it_value = {wait / CALENDAR_US_PER_S, (wait % CALENDAR_US_PER_S) * 1000}};
	timerfd_settime(w->jfd, 0, &its, NULL);
}

/* --once and --poll; 0, or EXIT_USAGE after saying what is wrong. */
static int parse_args(struct watch *w, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			w->once = 1;
		else if (strcmp(argv[i], "--poll") == 0)
			w->force_poll = 1;
		else {
			cmd_error("watch: unknown argument %s", argv[i]);
			fputs(watch_usage, stderr);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* Blocks the signals before anything can deliver them (they are read from
 * the signalfd in the loop) and creates the loop's timers. */
static int open_event_fds(struct watch *w)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	w->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->jfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->sfd < 0 || w->tfd < 0 || w->jfd < 0) {
		cmd_error("signalfd/timerfd: %s", strerror(errno));
		return EXIT_FAILED;
	}
	/* Keepalives at half the interval systemd waits for (sd_watchdog_enabled(3)). */
	uint64_t usec = w->once ? 0 : notify_watchdog_usec();
	if (usec) {
		long ms = (long)(usec / 2000);
		w->wfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (w->wfd < 0 || arm_timer(w->wfd, ms > 0 ? ms : 1)) {
			cmd_error("timerfd: %s", strerror(errno));
			return EXIT_FAILED;
		}
		notify_watchdog(&w->nt);
	}
	return 0;
}

/* Takes the state folder's lock, opens the pipeline, says what is watched,
 * starts the tick and (unless --once) the scheduled jobs. 0, or the exit
 * status. */
static int start(struct watch *w)
{
	int rc = take_lock(w);
	if (!rc)
		rc = open_pipeline(w);
	if (rc)
		return rc;
	cmd_error("watching %s (profile %s, state %s%s)", w->env.logs_dir, w->env.profile.name,
		  w->env.state_dir, pipeline_is_polling(w->pipe) ? ", polling" : "");
	if (arm_timer(w->tfd, tick_ms(w))) {
		cmd_error("timerfd: %s", strerror(errno));
		return EXIT_FAILED;
	}
	return w->once ? 0 : open_jobs(w);
}

/* Acts on the signals read from the signalfd: SIGCHLD reaps a job, SIGHUP
 * reloads the config, the others set *stop. 0, or the exit status when the
 * reload could not reopen the pipeline. */
static int on_signals(struct watch *w, int *stop)
{
	struct signalfd_siginfo si;
	while (read(w->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			runner_reap(w->jobs, calendar_schedule_now());
		} else if (si.ssi_signo == SIGHUP) {
			if (w->ready)
				notify_reloading(&w->nt, "reloading the config");
			int rc = reload(w);
			if (rc)
				return rc;
			arm_timer(w->tfd, tick_ms(w));
			runner_replan(w->jobs, calendar_schedule_now());
		} else {
			if (!*stop)
				notify_stopping(&w->nt, "stopping: committing what was read");
			*stop = 1;
		}
	}
	return 0;
}

/* The refresh tick: look at the files again and publish health.json. */
static void on_tick(struct watch *w)
{
	uint64_t expirations;
	if (read(w->tfd, &expirations, sizeof expirations) > 0) {
		struct err err;
		pipeline_refresh(w->pipe);
		/* A failure that lasts (a full disk) is said once, not at every tick,
		 * and its end is said too. */
		if (pipeline_publish(w->pipe, &err)) {
			if (err.code != w->health_errno)
				cmd_error("health.json: %s (said once while it lasts)", err.msg);
			w->health_errno = err.code;
		} else if (w->health_errno) {
			cmd_error("health.json: written again");
			w->health_errno = 0;
		}
		write_metrics(w, 1, 0);
	}
}

/* The jobs' timer only wakes the loop, which runs them (run_jobs). */
static void on_job_timer(struct watch *w)
{
	uint64_t expirations;
	if (read(w->jfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
		cmd_error("timerfd: %s", strerror(errno));
}

/* Waits for a signal, a timer or a change in the logs folder and acts on
 * it. 0 to go on (*stop set when asked to stop), or the exit status. */
static int wait_and_dispatch(struct watch *w, int *stop)
{
	struct pollfd fds[5] = {
	    {.fd = w->sfd, .events = POLLIN},
	    {.fd = w->tfd, .events = POLLIN},
	    {.fd = w->jfd, .events = POLLIN},
	    {.fd = w->wfd, .events = POLLIN}, /* a negative fd is ignored by poll */
	    {.fd = pipeline_fd(w->pipe), .events = POLLIN},
	};
	if (poll(fds, 5, -1) < 0) {
		if (errno == EINTR)
			return 0;
		cmd_error("poll: %s", strerror(errno));
		return EXIT_FAILED;
	}
	if (fds[0].revents & POLLIN) {
		int rc = on_signals(w, stop);
		if (rc)
			return rc;
	}
	if (fds[1].revents & POLLIN)
		on_tick(w);
	if (fds[2].revents & POLLIN)
		on_job_timer(w);
	if (fds[3].revents & POLLIN)
		keep_alive(w);
	if (fds[4].fd >= 0 && (fds[4].revents & POLLIN))
		pipeline_events(w->pipe);
	return 0;
}

/* Whatever was read has been committed by drain(): a clean stop. */
static void say_stopped(struct watch *w)
{
	struct err err;
	pipeline_publish(w->pipe, &err);
	write_metrics(w, 0, 1);
	const struct state *st = pipeline_state(w->pipe);
	cmd_error("stopped at generation %llu, %llu trades recorded",
		  (unsigned long long)st->generation,
		  (unsigned long long)st->source[PROFILE_SOURCE_ATTRIBUTION].count.trades);
}

static void watch_release(struct watch *w)
{
	runner_stop(w->jobs, calendar_schedule_now());
	runner_free(w->jobs);
	pipeline_free(w->pipe);
	metrics_file_free(w->metrics);
	cmd_env_release(&w->env);
	if (w->sfd >= 0)
		close(w->sfd);
	if (w->tfd >= 0)
		close(w->tfd);
	if (w->jfd >= 0)
		close(w->jfd);
	if (w->wfd >= 0)
		close(w->wfd);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
}

int cmd_watch(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct watch w = {.ctx = ctx, .lock_fd = -1, .sfd = -1, .tfd = -1, .jfd = -1, .wfd = -1};
	int rc, stop = 0;

	if (cmd_wants_help(argc, argv)) {
		fputs(watch_usage, stdout);
		return EXIT_DONE;
	}
	rc = parse_args(&w, argc, argv);
	if (rc)
		return rc;
	ctx->create_logs = 1;
	rc = cmd_env_load(ctx, &w.env);
	if (rc)
		return rc;
	if (!w.once)
		notify_init(&w.nt);
	rc = open_event_fds(&w);
	if (!rc)
		rc = start(&w);
	while (!rc && !stop) {
		int caught_up = drain(&w);
		if (caught_up < 0) {
			rc = EXIT_FAILED;
			break;
		}
		if (w.once)
			break;
		if (caught_up == 0) {
			say_following(&w);
			write_metrics(&w, 1, 0);
		}
		run_jobs(&w);
		rc = wait_and_dispatch(&w, &stop);
	}
	if (!rc)
		say_stopped(&w);
	else if (!w.once)
		notify_stopping(&w.nt, "failed (the journal says why)");
	watch_release(&w);
	return rc;
}
