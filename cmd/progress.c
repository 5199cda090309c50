#include "cmd/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void draw(struct progress *p, uint64_t done)
{
	if (done > p->total)
		done = p->total;
	double mib = 1024.0 * 1024.0;
	fprintf(stderr, "\rtradelearn: %s: %3d%% (%.1f of %.1f MiB", p->label,
		(int)(100.0 * (double)done / (double)p->total), (double)done / mib,
		(double)p->total / mib);
	double secs = (double)(monotonic_us() - p->start_us) / 1e6;
	if (p->records && secs > 0 && done > 0) {
		long left = (long)(secs * (double)(p->total - done) / (double)done);
		fprintf(stderr, ", %.0f records/s, %ld:%02ld left", (double)p->records / secs,
			left / 60, left % 60);
	}
	fputc(')', stderr);
	fflush(stderr);
	p->shown = 1;
}

void progress_begin(struct progress *p, const char *label, uint64_t total)
{
	p->label = label;
	p->total = total;
	p->last_draw_us = 0;
	p->records = 0;
	p->start_us = monotonic_us();
	p->shown = 0;
	p->on = total >= PROGRESS_MIN_BYTES && isatty(STDERR_FILENO);
}

void progress_update(struct progress *p, uint64_t done)
{
	if (!p->on)
		return;
	int64_t now = monotonic_us();
	if (p->shown && now - p->last_draw_us < 200000)
		return;
	p->last_draw_us = now;
	draw(p, done);
}

void progress_update_records(struct progress *p, uint64_t done, uint64_t records)
{
	p->records = records;
	progress_update(p, done);
}

void progress_end(struct progress *p)
{
	if (!p->on || !p->shown)
		return;
	draw(p, p->total);
	fputc('\n', stderr);
	p->shown = 0;
	p->on = 0;
}
