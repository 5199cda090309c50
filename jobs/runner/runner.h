/*
 * runner — the scheduled jobs of watch: when they are due, run
 * them as child processes, one at a time, with a timeout; journal every run
 * in state/jobs.jsonl; retry failures with backoff; catch up days missed
 * while tradelearn was down, once.
 *
 * The runner owns no loop and never blocks: watch calls runner_tick() when
 * the instant runner_next_wake() names has come (and after anything else
 * woke it), and runner_reap() when SIGCHLD arrives. Every function takes
 * "now" from the caller (the schedule's clock, calendar_schedule_now()), so
 * tests drive it through any day they like.
 *
 * Jobs:
 *   daily   at config schedule.daily on every trading day, for that day:
 *           EXE [base args] daily --date D
 *   retrain weekly at config schedule.retrain (EXE [base args] retrain
 *           --scheduled), and after a daily run whose report says a retrain
 *           is due (EXE [base args] retrain, which reads that report) — only
 *           when the program has that command; otherwise the weekly slot is
 *           journaled as skipped. The retrain decides for itself whether the
 *           minimum interval since the last one has passed, and exits 0
 *           whatever it decided.
 *
 * Journal lines (JSON, one per finished run, appended and fsync'd by
 * lib/base/journal.h):
 *   {"job", "day" (YYYY-MM-DD or null), "attempt" (1 = first), "start",
 *    "end" (ISO-8601 UTC), "status": "ok" | "failed" | "crashed" |
 *    "timeout" | "interrupted" | "skipped", "exit" (exit code or null),
 *    "signal" (or null), "error" (the job's last stderr line, or why)}
 *
 * What counts as done, read back from the journal at start: a daily day
 * with an "ok" (or "skipped") line is never run again; a day whose failed
 * attempts reached 1 + max_retries is given up (journaled once as
 * skipped). The last done day bounds the catch-up: the trading days after
 * it up to the last due one are run oldest first, at most
 * schedule.catch_up_days of them (older ones are journaled as skipped).
 * A first start (empty journal) runs only the last due day.
 *
 * A run that failed, crashed or timed out fires the job_failed hook
 * (hook.h) with its journal line and "retry_at" (the next attempt's
 * ISO-8601 time, or null when none is left), from a process of its own
 * (hook_fire_detached): the runner never waits for a hook. The hook's run is
 * journaled as "hook:job_failed"; such lines are not job runs
 * (runner_last_run() never returns one).
 *
 * A job never outlives its watch: it is killed if watch dies, even by
 * kill -9 (PR_SET_PDEATHSIG), and, not being journaled, runs again at the
 * next start.
 */
#ifndef TRADELEARN_RUNNER_H
#define TRADELEARN_RUNNER_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "lib/config/config.h"
#include "lib/base/err.h"

typedef void (*runner_log_fn)(void *ctx, const char *message);

struct runner_options {
	const char *state_dir;
	const char *root_dir; /* the root, for hooks (their folder, TRADELEARN_ROOT); may be NULL */
	const struct config *config; /* borrowed; must outlive the runner */
	const char *exe;	     /* the program run for each job */
	/* Arguments after argv[0] and before the job's own (global options
	 * such as --root); NULL-terminated, borrowed; may be NULL. */
	char *const *base_args;
	int retrain_available; /* the program has a retrain command */
	runner_log_fn log;     /* one line per event; may be NULL */
	void *log_ctx;
};

struct runner;

/* Reads the journal and queues what is due at now (catch-up). Returns NULL
 * with err set when the journal cannot be read (the file system's errno) or
 * on ENOMEM. */
struct runner *runner_new(const struct runner_options *o, int64_t now, struct err *err);

/* Stops the running job, if any: it is killed (SIGKILL), reaped and
 * journaled as "interrupted" at now (so it runs again at the next start).
 * NULL does nothing. */
void runner_stop(struct runner *r, int64_t now);

/* Frees r; call runner_stop() first when a job may be running (a job left
 * running is not killed here, only forgotten). NULL does nothing. */
void runner_free(struct runner *r);

/* Queues slots that fired by now, kills a job past its timeout, starts the
 * next queued job when none runs. Never fails the caller: a job that
 * cannot be started is journaled as failed and retried. */
void runner_tick(struct runner *r, int64_t now);

/* Collects finished children (call on SIGCHLD; harmless otherwise),
 * journals them and queues retries. */
void runner_reap(struct runner *r, int64_t now);

/* The instant at which runner_tick() has something to do: the next slot,
 * a queued retry, a running job's deadline. */
int64_t runner_next_wake(const struct runner *r);

/* Recomputes the next slots from the config (after a reload). */
void runner_replan(struct runner *r, int64_t now);

/* The last run journaled (read from the journal at start, or written
 * since), as its journal object; borrowed, valid until the next runner
 * call; NULL when there is none. */
json_t *runner_last_run(const struct runner *r);

/* The pid of the running job, or 0. */
pid_t runner_running(const struct runner *r);

#endif
