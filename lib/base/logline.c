#include "lib/base/logline.h"

#include <stdarg.h>
#include <stdio.h>

void logline_say(logline_fn log, void *ctx, const char *fmt, ...)
{
	char line[LOGLINE_MAX];
	va_list ap;

	if (!log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log(ctx, line);
}
