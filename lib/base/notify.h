/*
 * notify — systemd's notify protocol (libsystemd's sd_notify), for a daemon
 * run as a Type=notify service.
 *
 * Outside systemd (no NOTIFY_SOCKET in the environment) every call does
 * nothing and costs nothing. Under it:
 *
 *   notify_ready      READY=1 and a STATUS= line: started (recovered, caught
 *                     up, following), or back after a reload
 *   notify_status     STATUS=<text>, sent only when the text changed
 *   notify_reloading  RELOADING=1 with MONOTONIC_USEC= (what systemd 253's
 *                     Type=notify-reload matches with its signal)
 *   notify_stopping   STOPPING=1
 *   notify_extend     EXTEND_TIMEOUT_USEC=: a long start-up is still making
 *                     progress (TimeoutStartSec= is pushed out)
 *   notify_watchdog   WATCHDOG=1: the main loop is alive
 *
 * notify_watchdog_usec() says whether the service manager wants keepalives
 * (WatchdogSec=, seen as WATCHDOG_USEC and WATCHDOG_PID) and how often
 * they are due; the caller sends them from its own loop's timer, so a loop
 * that is stuck stops them and systemd restarts the service.
 *
 * Messages are sent as they are asked for; a failure to send is never the
 * daemon's failure (a manager that went away is not a reason to stop
 * learning), so nothing here returns an error.
 */
#ifndef TRADELEARN_NOTIFY_H
#define TRADELEARN_NOTIFY_H

#include <stdint.h>

struct notify {
	int on;		       /* NOTIFY_SOCKET is set */
	char last_status[256]; /* the STATUS= text last sent */
};

/* Looks at the environment once. */
void notify_init(struct notify *n);

/* The keepalive interval the manager asked for, in microseconds
 * (WATCHDOG_USEC, when WATCHDOG_PID is this process or unset), 0 when none. */
uint64_t notify_watchdog_usec(void);

void notify_ready(struct notify *n, const char *status);
void notify_status(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void notify_reloading(struct notify *n, const char *status);
void notify_stopping(struct notify *n, const char *status);
void notify_extend(struct notify *n, uint64_t usec);
void notify_watchdog(struct notify *n);

#endif
