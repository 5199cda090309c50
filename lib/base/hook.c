#include "lib/base/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/journal.h"
#include "lib/base/jsontext.h"
#include "lib/base/schedule.h"

const char *const hook_event_names[HOOK_EVENT_COUNT] = {"deploy", "reject", "retrain_triggered",
							"job_failed"};
const char *const hook_status_names[] = {"ok", "failed", "timeout", "missing"};

/* ---- settings ---------------------------------------------------------------------- */

static int read_command(void *opts, const struct option_key *o, json_t *v, char *sub, size_t sublen,
			struct err *e)
{
	return hook_command_from_json((struct hook_command *)((char *)opts + o->offset), v, sub,
				      sublen, e);
}

#define T struct hook_options
static const struct option_key hook_keys[] = {
    OPTION_NUMBER(T, timeout_s, 30, 0.1, 600),
    OPTION_CUSTOM("deploy", T, command[HOOK_DEPLOY], read_command, NULL),
    OPTION_CUSTOM("reject", T, command[HOOK_REJECT], read_command, NULL),
    OPTION_CUSTOM("retrain_triggered", T, command[HOOK_RETRAIN_TRIGGERED], read_command, NULL),
    OPTION_CUSTOM("job_failed", T, command[HOOK_JOB_FAILED], read_command, NULL),
};
#undef T

const struct option_table hook_option_table = OPTION_TABLE(hook_keys, NULL);

void hook_options_init(struct hook_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&hook_option_table, o);
}

int hook_command_set(struct hook_command *c, const char *const *argv, size_t n, int *at,
		     struct err *err)
{
	size_t used = 0;
	if (at)
		*at = -1;
	if (n == 0)
		return err_set(
		    err, EINVAL,
		    "must not be empty (the program's absolute path, then its arguments)");
	if (n > HOOK_MAX_ARGS)
		return err_set(err, EINVAL, "has %zu arguments, more than %d", n, HOOK_MAX_ARGS);
	if (argv[0][0] != '/') {
		if (at)
			*at = 0;
		return err_set(err, EINVAL,
			       "must be the program's absolute path (hooks run without a shell "
			       "or a PATH search)");
	}
	for (size_t i = 0; i < n; i++)
		used += strlen(argv[i]) + 1;
	if (used > HOOK_ARGV_BYTES)
		return err_set(err, EINVAL, "has %zu bytes of arguments, more than %d", used,
			       HOOK_ARGV_BYTES);
	used = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(argv[i]) + 1;
		memcpy(c->args + used, argv[i], k);
		used += k;
	}
	c->argc = (int)n;
	return 0;
}

int hook_command_from_json(struct hook_command *c, json_t *v, char *sub, size_t sublen,
			   struct err *err)
{
	const char *argv[HOOK_MAX_ARGS];
	size_t n = json_array_size(v);
	int at;
	if (!json_is_array(v))
		return err_set(err, EINVAL,
			       "must be an array of strings: the program's absolute path, then its "
			       "arguments");
	for (size_t i = 0; i < n && i < HOOK_MAX_ARGS; i++) {
		json_t *a = json_array_get(v, i);
		if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a)) {
			snprintf(sub, sublen, "[%zu]", i);
			return err_set(err, EINVAL, "must be a string without NUL");
		}
		argv[i] = json_string_value(a);
	}
	if (hook_command_set(c, argv, n, &at, err) == 0)
		return 0;
	if (at >= 0)
		snprintf(sub, sublen, "[%d]", at);
	return -1;
}

/* ---- running one hook -------------------------------------------------------------- */

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keeps the last HOOK_OUTPUT_MAX bytes of what the hook writes. */
static void keep_output(struct hook_result *res, const char *data, size_t n)
{
	res->output_total += n;
	if (n >= HOOK_OUTPUT_MAX) {
		memcpy(res->output, data + n - HOOK_OUTPUT_MAX, HOOK_OUTPUT_MAX);
		res->output_len = HOOK_OUTPUT_MAX;
	} else {
		size_t drop = res->output_len + n > HOOK_OUTPUT_MAX
				  ? res->output_len + n - HOOK_OUTPUT_MAX
				  : 0;
		memmove(res->output, res->output + drop, res->output_len - drop);
		memcpy(res->output + res->output_len - drop, data, n);
		res->output_len += n - drop;
	}
	res->output[res->output_len] = '\0';
}

/* Reads what is there; 1 at the end of the output (or a read error), else 0. */
static int drain_output(int fd, struct hook_result *res)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n > 0) {
			keep_output(res, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : 1;
	}
}

/* The last non-empty line of the output, as UTF-8 (bytes that are not are
 * replaced: the journal is JSON). "" when there is none. */
static void last_output_line(const struct hook_result *res, char *buf, size_t len)
{
	size_t n = res->output_len;
	while (n && (res->output[n - 1] == '\n' || res->output[n - 1] == '\r' ||
		     res->output[n - 1] == ' '))
		n--;
	const char *start = memrchr(res->output, '\n', n);
	start = start ? start + 1 : res->output;
	char line[sizeof res->error];
	size_t k = (size_t)(res->output + n - start);
	if (k >= sizeof line)
		k = sizeof line - 1;
	memcpy(line, start, k);
	line[k] = '\0';
	json_t *probe = json_string(line);
	if (!probe)
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
	json_decref(probe);
	jsontext_copy_utf8(buf, len, line);
}

/* Why the child could not exec, sent on a close-on-exec pipe. */
struct exec_failure {
	int stage; /* 0: chdir, 1: execve */
	int code;
};

/* In the child: fds moved out of the way of 0-3 first, so that dup2() never
 * overwrites one it still needs. Never returns. */
static void exec_child(char *const argv[], char *const envp[], const char *dir, int in, int out,
		       int report, pid_t parent)
{
	struct exec_failure f = {0, 0};
	sigset_t none;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	/* Signals as a fresh process has them: the caller may block some
	 * (watch reads them from a signalfd) or ignore SIGPIPE, and both
	 * survive execve. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			signal(s, SIG_DFL);
	}
	in = fcntl(in, F_DUPFD, 10);
	out = fcntl(out, F_DUPFD, 10);
	report = fcntl(report, F_DUPFD_CLOEXEC, 10);
	if (in < 0 || out < 0 || report < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0 || dup2(report, 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	/* No file of the caller's: a lock held open by a hook would outlive
	 * the caller. */
	close_range(4, ~0U, 0);
	if (chdir(dir) != 0) {
		f.code = errno;
	} else {
		execve(argv[0], argv, envp);
		f.stage = 1;
		f.code = errno;
	}
	if (write(3, &f, sizeof f) < 0)
		_exit(127);
	_exit(127);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The exit status of a child that ended (by pidfd or by waitpid's own
 * polling). 1 when it did, with *status. */
static int reaped(pid_t pid, int *status)
{
	pid_t got;
	while ((got = waitpid(pid, status, WNOHANG)) < 0 && errno == EINTR)
		;
	return got == pid;
}

static void say_outcome(struct hook_result *res, int status, const struct hook_command *c)
{
	char line[sizeof res->error];
	last_output_line(res, line, sizeof line);
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
		if (res->exit_code == 0) {
			res->status = HOOK_OK;
			return;
		}
		res->status = HOOK_FAILED;
		if (line[0])
			snprintf(res->error, sizeof res->error, "%s", line);
		else
			snprintf(res->error, sizeof res->error, "%.300s exited with status %d",
				 c->args, res->exit_code);
		return;
	}
	res->status = HOOK_FAILED;
	res->signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	snprintf(res->error, sizeof res->error, "killed by signal %d (%s)", res->signo,
		 strsignal(res->signo));
}

/* Writes what the pipe takes of the input; 1 when done with it (all
 * written, or the hook closed its stdin), else 0. SIGPIPE is blocked by the
 * caller. */
static int feed_input(int fd, const char *input, size_t len, size_t *sent)
{
	while (*sent < len) {
		ssize_t n = write(fd, input + *sent, len - *sent);
		if (n > 0) {
			*sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : 1;
	}
	return 1;
}

/* SIGPIPE blocked, remembering whether one was already pending. */
struct pipe_guard {
	sigset_t old;
	int was_pending;
};

static int sigpipe_pending(sigset_t *pipe)
{
	sigset_t pending;
	sigemptyset(pipe);
	sigaddset(pipe, SIGPIPE);
	sigpending(&pending);
	return sigismember(&pending, SIGPIPE);
}

static void block_sigpipe(struct pipe_guard *g)
{
	sigset_t pipe;
	g->was_pending = sigpipe_pending(&pipe);
	sigprocmask(SIG_BLOCK, &pipe, &g->old);
}

/* Takes away a SIGPIPE our writes raised, then restores the mask. */
static void unblock_sigpipe(struct pipe_guard *g)
{
	sigset_t pipe;
	if (sigpipe_pending(&pipe) && !g->was_pending) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipe, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, &g->old, NULL);
}

/* Waits for the started child: feeds its stdin, keeps its output, kills its
 * group at the deadline. */
static void supervise(pid_t pid, int in, int out, const char *input, size_t len, double timeout_s,
		      const struct hook_command *c, struct hook_result *res)
{
	int64_t deadline = monotonic_ms() + (int64_t)ceil(timeout_s * 1000);
	size_t sent = 0;
	int status = 0, done = 0;
	/* A pidfd says when the child ends in the same poll as its pipes;
	 * without one (a kernel before 5.3) the poll wakes every 20 ms to
	 * ask. */
	int pidfd = pidfd_open(pid, 0);
	fcntl(in, F_SETFL, O_NONBLOCK);
	fcntl(out, F_SETFL, O_NONBLOCK);
	if (len == 0)
		close_fd(&in);
	while (!done) {
		struct pollfd fds[3];
		nfds_t n = 0;
		int64_t left = deadline - monotonic_ms();
		if (left <= 0)
			break;
		if (in >= 0)
			fds[n++] = (struct pollfd){.fd = in, .events = POLLOUT};
		if (out >= 0)
			fds[n++] = (struct pollfd){.fd = out, .events = POLLIN};
		if (pidfd >= 0)
			fds[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (pidfd < 0 && left > 20)
			left = 20;
		if (poll(fds, n, (int)(left > INT_MAX ? INT_MAX : left)) < 0 && errno != EINTR)
			break;
		if (in >= 0 && feed_input(in, input, len, &sent))
			close_fd(&in);
		if (out >= 0 && drain_output(out, res))
			close_fd(&out);
		done = reaped(pid, &status);
	}
	if (done) {
		/* What it wrote just before it ended (a process it left behind
		 * may hold the pipe open: it is not waited for). */
		if (out >= 0)
			drain_output(out, res);
		say_outcome(res, status, c);
	} else {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		res->status = HOOK_TIMEOUT;
		res->signo = SIGKILL;
		snprintf(res->error, sizeof res->error, "killed after %g s", timeout_s);
	}
	close_fd(&in);
	close_fd(&out);
	close_fd(&pidfd);
}

void hook_run(const struct hook_command *c, const char *input, size_t len, char *const envp[],
	      const char *dir, double timeout_s, struct hook_result *res)
{
	char *argv[HOOK_MAX_ARGS + 1];
	int in[2] = {-1, -1}, out[2] = {-1, -1}, report[2] = {-1, -1};
	struct pipe_guard guard;

	memset(res, 0, sizeof *res);
	res->exit_code = -1;
	res->status = HOOK_FAILED;
	if (c->argc <= 0 || c->argc > HOOK_MAX_ARGS) {
		snprintf(res->error, sizeof res->error, "no command");
		return;
	}
	/* argv before the fork: the child only calls what is safe after it. */
	const char *p = c->args;
	for (int i = 0; i < c->argc; i++, p += strlen(p) + 1)
		argv[i] = (char *)p;
	argv[c->argc] = NULL;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		snprintf(res->error, sizeof res->error, "pipe: %s", strerror(errno));
		goto out;
	}
	block_sigpipe(&guard);
	pid_t parent = getpid(), pid = fork();
	if (pid == 0)
		exec_child(argv, envp, dir, in[0], out[1], report[1], parent);
	if (pid < 0) {
		snprintf(res->error, sizeof res->error, "fork: %s", strerror(errno));
		unblock_sigpipe(&guard);
		goto out;
	}
	/* Both sides set the group, so a kill at the deadline never misses
	 * it, whichever runs first. */
	setpgid(pid, pid);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&report[1]);
	struct exec_failure f;
	ssize_t got;
	/* The report pipe closes at execve (close-on-exec), or brings why not. */
	while ((got = read(report[0], &f, sizeof f)) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof f) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		res->status = f.stage == 1 && (f.code == ENOENT || f.code == ENOTDIR) ? HOOK_MISSING
										      : HOOK_FAILED;
		snprintf(res->error, sizeof res->error, "%s %s: %s",
			 f.stage ? "cannot run" : "cannot enter", f.stage ? argv[0] : dir,
			 strerror(f.code));
	} else {
		supervise(pid, in[1], out[0], input, len, timeout_s, c, res);
		in[1] = out[0] = -1; /* closed there */
	}
	unblock_sigpipe(&guard);
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&report[0]);
	close_fd(&report[1]);
}

/* ---- firing an event --------------------------------------------------------------- */

static json_t *event_json(enum hook_event ev, const char *root, json_t *fields, int64_t now)
{
	char at[40], host[256] = "", text[120];
	const char *key;
	json_t *v;
	calendar_format_iso(now, at, sizeof at);
	if (gethostname(host, sizeof host - 1) != 0)
		host[0] = '\0';
	snprintf(text, sizeof text, "tradelearn: %s", hook_event_names[ev]);
	json_t *given = json_object_get(fields, "text");
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o}", "event", hook_event_names[ev], "time", at,
			      "host", host, "root", root ? json_string(root) : json_null(), "text",
			      json_is_string(given) ? json_incref(given) : json_string(text));
	if (!o)
		return NULL;
	json_object_foreach(fields, key, v)
	{
		if (strcmp(key, "text") != 0 && json_object_set(o, key, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* envp for the hook, in buf: the variables hook.h names. */
static void hook_env(enum hook_event ev, const char *root, char *vars[6], char buf[5][4200])
{
	struct passwd pw, *found = NULL;
	char pwbuf[4096];
	size_t n = 0;
	snprintf(buf[0], sizeof buf[0], "PATH=/usr/bin:/bin");
	snprintf(buf[1], sizeof buf[1], "LANG=C.UTF-8");
	snprintf(buf[2], sizeof buf[2], "TRADELEARN_EVENT=%s", hook_event_names[ev]);
	for (size_t i = 0; i < 3; i++)
		vars[n++] = buf[i];
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &found) == 0 && found &&
	    found->pw_dir && found->pw_dir[0] == '/') {
		snprintf(buf[3], sizeof buf[3], "HOME=%s", found->pw_dir);
		vars[n++] = buf[3];
	}
	if (root) {
		snprintf(buf[4], sizeof buf[4], "TRADELEARN_ROOT=%s", root);
		vars[n++] = buf[4];
	}
	vars[n] = NULL;
}

static int32_t event_day(json_t *fields)
{
	int32_t day;
	const char *text = json_string_value(json_object_get(fields, "day"));
	return text && schedule_parse_day(text, &day) == 0 ? day : SCHEDULE_NO_DAY;
}

int hook_fire(const struct hook_options *o, const char *root, const char *state_dir,
	      enum hook_event ev, json_t *fields, struct hook_result *res, struct err *err)
{
	struct hook_result local;
	char job[64], *vars[6], env[5][4200];
	size_t len;
	struct err jerr = {0};

	if (!res)
		res = &local;
	memset(res, 0, sizeof *res);
	if (ev < 0 || ev >= HOOK_EVENT_COUNT || !o->command[ev].argc)
		return 0;
	int64_t start = calendar_schedule_now();
	json_t *event = event_json(ev, root, fields, start);
	char *text = event ? jsontext_dump(event, JSONTEXT_PRETTY, &len) : NULL;
	json_decref(event);
	if (!text) {
		res->status = HOOK_FAILED;
		res->exit_code = -1;
		snprintf(res->error, sizeof res->error, "out of memory");
	} else {
		hook_env(ev, root, vars, env);
		hook_run(&o->command[ev], text, len, vars, root ? root : "/", o->timeout_s, res);
		free(text);
	}
	snprintf(job, sizeof job, "hook:%s", hook_event_names[ev]);
	struct journal_run run = {.job = job,
				  .day = event_day(fields),
				  .attempt = 1,
				  .start = start,
				  .end = calendar_schedule_now(),
				  .status = hook_status_names[res->status],
				  .exit_code = res->exit_code,
				  .signo = res->signo,
				  .error = res->error};
	json_t *line = journal_line(&run);
	int journaled = line && journal_append(state_dir, line, &jerr) == 0;
	json_decref(line);
	static const int codes[] = {0, EIO, ETIMEDOUT, ENOENT};
	if (res->status != HOOK_OK)
		return err_set(err, codes[res->status], "hook %s: %s: %s", hook_event_names[ev],
			       hook_status_names[res->status], res->error);
	if (!journaled) {
		if (!line)
			err_set(&jerr, ENOMEM, "out of memory");
		if (err)
			*err = jerr;
		return err_prefix(err, "hook %s: not journaled", hook_event_names[ev]);
	}
	return 0;
}

int hook_fire_detached(const struct hook_options *o, const char *root, const char *state_dir,
		       enum hook_event ev, json_t *fields, struct err *err)
{
	if (ev < 0 || ev >= HOOK_EVENT_COUNT || !o->command[ev].argc)
		return 0;
	pid_t pid = fork();
	if (pid < 0)
		return err_fail(err, "hook %s: fork: %s", hook_event_names[ev], strerror(errno));
	if (pid == 0) {
		/* The go-between: it exits at once, so the firing process is
		 * nobody's child to reap but init's (or a subreaper's). */
		pid_t firing = fork();
		if (firing == 0) {
			sigset_t none;
			int null = open("/dev/null", O_RDWR);
			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
			}
			close_range(3, ~0U, 0);
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			hook_fire(o, root, state_dir, ev, fields, NULL, NULL);
			_exit(0);
		}
		_exit(firing < 0 ? 1 : 0);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return err_set(err, EAGAIN, "hook %s: fork failed: not run", hook_event_names[ev]);
}
