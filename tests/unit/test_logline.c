#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/base/logline.h"

struct heard {
	int calls;
	char line[2 * LOGLINE_MAX];
};

static void hear(void *ctx, const char *line)
{
	struct heard *h = ctx;
	h->calls++;
	strncpy(h->line, line, sizeof h->line - 1);
}

static void test_a_message_is_formatted_and_handed_to_the_callback_once(void **state)
{
	(void)state;
	struct heard h = {0};
	logline_say(hear, &h, "%s: %d rotated files, %.1f s", "signals", 3, 2.5);
	assert_int_equal(h.calls, 1);
	assert_string_equal(h.line, "signals: 3 rotated files, 2.5 s");
}

static void test_without_a_callback_nothing_happens(void **state)
{
	(void)state;
	logline_say(NULL, NULL, "%s", "nobody listens");
}

/* A line longer than LOGLINE_MAX - 1 bytes is cut there, never overrun. */
static void test_a_long_message_is_cut_at_the_line_limit(void **state)
{
	(void)state;
	static char path[LOGLINE_MAX + 100];
	struct heard h = {0};
	memset(path, 'p', sizeof path - 1);
	logline_say(hear, &h, "reading %s", path);
	assert_int_equal(h.calls, 1);
	assert_int_equal(strlen(h.line), LOGLINE_MAX - 1);
	assert_memory_equal(h.line, "reading ppp", 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_message_is_formatted_and_handed_to_the_callback_once),
	    cmocka_unit_test(test_without_a_callback_nothing_happens),
	    cmocka_unit_test(test_a_long_message_is_cut_at_the_line_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
