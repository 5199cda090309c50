/*
 * progress — one line of progress on long work, for a person watching.
 *
 * Shown only when stderr is a terminal (a journal or a pipe gets the usual
 * one-line messages and nothing else): "tradelearn: LABEL: 45% (12.3 of
 * 27.1 MiB)" (and ", 41230 records/s, 0:12 left" when records are counted),
 * redrawn in place at most five times a second, and ended with
 * a newline by progress_end(). Work smaller than PROGRESS_MIN_BYTES shows
 * nothing: it is over before a bar would be read.
 */
#ifndef TRADELEARN_PROGRESS_H
#define TRADELEARN_PROGRESS_H

#include <stdint.h>

#define PROGRESS_MIN_BYTES (4u << 20)

struct progress {
	const char *label;
	uint64_t total;
	uint64_t records; /* records done, when the work counts them (0: not shown) */
	int64_t start_us; /* when it began: for the rate and the time left */
	int64_t last_draw_us;
	int shown; /* a line is on the terminal, not ended yet */
	int on;	   /* stderr is a terminal and the work is big enough */
};

/* Starts a bar for total bytes of work. */
void progress_begin(struct progress *p, const char *label, uint64_t total);
/* done bytes of total are done; redraws when it is time. */
void progress_update(struct progress *p, uint64_t done);
/* The same, with records done: the line then shows records per second and
 * the time left too. */
void progress_update_records(struct progress *p, uint64_t done, uint64_t records);
/* Draws 100% (when anything was shown) and ends the line. */
void progress_end(struct progress *p);

#endif
