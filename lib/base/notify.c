/*
 * notify — systemd's notify protocol through libsystemd's sd_notify (see
 * notify.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "lib/base/notify.h"

void notify_init(struct notify *n)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	memset(n, 0, sizeof *n);
	n->on = sock && *sock;
}

uint64_t notify_watchdog_usec(void)
{
	uint64_t usec = 0;
	/* 0: not wanted, or WATCHDOG_PID names another process. */
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}

/* Sends "<head>STATUS=<status>" (the status line only when given), and
 * remembers the status so that notify_status does not repeat it. */
static void send_with_status(struct notify *n, const char *head, const char *status)
{
	char msg[512];
	if (!n->on)
		return;
	if (status) {
		snprintf(n->last_status, sizeof n->last_status, "%s", status);
		snprintf(msg, sizeof msg, "%s%sSTATUS=%s", head, *head ? "\n" : "", n->last_status);
	} else {
		snprintf(msg, sizeof msg, "%s", head);
	}
	sd_notify(0, msg);
}

void notify_ready(struct notify *n, const char *status)
{
	send_with_status(n, "READY=1", status);
}

void notify_status(struct notify *n, const char *fmt, ...)
{
	char text[sizeof n->last_status];
	va_list ap;
	if (!n->on)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (strcmp(text, n->last_status) != 0)
		send_with_status(n, "", text);
}

void notify_reloading(struct notify *n, const char *status)
{
	struct timespec ts;
	char head[96];
	if (!n->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(head, sizeof head, "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
		     (unsigned long long)ts.tv_nsec / 1000);
	send_with_status(n, head, status);
}

void notify_stopping(struct notify *n, const char *status)
{
	send_with_status(n, "STOPPING=1", status);
}

void notify_extend(struct notify *n, uint64_t usec)
{
	char head[64];
	if (!n->on)
		return;
	snprintf(head, sizeof head, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)usec);
	send_with_status(n, head, NULL);
}

void notify_watchdog(struct notify *n)
{
	send_with_status(n, "WATCHDOG=1", NULL);
}
