/*
 * logline — one line for the operator, through a log callback.
 *
 * Library code never prints: modules that have something to tell (the
 * follower, the pipeline, the job runner) take a callback and a context in
 * their options, and format each message with logline_say().
 */
#ifndef TRADELEARN_LOGLINE_H
#define TRADELEARN_LOGLINE_H

/* Receives one line (no newline at the end), borrowed for the call. Same
 * type as follow_log_fn and runner_log_fn. */
typedef void (*logline_fn)(void *ctx, const char *line);

/* The longest line handed out, NUL included: longer ones are cut. */
#define LOGLINE_MAX 1200

/* Formats the printf-style message and hands it to log(ctx, line); does
 * nothing when log is NULL. */
void logline_say(logline_fn log, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
