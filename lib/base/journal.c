#include "lib/base/journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/jsontext.h"
#include "lib/base/schedule.h"

json_t *journal_line(const struct journal_run *run)
{
	char start[40], end[40], day[16];
	calendar_format_iso(run->start, start, sizeof start);
	calendar_format_iso(run->end, end, sizeof end);
	if (run->day != SCHEDULE_NO_DAY)
		schedule_format_day(run->day, day, sizeof day);
	return json_pack("{s:s,s:o,s:i,s:s,s:s,s:s,s:o,s:o,s:o}", "job", run->job, "day",
			 run->day != SCHEDULE_NO_DAY ? json_string(day) : json_null(), "attempt",
			 run->attempt, "start", start, "end", end, "status", run->status, "exit",
			 run->exit_code >= 0 ? json_integer(run->exit_code) : json_null(), "signal",
			 run->signo > 0 ? json_integer(run->signo) : json_null(), "error",
			 run->error && *run->error ? json_string(run->error) : json_null());
}

int journal_append(const char *state_dir, const json_t *line, struct err *err)
{
	char path[4400];
	size_t len;
	int rc = -1;
	if (snprintf(path, sizeof path, "%s/%s", state_dir, JOURNAL_FILE) >= (int)sizeof path)
		return err_set(err, ENAMETOOLONG, "%s: path too long", state_dir);
	char *text = jsontext_dump(line, JSONTEXT_COMPACT, &len);
	if (!text)
		return err_set(err, ENOMEM, "%s: out of memory", path);
	/* The newline goes in the same write as the line. */
	text[len] = '\n';
	int fd = durable_open_append(path, err);
	if (fd >= 0) {
		if (durable_write_all(fd, text, len + 1, err) == 0) {
			if (fsync(fd) == 0)
				rc = 0;
			else
				err_fail(err, "%s: fsync: %s", path, strerror(errno));
		} else {
			err_prefix(err, "%s", path);
		}
		close(fd);
	}
	free(text);
	return rc;
}
