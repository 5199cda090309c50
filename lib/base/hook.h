/*
 * hook — a command of the user's run when something happens that a person
 * should hear of (a model deployed or rejected, a retrain due, a scheduled
 * job failed): for mail or chat alerts.
 *
 * Config "hooks": {"timeout_s": 30, "<event>": ["/abs/program", "arg", ...]}
 * for the events of hook_event_names. A hook is run without a shell
 * (execve: argv[0] is the program's absolute path, the rest its arguments
 * as written), with:
 *   - stdin:  the event, one JSON object (hook_fire() below says its keys),
 *             pretty-printed, ending with a newline; a hook may ignore it;
 *   - stdout and stderr: one pipe, read as the hook writes (so a hook that
 *             writes megabytes never blocks), of which the last
 *             HOOK_OUTPUT_MAX bytes are kept;
 *   - the environment: only PATH=/usr/bin:/bin, LANG=C.UTF-8, HOME (the
 *             user's home folder from the password database, when it has
 *             one), TRADELEARN_EVENT=<event> and TRADELEARN_ROOT=<root>
 *             (when a root is given), so nothing of the daemon's environment
 *             leaks into it;
 *   - the current folder: the root (else "/"); no other open file; signals
 *             as a fresh process has them; its own process group, killed
 *             with SIGKILL when the hook outlives its timeout (its children
 *             with it), and when the process that runs it dies.
 *
 * A hook never stops its caller: whatever it does (fail, hang, not exist),
 * the outcome is a status, journaled as a line of state/jobs.jsonl (job
 * "hook:<event>", journal.h), and the caller goes on.
 */
#ifndef TRADELEARN_HOOK_H
#define TRADELEARN_HOOK_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/base/err.h"
#include "lib/base/option.h"

enum hook_event {
	HOOK_DEPLOY,		/* a model was deployed (by the gate, by hand, by a rollback) */
	HOOK_REJECT,		/* the gate rejected a candidate */
	HOOK_RETRAIN_TRIGGERED, /* a daily report says a retrain is due */
	HOOK_JOB_FAILED,	/* a scheduled job failed, crashed or timed out */
	HOOK_EVENT_COUNT
};
/* "deploy", "reject", "retrain_triggered", "job_failed": the config keys and
 * the events' names. */
extern const char *const hook_event_names[HOOK_EVENT_COUNT];

#define HOOK_MAX_ARGS 64
#define HOOK_ARGV_BYTES 4096 /* all arguments with their NULs */
#define HOOK_OUTPUT_MAX 4096

/* A hook's argv, stored in place (a config is copied by value). */
struct hook_command {
	int argc;		    /* 0: no hook */
	char args[HOOK_ARGV_BYTES]; /* argc NUL-terminated strings, one after the other */
};

struct hook_options {
	double timeout_s; /* a hook running longer is killed */
	struct hook_command command[HOOK_EVENT_COUNT];
};
extern const struct option_table hook_option_table;

/* The defaults: no hooks, the table's timeout. */
void hook_options_init(struct hook_options *o);

/* Makes c the command argv[0..n). Refused (-1, err EINVAL, c unchanged, and
 * *at the index of the argument at fault or -1 when it is the whole):
 * n == 0 ("must not be empty"), more than HOOK_MAX_ARGS arguments or
 * HOOK_ARGV_BYTES bytes, argv[0] not an absolute path. at may be NULL. */
int hook_command_set(struct hook_command *c, const char *const *argv, size_t n, int *at,
		     struct err *err);

/* The same from a JSON array of strings (borrowed), for the config: on a
 * problem, what to append to the key's path ("[2]", or "") goes in sub. */
int hook_command_from_json(struct hook_command *c, json_t *v, char *sub, size_t sublen,
			   struct err *err);

enum hook_status {
	HOOK_OK,      /* it ran and exited 0 */
	HOOK_FAILED,  /* it exited non-zero, was killed by a signal, or could not be run */
	HOOK_TIMEOUT, /* it outlived its timeout and was killed, with its process group */
	HOOK_MISSING, /* argv[0] does not exist (execve: ENOENT, ENOTDIR) */
};
/* "ok", "failed", "timeout", "missing": the journal's status. */
extern const char *const hook_status_names[];

struct hook_result {
	enum hook_status status;
	int exit_code;	 /* its exit code, or -1 (killed, or never ran) */
	int signo;	 /* the signal that ended it, or 0 */
	char error[400]; /* for a run that is not ok, why (UTF-8, one line); else "" */
	char output[HOOK_OUTPUT_MAX + 1]; /* the last bytes of stdout and stderr, NUL-terminated */
	size_t output_len;
	uint64_t output_total; /* bytes it wrote in all */
};

/* Runs c with input[0..len) on stdin, the environment envp (NULL-terminated)
 * and the current folder dir, waits for it at most timeout_s seconds, and
 * says how it went in res. Never fails the caller: a hook that cannot be
 * started is a status too. SIGPIPE is blocked while the input is written (a
 * hook that does not read it is fine) and never reaches the caller. */
void hook_run(const struct hook_command *c, const char *input, size_t len, char *const envp[],
	      const char *dir, double timeout_s, struct hook_result *res);

/* Fires event ev: when o has a hook for it, runs it (hook_run) with the
 * event on stdin, then appends its run to STATE_DIR/jobs.jsonl (job
 * "hook:<event>", day the event's "day" when it has one, attempt 1, status
 * one of hook_status_names, exit, signal, error). The event object:
 *
 *   {"event": name, "time": ISO-8601 UTC (the schedule's clock), "host",
 *    "root" (or null), "text": a one-line summary (fields' own, or
 *    "tradelearn: <event>"), then every key of fields in its order}
 *
 * fields (borrowed, may be NULL) are what the event carries:
 *   deploy, reject     version, decision, reasons, figures
 *   retrain_triggered  day, reasons
 *   job_failed         job, day, attempt, status, exit, signal, error, retry_at
 *
 * res (may be NULL) receives the run's outcome. Returns 0 when no hook is
 * configured for ev, or when it ran ok and was journaled; -1 with err
 * ("hook <event>: <status>: <why>": EIO failed, ETIMEDOUT timeout, ENOENT
 * missing; or why the journal could not be written) otherwise. The caller goes on either way: the
 * journal is the record. */
int hook_fire(const struct hook_options *o, const char *root, const char *state_dir,
	      enum hook_event ev, json_t *fields, struct hook_result *res, struct err *err);

/* hook_fire() in a process of its own, for a caller that must not wait (the
 * runner in watch's loop): forks a child that forks the process that fires
 * the hook and exits at once, so this returns as soon as that child is
 * reaped and no process of the hook is ever the caller's to reap. The firing
 * process holds none of the caller's files (a lock, a pipe of the caller's
 * own caller), and is not killed when the caller exits: an alert in flight
 * is finished, bounded by its timeout. Returns 0 when no hook is configured
 * or it was handed over; -1 with err when a fork failed (the hook did not
 * run). */
int hook_fire_detached(const struct hook_options *o, const char *root, const char *state_dir,
		       enum hook_event ev, json_t *fields, struct err *err);

#endif
